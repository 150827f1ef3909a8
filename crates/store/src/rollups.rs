//! Running totals the overview reads instead of scanning orders: orders and net revenue per
//! quarter hour, and how many customers ever bought (once, twice or more). Every write that
//! changes what they count applies its difference in the same transaction, so they are never
//! ahead of or behind the orders themselves.

use std::collections::HashMap;

use regulars_domain::{Currency, StoreId};
use sea_query::{Expr, OnConflict, Query};

use crate::schema::{Customers, OrderBuckets, Orders, StoreCounters};
use crate::{StoreError, Tx, CHUNK};

/// A quarter hour: the finest step of any time zone's UTC offset.
pub(crate) const BUCKET_MS: i64 = 900_000;

/// Orders and net revenue per bucket.
pub(crate) type Buckets = HashMap<i64, (i64, i64)>;

/// What these orders add to the buckets as they are stored now: not cancelled, in the store's
/// currency, net of refunds.
pub(crate) async fn contributions(
    tx: &mut Tx,
    store: StoreId,
    currency: Currency,
    orders: &[&str],
) -> Result<Buckets, StoreError> {
    let mut out = Buckets::new();
    for chunk in orders.chunks(CHUNK) {
        let q = Query::select()
            .columns([Orders::PlacedAt, Orders::Total, Orders::RefundedTotal])
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Orders::Id).is_in(chunk.iter().copied()))
            .and_where(Expr::col(Orders::CancelledAt).is_null())
            .and_where(Expr::col(Orders::Currency).eq(currency.code()))
            .to_owned();
        let rows: Vec<(i64, i64, i64)> = tx.fetch_all(&q).await?;
        for (placed_at, total, refunded) in rows {
            let slot = out.entry(placed_at.div_euclid(BUCKET_MS)).or_default();
            slot.0 += 1;
            slot.1 += total - refunded;
        }
    }
    Ok(out)
}

/// Applies `after - before` to the store's buckets.
pub(crate) async fn apply_bucket_changes(
    tx: &mut Tx,
    store: StoreId,
    before: &Buckets,
    after: &Buckets,
) -> Result<(), StoreError> {
    let mut delta: Vec<(i64, i64, i64)> = Vec::new();
    for bucket in before.keys().chain(after.keys()) {
        let (o1, r1) = after.get(bucket).copied().unwrap_or_default();
        let (o0, r0) = before.get(bucket).copied().unwrap_or_default();
        if (o1 - o0, r1 - r0) != (0, 0) && !delta.iter().any(|d| d.0 == *bucket) {
            delta.push((*bucket, o1 - o0, r1 - r0));
        }
    }
    for chunk in delta.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(OrderBuckets::Table).columns([
            OrderBuckets::StoreId,
            OrderBuckets::Bucket,
            OrderBuckets::Orders,
            OrderBuckets::RevenueMinor,
        ]);
        for (bucket, orders, revenue) in chunk {
            q.values_panic([
                store.to_string().into(),
                (*bucket).into(),
                (*orders).into(),
                (*revenue).into(),
            ]);
        }
        q.on_conflict(
            OnConflict::columns([OrderBuckets::StoreId, OrderBuckets::Bucket])
                .value(
                    OrderBuckets::Orders,
                    Expr::col((OrderBuckets::Table, OrderBuckets::Orders)).add(Expr::cust("excluded.orders")),
                )
                .value(
                    OrderBuckets::RevenueMinor,
                    Expr::col((OrderBuckets::Table, OrderBuckets::RevenueMinor))
                        .add(Expr::cust("excluded.revenue_minor")),
                )
                .to_owned(),
        );
        tx.execute(&q).await?;
    }
    Ok(())
}

/// The order counts of these customers as stored now.
pub(crate) async fn order_counts(
    tx: &mut Tx,
    store: StoreId,
    customers: &[&str],
) -> Result<HashMap<String, i64>, StoreError> {
    let mut out = HashMap::new();
    for chunk in customers.chunks(CHUNK) {
        let q = Query::select()
            .columns([Customers::Id, Customers::OrdersCount])
            .from(Customers::Table)
            .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Customers::Id).is_in(chunk.iter().copied()))
            .to_owned();
        out.extend(tx.fetch_all::<(String, i64)>(&q).await?);
    }
    Ok(out)
}

/// Moves the store's buyer counters by how these customers' order counts changed.
pub(crate) async fn apply_counter_changes(
    tx: &mut Tx,
    store: StoreId,
    before: &HashMap<String, i64>,
    after: &HashMap<String, i64>,
) -> Result<(), StoreError> {
    let (mut buyers, mut repeat) = (0i64, 0i64);
    for (id, now) in after {
        let was = before.get(id).copied().unwrap_or(0);
        buyers += i64::from(*now >= 1) - i64::from(was >= 1);
        repeat += i64::from(*now >= 2) - i64::from(was >= 2);
    }
    if (buyers, repeat) == (0, 0) {
        return Ok(());
    }
    let q = Query::insert()
        .into_table(StoreCounters::Table)
        .columns([
            StoreCounters::StoreId,
            StoreCounters::Buyers,
            StoreCounters::RepeatBuyers,
        ])
        .values_panic([store.to_string().into(), buyers.into(), repeat.into()])
        .on_conflict(
            OnConflict::column(StoreCounters::StoreId)
                .value(
                    StoreCounters::Buyers,
                    Expr::col((StoreCounters::Table, StoreCounters::Buyers))
                        .add(Expr::cust("excluded.buyers")),
                )
                .value(
                    StoreCounters::RepeatBuyers,
                    Expr::col((StoreCounters::Table, StoreCounters::RepeatBuyers))
                        .add(Expr::cust("excluded.repeat_buyers")),
                )
                .to_owned(),
        )
        .to_owned();
    tx.execute(&q).await?;
    Ok(())
}
