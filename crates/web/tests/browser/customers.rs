//! Customer 360 in a real browser: search as you type, open the profile, give the customer an
//! account manager who then finds them under "my customers", and orders; another store's
//! customer is not reachable by URL.

use std::time::{Duration, Instant};

use regulars_domain::{CustomerInput, Phone, Role, Source};
use regulars_store::CustomerQuery;

use crate::harness::{Browser, Site};

/// Gives the site's customers (known to the API as `lakshmi` and `ravi`) their names.
async fn name_customers(site: &Site) {
    for (ext, first, last, phone) in [
        ("lakshmi", "Lakshmi", "Devi", Some("+91 98480 22338")),
        ("ravi", "Ravi", "Teja", None),
    ] {
        let input = CustomerInput {
            external_id: Some(ext.into()),
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            phone: phone.map(|p| Phone::parse(p).unwrap()),
            ..Default::default()
        };
        site.db
            .upsert_customer(site.store_a.id, Source::Api, &input, "test")
            .await
            .unwrap();
    }
}

/// Waits until the element's text satisfies `ok` (htmx swaps content in place).
async fn wait_for_text(browser: &Browser, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = browser.text(css).await;
        if ok(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never changed as expected: {now}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_open_the_profile_and_assign_an_account_manager() {
    let site = Site::start().await;
    name_customers(&site).await;
    let browser = Browser::open().await;
    let owner = site
        .person("owner@annapurna.in", Role::Owner, &[site.store_a.id])
        .await;
    let meera = site
        .person("meera@annapurna.in", Role::AccountManager, &[site.store_a.id])
        .await;
    browser.sign_in(&site, &owner).await;
    browser.click_link("Customers").await;
    let all = browser.text("#results").await;
    assert!(all.contains("Lakshmi Devi") && all.contains("Ravi Teja"), "{all}");

    // Typing searches without a button: htmx replaces the results.
    browser.fill("input[name=q]", "98480").await;
    let found = wait_for_text(&browser, "#results", |t| !t.contains("Ravi Teja")).await;
    assert!(found.contains("Lakshmi Devi"), "{found}");
    assert!(found.contains("₹10,00,000.00"), "lakh grouping: {found}");
    assert!(
        browser.url().await.contains("q=98480"),
        "the search is in the address"
    );
    browser.screenshot("customers").await;

    browser.click_link("Lakshmi Devi").await;
    assert_eq!(browser.text("h1.customer-name").await, "Lakshmi Devi");
    assert!(browser.text("#orders").await.contains("a-1"));
    browser
        .select(
            "select[name=manager]",
            &meera_id(&site, "meera@annapurna.in").await,
        )
        .await;
    browser.click_button("Assign").await;
    assert_eq!(browser.text(".current-manager").await, "meera@annapurna.in");
    assert!(browser
        .text("#timeline")
        .await
        .contains("Account manager changed"));
    browser.screenshot("customer-profile").await;

    // The same page in Telugu: its words and Indian grouping.
    browser.click_link("తెలుగు").await;
    assert!(browser.text("#figures").await.contains("₹10,00,000.00"));
    assert!(browser.text("#manager h2").await.contains("అకౌంట్ మేనేజర్"));
    browser.click_link("English").await;

    // Orders: the list and one order.
    browser.click_link("Orders").await;
    assert!(browser.text("main").await.contains("a-2"));
    browser.screenshot("orders").await;
    browser.click_link("a-2").await;
    assert!(browser.text("main").await.contains("Ravi Teja"));
    browser.screenshot("order").await;

    // On a phone the list still fits: no sideways scrolling of the page itself.
    browser
        .goto(&site, &format!("/app/{}/customers", site.store_a.id))
        .await;
    browser.resize(390, 844).await;
    let overflow = browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(overflow, serde_json::json!(true));
    browser.screenshot("customers-phone").await;
    browser.resize(1280, 900).await;

    // Meera signs in and starts from her own customers.
    browser.click_button("Log out").await;
    browser.sign_in(&site, &meera).await;
    browser.click_link("Customers").await;
    let mine = browser.text("#results").await;
    assert!(
        mine.contains("Lakshmi Devi") && !mine.contains("Ravi Teja"),
        "{mine}"
    );
    browser.close().await;
}

async fn meera_id(site: &Site, email: &str) -> String {
    site.db
        .user_by_email(&regulars_domain::Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_stores_customer_is_not_reachable_by_url() {
    let site = Site::start().await;
    let browser = Browser::open().await;
    let person = site
        .person("support@annapurna.in", Role::Support, &[site.store_a.id])
        .await;
    let theirs = site
        .db
        .customer_page(
            site.store_b.id,
            site.store_b.currency,
            &CustomerQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .customers[0]
        .id;
    browser.sign_in(&site, &person).await;
    for store in [site.store_a.id, site.store_b.id] {
        browser
            .goto(&site, &format!("/app/{store}/customers/{theirs}"))
            .await;
        assert_eq!(browser.text("main h1").await, "Nothing here.");
        assert!(!browser.source().await.contains("ani@example.in"));
    }
    browser.close().await;
}
