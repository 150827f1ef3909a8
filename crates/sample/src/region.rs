//! What differs between the demo shops: who buys, what they buy, and the local rules
//! (tax, shipping, festival codes, marketplaces, phone numbers).

use rand::Rng;
use regulars_domain::Currency;

use crate::people::{Lang, Origin};
use crate::pick::{one_of, weighted};

/// The market a demo store sells in, chosen from its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    India,
    Armenia,
    /// Anything else: an English-speaking shop with a diaspora clientele.
    International,
}

/// One sellable variant. Prices are in the minor units of the region's own currency.
pub(crate) struct Product {
    pub product: u16,
    pub variant: u16,
    pub sku: &'static str,
    pub title: &'static str,
    pub price: i64,
}

/// A discount code and when it is on offer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Code {
    pub code: &'static str,
    pub kind: CodeKind,
    /// Local calendar months in which the code is advertised (1 = January); empty = all year.
    pub months: &'static [u32],
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum CodeKind {
    /// Basis points off the subtotal.
    Percent(i64),
    /// A fixed amount off, minor units.
    Flat(i64),
}

impl Region {
    pub(crate) fn of(currency: Currency) -> Region {
        match currency {
            Currency::INR => Region::India,
            Currency::AMD => Region::Armenia,
            _ => Region::International,
        }
    }

    /// Whose names appear and in which language they use the shop.
    pub(crate) fn persona(self, rng: &mut impl Rng) -> (Origin, Lang) {
        use {Lang::*, Origin::*};
        let mix: &[((Origin, Lang), u32)] = match self {
            Region::India => &[
                ((Hindi, Hi), 35),
                ((Telugu, Te), 25),
                ((Hindi, En), 22),
                ((Telugu, En), 18),
            ],
            Region::Armenia => &[((Armenian, Hy), 80), ((Armenian, En), 12), ((Anglo, En), 8)],
            Region::International => &[
                ((Anglo, En), 72),
                ((Hindi, Hi), 6),
                ((Telugu, Te), 5),
                ((Armenian, Hy), 6),
                ((Hindi, En), 4),
                ((Telugu, En), 3),
                ((Armenian, En), 4),
            ],
        };
        weighted(rng, mix)
    }

