//! The referral program over HTTP: settings and codes with their share links, referrals made
//! by real Shopify deliveries (once under duplicate deliveries), settled by the job only after
//! the return window, cancelled by refunds inside it; the review queue, partners with their
//! commissions and payouts, and tenant isolation on every route.

use std::sync::Arc;

use regulars_domain::{Currency, Locale, Source, TimeZone, Timestamp};
use regulars_store::StoreRecord;
use serde_json::{json, Value};

use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::{fixture, problem, sign, TestApp};

const SHOP_SECRET: &str = "shpss_referrals";
const DAY_MS: i64 = 86_400_000;
const REWARD_POINTS: i64 = 500;

/// One store as its API key sees it.
struct Shop {
    app: Arc<TestApp>,
    store: StoreRecord,
    key: String,
}

impl Shop {
    /// The app's own (INR) store.
    fn inr(app: &Arc<TestApp>) -> Shop {
        Shop {
            app: app.clone(),
            store: app.store.clone(),
            key: app.key.clone(),
        }
    }

    /// A USD store taking signed Shopify deliveries (the fixture order is in USD).
    async fn usd(app: &Arc<TestApp>) -> Shop {
        let store = app
            .db
            .create_store(
                "Bob's Shop",
                Currency::parse("USD").unwrap(),
                TimeZone::parse("America/New_York").unwrap(),
                Locale::parse("en-US").unwrap(),
            )
            .await
            .unwrap();
        let key = app.db.create_api_key(store.id, "usd").await.unwrap().key;
        app.db
            .add_webhook_secret(store.id, Source::Shopify, SHOP_SECRET)
            .await
            .unwrap();
        Shop {
            app: app.clone(),
            store,
            key,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idem: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        req.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, None, None).await
    }

