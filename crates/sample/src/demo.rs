//! Three demo stores with two years of multilingual history, for screenshots, trials and
//! end-to-end tests.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use regulars_domain::{Currency, CustomerInput, Locale, OrderInput, Timestamp};

use crate::customers::{profile, Profile};
use crate::orders::{self, Planned};
use crate::shop::Shop;

/// What a demo store looks like. Catalogue, languages, tax and shipping follow the currency:
/// INR is an Indian shop, AMD an Armenian one, anything else an English-speaking shop.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoStoreSpec {
    pub name: String,
    pub currency: Currency,
    /// IANA zone, e.g. `Asia/Kolkata`.
    pub time_zone: &'static str,
    pub locale: Locale,
    pub customers: usize,
    pub seed: u64,
    /// The shop's own site (referral share links lead there).
    pub shop_url: &'static str,
}

/// Customers and their orders, ready to send through the API in this order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoData {
    pub customers: Vec<CustomerInput>,
    pub orders: Vec<OrderInput>,
}

/// An Indian tea and spice shop, an Armenian pantry and a New York shop: 3,000 customers.
pub fn demo_stores() -> Vec<DemoStoreSpec> {
    let locale = |tag| Locale::parse(tag).expect("static locale tags are valid");
    vec![
        DemoStoreSpec {
            name: "Chai Chaupal Tea & Spices".to_string(),
            currency: Currency::INR,
            time_zone: "Asia/Kolkata",
            locale: locale("en-IN"),
            customers: 1_800,
            seed: 0x1a_2024,
            shop_url: "https://chaichaupal.example.in",
        },
        DemoStoreSpec {
            name: "Tsiran Armenian Pantry".to_string(),
            currency: Currency::AMD,
            time_zone: "Asia/Yerevan",
            locale: locale("hy"),
            customers: 700,
            seed: 0x374_2024,
            shop_url: "https://tsiran.example.am",
        },
        DemoStoreSpec {
            name: "Brooklyn Tea & Spice".to_string(),
            currency: Currency::USD,
            time_zone: "America/New_York",
            locale: locale("en"),
            customers: 500,
            seed: 0x1_2024,
            shop_url: "https://brooklyntea.example.com",
        },
    ]
}

/// Two years of history up to `now`. The same spec and `now` always give the same data.
pub fn demo_dataset(spec: &DemoStoreSpec, now: Timestamp) -> DemoData {
    let shop = Shop::new(spec, now.0);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut profiles: Vec<Profile> = (0..spec.customers).map(|n| profile(&shop, n, &mut rng)).collect();
    let plan = orders::plan(&shop, &profiles, &mut rng);
    let orders: Vec<OrderInput> = plan
        .iter()
        .enumerate()
        .map(|(i, planned)| orders::build(&shop, &profiles[planned.customer], planned, i + 1, &mut rng))
        .collect();
    tag(&mut profiles, &plan, &orders);
    DemoData {
        customers: profiles.into_iter().map(|p| p.customer).collect(),
        orders,
    }
}

/// What one paid channel cost in one month, as a shop owner would enter it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlySpend {
    pub channel: String,
    /// `YYYY-MM` in the store's time zone.
    pub month: String,
    pub amount_minor: i64,
}

/// Marketing spend for the last `months` calendar months of the store up to `now`: one amount
/// per paid channel (those whose customers carry an acquisition cost) and month, what that
/// month's new customers' acquisition costs add up to and a little more (ads also reach people
/// who never buy).
pub fn demo_spend(spec: &DemoStoreSpec, now: Timestamp, data: &DemoData, months: u32) -> Vec<MonthlySpend> {
    use chrono::Datelike;
    use rand::Rng;
    let shop = Shop::new(spec, now.0);
    let month_of = |at: i64| {
        let local = Timestamp(at).to_datetime().with_timezone(&shop.tz);
        (local.year(), local.month())
    };
    let (year, month) = month_of(now.0);
    let current = year * 12 + month as i32 - 1;
    let mut sums: std::collections::BTreeMap<(String, i32), i64> = std::collections::BTreeMap::new();
    for c in &data.customers {
        let (Some(channel), Some(cost), Some(created)) =
            (&c.acquisition_channel, &c.acquisition_cost, c.created_at)
        else {
            continue;
        };
        let (y, m) = month_of(created.0);
        let index = y * 12 + m as i32 - 1;
        if index > current - months as i32 {
            *sums.entry((channel.clone(), index)).or_default() += cost.minor;
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x5e4d);
    sums.into_iter()
        .map(|((channel, index), minor)| MonthlySpend {
            channel,
            month: format!("{:04}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1),
            amount_minor: shop.round((minor as f64 * rng.gen_range(1.1..1.4)) as i64),
        })
        .collect()
}

/// Tags a shop owner would have set by hand: their best customers, trade buyers, subscribers.
fn tag(profiles: &mut [Profile], plan: &[Planned], orders: &[OrderInput]) {
    let mut spend = vec![(0_i64, 0_usize); profiles.len()];
    for (planned, order) in plan.iter().zip(orders) {
        if order.cancelled_at.is_none() {
            let refunded: i64 = order.refunds.iter().map(|r| r.amount).sum();
            spend[planned.customer].0 += order.total - refunded;
            spend[planned.customer].1 += 1;
        }
    }
    let vip_from = top_share_threshold(&spend, 0.05);
    for (p, &(spent, count)) in profiles.iter_mut().zip(&spend) {
        let mut tags = Vec::new();
        if count >= 2 && spent >= vip_from {
            tags.push("vip");
        }
        if p.wholesale {
            tags.push("wholesale");
        }
        if p.email_opt_in.is_some() {
            tags.push("newsletter");
        }
        if p.first_order_at.is_none() {
            tags.push("prospect");
        }
        tags.sort_unstable();
        p.customer.tags = Some(tags.into_iter().map(String::from).collect());
    }
}

/// The spend at which a customer is among the top `share` of buyers.
fn top_share_threshold(spend: &[(i64, usize)], share: f64) -> i64 {
    let mut amounts: Vec<i64> = spend.iter().filter(|s| s.1 > 0).map(|s| s.0).collect();
    amounts.sort_unstable_by(|a, b| b.cmp(a));
    let k = ((amounts.len() as f64 * share) as usize).max(1);
    amounts.get(k - 1).copied().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_covers_the_paid_channels_of_recent_months() {
        let spec = &demo_stores()[0];
        let now = Timestamp::parse_rfc3339("2026-05-15T12:00:00+05:30").unwrap();
        let data = demo_dataset(spec, now);
        let spend = demo_spend(spec, now, &data, 12);
        let mut channels: Vec<&str> = spend.iter().map(|s| s.channel.as_str()).collect();
        channels.dedup();
        assert_eq!(channels, ["google_ads", "instagram"]);
        assert!(spend
            .iter()
            .all(|s| s.month.as_str() > "2025-05" && s.month.as_str() <= "2026-05"));
        assert!(spend.iter().all(|s| s.amount_minor > 0));
        assert_eq!(spend, demo_spend(spec, now, &data, 12), "the same every time");
    }

    #[test]
    fn top_share() {
        let spend: Vec<(i64, usize)> = (1..=100).map(|s| (s, 1)).chain([(999, 0)]).collect();
        assert_eq!(top_share_threshold(&spend, 0.05), 96);
        assert_eq!(top_share_threshold(&[], 0.05), i64::MAX);
    }
}
