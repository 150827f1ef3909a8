//! Outgoing webhook endpoints over the JSON API (`/api/v1/webhook-endpoints`): register, list,
//! change, remove, rotate the signing secret, read the delivery log and queue a test message.
//! Every route is scoped to the caller's store; another store's endpoint is "not found".

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use regulars_domain::Timestamp;
use regulars_store::{NewWebhookEndpoint, WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::ApiStore;
use crate::body::parse_json;
use crate::error::{ApiError, ApiResult, Problem};
use crate::views::Page;
use crate::write::{run_write, Reply};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhook-endpoints", post(create).get(list))
        .route("/webhook-endpoints/{id}", get(show).patch(update).delete(remove))
        .route("/webhook-endpoints/{id}/rotate-secret", post(rotate_secret))
        .route("/webhook-endpoints/{id}/secret", get(reveal_secret))
        .route("/webhook-endpoints/{id}/deliveries", get(deliveries))
        .route("/webhook-endpoints/{id}/test", post(send_test))
}

/// A new endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointBody {
    /// Where messages are posted: an https URL on a public address.
    #[schema(example = "https://hooks.example.com/regulars")]
    pub url: String,
    pub description: Option<String>,
    /// The types to receive, e.g. `["points.earned", "tier.changed"]`; left out or empty:
    /// every type.
    pub event_types: Option<Vec<String>>,
}

/// A change to an endpoint; only the fields sent change.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookEndpointPatchBody {
    pub url: Option<String>,
    pub description: Option<String>,
    /// An empty list subscribes to every type.
    pub event_types: Option<Vec<String>>,
    /// false stops deliveries (pending messages are cancelled); true resumes them.
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Subscribed types; empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// Why deliveries stopped: `manual` (disabled here) or `gone` (the receiver answered 410).
    pub disabled_reason: Option<String>,
    /// Until when the secret replaced by the last rotation still signs beside the new one.
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl WebhookEndpointView {
    fn new(e: WebhookEndpoint, now: Timestamp) -> Self {
        WebhookEndpointView {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            previous_secret_expires_at: e
                .previous_secret_until
                .filter(|until| until.0 > now.0)
                .map(|t| t.to_rfc3339()),
            created_at: e.created_at.to_rfc3339(),
            updated_at: e.updated_at.to_rfc3339(),
        }
    }
}

/// A new endpoint with its signing secret (shown here, on request and after a rotation).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointCreated {
    #[serde(flatten)]
    pub endpoint: WebhookEndpointView,
    /// `whsec_…`: verify the `webhook-signature` header with it.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookSecretView {
    /// The secret that signs from now on.
    pub secret: String,
    /// Until when the previous secret also signs (after a rotation).
    pub previous_secret_expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAttemptView {
    pub id: String,
    /// The `webhook-id` header: the same on every attempt of one message.
    pub message_id: String,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub attempted_at: String,
    /// succeeded, retry (another attempt is scheduled), failed (no more attempts) or gone.
    pub outcome: String,
    pub response_status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The message's status now: pending, succeeded, failed or cancelled.
    pub message_status: String,
}

impl From<WebhookAttempt> for WebhookAttemptView {
    fn from(a: WebhookAttempt) -> Self {
        WebhookAttemptView {
            id: a.id,
            message_id: a.message_id,
            event_type: a.event_type,
            attempt: a.attempt,
            attempted_at: a.attempted_at.to_rfc3339(),
            outcome: a.outcome,
            response_status: a.response_status,
            duration_ms: a.duration_ms,
            error: a.error,
            message_status: a.message_status,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookTestQueued {
    /// The `webhook-id` the test message will carry.
    pub message_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointRemoved {
    pub id: String,
    pub deleted: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// 1 to 500, default 50.
    pub limit: Option<u64>,
}

/// Checks the URL against this server's rules (scheme, private targets), naming the field.
async fn checked_url(state: &AppState, url: &str) -> ApiResult<String> {
    regulars_hooks::check_endpoint_url(url, state.allow_private_webhook_targets)
        .await
        .map(|_| url.trim().to_string())
        .map_err(ApiError::from)
}

/// Register an endpoint. The answer carries its signing secret.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints", tag = "webhooks", request_body = WebhookEndpointBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 201, body = WebhookEndpointCreated), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = match parse_json::<WebhookEndpointBody>(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let url = match checked_url(&state, &parsed.url).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let input = NewWebhookEndpoint {
        url,
        description: parsed.description.unwrap_or_default(),
        event_types: parsed.event_types.unwrap_or_default(),
    };
    let store_id = store.id;
    run_write(
        &state,
        &store,
        &headers,
        "POST /api/v1/webhook-endpoints",
        &body,
        move |tx| {
            Box::pin(async move {
                let secret = regulars_hooks::generate_secret();
                let now = Timestamp::now();
                let endpoint = tx.create_webhook_endpoint(store_id, &input, &secret, now).await?;
                tracing::info!(store = %store_id, endpoint = %endpoint.id, "webhook endpoint registered");
                Ok(Reply::new(
                    StatusCode::CREATED,
                    WebhookEndpointCreated {
                        endpoint: WebhookEndpointView::new(endpoint, now),
                        secret,
                    },
                ))
            })
        },
    )
    .await
}

/// The store's endpoints, oldest first.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints", tag = "webhooks",
    responses((status = 200, body = Page<WebhookEndpointView>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
) -> ApiResult<Json<Page<WebhookEndpointView>>> {
    let now = Timestamp::now();
    let data = state
        .db
        .webhook_endpoints(store.id)
        .await?
        .into_iter()
        .map(|e| WebhookEndpointView::new(e, now))
        .collect();
    Ok(Json(Page {
        data,
        next_cursor: None,
    }))
}

#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookEndpointView), (status = 404, body = Problem)))]
pub async fn show(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookEndpointView>> {
    let endpoint = state.db.webhook_endpoint(store.id, &id).await?;
    Ok(Json(WebhookEndpointView::new(endpoint, Timestamp::now())))
}

/// Change an endpoint. Disabling cancels its pending messages; enabling clears the reason it
/// was disabled.
#[utoipa::path(patch, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks",
    request_body = WebhookEndpointPatchBody,
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookEndpointView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = match parse_json::<WebhookEndpointPatchBody>(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let url = match &parsed.url {
        Some(url) => match checked_url(&state, url).await {
            Ok(u) => Some(u),
            Err(e) => return e.into_response(),
        },
        None => None,
    };
    let patch = WebhookEndpointPatch {
        url,
        description: parsed.description,
        event_types: parsed.event_types,
        enabled: parsed.enabled,
    };
    let store_id = store.id;
    let line = format!("PATCH /api/v1/webhook-endpoints/{id}");
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            let now = Timestamp::now();
            let endpoint = tx.update_webhook_endpoint(store_id, &id, &patch, now).await?;
            Ok(Reply::new(
                StatusCode::OK,
                WebhookEndpointView::new(endpoint, now),
            ))
        })
    })
    .await
}

