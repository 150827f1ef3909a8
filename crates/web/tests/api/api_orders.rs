use serde_json::{json, Value};

use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::{order_json, problem, TestApp};

async fn an_order_is_created_then_unchanged_and_money_stays_exact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let first = app.post("/api/v1/orders", &order_json("1001", "1499.00")).await;
    assert_eq!(first.status(), 201);
    let created: Value = first.json().await.unwrap();
    assert_eq!(created["outcome"], "created");

    let again = app.post("/api/v1/orders", &order_json("1001", "1499.00")).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["outcome"], "unchanged");
    assert_eq!(again["id"], created["id"]);

    let order: Value = app
        .get(&format!("/api/v1/orders/{}", created["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["total"], "1499.00");
    assert_eq!(order["subtotal"], "1499.00", "defaults to the sum of the lines");
    assert_eq!(order["line_items"][0]["price"], "499.50");
    assert_eq!(order["line_items"][1]["title"], "गरम मसाला");

    let customers: Value = app
        .get("/api/v1/customers?email=priya.sharma@example.in")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(customers["data"].as_array().unwrap().len(), 1);
    let customer = &customers["data"][0];
    assert_eq!(customer["orders_count"], 1);
    assert_eq!(customer["total_spent"], "1499.00");
    let by_ext: Value = app
        .get("/api/v1/customers?external_id=cust-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_ext["data"][0]["id"], customer["id"]);

    let listed: Value = app
        .get("/api/v1/orders?external_id=1001")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let by_email: Value = app
        .get("/api/v1/orders?email=PRIYA.SHARMA@example.in")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_email["data"].as_array().unwrap().len(), 1);

    let changed = app.post("/api/v1/orders", &order_json("1001", "1399.00")).await;
    assert_eq!(changed.json::<Value>().await.unwrap()["outcome"], "updated");
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.count("order_lines").await, 2, "an update replaces the lines");
}

async fn bad_input_names_the_field_and_never_500s(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (order_json("b1", "14.999"), "invalid_money", "total"),
        (
            {
                let mut o = order_json("b2", "10.00");
                o["total"] = json!(10.5);
                o
            },
            "invalid_field",
            "total",
        ),
        (
            {
                let mut o = order_json("b3", "10.00");
                o["line_items"][1]["price"] = json!("abc");
                o
            },
            "invalid_money",
            "line_items[1].price",
        ),
        (
            {
                let mut o = order_json("b4", "10.00");
                o["placed_at"] = json!("yesterday");
                o
            },
            "invalid_timestamp",
            "placed_at",
        ),
        (
            {
                let mut o = order_json("b5", "10.00");
                o["customer"]["email"] = json!("not-an-email");
                o
            },
            "invalid_email",
            "customer.email",
        ),
        (
            {
                let mut o = order_json("b6", "10.00");
                o["line_items"][0]["quantity"] = json!(0);
                o
            },
            "invalid_quantity",
            "line_items[0].quantity",
        ),
        (
            {
                let mut o = order_json("b7", "10.00");
                o.as_object_mut().unwrap().remove("placed_at");
                o
            },
            "invalid_field",
            "",
        ),
    ];
    for (body, code, field) in cases {
        let (status, got_code, got_field) = problem(app.post("/api/v1/orders", &body).await).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(got_code, code, "{body}");
        if !field.is_empty() {
            assert_eq!(got_field.as_deref(), Some(field), "{body}");
        }
    }
    let raw = app
        .client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{\"external_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(raw).await.1, "malformed_json");
    assert_eq!(app.count("orders").await, 0, "nothing was written");
}

async fn missing_or_unknown_keys_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let none = app.client.get(app.url("/api/v1/orders")).send().await.unwrap();
    assert_eq!(problem(none).await, (401, "missing_api_key".into(), None));
    let wrong = app.get_as("rk_nope", "/api/v1/orders").await;
    assert_eq!(problem(wrong).await, (401, "invalid_api_key".into(), None));
}

async fn bulk_takes_ten_thousand_orders_as_json_or_ndjson_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let orders: Vec<Value> = (0..10_000)
        .map(|i| order_json(&format!("bulk-{i}"), "1499.00"))
        .collect();
    let response = app
        .post("/api/v1/orders/bulk", &Value::Array(orders.clone()))
        .await;
    assert_eq!(response.status(), 200);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary["created"], 10_000);
    assert_eq!(app.count("orders").await, 10_000);

    let ndjson: String = orders[..100].iter().map(|o| format!("{o}\n")).collect();
    let replay = app
        .client
        .post(app.url("/api/v1/orders/bulk"))
        .bearer_auth(&app.key)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    let summary: Value = replay.json().await.unwrap();
    assert_eq!(
        (summary["created"].clone(), summary["unchanged"].clone()),
        (json!(0), json!(100))
    );

    let mut bad: Vec<Value> = (0..50)
        .map(|i| order_json(&format!("new-{i}"), "10.00"))
        .collect();
    bad[17]["total"] = json!("ten");
    let (status, code, field) = problem(app.post("/api/v1/orders/bulk", &Value::Array(bad)).await).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "invalid_money", Some("[17].total"))
    );
    assert_eq!(
        app.count("orders").await,
        10_000,
        "a refused batch writes nothing"
    );
}

