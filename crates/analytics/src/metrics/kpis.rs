//! Store-wide purchase KPIs.
//!
//! Every transaction is one order. With `customers` = distinct customers, `orders` = their
//! transactions and `revenue` = the sum of the amounts:
//!
//! | KPI | definition |
//! |---|---|
//! | repeat-purchase rate | customers with 2 orders or more ÷ customers |
//! | purchase frequency | orders ÷ customers |
//! | average order value (AOV) | revenue ÷ orders |
//! | historic CLV | AOV × purchase frequency (= revenue ÷ customers); per customer, their total spend ([`CustomerTotals::total`]) |
//!
//! Each is `None` when its denominator is 0.

use crate::summary::{summarize, Bucket, SummaryOptions, Transaction};
use crate::TimeUnit;
use serde::Serialize;

/// One customer's orders and spend.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CustomerTotals {
    pub customer: u64,
    /// Orders (transactions), every one counted, several on one day too.
    pub orders: u32,
    /// Sum of the orders' amounts: the customer's historic CLV.
    pub total: f64,
    /// Day of the first order (days since 1970-01-01).
    pub first_day: i32,
    /// Day of the last order.
    pub last_day: i32,
}

/// Store-wide KPIs (see the module table for the definitions).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Kpis {
    pub customers: u64,
    pub orders: u64,
    pub revenue: f64,
    /// Customers with 2 orders or more.
    pub repeat_customers: u64,
    pub repeat_purchase_rate: Option<f64>,
    pub purchase_frequency: Option<f64>,
    pub average_order_value: Option<f64>,
    pub historic_clv: Option<f64>,
}

/// Per-customer orders, spend, first and last order day, sorted by customer.
pub fn customer_totals(transactions: &[Transaction]) -> Vec<CustomerTotals> {
    let options = SummaryOptions {
        bucket: Bucket::Day,
        unit: TimeUnit::Day,
        observation_end: i32::MAX,
    };
    summarize(transactions, &options)
        .into_iter()
        .map(|s| CustomerTotals {
            customer: s.customer,
            orders: s.transactions,
            total: s.total,
            first_day: s.first_day,
            last_day: s.last_day,
        })
        .collect()
}

/// All KPIs at once (see the module table for each definition).
pub fn kpis(totals: &[CustomerTotals]) -> Kpis {
    let customers = totals.len() as u64;
    let orders: u64 = totals.iter().map(|t| u64::from(t.orders)).sum();
    let revenue: f64 = totals.iter().map(|t| t.total).sum();
    let repeat_customers = totals.iter().filter(|t| t.orders >= 2).count() as u64;
    Kpis {
        customers,
        orders,
        revenue,
        repeat_customers,
        repeat_purchase_rate: ratio(repeat_customers as f64, customers),
        purchase_frequency: ratio(orders as f64, customers),
        average_order_value: ratio(revenue, orders),
        historic_clv: ratio(revenue, customers),
    }
}

/// Repeat-purchase rate: customers with 2 orders or more ÷ customers.
pub fn repeat_purchase_rate(totals: &[CustomerTotals]) -> Option<f64> {
    kpis(totals).repeat_purchase_rate
}

/// Purchase frequency: orders ÷ customers.
pub fn purchase_frequency(totals: &[CustomerTotals]) -> Option<f64> {
    kpis(totals).purchase_frequency
}

/// Average order value: revenue ÷ orders.
pub fn average_order_value(totals: &[CustomerTotals]) -> Option<f64> {
    kpis(totals).average_order_value
}

/// Historic CLV: average order value × purchase frequency, which is revenue ÷ customers. A
/// single customer's historic CLV is their [`CustomerTotals::total`].
pub fn historic_clv(totals: &[CustomerTotals]) -> Option<f64> {
    kpis(totals).historic_clv
}

fn ratio(numerator: f64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator / denominator as f64)
}
