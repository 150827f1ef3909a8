//! Demo customers: who they are, how they found the shop, what they agreed to, and their
//! buying habit (which the order generator then plays out).

use std::collections::BTreeMap;

use rand::Rng;
use regulars_domain::{
    Birthday, ConsentChange, ConsentChannel, CustomerInput, Email, Money, Phone, Source, Timestamp,
};
use serde_json::json;

use crate::people::{email_local, Lang};
use crate::pick::{chance, one_of, weighted};
use crate::region::Region;
use crate::shop::{Shop, DAY};

/// A customer plus what the order generator needs to know about them.
pub(crate) struct Profile {
    pub customer: CustomerInput,
    pub lang: Lang,
    pub wholesale: bool,
    /// Buys only through a marketplace.
    pub marketplace: bool,
    /// Index into the shop's catalogue of the product they come back for.
    pub favourite: usize,
    /// `None` for prospects: newsletter sign-ups who never order.
    pub first_order_at: Option<i64>,
    pub habit: Option<Habit>,
    /// When email marketing was allowed: from grant to (optional) withdrawal.
    pub email_opt_in: Option<(i64, Option<i64>)>,
}

/// How a repeat buyer comes back: roughly every `interval_days`, leaving for good with
/// probability `churn` after each order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Habit {
    pub interval_days: f64,
    pub churn: f64,
}

impl Profile {
    pub(crate) fn has_account(&self) -> bool {
        self.customer.has_account == Some(true)
    }

    pub(crate) fn email_allowed_at(&self, t: i64) -> bool {
        self.email_opt_in
            .is_some_and(|(from, until)| from <= t && until.is_none_or(|u| t < u))
    }

    /// How the customer appears on one of their orders: guests by email only.
    pub(crate) fn order_reference(&self) -> CustomerInput {
        let c = &self.customer;
        CustomerInput {
            external_id: if self.has_account() {
                c.external_id.clone()
            } else {
                None
            },
            email: c.email.clone(),
            has_account: c.has_account,
            ..CustomerInput::default()
        }
    }
}

const CHANNELS: &[(&str, u32)] = &[
    ("organic", 36),
    ("instagram", 20),
    ("google_ads", 15),
    ("referral", 12),
    ("whatsapp", 12),
    ("marketplace", 5),
];

/// Share of customers who signed up for the newsletter and never bought.
const PROSPECT_SHARE: f64 = 0.06;
const GUEST_SHARE: f64 = 0.2;

pub(crate) fn profile(shop: &Shop, n: usize, rng: &mut impl Rng) -> Profile {
    let (origin, lang) = shop.region.persona(rng);
    let name = origin.name(lang, rng);
    let email = format!("{}@{}", email_local(&name, n, rng), shop.region.email_domain(rng));
    let prospect = chance(rng, PROSPECT_SHARE);
    let channel = if prospect {
        "organic"
    } else {
        weighted(rng, CHANNELS)
    };
    let has_account = prospect || !chance(rng, GUEST_SHARE);
    let first_order_at = (!prospect).then(|| shop.first_order_time(rng));
    let created_at = match first_order_at {
        // Account holders often register a while before buying; guests exist from checkout on.
        Some(t) if has_account => t - rng.gen_range(0..30 * DAY),
        Some(t) => t,
        None => rng.gen_range(shop.start..shop.now),
    };
    let mut customer = CustomerInput {
        source: Some(Source::Api),
        external_id: Some(format!("demo-{}-c{n:05}", shop.prefix)),
        email: Some(Email::parse(&email).expect("generated emails are valid")),
        phone: chance(rng, shop.region.phone_share())
            .then(|| Phone::parse(&shop.region.phone(rng)).expect("generated phones are valid")),
        first_name: Some(name.first.to_string()),
        last_name: Some(name.last.to_string()),
        locale: Some(lang.locale()),
        birthday: birthday(rng),
        tags: Some(Vec::new()),
        attributes: attributes(shop, n, channel, rng),
        note: chance(rng, 0.2).then(|| lang.customer_note(rng).to_string()),
        acquisition_channel: Some(channel.to_string()),
        acquisition_cost: acquisition_cost(shop, channel, rng),
        has_account: Some(has_account),
        consents: Vec::new(),
        created_at: Some(Timestamp(created_at)),
    };
    let via = match (prospect, has_account) {
        (true, _) => "newsletter_form",
        (false, true) => "account_signup",
        (false, false) => "checkout",
    };
    let signup = Signup {
        lang,
        via,
        at: created_at,
    };
    let email_opt_in = consent(shop, &mut customer, &signup, ConsentChannel::Email, rng);
    if customer.phone.is_some() {
        consent(shop, &mut customer, &signup, ConsentChannel::Sms, rng);
        // WhatsApp is how Indian shops talk to customers; elsewhere SMS suffices.
        if shop.region == Region::India {
            consent(shop, &mut customer, &signup, ConsentChannel::Whatsapp, rng);
        }
    }
    let wholesale = !prospect && chance(rng, 0.02);
    Profile {
        customer,
        lang,
        wholesale,
        marketplace: channel == "marketplace",
        favourite: shop.popular_product(rng),
        habit: match first_order_at {
            None => None,
            // Cafes and small shops restock monthly and rarely leave.
            Some(_) if wholesale => Some(Habit {
                interval_days: 30.0,
                churn: 0.05,
            }),
            Some(_) => habit(rng),
        },
        first_order_at,
        email_opt_in,
    }
}

