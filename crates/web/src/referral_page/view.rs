//! What the referral pages show, in the reader's language: the "Refer a friend" section of the
//! customer's loyalty page, the friend's landing page and the partner page. Nothing here reads
//! or writes the database.

use askama::Template;
use regulars_domain::referral::{ReferralProgram, ReferralReward};
use regulars_domain::{Currency, Discount};
use regulars_i18n::{format_date, format_fraction, format_money, format_number, text, text_with, Lang};
use regulars_store::{
    CommissionRecord, CommissionStatus, PartnerScope, PartnerSummary, PayoutRecord, RewardRecord, StoreRecord,
};

use super::share;

/// Messages in the reader's language, for templates: `{{ t.get("referral-page-copy") }}`.
#[derive(Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    pub fn get(&self, id: &str) -> String {
        text(self.0, id)
    }
}

pub struct LangLink {
    pub code: &'static str,
    pub name: &'static str,
    pub href: String,
    pub current: bool,
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

/// A share in basis points as the reader writes it: `10%`, `12.5%`.
pub fn percent(lang: Lang, basis_points: i64) -> String {
    if basis_points % 100 == 0 {
        format!("{}%", format_number(lang, basis_points / 100, None))
    } else {
        format!("{}%", format_fraction(lang, basis_points as f64 / 100.0, 2))
    }
}

/// What a discount gives, as a phrase: `10% off`, `₹100.00 off`, `free shipping`.
pub fn offer(lang: Lang, discount: &Discount, currency: Currency) -> String {
    match discount {
        Discount::Fixed { amount } => text_with(
            lang,
            "referral-page-offer-fixed",
            &[("amount", &format_money(lang, *amount, currency))],
        ),
        Discount::Percent { basis_points } => text_with(
            lang,
            "referral-page-offer-percent",
            &[("percent", &percent(lang, *basis_points))],
        ),
        Discount::FreeShipping => text(lang, "referral-page-offer-free-shipping"),
        Discount::FreeProduct { sku } => text_with(lang, "referral-page-offer-free-product", &[("sku", sku)]),
        Discount::Gift { description } => description.clone(),
    }
}

/// What the advocate gets, as a phrase: `500 points`, `a coupon for 10% off`, a reward's name.
fn advocate_reward(
    lang: Lang,
    reward: &ReferralReward,
    currency: Currency,
    rewards: &[RewardRecord],
) -> String {
    match reward {
        ReferralReward::Points { points } => text_with(
            lang,
            "referral-page-reward-points",
            &[("points", &format_number(lang, *points, None))],
        ),
        ReferralReward::Coupon { discount, .. } => text_with(
            lang,
            "referral-page-reward-coupon",
            &[("offer", &offer(lang, discount, currency))],
        ),
        ReferralReward::Gift { reward_id } => match rewards.iter().find(|r| &r.id == reward_id) {
            Some(r) => text_with(lang, "referral-page-reward-gift", &[("reward", &r.input.name)]),
            None => text(lang, "referral-page-reward-gift-unnamed"),
        },
    }
}

/// "Your friend gets 10% off on their first order", with the minimum spend when there is one.
fn friend_gets(lang: Lang, program: &ReferralProgram, currency: Currency) -> String {
    let offer = offer(lang, &program.friend_discount, currency);
    if program.friend_minimum_spend > 0 {
        let minimum = format_money(lang, program.friend_minimum_spend, currency);
        text_with(
            lang,
            "referral-page-friend-gets-minimum",
            &[("offer", &offer), ("minimum", &minimum)],
        )
    } else {
        text_with(lang, "referral-page-friend-gets", &[("offer", &offer)])
    }
}

// ---------------------------------------------------------------------------------------------
// The "Refer a friend" section of the loyalty page

/// What the loyalty page's section is made from, read with the page.
pub struct Referrer {
    pub program: ReferralProgram,
    pub code: String,
    /// The absolute share link, `{origin}/r/{store}/{code}`.
    pub link: String,
    /// Friends who came by the code or link (rejected ones not counted).
    pub referred: usize,
    /// Friends whose referral earned the customer their reward.
    pub rewarded: usize,
}

/// One way to share: a link that opens an app with the message in it.
pub struct ShareTarget {
    pub id: &'static str,
    pub name: String,
    pub href: String,
    /// A web address opens beside the page; `mailto:` and `sms:` open an app.
    pub new_tab: bool,
}

/// The section as the template shows it, every word in the customer's language.
pub struct ShareSection {
    pub heading: String,
    pub intro: String,
    pub code_label: String,
    pub code: String,
    pub link_label: String,
    pub link: String,
    pub friend_gets: String,
    pub friend_points: Option<String>,
    pub you_get: String,
    pub copy: String,
    pub copied: String,
    pub copy_failed: String,
    pub share_label: String,
    pub targets: Vec<ShareTarget>,
    pub referred_label: String,
    pub referred: String,
    pub rewarded_label: String,
    pub rewarded: String,
}

pub fn share_section(
    lang: Lang,
    r: &Referrer,
    store: &StoreRecord,
    rewards: &[RewardRecord],
) -> ShareSection {
    let currency = store.currency;
    let program = &r.program;
    let friend_offer = offer(lang, &program.friend_discount, currency);
    let message = text_with(
        lang,
        "referral-page-share-message",
        &[
            ("store", &store.name),
            ("code", &r.code),
            ("offer", &friend_offer),
            ("link", &r.link),
        ],
    );
    let subject = text_with(lang, "referral-page-share-subject", &[("store", &store.name)]);
    let reward = advocate_reward(lang, &program.advocate_reward, currency, rewards);
    ShareSection {
        heading: text(lang, "referral-page-share-heading"),
        intro: text(lang, "referral-page-share-intro"),
        code_label: text(lang, "referral-page-your-code"),
        code: r.code.clone(),
        link_label: text(lang, "referral-page-your-link"),
        link: r.link.clone(),
        friend_gets: friend_gets(lang, program, currency),
        friend_points: (program.friend_points > 0).then(|| {
            text_with(
                lang,
                "referral-page-friend-points",
                &[("points", &format_number(lang, program.friend_points, None))],
            )
        }),
        you_get: text_with(lang, "referral-page-you-get", &[("reward", &reward)]),
        copy: text(lang, "referral-page-copy-link"),
        copied: text(lang, "referral-page-copied"),
        copy_failed: text(lang, "referral-page-copy-failed"),
        share_label: text(lang, "referral-page-share-on"),
        targets: vec![
            ShareTarget {
                id: "share-whatsapp",
                name: text(lang, "referral-page-share-whatsapp"),
                href: share::whatsapp(&message),
                new_tab: true,
            },
            ShareTarget {
                id: "share-email",
                name: text(lang, "referral-page-share-email"),
                href: share::email(&subject, &message),
                new_tab: false,
            },
            ShareTarget {
                id: "share-sms",
                name: text(lang, "referral-page-share-sms"),
                href: share::sms(&message),
                new_tab: false,
            },
        ],
        referred_label: text(lang, "referral-page-referred"),
        referred: format_number(lang, r.referred as i64, None),
        rewarded_label: text(lang, "referral-page-rewarded"),
        rewarded: format_number(lang, r.rewarded as i64, None),
    }
}

// ---------------------------------------------------------------------------------------------
// The friend's landing page

/// The "Send me my discount" form's fields.
pub struct SendForm {
    pub action: String,
    pub token: String,
    pub email: String,
}

#[derive(Template)]
#[template(path = "referral_landing.html")]
pub struct LandingPage {
    pub t: Tr,
    pub lang_code: &'static str,
    pub title: String,
    pub store_name: String,
    pub languages: Vec<LangLink>,
    pub heading: String,
    pub offer: String,
    pub minimum: Option<String>,
    pub points: Option<String>,
    pub how: String,
    pub code: String,
    pub shop_link: Option<String>,
    /// Shown above the form: why it was not accepted.
    pub error: Option<String>,
    /// The form, until it has been sent.
    pub form: Option<SendForm>,
    /// The thank-you, once it has.
    pub thanks: Option<String>,
}

/// What the landing page is about: the store, its program, the code and who shares it.
pub struct Invitation<'a> {
    pub store: &'a StoreRecord,
    pub program: &'a ReferralProgram,
    pub code: &'a str,
    /// The advocate's first name, nothing more of them.
    pub first_name: Option<&'a str>,
    pub path: &'a str,
}

