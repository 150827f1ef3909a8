//! The Analytics page over HTTP: what it shows, the targets and spend forms (owners, admins and
//! marketers only, with the session's CSRF token), and no other store's figures (S1).

use regulars_domain::{Email, Role, Timestamp};
use regulars_testkit::{on_both_backends, Backend};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::staff::{person, Browser};

fn days_ago(days: i64) -> String {
    Timestamp(Timestamp::now().0 - days * 86_400_000).to_rfc3339()
}

fn order(id: &str, customer: Value, total: &str, placed: &str) -> Value {
    json!({
        "external_id": id,
        "customer": customer,
        "placed_at": placed,
        "currency": "INR",
        "total": total,
        "line_items": [{ "sku": "TEA", "title": "Assam tea", "quantity": 1, "price": total }]
    })
}

/// Two customers: Asha from Instagram (₹300 to win) ordered twice, Ravi found the shop himself
/// and ordered once; so the repeat-purchase rate is 50 %.
async fn orders(app: &TestApp) {
    let asha = json!({ "external_id": "asha", "email": "asha@example.in", "acquisition_channel": "instagram",
        "acquisition_cost": "300.00" });
    let ravi = json!({ "external_id": "ravi", "email": "ravi@example.in", "acquisition_channel": "organic" });
    for body in [
        order("o-1", asha.clone(), "1000.00", &days_ago(70)),
        order("o-2", asha, "500.00", &days_ago(3)),
        order("o-3", ravi, "2000.00", &days_ago(40)),
    ] {
        let r = app.post("/api/v1/orders", &body).await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

async fn everyone_who_reads_the_store_sees_its_analytics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    orders(&app).await;
    person(&app, "viewer@chai.in", Role::Viewer).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let base = format!("/app/{}/analytics", app.store.id);

    let mut viewer = Browser::new();
    viewer.sign_in(&app, "viewer@chai.in").await;
    let home = viewer
        .get(&app, &format!("/app/{}", app.store.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        home.contains(&format!("href=\"{base}\"")),
        "the navigation leads to Analytics"
    );
    let page = viewer.get(&app, &base).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for expected in [
        "<h1>Analytics",
        "Repeat-purchase rate",
        "50.0%",
        "No target set",
        "class=\"heatmap\"",
        "Month 0",
        "100.0%",
        "id=\"retention-series\"",
        "class=\"rfm-grid\"",
        "id=\"value-series\"",
        "id=\"backtest\"",
        "data-channel=\"instagram\"",
        "recorded on customers",
        "₹300.00",
    ] {
        assert!(html.contains(expected), "{expected} missing from the page");
    }
    // Reading is for everyone; the forms only for those who may set goals.
    assert!(!html.contains("id=\"targets-form\"") && !html.contains("id=\"spend-form\""));

    // The heatmap in money: the cohort's spend in each month.
    let revenue = viewer
        .get(&app, &format!("{base}?cohorts=revenue"))
        .await
        .text()
        .await
        .unwrap();
    let heatmap = section(&revenue, "<table class=\"heatmap\">", "</table>");
    assert!(heatmap.contains("₹") && !heatmap.contains("%</td>"), "{heatmap}");

    let mut owner = Browser::new();
    owner.sign_in(&app, "owner@chai.in").await;
    let html = owner.get(&app, &base).await.text().await.unwrap();
    assert!(html.contains("id=\"targets-form\"") && html.contains("id=\"spend-form\""));

    // Another store's analytics are not found, not forbidden.
    let (other, _) = app.other_store().await;
    let elsewhere = owner.get(&app, &format!("/app/{}/analytics", other.id)).await;
    assert_eq!(elsewhere.status(), 404);
    assert!(!elsewhere.text().await.unwrap().contains("Tsiran"));

    // A store without orders says so, in its reader's language, and nothing breaks.
    let user = app
        .db
        .user_by_email(&Email::parse("owner@chai.in").unwrap())
        .await
        .unwrap()
        .unwrap();
    app.db
        .set_membership(other.id, user.id, Role::Owner)
        .await
        .unwrap();
    owner.cookies.push("regulars_lang=hy".into());
    let empty = owner.get(&app, &format!("/app/{}/analytics", other.id)).await;
    assert_eq!(empty.status(), 200);
    let html = empty.text().await.unwrap();
    assert!(
        html.contains("Պատվերներ դեռ չկան"),
        "the empty store's notice in Armenian"
    );
    assert!(html.contains("Տվյալները դեռ բավարար չեն"));
}

async fn targets_and_spend_need_the_role_and_the_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    orders(&app).await;
    let base = format!("/app/{}/analytics", app.store.id);
    let targets = format!("{base}/targets");
    let spend = format!("{base}/spend");
    let this_month = {
        let page_month = Timestamp::now()
            .to_datetime()
            .with_timezone(&app.store.timezone.0);
        page_month.format("%Y-%m").to_string()
    };

    // Viewers and support agents read but never set goals, even with a valid token.
    for (email, role) in [
        ("viewer@chai.in", Role::Viewer),
        ("support@chai.in", Role::Support),
    ] {
        person(&app, email, role).await;
        let mut browser = Browser::new();
        let csrf = browser.sign_in(&app, email).await;
        let r = browser
            .post(
                &app,
                &targets,
                &[("csrf", &csrf), ("target_repeat_purchase_rate", "40")],
            )
            .await;
        assert_eq!(r.status(), 403, "{email}");
        let r = browser
            .post(
                &app,
                &spend,
                &[
                    ("csrf", &csrf),
                    ("channel", "instagram"),
                    ("month", &this_month),
                    ("amount", "100"),
                ],
            )
            .await;
        assert_eq!(r.status(), 403, "{email}");
    }
    assert_eq!(app.count("kpi_targets").await, 0);
    assert_eq!(app.count("marketing_spend").await, 0);

    // A marketer may, but not without the form's token.
    person(&app, "marketer@chai.in", Role::Marketer).await;
    let mut marketer = Browser::new();
    let csrf = marketer.sign_in(&app, "marketer@chai.in").await;
    let forged = marketer
        .post(
            &app,
            &targets,
            &[("csrf", "forged"), ("target_repeat_purchase_rate", "40")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(app.count("kpi_targets").await, 0);

    let saved = marketer
        .post(
            &app,
            &targets,
            &[
                ("csrf", &csrf),
                ("target_repeat_purchase_rate", "40"),
                ("target_churn_rate", "10 %"),
                ("target_average_order_value", "₹5,000"),
                ("target_retention_rate", ""),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(
        saved.headers()["location"].to_str().unwrap(),
        format!("{base}?done=targets#kpis")
    );
    assert_eq!(app.count("kpi_targets").await, 3);
    let html = marketer
        .get(&app, &format!("{base}?done=targets"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Targets saved."));
    let repeat = tile(&html, "repeat_purchase_rate");
    assert!(
        repeat.contains("Target: 40.0%") && repeat.contains("Met"),
        "{repeat}"
    );
    assert!(repeat.contains("set by marketer@chai.in"), "{repeat}");
    let aov = tile(&html, "average_order_value");
    assert!(
        aov.contains("Target: ₹5,000.00") && aov.contains("Behind"),
        "{aov}"
    );
    assert!(html.contains("name=\"target_average_order_value\" value=\"5000\""));

    // Bad input is shown beside its field and changes nothing.
    let refused = marketer
        .post(
            &app,
            &targets,
            &[
                ("csrf", &csrf),
                ("target_repeat_purchase_rate", "lots"),
                ("target_churn_rate", "150"),
            ],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Enter a number, e.g. 25.") && html.contains("A rate cannot be above 100 %."));
    assert!(html.contains("value=\"lots\""));
    assert_eq!(app.count("kpi_targets").await, 3);

    // Monthly spend: entered, replaced, shown against the channel.
    for amount in ["999", "1,500.00"] {
        let r = marketer
            .post(
                &app,
                &spend,
                &[
                    ("csrf", &csrf),
                    ("channel", "Instagram"),
                    ("month", &this_month),
                    ("amount", amount),
                ],
            )
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            format!("{base}?done=spend#acquisition")
        );
    }
    assert_eq!(app.count("marketing_spend").await, 1);
    let html = marketer.get(&app, &base).await.text().await.unwrap();
    let row = row(&html, "data-channel=\"instagram\"");
    assert!(
        row.contains("₹1,500.00") && !row.contains("recorded on customers"),
        "{row}"
    );
    let bad = marketer
        .post(
            &app,
            &spend,
            &[
                ("csrf", &csrf),
                ("channel", " "),
                ("month", "someday"),
                ("amount", "-5"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    let html = bad.text().await.unwrap();
    for message in ["Name the channel", "Choose a month.", "Spend cannot be negative."] {
        assert!(html.contains(message), "{message}");
    }
    let fraction = marketer
        .post(
            &app,
            &spend,
            &[
                ("csrf", &csrf),
                ("channel", "tv"),
                ("month", &this_month),
                ("amount", "12.345"),
            ],
        )
        .await;
    assert_eq!(fraction.status(), 422);
    assert!(fraction
        .text()
        .await
        .unwrap()
        .contains("Enter an amount such as 1500.00."));
    assert_eq!(app.count("marketing_spend").await, 1);
}

/// The page from `start` to the first `end` after it.
fn section(html: &str, start: &str, end: &str) -> String {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} is not on the page"));
    let to = html[from..].find(end).unwrap() + from;
    html[from..to].to_string()
}

/// The KPI tile of `key`.
fn tile(html: &str, key: &str) -> String {
    section(html, &format!("data-kpi=\"{key}\""), "</article>")
}

/// The table row that carries `marker`.
fn row(html: &str, marker: &str) -> String {
    section(html, marker, "</tr>")
}

on_both_backends!(
    everyone_who_reads_the_store_sees_its_analytics,
    targets_and_spend_need_the_role_and_the_csrf_token,
);
