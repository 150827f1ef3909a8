//! Attribution: an order carrying an advocate's code (as a discount code or passed by the shop)
//! or placed by a friend who arrived by a share link becomes a referral, judged by the fraud
//! rules at once. Refunds and cancellations inside the return window cancel it; commissions of
//! partners are earned and reversed here, in the order's own transaction.

use std::collections::{HashMap, HashSet};

use regulars_domain::referral::{
    commission, commission_reversal, verdict, Finding, ReferralProgram, RuleAction,
};
use regulars_domain::{new_id, normalize_code, FinancialStatus, StoreId, Timestamp};
use sea_query::{Expr, Query};

use super::judge::{judge_all, Judged};
use super::records::{records, select, ReferralRecord, ReferralRow, ReferralStatus};
use super::signals::{self, SignalRow};
use super::{Commissions, Partners, Referrals, DAY_MS};
use crate::coupons::WrittenOrder;
use crate::events::{insert_events, NewEvent};
use crate::schema::{Customers, Orders, Refunds};
use crate::{json_text, StoreError, StoreRecord, Tx, CHUNK};

/// Where a friend's landing on the share link came from (keyed hashes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Landing {
    pub ip_hash: Option<String>,
    pub device_hash: Option<String>,
}

/// The friend's order as attribution sees it.
#[derive(Debug, Clone)]
pub(crate) struct OrderFacts {
    pub id: String,
    pub placed_at: i64,
    /// Total less refunds, minor units.
    pub value: i64,
    /// Not cancelled, not voided or failed, and worth the program's minimum.
    pub qualifies: bool,
    pub hashes: Vec<(&'static str, String)>,
}

/// A friend arriving at the program.
pub(crate) struct Arrival<'a> {
    pub advocate: &'a str,
    pub friend: &'a str,
    pub code: String,
    /// `code`, `link` or `order`.
    pub channel: &'static str,
    pub order: Option<OrderFacts>,
    pub landing: Landing,
}

