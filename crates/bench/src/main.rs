//! `cargo run --release -p regulars-bench -- ingest`: the ingestion benchmark. Every figure is
//! reported beside a reference measured in the same run on the same machine, and written to
//! `bench/results/ingest.json`.
//!
//! `cargo run --release -p regulars-bench -- pages`: every dashboard page's latency on a store
//! of 1,000,000 customers and 10,000,000 orders, against the sign-in form measured in the same
//! run; written to `bench/results/pages.json` (see `pages` and `dataset`).
//!
//! `cargo run --release -p regulars-bench -- analytics`: the model fits and the transaction
//! summary against Python's `lifetimes` 0.11.3 on the same data in the same run; written to
//! `bench/results/analytics.json` and `analytics.md` (see `analytics`).
//!
//! `cargo run --release -p regulars-bench -- loyalty`: the loyalty ledger — ingestion with the
//! program on against off, concurrent redemptions through the API against `GET /healthz`, and
//! the nightly expiry and tier job over 1,000,000 members against a full scan of the ledger;
//! written to `bench/results/loyalty.json` and `loyalty.md` (see `loyalty`).
//!
//! `cargo run --release -p regulars-bench -- referrals`: the referral program — ingestion with
//! the program on (signals on every order, an advocate's code on a fifth) against off, the
//! referral job settling 100,000 due referrals against plain ingestion, and attribution with
//! the fraud rules against plain first orders; written to `bench/results/referrals.json` and
//! `referrals.md` (see `referrals`).
//!
//! (a) orders through the bulk API with idempotency keys, against (b) the raw ceiling: the same
//! rows inserted into the same schema by a minimal prepared-statement loop in large transactions;
//! (c) single-order POST latency at a fixed arrival rate (open loop, so slow answers are not
//! hidden by a waiting client); (d) a transaction-log import through the real binary: rows/s and
//! the child's peak RSS, against just parsing the same file.

mod analytics;
mod api_load;
mod ceiling;
mod dataset;
mod import;
mod loyalty;
mod loyalty_data;
mod pages;
mod referrals;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use regulars_domain::{Currency, Locale, OrderInput, TimeZone, Timestamp};
use regulars_store::{Db, StoreRecord};
use serde_json::{json, Value};

