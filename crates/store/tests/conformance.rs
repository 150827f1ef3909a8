//! The storage conformance suite: every promise of the store crate, proved on SQLite and on a
//! real PostgreSQL server with the same test bodies.

use std::sync::Arc;

use regulars_domain::{
    ConsentChange, ConsentChannel, Currency, CustomerInput, Email, EventInput, Locale, OrderInput, Phone,
    RefundInput, Role, Source, StoreId, TimeZone, Timestamp,
};
use regulars_store::{
    Claim, CustomerFilter, Db, LoginOutcome, OrderFilter, Outcome, SessionLimits, StoreError, StoreRecord,
    StoredReply, MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS,
};
use regulars_testkit::fixtures::{line, paid_order};
use regulars_testkit::{on_both_backends, Backend, TestDb};

async fn shop(db: &Db, name: &str, currency: Currency) -> StoreRecord {
    let zone = TimeZone::parse("Asia/Kolkata").unwrap();
    db.create_store(name, currency, zone, Locale::parse("te-IN").unwrap())
        .await
        .unwrap()
}

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).unwrap()
}

fn customer(external_id: &str, email: &str) -> CustomerInput {
    CustomerInput {
        external_id: Some(external_id.into()),
        email: Some(Email::parse(email).unwrap()),
        first_name: Some("లక్ష్మి".into()),
        ..Default::default()
    }
}

/// An order of two lines whose total is `total` minor units, by a Telugu-named customer.
fn order(external_id: &str, customer_ext: &str, total: i64) -> OrderInput {
    let mut o = paid_order(
        external_id,
        customer_ext,
        Currency::INR,
        total,
        at("2025-10-20T10:00:00+05:30"),
    );
    o.order_number = Some(format!("#{external_id}"));
    o.customer = Some(customer(customer_ext, &format!("{customer_ext}@example.in")));
    o.line_items = vec![
        line("TEA-ASSAM", "Assam tea", 1, total / 2),
        line("TEA-NILGIRI", "నీలగిరి టీ", 1, total - total / 2),
    ];
    o.discount_codes = vec!["DIWALI10".into()];
    o.buyer_accepts_marketing = Some(true);
    o
}

fn refund(external_id: &str, amount: i64) -> RefundInput {
    RefundInput {
        external_id: external_id.into(),
        created_at: at("2025-10-25T09:00:00Z"),
        amount,
        reason: Some("damaged".into()),
        lines: vec![],
    }
}

