//! One handle over both backends. Queries are built once with sea-query and rendered for the
//! backend in use; sqlx executes them. Only DDL (the two migration folders) differs.

use std::str::FromStr;
use std::time::Duration;

use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_binder::SqlxBinder;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{FromRow, Postgres, Sqlite, Transaction};

use crate::StoreError;

/// A row type readable from either backend (derive `sqlx::FromRow` with portable column types:
/// i64, String, bool, Option of those).
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database, selected by URL scheme: `sqlite://file.db` (default, embedded) or `postgres://…`.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

/// An open write transaction. On SQLite it was opened with `BEGIN IMMEDIATE`, so it holds the
/// write lock from the start and never fails with SQLITE_BUSY half-way through.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$sql`, `$values` rendered for the backend and `$exec` its executor.
macro_rules! on_backend {
    ($target:expr, $query:expr, |$sql:ident, $values:ident, $exec:ident| $body:expr) => {
        match $target {
            Target::Sqlite($exec) => {
                let ($sql, $values) = $query.build_sqlx(SqliteQueryBuilder);
                $body
            }
            Target::Pg($exec) => {
                let ($sql, $values) = $query.build_sqlx(PostgresQueryBuilder);
                $body
            }
        }
    };
}

/// The executor a query runs on: a pool or an open transaction.
enum Target<S, P> {
    Sqlite(S),
    Pg(P),
}

