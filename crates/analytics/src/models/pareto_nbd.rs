//! Pareto/NBD: Schmittlein, Morrison and Colombo (1987), in the form of Fader and Hardie's
//! note "A Note on Deriving the Pareto/NBD Model and Related Expressions" (2005).
//!
//! While active a customer buys at rate λ ~ Gamma(r, α); their lifetime is exponential with
//! rate μ ~ Gamma(s, β), so they may drop out at any moment, not only after a purchase.

use super::bg_nbd::median_wait;
use super::fitting::{finish, rescaled, solve, total_log_likelihood, unscaled_log_likelihood, PenalisedMean};
use super::{check_rows, Fit, FitError, FitOptions, PurchaseModel};
use crate::dual::{log_add_exp, log_sub_exp, Real};
use crate::special::{ln_beta, ln_gamma, ln_hyp2f1, log_sum_exp};
use crate::{History, Weighted};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbd {
    pub r: f64,
    pub alpha: f64,
    pub s: f64,
    pub beta: f64,
}

/// ln ₂F₁(a, b; a + 1; z) for the likelihood's A₀, through Euler's transformation
/// (1 − z)^(1−b) ₂F₁(1, a + 1 − b; a + 1; z), whose terms are all positive and shrink at once
/// by at most z — so customers with a thousand purchases are as exact as those with one.
fn ln_hyp2f1_a_plus_one<T: Real>(a: T, b: T, z: T) -> T {
    let c = a + T::cst(1.0);
    let c_minus_b = c - b;
    let mut term = T::cst(1.0);
    let mut sum = T::cst(1.0);
    for n in 0..1_000_000 {
        let n = n as f64;
        term = term * (c_minus_b + T::cst(n)) / (c + T::cst(n)) * z;
        sum = sum + term;
        if term.value() <= 1e-17 * sum.value() {
            break;
        }
    }
    (T::cst(1.0) - b) * (T::cst(1.0) - z).ln() + sum.ln()
}

/// One of the two terms of A₀ (the note's equations (20), (21)) at time u ∈ {t_x, T}:
/// ln ₂F₁(r+s+x, b; r+s+x+1; |α−β|/(max(α,β)+u)) − (r+s+x) ln(max(α,β)+u), with b = r+x when
/// α < β and s+1 otherwise; A₀ = e^(half at t_x) − e^(half at T).
fn a0_half<T: Real>(r: T, alpha: T, s: T, beta: T, x: f64, u: f64) -> T {
    let x = T::cst(x);
    let (small, large, b) = if alpha.value() < beta.value() {
        (alpha, beta, r + x)
    } else {
        (beta, alpha, s + T::cst(1.0))
    };
    let rsx = r + s + x;
    let q = large + T::cst(u);
    ln_hyp2f1_a_plus_one(rsx, b, (large - small) / q) - rsx * q.ln()
}

/// ln A₀; `None` when t_x = T, where the integral over (t_x, T] is empty.
fn ln_a0<T: Real>(r: T, alpha: T, s: T, beta: T, h: &History) -> Option<T> {
    (h.recency < h.age).then(|| {
        log_sub_exp(
            a0_half(r, alpha, s, beta, h.frequency, h.recency),
            a0_half(r, alpha, s, beta, h.frequency, h.age),
        )
    })
}

fn row_log_likelihood<T: Real>(params: &[T; 4], ln_gamma_ratio: T, ln_a0: Option<T>, h: &History) -> T {
    let [r, alpha, s, beta] = *params;
    let rx = r + T::cst(h.frequency);
    let a1 = ln_gamma_ratio + r * alpha.ln() + s * beta.ln();
    let alive = -(rx * (alpha + T::cst(h.age)).ln()) - s * (beta + T::cst(h.age)).ln();
    let a2 = match ln_a0 {
        Some(ln_a0) => log_add_exp(alive, s.ln() + ln_a0 - (rx + s).ln()),
        None => alive,
    };
    a1 + a2
}

/// Σ weight × log-likelihood over rows sorted by (x, t_x, T): the x-only term and the t_x half
/// of A₀ are computed once per run of equal keys (every x = 0 row shares t_x = 0).
pub(crate) fn chunk_log_likelihood<T: Real>(params: &[T; 4], rows: &[Weighted]) -> T {
    let [r, alpha, s, beta] = *params;
    let mut total = T::cst(0.0);
    let mut ratio_for: Option<(f64, T)> = None;
    let mut recency_half_for: Option<(f64, f64, T)> = None;
    for row in rows {
        let h = &row.history;
        let x = h.frequency;
        let ratio = match ratio_for {
            Some((cx, ratio)) if cx == x => ratio,
            _ => {
                let ratio = (r + T::cst(x)).ln_gamma() - r.ln_gamma();
                ratio_for = Some((x, ratio));
                ratio
            }
        };
        let ln_a0 = (h.recency < h.age).then(|| {
            let recency_half = match recency_half_for {
                Some((cx, ctx, half)) if cx == x && ctx == h.recency => half,
                _ => {
                    let half = a0_half(r, alpha, s, beta, x, h.recency);
                    recency_half_for = Some((x, h.recency, half));
                    half
                }
            };
            log_sub_exp(recency_half, a0_half(r, alpha, s, beta, x, h.age))
        });
        total = total + row_log_likelihood(params, ratio, ln_a0, h).scale(row.weight);
    }
    total
}

