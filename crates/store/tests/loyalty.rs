//! The points ledger on both databases: earning, pending and expiry, refunds and
//! cancellations, spending order, holds, action caps, tiers, the nightly job, concurrency
//! and the consistency check (RELIABILITY L1, L5, L6).

use std::sync::Arc;

use regulars_domain::loyalty::{
    Action, ActionRule, Cap, EarnRule, Period, Program, Rounding, Tier, TierBenefits, TierLadder, TierMetric,
};
use regulars_domain::{CustomerId, OrderInput, RefundInput, Timestamp};
use regulars_store::{Db, StoreError, StoreRecord};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend, TestDb};

const DAY: i64 = 86_400_000;

fn program() -> Program {
    Program {
        enabled: true,
        earn: EarnRule {
            points: 1,
            per_minor: 100,
            rounding: Rounding::Down,
            exclude_shipping: true,
            exclude_tax: true,
        },
        pending_days: 14,
        expiry_days: Some(365),
        ..Program::default()
    }
}

async fn setup(backend: Backend, program: Program) -> (TestDb, StoreRecord) {
    let t = TestDb::new(backend).await;
    let store = t.store("Kaveri Silks", "INR", "Asia/Kolkata", "te-IN").await;
    t.db.set_loyalty_program(store.id, &program, "user:test")
        .await
        .unwrap();
    (t, store)
}

fn order(external_id: &str, customer: &str, total: i64, placed_at: Timestamp) -> OrderInput {
    paid_order(
        external_id,
        customer,
        regulars_domain::Currency::INR,
        total,
        placed_at,
    )
}

