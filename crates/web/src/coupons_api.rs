//! The coupon engine over HTTP (`/api/v1/coupons…`): generate and import codes, list them,
//! validate a cart against codes, and reserve a use at checkout. Coupon money is integer minor
//! units of the store currency, as carts are.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use regulars_domain::{
    Cart, CartLine, CouponScope, Currency, CustomerId, Discount, FieldError, Refusal, Timestamp,
};
use regulars_store::{
    BatchRecord, CouponFilter, CouponImport, CouponRecord, CouponStatus, CouponTerms, ImportRowError,
    NewBatch, ReservationRecord, ReserveOutcome,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::ApiStore;
use crate::body::parse_json;
use crate::error::{ApiError, ApiResult, Problem};
use crate::views::Page;
use crate::write::{run_write, Reply};
use crate::AppState;

/// The coupon routes, nested under `/api/v1`. Imports may be large files; the rest is small.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/coupons", get(list_coupons))
        .route("/coupons/batches", post(create_batch))
        .route("/coupons/validate", post(validate))
        .route("/coupons/reservations", post(reserve))
        .route("/coupons/reservations/{id}", delete(release))
        .route("/coupons/{code}", get(get_coupon))
        .layer(DefaultBodyLimit::max(2 * 1024 * 1024))
        .route(
            "/coupons/import",
            post(import_coupons).layer(DefaultBodyLimit::max(32 * 1024 * 1024)),
        )
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

fn customer(value: Option<&str>) -> Result<Option<CustomerId>, FieldError> {
    value
        .map(|s| CustomerId::parse(s).map_err(|e| e.at("customer_id")))
        .transpose()
}

/// Which lines a coupon covers; all lists empty (or absent): the whole cart.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ScopeBody {
    #[serde(default)]
    pub product_ids: Vec<String>,
    #[serde(default)]
    pub skus: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
}

fn default_usage_limit() -> Option<i64> {
    Some(1)
}

/// A batch of codes to generate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// Shown in the dashboard; default: the date.
    pub name: Option<String>,
    /// How many codes, 1 to 100,000.
    pub count: usize,
    /// Put before every code, e.g. `VIP-`.
    pub prefix: Option<String>,
    /// `#` a digit, `?` a letter, `*` either, anything else as written, e.g. `DIWALI-####-????`.
    pub pattern: Option<String>,
    /// Random characters when there is no pattern (default 8).
    pub length: Option<usize>,
    /// The characters codes are drawn from; default leaves out the look-alikes 0/O/1/I/L.
    pub charset: Option<String>,
    /// `{"kind": "fixed", "amount": 5000}` (minor units), `{"kind": "percent", "basis_points":
    /// 1000}` (10 %), `{"kind": "free_shipping"}`, `{"kind": "free_product", "sku": "…"}` or
    /// `{"kind": "gift", "description": "…"}`.
    #[schema(value_type = Object)]
    pub discount: Discount,
    /// RFC 3339.
    pub starts_at: Option<String>,
    /// RFC 3339.
    pub expires_at: Option<String>,
    /// Minor units the covered lines must reach.
    #[serde(default)]
    pub minimum_spend: i64,
    #[serde(default)]
    pub scope: ScopeBody,
    /// Only this customer may use the codes.
    pub customer_id: Option<String>,
    /// Uses per code; default 1, null for unlimited.
    #[serde(default = "default_usage_limit")]
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    /// Stackable codes combine with any others; at most one exclusive code (the default)
    /// applies to a cart.
    #[serde(default)]
    pub stackable: bool,
    /// Only a customer's first order may use the codes (a customer with an earlier order that
    /// was not cancelled is refused `not_first_order`; an anonymous cart is accepted).
    #[serde(default)]
    pub first_order_only: bool,
}

