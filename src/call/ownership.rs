//! One active daemon per Asterisk application: the owner lease. The active daemon holds
//! `vca:ari:{ari node}:owner` in Redis (a short TTL, renewed often); every other daemon
//! configured for the same Asterisk stands by — admin API up, no ARI connection — and takes
//! the lease when it expires (the active one died or handed over), then connects, reconciles
//! and re-adopts the live calls. The grant goes to the ARI supervisor as a [`Permit`].
//!
//! With Redis down nobody can win or lose the lease: every daemon may connect (logged once),
//! and Asterisk's own rule decides — the newest connection gets the application and the
//! replaced one stands by (`ApplicationReplaced`, FINDINGS 48). Standbys also register
//! themselves (`vca:ari:{ari node}:standbys`), so the active one can tell on SIGTERM whether
//! a hand-over will be taken.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_redis::redis::Script;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::ari::Permit;
use crate::store::redis::RedisPool;

/// How long the owner lease lives without renewal: a dead active daemon is replaced by a
/// standby within about this long plus [`STANDBY_POLL`].
pub const OWNER_TTL: Duration = Duration::from_secs(5);
/// How often the active daemon renews the lease.
pub const RENEW_EVERY: Duration = Duration::from_millis(1500);
/// How often a standby tries to take the lease.
pub const STANDBY_POLL: Duration = Duration::from_millis(500);

const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// What the lease keeper knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Active,
    Standby,
    /// Redis does not answer: Asterisk's rule decides.
    Unknown,
}

/// The owner lease of one Asterisk application, and the permit it grants.
#[derive(Clone)]
pub struct Ownership {
    inner: Arc<Inner>,
}

struct Inner {
    redis: RedisPool,
    key: String,
    standbys: String,
    /// This daemon, as written into the lease.
    me: String,
    permit: watch::Sender<Permit>,
    /// Set on hand-over: never take the lease again.
    released: AtomicBool,
    degraded: AtomicBool,
    /// A standby registered within the TTL (checked by the active daemon at each renewal).
    standby_seen: AtomicBool,
    /// The role [`Ownership::claim`] found, where [`Ownership::run`] starts.
    role: std::sync::Mutex<Role>,
}

impl Ownership {
    /// The lease of `ari_node` (the Asterisk URL and application) over `redis`, held under
    /// the name `me` (stable across restarts of one daemon, so a restarted daemon takes its
    /// own lease back at once); starts as a standby until [`Self::claim`] or [`Self::run`]
    /// wins the lease.
    pub fn new(redis: RedisPool, ari_node: &str, me: String) -> Self {
        let (permit, _) = watch::channel(Permit {
            active: false,
            epoch: 0,
        });
        Ownership {
            inner: Arc::new(Inner {
                redis,
                key: format!("vca:ari:{ari_node}:owner"),
                standbys: format!("vca:ari:{ari_node}:standbys"),
                me,
                permit,
                released: AtomicBool::new(false),
                degraded: AtomicBool::new(false),
                standby_seen: AtomicBool::new(false),
                role: std::sync::Mutex::new(Role::Standby),
            }),
        }
    }

    /// The permit the ARI supervisor connects under.
    pub fn permit(&self) -> watch::Receiver<Permit> {
        self.inner.permit.subscribe()
    }

    /// Whether this daemon is the active one now.
    pub fn is_active(&self) -> bool {
        self.inner.permit.borrow().active
    }

    /// One attempt to take the lease now, before the daemon serves (so a free application
    /// is owned from the first moment).
    pub async fn claim(&self) {
        let role = self.step(Role::Standby).await;
        *self.inner.role.lock().unwrap_or_else(|p| p.into_inner()) = role;
    }

