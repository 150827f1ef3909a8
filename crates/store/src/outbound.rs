//! Outgoing webhooks: the endpoints a store registers and the messages owed to them. A message
//! is queued in the same transaction as the event it announces, so an event is never announced
//! without having happened, nor happens without being announced.
//!
//! Delivery (HTTP, signing, backoff) lives in `regulars-hooks`; this module keeps the queue:
//! workers in several processes claim due messages without sending one twice (PostgreSQL:
//! `FOR UPDATE SKIP LOCKED`; SQLite: one `UPDATE … RETURNING` under the write lock), each
//! claim being a lease (`locked_until`) that another worker may take over once it lapses.

use std::collections::HashMap;
use std::time::Duration;

use regulars_domain::{new_id, FieldError, StoreId, Timestamp};
use sea_query::{Cond, Expr, Iden, LockBehavior, LockType, Order, Query};
use serde::Serialize;

use crate::events::NewEvent;
use crate::{json_text, parse_json, Db, StoreError, Tx, CHUNK};

#[derive(Iden, Clone, Copy)]
enum WebhookEndpoints {
    Table,
    Id,
    StoreId,
    Url,
    Description,
    EventTypes,
    Enabled,
    DisabledReason,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
enum WebhookMessages {
    Table,
    Id,
    StoreId,
    EndpointId,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastResponseStatus,
    LastError,
    CreatedAt,
    FinishedAt,
}

#[derive(Iden, Clone, Copy)]
enum WebhookAttempts {
    Table,
    Id,
    StoreId,
    EndpointId,
    MessageId,
    Attempt,
    AttemptedAt,
    Outcome,
    ResponseStatus,
    DurationMs,
    Error,
}

/// Event kinds (the `events` table) and the webhook types that announce them.
pub const WEBHOOK_EVENT_TYPES: [(&str, &str); 24] = [
    ("points_earned", "points.earned"),
    ("points_redeemed", "points.redeemed"),
    ("points_revoked", "points.revoked"),
    ("points_expiring", "points.expiring"),
    ("points_expired", "points.expired"),
    ("tier_changed", "tier.changed"),
    ("reward_redeemed", "reward.redeemed"),
    ("order_placed", "order.placed"),
    ("order_cancelled", "order.cancelled"),
    ("refund_issued", "refund.issued"),
    ("consent_changed", "customer.consent_changed"),
    ("tags_changed", "customer.tags_changed"),
    ("note_added", "customer.note_added"),
    ("account_manager_changed", "customer.account_manager_changed"),
    ("custom", "event.custom"),
    ("referral_created", "referral.created"),
    ("referral_qualified", "referral.qualified"),
    ("referral_rewarded", "referral.rewarded"),
    ("referral_rejected", "referral.rejected"),
    ("referral_cancelled", "referral.cancelled"),
    ("referral_milestone", "referral.milestone"),
    ("commission_earned", "commission.earned"),
    ("commission_reversed", "commission.reversed"),
    ("commission_paid", "commission.paid"),
];

/// The type of the message `POST /webhook-endpoints/{id}/test` queues; sent to that endpoint
/// whatever it subscribes to.
pub const WEBHOOK_TEST_TYPE: &str = "webhook.test";

/// How long the secret replaced by a rotation keeps signing beside the new one.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The longest endpoint URL accepted.
pub const MAX_WEBHOOK_URL_CHARS: usize = 2048;
/// The longest endpoint description accepted.
pub const MAX_WEBHOOK_DESCRIPTION_CHARS: usize = 500;
/// How many endpoints one store may register.
pub const MAX_WEBHOOK_ENDPOINTS: usize = 50;

/// The webhook type announcing an event kind. A kind without an entry in
/// [`WEBHOOK_EVENT_TYPES`] still reaches endpoints subscribed to every type, as `area.action`.
pub fn webhook_type(kind: &str) -> String {
    match WEBHOOK_EVENT_TYPES.iter().find(|(k, _)| *k == kind) {
        Some((_, t)) => (*t).to_string(),
        None => match kind.split_once('_') {
            Some((area, action)) => format!("{area}.{action}"),
            None => format!("event.{kind}"),
        },
    }
}

/// Why an endpoint stopped receiving messages.
pub const DISABLED_MANUAL: &str = "manual";
/// The receiver answered 410 Gone.
pub const DISABLED_GONE: &str = "gone";

/// A registered endpoint. Its secret is never part of this record: see
/// [`Db::webhook_endpoint_secret`].
#[derive(Debug, Clone, Serialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub store_id: StoreId,
    pub url: String,
    pub description: String,
    /// Subscribed types; empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    /// `manual` or `gone` while disabled.
    pub disabled_reason: Option<String>,
    /// Until when the secret replaced by the last rotation still signs.
    pub previous_secret_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl WebhookEndpoint {
    pub fn subscribes_to(&self, event_type: &str) -> bool {
        subscribed(&self.event_types, event_type)
    }
}

fn subscribed(types: &[String], event_type: &str) -> bool {
    types.is_empty() || types.iter().any(|t| t == event_type)
}

/// A new endpoint. The URL's reachability rules (scheme, private addresses) are checked by
/// the caller, who knows the server's configuration; here only its shape and size.
#[derive(Debug, Clone, Default)]
pub struct NewWebhookEndpoint {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
}

/// A change to an endpoint: only the fields given change.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// A message owed to an endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookMessage {
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    /// pending, succeeded, failed or cancelled.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_response_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// One attempt to deliver a message, for the endpoint's delivery log.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookAttempt {
    pub id: String,
    pub message_id: String,
    pub event_type: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub attempted_at: Timestamp,
    /// succeeded, retry, failed or gone.
    pub outcome: String,
    pub response_status: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The message's status now.
    pub message_status: String,
}

