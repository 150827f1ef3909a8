//! Demo referrals: which customers told their friends, which friends came with a code (typed
//! at checkout, or passed on by the shop from the share link), what the shop knows about every
//! checkout (IP address, device, shipping address, card), and the cases a referral program
//! meets in practice: a sister ordering to the advocate's home, a hostel's shared connection,
//! a second account of the advocate, a card of the advocate's, a regular trying a friend's
//! code, an advocate typing their own code, a return inside the window, partners who earn a
//! commission, and friends who left their email on a share link but have not ordered yet.
//!
//! Friends are the customers who came by the `referral` channel; their first order names the
//! advocate. The codes themselves are made by the store when the data is loaded, so the plan
//! names advocates by their customer `external_id` and [`ReferredOrder::name_code`] puts the
//! code on the order.

use std::collections::{HashMap, HashSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use regulars_domain::referral::address_key;
use regulars_domain::{Email, FinancialStatus, OrderInput, OrderSignals, RefundInput, Timestamp};

use crate::orders::{full_refund, reprice};
use crate::pick::{chance, one_of};
use crate::region::Region;
use crate::shop::{Shop, DAY, HOUR};
use crate::{DemoData, DemoStoreSpec};

/// At most this many friends per advocate. Every demo referral is recorded when the demo
/// starts, so the fraud rules' default velocity (more than ten referrals by one advocate in a
/// month goes to review) would otherwise hold a popular advocate's older friends.
pub const MAX_FRIENDS: usize = 8;

/// How a friend's order names the advocate's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeVia {
    /// Typed at checkout: a discount code, and the order is priced with the friend's discount.
    DiscountCode,
    /// Passed on by the shop (a note attribute, the share link's `?ref=`): the order's
    /// `signals.referral_code`, beside whatever discount code it had.
    Passed,
}

/// An order that carries an advocate's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferredOrder {
    /// The order's `external_id`.
    pub order: String,
    /// The advocate's customer `external_id`.
    pub advocate: String,
    pub via: CodeVia,
}

impl ReferredOrder {
    /// Puts the advocate's `code` on the order the way the shop sends it.
    pub fn name_code(&self, order: &mut OrderInput, code: &str) {
        match self.via {
            CodeVia::DiscountCode => order.discount_codes = vec![code.to_string()],
            CodeVia::Passed => order.signals.referral_code = Some(code.to_string()),
        }
    }
}

/// A customer the store invites as partner: a commission on what their friends buy instead of
/// the advocate's reward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPartner {
    /// The customer's `external_id`.
    pub customer: String,
    pub basis_points: i64,
    /// Every order of their friends within `period_days`, or only each friend's first order.
    pub all_orders: bool,
    pub period_days: Option<i64>,
    /// Why the store invited them, in the shop's languages.
    pub note: String,
    /// Set when the store has paid them once (the bank's reference).
    pub payout_reference: Option<String>,
}

/// A visit of an advocate's share link: with an email, a friend signed up on the landing page
/// and has not ordered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    /// The advocate's customer `external_id`.
    pub advocate: String,
    pub email: Option<Email>,
    pub ip: String,
    pub device: String,
}

/// How many of each case the plan holds (what the fraud rules and the job should then find).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cases {
    pub friends: usize,
    pub advocates: usize,
    /// Friends whose first order ships to the advocate's address (`same_address`: review).
    pub same_address: usize,
    /// Friends checking out from one shared connection within the last day; those past the
    /// burst threshold (3 within a day by default) go to review.
    pub shared_connection: usize,
    /// A second account of an advocate with an email one character off (`similar_email`:
    /// review).
    pub similar_email: usize,
    /// A friend paying with the advocate's card (`same_payment`: rejected).
    pub same_payment: usize,
    /// A regular using a friend's code on a later order (`existing_customer`: rejected).
    pub existing_customer: usize,
    /// An advocate typing their own code (`self_referral`: rejected).
    pub self_referral: usize,
    /// Friends' first orders returned in full inside the window (cancelled by the job).
    pub returned: usize,
    pub partners: usize,
    pub landings: usize,
}

