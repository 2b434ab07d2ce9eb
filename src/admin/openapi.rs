//! `/api/openapi.json`: the OpenAPI 3 description of every route, generated from the
//! handlers' annotations so it cannot drift from the code. Every `/api` operation also
//! lists 401 and 403 (added here, as the middleware answers them for every route alike).

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

/// Adds the middleware's 401 and 403 to every `/api` operation.
struct AuthResponses;

impl Modify for AuthResponses {
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
            if !path.starts_with("/api/") {
                continue;
            }
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
                let responses = &mut op.responses.responses;
                responses.entry("401".into()).or_insert_with(|| {
                    error("No, a wrong, an expired or a deleted credential").into()
                });
                responses.entry("403".into()).or_insert_with(|| {
                    error("A tenant key on an operator route, or a viewer key writing").into()
                });
            }
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
    modifiers(&BearerAuth, &AuthResponses)
)]
pub struct ApiDoc;

/// This document, as JSON.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document")), security(("bearer" = [])))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