/// A message a worker has claimed: its lease runs until `locked_until`.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub id: String,
    pub store_id: StoreId,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    /// This attempt's number (1 for the first).
    pub attempt: i64,
    pub locked_until: Timestamp,
}

/// Where and how a claimed message is sent.
#[derive(Debug, Clone)]
pub struct DeliveryTarget {
    pub url: String,
    pub enabled: bool,
    /// The current secret first, then the previous one while it is still valid.
    pub secrets: Vec<String>,
}

/// What one attempt observed.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub attempted_at: Timestamp,
    pub response_status: Option<u16>,
    pub duration_ms: i64,
    /// Why it failed, without the URL (it may carry a token).
    pub error: Option<String>,
}

/// What becomes of a message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    Succeeded,
    RetryAt(Timestamp),
    /// No further attempt: the schedule is spent or the answer was final.
    Failed,
    /// The receiver answered 410 Gone: the endpoint is disabled and its pending messages
    /// cancelled.
    Gone,
}

impl NextStep {
    fn outcome(self) -> &'static str {
        match self {
            NextStep::Succeeded => "succeeded",
            NextStep::RetryAt(_) => "retry",
            NextStep::Failed => "failed",
            NextStep::Gone => "gone",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

fn check_url(url: &str) -> Result<String, FieldError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(FieldError::new(
            "url",
            "url_required",
            "the endpoint's URL is required",
        ));
    }
    if url.chars().count() > MAX_WEBHOOK_URL_CHARS {
        return Err(FieldError::new(
            "url",
            "url_too_long",
            format!("an endpoint URL may be at most {MAX_WEBHOOK_URL_CHARS} characters"),
        ));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(FieldError::new(
            "url",
            "invalid_url_scheme",
            "an endpoint URL must start with https:// (or http:// where private targets are allowed)",
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(FieldError::new(
            "url",
            "invalid_url",
            "an endpoint URL may not contain spaces",
        ));
    }
    Ok(url.to_string())
}

fn check_description(description: &str) -> Result<String, FieldError> {
    let description = description.trim();
    if description.chars().count() > MAX_WEBHOOK_DESCRIPTION_CHARS {
        return Err(FieldError::new(
            "description",
            "description_too_long",
            format!("a description may be at most {MAX_WEBHOOK_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(description.to_string())
}

/// Subscribed types, deduplicated in the order given; every one must be a known type.
fn check_event_types(types: &[String]) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for (i, t) in types.iter().enumerate() {
        let t = t.trim();
        if !WEBHOOK_EVENT_TYPES.iter().any(|(_, known)| *known == t) {
            let known: Vec<&str> = WEBHOOK_EVENT_TYPES.iter().map(|(_, t)| *t).collect();
            return Err(FieldError::new(
                format!("event_types[{i}]"),
                "unknown_event_type",
                format!("{t:?} is not an event type: {}", known.join(", ")),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// Secrets are made by `regulars-hooks` (`whsec_` and the base64 of 24 or more random bytes).
fn check_secret(secret: &str) -> Result<(), FieldError> {
    match secret.strip_prefix("whsec_") {
        Some(key)
            if key.len() >= 32
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(FieldError::new(
            "secret",
            "invalid_secret",
            "a signing secret is whsec_ followed by the base64 of at least 24 random bytes",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Rows

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    store_id: String,
    url: String,
    description: String,
    event_types: String,
    enabled: bool,
    disabled_reason: Option<String>,
    previous_secret_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const ENDPOINT_COLUMNS: [WebhookEndpoints; 10] = [
    WebhookEndpoints::Id,
    WebhookEndpoints::StoreId,
    WebhookEndpoints::Url,
    WebhookEndpoints::Description,
    WebhookEndpoints::EventTypes,
    WebhookEndpoints::Enabled,
    WebhookEndpoints::DisabledReason,
    WebhookEndpoints::PreviousSecretUntil,
    WebhookEndpoints::CreatedAt,
    WebhookEndpoints::UpdatedAt,
];

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> Result<Self, StoreError> {
        Ok(WebhookEndpoint {
            store_id: StoreId::parse(&r.store_id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            event_types: parse_json(&r.event_types, "webhook endpoint event types")?,
            id: r.id,
            url: r.url,
            description: r.description,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            previous_secret_until: r.previous_secret_until.map(Timestamp),
            created_at: Timestamp(r.created_at),
            updated_at: Timestamp(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    endpoint_id: String,
    event_type: String,
    payload: String,
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_response_status: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    finished_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: String,
    store_id: String,
    endpoint_id: String,
    event_type: String,
    payload: String,
    attempts: i64,
    locked_until: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    id: String,
    store_id: String,
    url: String,
    enabled: bool,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct AttemptRow {
    id: String,
    message_id: String,
    event_type: String,
    attempt: i64,
    attempted_at: i64,
    outcome: String,
    response_status: Option<i64>,
    duration_ms: i64,
    error: Option<String>,
    status: String,
}

// ---------------------------------------------------------------------------------------------
// Queueing

/// The body announcing an event: `{type, timestamp, data}` with the event's stored data, its
/// customer id and when it happened. Custom events carry their name and properties apart, so a
/// property can never pose as one of ours.
fn event_payload(event_type: &str, e: &NewEvent) -> String {
    let mut data = serde_json::Map::new();
    match (&e.data, e.kind) {
        (serde_json::Value::Object(fields), kind) if kind != "custom" => {
            data.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        (other, _) => {
            data.insert("properties".into(), other.clone());
        }
    }
    if let Some(name) = &e.name {
        data.insert("name".into(), name.clone().into());
    }
    data.insert("customer_id".into(), e.customer_id.clone().into());
    data.insert("occurred_at".into(), e.occurred_at.to_rfc3339().into());
    json_text(&serde_json::json!({
        "type": event_type,
        "timestamp": e.occurred_at.to_rfc3339(),
        "data": data,
    }))
}

fn message_id() -> String {
    format!("msg_{}", new_id().simple())
}

/// The values of one new message row.
fn message_values(
    id: String,
    store: StoreId,
    endpoint: &str,
    event_type: &str,
    payload: String,
    now: Timestamp,
) -> [sea_query::SimpleExpr; 8] {
    [
        id.into(),
        store.to_string().into(),
        endpoint.into(),
        event_type.into(),
        payload.into(),
        "pending".into(),
        now.0.into(),
        now.0.into(),
    ]
}

const MESSAGE_INSERT_COLUMNS: [WebhookMessages; 8] = [
    WebhookMessages::Id,
    WebhookMessages::StoreId,
    WebhookMessages::EndpointId,
    WebhookMessages::EventType,
    WebhookMessages::Payload,
    WebhookMessages::Status,
    WebhookMessages::NextAttemptAt,
    WebhookMessages::CreatedAt,
];

/// Queues one delivery per subscribed, enabled endpoint for each published event.
pub(crate) async fn enqueue_for_events(
    tx: &mut Tx,
    store: StoreId,
    events: &[&NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let q = Query::select()
        .columns([WebhookEndpoints::Id, WebhookEndpoints::EventTypes])
        .from(WebhookEndpoints::Table)
        .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.to_string()))
        .and_where(Expr::col(WebhookEndpoints::Enabled).eq(true))
        .to_owned();
    let endpoints: Vec<(String, String)> = tx.fetch_all(&q).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let endpoints: Vec<(String, Vec<String>)> = endpoints
        .into_iter()
        .map(|(id, types)| Ok((id, parse_json(&types, "webhook endpoint event types")?)))
        .collect::<Result<_, StoreError>>()?;
    let now = Timestamp::now();
    let mut rows = Vec::new();
    for e in events {
        let event_type = webhook_type(e.kind);
        let mut payload = None;
        for (endpoint, types) in &endpoints {
            if subscribed(types, &event_type) {
                let body = payload
                    .get_or_insert_with(|| event_payload(&event_type, e))
                    .clone();
                rows.push(message_values(
                    message_id(),
                    store,
                    endpoint,
                    &event_type,
                    body,
                    now,
                ));
            }
        }
    }
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(WebhookMessages::Table)
            .columns(MESSAGE_INSERT_COLUMNS);
        for row in chunk {
            q.values_panic(row.clone());
        }
        tx.execute(&q).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The registry

fn endpoint_query(store: StoreId, id: &str) -> sea_query::SelectStatement {
    Query::select()
        .columns(ENDPOINT_COLUMNS)
        .from(WebhookEndpoints::Table)
        .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.to_string()))
        .and_where(Expr::col(WebhookEndpoints::Id).eq(id))
        .to_owned()
}

/// Marks the endpoint's pending messages cancelled (it was disabled or is going away).
async fn cancel_pending(
    tx: &mut Tx,
    store: StoreId,
    endpoint: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let q = Query::update()
        .table(WebhookMessages::Table)
        .value(WebhookMessages::Status, "cancelled")
        .value(WebhookMessages::FinishedAt, now.0)
        .value(WebhookMessages::LockedUntil, Option::<i64>::None)
        .and_where(Expr::col(WebhookMessages::StoreId).eq(store.to_string()))
        .and_where(Expr::col(WebhookMessages::EndpointId).eq(endpoint))
        .and_where(Expr::col(WebhookMessages::Status).eq("pending"))
        .to_owned();
    tx.execute(&q).await
}

impl Tx {
    /// Registers an endpoint with its first signing secret (made by `regulars-hooks`).
    pub async fn create_webhook_endpoint(
        &mut self,
        store: StoreId,
        input: &NewWebhookEndpoint,
        secret: &str,
        now: Timestamp,
    ) -> Result<WebhookEndpoint, StoreError> {
        let url = check_url(&input.url)?;
        let description = check_description(&input.description)?;
        let event_types = check_event_types(&input.event_types)?;
        check_secret(secret)?;
        let count = Query::select()
            .expr(Expr::col(WebhookEndpoints::Id).count())
            .from(WebhookEndpoints::Table)
            .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.to_string()))
            .to_owned();
        let (existing,): (i64,) = self.fetch_optional(&count).await?.unwrap_or((0,));
        if existing as usize >= MAX_WEBHOOK_ENDPOINTS {
            return Err(FieldError::new(
                "url",
                "too_many_endpoints",
                format!("a store may register at most {MAX_WEBHOOK_ENDPOINTS} endpoints"),
            )
            .into());
        }
        let endpoint = WebhookEndpoint {
            id: new_id().to_string(),
            store_id: store,
            url,
            description,
            event_types,
            enabled: true,
            disabled_reason: None,
            previous_secret_until: None,
            created_at: now,
            updated_at: now,
        };
        let q = Query::insert()
            .into_table(WebhookEndpoints::Table)
            .columns([
                WebhookEndpoints::Id,
                WebhookEndpoints::StoreId,
                WebhookEndpoints::Url,
                WebhookEndpoints::Description,
                WebhookEndpoints::EventTypes,
                WebhookEndpoints::Enabled,
                WebhookEndpoints::Secret,
                WebhookEndpoints::CreatedAt,
                WebhookEndpoints::UpdatedAt,
            ])
            .values_panic([
                endpoint.id.clone().into(),
                store.to_string().into(),
                endpoint.url.clone().into(),
                endpoint.description.clone().into(),
                json_text(&endpoint.event_types).into(),
                true.into(),
                secret.into(),
                now.0.into(),
                now.0.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(endpoint)
    }

    /// Changes an endpoint. Disabling it cancels its pending messages; enabling it clears the
    /// reason it was disabled.
    pub async fn update_webhook_endpoint(
        &mut self,
        store: StoreId,
        id: &str,
        patch: &WebhookEndpointPatch,
        now: Timestamp,
    ) -> Result<WebhookEndpoint, StoreError> {
        let url = patch.url.as_deref().map(check_url).transpose()?;
        let description = patch.description.as_deref().map(check_description).transpose()?;
        let event_types = patch.event_types.as_deref().map(check_event_types).transpose()?;
        let row: EndpointRow = self
            .fetch_optional(&endpoint_query(store, id))
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        let mut endpoint = WebhookEndpoint::try_from(row)?;
        let mut q = Query::update();
        q.table(WebhookEndpoints::Table)
            .value(WebhookEndpoints::UpdatedAt, now.0)
            .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookEndpoints::Id).eq(id));
        if let Some(url) = url {
            q.value(WebhookEndpoints::Url, url.clone());
            endpoint.url = url;
        }
        if let Some(description) = description {
            q.value(WebhookEndpoints::Description, description.clone());
            endpoint.description = description;
        }
        if let Some(types) = event_types {
            q.value(WebhookEndpoints::EventTypes, json_text(&types));
            endpoint.event_types = types;
        }
        match patch.enabled {
            Some(true) if !endpoint.enabled => {
                q.value(WebhookEndpoints::Enabled, true)
                    .value(WebhookEndpoints::DisabledReason, Option::<String>::None);
                endpoint.enabled = true;
                endpoint.disabled_reason = None;
            }
            Some(false) if endpoint.enabled => {
                q.value(WebhookEndpoints::Enabled, false)
                    .value(WebhookEndpoints::DisabledReason, DISABLED_MANUAL);
                endpoint.enabled = false;
                endpoint.disabled_reason = Some(DISABLED_MANUAL.into());
                cancel_pending(self, store, id, now).await?;
            }
            _ => {}
        }
        self.execute(&q).await?;
        endpoint.updated_at = now;
        Ok(endpoint)
    }

    /// Removes an endpoint with its messages and delivery log.
    pub async fn delete_webhook_endpoint(&mut self, store: StoreId, id: &str) -> Result<(), StoreError> {
        let attempts = Query::delete()
            .from_table(WebhookAttempts::Table)
            .and_where(Expr::col(WebhookAttempts::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookAttempts::EndpointId).eq(id))
            .to_owned();
        let messages = Query::delete()
            .from_table(WebhookMessages::Table)
            .and_where(Expr::col(WebhookMessages::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookMessages::EndpointId).eq(id))
            .to_owned();
        let endpoint = Query::delete()
            .from_table(WebhookEndpoints::Table)
            .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookEndpoints::Id).eq(id))
            .to_owned();
        self.execute(&attempts).await?;
        self.execute(&messages).await?;
        if self.execute(&endpoint).await? == 0 {
            return Err(StoreError::NotFound("webhook endpoint"));
        }
        Ok(())
    }

    /// Replaces the signing secret. The old one keeps signing beside it for
    /// [`PREVIOUS_SECRET_GRACE`], so receivers can switch without refusing a message.
    pub async fn rotate_webhook_secret(
        &mut self,
        store: StoreId,
        id: &str,
        new_secret: &str,
        now: Timestamp,
    ) -> Result<WebhookEndpoint, StoreError> {
        check_secret(new_secret)?;
        let until = Timestamp(now.0 + PREVIOUS_SECRET_GRACE.as_millis() as i64);
        let q = Query::update()
            .table(WebhookEndpoints::Table)
            .value(
                WebhookEndpoints::PreviousSecret,
                Expr::col(WebhookEndpoints::Secret),
            )
            .value(WebhookEndpoints::PreviousSecretUntil, until.0)
            .value(WebhookEndpoints::Secret, new_secret)
            .value(WebhookEndpoints::UpdatedAt, now.0)
            .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookEndpoints::Id).eq(id))
            .to_owned();
        if self.execute(&q).await? == 0 {
            return Err(StoreError::NotFound("webhook endpoint"));
        }
        let row: EndpointRow = self
            .fetch_optional(&endpoint_query(store, id))
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        row.try_into()
    }

    /// Queues a `webhook.test` message to one endpoint. Returns its id (the `webhook-id`).
    pub async fn queue_webhook_test(
        &mut self,
        store: StoreId,
        id: &str,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let row: EndpointRow = self
            .fetch_optional(&endpoint_query(store, id))
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        if !row.enabled {
            return Err(FieldError::new(
                "enabled",
                "endpoint_disabled",
                "this endpoint is disabled; enable it before sending a test",
            )
            .into());
        }
        let payload = json_text(&serde_json::json!({
            "type": WEBHOOK_TEST_TYPE,
            "timestamp": now.to_rfc3339(),
            "data": { "endpoint_id": id, "store_id": store.to_string() },
        }));
        let message = message_id();
        let q = Query::insert()
            .into_table(WebhookMessages::Table)
            .columns(MESSAGE_INSERT_COLUMNS)
            .values_panic(message_values(
                message.clone(),
                store,
                id,
                WEBHOOK_TEST_TYPE,
                payload,
                now,
            ))
            .to_owned();
        self.execute(&q).await?;
        Ok(message)
    }
}

impl Db {
    /// The store's endpoints, oldest first.
    pub async fn webhook_endpoints(&self, store: StoreId) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let q = Query::select()
            .columns(ENDPOINT_COLUMNS)
            .from(WebhookEndpoints::Table)
            .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.to_string()))
            .order_by(WebhookEndpoints::CreatedAt, Order::Asc)
            .order_by(WebhookEndpoints::Id, Order::Asc)
            .to_owned();
        let rows: Vec<EndpointRow> = self.fetch_all(&q).await?;
        rows.into_iter().map(WebhookEndpoint::try_from).collect()
    }

    pub async fn webhook_endpoint(&self, store: StoreId, id: &str) -> Result<WebhookEndpoint, StoreError> {
        let row: EndpointRow = self
            .fetch_optional(&endpoint_query(store, id))
            .await?
            .ok_or(StoreError::NotFound("webhook endpoint"))?;
        row.try_into()
    }

    /// The endpoint's current signing secret (to show to its owner on request).
    pub async fn webhook_endpoint_secret(&self, store: StoreId, id: &str) -> Result<String, StoreError> {
        let q = Query::select()
            .column(WebhookEndpoints::Secret)
            .from(WebhookEndpoints::Table)
            .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookEndpoints::Id).eq(id))
            .to_owned();
        let row: Option<(String,)> = self.fetch_optional(&q).await?;
        row.map(|(s,)| s).ok_or(StoreError::NotFound("webhook endpoint"))
    }

    /// The endpoint's messages, newest first.
    pub async fn webhook_messages(
        &self,
        store: StoreId,
        endpoint: &str,
        limit: u64,
    ) -> Result<Vec<WebhookMessage>, StoreError> {
        let q = Query::select()
            .columns([
                WebhookMessages::Id,
                WebhookMessages::EndpointId,
                WebhookMessages::EventType,
                WebhookMessages::Payload,
                WebhookMessages::Status,
                WebhookMessages::Attempts,
                WebhookMessages::NextAttemptAt,
                WebhookMessages::LastResponseStatus,
                WebhookMessages::LastError,
                WebhookMessages::CreatedAt,
                WebhookMessages::FinishedAt,
            ])
            .from(WebhookMessages::Table)
            .and_where(Expr::col(WebhookMessages::StoreId).eq(store.to_string()))
            .and_where(Expr::col(WebhookMessages::EndpointId).eq(endpoint))
            .order_by(WebhookMessages::CreatedAt, Order::Desc)
            .order_by(WebhookMessages::Id, Order::Desc)
            .limit(limit.clamp(1, 1000))
            .to_owned();
        let rows: Vec<MessageRow> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| WebhookMessage {
                id: r.id,
                endpoint_id: r.endpoint_id,
                event_type: r.event_type,
                payload: r.payload,
                status: r.status,
                attempts: r.attempts,
                next_attempt_at: Timestamp(r.next_attempt_at),
                last_response_status: r.last_response_status,
                last_error: r.last_error,
                created_at: Timestamp(r.created_at),
                finished_at: r.finished_at.map(Timestamp),
            })
            .collect())
    }

    /// The endpoint's latest attempts, newest first (404 for another store's endpoint).
    pub async fn webhook_attempts(
        &self,
        store: StoreId,
        endpoint: &str,
        limit: u64,
    ) -> Result<Vec<WebhookAttempt>, StoreError> {
        self.webhook_endpoint(store, endpoint).await?;
        let q = Query::select()
            .column((WebhookAttempts::Table, WebhookAttempts::Id))
            .column((WebhookAttempts::Table, WebhookAttempts::MessageId))
            .column((WebhookMessages::Table, WebhookMessages::EventType))
            .column((WebhookAttempts::Table, WebhookAttempts::Attempt))
            .column((WebhookAttempts::Table, WebhookAttempts::AttemptedAt))
            .column((WebhookAttempts::Table, WebhookAttempts::Outcome))
            .column((WebhookAttempts::Table, WebhookAttempts::ResponseStatus))
            .column((WebhookAttempts::Table, WebhookAttempts::DurationMs))
            .column((WebhookAttempts::Table, WebhookAttempts::Error))
            .column((WebhookMessages::Table, WebhookMessages::Status))
            .from(WebhookAttempts::Table)
            .inner_join(
                WebhookMessages::Table,
                Expr::col((WebhookMessages::Table, WebhookMessages::Id))
                    .equals((WebhookAttempts::Table, WebhookAttempts::MessageId)),
            )
            .and_where(Expr::col((WebhookAttempts::Table, WebhookAttempts::StoreId)).eq(store.to_string()))
            .and_where(Expr::col((WebhookAttempts::Table, WebhookAttempts::EndpointId)).eq(endpoint))
            .and_where(Expr::col((WebhookMessages::Table, WebhookMessages::StoreId)).eq(store.to_string()))
            .order_by(
                (WebhookAttempts::Table, WebhookAttempts::AttemptedAt),
                Order::Desc,
            )
            .order_by((WebhookAttempts::Table, WebhookAttempts::Id), Order::Desc)
            .limit(limit.clamp(1, 500))
            .to_owned();
        let rows: Vec<AttemptRow> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| WebhookAttempt {
                id: r.id,
                message_id: r.message_id,
                event_type: r.event_type,
                attempt: r.attempt,
                attempted_at: Timestamp(r.attempted_at),
                outcome: r.outcome,
                response_status: r.response_status,
                duration_ms: r.duration_ms,
                error: r.error,
                message_status: r.status,
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery

impl Db {
    /// Claims up to `limit` due messages of any store for `lease`, counting the attempt. A
    /// message claimed here is claimed by no other worker until its lease lapses.
    pub async fn claim_webhook_messages(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: u64,
    ) -> Result<Vec<ClaimedMessage>, StoreError> {
        let locked_until = now.0 + lease.as_millis() as i64;
        let due = Query::select()
            .column(WebhookMessages::Id)
            .from(WebhookMessages::Table)
            .and_where(Expr::col(WebhookMessages::Status).eq("pending"))
            .and_where(Expr::col(WebhookMessages::NextAttemptAt).lte(now.0))
            .cond_where(
                Cond::any()
                    .add(Expr::col(WebhookMessages::LockedUntil).is_null())
                    .add(Expr::col(WebhookMessages::LockedUntil).lte(now.0)),
            )
            .order_by(WebhookMessages::NextAttemptAt, Order::Asc)
            .limit(limit.max(1))
            // PostgreSQL: rows another worker is claiming are passed over, not waited for
            // (SQLite renders no lock clause: its write lock already serialises claims).
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let q = Query::update()
            .table(WebhookMessages::Table)
            .value(WebhookMessages::LockedUntil, locked_until)
            .value(
                WebhookMessages::Attempts,
                Expr::col(WebhookMessages::Attempts).add(1),
            )
            .and_where(Expr::col(WebhookMessages::Id).in_subquery(due))
            .returning(Query::returning().columns([
                WebhookMessages::Id,
                WebhookMessages::StoreId,
                WebhookMessages::EndpointId,
                WebhookMessages::EventType,
                WebhookMessages::Payload,
                WebhookMessages::Attempts,
                WebhookMessages::LockedUntil,
            ]))
            .to_owned();
        // On SQLite the transaction is BEGIN IMMEDIATE: the claim reads under the write lock.
        let mut tx = self.begin().await?;
        let rows: Vec<ClaimRow> = tx.fetch_all(&q).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|r| {
                Ok(ClaimedMessage {
                    store_id: StoreId::parse(&r.store_id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    id: r.id,
                    endpoint_id: r.endpoint_id,
                    event_type: r.event_type,
                    payload: r.payload,
                    attempt: r.attempts,
                    locked_until: Timestamp(r.locked_until.unwrap_or(locked_until)),
                })
            })
            .collect()
    }

    /// The endpoints of claimed messages, by endpoint id; a deleted endpoint is absent.
    pub async fn delivery_targets(
        &self,
        messages: &[ClaimedMessage],
        now: Timestamp,
    ) -> Result<HashMap<String, DeliveryTarget>, StoreError> {
        if messages.is_empty() {
            return Ok(HashMap::new());
        }
        let wanted: std::collections::HashSet<String> = messages.iter().map(delivery_target_key).collect();
        let stores: std::collections::HashSet<String> =
            messages.iter().map(|m| m.store_id.to_string()).collect();
        let endpoints: std::collections::HashSet<&str> =
            messages.iter().map(|m| m.endpoint_id.as_str()).collect();
        let q = Query::select()
            .columns([
                WebhookEndpoints::Id,
                WebhookEndpoints::StoreId,
                WebhookEndpoints::Url,
                WebhookEndpoints::Enabled,
                WebhookEndpoints::Secret,
                WebhookEndpoints::PreviousSecret,
                WebhookEndpoints::PreviousSecretUntil,
            ])
            .from(WebhookEndpoints::Table)
            .and_where(Expr::col(WebhookEndpoints::StoreId).is_in(stores))
            .and_where(Expr::col(WebhookEndpoints::Id).is_in(endpoints))
            .to_owned();
        let rows: Vec<TargetRow> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            // Only the pairs asked for: an endpoint id is looked up within its own store.
            .filter(|r| wanted.contains(&format!("{}/{}", r.store_id, r.id)))
            .map(|r| {
                let mut secrets = vec![r.secret];
                if let (Some(previous), Some(until)) = (r.previous_secret, r.previous_secret_until) {
                    if until > now.0 {
                        secrets.push(previous);
                    }
                }
                let target = DeliveryTarget {
                    url: r.url,
                    enabled: r.enabled,
                    secrets,
                };
                (format!("{}/{}", r.store_id, r.id), target)
            })
            .collect())
    }

    /// Records an attempt and what follows it, if the claim is still this worker's (a worker
    /// whose lease lapsed and was taken over records nothing). Returns whether it recorded.
    pub async fn record_webhook_attempt(
        &self,
        message: &ClaimedMessage,
        report: &AttemptReport,
        next: NextStep,
    ) -> Result<bool, StoreError> {
        let store = message.store_id.to_string();
        let mut tx = self.begin().await?;
        let mut q = Query::update();
        q.table(WebhookMessages::Table)
            .value(WebhookMessages::LockedUntil, Option::<i64>::None)
            .value(
                WebhookMessages::LastResponseStatus,
                report.response_status.map(i64::from),
            )
            .value(WebhookMessages::LastError, report.error.clone())
            .and_where(Expr::col(WebhookMessages::StoreId).eq(store.as_str()))
            .and_where(Expr::col(WebhookMessages::Id).eq(message.id.as_str()))
            .and_where(Expr::col(WebhookMessages::Status).eq("pending"))
            .and_where(Expr::col(WebhookMessages::Attempts).eq(message.attempt))
            .and_where(Expr::col(WebhookMessages::LockedUntil).eq(message.locked_until.0));
        match next {
            NextStep::Succeeded => {
                q.value(WebhookMessages::Status, "succeeded")
                    .value(WebhookMessages::FinishedAt, report.attempted_at.0);
            }
            NextStep::RetryAt(at) => {
                q.value(WebhookMessages::NextAttemptAt, at.0);
            }
            NextStep::Failed | NextStep::Gone => {
                q.value(WebhookMessages::Status, "failed")
                    .value(WebhookMessages::FinishedAt, report.attempted_at.0);
            }
        }
        if tx.execute(&q).await? == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let attempt = Query::insert()
            .into_table(WebhookAttempts::Table)
            .columns([
                WebhookAttempts::Id,
                WebhookAttempts::StoreId,
                WebhookAttempts::EndpointId,
                WebhookAttempts::MessageId,
                WebhookAttempts::Attempt,
                WebhookAttempts::AttemptedAt,
                WebhookAttempts::Outcome,
                WebhookAttempts::ResponseStatus,
                WebhookAttempts::DurationMs,
                WebhookAttempts::Error,
            ])
            .values_panic([
                new_id().to_string().into(),
                store.clone().into(),
                message.endpoint_id.clone().into(),
                message.id.clone().into(),
                message.attempt.into(),
                report.attempted_at.0.into(),
                next.outcome().into(),
                report.response_status.map(i64::from).into(),
                report.duration_ms.into(),
                report.error.clone().into(),
            ])
            .to_owned();
        tx.execute(&attempt).await?;
        if next == NextStep::Gone {
            let q = Query::update()
                .table(WebhookEndpoints::Table)
                .value(WebhookEndpoints::Enabled, false)
                .value(WebhookEndpoints::DisabledReason, DISABLED_GONE)
                .value(WebhookEndpoints::UpdatedAt, report.attempted_at.0)
                .and_where(Expr::col(WebhookEndpoints::StoreId).eq(store.as_str()))
                .and_where(Expr::col(WebhookEndpoints::Id).eq(message.endpoint_id.as_str()))
                .to_owned();
            tx.execute(&q).await?;
            cancel_pending(
                &mut tx,
                message.store_id,
                &message.endpoint_id,
                report.attempted_at,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Ends a claimed message without an attempt: its endpoint was disabled or removed after it
    /// was queued.
    pub async fn cancel_webhook_message(
        &self,
        message: &ClaimedMessage,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let q = Query::update()
            .table(WebhookMessages::Table)
            .value(WebhookMessages::Status, "cancelled")
            .value(WebhookMessages::FinishedAt, now.0)
            .value(WebhookMessages::LockedUntil, Option::<i64>::None)
            .and_where(Expr::col(WebhookMessages::StoreId).eq(message.store_id.to_string()))
            .and_where(Expr::col(WebhookMessages::Id).eq(message.id.as_str()))
            .and_where(Expr::col(WebhookMessages::Status).eq("pending"))
            .and_where(Expr::col(WebhookMessages::Attempts).eq(message.attempt))
            .to_owned();
        Ok(self.execute(&q).await? == 1)
    }
}

impl Db {
    /// Forgets finished messages (and their attempts) that ended before `before`; pending ones
    /// are kept whatever their age. Returns how many messages were removed.
    pub async fn prune_webhook_messages(&self, before: Timestamp) -> Result<u64, StoreError> {
        let finished = Query::select()
            .column(WebhookMessages::Id)
            .from(WebhookMessages::Table)
            .and_where(Expr::col(WebhookMessages::Status).ne("pending"))
            .and_where(Expr::col(WebhookMessages::FinishedAt).lt(before.0))
            .to_owned();
        let attempts = Query::delete()
            .from_table(WebhookAttempts::Table)
            .and_where(Expr::col(WebhookAttempts::MessageId).in_subquery(finished))
            .to_owned();
        let messages = Query::delete()
            .from_table(WebhookMessages::Table)
            .and_where(Expr::col(WebhookMessages::Status).ne("pending"))
            .and_where(Expr::col(WebhookMessages::FinishedAt).lt(before.0))
            .to_owned();
        let mut tx = self.begin().await?;
        tx.execute(&attempts).await?;
        let removed = tx.execute(&messages).await?;
        tx.commit().await?;
        Ok(removed)
    }
}

/// The key [`Db::delivery_targets`] files a claimed message's endpoint under.
pub fn delivery_target_key(message: &ClaimedMessage) -> String {
    format!("{}/{}", message.store_id, message.endpoint_id)
}