/// Remove an endpoint with its pending messages and delivery log.
#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookEndpointRemoved), (status = 404, body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let store_id = store.id;
    let line = format!("DELETE /api/v1/webhook-endpoints/{id}");
    run_write(&state, &store, &headers, &line, b"", move |tx| {
        Box::pin(async move {
            tx.delete_webhook_endpoint(store_id, &id).await?;
            tracing::info!(store = %store_id, endpoint = %id, "webhook endpoint removed");
            Ok(Reply::new(
                StatusCode::OK,
                WebhookEndpointRemoved { id, deleted: true },
            ))
        })
    })
    .await
}

/// Replace the signing secret. The previous one keeps signing beside it for 24 hours.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/rotate-secret", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookSecretView), (status = 404, body = Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let store_id = store.id;
    let line = format!("POST /api/v1/webhook-endpoints/{id}/rotate-secret");
    run_write(&state, &store, &headers, &line, b"", move |tx| {
        Box::pin(async move {
            let secret = regulars_hooks::generate_secret();
            let now = Timestamp::now();
            let endpoint = tx.rotate_webhook_secret(store_id, &id, &secret, now).await?;
            tracing::info!(store = %store_id, endpoint = %id, "webhook secret rotated");
            Ok(Reply::new(
                StatusCode::OK,
                WebhookSecretView {
                    secret,
                    previous_secret_expires_at: endpoint.previous_secret_until.map(|t| t.to_rfc3339()),
                },
            ))
        })
    })
    .await
}

/// The current signing secret.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/secret", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 200, body = WebhookSecretView), (status = 404, body = Problem)))]
pub async fn reveal_secret(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookSecretView>> {
    let endpoint = state.db.webhook_endpoint(store.id, &id).await?;
    let secret = state.db.webhook_endpoint_secret(store.id, &id).await?;
    let now = Timestamp::now();
    Ok(Json(WebhookSecretView {
        secret,
        previous_secret_expires_at: endpoint
            .previous_secret_until
            .filter(|until| until.0 > now.0)
            .map(|t| t.to_rfc3339()),
    }))
}

/// The endpoint's latest delivery attempts, newest first.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id"), DeliveriesQuery),
    responses((status = 200, body = Page<WebhookAttemptView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn deliveries(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    q: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> ApiResult<Json<Page<WebhookAttemptView>>> {
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.body_text()))?;
    let limit = match q.limit {
        None => 50,
        Some(n @ 1..=500) => n,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_limit",
                "limit must be 1 to 500",
            )
            .field("limit"))
        }
    };
    let attempts = state.db.webhook_attempts(store.id, &id, limit).await?;
    Ok(Json(Page {
        data: attempts.into_iter().map(WebhookAttemptView::from).collect(),
        next_cursor: None,
    }))
}

/// Queue a `webhook.test` message to this endpoint, whatever types it subscribes to.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints/{id}/test", tag = "webhooks",
    params(("id" = String, Path, description = "Endpoint id")),
    responses((status = 202, body = WebhookTestQueued), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn send_test(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let store_id = store.id;
    let line = format!("POST /api/v1/webhook-endpoints/{id}/test");
    run_write(&state, &store, &headers, &line, b"", move |tx| {
        Box::pin(async move {
            let message_id = tx.queue_webhook_test(store_id, &id, Timestamp::now()).await?;
            Ok(Reply::new(StatusCode::ACCEPTED, WebhookTestQueued { message_id }))
        })
    })
    .await
}
