//! The coupon engine: codes issued in bulk, imported, or minted by a reward redemption;
//! validated against a cart, reserved at checkout, redeemed by the order that used them and
//! rolled back when that order is refunded or cancelled.
//!
//! Taking a use is guarded by the coupon's row: every path that counts uses and then adds one
//! (a reservation, a redemption) first locks that row (`SELECT … FOR UPDATE` on PostgreSQL;
//! SQLite's write transactions are serialised already), so two checkouts racing for the last
//! use cannot both see it free.

use std::collections::{HashMap, HashSet};

use rand::Rng;
use regulars_domain::{
    check_discount, evaluate_cart, new_id, normalize_code, parse_minor, Cart, CodeGenerator, CodeInCart,
    CouponRules, CouponScope, CustomerId, Discount, FieldError, FinancialStatus, Money, OrderInput, Refusal,
    Timestamp, Usage,
};
use sea_query::{
    Alias, Asterisk, Cond, Expr, Func, Iden, LockType, OnConflict, Order, Query, SelectStatement, SimpleExpr,
};
use serde::Serialize;

use crate::schema::{Customers, Orders};
use crate::{json_text, parse_json, scalar, Db, StoreError, StoreRecord, Tx, CHUNK};

#[derive(Iden, Clone, Copy)]
enum CouponBatches {
    Table,
    Id,
    StoreId,
    Name,
    Kind,
    Spec,
    CodeCount,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
enum Coupons {
    Table,
    Id,
    StoreId,
    BatchId,
    Code,
    Discount,
    StartsAt,
    ExpiresAt,
    MinimumSpend,
    Scope,
    CustomerId,
    UsageLimit,
    PerCustomerLimit,
    Stackable,
    FirstOrderOnly,
    Used,
    Origin,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
enum CouponReservations {
    Table,
    Id,
    StoreId,
    CouponId,
    CustomerId,
    Discount,
    ExpiresAt,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
enum CouponRedemptions {
    Table,
    Id,
    StoreId,
    CouponId,
    OrderId,
    CustomerId,
    RedeemedAt,
    RolledBackAt,
}

/// The most codes one batch or one file may hold.
pub const MAX_BATCH_CODES: usize = 100_000;
/// The longest a checkout may hold a use.
pub const MAX_RESERVATION_SECONDS: i64 = 86_400;

/// A single coupon minted by other code, e.g. the rewards catalog when a customer redeems
/// points. Its code is the prefix followed by eight random characters.
#[derive(Debug, Clone)]
pub struct CouponIssue {
    pub prefix: Option<String>,
    pub discount: Discount,
    pub customer_id: Option<CustomerId>,
    pub expires_at: Option<Timestamp>,
    /// Minor units of the store currency.
    pub minimum_spend: i64,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    /// Only a customer's first order may use it.
    pub first_order_only: bool,
    /// What minted it, e.g. `reward:<id>`.
    pub origin: String,
}

/// Where a coupon stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponStatus {
    Active,
    /// Its start lies ahead.
    Scheduled,
    Expired,
    /// Redeemed as often as its usage limit allows.
    UsedUp,
}

impl CouponStatus {
    pub const ALL: [CouponStatus; 4] = [
        CouponStatus::Active,
        CouponStatus::Scheduled,
        CouponStatus::Expired,
        CouponStatus::UsedUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CouponStatus::Active => "active",
            CouponStatus::Scheduled => "scheduled",
            CouponStatus::Expired => "expired",
            CouponStatus::UsedUp => "used_up",
        }
    }

    pub fn parse(s: &str) -> Result<CouponStatus, FieldError> {
        CouponStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                FieldError::new(
                    "status",
                    "invalid_status",
                    format!("{s:?} is not a coupon status: active, scheduled, expired or used_up"),
                )
            })
    }
}

/// A stored coupon with its usage as of the moment it was read.
#[derive(Debug, Clone, Serialize)]
pub struct CouponRecord {
    pub id: String,
    pub code: String,
    pub batch_id: Option<String>,
    pub discount: Discount,
    pub starts_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub minimum_spend: i64,
    pub scope: CouponScope,
    pub customer_id: Option<CustomerId>,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub stackable: bool,
    /// Only a customer's first order may use it.
    pub first_order_only: bool,
    /// Redemptions not rolled back.
    pub used: i64,
    /// Unexpired reservations.
    pub reserved: i64,
    /// Uses taken by the customer the coupon was read for (0 when read for nobody).
    pub customer_used: i64,
    pub origin: String,
    pub created_at: Timestamp,
    pub status: CouponStatus,
}

impl CouponRecord {
    pub fn rules(&self) -> CouponRules {
        CouponRules {
            discount: self.discount.clone(),
            starts_at: self.starts_at,
            expires_at: self.expires_at,
            minimum_spend: self.minimum_spend,
            scope: self.scope.clone(),
            customer_id: self.customer_id,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            stackable: self.stackable,
            first_order_only: self.first_order_only,
        }
    }

    /// Its usage as read. `customer_orders` is 0: the validating paths count the customer's
    /// orders once per call and fill it in.
    pub fn usage(&self) -> Usage {
        Usage {
            overall: self.used + self.reserved,
            by_customer: self.customer_used,
            customer_orders: 0,
        }
    }
}

fn status_at(
    now: Timestamp,
    starts_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    usage_limit: Option<i64>,
    used: i64,
) -> CouponStatus {
    if expires_at.is_some_and(|e| e <= now) {
        CouponStatus::Expired
    } else if usage_limit.is_some_and(|l| used >= l) {
        CouponStatus::UsedUp
    } else if starts_at.is_some_and(|s| s > now) {
        CouponStatus::Scheduled
    } else {
        CouponStatus::Active
    }
}

/// The terms every code of a batch shares.
#[derive(Debug, Clone)]
pub struct CouponTerms {
    pub discount: Discount,
    pub starts_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub minimum_spend: i64,
    pub scope: CouponScope,
    pub customer_id: Option<CustomerId>,
    pub usage_limit: Option<i64>,
    pub per_customer_limit: Option<i64>,
    pub stackable: bool,
    /// Only a customer's first order may use the codes.
    pub first_order_only: bool,
}

impl CouponTerms {
    fn rules(&self) -> CouponRules {
        CouponRules {
            discount: self.discount.clone(),
            starts_at: self.starts_at,
            expires_at: self.expires_at,
            minimum_spend: self.minimum_spend,
            scope: self.scope.clone(),
            customer_id: self.customer_id,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            stackable: self.stackable,
            first_order_only: self.first_order_only,
        }
    }
}

/// A batch to generate: `count` codes from a prefix and a pattern (or a length) over a
/// charset (default: no look-alikes), all with the same terms.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub name: String,
    pub count: usize,
    pub prefix: Option<String>,
    pub pattern: Option<String>,
    pub length: Option<usize>,
    pub charset: Option<String>,
    pub terms: CouponTerms,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchRecord {
    pub id: String,
    pub name: String,
    /// generated or imported.
    pub kind: String,
    pub spec: serde_json::Value,
    pub code_count: i64,
    /// Codes redeemed at least once.
    pub codes_used: i64,
    pub created_at: Timestamp,
}

/// Which coupons a list shows; pages by id.
#[derive(Debug, Clone, Default)]
pub struct CouponFilter {
    pub batch_id: Option<String>,
    pub status: Option<CouponStatus>,
    pub customer_id: Option<CustomerId>,
    pub after: Option<String>,
    pub limit: u64,
}