async fn refunds_are_capped_by_the_order_and_update_its_totals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.post("/api/v1/orders", &order_json("r-1", "1499.00")).await;
    let refund =
        json!({ "order_external_id": "r-1", "external_id": "rf-1", "amount": "499.50", "reason": "damaged" });
    assert_eq!(app.post("/api/v1/refunds", &refund).await.status(), 201);
    assert_eq!(
        app.post("/api/v1/refunds", &refund).await.status(),
        200,
        "the same refund twice counts once"
    );
    let too_much = json!({ "order_external_id": "r-1", "external_id": "rf-2", "amount": "1000.00" });
    let (status, code, _) = problem(app.post("/api/v1/refunds", &too_much).await).await;
    assert_eq!((status, code.as_str()), (422, "refund_exceeds_total"));
    let unknown = json!({ "order_external_id": "nope", "external_id": "rf-3", "amount": "1.00" });
    assert_eq!(problem(app.post("/api/v1/refunds", &unknown).await).await.0, 404);

    let order: Value = app
        .get("/api/v1/orders?external_id=r-1")
        .await
        .json()
        .await
        .unwrap();
    let order = &order["data"][0];
    assert_eq!(order["refunded_total"], "499.50");
    assert_eq!(order["financial_status"], "partially_refunded");
    let customer: Value = app
        .get(&format!(
            "/api/v1/customers/{}",
            order["customer_id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(customer["total_spent"], "999.50", "net of refunds");
}

async fn customers_events_timeline_and_consent_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({
        "external_id": "c-42", "email": "ravi@example.in", "first_name": "రవి", "locale": "te",
        "birthday": "--08-15", "tags": ["vip"],
        "consent": [{ "channel": "email", "granted": true, "notice_version": "2025-01", "notice_text": "We email offers", "language": "te" }]
    });
    let created: Value = app.post("/api/v1/customers", &body).await.json().await.unwrap();
    assert_eq!(created["outcome"], "created");
    let id = created["id"].as_str().unwrap().to_string();
    let withdrawn = json!({ "external_id": "c-42", "consent": [{ "channel": "email", "granted": false }] });
    assert_eq!(
        app.post("/api/v1/customers", &withdrawn)
            .await
            .json::<Value>()
            .await
            .unwrap()["outcome"],
        "updated"
    );

    let patched = app
        .client
        .patch(app.url(&format!("/api/v1/customers/{id}")))
        .bearer_auth(&app.key)
        .json(&json!({ "last_name": "కుమార్" }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);

    let event = json!({ "external_id": "ev-1", "customer": { "external_id": "c-42" }, "name": "review_written", "properties": { "stars": 5 } });
    assert_eq!(app.post("/api/v1/events", &event).await.status(), 201);
    assert_eq!(app.post("/api/v1/events", &event).await.status(), 200);

    let customer: Value = app
        .get(&format!("/api/v1/customers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(customer["last_name"], "కుమార్");
    assert_eq!(
        customer["first_name"], "రవి",
        "a partial update keeps other fields"
    );
    assert_eq!(customer["birthday"], "--08-15");
    assert_eq!(customer["consent"]["email"], false);

    let consents: Value = app
        .get(&format!("/api/v1/customers/{id}/consents"))
        .await
        .json()
        .await
        .unwrap();
    let history = consents["data"].as_array().unwrap();
    assert_eq!(history.len(), 2, "append-only: the grant and the withdrawal");
    assert_eq!(history[0]["granted"], true);
    assert!(history[0]["notice_hash"].is_string());
    assert_eq!(history[1]["granted"], false);

    let timeline: Value = app
        .get(&format!("/api/v1/customers/{id}/timeline"))
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "custom").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "consent_changed").count(), 2);
}

on_both_backends!(
    an_order_is_created_then_unchanged_and_money_stays_exact,
    bad_input_names_the_field_and_never_500s,
    missing_or_unknown_keys_are_refused,
    bulk_takes_ten_thousand_orders_as_json_or_ndjson_all_or_nothing,
    refunds_are_capped_by_the_order_and_update_its_totals,
    customers_events_timeline_and_consent_history,
);
