//! The referral program on both databases: advocates' codes (each also a first-order coupon),
//! attribution by discount code, by the shop's signal and by the share link, the return window
//! with refunds and cancellations inside and after it, every fraud rule, the review queue, caps
//! and milestones, each kind of reward, duplicate deliveries, tenant isolation, and order
//! signals kept as hashes only.

use std::collections::HashSet;
use std::sync::Arc;

use regulars_domain::loyalty::{Period, Program, Tier, TierBenefits, TierLadder, TierMetric};
use regulars_domain::referral::{
    Eligibility, Milestone, ReferralProgram, ReferralReward, RewardCap, RuleAction,
};
use regulars_domain::{
    Cart, CartLine, Currency, CustomerId, CustomerInput, Discount, Email, OrderInput, Phone, RefundInput,
    Refusal, Source, Timestamp, DEFAULT_CHARSET,
};
use regulars_store::{
    Db, Decision, EventRecord, ReferralCursor, ReferralFilter, ReferralRecord, ReferralStatus, RewardInput,
    StoreError, StoreRecord, TimelineQuery,
};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend, TestDb};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

/// Points on, no tiers: referral points land on the ledger at once.
fn loyalty() -> Program {
    Program {
        enabled: true,
        ..Program::default()
    }
}

/// On, 10 % off the friend's first order, 500 points to the advocate and 200 to the friend.
fn program() -> ReferralProgram {
    ReferralProgram {
        enabled: true,
        friend_points: 200,
        ..ReferralProgram::default()
    }
}

async fn shop(t: &TestDb, name: &str, referrals: &ReferralProgram) -> StoreRecord {
    let store = t.store(name, "INR", "Asia/Kolkata", "te-IN").await;
    t.db.set_loyalty_program(store.id, &loyalty(), "user:test")
        .await
        .unwrap();
    t.db.set_referral_program(&store, referrals, "user:test")
        .await
        .unwrap();
    store
}

