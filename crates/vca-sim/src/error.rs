//! Errors of the simulator's library API.

use std::path::PathBuf;

/// What can go wrong starting or driving the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The RTP threads of `--rtp-threads` could not start.
    #[error("cannot start the RTP threads: {0}")]
    RtpHub(String),
    /// Binding the ARI listener failed.
    #[error("cannot bind the ARI listener on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A caller WAV could not be read.
    #[error("cannot read WAV {path}: {source}")]
    WavRead {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: hound::Error,
    },
    /// A caller WAV is not 8 kHz mono 16-bit PCM.
    #[error(
        "WAV {path} is {found}; the simulator needs 8000 Hz mono 16-bit PCM (convert with: sox in.wav -r 8000 -c 1 -b 16 out.wav)"
    )]
    WavFormat {
        /// The file.
        path: PathBuf,
        /// What the file holds.
        found: String,
    },
    /// Writing a recording WAV failed.
    #[error("cannot write WAV {path}: {source}")]
    WavWrite {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        source: hound::Error,
    },
    /// No call with this id is known.
    #[error("no call with id {0}")]
    UnknownCall(String),
    /// The call has already ended.
    #[error("call {0} has already ended")]
    CallEnded(String),
    /// A DTMF digit outside 0-9, A-D, `*`, `#`.
    #[error("invalid DTMF digit {0:?}")]
    InvalidDigit(char),
}