    /// A successful GET's JSON.
    async fn read(&self, path: &str) -> Value {
        let r = self.get(path).await;
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, Some(body), None).await
    }

    async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, Some(body), None).await
    }

    async fn delete(&self, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, path, None, None).await
    }

    /// Loyalty on (points at once, so rewards show on the balance) and referrals on: 10 % off
    /// the friend's first order, 500 points to the advocate, a 14-day window.
    async fn enable(&self) {
        let loyalty = json!({
            "enabled": true,
            "earn": { "points": 1, "per_minor": 100 },
            "pending_days": 0,
            "expiry_days": 365,
            "value_per_100_points_minor": 100
        });
        let r = self.put("/api/v1/loyalty/program", &loyalty).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = self.put("/api/v1/referrals/program", &program()).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn customer(&self, external_id: &str, email: &str) -> String {
        let r = self
            .post(
                "/api/v1/customers",
                &json!({ "external_id": external_id, "email": email, "first_name": "Anna" }),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn customer_by_email(&self, email: &str) -> String {
        let v = self.read(&format!("/api/v1/customers?email={email}")).await;
        v["data"][0]["id"].as_str().unwrap().to_string()
    }

    /// The advocate's code (made on first ask).
    async fn code(&self, customer: &str) -> String {
        let v = self.read(&format!("/api/v1/customers/{customer}/referral")).await;
        v["code"].as_str().unwrap().to_string()
    }

    async fn referrals(&self, query: &str) -> Vec<Value> {
        let v = self.read(&format!("/api/v1/referrals{query}")).await;
        v["data"].as_array().unwrap().clone()
    }

    async fn referral(&self, id: &str) -> Value {
        self.read(&format!("/api/v1/referrals/{id}")).await
    }

    /// Settles referrals as of `days` from now.
    async fn run_in(&self, days: i64) -> Value {
        let at = Timestamp(Timestamp::now().0 + days * DAY_MS).to_rfc3339();
        let r = self.post("/api/v1/referrals/run", &json!({ "at": at })).await;
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Points the customer holds now or will once pending points mature, and earned ever.
    async fn points(&self, customer: &str) -> (i64, i64) {
        let v = self.read(&format!("/api/v1/customers/{customer}/loyalty")).await;
        let b = &v["balance"];
        (
            b["available"].as_i64().unwrap() + b["pending"].as_i64().unwrap(),
            b["lifetime_earned"].as_i64().unwrap(),
        )
    }

    async fn timeline_kinds(&self, customer: &str) -> Vec<String> {
        let v = self.read(&format!("/api/v1/customers/{customer}/timeline")).await;
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }

    async fn shopify(&self, topic: &str, delivery: &str, body: &[u8]) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(&format!("/webhooks/shopify/{}", self.store.id)))
            .header("content-type", "application/json")
            .header("x-shopify-topic", topic)
            .header("x-shopify-webhook-id", delivery)
            .header("x-shopify-hmac-sha256", sign(SHOP_SECRET, body))
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// An API order of a new customer carrying `code` as a discount code, placed now.
    async fn friend_order(
        &self,
        external_id: &str,
        customer_ext: &str,
        email: &str,
        total: &str,
        code: &str,
    ) {
        let order = json!({
            "external_id": external_id,
            "customer": { "external_id": customer_ext, "email": email, "first_name": "Sunita" },
            "placed_at": Timestamp::now().to_rfc3339(),
            "currency": self.store.currency.code(),
            "total": total,
            "line_items": [{ "sku": "TEA-ASSAM-250", "title": "Assam tea", "quantity": 1, "price": total }],
            "discount_codes": [code],
        });
        let r = self.post("/api/v1/orders", &order).await;
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

fn program() -> Value {
    json!({
        "enabled": true,
        "friend_discount": { "kind": "percent", "basis_points": 1000 },
        "advocate_reward": { "kind": "points", "points": REWARD_POINTS },
        "return_window_days": 14
    })
}

/// The real Shopify order (`.order`) with the advocate's code among its discount codes, placed
/// now, under a fresh id; `friend` replaces the fixture customer (id, email) when given.
fn shopify_order(code: &str, id: u64, friend: Option<(u64, &str)>) -> Vec<u8> {
    let v: Value = serde_json::from_slice(&fixture("shopify/rest_order.shopify-api-ruby.json")).unwrap();
    let mut order = v["order"].clone();
    order["discount_codes"] = json!([{ "code": code, "amount": "10.00", "type": "percentage" }]);
    order["created_at"] = json!(Timestamp::now().to_rfc3339());
    order["updated_at"] = json!(Timestamp::now().to_rfc3339());
    order["id"] = json!(id);
    order["name"] = json!(format!("#{id}"));
    if let Some((customer, email)) = friend {
        order["customer"]["id"] = json!(customer);
        order["customer"]["email"] = json!(email);
        order["email"] = json!(email);
    }
    serde_json::to_vec(&order).unwrap()
}

/// The real Shopify refund (`.refund`) adapted to an order: the whole 409.94 paid back at
/// `created_at`.
fn shopify_refund(id: u64, order: u64, created_at: Timestamp) -> Vec<u8> {
    let v: Value = serde_json::from_slice(&fixture("shopify/rest_refund.shopify-api-ruby.json")).unwrap();
    let mut refund = v["refund"].clone();
    refund["id"] = json!(id);
    refund["order_id"] = json!(order);
    refund["created_at"] = json!(created_at.to_rfc3339());
    for t in refund["transactions"].as_array_mut().unwrap() {
        t["order_id"] = json!(order);
        t["amount"] = json!("409.94");
        t["created_at"] = json!(created_at.to_rfc3339());
    }
    serde_json::to_vec(&refund).unwrap()
}

/// A fresh Shopify-like id (above 2^32, below 2^53) per call.
fn fresh_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = 5_000_000_000 + (Timestamp::now().0 as u64 % 1_000_000) * 1_000;
    base + NEXT.fetch_add(1, Ordering::Relaxed)
}

fn kinds_of(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect()
}

/// Percent-decoding for the share targets.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------

/// The settings are validated (422 naming the field, nothing saved); codes are refused while
/// the program is off or the customer is not eligible; a code comes with its share link and
/// targets built from the request's origin, and stays the same on every ask.
async fn program_settings_and_share_links(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let shop = Shop::inr(&app);
    let v = shop.read("/api/v1/referrals/program").await;
    assert_eq!(v["program"]["enabled"], false);
    assert_eq!(v["program"]["return_window_days"], 14);

    for (change, field) in [
        (
            json!({ "advocate_reward": { "kind": "points", "points": 0 } }),
            "advocate_reward.points",
        ),
        (json!({ "return_window_days": 400 }), "return_window_days"),
        (json!({ "friend_points": "lots" }), "friend_points"),
        (json!({ "min_order_value": -1 }), "min_order_value"),
        (json!({ "shop_url": "ftp://shop" }), "shop_url"),
    ] {
        let mut p = program();
        for (k, val) in change.as_object().unwrap() {
            p[k] = val.clone();
        }
        let (status, _, got) = problem(shop.put("/api/v1/referrals/program", &p).await).await;
        assert_eq!((status, got.as_deref()), (422, Some(field)), "{change}");
    }
    let v = shop.read("/api/v1/referrals/program").await;
    assert_eq!(v["program"]["enabled"], false, "nothing was saved");

    let anna = shop.customer("anna", "anna.kovacs@example.in").await;
    let (status, code, _) = problem(shop.get(&format!("/api/v1/customers/{anna}/referral")).await).await;
    assert_eq!((status, code.as_str()), (409, "referrals_off"));

    let mut strict = program();
    strict["eligibility"] = json!({ "min_orders": 1 });
    let r = shop.put("/api/v1/referrals/program", &strict).await;
    assert_eq!(r.status(), 200);
    let (status, code, _) = problem(shop.get(&format!("/api/v1/customers/{anna}/referral")).await).await;
    assert_eq!((status, code.as_str()), (409, "not_eligible"));

    // Saved once under an idempotency key; the retry gets the same reply.
    let first = shop
        .send(
            reqwest::Method::PUT,
            "/api/v1/referrals/program",
            Some(&program()),
            Some("prog-1"),
        )
        .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let again = shop
        .send(
            reqwest::Method::PUT,
            "/api/v1/referrals/program",
            Some(&program()),
            Some("prog-1"),
        )
        .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(first["program"]["eligibility"]["min_orders"], 0);
    assert_eq!(first["updated_by"], "api_key");

    let v = shop.read(&format!("/api/v1/customers/{anna}/referral")).await;
    let code = v["code"].as_str().unwrap().to_string();
    assert!(code.len() >= 6 && code.contains('-'), "{code}");
    let link = format!("{}/r/{}/{code}", app.base, app.store.id);
    assert_eq!(v["link"], link.as_str());
    assert_eq!(v["customer_id"], anna.as_str());
    assert_eq!(v["friends"], 0);
    assert_eq!(v["counts"]["pending"], 0);
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains(&code) && message.contains(&link) && message.contains("10% off"),
        "{message}"
    );
    let whatsapp = v["share"]["whatsapp"].as_str().unwrap();
    let rest = whatsapp.strip_prefix("https://wa.me/?text=").unwrap();
    assert!(!rest.contains(' ') && !rest.contains('&'), "{whatsapp}");
    assert_eq!(decode(rest), message);
    let email = v["share"]["email"].as_str().unwrap();
    let (subject, body) = email
        .strip_prefix("mailto:?subject=")
        .unwrap()
        .split_once("&body=")
        .unwrap();
    assert!(decode(subject).contains("Chai Chaupal"), "{email}");
    assert_eq!(decode(body), message);
    let sms = v["share"]["sms"].as_str().unwrap();
    assert_eq!(decode(sms.strip_prefix("sms:?body=").unwrap()), message);

    // The same code on every ask; behind a proxy, the link takes the public origin.
    let r = app
        .client
        .get(app.url(&format!("/api/v1/customers/{anna}/referral")))
        .bearer_auth(&app.key)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "shop.example.in")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], code.as_str());
    assert_eq!(
        v["link"],
        format!("https://shop.example.in/r/{}/{code}", app.store.id).as_str()
    );
    let mine = shop.read(&format!("/api/v1/customers/{anna}/referrals")).await;
    assert_eq!(mine["code"], code.as_str());
    assert!(mine["referred"].as_array().unwrap().is_empty());
    assert!(mine["referred_by"].is_null());

    // Filters are checked and name the field.
    for (query, field) in [
        ("?status=maybe", "status"),
        ("?limit=0", "limit"),
        ("?before=yesterday", "before"),
        ("?advocate=nobody", "advocate"),
    ] {
        let (status, _, got) = problem(shop.get(&format!("/api/v1/referrals{query}")).await).await;
        assert_eq!((status, got.as_deref()), (422, Some(field)), "{query}");
    }
    let (status, _, got) = problem(shop.post("/api/v1/referrals/run", &json!({ "at": "soon" })).await).await;
    assert_eq!((status, got.as_deref()), (422, Some("at")));
    let (status, _, got) = problem(
        shop.get("/api/v1/referrals/report?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z")
            .await,
    )
    .await;
    assert_eq!((status, got.as_deref()), (422, Some("to")));
}

