//! What the dashboard and the customer's page read: one member's view, the members list,
//! the points liability, and the redemption and expiry reports.

use regulars_domain::loyalty::Tier;
use regulars_domain::{CustomerId, StoreId, Timestamp};
use sea_query::{Alias, Expr, Order, Query};
use serde::Serialize;

use super::sum_i64;

use super::ledger::{Balance, EntryRecord, LotRecord};
use super::tiers::TierChange;
use super::{LoyaltyEntries, LoyaltyLots, LoyaltyMembers, LoyaltyRedemptions, LoyaltyRewards, DAY_MS};
use crate::schema::Customers;
use crate::{Db, StoreError};

/// Everything about one member's points and tier.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub customer_id: String,
    pub balance: Balance,
    pub tier: Option<Tier>,
    pub tier_since: Option<i64>,
    /// Points earned or money spent (minor units) in the tier window.
    pub measure: i64,
    pub next_tier: Option<Tier>,
    pub missing_for_next: Option<i64>,
    pub lots: Vec<LotRecord>,
    pub history: Vec<EntryRecord>,
    pub tier_history: Vec<TierChange>,
}

impl Db {
    pub async fn loyalty_member(
        &self,
        store: StoreId,
        customer: CustomerId,
        now: Timestamp,
    ) -> Result<MemberView, StoreError> {
        let record = self.loyalty_program(store).await?;
        let program = &record.program;
        let balance = self
            .points_balance(store, customer, now, program.expiry_warning_days)
            .await?;
        let current = self.member_tier(store, customer).await?;
        let measure = self.tier_measure(store, program, customer, now).await?;
        let tier = current
            .as_ref()
            .and_then(|(id, _)| program.tiers.get(id))
            .cloned();
        let next = program
            .tiers
            .levels
            .iter()
            .find(|t| t.threshold > tier.as_ref().map(|t| t.threshold).unwrap_or(-1))
            .cloned();
        Ok(MemberView {
            customer_id: customer.to_string(),
            balance,
            missing_for_next: next.as_ref().map(|t| (t.threshold - measure).max(0)),
            next_tier: next,
            tier,
            tier_since: current.map(|(_, since)| since.0),
            measure,
            lots: self.points_lots(store, customer).await?,
            history: self.points_history(store, customer, None, 50).await?,
            tier_history: self.tier_history(store, customer).await?,
        })
    }
}

/// One row of the members list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct MemberListing {
    pub customer_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub points: i64,
    pub tier_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberPage {
    pub members: Vec<MemberListing>,
    pub total: i64,
}

/// The program's outstanding points and what they are worth.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Liability {
    pub available_points: i64,
    pub pending_points: i64,
    pub members_with_points: i64,
    /// (available + pending) × the value of a point, minor units.
    pub value_minor: i64,
    pub expiring_30_days: i64,
}

/// One month of the expiry report: points that expired in it (past months) or will (ahead).
#[derive(Debug, Clone, Serialize)]
pub struct ExpiryMonth {
    /// Start of the 30-day period, epoch ms.
    pub from: i64,
    pub expired: i64,
    pub expiring: i64,
}

/// Redemptions per reward over a period.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RedemptionRow {
    pub reward_id: String,
    pub name: String,
    pub redemptions: i64,
    pub points: i64,
}

