//! Earning and taking back: orders earn when paid and lose what their refunded part earned
//! (all of it on cancellation); actions earn within their caps; staff and API adjust by hand;
//! spending takes from the soonest-expiring available lot first.

use std::collections::HashMap;

use regulars_domain::loyalty::{order_points, points_kept, Action, EarnLine, EarnOrder};
use regulars_domain::{new_id, CustomerId, FieldError, FinancialStatus, StoreId, Timestamp};
use sea_query::{Alias, Expr, Query};
use serde::Serialize;

use super::ledger::{apply_moves, moved, plan_take, write_entries, EntryRecord, NewEntry, Take};
use super::sum_i64;
use super::{
    account, kind_among, local_date, local_day_start, EntryKind, LoyaltyEntries, ProgramRecord, DAY_MS,
};
use crate::events::{insert_events, NewEvent};
use crate::schema::{Customers, OrderLines, Orders};
use crate::{StoreError, StoreRecord, Tx, CHUNK};

#[derive(sqlx::FromRow)]
struct OrderState {
    id: String,
    customer_id: Option<String>,
    placed_at: i64,
    currency: String,
    total: i64,
    shipping_total: i64,
    tax_total: i64,
    refunded_total: i64,
    financial_status: String,
    cancelled_at: Option<i64>,
}

impl OrderState {
    fn paid(&self) -> bool {
        FinancialStatus::parse(&self.financial_status).is_ok_and(|s| s.is_paid())
    }

    fn cancelled(&self) -> bool {
        self.cancelled_at.is_some()
            || matches!(
                FinancialStatus::parse(&self.financial_status),
                Ok(FinancialStatus::Voided)
            )
    }
}

#[derive(sqlx::FromRow)]
struct EarnRow {
    id: String,
    order_id: Option<String>,
    customer_id: String,
    points: i64,
    effective_at: i64,
}

#[derive(sqlx::FromRow)]
struct RevokedRow {
    reverses: Option<String>,
    points: Option<i64>,
    written_off: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    order_id: String,
    product_external_id: Option<String>,
    sku: Option<String>,
    quantity: i64,
    unit_price: i64,
    discount: i64,
}

/// When a lot of points earned at `effective_at` becomes spendable and when it expires.
pub(crate) fn lot_dates(record: &ProgramRecord, effective_at: i64) -> (i64, Option<i64>) {
    let available_from = effective_at + i64::from(record.program.pending_days) * DAY_MS;
    let expires_at = record
        .program
        .expiry_days
        .map(|d| available_from + i64::from(d) * DAY_MS);
    (available_from, expires_at)
}