/// The real Shopify order carrying the advocate's code becomes a pending referral of the
/// fixture's customer; the job leaves it alone inside the window and rewards it after, once.
async fn shopify_order_with_a_code_is_referred_then_rewarded_after_the_window(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let shop = Shop::usd(&app).await;
    shop.enable().await;
    let anna = shop.customer("adv-anna", "anna.kovacs@example.com").await;
    let code = shop.code(&anna).await;
    let (before, earned_before) = shop.points(&anna).await;

    let order_id = fresh_id();
    let body = shopify_order(&code, order_id, None);
    let r = shop.shopify("orders/create", "create-1", &body).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let bob = shop.customer_by_email("bob.norman@hostmail.com").await;
    let list = shop.referrals("").await;
    assert_eq!(list.len(), 1, "{list:?}");
    let referral = &list[0];
    let id = referral["id"].as_str().unwrap().to_string();
    assert_eq!(referral["status"], "pending", "{referral}");
    assert_eq!(referral["friend_id"], bob.as_str());
    assert_eq!(referral["advocate_id"], anna.as_str());
    assert_eq!(referral["code"], code.as_str());
    assert_eq!(referral["channel"], "code");
    assert_eq!(referral["order_value"], "409.94");
    assert_eq!(referral["order_value_minor"], 40994);
    assert_eq!(referral["currency"], "USD");
    assert_eq!(kinds_of(&referral["findings"]), Vec::<String>::new());
    let qualifies_at = Timestamp::parse_rfc3339(referral["qualifies_at"].as_str().unwrap()).unwrap();
    let window = qualifies_at.0 - Timestamp::now().0;
    assert!(window > 13 * DAY_MS && window <= 14 * DAY_MS, "{referral}");
    assert_eq!(shop.referral(&id).await, *referral);
    assert_eq!(
        shop.referrals(&format!("?status=pending&advocate={anna}"))
            .await
            .len(),
        1
    );
    assert_eq!(shop.referrals("?status=rewarded").await.len(), 0);
    assert_eq!(shop.referrals(&format!("?advocate={bob}")).await.len(), 0);

    // Inside the window nothing moves.
    let run = shop.run_in(13).await;
    assert_eq!(
        (run["qualified"].as_u64(), run["rewarded"].as_u64()),
        (Some(0), Some(0)),
        "{run}"
    );
    assert_eq!(shop.referral(&id).await["status"], "pending");
    assert_eq!(shop.points(&anna).await, (before, earned_before));

    // After it, the advocate is rewarded, once.
    let run = shop.run_in(15).await;
    assert_eq!(
        (run["qualified"].as_u64(), run["rewarded"].as_u64()),
        (Some(1), Some(1)),
        "{run}"
    );
    let settled = shop.referral(&id).await;
    assert_eq!(settled["status"], "rewarded", "{settled}");
    assert_eq!(settled["advocate_reward"]["kind"], "points");
    assert_eq!(settled["advocate_reward"]["points"], REWARD_POINTS);
    assert_eq!(
        shop.points(&anna).await,
        (before + REWARD_POINTS, earned_before + REWARD_POINTS)
    );
    let run = shop.run_in(16).await;
    assert_eq!(run["rewarded"], 0, "{run}");
    assert_eq!(shop.points(&anna).await.0, before + REWARD_POINTS);

    let kinds = shop.timeline_kinds(&anna).await;
    for kind in ["referral_created", "referral_qualified", "referral_rewarded"] {
        assert_eq!(
            kinds.iter().filter(|k| *k == kind).count(),
            1,
            "{kind} in {kinds:?}"
        );
    }

    let mine = shop.read(&format!("/api/v1/customers/{anna}/referrals")).await;
    assert_eq!(mine["referred"][0]["id"], id.as_str());
    let theirs = shop.read(&format!("/api/v1/customers/{bob}/referrals")).await;
    assert_eq!(theirs["referred_by"]["advocate_id"], anna.as_str());
    assert!(theirs["code"].is_null());
    let card = shop.read(&format!("/api/v1/customers/{anna}/referral")).await;
    assert_eq!(card["friends"], 1);
    assert_eq!(card["counts"]["rewarded"], 1);

    let report = shop.read("/api/v1/referrals/report").await;
    assert_eq!(report["currency"], "USD");
    assert_eq!(report["by_status"]["rewarded"], 1, "{report}");
    assert_eq!(report["referred_new_customers"], 1, "{report}");
    let row = report["advocates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["customer_id"] == anna.as_str())
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(row["friends"], 1);
    assert_eq!(row["qualified"], 1);
    assert_eq!(row["code"], code.as_str());
    assert_eq!(row["friends_revenue"], "409.94");
    assert_eq!(row["friends_revenue_minor"], 40994);
    assert!(row["cost_minor"].as_i64().unwrap() > 0, "{row}");
    assert_eq!(
        row["cost"],
        regulars_domain::Money::new(
            row["cost_minor"].as_i64().unwrap(),
            Currency::parse("USD").unwrap()
        )
        .to_major_string()
        .as_str()
    );
}

/// W2 for referrals: the same orders/create delivery 20 times at once makes one referral and,
/// after the window, one reward.
async fn a_duplicated_delivery_refers_and_rewards_once(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let shop = Arc::new(Shop::usd(&app).await);
    shop.enable().await;
    let anna = shop.customer("adv-anna", "anna.kovacs@example.com").await;
    let code = shop.code(&anna).await;
    let (before, _) = shop.points(&anna).await;
    let body = shopify_order(&code, fresh_id(), None);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (shop, body) = (shop.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            shop.shopify("orders/create", "same-delivery", &body)
                .await
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let list = shop.referrals("").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status"], "pending");
    let run = shop.run_in(15).await;
    assert_eq!(run["rewarded"], 1, "{run}");
    assert_eq!(
        shop.points(&anna).await.0,
        before + REWARD_POINTS,
        "rewarded once"
    );
    let kinds = shop.timeline_kinds(&anna).await;
    assert_eq!(kinds.iter().filter(|k| *k == "referral_rewarded").count(), 1);
}

/// A full refund inside the window cancels the referral (no reward after it); a refund made
/// after the window closed does not take the reward away.
async fn refunds_inside_the_window_cancel_later_ones_do_not(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let shop = Shop::usd(&app).await;
    shop.enable().await;
    let anna = shop.customer("adv-anna", "anna.kovacs@example.com").await;
    let code = shop.code(&anna).await;
    let (before, _) = shop.points(&anna).await;

    // Bob buys with the code and returns everything at once.
    let bobs = fresh_id();
    let r = shop
        .shopify("orders/create", "bob-order", &shopify_order(&code, bobs, None))
        .await;
    assert_eq!(r.status(), 200);
    let refund = shopify_refund(fresh_id(), bobs, Timestamp::now());
    let r = shop.shopify("refunds/create", "bob-refund", &refund).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let bob = shop.customer_by_email("bob.norman@hostmail.com").await;
    let bobs_referral = shop.referrals(&format!("?advocate={anna}")).await;
    assert_eq!(bobs_referral.len(), 1);
    assert_eq!(bobs_referral[0]["friend_id"], bob.as_str());
    let bob_ref = bobs_referral[0]["id"].as_str().unwrap().to_string();
    assert_eq!(shop.referral(&bob_ref).await["status"], "cancelled");

    // Carol buys with the code and returns everything only after her window closed.
    let carols = fresh_id();
    let order = shopify_order(&code, carols, Some((207_119_552, "carol.nguyen@hostmail.com")));
    let r = shop.shopify("orders/create", "carol-order", &order).await;
    assert_eq!(r.status(), 200);
    let late = Timestamp(Timestamp::now().0 + 14 * DAY_MS + 3_600_000);
    let r = shop
        .shopify(
            "refunds/create",
            "carol-refund",
            &shopify_refund(fresh_id(), carols, late),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let carol = shop.customer_by_email("carol.nguyen@hostmail.com").await;
    let carols_referral = shop
        .referrals("?status=pending")
        .await
        .into_iter()
        .find(|r| r["friend_id"] == carol.as_str())
        .expect("Carol's referral waits for its window");
    let carol_ref = carols_referral["id"].as_str().unwrap().to_string();

    let run = shop.run_in(15).await;
    assert_eq!(run["rewarded"], 1, "{run}");
    assert_eq!(shop.referral(&bob_ref).await["status"], "cancelled");
    let carols = shop.referral(&carol_ref).await;
    assert_eq!(carols["status"], "rewarded", "{carols}");
    assert_eq!(
        shop.points(&anna).await.0,
        before + REWARD_POINTS,
        "one reward, Carol's"
    );
    let kinds = shop.timeline_kinds(&anna).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "referral_cancelled").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "referral_rewarded").count(),
        1,
        "{kinds:?}"
    );
}

