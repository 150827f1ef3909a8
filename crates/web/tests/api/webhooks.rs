//! RELIABILITY W1–W3 with the real fixtures.

use regulars_domain::Source;
use serde_json::Value;

use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::{fixture, inner, sign, TestApp};

const SHOP_SECRET: &str = "shpss_test_secret_1";

async fn shopify(
    app: &TestApp,
    topic: &str,
    delivery: &str,
    body: &[u8],
    signature: Option<String>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/webhooks/shopify/{}", app.store.id)))
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-webhook-id", delivery)
        .body(body.to_vec());
    if let Some(sig) = signature {
        req = req.header("x-shopify-hmac-sha256", sig);
    }
    req.send().await.unwrap()
}

async fn shopify_signatures_are_checked_on_the_raw_body_with_rotation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.db
        .add_webhook_secret(app.store.id, Source::Shopify, SHOP_SECRET)
        .await
        .unwrap();
    let body = inner("shopify/rest_order.shopify-api-ruby.json", "order");

    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'4').unwrap();
    tampered[at] = b'5';
    let reserialised = serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let hex_digest = {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SHOP_SECRET.as_bytes()).unwrap();
        mac.update(&body);
        hex::encode(mac.finalize().into_bytes())
    };
    for (what, payload, sig) in [
        (
            "one byte changed",
            tampered.clone(),
            Some(sign(SHOP_SECRET, &body)),
        ),
        (
            "re-serialised JSON",
            reserialised.clone(),
            Some(sign(SHOP_SECRET, &body)),
        ),
        ("hex digest", body.clone(), Some(hex_digest)),
        ("wrong secret", body.clone(), Some(sign("another-secret", &body))),
        ("missing header", body.clone(), None),
    ] {
        let r = shopify(&app, "orders/create", "d-bad", &payload, sig).await;
        assert_eq!(r.status(), 401, "{what}");
    }
    assert_eq!(app.count("orders").await, 0);

    // Rotation: old and new both verify until the old one is removed.
    app.db
        .add_webhook_secret(app.store.id, Source::Shopify, "shpss_new_secret_2")
        .await
        .unwrap();
    assert_eq!(
        shopify(
            &app,
            "orders/create",
            "d-1",
            &body,
            Some(sign(SHOP_SECRET, &body))
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        shopify(
            &app,
            "orders/updated",
            "d-2",
            &body,
            Some(sign("shpss_new_secret_2", &body))
        )
        .await
        .status(),
        200
    );
    app.db
        .remove_webhook_secret(app.store.id, Source::Shopify, SHOP_SECRET)
        .await
        .unwrap();
    assert_eq!(
        shopify(
            &app,
            "orders/updated",
            "d-3",
            &body,
            Some(sign(SHOP_SECRET, &body))
        )
        .await
        .status(),
        401
    );
}

/// W2: the same delivery posted 100 times concurrently is applied once.
async fn a_duplicate_delivery_is_applied_once(backend: Backend) {
    let app = std::sync::Arc::new(TestApp::spawn(backend).await);
    app.db
        .add_webhook_secret(app.store.id, Source::Shopify, SHOP_SECRET)
        .await
        .unwrap();
    let body = inner("shopify/rest_order.shopify-api-ruby.json", "order");
    let sig = sign(SHOP_SECRET, &body);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (app, body, sig) = (app.clone(), body.clone(), sig.clone());
        tasks.push(tokio::spawn(async move {
            let r = shopify(&app, "orders/create", "same-delivery", &body, Some(sig)).await;
            let status = r.status().as_u16();
            let json: Value = r.json().await.unwrap();
            (status, json["status"].as_str().unwrap_or_default().to_string())
        }));
    }
    let mut applied = 0;
    for t in tasks {
        let (status, outcome) = t.await.unwrap();
        assert_eq!(status, 200);
        applied += usize::from(outcome == "applied");
    }
    assert_eq!(applied, 1);
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.count("webhook_deliveries").await, 1);
}