impl BatchBody {
    fn into_batch(self) -> Result<NewBatch, FieldError> {
        let terms = CouponTerms {
            discount: self.discount,
            starts_at: time(self.starts_at.as_deref(), "starts_at")?,
            expires_at: time(self.expires_at.as_deref(), "expires_at")?,
            minimum_spend: self.minimum_spend,
            scope: CouponScope {
                product_ids: self.scope.product_ids,
                skus: self.scope.skus,
                categories: self.scope.categories,
            },
            customer_id: customer(self.customer_id.as_deref())?,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            stackable: self.stackable,
            first_order_only: self.first_order_only,
        };
        Ok(NewBatch {
            name: self
                .name
                .unwrap_or_else(|| format!("Batch {}", chrono::Utc::now().format("%Y-%m-%d %H:%M"))),
            count: self.count,
            prefix: self.prefix,
            pattern: self.pattern,
            length: self.length,
            charset: self.charset,
            terms,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    pub id: String,
    pub name: String,
    /// generated or imported.
    pub kind: String,
    pub code_count: i64,
    /// Codes redeemed at least once.
    pub codes_used: i64,
    pub created_at: String,
}

impl From<BatchRecord> for BatchView {
    fn from(b: BatchRecord) -> Self {
        BatchView {
            id: b.id,
            name: b.name,
            kind: b.kind,
            code_count: b.code_count,
            codes_used: b.codes_used,
            created_at: b.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CouponView {
    pub id: String,
    pub code: String,
    pub batch_id: Option<String>,
    /// What it gives; amounts in minor units of `currency`.
    #[schema(value_type = Object)]
    pub discount: Discount,
    pub currency: String,
    pub starts_at: Option<String>,
    pub expires_at: Option<String>,
    /// Minor units.
    pub minimum_spend: i64,
    #[schema(value_type = Object)]
    pub scope: CouponScope,
    pub customer_id: Option<String>,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub stackable: bool,
    /// Only a customer's first order may use it.
    pub first_order_only: bool,
    /// Redemptions by orders, not rolled back.
    pub used: i64,
    /// Uses held by unexpired reservations.
    pub reserved: i64,
    /// active, scheduled, expired or used_up.
    pub status: String,
    /// batch:<id>, import:<id>, or what minted it (reward:<id>).
    pub origin: String,
    pub created_at: String,
}

impl CouponView {
    fn new(c: CouponRecord, currency: Currency) -> CouponView {
        CouponView {
            id: c.id,
            code: c.code,
            batch_id: c.batch_id,
            discount: c.discount,
            currency: currency.code().to_string(),
            starts_at: c.starts_at.map(Timestamp::to_rfc3339),
            expires_at: c.expires_at.map(Timestamp::to_rfc3339),
            minimum_spend: c.minimum_spend,
            scope: c.scope,
            customer_id: c.customer_id.map(|c| c.to_string()),
            usage_limit: c.usage_limit,
            per_customer_limit: c.per_customer_limit,
            stackable: c.stackable,
            first_order_only: c.first_order_only,
            used: c.used,
            reserved: c.reserved,
            status: c.status.as_str().to_string(),
            origin: c.origin,
            created_at: c.created_at.to_rfc3339(),
        }
    }
}

/// Generate a batch of unique codes with shared terms.
#[utoipa::path(post, path = "/api/v1/coupons/batches", tag = "coupons", request_body = BatchBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 201, body = BatchView), (status = 422, body = Problem)))]
pub async fn create_batch(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let batch = match parse_json::<BatchBody>(&body).and_then(|b| Ok(b.into_batch()?)) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    run_write(&state, &store, &headers, "POST /api/v1/coupons/batches", &body, move |tx| {
        Box::pin(async move {
            let made = tx.create_coupon_batch(&record, &batch).await?;
            tracing::info!(store = %record.id, batch = %made.id, codes = made.code_count, "coupon batch generated");
            Ok(Reply::new(StatusCode::CREATED, BatchView::from(made)))
        })
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The batch's name; default: the date.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowErrorView {
    pub line: u64,
    pub field: String,
    pub code: String,
    pub message: String,
}

impl From<ImportRowError> for RowErrorView {
    fn from(e: ImportRowError) -> Self {
        RowErrorView {
            line: e.line,
            field: e.field,
            code: e.code.to_string(),
            message: e.message,
        }
    }
}

/// A refused import: the problem, and every refused row.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProblem {
    #[serde(flatten)]
    pub problem: Problem,
    pub errors: Vec<RowErrorView>,
}

/// Import existing codes from a CSV file (`Content-Type: text/csv`): a header line naming
/// columns among code, discount_type (fixed, percent, free_shipping, free_product, gift),
/// value (major units for fixed, percent for percent, the SKU or the description), starts_at,
/// expires_at, minimum_spend (major units), usage_limit, per_customer_limit, customer_id,
/// stackable, first_order_only, skus, categories, product_ids (lists separated by `;`). All
/// rows or none: a refused file answers 422 with every bad row by line.
#[utoipa::path(post, path = "/api/v1/coupons/import", tag = "coupons", params(ImportQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = BatchView), (status = 415, body = Problem), (status = 422, body = ImportProblem)))]
pub async fn import_coupons(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    q: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = match query(q) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("text/csv"));
    if !is_csv {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the file as Content-Type: text/csv",
        )
        .field("Content-Type")
        .into_response();
    }
    let name = q
        .name
        .unwrap_or_else(|| format!("Import {}", chrono::Utc::now().format("%Y-%m-%d %H:%M")));
    let record = store.clone();
    let line = format!("POST /api/v1/coupons/import?name={name}");
    let file = body.clone();
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            match tx.import_coupons(&record, &name, &file).await? {
                CouponImport::Imported(batch) => {
                    tracing::info!(store = %record.id, batch = %batch.id, codes = batch.code_count, "coupons imported");
                    Ok(Reply::new(StatusCode::CREATED, BatchView::from(batch)))
                }
                CouponImport::Rejected(errors) => {
                    let first = &errors[0];
                    let problem = ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_rows",
                        format!("{} rows refused; nothing was imported", errors.len()),
                    )
                    .field(format!("line {}: {}", first.line, first.field))
                    .problem();
                    let body = ImportProblem {
                        problem,
                        errors: errors.into_iter().map(RowErrorView::from).collect(),
                    };
                    Ok(Reply::new(StatusCode::UNPROCESSABLE_ENTITY, body))
                }
            }
        })
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CouponListQuery {
    /// Codes of this batch.
    pub batch: Option<String>,
    /// active, scheduled, expired or used_up.
    pub status: Option<String>,
    /// Codes bound to this customer.
    pub customer: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/coupons", tag = "coupons", params(CouponListQuery),
    responses((status = 200, body = Page<CouponView>), (status = 422, body = Problem)))]
pub async fn list_coupons(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    q: Result<Query<CouponListQuery>, QueryRejection>,
) -> ApiResult<Json<Page<CouponView>>> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = CouponFilter {
        batch_id: q.batch.clone(),
        status: q.status.as_deref().map(CouponStatus::parse).transpose()?,
        customer_id: q
            .customer
            .as_deref()
            .map(|c| CustomerId::parse(c).map_err(|e| e.at("customer")))
            .transpose()?,
        after: q.after.clone(),
        limit,
    };
    let rows = state.db.coupons(&store, &filter).await?;
    let next_cursor = (rows.len() as u64 == limit)
        .then(|| rows.last().map(|c| c.id.clone()))
        .flatten();
    Ok(Json(Page {
        data: rows
            .into_iter()
            .map(|c| CouponView::new(c, store.currency))
            .collect(),
        next_cursor,
    }))
}

/// One coupon by its code (any case).
#[utoipa::path(get, path = "/api/v1/coupons/{code}", tag = "coupons",
    params(("code" = String, Path, description = "The coupon code")),
    responses((status = 200, body = CouponView), (status = 404, body = Problem)))]
