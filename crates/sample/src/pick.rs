//! Small helpers over the seeded generator, so the generators read as prose.

use rand::Rng;

/// True with probability `p` (0.0 ..= 1.0).
pub(crate) fn chance(rng: &mut impl Rng, p: f64) -> bool {
    rng.gen_bool(p.clamp(0.0, 1.0))
}

/// One element of a non-empty slice, uniformly.
pub(crate) fn one_of<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

/// One value from `(value, weight)` pairs; weights need not sum to anything in particular.
pub(crate) fn weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total);
    for &(value, w) in items {
        if roll < w {
            return value;
        }
        roll -= w;
    }
    items[items.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn weighted_respects_zero_weights() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..1000 {
            assert_ne!(weighted(&mut rng, &[('a', 0), ('b', 3), ('c', 1)]), 'a');
        }
    }
}
