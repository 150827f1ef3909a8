//! Partners (the inner circle): customers invited to earn a commission on what the friends
//! they referred buy; their commission ledger, payouts and the payout report.

use std::collections::HashMap;

use regulars_domain::{format_minor, new_id, Currency, CustomerId, FieldError, StoreId, Timestamp};
use sea_query::{Expr, Order, Query, SelectStatement};
use serde::{Deserialize, Serialize};

use super::records::ReferralStatus;
use super::{CommissionPayouts, Commissions, Partners, ReferralCodes, Referrals};
use crate::directory::display_name;
use crate::events::{insert_events, NewEvent};
use crate::loyalty::sum_i64;
use crate::schema::Customers;
use crate::{Db, StoreError, StoreRecord, Tx, CHUNK};

/// The largest commission a partner may get: 5,000 basis points (50 %).
pub const MAX_PARTNER_BASIS_POINTS: i64 = 5_000;
/// The longest period of an `all_orders` partnership, in days.
pub const MAX_PARTNER_PERIOD_DAYS: i64 = 3_650;
/// The longest note on a partner, in characters.
pub const MAX_PARTNER_NOTE_CHARS: usize = 500;
/// The longest payment reference of a payout, in characters.
pub const MAX_PAYOUT_REFERENCE_CHARS: usize = 200;

/// Which of a referred friend's orders earn the partner a commission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerScope {
    /// Only the friend's qualifying (first) order.
    FirstOrder,
    /// Every paid order of the friend for `period_days` from their first qualifying order
    /// (for ever when `None`).
    AllOrders,
}

impl PartnerScope {
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerScope::FirstOrder => "first_order",
            PartnerScope::AllOrders => "all_orders",
        }
    }

    pub fn parse(s: &str) -> Result<PartnerScope, FieldError> {
        match s.trim() {
            "first_order" => Ok(PartnerScope::FirstOrder),
            "all_orders" => Ok(PartnerScope::AllOrders),
            _ => Err(FieldError::new(
                "scope",
                "invalid_scope",
                "first_order or all_orders",
            )),
        }
    }
}

/// What staff set when inviting a partner or changing their terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartnerInput {
    /// 1 to 5,000 basis points (0.01 % to 50 %) of referred revenue (order total less
    /// shipping and tax).
    pub basis_points: i64,
    pub scope: PartnerScope,
    /// For `all_orders`: 1 to 3,650 days; `None`: no end.
    pub period_days: Option<i64>,
    pub note: Option<String>,
}

impl PartnerInput {
    /// Refuses terms no partnership may have; names the field.
    pub fn validate(&self) -> Result<(), FieldError> {
        if !(1..=MAX_PARTNER_BASIS_POINTS).contains(&self.basis_points) {
            return Err(FieldError::new(
                "basis_points",
                "out_of_range",
                "a commission runs from 1 to 5,000 basis points (0.01 % to 50 %)",
            ));
        }
        match (self.scope, self.period_days) {
            (PartnerScope::FirstOrder, Some(_)) => {
                return Err(FieldError::new(
                    "period_days",
                    "not_applicable",
                    "a period applies only to partners earning on all orders",
                ))
            }
            (PartnerScope::AllOrders, Some(d)) if !(1..=MAX_PARTNER_PERIOD_DAYS).contains(&d) => {
                return Err(FieldError::new(
                    "period_days",
                    "out_of_range",
                    "a period runs from 1 to 3,650 days",
                ))
            }
            _ => {}
        }
        if self
            .note
            .as_deref()
            .is_some_and(|n| n.trim().chars().count() > MAX_PARTNER_NOTE_CHARS)
        {
            return Err(FieldError::new(
                "note",
                "too_long",
                "a note has at most 500 characters",
            ));
        }
        Ok(())
    }

