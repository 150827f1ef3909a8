//! BG/NBD: Fader, Hardie and Lee (2005), "Counting Your Customers the Easy Way".
//!
//! While active a customer buys at rate λ ~ Gamma(r, α); after each purchase they drop out
//! with probability p ~ Beta(a, b).

use super::beta_geometric::{self, FrequencyTerms};
use super::{Fit, FitError, FitOptions, PurchaseModel};
use crate::dual::{log_add_exp, Real};
use crate::special::{hyp2f1_scaled, ln_beta, ln_gamma, softplus};
use crate::{History, Weighted};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// The terms of x alone: ln Γ(r+x) − ln Γ(r) + ln B(a, b+x) − ln B(a, b) + r ln α, and ln a − ln(b+x−1) for the
/// dropped-out-after-the-last-purchase branch (x > 0 only).
pub(crate) fn frequency_terms<T: Real>(r: T, ln_alpha: T, a: T, b: T, x: f64) -> FrequencyTerms<T> {
    let common = (r + T::cst(x)).ln_gamma() - r.ln_gamma() + (a + b).ln_gamma() + (b + T::cst(x)).ln_gamma()
        - b.ln_gamma()
        - (a + b + T::cst(x)).ln_gamma();
    let dropout = if x > 0.0 {
        a.ln() - (b + T::cst(x - 1.0)).ln()
    } else {
        T::cst(0.0)
    };
    FrequencyTerms {
        x,
        rx: r + T::cst(x),
        common: common + r * ln_alpha,
        dropout,
    }
}

/// Equation (6) of the paper in log space, given ln(α+T) and ln(α+t_x).
pub(crate) fn row_log_likelihood<T: Real>(terms: &FrequencyTerms<T>, ln_age: T, ln_recency: T) -> T {
    let alive = -(terms.rx * ln_age);
    let tail = if terms.x > 0.0 {
        log_add_exp(alive, terms.dropout - terms.rx * ln_recency)
    } else {
        alive
    };
    terms.common + tail
}

impl BgNbd {
    /// Maximum-likelihood fit on compressed histories (see [`crate::compress`]).
    pub fn fit(rows: &[Weighted], options: &FitOptions) -> Result<Fit<Self>, FitError> {
        beta_geometric::fit(
            rows,
            options,
            frequency_terms,
            row_log_likelihood,
            |[r, alpha, a, b]| BgNbd { r, alpha, a, b },
        )
    }

    /// P(X(t) = n) for a randomly chosen new customer (equation (8) of the paper).
    pub fn probability_of_purchases(&self, n: u32, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let n = n as f64;
        let ln_stay = (alpha / (alpha + t)).ln();
        let ln_buy = (t / (alpha + t)).ln();
        let first = (ln_beta(a, b + n) - ln_beta(a, b) + ln_gamma(r + n) - ln_gamma(r) - ln_gamma(n + 1.0)
            + r * ln_stay
            + n * ln_buy)
            .exp();
        if n == 0.0 {
            return first;
        }
        let finite_sum: f64 = (0..n as u32)
            .map(|j| {
                let j = j as f64;
                (ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + j * ln_buy).exp()
            })
            .sum();
        let second =
            (ln_beta(a + 1.0, b + n - 1.0) - ln_beta(a, b)).exp() * (1.0 - (r * ln_stay).exp() * finite_sum);
        first + second
    }
}

impl PurchaseModel for BgNbd {
    fn name(&self) -> &'static str {
        "bg_nbd"
    }

    /// Equation (7): E[X(t)] = (a+b−1)/(a−1) [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))].
    fn expected_purchases(&self, t: f64) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        if t <= 0.0 {
            return 0.0;
        }
        let scaled = hyp2f1_scaled(r, b, a + b - 1.0, t / (alpha + t), r * (alpha / (alpha + t)).ln());
        (a + b - 1.0) / (a - 1.0) * (1.0 - scaled)
    }

    /// Equation (10), with the ₂F₁ and the large powers in log space.
    fn conditional_expected_purchases(&self, t: f64, h: &History) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        if t <= 0.0 {
            return 0.0;
        }
        let x = h.frequency;
        let ln_power = (r + x) * ((alpha + h.age) / (alpha + t + h.age)).ln();
        let scaled = hyp2f1_scaled(r + x, b + x, a + b + x - 1.0, t / (alpha + h.age + t), ln_power);
        let numerator = (a + b + x - 1.0) / (a - 1.0) * (1.0 - scaled);
        if x == 0.0 {
            return numerator;
        }
        numerator * (-softplus(self.ln_dropout_odds(h))).exp()
    }

    /// P(alive | x, t_x, T) = 1 / (1 + δ(x>0) a/(b+x−1) ((α+T)/(α+t_x))^(r+x)).
    fn p_alive(&self, h: &History) -> f64 {
        if h.frequency == 0.0 {
            return 1.0;
        }
        (-softplus(self.ln_dropout_odds(h))).exp()
    }

    fn log_likelihood(&self, h: &History) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let terms = frequency_terms(r, alpha.ln(), a, b, h.frequency);
        row_log_likelihood(&terms, (alpha + h.age).ln(), (alpha + h.recency).ln())
    }

    fn next_purchase_in(&self, h: &History) -> f64 {
        median_wait(self.r + h.frequency, self.alpha + h.age)
    }
}

impl BgNbd {
    /// ln of the odds that a customer with x > 0 dropped out after their last purchase.
    fn ln_dropout_odds(&self, h: &History) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = h.frequency;
        a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + h.age) / (alpha + h.recency)).ln()
    }
}

/// Median waiting time of the next purchase for a rate distributed Gamma(shape, rate):
/// P(wait > t) = (rate/(rate+t))^shape = 1/2.
pub(crate) fn median_wait(shape: f64, rate: f64) -> f64 {
    rate * (std::f64::consts::LN_2 / shape).exp_m1()
}
