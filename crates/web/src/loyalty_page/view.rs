//! What the customer's page and widget show, in their language: the store's records turned
//! into words, figures and dates. Nothing here reads or writes the database.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use regulars_domain::loyalty::{Program, Tier, TierMetric};
use regulars_domain::{Currency, Discount, Timestamp};
use regulars_i18n::{format_date, format_fraction, format_money, format_number, text, text_with, Lang};
use regulars_store::{
    CouponRecord, CustomerRecord, MemberView, ProgramRecord, RedemptionRecord, RewardRecord, StoreRecord,
};

const DAY_MS: i64 = 86_400_000;
/// Rows of history the page shows.
const HISTORY_ROWS: usize = 20;
/// Coupons the page lists.
const COUPON_ROWS: usize = 20;
/// Rewards the widget shows.
const WIDGET_REWARDS: usize = 3;

/// Messages in the reader's language, for templates: `{{ t.get("loyalty-page-rewards") }}`.
#[derive(Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    pub fn get(&self, id: &str) -> String {
        text(self.0, id)
    }
}

/// Everything the page is made from, read in one go.
pub struct Gathered {
    pub store: StoreRecord,
    pub customer: CustomerRecord,
    pub program: ProgramRecord,
    pub member: MemberView,
    /// Every reward, active or not (history and coupons name retired ones too).
    pub rewards: Vec<RewardRecord>,
    /// The customer's redemptions, newest first.
    pub redemptions: Vec<RedemptionRecord>,
    pub coupons: Vec<CouponRecord>,
    /// What the "Refer a friend" section shows; `None` hides it.
    pub referral: Option<crate::referral_page::Referrer>,
    pub now: Timestamp,
}

pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

pub struct PointsView {
    pub available: String,
    /// What the available points are worth, when the program gives points a value.
    pub value: Option<String>,
    pub pending: Option<String>,
    pub pending_lines: Vec<String>,
    pub expiring: Option<String>,
    pub expiring_lines: Vec<String>,
    pub lifetime: String,
}

pub struct ProgressView {
    pub value: i64,
    pub max: i64,
    pub label: String,
}

pub struct TierView {
    pub name: Option<String>,
    pub progress: Option<ProgressView>,
    /// Whether the ladder has tiers at all.
    pub ladder: bool,
    pub top: bool,
    pub benefits: Vec<String>,
}

pub struct FormFields {
    pub nonce: String,
    pub proof: String,
}

pub struct RewardView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub offer: String,
    pub cost: String,
    /// Why it cannot be redeemed now; `None` when it can.
    pub blocked: Option<String>,
    /// The redeem form's fields, on the full page for rewards that can be redeemed.
    pub form: Option<FormFields>,
}

pub struct HistoryRow {
    pub date: String,
    pub label: String,
    pub points: String,
    pub gain: bool,
}

pub struct CouponView {
    pub code: String,
    pub reward: String,
    pub date: String,
    pub status: String,
    pub usable: bool,
    pub expires: Option<String>,
}

/// The answer to a redeem form, shown above the page.
pub struct Notice {
    pub ok: bool,
    pub message: String,
    pub code: Option<String>,
}

#[derive(Template)]
#[template(path = "loyalty_page.html")]
pub struct LoyaltyPage {
    pub t: Tr,
    pub lang_code: &'static str,
    pub title: String,
    pub store_name: String,
    pub languages: Vec<LangLink>,
    pub notice: Option<Notice>,
    pub program_on: bool,
    pub points: PointsView,
    pub tier: TierView,
    pub rewards: Vec<RewardView>,
    pub history: Vec<HistoryRow>,
    pub coupons: Vec<CouponView>,
    pub referral: Option<crate::referral_page::ShareSection>,
    pub redeem_action: String,
}

#[derive(Template)]
#[template(path = "loyalty_page_widget.html")]
pub struct LoyaltyWidget {
    pub t: Tr,
    pub lang_code: &'static str,
    pub store_name: String,
    pub program_on: bool,
    pub points: PointsView,
    pub tier: TierView,
    pub rewards: Vec<RewardView>,
    pub page_url: String,
}

