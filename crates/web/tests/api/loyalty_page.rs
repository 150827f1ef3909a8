//! The customer's loyalty page and widget over HTTP: signed links from the API, what the page
//! shows for a known ledger and in which language, redeeming once per form, refusals that
//! change nothing, expired and forged links, and who may frame what.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use regulars_domain::loyalty::{EarnRule, Program, Rounding, Tier, TierBenefits, TierLadder, TierMetric};
use regulars_domain::{CustomerId, CustomerInput, Discount, Locale, Source, Timestamp};
use regulars_store::{RewardInput, RewardRecord};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{problem, TestApp};

const DAY: i64 = 86_400_000;

fn program(pending_days: u32) -> Program {
    Program {
        enabled: true,
        earn: EarnRule {
            points: 1,
            per_minor: 100,
            rounding: Rounding::Down,
            exclude_shipping: true,
            exclude_tax: true,
        },
        pending_days,
        expiry_days: Some(365),
        expiry_warning_days: 14,
        // 100 points are worth ₹1.00.
        value_per_100_points_minor: 100,
        tiers: TierLadder {
            metric: TierMetric::PointsEarned,
            window_days: None,
            levels: vec![
                Tier {
                    id: "silver".into(),
                    name: "Silver".into(),
                    threshold: 1_000,
                    benefits: TierBenefits {
                        earn_percent: 125,
                        free_shipping: true,
                        ..TierBenefits::default()
                    },
                },
                Tier {
                    id: "gold".into(),
                    name: "Gold".into(),
                    threshold: 5_000,
                    benefits: TierBenefits {
                        earn_percent: 100,
                        ..TierBenefits::default()
                    },
                },
            ],
        },
        ..Program::default()
    }
}

fn reward(name: &str, cost: i64, discount: Discount, min_tier: Option<&str>) -> RewardInput {
    RewardInput {
        name: name.into(),
        description: None,
        discount,
        points_cost: cost,
        min_tier: min_tier.map(str::to_string),
        per_customer_limit: None,
        stock: None,
        coupon_valid_days: Some(30),
        minimum_spend_minor: 0,
        active: true,
    }
}

struct Rewards {
    sampler: RewardRecord,
    hamper: RewardRecord,
    tin: RewardRecord,
}

