//! `cargo run --release -p regulars-bench -- loyalty`: the loyalty ledger under load, each
//! figure beside a reference measured in the same run; written to `bench/results/loyalty.json`
//! and `loyalty.md`.
//!
//! 1. Bulk order ingestion with the program on against the same orders with it off: the same
//!    synthetic orders in batches through `Tx::upsert_orders_crediting` (crediting history, so
//!    every paid order of a customer earns), each on a fresh SQLite file; then the ledger check
//!    and one earn entry per paid, uncancelled order of a customer.
//! 2. RELIABILITY L1 under load: concurrent redemptions of 10 points against one customer's
//!    1,000 points through the HTTP API (each request with its own `Idempotency-Key`): exactly
//!    balance / 10 succeed, the rest are refused with `insufficient_points`, nothing else; the
//!    balance ends at 0 and the ledger check is clean. Against the same number of `GET /healthz`
//!    at the same concurrency. SQLite always; PostgreSQL too when `REGULARS_BENCH_POSTGRES`
//!    names a server (a fresh database is created and dropped).
//! 3. The nightly expiry and tier job on a ledger of 1,000,000 members and about 10,000,000
//!    entries (see `loyalty_data`), from a copy of the cached file: its time against one full
//!    `SELECT count(*), sum(points)` over the entries, then a second run at the same instant,
//!    which must find nothing to do.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use regulars_domain::{
    Currency, CustomerInput, Email, FinancialStatus, Locale, OrderInput, Source, TimeZone, Timestamp,
};
use regulars_sample::synthetic_orders;
use regulars_store::{Db, NightlyReport, StoreRecord};
use serde::Serialize;
use serde_json::{json, Value};

use crate::loyalty_data::{self, program};
use crate::start;

pub struct Options {
    pub orders: usize,
    pub customers: usize,
    pub batch: usize,
    pub requests: usize,
    pub balance: i64,
    pub points_each: i64,
    pub concurrency: usize,
    pub members: usize,
    pub fresh: bool,
    /// Which measurements to run: `123` (all), or some of the digits.
    pub only: String,
}

// ---------------------------------------------------------------------------------------
// 1. Ingestion with the program on and off.

#[derive(Debug, Serialize)]
pub struct IngestRun {
    pub program: &'static str,
    pub orders: usize,
    pub seconds: f64,
    pub orders_per_sec: f64,
    pub paid_orders_with_customer: i64,
    pub earn_entries: i64,
    pub lots: i64,
    pub points_earned: i64,
    pub ledger_entries: i64,
    pub ledger_drift: usize,
}

#[derive(Debug, Serialize)]
pub struct Ingest {
    pub orders: usize,
    pub customers: usize,
    pub batch: usize,
    pub guest_orders: usize,
    pub unpaid_orders: usize,
    pub cancelled_orders: usize,
    pub off: IngestRun,
    pub on: IngestRun,
    pub on_over_off: f64,
    pub earn_entries_match_paid_orders: bool,
}

/// The ingest benchmark's synthetic orders, with a few guests (no customer), unpaid and
/// cancelled orders among them so that "one earning per paid order of a customer" is tested.
fn orders(n: usize, customers: usize) -> anyhow::Result<(Vec<OrderInput>, [usize; 3])> {
    let mut counts = [0; 3];
    let mut all = Vec::with_capacity(n);
    for (i, mut o) in synthetic_orders(n, customers, 7, start()).enumerate() {
        if i % 50 == 17 {
            o.customer = None;
            counts[0] += 1;
        } else if i % 40 == 5 {
            o.financial_status = FinancialStatus::Pending;
            counts[1] += 1;
        } else if i % 100 == 61 {
            o.financial_status = FinancialStatus::Voided;
            o.cancelled_at = Some(Timestamp(o.placed_at.0 + 3_600_000));
            counts[2] += 1;
        }
        o.validate().map_err(|e| anyhow::anyhow!("order {i}: {e:?}"))?;
        all.push(o);
    }
    Ok((all, counts))
}

async fn fresh_store(db: &Db, name: &str) -> anyhow::Result<StoreRecord> {
    Ok(db
        .create_store(
            name,
            Currency::INR,
            TimeZone::parse("Asia/Kolkata").unwrap(),
            Locale::parse("en").unwrap(),
        )
        .await?)
}

