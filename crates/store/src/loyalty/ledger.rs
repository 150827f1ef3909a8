//! The ledger's primitives: writing entries, opening lots, taking points from lots soonest
//! expiry first and giving them back, and reading balances and history.

use regulars_domain::{new_id, CustomerId, StoreId, Timestamp};
use sea_query::{Expr, Order, Query, SimpleExpr};
use serde::Serialize;

use super::sum_i64;
use super::{account, EntryKind, LoyaltyEntries, LoyaltyLotMoves, LoyaltyLots};
use crate::{Db, StoreError, Tx, CHUNK};

/// An entry about to be written.
#[derive(Debug, Clone)]
pub(crate) struct NewEntry {
    pub id: String,
    pub customer_id: String,
    pub kind: EntryKind,
    pub debit: &'static str,
    pub credit: &'static str,
    pub points: i64,
    pub reverses: Option<String>,
    pub order_id: Option<String>,
    pub hold_id: Option<String>,
    pub reward_id: Option<String>,
    pub action: Option<String>,
    pub basis: Option<i64>,
    pub written_off: i64,
    pub effective_at: i64,
    pub available_from: Option<i64>,
    pub expires_at: Option<i64>,
    pub reason: String,
    pub actor: String,
    pub dedupe_key: Option<String>,
}

impl NewEntry {
    pub fn new(
        customer_id: &str,
        kind: EntryKind,
        (debit, credit): (&'static str, &'static str),
        points: i64,
        reason: &str,
        actor: &str,
        now: Timestamp,
    ) -> NewEntry {
        NewEntry {
            id: new_id().to_string(),
            customer_id: customer_id.to_string(),
            kind,
            debit,
            credit,
            points,
            reverses: None,
            order_id: None,
            hold_id: None,
            reward_id: None,
            action: None,
            basis: None,
            written_off: 0,
            effective_at: now.0,
            available_from: None,
            expires_at: None,
            reason: reason.to_string(),
            actor: actor.to_string(),
            dedupe_key: None,
        }
    }
}

/// One stored entry, as the API and pages show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct EntryRecord {
    pub id: String,
    #[serde(skip)]
    pub customer_id: String,
    pub kind: String,
    pub debit: String,
    pub credit: String,
    pub points: i64,
    pub reverses: Option<String>,
    pub order_id: Option<String>,
    pub hold_id: Option<String>,
    pub reward_id: Option<String>,
    pub action: Option<String>,
    pub written_off: i64,
    pub available_from: Option<i64>,
    pub expires_at: Option<i64>,
    pub reason: String,
    pub actor: String,
    pub created_at: i64,
}

impl EntryRecord {
    /// The change to the customer's own points: + for what reaches them, − for what leaves.
    pub fn signed_points(&self) -> i64 {
        match (self.debit.as_str(), self.credit.as_str()) {
            (_, account::CUSTOMER) => self.points,
            (account::CUSTOMER, _) => -self.points,
            _ => 0,
        }
    }
}

const ENTRY_COLUMNS: [LoyaltyEntries; 21] = [
    LoyaltyEntries::Id,
    LoyaltyEntries::StoreId,
    LoyaltyEntries::CustomerId,
    LoyaltyEntries::Kind,
    LoyaltyEntries::Debit,
    LoyaltyEntries::Credit,
    LoyaltyEntries::Points,
    LoyaltyEntries::Reverses,
    LoyaltyEntries::OrderId,
    LoyaltyEntries::HoldId,
    LoyaltyEntries::RewardId,
    LoyaltyEntries::Action,
    LoyaltyEntries::Basis,
    LoyaltyEntries::WrittenOff,
    LoyaltyEntries::EffectiveAt,
    LoyaltyEntries::AvailableFrom,
    LoyaltyEntries::ExpiresAt,
    LoyaltyEntries::Reason,
    LoyaltyEntries::Actor,
    LoyaltyEntries::DedupeKey,
    LoyaltyEntries::CreatedAt,
];

pub(crate) const RECORD_COLUMNS: [LoyaltyEntries; 17] = [
    LoyaltyEntries::Id,
    LoyaltyEntries::CustomerId,
    LoyaltyEntries::Kind,
    LoyaltyEntries::Debit,
    LoyaltyEntries::Credit,
    LoyaltyEntries::Points,
    LoyaltyEntries::Reverses,
    LoyaltyEntries::OrderId,
    LoyaltyEntries::HoldId,
    LoyaltyEntries::RewardId,
    LoyaltyEntries::Action,
    LoyaltyEntries::WrittenOff,
    LoyaltyEntries::AvailableFrom,
    LoyaltyEntries::ExpiresAt,
    LoyaltyEntries::Reason,
    LoyaltyEntries::Actor,
    LoyaltyEntries::CreatedAt,
];