/// Brings the ledger in line with the orders' current state: a paid order of a member earns
/// once; a refund takes back what its share earned; a cancellation takes back the rest.
/// Safe to run any number of times (replays change nothing).
pub(crate) async fn reconcile_orders(
    tx: &mut Tx,
    store: &StoreRecord,
    order_ids: &[&str],
    credit_history: bool,
) -> Result<(), StoreError> {
    let record = tx.loyalty_program(store.id).await?;
    if record.updated_at.is_none() || order_ids.is_empty() {
        // No program was ever set: nothing was earned and nothing earns.
        return Ok(());
    }
    let now = Timestamp::now();
    let store_key = store.id.to_string();
    let mut orders: Vec<OrderState> = Vec::new();
    let mut earns: HashMap<String, EarnRow> = HashMap::new();
    let mut revoked: HashMap<String, i64> = HashMap::new();
    for chunk in order_ids.chunks(CHUNK) {
        let q = Query::select()
            .columns([
                Orders::Id,
                Orders::CustomerId,
                Orders::PlacedAt,
                Orders::Currency,
                Orders::Total,
                Orders::ShippingTotal,
                Orders::TaxTotal,
                Orders::RefundedTotal,
                Orders::FinancialStatus,
                Orders::CancelledAt,
            ])
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(Orders::Id).is_in(chunk.iter().copied()))
            .to_owned();
        orders.extend(tx.fetch_all::<OrderState>(&q).await?);
        let q = Query::select()
            .columns([
                LoyaltyEntries::Id,
                LoyaltyEntries::OrderId,
                LoyaltyEntries::CustomerId,
                LoyaltyEntries::Points,
                LoyaltyEntries::EffectiveAt,
            ])
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(LoyaltyEntries::OrderId).is_in(chunk.iter().copied()))
            .and_where(kind_among(&["earn"]))
            .to_owned();
        for row in tx.fetch_all::<EarnRow>(&q).await? {
            earns.insert(row.order_id.clone().unwrap_or_default(), row);
        }
        let q = Query::select()
            .column(LoyaltyEntries::Reverses)
            .expr_as(sum_i64(Expr::col(LoyaltyEntries::Points)), Alias::new("points"))
            .expr_as(
                sum_i64(Expr::col(LoyaltyEntries::WrittenOff)),
                Alias::new("written_off"),
            )
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(LoyaltyEntries::OrderId).is_in(chunk.iter().copied()))
            .and_where(kind_among(&["revoke"]))
            .group_by_col(LoyaltyEntries::Reverses)
            .to_owned();
        for row in tx.fetch_all::<RevokedRow>(&q).await? {
            if let Some(earn) = row.reverses {
                revoked.insert(earn, row.points.unwrap_or(0) + row.written_off.unwrap_or(0));
            }
        }
    }

    // New earnings: paid, not cancelled, by a known customer, placed while the program ran.
    let to_earn: Vec<&OrderState> = orders
        .iter()
        .filter(|o| {
            !earns.contains_key(&o.id)
                && o.customer_id.is_some()
                && o.paid()
                && !o.cancelled()
                // Points are per unit of the store's currency; other currencies earn nothing.
                && o.currency == store.currency.code()
                && record.earns_for(Timestamp(o.placed_at), credit_history)
        })
        .collect();
    if !to_earn.is_empty() {
        let ids: Vec<&str> = to_earn.iter().map(|o| o.id.as_str()).collect();
        let customers: Vec<&str> = to_earn.iter().filter_map(|o| o.customer_id.as_deref()).collect();
        let tiers = super::tiers::current_tiers(tx, store.id, &customers).await?;
        let mut lines: HashMap<String, Vec<EarnLine>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let q = Query::select()
                .columns([
                    OrderLines::OrderId,
                    OrderLines::ProductExternalId,
                    OrderLines::Sku,
                    OrderLines::Quantity,
                    OrderLines::UnitPrice,
                    OrderLines::Discount,
                ])
                .from(OrderLines::Table)
                .and_where(Expr::col(OrderLines::OrderId).is_in(chunk.iter().copied()))
                .to_owned();
            for l in tx.fetch_all::<LineRow>(&q).await? {
                lines.entry(l.order_id).or_default().push(EarnLine {
                    product_id: l.product_external_id,
                    sku: l.sku,
                    category: None,
                    tags: vec![],
                    net_amount: l.quantity * l.unit_price - l.discount,
                });
            }
        }
        let mut entries = Vec::new();
        let mut events = Vec::new();
        for o in to_earn {
            let customer = o.customer_id.as_deref().expect("filtered to members");
            let tier = tiers.get(customer).and_then(|t| record.program.tiers.get(t));
            let earn_order = EarnOrder {
                total: o.total,
                shipping: o.shipping_total,
                tax: o.tax_total,
                lines: lines.remove(&o.id).unwrap_or_default(),
                placed_on: local_date(Timestamp(o.placed_at), &store.timezone),
            };
            let points = order_points(&record.program, &earn_order, tier);
            if points <= 0 {
                continue;
            }
            let (available_from, expires_at) = lot_dates(&record, o.placed_at);
            let mut e = NewEntry::new(
                customer,
                EntryKind::Earn,
                (account::PROGRAM, account::CUSTOMER),
                points,
                "order",
                "system",
                Timestamp(o.placed_at),
            );
            e.order_id = Some(o.id.clone());
            e.basis = Some(o.total);
            e.available_from = Some(available_from);
            e.expires_at = expires_at;
            e.dedupe_key = Some(format!("earn:order:{}", o.id));
            events.push(earned_event(&e, now));
            earns.insert(
                o.id.clone(),
                EarnRow {
                    id: e.id.clone(),
                    order_id: Some(o.id.clone()),
                    customer_id: customer.to_string(),
                    points,
                    effective_at: o.placed_at,
                },
            );
            entries.push(e);
        }
        write_entries(tx, store.id, &entries, now).await?;
        insert_events(tx, store.id, &events, now).await?;
        let earned: Vec<&str> = entries.iter().map(|e| e.customer_id.as_str()).collect();
        super::tiers::promote(tx, store, &record, &earned, now).await?;
    }

    // Take back what refunds and cancellations removed from earned orders.
    let mut revocations: Vec<(&EarnRow, i64)> = Vec::new();
    for o in &orders {
        let Some(earn) = earns.get(&o.id) else { continue };
        let kept = points_kept(earn.points, o.total, o.refunded_total, o.cancelled() || !o.paid());
        let already = revoked.get(&earn.id).copied().unwrap_or(0);
        let owed = earn.points - kept - already;
        if owed > 0 {
            revocations.push((earn, owed));
        }
    }
    if !revocations.is_empty() {
        let customers: Vec<&str> = revocations.iter().map(|(e, _)| e.customer_id.as_str()).collect();
        tx.lock_customers(&customers).await?;
        let mut events = Vec::new();
        for (earn, owed) in revocations {
            let kept_after = earn.points - revoked.get(&earn.id).copied().unwrap_or(0) - owed;
            let moves = plan_take(
                tx,
                store.id,
                Take {
                    customer: &earn.customer_id,
                    points: owed,
                    first_lot: Some(&earn.id),
                    with_pending: true,
                },
                now,
            )
            .await?;
            let taken = moved(&moves);
            let mut e = NewEntry::new(
                &earn.customer_id,
                EntryKind::Revoke,
                (account::CUSTOMER, account::PROGRAM),
                taken,
                "order_refunded",
                "system",
                Timestamp(earn.effective_at),
            );
            // Points already spent cannot come back; the shortfall is recorded, not owed.
            e.written_off = owed - taken;
            e.reverses = Some(earn.id.clone());
            e.order_id = earn.order_id.clone();
            e.dedupe_key = Some(format!("revoke:{}:{kept_after}", earn.id));
            events.push(NewEvent {
                customer_id: Some(earn.customer_id.clone()),
                kind: "points_revoked",
                name: None,
                occurred_at: now,
                dedupe_key: format!("points:{}", e.id),
                data: serde_json::json!({
                    "entry_id": e.id,
                    "points": taken,
                    "written_off": e.written_off,
                    "order_id": earn.order_id,
                    "reverses": earn.id,
                }),
            });
            write_entries(tx, store.id, std::slice::from_ref(&e), now).await?;
            apply_moves(tx, &e.id, &moves).await?;
        }
        insert_events(tx, store.id, &events, now).await?;
    }
    Ok(())
}