async fn ingest_once(all: &[OrderInput], batch: usize, on: bool) -> anyhow::Result<IngestRun> {
    let dir = tempfile::tempdir()?;
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("ingest.db").display())).await?;
    db.migrate().await?;
    let store = fresh_store(&db, "Ingest").await?;
    if on {
        db.set_loyalty_program(store.id, &program(), "bench").await?;
    }
    let started = Instant::now();
    for chunk in all.chunks(batch) {
        let mut tx = db.begin().await?;
        tx.upsert_orders_crediting(&store, chunk, "bench", true).await?;
        tx.commit().await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let Db::Sqlite(pool) = &db else {
        anyhow::bail!("ingestion is measured on SQLite")
    };
    let key = store.id.to_string();
    let (paid,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM orders WHERE store_id = ?1 AND customer_id IS NOT NULL \
         AND cancelled_at IS NULL AND financial_status IN ('paid', 'partially_refunded', 'refunded')",
    )
    .bind(&key)
    .fetch_one(pool)
    .await?;
    let (earns, earned): (i64, Option<i64>) = sqlx::query_as(
        "SELECT count(*), sum(points) FROM loyalty_entries WHERE store_id = ?1 AND kind = 'earn' \
         AND order_id IS NOT NULL",
    )
    .bind(&key)
    .fetch_one(pool)
    .await?;
    let check = db.check_loyalty(store.id).await?;
    db.close().await;
    Ok(IngestRun {
        program: if on { "on" } else { "off" },
        orders: all.len(),
        seconds,
        orders_per_sec: all.len() as f64 / seconds,
        paid_orders_with_customer: paid,
        earn_entries: earns,
        lots: check.lots,
        points_earned: earned.unwrap_or(0),
        ledger_entries: check.entries,
        ledger_drift: check.drift.len(),
    })
}

pub async fn ingest(orders_n: usize, customers: usize, batch: usize) -> anyhow::Result<Ingest> {
    let (all, [guests, unpaid, cancelled]) = orders(orders_n, customers)?;
    eprintln!("    program off …");
    let off = ingest_once(&all, batch, false).await?;
    eprintln!("    {:.0} orders/s", off.orders_per_sec);
    eprintln!("    program on …");
    let on = ingest_once(&all, batch, true).await?;
    eprintln!(
        "    {:.0} orders/s; {} earn entries for {} paid orders of customers; drift {}",
        on.orders_per_sec, on.earn_entries, on.paid_orders_with_customer, on.ledger_drift
    );
    Ok(Ingest {
        orders: orders_n,
        customers,
        batch,
        guest_orders: guests,
        unpaid_orders: unpaid,
        cancelled_orders: cancelled,
        on_over_off: on.orders_per_sec / off.orders_per_sec,
        earn_entries_match_paid_orders: on.earn_entries == on.paid_orders_with_customer,
        off,
        on,
    })
}

// ---------------------------------------------------------------------------------------
// 2. Concurrent redemptions through the API (RELIABILITY L1).

#[derive(Debug, Serialize)]
pub struct Burst {
    pub requests: usize,
    pub seconds: f64,
    pub requests_per_sec: f64,
}

#[derive(Debug, Serialize)]
pub struct Storm {
    pub backend: &'static str,
    pub requests: usize,
    pub concurrency: usize,
    pub starting_balance: i64,
    pub points_each: i64,
    /// Every request answered, from the first sent to the last reply.
    pub seconds_to_settle: f64,
    pub requests_per_sec: f64,
    pub succeeded: usize,
    pub insufficient_points: usize,
    pub anomalies: usize,
    pub anomaly_samples: Vec<String>,
    pub expected_successes: i64,
    pub final_available: i64,
    pub final_pending: i64,
    pub final_held: i64,
    pub redeemed_points: i64,
    pub ledger_drift: usize,
    pub reference_healthz: Burst,
    pub settle_over_reference: f64,
    pub passed: bool,
}

struct Served {
    db: Db,
    store: StoreRecord,
    key: String,
    base: String,
}

