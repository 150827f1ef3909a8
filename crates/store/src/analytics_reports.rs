//! The Analytics pages' figures (PRODUCT §2): the retention KPIs against the team's targets,
//! the cohort retention matrix and curve, the RFM grid, the distribution of customer value, a
//! backtest of the purchase model, and acquisition cost against lifetime value per channel.
//!
//! [`Db::analytics_report`] reads every counted order of the store once — its customer, its
//! calendar day in the store's time zone and its amount, counted as the overview counts
//! revenue: not cancelled, in the store's currency, net of refunds — and the buyers' acquisition
//! channel, recorded acquisition cost and predicted 12-month CLV, then computes everything with
//! `regulars_analytics` on a blocking thread. The report depends on orders and customers only;
//! the targets and the marketing spend staff enter are a few rows, read fresh for every page
//! ([`Db::kpi_targets`], [`Db::marketing_spend`]) and combined with the report by
//! [`kpi_figures`] and [`channel_economics`], so a cached report never hides a change a person
//! just made.

use std::collections::{BTreeMap, HashMap};

use futures::TryStreamExt;
use regulars_analytics::metrics::{self, Cohort, CohortMatrix, VipRule};
use regulars_analytics::summary::{summarize, Bucket, SummaryOptions, Transaction};
use regulars_analytics::{compress, FitError, FitOptions, MbgNbd, PurchaseModel, TimeUnit};
use regulars_domain::{new_id, FieldError, StoreId, Timestamp, UserId};
use sea_query::{
    Alias, Expr, Iden, OnConflict, Order, PostgresQueryBuilder, Query, SelectStatement, SqliteQueryBuilder,
};
use sea_query_binder::SqlxBinder;

pub use regulars_analytics::metrics::{RetentionPoint, Segment, YearMonth};

use crate::schema::{Customers, Orders, Users};
use crate::{Db, Row, StoreError, StoreRecord};

#[derive(Iden, Clone, Copy)]
enum KpiTargets {
    Table,
    Id,
    StoreId,
    Kpi,
    Target,
    SetBy,
    SetAt,
}

#[derive(Iden, Clone, Copy)]
enum MarketingSpend {
    Table,
    StoreId,
    Channel,
    Month,
    AmountMinor,
    SetBy,
    SetAt,
}

/// First-order months shown in the cohort matrix (the current month included).
pub const COHORT_MONTHS: i32 = 18;
/// Weeks the purchase model is tested on: fitted on everything before them, it predicts them.
pub const HOLDOUT_WEEKS: i32 = 13;
/// The least history before the holdout weeks that a fit is tried on.
const MIN_CALIBRATION_DAYS: i32 = 84;
/// Months (the current one included) over which acquisition cost per channel is measured.
pub const CHANNEL_MONTHS: i32 = 12;
/// Rates and purchase frequency are stored × 10,000 (basis points).
pub const KPI_SCALE: f64 = 10_000.0;
const MAX_CHANNEL_CHARS: usize = 60;

// ---------------------------------------------------------------------------------------------
// KPIs and targets

/// The retention KPIs of PRODUCT §2 that a team sets targets for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kpi {
    /// Of every customer who ever bought, the share who bought at least twice.
    RepeatPurchaseRate,
    /// Of the customers who bought in the month before last, the share who bought again last
    /// month (complete calendar months of the store's time zone).
    RetentionRate,
    /// 1 − retention rate.
    ChurnRate,
    /// Orders per customer over the last 365 days.
    PurchaseFrequency,
    /// Net revenue per order over the last 365 days.
    AverageOrderValue,
    /// Net revenue per customer who ever bought.
    HistoricClv,
}

/// How a KPI's value is written and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KpiUnit {
    /// A share, entered in per cent and stored in basis points (25 % = 2500).
    Percent,
    /// A plain number, stored × 10,000 (1.85 = 18500).
    Number,
    /// Money in the store's minor units.
    Money,
}

impl Kpi {
    pub const ALL: [Kpi; 6] = [
        Kpi::RepeatPurchaseRate,
        Kpi::RetentionRate,
        Kpi::ChurnRate,
        Kpi::PurchaseFrequency,
        Kpi::AverageOrderValue,
        Kpi::HistoricClv,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Kpi::RepeatPurchaseRate => "repeat_purchase_rate",
            Kpi::RetentionRate => "retention_rate",
            Kpi::ChurnRate => "churn_rate",
            Kpi::PurchaseFrequency => "purchase_frequency",
            Kpi::AverageOrderValue => "average_order_value",
            Kpi::HistoricClv => "historic_clv",
        }
    }

    pub fn from_key(key: &str) -> Option<Kpi> {
        Kpi::ALL.into_iter().find(|k| k.key() == key)
    }

    pub fn unit(self) -> KpiUnit {
        match self {
            Kpi::RepeatPurchaseRate | Kpi::RetentionRate | Kpi::ChurnRate => KpiUnit::Percent,
            Kpi::PurchaseFrequency => KpiUnit::Number,
            Kpi::AverageOrderValue | Kpi::HistoricClv => KpiUnit::Money,
        }
    }

    /// Churn is the one KPI a team wants low.
    pub fn lower_is_better(self) -> bool {
        self == Kpi::ChurnRate
    }

    /// A value as the report computes it (a ratio, orders per customer, minor units) in the
    /// integer form targets are stored in.
    pub fn stored(self, value: f64) -> i64 {
        match self.unit() {
            KpiUnit::Percent | KpiUnit::Number => (value * KPI_SCALE).round() as i64,
            KpiUnit::Money => value.round() as i64,
        }
    }

    /// Checks a target in its stored form.
    pub fn check_target(self, target: i64) -> Result<(), FieldError> {
        let field = format!("target_{}", self.key());
        if target < 0 {
            return Err(FieldError::new(
                field,
                "negative_target",
                "a target cannot be negative",
            ));
        }
        if self.unit() == KpiUnit::Percent && target > 10_000 {
            return Err(FieldError::new(
                field,
                "target_above_100",
                "a rate cannot be above 100 %",
            ));
        }
        Ok(())
    }
}

/// The target a KPI has now: the latest one set.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiTarget {
    pub kpi: Kpi,
    /// In the KPI's stored form (see [`KpiUnit`]).
    pub target: i64,
    /// The email of who set it (`None` once they no longer exist).
    pub set_by: Option<String>,
    pub set_at: Timestamp,
}

