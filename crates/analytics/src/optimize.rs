#![allow(clippy::needless_range_loop)] // matrix code reads best with explicit indices
//! Minimisation for the model fits: BFGS with a backtracking line search, finished by Newton
//! steps on a Hessian taken by central differences of the exact gradient. The Newton finish is
//! what gets parameters to 1e-8 and beyond: near the optimum the objective's changes drown in
//! rounding, but its gradient stays exact.

/// A smooth function of N parameters with its gradient.
pub trait Objective<const N: usize> {
    /// The value and the gradient at `theta`; the value may be non-finite outside the domain.
    fn evaluate(&self, theta: &[f64; N]) -> (f64, [f64; N]);
}

#[derive(Clone, Debug)]
pub struct Minimum<const N: usize> {
    pub theta: [f64; N],
    pub value: f64,
    pub gradient: [f64; N],
    /// Central-difference Hessian at `theta`.
    pub hessian: [[f64; N]; N],
    pub iterations: u32,
    pub converged: bool,
}

/// Largest step any one parameter may take at once (the parameters are logarithms, so this is
/// a factor of e⁴ ≈ 55), which keeps trial points where the likelihood is finite.
const MAX_STEP: f64 = 4.0;
/// BFGS runs until the gradient is this small (or the asked tolerance, if looser); Newton
/// steps finish from there.
const NEWTON_ZONE: f64 = 1e-6;

pub fn minimize<const N: usize>(
    objective: &impl Objective<N>,
    start: [f64; N],
    tolerance: f64,
    max_iterations: u32,
) -> Minimum<N> {
    let mut theta = start;
    let (mut value, mut gradient) = objective.evaluate(&theta);
    let mut inverse = identity::<N>();
    let mut iterations = 0;
    // BFGS until the gradient is small, then Newton steps.
    while iterations < max_iterations && max_abs(&gradient) >= NEWTON_ZONE.min(tolerance.max(1e-7)) {
        iterations += 1;
        let mut direction = mul_vec(&inverse, &gradient).map(|d| -d);
        if dot(&direction, &gradient) >= 0.0 {
            inverse = identity();
            direction = gradient.map(|g| -g);
        }
        let longest = max_abs(&direction);
        let mut step = if longest > MAX_STEP {
            MAX_STEP / longest
        } else {
            1.0
        };
        let slope = dot(&direction, &gradient);
        let mut accepted = None;
        while step > 1e-20 {
            let trial = add(&theta, &direction, step);
            let (v, g) = objective.evaluate(&trial);
            if v.is_finite() && v <= value + 1e-4 * step * slope + 1e-15 * value.abs() {
                accepted = Some((trial, v, g));
                break;
            }
            step *= 0.5;
        }
        let Some((trial, v, g)) = accepted else {
            if inverse == identity() {
                break; // no descent even along the gradient: leave the rest to Newton
            }
            inverse = identity();
            continue;
        };
        let s: [f64; N] = std::array::from_fn(|i| trial[i] - theta[i]);
        let y: [f64; N] = std::array::from_fn(|i| g[i] - gradient[i]);
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() {
            bfgs_update(&mut inverse, &s, &y, sy);
        }
        (theta, value, gradient) = (trial, v, g);
    }
    let mut hessian_at_theta = hessian(objective, &theta);
    let mut newton_steps = 0;
    while max_abs(&gradient) >= tolerance && newton_steps < 8 && iterations < max_iterations {
        newton_steps += 1;
        iterations += 1;
        let Some(step) = cholesky_solve(&hessian_at_theta, &gradient).map(|x| x.map(|v| -v)) else {
            break;
        };
        let mut scale = 1.0;
        let mut moved = false;
        while scale > 1e-6 {
            let trial = add(&theta, &step, scale);
            let (v, g) = objective.evaluate(&trial);
            if v.is_finite() && max_abs(&g) < max_abs(&gradient) {
                (theta, value, gradient) = (trial, v, g);
                moved = true;
                break;
            }
            scale *= 0.5;
        }
        if !moved {
            break;
        }
        hessian_at_theta = hessian(objective, &theta);
    }
    let converged = max_abs(&gradient) < tolerance;
    Minimum {
        theta,
        value,
        gradient,
        hessian: hessian_at_theta,
        iterations,
        converged,
    }
}