    pub(crate) fn email_domain(self, rng: &mut impl Rng) -> &'static str {
        match self {
            Region::India => weighted(rng, &[("example.in", 7), ("example.com", 3)]),
            Region::Armenia => weighted(rng, &[("example.am", 7), ("example.com", 3)]),
            Region::International => "example.com",
        }
    }

    /// A mobile number in E.164 form with the country code.
    pub(crate) fn phone(self, rng: &mut impl Rng) -> String {
        match self {
            // Indian mobiles: ten digits starting 6–9.
            Region::India => format!(
                "+91{}{:09}",
                rng.gen_range(6..=9),
                rng.gen_range(0..1_000_000_000)
            ),
            Region::Armenia => {
                let operator = one_of(rng, &[77, 91, 93, 94, 95, 96, 98, 99, 55, 41]);
                format!("+374{operator}{:06}", rng.gen_range(0..1_000_000))
            }
            Region::International => {
                let area = one_of(rng, &[212, 646, 718, 917, 347, 201, 617, 415]);
                format!(
                    "+1{area}{}{:06}",
                    rng.gen_range(2..=9),
                    rng.gen_range(0..1_000_000)
                )
            }
        }
    }

    /// Share of customers who leave a phone number (the primary channel in India).
    pub(crate) fn phone_share(self) -> f64 {
        match self {
            Region::India => 0.75,
            Region::Armenia => 0.6,
            Region::International => 0.45,
        }
    }

    pub(crate) fn cities(self) -> &'static [&'static str] {
        match self {
            Region::India => &[
                "Hyderabad",
                "Vijayawada",
                "Visakhapatnam",
                "Lucknow",
                "Jaipur",
                "Mumbai",
                "Bengaluru",
                "Delhi",
            ],
            Region::Armenia => &["Yerevan", "Gyumri", "Vanadzor", "Dilijan", "Abovyan"],
            Region::International => &[
                "New York",
                "Brooklyn",
                "Jersey City",
                "Boston",
                "Glendale",
                "Edison",
            ],
        }
    }

    pub(crate) fn marketplaces(self) -> &'static [&'static str] {
        match self {
            Region::India => &["amazon", "flipkart"],
            Region::Armenia | Region::International => &["amazon"],
        }
    }

    /// Tax added on top of the discounted subtotal, basis points (GST on tea, VAT, sales tax).
    pub(crate) fn tax_bp(self) -> i64 {
        match self {
            Region::India => 500,
            Region::Armenia => 2000,
            Region::International => 800,
        }
    }

    /// (flat shipping fee, free-shipping threshold) in minor units of `currency`.
    pub(crate) fn shipping(self, currency: Currency) -> (i64, i64) {
        match self {
            Region::India => (7_900, 99_900),
            Region::Armenia => (100_000, 2_000_000),
            Region::International => (scale_cents(695, currency), scale_cents(5_000, currency)),
        }
    }

    /// The smallest amount actually charged: dram are whole in practice though ISO gives two
    /// decimals, so Armenian amounts are rounded to 100 minor units.
    pub(crate) fn rounding(self) -> i64 {
        match self {
            Region::Armenia => 100,
            _ => 1,
        }
    }

    pub(crate) fn welcome_code(self) -> Code {
        Code {
            code: if self == Region::International {
                "WELCOME10"
            } else {
                "WELCOME"
            },
            kind: CodeKind::Percent(1_000),
            months: &[],
        }
    }

    /// Festival and loyalty codes, each advertised in its season.
    pub(crate) fn codes(self, currency: Currency) -> Vec<Code> {
        let c = |code, kind, months| Code { code, kind, months };
        match self {
            Region::India => vec![
                c("DIWALI10", CodeKind::Percent(1_000), &[10, 11]),
                c("HOLI15", CodeKind::Percent(1_500), &[3]),
                c("SANKRANTI", CodeKind::Flat(10_000), &[1]),
                c("CHAI50", CodeKind::Flat(5_000), &[]),
            ],
            Region::Armenia => vec![
                c("NORTARI15", CodeKind::Percent(1_500), &[12, 1]),
                c("VARDAVAR", CodeKind::Percent(1_000), &[7]),
                c("MARCH8", CodeKind::Flat(100_000), &[3]),
                c("LOYAL5", CodeKind::Percent(500), &[]),
            ],
            Region::International => vec![
                c("BFCM20", CodeKind::Percent(2_000), &[11]),
                c("HOLIDAY15", CodeKind::Percent(1_500), &[12]),
                c("CHAI5", CodeKind::Flat(scale_cents(500, currency)), &[]),
            ],
        }
    }

    pub(crate) fn catalogue(self, currency: Currency) -> Vec<Product> {
        let p = |product, variant, sku, title, price| Product {
            product,
            variant,
            sku,
            title,
            price,
        };
        match self {
            Region::India => vec![
                p(1, 1, "TEA-ASM-250", "Assam CTC tea 250 g", 24_900),
                p(1, 2, "TEA-ASM-1K", "Assam CTC tea 1 kg", 84_900),
                p(2, 1, "TEA-DJ-FF-100", "Darjeeling first flush 100 g", 64_900),
                p(3, 1, "TEA-MSL-200", "Masala chai मसाला चाय 200 g", 29_900),
                p(4, 1, "TEA-NLG-GRN", "Nilgiri green tea 100 g", 34_900),
                p(5, 1, "TEA-KAHWA", "Kashmiri kahwa 100 g", 44_900),
                p(6, 1, "SPC-GARAM-100", "Garam masala 100 g", 14_900),
                p(
                    7,
                    1,
                    "SPC-GUNTUR-250",
                    "Guntur chilli powder గుంటూరు కారం 250 g",
                    17_900,
                ),
                p(8, 1, "SPC-ELAICHI-100", "Green cardamom 100 g", 54_900),
                p(9, 1, "SPC-KESAR-2G", "Kashmiri saffron 2 g", 69_900),
                p(10, 1, "SPC-HALDI-250", "Lakadong turmeric 250 g", 22_900),
                p(11, 1, "COF-COORG-500", "Coorg filter coffee 500 g", 59_900),
                p(12, 1, "GIFT-TEA-BOX", "Festive tea gift box", 149_900),
                p(13, 1, "GIFT-BRASS-SET", "Brass chai set with six cups", 299_900),
            ],
            Region::Armenia => vec![
                p(1, 1, "APR-DRY-500", "Dried apricots Չիր ծիրան 500 g", 350_000),
                p(1, 2, "APR-DRY-1K", "Dried apricots Չիր ծիրան 1 kg", 650_000),
                p(2, 1, "APR-JAM", "Apricot jam 450 g", 220_000),
                p(3, 1, "COG-5Y-050", "Armenian brandy 5 years 0.5 l", 1_200_000),
                p(3, 2, "COG-10Y-070", "Armenian brandy 10 years 0.7 l", 2_800_000),
                p(
                    4,
                    1,
                    "COF-ARM-250",
                    "Armenian coffee Հայկական սուրճ 250 g",
                    280_000,
                ),
                p(5, 1, "JEZVE-CU", "Copper jezve", 950_000),
                p(6, 1, "TEA-THYME", "Mountain thyme tea Ուրց 50 g", 180_000),
                p(7, 1, "SWT-SUJUKH", "Sujukh walnut sweet", 450_000),
                p(8, 1, "SWT-GATA", "Gata pastry", 150_000),
                p(9, 1, "WINE-POMEG", "Pomegranate wine 0.75 l", 650_000),
                p(10, 1, "GIFT-BASKET", "Armenian gift basket", 4_500_000),
            ],
            Region::International => [
                p(1, 1, "TEA-MSL-LOOSE", "Masala chai loose leaf 8 oz", 1_400),
                p(2, 1, "TEA-DJ-4OZ", "Darjeeling first flush 4 oz", 2_200),
                p(3, 1, "COF-ARM-8OZ", "Armenian coffee 8 oz", 1_200),
                p(4, 1, "APR-DRY-1LB", "Dried Armenian apricots 1 lb", 900),
                p(5, 1, "SPC-SAFFRON-1G", "Saffron 1 g", 1_800),
                p(6, 1, "SPC-SAMPLER", "Indian spice sampler", 3_500),
                p(7, 1, "SPC-CARDAMOM", "Green cardamom 3 oz", 1_100),
                p(8, 1, "SPC-TURMERIC", "Turmeric 8 oz", 700),
                p(9, 1, "GIFT-TEA-SET", "Tea lover's gift set", 5_800),
                p(10, 1, "JEZVE-CU", "Copper jezve", 4_200),
                p(11, 1, "GIFT-HAMPER", "Holiday hamper", 8_000),
                p(12, 1, "TEA-TULSI", "Tulsi green tea 20 bags", 500),
            ]
            .into_iter()
            .map(|item| Product {
                price: scale_cents(item.price, currency),
                ..item
            })
            .collect(),
        }
    }
}

/// A US-cent amount in the minor units of `currency` (one unit of it per dollar): lets the
/// international catalogue serve EUR, GBP or JPY stores without its own price list.
fn scale_cents(cents: i64, currency: Currency) -> i64 {
    cents * 10_i64.pow(currency.exponent()) / 100
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_prices_fit_the_currency() {
        let range = |r: Region, c: Currency| {
            let prices: Vec<i64> = r.catalogue(c).iter().map(|p| p.price).collect();
            (*prices.iter().min().unwrap(), *prices.iter().max().unwrap())
        };
        assert_eq!(range(Region::India, Currency::INR), (14_900, 299_900));
        assert_eq!(range(Region::Armenia, Currency::AMD), (150_000, 4_500_000));
        assert_eq!(range(Region::International, Currency::USD), (500, 8_000));
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(range(Region::International, jpy), (5, 80));
    }

    #[test]
    fn skus_are_unique() {
        for region in [Region::India, Region::Armenia, Region::International] {
            let mut skus: Vec<_> = region.catalogue(Currency::USD).iter().map(|p| p.sku).collect();
            skus.sort();
            let n = skus.len();
            skus.dedup();
            assert_eq!(skus.len(), n);
        }
    }
}