#[derive(Template)]
#[template(path = "loyalty_page_message.html")]
pub struct LoyaltyMessage {
    pub lang_code: &'static str,
    pub heading: String,
    pub body: String,
}

/// The interface language for a locale tag, if we speak it.
pub fn lang_of(tag: Option<&str>) -> Option<Lang> {
    tag.and_then(Lang::from_tag)
}

/// A share in basis points as the reader writes it: `10%`, `12.5%`.
fn percent(lang: Lang, basis_points: i64) -> String {
    if basis_points % 100 == 0 {
        format!("{}%", format_number(lang, basis_points / 100, None))
    } else {
        format!("{}%", format_fraction(lang, basis_points as f64 / 100.0, 2))
    }
}

fn points(lang: Lang, n: i64) -> String {
    format_number(lang, n, None)
}

fn offer(lang: Lang, discount: &Discount, currency: Currency) -> String {
    match discount {
        Discount::Fixed { amount } => text_with(
            lang,
            "loyalty-page-offer-fixed",
            &[("amount", &format_money(lang, *amount, currency))],
        ),
        Discount::Percent { basis_points } => text_with(
            lang,
            "loyalty-page-offer-percent",
            &[("percent", &percent(lang, *basis_points))],
        ),
        Discount::FreeShipping => text(lang, "loyalty-page-offer-free-shipping"),
        Discount::FreeProduct { sku } => text_with(lang, "loyalty-page-offer-free-product", &[("sku", sku)]),
        Discount::Gift { description } => description.clone(),
    }
}

/// Points per local date in the store's time zone, soonest first.
fn by_date(lang: Lang, g: &Gathered, items: impl Iterator<Item = (i64, i64)>, message: &str) -> Vec<String> {
    let zone = g.store.timezone.0;
    let mut days: BTreeMap<chrono::NaiveDate, (Timestamp, i64)> = BTreeMap::new();
    for (at, n) in items {
        let day = Timestamp(at).to_datetime().with_timezone(&zone).date_naive();
        days.entry(day).or_insert((Timestamp(at), 0)).1 += n;
    }
    days.into_values()
        .map(|(at, n)| {
            let date = format_date(lang, at, zone);
            text_with(lang, message, &[("points", &points(lang, n)), ("date", &date)])
        })
        .collect()
}

pub fn points_view(lang: Lang, g: &Gathered) -> PointsView {
    let b = &g.member.balance;
    let program = &g.program.program;
    let now = g.now.0;
    let live = g
        .member
        .lots
        .iter()
        .filter(|l| l.expires_at.is_none_or(|e| e > now));
    let pending_lines = by_date(
        lang,
        g,
        live.clone()
            .filter(|l| l.available_from > now)
            .map(|l| (l.available_from, l.remaining)),
        "loyalty-page-pending-on",
    );
    let horizon = now + i64::from(program.expiry_warning_days) * DAY_MS;
    let expiring_lines = by_date(
        lang,
        g,
        live.filter_map(|l| l.expires_at.filter(|e| *e <= horizon).map(|e| (e, l.remaining))),
        "loyalty-page-expiring-on",
    );
    PointsView {
        available: points(lang, b.available),
        value: (program.value_per_100_points_minor > 0).then(|| {
            let worth = format_money(lang, program.points_value_minor(b.available), g.store.currency);
            text_with(lang, "loyalty-page-worth", &[("value", &worth)])
        }),
        pending: (b.pending > 0).then(|| points(lang, b.pending)),
        pending_lines,
        expiring: (b.expiring_soon > 0).then(|| points(lang, b.expiring_soon)),
        expiring_lines,
        lifetime: text_with(
            lang,
            "loyalty-page-lifetime",
            &[("points", &points(lang, b.lifetime_earned))],
        ),
    }
}

