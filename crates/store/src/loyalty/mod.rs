//! The loyalty program's storage: the program's settings, the points ledger (immutable
//! double-entry movements, earn lots spent soonest-expiring first), holds, tiers, the rewards
//! catalog, the nightly expiry and tier job, the consistency check and the reports.
//!
//! Locking: every movement that takes points out of a customer's lots runs under that
//! customer's lock ([`Tx::lock_customers`]). SQLite's write transactions are already serial;
//! on PostgreSQL the lock is a transaction-scoped advisory lock. Order writes take the store's
//! lock first and customer locks after it, in sorted order; nothing takes the store's lock
//! while holding a customer's, so the two never deadlock.

mod check;
mod earning;
mod holds;
mod ledger;
mod nightly;
mod program;
mod reports;
mod rewards;
mod tiers;

pub use check::{Drift, LedgerCheck};
pub use earning::ActionOutcome;
pub(crate) use earning::{credit_bonus, reconcile_orders};
pub use holds::HoldRecord;
pub use ledger::{Balance, EntryRecord, LotRecord};
pub use nightly::NightlyReport;
pub use program::ProgramRecord;
pub use reports::{ExpiryMonth, Liability, MemberListing, MemberPage, MemberView, RedemptionRow};
pub(crate) use rewards::grant_gift;
pub use rewards::{RedemptionRecord, RewardInput, RewardRecord};
pub(crate) use tiers::current_tiers;
pub use tiers::TierChange;

use sea_query::Iden;

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyPrograms {
    Table,
    StoreId,
    Settings,
    EarningSince,
    LinkKey,
    NightlyAt,
    UpdatedBy,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyProgramChanges {
    Table,
    Id,
    StoreId,
    Settings,
    ChangedBy,
    ChangedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyEntries {
    Table,
    Id,
    StoreId,
    CustomerId,
    Kind,
    Debit,
    Credit,
    Points,
    Reverses,
    OrderId,
    HoldId,
    RewardId,
    Action,
    Basis,
    WrittenOff,
    EffectiveAt,
    AvailableFrom,
    ExpiresAt,
    Reason,
    Actor,
    DedupeKey,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyLots {
    Table,
    Id,
    StoreId,
    CustomerId,
    Points,
    Remaining,
    AvailableFrom,
    ExpiresAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyLotMoves {
    Table,
    EntryId,
    LotId,
    Points,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyHolds {
    Table,
    Id,
    StoreId,
    CustomerId,
    Points,
    State,
    Reason,
    ExpiresAt,
    CreatedAt,
    SettledAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyMembers {
    Table,
    StoreId,
    CustomerId,
    TierId,
    TierSince,
    Measure,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyTierChanges {
    Table,
    Id,
    StoreId,
    CustomerId,
    FromTier,
    ToTier,
    Measure,
    Cause,
    ChangedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyRewards {
    Table,
    Id,
    StoreId,
    Name,
    Description,
    Discount,
    PointsCost,
    MinTier,
    PerCustomerLimit,
    Stock,
    RedeemedCount,
    CouponValidDays,
    MinimumSpendMinor,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum LoyaltyRedemptions {
    Table,
    Id,
    StoreId,
    CustomerId,
    RewardId,
    EntryId,
    CouponId,
    CouponCode,
    Points,
    Cause,
    CreatedAt,
}

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Points earned by an order or an action (program → customer; opens a lot).
    Earn,
    /// What a refund or cancellation takes back of an earning (customer → program).
    Revoke,
    /// Points spent on a reward or at checkout (customer → redeemed).
    Redeem,
    /// Points whose lot reached its expiry (customer → expired).
    Expire,
    /// A staff or API correction, up (program → customer) or down (customer → program).
    Adjust,
    /// Points reserved at checkout (customer → held).
    Hold,
    /// A reservation given back (held → customer, into the lots it came from).
    Release,
    /// A reservation spent (held → redeemed).
    Capture,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "earn",
            EntryKind::Revoke => "revoke",
            EntryKind::Redeem => "redeem",
            EntryKind::Expire => "expire",
            EntryKind::Adjust => "adjust",
            EntryKind::Hold => "hold",
            EntryKind::Release => "release",
            EntryKind::Capture => "capture",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        [
            EntryKind::Earn,
            EntryKind::Revoke,
            EntryKind::Redeem,
            EntryKind::Expire,
            EntryKind::Adjust,
            EntryKind::Hold,
            EntryKind::Release,
            EntryKind::Capture,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The ledger's accounts. `customer` and `held` are per customer; the others per store.
pub(crate) mod account {
    pub const PROGRAM: &str = "program";
    pub const CUSTOMER: &str = "customer";
    pub const HELD: &str = "held";
    pub const REDEEMED: &str = "redeemed";
    pub const EXPIRED: &str = "expired";
}

const DAY_MS: i64 = 86_400_000;

/// The calendar date of `at` in the store's time zone.
pub(crate) fn local_date(
    at: regulars_domain::Timestamp,
    zone: &regulars_domain::TimeZone,
) -> chrono::NaiveDate {
    at.to_datetime().with_timezone(&zone.0).date_naive()
}

/// The instant a local date starts in the store's time zone.
pub(crate) fn local_day_start(
    day: chrono::NaiveDate,
    zone: &regulars_domain::TimeZone,
) -> regulars_domain::Timestamp {
    use chrono::TimeZone as _;
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    let instant = zone
        .0
        .from_local_datetime(&midnight)
        .earliest()
        .unwrap_or_else(|| chrono::Utc.from_utc_datetime(&midnight).with_timezone(&zone.0));
    regulars_domain::Timestamp::from_datetime(&instant)
}

/// `SUM(expr)` as a 64-bit integer on both backends (PostgreSQL sums BIGINT into NUMERIC).
pub(crate) fn sum_i64(expr: impl Into<sea_query::SimpleExpr>) -> sea_query::SimpleExpr {
    sea_query::Func::cast_as(sea_query::Func::sum(expr.into()), sea_query::Alias::new("BIGINT")).into()
}

/// `kind IN (…)` that no index answers. Where one customer's or one order's few entries are
/// wanted, SQLite (which keeps no statistics here) would otherwise walk the store-wide
/// (kind, effective_at) index instead of the customer's or the order's.
pub(crate) fn kind_among(kinds: &[&'static str]) -> sea_query::SimpleExpr {
    sea_query::Expr::expr(sea_query::Expr::cust("kind || ''")).is_in(kinds.iter().copied())
}
