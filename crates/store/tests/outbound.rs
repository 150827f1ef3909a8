//! Outgoing webhooks in storage (RELIABILITY W4): messages queued with their events, claims
//! that never share a message between workers, attempts recorded, 410 disabling, rotation and
//! tenant isolation, on SQLite and PostgreSQL.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use regulars_domain::{Currency, CustomerInput, Email, EventInput, Source, StoreId, Timestamp};
use regulars_store::{
    AttemptReport, Db, NewWebhookEndpoint, NextStep, StoreError, WebhookEndpoint, WebhookEndpointPatch,
    DISABLED_GONE, DISABLED_MANUAL, PREVIOUS_SECRET_GRACE,
};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend, TestDb};

const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAAA";
const SECRET_B: &str = "whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

async fn endpoint(db: &Db, store: StoreId, url: &str, types: &[&str]) -> WebhookEndpoint {
    let mut tx = db.begin().await.unwrap();
    let input = NewWebhookEndpoint {
        url: url.into(),
        description: "test receiver".into(),
        event_types: types.iter().map(|t| t.to_string()).collect(),
    };
    let e = tx
        .create_webhook_endpoint(store, &input, SECRET_A, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e
}

fn custom_event(external_id: &str) -> (CustomerInput, EventInput) {
    (
        CustomerInput {
            external_id: Some("cust-7".into()),
            email: Some(Email::parse("anahit@example.am").unwrap()),
            ..Default::default()
        },
        EventInput {
            external_id: Some(external_id.into()),
            name: "wishlist_added".into(),
            occurred_at: Timestamp::parse_rfc3339("2025-04-01T09:30:00Z").unwrap(),
            properties: serde_json::json!({ "sku": "TEA-1", "customer_id": "not ours" }),
        },
    )
}

async fn record_custom(db: &Db, store: StoreId, external_id: &str) {
    let (customer, event) = custom_event(external_id);
    db.record_event(store, Source::Api, &customer, &event, "test")
        .await
        .unwrap();
}

async fn pending(db: &Db, store: StoreId, endpoint: &str) -> Vec<regulars_store::WebhookMessage> {
    db.webhook_messages(store, endpoint, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.status == "pending")
        .collect()
}

fn report(at: Timestamp, status: Option<u16>) -> AttemptReport {
    AttemptReport {
        attempted_at: at,
        response_status: status,
        duration_ms: 12,
        error: None,
    }
}

async fn events_queue_one_message_per_subscribed_endpoint(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let all = endpoint(&t.db, store.id, "https://all.example.com/in", &[]).await;
    let orders = endpoint(
        &t.db,
        store.id,
        "https://orders.example.com/in",
        &["order.placed"],
    )
    .await;
    let tiers = endpoint(&t.db, store.id, "https://tiers.example.com/in", &["tier.changed"]).await;
    let off = endpoint(&t.db, store.id, "https://off.example.com/in", &[]).await;
    let mut tx = t.db.begin().await.unwrap();
    let patch = WebhookEndpointPatch {
        enabled: Some(false),
        ..Default::default()
    };
    tx.update_webhook_endpoint(store.id, &off.id, &patch, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let placed = Timestamp::parse_rfc3339("2025-03-20T04:45:00Z").unwrap();
    let order = paid_order("1001", "cust-1", Currency::INR, 149_900, placed);
    t.db.upsert_orders(&store, &[order], "test").await.unwrap();
    record_custom(&t.db, store.id, "evt-1").await;

    let to_all = t.db.webhook_messages(store.id, &all.id, 100).await.unwrap();
    let mut types: Vec<&str> = to_all.iter().map(|m| m.event_type.as_str()).collect();
    types.sort();
    assert_eq!(types, ["event.custom", "order.placed"]);
    let to_orders = t.db.webhook_messages(store.id, &orders.id, 100).await.unwrap();
    assert_eq!(to_orders.len(), 1);
    assert!(t
        .db
        .webhook_messages(store.id, &tiers.id, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(t
        .db
        .webhook_messages(store.id, &off.id, 100)
        .await
        .unwrap()
        .is_empty());

    let message = &to_orders[0];
    assert!(message.id.starts_with("msg_"));
    assert_eq!(message.status, "pending");
    assert_eq!(message.attempts, 0);
    let body: serde_json::Value = serde_json::from_str(&message.payload).unwrap();
    assert_eq!(body["type"], "order.placed");
    assert_eq!(body["timestamp"], "2025-03-20T04:45:00.000Z");
    assert_eq!(body["data"]["occurred_at"], "2025-03-20T04:45:00.000Z");
    assert_eq!(body["data"]["total"], 149_900);
    assert!(body["data"]["order_id"].is_string());
    assert!(body["data"]["customer_id"].is_string());
    // Ids, not personal data: the customer's email stays home.
    assert!(
        !message.payload.contains("cust-1@example.in"),
        "{}",
        message.payload
    );

    // A custom event's properties cannot pose as our fields.
    let custom = to_all.iter().find(|m| m.event_type == "event.custom").unwrap();
    let body: serde_json::Value = serde_json::from_str(&custom.payload).unwrap();
    assert_eq!(body["data"]["name"], "wishlist_added");
    assert_eq!(body["data"]["properties"]["customer_id"], "not ours");
    assert_ne!(body["data"]["customer_id"], "not ours");
    assert!(!custom.payload.contains("anahit@example.am"));
}

async fn a_rolled_back_event_queues_nothing_and_a_replay_queues_nothing_new(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let e = endpoint(&t.db, store.id, "https://hooks.example.am/in", &[]).await;
    let (customer, event) = custom_event("evt-rolled-back");
    let mut tx = t.db.begin().await.unwrap();
    tx.record_event(store.id, Source::Api, &customer, &event, "test")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(t
        .db
        .webhook_messages(store.id, &e.id, 100)
        .await
        .unwrap()
        .is_empty());

    record_custom(&t.db, store.id, "evt-kept").await;
    record_custom(&t.db, store.id, "evt-kept").await;
    assert_eq!(
        t.db.webhook_messages(store.id, &e.id, 100).await.unwrap().len(),
        1
    );
}

async fn concurrent_claims_never_share_a_message(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let e = endpoint(&t.db, store.id, "https://hooks.example.com/in", &[]).await;
    for i in 0..40 {
        record_custom(&t.db, store.id, &format!("evt-{i}")).await;
    }
    let mut tx = t.db.begin().await.unwrap();
    for _ in 0..60 {
        tx.queue_webhook_test(store.id, &e.id, Timestamp::now())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let db = Arc::new(t.db.clone());
    let now = Timestamp(Timestamp::now().0 + 1000);
    let claimers = (0..4).map(|_| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = db
                    .claim_webhook_messages(now, Duration::from_secs(60), 7)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in claimers {
        for id in claimer.await.unwrap() {
            total += 1;
            assert!(seen.insert(id.clone()), "{id} was claimed twice");
        }
    }
    assert_eq!(total, 100);
    // Leased: nothing is due again until the lease lapses.
    assert!(t
        .db
        .claim_webhook_messages(now, Duration::from_secs(60), 100)
        .await
        .unwrap()
        .is_empty());
}

async fn a_lapsed_lease_is_taken_over_and_the_late_worker_records_nothing(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let e = endpoint(&t.db, store.id, "https://hooks.example.am/in", &[]).await;
    let mut tx = t.db.begin().await.unwrap();
    tx.queue_webhook_test(store.id, &e.id, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let now = Timestamp(Timestamp::now().0 + 1000);
    let first =
        t.db.claim_webhook_messages(now, Duration::from_secs(30), 10)
            .await
            .unwrap();
    assert_eq!((first.len(), first[0].attempt), (1, 1));
    let later = Timestamp(now.0 + 31_000);
    let second =
        t.db.claim_webhook_messages(later, Duration::from_secs(30), 10)
            .await
            .unwrap();
    assert_eq!((second.len(), second[0].attempt), (1, 2));
    assert_eq!(first[0].id, second[0].id);

    let late =
        t.db.record_webhook_attempt(&first[0], &report(later, Some(200)), NextStep::Succeeded)
            .await
            .unwrap();
    assert!(!late, "a claim taken over records nothing");
    let retry_at = Timestamp(later.0 + 5000);
    let recorded =
        t.db.record_webhook_attempt(&second[0], &report(later, Some(500)), NextStep::RetryAt(retry_at))
            .await
            .unwrap();
    assert!(recorded);
    let message = &t.db.webhook_messages(store.id, &e.id, 10).await.unwrap()[0];
    assert_eq!((message.status.as_str(), message.attempts), ("pending", 2));
    assert_eq!(message.next_attempt_at, retry_at);
    assert_eq!(message.last_response_status, Some(500));
    let attempts = t.db.webhook_attempts(store.id, &e.id, 10).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].attempt, attempts[0].outcome.as_str()), (2, "retry"));
    // Not due before its time.
    let early =
        t.db.claim_webhook_messages(Timestamp(retry_at.0 - 1), Duration::from_secs(30), 10);
    assert!(early.await.unwrap().is_empty());
    let due =
        t.db.claim_webhook_messages(retry_at, Duration::from_secs(30), 10)
            .await
            .unwrap();
    assert_eq!((due.len(), due[0].attempt), (1, 3));
}

async fn gone_disables_the_endpoint_and_cancels_its_pending_messages(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let e = endpoint(&t.db, store.id, "https://hooks.example.com/in", &[]).await;
    let other = endpoint(&t.db, store.id, "https://other.example.com/in", &[]).await;
    for i in 0..3 {
        record_custom(&t.db, store.id, &format!("evt-{i}")).await;
    }
    let now = Timestamp(Timestamp::now().0 + 1000);
    let claimed =
        t.db.claim_webhook_messages(now, Duration::from_secs(30), 1)
            .await
            .unwrap();
    let message = &claimed[0];
    let gone_endpoint = message.endpoint_id.clone();
    let survivor = if gone_endpoint == e.id { &other } else { &e };
    t.db.record_webhook_attempt(message, &report(now, Some(410)), NextStep::Gone)
        .await
        .unwrap();
    let gone = t.db.webhook_endpoint(store.id, &gone_endpoint).await.unwrap();
    assert!(!gone.enabled);
    assert_eq!(gone.disabled_reason.as_deref(), Some(DISABLED_GONE));
    let statuses: Vec<String> =
        t.db.webhook_messages(store.id, &gone_endpoint, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.status)
            .collect();
    assert_eq!(statuses.iter().filter(|s| *s == "failed").count(), 1);
    assert_eq!(statuses.iter().filter(|s| *s == "cancelled").count(), 2);
    // The other endpoint is untouched; the disabled one gets nothing new.
    assert_eq!(pending(&t.db, store.id, &survivor.id).await.len(), 3);
    record_custom(&t.db, store.id, "evt-after").await;
    assert_eq!(pending(&t.db, store.id, &gone_endpoint).await.len(), 0);
    assert_eq!(pending(&t.db, store.id, &survivor.id).await.len(), 4);

    // Enabling again clears the reason and receives new events.
    let mut tx = t.db.begin().await.unwrap();
    let patch = WebhookEndpointPatch {
        enabled: Some(true),
        ..Default::default()
    };
    let back = tx
        .update_webhook_endpoint(store.id, &gone_endpoint, &patch, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(back.enabled && back.disabled_reason.is_none());
    record_custom(&t.db, store.id, "evt-back").await;
    assert_eq!(pending(&t.db, store.id, &gone_endpoint).await.len(), 1);
}

async fn disabling_by_hand_cancels_pending_even_a_claimed_message(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let e = endpoint(&t.db, store.id, "https://hooks.example.am/in", &[]).await;
    record_custom(&t.db, store.id, "evt-1").await;
    record_custom(&t.db, store.id, "evt-2").await;
    let now = Timestamp(Timestamp::now().0 + 1000);
    let claimed =
        t.db.claim_webhook_messages(now, Duration::from_secs(30), 1)
            .await
            .unwrap();
    let mut tx = t.db.begin().await.unwrap();
    let patch = WebhookEndpointPatch {
        enabled: Some(false),
        ..Default::default()
    };
    let off = tx
        .update_webhook_endpoint(store.id, &e.id, &patch, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(off.disabled_reason.as_deref(), Some(DISABLED_MANUAL));
    let targets = t.db.delivery_targets(&claimed, now).await.unwrap();
    let target = &targets[&regulars_store::delivery_target_key(&claimed[0])];
    assert!(!target.enabled);
    // The worker that claimed it finds it already cancelled, and records no outcome over that.
    assert!(!t.db.cancel_webhook_message(&claimed[0], now).await.unwrap());
    let late =
        t.db.record_webhook_attempt(&claimed[0], &report(now, Some(200)), NextStep::Succeeded)
            .await
            .unwrap();
    assert!(!late);
    let statuses: HashSet<String> =
        t.db.webhook_messages(store.id, &e.id, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.status)
            .collect();
    assert_eq!(statuses, HashSet::from(["cancelled".to_string()]));
}

async fn rotation_signs_with_both_secrets_for_a_day(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let e = endpoint(&t.db, store.id, "https://hooks.example.com/in", &[]).await;
    let rotated_at = Timestamp::now();
    let mut tx = t.db.begin().await.unwrap();
    let after = tx
        .rotate_webhook_secret(store.id, &e.id, SECRET_B, rotated_at)
        .await
        .unwrap();
    tx.queue_webhook_test(store.id, &e.id, rotated_at).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        after.previous_secret_until,
        Some(Timestamp(rotated_at.0 + PREVIOUS_SECRET_GRACE.as_millis() as i64))
    );
    assert_eq!(
        t.db.webhook_endpoint_secret(store.id, &e.id).await.unwrap(),
        SECRET_B
    );
    let now = Timestamp(rotated_at.0 + 1000);
    let claimed =
        t.db.claim_webhook_messages(now, Duration::from_secs(30), 10)
            .await
            .unwrap();
    let key = regulars_store::delivery_target_key(&claimed[0]);
    let soon = t.db.delivery_targets(&claimed, now).await.unwrap();
    assert_eq!(soon[&key].secrets, [SECRET_B, SECRET_A]);
    let next_day = Timestamp(rotated_at.0 + PREVIOUS_SECRET_GRACE.as_millis() as i64 + 1);
    let later = t.db.delivery_targets(&claimed, next_day).await.unwrap();
    assert_eq!(later[&key].secrets, [SECRET_B]);
}

async fn another_store_cannot_see_or_change_an_endpoint(backend: Backend) {
    let t = TestDb::new(backend).await;
    let a = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let b = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let e = endpoint(&t.db, a.id, "https://hooks.example.com/in", &[]).await;
    record_custom(&t.db, a.id, "evt-a").await;
    assert!(t.db.webhook_endpoints(b.id).await.unwrap().is_empty());
    assert!(matches!(
        t.db.webhook_endpoint(b.id, &e.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        t.db.webhook_endpoint_secret(b.id, &e.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        t.db.webhook_attempts(b.id, &e.id, 10).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(t.db.webhook_messages(b.id, &e.id, 10).await.unwrap().is_empty());
    let mut tx = t.db.begin().await.unwrap();
    let patch = WebhookEndpointPatch {
        url: Some("https://evil.example.net/".into()),
        ..Default::default()
    };
    let now = Timestamp::now();
    assert!(matches!(
        tx.update_webhook_endpoint(b.id, &e.id, &patch, now).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        tx.rotate_webhook_secret(b.id, &e.id, SECRET_B, now).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        tx.queue_webhook_test(b.id, &e.id, now).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        tx.delete_webhook_endpoint(b.id, &e.id).await,
        Err(StoreError::NotFound(_))
    ));
    tx.commit().await.unwrap();
    // B's events never reach A's endpoint.
    record_custom(&t.db, b.id, "evt-b").await;
    let kept = t.db.webhook_endpoint(a.id, &e.id).await.unwrap();
    assert_eq!(kept.url, "https://hooks.example.com/in");
    assert_eq!(t.db.webhook_messages(a.id, &e.id, 10).await.unwrap().len(), 1);
    assert_eq!(t.db.webhook_endpoint_secret(a.id, &e.id).await.unwrap(), SECRET_A);

    // A removes it, with its messages.
    let mut tx = t.db.begin().await.unwrap();
    tx.delete_webhook_endpoint(a.id, &e.id).await.unwrap();
    tx.commit().await.unwrap();
    assert!(t.db.webhook_endpoints(a.id).await.unwrap().is_empty());
    assert!(t.db.webhook_messages(a.id, &e.id, 10).await.unwrap().is_empty());
}

async fn bad_input_is_refused_naming_the_field(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let now = Timestamp::now();
    let mut tx = t.db.begin().await.unwrap();
    let cases = [
        (NewWebhookEndpoint::default(), SECRET_A, "url", "url_required"),
        (
            NewWebhookEndpoint {
                url: "gopher://example.com/".into(),
                ..Default::default()
            },
            SECRET_A,
            "url",
            "invalid_url_scheme",
        ),
        (
            NewWebhookEndpoint {
                url: format!("https://example.com/{}", "a".repeat(2100)),
                ..Default::default()
            },
            SECRET_A,
            "url",
            "url_too_long",
        ),
        (
            NewWebhookEndpoint {
                url: "https://example.com/".into(),
                description: "d".repeat(501),
                ..Default::default()
            },
            SECRET_A,
            "description",
            "description_too_long",
        ),
        (
            NewWebhookEndpoint {
                url: "https://example.com/".into(),
                event_types: vec!["order.placed".into(), "order.exploded".into()],
                ..Default::default()
            },
            SECRET_A,
            "event_types[1]",
            "unknown_event_type",
        ),
        (
            NewWebhookEndpoint {
                url: "https://example.com/".into(),
                ..Default::default()
            },
            "hunter2",
            "secret",
            "invalid_secret",
        ),
    ];
    for (input, secret, field, code) in cases {
        match tx.create_webhook_endpoint(store.id, &input, secret, now).await {
            Err(StoreError::Invalid(e)) => assert_eq!((e.field.as_str(), e.code), (field, code)),
            other => panic!("{field}: expected {code}, got {other:?}"),
        }
    }
    tx.rollback().await.unwrap();
    assert!(t.db.webhook_endpoints(store.id).await.unwrap().is_empty());
    let e = endpoint(
        &t.db,
        store.id,
        "https://example.com/",
        &["order.placed", "order.placed"],
    )
    .await;
    assert_eq!(e.event_types, ["order.placed"]);
    let mut tx = t.db.begin().await.unwrap();
    let patch = WebhookEndpointPatch {
        enabled: Some(false),
        ..Default::default()
    };
    tx.update_webhook_endpoint(store.id, &e.id, &patch, now)
        .await
        .unwrap();
    match tx.queue_webhook_test(store.id, &e.id, now).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.code, "endpoint_disabled"),
        other => panic!("a disabled endpoint takes no test: {other:?}"),
    }
}

on_both_backends!(
    events_queue_one_message_per_subscribed_endpoint,
    a_rolled_back_event_queues_nothing_and_a_replay_queues_nothing_new,
    concurrent_claims_never_share_a_message,
    a_lapsed_lease_is_taken_over_and_the_late_worker_records_nothing,
    gone_disables_the_endpoint_and_cancels_its_pending_messages,
    disabling_by_hand_cancels_pending_even_a_claimed_message,
    rotation_signs_with_both_secrets_for_a_day,
    another_store_cannot_see_or_change_an_endpoint,
    bad_input_is_refused_naming_the_field,
    finished_messages_are_forgotten_after_their_time_and_pending_ones_kept,
);

#[test]
fn event_kinds_map_to_dotted_types() {
    use regulars_store::{webhook_type, WEBHOOK_EVENT_TYPES};
    assert_eq!(webhook_type("points_earned"), "points.earned");
    assert_eq!(webhook_type("tier_changed"), "tier.changed");
    assert_eq!(webhook_type("refund_issued"), "refund.issued");
    assert_eq!(webhook_type("custom"), "event.custom");
    assert_eq!(webhook_type("consent_changed"), "customer.consent_changed");
    // A kind added later still reaches endpoints that take every type, under a dotted name.
    assert_eq!(webhook_type("gift_card_issued"), "gift.card_issued");
    assert_eq!(webhook_type("ping"), "event.ping");
    let types: HashSet<&str> = WEBHOOK_EVENT_TYPES.iter().map(|(_, t)| *t).collect();
    assert_eq!(types.len(), WEBHOOK_EVENT_TYPES.len(), "one type per kind");
    assert!(types.iter().all(|t| t.contains('.') && !t.contains(' ')));
}

async fn finished_messages_are_forgotten_after_their_time_and_pending_ones_kept(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let e = endpoint(&t.db, store.id, "https://hooks.example.com/in", &[]).await;
    record_custom(&t.db, store.id, "evt-done").await;
    let now = Timestamp(Timestamp::now().0 + 1000);
    let claimed =
        t.db.claim_webhook_messages(now, Duration::from_secs(30), 10)
            .await
            .unwrap();
    t.db.record_webhook_attempt(&claimed[0], &report(now, Some(200)), NextStep::Succeeded)
        .await
        .unwrap();
    record_custom(&t.db, store.id, "evt-pending").await;
    assert_eq!(
        t.db.prune_webhook_messages(now).await.unwrap(),
        0,
        "finished at `now`, not before"
    );
    assert_eq!(
        t.db.prune_webhook_messages(Timestamp(now.0 + 1)).await.unwrap(),
        1
    );
    let left = t.db.webhook_messages(store.id, &e.id, 10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].status, "pending");
    assert!(t
        .db
        .webhook_attempts(store.id, &e.id, 10)
        .await
        .unwrap()
        .is_empty());
}
