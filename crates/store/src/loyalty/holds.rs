//! Holds: points reserved at checkout. A hold takes points out of the customer's lots at
//! once (so they cannot be spent twice), and then is captured (spent) or released (given back
//! to the lots it came from) exactly once, or released when it expires.

use regulars_domain::{new_id, CustomerId, FieldError, StoreId, Timestamp};
use sea_query::{Expr, Query};
use serde::Serialize;

use super::earning::{ensure_customer, positive, reason_required, spend, Spending};
use super::ledger::{apply_moves, moves_of, write_entries, NewEntry};
use super::{account, EntryKind, LoyaltyEntries, LoyaltyHolds};
use crate::events::{insert_events, NewEvent};
use crate::{Db, StoreError, StoreRecord, Tx};

/// Holds last at most a day; a checkout that takes longer starts again.
pub const MAX_HOLD_SECONDS: i64 = 86_400;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HoldRecord {
    pub id: String,
    pub customer_id: String,
    pub points: i64,
    /// `open`, `captured`, `released` or `expired`.
    pub state: String,
    pub reason: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub settled_at: Option<i64>,
}

const HOLD_COLUMNS: [LoyaltyHolds; 8] = [
    LoyaltyHolds::Id,
    LoyaltyHolds::CustomerId,
    LoyaltyHolds::Points,
    LoyaltyHolds::State,
    LoyaltyHolds::Reason,
    LoyaltyHolds::ExpiresAt,
    LoyaltyHolds::CreatedAt,
    LoyaltyHolds::SettledAt,
];

fn select_hold(store: StoreId, id: &str) -> sea_query::SelectStatement {
    Query::select()
        .columns(HOLD_COLUMNS)
        .from(LoyaltyHolds::Table)
        .and_where(Expr::col(LoyaltyHolds::StoreId).eq(store.to_string()))
        .and_where(Expr::col(LoyaltyHolds::Id).eq(id))
        .to_owned()
}

async fn hold_row(tx: &mut Tx, store: StoreId, id: &str) -> Result<HoldRecord, StoreError> {
    tx.fetch_optional(&select_hold(store, id))
        .await?
        .ok_or(StoreError::NotFound("hold"))
}

impl Db {
    pub async fn hold(&self, store: StoreId, id: &str) -> Result<HoldRecord, StoreError> {
        self.fetch_optional(&select_hold(store, id))
            .await?
            .ok_or(StoreError::NotFound("hold"))
    }
}

