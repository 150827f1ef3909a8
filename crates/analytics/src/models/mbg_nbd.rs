//! MBG/NBD: Batislam, Denizel and Filiztekin (2007), with Wagner and Hoppe's (2008) erratum.
//!
//! As BG/NBD, but a customer may also drop out at time zero, right after the first purchase,
//! so customers without repeat purchases are not all assumed alive.

use super::bg_nbd::median_wait;
use super::fitting::{
    finish, index_times, rescaled, solve, total_log_likelihood, unscaled_log_likelihood, PenalisedMean,
};
use super::{check_rows, Fit, FitError, FitOptions, PurchaseModel};
use crate::dual::{Dual, Real};
use crate::special::{hyp2f1_scaled, ln_beta, ln_gamma, softplus};
use crate::{History, Weighted};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MbgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

struct FrequencyTerms<T> {
    x: f64,
    /// r + x
    rx: T,
    /// ln Γ(r+x) − ln Γ(r) + ln B(a, b+x+1) − ln B(a, b)
    common: T,
    /// ln a − ln(b + x)
    dropout: T,
}

fn frequency_terms<T: Real>(r: T, ln_alpha: T, a: T, b: T, x: f64) -> FrequencyTerms<T> {
    let common =
        (r + T::cst(x)).ln_gamma() - r.ln_gamma() + (a + b).ln_gamma() + (b + T::cst(x + 1.0)).ln_gamma()
            - b.ln_gamma()
            - (a + b + T::cst(x + 1.0)).ln_gamma();
    FrequencyTerms {
        x,
        rx: r + T::cst(x),
        common: common + r * ln_alpha,
        dropout: a.ln() - (b + T::cst(x)).ln(),
    }
}

/// The log-likelihood given ln(α+T) and ln(α+t_x).
fn row_log_likelihood<T: Real>(terms: &FrequencyTerms<T>, ln_age: T, ln_recency: T) -> T {
    terms.common - terms.rx * ln_age + (terms.dropout + terms.rx * (ln_age - ln_recency)).softplus()
}

/// Σ weight × log-likelihood over rows sorted by frequency whose times are indices into
/// `times` (see `index_times`).
pub(crate) fn chunk_log_likelihood<T: Real>(params: &[T; 4], rows: &[Weighted], times: &[f64]) -> T {
    let [r, alpha, a, b] = *params;
    let ln_alpha = alpha.ln();
    // Continuous-time data has about as many distinct times as rows: look those up per row.
    let tabulate = times.len() <= rows.len();
    let ln_times: Vec<T> = if tabulate {
        times.iter().map(|&u| (alpha + T::cst(u)).ln()).collect()
    } else {
        Vec::new()
    };
    let ln_time = |i: f64| {
        if tabulate {
            ln_times[i as usize]
        } else {
            (alpha + T::cst(times[i as usize])).ln()
        }
    };
    let mut total = T::cst(0.0);
    let mut terms: Option<FrequencyTerms<T>> = None;
    for row in rows {
        let x = row.history.frequency;
        if terms.as_ref().is_none_or(|t| t.x != x) {
            terms = Some(frequency_terms(r, ln_alpha, a, b, x));
        }
        let terms = terms.as_ref().expect("set above");
        let ln_age = ln_time(row.history.age);
        let ln_recency = ln_time(row.history.recency);
        total = total + row_log_likelihood(terms, ln_age, ln_recency).scale(row.weight);
    }
    total
}

impl MbgNbd {
    /// Maximum-likelihood fit on compressed histories (see [`crate::compress`]).
    pub fn fit(rows: &[Weighted], options: &FitOptions) -> Result<Fit<Self>, FitError> {
        let total_weight = check_rows(rows)?;
        let (scaled, scale) = rescaled(rows);
        let (times, indexed) = index_times(&scaled);
        let objective = PenalisedMean {
            rows: &indexed,
            total_weight,
            penalizer: options.penalizer,
            chunk_log_likelihood: |params: &[Dual<4>; 4], chunk: &[Weighted]| {
                chunk_log_likelihood(params, chunk, &times)
            },
        };
        let (minimum, [r, alpha, a, b], errors) = solve(&objective, [0.1; 4], options, total_weight)?;
        let model = MbgNbd {
            r,
            alpha: alpha / scale,
            a,
            b,
        };
        let parameters = [model.r, model.alpha, model.a, model.b];
        let scaled_ll = total_log_likelihood(
            minimum.value,
            &[r, alpha, a, b],
            objective.penalizer,
            total_weight,
        );
        let log_likelihood = unscaled_log_likelihood(scaled_ll, rows, scale);
        Ok(finish(
            model,
            &parameters,
            errors,
            log_likelihood,
            total_weight,
            minimum.iterations,
        ))
    }

    /// P(X(t) = n) for a randomly chosen new customer.
    pub fn probability_of_purchases(&self, n: u32, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let n = n as f64;
        let ln_stay = (alpha / (alpha + t)).ln();
        let ln_buy = (t / (alpha + t)).ln();
        let first =
            (ln_beta(a, b + n + 1.0) - ln_beta(a, b) + ln_gamma(r + n) - ln_gamma(r) - ln_gamma(n + 1.0)
                + r * ln_stay
                + n * ln_buy)
                .exp();
        let finite_sum: f64 = (0..n as u32)
            .map(|j| {
                let j = j as f64;
                (ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + j * ln_buy).exp()
            })
            .sum();
        let second =
            (ln_beta(a + 1.0, b + n) - ln_beta(a, b)).exp() * (1.0 - (r * ln_stay).exp() * finite_sum);
        first + second
    }

    fn ln_dropout_odds(&self, h: &History) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let x = h.frequency;
        a.ln() - (b + x).ln() + (r + x) * ((alpha + h.age) / (alpha + h.recency)).ln()
    }
}

impl PurchaseModel for MbgNbd {
    fn name(&self) -> &'static str {
        "mbg_nbd"
    }

    fn expected_purchases(&self, t: f64) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        if t <= 0.0 {
            return 0.0;
        }
        let scaled = hyp2f1_scaled(r, b + 1.0, a + b, t / (alpha + t), r * (alpha / (alpha + t)).ln());
        b / (a - 1.0) * (1.0 - scaled)
    }

    fn conditional_expected_purchases(&self, t: f64, h: &History) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        if t <= 0.0 {
            return 0.0;
        }
        let x = h.frequency;
        let ln_power = (r + x) * ((alpha + h.age) / (alpha + t + h.age)).ln();
        let scaled = hyp2f1_scaled(r + x, b + x + 1.0, a + b + x, t / (alpha + h.age + t), ln_power);
        let numerator = (a + b + x) / (a - 1.0) * (1.0 - scaled);
        numerator * (-softplus(self.ln_dropout_odds(h))).exp()
    }

    fn p_alive(&self, h: &History) -> f64 {
        (-softplus(self.ln_dropout_odds(h))).exp()
    }

    fn log_likelihood(&self, h: &History) -> f64 {
        let MbgNbd { r, alpha, a, b } = *self;
        let terms = frequency_terms(r, alpha.ln(), a, b, h.frequency);
        row_log_likelihood(&terms, (alpha + h.age).ln(), (alpha + h.recency).ln())
    }

    fn next_purchase_in(&self, h: &History) -> f64 {
        median_wait(self.r + h.frequency, self.alpha + h.age)
    }
}
