//! Retention analytics: the Rust answer to Python's `lifetimes`.
//!
//! Everything here is a pure function over slices. Time is measured in model units (days,
//! weeks or months, see [`TimeUnit`]); a customer's purchase history is the triple
//! (frequency, recency, age) = (x, t_x, T) of the papers, built from transactions by
//! [`summary`]. Fitting works on histories compressed to their distinct triples with weights
//! ([`compress`]), which is what makes it fast: a million customers rarely have more than a few
//! ten thousand distinct triples.

pub mod clv;
mod dual;
pub mod input;
pub mod metrics;
pub mod models;
pub mod optimize;
pub mod simulate;
pub mod special;
pub mod summary;

pub use models::bg_nbd::BgNbd;
pub use models::gamma_gamma::{compress_spend, GammaGamma, SpendHistory};
pub use models::mbg_nbd::MbgNbd;
pub use models::pareto_nbd::ParetoNbd;
pub use models::{Fit, FitError, FitOptions, PurchaseModel};

use serde::{Deserialize, Serialize};

/// One customer's repeat-purchase history in model time units:
/// `frequency` = number of repeat purchase periods (x), `recency` = time from the first to the
/// last purchase (t_x), `age` = time from the first purchase to the end of observation (T).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub frequency: f64,
    pub recency: f64,
    pub age: f64,
}

impl History {
    pub fn new(frequency: f64, recency: f64, age: f64) -> Self {
        Self {
            frequency,
            recency,
            age,
        }
    }

    /// Checks the invariants every model relies on: x a whole number ≥ 0, 0 ≤ t_x ≤ T,
    /// t_x = 0 when x = 0, all finite.
    pub fn check(&self) -> Result<(), &'static str> {
        let History {
            frequency: x,
            recency: tx,
            age: t,
        } = *self;
        if !(x.is_finite() && tx.is_finite() && t.is_finite()) {
            return Err("frequency, recency and age must be finite numbers");
        }
        if x < 0.0 || x.fract() != 0.0 {
            return Err("frequency must be a whole number of periods, 0 or more");
        }
        if tx < 0.0 || t < 0.0 {
            return Err("recency and age cannot be negative");
        }
        if tx > t {
            return Err("recency cannot be greater than age");
        }
        if x == 0.0 && tx != 0.0 {
            return Err("a customer without repeat purchases has recency 0");
        }
        Ok(())
    }
}

/// A distinct history and how many customers share it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weighted {
    pub history: History,
    pub weight: f64,
}

/// Collapses customers with identical (x, t_x, T) into one weighted row, sorted by (x, t_x, T)
/// (the models compute the frequency-only terms once per distinct x).
pub fn compress(histories: impl IntoIterator<Item = History>) -> Vec<Weighted> {
    let mut packed = Packed::default();
    let mut histories = histories.into_iter();
    let mut misfit = None;
    for h in histories.by_ref() {
        if !packed.add(&h) {
            misfit = Some(h);
            break;
        }
    }
    let Some(misfit) = misfit else {
        return packed.compress();
    };
    // Not the shape of a summary: sort the histories themselves.
    let mut others = packed.histories();
    others.push(misfit);
    others.extend(histories);
    let mut keyed: Vec<(u64, u64, u64)> = others
        .iter()
        .map(|h| (h.frequency.to_bits(), h.recency.to_bits(), h.age.to_bits()))
        .collect();
    // Non-negative floats order like their bit patterns, so sorting the bits sorts the values.
    sort_in_parallel(&mut keyed);
    run_lengths(&keyed, |&(x, tx, t)| {
        History::new(f64::from_bits(x), f64::from_bits(tx), f64::from_bits(t))
    })
}

/// Bits of a packed key: x below 2²², each time's rank below 2²¹.
const RANK_BITS: u32 = 21;

/// The fast path for summaries (whole-number frequencies, a few thousand distinct times): each
/// history becomes x and the numbers of its two times, then one u64 — x, then the ranks of
/// t_x and T among the distinct times — so a radix sort of 8-byte keys does the grouping.
#[derive(Default)]
struct Packed {
    index: TimeIndex,
    rows: Vec<(u32, u32, u32)>,
}

