//! Customers: identity resolution, merging what each source says, consent as append-only
//! events, and the per-customer order aggregates.

use std::collections::{BTreeMap, HashMap, HashSet};

use regulars_domain::{
    new_id, Birthday, ConsentChannel, CustomerId, CustomerInput, Email, FieldError, Locale, Money, Phone,
    Source, StoreId, Timestamp,
};
use sea_query::{Expr, Order, Query, SimpleExpr};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::analytics::{AnalyticsColumns, CustomerAnalytics, ANALYTICS_COLUMNS};
use crate::events::{insert_events, NewEvent};
use crate::schema::{ConsentEvents, CustomerIdentities, CustomerTags, Customers, Orders};
use crate::{json_text, parse_json, Db, Outcome, StoreError, Tx, CHUNK};

/// A customer as stored, with every source id they are known by.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerRecord {
    pub id: CustomerId,
    pub identities: Vec<Identity>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<Locale>,
    pub birthday: Option<Birthday>,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub note: Option<String>,
    pub acquisition_channel: Option<String>,
    pub acquisition_cost: Option<Money>,
    pub has_account: bool,
    /// Current consent per channel (`None`: never asked); the history is in consent events.
    pub consent: BTreeMap<&'static str, Option<bool>>,
    pub orders_count: i64,
    /// Net of refunds, cancelled orders excluded, in the store's currency only.
    pub total_spent_minor: i64,
    pub first_order_at: Option<Timestamp>,
    pub last_order_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// What the store's analytics say of them; `None` until a refit saw a purchase of theirs.
    pub analytics: Option<CustomerAnalytics>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    pub source: Source,
    pub external_id: String,
}

/// The stored row, column for column.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub(crate) struct CustomerRow {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub birthday: Option<String>,
    pub tags: String,
    pub attributes: String,
    pub note: Option<String>,
    pub acquisition_channel: Option<String>,
    pub acquisition_cost_minor: Option<i64>,
    pub acquisition_cost_currency: Option<String>,
    pub has_account: bool,
    pub consent_email: Option<bool>,
    pub consent_sms: Option<bool>,
    pub consent_whatsapp: Option<bool>,
    pub orders_count: i64,
    pub total_spent_minor: i64,
    pub first_order_at: Option<i64>,
    pub last_order_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const ROW_COLUMNS: [Customers; 23] = [
    Customers::Id,
    Customers::Email,
    Customers::Phone,
    Customers::FirstName,
    Customers::LastName,
    Customers::Locale,
    Customers::Birthday,
    Customers::Tags,
    Customers::Attributes,
    Customers::Note,
    Customers::AcquisitionChannel,
    Customers::AcquisitionCostMinor,
    Customers::AcquisitionCostCurrency,
    Customers::HasAccount,
    Customers::ConsentEmail,
    Customers::ConsentSms,
    Customers::ConsentWhatsapp,
    Customers::OrdersCount,
    Customers::TotalSpentMinor,
    Customers::FirstOrderAt,
    Customers::LastOrderAt,
    Customers::CreatedAt,
    Customers::UpdatedAt,
];

impl CustomerRow {
    fn values(&self) -> Vec<SimpleExpr> {
        vec![
            self.id.clone().into(),
            self.email.clone().into(),
            self.phone.clone().into(),
            self.first_name.clone().into(),
            self.last_name.clone().into(),
            self.locale.clone().into(),
            self.birthday.clone().into(),
            self.tags.clone().into(),
            self.attributes.clone().into(),
            self.note.clone().into(),
            self.acquisition_channel.clone().into(),
            self.acquisition_cost_minor.into(),
            self.acquisition_cost_currency.clone().into(),
            self.has_account.into(),
            self.consent_email.into(),
            self.consent_sms.into(),
            self.consent_whatsapp.into(),
            self.orders_count.into(),
            self.total_spent_minor.into(),
            self.first_order_at.into(),
            self.last_order_at.into(),
            self.created_at.into(),
            self.updated_at.into(),
        ]
    }

    fn consent(&self, channel: ConsentChannel) -> Option<bool> {
        match channel {
            ConsentChannel::Email => self.consent_email,
            ConsentChannel::Sms => self.consent_sms,
            ConsentChannel::Whatsapp => self.consent_whatsapp,
        }
    }

