//! The referral job: referrals whose friend's order cleared its return window are rewarded
//! (within the advocate's cap, with milestone bonuses), partners' commissions whose window
//! ended are approved; and staff decisions on the review queue.

use regulars_domain::loyalty::Period;
use regulars_domain::referral::{ReferralProgram, ReferralReward};
use regulars_domain::{CustomerId, Discount, FieldError, StoreId, Timestamp};
use sea_query::{Expr, Order, Query};
use serde::Serialize;

use super::attribution::{earned_commission, event, orders_now, reverse_referral, still_qualifies};
use super::records::{records, select, ReferralRecord, ReferralRow, ReferralStatus};
use super::{Commissions, Referrals};
use crate::events::{insert_events, NewEvent};
use crate::loyalty::{local_date, local_day_start};
use crate::{json_text, CouponIssue, Db, StoreError, StoreRecord, Tx};

/// Referrals settled per transaction: a long backlog never holds the write lock for long.
const BATCH: u64 = 200;

/// What one run of the job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReferralRunReport {
    /// Referrals whose window cleared (rewarded or not).
    pub qualified: u64,
    pub rewarded: u64,
    /// Qualified but the advocate got nothing (cap, partner, loyalty off).
    pub unrewarded: u64,
    /// Cancelled by refunds or a cancellation made inside the window.
    pub cancelled: u64,
    pub milestones: u64,
    pub commissions_approved: u64,
}

/// A staff decision on a referral held for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn parse(s: &str) -> Result<Decision, FieldError> {
        match s.trim() {
            "approve" => Ok(Decision::Approve),
            "reject" => Ok(Decision::Reject),
            _ => Err(FieldError::new(
                "decision",
                "invalid_decision",
                "approve or reject",
            )),
        }
    }
}

