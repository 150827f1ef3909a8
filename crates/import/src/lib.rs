//! Imports shop exports and transaction logs into a store, for the `regulars import` command and
//! the dashboard alike.
//!
//! A [`Plan`] checks the options before a row is read. [`run`] then streams any reader: rows
//! are parsed one at a time and written in batches, so memory stays flat whatever the file's
//! size; a batch commits atomically, so a crash loses at most the batch in flight, and running
//! the import again completes it (rows already stored come back `unchanged`). Every rejected
//! row is counted and reported with its line, field and reason; a [`Progress`] hears how far
//! the import has got after every batch.
//!
//! The future [`run`] returns is not `Send` (the CSV readers share a counter through an `Rc`):
//! await it where it was made, e.g. in `Handle::block_on` on a blocking thread.

mod options;

use std::fs::File;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::Path;

use regulars_domain::{CustomerInput, OrderInput, Source};
use regulars_ingest::csv::{
    Parsed, RowError, ShopifyCustomersReader, ShopifyOrdersReader, TransactionsReader,
};
use regulars_store::{Db, Outcome, StoreError, StoreRecord};
use serde::{Deserialize, Serialize};

use options::Reading;
pub use options::{Kind, OptionError, OptionField, Plan, TransactionSettings};

/// Rows written per transaction: large enough to amortise commits, small enough to keep
/// memory flat and SQLite's write lock short.
const BATCH: usize = 2_000;

/// What an import did, row by row.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub file: String,
    pub kind: String,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Every rejected row, including those beyond the ones kept in `rejections`.
    pub rejected: u64,
    pub rejections: Vec<Rejection>,
    /// Records read so far: customers, orders, transactions and rejected rows.
    #[serde(skip)]
    pub rows_read: u64,
}

/// A row that was not imported, and why. Nothing else was affected by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The line the row starts on (the header is line 1).
    pub line: u64,
    /// The column or field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

    fn reject(&mut self, keep: usize, line: u64, field: Option<String>, reason: String) {
        self.rejected += 1;
        if self.rejections.len() < keep {
            self.rejections.push(Rejection { line, field, reason });
        }
    }
}

/// Hears how far an import has got: after every batch written, every few thousand rows read,
/// and once at the end, with the summary so far (`rows_read` included).
pub trait Progress {
    fn report(&mut self, so_far: &Summary) -> impl Future<Output = ()>;
}

/// No one is listening.
impl Progress for () {
    async fn report(&mut self, _: &Summary) {}
}

/// Why an import stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// An option cannot work (checked before any row is written).
    #[error(transparent)]
    Option(#[from] OptionError),
    /// The database failed; the batches committed before stay.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A file, buffered for streaming.
pub fn open(path: &Path) -> std::io::Result<BufReader<File>> {
    let file = File::open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

/// Imports `input` into `store` as the plan says. `file` names the input in the summary.
pub async fn run<R: BufRead>(
    db: &Db,
    store: &StoreRecord,
    plan: &Plan,
    file: &str,
    input: R,
    progress: &mut impl Progress,
) -> Result<Summary, ImportError> {
    let mut summary = Summary {
        file: file.to_string(),
        kind: plan.kind().summary_kind().to_string(),
        ..Default::default()
    };
    let mut import = Import {
        db,
        store,
        keep: plan.keep_rejections,
        credit_points: plan.credit_points,
        summary: &mut summary,
        progress,
    };
    match &plan.reading {
        Reading::ShopifyCustomers => {
            import
                .customers(ShopifyCustomersReader::new(input, store.currency))
                .await?
        }
        Reading::ShopifyOrders => {
            import
                .orders(ShopifyOrdersReader::new(input, store.timezone.0))
                .await?
        }
        Reading::Transactions(options, currency) => {
            let currency = *currency;
            let rows = TransactionsReader::new(input, options.clone()).map_err(|e| plan.reader_error(e))?;
            let orders = rows.map(move |r| {
                r.map(|p| Parsed {
                    line: p.line,
                    value: p.value.into_order(currency),
                })
            });
            import.orders(orders).await?
        }
    }
    Ok(summary)
}

struct Import<'a, P> {
    db: &'a Db,
    store: &'a StoreRecord,
    keep: usize,
    credit_points: bool,
    summary: &'a mut Summary,
    progress: &'a mut P,
}

impl<P: Progress> Import<'_, P> {
    fn reject(&mut self, error: RowError) {
        self.summary
            .reject(self.keep, error.line, error.field, error.reason);
    }

    /// Counts a row read, and tells the listener every `BATCH` rows even when none are written
    /// (a file whose rows are all rejected still shows progress).
    async fn read_one(&mut self, wrote: bool) {
        self.summary.rows_read += 1;
        if wrote || self.summary.rows_read.is_multiple_of(BATCH as u64) {
            self.progress.report(self.summary).await;
        }
    }

    /// Customers (Shopify customer export).
    async fn customers<I>(&mut self, rows: I) -> Result<(), StoreError>
    where
        I: Iterator<Item = Result<Parsed<CustomerInput>, RowError>>,
    {
        let mut batch: Vec<CustomerInput> = Vec::with_capacity(BATCH);
        for row in rows {
            match row {
                Ok(Parsed { line, value }) => match value.validate() {
                    Ok(()) if value.is_anonymous() => self.summary.reject(
                        self.keep,
                        line,
                        None,
                        "the row has no customer id, email or phone to know the customer by".into(),
                    ),
                    Ok(()) => batch.push(value),
                    Err(e) => self
                        .summary
                        .reject(self.keep, line, Some(e.field.clone()), e.to_string()),
                },
                Err(e) => self.reject(e),
            }
            let full = batch.len() == BATCH;
            if full {
                self.write_customers(&mut batch).await?;
            }
            self.read_one(full).await;
        }
        self.write_customers(&mut batch).await?;
        self.progress.report(self.summary).await;
        Ok(())
    }

    async fn write_customers(&mut self, batch: &mut Vec<CustomerInput>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let inputs: Vec<(Source, &CustomerInput)> = batch
            .iter()
            .map(|c| (c.source.unwrap_or(Source::Shopify), c))
            .collect();
        let mut tx = self.db.begin().await?;
        let written = tx.upsert_customers(self.store.id, &inputs, "import").await?;
        tx.commit().await?;
        for (_, outcome) in written {
            self.summary.count(outcome);
        }
        batch.clear();
        Ok(())
    }

    /// Orders (Shopify orders export, transaction logs).
    async fn orders<I>(&mut self, rows: I) -> Result<(), StoreError>
    where
        I: Iterator<Item = Result<Parsed<OrderInput>, RowError>>,
    {
        let mut batch: Vec<OrderInput> = Vec::with_capacity(BATCH);
        for row in rows {
            match row {
                Ok(Parsed { line, value }) => match value.validate() {
                    Ok(()) => batch.push(value),
                    Err(e) => self
                        .summary
                        .reject(self.keep, line, Some(e.field.clone()), e.to_string()),
                },
                Err(e) => self.reject(e),
            }
            let full = batch.len() == BATCH;
            if full {
                self.write_orders(&mut batch).await?;
            }
            self.read_one(full).await;
        }
        self.write_orders(&mut batch).await?;
        self.progress.report(self.summary).await;
        Ok(())
    }

    async fn write_orders(&mut self, batch: &mut Vec<OrderInput>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let written = self
            .db
            .upsert_orders_crediting(self.store, batch, "import", self.credit_points)
            .await?;
        for w in written {
            self.summary.count(w.outcome);
        }
        batch.clear();
        Ok(())
    }
}