async fn by_external_id(db: &Db, store: StoreId, external_id: &str) -> regulars_store::CustomerRecord {
    let found = db
        .customers(
            store,
            &CustomerFilter {
                external_id: Some(external_id.into()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "one customer with external id {external_id}");
    found.into_iter().next().unwrap()
}

async fn customers_are_resolved_by_external_id_then_email(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let (id, outcome) =
        t.db.upsert_customer(
            store.id,
            Source::Shopify,
            &customer("820982911946154508", "Lakshmi@Example.IN"),
            "test",
        )
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Created);

    // The same person from WooCommerce, known only by email: one customer, two identities.
    let woo = CustomerInput {
        external_id: Some("41".into()),
        email: Some(Email::parse("lakshmi@example.in").unwrap()),
        phone: Some(Phone::parse("+91 98480 22338").unwrap()),
        ..Default::default()
    };
    let (same, outcome) =
        t.db.upsert_customer(store.id, Source::Woocommerce, &woo, "test")
            .await
            .unwrap();
    assert_eq!(same, id);
    assert_eq!(outcome, Outcome::Updated);
    let stored = t.db.customer(store.id, id).await.unwrap();
    assert_eq!(stored.identities.len(), 2);
    assert!(
        stored
            .identities
            .iter()
            .any(|i| i.source == Source::Shopify && i.external_id == "820982911946154508"),
        "ids above 2^53 are kept exactly: {:?}",
        stored.identities
    );
    assert_eq!(stored.email.as_ref().unwrap().as_str(), "lakshmi@example.in");
    assert_eq!(stored.phone.as_ref().unwrap().as_str(), "+919848022338");
    assert_eq!(
        stored.first_name.as_deref(),
        Some("లక్ష్మి"),
        "a source that omits a name keeps it"
    );

    // Sending the same again changes nothing.
    let (_, outcome) =
        t.db.upsert_customer(store.id, Source::Woocommerce, &woo, "test")
            .await
            .unwrap();
    assert_eq!(outcome, Outcome::Unchanged);
    assert_eq!(by_external_id(&t.db, store.id, "41").await.id, id);
    let by_phone =
        t.db.customers(
            store.id,
            &CustomerFilter {
                phone: Some(Phone::parse("+919848022338").unwrap()),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(by_phone.len(), 1);

    // Nothing identifies this one: refused, nothing written.
    let err =
        t.db.upsert_customer(store.id, Source::Api, &CustomerInput::default(), "test")
            .await
            .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "customer"),
        "{err}"
    );
    let all =
        t.db.customers(
            store.id,
            &CustomerFilter {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

async fn a_partial_update_keeps_what_it_does_not_name(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let mut full = customer("c-1", "ravi@example.in");
    full.last_name = Some("Kumar".into());
    full.tags = Some(vec!["vip".into(), "wholesale".into()]);
    full.note = Some("prefers Telugu".into());
    let (id, _) =
        t.db.upsert_customer(store.id, Source::Api, &full, "test")
            .await
            .unwrap();

    let patch = CustomerInput {
        note: Some("call after 6 pm".into()),
        ..Default::default()
    };
    let mut tx = t.db.begin().await.unwrap();
    let outcome = tx
        .update_customer(store.id, id, Source::Api, &patch, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outcome, Outcome::Updated);
    let stored = t.db.customer(store.id, id).await.unwrap();
    assert_eq!(stored.note.as_deref(), Some("call after 6 pm"));
    assert_eq!(stored.last_name.as_deref(), Some("Kumar"));
    assert_eq!(stored.tags, vec!["vip".to_string(), "wholesale".to_string()]);

    // Another customer's external id cannot be taken over by an update.
    let (other, _) =
        t.db.upsert_customer(store.id, Source::Api, &customer("c-2", "sita@example.in"), "test")
            .await
            .unwrap();
    let steal = CustomerInput {
        external_id: Some("c-1".into()),
        ..Default::default()
    };
    let mut tx = t.db.begin().await.unwrap();
    let err = tx
        .update_customer(store.id, other, Source::Api, &steal, "test")
        .await
        .unwrap_err();
    tx.rollback().await.unwrap();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.code == "external_id_taken"),
        "{err}"
    );
}

async fn orders_are_created_then_unchanged_then_updated(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let first = order("1001", "c-1", 149_900);
    let written =
        t.db.upsert_orders(&store, std::slice::from_ref(&first), "test")
            .await
            .unwrap();
    assert_eq!(written[0].outcome, Outcome::Created);
    let again =
        t.db.upsert_orders(&store, std::slice::from_ref(&first), "test")
            .await
            .unwrap();
    assert_eq!(again[0].outcome, Outcome::Unchanged);
    assert_eq!(again[0].id, written[0].id);

    let mut changed = first.clone();
    changed.total = 99_900;
    changed.subtotal = 99_900;
    changed.line_items = vec![line("TEA-ASSAM", "Assam tea", 3, 33_300)];
    let updated = t.db.upsert_orders(&store, &[changed], "test").await.unwrap();
    assert_eq!(updated[0].outcome, Outcome::Updated);

    let stored = t.db.order(store.id, written[0].id).await.unwrap();
    assert_eq!(stored.total, 99_900);
    assert_eq!(stored.line_items.len(), 1, "an update replaces the lines");
    assert_eq!(stored.line_items[0].quantity, 3);
    assert_eq!(stored.discount_codes, vec!["DIWALI10".to_string()]);
    let buyer =
        t.db.customer(store.id, stored.customer_id.unwrap())
            .await
            .unwrap();
    assert_eq!(buyer.orders_count, 1);
    assert_eq!(buyer.total_spent_minor, 99_900);

    // A second order by the same buyer moves their aggregates.
    let mut second = order("1002", "c-1", 50_000);
    second.placed_at = at("2025-11-20T10:00:00Z");
    t.db.upsert_orders(&store, &[second], "test").await.unwrap();
    let buyer = t.db.customer(store.id, buyer.id).await.unwrap();
    assert_eq!(buyer.orders_count, 2);
    assert_eq!(buyer.total_spent_minor, 149_900);
    assert_eq!(buyer.first_order_at, Some(at("2025-10-20T10:00:00+05:30")));
    assert_eq!(buyer.last_order_at, Some(at("2025-11-20T10:00:00Z")));
    let listed =
        t.db.list_orders(
            store.id,
            &OrderFilter {
                customer_id: Some(buyer.id),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
}

async fn a_stale_update_is_ignored(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let mut newer = order("2001", "c-1", 10_000);
    newer.source_updated_at = Some(at("2025-10-21T00:00:00Z"));
    let id =
        t.db.upsert_orders(&store, std::slice::from_ref(&newer), "test")
            .await
            .unwrap()[0]
            .id;
    let mut older = newer.clone();
    older.source_updated_at = Some(at("2025-10-20T00:00:00Z"));
    older.total = 1;
    older.subtotal = 1;
    let out = t.db.upsert_orders(&store, &[older], "test").await.unwrap();
    assert_eq!(out[0].outcome, Outcome::Unchanged);
    assert_eq!(t.db.order(store.id, id).await.unwrap().total, 10_000);
}

async fn refunds_are_capped_by_the_order_and_counted_once(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let id =
        t.db.upsert_orders(&store, &[order("3001", "c-1", 10_000)], "test")
            .await
            .unwrap()[0]
            .id;

    let mut tx = t.db.begin().await.unwrap();
    let (refunded, outcome) = tx
        .add_refund(&store, Source::Api, "3001", &refund("r-1", 4_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((refunded, outcome), (id, Outcome::Created));

    let mut tx = t.db.begin().await.unwrap();
    let (_, outcome) = tx
        .add_refund(&store, Source::Api, "3001", &refund("r-1", 4_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(outcome, Outcome::Unchanged, "the same refund twice counts once");

    let mut tx = t.db.begin().await.unwrap();
    let err = tx
        .add_refund(&store, Source::Api, "3001", &refund("r-2", 6_001))
        .await
        .unwrap_err();
    tx.rollback().await.unwrap();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "amount" && e.code == "refund_exceeds_total")
    );

    let mut tx = t.db.begin().await.unwrap();
    let err = tx
        .add_refund(&store, Source::Api, "no-such-order", &refund("r-3", 1))
        .await
        .unwrap_err();
    tx.rollback().await.unwrap();
    assert!(matches!(err, StoreError::NotFound("order")), "{err}");

    let stored = t.db.order(store.id, id).await.unwrap();
    assert_eq!(stored.refunded_total, 4_000);
    assert_eq!(stored.refunds.len(), 1);
    let buyer =
        t.db.customer(store.id, stored.customer_id.unwrap())
            .await
            .unwrap();
    assert_eq!(buyer.total_spent_minor, 6_000, "spend is net of refunds");
    let timeline =
        t.db.timeline(
            store.id,
            buyer.id,
            &regulars_store::TimelineQuery {
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["refund_issued", "order_placed"], "newest first");
}

async fn a_batch_import_is_all_or_nothing_and_idempotent(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let batch: Vec<OrderInput> = (0..1_500)
        .map(|i| order(&format!("b-{i}"), &format!("c-{}", i % 300), 1_000 + i))
        .collect();

    // A batch rolled back leaves no trace.
    let mut tx = t.db.begin().await.unwrap();
    tx.upsert_orders(&store, &batch, "import").await.unwrap();
    tx.rollback().await.unwrap();
    assert!(t
        .db
        .list_orders(
            store.id,
            &OrderFilter {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty());

    let first = t.db.upsert_orders(&store, &batch, "import").await.unwrap();
    assert!(first.iter().all(|w| w.outcome == Outcome::Created));
    let second = t.db.upsert_orders(&store, &batch, "import").await.unwrap();
    assert!(second.iter().all(|w| w.outcome == Outcome::Unchanged));
    let customers =
        t.db.customers(
            store.id,
            &CustomerFilter {
                limit: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(customers.len(), 300);
    let orders_total: i64 = customers.iter().map(|c| c.orders_count).sum();
    let spent: i64 = customers.iter().map(|c| c.total_spent_minor).sum();
    assert_eq!(orders_total, 1_500);
    assert_eq!(spent, (0..1_500).map(|i| 1_000 + i).sum::<i64>());
}

async fn idempotency_keys_replay_refuse_and_release(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let other = shop(&t.db, "Tsiran", Currency::AMD).await;
    assert!(matches!(
        t.db.claim_idempotency_key(store.id, "k1", "h1").await.unwrap(),
        Claim::Owned
    ));
    assert!(matches!(
        t.db.claim_idempotency_key(store.id, "k1", "h1").await.unwrap(),
        Claim::InFlight
    ));
    assert!(matches!(
        t.db.claim_idempotency_key(store.id, "k1", "h2").await.unwrap(),
        Claim::Mismatch
    ));
    // Keys belong to one store: the same key elsewhere is a new request.
    assert!(matches!(
        t.db.claim_idempotency_key(other.id, "k1", "h2").await.unwrap(),
        Claim::Owned
    ));

    let reply = StoredReply {
        status: 201,
        body: r#"{"id":"x"}"#.into(),
    };
    t.db.complete_idempotency_key(store.id, "k1", &reply)
        .await
        .unwrap();
    match t.db.claim_idempotency_key(store.id, "k1", "h1").await.unwrap() {
        Claim::Replay(r) => assert_eq!((r.status, r.body.as_str()), (201, r#"{"id":"x"}"#)),
        other => panic!("expected the stored reply, got {other:?}"),
    }

    // A released key (server error) runs afresh; a finished one is never released.
    assert!(matches!(
        t.db.claim_idempotency_key(store.id, "k2", "h").await.unwrap(),
        Claim::Owned
    ));
    t.db.release_idempotency_key(store.id, "k2").await.unwrap();
    assert!(matches!(
        t.db.claim_idempotency_key(store.id, "k2", "h").await.unwrap(),
        Claim::Owned
    ));
    t.db.release_idempotency_key(store.id, "k1").await.unwrap();
    assert!(matches!(
        t.db.claim_idempotency_key(store.id, "k1", "h1").await.unwrap(),
        Claim::Replay(_)
    ));
}

async fn concurrent_claims_of_one_key_have_one_owner(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let db = Arc::new(t.db.clone());
    let claims = futures::future::join_all((0..32).map(|_| {
        let db = db.clone();
        tokio::spawn(async move { db.claim_idempotency_key(store.id, "same", "h").await.unwrap() })
    }))
    .await;
    let owners = claims
        .into_iter()
        .filter(|c| matches!(c.as_ref().unwrap(), Claim::Owned))
        .count();
    assert_eq!(owners, 1);
}

async fn a_webhook_delivery_is_claimed_once(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let db = Arc::new(t.db.clone());
    let claims = futures::future::join_all((0..20).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            let fresh = tx
                .claim_delivery(store.id, Source::Shopify, "delivery-1", "orders/create")
                .await
                .unwrap();
            tx.commit().await.unwrap();
            fresh
        })
    }))
    .await;
    assert_eq!(claims.iter().filter(|c| *c.as_ref().unwrap()).count(), 1);
    // The same id from another source is another delivery.
    let mut tx = t.db.begin().await.unwrap();
    assert!(tx
        .claim_delivery(store.id, Source::Woocommerce, "delivery-1", "order.created")
        .await
        .unwrap());
    tx.commit().await.unwrap();
}

async fn concurrent_writers_never_see_busy_and_lose_nothing(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let db = Arc::new(t.db.clone());
    let store = Arc::new(store);
    // 32 writers, each reading the customer and then writing one order for them (RELIABILITY D2).
    let results = futures::future::join_all((0..32).map(|i| {
        let (db, store) = (db.clone(), store.clone());
        tokio::spawn(async move {
            let o = order(&format!("p-{i}"), "shared-customer", 100);
            db.upsert_orders(&store, &[o], "test").await
        })
    }))
    .await;
    for r in results {
        r.unwrap().expect("no writer fails");
    }
    let buyer = by_external_id(&t.db, store.id, "shared-customer").await;
    assert_eq!(buyer.orders_count, 32);
    assert_eq!(buyer.total_spent_minor, 3_200);
}

async fn consent_is_an_append_only_history(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let mut input = customer("c-1", "anjali@example.in");
    let mut granted = ConsentChange::new(ConsentChannel::Email, true, "checkout");
    granted.at = Some(at("2025-01-01T10:00:00Z"));
    granted.notice_version = Some("2025-01".into());
    granted.notice_text = Some("మీకు ఆఫర్లు ఇమెయిల్ ద్వారా పంపుతాము".into());
    granted.language = Some(Locale::parse("te").unwrap());
    input.consents = vec![granted];
    let (id, _) =
        t.db.upsert_customer(store.id, Source::Api, &input, "test")
            .await
            .unwrap();
    assert_eq!(
        t.db.customer(store.id, id).await.unwrap().consent["email"],
        Some(true)
    );

    let mut withdrawn = ConsentChange::new(ConsentChannel::Email, false, "preference_centre");
    withdrawn.at = Some(at("2025-06-01T10:00:00Z"));
    let change = CustomerInput {
        external_id: Some("c-1".into()),
        consents: vec![withdrawn],
        ..Default::default()
    };
    t.db.upsert_customer(store.id, Source::Api, &change, "test")
        .await
        .unwrap();

    let history = t.db.consent_history(store.id, id).await.unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["granted"], true);
    assert_eq!(history[0]["collected_via"], "checkout");
    assert_eq!(history[0]["language"], "te");
    assert_eq!(history[0]["notice_version"], "2025-01");
    assert_eq!(
        history[0]["notice_hash"].as_str().map(str::len),
        Some(64),
        "the notice is hashed"
    );
    assert_eq!(history[1]["granted"], false);
    let stored = t.db.customer(store.id, id).await.unwrap();
    assert_eq!(stored.consent["email"], Some(false));
    assert_eq!(stored.consent["sms"], None, "never asked");
}

async fn custom_events_are_stored_once(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let who = customer("c-1", "anjali@example.in");
    let event = EventInput {
        external_id: Some("ev-1".into()),
        name: "followed_on_instagram".into(),
        occurred_at: at("2025-05-05T05:05:05Z"),
        properties: serde_json::json!({ "handle": "@anjali" }),
    };
    let (id, first) =
        t.db.record_event(store.id, Source::Api, &who, &event, "test")
            .await
            .unwrap();
    let (_, second) =
        t.db.record_event(store.id, Source::Api, &who, &event, "test")
            .await
            .unwrap();
    assert_eq!((first, second), (Outcome::Created, Outcome::Unchanged));
    let timeline =
        t.db.timeline(
            store.id,
            id,
            &regulars_store::TimelineQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].name.as_deref(), Some("followed_on_instagram"));
    assert_eq!(timeline[0].data["handle"], "@anjali");
}

async fn one_store_never_reaches_another(backend: Backend) {
    let t = TestDb::new(backend).await;
    let a = shop(&t.db, "Annapurna", Currency::INR).await;
    let b = shop(&t.db, "Tsiran", Currency::INR).await;
    let written =
        t.db.upsert_orders(&a, &[order("shared", "c-1", 5_000)], "test")
            .await
            .unwrap();
    let a_customer = written[0].customer_id.unwrap();

    assert!(matches!(
        t.db.order(b.id, written[0].id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        t.db.customer(b.id, a_customer).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(t
        .db
        .timeline(
            b.id,
            a_customer,
            &regulars_store::TimelineQuery {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty());
    assert!(t.db.consent_history(b.id, a_customer).await.unwrap().is_empty());
    assert!(t
        .db
        .customers(
            b.id,
            &CustomerFilter {
                email: Some(Email::parse("c-1@example.in").unwrap()),
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty());
    let mut tx = t.db.begin().await.unwrap();
    let err = tx
        .add_refund(&b, Source::Api, "shared", &refund("r", 1))
        .await
        .unwrap_err();
    tx.rollback().await.unwrap();
    assert!(matches!(err, StoreError::NotFound("order")));
    let mut tx = t.db.begin().await.unwrap();
    let err = tx
        .update_customer(b.id, a_customer, Source::Api, &CustomerInput::default(), "test")
        .await
        .unwrap_err();
    tx.rollback().await.unwrap();
    assert!(matches!(err, StoreError::NotFound("customer")));

    // The same external ids in B make B's own records.
    let in_b =
        t.db.upsert_orders(&b, &[order("shared", "c-1", 7_000)], "test")
            .await
            .unwrap();
    assert_eq!(in_b[0].outcome, Outcome::Created);
    assert_ne!(in_b[0].customer_id, Some(a_customer));
    assert_eq!(t.db.order(a.id, written[0].id).await.unwrap().total, 5_000);

    // API keys resolve to their own store only, and are stored hashed.
    let key = t.db.create_api_key(a.id, "k").await.unwrap();
    assert_eq!(t.db.store_for_api_key(&key.key).await.unwrap(), Some(a.id));
    assert_eq!(t.db.store_for_api_key("rk_not_a_key").await.unwrap(), None);
    assert!(
        !t.db.revoke_api_key(b.id, &key.id).await.unwrap(),
        "B cannot revoke A's key"
    );
    assert!(t.db.revoke_api_key(a.id, &key.id).await.unwrap());
    assert_eq!(t.db.store_for_api_key(&key.key).await.unwrap(), None);
}

async fn webhook_secrets_rotate(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let short = t.db.add_webhook_secret(store.id, Source::Shopify, "short").await;
    assert!(
        matches!(short, Err(StoreError::Invalid(ref e)) if e.field == "secret"),
        "{short:?}"
    );
    t.db.add_webhook_secret(store.id, Source::Shopify, "old-secret")
        .await
        .unwrap();
    t.db.add_webhook_secret(store.id, Source::Shopify, "new-secret")
        .await
        .unwrap();
    let mut both = t.db.webhook_secrets(store.id, Source::Shopify).await.unwrap();
    both.sort();
    assert_eq!(both, vec!["new-secret".to_string(), "old-secret".to_string()]);
    assert!(t
        .db
        .webhook_secrets(store.id, Source::Woocommerce)
        .await
        .unwrap()
        .is_empty());
    t.db.remove_webhook_secret(store.id, Source::Shopify, "old-secret")
        .await
        .unwrap();
    assert_eq!(
        t.db.webhook_secrets(store.id, Source::Shopify).await.unwrap(),
        vec!["new-secret".to_string()]
    );
}

async fn the_database_reports_itself_sound(backend: Backend) {
    let t = TestDb::new(backend).await;
    assert_eq!(t.db.backend(), backend);
    assert_eq!(t.db.integrity_check().await.unwrap(), "ok");
    // Migrations are safe to run at every start.
    t.db.migrate().await.unwrap();
}

async fn people_log_in_with_argon2id_passwords_and_sessions_end_on_the_server(backend: Backend) {
    let t = TestDb::new(backend).await;
    let a = shop(&t.db, "Annapurna", Currency::INR).await;
    let b = shop(&t.db, "Tsiran", Currency::AMD).await;
    let email = Email::parse("Owner@Annapurna.in").unwrap();
    // 64 characters, with Telugu in it: long passphrases are welcome (S2).
    let password = "నా పాస్‌వర్డ్ is long enough, and long passphrases are fine!!";
    let long = format!("{password}{}", "x".repeat(64 - password.chars().count()));
    assert_eq!(long.chars().count(), 64);
    let user = t.db.create_user(&email, &long, Some("Ravi")).await.unwrap();
    t.db.set_membership(a.id, user.id, Role::Owner).await.unwrap();
    t.db.set_membership(b.id, user.id, Role::Viewer).await.unwrap();

    let stored: String = match &t.db {
        Db::Sqlite(p) => sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_one(p)
            .await
            .unwrap(),
        Db::Pg(p) => sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_one(p)
            .await
            .unwrap(),
    };
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
    assert!(!stored.contains(&long));

    let dup =
        t.db.create_user(&email, "another password", None)
            .await
            .unwrap_err();
    assert!(matches!(dup, StoreError::Invalid(ref e) if e.code == "email_taken"));
    let short =
        t.db.create_user(&Email::parse("x@y.in").unwrap(), "short", None)
            .await
            .unwrap_err();
    assert!(matches!(short, StoreError::Invalid(ref e) if e.field == "password"));

    assert!(matches!(
        t.db.log_in("owner@annapurna.in", "wrong password", "10.0.0.1")
            .await
            .unwrap(),
        LoginOutcome::Refused
    ));
    assert!(matches!(
        t.db.log_in("nobody@annapurna.in", &long, "10.0.0.1")
            .await
            .unwrap(),
        LoginOutcome::Refused
    ));
    let LoginOutcome::Ok { token, session } =
        t.db.log_in(" OWNER@annapurna.in", &long, "10.0.0.1")
            .await
            .unwrap()
    else {
        panic!("the right password signs in");
    };
    assert_eq!(session.user.id, user.id);
    assert_eq!(session.role_in(a.id), Some(Role::Owner));
    assert_eq!(session.role_in(b.id), Some(Role::Viewer));
    assert_eq!(session.memberships.len(), 2);
    let limits = SessionLimits::default();
    let alive =
        t.db.session(&token, limits)
            .await
            .unwrap()
            .expect("the session is alive");
    assert_eq!(alive.csrf_token, session.csrf_token);

    // Logout ends the session on the server: the same cookie is worthless (S3).
    t.db.log_out(&token).await.unwrap();
    assert!(t.db.session(&token, limits).await.unwrap().is_none());

    // Disabling a person ends every session they have, and they cannot sign in again.
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let LoginOutcome::Ok { token, .. } =
            t.db.log_in("owner@annapurna.in", &long, "10.0.0.2")
                .await
                .unwrap()
        else {
            panic!("signs in");
        };
        tokens.push(token);
    }
    t.db.set_user_disabled(user.id, true).await.unwrap();
    for token in &tokens {
        assert!(t.db.session(token, limits).await.unwrap().is_none());
    }
    assert!(matches!(
        t.db.log_in("owner@annapurna.in", &long, "10.0.0.2")
            .await
            .unwrap(),
        LoginOutcome::Refused
    ));
}

async fn sessions_expire_when_idle_and_after_their_absolute_limit(backend: Backend) {
    let t = TestDb::new(backend).await;
    let email = Email::parse("agent@annapurna.in").unwrap();
    t.db.create_user(&email, "correct horse battery", None)
        .await
        .unwrap();
    let sign_in = || async {
        match t
            .db
            .log_in("agent@annapurna.in", "correct horse battery", "127.0.0.1")
            .await
            .unwrap()
        {
            LoginOutcome::Ok { token, .. } => token,
            other => panic!("{other:?}"),
        }
    };
    let idle = sign_in().await;
    let absolute = sign_in().await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let short_idle = SessionLimits {
        idle: std::time::Duration::from_millis(10),
        absolute: std::time::Duration::from_secs(3600),
    };
    let short_absolute = SessionLimits {
        idle: std::time::Duration::from_secs(3600),
        absolute: std::time::Duration::from_millis(10),
    };
    assert!(t.db.session(&idle, short_idle).await.unwrap().is_none());
    assert!(t.db.session(&absolute, short_absolute).await.unwrap().is_none());
    // Expired sessions are deleted, not merely refused.
    assert!(t
        .db
        .session(&idle, SessionLimits::default())
        .await
        .unwrap()
        .is_none());
}

async fn login_throttling_does_not_lock_the_owner_out(backend: Backend) {
    let t = TestDb::new(backend).await;
    let email = Email::parse("owner@annapurna.in").unwrap();
    t.db.create_user(&email, "the owner's passphrase", None)
        .await
        .unwrap();
    for _ in 0..MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS {
        let out =
            t.db.log_in("owner@annapurna.in", "guess", "203.0.113.9")
                .await
                .unwrap();
        assert!(matches!(out, LoginOutcome::Refused), "{out:?}");
    }
    // The attacker's address is now throttled, even with the right password…
    match t
        .db
        .log_in("owner@annapurna.in", "the owner's passphrase", "203.0.113.9")
        .await
        .unwrap()
    {
        LoginOutcome::Throttled { retry_after_secs } => assert!((1..=900).contains(&retry_after_secs)),
        other => panic!("expected throttling, got {other:?}"),
    }
    // …while the owner, from their own address, still gets in.
    assert!(matches!(
        t.db.log_in("owner@annapurna.in", "the owner's passphrase", "198.51.100.7")
            .await
            .unwrap(),
        LoginOutcome::Ok { .. }
    ));
}

async fn the_overview_counts_orders_revenue_and_returning_customers_by_store_day(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let place = |ext: &str, customer: &str, total: i64, when: &str| {
        let mut o = order(ext, customer, total);
        o.placed_at = at(when);
        o
    };
    let orders = vec![
        // Before the period: makes c-1 a returning customer.
        place("o-1", "c-1", 10_000, "2026-01-10T10:00:00+05:30"),
        // In the period (1–3 February, Kolkata days).
        place("o-2", "c-1", 20_000, "2026-02-01T00:30:00+05:30"),
        place("o-3", "c-2", 30_000, "2026-02-01T23:59:00+05:30"),
        place("o-4", "c-3", 40_000, "2026-02-03T12:00:00+05:30"),
    ];
    t.db.upsert_orders(&store, &orders, "test").await.unwrap();
    let mut tx = t.db.begin().await.unwrap();
    tx.add_refund(&store, Source::Api, "o-4", &refund("r-1", 5_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut cancelled = place("o-5", "c-2", 99_000, "2026-02-02T12:00:00+05:30");
    cancelled.cancelled_at = Some(at("2026-02-02T13:00:00+05:30"));
    t.db.upsert_orders(&store, &[cancelled], "test").await.unwrap();

    let (from, to) = regulars_store::last_days(&store, at("2026-02-03T20:00:00+05:30"), 3);
    assert_eq!(from, at("2026-02-01T00:00:00+05:30"));
    assert_eq!(to, at("2026-02-04T00:00:00+05:30"));
    let o = t.db.overview(&store, from, to).await.unwrap();
    assert_eq!(o.orders, 3, "cancelled orders do not count");
    assert_eq!(
        o.revenue_minor,
        20_000 + 30_000 + 40_000 - 5_000,
        "net of refunds"
    );
    assert_eq!(o.new_customers, 2, "c-2 and c-3 first ordered in the period");
    assert_eq!(o.returning_customers, 1, "c-1 had ordered before");
    // c-1 (2 orders) and c-2 (1 live + 1 cancelled) and c-3: one of three ordered twice.
    assert!(
        (o.repeat_purchase_rate - 1.0 / 3.0).abs() < 1e-9,
        "{}",
        o.repeat_purchase_rate
    );
    let per_day: Vec<(i64, i64)> = o.daily.iter().map(|d| (d.orders, d.revenue_minor)).collect();
    assert_eq!(
        per_day,
        vec![(2, 50_000), (0, 0), (1, 35_000)],
        "days cut at Kolkata midnight"
    );
    assert_eq!(o.daily[0].day, from);
}

/// The running totals the overview reads agree with the orders after creations, updates that
/// move an order to another day, cancellations, refunds, foreign-currency orders and replays.
async fn running_totals_follow_every_kind_of_write(backend: Backend) {
    use sea_query::{Expr, Query};
    let t = TestDb::new(backend).await;
    let store = shop(&t.db, "Annapurna", Currency::INR).await;
    let now = Timestamp::now().0;
    let days_ago = |d: i64| Timestamp(now - d * 86_400_000);
    let place = |ext: &str, customer: &str, total: i64, when: Timestamp| {
        let mut o = order(ext, customer, total);
        o.placed_at = when;
        o
    };
    let first = vec![
        place("o-1", "c-1", 10_000, days_ago(200)),
        place("o-2", "c-1", 20_000, days_ago(5)),
        place("o-3", "c-2", 30_000, days_ago(4)),
        place("o-4", "c-3", 40_000, days_ago(3)),
    ];
    t.db.upsert_orders(&store, &first, "test").await.unwrap();
    // A dollar order is kept but never mixed into rupee revenue.
    let mut usd = place("o-5", "c-4", 7_000, days_ago(2));
    usd.currency = Currency::USD;
    usd.subtotal = 7_000;
    // o-2 moves to another day with a new total; o-3 is cancelled.
    let mut moved = place("o-2", "c-1", 25_000, days_ago(1));
    moved.line_items[1].unit_price = 25_000 - moved.line_items[0].unit_price;
    let mut cancelled = first[2].clone();
    cancelled.cancelled_at = Some(days_ago(3));
    t.db.upsert_orders(&store, &[usd, moved, cancelled], "test")
        .await
        .unwrap();
    for _ in 0..2 {
        let mut tx = t.db.begin().await.unwrap();
        tx.add_refund(&store, Source::Api, "o-4", &refund("r-1", 5_000))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    // Replays change nothing.
    t.db.upsert_orders(&store, &first[..1], "test").await.unwrap();

    let stored: Vec<(i64, i64, i64)> =
        t.db.fetch_all(
            &Query::select()
                .columns([
                    sea_query::Alias::new("bucket"),
                    sea_query::Alias::new("orders"),
                    sea_query::Alias::new("revenue_minor"),
                ])
                .from(sea_query::Alias::new("order_buckets"))
                .and_where(Expr::col(sea_query::Alias::new("store_id")).eq(store.id.to_string()))
                .and_where(Expr::col(sea_query::Alias::new("orders")).ne(0))
                .to_owned(),
        )
        .await
        .unwrap();
    let mut stored = stored;
    stored.sort();
    let bucket = |d: i64| days_ago(d).0.div_euclid(900_000);
    let mut expected = vec![
        (bucket(200), 1, 10_000),
        (bucket(1), 1, 25_000),
        (bucket(3), 1, 35_000),
    ];
    expected.sort();
    assert_eq!(stored, expected);

    let (from, to) = regulars_store::last_days(&store, Timestamp::now(), 30);
    let o = t.db.overview(&store, from, to).await.unwrap();
    assert_eq!((o.orders, o.revenue_minor), (2, 60_000));
    assert_eq!(o.daily.iter().map(|d| d.orders).sum::<i64>(), 2);
    // c-3 and c-4 first ordered in the period (c-2's only order was cancelled); c-1 returned.
    assert_eq!(o.new_customers, 2);
    assert_eq!(o.returning_customers, 1);
    // Buyers: c-1 (2 orders), c-3, c-4; c-2 has none left. One of three ordered twice.
    assert!(
        (o.repeat_purchase_rate - 1.0 / 3.0).abs() < 1e-9,
        "{}",
        o.repeat_purchase_rate
    );
}

on_both_backends!(
    running_totals_follow_every_kind_of_write,
    customers_are_resolved_by_external_id_then_email,
    a_partial_update_keeps_what_it_does_not_name,
    orders_are_created_then_unchanged_then_updated,
    a_stale_update_is_ignored,
    refunds_are_capped_by_the_order_and_counted_once,
    a_batch_import_is_all_or_nothing_and_idempotent,
    idempotency_keys_replay_refuse_and_release,
    concurrent_claims_of_one_key_have_one_owner,
    a_webhook_delivery_is_claimed_once,
    concurrent_writers_never_see_busy_and_lose_nothing,
    consent_is_an_append_only_history,
    custom_events_are_stored_once,
    one_store_never_reaches_another,
    webhook_secrets_rotate,
    the_database_reports_itself_sound,
    people_log_in_with_argon2id_passwords_and_sessions_end_on_the_server,
    sessions_expire_when_idle_and_after_their_absolute_limit,
    login_throttling_does_not_lock_the_owner_out,
    the_overview_counts_orders_revenue_and_returning_customers_by_store_day,
);
