//! Tiers: measured on points earned (net of what refunds took back) or money spent, over a
//! rolling window or a lifetime. Events only ever promote; the nightly job also demotes when
//! the measure has fallen (a window moved on, a refund). Spending points never demotes: it
//! does not change the measure.

use std::collections::HashMap;

use regulars_domain::loyalty::{Program, TierMetric};
use regulars_domain::{new_id, CustomerId, StoreId, Timestamp};
use sea_query::{Alias, Expr, OnConflict, Order, Query};
use serde::Serialize;

use super::sum_i64;
use super::{kind_among, LoyaltyEntries, LoyaltyMembers, LoyaltyTierChanges, ProgramRecord, DAY_MS};
use crate::events::{insert_events, NewEvent};
use crate::schema::Orders;
use crate::{Db, StoreError, StoreRecord, Tx, CHUNK};

/// The statuses under which an order's money counts as spent.
const PAID: [&str; 3] = ["paid", "partially_refunded", "refunded"];

pub(crate) async fn current_tiers(
    tx: &mut Tx,
    store: StoreId,
    customers: &[&str],
) -> Result<HashMap<String, String>, StoreError> {
    let mut out = HashMap::new();
    for chunk in customers.chunks(CHUNK) {
        let q = Query::select()
            .columns([LoyaltyMembers::CustomerId, LoyaltyMembers::TierId])
            .from(LoyaltyMembers::Table)
            .and_where(Expr::col(LoyaltyMembers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyMembers::CustomerId).is_in(chunk.iter().copied()))
            .to_owned();
        for (customer, tier) in tx.fetch_all::<(String, Option<String>)>(&q).await? {
            if let Some(tier) = tier {
                out.insert(customer, tier);
            }
        }
    }
    Ok(out)
}

fn window_start(program: &Program, now: Timestamp) -> i64 {
    program
        .tiers
        .window_days
        .map(|d| now.0 - i64::from(d) * DAY_MS)
        .unwrap_or(i64::MIN)
}

/// The measure query: per customer, restricted to `customers` when given.
pub(crate) fn measure_query(
    store: StoreId,
    program: &Program,
    customers: Option<&[&str]>,
    now: Timestamp,
) -> sea_query::SelectStatement {
    let since = window_start(program, now);
    let mut q = Query::select();
    match program.tiers.metric {
        TierMetric::PointsEarned => {
            // Earnings add, revocations (what was taken and what was written off) subtract.
            let signed = Expr::case(
                Expr::col(LoyaltyEntries::Kind).eq("earn"),
                Expr::col(LoyaltyEntries::Points),
            )
            .finally(
                Expr::col(LoyaltyEntries::Points)
                    .add(Expr::col(LoyaltyEntries::WrittenOff))
                    .mul(-1),
            );
            q.column(LoyaltyEntries::CustomerId)
                .expr_as(
                    sum_i64(Expr::expr(sea_query::SimpleExpr::Case(Box::new(signed)))),
                    Alias::new("measure"),
                )
                .from(LoyaltyEntries::Table)
                .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store.to_string()))
                .group_by_col(LoyaltyEntries::CustomerId);
            match customers {
                // A few customers: their own entries, by the customer index.
                Some(c) => {
                    q.and_where(Expr::col(LoyaltyEntries::CustomerId).is_in(c.iter().copied()))
                        .and_where(kind_among(&["earn", "revoke"]))
                        .and_where(Expr::expr(Expr::cust("effective_at + 0")).gte(since));
                }
                // Everyone: one pass over the covering (kind, effective_at, customer) index.
                None => {
                    q.and_where(Expr::col(LoyaltyEntries::Kind).is_in(["earn", "revoke"]))
                        .and_where(Expr::col(LoyaltyEntries::EffectiveAt).gte(since));
                }
            }
        }
        TierMetric::MoneySpent => {
            q.column(Orders::CustomerId)
                .expr_as(
                    sum_i64(Expr::expr(
                        Expr::col(Orders::Total).sub(Expr::col(Orders::RefundedTotal)),
                    )),
                    Alias::new("measure"),
                )
                .from(Orders::Table)
                .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
                .and_where(Expr::col(Orders::CustomerId).is_not_null())
                .and_where(Expr::col(Orders::CancelledAt).is_null())
                .and_where(Expr::col(Orders::FinancialStatus).is_in(PAID))
                .and_where(Expr::col(Orders::PlacedAt).gte(since))
                .group_by_col(Orders::CustomerId);
            if let Some(c) = customers {
                q.and_where(Expr::col(Orders::CustomerId).is_in(c.iter().copied()));
            }
        }
    }
    q.to_owned()
}

