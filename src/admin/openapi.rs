//! `/api/openapi.json`: the OpenAPI 3 description of every route, generated from the
//! handlers' annotations so it cannot drift from the code.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    ai_profiles, calls, health, live_calls, phone_numbers, recordings, tenants, tools,
    transfer_targets, usage, webhooks,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "vca-bridge admin API", description = "Tenants, phone numbers, AI profiles, transfer targets, tools, calls, webhooks and usage of vca-bridge."),
    paths(
        tenants::create, tenants::list, tenants::get, tenants::update,
        phone_numbers::create, phone_numbers::list, phone_numbers::get, phone_numbers::update, phone_numbers::delete,
        ai_profiles::create, ai_profiles::list, ai_profiles::get, ai_profiles::update, ai_profiles::delete,
        transfer_targets::create, transfer_targets::list, transfer_targets::get, transfer_targets::update, transfer_targets::delete,
        tools::create, tools::list, tools::get, tools::update, tools::delete,
        calls::list, calls::get, recordings::get, recordings::delete,
        live_calls::list_all, live_calls::list, live_calls::hangup,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete, webhooks::deliveries,
        usage::of_tenant, usage::all,
        health::healthz, health::readyz, health::metrics, openapi_json,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// This document, as JSON.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document")), security(("bearer" = [])))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
