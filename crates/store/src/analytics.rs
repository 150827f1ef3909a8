//! Predictive analytics per customer, kept in the store: the chance they are still active
//! (p_alive), the purchases and the value (CLV) to expect over the next 12 months, when their
//! next purchase is due, their RFM scores and segment, and whether they are a VIP.
//!
//! A refit ([`Db::refit_store`]) reads every customer's purchases once, fits the store's
//! MBG/NBD purchase model and Gamma-Gamma spend model, stores the parameters with the RFM
//! quintile cut points and the VIP spend threshold (`analytics_models`), then writes every
//! customer's fields in batches. Between refits each order of a customer recomputes that
//! customer's fields from the stored parameters and their own purchases only
//! ([`refresh_customers`], called by the order write path), so the cut points and the
//! threshold score one customer without ranking everyone again.
//!
//! A purchase is an order that is not cancelled, voided or failed, is in the store's currency
//! and is worth something net of refunds; its day is its calendar day in the store's time zone.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use regulars_analytics::metrics::{vips, CustomerTotals, Segment, VipRule};
use regulars_analytics::summary::{summarize, Bucket, CustomerSummary, SummaryOptions, Transaction};
use regulars_analytics::{
    clv::customer_lifetime_value, compress, FitOptions, GammaGamma, History, MbgNbd, PurchaseModel,
    SpendHistory, TimeUnit, Weighted,
};
use regulars_domain::{CustomerId, StoreId, TimeZone, Timestamp};
use sea_query::{
    Alias, Expr, IntoIden, OnConflict, Query, SelectStatement, SimpleExpr, TableRef, Value, ValueTuple,
};
use serde::{Deserialize, Serialize};

use crate::schema::{AnalyticsModels, Customers, Orders};
use crate::{json_text, parse_json, Db, StoreError, StoreRecord, Tx, CHUNK};

/// Fewer buyers than this, and the models are not fitted (RFM and VIPs still are).
pub const MIN_CUSTOMERS: usize = 20;
/// The horizon of the predicted purchases and of the CLV.
pub const HORIZON_MONTHS: u32 = 12;
/// The CLV's monthly discount rate (as `lifetimes`' default).
pub const MONTHLY_DISCOUNT_RATE: f64 = 0.01;
/// Model time is counted in weeks (purchases are bucketed by day).
pub const TIME_UNIT: TimeUnit = TimeUnit::Week;
/// A next purchase is expected only of customers at least this likely to be active.
pub const EXPECTED_P_ALIVE: f64 = 0.5;
/// The L2 penalty of the fits (as `lifetimes`' `penalizer_coef`): keeps small or odd stores
/// from running a parameter to infinity.
const PENALIZER: f64 = 0.001;
/// Customers read per page of the refit.
const READ_PAGE: u64 = 2_000;
/// Customers written per transaction of the refit: short enough that orders arriving
/// meanwhile wait for milliseconds, not for the whole refit.
const WRITE_BATCH: usize = 2_000;
/// Rows per multi-row UPDATE: 11 values a row.
const UPDATE_ROWS: usize = CHUNK;
const DAY_MS: i64 = 86_400_000;

/// Why a refit left the model fields null.
pub const FAILURE_TOO_FEW_CUSTOMERS: &str = "too_few_customers";
pub const FAILURE_NO_REPEAT_BUYERS: &str = "no_repeat_buyers";
pub const FAILURE_PURCHASE_MODEL: &str = "purchase_model_failed";
pub const FAILURE_SPEND_MODEL: &str = "spend_model_failed";

/// RFM quintile cut points of the last refit: with them, one customer's scores are exactly
/// what ranking them among everyone scored at the refit would give (rank-based quintiles,
/// `regulars_analytics::metrics::rfm`). Each list holds four values, one per step from 1 to 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RfmCuts {
    /// Days since the last purchase: each cut a customer has *fewer* days than adds one.
    pub recency_days: Vec<f64>,
    /// Purchases: each cut a customer has *more* than adds one.
    pub frequency: Vec<f64>,
    /// Total spend in minor units: each cut a customer has *more* than adds one.
    pub monetary: Vec<f64>,
}

impl RfmCuts {
    /// Cut points of a population, from its values of each dimension.
    pub fn of(recency_days: &[f64], frequency: &[f64], monetary: &[f64]) -> RfmCuts {
        // score = 1 + floor(5 × worse / n), worse = how many are strictly worse: a value
        // scores above k exactly when it is better than the ceil(k n / 5)-th worst value.
        fn cuts(values: &[f64], higher_is_better: bool) -> Vec<f64> {
            let n = values.len();
            if n == 0 {
                return Vec::new();
            }
            let mut sorted = values.to_vec();
            if higher_is_better {
                sorted.sort_by(f64::total_cmp);
            } else {
                sorted.sort_by(|a, b| b.total_cmp(a));
            }
            (1..5).map(|k| sorted[(k * n).div_ceil(5) - 1]).collect()
        }
        RfmCuts {
            recency_days: cuts(recency_days, false),
            frequency: cuts(frequency, true),
            monetary: cuts(monetary, true),
        }
    }

