//! What the team adds to a customer: tags, notes and an account manager, each change also
//! written to the customer's timeline with who made it.

use regulars_domain::{new_id, CustomerId, FieldError, StoreId, Timestamp, UserId};
use sea_query::{Expr, Order, Query};
use serde::Serialize;

use crate::customers::write_tag_rows;
use crate::events::{insert_events, NewEvent};
use crate::schema::{CustomerNotes, Customers, Memberships, Orders, Users};
use crate::{json_text, Db, OrderRecord, StoreError, Tx};

/// Longest tag, and most tags on one customer: tags are labels, not documents.
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_TAGS: usize = 50;
/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct NoteRecord {
    pub id: String,
    pub body: String,
    pub author_email: Option<String>,
    pub created_at: Timestamp,
}

/// Trims, drops empties and repeats (first spelling wins), and refuses what is too long.
pub fn clean_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(FieldError::new(
                "tags",
                "tag_too_long",
                format!("the tag {tag:?} is longer than {MAX_TAG_CHARS} characters"),
            ));
        }
        if !out.iter().any(|t| t == tag) {
            out.push(tag.to_string());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(FieldError::new(
            "tags",
            "too_many_tags",
            format!("a customer has at most {MAX_TAGS} tags, not {}", out.len()),
        ));
    }
    Ok(out)
}