async fn serve(db: Db) -> anyhow::Result<Served> {
    let store = fresh_store(&db, "Storm").await?;
    let key = db.create_api_key(store.id, "bench").await?.key;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = regulars_web::router(regulars_web::AppState::new(db.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Served { db, store, key, base })
}

async fn burst_healthz(
    client: &reqwest::Client,
    base: &str,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<Burst> {
    let url = format!("{base}/healthz");
    let started = Instant::now();
    let failures = futures::stream::iter(0..requests)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_err(),
                    _ => true,
                }
            }
        })
        .buffer_unordered(concurrency)
        .filter(|failed| futures::future::ready(*failed))
        .count()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(failures == 0, "{failures} of {requests} GET /healthz failed");
    Ok(Burst {
        requests,
        seconds,
        requests_per_sec: requests as f64 / seconds,
    })
}

enum Answer {
    Ok,
    Short,
    Other(String),
}

pub async fn storm(
    backend: &'static str,
    db: Db,
    requests: usize,
    balance: i64,
    points_each: i64,
    concurrency: usize,
) -> anyhow::Result<Storm> {
    let s = serve(db).await?;
    s.db.set_loyalty_program(s.store.id, &program(), "bench").await?;
    let input = CustomerInput {
        external_id: Some("storm-1".into()),
        email: Some(Email::parse("storm@example.in").expect("a valid email")),
        ..CustomerInput::default()
    };
    let (customer, _) =
        s.db.upsert_customer(s.store.id, Source::Api, &input, "bench")
            .await?;
    let mut tx = s.db.begin().await?;
    tx.adjust_points(
        &s.store,
        customer,
        balance,
        "starting balance",
        "bench",
        Timestamp::now(),
    )
    .await?;
    tx.commit().await?;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(120))
        .build()?;
    // Warm the connections and the statement caches outside the measurements.
    burst_healthz(&client, &s.base, concurrency * 2, concurrency).await?;
    let reference = burst_healthz(&client, &s.base, requests, concurrency).await?;

    let url = format!("{}/api/v1/customers/{customer}/loyalty/redemptions", s.base);
    let body = json!({ "points": points_each, "reason": "checkout" }).to_string();
    let started = Instant::now();
    let answers: Vec<Answer> = futures::stream::iter(0..requests)
        .map(|i| {
            let (client, url, key, body) = (client.clone(), url.clone(), s.key.clone(), body.clone());
            async move {
                let r = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .header("idempotency-key", format!("storm-{backend}-{i}"))
                    .body(body)
                    .send()
                    .await;
                match r {
                    Err(e) => Answer::Other(format!("transport: {e}")),
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let text = r.text().await.unwrap_or_default();
                        let code = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| v.get("code").and_then(Value::as_str).map(str::to_string));
                        match (status, code.as_deref()) {
                            (201, _) => Answer::Ok,
                            (409, Some("insufficient_points")) => Answer::Short,
                            _ => Answer::Other(format!(
                                "{status} {}",
                                text.chars().take(200).collect::<String>()
                            )),
                        }
                    }
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();

    let mut succeeded = 0;
    let mut short = 0;
    let mut samples = Vec::new();
    let mut anomalies = 0;
    for a in answers {
        match a {
            Answer::Ok => succeeded += 1,
            Answer::Short => short += 1,
            Answer::Other(what) => {
                anomalies += 1;
                if samples.len() < 5 {
                    samples.push(what);
                }
            }
        }
    }
    let now = Timestamp::now();
    let after = s.db.points_balance(s.store.id, customer, now, 14).await?;
    let check = s.db.check_loyalty(s.store.id).await?;
    let redeemed = check
        .accounts
        .iter()
        .find(|(a, _)| a == "redeemed")
        .map(|(_, p)| *p)
        .unwrap_or(0);
    s.db.close().await;
    let expected = balance / points_each;
    let passed = succeeded as i64 == expected
        && short == requests - expected as usize
        && anomalies == 0
        && after.available == 0
        && after.pending == 0
        && after.held == 0
        && redeemed == balance
        && check.is_clean();
    Ok(Storm {
        backend,
        requests,
        concurrency,
        starting_balance: balance,
        points_each,
        seconds_to_settle: seconds,
        requests_per_sec: requests as f64 / seconds,
        succeeded,
        insufficient_points: short,
        anomalies,
        anomaly_samples: samples,
        expected_successes: expected,
        final_available: after.available,
        final_pending: after.pending,
        final_held: after.held,
        redeemed_points: redeemed,
        ledger_drift: check.drift.len(),
        settle_over_reference: seconds / reference.seconds,
        reference_healthz: reference,
        passed,
    })
}

async fn storm_sqlite(o: &Options) -> anyhow::Result<Storm> {
    let dir = tempfile::tempdir()?;
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("storm.db").display())).await?;
    db.migrate().await?;
    storm("sqlite", db, o.requests, o.balance, o.points_each, o.concurrency).await
}