    fn set_consent(&mut self, channel: ConsentChannel, granted: bool) {
        let slot = match channel {
            ConsentChannel::Email => &mut self.consent_email,
            ConsentChannel::Sms => &mut self.consent_sms,
            ConsentChannel::Whatsapp => &mut self.consent_whatsapp,
        };
        *slot = Some(granted);
    }

    fn new(created_at: i64) -> Self {
        CustomerRow {
            id: new_id().to_string(),
            email: None,
            phone: None,
            first_name: None,
            last_name: None,
            locale: None,
            birthday: None,
            tags: "[]".into(),
            attributes: "{}".into(),
            note: None,
            acquisition_channel: None,
            acquisition_cost_minor: None,
            acquisition_cost_currency: None,
            has_account: false,
            consent_email: None,
            consent_sms: None,
            consent_whatsapp: None,
            orders_count: 0,
            total_spent_minor: 0,
            first_order_at: None,
            last_order_at: None,
            created_at,
            updated_at: created_at,
        }
    }

    /// Applies what the input says; fields it leaves `None` keep their stored value.
    fn merge(&mut self, input: &CustomerInput) -> Result<(), StoreError> {
        fn set<T: Clone>(slot: &mut Option<T>, value: &Option<T>) {
            if value.is_some() {
                slot.clone_from(value);
            }
        }
        set(
            &mut self.email,
            &input.email.as_ref().map(|e| e.as_str().to_string()),
        );
        set(
            &mut self.phone,
            &input.phone.as_ref().map(|p| p.as_str().to_string()),
        );
        set(&mut self.first_name, &input.first_name);
        set(&mut self.last_name, &input.last_name);
        set(
            &mut self.locale,
            &input.locale.as_ref().map(|l| l.as_str().to_string()),
        );
        set(&mut self.birthday, &input.birthday.map(|b| b.to_iso()));
        set(&mut self.note, &input.note);
        set(&mut self.acquisition_channel, &input.acquisition_channel);
        if let Some(cost) = input.acquisition_cost {
            self.acquisition_cost_minor = Some(cost.minor);
            self.acquisition_cost_currency = Some(cost.currency.code().to_string());
        }
        // Once someone has an account, a later guest checkout does not make them a guest.
        self.has_account |= input.has_account == Some(true);
        if let Some(tags) = &input.tags {
            self.tags = json_text(tags);
        }
        if !input.attributes.is_empty() {
            let mut attrs: BTreeMap<String, serde_json::Value> = parse_json(&self.attributes, "attributes")?;
            attrs.extend(input.attributes.iter().map(|(k, v)| (k.clone(), v.clone())));
            self.attributes = json_text(&attrs);
        }
        if let Some(created) = input.created_at {
            self.created_at = self.created_at.min(created.0);
        }
        Ok(())
    }

    pub(crate) fn into_record(self, identities: Vec<Identity>) -> Result<CustomerRecord, StoreError> {
        let corrupt = |e: FieldError| StoreError::Corrupt(format!("customer {}: {e}", self.id));
        let acquisition_cost = match (self.acquisition_cost_minor, &self.acquisition_cost_currency) {
            (Some(minor), Some(cur)) => Some(Money::new(
                minor,
                regulars_domain::Currency::parse(cur).map_err(corrupt)?,
            )),
            _ => None,
        };
        let consent = [
            (ConsentChannel::Email, self.consent_email),
            (ConsentChannel::Sms, self.consent_sms),
            (ConsentChannel::Whatsapp, self.consent_whatsapp),
        ]
        .into_iter()
        .map(|(c, v)| (c.as_str(), v))
        .collect();
        Ok(CustomerRecord {
            id: CustomerId::parse(&self.id).map_err(corrupt)?,
            identities,
            email: self
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(corrupt)?,
            phone: self
                .phone
                .as_deref()
                .map(Phone::parse)
                .transpose()
                .map_err(corrupt)?,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            locale: self
                .locale
                .as_deref()
                .map(Locale::parse)
                .transpose()
                .map_err(corrupt)?,
            birthday: self
                .birthday
                .as_deref()
                .map(Birthday::parse)
                .transpose()
                .map_err(corrupt)?,
            tags: parse_json(&self.tags, "tags")?,
            attributes: parse_json(&self.attributes, "attributes")?,
            note: self.note.clone(),
            acquisition_channel: self.acquisition_channel.clone(),
            acquisition_cost,
            has_account: self.has_account,
            consent,
            orders_count: self.orders_count,
            total_spent_minor: self.total_spent_minor,
            first_order_at: self.first_order_at.map(Timestamp),
            last_order_at: self.last_order_at.map(Timestamp),
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            analytics: None,
        })
    }
}

