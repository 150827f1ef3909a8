//! Storage for Regulars. The same code runs on an embedded SQLite file (the default) and on a
//! PostgreSQL server (scale-out), chosen by the database URL.
//!
//! Every function is scoped by a [`StoreId`](regulars_domain::StoreId): no query reads or
//! writes across tenants. Writes that must be atomic take a [`Tx`].

mod analytics;
mod analytics_reports;
mod coupons;
mod customers;
mod db;
mod directory;
mod events;
mod idempotency;
mod imports;
mod login_links;
mod loyalty;
mod orders;
mod outbound;
mod overview;
mod people;
mod profile;
mod referrals;
mod rollups;
mod schema;
mod stores;
mod webhooks;

pub use analytics::{
    AnalyticsModel, CustomerAnalytics, RefitReport, RfmCuts, RfmScore, EXPECTED_P_ALIVE,
    FAILURE_NO_REPEAT_BUYERS, FAILURE_PURCHASE_MODEL, FAILURE_SPEND_MODEL, FAILURE_TOO_FEW_CUSTOMERS,
    HORIZON_MONTHS, MIN_CUSTOMERS, MONTHLY_DISCOUNT_RATE,
};
pub use analytics_reports::{
    channel_economics, kpi_figures, normalize_channel, parse_month, AnalyticsReport, Backtest, BacktestGap,
    BacktestWeek, ChannelBase, ChannelRow, ChannelWindow, CohortFigure, CohortRow, Kpi, KpiFigure, KpiStatus,
    KpiTarget, KpiUnit, KpiValues, LtvBasis, MonthAcquisition, RetentionPoint, RfmCell, RfmGrid, Segment,
    SegmentFigures, SpendBasis, SpendEntry, ValueBasis, ValueBin, ValueDistribution, YearMonth,
    CHANNEL_MONTHS, COHORT_MONTHS, HOLDOUT_WEEKS, KPI_SCALE,
};
pub use coupons::{
    BatchRecord, CouponAnswer, CouponFilter, CouponImport, CouponIssue, CouponRecord, CouponStatus,
    CouponTerms, ImportRowError, NewBatch, ReservationRecord, ReserveOutcome, MAX_BATCH_CODES,
    MAX_RESERVATION_SECONDS,
};
pub use customers::{CustomerFilter, CustomerRecord, Identity};
pub use db::{Backend, Db, Row, Tx};
pub use directory::{
    display_name, CustomerListing, CustomerPage, CustomerQuery, CustomerSort, OrderListing, OrderPage,
    OrderQuery,
};
pub use events::{EventRecord, TimelineQuery};
pub use idempotency::{Claim, StoredReply};
pub use imports::{ImportId, ImportRecord, ImportStatus};
pub use loyalty::{
    ActionOutcome, Balance, Drift, EntryKind, EntryRecord, ExpiryMonth, HoldRecord, LedgerCheck, Liability,
    LotRecord, MemberListing, MemberPage, MemberView, NightlyReport, ProgramRecord, RedemptionRecord,
    RedemptionRow, RewardInput, RewardRecord, TierChange,
};
pub use orders::{LineRecord, OrderFilter, OrderRecord, RefundRecord};
pub use outbound::{
    delivery_target_key, webhook_type, AttemptReport, ClaimedMessage, DeliveryTarget, NewWebhookEndpoint,
    NextStep, WebhookAttempt, WebhookEndpoint, WebhookEndpointPatch, WebhookMessage, DISABLED_GONE,
    DISABLED_MANUAL, MAX_WEBHOOK_DESCRIPTION_CHARS, MAX_WEBHOOK_ENDPOINTS, MAX_WEBHOOK_URL_CHARS,
    PREVIOUS_SECRET_GRACE, WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_TYPE,
};
pub use overview::{last_days, DailyFigures, Overview};
pub use people::PersonAdded;
pub use people::{
    LoginOutcome, Membership, Session, SessionLimits, UserRecord, MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS,
    MAX_FAILURES_PER_ADDRESS, MIN_PASSWORD_CHARS, THROTTLE_WINDOW_MS,
};
pub use profile::{clean_tags, NoteRecord, MAX_NOTE_CHARS, MAX_TAGS, MAX_TAG_CHARS};
pub use referrals::{
    AdvocateRow, AdvocatesReport, CommissionRecord, CommissionStatus, CustomerReferrals, Decision,
    PartnerInput, PartnerRecord, PartnerScope, PartnerSummary, PayoutRecord, PayoutRow, ReferralCode,
    ReferralCursor, ReferralFilter, ReferralProgramRecord, ReferralRecord, ReferralRunReport, ReferralStatus,
};
pub use stores::{ApiKeyCreated, ApiKeyRecord, StoreRecord, WebhookSecretHint};

use regulars_domain::FieldError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database url {0}")]
    BadUrl(String),
    /// The input was refused; nothing was written.
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The request was understood but the state does not allow it (not enough points, a hold
    /// already settled, a reward out of stock); nothing was written.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
}

/// What a write did to one record: the same record sent twice is `Unchanged` the second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// How many rows a multi-row statement carries: well under SQLite's 32,766 and PostgreSQL's
/// 65,535 bind parameters for our widest table.
pub(crate) const CHUNK: usize = 400;

/// A batch this large is a bulk load (an import, a bulk API call): before it, PostgreSQL's
/// statistics are refreshed where the tables outgrew them (see `Tx::refresh_statistics_if_grown`).
pub(crate) const BULK: usize = 100;

pub(crate) fn json_text<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// A scalar subquery usable as a value, e.g. in `UPDATE … SET x = (SELECT …)`.
pub(crate) fn scalar(q: sea_query::SelectStatement) -> sea_query::SimpleExpr {
    sea_query::SimpleExpr::SubQuery(None, Box::new(q.into_sub_query_statement()))
}
