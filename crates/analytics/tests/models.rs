//! The models checked against the papers' formulas computed directly (not in log space), by
//! recovering known parameters from simulated customers, and at extreme histories.

use rand::rngs::StdRng;
use rand::SeedableRng;
use regulars_analytics::{
    compress, simulate, BgNbd, FitOptions, GammaGamma, History, MbgNbd, ParetoNbd, PurchaseModel,
    SpendHistory,
};

fn gamma(x: f64) -> f64 {
    libm::tgamma(x)
}

fn beta(a: f64, b: f64) -> f64 {
    gamma(a) * gamma(b) / gamma(a + b)
}

fn assert_close(actual: f64, expected: f64, rel: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= rel * expected.abs(),
        "{what}: {actual} vs {expected} (relative {})",
        ((actual - expected) / expected).abs()
    );
}

const HISTORIES: [(f64, f64, f64); 5] = [
    (0.0, 0.0, 38.86),
    (1.0, 30.43, 38.86),
    (2.0, 1.71, 38.86),
    (7.0, 29.43, 32.0),
    (14.0, 35.0, 36.0),
];

#[test]
fn bg_nbd_likelihood_is_equation_6_of_the_paper() {
    // The CDNOW estimates of Fader, Hardie and Lee (2005).
    let m = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    for (x, tx, t) in HISTORIES {
        let common = gamma(m.r + x) * m.alpha.powf(m.r) / gamma(m.r);
        let mut l = beta(m.a, m.b + x) / beta(m.a, m.b) * common / (m.alpha + t).powf(m.r + x);
        if x > 0.0 {
            l += beta(m.a + 1.0, m.b + x - 1.0) / beta(m.a, m.b) * common / (m.alpha + tx).powf(m.r + x);
        }
        assert_close(
            m.log_likelihood(&History::new(x, tx, t)),
            l.ln(),
            1e-12,
            "BG/NBD ln L",
        );
    }
}

#[test]
fn mbg_nbd_likelihood_is_batislam_et_al_with_the_erratum() {
    let m = MbgNbd {
        r: 0.525,
        alpha: 6.183,
        a: 0.891,
        b: 1.614,
    };
    for (x, tx, t) in HISTORIES {
        let common = gamma(m.r + x) * m.alpha.powf(m.r) / gamma(m.r);
        let l = beta(m.a, m.b + x + 1.0) / beta(m.a, m.b) * common / (m.alpha + t).powf(m.r + x)
            + beta(m.a + 1.0, m.b + x) / beta(m.a, m.b) * common / (m.alpha + tx).powf(m.r + x);
        assert_close(
            m.log_likelihood(&History::new(x, tx, t)),
            l.ln(),
            1e-12,
            "MBG/NBD ln L",
        );
    }
}

/// The Pareto/NBD likelihood integrated numerically over λ and μ:
/// L = ∫∫ [λ^x e^{−(λ+μ)T} + λ^x μ/(λ+μ) (e^{−(λ+μ)t_x} − e^{−(λ+μ)T})] g(λ|r,α) g(μ|s,β).
fn pareto_by_integration(m: &ParetoNbd, x: f64, tx: f64, t: f64) -> f64 {
    let density = |v: f64, shape: f64, rate: f64| {
        (shape * rate.ln() + (shape - 1.0) * v.ln() - rate * v - libm::lgamma(shape)).exp()
    };
    // Integrate in u = ln v (densities are sharply peaked near 0 for small shapes).
    let (lo, hi, n) = (-30.0_f64, 6.0_f64, 3000);
    let h = (hi - lo) / n as f64;
    let mut total = 0.0;
    for i in 0..n {
        let lambda = (lo + (i as f64 + 0.5) * h).exp();
        let gl = density(lambda, m.r, m.alpha) * lambda;
        let mut inner = 0.0;
        for j in 0..n {
            let mu = (lo + (j as f64 + 0.5) * h).exp();
            let gm = density(mu, m.s, m.beta) * mu;
            let k = lambda + mu;
            let l = lambda.powf(x) * (-k * t).exp()
                + lambda.powf(x) * mu / k * ((-k * tx).exp() - (-k * t).exp());
            inner += l * gm;
        }
        total += inner * h * gl;
    }
    total * h
}