    /// Scores (R, F, M), each 1–5.
    pub fn score(&self, recency_days: f64, frequency: f64, monetary: f64) -> (u8, u8, u8) {
        let above = |cuts: &[f64], better: &dyn Fn(f64) -> bool| {
            1 + cuts.iter().filter(|c| better(**c)).count() as u8
        };
        (
            above(&self.recency_days, &|c| recency_days < c),
            above(&self.frequency, &|c| frequency > c),
            above(&self.monetary, &|c| monetary > c),
        )
    }
}

/// The store's last refit, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyticsModel {
    pub fitted_at: Timestamp,
    /// The unit model time is measured in (`week`).
    pub time_unit: String,
    /// Customers with at least one purchase when the refit ran.
    pub customers: i64,
    /// Of them, those who bought on at least two days.
    pub repeat_buyers: i64,
    pub mbg_nbd: Option<MbgNbd>,
    pub gamma_gamma: Option<GammaGamma>,
    /// Of the MBG/NBD fit.
    pub log_likelihood: Option<f64>,
    pub rfm_cuts: RfmCuts,
    /// A VIP spent at least this much (minor units); none without buyers.
    pub vip_threshold_minor: Option<i64>,
    /// Why the model fields are null: `too_few_customers`, `no_repeat_buyers`,
    /// `purchase_model_failed` or `spend_model_failed` (then only the CLV is null).
    pub failure: Option<String>,
    pub failure_detail: Option<String>,
    pub duration_ms: i64,
}

#[derive(sqlx::FromRow)]
struct ModelRow {
    fitted_at: i64,
    time_unit: String,
    customers: i64,
    repeat_buyers: i64,
    mbg_nbd: Option<String>,
    gamma_gamma: Option<String>,
    log_likelihood: Option<f64>,
    rfm_cuts: String,
    vip_threshold_minor: Option<i64>,
    failure: Option<String>,
    failure_detail: Option<String>,
    duration_ms: i64,
}

const MODEL_COLUMNS: [AnalyticsModels; 12] = [
    AnalyticsModels::FittedAt,
    AnalyticsModels::TimeUnit,
    AnalyticsModels::Customers,
    AnalyticsModels::RepeatBuyers,
    AnalyticsModels::MbgNbd,
    AnalyticsModels::GammaGamma,
    AnalyticsModels::LogLikelihood,
    AnalyticsModels::RfmCuts,
    AnalyticsModels::VipThresholdMinor,
    AnalyticsModels::Failure,
    AnalyticsModels::FailureDetail,
    AnalyticsModels::DurationMs,
];

impl ModelRow {
    fn into_model(self) -> Result<AnalyticsModel, StoreError> {
        Ok(AnalyticsModel {
            fitted_at: Timestamp(self.fitted_at),
            time_unit: self.time_unit,
            customers: self.customers,
            repeat_buyers: self.repeat_buyers,
            mbg_nbd: self
                .mbg_nbd
                .as_deref()
                .map(|t| parse_json(t, "mbg_nbd"))
                .transpose()?,
            gamma_gamma: self
                .gamma_gamma
                .as_deref()
                .map(|t| parse_json(t, "gamma_gamma"))
                .transpose()?,
            log_likelihood: self.log_likelihood,
            rfm_cuts: parse_json(&self.rfm_cuts, "rfm_cuts")?,
            vip_threshold_minor: self.vip_threshold_minor,
            failure: self.failure,
            failure_detail: self.failure_detail,
            duration_ms: self.duration_ms,
        })
    }
}

fn model_query(store: StoreId) -> SelectStatement {
    Query::select()
        .columns(MODEL_COLUMNS)
        .from(AnalyticsModels::Table)
        .and_where(Expr::col(AnalyticsModels::StoreId).eq(store.to_string()))
        .to_owned()
}

/// What a refit did, for logs and the command line: counts and timing only.
#[derive(Debug, Clone, Serialize)]
pub struct RefitReport {
    pub store_id: StoreId,
    pub fitted_at: Timestamp,
    /// Customers with at least one purchase.
    pub customers: usize,
    pub repeat_buyers: usize,
    /// Whether the purchase model was fitted (and p_alive and predictions written).
    pub fitted: bool,
    pub failure: Option<String>,
    /// Customers whose fields were written, and those whose stale fields were cleared
    /// (no purchase any more).
    pub written: u64,
    pub cleared: u64,
    pub duration_ms: i64,
}