pub(crate) fn earned_event(e: &NewEntry, now: Timestamp) -> NewEvent {
    NewEvent {
        customer_id: Some(e.customer_id.clone()),
        kind: "points_earned",
        name: e.action.clone(),
        occurred_at: if e.order_id.is_some() {
            Timestamp(e.effective_at)
        } else {
            now
        },
        dedupe_key: format!("points:{}", e.id),
        data: serde_json::json!({
            "entry_id": e.id,
            "points": e.points,
            "reason": e.reason,
            "order_id": e.order_id,
            "action": e.action,
            "available_from": e.available_from.map(|t| Timestamp(t).to_rfc3339()),
            "expires_at": e.expires_at.map(|t| Timestamp(t).to_rfc3339()),
        }),
    }
}

/// What an action earned, or why it earned nothing.
#[derive(Debug, Clone, Serialize)]
pub struct ActionOutcome {
    pub points: i64,
    pub entry_id: Option<String>,
    /// `program_off`, `no_rule`, `cap_reached` or `already_earned` when nothing was earned.
    pub skipped: Option<&'static str>,
}

pub(crate) fn reason_required(reason: &str) -> Result<&str, FieldError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(FieldError::new(
            "reason",
            "reason_required",
            "say why, in 1 to 500 characters",
        ));
    }
    Ok(reason)
}

