//! (b) The raw ceiling: the rows the bulk API writes for the same orders — customers and their
//! identities, orders, lines, products, order events and customer aggregates — inserted into the
//! same schema by a minimal prepared-statement loop (rusqlite), 10,000 orders per transaction,
//! with the same durability settings. Nothing is parsed, looked up or checked.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use regulars_domain::{fingerprint, new_id, Currency, Locale, TimeZone};
use regulars_sample::synthetic_orders;
use regulars_store::Db;
use rusqlite::params;
use serde::Serialize;

use crate::api_load::PER_REQUEST;
use crate::start;

#[derive(Debug, Serialize)]
pub struct Ceiling {
    pub orders: usize,
    pub seconds: f64,
    pub orders_per_sec: f64,
}

pub async fn run(orders: usize, customers: usize) -> anyhow::Result<Ceiling> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ceiling.db");
    let db = Db::connect(&format!("sqlite://{}", path.display())).await?;
    db.migrate().await?;
    let store = db
        .create_store(
            "Ceiling",
            Currency::INR,
            TimeZone::parse("Asia/Kolkata").unwrap(),
            Locale::parse("en").unwrap(),
        )
        .await?;
    db.close().await;
    let store = store.id.to_string();
    // Generated before the clock starts, as the API's bodies are.
    let all: Vec<_> = synthetic_orders(orders, customers, 7, start()).collect();
    tokio::task::spawn_blocking(move || insert_all(&path, &store, &all))
        .await?
        .map(|seconds| Ceiling {
            orders,
            seconds,
            orders_per_sec: orders as f64 / seconds,
        })
}

fn insert_all(
    path: &std::path::Path,
    store: &str,
    all: &[regulars_domain::OrderInput],
) -> anyhow::Result<f64> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
         PRAGMA cache_size=-65536; PRAGMA temp_store=memory;",
    )?;
    let mut customer_ids: HashMap<String, String> = HashMap::new();
    let now = regulars_domain::Timestamp::now().0;
    let started = Instant::now();
    for chunk in all.chunks(PER_REQUEST) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut ins_customer = tx.prepare_cached(
                "INSERT INTO customers (id, store_id, email, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            )?;
            let mut ins_identity = tx.prepare_cached(
                "INSERT INTO customer_identities (store_id, source, external_id, customer_id) VALUES (?1, 'api', ?2, ?3)",
            )?;
            let mut ins_order = tx.prepare_cached(
                "INSERT INTO orders (id, store_id, source, external_id, fingerprint, created_at, updated_at, order_number, \
                 customer_id, placed_at, source_updated_at, currency, subtotal, discount_total, shipping_total, tax_total, \
                 total, financial_status, status, cancelled_at, marketplace, buyer_accepts_marketing, note, discount_codes) \
                 VALUES (?1, ?2, 'api', ?3, ?4, ?5, ?5, NULL, ?6, ?7, NULL, ?8, ?9, ?10, ?11, ?12, ?13, 'paid', 'paid', NULL, NULL, NULL, NULL, '[]')",
            )?;
            let mut ins_line = tx.prepare_cached(
                "INSERT INTO order_lines (order_id, position, external_id, product_external_id, variant_external_id, sku, \
                 title, quantity, unit_price, discount) VALUES (?1, ?2, NULL, NULL, NULL, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut ins_product = tx.prepare_cached(
                "INSERT INTO products (store_id, source, product_key, sku, title, currency, last_price, first_seen_at, last_seen_at) \
                 VALUES (?1, 'api', ?2, ?3, ?4, 'INR', ?5, ?6, ?6) ON CONFLICT (store_id, source, product_key) DO UPDATE SET \
                 last_seen_at = excluded.last_seen_at, last_price = excluded.last_price",
            )?;
            let mut ins_event = tx.prepare_cached(
                "INSERT INTO events (id, store_id, customer_id, kind, name, occurred_at, recorded_at, dedupe_key, data) \
                 VALUES (?1, ?2, ?3, 'order_placed', NULL, ?4, ?5, ?6, ?7)",
            )?;
            let mut upd_customer = tx.prepare_cached(
                "UPDATE customers SET orders_count = orders_count + ?2, total_spent_minor = total_spent_minor + ?3, \
                 first_order_at = COALESCE(first_order_at, ?4), last_order_at = ?5 WHERE id = ?1",
            )?;
            let mut seen_products: HashSet<String> = HashSet::new();
            let mut aggregates: HashMap<String, (i64, i64, i64, i64)> = HashMap::new();
            for o in chunk {
                let c = o.customer.as_ref().expect("synthetic orders have customers");
                let ext = c.external_id.clone().unwrap_or_default();
                let cid = match customer_ids.get(&ext) {
                    Some(id) => id.clone(),
                    None => {
                        let id = new_id().to_string();
                        ins_customer.execute(params![
                            id,
                            store,
                            c.email.as_ref().map(|e| e.as_str()),
                            now
                        ])?;
                        ins_identity.execute(params![store, ext, id])?;
                        customer_ids.insert(ext, id.clone());
                        id
                    }
                };
                let oid = new_id().to_string();
                ins_order.execute(params![
                    oid,
                    store,
                    o.external_id,
                    fingerprint(o),
                    now,
                    cid,
                    o.placed_at.0,
                    o.currency.code(),
                    o.subtotal,
                    o.discount_total,
                    o.shipping_total,
                    o.tax_total,
                    o.total
                ])?;
                for (pos, l) in o.line_items.iter().enumerate() {
                    ins_line.execute(params![
                        oid,
                        pos as i64,
                        l.sku,
                        l.title,
                        l.quantity,
                        l.unit_price,
                        l.discount
                    ])?;
                    let key = format!("sku:{}", l.sku.as_deref().unwrap_or_default());
                    if seen_products.insert(key.clone()) {
                        ins_product.execute(params![
                            store,
                            key,
                            l.sku,
                            l.title,
                            l.unit_price,
                            o.placed_at.0
                        ])?;
                    }
                }
                let data = serde_json::json!({ "order_id": oid, "total": o.total }).to_string();
                ins_event.execute(params![
                    new_id().to_string(),
                    store,
                    cid,
                    o.placed_at.0,
                    now,
                    format!("order:{oid}"),
                    data
                ])?;
                let a = aggregates.entry(cid).or_insert((0, 0, i64::MAX, 0));
                *a = (
                    a.0 + 1,
                    a.1 + o.total,
                    a.2.min(o.placed_at.0),
                    a.3.max(o.placed_at.0),
                );
            }
            for (cid, (count, spent, first, last)) in aggregates {
                upd_customer.execute(params![cid, count, spent, first, last])?;
            }
        }
        tx.commit()?;
    }
    Ok(started.elapsed().as_secs_f64())
}
