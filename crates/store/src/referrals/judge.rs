//! The fraud rules' facts, gathered for many arrivals at once: a batch of orders costs a handful
//! of queries whatever the number of referred orders in it.
//!
//! Bursts and velocity count around each arrival's own time, not the clock's, so orders that
//! arrive late (imports, retried webhooks) are judged as they happened.

use std::collections::{HashMap, HashSet};

use regulars_domain::referral::{assess, Facts, Finding, FraudRule, ReferralProgram};
use regulars_domain::{StoreId, Timestamp};
use sea_query::{Expr, Query};

use super::attribution::OrderFacts;
use super::signals;
use super::{OrderSignals, ReferralVisits, Referrals};
use crate::loyalty::{local_date, local_day_start};
use crate::schema::{Customers, Orders};
use crate::{StoreError, StoreRecord, Tx, CHUNK};

/// One arrival to judge.
pub(crate) struct Judged<'a> {
    pub advocate: &'a str,
    pub friend: &'a str,
    pub order: Option<&'a OrderFacts>,
    pub ip_hash: Option<&'a str>,
    pub device_hash: Option<&'a str>,
    /// When the friend arrived: orders before it make them an existing customer, and bursts
    /// and velocity are counted around it.
    pub arrived_at: i64,
    /// A referral about to be created: it counts itself, and the batch's earlier new ones, in
    /// the burst and velocity figures (as if they had been written one by one).
    pub new: bool,
}

/// The findings of every arrival, in order.
pub(crate) async fn judge_all(
    tx: &mut Tx,
    store: &StoreRecord,
    program: &ReferralProgram,
    items: &[Judged<'_>],
) -> Result<Vec<Vec<Finding>>, StoreError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let rules = &program.fraud;
    let contacts = contacts(tx, store.id, items).await?;
    let friend_hashes = friend_hashes(tx, store.id, items).await?;
    let advocate_used = advocates_used(tx, store.id, items, &friend_hashes).await?;
    let friend_orders = friend_orders(tx, store.id, items).await?;

    let burst = i64::from(rules.burst_hours) * 3_600_000;
    let lo = items.iter().map(|j| j.arrived_at).min().unwrap_or(0) - burst;
    let hi = items.iter().map(|j| j.arrived_at).max().unwrap_or(0) + burst;
    let by_ip = Seen::read(
        tx,
        store.id,
        Referrals::IpHash,
        ReferralVisits::IpHash,
        items,
        |j| j.ip_hash,
        lo,
        hi,
    )
    .await?;
    let by_device = Seen::read(
        tx,
        store.id,
        Referrals::DeviceHash,
        ReferralVisits::DeviceHash,
        items,
        |j| j.device_hash,
        lo,
        hi,
    )
    .await?;

    let period = |at: i64| {
        rules
            .velocity_period
            .start(local_date(Timestamp(at), &store.timezone))
    };
    let earliest_period = items
        .iter()
        .map(|j| period(j.arrived_at))
        .min()
        .expect("items is not empty");
    let by_advocate = advocate_times(
        tx,
        store.id,
        items,
        local_day_start(earliest_period, &store.timezone).0,
    )
    .await?;

    let near = |t: i64, at: i64| (t - at).abs() <= burst;
    let mut out = Vec::with_capacity(items.len());
    for (i, j) in items.iter().enumerate() {
        // The batch's earlier new referrals, not stored yet, count as if they were.
        let earlier_new = items[..i].iter().filter(|e| e.new);
        let own = i64::from(j.new);
        let same_ip_recent = by_ip.burst(items, i, |e| e.ip_hash, near);
        let same_device_recent = by_device.burst(items, i, |e| e.device_hash, near);
        let this_period = period(j.arrived_at);
        let in_period = |at: i64| period(at) == this_period;
        let advocate_recent = by_advocate
            .get(j.advocate)
            .map_or(0, |ts| ts.iter().filter(|t| in_period(**t)).count() as i64)
            + earlier_new
                .filter(|e| e.advocate == j.advocate && in_period(e.arrived_at))
                .count() as i64
            + own;

        let shares = |kind: &'static str| {
            j.advocate != j.friend
                && friend_hashes_of(j, kind, &friend_hashes)
                    .iter()
                    .any(|h| advocate_used.contains(&(j.advocate.to_string(), kind, h.clone())))
        };
        let earlier_orders = friend_orders.get(j.friend).map_or(0, |orders| {
            orders
                .iter()
                .filter(|(id, placed_at)| *placed_at < j.arrived_at && j.order.is_none_or(|o| o.id != *id))
                .count() as i64
        });
        let none = (None, None);
        let (a_email, a_phone) = contacts.get(j.advocate).unwrap_or(&none);
        let (f_email, f_phone) = contacts.get(j.friend).unwrap_or(&none);
        let facts = Facts {
            same_customer: j.advocate == j.friend,
            advocate_email: a_email.as_deref(),
            friend_email: f_email.as_deref(),
            advocate_phone: a_phone.as_deref(),
            friend_phone: f_phone.as_deref(),
            shared_address: shares(signals::ADDRESS),
            shared_payment: shares(signals::PAYMENT),
            earlier_orders,
            same_ip_recent,
            same_device_recent,
            advocate_recent,
        };
        let mut findings = assess(rules, &facts);
        // The same person twice is one finding, not three.
        if facts.same_customer {
            findings.retain(|f| matches!(f.rule, FraudRule::SelfReferral));
        }
        out.push(findings);
    }
    Ok(out)
}

