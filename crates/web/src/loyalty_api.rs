//! The loyalty program over the JSON API: the program's rules, a member's points and tier,
//! the ledger (adjustments, redemptions, holds, actions), the rewards catalog, checkout perks
//! and the program's reports. Points are integers; money is a decimal string in major units.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use regulars_domain::loyalty::{self, Action, Program, Shopper};
use regulars_domain::{Cart, CartLine, Currency, CustomerId, Discount, FieldError, Money, Timestamp};
use regulars_store::{Balance, EntryRecord, LotRecord, MemberView, RewardInput, RewardRecord, StoreRecord};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::api::path_id;
use crate::auth::ApiStore;
use crate::body::parse_json;
use crate::error::{ApiError, ApiResult, Problem};
use crate::views::major;
use crate::write::{run_write, Reply};
use crate::AppState;

const ACTOR_API: &str = "api_key";

fn rfc(ms: i64) -> String {
    Timestamp(ms).to_rfc3339()
}

fn customer_id(raw: &str) -> ApiResult<CustomerId> {
    path_id(raw, CustomerId::parse, "customer")
}

/// The customer named by the path and the request's body, or the answer refusing them.
fn customer_and_body<T: serde::de::DeserializeOwned>(id: &str, body: &[u8]) -> ApiResult<(CustomerId, T)> {
    Ok((customer_id(id)?, parse_json::<T>(body)?))
}

fn entry_view(e: &EntryRecord) -> Value {
    json!({
        "id": e.id,
        "kind": e.kind,
        "points": e.points,
        "change": e.signed_points(),
        "from": e.debit,
        "to": e.credit,
        "reverses": e.reverses,
        "order_id": e.order_id,
        "hold_id": e.hold_id,
        "reward_id": e.reward_id,
        "action": e.action,
        "written_off": e.written_off,
        "available_from": e.available_from.map(rfc),
        "expires_at": e.expires_at.map(rfc),
        "reason": e.reason,
        "actor": e.actor,
        "created_at": rfc(e.created_at),
    })
}

fn lot_view(l: &LotRecord, now: Timestamp) -> Value {
    let state = if l.expires_at.is_some_and(|t| t <= now.0) {
        "expired"
    } else if l.available_from > now.0 {
        "pending"
    } else {
        "available"
    };
    json!({
        "points": l.points,
        "remaining": l.remaining,
        "state": state,
        "available_from": rfc(l.available_from),
        "expires_at": l.expires_at.map(rfc),
    })
}

fn balance_view(b: &Balance, program: &Program, currency: Currency) -> Value {
    json!({
        "available": b.available,
        "pending": b.pending,
        "held": b.held,
        "expiring_soon": b.expiring_soon,
        "next_expiry": b.next_expiry.map(rfc),
        "lifetime_earned": b.lifetime_earned,
        "redeemed": b.redeemed,
        "expired": b.expired,
        "available_value": major(program.points_value_minor(b.available), currency),
    })
}

fn member_view(m: &MemberView, program: &Program, currency: Currency, now: Timestamp) -> Value {
    json!({
        "customer_id": m.customer_id,
        "balance": balance_view(&m.balance, program, currency),
        "tier": m.tier.as_ref().map(|t| json!({ "id": t.id, "name": t.name, "benefits": t.benefits })),
        "tier_since": m.tier_since.map(rfc),
        "tier_measure": m.measure,
        "next_tier": m.next_tier.as_ref().map(|t| json!({ "id": t.id, "name": t.name, "threshold": t.threshold })),
        "missing_for_next_tier": m.missing_for_next,
        "lots": m.lots.iter().map(|l| lot_view(l, now)).collect::<Vec<_>>(),
        "recent_entries": m.history.iter().map(entry_view).collect::<Vec<_>>(),
        "tier_history": m.tier_history.iter().map(|h| json!({
            "from": h.from_tier, "to": h.to_tier, "measure": h.measure, "cause": h.cause,
            "changed_at": rfc(h.changed_at),
        })).collect::<Vec<_>>(),
    })
}