/// Asha has 1,500 available points from one ₹1,500 order two days ago: Silver, 3,500 points
/// short of Gold. Three rewards: one she can afford, one she cannot, one for Gold only.
async fn setup(backend: Backend, pending_days: u32) -> (TestApp, CustomerId, Rewards) {
    let app = TestApp::spawn(backend).await;
    app.db
        .set_loyalty_program(app.store.id, &program(pending_days), "user:test")
        .await
        .unwrap();
    let placed = Timestamp(Timestamp::now().0 - 2 * DAY);
    let order = paid_order("LP-1", "asha", app.store.currency, 150_000, placed);
    let mut tx = app.db.begin().await.unwrap();
    let written = tx
        .upsert_orders_crediting(&app.store, &[order], "test", true)
        .await
        .unwrap();
    let sampler = tx
        .create_reward(
            app.store.id,
            &reward("Chai sampler", 1_000, Discount::Fixed { amount: 10_000 }, None),
        )
        .await
        .unwrap();
    let hamper = tx
        .create_reward(
            app.store.id,
            &reward(
                "Masala hamper",
                5_000,
                Discount::Percent { basis_points: 1_500 },
                None,
            ),
        )
        .await
        .unwrap();
    let tin = tx
        .create_reward(
            app.store.id,
            &reward("Gold tea tin", 100, Discount::FreeShipping, Some("gold")),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let customer = written[0].customer_id.unwrap();
    (app, customer, Rewards { sampler, hamper, tin })
}

async fn create_link(app: &TestApp, customer: CustomerId, body: &Value) -> reqwest::Response {
    app.post(&format!("/api/v1/customers/{customer}/loyalty/link"), body)
        .await
}

/// The page's address (path only) from a freshly made link.
async fn page_path(app: &TestApp, customer: CustomerId) -> String {
    let r = create_link(app, customer, &json!({})).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    url.strip_prefix(&app.base).unwrap().to_string()
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

/// The value of the attribute `value` of the hidden input `name` in the form for `reward`.
fn form_field(html: &str, reward: &str, name: &str) -> String {
    let form = html
        .split("<form ")
        .find(|f| f.contains(&format!("name=\"reward\" value=\"{reward}\"")))
        .unwrap_or_else(|| panic!("no redeem form for {reward}"));
    let marker = format!("name=\"{name}\" value=\"");
    let start = form.find(&marker).unwrap() + marker.len();
    form[start..].split('"').next().unwrap().to_string()
}

fn coupon_code(html: &str) -> String {
    let marker = "id=\"coupon-code\">";
    let start = html.find(marker).expect("a coupon code on the page") + marker.len();
    html[start..].split('<').next().unwrap().trim().to_string()
}

async fn post_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(&format!("{path}/redeem")))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn available(app: &TestApp, customer: CustomerId) -> i64 {
    app.db
        .points_balance(app.store.id, customer, Timestamp::now(), 14)
        .await
        .unwrap()
        .available
}

async fn links_are_signed_for_the_callers_customers_only(backend: Backend) {
    let (app, customer, _) = setup(backend, 0).await;
    let before = Timestamp::now().0;
    let r = create_link(&app, customer, &json!({})).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    let prefix = format!("{}/loyalty/{}/", app.base, app.store.id);
    let token = url.strip_prefix(&prefix).expect("the page lives under the store");
    assert_eq!(token.len(), 96, "{token}");
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(body["widget_url"], format!("{url}/widget"));
    let expires = Timestamp::parse_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    let thirty_days = before + 30 * DAY;
    assert!((expires.0 - thirty_days).abs() < 60_000, "{expires:?}");

    // No body at all takes the defaults too; a week is a week.
    let empty = app
        .client
        .post(app.url(&format!("/api/v1/customers/{customer}/loyalty/link")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 201);
    assert_eq!(create_link(&app, customer, &Value::Null).await.status(), 201);
    let week: Value = create_link(&app, customer, &json!({ "ttl_days": 7 }))
        .await
        .json()
        .await
        .unwrap();
    let expires = Timestamp::parse_rfc3339(week["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires.0 - (before + 7 * DAY)).abs() < 60_000);
    for bad in [json!({ "ttl_days": 0 }), json!({ "ttl_days": 91 })] {
        let (status, code, field) = problem(create_link(&app, customer, &bad).await).await;
        assert_eq!(
            (status, code.as_str(), field.as_deref()),
            (422, "out_of_range", Some("ttl_days"))
        );
    }

    // Another store's customer, and a customer nobody has: not found (S1).
    let (other, other_key) = app.other_store().await;
    let (stranger, _) = app
        .db
        .upsert_customer(
            other.id,
            Source::Api,
            &CustomerInput {
                external_id: Some("ani".into()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let (status, code, _) = problem(create_link(&app, stranger, &json!({})).await).await;
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, _, _) = problem(create_link(&app, CustomerId::new(), &json!({})).await).await;
    assert_eq!(status, 404);
    let theirs = app
        .post_as(
            &other_key,
            &format!("/api/v1/customers/{customer}/loyalty/link"),
            &json!({}),
        )
        .await;
    assert_eq!(theirs.status(), 404);
}

async fn the_page_shows_points_tier_rewards_and_history(backend: Backend) {
    let (app, customer, rewards) = setup(backend, 0).await;
    let path = page_path(&app, customer).await;
    let r = get(&app, &format!("{path}?lang=en")).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"points-available\">1,500<"), "{html}");
    assert!(html.contains("Worth ₹15.00"), "100 points are worth ₹1.00");
    assert!(html.contains("id=\"tier-name\">Silver<"));
    assert!(html.contains("3,500 more points to Gold"));
    assert!(html.contains("<progress id=\"tier-progress\" value=\"500\" max=\"4000\""));
    assert!(html.contains("1.25× points on every order"));
    assert!(html.contains("Free shipping"));
    // The sampler can be redeemed; the hamper lacks points; the tin is for Gold.
    assert!(html.contains(&format!("name=\"reward\" value=\"{}\"", rewards.sampler.id)));
    assert!(html.contains("₹100.00 off"));
    assert!(!html.contains(&format!("name=\"reward\" value=\"{}\"", rewards.hamper.id)));
    assert!(html.contains("You need 3,500 more points"));
    assert!(html.contains("15% off"));
    assert!(!html.contains(&format!("name=\"reward\" value=\"{}\"", rewards.tin.id)));
    assert!(html.contains("For Gold members and above"));
    assert!(html.contains("Earned"));
    assert!(html.contains("+1,500"));
    assert!(html.contains("Coupons from the rewards you redeem appear here."));
    assert!(html.contains("/static/loyalty_page.css"));

    // Without ?lang: the store's language (Hindi), the customer having none of their own.
    let hindi = get(&app, &path).await.text().await.unwrap();
    assert!(hindi.contains("<html lang=\"hi\">"));
    assert!(hindi.contains("आपके रिवॉर्ड"));
    assert!(hindi.contains("Gold तक पहुँचने के लिए 3,500 पॉइंट और"), "{hindi}");
    for (lang, words) in [
        ("te", "మీ రివార్డులు"),
        ("hy", "Ձեր պարգևները"),
        ("hi", "खर्च करने योग्य पॉइंट"),
    ] {
        let page = get(&app, &format!("{path}?lang={lang}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(&format!("<html lang=\"{lang}\">")));
        assert!(page.contains(words), "{lang}: {page}");
    }
    // Armenian, as CLDR has it, leaves four-digit numbers ungrouped.
    let armenian = get(&app, &format!("{path}?lang=hy")).await.text().await.unwrap();
    assert!(armenian.contains("Եվս 3500 միավոր՝ մինչև Gold"), "{armenian}");

    // A customer with a language of their own reads theirs.
    app.db
        .upsert_customer(
            app.store.id,
            Source::Api,
            &CustomerInput {
                external_id: Some("asha".into()),
                locale: Some(Locale::parse("te-IN").unwrap()),
                ..Default::default()
            },
            "test",
        )
        .await
        .unwrap();
    let telugu = get(&app, &path).await.text().await.unwrap();
    assert!(telugu.contains("<html lang=\"te\">"));
    assert!(telugu.contains("Gold కి మరో 3,500 పాయింట్లు"), "{telugu}");
}

async fn pending_and_expiring_points_show_their_dates(backend: Backend) {
    let (app, customer, _) = setup(backend, 14).await;
    let mut p = program(14);
    p.expiry_days = Some(20);
    p.expiry_warning_days = 60;
    app.db
        .set_loyalty_program(app.store.id, &p, "user:test")
        .await
        .unwrap();
    let placed = Timestamp(Timestamp::now().0 - 2 * DAY);
    let order = paid_order("LP-2", "vikram", app.store.currency, 40_000, placed);
    let mut tx = app.db.begin().await.unwrap();
    let written = tx
        .upsert_orders_crediting(&app.store, &[order], "test", true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let vikram = written[0].customer_id.unwrap();
    assert_ne!(vikram, customer);
    let lots = app.db.points_lots(app.store.id, vikram).await.unwrap();
    let zone = app.store.timezone.0;
    let from = regulars_i18n::format_date(regulars_i18n::Lang::En, Timestamp(lots[0].available_from), zone);
    let until = regulars_i18n::format_date(
        regulars_i18n::Lang::En,
        Timestamp(lots[0].expires_at.unwrap()),
        zone,
    );

    let path = page_path(&app, vikram).await;
    let html = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    assert!(html.contains("id=\"points-available\">0<"), "{html}");
    assert!(
        html.contains(&format!("400 points can be spent from {from}")),
        "{html}"
    );
    assert!(html.contains(&format!("400 points expire on {until}")), "{html}");
    assert!(html.contains("You need 1,000 more points"));
}

async fn forged_and_expired_links_show_nothing(backend: Backend) {
    let (app, customer, _) = setup(backend, 0).await;
    let path = page_path(&app, customer).await;
    let token = path.rsplit('/').next().unwrap().to_string();
    let flipped = format!(
        "{}{}",
        &token[..40],
        token[40..]
            .chars()
            .map(|c| if c == 'A' { 'B' } else { 'A' })
            .collect::<String>()
    );
    let (other, _) = app.other_store().await;
    for bad in [
        format!("/loyalty/{}/{flipped}", app.store.id),
        format!("/loyalty/{}/{token}", other.id),
        format!("/loyalty/{}/not-a-token", app.store.id),
        format!("/loyalty/not-a-store/{token}"),
        format!("/loyalty/{}/{flipped}/widget", app.store.id),
    ] {
        let r = get(&app, &bad).await;
        assert_eq!(r.status(), 404, "{bad}");
        let html = r.text().await.unwrap();
        assert!(html.contains("This link does not work"), "{html}");
        for secret in ["Chai Chaupal", "1,500", "Silver", "Chai sampler", "Tsiran"] {
            assert!(!html.contains(secret), "{bad} shows {secret}");
        }
    }

    // A link signed with the store's key whose expiry has passed: gone, in the store's language.
    let key = app.db.loyalty_link_key(app.store.id).await.unwrap();
    let mut payload = Vec::new();
    payload.extend_from_slice(app.store.id.0.as_bytes());
    payload.extend_from_slice(customer.0.as_bytes());
    payload.extend_from_slice(&(Timestamp::now().0 / 1000 - 60).to_be_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&hex::decode(&key).unwrap()).unwrap();
    mac.update(b"regulars/loyalty-link/v1\0");
    mac.update(&payload);
    payload.extend_from_slice(&mac.finalize().into_bytes());
    let expired = URL_SAFE_NO_PAD.encode(&payload);
    let r = get(&app, &format!("/loyalty/{}/{expired}", app.store.id)).await;
    assert_eq!(r.status(), 410);
    let html = r.text().await.unwrap();
    assert!(html.contains("इस लिंक की अवधि समाप्त हो गई है"), "{html}");
    assert!(html.contains("Chai Chaupal"));
    assert!(!html.contains("1,500"));
    let r = get(
        &app,
        &format!("/loyalty/{}/{expired}/widget?lang=en", app.store.id),
    )
    .await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("This link has expired"));
}

async fn a_form_posted_twice_redeems_once_and_shows_the_code(backend: Backend) {
    let (app, customer, rewards) = setup(backend, 0).await;
    let path = page_path(&app, customer).await;
    let html = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    let id = rewards.sampler.id.as_str();
    let nonce = form_field(&html, id, "nonce");
    let proof = form_field(&html, id, "proof");
    let fields = [
        ("reward", id),
        ("nonce", &nonce),
        ("proof", &proof),
        ("lang", "en"),
    ];

    // From another site, or with a proof that does not match: refused, nothing spent.
    let cross = app
        .client
        .post(app.url(&format!("{path}/redeem")))
        .header("sec-fetch-site", "cross-site")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let forged_proof = "0".repeat(64);
    let forged = [
        ("reward", id),
        ("nonce", &nonce),
        ("proof", forged_proof.as_str()),
    ];
    assert_eq!(post_form(&app, &path, &forged).await.status(), 403);
    assert_eq!(available(&app, customer).await, 1_500);

    let first = post_form(&app, &path, &fields).await;
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    assert!(first.contains("You redeemed “Chai sampler”"), "{first}");
    let code = coupon_code(&first);
    assert!(code.starts_with("RW"), "{code}");
    assert!(first.contains("id=\"points-available\">500<"));

    // The same form again (a double click, a reload): the same answer, nothing spent twice.
    let again = post_form(&app, &path, &fields).await;
    assert_eq!(again.status(), 200);
    assert_eq!(coupon_code(&again.text().await.unwrap()), code);
    assert_eq!(available(&app, customer).await, 500);
    let redemptions = app
        .db
        .redemptions(app.store.id, Some(customer), 10)
        .await
        .unwrap();
    assert_eq!(redemptions.len(), 1);
    assert_eq!(redemptions[0].coupon_code.as_deref(), Some(code.as_str()));
    let history = app
        .db
        .points_history(app.store.id, customer, None, 10)
        .await
        .unwrap();
    assert_eq!(history[0].actor, format!("customer:{customer}"));

    // The page lists the coupon and the spending from now on.
    let page = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    assert!(
        page.contains(&format!("<code class=\"lp-code-small\">{code}</code>")),
        "{page}"
    );
    assert!(page.contains("Spent: Chai sampler"));
    assert!(page.contains("−1,000"));
}

async fn a_refusal_shows_why_and_changes_nothing(backend: Backend) {
    let (app, customer, rewards) = setup(backend, 0).await;
    let path = page_path(&app, customer).await;
    let id = rewards.sampler.id.as_str();
    // Two tabs open on the page: each has its own form for the sampler.
    let tab_one = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    let tab_two = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    let fields = |html: &str| (form_field(html, id, "nonce"), form_field(html, id, "proof"));
    let (n1, p1) = fields(&tab_one);
    let (n2, p2) = fields(&tab_two);
    assert_ne!(n1, n2, "every rendered form has its own nonce");
    let ok = post_form(&app, &path, &[("reward", id), ("nonce", &n1), ("proof", &p1)]).await;
    assert_eq!(ok.status(), 200);
    let before = app.count("loyalty_entries").await;
    let coupons_before = app.count("coupons").await;

    // 500 points left: the second tab's sampler (1,000) is refused, in Armenian if asked.
    let refused = post_form(
        &app,
        &path,
        &[("reward", id), ("nonce", &n2), ("proof", &p2), ("lang", "hy")],
    )
    .await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("Այս պարգևի համար բավարար միավորներ չունեք"),
        "{html}"
    );
    assert!(!html.contains("id=\"coupon-code\""));
    assert_eq!(available(&app, customer).await, 500);
    assert_eq!(app.count("loyalty_entries").await, before);
    assert_eq!(app.count("coupons").await, coupons_before);
    assert_eq!(
        app.db
            .redemptions(app.store.id, Some(customer), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Posting that form again gives the same refusal.
    let again = post_form(
        &app,
        &path,
        &[("reward", id), ("nonce", &n2), ("proof", &p2), ("lang", "en")],
    )
    .await;
    assert_eq!(again.status(), 409);
    assert!(again
        .text()
        .await
        .unwrap()
        .contains("You do not have enough points for this reward. Nothing was spent."));
    assert_eq!(available(&app, customer).await, 500);
}

async fn the_widget_may_be_framed_and_the_page_may_not(backend: Backend) {
    let (app, customer, _) = setup(backend, 0).await;
    let path = page_path(&app, customer).await;
    let page = get(&app, &path).await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert_eq!(page.headers()["cache-control"], "no-store");

    let widget = get(&app, &format!("{path}/widget?lang=en")).await;
    assert_eq!(widget.status(), 200);
    let csp = widget.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors *"), "{csp}");
    assert!(widget.headers().get("x-frame-options").is_none());
    let html = widget.text().await.unwrap();
    assert!(html.contains("id=\"points-available\">1,500<"));
    assert!(html.contains("3,500 more points to Gold"));
    assert!(html.contains("Chai sampler"));
    assert!(
        html.contains(&format!("href=\"{path}?lang=en\"")),
        "links to the full page"
    );
    assert!(!html.contains("<form"), "the widget never redeems");
    assert!(html.contains("<script src=\"/static/loyalty-widget.js\" data-frame>"));

    let script = get(&app, "/static/loyalty-widget.js").await;
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.text().await.unwrap().contains("data-widget-url"));
    assert_eq!(get(&app, "/static/loyalty_page.css").await.status(), 200);
}

on_both_backends!(
    links_are_signed_for_the_callers_customers_only,
    the_page_shows_points_tier_rewards_and_history,
    pending_and_expiring_points_show_their_dates,
    forged_and_expired_links_show_nothing,
    a_form_posted_twice_redeems_once_and_shows_the_code,
    a_refusal_shows_why_and_changes_nothing,
    the_widget_may_be_framed_and_the_page_may_not,
);
