//! Customers simulated from known parameters, in continuous time: for parameter-recovery
//! tests and benchmarks. Each function takes every customer's age T and returns histories.

use crate::{BgNbd, GammaGamma, History, MbgNbd, ParetoNbd};
use rand::Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

/// BG/NBD: rate λ ~ Gamma(r, α); after each purchase the customer leaves with p ~ Beta(a, b).
pub fn bg_nbd(model: &BgNbd, ages: &[f64], rng: &mut impl Rng) -> Vec<History> {
    beta_geometric(model.r, model.alpha, model.a, model.b, false, ages, rng)
}

/// MBG/NBD: as BG/NBD, and the customer may also leave right at the first purchase.
pub fn mbg_nbd(model: &MbgNbd, ages: &[f64], rng: &mut impl Rng) -> Vec<History> {
    beta_geometric(model.r, model.alpha, model.a, model.b, true, ages, rng)
}

fn beta_geometric(
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    may_leave_at_start: bool,
    ages: &[f64],
    rng: &mut impl Rng,
) -> Vec<History> {
    let rates = Gamma::new(r, 1.0 / alpha).expect("positive r and alpha");
    let dropouts = Beta::new(a, b).expect("positive a and b");
    ages.iter()
        .map(|&age| {
            let lambda: f64 = rates.sample(rng);
            let p: f64 = dropouts.sample(rng);
            let (mut x, mut last, mut now) = (0.0, 0.0, 0.0);
            let mut alive = !(may_leave_at_start && rng.gen::<f64>() < p);
            while alive {
                now += Exp::new(lambda).expect("positive rate").sample(rng);
                if now > age {
                    break;
                }
                x += 1.0;
                last = now;
                alive = rng.gen::<f64>() >= p;
            }
            History::new(x, last, age)
        })
        .collect()
}

/// Pareto/NBD: rate λ ~ Gamma(r, α), lifetime exponential with μ ~ Gamma(s, β).
pub fn pareto_nbd(model: &ParetoNbd, ages: &[f64], rng: &mut impl Rng) -> Vec<History> {
    let rates = Gamma::new(model.r, 1.0 / model.alpha).expect("positive r and alpha");
    let deaths = Gamma::new(model.s, 1.0 / model.beta).expect("positive s and beta");
    ages.iter()
        .map(|&age| {
            let lambda: f64 = rates.sample(rng);
            let mu: f64 = deaths.sample(rng);
            let lifetime = Exp::new(mu).expect("positive rate").sample(rng);
            let end = lifetime.min(age);
            let (mut x, mut last, mut now) = (0.0, 0.0, 0.0);
            loop {
                now += Exp::new(lambda).expect("positive rate").sample(rng);
                if now > end {
                    break;
                }
                x += 1.0;
                last = now;
            }
            History::new(x, last, age)
        })
        .collect()
}

/// Gamma-Gamma: for each customer with x > 0 purchases, the mean of x values drawn
/// Gamma(p, ν) with ν ~ Gamma(q, v); 0 for customers without repeat purchases.
pub fn mean_spend(model: &GammaGamma, frequencies: &[f64], rng: &mut impl Rng) -> Vec<f64> {
    let scales = Gamma::new(model.q, 1.0 / model.v).expect("positive q and v");
    frequencies
        .iter()
        .map(|&x| {
            if x <= 0.0 {
                return 0.0;
            }
            let nu: f64 = scales.sample(rng);
            // The sum of x Gamma(p, ν) values is Gamma(p x, ν).
            let total: f64 = Gamma::new(model.p * x, 1.0 / nu)
                .expect("positive shape")
                .sample(rng);
            total / x
        })
        .collect()
}