/// Quasi-Newton iterations started from a Hessian guess (from a fit on a sample of the same
/// data): each costs one gradient. The guess of a mean log-likelihood's Hessian from a large
/// sample is within a few percent, and BFGS updates correct the rest, so a handful of steps
/// reach the tolerance. `None` when a step fails to improve; the caller then falls back to
/// [`minimize`].
pub fn refine<const N: usize>(
    objective: &impl Objective<N>,
    start: [f64; N],
    hessian_guess: &[[f64; N]; N],
    tolerance: f64,
    max_iterations: u32,
) -> Option<Minimum<N>> {
    let mut inverse = inverse(hessian_guess)?;
    let mut theta = start;
    let (mut value, mut gradient) = objective.evaluate(&theta);
    let mut iterations = 0;
    while max_abs(&gradient) >= tolerance {
        if iterations == max_iterations {
            return None;
        }
        iterations += 1;
        let step = mul_vec(&inverse, &gradient).map(|v| -v);
        if max_abs(&step) > MAX_STEP {
            return None;
        }
        let trial = add(&theta, &step, 1.0);
        let (v, g) = objective.evaluate(&trial);
        let improved =
            v.is_finite() && (v <= value + 1e-12 * value.abs() || max_abs(&g) < max_abs(&gradient));
        if !improved {
            return None;
        }
        let y: [f64; N] = std::array::from_fn(|i| g[i] - gradient[i]);
        let sy = dot(&step, &y);
        if sy > 1e-12 * dot(&step, &step).sqrt() * dot(&y, &y).sqrt() {
            bfgs_update(&mut inverse, &step, &y, sy);
        }
        (theta, value, gradient) = (trial, v, g);
    }
    let hessian = forward_hessian(objective, &theta, &gradient);
    Some(Minimum {
        theta,
        value,
        gradient,
        hessian,
        iterations,
        converged: true,
    })
}

/// Central differences of the exact gradient, symmetrised.
pub fn hessian<const N: usize>(objective: &impl Objective<N>, theta: &[f64; N]) -> [[f64; N]; N] {
    let mut h = [[0.0; N]; N];
    for j in 0..N {
        let step = 1e-5 * theta[j].abs().max(1.0);
        let mut up = *theta;
        up[j] += step;
        let mut down = *theta;
        down[j] -= step;
        let (_, gu) = objective.evaluate(&up);
        let (_, gd) = objective.evaluate(&down);
        for i in 0..N {
            h[i][j] = (gu[i] - gd[i]) / (2.0 * step);
        }
    }
    for i in 0..N {
        for j in 0..i {
            let mean = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = mean;
            h[j][i] = mean;
        }
    }
    h
}

/// Forward differences of the exact gradient (N gradients instead of 2N), symmetrised: with a
/// step of 1e-6 the error is about 1e-6 relative, plenty for standard errors.
pub fn forward_hessian<const N: usize>(
    objective: &impl Objective<N>,
    theta: &[f64; N],
    gradient: &[f64; N],
) -> [[f64; N]; N] {
    let mut h = [[0.0; N]; N];
    for j in 0..N {
        let step = 1e-6 * theta[j].abs().max(1.0);
        let mut up = *theta;
        up[j] += step;
        let (_, gu) = objective.evaluate(&up);
        for i in 0..N {
            h[i][j] = (gu[i] - gradient[i]) / step;
        }
    }
    for i in 0..N {
        for j in 0..i {
            let mean = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = mean;
            h[j][i] = mean;
        }
    }
    h
}