/// A customer's analytics fields as stored; `None` on a customer the analytics never saw
/// (no purchase, or no refit of the store yet).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerAnalytics {
    /// Probability the customer is still active, 0–1; null when the store has no model.
    pub p_alive: Option<f64>,
    pub predicted_purchases_12m: Option<f64>,
    /// Discounted value of the next 12 months' purchases, minor units of the store currency.
    pub clv_12m_minor: Option<i64>,
    /// When the next purchase is due; null when none is expected within the horizon.
    pub next_purchase_at: Option<Timestamp>,
    pub rfm: Option<RfmScore>,
    /// A segment key (`champions`, `at_risk`, …).
    pub segment: Option<String>,
    pub vip: bool,
    /// When these fields were computed.
    pub computed_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RfmScore {
    pub recency: u8,
    pub frequency: u8,
    pub monetary: u8,
}

impl RfmScore {
    /// `R-F-M`, e.g. `5-4-3`.
    pub fn code(&self) -> String {
        format!("{}-{}-{}", self.recency, self.frequency, self.monetary)
    }
}

/// The analytics columns of a customer row, read beside the rest of it.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub(crate) struct AnalyticsColumns {
    p_alive: Option<f64>,
    predicted_purchases_12m: Option<f64>,
    clv_12m_minor: Option<i64>,
    next_purchase_at: Option<i64>,
    rfm_recency: Option<i16>,
    rfm_frequency: Option<i16>,
    rfm_monetary: Option<i16>,
    rfm_segment: Option<String>,
    vip: bool,
    analytics_at: Option<i64>,
}

pub(crate) const ANALYTICS_COLUMNS: [Customers; 10] = [
    Customers::PAlive,
    Customers::PredictedPurchases12m,
    Customers::Clv12mMinor,
    Customers::NextPurchaseAt,
    Customers::RfmRecency,
    Customers::RfmFrequency,
    Customers::RfmMonetary,
    Customers::RfmSegment,
    Customers::Vip,
    Customers::AnalyticsAt,
];

impl AnalyticsColumns {
    pub(crate) fn into_analytics(self) -> Option<CustomerAnalytics> {
        let computed_at = Timestamp(self.analytics_at?);
        let small = |v: Option<i16>| v.and_then(|v| u8::try_from(v).ok());
        let rfm = match (
            small(self.rfm_recency),
            small(self.rfm_frequency),
            small(self.rfm_monetary),
        ) {
            (Some(recency), Some(frequency), Some(monetary)) => Some(RfmScore {
                recency,
                frequency,
                monetary,
            }),
            _ => None,
        };
        Some(CustomerAnalytics {
            p_alive: self.p_alive,
            predicted_purchases_12m: self.predicted_purchases_12m,
            clv_12m_minor: self.clv_12m_minor,
            next_purchase_at: self.next_purchase_at.map(Timestamp),
            rfm,
            segment: self.rfm_segment,
            vip: self.vip,
            computed_at,
        })
    }
}

/// Refuses a segment key that is not one of the 11.
pub(crate) fn check_segment(key: &str) -> Result<(), regulars_domain::FieldError> {
    match Segment::from_key(key) {
        Some(_) => Ok(()),
        None => Err(regulars_domain::FieldError::new(
            "segment",
            "invalid_segment",
            format!(
                "{key:?} is not a segment: {}",
                Segment::ALL.map(Segment::key).join(", ")
            ),
        )),
    }
}

/// Days since 1970-01-01 of the calendar day `at` falls on in `zone`.
fn local_day(at: i64, zone: &TimeZone) -> i32 {
    use chrono::Datelike;
    let date = Timestamp(at).to_datetime().with_timezone(&zone.0).date_naive();
    date.num_days_from_ce() - 719_163
}

/// The purchases of a store (see the module documentation): customer, time, net amount.
fn purchases(store: &StoreRecord) -> SelectStatement {
    Query::select()
        .columns([Orders::CustomerId, Orders::PlacedAt])
        .expr(Expr::col(Orders::Total).sub(Expr::col(Orders::RefundedTotal)))
        .from(Orders::Table)
        .and_where(Expr::col(Orders::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Orders::CancelledAt).is_null())
        .and_where(Expr::col(Orders::FinancialStatus).is_not_in(["voided", "failed"]))
        .and_where(Expr::col(Orders::Currency).eq(store.currency.code()))
        .and_where(Expr::col(Orders::Total).gt(Expr::col(Orders::RefundedTotal)))
        .to_owned()
}