/// The referral side of a demo store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoReferrals {
    /// Customers (`external_id`) who share a code, most friends first.
    pub advocates: Vec<String>,
    pub partners: Vec<DemoPartner>,
    /// Orders carrying a code, in the order the shop receives them.
    pub referred: Vec<ReferredOrder>,
    /// Full refunds of friends' first orders made inside the return window, sent after the
    /// orders as the shop reports them: (order `external_id`, refund).
    pub refunds: Vec<(String, RefundInput)>,
    /// Share-link visits, some with a friend's email.
    pub landings: Vec<Landing>,
    pub cases: Cases,
}

/// What the shop knows about one customer's checkouts.
struct Household {
    address: String,
    ip: String,
    device: String,
    card: String,
}

/// Plans the store's referrals and puts the signals of every checkout on its orders. Friends'
/// first orders with a typed code are priced again with `friend_discount_bp` off; a few
/// customers change (a second account's email, a shared home or card) to make the cases above.
/// The same spec, `now` and data always give the same plan.
pub fn demo_referrals(
    spec: &DemoStoreSpec,
    now: Timestamp,
    data: &mut DemoData,
    friend_discount_bp: i64,
) -> DemoReferrals {
    let shop = Shop::new(spec, now.0);
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x5eef_e11a);
    let n = data.customers.len();
    let by_email: HashMap<String, usize> = data
        .customers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.email.as_ref().map(|e| (e.as_str().to_string(), i)))
        .collect();
    let mut orders_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, o) in data.orders.iter().enumerate() {
        let owner = o
            .customer
            .as_ref()
            .and_then(|c| c.email.as_ref())
            .and_then(|e| by_email.get(e.as_str()));
        if let Some(&c) = owner {
            orders_of[c].push(i);
        }
    }
    let externals: Vec<String> = data
        .customers
        .iter()
        .map(|c| c.external_id.clone().unwrap_or_default())
        .collect();
    let external = |c: usize| externals[c].clone();
    let first_at = |c: usize| orders_of[c].first().map(|&o| data.orders[o].placed_at.0);
    // Customers who buy at the shop's own checkout (codes do not work on marketplaces).
    let own = |c: usize| {
        orders_of[c]
            .first()
            .is_some_and(|&o| data.orders[o].marketplace.is_none())
    };

    // Friends, oldest first, each given an advocate who had bought at least a week before.
    let mut friends: Vec<usize> = (0..n)
        .filter(|&c| data.customers[c].acquisition_channel.as_deref() == Some("referral") && own(c))
        .collect();
    friends.sort_by_key(|&c| (first_at(c), c));
    let buyers: Vec<usize> = (0..n).filter(|&c| own(c)).collect();
    // A few early regulars who tell everyone (about one per 25 friends).
    let early = shop.start + (shop.now - shop.start) / 4;
    let mut keen: Vec<usize> = buyers
        .iter()
        .copied()
        .filter(|&c| orders_of[c].len() >= 3 && first_at(c).is_some_and(|t| t < early))
        .collect();
    keen.truncate((friends.len() / 25).max(2));
    let mut advocate_of: HashMap<usize, usize> = HashMap::new();
    let mut friends_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for &f in &friends {
        let Some(at) = first_at(f) else { continue };
        // One of them for about a third of the friends (while they have room); otherwise
        // anyone who bought a week before. Regulars recommend more, and people who recommended
        // once do it again.
        let weights = |only_keen: bool| -> Vec<u32> {
            buyers
                .iter()
                .map(|&a| {
                    let known = friends_of.get(&a).map_or(0, Vec::len);
                    let eligible = a != f
                        && known < MAX_FRIENDS
                        && (!only_keen || keen.contains(&a))
                        && first_at(a).is_some_and(|t| t <= at - 7 * DAY);
                    if !eligible {
                        return 0;
                    }
                    1 + 2 * u32::from(orders_of[a].len() >= 2) + 4 * known as u32
                })
                .collect()
        };
        let keen_first = chance(&mut rng, 0.35);
        let picked = match keen_first
            .then(|| weighted_index(&mut rng, &weights(true)))
            .flatten()
        {
            Some(pick) => Some(pick),
            None => weighted_index(&mut rng, &weights(false)),
        };
        let Some(pick) = picked else {
            continue;
        };
        let a = buyers[pick];
        advocate_of.insert(f, a);
        friends_of.entry(a).or_default().push(f);
    }
    let friends: Vec<usize> = friends
        .into_iter()
        .filter(|f| advocate_of.contains_key(f))
        .collect();
    if friends.is_empty() {
        return DemoReferrals::default();
    }
    let mut advocates: Vec<usize> = friends_of.keys().copied().collect();
    advocates.sort_by_key(|a| (std::cmp::Reverse(friends_of[a].len()), *a));

    // The busiest advocate stays one (the 5-friend milestone); the next become partners.
    let mut cases = Cases {
        friends: friends.len(),
        advocates: advocates.len(),
        ..Cases::default()
    };
    let terms = partner_terms(shop.region);
    let partners: Vec<(usize, &PartnerTerms)> = advocates
        .iter()
        .skip(1)
        .zip(&terms)
        .filter(|(a, _)| friends_of[*a].len() >= 3)
        .map(|(a, t)| (*a, t))
        .collect();
    let partner_ids: HashSet<usize> = partners.iter().map(|(a, _)| *a).collect();
    cases.partners = partners.len();

    let mut homes: Vec<Household> = (0..n).map(|_| household(shop.region, &mut rng)).collect();
    let mut ip_of_first: HashMap<usize, String> = HashMap::new();
    let mut special: HashSet<usize> = HashSet::new();
    let mut take = |rng: &mut ChaCha8Rng, count: usize, from: &dyn Fn(usize) -> bool| -> Vec<usize> {
        let pool: Vec<usize> = friends
            .iter()
            .copied()
            .filter(|f| !special.contains(f) && from(*f))
            .collect();
        let mut chosen = Vec::new();
        let mut seen_advocates = HashSet::new();
        for _ in 0..pool.len() * 4 {
            if chosen.len() == count {
                break;
            }
            let f = *one_of(rng, &pool);
            if !chosen.contains(&f) && seen_advocates.insert(advocate_of[&f]) {
                chosen.push(f);
            }
        }
        special.extend(&chosen);
        chosen
    };
    let not_partners = |f: usize| !partner_ids.contains(&advocate_of[&f]);
    let scale = |share: usize| (friends.len() * share / 100).max(1);

    // A sister or flatmate ordering to the advocate's home.
    for f in take(&mut rng, scale(6), &not_partners) {
        homes[f].address = homes[advocate_of[&f]].address.clone();
        cases.same_address += 1;
    }
    // Friends from one hostel, checking out on its connection since yesterday evening (new
    // customers with one order, which is moved there).
    let ring_ip = ip(&mut rng);
    let ring_size = if friends.len() >= 100 { 5 } else { 4 };
    let ring = take(&mut rng, ring_size, &|f| {
        not_partners(f) && orders_of[f].len() == 1 && data.orders[orders_of[f][0]].cancelled_at.is_none()
    });
    for &f in &ring {
        ip_of_first.insert(f, ring_ip.clone());
        cases.shared_connection += 1;
    }
    // The advocate's card on a friend's order.
    for f in take(&mut rng, 1, &not_partners) {
        homes[f].card = homes[advocate_of[&f]].card.clone();
        cases.same_payment += 1;
    }
    // A second account of the advocate, one character off their email.
    let emails: HashSet<String> = by_email.keys().cloned().collect();
    for f in take(&mut rng, 1, &not_partners) {
        let a = advocate_of[&f];
        let Some(email) = data.customers[a]
            .email
            .as_ref()
            .and_then(|e| near_email(e, &emails))
        else {
            continue;
        };
        let (first, last) = (
            data.customers[a].first_name.clone(),
            data.customers[a].last_name.clone(),
        );
        let c = &mut data.customers[f];
        c.email = Some(email.clone());
        c.first_name = first;
        c.last_name = last;
        for &o in &orders_of[f] {
            if let Some(reference) = data.orders[o].customer.as_mut() {
                reference.email = Some(email.clone());
            }
        }
        cases.similar_email += 1;
    }
    // Returned inside the window: one partner's friend (the commission is taken back) and a
    // few others.
    let returnable = |f: usize| {
        let o = &data.orders[orders_of[f][0]];
        o.cancelled_at.is_none() && o.placed_at.0 + 10 * DAY < shop.now
    };
    let mut returned = take(&mut rng, 1, &|f| returnable(f) && !not_partners(f));
    returned.extend(take(&mut rng, scale(4), &|f| returnable(f) && not_partners(f)));

    // Every friend's first order names the advocate; most typed the code.
    let mut referred: Vec<(usize, String, CodeVia)> = Vec::new();
    for &f in &friends {
        let a = advocate_of[&f];
        let order = orders_of[f][0];
        let via = if returned.contains(&f) || ring.contains(&f) || chance(&mut rng, 0.75) {
            CodeVia::DiscountCode
        } else {
            CodeVia::Passed
        };
        if via == CodeVia::DiscountCode {
            reprice(&shop, &mut data.orders[order], friend_discount_bp);
        }
        referred.push((order, external(a), via));
        data.customers[f]
            .attributes
            .insert("referred_by".to_string(), serde_json::json!(external(a)));
    }
    // A regular trying a friend's code on a later order.
    let taken: HashSet<usize> = friends.iter().chain(&advocates).copied().collect();
    let regulars: Vec<usize> = buyers
        .iter()
        .copied()
        .filter(|c| !taken.contains(c) && orders_of[*c].len() >= 2)
        .collect();
    // Advocates with room for a few more referrals under the velocity rule.
    let light: Vec<usize> = advocates
        .iter()
        .copied()
        .filter(|a| friends_of[a].len() <= MAX_FRIENDS / 2 && !partner_ids.contains(a))
        .collect();
    if !regulars.is_empty() && !light.is_empty() {
        let c = *one_of(&mut rng, &regulars);
        let order = orders_of[c][1];
        reprice(&shop, &mut data.orders[order], friend_discount_bp);
        referred.push((order, external(*one_of(&mut rng, &light)), CodeVia::DiscountCode));
        cases.existing_customer += 1;
    }
    // An advocate (not referred themself) typing their own code on a later order.
    let selfish: Vec<usize> = light
        .iter()
        .copied()
        .filter(|a| !advocate_of.contains_key(a) && orders_of[*a].len() >= 2)
        .collect();
    if !selfish.is_empty() {
        let a = *one_of(&mut rng, &selfish);
        let order = *orders_of[a].last().expect("two orders or more");
        reprice(&shop, &mut data.orders[order], friend_discount_bp);
        referred.push((order, external(a), CodeVia::DiscountCode));
        cases.self_referral += 1;
    }
    // The hostel's orders: since yesterday evening, a few hours apart, numbered after the rest.
    let mut number = 1_000 + data.orders.len();
    for (k, &f) in ring.iter().enumerate() {
        let o = &mut data.orders[orders_of[f][0]];
        let at = Timestamp(shop.now - 20 * HOUR + k as i64 * 3 * HOUR + rng.gen_range(0..HOUR));
        number += 1;
        o.order_number = Some(format!("#{number}"));
        o.placed_at = at;
        o.source_updated_at = Some(at);
        o.financial_status = FinancialStatus::Paid;
        o.refunds.clear();
    }

    let mut refunds = Vec::new();
    for f in returned {
        let o = &data.orders[orders_of[f][0]];
        let at = (o.placed_at.0 + rng.gen_range(2 * DAY..10 * DAY)).min(shop.now);
        let reason = one_of(&mut rng, RETURN_REASONS);
        refunds.push((o.external_id.clone(), full_refund(o, at, reason)));
        cases.returned += 1;
    }

    // What every checkout at the shop's own site tells: the buyer's connection (home, or now
    // and then their phone's), device, shipping address and card (none for cash on delivery).
    for (c, orders) in orders_of.iter().enumerate() {
        for (k, &o) in orders.iter().enumerate() {
            let order = &mut data.orders[o];
            if order.marketplace.is_some() {
                continue;
            }
            let home = &homes[c];
            let ip = match ip_of_first.get(&c) {
                Some(shared) if k == 0 => shared.clone(),
                _ if chance(&mut rng, 0.7) => home.ip.clone(),
                _ => ip(&mut rng),
            };
            order.signals = OrderSignals {
                referral_code: None,
                browser_ip: Some(ip),
                device: Some(home.device.clone()),
                shipping_address: Some(home.address.clone()),
                payment_fingerprint: (order.financial_status != FinancialStatus::Pending)
                    .then(|| home.card.clone()),
            };
        }
    }

    // Share-link visits: a few friends left their email (newsletter readers who have not
    // bought), the rest looked and left.
    let prospects: Vec<usize> = (0..n).filter(|&c| orders_of[c].is_empty()).collect();
    let mut landings = Vec::new();
    let signups = if friends.len() >= 100 { 3 } else { 2 };
    let mut signed: HashSet<usize> = HashSet::new();
    for k in 0..signups + 6 {
        let a = *one_of(&mut rng, if light.is_empty() { &advocates } else { &light });
        let email = if k < signups && !prospects.is_empty() {
            let p = *one_of(&mut rng, &prospects);
            signed
                .insert(p)
                .then(|| data.customers[p].email.clone())
                .flatten()
        } else {
            None
        };
        cases.landings += usize::from(email.is_some());
        landings.push(Landing {
            advocate: external(a),
            email,
            ip: ip(&mut rng),
            device: device(&mut rng),
        });
    }

    let mut referred: Vec<ReferredOrder> = referred
        .into_iter()
        .map(|(o, advocate, via)| ReferredOrder {
            order: data.orders[o].external_id.clone(),
            advocate,
            via,
        })
        .collect();
    // In the order the shop receives them (the hostel's moved to the end).
    data.orders.sort_by_key(|o| o.placed_at.0);
    let position: HashMap<&str, usize> = data
        .orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.external_id.as_str(), i))
        .collect();
    referred.sort_by_key(|r| position[r.order.as_str()]);

    DemoReferrals {
        advocates: advocates.iter().map(|&a| external(a)).collect(),
        partners: partners
            .iter()
            .map(|(a, t)| DemoPartner {
                customer: external(*a),
                basis_points: t.basis_points,
                all_orders: t.all_orders,
                period_days: t.period_days,
                note: t.note.to_string(),
                payout_reference: t.payout_reference.map(str::to_string),
            })
            .collect(),
        referred,
        refunds,
        landings,
        cases,
    }
}