async fn shopify_orders_refunds_customers_and_consent_land_in_the_model(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.db
        .add_webhook_secret(app.store.id, Source::Shopify, SHOP_SECRET)
        .await
        .unwrap();
    let order = inner("shopify/rest_order.shopify-api-ruby.json", "order");
    assert_eq!(
        shopify(
            &app,
            "orders/create",
            "o-1",
            &order,
            Some(sign(SHOP_SECRET, &order))
        )
        .await
        .status(),
        200
    );
    let listed: Value = app
        .get("/api/v1/orders?source=shopify&external_id=450789469")
        .await
        .json()
        .await
        .unwrap();
    let stored = &listed["data"][0];
    assert_eq!(stored["total"], "409.94");
    assert_eq!(stored["currency"], "USD");
    assert_eq!(stored["order_number"], "#1001");
    assert_eq!(stored["line_items"].as_array().unwrap().len(), 3);

    let refund = inner("shopify/rest_refund.shopify-api-ruby.json", "refund");
    assert_eq!(
        shopify(
            &app,
            "refunds/create",
            "r-1",
            &refund,
            Some(sign(SHOP_SECRET, &refund))
        )
        .await
        .status(),
        200
    );
    let after: Value = app
        .get(&format!("/api/v1/orders/{}", stored["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["refunded_total"], "209.00");
    assert_eq!(after["refunds"].as_array().unwrap().len(), 1);

    // An id above 2^53 survives exactly (a float would round it to ...992).
    let mut big: Value = serde_json::from_slice(&order).unwrap();
    big["id"] = serde_json::from_str("9007199254740993").unwrap();
    let big = serde_json::to_vec(&big).unwrap();
    assert_eq!(
        shopify(
            &app,
            "orders/create",
            "o-big",
            &big,
            Some(sign(SHOP_SECRET, &big))
        )
        .await
        .status(),
        200
    );
    let found: Value = app
        .get("/api/v1/orders?external_id=9007199254740993")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["data"].as_array().unwrap().len(), 1);

    let customers: Value =
        serde_json::from_slice(&fixture("shopify/rest_customers.shopify-api-ruby.json")).unwrap();
    // The fixture is one REST-wrapped customer, on the older `accepts_marketing: false`.
    let fixture_customer = customers["customer"].clone();
    let body = serde_json::to_vec(&fixture_customer).unwrap();
    let r = shopify(
        &app,
        "customers/create",
        "c-0",
        &body,
        Some(sign(SHOP_SECRET, &body)),
    )
    .await;
    assert_eq!(r.status(), 200);
    let id = fixture_customer["id"].to_string();
    let lookup = format!("/api/v1/customers?source=shopify&external_id={id}");
    let c: Value = app.get(&lookup).await.json().await.unwrap();
    assert_eq!(c["data"][0]["email"], "bob.norman@hostmail.com");
    assert_eq!(c["data"][0]["first_name"], "Bob");
    assert_eq!(c["data"][0]["consent"]["email"], false);

    // Since API 2025-01 consent changes arrive on their own topic.
    let consent = serde_json::to_vec(&serde_json::json!({
        "customer_id": fixture_customer["id"],
        "email_address": fixture_customer["email"],
        "email_marketing_consent": { "state": "subscribed", "opt_in_level": "confirmed_opt_in", "consent_updated_at": "2025-01-01T00:00:00Z" }
    }))
    .unwrap();
    let r = shopify(
        &app,
        "customers/email_marketing_consent_update",
        "cc-1",
        &consent,
        Some(sign(SHOP_SECRET, &consent)),
    )
    .await;
    assert_eq!(r.status(), 200);
    let c: Value = app.get(&lookup).await.json().await.unwrap();
    assert_eq!(c["data"][0]["consent"]["email"], true);

    let ignored = shopify(
        &app,
        "products/create",
        "p-1",
        b"{}",
        Some(sign(SHOP_SECRET, b"{}")),
    )
    .await;
    assert_eq!(ignored.json::<Value>().await.unwrap()["status"], "ignored");
}

async fn woo(app: &TestApp, topic: &str, delivery: &str, body: &[u8], secret: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/webhooks/woocommerce/{}", app.store.id)))
        .header("content-type", "application/json")
        .header("x-wc-webhook-topic", topic)
        .header("x-wc-webhook-delivery-id", delivery)
        .header("x-wc-webhook-signature", sign(secret, body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

async fn woocommerce_ping_orders_refunds_and_customers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.db
        .add_webhook_secret(app.store.id, Source::Woocommerce, "woo-secret")
        .await
        .unwrap();

    let ping = app
        .client
        .post(app.url(&format!("/webhooks/woocommerce/{}", app.store.id)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=42")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(
        app.count("orders").await + app.count("customers").await,
        0,
        "the ping changes nothing"
    );

    let body = fixture("woocommerce/order_727.simulated-delivery-body.json");
    let r = app
        .client
        .post(app.url(&format!("/webhooks/woocommerce/{}", app.store.id)))
        .header("content-type", "application/json")
        .header("x-wc-webhook-topic", "order.created")
        .header(
            "x-wc-webhook-signature",
            "Iqtakq7E9/cwZrg1p2tGALECMyCfSM3HZCkMV8uWc24=",
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the documented signature vector verifies");
    let listed: Value = app
        .get("/api/v1/orders?source=woocommerce&external_id=727")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["total"], "29.35");
    let guest = listed["data"][0]["customer_id"].as_str().unwrap();
    let customer: Value = app
        .get(&format!("/api/v1/customers/{guest}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(customer["email"], "john.doe@example.com");
    assert_eq!(customer["has_account"], false, "customer_id 0 is a guest");

    let tampered = {
        let mut b = body.clone();
        b[10] ^= 1;
        b
    };
    let bad = app
        .client
        .post(app.url(&format!("/webhooks/woocommerce/{}", app.store.id)))
        .header("x-wc-webhook-topic", "order.created")
        .header(
            "x-wc-webhook-signature",
            "Iqtakq7E9/cwZrg1p2tGALECMyCfSM3HZCkMV8uWc24=",
        )
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);

    // A refund arrives as order.updated carrying `refunds`.
    let mut refunded: Value = serde_json::from_slice(&body).unwrap();
    refunded["refunds"] = serde_json::json!([{ "id": 726, "reason": "", "total": "-10.00" }]);
    refunded["date_modified_gmt"] = serde_json::json!("2017-03-23T10:00:00");
    let refunded = serde_json::to_vec(&refunded).unwrap();
    assert_eq!(
        woo(&app, "order.updated", "w-2", &refunded, "woo-secret")
            .await
            .status(),
        200
    );
    let listed: Value = app
        .get("/api/v1/orders?source=woocommerce&external_id=727")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["refunded_total"], "10.00");

    let customer = fixture("woocommerce/customer.wc-rest-v3-docs.json");
    assert_eq!(
        woo(&app, "customer.created", "w-3", &customer, "woo-secret")
            .await
            .status(),
        200
    );
    let email = serde_json::from_slice::<Value>(&customer).unwrap()["email"]
        .as_str()
        .unwrap()
        .to_string();
    let found: Value = app
        .get(&format!("/api/v1/customers?email={email}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["data"][0]["has_account"], true);
}

on_both_backends!(
    shopify_signatures_are_checked_on_the_raw_body_with_rotation,
    a_duplicate_delivery_is_applied_once,
    shopify_orders_refunds_customers_and_consent_land_in_the_model,
    woocommerce_ping_orders_refunds_and_customers,
);
