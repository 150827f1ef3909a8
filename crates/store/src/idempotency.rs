//! Idempotency keys, as Stripe does them: the first request with a key runs; its reply is
//! stored in the same transaction as its effects, and every retry with the key gets that reply.
//! A different request body under the same key is refused. The web layer claims keys inside
//! the request's transaction ([`Tx::claim_idempotency_key`]); the two-step [`Db`] claim, with
//! its in-flight state and takeover of abandoned claims, serves callers outside a transaction.

use regulars_domain::{StoreId, Timestamp};
use sea_query::{Expr, InsertStatement, OnConflict, Query, SelectStatement};

use crate::schema::IdempotencyKeys;
use crate::{Db, StoreError, Tx};

/// A claim older than this whose request never completed was cut short (its transaction never
/// committed, or the reply would be stored): a retry may take it over.
const ABANDONED_AFTER_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub status: u16,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request runs; finish with [`Tx::complete_idempotency_key`] or release the key.
    Owned,
    /// The key was used before with the same request: send this reply again.
    Replay(StoredReply),
    /// The first request with this key is still running.
    InFlight,
    /// The key was used with a different request.
    Mismatch,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    request_hash: String,
    state: String,
    response_status: Option<i64>,
    response_body: Option<String>,
    created_at: i64,
}

fn key_filter(q: &mut sea_query::UpdateStatement, store: StoreId, key: &str) {
    q.and_where(Expr::col(IdempotencyKeys::StoreId).eq(store.to_string()))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key));
}

/// Inserts the key unless it exists: `in_flight` without a reply, `done` with one.
fn insert_key(
    store: StoreId,
    key: &str,
    request_hash: &str,
    reply: Option<&StoredReply>,
    now: i64,
) -> InsertStatement {
    let (state, status, body, completed) = match reply {
        Some(r) => ("done", Some(i64::from(r.status)), Some(r.body.clone()), Some(now)),
        None => ("in_flight", None, None, None),
    };
    Query::insert()
        .into_table(IdempotencyKeys::Table)
        .columns([
            IdempotencyKeys::StoreId,
            IdempotencyKeys::Key,
            IdempotencyKeys::RequestHash,
            IdempotencyKeys::State,
            IdempotencyKeys::ResponseStatus,
            IdempotencyKeys::ResponseBody,
            IdempotencyKeys::CreatedAt,
            IdempotencyKeys::CompletedAt,
        ])
        .values_panic([
            store.to_string().into(),
            key.into(),
            request_hash.into(),
            state.into(),
            status.into(),
            body.into(),
            now.into(),
            completed.into(),
        ])
        .on_conflict(
            OnConflict::columns([IdempotencyKeys::StoreId, IdempotencyKeys::Key])
                .do_nothing()
                .to_owned(),
        )
        .to_owned()
}

fn select_key(store: StoreId, key: &str) -> SelectStatement {
    Query::select()
        .columns([
            IdempotencyKeys::RequestHash,
            IdempotencyKeys::State,
            IdempotencyKeys::ResponseStatus,
            IdempotencyKeys::ResponseBody,
            IdempotencyKeys::CreatedAt,
        ])
        .from(IdempotencyKeys::Table)
        .and_where(Expr::col(IdempotencyKeys::StoreId).eq(store.to_string()))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(key))
        .to_owned()
}

/// What an existing key answers: another request's key, or a finished reply; `None` for an
/// unfinished claim.
fn stored_answer(row: &KeyRow, request_hash: &str) -> Option<Claim> {
    if row.request_hash != request_hash {
        return Some(Claim::Mismatch);
    }
    match (row.state.as_str(), row.response_status, &row.response_body) {
        ("done", Some(status), Some(body)) => Some(Claim::Replay(StoredReply {
            status: status as u16,
            body: body.clone(),
        })),
        _ => None,
    }
}

