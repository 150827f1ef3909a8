//! The nightly job: releases expired holds, expires lots whose time has come, tells
//! customers of points about to expire, re-evaluates every member's tier and gives birthday
//! points. Each step works in short transactions of a bounded size, so the job never holds
//! the write lock for long and can be stopped and run again at any moment: every posting has
//! a dedupe key or a state guard.

use std::collections::HashMap;

use chrono::Datelike;
use regulars_domain::loyalty::Action;
use regulars_domain::{CustomerId, Timestamp};
use sea_query::{Expr, Order, Query};
use serde::Serialize;

use super::holds::{settle, HoldRecord};
use super::ledger::{apply_moves, write_entries, NewEntry};
use super::tiers::{apply_changes, measure_query, Change};
use super::{
    account, local_date, EntryKind, LoyaltyHolds, LoyaltyLots, LoyaltyMembers, LoyaltyPrograms, DAY_MS,
};
use crate::events::{insert_events, NewEvent};
use crate::schema::Customers;
use crate::{Db, StoreError, StoreRecord};

const BATCH: u64 = 2_000;

#[derive(Debug, Clone, Default, Serialize)]
pub struct NightlyReport {
    pub holds_released: u64,
    pub lots_expired: u64,
    pub points_expired: i64,
    pub lots_warned: u64,
    pub members_evaluated: u64,
    pub promotions: u64,
    pub demotions: u64,
    pub birthdays: u64,
}

#[derive(sqlx::FromRow)]
struct DueLot {
    id: String,
    customer_id: String,
    remaining: i64,
    expires_at: Option<i64>,
}