#[test]
fn pareto_nbd_likelihood_matches_the_integral_on_both_branches() {
    // α < β and α > β take different branches of A₀.
    for m in [
        ParetoNbd {
            r: 0.55,
            alpha: 10.58,
            s: 0.61,
            beta: 11.67,
        },
        ParetoNbd {
            r: 0.8,
            alpha: 12.0,
            s: 1.3,
            beta: 4.0,
        },
    ] {
        for (x, tx, t) in [(0.0, 0.0, 30.0), (2.0, 10.0, 30.0), (5.0, 29.0, 30.0)] {
            let expected = pareto_by_integration(&m, x, tx, t).ln();
            assert_close(
                m.log_likelihood(&History::new(x, tx, t)),
                expected,
                2e-5,
                "Pareto/NBD ln L",
            );
        }
    }
}

#[test]
fn gamma_gamma_likelihood_is_the_density_of_the_mean() {
    let m = GammaGamma {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };
    for (x, mean) in [(1.0_f64, 20.0_f64), (3.0, 35.5), (10.0, 12.25)] {
        let px = m.p * x;
        let density =
            gamma(px + m.q) / (gamma(px) * gamma(m.q)) * m.v.powf(m.q) * mean.powf(px - 1.0) * x.powf(px)
                / (m.v + x * mean).powf(px + m.q);
        assert_close(m.log_likelihood(x, mean), density.ln(), 1e-12, "Gamma-Gamma ln f");
    }
    // E[M | x, m̄] for a customer with no repeat purchases is the population mean v p/(q − 1).
    assert_close(
        m.expected_average_spend(0.0, 0.0),
        m.v * m.p / (m.q - 1.0),
        1e-15,
        "population mean",
    );
}

fn ages(n: usize, rng: &mut StdRng) -> Vec<f64> {
    use rand::Rng;
    (0..n).map(|_| rng.gen_range(10.0..52.0)).collect()
}

/// A parameter is recovered when it lies within 4 standard errors of the truth (the fits
/// report their own errors; 4 keeps a seeded test from failing by chance).
fn assert_recovered(name: &str, estimates: &[f64], errors: &[f64], truth: &[f64]) {
    for i in 0..truth.len() {
        assert!(
            (estimates[i] - truth[i]).abs() <= 4.0 * errors[i],
            "{name} parameter {i}: estimate {} ± {} vs true {}",
            estimates[i],
            errors[i],
            truth[i]
        );
        assert!(
            errors[i] < 0.25 * truth[i],
            "{name} parameter {i}: error {} too wide",
            errors[i]
        );
    }
}

#[test]
fn bg_nbd_recovers_simulated_parameters() {
    let mut rng = StdRng::seed_from_u64(7);
    let truth = BgNbd {
        r: 0.24,
        alpha: 4.41,
        a: 0.79,
        b: 2.43,
    };
    let customer_ages = ages(40_000, &mut rng);
    let rows = compress(simulate::bg_nbd(&truth, &customer_ages, &mut rng));
    let fit = BgNbd::fit(&rows, &FitOptions::default()).unwrap();
    let m = fit.model;
    assert_eq!(fit.customers, 40_000.0);
    assert_recovered(
        "BG/NBD",
        &[m.r, m.alpha, m.a, m.b],
        fit.standard_errors.as_ref().unwrap(),
        &[truth.r, truth.alpha, truth.a, truth.b],
    );
}

#[test]
fn mbg_nbd_recovers_simulated_parameters() {
    let mut rng = StdRng::seed_from_u64(8);
    let truth = MbgNbd {
        r: 0.5,
        alpha: 6.0,
        a: 0.9,
        b: 1.6,
    };
    let customer_ages = ages(40_000, &mut rng);
    let rows = compress(simulate::mbg_nbd(&truth, &customer_ages, &mut rng));
    let fit = MbgNbd::fit(&rows, &FitOptions::default()).unwrap();
    let m = fit.model;
    assert_recovered(
        "MBG/NBD",
        &[m.r, m.alpha, m.a, m.b],
        fit.standard_errors.as_ref().unwrap(),
        &[truth.r, truth.alpha, truth.a, truth.b],
    );
}

