//! Gamma-Gamma spend model: Fader, Hardie and Lee (2005), "RFM and CLV: Using Iso-Value
//! Curves for Customer Base Analysis"; Fader and Hardie's note 025.
//!
//! A customer's purchase values are Gamma(p, ν) with ν ~ Gamma(q, v) across customers, so the
//! mean of their x purchases is informative about ν; independent of the purchase process.

use super::fitting::{finish, solve, total_log_likelihood, PenalisedMean};
use super::{Fit, FitError, FitOptions};
use crate::dual::Real;
use crate::{History, Weighted};
use serde::{Deserialize, Serialize};

/// A repeat buyer's spend: `frequency` repeat purchases with mean value `monetary` (the
/// first purchase excluded, as in the summaries), shared by `weight` customers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpendHistory {
    pub frequency: f64,
    pub monetary: f64,
    pub weight: f64,
}

/// Collapses repeat buyers with the same (frequency, mean spend) into weighted rows, sorted;
/// customers without repeat purchases or spend are left out (the model does not use them).
pub fn compress_spend(buyers: impl IntoIterator<Item = (f64, f64)>) -> Vec<SpendHistory> {
    let mut keys: Vec<(u64, u64)> = buyers
        .into_iter()
        .filter(|&(x, m)| x > 0.0 && m > 0.0)
        .map(|(x, m)| (x.to_bits(), m.to_bits()))
        .collect();
    // Positive floats order like their bit patterns.
    crate::sort_in_parallel(&mut keys);
    let mut rows: Vec<SpendHistory> = Vec::with_capacity(keys.len());
    let mut previous = None;
    for key in keys {
        if previous == Some(key) {
            rows.last_mut().expect("a previous row").weight += 1.0;
            continue;
        }
        previous = Some(key);
        rows.push(SpendHistory {
            frequency: f64::from_bits(key.0),
            monetary: f64::from_bits(key.1),
            weight: 1.0,
        });
    }
    rows
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

/// The density of the mean of x purchases, in log space (note 025, equation (3)):
/// ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + px ln x + (px−1) ln m − (px+q) ln(xm+v).
/// The terms up to px ln x depend on x only and come in as `per_frequency`.
fn row_log_likelihood<T: Real>(per_frequency: &FrequencyTerms<T>, v: T, m: f64, ln_m: f64) -> T {
    let FrequencyTerms {
        x,
        px,
        px_plus_q,
        constant,
    } = *per_frequency;
    constant + (px - T::cst(1.0)).scale(ln_m) - px_plus_q * (T::cst(x * m) + v).ln()
}

#[derive(Clone, Copy)]
struct FrequencyTerms<T> {
    x: f64,
    px: T,
    px_plus_q: T,
    /// ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + px ln x
    constant: T,
}

fn frequency_terms<T: Real>(p: T, q: T, v: T, x: f64) -> FrequencyTerms<T> {
    let px = p.scale(x);
    let px_plus_q = px + q;
    let constant = px_plus_q.ln_gamma() - px.ln_gamma() - q.ln_gamma() + q * v.ln() + px.scale(x.ln());
    FrequencyTerms {
        x,
        px,
        px_plus_q,
        constant,
    }
}

/// The spend rows travel through the shared fitting code as weighted "histories" sorted by
/// frequency x, whose recency field carries the mean spend m and whose age field ln m.
fn chunk_log_likelihood<T: Real>(params: &[T; 3], rows: &[Weighted]) -> T {
    let [p, q, v] = *params;
    let mut total = T::cst(0.0);
    let mut terms: Option<FrequencyTerms<T>> = None;
    for row in rows {
        let x = row.history.frequency;
        let current = match terms {
            Some(t) if t.x == x => t,
            _ => *terms.insert(frequency_terms(p, q, v, x)),
        };
        total =
            total + row_log_likelihood(&current, v, row.history.recency, row.history.age).scale(row.weight);
    }
    total
}

/// Rows ordered by frequency (so the gamma functions of x are computed once per run): a
/// counting sort when frequencies are whole numbers, as they are from summaries.
fn sorted_by_frequency(mut rows: Vec<Weighted>) -> Vec<Weighted> {
    const MAX_COUNTED: f64 = 1_000_000.0;
    let whole = rows
        .iter()
        .all(|w| w.history.frequency.fract() == 0.0 && w.history.frequency < MAX_COUNTED);
    if !whole {
        rows.sort_unstable_by(|a, b| a.history.frequency.total_cmp(&b.history.frequency));
        return rows;
    }
    let largest = rows
        .iter()
        .map(|w| w.history.frequency as usize)
        .max()
        .unwrap_or(0);
    let mut starts = vec![0usize; largest + 2];
    for w in &rows {
        starts[w.history.frequency as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut out = vec![rows[0]; rows.len()];
    for w in rows {
        let slot = &mut starts[w.history.frequency as usize];
        out[*slot] = w;
        *slot += 1;
    }
    out
}

impl GammaGamma {
    /// Fits on repeat buyers; rows with frequency 0 or spend ≤ 0 are skipped (the model is
    /// undefined for them).
    pub fn fit(rows: &[SpendHistory], options: &FitOptions) -> Result<Fit<Self>, FitError> {
        let mut usable: Vec<Weighted> = Vec::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let valid = row.frequency.is_finite()
                && row.monetary.is_finite()
                && row.weight.is_finite()
                && row.frequency >= 0.0
                && row.weight >= 0.0;
            if !valid {
                return Err(FitError::InvalidHistory {
                    index,
                    reason: "frequency, spend and weight must be finite and not negative",
                });
            }
            if row.frequency > 0.0 && row.monetary > 0.0 && row.weight > 0.0 {
                usable.push(Weighted {
                    history: History::new(row.frequency, row.monetary, row.monetary.ln()),
                    weight: row.weight,
                });
            }
        }
        if usable.is_empty() {
            return Err(FitError::NoRepeatBuyers);
        }
        let usable = sorted_by_frequency(usable);
        let total_weight: f64 = usable.iter().map(|w| w.weight).sum();
        let objective = PenalisedMean {
            rows: &usable,
            total_weight,
            penalizer: options.penalizer,
            chunk_log_likelihood: chunk_log_likelihood::<crate::dual::Dual<3>>,
        };
        // Spend comes in any unit (rupees, paise, drams): start v at the data's scale, as the
        // likelihood is unchanged by scaling spend and v together.
        let mean_spend = usable.iter().map(|w| w.weight * w.history.recency).sum::<f64>() / total_weight;
        let start = [0.1, 0.1, 0.1 + mean_spend.ln()];
        let (minimum, [p, q, v], errors) = solve(&objective, start, options, total_weight)?;
        let model = GammaGamma { p, q, v };
        let log_likelihood =
            total_log_likelihood(minimum.value, &[p, q, v], objective.penalizer, total_weight);
        Ok(finish(
            model,
            &[p, q, v],
            errors,
            log_likelihood,
            total_weight,
            minimum.iterations,
        ))
    }

    /// Expected average spend per purchase for a customer with this history (E[M | x, m̄]):
    /// a mix of the population mean v p/(q − 1) and the customer's own mean, weighted
    /// p x/(p x + q − 1) towards their own; the population mean for x = 0.
    pub fn expected_average_spend(&self, frequency: f64, monetary: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        let own = p * frequency / (p * frequency + q - 1.0);
        let population = v * p / (q - 1.0);
        (1.0 - own) * population + own * monetary
    }

    /// Log-likelihood of one repeat buyer's mean spend.
    pub fn log_likelihood(&self, frequency: f64, monetary: f64) -> f64 {
        let GammaGamma { p, q, v } = *self;
        row_log_likelihood(&frequency_terms(p, q, v, frequency), v, monetary, monetary.ln())
    }
}
