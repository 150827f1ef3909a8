//! The fixed facts of one demo store that every generator step consults.

use chrono::{Datelike, TimeZone as _};
use chrono_tz::Tz;
use rand::Rng;
use regulars_domain::Currency;

use crate::pick::weighted;
use crate::region::{Code, Product, Region};
use crate::DemoStoreSpec;

pub(crate) const HOUR: i64 = 3_600_000;
pub(crate) const DAY: i64 = 24 * HOUR;
/// How far back demo history goes.
pub(crate) const HISTORY: i64 = 730 * DAY;

pub(crate) struct Shop {
    pub region: Region,
    pub currency: Currency,
    pub tz: Tz,
    /// Short store tag in external ids: `in`, `am`, `us`.
    pub prefix: String,
    pub catalogue: Vec<Product>,
    pub codes: Vec<Code>,
    pub cheapest: i64,
    pub now: i64,
    pub start: i64,
}

impl Shop {
    pub(crate) fn new(spec: &DemoStoreSpec, now: i64) -> Shop {
        let region = Region::of(spec.currency);
        let catalogue = region.catalogue(spec.currency);
        Shop {
            region,
            currency: spec.currency,
            // An unknown zone is a typo in a demo spec; UTC keeps the demo usable.
            tz: spec.time_zone.parse().unwrap_or(chrono_tz::UTC),
            prefix: spec.currency.code()[..2].to_ascii_lowercase(),
            cheapest: catalogue.iter().map(|p| p.price).min().unwrap_or(100),
            codes: region.codes(spec.currency),
            catalogue,
            now,
            start: now - HISTORY,
        }
    }

    /// A catalogue index. The minimum of two draws favours the front of the catalogue, where
    /// the everyday staples are listed; gift sets at the back sell less often.
    pub(crate) fn popular_product(&self, rng: &mut impl Rng) -> usize {
        let len = self.catalogue.len();
        rng.gen_range(0..len).min(rng.gen_range(0..len))
    }

    /// Rounds to the smallest amount the region actually charges.
    pub(crate) fn round(&self, minor: i64) -> i64 {
        let unit = self.region.rounding();
        (minor + unit / 2) / unit * unit
    }

    /// `bp` basis points of `amount`, rounded like a price.
    pub(crate) fn share(&self, amount: i64, bp: i64) -> i64 {
        self.round(amount * bp / 10_000)
    }

    /// When a new customer first buys: the shop grows, so recent months see more newcomers.
    /// Kept a day inside the window so moving it to local daytime cannot leave it.
    pub(crate) fn first_order_time(&self, rng: &mut impl Rng) -> i64 {
        let span = (self.now - self.start - 2 * DAY) as f64;
        let t = self.start + DAY + (span * rng.gen::<f64>().sqrt()) as i64;
        self.local_daytime(t, rng)
    }

    /// The same local day as `t`, at a time people shop (mostly evenings).
    pub(crate) fn local_daytime(&self, t: i64, rng: &mut impl Rng) -> i64 {
        let Some(local) = self.tz.timestamp_millis_opt(t).single() else {
            return t;
        };
        let hours: &[(u32, u32)] = &[
            (8, 2),
            (10, 3),
            (12, 4),
            (14, 3),
            (17, 4),
            (19, 6),
            (21, 5),
            (23, 1),
        ];
        let hour = weighted(rng, hours);
        let naive = local
            .date_naive()
            .and_hms_opt(hour, rng.gen_range(0..60), rng.gen_range(0..60))
            .expect("valid wall-clock time");
        // A wall-clock time skipped by a DST change keeps the original instant.
        self.tz
            .from_local_datetime(&naive)
            .earliest()
            .map_or(t, |dt| dt.timestamp_millis())
    }

    /// Local calendar month (1–12) at `t`, for festival codes.
    pub(crate) fn local_month(&self, t: i64) -> u32 {
        self.tz
            .timestamp_millis_opt(t)
            .single()
            .map_or(1, |dt| dt.month())
    }

    #[cfg(test)]
    pub(crate) fn local_hour(&self, t: i64) -> u32 {
        self.tz
            .timestamp_millis_opt(t)
            .single()
            .map_or(0, |dt| chrono::Timelike::hour(&dt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn daytime_is_local() {
        let spec = &crate::demo_stores()[0];
        let shop = Shop::new(spec, 1_750_000_000_000);
        assert_eq!(shop.tz, chrono_tz::Asia::Kolkata);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..200 {
            let t = shop.first_order_time(&mut rng);
            assert!((shop.start..=shop.now).contains(&t));
            assert!((8..=23).contains(&shop.local_hour(t)));
        }
    }

    #[test]
    fn armenian_amounts_are_whole_dram() {
        let spec = &crate::demo_stores()[1];
        let shop = Shop::new(spec, 0);
        assert_eq!(shop.prefix, "am");
        assert_eq!(shop.round(123_456), 123_500);
        assert_eq!(shop.share(1_000_000, 2_000), 200_000);
    }
}
