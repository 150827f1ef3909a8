//! Monthly retention, cohorts by first-order month and the retention curve.
//!
//! Months are calendar months of the transactions' days. A customer is **active** in a month
//! when they bought at least once in it.
//!
//! * **Retention** of month k = customers active in k who are active again in k + 1 ÷ customers
//!   active in k; **churn** = 1 − retention ([`monthly_retention`]).
//! * A **cohort** is the customers whose first order fell in one month; its row holds, for each
//!   month offset 0, 1, … up to the last month with any transaction, how many of its customers
//!   bought in that month and their revenue ([`cohort_matrix`]). Offset 0 is the first-order
//!   month itself, so its buyers are the whole cohort.
//! * The **retention curve** at offset k is the share of a cohort buying k months after its
//!   first-order month, averaged over the cohorts observed that long ([`retention_curve`]).

use crate::summary::{first_day_of_month, month_of_day, year_month, Transaction};
use serde::{Serialize, Serializer};
use std::fmt;

/// A calendar month; shown and serialised as `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl YearMonth {
    /// The month holding a day (days since 1970-01-01).
    pub fn of_day(day: i32) -> Self {
        Self::from_index(month_of_day(day))
    }

    /// From a month number: months since January 1970.
    pub fn from_index(index: i32) -> Self {
        let (year, month) = year_month(index);
        Self { year, month }
    }

    /// Months since January 1970.
    pub fn index(self) -> i32 {
        (self.year - 1970) * 12 + self.month as i32 - 1
    }

    /// The month's first day (days since 1970-01-01).
    pub fn first_day(self) -> i32 {
        first_day_of_month(self.index())
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for YearMonth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Retention from one month to the next.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MonthlyRetention {
    pub month: YearMonth,
    /// Customers who bought in `month`.
    pub active: u64,
    /// Of those, customers who bought again in the following month.
    pub retained: u64,
    /// `retained / active`; `None` when nobody bought in `month`.
    pub retention: Option<f64>,
    /// `1 − retention`.
    pub churn: Option<f64>,
}

/// Buyers and revenue of one cohort in one month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CohortCell {
    /// Customers of the cohort who bought in the month.
    pub customers: u64,
    /// What the cohort spent in the month.
    pub revenue: f64,
}

/// Customers whose first order fell in `month`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cohort {
    pub month: YearMonth,
    /// Customers in the cohort.
    pub size: u64,
    /// `cells[k]` = month `month + k`, from 0 up to the last month with any transaction.
    pub cells: Vec<CohortCell>,
}

impl Cohort {
    /// Share of the cohort buying `offset` months after its first-order month; `None` beyond the
    /// observed months.
    pub fn retention(&self, offset: usize) -> Option<f64> {
        let cell = self.cells.get(offset)?;
        (self.size > 0).then(|| cell.customers as f64 / self.size as f64)
    }
}

/// Cohorts by first-order month, oldest first; months without new customers have no row.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CohortMatrix {
    pub cohorts: Vec<Cohort>,
}

/// One point of the retention curve.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RetentionPoint {
    /// Months after the first-order month.
    pub offset: u32,
    /// Mean over the observed cohorts of (buyers at `offset` ÷ cohort size): every cohort
    /// counts the same.
    pub retention: f64,
    /// Buyers at `offset` ÷ customers, summed over the observed cohorts: every customer counts
    /// the same.
    pub weighted_retention: f64,
    /// Cohorts observed `offset` months after their first month.
    pub cohorts: u32,
    /// Their buyers at `offset`.
    pub customers: u64,
}

/// (customer, month) pairs, sorted, with the amount of each transaction.
fn customer_months(transactions: &[Transaction]) -> Vec<(u64, i32, f64)> {
    let mut rows: Vec<(u64, i32, f64)> = transactions
        .iter()
        .map(|t| (t.customer, month_of_day(t.day), t.amount))
        .collect();
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    rows
}