impl Tx {
    /// Reserves available points for `ttl_seconds`, or refuses with `insufficient_points`.
    #[allow(clippy::too_many_arguments)]
    pub async fn hold_points(
        &mut self,
        store: &StoreRecord,
        customer: CustomerId,
        points: i64,
        ttl_seconds: i64,
        reason: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<HoldRecord, StoreError> {
        let reason = reason_required(reason)?;
        positive(points)?;
        if !(1..=MAX_HOLD_SECONDS).contains(&ttl_seconds) {
            return Err(FieldError::new(
                "ttl_seconds",
                "out_of_range",
                format!("a hold lasts 1 to {MAX_HOLD_SECONDS} seconds"),
            )
            .into());
        }
        let customer_key = customer.to_string();
        ensure_customer(self, store.id, customer).await?;
        self.lock_customers(&[&customer_key]).await?;
        let id = new_id().to_string();
        let expires_at = now.0 + ttl_seconds * 1000;
        let q = Query::insert()
            .into_table(LoyaltyHolds::Table)
            .columns([
                LoyaltyHolds::Id,
                LoyaltyHolds::StoreId,
                LoyaltyHolds::CustomerId,
                LoyaltyHolds::Points,
                LoyaltyHolds::State,
                LoyaltyHolds::Reason,
                LoyaltyHolds::ExpiresAt,
                LoyaltyHolds::CreatedAt,
            ])
            .values_panic([
                id.clone().into(),
                store.id.to_string().into(),
                customer_key.clone().into(),
                points.into(),
                "open".into(),
                reason.into(),
                expires_at.into(),
                now.0.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        let spending = Spending {
            kind: EntryKind::Hold,
            credit: account::HELD,
            reason,
            hold_id: Some(id.clone()),
            reward_id: None,
        };
        spend(self, store.id, &customer_key, points, spending, actor, now).await?;
        hold_row(self, store.id, &id).await
    }

    /// Spends a held reservation. Refused when it was settled already or has expired.
    pub async fn capture_hold(
        &mut self,
        store: &StoreRecord,
        hold: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<HoldRecord, StoreError> {
        let current = hold_row(self, store.id, hold).await?;
        self.lock_customers(&[&current.customer_id]).await?;
        if current.state == "open" && current.expires_at <= now.0 {
            settle(self, store, &current, "expired", actor, now).await?;
            return Err(StoreError::Refused {
                code: "hold_expired",
                message: "this hold expired; its points went back to the customer".into(),
            });
        }
        settle(self, store, &current, "captured", actor, now).await?;
        hold_row(self, store.id, hold).await
    }

    /// Gives a reservation's points back to the lots they came from.
    pub async fn release_hold(
        &mut self,
        store: &StoreRecord,
        hold: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<HoldRecord, StoreError> {
        let current = hold_row(self, store.id, hold).await?;
        self.lock_customers(&[&current.customer_id]).await?;
        settle(self, store, &current, "released", actor, now).await?;
        hold_row(self, store.id, hold).await
    }
}

/// Moves an open hold to `state` exactly once: the conditional update lets only one
/// settlement through, and the entry's dedupe key would refuse a second one anyway.
pub(crate) async fn settle(
    tx: &mut Tx,
    store: &StoreRecord,
    hold: &HoldRecord,
    state: &'static str,
    actor: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let q = Query::update()
        .table(LoyaltyHolds::Table)
        .value(LoyaltyHolds::State, state)
        .value(LoyaltyHolds::SettledAt, now.0)
        .and_where(Expr::col(LoyaltyHolds::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(LoyaltyHolds::Id).eq(hold.id.as_str()))
        .and_where(Expr::col(LoyaltyHolds::State).eq("open"))
        .to_owned();
    if tx.execute(&q).await? == 0 {
        let now_state = hold_row(tx, store.id, &hold.id).await?.state;
        return Err(StoreError::Refused {
            code: "hold_already_settled",
            message: format!("this hold is already {now_state}"),
        });
    }
    let q = Query::select()
        .column(LoyaltyEntries::Id)
        .from(LoyaltyEntries::Table)
        .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(LoyaltyEntries::HoldId).eq(hold.id.as_str()))
        .and_where(Expr::col(LoyaltyEntries::Kind).eq("hold"))
        .to_owned();
    let (hold_entry,): (String,) = tx
        .fetch_optional(&q)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("hold {} has no entry", hold.id)))?;
    let (kind, credit) = if state == "captured" {
        (EntryKind::Capture, account::REDEEMED)
    } else {
        (EntryKind::Release, account::CUSTOMER)
    };
    let mut e = NewEntry::new(
        &hold.customer_id,
        kind,
        (account::HELD, credit),
        hold.points,
        &format!("hold_{state}"),
        actor,
        now,
    );
    e.hold_id = Some(hold.id.clone());
    e.reverses = (kind == EntryKind::Release).then(|| hold_entry.clone());
    e.dedupe_key = Some(format!("hold_settled:{}", hold.id));
    write_entries(tx, store.id, std::slice::from_ref(&e), now).await?;
    if kind == EntryKind::Release {
        // Back into the very lots they came from; a lot that expired meanwhile expires its
        // returned points at the next nightly run.
        let back: Vec<(String, i64)> = moves_of(tx, &hold_entry)
            .await?
            .into_iter()
            .map(|(lot, p)| (lot, -p))
            .collect();
        apply_moves(tx, &e.id, &back).await?;
    }
    let event = NewEvent {
        customer_id: Some(hold.customer_id.clone()),
        kind: if kind == EntryKind::Capture {
            "points_redeemed"
        } else {
            "points_released"
        },
        name: None,
        occurred_at: now,
        dedupe_key: format!("points:{}", e.id),
        data: serde_json::json!({ "entry_id": e.id, "hold_id": hold.id, "points": hold.points, "state": state }),
    };
    insert_events(tx, store.id, &[event], now).await?;
    Ok(())
}
