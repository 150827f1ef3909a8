//! The customer directory: search, filters, sorts and keyset pagination over a store's
//! customers, fast at a million of them.
//!
//! Two plans answer a page. Without a narrowing term, SQL walks the index of the chosen sort
//! and filters as it goes (customers without a value for the sort come last, in id order).
//! With a search, or a tag or account manager held by few customers, the few matching ids
//! are gathered first through their own indexes and sorted here: walking a million-row sort
//! index to find a handful of matches is what makes directories slow.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use regulars_domain::{
    ConsentChannel, Currency, CustomerId, FieldError, OrderId, Source, StoreId, Timestamp, UserId,
};
use sea_query::{Cond, Expr, Iden, Order, Query, SelectStatement, SimpleExpr};
use serde::Serialize;

use crate::schema::{CustomerIdentities, CustomerTags, Customers, Orders};
use crate::{parse_json, Backend, Db, StoreError, CHUNK};

/// How the customer list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerSort {
    #[default]
    LastOrder,
    Spent,
    Orders,
    Name,
    Created,
    /// Predicted 12-month lifetime value.
    Clv,
    /// Probability the customer is still active.
    PAlive,
}

impl CustomerSort {
    pub const ALL: [CustomerSort; 7] = [
        CustomerSort::LastOrder,
        CustomerSort::Spent,
        CustomerSort::Orders,
        CustomerSort::Name,
        CustomerSort::Created,
        CustomerSort::Clv,
        CustomerSort::PAlive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CustomerSort::LastOrder => "last_order",
            CustomerSort::Spent => "spent",
            CustomerSort::Orders => "orders",
            CustomerSort::Name => "name",
            CustomerSort::Created => "created",
            CustomerSort::Clv => "clv",
            CustomerSort::PAlive => "p_alive",
        }
    }

    pub fn parse(s: &str) -> Result<CustomerSort, FieldError> {
        CustomerSort::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "sort",
                    "invalid_sort",
                    format!("{s:?} is not a sort: last_order, spent, orders, name, created, clv or p_alive"),
                )
            })
    }

    fn column(self) -> Customers {
        match self {
            CustomerSort::LastOrder => Customers::LastOrderAt,
            CustomerSort::Spent => Customers::TotalSpentMinor,
            CustomerSort::Orders => Customers::OrdersCount,
            CustomerSort::Name => Customers::NameKey,
            CustomerSort::Created => Customers::CreatedAt,
            CustomerSort::Clv => Customers::Clv12mMinor,
            CustomerSort::PAlive => Customers::PAlive,
        }
    }

    /// Whether some customers have no value to sort by (no order yet, no name, no analytics).
    fn nullable(self) -> bool {
        matches!(
            self,
            CustomerSort::LastOrder | CustomerSort::Name | CustomerSort::Clv | CustomerSort::PAlive
        )
    }
}

/// What the customer list shows: every field optional, all of them combined with AND.
#[derive(Debug, Clone, Default)]
pub struct CustomerQuery {
    /// A name, surname, email or phone prefix, or a source's exact customer id.
    pub search: Option<String>,
    pub tag: Option<String>,
    /// Customers who said yes on this channel.
    pub consent: Option<ConsentChannel>,
    pub last_order_before: Option<Timestamp>,
    pub last_order_after: Option<Timestamp>,
    pub spent_min_minor: Option<i64>,
    pub spent_max_minor: Option<i64>,
    pub orders_min: Option<i64>,
    pub orders_max: Option<i64>,
    /// Known to this source (Shopify, WooCommerce, …).
    pub source: Option<Source>,
    pub account_manager: Option<UserId>,
    /// An RFM segment key (`champions`, `at_risk`, …).
    pub segment: Option<String>,
    /// VIPs only (`Some(true)`), or everyone else (`Some(false)`).
    pub vip: Option<bool>,
    pub sort: CustomerSort,
    pub ascending: bool,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    pub limit: u64,
}

