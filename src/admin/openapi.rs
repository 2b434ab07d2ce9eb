//! `/api/openapi.json`: the OpenAPI 3 description of every route, generated from the
//! handlers' annotations so it cannot drift from the code. The responses the layers around
//! the handlers give alike are added here: 408 and 414 to every operation, 401, 403, 429
//! and 503 to every `/api` one, 413 to each that takes a body; the handlers' rules on
//! fields and query parameters come from [`super::openapi_rules`].

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{
    ai_profiles, api_keys, calls, health, live_calls, phone_numbers, recordings, tenants, tools,
    transfer_targets, usage, webhooks,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The operator token (`VCA_ADMIN_TOKEN`) reaches every route. A tenant \
                         API key (`vcak_...`, from `POST /api/tenants/{tid}/api-keys`) reaches \
                         only routes under `/api/tenants/{its tenant}/`: another tenant's id is \
                         404, any other route 403 (as are changes to the tenant itself); a \
                         `viewer` key may only GET.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds the responses of the layers around the handlers: the limits' 408 and 414 to every
/// operation; authentication's 401, 403 and 429 and the database's 503 (a tenant key is
/// looked up in it) to every `/api` one; the body limit's 413 to each with a body.
struct LayerResponses;

impl Modify for LayerResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let under_api = path.starts_with("/api/");
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let has_body = op.request_body.is_some();
                let responses = &mut op.responses.responses;
                let mut add = |code: &str, description: &str| {
                    responses
                        .entry(code.into())
                        .or_insert_with(|| error(description).into());
                };
                add(
                    "408",
                    "The request was not received and answered within the request timeout",
                );
                add("414", "The URI is longer than 4 KiB");
                if has_body {
                    add("413", "The body is larger than 64 KiB");
                }
                if under_api {
                    add("401", "No, a wrong, an expired or a deleted credential");
                    add(
                        "403",
                        "A tenant key on an operator route, or a viewer key writing",
                    );
                    add(
                        "429",
                        "Too many failed authentications from this address (see Retry-After)",
                    );
                    add("503", "The database is unavailable; try again shortly");
                }
            }
        }
    }
}

/// The handlers' rules on fields and query parameters ([`super::openapi_rules`]).
struct HandlerRules;

impl Modify for HandlerRules {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let missing = super::openapi_rules::apply(openapi);
        if !missing.is_empty() {
            tracing::warn!(?missing, "OpenAPI rules name fields the document lacks");
        }
    }
}

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "vca-bridge admin API", description = "Tenants, phone numbers, AI profiles, transfer targets, tools, calls, webhooks, usage and tenant API keys of vca-bridge."),
    paths(
        tenants::create, tenants::list, tenants::get, tenants::update,
        phone_numbers::create, phone_numbers::list, phone_numbers::get, phone_numbers::update, phone_numbers::delete,
        ai_profiles::create, ai_profiles::list, ai_profiles::get, ai_profiles::update, ai_profiles::delete,
        transfer_targets::create, transfer_targets::list, transfer_targets::get, transfer_targets::update, transfer_targets::delete,
        tools::create, tools::list, tools::get, tools::update, tools::delete,
        calls::list, calls::get, recordings::get, recordings::delete,
        live_calls::list_all, live_calls::list, live_calls::hangup,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete, webhooks::deliveries,
        api_keys::create, api_keys::list, api_keys::get, api_keys::delete,
        usage::of_tenant, usage::all,
        health::healthz, health::readyz, health::metrics, openapi_json,
    ),
    modifiers(&BearerAuth, &LayerResponses, &HandlerRules)
)]
pub struct ApiDoc;

/// This document, as JSON.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document")), security(("bearer" = [])))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
