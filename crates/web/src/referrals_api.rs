//! The referral program over the JSON API: the program's settings, an advocate's code with
//! their share link, the referrals with the fraud findings behind each decision, the review
//! queue, the job that settles referrals whose return window ended, the advocates report, and
//! partners with their commissions and payouts. Money in responses is a decimal string beside
//! its currency (with the minor units beside it); the program's own settings keep the domain's
//! minor units.

use std::collections::BTreeMap;
use std::future::Future;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use regulars_domain::referral::{Finding, ReferralProgram};
use regulars_domain::{Currency, CustomerId, Discount, FieldError, Timestamp};
use regulars_store::{
    AdvocateRow, Claim, CommissionRecord, Decision, PartnerInput, PartnerRecord, PartnerScope,
    PartnerSummary, PayoutRecord, PayoutRow, ReferralCursor, ReferralFilter, ReferralRecord, ReferralStatus,
    StoreRecord, StoredReply,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::api::path_id;
use crate::auth::ApiStore;
use crate::body::parse_json;
use crate::error::{ApiError, ApiResult, Problem};
use crate::loyalty_page::base_url;
use crate::views::{major, Page};
use crate::write::{run_write, Reply};
use crate::AppState;

const ACTOR_API: &str = "api_key";
const DAY_MS: i64 = 86_400_000;

/// The referral routes, under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/referrals/program",
            get(get_referral_program).put(put_referral_program),
        )
        .route("/referrals", get(list_referrals))
        .route("/referrals/run", post(run_referrals))
        .route("/referrals/report", get(referrals_report))
        .route("/referrals/{id}", get(get_referral))
        .route("/referrals/{id}/decision", post(decide_referral))
        .route("/customers/{id}/referral", get(customer_referral_code))
        .route("/customers/{id}/referrals", get(customer_referrals))
        .route("/partners", get(list_partners))
        .route("/partners/payouts", get(payout_report))
        .route("/partners/payouts.csv", get(payout_report_csv))
        .route(
            "/partners/{customer_id}",
            put(put_partner).get(get_partner).delete(end_partner),
        )
        .route("/partners/{customer_id}/payouts", post(pay_partner))
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn rfc(t: Timestamp) -> String {
    t.to_rfc3339()
}

fn customer_id(raw: &str) -> ApiResult<CustomerId> {
    path_id(raw, CustomerId::parse, "customer")
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.body_text()))
}

fn time(value: Option<&str>, field: &str) -> Result<Option<Timestamp>, FieldError> {
    value
        .map(|s| Timestamp::parse_rfc3339(s).map_err(|e| e.at(field)))
        .transpose()
}

/// A customer of the caller's store, or 404 (another store's customer is simply not here).
async fn own_customer(state: &AppState, store: &StoreRecord, raw: &str) -> ApiResult<CustomerId> {
    let customer = customer_id(raw)?;
    state.db.customer(store.id, customer).await?;
    Ok(customer)
}

/// An optional JSON body: nothing (or `null`) takes the defaults.
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    Ok(parse_json::<Option<T>>(body)?.unwrap_or_default())
}

fn respond(status: StatusCode, body: String, replayed: bool) -> Response {
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Runs a write the store makes in transactions of its own, once per `Idempotency-Key`: the
/// key is claimed first (in flight), the effect runs, then its reply (or its refusal) is kept
/// under the key; a server error gives the key back so a retry runs afresh. Answers exactly as
/// [`run_write`] does for replays, requests in flight and reused keys.
async fn run_once<F>(
    state: &AppState,
    store: &StoreRecord,
    headers: &HeaderMap,
    request_line: &str,
    body: &[u8],
    effect: F,
) -> Response
where
    F: Future<Output = ApiResult<Reply>>,
{
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.trim().is_empty() && k.len() <= 255 => Some(k.trim().to_string()),
        Some(_) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .field("Idempotency-Key")
            .into_response()
        }
    };
    let Some(key) = key else {
        return match effect.await {
            Ok(reply) => respond(reply.status, reply.body.to_string(), false),
            Err(e) => e.into_response(),
        };
    };
    let mut hasher = Sha256::new();
    hasher.update(request_line.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    let request_hash = hex::encode(hasher.finalize());
    match state
        .db
        .claim_idempotency_key(store.id, &key, &request_hash)
        .await
    {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Owned) => match effect.await {
            Ok(reply) => {
                let stored = StoredReply {
                    status: reply.status.as_u16(),
                    body: reply.body.to_string(),
                };
                if let Err(e) = state.db.complete_idempotency_key(store.id, &key, &stored).await {
                    tracing::error!(error = %e, "could not keep the reply of an idempotent write");
                }
                respond(reply.status, stored.body, false)
            }
            // A refusal is an answer too: the same request must get it again.
            Err(e) if e.status.is_client_error() => {
                let stored = StoredReply {
                    status: e.status.as_u16(),
                    body: e.body(),
                };
                if let Err(err) = state.db.complete_idempotency_key(store.id, &key, &stored).await {
                    tracing::error!(error = %err, "could not keep an idempotent refusal");
                }
                e.into_response()
            }
            Err(e) => {
                if let Err(err) = state.db.release_idempotency_key(store.id, &key).await {
                    tracing::error!(error = %err, "could not release an idempotency key");
                }
                e.into_response()
            }
        },
        Ok(Claim::Replay(stored)) => {
            metrics::counter!("regulars_idempotent_replays_total").increment(1);
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            respond(status, stored.body, true)
        }
        Ok(Claim::InFlight) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_in_flight",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .into_response(),
        Ok(Claim::Mismatch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
        .field("Idempotency-Key")
        .into_response(),
    }
}