/// One line of the customer list.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerListing {
    pub id: CustomerId,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub orders_count: i64,
    pub total_spent_minor: i64,
    pub last_order_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub tags: Vec<String>,
    pub consent_email: Option<bool>,
    pub consent_sms: Option<bool>,
    pub consent_whatsapp: Option<bool>,
    pub account_manager_id: Option<String>,
    /// Predicted 12-month lifetime value, minor units; null before the store's first refit.
    pub clv_12m_minor: Option<i64>,
    pub p_alive: Option<f64>,
    /// An RFM segment key.
    pub segment: Option<String>,
    pub vip: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerPage {
    pub customers: Vec<CustomerListing>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
    /// The search matched more customers than a search shows: the reader should narrow it.
    pub truncated: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ListingRow {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    orders_count: i64,
    total_spent_minor: i64,
    last_order_at: Option<i64>,
    created_at: i64,
    tags: String,
    consent_email: Option<bool>,
    consent_sms: Option<bool>,
    consent_whatsapp: Option<bool>,
    account_manager_id: Option<String>,
    name_key: Option<String>,
    clv_12m_minor: Option<i64>,
    p_alive: Option<f64>,
    rfm_segment: Option<String>,
    vip: bool,
}

const LISTING_COLUMNS: [Customers; 19] = [
    Customers::Id,
    Customers::FirstName,
    Customers::LastName,
    Customers::Email,
    Customers::Phone,
    Customers::OrdersCount,
    Customers::TotalSpentMinor,
    Customers::LastOrderAt,
    Customers::CreatedAt,
    Customers::Tags,
    Customers::ConsentEmail,
    Customers::ConsentSms,
    Customers::ConsentWhatsapp,
    Customers::AccountManagerId,
    Customers::NameKey,
    Customers::Clv12mMinor,
    Customers::PAlive,
    Customers::RfmSegment,
    Customers::Vip,
];

/// A sort value: a number or a text, absent for customers without one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Int(i64),
    Real(Real),
    Text(String),
}

/// A stored floating-point value, ordered (no NaN is ever stored).
#[derive(Debug, Clone, Copy)]
struct Real(f64);

impl PartialEq for Real {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Real {}

impl PartialOrd for Real {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Real {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl SortValue {
    fn expr(&self) -> SimpleExpr {
        match self {
            SortValue::Int(v) => (*v).into(),
            SortValue::Real(v) => v.0.into(),
            SortValue::Text(v) => v.clone().into(),
        }
    }
}

impl ListingRow {
    fn sort_value(&self, sort: CustomerSort) -> Option<SortValue> {
        match sort {
            CustomerSort::LastOrder => self.last_order_at.map(SortValue::Int),
            CustomerSort::Spent => Some(SortValue::Int(self.total_spent_minor)),
            CustomerSort::Orders => Some(SortValue::Int(self.orders_count)),
            CustomerSort::Created => Some(SortValue::Int(self.created_at)),
            CustomerSort::Name => self.name_key.clone().map(SortValue::Text),
            CustomerSort::Clv => self.clv_12m_minor.map(SortValue::Int),
            CustomerSort::PAlive => self.p_alive.map(|v| SortValue::Real(Real(v))),
        }
    }

    fn into_listing(self) -> Result<CustomerListing, StoreError> {
        Ok(CustomerListing {
            id: CustomerId::parse(&self.id).map_err(|e| StoreError::Corrupt(format!("customer id: {e}")))?,
            tags: parse_json(&self.tags, "tags")?,
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            phone: self.phone,
            orders_count: self.orders_count,
            total_spent_minor: self.total_spent_minor,
            last_order_at: self.last_order_at.map(Timestamp),
            created_at: Timestamp(self.created_at),
            consent_email: self.consent_email,
            consent_sms: self.consent_sms,
            consent_whatsapp: self.consent_whatsapp,
            account_manager_id: self.account_manager_id,
            clv_12m_minor: self.clv_12m_minor,
            p_alive: self.p_alive,
            segment: self.rfm_segment,
            vip: self.vip,
        })
    }
}

/// Where the previous page ended: its last customer's sort value and id.
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    value: Option<SortValue>,
    id: String,
}

impl Cursor {
    fn encode(&self, sort: CustomerSort) -> String {
        let value = match &self.value {
            None => "n".to_string(),
            Some(SortValue::Int(v)) => format!("i{v}"),
            // The exact number, without a `.` (the cursor's separator).
            Some(SortValue::Real(v)) => format!("r{:016x}", v.0.to_bits()),
            Some(SortValue::Text(t)) => format!("s{}", hex::encode(t)),
        };
        format!("{}.{value}.{}", sort.as_str(), self.id)
    }

