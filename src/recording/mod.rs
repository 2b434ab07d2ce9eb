//! Call recordings: the caller on the left, exactly what we sent on the right, as one
//! stereo Ogg Opus file per call segment, written while the call goes on.
//!
//! - [`recorder`]: the recorder threads and the taps media tasks feed ([`Recorder`]).
//! - [`aligner`]: the two sides laid on one timeline ([`aligner::StereoAligner`]).
//! - [`ogg_opus`]: the encoder and the Ogg pages ([`ogg_opus::OggOpusWriter`]).
//! - [`decode`]: reading a recording back (tests, the length of a file a crash cut).
//! - [`layout`]: where files go.
//! - [`call`]: a call's recording from the session's side: segment rows, start, finish.
//! - [`sweeper`]: deletes recordings older than their tenant's retention.

pub mod aligner;
pub mod call;
pub mod decode;
pub mod layout;
pub mod ogg_opus;
pub mod recorder;
pub mod sweeper;

pub use recorder::{Recorder, RecordingTap};
