//! Per-tenant concurrent-call limits across several daemons, through Redis leases.
//!
//! Each live call holds a lease: a member of the sorted set `vca:tenant:{id}:calls`
//! scored by its expiry time. Acquiring drops expired members and adds ours only while
//! the set is below the tenant's limit, atomically (one Lua script); a live call renews
//! its lease every [`RENEW_EVERY`], so the leases of a daemon that died expire within
//! [`LEASE_TTL`]. With Redis down the daemon counts its own calls instead, and says so
//! once in the log; calls are never dropped because Redis is away.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_redis::redis::Script;
use uuid::Uuid;

use crate::store::redis::RedisPool;

/// How long a lease lives without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(30);
/// How often a live call renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(10);

const ACQUIRE: &str = r"
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 2)
  return 1
end
return 0
";

/// The lease keeper: Redis when it answers, local counting when it does not.
pub struct CallLeases {
    redis: RedisPool,
    /// Calls this daemon holds, per tenant: the fallback count, and what to renew.
    local: Mutex<HashMap<Uuid, HashSet<Uuid>>>,
    /// Set while Redis is unreachable, so the fact is logged once per outage.
    degraded: AtomicBool,
    /// How long a lease lives without renewal ([`LEASE_TTL`] in the daemon).
    ttl: Duration,
}

fn key(tenant: Uuid) -> String {
    format!("vca:tenant:{tenant}:calls")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl CallLeases {
    /// A keeper over this Redis pool.
    pub fn new(redis: RedisPool) -> Self {
        Self::with_ttl(redis, LEASE_TTL)
    }

    /// A keeper whose leases live `ttl` without renewal (tests shorten it).
    pub fn with_ttl(redis: RedisPool, ttl: Duration) -> Self {
        Self {
            redis,
            local: Mutex::new(HashMap::new()),
            degraded: AtomicBool::new(false),
            ttl,
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, HashSet<Uuid>>> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_redis(&self, ok: bool, error: Option<&dyn std::fmt::Display>) {
        let was_degraded = self.degraded.swap(!ok, Ordering::Relaxed);
        match (ok, was_degraded, error) {
            (false, false, Some(e)) => {
                tracing::warn!(error = %e, "redis unavailable: counting concurrent calls locally")
            }
            (true, true, _) => {
                tracing::info!("redis is back: concurrent calls counted across daemons again")
            }
            _ => {}
        }
    }

    /// Takes a lease for `call` if `tenant` has fewer than `limit` live calls.
    pub async fn acquire(&self, tenant: Uuid, call: Uuid, limit: i32) -> bool {
        let attempt = async {
            let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
            Script::new(ACQUIRE)
                .key(key(tenant))
                .arg(now_ms())
                .arg(limit)
                .arg(call.to_string())
                .arg(self.ttl.as_millis() as i64)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        let granted = match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(n)) => {
                self.note_redis(true, None);
                n == 1
            }
            Ok(Err(e)) => {
                self.note_redis(false, Some(&e));
                self.local_count(tenant) < usize::try_from(limit).unwrap_or(0)
            }
            Err(_) => {
                self.note_redis(false, Some(&"timed out"));
                self.local_count(tenant) < usize::try_from(limit).unwrap_or(0)
            }
        };
        if granted {
            self.local().entry(tenant).or_default().insert(call);
        }
        granted
    }

    fn local_count(&self, tenant: Uuid) -> usize {
        self.local().get(&tenant).map_or(0, HashSet::len)
    }

    /// Renews every lease this daemon holds (re-registering them after a Redis outage).
    pub async fn renew_all(&self) {
        let held: Vec<(Uuid, Uuid)> = self
            .local()
            .iter()
            .flat_map(|(t, calls)| calls.iter().map(move |c| (*t, *c)))
            .collect();
        if held.is_empty() {
            return;
        }
        let attempt = async {
            let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
            let expiry = now_ms() + self.ttl.as_millis() as i64;
            let mut pipe = deadpool_redis::redis::pipe();
            for (tenant, call) in &held {
                pipe.zadd(key(*tenant), call.to_string(), expiry).ignore();
                pipe.pexpire(key(*tenant), (self.ttl.as_millis() * 2) as i64)
                    .ignore();
            }
            pipe.query_async::<()>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(())) => self.note_redis(true, None),
            Ok(Err(e)) => self.note_redis(false, Some(&e)),
            Err(_) => self.note_redis(false, Some(&"timed out")),
        }
    }

    /// Gives a call's lease back.
    pub async fn release(&self, tenant: Uuid, call: Uuid) {
        {
            let mut local = self.local();
            if let Some(calls) = local.get_mut(&tenant) {
                calls.remove(&call);
                if calls.is_empty() {
                    local.remove(&tenant);
                }
            }
        }
        let attempt = async {
            let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
            deadpool_redis::redis::cmd("ZREM")
                .arg(key(tenant))
                .arg(call.to_string())
                .query_async::<i64>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(2), attempt).await {
            self.note_redis(false, Some(&e));
        }
    }

    /// Stops renewing a call's lease without removing it: another daemon serves the call
    /// now and renews the same lease (it re-adopted it under the same id).
    pub fn forget(&self, tenant: Uuid, call: Uuid) {
        let mut local = self.local();
        if let Some(calls) = local.get_mut(&tenant) {
            calls.remove(&call);
            if calls.is_empty() {
                local.remove(&tenant);
            }
        }
    }

    /// Calls this daemon holds leases for, for `tenant`.
    pub fn held(&self, tenant: Uuid) -> usize {
        self.local_count(tenant)
    }

    /// Whether Redis was unreachable at the last attempt.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }
}