    fn decode(text: &str, sort: CustomerSort) -> Result<Cursor, FieldError> {
        let invalid = || {
            FieldError::new(
                "after",
                "invalid_cursor",
                "the page cursor is not one this list gave out (was the sort changed?)",
            )
        };
        let mut parts = text.splitn(3, '.');
        let (Some(name), Some(value), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        if name != sort.as_str() || CustomerId::parse(id).is_err() {
            return Err(invalid());
        }
        let value = match value.split_at_checked(1) {
            Some(("n", "")) => None,
            Some(("i", v)) => Some(SortValue::Int(v.parse().map_err(|_| invalid())?)),
            Some(("r", v)) => Some(SortValue::Real(Real(
                u64::from_str_radix(v, 16)
                    .ok()
                    .map(f64::from_bits)
                    .filter(|v| v.is_finite())
                    .ok_or_else(invalid)?,
            ))),
            Some(("s", v)) => Some(SortValue::Text(
                String::from_utf8(hex::decode(v).map_err(|_| invalid())?).map_err(|_| invalid())?,
            )),
            _ => return Err(invalid()),
        };
        Ok(Cursor {
            value,
            id: id.to_string(),
        })
    }
}

/// How many ids a narrowing term may gather before the plan walks the sort index instead.
const CANDIDATES: usize = 5_000;
/// How many customers a search shows at most (across pages).
const SEARCH_CAP: usize = 1_000;

/// The country calling code of the store's home market, so a national number finds the
/// stored international one.
fn calling_code(currency: Currency) -> Option<&'static str> {
    match currency.code() {
        "INR" => Some("91"),
        "AMD" => Some("374"),
        "USD" | "CAD" => Some("1"),
        "GBP" => Some("44"),
        "AED" => Some("971"),
        _ => None,
    }
}

/// One indexed way a search text can match.
enum Term {
    Prefix(Customers, String),
    ExternalId(String),
}

fn search_terms(search: &str, currency: Currency) -> Vec<Term> {
    let text = search.split_whitespace().collect::<Vec<_>>().join(" ");
    let folded = text.to_lowercase();
    if folded.is_empty() {
        return Vec::new();
    }
    if folded.contains('@') {
        return vec![Term::Prefix(Customers::Email, folded)];
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let phone_like = text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let mut terms = vec![Term::ExternalId(text.clone())];
    if phone_like && digits.len() >= 3 {
        terms.push(Term::Prefix(Customers::Phone, format!("+{digits}")));
        terms.push(Term::Prefix(Customers::Phone, digits.clone()));
        if let (Some(code), false) = (calling_code(currency), text.starts_with('+')) {
            let national = digits.trim_start_matches('0');
            terms.push(Term::Prefix(Customers::Phone, format!("+{code}{national}")));
        }
    } else {
        terms.push(Term::Prefix(Customers::NameKey, folded.clone()));
        terms.push(Term::Prefix(Customers::SurnameKey, folded.clone()));
        terms.push(Term::Prefix(Customers::Email, folded));
    }
    terms
}

/// `column` starts with `prefix`, as a range the column's index answers. PostgreSQL compares
/// with the "C" collation so that byte order, and so the range, is the same as SQLite's.
fn prefix_range(backend: Backend, column: Customers, prefix: &str) -> SimpleExpr {
    let col = match backend {
        Backend::Sqlite => Expr::col((Customers::Table, column)),
        Backend::Postgres => Expr::expr(Expr::cust(format!(
            "\"{}\".\"{}\" COLLATE \"C\"",
            Customers::Table.to_string(),
            column.to_string()
        ))),
    };
    let upper = format!("{prefix}\u{10FFFF}");
    col.clone().gte(prefix).and(col.lt(upper))
}

impl Db {
    /// One page of a store's customers.
    pub async fn customer_page(
        &self,
        store: StoreId,
        currency: Currency,
        query: &CustomerQuery,
    ) -> Result<CustomerPage, StoreError> {
        let cursor = query
            .after
            .as_deref()
            .map(|c| Cursor::decode(c, query.sort))
            .transpose()?;
        let limit = query.limit.clamp(1, 1000) as usize;
        let mut truncated = false;

        // Narrowing terms first: each gives either a small set of ids or "too many to gather".
        let mut candidates: Option<HashSet<String>> = None;
        let mut narrow = |set: HashSet<String>| {
            candidates = Some(match candidates.take() {
                Some(known) => known.intersection(&set).cloned().collect(),
                None => set,
            });
        };
        if let Some(search) = query.search.as_deref().filter(|s| !s.trim().is_empty()) {
            let found = self.search_ids(store, currency, search).await?;
            truncated = found.len() >= SEARCH_CAP;
            narrow(found);
        }
        let mut tag_in_sql = None;
        if let Some(tag) = &query.tag {
            match self.few_ids(tag_ids(store, tag)).await? {
                Some(ids) => narrow(ids),
                None => tag_in_sql = Some(tag.clone()),
            }
        }
        let mut manager_in_sql = None;
        if let Some(manager) = query.account_manager {
            // Their customers by last order are one walk of the (store, manager, last order)
            // index; other orders gather them first.
            if query.sort == CustomerSort::LastOrder {
                manager_in_sql = Some(manager);
            } else {
                match self.few_ids(manager_ids(store, manager)).await? {
                    Some(ids) => narrow(ids),
                    None => manager_in_sql = Some(manager),
                }
            }
        }

        // A small segment is gathered through its index; a large one is met on the sort's walk.
        let mut segment_in_sql = None;
        if let Some(segment) = &query.segment {
            crate::analytics::check_segment(segment)?;
            match self.few_ids(segment_ids(store, segment)).await? {
                Some(ids) => narrow(ids),
                None => segment_in_sql = Some(segment.clone()),
            }
        }

        // A range on another column than the sort's: if few customers are in it, gather them
        // through that column's index; if many, the walk of the sort's index meets them soon.
        for (column, low, high) in [
            (
                Customers::TotalSpentMinor,
                query.spent_min_minor,
                query.spent_max_minor,
            ),
            (Customers::OrdersCount, query.orders_min, query.orders_max),
            (
                Customers::LastOrderAt,
                query.last_order_after.map(|t| t.0),
                query.last_order_before.map(|t| t.0 - 1),
            ),
        ] {
            if column == query.sort.column() || (low.is_none() && high.is_none()) {
                continue;
            }
            let mut q = Query::select();
            q.column(Customers::Id)
                .from(Customers::Table)
                .and_where(Expr::col(Customers::StoreId).eq(store.to_string()));
            if let Some(low) = low {
                q.and_where(Expr::col(column).gte(low));
            }
            if let Some(high) = high {
                q.and_where(Expr::col(column).lte(high));
            }
            if let Some(ids) = self.few_ids(q).await? {
                narrow(ids);
            }
        }

        let filtered = |q: &mut SelectStatement| {
            q.columns(LISTING_COLUMNS.map(|c| (Customers::Table, c)))
                .from(Customers::Table)
                .and_where(Expr::col((Customers::Table, Customers::StoreId)).eq(store.to_string()));
            apply_filters(
                q,
                query,
                tag_in_sql.as_deref(),
                manager_in_sql,
                segment_in_sql.as_deref(),
            );
        };
        let mut rows: Vec<ListingRow> = Vec::new();
        match candidates {
            Some(ids) => {
                let ids: Vec<String> = ids.into_iter().collect();
                for chunk in ids.chunks(CHUNK) {
                    let mut q = Query::select();
                    filtered(&mut q);
                    q.and_where(
                        Expr::col((Customers::Table, Customers::Id)).is_in(chunk.iter().map(String::as_str)),
                    );
                    rows.extend(self.fetch_all::<ListingRow>(&q).await?);
                }
                rows.sort_by(|a, b| compare(a, b, query.sort, query.ascending));
                if let Some(cursor) = &cursor {
                    rows.retain(|r| after_cursor(r, cursor, query.sort, query.ascending));
                }
                rows.truncate(limit + 1);
            }
            None => {
                let column = query.sort.column();
                let (order, beyond) = if query.ascending {
                    (Order::Asc, "gt")
                } else {
                    (Order::Desc, "lt")
                };
                let compare_tuple = |value: &SortValue, id: &str| {
                    let left = Expr::tuple([
                        Expr::col((Customers::Table, column)).into(),
                        Expr::col((Customers::Table, Customers::Id)).into(),
                    ]);
                    let right = Expr::tuple([value.expr(), id.into()]);
                    if beyond == "gt" {
                        left.gt(right)
                    } else {
                        left.lt(right)
                    }
                };
                // Customers with a sort value, in order…
                if cursor.as_ref().is_none_or(|c| c.value.is_some()) {
                    let mut q = Query::select();
                    filtered(&mut q);
                    if query.sort.nullable() {
                        q.and_where(Expr::col((Customers::Table, column)).is_not_null());
                    }
                    if let Some(Cursor { value: Some(v), id }) = &cursor {
                        q.and_where(compare_tuple(v, id));
                    }
                    q.order_by((Customers::Table, column), order.clone())
                        .order_by((Customers::Table, Customers::Id), order.clone())
                        .limit(limit as u64 + 1);
                    rows = self.fetch_all(&q).await?;
                }
                // …then those without one, by id.
                if query.sort.nullable() && rows.len() <= limit {
                    let mut q = Query::select();
                    filtered(&mut q);
                    q.and_where(Expr::col((Customers::Table, column)).is_null());
                    if let Some(Cursor { value: None, id }) = &cursor {
                        let id_col = Expr::col((Customers::Table, Customers::Id));
                        q.and_where(if query.ascending {
                            id_col.gt(id.as_str())
                        } else {
                            id_col.lt(id.as_str())
                        });
                    }
                    q.order_by((Customers::Table, Customers::Id), order)
                        .limit((limit + 1 - rows.len()) as u64);
                    rows.extend(self.fetch_all::<ListingRow>(&q).await?);
                }
            }
        }
        let next = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            let last = rows.last().expect("a full page has a last row");
            Cursor {
                value: last.sort_value(query.sort),
                id: last.id.clone(),
            }
            .encode(query.sort)
        });
        Ok(CustomerPage {
            customers: rows
                .into_iter()
                .map(ListingRow::into_listing)
                .collect::<Result<_, _>>()?,
            next,
            truncated,
        })
    }

