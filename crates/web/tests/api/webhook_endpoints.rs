//! Outgoing webhook endpoints over HTTP: the JSON API (register, change, rotate, deliveries,
//! test), URLs checked against the SSRF rule, tenant isolation, real deliveries of what the API
//! records, and the dashboard page guarded by role and CSRF.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use base64::Engine;
use hmac::{Hmac, Mac};
use regulars_domain::{Role, Timestamp};
use regulars_hooks::{Backoff, Jitter, ManualClock, Worker, WorkerConfig};
use regulars_store::{Db, StoreRecord};
use regulars_testkit::{on_both_backends, Backend, TestDb};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{order_json, problem, TestApp};
use crate::staff::{person, Browser};

/// What the receiver got: headers and body of each POST.
type Inbox = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes| async move {
                    inbox.lock().unwrap().push((headers, body));
                    "ok"
                },
            ),
        )
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, inbox)
}

/// A server whose operator allows private webhook targets (the receiver is on 127.0.0.1).
struct OpenApp {
    base: String,
    db: Db,
    key: String,
    client: reqwest::Client,
    _store: StoreRecord,
    _database: TestDb,
}

impl OpenApp {
    async fn spawn(backend: Backend) -> OpenApp {
        let database = TestDb::new(backend).await;
        let db = database.db.clone();
        let store = database
            .store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN")
            .await;
        let key = db.create_api_key(store.id, "test").await.unwrap().key;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = regulars_web::AppState::new(db.clone()).with_private_webhook_targets(true);
        let app = regulars_web::router(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        OpenApp {
            base,
            db,
            key,
            client: reqwest::Client::new(),
            _store: store,
            _database: database,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Delivers everything due, now.
    async fn deliver(&self) {
        let clock = Arc::new(ManualClock::new(Timestamp(Timestamp::now().0 + 1000)));
        let config = WorkerConfig {
            allow_private_targets: true,
            backoff: Backoff {
                schedule: vec![Duration::from_secs(1)],
                jitter: Jitter::None,
            },
            clock,
            ..WorkerConfig::default()
        };
        Worker::new(self.db.clone(), config)
            .unwrap()
            .run_once()
            .await
            .unwrap();
    }
}

/// The Standard Webhooks signature, computed here from the specification.
fn signed_by(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    let h = |name: &str| headers[name].to_str().unwrap().to_string();
    mac.update(format!("{}.{}.", h("webhook-id"), h("webhook-timestamp")).as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    h("webhook-signature").split(' ').any(|s| s == expected)
}

async fn endpoints_are_registered_changed_rotated_and_removed(backend: Backend) {
    use reqwest::Method;
    let app = OpenApp::spawn(backend).await;
    let (url, _) = receiver().await;
    let (status, created) = app
        .send(
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({ "url": url, "description": "CRM", "event_types": ["order.placed"] })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() > 40);
    assert_eq!(created["event_types"], json!(["order.placed"]));
    assert_eq!(
        (created["enabled"].as_bool(), created["disabled_reason"].is_null()),
        (Some(true), true)
    );

    let (status, list) = app.send(Method::GET, "/api/v1/webhook-endpoints", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(&secret),
        "lists never carry the secret"
    );
    let (_, one) = app
        .send(Method::GET, &format!("/api/v1/webhook-endpoints/{id}"), None)
        .await;
    assert_eq!(one["url"], json!(url));
    assert!(one.get("secret").is_none());

    let path = format!("/api/v1/webhook-endpoints/{id}");
    let (status, off) = app
        .send(
            Method::PATCH,
            &path,
            Some(json!({ "enabled": false, "event_types": [] })),
        )
        .await;
    assert_eq!(status, 200, "{off}");
    assert_eq!(
        (off["enabled"].as_bool(), off["disabled_reason"].as_str()),
        (Some(false), Some("manual"))
    );
    assert_eq!(off["event_types"], json!([]));
    assert_eq!(off["description"], "CRM");
    let (_, on) = app
        .send(Method::PATCH, &path, Some(json!({ "enabled": true })))
        .await;
    assert!(on["enabled"].as_bool().unwrap() && on["disabled_reason"].is_null());

    let (_, shown) = app.send(Method::GET, &format!("{path}/secret"), None).await;
    assert_eq!(shown["secret"], json!(secret));
    let (status, rotated) = app
        .send(Method::POST, &format!("{path}/rotate-secret"), None)
        .await;
    assert_eq!(status, 200);
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert!(rotated["previous_secret_expires_at"].is_string());
    let (_, shown) = app.send(Method::GET, &format!("{path}/secret"), None).await;
    assert_eq!(shown["secret"], json!(new_secret));

    let (status, removed) = app.send(Method::DELETE, &path, None).await;
    assert_eq!((status, removed["deleted"].as_bool()), (200, Some(true)));
    let (status, _) = app.send(Method::GET, &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = app.send(Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
}

async fn what_the_api_records_reaches_the_endpoint_signed(backend: Backend) {
    use reqwest::Method;
    let app = OpenApp::spawn(backend).await;
    let (url, inbox) = receiver().await;
    let (_, created) = app
        .send(
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({ "url": url })),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();

    let order = app
        .request(Method::POST, "/api/v1/orders")
        .json(&order_json("A-1001", "1499.00"))
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), 201);
    let (status, queued) = app
        .send(
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{queued}");
    app.deliver().await;

    let got = inbox.lock().unwrap().clone();
    let mut types: Vec<String> = got
        .iter()
        .map(|(_, body)| {
            serde_json::from_slice::<Value>(body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    types.sort();
    assert_eq!(types, ["order.placed", "webhook.test"]);
    for (headers, body) in &got {
        assert!(signed_by(&secret, headers, body));
    }
    let test = got
        .iter()
        .find(|(_, body)| body.windows(12).any(|w| w == b"webhook.test"))
        .unwrap();
    assert_eq!(
        test.0["webhook-id"].to_str().unwrap(),
        queued["message_id"].as_str().unwrap()
    );
    let placed: Value = got
        .iter()
        .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap())
        .find(|b| b["type"] == "order.placed")
        .unwrap();
    assert_eq!(placed["data"]["external_id"], "A-1001");
    assert!(
        !placed.to_string().contains("priya.sharma@example.in"),
        "{placed}"
    );

    let (status, log) = app
        .send(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}/deliveries?limit=10"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let attempts = log["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert!(attempts.iter().all(|a| a["outcome"] == "succeeded"
        && a["response_status"] == 200
        && a["message_status"] == "succeeded"));
    let (status, _) = app
        .send(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}/deliveries?limit=0"),
            None,
        )
        .await;
    assert_eq!(status, 422);

    // A disabled endpoint takes no test.
    app.send(
        Method::PATCH,
        &format!("/api/v1/webhook-endpoints/{id}"),
        Some(json!({ "enabled": false })),
    )
    .await;
    let (status, refused) = app
        .send(
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("endpoint_disabled"))
    );
}

async fn urls_and_types_are_checked_naming_the_field(backend: Backend) {
    // The default server: private targets refused.
    let app = TestApp::spawn(backend).await;
    for (url, code) in [
        ("http://hooks.example.com/in", "https_required"),
        ("ftp://hooks.example.com/in", "invalid_url_scheme"),
        ("javascript:alert(1)", "invalid_url_scheme"),
        ("not a url", "invalid_url"),
        ("https://127.0.0.1/in", "private_target"),
        ("https://10.0.0.1/in", "private_target"),
        ("https://192.168.1.20/in", "private_target"),
        ("https://169.254.169.254/latest/meta-data", "private_target"),
        ("https://[::1]/in", "private_target"),
        ("https://[fd00::1]/in", "private_target"),
        ("https://localhost/in", "private_target"),
        ("https://localhost:8080/in", "private_target"),
    ] {
        let r = app
            .post("/api/v1/webhook-endpoints", &json!({ "url": url }))
            .await;
        let (status, got, field) = problem(r).await;
        assert_eq!(
            (status, got.as_str(), field.as_deref()),
            (422, code, Some("url")),
            "{url}"
        );
    }
    let r = app
        .post(
            "/api/v1/webhook-endpoints",
            &json!({ "url": "https://hooks.example.com/in", "event_types": ["order.placed", "order.exploded"] }),
        )
        .await;
    let (status, code, field) = problem(r).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "unknown_event_type", Some("event_types[1]"))
    );
    let r = app
        .post(
            "/api/v1/webhook-endpoints",
            &json!({ "url": "https://hooks.example.com/in", "colour": "red" }),
        )
        .await;
    assert_eq!(problem(r).await.0, 422);
    assert_eq!(app.count("webhook_endpoints").await, 0, "nothing half-written");

    // A public https URL is accepted, and a change of URL is checked the same way.
    let r = app
        .post(
            "/api/v1/webhook-endpoints",
            &json!({ "url": "https://hooks.example.com/in" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/webhook-endpoints/{id}")))
        .bearer_auth(&app.key)
        .json(&json!({ "url": "https://169.254.169.254/" }))
        .send()
        .await
        .unwrap();
    let (status, code, field) = problem(r).await;
    assert_eq!(
        (status, code.as_str(), field.as_deref()),
        (422, "private_target", Some("url"))
    );
    let kept: Value = app
        .get(&format!("/api/v1/webhook-endpoints/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["url"], "https://hooks.example.com/in");
}

async fn another_store_gets_not_found_on_every_endpoint_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (_, other_key) = app.other_store().await;
    let r = app
        .post(
            "/api/v1/webhook-endpoints",
            &json!({ "url": "https://a-only.example.com/in", "description": "A's CRM" }),
        )
        .await;
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret"].as_str().unwrap().to_string();
    let base = format!("/api/v1/webhook-endpoints/{id}");
    let calls: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (reqwest::Method::GET, base.clone(), None),
        (
            reqwest::Method::PATCH,
            base.clone(),
            Some(json!({ "url": "https://evil.example.net/" })),
        ),
        (
            reqwest::Method::PATCH,
            base.clone(),
            Some(json!({ "enabled": false })),
        ),
        (reqwest::Method::GET, format!("{base}/secret"), None),
        (reqwest::Method::POST, format!("{base}/rotate-secret"), None),
        (reqwest::Method::GET, format!("{base}/deliveries"), None),
        (reqwest::Method::POST, format!("{base}/test"), None),
        (reqwest::Method::DELETE, base.clone(), None),
    ];
    for (method, path, body) in calls {
        let mut request = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&other_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("a-only.example.com") && !text.contains(&secret) && !text.contains("A's CRM"),
            "{method} {path}: {text}"
        );
    }
    let list: Value = app
        .get_as(&other_key, "/api/v1/webhook-endpoints")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));
    // A's endpoint is as it was.
    let kept: Value = app.get(&base).await.json().await.unwrap();
    assert_eq!(
        (kept["url"].as_str(), kept["enabled"].as_bool()),
        (Some("https://a-only.example.com/in"), Some(true))
    );
    let shown: Value = app.get(&format!("{base}/secret")).await.json().await.unwrap();
    assert_eq!(shown["secret"], json!(secret));
    assert_eq!(app.count("webhook_messages").await, 0);
}

/// The text of the element with this id (the `<code>` holding a secret).
fn shown(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\">");
    let at = html.find(&marker)? + marker.len();
    let end = html[at..].find('<')? + at;
    Some(html[at..end].to_string())
}

async fn the_dashboard_page_manages_endpoints_for_settings_roles_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let page = format!("/app/{}/settings/webhooks", app.store.id);
    person(&app, "owner@chai.in", Role::Owner).await;
    person(&app, "marketer@chai.in", Role::Marketer).await;
    let mut owner = Browser::new();
    let csrf = owner.sign_in(&app, "owner@chai.in").await;
    let mut marketer = Browser::new();
    let marketer_csrf = marketer.sign_in(&app, "marketer@chai.in").await;

    let r = owner.get(&app, &page).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("points.earned") && html.contains("name=\"event_types\""));
    let settings = owner.get(&app, &format!("/app/{}/settings", app.store.id)).await;
    assert!(
        settings.text().await.unwrap().contains(&page),
        "the settings tabs link here"
    );

