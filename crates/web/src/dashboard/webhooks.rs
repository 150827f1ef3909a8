//! Settings → Outgoing webhooks: the endpoints told about the store's events, with their
//! latest deliveries; add, enable or disable, rotate or show the signing secret, send a test,
//! delete. Only people who may change the store's settings see or change them.
//!
//! Every POST checks membership (else 404), the role (else 403) and the CSRF token (else 403).
//! A secret is shown on the answer to the POST that made or revealed it, never in a redirect.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use regulars_domain::{FieldError, Permission, Role, Timestamp};
use regulars_i18n::{format_datetime, format_number, text, text_with, Lang};
use regulars_store::{
    NewWebhookEndpoint, StoreError, StoreRecord, WebhookEndpointPatch, DISABLED_GONE, WEBHOOK_EVENT_TYPES,
};
use serde::Deserialize;

use super::pages::{render, Chrome};
use super::session::Staff;
use super::settings::Tab;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/settings/webhooks", get(page).post(add))
        .route(
            "/app/{store}/settings/webhooks/endpoints/{endpoint}/enable",
            post(enable),
        )
        .route(
            "/app/{store}/settings/webhooks/endpoints/{endpoint}/disable",
            post(disable),
        )
        .route(
            "/app/{store}/settings/webhooks/endpoints/{endpoint}/rotate",
            post(rotate),
        )
        .route(
            "/app/{store}/settings/webhooks/endpoints/{endpoint}/reveal",
            post(reveal),
        )
        .route(
            "/app/{store}/settings/webhooks/endpoints/{endpoint}/test",
            post(send_test),
        )
        .route(
            "/app/{store}/settings/webhooks/endpoints/{endpoint}/delete",
            post(delete),
        )
}

/// How many of an endpoint's latest attempts the page shows.
const RECENT_ATTEMPTS: u64 = 5;

/// What a redirect after a change may announce (`?done=…`), and the message that says it.
const DONE: [(&str, &str); 5] = [
    ("enabled", "webhooks-enabled-notice"),
    ("disabled", "webhooks-disabled-notice"),
    ("test", "webhooks-test-queued"),
    ("deleted", "webhooks-deleted"),
    ("nothing", "webhooks-nothing-changed"),
];

pub struct AttemptRow {
    pub when: String,
    pub event_type: String,
    pub outcome: String,
    /// `ok`, `retry` or `failed`, for the badge's colour.
    pub class: &'static str,
    pub code: String,
    pub duration: String,
}

pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub types: String,
    pub enabled: bool,
    pub status: String,
    pub attempts: Vec<AttemptRow>,
}

/// A secret shown on this answer only.
pub struct ShownSecret {
    pub heading: String,
    pub secret: String,
}

pub struct TypeChoice {
    pub value: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
pub struct WebhooksPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub store_id: String,
    pub store_name: String,
    pub tabs: Vec<Tab>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub shown_secret: Option<ShownSecret>,
    pub endpoints: Vec<EndpointRow>,
    pub url: String,
    pub url_error: Option<String>,
    pub url_help: String,
    pub description: String,
    pub description_error: Option<String>,
    pub types: Vec<TypeChoice>,
    pub types_error: Option<String>,
}

fn tabs(lang: Lang, store: &StoreRecord, role: Role) -> Vec<Tab> {
    [
        ("", "settings-tab-store", Permission::ManageSettings),
        ("/people", "settings-tab-people", Permission::ManagePeople),
        ("/webhooks", "webhooks-tab", Permission::ManageSettings),
    ]
    .into_iter()
    .filter(|(_, _, needs)| role.can(*needs))
    .map(|(path, label, _)| Tab {
        href: format!("/app/{}/settings{path}", store.id),
        label: text(lang, label),
        current: path == "/webhooks",
    })
    .collect()
}

