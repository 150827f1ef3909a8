//! Transactions → per-customer purchase histories, with the conventions of Python `lifetimes`
//! 0.11.3 (`summary_data_from_transaction_data` and `calibration_and_holdout_data`).
//!
//! # Conventions
//!
//! * Every transaction falls into a **bucket period**: its day ([`Bucket::Day`]), its
//!   Monday-to-Sunday week ([`Bucket::Week`], pandas' `W` = `W-SUN` periods, identified by their
//!   Monday) or its calendar month ([`Bucket::Month`]). Purchases in one period collapse into one
//!   purchase whose amount is their sum.
//! * `frequency` (x) = distinct purchase periods − 1, i.e. repeat periods.
//! * `recency` (t_x) = time from the first period's start to the last period's start.
//! * `age` (T) = time from the first period's start to the start of the period holding
//!   `observation_end`.
//! * Times are expressed in the model [`TimeUnit`]: the number of days between period starts
//!   divided by [`TimeUnit::days`] (1, 7 or 365.25 / 12 = 30.4375). So bucket `day` with unit
//!   `week` is `lifetimes`' `freq='D', freq_multiplier=7`, and bucket `week` with unit `week` is
//!   `freq='W'`. The one exception is bucket `month` with unit `month`: there times are whole
//!   calendar-month differences (March → May is 2), where `lifetimes` (`freq='M'`) divides days
//!   by numpy's average month of 30.436875 days.
//! * `monetary` = the mean of the repeat periods' totals (the first period excluded), 0 for a
//!   customer without repeat periods — what the Gamma-Gamma model expects.
//! * A transaction counts when its period starts on or before the start of `observation_end`'s
//!   period (as `lifetimes` filters). With bucket `day` that is "on or before
//!   `observation_end`"; with `week` or `month` a purchase later in `observation_end`'s own
//!   period still counts (its recency then equals T). [`calibration_holdout`] cuts the calendar
//!   at the exact calibration day, as `lifetimes` does.
//!
//! Days are whole days since 1970-01-01 (`i32`); [`day_from_date`] and [`date_of_day`] convert.

use crate::{History, TimeUnit};
use serde::{Deserialize, Serialize};

/// How purchases are grouped before counting repeat purchases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// One period per calendar day.
    Day,
    /// Monday-to-Sunday weeks (pandas `W` / `W-SUN` periods), identified by their Monday.
    Week,
    /// Calendar months.
    Month,
}

impl Bucket {
    pub const ALL: [Bucket; 3] = [Bucket::Day, Bucket::Week, Bucket::Month];

    /// `day`, `week` or `month`.
    pub fn key(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }

    pub fn from_key(key: &str) -> Option<Bucket> {
        Bucket::ALL.into_iter().find(|b| b.key() == key)
    }

    /// The period a day falls in: the day itself, the day number of its week's Monday, or the
    /// month number (months since January 1970, see [`month_of_day`]).
    #[inline]
    pub fn period(self, day: i32) -> i32 {
        match self {
            Bucket::Day => day,
            Bucket::Week => week_start(day),
            Bucket::Month => month_of_day(day),
        }
    }

    /// The first day of a period returned by [`Bucket::period`].
    #[inline]
    pub fn period_start(self, period: i32) -> i32 {
        match self {
            Bucket::Day | Bucket::Week => period,
            Bucket::Month => first_day_of_month(period),
        }
    }

    /// Time from the start of period `from` to the start of period `to`, in `unit` (see the
    /// module conventions).
    #[inline]
    pub fn span(self, unit: TimeUnit, from: i32, to: i32) -> f64 {
        match (self, unit) {
            (Bucket::Month, TimeUnit::Month) => (i64::from(to) - i64::from(from)) as f64,
            _ => (i64::from(self.period_start(to)) - i64::from(self.period_start(from))) as f64 / unit.days(),
        }
    }
}

/// One purchase: who, which day (days since 1970-01-01) and how much.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub customer: u64,
    /// Days since 1970-01-01.
    pub day: i32,
    pub amount: f64,
}

/// How to summarise.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryOptions {
    pub bucket: Bucket,
    pub unit: TimeUnit,
    /// Last day of observation (inclusive), days since 1970-01-01.
    pub observation_end: i32,
}

