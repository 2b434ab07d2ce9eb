//! `/api/tenants/{tid}/calls/{id}/recording`: a call's recording as `audio/ogg`, streamed
//! from disk with HTTP Range requests (one range, RFC 9110 §14), and its deletion. A call
//! re-adopted after a restart has several segments: they are served one after another
//! as one chained Ogg stream, which players read as one file.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::AppState;
use super::error::ApiError;
use super::extract::parse_id;
use crate::recording::layout::resolve;

/// A file of the recording and the bytes of it that are served.
struct Part {
    path: PathBuf,
    len: u64,
}

/// Download a call's recording (`audio/ogg`; `Range: bytes=…` gives 206).
#[utoipa::path(get, path = "/api/tenants/{tid}/calls/{id}/recording", tag = "calls",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. bytes=0-1023")),
    responses((status = 200, description = "The whole recording", content_type = "audio/ogg"),
        (status = 206, description = "The requested range", content_type = "audio/ogg"),
        (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody),
        (status = 416, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    let segments = app.store().playable_segments(tid, id).await?;
    let mut parts = Vec::with_capacity(segments.len());
    for seg in segments {
        let Some(path) = resolve(app.recordings_dir(), &seg.path) else {
            continue;
        };
        match tokio::fs::metadata(&path).await {
            Ok(m) if m.len() > 0 => parts.push(Part { path, len: m.len() }),
            // A segment that failed before writing anything, or a file on another node.
            _ => {}
        }
    }
    if parts.is_empty() {
        return Err(ApiError::NotFound("this call has no recording here"));
    }
    let total: u64 = parts.iter().map(|p| p.len).sum();
    let range = match headers.get(header::RANGE) {
        Some(v) => parse_range(v.to_str().unwrap_or(""), total)?,
        None => None,
    };
    let (status, wanted) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.clone()),
        None => (StatusCode::OK, 0..total),
    };
    let body = stream_parts(parts, wanted.clone());
    let mut resp = (status, Body::from_stream(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/ogg"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(wanted.end - wanted.start),
    );
    if range.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!(
            "bytes {}-{}/{total}",
            wanted.start,
            wanted.end - 1
        ))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(resp)
}

/// Delete a call's recording: its files go, its rows say `deleted` (the sizes stay, for usage).
#[utoipa::path(delete, path = "/api/tenants/{tid}/calls/{id}/recording", tag = "calls",
    params(("tid" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204, description = "Deleted"),
        (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody, description = "The call is still being recorded")),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    Path((tid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (tid, id) = (parse_id(&tid)?, parse_id(&id)?);
    if app.store().call_is_live(tid, id).await? {
        return Err(ApiError::Conflict(
            "the call is live; its recording can be deleted once it has ended",
        ));
    }
    let segments = app.store().playable_segments(tid, id).await?;
    if segments.is_empty() {
        return Err(ApiError::NotFound("this call has no recording"));
    }
    for seg in &segments {
        if let Some(path) = resolve(app.recordings_dir(), &seg.path) {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ApiError::Internal(format!(
                        "cannot delete {}: {e}",
                        seg.path
                    )));
                }
            }
        }
    }
    let ids: Vec<uuid::Uuid> = segments.iter().map(|s| s.id).collect();
    app.store().retire_segments(id, &ids, "deleted").await?;
    tracing::info!(call_id = %id, tenant_id = %tid, segments = ids.len(), "recording deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The one range asked for, within `total` bytes. `Ok(None)`: serve everything (a header
/// this API does not take, such as several ranges, is ignored as RFC 9110 allows).
fn parse_range(raw: &str, total: u64) -> Result<Option<Range<u64>>, ApiError> {
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let unsatisfiable = || ApiError::RangeNotSatisfiable { total };
    let (first, last) = spec.split_once('-').ok_or_else(unsatisfiable)?;
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        // The last `n` bytes.
        let n: u64 = last.parse().map_err(|_| unsatisfiable())?;
        if n == 0 {
            return Err(unsatisfiable());
        }
        total.saturating_sub(n)..total
    } else {
        let start: u64 = first.parse().map_err(|_| unsatisfiable())?;
        let end = if last.is_empty() {
            total
        } else {
            let last: u64 = last.parse().map_err(|_| unsatisfiable())?;
            if last < start {
                return Err(unsatisfiable());
            }
            last.saturating_add(1).min(total)
        };
        start..end
    };
    if range.start >= total || range.is_empty() {
        return Err(unsatisfiable());
    }
    Ok(Some(range))
}

/// The bytes `wanted` of the parts laid end to end.
fn stream_parts(
    parts: Vec<Part>,
    wanted: Range<u64>,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> {
    let mut offset = 0u64;
    let mut slices = Vec::new();
    for part in parts {
        let (from, to) = (offset, offset + part.len);
        offset = to;
        let start = wanted.start.max(from);
        let end = wanted.end.min(to);
        if start < end {
            slices.push((part.path, start - from, end - start));
        }
    }
    futures_util::stream::iter(slices)
        .then(|(path, skip, len)| async move {
            let mut file = tokio::fs::File::open(&path).await?;
            file.seek(SeekFrom::Start(skip)).await?;
            Ok::<_, std::io::Error>(ReaderStream::new(file.take(len)))
        })
        .flat_map(|opened| match opened {
            Ok(stream) => stream.left_stream(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str, total: u64) -> Option<Range<u64>> {
        parse_range(raw, total).ok().flatten()
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(ok("bytes=0-99", 1000), Some(0..100));
        assert_eq!(ok("bytes=900-", 1000), Some(900..1000));
        assert_eq!(ok("bytes=-100", 1000), Some(900..1000));
        assert_eq!(ok("bytes=-5000", 1000), Some(0..1000));
        assert_eq!(ok("bytes=990-5000", 1000), Some(990..1000));
        assert_eq!(ok("bytes=0-0", 1000), Some(0..1));
        assert_eq!(
            ok("bytes=0-1,5-9", 1000),
            None,
            "several ranges: the whole file"
        );
        assert_eq!(ok("items=0-1", 1000), None);
        for bad in [
            "bytes=1000-",
            "bytes=5-1",
            "bytes=-0",
            "bytes=a-b",
            "bytes=",
            "bytes=-",
        ] {
            assert!(
                matches!(
                    parse_range(bad, 1000),
                    Err(ApiError::RangeNotSatisfiable { total: 1000 })
                ),
                "{bad}"
            );
        }
    }
}