fn order_facts(
    program: &ReferralProgram,
    w: &WrittenOrder<'_>,
    hashes: Vec<(&'static str, String)>,
) -> OrderFacts {
    let o = w.input;
    let refunded: i64 = o.refunds.iter().map(|r| r.amount).sum();
    let value = (o.total - refunded).max(0);
    let standing = o.cancelled_at.is_none()
        && !matches!(
            o.financial_status,
            FinancialStatus::Voided | FinancialStatus::Failed | FinancialStatus::Refunded
        );
    OrderFacts {
        id: w.id.to_string(),
        placed_at: o.placed_at.0,
        value,
        qualifies: standing && value > 0 && value >= program.min_order_value,
        hashes,
    }
}

/// Runs after orders are written (webhooks, the API, imports): keeps their signals, attributes
/// friends, earns partners' commissions, and settles refunds and cancellations.
pub(crate) async fn on_orders_written(
    tx: &mut Tx,
    store: &StoreRecord,
    written: &[WrittenOrder<'_>],
) -> Result<(), StoreError> {
    if written.is_empty() {
        return Ok(());
    }
    let has_signals = written.iter().any(|w| !w.input.signals.is_empty());
    let current = tx.referral_program(store.id).await?;
    if current.signal_key.is_none() && !has_signals && !current.program.enabled {
        return Ok(());
    }
    let (record, key) = tx.referral_program_keyed(store.id).await?;
    let program = record.program;

    let hashes: Vec<Vec<(&'static str, String)>> = written
        .iter()
        .map(|w| signals::hashed(&key, &w.input.signals))
        .collect();
    let rows: Vec<SignalRow> = written
        .iter()
        .zip(&hashes)
        .flat_map(|(w, hs)| {
            hs.iter()
                .filter(|(kind, _)| signals::KEPT.contains(kind))
                .map(|(kind, h)| SignalRow {
                    order_id: w.id,
                    customer_id: w.customer_id,
                    kind,
                    hash: h.clone(),
                })
        })
        .collect();
    signals::write(tx, store.id, &rows).await?;

    let ids: Vec<&str> = written.iter().map(|w| w.id).collect();
    if program.enabled {
        let friends = attribute(tx, store, &program, written, &hashes).await?;
        earn_commissions(tx, store, &program, written, &friends).await?;
    }
    settle_changes(tx, store, &program, &ids).await
}

/// The codes an order names: the one the shop passed, then its discount codes.
fn named_codes(w: &WrittenOrder<'_>) -> Vec<String> {
    let mut codes: Vec<String> = w
        .input
        .signals
        .referral_code
        .iter()
        .chain(&w.input.discount_codes)
        .filter_map(|c| normalize_code(c).ok())
        .collect();
    let mut seen = HashSet::new();
    codes.retain(|c| seen.insert(c.clone()));
    codes
}

/// Attributes the written orders' friends; returns every referral of the orders' customers.
async fn attribute(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    written: &[WrittenOrder<'_>],
    hashes: &[Vec<(&'static str, String)>],
) -> Result<HashMap<String, ReferralRecord>, StoreError> {
    let with_customer: Vec<(usize, &WrittenOrder)> = written
        .iter()
        .enumerate()
        .filter(|(_, w)| w.customer_id.is_some())
        .collect();
    if with_customer.is_empty() {
        return Ok(HashMap::new());
    }
    let friends: Vec<&str> = with_customer.iter().filter_map(|(_, w)| w.customer_id).collect();
    let mut existing = referrals_of_friends(tx, store.id, &friends).await?;
    let all_codes: Vec<String> = with_customer
        .iter()
        .flat_map(|(_, w)| named_codes(w))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let owners: HashMap<String, String> = super::codes::owners(tx, store.id, &all_codes)
        .await?
        .into_iter()
        .map(|c| (c.code, c.customer_id.to_string()))
        .collect();
    if owners.is_empty() && !existing.values().any(waits_for_order) {
        return Ok(existing);
    }
    // Oldest first, so a friend's first order is the one that counts.
    let mut ordered = with_customer;
    ordered.sort_by_key(|(_, w)| (w.input.placed_at.0, w.id));
    let facts: Vec<OrderFacts> = ordered
        .iter()
        .map(|(i, w)| order_facts(program, w, hashes[*i].clone()))
        .collect();
    let now = Timestamp::now();

    // New friends first, all at once: the first order naming an advocate's code.
    let mut arrivals = Vec::new();
    let mut arriving = HashSet::new();
    for ((_, w), facts) in ordered.iter().zip(&facts) {
        let friend = w.customer_id.expect("filtered above");
        if existing.contains_key(friend) || arriving.contains(friend) {
            continue;
        }
        let codes = named_codes(w);
        let Some((code, advocate)) = codes
            .iter()
            .find_map(|c| owners.get(c).map(|a| (c.clone(), a.as_str())))
        else {
            continue;
        };
        let typed = w
            .input
            .discount_codes
            .iter()
            .any(|d| normalize_code(d).ok().as_deref() == Some(code.as_str()));
        arriving.insert(friend);
        arrivals.push(Arrival {
            advocate,
            friend,
            code,
            channel: if typed { "code" } else { "order" },
            order: Some(facts.clone()),
            landing: Landing::default(),
        });
    }
    for record in refer_all(tx, store, program, arrivals, now).await? {
        existing.insert(record.friend_id.to_string(), record);
    }

    // Then referrals still waiting for an order (by link, or a first order that did not
    // qualify): the friend's next qualifying order completes them.
    for ((_, w), facts) in ordered.iter().zip(facts) {
        let friend = w.customer_id.expect("filtered above");
        if let Some(r) = existing
            .get(friend)
            .filter(|r| waits_for_order(r) && facts.qualifies)
        {
            let updated = attach(tx, store, program, r, facts, now).await?;
            existing.insert(friend.to_string(), updated);
        }
    }
    Ok(existing)
}

/// Records a friend's arrival as a referral judged by the fraud rules; a friend already
/// referred keeps their first referral.
pub(crate) async fn refer(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    arrival: Arrival<'_>,
    now: Timestamp,
) -> Result<ReferralRecord, StoreError> {
    refer_all(tx, store, program, vec![arrival], now)
        .await?
        .pop()
        .ok_or(StoreError::NotFound("referral"))
}

/// [`refer`] for many arrivals at once (a batch of orders): judged together and written in a
/// few statements. Returns each friend's referral (new, or the one they already had), in the
/// order of the arrivals; a friend arriving twice keeps the first.
pub(crate) async fn refer_all(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    arrivals: Vec<Arrival<'_>>,
    now: Timestamp,
) -> Result<Vec<ReferralRecord>, StoreError> {
    if arrivals.is_empty() {
        return Ok(Vec::new());
    }
    let people: Vec<&str> = arrivals.iter().flat_map(|a| [a.advocate, a.friend]).collect();
    tx.lock_customers(&people).await?;
    let friends: Vec<&str> = arrivals.iter().map(|a| a.friend).collect();
    let before = referrals_of_friends(tx, store.id, &friends).await?;
    let mut seen = HashSet::new();
    let fresh: Vec<&Arrival> = arrivals
        .iter()
        .filter(|a| !before.contains_key(a.friend) && seen.insert(a.friend))
        .collect();

    struct Prepared {
        ip_hash: Option<String>,
        device_hash: Option<String>,
        // The friend arrived with their order (or now, by the link): orders before it make
        // them an existing customer, then and when a later order completes the referral.
        arrived_at: i64,
    }
    let prepared: Vec<Prepared> = fresh
        .iter()
        .map(|a| Prepared {
            ip_hash: hash_of(a.order.as_ref(), signals::IP).or(a.landing.ip_hash.clone()),
            device_hash: hash_of(a.order.as_ref(), signals::DEVICE).or(a.landing.device_hash.clone()),
            arrived_at: a.order.as_ref().map_or(now.0, |o| o.placed_at.min(now.0)),
        })
        .collect();
    let judged: Vec<Judged> = fresh
        .iter()
        .zip(&prepared)
        .map(|(a, p)| Judged {
            advocate: a.advocate,
            friend: a.friend,
            order: a.order.as_ref(),
            ip_hash: p.ip_hash.as_deref(),
            device_hash: p.device_hash.as_deref(),
            arrived_at: p.arrived_at,
            new: true,
        })
        .collect();
    let findings = judge_all(tx, store, program, &judged).await?;

    let mut ids: HashMap<&str, String> = HashMap::new();
    let rows: Vec<[sea_query::SimpleExpr; 18]> = fresh
        .iter()
        .zip(&prepared)
        .zip(&findings)
        .map(|((a, p), findings)| {
            let qualifying = a.order.as_ref().filter(|o| o.qualifies);
            let (status, reason) = decide(findings, qualifying.is_some());
            let id = new_id().to_string();
            ids.insert(a.friend, id.clone());
            let rejected = status == ReferralStatus::Rejected;
            [
                id.into(),
                store.id.to_string().into(),
                a.advocate.into(),
                a.friend.into(),
                a.code.clone().into(),
                a.channel.into(),
                status.as_str().into(),
                qualifying.map(|o| o.id.clone()).into(),
                qualifying.map(|o| o.value).into(),
                qualifying.map(|o| window_end(program, o.placed_at)).into(),
                json_text(findings).into(),
                reason.into(),
                rejected.then_some("rules").into(),
                rejected.then_some(now.0).into(),
                p.ip_hash.clone().into(),
                p.device_hash.clone().into(),
                p.arrived_at.into(),
                now.0.into(),
            ]
        })
        .collect();
    for chunk in rows.chunks(CHUNK / 2) {
        let mut q = Query::insert();
        q.into_table(Referrals::Table)
            .columns([
                Referrals::Id,
                Referrals::StoreId,
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
                Referrals::IpHash,
                Referrals::DeviceHash,
                Referrals::CreatedAt,
                Referrals::UpdatedAt,
            ])
            .on_conflict(
                sea_query::OnConflict::columns([Referrals::StoreId, Referrals::FriendId])
                    .do_nothing()
                    .to_owned(),
            );
        for row in chunk {
            q.values_panic(row.clone());
        }
        tx.execute(&q).await?;
    }

    let fresh_friends: Vec<&str> = fresh.iter().map(|a| a.friend).collect();
    let mut after = referrals_of_friends(tx, store.id, &fresh_friends).await?;
    // Ours unless a concurrent writer referred the friend first.
    let created: Vec<&ReferralRecord> = fresh_friends
        .iter()
        .filter_map(|f| after.get(*f).filter(|r| ids.get(f) == Some(&r.id)))
        .collect();
    // The friends came by a referral: say so where the channel is still unknown.
    let new_friends: Vec<String> = created.iter().map(|r| r.friend_id.to_string()).collect();
    for chunk in new_friends.chunks(CHUNK) {
        let q = Query::update()
            .table(Customers::Table)
            .value(Customers::AcquisitionChannel, "referral")
            .and_where(Expr::col(Customers::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Customers::Id).is_in(chunk.iter().map(String::as_str)))
            .and_where(Expr::col(Customers::AcquisitionChannel).is_null())
            .to_owned();
        tx.execute(&q).await?;
    }
    let mut events = Vec::new();
    for r in &created {
        events.push(event("referral_created", r, now));
        if r.status == ReferralStatus::Rejected {
            events.push(event("referral_rejected", r, now));
        }
    }
    insert_events(tx, store.id, &events, now).await?;

    after.extend(before);
    Ok(arrivals
        .iter()
        .filter_map(|a| after.get(a.friend).cloned())
        .collect())
}

/// The referrals of these friends, by friend.
async fn referrals_of_friends(
    tx: &mut Tx,
    store: StoreId,
    friends: &[&str],
) -> Result<HashMap<String, ReferralRecord>, StoreError> {
    let mut out = HashMap::new();
    for chunk in friends.chunks(CHUNK) {
        let q = select(store)
            .and_where(Expr::col(Referrals::FriendId).is_in(chunk.iter().copied()))
            .to_owned();
        for r in records(tx.fetch_all::<ReferralRow>(&q).await?)? {
            out.insert(r.friend_id.to_string(), r);
        }
    }
    Ok(out)
}

/// A friend referred by link (or by a code on an order that did not qualify) now places a
/// qualifying order: the referral gets it and is judged again with what the order tells.
async fn attach(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    r: &ReferralRecord,
    order: OrderFacts,
    now: Timestamp,
) -> Result<ReferralRecord, StoreError> {
    let advocate = r.advocate_id.to_string();
    let friend = r.friend_id.to_string();
    tx.lock_customers(&[&advocate, &friend]).await?;
    let ip_hash = hash_of(Some(&order), signals::IP);
    let device_hash = hash_of(Some(&order), signals::DEVICE);
    let judged = Judged {
        advocate: &advocate,
        friend: &friend,
        order: Some(&order),
        ip_hash: ip_hash.as_deref(),
        device_hash: device_hash.as_deref(),
        arrived_at: r.created_at.0,
        new: false,
    };
    let mut findings = judge_all(tx, store, program, &[judged])
        .await?
        .pop()
        .unwrap_or_default();
    if r.status == ReferralStatus::Review {
        // Still held for a person: what held it at arrival counts beside what the order tells.
        for f in &r.findings {
            if !findings.iter().any(|x| x.rule == f.rule) {
                findings.push(f.clone());
            }
        }
    }
    let (status, reason) = decide(&findings, true);
    let mut q = Query::update();
    q.table(Referrals::Table)
        .value(Referrals::Status, status.as_str())
        .value(Referrals::OrderId, order.id.as_str())
        .value(Referrals::OrderValue, order.value)
        .value(Referrals::QualifiesAt, window_end(program, order.placed_at))
        .value(Referrals::Findings, json_text(&findings))
        .value(Referrals::Reason, reason)
        .value(Referrals::UpdatedAt, now.0)
        .and_where(Expr::col(Referrals::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Referrals::Id).eq(r.id.as_str()))
        .and_where(Expr::col(Referrals::Status).eq(r.status.as_str()))
        .and_where(Expr::col(Referrals::OrderId).is_null());
    if status == ReferralStatus::Rejected {
        q.value(Referrals::DecidedBy, "rules")
            .value(Referrals::DecidedAt, now.0);
    }
    if ip_hash.is_some() {
        q.value(Referrals::IpHash, ip_hash);
    }
    if device_hash.is_some() {
        q.value(Referrals::DeviceHash, device_hash);
    }
    tx.execute(&q).await?;
    let record = tx.referral_for_update(store.id, &r.id).await?;
    if record.status == ReferralStatus::Rejected {
        insert_events(tx, store.id, &[event("referral_rejected", &record, now)], now).await?;
    }
    Ok(record)
}

/// A referral without its qualifying order yet, that an order of the friend may complete.
fn waits_for_order(r: &ReferralRecord) -> bool {
    r.order_id.is_none() && matches!(r.status, ReferralStatus::AwaitingOrder | ReferralStatus::Review)
}

fn hash_of(order: Option<&OrderFacts>, kind: &str) -> Option<String> {
    order?
        .hashes
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, h)| h.clone())
}

pub(crate) fn window_end(program: &ReferralProgram, placed_at: i64) -> i64 {
    placed_at + i64::from(program.return_window_days) * DAY_MS
}

/// The status the findings lead to, and the rule behind a rejection or a review.
fn decide(findings: &[Finding], has_order: bool) -> (ReferralStatus, Option<String>) {
    let strictest = verdict(findings);
    let first = |action: RuleAction| {
        findings
            .iter()
            .find(|f| f.action == action)
            .map(|f| f.rule.as_str().to_string())
    };
    match strictest {
        RuleAction::Reject => (ReferralStatus::Rejected, first(RuleAction::Reject)),
        RuleAction::Review => (ReferralStatus::Review, first(RuleAction::Review)),
        RuleAction::Allow if has_order => (ReferralStatus::Pending, None),
        RuleAction::Allow => (ReferralStatus::AwaitingOrder, None),
    }
}

/// A timeline event (on the advocate's timeline) announcing a referral's step.
pub(crate) fn event(kind: &'static str, r: &ReferralRecord, now: Timestamp) -> NewEvent {
    NewEvent {
        customer_id: Some(r.advocate_id.to_string()),
        kind,
        name: None,
        occurred_at: now,
        dedupe_key: format!("{kind}:{}", r.id),
        data: serde_json::json!({
            "referral_id": r.id,
            "advocate_id": r.advocate_id.to_string(),
            "friend_id": r.friend_id.to_string(),
            "code": r.code,
            "channel": r.channel,
            "status": r.status.as_str(),
            "order_id": r.order_id,
            "reason": r.reason,
            "findings": r.findings.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(),
            "advocate_reward": r.advocate_reward,
        }),
    }
}

/// An order's standing now: total, refunds made before `before` (all when `None`), and
/// whether (and when) it was cancelled.
pub(crate) struct OrderNow {
    pub total: i64,
    pub shipping: i64,
    pub tax: i64,
    pub refunded_total: i64,
    pub cancelled_at: Option<i64>,
    pub financial_status: String,
    pub placed_at: i64,
}

pub(crate) async fn orders_now(
    tx: &mut Tx,
    store: StoreId,
    ids: &[&str],
) -> Result<HashMap<String, OrderNow>, StoreError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let q = Query::select()
            .columns([
                Orders::Id,
                Orders::Total,
                Orders::ShippingTotal,
                Orders::TaxTotal,
                Orders::RefundedTotal,
                Orders::CancelledAt,
                Orders::FinancialStatus,
                Orders::PlacedAt,
            ])
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Orders::Id).is_in(chunk.iter().copied()))
            .to_owned();
        type Row = (String, i64, i64, i64, i64, Option<i64>, String, i64);
        for (id, total, shipping, tax, refunded_total, cancelled_at, financial_status, placed_at) in
            tx.fetch_all::<Row>(&q).await?
        {
            out.insert(
                id,
                OrderNow {
                    total,
                    shipping,
                    tax,
                    refunded_total,
                    cancelled_at,
                    financial_status,
                    placed_at,
                },
            );
        }
    }
    Ok(out)
}

