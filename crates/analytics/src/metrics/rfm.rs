//! RFM: recency, frequency and monetary scores, the 11 customer segments, and VIPs.
//!
//! # Values
//!
//! For a reference day `as_of` ([`rfm_values`]): **recency** = days from the customer's last
//! order to `as_of`, **frequency** = their orders, **monetary** = their total spend. Orders after
//! `as_of` are ignored.
//!
//! # Scores (quintiles, rank based)
//!
//! Each of R, F and M is scored 1–5 over all the customers scored together
//! ([`quintile_scores`]): with `n` customers and `worse` = the number of customers whose value is
//! strictly worse (for recency: strictly *more* days; for frequency and monetary: strictly
//! *less*),
//!
//! ```text
//! score = 1 + floor(5 × worse / n)
//! ```
//!
//! So the scores are quintiles of the rank, equal values always get the same score (the score
//! of the lowest rank they share), and the result does not depend on the input order. A value
//! shared by many customers pulls them all down to that group's first rank: if 60 % of customers
//! ordered once, they all get F = 1.
//!
//! # Segments
//!
//! The segment comes from R and the average of F and M, `FM = floor((F + M) / 2)`, on the
//! widely used R × FM grid (the recency-against-frequency grid of the common RFM segmentation
//! guides, with the bottom-left split into Lost and Hibernating):
//!
//! | FM \ R | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|
//! | **5** | Can't Lose Them | Can't Lose Them | Loyal Customers | Loyal Customers | Champions |
//! | **4** | At Risk | At Risk | Loyal Customers | Loyal Customers | Champions |
//! | **3** | At Risk | At Risk | Need Attention | Potential Loyalist | Potential Loyalist |
//! | **2** | Lost | Hibernating | About To Sleep | Potential Loyalist | Potential Loyalist |
//! | **1** | Lost | Hibernating | About To Sleep | Promising | New Customers |
//!
//! Every (R, F, M) in 1..=5³ falls in exactly one cell ([`Segment::of`]).
//!
//! # VIPs
//!
//! [`vips`]: by default ([`VipRule::TopShare`]`(0.05)`) the top 5 % of customers by total spend:
//! with `n` customers, `k = ceil(share × n)` (at least 1), every customer who spent at least as
//! much as the k-th biggest spender is a VIP, so customers tied at the boundary are all in. With
//! [`VipRule::MinimumSpend`], every customer whose total spend is at least the minimum. Customers
//! who spent nothing (0 or less) are never VIPs.

use super::kpis::{customer_totals, CustomerTotals};
use crate::summary::Transaction;
use serde::{Serialize, Serializer};
use std::cmp::Ordering;

/// A customer's raw RFM values.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RfmValues {
    pub customer: u64,
    /// Days from the last order to the reference day (fewer is better).
    pub recency_days: f64,
    /// Orders.
    pub frequency: f64,
    /// Total spend.
    pub monetary: f64,
}

/// A customer's RFM values, scores (1–5) and segment.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rfm {
    pub customer: u64,
    pub recency_days: f64,
    pub frequency: f64,
    pub monetary: f64,
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub segment: Segment,
}

impl Rfm {
    /// The scores as `R-F-M`, e.g. `5-4-3`.
    pub fn code(&self) -> String {
        format!("{}-{}-{}", self.r, self.f, self.m)
    }
}

/// The 11 RFM segments (see the module grid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Champions,
    LoyalCustomers,
    PotentialLoyalist,
    NewCustomers,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CantLoseThem,
    Hibernating,
    Lost,
}

impl Segment {
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::LoyalCustomers,
        Segment::PotentialLoyalist,
        Segment::NewCustomers,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CantLoseThem,
        Segment::Hibernating,
        Segment::Lost,
    ];

    /// Stable snake_case key, e.g. `cant_lose_them`.
    pub fn key(self) -> &'static str {
        match self {
            Segment::Champions => "champions",
            Segment::LoyalCustomers => "loyal_customers",
            Segment::PotentialLoyalist => "potential_loyalist",
            Segment::NewCustomers => "new_customers",
            Segment::Promising => "promising",
            Segment::NeedAttention => "need_attention",
            Segment::AboutToSleep => "about_to_sleep",
            Segment::AtRisk => "at_risk",
            Segment::CantLoseThem => "cant_lose_them",
            Segment::Hibernating => "hibernating",
            Segment::Lost => "lost",
        }
    }

    pub fn from_key(key: &str) -> Option<Segment> {
        Segment::ALL.into_iter().find(|s| s.key() == key)
    }

    /// English name, e.g. `Can't Lose Them`.
    pub fn name(self) -> &'static str {
        match self {
            Segment::Champions => "Champions",
            Segment::LoyalCustomers => "Loyal Customers",
            Segment::PotentialLoyalist => "Potential Loyalist",
            Segment::NewCustomers => "New Customers",
            Segment::Promising => "Promising",
            Segment::NeedAttention => "Need Attention",
            Segment::AboutToSleep => "About To Sleep",
            Segment::AtRisk => "At Risk",
            Segment::CantLoseThem => "Can't Lose Them",
            Segment::Hibernating => "Hibernating",
            Segment::Lost => "Lost",
        }
    }

    /// The segment of scores (R, F, M), each 1–5 (values outside are clamped): the module grid
    /// at (R, floor((F + M) / 2)).
    pub fn of(r: u8, f: u8, m: u8) -> Segment {
        let r = r.clamp(1, 5);
        let fm = (f.clamp(1, 5) + m.clamp(1, 5)) / 2;
        match (r, fm) {
            (5, 4..=5) => Segment::Champions,
            (3..=4, 4..=5) => Segment::LoyalCustomers,
            (4..=5, 2..=3) => Segment::PotentialLoyalist,
            (5, 1) => Segment::NewCustomers,
            (4, 1) => Segment::Promising,
            (3, 3) => Segment::NeedAttention,
            (3, 1..=2) => Segment::AboutToSleep,
            (1..=2, 3..=4) => Segment::AtRisk,
            (1..=2, 5) => Segment::CantLoseThem,
            (2, 1..=2) => Segment::Hibernating,
            _ => Segment::Lost,
        }
    }
}