/// Letters and digits, `-`, `.`, `_` and `~` as they are; every other byte as `%XX` (spaces
/// too: `mailto:` and `sms:` links do not read `+` as a space).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Basis points as a percentage: 1000 → `10`, 1250 → `12.5`.
fn percent(basis_points: i64) -> String {
    let whole = basis_points / 100;
    match basis_points % 100 {
        0 => whole.to_string(),
        r if r % 10 == 0 => format!("{whole}.{}", r / 10),
        r => format!("{whole}.{r:02}"),
    }
}

/// What the friend gets, in a few English words.
fn offer(discount: &Discount, currency: Currency) -> String {
    match discount {
        Discount::Percent { basis_points } => format!("{}% off your first order", percent(*basis_points)),
        Discount::Fixed { amount } => {
            format!(
                "{} {} off your first order",
                major(*amount, currency),
                currency.code()
            )
        }
        Discount::FreeShipping => "free shipping on your first order".into(),
        Discount::FreeProduct { .. } | Discount::Gift { .. } => "a gift with your first order".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Views

/// One fraud rule that matched a referral.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingView {
    /// self_referral, same_email, similar_email, same_phone, same_address, same_payment,
    /// existing_customer, burst or velocity.
    pub rule: String,
    /// What the rule did: allow, review or reject.
    pub action: String,
    /// The facts behind it (counts and which signal matched, never the data itself).
    pub detail: String,
}

impl From<&Finding> for FindingView {
    fn from(f: &Finding) -> Self {
        let action = serde_json::to_value(f.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        FindingView {
            rule: f.rule.as_str().to_string(),
            action,
            detail: f.detail.clone(),
        }
    }
}

/// A referred friend: who brought them, by which code, where it stands and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralView {
    pub id: String,
    pub advocate_id: String,
    pub friend_id: String,
    pub code: String,
    /// `code` (a discount code at checkout), `link` (the share link's landing page) or
    /// `order` (the shop passed the code with the order).
    pub channel: String,
    /// awaiting_order, pending, review, rewarded, qualified, rejected or cancelled.
    pub status: String,
    /// The friend's qualifying order.
    pub order_id: Option<String>,
    /// Its value when it arrived, a decimal string in the store currency.
    pub order_value: Option<String>,
    pub order_value_minor: Option<i64>,
    pub currency: String,
    /// When the return window ends and the referral can be settled (RFC 3339).
    pub qualifies_at: Option<String>,
    /// Every fraud rule that matched.
    pub findings: Vec<FindingView>,
    /// The rule or the staff note behind the last decision.
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// What the advocate got (`{"kind": "points", "points": 500, …}`), or why nothing
    /// (`{"kind": "none", "skipped": "…"}`).
    #[schema(value_type = Option<Object>)]
    pub advocate_reward: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub friend_reward: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl ReferralView {
    fn new(r: &ReferralRecord, currency: Currency) -> Self {
        ReferralView {
            id: r.id.clone(),
            advocate_id: r.advocate_id.to_string(),
            friend_id: r.friend_id.to_string(),
            code: r.code.clone(),
            channel: r.channel.clone(),
            status: r.status.as_str().to_string(),
            order_id: r.order_id.clone(),
            order_value: r.order_value.map(|v| major(v, currency)),
            order_value_minor: r.order_value,
            currency: currency.code().to_string(),
            qualifies_at: r.qualifies_at.map(rfc),
            findings: r.findings.iter().map(FindingView::from).collect(),
            reason: r.reason.clone(),
            decided_by: r.decided_by.clone(),
            decided_at: r.decided_at.map(rfc),
            advocate_reward: r.advocate_reward.clone(),
            friend_reward: r.friend_reward.clone(),
            created_at: rfc(r.created_at),
            updated_at: rfc(r.updated_at),
        }
    }
}

/// Where to send the share message.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareTargets {
    /// `https://wa.me/?text=…`
    pub whatsapp: String,
    /// `mailto:?subject=…&body=…`
    pub email: String,
    /// `sms:?body=…`
    pub sms: String,
}

/// An advocate's code, share link and how their referrals stand.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralCodeView {
    pub customer_id: String,
    /// The code friends enter at checkout (also a first-order coupon).
    pub code: String,
    /// The share link: `{origin}/r/{store_id}/{code}`.
    pub link: String,
    /// A ready message (English) naming the offer, the code and the link.
    pub message: String,
    pub share: ShareTargets,
    pub created_at: String,
    /// Friends referred, every status.
    pub friends: i64,
    /// Friends per status (every status listed, zeros included).
    #[schema(value_type = Object)]
    pub counts: BTreeMap<String, i64>,
}