/// A decided change of tier.
pub(crate) struct Change {
    pub customer: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub measure: i64,
}

/// Promotes these customers where their measure now reaches a higher tier.
pub(crate) async fn promote(
    tx: &mut Tx,
    store: &StoreRecord,
    record: &ProgramRecord,
    customers: &[&str],
    now: Timestamp,
) -> Result<(), StoreError> {
    let ladder = &record.program.tiers;
    if ladder.levels.is_empty() || customers.is_empty() {
        return Ok(());
    }
    let mut unique: Vec<&str> = customers.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let current = current_tiers(tx, store.id, &unique).await?;
    let mut changes = Vec::new();
    for chunk in unique.chunks(CHUNK) {
        let q = measure_query(store.id, &record.program, Some(chunk), now);
        for (customer, measure) in tx.fetch_all::<(String, Option<i64>)>(&q).await? {
            let measure = measure.unwrap_or(0);
            let from = current.get(&customer).cloned();
            let to = ladder.tier_for(measure).map(|t| t.id.clone());
            if ladder.is_promotion(from.as_deref(), to.as_deref()) {
                changes.push(Change {
                    customer,
                    from,
                    to,
                    measure,
                });
            }
        }
    }
    apply_changes(tx, store, record, &changes, "event", now).await
}

/// Records tier changes: the member row, the history, a `tier_changed` event and the
/// tier's gift on the way up.
pub(crate) async fn apply_changes(
    tx: &mut Tx,
    store: &StoreRecord,
    record: &ProgramRecord,
    changes: &[Change],
    cause: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let ladder = &record.program.tiers;
    let store_key = store.id.to_string();
    for chunk in changes.chunks(CHUNK / 4) {
        let mut q = Query::insert();
        q.into_table(LoyaltyMembers::Table)
            .columns([
                LoyaltyMembers::StoreId,
                LoyaltyMembers::CustomerId,
                LoyaltyMembers::TierId,
                LoyaltyMembers::TierSince,
                LoyaltyMembers::Measure,
                LoyaltyMembers::UpdatedAt,
            ])
            .on_conflict(
                OnConflict::columns([LoyaltyMembers::StoreId, LoyaltyMembers::CustomerId])
                    .update_columns([
                        LoyaltyMembers::TierId,
                        LoyaltyMembers::TierSince,
                        LoyaltyMembers::Measure,
                        LoyaltyMembers::UpdatedAt,
                    ])
                    .to_owned(),
            );
        let mut history = Query::insert();
        history.into_table(LoyaltyTierChanges::Table).columns([
            LoyaltyTierChanges::Id,
            LoyaltyTierChanges::StoreId,
            LoyaltyTierChanges::CustomerId,
            LoyaltyTierChanges::FromTier,
            LoyaltyTierChanges::ToTier,
            LoyaltyTierChanges::Measure,
            LoyaltyTierChanges::Cause,
            LoyaltyTierChanges::ChangedAt,
        ]);
        let mut events = Vec::new();
        for c in chunk {
            q.values_panic([
                store_key.clone().into(),
                c.customer.clone().into(),
                c.to.clone().into(),
                now.0.into(),
                c.measure.into(),
                now.0.into(),
            ]);
            let id = new_id().to_string();
            history.values_panic([
                id.clone().into(),
                store_key.clone().into(),
                c.customer.clone().into(),
                c.from.clone().into(),
                c.to.clone().into(),
                c.measure.into(),
                cause.into(),
                now.0.into(),
            ]);
            let name =
                |t: &Option<String>| t.as_deref().and_then(|id| ladder.get(id)).map(|t| t.name.clone());
            events.push(NewEvent {
                customer_id: Some(c.customer.clone()),
                kind: "tier_changed",
                name: c.to.clone(),
                occurred_at: now,
                dedupe_key: format!("tier:{id}"),
                data: serde_json::json!({
                    "from": c.from,
                    "to": c.to,
                    "from_name": name(&c.from),
                    "to_name": name(&c.to),
                    "direction": if ladder.is_promotion(c.from.as_deref(), c.to.as_deref()) { "up" } else { "down" },
                    "measure": c.measure,
                    "cause": cause,
                }),
            });
        }
        tx.execute(&q).await?;
        tx.execute(&history).await?;
        insert_events(tx, store.id, &events, now).await?;
    }
    for c in changes {
        if !ladder.is_promotion(c.from.as_deref(), c.to.as_deref()) {
            continue;
        }
        let gift =
            c.to.as_deref()
                .and_then(|t| ladder.get(t))
                .and_then(|t| t.benefits.gift_reward_id.clone());
        if let (Some(reward), Some(tier)) = (gift, c.to.as_deref()) {
            let customer = CustomerId::parse(&c.customer).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            super::rewards::grant_gift(tx, store, customer, &reward, &format!("tier:{tier}"), now).await?;
        }
    }
    Ok(())
}

