//! The purchase models (BG/NBD, MBG/NBD, Pareto/NBD) and the Gamma-Gamma spend model.
//!
//! Every model is fitted by maximum likelihood on compressed histories, in log-parameter space
//! (so parameters stay positive), with the data's time rescaled so the oldest customer has age
//! 1 (as `lifetimes` does, which keeps the optimiser well conditioned and makes an L2 penalizer
//! mean the same thing in both libraries). Standard errors come from the inverse Hessian of the
//! log-likelihood at the optimum.

mod beta_geometric;
pub mod bg_nbd;
pub mod gamma_gamma;
pub mod mbg_nbd;
pub mod pareto_nbd;

use crate::History;
use serde::Serialize;

/// What a purchase model predicts for a customer with a given history.
pub trait PurchaseModel {
    /// Model name as used in reports (`bg_nbd`, `mbg_nbd`, `pareto_nbd`).
    fn name(&self) -> &'static str;
    /// Expected repeat purchases in `t` for a randomly chosen new customer.
    fn expected_purchases(&self, t: f64) -> f64;
    /// Expected purchases in the next `t` for a customer with this history.
    fn conditional_expected_purchases(&self, t: f64, history: &History) -> f64;
    /// Probability the customer is still active ("alive").
    fn p_alive(&self, history: &History) -> f64;
    /// Log-likelihood of one customer's history.
    fn log_likelihood(&self, history: &History) -> f64;
    /// Time until the next purchase, should the customer still be active: the median of the
    /// waiting time under the posterior purchase rate, Gamma(r + x, alpha + T), which is
    /// `(alpha + T) (2^(1/(r+x)) - 1)`. Finite for every history, unlike the mean.
    fn next_purchase_in(&self, history: &History) -> f64;
}

/// How to fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitOptions {
    /// L2 penalty on the (time-rescaled) parameters, as `lifetimes`' `penalizer_coef`.
    pub penalizer: f64,
    /// Stop when the gradient's largest component (of the mean log-likelihood, in log-parameter
    /// space) falls below this.
    pub tolerance: f64,
    pub max_iterations: u32,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            penalizer: 0.0,
            tolerance: 1e-8,
            max_iterations: 500,
        }
    }
}

/// A fitted model with its fit statistics.
#[derive(Clone, Debug, Serialize)]
pub struct Fit<M> {
    pub model: M,
    /// Standard errors of the parameters, in the parameters' order; `None` when the Hessian at
    /// the optimum is not invertible (a flat direction, e.g. a parameter running to infinity).
    pub standard_errors: Option<Vec<f64>>,
    /// Total log-likelihood of the data (not penalised, not averaged).
    pub log_likelihood: f64,
    /// Customers the fit saw (sum of weights).
    pub customers: f64,
    pub iterations: u32,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error("there are no customers to fit")]
    NoCustomers,
    #[error("the spend model needs customers with repeat purchases and positive spend; there are none")]
    NoRepeatBuyers,
    #[error("customer row {index}: {reason}")]
    InvalidHistory { index: usize, reason: &'static str },
    #[error("the fit did not converge in {iterations} iterations; try a penalizer such as 0.001")]
    NotConverged { iterations: u32 },
}

/// Validates weighted rows and returns the total weight.
pub(crate) fn check_rows(rows: &[crate::Weighted]) -> Result<f64, FitError> {
    let mut total = 0.0;
    for (index, row) in rows.iter().enumerate() {
        row.history
            .check()
            .map_err(|reason| FitError::InvalidHistory { index, reason })?;
        if !(row.weight.is_finite() && row.weight >= 0.0) {
            return Err(FitError::InvalidHistory {
                index,
                reason: "weight must be a finite number, 0 or more",
            });
        }
        total += row.weight;
    }
    if total <= 0.0 {
        return Err(FitError::NoCustomers);
    }
    Ok(total)
}