/// A customer's side of the program.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerReferralsView {
    /// Their code, when they have one (`GET …/referral` makes it).
    pub code: Option<String>,
    /// Its share link.
    pub link: Option<String>,
    /// The friends they referred, newest first.
    pub referred: Vec<ReferralView>,
    /// The referral that brought them.
    pub referred_by: Option<ReferralView>,
}

/// What one run of the referral job did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralRunView {
    /// The moment it settled as of (RFC 3339).
    pub at: String,
    /// Referrals whose window cleared (rewarded or not).
    pub qualified: u64,
    pub rewarded: u64,
    /// Qualified but the advocate got nothing (a cap, a partner's commission, loyalty off).
    pub unrewarded: u64,
    /// Cancelled by refunds or cancellations made inside the window.
    pub cancelled: u64,
    pub milestones: u64,
    pub commissions_approved: u64,
}

/// A partner's terms.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerView {
    pub customer_id: String,
    /// `active` or `ended`.
    pub status: String,
    /// Commission in basis points of referred revenue (1,000 = 10 %).
    pub basis_points: i64,
    /// first_order or all_orders.
    pub scope: String,
    pub period_days: Option<i64>,
    pub note: Option<String>,
    pub invited_by: String,
    pub invited_at: String,
    pub updated_at: String,
}

fn scope_name(scope: PartnerScope) -> String {
    match scope {
        PartnerScope::FirstOrder => "first_order".into(),
        PartnerScope::AllOrders => "all_orders".into(),
    }
}

impl From<&PartnerRecord> for PartnerView {
    fn from(p: &PartnerRecord) -> Self {
        PartnerView {
            customer_id: p.customer_id.to_string(),
            status: p.status.clone(),
            basis_points: p.basis_points,
            scope: scope_name(p.scope),
            period_days: p.period_days,
            note: p.note.clone(),
            invited_by: p.invited_by.clone(),
            invited_at: rfc(p.invited_at),
            updated_at: rfc(p.updated_at),
        }
    }
}

/// A partner with their figures: money as decimal strings beside the currency, and in minor
/// units.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerSummaryView {
    #[serde(flatten)]
    pub partner: PartnerView,
    pub name: String,
    pub email: Option<String>,
    pub code: Option<String>,
    pub friends: i64,
    pub currency: String,
    /// Referred revenue that earned commission.
    pub revenue: String,
    pub revenue_minor: i64,
    /// Commission inside the return window.
    pub pending: String,
    pub pending_minor: i64,
    /// Commission owed.
    pub approved: String,
    pub approved_minor: i64,
    pub paid: String,
    pub paid_minor: i64,
}

impl PartnerSummaryView {
    fn new(s: &PartnerSummary, currency: Currency) -> Self {
        PartnerSummaryView {
            partner: PartnerView::from(&s.partner),
            name: s.name.clone(),
            email: s.email.clone(),
            code: s.code.clone(),
            friends: s.friends,
            currency: currency.code().to_string(),
            revenue: major(s.revenue, currency),
            revenue_minor: s.revenue,
            pending: major(s.pending, currency),
            pending_minor: s.pending,
            approved: major(s.approved, currency),
            approved_minor: s.approved,
            paid: major(s.paid, currency),
            paid_minor: s.paid,
        }
    }
}

/// One row of a partner's commission ledger (a reversal is negative).
#[derive(Debug, Serialize, ToSchema)]
pub struct CommissionView {
    pub id: String,
    pub referral_id: String,
    pub order_id: String,
    /// `earned` or `reversal`.
    pub kind: String,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The revenue it was earned on.
    pub revenue: String,
    pub revenue_minor: i64,
    pub basis_points: i64,
    /// pending (inside the window), approved (owed) or paid.
    pub status: String,
    pub approves_at: String,
    pub payout_id: Option<String>,
    pub created_at: String,
}

impl From<&CommissionRecord> for CommissionView {
    fn from(c: &CommissionRecord) -> Self {
        let status = serde_json::to_value(c.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        CommissionView {
            id: c.id.clone(),
            referral_id: c.referral_id.clone(),
            order_id: c.order_id.clone(),
            kind: c.kind.clone(),
            amount: major(c.amount, c.currency),
            amount_minor: c.amount,
            currency: c.currency.code().to_string(),
            revenue: major(c.revenue, c.currency),
            revenue_minor: c.revenue,
            basis_points: c.basis_points,
            status,
            approves_at: rfc(c.approves_at),
            payout_id: c.payout_id.clone(),
            created_at: rfc(c.created_at),
        }
    }
}

/// A payout to a partner.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutView {
    pub id: String,
    pub partner_id: String,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    /// Commission rows it settled.
    pub entries: i64,
    /// The bank or payment reference staff gave.
    pub reference: Option<String>,
    pub paid_by: String,
    pub paid_at: String,
}