impl ParetoNbd {
    /// Maximum-likelihood fit on compressed histories (see [`crate::compress`]).
    ///
    /// `lifetimes` penalises this model's *summed* likelihood rather than its mean; so that a
    /// penalizer means the same here, it is divided by the number of customers.
    pub fn fit(rows: &[Weighted], options: &FitOptions) -> Result<Fit<Self>, FitError> {
        let total_weight = check_rows(rows)?;
        let (scaled, scale) = rescaled(rows);
        let objective = PenalisedMean {
            rows: &scaled,
            total_weight,
            penalizer: options.penalizer / total_weight,
            chunk_log_likelihood: chunk_log_likelihood::<crate::dual::Dual<4>>,
        };
        let (minimum, [r, alpha, s, beta], errors) = solve(&objective, [0.0; 4], options, total_weight)?;
        let model = ParetoNbd {
            r,
            alpha: alpha / scale,
            s,
            beta: beta / scale,
        };
        let parameters = [model.r, model.alpha, model.s, model.beta];
        let scaled_ll = total_log_likelihood(
            minimum.value,
            &[r, alpha, s, beta],
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

    fn params(&self) -> [f64; 4] {
        [self.r, self.alpha, self.s, self.beta]
    }

    /// P(X(t) = n) over the next `t` for a customer with this history (the note's
    /// equation (22), as `lifetimes` computes it).
    pub fn conditional_probability_of_purchases(&self, n: u32, t: f64, h: &History) -> f64 {
        if t <= 0.0 {
            return if n == 0 { 1.0 } else { 0.0 };
        }
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (x, big_t, nf) = (h.frequency, h.age, n as f64);
        let (small, large, p) = if alpha < beta {
            (alpha, beta, r + x + nf)
        } else {
            (beta, alpha, s + 1.0)
        };
        let gap = large - small;
        let ll = self.log_likelihood(h);
        let ln_prior = r * alpha.ln() + s * beta.ln() - ln_gamma(r);
        let ln_p_zero =
            ln_gamma(r + x) + ln_prior - (r + x) * (alpha + big_t).ln() - s * (beta + big_t).ln() - ll;
        let ln_b_one = ln_gamma(r + x + nf) + ln_prior
            - (r + x + nf) * (alpha + big_t + t).ln()
            - s * (beta + big_t + t).ln();
        let ln_b_two = ln_prior + ln_gamma(r + s + x) + ln_beta(r + x + nf, s + 1.0) - ln_gamma(s)
            + ln_hyp2f1(r + s + x, p, r + s + x + nf + 1.0, gap / (large + big_t))
            - (r + s + x) * (large + big_t).ln();
        let ln_b_three = |i: f64| {
            ln_prior + ln_gamma(r + s + x + i) + ln_beta(r + x + nf, s + 1.0) - ln_gamma(s)
                + ln_hyp2f1(r + s + x + i, p, r + s + x + nf + 1.0, gap / (large + big_t + t))
                - (r + s + x + i) * (large + big_t + t).ln()
        };
        let zeroth = if n == 0 { -ln_p_zero.exp_m1() } else { 0.0 };
        let first = nf * t.ln() - ln_gamma(nf + 1.0) + ln_b_one - ll;
        let second = ln_b_two - ll;
        let third_terms: Vec<f64> = (0..=n)
            .map(|i| i as f64)
            .map(|i| i * t.ln() - ln_gamma(i + 1.0) + ln_b_three(i) - ll)
            .collect();
        let third = log_sum_exp(&third_terms);
        // The terms are of order one and cancel to the probability; where that is below
        // rounding (~1e-16) the difference can come out slightly negative.
        (zeroth + first.exp() + second.exp() - third.exp()).clamp(0.0, 1.0)
    }
}

impl PurchaseModel for ParetoNbd {
    fn name(&self) -> &'static str {
        "pareto_nbd"
    }

    /// E[X(t)] = rβ/(α(s−1)) [1 − (β/(β+t))^(s−1)].
    fn expected_purchases(&self, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        r * beta / alpha * one_minus_power_over(s - 1.0, (beta / (beta + t)).ln())
    }

    fn conditional_expected_purchases(&self, t: f64, h: &History) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        if t <= 0.0 {
            return 0.0;
        }
        let x = h.frequency;
        let big_t = h.age;
        let first = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln() + s * beta.ln()
            - (r + x) * (alpha + big_t).ln()
            - s * (beta + big_t).ln();
        let second = (r + x).ln() + (beta + big_t).ln() - (alpha + big_t).ln();
        let third = one_minus_power_over(s - 1.0, ((beta + big_t) / (beta + big_t + t)).ln()).ln();
        (first + second + third - self.log_likelihood(h)).exp()
    }

    fn p_alive(&self, h: &History) -> f64 {
        let [r, alpha, s, beta] = self.params();
        let x = h.frequency;
        match ln_a0(r, alpha, s, beta, h) {
            None => 1.0,
            Some(ln_a0) => {
                let ln_odds = s.ln() - (r + s + x).ln()
                    + (r + x) * (alpha + h.age).ln()
                    + s * (beta + h.age).ln()
                    + ln_a0;
                (-crate::special::softplus(ln_odds)).exp()
            }
        }
    }

    fn log_likelihood(&self, h: &History) -> f64 {
        let [r, alpha, s, beta] = self.params();
        let ratio = ln_gamma(r + h.frequency) - ln_gamma(r);
        row_log_likelihood(&self.params(), ratio, ln_a0(r, alpha, s, beta, h), h)
    }

    fn next_purchase_in(&self, h: &History) -> f64 {
        median_wait(self.r + h.frequency, self.alpha + h.age)
    }
}

/// (1 − e^(k·ln_y)) / k, and its limit −ln_y at k = 0.
fn one_minus_power_over(k: f64, ln_y: f64) -> f64 {
    if k.abs() < 1e-12 {
        -ln_y
    } else {
        -(k * ln_y).exp_m1() / k
    }
}
