//! Referrals in a real browser: the friend's discount changed and saved on the settings tab,
//! then a referral held by a fraud rule approved from the review queue.

use regulars_domain::referral::ReferralProgram;
use regulars_domain::{Discount, Role, Timestamp};
use regulars_store::ReferralStatus;
use regulars_testkit::fixtures::paid_order;

use crate::harness::{Browser, Site};

const DAY: i64 = 86_400_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_friends_discount_is_saved_and_a_held_referral_approved() {
    let site = Site::start().await;
    let store = &site.store_a;
    site.db
        .set_referral_program(
            store,
            &ReferralProgram {
                enabled: true,
                ..ReferralProgram::default()
            },
            "user:test",
        )
        .await
        .unwrap();
    // Anjali refers a friend whose email differs from hers by one character: held for review.
    let long_ago = Timestamp(Timestamp::now().0 - 60 * DAY);
    let anjali = site
        .db
        .upsert_orders_crediting(
            store,
            &[paid_order("r-1", "anjali1", store.currency, 100_000, long_ago)],
            "test",
            true,
        )
        .await
        .unwrap()[0]
        .customer_id
        .unwrap();
    let code = site.db.referral_code(store, anjali).await.unwrap().code;
    let mut friend_order = paid_order(
        "r-2",
        "anjali2",
        store.currency,
        80_000,
        Timestamp(Timestamp::now().0 - 20 * DAY),
    );
    friend_order.discount_codes = vec![code.clone()];
    let friend = site
        .db
        .upsert_orders_crediting(store, &[friend_order], "test", true)
        .await
        .unwrap()[0]
        .customer_id
        .unwrap();
    let held = site
        .db
        .customer_referrals(store.id, friend)
        .await
        .unwrap()
        .referred_by
        .unwrap();
    assert_eq!(held.status, ReferralStatus::Review);

    let browser = Browser::open().await;
    let owner = site.person("owner@annapurna.in", Role::Owner, &[store.id]).await;
    browser.sign_in(&site, &owner).await;
    browser.click_link("Referrals").await;
    assert!(browser.text("main h1").await.contains("Referrals"));
    assert_eq!(
        browser
            .script("return document.querySelector(\"input[name='friend_discount.value']\").value;")
            .await,
        serde_json::json!("10")
    );

    // 12.5 % off the friend's first order.
    browser.fill("input[name='friend_discount.value']", "12.5").await;
    browser.screenshot("referrals-settings").await;
    browser.click_button("Save").await;
    assert!(browser.text("main").await.contains("Referral program saved."));
    assert_eq!(
        browser
            .script("return document.querySelector(\"input[name='friend_discount.value']\").value;")
            .await,
        serde_json::json!("12.5")
    );
    assert_eq!(
        site.db
            .referral_program(store.id)
            .await
            .unwrap()
            .program
            .friend_discount,
        Discount::Percent { basis_points: 1_250 }
    );

    // The review queue: the held referral with the rule behind it, approved with a note.
    browser.click_link("Review").await;
    let queue = browser.text("table.referrals-list").await;
    assert!(
        queue.contains("anjali2@example.in") && queue.contains(&code) && queue.contains("Similar email"),
        "{queue}"
    );
    browser
        .fill("form.decide input[name=note]", "Cousins; checked by phone")
        .await;
    browser.screenshot("referrals-review").await;
    browser.click_button("Approve").await;
    assert!(browser.text("main").await.contains("Referral approved."));
    assert!(browser.text("main").await.contains("Nothing to review."));
    let approved = site.db.referral(store.id, &held.id).await.unwrap();
    assert_eq!(approved.status, ReferralStatus::Pending);
    assert_eq!(approved.reason.as_deref(), Some("Cousins; checked by phone"));

    // The other tabs read the same referral: Anjali among the advocates, nobody a partner yet.
    browser.click_link("Advocates").await;
    let advocates = browser.text("table.advocates").await;
    assert!(
        advocates.contains("anjali1@example.in") && advocates.contains(&code),
        "{advocates}"
    );
    browser.screenshot("referrals-advocates").await;
    browser.click_link("Partners").await;
    assert!(browser.text("#partners").await.contains("No partners yet."));
    browser.screenshot("referrals-partners").await;
    browser.close().await;
}