/// Most customers buy once; the rest come back at their own pace until they drift away.
fn habit(rng: &mut impl Rng) -> Option<Habit> {
    if chance(rng, 0.5) {
        return None;
    }
    let u: f64 = rng.gen();
    Some(Habit {
        // Skewed towards short intervals: tea and spices run out in weeks, gifts yearly.
        interval_days: 20.0 + 140.0 * u * u,
        churn: rng.gen_range(0.08..0.45),
    })
}

fn birthday(rng: &mut impl Rng) -> Option<Birthday> {
    if !chance(rng, 0.35) {
        return None;
    }
    Some(Birthday {
        month: rng.gen_range(1..=12),
        day: rng.gen_range(1..=28),
        // Collect little: many give the day but keep their age to themselves.
        year: chance(rng, 0.6).then(|| rng.gen_range(1960..=2004)),
    })
}

fn attributes(
    shop: &Shop,
    n: usize,
    channel: &str,
    rng: &mut impl Rng,
) -> BTreeMap<String, serde_json::Value> {
    let mut attrs = BTreeMap::new();
    attrs.insert("city".to_string(), json!(one_of(rng, shop.region.cities())));
    if channel == "referral" && n > 0 {
        let referrer = rng.gen_range(0..n);
        attrs.insert(
            "referred_by".to_string(),
            json!(format!("demo-{}-c{referrer:05}", shop.prefix)),
        );
    }
    attrs
}

/// What it cost to win this customer; only paid channels have a cost.
fn acquisition_cost(shop: &Shop, channel: &str, rng: &mut impl Rng) -> Option<Money> {
    let (lo, hi) = match channel {
        "instagram" => (0.6, 2.5),
        "google_ads" => (1.0, 4.0),
        _ => return None,
    };
    // Relative to the cheapest product, so the cost is sensible in every currency.
    let cost = (shop.cheapest as f64 * rng.gen_range(lo..hi)) as i64;
    Some(Money::new(shop.round(cost), shop.currency))
}

/// Where and when a customer first met the shop: the context of their consent records.
#[derive(Clone, Copy)]
struct Signup {
    lang: Lang,
    via: &'static str,
    at: i64,
}

/// Maybe records a grant (and maybe its later withdrawal); returns the allowed window.
fn consent(
    shop: &Shop,
    customer: &mut CustomerInput,
    signup: &Signup,
    channel: ConsentChannel,
    rng: &mut impl Rng,
) -> Option<(i64, Option<i64>)> {
    let Signup { lang, via, at } = *signup;
    let p = match (channel, via) {
        (ConsentChannel::Email, "newsletter_form") => 1.0,
        (ConsentChannel::Email, _) => 0.55,
        (ConsentChannel::Sms, _) => 0.35,
        (ConsentChannel::Whatsapp, _) => 0.3,
    };
    if !chance(rng, p) {
        return None;
    }
    let mut grant = ConsentChange::new(channel, true, via);
    grant.at = Some(Timestamp(at));
    grant.notice_version = Some("2024-01".to_string());
    grant.notice_text = Some(lang.consent_notice(channel).to_string());
    grant.language = Some(lang.locale());
    customer.consents.push(grant);
    let withdrawn = (chance(rng, 0.15) && at + 1 < shop.now).then(|| rng.gen_range(at + 1..shop.now));
    if let Some(w) = withdrawn {
        let how = if channel == ConsentChannel::Email {
            "unsubscribe_link"
        } else {
            "reply_stop"
        };
        let mut withdrawal = ConsentChange::new(channel, false, how);
        withdrawal.at = Some(Timestamp(w));
        withdrawal.language = Some(lang.locale());
        customer.consents.push(withdrawal);
    }
    Some((at, withdrawn))
}