    /// Ids of the customers a search text matches, through each term's own index.
    async fn search_ids(
        &self,
        store: StoreId,
        currency: Currency,
        search: &str,
    ) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for term in search_terms(search, currency) {
            let q = match term {
                Term::Prefix(column, prefix) => Query::select()
                    .column(Customers::Id)
                    .from(Customers::Table)
                    .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
                    .and_where(prefix_range(self.backend(), column, &prefix))
                    .limit(SEARCH_CAP as u64)
                    .to_owned(),
                Term::ExternalId(id) => Query::select()
                    .column(CustomerIdentities::CustomerId)
                    .from(CustomerIdentities::Table)
                    .and_where(Expr::col(CustomerIdentities::StoreId).eq(store.to_string()))
                    .and_where(Expr::col(CustomerIdentities::ExternalId).eq(id))
                    .limit(SEARCH_CAP as u64)
                    .to_owned(),
            };
            let rows: Vec<(String,)> = self.fetch_all(&q).await?;
            found.extend(rows.into_iter().map(|(id,)| id));
            if found.len() >= SEARCH_CAP {
                break;
            }
        }
        Ok(found)
    }

    /// The ids a query selects if there are at most [`CANDIDATES`] of them.
    async fn few_ids(&self, mut q: SelectStatement) -> Result<Option<HashSet<String>>, StoreError> {
        q.limit(CANDIDATES as u64 + 1);
        let rows: Vec<(String,)> = self.fetch_all(&q).await?;
        Ok((rows.len() <= CANDIDATES).then(|| rows.into_iter().map(|(id,)| id).collect()))
    }
}