impl Packed {
    /// Takes a history in; false when it does not fit the packed form.
    fn add(&mut self, h: &History) -> bool {
        let x = h.frequency;
        if !(x >= 0.0 && x.fract() == 0.0 && x < f64::from(1u32 << 22)) {
            return false;
        }
        let (tx, t) = (self.index.id(h.recency), self.index.id(h.age));
        if t >= 1 << RANK_BITS || tx >= 1 << RANK_BITS {
            return false;
        }
        self.rows.push((x as u32, tx, t));
        true
    }

    /// The histories taken in so far, as they came.
    fn histories(self) -> Vec<History> {
        let times = self.index.into_times();
        self.rows
            .iter()
            .map(|&(x, tx, t)| History::new(f64::from(x), times[tx as usize], times[t as usize]))
            .collect()
    }

    fn compress(self) -> Vec<Weighted> {
        let times = self.index.into_times();
        let mut order: Vec<u32> = (0..times.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| times[a as usize].total_cmp(&times[b as usize]));
        let mut rank = vec![0u64; times.len()];
        for (position, &i) in order.iter().enumerate() {
            rank[i as usize] = position as u64;
        }
        let sorted_times: Vec<f64> = order.iter().map(|&i| times[i as usize]).collect();
        // Pack into as few bits as these data need, so the radix sort makes as few passes.
        let largest_x = self.rows.iter().map(|&(x, _, _)| x).max().unwrap_or(0);
        let rank_bits = bits_for(times.len() as u64);
        let total_bits = bits_for(u64::from(largest_x) + 1) + 2 * rank_bits;
        let mut keys: Vec<u64> = self
            .rows
            .iter()
            .map(|&(x, tx, t)| {
                (u64::from(x) << (2 * rank_bits)) | (rank[tx as usize] << rank_bits) | rank[t as usize]
            })
            .collect();
        radix_sort(&mut keys, total_bits);
        let mask = (1u64 << rank_bits) - 1;
        run_lengths(&keys, |&key| {
            History::new(
                (key >> (2 * rank_bits)) as f64,
                sorted_times[((key >> rank_bits) & mask) as usize],
                sorted_times[(key & mask) as usize],
            )
        })
    }
}

/// Bits needed to write numbers below `n`.
fn bits_for(n: u64) -> u32 {
    64 - n.saturating_sub(1).leading_zeros()
}

/// Least-significant-digit radix sort of keys below 2^bits, in as few passes of at most 16
/// bits as cover them.
fn radix_sort(keys: &mut Vec<u64>, bits: u32) {
    if bits == 0 {
        return;
    }
    let passes = bits.div_ceil(16);
    let digit = bits.div_ceil(passes);
    let mut scratch = vec![0u64; keys.len()];
    let mut shift = 0;
    while shift < bits {
        let mut counts = vec![0usize; 1 << digit];
        for &k in keys.iter() {
            counts[((k >> shift) & ((1 << digit) - 1)) as usize] += 1;
        }
        let mut start = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = start;
            start += n;
        }
        for &k in keys.iter() {
            let slot = &mut counts[((k >> shift) & ((1 << digit) - 1)) as usize];
            scratch[*slot] = k;
            *slot += 1;
        }
        std::mem::swap(keys, &mut scratch);
        shift += digit;
    }
}
/// One weighted row per run of equal sorted keys.
fn run_lengths<K: PartialEq>(sorted: &[K], history: impl Fn(&K) -> History) -> Vec<Weighted> {
    let mut out: Vec<Weighted> = Vec::with_capacity(sorted.len() / 2);
    let mut previous: Option<&K> = None;
    for key in sorted {
        if previous == Some(key) {
            out.last_mut().expect("a previous row").weight += 1.0;
            continue;
        }
        previous = Some(key);
        out.push(Weighted {
            history: history(key),
            weight: 1.0,
        });
    }
    out
}

/// Numbers each distinct time in order of first appearance: an open-addressing table on the
/// float's bits with multiplicative hashing. Summaries have a few hundred distinct times, so
/// the table sits in the first-level cache and a lookup is a multiply and a compare or two.
pub(crate) struct TimeIndex {
    slots: Vec<u64>,
    ids: Vec<u32>,
    times: Vec<f64>,
    shift: u32,
}

/// Marks an empty slot: the bits of a NaN no history can carry.
const EMPTY: u64 = u64::MAX;

impl Default for TimeIndex {
    fn default() -> Self {
        Self::with_bits(10)
    }
}

impl TimeIndex {
    fn with_bits(bits: u32) -> Self {
        Self {
            slots: vec![EMPTY; 1 << bits],
            ids: vec![0; 1 << bits],
            times: Vec::new(),
            shift: 64 - bits,
        }
    }

