//! `cargo run --release -p regulars-bench -- referrals`: the referral program under load, each
//! figure beside a reference measured in the same run on the same database; written to
//! `bench/results/referrals.json` and `referrals.md`.
//!
//! (a) Order ingestion with the program on against off: the loyalty benchmark's synthetic
//!     orders in batches through `Db::upsert_orders_crediting`. On: every order carries the
//!     checkout's signals (IP address, device, shipping address, card) and 20 % carry an
//!     advocate's code (the first orders of new customers; three in four typed at checkout, the
//!     rest passed on by the shop), so each of those is attributed and judged by every fraud
//!     rule. Off: the same orders without codes or signals, the program never turned on.
//! (b) The referral job (`Db::run_referrals`) settling 100,000 referrals whose return window
//!     has ended (20,000 on PostgreSQL, where every statement is a round trip), rewarding each
//!     advocate with points: referrals per second, against (a)'s plain ingestion rate; then a
//!     second run at the same instant, which must find nothing, and the ledger check.
//! (c) What attribution and the fraud rules cost: 10,000 referred first orders against 10,000
//!     plain first orders of new customers, in alternating batches on one store with history
//!     (the same program, the same signals; only the code differs).
//!
//! SQLite always; PostgreSQL too when `REGULARS_BENCH_POSTGRES` holds an admin URL (a fresh
//! database is created for each measurement and dropped).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use regulars_domain::referral::{address_key, ReferralProgram, ReferralReward};
use regulars_domain::{
    Currency, CustomerId, CustomerInput, Discount, Email, FinancialStatus, LineItemInput, Locale, OrderInput,
    OrderSignals, Source, TimeZone, Timestamp,
};
use regulars_sample::synthetic_orders;
use regulars_store::{Db, ReferralRunReport, StoreRecord};
use serde::Serialize;
use serde_json::{json, Value};

use crate::start;

const DAY: i64 = 86_400_000;

pub struct Options {
    pub orders: usize,
    pub customers: usize,
    pub batch: usize,
    pub advocates: usize,
    pub due: usize,
    /// Due referrals on PostgreSQL (every statement is a round trip to the server).
    pub pg_due: usize,
    pub first_orders: usize,
    pub history: usize,
    /// Which measurements: `abc` (all), or some of the letters.
    pub only: String,
    /// Only write `referrals.md` again from `referrals.json`.
    pub markdown_only: bool,
}

/// The benchmark's program: the product's default turned on (10 % off a friend's first order,
/// 500 points to the advocate after a 14-day return window, the default fraud rules, no
/// milestone or cap), with an acquisition cost and a shop address.
pub fn program() -> ReferralProgram {
    ReferralProgram {
        enabled: true,
        friend_discount: Discount::Percent { basis_points: 1_000 },
        advocate_reward: ReferralReward::Points { points: 500 },
        return_window_days: 14,
        acquisition_cost: 35_000,
        shop_url: Some("https://shop.example.in".into()),
        ..ReferralProgram::default()
    }
}

// ---------------------------------------------------------------------------------------
// Databases.

/// A fresh, migrated database on one backend, and what to remove afterwards.
struct Fresh {
    db: Db,
    _dir: Option<tempfile::TempDir>,
    drop_pg: Option<(String, String)>,
}

impl Fresh {
    async fn new(backend: &'static str, admin: Option<&str>) -> anyhow::Result<Fresh> {
        if backend == "sqlite" {
            let dir = tempfile::tempdir()?;
            let db = Db::connect(&format!("sqlite://{}", dir.path().join("referrals.db").display())).await?;
            db.migrate().await?;
            return Ok(Fresh {
                db,
                _dir: Some(dir),
                drop_pg: None,
            });
        }
        use sqlx::{Connection, Executor};
        let admin = admin.context("PostgreSQL needs REGULARS_BENCH_POSTGRES")?;
        let name = format!(
            "regulars_bench_referrals_{}_{}",
            std::process::id(),
            Timestamp::now().0
        );
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .with_context(|| format!("REGULARS_BENCH_POSTGRES={admin}"))?;
        conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
        let db = Db::connect(&format!("{base}/{name}")).await?;
        db.migrate().await?;
        Ok(Fresh {
            db,
            _dir: None,
            drop_pg: Some((admin.to_string(), name)),
        })
    }

