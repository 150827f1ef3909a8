//! The loyalty API end to end: RELIABILITY L1, L2 and L4 over HTTP, the program's validation,
//! shop webhooks earning and revoking points from the real fixtures (and W2 crediting once),
//! rewards with their coupons, holds, checkout perks and tenant isolation.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use regulars_domain::loyalty::Program;
use regulars_domain::{Currency, CustomerId, Locale, Source, TimeZone, Timestamp};
use serde_json::{json, Value};

use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::{fixture, inner, problem, sign, TestApp};

/// Turns the program on with points available at once.
async fn enable(app: &TestApp, mut program: Value) {
    program["enabled"] = json!(true);
    let r = app
        .client
        .put(app.url("/api/v1/loyalty/program"))
        .bearer_auth(&app.key)
        .json(&program)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

fn simple_program() -> Value {
    json!({
        "enabled": true,
        "earn": { "points": 1, "per_minor": 100 },
        "pending_days": 0,
        "expiry_days": 365,
        "value_per_100_points_minor": 100
    })
}

/// A customer (by API) holding `points` available points.
async fn member_with(app: &TestApp, external_id: &str, points: i64) -> String {
    let r = app
        .post(
            "/api/v1/customers",
            &json!({ "external_id": external_id, "email": format!("{external_id}@example.in"), "first_name": "Ануш" }),
        )
        .await;
    assert!(r.status().is_success());
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    if points > 0 {
        let r = app
            .post(
                &format!("/api/v1/customers/{id}/loyalty/adjustments"),
                &json!({ "points": points, "reason": "opening balance" }),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    id
}

async fn available(app: &TestApp, customer: &str) -> i64 {
    let v: Value = app
        .get(&format!("/api/v1/customers/{customer}/loyalty"))
        .await
        .json()
        .await
        .unwrap();
    v["balance"]["available"].as_i64().unwrap()
}

async fn ledger_is_clean(app: &TestApp) {
    let v: Value = app.get("/api/v1/loyalty/check").await.json().await.unwrap();
    assert_eq!(v["clean"], true, "{v}");
}

/// L1: 10,000 concurrent 10-point redemptions against 1,000 points: exactly 100 succeed, the
/// rest are refused as insufficient, the balance ends at 0.
async fn l1_ten_thousand_concurrent_redemptions(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    enable(&app, simple_program()).await;
    let customer = member_with(&app, "l1", 1_000).await;
    let statuses: Vec<(u16, String)> = stream::iter(0..10_000)
        .map(|i| {
            let (app, customer) = (app.clone(), customer.clone());
            async move {
                let r = app
                    .client
                    .post(app.url(&format!("/api/v1/customers/{customer}/loyalty/redemptions")))
                    .bearer_auth(&app.key)
                    .header("idempotency-key", format!("l1-{i}"))
                    .json(&json!({ "points": 10, "reason": "checkout" }))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                (status, body["code"].as_str().unwrap_or_default().to_string())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let won = statuses.iter().filter(|(s, _)| *s == 201).count();
    let refused = statuses
        .iter()
        .filter(|(s, c)| *s == 409 && c == "insufficient_points")
        .count();
    assert_eq!(
        (won, refused),
        (100, 9_900),
        "no other answer: {:?}",
        &statuses[..3]
    );
    assert_eq!(available(&app, &customer).await, 0);
    ledger_is_clean(&app).await;
}

/// L2: one key sent 50 times at once writes one entry; every reply is the stored one or 409
/// in flight; the key with another body is 422 and writes nothing.
async fn l2_one_key_fifty_times(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    enable(&app, simple_program()).await;
    let customer = member_with(&app, "l2", 500).await;
    let path = format!("/api/v1/customers/{customer}/loyalty/redemptions");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (app, path) = (app.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let r = app
                .client
                .post(app.url(&path))
                .bearer_auth(&app.key)
                .header("idempotency-key", "same-key")
                .json(&json!({ "points": 30, "reason": "checkout" }))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    let mut bodies = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert!(status == 201 || status == 409, "{status} {body}");
        if status == 201 {
            bodies.push(body);
        } else {
            assert!(body.contains("idempotency_key_in_flight"), "{body}");
        }
    }
    assert!(!bodies.is_empty());
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every success is the same stored reply"
    );
    assert_eq!(available(&app, &customer).await, 470, "one redemption");
    let other = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.key)
        .header("idempotency-key", "same-key")
        .json(&json!({ "points": 31, "reason": "checkout" }))
        .send()
        .await
        .unwrap();
    let (status, code, _) = problem(other).await;
    assert_eq!((status, code.as_str()), (422, "idempotency_key_reused"));
    assert_eq!(available(&app, &customer).await, 470);
}

/// L4: a refused redemption retried with its key after a top-up still answers the refusal.
async fn l4_a_refusal_is_the_answer_for_its_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    enable(&app, simple_program()).await;
    let customer = member_with(&app, "l4", 5).await;
    let send = || {
        app.client
            .post(app.url(&format!("/api/v1/customers/{customer}/loyalty/redemptions")))
            .bearer_auth(&app.key)
            .header("idempotency-key", "retry-me")
            .json(&json!({ "points": 10, "reason": "checkout" }))
            .send()
    };
    let (status, code, _) = problem(send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (409, "insufficient_points"));
    let r = app
        .post(
            &format!("/api/v1/customers/{customer}/loyalty/adjustments"),
            &json!({ "points": 100, "reason": "top-up" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let (status, code, _) = problem(again).await;
    assert_eq!((status, code.as_str()), (409, "insufficient_points"));
    assert_eq!(available(&app, &customer).await, 105);
}

async fn the_program_is_validated_and_names_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before: Value = app.get("/api/v1/loyalty/program").await.json().await.unwrap();
    assert_eq!(before["program"]["enabled"], false);
    let mut bad = simple_program();
    bad["tiers"] = json!({ "levels": [
        { "id": "gold", "name": "Gold", "threshold": 1000 },
        { "id": "silver", "name": "Silver", "threshold": 500 }
    ]});
    let r = app
        .client
        .put(app.url("/api/v1/loyalty/program"))
        .bearer_auth(&app.key)
        .json(&bad)
        .send()
        .await
        .unwrap();
    let (status, code, field) = problem(r).await;
    assert_eq!((status, code.as_str()), (422, "not_ascending"));
    assert_eq!(field.as_deref(), Some("tiers.levels[1].threshold"));
    let mut unknown = simple_program();
    unknown["earn"]["point"] = json!(1);
    let r = app
        .client
        .put(app.url("/api/v1/loyalty/program"))
        .bearer_auth(&app.key)
        .json(&unknown)
        .send()
        .await
        .unwrap();
    let (status, _, field) = problem(r).await;
    assert_eq!((status, field.as_deref()), (422, Some("earn.point")));
    let after: Value = app.get("/api/v1/loyalty/program").await.json().await.unwrap();
    assert_eq!(after["program"]["enabled"], false, "nothing was saved");
}

const SHOP_SECRET: &str = "shpss_loyalty";

async fn shopify_to(
    app: &TestApp,
    store: &str,
    topic: &str,
    delivery: &str,
    body: &[u8],
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/webhooks/shopify/{store}")))
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-webhook-id", delivery)
        .header("x-shopify-hmac-sha256", sign(SHOP_SECRET, body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

/// The real Shopify order, as placed now (orders placed before the program began earn nothing).
fn shopify_order_now(financial_status: &str, updated: &str) -> Vec<u8> {
    let mut order: Value =
        serde_json::from_slice(&inner("shopify/rest_order.shopify-api-ruby.json", "order")).unwrap();
    let now = Timestamp::now().to_rfc3339();
    order["created_at"] = json!(now);
    order["financial_status"] = json!(financial_status);
    order["updated_at"] = json!(updated);
    serde_json::to_vec(&order).unwrap()
}

/// The fixture order (USD 409.94, of which 11.94 tax) earns when paid — 398 points at a
/// point per dollar without tax and shipping — and the fixture refund of 209.00 takes back
/// its share; the same paid delivery 100 times at once credits once (W2).
async fn shopify_webhooks_earn_and_revoke(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let usd = app
        .db
        .create_store(
            "Bob's Shop",
            Currency::parse("USD").unwrap(),
            TimeZone::parse("America/New_York").unwrap(),
            Locale::parse("en-US").unwrap(),
        )
        .await
        .unwrap();
    let key = app.db.create_api_key(usd.id, "usd").await.unwrap().key;
    app.db
        .add_webhook_secret(usd.id, Source::Shopify, SHOP_SECRET)
        .await
        .unwrap();
    let program = Program::from_json(&simple_program().to_string()).unwrap();
    app.db
        .set_loyalty_program(usd.id, &program, "test")
        .await
        .unwrap();
    let store = usd.id.to_string();

    let authorized = shopify_order_now("authorized", &Timestamp::now().to_rfc3339());
    assert_eq!(
        shopify_to(&app, &store, "orders/create", "c-1", &authorized)
            .await
            .status(),
        200
    );
    let customers: Value = app
        .get_as(&key, "/api/v1/customers?email=bob.norman@hostmail.com")
        .await
        .json()
        .await
        .unwrap();
    let customer = customers["data"][0]["id"].as_str().unwrap().to_string();
    let member = |app: Arc<TestApp>, key: String, customer: String| async move {
        app.get_as(&key, &format!("/api/v1/customers/{customer}/loyalty"))
            .await
            .json::<Value>()
            .await
            .unwrap()
    };
    let m = member(app.clone(), key.clone(), customer.clone()).await;
    assert_eq!(m["balance"]["lifetime_earned"], 0, "authorized is not paid");

    let later = Timestamp(Timestamp::now().0 + 60_000).to_rfc3339();
    let paid = shopify_order_now("paid", &later);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (app, store, paid) = (app.clone(), store.clone(), paid.clone());
        tasks.push(tokio::spawn(async move {
            shopify_to(&app, &store, "orders/paid", "paid-1", &paid)
                .await
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let m = member(app.clone(), key.clone(), customer.clone()).await;
    assert_eq!(m["balance"]["available"], 398, "{m}");
    let earns = m["recent_entries"].as_array().unwrap();
    assert_eq!(earns.len(), 1, "one credit for 100 deliveries");

    let refund = inner("shopify/rest_refund.shopify-api-ruby.json", "refund");
    assert_eq!(
        shopify_to(&app, &store, "refunds/create", "r-1", &refund)
            .await
            .status(),
        200
    );
    assert_eq!(
        shopify_to(&app, &store, "refunds/create", "r-1b", &refund)
            .await
            .status(),
        200
    );
    let m = member(app.clone(), key.clone(), customer.clone()).await;
    // 398 × (409.94 − 209.00) / 409.94 = 195.09: 195 kept, 203 taken back, once.
    assert_eq!(m["balance"]["available"], 195, "{m}");
    let revokes: Vec<&Value> = m["recent_entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "revoke")
        .collect();
    assert_eq!(revokes.len(), 1);
    assert_eq!(revokes[0]["points"], 203);
    assert_eq!(revokes[0]["reverses"], earns[0]["id"]);
    let check: Value = app
        .get_as(&key, "/api/v1/loyalty/check")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["clean"], true, "{check}");
}

/// The WooCommerce fixture order (USD 29.35 with 10.00 shipping and 1.35 tax, paid) earns 18
/// points; cancelling it takes them back.
async fn woocommerce_webhooks_earn_and_cancel(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let usd = app
        .db
        .create_store(
            "Woo Shop",
            Currency::parse("USD").unwrap(),
            TimeZone::parse("UTC").unwrap(),
            Locale::parse("en").unwrap(),
        )
        .await
        .unwrap();
    let key = app.db.create_api_key(usd.id, "usd").await.unwrap().key;
    app.db
        .add_webhook_secret(usd.id, Source::Woocommerce, "woo-secret")
        .await
        .unwrap();
    let program = Program::from_json(&simple_program().to_string()).unwrap();
    app.db
        .set_loyalty_program(usd.id, &program, "test")
        .await
        .unwrap();
    let mut order: Value =
        serde_json::from_slice(&fixture("woocommerce/order_727.simulated-delivery-body.json")).unwrap();
    // Placed just after the program began (the fixture's dates have whole seconds).
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(2);
    order["date_created"] = json!(now.format("%Y-%m-%dT%H:%M:%S").to_string());
    order["date_created_gmt"] = json!(now.format("%Y-%m-%dT%H:%M:%S").to_string());
    order["date_modified_gmt"] = json!(now.format("%Y-%m-%dT%H:%M:%S").to_string());
    let send = |body: Vec<u8>, topic: &'static str, delivery: &'static str| {
        app.client
            .post(app.url(&format!("/webhooks/woocommerce/{}", usd.id)))
            .header("content-type", "application/json")
            .header("x-wc-webhook-topic", topic)
            .header("x-wc-webhook-delivery-id", delivery)
            .header("x-wc-webhook-signature", sign("woo-secret", &body))
            .body(body)
            .send()
    };
    let r = send(serde_json::to_vec(&order).unwrap(), "order.created", "w-1")
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let orders: Value = app
        .get_as(&key, "/api/v1/orders?source=woocommerce&external_id=727")
        .await
        .json()
        .await
        .unwrap();
    let customer = orders["data"][0]["customer_id"].as_str().unwrap().to_string();
    let balance = |app: &TestApp| {
        let (key, customer) = (key.clone(), customer.clone());
        let app_url = app.url(&format!("/api/v1/customers/{customer}/loyalty"));
        let client = app.client.clone();
        async move {
            let v: Value = client
                .get(app_url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            // Earned, whether still pending or not (the order is stamped a moment ahead).
            v["balance"]["lifetime_earned"].as_i64().unwrap()
        }
    };
    assert_eq!(balance(&app).await, 18);
    order["status"] = json!("cancelled");
    let modified = (now + chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    order["date_modified_gmt"] = json!(modified);
    order["date_modified"] = json!(modified);
    let r = send(serde_json::to_vec(&order).unwrap(), "order.updated", "w-2")
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(balance(&app).await, 0);
}

async fn rewards_mint_coupons_and_stock_runs_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    enable(&app, simple_program()).await;
    let customer = member_with(&app, "reward-fan", 1_000).await;
    let r = app
        .post(
            "/api/v1/loyalty/rewards",
            &json!({
                "name": "₹100 off", "discount": { "kind": "fixed", "amount": "100.00" },
                "points_cost": 400, "stock": 1, "coupon_valid_days": 30, "minimum_spend": "500"
            }),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let reward: Value = r.json().await.unwrap();
    let path = format!("/api/v1/customers/{customer}/loyalty/redemptions");
    let r = app.post(&path, &json!({ "reward_id": reward["id"] })).await;
    assert_eq!(r.status(), 201);
    let redemption: Value = r.json().await.unwrap();
    let code = redemption["coupon_code"].as_str().unwrap();
    assert!(code.starts_with("RW"), "{code}");
    let coupon: Value = app
        .get(&format!("/api/v1/coupons/{code}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        coupon["customer_id"].as_str(),
        Some(customer.as_str()),
        "{coupon}"
    );
    let (status, code, _) = problem(app.post(&path, &json!({ "reward_id": reward["id"] })).await).await;
    assert_eq!((status, code.as_str()), (409, "out_of_stock"));
    assert_eq!(
        available(&app, &customer).await,
        600,
        "the refused one spent nothing"
    );
    let (status, code, field) = problem(app.post(&path, &json!({ "points": 5 })).await).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "reason_required", Some("reason"))
    );
    ledger_is_clean(&app).await;
}

async fn holds_are_captured_or_released_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    enable(&app, simple_program()).await;
    let customer = member_with(&app, "holder", 100).await;
    let r = app
        .post(
            &format!("/api/v1/customers/{customer}/loyalty/holds"),
            &json!({ "points": 60, "ttl_seconds": 900, "reason": "checkout 1042" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let hold: Value = r.json().await.unwrap();
    assert_eq!(available(&app, &customer).await, 40);
    let id = hold["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/loyalty/holds/{id}/release"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "released");
    let (status, code, _) = problem(
        app.post(&format!("/api/v1/loyalty/holds/{id}/capture"), &json!({}))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (409, "hold_already_settled"));
    assert_eq!(available(&app, &customer).await, 100);
    let (status, _, field) = problem(
        app.post(
            &format!("/api/v1/customers/{customer}/loyalty/holds"),
            &json!({ "points": 10, "ttl_seconds": 0, "reason": "x" }),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("ttl_seconds")));
    ledger_is_clean(&app).await;
}

async fn perks_answer_what_applies_now(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut program = simple_program();
    program["shipping"] = json!({ "free_over_minor": 99_900, "flat_rate_minor": 4_900 });
    program["tiers"] = json!({ "metric": "points_earned", "levels": [
        { "id": "gold", "name": "Gold", "threshold": 500, "benefits": { "free_shipping": true, "discount_bp": 500 } }
    ]});
    program["actions"] = json!([{ "action": { "kind": "review" }, "points": 600 }]);
    program["offers"] = json!([{ "id": "back", "name": "Welcome back", "discount": { "kind": "fixed", "amount": 5_000 },
        "audience": { "kind": "returning", "min_orders": 1 } }]);
    enable(&app, program).await;
    let customer = member_with(&app, "perky", 0).await;
    let cart =
        json!({ "lines": [{ "sku": "TEA", "quantity": 2, "unit_price": "300.00" }], "shipping": "99.00" });
    let guest: Value = app
        .post("/api/v1/perks", &json!({ "cart": cart }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        guest["shipping"],
        json!({ "kind": "flat", "reason": "flat_rate", "amount": "49.00" })
    );
    assert_eq!(guest["discounts"], json!([]));
    // A review lifts them to Gold: free shipping and 5 % off whatever the cart.
    let r = app
        .post(
            &format!("/api/v1/customers/{customer}/loyalty/actions"),
            &json!({ "action": { "kind": "review" }, "reference": "rev-1" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let gold: Value = app
        .post("/api/v1/perks", &json!({ "customer_id": customer, "cart": cart }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(gold["shipping"]["kind"], "free");
    assert_eq!(gold["shipping"]["reason"], "tier");
    assert_eq!(gold["discounts"][0]["source"], "tier");
    assert_eq!(gold["discounts"][0]["amount"], "30.00");
    assert_eq!(gold["points"]["available"], 600);
    let (status, _, field) = problem(
        app.post(
            "/api/v1/perks",
            &json!({ "cart": { "lines": [{ "quantity": 0, "unit_price": "1" }] } }),
        )
        .await,
    )
    .await;
    assert_eq!((status, field.as_deref()), (422, Some("cart.lines[0].quantity")));
}

/// S1: store B's key sees none of store A's members, holds or rewards.
async fn another_store_sees_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    enable(&app, simple_program()).await;
    let customer = member_with(&app, "private", 100).await;
    let r = app
        .post(
            &format!("/api/v1/customers/{customer}/loyalty/holds"),
            &json!({ "points": 10, "ttl_seconds": 60, "reason": "checkout" }),
        )
        .await;
    let hold: Value = r.json().await.unwrap();
    let reward: Value = app
        .post(
            "/api/v1/loyalty/rewards",
            &json!({ "name": "Tote", "discount": { "kind": "gift", "description": "tote bag" }, "points_cost": 10 }),
        )
        .await
        .json()
        .await
        .unwrap();
    let (_, other_key) = app.other_store().await;
    for path in [
        format!("/api/v1/customers/{customer}/loyalty"),
        format!("/api/v1/customers/{customer}/loyalty/entries"),
        format!("/api/v1/loyalty/rewards/{}", reward["id"].as_str().unwrap()),
    ] {
        let r = app.get_as(&other_key, &path).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    for (path, body) in [
        (
            format!("/api/v1/customers/{customer}/loyalty/adjustments"),
            json!({ "points": 5, "reason": "x" }),
        ),
        (
            format!("/api/v1/customers/{customer}/loyalty/redemptions"),
            json!({ "points": 5, "reason": "x" }),
        ),
        (
            format!("/api/v1/loyalty/holds/{}/capture", hold["id"].as_str().unwrap()),
            json!({}),
        ),
        (
            format!("/api/v1/customers/{customer}/loyalty/redemptions"),
            json!({ "reward_id": reward["id"] }),
        ),
    ] {
        let r = app.post_as(&other_key, &path, &body).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    assert_eq!(available(&app, &customer).await, 90);
    let none = CustomerId::parse(&customer).unwrap();
    assert!(
        app.db
            .points_history(app.store.id, none, None, 10)
            .await
            .unwrap()
            .len()
            == 2
    );
}

on_both_backends!(
    l1_ten_thousand_concurrent_redemptions,
    l2_one_key_fifty_times,
    l4_a_refusal_is_the_answer_for_its_key,
    the_program_is_validated_and_names_the_field,
    shopify_webhooks_earn_and_revoke,
    woocommerce_webhooks_earn_and_cancel,
    rewards_mint_coupons_and_stock_runs_out,
    holds_are_captured_or_released_once,
    perks_answer_what_applies_now,
    another_store_sees_nothing,
);