/// One code's answer against a cart.
#[derive(Debug, Clone, Serialize)]
pub struct CouponAnswer {
    /// As given, trimmed.
    pub code: String,
    pub coupon_id: Option<String>,
    /// The discount in minor units, or why the coupon does not apply.
    #[serde(skip)]
    pub result: Result<i64, Refusal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReservationRecord {
    pub id: String,
    pub coupon_id: String,
    pub code: String,
    /// The discount the cart got when reserved, minor units.
    pub discount: i64,
    pub customer_id: Option<CustomerId>,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub enum ReserveOutcome {
    Reserved(ReservationRecord),
    Refused(Refusal),
}

/// A row of an imported file that was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportRowError {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub enum CouponImport {
    Imported(BatchRecord),
    /// Every refused row; nothing was written.
    Rejected(Vec<ImportRowError>),
}

#[derive(sqlx::FromRow)]
struct CouponRow {
    id: String,
    batch_id: Option<String>,
    code: String,
    discount: String,
    starts_at: Option<i64>,
    expires_at: Option<i64>,
    minimum_spend: i64,
    scope: String,
    customer_id: Option<String>,
    usage_limit: Option<i64>,
    per_customer_limit: Option<i64>,
    stackable: bool,
    first_order_only: bool,
    used: i64,
    reserved: i64,
    customer_used: i64,
    origin: String,
    created_at: i64,
}

impl CouponRow {
    fn record(self, now: Timestamp) -> Result<CouponRecord, StoreError> {
        let customer_id = self
            .customer_id
            .as_deref()
            .map(CustomerId::parse)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("coupon customer: {e}")))?;
        let starts_at = self.starts_at.map(Timestamp);
        let expires_at = self.expires_at.map(Timestamp);
        Ok(CouponRecord {
            status: status_at(now, starts_at, expires_at, self.usage_limit, self.used),
            discount: parse_json(&self.discount, "coupon discount")?,
            scope: parse_json(&self.scope, "coupon scope")?,
            id: self.id,
            code: self.code,
            batch_id: self.batch_id,
            starts_at,
            expires_at,
            minimum_spend: self.minimum_spend,
            customer_id,
            usage_limit: self.usage_limit,
            per_customer_limit: self.per_customer_limit,
            stackable: self.stackable,
            first_order_only: self.first_order_only,
            used: self.used,
            reserved: self.reserved,
            customer_used: self.customer_used,
            origin: self.origin,
            created_at: Timestamp(self.created_at),
        })
    }
}

fn live_reservations(now: Timestamp) -> SelectStatement {
    Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(CouponReservations::Table)
        .and_where(
            Expr::col((CouponReservations::Table, CouponReservations::CouponId))
                .equals((Coupons::Table, Coupons::Id)),
        )
        .and_where(Expr::col((CouponReservations::Table, CouponReservations::ExpiresAt)).gt(now.0))
        .to_owned()
}

/// Coupons of a store with their live counts; `customer` adds that customer's uses.
fn coupon_select(store: &StoreRecord, now: Timestamp, customer: Option<&str>) -> SelectStatement {
    let customer_used: SimpleExpr = match customer {
        Some(c) => {
            let redeemed = Query::select()
                .expr(Expr::col(Asterisk).count())
                .from(CouponRedemptions::Table)
                .and_where(
                    Expr::col((CouponRedemptions::Table, CouponRedemptions::CouponId))
                        .equals((Coupons::Table, Coupons::Id)),
                )
                .and_where(Expr::col((CouponRedemptions::Table, CouponRedemptions::CustomerId)).eq(c))
                .and_where(Expr::col((CouponRedemptions::Table, CouponRedemptions::RolledBackAt)).is_null())
                .to_owned();
            let reserved = live_reservations(now)
                .and_where(Expr::col((CouponReservations::Table, CouponReservations::CustomerId)).eq(c))
                .to_owned();
            scalar(redeemed).add(scalar(reserved))
        }
        None => Expr::val(0i64).into(),
    };
    Query::select()
        .columns([
            (Coupons::Table, Coupons::Id),
            (Coupons::Table, Coupons::BatchId),
            (Coupons::Table, Coupons::Code),
            (Coupons::Table, Coupons::Discount),
            (Coupons::Table, Coupons::StartsAt),
            (Coupons::Table, Coupons::ExpiresAt),
            (Coupons::Table, Coupons::MinimumSpend),
            (Coupons::Table, Coupons::Scope),
            (Coupons::Table, Coupons::CustomerId),
            (Coupons::Table, Coupons::UsageLimit),
            (Coupons::Table, Coupons::PerCustomerLimit),
            (Coupons::Table, Coupons::Stackable),
            (Coupons::Table, Coupons::FirstOrderOnly),
            (Coupons::Table, Coupons::Used),
            (Coupons::Table, Coupons::Origin),
            (Coupons::Table, Coupons::CreatedAt),
        ])
        .expr_as(scalar(live_reservations(now)), sea_query::Alias::new("reserved"))
        .expr_as(customer_used, sea_query::Alias::new("customer_used"))
        .from(Coupons::Table)
        .and_where(Expr::col((Coupons::Table, Coupons::StoreId)).eq(store.id.to_string()))
        .to_owned()
}

fn status_condition(status: CouponStatus, now: Timestamp) -> Cond {
    let col = |c: Coupons| Expr::col((Coupons::Table, c));
    let expired = Cond::all()
        .add(col(Coupons::ExpiresAt).is_not_null())
        .add(col(Coupons::ExpiresAt).lte(now.0));
    let not_expired = Cond::any()
        .add(col(Coupons::ExpiresAt).is_null())
        .add(col(Coupons::ExpiresAt).gt(now.0));
    let used_up = Cond::all()
        .add(col(Coupons::UsageLimit).is_not_null())
        .add(col(Coupons::Used).gte(col(Coupons::UsageLimit)));
    let not_used_up = Cond::any()
        .add(col(Coupons::UsageLimit).is_null())
        .add(col(Coupons::Used).lt(col(Coupons::UsageLimit)));
    let scheduled = Cond::all()
        .add(col(Coupons::StartsAt).is_not_null())
        .add(col(Coupons::StartsAt).gt(now.0));
    let started = Cond::any()
        .add(col(Coupons::StartsAt).is_null())
        .add(col(Coupons::StartsAt).lte(now.0));
    match status {
        CouponStatus::Expired => expired,
        CouponStatus::UsedUp => Cond::all().add(not_expired).add(used_up),
        CouponStatus::Scheduled => Cond::all().add(not_expired).add(not_used_up).add(scheduled),
        CouponStatus::Active => Cond::all().add(not_expired).add(not_used_up).add(started),
    }
}

fn records(rows: Vec<CouponRow>, now: Timestamp) -> Result<Vec<CouponRecord>, StoreError> {
    rows.into_iter().map(|r| r.record(now)).collect()
}

/// How many orders of the store `customer` placed that were not cancelled: what a
/// first-orders-only coupon asks about.
fn customer_orders_select(store: &StoreRecord, customer: &str) -> SelectStatement {
    Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Orders::Table)
        .and_where(Expr::col(Orders::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Orders::CustomerId).eq(customer))
        .and_where(Expr::col(Orders::CancelledAt).is_null())
        .to_owned()
}

/// Whether counting the customer's orders can change an answer: a known customer and a
/// first-orders-only coupon among those found.
fn needs_customer_orders<'a>(
    customer: Option<&'a str>,
    mut coupons: impl Iterator<Item = &'a CouponRecord>,
) -> Option<&'a str> {
    customer.filter(|_| coupons.any(|c| c.first_order_only))
}

/// What minted a coupon, trimmed: 1 to 200 characters.
fn check_origin(origin: &str) -> Result<&str, FieldError> {
    let origin = origin.trim();
    if origin.is_empty() || origin.chars().count() > 200 {
        return Err(FieldError::new(
            "origin",
            "invalid_origin",
            "say what minted the coupon (1 to 200 characters)",
        ));
    }
    Ok(origin)
}

#[derive(sqlx::FromRow)]
struct BatchRow {
    id: String,
    name: String,
    kind: String,
    spec: String,
    code_count: i64,
    codes_used: i64,
    created_at: i64,
}

fn batch_select(store: &StoreRecord) -> SelectStatement {
    let used = Query::select()
        .expr(Expr::col(Asterisk).count())
        .from(Coupons::Table)
        .and_where(
            Expr::col((Coupons::Table, Coupons::BatchId)).equals((CouponBatches::Table, CouponBatches::Id)),
        )
        .and_where(Expr::col((Coupons::Table, Coupons::Used)).gt(0))
        .to_owned();
    Query::select()
        .columns([
            (CouponBatches::Table, CouponBatches::Id),
            (CouponBatches::Table, CouponBatches::Name),
            (CouponBatches::Table, CouponBatches::Kind),
            (CouponBatches::Table, CouponBatches::Spec),
            (CouponBatches::Table, CouponBatches::CodeCount),
            (CouponBatches::Table, CouponBatches::CreatedAt),
        ])
        .expr_as(scalar(used), sea_query::Alias::new("codes_used"))
        .from(CouponBatches::Table)
        .and_where(Expr::col((CouponBatches::Table, CouponBatches::StoreId)).eq(store.id.to_string()))
        .to_owned()
}