    /// Keeps the lease (or waits for it) until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut role = *self.inner.role.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            role = self.step(role).await;
            let wait = match role {
                Role::Active => RENEW_EVERY,
                Role::Standby | Role::Unknown => STANDBY_POLL,
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn step(&self, role: Role) -> Role {
        if self.inner.released.load(Ordering::Relaxed) {
            self.grant(false);
            return Role::Standby;
        }
        let next = match tokio::time::timeout(Duration::from_secs(1), self.try_hold()).await {
            Ok(Ok(held)) => {
                if self.inner.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis is back: the ARI owner lease decides again");
                }
                if held { Role::Active } else { Role::Standby }
            }
            Ok(Err(e)) => self.redis_down(&e),
            Err(_) => self.redis_down(&"timed out"),
        };
        match (role, next) {
            (Role::Active, Role::Active) | (Role::Unknown, Role::Unknown) => {}
            (_, Role::Active) => {
                tracing::info!(owner = %self.inner.me, "this daemon owns the ARI application now");
                self.grant_new();
            }
            (Role::Active, Role::Standby) => {
                tracing::warn!("the ARI owner lease went to another daemon: standing by");
                self.grant(false);
            }
            (_, Role::Standby) => {
                if role == Role::Unknown {
                    tracing::info!("another daemon owns the ARI application: standing by");
                }
                self.grant(false);
            }
            (_, Role::Unknown) => {
                // Asterisk's rule decides; the supervisor keeps what it has.
                if !self.inner.permit.borrow().active {
                    self.grant_new();
                }
            }
        }
        next
    }

    fn redis_down(&self, error: &dyn std::fmt::Display) -> Role {
        if !self.inner.degraded.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                error = %error,
                "redis unavailable: no ARI owner lease; the newest connection to Asterisk wins and a replaced daemon stands by"
            );
        }
        Role::Unknown
    }

    /// Takes, renews or waits for the lease; a standby also says it is there.
    async fn try_hold(&self) -> Result<bool, String> {
        let mut conn = self.inner.redis.get().await.map_err(|e| e.to_string())?;
        let ttl_ms = OWNER_TTL.as_millis() as u64;
        // Ours already (this daemon, or an earlier run of it under the same name): renew.
        {
            let renewed: i64 = Script::new(RENEW)
                .key(&self.inner.key)
                .arg(&self.inner.me)
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            if renewed == 1 {
                let now = chrono::Utc::now().timestamp_millis();
                let standbys: i64 = deadpool_redis::redis::cmd("ZCOUNT")
                    .arg(&self.inner.standbys)
                    .arg(now)
                    .arg("+inf")
                    .query_async(&mut conn)
                    .await
                    .unwrap_or(0);
                self.inner
                    .standby_seen
                    .store(standbys > 0, Ordering::Relaxed);
                return Ok(true);
            }
        }
        let taken: Option<String> = deadpool_redis::redis::cmd("SET")
            .arg(&self.inner.key)
            .arg(&self.inner.me)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        if taken.is_some() {
            let _: Result<i64, _> = deadpool_redis::redis::cmd("ZREM")
                .arg(&self.inner.standbys)
                .arg(&self.inner.me)
                .query_async(&mut conn)
                .await;
            return Ok(true);
        }
        let now = chrono::Utc::now().timestamp_millis();
        let _: Result<i64, _> = deadpool_redis::redis::cmd("ZADD")
            .arg(&self.inner.standbys)
            .arg(now + OWNER_TTL.as_millis() as i64)
            .arg(&self.inner.me)
            .query_async(&mut conn)
            .await;
        Ok(false)
    }

    fn grant(&self, active: bool) {
        self.inner.permit.send_if_modified(|p| {
            let changed = p.active != active;
            p.active = active;
            changed
        });
    }

    fn grant_new(&self) {
        self.inner.permit.send_modify(|p| {
            p.active = true;
            p.epoch += 1;
        });
    }

    /// Whether another daemon stood by for this application at the last renewal.
    pub fn standby_seen(&self) -> bool {
        self.inner.standby_seen.load(Ordering::Relaxed)
    }

    /// Hands the application over: gives the lease up for good (a standby takes it within
    /// [`STANDBY_POLL`]) and withdraws the permit.
    pub async fn release(&self) {
        self.inner.released.store(true, Ordering::Relaxed);
        self.grant(false);
        let attempt = async {
            let mut conn = self.inner.redis.get().await.map_err(|e| e.to_string())?;
            Script::new(RELEASE)
                .key(&self.inner.key)
                .arg(&self.inner.me)
                .invoke_async::<i64>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(1), attempt).await {
            Ok(Ok(_)) => tracing::info!("gave up the ARI owner lease"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot give up the ARI owner lease; it expires by itself")
            }
            Err(_) => {
                tracing::warn!("giving up the ARI owner lease timed out; it expires by itself")
            }
        }
    }
}

/// The default name of this daemon in the owner lease: the host and the admin port (two
/// daemons on one host cannot share a port; a restarted one gets its name back).
pub fn default_node_name(admin_port: u16) -> String {
    format!("{}:{admin_port}", hostname())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}