/// Writes entries, and a lot for every one that credits a customer from the program (an
/// earning or an upward adjustment).
pub(crate) async fn write_entries(
    tx: &mut Tx,
    store: StoreId,
    entries: &[NewEntry],
    now: Timestamp,
) -> Result<(), StoreError> {
    let store_key = store.to_string();
    for chunk in entries.chunks(CHUNK / 2) {
        let mut q = Query::insert();
        q.into_table(LoyaltyEntries::Table).columns(ENTRY_COLUMNS);
        for e in chunk {
            q.values_panic([
                e.id.clone().into(),
                store_key.clone().into(),
                e.customer_id.clone().into(),
                e.kind.as_str().into(),
                e.debit.into(),
                e.credit.into(),
                e.points.into(),
                e.reverses.clone().into(),
                e.order_id.clone().into(),
                e.hold_id.clone().into(),
                e.reward_id.clone().into(),
                e.action.clone().into(),
                e.basis.into(),
                e.written_off.into(),
                e.effective_at.into(),
                e.available_from.into(),
                e.expires_at.into(),
                e.reason.clone().into(),
                e.actor.clone().into(),
                e.dedupe_key.clone().into(),
                now.0.into(),
            ]);
        }
        tx.execute(&q).await?;
    }
    let lots: Vec<&NewEntry> = entries
        .iter()
        .filter(|e| e.debit == account::PROGRAM && e.credit == account::CUSTOMER)
        .collect();
    for chunk in lots.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(LoyaltyLots::Table).columns([
            LoyaltyLots::Id,
            LoyaltyLots::StoreId,
            LoyaltyLots::CustomerId,
            LoyaltyLots::Points,
            LoyaltyLots::Remaining,
            LoyaltyLots::AvailableFrom,
            LoyaltyLots::ExpiresAt,
        ]);
        for e in chunk {
            q.values_panic([
                e.id.clone().into(),
                store_key.clone().into(),
                e.customer_id.clone().into(),
                e.points.into(),
                e.points.into(),
                e.available_from.unwrap_or(e.effective_at).into(),
                e.expires_at.into(),
            ]);
        }
        tx.execute(&q).await?;
    }
    Ok(())
}

/// A lot with points left.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LotRecord {
    pub id: String,
    pub points: i64,
    pub remaining: i64,
    pub available_from: i64,
    pub expires_at: Option<i64>,
}

/// Which lots may give points now: unexpired, and available unless `with_pending`.
fn open_lots(
    store: StoreId,
    customer: &str,
    now: Timestamp,
    with_pending: bool,
) -> sea_query::SelectStatement {
    let mut q = Query::select();
    q.columns([
        LoyaltyLots::Id,
        LoyaltyLots::Points,
        LoyaltyLots::Remaining,
        LoyaltyLots::AvailableFrom,
        LoyaltyLots::ExpiresAt,
    ])
    .from(LoyaltyLots::Table)
    .and_where(Expr::col(LoyaltyLots::StoreId).eq(store.to_string()))
    .and_where(Expr::col(LoyaltyLots::CustomerId).eq(customer))
    .and_where(Expr::col(LoyaltyLots::Remaining).gt(0))
    .and_where(
        Expr::col(LoyaltyLots::ExpiresAt)
            .is_null()
            .or(Expr::col(LoyaltyLots::ExpiresAt).gt(now.0)),
    );
    if !with_pending {
        q.and_where(Expr::col(LoyaltyLots::AvailableFrom).lte(now.0));
    }
    // Soonest expiry first; lots that never expire last; then the oldest.
    q.order_by_expr(Expr::col(LoyaltyLots::ExpiresAt).is_null(), Order::Asc)
        .order_by(LoyaltyLots::ExpiresAt, Order::Asc)
        .order_by(LoyaltyLots::AvailableFrom, Order::Asc)
        .order_by(LoyaltyLots::Id, Order::Asc);
    q.to_owned()
}