/// What of an order's refunds was made before `at`.
pub(crate) async fn refunded_before(tx: &mut Tx, order: &str, at: i64) -> Result<i64, StoreError> {
    let q = Query::select()
        .expr(crate::loyalty::sum_i64(Expr::col(Refunds::Amount)))
        .from(Refunds::Table)
        .and_where(Expr::col(Refunds::OrderId).eq(order))
        .and_where(Expr::col(Refunds::CreatedAt).lt(at))
        .to_owned();
    Ok(tx
        .fetch_optional::<(Option<i64>,)>(&q)
        .await?
        .and_then(|(s,)| s)
        .unwrap_or(0))
}

/// Whether a referral's order still qualifies at the end of its window: not cancelled before
/// it ended, and what was kept after refunds made inside it still reaches the minimum.
pub(crate) async fn still_qualifies(
    tx: &mut Tx,
    program: &ReferralProgram,
    order_id: &str,
    order: &OrderNow,
    window_end: i64,
) -> Result<Result<(), &'static str>, StoreError> {
    if order.cancelled_at.is_some_and(|c| c < window_end) || order.financial_status == "voided" {
        return Ok(Err("order_cancelled"));
    }
    let refunded = refunded_before(tx, order_id, window_end).await?;
    let kept = order.total - refunded;
    if kept <= 0 || kept < program.min_order_value {
        return Ok(Err("refunded_in_window"));
    }
    Ok(Ok(()))
}