impl From<&PayoutRecord> for PayoutView {
    fn from(p: &PayoutRecord) -> Self {
        PayoutView {
            id: p.id.clone(),
            partner_id: p.partner_id.to_string(),
            amount: major(p.amount, p.currency),
            amount_minor: p.amount,
            currency: p.currency.code().to_string(),
            entries: p.entries,
            reference: p.reference.clone(),
            paid_by: p.paid_by.clone(),
            paid_at: rfc(p.paid_at),
        }
    }
}

/// A partner, their commission ledger and their payouts.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerDetailView {
    #[serde(flatten)]
    pub summary: PartnerSummaryView,
    /// Newest first.
    pub commissions: Vec<CommissionView>,
    pub payouts: Vec<PayoutView>,
}

/// One partner's line of the payout report.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutRowView {
    pub partner_id: String,
    pub name: String,
    pub email: Option<String>,
    pub code: Option<String>,
    pub basis_points: i64,
    pub pending: String,
    pub pending_minor: i64,
    /// Approved and not yet paid.
    pub owed: String,
    pub owed_minor: i64,
    pub paid: String,
    pub paid_minor: i64,
    pub last_paid_at: Option<String>,
}

impl PayoutRowView {
    fn new(r: &PayoutRow, currency: Currency) -> Self {
        PayoutRowView {
            partner_id: r.partner_id.to_string(),
            name: r.name.clone(),
            email: r.email.clone(),
            code: r.code.clone(),
            basis_points: r.basis_points,
            pending: major(r.pending, currency),
            pending_minor: r.pending,
            owed: major(r.owed, currency),
            owed_minor: r.owed,
            paid: major(r.paid, currency),
            paid_minor: r.paid,
            last_paid_at: r.last_paid_at.map(rfc),
        }
    }
}

/// What every partner is owed and was paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutReportView {
    pub currency: String,
    pub partners: Vec<PayoutRowView>,
    /// Every payout made, newest first.
    pub payouts: Vec<PayoutView>,
}

/// One advocate's line of the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdvocateRowView {
    pub customer_id: String,
    pub name: String,
    pub code: Option<String>,
    pub is_partner: bool,
    /// Friends referred (every status), and those qualified or rewarded, and rejected.
    pub friends: i64,
    pub qualified: i64,
    pub rejected: i64,
    /// What the friends spent (net of refunds) and their predicted 12-month value.
    pub friends_revenue: String,
    pub friends_revenue_minor: i64,
    pub friends_clv: String,
    pub friends_clv_minor: i64,
    pub own_revenue: String,
    pub own_revenue_minor: i64,
    pub own_clv: String,
    pub own_clv_minor: i64,
    /// Rewards, friends' discounts and commissions this advocate's referrals cost.
    pub cost: String,
    pub cost_minor: i64,
}

impl AdvocateRowView {
    fn new(a: &AdvocateRow, currency: Currency) -> Self {
        AdvocateRowView {
            customer_id: a.customer_id.to_string(),
            name: a.name.clone(),
            code: a.code.clone(),
            is_partner: a.is_partner,
            friends: a.friends,
            qualified: a.qualified,
            rejected: a.rejected,
            friends_revenue: major(a.friends_revenue, currency),
            friends_revenue_minor: a.friends_revenue,
            friends_clv: major(a.friends_clv, currency),
            friends_clv_minor: a.friends_clv,
            own_revenue: major(a.own_revenue, currency),
            own_revenue_minor: a.own_revenue,
            own_clv: major(a.own_clv, currency),
            own_clv_minor: a.own_clv,
            cost: major(a.cost, currency),
            cost_minor: a.cost,
        }
    }
}

/// The advocates report.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdvocatesReportView {
    pub currency: String,
    /// The period of the new-customer figures: [from, to).
    pub from: String,
    pub to: String,
    /// Customers whose first order fell in the period, and those of them who came by referral.
    pub new_customers: i64,
    pub referred_new_customers: i64,
    /// referred_new_customers / new_customers in basis points.
    pub referral_share_bp: i64,
    /// Referrals per status, over all time.
    #[schema(value_type = Object)]
    pub by_status: BTreeMap<String, i64>,
    /// What the whole program cost.
    pub program_cost: String,
    pub program_cost_minor: i64,
    /// Referred new customers × the program's acquisition cost, less the program's cost.
    pub acquisition_cost_saved: String,
    pub acquisition_cost_saved_minor: i64,
    /// Advocates by friends referred, most first.
    pub advocates: Vec<AdvocateRowView>,
}

// ---------------------------------------------------------------------------------------------
// The program

