//! The customer's loyalty page in a real browser: read in Telugu and Armenian, redeem a reward
//! and get its coupon code; and a shop's page (another origin) that embeds the widget with the
//! script tag, which frames it and sizes the frame to the widget.

use std::time::{Duration, Instant};

use axum::response::Html;
use axum::routing::get;
use regulars_domain::loyalty::{EarnRule, Program, Rounding, Tier, TierBenefits, TierLadder};
use regulars_domain::{CustomerId, Discount, Timestamp};
use regulars_store::RewardInput;
use regulars_testkit::fixtures::paid_order;
use serde_json::{json, Value};

use crate::harness::{Browser, Site};

fn tier(id: &str, name: &str, threshold: i64) -> Tier {
    Tier {
        id: id.into(),
        name: name.into(),
        threshold,
        benefits: TierBenefits {
            earn_percent: 100,
            ..TierBenefits::default()
        },
    }
}

/// Meena, of Annapurna (a Telugu store), with 1,500 points from a ₹1,500 order: Silver, and a
/// sampler worth 1,000 points to redeem. Returns her page and widget addresses.
async fn member(site: &Site) -> (CustomerId, String, String) {
    let program = Program {
        enabled: true,
        earn: EarnRule {
            points: 1,
            per_minor: 100,
            rounding: Rounding::Down,
            exclude_shipping: true,
            exclude_tax: true,
        },
        pending_days: 0,
        tiers: TierLadder {
            levels: vec![tier("silver", "Silver", 1_000), tier("gold", "Gold", 5_000)],
            ..TierLadder::default()
        },
        ..Program::default()
    };
    let store = &site.store_a;
    site.db
        .set_loyalty_program(store.id, &program, "user:test")
        .await
        .unwrap();
    let placed = Timestamp(Timestamp::now().0 - 86_400_000);
    let order = paid_order("m-1", "meena", store.currency, 150_000, placed);
    let mut tx = site.db.begin().await.unwrap();
    let written = tx
        .upsert_orders_crediting(store, &[order], "test", true)
        .await
        .unwrap();
    tx.create_reward(
        store.id,
        &RewardInput {
            name: "Chai sampler".into(),
            description: Some("Five teas to try".into()),
            discount: Discount::Fixed { amount: 10_000 },
            points_cost: 1_000,
            min_tier: None,
            per_customer_limit: None,
            stock: None,
            coupon_valid_days: Some(30),
            minimum_spend_minor: 0,
            active: true,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let customer = written[0].customer_id.unwrap();

    // The link comes from the API, as a shop would get it.
    let key = site.db.create_api_key(store.id, "shop").await.unwrap().key;
    let link: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/customers/{customer}/loyalty/link", site.base))
        .bearer_auth(key)
        .json(&json!({ "ttl_days": 7 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    let widget = link["widget_url"].as_str().unwrap().to_string();
    let path = url.strip_prefix(&site.base).unwrap().to_string();
    (customer, path, widget)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_reads_their_page_in_telugu_and_armenian_and_redeems_a_reward() {
    let site = Site::start().await;
    let (customer, path, _) = member(&site).await;
    let browser = Browser::open().await;

    // No language asked for and none of her own: the store's, Telugu.
    browser.goto(&site, &path).await;
    assert_eq!(browser.text("h1").await, "మీ రివార్డులు");
    assert_eq!(browser.text("#points-available").await, "1,500");
    assert_eq!(browser.text("#tier-name").await, "Silver");
    assert_eq!(browser.text("#tier-next").await, "Gold కి మరో 3,500 పాయింట్లు");
    let progress = browser
        .script("const p = document.querySelector('#tier-progress'); return [p.value, p.max];")
        .await;
    assert_eq!(progress, json!([500, 4000]));
    // Silver earns the usual points: nothing to list as a benefit.
    let benefits = browser
        .script("return document.querySelector('#benefits') === null;")
        .await;
    assert_eq!(benefits, json!(true));
    browser.screenshot("loyalty-page-te").await;

    browser.click_link("Հայերեն").await;
    assert_eq!(browser.text("h1").await, "Ձեր պարգևները");
    assert_eq!(browser.text("#points-available").await, "1500");
    assert_eq!(browser.text("#tier-next").await, "Եվս 3500 միավոր՝ մինչև Gold");

    browser.click_button("Ստանալ").await;
    let notice = browser.text("#notice").await;
    assert!(notice.contains("Դուք ստացաք «Chai sampler»"), "{notice}");
    let code = browser.text("#coupon-code").await;
    assert!(code.starts_with("RW"), "{code}");
    assert_eq!(browser.text("#points-available").await, "500");
    assert!(browser.text("#coupons").await.contains(&code));
    browser.screenshot("loyalty-page-hy-redeemed").await;

    let redemptions = site
        .db
        .redemptions(site.store_a.id, Some(customer), 10)
        .await
        .unwrap();
    assert_eq!(redemptions.len(), 1);
    assert_eq!(redemptions[0].coupon_code.as_deref(), Some(code.as_str()));

    // On a phone the page fits without sideways scrolling.
    browser.resize(390, 844).await;
    browser.goto(&site, &path).await;
    let fits = browser
        .script("return document.documentElement.scrollWidth <= window.innerWidth + 1;")
        .await;
    assert_eq!(fits, json!(true));
    browser.screenshot("loyalty-page-phone").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_page_embeds_the_widget_with_the_script_tag() {
    let site = Site::start().await;
    let (_, _, widget) = member(&site).await;

    // The shop: another origin, pasting the script tag and noting the sizes it is told.
    let shop_html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Annapurna</title></head>
<body><h1>Annapurna</h1>
<script>window.heights = []; addEventListener('message', function (e) {{
  if (e.data && e.data.type === 'regulars-loyalty-height') window.heights.push(e.data.height); }});</script>
<div id="slot"><script src="{}/static/loyalty-widget.js" data-widget-url="{widget}?lang=en" data-title="Rewards"></script></div>
<p id="after">Footer</p></body></html>"#,
        site.base
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shop = format!("http://{}/", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/",
        get(move || {
            let html = shop_html.clone();
            async move { Html(html) }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let browser = Browser::open().await;
    browser.goto(&site, "/healthz").await;
    browser
        .script(&format!("window.location.href = {}; return true;", json!(shop)))
        .await;
    browser.wait_for_url_containing(&shop).await;
    browser
        .wait_for("#slot iframe.regulars-loyalty-widget", Duration::from_secs(10))
        .await;
    let src = browser
        .script("return document.querySelector('#slot iframe').src;")
        .await;
    assert_eq!(src, json!(format!("{widget}?lang=en")));

    // The widget loaded in the frame (framing allowed) and told the page its height, which
    // the script gave the frame.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (told, height) = loop {
        let state = browser
            .script(
                "const f = document.querySelector('#slot iframe');
                 return [window.heights, f.getBoundingClientRect().height];",
            )
            .await;
        let told = state[0].as_array().cloned().unwrap_or_default();
        if let Some(last) = told.last().and_then(Value::as_f64) {
            break (last, state[1].as_f64().unwrap());
        }
        assert!(Instant::now() < deadline, "the widget never reported its height");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(told > 80.0, "{told}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut height = height;
    while (height - told).abs() > 1.0 {
        assert!(
            Instant::now() < deadline,
            "the frame stayed {height}px, told {told}px"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        height = browser
            .script("return document.querySelector('#slot iframe').getBoundingClientRect().height;")
            .await
            .as_f64()
            .unwrap();
    }
    browser.screenshot("loyalty-widget-embedded").await;

    // What the frame shows: the balance, the tier progress, the reward and a way to the page.
    browser
        .script(&format!(
            "window.location.href = {}; return true;",
            json!(format!("{widget}?lang=en"))
        ))
        .await;
    browser.wait_for_url_containing("/widget").await;
    assert_eq!(browser.text("#points-available").await, "1,500");
    assert_eq!(browser.text("#tier-next").await, "3,500 more points to Gold");
    assert!(browser.text("#rewards").await.contains("Chai sampler"));
    assert!(browser.exists("a.lp-w-more[target=_blank]").await);
    browser.close().await;
}
