//! The sans-IO media core: plain structs fed with datagrams, PCM and the current time.
pub mod g711;
