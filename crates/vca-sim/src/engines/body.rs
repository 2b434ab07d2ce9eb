//! Streamed response bodies: the pieces a reply is sent in, the scripted [`Reply`] that
//! hangs, cuts or slows them, and the count of bodies a client left before their end.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::pause;
use super::script::Reply;

/// Piece sizes of a [`ragged`] split: odd lengths that cut SSE lines and samples anywhere,
/// one of them large enough to hold several events.
const RAGGED_SIZES: [usize; 6] = [7, 301, 3, 64, 1, 129];

/// How many streamed bodies reached their end, and how many the client left early.
#[derive(Debug, Default)]
pub(crate) struct BodyCounts {
    pub(crate) dropped_early: AtomicUsize,
    pub(crate) completed: AtomicUsize,
}

/// Counts a body as dropped early unless it reached its end.
struct BodyGuard {
    counts: Arc<BodyCounts>,
    finished: bool,
}

impl Drop for BodyGuard {
    fn drop(&mut self) {
        let counter = if self.finished {
            &self.counts.completed
        } else {
            &self.counts.dropped_early
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

/// One step of a streamed body.
enum Piece {
    Data(Bytes),
    Hang,
    Cut,
}

/// `bytes` cut into pieces of [`RAGGED_SIZES`], cycling.
pub(crate) fn ragged(bytes: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut pos = 0;
    for size in RAGGED_SIZES.iter().cycle() {
        if pos >= bytes.len() {
            break;
        }
        let end = (pos + size).min(bytes.len());
        out.push(bytes.slice(pos..end));
        pos = end;
    }
    out
}

/// `bytes` cut into pieces of `size` bytes (the last one shorter).
pub(crate) fn chunks(bytes: &Bytes, size: usize) -> Vec<Bytes> {
    let size = size.max(1);
    (0..bytes.len().div_ceil(size))
        .map(|i| bytes.slice(i * size..((i + 1) * size).min(bytes.len())))
        .collect()
}

/// A streamed 200 response of `pieces`, `gap` apart, shaped by `reply`: [`Reply::HangAfter`]
/// and [`Reply::CutAfter`] stop after that many pieces, [`Reply::Trickle`] sets the gap.
pub(crate) fn streamed(
    counts: &Arc<BodyCounts>,
    content_type: &'static str,
    pieces: Vec<Bytes>,
    gap: Duration,
    reply: &Reply,
) -> Response {
    let mut steps: VecDeque<Piece> = pieces.into_iter().map(Piece::Data).collect();
    let mut gap = gap;
    match reply {
        Reply::HangAfter(n) => {
            steps.truncate(*n);
            steps.push_back(Piece::Hang);
        }
        Reply::CutAfter(n) => {
            steps.truncate(*n);
            steps.push_back(Piece::Cut);
        }
        Reply::Trickle(d) => gap = *d,
        _ => {}
    }
    let guard = BodyGuard {
        counts: counts.clone(),
        finished: false,
    };
    let stream = futures_util::stream::unfold(
        (steps, guard, true),
        move |(mut steps, mut guard, first)| async move {
            if !first {
                pause(gap).await;
            }
            match steps.pop_front() {
                Some(Piece::Data(b)) => {
                    Some((Ok::<Bytes, std::io::Error>(b), (steps, guard, false)))
                }
                Some(Piece::Hang) => {
                    std::future::pending::<()>().await;
                    None
                }
                Some(Piece::Cut) => Some((
                    Err(std::io::Error::other("cut mid-body")),
                    (steps, guard, false),
                )),
                None => {
                    guard.finished = true;
                    drop(guard);
                    None
                }
            }
        },
    );
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ragged_and_even_pieces_rebuild_the_bytes() {
        let bytes = Bytes::from((0..1000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let pieces = ragged(&bytes);
        assert_eq!(
            pieces.iter().take(7).map(Bytes::len).collect::<Vec<_>>(),
            vec![7, 301, 3, 64, 1, 129, 7]
        );
        assert_eq!(pieces.concat(), bytes.to_vec());
        let even = chunks(&bytes, 300);
        assert_eq!(
            even.iter().map(Bytes::len).collect::<Vec<_>>(),
            vec![300, 300, 300, 100]
        );
        assert_eq!(even.concat(), bytes.to_vec());
        assert!(ragged(&Bytes::new()).is_empty());
    }
}