fn reward_view(r: &RewardRecord, currency: Currency) -> Value {
    json!({
        "id": r.id,
        "name": r.input.name,
        "description": r.input.description,
        "discount": discount_view(&r.input.discount, currency),
        "points_cost": r.input.points_cost,
        "min_tier": r.input.min_tier,
        "per_customer_limit": r.input.per_customer_limit,
        "stock": r.input.stock,
        "coupon_valid_days": r.input.coupon_valid_days,
        "minimum_spend": major(r.input.minimum_spend_minor, currency),
        "active": r.input.active,
        "redeemed_count": r.redeemed_count,
        "created_at": rfc(r.created_at),
        "updated_at": rfc(r.updated_at),
    })
}

fn discount_view(d: &Discount, currency: Currency) -> Value {
    match d {
        Discount::Fixed { amount } => json!({ "kind": "fixed", "amount": major(*amount, currency) }),
        Discount::Percent { basis_points } => json!({ "kind": "percent", "basis_points": basis_points }),
        Discount::FreeShipping => json!({ "kind": "free_shipping" }),
        Discount::FreeProduct { sku } => json!({ "kind": "free_product", "sku": sku }),
        Discount::Gift { description } => json!({ "kind": "gift", "description": description }),
    }
}

/// The loyalty program's rules.
#[utoipa::path(get, path = "/api/v1/loyalty/program", tag = "loyalty",
    responses((status = 200, description = "The program (turned off until set)")))]
pub async fn get_program(State(state): State<AppState>, ApiStore(store): ApiStore) -> ApiResult<Json<Value>> {
    let record = state.db.loyalty_program(store.id).await?;
    Ok(Json(json!({
        "program": record.program,
        "earning_since": record.earning_since.map(|t| t.to_rfc3339()),
        "updated_at": record.updated_at.map(|t| t.to_rfc3339()),
        "updated_by": record.updated_by,
    })))
}

/// Replace the program's rules. Refused (422, naming the field) when they cannot run;
/// nothing is changed then. Amounts are minor units (`per_minor`, `*_minor`).
#[utoipa::path(put, path = "/api/v1/loyalty/program", tag = "loyalty",
    request_body(content = Object, description = "The program: see the README's loyalty section"),
    responses((status = 200, description = "Saved"), (status = 422, body = Problem)))]