impl Db {
    /// Settles every referral whose window ended by `now` and approves due commissions.
    /// Safe to run at any time and from several processes: each referral moves once.
    pub async fn run_referrals(
        &self,
        store: &StoreRecord,
        now: Timestamp,
    ) -> Result<ReferralRunReport, StoreError> {
        let mut report = ReferralRunReport::default();
        let program = self.referral_program(store.id).await?.program;
        loop {
            let q = select(store.id)
                .and_where(Expr::col(Referrals::Status).eq(ReferralStatus::Pending.as_str()))
                .and_where(Expr::col(Referrals::QualifiesAt).lte(now.0))
                .order_by(Referrals::QualifiesAt, Order::Asc)
                .order_by(Referrals::Id, Order::Asc)
                .limit(BATCH)
                .to_owned();
            let due = records(self.fetch_all::<ReferralRow>(&q).await?)?;
            if due.is_empty() {
                break;
            }
            let mut tx = self.begin().await?;
            // Everyone the batch rewards, locked at once in one order (no deadlock with a
            // concurrent run); the batch's events written together at its end.
            let people: Vec<String> = due
                .iter()
                .flat_map(|r| [r.advocate_id.to_string(), r.friend_id.to_string()])
                .collect();
            tx.lock_customers(&people.iter().map(String::as_str).collect::<Vec<_>>())
                .await?;
            let mut events = Vec::new();
            for r in &due {
                settle(&mut tx, store, &program, r, now, &mut report, &mut events).await?;
            }
            insert_events(&mut tx, store.id, &events, now).await?;
            tx.commit().await?;
            if (due.len() as u64) < BATCH {
                break;
            }
        }
        let mut tx = self.begin().await?;
        report.commissions_approved = approve_commissions(&mut tx, store, now).await?;
        tx.mark_referrals_run(store.id, now).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Approves or rejects a referral held for review. An approved one goes back to waiting
    /// for its window (or its order); a rejected one takes back its partner's commission.
    /// Only a referral in review can be decided: a second decision is refused.
    pub async fn decide_referral(
        &self,
        store: &StoreRecord,
        id: &str,
        decision: Decision,
        note: &str,
        actor: &str,
    ) -> Result<ReferralRecord, StoreError> {
        let note = note.trim();
        if note.chars().count() > 500 {
            return Err(FieldError::new("note", "too_long", "a note has at most 500 characters").into());
        }
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let r = tx.referral_for_update(store.id, id).await?;
        if r.status != ReferralStatus::Review {
            return Err(StoreError::Refused {
                code: "not_in_review",
                message: format!("this referral is {}, not waiting for review", r.status.as_str()),
            });
        }
        let next = match decision {
            Decision::Approve if r.order_id.is_some() => ReferralStatus::Pending,
            Decision::Approve => ReferralStatus::AwaitingOrder,
            Decision::Reject => ReferralStatus::Rejected,
        };
        let reason = if note.is_empty() {
            match decision {
                Decision::Approve => "approved_by_staff".to_string(),
                Decision::Reject => "rejected_by_staff".to_string(),
            }
        } else {
            note.to_string()
        };
        let q = Query::update()
            .table(Referrals::Table)
            .value(Referrals::Status, next.as_str())
            .value(Referrals::Reason, reason)
            .value(Referrals::DecidedBy, actor)
            .value(Referrals::DecidedAt, now.0)
            .value(Referrals::UpdatedAt, now.0)
            .and_where(Expr::col(Referrals::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Referrals::Id).eq(id))
            .and_where(Expr::col(Referrals::Status).eq(ReferralStatus::Review.as_str()))
            .to_owned();
        if tx.execute(&q).await? != 1 {
            return Err(StoreError::Refused {
                code: "not_in_review",
                message: "this referral was decided meanwhile".into(),
            });
        }
        let record = tx.referral_for_update(store.id, id).await?;
        let mut events = Vec::new();
        if next == ReferralStatus::Rejected {
            events.push(event("referral_rejected", &record, now));
            reverse_referral(&mut tx, store, id, "referral_rejected", now, &mut events).await?;
        }
        insert_events(&mut tx, store.id, &events, now).await?;
        tx.commit().await?;
        Ok(record)
    }
}

/// Moves one due referral: cancelled when its order no longer qualifies, else qualified and
/// (within the cap) rewarded, adding what happened to `events`. The caller holds the locks of
/// the advocate and the friend. The conditional update makes a second, concurrent run a no-op.
async fn settle(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    r: &ReferralRecord,
    now: Timestamp,
    report: &mut ReferralRunReport,
    events: &mut Vec<NewEvent>,
) -> Result<(), StoreError> {
    let advocate = r.advocate_id.to_string();
    let (Some(order_id), Some(end)) = (r.order_id.as_deref(), r.qualifies_at) else {
        return Ok(());
    };
    let orders = orders_now(tx, store.id, &[order_id]).await?;
    let verdict = match orders.get(order_id) {
        Some(order) => still_qualifies(tx, program, order_id, order, end.0).await?,
        None => Err("order_missing"),
    };
    if let Err(why) = verdict {
        if moved(
            tx,
            store.id,
            &r.id,
            ReferralStatus::Cancelled,
            Some(why),
            None,
            now,
        )
        .await?
        {
            let record = tx.referral_for_update(store.id, &r.id).await?;
            events.push(event("referral_cancelled", &record, now));
            reverse_referral(tx, store, &r.id, "referral_cancelled", now, events).await?;
            report.cancelled += 1;
        }
        return Ok(());
    }
    // Claim the referral first: only one run gets past this line for it.
    if !moved(tx, store.id, &r.id, ReferralStatus::Qualified, None, None, now).await? {
        return Ok(());
    }
    report.qualified += 1;
    let qualified = tx.referral_for_update(store.id, &r.id).await?;
    events.push(event("referral_qualified", &qualified, now));

    let friend_reward = if program.friend_points > 0 {
        Some(
            grant(
                tx,
                store,
                r.friend_id,
                &ReferralReward::Points {
                    points: program.friend_points,
                },
                &format!("referral:{}:friend", r.id),
                now,
            )
            .await?,
        )
    } else {
        None
    };
    let advocate_reward = if earned_commission(tx, store.id, &r.id).await? {
        serde_json::json!({ "kind": "none", "skipped": "partner_commission" })
    } else if cap_reached(tx, store, program, &advocate, now).await? {
        serde_json::json!({ "kind": "none", "skipped": "cap_reached" })
    } else {
        grant(
            tx,
            store,
            r.advocate_id,
            &program.advocate_reward,
            &format!("referral:{}:advocate", r.id),
            now,
        )
        .await?
    };
    let rewarded = advocate_reward.get("skipped").is_none();
    let status = if rewarded {
        ReferralStatus::Rewarded
    } else {
        ReferralStatus::Qualified
    };
    let q = Query::update()
        .table(Referrals::Table)
        .value(Referrals::Status, status.as_str())
        .value(Referrals::AdvocateReward, json_text(&advocate_reward))
        .value(Referrals::FriendReward, friend_reward.as_ref().map(json_text))
        .value(Referrals::DecidedAt, now.0)
        .value(Referrals::UpdatedAt, now.0)
        .and_where(Expr::col(Referrals::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Referrals::Id).eq(r.id.as_str()))
        .to_owned();
    tx.execute(&q).await?;
    let record = tx.referral_for_update(store.id, &r.id).await?;
    if rewarded {
        report.rewarded += 1;
        events.push(event("referral_rewarded", &record, now));
        report.milestones += milestones(tx, store, program, r.advocate_id, now, events).await?;
    } else {
        report.unrewarded += 1;
    }
    Ok(())
}

/// Moves a pending referral to `to`; false when another run moved it first.
async fn moved(
    tx: &mut Tx,
    store: StoreId,
    id: &str,
    to: ReferralStatus,
    reason: Option<&str>,
    by: Option<&str>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut q = Query::update();
    q.table(Referrals::Table)
        .value(Referrals::Status, to.as_str())
        .value(Referrals::UpdatedAt, now.0)
        .and_where(Expr::col(Referrals::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Referrals::Id).eq(id))
        .and_where(Expr::col(Referrals::Status).eq(ReferralStatus::Pending.as_str()));
    if let Some(reason) = reason {
        q.value(Referrals::Reason, reason)
            .value(Referrals::DecidedBy, by.unwrap_or("rules"))
            .value(Referrals::DecidedAt, now.0);
    }
    Ok(tx.execute(&q).await? == 1)
}

/// The start of the period containing `now` in the store's time zone (epoch ms).
fn period_start(store: &StoreRecord, period: Period, now: Timestamp) -> i64 {
    local_day_start(period.start(local_date(now, &store.timezone)), &store.timezone).0
}

async fn cap_reached(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    advocate: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let Some(cap) = program.advocate_cap else {
        return Ok(false);
    };
    let q = Query::select()
        .expr(Expr::col(Referrals::Id).count())
        .from(Referrals::Table)
        .and_where(Expr::col(Referrals::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Referrals::AdvocateId).eq(advocate))
        .and_where(Expr::col(Referrals::Status).eq(ReferralStatus::Rewarded.as_str()))
        .and_where(Expr::col(Referrals::DecidedAt).gte(period_start(store, cap.period, now)))
        .to_owned();
    let (count,): (i64,) = tx.fetch_optional(&q).await?.unwrap_or((0,));
    Ok(count >= i64::from(cap.count))
}

/// Milestone bonuses the advocate's rewarded count reached now (each once, by its key).
async fn milestones(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    advocate: CustomerId,
    now: Timestamp,
    events: &mut Vec<NewEvent>,
) -> Result<u64, StoreError> {
    if program.milestones.is_empty() {
        return Ok(0);
    }
    let q = Query::select()
        .expr(Expr::col(Referrals::Id).count())
        .from(Referrals::Table)
        .and_where(Expr::col(Referrals::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Referrals::AdvocateId).eq(advocate.to_string()))
        .and_where(Expr::col(Referrals::Status).eq(ReferralStatus::Rewarded.as_str()))
        .to_owned();
    let (count,): (i64,) = tx.fetch_optional(&q).await?.unwrap_or((0,));
    let mut granted = 0;
    for m in &program.milestones {
        if i64::from(m.friends) != count {
            continue;
        }
        let key = format!("referral-milestone:{advocate}:{}", m.friends);
        let given = grant(tx, store, advocate, &m.reward, &key, now).await?;
        if given.get("skipped").is_none() {
            granted += 1;
            events.push(NewEvent {
                customer_id: Some(advocate.to_string()),
                kind: "referral_milestone",
                name: None,
                occurred_at: now,
                dedupe_key: key,
                data: serde_json::json!({ "friends": m.friends, "reward": given }),
            });
        }
    }
    Ok(granted)
}

/// Gives a reward once per `key`: points on the ledger, a single-use coupon, or a catalog gift.
/// Returns what was given (or why nothing), as stored on the referral.
async fn grant(
    tx: &mut Tx,
    store: &StoreRecord,
    customer: CustomerId,
    reward: &ReferralReward,
    key: &str,
    now: Timestamp,
) -> Result<serde_json::Value, StoreError> {
    match reward {
        ReferralReward::Points { points } => {
            match crate::loyalty::credit_bonus(
                tx,
                store,
                customer,
                *points,
                "referral",
                key,
                "referrals",
                now,
            )
            .await
            {
                Ok(entry) => Ok(serde_json::json!({ "kind": "points", "points": points, "entry_id": entry })),
                Err(StoreError::Refused { code, .. }) => {
                    Ok(serde_json::json!({ "kind": "points", "skipped": code }))
                }
                Err(e) => Err(e),
            }
        }
        ReferralReward::Coupon {
            discount,
            minimum_spend,
            valid_days,
        } => {
            if let Some(code) = coupon_of(tx, store.id, key).await? {
                return Ok(serde_json::json!({ "kind": "coupon", "code": code }));
            }
            let coupon = tx
                .issue_coupon(
                    store,
                    &CouponIssue {
                        prefix: Some("THANKS-".into()),
                        discount: discount.clone(),
                        customer_id: Some(customer),
                        expires_at: valid_days.map(|d| Timestamp(now.0 + i64::from(d) * super::DAY_MS)),
                        minimum_spend: *minimum_spend,
                        usage_limit: Some(1),
                        per_customer_limit: None,
                        origin: key.to_string(),
                        first_order_only: false,
                    },
                )
                .await?;
            Ok(serde_json::json!({
                "kind": "coupon",
                "code": coupon.code,
                "coupon_id": coupon.id,
                "discount": discount_json(discount),
            }))
        }
        ReferralReward::Gift { reward_id } => {
            crate::loyalty::grant_gift(tx, store, customer, reward_id, key, now).await?;
            // The catalog gives nothing for a reward since removed or out of stock: say so
            // rather than claim a gift that was never made.
            match gift_of(tx, store.id, customer, key).await? {
                Some(code) => Ok(serde_json::json!({ "kind": "gift", "reward_id": reward_id, "code": code })),
                None => Ok(
                    serde_json::json!({ "kind": "gift", "reward_id": reward_id, "skipped": "gift_unavailable" }),
                ),
            }
        }
    }
}

fn discount_json(d: &Discount) -> serde_json::Value {
    serde_json::to_value(d).unwrap_or(serde_json::Value::Null)
}

/// The code of the coupon a reward key already minted, so a retried grant gives the same one.
async fn coupon_of(tx: &mut Tx, store: StoreId, origin: &str) -> Result<Option<String>, StoreError> {
    let coupons = sea_query::Alias::new("coupons");
    let q = Query::select()
        .column(sea_query::Alias::new("code"))
        .from(coupons)
        .and_where(Expr::col(sea_query::Alias::new("store_id")).eq(store.to_string()))
        .and_where(Expr::col(sea_query::Alias::new("origin")).eq(origin))
        .to_owned();
    Ok(tx.fetch_optional::<(String,)>(&q).await?.map(|(c,)| c))
}

/// The coupon code of the gift a reward key redeemed for the customer, if one was made.
async fn gift_of(
    tx: &mut Tx,
    store: StoreId,
    customer: CustomerId,
    cause: &str,
) -> Result<Option<String>, StoreError> {
    let col = sea_query::Alias::new;
    let q = Query::select()
        .column(col("coupon_code"))
        .from(col("loyalty_redemptions"))
        .and_where(Expr::col(col("store_id")).eq(store.to_string()))
        .and_where(Expr::col(col("customer_id")).eq(customer.to_string()))
        .and_where(Expr::col(col("cause")).eq(cause))
        .to_owned();
    Ok(tx
        .fetch_optional::<(Option<String>,)>(&q)
        .await?
        .map(|(c,)| c.unwrap_or_default()))
}

/// Approves commissions whose window ended, unless their referral is held or refused.
async fn approve_commissions(tx: &mut Tx, store: &StoreRecord, now: Timestamp) -> Result<u64, StoreError> {
    let blocked = Query::select()
        .column(Referrals::Id)
        .from(Referrals::Table)
        .and_where(Expr::col(Referrals::StoreId).eq(store.id.to_string()))
        .and_where(
            Expr::col(Referrals::Status)
                .is_in([ReferralStatus::Review.as_str(), ReferralStatus::Rejected.as_str()]),
        )
        .to_owned();
    let q = Query::update()
        .table(Commissions::Table)
        .value(Commissions::Status, "approved")
        .value(Commissions::UpdatedAt, now.0)
        .and_where(Expr::col(Commissions::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(Commissions::Status).eq("pending"))
        .and_where(Expr::col(Commissions::ApprovesAt).lte(now.0))
        .and_where(Expr::col(Commissions::ReferralId).not_in_subquery(blocked))
        .to_owned();
    tx.execute(&q).await
}
