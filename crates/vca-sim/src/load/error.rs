//! What can go wrong in a load run.

use std::path::PathBuf;

/// Errors of `vca-sim load`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The simulator could not start.
    #[error("simulator: {0}")]
    Sim(#[from] crate::SimError),
    /// The fake engines could not start.
    #[error("fake engines: {0}")]
    Engines(#[from] crate::engines::FakeEnginesError),
    /// The daemon did not connect its ARI WebSocket in time.
    #[error("the daemon did not connect to ARI within {0} s")]
    DaemonNotConnected(u64),
    /// A parameter makes no sense.
    #[error("invalid load parameters: {0}")]
    Invalid(String),
    /// Reading `/proc` failed.
    #[error("reading /proc for pid {pid}: {source}")]
    Proc {
        /// The process.
        pid: u32,
        /// Why.
        source: std::io::Error,
    },
    /// Writing an output file failed.
    #[error("writing {path}: {detail}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}