/// Starting point, rescaling and result handling shared by the fits.
pub(crate) mod fitting {
    use super::{Fit, FitError};
    use crate::dual::{Dual, Real};
    use crate::optimize::{self, Minimum, Objective};
    use crate::{History, Weighted};

    /// Time is rescaled so the oldest customer has age 1, as `lifetimes` does: it keeps the
    /// optimiser well conditioned whatever the unit, and makes a penalizer mean the same thing.
    pub fn rescaled(rows: &[Weighted]) -> (Vec<Weighted>, f64) {
        let oldest = rows.iter().map(|w| w.history.age).fold(0.0, f64::max);
        let scale = if oldest > 0.0 { 1.0 / oldest } else { 1.0 };
        let scaled = rows
            .iter()
            .map(|w| Weighted {
                history: History::new(
                    w.history.frequency,
                    w.history.recency * scale,
                    w.history.age * scale,
                ),
                weight: w.weight,
            })
            .collect();
        (scaled, scale)
    }

    /// Rows whose recency and age are replaced by indices into a table of the distinct times,
    /// so a likelihood computes ln(α + u) once per distinct time instead of twice per row
    /// (summaries in days or weeks have a few hundred distinct times for any number of rows).
    pub fn index_times(rows: &[Weighted]) -> (Vec<f64>, Vec<Weighted>) {
        let mut index = crate::TimeIndex::default();
        let indexed = rows
            .iter()
            .map(|w| {
                let (recency, age) = (index.id(w.history.recency), index.id(w.history.age));
                Weighted {
                    history: History::new(w.history.frequency, recency as f64, age as f64),
                    weight: w.weight,
                }
            })
            .collect();
        (index.into_times(), indexed)
    }

    /// exp(θ) as dual numbers: the parameters and their derivatives by θ.
    pub fn parameters<const N: usize>(theta: &[f64; N]) -> [Dual<N>; N] {
        std::array::from_fn(|i| {
            let mut p = Dual::variable(theta[i].exp(), i);
            p.d[i] = p.v;
            p
        })
    }

