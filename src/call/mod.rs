//! The per-call layer: routing a new call, per-tenant call leases, the call session
//! (answer, bridge, External Media, teardown), the controller that feeds ARI events to
//! sessions and reconciles after every (re)connect, and the media plumbing below.
pub mod context;
pub mod controller;
pub mod leases;
pub mod media_driver;
pub mod media_metrics;
pub mod port_pool;
mod reconcile;
pub mod routing;
pub mod session;
pub mod setup;