impl BatchRow {
    fn record(self) -> Result<BatchRecord, StoreError> {
        Ok(BatchRecord {
            spec: parse_json(&self.spec, "coupon batch spec")?,
            id: self.id,
            name: self.name,
            kind: self.kind,
            code_count: self.code_count,
            codes_used: self.codes_used,
            created_at: Timestamp(self.created_at),
        })
    }
}

impl Db {
    /// Coupons of a store, oldest first, `filter.limit` at a time after `filter.after`.
    pub async fn coupons(
        &self,
        store: &StoreRecord,
        filter: &CouponFilter,
    ) -> Result<Vec<CouponRecord>, StoreError> {
        let now = Timestamp::now();
        let mut q = coupon_select(store, now, None);
        if let Some(batch) = &filter.batch_id {
            q.and_where(Expr::col((Coupons::Table, Coupons::BatchId)).eq(batch.as_str()));
        }
        if let Some(customer) = filter.customer_id {
            q.and_where(Expr::col((Coupons::Table, Coupons::CustomerId)).eq(customer.to_string()));
        }
        if let Some(status) = filter.status {
            q.cond_where(status_condition(status, now));
        }
        if let Some(after) = &filter.after {
            q.and_where(Expr::col((Coupons::Table, Coupons::Id)).gt(after.as_str()));
        }
        q.order_by((Coupons::Table, Coupons::Id), Order::Asc)
            .limit(filter.limit.clamp(1, 10_000));
        records(self.fetch_all(&q).await?, now)
    }

    /// One coupon by its code (any case).
    pub async fn coupon_by_code(
        &self,
        store: &StoreRecord,
        code: &str,
    ) -> Result<Option<CouponRecord>, StoreError> {
        let Ok(code) = normalize_code(code) else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let q = coupon_select(store, now, None)
            .and_where(Expr::col((Coupons::Table, Coupons::Code)).eq(code))
            .to_owned();
        self.fetch_optional::<CouponRow>(&q)
            .await?
            .map(|r| r.record(now))
            .transpose()
    }

    /// The coupons a customer holds (bound to them) or has redeemed, newest first, with the
    /// customer's own uses.
    pub async fn customer_coupons(
        &self,
        store: &StoreRecord,
        customer: CustomerId,
    ) -> Result<Vec<CouponRecord>, StoreError> {
        let now = Timestamp::now();
        let key = customer.to_string();
        let redeemed = Query::select()
            .column(CouponRedemptions::CouponId)
            .from(CouponRedemptions::Table)
            .and_where(Expr::col(CouponRedemptions::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(CouponRedemptions::CustomerId).eq(key.as_str()))
            .to_owned();
        let q = coupon_select(store, now, Some(&key))
            .cond_where(
                Cond::any()
                    .add(Expr::col((Coupons::Table, Coupons::CustomerId)).eq(key.as_str()))
                    .add(Expr::col((Coupons::Table, Coupons::Id)).in_subquery(redeemed)),
            )
            .order_by((Coupons::Table, Coupons::Id), Order::Desc)
            .limit(500)
            .to_owned();
        records(self.fetch_all(&q).await?, now)
    }

    /// The store's batches, newest first.
    pub async fn coupon_batches(&self, store: &StoreRecord) -> Result<Vec<BatchRecord>, StoreError> {
        let q = batch_select(store)
            .order_by((CouponBatches::Table, CouponBatches::Id), Order::Desc)
            .limit(500)
            .to_owned();
        self.fetch_all::<BatchRow>(&q)
            .await?
            .into_iter()
            .map(BatchRow::record)
            .collect()
    }

    pub async fn coupon_batch(
        &self,
        store: &StoreRecord,
        id: &str,
    ) -> Result<Option<BatchRecord>, StoreError> {
        let q = batch_select(store)
            .and_where(Expr::col((CouponBatches::Table, CouponBatches::Id)).eq(id))
            .to_owned();
        self.fetch_optional::<BatchRow>(&q)
            .await?
            .map(BatchRow::record)
            .transpose()
    }

    /// What each code is worth against `cart` for `customer`, in the order given (see
    /// [`evaluate_cart`]). Reads only: nothing is held.
    pub async fn validate_coupons(
        &self,
        store: &StoreRecord,
        cart: &Cart,
        codes: &[String],
        customer: Option<CustomerId>,
        now: Timestamp,
    ) -> Result<Vec<CouponAnswer>, StoreError> {
        check_cart(store, cart)?;
        if codes.is_empty() || codes.len() > 20 {
            return Err(FieldError::new("codes", "invalid_codes", "give 1 to 20 codes").into());
        }
        let customer_key = customer.map(|c| c.to_string());
        let wanted: Vec<String> = codes.iter().filter_map(|c| normalize_code(c).ok()).collect();
        let found = if wanted.is_empty() {
            Vec::new()
        } else {
            let q = coupon_select(store, now, customer_key.as_deref())
                .and_where(Expr::col((Coupons::Table, Coupons::Code)).is_in(wanted))
                .to_owned();
            records(self.fetch_all(&q).await?, now)?
        };
        // One count for the whole cart, and only when a first-orders-only coupon asks.
        let customer_orders = match needs_customer_orders(customer_key.as_deref(), found.iter()) {
            Some(c) => self
                .fetch_optional::<(i64,)>(&customer_orders_select(store, c))
                .await?
                .map_or(0, |(n,)| n),
            None => 0,
        };
        let by_code: HashMap<&str, &CouponRecord> = found.iter().map(|c| (c.code.as_str(), c)).collect();
        let rules: Vec<Option<(CouponRules, Usage)>> = codes
            .iter()
            .map(|c| {
                let code = normalize_code(c).ok()?;
                by_code.get(code.as_str()).map(|r| {
                    let usage = Usage {
                        customer_orders,
                        ..r.usage()
                    };
                    (r.rules(), usage)
                })
            })
            .collect();
        let entries: Vec<CodeInCart> = codes
            .iter()
            .zip(&rules)
            .map(|(c, r)| CodeInCart {
                code: normalize_code(c).unwrap_or_else(|_| c.trim().to_string()),
                coupon: r.as_ref().map(|(rules, usage)| (rules, *usage)),
            })
            .collect();
        let results = evaluate_cart(cart, customer, now, &entries);
        Ok(codes
            .iter()
            .zip(results)
            .map(|(c, result)| CouponAnswer {
                code: c.trim().to_string(),
                coupon_id: normalize_code(c)
                    .ok()
                    .and_then(|code| by_code.get(code.as_str()).map(|r| r.id.clone())),
                result,
            })
            .collect())
    }
}

fn check_cart(store: &StoreRecord, cart: &Cart) -> Result<(), FieldError> {
    cart.validate()?;
    if cart.currency != store.currency {
        return Err(FieldError::new(
            "cart.currency",
            "currency_mismatch",
            format!(
                "this store's coupons are in {}, the cart is in {}",
                store.currency, cart.currency
            ),
        ));
    }
    Ok(())
}

/// Draws `count` codes not in `taken`. Synchronous: the thread's RNG never crosses an await.
fn draw(generator: &CodeGenerator, count: usize, taken: &HashSet<String>) -> Vec<String> {
    let mut rng = rand::thread_rng();
    let mut pick = |n: usize| rng.gen_range(0..n);
    let mut fresh = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let code = generator.generate(&mut pick);
        if !taken.contains(&code) && fresh.insert(code.clone()) {
            out.push(code);
        }
    }
    out
}

struct NewCoupon {
    id: String,
    code: String,
    rules: CouponRules,
    origin: String,
}