#[test]
fn pareto_nbd_recovers_simulated_parameters() {
    let mut rng = StdRng::seed_from_u64(9);
    let truth = ParetoNbd {
        r: 0.55,
        alpha: 10.5,
        s: 0.6,
        beta: 11.7,
    };
    let customer_ages = ages(40_000, &mut rng);
    let rows = compress(simulate::pareto_nbd(&truth, &customer_ages, &mut rng));
    let fit = ParetoNbd::fit(&rows, &FitOptions::default()).unwrap();
    let m = fit.model;
    // s and β are only weakly identified by a year of data: their errors are wide, so only
    // the 4-σ band is asserted for them.
    let errors = fit.standard_errors.unwrap();
    for (i, (est, truth)) in [
        (m.r, truth.r),
        (m.alpha, truth.alpha),
        (m.s, truth.s),
        (m.beta, truth.beta),
    ]
    .into_iter()
    .enumerate()
    {
        assert!(
            (est - truth).abs() <= 4.0 * errors[i],
            "Pareto/NBD parameter {i}: {est} ± {} vs {truth}",
            errors[i]
        );
    }
    assert!(errors[0] < 0.1 * truth.r && errors[1] < 0.2 * truth.alpha);
}

#[test]
fn gamma_gamma_recovers_simulated_parameters() {
    let mut rng = StdRng::seed_from_u64(10);
    let truth = GammaGamma {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };
    let frequencies: Vec<f64> = (0..30_000).map(|i| (1 + i % 9) as f64).collect();
    let spend = simulate::mean_spend(&truth, &frequencies, &mut rng);
    let rows: Vec<SpendHistory> = frequencies
        .iter()
        .zip(&spend)
        .map(|(&frequency, &monetary)| SpendHistory {
            frequency,
            monetary,
            weight: 1.0,
        })
        .collect();
    let fit = GammaGamma::fit(&rows, &FitOptions::default()).unwrap();
    let m = fit.model;
    assert_recovered(
        "Gamma-Gamma",
        &[m.p, m.q, m.v],
        fit.standard_errors.as_ref().unwrap(),
        &[truth.p, truth.q, truth.v],
    );
}

#[test]
fn extreme_histories_stay_finite() {
    // A thousand purchases over ten years (in days), a customer who bought on their first day
    // only, and one who just bought again.
    let histories = [
        History::new(1000.0, 3640.0, 3650.0),
        History::new(1000.0, 100.0, 3650.0),
        History::new(0.0, 0.0, 3650.0),
        History::new(1.0, 3650.0, 3650.0),
        History::new(300.0, 3000.0, 3650.0),
    ];
    let bg = BgNbd {
        r: 0.24,
        alpha: 4.41,
        a: 0.79,
        b: 2.43,
    };
    let mbg = MbgNbd {
        r: 0.5,
        alpha: 6.0,
        a: 0.9,
        b: 1.6,
    };
    let pareto = ParetoNbd {
        r: 0.55,
        alpha: 10.5,
        s: 0.6,
        beta: 11.7,
    };
    let pareto_flipped = ParetoNbd {
        r: 0.55,
        alpha: 10.5,
        s: 0.6,
        beta: 2.0,
    };
    let models: [&dyn PurchaseModel; 4] = [&bg, &mbg, &pareto, &pareto_flipped];
    for model in models {
        for h in &histories {
            for value in [
                model.log_likelihood(h),
                model.p_alive(h),
                model.conditional_expected_purchases(365.0, h),
                model.conditional_expected_purchases(3650.0, h),
                model.next_purchase_in(h),
            ] {
                assert!(value.is_finite(), "{} at {h:?}: {value}", model.name());
            }
            let p = model.p_alive(h);
            assert!((0.0..=1.0).contains(&p));
        }
    }
    // A customer buying every ~3.6 days for ten years and still buying expects ~100 purchases
    // in the next year under BG/NBD (rate (r+x)/(α+T) ≈ 0.27 a day, times P(alive) ≈ 1).
    let busy = bg.conditional_expected_purchases(365.0, &histories[0]);
    assert!((90.0..110.0).contains(&busy), "{busy}");
    // One who stopped 3,550 days ago after a thousand purchases is gone.
    assert!(bg.p_alive(&histories[1]) < 1e-100);
    // Fitting data with such customers converges too.
    let mut rows: Vec<History> = histories.to_vec();
    rows.extend((0..200).map(|i| History::new((i % 7) as f64, (i % 7) as f64 * 40.0, 3650.0)));
    assert!(BgNbd::fit(&compress(rows.clone()), &FitOptions::default())
        .unwrap()
        .log_likelihood
        .is_finite());
    assert!(ParetoNbd::fit(&compress(rows), &FitOptions::default())
        .unwrap()
        .log_likelihood
        .is_finite());
}

