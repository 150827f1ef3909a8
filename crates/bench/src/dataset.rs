//! The data set behind `pages`: one Indian shop (INR, Asia/Kolkata) selling on Shopify and
//! WooCommerce, with `customers` customers and `orders` orders over the last three years,
//! written straight into the product's schema.
//!
//! The file is created by the product itself (`Db::connect` + `migrate`, `create_store`,
//! `create_user`); the volume rows are then bulk-inserted with rusqlite. Every row and every
//! derived column is what the product writes when the same orders and customers reach it
//! through webhooks: customer aggregates (cancelled orders excluded, spend net of refunds),
//! `name_key`/`surname_key`, `customer_tags` beside the `tags` JSON, identities per source,
//! consent columns with their append-only consent events, order lines, products learned from
//! the lines, refunds with the order's refunded total and status, and the timeline events
//! (`order_placed`, `order_cancelled`, `refund_issued`, `consent_changed`) with the product's
//! dedupe keys, and the overview's running totals (`order_buckets`, `store_counters`) where the
//! schema has them. Ids are UUIDv7 stamped with the time each record reached the shop, as they are
//! on a shop that has been connected for three years.
//!
//! Nothing here runs ANALYZE: the pages are measured with the plans a user's database has.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;
use regulars_domain::{
    fingerprint, Currency, CustomerInput, Email, FinancialStatus, LineItemInput, Locale, OrderInput, Phone,
    RefundInput, RefundLineInput, Role, Source, TimeZone, Timestamp,
};
use regulars_sample::{demo_dataset, demo_stores};
use regulars_store::Db;
use rusqlite::{params, Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use serde_json::json;

const DAY: i64 = 86_400_000;
const HISTORY: i64 = 3 * 365 * DAY;
const SEED: u64 = 0x5eed_2026_0001;
/// The most orders one customer may have (a café that restocks every day).
const MAX_ORDERS: u32 = 1_500;
/// Share of customers who signed up (newsletter, account) and never ordered.
const PROSPECTS: f64 = 0.03;
const MANAGER_EMAIL: &str = "meera.iyer@bench.example";

const TAG_VIP: u8 = 1;
const TAG_WHOLESALE: u8 = 2;
const TAG_DIWALI: u8 = 4;

/// How many customers and orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizes {
    pub customers: usize,
    pub orders: usize,
}

/// What a generated file holds, kept beside it so a later run can reuse it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub sizes: Sizes,
    pub store_id: String,
    /// The staff member who manages a few thousand customers (role `account_manager`).
    pub manager_email: String,
    pub manager_password: String,
    pub managed_customers: usize,
    pub generated_at: String,
    pub generation_seconds: f64,
    pub phases_seconds: BTreeMap<String, f64>,
    pub rows: BTreeMap<String, u64>,
    /// The migrations the file was made with; a newer server applies the rest at start.
    pub migrations: Vec<String>,
}

pub struct Dataset {
    pub path: PathBuf,
    pub meta: Meta,
    /// True when an earlier run's file was used.
    pub reused: bool,
}

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data")
}

fn file_stem(sizes: Sizes) -> String {
    format!("pages-{}c-{}o", sizes.customers, sizes.orders)
}

/// The migrations in this checkout, as `0004_customer_directory`.
fn migrations_here() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../store/migrations/sqlite");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".sql")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The migrations applied to a file (sqlx's table), named as their files are.
fn migrations_applied(path: &Path) -> anyhow::Result<Vec<String>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt =
        conn.prepare("SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version")?;
    let names = stmt
        .query_map([], |r| {
            let version: i64 = r.get(0)?;
            let description: String = r.get(1)?;
            Ok(format!("{version:04}_{}", description.replace(' ', "_")))
        })?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

/// The cached file for these sizes, generated first when absent (or when `fresh`).
pub async fn prepare(sizes: Sizes, fresh: bool) -> anyhow::Result<Dataset> {
    let dir = data_dir();
    std::fs::create_dir_all(&dir)?;
    let stem = file_stem(sizes);
    let path = dir.join(format!("{stem}.db"));
    let meta_path = dir.join(format!("{stem}.json"));
    if !fresh && path.exists() && meta_path.exists() {
        let meta: Meta = serde_json::from_str(&std::fs::read_to_string(&meta_path)?)
            .with_context(|| format!("{}", meta_path.display()))?;
        let applied = migrations_applied(&path)?;
        let pending: Vec<String> = migrations_here()
            .into_iter()
            .filter(|m| !applied.contains(m))
            .collect();
        if !pending.is_empty() {
            eprintln!(
                "warning: {} has not had {:?} yet: the server applies them at start, as it would \
                 on a shop's own file (pass --fresh to generate the file again instead).",
                path.display(),
                pending
            );
        }
        eprintln!(
            "reusing {} (generated {} in {:.0} s; --fresh rebuilds it)",
            path.display(),
            meta.generated_at,
            meta.generation_seconds
        );
        return Ok(Dataset {
            path,
            meta,
            reused: true,
        });
    }
    // Written under a temporary name and renamed when complete: an interrupted run leaves
    // nothing that a later run would take for a finished file.
    let partial = dir.join(format!("{stem}.db.partial"));
    for p in [&path, &meta_path, &partial] {
        let _ = std::fs::remove_file(p);
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{stem}.db{suffix}")));
        let _ = std::fs::remove_file(dir.join(format!("{stem}.db.partial{suffix}")));
    }
    let mut meta = generate(&partial, sizes).await?;
    meta.migrations = migrations_applied(&partial)?;
    std::fs::rename(&partial, &path)?;
    // Reading the migrations left an empty WAL and its index under the temporary name.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{stem}.db.partial{suffix}")));
    }
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)? + "\n")?;
    Ok(Dataset {
        path,
        meta,
        reused: false,
    })
}

