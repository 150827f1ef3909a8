//! The coupon API end to end: batches, CSV imports, validation, reservations at checkout,
//! redemption by a real Shopify order and its rollback, and tenant isolation.

use std::collections::HashSet;

use regulars_domain::{Role, Source};
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::{inner, order_json, problem, sign, TestApp};
use crate::staff::{person, Browser};

const SHOP_SECRET: &str = "shpss_coupon_secret";

fn cart() -> Value {
    json!({
        "currency": "INR",
        "lines": [
            { "sku": "TEA-ASSAM-250", "category": "tea", "quantity": 2, "unit_price": 49_950 },
            { "sku": "MUG", "category": "kitchen", "quantity": 1, "unit_price": 30_000 }
        ],
        "shipping": 4_900
    })
}

async fn import_csv(app: &TestApp, key: &str, csv: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/coupons/import?name=spring"))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap()
}

async fn coupon(app: &TestApp, code: &str) -> Value {
    let r = app.get(&format!("/api/v1/coupons/{code}")).await;
    assert_eq!(r.status(), 200, "{code}");
    r.json().await.unwrap()
}

async fn a_batch_is_generated_listed_by_pages_and_found_by_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .post(
            "/api/v1/coupons/batches",
            &json!({
                "name": "Diwali",
                "count": 1500,
                "pattern": "DIWALI-####-????",
                "discount": { "kind": "percent", "basis_points": 1000 },
                "expires_at": "2099-11-15T23:59:59+05:30",
                "minimum_spend": 50_000,
                "scope": { "categories": ["tea"] }
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let batch: Value = r.json().await.unwrap();
    assert_eq!(
        (batch["code_count"].as_i64(), batch["kind"].as_str()),
        (Some(1500), Some("generated"))
    );
    let id = batch["id"].as_str().unwrap();

    let mut codes = HashSet::new();
    let mut after = String::new();
    loop {
        let page: Value = app
            .get(&format!("/api/v1/coupons?batch={id}&limit=1000&after={after}"))
            .await
            .json()
            .await
            .unwrap();
        for c in page["data"].as_array().unwrap() {
            let code = c["code"].as_str().unwrap();
            assert!(code.starts_with("DIWALI-") && code.len() == 16, "{code}");
            assert_eq!(c["usage_limit"], 1, "one use per code unless told");
            assert_eq!(c["status"], "active");
            codes.insert(code.to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    assert_eq!(codes.len(), 1500);
    assert!(regulars_web::openapi_json().contains("/api/v1/coupons/reservations/{id}"));

    let one = codes.iter().next().unwrap().to_ascii_lowercase();
    let found = coupon(&app, &one).await;
    assert_eq!(
        found["discount"],
        json!({ "kind": "percent", "basis_points": 1000 })
    );
    assert_eq!(found["expires_at"], "2099-11-15T18:29:59.000Z");
    assert_eq!(
        (found["minimum_spend"].as_i64(), found["currency"].as_str()),
        (Some(50_000), Some("INR"))
    );
    assert_eq!(found["scope"]["categories"], json!(["tea"]));

    for (body, code, field) in [
        (
            json!({ "count": 10, "pattern": "AB", "discount": { "kind": "free_shipping" } }),
            "invalid_pattern",
            "pattern",
        ),
        (
            json!({ "count": 10, "discount": { "kind": "percent", "basis_points": 0 } }),
            "invalid_percent",
            "discount.basis_points",
        ),
        (
            json!({ "count": 0, "discount": { "kind": "free_shipping" } }),
            "invalid_count",
            "count",
        ),
        (
            json!({ "count": 1, "discount": { "kind": "free_shipping" }, "expires_at": "tomorrow" }),
            "invalid_timestamp",
            "expires_at",
        ),
        (
            json!({ "count": 1, "discount": { "kind": "free_shipping" }, "customer_id": "0197a0f0-0000-7000-8000-000000000000" }),
            "unknown_customer",
            "customer_id",
        ),
    ] {
        let (status, got_code, got_field) = problem(app.post("/api/v1/coupons/batches", &body).await).await;
        assert_eq!(
            (status, got_code.as_str(), got_field.as_deref()),
            (422, code, Some(field)),
            "{body}"
        );
    }
    assert_eq!(app.count("coupons").await, 1500, "refused batches leave nothing");
    assert_eq!(app.get("/api/v1/coupons/NO-SUCH-CODE").await.status(), 404);
    let (status, code, field) = problem(app.get("/api/v1/coupons?status=lost").await).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "invalid_status", Some("status"))
    );
}

async fn an_import_lists_every_bad_row_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let file = "code,discount_type,value,usage_limit\n\
                SPRING-A,fixed,100.00,1\n\
                SPRING-B,percent,abc,1\n\
                SPRING-A,fixed,5,1\n\
                SPRING-C,free_shipping,,-2\n";
    let r = import_csv(&app, &app.key, file).await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "invalid_rows");
    assert_eq!(body["field"], "line 3: value");
    let rows: Vec<(i64, &str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["field"].as_str().unwrap(),
                e["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (3, "value", "invalid_money"),
            (4, "code", "duplicate_code"),
            (5, "usage_limit", "invalid_limit")
        ]
    );
    assert_eq!(app.count("coupons").await, 0);
    assert_eq!(app.count("coupon_batches").await, 0);

    let wrong_type = app
        .client
        .post(app.url("/api/v1/coupons/import"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body(file)
        .send()
        .await
        .unwrap();
    let (status, code, field) = problem(wrong_type).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (415, "unsupported_media_type", Some("Content-Type"))
    );

    let good = "code,discount_type,value,usage_limit\nSPRING-A,fixed,100.00,1\nspring-b,percent,15,\n";
    let r = import_csv(&app, &app.key, good).await;
    assert_eq!(r.status(), 201);
    let batch: Value = r.json().await.unwrap();
    assert_eq!(
        (batch["code_count"].as_i64(), batch["name"].as_str()),
        (Some(2), Some("spring"))
    );
    assert_eq!(coupon(&app, "Spring-B").await["discount"]["basis_points"], 1500);
}

async fn carts_are_validated_and_uses_reserved_over_http(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let csv = "code,discount_type,value,expires_at,minimum_spend,usage_limit,stackable,categories\n\
               TEA10,percent,10,,,1,no,tea\n\
               OLD,fixed,10,2020-01-01,,,,\n\
               BIG,fixed,10,,5000,,,\n\
               SHIP,free_shipping,,,,,yes,\n\
               MORE,fixed,50,,,,no,\n";
    assert_eq!(import_csv(&app, &app.key, csv).await.status(), 201);

    let r = app
        .post(
            "/api/v1/coupons/validate",
            &json!({ "cart": cart(), "codes": ["tea10", "OLD", "BIG", "SHIP", "MORE", "NOPE1"] }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let answers: Vec<(bool, i64, Option<&str>)> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["applies"].as_bool().unwrap(),
                a["discount"].as_i64().unwrap(),
                a["refusal"]["code"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        answers,
        vec![
            (true, 9_990, None),
            (false, 0, Some("coupon_expired")),
            (false, 0, Some("minimum_spend_not_met")),
            (true, 4_900, None),
            (false, 0, Some("not_stackable")),
            (false, 0, Some("unknown_coupon")),
        ]
    );
    assert_eq!(v["total_discount"], 14_890);

    let (status, code, field) = problem(
        app.post("/api/v1/coupons/validate", &json!({ "cart": { "currency": "INR", "lines": [{ "quantity": 0, "unit_price": 1 }] }, "codes": ["TEA10"] }))
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "invalid_quantity", Some("cart.lines[0].quantity"))
    );
    let (status, code, field) = problem(
        app.post(
            "/api/v1/coupons/validate",
            &json!({ "cart": { "currency": "USD", "lines": [] }, "codes": ["TEA10"] }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "currency_mismatch", Some("cart.currency"))
    );

    // Reserve the only use, with a retry under the same key answering the same reservation.
    let reserve = |key: Option<&'static str>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/coupons/reservations"))
            .bearer_auth(&app.key)
            .json(&json!({ "code": "TEA10", "cart": cart(), "ttl_seconds": 900 }));
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send()
    };
    let first = reserve(Some("checkout-1")).await.unwrap();
    assert_eq!(first.status(), 201);
    let held: Value = first.json().await.unwrap();
    assert_eq!(held["discount"], 9_990);
    let replay = reserve(Some("checkout-1")).await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], held["id"]);
    assert_eq!(coupon(&app, "TEA10").await["reserved"], 1);

    let (status, code, field) = problem(reserve(None).await.unwrap()).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (409, "usage_limit_reached", Some("code"))
    );

    let path = format!("/api/v1/coupons/reservations/{}", held["id"].as_str().unwrap());
    let released = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), 200);
    let again = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(again).await.0, 404);
    assert_eq!(
        reserve(None).await.unwrap().status(),
        201,
        "the released use is free again"
    );

    let r = app
        .post(
            "/api/v1/coupons/reservations",
            &json!({ "code": "NOPE1", "cart": cart(), "ttl_seconds": 60 }),
        )
        .await;
    let (status, code, _) = problem(r).await;
    assert_eq!((status, code.as_str()), (404, "unknown_coupon"));
    let r = app
        .post(
            "/api/v1/coupons/reservations",
            &json!({ "code": "SHIP", "cart": cart(), "ttl_seconds": 0 }),
        )
        .await;
    let (status, code, field) = problem(r).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "invalid_ttl", Some("ttl_seconds"))
    );
}