/// Either side of the database: a pool or an open transaction.
enum Reader<'a> {
    Db(&'a Db),
    Tx(&'a mut Tx),
}

impl Reader<'_> {
    async fn fetch_all<T: crate::Row>(&mut self, q: &SelectStatement) -> Result<Vec<T>, StoreError> {
        match self {
            Reader::Db(db) => db.fetch_all(q).await,
            Reader::Tx(tx) => tx.fetch_all(q).await,
        }
    }
}

/// These customers' purchase summaries as of `today`, in the order of `ids` (customers
/// without a purchase are left out): `(index in ids, summary)`.
async fn summaries_of(
    reader: &mut Reader<'_>,
    store: &StoreRecord,
    ids: &[String],
    today: i32,
) -> Result<Vec<(usize, CustomerSummary)>, StoreError> {
    let index: HashMap<&str, u64> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u64))
        .collect();
    let mut transactions = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let q = purchases(store)
            .and_where(Expr::col(Orders::CustomerId).is_in(chunk.iter().map(String::as_str)))
            .to_owned();
        let rows: Vec<(Option<String>, i64, i64)> = reader.fetch_all(&q).await?;
        for (customer, placed_at, net) in rows {
            let Some(&customer) = customer.as_deref().and_then(|c| index.get(c)) else {
                continue;
            };
            transactions.push(Transaction {
                customer,
                day: local_day(placed_at, &store.timezone),
                amount: net as f64,
            });
        }
    }
    transactions.sort_unstable_by_key(|t| (t.customer, t.day));
    let options = SummaryOptions {
        bucket: Bucket::Day,
        unit: TIME_UNIT,
        observation_end: today,
    };
    Ok(summarize(&transactions, &options)
        .into_iter()
        .map(|s| (s.customer as usize, s))
        .collect())
}

/// What scores a customer: the fitted models (when they fitted) and the population's cuts.
struct Scoring {
    mbg_nbd: Option<MbgNbd>,
    gamma_gamma: Option<GammaGamma>,
    cuts: RfmCuts,
    vip_threshold: Option<f64>,
}

/// What the purchase model says of one history, shared by every customer with that history.
#[derive(Clone, Copy)]
struct Prediction {
    p_alive: f64,
    purchases: f64,
    /// The CLV of an average spend of 1: the CLV is linear in the spend.
    clv_per_spend: f64,
    next_in_days: f64,
}

/// One customer's fields, as written.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Fields {
    p_alive: Option<f64>,
    predicted: Option<f64>,
    clv_minor: Option<i64>,
    next_at: Option<i64>,
    rfm: Option<(u8, u8, u8)>,
    segment: Option<Segment>,
    vip: bool,
    at: Option<i64>,
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

impl Scoring {
    fn from_model(model: &AnalyticsModel) -> Scoring {
        Scoring {
            mbg_nbd: model.mbg_nbd,
            gamma_gamma: model.gamma_gamma,
            cuts: model.rfm_cuts.clone(),
            vip_threshold: model.vip_threshold_minor.map(|t| t as f64),
        }
    }

    fn predict(bg: &MbgNbd, history: &History) -> Prediction {
        let horizon = f64::from(HORIZON_MONTHS) * TIME_UNIT.per_month();
        Prediction {
            p_alive: bg.p_alive(history),
            purchases: bg.conditional_expected_purchases(horizon, history),
            clv_per_spend: customer_lifetime_value(
                bg,
                history,
                1.0,
                HORIZON_MONTHS,
                MONTHLY_DISCOUNT_RATE,
                TIME_UNIT,
            ),
            next_in_days: bg.next_purchase_in(history) * TIME_UNIT.days(),
        }
    }

    /// The fields of a customer with this summary, on `today` at `now`.
    fn fields(
        &self,
        s: &CustomerSummary,
        today: i32,
        now: i64,
        cache: &mut HashMap<[u64; 3], Prediction>,
    ) -> Fields {
        let recency_days = f64::from(today - s.last_day);
        let (r, f, m) = self.cuts.score(recency_days, f64::from(s.transactions), s.total);
        let mut out = Fields {
            rfm: Some((r, f, m)),
            segment: Some(Segment::of(r, f, m)),
            vip: s.total > 0.0 && self.vip_threshold.is_some_and(|t| s.total >= t),
            at: Some(now),
            ..Fields::default()
        };
        let Some(bg) = &self.mbg_nbd else {
            return out;
        };
        let h = s.history;
        let key = [h.frequency.to_bits(), h.recency.to_bits(), h.age.to_bits()];
        let p = *cache.entry(key).or_insert_with(|| Scoring::predict(bg, &h));
        out.p_alive = finite(p.p_alive).map(|v| v.clamp(0.0, 1.0));
        out.predicted = finite(p.purchases).map(|v| v.max(0.0));
        if let Some(gg) = &self.gamma_gamma {
            let spend = gg.expected_average_spend(h.frequency, s.monetary);
            out.clv_minor =
                finite(p.clv_per_spend * spend).map(|v| v.max(0.0).round().min(i64::MAX as f64) as i64);
        }
        let horizon_days = f64::from(HORIZON_MONTHS) * TimeUnit::Month.days();
        if out.p_alive.is_some_and(|a| a >= EXPECTED_P_ALIVE)
            && p.next_in_days.is_finite()
            && p.next_in_days <= horizon_days
        {
            out.next_at = Some(now + (p.next_in_days.max(0.0) * DAY_MS as f64).round() as i64);
        }
        out
    }
}