impl Serialize for Segment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.key())
    }
}

/// Who counts as a VIP (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VipRule {
    /// The top share of customers by total spend, e.g. 0.05 for the top 5 %.
    TopShare(f64),
    /// Everyone whose total spend is at least this.
    MinimumSpend(f64),
}

impl Default for VipRule {
    fn default() -> Self {
        VipRule::TopShare(0.05)
    }
}

/// Raw RFM values per customer on `as_of` (orders after it ignored), sorted by customer.
pub fn rfm_values(transactions: &[Transaction], as_of: i32) -> Vec<RfmValues> {
    let counted: Vec<Transaction>;
    let slice = if transactions.iter().all(|t| t.day <= as_of) {
        transactions
    } else {
        counted = transactions.iter().filter(|t| t.day <= as_of).copied().collect();
        &counted
    };
    customer_totals(slice)
        .into_iter()
        .map(|t| RfmValues {
            customer: t.customer,
            recency_days: f64::from(as_of - t.last_day),
            frequency: f64::from(t.orders),
            monetary: t.total,
        })
        .collect()
}

/// Scores and segments for customers scored together, in the input's order.
pub fn rfm_scores(values: &[RfmValues]) -> Vec<Rfm> {
    let recency: Vec<f64> = values.iter().map(|v| v.recency_days).collect();
    let frequency: Vec<f64> = values.iter().map(|v| v.frequency).collect();
    let monetary: Vec<f64> = values.iter().map(|v| v.monetary).collect();
    let r = quintile_scores(&recency, false);
    let f = quintile_scores(&frequency, true);
    let m = quintile_scores(&monetary, true);
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Rfm {
            customer: v.customer,
            recency_days: v.recency_days,
            frequency: v.frequency,
            monetary: v.monetary,
            r: r[i],
            f: f[i],
            m: m[i],
            segment: Segment::of(r[i], f[i], m[i]),
        })
        .collect()
}

/// [`rfm_values`] then [`rfm_scores`]: every customer with an order on or before `as_of`.
pub fn rfm(transactions: &[Transaction], as_of: i32) -> Vec<Rfm> {
    rfm_scores(&rfm_values(transactions, as_of))
}

/// Rank-based quintile scores 1–5 (see the module documentation): `1 + floor(5 × worse / n)`,
/// where `worse` counts the values strictly below (strictly above when `higher_is_better` is
/// false). Equal values get equal scores; NaN ranks below every number.
pub fn quintile_scores(values: &[f64], higher_is_better: bool) -> Vec<u8> {
    let n = values.len();
    let mut order: Vec<usize> = (0..n).collect();
    let key = |i: usize| {
        let v = values[i];
        if v.is_nan() {
            f64::NEG_INFINITY
        } else if higher_is_better {
            v
        } else {
            -v
        }
    };
    // NaN counts as the worst value either way.
    let worst_first = |a: &usize, b: &usize| -> Ordering {
        match (values[*a].is_nan(), values[*b].is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => key(*a).total_cmp(&key(*b)),
        }
    };
    order.sort_unstable_by(worst_first);
    let mut scores = vec![0u8; n];
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && worst_first(&order[start], &order[end]) == Ordering::Equal {
            end += 1;
        }
        let score = 1 + (5 * start / n) as u8;
        for &i in &order[start..end] {
            scores[i] = score;
        }
        start = end;
    }
    scores
}

/// VIP customers by total spend (see the module documentation), biggest spender first (ties by
/// customer).
pub fn vips(totals: &[CustomerTotals], rule: VipRule) -> Vec<u64> {
    let mut spenders: Vec<&CustomerTotals> = totals.iter().filter(|t| t.total > 0.0).collect();
    spenders.sort_unstable_by(|a, b| b.total.total_cmp(&a.total).then(a.customer.cmp(&b.customer)));
    let threshold = match rule {
        VipRule::MinimumSpend(minimum) => minimum,
        VipRule::TopShare(share) => {
            if totals.is_empty() || spenders.is_empty() || share.is_nan() || share <= 0.0 {
                return Vec::new();
            }
            let k = ((share * totals.len() as f64).ceil() as usize).clamp(1, spenders.len());
            spenders[k - 1].total
        }
    };
    spenders
        .into_iter()
        .take_while(|t| t.total >= threshold)
        .map(|t| t.customer)
        .collect()
}