/// Solves H x = b for a symmetric positive definite H; `None` if H is not positive definite.
pub fn cholesky_solve<const N: usize>(h: &[[f64; N]; N], b: &[f64; N]) -> Option<[f64; N]> {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let sum: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = h[i][i] - sum;
                if !(d > 0.0 && d.is_finite()) {
                    return None;
                }
                l[i][i] = d.sqrt();
            } else {
                l[i][j] = (h[i][j] - sum) / l[j][j];
            }
        }
    }
    let mut y = [0.0; N];
    for i in 0..N {
        y[i] = (b[i] - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; N];
    for i in (0..N).rev() {
        x[i] = (y[i] - (i + 1..N).map(|k| l[k][i] * x[k]).sum::<f64>()) / l[i][i];
    }
    Some(x)
}

/// The inverse of a symmetric positive definite matrix, column by column.
pub fn inverse<const N: usize>(h: &[[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut out = [[0.0; N]; N];
    for j in 0..N {
        let mut e = [0.0; N];
        e[j] = 1.0;
        let column = cholesky_solve(h, &e)?;
        for i in 0..N {
            out[i][j] = column[i];
        }
    }
    Some(out)
}

fn bfgs_update<const N: usize>(inverse: &mut [[f64; N]; N], s: &[f64; N], y: &[f64; N], sy: f64) {
    let hy = mul_vec(inverse, y);
    let yhy = dot(y, &hy);
    let rho = 1.0 / sy;
    for i in 0..N {
        for j in 0..N {
            inverse[i][j] += rho * ((1.0 + rho * yhy) * s[i] * s[j] - hy[i] * s[j] - s[i] * hy[j]);
        }
    }
}

fn identity<const N: usize>() -> [[f64; N]; N] {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
}

fn mul_vec<const N: usize>(m: &[[f64; N]; N], v: &[f64; N]) -> [f64; N] {
    std::array::from_fn(|i| dot(&m[i], v))
}

fn dot<const N: usize>(a: &[f64; N], b: &[f64; N]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn add<const N: usize>(a: &[f64; N], d: &[f64; N], step: f64) -> [f64; N] {
    std::array::from_fn(|i| a[i] + step * d[i])
}

fn max_abs<const N: usize>(v: &[f64; N]) -> f64 {
    v.iter().fold(
        0.0,
        |m, x| if x.is_nan() { f64::INFINITY } else { m.max(x.abs()) },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rosenbrock;
    impl Objective<2> for Rosenbrock {
        fn evaluate(&self, t: &[f64; 2]) -> (f64, [f64; 2]) {
            let (x, y) = (t[0], t[1]);
            let value = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let gradient = [-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)];
            (value, gradient)
        }
    }

    #[test]
    fn finds_the_rosenbrock_minimum_precisely() {
        let m = minimize(&Rosenbrock, [-1.2, 1.0], 1e-10, 500);
        assert!(m.converged, "{m:?}");
        assert!(
            (m.theta[0] - 1.0).abs() < 1e-9 && (m.theta[1] - 1.0).abs() < 1e-9,
            "{m:?}"
        );
        // The Hessian at (1, 1) is [[802, -400], [-400, 200]].
        assert!((m.hessian[0][0] - 802.0).abs() < 1e-4 && (m.hessian[0][1] + 400.0).abs() < 1e-4);
    }

    #[test]
    fn inverse_of_a_known_matrix() {
        let h = [[4.0, 2.0], [2.0, 3.0]];
        let inv = inverse(&h).unwrap();
        let expected = [[3.0 / 8.0, -2.0 / 8.0], [-2.0 / 8.0, 4.0 / 8.0]];
        for i in 0..2 {
            for j in 0..2 {
                assert!((inv[i][j] - expected[i][j]).abs() < 1e-15);
            }
        }
        assert!(cholesky_solve(&[[1.0, 2.0], [2.0, 1.0]], &[1.0, 1.0]).is_none());
    }
}
