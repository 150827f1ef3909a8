//! RELIABILITY L3: `regulars serve` is killed with SIGKILL at random moments while 50,000
//! orders (with refunds and cancellations) stream in through the API; each time it is
//! restarted and the client retries what was in flight with the same Idempotency-Key. Then
//! the whole stream is replayed. The ledger must equal an independently computed model
//! exactly, with no duplicate and a clean consistency check (and `PRAGMA integrity_check`).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regulars_domain::loyalty::{points_kept, Program};
use regulars_testkit::{Backend, TestDb};
use serde_json::{json, Value};

const ORDERS: usize = 50_000;
const BATCH: usize = 500;
const CUSTOMERS: usize = 2_000;

/// Rupees of order `i` (no shipping or tax: one point per rupee).
fn rupees(i: usize) -> i64 {
    100 + (i as i64 * 7_919) % 5_000
}

fn refunds_of(i: usize) -> Vec<i64> {
    let quarter = rupees(i) * 100 / 4;
    match (i % 10, i % 30) {
        (_, 0) => vec![quarter, quarter],
        (0, _) => vec![quarter],
        _ => vec![],
    }
}

fn cancelled(i: usize) -> bool {
    i % 50 == 7
}

/// Orders are placed after the program began (earlier ones would earn nothing).
fn placed_at() -> &'static str {
    static AT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AT.get_or_init(|| regulars_domain::Timestamp(regulars_domain::Timestamp::now().0 + 1_000).to_rfc3339())
}

fn order(i: usize, cancel: bool) -> Value {
    let mut o = json!({
        "external_id": format!("L3-{i}"),
        "customer": { "external_id": format!("c{}", i % CUSTOMERS), "email": format!("c{}@example.in", i % CUSTOMERS) },
        "placed_at": placed_at(),
        "currency": "INR",
        "total": format!("{}.00", rupees(i)),
        "financial_status": "paid",
        "line_items": [{ "sku": "SAREE", "title": "Saree", "quantity": 1, "price": format!("{}.00", rupees(i)) }]
    });
    if cancel {
        o["cancelled_at"] = json!(placed_at());
    }
    o
}

/// The whole stream, in order: (path, Idempotency-Key, body).
fn stream() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for b in 0..ORDERS / BATCH {
        let range = b * BATCH..(b + 1) * BATCH;
        let batch: Vec<Value> = range.clone().map(|i| order(i, false)).collect();
        out.push((
            "/api/v1/orders/bulk".into(),
            format!("orders-{b}"),
            Value::Array(batch),
        ));
        for i in range.clone() {
            for (n, amount) in refunds_of(i).into_iter().enumerate() {
                out.push((
                    "/api/v1/refunds".into(),
                    format!("refund-{i}-{n}"),
                    json!({
                        "order_external_id": format!("L3-{i}"), "external_id": format!("R{i}-{n}"),
                        "amount": format!("{}.{:02}", amount / 100, amount % 100),
                    }),
                ));
            }
        }
        let cancels: Vec<Value> = range.filter(|&i| cancelled(i)).map(|i| order(i, true)).collect();
        out.push((
            "/api/v1/orders/bulk".into(),
            format!("cancels-{b}"),
            Value::Array(cancels),
        ));
    }
    out
}

struct Server {
    child: Option<Child>,
    database: String,
    listen: String,
}