    async fn finish(self) -> anyhow::Result<()> {
        self.db.close().await;
        if let Some((admin, name)) = self.drop_pg {
            use sqlx::{Connection, Executor};
            let mut conn = sqlx::PgConnection::connect(&admin).await?;
            conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await?;
        }
        Ok(())
    }
}

async fn fresh_store(db: &Db) -> anyhow::Result<StoreRecord> {
    Ok(db
        .create_store(
            "Referrals",
            Currency::INR,
            TimeZone::parse("Asia/Kolkata").unwrap(),
            Locale::parse("en").unwrap(),
        )
        .await?)
}

/// A count per `group` (a column or two of `referrals`) for the store.
async fn referral_counts(db: &Db, store: &StoreRecord, group: &str) -> anyhow::Result<BTreeMap<String, i64>> {
    let key = store.id.to_string();
    let rows: Vec<(String, i64)> = match db {
        Db::Sqlite(pool) => {
            sqlx::query_as(&format!(
                "SELECT {group}, count(*) FROM referrals WHERE store_id = ?1 GROUP BY 1 ORDER BY 1"
            ))
            .bind(&key)
            .fetch_all(pool)
            .await?
        }
        Db::Pg(pool) => {
            sqlx::query_as(&format!(
                "SELECT {group}, count(*) FROM referrals WHERE store_id = $1 GROUP BY 1 ORDER BY 1"
            ))
            .bind(&key)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(rows.into_iter().collect())
}

async fn count_rows(db: &Db, store: &StoreRecord, table: &str) -> anyhow::Result<i64> {
    let key = store.id.to_string();
    let (n,): (i64,) = match db {
        Db::Sqlite(pool) => {
            sqlx::query_as(&format!("SELECT count(*) FROM {table} WHERE store_id = ?1"))
                .bind(&key)
                .fetch_one(pool)
                .await?
        }
        Db::Pg(pool) => {
            sqlx::query_as(&format!("SELECT count(*) FROM {table} WHERE store_id = $1"))
                .bind(&key)
                .fetch_one(pool)
                .await?
        }
    };
    Ok(n)
}

// ---------------------------------------------------------------------------------------
// Data.

/// A well-mixed 64-bit hash of a number (splitmix64), for per-customer values without state.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A customer's checkout signals: their own connection, session, home and card.
fn signals_of(person: u64) -> OrderSignals {
    let h = mix(person);
    OrderSignals {
        referral_code: None,
        browser_ip: Some(format!(
            "100.{}.{}.{}",
            64 + (h >> 8) % 64,
            (h >> 16) % 256,
            1 + (h >> 24) % 254
        )),
        device: Some(format!("sess-{:016x}", mix(h))),
        shipping_address: address_key(
            &format!("{} {} MG Road", 1 + h % 400, 100 + (h >> 40) % 800),
            &format!("{}", 560_001 + (h >> 12) % 90),
            "IN",
        ),
        payment_fingerprint: Some(format!("visa:421653:{:04}", (h >> 32) % 10_000)),
    }
}

/// Who a friend's code belongs to, and how the friend's checkout looks: mostly their own, one
/// in twenty shipping to the advocate's home (review), one in a hundred paying with the
/// advocate's card (rejected).
fn friend_signals(friend: u64, advocate: u64) -> OrderSignals {
    let mut s = signals_of(friend);
    let own = signals_of(advocate);
    match mix(friend ^ 0xf00d) % 100 {
        0..=4 => s.shipping_address = own.shipping_address,
        5 => s.payment_fingerprint = own.payment_fingerprint,
        _ => {}
    }
    s
}

/// Puts the advocate's code on a friend's order: typed at checkout (with the friend's 10 %
/// off) three times in four, else passed on by the shop.
fn name_code(o: &mut OrderInput, code: &str, typed: bool) {
    if !typed {
        o.signals.referral_code = Some(code.to_string());
        return;
    }
    o.discount_codes = vec![code.to_string()];
    let discount = o.subtotal / 10;
    let mut left = discount;
    let last = o.line_items.len().saturating_sub(1);
    for (i, l) in o.line_items.iter_mut().enumerate() {
        l.discount = if i == last {
            left
        } else {
            discount * l.quantity * l.unit_price / o.subtotal.max(1)
        };
        left -= l.discount;
    }
    let net = o.subtotal - discount;
    o.discount_total = discount;
    o.shipping_total = if net >= 99_900 { 0 } else { 7_900 };
    o.tax_total = net * 5 / 100;
    o.total = net + o.shipping_total + o.tax_total;
}

fn customer(external: String) -> CustomerInput {
    CustomerInput {
        email: Some(Email::parse(&format!("{external}@example.com")).expect("a valid email")),
        external_id: Some(external),
        ..CustomerInput::default()
    }
}

/// A first order of a new customer, placed at `at`.
fn first_order(external: &str, customer_id: String, at: i64, n: u64) -> OrderInput {
    let (sku, title, price) = [
        ("TEA-ASM-250", "Assam CTC tea 250 g", 24_900),
        ("TEA-MSL-200", "Masala chai 200 g", 29_900),
        ("SPC-ELAICHI-100", "Green cardamom 100 g", 54_900),
        ("GIFT-TEA-BOX", "Festive tea gift box", 149_900),
    ][(mix(n) % 4) as usize];
    let shipping = if price >= 99_900 { 0 } else { 7_900 };
    let tax = price * 5 / 100;
    OrderInput {
        source: Source::Api,
        external_id: external.to_string(),
        order_number: None,
        customer: Some(customer(customer_id)),
        placed_at: Timestamp(at),
        source_updated_at: None,
        currency: Currency::INR,
        subtotal: price,
        discount_total: 0,
        shipping_total: shipping,
        tax_total: tax,
        total: price + shipping + tax,
        financial_status: FinancialStatus::Paid,
        cancelled_at: None,
        line_items: vec![LineItemInput {
            external_id: None,
            product_external_id: None,
            variant_external_id: None,
            sku: Some(sku.into()),
            title: title.into(),
            quantity: 1,
            unit_price: price,
            discount: 0,
        }],
        discount_codes: Vec::new(),
        refunds: Vec::new(),
        marketplace: None,
        buyer_accepts_marketing: None,
        note: None,
        signals: OrderSignals::default(),
    }
}

/// Creates the advocates (by external id) and their codes in one transaction; the codes in
/// the same order.
async fn advocates_with_codes(
    db: &Db,
    store: &StoreRecord,
    externals: &[String],
) -> anyhow::Result<Vec<String>> {
    let inputs: Vec<CustomerInput> = externals.iter().cloned().map(customer).collect();
    let pairs: Vec<(Source, &CustomerInput)> = inputs.iter().map(|c| (Source::Api, c)).collect();
    let mut tx = db.begin().await?;
    let ids: Vec<CustomerId> = tx
        .upsert_customers(store.id, &pairs, "bench")
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut codes = Vec::with_capacity(ids.len());
    for id in ids {
        codes.push(tx.referral_code(store, id).await?.code);
    }
    tx.commit().await?;
    Ok(codes)
}

// ---------------------------------------------------------------------------------------
// (a) Ingestion, program on and off.

#[derive(Debug, Serialize)]
pub struct IngestRun {
    pub program: &'static str,
    pub orders: usize,
    pub seconds: f64,
    pub orders_per_sec: f64,
    pub orders_with_code: usize,
    pub referrals: BTreeMap<String, i64>,
    pub reasons: BTreeMap<String, i64>,
    pub signal_rows: i64,
}

#[derive(Debug, Serialize)]
pub struct Ingest {
    pub backend: &'static str,
    pub orders: usize,
    pub customers: usize,
    pub batch: usize,
    pub advocates: usize,
    pub off: IngestRun,
    pub on: IngestRun,
    pub on_over_off: f64,
    /// Every order carrying a code made exactly one referral (all are new customers' first
    /// orders), and the program off made none.
    pub one_referral_per_code: bool,
}

/// The stream with the program on: signals on every order, a code on 20 % of them (new
/// customers' first orders; advocates are the first `advocates` customers, regulars).
fn coded_stream(
    orders: usize,
    customers: usize,
    advocates: usize,
    codes: &[String],
) -> (Vec<OrderInput>, usize) {
    let mut all: Vec<OrderInput> = synthetic_orders(orders, customers, 7, start()).collect();
    let target = orders / 5;
    let mut seen = std::collections::HashSet::new();
    let mut coded = 0;
    for o in &mut all {
        let external = o
            .customer
            .as_ref()
            .and_then(|c| c.external_id.clone())
            .unwrap_or_default();
        let person: u64 = external.trim_start_matches('c').parse().unwrap_or(0);
        let first = seen.insert(person);
        let friend = person as usize >= advocates;
        // Nine of ten first orders of new customers came by a friend, until a fifth of all
        // orders carry a code.
        let advocate = (mix(person) % advocates as u64) as usize;
        if first && friend && coded < target && !mix(person ^ 0xc0de).is_multiple_of(10) {
            o.signals = friend_signals(person, advocate as u64);
            name_code(o, &codes[advocate], !mix(person ^ 0x7e5).is_multiple_of(4));
            coded += 1;
        } else {
            o.signals = signals_of(person);
        }
    }
    (all, coded)
}

async fn ingest_once(
    backend: &'static str,
    admin: Option<&str>,
    o: &Options,
    on: bool,
) -> anyhow::Result<IngestRun> {
    let fresh = Fresh::new(backend, admin).await?;
    let db = &fresh.db;
    let store = fresh_store(db).await?;
    let advocates: Vec<String> = (0..o.advocates).map(|k| format!("c{k}")).collect();
    let (stream, coded) = if on {
        db.set_referral_program(&store, &program(), "bench").await?;
        let codes = advocates_with_codes(db, &store, &advocates).await?;
        coded_stream(o.orders, o.customers, o.advocates, &codes)
    } else {
        // The same customers first, so both runs write the same rows besides the program's.
        let inputs: Vec<CustomerInput> = advocates.iter().cloned().map(customer).collect();
        let pairs: Vec<(Source, &CustomerInput)> = inputs.iter().map(|c| (Source::Api, c)).collect();
        let mut tx = db.begin().await?;
        tx.upsert_customers(store.id, &pairs, "bench").await?;
        tx.commit().await?;
        let codes = vec![String::new(); o.advocates];
        let (mut stream, _) = coded_stream(o.orders, o.customers, o.advocates, &codes);
        for order in &mut stream {
            order.discount_codes.clear();
            order.signals = OrderSignals::default();
        }
        (stream, 0)
    };
    for order in &stream {
        order
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", order.external_id))?;
    }
    let started = Instant::now();
    for chunk in stream.chunks(o.batch) {
        db.upsert_orders_crediting(&store, chunk, "bench", true).await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let run = IngestRun {
        program: if on { "on" } else { "off" },
        orders: stream.len(),
        seconds,
        orders_per_sec: stream.len() as f64 / seconds,
        orders_with_code: coded,
        referrals: referral_counts(db, &store, "status").await?,
        reasons: referral_counts(db, &store, "coalesce(reason, '')").await?,
        signal_rows: count_rows(db, &store, "order_signals").await?,
    };
    fresh.finish().await?;
    Ok(run)
}

pub async fn ingest(backend: &'static str, admin: Option<&str>, o: &Options) -> anyhow::Result<Ingest> {
    eprintln!("    {backend}: program off …");
    let off = ingest_once(backend, admin, o, false).await?;
    eprintln!("    {:.0} orders/s", off.orders_per_sec);
    eprintln!("    {backend}: program on …");
    let on = ingest_once(backend, admin, o, true).await?;
    let made: i64 = on.referrals.values().sum();
    eprintln!(
        "    {:.0} orders/s; {} coded orders, {made} referrals {:?}",
        on.orders_per_sec, on.orders_with_code, on.referrals
    );
    Ok(Ingest {
        backend,
        orders: o.orders,
        customers: o.customers,
        batch: o.batch,
        advocates: o.advocates,
        on_over_off: on.orders_per_sec / off.orders_per_sec,
        one_referral_per_code: made == on.orders_with_code as i64 && off.referrals.is_empty(),
        off,
        on,
    })
}

// ---------------------------------------------------------------------------------------
// (b) The referral job.

#[derive(Debug, Serialize)]
pub struct Settle {
    pub backend: &'static str,
    pub due: usize,
    pub advocates: usize,
    pub setup_seconds: f64,
    pub seconds: f64,
    pub referrals_per_sec: f64,
    pub report: ReferralRunReport,
    pub second_run_seconds: f64,
    pub second_run: ReferralRunReport,
    pub statuses_after: BTreeMap<String, i64>,
    pub ledger_entries: i64,
    pub ledger_drift: usize,
    pub ledger_check_seconds: f64,
    /// Every due referral rewarded, the second run did nothing, and the ledger check is clean.
    pub passed: bool,
}

pub async fn settle(
    backend: &'static str,
    admin: Option<&str>,
    o: &Options,
    due: usize,
) -> anyhow::Result<Settle> {
    let fresh = Fresh::new(backend, admin).await?;
    let db = &fresh.db;
    let store = fresh_store(db).await?;
    let setup = Instant::now();
    db.set_referral_program(&store, &program(), "bench").await?;
    let advocates: Vec<String> = (0..o.advocates).map(|k| format!("adv{k}")).collect();
    let codes = advocates_with_codes(db, &store, &advocates).await?;
    // A year of friends' first orders, the last one 15 days ago: every window has ended.
    // Written newest first: attribution counts each friend's earlier orders by walking the
    // store's orders placed before theirs, which stays short this way (the setup is not what
    // is measured; (c) measures attribution).
    let now = Timestamp::now();
    let from = now.0 - 380 * DAY;
    let step = (365 * DAY) / due.max(1) as i64;
    let mut batch = Vec::with_capacity(o.batch);
    for (k, n) in (0..due).rev().enumerate() {
        let mut order = first_order(
            &format!("f{n}"),
            format!("f{n}"),
            from + n as i64 * step,
            n as u64,
        );
        name_code(&mut order, &codes[n % codes.len()], true);
        batch.push(order);
        if batch.len() == o.batch || k + 1 == due {
            db.upsert_orders(&store, &batch, "bench").await?;
            batch.clear();
        }
    }
    // Points need the loyalty program; turned on after the orders, which therefore earn
    // nothing themselves: the ledger holds the job's rewards only.
    db.set_loyalty_program(store.id, &crate::loyalty_data::program(), "bench")
        .await?;
    let setup_seconds = setup.elapsed().as_secs_f64();
    eprintln!(
        "    {backend}: {} due referrals written in {setup_seconds:.0} s",
        due
    );

    let t = Instant::now();
    let report = db.run_referrals(&store, now).await?;
    let seconds = t.elapsed().as_secs_f64();
    eprintln!("    run_referrals: {seconds:.1} s, {report:?}");
    let t = Instant::now();
    let second_run = db.run_referrals(&store, now).await?;
    let second_run_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let check = db.check_loyalty(store.id).await?;
    let ledger_check_seconds = t.elapsed().as_secs_f64();
    let statuses_after = referral_counts(db, &store, "status").await?;
    let passed = report.qualified == due as u64
        && report.rewarded == due as u64
        && second_run == ReferralRunReport::default()
        && check.is_clean();
    let out = Settle {
        backend,
        due,
        advocates: o.advocates,
        setup_seconds,
        seconds,
        referrals_per_sec: due as f64 / seconds,
        report,
        second_run_seconds,
        second_run,
        statuses_after,
        ledger_entries: check.entries,
        ledger_drift: check.drift.len(),
        ledger_check_seconds,
        passed,
    };
    fresh.finish().await?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// (c) Attribution and the fraud rules.

#[derive(Debug, Serialize)]
pub struct Fraud {
    pub backend: &'static str,
    pub history_orders: usize,
    pub first_orders_each: usize,
    pub batch: usize,
    pub plain_seconds: f64,
    pub plain_orders_per_sec: f64,
    pub referred_seconds: f64,
    pub referred_orders_per_sec: f64,
    /// referred ÷ plain time: what attribution and the rules add.
    pub referred_over_plain: f64,
    pub extra_ms_per_referred_order: f64,
    pub referrals: BTreeMap<String, i64>,
    pub reasons: BTreeMap<String, i64>,
}

pub async fn fraud(backend: &'static str, admin: Option<&str>, o: &Options) -> anyhow::Result<Fraud> {
    let fresh = Fresh::new(backend, admin).await?;
    let db = &fresh.db;
    let store = fresh_store(db).await?;
    db.set_referral_program(&store, &program(), "bench").await?;
    let now = Timestamp::now();
    // Two years of history ending ten days ago, every checkout with its signals.
    let history_customers = (o.history / 4).max(o.advocates + 1);
    let mut history: Vec<OrderInput> =
        synthetic_orders(o.history, history_customers, 11, Timestamp(now.0 - 740 * DAY)).collect();
    for order in &mut history {
        let person: u64 = order
            .customer
            .as_ref()
            .and_then(|c| c.external_id.as_deref())
            .and_then(|e| e.trim_start_matches('c').parse().ok())
            .unwrap_or(0);
        order.signals = signals_of(person);
    }
    for chunk in history.chunks(o.batch) {
        db.upsert_orders(&store, chunk, "bench").await?;
    }
    let advocates: Vec<String> = (0..o.advocates).map(|k| format!("c{k}")).collect();
    let codes = advocates_with_codes(db, &store, &advocates).await?;
    eprintln!("    {backend}: {} orders of history written", o.history);

    // New customers' first orders over the last week, in alternating batches.
    let n = o.first_orders;
    let from = now.0 - 7 * DAY;
    let step = (6 * DAY) / (2 * n.max(1)) as i64;
    let base = 1_000_000u64;
    let (mut plain_seconds, mut referred_seconds) = (0.0, 0.0);
    for (b, start) in (0..n).step_by(o.batch).enumerate() {
        let end = (start + o.batch).min(n);
        for referred in [b % 2 == 1, b % 2 == 0] {
            let batch: Vec<OrderInput> = (start..end)
                .map(|k| {
                    let person = base + 2 * k as u64 + u64::from(referred);
                    let prefix = if referred { "r" } else { "p" };
                    let at = from + (2 * k as i64 + i64::from(referred)) * step;
                    let mut order = first_order(&format!("{prefix}{k}"), format!("{prefix}{k}"), at, person);
                    if referred {
                        let advocate = (mix(person) % o.advocates as u64) as usize;
                        order.signals = friend_signals(person, advocate as u64);
                        name_code(
                            &mut order,
                            &codes[advocate],
                            !mix(person ^ 0x7e5).is_multiple_of(4),
                        );
                    } else {
                        order.signals = signals_of(person);
                    }
                    order
                })
                .collect();
            let t = Instant::now();
            db.upsert_orders(&store, &batch, "bench").await?;
            let took = t.elapsed().as_secs_f64();
            if referred {
                referred_seconds += took;
            } else {
                plain_seconds += took;
            }
        }
    }
    let out = Fraud {
        backend,
        history_orders: o.history,
        first_orders_each: n,
        batch: o.batch,
        plain_seconds,
        plain_orders_per_sec: n as f64 / plain_seconds,
        referred_seconds,
        referred_orders_per_sec: n as f64 / referred_seconds,
        referred_over_plain: referred_seconds / plain_seconds,
        extra_ms_per_referred_order: (referred_seconds - plain_seconds) * 1_000.0 / n as f64,
        referrals: referral_counts(db, &store, "status").await?,
        reasons: referral_counts(db, &store, "coalesce(reason, '')").await?,
    };
    eprintln!(
        "    plain {:.0}/s, referred {:.0}/s ({:.2}×), {:?}",
        out.plain_orders_per_sec, out.referred_orders_per_sec, out.referred_over_plain, out.reasons
    );
    fresh.finish().await?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------

pub async fn run(o: Options) -> anyhow::Result<()> {
    if o.markdown_only {
        // The Markdown again from the committed figures (after a change to its wording).
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/results");
        let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("referrals.json"))?)?;
        std::fs::write(dir.join("referrals.md"), markdown(&report))?;
        return Ok(());
    }
    let started = Instant::now();
    let admin = std::env::var("REGULARS_BENCH_POSTGRES")
        .ok()
        .filter(|a| !a.is_empty());
    let mut backends: Vec<&'static str> = vec!["sqlite"];
    if admin.is_some() {
        backends.push("postgres");
    } else {
        eprintln!("PostgreSQL skipped (set REGULARS_BENCH_POSTGRES to an admin URL)");
    }
    let mut report = json!({
        "benchmark": "referrals",
        "machine": { "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), "os": std::env::consts::OS },
        "command": "cargo run --release -p regulars-bench -- referrals",
    });
    let mut per_backend = serde_json::Map::new();
    for backend in backends {
        let admin = admin.as_deref();
        let mut r = json!({});
        if o.only.contains('a') {
            eprintln!(
                "(a) {backend}: {} orders of {} customers in batches of {}, program off and on …",
                o.orders, o.customers, o.batch
            );
            r["ingest"] = serde_json::to_value(ingest(backend, admin, &o).await?)?;
        }
        if o.only.contains('b') {
            let due = if backend == "postgres" { o.pg_due } else { o.due };
            eprintln!("(b) {backend}: the job over {due} due referrals …");
            let s = settle(backend, admin, &o, due).await?;
            r["settle"] = serde_json::to_value(&s)?;
            if let Some(plain) = r["ingest"]["off"]["orders_per_sec"].as_f64() {
                r["settle_over_plain_ingestion"] = json!(s.referrals_per_sec / plain);
            }
        }
        if o.only.contains('c') {
            eprintln!(
                "(c) {backend}: {} referred against {} plain first orders …",
                o.first_orders, o.first_orders
            );
            r["fraud"] = serde_json::to_value(fraud(backend, admin, &o).await?)?;
        }
        per_backend.insert(backend.to_string(), r);
    }
    report["backends"] = Value::Object(per_backend);
    report["advocates"] = json!(o.advocates);
    report["program"] = serde_json::to_value(program())?;
    report["targets"] = json!({
        "ingest_on_over_off": ">= 0.7",
        "settle": "every due referral rewarded once, a second run does nothing, ledger clean",
    });
    report["total_seconds"] = json!(started.elapsed().as_secs_f64());

    let defaults = o.orders == 50_000
        && o.customers == 15_000
        && o.due == 100_000
        && o.pg_due == 20_000
        && o.first_orders == 10_000
        && o.only == "abc";
    let dir = if defaults {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench/results")
    } else {
        crate::dataset::data_dir().join("referrals-results")
    };
    std::fs::create_dir_all(&dir)?;
    let json_path = dir.join("referrals.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("{}", json_path.display()))?;
    std::fs::write(dir.join("referrals.md"), markdown(&report))?;
    eprintln!("written to {}", json_path.display());
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn counts(v: &Value) -> String {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, n)| format!("{} {n}", if k.is_empty() { "no finding" } else { k }))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The figures, the command, the dataset and how to read them.
fn markdown(r: &Value) -> String {
    let advocates = r["advocates"].as_u64().unwrap_or(0);
    let mut out = String::from("# Referrals benchmark\n\n");
    out += &format!(
        "```sh\ncargo run --release -p regulars-bench -- referrals\n```\n\n\
         {} cores, {}; total {:.0} s. Every figure is beside a reference measured in the same run \
         on the same backend. PostgreSQL runs when `REGULARS_BENCH_POSTGRES` holds an admin URL \
         (e.g. `postgres://postgres@127.0.0.1:55432/postgres`); each measurement gets a fresh \
         database (a new SQLite file, or a new PostgreSQL database dropped afterwards). Smaller runs: \
         `--orders N --customers N --batch N --advocates N --due N --pg-due N --first-orders N \
         --history N`, \
         `--only a` (or `bc` …); they write to `target/bench-data/referrals-results/`. \
         `--markdown-only` writes this file again from `referrals.json`.\n\n",
        r["machine"]["cores"],
        r["machine"]["os"],
        f(&r["total_seconds"]),
    );
    out += &format!(
        "The program is the product's default turned on: 10 % off a friend's first order, 500 \
         points to the advocate once the friend's order clears a 14-day return window, the default \
         fraud rules, no milestone or cap. {} advocates hold a code each.\n\n",
        advocates
    );
    out += "## How to read it\n\n\
            - **(a) on / off** is the price of the program on the write path: the same orders, \
            once with the program on (every order's signals hashed, its address and card kept, a \
            fifth of the orders carrying an advocate's code: a coupon use, and a referral judged by \
            every fraud rule, all in the order batch's transaction) and once with it off and no \
            codes or signals. 1.0 would be free; the target is at least 0.7.\n\
            - **(b) referrals/s** is how fast the job clears a backlog of referrals whose window \
            ended, each rewarded with points on the loyalty ledger. Beside it, the ratio to (a)'s \
            plain ingestion rate on the same backend: settling one referral against writing one \
            order.\n\
            - **(c) referred / plain** is what attribution and the fraud rules cost per order: \
            new customers' first orders in alternating batches on one store with history, the \
            same signals on both, only the code differs. The extra milliseconds per referred order \
            are the coupon use and the referral's writes, and its share of the rules' queries \
            (asked once per batch: earlier orders, the advocates' addresses and cards, referrals \
            and landings from the same IP addresses and devices, the advocates' referrals in the \
            period).\n\n";
    let backends = r["backends"].as_object().cloned().unwrap_or_default();
    let ingest: Vec<&Value> = backends
        .values()
        .map(|b| &b["ingest"])
        .filter(|v| !v.is_null())
        .collect();
    if let Some(first) = ingest.first() {
        out += &format!(
            "## (a) Ingestion, program on vs off\n\n{} orders of {} customers (the loyalty \
             benchmark's synthetic stream over two years) in batches of {} through \
             `Db::upsert_orders_crediting`. On: {} orders carry a code (new customers' first \
             orders; three in four typed at checkout with 10 % off, the rest passed on by the shop), \
             every order carries an IP address, a device, a shipping address and a card; one friend \
             in twenty ships to the advocate's address, one in a hundred pays with the advocate's \
             card.\n\n\
             | backend | off (reference) orders/s | on orders/s | on / off | target | referrals made | decisions |\n\
             |---|---|---|---|---|---|---|\n",
            first["orders"], first["customers"], first["batch"], first["on"]["orders_with_code"],
        );
        for i in &ingest {
            out += &format!(
                "| {} | {:.0} ({:.1} s) | {:.0} ({:.1} s) | {:.2} | ≥ 0.7 | {} for {} coded orders ({}) | {} |\n",
                i["backend"].as_str().unwrap_or(""),
                f(&i["off"]["orders_per_sec"]),
                f(&i["off"]["seconds"]),
                f(&i["on"]["orders_per_sec"]),
                f(&i["on"]["seconds"]),
                f(&i["on_over_off"]),
                i["on"]["referrals"].as_object().map_or(0, |m| m.values().filter_map(Value::as_i64).sum::<i64>()),
                i["on"]["orders_with_code"],
                if i["one_referral_per_code"] == true { "one each" } else { "MISMATCH" },
                counts(&i["on"]["reasons"]),
            );
        }
        out += "\n";
    }
    let settle: Vec<(&Value, &Value)> = backends
        .values()
        .map(|b| (&b["settle"], &b["settle_over_plain_ingestion"]))
        .filter(|(v, _)| !v.is_null())
        .collect();
    if let Some((first, _)) = settle.first() {
        out += &format!(
            "## (b) The referral job\n\n{} advocates share the due referrals evenly; every \
             friend's first order (one line, 10 % off) was placed over the last year and at least \
             15 days ago and written through the orders' own path; the loyalty program is on. One \
             `Db::run_referrals` at now settles them all, in transactions of 200.\n\n\
             | backend | due referrals | seconds | referrals/s | vs plain ingestion (a) | report | second run | ledger check | passed |\n\
             |---|---|---|---|---|---|---|---|---|\n",
            first["advocates"],
        );
        for (s, ratio) in &settle {
            let rep = &s["report"];
            out += &format!(
                "| {} | {} | {:.1} | {:.0} | {} | qualified {}, rewarded {}, milestones {} | {:.2} s, {} | {} entries, {} drift | {} |\n",
                s["backend"].as_str().unwrap_or(""),
                s["due"],
                f(&s["seconds"]),
                f(&s["referrals_per_sec"]),
                ratio.as_f64().map_or("—".to_string(), |x| format!("{x:.2}")),
                rep["qualified"],
                rep["rewarded"],
                rep["milestones"],
                f(&s["second_run_seconds"]),
                if s["second_run"]["qualified"] == 0 && s["second_run"]["rewarded"] == 0 {
                    "nothing done"
                } else {
                    "DID WORK"
                },
                s["ledger_entries"],
                s["ledger_drift"],
                s["passed"],
            );
        }
        out += "\n";
    }
    let fraud: Vec<&Value> = backends
        .values()
        .map(|b| &b["fraud"])
        .filter(|v| !v.is_null())
        .collect();
    if let Some(first) = fraud.first() {
        out += &format!(
            "## (c) Attribution and the fraud rules\n\nA store with {} orders of history (every \
             checkout's signals kept) and {} advocates; then {} plain and {} referred first orders \
             of new customers placed over the last week, in alternating batches of {}.\n\n\
             | backend | plain (reference) orders/s | referred orders/s | referred / plain time | extra ms per referred order | decisions |\n\
             |---|---|---|---|---|---|\n",
            first["history_orders"],
            advocates,
            first["first_orders_each"],
            first["first_orders_each"],
            first["batch"],
        );
        for c in &fraud {
            out += &format!(
                "| {} | {:.0} ({:.1} s) | {:.0} ({:.1} s) | {:.2} | {:.2} | {} |\n",
                c["backend"].as_str().unwrap_or(""),
                f(&c["plain_orders_per_sec"]),
                f(&c["plain_seconds"]),
                f(&c["referred_orders_per_sec"]),
                f(&c["referred_seconds"]),
                f(&c["referred_over_plain"]),
                f(&c["extra_ms_per_referred_order"]),
                counts(&c["reasons"]),
            );
        }
        out += "\n";
    }
    out
}