fn benefits(lang: Lang, tier: &Tier, rewards: &[RewardRecord]) -> Vec<String> {
    let b = &tier.benefits;
    let mut out = Vec::new();
    // Only more than the usual is a benefit.
    if b.earn_percent > 100 {
        let factor = if b.earn_percent % 100 == 0 {
            format_number(lang, b.earn_percent / 100, None)
        } else {
            format_fraction(lang, b.earn_percent as f64 / 100.0, 2)
        };
        out.push(text_with(
            lang,
            "loyalty-page-benefit-earn",
            &[("factor", &factor)],
        ));
    }
    if let Some(bp) = b.discount_bp.filter(|bp| *bp > 0) {
        out.push(text_with(
            lang,
            "loyalty-page-benefit-discount",
            &[("percent", &percent(lang, bp))],
        ));
    }
    if b.free_shipping {
        out.push(text(lang, "loyalty-page-benefit-free-shipping"));
    }
    if let Some(bp) = b.birthday_discount_bp.filter(|bp| *bp > 0) {
        out.push(text_with(
            lang,
            "loyalty-page-benefit-birthday",
            &[("percent", &percent(lang, bp))],
        ));
    }
    if b.early_access {
        out.push(text(lang, "loyalty-page-benefit-early-access"));
    }
    if let Some(gift) = b
        .gift_reward_id
        .as_deref()
        .and_then(|id| rewards.iter().find(|r| r.id == id))
    {
        out.push(text_with(
            lang,
            "loyalty-page-benefit-gift",
            &[("reward", &gift.input.name)],
        ));
    }
    out
}

pub fn tier_view(lang: Lang, g: &Gathered) -> TierView {
    let ladder = &g.program.program.tiers;
    let m = &g.member;
    let floor = m.tier.as_ref().map(|t| t.threshold).unwrap_or(0);
    let progress = m.next_tier.as_ref().map(|next| {
        let missing = m.missing_for_next.unwrap_or(next.threshold - m.measure).max(0);
        let label = match ladder.metric {
            TierMetric::PointsEarned => text_with(
                lang,
                "loyalty-page-progress-points",
                &[("missing", &points(lang, missing)), ("tier", &next.name)],
            ),
            TierMetric::MoneySpent => text_with(
                lang,
                "loyalty-page-progress-spend",
                &[
                    ("missing", &format_money(lang, missing, g.store.currency)),
                    ("tier", &next.name),
                ],
            ),
        };
        let max = (next.threshold - floor).max(1);
        ProgressView {
            value: (m.measure - floor).clamp(0, max),
            max,
            label,
        }
    });
    TierView {
        name: m.tier.as_ref().map(|t| t.name.clone()),
        ladder: !ladder.levels.is_empty(),
        top: m.tier.is_some() && m.next_tier.is_none(),
        benefits: m
            .tier
            .as_ref()
            .map(|t| benefits(lang, t, &g.rewards))
            .unwrap_or_default(),
        progress,
    }
}

/// Why the customer cannot redeem `reward` now, in their words; `None` when they can. The
/// store checks all of this again when they redeem.
fn blocked(lang: Lang, g: &Gathered, program: &Program, reward: &RewardRecord) -> Option<String> {
    if !program.enabled {
        return Some(text(lang, "loyalty-page-blocked-paused"));
    }
    if let Some(min) = reward.input.min_tier.as_deref() {
        let theirs = g.member.tier.as_ref().map(|t| t.id.as_str());
        let reaches = theirs == Some(min) || program.tiers.is_promotion(Some(min), theirs);
        if !reaches {
            let name = program.tiers.get(min).map(|t| t.name.as_str()).unwrap_or(min);
            return Some(text_with(lang, "loyalty-page-blocked-tier", &[("tier", name)]));
        }
    }
    if reward.input.stock.is_some_and(|s| s <= 0) {
        return Some(text(lang, "loyalty-page-blocked-stock"));
    }
    if let Some(limit) = reward.input.per_customer_limit {
        let taken = g
            .redemptions
            .iter()
            .filter(|r| r.reward_id == reward.id && r.cause == "points")
            .count() as i64;
        if taken >= limit {
            return Some(text(lang, "loyalty-page-blocked-limit"));
        }
    }
    let missing = reward.input.points_cost - g.member.balance.available;
    if missing > 0 {
        return Some(text_with(
            lang,
            "loyalty-page-blocked-points",
            &[("points", &points(lang, missing))],
        ));
    }
    None
}