/// One customer's summary.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerSummary {
    pub customer: u64,
    /// (x, t_x, T) in the model unit.
    pub history: History,
    /// Mean of the repeat periods' totals (first period excluded); 0 when there are none.
    pub monetary: f64,
    /// Day of the first counted transaction.
    pub first_day: i32,
    /// Day of the last counted transaction.
    pub last_day: i32,
    /// Distinct purchase periods, the first included (`frequency + 1`).
    pub periods: u32,
    /// Counted transactions (before collapsing into periods).
    pub transactions: u32,
    /// Sum of all counted amounts, the first period included.
    pub total: f64,
}

/// A customer's calibration summary and what they did in the holdout period.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HoldoutSummary {
    pub calibration: CustomerSummary,
    /// Distinct bucket periods with a purchase in the holdout period.
    pub holdout_frequency: f64,
    /// Mean amount of the holdout period's transactions (each transaction on its own, not per
    /// period, as `lifetimes` computes it); 0 without holdout purchases.
    pub holdout_monetary: f64,
    /// Length of the holdout period in the model unit: from the start of the calibration end's
    /// bucket period to the start of the observation end's.
    pub holdout_duration: f64,
}

/// Why transactions could not be summarised.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SummaryError {
    #[error("no transaction on or before {}: every transaction is later (or there are none)", format_day(*end))]
    NoTransactions { end: i32 },
    #[error(
        "the calibration end ({}) must be before the observation end ({})",
        format_day(*calibration_end),
        format_day(*observation_end)
    )]
    CalibrationNotBeforeObservation {
        calibration_end: i32,
        observation_end: i32,
    },
    #[error(
        "the holdout period (after {}, up to {}) has no transactions",
        format_day(*calibration_end),
        format_day(*observation_end)
    )]
    EmptyHoldout {
        calibration_end: i32,
        observation_end: i32,
    },
}

/// Summarises transactions per customer (see the module conventions). The result is sorted by
/// customer; transactions in periods after `observation_end`'s are ignored and customers left
/// without any are dropped.
///
/// Runs in one pass after grouping by customer: already sorted input is used as it is, dense
/// customer ids (as from [`crate::input`]-style interning) are grouped by a counting sort, other
/// ids by an unstable sort.
pub fn summarize(transactions: &[Transaction], options: &SummaryOptions) -> Vec<CustomerSummary> {
    let spec = Spec::new(options.bucket, options.unit, options.observation_end, None);
    summarize_with(transactions, &spec)
}

/// `lifetimes`' `calibration_and_holdout_data`: customers are summarised on the transactions on
/// or before `calibration_end` (T measured to `calibration_end`); their holdout figures come from
/// the transactions after `calibration_end` and on or before `observation_end`. Customers who
/// first buy in the holdout period are not included.
pub fn calibration_holdout(
    transactions: &[Transaction],
    bucket: Bucket,
    unit: TimeUnit,
    calibration_end: i32,
    observation_end: i32,
) -> Result<Vec<HoldoutSummary>, SummaryError> {
    if calibration_end >= observation_end {
        return Err(SummaryError::CalibrationNotBeforeObservation {
            calibration_end,
            observation_end,
        });
    }
    let spec = Spec::new(bucket, unit, calibration_end, Some(calibration_end));
    let calibration = summarize_with(transactions, &spec);
    if calibration.is_empty() {
        return Err(SummaryError::NoTransactions { end: calibration_end });
    }

    let mut holdout: Vec<(u64, i32, f64)> = transactions
        .iter()
        .filter(|t| t.day > calibration_end && t.day <= observation_end)
        .map(|t| (t.customer, bucket.period(t.day), t.amount))
        .collect();
    if holdout.is_empty() {
        return Err(SummaryError::EmptyHoldout {
            calibration_end,
            observation_end,
        });
    }
    holdout.sort_unstable_by_key(|h| (h.0, h.1));

    let duration = bucket.span(
        unit,
        bucket.period(calibration_end),
        bucket.period(observation_end),
    );
    let mut out = Vec::with_capacity(calibration.len());
    let mut rest = &holdout[..];
    for summary in calibration {
        while let Some(first) = rest.first() {
            if first.0 >= summary.customer {
                break;
            }
            rest = &rest[rest.partition_point(|h| h.0 == first.0)..];
        }
        let run = rest.partition_point(|h| h.0 == summary.customer);
        let (mine, after) = rest.split_at(run);
        rest = after;
        let mut periods = 0u32;
        let mut previous = None;
        let mut sum = 0.0;
        for &(_, period, amount) in mine {
            if previous != Some(period) {
                periods += 1;
                previous = Some(period);
            }
            sum += amount;
        }
        out.push(HoldoutSummary {
            calibration: summary,
            holdout_frequency: periods as f64,
            holdout_monetary: if mine.is_empty() {
                0.0
            } else {
                sum / mine.len() as f64
            },
            holdout_duration: duration,
        });
    }
    Ok(out)
}

