//! The per-call layer: routing a new call, per-tenant call leases, the call session
//! (answer, bridge, External Media, teardown), the controller that feeds ARI events to
//! sessions and reconciles after every (re)connect, and the live call's task that drives
//! its conversation (`live`), and this daemon's side of the live-calls board (`board`).
//! The media task and its sockets are in `media_driver`.
mod actions;
pub mod board;
pub mod context;
pub mod controller;
pub mod inputs;
pub mod leases;
mod live;
pub mod ownership;
mod reconcile;
pub mod routing;
pub mod session;
pub mod setup;
pub mod summary;
