//! File imports: stream the file, write in batches, report every rejected row by line.
//! Memory stays constant whatever the file's size; a batch commits atomically, so a crash
//! loses at most the batch in flight, and running the import again completes it (rows already
//! stored come back `unchanged`).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context;
use regulars_domain::{CustomerInput, OrderInput, Source};
use regulars_ingest::csv::{Parsed, RowError};
use regulars_store::{Db, Outcome, StoreRecord};
use serde::Serialize;

/// Rows written per transaction: large enough to amortise commits, small enough to keep
/// memory flat and SQLite's write lock short.
const BATCH: usize = 2_000;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub file: String,
    pub kind: &'static str,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    pub rejections: Vec<Rejection>,
}

#[derive(Debug, Serialize)]
pub struct Rejection {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: String,
}

impl Summary {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    fn reject(&mut self, line: u64, field: Option<String>, reason: String) {
        self.rejected += 1;
        self.rejections.push(Rejection { line, field, reason });
    }
}

pub fn open(path: &Path) -> anyhow::Result<BufReader<File>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

/// Imports customers (Shopify customer export).
pub async fn customers<I>(db: &Db, store: &StoreRecord, file: &Path, rows: I) -> anyhow::Result<Summary>
where
    I: Iterator<Item = Result<Parsed<CustomerInput>, RowError>>,
{
    let mut summary = Summary {
        file: file.display().to_string(),
        kind: "customers",
        ..Default::default()
    };
    let mut batch: Vec<(u64, CustomerInput)> = Vec::with_capacity(BATCH);
    for row in rows {
        match row {
            Ok(Parsed { line, value }) => match value.validate() {
                Ok(()) if value.is_anonymous() => summary.reject(
                    line,
                    None,
                    "the row has no customer id, email or phone to know the customer by".into(),
                ),
                Ok(()) => batch.push((line, value)),
                Err(e) => summary.reject(line, Some(e.field.clone()), e.to_string()),
            },
            Err(e) => summary.reject(e.line, e.field, e.reason),
        }
        if batch.len() == BATCH {
            write_customers(db, store, &mut batch, &mut summary).await?;
        }
    }
    write_customers(db, store, &mut batch, &mut summary).await?;
    Ok(summary)
}

async fn write_customers(
    db: &Db,
    store: &StoreRecord,
    batch: &mut Vec<(u64, CustomerInput)>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let inputs: Vec<(Source, &CustomerInput)> = batch
        .iter()
        .map(|(_, c)| (c.source.unwrap_or(Source::Shopify), c))
        .collect();
    let mut tx = db.begin().await?;
    let written = tx.upsert_customers(store.id, &inputs, "import").await?;
    tx.commit().await?;
    for (_, outcome) in written {
        summary.count(outcome);
    }
    batch.clear();
    Ok(())
}

/// Imports orders (Shopify orders export, transaction logs).
pub async fn orders<I>(
    db: &Db,
    store: &StoreRecord,
    file: &Path,
    kind: &'static str,
    rows: I,
) -> anyhow::Result<Summary>
where
    I: Iterator<Item = Result<Parsed<OrderInput>, RowError>>,
{
    let mut summary = Summary {
        file: file.display().to_string(),
        kind,
        ..Default::default()
    };
    let mut batch: Vec<OrderInput> = Vec::with_capacity(BATCH);
    for row in rows {
        match row {
            Ok(Parsed { line, value }) => match value.validate() {
                Ok(()) => batch.push(value),
                Err(e) => summary.reject(line, Some(e.field.clone()), e.to_string()),
            },
            Err(e) => summary.reject(e.line, e.field, e.reason),
        }
        if batch.len() == BATCH {
            write_orders(db, store, &mut batch, &mut summary).await?;
        }
    }
    write_orders(db, store, &mut batch, &mut summary).await?;
    Ok(summary)
}

async fn write_orders(
    db: &Db,
    store: &StoreRecord,
    batch: &mut Vec<OrderInput>,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let written = db.upsert_orders(store, batch, "import").await?;
    for w in written {
        summary.count(w.outcome);
    }
    batch.clear();
    Ok(())
}