/// Writes these customers' fields. With `written_before`, a customer whose fields were
/// computed after it (an order of theirs arrived during the refit) keeps them.
async fn write_fields(
    tx: &mut Tx,
    store: StoreId,
    rows: &[(String, Fields)],
    written_before: Option<i64>,
) -> Result<u64, StoreError> {
    let v = Alias::new("v");
    let col = |n: usize| Expr::col((v.clone(), Alias::new(format!("column{n}"))));
    let mut written = 0;
    for chunk in rows.chunks(UPDATE_ROWS) {
        let tuples: Vec<ValueTuple> = chunk
            .iter()
            .map(|(id, f)| {
                let score = |i: usize| f.rfm.map(|s| i16::from([s.0, s.1, s.2][i]));
                ValueTuple::Many(vec![
                    id.clone().into(),
                    f.p_alive.into(),
                    f.predicted.into(),
                    f.clv_minor.into(),
                    f.next_at.into(),
                    score(0).into(),
                    score(1).into(),
                    score(2).into(),
                    f.segment.map(|s| s.key().to_string()).into(),
                    Value::Bool(Some(f.vip)),
                    f.at.into(),
                ])
            })
            .collect();
        let mut q = Query::update();
        q.table(Customers::Table)
            .values(
                ANALYTICS_COLUMNS
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (*c, SimpleExpr::from(col(i + 2)))),
            )
            .from(TableRef::ValuesList(tuples, v.clone().into_iden()))
            // `|| ''` keeps SQLite from walking the store's customers through an index that
            // starts with the store and probing the values for each: the plan must be one
            // primary-key lookup per row of values (PostgreSQL finds that plan either way).
            .and_where(Expr::expr(Expr::cust("(\"customers\".\"store_id\" || '')")).eq(store.to_string()))
            .and_where(
                Expr::col((Customers::Table, Customers::Id)).equals((v.clone(), Alias::new("column1"))),
            );
        if let Some(before) = written_before {
            let at = Expr::col((Customers::Table, Customers::AnalyticsAt));
            q.and_where(at.clone().is_null().or(at.lte(before)));
        }
        written += tx.execute(&q).await?;
    }
    Ok(written)
}

/// Recomputes these customers' fields from the store's stored model and their own purchases;
/// nothing when the store was never refitted. Runs inside the write that changed their orders.
pub(crate) async fn refresh_customers(
    tx: &mut Tx,
    store: &StoreRecord,
    customers: &HashSet<String>,
) -> Result<(), StoreError> {
    if customers.is_empty() {
        return Ok(());
    }
    let Some(row) = tx.fetch_optional::<ModelRow>(&model_query(store.id)).await? else {
        return Ok(());
    };
    let scoring = Scoring::from_model(&row.into_model()?);
    let now = Timestamp::now().0;
    let today = local_day(now, &store.timezone);
    let mut ids: Vec<String> = customers.iter().cloned().collect();
    ids.sort();
    let summaries = summaries_of(&mut Reader::Tx(tx), store, &ids, today).await?;
    let mut fields = vec![Fields::default(); ids.len()];
    let mut cache = HashMap::new();
    for (i, s) in &summaries {
        fields[*i] = scoring.fields(s, today, now, &mut cache);
    }
    let rows: Vec<(String, Fields)> = ids.into_iter().zip(fields).collect();
    write_fields(tx, store.id, &rows, None).await?;
    Ok(())
}