fn tag_ids(store: StoreId, tag: &str) -> SelectStatement {
    Query::select()
        .column(CustomerTags::CustomerId)
        .from(CustomerTags::Table)
        .and_where(Expr::col(CustomerTags::StoreId).eq(store.to_string()))
        .and_where(Expr::col(CustomerTags::Tag).eq(tag))
        .to_owned()
}

fn segment_ids(store: StoreId, segment: &str) -> SelectStatement {
    Query::select()
        .column(Customers::Id)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Customers::RfmSegment).eq(segment))
        .to_owned()
}

fn manager_ids(store: StoreId, manager: UserId) -> SelectStatement {
    Query::select()
        .column(Customers::Id)
        .from(Customers::Table)
        .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Customers::AccountManagerId).eq(manager.to_string()))
        .to_owned()
}

/// The filters answered row by row while a sort index is walked (or over gathered ids).
fn apply_filters(
    q: &mut SelectStatement,
    f: &CustomerQuery,
    tag: Option<&str>,
    manager: Option<UserId>,
    segment: Option<&str>,
) {
    let plain = |c: Customers| Expr::col((Customers::Table, c));
    // A range on a column other than the sort's is written `+column`, which no index answers:
    // the planner then walks the sort's index (and stops after a page) instead of reading the
    // whole range and sorting it.
    let col = |c: Customers| {
        let numeric = matches!(
            c,
            Customers::TotalSpentMinor | Customers::OrdersCount | Customers::LastOrderAt
        );
        if numeric && c != f.sort.column() {
            Expr::expr(Expr::cust(format!(
                "+\"{}\".\"{}\"",
                Customers::Table.to_string(),
                c.to_string()
            )))
        } else {
            plain(c)
        }
    };
    if let Some(channel) = f.consent {
        let column = match channel {
            ConsentChannel::Email => Customers::ConsentEmail,
            ConsentChannel::Sms => Customers::ConsentSms,
            ConsentChannel::Whatsapp => Customers::ConsentWhatsapp,
        };
        q.and_where(plain(column).eq(true));
    }
    if let Some(t) = f.last_order_before {
        q.and_where(col(Customers::LastOrderAt).lt(t.0));
    }
    if let Some(t) = f.last_order_after {
        q.and_where(col(Customers::LastOrderAt).gte(t.0));
    }
    if let Some(v) = f.spent_min_minor {
        q.and_where(col(Customers::TotalSpentMinor).gte(v));
    }
    if let Some(v) = f.spent_max_minor {
        q.and_where(col(Customers::TotalSpentMinor).lte(v));
    }
    if let Some(v) = f.orders_min {
        q.and_where(col(Customers::OrdersCount).gte(v));
    }
    if let Some(v) = f.orders_max {
        q.and_where(col(Customers::OrdersCount).lte(v));
    }
    if let Some(m) = manager {
        q.and_where(plain(Customers::AccountManagerId).eq(m.to_string()));
    }
    if let Some(segment) = segment {
        // A large segment: `|| ''` keeps the planner on the sort's index (reading a whole
        // segment through its own index and sorting it is what this avoids).
        q.and_where(
            Expr::expr(Expr::cust(format!(
                "(\"{}\".\"{}\" || '')",
                Customers::Table.to_string(),
                Customers::RfmSegment.to_string()
            )))
            .eq(segment),
        );
    }
    if let Some(vip) = f.vip {
        q.and_where(plain(Customers::Vip).eq(vip));
    }
    if let Some(tag) = tag {
        // A probe of the tag's primary key per customer, not a gathered set of its holders.
        q.and_where(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(CustomerTags::Table)
                .cond_where(
                    Cond::all()
                        .add(
                            Expr::col((CustomerTags::Table, CustomerTags::StoreId))
                                .equals((Customers::Table, Customers::StoreId)),
                        )
                        .add(Expr::col((CustomerTags::Table, CustomerTags::Tag)).eq(tag))
                        .add(
                            Expr::col((CustomerTags::Table, CustomerTags::CustomerId))
                                .equals((Customers::Table, Customers::Id)),
                        ),
                )
                .to_owned(),
        ));
    }
    if let Some(source) = f.source {
        q.and_where(Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(CustomerIdentities::Table)
                .cond_where(
                    Cond::all()
                        .add(
                            Expr::col((CustomerIdentities::Table, CustomerIdentities::StoreId))
                                .equals((Customers::Table, Customers::StoreId)),
                        )
                        .add(
                            Expr::col((CustomerIdentities::Table, CustomerIdentities::CustomerId))
                                .equals((Customers::Table, Customers::Id)),
                        )
                        .add(
                            Expr::col((CustomerIdentities::Table, CustomerIdentities::Source))
                                .eq(source.as_str()),
                        ),
                )
                .to_owned(),
        ));
    }
}