    // Refused: a private target, named beside its field, and nothing stored.
    let r = owner
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("url", "https://169.254.169.254/"),
                ("event_types", "tier.changed"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("aria-invalid=\"true\"") && html.contains("169.254.169.254"));
    assert_eq!(app.count("webhook_endpoints").await, 0);

    // Added with two types; the secret is shown on this answer, and works.
    let r = owner
        .post(
            &app,
            &page,
            &[
                ("csrf", &csrf),
                ("url", "https://crm.example.com/regulars"),
                ("description", "CRM"),
                ("event_types", "points.earned"),
                ("event_types", "tier.changed"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let secret = shown(&r.text().await.unwrap(), "webhook-secret").expect("the new secret is shown");
    let endpoints = app.db.webhook_endpoints(app.store.id).await.unwrap();
    assert_eq!(endpoints.len(), 1);
    let id = endpoints[0].id.clone();
    assert_eq!(endpoints[0].event_types, ["points.earned", "tier.changed"]);
    assert_eq!(
        app.db.webhook_endpoint_secret(app.store.id, &id).await.unwrap(),
        secret
    );
    let listed = owner.get(&app, &page).await.text().await.unwrap();
    assert!(listed.contains("https://crm.example.com/regulars") && !listed.contains(&secret));

    // Neither a marketer nor a forged form changes anything.
    let action = |what: &str| format!("{page}/endpoints/{id}/{what}");
    let r = marketer.get(&app, &page).await;
    assert_eq!(r.status(), 403);
    for what in ["disable", "rotate", "reveal", "test", "delete"] {
        let r = marketer
            .post(&app, &action(what), &[("csrf", &marketer_csrf)])
            .await;
        assert_eq!(r.status(), 403, "marketer {what}");
        let r = owner.post(&app, &action(what), &[("csrf", "forged")]).await;
        assert_eq!(r.status(), 403, "no CSRF {what}");
    }
    assert!(app.db.webhook_endpoint(app.store.id, &id).await.unwrap().enabled);
    assert_eq!(
        app.db.webhook_endpoint_secret(app.store.id, &id).await.unwrap(),
        secret
    );

    // The owner disables, enables, rotates and deletes.
    let r = owner.post(&app, &action("disable"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let e = app.db.webhook_endpoint(app.store.id, &id).await.unwrap();
    assert_eq!((e.enabled, e.disabled_reason.as_deref()), (false, Some("manual")));
    let r = owner.post(&app, &action("test"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 409, "a disabled endpoint takes no test");
    owner.post(&app, &action("enable"), &[("csrf", &csrf)]).await;
    assert!(app.db.webhook_endpoint(app.store.id, &id).await.unwrap().enabled);
    let r = owner.post(&app, &action("test"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        app.db
            .webhook_messages(app.store.id, &id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let r = owner.post(&app, &action("rotate"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let rotated = shown(&r.text().await.unwrap(), "webhook-secret").unwrap();
    assert_ne!(rotated, secret);
    assert_eq!(
        app.db.webhook_endpoint_secret(app.store.id, &id).await.unwrap(),
        rotated
    );
    let r = owner.post(&app, &action("reveal"), &[("csrf", &csrf)]).await;
    assert_eq!(
        shown(&r.text().await.unwrap(), "webhook-secret").as_deref(),
        Some(rotated.as_str())
    );
    let r = owner.post(&app, &action("delete"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert!(app.db.webhook_endpoints(app.store.id).await.unwrap().is_empty());

    // Another store's endpoint id from this store's page is not found.
    let (other, other_key) = app.other_store().await;
    let r = app
        .post_as(
            &other_key,
            "/api/v1/webhook-endpoints",
            &json!({ "url": "https://b.example.com/in" }),
        )
        .await;
    let b_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = owner
        .post(
            &app,
            &format!("{page}/endpoints/{b_id}/reveal"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = owner
        .get(&app, &format!("/app/{}/settings/webhooks", other.id))
        .await;
    assert_eq!(r.status(), 404);
}

on_both_backends!(
    endpoints_are_registered_changed_rotated_and_removed,
    what_the_api_records_reaches_the_endpoint_signed,
    urls_and_types_are_checked_naming_the_field,
    another_store_gets_not_found_on_every_endpoint_route,
    the_dashboard_page_manages_endpoints_for_settings_roles_only,
);
