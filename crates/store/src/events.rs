//! The customer timeline: one row per thing that happened, deduplicated by a stable key so a
//! replayed webhook or import never adds the same event twice.

use std::collections::HashSet;

use regulars_domain::{new_id, CustomerId, CustomerInput, EventInput, Source, StoreId, Timestamp};
use sea_query::{Expr, OnConflict, Order, Query};
use serde::Serialize;

use crate::schema::Events;
use crate::{json_text, parse_json, Db, Outcome, StoreError, Tx, CHUNK};

pub(crate) struct NewEvent {
    pub customer_id: Option<String>,
    pub kind: &'static str,
    pub name: Option<String>,
    pub occurred_at: Timestamp,
    pub dedupe_key: String,
    pub data: serde_json::Value,
}

/// Inserts events, skipping any whose dedupe key is already stored. Returns how many were new.
pub(crate) async fn insert_events(
    tx: &mut Tx,
    store: StoreId,
    events: &[NewEvent],
    now: Timestamp,
) -> Result<u64, StoreError> {
    let mut inserted = 0;
    for chunk in events.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(Events::Table)
            .columns([
                Events::Id,
                Events::StoreId,
                Events::CustomerId,
                Events::Kind,
                Events::Name,
                Events::OccurredAt,
                Events::RecordedAt,
                Events::DedupeKey,
                Events::Data,
            ])
            .on_conflict(
                OnConflict::columns([Events::StoreId, Events::DedupeKey])
                    .do_nothing()
                    .to_owned(),
            );
        for e in chunk {
            q.values_panic([
                new_id().to_string().into(),
                store.to_string().into(),
                e.customer_id.clone().into(),
                e.kind.into(),
                e.name.clone().into(),
                e.occurred_at.0.into(),
                now.0.into(),
                e.dedupe_key.clone().into(),
                json_text(&e.data).into(),
            ]);
        }
        q.returning_col(Events::DedupeKey);
        // Only the events that are new here are announced to webhook endpoints.
        let new_keys: HashSet<String> = tx
            .fetch_all::<(String,)>(&q)
            .await?
            .into_iter()
            .map(|(k,)| k)
            .collect();
        inserted += new_keys.len() as u64;
        if !new_keys.is_empty() {
            let fresh: Vec<&NewEvent> = chunk
                .iter()
                .filter(|e| new_keys.contains(&e.dedupe_key))
                .collect();
            crate::outbound::enqueue_for_events(tx, store, &fresh).await?;
        }
    }
    Ok(inserted)
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub id: String,
    pub customer_id: Option<String>,
    pub kind: String,
    pub name: Option<String>,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    pub data: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    customer_id: Option<String>,
    kind: String,
    name: Option<String>,
    occurred_at: i64,
    recorded_at: i64,
    data: String,
}

#[derive(Debug, Clone, Default)]
pub struct TimelineQuery {
    pub kind: Option<String>,
    /// Newest first; `before` is the id of the last event of the previous page.
    pub before: Option<String>,
    pub limit: u64,
}

impl Db {
    /// A customer's timeline, newest first.
    pub async fn timeline(
        &self,
        store: StoreId,
        customer: CustomerId,
        query: &TimelineQuery,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let mut q = Query::select();
        q.columns([
            Events::Id,
            Events::CustomerId,
            Events::Kind,
            Events::Name,
            Events::OccurredAt,
            Events::RecordedAt,
            Events::Data,
        ])
        .from(Events::Table)
        .and_where(Expr::col(Events::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Events::CustomerId).eq(customer.to_string()));
        if let Some(kind) = &query.kind {
            q.and_where(Expr::col(Events::Kind).eq(kind.as_str()));
        }
        if let Some(before) = &query.before {
            let anchor = Query::select()
                .column(Events::OccurredAt)
                .from(Events::Table)
                .and_where(Expr::col(Events::Id).eq(before.as_str()))
                .and_where(Expr::col(Events::StoreId).eq(store.to_string()))
                .to_owned();
            q.and_where(
                Expr::tuple([Expr::col(Events::OccurredAt).into(), Expr::col(Events::Id).into()])
                    .lt(Expr::tuple([crate::scalar(anchor), before.as_str().into()])),
            );
        }
        q.order_by(Events::OccurredAt, Order::Desc)
            .order_by(Events::Id, Order::Desc)
            .limit(query.limit.clamp(1, 500));
        let rows: Vec<EventRow> = self.fetch_all(&q).await?;
        rows.into_iter()
            .map(|r| {
                Ok(EventRecord {
                    data: parse_json(&r.data, "event data")?,
                    id: r.id,
                    customer_id: r.customer_id,
                    kind: r.kind,
                    name: r.name,
                    occurred_at: Timestamp(r.occurred_at),
                    recorded_at: Timestamp(r.recorded_at),
                })
            })
            .collect()
    }
}

impl Db {
    /// Records a custom event in its own transaction; see [`Tx::record_event`].
    pub async fn record_event(
        &self,
        store: StoreId,
        source: Source,
        customer: &CustomerInput,
        event: &EventInput,
        actor: &str,
    ) -> Result<(CustomerId, Outcome), StoreError> {
        let mut tx = self.begin().await?;
        let out = tx.record_event(store, source, customer, event, actor).await?;
        tx.commit().await?;
        Ok(out)
    }
}

impl Tx {
    /// Records a custom event on a customer's timeline (creating the customer if they are new).
    /// An event with the same `external_id` (or, without one, the same content) is stored once.
    pub async fn record_event(
        &mut self,
        store: StoreId,
        source: Source,
        customer: &CustomerInput,
        event: &EventInput,
        actor: &str,
    ) -> Result<(CustomerId, Outcome), StoreError> {
        event.validate()?;
        let (customer_id, _) = self.upsert_customer(store, source, customer, actor).await?;
        let dedupe_key = match &event.external_id {
            Some(ext) => format!("custom:{source}:{ext}"),
            None => format!(
                "custom:{}",
                regulars_domain::fingerprint(&(
                    customer_id,
                    &event.name,
                    event.occurred_at,
                    &event.properties
                ))
            ),
        };
        let new = NewEvent {
            customer_id: Some(customer_id.to_string()),
            kind: "custom",
            name: Some(event.name.trim().to_string()),
            occurred_at: event.occurred_at,
            dedupe_key,
            data: event.properties.clone(),
        };
        let inserted = insert_events(self, store, &[new], Timestamp::now()).await?;
        Ok((
            customer_id,
            if inserted == 1 {
                Outcome::Created
            } else {
                Outcome::Unchanged
            },
        ))
    }
}