async fn storm_postgres(admin: &str, o: &Options) -> anyhow::Result<Storm> {
    use sqlx::{Connection, Executor};
    let name = format!(
        "regulars_bench_loyalty_{}_{}",
        std::process::id(),
        Timestamp::now().0
    );
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .with_context(|| format!("REGULARS_BENCH_POSTGRES={admin}"))?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
    let outcome = async {
        let db = Db::connect(&format!("{base}/{name}")).await?;
        db.migrate().await?;
        storm(
            "postgres",
            db,
            o.requests,
            o.balance,
            o.points_each,
            o.concurrency,
        )
        .await
    }
    .await;
    conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
        .await?;
    outcome
}

// ---------------------------------------------------------------------------------------
// 3. The nightly job.

#[derive(Debug, Serialize)]
pub struct Nightly {
    pub members: usize,
    pub file: String,
    pub file_bytes: u64,
    pub reused_file: bool,
    pub generation_seconds: f64,
    pub rows: std::collections::BTreeMap<String, u64>,
    pub entries_by_kind: std::collections::BTreeMap<String, u64>,
    pub now: String,
    pub copy_seconds: f64,
    pub reference_full_scan_seconds: f64,
    pub reference_query: &'static str,
    pub reference_plan: Vec<String>,
    pub reference_rows: i64,
    pub first_run_seconds: f64,
    pub first_run: NightlyReport,
    pub expected: loyalty_data::Expected,
    pub first_run_over_reference: f64,
    pub second_run_seconds: f64,
    pub second_run: NightlyReport,
    pub second_run_did_nothing: bool,
    pub ledger_check_seconds: f64,
    pub ledger_drift: usize,
    pub target_seconds: f64,
}

const REFERENCE_QUERY: &str = "SELECT count(*), sum(points) FROM loyalty_entries";

async fn explain(pool: &sqlx::SqlitePool, sql: &str) -> anyhow::Result<Vec<String>> {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|r| r.3).collect())
}

pub async fn nightly(members: usize, fresh: bool) -> anyhow::Result<Nightly> {
    let data = loyalty_data::prepare(members, fresh).await?;
    let run = data.dir.join("run.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(data.dir.join(format!("run.db{suffix}")));
    }
    let t = Instant::now();
    std::fs::copy(&data.path, &run).with_context(|| format!("copying {}", data.path.display()))?;
    let copy_seconds = t.elapsed().as_secs_f64();
    eprintln!("    copied the file in {copy_seconds:.1} s");

    let db = Db::connect(&format!("sqlite://{}", run.display())).await?;
    let store = db
        .stores()
        .await?
        .into_iter()
        .find(|s| s.id.to_string() == data.meta.store_id)
        .context("the generated store")?;
    let Db::Sqlite(pool) = &db else {
        anyhow::bail!("the nightly job is measured on SQLite")
    };
    let reference_plan = explain(pool, REFERENCE_QUERY).await?;
    let t = Instant::now();
    let (reference_rows, _sum): (i64, Option<i64>) = sqlx::query_as(REFERENCE_QUERY).fetch_one(pool).await?;
    let reference = t.elapsed().as_secs_f64();
    eprintln!("    reference full scan of {reference_rows} entries: {reference:.2} s");

    let now = loyalty_data::now();
    let t = Instant::now();
    let first = db.run_loyalty_nightly(&store, now).await?;
    let first_seconds = t.elapsed().as_secs_f64();
    eprintln!("    nightly job: {first_seconds:.1} s, {first:?}");
    let t = Instant::now();
    let second = db.run_loyalty_nightly(&store, now).await?;
    let second_seconds = t.elapsed().as_secs_f64();
    eprintln!("    again at the same instant: {second_seconds:.1} s, {second:?}");
    let did_nothing = second.holds_released == 0
        && second.lots_expired == 0
        && second.points_expired == 0
        && second.lots_warned == 0
        && second.promotions == 0
        && second.demotions == 0
        && second.birthdays == 0;
    let t = Instant::now();
    let check = db.check_loyalty(store.id).await?;
    let check_seconds = t.elapsed().as_secs_f64();
    eprintln!(
        "    ledger check after the job: {} drift in {check_seconds:.1} s",
        check.drift.len()
    );
    db.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(data.dir.join(format!("run.db{suffix}")));
    }
    Ok(Nightly {
        members,
        file: data.path.display().to_string(),
        file_bytes: data.meta.file_bytes,
        reused_file: data.reused,
        generation_seconds: data.meta.generation_seconds,
        rows: data.meta.rows.clone(),
        entries_by_kind: data.meta.entries_by_kind.clone(),
        now: data.meta.now.clone(),
        copy_seconds,
        reference_full_scan_seconds: reference,
        reference_query: REFERENCE_QUERY,
        reference_plan,
        reference_rows,
        first_run_seconds: first_seconds,
        first_run: first,
        expected: data.meta.expected.clone(),
        first_run_over_reference: first_seconds / reference,
        second_run_seconds: second_seconds,
        second_run: second,
        second_run_did_nothing: did_nothing,
        ledger_check_seconds: check_seconds,
        ledger_drift: check.drift.len(),
        target_seconds: 30.0,
    })
}

