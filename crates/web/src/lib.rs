//! Regulars over HTTP: the JSON API (`/api/v1`), shop webhooks (`/webhooks/…`), `/healthz`,
//! Prometheus `/metrics`, the OpenAPI document (`/api/openapi.json`) and the staff dashboard
//! (`/login`, `/app/…`).

mod api;
mod auth;
mod body;
mod coupons_api;
mod dashboard;
mod error;
mod loyalty_api;
mod loyalty_page;
mod models;
mod referral_page;
mod referrals_api;
mod views;
mod webhook_endpoints_api;
mod webhooks;
mod write;

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use regulars_store::Db;
use utoipa::OpenApi;

pub use dashboard::DashboardConfig;
pub use error::{ApiError, Problem};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub dashboard: DashboardConfig,
    /// Whether outgoing webhook endpoints may point at loopback, private and reserved
    /// addresses (and use plain http); off unless the operator allows it.
    pub allow_private_webhook_targets: bool,
    metrics: PrometheusHandle,
}

impl AppState {
    pub fn new(db: Db) -> Self {
        AppState {
            db,
            dashboard: DashboardConfig::default(),
            allow_private_webhook_targets: false,
            metrics: metrics_handle(),
        }
    }

    pub fn with_dashboard(mut self, dashboard: DashboardConfig) -> Self {
        self.dashboard = dashboard;
        self
    }

    pub fn with_private_webhook_targets(mut self, allow: bool) -> Self {
        self.allow_private_webhook_targets = allow;
        self
    }
}

/// The process-wide Prometheus recorder (a recorder can be installed only once per process).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (embedding apps); then ours stays empty.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Regulars API", description = "Customers, orders, refunds and events of one store. Authenticate with `Authorization: Bearer <api key>`. Money is a decimal string in major units beside its currency. Errors are application/problem+json with a stable `code`."),
    paths(
        api::upsert_customer, api::patch_customer, api::list_customers, api::get_customer,
        api::customer_timeline, api::customer_consents,
        api::upsert_order, api::bulk_orders, api::list_orders, api::get_order,
        api::create_refund, api::create_event,
        coupons_api::create_batch, coupons_api::import_coupons, coupons_api::list_coupons,
        coupons_api::get_coupon, coupons_api::validate, coupons_api::reserve, coupons_api::release,
        loyalty_api::get_program, loyalty_api::put_program, loyalty_api::get_member, loyalty_api::list_entries,
        loyalty_api::adjust, loyalty_api::redeem, loyalty_api::create_hold, loyalty_api::capture_hold,
        loyalty_api::release_hold, loyalty_api::record_action, loyalty_api::list_rewards, loyalty_api::get_reward,
        loyalty_api::create_reward, loyalty_api::update_reward, loyalty_api::perks, loyalty_api::liability,
        loyalty_api::redemption_report, loyalty_api::expiry_report, loyalty_api::check,
        webhook_endpoints_api::create, webhook_endpoints_api::list, webhook_endpoints_api::show,
        webhook_endpoints_api::update, webhook_endpoints_api::remove, webhook_endpoints_api::rotate_secret,
        webhook_endpoints_api::reveal_secret, webhook_endpoints_api::deliveries, webhook_endpoints_api::send_test,
        loyalty_page::create_link, referral_page::create_partner_link,
        referrals_api::get_referral_program, referrals_api::put_referral_program,
        referrals_api::customer_referral_code, referrals_api::customer_referrals, referrals_api::list_referrals,
        referrals_api::get_referral, referrals_api::decide_referral, referrals_api::run_referrals,
        referrals_api::referrals_report, referrals_api::list_partners, referrals_api::put_partner,
        referrals_api::end_partner, referrals_api::get_partner, referrals_api::pay_partner,
        referrals_api::payout_report, referrals_api::payout_report_csv,
    ),
    tags((name = "customers"), (name = "orders"), (name = "events"),
        (name = "loyalty", description = "Points ledger, tiers, rewards, holds and checkout perks; points are integers"),
        (name = "coupons", description = "Coupon codes: generated, imported, validated against a cart, reserved at checkout; money in minor units"),
        (name = "webhooks", description = "Outgoing webhooks: endpoints told about the store's events, signed as Standard Webhooks"),
        (name = "referrals", description = "Referral program: advocates' codes and share links, referrals with their fraud findings, the review queue, settling after the return window, the advocates report, partners' commissions and payouts")),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new("api_key", Vec::<String>::new())]);
    }
}

/// The OpenAPI document as served at `/api/openapi.json`.
pub fn openapi_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
}

/// All routes. Bulk uploads may be large (10,000 orders and more); everything else is small.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/customers", post(api::upsert_customer).get(api::list_customers))
        .route(
            "/customers/{id}",
            get(api::get_customer).patch(api::patch_customer),
        )
        .route("/customers/{id}/timeline", get(api::customer_timeline))
        .route("/customers/{id}/consents", get(api::customer_consents))
        .route("/orders", post(api::upsert_order).get(api::list_orders))
        .route("/orders/{id}", get(api::get_order))
        .route("/refunds", post(api::create_refund))
        .route("/events", post(api::create_event))
        .merge(webhook_endpoints_api::routes())
        .merge(loyalty_api::routes())
        .layer(DefaultBodyLimit::max(2 * 1024 * 1024))
        .route(
            "/orders/bulk",
            post(api::bulk_orders).layer(DefaultBodyLimit::max(256 * 1024 * 1024)),
        )
        .merge(coupons_api::routes())
        .merge(loyalty_page::api_routes())
        .merge(referrals_api::routes())
        .merge(referral_page::api_routes());
    Router::new()
        .nest("/api/v1", api)
        .route("/webhooks/shopify/{store_id}", post(webhooks::shopify))
        .route("/webhooks/woocommerce/{store_id}", post(webhooks::woocommerce))
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .route("/api/openapi.json", get(openapi))
        .merge(dashboard::routes())
        .merge(loyalty_page::routes())
        .merge(referral_page::routes())
        .fallback(not_found)
        .layer(middleware::from_fn(record_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::internal().into_response()
        }))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.stores().await {
        Ok(_) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

async fn prometheus(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_such_route", "no such route")
}

/// Counts and times every request by route template (never by raw path: ids are not labels).
async fn record_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("regulars_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("regulars_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