/// Friends whose email is one typo from the advocate's wait for review: approved goes back to
/// waiting for the window (then rewarded), rejected stays so; a second decision is refused.
async fn the_review_queue_over_http(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let shop = Shop::inr(&app);
    shop.enable().await;
    let meera = shop.customer("meera", "meera.iyer@example.in").await;
    let code = shop.code(&meera).await;
    shop.friend_order("o-typo-1", "f-1", "meera.iyar@example.in", "1000.00", &code)
        .await;
    shop.friend_order("o-typo-2", "f-2", "meera.iyyer@example.in", "1000.00", &code)
        .await;
    let held = shop.referrals("?status=review").await;
    assert_eq!(held.len(), 2, "{held:?}");
    for r in &held {
        let f = &r["findings"][0];
        assert_eq!(f["rule"], "similar_email", "{r}");
        assert_eq!(f["action"], "review");
        assert!(!f["detail"].as_str().unwrap().is_empty());
        assert!(!r.to_string().contains("meera.iya"), "no emails in findings: {r}");
    }
    let friend_1 = shop.customer_by_email("meera.iyar@example.in").await;
    let approve_id = held.iter().find(|r| r["friend_id"] == friend_1.as_str()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reject_id = held.iter().find(|r| r["friend_id"] != friend_1.as_str()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let decide = |id: String, body: Value, key: Option<&'static str>| {
        let shop = &shop;
        async move {
            shop.send(
                reqwest::Method::POST,
                &format!("/api/v1/referrals/{id}/decision"),
                Some(&body),
                key,
            )
            .await
        }
    };

    let (status, _, field) =
        problem(decide(approve_id.clone(), json!({ "decision": "maybe" }), None).await).await;
    assert_eq!((status, field.as_deref()), (422, Some("decision")));
    let approve = json!({ "decision": "approve", "note": "her sister, checked" });
    let r = decide(approve_id.clone(), approve.clone(), Some("decide-1")).await;
    assert_eq!(r.status(), 200);
    let approved: Value = r.json().await.unwrap();
    assert_eq!(approved["status"], "pending", "{approved}");
    assert_eq!(approved["reason"], "her sister, checked");
    assert_eq!(approved["decided_by"], "api_key");
    let replay = decide(approve_id.clone(), approve.clone(), Some("decide-1")).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap(), approved);
    let (status, code_409, _) =
        problem(decide(approve_id.clone(), approve.clone(), Some("decide-2")).await).await;
    assert_eq!((status, code_409.as_str()), (409, "not_in_review"));

    let r = decide(reject_id.clone(), json!({ "decision": "reject" }), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "rejected");
    let (status, code_409, _) = problem(decide(reject_id.clone(), approve.clone(), None).await).await;
    assert_eq!((status, code_409.as_str()), (409, "not_in_review"));
    let (status, code_404, _) = problem(decide("no-such-referral".into(), approve.clone(), None).await).await;
    assert_eq!((status, code_404.as_str()), (404, "not_found"));

    let (before, _) = shop.points(&meera).await;
    let run = shop.run_in(15).await;
    assert_eq!(run["rewarded"], 1, "{run}");
    assert_eq!(shop.referral(&approve_id).await["status"], "rewarded");
    assert_eq!(shop.referral(&reject_id).await["status"], "rejected");
    assert_eq!(shop.points(&meera).await.0, before + REWARD_POINTS);
}

