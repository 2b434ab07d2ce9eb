//! The live calls of every daemon, in Redis, and the requests daemons send each other
//! about them.
//!
//! Each daemon publishes its calls every few seconds: `vca:live:call:{id}` holds a
//! [`LiveEntry`] as JSON with a TTL of [`ENTRY_TTL`], and the sorted set `vca:live:calls`
//! indexes them by expiry, so a daemon that dies leaves nothing behind once its entries
//! expire. Any daemon's admin API reads the board and so shows every daemon's calls.
//!
//! A request about a call (hang it up) goes to the list `vca:node:{node}:requests` of the
//! daemon that owns it, which looks at its list a few times a second (a blocking pop
//! would outlast the pool's 500 ms response limit, and lose the request it popped).

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_redis::redis::{self, AsyncCommands};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::redis::{RedisError, RedisPool};

/// How long a published entry lives without being published again.
pub const ENTRY_TTL: Duration = Duration::from_secs(15);
/// How often a daemon publishes its calls.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(2);
/// How long a request waits in a daemon's list before it is stale (the daemon is gone).
const REQUEST_TTL: Duration = Duration::from_secs(60);

const INDEX: &str = "vca:live:calls";

fn entry_key(call: Uuid) -> String {
    format!("vca:live:call:{call}")
}

fn requests_key(node: &str) -> String {
    format!("vca:node:{node}:requests")
}

/// What a call is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveState {
    /// Answered; External Media and the bridge are being set up.
    Connecting,
    /// The agent and the caller are talking.
    Talking,
    /// A transfer is under way (announce, music on hold, the agent ringing).
    Transferring,
    /// The caller talks with a human agent; we supervise the bridge.
    Bridged,
    /// The agent said goodbye or the call is being taken down.
    Ending,
}

/// One live call as every daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveEntry {
    /// The call's id (the calls row).
    pub call_id: Uuid,
    /// The tenant that owns the dialled number.
    pub tenant_id: Uuid,
    /// The dialled number (E.164).
    pub did: String,
    /// The caller's number, masked like every number outside the call rows.
    pub caller: String,
    /// What the call is doing.
    pub state: LiveState,
    /// When the call started.
    pub started_at: DateTime<Utc>,
    /// Turns so far (caller and agent).
    pub turns: u32,
    /// The daemon that serves the call (`VCA_NODE_NAME`).
    pub node: String,
}

/// A request from one daemon to the one that owns a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum CallRequest {
    /// Say goodbye, then hang up.
    Hangup {
        /// The call.
        call_id: Uuid,
    },
}

/// The board in Redis.
#[derive(Debug, Clone)]
pub struct LiveBoard {
    redis: RedisPool,
}

impl LiveBoard {
    /// The board on this Redis.
    pub fn new(redis: RedisPool) -> Self {
        Self { redis }
    }

    /// Publishes `entries` (one daemon's calls) for [`ENTRY_TTL`], in one round trip.
    pub async fn publish(&self, entries: &[LiveEntry]) -> Result<(), RedisError> {
        if entries.is_empty() {
            return Ok(());
        }
        let expires = Utc::now().timestamp_millis() + ENTRY_TTL.as_millis() as i64;
        let mut pipe = redis::pipe();
        for e in entries {
            let json = serde_json::to_string(e).unwrap_or_default();
            pipe.cmd("SET")
                .arg(entry_key(e.call_id))
                .arg(json)
                .arg("PX")
                .arg(ENTRY_TTL.as_millis() as u64)
                .ignore();
            pipe.zadd(INDEX, e.call_id.to_string(), expires).ignore();
        }
        let mut conn = self.redis.get().await?;
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Takes a call off the board (it ended).
    pub async fn remove(&self, call: Uuid) -> Result<(), RedisError> {
        let mut conn = self.redis.get().await?;
        redis::pipe()
            .del(entry_key(call))
            .ignore()
            .zrem(INDEX, call.to_string())
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// Every live call on the board, oldest first; `tenant` keeps only that tenant's.
    pub async fn list(&self, tenant: Option<Uuid>) -> Result<Vec<LiveEntry>, RedisError> {
        let mut conn = self.redis.get().await?;
        let now = Utc::now().timestamp_millis();
        let _: () = conn.zrembyscore(INDEX, "-inf", now).await?;
        let ids: Vec<String> = conn.zrange(INDEX, 0, -1).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids
            .iter()
            .filter_map(|id| Uuid::parse_str(id).ok())
            .map(entry_key)
            .collect();
        let raw: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut conn).await?;
        let mut entries: Vec<LiveEntry> = raw
            .into_iter()
            .flatten()
            .filter_map(|json| serde_json::from_str::<LiveEntry>(&json).ok())
            .filter(|e| tenant.is_none_or(|t| e.tenant_id == t))
            .collect();
        entries.sort_by_key(|e| (e.started_at, e.call_id));
        Ok(entries)
    }

    /// One live call, if it is on the board.
    pub async fn get(&self, call: Uuid) -> Result<Option<LiveEntry>, RedisError> {
        let mut conn = self.redis.get().await?;
        let raw: Option<String> = conn.get(entry_key(call)).await?;
        Ok(raw.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Queues `request` for the daemon `node`.
    pub async fn send(&self, node: &str, request: &CallRequest) -> Result<(), RedisError> {
        let json = serde_json::to_string(request).unwrap_or_default();
        let key = requests_key(node);
        let mut conn = self.redis.get().await?;
        redis::pipe()
            .rpush(&key, json)
            .ignore()
            .pexpire(&key, REQUEST_TTL.as_millis() as i64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    /// The next request for `node`, if there is one. A request that is not one this
    /// version knows is skipped.
    pub async fn next_request(&self, node: &str) -> Result<Option<CallRequest>, RedisError> {
        let mut conn = self.redis.get().await?;
        let popped: Option<String> = conn.lpop(requests_key(node), None).await?;
        Ok(popped.and_then(|json| match serde_json::from_str(&json) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a call request this daemon does not understand");
                None
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_entries_have_a_stable_wire_form() {
        let id = Uuid::nil();
        let json = serde_json::to_value(CallRequest::Hangup { call_id: id }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"request": "hangup", "call_id": id.to_string()})
        );
        assert_eq!(
            serde_json::to_value(LiveState::Transferring).unwrap(),
            "transferring"
        );
    }
}