    /// Sums `chunk_sum` over the rows, on every core for large inputs.
    pub fn parallel_sum<T: Real + Send>(rows: &[Weighted], chunk_sum: impl Fn(&[Weighted]) -> T + Sync) -> T {
        const MIN_CHUNK: usize = 8_192;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(16);
        if threads == 1 || rows.len() < 2 * MIN_CHUNK {
            return chunk_sum(rows);
        }
        let size = rows.len().div_ceil(threads).max(MIN_CHUNK);
        std::thread::scope(|scope| {
            let handles: Vec<_> = rows
                .chunks(size)
                .map(|chunk| scope.spawn(|| chunk_sum(chunk)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a likelihood thread"))
                .fold(T::cst(0.0), |a, b| a + b)
        })
    }

    /// Mean negative log-likelihood plus the L2 penalty, with its gradient by θ = ln(params).
    pub struct PenalisedMean<'a, const N: usize, F> {
        pub rows: &'a [Weighted],
        pub total_weight: f64,
        pub penalizer: f64,
        /// Σ weight × log-likelihood over a chunk of rows.
        pub chunk_log_likelihood: F,
    }

    impl<const N: usize, F> Objective<N> for PenalisedMean<'_, N, F>
    where
        F: Fn(&[Dual<N>; N], &[Weighted]) -> Dual<N> + Sync,
    {
        fn evaluate(&self, theta: &[f64; N]) -> (f64, [f64; N]) {
            if theta.iter().any(|t| !t.is_finite() || t.abs() > 50.0) {
                return (f64::INFINITY, [0.0; N]);
            }
            let params = parameters(theta);
            let ll = parallel_sum(self.rows, |chunk| (self.chunk_log_likelihood)(&params, chunk));
            let penalty = params.iter().fold(Dual::cst(0.0), |acc, p| acc + *p * *p);
            let objective = penalty.scale(self.penalizer) - ll.scale(1.0 / self.total_weight);
            if !objective.v.is_finite() || objective.d.iter().any(|d| !d.is_finite()) {
                return (f64::INFINITY, [0.0; N]);
            }
            (objective.v, objective.d)
        }
    }

    /// Runs the minimiser; returns the minimum, the (rescaled) parameters and their relative
    /// standard errors √((H⁻¹)ᵢᵢ / W): by the delta method se(p) = p × that for θ = ln p, as
    /// `lifetimes` computes them, and rescaling time does not change it.
    /// The minimum, the (rescaled) parameters and their relative standard errors.
    pub type Solution<const N: usize> = (Minimum<N>, [f64; N], Option<Vec<f64>>);

    pub fn solve<const N: usize, F>(
        objective: &PenalisedMean<'_, N, F>,
        start: [f64; N],
        options: &super::FitOptions,
        total_weight: f64,
    ) -> Result<Solution<N>, FitError>
    where
        F: Fn(&[Dual<N>; N], &[Weighted]) -> Dual<N> + Sync,
    {
        let minimum = two_stage(objective, start, options);
        if !minimum.converged
            && !minimum
                .gradient
                .iter()
                .all(|g| g.abs() < options.tolerance.sqrt())
        {
            return Err(FitError::NotConverged {
                iterations: minimum.iterations,
            });
        }
        let params = minimum.theta.map(f64::exp);
        let errors = optimize::inverse(&minimum.hessian).map(|inv| {
            (0..N)
                .map(|i| (inv[i][i].max(0.0) / total_weight).sqrt())
                .collect::<Vec<_>>()
        });
        Ok((minimum, params, errors))
    }

    /// Rows above which the search runs on a sample first.
    const SAMPLE_ABOVE: usize = 20_000;
    const SAMPLE_ROWS: usize = 8_000;

    /// Every `step`-th row, standing for the `step` rows around it (its weight × step), plus
    /// every row heavier than that on its own, at its weight: the sample's mean log-likelihood
    /// then estimates the full one without the noise of catching or missing a heavy row
    /// (thousands of customers share a history like "one purchase, 30 weeks ago").
    fn weighted_sample(rows: &[Weighted], step: usize) -> Vec<Weighted> {
        let heavy = step as f64;
        let mut sample: Vec<Weighted> = Vec::with_capacity(2 * rows.len() / step);
        for (i, row) in rows.iter().enumerate() {
            if row.weight >= heavy {
                sample.push(*row);
            } else if i % step == 0 {
                sample.push(Weighted {
                    history: row.history,
                    weight: row.weight * heavy,
                });
            }
        }
        sample
    }

    /// Large inputs are fitted first on an evenly spread sample of their rows (sorted by
    /// frequency, so every frequency is represented): that search costs a fraction of one pass
    /// over the full data per step, and lands close enough that a few Newton steps with the
    /// sample's Hessian finish the job on the full data.
    fn two_stage<const N: usize, F>(
        objective: &PenalisedMean<'_, N, F>,
        start: [f64; N],
        options: &super::FitOptions,
    ) -> Minimum<N>
    where
        F: Fn(&[Dual<N>; N], &[Weighted]) -> Dual<N> + Sync,
    {
        let rows = objective.rows;
        if rows.len() > SAMPLE_ABOVE {
            let sample = weighted_sample(rows, rows.len() / SAMPLE_ROWS);
            let sampled = PenalisedMean {
                rows: &sample,
                total_weight: sample.iter().map(|w| w.weight).sum(),
                penalizer: objective.penalizer,
                chunk_log_likelihood: &objective.chunk_log_likelihood,
            };
            let first = optimize::minimize(
                &sampled,
                start,
                options.tolerance.max(1e-7),
                options.max_iterations,
            );
            if let Some(done) = optimize::refine(
                objective,
                first.theta,
                &first.hessian,
                options.tolerance,
                30.min(options.max_iterations),
            ) {
                return done;
            }
            return optimize::minimize(objective, first.theta, options.tolerance, options.max_iterations);
        }
        optimize::minimize(objective, start, options.tolerance, options.max_iterations)
    }

    /// Builds the fit: standard errors from the relative ones and the model's own parameters.
    pub fn finish<M>(
        model: M,
        parameters: &[f64],
        relative_errors: Option<Vec<f64>>,
        log_likelihood: f64,
        total_weight: f64,
        iterations: u32,
    ) -> Fit<M> {
        let standard_errors =
            relative_errors.map(|rel| rel.iter().zip(parameters).map(|(e, p)| e * p).collect());
        Fit {
            model,
            standard_errors,
            log_likelihood,
            customers: total_weight,
            iterations,
        }
    }

    /// The total log-likelihood at the minimum, read off the objective's value there
    /// (value = penalty − mean log-likelihood), which saves a pass over the data.
    pub fn total_log_likelihood<const N: usize>(
        value: f64,
        parameters: &[f64; N],
        penalizer: f64,
        total_weight: f64,
    ) -> f64 {
        let penalty = penalizer * parameters.iter().map(|p| p * p).sum::<f64>();
        (penalty - value) * total_weight
    }

    /// The total log-likelihood in the caller's time unit from the one on rescaled time: the
    /// times of x purchases are densities, so ln L = ln L(rescaled) + x ln(scale) per customer.
    pub fn unscaled_log_likelihood(scaled: f64, rows: &[Weighted], scale: f64) -> f64 {
        scaled + scale.ln() * rows.iter().map(|w| w.weight * w.history.frequency).sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use crate::dual::{Dual, Real};
    use crate::{History, Weighted};
    use proptest::prelude::*;

    /// The dual-number gradient of a chunk likelihood equals central differences of its value.
    fn check_gradient<const N: usize>(
        theta: [f64; N],
        rows: &[Weighted],
        ll: impl Fn(&[Dual<N>; N], &[Weighted]) -> Dual<N>,
    ) {
        let params = super::fitting::parameters(&theta);
        let exact = ll(&params, rows);
        for i in 0..N {
            let h = 1e-6;
            let at = |shift: f64| {
                let mut t = theta;
                t[i] += shift;
                ll(&super::fitting::parameters(&t), rows).value()
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            let tolerance = 1e-5 * numeric.abs().max(1.0);
            assert!(
                (exact.d[i] - numeric).abs() < tolerance,
                "parameter {i}: {} vs {numeric}",
                exact.d[i]
            );
        }
    }

    fn rows(histories: &[(f64, f64, f64)]) -> Vec<Weighted> {
        crate::compress(histories.iter().map(|&(x, tx, t)| History::new(x, tx, t)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn gradients_are_exact(theta in prop::array::uniform4(-2.0f64..2.0), ages in prop::collection::vec((0u32..40, 0.0f64..1.0, 0.1f64..2.0), 1..30)) {
            let histories: Vec<(f64, f64, f64)> =
                ages.iter().map(|&(x, share, t)| if x == 0 { (0.0, 0.0, t) } else { (x as f64, share * t, t) }).collect();
            let data = rows(&histories);
            let (times, indexed) = super::fitting::index_times(&data);
            use super::{beta_geometric, bg_nbd, mbg_nbd};
            check_gradient(theta, &indexed, |p, c| {
                beta_geometric::chunk_log_likelihood(p, c, &times, bg_nbd::frequency_terms, bg_nbd::row_log_likelihood)
            });
            check_gradient(theta, &indexed, |p, c| {
                beta_geometric::chunk_log_likelihood(p, c, &times, mbg_nbd::frequency_terms, mbg_nbd::row_log_likelihood)
            });
            check_gradient(theta, &data, super::pareto_nbd::chunk_log_likelihood);
        }
    }
}