pub(crate) fn positive(points: i64) -> Result<i64, FieldError> {
    if !(1..=100_000_000).contains(&points) {
        return Err(FieldError::new(
            "points",
            "out_of_range",
            "points run from 1 to 100,000,000",
        ));
    }
    Ok(points)
}

impl Tx {
    /// Earns the points an action's rule gives, within its cap. `reference` names the thing
    /// acted on (a review id, a survey id): the same reference never earns twice. Birthday
    /// points are once per calendar year whatever the birthday says; sign-up once ever.
    pub async fn earn_for_action(
        &mut self,
        store: &StoreRecord,
        customer: CustomerId,
        action: &Action,
        reference: Option<&str>,
        actor: &str,
        now: Timestamp,
    ) -> Result<ActionOutcome, StoreError> {
        let skipped = |why| ActionOutcome {
            points: 0,
            entry_id: None,
            skipped: Some(why),
        };
        let record = self.loyalty_program(store.id).await?;
        if !record.program.enabled {
            return Ok(skipped("program_off"));
        }
        let Some(rule) = record.program.action_rule(action).cloned() else {
            return Ok(skipped("no_rule"));
        };
        if rule.points == 0 {
            return Ok(skipped("no_rule"));
        }
        let customer_key = customer.to_string();
        ensure_customer(self, store.id, customer).await?;
        self.lock_customers(&[&customer_key]).await?;
        let key = action.as_key();
        let today = local_date(now, &store.timezone);
        let dedupe = match (action, reference) {
            (Action::SignUp, _) => format!("action:{key}:{customer_key}"),
            (Action::Birthday, _) => {
                format!("action:{key}:{customer_key}:{}", chrono::Datelike::year(&today))
            }
            (_, Some(r)) => format!("action:{key}:{customer_key}:{}", r.trim()),
            (_, None) => format!("action:{key}:{customer_key}:{}", new_id()),
        };
        if self.entry_by_key(store.id, &dedupe).await?.is_some() {
            return Ok(skipped("already_earned"));
        }
        if let Some(cap) = rule.effective_cap() {
            let since = local_day_start(cap.period.start(today), &store.timezone);
            let q = Query::select()
                .expr(Expr::col(LoyaltyEntries::Id).count())
                .from(LoyaltyEntries::Table)
                .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(LoyaltyEntries::CustomerId).eq(customer_key.as_str()))
                .and_where(kind_among(&["earn"]))
                .and_where(Expr::col(LoyaltyEntries::Action).eq(key.as_str()))
                .and_where(Expr::col(LoyaltyEntries::EffectiveAt).gte(since.0))
                .to_owned();
            let (count,): (i64,) = self.fetch_optional(&q).await?.unwrap_or((0,));
            if count >= cap.count {
                return Ok(skipped("cap_reached"));
            }
        }
        let entry = credit_now(
            self,
            store,
            &record,
            &customer_key,
            rule.points,
            &key,
            &dedupe,
            actor,
            now,
        )
        .await?;
        Ok(ActionOutcome {
            points: rule.points,
            entry_id: Some(entry),
            skipped: None,
        })
    }

    /// A correction by hand: `points` > 0 credits (a new lot on the program's expiry terms),
    /// < 0 debits available points first, then pending ones. A reason is required.
    pub async fn adjust_points(
        &mut self,
        store: &StoreRecord,
        customer: CustomerId,
        points: i64,
        reason: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<EntryRecord, StoreError> {
        let reason = reason_required(reason)?;
        if points == 0 {
            return Err(
                FieldError::new("points", "out_of_range", "an adjustment moves at least 1 point").into(),
            );
        }
        positive(points.abs())?;
        let record = self.loyalty_program(store.id).await?;
        let customer_key = customer.to_string();
        ensure_customer(self, store.id, customer).await?;
        self.lock_customers(&[&customer_key]).await?;
        let kind = if points > 0 {
            "points_credited"
        } else {
            "points_debited"
        };
        let entry = if points > 0 {
            let (_, expires_at) = lot_dates(&record, now.0);
            let mut e = NewEntry::new(
                &customer_key,
                EntryKind::Adjust,
                (account::PROGRAM, account::CUSTOMER),
                points,
                reason,
                actor,
                now,
            );
            e.available_from = Some(now.0);
            e.expires_at = expires_at.map(|x| x - i64::from(record.program.pending_days) * DAY_MS);
            write_entries(self, store.id, std::slice::from_ref(&e), now).await?;
            e
        } else {
            let wanted = -points;
            let moves = plan_take(
                self,
                store.id,
                Take {
                    customer: &customer_key,
                    points: wanted,
                    first_lot: None,
                    with_pending: true,
                },
                now,
            )
            .await?;
            let have = moved(&moves);
            if have < wanted {
                return Err(StoreError::Refused {
                    code: "insufficient_points",
                    message: format!("the customer has {have} points to take, not {wanted}"),
                });
            }
            let e = NewEntry::new(
                &customer_key,
                EntryKind::Adjust,
                (account::CUSTOMER, account::PROGRAM),
                wanted,
                reason,
                actor,
                now,
            );
            write_entries(self, store.id, std::slice::from_ref(&e), now).await?;
            apply_moves(self, &e.id, &moves).await?;
            e
        };
        let event = NewEvent {
            customer_id: Some(customer_key),
            kind,
            name: None,
            occurred_at: now,
            dedupe_key: format!("points:{}", entry.id),
            data: serde_json::json!({ "entry_id": entry.id, "points": entry.points, "reason": reason, "actor": actor }),
        };
        insert_events(self, store.id, &[event], now).await?;
        self.entry(store.id, &entry.id).await
    }

    /// Spends available points (soonest-expiring first), or refuses with
    /// `insufficient_points` and writes nothing.
    pub async fn spend_points(
        &mut self,
        store: &StoreRecord,
        customer: CustomerId,
        points: i64,
        reason: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<EntryRecord, StoreError> {
        let reason = reason_required(reason)?;
        positive(points)?;
        let customer_key = customer.to_string();
        ensure_customer(self, store.id, customer).await?;
        self.lock_customers(&[&customer_key]).await?;
        let spending = Spending {
            kind: EntryKind::Redeem,
            credit: account::REDEEMED,
            reason,
            hold_id: None,
            reward_id: None,
        };
        let e = spend(self, store.id, &customer_key, points, spending, actor, now).await?;
        let event = NewEvent {
            customer_id: Some(customer_key),
            kind: "points_redeemed",
            name: None,
            occurred_at: now,
            dedupe_key: format!("points:{}", e.id),
            data: serde_json::json!({ "entry_id": e.id, "points": points, "reason": reason }),
        };
        insert_events(self, store.id, &[event], now).await?;
        self.entry(store.id, &e.id).await
    }
}

/// What a spending entry is for.
pub(crate) struct Spending<'a> {
    pub kind: EntryKind,
    /// `redeemed` or `held`.
    pub credit: &'static str,
    pub reason: &'a str,
    pub hold_id: Option<String>,
    pub reward_id: Option<String>,
}