/// Refunds and cancellations of stored orders: referrals whose order no longer qualifies inside
/// its window are cancelled; partners' commissions give back the refunded share.
pub(crate) async fn on_orders_changed(
    tx: &mut Tx,
    store: &StoreRecord,
    ids: &[&str],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let current = tx.referral_program(store.id).await?;
    if current.signal_key.is_none() {
        return Ok(());
    }
    settle_changes(tx, store, &current.program, ids).await
}

/// [`on_orders_changed`] with the store's program at hand.
async fn settle_changes(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    ids: &[&str],
) -> Result<(), StoreError> {
    let now = Timestamp::now();
    let mut open: Vec<ReferralRecord> = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let q = select(store.id)
            .and_where(Expr::col(Referrals::OrderId).is_in(chunk.iter().copied()))
            .and_where(
                Expr::col(Referrals::Status)
                    .is_in([ReferralStatus::Pending.as_str(), ReferralStatus::Review.as_str()]),
            )
            .to_owned();
        open.extend(records(tx.fetch_all::<ReferralRow>(&q).await?)?);
    }
    let mut earned: Vec<EarnedRow> = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let q = earned_rows(store.id)
            .and_where(Expr::col(Commissions::OrderId).is_in(chunk.iter().copied()))
            .to_owned();
        earned.extend(tx.fetch_all::<EarnedRow>(&q).await?);
    }
    if open.is_empty() && earned.is_empty() {
        return Ok(());
    }
    let order_ids: Vec<&str> = open
        .iter()
        .filter_map(|r| r.order_id.as_deref())
        .chain(earned.iter().map(|e| e.order_id.as_str()))
        .collect();
    let orders = orders_now(tx, store.id, &order_ids).await?;
    let mut events = Vec::new();
    for r in open {
        let (Some(order_id), Some(end)) = (r.order_id.as_deref(), r.qualifies_at) else {
            continue;
        };
        let Some(order) = orders.get(order_id) else {
            continue;
        };
        if now.0 >= end.0 {
            // Past the window: the job settles it, counting only refunds made inside.
            continue;
        }
        if let Err(why) = still_qualifies(tx, program, order_id, order, end.0).await? {
            let q = Query::update()
                .table(Referrals::Table)
                .value(Referrals::Status, ReferralStatus::Cancelled.as_str())
                .value(Referrals::Reason, why)
                .value(Referrals::DecidedBy, "rules")
                .value(Referrals::DecidedAt, now.0)
                .value(Referrals::UpdatedAt, now.0)
                .and_where(Expr::col(Referrals::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(Referrals::Id).eq(r.id.as_str()))
                .and_where(Expr::col(Referrals::Status).eq(r.status.as_str()))
                .to_owned();
            if tx.execute(&q).await? == 1 {
                let record = tx.referral_for_update(store.id, &r.id).await?;
                events.push(event("referral_cancelled", &record, now));
                reverse_referral(tx, store, &r.id, "referral_cancelled", now, &mut events).await?;
            }
        }
    }
    for e in earned {
        let Some(order) = orders.get(&e.order_id) else {
            continue;
        };
        let target = if order.cancelled_at.is_some() || order.financial_status == "voided" {
            e.amount
        } else {
            commission_reversal(e.amount, order.total, order.refunded_total)
        };
        reverse_to(tx, store, &e, target, "refund", now, &mut events).await?;
    }
    insert_events(tx, store.id, &events, now).await?;
    Ok(())
}