/// The outcome of fitting: the models that fitted and why the others did not.
struct Fitted {
    mbg_nbd: Option<(MbgNbd, f64)>,
    gamma_gamma: Option<GammaGamma>,
    failure: Option<(&'static str, String)>,
}

fn sane(params: &[f64]) -> bool {
    params.iter().all(|p| p.is_finite() && *p > 0.0)
}

/// Fits MBG/NBD on the compressed histories and Gamma-Gamma on the repeat buyers' spend.
fn fit_models(summaries: &[(u128, CustomerSummary)], repeat_buyers: usize) -> Fitted {
    let mut out = Fitted {
        mbg_nbd: None,
        gamma_gamma: None,
        failure: None,
    };
    if summaries.len() < MIN_CUSTOMERS {
        out.failure = Some((
            FAILURE_TOO_FEW_CUSTOMERS,
            format!(
                "{} customers with purchases; the models need at least {MIN_CUSTOMERS}",
                summaries.len()
            ),
        ));
        return out;
    }
    if repeat_buyers == 0 {
        out.failure = Some((
            FAILURE_NO_REPEAT_BUYERS,
            "no customer bought on two different days".into(),
        ));
        return out;
    }
    let options = FitOptions {
        penalizer: PENALIZER,
        ..FitOptions::default()
    };
    let rows: Vec<Weighted> = compress(summaries.iter().map(|(_, s)| s.history));
    match MbgNbd::fit(&rows, &options) {
        Ok(fit) if sane(&[fit.model.r, fit.model.alpha, fit.model.a, fit.model.b]) => {
            out.mbg_nbd = Some((fit.model, fit.log_likelihood));
        }
        Ok(fit) => {
            out.failure = Some((
                FAILURE_PURCHASE_MODEL,
                format!("the fitted parameters are not usable: {:?}", fit.model),
            ));
            return out;
        }
        Err(e) => {
            out.failure = Some((FAILURE_PURCHASE_MODEL, e.to_string()));
            return out;
        }
    }
    // The spend model is fitted on spend in units of the average repeat buyer's spend (so
    // that the penalty means the same in every currency), then scaled back: scaling spend
    // scales v alone.
    let repeat: Vec<&CustomerSummary> = summaries
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.history.frequency > 0.0 && s.monetary > 0.0)
        .collect();
    let scale = repeat.iter().map(|s| s.monetary).sum::<f64>() / repeat.len().max(1) as f64;
    let mut spend: HashMap<(u64, u64), f64> = HashMap::new();
    for s in &repeat {
        *spend
            .entry((s.history.frequency.to_bits(), (s.monetary / scale).to_bits()))
            .or_default() += 1.0;
    }
    let mut spend: Vec<SpendHistory> = spend
        .into_iter()
        .map(|((x, m), weight)| SpendHistory {
            frequency: f64::from_bits(x),
            monetary: f64::from_bits(m),
            weight,
        })
        .collect();
    spend.sort_by(|a, b| {
        a.frequency
            .total_cmp(&b.frequency)
            .then(a.monetary.total_cmp(&b.monetary))
    });
    match GammaGamma::fit(&spend, &options) {
        Ok(fit) if sane(&[fit.model.p, fit.model.q, fit.model.v * scale]) && fit.model.q > 1.0 => {
            out.gamma_gamma = Some(GammaGamma {
                v: fit.model.v * scale,
                ..fit.model
            })
        }
        Ok(fit) => {
            out.failure = Some((
                FAILURE_SPEND_MODEL,
                format!(
                    "the fitted parameters give no finite average spend (q must be above 1): {:?}",
                    fit.model
                ),
            ))
        }
        Err(e) => out.failure = Some((FAILURE_SPEND_MODEL, e.to_string())),
    }
    out
}

impl Db {
    /// The store's last refit, if it ever ran.
    pub async fn analytics_model(&self, store: StoreId) -> Result<Option<AnalyticsModel>, StoreError> {
        self.fetch_optional::<ModelRow>(&model_query(store))
            .await?
            .map(ModelRow::into_model)
            .transpose()
    }