/// A first-orders-only code (the friend's side of a referral) made over the API: a new
/// customer and an anonymous cart may use it; a customer who ordered before is refused
/// `not_first_order` by validation and by reservation.
async fn first_order_codes_refuse_returning_customers_over_http(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app
        .post(
            "/api/v1/coupons/batches",
            &json!({
                "name": "Friends",
                "count": 1,
                "prefix": "FRIEND-",
                "discount": { "kind": "percent", "basis_points": 1000 },
                "usage_limit": null,
                "first_order_only": true
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let batch: Value = r.json().await.unwrap();
    let listed: Value = app
        .get(&format!(
            "/api/v1/coupons?batch={}",
            batch["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    let code = listed["data"][0]["code"].as_str().unwrap().to_string();
    assert_eq!(listed["data"][0]["first_order_only"], true);
    // Without the flag, codes are for any order.
    let csv = "code,discount_type,value
ANYONE-1,fixed,10
";
    assert_eq!(import_csv(&app, &app.key, csv).await.status(), 201);
    assert_eq!(coupon(&app, "ANYONE-1").await["first_order_only"], false);

    assert_eq!(
        app.post("/api/v1/orders", &order_json("1001", "1499.00"))
            .await
            .status(),
        201
    );
    let returning: Value = app
        .get("/api/v1/customers?external_id=cust-1")
        .await
        .json()
        .await
        .unwrap();
    let returning = returning["data"][0]["id"].as_str().unwrap().to_string();
    let newcomer: Value = app
        .post(
            "/api/v1/customers",
            &json!({ "external_id": "new-1", "email": "asha@example.in" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let newcomer = newcomer["id"].as_str().unwrap().to_string();

    let app = &app;
    let validate = |customer: Option<&str>| {
        let mut body = json!({ "cart": cart(), "codes": [code.to_lowercase(), "ANYONE-1"] });
        if let Some(c) = customer {
            body["customer_id"] = json!(c);
        }
        async move { app.post("/api/v1/coupons/validate", &body).await }
    };
    let answers = |v: Value| -> Vec<(bool, Option<String>)> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["applies"].as_bool().unwrap(),
                    a["refusal"]["code"].as_str().map(str::to_string),
                )
            })
            .collect()
    };
    let v: Value = validate(Some(&returning)).await.json().await.unwrap();
    assert_eq!(
        answers(v.clone()),
        vec![(false, Some("not_first_order".into())), (true, None)]
    );
    assert_eq!(
        v["results"][0]["refusal"]["message"],
        "this coupon is for a customer's first order"
    );
    for who in [Some(newcomer.as_str()), None] {
        let v: Value = validate(who).await.json().await.unwrap();
        assert_eq!(
            answers(v.clone()),
            vec![(true, None), (false, Some("not_stackable".into()))],
            "{who:?}"
        );
        assert_eq!(v["results"][0]["discount"], 12_990, "{who:?}");
    }

    let reserve = |customer: &str| {
        let body = json!({ "code": code, "cart": cart(), "customer_id": customer, "ttl_seconds": 60 });
        async move { app.post("/api/v1/coupons/reservations", &body).await }
    };
    let (status, refusal, field) = problem(reserve(&returning).await).await;
    assert_eq!(
        (status, refusal.as_str(), field.as_deref()),
        (409, "not_first_order", Some("code"))
    );
    assert_eq!(reserve(&newcomer).await.status(), 201);

    let (status, refusal, field) = problem(
        app.post(
            "/api/v1/coupons/batches",
            &json!({ "count": 1, "discount": { "kind": "free_shipping" }, "first_order_only": "yes" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{refusal} {field:?}");
}

async fn shopify(app: &TestApp, topic: &str, delivery: &str, body: &[u8]) -> u16 {
    app.client
        .post(app.url(&format!("/webhooks/shopify/{}", app.store.id)))
        .header("content-type", "application/json")
        .header("x-shopify-topic", topic)
        .header("x-shopify-webhook-id", delivery)
        .header("x-shopify-hmac-sha256", sign(SHOP_SECRET, body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The fixture order names the code TENOFF: imported into our engine first, the order
/// redeems it once however often it arrives, and its cancellation gives the use back.
async fn a_shopify_order_redeems_an_imported_code_and_its_cancellation_rolls_back(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.db
        .add_webhook_secret(app.store.id, Source::Shopify, SHOP_SECRET)
        .await
        .unwrap();
    let csv = "code,discount_type,value,usage_limit\ntenoff,fixed,10.00,100\n";
    assert_eq!(import_csv(&app, &app.key, csv).await.status(), 201);

    let order = inner("shopify/rest_order.shopify-api-ruby.json", "order");
    assert_eq!(shopify(&app, "orders/create", "d-1", &order).await, 200);
    assert_eq!(coupon(&app, "TENOFF").await["used"], 1);
    // Shopify retries, and sends orders/updated and orders/paid for the same order.
    assert_eq!(shopify(&app, "orders/create", "d-1", &order).await, 200);
    assert_eq!(shopify(&app, "orders/updated", "d-2", &order).await, 200);
    let mut paid: Value = serde_json::from_slice(&order).unwrap();
    paid["financial_status"] = json!("paid");
    paid["updated_at"] = json!("2008-01-10T12:00:00-05:00");
    let paid = serde_json::to_vec(&paid).unwrap();
    assert_eq!(shopify(&app, "orders/paid", "d-3", &paid).await, 200);
    assert_eq!(coupon(&app, "TENOFF").await["used"], 1, "one order counts once");

    // The fixture refund returns 209.00 of 409.94: a partial refund keeps the use.
    let refund = inner("shopify/rest_refund.shopify-api-ruby.json", "refund");
    assert_eq!(shopify(&app, "refunds/create", "d-4", &refund).await, 200);
    assert_eq!(coupon(&app, "TENOFF").await["used"], 1);

    let mut cancelled: Value = serde_json::from_slice(&paid).unwrap();
    cancelled["cancelled_at"] = json!("2008-01-11T09:00:00-05:00");
    cancelled["cancel_reason"] = json!("customer");
    cancelled["updated_at"] = json!("2008-01-11T09:00:00-05:00");
    let cancelled = serde_json::to_vec(&cancelled).unwrap();
    assert_eq!(shopify(&app, "orders/cancelled", "d-5", &cancelled).await, 200);
    let after = coupon(&app, "TENOFF").await;
    assert_eq!(
        (after["used"].as_i64(), after["status"].as_str()),
        (Some(0), Some("active"))
    );
}

async fn another_store_cannot_see_reserve_or_release_a_stores_coupons(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, other_key) = app.other_store().await;
    let csv = "code,discount_type,value,usage_limit\nMINE-1,fixed,10,1\n";
    assert_eq!(import_csv(&app, &app.key, csv).await.status(), 201);
    let held: Value = app
        .post(
            "/api/v1/coupons/reservations",
            &json!({ "code": "MINE-1", "cart": cart(), "ttl_seconds": 60 }),
        )
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        problem(app.get_as(&other_key, "/api/v1/coupons/MINE-1").await)
            .await
            .0,
        404
    );
    let listed: Value = app
        .get_as(&other_key, "/api/v1/coupons")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]));
    let mut amd_cart = cart();
    amd_cart["currency"] = json!("AMD");
    let r = app
        .post_as(
            &other_key,
            "/api/v1/coupons/reservations",
            &json!({ "code": "MINE-1", "cart": amd_cart, "ttl_seconds": 60 }),
        )
        .await;
    assert_eq!(problem(r).await.0, 404);
    let v: Value = app
        .post_as(
            &other_key,
            "/api/v1/coupons/validate",
            &json!({ "cart": amd_cart, "codes": ["MINE-1"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["results"][0]["refusal"]["code"], "unknown_coupon");
    let path = format!("/api/v1/coupons/reservations/{}", held["id"].as_str().unwrap());
    let r = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, 404);
    assert_eq!(
        coupon(&app, "MINE-1").await["reserved"],
        1,
        "the owner's reservation stands"
    );
}

/// The staff page: a marketer generates a batch, downloads it and sees a refused import's
/// rows by line, in Hindi; a viewer sees the codes but may not make any.
async fn staff_generate_download_and_import_coupons_from_the_dashboard(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "meera@chai.example", Role::Marketer).await;
    person(&app, "vikram@chai.example", Role::Viewer).await;
    let mut meera = Browser::new();
    meera.cookies.push("regulars_lang=hi".into());
    let csrf = meera.sign_in(&app, "meera@chai.example").await;
    let base = format!("/app/{}/coupons", app.store.id);

    let page = meera.get(&app, &base).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("कोड बनाएँ"), "the page speaks Hindi");
    assert!(
        html.contains(&format!("href=\"{base}\"")),
        "coupons are in the navigation"
    );

    let r = meera
        .post(
            &app,
            &format!("{base}/batches"),
            &[
                ("csrf", &csrf),
                ("name", "Holi"),
                ("count", "25"),
                ("pattern", "HOLI-????-##"),
                ("kind", "fixed"),
                ("value", "150.00"),
                ("usage_limit", "1"),
                ("expires", "2099-03-14"),
                ("first_order_only", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let listed: Value = app.get("/api/v1/coupons?limit=100").await.json().await.unwrap();
    let codes = listed["data"].as_array().unwrap();
    assert_eq!(codes.len(), 25);
    assert_eq!(codes[0]["discount"], json!({ "kind": "fixed", "amount": 15_000 }));
    assert_eq!(codes[0]["first_order_only"], true, "the form's checkbox");
    assert_eq!(
        codes[0]["expires_at"], "2099-03-14T18:30:00.000Z",
        "through the 14th in Kolkata"
    );
    let batch = codes[0]["batch_id"].as_str().unwrap();
    let html = meera
        .get(&app, &format!("{base}?batch={batch}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<span class="badge">केवल पहले ऑर्डर के लिए</span>"#),
        "the codes say they are for first orders, in Hindi"
    );

    let csv = meera
        .get(&app, &format!("{base}/batches/{batch}/codes.csv"))
        .await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = csv.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 26);
    assert_eq!(lines[0], "code,status,used,usage_limit,expires_at");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.starts_with("HOLI-") && l.contains(",active,0,1,")),
        "{body}"
    );

    // A bad form value is answered on the page, naming what to fix.
    let r = meera
        .post(
            &app,
            &format!("{base}/batches"),
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("count", "10"),
                ("kind", "percent"),
                ("value", "150"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("प्रतिशत 0.01 से 100 के बीच हो"));

    let upload = |csrf: &str, file: &'static str| {
        Form::new()
            .text("csrf", csrf.to_string())
            .text("name", "old codes")
            .part(
                "file",
                Part::bytes(file.as_bytes().to_vec()).file_name("codes.csv"),
            )
    };
    let r = meera
        .client
        .post(app.url(&format!("{base}/import")))
        .header("cookie", meera.cookies.join("; "))
        .multipart(upload(
            &csrf,
            "code,discount_type,value\nOK-1,fixed,10\nOK-1,fixed,10\nBAD,percent,x\n",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("पंक्ति 3, code: यह कोड फ़ाइल में दो बार है।"), "{html}");
    assert!(html.contains("पंक्ति 4, value:"), "{html}");
    assert_eq!(app.count("coupons").await, 25, "a refused file leaves nothing");
    let r = meera
        .client
        .post(app.url(&format!("{base}/import")))
        .header("cookie", meera.cookies.join("; "))
        .multipart(upload(&csrf, "code,discount_type,value\nOK-1,fixed,10\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(coupon(&app, "OK-1").await["discount"]["amount"], 1_000);
    let r = meera
        .client
        .post(app.url(&format!("{base}/import")))
        .header("cookie", meera.cookies.join("; "))
        .multipart(upload("forged", "code,discount_type,value\nOK-2,fixed,10\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the form's CSRF token is checked");

    let mut vikram = Browser::new();
    let viewer_csrf = vikram.sign_in(&app, "vikram@chai.example").await;
    let page = vikram.get(&app, &base).await.text().await.unwrap();
    assert!(page.contains("HOLI-"), "a viewer sees the codes");
    assert!(
        page.contains(r#"<span class="badge">First orders only</span>"#),
        "and that they are for first orders"
    );
    assert!(
        !page.contains(&format!("action=\"{base}/batches\"")),
        "but no form to make any"
    );
    let r = vikram
        .post(
            &app,
            &format!("{base}/batches"),
            &[
                ("csrf", &viewer_csrf),
                ("name", "x"),
                ("count", "1"),
                ("kind", "free_shipping"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        vikram
            .get(&app, &format!("{base}/batches/{batch}/codes.csv"))
            .await
            .status(),
        403
    );

    // Another store's page is not found for Meera.
    let (other, _) = app.other_store().await;
    assert_eq!(
        meera
            .get(&app, &format!("/app/{}/coupons", other.id))
            .await
            .status(),
        404
    );
}

on_both_backends!(
    a_batch_is_generated_listed_by_pages_and_found_by_code,
    an_import_lists_every_bad_row_and_writes_nothing,
    carts_are_validated_and_uses_reserved_over_http,
    first_order_codes_refuse_returning_customers_over_http,
    a_shopify_order_redeems_an_imported_code_and_its_cancellation_rolls_back,
    another_store_cannot_see_reserve_or_release_a_stores_coupons,
    staff_generate_download_and_import_coupons_from_the_dashboard,
);
