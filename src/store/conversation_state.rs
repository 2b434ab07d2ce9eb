//! The conversation state of a live call in Redis (`vca:call:{id}:state`, with a TTL),
//! written after every turn: enough for a restarted daemon to continue the call. With
//! Redis down the state lives only in the call's memory, and that is logged once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use uuid::Uuid;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::redis::RedisPool;

/// How long a call's state outlives its last write.
pub const STATE_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// Saves and loads the conversation states of live calls (any serde type; the call path
/// stores `conversation::ConversationState`).
pub struct StateStore {
    redis: RedisPool,
    degraded: AtomicBool,
}

fn key(call: Uuid) -> String {
    format!("vca:call:{call}:state")
}

impl StateStore {
    /// A store over this Redis pool.
    pub fn new(redis: RedisPool) -> Self {
        Self {
            redis,
            degraded: AtomicBool::new(false),
        }
    }

    fn outcome(&self, result: Result<(), String>) {
        match result {
            Ok(()) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis is back: conversation state is shared again");
                }
            }
            Err(e) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, "redis unavailable: conversation state kept in memory only");
                }
            }
        }
    }

    /// Writes the state with its TTL; failures degrade to memory-only.
    pub async fn save(&self, call: Uuid, state: &impl Serialize) {
        let body = match serde_json::to_string(state) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot serialise conversation state");
                return;
            }
        };
        let attempt = async {
            let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
            deadpool_redis::redis::cmd("SET")
                .arg(key(call))
                .arg(body)
                .arg("EX")
                .arg(STATE_TTL.as_secs())
                .query_async::<()>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        let result = tokio::time::timeout(Duration::from_secs(1), attempt)
            .await
            .unwrap_or_else(|_| Err("timed out".into()));
        self.outcome(result);
    }

    /// The saved state of a call, if Redis has one.
    pub async fn load<T: DeserializeOwned>(&self, call: Uuid) -> Option<T> {
        let attempt = async {
            let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
            deadpool_redis::redis::cmd("GET")
                .arg(key(call))
                .query_async::<Option<String>>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(1), attempt).await {
            Ok(Ok(Some(body))) => {
                self.outcome(Ok(()));
                match serde_json::from_str(&body) {
                    Ok(state) => Some(state),
                    Err(e) => {
                        tracing::warn!(error = %e, "saved conversation state is unreadable; starting afresh");
                        None
                    }
                }
            }
            Ok(Ok(None)) => {
                self.outcome(Ok(()));
                None
            }
            Ok(Err(e)) => {
                self.outcome(Err(e));
                None
            }
            Err(_) => {
                self.outcome(Err("timed out".into()));
                None
            }
        }
    }

    /// Removes a finished call's state.
    pub async fn remove(&self, call: Uuid) {
        let attempt = async {
            let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
            deadpool_redis::redis::cmd("DEL")
                .arg(key(call))
                .query_async::<i64>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), attempt).await;
    }

    /// Whether the last Redis operation failed.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }
}