pub async fn put_program(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let program = match std::str::from_utf8(&body)
        .map_err(|_| FieldError::new("program", "invalid_program", "the body is not UTF-8"))
        .and_then(Program::from_json)
    {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let id = store.id;
    run_write(
        &state,
        &store,
        &headers,
        "PUT /api/v1/loyalty/program",
        &body,
        move |tx| {
            Box::pin(async move {
                let record = tx.set_loyalty_program(id, &program, ACTOR_API).await?;
                Ok(Reply::new(
                    StatusCode::OK,
                    json!({
                        "program": record.program,
                        "earning_since": record.earning_since.map(|t| t.to_rfc3339()),
                        "updated_at": record.updated_at.map(|t| t.to_rfc3339()),
                    }),
                ))
            })
        },
    )
    .await
}

/// A member's points, tier, lots and recent entries.
#[utoipa::path(get, path = "/api/v1/customers/{id}/loyalty", tag = "loyalty",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, description = "Balance, tier and history"), (status = 404, body = Problem)))]
pub async fn get_member(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let customer = customer_id(&id)?;
    state.db.customer(store.id, customer).await?;
    let now = Timestamp::now();
    let program = state.db.loyalty_program(store.id).await?.program;
    let member = state.db.loyalty_member(store.id, customer, now).await?;
    Ok(Json(member_view(&member, &program, store.currency, now)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// The `next_cursor` of the previous page.
    pub before: Option<String>,
    /// 1 to 500, default 100.
    pub limit: Option<u64>,
}

/// A member's ledger entries, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/loyalty/entries", tag = "loyalty",
    params(("id" = String, Path, description = "Customer id"), EntriesQuery),
    responses((status = 200, description = "Entries and next_cursor"), (status = 404, body = Problem)))]
pub async fn list_entries(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    q: Result<Query<EntriesQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.body_text()))?;
    let customer = customer_id(&id)?;
    state.db.customer(store.id, customer).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let entries = state
        .db
        .points_history(store.id, customer, q.before.as_deref(), limit)
        .await?;
    let next = (entries.len() as u64 == limit).then(|| entries.last().map(|e| e.id.clone()));
    Ok(Json(json!({
        "items": entries.iter().map(entry_view).collect::<Vec<_>>(),
        "next_cursor": next.flatten(),
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBody {
    /// Positive credits, negative debits.
    pub points: i64,
    /// Why (required; kept on the entry).
    pub reason: String,
}

/// Credit or debit a member's points by hand, with a reason.
#[utoipa::path(post, path = "/api/v1/customers/{id}/loyalty/adjustments", tag = "loyalty",
    params(("id" = String, Path, description = "Customer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body = AdjustmentBody,
    responses((status = 201, description = "The entry"), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn adjust(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (customer, input) = match customer_and_body::<AdjustmentBody>(&id, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    let line = format!("POST /api/v1/customers/{id}/loyalty/adjustments");
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            let entry = tx
                .adjust_points(
                    &record,
                    customer,
                    input.points,
                    &input.reason,
                    ACTOR_API,
                    Timestamp::now(),
                )
                .await?;
            Ok(Reply::new(StatusCode::CREATED, entry_view(&entry)))
        })
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedemptionBody {
    /// Points to spend (with `reason`), for a discount the shop gives itself…
    pub points: Option<i64>,
    pub reason: Option<String>,
    /// …or a reward from the catalog, which mints its coupon.
    pub reward_id: Option<String>,
}

/// Spend a member's points: a number of points, or a reward from the catalog (which answers
/// with its coupon code). 409 `insufficient_points` when the balance is short; nothing is
/// written then.
#[utoipa::path(post, path = "/api/v1/customers/{id}/loyalty/redemptions", tag = "loyalty",
    params(("id" = String, Path, description = "Customer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body = RedemptionBody,
    responses((status = 201, description = "The entry, or the redemption with its coupon"),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn redeem(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (customer, input) = match customer_and_body::<RedemptionBody>(&id, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if input.points.is_some() == input.reward_id.is_some() {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "points_or_reward",
            "send either points (with a reason) or a reward_id",
        )
        .field("reward_id")
        .into_response();
    }
    let record = store.clone();
    let line = format!("POST /api/v1/customers/{id}/loyalty/redemptions");
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            let now = Timestamp::now();
            if let Some(reward) = input.reward_id {
                let r = tx
                    .redeem_reward(&record, customer, &reward, ACTOR_API, now)
                    .await?;
                return Ok(Reply::new(
                    StatusCode::CREATED,
                    json!({
                        "id": r.id,
                        "reward_id": r.reward_id,
                        "points": r.points,
                        "coupon_code": r.coupon_code,
                        "created_at": rfc(r.created_at),
                    }),
                ));
            }
            let points = input.points.unwrap_or_default();
            let reason = input.reason.unwrap_or_default();
            let entry = tx
                .spend_points(&record, customer, points, &reason, ACTOR_API, now)
                .await?;
            Ok(Reply::new(StatusCode::CREATED, entry_view(&entry)))
        })
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    pub points: i64,
    /// 1 to 86,400 seconds.
    pub ttl_seconds: i64,
    pub reason: String,
}

fn hold_view(h: &regulars_store::HoldRecord) -> Value {
    json!({
        "id": h.id,
        "customer_id": h.customer_id,
        "points": h.points,
        "state": h.state,
        "reason": h.reason,
        "expires_at": rfc(h.expires_at),
        "created_at": rfc(h.created_at),
        "settled_at": h.settled_at.map(rfc),
    })
}

/// Reserve points at checkout; capture or release the hold later (or let it expire).
#[utoipa::path(post, path = "/api/v1/customers/{id}/loyalty/holds", tag = "loyalty",
    params(("id" = String, Path, description = "Customer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body = HoldBody,
    responses((status = 201, description = "The hold"), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_hold(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (customer, input) = match customer_and_body::<HoldBody>(&id, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    let line = format!("POST /api/v1/customers/{id}/loyalty/holds");
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            let hold = tx
                .hold_points(
                    &record,
                    customer,
                    input.points,
                    input.ttl_seconds,
                    &input.reason,
                    ACTOR_API,
                    Timestamp::now(),
                )
                .await?;
            Ok(Reply::new(StatusCode::CREATED, hold_view(&hold)))
        })
    })
    .await
}

/// Spend a hold's points (once; 409 `hold_already_settled` or `hold_expired`).
#[utoipa::path(post, path = "/api/v1/loyalty/holds/{id}/capture", tag = "loyalty",
    params(("id" = String, Path, description = "Hold id")),
    responses((status = 200, description = "The hold"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn capture_hold(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    settle_hold(state, store, id, headers, body, true).await
}

/// Give a hold's points back (once; 409 `hold_already_settled`).
#[utoipa::path(post, path = "/api/v1/loyalty/holds/{id}/release", tag = "loyalty",
    params(("id" = String, Path, description = "Hold id")),
    responses((status = 200, description = "The hold"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn release_hold(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    settle_hold(state, store, id, headers, body, false).await
}

async fn settle_hold(
    state: AppState,
    store: StoreRecord,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    capture: bool,
) -> Response {
    let record = store.clone();
    let line = format!(
        "POST /api/v1/loyalty/holds/{id}/{}",
        if capture { "capture" } else { "release" }
    );
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            let now = Timestamp::now();
            let hold = if capture {
                tx.capture_hold(&record, &id, ACTOR_API, now).await?
            } else {
                tx.release_hold(&record, &id, ACTOR_API, now).await?
            };
            Ok(Reply::new(StatusCode::OK, hold_view(&hold)))
        })
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// `{"kind": "review"}`, `{"kind": "sign_up"}`, `{"kind": "custom", "name": "app_install"}` …
    #[schema(value_type = Object)]
    pub action: Action,
    /// What was acted on (a review id): the same reference never earns twice.
    pub reference: Option<String>,
}

/// Earn the points an action's rule gives (within its cap). Answers what was earned or why
/// nothing was (`skipped`: program_off, no_rule, cap_reached, already_earned).
#[utoipa::path(post, path = "/api/v1/customers/{id}/loyalty/actions", tag = "loyalty",
    params(("id" = String, Path, description = "Customer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body = ActionBody,
    responses((status = 201, description = "Earned"), (status = 200, description = "Nothing earned, with why"),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn record_action(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (customer, input) = match customer_and_body::<ActionBody>(&id, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    let line = format!("POST /api/v1/customers/{id}/loyalty/actions");
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            let out = tx
                .earn_for_action(
                    &record,
                    customer,
                    &input.action,
                    input.reference.as_deref(),
                    ACTOR_API,
                    Timestamp::now(),
                )
                .await?;
            let status = if out.entry_id.is_some() {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(Reply::new(status, out))
        })
    })
    .await
}

/// The rewards catalog.
#[utoipa::path(get, path = "/api/v1/loyalty/rewards", tag = "loyalty",
    responses((status = 200, description = "Rewards, cheapest first")))]
pub async fn list_rewards(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
) -> ApiResult<Json<Value>> {
    let rewards = state.db.rewards(store.id, false).await?;
    Ok(Json(json!({
        "items": rewards.iter().map(|r| reward_view(r, store.currency)).collect::<Vec<_>>(),
    })))
}

#[utoipa::path(get, path = "/api/v1/loyalty/rewards/{id}", tag = "loyalty",
    params(("id" = String, Path, description = "Reward id")),
    responses((status = 200, description = "The reward"), (status = 404, body = Problem)))]
pub async fn get_reward(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let reward = state.db.reward(store.id, &id).await?;
    Ok(Json(reward_view(&reward, store.currency)))
}

/// A reward as the API takes it: money as decimal strings in the store's currency.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardBody {
    pub name: String,
    pub description: Option<String>,
    /// `{"kind": "fixed", "amount": "100.00"}`, `{"kind": "percent", "basis_points": 1000}`,
    /// `{"kind": "free_shipping"}`, `{"kind": "free_product", "sku": "…"}`, `{"kind": "gift", "description": "…"}`.
    #[schema(value_type = Object)]
    pub discount: Value,
    pub points_cost: i64,
    pub min_tier: Option<String>,
    pub per_customer_limit: Option<i64>,
    pub stock: Option<i64>,
    pub coupon_valid_days: Option<i64>,
    pub minimum_spend: Option<String>,
    pub active: Option<bool>,
}

fn discount_input(v: &Value, currency: Currency) -> Result<Discount, FieldError> {
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
    let text = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                FieldError::new(
                    format!("discount.{name}"),
                    "required",
                    format!("give the discount's {name}"),
                )
            })
    };
    Ok(match kind {
        "fixed" => Discount::Fixed {
            amount: Money::parse_major(&text("amount")?, currency)
                .map_err(|e| e.at("discount.amount"))?
                .minor,
        },
        "percent" => Discount::Percent {
            basis_points: v.get("basis_points").and_then(Value::as_i64).ok_or_else(|| {
                FieldError::new(
                    "discount.basis_points",
                    "required",
                    "give the discount in basis points",
                )
            })?,
        },
        "free_shipping" => Discount::FreeShipping,
        "free_product" => Discount::FreeProduct { sku: text("sku")? },
        "gift" => Discount::Gift {
            description: text("description")?,
        },
        _ => {
            return Err(FieldError::new(
                "discount.kind",
                "invalid_discount",
                "kind is fixed, percent, free_shipping, free_product or gift",
            ))
        }
    })
}

impl RewardBody {
    fn into_input(self, currency: Currency) -> Result<RewardInput, FieldError> {
        let input = RewardInput {
            discount: discount_input(&self.discount, currency)?,
            name: self.name,
            description: self.description,
            points_cost: self.points_cost,
            min_tier: self.min_tier,
            per_customer_limit: self.per_customer_limit,
            stock: self.stock,
            coupon_valid_days: self.coupon_valid_days,
            minimum_spend_minor: match self.minimum_spend {
                Some(s) => {
                    Money::parse_major(&s, currency)
                        .map_err(|e| e.at("minimum_spend"))?
                        .minor
                }
                None => 0,
            },
            active: self.active.unwrap_or(true),
        };
        input.validate()?;
        Ok(input)
    }
}

/// Add a reward to the catalog.
#[utoipa::path(post, path = "/api/v1/loyalty/rewards", tag = "loyalty", request_body = RewardBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 201, description = "The reward"), (status = 422, body = Problem)))]
pub async fn create_reward(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = match parse_json::<RewardBody>(&body).and_then(|b| Ok(b.into_input(store.currency)?)) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let (id, currency) = (store.id, store.currency);
    run_write(
        &state,
        &store,
        &headers,
        "POST /api/v1/loyalty/rewards",
        &body,
        move |tx| {
            Box::pin(async move {
                let reward = tx.create_reward(id, &input).await?;
                Ok(Reply::new(StatusCode::CREATED, reward_view(&reward, currency)))
            })
        },
    )
    .await
}

/// Replace a reward's terms (stock included).
#[utoipa::path(put, path = "/api/v1/loyalty/rewards/{id}", tag = "loyalty", request_body = RewardBody,
    params(("id" = String, Path, description = "Reward id")),
    responses((status = 200, description = "The reward"), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_reward(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(reward): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = match parse_json::<RewardBody>(&body).and_then(|b| Ok(b.into_input(store.currency)?)) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let (id, currency) = (store.id, store.currency);
    let line = format!("PUT /api/v1/loyalty/rewards/{reward}");
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            let reward = tx.update_reward(id, &reward, &input).await?;
            Ok(Reply::new(StatusCode::OK, reward_view(&reward, currency)))
        })
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartLineBody {
    pub product_id: Option<String>,
    pub sku: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub quantity: i64,
    /// One unit's price, a decimal string in the cart's currency.
    pub unit_price: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartBody {
    /// ISO 4217; the store's currency when left out.
    pub currency: Option<String>,
    pub lines: Vec<CartLineBody>,
    /// The shipping the shop would charge, a decimal string.
    pub shipping: Option<String>,
}

impl CartBody {
    pub fn into_cart(self, store_currency: Currency) -> Result<Cart, FieldError> {
        let currency = match &self.currency {
            Some(c) => Currency::parse(c).map_err(|e| e.at("cart.currency"))?,
            None => store_currency,
        };
        let mut lines = Vec::with_capacity(self.lines.len());
        for (i, l) in self.lines.into_iter().enumerate() {
            lines.push(CartLine {
                unit_price: Money::parse_major(&l.unit_price, currency)
                    .map_err(|e| e.at(format!("cart.lines[{i}].unit_price")))?
                    .minor,
                product_id: l.product_id,
                sku: l.sku,
                category: l.category,
                tags: l.tags,
                quantity: l.quantity,
            });
        }
        let shipping = match &self.shipping {
            Some(s) => {
                Money::parse_major(s, currency)
                    .map_err(|e| e.at("cart.shipping"))?
                    .minor
            }
            None => 0,
        };
        let cart = Cart {
            currency,
            lines,
            shipping,
        };
        cart.validate()?;
        Ok(cart)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PerksBody {
    /// The shopper, when known (a guest gets the store-wide perks).
    pub customer_id: Option<String>,
    pub cart: CartBody,
}

#[derive(Serialize)]
struct PerkDiscountView {
    source: String,
    name: String,
    discount: Value,
    amount: String,
}

/// What applies at checkout now for this shopper and cart: free or flat-rate shipping (by
/// cut-off or tier), the tier's standing discount, the birthday discount inside its window,
/// offers for their audience (returning customers included), and the rewards their points
/// afford.
#[utoipa::path(post, path = "/api/v1/perks", tag = "loyalty", request_body = PerksBody,
    responses((status = 200, description = "Shipping, discounts, points and affordable rewards"),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn perks(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let input = parse_json::<PerksBody>(&body)?;
    let cart = input.cart.into_cart(store.currency)?;
    if cart.currency != store.currency {
        return Err(FieldError::new(
            "cart.currency",
            "currency_mismatch",
            format!("this store prices in {}", store.currency.code()),
        )
        .into());
    }
    let now = Timestamp::now();
    let program = state.db.loyalty_program(store.id).await?.program;
    let today = now.to_datetime().with_timezone(&store.timezone.0).date_naive();
    let (customer, member) = match &input.customer_id {
        Some(raw) => {
            let id = customer_id(raw).map_err(|e| e.field("customer_id"))?;
            let c = state.db.customer(store.id, id).await?;
            let m = state.db.loyalty_member(store.id, id, now).await?;
            (Some(c), Some(m))
        }
        None => (None, None),
    };
    let tier = member.as_ref().and_then(|m| m.tier.clone());
    let shopper = Shopper {
        tier: tier.as_ref(),
        orders_count: customer.as_ref().map(|c| c.orders_count).unwrap_or(0),
        birthday: customer.as_ref().and_then(|c| c.birthday),
        today,
    };
    let got = if program.enabled {
        loyalty::perks(&program, &shopper, &cart)
    } else {
        loyalty::Perks {
            shipping: loyalty::ShippingOffer::None,
            discounts: vec![],
        }
    };
    let shipping = match &got.shipping {
        loyalty::ShippingOffer::None => json!({ "kind": "none" }),
        loyalty::ShippingOffer::Free { reason } => {
            json!({ "kind": "free", "reason": reason, "amount": major(0, store.currency) })
        }
        loyalty::ShippingOffer::Flat { amount, reason } => {
            json!({ "kind": "flat", "reason": reason, "amount": major(*amount, store.currency) })
        }
    };
    let discounts: Vec<PerkDiscountView> = got
        .discounts
        .iter()
        .map(|d| PerkDiscountView {
            source: d.source.clone(),
            name: d.name.clone(),
            discount: discount_view(&d.discount, store.currency),
            amount: major(d.amount, store.currency),
        })
        .collect();
    let available = member.as_ref().map(|m| m.balance.available).unwrap_or(0);
    let rewards: Vec<Value> = if program.enabled && member.is_some() {
        state
            .db
            .rewards(store.id, true)
            .await?
            .iter()
            .filter(|r| r.input.points_cost <= available && r.input.stock != Some(0))
            .filter(|r| match (&r.input.min_tier, &tier) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(min), Some(t)) => {
                    t.id == *min
                        || program
                            .tiers
                            .is_promotion(Some(min.as_str()), Some(t.id.as_str()))
                }
            })
            .map(|r| reward_view(r, store.currency))
            .collect()
    } else {
        vec![]
    };
    Ok(Json(json!({
        "program_enabled": program.enabled,
        "currency": store.currency.code(),
        "subtotal": major(cart.subtotal(), store.currency),
        "shipping": shipping,
        "discounts": discounts,
        "points": {
            "available": available,
            "value": major(program.points_value_minor(available), store.currency),
        },
        "tier": tier.as_ref().map(|t| json!({ "id": t.id, "name": t.name })),
        "rewards": rewards,
    })))
}

/// Outstanding points and what they are worth.
#[utoipa::path(get, path = "/api/v1/loyalty/reports/liability", tag = "loyalty",
    responses((status = 200, description = "Points liability")))]
pub async fn liability(State(state): State<AppState>, ApiStore(store): ApiStore) -> ApiResult<Json<Value>> {
    let l = state.db.loyalty_liability(store.id, Timestamp::now()).await?;
    Ok(Json(json!({
        "available_points": l.available_points,
        "pending_points": l.pending_points,
        "members_with_points": l.members_with_points,
        "value": major(l.value_minor, store.currency),
        "currency": store.currency.code(),
        "expiring_within_30_days": l.expiring_30_days,
    })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// RFC 3339; default 30 days ago.
    pub from: Option<String>,
    /// RFC 3339; default now.
    pub to: Option<String>,
}

/// Redemptions per reward over a period.
#[utoipa::path(get, path = "/api/v1/loyalty/reports/redemptions", tag = "loyalty", params(PeriodQuery),
    responses((status = 200, description = "Per reward: redemptions and points"), (status = 422, body = Problem)))]
pub async fn redemption_report(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    q: Result<Query<PeriodQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.body_text()))?;
    let now = Timestamp::now();
    let parse = |v: &Option<String>, field: &str, default: Timestamp| -> ApiResult<Timestamp> {
        match v {
            Some(s) => Ok(Timestamp::parse_rfc3339(s).map_err(|e| e.at(field))?),
            None => Ok(default),
        }
    };
    let from = parse(&q.from, "from", Timestamp(now.0 - 30 * 86_400_000))?;
    let to = parse(&q.to, "to", now)?;
    let rows = state.db.redemption_report(store.id, from, to).await?;
    Ok(Json(
        json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339(), "rewards": rows }),
    ))
}

