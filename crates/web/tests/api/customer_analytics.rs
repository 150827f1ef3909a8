//! Customers' predictions over HTTP: the `analytics` object of the API's customer, the list
//! filtered by segment or VIPs and sorted by predicted value, and the dashboard's profile and
//! list showing them.

use regulars_domain::{Role, Timestamp};
use regulars_testkit::{on_both_backends, Backend};
use serde_json::{json, Value};

use crate::helpers::{problem, TestApp};
use crate::staff::{person, Browser};

const DAY_MS: i64 = 86_400_000;

/// `fan-*` buy every two weeks up to a few days ago, `gone-*` bought as often but stopped
/// ten months ago, `once-*` bought once.
fn orders() -> Vec<Value> {
    let now = Timestamp::now().0;
    let order = |ext: &str, k: usize, days_ago: i64, total: String| {
        json!({
            "external_id": format!("{ext}-{k}"),
            "customer": { "external_id": ext, "email": format!("{ext}@example.in"), "first_name": ext },
            "placed_at": Timestamp(now - days_ago * DAY_MS).to_rfc3339(),
            "currency": "INR",
            "total": total,
            "line_items": [{ "sku": "TEA", "title": "Tea", "quantity": 1, "price": total }]
        })
    };
    let mut out = Vec::new();
    for i in 0..15 {
        for k in 0..12 {
            out.push(order(
                &format!("fan-{i}"),
                k,
                2 + i % 5 + 14 * k as i64,
                format!("{}.00", 500 + i),
            ));
            out.push(order(
                &format!("gone-{i}"),
                k,
                300 + 14 * k as i64,
                format!("{}.00", 500 + i),
            ));
        }
    }
    for i in 0..20 {
        out.push(order(
            &format!("once-{i}"),
            0,
            10 + 20 * i,
            format!("{}.00", 100 + i),
        ));
    }
    out
}

async fn store_with_predictions(app: &TestApp) {
    let r = app.post("/api/v1/orders/bulk", &Value::Array(orders())).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let report = app.db.refit_store(app.store.id).await.unwrap();
    assert!(report.fitted, "{report:?}");
}

async fn list(app: &TestApp, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/api/v1/customers?{query}&limit=7&after={a}"),
            None => format!("/api/v1/customers?{query}&limit=7"),
        };
        let r = app.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        let body: Value = r.json().await.unwrap();
        out.extend(body["data"].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => return out,
        }
    }
}

fn clv(c: &Value) -> f64 {
    c["analytics"]["clv_12m"].as_str().unwrap().parse().unwrap()
}

async fn the_api_carries_predictions_and_sorts_and_filters_by_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.post("/api/v1/orders/bulk", &Value::Array(orders())).await;
    assert_eq!(r.status(), 200);
    let fan: Value = app
        .get("/api/v1/customers?external_id=fan-0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fan["data"][0]["analytics"], Value::Null, "no refit yet");

    store_with_predictions(&app).await;
    let fan: Value = app
        .get("/api/v1/customers?external_id=fan-0")
        .await
        .json()
        .await
        .unwrap();
    let id = fan["data"][0]["id"].as_str().unwrap().to_string();
    let one: Value = app
        .get(&format!("/api/v1/customers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let a = &one["analytics"];
    assert!(a["p_alive"].as_f64().unwrap() > 0.8, "{a}");
    assert!(a["predicted_purchases_12m"].as_f64().unwrap() > 5.0, "{a}");
    // Money as a decimal string in the store's currency.
    let value = a["clv_12m"].as_str().unwrap();
    assert!(value.split_once('.').unwrap().1.len() == 2, "{value}");
    assert!(value.parse::<f64>().unwrap() > 1000.0, "{value}");
    assert!(Timestamp::parse_rfc3339(a["next_purchase_at"].as_str().unwrap()).is_ok());
    let rfm = &a["rfm"];
    assert_eq!(
        rfm["score"],
        format!("{}-{}-{}", rfm["recency"], rfm["frequency"], rfm["monetary"])
    );
    assert!(a["segment"].is_string() && a["vip"].is_boolean());
    assert!(Timestamp::parse_rfc3339(a["computed_at"].as_str().unwrap()).is_ok());

    // Sorted by predicted value, highest first, across pages.
    let everyone = list(&app, "sort=clv").await;
    assert_eq!(everyone.len(), 50);
    let values: Vec<f64> = everyone.iter().map(clv).collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
    assert!(everyone[..15]
        .iter()
        .all(|c| c["first_name"].as_str().unwrap().starts_with("fan-")));
    let lowest_first = list(&app, "sort=clv&direction=asc").await;
    assert_eq!(
        lowest_first.first().unwrap()["id"],
        everyone.last().unwrap()["id"]
    );
    let by_chance = list(&app, "sort=p_alive").await;
    assert!(by_chance
        .windows(2)
        .all(|w| w[0]["analytics"]["p_alive"].as_f64() >= w[1]["analytics"]["p_alive"].as_f64()));

    // Filtered by segment (by id, or sorted), and by VIPs.
    let mut segments: Vec<String> = everyone
        .iter()
        .map(|c| c["analytics"]["segment"].as_str().unwrap().to_string())
        .collect();
    segments.sort();
    segments.dedup();
    assert!(segments.len() >= 3, "{segments:?}");
    for segment in &segments {
        let want: Vec<&Value> = everyone
            .iter()
            .filter(|c| c["analytics"]["segment"] == segment.as_str())
            .collect();
        let sorted = list(&app, &format!("segment={segment}&sort=clv")).await;
        assert_eq!(
            sorted.iter().map(|c| &c["id"]).collect::<Vec<_>>(),
            want.iter().map(|c| &c["id"]).collect::<Vec<_>>(),
            "{segment}"
        );
        let by_id = list(&app, &format!("segment={segment}")).await;
        assert_eq!(by_id.len(), want.len());
        assert!(by_id
            .windows(2)
            .all(|w| w[0]["id"].as_str() < w[1]["id"].as_str()));
    }
    let vips = list(&app, "vip=true&sort=clv").await;
    assert!(!vips.is_empty() && vips.iter().all(|c| c["analytics"]["vip"] == true));
    assert_eq!(
        vips.len(),
        everyone.iter().filter(|c| c["analytics"]["vip"] == true).count()
    );

    // Bad input is named.
    let (status, code, field) = problem(app.get("/api/v1/customers?segment=regulars").await).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "invalid_segment", Some("segment"))
    );
    let (status, code, field) = problem(app.get("/api/v1/customers?sort=charm").await).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "invalid_sort", Some("sort"))
    );
    let (status, code, _) = problem(app.get("/api/v1/customers?sort=clv&email=fan-0@example.in").await).await;
    assert_eq!((status, code.as_str()), (422, "invalid_query"));

    // Another store sees none of it.
    let (_, other_key) = app.other_store().await;
    let other: Value = app
        .get_as(&other_key, "/api/v1/customers?sort=clv")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["data"], json!([]));
}

