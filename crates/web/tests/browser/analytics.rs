//! Analytics in a real browser: the KPI tiles, the cohort heatmap and the charts drawn by
//! uPlot, a target set through the form, the page in Telugu with Indian grouping, and the
//! same page on a phone.

use std::time::Duration;

use regulars_domain::{Role, Timestamp};
use regulars_testkit::fixtures::paid_order;

use crate::harness::{Browser, Site};

/// Besides the site's two orders of two days ago, older orders of Lakshmi and Ravi and two
/// more customers, so there are complete months of cohorts: four customers who spent
/// ₹12,40,267.00 in all.
async fn history(site: &Site) {
    let ago = |days: i64| Timestamp(Timestamp::now().0 - days * 86_400_000);
    let store = &site.store_a;
    let orders = [
        ("a-3", "lakshmi", 100_000, 95),
        ("a-4", "ravi", 50_000, 100),
        ("a-5", "sita", 80_000, 60),
        ("a-6", "sita", 70_000, 20),
        ("a-7", "gopal", 150_000, 200),
        ("a-8", "gopal", 120_000, 150),
    ]
    .map(|(id, customer, total, days)| paid_order(id, customer, store.currency, total, ago(days)));
    site.db.upsert_orders(store, &orders, "test").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_shows_retention_sets_a_target_and_reads_in_telugu_on_a_phone() {
    let site = Site::start().await;
    history(&site).await;
    let browser = Browser::open().await;
    let owner = site
        .person("owner@annapurna.in", Role::Owner, &[site.store_a.id])
        .await;
    browser.sign_in(&site, &owner).await;
    browser.click_link("Analytics").await;
    assert!(browser.text("main h1").await.contains("Analytics"));

    // Everyone bought twice: a repeat-purchase rate of 100 %, and ₹3,10,066.75 per customer.
    assert_eq!(
        browser.text("[data-kpi=repeat_purchase_rate] .figure").await,
        "100.0%"
    );
    assert_eq!(
        browser.text("[data-kpi=historic_clv] .figure").await,
        "₹3,10,066.75"
    );
    let heatmap = browser.text("table.heatmap").await;
    assert!(
        heatmap.contains("Month 0") && heatmap.contains("100.0%"),
        "{heatmap}"
    );
    assert!(
        browser.exists("#retention-chart canvas").await,
        "the retention curve is drawn"
    );
    assert!(
        browser.exists("#value-chart canvas").await,
        "the value distribution is drawn"
    );
    assert!(browser.text("table.rfm-grid").await.contains("Champions"));

    // A target through the form: saved, shown on its tile, met.
    browser.click("details.targets summary").await;
    browser
        .fill("input[name=target_repeat_purchase_rate]", "40")
        .await;
    browser.click_button("Save targets").await;
    assert!(browser.text("main").await.contains("Targets saved."));
    let tile = browser.text("[data-kpi=repeat_purchase_rate]").await;
    assert!(tile.contains("Target: 40.0%") && tile.contains("Met"), "{tile}");
    browser.screenshot("analytics").await;

    // Telugu: the headings in Telugu, money still in lakhs.
    browser.click_link("తెలుగు").await;
    let heading = browser.text("main h1").await;
    assert!(heading.contains("విశ్లేషణ"), "{heading}");
    let kpis = browser.text("#kpis h2").await;
    assert!(kpis.contains("KPIలు"), "{kpis}");
    assert!(browser.text("#cohorts h2").await.contains("నిలుపుదల"));
    assert_eq!(
        browser.text("[data-kpi=historic_clv] .figure").await,
        "₹3,10,066.75"
    );
    assert!(browser
        .text("[data-kpi=repeat_purchase_rate]")
        .await
        .contains("లక్ష్యం: 40.0%"));

    // On a phone the page fits: wide tables scroll inside their panels.
    browser.resize(390, 844).await;
    browser
        .goto(&site, &format!("/app/{}/analytics", site.store_a.id))
        .await;
    browser
        .wait_for("#value-chart canvas", Duration::from_secs(5))
        .await;
    let fits = browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(fits, serde_json::json!(true));
    let charts_fit = browser
        .script(
            "const boxes = [...document.querySelectorAll('.chart-box')];
             return boxes.length > 0 && boxes.every((b) => b.scrollWidth <= b.clientWidth + 1);",
        )
        .await;
    assert_eq!(
        charts_fit,
        serde_json::json!(true),
        "the charts are drawn at the phone's width"
    );
    browser.screenshot("analytics-phone").await;
    browser.resize(1280, 900).await;
    browser.click_link("English").await;
    browser.close().await;
}