async fn setup(backend: Backend, referrals: ReferralProgram) -> (TestDb, StoreRecord) {
    let t = TestDb::new(backend).await;
    let store = shop(&t, "Kaveri Silks", &referrals).await;
    (t, store)
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

async fn person_with(db: &Db, store: &StoreRecord, input: CustomerInput) -> CustomerId {
    db.upsert_customer(store.id, Source::Api, &input, "test")
        .await
        .unwrap()
        .0
}

/// A customer `ext` (`ext@example.in`) named `first_name`.
async fn person(db: &Db, store: &StoreRecord, ext: &str, first_name: &str) -> CustomerId {
    person_with(
        db,
        store,
        CustomerInput {
            external_id: Some(ext.into()),
            email: Some(email(&format!("{ext}@example.in"))),
            first_name: Some(first_name.into()),
            ..Default::default()
        },
    )
    .await
}

/// An advocate and their code.
async fn advocate(db: &Db, store: &StoreRecord, ext: &str, first_name: &str) -> (CustomerId, String) {
    let id = person(db, store, ext, first_name).await;
    let code = db.referral_code(store, id).await.unwrap().code;
    (id, code)
}

/// A paid order of `total` by the customer `customer` (`customer@example.in`).
fn order(ext: &str, customer: &str, total: i64, placed_at: Timestamp) -> OrderInput {
    paid_order(ext, customer, Currency::INR, total, placed_at)
}

fn with_code(mut o: OrderInput, code: &str) -> OrderInput {
    o.discount_codes = vec![code.to_string()];
    o
}

/// Writes the orders; the id of the first one's customer and its order id.
async fn write(db: &Db, store: &StoreRecord, orders: &[OrderInput]) -> (CustomerId, String) {
    let out = db
        .upsert_orders_crediting(store, orders, "test", false)
        .await
        .unwrap();
    (
        out[0].customer_id.expect("a known customer"),
        out[0].id.to_string(),
    )
}

async fn refund(db: &Db, store: &StoreRecord, order_ext: &str, id: &str, amount: i64, at: Timestamp) {
    let mut tx = db.begin().await.unwrap();
    tx.add_refund(
        store,
        Source::Api,
        order_ext,
        &RefundInput {
            external_id: id.into(),
            created_at: at,
            amount,
            reason: None,
            lines: vec![],
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn referral_of(db: &Db, store: &StoreRecord, friend: CustomerId) -> ReferralRecord {
    db.customer_referrals(store.id, friend)
        .await
        .unwrap()
        .referred_by
        .expect("the friend was referred")
}

/// The customer's ledger entries for referrals: how many, and their points.
async fn referral_points(db: &Db, store: &StoreRecord, customer: CustomerId) -> (usize, i64) {
    let history = db.points_history(store.id, customer, None, 500).await.unwrap();
    let entries: Vec<i64> = history
        .iter()
        .filter(|e| e.action.as_deref() == Some("referral"))
        .map(|e| e.points)
        .collect();
    (entries.len(), entries.iter().sum())
}

async fn events(db: &Db, store: &StoreRecord, customer: CustomerId, kind: &str) -> Vec<EventRecord> {
    db.timeline(
        store.id,
        customer,
        &TimelineQuery {
            kind: Some(kind.into()),
            before: None,
            limit: 100,
        },
    )
    .await
    .unwrap()
}

fn rules(r: &ReferralRecord) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn refusal<T: std::fmt::Debug>(result: Result<T, StoreError>) -> &'static str {
    match result {
        Err(StoreError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The end of a referral's window plus a minute: when the job may settle it.
fn after_window(r: &ReferralRecord) -> Timestamp {
    Timestamp(r.qualifies_at.expect("a qualifying order").0 + MINUTE)
}

fn cart() -> Cart {
    Cart {
        currency: Currency::INR,
        lines: vec![CartLine {
            product_id: None,
            sku: Some("SAREE".into()),
            category: Some("silk".into()),
            tags: vec![],
            quantity: 1,
            unit_price: 100_000,
        }],
        shipping: 0,
    }
}

async fn check_code(
    db: &Db,
    store: &StoreRecord,
    code: &str,
    who: Option<CustomerId>,
    now: Timestamp,
) -> Result<i64, &'static str> {
    db.validate_coupons(store, &cart(), &[code.to_string()], who, now)
        .await
        .unwrap()
        .remove(0)
        .result
        .map_err(Refusal::code)
}

async fn codes_are_readable_unique_and_first_order_coupons(backend: Backend) {
    let off = ReferralProgram {
        enabled: false,
        ..program()
    };
    let (t, store) = setup(backend, off).await;
    let db = &t.db;
    let now = Timestamp::now();
    let anna = person(db, &store, "anna", "Anna").await;
    assert_eq!(refusal(db.referral_code(&store, anna).await), "referrals_off");

    // Only customers with an order may refer.
    let mut p = program();
    p.eligibility = Eligibility {
        min_orders: 1,
        tiers: vec![],
    };
    db.set_referral_program(&store, &p, "user:test").await.unwrap();
    assert_eq!(refusal(db.referral_code(&store, anna).await), "not_eligible");
    write(
        db,
        &store,
        &[order("A-1", "anna", 30_000, Timestamp(now.0 - 30 * DAY))],
    )
    .await;
    let code = db.referral_code(&store, anna).await.unwrap();
    let (name, suffix) = code.code.split_once('-').expect("NAME-XXXX");
    assert_eq!(name, "ANNA");
    assert_eq!(suffix.len(), 4, "{}", code.code);
    assert!(
        suffix.chars().all(|c| DEFAULT_CHARSET.contains(c)),
        "{}",
        code.code
    );
    assert_eq!(code.customer_id, anna);
    // Asked again: the same code and coupon.
    let again = db.referral_code(&store, anna).await.unwrap();
    assert_eq!(
        (again.code.as_str(), again.coupon_id.as_str()),
        (code.code.as_str(), code.coupon_id.as_str())
    );
    let owner = db
        .referral_code_owner(store.id, &code.code.to_lowercase())
        .await
        .unwrap()
        .expect("the code is found in any case");
    assert_eq!(owner.customer_id, anna);

    // 200 more Annas: 200 more codes, all distinct.
    p.eligibility = Eligibility::default();
    db.set_referral_program(&store, &p, "user:test").await.unwrap();
    let mut seen = HashSet::from([code.code.clone()]);
    for i in 0..200 {
        let (_, c) = advocate(db, &store, &format!("anna-{i}"), "Anna").await;
        assert!(c.starts_with("ANNA-"), "{c}");
        assert!(seen.insert(c.clone()), "{c} was given twice");
    }
    assert_eq!(seen.len(), 201);

    // The code is a coupon for a friend's first order, with the program's discount.
    let newcomer = person(db, &store, "newcomer", "Nila").await;
    assert_eq!(
        check_code(db, &store, &code.code, Some(newcomer), now).await,
        Ok(10_000)
    );
    let regular = person(db, &store, "regular", "Ravi").await;
    write(
        db,
        &store,
        &[order("R-1", "regular", 20_000, Timestamp(now.0 - 5 * DAY))],
    )
    .await;
    assert_eq!(
        check_code(db, &store, &code.code, Some(regular), now).await,
        Err("not_first_order")
    );

    // Tier eligibility: only gold members refer.
    let mut gold = loyalty();
    gold.tiers = TierLadder {
        metric: TierMetric::PointsEarned,
        window_days: None,
        levels: vec![Tier {
            id: "gold".into(),
            name: "Gold".into(),
            threshold: 1_000,
            benefits: TierBenefits::default(),
        }],
    };
    db.set_loyalty_program(store.id, &gold, "user:test")
        .await
        .unwrap();
    p.eligibility = Eligibility {
        min_orders: 0,
        tiers: vec!["gold".into()],
    };
    db.set_referral_program(&store, &p, "user:test").await.unwrap();
    let lata = person(db, &store, "lata", "Lata").await;
    assert_eq!(refusal(db.referral_code(&store, lata).await), "not_eligible");
    write(db, &store, &[order("L-1", "lata", 150_000, now)]).await;
    assert_eq!(db.member_tier(store.id, lata).await.unwrap().unwrap().0, "gold");
    assert!(db
        .referral_code(&store, lata)
        .await
        .unwrap()
        .code
        .starts_with("LATA-"));
}

async fn a_friends_first_order_rewards_both_sides_once(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = &t.db;
    let (anna, code) = advocate(db, &store, "anna", "Anna").await;
    let placed = Timestamp(Timestamp::now().0 - HOUR);
    let (meera, order_id) = write(
        db,
        &store,
        &[with_code(
            order("M-1", "meera", 100_000, placed),
            &code.to_lowercase(),
        )],
    )
    .await;
    let r = referral_of(db, &store, meera).await;
    assert_eq!(r.status, ReferralStatus::Pending);
    assert_eq!(
        (r.advocate_id, r.channel.as_str(), r.code.as_str()),
        (anna, "code", code.as_str())
    );
    assert_eq!(r.order_id.as_deref(), Some(order_id.as_str()));
    assert_eq!(r.order_value, Some(100_000));
    assert_eq!(r.qualifies_at, Some(Timestamp(placed.0 + 14 * DAY)));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    let created = events(db, &store, anna, "referral_created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].data["referral_id"], r.id.as_str());

    // Inside the window the job leaves it alone.
    let early = db
        .run_referrals(&store, Timestamp(placed.0 + 13 * DAY))
        .await
        .unwrap();
    assert_eq!((early.qualified, early.rewarded), (0, 0));
    assert_eq!(
        db.referral(store.id, &r.id).await.unwrap().status,
        ReferralStatus::Pending
    );

    let at = after_window(&r);
    let report = db.run_referrals(&store, at).await.unwrap();
    assert_eq!((report.qualified, report.rewarded, report.unrewarded), (1, 1, 0));
    let done = db.referral(store.id, &r.id).await.unwrap();
    assert_eq!(done.status, ReferralStatus::Rewarded);
    let reward = done.advocate_reward.expect("the advocate's reward");
    assert_eq!(
        (reward["kind"].as_str(), reward["points"].as_i64()),
        (Some("points"), Some(500))
    );
    assert_eq!(done.friend_reward.expect("the friend's reward")["points"], 200);
    assert_eq!(
        db.points_balance(store.id, anna, at, 14).await.unwrap().available,
        500
    );
    assert_eq!(referral_points(db, &store, anna).await, (1, 500));
    assert_eq!(referral_points(db, &store, meera).await, (1, 200));
    assert_eq!(events(db, &store, anna, "referral_rewarded").await.len(), 1);
    assert_eq!(events(db, &store, anna, "referral_qualified").await.len(), 1);

    // Again: nothing more.
    let again = db.run_referrals(&store, Timestamp(at.0 + DAY)).await.unwrap();
    assert_eq!((again.qualified, again.rewarded), (0, 0));
    assert_eq!(referral_points(db, &store, anna).await, (1, 500));
    assert_eq!(
        db.points_balance(store.id, anna, at, 14).await.unwrap().available,
        500
    );

    // Two jobs at once on a fresh referral: one reward.
    let (nila, _) = write(
        db,
        &store,
        &[with_code(order("N-1", "nila", 80_000, placed), &code)],
    )
    .await;
    let r2 = referral_of(db, &store, nila).await;
    let at2 = after_window(&r2);
    let (a, b) = tokio::join!(db.run_referrals(&store, at2), db.run_referrals(&store, at2));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.rewarded + b.rewarded, 1, "{a:?} {b:?}");
    assert_eq!(
        db.referral(store.id, &r2.id).await.unwrap().status,
        ReferralStatus::Rewarded
    );
    assert_eq!(referral_points(db, &store, anna).await, (2, 1_000));
    assert_eq!(referral_points(db, &store, nila).await, (1, 200));
    assert_eq!(
        db.points_balance(store.id, anna, at2, 14)
            .await
            .unwrap()
            .available,
        1_000
    );
    assert_eq!(events(db, &store, anna, "referral_rewarded").await.len(), 2);
}

async fn the_shops_signal_and_the_share_link_attribute_too(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = &t.db;
    let (anna, code) = advocate(db, &store, "anna", "Anna").await;
    let now = Timestamp::now();

    // The shop passes the code beside the order.
    let mut o = order("T-1", "tara", 60_000, Timestamp(now.0 - HOUR));
    o.signals.referral_code = Some(code.clone());
    let (tara, _) = write(db, &store, &[o]).await;
    let r = referral_of(db, &store, tara).await;
    assert_eq!(
        (r.status, r.channel.as_str(), r.advocate_id),
        (ReferralStatus::Pending, "order", anna)
    );

    // The friend leaves their email on the landing page, then orders without any code.
    let landed = db
        .refer_by_link(
            &store,
            &code,
            &email("uma@example.in"),
            Some("203.0.113.9"),
            Some("ua:phone"),
            now,
        )
        .await
        .unwrap();
    assert_eq!(
        (landed.status, landed.channel.as_str()),
        (ReferralStatus::AwaitingOrder, "link")
    );
    assert_eq!((landed.order_id.as_deref(), landed.qualifies_at), (None, None));
    assert_eq!(events(db, &store, anna, "referral_created").await.len(), 2);
    let placed = Timestamp(Timestamp::now().0 + 1);
    let (uma, order_id) = write(db, &store, &[order("U-1", "uma", 45_000, placed)]).await;
    assert_eq!(
        uma, landed.friend_id,
        "the order's customer is the friend who landed"
    );
    let r = referral_of(db, &store, uma).await;
    assert_eq!(r.id, landed.id);
    assert_eq!(r.status, ReferralStatus::Pending, "{:?}", r.findings);
    assert_eq!(r.order_id.as_deref(), Some(order_id.as_str()));
    assert_eq!(
        (r.order_value, r.qualifies_at),
        (Some(45_000), Some(Timestamp(placed.0 + 14 * DAY)))
    );
    // A second order changes nothing.
    write(
        db,
        &store,
        &[order("U-2", "uma", 90_000, Timestamp(placed.0 + 1))],
    )
    .await;
    assert_eq!(
        referral_of(db, &store, uma).await.order_id.as_deref(),
        Some(order_id.as_str())
    );

    // Unknown codes and a program turned off are refused.
    let err = db
        .refer_by_link(&store, "NOPE-2345", &email("vera@example.in"), None, None, now)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let off = ReferralProgram {
        enabled: false,
        ..program()
    };
    db.set_referral_program(&store, &off, "user:test").await.unwrap();
    assert_eq!(
        refusal(
            db.refer_by_link(&store, &code, &email("vera@example.in"), None, None, now)
                .await
        ),
        "referrals_off"
    );
}

async fn a_small_first_order_waits_for_a_qualifying_one(backend: Backend) {
    let p = ReferralProgram {
        min_order_value: 50_000,
        ..program()
    };
    let (t, store) = setup(backend, p).await;
    let db = &t.db;
    let (_, code) = advocate(db, &store, "anna", "Anna").await;
    let now = Timestamp::now();
    let (vani, _) = write(
        db,
        &store,
        &[with_code(
            order("V-1", "vani", 20_000, Timestamp(now.0 - 2 * HOUR)),
            &code,
        )],
    )
    .await;
    let r = referral_of(db, &store, vani).await;
    assert_eq!(r.status, ReferralStatus::AwaitingOrder);
    assert_eq!((r.order_id.as_deref(), r.qualifies_at), (None, None));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // The job has nothing to settle.
    let report = db
        .run_referrals(&store, Timestamp(now.0 + 30 * DAY))
        .await
        .unwrap();
    assert_eq!(report.qualified, 0);

    // The next order reaches the minimum, with no code: it completes the referral, and the
    // small first order does not make the friend an existing customer.
    let placed = Timestamp(now.0 - HOUR);
    let (_, second) = write(db, &store, &[order("V-2", "vani", 60_000, placed)]).await;
    let r = referral_of(db, &store, vani).await;
    assert_eq!(r.status, ReferralStatus::Pending, "{:?}", r.findings);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.order_id.as_deref(), Some(second.as_str()));
    assert_eq!(
        (r.order_value, r.qualifies_at),
        (Some(60_000), Some(Timestamp(placed.0 + 14 * DAY)))
    );
    let report = db.run_referrals(&store, after_window(&r)).await.unwrap();
    assert_eq!(report.rewarded, 1);
}

async fn refunds_and_cancellations_inside_the_window_cancel_but_not_after(backend: Backend) {
    let p = ReferralProgram {
        min_order_value: 50_000,
        ..program()
    };
    let (t, store) = setup(backend, p).await;
    let db = &t.db;
    let (anna, code) = advocate(db, &store, "anna", "Anna").await;
    let now = Timestamp::now();
    let placed = Timestamp(now.0 - HOUR);
    let window_end = placed.0 + 14 * DAY;
    let mut friends = std::collections::HashMap::new();
    for (ext, total, at) in [
        ("asha", 100_000, placed),
        ("bela", 80_000, placed),
        ("chitra", 80_000, placed),
        ("deepa", 100_000, placed),
        ("esha", 100_000, placed),
        ("farah", 100_000, Timestamp(now.0 - 20 * DAY)),
        ("gita", 100_000, placed),
    ] {
        let (c, _) = write(
            db,
            &store,
            &[with_code(order(&format!("{ext}-1"), ext, total, at), &code)],
        )
        .await;
        assert_eq!(referral_of(db, &store, c).await.status, ReferralStatus::Pending);
        friends.insert(ext, c);
    }

    // Inside the window: a full refund, and a partial one leaving less than the minimum.
    refund(db, &store, "asha-1", "r1", 100_000, Timestamp(placed.0 + DAY)).await;
    let a = referral_of(db, &store, friends["asha"]).await;
    assert_eq!(
        (a.status, a.reason.as_deref()),
        (ReferralStatus::Cancelled, Some("refunded_in_window"))
    );
    assert_eq!(events(db, &store, anna, "referral_cancelled").await.len(), 1);
    refund(db, &store, "bela-1", "r1", 40_000, Timestamp(placed.0 + 2 * DAY)).await;
    let b = referral_of(db, &store, friends["bela"]).await;
    assert_eq!(
        (b.status, b.reason.as_deref()),
        (ReferralStatus::Cancelled, Some("refunded_in_window"))
    );
    // A partial refund that keeps the minimum changes nothing.
    refund(
        db,
        &store,
        "chitra-1",
        "r1",
        10_000,
        Timestamp(placed.0 + 2 * DAY),
    )
    .await;
    assert_eq!(
        referral_of(db, &store, friends["chitra"]).await.status,
        ReferralStatus::Pending
    );
    // A refund dated after the window, before the job ran.
    refund(db, &store, "deepa-1", "r1", 100_000, Timestamp(window_end + HOUR)).await;
    assert_eq!(
        referral_of(db, &store, friends["deepa"]).await.status,
        ReferralStatus::Pending
    );
    // A window that already ended, refunded now (after it), before the job ran.
    refund(db, &store, "farah-1", "r1", 100_000, now).await;
    assert_eq!(
        referral_of(db, &store, friends["farah"]).await.status,
        ReferralStatus::Pending
    );
    // Cancelled inside the window.
    let mut g = with_code(order("gita-1", "gita", 100_000, placed), &code);
    g.cancelled_at = Some(Timestamp::now());
    write(db, &store, &[g]).await;
    let g = referral_of(db, &store, friends["gita"]).await;
    assert_eq!(
        (g.status, g.reason.as_deref()),
        (ReferralStatus::Cancelled, Some("order_cancelled"))
    );

    let at = Timestamp(window_end + MINUTE);
    let report = db.run_referrals(&store, at).await.unwrap();
    assert_eq!((report.rewarded, report.cancelled), (4, 0), "{report:?}");
    for ext in ["asha", "bela", "gita"] {
        assert_eq!(
            referral_of(db, &store, friends[ext]).await.status,
            ReferralStatus::Cancelled,
            "{ext}"
        );
    }
    for ext in ["chitra", "deepa", "esha", "farah"] {
        assert_eq!(
            referral_of(db, &store, friends[ext]).await.status,
            ReferralStatus::Rewarded,
            "{ext}"
        );
    }
    assert_eq!(referral_points(db, &store, anna).await, (4, 2_000));

    // Refunded after the job rewarded it: the reward stays.
    refund(db, &store, "esha-1", "r1", 100_000, Timestamp(at.0 + HOUR)).await;
    assert_eq!(
        referral_of(db, &store, friends["esha"]).await.status,
        ReferralStatus::Rewarded
    );
    let again = db.run_referrals(&store, Timestamp(at.0 + DAY)).await.unwrap();
    assert_eq!((again.rewarded, again.cancelled), (0, 0));
    assert_eq!(referral_points(db, &store, anna).await, (4, 2_000));
    let later = Timestamp(at.0 + DAY);
    assert_eq!(
        db.points_balance(store.id, anna, later, 14)
            .await
            .unwrap()
            .available,
        2_000
    );
    assert!(db
        .points_history(store.id, anna, None, 100)
        .await
        .unwrap()
        .iter()
        .all(|e| e.points > 0 && e.kind == "earn"));
}

/// Writes one order with the code by a new friend `ext` (`ext@example.in` unless `shape` says
/// otherwise) and returns their referral.
async fn friend_order(
    db: &Db,
    store: &StoreRecord,
    ext: &str,
    code: &str,
    shape: impl FnOnce(&mut OrderInput),
) -> ReferralRecord {
    let mut o = with_code(
        order(
            &format!("{ext}-1"),
            ext,
            70_000,
            Timestamp(Timestamp::now().0 - MINUTE),
        ),
        code,
    );
    shape(&mut o);
    let (c, _) = write(db, store, &[o]).await;
    referral_of(db, store, c).await
}

fn assert_judged(r: &ReferralRecord, rule: &str, status: ReferralStatus) {
    assert_eq!(rules(r), [rule], "{:?}", r.findings);
    assert_eq!(r.status, status, "{rule}");
    if status != ReferralStatus::Pending {
        assert_eq!(r.reason.as_deref(), Some(rule));
    }
}

async fn every_fraud_rule_names_itself(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = &t.db;
    let now = Timestamp::now();

    // The advocate's own code on their own order.
    let (anna, code) = advocate(db, &store, "anna", "Anna").await;
    write(
        db,
        &store,
        &[with_code(order("anna-1", "anna", 70_000, now), &code)],
    )
    .await;
    let r = referral_of(db, &store, anna).await;
    assert_judged(&r, "self_referral", ReferralStatus::Rejected);
    assert_eq!(r.decided_by.as_deref(), Some("rules"));
    assert_eq!(events(db, &store, anna, "referral_rejected").await.len(), 1);

    // The same person by another address: a +tag, Gmail's dots.
    let kavya = person_with(
        db,
        &store,
        CustomerInput {
            external_id: Some("kavya".into()),
            email: Some(email("kavya.rao@gmail.com")),
            first_name: Some("Kavya".into()),
            ..Default::default()
        },
    )
    .await;
    let kcode = db.referral_code(&store, kavya).await.unwrap().code;
    for (ext, address) in [
        ("kavya-2", "kavya.rao+deals@gmail.com"),
        ("kavya-3", "k.avyarao@googlemail.com"),
    ] {
        let r = friend_order(db, &store, ext, &kcode, |o| {
            o.customer.as_mut().unwrap().email = Some(email(address));
        })
        .await;
        assert_ne!(r.friend_id, kavya, "a different customer record");
        assert_judged(&r, "same_email", ReferralStatus::Rejected);
    }

    // One typo away at the same domain.
    let ravi = person_with(
        db,
        &store,
        CustomerInput {
            external_id: Some("ravi".into()),
            email: Some(email("ravi123@example.in")),
            first_name: Some("Ravi".into()),
            ..Default::default()
        },
    )
    .await;
    let rcode = db.referral_code(&store, ravi).await.unwrap().code;
    let r = friend_order(db, &store, "ravi-2", &rcode, |o| {
        o.customer.as_mut().unwrap().email = Some(email("ravi124@example.in"));
    })
    .await;
    assert_judged(&r, "similar_email", ReferralStatus::Review);

    // The same phone, written differently.
    let sunil = person_with(
        db,
        &store,
        CustomerInput {
            external_id: Some("sunil".into()),
            email: Some(email("sunil@example.in")),
            phone: Some(Phone::parse("+91 98480 22338").unwrap()),
            first_name: Some("Sunil".into()),
            ..Default::default()
        },
    )
    .await;
    let scode = db.referral_code(&store, sunil).await.unwrap().code;
    let r = friend_order(db, &store, "priya", &scode, |o| {
        o.customer.as_mut().unwrap().phone = Some(Phone::parse("098480-22338").unwrap());
    })
    .await;
    assert_ne!(r.friend_id, sunil);
    assert_judged(&r, "same_phone", ReferralStatus::Rejected);

    // An address the advocate's earlier order shipped to.
    let address = "in|500034|8293road2banjarahills";
    let (lakshmi, lcode) = advocate(db, &store, "lakshmi", "Lakshmi").await;
    let mut earlier = order("lakshmi-1", "lakshmi", 30_000, Timestamp(now.0 - 40 * DAY));
    earlier.signals.shipping_address = Some(address.into());
    write(db, &store, &[earlier]).await;
    let r = friend_order(db, &store, "swathi", &lcode, |o| {
        o.signals.shipping_address = Some(address.to_uppercase());
    })
    .await;
    assert_judged(&r, "same_address", ReferralStatus::Review);
    assert_eq!(r.advocate_id, lakshmi);
    // Another address: clean.
    let r = friend_order(db, &store, "sowmya", &lcode, |o| {
        o.signals.shipping_address = Some("in|500081|plot12hitechcity".into());
    })
    .await;
    assert_eq!((r.status, rules(&r).len()), (ReferralStatus::Pending, 0));

    // The advocate's card.
    let (_, acode) = advocate(db, &store, "arjun", "Arjun").await;
    let mut earlier = order("arjun-1", "arjun", 30_000, Timestamp(now.0 - 40 * DAY));
    earlier.signals.payment_fingerprint = Some("visa:424242:4242".into());
    write(db, &store, &[earlier]).await;
    let r = friend_order(db, &store, "kiran", &acode, |o| {
        o.signals.payment_fingerprint = Some("visa:424242:4242".into());
    })
    .await;
    assert_judged(&r, "same_payment", ReferralStatus::Rejected);

    // A friend who had bought before.
    let (_, mcode) = advocate(db, &store, "meena", "Meena").await;
    write(
        db,
        &store,
        &[order("old-1", "oldtimer", 25_000, Timestamp(now.0 - 60 * DAY))],
    )
    .await;
    let (old, _) = write(
        db,
        &store,
        &[with_code(order("old-2", "oldtimer", 70_000, now), &mcode)],
    )
    .await;
    let r = referral_of(db, &store, old).await;
    assert_judged(&r, "existing_customer", ReferralStatus::Rejected);

    // A store that allows a rule notes the finding and decides as if it were not there.
    let mut p = program();
    p.fraud.same_address = RuleAction::Allow;
    db.set_referral_program(&store, &p, "user:test").await.unwrap();
    let r = friend_order(db, &store, "sravya", &lcode, |o| {
        o.signals.shipping_address = Some(address.into());
    })
    .await;
    assert_judged(&r, "same_address", ReferralStatus::Pending);
    assert_eq!(r.findings[0].action, RuleAction::Allow);
    assert_eq!(r.reason, None);
}

async fn bursts_from_one_address_and_busy_advocates_go_to_review(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = &t.db;
    let now = Timestamp::now();

    // Four friends' orders from one IP address within a day (by different advocates).
    for i in 0..4 {
        let (_, code) = advocate(db, &store, &format!("adv-{i}"), "Anna").await;
        let mut o = with_code(
            order(
                &format!("ip-{i}"),
                &format!("guest-{i}"),
                70_000,
                Timestamp(now.0 - (4 - i) * HOUR),
            ),
            &code,
        );
        o.signals.browser_ip = Some("198.51.100.7".into());
        let (c, _) = write(db, &store, &[o]).await;
        let r = referral_of(db, &store, c).await;
        if i < 3 {
            assert_eq!((r.status, r.findings.len()), (ReferralStatus::Pending, 0), "{i}");
        } else {
            assert_judged(&r, "burst", ReferralStatus::Review);
        }
    }

    // Eleven referrals for one advocate in a month: the eleventh waits for a person.
    let (_, code) = advocate(db, &store, "busy", "Bina").await;
    for i in 0..11 {
        let o = with_code(
            order(
                &format!("v-{i}"),
                &format!("pal-{i}"),
                70_000,
                Timestamp(now.0 - MINUTE),
            ),
            &code,
        );
        let (c, _) = write(db, &store, &[o]).await;
        let r = referral_of(db, &store, c).await;
        if i < 10 {
            assert_eq!((r.status, r.findings.len()), (ReferralStatus::Pending, 0), "{i}");
        } else {
            assert_judged(&r, "velocity", ReferralStatus::Review);
            assert!(
                r.findings[0].detail.starts_with("11 referrals"),
                "{}",
                r.findings[0].detail
            );
        }
    }
}

/// Orders that arrive late (an import, a retried webhook) or together in one batch are judged
/// as they happened: bursts and velocity count around each order's own time.
async fn bursts_count_around_each_arrival(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = &t.db;
    let now = Timestamp::now();
    let old = now.0 - 40 * DAY;

    // Four friends' orders from one IP address within hours, forty days ago, in one import.
    let mut orders = Vec::new();
    for i in 0..4 {
        let (_, code) = advocate(db, &store, &format!("adv-{i}"), "Anna").await;
        let mut o = with_code(
            order(
                &format!("ip-{i}"),
                &format!("guest-{i}"),
                70_000,
                Timestamp(old + i * HOUR),
            ),
            &code,
        );
        o.signals.browser_ip = Some("198.51.100.7".into());
        orders.push(o);
    }
    let written = db
        .upsert_orders_crediting(&store, &orders, "test", false)
        .await
        .unwrap();
    for (i, w) in written.iter().enumerate() {
        let r = referral_of(db, &store, w.customer_id.unwrap()).await;
        assert_eq!(
            r.created_at,
            Timestamp(old + i as i64 * HOUR),
            "arrived when placed"
        );
        if i < 3 {
            assert_eq!((r.status, r.findings.len()), (ReferralStatus::Pending, 0), "{i}");
        } else {
            assert_judged(&r, "burst", ReferralStatus::Review);
        }
    }

    // The same address three days apart is no burst, even written together.
    let mut orders = Vec::new();
    for i in 0..4 {
        let (_, code) = advocate(db, &store, &format!("slow-adv-{i}"), "Bina").await;
        let mut o = with_code(
            order(
                &format!("slow-{i}"),
                &format!("slow-{i}"),
                70_000,
                Timestamp(old - (i + 1) * 3 * DAY),
            ),
            &code,
        );
        o.signals.browser_ip = Some("203.0.113.9".into());
        orders.push(o);
    }
    for w in db
        .upsert_orders_crediting(&store, &orders, "test", false)
        .await
        .unwrap()
    {
        let r = referral_of(db, &store, w.customer_id.unwrap()).await;
        assert_eq!((r.status, r.findings.len()), (ReferralStatus::Pending, 0));
    }

    // Eleven referrals of one advocate in one batch, all in one month of last year: the
    // eleventh (by time) waits for a person, counted in the month it happened in.
    let (_, code) = advocate(db, &store, "busy", "Chitra").await;
    let month_ago = 1_749_988_800_000; // 15 June 2025, 12:00 UTC
    let orders: Vec<OrderInput> = (0..11)
        .map(|i| {
            with_code(
                order(
                    &format!("v-{i}"),
                    &format!("pal-{i}"),
                    70_000,
                    Timestamp(month_ago + i * MINUTE),
                ),
                &code,
            )
        })
        .rev()
        .collect();
    let written = db
        .upsert_orders_crediting(&store, &orders, "test", false)
        .await
        .unwrap();
    let mut held = Vec::new();
    for w in &written {
        let r = referral_of(db, &store, w.customer_id.unwrap()).await;
        if r.status == ReferralStatus::Review {
            assert_judged(&r, "velocity", ReferralStatus::Review);
            held.push(r.created_at);
        } else {
            assert_eq!((r.status, r.findings.len()), (ReferralStatus::Pending, 0));
        }
    }
    assert_eq!(
        held,
        vec![Timestamp(month_ago + 10 * MINUTE)],
        "only the last by time"
    );
}

async fn staff_decide_the_review_queue_once(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = &t.db;
    let ravi = person_with(
        db,
        &store,
        CustomerInput {
            external_id: Some("ravi".into()),
            email: Some(email("ravi123@example.in")),
            first_name: Some("Ravi".into()),
            ..Default::default()
        },
    )
    .await;
    let code = db.referral_code(&store, ravi).await.unwrap().code;
    let mut held = Vec::new();
    for (ext, address) in [("ravi-2", "ravi124@example.in"), ("ravi-3", "ravi125@example.in")] {
        let r = friend_order(db, &store, ext, &code, |o| {
            o.customer.as_mut().unwrap().email = Some(email(address));
        })
        .await;
        assert_eq!(r.status, ReferralStatus::Review);
        held.push(r);
    }
    let queue = db
        .referrals(
            store.id,
            &ReferralFilter {
                status: Some(ReferralStatus::Review),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(queue.len(), 2);

    // The job never rewards a referral in review, however late.
    let at = after_window(&held[0]);
    let report = db
        .run_referrals(&store, Timestamp(at.0 + 30 * DAY))
        .await
        .unwrap();
    assert_eq!((report.qualified, report.rewarded), (0, 0));
    assert_eq!(
        db.referral(store.id, &held[0].id).await.unwrap().status,
        ReferralStatus::Review
    );

    let approved = db
        .decide_referral(
            &store,
            &held[0].id,
            Decision::Approve,
            "cousins, checked",
            "user:u1",
        )
        .await
        .unwrap();
    assert_eq!(approved.status, ReferralStatus::Pending);
    assert_eq!(
        (approved.reason.as_deref(), approved.decided_by.as_deref()),
        (Some("cousins, checked"), Some("user:u1"))
    );
    let rejected = db
        .decide_referral(&store, &held[1].id, Decision::Reject, "same household", "user:u1")
        .await
        .unwrap();
    assert_eq!(
        (rejected.status, rejected.reason.as_deref()),
        (ReferralStatus::Rejected, Some("same household"))
    );
    let rejections = events(db, &store, ravi, "referral_rejected").await;
    assert_eq!(rejections.len(), 1);
    assert_eq!(rejections[0].data["referral_id"], held[1].id.as_str());
    for (id, decision) in [(&held[0].id, Decision::Reject), (&held[1].id, Decision::Approve)] {
        assert_eq!(
            refusal(db.decide_referral(&store, id, decision, "", "user:u2").await),
            "not_in_review"
        );
    }
    let report = db
        .run_referrals(&store, Timestamp(at.0 + 30 * DAY))
        .await
        .unwrap();
    assert_eq!(report.rewarded, 1);
    assert_eq!(
        db.referral(store.id, &held[0].id).await.unwrap().status,
        ReferralStatus::Rewarded
    );
    assert_eq!(
        db.referral(store.id, &held[1].id).await.unwrap().status,
        ReferralStatus::Rejected
    );
    assert_eq!(referral_points(db, &store, ravi).await, (1, 500));

    // Held at the landing page, before any order: the friend's order still completes it.
    let landed = db
        .refer_by_link(
            &store,
            &code,
            &email("ravi126@example.in"),
            None,
            None,
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (landed.status, rules(&landed)),
        (ReferralStatus::Review, vec!["similar_email"])
    );
    let placed = Timestamp(Timestamp::now().0 + 1);
    let mut o = order("ravi-4-1", "ravi-4", 70_000, placed);
    o.customer.as_mut().unwrap().email = Some(email("ravi126@example.in"));
    let (friend, order_id) = write(db, &store, &[o]).await;
    assert_eq!(friend, landed.friend_id);
    let held = referral_of(db, &store, friend).await;
    assert_eq!(
        (held.status, held.order_id.as_deref()),
        (ReferralStatus::Review, Some(order_id.as_str()))
    );
    assert_eq!(
        (held.order_value, held.qualifies_at),
        (Some(70_000), Some(Timestamp(placed.0 + 14 * DAY)))
    );
    assert_eq!(held.reason.as_deref(), Some("similar_email"));
    let approved = db
        .decide_referral(&store, &held.id, Decision::Approve, "", "user:u1")
        .await
        .unwrap();
    assert_eq!(
        (approved.status, approved.reason.as_deref()),
        (ReferralStatus::Pending, Some("approved_by_staff"))
    );
    assert_eq!(
        db.run_referrals(&store, after_window(&held))
            .await
            .unwrap()
            .rewarded,
        1
    );
    assert_eq!(referral_points(db, &store, ravi).await, (2, 1_000));
}

/// `n` new friends ordering with the code an hour apart (oldest first); their referrals.
async fn friends(db: &Db, store: &StoreRecord, code: &str, prefix: &str, n: i64) -> Vec<ReferralRecord> {
    let now = Timestamp::now().0;
    let mut out = Vec::new();
    for i in 0..n {
        let o = with_code(
            order(
                &format!("{prefix}-{i}"),
                &format!("{prefix}-{i}"),
                70_000,
                Timestamp(now - (n - i) * HOUR),
            ),
            code,
        );
        let (c, _) = write(db, store, &[o]).await;
        out.push(referral_of(db, store, c).await);
    }
    out
}

async fn caps_hold_back_rewards_and_milestones_come_once(backend: Backend) {
    let t = TestDb::new(backend).await;
    let db = &t.db;
    let capped = shop(
        &t,
        "Capped",
        &ReferralProgram {
            advocate_cap: Some(RewardCap {
                count: 2,
                period: Period::Month,
            }),
            ..program()
        },
    )
    .await;
    let (anna, code) = advocate(db, &capped, "anna", "Anna").await;
    let refs = friends(db, &capped, &code, "cap", 3).await;
    let report = db.run_referrals(&capped, after_window(&refs[2])).await.unwrap();
    assert_eq!((report.qualified, report.rewarded, report.unrewarded), (3, 2, 1));
    let third = db.referral(capped.id, &refs[2].id).await.unwrap();
    assert_eq!(third.status, ReferralStatus::Qualified);
    assert_eq!(third.advocate_reward.unwrap()["skipped"], "cap_reached");
    assert_eq!(
        third.friend_reward.unwrap()["points"],
        200,
        "the friend still gets theirs"
    );
    assert_eq!(referral_points(db, &capped, anna).await, (2, 1_000));

    let store = shop(
        &t,
        "Milestones",
        &ReferralProgram {
            milestones: vec![Milestone {
                friends: 3,
                reward: ReferralReward::Points { points: 1_000 },
            }],
            ..program()
        },
    )
    .await;
    let (bina, code) = advocate(db, &store, "bina", "Bina").await;
    let refs = friends(db, &store, &code, "ms", 4).await;
    let first = db.run_referrals(&store, after_window(&refs[1])).await.unwrap();
    assert_eq!((first.rewarded, first.milestones), (2, 0));
    let second = db.run_referrals(&store, after_window(&refs[2])).await.unwrap();
    assert_eq!((second.rewarded, second.milestones), (1, 1));
    let third = db.run_referrals(&store, after_window(&refs[3])).await.unwrap();
    assert_eq!((third.rewarded, third.milestones), (1, 0));
    db.run_referrals(&store, Timestamp(after_window(&refs[3]).0 + DAY))
        .await
        .unwrap();
    assert_eq!(referral_points(db, &store, bina).await, (5, 4 * 500 + 1_000));
    let milestones = events(db, &store, bina, "referral_milestone").await;
    assert_eq!(milestones.len(), 1);
    assert_eq!(milestones[0].data["friends"], 3);
}

async fn each_kind_of_reward_is_given_or_says_why_not(backend: Backend) {
    let t = TestDb::new(backend).await;
    let db = &t.db;

    // A coupon bound to the advocate, usable once.
    let store = shop(
        &t,
        "Coupons",
        &ReferralProgram {
            advocate_reward: ReferralReward::Coupon {
                discount: Discount::Percent { basis_points: 1_500 },
                minimum_spend: 0,
                valid_days: Some(30),
            },
            ..program()
        },
    )
    .await;
    let (anna, code) = advocate(db, &store, "anna", "Anna").await;
    let refs = friends(db, &store, &code, "cf", 1).await;
    let at = after_window(&refs[0]);
    assert_eq!(db.run_referrals(&store, at).await.unwrap().rewarded, 1);
    let done = db.referral(store.id, &refs[0].id).await.unwrap();
    assert_eq!(done.status, ReferralStatus::Rewarded);
    let reward = done.advocate_reward.unwrap();
    assert_eq!(reward["kind"], "coupon");
    let thanks = reward["code"].as_str().expect("a coupon code").to_string();
    let coupon = db
        .coupon_by_code(&store, &thanks)
        .await
        .unwrap()
        .expect("the coupon exists");
    assert_eq!((coupon.customer_id, coupon.usage_limit), (Some(anna), Some(1)));
    assert_eq!(coupon.expires_at, Some(Timestamp(at.0 + 30 * DAY)));
    assert_eq!(check_code(db, &store, &thanks, Some(anna), at).await, Ok(15_000));
    assert_eq!(
        check_code(db, &store, &thanks, Some(refs[0].friend_id), at).await,
        Err("not_for_this_customer")
    );
    db.run_referrals(&store, Timestamp(at.0 + DAY)).await.unwrap();
    write(
        db,
        &store,
        &[with_code(
            order("anna-1", "anna", 100_000, Timestamp::now()),
            &thanks,
        )],
    )
    .await;
    assert_eq!(db.coupon_by_code(&store, &thanks).await.unwrap().unwrap().used, 1);
    assert_eq!(
        check_code(db, &store, &thanks, Some(anna), Timestamp::now()).await,
        Err("usage_limit_reached")
    );

    // A gift of the catalog: one redemption per referral while stock lasts.
    let store = shop(&t, "Gifts", &program()).await;
    let mut tx = db.begin().await.unwrap();
    let scarf = tx
        .create_reward(
            store.id,
            &RewardInput {
                name: "Silk scarf".into(),
                description: None,
                discount: Discount::Gift {
                    description: "a silk scarf".into(),
                },
                points_cost: 2_000,
                min_tier: None,
                per_customer_limit: None,
                stock: Some(1),
                coupon_valid_days: None,
                minimum_spend_minor: 0,
                active: true,
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    db.set_referral_program(
        &store,
        &ReferralProgram {
            advocate_reward: ReferralReward::Gift {
                reward_id: scarf.id.clone(),
            },
            ..program()
        },
        "user:test",
    )
    .await
    .unwrap();
    // A milestone gift not in the catalog is refused by its field, and nothing changes.
    let refused = db
        .set_referral_program(
            &store,
            &ReferralProgram {
                milestones: vec![Milestone {
                    friends: 5,
                    reward: ReferralReward::Gift {
                        reward_id: "no-such-reward".into(),
                    },
                }],
                ..program()
            },
            "user:test",
        )
        .await;
    match refused {
        Err(StoreError::Invalid(e)) => assert_eq!(
            (e.field.as_str(), e.code),
            ("milestones[0].reward.reward_id", "unknown_reward")
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let kept = db.referral_program(store.id).await.unwrap().program;
    assert!(kept.milestones.is_empty());
    assert!(matches!(kept.advocate_reward, ReferralReward::Gift { .. }));
    let (bina, code) = advocate(db, &store, "bina", "Bina").await;
    let refs = friends(db, &store, &code, "gf", 2).await;
    let report = db.run_referrals(&store, after_window(&refs[1])).await.unwrap();
    assert_eq!((report.rewarded, report.unrewarded), (1, 1));
    let given = db.referral(store.id, &refs[0].id).await.unwrap();
    assert_eq!(given.status, ReferralStatus::Rewarded);
    let reward = given.advocate_reward.unwrap();
    assert_eq!(
        (reward["kind"].as_str(), reward["reward_id"].as_str()),
        (Some("gift"), Some(scarf.id.as_str()))
    );
    let redemptions = db.redemptions(store.id, Some(bina), 10).await.unwrap();
    assert_eq!(redemptions.len(), 1);
    assert_eq!(redemptions[0].reward_id, scarf.id);
    assert_eq!(redemptions[0].cause, format!("referral:{}:advocate", refs[0].id));
    assert_eq!(reward["code"].as_str(), redemptions[0].coupon_code.as_deref());
    let out_of_stock = db.referral(store.id, &refs[1].id).await.unwrap();
    assert_eq!(out_of_stock.status, ReferralStatus::Qualified);
    assert_eq!(
        out_of_stock.advocate_reward.unwrap()["skipped"],
        "gift_unavailable"
    );
    db.run_referrals(&store, Timestamp(after_window(&refs[1]).0 + DAY))
        .await
        .unwrap();
    assert_eq!(db.redemptions(store.id, Some(bina), 10).await.unwrap().len(), 1);

    // Points while the loyalty program is off: qualified, and why nothing was given.
    let store = shop(&t, "No loyalty", &program()).await;
    db.set_loyalty_program(store.id, &Program::default(), "user:test")
        .await
        .unwrap();
    let (chitra, code) = advocate(db, &store, "chitra", "Chitra").await;
    let refs = friends(db, &store, &code, "lo", 1).await;
    let report = db.run_referrals(&store, after_window(&refs[0])).await.unwrap();
    assert_eq!((report.qualified, report.rewarded, report.unrewarded), (1, 0, 1));
    let r = db.referral(store.id, &refs[0].id).await.unwrap();
    assert_eq!(r.status, ReferralStatus::Qualified);
    assert_eq!(r.advocate_reward.unwrap()["skipped"], "loyalty_off");
    assert_eq!(referral_points(db, &store, chitra).await, (0, 0));
}

async fn duplicate_deliveries_make_one_referral_and_one_reward(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let (anna, code) = advocate(&t.db, &store, "anna", "Anna").await;
    let o = Arc::new(with_code(
        order("D-1", "dup", 90_000, Timestamp(Timestamp::now().0 - HOUR)),
        &code,
    ));
    let db = Arc::new(t.db.clone());
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (db, store, o) = (db.clone(), store.clone(), o.clone());
        tasks.push(tokio::spawn(async move {
            db.upsert_orders_crediting(&store, std::slice::from_ref(&*o), "webhook", false)
                .await
                .unwrap()
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap()[0].id.to_string());
    }
    assert_eq!(ids.len(), 1, "one order");
    let all = db.referrals(store.id, &ReferralFilter::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(events(&db, &store, anna, "referral_created").await.len(), 1);
    let at = after_window(&all[0]);
    let (a, b) = tokio::join!(db.run_referrals(&store, at), db.run_referrals(&store, at));
    assert_eq!(a.unwrap().rewarded + b.unwrap().rewarded, 1);
    assert_eq!(referral_points(&db, &store, anna).await, (1, 500));
}

async fn stores_never_see_each_others_referrals(backend: Backend) {
    let t = TestDb::new(backend).await;
    let db = &t.db;
    let a = shop(&t, "Store A", &program()).await;
    let b = shop(&t, "Store B", &program()).await;
    let (_, code) = advocate(db, &a, "anna", "Anna").await;
    let refs = friends(db, &a, &code, "fa", 1).await;
    // Store B's customer brings store A's code.
    let (stranger, _) = write(
        db,
        &b,
        &[with_code(
            order("B-1", "stranger", 70_000, Timestamp::now()),
            &code,
        )],
    )
    .await;
    assert!(db
        .referrals(b.id, &ReferralFilter::default())
        .await
        .unwrap()
        .is_empty());
    assert!(db
        .customer_referrals(b.id, stranger)
        .await
        .unwrap()
        .referred_by
        .is_none());
    assert!(matches!(
        db.referral(b.id, &refs[0].id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(db.referral_code_owner(b.id, &code).await.unwrap().is_none());
    assert_eq!(
        db.run_referrals(&b, after_window(&refs[0]))
            .await
            .unwrap()
            .qualified,
        0
    );
    assert_eq!(
        db.referral(a.id, &refs[0].id).await.unwrap().status,
        ReferralStatus::Pending
    );
    assert_eq!(
        db.referrals(a.id, &ReferralFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Referrals that arrived in the same millisecond (one import of orders placed at once) page
/// through the list each exactly once.
async fn pages_of_referrals_neither_skip_nor_repeat(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = &t.db;
    let (_, code) = advocate(db, &store, "anna", "Anna").await;
    let at = Timestamp(Timestamp::now().0 - DAY);
    let batch: Vec<OrderInput> = (0..5)
        .map(|i| with_code(order(&format!("P-{i}"), &format!("pf-{i}"), 70_000, at), &code))
        .collect();
    write(db, &store, &batch).await;
    let mut seen = Vec::new();
    let mut filter = ReferralFilter {
        limit: Some(2),
        ..ReferralFilter::default()
    };
    loop {
        let page = db.referrals(store.id, &filter).await.unwrap();
        seen.extend(page.iter().map(|r| r.id.clone()));
        match page.last() {
            Some(last) if page.len() == 2 => {
                let cursor = ReferralCursor::after(last);
                assert_eq!(ReferralCursor::parse(&cursor.to_string()).unwrap(), cursor);
                filter.before = Some(cursor);
            }
            _ => break,
        }
    }
    let distinct: HashSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), distinct.len()), (5, 5), "{seen:?}");
    // A time alone lists what came before it.
    filter.before = Some(ReferralCursor::before_time(Timestamp(at.0 + 1)));
    filter.limit = None;
    assert_eq!(db.referrals(store.id, &filter).await.unwrap().len(), 5);
    filter.before = Some(ReferralCursor::before_time(at));
    assert!(db.referrals(store.id, &filter).await.unwrap().is_empty());
    for bad in ["", "12", "x.abc", "12.", "12.a b"] {
        assert!(ReferralCursor::parse(bad).is_err(), "{bad}");
    }
}

async fn order_signals_are_kept_as_hashes_only(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = &t.db;
    let (_, code) = advocate(db, &store, "anna", "Anna").await;
    let raw = [
        "203.0.113.77",
        "Mozilla/5.0 (Linux; Android 14) SilkBrowser",
        "in|500034|8293road2banjarahills",
        "visa:424242:4242",
    ];
    let mut o = with_code(order("S-1", "sita", 70_000, Timestamp::now()), &code);
    o.signals.browser_ip = Some(raw[0].into());
    o.signals.device = Some(raw[1].into());
    o.signals.shipping_address = Some(raw[2].into());
    o.signals.payment_fingerprint = Some(raw[3].into());
    let (sita, order_id) = write(db, &store, &[o]).await;
    db.record_referral_visit(store.id, &code, Some(raw[0]), Some(raw[1]), Timestamp::now())
        .await
        .unwrap();
    let sql =
        format!("SELECT kind, value_hash FROM order_signals WHERE order_id = '{order_id}' ORDER BY kind");
    let rows: Vec<(String, String)> = match db {
        Db::Sqlite(p) => sqlx::query_as(&sql).fetch_all(p).await.unwrap(),
        Db::Pg(p) => sqlx::query_as(&sql).fetch_all(p).await.unwrap(),
    };
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    // IP addresses and devices only count in bursts: they stay on the referral, not per order.
    assert_eq!(kinds, ["address", "payment"]);
    for (_, h) in &rows {
        assert!(h.len() == 32 && h.chars().all(|c| c.is_ascii_hexdigit()), "{h}");
    }
    // Nothing of the raw values anywhere in the tables that keep signals.
    let dump = "SELECT COALESCE(order_id, '') || ' ' || kind || ' ' || COALESCE(customer_id, '') || ' ' || value_hash FROM order_signals \
                UNION ALL SELECT COALESCE(ip_hash, '') || ' ' || COALESCE(device_hash, '') || ' ' || findings FROM referrals \
                UNION ALL SELECT code || ' ' || COALESCE(ip_hash, '') || ' ' || COALESCE(device_hash, '') FROM referral_visits";
    let text: Vec<String> = match db {
        Db::Sqlite(p) => sqlx::query_scalar(dump).fetch_all(p).await.unwrap(),
        Db::Pg(p) => sqlx::query_scalar(dump).fetch_all(p).await.unwrap(),
    };
    assert!(text.len() >= 4, "{text:?}");
    let text = text.join("\n").to_lowercase();
    for value in raw {
        assert!(!text.contains(&value.to_lowercase()), "{value} is stored as is");
    }
    for part in ["203.0.113", "mozilla", "banjara", "424242"] {
        assert!(!text.contains(part), "{part} is stored");
    }
    // The referral carries the order's IP address and device hashes, equal to those of a
    // landing from the same address and device (so bursts count both).
    let r = referral_of(db, &store, sita).await;
    let referral_sql = format!("SELECT ip_hash, device_hash FROM referrals WHERE id = '{}'", r.id);
    let visit_sql = "SELECT ip_hash, device_hash FROM referral_visits";
    type Hashes = (Option<String>, Option<String>);
    let (on_referral, on_visit): (Hashes, Hashes) = match db {
        Db::Sqlite(p) => (
            sqlx::query_as(&referral_sql).fetch_one(p).await.unwrap(),
            sqlx::query_as(visit_sql).fetch_one(p).await.unwrap(),
        ),
        Db::Pg(p) => (
            sqlx::query_as(&referral_sql).fetch_one(p).await.unwrap(),
            sqlx::query_as(visit_sql).fetch_one(p).await.unwrap(),
        ),
    };
    assert!(on_referral.0.is_some() && on_referral.1.is_some());
    assert_eq!(on_referral, on_visit);
}

async fn a_code_asked_while_the_friends_order_is_written_never_deadlocks(backend: Backend) {
    let (t, store) = setup(backend, program()).await;
    let db = Arc::new(t.db.clone());
    let store = Arc::new(store);
    let (_, code) = advocate(&db, &store, "anna", "Anna").await;
    let mut people = Vec::new();
    for i in 0..24 {
        people.push(person(&db, &store, &format!("both-{i}"), "Hasmik").await);
    }
    // Each friend asks for their own code while their referred first order is being written.
    let mut tasks = Vec::new();
    for (i, id) in people.iter().copied().enumerate() {
        let (db1, store1) = (db.clone(), store.clone());
        tasks.push(tokio::spawn(async move {
            db1.referral_code(&store1, id).await.map(|c| Some(c.code))
        }));
        let (db2, store2) = (db.clone(), store.clone());
        let o = with_code(
            order(
                &format!("both-{i}-1"),
                &format!("both-{i}"),
                30_000,
                Timestamp::now(),
            ),
            &code,
        );
        tasks.push(tokio::spawn(async move {
            db2.upsert_orders(&store2, &[o], "webhook").await.map(|_| None)
        }));
    }
    let mut codes = HashSet::new();
    for task in tasks {
        if let Some(code) = task.await.unwrap().expect("a code and an order never deadlock") {
            assert!(codes.insert(code));
        }
    }
    assert_eq!(codes.len(), 24);
    let referred = db.referrals(store.id, &ReferralFilter::default()).await.unwrap();
    assert_eq!(referred.len(), 24);
}

on_both_backends!(
    a_code_asked_while_the_friends_order_is_written_never_deadlocks,
    codes_are_readable_unique_and_first_order_coupons,
    a_friends_first_order_rewards_both_sides_once,
    the_shops_signal_and_the_share_link_attribute_too,
    a_small_first_order_waits_for_a_qualifying_one,
    refunds_and_cancellations_inside_the_window_cancel_but_not_after,
    every_fraud_rule_names_itself,
    bursts_from_one_address_and_busy_advocates_go_to_review,
    bursts_count_around_each_arrival,
    staff_decide_the_review_queue_once,
    caps_hold_back_rewards_and_milestones_come_once,
    each_kind_of_reward_is_given_or_says_why_not,
    duplicate_deliveries_make_one_referral_and_one_reward,
    stores_never_see_each_others_referrals,
    order_signals_are_kept_as_hashes_only,
    pages_of_referrals_neither_skip_nor_repeat,
);