impl Db {
    /// A pool for a server: several readers beside the one writer.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        Db::connect_with_pool(url, 8).await
    }

    /// A pool of `connections` (a one-shot command such as an import needs one or two: every
    /// connection keeps its own page cache and prepared statements).
    pub async fn connect_with_pool(url: &str, connections: u32) -> Result<Db, StoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::BadUrl(format!("{url}: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Points and money are written here: every commit reaches the disk.
                .synchronous(SqliteSynchronous::Full)
                .pragma("cache_size", "-65536")
                // Batches prepare statements of many shapes; a short cache keeps memory flat.
                .statement_cache_capacity(32)
                .pragma("temp_store", "memory");
            let pool = SqlitePoolOptions::new()
                .max_connections(connections)
                .min_connections(1)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(connections * 2)
                .acquire_timeout(Duration::from_secs(30))
                .connect(url)
                .await?;
            Ok(Db::Pg(pool))
        } else {
            Err(StoreError::BadUrl(format!(
                "{url:?}: expected sqlite://FILE or postgres://USER@HOST/DB"
            )))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// Creates or upgrades the schema; safe to run at every start.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Pg(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Pg(pool) => Tx::Pg(pool.begin().await?),
        })
    }

    fn target(&self) -> Target<&SqlitePool, &PgPool> {
        match self {
            Db::Sqlite(p) => Target::Sqlite(p),
            Db::Pg(p) => Target::Pg(p),
        }
    }

    pub async fn fetch_all<T: Row>(&self, query: &impl SqlxBinder) -> Result<Vec<T>, StoreError> {
        Ok(on_backend!(self.target(), query, |sql, values, exec| {
            sqlx::query_as_with::<_, T, _>(&sql, values)
                .fetch_all(exec)
                .await?
        }))
    }

    pub async fn fetch_optional<T: Row>(&self, query: &impl SqlxBinder) -> Result<Option<T>, StoreError> {
        Ok(on_backend!(self.target(), query, |sql, values, exec| {
            sqlx::query_as_with::<_, T, _>(&sql, values)
                .fetch_optional(exec)
                .await?
        }))
    }

    pub async fn execute(&self, query: &impl SqlxBinder) -> Result<u64, StoreError> {
        Ok(on_backend!(self.target(), query, |sql, values, exec| {
            sqlx::query_with(&sql, values)
                .execute(exec)
                .await?
                .rows_affected()
        }))
    }

    /// `PRAGMA integrity_check` on SQLite; PostgreSQL has no equivalent and reports "ok".
    pub async fn integrity_check(&self) -> Result<String, StoreError> {
        match self {
            Db::Sqlite(pool) => Ok(sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(pool)
                .await?),
            Db::Pg(_) => Ok("ok".into()),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Pg(p) => p.close().await,
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Pg(_) => Backend::Postgres,
        }
    }

    fn target(&mut self) -> Target<&mut sqlx::SqliteConnection, &mut sqlx::PgConnection> {
        match self {
            Tx::Sqlite(t) => Target::Sqlite(&mut **t),
            Tx::Pg(t) => Target::Pg(&mut **t),
        }
    }

    pub async fn fetch_all<T: Row>(&mut self, query: &impl SqlxBinder) -> Result<Vec<T>, StoreError> {
        Ok(on_backend!(self.target(), query, |sql, values, exec| {
            sqlx::query_as_with::<_, T, _>(&sql, values)
                .fetch_all(exec)
                .await?
        }))
    }

    pub async fn fetch_optional<T: Row>(&mut self, query: &impl SqlxBinder) -> Result<Option<T>, StoreError> {
        Ok(on_backend!(self.target(), query, |sql, values, exec| {
            sqlx::query_as_with::<_, T, _>(&sql, values)
                .fetch_optional(exec)
                .await?
        }))
    }

    pub async fn execute(&mut self, query: &impl SqlxBinder) -> Result<u64, StoreError> {
        Ok(on_backend!(self.target(), query, |sql, values, exec| {
            sqlx::query_with(&sql, values)
                .execute(exec)
                .await?
                .rows_affected()
        }))
    }

    /// Brings PostgreSQL's statistics up to date for tables that doubled (and grew by 1,000
    /// rows) since they were last analyzed. Autovacuum looks at a database once a
    /// minute; a fresh store's first import outruns it, and the plans made while the tables
    /// were nearly empty then walk a whole store for every lookup by id (an import of 50,000
    /// orders ran at half speed). Bulk writers call this before each batch. SQLite plans
    /// without statistics and needs nothing. Best effort: a failure is logged, never returned.
    pub async fn refresh_statistics_if_grown(&mut self) -> Result<(), StoreError> {
        let Tx::Pg(t) = self else { return Ok(()) };
        let stale: Vec<(String,)> = sqlx::query_as(
            "SELECT relname::text FROM pg_stat_user_tables \
             WHERE schemaname = current_schema() \
               AND n_mod_since_analyze > 1000 \
               AND n_mod_since_analyze > 0.5 * greatest(n_live_tup, 1)",
        )
        .fetch_all(&mut **t)
        .await?;
        if stale.is_empty() {
            return Ok(());
        }
        let tables: Vec<String> = stale
            .iter()
            .map(|(name,)| format!("\"{}\"", name.replace('"', "\"\"")))
            .collect();
        // In a savepoint, so that a refusal leaves the batch's transaction usable; SKIP_LOCKED,
        // so that a writer never waits for another one's analyze; a small sample (3,000 rows a
        // table), since a lookup's plan needs the table's size more than its distributions, and
        // autovacuum's next analyze brings the full sample back.
        let mut savepoint = sqlx::Acquire::begin(&mut **t).await?;
        let analyze = format!("ANALYZE (SKIP_LOCKED) {}", tables.join(", "));
        let mut analyzed = Ok(());
        for statement in [
            "SET LOCAL default_statistics_target = 10",
            analyze.as_str(),
            "SET LOCAL default_statistics_target = DEFAULT",
        ] {
            analyzed = sqlx::query(statement).execute(&mut *savepoint).await.map(drop);
            if analyzed.is_err() {
                break;
            }
        }
        match analyzed {
            Ok(_) => savepoint.commit().await?,
            Err(e) => {
                tracing::warn!(error = %e, "could not refresh table statistics");
                savepoint.rollback().await?;
            }
        }
        Ok(())
    }

    /// Serialises writers of one store. SQLite already holds the database write lock; on
    /// PostgreSQL a transaction-scoped advisory lock keeps two processes from both creating the
    /// same customer or order (the unique keys would refuse one of them half-way).
    pub async fn lock_store(&mut self, store: regulars_domain::StoreId) -> Result<(), StoreError> {
        if let Tx::Pg(t) = self {
            let key = i64::from_be_bytes(store.0.as_bytes()[8..16].try_into().expect("8 bytes"));
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Pg(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Pg(t) => t.rollback().await?,
        }
        Ok(())
    }
}
