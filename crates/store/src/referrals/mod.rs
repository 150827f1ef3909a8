//! The referral program's storage: settings, advocates' codes (each also a first-order coupon
//! for friends), referred friends with the fraud findings behind every decision, the job that
//! rewards referrals whose friend's order cleared the return window, the review queue,
//! partners and their commission ledger, and the reports.
//!
//! Nothing is rewarded twice: a friend is referred once (`UNIQUE (store_id, friend_id)`), a
//! referral moves to `rewarded` by a conditional update that only one transaction wins, and
//! every ledger entry, coupon and commission it makes carries a key derived from its id.

mod attribution;
mod check;
mod codes;
mod judge;
mod partners;
mod program;
mod qualify;
mod records;
mod reports;
mod signals;

pub(crate) use attribution::{on_orders_changed, on_orders_written};
pub use codes::ReferralCode;
pub use partners::{
    CommissionRecord, CommissionStatus, PartnerInput, PartnerRecord, PartnerScope, PartnerSummary,
    PayoutRecord, PayoutRow,
};
pub use program::ReferralProgramRecord;
pub use qualify::{Decision, ReferralRunReport};
pub use records::{CustomerReferrals, ReferralCursor, ReferralFilter, ReferralRecord, ReferralStatus};
pub use reports::{AdvocateRow, AdvocatesReport};

use sea_query::Iden;

#[derive(Iden, Clone, Copy)]
pub(crate) enum ReferralPrograms {
    Table,
    StoreId,
    Settings,
    SignalKey,
    RunAt,
    UpdatedBy,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum ReferralCodes {
    Table,
    StoreId,
    CustomerId,
    Code,
    CouponId,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Referrals {
    Table,
    Id,
    StoreId,
    AdvocateId,
    FriendId,
    Code,
    Channel,
    Status,
    OrderId,
    OrderValue,
    QualifiesAt,
    Findings,
    Reason,
    DecidedBy,
    DecidedAt,
    AdvocateReward,
    FriendReward,
    IpHash,
    DeviceHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum ReferralVisits {
    Table,
    StoreId,
    Code,
    IpHash,
    DeviceHash,
    VisitedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum OrderSignals {
    Table,
    OrderId,
    Kind,
    StoreId,
    CustomerId,
    ValueHash,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Partners {
    Table,
    StoreId,
    CustomerId,
    Status,
    BasisPoints,
    Scope,
    PeriodDays,
    Note,
    InvitedBy,
    InvitedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum Commissions {
    Table,
    Id,
    StoreId,
    PartnerId,
    ReferralId,
    OrderId,
    Kind,
    Amount,
    Revenue,
    BasisPoints,
    Status,
    ApprovesAt,
    PayoutId,
    DedupeKey,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub(crate) enum CommissionPayouts {
    Table,
    Id,
    StoreId,
    PartnerId,
    Amount,
    Entries,
    Reference,
    PaidBy,
    PaidAt,
}

/// One day in epoch milliseconds.
pub(crate) const DAY_MS: i64 = 86_400_000;