/// Takes `points` of available points as one entry, or refuses with `insufficient_points`.
/// The caller holds the customer's lock.
pub(crate) async fn spend(
    tx: &mut Tx,
    store: StoreId,
    customer: &str,
    points: i64,
    spending: Spending<'_>,
    actor: &str,
    now: Timestamp,
) -> Result<NewEntry, StoreError> {
    let moves = plan_take(
        tx,
        store,
        Take {
            customer,
            points,
            first_lot: None,
            with_pending: false,
        },
        now,
    )
    .await?;
    let have = moved(&moves);
    if have < points {
        return Err(StoreError::Refused {
            code: "insufficient_points",
            message: format!("{have} points are available, {points} were asked for"),
        });
    }
    let mut e = NewEntry::new(
        customer,
        spending.kind,
        (account::CUSTOMER, spending.credit),
        points,
        spending.reason,
        actor,
        now,
    );
    e.hold_id = spending.hold_id;
    e.reward_id = spending.reward_id;
    write_entries(tx, store, std::slice::from_ref(&e), now).await?;
    apply_moves(tx, &e.id, &moves).await?;
    Ok(e)
}

/// Refuses a customer id of another store (or none) with a plain "not found".
pub(crate) async fn ensure_customer(
    tx: &mut Tx,
    store: StoreId,
    customer: CustomerId,
) -> Result<(), StoreError> {
    let q = Query::select()
        .column(Customers::Id)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Customers::Id).eq(customer.to_string()))
        .to_owned();
    match tx.fetch_optional::<(String,)>(&q).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound("customer")),
    }
}