    /// The note as stored: trimmed, `None` when blank.
    fn clean_note(&self) -> Option<String> {
        self.note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionStatus {
    /// Inside the order's return window.
    Pending,
    /// Owed to the partner.
    Approved,
    Paid,
}

impl CommissionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionStatus::Pending => "pending",
            CommissionStatus::Approved => "approved",
            CommissionStatus::Paid => "paid",
        }
    }

    pub fn parse(s: &str) -> Result<CommissionStatus, FieldError> {
        match s.trim() {
            "pending" => Ok(CommissionStatus::Pending),
            "approved" => Ok(CommissionStatus::Approved),
            "paid" => Ok(CommissionStatus::Paid),
            _ => Err(FieldError::new(
                "status",
                "invalid_status",
                "pending, approved or paid",
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PartnerRecord {
    pub customer_id: CustomerId,
    /// `active` or `ended` (an ended partner keeps their history; new orders earn nothing).
    pub status: String,
    pub basis_points: i64,
    pub scope: PartnerScope,
    pub period_days: Option<i64>,
    pub note: Option<String>,
    pub invited_by: String,
    pub invited_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A partner with their figures, minor units of the store currency.
#[derive(Debug, Clone, Serialize)]
pub struct PartnerSummary {
    pub partner: PartnerRecord,
    /// Display name and email of the customer (for staff pages; never logged).
    pub name: String,
    pub email: Option<String>,
    pub code: Option<String>,
    pub friends: i64,
    /// Referred revenue that earned commission.
    pub revenue: i64,
    pub pending: i64,
    pub approved: i64,
    pub paid: i64,
}

/// One row of the commission ledger (a reversal has a negative amount).
#[derive(Debug, Clone, Serialize)]
pub struct CommissionRecord {
    pub id: String,
    pub partner_id: CustomerId,
    pub referral_id: String,
    pub order_id: String,
    /// `earned` or `reversal`.
    pub kind: String,
    pub amount: i64,
    pub currency: Currency,
    pub revenue: i64,
    pub basis_points: i64,
    pub status: CommissionStatus,
    pub approves_at: Timestamp,
    pub payout_id: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayoutRecord {
    pub id: String,
    pub partner_id: CustomerId,
    pub amount: i64,
    pub currency: Currency,
    pub entries: i64,
    pub reference: Option<String>,
    pub paid_by: String,
    pub paid_at: Timestamp,
}

/// One line of the payout report: what each partner is owed now and was paid.
#[derive(Debug, Clone, Serialize)]
pub struct PayoutRow {
    pub partner_id: CustomerId,
    pub name: String,
    pub email: Option<String>,
    pub code: Option<String>,
    pub basis_points: i64,
    pub pending: i64,
    /// Approved and not yet paid (reversals of paid commissions already deducted).
    pub owed: i64,
    pub paid: i64,
    pub last_paid_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct PartnerRow {
    customer_id: String,
    status: String,
    basis_points: i64,
    scope: String,
    period_days: Option<i64>,
    note: Option<String>,
    invited_by: String,
    invited_at: i64,
    updated_at: i64,
}

const PARTNER_COLUMNS: [Partners; 9] = [
    Partners::CustomerId,
    Partners::Status,
    Partners::BasisPoints,
    Partners::Scope,
    Partners::PeriodDays,
    Partners::Note,
    Partners::InvitedBy,
    Partners::InvitedAt,
    Partners::UpdatedAt,
];

fn customer_id(s: &str) -> Result<CustomerId, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("partner customer id {s:?}")))
}

impl PartnerRow {
    fn into_record(self) -> Result<PartnerRecord, StoreError> {
        Ok(PartnerRecord {
            customer_id: customer_id(&self.customer_id)?,
            scope: PartnerScope::parse(&self.scope)
                .map_err(|_| StoreError::Corrupt(format!("partner scope {:?}", self.scope)))?,
            status: self.status,
            basis_points: self.basis_points,
            period_days: self.period_days,
            note: self.note,
            invited_by: self.invited_by,
            invited_at: Timestamp(self.invited_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

fn select_partner(store: StoreId, customer: &str) -> SelectStatement {
    Query::select()
        .columns(PARTNER_COLUMNS)
        .from(Partners::Table)
        .and_where(Expr::col(Partners::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Partners::CustomerId).eq(customer))
        .to_owned()
}

async fn partner_in(
    tx: &mut Tx,
    store: StoreId,
    customer: &str,
) -> Result<Option<PartnerRecord>, StoreError> {
    tx.fetch_optional::<PartnerRow>(&select_partner(store, customer))
        .await?
        .map(PartnerRow::into_record)
        .transpose()
}

/// A partner with who they are: the customer's names and contact, and their code.
#[derive(sqlx::FromRow)]
struct ListedRow {
    customer_id: String,
    status: String,
    basis_points: i64,
    scope: String,
    period_days: Option<i64>,
    note: Option<String>,
    invited_by: String,
    invited_at: i64,
    updated_at: i64,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    code: Option<String>,
}

impl ListedRow {
    fn split(self) -> Result<(PartnerRecord, String, Option<String>, Option<String>), StoreError> {
        let name = display_name(self.first_name.as_deref(), self.last_name.as_deref())
            .or_else(|| self.email.clone())
            .or(self.phone)
            .unwrap_or_default();
        let record = PartnerRow {
            customer_id: self.customer_id,
            status: self.status,
            basis_points: self.basis_points,
            scope: self.scope,
            period_days: self.period_days,
            note: self.note,
            invited_by: self.invited_by,
            invited_at: self.invited_at,
            updated_at: self.updated_at,
        }
        .into_record()?;
        Ok((record, name, self.email, self.code))
    }
}

/// Partners of the store (one when `only` names them), active first, with their customer's
/// names and their referral code.
fn listed(store: StoreId, only: Option<&str>) -> SelectStatement {
    let mut q = Query::select();
    for c in PARTNER_COLUMNS {
        q.column((Partners::Table, c));
    }
    q.column((Customers::Table, Customers::FirstName))
        .column((Customers::Table, Customers::LastName))
        .column((Customers::Table, Customers::Email))
        .column((Customers::Table, Customers::Phone))
        .column((ReferralCodes::Table, ReferralCodes::Code))
        .from(Partners::Table)
        .inner_join(
            Customers::Table,
            Expr::col((Customers::Table, Customers::Id))
                .equals((Partners::Table, Partners::CustomerId))
                .and(
                    Expr::col((Customers::Table, Customers::StoreId))
                        .equals((Partners::Table, Partners::StoreId)),
                ),
        )
        .left_join(
            ReferralCodes::Table,
            Expr::col((ReferralCodes::Table, ReferralCodes::CustomerId))
                .equals((Partners::Table, Partners::CustomerId))
                .and(
                    Expr::col((ReferralCodes::Table, ReferralCodes::StoreId))
                        .equals((Partners::Table, Partners::StoreId)),
                ),
        )
        .and_where(Expr::col((Partners::Table, Partners::StoreId)).eq(store.to_string()));
    if let Some(c) = only {
        q.and_where(Expr::col((Partners::Table, Partners::CustomerId)).eq(c));
    }
    // `active` sorts before `ended`.
    q.order_by((Partners::Table, Partners::Status), Order::Asc)
        .order_by((Partners::Table, Partners::InvitedAt), Order::Desc)
        .order_by((Partners::Table, Partners::CustomerId), Order::Asc);
    q
}

/// A partner's ledger in figures, minor units.
#[derive(Debug, Default, Clone, Copy)]
struct Figures {
    /// Inside the return window (reversals of pending rows net out here).
    pending: i64,
    /// Approved and not yet paid: what a payout would pay now.
    owed: i64,
    /// Paid out (net of reversals deducted from payouts).
    paid: i64,
    /// Revenue of the earned rows.
    revenue: i64,
    friends: i64,
    last_paid_at: Option<i64>,
}

/// The figures of every partner of the store (or of one), by customer id.
async fn figures(
    db: &Db,
    store: StoreId,
    only: Option<&str>,
) -> Result<HashMap<String, Figures>, StoreError> {
    let mut out: HashMap<String, Figures> = HashMap::new();
    let mut q = Query::select();
    q.column(Commissions::PartnerId)
        .column(Commissions::Status)
        .column(Commissions::Kind)
        .expr(sum_i64(Expr::col(Commissions::Amount)))
        .expr(sum_i64(Expr::col(Commissions::Revenue)))
        .from(Commissions::Table)
        .and_where(Expr::col(Commissions::StoreId).eq(store.to_string()));
    if let Some(c) = only {
        q.and_where(Expr::col(Commissions::PartnerId).eq(c));
    }
    q.group_by_col(Commissions::PartnerId)
        .group_by_col(Commissions::Status)
        .group_by_col(Commissions::Kind);
    type Sums = (String, String, String, Option<i64>, Option<i64>);
    for (partner, status, kind, amount, revenue) in db.fetch_all::<Sums>(&q).await? {
        let f = out.entry(partner).or_default();
        let amount = amount.unwrap_or(0);
        match status.as_str() {
            "pending" => f.pending += amount,
            "approved" => f.owed += amount,
            "paid" => f.paid += amount,
            other => return Err(StoreError::Corrupt(format!("commission status {other:?}"))),
        }
        if kind == "earned" {
            f.revenue += revenue.unwrap_or(0);
        }
    }

    let mut q = Query::select();
    q.column(Referrals::AdvocateId)
        .expr(Expr::col(Referrals::Id).count())
        .from(Referrals::Table)
        .and_where(Expr::col(Referrals::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Referrals::Status).is_not_in([
            ReferralStatus::Rejected.as_str(),
            ReferralStatus::Cancelled.as_str(),
        ]))
        .and_where(
            Expr::col(Referrals::AdvocateId).in_subquery(
                Query::select()
                    .column(Partners::CustomerId)
                    .from(Partners::Table)
                    .and_where(Expr::col(Partners::StoreId).eq(store.to_string()))
                    .to_owned(),
            ),
        );
    if let Some(c) = only {
        q.and_where(Expr::col(Referrals::AdvocateId).eq(c));
    }
    q.group_by_col(Referrals::AdvocateId);
    for (partner, n) in db.fetch_all::<(String, i64)>(&q).await? {
        out.entry(partner).or_default().friends = n;
    }

    let mut q = Query::select();
    q.column(CommissionPayouts::PartnerId)
        .expr(Expr::col(CommissionPayouts::PaidAt).max())
        .from(CommissionPayouts::Table)
        .and_where(Expr::col(CommissionPayouts::StoreId).eq(store.to_string()));
    if let Some(c) = only {
        q.and_where(Expr::col(CommissionPayouts::PartnerId).eq(c));
    }
    q.group_by_col(CommissionPayouts::PartnerId);
    for (partner, at) in db.fetch_all::<(String, Option<i64>)>(&q).await? {
        out.entry(partner).or_default().last_paid_at = at;
    }
    Ok(out)
}

fn summary(
    (partner, name, email, code): (PartnerRecord, String, Option<String>, Option<String>),
    f: Figures,
) -> PartnerSummary {
    PartnerSummary {
        partner,
        name,
        email,
        code,
        friends: f.friends,
        revenue: f.revenue,
        pending: f.pending,
        approved: f.owed,
        paid: f.paid,
    }
}

#[derive(sqlx::FromRow)]
struct CommissionRow {
    id: String,
    partner_id: String,
    referral_id: String,
    order_id: String,
    kind: String,
    amount: i64,
    revenue: i64,
    basis_points: i64,
    status: String,
    approves_at: i64,
    payout_id: Option<String>,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct StoredPayout {
    id: String,
    partner_id: String,
    amount: i64,
    entries: i64,
    reference: Option<String>,
    paid_by: String,
    paid_at: i64,
}

impl StoredPayout {
    fn into_record(self, currency: Currency) -> Result<PayoutRecord, StoreError> {
        Ok(PayoutRecord {
            partner_id: customer_id(&self.partner_id)?,
            id: self.id,
            amount: self.amount,
            currency,
            entries: self.entries,
            reference: self.reference,
            paid_by: self.paid_by,
            paid_at: Timestamp(self.paid_at),
        })
    }
}

/// A spreadsheet must not run what a customer typed: text that would start a formula is
/// quoted with a leading apostrophe.
fn cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

/// The columns of the payout report's CSV.
pub const PAYOUT_CSV_HEADER: [&str; 10] = [
    "partner_id",
    "name",
    "email",
    "code",
    "commission_percent",
    "pending",
    "owed",
    "paid",
    "last_paid_at",
    "currency",
];

impl Db {
    /// Invites a customer as partner or changes their terms (an ended partner is active again).
    pub async fn upsert_partner(
        &self,
        store: &StoreRecord,
        customer: CustomerId,
        input: &PartnerInput,
        actor: &str,
    ) -> Result<PartnerRecord, StoreError> {
        input.validate()?;
        let key = customer.to_string();
        let note = input.clean_note();
        let period_days = match input.scope {
            PartnerScope::FirstOrder => None,
            PartnerScope::AllOrders => input.period_days,
        };
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        // The store's lock before the customer's (a new referral code takes the store's).
        tx.lock_store(store.id).await?;
        tx.lock_customers(&[&key]).await?;
        let q = Query::select()
            .column(Customers::Id)
            .from(Customers::Table)
            .and_where(Expr::col(Customers::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Customers::Id).eq(key.as_str()))
            .to_owned();
        if tx.fetch_optional::<(String,)>(&q).await?.is_none() {
            return Err(StoreError::NotFound("customer"));
        }
        let existing = partner_in(&mut tx, store.id, &key).await?;
        if existing.is_some() {
            let q = Query::update()
                .table(Partners::Table)
                .value(Partners::Status, "active")
                .value(Partners::BasisPoints, input.basis_points)
                .value(Partners::Scope, input.scope.as_str())
                .value(Partners::PeriodDays, period_days)
                .value(Partners::Note, note.clone())
                .value(Partners::UpdatedAt, now.0)
                .and_where(Expr::col(Partners::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(Partners::CustomerId).eq(key.as_str()))
                .to_owned();
            tx.execute(&q).await?;
        } else {
            let q = Query::insert()
                .into_table(Partners::Table)
                .columns([
                    Partners::StoreId,
                    Partners::CustomerId,
                    Partners::Status,
                    Partners::BasisPoints,
                    Partners::Scope,
                    Partners::PeriodDays,
                    Partners::Note,
                    Partners::InvitedBy,
                    Partners::InvitedAt,
                    Partners::UpdatedAt,
                ])
                .values_panic([
                    store.id.to_string().into(),
                    key.clone().into(),
                    "active".into(),
                    input.basis_points.into(),
                    input.scope.as_str().into(),
                    period_days.into(),
                    note.clone().into(),
                    actor.into(),
                    now.0.into(),
                    now.0.into(),
                ])
                .to_owned();
            tx.execute(&q).await?;
            insert_events(
                &mut tx,
                store.id,
                &[NewEvent {
                    customer_id: Some(key.clone()),
                    kind: "partner_invited",
                    name: None,
                    occurred_at: now,
                    dedupe_key: format!("partner_invited:{key}"),
                    data: serde_json::json!({
                        "basis_points": input.basis_points,
                        "scope": input.scope.as_str(),
                        "period_days": period_days,
                        "invited_by": actor,
                    }),
                }],
                now,
            )
            .await?;
        }
        // A partner shares a code; a customer the program does not admit (yet) goes without.
        if tx.referral_program(store.id).await?.program.enabled {
            match tx.referral_code(store, customer).await {
                Ok(_) | Err(StoreError::Refused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let record = partner_in(&mut tx, store.id, &key)
            .await?
            .ok_or(StoreError::NotFound("partner"))?;
        tx.commit().await?;
        Ok(record)
    }

    /// Ends a partnership: their history stays, new orders earn nothing.
    pub async fn end_partner(
        &self,
        store: &StoreRecord,
        customer: CustomerId,
        actor: &str,
    ) -> Result<PartnerRecord, StoreError> {
        let key = customer.to_string();
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        tx.lock_customers(&[&key]).await?;
        let current = partner_in(&mut tx, store.id, &key)
            .await?
            .ok_or(StoreError::NotFound("partner"))?;
        if current.status == "ended" {
            tx.rollback().await?;
            return Ok(current);
        }
        let q = Query::update()
            .table(Partners::Table)
            .value(Partners::Status, "ended")
            .value(Partners::UpdatedAt, now.0)
            .and_where(Expr::col(Partners::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Partners::CustomerId).eq(key.as_str()))
            .and_where(Expr::col(Partners::Status).eq("active"))
            .to_owned();
        tx.execute(&q).await?;
        insert_events(
            &mut tx,
            store.id,
            &[NewEvent {
                customer_id: Some(key.clone()),
                kind: "partner_ended",
                name: None,
                occurred_at: now,
                dedupe_key: format!("partner_ended:{key}:{}", now.0),
                data: serde_json::json!({ "ended_by": actor }),
            }],
            now,
        )
        .await?;
        let record = partner_in(&mut tx, store.id, &key)
            .await?
            .ok_or(StoreError::NotFound("partner"))?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn partner(&self, store: StoreId, customer: CustomerId) -> Result<PartnerRecord, StoreError> {
        self.fetch_optional::<PartnerRow>(&select_partner(store, &customer.to_string()))
            .await?
            .ok_or(StoreError::NotFound("partner"))?
            .into_record()
    }

    /// Every partner (active first, then ended) with their figures.
    pub async fn partners(&self, store: &StoreRecord) -> Result<Vec<PartnerSummary>, StoreError> {
        let rows = self.fetch_all::<ListedRow>(&listed(store.id, None)).await?;
        let figures = figures(self, store.id, None).await?;
        rows.into_iter()
            .map(|row| {
                let f = figures.get(&row.customer_id).copied().unwrap_or_default();
                Ok(summary(row.split()?, f))
            })
            .collect()
    }

    pub async fn partner_summary(
        &self,
        store: &StoreRecord,
        customer: CustomerId,
    ) -> Result<PartnerSummary, StoreError> {
        let key = customer.to_string();
        let row = self
            .fetch_optional::<ListedRow>(&listed(store.id, Some(&key)))
            .await?
            .ok_or(StoreError::NotFound("partner"))?;
        let f = figures(self, store.id, Some(&key))
            .await?
            .remove(&key)
            .unwrap_or_default();
        Ok(summary(row.split()?, f))
    }

    /// A partner's commission ledger, newest first.
    pub async fn commissions(
        &self,
        store: &StoreRecord,
        partner: CustomerId,
    ) -> Result<Vec<CommissionRecord>, StoreError> {
        let key = partner.to_string();
        // Another store's customer is no partner here.
        self.partner(store.id, partner).await?;
        let q = Query::select()
            .columns([
                Commissions::Id,
                Commissions::PartnerId,
                Commissions::ReferralId,
                Commissions::OrderId,
                Commissions::Kind,
                Commissions::Amount,
                Commissions::Revenue,
                Commissions::BasisPoints,
                Commissions::Status,
                Commissions::ApprovesAt,
                Commissions::PayoutId,
                Commissions::CreatedAt,
            ])
            .from(Commissions::Table)
            .and_where(Expr::col(Commissions::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Commissions::PartnerId).eq(key.as_str()))
            .order_by(Commissions::CreatedAt, Order::Desc)
            .order_by(Commissions::Id, Order::Desc)
            .to_owned();
        self.fetch_all::<CommissionRow>(&q)
            .await?
            .into_iter()
            .map(|r| {
                Ok(CommissionRecord {
                    partner_id: customer_id(&r.partner_id)?,
                    status: CommissionStatus::parse(&r.status)
                        .map_err(|_| StoreError::Corrupt(format!("commission status {:?}", r.status)))?,
                    id: r.id,
                    referral_id: r.referral_id,
                    order_id: r.order_id,
                    kind: r.kind,
                    amount: r.amount,
                    currency: store.currency,
                    revenue: r.revenue,
                    basis_points: r.basis_points,
                    approves_at: Timestamp(r.approves_at),
                    payout_id: r.payout_id,
                    created_at: Timestamp(r.created_at),
                })
            })
            .collect()
    }

    /// Pays a partner everything approved and unpaid (reversals included): refused with
    /// `nothing_owed` when that sums to zero or less. The rows become `paid`.
    pub async fn pay_partner(
        &self,
        store: &StoreRecord,
        partner: CustomerId,
        reference: Option<&str>,
        actor: &str,
    ) -> Result<PayoutRecord, StoreError> {
        let reference = reference.map(str::trim).filter(|r| !r.is_empty());
        if reference.is_some_and(|r| r.chars().count() > MAX_PAYOUT_REFERENCE_CHARS) {
            return Err(FieldError::new(
                "reference",
                "too_long",
                "a payment reference has at most 200 characters",
            )
            .into());
        }
        let key = partner.to_string();
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        // One payout of a partner at a time.
        tx.lock_customers(&[&key]).await?;
        if partner_in(&mut tx, store.id, &key).await?.is_none() {
            return Err(StoreError::NotFound("partner"));
        }
        let q = Query::select()
            .columns([Commissions::Id])
            .column(Commissions::Amount)
            .from(Commissions::Table)
            .and_where(Expr::col(Commissions::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Commissions::PartnerId).eq(key.as_str()))
            .and_where(Expr::col(Commissions::Status).eq(CommissionStatus::Approved.as_str()))
            .and_where(Expr::col(Commissions::PayoutId).is_null())
            .to_owned();
        let rows: Vec<(String, i64)> = tx.fetch_all(&q).await?;
        let amount: i64 = rows.iter().map(|(_, a)| a).sum();
        if amount <= 0 {
            return Err(nothing_owed(amount));
        }
        let id = new_id().to_string();
        let entries = rows.len() as i64;
        let q = Query::insert()
            .into_table(CommissionPayouts::Table)
            .columns([
                CommissionPayouts::Id,
                CommissionPayouts::StoreId,
                CommissionPayouts::PartnerId,
                CommissionPayouts::Amount,
                CommissionPayouts::Entries,
                CommissionPayouts::Reference,
                CommissionPayouts::PaidBy,
                CommissionPayouts::PaidAt,
            ])
            .values_panic([
                id.clone().into(),
                store.id.to_string().into(),
                key.clone().into(),
                amount.into(),
                entries.into(),
                reference.map(str::to_string).into(),
                actor.into(),
                now.0.into(),
            ])
            .to_owned();
        tx.execute(&q).await?;
        // Only rows still unpaid move: a payout that raced this one leaves nothing to take.
        let ids: Vec<&str> = rows.iter().map(|(i, _)| i.as_str()).collect();
        let mut moved = 0;
        for chunk in ids.chunks(CHUNK) {
            let q = Query::update()
                .table(Commissions::Table)
                .value(Commissions::Status, CommissionStatus::Paid.as_str())
                .value(Commissions::PayoutId, id.as_str())
                .value(Commissions::UpdatedAt, now.0)
                .and_where(Expr::col(Commissions::StoreId).eq(store.id.to_string()))
                .and_where(Expr::col(Commissions::PartnerId).eq(key.as_str()))
                .and_where(Expr::col(Commissions::Id).is_in(chunk.iter().copied()))
                .and_where(Expr::col(Commissions::Status).eq(CommissionStatus::Approved.as_str()))
                .and_where(Expr::col(Commissions::PayoutId).is_null())
                .to_owned();
            moved += tx.execute(&q).await?;
        }
        if moved != rows.len() as u64 {
            tx.rollback().await?;
            return Err(StoreError::Refused {
                code: "nothing_owed",
                message: "this partner's commissions were paid meanwhile".into(),
            });
        }
        insert_events(
            &mut tx,
            store.id,
            &[NewEvent {
                customer_id: Some(key.clone()),
                kind: "commission_paid",
                name: None,
                occurred_at: now,
                dedupe_key: format!("commission_paid:{id}"),
                data: serde_json::json!({
                    "payout_id": id,
                    "amount": amount,
                    "currency": store.currency.code(),
                    "entries": entries,
                    "reference": reference,
                }),
            }],
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(PayoutRecord {
            id,
            partner_id: partner,
            amount,
            currency: store.currency,
            entries,
            reference: reference.map(str::to_string),
            paid_by: actor.to_string(),
            paid_at: now,
        })
    }

    pub async fn payouts(
        &self,
        store: &StoreRecord,
        partner: Option<CustomerId>,
    ) -> Result<Vec<PayoutRecord>, StoreError> {
        let mut q = Query::select();
        q.columns([
            CommissionPayouts::Id,
            CommissionPayouts::PartnerId,
            CommissionPayouts::Amount,
            CommissionPayouts::Entries,
            CommissionPayouts::Reference,
            CommissionPayouts::PaidBy,
            CommissionPayouts::PaidAt,
        ])
        .from(CommissionPayouts::Table)
        .and_where(Expr::col(CommissionPayouts::StoreId).eq(store.id.to_string()));
        if let Some(p) = partner {
            q.and_where(Expr::col(CommissionPayouts::PartnerId).eq(p.to_string()));
        }
        q.order_by(CommissionPayouts::PaidAt, Order::Desc)
            .order_by(CommissionPayouts::Id, Order::Desc);
        self.fetch_all::<StoredPayout>(&q)
            .await?
            .into_iter()
            .map(|r| r.into_record(store.currency))
            .collect()
    }

    /// What every partner is owed and was paid.
    pub async fn payout_report(&self, store: &StoreRecord) -> Result<Vec<PayoutRow>, StoreError> {
        let rows = self.fetch_all::<ListedRow>(&listed(store.id, None)).await?;
        let figures = figures(self, store.id, None).await?;
        let mut out = rows
            .into_iter()
            .map(|row| {
                let f = figures.get(&row.customer_id).copied().unwrap_or_default();
                let (partner, name, email, code) = row.split()?;
                Ok(PayoutRow {
                    partner_id: partner.customer_id,
                    name,
                    email,
                    code,
                    basis_points: partner.basis_points,
                    pending: f.pending,
                    owed: f.owed,
                    paid: f.paid,
                    last_paid_at: f.last_paid_at.map(Timestamp),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Who is owed most first, for the person paying.
        out.sort_by(|a, b| b.owed.cmp(&a.owed).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    /// The payout report as CSV (header line, one partner a line, amounts as decimals of the
    /// store currency), ready for a bank or a spreadsheet.
    pub async fn payout_report_csv(&self, store: &StoreRecord) -> Result<String, StoreError> {
        let rows = self.payout_report(store).await?;
        let exponent = store.currency.exponent();
        let currency = store.currency.code().to_string();
        let mut out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        let failed = |e: csv::Error| StoreError::Corrupt(format!("writing the payout report: {e}"));
        out.write_record(PAYOUT_CSV_HEADER).map_err(failed)?;
        for r in &rows {
            out.write_record([
                r.partner_id.to_string(),
                cell(&r.name),
                cell(r.email.as_deref().unwrap_or("")),
                r.code.clone().unwrap_or_default(),
                format_minor(r.basis_points, 2),
                format_minor(r.pending, exponent),
                format_minor(r.owed, exponent),
                format_minor(r.paid, exponent),
                r.last_paid_at.map(Timestamp::to_rfc3339).unwrap_or_default(),
                currency.clone(),
            ])
            .map_err(failed)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| StoreError::Corrupt(format!("writing the payout report: {e}")))?;
        String::from_utf8(bytes).map_err(|e| StoreError::Corrupt(format!("writing the payout report: {e}")))
    }
}

fn nothing_owed(amount: i64) -> StoreError {
    StoreError::Refused {
        code: "nothing_owed",
        message: if amount < 0 {
            "this partner owes back more than was approved since the last payout".into()
        } else {
            "nothing approved is waiting to be paid to this partner".into()
        },
    }
}