/// Points expired in each of the last six 30-day periods and expiring in each of the next six.
#[utoipa::path(get, path = "/api/v1/loyalty/reports/expiry", tag = "loyalty",
    responses((status = 200, description = "Expired and expiring points per period")))]
pub async fn expiry_report(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
) -> ApiResult<Json<Value>> {
    let rows = state.db.expiry_report(store.id, Timestamp::now(), 6).await?;
    Ok(Json(json!({
        "periods": rows.iter().map(|r| json!({ "from": rfc(r.from), "expired": r.expired, "expiring": r.expiring }))
            .collect::<Vec<_>>(),
    })))
}

/// The ledger's consistency check (also `regulars check`): every kept figure recomputed from
/// the entries; `drift` lists what does not agree.
#[utoipa::path(get, path = "/api/v1/loyalty/check", tag = "loyalty",
    responses((status = 200, description = "Totals and drift")))]
pub async fn check(State(state): State<AppState>, ApiStore(store): ApiStore) -> ApiResult<Json<Value>> {
    let c = state.db.check_loyalty(store.id).await?;
    Ok(Json(json!({
        "clean": c.is_clean(),
        "entries": c.entries,
        "lots": c.lots,
        "outstanding_points": c.outstanding_points,
        "accounts": c.accounts.iter().map(|(a, v)| json!({ "account": a, "balance": v })).collect::<Vec<_>>(),
        "drift": c.drift,
    })))
}

/// The loyalty routes, under `/api/v1`.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/loyalty/program", get(get_program).put(put_program))
        .route("/loyalty/rewards", get(list_rewards).post(create_reward))
        .route("/loyalty/rewards/{id}", get(get_reward).put(update_reward))
        .route("/loyalty/holds/{id}/capture", post(capture_hold))
        .route("/loyalty/holds/{id}/release", post(release_hold))
        .route("/loyalty/reports/liability", get(liability))
        .route("/loyalty/reports/redemptions", get(redemption_report))
        .route("/loyalty/reports/expiry", get(expiry_report))
        .route("/loyalty/check", get(check))
        .route("/customers/{id}/loyalty", get(get_member))
        .route("/customers/{id}/loyalty/entries", get(list_entries))
        .route("/customers/{id}/loyalty/adjustments", post(adjust))
        .route("/customers/{id}/loyalty/redemptions", post(redeem))
        .route("/customers/{id}/loyalty/holds", post(create_hold))
        .route("/customers/{id}/loyalty/actions", post(record_action))
        .route("/perks", post(perks))
}