/// A stored customer as read for showing: the row and its analytics fields.
#[derive(sqlx::FromRow)]
struct ReadRow {
    #[sqlx(flatten)]
    row: CustomerRow,
    #[sqlx(flatten)]
    analytics: AnalyticsColumns,
}

impl ReadRow {
    fn into_record(self, identities: Vec<Identity>) -> Result<CustomerRecord, StoreError> {
        let mut record = self.row.into_record(identities)?;
        record.analytics = self.analytics.into_analytics();
        Ok(record)
    }
}

/// One customer being resolved within a batch.
struct Working {
    row: CustomerRow,
    is_new: bool,
    dirty: bool,
    /// The tags as stored before this batch, to rewrite `customer_tags` only when they change.
    stored_tags: String,
}

/// A name folded for prefix search: full Unicode lowercase (SQL's lower() folds ASCII only)
/// with runs of spaces made one. `None` when there is no name to search.
pub(crate) fn search_key(parts: &[Option<&str>]) -> Option<String> {
    let joined = parts
        .iter()
        .flatten()
        .flat_map(|p| p.split_whitespace())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (!joined.is_empty()).then_some(joined)
}

impl CustomerRow {
    /// The columns derived from the row for search: the whole name, and the surname alone.
    fn search_values(&self) -> [SimpleExpr; 2] {
        [
            search_key(&[self.first_name.as_deref(), self.last_name.as_deref()]).into(),
            search_key(&[self.last_name.as_deref()]).into(),
        ]
    }

    fn tag_list(&self) -> Result<Vec<String>, StoreError> {
        let mut tags: Vec<String> = parse_json(&self.tags, "tags")?;
        tags.sort();
        tags.dedup();
        Ok(tags)
    }
}