pub async fn get_coupon(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(code): Path<String>,
) -> ApiResult<Json<CouponView>> {
    let found = state
        .db
        .coupon_by_code(&store, &code)
        .await?
        .ok_or_else(|| ApiError::not_found("coupon"))?;
    Ok(Json(CouponView::new(found, store.currency)))
}

/// A cart line; amounts in minor units.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartLineBody {
    pub product_id: Option<String>,
    pub sku: Option<String>,
    pub category: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub quantity: i64,
    /// One unit, minor units, before discounts.
    pub unit_price: i64,
}

/// A cart at checkout; amounts in minor units of `currency` (the store's).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartBody {
    pub currency: String,
    pub lines: Vec<CartLineBody>,
    /// Shipping before any coupon, minor units.
    #[serde(default)]
    pub shipping: i64,
}

impl CartBody {
    fn into_cart(self) -> Result<Cart, FieldError> {
        let cart = Cart {
            currency: Currency::parse(&self.currency).map_err(|e| e.at("cart.currency"))?,
            lines: self
                .lines
                .into_iter()
                .map(|l| CartLine {
                    product_id: l.product_id,
                    sku: l.sku,
                    category: l.category,
                    tags: l.tags,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                })
                .collect(),
            shipping: self.shipping,
        };
        cart.validate()?;
        Ok(cart)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateBody {
    pub cart: CartBody,
    /// 1 to 20 codes, applied in this order.
    pub codes: Vec<String>,
    pub customer_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusalView {
    /// unknown_coupon, coupon_expired, coupon_not_started, minimum_spend_not_met,
    /// usage_limit_reached, customer_limit_reached, not_for_this_customer, customer_required,
    /// not_first_order, not_stackable, no_eligible_items or duplicate_code.
    pub code: String,
    pub message: String,
}

impl From<Refusal> for RefusalView {
    fn from(r: Refusal) -> Self {
        RefusalView {
            code: r.code().to_string(),
            message: r.message().to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeAnswerView {
    pub code: String,
    pub applies: bool,
    /// Minor units; 0 when it does not apply.
    pub discount: i64,
    pub refusal: Option<RefusalView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationView {
    pub currency: String,
    /// What the applying codes take off together, minor units.
    pub total_discount: i64,
    pub results: Vec<CodeAnswerView>,
}

/// Whether each code applies to the cart and what it takes off, in the order given. Nothing
/// is held: reserve at checkout.
#[utoipa::path(post, path = "/api/v1/coupons/validate", tag = "coupons", request_body = ValidateBody,
    responses((status = 200, body = ValidationView), (status = 422, body = Problem)))]
pub async fn validate(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    body: Bytes,
) -> ApiResult<Json<ValidationView>> {
    let b = parse_json::<ValidateBody>(&body)?;
    let who = customer(b.customer_id.as_deref())?;
    let cart = b.cart.into_cart()?;
    let answers = state
        .db
        .validate_coupons(&store, &cart, &b.codes, who, Timestamp::now())
        .await?;
    let results: Vec<CodeAnswerView> = answers
        .into_iter()
        .map(|a| CodeAnswerView {
            code: a.code,
            applies: a.result.is_ok(),
            discount: *a.result.as_ref().unwrap_or(&0),
            refusal: a.result.err().map(RefusalView::from),
        })
        .collect();
    Ok(Json(ValidationView {
        currency: store.currency.code().to_string(),
        total_discount: results.iter().map(|r| r.discount).sum(),
        results,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReserveBody {
    pub code: String,
    pub cart: CartBody,
    pub customer_id: Option<String>,
    /// How long the use is held, 1 to 86,400 seconds.
    pub ttl_seconds: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReservationView {
    pub id: String,
    pub code: String,
    pub coupon_id: String,
    /// What the coupon takes off this cart, minor units.
    pub discount: i64,
    pub customer_id: Option<String>,
    pub expires_at: String,
}

impl From<ReservationRecord> for ReservationView {
    fn from(r: ReservationRecord) -> Self {
        ReservationView {
            id: r.id,
            code: r.code,
            coupon_id: r.coupon_id,
            discount: r.discount,
            customer_id: r.customer_id.map(|c| c.to_string()),
            expires_at: r.expires_at.to_rfc3339(),
        }
    }
}

/// Hold one use of a code for this checkout until `ttl_seconds` pass; the order that names the
/// code consumes it. Refused (409, with the refusal's code) when validation would refuse it;
/// 404 for a code the store does not have.
#[utoipa::path(post, path = "/api/v1/coupons/reservations", tag = "coupons", request_body = ReserveBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 201, body = ReservationView), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn reserve(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = parse_json::<ReserveBody>(&body).and_then(|b| {
        let who = customer(b.customer_id.as_deref())?;
        Ok((b.code, b.cart.into_cart()?, who, b.ttl_seconds))
    });
    let (code, cart, who, ttl) = match parsed {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    run_write(
        &state,
        &store,
        &headers,
        "POST /api/v1/coupons/reservations",
        &body,
        move |tx| {
            Box::pin(async move {
                match tx
                    .reserve_coupon(&record, &code, &cart, who, ttl, Timestamp::now())
                    .await?
                {
                    ReserveOutcome::Reserved(r) => {
                        Ok(Reply::new(StatusCode::CREATED, ReservationView::from(r)))
                    }
                    ReserveOutcome::Refused(refusal) => {
                        let status = if refusal == Refusal::UnknownCoupon {
                            StatusCode::NOT_FOUND
                        } else {
                            StatusCode::CONFLICT
                        };
                        Err(ApiError::new(status, refusal.code(), refusal.message()).field("code"))
                    }
                }
            })
        },
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReleasedView {
    pub id: String,
    pub released: bool,
}

/// Give a reserved use back (the checkout was abandoned).
#[utoipa::path(delete, path = "/api/v1/coupons/reservations/{id}", tag = "coupons",
    params(("id" = String, Path, description = "Reservation id")),
    responses((status = 200, body = ReleasedView), (status = 404, body = Problem)))]
pub async fn release(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let record = store.clone();
    let line = format!("DELETE /api/v1/coupons/reservations/{id}");
    run_write(&state, &store, &headers, &line, b"", move |tx| {
        Box::pin(async move {
            if tx.release_coupon_reservation(&record, &id).await? {
                Ok(Reply::new(StatusCode::OK, ReleasedView { id, released: true }))
            } else {
                Err(ApiError::not_found("reservation"))
            }
        })
    })
    .await
}
