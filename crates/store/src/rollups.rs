//! Running totals the overview reads instead of scanning orders and customers: per quarter
//! hour, the orders and their net revenue, and the customers whose first and whose last order
//! fell in it; per store, how many customers ever bought (once, twice or more). Every write
//! that changes what they count applies its difference in the same transaction, so they are
//! never ahead of or behind the orders themselves.

use std::collections::HashMap;

use regulars_domain::{Currency, StoreId};
use sea_query::{Expr, OnConflict, Query};

use crate::schema::{Customers, OrderBuckets, Orders, StoreCounters};
use crate::{StoreError, Tx, CHUNK};

/// A quarter hour: the finest step of any time zone's UTC offset.
pub(crate) const BUCKET_MS: i64 = 900_000;

/// Per bucket: orders, net revenue, customers' first orders, customers' last orders.
pub(crate) type Buckets = HashMap<i64, [i64; 4]>;

fn bucket_of(at: i64) -> i64 {
    at.div_euclid(BUCKET_MS)
}

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
            let slot = out.entry(bucket_of(placed_at)).or_default();
            slot[0] += 1;
            slot[1] += total - refunded;
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
    let mut delta: Vec<(i64, [i64; 4])> = Vec::new();
    let buckets: std::collections::BTreeSet<i64> = before.keys().chain(after.keys()).copied().collect();
    for bucket in buckets {
        let (a, b) = (
            after.get(&bucket).copied().unwrap_or_default(),
            before.get(&bucket).copied().unwrap_or_default(),
        );
        let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]];
        if d != [0; 4] {
            delta.push((bucket, d));
        }
    }
    let add = |col: OrderBuckets, name: &str| {
        (
            col,
            Expr::col((OrderBuckets::Table, col)).add(Expr::cust(format!("excluded.{name}"))),
        )
    };
    for chunk in delta.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(OrderBuckets::Table).columns([
            OrderBuckets::StoreId,
            OrderBuckets::Bucket,
            OrderBuckets::Orders,
            OrderBuckets::RevenueMinor,
            OrderBuckets::FirstOrders,
            OrderBuckets::LastOrders,
        ]);
        for (bucket, d) in chunk {
            q.values_panic([
                store.to_string().into(),
                (*bucket).into(),
                d[0].into(),
                d[1].into(),
                d[2].into(),
                d[3].into(),
            ]);
        }
        let (c0, e0) = add(OrderBuckets::Orders, "orders");
        let (c1, e1) = add(OrderBuckets::RevenueMinor, "revenue_minor");
        let (c2, e2) = add(OrderBuckets::FirstOrders, "first_orders");
        let (c3, e3) = add(OrderBuckets::LastOrders, "last_orders");
        q.on_conflict(
            OnConflict::columns([OrderBuckets::StoreId, OrderBuckets::Bucket])
                .value(c0, e0)
                .value(c1, e1)
                .value(c2, e2)
                .value(c3, e3)
                .to_owned(),
        );
        tx.execute(&q).await?;
    }
    Ok(())
}

/// What the overview counts of a customer: orders, first and last order time.
pub(crate) type CustomerFigures = HashMap<String, (i64, Option<i64>, Option<i64>)>;

/// These customers' order counts and first and last order times as stored now.
pub(crate) async fn customer_figures(
    tx: &mut Tx,
    store: StoreId,
    customers: &[&str],
) -> Result<CustomerFigures, StoreError> {
    let mut out = HashMap::new();
    for chunk in customers.chunks(CHUNK) {
        let q = Query::select()
            .columns([
                Customers::Id,
                Customers::OrdersCount,
                Customers::FirstOrderAt,
                Customers::LastOrderAt,
            ])
            .from(Customers::Table)
            .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Customers::Id).is_in(chunk.iter().copied()))
            .to_owned();
        let rows: Vec<(String, i64, Option<i64>, Option<i64>)> = tx.fetch_all(&q).await?;
        out.extend(
            rows.into_iter()
                .map(|(id, n, first, last)| (id, (n, first, last))),
        );
    }
    Ok(out)
}

/// Moves the store's buyer counters, and the first- and last-order buckets, by how these
/// customers' figures changed.
pub(crate) async fn apply_customer_changes(
    tx: &mut Tx,
    store: StoreId,
    before: &CustomerFigures,
    after: &CustomerFigures,
) -> Result<(), StoreError> {
    let (mut buyers, mut repeat) = (0i64, 0i64);
    let (mut was_buckets, mut now_buckets) = (Buckets::new(), Buckets::new());
    for (id, (count, first, last)) in after {
        let (was_count, was_first, was_last) = before.get(id).copied().unwrap_or((0, None, None));
        buyers += i64::from(*count >= 1) - i64::from(was_count >= 1);
        repeat += i64::from(*count >= 2) - i64::from(was_count >= 2);
        for (slot, was, now) in [(2, was_first, *first), (3, was_last, *last)] {
            if was != now {
                if let Some(at) = was {
                    was_buckets.entry(bucket_of(at)).or_default()[slot] += 1;
                }
                if let Some(at) = now {
                    now_buckets.entry(bucket_of(at)).or_default()[slot] += 1;
                }
            }
        }
    }
    apply_bucket_changes(tx, store, &was_buckets, &now_buckets).await?;
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