/// Rewrites the tag index rows of these customers from their tags.
pub(crate) async fn write_tag_rows(
    tx: &mut Tx,
    store: StoreId,
    customers: &[(&str, Vec<String>)],
    replace: bool,
) -> Result<(), StoreError> {
    let store_key = store.to_string();
    if replace {
        for chunk in customers.chunks(CHUNK) {
            let q = Query::delete()
                .from_table(CustomerTags::Table)
                .and_where(Expr::col(CustomerTags::StoreId).eq(store_key.as_str()))
                .and_where(Expr::col(CustomerTags::CustomerId).is_in(chunk.iter().map(|(id, _)| *id)))
                .to_owned();
            tx.execute(&q).await?;
        }
    }
    let rows: Vec<[SimpleExpr; 3]> = customers
        .iter()
        .flat_map(|(id, tags)| {
            tags.iter()
                .map(|t| [store_key.clone().into(), t.clone().into(), (*id).into()])
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(CustomerTags::Table).columns([
            CustomerTags::StoreId,
            CustomerTags::Tag,
            CustomerTags::CustomerId,
        ]);
        for row in chunk {
            q.values_panic(row.clone());
        }
        tx.execute(&q).await?;
    }
    Ok(())
}

/// The SHA-256 of the notice text a customer agreed to, kept with the consent event (RELIABILITY
/// P1): proof of what was shown without storing every version's text again.
pub(crate) fn notice_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Creates or updates customers in one pass, in input order. A customer is found by a source id
/// first, then by email, then by phone; a new source id for a known person is added to them.
/// Returns each input's customer id and what happened to it.
pub(crate) async fn upsert_customers(
    tx: &mut Tx,
    store: StoreId,
    inputs: &[(Source, &CustomerInput)],
    now: Timestamp,
    actor: &str,
    pinned: Option<CustomerId>,
) -> Result<Vec<(CustomerId, Outcome)>, StoreError> {
    let store_key = store.to_string();

    // 1. Look everything up in as few queries as possible.
    let mut by_identity: HashMap<(Source, String), String> = HashMap::new();
    let mut by_source: HashMap<Source, Vec<String>> = HashMap::new();
    for (source, input) in inputs {
        if let Some(ext) = &input.external_id {
            by_source.entry(*source).or_default().push(ext.clone());
        }
    }
    for (source, ids) in &mut by_source {
        ids.sort();
        ids.dedup();
        for chunk in ids.chunks(CHUNK) {
            let q = Query::select()
                .columns([CustomerIdentities::ExternalId, CustomerIdentities::CustomerId])
                .from(CustomerIdentities::Table)
                .and_where(Expr::col(CustomerIdentities::StoreId).eq(store_key.as_str()))
                .and_where(Expr::col(CustomerIdentities::Source).eq(source.as_str()))
                .and_where(Expr::col(CustomerIdentities::ExternalId).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            let rows: Vec<(String, String)> = tx.fetch_all(&q).await?;
            by_identity.extend(rows.into_iter().map(|(ext, cid)| ((*source, ext), cid)));
        }
    }
    let unmatched = |input: &CustomerInput, source: &Source| {
        input
            .external_id
            .as_ref()
            .is_none_or(|ext| !by_identity.contains_key(&(*source, ext.clone())))
    };
    let emails: Vec<String> = inputs
        .iter()
        .filter(|(s, i)| unmatched(i, s))
        .filter_map(|(_, i)| i.email.as_ref().map(|e| e.as_str().to_string()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let phones: Vec<String> = inputs
        .iter()
        .filter(|(s, i)| unmatched(i, s) && i.email.is_none() && i.external_id.is_none())
        .filter_map(|(_, i)| i.phone.as_ref().map(|p| p.as_str().to_string()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut by_email: HashMap<String, String> = HashMap::new();
    let mut by_phone: HashMap<String, String> = HashMap::new();
    for (column, values, map) in [
        (Customers::Email, &emails, &mut by_email),
        (Customers::Phone, &phones, &mut by_phone),
    ] {
        for chunk in values.chunks(CHUNK) {
            // No ORDER BY: it would lead SQLite to walk the store by creation time instead of
            // seeking each address. The oldest customer is picked here instead.
            let q = Query::select()
                .columns([column, Customers::CreatedAt, Customers::Id])
                .from(Customers::Table)
                .and_where(Expr::col(Customers::StoreId).eq(store_key.as_str()))
                .and_where(Expr::col(column).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            let mut rows: Vec<(String, i64, String)> = tx.fetch_all(&q).await?;
            rows.sort_by(|a, b| (a.1, &a.2).cmp(&(b.1, &b.2)));
            for (value, _, id) in rows {
                map.entry(value).or_insert(id); // the oldest customer with that address wins
            }
        }
    }
    let wanted: Vec<String> = by_identity
        .values()
        .chain(by_email.values())
        .chain(by_phone.values())
        .cloned()
        .chain(pinned.map(|p| p.to_string()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut working: Vec<Working> = Vec::with_capacity(inputs.len());
    let mut index_of: HashMap<String, usize> = HashMap::new();
    for chunk in wanted.chunks(CHUNK) {
        let rows: Vec<CustomerRow> = tx
            .fetch_all(
                &select_rows(store)
                    .and_where(Expr::col(Customers::Id).is_in(chunk.iter().map(String::as_str)))
                    .to_owned(),
            )
            .await?;
        for row in rows {
            index_of.insert(row.id.clone(), working.len());
            working.push(Working {
                stored_tags: row.tags.clone(),
                row,
                is_new: false,
                dirty: false,
            });
        }
    }

    // 2. Resolve and merge in input order, so later inputs see earlier ones of the same batch.
    let mut identities_new: Vec<(Source, String, String)> = Vec::new();
    let mut consent_rows: Vec<Vec<SimpleExpr>> = Vec::new();
    let mut timeline: Vec<NewEvent> = Vec::new();
    let mut results = Vec::with_capacity(inputs.len());
    for (source, input) in inputs {
        let found = pinned
            .map(|p| p.to_string())
            .as_ref()
            .or(input
                .external_id
                .as_ref()
                .and_then(|ext| by_identity.get(&(*source, ext.clone()))))
            .or_else(|| input.email.as_ref().and_then(|e| by_email.get(e.as_str())))
            // A phone is shared too often (families, shops' placeholder numbers) to merge
            // customers who bring an id or an email of their own.
            .or_else(|| {
                let anonymous = input.external_id.is_none() && input.email.is_none();
                input
                    .phone
                    .as_ref()
                    .filter(|_| anonymous)
                    .and_then(|p| by_phone.get(p.as_str()))
            })
            .and_then(|id| index_of.get(id).copied());
        let (idx, created) = match found {
            Some(idx) => (idx, false),
            None => {
                let created_at = input.created_at.unwrap_or(now).0;
                let row = CustomerRow::new(created_at);
                index_of.insert(row.id.clone(), working.len());
                working.push(Working {
                    stored_tags: row.tags.clone(),
                    row,
                    is_new: true,
                    dirty: false,
                });
                (working.len() - 1, true)
            }
        };
        let w = &mut working[idx];
        let before = w.row.clone();
        w.row.merge(input)?;
        let mut changed = w.row != before;

        if let Some(ext) = &input.external_id {
            if by_identity
                .insert((*source, ext.clone()), w.row.id.clone())
                .is_none()
            {
                identities_new.push((*source, ext.clone(), w.row.id.clone()));
                changed = true;
            }
        }
        if let Some(e) = &input.email {
            by_email
                .entry(e.as_str().to_string())
                .or_insert_with(|| w.row.id.clone());
        }
        if let Some(p) = &input.phone {
            by_phone
                .entry(p.as_str().to_string())
                .or_insert_with(|| w.row.id.clone());
        }
        for change in &input.consents {
            if w.row.consent(change.channel) == Some(change.granted) {
                continue;
            }
            w.row.set_consent(change.channel, change.granted);
            changed = true;
            let at = change.at.unwrap_or(now);
            let event_id = new_id().to_string();
            consent_rows.push(vec![
                event_id.clone().into(),
                store_key.clone().into(),
                w.row.id.clone().into(),
                change.channel.as_str().into(),
                change.granted.into(),
                at.0.into(),
                now.0.into(),
                change.collected_via.clone().into(),
                change.notice_version.clone().into(),
                change.notice_text.as_deref().map(notice_hash).into(),
                change.language.as_ref().map(|l| l.as_str().to_string()).into(),
                change.ip.clone().into(),
                change.user_agent.clone().into(),
                actor.into(),
            ]);
            timeline.push(NewEvent {
                customer_id: Some(w.row.id.clone()),
                kind: "consent_changed",
                name: None,
                occurred_at: at,
                dedupe_key: format!("consent:{event_id}"),
                data: serde_json::json!({
                    "channel": change.channel.as_str(),
                    "granted": change.granted,
                    "collected_via": change.collected_via,
                }),
            });
        }
        if changed && !w.is_new {
            w.dirty = true;
            w.row.updated_at = now.0;
        }
        let id = CustomerId::parse(&w.row.id).expect("ids we generate parse");
        let outcome = match (created, changed) {
            (true, _) => Outcome::Created,
            (false, true) => Outcome::Updated,
            (false, false) => Outcome::Unchanged,
        };
        results.push((id, outcome));
    }

    // 3. Write: new rows in bulk, changed rows one by one (rare on re-imports), then the
    //    identities and the consent history.
    let new_rows: Vec<&CustomerRow> = working.iter().filter(|w| w.is_new).map(|w| &w.row).collect();
    for chunk in new_rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(Customers::Table).columns(
            std::iter::once(Customers::StoreId)
                .chain(ROW_COLUMNS)
                .chain([Customers::NameKey, Customers::SurnameKey]),
        );
        for row in chunk {
            let mut values = vec![SimpleExpr::from(store_key.clone())];
            values.extend(row.values());
            values.extend(row.search_values());
            q.values_panic(values);
        }
        tx.execute(&q).await?;
    }
    let mut new_tags = Vec::new();
    for row in &new_rows {
        let tags = row.tag_list()?;
        if !tags.is_empty() {
            new_tags.push((row.id.as_str(), tags));
        }
    }
    write_tag_rows(tx, store, &new_tags, false).await?;
    let mut changed_tags = Vec::new();
    for w in working.iter().filter(|w| w.dirty) {
        let mut q = Query::update();
        q.table(Customers::Table);
        for (col, value) in ROW_COLUMNS.iter().zip(w.row.values()).skip(1) {
            q.value(*col, value);
        }
        let [name_key, surname_key] = w.row.search_values();
        q.value(Customers::NameKey, name_key)
            .value(Customers::SurnameKey, surname_key);
        q.and_where(Expr::col(Customers::Id).eq(w.row.id.as_str()));
        q.and_where(Expr::col(Customers::StoreId).eq(store_key.as_str()));
        tx.execute(&q).await?;
        if w.row.tags != w.stored_tags {
            changed_tags.push((w.row.id.as_str(), w.row.tag_list()?));
        }
    }
    write_tag_rows(tx, store, &changed_tags, true).await?;
    for chunk in identities_new.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(CustomerIdentities::Table).columns([
            CustomerIdentities::StoreId,
            CustomerIdentities::Source,
            CustomerIdentities::ExternalId,
            CustomerIdentities::CustomerId,
        ]);
        for (source, ext, cid) in chunk {
            q.values_panic([
                store_key.clone().into(),
                source.as_str().into(),
                ext.clone().into(),
                cid.clone().into(),
            ]);
        }
        tx.execute(&q).await?;
    }
    for chunk in consent_rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(ConsentEvents::Table).columns([
            ConsentEvents::Id,
            ConsentEvents::StoreId,
            ConsentEvents::CustomerId,
            ConsentEvents::Channel,
            ConsentEvents::Granted,
            ConsentEvents::OccurredAt,
            ConsentEvents::RecordedAt,
            ConsentEvents::CollectedVia,
            ConsentEvents::NoticeVersion,
            ConsentEvents::NoticeHash,
            ConsentEvents::Language,
            ConsentEvents::Ip,
            ConsentEvents::UserAgent,
            ConsentEvents::Actor,
        ]);
        for row in chunk {
            q.values_panic(row.clone());
        }
        tx.execute(&q).await?;
    }
    insert_events(tx, store, &timeline, now).await?;
    Ok(results)
}

fn select_rows(store: StoreId) -> sea_query::SelectStatement {
    Query::select()
        .columns(ROW_COLUMNS)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
        .to_owned()
}

/// [`select_rows`] with the analytics fields, for [`ReadRow`].
fn select_read_rows(store: StoreId) -> sea_query::SelectStatement {
    select_rows(store).columns(ANALYTICS_COLUMNS).to_owned()
}

/// Recomputes order counts, net spend and first/last order time for these customers.
pub(crate) async fn refresh_aggregates(
    tx: &mut Tx,
    store: StoreId,
    currency: &str,
    customers: &HashSet<String>,
) -> Result<(), StoreError> {
    let ids: Vec<&str> = customers.iter().map(String::as_str).collect();
    let counts_before = crate::rollups::customer_figures(tx, store, &ids).await?;
    for chunk in ids.chunks(CHUNK) {
        let counted = || {
            Query::select()
                .from(Orders::Table)
                .and_where(
                    Expr::col((Orders::Table, Orders::CustomerId)).equals((Customers::Table, Customers::Id)),
                )
                .and_where(Expr::col((Orders::Table, Orders::Status)).ne("cancelled"))
                .to_owned()
        };
        let q = Query::update()
            .table(Customers::Table)
            .value(
                Customers::OrdersCount,
                crate::scalar(counted().expr(Expr::col(Orders::Id).count()).take()),
            )
            .value(
                Customers::TotalSpentMinor,
                crate::scalar(
                    counted()
                        .expr(Expr::cust(
                            "COALESCE(SUM(orders.total - orders.refunded_total), 0)",
                        ))
                        .and_where(Expr::col((Orders::Table, Orders::Currency)).eq(currency))
                        .take(),
                ),
            )
            .value(
                Customers::FirstOrderAt,
                crate::scalar(counted().expr(Expr::col(Orders::PlacedAt).min()).take()),
            )
            .value(
                Customers::LastOrderAt,
                crate::scalar(counted().expr(Expr::col(Orders::PlacedAt).max()).take()),
            )
            .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Customers::Id).is_in(chunk.iter().copied()))
            .to_owned();
        tx.execute(&q).await?;
    }
    let counts_after = crate::rollups::customer_figures(tx, store, &ids).await?;
    crate::rollups::apply_customer_changes(tx, store, &counts_before, &counts_after).await
}

/// Filters for listing customers; pagination by the opaque cursor of the last page.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub external_id: Option<String>,
    pub source: Option<Source>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    /// An RFM segment key (`champions`, `at_risk`, …).
    pub segment: Option<String>,
    /// VIPs only (`Some(true)`), or everyone else (`Some(false)`).
    pub vip: Option<bool>,
    pub after: Option<CustomerId>,
    pub limit: u64,
}

impl Db {
    pub async fn customer(&self, store: StoreId, id: CustomerId) -> Result<CustomerRecord, StoreError> {
        let q = select_read_rows(store)
            .and_where(Expr::col(Customers::Id).eq(id.to_string()))
            .to_owned();
        let row: ReadRow = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("customer"))?;
        let identities = self
            .identities(store, std::slice::from_ref(&row.row.id))
            .await?
            .remove(&row.row.id)
            .unwrap_or_default();
        row.into_record(identities)
    }

    pub async fn customers(
        &self,
        store: StoreId,
        filter: &CustomerFilter,
    ) -> Result<Vec<CustomerRecord>, StoreError> {
        let mut q = select_read_rows(store);
        if let Some(ext) = &filter.external_id {
            let mut sub = Query::select();
            sub.column(CustomerIdentities::CustomerId)
                .from(CustomerIdentities::Table)
                .and_where(Expr::col(CustomerIdentities::StoreId).eq(store.to_string()))
                .and_where(Expr::col(CustomerIdentities::ExternalId).eq(ext.as_str()));
            if let Some(source) = filter.source {
                sub.and_where(Expr::col(CustomerIdentities::Source).eq(source.as_str()));
            }
            q.and_where(Expr::col(Customers::Id).in_subquery(sub.to_owned()));
        }
        if let Some(email) = &filter.email {
            q.and_where(Expr::col(Customers::Email).eq(email.as_str()));
        }
        if let Some(phone) = &filter.phone {
            q.and_where(Expr::col(Customers::Phone).eq(phone.as_str()));
        }
        if let Some(segment) = &filter.segment {
            crate::analytics::check_segment(segment)?;
            q.and_where(Expr::col(Customers::RfmSegment).eq(segment.as_str()));
        }
        if let Some(vip) = filter.vip {
            q.and_where(Expr::col(Customers::Vip).eq(vip));
        }
        if let Some(after) = filter.after {
            q.and_where(Expr::col(Customers::Id).gt(after.to_string()));
        }
        q.order_by(Customers::Id, Order::Asc)
            .limit(filter.limit.clamp(1, 1000));
        let rows: Vec<ReadRow> = self.fetch_all(&q).await?;
        self.records(store, rows).await
    }

    /// These customers of the store, in the order given (ids of no customer of the store are
    /// left out).
    pub async fn customers_by_ids(
        &self,
        store: StoreId,
        ids: &[CustomerId],
    ) -> Result<Vec<CustomerRecord>, StoreError> {
        let keys: Vec<String> = ids.iter().map(CustomerId::to_string).collect();
        let mut rows: Vec<ReadRow> = Vec::with_capacity(ids.len());
        for chunk in keys.chunks(CHUNK) {
            let q = select_read_rows(store)
                .and_where(Expr::col(Customers::Id).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            rows.extend(self.fetch_all::<ReadRow>(&q).await?);
        }
        let position: HashMap<&str, usize> = keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
        rows.sort_by_key(|r| position.get(r.row.id.as_str()).copied());
        self.records(store, rows).await
    }

    async fn records(&self, store: StoreId, rows: Vec<ReadRow>) -> Result<Vec<CustomerRecord>, StoreError> {
        let ids: Vec<String> = rows.iter().map(|r| r.row.id.clone()).collect();
        let mut identities = self.identities(store, &ids).await?;
        rows.into_iter()
            .map(|r| {
                let ids = identities.remove(&r.row.id).unwrap_or_default();
                r.into_record(ids)
            })
            .collect()
    }

    async fn identities(
        &self,
        store: StoreId,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<Identity>>, StoreError> {
        let mut out: HashMap<String, Vec<Identity>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let q = Query::select()
                .columns([
                    CustomerIdentities::CustomerId,
                    CustomerIdentities::Source,
                    CustomerIdentities::ExternalId,
                ])
                .from(CustomerIdentities::Table)
                .and_where(Expr::col(CustomerIdentities::StoreId).eq(store.to_string()))
                .and_where(Expr::col(CustomerIdentities::CustomerId).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            let mut rows: Vec<(String, String, String)> = self.fetch_all(&q).await?;
            // Sorted here, not in SQL: an ORDER BY would walk the store's identities in key order.
            rows.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
            for (cid, source, external_id) in rows {
                let source = Source::parse(&source).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                out.entry(cid).or_default().push(Identity { source, external_id });
            }
        }
        Ok(out)
    }

    /// Creates or updates one customer (API, webhooks).
    pub async fn upsert_customer(
        &self,
        store: StoreId,
        source: Source,
        input: &CustomerInput,
        actor: &str,
    ) -> Result<(CustomerId, Outcome), StoreError> {
        let mut tx = self.begin().await?;
        let out = Tx::upsert_customer(&mut tx, store, source, input, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The full consent history of one customer, oldest first.
    pub async fn consent_history(
        &self,
        store: StoreId,
        customer: CustomerId,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            channel: String,
            granted: bool,
            occurred_at: i64,
            recorded_at: i64,
            collected_via: String,
            notice_version: Option<String>,
            notice_hash: Option<String>,
            language: Option<String>,
            actor: String,
        }
        let q = Query::select()
            .columns([
                ConsentEvents::Channel,
                ConsentEvents::Granted,
                ConsentEvents::OccurredAt,
                ConsentEvents::RecordedAt,
                ConsentEvents::CollectedVia,
                ConsentEvents::NoticeVersion,
                ConsentEvents::NoticeHash,
                ConsentEvents::Language,
                ConsentEvents::Actor,
            ])
            .from(ConsentEvents::Table)
            .and_where(Expr::col(ConsentEvents::StoreId).eq(store.to_string()))
            .and_where(Expr::col(ConsentEvents::CustomerId).eq(customer.to_string()))
            .order_by(ConsentEvents::OccurredAt, Order::Asc)
            .order_by(ConsentEvents::Id, Order::Asc)
            .to_owned();
        let rows: Vec<Row> = self.fetch_all(&q).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "channel": r.channel,
                    "granted": r.granted,
                    "occurred_at": Timestamp(r.occurred_at).to_rfc3339(),
                    "recorded_at": Timestamp(r.recorded_at).to_rfc3339(),
                    "collected_via": r.collected_via,
                    "notice_version": r.notice_version,
                    "notice_hash": r.notice_hash,
                    "language": r.language,
                    "actor": r.actor,
                })
            })
            .collect())
    }
}

