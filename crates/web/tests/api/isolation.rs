//! RELIABILITY S1: store A's key never reads or writes store B's data, on every route.

use serde_json::{json, Value};

use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::{order_json, TestApp};

async fn another_store_is_invisible_on_every_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_other, other_key) = app.other_store().await;
    // B's data, written with B's key.
    let mut b_order = order_json("shared-ext", "1499.00");
    b_order["currency"] = json!("AMD");
    let created: Value = app
        .post_as(&other_key, "/api/v1/orders", &b_order)
        .await
        .json()
        .await
        .unwrap();
    let b_order_id = created["id"].as_str().unwrap().to_string();
    let b_customers: Value = app
        .get_as(&other_key, "/api/v1/customers")
        .await
        .json()
        .await
        .unwrap();
    let b_customer_id = b_customers["data"][0]["id"].as_str().unwrap().to_string();
    let b_secret_marker = "priya.sharma@example.in";

    // A reads by B's ids: 404, and not one byte of B's data.
    for path in [
        format!("/api/v1/orders/{b_order_id}"),
        format!("/api/v1/customers/{b_customer_id}"),
        format!("/api/v1/customers/{b_customer_id}/timeline"),
        format!("/api/v1/customers/{b_customer_id}/consents"),
    ] {
        let r = app.get(&path).await;
        assert_eq!(r.status(), 404, "{path}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains(b_secret_marker) && !text.contains("1499"),
            "{path}: {text}"
        );
    }
    let patch = app
        .client
        .patch(app.url(&format!("/api/v1/customers/{b_customer_id}")))
        .bearer_auth(&app.key)
        .json(&json!({ "first_name": "Mallory" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 404);

    // Lists filtered by B's identifiers come back empty.
    for path in [
        "/api/v1/customers?external_id=cust-1",
        "/api/v1/customers?email=priya.sharma@example.in",
        "/api/v1/orders?external_id=shared-ext",
        "/api/v1/orders?email=priya.sharma@example.in",
        "/api/v1/orders",
        "/api/v1/customers",
    ] {
        let page: Value = app.get(path).await.json().await.unwrap();
        assert_eq!(page["data"].as_array().unwrap().len(), 0, "{path}");
    }
    let orders_of_b: Value = app
        .get(&format!("/api/v1/orders?customer_id={b_customer_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(orders_of_b["data"].as_array().unwrap().len(), 0);

    // Writes by B's external ids land in A, separately.
    let refund = json!({ "order_external_id": "shared-ext", "external_id": "x", "amount": "1.00" });
    assert_eq!(app.post("/api/v1/refunds", &refund).await.status(), 404);
    let event = json!({ "customer": { "external_id": "cust-1" }, "name": "probe" });
    assert_eq!(app.post("/api/v1/events", &event).await.status(), 201);
    let mine = app
        .post("/api/v1/orders", &order_json("shared-ext", "10.00"))
        .await;
    assert_eq!(
        mine.status(),
        201,
        "same external id in another store is another order"
    );
    let b_after: Value = app
        .get_as(&other_key, &format!("/api/v1/orders/{b_order_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_after["total"], "1499.00");
    assert!(b_after["refunds"].as_array().unwrap().is_empty());
    let b_timeline: Value = app
        .get_as(&other_key, &format!("/api/v1/customers/{b_customer_id}/timeline"))
        .await
        .json()
        .await
        .unwrap();
    assert!(b_timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["kind"] != "custom"));
}

on_both_backends!(another_store_is_invisible_on_every_route,);
