//! Per-tenant call leases against the real Redis: shared by several daemons, expiring
//! when a daemon dies, and counted locally while Redis is down.

use std::time::Duration;

use uuid::Uuid;
use vca_bridge::call::leases::CallLeases;
use vca_bridge::config::Secret;
use vca_bridge::store::redis::RedisPool;

use crate::support::db;

fn keeper(url: &str, ttl: Duration) -> CallLeases {
    CallLeases::with_ttl(RedisPool::new(&Secret::new(url)).unwrap(), ttl)
}

#[tokio::test]
async fn two_daemons_share_a_tenants_limit() {
    let url = db::redis_url();
    let (a, b) = (
        keeper(&url, Duration::from_secs(30)),
        keeper(&url, Duration::from_secs(30)),
    );
    let tenant = Uuid::new_v4();
    let (c1, c2, c3) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    assert!(a.acquire(tenant, c1, 2).await);
    assert!(b.acquire(tenant, c2, 2).await);
    assert!(
        !a.acquire(tenant, c3, 2).await,
        "the limit counts both daemons' calls"
    );
    assert!(!b.acquire(tenant, c3, 2).await);
    // Acquiring again for a call that holds a lease is a renewal, not a new call.
    assert!(a.acquire(tenant, c1, 2).await);
    b.release(tenant, c2).await;
    assert!(a.acquire(tenant, c3, 2).await);
    assert!(!a.degraded());
    // Another tenant is not affected.
    assert!(b.acquire(Uuid::new_v4(), Uuid::new_v4(), 1).await);
}

#[tokio::test]
async fn a_dead_daemons_leases_expire() {
    let url = db::redis_url();
    let ttl = Duration::from_millis(400);
    let dead = keeper(&url, ttl);
    let alive = keeper(&url, ttl);
    let tenant = Uuid::new_v4();
    assert!(dead.acquire(tenant, Uuid::new_v4(), 1).await);
    let mine = Uuid::new_v4();
    assert!(!alive.acquire(tenant, mine, 1).await);
    drop(dead); // no renewals any more
    let mut granted = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if alive.acquire(tenant, mine, 1).await {
            granted = true;
            break;
        }
    }
    assert!(granted, "the dead daemon's lease never expired");
    // A live daemon's renewals keep its lease beyond the TTL.
    let other = Uuid::new_v4();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        alive.renew_all().await;
        assert!(!alive.acquire(tenant, other, 1).await);
    }
}

#[tokio::test]
async fn redis_down_counts_locally() {
    let leases = keeper("redis://127.0.0.1:1", Duration::from_secs(30));
    let tenant = Uuid::new_v4();
    let (c1, c2) = (Uuid::new_v4(), Uuid::new_v4());
    assert!(
        leases.acquire(tenant, c1, 1).await,
        "calls are never refused because Redis is away"
    );
    assert!(leases.degraded());
    assert!(
        !leases.acquire(tenant, c2, 1).await,
        "but the limit still holds on this daemon"
    );
    leases.release(tenant, c1).await;
    assert!(leases.acquire(tenant, c2, 1).await);
    assert_eq!(leases.held(tenant), 1);
}