type Contacts = HashMap<String, (Option<String>, Option<String>)>;

async fn contacts(tx: &mut Tx, store: StoreId, items: &[Judged<'_>]) -> Result<Contacts, StoreError> {
    let ids = distinct(items.iter().flat_map(|j| [j.advocate, j.friend]));
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let q = Query::select()
            .columns([Customers::Id, Customers::Email, Customers::Phone])
            .from(Customers::Table)
            .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Customers::Id).is_in(chunk.iter().copied()))
            .to_owned();
        for (id, email, phone) in tx
            .fetch_all::<(String, Option<String>, Option<String>)>(&q)
            .await?
        {
            out.insert(id, (email, phone));
        }
    }
    Ok(out)
}

/// The address and card hashes of friends arriving without an order (by the link): every
/// order of theirs counts. Keyed by (friend, kind).
type FriendHashes = HashMap<(String, &'static str), Vec<String>>;

async fn friend_hashes(
    tx: &mut Tx,
    store: StoreId,
    items: &[Judged<'_>],
) -> Result<FriendHashes, StoreError> {
    let ids = distinct(items.iter().filter(|j| j.order.is_none()).map(|j| j.friend));
    let mut out: FriendHashes = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let q = Query::select()
            .columns([
                OrderSignals::CustomerId,
                OrderSignals::Kind,
                OrderSignals::ValueHash,
            ])
            .from(OrderSignals::Table)
            .and_where(Expr::col(OrderSignals::StoreId).eq(store.to_string()))
            .and_where(Expr::col(OrderSignals::CustomerId).is_in(chunk.iter().copied()))
            .and_where(Expr::col(OrderSignals::Kind).is_in([signals::ADDRESS, signals::PAYMENT]))
            .to_owned();
        for (customer, kind, hash) in tx.fetch_all::<(String, String, String)>(&q).await? {
            let kind = if kind == signals::ADDRESS {
                signals::ADDRESS
            } else {
                signals::PAYMENT
            };
            out.entry((customer, kind)).or_default().push(hash);
        }
    }
    Ok(out)
}

/// The friend's own address or card hashes: this order's, or (arriving by link) any order's.
fn friend_hashes_of(j: &Judged<'_>, kind: &'static str, by_link: &FriendHashes) -> Vec<String> {
    match j.order {
        Some(o) => o
            .hashes
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, h)| h.clone())
            .collect(),
        None => by_link
            .get(&(j.friend.to_string(), kind))
            .cloned()
            .unwrap_or_default(),
    }
}