pub fn landing_page(
    lang: Lang,
    inv: &Invitation<'_>,
    form: Option<SendForm>,
    error: Option<String>,
    thanks: Option<String>,
) -> LandingPage {
    let store = inv.store;
    let currency = store.currency;
    let heading = match inv.first_name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => text_with(
            lang,
            "referral-page-landing-title",
            &[("name", name), ("store", &store.name)],
        ),
        None => text_with(
            lang,
            "referral-page-landing-title-anonymous",
            &[("store", &store.name)],
        ),
    };
    let shop_link = inv
        .program
        .shop_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| share::shop_link(u, inv.code));
    let how = if shop_link.is_some() {
        text(lang, "referral-page-landing-how-shop")
    } else {
        text(lang, "referral-page-landing-how")
    };
    LandingPage {
        t: Tr(lang),
        lang_code: lang.code(),
        title: heading.clone(),
        store_name: store.name.clone(),
        languages: languages(lang, inv.path),
        heading,
        offer: text_with(
            lang,
            "referral-page-landing-offer",
            &[("offer", &offer(lang, &inv.program.friend_discount, currency))],
        ),
        minimum: (inv.program.friend_minimum_spend > 0).then(|| {
            text_with(
                lang,
                "referral-page-landing-minimum",
                &[(
                    "minimum",
                    &format_money(lang, inv.program.friend_minimum_spend, currency),
                )],
            )
        }),
        points: (inv.program.friend_points > 0).then(|| {
            text_with(
                lang,
                "referral-page-landing-points",
                &[("points", &format_number(lang, inv.program.friend_points, None))],
            )
        }),
        how,
        code: inv.code.to_string(),
        shop_link,
        error,
        form,
        thanks,
    }
}