/// One row of the commission ledger, before writing.
struct NewCommission<'a> {
    id: &'a str,
    partner: &'a str,
    referral: &'a str,
    order: &'a str,
    /// `earned` or `reversal`.
    kind: &'static str,
    amount: i64,
    revenue: i64,
    basis_points: i64,
    status: &'static str,
    approves_at: i64,
    dedupe_key: String,
}

/// Writes a ledger row unless its dedupe key was written before; true when written.
async fn insert_commission(
    tx: &mut Tx,
    store: &StoreRecord,
    c: &NewCommission<'_>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let q = Query::insert()
        .into_table(Commissions::Table)
        .columns([
            Commissions::Id,
            Commissions::StoreId,
            Commissions::PartnerId,
            Commissions::ReferralId,
            Commissions::OrderId,
            Commissions::Kind,
            Commissions::Amount,
            Commissions::Revenue,
            Commissions::BasisPoints,
            Commissions::Status,
            Commissions::ApprovesAt,
            Commissions::DedupeKey,
            Commissions::CreatedAt,
            Commissions::UpdatedAt,
        ])
        .values_panic([
            c.id.into(),
            store.id.to_string().into(),
            c.partner.into(),
            c.referral.into(),
            c.order.into(),
            c.kind.into(),
            c.amount.into(),
            c.revenue.into(),
            c.basis_points.into(),
            c.status.into(),
            c.approves_at.into(),
            c.dedupe_key.clone().into(),
            now.0.into(),
            now.0.into(),
        ])
        .on_conflict(
            sea_query::OnConflict::columns([Commissions::StoreId, Commissions::DedupeKey])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(tx.execute(&q).await? == 1)
}

/// Takes back every commission a referral earned (it was cancelled or rejected).
pub(crate) async fn reverse_referral(
    tx: &mut Tx,
    store: &StoreRecord,
    referral: &str,
    cause: &str,
    now: Timestamp,
    events: &mut Vec<NewEvent>,
) -> Result<(), StoreError> {
    let q = earned_rows(store.id)
        .and_where(Expr::col(Commissions::ReferralId).eq(referral))
        .to_owned();
    for e in tx.fetch_all::<EarnedRow>(&q).await? {
        let amount = e.amount;
        reverse_to(tx, store, &e, amount, cause, now, events).await?;
    }
    Ok(())
}

/// Whether a referral earned its partner a commission (then the advocate reward is not due).
pub(crate) async fn earned_commission(
    tx: &mut Tx,
    store: StoreId,
    referral: &str,
) -> Result<bool, StoreError> {
    let q = Query::select()
        .expr(Expr::val(1))
        .from(Commissions::Table)
        .and_where(Expr::col(Commissions::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Commissions::ReferralId).eq(referral))
        .and_where(Expr::col(Commissions::Kind).eq("earned"))
        .limit(1)
        .to_owned();
    Ok(tx.fetch_optional::<(i32,)>(&q).await?.is_some())
}

/// The store's `earned` commission rows, as [`EarnedRow`]s.
fn earned_rows(store: StoreId) -> sea_query::SelectStatement {
    Query::select()
        .columns([
            Commissions::Id,
            Commissions::PartnerId,
            Commissions::ReferralId,
            Commissions::OrderId,
            Commissions::Amount,
            Commissions::Status,
            Commissions::ApprovesAt,
            Commissions::BasisPoints,
        ])
        .from(Commissions::Table)
        .and_where(Expr::col(Commissions::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Commissions::Kind).eq("earned"))
        .to_owned()
}

#[derive(sqlx::FromRow)]
pub(crate) struct EarnedRow {
    pub id: String,
    pub partner_id: String,
    pub referral_id: String,
    pub order_id: String,
    pub amount: i64,
    pub status: String,
    pub approves_at: i64,
    pub basis_points: i64,
}

/// Brings the reversals of an earned commission up to `target` (never down: a reversal is
/// never undone), as one new negative row.
pub(crate) async fn reverse_to(
    tx: &mut Tx,
    store: &StoreRecord,
    e: &EarnedRow,
    target: i64,
    cause: &str,
    now: Timestamp,
    events: &mut Vec<NewEvent>,
) -> Result<(), StoreError> {
    let q = Query::select()
        .expr(crate::loyalty::sum_i64(Expr::col(Commissions::Amount)))
        .from(Commissions::Table)
        .and_where(Expr::col(Commissions::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Commissions::OrderId).eq(e.order_id.as_str()))
        .and_where(Expr::col(Commissions::Kind).eq("reversal"))
        .to_owned();
    let reversed = -tx
        .fetch_optional::<(Option<i64>,)>(&q)
        .await?
        .and_then(|(s,)| s)
        .unwrap_or(0);
    let target = target.min(e.amount);
    if target <= reversed {
        return Ok(());
    }
    let amount = -(target - reversed);
    // A reversal of a commission not yet approved nets out before anything is owed; one of an
    // approved or paid commission is owed back from the next payout.
    let status = if e.status == "pending" {
        "pending"
    } else {
        "approved"
    };
    let id = new_id().to_string();
    let row = NewCommission {
        id: &id,
        partner: &e.partner_id,
        referral: &e.referral_id,
        order: &e.order_id,
        kind: "reversal",
        amount,
        revenue: 0,
        basis_points: e.basis_points,
        status,
        approves_at: e.approves_at,
        dedupe_key: format!("reversal:{}:{target}", e.order_id),
    };
    if insert_commission(tx, store, &row, now).await? {
        events.push(NewEvent {
            customer_id: Some(e.partner_id.clone()),
            kind: "commission_reversed",
            name: None,
            occurred_at: now,
            dedupe_key: format!("commission_reversed:{id}"),
            data: serde_json::json!({
                "commission_id": id,
                "reverses": e.id,
                "referral_id": e.referral_id,
                "order_id": e.order_id,
                "amount": amount,
                "currency": store.currency.code(),
                "cause": cause,
            }),
        });
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct PartnerTerms {
    customer_id: String,
    basis_points: i64,
    scope: String,
    period_days: Option<i64>,
}

/// Partners earn on what the friends they referred buy: the qualifying order, or every order
/// within the partner's period. Pending until the order's return window ends.
async fn earn_commissions(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    written: &[WrittenOrder<'_>],
    friends: &HashMap<String, ReferralRecord>,
) -> Result<(), StoreError> {
    let mut by_customer: HashMap<String, Vec<&str>> = HashMap::new();
    for w in written {
        if let Some(customer) = w.customer_id {
            by_customer.entry(customer.to_string()).or_default().push(w.id);
        }
    }
    if by_customer.is_empty() {
        return Ok(());
    }
    // Referrals that stand or may yet: rejected, cancelled and order-less ones earn nothing.
    let referrals: Vec<&ReferralRecord> = by_customer
        .keys()
        .filter_map(|c| friends.get(c))
        .filter(|r| {
            !matches!(
                r.status,
                ReferralStatus::Rejected | ReferralStatus::Cancelled | ReferralStatus::AwaitingOrder
            )
        })
        .collect();
    if referrals.is_empty() {
        return Ok(());
    }
    let advocates: Vec<String> = referrals.iter().map(|r| r.advocate_id.to_string()).collect();
    let q = Query::select()
        .columns([
            Partners::CustomerId,
            Partners::BasisPoints,
            Partners::Scope,
            Partners::PeriodDays,
        ])
        .from(Partners::Table)
        .and_where(Expr::col(Partners::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Partners::Status).eq("active"))
        .and_where(Expr::col(Partners::CustomerId).is_in(advocates.iter().map(String::as_str)))
        .to_owned();
    let partners: HashMap<String, PartnerTerms> = tx
        .fetch_all::<PartnerTerms>(&q)
        .await?
        .into_iter()
        .map(|p| (p.customer_id.clone(), p))
        .collect();
    if partners.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = written.iter().map(|w| w.id).collect();
    let orders = orders_now(tx, store.id, &ids).await?;
    let now = Timestamp::now();
    let mut events = Vec::new();
    for r in referrals {
        let Some(terms) = partners.get(&r.advocate_id.to_string()) else {
            continue;
        };
        for order_id in by_customer.get(&r.friend_id.to_string()).into_iter().flatten() {
            let Some(order) = orders.get(*order_id) else {
                continue;
            };
            let covered = match terms.scope.as_str() {
                "first_order" => r.order_id.as_deref() == Some(*order_id),
                // The period runs from the friend's arrival (their first order, or the link).
                _ => {
                    let start = r.created_at.0;
                    order.placed_at >= start
                        && terms
                            .period_days
                            .is_none_or(|d| order.placed_at <= start + d * DAY_MS)
                }
            };
            let paid = FinancialStatus::parse(&order.financial_status).is_ok_and(FinancialStatus::is_paid);
            if !covered || !paid || order.cancelled_at.is_some() {
                continue;
            }
            let revenue = (order.total - order.shipping - order.tax).max(0);
            let amount = commission(revenue, terms.basis_points);
            if amount <= 0 {
                continue;
            }
            let id = new_id().to_string();
            let row = NewCommission {
                id: &id,
                partner: &terms.customer_id,
                referral: &r.id,
                order: order_id,
                kind: "earned",
                amount,
                revenue,
                basis_points: terms.basis_points,
                status: "pending",
                approves_at: window_end(program, order.placed_at),
                dedupe_key: format!("earned:{order_id}"),
            };
            if insert_commission(tx, store, &row, now).await? {
                events.push(NewEvent {
                    customer_id: Some(terms.customer_id.clone()),
                    kind: "commission_earned",
                    name: None,
                    occurred_at: now,
                    dedupe_key: format!("commission_earned:{id}"),
                    data: serde_json::json!({
                        "commission_id": id,
                        "referral_id": r.id,
                        "order_id": order_id,
                        "friend_id": r.friend_id.to_string(),
                        "revenue": revenue,
                        "basis_points": terms.basis_points,
                        "amount": amount,
                        "currency": store.currency.code(),
                        "status": "pending",
                    }),
                });
            }
        }
    }
    insert_events(tx, store.id, &events, now).await?;
    Ok(())
}
