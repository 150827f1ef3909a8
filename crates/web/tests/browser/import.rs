//! Importing from the dashboard in Chromium: choose a transaction log, follow the import until
//! it ends, read the row that was rejected; on a phone-sized screen too.

use std::time::Duration;

use regulars_domain::Role;
use serde_json::json;

use crate::harness::{Browser, Site};

/// Three purchases and, on line 4, a date that is not one.
const SALES: &str = "customer,when,amount\n\
    lakshmi,2024-01-05,1250.00\n\
    ravi,2024-01-09,725.50\n\
    anjali,31/02/2024,99.00\n\
    lakshmi,2024-02-05,300.00\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marketer_uploads_a_transaction_log_and_reads_the_rejected_row() {
    let site = Site::start().await;
    let browser = Browser::open().await;
    let marketer = site
        .person("marketing@annapurna.in", Role::Marketer, &[site.store_a.id])
        .await;
    browser.sign_in(&site, &marketer).await;
    browser.click_link("Import").await;
    assert!(browser.text("main h1").await.contains("Import"));

    // The columns of a transaction log are asked for only when the file is one.
    assert!(!browser.displayed("input[name=customer_col]").await);
    browser.click("input[name=kind][value=transactions]").await;
    assert!(browser.displayed("input[name=customer_col]").await);
    browser.fill("input[name=customer_col]", "customer").await;
    browser.fill("input[name=date_col]", "when").await;
    browser.fill("input[name=amount_col]", "amount").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("annapurna-sales.csv");
    std::fs::write(&file, SALES).unwrap();
    browser.choose_file("input[name=file]", &file).await;
    browser.screenshot("import-form").await;
    browser.click_button("Start import").await;

    assert!(browser
        .url()
        .await
        .contains(&format!("/app/{}/import/", site.store_a.id)));
    browser
        .wait_for("#import-progress[data-status=finished]", Duration::from_secs(30))
        .await;
    assert_eq!(browser.text("[data-figure=created] .figure").await, "3");
    assert_eq!(browser.text("[data-figure=rejected] .figure").await, "1");
    let row = browser.text(".import-rejections tr[data-line='4']").await;
    assert!(row.contains('4') && row.contains("when"), "{row}");
    assert!(row.contains("31/02/2024"), "the reason names the value: {row}");
    assert!(browser.text("main").await.contains("annapurna-sales.csv"));
    browser.screenshot("import").await;

    // On a phone the report fits the screen's width.
    browser.resize(390, 844).await;
    let overflow = browser
        .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page scrolls sideways by {overflow}px"
    );
    browser.click_link("All imports").await;
    let overflow = browser
        .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
        .await;
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the form scrolls sideways by {overflow}px"
    );
    assert!(browser.text(".import-list").await.contains("annapurna-sales.csv"));
    browser.screenshot("import-phone").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_page_follows_a_running_import_until_it_ends() {
    let site = Site::start().await;
    let browser = Browser::open().await;
    let owner = site
        .person("owner@annapurna.in", Role::Owner, &[site.store_a.id])
        .await;
    browser.sign_in(&site, &owner).await;
    let store = site.store_a.id;
    let id = site
        .db
        .start_import(store, None, "shopify_orders", "orders_export.csv")
        .await
        .unwrap();
    browser.goto(&site, &format!("/app/{store}/import/{id}")).await;
    assert!(browser.exists("#import-progress[data-status=running]").await);
    assert_eq!(browser.text("[data-figure=created] .figure").await, "0");

    // Progress recorded by the import shows without reloading the page…
    let so_far = json!({ "created": 2000, "updated": 0, "unchanged": 0, "rejected": 0,
        "rejections": [], "bytes_read": 512, "bytes_total": 1024 });
    assert!(site
        .db
        .record_import_progress(store, id, 2000, &so_far)
        .await
        .unwrap());
    browser
        .wait_for("#import-progress [data-figure=created]", Duration::from_secs(5))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while browser.text("[data-figure=created] .figure").await != "2,000" {
        assert!(std::time::Instant::now() < deadline, "the page never updated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(browser.exists("#import-progress progress").await);

    // …and so does its end, with the rejected rows; then the polling stops.
    let rejection = json!({ "line": 2417, "field": "Total", "reason": "\"12.345\" has too many decimals" });
    let done = json!({ "created": 2400, "updated": 0, "unchanged": 0, "rejected": 1,
        "rejections": [rejection] });
    assert!(site.db.finish_import(store, id, 2401, &done).await.unwrap());
    browser
        .wait_for("#import-progress[data-status=finished]", Duration::from_secs(5))
        .await;
    let row = browser.text(".import-rejections tr[data-line='2417']").await;
    assert!(row.contains("2,417") && row.contains("Total"), "{row}");
    assert!(!browser.source().await.contains("hx-trigger"));
    browser.close().await;
}
