//! The JSON API under `/api/v1`, with its OpenAPI document generated from the handlers.
pub mod admin;
pub mod data;
pub mod prompts;
pub mod sessions;

use crate::state::AppState;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Bulwark API", description = "Bulwark's security copilot over your own data."),
    servers((url = "/api/v1"))
)]
struct ApiDoc;

/// The API routes (relative to `/api/v1`) and the OpenAPI document describing them.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(admin::login))
        .routes(routes!(admin::logout))
        .routes(routes!(admin::me))
        .routes(routes!(prompts::prompt))
        .routes(routes!(prompts::prompt_stream))
        .routes(routes!(prompts::promptbooks))
        .routes(routes!(prompts::run_promptbook))
        .routes(routes!(prompts::feedback))
        .routes(routes!(prompts::intel_lookup))
        .routes(routes!(prompts::report))
        .routes(routes!(prompts::embed_incident_summary))
        .routes(routes!(prompts::embed_guided_response))
        .routes(routes!(prompts::embed_script_analysis))
        .routes(routes!(prompts::embed_kql_assistant))
        .routes(routes!(sessions::list))
        .routes(routes!(sessions::get, sessions::rename, sessions::delete))
        .routes(routes!(sessions::share))
        .routes(routes!(sessions::export))
        .routes(routes!(sessions::pins, sessions::pin))
        .routes(routes!(data::incidents))
        .routes(routes!(data::incident, data::update_incident))
        .routes(routes!(data::alerts))
        .routes(routes!(data::kql_run))
        .routes(routes!(data::kql_check))
        .routes(routes!(data::kql_generate))
        .routes(routes!(data::analyze_script))
        .routes(routes!(admin::users, admin::add_user))
        .routes(routes!(admin::plugins))
        .routes(routes!(admin::update_plugin))
        .routes(routes!(admin::audit))
        .split_for_parts()
}