/// A partner earns a commission instead of the reward: pending inside the window, approved
/// after it, paid once; the payout report and its CSV list them.
async fn partners_commissions_and_payouts_over_http(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let shop = Shop::inr(&app);
    shop.enable().await;
    let ravi = shop.customer("ravi", "ravi.kumar@example.in").await;
    let code = shop.code(&ravi).await;
    let path = format!("/api/v1/partners/{ravi}");

    for (body, field) in [
        (
            json!({ "basis_points": 0, "scope": "first_order" }),
            "basis_points",
        ),
        (json!({ "basis_points": 1000, "scope": "sometimes" }), "scope"),
        (
            json!({ "basis_points": 1000, "scope": "all_orders", "period_days": 0 }),
            "period_days",
        ),
    ] {
        let (status, _, got) = problem(shop.put(&path, &body).await).await;
        assert_eq!((status, got.as_deref()), (422, Some(field)), "{body}");
    }
    let r = shop
        .put(
            &path,
            &json!({ "basis_points": 1000, "scope": "first_order", "note": "food blogger" }),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let partner: Value = r.json().await.unwrap();
    assert_eq!(partner["status"], "active");
    assert_eq!(partner["basis_points"], 1000);
    assert_eq!(partner["scope"], "first_order");
    let listed = shop.read("/api/v1/partners").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["customer_id"], ravi.as_str());
    assert_eq!(listed["data"][0]["code"], code.as_str());

    shop.friend_order(
        "o-partner-1",
        "friend-1",
        "sunita.rao@example.in",
        "1000.00",
        &code,
    )
    .await;
    let detail = shop.read(&path).await;
    let commissions = detail["commissions"].as_array().unwrap();
    assert_eq!(commissions.len(), 1, "{detail}");
    assert_eq!(commissions[0]["status"], "pending");
    assert_eq!(commissions[0]["kind"], "earned");
    assert_eq!(commissions[0]["amount"], "100.00");
    assert_eq!(commissions[0]["amount_minor"], 10_000);
    assert_eq!(commissions[0]["currency"], "INR");
    assert_eq!(detail["pending_minor"], 10_000);
    assert_eq!(detail["friends"], 1);
    let payouts = format!("{path}/payouts");
    let (status, code_409, _) = problem(shop.post(&payouts, &json!({})).await).await;
    assert_eq!(
        (status, code_409.as_str()),
        (409, "nothing_owed"),
        "pending is not owed"
    );

    let run = shop.run_in(15).await;
    assert_eq!(run["commissions_approved"], 1, "{run}");
    let referral = &shop.referrals(&format!("?advocate={ravi}")).await[0];
    assert_eq!(referral["status"], "qualified", "{referral}");
    assert_eq!(referral["advocate_reward"]["skipped"], "partner_commission");
    let detail = shop.read(&path).await;
    assert_eq!(detail["commissions"][0]["status"], "approved");
    assert_eq!(detail["approved"], "100.00");
    let report = shop.read("/api/v1/partners/payouts").await;
    assert_eq!(report["partners"][0]["owed"], "100.00", "{report}");

    let r = shop
        .send(
            reqwest::Method::POST,
            &payouts,
            Some(&json!({ "reference": "NEFT-2025-001" })),
            Some("payout-1"),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let payout: Value = r.json().await.unwrap();
    assert_eq!(payout["amount"], "100.00");
    assert_eq!(payout["amount_minor"], 10_000);
    assert_eq!(payout["entries"], 1);
    assert_eq!(payout["reference"], "NEFT-2025-001");
    let replay = shop
        .send(
            reqwest::Method::POST,
            &payouts,
            Some(&json!({ "reference": "NEFT-2025-001" })),
            Some("payout-1"),
        )
        .await;
    assert_eq!(replay.status(), 201);
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        payout,
        "a retry is the same payout"
    );
    let (status, code_409, _) = problem(shop.post(&payouts, &json!({})).await).await;
    assert_eq!((status, code_409.as_str()), (409, "nothing_owed"));

    let detail = shop.read(&path).await;
    assert_eq!(detail["commissions"][0]["status"], "paid");
    assert_eq!(detail["commissions"][0]["payout_id"], payout["id"]);
    assert_eq!(detail["paid_minor"], 10_000);
    assert_eq!(detail["payouts"].as_array().unwrap().len(), 1);
    let report = shop.read("/api/v1/partners/payouts").await;
    assert_eq!(report["partners"][0]["owed"], "0.00");
    assert_eq!(report["partners"][0]["paid"], "100.00");
    assert_eq!(report["payouts"].as_array().unwrap().len(), 1);

    let r = shop.get("/api/v1/partners/payouts.csv").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains(".csv"),
        "{disposition}"
    );
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains(&code) && lines[1].contains("100.00"), "{csv}");

    let r = shop.delete(&path).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ended");
    assert_eq!(shop.read(&path).await["status"], "ended");
}

