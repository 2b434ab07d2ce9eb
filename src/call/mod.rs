//! The per-call layer: session state machine, registry, and the media plumbing below.
pub mod media_driver;
pub mod port_pool;
