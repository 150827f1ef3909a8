//! What BG/NBD and MBG/NBD share: the same parameters (r, α, a, b), the same split of a
//! customer's log-likelihood into terms of x alone and terms of the two times, and so the same
//! summing loop and fit. Each model brings its own two formulas.

use super::fitting::{
    finish, index_times, rescaled, solve, total_log_likelihood, unscaled_log_likelihood, PenalisedMean,
};
use super::{check_rows, Fit, FitError, FitOptions};
use crate::dual::{Dual, Real};
use crate::Weighted;

/// The parts of one customer's log-likelihood that depend only on x (computed once per
/// distinct frequency while summing sorted rows).
pub(crate) struct FrequencyTerms<T> {
    pub x: f64,
    /// r + x
    pub rx: T,
    /// The model's terms of x alone, with r ln α.
    pub common: T,
    /// ln of the odds factor of the dropped-out branch.
    pub dropout: T,
}

/// Σ weight × log-likelihood over rows sorted by frequency whose times are indices into
/// `times` (see `index_times`). `terms_of` gives a model's terms of x alone from
/// (r, ln α, a, b, x); `row_of` a row's log-likelihood from them, ln(α+T) and ln(α+t_x). Both
/// are generic so the per-row call inlines.
pub(crate) fn chunk_log_likelihood<T: Real>(
    params: &[T; 4],
    rows: &[Weighted],
    times: &[f64],
    terms_of: impl Fn(T, T, T, T, f64) -> FrequencyTerms<T>,
    row_of: impl Fn(&FrequencyTerms<T>, T, T) -> T,
) -> T {
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
            terms = Some(terms_of(r, ln_alpha, a, b, x));
        }
        let terms = terms.as_ref().expect("set above");
        let ll = row_of(terms, ln_time(row.history.age), ln_time(row.history.recency));
        total = total + ll.scale(row.weight);
    }
    total
}

/// Maximum-likelihood fit of (r, α, a, b) on compressed histories; `build` makes the model
/// from the fitted parameters (α in the caller's time unit).
pub(crate) fn fit<M>(
    rows: &[Weighted],
    options: &FitOptions,
    terms_of: impl Fn(Dual<4>, Dual<4>, Dual<4>, Dual<4>, f64) -> FrequencyTerms<Dual<4>> + Copy + Sync,
    row_of: impl Fn(&FrequencyTerms<Dual<4>>, Dual<4>, Dual<4>) -> Dual<4> + Copy + Sync,
    build: impl Fn([f64; 4]) -> M,
) -> Result<Fit<M>, FitError> {
    let total_weight = check_rows(rows)?;
    let (scaled, scale) = rescaled(rows);
    let (times, indexed) = index_times(&scaled);
    let objective = PenalisedMean {
        rows: &indexed,
        total_weight,
        penalizer: options.penalizer,
        chunk_log_likelihood: |params: &[Dual<4>; 4], chunk: &[Weighted]| {
            chunk_log_likelihood(params, chunk, &times, terms_of, row_of)
        },
    };
    let (minimum, [r, alpha, a, b], errors) = solve(&objective, [0.1; 4], options, total_weight)?;
    let parameters = [r, alpha / scale, a, b];
    let scaled_ll = total_log_likelihood(
        minimum.value,
        &[r, alpha, a, b],
        objective.penalizer,
        total_weight,
    );
    let log_likelihood = unscaled_log_likelihood(scaled_ll, rows, scale);
    Ok(finish(
        build(parameters),
        &parameters,
        errors,
        log_likelihood,
        total_weight,
        minimum.iterations,
    ))
}