impl Db {
    /// Members by points, most first; `tier` filters, `offset`/`limit` page.
    pub async fn loyalty_members(
        &self,
        store: StoreId,
        tier: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<MemberPage, StoreError> {
        let store_key = store.to_string();
        let points = Query::select()
            .column(LoyaltyLots::CustomerId)
            .expr_as(sum_i64(Expr::col(LoyaltyLots::Remaining)), Alias::new("points"))
            .from(LoyaltyLots::Table)
            .and_where(Expr::col(LoyaltyLots::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(LoyaltyLots::Remaining).gt(0))
            .group_by_col(LoyaltyLots::CustomerId)
            .to_owned();
        let p = Alias::new("p");
        let m = Alias::new("m");
        let mut q = Query::select();
        q.expr_as(
            Expr::col((Customers::Table, Customers::Id)),
            Alias::new("customer_id"),
        )
        .column((Customers::Table, Customers::FirstName))
        .column((Customers::Table, Customers::LastName))
        .column((Customers::Table, Customers::Email))
        .expr_as(
            Expr::col((p.clone(), Alias::new("points"))).if_null(0i64),
            Alias::new("points"),
        )
        .expr_as(
            Expr::col((m.clone(), LoyaltyMembers::TierId)),
            Alias::new("tier_id"),
        )
        .from(Customers::Table)
        .join_subquery(
            sea_query::JoinType::LeftJoin,
            points,
            p.clone(),
            Expr::col((p.clone(), LoyaltyLots::CustomerId)).equals((Customers::Table, Customers::Id)),
        )
        .join_as(
            sea_query::JoinType::LeftJoin,
            LoyaltyMembers::Table,
            m.clone(),
            Expr::col((m.clone(), LoyaltyMembers::CustomerId))
                .equals((Customers::Table, Customers::Id))
                .and(Expr::col((m.clone(), LoyaltyMembers::StoreId)).eq(store_key.as_str())),
        )
        .and_where(Expr::col((Customers::Table, Customers::StoreId)).eq(store_key.as_str()))
        .and_where(
            Expr::col((p.clone(), Alias::new("points")))
                .is_not_null()
                .or(Expr::col((m.clone(), LoyaltyMembers::TierId)).is_not_null()),
        );
        if let Some(tier) = tier {
            q.and_where(Expr::col((m.clone(), LoyaltyMembers::TierId)).eq(tier));
        }
        let mut count = q.clone();
        count
            .clear_selects()
            .expr(Expr::col((Customers::Table, Customers::Id)).count());
        let (total,): (i64,) = self.fetch_optional(&count).await?.unwrap_or((0,));
        q.order_by_expr(Expr::col(Alias::new("points")).into(), Order::Desc)
            .order_by((Customers::Table, Customers::Id), Order::Asc)
            .offset(offset)
            .limit(limit.clamp(1, 500));
        Ok(MemberPage {
            members: self.fetch_all(&q).await?,
            total,
        })
    }

    pub async fn loyalty_liability(&self, store: StoreId, now: Timestamp) -> Result<Liability, StoreError> {
        let record = self.loyalty_program(store).await?;
        let unexpired = Expr::col(LoyaltyLots::ExpiresAt)
            .is_null()
            .or(Expr::col(LoyaltyLots::ExpiresAt).gt(now.0));
        let q = Query::select()
            .expr(sum_i64(Expr::expr(super::ledger::sum_case(
                Expr::col(LoyaltyLots::AvailableFrom).lte(now.0),
            ))))
            .expr(sum_i64(Expr::expr(super::ledger::sum_case(
                Expr::col(LoyaltyLots::AvailableFrom).gt(now.0),
            ))))
            .expr(Expr::col(LoyaltyLots::CustomerId).count_distinct())
            .expr(sum_i64(Expr::expr(super::ledger::sum_case(
                Expr::col(LoyaltyLots::ExpiresAt).lte(now.0 + 30 * DAY_MS),
            ))))
            .from(LoyaltyLots::Table)
            .and_where(Expr::col(LoyaltyLots::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyLots::Remaining).gt(0))
            .and_where(unexpired)
            .to_owned();
        let (available, pending, members, expiring): (Option<i64>, Option<i64>, i64, Option<i64>) =
            self.fetch_optional(&q).await?.unwrap_or((None, None, 0, None));
        let available = available.unwrap_or(0);
        let pending = pending.unwrap_or(0);
        Ok(Liability {
            available_points: available,
            pending_points: pending,
            members_with_points: members,
            value_minor: record.program.points_value_minor(available + pending),
            expiring_30_days: expiring.unwrap_or(0),
        })
    }

    /// Points expired in each of the last `months` 30-day periods and expiring in each of
    /// the next, oldest first.
    pub async fn expiry_report(
        &self,
        store: StoreId,
        now: Timestamp,
        months: i64,
    ) -> Result<Vec<ExpiryMonth>, StoreError> {
        let period = 30 * DAY_MS;
        let mut out = Vec::new();
        for i in -months..months {
            let from = now.0 + i * period;
            let to = from + period;
            let expired = if i < 0 {
                let q = Query::select()
                    .expr(sum_i64(Expr::col(LoyaltyEntries::Points)))
                    .from(LoyaltyEntries::Table)
                    .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store.to_string()))
                    .and_where(Expr::col(LoyaltyEntries::Kind).eq("expire"))
                    .and_where(Expr::col(LoyaltyEntries::EffectiveAt).gte(from))
                    .and_where(Expr::col(LoyaltyEntries::EffectiveAt).lt(to))
                    .to_owned();
                self.fetch_optional::<(Option<i64>,)>(&q)
                    .await?
                    .and_then(|r| r.0)
                    .unwrap_or(0)
            } else {
                0
            };
            let expiring = if i >= 0 {
                let q = Query::select()
                    .expr(sum_i64(Expr::col(LoyaltyLots::Remaining)))
                    .from(LoyaltyLots::Table)
                    .and_where(Expr::col(LoyaltyLots::StoreId).eq(store.to_string()))
                    .and_where(Expr::cust("remaining > 0 AND expires_at IS NOT NULL"))
                    .and_where(Expr::col(LoyaltyLots::ExpiresAt).gte(from))
                    .and_where(Expr::col(LoyaltyLots::ExpiresAt).lt(to))
                    .to_owned();
                self.fetch_optional::<(Option<i64>,)>(&q)
                    .await?
                    .and_then(|r| r.0)
                    .unwrap_or(0)
            } else {
                0
            };
            out.push(ExpiryMonth {
                from,
                expired,
                expiring,
            });
        }
        Ok(out)
    }