/// Credits points spendable at once (actions, referral rewards: no return window), on the
/// program's expiry terms, under the idempotency key `dedupe`; announces them and lets the
/// customer's tier follow. The caller holds the customer's lock and checked the key is new.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn credit_now(
    tx: &mut Tx,
    store: &StoreRecord,
    record: &super::ProgramRecord,
    customer: &str,
    points: i64,
    action: &str,
    dedupe: &str,
    actor: &str,
    now: Timestamp,
) -> Result<String, StoreError> {
    let (available_from, expires_at) = lot_dates(record, now.0);
    let mut e = NewEntry::new(
        customer,
        EntryKind::Earn,
        (account::PROGRAM, account::CUSTOMER),
        points,
        &format!("action:{action}"),
        actor,
        now,
    );
    e.available_from = Some(now.0);
    e.expires_at = expires_at.map(|x| x - (available_from - now.0));
    e.action = Some(action.to_string());
    e.dedupe_key = Some(dedupe.to_string());
    write_entries(tx, store.id, std::slice::from_ref(&e), now).await?;
    insert_events(tx, store.id, &[earned_event(&e, now)], now).await?;
    super::tiers::promote(tx, store, record, &[customer], now).await?;
    Ok(e.id)
}

/// Credits a referral's points once per `dedupe` key: `Ok(None)` when the key was already
/// credited, `Err(Refused{loyalty_off})` when the loyalty program is off.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn credit_bonus(
    tx: &mut Tx,
    store: &StoreRecord,
    customer: CustomerId,
    points: i64,
    action: &str,
    dedupe: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    let record = tx.loyalty_program(store.id).await?;
    if !record.program.enabled {
        return Err(StoreError::Refused {
            code: "loyalty_off",
            message: "points need the loyalty program on".into(),
        });
    }
    let key = customer.to_string();
    ensure_customer(tx, store.id, customer).await?;
    tx.lock_customers(&[&key]).await?;
    if tx.entry_by_key(store.id, dedupe).await?.is_some() {
        return Ok(None);
    }
    credit_now(tx, store, &record, &key, points, action, dedupe, actor, now)
        .await
        .map(Some)
}