    /// Refits the store's models on every customer's purchases and rewrites every customer's
    /// analytics fields (see the module documentation). Safe while orders arrive: the fields
    /// of a customer who ordered during the refit are the ones their order computed.
    pub async fn refit_store(&self, store: StoreId) -> Result<RefitReport, StoreError> {
        let started = Instant::now();
        let store = self.store(store).await?;
        let now = Timestamp::now().0;
        let today = local_day(now, &store.timezone);

        // 1. Every buyer's summary, a page of customers at a time.
        let mut summaries: Vec<(u128, CustomerSummary)> = Vec::new();
        let mut stale: Vec<String> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            // A walk of the (store, id) index.
            let mut q = Query::select();
            q.columns([Customers::Id, Customers::AnalyticsAt])
                .from(Customers::Table)
                .and_where(Expr::col(Customers::StoreId).eq(store.id.to_string()));
            if let Some(id) = &after {
                q.and_where(Expr::col(Customers::Id).gt(id.as_str()));
            }
            q.order_by(Customers::Id, sea_query::Order::Asc).limit(READ_PAGE);
            let page: Vec<(String, Option<i64>)> = self.fetch_all(&q).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.0.clone());
            let ids: Vec<String> = page.iter().map(|p| p.0.clone()).collect();
            let found = summaries_of(&mut Reader::Db(self), &store, &ids, today).await?;
            let mut bought = vec![false; ids.len()];
            for (i, s) in found {
                bought[i] = true;
                let id = CustomerId::parse(&ids[i])
                    .map_err(|e| StoreError::Corrupt(format!("customer id: {e}")))?;
                summaries.push((id.0.as_u128(), s));
            }
            stale.extend(
                page.into_iter()
                    .zip(bought)
                    .filter(|((_, at), bought)| at.is_some() && !bought)
                    .map(|((id, _), _)| id),
            );
            if (ids.len() as u64) < READ_PAGE {
                break;
            }
        }
        let repeat_buyers = summaries
            .iter()
            .filter(|(_, s)| s.history.frequency > 0.0)
            .count();

        // 2. RFM cut points, the VIP threshold, and the models (CPU work, off the runtime).
        let (summaries, scoring, fitted) = tokio::task::spawn_blocking(move || {
            let recency: Vec<f64> = summaries
                .iter()
                .map(|(_, s)| f64::from(today - s.last_day))
                .collect();
            let frequency: Vec<f64> = summaries.iter().map(|(_, s)| f64::from(s.transactions)).collect();
            let monetary: Vec<f64> = summaries.iter().map(|(_, s)| s.total).collect();
            let cuts = RfmCuts::of(&recency, &frequency, &monetary);
            let totals: Vec<CustomerTotals> = summaries
                .iter()
                .enumerate()
                .map(|(i, (_, s))| CustomerTotals {
                    customer: i as u64,
                    orders: s.transactions,
                    total: s.total,
                    first_day: s.first_day,
                    last_day: s.last_day,
                })
                .collect();
            let vip_threshold = vips(&totals, VipRule::default())
                .last()
                .map(|i| totals[*i as usize].total);
            drop(totals);
            let fitted = fit_models(&summaries, repeat_buyers);
            let scoring = Scoring {
                mbg_nbd: fitted.mbg_nbd.map(|(m, _)| m),
                gamma_gamma: fitted.gamma_gamma,
                cuts,
                vip_threshold,
            };
            (summaries, scoring, fitted)
        })
        .await
        .map_err(|e| StoreError::Corrupt(format!("the refit stopped: {e}")))?;

        // 3. The model first, so that orders arriving from now on are scored with it.
        let (failure, failure_detail) = match &fitted.failure {
            Some((code, detail)) => (Some(code.to_string()), Some(detail.clone())),
            None => (None, None),
        };
        let model = AnalyticsModel {
            fitted_at: Timestamp(now),
            time_unit: "week".into(),
            customers: summaries.len() as i64,
            repeat_buyers: repeat_buyers as i64,
            mbg_nbd: scoring.mbg_nbd,
            gamma_gamma: scoring.gamma_gamma,
            log_likelihood: fitted.mbg_nbd.map(|(_, ll)| ll).and_then(finite),
            rfm_cuts: scoring.cuts.clone(),
            vip_threshold_minor: scoring.vip_threshold.map(|t| t.round() as i64),
            failure,
            failure_detail,
            duration_ms: started.elapsed().as_millis() as i64,
        };
        let mut tx = self.begin().await?;
        save_model(&mut tx, store.id, &model).await?;
        tx.commit().await?;

        // 4. Every customer's fields, a short transaction per batch.
        let mut cache = HashMap::new();
        let mut written = 0;
        for batch in summaries.chunks(WRITE_BATCH) {
            let rows: Vec<(String, Fields)> = batch
                .iter()
                .map(|(id, s)| {
                    (
                        uuid::Uuid::from_u128(*id).to_string(),
                        scoring.fields(s, today, now, &mut cache),
                    )
                })
                .collect();
            let mut tx = self.begin().await?;
            tx.lock_store(store.id).await?;
            written += write_fields(&mut tx, store.id, &rows, Some(now)).await?;
            tx.commit().await?;
        }
        let mut cleared = 0;
        for batch in stale.chunks(WRITE_BATCH) {
            let rows: Vec<(String, Fields)> =
                batch.iter().map(|id| (id.clone(), Fields::default())).collect();
            let mut tx = self.begin().await?;
            tx.lock_store(store.id).await?;
            cleared += write_fields(&mut tx, store.id, &rows, Some(now)).await?;
            tx.commit().await?;
        }
        let duration_ms = started.elapsed().as_millis() as i64;
        let q = Query::update()
            .table(AnalyticsModels::Table)
            .value(AnalyticsModels::DurationMs, duration_ms)
            .and_where(Expr::col(AnalyticsModels::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(AnalyticsModels::FittedAt).eq(now))
            .to_owned();
        self.execute(&q).await?;
        Ok(RefitReport {
            store_id: store.id,
            fitted_at: Timestamp(now),
            customers: summaries.len(),
            repeat_buyers,
            fitted: scoring.mbg_nbd.is_some(),
            failure: model.failure,
            written,
            cleared,
            duration_ms,
        })
    }

    /// Recomputes one customer's fields from the stored model (no refit); nothing when the
    /// store was never refitted.
    pub async fn refresh_customer(&self, store: StoreId, customer: CustomerId) -> Result<(), StoreError> {
        let record = self.store(store).await?;
        let mut tx = self.begin().await?;
        tx.lock_store(store).await?;
        refresh_customers(&mut tx, &record, &HashSet::from([customer.to_string()])).await?;
        tx.commit().await
    }
}