/// Whether a KPI meets its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KpiStatus {
    Met,
    Behind,
    /// Nobody set a target.
    NoTarget,
    /// The store has no data for this KPI yet.
    NoValue,
}

/// A KPI's value beside its target.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiFigure {
    pub kpi: Kpi,
    /// As computed: a ratio (0.25), orders per customer, or minor units.
    pub value: Option<f64>,
    pub target: Option<KpiTarget>,
    pub status: KpiStatus,
}

/// Each KPI of the report with its current target and whether it is met (at or above the
/// target; at or below it for churn, compared in the stored integer form).
pub fn kpi_figures(report: &AnalyticsReport, targets: &[KpiTarget]) -> Vec<KpiFigure> {
    Kpi::ALL
        .into_iter()
        .map(|kpi| {
            let value = report.kpis.value(kpi);
            let target = targets.iter().find(|t| t.kpi == kpi).cloned();
            let status = match (value, &target) {
                (None, _) => KpiStatus::NoValue,
                (Some(_), None) => KpiStatus::NoTarget,
                (Some(v), Some(t)) => {
                    let v = kpi.stored(v);
                    let met = if kpi.lower_is_better() {
                        v <= t.target
                    } else {
                        v >= t.target
                    };
                    if met {
                        KpiStatus::Met
                    } else {
                        KpiStatus::Behind
                    }
                }
            };
            KpiFigure {
                kpi,
                value,
                target,
                status,
            }
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct TargetRow {
    kpi: String,
    target: Option<i64>,
    set_at: i64,
    email: Option<String>,
}

fn targets_query(store: StoreId) -> SelectStatement {
    Query::select()
        .column((KpiTargets::Table, KpiTargets::Kpi))
        .column((KpiTargets::Table, KpiTargets::Target))
        .column((KpiTargets::Table, KpiTargets::SetAt))
        .column((Users::Table, Users::Email))
        .from(KpiTargets::Table)
        .left_join(
            Users::Table,
            Expr::col((Users::Table, Users::Id)).equals((KpiTargets::Table, KpiTargets::SetBy)),
        )
        .and_where(Expr::col((KpiTargets::Table, KpiTargets::StoreId)).eq(store.to_string()))
        .order_by((KpiTargets::Table, KpiTargets::SetAt), Order::Desc)
        .order_by((KpiTargets::Table, KpiTargets::Id), Order::Desc)
        .to_owned()
}

/// The latest row of each KPI; a row without a value means its target was cleared.
fn current_targets(rows: Vec<TargetRow>) -> Vec<KpiTarget> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for row in rows {
        let Some(kpi) = Kpi::from_key(&row.kpi) else {
            continue;
        };
        if seen.contains(&kpi) {
            continue;
        }
        seen.push(kpi);
        if let Some(target) = row.target {
            out.push(KpiTarget {
                kpi,
                target,
                set_by: row.email,
                set_at: Timestamp(row.set_at),
            });
        }
    }
    out.sort_by_key(|t| Kpi::ALL.iter().position(|k| *k == t.kpi));
    out
}

impl Db {
    /// The store's current KPI targets (every change is kept; the latest counts).
    pub async fn kpi_targets(&self, store: StoreId) -> Result<Vec<KpiTarget>, StoreError> {
        Ok(current_targets(self.fetch_all(&targets_query(store)).await?))
    }

    /// Sets (`Some`) or clears (`None`) targets, each in its stored form. Only real changes
    /// are written, as new rows of the history; returns how many KPIs changed.
    pub async fn set_kpi_targets(
        &self,
        store: StoreId,
        by: UserId,
        changes: &[(Kpi, Option<i64>)],
    ) -> Result<usize, StoreError> {
        for (kpi, target) in changes {
            if let Some(t) = target {
                kpi.check_target(*t)?;
            }
        }
        let mut tx = self.begin().await?;
        let current = current_targets(tx.fetch_all(&targets_query(store)).await?);
        let now = Timestamp::now();
        let mut changed = 0;
        for (kpi, target) in changes {
            let was = current.iter().find(|t| t.kpi == *kpi).map(|t| t.target);
            if was == *target {
                continue;
            }
            let q = Query::insert()
                .into_table(KpiTargets::Table)
                .columns([
                    KpiTargets::Id,
                    KpiTargets::StoreId,
                    KpiTargets::Kpi,
                    KpiTargets::Target,
                    KpiTargets::SetBy,
                    KpiTargets::SetAt,
                ])
                .values_panic([
                    new_id().to_string().into(),
                    store.to_string().into(),
                    kpi.key().into(),
                    (*target).into(),
                    by.to_string().into(),
                    now.0.into(),
                ])
                .to_owned();
            tx.execute(&q).await?;
            changed += 1;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

// ---------------------------------------------------------------------------------------------
// Marketing spend

/// Money spent on one acquisition channel in one month.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendEntry {
    pub channel: String,
    pub month: YearMonth,
    pub amount_minor: i64,
    pub set_by: Option<String>,
    pub set_at: Timestamp,
}

/// A channel as spend and customers are matched: trimmed, lower case (`Instagram ` and
/// `instagram` are one channel).
pub fn normalize_channel(channel: &str) -> String {
    channel.trim().to_lowercase()
}

/// `YYYY-MM`, as `<input type=month>` sends it.
pub fn parse_month(s: &str) -> Result<YearMonth, FieldError> {
    let bad = || {
        FieldError::new(
            "month",
            "invalid_month",
            format!("{s:?} is not a month (YYYY-MM)"),
        )
    };
    let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u32 = m.parse().map_err(|_| bad())?;
    if !(1970..=2200).contains(&year) || !(1..=12).contains(&month) {
        return Err(bad());
    }
    Ok(YearMonth { year, month })
}

#[derive(sqlx::FromRow)]
struct SpendRow {
    channel: String,
    month: String,
    amount_minor: i64,
    set_at: i64,
    email: Option<String>,
}

impl Db {
    /// Every spend entry of the store, newest month first.
    pub async fn marketing_spend(&self, store: StoreId) -> Result<Vec<SpendEntry>, StoreError> {
        let q = Query::select()
            .column((MarketingSpend::Table, MarketingSpend::Channel))
            .column((MarketingSpend::Table, MarketingSpend::Month))
            .column((MarketingSpend::Table, MarketingSpend::AmountMinor))
            .column((MarketingSpend::Table, MarketingSpend::SetAt))
            .column((Users::Table, Users::Email))
            .from(MarketingSpend::Table)
            .left_join(
                Users::Table,
                Expr::col((Users::Table, Users::Id)).equals((MarketingSpend::Table, MarketingSpend::SetBy)),
            )
            .and_where(Expr::col((MarketingSpend::Table, MarketingSpend::StoreId)).eq(store.to_string()))
            .order_by((MarketingSpend::Table, MarketingSpend::Month), Order::Desc)
            .order_by((MarketingSpend::Table, MarketingSpend::Channel), Order::Asc)
            .to_owned();
        let rows: Vec<SpendRow> = self.fetch_all(&q).await?;
        rows.into_iter()
            .map(|r| {
                Ok(SpendEntry {
                    month: parse_month(&r.month)
                        .map_err(|e| StoreError::Corrupt(format!("marketing_spend.month: {e}")))?,
                    channel: r.channel,
                    amount_minor: r.amount_minor,
                    set_by: r.email,
                    set_at: Timestamp(r.set_at),
                })
            })
            .collect()
    }

    /// Records what a channel cost in a month (replacing an earlier amount), or with `None`
    /// removes the entry. The channel is matched to customers' acquisition channel as
    /// [`normalize_channel`] writes it.
    pub async fn set_marketing_spend(
        &self,
        store: StoreId,
        by: UserId,
        channel: &str,
        month: YearMonth,
        amount_minor: Option<i64>,
    ) -> Result<(), StoreError> {
        let channel = normalize_channel(channel);
        if channel.is_empty() {
            return Err(FieldError::new("channel", "empty_channel", "name the channel").into());
        }
        if channel.chars().count() > MAX_CHANNEL_CHARS {
            return Err(FieldError::new(
                "channel",
                "channel_too_long",
                format!("a channel has at most {MAX_CHANNEL_CHARS} characters"),
            )
            .into());
        }
        if amount_minor.is_some_and(|a| a < 0) {
            return Err(FieldError::new("amount", "negative_amount", "spend cannot be negative").into());
        }
        let month = month.to_string();
        let Some(amount) = amount_minor else {
            let q = Query::delete()
                .from_table(MarketingSpend::Table)
                .and_where(Expr::col(MarketingSpend::StoreId).eq(store.to_string()))
                .and_where(Expr::col(MarketingSpend::Channel).eq(channel.as_str()))
                .and_where(Expr::col(MarketingSpend::Month).eq(month.as_str()))
                .to_owned();
            self.execute(&q).await?;
            return Ok(());
        };
        let q = Query::insert()
            .into_table(MarketingSpend::Table)
            .columns([
                MarketingSpend::StoreId,
                MarketingSpend::Channel,
                MarketingSpend::Month,
                MarketingSpend::AmountMinor,
                MarketingSpend::SetBy,
                MarketingSpend::SetAt,
            ])
            .values_panic([
                store.to_string().into(),
                channel.into(),
                month.into(),
                amount.into(),
                by.to_string().into(),
                Timestamp::now().0.into(),
            ])
            .on_conflict(
                OnConflict::columns([
                    MarketingSpend::StoreId,
                    MarketingSpend::Channel,
                    MarketingSpend::Month,
                ])
                .update_columns([
                    MarketingSpend::AmountMinor,
                    MarketingSpend::SetBy,
                    MarketingSpend::SetAt,
                ])
                .to_owned(),
            )
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }

    /// Spend entries written without a person (sample data).
    pub async fn insert_marketing_spend(
        &self,
        store: StoreId,
        entries: &[(String, YearMonth, i64)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for chunk in entries.chunks(crate::CHUNK) {
            let mut q = Query::insert();
            q.into_table(MarketingSpend::Table).columns([
                MarketingSpend::StoreId,
                MarketingSpend::Channel,
                MarketingSpend::Month,
                MarketingSpend::AmountMinor,
                MarketingSpend::SetAt,
            ]);
            for (channel, month, amount) in chunk {
                q.values_panic([
                    store.to_string().into(),
                    normalize_channel(channel).into(),
                    month.to_string().into(),
                    (*amount).into(),
                    Timestamp::now().0.into(),
                ]);
            }
            q.on_conflict(
                OnConflict::columns([
                    MarketingSpend::StoreId,
                    MarketingSpend::Channel,
                    MarketingSpend::Month,
                ])
                .update_columns([MarketingSpend::AmountMinor, MarketingSpend::SetAt])
                .to_owned(),
            );
            tx.execute(&q).await?;
        }
        tx.commit().await
    }
}

// ---------------------------------------------------------------------------------------------
// The report

/// Everything the Analytics pages draw that depends on orders and customers.
#[derive(Debug, Clone)]
pub struct AnalyticsReport {
    pub computed_at: Timestamp,
    /// Today in the store's time zone, in days since 1970-01-01.
    pub today: i32,
    /// Customers with a counted order, those orders and their net revenue (minor units).
    pub customers: u64,
    pub orders: u64,
    pub revenue_minor: i64,
    pub kpis: KpiValues,
    /// Cohorts by first-order month, the last [`COHORT_MONTHS`] months (oldest first; months
    /// without new customers have no row). Cell k is the cohort's month + k, up to this month.
    pub cohorts: Vec<CohortRow>,
    /// Retention by months since the first order, over complete months only (the current
    /// month is left out: its cells are still filling).
    pub retention_curve: Vec<RetentionPoint>,
    pub rfm: RfmGrid,
    pub value_distribution: ValueDistribution,
    pub backtest: Result<Backtest, BacktestGap>,
    /// Per acquisition channel (normalised), biggest first; customers without one under "".
    pub channels: Vec<ChannelBase>,
    /// The same figures over all customers, whatever their channel.
    pub all_channels: ChannelBase,
}

/// The KPIs as computed (see [`Kpi`] for each definition).
#[derive(Debug, Clone, PartialEq)]
pub struct KpiValues {
    pub repeat_purchase_rate: Option<f64>,
    pub retention_rate: Option<f64>,
    pub churn_rate: Option<f64>,
    /// Retention compares the buyers of this month with the month after it.
    pub retention_month: YearMonth,
    /// Buyers of `retention_month`.
    pub retention_base: u64,
    pub purchase_frequency: Option<f64>,
    pub average_order_value_minor: Option<f64>,
    pub historic_clv_minor: Option<f64>,
}

impl KpiValues {
    pub fn value(&self, kpi: Kpi) -> Option<f64> {
        match kpi {
            Kpi::RepeatPurchaseRate => self.repeat_purchase_rate,
            Kpi::RetentionRate => self.retention_rate,
            Kpi::ChurnRate => self.churn_rate,
            Kpi::PurchaseFrequency => self.purchase_frequency,
            Kpi::AverageOrderValue => self.average_order_value_minor,
            Kpi::HistoricClv => self.historic_clv_minor,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CohortRow {
    pub month: YearMonth,
    pub size: u64,
    pub cells: Vec<CohortFigure>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CohortFigure {
    /// Customers of the cohort who bought in the month.
    pub customers: u64,
    /// What they spent in it (minor units).
    pub revenue_minor: i64,
}

/// The R × FM grid of RFM scores (FM = floor((F + M) / 2)), scored today over every buyer.
#[derive(Debug, Clone, PartialEq)]
pub struct RfmGrid {
    /// `cells[fm - 1][r - 1]`.
    pub cells: [[RfmCell; 5]; 5],
    /// Every segment, in [`Segment::ALL`] order, empty ones included.
    pub segments: Vec<SegmentFigures>,
    /// The top 5 % of buyers by spend.
    pub vips: u64,
    /// The least a VIP spent (minor units).
    pub vip_threshold_minor: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RfmCell {
    pub segment: Segment,
    pub customers: u64,
    /// What they spent, all time (minor units).
    pub value_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentFigures {
    pub segment: Segment,
    pub customers: u64,
    pub value_minor: i64,
}

/// Which customer value the distribution counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueBasis {
    /// The predicted value of the next 12 months (`customers.clv_12m_minor`), used once at
    /// least half the buyers have one.
    Predicted,
    /// What each customer spent so far.
    Historic,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValueDistribution {
    pub basis: ValueBasis,
    pub customers: u64,
    /// Customers worth nothing (no purchase expected, or everything refunded).
    pub nothing: u64,
    pub mean_minor: Option<i64>,
    pub median_minor: Option<i64>,
    /// The other customers in equal-width bins up to their 95th percentile; the last bin is
    /// open-ended when anyone is above it.
    pub bins: Vec<ValueBin>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValueBin {
    pub from_minor: i64,
    /// Exclusive; `None` for the open-ended last bin.
    pub to_minor: Option<i64>,
    pub customers: u64,
}

/// The purchase model against what really happened: MBG/NBD fitted on the orders up to
/// `calibration_end`, predicting the repeat purchases of those customers in each of the
/// following [`HOLDOUT_WEEKS`] weeks, beside the purchases they made.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    pub model: &'static str,
    /// Last day the model saw.
    pub calibration_end: i32,
    /// Customers it was fitted on.
    pub customers: u64,
    pub weeks: Vec<BacktestWeek>,
    pub actual_total: f64,
    pub predicted_total: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BacktestWeek {
    /// 1 for the first week after `calibration_end`.
    pub week: u32,
    /// The week's first day.
    pub start_day: i32,
    /// Purchases (distinct days per customer) the calibration customers made in the week.
    pub actual: f64,
    pub predicted: f64,
}

/// Why there is no backtest.
#[derive(Debug, Clone, PartialEq)]
pub enum BacktestGap {
    /// Less than [`MIN_CALIBRATION_DAYS`] of orders before the holdout weeks.
    NotEnoughHistory,
    /// Nobody bought twice before the holdout weeks.
    NoRepeatBuyers,
    /// The model could not be fitted to this store's data.
    FitFailed(String),
}

/// What an acquisition channel brought, before spend is set against it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelBase {
    /// Trimmed and lower case; "" for customers without a recorded channel.
    pub channel: String,
    /// Buyers acquired through it, all time.
    pub customers: u64,
    /// New buyers per month of their first order, with what their recorded acquisition cost
    /// adds up to (in the store's currency).
    pub months: BTreeMap<YearMonth, MonthAcquisition>,
    /// Buyers whose first order is 365 days old or more, and what they spent on average in
    /// their first 365 days (minor units).
    pub mature_customers: u64,
    pub first_year_value_minor: Option<f64>,
    /// What the channel's buyers spent on average so far (minor units).
    pub value_so_far_minor: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MonthAcquisition {
    pub new_customers: u64,
    pub recorded_cost_minor: i64,
    /// New customers with a recorded cost.
    pub with_cost: u64,
}

impl Db {
    /// Computes the store's report from its orders as of `now` (see the module documentation).
    pub async fn analytics_report(
        &self,
        store: &StoreRecord,
        now: Timestamp,
    ) -> Result<AnalyticsReport, StoreError> {
        let zone = store.timezone.0;
        let today = local_day(&zone, now.0);
        let store_key = store.id.to_string();
        let currency = store.currency.code().to_string();

        let buyers_query = Query::select()
            .columns([
                Customers::Id,
                Customers::AcquisitionChannel,
                Customers::AcquisitionCostMinor,
                Customers::AcquisitionCostCurrency,
                Customers::Clv12mMinor,
            ])
            .from(Customers::Table)
            .and_where(Expr::col(Customers::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(Customers::FirstOrderAt).is_not_null())
            .to_owned();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut buyers: Vec<Buyer> = Vec::new();
        for_each(self, &buyers_query, |row: BuyerRow| {
            index.insert(row.id, buyers.len() as u32);
            buyers.push(Buyer {
                channel: row
                    .acquisition_channel
                    .as_deref()
                    .map(normalize_channel)
                    .unwrap_or_default(),
                cost_minor: row
                    .acquisition_cost_minor
                    .filter(|_| row.acquisition_cost_currency.as_deref() == Some(currency.as_str())),
                clv_12m_minor: row.clv_12m_minor,
            });
        })
        .await?;

        let orders_query = Query::select()
            .column(Orders::CustomerId)
            .column(Orders::PlacedAt)
            .expr_as(
                Expr::col(Orders::Total).sub(Expr::col(Orders::RefundedTotal)),
                Alias::new("net"),
            )
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(Orders::CancelledAt).is_null())
            .and_where(Expr::col(Orders::Currency).eq(currency.as_str()))
            // In time order along the store's (store_id, placed_at) index: the rows come as
            // they were written, and consecutive ones share their quarter hour's offset.
            .order_by(Orders::PlacedAt, Order::Asc)
            .to_owned();
        let mut transactions: Vec<Transaction> = Vec::new();
        let mut days = LocalDays::new(zone);
        for_each(
            self,
            &orders_query,
            |(customer, placed_at, net): (Option<String>, i64, i64)| {
                if let Some(&i) = customer.and_then(|c| index.get(&c)) {
                    transactions.push(Transaction {
                        customer: u64::from(i),
                        day: days.day(placed_at),
                        amount: net as f64,
                    });
                }
            },
        )
        .await?;
        drop(index);

        let exponent = store.currency.exponent();
        tokio::task::spawn_blocking(move || compute(&transactions, &buyers, today, exponent, now))
            .await
            .map_err(|e| StoreError::Corrupt(format!("computing the analytics report: {e}")))
    }
}

#[derive(sqlx::FromRow)]
struct BuyerRow {
    id: String,
    acquisition_channel: Option<String>,
    acquisition_cost_minor: Option<i64>,
    acquisition_cost_currency: Option<String>,
    clv_12m_minor: Option<i64>,
}

/// What the report needs of a buyer besides their orders.
struct Buyer {
    channel: String,
    /// Recorded acquisition cost, when it is in the store's currency.
    cost_minor: Option<i64>,
    clv_12m_minor: Option<i64>,
}

/// Runs `query` and hands every row to `each` as it arrives, so a store's millions of orders
/// never sit in memory as rows.
async fn for_each<T: Row>(
    db: &Db,
    query: &SelectStatement,
    mut each: impl FnMut(T),
) -> Result<(), StoreError> {
    match db {
        Db::Sqlite(pool) => {
            let (sql, values) = query.build_sqlx(SqliteQueryBuilder);
            let mut rows = sqlx::query_as_with::<_, T, _>(&sql, values).fetch(pool);
            while let Some(row) = rows.try_next().await? {
                each(row);
            }
        }
        Db::Pg(pool) => {
            let (sql, values) = query.build_sqlx(PostgresQueryBuilder);
            let mut rows = sqlx::query_as_with::<_, T, _>(&sql, values).fetch(pool);
            while let Some(row) = rows.try_next().await? {
                each(row);
            }
        }
    }
    Ok(())
}

/// Calendar days of instants in a time zone, remembering the offset of the last quarter hour
/// asked about (offsets change only at quarter hours, and orders come in time order).
struct LocalDays<Z: chrono::TimeZone> {
    zone: Z,
    quarter: i64,
    offset_ms: i64,
}

impl<Z: chrono::TimeZone> LocalDays<Z> {
    fn new(zone: Z) -> Self {
        LocalDays {
            zone,
            quarter: i64::MIN,
            offset_ms: 0,
        }
    }

    fn day(&mut self, ms: i64) -> i32 {
        let quarter = ms.div_euclid(900_000);
        if quarter != self.quarter {
            self.quarter = quarter;
            self.offset_ms = offset_ms(&self.zone, ms);
        }
        (ms + self.offset_ms).div_euclid(86_400_000) as i32
    }
}

fn offset_ms<Z: chrono::TimeZone>(zone: &Z, ms: i64) -> i64 {
    use chrono::Offset;
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|utc| {
            i64::from(
                zone.offset_from_utc_datetime(&utc.naive_utc())
                    .fix()
                    .local_minus_utc(),
            ) * 1000
        })
        .unwrap_or(0)
}

/// The calendar day of an instant in a time zone, in days since 1970-01-01.
fn local_day<Z: chrono::TimeZone>(zone: &Z, ms: i64) -> i32 {
    (ms + offset_ms(zone, ms)).div_euclid(86_400_000) as i32
}

fn compute(
    transactions: &[Transaction],
    buyers: &[Buyer],
    today: i32,
    exponent: u32,
    now: Timestamp,
) -> AnalyticsReport {
    let totals = metrics::customer_totals(transactions);
    let all = metrics::kpis(&totals);
    let last_year: Vec<Transaction> = transactions
        .iter()
        .filter(|t| t.day > today - 365 && t.day <= today)
        .copied()
        .collect();
    let year = metrics::kpis(&metrics::customer_totals(&last_year));
    drop(last_year);

    // Retention: the month before last against last month, both complete.
    let this_month = YearMonth::of_day(today).index();
    let retention_month = YearMonth::from_index(this_month - 2);
    let two_months: Vec<Transaction> = transactions
        .iter()
        .filter(|t| {
            let m = YearMonth::of_day(t.day).index();
            m == this_month - 2 || m == this_month - 1
        })
        .copied()
        .collect();
    let base_buyers = {
        let mut ids: Vec<u64> = two_months
            .iter()
            .filter(|t| YearMonth::of_day(t.day) == retention_month)
            .map(|t| t.customer)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len() as u64
    };
    let retention_rate = metrics::monthly_retention(&two_months)
        .into_iter()
        .find(|r| r.month == retention_month)
        .and_then(|r| r.retention)
        // Nobody came back last month (it had no orders at all).
        .or((base_buyers > 0).then_some(0.0));
    drop(two_months);

    let matrix = metrics::cohort_matrix(transactions);
    let cohorts = matrix
        .cohorts
        .iter()
        .filter(|c| c.month.index() > this_month - COHORT_MONTHS && c.month.index() <= this_month)
        .map(|c| CohortRow {
            month: c.month,
            size: c.size,
            cells: c
                .cells
                .iter()
                .take((this_month - c.month.index() + 1) as usize)
                .map(|cell| CohortFigure {
                    customers: cell.customers,
                    revenue_minor: cell.revenue.round() as i64,
                })
                .collect(),
        })
        .collect();
    let complete = CohortMatrix {
        cohorts: matrix
            .cohorts
            .iter()
            .filter(|c| c.month.index() < this_month)
            .map(|c| Cohort {
                month: c.month,
                size: c.size,
                cells: c
                    .cells
                    .iter()
                    .take((this_month - c.month.index()) as usize)
                    .copied()
                    .collect(),
            })
            .collect(),
    };
    let retention_curve = metrics::retention_curve(&complete);
    drop(matrix);

    let rfm = rfm_grid(transactions, &totals, today);
    let value_distribution = value_distribution(&totals, buyers, exponent);
    let backtest = backtest(transactions, today);
    let (channels, all_channels) = channel_bases(transactions, &totals, buyers, today);

    AnalyticsReport {
        computed_at: now,
        today,
        customers: all.customers,
        orders: all.orders,
        revenue_minor: all.revenue.round() as i64,
        kpis: KpiValues {
            repeat_purchase_rate: all.repeat_purchase_rate,
            retention_rate,
            churn_rate: retention_rate.map(|r| 1.0 - r),
            retention_month,
            retention_base: base_buyers,
            purchase_frequency: year.purchase_frequency,
            average_order_value_minor: year.average_order_value,
            historic_clv_minor: all.historic_clv,
        },
        cohorts,
        retention_curve,
        rfm,
        value_distribution,
        backtest,
        channels,
        all_channels,
    }
}

fn rfm_grid(transactions: &[Transaction], totals: &[metrics::CustomerTotals], today: i32) -> RfmGrid {
    let mut cells = [[RfmCell {
        segment: Segment::Lost,
        customers: 0,
        value_minor: 0,
    }; 5]; 5];
    for (fm, row) in cells.iter_mut().enumerate() {
        for (r, cell) in row.iter_mut().enumerate() {
            let fm = fm as u8 + 1;
            cell.segment = Segment::of(r as u8 + 1, fm, fm);
        }
    }
    let mut segments: Vec<SegmentFigures> = Segment::ALL
        .into_iter()
        .map(|segment| SegmentFigures {
            segment,
            customers: 0,
            value_minor: 0,
        })
        .collect();
    for scored in metrics::rfm(transactions, today) {
        let fm = (scored.f + scored.m) / 2;
        let value = scored.monetary.round() as i64;
        let cell = &mut cells[usize::from(fm.clamp(1, 5) - 1)][usize::from(scored.r.clamp(1, 5) - 1)];
        cell.customers += 1;
        cell.value_minor += value;
        if let Some(s) = segments.iter_mut().find(|s| s.segment == scored.segment) {
            s.customers += 1;
            s.value_minor += value;
        }
    }
    let vips = metrics::vips(totals, VipRule::default());
    // Biggest spender first: the last VIP spent the least.
    let threshold = vips
        .last()
        .and_then(|c| totals.binary_search_by_key(c, |t| t.customer).ok())
        .map(|i| totals[i].total.round() as i64);
    RfmGrid {
        cells,
        segments,
        vips: vips.len() as u64,
        vip_threshold_minor: threshold,
    }
}

fn value_distribution(
    totals: &[metrics::CustomerTotals],
    buyers: &[Buyer],
    exponent: u32,
) -> ValueDistribution {
    let predicted: Vec<i64> = totals
        .iter()
        .filter_map(|t| buyers.get(t.customer as usize)?.clv_12m_minor)
        .collect();
    let (basis, mut values) = if !totals.is_empty() && predicted.len() * 2 >= totals.len() {
        (ValueBasis::Predicted, predicted)
    } else {
        (
            ValueBasis::Historic,
            totals.iter().map(|t| t.total.round() as i64).collect(),
        )
    };
    values.sort_unstable();
    let n = values.len();
    if n == 0 {
        return ValueDistribution {
            basis,
            customers: 0,
            nothing: 0,
            mean_minor: None,
            median_minor: None,
            bins: Vec::new(),
        };
    }
    let mean = (values.iter().map(|v| *v as f64).sum::<f64>() / n as f64).round() as i64;
    let median = values[(n - 1) / 2];
    // Customers worth nothing (a predicted value of 0: no purchase expected) get a bar of
    // their own; the bins share out the rest up to its 95th percentile.
    let nothing = values.partition_point(|v| *v <= 0);
    let positive = &values[nothing..];
    let mut bins = Vec::new();
    if let Some(last) = positive.last() {
        let cap = positive[((positive.len() - 1) as f64 * 0.95).floor() as usize].max(1);
        let unit = 10i64.pow(exponent);
        let step = nice_step(cap as f64 / unit as f64 / 10.0).max(1.0);
        let step = ((step * unit as f64).round() as i64).max(1);
        let count = ((cap + step - 1) / step).max(1);
        bins = (0..count)
            .map(|i| ValueBin {
                from_minor: i * step,
                to_minor: Some((i + 1) * step),
                customers: 0,
            })
            .collect();
        let top = count * step;
        if *last >= top {
            bins.push(ValueBin {
                from_minor: top,
                to_minor: None,
                customers: 0,
            });
        }
        for v in positive {
            let i = ((v / step) as usize).min(bins.len() - 1);
            bins[i].customers += 1;
        }
    }
    ValueDistribution {
        basis,
        customers: n as u64,
        nothing: nothing as u64,
        mean_minor: Some(mean),
        median_minor: Some(median),
        bins,
    }
}

/// The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least `x`.
fn nice_step(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= x * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

fn backtest(transactions: &[Transaction], today: i32) -> Result<Backtest, BacktestGap> {
    let observation_end = today - 1;
    let calibration_end = observation_end - 7 * HOLDOUT_WEEKS;
    let first = transactions
        .iter()
        .map(|t| t.day)
        .min()
        .ok_or(BacktestGap::NotEnoughHistory)?;
    if first > calibration_end - MIN_CALIBRATION_DAYS {
        return Err(BacktestGap::NotEnoughHistory);
    }
    let options = SummaryOptions {
        bucket: Bucket::Day,
        unit: TimeUnit::Week,
        observation_end: calibration_end,
    };
    let before: Vec<Transaction> = transactions
        .iter()
        .filter(|t| t.day <= calibration_end)
        .copied()
        .collect();
    let summaries = summarize(&before, &options);
    drop(before);
    if !summaries.iter().any(|s| s.history.frequency > 0.0) {
        return Err(BacktestGap::NoRepeatBuyers);
    }
    let rows = compress(summaries.iter().map(|s| s.history));
    // A failing fit never takes the page down: the section says the model is unavailable.
    let fitted = std::panic::catch_unwind(|| {
        match MbgNbd::fit(&rows, &FitOptions::default()) {
            Err(FitError::NotConverged { .. }) => MbgNbd::fit(
                &rows,
                &FitOptions {
                    penalizer: 0.001,
                    ..Default::default()
                },
            ),
            other => other,
        }
        .map(|fit| {
            let mut predicted = Vec::with_capacity(HOLDOUT_WEEKS as usize);
            let mut previous = 0.0;
            for week in 1..=HOLDOUT_WEEKS {
                let cumulative: f64 = rows
                    .iter()
                    .map(|r| {
                        r.weight
                            * fit
                                .model
                                .conditional_expected_purchases(f64::from(week), &r.history)
                    })
                    .sum();
                predicted.push(cumulative - previous);
                previous = cumulative;
            }
            predicted
        })
    });
    let predicted = match fitted {
        Ok(Ok(p)) if p.iter().all(|v| v.is_finite()) => p,
        Ok(Ok(_)) => {
            return Err(BacktestGap::FitFailed(
                "the model predicted a number out of range".into(),
            ))
        }
        Ok(Err(e)) => return Err(BacktestGap::FitFailed(e.to_string())),
        Err(_) => return Err(BacktestGap::FitFailed("the model failed".into())),
    };

    // Actual purchases: distinct (customer, day) in each holdout week, by calibration customers.
    let known: std::collections::HashSet<u64> = summaries.iter().map(|s| s.customer).collect();
    let mut pairs: Vec<(u64, i32)> = transactions
        .iter()
        .filter(|t| t.day > calibration_end && t.day <= observation_end && known.contains(&t.customer))
        .map(|t| (t.customer, t.day))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut actual = vec![0.0; HOLDOUT_WEEKS as usize];
    for (_, day) in pairs {
        actual[((day - calibration_end - 1) / 7) as usize] += 1.0;
    }
    let weeks: Vec<BacktestWeek> = (0..HOLDOUT_WEEKS as usize)
        .map(|i| BacktestWeek {
            week: i as u32 + 1,
            start_day: calibration_end + 1 + 7 * i as i32,
            actual: actual[i],
            predicted: predicted[i],
        })
        .collect();
    Ok(Backtest {
        model: "mbg_nbd",
        calibration_end,
        customers: summaries.len() as u64,
        actual_total: actual.iter().sum(),
        predicted_total: predicted.iter().sum(),
        weeks,
    })
}

fn channel_bases(
    transactions: &[Transaction],
    totals: &[metrics::CustomerTotals],
    buyers: &[Buyer],
    today: i32,
) -> (Vec<ChannelBase>, ChannelBase) {
    let mut first_day = vec![i32::MAX; buyers.len()];
    for t in totals {
        first_day[t.customer as usize] = t.first_day;
    }
    // Each customer's spend in their first 365 days, once that year is over.
    let mut first_year = vec![0.0; buyers.len()];
    for t in transactions {
        let first = first_day[t.customer as usize];
        if first <= today - 365 && t.day < first + 365 {
            first_year[t.customer as usize] += t.amount;
        }
    }
    #[derive(Default)]
    struct Sums {
        base: ChannelBase,
        mature_value: f64,
        value: f64,
    }
    let mut by_channel: BTreeMap<&str, Sums> = BTreeMap::new();
    let mut all = Sums::default();
    for t in totals {
        let buyer = &buyers[t.customer as usize];
        let month = YearMonth::of_day(t.first_day);
        for sums in [by_channel.entry(buyer.channel.as_str()).or_default(), &mut all] {
            sums.base.customers += 1;
            sums.value += t.total;
            let m = sums.base.months.entry(month).or_default();
            m.new_customers += 1;
            if let Some(cost) = buyer.cost_minor {
                m.recorded_cost_minor += cost;
                m.with_cost += 1;
            }
            if t.first_day <= today - 365 {
                sums.base.mature_customers += 1;
                sums.mature_value += first_year[t.customer as usize];
            }
        }
    }
    let finish = |channel: &str, s: Sums| {
        let mut base = s.base;
        base.channel = channel.to_string();
        base.first_year_value_minor =
            (base.mature_customers > 0).then(|| s.mature_value / base.mature_customers as f64);
        base.value_so_far_minor = (base.customers > 0).then(|| s.value / base.customers as f64);
        base
    };
    let mut channels: Vec<ChannelBase> = by_channel.into_iter().map(|(c, s)| finish(c, s)).collect();
    channels.sort_by(|a, b| b.customers.cmp(&a.customers).then(a.channel.cmp(&b.channel)));
    (channels, finish("", all))
}

// ---------------------------------------------------------------------------------------------
// Acquisition cost against lifetime value

/// Where a channel's acquisition spend comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendBasis {
    /// Monthly spend entered on the Analytics page.
    Entered,
    /// No spend entered: the acquisition cost recorded on its new customers, added up.
    Recorded,
    /// Neither (an organic channel, say): no acquisition cost.
    None,
}

/// Which lifetime value a channel is measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LtvBasis {
    /// What customers acquired a year ago or more spent in their first 365 days.
    FirstYear,
    /// No customer of the channel is a year old yet: what its customers spent so far.
    SoFar,
}

/// One channel's unit economics over the [`CHANNEL_MONTHS`] months ending this month.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRow {
    /// Normalised; "" for customers without a recorded channel (and for the total row).
    pub channel: String,
    /// Buyers whose first order fell in the months.
    pub new_customers: u64,
    pub spend_minor: Option<i64>,
    pub spend_basis: SpendBasis,
    /// Spend ÷ new customers (minor units).
    pub cac_minor: Option<f64>,
    /// Revenue per acquired customer (no gross margin is applied).
    pub ltv_minor: Option<f64>,
    pub ltv_basis: LtvBasis,
    pub ltv_to_cac: Option<f64>,
    /// CAC ÷ (first-year value ÷ 12): months of an average customer's spend that pay back
    /// their acquisition. Only with a first-year value.
    pub months_to_recover: Option<f64>,
}

/// The months acquisition cost is measured over: `from..=to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelWindow {
    pub from: YearMonth,
    pub to: YearMonth,
}

/// The acquisition channels' CAC, LTV, LTV:CAC and months to recover CAC over the
/// [`CHANNEL_MONTHS`] months ending this month, with `metrics::channel_economics`; and the same
/// over all channels (blended: every spend against every new customer).
pub fn channel_economics(
    report: &AnalyticsReport,
    spend: &[SpendEntry],
) -> (ChannelWindow, Vec<ChannelRow>, ChannelRow) {
    let to = YearMonth::of_day(report.today);
    let from = YearMonth::from_index(to.index() - (CHANNEL_MONTHS - 1));
    let window = ChannelWindow { from, to };
    let in_window = |m: &YearMonth| *m >= from && *m <= to;
    let mut entered: BTreeMap<String, i64> = BTreeMap::new();
    for s in spend.iter().filter(|s| in_window(&s.month)) {
        *entered.entry(normalize_channel(&s.channel)).or_default() += s.amount_minor;
    }
    let empty = ChannelBase::default();
    let mut names: Vec<&str> = report.channels.iter().map(|c| c.channel.as_str()).collect();
    for channel in entered.keys() {
        if !names.contains(&channel.as_str()) {
            names.push(channel);
        }
    }
    let mut total_spend: Option<i64> = None;
    let mut rows: Vec<ChannelRow> = names
        .into_iter()
        .map(|name| {
            let base = report
                .channels
                .iter()
                .find(|c| c.channel == name)
                .unwrap_or(&empty);
            let (new_customers, recorded, with_cost) = base
                .months
                .iter()
                .filter(|(m, _)| in_window(m))
                .fold((0, 0, 0), |(n, c, w), (_, a)| {
                    (n + a.new_customers, c + a.recorded_cost_minor, w + a.with_cost)
                });
            let (spend, basis) = match entered.get(name) {
                Some(amount) => (Some(*amount), SpendBasis::Entered),
                None if with_cost > 0 => (Some(recorded), SpendBasis::Recorded),
                None => (None, SpendBasis::None),
            };
            if let Some(s) = spend {
                *total_spend.get_or_insert(0) += s;
            }
            row(name, base, new_customers, spend, basis)
        })
        .collect();
    rows.sort_by(|a, b| {
        b.new_customers
            .cmp(&a.new_customers)
            .then(a.channel.cmp(&b.channel))
    });
    let all_new = report
        .all_channels
        .months
        .iter()
        .filter(|(m, _)| in_window(m))
        .map(|(_, a)| a.new_customers)
        .sum();
    let basis = if total_spend.is_some() {
        SpendBasis::Entered
    } else {
        SpendBasis::None
    };
    let total = row("", &report.all_channels, all_new, total_spend, basis);
    (window, rows, total)
}

fn row(
    channel: &str,
    base: &ChannelBase,
    new_customers: u64,
    spend: Option<i64>,
    basis: SpendBasis,
) -> ChannelRow {
    let (ltv, ltv_basis) = match base.first_year_value_minor {
        Some(v) => (Some(v), LtvBasis::FirstYear),
        None => (base.value_so_far_minor, LtvBasis::SoFar),
    };
    let economics = metrics::channel_economics(&metrics::ChannelInput {
        channel: channel.to_string(),
        spend: spend.unwrap_or(0) as f64,
        new_customers,
        value_per_customer: ltv.unwrap_or(0.0),
        months: (ltv_basis == LtvBasis::FirstYear).then_some(12.0),
        gross_margin: None,
    });
    let costed = spend.is_some();
    ChannelRow {
        channel: channel.to_string(),
        new_customers,
        spend_minor: spend,
        spend_basis: basis,
        cac_minor: economics.cac.filter(|_| costed),
        ltv_minor: ltv,
        ltv_basis,
        ltv_to_cac: economics.ltv_to_cac.filter(|_| costed && ltv.is_some()),
        months_to_recover: economics.months_to_recover.filter(|_| costed && ltv.is_some()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_follow_the_zone() {
        // 2026-01-31T20:00:00Z is already 1 February in Kolkata (UTC+05:30).
        let ms = 1_769_889_600_000;
        let kolkata = chrono::FixedOffset::east_opt(19_800).unwrap();
        assert_eq!(local_day(&kolkata, ms) - local_day(&chrono::Utc, ms), 1);
        assert_eq!(YearMonth::of_day(local_day(&kolkata, ms)).to_string(), "2026-02");
        assert_eq!(local_day(&chrono::Utc, -1), -1);
        // The remembered offset gives the days asking each time gives: at UTC−4, local
        // midnight is 04:00 UTC.
        let new_york = chrono::FixedOffset::west_opt(4 * 3600).unwrap();
        let mut days = LocalDays::new(new_york);
        let at = |s: &str| Timestamp::parse_rfc3339(s).unwrap().0;
        assert_eq!(
            days.day(at("2025-11-02T03:59:00Z")),
            local_day(&new_york, at("2025-11-02T03:59:00Z"))
        );
        assert_eq!(
            days.day(at("2025-11-02T04:00:00Z")) - days.day(at("2025-11-02T03:59:00Z")),
            1
        );
    }

    #[test]
    fn steps_are_round_numbers() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(1.3), 2.0);
        assert_eq!(nice_step(2.2), 2.5);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(730.0), 1000.0);
        assert_eq!(nice_step(0.0), 1.0);
    }

    #[test]
    fn predicted_values_of_nothing_get_their_own_bar() {
        let totals: Vec<metrics::CustomerTotals> = (0..4)
            .map(|customer| metrics::CustomerTotals {
                customer,
                orders: 1,
                total: 1_000.0,
                first_day: 0,
                last_day: 0,
            })
            .collect();
        let buyers: Vec<Buyer> = [Some(0), Some(0), Some(10_000), None]
            .into_iter()
            .map(|clv_12m_minor| Buyer {
                channel: String::new(),
                cost_minor: None,
                clv_12m_minor,
            })
            .collect();
        let d = value_distribution(&totals, &buyers, 2);
        assert_eq!((d.basis, d.customers, d.nothing), (ValueBasis::Predicted, 3, 2));
        assert_eq!(d.median_minor, Some(0));
        assert_eq!(d.bins.iter().map(|b| b.customers).sum::<u64>(), 1);
        // Fewer than half the buyers predicted: what they spent so far instead.
        let d = value_distribution(&totals, &buyers[..1], 2);
        assert_eq!((d.basis, d.customers, d.nothing), (ValueBasis::Historic, 4, 0));
    }

    #[test]
    fn months_and_targets_are_checked() {
        assert_eq!(
            parse_month("2026-03").unwrap(),
            YearMonth { year: 2026, month: 3 }
        );
        assert!(parse_month("2026-13").is_err());
        assert!(parse_month("26-03").is_err());
        assert!(Kpi::ChurnRate.check_target(10_001).is_err());
        assert!(Kpi::AverageOrderValue.check_target(10_001).is_ok());
        assert_eq!(Kpi::RetentionRate.stored(0.25), 2500);
        assert_eq!(Kpi::PurchaseFrequency.stored(1.85), 18_500);
        assert_eq!(Kpi::HistoricClv.stored(123_456.4), 123_456);
    }
}