impl Tx {
    /// Which of `codes` the store already has.
    async fn existing_codes(
        &mut self,
        store: &StoreRecord,
        codes: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for chunk in codes.chunks(CHUNK) {
            let q = Query::select()
                .column(Coupons::Code)
                .from(Coupons::Table)
                .and_where(Expr::col(Coupons::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(Coupons::Code).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            found.extend(self.fetch_all::<(String,)>(&q).await?.into_iter().map(|(c,)| c));
        }
        Ok(found)
    }

    /// Which of `ids` are customers of the store.
    async fn known_customers(
        &mut self,
        store: &StoreRecord,
        ids: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let q = Query::select()
                .column(Customers::Id)
                .from(Customers::Table)
                .and_where(Expr::col(Customers::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(Customers::Id).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            found.extend(self.fetch_all::<(String,)>(&q).await?.into_iter().map(|(c,)| c));
        }
        Ok(found)
    }

    async fn check_customer(
        &mut self,
        store: &StoreRecord,
        customer: Option<CustomerId>,
    ) -> Result<(), StoreError> {
        if let Some(c) = customer {
            if self.known_customers(store, &[c.to_string()]).await?.is_empty() {
                return Err(FieldError::new(
                    "customer_id",
                    "unknown_customer",
                    "no such customer in this store",
                )
                .into());
            }
        }
        Ok(())
    }

    async fn insert_coupons(
        &mut self,
        store: &StoreRecord,
        batch_id: Option<&str>,
        coupons: &[NewCoupon],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let store_key = store.id.to_string();
        for chunk in coupons.chunks(CHUNK) {
            let mut q = Query::insert();
            q.into_table(Coupons::Table).columns([
                Coupons::Id,
                Coupons::StoreId,
                Coupons::BatchId,
                Coupons::Code,
                Coupons::Discount,
                Coupons::StartsAt,
                Coupons::ExpiresAt,
                Coupons::MinimumSpend,
                Coupons::Scope,
                Coupons::CustomerId,
                Coupons::UsageLimit,
                Coupons::PerCustomerLimit,
                Coupons::Stackable,
                Coupons::FirstOrderOnly,
                Coupons::Used,
                Coupons::Origin,
                Coupons::CreatedAt,
            ]);
            for c in chunk {
                let r = &c.rules;
                q.values_panic([
                    c.id.clone().into(),
                    store_key.clone().into(),
                    batch_id.map(str::to_string).into(),
                    c.code.clone().into(),
                    json_text(&r.discount).into(),
                    r.starts_at.map(|t| t.0).into(),
                    r.expires_at.map(|t| t.0).into(),
                    r.minimum_spend.into(),
                    json_text(&r.scope).into(),
                    r.customer_id.map(|c| c.to_string()).into(),
                    r.usage_limit.into(),
                    r.per_customer_limit.into(),
                    r.stackable.into(),
                    r.first_order_only.into(),
                    0i64.into(),
                    c.origin.clone().into(),
                    now.0.into(),
                ]);
            }
            self.execute(&q).await?;
        }
        Ok(())
    }

    async fn insert_batch(
        &mut self,
        store: &StoreRecord,
        name: &str,
        kind: &str,
        spec: &serde_json::Value,
        count: usize,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let id = new_id().to_string();
        let q = Query::insert()
            .into_table(CouponBatches::Table)
            .columns([
                CouponBatches::Id,
                CouponBatches::StoreId,
                CouponBatches::Name,
                CouponBatches::Kind,
                CouponBatches::Spec,
                CouponBatches::CodeCount,
                CouponBatches::CreatedAt,
            ])
            .values_panic([
                id.clone().into(),
                store.id.to_string().into(),
                name.into(),
                kind.into(),
                json_text(spec).into(),
                (count as i64).into(),
                now.0.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(id)
    }

    async fn batch_record(&mut self, store: &StoreRecord, id: &str) -> Result<BatchRecord, StoreError> {
        let q = batch_select(store)
            .and_where(Expr::col((CouponBatches::Table, CouponBatches::Id)).eq(id))
            .to_owned();
        self.fetch_optional::<BatchRow>(&q)
            .await?
            .ok_or(StoreError::NotFound("coupon batch"))?
            .record()
    }

    async fn coupon_record(
        &mut self,
        store: &StoreRecord,
        id: &str,
        now: Timestamp,
    ) -> Result<CouponRecord, StoreError> {
        let q = coupon_select(store, now, None)
            .and_where(Expr::col((Coupons::Table, Coupons::Id)).eq(id))
            .to_owned();
        self.fetch_optional::<CouponRow>(&q)
            .await?
            .ok_or(StoreError::NotFound("coupon"))?
            .record(now)
    }

    /// Generates a batch of unique codes (unique within the store, not only the batch).
    pub async fn create_coupon_batch(
        &mut self,
        store: &StoreRecord,
        batch: &NewBatch,
    ) -> Result<BatchRecord, StoreError> {
        if batch.count == 0 || batch.count > MAX_BATCH_CODES {
            return Err(FieldError::new(
                "count",
                "invalid_count",
                format!("a batch has 1 to {MAX_BATCH_CODES} codes"),
            )
            .into());
        }
        let name = batch.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(
                FieldError::new("name", "invalid_name", "a batch name has 1 to 100 characters").into(),
            );
        }
        let rules = CouponRules {
            scope: batch.terms.scope.clone().cleaned(),
            ..batch.terms.rules()
        };
        rules.validate()?;
        let generator = CodeGenerator::new(
            batch.prefix.as_deref(),
            batch.pattern.as_deref(),
            batch.length,
            batch.charset.as_deref(),
        )?;
        generator.check_room(batch.count)?;
        self.lock_store(store.id).await?;
        self.check_customer(store, rules.customer_id).await?;

        // Draw, then replace the few that collide with the store's existing codes.
        let mut codes = draw(&generator, batch.count, &HashSet::new());
        for _ in 0..8 {
            let clashes = self.existing_codes(store, &codes).await?;
            if clashes.is_empty() {
                break;
            }
            let mut taken: HashSet<String> = codes.iter().cloned().collect();
            taken.extend(clashes.iter().cloned());
            let fresh = draw(&generator, clashes.len(), &taken);
            codes.retain(|c| !clashes.contains(c));
            codes.extend(fresh);
        }
        if !self.existing_codes(store, &codes).await?.is_empty() {
            return Err(FieldError::new(
                "pattern",
                "pattern_too_small",
                "this pattern's codes are mostly taken in this store; add random characters",
            )
            .into());
        }
        let now = Timestamp::now();
        let spec = serde_json::json!({
            "prefix": batch.prefix,
            "pattern": batch.pattern,
            "length": batch.length,
            "charset": batch.charset,
        });
        let batch_id = self
            .insert_batch(store, name, "generated", &spec, codes.len(), now)
            .await?;
        let coupons: Vec<NewCoupon> = codes
            .into_iter()
            .map(|code| NewCoupon {
                id: new_id().to_string(),
                code,
                rules: rules.clone(),
                origin: format!("batch:{batch_id}"),
            })
            .collect();
        self.insert_coupons(store, Some(&batch_id), &coupons, now).await?;
        self.batch_record(store, &batch_id).await
    }

    /// Mints one coupon with a fresh code (`prefix` + eight random characters). The rewards
    /// catalog calls this inside its own transaction, so points and coupon commit together.
    pub async fn issue_coupon(
        &mut self,
        store: &StoreRecord,
        issue: &CouponIssue,
    ) -> Result<CouponRecord, StoreError> {
        let rules = CouponRules {
            discount: issue.discount.clone(),
            starts_at: None,
            expires_at: issue.expires_at,
            minimum_spend: issue.minimum_spend,
            scope: CouponScope::default(),
            customer_id: issue.customer_id,
            usage_limit: issue.usage_limit,
            per_customer_limit: issue.per_customer_limit,
            stackable: false,
            first_order_only: issue.first_order_only,
        };
        rules.validate()?;
        let origin = check_origin(&issue.origin)?;
        let generator = CodeGenerator::new(issue.prefix.as_deref(), None, None, None)?;
        self.check_customer(store, rules.customer_id).await?;
        let mut code = None;
        for _ in 0..8 {
            let candidate = draw(&generator, 1, &HashSet::new()).remove(0);
            if self
                .existing_codes(store, std::slice::from_ref(&candidate))
                .await?
                .is_empty()
            {
                code = Some(candidate);
                break;
            }
        }
        let Some(code) = code else {
            return Err(FieldError::new(
                "prefix",
                "pattern_too_small",
                "no free code left after this prefix",
            )
            .into());
        };
        let now = Timestamp::now();
        let id = new_id().to_string();
        let coupon = NewCoupon {
            id: id.clone(),
            code,
            rules,
            origin: origin.to_string(),
        };
        self.insert_coupons(store, None, std::slice::from_ref(&coupon), now)
            .await?;
        self.coupon_record(store, &id, now).await
    }

    /// Inserts one coupon with a code chosen by the caller (already normalised, e.g. an
    /// advocate's referral code). Refused with `code_exists` when the store has the code.
    pub(crate) async fn insert_fixed_coupon(
        &mut self,
        store: &StoreRecord,
        code: &str,
        rules: &CouponRules,
        origin: &str,
    ) -> Result<CouponRecord, StoreError> {
        if normalize_code(code)? != code {
            return Err(FieldError::new(
                "code",
                "invalid_code",
                format!("{code:?} is not a normalised code (trimmed, upper-case)"),
            )
            .into());
        }
        let rules = CouponRules {
            scope: rules.scope.clone().cleaned(),
            ..rules.clone()
        };
        rules.validate()?;
        let origin = check_origin(origin)?;
        self.lock_store(store.id).await?;
        self.check_customer(store, rules.customer_id).await?;
        if !self.existing_codes(store, &[code.to_string()]).await?.is_empty() {
            return Err(StoreError::Refused {
                code: "code_exists",
                message: format!("{code} is already a coupon of this store"),
            });
        }
        let now = Timestamp::now();
        let id = new_id().to_string();
        let coupon = NewCoupon {
            id: id.clone(),
            code: code.to_string(),
            rules,
            origin: origin.to_string(),
        };
        self.insert_coupons(store, None, std::slice::from_ref(&coupon), now)
            .await?;
        self.coupon_record(store, &id, now).await
    }

    /// Rewrites the discount and minimum spend of every coupon of the store whose origin
    /// starts with `origin_prefix` (case-sensitive), e.g. when the referral program's friend
    /// reward changes. Returns how many coupons were rewritten.
    pub(crate) async fn update_origin_coupons(
        &mut self,
        store: &StoreRecord,
        origin_prefix: &str,
        discount: &Discount,
        minimum_spend: i64,
    ) -> Result<u64, StoreError> {
        if origin_prefix.is_empty() {
            // An empty prefix would rewrite every coupon of the store.
            return Err(FieldError::new("origin", "invalid_origin", "name the origin to rewrite").into());
        }
        check_discount(discount)?;
        if minimum_spend < 0 {
            return Err(FieldError::new(
                "minimum_spend",
                "negative_amount",
                "a minimum spend cannot be negative",
            )
            .into());
        }
        // substr, not LIKE: SQLite's LIKE ignores case and `_`/`%` would need escaping.
        let chars = i32::try_from(origin_prefix.chars().count())
            .map_err(|_| FieldError::new("origin", "invalid_origin", "the origin is too long"))?;
        let head = Func::cust(Alias::new("substr"))
            .arg(Expr::col(Coupons::Origin))
            .arg(1i32)
            .arg(chars);
        let q = Query::update()
            .table(Coupons::Table)
            .value(Coupons::Discount, json_text(discount))
            .value(Coupons::MinimumSpend, minimum_spend)
            .and_where(Expr::col(Coupons::StoreId).eq(store.id.to_string()))
            .and_where(Expr::expr(head).eq(origin_prefix))
            .to_owned();
        self.execute(&q).await
    }

    /// Imports existing codes from CSV (a header line, then one code a line). Either every
    /// row is taken or none: a refused file reports every bad row by line.
    pub async fn import_coupons(
        &mut self,
        store: &StoreRecord,
        name: &str,
        csv_bytes: &[u8],
    ) -> Result<CouponImport, StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(
                FieldError::new("name", "invalid_name", "a batch name has 1 to 100 characters").into(),
            );
        }
        let (rows, mut errors) = parse_import(store, csv_bytes);
        self.lock_store(store.id).await?;
        let codes: Vec<String> = rows.iter().map(|r| r.code.clone()).collect();
        let taken = self.existing_codes(store, &codes).await?;
        let customers: Vec<String> = rows
            .iter()
            .filter_map(|r| r.rules.customer_id.map(|c| c.to_string()))
            .collect();
        let known = self.known_customers(store, &customers).await?;
        for r in &rows {
            if taken.contains(&r.code) {
                errors.push(ImportRowError {
                    line: r.line,
                    field: "code".into(),
                    code: "code_exists",
                    message: format!("{} is already a coupon of this store", r.code),
                });
            }
            if let Some(c) = r.rules.customer_id {
                if !known.contains(&c.to_string()) {
                    errors.push(ImportRowError {
                        line: r.line,
                        field: "customer_id".into(),
                        code: "unknown_customer",
                        message: "no such customer in this store".into(),
                    });
                }
            }
        }
        if !errors.is_empty() {
            errors.sort_by(|a, b| a.line.cmp(&b.line).then_with(|| a.field.cmp(&b.field)));
            return Ok(CouponImport::Rejected(errors));
        }
        let now = Timestamp::now();
        let spec = serde_json::json!({ "rows": rows.len() });
        let batch_id = self
            .insert_batch(store, name, "imported", &spec, rows.len(), now)
            .await?;
        let coupons: Vec<NewCoupon> = rows
            .into_iter()
            .map(|r| NewCoupon {
                id: new_id().to_string(),
                code: r.code,
                rules: r.rules,
                origin: format!("import:{batch_id}"),
            })
            .collect();
        self.insert_coupons(store, Some(&batch_id), &coupons, now).await?;
        Ok(CouponImport::Imported(self.batch_record(store, &batch_id).await?))
    }

    /// Holds one use of `code` for this cart until `now + ttl_seconds`. Refused exactly when
    /// validation would refuse it; the coupon's row is locked while its uses are counted.
    pub async fn reserve_coupon(
        &mut self,
        store: &StoreRecord,
        code: &str,
        cart: &Cart,
        customer: Option<CustomerId>,
        ttl_seconds: i64,
        now: Timestamp,
    ) -> Result<ReserveOutcome, StoreError> {
        check_cart(store, cart)?;
        if !(1..=MAX_RESERVATION_SECONDS).contains(&ttl_seconds) {
            return Err(FieldError::new(
                "ttl_seconds",
                "invalid_ttl",
                format!("a reservation lasts 1 to {MAX_RESERVATION_SECONDS} seconds"),
            )
            .into());
        }
        self.check_customer(store, customer).await?;
        let Ok(code) = normalize_code(code) else {
            return Ok(ReserveOutcome::Refused(Refusal::UnknownCoupon));
        };
        let lock = Query::select()
            .column(Coupons::Id)
            .from(Coupons::Table)
            .and_where(Expr::col(Coupons::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Coupons::Code).eq(code.as_str()))
            .lock(LockType::Update)
            .to_owned();
        let Some((coupon_id,)) = self.fetch_optional::<(String,)>(&lock).await? else {
            return Ok(ReserveOutcome::Refused(Refusal::UnknownCoupon));
        };
        let customer_key = customer.map(|c| c.to_string());
        // Counted after the lock: a competitor that held it has committed by now, and this
        // statement sees its reservation.
        let q = coupon_select(store, now, customer_key.as_deref())
            .and_where(Expr::col((Coupons::Table, Coupons::Id)).eq(coupon_id.as_str()))
            .to_owned();
        let coupon = self
            .fetch_optional::<CouponRow>(&q)
            .await?
            .ok_or(StoreError::NotFound("coupon"))?
            .record(now)?;
        let rules = coupon.rules();
        let customer_orders = match needs_customer_orders(customer_key.as_deref(), std::iter::once(&coupon)) {
            Some(c) => self
                .fetch_optional::<(i64,)>(&customer_orders_select(store, c))
                .await?
                .map_or(0, |(n,)| n),
            None => 0,
        };
        let usage = Usage {
            customer_orders,
            ..coupon.usage()
        };
        let result = evaluate_cart(
            cart,
            customer,
            now,
            &[CodeInCart {
                code: code.clone(),
                coupon: Some((&rules, usage)),
            }],
        )
        .remove(0);
        let discount = match result {
            Ok(d) => d,
            Err(refusal) => return Ok(ReserveOutcome::Refused(refusal)),
        };
        let id = new_id().to_string();
        let expires_at = Timestamp(now.0 + ttl_seconds * 1000);
        let insert = Query::insert()
            .into_table(CouponReservations::Table)
            .columns([
                CouponReservations::Id,
                CouponReservations::StoreId,
                CouponReservations::CouponId,
                CouponReservations::CustomerId,
                CouponReservations::Discount,
                CouponReservations::ExpiresAt,
                CouponReservations::CreatedAt,
            ])
            .values_panic([
                id.clone().into(),
                store.id.to_string().into(),
                coupon_id.clone().into(),
                customer_key.into(),
                discount.into(),
                expires_at.0.into(),
                now.0.into(),
            ])
            .to_owned();
        self.execute(&insert).await?;
        Ok(ReserveOutcome::Reserved(ReservationRecord {
            id,
            coupon_id,
            code,
            discount,
            customer_id: customer,
            expires_at,
        }))
    }

    /// Gives a reserved use back (the checkout was abandoned). False when the store has no
    /// such reservation (unknown, or consumed by its order).
    pub async fn release_coupon_reservation(
        &mut self,
        store: &StoreRecord,
        id: &str,
    ) -> Result<bool, StoreError> {
        let q = Query::delete()
            .from_table(CouponReservations::Table)
            .and_where(Expr::col(CouponReservations::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(CouponReservations::Id).eq(id))
            .to_owned();
        Ok(self.execute(&q).await? > 0)
    }

    async fn lock_coupon(&mut self, store: &StoreRecord, coupon_id: &str) -> Result<(), StoreError> {
        let q = Query::select()
            .column(Coupons::Id)
            .from(Coupons::Table)
            .and_where(Expr::col(Coupons::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Coupons::Id).eq(coupon_id))
            .lock(LockType::Update)
            .to_owned();
        self.fetch_optional::<(String,)>(&q).await?;
        Ok(())
    }

    async fn add_used(&mut self, store: &StoreRecord, coupon_id: &str, delta: i64) -> Result<(), StoreError> {
        let q = Query::update()
            .table(Coupons::Table)
            .value(Coupons::Used, Expr::col(Coupons::Used).add(delta))
            .and_where(Expr::col(Coupons::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Coupons::Id).eq(coupon_id))
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }

    /// Records that each order used its coupon; an order already recorded does nothing. Each
    /// new use consumes a live reservation of the same customer (else an anonymous one) if any.
    /// A batch of orders costs a few statements, whatever the number of uses in it.
    async fn redeem_all(
        &mut self,
        store: &StoreRecord,
        uses: &[Use<'_>],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut coupon_ids: Vec<&str> = uses.iter().map(|u| u.coupon_id).collect();
        coupon_ids.sort_unstable();
        coupon_ids.dedup();
        // Locked in id order, as every writer takes them, so two batches never deadlock.
        for chunk in coupon_ids.chunks(CHUNK) {
            let q = Query::select()
                .column(Coupons::Id)
                .from(Coupons::Table)
                .and_where(Expr::col(Coupons::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(Coupons::Id).is_in(chunk.iter().copied()))
                .order_by(Coupons::Id, Order::Asc)
                .lock(LockType::Update)
                .to_owned();
            self.fetch_all::<(String,)>(&q).await?;
        }

        // What the coupons' locks make certain: which of these uses are recorded already.
        let orders: Vec<&str> = uses.iter().map(|u| u.order_id).collect();
        let mut recorded: HashSet<(String, String)> = HashSet::new();
        for chunk in orders.chunks(CHUNK) {
            let q = Query::select()
                .columns([CouponRedemptions::CouponId, CouponRedemptions::OrderId])
                .from(CouponRedemptions::Table)
                .and_where(Expr::col(CouponRedemptions::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(CouponRedemptions::OrderId).is_in(chunk.iter().copied()))
                .to_owned();
            recorded.extend(self.fetch_all::<(String, String)>(&q).await?);
        }
        let fresh: Vec<&Use> = uses
            .iter()
            .filter(|u| recorded.insert((u.coupon_id.to_string(), u.order_id.to_string())))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        for chunk in fresh.chunks(CHUNK) {
            let mut q = Query::insert();
            q.into_table(CouponRedemptions::Table)
                .columns([
                    CouponRedemptions::Id,
                    CouponRedemptions::StoreId,
                    CouponRedemptions::CouponId,
                    CouponRedemptions::OrderId,
                    CouponRedemptions::CustomerId,
                    CouponRedemptions::RedeemedAt,
                ])
                .on_conflict(
                    OnConflict::columns([CouponRedemptions::CouponId, CouponRedemptions::OrderId])
                        .do_nothing()
                        .to_owned(),
                );
            for u in chunk {
                q.values_panic([
                    new_id().to_string().into(),
                    store.id.to_string().into(),
                    u.coupon_id.into(),
                    u.order_id.into(),
                    u.customer.map(str::to_string).into(),
                    now.0.into(),
                ]);
            }
            self.execute(&q).await?;
        }
        let mut counts: HashMap<&str, i64> = HashMap::new();
        for u in &fresh {
            *counts.entry(u.coupon_id).or_default() += 1;
        }
        let mut by_count: HashMap<i64, Vec<&str>> = HashMap::new();
        for (coupon, n) in counts {
            by_count.entry(n).or_default().push(coupon);
        }
        for (n, coupons) in by_count {
            for chunk in coupons.chunks(CHUNK) {
                let q = Query::update()
                    .table(Coupons::Table)
                    .value(Coupons::Used, Expr::col(Coupons::Used).add(n))
                    .and_where(Expr::col(Coupons::StoreId).eq(store.id.to_string()))
                    .and_where(Expr::col(Coupons::Id).is_in(chunk.iter().copied()))
                    .to_owned();
                self.execute(&q).await?;
            }
        }
        self.consume_reservations(store, &fresh, now).await
    }

    /// Each new use takes one live reservation of its coupon: the customer's own before an
    /// anonymous one, then the oldest.
    async fn consume_reservations(
        &mut self,
        store: &StoreRecord,
        fresh: &[&Use<'_>],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut coupon_ids: Vec<&str> = fresh.iter().map(|u| u.coupon_id).collect();
        coupon_ids.sort_unstable();
        coupon_ids.dedup();
        let mut live: Vec<(String, String, Option<String>, i64)> = Vec::new();
        for chunk in coupon_ids.chunks(CHUNK) {
            let q = Query::select()
                .columns([
                    CouponReservations::Id,
                    CouponReservations::CouponId,
                    CouponReservations::CustomerId,
                    CouponReservations::CreatedAt,
                ])
                .from(CouponReservations::Table)
                .and_where(Expr::col(CouponReservations::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(CouponReservations::CouponId).is_in(chunk.iter().copied()))
                .and_where(Expr::col(CouponReservations::ExpiresAt).gt(now.0))
                .to_owned();
            live.extend(
                self.fetch_all::<(String, String, Option<String>, i64)>(&q)
                    .await?,
            );
        }
        if live.is_empty() {
            return Ok(());
        }
        live.sort_by(|a, b| (a.2.is_none(), a.3, &a.0).cmp(&(b.2.is_none(), b.3, &b.0)));
        let mut taken: Vec<String> = Vec::new();
        for u in fresh {
            let pick = live.iter().position(|(_, coupon, customer, _)| {
                coupon == u.coupon_id
                    && match (customer.as_deref(), u.customer) {
                        (None, _) => true,
                        (Some(c), Some(mine)) => c == mine,
                        (Some(_), None) => false,
                    }
            });
            if let Some(i) = pick {
                taken.push(live.remove(i).0);
            }
        }
        for chunk in taken.chunks(CHUNK) {
            let q = Query::delete()
                .from_table(CouponReservations::Table)
                .and_where(Expr::col(CouponReservations::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(CouponReservations::Id).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            self.execute(&q).await?;
        }
        Ok(())
    }

    /// Rolls back the live redemptions of these orders.
    async fn roll_back_orders(
        &mut self,
        store: &StoreRecord,
        order_ids: &[&str],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        for chunk in order_ids.chunks(CHUNK) {
            let q = Query::select()
                .columns([CouponRedemptions::Id, CouponRedemptions::CouponId])
                .from(CouponRedemptions::Table)
                .and_where(Expr::col(CouponRedemptions::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(CouponRedemptions::OrderId).is_in(chunk.iter().copied()))
                .and_where(Expr::col(CouponRedemptions::RolledBackAt).is_null())
                .to_owned();
            let live: Vec<(String, String)> = self.fetch_all(&q).await?;
            for (redemption, coupon_id) in live {
                self.lock_coupon(store, &coupon_id).await?;
                let q = Query::update()
                    .table(CouponRedemptions::Table)
                    .value(CouponRedemptions::RolledBackAt, now.0)
                    .and_where(Expr::col(CouponRedemptions::Id).eq(redemption.as_str()))
                    .and_where(Expr::col(CouponRedemptions::RolledBackAt).is_null())
                    .to_owned();
                if self.execute(&q).await? == 1 {
                    self.add_used(store, &coupon_id, -1).await?;
                }
            }
        }
        Ok(())
    }
}

/// An order just written by [`Tx::upsert_orders`], as the coupon engine sees it.
pub(crate) struct WrittenOrder<'a> {
    pub id: &'a str,
    pub customer_id: Option<&'a str>,
    pub input: &'a OrderInput,
}

/// One order's use of one coupon, before it is recorded.
struct Use<'a> {
    coupon_id: &'a str,
    order_id: &'a str,
    customer: Option<&'a str>,
}

/// Whether an order no longer stands: its coupon uses are given back.
fn ended(input: &OrderInput) -> bool {
    input.cancelled_at.is_some()
        || matches!(
            input.financial_status,
            FinancialStatus::Refunded | FinancialStatus::Voided
        )
}

/// Redeems the coupons named by written orders' discount codes (once per order), and rolls
/// them back for orders now cancelled or fully refunded.
pub(crate) async fn on_orders_written(
    tx: &mut Tx,
    store: &StoreRecord,
    orders: &[WrittenOrder<'_>],
) -> Result<(), StoreError> {
    let now = Timestamp::now();
    let gone: Vec<&str> = orders.iter().filter(|o| ended(o.input)).map(|o| o.id).collect();
    tx.roll_back_orders(store, &gone, now).await?;

    let standing: Vec<(&WrittenOrder, Vec<String>)> = orders
        .iter()
        .filter(|o| !ended(o.input) && !o.input.discount_codes.is_empty())
        .map(|o| {
            // Codes that cannot be ours (spaces, other alphabets) are the shop's own.
            let mut codes: Vec<String> = o
                .input
                .discount_codes
                .iter()
                .filter_map(|c| normalize_code(c).ok())
                .collect();
            codes.sort();
            codes.dedup();
            (o, codes)
        })
        .collect();
    let all: Vec<String> = standing
        .iter()
        .flat_map(|(_, codes)| codes.iter().cloned())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if all.is_empty() {
        return Ok(());
    }
    let mut ours: HashMap<String, String> = HashMap::new();
    for chunk in all.chunks(CHUNK) {
        let q = Query::select()
            .columns([Coupons::Code, Coupons::Id])
            .from(Coupons::Table)
            .and_where(Expr::col(Coupons::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Coupons::Code).is_in(chunk.iter().map(String::as_str)))
            .to_owned();
        ours.extend(tx.fetch_all::<(String, String)>(&q).await?);
    }
    let uses: Vec<Use> = standing
        .iter()
        .flat_map(|(order, codes)| {
            codes.iter().filter_map(|code| {
                ours.get(code).map(|coupon_id| Use {
                    coupon_id,
                    order_id: order.id,
                    customer: order.customer_id,
                })
            })
        })
        .collect();
    tx.redeem_all(store, &uses, now).await
}

/// Rolls back the coupons of an order whose refunds now cover its whole total.
pub(crate) async fn on_order_refunded(
    tx: &mut Tx,
    store: &StoreRecord,
    order_id: &str,
    fully_refunded: bool,
) -> Result<(), StoreError> {
    if fully_refunded {
        tx.roll_back_orders(store, &[order_id], Timestamp::now()).await?;
    }
    Ok(())
}

/// A row of an import file that passed its own checks.
struct ImportRow {
    line: u64,
    code: String,
    rules: CouponRules,
}

const IMPORT_COLUMNS: [&str; 14] = [
    "code",
    "discount_type",
    "value",
    "starts_at",
    "expires_at",
    "minimum_spend",
    "usage_limit",
    "per_customer_limit",
    "customer_id",
    "stackable",
    "first_order_only",
    "skus",
    "categories",
    "product_ids",
];

/// Reads an import file: the rows that pass their own checks, and every refusal by line.
fn parse_import(store: &StoreRecord, bytes: &[u8]) -> (Vec<ImportRow>, Vec<ImportRowError>) {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header_error = |field: &str, code: &'static str, message: String| ImportRowError {
        line: 1,
        field: field.to_string(),
        code,
        message,
    };
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|s| s.trim_start_matches('\u{feff}').trim().to_ascii_lowercase())
            .collect(),
        Err(e) => {
            errors.push(header_error(
                "file",
                "unreadable_file",
                format!("not a readable CSV file: {e}"),
            ));
            return (rows, errors);
        }
    };
    for h in &headers {
        if !IMPORT_COLUMNS.contains(&h.as_str()) {
            errors.push(header_error(
                h,
                "unknown_column",
                format!("unknown column {h:?}; columns are {}", IMPORT_COLUMNS.join(", ")),
            ));
        }
    }
    for required in ["code", "discount_type"] {
        if !headers.iter().any(|h| h == required) {
            errors.push(header_error(
                required,
                "missing_column",
                format!("the file needs a {required} column"),
            ));
        }
    }
    if !errors.is_empty() {
        return (rows, errors);
    }
    let zone = store.timezone.0;
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                errors.push(ImportRowError {
                    line,
                    field: "row".into(),
                    code: "unreadable_row",
                    message: e.to_string(),
                });
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() + errors.len() >= MAX_BATCH_CODES {
            errors.push(ImportRowError {
                line,
                field: "row".into(),
                code: "too_many_rows",
                message: format!("a file holds at most {MAX_BATCH_CODES} codes"),
            });
            break;
        }
        if record.len() != headers.len() {
            errors.push(ImportRowError {
                line,
                field: "row".into(),
                code: "wrong_field_count",
                message: format!("{} fields where the header has {}", record.len(), headers.len()),
            });
            continue;
        }
        let get = |name: &str| -> &str {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .unwrap_or("")
        };
        let mut row_errors: Vec<FieldError> = Vec::new();
        let code = match normalize_code(get("code")) {
            Ok(c) => Some(c),
            Err(e) => {
                row_errors.push(e);
                None
            }
        };
        let money = |field: &str, s: &str| -> Result<i64, FieldError> {
            let m = Money::parse_major(s, store.currency).map_err(|e| e.at(field))?;
            if m.minor < 0 {
                return Err(FieldError::new(
                    field,
                    "negative_amount",
                    "an amount cannot be negative",
                ));
            }
            Ok(m.minor)
        };
        let value = get("value");
        let discount = match get("discount_type")
            .to_ascii_lowercase()
            .replace([' ', '-'], "_")
            .as_str()
        {
            "fixed" | "fixed_amount" | "amount" => {
                money("value", value).map(|amount| Discount::Fixed { amount })
            }
            "percent" | "percentage" => parse_minor(value.trim_end_matches('%'), 2)
                .map(|basis_points| Discount::Percent { basis_points })
                .map_err(|e| e.at("value")),
            "free_shipping" | "shipping" => Ok(Discount::FreeShipping),
            "free_product" => Ok(Discount::FreeProduct {
                sku: value.to_string(),
            }),
            "gift" => Ok(Discount::Gift {
                description: value.to_string(),
            }),
            other => Err(FieldError::new(
                "discount_type",
                "invalid_discount_type",
                format!("{other:?}: fixed, percent, free_shipping, free_product or gift"),
            )),
        }
        .and_then(|d| {
            check_discount(&d).map_err(|e| e.at("value"))?;
            Ok(d)
        });
        let mut optional = |field: &str, parse: &dyn Fn(&str) -> Result<i64, FieldError>| -> Option<i64> {
            let s = get(field);
            if s.is_empty() {
                return None;
            }
            parse(s).map_err(|e| row_errors.push(e.at(field))).ok()
        };
        let time = |s: &str| Timestamp::parse_flexible(s, zone).map(|t| t.0);
        let count = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| FieldError::new("", "invalid_number", format!("{s:?} is not a whole number")))
        };
        let starts_at = optional("starts_at", &time).map(Timestamp);
        let expires_at = optional("expires_at", &time).map(Timestamp);
        let minimum_spend = optional("minimum_spend", &|s| money("minimum_spend", s)).unwrap_or(0);
        let usage_limit = optional("usage_limit", &count);
        let per_customer_limit = optional("per_customer_limit", &count);
        let customer_id = match get("customer_id") {
            "" => None,
            s => CustomerId::parse(s)
                .map_err(|e| row_errors.push(e.at("customer_id")))
                .ok(),
        };
        let mut flag = |field: &str| match get(field).to_ascii_lowercase().as_str() {
            "" | "false" | "no" | "0" | "n" => false,
            "true" | "yes" | "1" | "y" => true,
            other => {
                row_errors.push(FieldError::new(
                    field,
                    "invalid_boolean",
                    format!("{other:?}: true or false"),
                ));
                false
            }
        };
        let stackable = flag("stackable");
        let first_order_only = flag("first_order_only");
        let list = |s: &str| -> Vec<String> { s.split(';').map(str::to_string).collect() };
        let scope = CouponScope {
            product_ids: list(get("product_ids")),
            skus: list(get("skus")),
            categories: list(get("categories")),
        }
        .cleaned();
        let discount = match discount {
            Ok(d) => Some(d),
            Err(e) => {
                row_errors.push(e);
                None
            }
        };
        if let (Some(code), Some(discount)) = (code, discount) {
            let rules = CouponRules {
                discount,
                starts_at,
                expires_at,
                minimum_spend,
                scope,
                customer_id,
                usage_limit,
                per_customer_limit,
                stackable,
                first_order_only,
            };
            if row_errors.is_empty() {
                if let Err(e) = rules.validate() {
                    row_errors.push(e);
                }
            }
            if let Some(first) = first_line.get(&code) {
                row_errors.push(FieldError::new(
                    "code",
                    "duplicate_code",
                    format!("{code} is also on line {first}"),
                ));
            } else {
                first_line.insert(code.clone(), line);
            }
            if row_errors.is_empty() {
                rows.push(ImportRow { line, code, rules });
            }
        }
        errors.extend(row_errors.into_iter().map(|e| ImportRowError {
            line,
            field: e.field.clone(),
            code: e.code,
            message: e.message,
        }));
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(header_error("file", "empty_file", "the file has no codes".into()));
    }
    (rows, errors)
}

#[cfg(test)]
mod tests {
    //! The helpers the referral program calls (crate-private, so tested here), on both
    //! backends.

    use regulars_domain::{Currency, Locale, TimeZone};

    use super::*;
    use crate::Backend;

    fn admin_url() -> String {
        std::env::var("REGULARS_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".to_string())
    }

    async fn admin(sql: &str) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin_url())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL for tests (scripts/test-env): {e}"));
        sqlx::Executor::execute(&mut conn, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn fixed_codes_and_origin_rewrites(backend: Backend) {
        let dir = tempfile::tempdir().unwrap();
        let pg_name = format!("regulars_test_{}", uuid::Uuid::now_v7().simple());
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("test.db").display()),
            Backend::Postgres => {
                admin(&format!("CREATE DATABASE {pg_name}")).await;
                let admin = admin_url();
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                format!("{base}/{pg_name}")
            }
        };
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let store = db
            .create_store(
                "Chai",
                Currency::INR,
                TimeZone::parse("Asia/Kolkata").unwrap(),
                Locale::parse("hi-IN").unwrap(),
            )
            .await
            .unwrap();
        let rules = CouponRules {
            discount: Discount::Percent { basis_points: 1_000 },
            starts_at: None,
            expires_at: None,
            minimum_spend: 0,
            scope: CouponScope::default(),
            customer_id: None,
            usage_limit: None,
            per_customer_limit: None,
            stackable: false,
            first_order_only: true,
        };

        let mut tx = db.begin().await.unwrap();
        let asha = tx
            .insert_fixed_coupon(&store, "ASHA-7K2M", &rules, "referral-code:a")
            .await
            .unwrap();
        tx.insert_fixed_coupon(&store, "RAVI_X9", &rules, "referral-code:b")
            .await
            .unwrap();
        // Not ours: another origin, and one that differs only in case or has `_` where the
        // prefix has `-` (a LIKE pattern would take both).
        for (code, origin) in [
            ("OTHER-1", "reward:1"),
            ("OTHER-2", "REFERRAL-CODE:c"),
            ("OTHER-3", "referral_code:d"),
        ] {
            tx.insert_fixed_coupon(&store, code, &rules, origin)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(
            (
                asha.code.as_str(),
                asha.origin.as_str(),
                asha.first_order_only,
                asha.batch_id
            ),
            ("ASHA-7K2M", "referral-code:a", true, None)
        );

        let mut tx = db.begin().await.unwrap();
        match tx
            .insert_fixed_coupon(&store, "ASHA-7K2M", &rules, "referral-code:z")
            .await
        {
            Err(StoreError::Refused { code, .. }) => assert_eq!(code, "code_exists"),
            other => panic!("{other:?}"),
        }
        let err = tx
            .insert_fixed_coupon(&store, "asha-new", &rules, "referral-code:z")
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("code"), "{err}");
        let err = tx
            .insert_fixed_coupon(&store, "FRESH-1", &rules, " ")
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("origin"), "{err}");

        let fixed = Discount::Fixed { amount: 7_500 };
        let changed = tx
            .update_origin_coupons(&store, "referral-code:", &fixed, 20_000)
            .await
            .unwrap();
        assert_eq!(changed, 2);
        let err = tx.update_origin_coupons(&store, "", &fixed, 0).await.unwrap_err();
        assert!(err.to_string().starts_with("origin"), "{err}");
        let err = tx
            .update_origin_coupons(&store, "referral-code:", &Discount::Fixed { amount: 0 }, 0)
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("discount.amount"), "{err}");
        tx.commit().await.unwrap();

        let all = db
            .coupons(
                &store,
                &CouponFilter {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let terms: Vec<(&str, &Discount, i64)> = all
            .iter()
            .map(|c| (c.code.as_str(), &c.discount, c.minimum_spend))
            .collect();
        let ten = Discount::Percent { basis_points: 1_000 };
        for want in [
            ("ASHA-7K2M", &fixed, 20_000),
            ("RAVI_X9", &fixed, 20_000),
            ("OTHER-1", &ten, 0),
            ("OTHER-2", &ten, 0),
            ("OTHER-3", &ten, 0),
        ] {
            assert!(terms.contains(&want), "{want:?} in {terms:?}");
        }

        db.close().await;
        if backend == Backend::Postgres {
            admin(&format!("DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")).await;
        }
    }

    #[tokio::test]
    async fn fixed_codes_and_origin_rewrites_on_sqlite() {
        fixed_codes_and_origin_rewrites(Backend::Sqlite).await
    }

    #[tokio::test]
    async fn fixed_codes_and_origin_rewrites_on_postgres() {
        fixed_codes_and_origin_rewrites(Backend::Postgres).await
    }
}