/// What to take from a customer's lots.
pub(crate) struct Take<'a> {
    pub customer: &'a str,
    pub points: i64,
    /// Taken from first, whatever its state (a revocation takes from the lot it revokes).
    pub first_lot: Option<&'a str>,
    /// Whether lots still inside the return window may give points.
    pub with_pending: bool,
}

/// Plans taking up to `points` from the customer's lots: first from `first_lot`, then from
/// lots available now, soonest-expiring first (and pending ones if `with_pending`). The moves
/// may add up to less than asked; the caller decides what a shortfall means, writes its entry
/// and then [`apply_moves`] (a move names its entry, so the entry is written first).
pub(crate) async fn plan_take(
    tx: &mut Tx,
    store: StoreId,
    take: Take<'_>,
    now: Timestamp,
) -> Result<Vec<(String, i64)>, StoreError> {
    let Take {
        customer,
        points,
        first_lot,
        with_pending,
    } = take;
    let mut lots: Vec<LotRecord> = Vec::new();
    if let Some(lot) = first_lot {
        let q = Query::select()
            .columns([
                LoyaltyLots::Id,
                LoyaltyLots::Points,
                LoyaltyLots::Remaining,
                LoyaltyLots::AvailableFrom,
                LoyaltyLots::ExpiresAt,
            ])
            .from(LoyaltyLots::Table)
            .and_where(Expr::col(LoyaltyLots::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyLots::Id).eq(lot))
            .and_where(Expr::col(LoyaltyLots::Remaining).gt(0))
            .to_owned();
        lots.extend(tx.fetch_all::<LotRecord>(&q).await?);
    }
    let others: Vec<LotRecord> = tx
        .fetch_all(&open_lots(store, customer, now, with_pending))
        .await?;
    lots.extend(others.into_iter().filter(|l| Some(l.id.as_str()) != first_lot));
    let mut moves: Vec<(String, i64)> = Vec::new();
    let mut left = points;
    for lot in lots {
        if left == 0 {
            break;
        }
        let take = lot.remaining.min(left);
        moves.push((lot.id, take));
        left -= take;
    }
    Ok(moves)
}

pub(crate) fn moved(moves: &[(String, i64)]) -> i64 {
    moves.iter().map(|(_, p)| p).sum()
}

/// Records moves of one entry and applies them to the lots' remaining points (positive:
/// taken from the lot; negative: given back).
pub(crate) async fn apply_moves(
    tx: &mut Tx,
    entry_id: &str,
    moves: &[(String, i64)],
) -> Result<(), StoreError> {
    if moves.is_empty() {
        return Ok(());
    }
    let mut q = Query::insert();
    q.into_table(LoyaltyLotMoves::Table).columns([
        LoyaltyLotMoves::EntryId,
        LoyaltyLotMoves::LotId,
        LoyaltyLotMoves::Points,
    ]);
    for (lot, points) in moves {
        q.values_panic([entry_id.into(), lot.clone().into(), (*points).into()]);
    }
    tx.execute(&q).await?;
    for (lot, points) in moves {
        let q = Query::update()
            .table(LoyaltyLots::Table)
            .value(
                LoyaltyLots::Remaining,
                Expr::col(LoyaltyLots::Remaining).sub(*points),
            )
            .and_where(Expr::col(LoyaltyLots::Id).eq(lot.as_str()))
            .to_owned();
        tx.execute(&q).await?;
    }
    Ok(())
}

/// The moves an entry made, to give them back (a voided hold returns points to their lots).
pub(crate) async fn moves_of(tx: &mut Tx, entry_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let q = Query::select()
        .columns([LoyaltyLotMoves::LotId, LoyaltyLotMoves::Points])
        .from(LoyaltyLotMoves::Table)
        .and_where(Expr::col(LoyaltyLotMoves::EntryId).eq(entry_id))
        .to_owned();
    tx.fetch_all(&q).await
}

/// A customer's points at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Spendable now.
    pub available: i64,
    /// Earned but inside the return window.
    pub pending: i64,
    /// Reserved at checkout.
    pub held: i64,
    /// Available or pending points that expire within the program's warning window.
    pub expiring_soon: i64,
    /// The next date any of their points expire.
    pub next_expiry: Option<i64>,
    pub lifetime_earned: i64,
    pub redeemed: i64,
    pub expired: i64,
}