impl Db {
    /// Runs the nightly job for one store as of `now`.
    pub async fn run_loyalty_nightly(
        &self,
        store: &StoreRecord,
        now: Timestamp,
    ) -> Result<NightlyReport, StoreError> {
        let record = self.loyalty_program(store.id).await?;
        let mut report = NightlyReport::default();
        if record.updated_at.is_none() {
            return Ok(report);
        }
        let store_key = store.id.to_string();

        // 1. Holds past their time go back to their lots.
        loop {
            let q = Query::select()
                .columns([
                    LoyaltyHolds::Id,
                    LoyaltyHolds::CustomerId,
                    LoyaltyHolds::Points,
                    LoyaltyHolds::State,
                    LoyaltyHolds::Reason,
                    LoyaltyHolds::ExpiresAt,
                    LoyaltyHolds::CreatedAt,
                    LoyaltyHolds::SettledAt,
                ])
                .from(LoyaltyHolds::Table)
                .and_where(Expr::col(LoyaltyHolds::StoreId).eq(store_key.as_str()))
                .and_where(Expr::cust("state = 'open'"))
                .and_where(Expr::col(LoyaltyHolds::ExpiresAt).lte(now.0))
                .limit(200)
                .to_owned();
            let due: Vec<HoldRecord> = self.fetch_all(&q).await?;
            if due.is_empty() {
                break;
            }
            let mut tx = self.begin().await?;
            let customers: Vec<&str> = due.iter().map(|h| h.customer_id.as_str()).collect();
            tx.lock_customers(&customers).await?;
            for hold in &due {
                match settle(&mut tx, store, hold, "expired", "system", now).await {
                    Ok(()) => report.holds_released += 1,
                    // Settled meanwhile by its checkout: nothing to do.
                    Err(StoreError::Refused { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            tx.commit().await?;
        }

        // 2. Lots whose expiry has come give up what is left in them.
        loop {
            // Literal predicates, so SQLite can use the partial index of open expiring lots.
            let q = Query::select()
                .columns([
                    LoyaltyLots::Id,
                    LoyaltyLots::CustomerId,
                    LoyaltyLots::Remaining,
                    LoyaltyLots::ExpiresAt,
                ])
                .from(LoyaltyLots::Table)
                .and_where(Expr::col(LoyaltyLots::StoreId).eq(store_key.as_str()))
                .and_where(Expr::cust("remaining > 0 AND expires_at IS NOT NULL"))
                .and_where(Expr::col(LoyaltyLots::ExpiresAt).lte(now.0))
                .order_by(LoyaltyLots::ExpiresAt, Order::Asc)
                .limit(BATCH)
                .to_owned();
            let due: Vec<DueLot> = self.fetch_all(&q).await?;
            if due.is_empty() {
                break;
            }
            let mut tx = self.begin().await?;
            let customers: Vec<&str> = due.iter().map(|l| l.customer_id.as_str()).collect();
            tx.lock_customers(&customers).await?;
            // Re-read inside the lock: a spend may have emptied a lot since.
            let ids: Vec<&str> = due.iter().map(|l| l.id.as_str()).collect();
            let q = Query::select()
                .columns([
                    LoyaltyLots::Id,
                    LoyaltyLots::CustomerId,
                    LoyaltyLots::Remaining,
                    LoyaltyLots::ExpiresAt,
                ])
                .from(LoyaltyLots::Table)
                .and_where(Expr::col(LoyaltyLots::Id).is_in(ids))
                .and_where(Expr::col(LoyaltyLots::Remaining).gt(0))
                .to_owned();
            let lots: Vec<DueLot> = tx.fetch_all(&q).await?;
            let mut entries = Vec::with_capacity(lots.len());
            let mut per_customer: HashMap<&str, i64> = HashMap::new();
            for lot in &lots {
                let mut e = NewEntry::new(
                    &lot.customer_id,
                    EntryKind::Expire,
                    (account::CUSTOMER, account::EXPIRED),
                    lot.remaining,
                    "expired",
                    "system",
                    now,
                );
                e.reverses = Some(lot.id.clone());
                e.dedupe_key = Some(format!("expire:{}", lot.id));
                *per_customer.entry(&lot.customer_id).or_default() += lot.remaining;
                report.points_expired += lot.remaining;
                entries.push(e);
            }
            write_entries(&mut tx, store.id, &entries, now).await?;
            for (e, lot) in entries.iter().zip(&lots) {
                apply_moves(&mut tx, &e.id, &[(lot.id.clone(), lot.remaining)]).await?;
            }
            let events: Vec<NewEvent> = per_customer
                .iter()
                .map(|(customer, points)| NewEvent {
                    customer_id: Some(customer.to_string()),
                    kind: "points_expired",
                    name: None,
                    occurred_at: now,
                    dedupe_key: format!("expired:{customer}:{}", local_date(now, &store.timezone)),
                    data: serde_json::json!({ "points": points }),
                })
                .collect();
            insert_events(&mut tx, store.id, &events, now).await?;
            tx.commit().await?;
            report.lots_expired += lots.len() as u64;
        }

        // 3. Reminders for lots newly inside the warning window.
        let warn = i64::from(record.program.expiry_warning_days) * DAY_MS;
        if warn > 0 {
            // The first run warns of everything inside the window; later runs only of what
            // entered it since the run before.
            let since = record.nightly_at.map(|t| t.0 + warn).unwrap_or(now.0);
            let q = Query::select()
                .columns([
                    LoyaltyLots::Id,
                    LoyaltyLots::CustomerId,
                    LoyaltyLots::Remaining,
                    LoyaltyLots::ExpiresAt,
                ])
                .from(LoyaltyLots::Table)
                .and_where(Expr::col(LoyaltyLots::StoreId).eq(store_key.as_str()))
                .and_where(Expr::cust("remaining > 0 AND expires_at IS NOT NULL"))
                .and_where(Expr::col(LoyaltyLots::ExpiresAt).gt(since.max(now.0)))
                .and_where(Expr::col(LoyaltyLots::ExpiresAt).lte(now.0 + warn))
                .to_owned();
            let soon: Vec<DueLot> = self.fetch_all(&q).await?;
            for chunk in soon.chunks(BATCH as usize) {
                let events: Vec<NewEvent> = chunk
                    .iter()
                    .map(|lot| NewEvent {
                        customer_id: Some(lot.customer_id.clone()),
                        kind: "points_expiring",
                        name: None,
                        occurred_at: now,
                        dedupe_key: format!("expiring:{}", lot.id),
                        data: serde_json::json!({
                            "points": lot.remaining,
                            "expires_at": lot.expires_at.map(|t| Timestamp(t).to_rfc3339()),
                        }),
                    })
                    .collect();
                let mut tx = self.begin().await?;
                report.lots_warned += insert_events(&mut tx, store.id, &events, now).await?;
                tx.commit().await?;
            }
        }

        // 4. Every member's tier, promoted or demoted to what the measure says now.
        let ladder = &record.program.tiers;
        if !ladder.levels.is_empty() {
            let measures: HashMap<String, i64> = self
                .fetch_all::<(String, Option<i64>)>(&measure_query(store.id, &record.program, None, now))
                .await?
                .into_iter()
                .map(|(c, m)| (c, m.unwrap_or(0)))
                .collect();
            let q = Query::select()
                .columns([LoyaltyMembers::CustomerId, LoyaltyMembers::TierId])
                .from(LoyaltyMembers::Table)
                .and_where(Expr::col(LoyaltyMembers::StoreId).eq(store_key.as_str()))
                .to_owned();
            let members: HashMap<String, Option<String>> = self.fetch_all(&q).await?.into_iter().collect();
            let mut changes = Vec::new();
            let mut decide = |customer: &str, measure: i64, from: Option<&String>| {
                let to = ladder.tier_for(measure).map(|t| t.id.clone());
                if to.as_ref() != from {
                    changes.push(Change {
                        customer: customer.to_string(),
                        from: from.cloned(),
                        to,
                        measure,
                    });
                }
            };
            for (customer, measure) in &measures {
                decide(customer, *measure, members.get(customer).and_then(|t| t.as_ref()));
            }
            for (customer, tier) in &members {
                if tier.is_some() && !measures.contains_key(customer) {
                    decide(customer, 0, tier.as_ref());
                }
            }
            report.members_evaluated = measures.len().max(members.len()) as u64;
            for c in &changes {
                if ladder.is_promotion(c.from.as_deref(), c.to.as_deref()) {
                    report.promotions += 1;
                } else {
                    report.demotions += 1;
                }
            }
            for chunk in changes.chunks(BATCH as usize) {
                let mut tx = self.begin().await?;
                apply_changes(&mut tx, store, &record, chunk, "nightly", now).await?;
                tx.commit().await?;
            }
        }

        // 5. Birthday points for today's birthdays (once a year each, by the ledger's key).
        if record.program.enabled && record.program.action_rule(&Action::Birthday).is_some() {
            let today = local_date(now, &store.timezone);
            let mut patterns = vec![format!("%-{:02}-{:02}", today.month(), today.day())];
            let leap = chrono::NaiveDate::from_ymd_opt(today.year(), 2, 29).is_some();
            if !leap && today.month() == 2 && today.day() == 28 {
                patterns.push("%-02-29".into());
            }
            for pattern in patterns {
                let q = Query::select()
                    .column(Customers::Id)
                    .from(Customers::Table)
                    .and_where(Expr::col(Customers::StoreId).eq(store_key.as_str()))
                    .and_where(Expr::col(Customers::Birthday).like(pattern))
                    .to_owned();
                let ids: Vec<(String,)> = self.fetch_all(&q).await?;
                for (id,) in ids {
                    let customer = CustomerId::parse(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let mut tx = self.begin().await?;
                    let out = tx
                        .earn_for_action(store, customer, &Action::Birthday, None, "system", now)
                        .await?;
                    tx.commit().await?;
                    if out.entry_id.is_some() {
                        report.birthdays += 1;
                    }
                }
            }
        }

        let q = Query::update()
            .table(LoyaltyPrograms::Table)
            .value(LoyaltyPrograms::NightlyAt, now.0)
            .and_where(Expr::col(LoyaltyPrograms::StoreId).eq(store_key.as_str()))
            .to_owned();
        self.execute(&q).await?;
        Ok(report)
    }
}
