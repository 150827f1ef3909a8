//! Referrals as stored, and the queries that list them.

use regulars_domain::referral::Finding;
use regulars_domain::{CustomerId, FieldError, StoreId, Timestamp};
use sea_query::{Expr, Order, Query, SelectStatement};
use serde::Serialize;

use super::codes::ReferralCode;
use super::Referrals;
use crate::{parse_json, Db, StoreError, Tx};

/// Where a referral stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// The friend came by the advocate's link or code; no qualifying order yet.
    AwaitingOrder,
    /// The friend's qualifying order is inside its return window.
    Pending,
    /// A fraud rule asked for a person: staff approve or reject.
    Review,
    /// The window cleared and the advocate was rewarded.
    Rewarded,
    /// The window cleared but the advocate got nothing (a cap, a partner's commission
    /// instead, points while the loyalty program is off): `advocate_reward` says why.
    Qualified,
    Rejected,
    /// The friend's order was refunded or cancelled inside the window.
    Cancelled,
}

impl ReferralStatus {
    pub const ALL: [ReferralStatus; 7] = [
        ReferralStatus::AwaitingOrder,
        ReferralStatus::Pending,
        ReferralStatus::Review,
        ReferralStatus::Rewarded,
        ReferralStatus::Qualified,
        ReferralStatus::Rejected,
        ReferralStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReferralStatus::AwaitingOrder => "awaiting_order",
            ReferralStatus::Pending => "pending",
            ReferralStatus::Review => "review",
            ReferralStatus::Rewarded => "rewarded",
            ReferralStatus::Qualified => "qualified",
            ReferralStatus::Rejected => "rejected",
            ReferralStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<ReferralStatus, FieldError> {
        ReferralStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s.trim())
            .ok_or_else(|| {
                FieldError::new(
                    "status",
                    "invalid_status",
                    "one of awaiting_order, pending, review, rewarded, qualified, rejected, cancelled",
                )
            })
    }

    /// Whether the referral still waits on something (an order, the window, a person).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ReferralStatus::AwaitingOrder | ReferralStatus::Pending | ReferralStatus::Review
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReferralRecord {
    pub id: String,
    pub advocate_id: CustomerId,
    pub friend_id: CustomerId,
    pub code: String,
    /// `code` (a discount code at checkout), `link` (the share link's landing page) or `order`
    /// (the shop passed the code with the order).
    pub channel: String,
    pub status: ReferralStatus,
    pub order_id: Option<String>,
    /// The qualifying order's value (minor units, store currency) when it arrived.
    pub order_value: Option<i64>,
    pub qualifies_at: Option<Timestamp>,
    /// Every fraud rule that matched, with its action and facts.
    pub findings: Vec<Finding>,
    /// The rule or the staff note behind the last decision.
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    /// What the advocate got, or why nothing.
    pub advocate_reward: Option<serde_json::Value>,
    pub friend_reward: Option<serde_json::Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReferralRow {
    id: String,
    advocate_id: String,
    friend_id: String,
    code: String,
    channel: String,
    status: String,
    order_id: Option<String>,
    order_value: Option<i64>,
    qualifies_at: Option<i64>,
    findings: String,
    reason: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    advocate_reward: Option<String>,
    friend_reward: Option<String>,
    created_at: i64,
    updated_at: i64,
}

pub(crate) const COLUMNS: [Referrals; 17] = [
    Referrals::Id,
    Referrals::AdvocateId,
    Referrals::FriendId,
    Referrals::Code,
    Referrals::Channel,
    Referrals::Status,
    Referrals::OrderId,
    Referrals::OrderValue,
    Referrals::QualifiesAt,
    Referrals::Findings,
    Referrals::Reason,
    Referrals::DecidedBy,
    Referrals::DecidedAt,
    Referrals::AdvocateReward,
    Referrals::FriendReward,
    Referrals::CreatedAt,
    Referrals::UpdatedAt,
];

fn customer_id(s: &str) -> Result<CustomerId, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("referral customer id {s:?}")))
}