const RETURN_REASONS: &[&str] = &[
    "changed their mind",
    "ordered the wrong size",
    "gift not needed after all",
];

struct PartnerTerms {
    basis_points: i64,
    all_orders: bool,
    period_days: Option<i64>,
    note: &'static str,
    payout_reference: Option<&'static str>,
}

/// The partners a shop of the region would invite: a food blogger, a yoga studio, a supper club.
fn partner_terms(region: Region) -> Vec<PartnerTerms> {
    match region {
        Region::India => vec![
            PartnerTerms {
                basis_points: 1_000,
                all_orders: true,
                period_days: Some(180),
                note: "फ़ूड ब्लॉगर, लखनऊ — इंस्टाग्राम पर हमारी मसाला चाय की रेसिपी",
                payout_reference: Some("NEFT SBIN425118830041"),
            },
            PartnerTerms {
                basis_points: 500,
                all_orders: false,
                period_days: None,
                note: "యోగా స్టూడియో, హైదరాబాద్ — సభ్యులకు మా తులసి టీ",
                payout_reference: None,
            },
        ],
        Region::Armenia => vec![PartnerTerms {
            basis_points: 800,
            all_orders: true,
            period_days: Some(365),
            note: "Սննդի բլոգեր, Երևան — հայկական խոհանոցի տեսանյութեր",
            payout_reference: Some("Ameriabank 1570-0042"),
        }],
        Region::International => vec![PartnerTerms {
            basis_points: 1_000,
            all_orders: false,
            period_days: None,
            note: "Supper club host in Brooklyn: brings friends to every tasting",
            payout_reference: Some("ACH 2025-118"),
        }],
    }
}

