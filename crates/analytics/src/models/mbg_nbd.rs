//! MBG/NBD: Batislam, Denizel and Filiztekin (2007), with Wagner and Hoppe's (2008) erratum.
//!
//! As BG/NBD, but a customer may also drop out at time zero, right after the first purchase,
//! so customers without repeat purchases are not all assumed alive.

use super::beta_geometric::{self, FrequencyTerms};
use super::bg_nbd::median_wait;
use super::{Fit, FitError, FitOptions, PurchaseModel};
use crate::dual::Real;
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

/// The terms of x alone: ln Γ(r+x) − ln Γ(r) + ln B(a, b+x+1) − ln B(a, b) + r ln α, and ln a − ln(b+x) for the
/// dropped-out branch.
pub(crate) fn frequency_terms<T: Real>(r: T, ln_alpha: T, a: T, b: T, x: f64) -> FrequencyTerms<T> {
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
pub(crate) fn row_log_likelihood<T: Real>(terms: &FrequencyTerms<T>, ln_age: T, ln_recency: T) -> T {
    terms.common - terms.rx * ln_age + (terms.dropout + terms.rx * (ln_age - ln_recency)).softplus()
}

impl MbgNbd {
    /// Maximum-likelihood fit on compressed histories (see [`crate::compress`]).
    pub fn fit(rows: &[Weighted], options: &FitOptions) -> Result<Fit<Self>, FitError> {
        beta_geometric::fit(
            rows,
            options,
            frequency_terms,
            row_log_likelihood,
            |[r, alpha, a, b]| MbgNbd { r, alpha, a, b },
        )
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
