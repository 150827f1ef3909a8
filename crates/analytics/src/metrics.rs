//! Retention metrics over transactions: pure functions, no IO.
//!
//! * [`kpis`](mod@kpis): repeat-purchase rate, purchase frequency, average order value, historic CLV.
//! * [`cohorts`]: monthly retention and churn, the cohort matrix by first-order month and the
//!   retention curve.
//! * [`rfm`](mod@rfm): recency / frequency / monetary quintile scores, the 11 segments and VIPs.
//! * [`cac`]: acquisition cost, lifetime value and payback per channel.
//!
//! Inputs are [`Transaction`](crate::summary::Transaction)s (one order each) or per-customer
//! [`CustomerTotals`]; figures that are undefined (a rate over zero customers) are `None`.

pub mod cac;
pub mod cohorts;
pub mod kpis;
pub mod rfm;

pub use cac::{channel_economics, ChannelEconomics, ChannelInput};
pub use cohorts::{
    cohort_matrix, monthly_retention, retention_curve, Cohort, CohortCell, CohortMatrix, MonthlyRetention,
    RetentionPoint, YearMonth,
};
pub use kpis::{
    average_order_value, customer_totals, historic_clv, kpis, purchase_frequency, repeat_purchase_rate,
    CustomerTotals, Kpis,
};
pub use rfm::{quintile_scores, rfm, rfm_scores, rfm_values, vips, Rfm, RfmValues, Segment, VipRule};