impl Db {
    pub async fn claim_idempotency_key(
        &self,
        store: StoreId,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        let now = Timestamp::now().0;
        if self
            .execute(&insert_key(store, key, request_hash, None, now))
            .await?
            == 1
        {
            return Ok(Claim::Owned);
        }
        let Some(row) = self.fetch_optional::<KeyRow>(&select_key(store, key)).await? else {
            // Released between our insert and select: the caller may simply retry.
            return Ok(Claim::InFlight);
        };
        if let Some(answer) = stored_answer(&row, request_hash) {
            return Ok(answer);
        }
        if now - row.created_at <= ABANDONED_AFTER_MS {
            return Ok(Claim::InFlight);
        }
        let mut takeover = Query::update();
        takeover
            .table(IdempotencyKeys::Table)
            .value(IdempotencyKeys::CreatedAt, now);
        key_filter(&mut takeover, store, key);
        takeover
            .and_where(Expr::col(IdempotencyKeys::State).eq("in_flight"))
            .and_where(Expr::col(IdempotencyKeys::CreatedAt).eq(row.created_at));
        Ok(if self.execute(&takeover).await? == 1 {
            Claim::Owned
        } else {
            Claim::InFlight
        })
    }

    /// Gives the key back after a failure that should not be remembered (a server error), so a
    /// retry can run the request afresh.
    pub async fn release_idempotency_key(&self, store: StoreId, key: &str) -> Result<(), StoreError> {
        let q = Query::delete()
            .from_table(IdempotencyKeys::Table)
            .and_where(Expr::col(IdempotencyKeys::StoreId).eq(store.to_string()))
            .and_where(Expr::col(IdempotencyKeys::Key).eq(key))
            .and_where(Expr::col(IdempotencyKeys::State).eq("in_flight"))
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }

    /// Remembers a refusal under its key after the transaction that claimed the key was rolled
    /// back (a refusal writes nothing, but its retries must get the same answer).
    pub async fn store_idempotent_refusal(
        &self,
        store: StoreId,
        key: &str,
        request_hash: &str,
        reply: &StoredReply,
    ) -> Result<(), StoreError> {
        let q = insert_key(store, key, request_hash, Some(reply), Timestamp::now().0);
        self.execute(&q).await?;
        Ok(())
    }

    /// Stores a reply outside any business transaction (for refusals, which wrote nothing).
    pub async fn complete_idempotency_key(
        &self,
        store: StoreId,
        key: &str,
        reply: &StoredReply,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.complete_idempotency_key(store, key, reply).await?;
        tx.commit().await
    }
}

impl Tx {
    /// Claims a key inside the transaction that will hold the request's effects, so the claim,
    /// the effects and the stored reply commit together (one commit, one fsync) or not at all.
    /// A concurrent request with the same key waits for this transaction (SQLite's write lock,
    /// PostgreSQL's unique index) and then finds the stored reply.
    pub async fn claim_idempotency_key(
        &mut self,
        store: StoreId,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, StoreError> {
        let insert = insert_key(store, key, request_hash, None, Timestamp::now().0);
        if self.execute(&insert).await? == 1 {
            return Ok(Claim::Owned);
        }
        Ok(
            match self.fetch_optional::<KeyRow>(&select_key(store, key)).await? {
                Some(row) => stored_answer(&row, request_hash).unwrap_or(Claim::InFlight),
                // Gone between insert and select, or left unfinished by a two-step claim.
                None => Claim::InFlight,
            },
        )
    }

    /// Stores the reply in the transaction that holds the request's effects: both commit or
    /// neither does.
    pub async fn complete_idempotency_key(
        &mut self,
        store: StoreId,
        key: &str,
        reply: &StoredReply,
    ) -> Result<(), StoreError> {
        let mut q = Query::update();
        q.table(IdempotencyKeys::Table)
            .value(IdempotencyKeys::State, "done")
            .value(IdempotencyKeys::ResponseStatus, i64::from(reply.status))
            .value(IdempotencyKeys::ResponseBody, reply.body.clone())
            .value(IdempotencyKeys::CompletedAt, Timestamp::now().0);
        key_filter(&mut q, store, key);
        self.execute(&q).await?;
        Ok(())
    }
}