/// An index drawn with the given weights; `None` when they are all zero.
fn weighted_index(rng: &mut impl Rng, weights: &[u32]) -> Option<usize> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return None;
    }
    let mut roll = rng.gen_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if roll < u64::from(w) {
            return Some(i);
        }
        roll -= u64::from(w);
    }
    None
}

/// An address in the carrier-grade NAT range (100.64.0.0/10), as mobile and many home
/// connections reach a shop.
fn ip(rng: &mut impl Rng) -> String {
    format!(
        "100.{}.{}.{}",
        rng.gen_range(64..128),
        rng.gen_range(0..256),
        rng.gen_range(1..255)
    )
}

/// A browser's session id as a shop's checkout reports it.
fn device(rng: &mut impl Rng) -> String {
    format!("sess-{:016x}", rng.gen::<u64>())
}

fn household(region: Region, rng: &mut impl Rng) -> Household {
    let (line, postal, country) = match region {
        Region::India => {
            let (street, base) = *one_of(
                rng,
                &[
                    ("Road No. 12, Banjara Hills", 500_034),
                    ("MG Road", 560_001),
                    ("Gomti Nagar", 226_010),
                    ("Malviya Nagar", 302_017),
                    ("Benz Circle", 520_010),
                    ("Dwaraka Nagar", 530_016),
                    ("Andheri Kurla Road", 400_059),
                    ("Lajpat Nagar", 110_024),
                ],
            );
            (
                format!(
                    "Flat {}, {} {street}",
                    rng.gen_range(101..905),
                    rng.gen_range(1..400)
                ),
                (base + rng.gen_range(0..6)).to_string(),
                "IN",
            )
        }
        Region::Armenia => {
            let street = *one_of(
                rng,
                &[
                    "Abovyan St",
                    "Tumanyan St",
                    "Mashtots Ave",
                    "Komitas Ave",
                    "Baghramyan Ave",
                    "Sayat-Nova Ave",
                    "Aram St",
                ],
            );
            (
                format!("{} {street}, apt {}", rng.gen_range(1..120), rng.gen_range(1..80)),
                format!("{:04}", rng.gen_range(1..100) * 10),
                "AM",
            )
        }
        Region::International => {
            let (street, zip) = *one_of(
                rng,
                &[
                    ("Atlantic Ave", 11_217),
                    ("Court St", 11_201),
                    ("Bedford Ave", 11_211),
                    ("Newark Ave", 7_302),
                    ("Brand Blvd", 91_203),
                    ("Oak Tree Rd", 8_820),
                    ("Beacon St", 2_116),
                ],
            );
            (
                format!("{} {street} Apt {}", rng.gen_range(1..900), rng.gen_range(1..40)),
                format!("{zip:05}"),
                "US",
            )
        }
    };
    let (brand, bin) = *one_of(
        rng,
        match region {
            Region::India => &[("rupay", "607153"), ("visa", "421653"), ("mastercard", "524193")],
            Region::Armenia => &[("arca", "900300"), ("visa", "404147"), ("mastercard", "545762")],
            Region::International => &[("visa", "414720"), ("mastercard", "542418"), ("amex", "371449")],
        },
    );
    Household {
        address: address_key(&line, &postal, country).expect("demo addresses are long enough"),
        ip: ip(rng),
        device: device(rng),
        card: format!("{brand}:{bin}:{:04}", rng.gen_range(0..10_000)),
    }
}

