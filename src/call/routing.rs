//! Deciding what to do with a new call: which DID was dialled, who owns it, and
//! whether it may be answered. Pure functions over what the database returned, so
//! every rejection rule is testable without Asterisk.

use uuid::Uuid;

use crate::ari::HangupReason;
use crate::ari::events::StasisStart;
use crate::phone::normalize_e164;
use crate::store::ai_profiles::AiProfile;
use crate::store::routing::RouteRow;

/// The numbers of a new call, as Asterisk gave them and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialledNumbers {
    /// The DID in E.164, or what was dialled when it is not a number.
    pub called: String,
    /// Whether `called` is a valid E.164 number.
    pub called_valid: bool,
    /// The caller in E.164 when it parses, else as given (may be empty: withheld).
    pub caller: String,
}

/// Takes the DID from the Stasis arguments (our dialplan passes `${EXTEN}` first),
/// falling back to `channel.dialplan.exten`, and the caller from `channel.caller.number`.
pub fn dialled_numbers(start: &StasisStart, country_code: u16) -> DialledNumbers {
    let raw_did = start
        .args
        .first()
        .map(String::as_str)
        .filter(|a| !a.trim().is_empty())
        .unwrap_or(start.channel.dialplan.exten.as_str());
    let (called, called_valid) = match normalize_e164(raw_did, country_code) {
        Ok(n) => (n, true),
        Err(_) => (raw_did.chars().take(64).collect(), false),
    };
    let raw_caller = start.channel.caller.number.as_str();
    let caller = normalize_e164(raw_caller, country_code)
        .unwrap_or_else(|_| raw_caller.chars().take(64).collect());
    DialledNumbers {
        called,
        called_valid,
        caller,
    }
}

/// Why a call is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// No tenant owns the DID (or it is not a number).
    UnknownDid,
    /// The number exists but is switched off.
    NumberInactive,
    /// The tenant is suspended or deleted.
    TenantNotActive,
    /// The tenant has no default AI profile.
    NoProfile,
    /// The tenant is at its concurrent-call limit.
    TenantBusy,
}

impl RejectReason {
    /// The word stored as the call's end reason and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UnknownDid => "unknown_did",
            RejectReason::NumberInactive => "number_inactive",
            RejectReason::TenantNotActive => "tenant_not_active",
            RejectReason::NoProfile => "no_ai_profile",
            RejectReason::TenantBusy => "tenant_busy",
        }
    }

    /// The ARI hangup reason the caller's network turns into a tone or announcement.
    pub fn hangup_reason(self) -> HangupReason {
        match self {
            RejectReason::UnknownDid => HangupReason::Unallocated,
            RejectReason::NumberInactive
            | RejectReason::TenantNotActive
            | RejectReason::NoProfile => HangupReason::Rejected,
            RejectReason::TenantBusy => HangupReason::Busy,
        }
    }
}

/// A call that may be answered.
#[derive(Debug, Clone)]
pub struct Route {
    pub tenant_id: Uuid,
    pub phone_number_id: Uuid,
    pub max_concurrent_calls: i32,
    pub profile: AiProfile,
}

/// What to do with a call, before the concurrency check.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Answer it for this tenant with this profile (if a call lease can be had).
    Accept(Box<Route>),
    /// Hang it up; `tenant_id`/`phone_number_id` are known when the DID matched.
    Reject {
        reason: RejectReason,
        tenant_id: Option<Uuid>,
        phone_number_id: Option<Uuid>,
    },
}

/// Applies the routing rules to what the database returned for the DID.
pub fn decide(row: Option<RouteRow>) -> Decision {
    let Some(row) = row else {
        return Decision::Reject {
            reason: RejectReason::UnknownDid,
            tenant_id: None,
            phone_number_id: None,
        };
    };
    let reject = |reason| Decision::Reject {
        reason,
        tenant_id: Some(row.tenant_id),
        phone_number_id: Some(row.phone_number_id),
    };
    if !row.number_active {
        return reject(RejectReason::NumberInactive);
    }
    if row.tenant_status != "active" {
        return reject(RejectReason::TenantNotActive);
    }
    match row.profile {
        None => reject(RejectReason::NoProfile),
        Some(profile) => Decision::Accept(Box::new(Route {
            tenant_id: row.tenant_id,
            phone_number_id: row.phone_number_id,
            max_concurrent_calls: row.max_concurrent_calls,
            profile,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ari::AriEvent;

    fn start(args: &[&str], exten: &str, caller: &str) -> StasisStart {
        let json = serde_json::json!({
            "type": "StasisStart", "application": "vca-bridge", "timestamp": "2026-11-21T14:09:38.819+0000",
            "args": args,
            "channel": {"id": "1.0", "name": "PJSIP/tata-0001", "state": "Up",
                "caller": {"name": "", "number": caller},
                "dialplan": {"context": "from-tata-trunk", "exten": exten, "priority": 2}}
        });
        match crate::ari::parse_event(&json.to_string()).unwrap().event {
            AriEvent::StasisStart(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn did_from_args_then_dialplan() {
        let n = dialled_numbers(
            &start(&["08012345678", "9876543210"], "+15559876543", "9876543210"),
            91,
        );
        assert_eq!(n.called, "+918012345678");
        assert_eq!(n.caller, "+919876543210");
        let n = dialled_numbers(&start(&[], "+15559876543", "+15551234567"), 91);
        assert_eq!(n.called, "+15559876543");
        assert!(n.called_valid);
        assert_eq!(n.caller, "+15551234567");
        let n = dialled_numbers(&start(&[""], "s", ""), 91);
        assert!(!n.called_valid);
        assert_eq!(n.caller, "");
    }

    fn row(active: bool, status: &str, profile: bool) -> RouteRow {
        let t = Uuid::new_v4();
        RouteRow {
            phone_number_id: Uuid::new_v4(),
            tenant_id: t,
            number_active: active,
            tenant_status: status.into(),
            max_concurrent_calls: 2,
            profile: profile.then(|| AiProfile {
                id: Uuid::new_v4(),
                tenant_id: t,
                name: "p".into(),
                role: "receptionist".into(),
                system_prompt: "x".into(),
                greeting: String::new(),
                language: "en".into(),
                voice: None,
                llm_model: None,
                max_turns: 20,
                max_duration_seconds: 300,
                endpointing_silence_ms: 600,
                dtmf_map: Default::default(),
                languages: Vec::new(),
                lines: Default::default(),
                tools: Vec::new(),
                post_call_summary: false,
                record_calls: false,
                recording_notice: None,
                is_default: true,
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            }),
        }
    }

    #[test]
    fn rules_map_to_hangup_reasons() {
        let reason = |d: Decision| match d {
            Decision::Reject { reason, .. } => Some((reason, reason.hangup_reason())),
            Decision::Accept(_) => None,
        };
        assert_eq!(
            reason(decide(None)),
            Some((RejectReason::UnknownDid, HangupReason::Unallocated))
        );
        assert_eq!(
            reason(decide(Some(row(false, "active", true)))),
            Some((RejectReason::NumberInactive, HangupReason::Rejected))
        );
        assert_eq!(
            reason(decide(Some(row(true, "suspended", true)))),
            Some((RejectReason::TenantNotActive, HangupReason::Rejected))
        );
        assert_eq!(
            reason(decide(Some(row(true, "active", false)))),
            Some((RejectReason::NoProfile, HangupReason::Rejected))
        );
        assert_eq!(RejectReason::TenantBusy.hangup_reason(), HangupReason::Busy);
        assert!(reason(decide(Some(row(true, "active", true)))).is_none());
    }
}