/// RELIABILITY S1: another store's key gets 404 for every referral and partner id of this
/// store, changes nothing, and its lists and reports show none of this store's data.
async fn another_store_sees_nothing_of_the_program(backend: Backend) {
    let app = Arc::new(TestApp::spawn(backend).await);
    let a = Shop::inr(&app);
    a.enable().await;
    let meera = a.customer("meera", "meera.iyer@example.in").await;
    let code = a.code(&meera).await;
    a.friend_order("o-typo", "f-1", "meera.iyar@example.in", "1000.00", &code)
        .await;
    let referral = a.referrals("?status=review").await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ravi = a.customer("ravi", "ravi.kumar@example.in").await;
    let ravi_code = a.code(&ravi).await;
    let r = a
        .put(
            &format!("/api/v1/partners/{ravi}"),
            &json!({ "basis_points": 1000, "scope": "first_order" }),
        )
        .await;
    assert_eq!(r.status(), 200);

    let (other, other_key) = app.other_store().await;
    let b = Shop {
        app: app.clone(),
        store: other,
        key: other_key,
    };
    b.enable().await;
    let secrets = [
        code.as_str(),
        ravi_code.as_str(),
        "meera.iyer@example.in",
        "meera.iyar@example.in",
        "ravi.kumar@example.in",
        meera.as_str(),
        ravi.as_str(),
        referral.as_str(),
    ];
    let clean = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s}: {text}");
        }
    };
    let calls: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (
            reqwest::Method::GET,
            format!("/api/v1/customers/{meera}/referral"),
            None,
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/customers/{meera}/referrals"),
            None,
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/referrals/{referral}"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/referrals/{referral}/decision"),
            Some(json!({ "decision": "approve" })),
        ),
        (reqwest::Method::GET, format!("/api/v1/partners/{ravi}"), None),
        (
            reqwest::Method::PUT,
            format!("/api/v1/partners/{ravi}"),
            Some(json!({ "basis_points": 4000, "scope": "all_orders" })),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/partners/{ravi}/payouts"),
            Some(json!({})),
        ),
        (reqwest::Method::DELETE, format!("/api/v1/partners/{ravi}"), None),
    ];
    for (method, path, body) in calls {
        let r = b.send(method.clone(), &path, body.as_ref(), None).await;
        assert_eq!(r.status(), 404, "{method} {path}");
        let text = r.text().await.unwrap();
        // The path's own id may be echoed by nobody: the answer names no id at all.
        clean(&format!("{method} {path}"), &text);
    }
    for path in [
        "/api/v1/referrals".to_string(),
        format!("/api/v1/referrals?advocate={meera}"),
        "/api/v1/partners".to_string(),
        "/api/v1/partners/payouts".to_string(),
        "/api/v1/referrals/report".to_string(),
    ] {
        let v = b.read(&path).await;
        clean(&path, &v.to_string());
    }
    assert!(b.read("/api/v1/referrals").await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(b.read("/api/v1/partners").await["data"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(b.read("/api/v1/partners/payouts").await["partners"]
        .as_array()
        .unwrap()
        .is_empty());
    let csv = b.get("/api/v1/partners/payouts.csv").await.text().await.unwrap();
    clean("payouts.csv", &csv);
    assert_eq!(
        csv.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "header only: {csv}"
    );
    let run = b.run_in(15).await;
    assert_eq!(run["qualified"], 0);

    // A's data is as it was.
    assert_eq!(a.referral(&referral).await["status"], "review");
    let partner = a.read(&format!("/api/v1/partners/{ravi}")).await;
    assert_eq!(partner["status"], "active");
    assert_eq!(partner["basis_points"], 1000);
}

on_both_backends!(
    program_settings_and_share_links,
    shopify_order_with_a_code_is_referred_then_rewarded_after_the_window,
    a_duplicated_delivery_refers_and_rewards_once,
    refunds_inside_the_window_cancel_later_ones_do_not,
    the_review_queue_over_http,
    partners_commissions_and_payouts_over_http,
    another_store_sees_nothing_of_the_program,
);