async fn save_model(tx: &mut Tx, store: StoreId, m: &AnalyticsModel) -> Result<(), StoreError> {
    let values: [(AnalyticsModels, SimpleExpr); 12] = [
        (AnalyticsModels::FittedAt, m.fitted_at.0.into()),
        (AnalyticsModels::TimeUnit, m.time_unit.clone().into()),
        (AnalyticsModels::Customers, m.customers.into()),
        (AnalyticsModels::RepeatBuyers, m.repeat_buyers.into()),
        (AnalyticsModels::MbgNbd, m.mbg_nbd.as_ref().map(json_text).into()),
        (
            AnalyticsModels::GammaGamma,
            m.gamma_gamma.as_ref().map(json_text).into(),
        ),
        (AnalyticsModels::LogLikelihood, m.log_likelihood.into()),
        (AnalyticsModels::RfmCuts, json_text(&m.rfm_cuts).into()),
        (AnalyticsModels::VipThresholdMinor, m.vip_threshold_minor.into()),
        (AnalyticsModels::Failure, m.failure.clone().into()),
        (AnalyticsModels::FailureDetail, m.failure_detail.clone().into()),
        (AnalyticsModels::DurationMs, m.duration_ms.into()),
    ];
    let q = Query::insert()
        .into_table(AnalyticsModels::Table)
        .columns(std::iter::once(AnalyticsModels::StoreId).chain(values.iter().map(|(c, _)| *c)))
        .values_panic(
            std::iter::once(SimpleExpr::from(store.to_string())).chain(values.iter().map(|(_, v)| v.clone())),
        )
        .on_conflict(
            OnConflict::column(AnalyticsModels::StoreId)
                .update_columns(values.iter().map(|(c, _)| *c))
                .to_owned(),
        )
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use regulars_analytics::metrics::quintile_scores;

    #[test]
    fn cut_points_score_like_ranking_everyone() {
        let mut seed = 7u64;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        for n in [1usize, 2, 3, 4, 5, 7, 10, 23, 100, 257] {
            let recency: Vec<f64> = (0..n).map(|_| next(40) as f64).collect();
            let frequency: Vec<f64> = (0..n).map(|_| (1 + next(3)) as f64).collect();
            let monetary: Vec<f64> = (0..n).map(|_| (next(10) * 1000) as f64).collect();
            let cuts = RfmCuts::of(&recency, &frequency, &monetary);
            let r = quintile_scores(&recency, false);
            let f = quintile_scores(&frequency, true);
            let m = quintile_scores(&monetary, true);
            for i in 0..n {
                assert_eq!(
                    cuts.score(recency[i], frequency[i], monetary[i]),
                    (r[i], f[i], m[i]),
                    "n={n} i={i}"
                );
            }
        }
    }

    #[test]
    fn days_are_the_stores_calendar_days() {
        let kolkata = TimeZone::parse("Asia/Kolkata").unwrap();
        let new_york = TimeZone::parse("America/New_York").unwrap();
        // 2026-01-31T20:00:00Z: already 1 February in Kolkata, still 31 January in New York.
        let at = Timestamp::parse_rfc3339("2026-01-31T20:00:00Z").unwrap().0;
        let feb_1 = regulars_analytics::summary::day_from_date(2026, 2, 1).unwrap();
        assert_eq!(local_day(at, &kolkata), feb_1);
        assert_eq!(local_day(at, &new_york), feb_1 - 1);
        assert_eq!(local_day(0, &TimeZone::parse("UTC").unwrap()), 0);
    }

    #[test]
    fn column_names_match_the_migration() {
        use sea_query::Iden;
        let names: Vec<String> = ANALYTICS_COLUMNS.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            names,
            [
                "p_alive",
                "predicted_purchases_12m",
                "clv_12m_minor",
                "next_purchase_at",
                "rfm_recency",
                "rfm_frequency",
                "rfm_monetary",
                "rfm_segment",
                "vip",
                "analytics_at"
            ]
        );
    }
}
