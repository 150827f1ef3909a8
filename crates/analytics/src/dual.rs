//! Forward-mode automatic differentiation: each likelihood is written once over [`Real`] and
//! evaluated with `f64` for its value or with [`Dual`] for its exact gradient.

use crate::special;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The arithmetic a likelihood needs.
pub trait Real:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    fn cst(value: f64) -> Self;
    fn value(self) -> f64;
    fn ln(self) -> Self;
    fn exp(self) -> Self;
    fn ln_gamma(self) -> Self;
    /// ln(1 + e^self), without overflow.
    fn softplus(self) -> Self;
    fn scale(self, k: f64) -> Self;
}

impl Real for f64 {
    fn cst(value: f64) -> Self {
        value
    }
    fn value(self) -> f64 {
        self
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln_gamma(self) -> Self {
        special::ln_gamma(self)
    }
    fn softplus(self) -> Self {
        special::softplus(self)
    }
    fn scale(self, k: f64) -> Self {
        self * k
    }
}

/// A value with its partial derivatives by N parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<const N: usize> {
    pub v: f64,
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// The i-th of N independent variables.
    pub fn variable(value: f64, i: usize) -> Self {
        let mut d = [0.0; N];
        d[i] = 1.0;
        Self { v: value, d }
    }

    /// Applies a function with value `v` and derivative `slope` at self (the chain rule).
    #[inline]
    fn chain(self, v: f64, slope: f64) -> Self {
        let mut d = self.d;
        for x in &mut d {
            *x *= slope;
        }
        Self { v, d }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    #[inline]
    fn add(mut self, o: Self) -> Self {
        self.v += o.v;
        for i in 0..N {
            self.d[i] += o.d[i];
        }
        self
    }
}

impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, o: Self) -> Self {
        self.v -= o.v;
        for i in 0..N {
            self.d[i] -= o.d[i];
        }
        self
    }
}

impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[inline]
    fn mul(self, o: Self) -> Self {
        let mut d = [0.0; N];
        for (i, x) in d.iter_mut().enumerate() {
            *x = self.d[i] * o.v + o.d[i] * self.v;
        }
        Self { v: self.v * o.v, d }
    }
}

impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    #[inline]
    fn div(self, o: Self) -> Self {
        let v = self.v / o.v;
        let mut d = [0.0; N];
        for (i, x) in d.iter_mut().enumerate() {
            *x = (self.d[i] - v * o.d[i]) / o.v;
        }
        Self { v, d }
    }
}

impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        self.chain(-self.v, -1.0)
    }
}

impl<const N: usize> Real for Dual<N> {
    fn cst(value: f64) -> Self {
        Self {
            v: value,
            d: [0.0; N],
        }
    }
    fn value(self) -> f64 {
        self.v
    }
    #[inline]
    fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    #[inline]
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    fn ln_gamma(self) -> Self {
        self.chain(special::ln_gamma(self.v), special::digamma(self.v))
    }
    #[inline]
    fn softplus(self) -> Self {
        // ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|); its derivative, the logistic function,
        // from the same exponential.
        let e = (-self.v.abs()).exp();
        let (value, slope) = if self.v > 0.0 {
            (self.v + e.ln_1p(), 1.0 / (1.0 + e))
        } else {
            (e.ln_1p(), e / (1.0 + e))
        };
        self.chain(value, slope)
    }
    #[inline]
    fn scale(self, k: f64) -> Self {
        self.chain(self.v * k, k)
    }
}

/// ln(e^a + e^b) without overflow.
#[inline]
pub fn log_add_exp<T: Real>(a: T, b: T) -> T {
    if a.value() >= b.value() {
        a + (b - a).softplus()
    } else {
        b + (a - b).softplus()
    }
}

/// ln(e^a − e^b) for a > b.
#[inline]
pub fn log_sub_exp<T: Real>(a: T, b: T) -> T {
    a + (T::cst(1.0) - (b - a).exp()).ln()
}