async fn write(db: &Db, store: &StoreRecord, orders: &[OrderInput]) -> Vec<CustomerId> {
    let mut tx = db.begin().await.unwrap();
    let out = tx
        .upsert_orders_crediting(store, orders, "test", true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    out.into_iter().filter_map(|w| w.customer_id).collect()
}

async fn refund(db: &Db, store: &StoreRecord, order: &str, id: &str, amount: i64) {
    let mut tx = db.begin().await.unwrap();
    tx.add_refund(
        store,
        regulars_domain::Source::Api,
        order,
        &RefundInput {
            external_id: id.into(),
            created_at: Timestamp::now(),
            amount,
            reason: None,
            lines: vec![],
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn assert_clean(db: &Db, store: &StoreRecord) {
    let check = db.check_loyalty(store.id).await.unwrap();
    assert!(check.is_clean(), "ledger drift: {:?}", check.drift);
    assert_eq!(check.accounts.iter().map(|(_, v)| v).sum::<i64>(), 0);
}

async fn an_order_earns_once_pending_then_available(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let placed = Timestamp::now();
    let mut o = order("1001", "lakshmi", 249_900, placed);
    o.shipping_total = 9_900;
    let c = write(&t.db, &store, std::slice::from_ref(&o)).await[0];
    // The same order again, and an update of it: still one earning.
    write(&t.db, &store, std::slice::from_ref(&o)).await;
    o.note = Some("gift wrap".into());
    write(&t.db, &store, std::slice::from_ref(&o)).await;
    let now = Timestamp::now();
    let b = t.db.points_balance(store.id, c, now, 14).await.unwrap();
    assert_eq!((b.available, b.pending, b.lifetime_earned), (0, 2_400, 2_400));
    let later = Timestamp(placed.0 + 15 * DAY);
    let b = t.db.points_balance(store.id, c, later, 14).await.unwrap();
    assert_eq!((b.available, b.pending), (2_400, 0));
    let history = t.db.points_history(store.id, c, None, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, "earn");
    assert_clean(&t.db, &store).await;
}

async fn refunds_take_back_their_share_and_cancellation_the_rest(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let mut o = order("2001", "arman", 10_000, Timestamp::now());
    let c = write(&t.db, &store, std::slice::from_ref(&o)).await[0];
    refund(&t.db, &store, "2001", "r1", 2_500).await;
    // The same refund delivered again takes nothing more.
    refund(&t.db, &store, "2001", "r1", 2_500).await;
    refund(&t.db, &store, "2001", "r2", 2_500).await;
    let far = Timestamp(Timestamp::now().0 + 20 * DAY);
    let b = t.db.points_balance(store.id, c, far, 14).await.unwrap();
    assert_eq!(b.available, 50);
    o.cancelled_at = Some(Timestamp::now());
    o.note = Some("cancelled".into());
    write(&t.db, &store, std::slice::from_ref(&o)).await;
    let b = t.db.points_balance(store.id, c, far, 14).await.unwrap();
    assert_eq!((b.available, b.lifetime_earned), (0, 0));
    let history = t.db.points_history(store.id, c, None, 10).await.unwrap();
    let revoked: i64 = history
        .iter()
        .filter(|e| e.kind == "revoke")
        .map(|e| e.points)
        .sum();
    assert_eq!(revoked, 100, "never more than the order earned");
    assert_clean(&t.db, &store).await;
}

async fn spending_takes_the_soonest_expiring_points_first(backend: Backend) {
    let mut p = program();
    p.pending_days = 0;
    let (t, store) = setup(backend, p).await;
    let now = Timestamp::now();
    // Older order: its points expire first.
    let c = write(
        &t.db,
        &store,
        &[order("3001", "meera", 10_000, Timestamp(now.0 - 100 * DAY))],
    )
    .await[0];
    write(
        &t.db,
        &store,
        &[order("3002", "meera", 20_000, Timestamp(now.0 - DAY))],
    )
    .await;
    let mut tx = t.db.begin().await.unwrap();
    tx.spend_points(&store, c, 120, "checkout", "api_key:k", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let lots = t.db.points_lots(store.id, c).await.unwrap();
    assert_eq!(lots.len(), 1, "the older lot is used up: {lots:?}");
    assert_eq!(lots[0].remaining, 180);
    // Asking for more than is left is refused and writes nothing.
    let mut tx = t.db.begin().await.unwrap();
    let err = tx
        .spend_points(&store, c, 181, "checkout", "api_key:k", now)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused {
                code: "insufficient_points",
                ..
            }
        ),
        "{err:?}"
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        t.db.points_balance(store.id, c, now, 14).await.unwrap().available,
        180
    );
    assert_clean(&t.db, &store).await;
}

async fn spent_points_that_a_refund_takes_back_are_written_off(backend: Backend) {
    let mut p = program();
    p.pending_days = 0;
    let (t, store) = setup(backend, p).await;
    let now = Timestamp::now();
    let c = write(
        &t.db,
        &store,
        &[order("4001", "ravi", 10_000, Timestamp(now.0 - DAY))],
    )
    .await[0];
    let mut tx = t.db.begin().await.unwrap();
    tx.spend_points(&store, c, 80, "reward", "system", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    refund(&t.db, &store, "4001", "full", 10_000).await;
    let history = t.db.points_history(store.id, c, None, 10).await.unwrap();
    let revoke = history.iter().find(|e| e.kind == "revoke").unwrap();
    assert_eq!((revoke.points, revoke.written_off), (20, 80));
    assert_eq!(
        t.db.points_balance(store.id, c, now, 14).await.unwrap().available,
        0
    );
    assert_clean(&t.db, &store).await;
}

async fn holds_settle_exactly_once(backend: Backend) {
    let mut p = program();
    p.pending_days = 0;
    let (t, store) = setup(backend, p).await;
    let now = Timestamp::now();
    let c = write(
        &t.db,
        &store,
        &[order("5001", "anahit", 10_000, Timestamp(now.0 - DAY))],
    )
    .await[0];
    let mut tx = t.db.begin().await.unwrap();
    let hold = tx
        .hold_points(&store, c, 30, 600, "checkout", "api_key:k", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        t.db.points_balance(store.id, c, now, 14).await.unwrap().available,
        70
    );
    let mut tx = t.db.begin().await.unwrap();
    let captured = tx.capture_hold(&store, &hold.id, "api_key:k", now).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(captured.state, "captured");
    for _ in 0..2 {
        let mut tx = t.db.begin().await.unwrap();
        let err = tx
            .release_hold(&store, &hold.id, "api_key:k", now)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::Refused {
                code: "hold_already_settled",
                ..
            }
        ));
        tx.rollback().await.unwrap();
    }
    // A second hold given back returns its points; a third left to expire is released by the night.
    let mut tx = t.db.begin().await.unwrap();
    let back = tx
        .hold_points(&store, c, 20, 600, "checkout", "api_key:k", now)
        .await
        .unwrap();
    tx.release_hold(&store, &back.id, "api_key:k", now).await.unwrap();
    let lapsed = tx
        .hold_points(&store, c, 15, 60, "checkout", "api_key:k", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let b = t.db.points_balance(store.id, c, now, 14).await.unwrap();
    assert_eq!((b.available, b.held), (55, 15));
    let report =
        t.db.run_loyalty_nightly(&store, Timestamp(now.0 + 120_000))
            .await
            .unwrap();
    assert_eq!(report.holds_released, 1);
    assert_eq!(t.db.hold(store.id, &lapsed.id).await.unwrap().state, "expired");
    let b = t.db.points_balance(store.id, c, now, 14).await.unwrap();
    assert_eq!((b.available, b.held, b.redeemed), (70, 0, 30));
    assert_clean(&t.db, &store).await;
}

async fn actions_earn_within_their_caps(backend: Backend) {
    let mut p = program();
    p.actions = vec![
        ActionRule {
            action: Action::Review,
            points: 50,
            cap: Some(Cap {
                count: 2,
                period: Period::Month,
            }),
        },
        ActionRule {
            action: Action::Birthday,
            points: 200,
            cap: None,
        },
    ];
    let (t, store) = setup(backend, p).await;
    let now = Timestamp::now();
    let c = write(&t.db, &store, &[order("6001", "sita", 1_000, now)]).await[0];
    let mut outcomes = Vec::new();
    let mut tx = t.db.begin().await.unwrap();
    for reference in ["review-1", "review-1", "review-2", "review-3"] {
        let out = tx
            .earn_for_action(&store, c, &Action::Review, Some(reference), "api_key:k", now)
            .await
            .unwrap();
        outcomes.push(out.skipped.unwrap_or("earned"));
    }
    let first = tx
        .earn_for_action(&store, c, &Action::Birthday, None, "system", now)
        .await
        .unwrap();
    let again = tx
        .earn_for_action(&store, c, &Action::Birthday, None, "system", now)
        .await
        .unwrap();
    let survey = tx
        .earn_for_action(&store, c, &Action::Survey, None, "system", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outcomes, ["earned", "already_earned", "earned", "cap_reached"]);
    assert_eq!(
        (first.points, again.skipped, survey.skipped),
        (200, Some("already_earned"), Some("no_rule"))
    );
    assert_eq!(
        t.db.points_balance(store.id, c, now, 14).await.unwrap().available,
        300
    );
    assert_clean(&t.db, &store).await;
}

async fn tiers_rise_on_events_and_the_night_moves_them_both_ways(backend: Backend) {
    let mut p = program();
    p.tiers = TierLadder {
        metric: TierMetric::PointsEarned,
        window_days: Some(30),
        levels: vec![
            Tier {
                id: "silver".into(),
                name: "Silver".into(),
                threshold: 100,
                benefits: TierBenefits::default(),
            },
            Tier {
                id: "gold".into(),
                name: "Gold".into(),
                threshold: 1_000,
                benefits: TierBenefits {
                    earn_percent: 200,
                    ..TierBenefits::default()
                },
            },
        ],
    };
    let (t, store) = setup(backend, p).await;
    let now = Timestamp::now();
    let c = write(&t.db, &store, &[order("7001", "vardan", 150_000, now)]).await[0];
    assert_eq!(t.db.member_tier(store.id, c).await.unwrap().unwrap().0, "gold");
    // Gold earns double on the next order.
    write(&t.db, &store, &[order("7002", "vardan", 10_000, now)]).await;
    let b = t.db.points_balance(store.id, c, now, 14).await.unwrap();
    assert_eq!(b.lifetime_earned, 1_500 + 200);
    // Spending never demotes.
    let mut tx = t.db.begin().await.unwrap();
    tx.adjust_points(&store, c, -1_000, "goodwill correction", "user:u", now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    t.db.run_loyalty_nightly(&store, now).await.unwrap();
    assert_eq!(t.db.member_tier(store.id, c).await.unwrap().unwrap().0, "gold");
    // Forty days on, the 30-day window is empty: down to no tier.
    let report =
        t.db.run_loyalty_nightly(&store, Timestamp(now.0 + 40 * DAY))
            .await
            .unwrap();
    assert_eq!(report.demotions, 1);
    assert_eq!(t.db.member_tier(store.id, c).await.unwrap(), None);
    let history = t.db.tier_history(store.id, c).await.unwrap();
    let moves: Vec<(Option<String>, Option<String>)> = history
        .iter()
        .map(|h| (h.from_tier.clone(), h.to_tier.clone()))
        .collect();
    assert_eq!(moves, [(Some("gold".into()), None), (None, Some("gold".into()))]);
    assert_clean(&t.db, &store).await;
}

async fn the_night_expires_lots_and_warns_ahead(backend: Backend) {
    let mut p = program();
    p.pending_days = 0;
    p.expiry_days = Some(30);
    p.expiry_warning_days = 7;
    let (t, store) = setup(backend, p).await;
    let now = Timestamp::now();
    let c = write(
        &t.db,
        &store,
        &[order("8001", "gohar", 10_000, Timestamp(now.0 - 25 * DAY))],
    )
    .await[0];
    write(
        &t.db,
        &store,
        &[order("8002", "gohar", 5_000, Timestamp(now.0 - 40 * DAY))],
    )
    .await;
    let report = t.db.run_loyalty_nightly(&store, now).await.unwrap();
    assert_eq!(
        (report.lots_expired, report.points_expired, report.lots_warned),
        (1, 50, 1)
    );
    // Running again changes nothing.
    let again = t.db.run_loyalty_nightly(&store, now).await.unwrap();
    assert_eq!((again.lots_expired, again.lots_warned), (0, 0));
    let b = t.db.points_balance(store.id, c, now, 7).await.unwrap();
    assert_eq!((b.available, b.expired, b.expiring_soon), (100, 50, 100));
    assert_clean(&t.db, &store).await;
}

async fn concurrent_redemptions_never_overdraw(backend: Backend) {
    let mut p = program();
    p.pending_days = 0;
    let (t, store) = setup(backend, p).await;
    let now = Timestamp::now();
    let c = write(
        &t.db,
        &store,
        &[order("9001", "priya", 100_000, Timestamp(now.0 - DAY))],
    )
    .await[0];
    let db = Arc::new(t.db.clone());
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for _ in 0..300 {
        let (db, store) = (db.clone(), store.clone());
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            match tx.spend_points(&store, c, 10, "reward", "system", now).await {
                Ok(_) => {
                    tx.commit().await.unwrap();
                    true
                }
                Err(StoreError::Refused {
                    code: "insufficient_points",
                    ..
                }) => {
                    tx.rollback().await.unwrap();
                    false
                }
                Err(e) => panic!("{e}"),
            }
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 100);
    assert_eq!(
        t.db.points_balance(store.id, c, now, 14).await.unwrap().available,
        0
    );
    assert_clean(&t.db, &store).await;
}

on_both_backends!(
    an_order_earns_once_pending_then_available,
    refunds_take_back_their_share_and_cancellation_the_rest,
    spending_takes_the_soonest_expiring_points_first,
    spent_points_that_a_refund_takes_back_are_written_off,
    holds_settle_exactly_once,
    actions_earn_within_their_caps,
    tiers_rise_on_events_and_the_night_moves_them_both_ways,
    the_night_expires_lots_and_warns_ahead,
    concurrent_redemptions_never_overdraw,
);
