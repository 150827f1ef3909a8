//! Referrals on the customer's side over HTTP: the "Refer a friend" section of the loyalty page
//! and its share targets, the friend's landing page in their language, its form attributing
//! the friend by link (and refusing forged tokens), visits, and the partner page with its link.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use regulars_domain::referral::{Eligibility, ReferralProgram, ReferralReward};
use regulars_domain::{CustomerId, Discount, Timestamp};
use regulars_store::{Db, PartnerInput, PartnerScope, ReferralFilter, ReferralRecord, ReferralStatus};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{problem, TestApp};

const DAY: i64 = 86_400_000;
const SHOP: &str = "https://chai-chaupal.myshopify.com";

fn program(enabled: bool) -> ReferralProgram {
    ReferralProgram {
        enabled,
        friend_discount: Discount::Percent { basis_points: 1_000 },
        friend_minimum_spend: 50_000,
        advocate_reward: ReferralReward::Points { points: 500 },
        shop_url: Some(SHOP.into()),
        ..ReferralProgram::default()
    }
}

/// Writes an order as the shop's webhooks would (attribution runs inside).
async fn order(app: &TestApp, external_id: &str, customer: &str, total: i64, codes: &[&str]) -> CustomerId {
    let mut o = paid_order(
        external_id,
        customer,
        app.store.currency,
        total,
        Timestamp(Timestamp::now().0 - DAY),
    );
    o.discount_codes = codes.iter().map(|c| c.to_string()).collect();
    if customer == "asha" {
        let c = o.customer.as_mut().unwrap();
        c.first_name = Some("Asha".into());
        c.last_name = Some("Kapoor".into());
    }
    let mut tx = app.db.begin().await.unwrap();
    let written = tx
        .upsert_orders_crediting(&app.store, &[o], "test", true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    written[0].customer_id.unwrap()
}

/// Asha (one ₹1,500 order) at Chai Chaupal, whose referral program is on or off.
async fn setup(backend: Backend, enabled: bool) -> (TestApp, CustomerId) {
    let app = TestApp::spawn(backend).await;
    app.db
        .set_referral_program(&app.store, &program(enabled), "user:test")
        .await
        .unwrap();
    let asha = order(&app, "A-1", "asha", 150_000, &[]).await;
    (app, asha)
}

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

async fn get_in(app: &TestApp, path: &str, accept_language: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept-language", accept_language)
        .header("user-agent", "Mozilla/5.0 (Linux; Android 14) friend-phone")
        .send()
        .await
        .unwrap()
}

/// The loyalty page's path from a freshly made link.
async fn loyalty_path(app: &TestApp, customer: CustomerId) -> String {
    let r = app
        .post(&format!("/api/v1/customers/{customer}/loyalty/link"), &json!({}))
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    body["url"]
        .as_str()
        .unwrap()
        .strip_prefix(&app.base)
        .unwrap()
        .to_string()
}

/// Percent-encoding as a share target carries its text (RFC 3986 unreserved kept).
fn encoded(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `href` of the element with `id`.
fn href(html: &str, id: &str) -> String {
    let tag = html
        .split('<')
        .find(|t| t.contains(&format!("id=\"{id}\"")))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = tag.find("href=\"").unwrap_or_else(|| panic!("#{id} has no href")) + 6;
    // Askama writes `&` as `&#38;`.
    tag[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

async fn referrals_of(app: &TestApp, advocate: CustomerId) -> Vec<ReferralRecord> {
    app.db
        .referrals(
            app.store.id,
            &ReferralFilter {
                advocate: Some(advocate),
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

async fn scalar(db: &Db, sql: &str) -> i64 {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Db::Pg(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

async fn the_loyalty_page_offers_the_code_the_link_and_four_ways_to_share(backend: Backend) {
    let (app, asha) = setup(backend, true).await;
    let path = loyalty_path(&app, asha).await;
    let r = get(&app, &format!("{path}?lang=en")).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();

    // The code was made on this first view.
    let code = app
        .db
        .customer_referrals(app.store.id, asha)
        .await
        .unwrap()
        .code
        .expect("the page made Asha's code")
        .code;
    assert!(code.starts_with("ASHA-"), "{code}");
    assert!(html.contains("id=\"refer\""), "{html}");
    assert!(html.contains("Refer a friend"));
    assert!(html.contains(&format!("id=\"referral-code\">{code}<")));
    let link = format!("{}/r/{}/{code}", app.base, app.store.id);
    assert!(
        html.contains(&format!("id=\"referral-link\" value=\"{link}\"")),
        "{html}"
    );
    assert!(html.contains("Your friend gets 10% off on a first order of ₹500.00 or more."));
    assert!(html.contains("You get 500 points when their first order is confirmed."));
    assert!(html.contains("id=\"referral-referred\">0<"));
    assert!(html.contains("id=\"referral-rewarded\">0<"));

    // Copy: a button over the link's field, shown by the script (the field stays for copying
    // by hand without it).
    assert!(
        html.contains("id=\"share-copy\" data-copy=\"referral-link\""),
        "{html}"
    );
    assert!(html.contains("<script src=\"/r/referral.js\">"));
    // WhatsApp, email and SMS carry the link, encoded, inside their message.
    let link_in_text = encoded(&link);
    assert!(
        link_in_text.starts_with("http%3A%2F%2F127.0.0.1%3A"),
        "{link_in_text}"
    );
    let whatsapp = href(&html, "share-whatsapp");
    assert!(whatsapp.starts_with("https://wa.me/?text="), "{whatsapp}");
    assert!(whatsapp.contains(&link_in_text), "{whatsapp}");
    assert!(whatsapp.contains(&encoded(&format!("Use my code {code} for 10% off"))));
    let email = href(&html, "share-email");
    let body = email
        .strip_prefix(&format!(
            "mailto:?subject={}&body=",
            encoded("A gift for your first order at Chai Chaupal")
        ))
        .unwrap_or_else(|| panic!("{email}"));
    assert!(body.contains(&link_in_text), "{email}");
    assert!(!body.contains(' ') && !body.contains('+'), "{email}");
    let sms = href(&html, "share-sms");
    assert!(sms.starts_with("sms:?&body="), "{sms}");
    assert!(sms.contains(&link_in_text), "{sms}");
    assert!(!html.contains("&body="), "the ampersand is escaped in the HTML");

    // The store's language by default: Hindi, and the message shared is Hindi too.
    let hindi = get(&app, &path).await.text().await.unwrap();
    assert!(hindi.contains("दोस्त को रेफ़र करें"), "{hindi}");
    assert!(
        hindi.contains("₹500.00 या उससे ज़्यादा के पहले ऑर्डर पर आपके दोस्त के लिए: 10% की छूट"),
        "{hindi}"
    );
    assert!(href(&hindi, "share-whatsapp").contains(&encoded("मेरा कोड")));
    // The same code on every view.
    assert!(hindi.contains(&format!("id=\"referral-code\">{code}<")));

    // A friend who came by the link counts as referred.
    let friend = order(&app, "F-1", "ravi", 80_000, &[&code]).await;
    assert_ne!(friend, asha);
    let again = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    assert!(again.contains("id=\"referral-referred\">1<"), "{again}");
    assert!(again.contains("id=\"referral-rewarded\">0<"));
}

async fn the_section_is_hidden_when_the_program_is_off_or_the_customer_not_eligible(backend: Backend) {
    let (app, asha) = setup(backend, false).await;
    let path = loyalty_path(&app, asha).await;
    let html = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    assert!(html.contains("Your rewards"), "{html}");
    assert!(!html.contains("id=\"refer\""), "{html}");
    assert!(!html.contains("Refer a friend"));
    assert!(!html.contains("/r/referral.js"));
    assert!(app
        .db
        .customer_referrals(app.store.id, asha)
        .await
        .unwrap()
        .code
        .is_none());

    // On, but only for customers with three orders: Asha has one.
    let mut strict = program(true);
    strict.eligibility = Eligibility {
        min_orders: 3,
        tiers: Vec::new(),
    };
    app.db
        .set_referral_program(&app.store, &strict, "user:test")
        .await
        .unwrap();
    let html = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    assert!(!html.contains("id=\"refer\""));
    assert!(app
        .db
        .customer_referrals(app.store.id, asha)
        .await
        .unwrap()
        .code
        .is_none());
    app.db
        .set_referral_program(&app.store, &program(true), "user:test")
        .await
        .unwrap();
    let html = get(&app, &format!("{path}?lang=en")).await.text().await.unwrap();
    assert!(html.contains("id=\"refer\""));
}

async fn the_landing_page_speaks_the_friends_language_and_records_visits(backend: Backend) {
    let (app, asha) = setup(backend, true).await;
    let code = app.db.referral_code(&app.store, asha).await.unwrap().code;
    let landing = format!("/r/{}/{code}", app.store.id);
    assert_eq!(scalar(&app.db, "SELECT COUNT(*) FROM referral_visits").await, 0);

    let r = get_in(&app, &format!("{landing}?lang=hi"), "en").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let html = r.text().await.unwrap();
    assert!(html.contains("<html lang=\"hi\">"), "{html}");
    assert!(html.contains("Asha ने आपको Chai Chaupal पर बुलाया है"), "{html}");
    assert!(html.contains("पहले ऑर्डर पर 10% की छूट"), "{html}");
    assert!(html.contains("₹500.00 या उससे ज़्यादा के पहले ऑर्डर पर।"), "{html}");
    assert!(html.contains(&format!("id=\"referral-code\">{code}<")));
    assert!(html.contains("id=\"copy-code\" data-copy=\"referral-code\""));
    assert!(html.contains("मेरी छूट मुझे भेजें"));
    assert_eq!(href(&html, "shop-now"), format!("{SHOP}/discount/{code}"));
    // The advocate's first name only: not her surname, not her email.
    assert!(!html.contains("Kapoor"));
    assert!(!html.contains("asha@example.in"));

    // The browser's language when the address names none; the store's when neither does.
    let telugu = get_in(&app, &landing, "te-IN,te;q=0.9,en;q=0.8")
        .await
        .text()
        .await
        .unwrap();
    assert!(telugu.contains("<html lang=\"te\">"));
    assert!(telugu.contains("Asha మిమ్మల్ని Chai Chaupal కి ఆహ్వానించారు"), "{telugu}");
    let armenian = get_in(&app, &landing, "hy").await.text().await.unwrap();
    assert!(
        armenian.contains("Asha-ը ձեզ հրավեր է ուղարկել Chai Chaupal-ից"),
        "{armenian}"
    );
    let lower = format!("/r/{}/{}", app.store.id, code.to_lowercase());
    let english = get_in(&app, &lower, "en").await;
    assert_eq!(english.status(), 200, "codes are read whatever their case");
    let english = english.text().await.unwrap();
    assert!(english.contains("Asha invited you to Chai Chaupal"), "{english}");
    assert!(english.contains("10% off on your first order"));
    let store_default = get(&app, &landing).await.text().await.unwrap();
    assert!(store_default.contains("<html lang=\"hi\">"));

    // Every view was noted, with the device's hash (no address known here: none stored).
    assert_eq!(scalar(&app.db, "SELECT COUNT(*) FROM referral_visits").await, 5);
    assert_eq!(
        scalar(
            &app.db,
            "SELECT COUNT(*) FROM referral_visits WHERE device_hash IS NOT NULL AND ip_hash IS NULL"
        )
        .await,
        4
    );

    // Unknown codes, other stores, and a program that is off: the same friendly 404.
    let (other, _) = app.other_store().await;
    let off_store = app.store.id;
    for bad in [
        format!("/r/{}/NOBODY-1234", app.store.id),
        format!("/r/{}/{code}", other.id),
        format!("/r/not-a-store/{code}"),
        format!("/r/{}/{}", app.store.id, "X".repeat(200)),
    ] {
        let r = get_in(&app, &bad, "en").await;
        assert_eq!(r.status(), 404, "{bad}");
        let html = r.text().await.unwrap();
        assert!(html.contains("This invitation does not work"), "{html}");
        for secret in ["Chai Chaupal", "Asha", "Tsiran", "10%"] {
            assert!(!html.contains(secret), "{bad} shows {secret}");
        }
    }
    app.db
        .set_referral_program(&app.store, &program(false), "user:test")
        .await
        .unwrap();
    let r = get_in(&app, &format!("/r/{off_store}/{code}?lang=hi"), "en").await;
    assert_eq!(r.status(), 404);
    let html = r.text().await.unwrap();
    assert!(html.contains("यह निमंत्रण काम नहीं कर रहा"), "{html}");
    assert!(!html.contains("Asha"));
    // Nothing is noted of pages not shown.
    assert_eq!(scalar(&app.db, "SELECT COUNT(*) FROM referral_visits").await, 5);
}

async fn the_landing_form_refers_the_friend_by_link_until_their_first_order(backend: Backend) {
    let (app, asha) = setup(backend, true).await;
    let code = app.db.referral_code(&app.store, asha).await.unwrap().code;
    let landing = format!("/r/{}/{code}", app.store.id);
    let html = get_in(&app, &format!("{landing}?lang=en"), "en")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("action=\"{landing}\"")), "{html}");
    let token = field(&html, "token");
    let customers = app.count("customers").await;

    let r = app
        .client
        .post(app.url(&landing))
        .form(&[
            ("email", " Meera.Iyer@Example.in "),
            ("token", token.as_str()),
            ("lang", "en"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let thanks = r.text().await.unwrap();
    assert!(thanks.contains("Thank you!"), "{thanks}");
    assert!(
        thanks.contains(&format!(
            "Your discount is kept for meera.iyer@example.in. Use the code {code} at checkout"
        )),
        "{thanks}"
    );
    assert!(!thanks.contains("<form"), "the form is gone once sent");

    let referrals = referrals_of(&app, asha).await;
    assert_eq!(referrals.len(), 1);
    let referral = &referrals[0];
    assert_eq!(referral.channel, "link");
    assert_eq!(referral.code, code);
    assert_eq!(referral.status, ReferralStatus::AwaitingOrder);
    assert_eq!(referral.order_id, None);
    assert_eq!(app.count("customers").await, customers + 1);
    let friend = app.db.customer(app.store.id, referral.friend_id).await.unwrap();
    assert_eq!(
        friend.email.as_ref().map(|e| e.as_str()),
        Some("meera.iyer@example.in")
    );

    // Her first order, later, without the code: it completes the referral.
    let meera = order(&app, "F-1", "meera.iyer", 90_000, &[]).await;
    assert_eq!(meera, referral.friend_id, "the order is hers");
    let referral = app.db.referral(app.store.id, &referral.id).await.unwrap();
    assert_eq!(referral.status, ReferralStatus::Pending, "{referral:?}");
    assert!(referral.order_id.is_some());
    assert_eq!(referral.order_value, Some(90_000));
    assert_eq!(referral.channel, "link");
}

/// A form token made with the store's key for the form's purpose (as the server makes them).
fn form_token(key: &str, store: &[u8], advocate: &[u8], expires: i64) -> String {
    signed(key, b"regulars/referral-form/v1\0", store, advocate, expires)
}

/// A token signed like the loyalty link, with the store's key derived for `purpose_label`.
fn signed(key: &str, purpose_label: &[u8], store: &[u8], customer: &[u8], expires: i64) -> String {
    let key = hex::decode(key).unwrap();
    let mut purpose = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    purpose.update(purpose_label);
    let derived = purpose.finalize().into_bytes();
    let mut payload = Vec::new();
    payload.extend_from_slice(store);
    payload.extend_from_slice(customer);
    payload.extend_from_slice(&expires.to_be_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&derived).unwrap();
    mac.update(b"regulars/loyalty-link/v1\0");
    mac.update(&payload);
    payload.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE_NO_PAD.encode(payload)
}

async fn forged_expired_and_foreign_form_tokens_write_nothing(backend: Backend) {
    let (app, asha) = setup(backend, true).await;
    let code = app.db.referral_code(&app.store, asha).await.unwrap().code;
    let landing = format!("/r/{}/{code}", app.store.id);
    let html = get_in(&app, &format!("{landing}?lang=en"), "en")
        .await
        .text()
        .await
        .unwrap();
    let token = field(&html, "token");

    // Another advocate's form, and Asha's loyalty link: tokens, but not for this form.
    let vikram = order(&app, "A-2", "vikram", 120_000, &[]).await;
    let vikram_code = app.db.referral_code(&app.store, vikram).await.unwrap().code;
    let other_form = get_in(&app, &format!("/r/{}/{vikram_code}?lang=en", app.store.id), "en")
        .await
        .text()
        .await
        .unwrap();
    let other_token = field(&other_form, "token");
    let loyalty_token = loyalty_path(&app, asha)
        .await
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mut flipped = token.clone().into_bytes();
    flipped[20] = if flipped[20] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    let customers = app.count("customers").await;
    let post = |fields: Vec<(&'static str, String)>, cross: bool| {
        let mut request = app.client.post(app.url(&landing)).form(&fields);
        if cross {
            request = request.header("sec-fetch-site", "cross-site");
        }
        request.send()
    };
    let email = || ("email", "meera@example.in".to_string());
    let en = || ("lang", "en".to_string());
    for (fields, cross, why) in [
        (vec![email(), en(), ("token", flipped.clone())], false, "tampered"),
        (vec![email(), en()], false, "no token"),
        (
            vec![email(), en(), ("token", other_token.clone())],
            false,
            "another advocate's",
        ),
        (
            vec![email(), en(), ("token", loyalty_token.clone())],
            false,
            "a loyalty link",
        ),
        (
            vec![email(), en(), ("token", token.clone())],
            true,
            "from another site",
        ),
    ] {
        let r = post(fields, cross).await.unwrap();
        assert_eq!(r.status(), 403, "{why}");
        let html = r.text().await.unwrap();
        assert!(html.contains("This request was refused"), "{why}: {html}");
        assert!(!html.contains("<form"), "{why}");
    }
    // Not an email address: the form again, with the reason, and nothing written.
    let r = post(
        vec![
            ("email", "meera-at-example".into()),
            ("token", token.clone()),
            ("lang", "en".into()),
        ],
        false,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Enter a valid email address"), "{html}");
    assert_eq!(field(&html, "email"), "meera-at-example");

    // A token of the right kind whose two hours have passed: refused, with a fresh form.
    let key = app.db.loyalty_link_key(app.store.id).await.unwrap();
    let stale = form_token(
        &key,
        app.store.id.0.as_bytes(),
        asha.0.as_bytes(),
        Timestamp::now().0 / 1000 - 60,
    );
    let r = post(vec![email(), ("token", stale), ("lang", "en".into())], false)
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("This form had expired"), "{html}");
    let fresh = field(&html, "token");
    assert_eq!(fresh.len(), 96, "a fresh token to send the form again");

    assert!(referrals_of(&app, asha).await.is_empty());
    assert_eq!(app.count("referrals").await, 0);
    assert_eq!(app.count("customers").await, customers);

    // The same signing, still fresh, is accepted: the refusals above were for the token alone.
    let good = form_token(
        &key,
        app.store.id.0.as_bytes(),
        asha.0.as_bytes(),
        Timestamp::now().0 / 1000 + 600,
    );
    let r = post(vec![email(), ("token", good)], false).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(referrals_of(&app, asha).await.len(), 1);
}

async fn partner_links_open_the_partner_page_with_earnings(backend: Backend) {
    let (app, asha) = setup(backend, true).await;
    app.db
        .upsert_partner(
            &app.store,
            asha,
            &PartnerInput {
                basis_points: 1_000,
                scope: PartnerScope::FirstOrder,
                period_days: None,
                note: None,
            },
            "user:test",
        )
        .await
        .unwrap();

    let before = Timestamp::now().0;
    let r = app
        .post(&format!("/api/v1/partners/{asha}/link"), &json!({}))
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let url = body["url"].as_str().unwrap();
    let prefix = format!("{}/partner/{}/", app.base, app.store.id);
    let token = url
        .strip_prefix(&prefix)
        .expect("the page lives under the store")
        .to_string();
    assert_eq!(token.len(), 96);
    let expires = Timestamp::parse_rfc3339(body["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires.0 - (before + 30 * DAY)).abs() < 60_000);
    let week: Value = app
        .post(
            &format!("/api/v1/partners/{asha}/link"),
            &json!({ "ttl_days": 7 }),
        )
        .await
        .json()
        .await
        .unwrap();
    let expires = Timestamp::parse_rfc3339(week["expires_at"].as_str().unwrap()).unwrap();
    assert!((expires.0 - (before + 7 * DAY)).abs() < 60_000);
    let (status, code, field) = problem(
        app.post(
            &format!("/api/v1/partners/{asha}/link"),
            &json!({ "ttl_days": 91 }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "out_of_range", Some("ttl_days"))
    );
    // Customers who are not partners, ids nobody has, and another store's key: not found.
    let ravi = order(&app, "R-0", "ravi", 10_000, &[]).await;
    for id in [ravi.to_string(), CustomerId::new().to_string(), "nonsense".into()] {
        let (status, _, _) =
            problem(app.post(&format!("/api/v1/partners/{id}/link"), &json!({})).await).await;
        assert_eq!(status, 404, "{id}");
    }
    let (other, other_key) = app.other_store().await;
    let theirs = app
        .post_as(&other_key, &format!("/api/v1/partners/{asha}/link"), &json!({}))
        .await;
    assert_eq!(theirs.status(), 404);

    // Before any friend: the terms and nothing earned.
    let page = format!("/partner/{}/{token}", app.store.id);
    let r = get(&app, &format!("{page}?lang=en")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let code = app.db.referral_code(&app.store, asha).await.unwrap().code;
    assert!(html.contains(&format!("id=\"referral-code\">{code}<")), "{html}");
    assert!(html.contains(&format!("value=\"{}/r/{}/{code}\"", app.base, app.store.id)));
    assert!(html.contains("10% of what each friend you refer spends on their first order"));
    assert!(html.contains("id=\"earnings-pending\">₹0.00<"), "{html}");
    assert!(html.contains("No commissions yet."));

    // A friend's ₹1,500 order with her code: 10% pending until the window ends.
    let friend = order(&app, "F-77", "kiran", 150_000, &[&code]).await;
    let referrals = referrals_of(&app, asha).await;
    assert_eq!(referrals.len(), 1);
    assert_eq!(referrals[0].friend_id, friend);
    let html = get(&app, &format!("{page}?lang=en")).await.text().await.unwrap();
    assert!(html.contains("id=\"earnings-pending\">₹150.00<"), "{html}");
    assert!(html.contains("id=\"earnings-owed\">₹0.00<"));
    assert!(html.contains("id=\"earnings-paid\">₹0.00<"));
    assert!(html.contains("Friends referred: 1"));
    assert!(
        html.contains("<td>F-77</td><td class=\"lp-num\">₹150.00</td><td>pending</td>"),
        "{html}"
    );
    assert!(!html.contains("kiran@example.in"), "the friend stays unnamed");
    // In the store's language, lakh grouping and all.
    let hindi = get(&app, &page).await.text().await.unwrap();
    assert!(hindi.contains("<html lang=\"hi\">"));
    assert!(hindi.contains("आपकी कमाई"), "{hindi}");
    assert!(hindi.contains("id=\"earnings-pending\">₹150.00<"));

    // The window passes: owed; then paid.
    app.db
        .run_referrals(&app.store, Timestamp(Timestamp::now().0 + 30 * DAY))
        .await
        .unwrap();
    let html = get(&app, &format!("{page}?lang=en")).await.text().await.unwrap();
    assert!(html.contains("id=\"earnings-pending\">₹0.00<"), "{html}");
    assert!(html.contains("id=\"earnings-owed\">₹150.00<"), "{html}");
    assert!(html.contains("<td>owed</td>"));
    app.db
        .pay_partner(&app.store, asha, Some("UTR-2291"), "user:test")
        .await
        .unwrap();
    let html = get(&app, &format!("{page}?lang=en")).await.text().await.unwrap();
    assert!(html.contains("id=\"earnings-owed\">₹0.00<"), "{html}");
    assert!(html.contains("id=\"earnings-paid\">₹150.00<"));
    assert!(
        html.contains("<td class=\"lp-num\">₹150.00</td><td>UTR-2291</td>"),
        "{html}"
    );

    // An expired partner link: gone, in the store's language, with nothing of the partner's.
    let key = app.db.loyalty_link_key(app.store.id).await.unwrap();
    let stale = signed(
        &key,
        b"regulars/partner-link/v1\0",
        app.store.id.0.as_bytes(),
        asha.0.as_bytes(),
        Timestamp::now().0 / 1000 - 60,
    );
    let r = get(&app, &format!("/partner/{}/{stale}", app.store.id)).await;
    assert_eq!(r.status(), 410);
    let html = r.text().await.unwrap();
    assert!(html.contains("इस लिंक की अवधि समाप्त हो गई है"), "{html}");
    assert!(!html.contains("₹150.00"));

    // A loyalty link does not open the partner page, nor a partner link the loyalty page.
    let loyalty = loyalty_path(&app, asha).await;
    let loyalty_token = loyalty.rsplit('/').next().unwrap();
    let r = get(
        &app,
        &format!("/partner/{}/{loyalty_token}?lang=en", app.store.id),
    )
    .await;
    assert_eq!(r.status(), 404);
    assert!(!r.text().await.unwrap().contains("₹150.00"));
    assert_eq!(get(&app, &format!("{loyalty}?lang=en")).await.status(), 200);
    assert_eq!(
        get(&app, &format!("/loyalty/{}/{token}", app.store.id))
            .await
            .status(),
        404
    );
    // Another store's id in the address, a store nobody has, a token cut short: not found.
    for bad in [
        format!("/partner/{}/{token}", other.id),
        format!("/partner/not-a-store/{token}"),
        format!("/partner/{}/{}", app.store.id, &token[1..]),
    ] {
        let r = get(&app, &bad).await;
        assert_eq!(r.status(), 404, "{bad}");
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("₹150.00") && !html.contains("Chai Chaupal"),
            "{bad}"
        );
    }
}

on_both_backends!(
    the_loyalty_page_offers_the_code_the_link_and_four_ways_to_share,
    the_section_is_hidden_when_the_program_is_off_or_the_customer_not_eligible,
    the_landing_page_speaks_the_friends_language_and_records_visits,
    the_landing_form_refers_the_friend_by_link_until_their_first_order,
    forged_expired_and_foreign_form_tokens_write_nothing,
    partner_links_open_the_partner_page_with_earnings,
);
