//! The coupon engine's promises, on SQLite and PostgreSQL: unique generation, all-or-nothing
//! imports, every refusal, reservations that expire, one winner for the last use, and orders
//! that redeem once and give the use back when cancelled or refunded.

use std::collections::HashSet;
use std::sync::Arc;

use regulars_domain::{
    Cart, CartLine, CodeGenerator, Currency, CustomerId, CustomerInput, Discount, Email, FinancialStatus,
    Locale, RefundInput, Refusal, Source, TimeZone, Timestamp,
};
use regulars_store::{
    CouponFilter, CouponImport, CouponIssue, CouponStatus, CouponTerms, Db, NewBatch, ReserveOutcome,
    StoreRecord,
};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend, TestDb};

async fn shop(db: &Db, name: &str, currency: Currency) -> StoreRecord {
    db.create_store(
        name,
        currency,
        TimeZone::parse("Asia/Kolkata").unwrap(),
        Locale::parse("hi-IN").unwrap(),
    )
    .await
    .unwrap()
}

fn cart(lines: &[(&str, &str, i64, i64)]) -> Cart {
    Cart {
        currency: Currency::INR,
        lines: lines
            .iter()
            .map(|(sku, category, quantity, unit_price)| CartLine {
                product_id: None,
                sku: Some(sku.to_string()),
                category: Some(category.to_string()),
                tags: vec![],
                quantity: *quantity,
                unit_price: *unit_price,
            })
            .collect(),
        shipping: 5_000,
    }
}

fn tea_cart() -> Cart {
    cart(&[("TEA-ASSAM", "tea", 2, 40_000), ("MUG", "kitchen", 1, 20_000)])
}

fn terms(discount: Discount) -> CouponTerms {
    CouponTerms {
        discount,
        starts_at: None,
        expires_at: None,
        minimum_spend: 0,
        scope: Default::default(),
        customer_id: None,
        usage_limit: Some(1),
        per_customer_limit: None,
        stackable: false,
        first_order_only: false,
    }
}

/// One coupon with `code`, imported so its code is known.
async fn one_coupon(db: &Db, store: &StoreRecord, csv: &str) {
    let mut tx = db.begin().await.unwrap();
    match tx.import_coupons(store, "test", csv.as_bytes()).await.unwrap() {
        CouponImport::Imported(_) => tx.commit().await.unwrap(),
        CouponImport::Rejected(errors) => panic!("{errors:?}"),
    }
}