pub struct Setup {
    pub db: Db,
    pub store: StoreRecord,
    pub key: String,
    pub base: String,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

/// A fresh SQLite database with one store, served on a free loopback port in this process.
pub async fn serve_fresh() -> anyhow::Result<Setup> {
    let dir = tempfile::tempdir_in(std::env::temp_dir())?;
    let path = dir.path().join("bench.db");
    let db = Db::connect(&format!("sqlite://{}", path.display())).await?;
    db.migrate().await?;
    let store = db
        .create_store(
            "Bench",
            Currency::INR,
            TimeZone::parse("Asia/Kolkata").unwrap(),
            Locale::parse("en").unwrap(),
        )
        .await?;
    let key = db.create_api_key(store.id, "bench").await?.key;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = regulars_web::router(regulars_web::AppState::new(db.clone()));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(Setup {
        db,
        store,
        key,
        base,
        path,
        _dir: dir,
    })
}

/// The API's JSON for an order (money as decimal strings).
pub fn api_json(o: &OrderInput) -> Value {
    let m = |minor: i64| regulars_domain::Money::new(minor, o.currency).to_major_string();
    let customer = o
        .customer
        .as_ref()
        .map(|c| json!({ "external_id": c.external_id, "email": c.email.as_ref().map(|e| e.as_str()) }));
    json!({
        "external_id": o.external_id,
        "customer": customer,
        "placed_at": o.placed_at.to_rfc3339(),
        "currency": o.currency.code(),
        "subtotal": m(o.subtotal),
        "discount_total": m(o.discount_total),
        "shipping_total": m(o.shipping_total),
        "tax_total": m(o.tax_total),
        "total": m(o.total),
        "line_items": o.line_items.iter().map(|l| json!({
            "sku": l.sku, "title": l.title, "quantity": l.quantity, "price": m(l.unit_price), "discount": m(l.discount)
        })).collect::<Vec<_>>(),
    })
}

pub fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2024-01-01T00:00:00Z").unwrap()
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let which = std::env::args().nth(1).unwrap_or_else(|| "ingest".into());
    if which == "pages" {
        return pages::run(pages::Options {
            sizes: dataset::Sizes {
                customers: arg("--customers", 1_000_000),
                orders: arg("--orders", 10_000_000),
            },
            fresh: flag("--fresh"),
            generate_only: flag("--generate-only"),
            warmup: arg("--warmup", 20),
            requests: arg("--requests", 200),
            budget: std::time::Duration::from_secs(arg("--budget", 300) as u64),
        })
        .await;
    }
    if which == "analytics" {
        return analytics::run(analytics::Options {
            rows: arg("--rows", 10_000_000),
            customers: arg("--customers", 1_000_000),
            pareto_customers: arg("--pareto-customers", 100_000),
            fresh: flag("--fresh"),
            summary_budget: arg("--summary-budget", 1800) as u64,
        });
    }
    if which == "loyalty" {
        return loyalty::run(loyalty::Options {
            orders: arg("--orders", 200_000),
            customers: arg("--customers", 50_000),
            batch: arg("--batch", 1_000),
            requests: arg("--requests", 10_000),
            balance: arg("--balance", 1_000) as i64,
            points_each: arg("--points", 10) as i64,
            concurrency: arg("--concurrency", 128),
            members: arg("--members", 1_000_000),
            fresh: flag("--fresh"),
            only: std::env::args()
                .skip_while(|a| a != "--only")
                .nth(1)
                .unwrap_or_else(|| "123".into()),
        })
        .await;
    }
    if which == "referrals" {
        return referrals::run(referrals::Options {
            orders: arg("--orders", 50_000),
            customers: arg("--customers", 15_000),
            batch: arg("--batch", 1_000),
            advocates: arg("--advocates", 2_000),
            due: arg("--due", 100_000),
            pg_due: arg("--pg-due", 20_000),
            first_orders: arg("--first-orders", 10_000),
            history: arg("--history", 40_000),
            only: std::env::args()
                .skip_while(|a| a != "--only")
                .nth(1)
                .unwrap_or_else(|| "abc".into()),
            markdown_only: flag("--markdown-only"),
        })
        .await;
    }
    anyhow::ensure!(
        which == "ingest",
        "unknown benchmark {which:?}; try `ingest`, `pages`, `analytics`, `loyalty` or `referrals`"
    );
    let orders = arg("--orders", 1_000_000);
    let customers = arg("--customers", 200_000);
    let rows = arg("--rows", 1_000_000);
    let rate = arg("--rate", 500);
    let seconds = arg("--seconds", 10);
    // `--only a` (or `ab`, `cd` …) runs some phases, for profiling; the committed figures come
    // from a run of all four.
    let only = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .unwrap_or_else(|| "abcd".into());
    let started = Instant::now();
    if only != "abcd" {
        for phase in only.chars() {
            match phase {
                'a' => eprintln!(
                    "(a) {:.0} orders/s",
                    api_load::bulk(orders, customers).await?.orders_per_sec
                ),
                'b' => eprintln!(
                    "(b) {:.0} orders/s",
                    ceiling::run(orders, customers).await?.orders_per_sec
                ),
                'c' => eprintln!("(c) {:?}", api_load::latency(rate, seconds).await?),
                'd' => eprintln!("(d) {:?}", import::run(rows, customers).await?),
                other => anyhow::bail!("--only takes the letters a, b, c and d, not {other:?}"),
            }
        }
        return Ok(());
    }

    eprintln!("(a) bulk API: {orders} orders of {customers} customers…");
    let bulk = api_load::bulk(orders, customers).await?;
    eprintln!("    {:.0} orders/s", bulk.orders_per_sec);
    eprintln!("(b) raw ceiling: the same rows by a prepared-statement loop…");
    let ceiling = ceiling::run(orders, customers).await?;
    eprintln!("    {:.0} orders/s", ceiling.orders_per_sec);
    eprintln!("(c) single-order POST latency at {rate}/s for {seconds} s…");
    let latency = api_load::latency(rate, seconds).await?;
    eprintln!("    p50 {:.2} ms, p99 {:.2} ms", latency.p50_ms, latency.p99_ms);
    eprintln!("(d) import of a {rows}-row transaction CSV…");
    let import = import::run(rows, customers).await?;
    eprintln!(
        "    {:.0} rows/s, peak RSS {:.1} MB",
        import.rows_per_sec, import.peak_rss_mb
    );

    let report = json!({
        "benchmark": "ingest",
        "machine": { "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "os": std::env::consts::OS },
        "a_bulk_api": bulk,
        "b_raw_ceiling": ceiling,
        "a_over_b": bulk.orders_per_sec / ceiling.orders_per_sec,
        "c_single_post_latency": latency,
        "d_transactions_import": import,
        "targets": {
            "a_over_b": ">= 0.5", "a_orders_per_sec": ">= 50000", "c_p99_ms": "< 10",
            "d_seconds": "< 20", "d_peak_rss_mb": "< 200"
        },
        "total_seconds": started.elapsed().as_secs_f64(),
    });
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/results/ingest.json");
    std::fs::create_dir_all(out.parent().unwrap())?;
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("{}", out.display()))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