/// SplitMix64: small, fast and the same on every platform. One generator per customer and
/// per order, so any record can be rebuilt on its own.
#[derive(Clone)]
pub struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Rng {
    pub fn new(stream: u64, item: u64) -> Rng {
        Rng(mix(
            SEED ^ mix(stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mix(item))
        ))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n.max(1) as u128) >> 64) as u64
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo).max(1) as u64) as i64
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// A UUIDv7 for a record that reached the shop at `ms`, as `new_id()` stamps it.
fn uuid7(ms: i64, rng: &mut Rng) -> String {
    let a = rng.next();
    let b = rng.next();
    let hi = ((ms as u64) << 16) | 0x7000 | (a & 0x0fff);
    let lo = 0x8000_0000_0000_0000 | (b & 0x3fff_ffff_ffff_ffff);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// Names, languages and habits of the sample crate's Indian demo shop, and its catalogue.
struct Catalogue {
    people: Vec<CustomerInput>,
    /// Per person template: the email's local part without its number, and its domain.
    email_parts: Vec<(String, String)>,
    products: Vec<(String, String, i64)>,
    codes: Vec<String>,
    order_notes: Vec<String>,
    refund_reasons: Vec<String>,
}

fn catalogue(now: Timestamp) -> anyhow::Result<Catalogue> {
    let spec = demo_stores()
        .into_iter()
        .find(|s| s.currency == Currency::INR)
        .context("the sample crate has no INR demo store")?;
    let data = demo_dataset(&spec, now);
    let email_parts = data
        .customers
        .iter()
        .map(|c| {
            let email = c
                .email
                .as_ref()
                .map(|e| e.as_str())
                .unwrap_or("customer@example.in");
            let (local, domain) = email.split_once('@').unwrap_or((email, "example.in"));
            let base = local.trim_end_matches(|ch: char| ch.is_ascii_digit());
            (base.to_string(), domain.to_string())
        })
        .collect();
    let mut seen = HashSet::new();
    let mut products = Vec::new();
    let mut codes = Vec::new();
    let mut order_notes = Vec::new();
    let mut refund_reasons = Vec::new();
    for o in &data.orders {
        for l in &o.line_items {
            if let Some(sku) = &l.sku {
                if seen.insert(sku.clone()) {
                    products.push((sku.clone(), l.title.clone(), l.unit_price));
                }
            }
        }
        for c in &o.discount_codes {
            if !codes.contains(c) {
                codes.push(c.clone());
            }
        }
        if let Some(n) = &o.note {
            if !order_notes.contains(n) {
                order_notes.push(n.clone());
            }
        }
        for r in &o.refunds {
            if let Some(reason) = &r.reason {
                if !refund_reasons.contains(reason) {
                    refund_reasons.push(reason.clone());
                }
            }
        }
    }
    anyhow::ensure!(!products.is_empty(), "the demo shop sold nothing");
    if codes.is_empty() {
        codes.push("DIWALI10".into());
    }
    Ok(Catalogue {
        people: data.customers,
        email_parts,
        products,
        codes,
        order_notes,
        refund_reasons,
    })
}

/// How a customer is known to the shop's two storefronts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Checked out without an account: known by email only.
    Guest {
        shopify: bool,
    },
    Shopify,
    Woo,
    Both,
}

impl Kind {
    fn shopify_account(self) -> bool {
        matches!(self, Kind::Shopify | Kind::Both)
    }
    fn woo_account(self) -> bool {
        matches!(self, Kind::Woo | Kind::Both)
    }
}

#[derive(Debug, Clone, Copy)]
struct Consent {
    subscribed: bool,
    withdrawn_at: Option<i64>,
}

struct Person {
    template: u32,
    kind: Kind,
    planned: u32,
    created_at: i64,
    updated_at: i64,
    orders_count: i64,
    spent: i64,
    first: Option<i64>,
    last: Option<i64>,
    tags: u8,
    managed: bool,
    email_consent: Option<Consent>,
    sms_consent: Option<Consent>,
}

/// One order's content, rebuilt from its own generator whenever it is needed.
struct Body {
    source: Source,
    lines: [(u16, i64); 3],
    line_count: usize,
    subtotal: i64,
    discount: i64,
    shipping: i64,
    tax: i64,
    total: i64,
    code: Option<u16>,
    cancelled_at: Option<i64>,
    /// (when, amount, refunded line for a partial refund)
    refund: Option<(i64, i64, Option<usize>)>,
    note: Option<u16>,
    marketing: Option<bool>,
    marketplace: Option<&'static str>,
}

impl Body {
    fn refunded(&self) -> i64 {
        self.refund.map_or(0, |r| r.1)
    }
}

fn order_rng(customer: usize, nth: u32) -> Rng {
    Rng::new(7, ((customer as u64) << 20) ^ nth as u64)
}

fn body(cat: &Catalogue, kind: Kind, customer: usize, nth: u32, placed_at: i64, now: i64) -> Body {
    let mut r = order_rng(customer, nth);
    let source = match kind {
        Kind::Guest { shopify: true } | Kind::Shopify => Source::Shopify,
        Kind::Guest { shopify: false } | Kind::Woo => Source::Woocommerce,
        Kind::Both => {
            if r.chance(0.6) {
                Source::Shopify
            } else {
                Source::Woocommerce
            }
        }
    };
    let line_count = match r.unit() {
        u if u < 0.55 => 1,
        u if u < 0.85 => 2,
        _ => 3,
    };
    let mut lines = [(0u16, 0i64); 3];
    let mut subtotal = 0;
    for line in lines.iter_mut().take(line_count) {
        let p = r.below(cat.products.len() as u64) as u16;
        let qty = match r.unit() {
            u if u < 0.85 => 1,
            u if u < 0.97 => 2,
            _ => 3,
        };
        *line = (p, qty);
        subtotal += qty * cat.products[p as usize].2;
    }
    let code = r.chance(0.12).then(|| r.below(cat.codes.len() as u64) as u16);
    let discount = if code.is_some() { subtotal / 10 } else { 0 };
    let shipping = if subtotal >= 99_900 { 0 } else { 7_900 };
    let tax = (subtotal - discount) * 5 / 100;
    let total = subtotal - discount + shipping + tax;
    let mut cancelled_at = None;
    let mut refund = None;
    if r.chance(0.015) {
        let at = placed_at + r.range(30 * 60_000, 2 * DAY);
        cancelled_at = (at < now).then_some(at);
    } else if r.chance(0.03) {
        let at = placed_at + r.range(2 * DAY, 30 * DAY);
        if at < now {
            refund = Some(if r.chance(0.4) {
                (at, total, None)
            } else {
                let line = r.below(line_count as u64) as usize;
                let (p, _) = lines[line];
                let price = cat.products[p as usize].2;
                (at, (price + price * 5 / 100).min(total), Some(line))
            });
        }
    }
    let note =
        (!cat.order_notes.is_empty() && r.chance(0.04)).then(|| r.below(cat.order_notes.len() as u64) as u16);
    let marketing = (source == Source::Shopify).then(|| r.chance(0.4));
    let marketplace =
        (source == Source::Shopify && r.chance(0.02)).then(
            || {
                if r.chance(0.5) {
                    "amazon"
                } else {
                    "flipkart"
                }
            },
        );
    Body {
        source,
        lines,
        line_count,
        subtotal,
        discount,
        shipping,
        tax,
        total,
        code,
        cancelled_at,
        refund,
        note,
        marketing,
        marketplace,
    }
}

