//! The dashboard's security at the HTTP level (RELIABILITY S3–S6): cookie flags, CSRF on every
//! form, login throttling, and no store reachable by URL without membership.

use regulars_domain::{Email, Role};
use regulars_testkit::{on_both_backends, Backend};

use crate::helpers::TestApp;
use crate::staff::{hidden_csrf, no_redirects, person, set_cookie, Browser, PASSWORD};

async fn session_cookies_are_http_only_and_logout_ends_the_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    let form = browser.get(&app, "/login").await;
    let (_, login_cookie) = set_cookie(&form, "regulars_login_csrf").unwrap();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Lax"));
    browser.remember(&form, "regulars_login_csrf");
    let csrf = hidden_csrf(&form.text().await.unwrap());
    let r = browser
        .post(
            &app,
            "/login",
            &[
                ("email", "owner@chai.in"),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ],
        )
        .await;
    let (session_pair, session_cookie) = set_cookie(&r, "regulars_session").unwrap();
    assert!(session_cookie.contains("HttpOnly"), "{session_cookie}");
    assert!(session_cookie.contains("SameSite=Lax"), "{session_cookie}");
    browser.remember(&r, "regulars_session");

    let page = browser.get(&app, &format!("/app/{}", app.store.id)).await;
    let session_csrf = hidden_csrf(&page.text().await.unwrap());
    let out = browser.post(&app, "/logout", &[("csrf", &session_csrf)]).await;
    assert_eq!(out.status(), 303);

    // The old cookie, replayed by hand, no longer opens anything (S3).
    let replay = no_redirects()
        .get(app.url(&format!("/app/{}", app.store.id)))
        .header("cookie", session_pair)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 303);
    assert_eq!(replay.headers()["location"], "/login");
}

async fn every_form_needs_its_csrf_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;

    // Login without the double-submitted token: refused before any password is checked.
    let r = no_redirects()
        .post(app.url("/login"))
        .form(&[
            ("email", "owner@chai.in"),
            ("password", PASSWORD),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "regulars_session").is_none());

    let mut browser = Browser::new();
    let csrf = browser.sign_in(&app, "owner@chai.in").await;
    // A cross-site POST without the token is refused (S4)…
    let forged = browser.post(&app, "/logout", &[]).await;
    assert_eq!(forged.status(), 403);
    // …and so is one carrying the token but marked cross-site by the browser.
    let cross = browser
        .client
        .post(app.url("/logout"))
        .header("cookie", browser.cookies.join("; "))
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // The session survived both attempts.
    assert_eq!(
        browser
            .get(&app, &format!("/app/{}", app.store.id))
            .await
            .status(),
        200
    );
}

async fn wrong_passwords_are_throttled_and_say_when_to_retry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    let form = browser.get(&app, "/login").await;
    browser.remember(&form, "regulars_login_csrf");
    let csrf = hidden_csrf(&form.text().await.unwrap());
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = browser
            .post(
                &app,
                "/login",
                &[("email", "owner@chai.in"), ("password", "nope"), ("csrf", &csrf)],
            )
            .await;
        statuses.push(r.status().as_u16());
        if r.status() == 429 {
            let retry: i64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=900).contains(&retry));
            assert!(r.text().await.unwrap().contains("Too many attempts"));
        }
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 429]);
}

async fn roles_and_memberships_guard_every_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (other, _) = app.other_store().await;
    person(&app, "viewer@chai.in", Role::Viewer).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "viewer@chai.in").await;

    let settings = browser
        .get(&app, &format!("/app/{}/settings", app.store.id))
        .await;
    assert_eq!(settings.status(), 403);
    let elsewhere = browser.get(&app, &format!("/app/{}", other.id)).await;
    assert_eq!(elsewhere.status(), 404);
    let text = elsewhere.text().await.unwrap();
    assert!(!text.contains("Tsiran"), "another store's name leaks: {text}");
    let bogus = browser.get(&app, "/app/not-a-store-id").await;
    assert_eq!(bogus.status(), 404);

    // Without a session, every page sends the visitor to the login form.
    let anonymous = no_redirects()
        .get(app.url(&format!("/app/{}", app.store.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/login");
}

async fn pages_speak_the_chosen_language(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut browser = Browser::new();
    browser.sign_in(&app, "owner@chai.in").await;
    let choose = browser
        .client
        .get(app.url("/lang/te"))
        .header("referer", app.url(&format!("/app/{}?days=7", app.store.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        choose.headers()["location"],
        format!("/app/{}?days=7", app.store.id)
    );
    browser.remember(&choose, "regulars_lang");
    let page = browser.get(&app, &format!("/app/{}?days=7", app.store.id)).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"te\">"));
    assert!(html.contains("సారాంశం") && html.contains("గత 7 రోజులు"), "{html}");

    // A referer elsewhere never becomes a redirect target.
    let away = browser
        .client
        .get(app.url("/lang/hy"))
        .header("referer", "https://evil.example//phish")
        .send()
        .await
        .unwrap();
    assert_eq!(away.headers()["location"], "/app");
    // Browsers' Accept-Language is honoured before any choice is made.
    let hindi = no_redirects()
        .get(app.url("/login"))
        .header("accept-language", "hi-IN,hi;q=0.9,en;q=0.8")
        .send()
        .await
        .unwrap();
    assert!(hindi.text().await.unwrap().contains("साइन इन करें"));
}

on_both_backends!(
    session_cookies_are_http_only_and_logout_ends_the_session,
    every_form_needs_its_csrf_token,
    wrong_passwords_are_throttled_and_say_when_to_retry,
    roles_and_memberships_guard_every_page,
    pages_speak_the_chosen_language,
);