/// The list's order: by sort value (absent values last, whatever the direction), then id.
fn compare(a: &ListingRow, b: &ListingRow, sort: CustomerSort, ascending: bool) -> Ordering {
    let key = |r: &ListingRow| r.sort_value(sort);
    let directed = |o: Ordering| if ascending { o } else { o.reverse() };
    match (key(a), key(b)) {
        (Some(x), Some(y)) => directed(x.cmp(&y)).then_with(|| directed(a.id.cmp(&b.id))),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => directed(a.id.cmp(&b.id)),
    }
}

fn after_cursor(row: &ListingRow, cursor: &Cursor, sort: CustomerSort, ascending: bool) -> bool {
    let directed = |o: Ordering| if ascending { o } else { o.reverse() };
    match (row.sort_value(sort), &cursor.value) {
        (Some(v), Some(c)) => {
            directed(v.cmp(c)).then_with(|| directed(row.id.as_str().cmp(&cursor.id))) == Ordering::Greater
        }
        (None, Some(_)) => true,
        (Some(_), None) => false,
        (None, None) => directed(row.id.as_str().cmp(&cursor.id)) == Ordering::Greater,
    }
}

/// What the orders list shows: newest first, all fields optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct OrderQuery {
    /// An order number (with or without `#`) or a source's order id, exactly.
    pub search: Option<String>,
    pub customer: Option<CustomerId>,
    /// A financial status: paid, pending, refunded, partially_refunded, …
    pub financial_status: Option<String>,
    pub placed_from: Option<Timestamp>,
    pub placed_to: Option<Timestamp>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    pub limit: u64,
}