impl Db {
    /// Replaces a customer's tags. `actor` names who did it, for the timeline.
    pub async fn set_customer_tags(
        &self,
        store: StoreId,
        customer: CustomerId,
        tags: &[String],
        actor: &str,
    ) -> Result<(), StoreError> {
        let tags = clean_tags(tags.iter().map(String::as_str))?;
        let mut tx = self.begin().await?;
        let before = current_tags(&mut tx, store, customer).await?;
        if before == tags {
            return tx.rollback().await;
        }
        let now = Timestamp::now();
        let q = Query::update()
            .table(Customers::Table)
            .value(Customers::Tags, json_text(&tags))
            .value(Customers::UpdatedAt, now.0)
            .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Customers::Id).eq(customer.to_string()))
            .to_owned();
        tx.execute(&q).await?;
        let id = customer.to_string();
        write_tag_rows(&mut tx, store, &[(id.as_str(), tags.clone())], true).await?;
        let event = NewEvent {
            customer_id: Some(id),
            kind: "tags_changed",
            name: None,
            occurred_at: now,
            dedupe_key: format!("tags:{}", new_id()),
            data: serde_json::json!({ "before": before, "after": tags, "actor": actor }),
        };
        insert_events(&mut tx, store, &[event], now).await?;
        tx.commit().await
    }

    /// Adds a staff note to a customer.
    pub async fn add_customer_note(
        &self,
        store: StoreId,
        customer: CustomerId,
        author: UserId,
        body: &str,
    ) -> Result<NoteRecord, StoreError> {
        let body = body.trim();
        if body.is_empty() {
            return Err(FieldError::new("body", "empty_note", "the note is empty").into());
        }
        if body.chars().count() > MAX_NOTE_CHARS {
            return Err(FieldError::new(
                "body",
                "note_too_long",
                format!("a note has at most {MAX_NOTE_CHARS} characters"),
            )
            .into());
        }
        let mut tx = self.begin().await?;
        current_tags(&mut tx, store, customer).await?; // the customer must exist in this store
        let now = Timestamp::now();
        let id = new_id().to_string();
        let q = Query::insert()
            .into_table(CustomerNotes::Table)
            .columns([
                CustomerNotes::Id,
                CustomerNotes::StoreId,
                CustomerNotes::CustomerId,
                CustomerNotes::AuthorId,
                CustomerNotes::Body,
                CustomerNotes::CreatedAt,
            ])
            .values_panic([
                id.clone().into(),
                store.to_string().into(),
                customer.to_string().into(),
                author.to_string().into(),
                body.into(),
                now.0.into(),
            ])
            .to_owned();
        tx.execute(&q).await?;
        let event = NewEvent {
            customer_id: Some(customer.to_string()),
            kind: "note_added",
            name: None,
            occurred_at: now,
            dedupe_key: format!("note:{id}"),
            data: serde_json::json!({ "note_id": id, "author_id": author.to_string() }),
        };
        insert_events(&mut tx, store, &[event], now).await?;
        tx.commit().await?;
        Ok(NoteRecord {
            id,
            body: body.to_string(),
            author_email: None,
            created_at: now,
        })
    }

    /// A customer's notes, newest first, with their authors.
    pub async fn customer_notes(
        &self,
        store: StoreId,
        customer: CustomerId,
    ) -> Result<Vec<NoteRecord>, StoreError> {
        let q = Query::select()
            .column((CustomerNotes::Table, CustomerNotes::Id))
            .column((CustomerNotes::Table, CustomerNotes::Body))
            .column((Users::Table, Users::Email))
            .column((CustomerNotes::Table, CustomerNotes::CreatedAt))
            .from(CustomerNotes::Table)
            .left_join(
                Users::Table,
                Expr::col((Users::Table, Users::Id)).equals((CustomerNotes::Table, CustomerNotes::AuthorId)),
            )
            .and_where(Expr::col((CustomerNotes::Table, CustomerNotes::StoreId)).eq(store.to_string()))
            .and_where(Expr::col((CustomerNotes::Table, CustomerNotes::CustomerId)).eq(customer.to_string()))
            .order_by((CustomerNotes::Table, CustomerNotes::CreatedAt), Order::Desc)
            .order_by((CustomerNotes::Table, CustomerNotes::Id), Order::Desc)
            .limit(200)
            .to_owned();
        let rows: Vec<(String, String, Option<String>, i64)> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|(id, body, author_email, at)| NoteRecord {
                id,
                body,
                author_email,
                created_at: Timestamp(at),
            })
            .collect())
    }

    /// The person who looks after this customer, if anyone does.
    pub async fn account_manager(
        &self,
        store: StoreId,
        customer: CustomerId,
    ) -> Result<Option<UserId>, StoreError> {
        let q = Query::select()
            .column(Customers::AccountManagerId)
            .from(Customers::Table)
            .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Customers::Id).eq(customer.to_string()))
            .to_owned();
        let (manager,): (Option<String>,) = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("customer"))?;
        manager
            .map(|m| UserId::parse(&m).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Gives a customer an account manager (a member of this store) or takes theirs away.
    pub async fn assign_account_manager(
        &self,
        store: StoreId,
        customer: CustomerId,
        manager: Option<UserId>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if let Some(m) = manager {
            let member = Query::select()
                .column(Memberships::UserId)
                .from(Memberships::Table)
                .and_where(Expr::col(Memberships::StoreId).eq(store.to_string()))
                .and_where(Expr::col(Memberships::UserId).eq(m.to_string()))
                .to_owned();
            if tx.fetch_optional::<(String,)>(&member).await?.is_none() {
                return Err(FieldError::new(
                    "account_manager",
                    "not_a_member",
                    "an account manager must be a person of this store",
                )
                .into());
            }
        }
        let current = Query::select()
            .column(Customers::AccountManagerId)
            .from(Customers::Table)
            .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Customers::Id).eq(customer.to_string()))
            .to_owned();
        let (before,): (Option<String>,) = tx
            .fetch_optional(&current)
            .await?
            .ok_or(StoreError::NotFound("customer"))?;
        let after = manager.map(|m| m.to_string());
        if before == after {
            return tx.rollback().await;
        }
        let now = Timestamp::now();
        let q = Query::update()
            .table(Customers::Table)
            .value(Customers::AccountManagerId, after.clone())
            .value(Customers::UpdatedAt, now.0)
            .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Customers::Id).eq(customer.to_string()))
            .to_owned();
        tx.execute(&q).await?;
        let event = NewEvent {
            customer_id: Some(customer.to_string()),
            kind: "account_manager_changed",
            name: None,
            occurred_at: now,
            dedupe_key: format!("manager:{}", new_id()),
            data: serde_json::json!({ "before": before, "after": after, "actor": actor }),
        };
        insert_events(&mut tx, store, &[event], now).await?;
        tx.commit().await
    }

    /// A customer's latest orders, newest first, with lines and refunds.
    pub async fn customer_orders(
        &self,
        store: StoreId,
        customer: CustomerId,
        limit: usize,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        // The customer's order ids and times come from the (store, customer) index; sorting a
        // few hundred here beats asking SQLite to order them.
        let q = Query::select()
            .columns([Orders::Id, Orders::PlacedAt])
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Orders::CustomerId).eq(customer.to_string()))
            .to_owned();
        let mut rows: Vec<(String, i64)> = self.fetch_all(&q).await?;
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
        rows.truncate(limit);
        let ids: Vec<String> = rows.into_iter().map(|(id, _)| id).collect();
        self.orders_by_ids(store, &ids).await
    }
}

/// The customer's stored tags; not found when the customer is not in this store.
async fn current_tags(tx: &mut Tx, store: StoreId, customer: CustomerId) -> Result<Vec<String>, StoreError> {
    let q = Query::select()
        .column(Customers::Tags)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Customers::Id).eq(customer.to_string()))
        .to_owned();
    let (tags,): (String,) = tx
        .fetch_optional(&q)
        .await?
        .ok_or(StoreError::NotFound("customer"))?;
    crate::parse_json(&tags, "tags")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        assert_eq!(
            clean_tags([" vip ", "", "vip", "दिवाली"]).unwrap(),
            ["vip", "दिवाली"]
        );
        let long = "x".repeat(MAX_TAG_CHARS + 1);
        assert_eq!(clean_tags([long.as_str()]).unwrap_err().code, "tag_too_long");
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
        assert_eq!(
            clean_tags(many.iter().map(String::as_str)).unwrap_err().code,
            "too_many_tags"
        );
    }
}