/// Pages that may carry a secret are never stored by the browser or a proxy.
fn respond(status: StatusCode, page: &WebhooksPage) -> Response {
    let mut response = render(page);
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn see(store: &StoreRecord, done: &str) -> Response {
    Redirect::to(&format!("/app/{}/settings/webhooks?done={done}", store.id)).into_response()
}

fn outcome(lang: Lang, outcome: &str) -> (String, &'static str) {
    let class = match outcome {
        "succeeded" => "ok",
        "retry" => "retry",
        _ => "failed",
    };
    (text(lang, &format!("webhooks-outcome-{outcome}")), class)
}

async fn build_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
) -> Result<WebhooksPage, Response> {
    let lang = staff.lang;
    let zone = store.timezone.0;
    let endpoints = state
        .db
        .webhook_endpoints(store.id)
        .await
        .map_err(|e| unavailable(e, "listing webhook endpoints"))?;
    let mut rows = Vec::with_capacity(endpoints.len());
    for e in endpoints {
        let attempts = state
            .db
            .webhook_attempts(store.id, &e.id, RECENT_ATTEMPTS)
            .await
            .map_err(|e| unavailable(e, "listing webhook attempts"))?;
        let status = match (e.enabled, e.disabled_reason.as_deref()) {
            (true, _) => text(lang, "webhooks-enabled"),
            (false, Some(DISABLED_GONE)) => text(lang, "webhooks-disabled-gone"),
            (false, _) => text(lang, "webhooks-disabled-manual"),
        };
        rows.push(EndpointRow {
            types: if e.event_types.is_empty() {
                text(lang, "webhooks-all-types")
            } else {
                e.event_types.join(", ")
            },
            enabled: e.enabled,
            status,
            attempts: attempts
                .into_iter()
                .map(|a| {
                    let (label, class) = outcome(lang, &a.outcome);
                    AttemptRow {
                        when: format_datetime(lang, a.attempted_at, zone),
                        event_type: a.event_type,
                        outcome: label,
                        class,
                        code: a
                            .response_status
                            .map(|c| c.to_string())
                            .unwrap_or_else(|| "—".into()),
                        duration: text_with(
                            lang,
                            "webhooks-attempt-ms",
                            &[("ms", &format_number(lang, a.duration_ms, None))],
                        ),
                    }
                })
                .collect(),
            id: e.id,
            url: e.url,
            description: e.description,
        });
    }
    Ok(WebhooksPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/settings/webhooks"),
        csrf: staff.session.csrf_token.clone(),
        store_id: store.id.to_string(),
        store_name: store.name.clone(),
        tabs: tabs(lang, store, role),
        notice: None,
        error: None,
        shown_secret: None,
        endpoints: rows,
        url: String::new(),
        url_error: None,
        url_help: text(
            lang,
            if state.allow_private_webhook_targets {
                "webhooks-url-help-private"
            } else {
                "webhooks-url-help"
            },
        ),
        description: String::new(),
        description_error: None,
        types: WEBHOOK_EVENT_TYPES
            .iter()
            .map(|(_, t)| TypeChoice {
                value: t,
                checked: false,
            })
            .collect(),
        types_error: None,
    })
}

/// A refused value as the reader reads it.
fn field_message(lang: Lang, error: &FieldError, value: &str) -> String {
    let id = match error.code {
        "https_required" => "webhooks-error-https",
        "private_target" => "webhooks-error-private",
        "description_too_long" => "webhooks-error-description",
        "unknown_event_type" => "webhooks-error-types",
        "too_many_endpoints" => "webhooks-error-too-many",
        "endpoint_disabled" => "webhooks-error-disabled",
        _ => "webhooks-error-url",
    };
    text_with(lang, id, &[("value", value)])
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::ManageSettings).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match build_page(&state, &staff, &store, role).await {
        Ok(mut page) => {
            page.notice = q.done.as_deref().and_then(|done| {
                DONE.iter()
                    .find(|(key, _)| *key == done)
                    .map(|(_, id)| text(staff.lang, id))
            });
            respond(StatusCode::OK, &page)
        }
        Err(response) => response,
    }
}