struct Spec {
    bucket: Bucket,
    unit: TimeUnit,
    /// Last counted bucket period.
    last_period: i32,
    /// Last counted day: the last day of `last_period`, or the calibration end if earlier.
    through: i32,
}

impl Spec {
    fn new(bucket: Bucket, unit: TimeUnit, observation_end: i32, last_day: Option<i32>) -> Self {
        let last_period = bucket.period(observation_end);
        let period_end = match bucket {
            Bucket::Day => last_period,
            Bucket::Week => last_period.saturating_add(6),
            Bucket::Month if last_period == bucket.period(i32::MAX) => i32::MAX,
            Bucket::Month => first_day_of_month(last_period + 1) - 1,
        };
        Self {
            bucket,
            unit,
            last_period,
            through: last_day.map_or(period_end, |d| d.min(period_end)),
        }
    }

    #[inline]
    fn counts(&self, t: &Transaction) -> bool {
        t.day <= self.through
    }
}

fn summarize_with(transactions: &[Transaction], spec: &Spec) -> Vec<CustomerSummary> {
    if transactions.is_empty() {
        return Vec::new();
    }
    let sorted = transactions
        .windows(2)
        .all(|w| (w[0].customer, w[0].day) <= (w[1].customer, w[1].day));
    if sorted {
        let mut out = Vec::new();
        let mut acc = Accumulator::default();
        let mut current = None;
        for t in transactions.iter().filter(|t| spec.counts(t)) {
            if current != Some(t.customer) {
                if let Some(customer) = current {
                    out.push(acc.finish(customer, spec));
                }
                current = Some(t.customer);
                acc = Accumulator::default();
            }
            acc.add(t.day, t.amount, spec.bucket);
        }
        if let Some(customer) = current {
            out.push(acc.finish(customer, spec));
        }
        return out;
    }

    let (min, max) = transactions.iter().fold((u64::MAX, 0u64), |(lo, hi), t| {
        (lo.min(t.customer), hi.max(t.customer))
    });
    let range = max - min;
    if range < (transactions.len() as u64).saturating_mul(2).saturating_add(1024) {
        return summarize_dense(transactions, spec, min, range as usize + 1);
    }

    let mut rows: Vec<(u64, i32, f64)> = transactions
        .iter()
        .filter(|t| spec.counts(t))
        .map(|t| (t.customer, t.day, t.amount))
        .collect();
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    let mut out = Vec::new();
    let mut rest = &rows[..];
    while let Some(first) = rest.first() {
        let run = rest.partition_point(|r| r.0 == first.0);
        let mut acc = Accumulator::default();
        for &(_, day, amount) in &rest[..run] {
            acc.add(day, amount, spec.bucket);
        }
        out.push(acc.finish(first.0, spec));
        rest = &rest[run..];
    }
    out
}

