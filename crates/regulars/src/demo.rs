//! `regulars demo`: a database with three multilingual sample stores (INR, AMD, USD), ready
//! to explore through the API.

use std::fmt::Write as _;

use anyhow::Context;
use regulars_domain::{Source, TimeZone, Timestamp};
use regulars_sample::{demo_dataset, demo_stores};
use regulars_store::{Db, StoreRecord};

/// Loads the sample stores unless the database has stores already, then creates a fresh API
/// key for each (keys are stored hashed, so old ones cannot be shown again). Returns the text
/// to print.
pub async fn prepare(db: &Db, listen: &str) -> anyhow::Result<String> {
    let mut stores = db.stores().await?;
    let fresh = stores.is_empty();
    if fresh {
        let now = Timestamp::now();
        for spec in demo_stores() {
            let timezone = TimeZone::parse(spec.time_zone).map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = db
                .create_store(&spec.name, spec.currency, timezone, spec.locale.clone())
                .await?;
            load(db, &store, demo_dataset(&spec, now))
                .await
                .with_context(|| format!("loading {}", spec.name))?;
            stores.push(store);
        }
    }
    let mut out = String::new();
    let base = format!("http://{listen}");
    writeln!(
        out,
        "Regulars demo {}",
        if fresh {
            "(sample data created)"
        } else {
            "(existing data reused)"
        }
    )?;
    writeln!(
        out,
        "  API:      {base}/api/v1   (OpenAPI: {base}/api/openapi.json)"
    )?;
    writeln!(out, "  Health:   {base}/healthz   Metrics: {base}/metrics")?;
    writeln!(
        out,
        "  Dashboard login: not available yet; every demo store below is reachable through the API."
    )?;
    for store in &stores {
        let key = db.create_api_key(store.id, "demo").await?;
        writeln!(out)?;
        writeln!(
            out,
            "  {} ({}, {}, {})",
            store.name, store.currency, store.timezone, store.locale
        )?;
        writeln!(out, "    store id: {}", store.id)?;
        writeln!(out, "    API key:  {}", key.key)?;
    }
    if let Some(first) = stores.first() {
        let key = db.create_api_key(first.id, "tour").await?;
        writeln!(out)?;
        writeln!(
            out,
            "Try: curl -s -H 'Authorization: Bearer {}' '{base}/api/v1/customers?limit=2'",
            key.key
        )?;
    }
    Ok(out)
}

async fn load(db: &Db, store: &StoreRecord, data: regulars_sample::DemoData) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let customers: Vec<(Source, &regulars_domain::CustomerInput)> = data
        .customers
        .iter()
        .map(|c| (c.source.unwrap_or(Source::Api), c))
        .collect();
    tx.upsert_customers(store.id, &customers, "demo").await?;
    for chunk in data.orders.chunks(2_000) {
        tx.upsert_orders(store, chunk, "demo").await?;
    }
    tx.commit().await?;
    Ok(())
}