/// The add form: `event_types` repeats, once per ticked box.
struct AddForm {
    csrf: String,
    url: String,
    description: String,
    event_types: Vec<String>,
}

fn add_form(body: &[u8]) -> AddForm {
    let mut form = AddForm {
        csrf: String::new(),
        url: String::new(),
        description: String::new(),
        event_types: Vec::new(),
    };
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "csrf" => form.csrf = value.into_owned(),
            "url" => form.url = value.into_owned(),
            "description" => form.description = value.into_owned(),
            "event_types" => form.event_types.push(value.into_owned()),
            _ => {}
        }
    }
    form
}

async fn add(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = add_form(&body);
    let (store, role) = match staff
        .store_form(&state, &store, Permission::ManageSettings, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let checked = regulars_hooks::check_endpoint_url(&form.url, state.allow_private_webhook_targets).await;
    let result = match checked {
        Err(e) => Err(StoreError::Invalid(e)),
        Ok(_) => {
            let input = NewWebhookEndpoint {
                url: form.url.trim().to_string(),
                description: form.description.clone(),
                event_types: form.event_types.clone(),
            };
            let secret = regulars_hooks::generate_secret();
            let created = async {
                let mut tx = state.db.begin().await?;
                let endpoint = tx
                    .create_webhook_endpoint(store.id, &input, &secret, Timestamp::now())
                    .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(endpoint)
            }
            .await;
            created.map(|endpoint| (endpoint, secret))
        }
    };
    let mut page = match build_page(&state, &staff, &store, role).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    match result {
        Ok((endpoint, secret)) => {
            tracing::info!(store = %store.id, endpoint = %endpoint.id, user = %staff.session.user.id, "webhook endpoint added");
            page.notice = Some(text(lang, "webhooks-added"));
            page.shown_secret = Some(ShownSecret {
                heading: text_with(lang, "webhooks-secret-heading", &[("url", &endpoint.url)]),
                secret,
            });
            respond(StatusCode::OK, &page)
        }
        Err(StoreError::Invalid(error)) => {
            let status = if error.code == "too_many_endpoints" {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            match error.field.as_str() {
                "description" => page.description_error = Some(field_message(lang, &error, "")),
                f if f.starts_with("event_types") => page.types_error = Some(field_message(lang, &error, "")),
                _ => page.url_error = Some(field_message(lang, &error, form.url.trim())),
            }
            page.url = form.url;
            page.description = form.description;
            for choice in &mut page.types {
                choice.checked = form.event_types.iter().any(|t| t == choice.value);
            }
            respond(status, &page)
        }
        Err(e) => unavailable(e, "adding a webhook endpoint"),
    }
}

/// The store, role and endpoint id of an action's form, after the membership, role and CSRF
/// checks.
async fn action(
    state: &AppState,
    staff: &Staff,
    store: &str,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<(StoreRecord, Role), Response> {
    staff
        .store_form(state, store, Permission::ManageSettings, headers, csrf)
        .await
}

fn refused(staff: &Staff, error: StoreError, doing: &str) -> Response {
    match error {
        StoreError::NotFound(_) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        other => unavailable(other, doing),
    }
}

async fn set_enabled(
    state: &AppState,
    staff: &Staff,
    store: &str,
    endpoint: &str,
    headers: &HeaderMap,
    csrf: &str,
    enabled: bool,
) -> Response {
    let (store, _) = match action(state, staff, store, headers, csrf).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let patch = WebhookEndpointPatch {
        enabled: Some(enabled),
        ..Default::default()
    };
    let changed = async {
        let before = state.db.webhook_endpoint(store.id, endpoint).await?.enabled;
        let mut tx = state.db.begin().await?;
        tx.update_webhook_endpoint(store.id, endpoint, &patch, Timestamp::now())
            .await?;
        tx.commit().await?;
        Ok::<_, StoreError>(before != enabled)
    }
    .await;
    match changed {
        Ok(true) => {
            tracing::info!(store = %store.id, endpoint = %endpoint, enabled, user = %staff.session.user.id, "webhook endpoint switched");
            see(&store, if enabled { "enabled" } else { "disabled" })
        }
        Ok(false) => see(&store, "nothing"),
        Err(e) => refused(staff, e, "switching a webhook endpoint"),
    }
}

async fn enable(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, endpoint)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    set_enabled(&state, &staff, &store, &endpoint, &headers, &form.csrf, true).await
}

async fn disable(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, endpoint)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    set_enabled(&state, &staff, &store, &endpoint, &headers, &form.csrf, false).await
}

/// Shows a secret on the page: after a rotation (a new one) or on request (the current one).
async fn show_secret(
    state: &AppState,
    staff: &Staff,
    store: &str,
    endpoint: &str,
    headers: &HeaderMap,
    csrf: &str,
    rotate: bool,
) -> Response {
    let (store, role) = match action(state, staff, store, headers, csrf).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let result = async {
        if rotate {
            let secret = regulars_hooks::generate_secret();
            let mut tx = state.db.begin().await?;
            let e = tx
                .rotate_webhook_secret(store.id, endpoint, &secret, Timestamp::now())
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>((e.url, secret))
        } else {
            let e = state.db.webhook_endpoint(store.id, endpoint).await?;
            let secret = state.db.webhook_endpoint_secret(store.id, endpoint).await?;
            Ok((e.url, secret))
        }
    }
    .await;
    let (url, secret) = match result {
        Ok(found) => found,
        Err(e) => return refused(staff, e, "showing a webhook secret"),
    };
    if rotate {
        tracing::info!(store = %store.id, endpoint = %endpoint, user = %staff.session.user.id, "webhook secret rotated");
    }
    let mut page = match build_page(state, staff, &store, role).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    page.notice = rotate.then(|| text(lang, "webhooks-rotated"));
    page.shown_secret = Some(ShownSecret {
        heading: text_with(lang, "webhooks-secret-heading", &[("url", &url)]),
        secret,
    });
    respond(StatusCode::OK, &page)
}

async fn rotate(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, endpoint)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    show_secret(&state, &staff, &store, &endpoint, &headers, &form.csrf, true).await
}