/// The email of a second account: one character off (a `.` made `_`, or a digit added), and
/// nobody's address yet.
fn near_email(email: &Email, taken: &HashSet<String>) -> Option<Email> {
    let (local, domain) = email.as_str().split_once('@')?;
    let candidates = [
        local.replacen('.', "_", 1),
        format!("{local}1"),
        format!("{local}7"),
    ];
    candidates
        .into_iter()
        .filter(|l| l != local && l.chars().count() >= 5)
        .map(|l| format!("{l}@{domain}"))
        .find(|e| !taken.contains(e))
        .and_then(|e| Email::parse(&e).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{demo_dataset, demo_stores};

    fn planned(store: usize) -> (DemoData, DemoReferrals) {
        let spec = &demo_stores()[store];
        let now = Timestamp::parse_rfc3339("2026-05-15T12:00:00+05:30").unwrap();
        let mut data = demo_dataset(spec, now);
        let plan = demo_referrals(spec, now, &mut data, 1_000);
        (data, plan)
    }

    #[test]
    fn every_store_has_each_case_and_the_same_plan_every_time() {
        for store in 0..3 {
            let (data, plan) = planned(store);
            let c = &plan.cases;
            assert!(c.friends >= 30, "store {store}: {c:?}");
            assert!(
                c.same_address >= 1 && c.shared_connection >= 4 && c.returned >= 2,
                "{c:?}"
            );
            assert_eq!(
                (
                    c.similar_email,
                    c.same_payment,
                    c.existing_customer,
                    c.self_referral
                ),
                (1, 1, 1, 1),
                "{c:?}"
            );
            assert!(c.partners >= 1 && c.landings >= 2, "{c:?}");
            assert_eq!(plan.referred.len(), c.friends + 2);
            assert_eq!(plan.refunds.len(), c.returned);
            let again = planned(store);
            assert_eq!((&again.0, &again.1), (&data, &plan));
            assert!(data.orders.windows(2).all(|w| w[0].placed_at <= w[1].placed_at));
            // The hostel: one connection shared by several customers, all in the last day.
            let mut by_ip: HashMap<&str, HashSet<&str>> = HashMap::new();
            for o in &data.orders {
                if let (Some(ip), Some(c)) = (&o.signals.browser_ip, &o.customer) {
                    let email = c.email.as_ref().map_or("", |e| e.as_str());
                    by_ip.entry(ip.as_str()).or_default().insert(email);
                }
            }
            let crowded: Vec<&str> = by_ip
                .iter()
                .filter(|(_, c)| c.len() >= 3)
                .map(|(ip, _)| *ip)
                .collect();
            assert_eq!(crowded.len(), 1, "store {store}");
            assert_eq!(by_ip[crowded[0]].len(), c.shared_connection);
            let last = data.orders.last().unwrap().placed_at.0;
            assert!(data
                .orders
                .iter()
                .filter(|o| o.signals.browser_ip.as_deref() == Some(crowded[0]))
                .all(|o| o.placed_at.0 > last - DAY));
        }
    }

    #[test]
    fn advocates_stay_under_the_velocity_rule_and_one_reaches_the_milestone() {
        for store in 0..3 {
            let (_, plan) = planned(store);
            let mut per: HashMap<&str, usize> = HashMap::new();
            for r in &plan.referred {
                *per.entry(r.advocate.as_str()).or_default() += 1;
            }
            for l in plan.landings.iter().filter(|l| l.email.is_some()) {
                *per.entry(l.advocate.as_str()).or_default() += 1;
            }
            assert!(per.values().all(|&n| n <= 10), "store {store}: {per:?}");
            let top = &plan.advocates[0];
            assert!(
                per[top.as_str()] >= 5,
                "store {store}: the busiest advocate has {}",
                per[top.as_str()]
            );
            assert!(plan.partners.iter().all(|p| &p.customer != top));
        }
    }

    #[test]
    fn referred_orders_are_priced_with_the_friends_discount_and_carry_signals() {
        let (data, plan) = planned(0);
        for r in &plan.referred {
            let o = data.orders.iter().find(|o| o.external_id == r.order).unwrap();
            o.validate().unwrap();
            assert!(o.marketplace.is_none());
            let lines: i64 = o.line_items.iter().map(|l| l.discount).sum();
            assert_eq!(lines, o.discount_total);
            assert_eq!(
                o.total,
                o.subtotal - o.discount_total + o.shipping_total + o.tax_total
            );
            if r.via == CodeVia::DiscountCode {
                assert!(o.discount_codes.is_empty(), "the code is put on when it is known");
                assert!(o.refunds.is_empty());
                let expected = (o.subtotal * 1_000 / 10_000).min(o.subtotal / 2);
                assert!(
                    (o.discount_total - expected).abs() <= 1,
                    "{} vs {expected}",
                    o.discount_total
                );
            }
            assert!(o.signals.browser_ip.is_some() && o.signals.shipping_address.is_some());
        }
        let own = data.orders.iter().filter(|o| o.marketplace.is_none());
        assert!(own.clone().all(|o| o.signals.device.is_some()));
        assert!(data
            .orders
            .iter()
            .filter(|o| o.marketplace.is_some())
            .all(|o| o.signals.is_empty()));
        for (id, refund) in &plan.refunds {
            let o = data.orders.iter().find(|o| &o.external_id == id).unwrap();
            assert_eq!(refund.amount, o.total);
            assert!(refund.created_at.0 < o.placed_at.0 + 14 * DAY);
        }
    }

    #[test]
    fn a_second_account_is_one_character_off() {
        let email = Email::parse("priya.sharma42@example.in").unwrap();
        let near = near_email(&email, &HashSet::new()).unwrap();
        assert_eq!(near.as_str(), "priya_sharma42@example.in");
        let taken = HashSet::from(["priya_sharma42@example.in".to_string()]);
        assert_eq!(
            near_email(&email, &taken).unwrap().as_str(),
            "priya.sharma421@example.in"
        );
    }

    #[test]
    fn every_friend_who_bought_names_an_advocate_on_the_first_order() {
        for store in 0..3 {
            let (data, plan) = planned(store);
            let referred: HashSet<&str> = plan.referred.iter().map(|r| r.order.as_str()).collect();
            let opened = data.orders[0].placed_at.0;
            let mut friends = 0;
            for c in data
                .customers
                .iter()
                .filter(|c| c.acquisition_channel.as_deref() == Some("referral"))
            {
                let first = data
                    .orders
                    .iter()
                    .find(|o| o.customer.as_ref().and_then(|r| r.email.as_ref()) == c.email.as_ref());
                let Some(first) = first else { continue };
                if referred.contains(first.external_id.as_str()) {
                    friends += 1;
                } else {
                    // Only the shop's first weeks had nobody who could have told them.
                    assert!(first.placed_at.0 < opened + 60 * DAY, "{:?}", c.external_id);
                }
            }
            assert_eq!(friends, plan.cases.friends, "store {store}");
        }
    }
}