    /// The number of this time, giving it the next one if it is new.
    pub(crate) fn id(&mut self, time: f64) -> u32 {
        let bits = time.to_bits();
        let mask = self.slots.len() - 1;
        let mut slot = (bits.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize;
        loop {
            if self.slots[slot] == bits {
                return self.ids[slot];
            }
            if self.slots[slot] == EMPTY {
                break;
            }
            slot = (slot + 1) & mask;
        }
        let id = self.times.len() as u32;
        self.slots[slot] = bits;
        self.ids[slot] = id;
        self.times.push(time);
        if self.times.len() * 2 > self.slots.len() {
            self.grow();
        }
        id
    }

    fn grow(&mut self) {
        let mut bigger = Self::with_bits(64 - self.shift + 1);
        for &time in &self.times {
            bigger.id(time);
        }
        *self = bigger;
    }

    /// The distinct times, each at its number.
    pub(crate) fn into_times(self) -> Vec<f64> {
        self.times
    }
}

/// Sorts halves on two threads and merges them: compressing a million customers is mostly
/// this sort.
pub(crate) fn sort_in_parallel<T: Ord + Copy + Send>(items: &mut Vec<T>) {
    if items.len() < 100_000 || std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        items.sort_unstable();
        return;
    }
    let middle = items.len() / 2;
    let (left, right) = items.split_at_mut(middle);
    std::thread::scope(|scope| {
        scope.spawn(|| left.sort_unstable());
        right.sort_unstable();
    });
    let mut merged = Vec::with_capacity(items.len());
    let (mut i, mut j) = (0, middle);
    while i < middle && j < items.len() {
        if items[j] < items[i] {
            merged.push(items[j]);
            j += 1;
        } else {
            merged.push(items[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&items[i..middle]);
    merged.extend_from_slice(&items[j..]);
    *items = merged;
}

/// The unit model time is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    Day,
    Week,
    Month,
}

impl TimeUnit {
    /// Units per month as `lifetimes` counts them for CLV (30 days, 4.345 weeks, 1 month).
    pub fn per_month(self) -> f64 {
        match self {
            TimeUnit::Day => 30.0,
            TimeUnit::Week => 4.345,
            TimeUnit::Month => 1.0,
        }
    }

    /// Days in one unit, for turning a model time into a calendar date.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
            TimeUnit::Month => 365.25 / 12.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// The grouping compress must produce, the slow and obvious way.
    fn grouped(histories: &[History]) -> Vec<Weighted> {
        let mut groups: BTreeMap<(u64, u64, u64), f64> = BTreeMap::new();
        for h in histories {
            *groups
                .entry((h.frequency.to_bits(), h.recency.to_bits(), h.age.to_bits()))
                .or_default() += 1.0;
        }
        groups
            .into_iter()
            .map(|((x, tx, t), weight)| Weighted {
                history: History::new(f64::from_bits(x), f64::from_bits(tx), f64::from_bits(t)),
                weight,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn compress_groups_identical_histories_in_order(
            rows in prop::collection::vec((0u32..6, 0u32..5, 0u32..8), 0..300),
            misfit_at in prop::option::of(0usize..300),
        ) {
            // Few distinct values, so groups form; days as sevenths of a week, as summaries give.
            let mut histories: Vec<History> = rows
                .iter()
                .map(|&(x, tx, extra)| {
                    let tx = if x == 0 { 0.0 } else { f64::from(tx) / 7.0 };
                    History::new(f64::from(x), tx, tx + f64::from(extra) / 7.0)
                })
                .collect();
            // A history packing cannot take (a fractional frequency) sends the rest down the
            // general path, wherever it appears.
            if let Some(at) = misfit_at.filter(|&at| at < histories.len()) {
                histories[at] = History::new(0.5, 0.0, 1.0);
            }
            prop_assert_eq!(compress(histories.clone()), grouped(&histories));
        }
    }

    #[test]
    fn time_index_numbers_times_in_order_of_appearance_and_grows() {
        let mut index = TimeIndex::default();
        let times: Vec<f64> = (0..5_000).map(|i| f64::from(i) / 7.0).collect();
        for (i, &t) in times.iter().enumerate() {
            assert_eq!(index.id(t), i as u32);
        }
        assert_eq!(index.id(times[1234]), 1234);
        assert_eq!(index.into_times(), times);
    }
}