async fn reveal(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, endpoint)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    show_secret(&state, &staff, &store, &endpoint, &headers, &form.csrf, false).await
}

async fn send_test(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, endpoint)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (store, role) = match action(&state, &staff, &store, &headers, &form.csrf).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let queued = async {
        let mut tx = state.db.begin().await?;
        tx.queue_webhook_test(store.id, &endpoint, Timestamp::now())
            .await?;
        tx.commit().await
    }
    .await;
    match queued {
        Ok(()) => see(&store, "test"),
        Err(StoreError::Invalid(error)) => {
            let mut page = match build_page(&state, &staff, &store, role).await {
                Ok(page) => page,
                Err(response) => return response,
            };
            page.error = Some(field_message(staff.lang, &error, ""));
            respond(StatusCode::CONFLICT, &page)
        }
        Err(e) => refused(&staff, e, "queueing a webhook test"),
    }
}

async fn delete(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, endpoint)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (store, _) = match action(&state, &staff, &store, &headers, &form.csrf).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let deleted = async {
        let mut tx = state.db.begin().await?;
        tx.delete_webhook_endpoint(store.id, &endpoint).await?;
        tx.commit().await
    }
    .await;
    match deleted {
        Ok(()) => {
            tracing::info!(store = %store.id, endpoint = %endpoint, user = %staff.session.user.id, "webhook endpoint deleted");
            see(&store, "deleted")
        }
        Err(e) => refused(&staff, e, "deleting a webhook endpoint"),
    }
}