// ---------------------------------------------------------------------------------------

pub async fn run(o: Options) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut report = json!({
        "benchmark": "loyalty",
        "machine": { "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "os": std::env::consts::OS },
    });
    if o.only.contains('1') {
        eprintln!(
            "(1) {} orders of {} customers in batches of {}, program off and on …",
            o.orders, o.customers, o.batch
        );
        report["ingest"] = serde_json::to_value(ingest(o.orders, o.customers, o.batch).await?)?;
    }
    if o.only.contains('2') {
        eprintln!(
            "(2) {} concurrent redemptions of {} points against {} points, {} in flight …",
            o.requests, o.points_each, o.balance, o.concurrency
        );
        let mut storms = vec![storm_sqlite(&o).await?];
        eprintln!("    SQLite: {:?}", summary(&storms[0]));
        match std::env::var("REGULARS_BENCH_POSTGRES") {
            Ok(admin) if !admin.is_empty() => {
                storms.push(storm_postgres(&admin, &o).await?);
                eprintln!("    PostgreSQL: {:?}", summary(&storms[1]));
            }
            _ => eprintln!("    PostgreSQL skipped (set REGULARS_BENCH_POSTGRES to an admin URL)"),
        }
        report["redemptions"] = serde_json::to_value(&storms)?;
    }
    if o.only.contains('3') {
        eprintln!("(3) the nightly job over {} members …", o.members);
        report["nightly"] = serde_json::to_value(nightly(o.members, o.fresh).await?)?;
    }
    report["program"] = serde_json::to_value(program())?;
    report["targets"] = json!({
        "ingest_on_over_off": ">= 0.7",
        "redemptions": "exactly balance / points succeed, the rest insufficient_points, no other answer, balance 0, ledger clean",
        "nightly_seconds": "< 30",
    });
    report["total_seconds"] = json!(started.elapsed().as_secs_f64());

    let default_sizes = o.orders == 200_000 && o.members == 1_000_000 && o.requests == 10_000;
    let dir = if default_sizes && o.only == "123" {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/results")
    } else {
        crate::dataset::data_dir().join("loyalty-results")
    };
    std::fs::create_dir_all(&dir)?;
    let json_path = dir.join("loyalty.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("{}", json_path.display()))?;
    std::fs::write(dir.join("loyalty.md"), markdown(&report))?;
    eprintln!("written to {}", json_path.display());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn summary(s: &Storm) -> (f64, usize, usize, usize, i64, bool) {
    (
        s.seconds_to_settle,
        s.succeeded,
        s.insufficient_points,
        s.anomalies,
        s.final_available,
        s.passed,
    )
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The figures as a Markdown table (the README quotes it).
fn markdown(r: &Value) -> String {
    let mut out = String::from("# Loyalty benchmark\n\n");
    out += &format!(
        "{} cores, {}; total {:.0} s. Every figure beside a reference measured in the same run.\n\n",
        r["machine"]["cores"],
        r["machine"]["os"],
        f(&r["total_seconds"])
    );
    let i = &r["ingest"];
    if !i.is_null() {
        out += &format!(
            "## 1. Ingestion, program on vs off\n\n{} orders of {} customers in batches of {} through \
             `Tx::upsert_orders_crediting` (history credited), fresh SQLite file each.\n\n\
             | | orders/s | seconds |\n|---|---|---|\n\
             | program off (reference) | {:.0} | {:.1} |\n| program on | {:.0} | {:.1} |\n\
             | on / off | {:.2} (target ≥ 0.7) | |\n\n\
             Earn entries {} for {} paid, uncancelled orders of customers ({} guest, {} unpaid, {} \
             cancelled orders earn nothing): {}. Ledger check: {} drift over {} entries and {} lots.\n\n",
            i["orders"],
            i["customers"],
            i["batch"],
            f(&i["off"]["orders_per_sec"]),
            f(&i["off"]["seconds"]),
            f(&i["on"]["orders_per_sec"]),
            f(&i["on"]["seconds"]),
            f(&i["on_over_off"]),
            i["on"]["earn_entries"],
            i["on"]["paid_orders_with_customer"],
            i["guest_orders"],
            i["unpaid_orders"],
            i["cancelled_orders"],
            if i["earn_entries_match_paid_orders"] == true {
                "equal"
            } else {
                "NOT EQUAL"
            },
            i["on"]["ledger_drift"],
            i["on"]["ledger_entries"],
            i["on"]["lots"],
        );
    }
    if let Some(storms) = r["redemptions"].as_array() {
        out += "## 2. Concurrent redemptions (RELIABILITY L1)\n\n\
                | backend | requests (in flight) | settle s | GET /healthz s (reference) | ratio | 201 | \
                409 insufficient_points | anomalies | balance after | redeemed | drift | passed |\n\
                |---|---|---|---|---|---|---|---|---|---|---|---|\n";
        for s in storms {
            out += &format!(
                "| {} | {} ({}) | {:.2} | {:.2} | {:.1} | {} | {} | {} | {} | {} | {} | {} |\n",
                s["backend"].as_str().unwrap_or(""),
                s["requests"],
                s["concurrency"],
                f(&s["seconds_to_settle"]),
                f(&s["reference_healthz"]["seconds"]),
                f(&s["settle_over_reference"]),
                s["succeeded"],
                s["insufficient_points"],
                s["anomalies"],
                s["final_available"],
                s["redeemed_points"],
                s["ledger_drift"],
                s["passed"],
            );
        }
        out += "\n";
    }
    let n = &r["nightly"];
    if !n.is_null() {
        let a = &n["first_run"];
        let e = &n["expected"];
        out += &format!(
            "## 3. Nightly expiry and tier job\n\n{} members, {} ledger entries ({} lots, {} lot moves) \
             on SQLite, now = {}.\n\n\
             | | seconds |\n|---|---|\n\
             | `{}` (reference) | {:.2} |\n| nightly job | {:.1} (target < 30) |\n| job / reference | {:.1} |\n\
             | second run, same instant | {:.1} (did nothing: {}) |\n\n\
             | the job's report | count | the generator expected |\n|---|---|---|\n\
             | holds released | {} | {} |\n| lots expired | {} | {} |\n| points expired | {} | {} |\n\
             | lots warned | {} | {} |\n| members evaluated | {} | {} with a tier before |\n\
             | promotions | {} | {} |\n| demotions | {} | {} |\n| birthdays | {} | {} |\n\n\
             Ledger check after the job: {} drift ({:.0} s).\n",
            n["members"],
            n["rows"]["loyalty_entries"],
            n["rows"]["loyalty_lots"],
            n["rows"]["loyalty_lot_moves"],
            n["now"].as_str().unwrap_or(""),
            n["reference_query"].as_str().unwrap_or(""),
            f(&n["reference_full_scan_seconds"]),
            f(&n["first_run_seconds"]),
            f(&n["first_run_over_reference"]),
            f(&n["second_run_seconds"]),
            n["second_run_did_nothing"],
            a["holds_released"],
            e["holds_due"],
            a["lots_expired"],
            e["lots_due"],
            a["points_expired"],
            e["points_due"],
            a["lots_warned"],
            e["lots_entering_warning_window"],
            a["members_evaluated"],
            e["members_with_tier"],
            a["promotions"],
            e["promotions"],
            a["demotions"],
            e["demotions"],
            a["birthdays"],
            e["birthdays_tonight"],
            n["ledger_drift"],
            f(&n["ledger_check_seconds"]),
        );
    }
    out
}