#[derive(sqlx::FromRow)]
struct LotSums {
    available: Option<i64>,
    pending: Option<i64>,
    expiring: Option<i64>,
    next_expiry: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct KindSum {
    kind: String,
    debit: String,
    credit: String,
    points: Option<i64>,
    written_off: Option<i64>,
}

pub(crate) fn sum_case(condition: SimpleExpr) -> SimpleExpr {
    Expr::case(condition, Expr::col(LoyaltyLots::Remaining))
        .finally(Expr::val(0i64))
        .into()
}

async fn balance_on<E: BalanceSource>(
    exec: &mut E,
    store: StoreId,
    customer: &str,
    now: Timestamp,
    warning_days: u32,
) -> Result<Balance, StoreError> {
    let unexpired = Expr::col(LoyaltyLots::ExpiresAt)
        .is_null()
        .or(Expr::col(LoyaltyLots::ExpiresAt).gt(now.0));
    let warn_until = now.0 + i64::from(warning_days) * super::DAY_MS;
    let q = Query::select()
        .expr_as(
            sum_i64(Expr::expr(sum_case(
                Expr::col(LoyaltyLots::AvailableFrom)
                    .lte(now.0)
                    .and(unexpired.clone()),
            ))),
            sea_query::Alias::new("available"),
        )
        .expr_as(
            sum_i64(Expr::expr(sum_case(
                Expr::col(LoyaltyLots::AvailableFrom)
                    .gt(now.0)
                    .and(unexpired.clone()),
            ))),
            sea_query::Alias::new("pending"),
        )
        .expr_as(
            sum_i64(Expr::expr(sum_case(
                Expr::col(LoyaltyLots::ExpiresAt)
                    .gt(now.0)
                    .and(Expr::col(LoyaltyLots::ExpiresAt).lte(warn_until)),
            ))),
            sea_query::Alias::new("expiring"),
        )
        .expr_as(
            Expr::expr(SimpleExpr::Case(Box::new(
                Expr::case(unexpired, Expr::col(LoyaltyLots::ExpiresAt))
                    .finally(Expr::val(Option::<i64>::None)),
            )))
            .min(),
            sea_query::Alias::new("next_expiry"),
        )
        .from(LoyaltyLots::Table)
        .and_where(Expr::col(LoyaltyLots::StoreId).eq(store.to_string()))
        .and_where(Expr::col(LoyaltyLots::CustomerId).eq(customer))
        .and_where(Expr::col(LoyaltyLots::Remaining).gt(0))
        .to_owned();
    let sums: LotSums = exec.one(&q).await?;
    let q = Query::select()
        .columns([
            LoyaltyEntries::Kind,
            LoyaltyEntries::Debit,
            LoyaltyEntries::Credit,
        ])
        .expr_as(
            sum_i64(Expr::col(LoyaltyEntries::Points)),
            sea_query::Alias::new("points"),
        )
        .expr_as(
            sum_i64(Expr::col(LoyaltyEntries::WrittenOff)),
            sea_query::Alias::new("written_off"),
        )
        .from(LoyaltyEntries::Table)
        .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store.to_string()))
        .and_where(Expr::col(LoyaltyEntries::CustomerId).eq(customer))
        .group_by_columns([
            LoyaltyEntries::Kind,
            LoyaltyEntries::Debit,
            LoyaltyEntries::Credit,
        ])
        .to_owned();
    let kinds: Vec<KindSum> = exec.all(&q).await?;
    let mut balance = Balance {
        available: sums.available.unwrap_or(0),
        pending: sums.pending.unwrap_or(0),
        expiring_soon: sums.expiring.unwrap_or(0),
        next_expiry: sums.next_expiry,
        ..Balance::default()
    };
    let mut revoked = 0;
    for k in kinds {
        let points = k.points.unwrap_or(0);
        match (k.kind.as_str(), k.debit.as_str(), k.credit.as_str()) {
            ("earn", _, _) => balance.lifetime_earned += points,
            ("revoke", _, _) => revoked += points + k.written_off.unwrap_or(0),
            ("hold", _, _) => balance.held += points,
            ("release", _, _) | ("capture", _, _) => balance.held -= points,
            _ => {}
        }
        match k.credit.as_str() {
            account::REDEEMED => balance.redeemed += points,
            account::EXPIRED => balance.expired += points,
            _ => {}
        }
    }
    balance.lifetime_earned -= revoked;
    Ok(balance)
}

