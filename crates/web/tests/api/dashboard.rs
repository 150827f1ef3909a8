//! The dashboard's security at the HTTP level (RELIABILITY S3–S6): cookie flags, CSRF on every
//! form, login throttling, and no store reachable by URL without membership.

use regulars_domain::Role;
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

async fn a_sign_in_link_works_once_and_not_from_another_site(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let owner = app
        .db
        .user_by_email(&regulars_domain::Email::parse("owner@chai.in").unwrap())
        .await
        .unwrap()
        .unwrap();
    let hour = std::time::Duration::from_secs(3600);
    let token = app.db.create_login_link(owner.id, hour).await.unwrap();
    let link = format!("/login/link/{token}");

    // A page of another site cannot spend it for the reader.
    let cross = no_redirects()
        .get(app.url(&link))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);

    let mut browser = Browser::new();
    let first = browser.get(&app, &link).await;
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "/app");
    browser.remember(&first, "regulars_session");
    let page = browser.get(&app, &format!("/app/{}", app.store.id)).await;
    assert_eq!(page.status(), 200, "signed in by the link");

    // Spent: a second use, or a made-up token, signs nobody in.
    for path in [link.clone(), "/login/link/00ff".to_string()] {
        let again = no_redirects().get(app.url(&path)).send().await.unwrap();
        assert_eq!(again.status(), 410, "{path}");
        assert!(set_cookie(&again, "regulars_session").is_none());
    }
    // An expired link and a disabled person's link open nothing either.
    let expired = app
        .db
        .create_login_link(owner.id, std::time::Duration::ZERO)
        .await
        .unwrap();
    let r = no_redirects()
        .get(app.url(&format!("/login/link/{expired}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let later = app.db.create_login_link(owner.id, hour).await.unwrap();
    app.db.set_user_disabled(owner.id, true).await.unwrap();
    let r = no_redirects()
        .get(app.url(&format!("/login/link/{later}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
}

async fn a_person_changes_their_password_and_other_sessions_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    person(&app, "owner@chai.in", Role::Owner).await;
    let mut laptop = Browser::new();
    let csrf = laptop.sign_in(&app, "owner@chai.in").await;
    let mut phone = Browser::new();
    phone.sign_in(&app, "owner@chai.in").await;
    let new = "another long passphrase";

    let wrong = laptop
        .post(
            &app,
            "/account",
            &[
                ("csrf", &csrf),
                ("current", "not it at all"),
                ("new", new),
                ("repeat", new),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 422);
    assert!(wrong
        .text()
        .await
        .unwrap()
        .contains("The current password is not right."));
    let differ = laptop
        .post(
            &app,
            "/account",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", new),
                ("repeat", "something else"),
            ],
        )
        .await;
    assert_eq!(differ.status(), 422);
    let short = laptop
        .post(
            &app,
            "/account",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", "short"),
                ("repeat", "short"),
            ],
        )
        .await;
    assert!(short.text().await.unwrap().contains("at least 10 characters"));
    let forged = laptop
        .post(
            &app,
            "/account",
            &[("current", PASSWORD), ("new", new), ("repeat", new)],
        )
        .await;
    assert_eq!(forged.status(), 403);

    let done = laptop
        .post(
            &app,
            "/account",
            &[
                ("csrf", &csrf),
                ("current", PASSWORD),
                ("new", new),
                ("repeat", new),
            ],
        )
        .await;
    assert_eq!(done.status(), 303);
    laptop.remember(&done, "regulars_session");
    // This browser carries on; the phone's session ended with the old password.
    assert_eq!(laptop.get(&app, "/account").await.status(), 200);
    assert_eq!(phone.get(&app, "/account").await.status(), 303);
    let user = app
        .db
        .user_by_email(&regulars_domain::Email::parse("owner@chai.in").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(app
        .db
        .change_password(user.id, new, "yet another long one")
        .await
        .unwrap()
        .is_some());
}

on_both_backends!(
    a_person_changes_their_password_and_other_sessions_end,
    a_sign_in_link_works_once_and_not_from_another_site,
    session_cookies_are_http_only_and_logout_ends_the_session,
    every_form_needs_its_csrf_token,
    wrong_passwords_are_throttled_and_say_when_to_retry,
    roles_and_memberships_guard_every_page,
    pages_speak_the_chosen_language,
);
