//! The friend's landing page in a real browser: the invitation in their language, the Copy
//! button (clipboard, or the copy command where the clipboard is refused), and the "Send me my
//! discount" form ending in the thank-you.

use std::time::{Duration, Instant};

use regulars_domain::referral::{ReferralProgram, ReferralReward};
use regulars_domain::{Discount, Timestamp};
use regulars_store::{Db, ReferralFilter, ReferralStatus};
use regulars_testkit::fixtures::paid_order;
use serde_json::json;

use crate::harness::{Browser, Site};

/// Meena of Annapurna, with one order, and her code; the program gives friends ₹200 off.
async fn invitation(site: &Site) -> (regulars_domain::CustomerId, String) {
    let store = &site.store_a;
    let program = ReferralProgram {
        enabled: true,
        friend_discount: Discount::Fixed { amount: 20_000 },
        advocate_reward: ReferralReward::Points { points: 500 },
        shop_url: Some("https://annapurna.myshopify.com".into()),
        ..ReferralProgram::default()
    };
    site.db
        .set_referral_program(store, &program, "user:test")
        .await
        .unwrap();
    let mut order = paid_order(
        "m-1",
        "meena",
        store.currency,
        150_000,
        Timestamp(Timestamp::now().0 - 86_400_000),
    );
    order.customer.as_mut().unwrap().first_name = Some("Meena".into());
    let written = site.db.upsert_orders(store, &[order], "test").await.unwrap();
    let meena = written[0].customer_id.unwrap();
    let code = site.db.referral_code(store, meena).await.unwrap().code;
    (meena, code)
}

async fn visits_with_an_address(db: &Db) -> i64 {
    let sql = "SELECT COUNT(*) FROM referral_visits WHERE ip_hash IS NOT NULL AND device_hash IS NOT NULL";
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Db::Pg(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friend_copies_the_code_and_asks_for_the_discount() {
    let site = Site::start().await;
    let (meena, code) = invitation(&site).await;
    let browser = Browser::open().await;
    let landing = format!("/r/{}/{code}", site.store_a.id);

    // The browser asks for English (--lang=en-US): English it is, not the store's Telugu.
    browser.goto(&site, &landing).await;
    assert_eq!(browser.text("h1").await, "Meena invited you to Annapurna");
    assert_eq!(browser.text("#offer").await, "₹200.00 off on your first order");
    assert_eq!(browser.text("#referral-code").await, code);
    let shop = browser
        .script("return document.querySelector('#shop-now').href;")
        .await;
    assert_eq!(
        shop,
        json!(format!("https://annapurna.myshopify.com/discount/{code}"))
    );
    // The visit was noted, with the address and the browser (hashed).
    assert_eq!(visits_with_an_address(&site.db).await, 1);

    // The script shows the Copy button; clicking it says it copied (or how to copy by hand).
    assert!(
        browser.displayed("#copy-code").await,
        "the script shows the button"
    );
    assert_eq!(browser.text("#copy-code").await, "Copy");
    browser.click("#copy-code").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let feedback = loop {
        let label = browser.text("#copy-code").await;
        if label != "Copy" {
            break label;
        }
        assert!(Instant::now() < deadline, "the Copy button never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        feedback == "Copied!" || feedback == "Select the text and copy it",
        "{feedback}"
    );
    let state = browser
        .script("return document.querySelector('#copy-code').dataset.state;")
        .await;
    assert!(state == json!("copied") || state == json!("failed"), "{state}");
    browser.screenshot("referral-landing-copied").await;

    // The form: a friend's email, sent; the thank-you replaces it.
    browser.fill("#friend-email", "Kavya.Rao@Example.in").await;
    browser.click_button("Send me my discount").await;
    assert_eq!(browser.text("#send h2").await, "Thank you!");
    let thanks = browser.text("#thanks").await;
    assert!(thanks.contains("kavya.rao@example.in"), "{thanks}");
    assert!(thanks.contains(&code), "{thanks}");
    let form_gone = browser
        .script("return document.querySelector('#send-form') === null;")
        .await;
    assert_eq!(form_gone, json!(true));
    browser.screenshot("referral-landing-thanks").await;

    let referrals = site
        .db
        .referrals(
            site.store_a.id,
            &ReferralFilter {
                advocate: Some(meena),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(referrals.len(), 1);
    assert_eq!(referrals[0].channel, "link");
    assert_eq!(referrals[0].status, ReferralStatus::AwaitingOrder);

    // In Telugu, and on a phone: it fits without sideways scrolling.
    browser.resize(390, 844).await;
    browser.goto(&site, &format!("{landing}?lang=te")).await;
    assert_eq!(browser.text("h1").await, "Meena మిమ్మల్ని Annapurna కి ఆహ్వానించారు");
    let fits = browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(fits, json!(true));
    browser.screenshot("referral-landing-te-phone").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advocate_copies_their_link_from_the_loyalty_page() {
    let site = Site::start().await;
    let (meena, code) = invitation(&site).await;
    let key = site.db.create_api_key(site.store_a.id, "shop").await.unwrap().key;
    let link: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/api/v1/customers/{meena}/loyalty/link", site.base))
        .bearer_auth(key)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = link["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&site.base)
        .unwrap()
        .to_string();
    let browser = Browser::open().await;
    browser.goto(&site, &format!("{path}?lang=en")).await;
    assert_eq!(browser.text("#refer h2").await, "Refer a friend");
    assert_eq!(browser.text("#referral-code").await, code);
    let share_link = format!("{}/r/{}/{code}", site.base, site.store_a.id);
    let value = browser
        .script("return document.querySelector('#referral-link').value;")
        .await;
    assert_eq!(value, json!(share_link));
    let whatsapp = browser
        .script("return document.querySelector('#share-whatsapp').href;")
        .await;
    assert!(
        whatsapp
            .as_str()
            .unwrap()
            .contains(&share_link.replace(':', "%3A").replace('/', "%2F")),
        "{whatsapp}"
    );

    assert!(browser.displayed("#share-copy").await);
    assert_eq!(browser.text("#share-copy").await, "Copy link");
    browser.click("#share-copy").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while browser.text("#share-copy").await == "Copy link" {
        assert!(Instant::now() < deadline, "the Copy button never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let feedback = browser.text("#share-copy").await;
    assert!(
        feedback == "Copied!" || feedback == "Select the text and copy it",
        "{feedback}"
    );
    browser.screenshot("loyalty-page-refer").await;

    // The share link opens the friend's page.
    browser
        .goto(&site, &format!("/r/{}/{code}", site.store_a.id))
        .await;
    assert_eq!(browser.text("h1").await, "Meena invited you to Annapurna");
    browser.close().await;
}
