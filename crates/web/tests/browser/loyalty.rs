//! Loyalty in a real browser: the program's settings read in Telugu, the preview following
//! the points rate as it is typed, the program saved, and a member's balance on their profile.

use std::time::{Duration, Instant};

use regulars_domain::loyalty::Program;
use regulars_domain::{Role, Timestamp};
use regulars_testkit::fixtures::paid_order;

use crate::harness::{Browser, Site};

/// Waits until the element's text contains `part`, and returns the text.
async fn text_containing(browser: &Browser, css: &str, part: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = browser.text(css).await;
        if text.contains(part) {
            return text;
        }
        assert!(Instant::now() < deadline, "{css} never said {part:?}: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_program_is_set_in_telugu_with_a_live_preview_and_a_members_balance_shows() {
    let site = Site::start().await;
    let store = &site.store_a;
    // On, 1 point per rupee, points available at once.
    let program = Program {
        enabled: true,
        pending_days: 0,
        ..Program::default()
    };
    site.db
        .set_loyalty_program(store.id, &program, "user:test")
        .await
        .unwrap();
    let placed = Timestamp(Timestamp::now().0 - 86_400_000);
    let mut tx = site.db.begin().await.unwrap();
    let written = tx
        .upsert_orders_crediting(
            store,
            &[paid_order("a-9", "lakshmi", store.currency, 50_000, placed)],
            "test",
            true,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let lakshmi = written[0].customer_id.unwrap();

    let browser = Browser::open().await;
    let owner = site.person("owner@annapurna.in", Role::Owner, &[store.id]).await;
    browser.sign_in(&site, &owner).await;
    browser.click_link("తెలుగు").await;
    browser.click_link("లాయల్టీ").await;
    assert!(browser.text("main h1").await.contains("లాయల్టీ"));
    // ₹2,499 at 1 point per rupee.
    text_containing(&browser, "#preview", "₹2,499.00 ఆర్డర్‌కు 2,499 పాయింట్లు వస్తాయి.").await;

    // A point per ₹10, typed: the preview follows before anything is saved.
    browser.fill("input[name='earn.per_minor']", "10").await;
    text_containing(&browser, "#preview", "₹2,499.00 ఆర్డర్‌కు 249 పాయింట్లు వస్తాయి.").await;
    assert_eq!(
        site.db
            .loyalty_program(store.id)
            .await
            .unwrap()
            .program
            .earn
            .per_minor,
        100,
        "typing saves nothing"
    );
    browser.screenshot("loyalty-program-te").await;
    browser.click_button("సేవ్ చేయండి").await;
    assert!(browser.text("main").await.contains("ప్రోగ్రామ్ సేవ్ అయింది."));
    assert_eq!(
        site.db
            .loyalty_program(store.id)
            .await
            .unwrap()
            .program
            .earn
            .per_minor,
        1_000
    );
    assert_eq!(
        browser
            .script("return document.querySelector(\"input[name='earn.per_minor']\").value;")
            .await,
        serde_json::json!("10")
    );

    // The members list leads to Lakshmi's profile, where her balance is shown.
    browser.click_link("సభ్యులు").await;
    browser.click_link("lakshmi@example.in").await;
    assert!(browser.url().await.contains(&lakshmi.to_string()));
    assert_eq!(
        browser.text("#loyalty [data-balance=available]").await,
        "500 పాయింట్లు"
    );
    let ledger = browser.text("#loyalty table.ledger").await;
    assert!(ledger.contains("సంపాదించారు") && ledger.contains("+500"), "{ledger}");
    browser.screenshot("loyalty-member-te").await;
    browser.click_link("English").await;
    browser.close().await;
}