/// One line of the orders list.
#[derive(Debug, Clone, Serialize)]
pub struct OrderListing {
    pub id: String,
    pub order_number: Option<String>,
    pub external_id: String,
    pub source: String,
    pub customer_id: Option<String>,
    pub customer_name: Option<String>,
    pub placed_at: Timestamp,
    pub currency: String,
    pub total: i64,
    pub refunded_total: i64,
    pub financial_status: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderPage {
    pub orders: Vec<OrderListing>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct OrderListingRow {
    id: String,
    order_number: Option<String>,
    external_id: String,
    source: String,
    customer_id: Option<String>,
    placed_at: i64,
    currency: String,
    total: i64,
    refunded_total: i64,
    financial_status: String,
    status: String,
}

const ORDER_LISTING_COLUMNS: [Orders; 11] = [
    Orders::Id,
    Orders::OrderNumber,
    Orders::ExternalId,
    Orders::Source,
    Orders::CustomerId,
    Orders::PlacedAt,
    Orders::Currency,
    Orders::Total,
    Orders::RefundedTotal,
    Orders::FinancialStatus,
    Orders::Status,
];

fn order_cursor(text: &str) -> Result<(i64, String), FieldError> {
    let invalid = || {
        FieldError::new(
            "after",
            "invalid_cursor",
            "the page cursor is not one this list gave out",
        )
    };
    let (at, id) = text.split_once('.').ok_or_else(invalid)?;
    if OrderId::parse(id).is_err() {
        return Err(invalid());
    }
    Ok((at.parse().map_err(|_| invalid())?, id.to_string()))
}

impl Db {
    /// One page of a store's orders, newest first.
    pub async fn order_page(&self, store: StoreId, query: &OrderQuery) -> Result<OrderPage, StoreError> {
        let cursor = query.after.as_deref().map(order_cursor).transpose()?;
        let limit = query.limit.clamp(1, 1000) as usize;
        let store_key = store.to_string();
        let filtered = |q: &mut SelectStatement| {
            q.columns(ORDER_LISTING_COLUMNS)
                .from(Orders::Table)
                .and_where(Expr::col(Orders::StoreId).eq(store_key.as_str()));
            if let Some(status) = &query.financial_status {
                q.and_where(Expr::col(Orders::FinancialStatus).eq(status.as_str()));
            }
            if let Some(from) = query.placed_from {
                q.and_where(Expr::col(Orders::PlacedAt).gte(from.0));
            }
            if let Some(to) = query.placed_to {
                q.and_where(Expr::col(Orders::PlacedAt).lt(to.0));
            }
        };
        let search = query
            .search
            .as_deref()
            .map(|s| s.trim().trim_start_matches('#').trim())
            .filter(|s| !s.is_empty());
        let mut rows: Vec<OrderListingRow> = Vec::new();
        if search.is_some() || query.customer.is_some() {
            // Few orders match: gather them through their own index, then order them here.
            let mut q = Query::select();
            filtered(&mut q);
            if let Some(customer) = query.customer {
                q.and_where(Expr::col(Orders::CustomerId).eq(customer.to_string()));
            }
            if let Some(s) = search {
                let numbers = [s.to_string(), format!("#{s}")];
                let mut by_number = q.clone();
                by_number.and_where(Expr::col(Orders::OrderNumber).is_in(numbers));
                rows.extend(self.fetch_all::<OrderListingRow>(&by_number).await?);
                for source in Source::ALL {
                    let mut by_id = q.clone();
                    by_id
                        .and_where(Expr::col(Orders::Source).eq(source.as_str()))
                        .and_where(Expr::col(Orders::ExternalId).eq(s));
                    rows.extend(self.fetch_all::<OrderListingRow>(&by_id).await?);
                }
                let mut seen = HashSet::new();
                rows.retain(|r| seen.insert(r.id.clone()));
            } else {
                rows = self.fetch_all(&q).await?;
            }
            rows.sort_by(|a, b| (b.placed_at, &b.id).cmp(&(a.placed_at, &a.id)));
            if let Some((at, id)) = &cursor {
                rows.retain(|r| (r.placed_at, &r.id) < (*at, id));
            }
            rows.truncate(limit + 1);
        } else {
            let mut q = Query::select();
            filtered(&mut q);
            if let Some((at, id)) = &cursor {
                q.and_where(
                    Expr::tuple([Expr::col(Orders::PlacedAt).into(), Expr::col(Orders::Id).into()])
                        .lt(Expr::tuple([(*at).into(), id.as_str().into()])),
                );
            }
            q.order_by(Orders::PlacedAt, Order::Desc)
                .order_by(Orders::Id, Order::Desc)
                .limit(limit as u64 + 1);
            rows = self.fetch_all(&q).await?;
        }
        let next = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            let last = rows.last().expect("a full page has a last row");
            format!("{}.{}", last.placed_at, last.id)
        });
        let names = self
            .customer_names(store, rows.iter().filter_map(|r| r.customer_id.clone()))
            .await?;
        let orders = rows
            .into_iter()
            .map(|r| OrderListing {
                customer_name: r.customer_id.as_ref().and_then(|c| names.get(c).cloned()),
                id: r.id,
                order_number: r.order_number,
                external_id: r.external_id,
                source: r.source,
                customer_id: r.customer_id,
                placed_at: Timestamp(r.placed_at),
                currency: r.currency,
                total: r.total,
                refunded_total: r.refunded_total,
                financial_status: r.financial_status,
                status: r.status,
            })
            .collect();
        Ok(OrderPage { orders, next })
    }