impl ReferralRow {
    pub(crate) fn into_record(self) -> Result<ReferralRecord, StoreError> {
        let json = |t: Option<String>, what| -> Result<Option<serde_json::Value>, StoreError> {
            t.map(|t| parse_json(&t, what)).transpose()
        };
        Ok(ReferralRecord {
            advocate_id: customer_id(&self.advocate_id)?,
            friend_id: customer_id(&self.friend_id)?,
            status: ReferralStatus::parse(&self.status)
                .map_err(|_| StoreError::Corrupt(format!("referral status {:?}", self.status)))?,
            findings: parse_json(&self.findings, "referral findings")?,
            advocate_reward: json(self.advocate_reward, "advocate reward")?,
            friend_reward: json(self.friend_reward, "friend reward")?,
            id: self.id,
            code: self.code,
            channel: self.channel,
            order_id: self.order_id,
            order_value: self.order_value,
            qualifies_at: self.qualifies_at.map(Timestamp),
            reason: self.reason,
            decided_by: self.decided_by,
            decided_at: self.decided_at.map(Timestamp),
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

pub(crate) fn select(store: StoreId) -> SelectStatement {
    Query::select()
        .columns(COLUMNS)
        .from(Referrals::Table)
        .and_where(Expr::col(Referrals::StoreId).eq(store.to_string()))
        .to_owned()
}

pub(crate) fn records(rows: Vec<ReferralRow>) -> Result<Vec<ReferralRecord>, StoreError> {
    rows.into_iter().map(ReferralRow::into_record).collect()
}

/// Which referrals to list: newest first, `limit` (1 to 500, default 100) at a time, those
/// after `before` in that order for the next page.
#[derive(Debug, Clone, Default)]
pub struct ReferralFilter {
    pub status: Option<ReferralStatus>,
    pub advocate: Option<CustomerId>,
    pub before: Option<ReferralCursor>,
    pub limit: Option<u32>,
}

/// Where a page of referrals ended. Pages go by creation time and then id, so referrals made in
/// the same millisecond are neither skipped nor repeated across pages. Written `<ms>.<id>`; an
/// empty id means "everything created before `created_at`".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralCursor {
    pub created_at: Timestamp,
    pub id: String,
}

impl ReferralCursor {
    /// The cursor for the page that follows `last`.
    pub fn after(last: &ReferralRecord) -> Self {
        ReferralCursor {
            created_at: last.created_at,
            id: last.id.clone(),
        }
    }

    /// Everything created before `at`.
    pub fn before_time(at: Timestamp) -> Self {
        ReferralCursor {
            created_at: at,
            id: String::new(),
        }
    }

    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let invalid = || {
            FieldError::new(
                "before",
                "invalid_cursor",
                "the page cursor is not one this list gave out",
            )
        };
        let (at, id) = text.split_once('.').ok_or_else(invalid)?;
        let at = at.parse().map_err(|_| invalid())?;
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(invalid());
        }
        Ok(ReferralCursor {
            created_at: Timestamp(at),
            id: id.to_string(),
        })
    }
}

impl std::fmt::Display for ReferralCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at.0, self.id)
    }
}

/// A customer's side of the program: their code, the friends they brought, who brought them.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerReferrals {
    pub code: Option<ReferralCode>,
    pub referred: Vec<ReferralRecord>,
    pub referred_by: Option<ReferralRecord>,
}

impl Db {
    pub async fn referrals(
        &self,
        store: StoreId,
        filter: &ReferralFilter,
    ) -> Result<Vec<ReferralRecord>, StoreError> {
        let limit = filter.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(FieldError::new("limit", "out_of_range", "limit runs from 1 to 500").into());
        }
        let mut q = select(store);
        if let Some(s) = filter.status {
            q.and_where(Expr::col(Referrals::Status).eq(s.as_str()));
        }
        if let Some(a) = filter.advocate {
            q.and_where(Expr::col(Referrals::AdvocateId).eq(a.to_string()));
        }
        if let Some(b) = &filter.before {
            q.and_where(
                Expr::tuple([
                    Expr::col(Referrals::CreatedAt).into(),
                    Expr::col(Referrals::Id).into(),
                ])
                .lt(Expr::tuple([b.created_at.0.into(), b.id.as_str().into()])),
            );
        }
        q.order_by(Referrals::CreatedAt, Order::Desc)
            .order_by(Referrals::Id, Order::Desc)
            .limit(u64::from(limit));
        records(self.fetch_all(&q).await?)
    }

    pub async fn referral(&self, store: StoreId, id: &str) -> Result<ReferralRecord, StoreError> {
        let q = select(store)
            .and_where(Expr::col(Referrals::Id).eq(id))
            .to_owned();
        self.fetch_optional::<ReferralRow>(&q)
            .await?
            .ok_or(StoreError::NotFound("referral"))?
            .into_record()
    }

    /// The customer's code (if they have one), the friends they referred (newest first) and
    /// the referral that brought them.
    pub async fn customer_referrals(
        &self,
        store: StoreId,
        customer: CustomerId,
    ) -> Result<CustomerReferrals, StoreError> {
        let key = customer.to_string();
        let code = super::codes::code_of(self, store, &key).await?;
        let q = select(store)
            .and_where(Expr::col(Referrals::AdvocateId).eq(key.as_str()))
            .order_by(Referrals::CreatedAt, Order::Desc)
            .limit(500)
            .to_owned();
        let referred = records(self.fetch_all(&q).await?)?;
        let q = select(store)
            .and_where(Expr::col(Referrals::FriendId).eq(key.as_str()))
            .to_owned();
        let referred_by = self
            .fetch_optional::<ReferralRow>(&q)
            .await?
            .map(ReferralRow::into_record)
            .transpose()?;
        Ok(CustomerReferrals {
            code,
            referred,
            referred_by,
        })
    }
}

impl Tx {
    pub(crate) async fn referral_for_update(
        &mut self,
        store: StoreId,
        id: &str,
    ) -> Result<ReferralRecord, StoreError> {
        let q = select(store)
            .and_where(Expr::col(Referrals::Id).eq(id))
            .to_owned();
        self.fetch_optional::<ReferralRow>(&q)
            .await?
            .ok_or(StoreError::NotFound("referral"))?
            .into_record()
    }
}
