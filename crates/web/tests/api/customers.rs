//! The customer directory, profiles and orders pages over HTTP: who may see and change what,
//! what the CSV export holds, and that no store's customer is reachable from another (S1).

use regulars_domain::{Email, Role};
use regulars_testkit::{on_both_backends, Backend};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::staff::{person, Browser};

fn order(number: &str, customer: Value, total: &str, placed: &str) -> Value {
    json!({
        "external_id": format!("ext-{number}"),
        "order_number": format!("#{number}"),
        "customer": customer,
        "placed_at": placed,
        "currency": "INR",
        "total": total,
        "line_items": [{ "sku": "TEA-ASSAM-250", "title": "Assam tea 250 g", "quantity": 1, "price": total }]
    })
}

/// Three customers of the test store: Priya (2 orders, tagged vip, email consent), Ravi and a
/// spreadsheet-minded one whose name would run as a formula.
async fn customers(app: &TestApp) {
    let priya = json!({ "external_id": "c-priya", "email": "priya@example.in", "first_name": "प्रिया",
        "last_name": "Sharma", "phone": "+91 98765 43210", "tags": ["vip"],
        "consent": [{ "channel": "email", "granted": true }] });
    let ravi = json!({ "external_id": "c-ravi", "email": "ravi@example.in", "first_name": "Ravi", "last_name": "Kumar" });
    let formula =
        json!({ "external_id": "c-eq", "email": "eq@example.in", "first_name": "=HYPERLINK(\"http://x\")" });
    for (body, path) in [
        (
            order("1001", priya.clone(), "1200.00", "2025-03-01T10:00:00+05:30"),
            "/api/v1/orders",
        ),
        (
            order("1002", priya, "800.00", "2025-04-01T10:00:00+05:30"),
            "/api/v1/orders",
        ),
        (
            order("1003", ravi, "99.00", "2025-05-01T10:00:00+05:30"),
            "/api/v1/orders",
        ),
        (
            order("1004", formula, "10.00", "2025-05-02T10:00:00+05:30"),
            "/api/v1/orders",
        ),
    ] {
        let r = app.post(path, &body).await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

async fn customer_id(app: &TestApp, email: &str) -> String {
    let page = app.get(&format!("/api/v1/customers?email={email}")).await;
    let body: Value = page.json().await.unwrap();
    body["data"][0]["id"].as_str().unwrap().to_string()
}

async fn signed_in(app: &TestApp, email: &str, role: Role) -> (Browser, String) {
    person(app, email, role).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(app, email).await;
    (browser, csrf)
}

async fn the_list_searches_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    customers(&app).await;
    let (viewer, _) = signed_in(&app, "viewer@chai.in", Role::Viewer).await;
    let base = format!("/app/{}/customers", app.store.id);

    let all = viewer.get(&app, &base).await;
    assert_eq!(all.status(), 200);
    let html = all.text().await.unwrap();
    for name in ["प्रिया Sharma", "Ravi Kumar"] {
        assert!(html.contains(name), "{name} listed");
    }
    // ₹2,000.00 spent by Priya, written the Indian way.
    assert!(html.contains("₹2,000.00"), "{html}");
    assert!(
        !html.contains("customers.csv"),
        "a viewer is not offered the export"
    );

    let found = viewer
        .get(&app, &format!("{base}?q=98765"))
        .await
        .text()
        .await
        .unwrap();
    assert!(found.contains("प्रिया Sharma") && !found.contains("Ravi Kumar"));
    let tagged = viewer
        .get(&app, &format!("{base}?tag=vip"))
        .await
        .text()
        .await
        .unwrap();
    assert!(tagged.contains("प्रिया Sharma") && !tagged.contains("Ravi Kumar"));
    let big = viewer
        .get(&app, &format!("{base}?spent_min=1000&sort=spent"))
        .await
        .text()
        .await
        .unwrap();
    assert!(big.contains("प्रिया Sharma") && !big.contains("Ravi Kumar"));

    // htmx asks for the results alone.
    let part = viewer
        .client
        .get(app.url(&format!("{base}?q=ravi")))
        .header("cookie", viewer.cookies.join("; "))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(part.contains("Ravi Kumar") && !part.contains("<html"), "{part}");
    // Going back in history, htmx asks for the whole page again.
    let restored = viewer
        .client
        .get(app.url(&format!("{base}?q=ravi")))
        .header("cookie", viewer.cookies.join("; "))
        .header("hx-request", "true")
        .header("hx-history-restore-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(restored.headers()["vary"], "HX-Request");
    assert!(restored.text().await.unwrap().contains("<html"));

    // A bad filter is named, not a crash.
    let bad = viewer.get(&app, &format!("{base}?spent_min=lots")).await;
    assert_eq!(bad.status(), 200);
    assert!(bad.text().await.unwrap().contains("Spent at least"));

    // Three customers fit one page: no link to a next one.
    assert!(!html.contains("rel=\"next\""));
}

async fn the_export_follows_the_filter_and_defuses_formulas(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    customers(&app).await;
    let (viewer, _) = signed_in(&app, "viewer@chai.in", Role::Viewer).await;
    let (marketer, _) = signed_in(&app, "marketer@chai.in", Role::Marketer).await;
    let csv = format!("/app/{}/customers.csv", app.store.id);
    assert_eq!(viewer.get(&app, &csv).await.status(), 403);

    let all = marketer.get(&app, &csv).await;
    assert_eq!(all.status(), 200);
    assert!(all.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = all.text().await.unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,first_name,last_name,email,phone,orders_count,total_spent"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{text}");
    let priya = rows.iter().find(|r| r.contains("priya@example.in")).unwrap();
    assert!(priya.contains(",+919876543210,2,2000.00,INR,"), "{priya}");
    assert!(priya.contains(",vip,true,,"), "{priya}");
    let formula = rows.iter().find(|r| r.contains("eq@example.in")).unwrap();
    assert!(formula.contains("'=HYPERLINK"), "{formula}");

    let vip = marketer
        .get(&app, &format!("{csv}?tag=vip"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(vip.lines().count(), 2, "{vip}");
}

async fn profiles_show_orders_and_staff_changes_need_the_right_role(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    customers(&app).await;
    let priya = customer_id(&app, "priya@example.in").await;
    let profile = format!("/app/{}/customers/{priya}", app.store.id);
    let (viewer, viewer_csrf) = signed_in(&app, "viewer@chai.in", Role::Viewer).await;
    let (support, support_csrf) = signed_in(&app, "support@chai.in", Role::Support).await;
    let (manager, manager_csrf) = signed_in(&app, "meera@chai.in", Role::AccountManager).await;
    let (owner, owner_csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;

    let html = viewer.get(&app, &profile).await.text().await.unwrap();
    for expected in [
        "प्रिया Sharma",
        "#1001",
        "#1002",
        "Assam tea 250 g",
        "priya@example.in",
        "c-priya",
        "vip",
    ] {
        assert!(html.contains(expected), "{expected} on the profile");
    }
    assert!(!html.contains("name=\"body\""), "a viewer gets no note form");

    // A viewer may not change anything, with or without the token.
    let notes = format!("{profile}/notes");
    assert_eq!(
        viewer
            .post(&app, &notes, &[("csrf", &viewer_csrf), ("body", "x")])
            .await
            .status(),
        403
    );
    // Support writes notes and tags, but only with the session's token…
    assert_eq!(
        support.post(&app, &notes, &[("body", "forged")]).await.status(),
        403
    );
    let r = support
        .post(
            &app,
            &notes,
            &[("csrf", &support_csrf), ("body", "Asked for a Diwali gift box")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = support
        .post(
            &app,
            &format!("{profile}/tags"),
            &[("csrf", &support_csrf), ("tags", "vip, diwali-2025")],
        )
        .await;
    assert_eq!(r.status(), 303);
    // …and does not assign account managers.
    let assign = format!("{profile}/manager");
    let meera = app
        .db
        .user_by_email(&Email::parse("meera@chai.in").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    assert_eq!(
        support
            .post(&app, &assign, &[("csrf", &support_csrf), ("manager", &meera)])
            .await
            .status(),
        403
    );

    let html = viewer.get(&app, &profile).await.text().await.unwrap();
    assert!(html.contains("Asked for a Diwali gift box") && html.contains("support@chai.in"));
    assert!(html.contains("diwali-2025"));

    // An account manager takes Priya on but cannot hand her to someone else.
    let owner_id = app
        .db
        .user_by_email(&Email::parse("owner@chai.in").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    assert_eq!(
        manager
            .post(&app, &assign, &[("csrf", &manager_csrf), ("manager", &owner_id)])
            .await
            .status(),
        403
    );
    assert_eq!(
        manager
            .post(&app, &assign, &[("csrf", &manager_csrf), ("manager", &meera)])
            .await
            .status(),
        303
    );
    // Their customer list starts at "my customers".
    let mine = manager
        .get(&app, &format!("/app/{}/customers", app.store.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        mine.contains("प्रिया Sharma") && !mine.contains("Ravi Kumar"),
        "{mine}"
    );
    // The owner can give her to someone else, or to nobody.
    assert_eq!(
        owner
            .post(&app, &assign, &[("csrf", &owner_csrf), ("manager", "")])
            .await
            .status(),
        303
    );
    let mine = manager
        .get(&app, &format!("/app/{}/customers?manager=me", app.store.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(!mine.contains("प्रिया Sharma"));
    // Every change is on her timeline.
    let html = viewer.get(&app, &profile).await.text().await.unwrap();
    assert!(
        html.contains("Account manager changed")
            && html.contains("Note added")
            && html.contains("Tags changed")
    );
    // A too-long tag is refused with words, and nothing changes.
    let long = "x".repeat(80);
    let r = owner
        .post(
            &app,
            &format!("{profile}/tags"),
            &[("csrf", &owner_csrf), ("tags", &long)],
        )
        .await;
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{profile}?error=tags#tags")
    );
    assert!(viewer
        .get(&app, &profile)
        .await
        .text()
        .await
        .unwrap()
        .contains("diwali-2025"));
}

async fn no_customer_or_order_of_another_store_is_reachable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    customers(&app).await;
    let (other, other_key) = app.other_store().await;
    let r = app
        .post_as(&other_key, "/api/v1/orders", &{
            let mut o = order(
                "9001",
                json!({ "external_id": "arm-1", "email": "aram@example.am", "first_name": "Արամ" }),
                "5000",
                "2025-05-01T10:00:00+04:00",
            );
            o["currency"] = json!("AMD");
            o
        })
        .await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let theirs: Value = app
        .get_as(&other_key, "/api/v1/customers")
        .await
        .json()
        .await
        .unwrap();
    let their_customer = theirs["data"][0]["id"].as_str().unwrap().to_string();
    let their_orders: Value = app
        .get_as(&other_key, "/api/v1/orders")
        .await
        .json()
        .await
        .unwrap();
    let their_order = their_orders["data"][0]["id"].as_str().unwrap().to_string();

    let (owner, csrf) = signed_in(&app, "owner@chai.in", Role::Owner).await;
    let mine = app.store.id;
    // Through our own store's URL: not found, and nothing written.
    for path in [
        format!("/app/{mine}/customers/{their_customer}"),
        format!("/app/{mine}/orders/{their_order}"),
    ] {
        let r = owner.get(&app, &path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(!r.text().await.unwrap().contains("Արամ"));
    }
    let r = owner
        .post(
            &app,
            &format!("/app/{mine}/customers/{their_customer}/notes"),
            &[("csrf", &csrf), ("body", "x")],
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.count("customer_notes").await, 0);
    // Through their store's URL: not found either (S1: not even "forbidden").
    for path in [
        format!("/app/{}/customers/{their_customer}", other.id),
        format!("/app/{}/customers", other.id),
        format!("/app/{}/orders/{their_order}", other.id),
    ] {
        assert_eq!(owner.get(&app, &path).await.status(), 404, "{path}");
    }
    // Our search never finds their customer.
    let html = owner
        .get(&app, &format!("/app/{mine}/customers?q=aram"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Արամ"));
}

async fn orders_are_listed_searched_and_shown(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    customers(&app).await;
    let (viewer, _) = signed_in(&app, "viewer@chai.in", Role::Viewer).await;
    let base = format!("/app/{}/orders", app.store.id);
    let html = viewer.get(&app, &base).await.text().await.unwrap();
    let positions: Vec<usize> = ["#1004", "#1003", "#1002", "#1001"]
        .iter()
        .map(|n| html.find(&format!(">{n}<")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "newest first");
    let found = viewer
        .get(&app, &format!("{base}?q=1002"))
        .await
        .text()
        .await
        .unwrap();
    assert!(found.contains(">#1002<") && !found.contains(">#1001<"));
    let href = found
        .split("href=\"")
        .find(|s| s.starts_with(&format!("{base}/")))
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let detail = viewer.get(&app, &href).await;
    assert_eq!(detail.status(), 200);
    let detail = detail.text().await.unwrap();
    assert!(
        detail.contains("Assam tea 250 g") && detail.contains("₹800.00") && detail.contains("प्रिया Sharma")
    );
    let bad = viewer
        .get(&app, &format!("{base}?from=yesterday"))
        .await
        .text()
        .await
        .unwrap();
    assert!(bad.contains("Placed from"));
}

on_both_backends!(
    the_list_searches_filters_and_pages,
    the_export_follows_the_filter_and_defuses_formulas,
    profiles_show_orders_and_staff_changes_need_the_right_role,
    no_customer_or_order_of_another_store_is_reachable,
    orders_are_listed_searched_and_shown,
);