/// Retention and churn for every month from the first month with a transaction up to the
/// month before the last one (the last month's successor is not observed yet). See the module
/// documentation for the definitions.
pub fn monthly_retention(transactions: &[Transaction]) -> Vec<MonthlyRetention> {
    let rows = customer_months(transactions);
    let Some((first, last)) = month_range(&rows) else {
        return Vec::new();
    };
    let months = (last - first) as usize + 1;
    let mut active = vec![0u64; months];
    let mut retained = vec![0u64; months];
    let mut previous: Option<(u64, i32)> = None;
    for &(customer, month, _) in &rows {
        if previous == Some((customer, month)) {
            continue;
        }
        active[(month - first) as usize] += 1;
        if previous == Some((customer, month - 1)) {
            retained[(month - 1 - first) as usize] += 1;
        }
        previous = Some((customer, month));
    }
    (0..months - 1)
        .map(|i| {
            let retention = (active[i] > 0).then(|| retained[i] as f64 / active[i] as f64);
            MonthlyRetention {
                month: YearMonth::from_index(first + i as i32),
                active: active[i],
                retained: retained[i],
                retention,
                churn: retention.map(|r| 1.0 - r),
            }
        })
        .collect()
}

/// The cohort matrix by first-order month (see the module documentation).
pub fn cohort_matrix(transactions: &[Transaction]) -> CohortMatrix {
    let rows = customer_months(transactions);
    let Some((first, last)) = month_range(&rows) else {
        return CohortMatrix::default();
    };
    let months = (last - first) as usize + 1;
    let mut cohorts: Vec<Cohort> = (0..months)
        .map(|i| Cohort {
            month: YearMonth::from_index(first + i as i32),
            size: 0,
            cells: vec![CohortCell::default(); months - i],
        })
        .collect();
    let mut rest = &rows[..];
    while let Some(&(customer, start, _)) = rest.first() {
        let run = rest.partition_point(|r| r.0 == customer);
        let cohort = &mut cohorts[(start - first) as usize];
        cohort.size += 1;
        let mut previous = None;
        for &(_, month, amount) in &rest[..run] {
            let cell = &mut cohort.cells[(month - start) as usize];
            if previous != Some(month) {
                cell.customers += 1;
                previous = Some(month);
            }
            cell.revenue += amount;
        }
        rest = &rest[run..];
    }
    cohorts.retain(|c| c.size > 0);
    CohortMatrix { cohorts }
}

/// The retention curve: for each month offset, the cohorts' retention averaged over the cohorts
/// observed that long (both unweighted and weighted by cohort size). Offset 0 is 1.
pub fn retention_curve(matrix: &CohortMatrix) -> Vec<RetentionPoint> {
    let longest = matrix.cohorts.iter().map(|c| c.cells.len()).max().unwrap_or(0);
    (0..longest)
        .map(|k| {
            let (mut cohorts, mut shares, mut customers, mut sizes) = (0u32, 0.0, 0u64, 0u64);
            for cohort in matrix.cohorts.iter().filter(|c| c.size > 0) {
                if let Some(cell) = cohort.cells.get(k) {
                    cohorts += 1;
                    shares += cell.customers as f64 / cohort.size as f64;
                    customers += cell.customers;
                    sizes += cohort.size;
                }
            }
            RetentionPoint {
                offset: k as u32,
                retention: if cohorts > 0 { shares / cohorts as f64 } else { 0.0 },
                weighted_retention: if sizes > 0 {
                    customers as f64 / sizes as f64
                } else {
                    0.0
                },
                cohorts,
                customers,
            }
        })
        .collect()
}

fn month_range(rows: &[(u64, i32, f64)]) -> Option<(i32, i32)> {
    let first = rows.iter().map(|r| r.1).min()?;
    let last = rows.iter().map(|r| r.1).max()?;
    Some((first, last))
}
