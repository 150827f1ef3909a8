//! The dashboard in a real headless Chromium (Debian's chromium and chromium-driver), driven
//! through WebDriver. Screenshots of each page land in `target/screenshots/`.

mod analytics;
mod customers;
mod harness;
mod import;
mod loyalty;
mod loyalty_page;
mod referral_page;
mod referrals;

use harness::{Browser, Site};
use regulars_domain::Role;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_signs_in_reads_telugu_with_lakh_grouping_and_signs_out() {
    let site = Site::start().await;
    let browser = Browser::open().await;
    let owner = site
        .person("owner@annapurna.in", Role::Owner, &[site.store_a.id])
        .await;

    browser.sign_in(&site, &owner).await;
    let body = browser.text("main").await;
    assert!(body.contains("Overview"), "{body}");
    assert!(body.contains("Annapurna"), "{body}");
    // ₹12,34,567.00 of revenue in the last 30 days, written the Indian way even in English.
    let revenue = browser.text("[data-figure=revenue] .figure").await;
    assert_eq!(revenue, "₹12,34,567.00");
    browser.screenshot("overview-en").await;

    browser.click_link("తెలుగు").await;
    let heading = browser.text("main h1").await;
    assert!(heading.contains("సారాంశం"), "{heading}");
    let nav = browser.text("nav.main").await;
    assert!(nav.contains("సెట్టింగ్‌లు"), "{nav}");
    assert_eq!(
        browser.text("[data-figure=revenue] .figure").await,
        "₹12,34,567.00"
    );
    assert_eq!(browser.text("[data-figure=orders] .figure").await, "2");
    assert!(
        browser.exists("#overview-chart canvas").await,
        "the uPlot chart is drawn"
    );
    browser.screenshot("overview-te").await;

    browser.click_link("Հայերեն").await;
    assert!(browser.text("main h1").await.contains("Ամփոփում"));
    browser.click_link("English").await;

    // Settings show the exact webhook address to paste into the shop.
    browser
        .goto(&site, &format!("/app/{}/settings", site.store_a.id))
        .await;
    let settings = browser.text("main").await;
    assert!(
        settings.contains(&format!("/webhooks/shopify/{}", site.store_a.id)),
        "{settings}"
    );
    assert!(settings.contains("owner@annapurna.in"));
    browser.screenshot("settings").await;

    browser.click_button("Log out").await;
    assert!(browser.text("main").await.contains("You have been signed out."));
    // The old session is gone on the server: the dashboard sends us back to sign in.
    browser.goto(&site, "/app").await;
    assert!(browser.url().await.ends_with("/login"));
    browser.screenshot("login").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_reach_settings_and_nobody_reaches_another_store() {
    let site = Site::start().await;
    let browser = Browser::open().await;
    let viewer = site
        .person("viewer@annapurna.in", Role::Viewer, &[site.store_a.id])
        .await;
    browser.sign_in(&site, &viewer).await;

    let nav = browser.text("nav.main").await;
    assert!(nav.contains("Overview"), "{nav}");
    browser
        .goto(&site, &format!("/app/{}/settings", site.store_a.id))
        .await;
    assert_eq!(
        browser.text("main h1").await,
        "You do not have access to this page."
    );

    // Store B exists, with its own data; from store A's login it is simply not there (S1).
    browser.goto(&site, &format!("/app/{}", site.store_b.id)).await;
    assert_eq!(browser.text("main h1").await, "Nothing here.");
    let page = browser.source().await;
    assert!(!page.contains("Tsiran"), "store B's name leaks");
    browser
        .goto(&site, &format!("/app/switch?store={}", site.store_b.id))
        .await;
    assert_eq!(browser.text("main h1").await, "Nothing here.");
    browser.screenshot("not-found").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_of_two_stores_switches_between_them() {
    let site = Site::start().await;
    let browser = Browser::open().await;
    let both = site
        .person(
            "manager@annapurna.in",
            Role::AccountManager,
            &[site.store_a.id, site.store_b.id],
        )
        .await;
    browser.sign_in(&site, &both).await;
    browser
        .select("select[name=store]", &site.store_b.id.to_string())
        .await;
    browser
        .wait_for_url_containing(&site.store_b.id.to_string())
        .await;
    assert!(browser.text("main h1").await.contains("Tsiran"));
    // Armenian drams: the sign after the amount, a space in the thousands.
    let revenue = browser.text("[data-figure=revenue] .figure").await;
    assert_eq!(revenue.replace('\u{a0}', " "), "150,000.00 ֏");
    browser.close().await;
}