    /// Redemptions per reward between `from` and `to`.
    pub async fn redemption_report(
        &self,
        store: StoreId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<RedemptionRow>, StoreError> {
        let q = Query::select()
            .expr_as(
                Expr::col((LoyaltyRewards::Table, LoyaltyRewards::Id)),
                Alias::new("reward_id"),
            )
            .expr_as(
                Expr::col((LoyaltyRewards::Table, LoyaltyRewards::Name)),
                Alias::new("name"),
            )
            .expr_as(
                Expr::col((LoyaltyRedemptions::Table, LoyaltyRedemptions::Id)).count(),
                Alias::new("redemptions"),
            )
            .expr_as(
                Expr::expr(sum_i64(Expr::col((
                    LoyaltyRedemptions::Table,
                    LoyaltyRedemptions::Points,
                ))))
                .if_null(0i64),
                Alias::new("points"),
            )
            .from(LoyaltyRedemptions::Table)
            .inner_join(
                LoyaltyRewards::Table,
                Expr::col((LoyaltyRewards::Table, LoyaltyRewards::Id))
                    .equals((LoyaltyRedemptions::Table, LoyaltyRedemptions::RewardId)),
            )
            .and_where(
                Expr::col((LoyaltyRedemptions::Table, LoyaltyRedemptions::StoreId)).eq(store.to_string()),
            )
            .and_where(Expr::col((LoyaltyRedemptions::Table, LoyaltyRedemptions::CreatedAt)).gte(from.0))
            .and_where(Expr::col((LoyaltyRedemptions::Table, LoyaltyRedemptions::CreatedAt)).lt(to.0))
            .group_by_col((LoyaltyRewards::Table, LoyaltyRewards::Id))
            .group_by_col((LoyaltyRewards::Table, LoyaltyRewards::Name))
            .order_by_expr(Expr::col(Alias::new("redemptions")).into(), Order::Desc)
            .to_owned();
        self.fetch_all(&q).await
    }
}
