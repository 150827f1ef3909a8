use serde_json::{json, Value};

use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::{order_json, problem, TestApp};

async fn post_with_key(app: &TestApp, path: &str, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(&app.key)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// RELIABILITY L2 over HTTP: 50 concurrent copies of one keyed request write once; every
/// answer is the stored reply or 409 (still in flight).
async fn fifty_concurrent_copies_write_once(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn(backend).await);
    let body = order_json("idem-1", "1499.00");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, body) = (app.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let r = post_with_key(&app, "/api/v1/orders", "key-1", &body).await;
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }));
    }
    let mut created_bodies = Vec::new();
    for t in tasks {
        let (status, text) = t.await.unwrap();
        match status {
            201 => created_bodies.push(text),
            409 => assert!(text.contains("idempotency_key_in_flight")),
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert!(!created_bodies.is_empty());
    assert!(
        created_bodies.windows(2).all(|w| w[0] == w[1]),
        "every reply is the stored reply"
    );
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.count("events").await, 1, "one order_placed event");

    let replay = post_with_key(&app, "/api/v1/orders", "key-1", &body).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.text().await.unwrap(), created_bodies[0]);
}

async fn a_key_reused_with_another_body_is_refused_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        post_with_key(&app, "/api/v1/orders", "k", &order_json("a", "10.00"))
            .await
            .status(),
        201
    );
    let other = post_with_key(&app, "/api/v1/orders", "k", &order_json("b", "10.00")).await;
    let (status, code, field) = problem(other).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "idempotency_key_reused", Some("Idempotency-Key"))
    );
    assert_eq!(app.count("orders").await, 1);
}

/// RELIABILITY L4: a refusal is remembered too; retrying with the same key after the situation
/// changed still returns the first answer.
async fn a_refused_request_retried_with_its_key_gets_the_first_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let refund = json!({ "order_external_id": "later", "external_id": "rf", "amount": "5.00" });
    let first = post_with_key(&app, "/api/v1/refunds", "rk", &refund).await;
    assert_eq!(first.status(), 404);
    let first_body = first.text().await.unwrap();
    app.post("/api/v1/orders", &order_json("later", "10.00")).await;
    let retry = post_with_key(&app, "/api/v1/refunds", "rk", &refund).await;
    assert_eq!(retry.status(), 404);
    assert_eq!(retry.text().await.unwrap(), first_body);
    assert_eq!(app.count("refunds").await, 0);
    let fresh = post_with_key(&app, "/api/v1/refunds", "rk-2", &refund).await;
    assert_eq!(fresh.status(), 201, "a new key runs the request afresh");
}

on_both_backends!(
    fifty_concurrent_copies_write_once,
    a_key_reused_with_another_body_is_refused_and_writes_nothing,
    a_refused_request_retried_with_its_key_gets_the_first_answer,
);