#[derive(Template)]
#[template(path = "referral_message.html")]
pub struct MessagePage {
    pub lang_code: &'static str,
    pub heading: String,
    pub body: String,
}

// ---------------------------------------------------------------------------------------------
// The partner page

pub struct CommissionRow {
    pub date: String,
    pub order: String,
    pub amount: String,
    pub status: String,
    pub reversal: bool,
}

pub struct PayoutRow {
    pub date: String,
    pub amount: String,
    pub reference: String,
}

#[derive(Template)]
#[template(path = "partner_page.html")]
pub struct PartnerPage {
    pub t: Tr,
    pub lang_code: &'static str,
    pub title: String,
    pub store_name: String,
    pub languages: Vec<LangLink>,
    pub ended: bool,
    pub code: Option<String>,
    pub link: Option<String>,
    pub copy: String,
    pub copied: String,
    pub copy_failed: String,
    pub rate: String,
    pub pending: String,
    pub owed: String,
    pub paid: String,
    pub friends: String,
    pub revenue: String,
    pub history: Vec<CommissionRow>,
    pub payouts: Vec<PayoutRow>,
}

/// What the partner page is made from.
pub struct PartnerFacts<'a> {
    pub store: &'a StoreRecord,
    pub summary: &'a PartnerSummary,
    pub code: Option<String>,
    pub link: Option<String>,
    /// The ledger, newest first, each with the order's number (or id) to show.
    pub commissions: Vec<(CommissionRecord, String)>,
    pub payouts: &'a [PayoutRecord],
    pub path: &'a str,
}

fn rate(lang: Lang, summary: &PartnerSummary) -> String {
    let p = &summary.partner;
    let share = percent(lang, p.basis_points);
    match (p.scope, p.period_days) {
        (PartnerScope::FirstOrder, _) => {
            text_with(lang, "referral-page-partner-rate-first", &[("percent", &share)])
        }
        (PartnerScope::AllOrders, None) => {
            text_with(lang, "referral-page-partner-rate-all", &[("percent", &share)])
        }
        (PartnerScope::AllOrders, Some(days)) => text_with(
            lang,
            "referral-page-partner-rate-all-days",
            &[("percent", &share), ("days", &format_number(lang, days, None))],
        ),
    }
}

pub fn partner_page(lang: Lang, f: PartnerFacts<'_>) -> PartnerPage {
    let store = f.store;
    let zone = store.timezone.0;
    let money = |minor: i64, currency: Currency| format_money(lang, minor, currency);
    let s = f.summary;
    let history = f
        .commissions
        .iter()
        .map(|(c, order)| {
            let reversal = c.kind == "reversal";
            let status = match c.status {
                CommissionStatus::Pending => "pending",
                CommissionStatus::Approved => "approved",
                CommissionStatus::Paid => "paid",
            };
            let mut status = text(lang, &format!("referral-page-partner-status-{status}"));
            if reversal {
                status = format!("{} · {status}", text(lang, "referral-page-partner-reversal"));
            }
            CommissionRow {
                date: format_date(lang, c.created_at, zone),
                order: order.clone(),
                amount: if c.amount < 0 {
                    format!("−{}", money(-c.amount, c.currency))
                } else {
                    money(c.amount, c.currency)
                },
                status,
                reversal,
            }
        })
        .collect();
    let payouts = f
        .payouts
        .iter()
        .map(|p| PayoutRow {
            date: format_date(lang, p.paid_at, zone),
            amount: money(p.amount, p.currency),
            reference: p.reference.clone().unwrap_or_default(),
        })
        .collect();
    PartnerPage {
        t: Tr(lang),
        lang_code: lang.code(),
        title: text_with(lang, "referral-page-partner-title", &[("store", &store.name)]),
        store_name: store.name.clone(),
        languages: languages(lang, f.path),
        ended: s.partner.status == "ended",
        code: f.code,
        link: f.link,
        copy: text(lang, "referral-page-copy-link"),
        copied: text(lang, "referral-page-copied"),
        copy_failed: text(lang, "referral-page-copy-failed"),
        rate: rate(lang, s),
        pending: money(s.pending, store.currency),
        owed: money(s.approved, store.currency),
        paid: money(s.paid, store.currency),
        friends: text_with(
            lang,
            "referral-page-partner-friends",
            &[("count", &format_number(lang, s.friends, None))],
        ),
        revenue: text_with(
            lang,
            "referral-page-partner-revenue",
            &[("amount", &money(s.revenue, store.currency))],
        ),
        history,
        payouts,
    }
}
