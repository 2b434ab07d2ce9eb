//! Who may do what on the admin API, decided from the request alone: its method, and the
//! tenant segment of its path (`/tenants/{tid}/...`, parsed as a uuid as the handlers parse
//! it). The operator reaches everything. A tenant key reaches only what lies under its own
//! tenant: another tenant's id is a 404, like a missing one; anything not under a tenant,
//! and [`OPERATOR_ONLY`], is a 403; a `viewer` key may only read. A route added later under
//! `/tenants/{tid}/...` is covered without a change here.

use axum::http::Method;
use percent_encoding::percent_decode_str;
use uuid::Uuid;

/// Who presented a valid credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// The operator token.
    Operator,
    /// A tenant key.
    Tenant { tenant_id: Uuid, role: Role },
}

/// What a tenant key may do under its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// `GET` and `HEAD` only.
    Viewer,
}

impl Role {
    /// The stored name's role; `None` for a name this build does not know.
    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allow,
    /// 403: the route is the operator's, or the key's role may not do this.
    Forbidden(&'static str),
    /// 404: the path names another tenant (or no tenant at all).
    NotFound,
}

/// Routes under a tenant that only the operator may use, as (method, path after the
/// tenant segment): changing the tenant itself (its status, plan and call limit are the
/// operator's to set). A tenant key may read its tenant.
pub const OPERATOR_ONLY: &[(Method, &str)] = &[
    (Method::PATCH, ""),
    (Method::PUT, ""),
    (Method::DELETE, ""),
    (Method::POST, ""),
];

/// Whether `who` may send `method` to `path`, the path as the `/api` router sees it
/// (`/tenants/...`, without `/api`).
pub fn decide(who: Principal, method: &Method, path: &str) -> Access {
    let Principal::Tenant { tenant_id, role } = who else {
        return Access::Allow;
    };
    let Some((raw_tid, rest)) = tenant_segment(path) else {
        return Access::Forbidden("this route is for the operator token only");
    };
    match parse_tenant(raw_tid) {
        Some(tid) if tid == tenant_id => {}
        _ => return Access::NotFound,
    }
    let rest = rest.trim_end_matches('/');
    if OPERATOR_ONLY.iter().any(|(m, r)| m == method && *r == rest) {
        return Access::Forbidden("this route is for the operator token only");
    }
    if role == Role::Viewer && !(method == Method::GET || method == Method::HEAD) {
        return Access::Forbidden("a viewer key may only read");
    }
    Access::Allow
}

/// `("{tid}", "/rest")` of `/tenants/{tid}/rest`; `None` unless the path has that form.
fn tenant_segment(path: &str) -> Option<(&str, &str)> {
    let after = path.strip_prefix("/tenants/")?;
    let (tid, rest) = match after.find('/') {
        Some(i) => after.split_at(i),
        None => (after, ""),
    };
    (!tid.is_empty()).then_some((tid, rest))
}

/// The tenant id as the handlers read it: percent-decoded, then any form `Uuid` accepts
/// (upper case, no hyphens, braces, `urn:uuid:`), so every spelling of an id is that id.
fn parse_tenant(raw: &str) -> Option<Uuid> {
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    Uuid::parse_str(&decoded).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(tenant_id: Uuid, role: Role) -> Principal {
        Principal::Tenant { tenant_id, role }
    }

    #[test]
    fn the_operator_reaches_everything() {
        for path in ["/tenants", "/usage", "/calls/live", "/tenants/x/y", "/nope"] {
            for m in [Method::GET, Method::POST, Method::DELETE] {
                assert_eq!(decide(Principal::Operator, &m, path), Access::Allow);
            }
        }
    }

    #[test]
    fn a_key_reaches_its_own_tenant_only() {
        let own = Uuid::new_v4();
        let other = Uuid::new_v4();
        let admin = key(own, Role::Admin);
        for m in [Method::GET, Method::POST, Method::PATCH, Method::DELETE] {
            let p = format!("/tenants/{own}/phone-numbers");
            assert_eq!(decide(admin, &m, &p), Access::Allow, "{m} {p}");
            let p = format!("/tenants/{own}/calls/{other}/recording");
            assert_eq!(decide(admin, &m, &p), Access::Allow, "{m} {p}");
            let p = format!("/tenants/{other}/phone-numbers");
            assert_eq!(decide(admin, &m, &p), Access::NotFound, "{m} {p}");
            assert_eq!(
                decide(admin, &m, &format!("/tenants/{other}")),
                Access::NotFound
            );
            assert_eq!(
                decide(admin, &m, "/tenants/not-a-uuid/tools"),
                Access::NotFound
            );
        }
        assert_eq!(
            decide(admin, &Method::GET, &format!("/tenants/{own}")),
            Access::Allow
        );
    }

    #[test]
    fn every_spelling_of_an_id_is_that_id() {
        let own = Uuid::new_v4();
        let other = Uuid::new_v4();
        let admin = key(own, Role::Admin);
        let spell = |id: Uuid| {
            let h = id.hyphenated().to_string();
            let encoded: String = h.bytes().map(|b| format!("%{b:02X}")).collect();
            vec![
                h.to_uppercase(),
                id.simple().to_string(),
                format!("{{{h}}}"),
                format!("urn:uuid:{h}"),
                encoded,
                format!("%{:02x}{}", h.as_bytes()[0], &h[1..]),
            ]
        };
        for s in spell(own) {
            let p = format!("/tenants/{s}/tools");
            assert_eq!(decide(admin, &Method::GET, &p), Access::Allow, "{p}");
        }
        for s in spell(other) {
            let p = format!("/tenants/{s}/tools");
            assert_eq!(decide(admin, &Method::GET, &p), Access::NotFound, "{p}");
        }
    }

    #[test]
    fn operator_routes_and_viewer_writes_are_forbidden() {
        let own = Uuid::new_v4();
        for role in [Role::Admin, Role::Viewer] {
            let k = key(own, role);
            for (m, p) in [
                (Method::GET, "/tenants".to_string()),
                (Method::POST, "/tenants".to_string()),
                (Method::GET, "/tenants/".to_string()),
                (Method::GET, "/usage".to_string()),
                (Method::GET, "/calls/live".to_string()),
                (Method::GET, "/openapi.json".to_string()),
                (Method::GET, "/no-such-route".to_string()),
                (Method::PATCH, format!("/tenants/{own}")),
                (Method::DELETE, format!("/tenants/{own}/")),
            ] {
                assert!(
                    matches!(decide(k, &m, &p), Access::Forbidden(_)),
                    "{role:?} {m} {p}"
                );
            }
        }
        let viewer = key(own, Role::Viewer);
        let p = format!("/tenants/{own}/webhooks");
        assert_eq!(decide(viewer, &Method::GET, &p), Access::Allow);
        assert_eq!(decide(viewer, &Method::HEAD, &p), Access::Allow);
        for m in [
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ] {
            assert!(
                matches!(decide(viewer, &m, &p), Access::Forbidden(_)),
                "{m}"
            );
        }
    }
}