/// Which of the friends' address and card hashes an advocate's orders used:
/// (advocate, kind, hash).
async fn advocates_used(
    tx: &mut Tx,
    store: StoreId,
    items: &[Judged<'_>],
    by_link: &FriendHashes,
) -> Result<HashSet<(String, &'static str, String)>, StoreError> {
    let mut out = HashSet::new();
    for kind in [signals::ADDRESS, signals::PAYMENT] {
        let hashes = distinct_owned(
            items
                .iter()
                .filter(|j| j.advocate != j.friend)
                .flat_map(|j| friend_hashes_of(j, kind, by_link)),
        );
        let advocates = distinct(items.iter().map(|j| j.advocate));
        for hashes in hashes.chunks(CHUNK) {
            for advocates in advocates.chunks(CHUNK) {
                let q = Query::select()
                    .columns([OrderSignals::CustomerId, OrderSignals::ValueHash])
                    .from(OrderSignals::Table)
                    .and_where(Expr::col(OrderSignals::StoreId).eq(store.to_string()))
                    .and_where(Expr::col(OrderSignals::Kind).eq(kind))
                    .and_where(Expr::col(OrderSignals::ValueHash).is_in(hashes.iter().map(String::as_str)))
                    .and_where(Expr::col(OrderSignals::CustomerId).is_in(advocates.iter().copied()))
                    .to_owned();
                for (customer, hash) in tx.fetch_all::<(String, String)>(&q).await? {
                    out.insert((customer, kind, hash));
                }
            }
        }
    }
    Ok(out)
}

/// The friends' orders that are not cancelled: (id, placed_at) by friend.
async fn friend_orders(
    tx: &mut Tx,
    store: StoreId,
    items: &[Judged<'_>],
) -> Result<HashMap<String, Vec<(String, i64)>>, StoreError> {
    let ids = distinct(items.iter().map(|j| j.friend));
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let q = Query::select()
            .columns([Orders::CustomerId, Orders::Id, Orders::PlacedAt])
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Orders::CustomerId).is_in(chunk.iter().copied()))
            .and_where(Expr::col(Orders::CancelledAt).is_null())
            .to_owned();
        for (customer, id, placed_at) in tx.fetch_all::<(String, String, i64)>(&q).await? {
            out.entry(customer).or_default().push((id, placed_at));
        }
    }
    Ok(out)
}

/// What was seen of one kind of signal (IP address or device) around the batch's arrivals:
/// when referrals carrying each hash arrived, and which share links each hash landed on.
struct Seen {
    referrals: HashMap<String, Vec<i64>>,
    visits: HashMap<String, Vec<(String, i64)>>,
}

impl Seen {
    #[allow(clippy::too_many_arguments)]
    async fn read<'a>(
        tx: &mut Tx,
        store: StoreId,
        referral_col: Referrals,
        visit_col: ReferralVisits,
        items: &'a [Judged<'a>],
        hash: impl Fn(&'a Judged<'a>) -> Option<&'a str>,
        lo: i64,
        hi: i64,
    ) -> Result<Seen, StoreError> {
        Ok(Seen {
            referrals: referral_times(tx, store, referral_col, items.iter().filter_map(&hash), lo, hi)
                .await?,
            visits: visit_times(tx, store, visit_col, items.iter().filter_map(&hash), lo, hi).await?,
        })
    }

    /// The burst figure of item `i`: referrals with its hash near its arrival (stored, the
    /// batch's earlier new ones, and itself when new), or the distinct links its hash landed on
    /// near it, whichever is more. 0 without the signal.
    fn burst<'a>(
        &self,
        items: &'a [Judged<'a>],
        i: usize,
        hash: impl Fn(&'a Judged<'a>) -> Option<&'a str>,
        near: impl Fn(i64, i64) -> bool + Copy,
    ) -> i64 {
        let j = &items[i];
        let Some(h) = hash(j) else { return 0 };
        let stored = count_near(&self.referrals, h, j.arrived_at, near);
        // The batch's earlier new referrals, not stored yet, count as if they were.
        let batch = items[..i]
            .iter()
            .filter(|e| e.new && hash(e) == Some(h) && near(e.arrived_at, j.arrived_at))
            .count() as i64;
        (stored + batch + i64::from(j.new)).max(links_near(&self.visits, h, j.arrived_at, near))
    }
}

