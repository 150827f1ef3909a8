//! The settings area at the HTTP level: store settings, API keys, webhook secrets and people,
//! each guarded by membership (404), role (403) and CSRF (403).

use regulars_domain::{Email, Role, Source};
use regulars_store::StoreError;
use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::{inner, order_json, sign, TestApp};
use crate::staff::{hidden_csrf, person, Browser, PASSWORD};

fn settings(app: &TestApp, rest: &str) -> String {
    format!("/app/{}/settings{rest}", app.store.id)
}

/// The text of the element with this id (a `<code>` holding a key or a password).
fn shown(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\">");
    let at = html.find(&marker)? + marker.len();
    let end = html[at..].find('<')? + at;
    Some(html[at..end].to_string())
}

async fn owner_browser(app: &TestApp, email: &str) -> (Browser, String) {
    person(app, email, Role::Owner).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(app, email).await;
    (browser, csrf)
}

async fn user_id(app: &TestApp, email: &str) -> String {
    app.db
        .user_by_email(&Email::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

async fn role_of(app: &TestApp, email: &str) -> Option<Role> {
    app.db
        .store_people(app.store.id)
        .await
        .unwrap()
        .into_iter()
        .find(|(u, _)| u.email.as_str() == email)
        .map(|(_, r)| r)
}

async fn shopify_delivery(app: &TestApp, delivery: &str, secret: &str) -> u16 {
    let body = inner("shopify/rest_order.shopify-api-ruby.json", "order");
    app.client
        .post(app.url(&format!("/webhooks/shopify/{}", app.store.id)))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-webhook-id", delivery)
        .header("x-shopify-hmac-sha256", sign(secret, &body))
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn only_owners_and_admins_reach_settings_and_people(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    app.db
        .add_webhook_secret(app.store.id, Source::Shopify, "shpss_kept_secret")
        .await
        .unwrap();
    let key_id = app.db.api_keys(app.store.id).await.unwrap()[0].id.clone();
    let secret_id = app
        .db
        .webhook_secret_hints(app.store.id, Source::Shopify)
        .await
        .unwrap()[0]
        .id
        .clone();
    let owner = user_id(&app, "owner@chai.in").await;

    for role in [Role::Viewer, Role::Marketer, Role::Support, Role::AccountManager] {
        let email = format!("{}@chai.in", role.as_str());
        person(&app, &email, role).await;
        let mut browser = Browser::new();
        let csrf = browser.sign_in(&app, &email).await;
        for path in [settings(&app, ""), settings(&app, "/people")] {
            let r = browser.get(&app, &path).await;
            assert_eq!(r.status(), 403, "{role:?} GET {path}");
        }
        let c = csrf.as_str();
        let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
            (
                settings(&app, "/store"),
                vec![
                    ("csrf", c),
                    ("currency", "USD"),
                    ("timezone", "UTC"),
                    ("locale", "en"),
                ],
            ),
            (settings(&app, "/api-keys"), vec![("csrf", c), ("name", "sneaky")]),
            (
                settings(&app, &format!("/api-keys/{key_id}/revoke")),
                vec![("csrf", c)],
            ),
            (
                settings(&app, "/webhooks/shopify/secrets"),
                vec![("csrf", c), ("secret", "shpss_planted_secret")],
            ),
            (
                settings(&app, &format!("/webhooks/secrets/{secret_id}/remove")),
                vec![("csrf", c)],
            ),
            (
                settings(&app, "/people"),
                vec![("csrf", c), ("email", "friend@chai.in"), ("role", "owner")],
            ),
            (
                settings(&app, &format!("/people/{owner}/role")),
                vec![("csrf", c), ("role", "viewer")],
            ),
            (
                settings(&app, &format!("/people/{owner}/remove")),
                vec![("csrf", c)],
            ),
        ];
        for (path, form) in posts {
            let r = browser.post(&app, &path, &form).await;
            assert_eq!(r.status(), 403, "{role:?} POST {path}");
        }
    }

    // Nothing changed.
    let store = app.db.store(app.store.id).await.unwrap();
    assert_eq!(
        (store.currency.code(), store.timezone.name()),
        ("INR", "Asia/Kolkata")
    );
    let keys = app.db.api_keys(app.store.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked_at.is_none());
    assert_eq!(
        app.db
            .webhook_secrets(app.store.id, Source::Shopify)
            .await
            .unwrap(),
        vec!["shpss_kept_secret".to_string()]
    );
    assert_eq!(role_of(&app, "owner@chai.in").await, Some(Role::Owner));
    assert_eq!(role_of(&app, "friend@chai.in").await, None);
}

async fn another_stores_settings_are_not_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (other, _) = app.other_store().await;
    let (browser, csrf) = owner_browser(&app, "owner@chai.in").await;
    let base = format!("/app/{}/settings", other.id);
    for path in [base.clone(), format!("{base}/people")] {
        let r = browser.get(&app, &path).await;
        assert_eq!(r.status(), 404, "GET {path}");
        assert!(!r.text().await.unwrap().contains("Tsiran"));
    }
    let key_id = app.db.api_keys(other.id).await.unwrap()[0].id.clone();
    let c = csrf.as_str();
    for (path, form) in [
        (
            format!("{base}/store"),
            vec![
                ("csrf", c),
                ("currency", "USD"),
                ("timezone", "UTC"),
                ("locale", "en"),
            ],
        ),
        (format!("{base}/api-keys"), vec![("csrf", c), ("name", "x")]),
        (format!("{base}/api-keys/{key_id}/revoke"), vec![("csrf", c)]),
        (
            format!("{base}/webhooks/shopify/secrets"),
            vec![("csrf", c), ("secret", "shpss_planted_secret")],
        ),
        (
            format!("{base}/people"),
            vec![("csrf", c), ("email", "me@chai.in"), ("role", "owner")],
        ),
    ] {
        let r = browser.post(&app, &path, &form).await;
        assert_eq!(r.status(), 404, "POST {path}");
    }
    // The other store's key, revoked through this store's own address, is not touched either.
    let r = browser
        .post(
            &app,
            &settings(&app, &format!("/api-keys/{key_id}/revoke")),
            &[("csrf", c)],
        )
        .await;
    assert_eq!(r.status(), 303);
    let other_store = app.db.store(other.id).await.unwrap();
    assert_eq!(other_store.currency.code(), "AMD");
    let keys = app.db.api_keys(other.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked_at.is_none());
    assert!(app
        .db
        .webhook_secrets(other.id, Source::Shopify)
        .await
        .unwrap()
        .is_empty());
    assert!(app.db.store_people(other.id).await.unwrap().is_empty());
}

async fn forms_without_their_csrf_token_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, _) = owner_browser(&app, "owner@chai.in").await;
    person(&app, "viewer@chai.in", Role::Viewer).await;
    app.db
        .add_webhook_secret(app.store.id, Source::Shopify, "shpss_kept_secret")
        .await
        .unwrap();
    let key_id = app.db.api_keys(app.store.id).await.unwrap()[0].id.clone();
    let secret_id = app
        .db
        .webhook_secret_hints(app.store.id, Source::Shopify)
        .await
        .unwrap()[0]
        .id
        .clone();
    let viewer = user_id(&app, "viewer@chai.in").await;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            settings(&app, "/store"),
            vec![("currency", "USD"), ("timezone", "UTC"), ("locale", "en")],
        ),
        (settings(&app, "/api-keys"), vec![("name", "forged")]),
        (settings(&app, &format!("/api-keys/{key_id}/revoke")), vec![]),
        (
            settings(&app, "/webhooks/woocommerce/secrets"),
            vec![("secret", "ck_planted_secret")],
        ),
        (
            settings(&app, &format!("/webhooks/secrets/{secret_id}/remove")),
            vec![],
        ),
        (
            settings(&app, "/people"),
            vec![("email", "friend@chai.in"), ("role", "owner")],
        ),
        (
            settings(&app, &format!("/people/{viewer}/role")),
            vec![("role", "admin")],
        ),
        (settings(&app, &format!("/people/{viewer}/remove")), vec![]),
    ];
    for (path, form) in &posts {
        let r = browser.post(&app, path, form).await;
        assert_eq!(r.status(), 403, "POST {path} without a token");
        let mut forged = form.clone();
        forged.push((
            "csrf",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ));
        let r = browser.post(&app, path, &forged).await;
        assert_eq!(r.status(), 403, "POST {path} with a wrong token");
    }
    let store = app.db.store(app.store.id).await.unwrap();
    assert_eq!(
        (
            store.currency.code(),
            store.timezone.name(),
            store.locale.as_str()
        ),
        ("INR", "Asia/Kolkata", "hi-IN")
    );
    let keys = app.db.api_keys(app.store.id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].revoked_at.is_none());
    assert_eq!(
        app.db
            .webhook_secrets(app.store.id, Source::Shopify)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(app
        .db
        .webhook_secrets(app.store.id, Source::Woocommerce)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(role_of(&app, "viewer@chai.in").await, Some(Role::Viewer));
    assert_eq!(role_of(&app, "friend@chai.in").await, None);
}

async fn an_api_key_is_shown_once_works_and_stops_when_revoked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, csrf) = owner_browser(&app, "owner@chai.in").await;
    let r = browser
        .post(
            &app,
            &settings(&app, "/api-keys"),
            &[("csrf", csrf.as_str()), ("name", "Tally export")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let key = shown(&html, "new-api-key").expect("the new key on the page");
    assert!(key.starts_with("rk_") && key.len() > 30, "{key}");
    assert!(html.contains("Tally export"));

    let api = app.get_as(&key, "/api/v1/customers").await;
    assert_eq!(api.status(), 200);

    // Listed by name and first characters from now on, never in full.
    let page = browser.get(&app, &settings(&app, "")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(!html.contains(&key), "the key is shown again");
    assert!(html.contains(&key[..7]) && html.contains("Tally export"));

    let listed = app.db.api_keys(app.store.id).await.unwrap();
    let made = listed.iter().find(|k| k.name == "Tally export").unwrap();
    let r = browser
        .post(
            &app,
            &settings(&app, &format!("/api-keys/{}/revoke", made.id)),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    assert!(back.starts_with(&settings(&app, "?done=")), "{back}");
    let notice = browser.get(&app, &back).await.text().await.unwrap();
    assert!(notice.contains("The key was revoked"), "{notice}");

    let refused = app.get_as(&key, "/api/v1/customers").await;
    assert_eq!(refused.status(), 401);
    // The store's other key still works.
    assert_eq!(app.get("/api/v1/customers").await.status(), 200);
}

async fn a_webhook_secret_from_the_page_verifies_deliveries_until_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, csrf) = owner_browser(&app, "owner@chai.in").await;
    const SECRET: &str = "shpss_0f3c9a7d2b81e6f4";
    assert_eq!(shopify_delivery(&app, "d-0", SECRET).await, 401);

    let page = browser.get(&app, &settings(&app, "")).await.text().await.unwrap();
    let url = format!("/webhooks/shopify/{}", app.store.id);
    assert!(
        page.contains(&format!("{}{url}", app.base)),
        "the exact address to paste"
    );

    // Too short: refused, naming the field, and the value is not echoed.
    let r = browser
        .post(
            &app,
            &settings(&app, "/webhooks/shopify/secrets"),
            &[("csrf", csrf.as_str()), ("secret", "short")],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Secret: paste the whole secret"));

    let r = browser
        .post(
            &app,
            &settings(&app, "/webhooks/shopify/secrets"),
            &[("csrf", csrf.as_str()), ("secret", SECRET)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(shopify_delivery(&app, "d-1", SECRET).await, 200);

    let page = browser.get(&app, &settings(&app, "")).await.text().await.unwrap();
    assert!(!page.contains(SECRET), "a stored secret is never shown in full");
    assert!(!page.contains(&SECRET[..12]));
    assert!(page.contains("ends in e6f4"), "{page}");

    let hints = app
        .db
        .webhook_secret_hints(app.store.id, Source::Shopify)
        .await
        .unwrap();
    assert_eq!(hints.len(), 1);
    let r = browser
        .post(
            &app,
            &settings(&app, &format!("/webhooks/secrets/{}/remove", hints[0].id)),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(shopify_delivery(&app, "d-2", SECRET).await, 401);
}

async fn save(
    app: &TestApp,
    browser: &Browser,
    csrf: &str,
    [currency, timezone, locale]: [&str; 3],
) -> reqwest::Response {
    browser
        .post(
            app,
            &settings(app, "/store"),
            &[
                ("csrf", csrf),
                ("currency", currency),
                ("timezone", timezone),
                ("locale", locale),
            ],
        )
        .await
}

async fn store_settings_are_validated_and_the_currency_fixed_by_the_first_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (mut browser, csrf) = owner_browser(&app, "owner@chai.in").await;
    let r = save(&app, &browser, &csrf, ["INR", "Mars/Olympus", "hi-IN"]).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Time zone: “Mars/Olympus” is not an IANA time zone name"),
        "{html}"
    );
    assert!(
        html.contains("value=\"Mars/Olympus\""),
        "the form keeps what was typed"
    );
    let r = save(&app, &browser, &csrf, ["RUPEES", "Asia/Kolkata", "xx_123456789"]).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("Currency: “RUPEES”"), "{html}");
    assert!(html.contains("Default language: “xx_123456789”"), "{html}");
    assert_eq!(
        app.db.store(app.store.id).await.unwrap().timezone.name(),
        "Asia/Kolkata"
    );

    // Without orders the currency may change, with the time zone and language.
    let r = save(&app, &browser, &csrf, ["usd", "America/New_York", "te"]).await;
    assert_eq!(r.status(), 303);
    let store = app.db.store(app.store.id).await.unwrap();
    assert_eq!(
        (
            store.currency.code(),
            store.timezone.name(),
            store.locale.as_str()
        ),
        ("USD", "America/New_York", "te")
    );
    assert_eq!(
        save(&app, &browser, &csrf, ["INR", "Asia/Kolkata", "hi-IN"])
            .await
            .status(),
        303
    );

    let order = app.post("/api/v1/orders", &order_json("o-1", "1999.00")).await;
    assert_eq!(order.status(), 201);
    let page = browser.get(&app, &settings(&app, "")).await.text().await.unwrap();
    assert!(page.contains("its currency is fixed"));

    let r = save(&app, &browser, &csrf, ["USD", "Asia/Kolkata", "hi-IN"]).await;
    assert_eq!(r.status(), 409);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Currency: it can change only while the store has no orders"));
    assert_eq!(app.db.store(app.store.id).await.unwrap().currency.code(), "INR");
    // The rest still changes.
    assert_eq!(
        save(&app, &browser, &csrf, ["INR", "Asia/Yerevan", "hy"])
            .await
            .status(),
        303
    );
    assert_eq!(
        app.db.store(app.store.id).await.unwrap().timezone.name(),
        "Asia/Yerevan"
    );

    // Errors are in the reader's language.
    let choose = browser.get(&app, "/lang/hi").await;
    browser.remember(&choose, "regulars_lang");
    let r = save(&app, &browser, &csrf, ["INR", "Mars/Olympus", "hy"]).await;
    let html = r.text().await.unwrap();
    assert!(html.contains("समय क्षेत्र: “Mars/Olympus”"), "{html}");
}

async fn sign_in_with(app: &TestApp, email: &str, password: &str) -> (Browser, u16) {
    let mut browser = Browser::new();
    let form = browser.get(app, "/login").await;
    browser.remember(&form, "regulars_login_csrf");
    let csrf = hidden_csrf(&form.text().await.unwrap());
    let r = browser
        .post(
            app,
            "/login",
            &[("email", email), ("password", password), ("csrf", &csrf)],
        )
        .await;
    browser.remember(&r, "regulars_session");
    let status = r.status().as_u16();
    (browser, status)
}

async fn invited_people_sign_in_with_the_password_shown_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (other, _) = app.other_store().await;
    let (browser, csrf) = owner_browser(&app, "owner@chai.in").await;

    let r = browser
        .post(
            &app,
            &settings(&app, "/people"),
            &[
                ("csrf", csrf.as_str()),
                ("email", "Meera@Chai.in"),
                ("role", "marketer"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let password = shown(&html, "new-password").expect("the password on the page");
    assert!(password.chars().count() >= 16);
    assert!(html.contains("ask them to change it"));
    assert_eq!(role_of(&app, "meera@chai.in").await, Some(Role::Marketer));

    let later = browser.get(&app, &settings(&app, "/people")).await;
    let later = later.text().await.unwrap();
    assert!(!later.contains(&password), "the password is shown again");
    assert!(later.contains("meera@chai.in") && later.contains("Marketer"));

    let (meera, status) = sign_in_with(&app, "meera@chai.in", &password).await;
    assert_eq!(status, 303);
    let overview = meera.get(&app, &format!("/app/{}", app.store.id)).await;
    assert_eq!(overview.status(), 200);
    assert_eq!(meera.get(&app, &settings(&app, "")).await.status(), 403);

    // Someone with a login already is added with it: no new password.
    let user = app
        .db
        .create_user(&Email::parse("arev@tsiran.am").unwrap(), PASSWORD, None)
        .await
        .unwrap();
    app.db
        .set_membership(other.id, user.id, Role::Owner)
        .await
        .unwrap();
    let r = browser
        .post(
            &app,
            &settings(&app, "/people"),
            &[
                ("csrf", csrf.as_str()),
                ("email", "arev@tsiran.am"),
                ("role", "support"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(role_of(&app, "arev@tsiran.am").await, Some(Role::Support));
    let (_, status) = sign_in_with(&app, "arev@tsiran.am", PASSWORD).await;
    assert_eq!(status, 303);

    // Twice is refused, naming the field; a bad address too.
    let r = browser
        .post(
            &app,
            &settings(&app, "/people"),
            &[
                ("csrf", csrf.as_str()),
                ("email", "arev@tsiran.am"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("works in this store already"));
    let r = browser
        .post(
            &app,
            &settings(&app, "/people"),
            &[
                ("csrf", csrf.as_str()),
                ("email", "not-an-address"),
                ("role", "viewer"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Email: “not-an-address”"));

    // Roles change and people leave; their sessions lose the store at once.
    let meera_id = user_id(&app, "meera@chai.in").await;
    let r = browser
        .post(
            &app,
            &settings(&app, &format!("/people/{meera_id}/role")),
            &[("csrf", csrf.as_str()), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(meera.get(&app, &settings(&app, "")).await.status(), 200);
    let r = browser
        .post(
            &app,
            &settings(&app, &format!("/people/{meera_id}/remove")),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(role_of(&app, "meera@chai.in").await, None);
    let gone = meera.get(&app, &format!("/app/{}", app.store.id)).await;
    assert_eq!(gone.status(), 404);
}

async fn admins_cannot_make_or_unmake_owners(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    person(&app, "admin@chai.in", Role::Admin).await;
    person(&app, "viewer@chai.in", Role::Viewer).await;
    let mut browser = Browser::new();
    let csrf = browser.sign_in(&app, "admin@chai.in").await;

    let page = browser.get(&app, &settings(&app, "/people")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("value=\"owner\""),
        "owner is not offered to an admin"
    );
    assert!(html.contains("value=\"admin\""));

    let r = browser
        .post(
            &app,
            &settings(&app, "/people"),
            &[
                ("csrf", csrf.as_str()),
                ("email", "boss@chai.in"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("you may not give or take that role"));
    assert!(app
        .db
        .user_by_email(&Email::parse("boss@chai.in").unwrap())
        .await
        .unwrap()
        .is_none());

    let viewer = user_id(&app, "viewer@chai.in").await;
    let owner = user_id(&app, "owner@chai.in").await;
    for (path, form) in [
        (
            format!("/people/{viewer}/role"),
            vec![("csrf", csrf.as_str()), ("role", "owner")],
        ),
        (
            format!("/people/{owner}/role"),
            vec![("csrf", csrf.as_str()), ("role", "viewer")],
        ),
        (format!("/people/{owner}/remove"), vec![("csrf", csrf.as_str())]),
    ] {
        let r = browser.post(&app, &settings(&app, &path), &form).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    assert_eq!(role_of(&app, "viewer@chai.in").await, Some(Role::Viewer));
    assert_eq!(role_of(&app, "owner@chai.in").await, Some(Role::Owner));

    // What an admin may do, they can.
    let r = browser
        .post(
            &app,
            &settings(&app, &format!("/people/{viewer}/role")),
            &[("csrf", csrf.as_str()), ("role", "support")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(role_of(&app, "viewer@chai.in").await, Some(Role::Support));
}

async fn a_store_always_keeps_an_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (browser, csrf) = owner_browser(&app, "owner@chai.in").await;
    let owner = user_id(&app, "owner@chai.in").await;

    // Nobody removes or demotes themselves…
    for (path, form) in [
        (format!("/people/{owner}/remove"), vec![("csrf", csrf.as_str())]),
        (
            format!("/people/{owner}/role"),
            vec![("csrf", csrf.as_str()), ("role", "admin")],
        ),
    ] {
        let r = browser.post(&app, &settings(&app, &path), &form).await;
        assert_eq!(r.status(), 409, "{path}");
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("You cannot change your own role or remove yourself"));
    }
    assert_eq!(role_of(&app, "owner@chai.in").await, Some(Role::Owner));

    // …and the store refuses to lose its last owner whoever asks.
    let only = regulars_domain::UserId::parse(&owner).unwrap();
    for refused in [
        app.db.remove_person(app.store.id, Role::Owner, only).await,
        app.db
            .change_role(app.store.id, Role::Owner, only, Role::Admin)
            .await,
    ] {
        match refused {
            Err(StoreError::Invalid(e)) => assert_eq!(e.code, "last_owner"),
            other => panic!("the last owner was let go: {other:?}"),
        }
    }

    // Two owners removing each other at once: one wins, one owner is left.
    person(&app, "second@chai.in", Role::Owner).await;
    let mut second = Browser::new();
    let second_csrf = second.sign_in(&app, "second@chai.in").await;
    let second_id = user_id(&app, "second@chai.in").await;
    let first_path = settings(&app, &format!("/people/{second_id}/remove"));
    let second_path = settings(&app, &format!("/people/{owner}/remove"));
    let first_form = [("csrf", csrf.as_str())];
    let second_form = [("csrf", second_csrf.as_str())];
    let (a, b) = tokio::join!(
        browser.post(&app, &first_path, &first_form),
        second.post(&app, &second_path, &second_form),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses[0], 303, "{statuses:?}");
    assert!([404, 409].contains(&statuses[1]), "{statuses:?}");
    let owners = app
        .db
        .store_people(app.store.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, r)| *r == Role::Owner)
        .count();
    assert_eq!(owners, 1);
}

on_both_backends!(
    only_owners_and_admins_reach_settings_and_people,
    another_stores_settings_are_not_found,
    forms_without_their_csrf_token_change_nothing,
    an_api_key_is_shown_once_works_and_stops_when_revoked,
    a_webhook_secret_from_the_page_verifies_deliveries_until_removed,
    store_settings_are_validated_and_the_currency_fixed_by_the_first_order,
    invited_people_sign_in_with_the_password_shown_once,
    admins_cannot_make_or_unmake_owners,
    a_store_always_keeps_an_owner,
);
