//! The dashboard's overview figures for a period, read from running totals kept with every
//! write (see `rollups`) and from indexed customer columns, so they stay fast with millions of
//! orders.

use regulars_domain::Timestamp;
use sea_query::{Alias, Expr, Order, Query};
use serde::Serialize;

use crate::rollups::BUCKET_MS;
use crate::schema::{Customers, OrderBuckets, Orders, StoreCounters};
use crate::{Db, StoreError, StoreRecord};

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Overview {
    pub from: Timestamp,
    pub to: Timestamp,
    /// Orders placed in the period, cancelled ones excluded.
    pub orders: i64,
    /// Their totals net of refunds, in the store's currency (minor units).
    pub revenue_minor: i64,
    /// Customers whose first order fell in the period.
    pub new_customers: i64,
    /// Customers who ordered in the period and had ordered before it.
    pub returning_customers: i64,
    /// Of all customers who ever ordered, the share who ordered at least twice.
    pub repeat_purchase_rate: f64,
    /// Orders and revenue per calendar day of the store's time zone, oldest first; days
    /// without orders are present with zeros.
    pub daily: Vec<DailyFigures>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DailyFigures {
    /// Midnight that starts the day, in the store's time zone.
    pub day: Timestamp,
    pub orders: i64,
    pub revenue_minor: i64,
}

impl Db {
    /// Figures for `[from, to)`. Days are cut at the store's midnight (its UTC offset at `to`).
    pub async fn overview(
        &self,
        store: &StoreRecord,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Overview, StoreError> {
        let store_key = store.id.to_string();
        let in_period = |q: &mut sea_query::SelectStatement| {
            q.and_where(Expr::col((Orders::Table, Orders::StoreId)).eq(store_key.as_str()))
                .and_where(Expr::col((Orders::Table, Orders::PlacedAt)).gte(from.0))
                .and_where(Expr::col((Orders::Table, Orders::PlacedAt)).lt(to.0))
                .and_where(Expr::col((Orders::Table, Orders::CancelledAt)).is_null())
                .and_where(Expr::col((Orders::Table, Orders::Currency)).eq(store.currency.code()));
        };
        let offset = utc_offset_ms(store, to);
        // Two integers of ours, written inline: bound values in custom SQL need a different
        // placeholder syntax on each backend.
        let day = Expr::cust(format!("((placed_at + {offset}) / {DAY_MS})"));
        let aligned = from.0 % BUCKET_MS == 0 && to.0 % BUCKET_MS == 0;
        let (rows, new_customers, returning_customers): (Vec<(i64, i64, i64)>, i64, i64) = if aligned {
            // Whole quarter hours: the running totals answer, summed per day in the database
            // (a year is 35,040 buckets, 365 rows out).
            let day_of_bucket = Expr::cust(format!("((bucket * {BUCKET_MS} + {offset}) / {DAY_MS})"));
            let sum = |col: &str| Expr::cust(format!("CAST(COALESCE(SUM({col}), 0) AS BIGINT)"));
            let q = Query::select()
                .expr_as(day_of_bucket, Alias::new("day_index"))
                .expr(sum("orders"))
                .expr(sum("revenue_minor"))
                .expr(sum("first_orders"))
                .from(OrderBuckets::Table)
                .and_where(Expr::col(OrderBuckets::StoreId).eq(store_key.as_str()))
                .and_where(Expr::col(OrderBuckets::Bucket).gte(from.0 / BUCKET_MS))
                .and_where(Expr::col(OrderBuckets::Bucket).lt(to.0 / BUCKET_MS))
                .group_by_col(Alias::new("day_index"))
                .to_owned();
            let days: Vec<(i64, i64, i64, i64)> = self.fetch_all(&q).await?;
            let new = days.iter().map(|d| d.3).sum();
            // Whoever's last order is at or after `from` but whose first is before it: in a
            // period that runs to now, exactly the customers who came back in it.
            let returning = if to.0 >= Timestamp::now().0 {
                let q = Query::select()
                    .expr(sum("last_orders - first_orders"))
                    .from(OrderBuckets::Table)
                    .and_where(Expr::col(OrderBuckets::StoreId).eq(store_key.as_str()))
                    .and_where(Expr::col(OrderBuckets::Bucket).gte(from.0 / BUCKET_MS))
                    .to_owned();
                Some(self.fetch_optional::<(i64,)>(&q).await?.unwrap_or((0,)).0)
            } else {
                None
            };
            let rows = days.into_iter().map(|(d, o, r, _)| (d, o, r)).collect();
            match returning {
                Some(r) => (rows, new, r),
                None => (rows, new, self.returning_by_orders(store, from, to).await?),
            }
        } else {
            let mut daily = Query::select();
            daily
                .expr_as(day.clone(), Alias::new("day_index"))
                .expr_as(Expr::col(Orders::Id).count(), Alias::new("orders"))
                // PostgreSQL sums BIGINT as NUMERIC: cast back so both backends answer an i64.
                .expr_as(
                    Expr::cust("CAST(COALESCE(SUM(total - refunded_total), 0) AS BIGINT)"),
                    Alias::new("revenue"),
                )
                .from(Orders::Table)
                .group_by_col(Alias::new("day_index"))
                .order_by(Alias::new("day_index"), Order::Asc);
            in_period(&mut daily);
            let rows = self.fetch_all(&daily).await?;
            let new_customers = Query::select()
                .expr(Expr::col(Customers::Id).count())
                .from(Customers::Table)
                .and_where(Expr::col(Customers::StoreId).eq(store_key.as_str()))
                .and_where(Expr::col(Customers::FirstOrderAt).gte(from.0))
                .and_where(Expr::col(Customers::FirstOrderAt).lt(to.0))
                .to_owned();
            let (new,): (i64,) = self.fetch_optional(&new_customers).await?.unwrap_or((0,));
            (rows, new, self.returning_by_orders(store, from, to).await?)
        };
        let first_day = (from.0 + offset).div_euclid(DAY_MS);
        let last_day = (to.0 - 1 + offset).div_euclid(DAY_MS);
        let mut series: Vec<DailyFigures> = (first_day..=last_day)
            .map(|d| DailyFigures {
                day: Timestamp(d * DAY_MS - offset),
                orders: 0,
                revenue_minor: 0,
            })
            .collect();
        for (index, orders, revenue) in &rows {
            if let Some(slot) = series.get_mut((index - first_day) as usize) {
                slot.orders = *orders;
                slot.revenue_minor = *revenue;
            }
        }

        let counters = Query::select()
            .columns([StoreCounters::Buyers, StoreCounters::RepeatBuyers])
            .from(StoreCounters::Table)
            .and_where(Expr::col(StoreCounters::StoreId).eq(store_key.as_str()))
            .to_owned();
        let (ever, repeat): (i64, i64) = self.fetch_optional(&counters).await?.unwrap_or((0, 0));

        Ok(Overview {
            from,
            to,
            orders: series.iter().map(|d| d.orders).sum(),
            revenue_minor: series.iter().map(|d| d.revenue_minor).sum(),
            new_customers,
            returning_customers,
            repeat_purchase_rate: if ever == 0 {
                0.0
            } else {
                repeat as f64 / ever as f64
            },
            daily: series,
        })
    }
}

impl Db {
    /// Customers who ordered in `[from, to)` and had ordered before it, counted from the orders.
    async fn returning_by_orders(
        &self,
        store: &StoreRecord,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<i64, StoreError> {
        let mut returning = Query::select();
        returning
            .expr(Expr::col((Orders::Table, Orders::CustomerId)).count_distinct())
            .from(Orders::Table)
            .inner_join(
                Customers::Table,
                Expr::col((Customers::Table, Customers::Id)).equals((Orders::Table, Orders::CustomerId)),
            )
            .and_where(Expr::col((Orders::Table, Orders::StoreId)).eq(store.id.to_string()))
            .and_where(Expr::col((Orders::Table, Orders::PlacedAt)).gte(from.0))
            .and_where(Expr::col((Orders::Table, Orders::PlacedAt)).lt(to.0))
            .and_where(Expr::col((Orders::Table, Orders::CancelledAt)).is_null())
            .and_where(Expr::col((Orders::Table, Orders::Currency)).eq(store.currency.code()))
            .and_where(Expr::col((Customers::Table, Customers::FirstOrderAt)).lt(from.0));
        Ok(self.fetch_optional::<(i64,)>(&returning).await?.unwrap_or((0,)).0)
    }
}

/// The store's offset from UTC at a moment, in milliseconds.
fn utc_offset_ms(store: &StoreRecord, at: Timestamp) -> i64 {
    use chrono::Offset;
    let local = at.to_datetime().with_timezone(&store.timezone.0);
    i64::from(local.offset().fix().local_minus_utc()) * 1000
}

/// The start of today in the store's time zone, and `days` days before it: the usual period.
pub fn last_days(store: &StoreRecord, now: Timestamp, days: i64) -> (Timestamp, Timestamp) {
    let offset = utc_offset_ms(store, now);
    let tomorrow = ((now.0 + offset).div_euclid(DAY_MS) + 1) * DAY_MS - offset;
    (Timestamp(tomorrow - days * DAY_MS), Timestamp(tomorrow))
}