/// When referrals from each of these IP addresses or devices (`col`) arrived, within [lo, hi].
async fn referral_times<'a>(
    tx: &mut Tx,
    store: StoreId,
    col: Referrals,
    hashes: impl Iterator<Item = &'a str>,
    lo: i64,
    hi: i64,
) -> Result<HashMap<String, Vec<i64>>, StoreError> {
    let hashes = distinct(hashes);
    let mut out: HashMap<String, Vec<i64>> = HashMap::new();
    for chunk in hashes.chunks(CHUNK) {
        let q = Query::select()
            .column(col)
            .column(Referrals::CreatedAt)
            .from(Referrals::Table)
            .and_where(Expr::col(Referrals::StoreId).eq(store.to_string()))
            .and_where(Expr::col(col).is_in(chunk.iter().copied()))
            .and_where(Expr::col(Referrals::CreatedAt).between(lo, hi))
            .to_owned();
        for (hash, at) in tx.fetch_all::<(String, i64)>(&q).await? {
            out.entry(hash).or_default().push(at);
        }
    }
    Ok(out)
}

/// Landings on share links from each of these IP addresses or devices (`col`) within [lo, hi]:
/// (link's code, when) by hash.
async fn visit_times<'a>(
    tx: &mut Tx,
    store: StoreId,
    col: ReferralVisits,
    hashes: impl Iterator<Item = &'a str>,
    lo: i64,
    hi: i64,
) -> Result<HashMap<String, Vec<(String, i64)>>, StoreError> {
    let hashes = distinct(hashes);
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for chunk in hashes.chunks(CHUNK) {
        let q = Query::select()
            .column(col)
            .columns([ReferralVisits::Code, ReferralVisits::VisitedAt])
            .from(ReferralVisits::Table)
            .and_where(Expr::col(ReferralVisits::StoreId).eq(store.to_string()))
            .and_where(Expr::col(col).is_in(chunk.iter().copied()))
            .and_where(Expr::col(ReferralVisits::VisitedAt).between(lo, hi))
            .to_owned();
        for (hash, code, at) in tx.fetch_all::<(String, String, i64)>(&q).await? {
            out.entry(hash).or_default().push((code, at));
        }
    }
    Ok(out)
}

/// When each advocate's referrals arrived, from `since` on.
async fn advocate_times(
    tx: &mut Tx,
    store: StoreId,
    items: &[Judged<'_>],
    since: i64,
) -> Result<HashMap<String, Vec<i64>>, StoreError> {
    let advocates = distinct(items.iter().map(|j| j.advocate));
    let mut out: HashMap<String, Vec<i64>> = HashMap::new();
    for chunk in advocates.chunks(CHUNK) {
        let q = Query::select()
            .columns([Referrals::AdvocateId, Referrals::CreatedAt])
            .from(Referrals::Table)
            .and_where(Expr::col(Referrals::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Referrals::AdvocateId).is_in(chunk.iter().copied()))
            .and_where(Expr::col(Referrals::CreatedAt).gte(since))
            .to_owned();
        for (advocate, at) in tx.fetch_all::<(String, i64)>(&q).await? {
            out.entry(advocate).or_default().push(at);
        }
    }
    Ok(out)
}

fn count_near(
    times: &HashMap<String, Vec<i64>>,
    hash: &str,
    at: i64,
    near: impl Fn(i64, i64) -> bool,
) -> i64 {
    times
        .get(hash)
        .map_or(0, |ts| ts.iter().filter(|t| near(**t, at)).count() as i64)
}

/// The distinct share links one address or device landed on around `at` (one device cycling
/// many advocates' links is a burst even before any order).
fn links_near(
    visits: &HashMap<String, Vec<(String, i64)>>,
    hash: &str,
    at: i64,
    near: impl Fn(i64, i64) -> bool,
) -> i64 {
    visits.get(hash).map_or(0, |vs| {
        vs.iter()
            .filter(|(_, t)| near(*t, at))
            .map(|(code, _)| code.as_str())
            .collect::<HashSet<_>>()
            .len() as i64
    })
}

fn distinct<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(*id)).collect()
}

fn distinct_owned(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    values.filter(|v| seen.insert(v.clone())).collect()
}