async fn customer(db: &Db, store: &StoreRecord, ext: &str) -> CustomerId {
    db.upsert_customer(
        store.id,
        Source::Api,
        &CustomerInput {
            external_id: Some(ext.into()),
            email: Some(Email::parse(&format!("{ext}@example.in")).unwrap()),
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap()
    .0
}

async fn used(db: &Db, store: &StoreRecord, code: &str) -> (i64, i64) {
    let c = db
        .coupon_by_code(store, code)
        .await
        .unwrap()
        .expect("the coupon exists");
    (c.used, c.reserved)
}

async fn ten_thousand_generated_codes_are_unique_and_match_their_pattern(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Diwali Mithai", Currency::INR).await;
    let batch = NewBatch {
        name: "Diwali 2025".into(),
        count: 10_000,
        prefix: None,
        pattern: Some("DIWALI-####-????".into()),
        length: None,
        charset: None,
        terms: terms(Discount::Percent { basis_points: 1_000 }),
    };
    let mut tx = t.db.begin().await.unwrap();
    let made = tx.create_coupon_batch(&store, &batch).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((made.code_count, made.kind.as_str()), (10_000, "generated"));

    let pattern = CodeGenerator::new(None, Some("DIWALI-####-????"), None, None).unwrap();
    let mut codes = HashSet::new();
    let mut after = None;
    loop {
        let page =
            t.db.coupons(
                &store,
                &CouponFilter {
                    batch_id: Some(made.id.clone()),
                    after: after.clone(),
                    limit: 3_000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for c in page {
            assert!(pattern.matches(&c.code), "{} does not match the pattern", c.code);
            assert!(!c.code[7..].contains(['0', 'O', '1', 'I', 'L']), "{}", c.code);
            assert_eq!(c.status, CouponStatus::Active);
            codes.insert(c.code);
        }
    }
    assert_eq!(codes.len(), 10_000, "every code distinct and listed once");

    // A second batch of the same pattern never repeats a code of the first.
    let mut tx = t.db.begin().await.unwrap();
    let second = tx
        .create_coupon_batch(
            &store,
            &NewBatch {
                count: 2_000,
                ..batch.clone()
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let again =
        t.db.coupons(
            &store,
            &CouponFilter {
                batch_id: Some(second.id),
                limit: 5_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.len(), 2_000);
    assert!(again.iter().all(|c| !codes.contains(&c.code)));

    // A pattern too small for the count is refused before anything is written.
    let mut tx = t.db.begin().await.unwrap();
    let err = tx
        .create_coupon_batch(
            &store,
            &NewBatch {
                pattern: Some("X-##".into()),
                count: 10,
                ..batch
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pattern"), "{err}");
}

async fn an_import_reports_every_bad_row_by_line_and_writes_nothing(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Kirana", Currency::INR).await;
    one_coupon(&t.db, &store, "code,discount_type,value\nOLDCODE,fixed,50\n").await;
    let stranger = CustomerId::new();
    let file = format!(
        "code,discount_type,value,expires_at,minimum_spend,usage_limit,customer_id,stackable,skus\n\
         GOOD-1,fixed,100.00,2030-01-01,500,1,,no,\n\
         GOOD-2,percent,12.5,,,,,yes,TEA;MUG\n\
         bad code,fixed,10,,,,,,\n\
         GOOD-1,fixed,10,,,,,,\n\
         PCT-X,percent,120,,,,,,\n\
         WHEN,fixed,10,someday,,,,,\n\
         LIMIT,fixed,10,,,0,,,\n\
         oldcode,fixed,10,,,,,,\n\
         WHO,fixed,10,,,,{stranger},,\n\
         KIND,bogus,10,,,,,,\n\
         SHORT,fixed\n\
         STACK,fixed,10,,,,,maybe,\n"
    );
    let mut tx = t.db.begin().await.unwrap();
    let CouponImport::Rejected(errors) = tx
        .import_coupons(&store, "spring", file.as_bytes())
        .await
        .unwrap()
    else {
        panic!("a file with bad rows is refused");
    };
    tx.rollback().await.unwrap();
    let got: Vec<(u64, &str, &str)> = errors
        .iter()
        .map(|e| (e.line, e.field.as_str(), e.code))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, "code", "invalid_code"),
            (5, "code", "duplicate_code"),
            (6, "value", "invalid_percent"),
            (7, "expires_at", "invalid_timestamp"),
            (8, "usage_limit", "invalid_limit"),
            (9, "code", "code_exists"),
            (10, "customer_id", "unknown_customer"),
            (11, "discount_type", "invalid_discount_type"),
            (12, "row", "wrong_field_count"),
            (13, "stackable", "invalid_boolean"),
        ],
        "{errors:#?}"
    );
    assert!(errors[1].message.contains("line 2"), "{}", errors[1].message);
    assert!(
        t.db.coupon_by_code(&store, "GOOD-1").await.unwrap().is_none(),
        "nothing half-written"
    );
    assert_eq!(t.db.coupon_batches(&store).await.unwrap().len(), 1);

    // The good rows alone go in, with their terms read in the store's currency and zone.
    let good: String = file.lines().take(3).map(|l| format!("{l}\n")).collect();
    one_coupon(&t.db, &store, &good).await;
    let g1 = t.db.coupon_by_code(&store, "good-1").await.unwrap().unwrap();
    assert_eq!(g1.discount, Discount::Fixed { amount: 10_000 });
    assert_eq!(g1.minimum_spend, 50_000);
    assert_eq!(g1.expires_at.unwrap().to_rfc3339(), "2029-12-31T18:30:00.000Z");
    assert_eq!((g1.usage_limit, g1.stackable), (Some(1), false));
    let g2 = t.db.coupon_by_code(&store, "GOOD-2").await.unwrap().unwrap();
    assert_eq!(g2.discount, Discount::Percent { basis_points: 1_250 });
    assert_eq!((g2.usage_limit, g2.stackable), (None, true));
    assert_eq!(g2.scope.skus, vec!["TEA".to_string(), "MUG".to_string()]);

    let mut tx = t.db.begin().await.unwrap();
    let CouponImport::Rejected(errors) = tx
        .import_coupons(&store, "x", b"coupon,amount\nA,1\n")
        .await
        .unwrap()
    else {
        panic!("unknown columns are refused");
    };
    assert!(errors.iter().all(|e| e.line == 1), "{errors:?}");
    assert!(errors
        .iter()
        .any(|e| e.code == "missing_column" && e.field == "code"));
}

async fn every_refusal_has_its_code(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Chai", Currency::INR).await;
    let priya = customer(&t.db, &store, "priya").await;
    let ravi = customer(&t.db, &store, "ravi").await;
    let file = format!(
        "code,discount_type,value,starts_at,expires_at,minimum_spend,usage_limit,per_customer_limit,customer_id,stackable,skus\n\
         OLD,fixed,10,,2020-01-01,,,,,,\n\
         SOON,fixed,10,2099-01-01,,,,,,,\n\
         BIG,fixed,10,,,5000,,,,,\n\
         ONCE,fixed,10,,,,1,,,,\n\
         PRIYA,fixed,10,,,,,,{priya},,\n\
         EACH,fixed,10,,,,,1,,yes,\n\
         EXCL-A,percent,10,,,,,,,no,\n\
         EXCL-B,fixed,10,,,,,,,no,\n\
         SPOON,fixed,10,,,,,,,yes,SPOON\n"
    );
    one_coupon(&t.db, &store, &file).await;
    // ONCE's only use goes to an order; EACH was used once by Ravi.
    let mut order = paid_order("o-1", "ravi", Currency::INR, 10_000, Timestamp::now());
    order.discount_codes = vec!["once".into(), "Each".into()];
    t.db.upsert_orders(&store, &[order], "test").await.unwrap();

    let now = Timestamp::now();
    let check = |codes: &[&str], who: Option<CustomerId>| {
        let db = t.db.clone();
        let store = store.clone();
        let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        async move {
            db.validate_coupons(&store, &tea_cart(), &codes, who, now)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.result.map_err(Refusal::code))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(check(&["old"], None).await, vec![Err("coupon_expired")]);
    assert_eq!(check(&["SOON"], None).await, vec![Err("coupon_not_started")]);
    assert_eq!(check(&["BIG"], None).await, vec![Err("minimum_spend_not_met")]);
    assert_eq!(check(&["ONCE"], None).await, vec![Err("usage_limit_reached")]);
    assert_eq!(
        check(&["PRIYA"], Some(ravi)).await,
        vec![Err("not_for_this_customer")]
    );
    assert_eq!(check(&["PRIYA"], None).await, vec![Err("not_for_this_customer")]);
    assert_eq!(check(&["PRIYA"], Some(priya)).await, vec![Ok(1_000)]);
    assert_eq!(
        check(&["EACH"], Some(ravi)).await,
        vec![Err("customer_limit_reached")]
    );
    assert_eq!(check(&["EACH"], None).await, vec![Err("customer_required")]);
    assert_eq!(check(&["EACH"], Some(priya)).await, vec![Ok(1_000)]);
    assert_eq!(check(&["SPOON"], None).await, vec![Err("no_eligible_items")]);
    assert_eq!(check(&["NOPE-NOPE"], None).await, vec![Err("unknown_coupon")]);
    assert_eq!(check(&["not a code!"], None).await, vec![Err("unknown_coupon")]);
    // 10 % of 1,000.00, then the second exclusive coupon is refused; a stackable one still
    // applies, and the same code twice counts once.
    assert_eq!(
        check(&["EXCL-A", "EXCL-B", "EACH", "excl-a"], Some(priya)).await,
        vec![Ok(10_000), Err("not_stackable"), Ok(1_000), Err("duplicate_code")]
    );

    let mut usd = tea_cart();
    usd.currency = Currency::USD;
    let err =
        t.db.validate_coupons(&store, &usd, &["OLD".into()], None, now)
            .await
            .unwrap_err();
    assert!(err.to_string().starts_with("cart.currency"), "{err}");
}

async fn a_reservation_holds_a_use_until_it_expires(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Chai", Currency::INR).await;
    one_coupon(
        &t.db,
        &store,
        "code,discount_type,value,usage_limit\nLAST,fixed,100,1\n",
    )
    .await;
    let now = Timestamp::now();
    let reserve = |at: Timestamp| {
        let db = t.db.clone();
        let store = store.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            let out = tx
                .reserve_coupon(&store, "last", &tea_cart(), None, 60, at)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            out
        }
    };
    let ReserveOutcome::Reserved(held) = reserve(now).await else {
        panic!("the first checkout gets the use");
    };
    assert_eq!(held.discount, 10_000);
    assert_eq!(held.expires_at, Timestamp(now.0 + 60_000));
    assert!(matches!(
        reserve(Timestamp(now.0 + 59_999)).await,
        ReserveOutcome::Refused(Refusal::UsageLimitReached)
    ));
    let answer =
        t.db.validate_coupons(&store, &tea_cart(), &["LAST".into()], None, Timestamp(now.0 + 1))
            .await
            .unwrap();
    assert_eq!(answer[0].result, Err(Refusal::UsageLimitReached));
    // Past its TTL the use is free again, without any sweep.
    assert!(matches!(
        reserve(Timestamp(now.0 + 60_000)).await,
        ReserveOutcome::Reserved(_)
    ));

    // Released, a reservation gives its use back at once; a second release finds nothing.
    let later = Timestamp(now.0 + 200_000);
    let ReserveOutcome::Reserved(second) = reserve(later).await else {
        panic!("free again after the expiry");
    };
    let mut tx = t.db.begin().await.unwrap();
    assert!(tx.release_coupon_reservation(&store, &second.id).await.unwrap());
    assert!(!tx.release_coupon_reservation(&store, &second.id).await.unwrap());
    tx.commit().await.unwrap();
    assert!(matches!(reserve(later).await, ReserveOutcome::Reserved(_)));

    let mut tx = t.db.begin().await.unwrap();
    let err = tx
        .reserve_coupon(&store, "LAST", &tea_cart(), None, 0, now)
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("ttl_seconds"), "{err}");
}

async fn two_checkouts_racing_for_the_last_use_one_wins(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Chai", Currency::INR).await;
    one_coupon(
        &t.db,
        &store,
        "code,discount_type,value,usage_limit\nRACE,fixed,100,3\n",
    )
    .await;
    // Two of three uses are gone: one redeemed, one reserved.
    let mut order = paid_order("o-1", "asha", Currency::INR, 10_000, Timestamp::now());
    order.discount_codes = vec!["RACE".into()];
    t.db.upsert_orders(&store, &[order], "test").await.unwrap();
    let mut tx = t.db.begin().await.unwrap();
    let first = tx
        .reserve_coupon(&store, "RACE", &tea_cart(), None, 600, Timestamp::now())
        .await
        .unwrap();
    assert!(matches!(first, ReserveOutcome::Reserved(_)));
    tx.commit().await.unwrap();

    // Eight checkouts at once, for the last use of RACE and then for the only use of ten
    // fresh single-use codes: exactly one wins each time.
    let race = |code: String| {
        let db = t.db.clone();
        let store = store.clone();
        async move {
            let barrier = Arc::new(tokio::sync::Barrier::new(8));
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (db, store, barrier, code) =
                        (db.clone(), store.clone(), barrier.clone(), code.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        let mut tx = db.begin().await.unwrap();
                        let out = tx
                            .reserve_coupon(&store, &code, &tea_cart(), None, 600, Timestamp::now())
                            .await
                            .unwrap();
                        tx.commit().await.unwrap();
                        matches!(out, ReserveOutcome::Reserved(_))
                    })
                })
                .collect();
            let mut winners = 0;
            for task in tasks {
                winners += task.await.unwrap() as i32;
            }
            winners
        }
    };
    assert_eq!(race("RACE".into()).await, 1);
    assert_eq!(race("RACE".into()).await, 0, "nothing left");
    let singles: String = (0..10).map(|n| format!("SINGLE-{n},fixed,100,1\n")).collect();
    one_coupon(
        &t.db,
        &store,
        &format!("code,discount_type,value,usage_limit\n{singles}"),
    )
    .await;
    for n in 0..10 {
        assert_eq!(race(format!("SINGLE-{n}")).await, 1, "SINGLE-{n}");
        assert_eq!(used(&t.db, &store, &format!("SINGLE-{n}")).await, (0, 1));
    }
    assert_eq!(used(&t.db, &store, "RACE").await, (1, 2));
}

async fn orders_redeem_once_and_give_the_use_back_when_cancelled_or_refunded(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Chai", Currency::INR).await;
    one_coupon(
        &t.db,
        &store,
        "code,discount_type,value,usage_limit\nDIWALI10,fixed,100,5\n",
    )
    .await;
    let asha = customer(&t.db, &store, "asha").await;

    // Asha reserves at checkout, then her order arrives naming the code in lower case beside
    // one of the shop's own codes.
    let mut tx = t.db.begin().await.unwrap();
    let reserved = tx
        .reserve_coupon(&store, "DIWALI10", &tea_cart(), Some(asha), 600, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(reserved, ReserveOutcome::Reserved(_)));
    assert_eq!(used(&t.db, &store, "DIWALI10").await, (0, 1));
    let mut order = paid_order("o-1", "asha", Currency::INR, 80_000, Timestamp::now());
    order.discount_codes = vec!["diwali10".into(), "SHOPIFY-OWN".into()];
    t.db.upsert_orders(&store, std::slice::from_ref(&order), "test")
        .await
        .unwrap();
    assert_eq!(
        used(&t.db, &store, "DIWALI10").await,
        (1, 0),
        "the reservation became the use"
    );

    // The same order again (a webhook retry with a change, a re-import) counts once.
    order.note = Some("gift wrap".into());
    t.db.upsert_orders(&store, std::slice::from_ref(&order), "test")
        .await
        .unwrap();
    t.db.upsert_orders(&store, std::slice::from_ref(&order), "test")
        .await
        .unwrap();
    assert_eq!(used(&t.db, &store, "DIWALI10").await, (1, 0));
    let hers = t.db.customer_coupons(&store, asha).await.unwrap();
    assert_eq!(hers.len(), 1);
    assert_eq!((hers[0].code.as_str(), hers[0].customer_used), ("DIWALI10", 1));

    // A partial refund keeps the use; the refund that completes the total gives it back.
    let refund = |id: &str, amount: i64| {
        let db = t.db.clone();
        let store = store.clone();
        let input = RefundInput {
            external_id: id.into(),
            created_at: Timestamp::now(),
            amount,
            reason: None,
            lines: vec![],
        };
        async move {
            let mut tx = db.begin().await.unwrap();
            tx.add_refund(&store, Source::Api, "o-1", &input).await.unwrap();
            tx.commit().await.unwrap();
        }
    };
    refund("r-1", 30_000).await;
    assert_eq!(used(&t.db, &store, "DIWALI10").await, (1, 0));
    refund("r-2", 50_000).await;
    assert_eq!(used(&t.db, &store, "DIWALI10").await, (0, 0));
    // Re-sending the refunded order does not redeem it again.
    order.financial_status = FinancialStatus::Refunded;
    order.note = None;
    t.db.upsert_orders(&store, std::slice::from_ref(&order), "test")
        .await
        .unwrap();
    assert_eq!(used(&t.db, &store, "DIWALI10").await, (0, 0));

    // Cancellation gives the use back too; a later copy of the order does not take it again.
    let mut other = paid_order("o-2", "ravi", Currency::INR, 50_000, Timestamp::now());
    other.discount_codes = vec!["DIWALI10".into()];
    t.db.upsert_orders(&store, std::slice::from_ref(&other), "test")
        .await
        .unwrap();
    assert_eq!(used(&t.db, &store, "DIWALI10").await, (1, 0));
    other.cancelled_at = Some(Timestamp::now());
    t.db.upsert_orders(&store, std::slice::from_ref(&other), "test")
        .await
        .unwrap();
    assert_eq!(used(&t.db, &store, "DIWALI10").await, (0, 0));
    // An order that arrives already cancelled never takes a use.
    let mut cancelled = paid_order("o-3", "ravi", Currency::INR, 50_000, Timestamp::now());
    cancelled.discount_codes = vec!["DIWALI10".into()];
    cancelled.cancelled_at = Some(Timestamp::now());
    t.db.upsert_orders(&store, &[cancelled], "test").await.unwrap();
    assert_eq!(used(&t.db, &store, "DIWALI10").await, (0, 0));
}

/// One batch of orders sharing a coupon: every order is one use, and each takes the buyer's
/// own reservation before an anonymous one (the oldest first); a buyer without one of their own
/// takes an anonymous one, never someone else's.
async fn a_batch_of_orders_redeems_each_use_and_its_own_reservation(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Chai", Currency::INR).await;
    one_coupon(
        &t.db,
        &store,
        "code,discount_type,value,usage_limit
TEAM5,fixed,100,10
",
    )
    .await;
    let asha = customer(&t.db, &store, "asha").await;
    let ravi = customer(&t.db, &store, "ravi").await;
    let now = Timestamp::now();
    let mut tx = t.db.begin().await.unwrap();
    let mut held = Vec::new();
    // Oldest first: an anonymous hold, Ravi's, Asha's, another anonymous one.
    for (i, who) in [None, Some(ravi), Some(asha), None].into_iter().enumerate() {
        let ReserveOutcome::Reserved(r) = tx
            .reserve_coupon(
                &store,
                "TEAM5",
                &tea_cart(),
                who,
                600,
                Timestamp(now.0 + i as i64),
            )
            .await
            .unwrap()
        else {
            panic!("reserved");
        };
        held.push(r.id);
    }
    tx.commit().await.unwrap();
    assert_eq!(used(&t.db, &store, "TEAM5").await, (0, 4));

    // Asha's and a guest's order in one batch, the same order twice besides.
    let mut orders = Vec::new();
    for (ext, buyer) in [("b-1", "asha"), ("b-2", "meena"), ("b-1", "asha")] {
        let mut o = paid_order(ext, buyer, Currency::INR, 50_000, now);
        o.discount_codes = vec!["team5".into()];
        orders.push(o);
    }
    t.db.upsert_orders(&store, &orders, "test").await.unwrap();
    assert_eq!(
        used(&t.db, &store, "TEAM5").await,
        (2, 2),
        "two uses, two holds taken"
    );
    // What is left: Ravi's hold and the newer anonymous one (Asha's own went before the older
    // anonymous one, which Meena took).
    let mut tx = t.db.begin().await.unwrap();
    assert!(
        tx.release_coupon_reservation(&store, &held[1]).await.unwrap(),
        "Ravi's is left"
    );
    assert!(
        tx.release_coupon_reservation(&store, &held[3]).await.unwrap(),
        "the newer guest hold is left"
    );
    assert!(!tx.release_coupon_reservation(&store, &held[0]).await.unwrap());
    assert!(!tx.release_coupon_reservation(&store, &held[2]).await.unwrap());
    tx.commit().await.unwrap();

    // The batch again changes nothing.
    t.db.upsert_orders(&store, &orders, "test").await.unwrap();
    assert_eq!(used(&t.db, &store, "TEAM5").await, (2, 0));
}

async fn issued_coupons_are_bound_and_listed_for_their_customer(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Chai", Currency::INR).await;
    let asha = customer(&t.db, &store, "asha").await;
    let issue = CouponIssue {
        prefix: Some("rwd-".into()),
        discount: Discount::FreeShipping,
        customer_id: Some(asha),
        expires_at: Some(Timestamp(Timestamp::now().0 + 86_400_000)),
        minimum_spend: 0,
        usage_limit: Some(1),
        per_customer_limit: None,
        first_order_only: false,
        origin: "reward:r-1".into(),
    };
    let mut tx = t.db.begin().await.unwrap();
    let a = tx.issue_coupon(&store, &issue).await.unwrap();
    let b = tx.issue_coupon(&store, &issue).await.unwrap();
    tx.commit().await.unwrap();
    assert!(a.code.starts_with("RWD-") && a.code.len() == 12, "{}", a.code);
    assert_ne!(a.code, b.code);
    assert_eq!(
        (a.customer_id, a.origin.as_str(), a.status),
        (Some(asha), "reward:r-1", CouponStatus::Active)
    );
    let listed = t.db.customer_coupons(&store, asha).await.unwrap();
    assert_eq!(listed.len(), 2);
    let answer =
        t.db.validate_coupons(
            &store,
            &tea_cart(),
            std::slice::from_ref(&a.code),
            Some(asha),
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        answer[0].result,
        Ok(5_000),
        "free shipping is worth the cart's shipping"
    );

    let mut tx = t.db.begin().await.unwrap();
    let bad = CouponIssue {
        customer_id: Some(CustomerId::new()),
        ..issue.clone()
    };
    assert!(tx
        .issue_coupon(&store, &bad)
        .await
        .unwrap_err()
        .to_string()
        .starts_with("customer_id"));
    let bad = CouponIssue {
        discount: Discount::Fixed { amount: 0 },
        ..issue
    };
    assert!(tx
        .issue_coupon(&store, &bad)
        .await
        .unwrap_err()
        .to_string()
        .starts_with("discount.amount"));
}

/// A first-orders-only coupon (the friend's side of a referral): a new customer and an
/// anonymous cart may use it, a customer with a standing order may not, and a cancelled order
/// does not count. Batches, imports and issues all carry the flag.
async fn first_order_coupons_refuse_customers_who_ordered_before(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Chai", Currency::INR).await;
    one_coupon(
        &t.db,
        &store,
        "code,discount_type,value,first_order_only
         WELCOME,percent,10,yes
         ANYONE,percent,10,
",
    )
    .await;
    assert!(
        t.db.coupon_by_code(&store, "welcome")
            .await
            .unwrap()
            .unwrap()
            .first_order_only
    );
    assert!(
        !t.db
            .coupon_by_code(&store, "ANYONE")
            .await
            .unwrap()
            .unwrap()
            .first_order_only
    );
    let newcomer = customer(&t.db, &store, "newcomer").await;
    let regular = customer(&t.db, &store, "regular").await;
    let returned = customer(&t.db, &store, "returned").await;
    t.db.upsert_orders(
        &store,
        &[paid_order(
            "o-1",
            "regular",
            Currency::INR,
            10_000,
            Timestamp::now(),
        )],
        "test",
    )
    .await
    .unwrap();
    let mut cancelled = paid_order("o-2", "returned", Currency::INR, 10_000, Timestamp::now());
    cancelled.cancelled_at = Some(Timestamp::now());
    t.db.upsert_orders(&store, &[cancelled], "test").await.unwrap();
    // Orders of another store do not count.
    let other = shop(&t.db, "Tsiran", Currency::INR).await;
    t.db.upsert_orders(
        &other,
        &[paid_order(
            "o-9",
            "newcomer",
            Currency::INR,
            10_000,
            Timestamp::now(),
        )],
        "test",
    )
    .await
    .unwrap();

    let now = Timestamp::now();
    let check = |codes: &[&str], who: Option<CustomerId>| {
        let db = t.db.clone();
        let store = store.clone();
        let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
        async move {
            db.validate_coupons(&store, &tea_cart(), &codes, who, now)
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.result.map_err(Refusal::code))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(check(&["welcome"], Some(newcomer)).await, vec![Ok(10_000)]);
    assert_eq!(check(&["WELCOME"], None).await, vec![Ok(10_000)], "anonymous");
    assert_eq!(
        check(&["WELCOME", "ANYONE"], Some(regular)).await,
        vec![Err("not_first_order"), Ok(10_000)],
        "only the first-orders coupon is refused"
    );
    assert_eq!(
        check(&["WELCOME"], Some(returned)).await,
        vec![Ok(10_000)],
        "a cancelled order does not count"
    );

    // Reserving answers the same.
    let reserve = |who: Option<CustomerId>| {
        let db = t.db.clone();
        let store = store.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            let out = tx
                .reserve_coupon(&store, "welcome", &tea_cart(), who, 60, Timestamp::now())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            match out {
                ReserveOutcome::Reserved(r) => Ok(r.discount),
                ReserveOutcome::Refused(r) => Err(r.code()),
            }
        }
    };
    assert_eq!(reserve(Some(regular)).await, Err("not_first_order"));
    assert_eq!(reserve(Some(newcomer)).await, Ok(10_000));
    assert_eq!(reserve(Some(returned)).await, Ok(10_000));
    assert_eq!(reserve(None).await, Ok(10_000));
    assert_eq!(used(&t.db, &store, "WELCOME").await, (0, 3));

    // A generated batch and an issued coupon carry the flag too.
    let mut tx = t.db.begin().await.unwrap();
    let batch = tx
        .create_coupon_batch(
            &store,
            &NewBatch {
                name: "Friends".into(),
                count: 3,
                prefix: Some("FRIEND-".into()),
                pattern: None,
                length: None,
                charset: None,
                terms: CouponTerms {
                    first_order_only: true,
                    ..terms(Discount::Fixed { amount: 5_000 })
                },
            },
        )
        .await
        .unwrap();
    let issued = tx
        .issue_coupon(
            &store,
            &CouponIssue {
                prefix: Some("HELLO-".into()),
                discount: Discount::FreeShipping,
                customer_id: None,
                expires_at: None,
                minimum_spend: 0,
                usage_limit: None,
                per_customer_limit: None,
                first_order_only: true,
                origin: "test:welcome".into(),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(issued.first_order_only && issued.rules().first_order_only);
    let codes =
        t.db.coupons(
            &store,
            &CouponFilter {
                batch_id: Some(batch.id),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(codes.len(), 3);
    assert!(codes.iter().all(|c| c.first_order_only));
    for code in [codes[0].code.as_str(), issued.code.as_str()] {
        assert_eq!(check(&[code], Some(regular)).await, vec![Err("not_first_order")]);
        assert_eq!(check(&[code], Some(newcomer)).await, vec![Ok(5_000)], "{code}");
    }
}

async fn statuses_filter_the_list(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Chai", Currency::INR).await;
    one_coupon(
        &t.db,
        &store,
        "code,discount_type,value,starts_at,expires_at,usage_limit\n\
         OLD-1,fixed,10,,2020-01-01,\n\
         SOON-1,fixed,10,2099-01-01,,\n\
         FREE-1,fixed,10,,,\n\
         ONCE-1,fixed,10,,,1\n",
    )
    .await;
    let mut order = paid_order("o-1", "asha", Currency::INR, 10_000, Timestamp::now());
    order.discount_codes = vec!["ONCE-1".into()];
    t.db.upsert_orders(&store, &[order], "test").await.unwrap();
    for (status, code) in [
        (CouponStatus::Expired, "OLD-1"),
        (CouponStatus::Scheduled, "SOON-1"),
        (CouponStatus::Active, "FREE-1"),
        (CouponStatus::UsedUp, "ONCE-1"),
    ] {
        let found =
            t.db.coupons(
                &store,
                &CouponFilter {
                    status: Some(status),
                    limit: 100,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let codes: Vec<&str> = found.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, vec![code], "{status:?}");
        assert_eq!(found[0].status, status);
    }
    let batches = t.db.coupon_batches(&store).await.unwrap();
    assert_eq!((batches[0].code_count, batches[0].codes_used), (4, 1));
}

async fn one_store_never_sees_or_redeems_anothers_coupons(backend: Backend) {
    let t = TestDb::new(backend).await;
    let a = shop(&t.db, "Chai", Currency::INR).await;
    let b = shop(&t.db, "Tsiran", Currency::INR).await;
    one_coupon(
        &t.db,
        &a,
        "code,discount_type,value,usage_limit\nMINE,fixed,10,1\n",
    )
    .await;
    assert!(t.db.coupon_by_code(&b, "MINE").await.unwrap().is_none());
    assert!(t
        .db
        .coupons(
            &b,
            &CouponFilter {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty());
    let answer =
        t.db.validate_coupons(&b, &tea_cart(), &["MINE".into()], None, Timestamp::now())
            .await
            .unwrap();
    assert_eq!(answer[0].result, Err(Refusal::UnknownCoupon));
    let mut tx = t.db.begin().await.unwrap();
    let out = tx
        .reserve_coupon(&b, "MINE", &tea_cart(), None, 60, Timestamp::now())
        .await
        .unwrap();
    assert!(matches!(out, ReserveOutcome::Refused(Refusal::UnknownCoupon)));
    tx.commit().await.unwrap();
    let mut order = paid_order("o-1", "asha", Currency::INR, 10_000, Timestamp::now());
    order.discount_codes = vec!["MINE".into()];
    t.db.upsert_orders(&b, &[order], "test").await.unwrap();
    assert_eq!(used(&t.db, &a, "MINE").await, (0, 0));
    // B may have a code of the same spelling: codes are unique per store.
    one_coupon(&t.db, &b, "code,discount_type,value\nMINE,fixed,20\n").await;
    assert_eq!(
        t.db.coupon_by_code(&b, "MINE").await.unwrap().unwrap().discount,
        Discount::Fixed { amount: 2_000 }
    );
}

on_both_backends!(
    ten_thousand_generated_codes_are_unique_and_match_their_pattern,
    an_import_reports_every_bad_row_by_line_and_writes_nothing,
    every_refusal_has_its_code,
    a_reservation_holds_a_use_until_it_expires,
    two_checkouts_racing_for_the_last_use_one_wins,
    orders_redeem_once_and_give_the_use_back_when_cancelled_or_refunded,
    a_batch_of_orders_redeems_each_use_and_its_own_reservation,
    issued_coupons_are_bound_and_listed_for_their_customer,
    first_order_coupons_refuse_customers_who_ordered_before,
    statuses_filter_the_list,
    one_store_never_sees_or_redeems_anothers_coupons,
);