    /// How to call these customers in a list: their name, else their email, else their phone.
    pub async fn customer_names(
        &self,
        store: StoreId,
        ids: impl IntoIterator<Item = String>,
    ) -> Result<HashMap<String, String>, StoreError> {
        let ids: Vec<String> = ids.into_iter().collect::<HashSet<_>>().into_iter().collect();
        let mut out = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let q = Query::select()
                .columns([
                    Customers::Id,
                    Customers::FirstName,
                    Customers::LastName,
                    Customers::Email,
                    Customers::Phone,
                ])
                .from(Customers::Table)
                .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
                .and_where(Expr::col(Customers::Id).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            type Names = (
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            for (id, first, last, email, phone) in self.fetch_all::<Names>(&q).await? {
                if let Some(name) = display_name(first.as_deref(), last.as_deref())
                    .or(email)
                    .or(phone)
                {
                    out.insert(id, name);
                }
            }
        }
        Ok(out)
    }
}

/// "First Last", or whichever of the two is known.
pub fn display_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let name = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_another_sort() {
        let id = regulars_domain::new_id().to_string();
        for value in [
            None,
            Some(SortValue::Int(-5)),
            Some(SortValue::Text("ravi kumar.".into())),
            Some(SortValue::Real(Real(0.1 + 0.2))),
            Some(SortValue::Real(Real(1e-300))),
        ] {
            let c = Cursor {
                value,
                id: id.clone(),
            };
            assert_eq!(
                Cursor::decode(&c.encode(CustomerSort::Name), CustomerSort::Name).unwrap(),
                c
            );
            let err = Cursor::decode(&c.encode(CustomerSort::Name), CustomerSort::Spent).unwrap_err();
            assert_eq!(err.field, "after");
        }
        assert!(Cursor::decode("name.x.y", CustomerSort::Name).is_err());
    }

    #[test]
    fn search_texts_become_the_right_terms() {
        let kinds = |s: &str| -> Vec<String> {
            search_terms(s, Currency::INR)
                .into_iter()
                .map(|t| match t {
                    Term::Prefix(c, p) => format!("{}:{p}", c.to_string()),
                    Term::ExternalId(id) => format!("id:{id}"),
                })
                .collect()
        };
        assert_eq!(kinds(" Ravi@Mail.in "), ["email:ravi@mail.in"]);
        assert_eq!(
            kinds("098765 43210"),
            [
                "id:098765 43210",
                "phone:+09876543210",
                "phone:09876543210",
                "phone:+919876543210"
            ]
        );
        assert_eq!(
            kinds("Արամ  Պետրոսյան"),
            [
                "id:Արամ Պետրոսյան",
                "name_key:արամ պետրոսյան",
                "surname_key:արամ պետրոսյան",
                "email:արամ պետրոսյան"
            ]
        );
        assert!(kinds("   ").is_empty());
    }
}
