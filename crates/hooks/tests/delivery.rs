//! Real deliveries to a real receiver on 127.0.0.1 (RELIABILITY W4): signatures checked with an
//! HMAC computed here, the same webhook-id on every attempt, the retry schedule and
//! Retry-After on a clock the test moves, 410, redirects, private targets, and two workers
//! sharing one queue, on SQLite and PostgreSQL.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use regulars_domain::{CustomerInput, EventInput, Source, StoreId, Timestamp};
use regulars_hooks::{run_worker, Backoff, Clock, Jitter, ManualClock, Pass, Worker, WorkerConfig};
use regulars_store::{Db, NewWebhookEndpoint, WebhookEndpoint, WebhookEndpointPatch, DISABLED_GONE};
use regulars_testkit::{on_both_backends, Backend, TestDb};
use sha2::Sha256;

/// One request the receiver got.
#[derive(Clone)]
struct Hit {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// An answer the receiver gives: status and extra headers.
type Answer = (u16, Vec<(&'static str, String)>);

#[derive(Clone, Default)]
struct Inbox {
    hits: Arc<Mutex<Vec<Hit>>>,
    /// Answers in order; 200 once they run out.
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Inbox {
    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        self.script.lock().unwrap().extend(answers);
    }
}

async fn receive(
    State(inbox): State<Inbox>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    inbox.hits.lock().unwrap().push(Hit {
        path: uri.path().to_string(),
        headers,
        body,
    });
    let (status, extra) = inbox.script.lock().unwrap().pop_front().unwrap_or((200, vec![]));
    let mut response = (StatusCode::from_u16(status).unwrap(), "ok").into_response();
    for (name, value) in extra {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// An HTTP receiver on a free loopback port; its base URL and what it got.
async fn receiver() -> (String, Inbox) {
    let inbox = Inbox::default();
    let app = Router::new()
        .route("/{*path}", post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, inbox)
}

/// A bare TCP listener that counts connections and answers nothing: proof that a refused
/// target was never even connected to.
async fn connection_counter() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (addr, count)
}

const SCHEDULE: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

fn config(clock: &Arc<ManualClock>, allow_private_targets: bool) -> WorkerConfig {
    WorkerConfig {
        allow_private_targets,
        poll_interval: Duration::from_millis(20),
        batch_size: 16,
        lease: Duration::from_secs(60),
        request_timeout: Duration::from_secs(5),
        backoff: Backoff {
            schedule: SCHEDULE.to_vec(),
            jitter: Jitter::None,
        },
        clock: clock.clone(),
    }
}

/// A clock a second ahead of the messages queued before it moves.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp(Timestamp::now().0 + 1000)))
}

async fn register(db: &Db, store: StoreId, url: &str) -> (WebhookEndpoint, String) {
    let secret = regulars_hooks::generate_secret();
    let mut tx = db.begin().await.unwrap();
    let input = NewWebhookEndpoint {
        url: url.into(),
        ..Default::default()
    };
    let e = tx
        .create_webhook_endpoint(store, &input, &secret, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (e, secret)
}

async fn record_event(db: &Db, store: StoreId, external_id: &str) {
    let customer = CustomerInput {
        external_id: Some("cust-9".into()),
        ..Default::default()
    };
    let event = EventInput {
        external_id: Some(external_id.into()),
        name: "review_written".into(),
        occurred_at: Timestamp::now(),
        properties: serde_json::json!({ "stars": 5 }),
    };
    db.record_event(store, Source::Api, &customer, &event, "test")
        .await
        .unwrap();
}

async fn queue_test(db: &Db, store: StoreId, endpoint: &str) -> String {
    let mut tx = db.begin().await.unwrap();
    let id = tx
        .queue_webhook_test(store, endpoint, Timestamp::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

fn header(hit: &Hit, name: &str) -> String {
    hit.headers.get(name).unwrap().to_str().unwrap().to_string()
}

/// The Standard Webhooks check, written here from the specification rather than taken from
/// the crate under test: base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) where the key is
/// the base64 after `whsec_`, compared with each `v1,` entry of the header.
fn signed_by(secret: &str, hit: &Hit) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    let signed = format!(
        "{}.{}.{}",
        header(hit, "webhook-id"),
        header(hit, "webhook-timestamp"),
        std::str::from_utf8(&hit.body).unwrap()
    );
    mac.update(signed.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header(hit, "webhook-signature").split(' ').any(|s| s == expected)
}

async fn a_delivery_is_signed_as_standard_webhooks_say(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let (base, inbox) = receiver().await;
    let (endpoint, secret) = register(&t.db, store.id, &format!("{base}/hooks/regulars")).await;
    record_event(&t.db, store.id, "evt-1").await;
    let clock = clock();
    let worker = Worker::new(t.db.clone(), config(&clock, true)).unwrap();
    let pass = worker.run_once().await.unwrap();
    assert_eq!((pass.claimed, pass.succeeded), (1, 1));

    let hits = inbox.hits();
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(hit.path, "/hooks/regulars");
    assert_eq!(header(hit, "content-type"), "application/json");
    let message = &t.db.webhook_messages(store.id, &endpoint.id, 10).await.unwrap()[0];
    assert_eq!(header(hit, "webhook-id"), message.id);
    assert_eq!(
        header(hit, "webhook-timestamp"),
        (clock.now().0 / 1000).to_string()
    );
    assert_eq!(hit.body, message.payload.as_bytes());
    assert!(signed_by(&secret, hit), "{}", header(hit, "webhook-signature"));
    assert!(!signed_by(&regulars_hooks::generate_secret(), hit));
    let body: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
    assert_eq!(body["type"], "event.custom");
    assert_eq!(body["data"]["name"], "review_written");
    assert_eq!(body["data"]["properties"]["stars"], 5);
    assert_eq!(message.status, "succeeded");
    let attempts = t.db.webhook_attempts(store.id, &endpoint.id, 10).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(
        (attempts[0].outcome.as_str(), attempts[0].response_status),
        ("succeeded", Some(200))
    );

    // After a rotation both secrets sign, so a receiver still on the old one keeps working.
    let new_secret = regulars_hooks::generate_secret();
    let mut tx = t.db.begin().await.unwrap();
    tx.rotate_webhook_secret(store.id, &endpoint.id, &new_secret, clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    queue_test(&t.db, store.id, &endpoint.id).await;
    clock.advance(Duration::from_secs(1));
    worker.run_once().await.unwrap();
    let hit = &inbox.hits()[1];
    assert_eq!(header(hit, "webhook-signature").split(' ').count(), 2);
    assert!(signed_by(&secret, hit) && signed_by(&new_secret, hit));
    // A day later only the new one does.
    queue_test(&t.db, store.id, &endpoint.id).await;
    clock.advance(Duration::from_secs(24 * 3600 + 1));
    worker.run_once().await.unwrap();
    let hit = &inbox.hits()[2];
    assert!(signed_by(&new_secret, hit) && !signed_by(&secret, hit));
}

async fn failures_retry_on_schedule_with_one_id_then_give_up(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let (base, inbox) = receiver().await;
    inbox.answer([(500, vec![]), (502, vec![]), (404, vec![]), (500, vec![])]);
    let (endpoint, secret) = register(&t.db, store.id, &format!("{base}/in")).await;
    let id = queue_test(&t.db, store.id, &endpoint.id).await;
    let clock = clock();
    let worker = Worker::new(t.db.clone(), config(&clock, true)).unwrap();
    let message = |db: Db| {
        let endpoint = endpoint.id.clone();
        async move {
            db.webhook_messages(store.id, &endpoint, 10)
                .await
                .unwrap()
                .remove(0)
        }
    };

    let mut expected_next = clock.now();
    for (attempt, wait) in SCHEDULE.iter().enumerate() {
        clock.set(expected_next);
        let pass = worker.run_once().await.unwrap();
        assert_eq!(pass.retried, 1, "attempt {}", attempt + 1);
        expected_next = regulars_domain::Timestamp(clock.now().0 + wait.as_millis() as i64);
        let m = message(t.db.clone()).await;
        assert_eq!((m.status.as_str(), m.attempts), ("pending", attempt as i64 + 1));
        assert_eq!(m.next_attempt_at, expected_next, "attempt {}", attempt + 1);
        // Not a moment early.
        clock.set(regulars_domain::Timestamp(expected_next.0 - 1));
        assert_eq!(worker.run_once().await.unwrap(), Pass::default());
    }
    clock.set(expected_next);
    let last = worker.run_once().await.unwrap();
    assert_eq!(last.failed, 1);
    let m = message(t.db.clone()).await;
    assert_eq!((m.status.as_str(), m.attempts), ("failed", 4));
    clock.advance(Duration::from_secs(3600));
    assert_eq!(worker.run_once().await.unwrap(), Pass::default());

    let hits = inbox.hits();
    assert_eq!(hits.len(), 4);
    assert!(hits.iter().all(|h| header(h, "webhook-id") == id));
    assert!(hits.iter().all(|h| signed_by(&secret, h)));
    let stamps: Vec<i64> = hits
        .iter()
        .map(|h| header(h, "webhook-timestamp").parse().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    let outcomes: Vec<(i64, String, Option<i64>)> =
        t.db.webhook_attempts(store.id, &endpoint.id, 10)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|a| (a.attempt, a.outcome, a.response_status))
            .collect();
    assert_eq!(
        outcomes,
        [
            (1, "retry".to_string(), Some(500)),
            (2, "retry".to_string(), Some(502)),
            (3, "retry".to_string(), Some(404)),
            (4, "failed".to_string(), Some(500)),
        ]
    );
}

async fn retry_after_is_honoured_on_429_and_503(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let (base, inbox) = receiver().await;
    let clock = clock();
    let later = chrono::DateTime::from_timestamp_millis(clock.now().0 + 7_200_000)
        .unwrap()
        .with_timezone(&chrono::Utc);
    inbox.answer([
        (429, vec![("retry-after", "120".to_string())]),
        (
            503,
            vec![("retry-after", later.to_rfc2822().replace("+0000", "GMT"))],
        ),
        // Retry-After on a plain 500 is not ours to honour: the schedule decides.
        (500, vec![("retry-after", "9999".to_string())]),
    ]);
    let (endpoint, _) = register(&t.db, store.id, &format!("{base}/in")).await;
    queue_test(&t.db, store.id, &endpoint.id).await;
    let worker = Worker::new(t.db.clone(), config(&clock, true)).unwrap();
    let next =
        || async { t.db.webhook_messages(store.id, &endpoint.id, 1).await.unwrap()[0].next_attempt_at };

    let start = clock.now();
    worker.run_once().await.unwrap();
    assert_eq!(next().await, Timestamp(start.0 + 120_000));
    clock.set(next().await);
    worker.run_once().await.unwrap();
    // Whole seconds: an HTTP date has no milliseconds.
    assert_eq!(next().await.0 / 1000, later.timestamp());
    clock.set(next().await);
    let at = clock.now();
    worker.run_once().await.unwrap();
    assert_eq!(next().await, Timestamp(at.0 + SCHEDULE[2].as_millis() as i64));
    clock.set(next().await);
    assert_eq!(worker.run_once().await.unwrap().succeeded, 1);
    assert_eq!(inbox.hits().len(), 4);
}

async fn gone_disables_the_endpoint_and_stops_its_messages(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let (base, inbox) = receiver().await;
    inbox.answer([(410, vec![])]);
    let (endpoint, _) = register(&t.db, store.id, &format!("{base}/in")).await;
    let clock = clock();
    let mut config = config(&clock, true);
    // One at a time, so the 410 comes before the others are sent.
    config.batch_size = 1;
    let worker = Worker::new(t.db.clone(), config).unwrap();
    for i in 0..3 {
        record_event(&t.db, store.id, &format!("evt-{i}")).await;
    }
    assert_eq!(worker.run_once().await.unwrap().failed, 1);
    for _ in 0..3 {
        clock.advance(Duration::from_secs(10));
        assert_eq!(worker.run_once().await.unwrap(), Pass::default());
    }
    assert_eq!(inbox.hits().len(), 1);
    let e = t.db.webhook_endpoint(store.id, &endpoint.id).await.unwrap();
    assert!(!e.enabled);
    assert_eq!(e.disabled_reason.as_deref(), Some(DISABLED_GONE));
    let mut statuses: Vec<String> =
        t.db.webhook_messages(store.id, &endpoint.id, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.status)
            .collect();
    statuses.sort();
    assert_eq!(statuses, ["cancelled", "cancelled", "failed"]);
}

async fn redirects_are_not_followed(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let (elsewhere, elsewhere_inbox) = receiver().await;
    let (base, inbox) = receiver().await;
    inbox.answer([(302, vec![("location", format!("{elsewhere}/stolen"))])]);
    let (endpoint, _) = register(&t.db, store.id, &format!("{base}/in")).await;
    queue_test(&t.db, store.id, &endpoint.id).await;
    let clock = clock();
    let worker = Worker::new(t.db.clone(), config(&clock, true)).unwrap();
    assert_eq!(worker.run_once().await.unwrap().retried, 1);
    assert_eq!(inbox.hits().len(), 1);
    assert!(
        elsewhere_inbox.hits().is_empty(),
        "the redirect target received a message"
    );
    let attempt = &t.db.webhook_attempts(store.id, &endpoint.id, 1).await.unwrap()[0];
    assert_eq!(attempt.response_status, Some(302));
    assert_eq!(attempt.outcome, "retry");
    assert_eq!(attempt.error.as_deref(), Some("redirects are not followed"));
}

async fn private_targets_are_refused_unless_allowed(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let (addr, connections) = connection_counter().await;
    let port = addr.port();
    // Registered while private targets were allowed, or pointing at a name that now resolves
    // to a private address: the worker checks again at every delivery.
    let targets = [
        format!("http://127.0.0.1:{port}/in"),
        format!("https://127.0.0.1:{port}/in"),
        format!("https://localhost:{port}/in"),
        format!("https://[::1]:{port}/in"),
        "https://10.0.0.1/in".to_string(),
        "https://169.254.169.254/latest/meta-data".to_string(),
        "https://[::ffff:127.0.0.1]/in".to_string(),
    ];
    let mut endpoints = Vec::new();
    for url in &targets {
        let (e, _) = register(&t.db, store.id, url).await;
        queue_test(&t.db, store.id, &e.id).await;
        endpoints.push(e);
    }
    let clock = clock();
    let strict = Worker::new(t.db.clone(), config(&clock, false)).unwrap();
    let pass = strict.run_once().await.unwrap();
    assert_eq!((pass.claimed, pass.retried), (targets.len(), targets.len()));
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "a refused target was connected to"
    );
    for (e, url) in endpoints.iter().zip(&targets) {
        let attempt = &t.db.webhook_attempts(store.id, &e.id, 1).await.unwrap()[0];
        let error = attempt.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("refused") || error.contains("private"),
            "{url}: {error}"
        );
        assert_eq!(attempt.response_status, None, "{url}");
    }

    // The same loopback target with private targets allowed is connected to (the counter
    // answers nothing, so the attempt itself fails).
    let (open_endpoint, _) = register(&t.db, store.id, &format!("http://127.0.0.1:{port}/in")).await;
    let mut tx = t.db.begin().await.unwrap();
    for e in &endpoints {
        let off = WebhookEndpointPatch {
            enabled: Some(false),
            ..Default::default()
        };
        tx.update_webhook_endpoint(store.id, &e.id, &off, Timestamp::now())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    queue_test(&t.db, store.id, &open_endpoint.id).await;
    clock.advance(Duration::from_secs(1));
    let open = Worker::new(t.db.clone(), config(&clock, true)).unwrap();
    assert_eq!(open.run_once().await.unwrap().retried, 1);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

async fn two_workers_never_deliver_a_message_twice(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi-IN").await;
    let (base, inbox) = receiver().await;
    let (endpoint, _) = register(&t.db, store.id, &format!("{base}/in")).await;
    for i in 0..30 {
        record_event(&t.db, store.id, &format!("evt-{i}")).await;
        queue_test(&t.db, store.id, &endpoint.id).await;
    }
    let clock = clock();
    let workers = (0..2).map(|_| {
        let mut config = config(&clock, true);
        config.batch_size = 4;
        let worker = Worker::new(t.db.clone(), config).unwrap();
        tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let pass = worker.run_once().await.unwrap();
                if pass.claimed == 0 {
                    return sent;
                }
                sent += pass.succeeded;
            }
        })
    });
    let mut sent = 0;
    for w in workers {
        sent += w.await.unwrap();
    }
    assert_eq!(sent, 60);
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for hit in inbox.hits() {
        *per_id.entry(header(&hit, "webhook-id")).or_default() += 1;
    }
    assert_eq!(per_id.len(), 60);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
}

async fn the_worker_loop_delivers_until_shut_down(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let (base, inbox) = receiver().await;
    let (endpoint, _) = register(&t.db, store.id, &format!("{base}/in")).await;
    let clock = clock();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(run_worker(t.db.clone(), config(&clock, true), async {
        stopped.await.ok();
    }));
    queue_test(&t.db, store.id, &endpoint.id).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while inbox.hits().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(inbox.hits().len(), 1);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("the worker stops when told")
        .unwrap();
}

on_both_backends!(
    a_delivery_is_signed_as_standard_webhooks_say,
    failures_retry_on_schedule_with_one_id_then_give_up,
    retry_after_is_honoured_on_429_and_503,
    gone_disables_the_endpoint_and_stops_its_messages,
    redirects_are_not_followed,
    private_targets_are_refused_unless_allowed,
    two_workers_never_deliver_a_message_twice,
    the_worker_loop_delivers_until_shut_down,
);