/// One change in a customer's tier history.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TierChange {
    pub from_tier: Option<String>,
    pub to_tier: Option<String>,
    pub measure: i64,
    pub cause: String,
    pub changed_at: i64,
}

impl Db {
    /// The customer's tier changes, newest first.
    pub async fn tier_history(
        &self,
        store: StoreId,
        customer: CustomerId,
    ) -> Result<Vec<TierChange>, StoreError> {
        let q = Query::select()
            .columns([
                LoyaltyTierChanges::FromTier,
                LoyaltyTierChanges::ToTier,
                LoyaltyTierChanges::Measure,
                LoyaltyTierChanges::Cause,
                LoyaltyTierChanges::ChangedAt,
            ])
            .from(LoyaltyTierChanges::Table)
            .and_where(Expr::col(LoyaltyTierChanges::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyTierChanges::CustomerId).eq(customer.to_string()))
            .order_by(LoyaltyTierChanges::ChangedAt, Order::Desc)
            .order_by(LoyaltyTierChanges::Id, Order::Desc)
            .limit(200)
            .to_owned();
        self.fetch_all(&q).await
    }

    /// The customer's current tier id and since when.
    pub async fn member_tier(
        &self,
        store: StoreId,
        customer: CustomerId,
    ) -> Result<Option<(String, Timestamp)>, StoreError> {
        let q = Query::select()
            .columns([LoyaltyMembers::TierId, LoyaltyMembers::TierSince])
            .from(LoyaltyMembers::Table)
            .and_where(Expr::col(LoyaltyMembers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyMembers::CustomerId).eq(customer.to_string()))
            .to_owned();
        Ok(self
            .fetch_optional::<(Option<String>, Option<i64>)>(&q)
            .await?
            .and_then(|(t, s)| t.map(|t| (t, Timestamp(s.unwrap_or(0))))))
    }

    /// The customer's tier measure now (points earned or money spent in the window).
    pub async fn tier_measure(
        &self,
        store: StoreId,
        program: &Program,
        customer: CustomerId,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        let key = customer.to_string();
        let q = measure_query(store, program, Some(&[key.as_str()]), now);
        Ok(self
            .fetch_optional::<(String, Option<i64>)>(&q)
            .await?
            .and_then(|(_, m)| m)
            .unwrap_or(0))
    }
}