/// Counting sort on dense customer ids: one counter per id, then each customer's (day, amount)
/// pairs side by side, sorted by day within the customer only when they are not already.
fn summarize_dense(
    transactions: &[Transaction],
    spec: &Spec,
    min: u64,
    slots: usize,
) -> Vec<CustomerSummary> {
    let mut offsets = vec![0u32; slots + 1];
    let mut kept = 0usize;
    for t in transactions {
        if spec.counts(t) {
            offsets[(t.customer - min) as usize + 1] += 1;
            kept += 1;
        }
    }
    let mut customers = 0usize;
    for i in 1..offsets.len() {
        if offsets[i] > 0 {
            customers += 1;
        }
        offsets[i] += offsets[i - 1];
    }
    let mut cursor: Vec<u32> = offsets[..slots].to_vec();
    let mut rows: Vec<(i32, f64)> = vec![(0, 0.0); kept];
    for t in transactions {
        if spec.counts(t) {
            let slot = &mut cursor[(t.customer - min) as usize];
            rows[*slot as usize] = (t.day, t.amount);
            *slot += 1;
        }
    }
    drop(cursor);
    let mut out = Vec::with_capacity(customers);
    for slot in 0..slots {
        let (start, end) = (offsets[slot] as usize, offsets[slot + 1] as usize);
        if start == end {
            continue;
        }
        let group = &mut rows[start..end];
        if !group.windows(2).all(|w| w[0].0 <= w[1].0) {
            group.sort_by_key(|r| r.0);
        }
        let mut acc = Accumulator::default();
        for &(day, amount) in group.iter() {
            acc.add(day, amount, spec.bucket);
        }
        out.push(acc.finish(min + slot as u64, spec));
    }
    out
}

/// One customer's running figures; transactions arrive sorted by day.
#[derive(Default)]
struct Accumulator {
    first_day: i32,
    last_day: i32,
    first_period: i32,
    period: i32,
    periods: u32,
    period_total: f64,
    repeat_total: f64,
    transactions: u32,
    total: f64,
}

impl Accumulator {
    #[inline]
    fn add(&mut self, day: i32, amount: f64, bucket: Bucket) {
        let period = bucket.period(day);
        if self.transactions == 0 {
            self.first_day = day;
            self.first_period = period;
            self.period = period;
            self.periods = 1;
        } else if period != self.period {
            if self.periods > 1 {
                self.repeat_total += self.period_total;
            }
            self.period_total = 0.0;
            self.period = period;
            self.periods += 1;
        }
        self.last_day = day;
        self.period_total += amount;
        self.transactions += 1;
        self.total += amount;
    }

    fn finish(mut self, customer: u64, spec: &Spec) -> CustomerSummary {
        if self.periods > 1 {
            self.repeat_total += self.period_total;
        }
        let repeats = self.periods.saturating_sub(1);
        CustomerSummary {
            customer,
            history: History {
                frequency: repeats as f64,
                recency: spec.bucket.span(spec.unit, self.first_period, self.period),
                age: spec.bucket.span(spec.unit, self.first_period, spec.last_period),
            },
            monetary: if repeats > 0 {
                self.repeat_total / repeats as f64
            } else {
                0.0
            },
            first_day: self.first_day,
            last_day: self.last_day,
            periods: self.periods,
            transactions: self.transactions,
            total: self.total,
        }
    }
}

/// Day number (days since 1970-01-01) of a proleptic Gregorian date; `None` for an impossible
/// date (month 13, 30 February…).
pub fn day_from_date(year: i32, month: u32, day: u32) -> Option<i32> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// The (year, month, day) of a day number.
pub fn date_of_day(day: i32) -> (i32, u32, u32) {
    // Howard Hinnant's civil_from_days.
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// `YYYY-MM-DD` for a day number.
pub fn format_day(day: i32) -> String {
    let (y, m, d) = date_of_day(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The Monday starting the week (Monday to Sunday) that holds `day`.
#[inline]
pub fn week_start(day: i32) -> i32 {
    // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
    day - (i64::from(day) + 3).rem_euclid(7) as i32
}

/// Month number of a day: months since January 1970 (January 1970 = 0, December 1969 = −1).
#[inline]
pub fn month_of_day(day: i32) -> i32 {
    let (y, m, _) = date_of_day(day);
    (y - 1970) * 12 + m as i32 - 1
}

/// First day of a month number (see [`month_of_day`]).
#[inline]
pub fn first_day_of_month(month: i32) -> i32 {
    let year = 1970 + month.div_euclid(12);
    let m = month.rem_euclid(12) as u32 + 1;
    days_from_civil(year, m, 1)
}

/// (year, month 1–12) of a month number.
pub fn year_month(month: i32) -> (i32, u32) {
    (1970 + month.div_euclid(12), month.rem_euclid(12) as u32 + 1)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    // Howard Hinnant's days_from_civil.
    let y = year as i64 - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}
