//! What a call may do besides talking, loaded when it starts: the tenant's transfer targets,
//! the profile's keypad map and tools (the HTTP tools compiled with their secrets), in the
//! forms the conversation ([`AgentProfile`]) and the call's task ([`CallActions`]) take.

use std::time::Duration;

use uuid::Uuid;

use crate::call::context::CallContext;
use crate::call::live::CallActions;
use crate::call::live::transfer::{Route, Target};
use crate::conversation::AgentProfile;
use crate::conversation::profile::{END_CALL, KeyAction, TRANSFER_CALL, TargetInfo, ToolBox};
use crate::engines::llm::ToolSpec;
use crate::store::ai_profiles::{AiProfile, DtmfAction};
use crate::store::transfer_targets::TransferTarget;
use crate::tools::{HttpTool, ToolDefinition};

/// The call's transfer target from a stored one (`None` if its kind's fields are missing,
/// which the schema forbids).
fn target(t: &TransferTarget) -> Option<Target> {
    let route = match t.kind.as_str() {
        "dialplan" => Route::Dialplan {
            context: t.context.clone()?,
            extension: t.extension.clone()?,
            priority: i64::from(t.priority.unwrap_or(1)),
        },
        "endpoint" => Route::Endpoint {
            endpoint: t.endpoint.clone()?,
            ring_timeout: Duration::from_secs(
                u64::try_from(t.ring_timeout_seconds.unwrap_or(25)).unwrap_or(25),
            ),
            caller_id: t.caller_id.clone(),
        },
        _ => return None,
    };
    Some(Target {
        name: t.name.clone(),
        route,
    })
}

/// Loads the call's targets and tools and puts the profile's actions into `agent`.
/// Failures leave the call without the action, logged, never without the call.
pub async fn load(
    ctx: &CallContext,
    tenant: Uuid,
    profile: Option<&AiProfile>,
    agent: &mut AgentProfile,
    caller: &str,
    did: &str,
) -> CallActions {
    let stored = ctx
        .store
        .list_transfer_targets(tenant)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read the transfer targets; no transfers on this call");
            Vec::new()
        });
    let targets: Vec<Target> = stored.iter().filter_map(target).collect();
    agent.targets = stored
        .iter()
        .map(|t| TargetInfo {
            name: t.name.clone(),
            announce: t.announce.clone(),
        })
        .collect();
    let mut http = Vec::new();
    if let Some(p) = profile {
        agent.dtmf_map = p
            .dtmf_actions()
            .into_iter()
            .map(|(key, action)| {
                let action = match action {
                    DtmfAction::Transfer(t) => KeyAction::Transfer(t),
                    DtmfAction::Hangup => KeyAction::Hangup,
                    DtmfAction::Repeat => KeyAction::Repeat,
                };
                (key, action)
            })
            .collect();
        let names: Vec<String> = p
            .tools
            .iter()
            .filter(|n| *n != TRANSFER_CALL && *n != END_CALL)
            .cloned()
            .collect();
        let mut specs = Vec::new();
        if !names.is_empty() {
            let rows = ctx
                .store
                .tools_with_secrets(tenant, &names)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the tools; none on this call");
                    Vec::new()
                });
            for row in rows {
                let definition = ToolDefinition {
                    name: row.name.clone(),
                    url: row.url.clone(),
                    timeout: Duration::from_millis(u64::try_from(row.timeout_ms).unwrap_or(3000)),
                    secret: row.secret(),
                    parameters: row.parameters.clone(),
                };
                match HttpTool::new(&definition) {
                    Ok(tool) => {
                        specs.push(ToolSpec {
                            name: row.name,
                            description: row.description,
                            parameters: row.parameters,
                        });
                        http.push(tool);
                    }
                    Err(e) => tracing::warn!(tool = %row.name, error = %e, "a tool cannot be used"),
                }
            }
        }
        agent.tools = ToolBox {
            transfer_call: p.tools.iter().any(|n| n == TRANSFER_CALL),
            end_call: p.tools.iter().any(|n| n == END_CALL),
            http: specs,
        };
    }
    CallActions {
        targets,
        tools: http,
        caller: caller.to_string(),
        did: did.to_string(),
    }
}