impl Tx {
    pub async fn upsert_customer(
        &mut self,
        store: StoreId,
        source: Source,
        input: &CustomerInput,
        actor: &str,
    ) -> Result<(CustomerId, Outcome), StoreError> {
        input.validate()?;
        if input.is_anonymous() {
            return Err(FieldError::new(
                "customer",
                "unidentified_customer",
                "a customer needs an external_id, an email or a phone",
            )
            .into());
        }
        self.lock_store(store).await?;
        let mut out =
            upsert_customers(self, store, &[(source, input)], Timestamp::now(), actor, None).await?;
        Ok(out.remove(0))
    }

    /// Customers in bulk (imports): one lookup and one insert per chunk instead of per row.
    pub async fn upsert_customers(
        &mut self,
        store: StoreId,
        inputs: &[(Source, &CustomerInput)],
        actor: &str,
    ) -> Result<Vec<(CustomerId, Outcome)>, StoreError> {
        self.lock_store(store).await?;
        if inputs.len() >= crate::BULK {
            self.refresh_statistics_if_grown().await?;
        }
        upsert_customers(self, store, inputs, Timestamp::now(), actor, None).await
    }

    /// Applies a partial update to the customer with this id (fields left `None` are kept).
    pub async fn update_customer(
        &mut self,
        store: StoreId,
        id: CustomerId,
        source: Source,
        input: &CustomerInput,
        actor: &str,
    ) -> Result<Outcome, StoreError> {
        input.validate()?;
        self.lock_store(store).await?;
        let q = select_rows(store)
            .and_where(Expr::col(Customers::Id).eq(id.to_string()))
            .to_owned();
        if self.fetch_optional::<CustomerRow>(&q).await?.is_none() {
            return Err(StoreError::NotFound("customer"));
        }
        if let Some(ext) = &input.external_id {
            let owner = Query::select()
                .column(CustomerIdentities::CustomerId)
                .from(CustomerIdentities::Table)
                .and_where(Expr::col(CustomerIdentities::StoreId).eq(store.to_string()))
                .and_where(Expr::col(CustomerIdentities::Source).eq(source.as_str()))
                .and_where(Expr::col(CustomerIdentities::ExternalId).eq(ext.as_str()))
                .to_owned();
            if let Some((other,)) = self.fetch_optional::<(String,)>(&owner).await? {
                if other != id.to_string() {
                    return Err(FieldError::new(
                        "external_id",
                        "external_id_taken",
                        "another customer already has this external_id",
                    )
                    .into());
                }
            }
        }
        let mut out =
            upsert_customers(self, store, &[(source, input)], Timestamp::now(), actor, Some(id)).await?;
        Ok(out.remove(0).1)
    }
}