/// Runs a read on a pool or inside a transaction.
pub(crate) trait BalanceSource {
    async fn one<T: crate::Row>(&mut self, q: &sea_query::SelectStatement) -> Result<T, StoreError>;
    async fn all<T: crate::Row>(&mut self, q: &sea_query::SelectStatement) -> Result<Vec<T>, StoreError>;
}

impl BalanceSource for &Db {
    async fn one<T: crate::Row>(&mut self, q: &sea_query::SelectStatement) -> Result<T, StoreError> {
        self.fetch_optional(q).await?.ok_or(StoreError::NotFound("row"))
    }
    async fn all<T: crate::Row>(&mut self, q: &sea_query::SelectStatement) -> Result<Vec<T>, StoreError> {
        self.fetch_all(q).await
    }
}

impl BalanceSource for Tx {
    async fn one<T: crate::Row>(&mut self, q: &sea_query::SelectStatement) -> Result<T, StoreError> {
        self.fetch_optional(q).await?.ok_or(StoreError::NotFound("row"))
    }
    async fn all<T: crate::Row>(&mut self, q: &sea_query::SelectStatement) -> Result<Vec<T>, StoreError> {
        self.fetch_all(q).await
    }
}

impl Db {
    /// The customer's points now (see [`Balance`]).
    pub async fn points_balance(
        &self,
        store: StoreId,
        customer: CustomerId,
        now: Timestamp,
        warning_days: u32,
    ) -> Result<Balance, StoreError> {
        let mut db = self;
        balance_on(&mut db, store, &customer.to_string(), now, warning_days).await
    }

    /// The customer's entries, newest first; `before` is the id of the last entry of the
    /// previous page.
    pub async fn points_history(
        &self,
        store: StoreId,
        customer: CustomerId,
        before: Option<&str>,
        limit: u64,
    ) -> Result<Vec<EntryRecord>, StoreError> {
        let mut q = Query::select();
        q.columns(RECORD_COLUMNS)
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyEntries::CustomerId).eq(customer.to_string()));
        if let Some(before) = before {
            q.and_where(Expr::col(LoyaltyEntries::Id).lt(before));
        }
        q.order_by(LoyaltyEntries::Id, Order::Desc)
            .limit(limit.clamp(1, 500));
        self.fetch_all(&q).await
    }

    /// The customer's lots with points left (pending, available, or past expiry and waiting
    /// for the nightly job), soonest expiry first.
    pub async fn points_lots(
        &self,
        store: StoreId,
        customer: CustomerId,
    ) -> Result<Vec<LotRecord>, StoreError> {
        let q = Query::select()
            .columns([
                LoyaltyLots::Id,
                LoyaltyLots::Points,
                LoyaltyLots::Remaining,
                LoyaltyLots::AvailableFrom,
                LoyaltyLots::ExpiresAt,
            ])
            .from(LoyaltyLots::Table)
            .and_where(Expr::col(LoyaltyLots::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyLots::CustomerId).eq(customer.to_string()))
            .and_where(Expr::col(LoyaltyLots::Remaining).gt(0))
            .order_by_expr(Expr::col(LoyaltyLots::ExpiresAt).is_null(), Order::Asc)
            .order_by(LoyaltyLots::ExpiresAt, Order::Asc)
            .order_by(LoyaltyLots::AvailableFrom, Order::Asc)
            .to_owned();
        self.fetch_all(&q).await
    }
}

impl Tx {
    pub async fn points_balance(
        &mut self,
        store: StoreId,
        customer: CustomerId,
        now: Timestamp,
        warning_days: u32,
    ) -> Result<Balance, StoreError> {
        balance_on(self, store, &customer.to_string(), now, warning_days).await
    }

    /// An entry by its dedupe key, if one was written.
    pub(crate) async fn entry_by_key(
        &mut self,
        store: StoreId,
        key: &str,
    ) -> Result<Option<EntryRecord>, StoreError> {
        let q = Query::select()
            .columns(RECORD_COLUMNS)
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyEntries::DedupeKey).eq(key))
            .to_owned();
        self.fetch_optional(&q).await
    }

    pub(crate) async fn entry(&mut self, store: StoreId, id: &str) -> Result<EntryRecord, StoreError> {
        let q = Query::select()
            .columns(RECORD_COLUMNS)
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyEntries::Id).eq(id))
            .to_owned();
        self.fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("ledger entry"))
    }
}