fn program_view(record: &regulars_store::ReferralProgramRecord) -> Value {
    serde_json::json!({
        "program": record.program,
        "updated_at": record.updated_at.map(rfc),
        "updated_by": record.updated_by,
        "run_at": record.run_at.map(rfc),
    })
}

/// The referral program's settings
///
/// `program` is the settings document as `PUT` takes it; every amount in it
/// (`friend_discount.amount`, `friend_minimum_spend`, `min_order_value`, `acquisition_cost`,
/// coupon rewards' `discount.amount` and `minimum_spend`) is integer minor units of the
/// store currency. A store that never set one gets the default program, turned off.
/// `run_at` is when referrals were last settled.
#[utoipa::path(get, path = "/api/v1/referrals/program", tag = "referrals",
    responses((status = 200, description = "`{program, updated_at, updated_by, run_at}`; money in minor units")))]
pub async fn get_referral_program(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
) -> ApiResult<Json<Value>> {
    let record = state.db.referral_program(store.id).await?;
    Ok(Json(program_view(&record)))
}

/// Replace the referral program's settings
///
/// The body is the whole settings document: `enabled`, `eligibility {min_orders, tiers}`,
/// `friend_discount` (`{"kind": "percent", "basis_points": 1000}`, `{"kind": "fixed",
/// "amount": 10000}`, …), `friend_minimum_spend`, `friend_points`, `advocate_reward`
/// (`{"kind": "points", "points": 500}`, `{"kind": "coupon", "discount": {…},
/// "minimum_spend": 0, "valid_days": 30}` or `{"kind": "gift", "reward_id": "…"}`),
/// `min_order_value`, `return_window_days` (default 14), `milestones [{friends, reward}]`,
/// `advocate_cap {count, period}`, `fraud` (each rule `allow`, `review` or `reject`, with
/// `burst_max`, `burst_hours`, `velocity_max`, `velocity_period`), `acquisition_cost` and
/// `shop_url`. Every amount is integer minor units of the store currency. Refused (422,
/// naming the field) when the settings cannot run; nothing changes then.
#[utoipa::path(put, path = "/api/v1/referrals/program", tag = "referrals",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body(content = Object, description = "The referral program's settings; amounts in minor units of the store currency"),
    responses((status = 200, description = "Saved: `{program, updated_at, updated_by, run_at}`"),
        (status = 422, body = Problem)))]