impl Server {
    fn start(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_regulars"))
            .args(["--database", &self.database, "serve", "--listen", &self.listen])
            .env_remove("REGULARS_DATABASE_URL")
            .env("RUST_LOG", "error")
            .env("REGULARS__ANALYTICS__REFIT_EVERY_HOURS", "0")
            .env("REGULARS__LOYALTY__NIGHTLY_EVERY_HOURS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no flush beyond what each commit already made durable.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn send(client: &reqwest::Client, base: &str, key: &str, req: &(String, String, Value)) -> u16 {
    loop {
        let sent = client
            .post(format!("{base}{}", req.0))
            .bearer_auth(key)
            .header("idempotency-key", &req.1)
            .json(&req.2)
            .timeout(Duration::from_secs(60))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().as_u16() == 409 => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(r) if r.status().is_server_error() => tokio::time::sleep(Duration::from_millis(50)).await,
            Ok(r) => return r.status().as_u16(),
            // Killed mid-request: the server is coming back; retry with the same key.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn crash_and_replay(backend: Backend) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let t = runtime.block_on(TestDb::new(backend));
    let store = runtime.block_on(t.store("Crash Test Sarees", "INR", "Asia/Kolkata", "te"));
    let key = runtime.block_on(t.db.create_api_key(store.id, "l3")).unwrap().key;
    let program = Program {
        enabled: true,
        pending_days: 0,
        ..Program::default()
    };
    runtime
        .block_on(t.db.set_loyalty_program(store.id, &program, "test"))
        .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let server = Arc::new(Mutex::new(Server {
        child: None,
        database: t.url.clone(),
        listen,
    }));
    server.lock().unwrap().start();

    let requests = stream();
    std::thread::sleep(Duration::from_millis(1_100));
    let kills = runtime.block_on(async {
        let client = reqwest::Client::new();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // The killer: SIGKILL every 0.7–2.5 s (a pseudo-random but repeatable rhythm), restart.
        let killer = {
            let (server, done) = (server.clone(), done.clone());
            tokio::spawn(async move {
                let mut kills = 0u32;
                let mut state = 0x2545_f491_u64;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    tokio::time::sleep(Duration::from_millis(700 + (state >> 33) % 1_800)).await;
                    if done.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let mut s = server.lock().unwrap();
                    s.kill();
                    s.start();
                    kills += 1;
                }
                kills
            })
        };
        for req in &requests {
            let status = send(&client, &base, &key, req).await;
            assert!(status < 300, "{} {} → {status}", req.0, req.1);
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let kills = killer.await.unwrap();
        // The whole stream again, same keys: every answer is a replay; nothing changes.
        for req in &requests {
            let status = send(&client, &base, &key, req).await;
            assert!(status < 300, "replay {} {} → {status}", req.0, req.1);
        }
        kills
    });
    server.lock().unwrap().kill();
    assert!(
        kills >= 3,
        "the server was killed {kills} times: too few to prove anything"
    );

    // The model: what every order keeps after its refunds and cancellation.
    let mut earned = 0i64;
    let mut kept = 0i64;
    for i in 0..ORDERS {
        let points = rupees(i);
        let refunded: i64 = refunds_of(i).iter().sum();
        earned += points;
        kept += points_kept(points, rupees(i) * 100, refunded, cancelled(i));
    }
    runtime.block_on(async {
        let check = t.db.check_loyalty(store.id).await.unwrap();
        assert!(check.is_clean(), "{:?}", check.drift);
        assert_eq!(check.outstanding_points, kept, "points left = the model's");
        let sums: Vec<(String, i64, i64)> = {
            let sql = "SELECT kind, COUNT(*), CAST(SUM(points + written_off) AS BIGINT) FROM loyalty_entries GROUP BY kind ORDER BY kind";
            match &t.db {
                regulars_store::Db::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
                regulars_store::Db::Pg(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
            }
        };
        let earn = sums.iter().find(|s| s.0 == "earn").unwrap();
        assert_eq!((earn.1, earn.2), (ORDERS as i64, earned), "one earning per order, no duplicate");
        let revoked = sums.iter().find(|s| s.0 == "revoke").map(|s| s.2).unwrap_or(0);
        assert_eq!(revoked, earned - kept);
        assert_eq!(t.db.integrity_check().await.unwrap(), "ok");
    });
}

#[test]
fn sqlite_survives_kill_9_and_replay() {
    crash_and_replay(Backend::Sqlite);
}

#[test]
fn postgres_survives_kill_9_and_replay() {
    crash_and_replay(Backend::Postgres);
}