/// The active rewards: those the customer can redeem first (cheapest first), then the rest.
/// `form` makes the fields of a redeem form for a reward that can be redeemed.
pub fn rewards_view(lang: Lang, g: &Gathered, mut form: impl FnMut() -> FormFields) -> Vec<RewardView> {
    let program = &g.program.program;
    let mut out: Vec<RewardView> = g
        .rewards
        .iter()
        .filter(|r| r.input.active)
        .map(|r| {
            let blocked = blocked(lang, g, program, r);
            RewardView {
                id: r.id.clone(),
                name: r.input.name.clone(),
                description: r.input.description.clone().filter(|d| !d.trim().is_empty()),
                offer: offer(lang, &r.input.discount, g.store.currency),
                cost: text_with(
                    lang,
                    "loyalty-page-cost",
                    &[("points", &points(lang, r.input.points_cost))],
                ),
                form: blocked.is_none().then(&mut form),
                blocked,
            }
        })
        .collect();
    // Stable: within each group the store's order (cheapest first) stays.
    out.sort_by_key(|r| r.blocked.is_some());
    out
}

pub fn widget_rewards(lang: Lang, g: &Gathered) -> Vec<RewardView> {
    let mut all = rewards_view(lang, g, || FormFields {
        nonce: String::new(),
        proof: String::new(),
    });
    all.truncate(WIDGET_REWARDS);
    // The widget links to the page; it never redeems itself.
    for r in &mut all {
        r.form = None;
    }
    all
}

fn reward_name(rewards: &[RewardRecord], id: Option<&str>) -> Option<String> {
    id.and_then(|id| rewards.iter().find(|r| r.id == id))
        .map(|r| r.input.name.clone())
}

pub fn history_view(lang: Lang, g: &Gathered) -> Vec<HistoryRow> {
    let zone = g.store.timezone.0;
    g.member
        .history
        .iter()
        .filter(|e| e.signed_points() != 0)
        .take(HISTORY_ROWS)
        .map(|e| {
            let signed = e.signed_points();
            let mut label = text(lang, &format!("loyalty-page-kind-{}", e.kind));
            if let Some(name) = reward_name(&g.rewards, e.reward_id.as_deref()) {
                label = format!("{label}: {name}");
            }
            HistoryRow {
                date: format_date(lang, Timestamp(e.created_at), zone),
                label,
                points: format!(
                    "{}{}",
                    if signed > 0 { "+" } else { "−" },
                    points(lang, signed.abs())
                ),
                gain: signed > 0,
            }
        })
        .collect()
}

pub fn coupons_view(lang: Lang, g: &Gathered) -> Vec<CouponView> {
    let zone = g.store.timezone.0;
    let by_code: HashMap<&str, &CouponRecord> = g.coupons.iter().map(|c| (c.code.as_str(), c)).collect();
    g.redemptions
        .iter()
        .filter_map(|r| r.coupon_code.as_deref().map(|code| (r, code)))
        .take(COUPON_ROWS)
        .map(|(r, code)| {
            let coupon = by_code.get(code);
            let status = coupon.map(|c| c.status.as_str()).unwrap_or("active");
            CouponView {
                code: code.to_string(),
                reward: reward_name(&g.rewards, Some(&r.reward_id)).unwrap_or_default(),
                date: format_date(lang, Timestamp(r.created_at), zone),
                status: text(lang, &format!("loyalty-page-coupon-{status}")),
                usable: status == "active",
                expires: coupon.and_then(|c| c.expires_at).map(|at| {
                    text_with(
                        lang,
                        "loyalty-page-coupon-expires",
                        &[("date", &format_date(lang, at, zone))],
                    )
                }),
            }
        })
        .collect()
}

/// The "Refer a friend" section, when the customer has a code to share.
pub fn referral_view(lang: Lang, g: &Gathered) -> Option<crate::referral_page::ShareSection> {
    let referrer = g.referral.as_ref()?;
    Some(crate::referral_page::share_section(
        lang, referrer, &g.store, &g.rewards,
    ))
}

/// Links to the same page in each language.
pub fn languages(lang: Lang, base: &str) -> Vec<LangLink> {
    Lang::ALL
        .into_iter()
        .map(|l| LangLink {
            code: l.code(),
            name: l.native_name(),
            href: format!("{base}?lang={}", l.code()),
            current: l == lang,
        })
        .collect()
}