async fn the_dashboard_shows_predictions_and_lists_by_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    store_with_predictions(&app).await;
    person(&app, "viewer@chai.in", Role::Viewer).await;
    let mut viewer = Browser::new();
    viewer.sign_in(&app, "viewer@chai.in").await;
    let base = format!("/app/{}/customers", app.store.id);

    let fan: Value = app
        .get("/api/v1/customers?external_id=fan-0")
        .await
        .json()
        .await
        .unwrap();
    let fan = &fan["data"][0];
    let profile = viewer
        .get(&app, &format!("{base}/{}", fan["id"].as_str().unwrap()))
        .await
        .text()
        .await
        .unwrap();
    assert!(profile.contains("id=\"predictions\""), "{profile}");
    for label in [
        "Chance still active",
        "Expected purchases (12 months)",
        "Predicted value (12 months)",
        "Next purchase expected",
        "RFM score",
        "As of ",
    ] {
        assert!(profile.contains(label), "{label}");
    }
    let a = &fan["analytics"];
    assert!(profile.contains(a["rfm"]["score"].as_str().unwrap()));
    // Money the Indian way, a share as a percentage.
    assert!(profile.contains('₹') && profile.contains('%'));

    let by_value = viewer
        .get(&app, &format!("{base}?sort=clv"))
        .await
        .text()
        .await
        .unwrap();
    let first_row = by_value.split("customer-link").nth(1).unwrap();
    assert!(first_row.contains("fan-"), "{first_row}");
    assert!(by_value.contains("Predicted value"), "the sort is offered");

    // The lapsed customers' segment, by its name.
    let gone: Value = app
        .get("/api/v1/customers?external_id=gone-0")
        .await
        .json()
        .await
        .unwrap();
    let segment = gone["data"][0]["analytics"]["segment"]
        .as_str()
        .unwrap()
        .to_string();
    let name = [
        ("champions", "Champions"),
        ("loyal_customers", "Loyal Customers"),
        ("potential_loyalist", "Potential Loyalist"),
        ("new_customers", "New Customers"),
        ("promising", "Promising"),
        ("need_attention", "Need Attention"),
        ("about_to_sleep", "About To Sleep"),
        ("at_risk", "At Risk"),
        ("cant_lose_them", "Can&#x27;t Lose Them"),
        ("hibernating", "Hibernating"),
        ("lost", "Lost"),
    ]
    .into_iter()
    .find(|(k, _)| *k == segment)
    .unwrap()
    .1;
    let page = viewer
        .get(&app, &format!("{base}?segment={segment}&sort=p_alive"))
        .await
        .text()
        .await
        .unwrap();
    let listed = page.matches("class=\"customer-link\"").count();
    let want = list(&app, &format!("segment={segment}")).await.len();
    assert!(want > 0);
    assert_eq!(listed, want);
    assert_eq!(
        page.matches(&format!("<td class=\"segment\">{name}")).count(),
        want,
        "{page}"
    );

    let vips = viewer
        .get(&app, &format!("{base}?vip=1"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        vips.matches("class=\"customer-link\"").count(),
        list(&app, "vip=true").await.len()
    );

    // Another language, every word translated.
    let telugu = viewer
        .client
        .get(app.url(&format!("{base}/{}", fan["id"].as_str().unwrap())))
        .header(
            "cookie",
            format!("{}; regulars_lang=te", viewer.cookies.join("; ")),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        telugu.contains("అంచనాలు") && telugu.contains("RFM స్కోరు"),
        "{telugu}"
    );
    assert!(!telugu.contains("Chance still active"));

    let bad = viewer.get(&app, &format!("{base}?segment=regulars")).await;
    assert_eq!(bad.status(), 200);
    assert!(bad.text().await.unwrap().contains("Segment"));
}

on_both_backends!(
    the_api_carries_predictions_and_sorts_and_filters_by_them,
    the_dashboard_shows_predictions_and_lists_by_them,
);