pub async fn put_referral_program(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let program = match parse_json::<ReferralProgram>(&body)
        .and_then(|p| p.validate().map(|()| p).map_err(ApiError::from))
    {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    run_write(
        &state,
        &store,
        &headers,
        "PUT /api/v1/referrals/program",
        &body,
        move |tx| {
            Box::pin(async move {
                let saved = tx.set_referral_program(&record, &program, ACTOR_API).await?;
                Ok(Reply::new(StatusCode::OK, program_view(&saved)))
            })
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Advocates and referrals

/// An advocate's code and share link
///
/// Makes the code on first ask. Refused with 409 `referrals_off` while the program is off
/// and `not_eligible` when the customer does not meet its eligibility. The share targets
/// carry an English message naming the friend's offer, the code and the link.
#[utoipa::path(get, path = "/api/v1/customers/{id}/referral", tag = "referrals",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = ReferralCodeView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn customer_referral_code(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<ReferralCodeView>> {
    let customer = own_customer(&state, &store, &id).await?;
    let code = state.db.referral_code(&store, customer).await?;
    let program = state.db.referral_program(store.id).await?.program;
    let mine = state.db.customer_referrals(store.id, customer).await?;
    let link = format!("{}/r/{}/{}", base_url(&state, &headers), store.id, code.code);
    let message = format!(
        "Get {} at {} with my code {}: {link}",
        offer(&program.friend_discount, store.currency),
        store.name,
        code.code
    );
    let subject = format!("A gift for your first order at {}", store.name);
    let mut counts: BTreeMap<String, i64> = ReferralStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    for r in &mine.referred {
        *counts.entry(r.status.as_str().to_string()).or_default() += 1;
    }
    Ok(Json(ReferralCodeView {
        customer_id: customer.to_string(),
        share: ShareTargets {
            whatsapp: format!("https://wa.me/?text={}", percent_encode(&message)),
            email: format!(
                "mailto:?subject={}&body={}",
                percent_encode(&subject),
                percent_encode(&message)
            ),
            sms: format!("sms:?body={}", percent_encode(&message)),
        },
        code: code.code,
        link,
        message,
        created_at: rfc(code.created_at),
        friends: mine.referred.len() as i64,
        counts,
    }))
}

/// A customer's referrals: their code, the friends they brought, and who brought them
#[utoipa::path(get, path = "/api/v1/customers/{id}/referrals", tag = "referrals",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = CustomerReferralsView), (status = 404, body = Problem)))]
pub async fn customer_referrals(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<CustomerReferralsView>> {
    let customer = own_customer(&state, &store, &id).await?;
    let mine = state.db.customer_referrals(store.id, customer).await?;
    let link = mine
        .code
        .as_ref()
        .map(|c| format!("{}/r/{}/{}", base_url(&state, &headers), store.id, c.code));
    Ok(Json(CustomerReferralsView {
        code: mine.code.map(|c| c.code),
        link,
        referred: mine
            .referred
            .iter()
            .map(|r| ReferralView::new(r, store.currency))
            .collect(),
        referred_by: mine
            .referred_by
            .as_ref()
            .map(|r| ReferralView::new(r, store.currency)),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReferralListQuery {
    /// awaiting_order, pending, review, rewarded, qualified, rejected or cancelled.
    pub status: Option<String>,
    /// Referrals by this advocate (customer id).
    pub advocate: Option<String>,
    /// The `next_cursor` of the previous page; or an RFC 3339 time for the referrals created
    /// before it.
    pub before: Option<String>,
    /// 1 to 500, default 100.
    pub limit: Option<u32>,
}

/// Referrals, newest first
#[utoipa::path(get, path = "/api/v1/referrals", tag = "referrals", params(ReferralListQuery),
    responses((status = 200, body = Page<ReferralView>), (status = 422, body = Problem)))]
pub async fn list_referrals(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    q: Result<Query<ReferralListQuery>, QueryRejection>,
) -> ApiResult<Json<Page<ReferralView>>> {
    let q = query(q)?;
    // `Db::referrals` holds the limit to 1..=500.
    let limit = q.limit.unwrap_or(100);
    let filter = ReferralFilter {
        status: q.status.as_deref().map(ReferralStatus::parse).transpose()?,
        advocate: q
            .advocate
            .as_deref()
            .map(|a| CustomerId::parse(a).map_err(|e| e.at("advocate")))
            .transpose()?,
        before: q.before.as_deref().map(referral_cursor).transpose()?,
        limit: Some(limit),
    };
    let rows = state.db.referrals(store.id, &filter).await?;
    let next_cursor = (rows.len() == limit as usize)
        .then(|| rows.last().map(|r| ReferralCursor::after(r).to_string()))
        .flatten();
    Ok(Json(Page {
        data: rows
            .iter()
            .map(|r| ReferralView::new(r, store.currency))
            .collect(),
        next_cursor,
    }))
}

/// A page cursor this list gave out, or a time for "created before".
fn referral_cursor(text: &str) -> Result<ReferralCursor, FieldError> {
    match Timestamp::parse_rfc3339(text) {
        Ok(at) => Ok(ReferralCursor::before_time(at)),
        Err(_) => ReferralCursor::parse(text),
    }
}

/// One referral, with the fraud findings behind its decision
#[utoipa::path(get, path = "/api/v1/referrals/{id}", tag = "referrals",
    params(("id" = String, Path, description = "Referral id")),
    responses((status = 200, body = ReferralView), (status = 404, body = Problem)))]
pub async fn get_referral(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
) -> ApiResult<Json<ReferralView>> {
    let r = state.db.referral(store.id, &id).await?;
    Ok(Json(ReferralView::new(&r, store.currency)))
}

/// A decision on a referral held for review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// approve or reject.
    pub decision: String,
    /// Why (kept as the referral's reason; at most 500 characters).
    pub note: Option<String>,
}

/// Approve or reject a referral held for review
///
/// An approved referral waits for its window (or its order) again; a rejected one is final.
/// Only a referral in review can be decided: otherwise 409 `not_in_review`.
#[utoipa::path(post, path = "/api/v1/referrals/{id}/decision", tag = "referrals",
    params(("id" = String, Path, description = "Referral id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body = DecisionBody,
    responses((status = 200, body = ReferralView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn decide_referral(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (decision, note) = match parse_json::<DecisionBody>(&body)
        .and_then(|b| Ok((Decision::parse(&b.decision)?, b.note.unwrap_or_default())))
    {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let line = format!("POST /api/v1/referrals/{id}/decision");
    let effect = async {
        let r = state
            .db
            .decide_referral(&store, &id, decision, &note, ACTOR_API)
            .await?;
        Ok::<_, ApiError>(Reply::new(StatusCode::OK, ReferralView::new(&r, store.currency)))
    };
    run_once(&state, &store, &headers, &line, &body, effect).await
}

/// When to settle as of.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunBody {
    /// RFC 3339; now when left out. Referrals whose return window ended by then are settled.
    pub at: Option<String>,
}

/// Settle referrals now
///
/// Rewards the referrals whose return window ended (within the advocate's cap, with
/// milestone bonuses), cancels those refunded inside the window and approves partners'
/// commissions that are due. Safe to run at any time, by a shop or a cron; each referral
/// moves once. The body is optional.
#[utoipa::path(post, path = "/api/v1/referrals/run", tag = "referrals",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body = Option<RunBody>,
    responses((status = 200, body = ReferralRunView), (status = 422, body = Problem)))]
pub async fn run_referrals(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = match optional_body::<RunBody>(&body).and_then(|b| Ok(time(b.at.as_deref(), "at")?)) {
        Ok(at) => at.unwrap_or_else(Timestamp::now),
        Err(e) => return e.into_response(),
    };
    let effect = async {
        let r = state.db.run_referrals(&store, at).await?;
        Ok::<_, ApiError>(Reply::new(
            StatusCode::OK,
            ReferralRunView {
                at: rfc(at),
                qualified: r.qualified,
                rewarded: r.rewarded,
                unrewarded: r.unrewarded,
                cancelled: r.cancelled,
                milestones: r.milestones,
                commissions_approved: r.commissions_approved,
            },
        ))
    };
    run_once(
        &state,
        &store,
        &headers,
        "POST /api/v1/referrals/run",
        &body,
        effect,
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// RFC 3339; default 30 days ago.
    pub from: Option<String>,
    /// RFC 3339; default now.
    pub to: Option<String>,
}

/// The advocates report
///
/// New customers in [from, to) and the share of them that came by referral; referrals per
/// status, the program's cost and the acquisition cost it saved; and every advocate (most
/// friends first) with what their friends spent and are predicted to spend.
#[utoipa::path(get, path = "/api/v1/referrals/report", tag = "referrals", params(ReportQuery),
    responses((status = 200, body = AdvocatesReportView), (status = 422, body = Problem)))]
pub async fn referrals_report(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    q: Result<Query<ReportQuery>, QueryRejection>,
) -> ApiResult<Json<AdvocatesReportView>> {
    let q = query(q)?;
    let now = Timestamp::now();
    let to = time(q.to.as_deref(), "to")?.unwrap_or(now);
    let from = time(q.from.as_deref(), "from")?.unwrap_or(Timestamp(to.0 - 30 * DAY_MS));
    if from.0 >= to.0 {
        return Err(FieldError::new("to", "invalid_period", "`to` comes after `from`").into());
    }
    let r = state.db.advocates_report(&store, from, to).await?;
    let c = r.currency;
    Ok(Json(AdvocatesReportView {
        currency: c.code().to_string(),
        from: rfc(r.from),
        to: rfc(r.to),
        new_customers: r.new_customers,
        referred_new_customers: r.referred_new_customers,
        referral_share_bp: r.referral_share_bp,
        by_status: r.by_status.iter().cloned().collect(),
        program_cost: major(r.program_cost, c),
        program_cost_minor: r.program_cost,
        acquisition_cost_saved: major(r.acquisition_cost_saved, c),
        acquisition_cost_saved_minor: r.acquisition_cost_saved,
        advocates: r.advocates.iter().map(|a| AdvocateRowView::new(a, c)).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Partners

/// The store's partners.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerListView {
    /// Active partners first, then ended ones.
    pub data: Vec<PartnerSummaryView>,
}

/// Every partner (active first, then ended) with their figures
#[utoipa::path(get, path = "/api/v1/partners", tag = "referrals",
    responses((status = 200, body = PartnerListView)))]
pub async fn list_partners(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
) -> ApiResult<Json<PartnerListView>> {
    let rows = state.db.partners(&store).await?;
    Ok(Json(PartnerListView {
        data: rows
            .iter()
            .map(|s| PartnerSummaryView::new(s, store.currency))
            .collect(),
    }))
}

/// A partner's terms.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerBody {
    /// 1 to 5,000 basis points (0.01 % to 50 %) of referred revenue (order total less
    /// shipping and tax).
    pub basis_points: i64,
    /// first_order (the friend's qualifying order only) or all_orders.
    #[schema(value_type = String, example = "first_order")]
    pub scope: PartnerScope,
    /// For all_orders: 1 to 3,650 days from the friend's first qualifying order; left out:
    /// no end.
    pub period_days: Option<i64>,
    pub note: Option<String>,
}

impl PartnerBody {
    fn into_input(self) -> Result<PartnerInput, FieldError> {
        if !(1..=5_000).contains(&self.basis_points) {
            return Err(FieldError::new(
                "basis_points",
                "out_of_range",
                "a commission runs from 1 to 5,000 basis points (0.01 % to 50 %)",
            ));
        }
        if self.period_days.is_some_and(|d| !(1..=3_650).contains(&d)) {
            return Err(FieldError::new(
                "period_days",
                "out_of_range",
                "a period runs from 1 to 3,650 days",
            ));
        }
        if self.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
            return Err(FieldError::new(
                "note",
                "too_long",
                "a note has at most 500 characters",
            ));
        }
        Ok(PartnerInput {
            basis_points: self.basis_points,
            scope: self.scope,
            period_days: self.period_days,
            note: self.note,
        })
    }
}

/// Invite a customer as a partner, or change their terms
///
/// A partner earns a commission on what the friends they referred buy, instead of the
/// advocate reward. An ended partner invited again is active again. Refused (422, naming the
/// field) when the terms cannot run.
#[utoipa::path(put, path = "/api/v1/partners/{customer_id}", tag = "referrals",
    params(("customer_id" = String, Path, description = "Customer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body = PartnerBody,
    responses((status = 200, body = PartnerView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn put_partner(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(customer_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = match parse_json::<PartnerBody>(&body).and_then(|b| Ok(b.into_input()?)) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let customer = match own_customer(&state, &store, &customer_id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let line = format!("PUT /api/v1/partners/{customer_id}");
    let effect = async {
        let p = state
            .db
            .upsert_partner(&store, customer, &input, ACTOR_API)
            .await?;
        Ok::<_, ApiError>(Reply::new(StatusCode::OK, PartnerView::from(&p)))
    };
    run_once(&state, &store, &headers, &line, &body, effect).await
}

/// End a partnership: the history stays; new orders earn nothing
#[utoipa::path(delete, path = "/api/v1/partners/{customer_id}", tag = "referrals",
    params(("customer_id" = String, Path, description = "Customer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 200, body = PartnerView), (status = 404, body = Problem)))]
pub async fn end_partner(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(customer_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let customer = match own_customer(&state, &store, &customer_id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let line = format!("DELETE /api/v1/partners/{customer_id}");
    let effect = async {
        let p = state.db.end_partner(&store, customer, ACTOR_API).await?;
        Ok::<_, ApiError>(Reply::new(StatusCode::OK, PartnerView::from(&p)))
    };
    run_once(&state, &store, &headers, &line, b"", effect).await
}

/// A partner with their figures, commission ledger and payouts
#[utoipa::path(get, path = "/api/v1/partners/{customer_id}", tag = "referrals",
    params(("customer_id" = String, Path, description = "Customer id")),
    responses((status = 200, body = PartnerDetailView), (status = 404, body = Problem)))]
pub async fn get_partner(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(customer_id): Path<String>,
) -> ApiResult<Json<PartnerDetailView>> {
    let customer = own_customer(&state, &store, &customer_id).await?;
    let summary = state.db.partner_summary(&store, customer).await?;
    let commissions = state.db.commissions(&store, customer).await?;
    let payouts = state.db.payouts(&store, Some(customer)).await?;
    Ok(Json(PartnerDetailView {
        summary: PartnerSummaryView::new(&summary, store.currency),
        commissions: commissions.iter().map(CommissionView::from).collect(),
        payouts: payouts.iter().map(PayoutView::from).collect(),
    }))
}

/// What a payout records.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutBody {
    /// The bank or payment reference.
    pub reference: Option<String>,
}

/// Pay a partner everything owed
///
/// Marks every approved, unpaid commission (reversals included) paid as one payout. Refused
/// with 409 `nothing_owed` when that sums to nothing. The body is optional.
#[utoipa::path(post, path = "/api/v1/partners/{customer_id}/payouts", tag = "referrals",
    params(("customer_id" = String, Path, description = "Customer id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body = Option<PayoutBody>,
    responses((status = 201, body = PayoutView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn pay_partner(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(customer_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = match optional_body::<PayoutBody>(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if input.reference.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return ApiError::from(FieldError::new(
            "reference",
            "too_long",
            "a reference has at most 200 characters",
        ))
        .into_response();
    }
    let customer = match own_customer(&state, &store, &customer_id).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let reference = input
        .reference
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let line = format!("POST /api/v1/partners/{customer_id}/payouts");
    let effect = async {
        let p = state
            .db
            .pay_partner(&store, customer, reference.as_deref(), ACTOR_API)
            .await?;
        Ok::<_, ApiError>(Reply::new(StatusCode::CREATED, PayoutView::from(&p)))
    };
    run_once(&state, &store, &headers, &line, &body, effect).await
}

/// The payout report: what every partner is owed and was paid
#[utoipa::path(get, path = "/api/v1/partners/payouts", tag = "referrals",
    responses((status = 200, body = PayoutReportView)))]
pub async fn payout_report(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
) -> ApiResult<Json<PayoutReportView>> {
    let rows = state.db.payout_report(&store).await?;
    let payouts = state.db.payouts(&store, None).await?;
    Ok(Json(PayoutReportView {
        currency: store.currency.code().to_string(),
        partners: rows
            .iter()
            .map(|r| PayoutRowView::new(r, store.currency))
            .collect(),
        payouts: payouts.iter().map(PayoutView::from).collect(),
    }))
}

/// The payout report as CSV (a header line, then one partner a line; amounts as decimals of
/// the store currency)
#[utoipa::path(get, path = "/api/v1/partners/payouts.csv", tag = "referrals",
    responses((status = 200, description = "The report as an attachment", content_type = "text/csv", body = String)))]
pub async fn payout_report_csv(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
) -> ApiResult<Response> {
    let csv = state.db.payout_report_csv(&store).await?;
    let day = Timestamp::now()
        .to_datetime()
        .with_timezone(&store.timezone.0)
        .format("%Y-%m-%d");
    let disposition = format!("attachment; filename=\"partner-payouts-{day}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}