#[test]
fn probabilities_of_n_purchases_sum_to_one() {
    let bg = BgNbd {
        r: 0.24,
        alpha: 4.41,
        a: 0.79,
        b: 2.43,
    };
    let mbg = MbgNbd {
        r: 0.5,
        alpha: 6.0,
        a: 0.9,
        b: 1.6,
    };
    let pareto = ParetoNbd {
        r: 0.55,
        alpha: 10.5,
        s: 0.6,
        beta: 11.7,
    };
    let h = History::new(3.0, 20.0, 30.0);
    let sum_bg: f64 = (0..400).map(|n| bg.probability_of_purchases(n, 39.0)).sum();
    let sum_mbg: f64 = (0..400).map(|n| mbg.probability_of_purchases(n, 39.0)).sum();
    let sum_pareto: f64 = (0..200)
        .map(|n| pareto.conditional_probability_of_purchases(n, 39.0, &h))
        .sum();
    assert_close(sum_bg, 1.0, 1e-9, "BG/NBD pmf");
    assert_close(sum_mbg, 1.0, 1e-9, "MBG/NBD pmf");
    assert_close(sum_pareto, 1.0, 1e-6, "Pareto/NBD conditional pmf");
    // The mean of the pmf is the expectation.
    let mean_bg: f64 = (0..400)
        .map(|n| n as f64 * bg.probability_of_purchases(n, 39.0))
        .sum();
    assert_close(mean_bg, bg.expected_purchases(39.0), 1e-7, "BG/NBD E[X(t)]");
    let mean_pareto: f64 = (0..200)
        .map(|n| n as f64 * pareto.conditional_probability_of_purchases(n, 39.0, &h))
        .sum();
    assert_close(
        mean_pareto,
        pareto.conditional_expected_purchases(39.0, &h),
        1e-5,
        "Pareto/NBD E[X(t) | h]",
    );
}

#[test]
fn fitting_rejects_bad_rows_by_index() {
    let rows = compress([History::new(1.0, 5.0, 3.0)]);
    let err = BgNbd::fit(&rows, &FitOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "customer row 0: recency cannot be greater than age"
    );
    assert_eq!(
        BgNbd::fit(&[], &FitOptions::default()).unwrap_err().to_string(),
        "there are no customers to fit"
    );
}

#[test]
fn gamma_gamma_does_not_depend_on_the_unit_of_money() {
    let mut rng = StdRng::seed_from_u64(11);
    let truth = GammaGamma {
        p: 6.25,
        q: 3.74,
        v: 15.44,
    };
    let frequencies: Vec<f64> = (0..5_000).map(|i| (1 + i % 6) as f64).collect();
    let spend = simulate::mean_spend(&truth, &frequencies, &mut rng);
    let fit_in = |unit: f64| {
        let rows: Vec<SpendHistory> = frequencies
            .iter()
            .zip(&spend)
            .map(|(&frequency, &m)| SpendHistory {
                frequency,
                monetary: m * unit,
                weight: 1.0,
            })
            .collect();
        GammaGamma::fit(&rows, &FitOptions::default()).unwrap().model
    };
    // Rupees and paise: the same shape parameters, v in the unit of the data.
    let (rupees, paise) = (fit_in(1.0), fit_in(100.0));
    assert_close(paise.p, rupees.p, 1e-6, "p");
    assert_close(paise.q, rupees.q, 1e-6, "q");
    assert_close(paise.v, 100.0 * rupees.v, 1e-6, "v");
    let thousand_times = fit_in(100_000.0);
    assert_close(thousand_times.q, rupees.q, 1e-6, "q at a large scale");
}