/// Orders a buying customer places, from two uniform draws: two thirds buy one to three
/// times; the rest come back, a long tail of them hundreds of times. `extra` scales the tail.
fn planned_orders((u, v): (f64, f64), extra: f64) -> u32 {
    match u {
        u if u < 0.36 => 1,
        u if u < 0.56 => 2,
        u if u < 0.66 => 3,
        _ => {
            // Lomax (Pareto II) with shape 1.4 and mean `extra`: a heavy tail.
            let x = extra * 0.4 * ((1.0 - v).powf(-1.0 / 1.4) - 1.0);
            (4.0 + x).min(MAX_ORDERS as f64) as u32
        }
    }
}

struct Plan {
    people: Vec<Person>,
    /// (placed_at, customer, nth), in the order the shop received them.
    orders: Vec<(i64, u32, u32)>,
    managed: usize,
}

fn plan(cat: &Catalogue, sizes: Sizes, now: i64) -> anyhow::Result<Plan> {
    let start = now - HISTORY;
    let n = sizes.customers;
    let m = sizes.orders;
    anyhow::ensure!(n > 0, "--customers must be at least 1");

    let mut people = Vec::with_capacity(n);
    let mut draws = Vec::with_capacity(n);
    for i in 0..n {
        let mut r = Rng::new(1, i as u64);
        let prospect = r.chance(PROSPECTS);
        let kind = if prospect {
            Kind::Shopify
        } else {
            match r.unit() {
                u if u < 0.10 => Kind::Guest {
                    shopify: r.chance(0.7),
                },
                u if u < 0.60 => Kind::Shopify,
                u if u < 0.82 => Kind::Woo,
                _ => Kind::Both,
            }
        };
        let template = r.below(cat.people.len() as u64) as u32;
        draws.push((!prospect).then(|| (r.unit(), r.unit())));
        people.push(Person {
            template,
            kind,
            planned: 0,
            created_at: 0,
            updated_at: 0,
            orders_count: 0,
            spent: 0,
            first: None,
            last: None,
            tags: 0,
            managed: false,
            email_consent: None,
            sms_consent: None,
        });
    }
    // The tail's scale that gives `m` orders in all (the total grows with it).
    let total_for = |extra: f64| -> u64 {
        draws
            .iter()
            .flatten()
            .map(|&d| planned_orders(d, extra) as u64)
            .sum()
    };
    let (mut lo, mut hi) = (0.0f64, 10_000.0f64);
    for _ in 0..50 {
        let mid = (lo + hi) / 2.0;
        if total_for(mid) < m as u64 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    for (p, d) in people.iter_mut().zip(&draws) {
        p.planned = d.map_or(0, |d| planned_orders(d, lo));
    }

    // Exactly `m` orders: the difference goes to (or comes from) randomly chosen buyers.
    let buyers: Vec<usize> = (0..n).filter(|&i| people[i].planned > 0).collect();
    anyhow::ensure!(
        buyers.len() <= m,
        "{} orders cannot give each of {} buying customers one order",
        m,
        buyers.len()
    );
    let regulars: Vec<usize> = buyers
        .iter()
        .copied()
        .filter(|&i| people[i].planned >= 4)
        .collect();
    let pool = if regulars.is_empty() { &buyers } else { &regulars };
    let mut total: i64 = people.iter().map(|p| p.planned as i64).sum();
    let room: i64 = pool
        .iter()
        .map(|&i| (MAX_ORDERS - people[i].planned) as i64)
        .sum();
    anyhow::ensure!(
        total + room >= m as i64,
        "{m} orders are too many for {n} customers (at most {MAX_ORDERS} each)"
    );
    let mut r = Rng::new(3, 0);
    while total < m as i64 {
        let i = pool[r.below(pool.len() as u64) as usize];
        if people[i].planned < MAX_ORDERS {
            people[i].planned += 1;
            total += 1;
        }
    }
    while total > m as i64 {
        let i = buyers[r.below(buyers.len() as u64) as usize];
        if people[i].planned > 1 {
            people[i].planned -= 1;
            total -= 1;
        }
    }

    // When: the first order anywhere in the three years (earlier for heavy buyers, who need
    // the time), the rest between it and the day the customer drifted away (or now).
    let diwali_from = Timestamp::parse_rfc3339("2025-10-09T18:30:00Z").unwrap().0;
    let diwali_to = Timestamp::parse_rfc3339("2025-10-31T18:30:00Z").unwrap().0;
    let mut orders: Vec<(i64, u32, u32)> = Vec::with_capacity(m);
    let mut diwali = vec![false; n];
    for (i, p) in people.iter_mut().enumerate() {
        let mut r = Rng::new(2, i as u64);
        if p.planned == 0 {
            p.created_at = r.range(start, now);
            p.updated_at = p.created_at;
            continue;
        }
        let k = p.planned;
        let head = (2.5 / (k as f64).sqrt()).min(1.0);
        let first = start + ((now - start) as f64 * r.unit() * head) as i64;
        let stay = r.unit().max(0.15);
        let end = first + ((now - first) as f64 * stay) as i64;
        for nth in 0..k {
            let at = if nth == 0 { first } else { r.range(first, end + 1) };
            orders.push((at, i as u32, nth));
            let b = body(cat, p.kind, i, nth, at, now);
            if b.cancelled_at.is_some() {
                continue;
            }
            p.orders_count += 1;
            p.spent += b.total - b.refunded();
            p.first = Some(p.first.map_or(at, |f| f.min(at)));
            p.last = Some(p.last.map_or(at, |l| l.max(at)));
            if (diwali_from..diwali_to).contains(&at) {
                diwali[i] = true;
            }
        }
        // Account holders often register a while before buying; guests exist from checkout.
        p.created_at = match p.kind {
            Kind::Guest { .. } => first,
            _ => first - r.range(0, 30 * DAY),
        };
        p.updated_at = p.created_at;
    }

    // Tags an owner sets by hand: the top 3 % by spend, trade buyers, the festival campaign.
    let mut spend: Vec<i64> = people
        .iter()
        .filter(|p| p.orders_count >= 2)
        .map(|p| p.spent)
        .collect();
    let vip_from = if spend.is_empty() {
        i64::MAX
    } else {
        let k = ((n as f64 * 0.03) as usize).clamp(1, spend.len());
        let (_, kth, _) = spend.select_nth_unstable_by(k - 1, |a, b| b.cmp(a));
        *kth
    };
    let mut r = Rng::new(4, 0);
    for (i, p) in people.iter_mut().enumerate() {
        if p.orders_count >= 2 && p.spent >= vip_from {
            p.tags |= TAG_VIP;
        }
        if p.orders_count >= 10 && r.chance(0.06) {
            p.tags |= TAG_WHOLESALE;
        }
        if diwali[i] && r.chance(0.55) {
            p.tags |= TAG_DIWALI;
        }
    }
    // A few thousand trade and top customers have an account manager.
    let quota = (n / 333).max(1);
    let mut managed = 0;
    for wanted in [TAG_WHOLESALE, TAG_VIP] {
        for p in people.iter_mut() {
            if managed < quota && !p.managed && p.tags & wanted != 0 {
                p.managed = true;
                managed += 1;
            }
        }
    }

    // Consent as Shopify reports it: every account's email state, and SMS for those with a
    // phone; some later unsubscribe.
    for (i, p) in people.iter_mut().enumerate() {
        if !p.kind.shopify_account() {
            continue;
        }
        let mut r = Rng::new(5, i as u64);
        let prospect = p.planned == 0;
        let decide = |p_yes: f64, r: &mut Rng| {
            let subscribed = r.chance(p_yes);
            let withdrawn_at = (subscribed && r.chance(0.12) && p.created_at + 1 < now)
                .then(|| r.range(p.created_at + 1, now));
            Consent {
                subscribed,
                withdrawn_at,
            }
        };
        let email = decide(if prospect { 1.0 } else { 0.45 }, &mut r);
        let has_phone = cat.people[p.template as usize].phone.is_some();
        let sms = has_phone.then(|| decide(0.25, &mut r));
        for c in [Some(email), sms].into_iter().flatten() {
            if let Some(w) = c.withdrawn_at {
                p.updated_at = p.updated_at.max(w);
            }
        }
        p.email_consent = Some(email);
        p.sms_consent = sms;
    }
    orders.sort_unstable();
    Ok(Plan {
        people,
        orders,
        managed,
    })
}

/// The name folded for prefix search as the product folds it: words of the parts joined by
/// one space, full Unicode lowercase.
fn search_key(parts: &[Option<&str>]) -> Option<String> {
    let key = parts
        .iter()
        .flatten()
        .flat_map(|p| p.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (!key.is_empty()).then_some(key)
}

fn shopify_customer_id(i: usize) -> String {
    (7_312_000_000_000u64 + 3 * i as u64).to_string()
}

fn woo_customer_id(i: usize) -> String {
    (1 + i).to_string()
}

fn email_of(cat: &Catalogue, p: &Person, i: usize) -> String {
    let (base, domain) = &cat.email_parts[p.template as usize];
    format!("{base}{i}@{domain}")
}

/// A unique Indian mobile number for customer `i`, when their template has a phone.
fn phone_of(cat: &Catalogue, p: &Person, i: usize) -> Option<String> {
    let template = cat.people[p.template as usize].phone.as_ref()?;
    let lead = template.as_str().chars().nth(3).unwrap_or('9');
    // 7,919,317 is coprime with 10^9, so distinct customers get distinct numbers.
    let rest = (i as u64 * 7_919_317 + 12_345) % 1_000_000_000;
    Some(format!("+91{lead}{rest:09}"))
}

async fn generate(path: &Path, sizes: Sizes) -> anyhow::Result<Meta> {
    let started = Instant::now();
    let mut phases = BTreeMap::new();
    let now = Timestamp::now();

    // The product makes the file, the store and the staff member.
    let db = Db::connect(&format!("sqlite://{}", path.display())).await?;
    db.migrate().await?;
    let store = db
        .create_store(
            "Chai Chaupal Tea & Spices",
            Currency::INR,
            TimeZone::parse("Asia/Kolkata").unwrap(),
            Locale::parse("en-IN").unwrap(),
        )
        .await?;
    let mut r = Rng::new(6, now.0 as u64);
    let alphabet = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let manager_password: String = (0..24)
        .map(|_| alphabet[r.below(alphabet.len() as u64) as usize] as char)
        .collect();
    let manager = db
        .create_user(
            &Email::parse(MANAGER_EMAIL).unwrap(),
            &manager_password,
            Some("Meera Iyer"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating the account manager: {e}"))?;
    db.set_membership(store.id, manager.id, Role::AccountManager)
        .await?;
    db.close().await;
    phases.insert("schema".to_string(), started.elapsed().as_secs_f64());

    let t = Instant::now();
    let cat = catalogue(now)?;
    let plan = plan(&cat, sizes, now.0)?;
    phases.insert("plan".to_string(), t.elapsed().as_secs_f64());
    eprintln!(
        "  planned {} customers and {} orders in {:.1} s",
        plan.people.len(),
        plan.orders.len(),
        t.elapsed().as_secs_f64()
    );

    let store_id = store.id.to_string();
    let manager_id = manager.id.to_string();
    let path_owned = path.to_path_buf();
    let (rows, write_phases) =
        tokio::task::spawn_blocking(move || write(&path_owned, &cat, &plan, &store_id, &manager_id, now.0))
            .await??;
    phases.extend(write_phases);
    Ok(Meta {
        sizes,
        store_id: store.id.to_string(),
        manager_email: MANAGER_EMAIL.to_string(),
        manager_password,
        managed_customers: rows.get("managed_customers").copied().unwrap_or(0) as usize,
        generated_at: now.to_rfc3339(),
        generation_seconds: started.elapsed().as_secs_f64(),
        phases_seconds: phases,
        rows,
        migrations: Vec::new(),
    })
}

/// Rows of one order, built on the producer thread.
struct OrderRow<'a> {
    id: String,
    source: &'static str,
    external_id: String,
    order_number: String,
    customer_id: &'a str,
    placed_at: i64,
    source_updated_at: i64,
    subtotal: i64,
    discount: i64,
    shipping: i64,
    tax: i64,
    total: i64,
    refunded: i64,
    financial_status: &'static str,
    status: &'static str,
    cancelled_at: Option<i64>,
    marketplace: Option<&'static str>,
    marketing: Option<bool>,
    note: Option<&'a str>,
    discount_codes: String,
    fingerprint: String,
    created_at: i64,
    updated_at: i64,
    lines: Vec<LineItemInput>,
    refund: Option<(String, RefundInput)>,
    events: Vec<EventRow>,
}

struct EventRow {
    id: String,
    kind: &'static str,
    occurred_at: i64,
    recorded_at: i64,
    dedupe_key: String,
    data: String,
}

/// (source, product index) → (first seen, last seen)
type Seen = HashMap<(Source, u16), (i64, i64)>;
/// Quarter hour → (orders, net revenue): the overview's running totals, where the schema has
/// them, counted as the product counts them (not cancelled, net of refunds).
type Buckets = HashMap<i64, (i64, i64)>;
const BUCKET_MS: i64 = 900_000;

fn product_ids(source: Source, p: u16) -> (String, Option<String>) {
    match source {
        Source::Shopify => (
            (8_104_000_000_000u64 + 1_000 * p as u64).to_string(),
            Some((46_210_000_000_000u64 + 1_000 * p as u64).to_string()),
        ),
        _ => ((200 + p as u64).to_string(), None),
    }
}

fn build_orders<'a>(
    cat: &'a Catalogue,
    plan: &'a Plan,
    ids: &'a [String],
    now: i64,
    out: mpsc::SyncSender<Vec<OrderRow<'a>>>,
) -> anyhow::Result<(Seen, Buckets)> {
    let mut seen: Seen = HashMap::new();
    let mut buckets: Buckets = HashMap::new();
    let mut shopify_n: u64 = 0;
    let mut woo_n: u64 = 0;
    let mut batch = Vec::with_capacity(BATCH);
    for &(placed_at, ci, nth) in &plan.orders {
        let ci = ci as usize;
        let p = &plan.people[ci];
        let b = body(cat, p.kind, ci, nth, placed_at, now);
        let mut r = Rng::new(8, ((ci as u64) << 20) ^ nth as u64);
        let (external_num, order_number) = match b.source {
            Source::Shopify => {
                shopify_n += 1;
                (
                    5_612_000_000_000 + 7 * shopify_n,
                    format!("#{}", 1000 + shopify_n),
                )
            }
            _ => {
                woo_n += 1;
                (20_000 + woo_n, (20_000 + woo_n).to_string())
            }
        };
        let external_id = external_num.to_string();
        let received = placed_at + r.range(500, 3_000);
        let id = uuid7(received, &mut r);
        let lines: Vec<LineItemInput> = b.lines[..b.line_count]
            .iter()
            .enumerate()
            .map(|(pos, &(pi, qty))| {
                let (sku, title, price) = &cat.products[pi as usize];
                let (product, variant) = product_ids(b.source, pi);
                let e = seen.entry((b.source, pi)).or_insert((placed_at, placed_at));
                e.0 = e.0.min(placed_at);
                e.1 = e.1.max(placed_at);
                LineItemInput {
                    external_id: Some((external_num * 4 + pos as u64 + 1).to_string()),
                    product_external_id: Some(product),
                    variant_external_id: variant,
                    sku: Some(sku.clone()),
                    title: title.clone(),
                    quantity: qty,
                    unit_price: *price,
                    discount: 0,
                }
            })
            .collect();
        let refund = b.refund.map(|(at, amount, line)| RefundInput {
            external_id: (9_870_000_000_000 + 7 * external_num % 1_000_000_000_000).to_string(),
            created_at: Timestamp(at),
            amount,
            reason: (!cat.refund_reasons.is_empty()).then(|| {
                cat.refund_reasons[(external_num % cat.refund_reasons.len() as u64) as usize].clone()
            }),
            lines: line
                .map(|l| {
                    vec![RefundLineInput {
                        line_external_id: lines[l].external_id.clone(),
                        sku: lines[l].sku.clone(),
                        quantity: 1,
                        amount,
                    }]
                })
                .unwrap_or_default(),
        });
        let financial_status = match (&b.cancelled_at, &refund) {
            (Some(_), _) => FinancialStatus::Voided,
            (None, Some(rf)) if rf.amount >= b.total => FinancialStatus::Refunded,
            (None, Some(_)) => FinancialStatus::PartiallyRefunded,
            (None, None) => FinancialStatus::Paid,
        };
        let t = &cat.people[p.template as usize];
        let source_customer_id = match (b.source, p.kind) {
            (Source::Shopify, k) if k.shopify_account() => Some(shopify_customer_id(ci)),
            (Source::Woocommerce, k) if k.woo_account() => Some(woo_customer_id(ci)),
            _ => None,
        };
        let email = email_of(cat, p, ci);
        let customer = CustomerInput {
            source: Some(b.source),
            external_id: source_customer_id,
            email: Some(Email::parse(&email).expect("generated emails are valid")),
            phone: phone_of(cat, p, ci).map(|ph| Phone::parse(&ph).expect("generated phones are valid")),
            first_name: t.first_name.clone(),
            last_name: t.last_name.clone(),
            has_account: Some(!matches!(p.kind, Kind::Guest { .. })),
            ..CustomerInput::default()
        };
        let last_change = [Some(placed_at), b.cancelled_at, b.refund.map(|x| x.0)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(placed_at);
        let input = OrderInput {
            source: b.source,
            external_id: external_id.clone(),
            order_number: Some(order_number.clone()),
            customer: Some(customer),
            placed_at: Timestamp(placed_at),
            source_updated_at: Some(Timestamp(last_change + 60_000)),
            currency: Currency::INR,
            subtotal: b.subtotal,
            discount_total: b.discount,
            shipping_total: b.shipping,
            tax_total: b.tax,
            total: b.total,
            financial_status,
            cancelled_at: b.cancelled_at.map(Timestamp),
            line_items: lines,
            discount_codes: b
                .code
                .map(|c| vec![cat.codes[c as usize].clone()])
                .unwrap_or_default(),
            refunds: refund.iter().cloned().collect(),
            marketplace: b.marketplace.map(str::to_string),
            buyer_accepts_marketing: b.marketing,
            note: b.note.map(|n| cat.order_notes[n as usize].clone()),
            signals: Default::default(),
        };
        let fp = fingerprint(&input);
        if b.cancelled_at.is_none() {
            let slot = buckets.entry(placed_at.div_euclid(BUCKET_MS)).or_default();
            slot.0 += 1;
            slot.1 += b.total - b.refunded();
        }
        let mut events = vec![EventRow {
            id: uuid7(received, &mut r),
            kind: "order_placed",
            occurred_at: placed_at,
            recorded_at: received,
            dedupe_key: format!("order:{id}"),
            data: json!({
                "order_id": id,
                "source": b.source.as_str(),
                "external_id": external_id,
                "order_number": input.order_number,
                "total": b.total,
                "currency": "INR",
                "items": input.line_items.iter().map(|l| l.quantity).sum::<i64>(),
            })
            .to_string(),
        }];
        if let Some(at) = b.cancelled_at {
            let recorded = at + r.range(500, 3_000);
            events.push(EventRow {
                id: uuid7(recorded, &mut r),
                kind: "order_cancelled",
                occurred_at: at,
                recorded_at: recorded,
                dedupe_key: format!("order_cancelled:{id}"),
                data: json!({ "order_id": id, "external_id": external_id }).to_string(),
            });
        }
        let mut updated_at = received;
        let refund = refund.map(|rf| {
            let recorded = rf.created_at.0 + r.range(500, 3_000);
            updated_at = recorded;
            events.push(EventRow {
                id: uuid7(recorded, &mut r),
                kind: "refund_issued",
                occurred_at: rf.created_at.0,
                recorded_at: recorded,
                dedupe_key: format!("refund:{id}:{}", rf.external_id),
                data: json!({ "order_id": id, "refund_external_id": rf.external_id, "amount": rf.amount })
                    .to_string(),
            });
            (uuid7(recorded, &mut r), rf)
        });
        if let Some(at) = b.cancelled_at {
            updated_at = at + 1_000;
        }
        let status = if b.cancelled_at.is_some() {
            "cancelled"
        } else {
            financial_status.as_str()
        };
        batch.push(OrderRow {
            source: b.source.as_str(),
            order_number,
            customer_id: &ids[ci],
            placed_at,
            source_updated_at: last_change + 60_000,
            subtotal: b.subtotal,
            discount: b.discount,
            shipping: b.shipping,
            tax: b.tax,
            total: b.total,
            refunded: b.refunded(),
            financial_status: financial_status.as_str(),
            status,
            cancelled_at: b.cancelled_at,
            marketplace: b.marketplace,
            marketing: b.marketing,
            note: b.note.map(|n| cat.order_notes[n as usize].as_str()),
            discount_codes: serde_json::to_string(&input.discount_codes)?,
            fingerprint: fp,
            created_at: received,
            updated_at,
            lines: input.line_items,
            refund,
            events,
            id,
            external_id,
        });
        if batch.len() == BATCH
            && out
                .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                .is_err()
        {
            anyhow::bail!("the writer stopped");
        }
    }
    if !batch.is_empty() && out.send(batch).is_err() {
        anyhow::bail!("the writer stopped");
    }
    Ok((seen, buckets))
}

const BATCH: usize = 5_000;
/// Orders per transaction while generating.
const ORDERS_PER_TX: usize = 100_000;

fn write(
    path: &Path,
    cat: &Catalogue,
    plan: &Plan,
    store: &str,
    manager: &str,
    now: i64,
) -> anyhow::Result<(BTreeMap<String, u64>, BTreeMap<String, f64>)> {
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    let mut phases = BTreeMap::new();
    let mut conn = Connection::open(path)?;
    // Generation only: no journal, no syncing, a large cache. Restored to WAL at the end.
    conn.execute_batch(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-6000000; \
         PRAGMA temp_store=memory; PRAGMA foreign_keys=OFF;",
    )?;

    check_schema(&conn)?;

    // Customer ids follow when each customer reached the shop, as `new_id()` would give them.
    let mut order: Vec<u32> = (0..plan.people.len() as u32).collect();
    order.sort_unstable_by_key(|&i| (plan.people[i as usize].created_at, i));
    let mut ids = vec![String::new(); plan.people.len()];
    for &i in &order {
        let mut r = Rng::new(9, i as u64);
        ids[i as usize] = uuid7(plan.people[i as usize].created_at, &mut r);
    }

    let t = Instant::now();
    write_customers(&mut conn, cat, plan, &order, &ids, store, manager, &mut rows)?;
    phases.insert("customers".to_string(), t.elapsed().as_secs_f64());
    eprintln!(
        "  customers, identities, tags and consent written in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let (seen, buckets) = std::thread::scope(|scope| -> anyhow::Result<(Seen, Buckets)> {
        let (tx, rx) = mpsc::sync_channel::<Vec<OrderRow>>(8);
        let producer = scope.spawn(|| build_orders(cat, plan, &ids, now, tx));
        let written = write_orders(&mut conn, store, &rx, plan.orders.len(), &mut rows);
        drop(rx);
        let seen = producer.join().expect("the order builder panicked");
        written?;
        seen
    })?;
    phases.insert("orders".to_string(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    conn.execute_batch("BEGIN")?;
    {
        let mut ins = conn.prepare(
            "INSERT INTO products (store_id, source, product_key, sku, title, currency, last_price, \
             first_seen_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, 'INR', ?6, ?7, ?8)",
        )?;
        let mut keys: Vec<_> = seen.into_iter().collect();
        keys.sort_by_key(|((s, p), _)| (s.as_str(), *p));
        for ((source, p), (first, last)) in keys {
            let (sku, title, price) = &cat.products[p as usize];
            let (product, _) = product_ids(source, p);
            ins.execute(params![
                store,
                source.as_str(),
                product,
                sku,
                title,
                price,
                first,
                last
            ])?;
            *rows.entry("products".into()).or_default() += 1;
        }
        let has_table = |name: &str| -> rusqlite::Result<bool> {
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
        };
        if has_table("order_buckets")? {
            // Customers by the quarter hour of their first and of their last order, where the
            // schema keeps them beside the orders.
            let per_customer = table_columns(&conn, "order_buckets")?.contains("first_orders");
            let mut firsts: HashMap<i64, (i64, i64)> = HashMap::new();
            if per_customer {
                for p in &plan.people {
                    if let Some(f) = p.first {
                        firsts.entry(f.div_euclid(BUCKET_MS)).or_default().0 += 1;
                    }
                    if let Some(l) = p.last {
                        firsts.entry(l.div_euclid(BUCKET_MS)).or_default().1 += 1;
                    }
                }
            }
            let mut all: Vec<_> = buckets.into_iter().collect();
            all.sort_unstable();
            for (bucket, (orders, revenue)) in all {
                if per_customer {
                    let (first, last) = firsts.get(&bucket).copied().unwrap_or_default();
                    conn.prepare_cached(
                        "INSERT INTO order_buckets (store_id, bucket, orders, revenue_minor, first_orders, \
                         last_orders) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![store, bucket, orders, revenue, first, last])?;
                } else {
                    conn.prepare_cached(
                        "INSERT INTO order_buckets (store_id, bucket, orders, revenue_minor) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![store, bucket, orders, revenue])?;
                }
                *rows.entry("order_buckets".into()).or_default() += 1;
            }
        }
        if has_table("store_counters")? {
            let buyers = plan.people.iter().filter(|p| p.orders_count >= 1).count();
            let repeat = plan.people.iter().filter(|p| p.orders_count >= 2).count();
            conn.execute(
                "INSERT INTO store_counters (store_id, buyers, repeat_buyers) VALUES (?1, ?2, ?3)",
                params![store, buyers as i64, repeat as i64],
            )?;
        }
    }
    conn.execute_batch("COMMIT")?;
    // Back to what the product runs with.
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    anyhow::ensure!(mode == "wal", "journal_mode is {mode} after generation");
    conn.execute_batch("PRAGMA synchronous=FULL;")?;
    drop(conn);
    phases.insert("finish".to_string(), t.elapsed().as_secs_f64());
    rows.insert("managed_customers".into(), plan.managed as u64);
    Ok((rows, phases))
}

fn table_columns(conn: &Connection, table: &str) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let names = stmt.query_map([table], |r| r.get(0))?.collect();
    names
}

/// Every column of the tables written here, as this generator knows them. A column the schema
/// gained since would be left empty where the product fills it: refuse rather than measure a
/// file the product could not have written.
fn check_schema(conn: &Connection) -> anyhow::Result<()> {
    let known: &[(&str, &[&str])] = &[
        (
            "customers",
            &[
                "id",
                "store_id",
                "email",
                "phone",
                "first_name",
                "last_name",
                "locale",
                "birthday",
                "tags",
                "attributes",
                "note",
                "acquisition_channel",
                "acquisition_cost_minor",
                "acquisition_cost_currency",
                "has_account",
                "consent_email",
                "consent_sms",
                "consent_whatsapp",
                "orders_count",
                "total_spent_minor",
                "first_order_at",
                "last_order_at",
                "created_at",
                "updated_at",
                "account_manager_id",
                "name_key",
                "surname_key",
            ],
        ),
        (
            "customer_identities",
            &["store_id", "source", "external_id", "customer_id"],
        ),
        ("customer_tags", &["store_id", "tag", "customer_id"]),
        (
            "consent_events",
            &[
                "id",
                "store_id",
                "customer_id",
                "channel",
                "granted",
                "occurred_at",
                "recorded_at",
                "collected_via",
                "notice_version",
                "notice_hash",
                "language",
                "ip",
                "user_agent",
                "actor",
            ],
        ),
        (
            "events",
            &[
                "id",
                "store_id",
                "customer_id",
                "kind",
                "name",
                "occurred_at",
                "recorded_at",
                "dedupe_key",
                "data",
            ],
        ),
        (
            "orders",
            &[
                "id",
                "store_id",
                "source",
                "external_id",
                "order_number",
                "customer_id",
                "placed_at",
                "source_updated_at",
                "currency",
                "subtotal",
                "discount_total",
                "shipping_total",
                "tax_total",
                "total",
                "refunded_total",
                "financial_status",
                "status",
                "cancelled_at",
                "marketplace",
                "buyer_accepts_marketing",
                "note",
                "discount_codes",
                "fingerprint",
                "created_at",
                "updated_at",
            ],
        ),
        (
            "order_lines",
            &[
                "order_id",
                "position",
                "external_id",
                "product_external_id",
                "variant_external_id",
                "sku",
                "title",
                "quantity",
                "unit_price",
                "discount",
            ],
        ),
        (
            "refunds",
            &[
                "id",
                "store_id",
                "order_id",
                "external_id",
                "created_at",
                "amount",
                "reason",
                "lines",
            ],
        ),
        (
            "products",
            &[
                "store_id",
                "source",
                "product_key",
                "sku",
                "title",
                "currency",
                "last_price",
                "first_seen_at",
                "last_seen_at",
            ],
        ),
        (
            "order_buckets",
            &[
                "store_id",
                "bucket",
                "orders",
                "revenue_minor",
                "first_orders",
                "last_orders",
            ],
        ),
        ("store_counters", &["store_id", "buyers", "repeat_buyers"]),
    ];
    for (table, columns) in known {
        let unknown: Vec<String> = table_columns(conn, table)?
            .into_iter()
            .filter(|c| !columns.contains(&c.as_str()))
            .collect();
        anyhow::ensure!(
            unknown.is_empty(),
            "{table} has columns this generator does not fill ({unknown:?}): teach \
             crates/bench/src/dataset.rs what the product writes there"
        );
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_customers(
    conn: &mut Connection,
    cat: &Catalogue,
    plan: &Plan,
    order: &[u32],
    ids: &[String],
    store: &str,
    manager: &str,
    rows: &mut BTreeMap<String, u64>,
) -> anyhow::Result<()> {
    let mut ins_customer = conn.prepare(
        "INSERT INTO customers (id, store_id, email, phone, first_name, last_name, locale, birthday, tags, \
         attributes, note, acquisition_channel, acquisition_cost_minor, acquisition_cost_currency, has_account, \
         consent_email, consent_sms, consent_whatsapp, orders_count, total_spent_minor, first_order_at, \
         last_order_at, created_at, updated_at, account_manager_id, name_key, surname_key) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, NULL, ?18, ?19, \
         ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
    )?;
    let mut ins_identity = conn.prepare(
        "INSERT INTO customer_identities (store_id, source, external_id, customer_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut ins_tag =
        conn.prepare("INSERT INTO customer_tags (store_id, tag, customer_id) VALUES (?1, ?2, ?3)")?;
    let mut ins_consent = conn.prepare(
        "INSERT INTO consent_events (id, store_id, customer_id, channel, granted, occurred_at, recorded_at, \
         collected_via, notice_version, notice_hash, language, ip, user_agent, actor) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'shopify', 'single_opt_in', NULL, NULL, NULL, NULL, 'webhook')",
    )?;
    let mut ins_event = conn.prepare(
        "INSERT INTO events (id, store_id, customer_id, kind, name, occurred_at, recorded_at, dedupe_key, data) \
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8)",
    )?;
    let mut count = |name: &str| *rows.entry(name.to_string()).or_default() += 1;
    conn.execute("BEGIN", [])?;
    for (n, &i) in order.iter().enumerate() {
        if n > 0 && n % 100_000 == 0 {
            conn.execute("COMMIT", [])?;
            conn.execute("BEGIN", [])?;
        }
        let i = i as usize;
        let p = &plan.people[i];
        let t = &cat.people[p.template as usize];
        let id = &ids[i];
        let mut tags = Vec::new();
        if p.tags & TAG_DIWALI != 0 {
            tags.push("diwali-2025");
        }
        if p.tags & TAG_VIP != 0 {
            tags.push("vip");
        }
        if p.tags & TAG_WHOLESALE != 0 {
            tags.push("wholesale");
        }
        tags.sort_unstable();
        let city: BTreeMap<&str, &serde_json::Value> = t
            .attributes
            .iter()
            .filter(|(k, _)| k.as_str() == "city")
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        let consent = |c: Option<Consent>| c.map(|c| c.subscribed && c.withdrawn_at.is_none());
        ins_customer.execute(params![
            id,
            store,
            email_of(cat, p, i),
            phone_of(cat, p, i),
            t.first_name,
            t.last_name,
            t.locale.as_ref().map(|l| l.as_str()),
            t.birthday.map(|b| b.to_iso()),
            serde_json::to_string(&tags)?,
            serde_json::to_string(&city)?,
            t.note,
            t.acquisition_channel,
            t.acquisition_cost.map(|m| m.minor),
            t.acquisition_cost.map(|m| m.currency.code().to_string()),
            !matches!(p.kind, Kind::Guest { .. }),
            consent(p.email_consent),
            consent(p.sms_consent),
            p.orders_count,
            p.spent,
            p.first,
            p.last,
            p.created_at,
            p.updated_at,
            p.managed.then_some(manager),
            search_key(&[t.first_name.as_deref(), t.last_name.as_deref()]),
            search_key(&[t.last_name.as_deref()]),
        ])?;
        count("customers");
        if p.kind.shopify_account() {
            ins_identity.execute(params![store, "shopify", shopify_customer_id(i), id])?;
            count("customer_identities");
        }
        if p.kind.woo_account() {
            ins_identity.execute(params![store, "woocommerce", woo_customer_id(i), id])?;
            count("customer_identities");
        }
        for tag in &tags {
            ins_tag.execute(params![store, tag, id])?;
            count("customer_tags");
        }
        let mut r = Rng::new(10, i as u64);
        for (channel, c) in [("email", p.email_consent), ("sms", p.sms_consent)] {
            let Some(c) = c else { continue };
            let changes = [
                Some((p.created_at, c.subscribed)),
                c.withdrawn_at.map(|w| (w, false)),
            ];
            for (at, granted) in changes.into_iter().flatten() {
                let recorded = at + r.range(500, 3_000);
                let event_id = uuid7(recorded, &mut r);
                ins_consent.execute(params![event_id, store, id, channel, granted, at, recorded])?;
                count("consent_events");
                let data = json!({ "channel": channel, "granted": granted, "collected_via": "shopify" });
                ins_event.execute(params![
                    uuid7(recorded, &mut r),
                    store,
                    id,
                    "consent_changed",
                    at,
                    recorded,
                    format!("consent:{event_id}"),
                    data.to_string()
                ])?;
                count("events");
            }
        }
    }
    conn.execute("COMMIT", [])?;
    Ok(())
}

fn write_orders(
    conn: &mut Connection,
    store: &str,
    rx: &mpsc::Receiver<Vec<OrderRow>>,
    total: usize,
    rows: &mut BTreeMap<String, u64>,
) -> anyhow::Result<()> {
    let mut ins_order = conn.prepare(
        "INSERT INTO orders (id, store_id, source, external_id, order_number, customer_id, placed_at, \
         source_updated_at, currency, subtotal, discount_total, shipping_total, tax_total, total, refunded_total, \
         financial_status, status, cancelled_at, marketplace, buyer_accepts_marketing, note, discount_codes, \
         fingerprint, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'INR', ?9, ?10, ?11, ?12, \
         ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24)",
    )?;
    let mut ins_line = conn.prepare(
        "INSERT INTO order_lines (order_id, position, external_id, product_external_id, variant_external_id, \
         sku, title, quantity, unit_price, discount) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut ins_refund = conn.prepare(
        "INSERT INTO refunds (id, store_id, order_id, external_id, created_at, amount, reason, lines) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut ins_event = conn.prepare(
        "INSERT INTO events (id, store_id, customer_id, kind, name, occurred_at, recorded_at, dedupe_key, data) \
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8)",
    )?;
    let started = Instant::now();
    let mut done = 0usize;
    let mut in_tx = 0usize;
    let (mut lines, mut refunds, mut events) = (0u64, 0u64, 0u64);
    conn.execute("BEGIN", [])?;
    for batch in rx {
        for o in &batch {
            ins_order.execute(params![
                o.id,
                store,
                o.source,
                o.external_id,
                o.order_number,
                o.customer_id,
                o.placed_at,
                o.source_updated_at,
                o.subtotal,
                o.discount,
                o.shipping,
                o.tax,
                o.total,
                o.refunded,
                o.financial_status,
                o.status,
                o.cancelled_at,
                o.marketplace,
                o.marketing,
                o.note,
                o.discount_codes,
                o.fingerprint,
                o.created_at,
                o.updated_at
            ])?;
            for (pos, l) in o.lines.iter().enumerate() {
                ins_line.execute(params![
                    o.id,
                    pos as i64,
                    l.external_id,
                    l.product_external_id,
                    l.variant_external_id,
                    l.sku,
                    l.title,
                    l.quantity,
                    l.unit_price,
                    l.discount
                ])?;
                lines += 1;
            }
            if let Some((refund_id, rf)) = &o.refund {
                ins_refund.execute(params![
                    refund_id,
                    store,
                    o.id,
                    rf.external_id,
                    rf.created_at.0,
                    rf.amount,
                    rf.reason,
                    serde_json::to_string(&rf.lines)?
                ])?;
                refunds += 1;
            }
            for e in &o.events {
                ins_event.execute(params![
                    e.id,
                    store,
                    o.customer_id,
                    e.kind,
                    e.occurred_at,
                    e.recorded_at,
                    e.dedupe_key,
                    e.data
                ])?;
                events += 1;
            }
        }
        done += batch.len();
        in_tx += batch.len();
        if in_tx >= ORDERS_PER_TX {
            conn.execute("COMMIT", [])?;
            conn.execute("BEGIN", [])?;
            in_tx = 0;
        }
        if done % 1_000_000 < batch.len() || done == total {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "  {done} of {total} orders ({:.0}/s, {:.0} s)",
                done as f64 / secs.max(1e-9),
                secs
            );
        }
    }
    conn.execute("COMMIT", [])?;
    anyhow::ensure!(done == total, "wrote {done} of {total} orders");
    *rows.entry("orders".into()).or_default() += done as u64;
    *rows.entry("order_lines".into()).or_default() += lines;
    *rows.entry("refunds".into()).or_default() += refunds;
    *rows.entry("events".into()).or_default() += events;
    Ok(())
}
