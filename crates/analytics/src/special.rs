//! Special functions, in log space where values over- or underflow.

/// ln Γ(x) for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ψ(x) = d/dx ln Γ(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series (its first omitted term is below 1e-14 there).
pub fn digamma(mut x: f64) -> f64 {
    let mut result = 0.0;
    while x < 10.0 {
        result -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    result + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0)))))
}

/// ln B(a, b).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln(1 + e^x) without overflow.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// ln(Σ e^xᵢ).
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// The Gauss series Σ (a)ₙ(b)ₙ/((c)ₙ n!) zⁿ for |z| < 1, summed until terms stop mattering.
/// Returns `None` if it does not settle (which for |z| < 1 means very slow convergence).
fn gauss_series(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..200_000 {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() && n > 2.0 {
            return Some(sum);
        }
        if !sum.is_finite() {
            return None;
        }
    }
    None
}

/// ₂F₁(a, b; c; z) × e^ln_factor for 0 ≤ z < 1 and c not a non-positive integer, of either
/// sign (₂F₁ is negative for some c < 0), without overflow: the large powers stay in log space.
///
/// When c − a − b < 0 the terms of the plain series first grow (by a factor near z(a+b)/c for
/// large a, b), which loses precision and overflows for customers with hundreds of purchases;
/// Euler's transformation ₂F₁(a, b; c; z) = (1 − z)^(c−a−b) ₂F₁(c − a, c − b; c; z) gives a
/// series whose terms shrink at once.
pub fn hyp2f1_scaled(a: f64, b: f64, c: f64, z: f64, ln_factor: f64) -> f64 {
    if z == 0.0 {
        return ln_factor.exp();
    }
    let plain = || gauss_series(a, b, c, z).map(|s| (s, 0.0));
    let euler = || gauss_series(c - a, c - b, c, z).map(|s| (s, (c - a - b) * (-z).ln_1p()));
    let found = if c - a - b < 0.0 {
        euler().or_else(plain)
    } else {
        plain().or_else(euler)
    };
    match found {
        Some((sum, ln_prefactor)) => sum.signum() * (sum.abs().ln() + ln_prefactor + ln_factor).exp(),
        None => f64::NAN,
    }
}

/// ln ₂F₁(a, b; c; z) where it is positive (always for a, b, c > 0); see [`hyp2f1_scaled`].
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if z == 0.0 {
        return 0.0;
    }
    let plain = || gauss_series(a, b, c, z).filter(|s| *s > 0.0).map(f64::ln);
    let euler = || {
        gauss_series(c - a, c - b, c, z)
            .filter(|s| *s > 0.0)
            .map(|s| (c - a - b) * (-z).ln_1p() + s.ln())
    };
    let value = if c - a - b < 0.0 {
        euler().or_else(plain)
    } else {
        plain().or_else(euler)
    };
    value.unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn digamma_matches_known_values() {
        // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ(10) = H₉ − γ
        let gamma = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -gamma, 1e-13));
        assert!(close(digamma(0.5), -gamma - 2.0 * 2f64.ln(), 1e-13));
        let h9: f64 = (1..10).map(|k| 1.0 / k as f64).sum();
        assert!(close(digamma(10.0), h9 - gamma, 1e-13));
    }

    #[test]
    fn hyp2f1_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z)/z
        let z = 0.7_f64;
        assert!(close(
            ln_hyp2f1(1.0, 1.0, 2.0, z).exp(),
            -(1.0 - z).ln() / z,
            1e-13
        ));
        // ₂F₁(a, b; b; z) = (1 − z)^(−a)
        assert!(close(ln_hyp2f1(3.5, 2.0, 2.0, 0.4), -3.5 * 0.6f64.ln(), 1e-13));
        // Large parameters where c − a − b is very negative stay finite and exact:
        // ₂F₁(a, b; b; z) again, with a = 1000.
        assert!(close(
            ln_hyp2f1(1000.0, 5.0, 5.0, 0.9),
            -1000.0 * 0.1f64.ln(),
            1e-12
        ));
    }

    #[test]
    fn softplus_and_log_sum_exp_do_not_overflow() {
        assert_eq!(softplus(1000.0), 1000.0);
        assert!(softplus(-1000.0) >= 0.0 && softplus(-1000.0) < 1e-300);
        assert!(close(log_sum_exp(&[1000.0, 1000.0]), 1000.0 + 2f64.ln(), 1e-15));
    }
}
