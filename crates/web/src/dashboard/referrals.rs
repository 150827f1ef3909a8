//! Referrals (PRODUCT §4) in the dashboard: the program's settings, the review queue of
//! referrals a fraud rule held for a person, the advocates report, partners with their
//! commission ledger and payouts, and the panel on a customer's profile.
//!
//! Everyone who reads the store sees these pages; changing the settings, deciding reviews,
//! inviting or ending partners and recording payouts need [`Permission::ManageLoyalty`] and
//! the session's CSRF token.

mod advocates;
mod panel;
mod partners;
mod review;
mod settings;

use std::collections::HashMap;

use axum::Router;
use regulars_domain::referral::{FraudRule, ReferralReward, RuleAction};
use regulars_domain::{Currency, CustomerId, Discount, Permission};
use regulars_i18n::{format_money, format_number, text, text_with, Lang};
use regulars_store::{display_name, ReferralStatus, RewardRecord, StoreError, StoreRecord};

use super::loyalty::{discount_words, TabLink};
use crate::AppState;

pub use panel::panel;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(settings::routes())
        .merge(review::routes())
        .merge(advocates::routes())
        .merge(partners::routes())
}

/// The section's path under the store, for the navigation.
pub const SECTION: &str = "/referrals";

/// What changing anything of the program takes.
pub const MANAGE: Permission = Permission::ManageLoyalty;

/// The tabs of the referral pages.
pub fn tabs(lang: Lang, store: &StoreRecord, current: &str) -> Vec<TabLink> {
    [
        ("", "referrals-tab-settings"),
        ("/review", "referrals-tab-review"),
        ("/advocates", "referrals-tab-advocates"),
        ("/partners", "referrals-tab-partners"),
    ]
    .into_iter()
    .map(|(path, label)| TabLink {
        href: format!("/app/{}/referrals{path}", store.id),
        label: text(lang, label),
        current: path == current,
    })
    .collect()
}

/// `(value, label)` pairs of a select whose labels are `<prefix>-<value>` messages.
pub fn options(lang: Lang, prefix: &str, keys: &[&str]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| {
            (
                k.to_string(),
                text(lang, &format!("{prefix}-{}", k.replace('_', "-"))),
            )
        })
        .collect()
}

/// A referral's status in the reader's words.
pub fn status_text(lang: Lang, status: ReferralStatus) -> String {
    text(
        lang,
        &format!("referrals-status-{}", status.as_str().replace('_', "-")),
    )
}

/// A fraud rule's name in the reader's words.
pub fn rule_text(lang: Lang, rule: FraudRule) -> String {
    text(
        lang,
        &format!("referrals-rule-{}", rule.as_str().replace('_', "-")),
    )
}

pub fn action_text(lang: Lang, action: RuleAction) -> String {
    text(
        lang,
        match action {
            RuleAction::Allow => "referrals-action-allow",
            RuleAction::Review => "referrals-action-review",
            RuleAction::Reject => "referrals-action-reject",
        },
    )
}

/// Basis points as a percentage for reading: 1,250 → `12.5%`.
pub fn percent_words(bp: i64) -> String {
    format!("{}%", super::loyalty::percent_text(bp))
}

/// What a reward gives, in words: `500 points`, `Coupon: 10% off`, `Gift: Tote bag`.
pub fn reward_words(
    lang: Lang,
    reward: &ReferralReward,
    currency: Currency,
    catalog: &[RewardRecord],
) -> String {
    match reward {
        ReferralReward::Points { points } => text_with(
            lang,
            "loyalty-points-count",
            &[("points", &format_number(lang, *points, Some(currency)))],
        ),
        ReferralReward::Coupon {
            discount,
            minimum_spend,
            ..
        } => {
            let words = discount_words(lang, discount, currency);
            if *minimum_spend > 0 {
                text_with(
                    lang,
                    "referrals-reward-coupon-minimum",
                    &[
                        ("discount", &words),
                        ("minimum", &format_money(lang, *minimum_spend, currency)),
                    ],
                )
            } else {
                text_with(lang, "referrals-reward-coupon", &[("discount", &words)])
            }
        }
        ReferralReward::Gift { reward_id } => {
            let name = catalog
                .iter()
                .find(|r| &r.id == reward_id)
                .map(|r| r.input.name.clone())
                .unwrap_or_else(|| reward_id.clone());
            text_with(lang, "referrals-reward-gift", &[("reward", &name)])
        }
    }
}

/// A customer as staff read them: their name, else their email, else "unnamed".
pub fn customer_name(lang: Lang, c: &regulars_store::CustomerRecord) -> String {
    display_name(c.first_name.as_deref(), c.last_name.as_deref())
        .or_else(|| c.email.as_ref().map(|e| e.to_string()))
        .unwrap_or_else(|| text(lang, "customers-unnamed"))
}

/// The names of the customers a page lists, each read once. A customer no longer there is
/// left out (the page shows them as unknown).
pub async fn names(
    state: &AppState,
    store: &StoreRecord,
    lang: Lang,
    ids: &[CustomerId],
) -> Result<HashMap<CustomerId, String>, StoreError> {
    let mut out = HashMap::new();
    for &id in ids {
        if out.contains_key(&id) {
            continue;
        }
        match state.db.customer(store.id, id).await {
            Ok(c) => {
                out.insert(id, customer_name(lang, &c));
            }
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// A person of a list: their name and the link to their profile.
pub struct PersonLink {
    pub name: String,
    pub href: String,
}

pub fn person_link(
    lang: Lang,
    store: &StoreRecord,
    names: &HashMap<CustomerId, String>,
    id: CustomerId,
) -> PersonLink {
    PersonLink {
        name: names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| text(lang, "referrals-unknown-customer")),
        href: format!("/app/{}/customers/{id}", store.id),
    }
}

/// Why a referral stands where it does: a fraud rule, a staff decision, a refund, or the note
/// staff wrote (shown as written).
pub fn reason_text(lang: Lang, reason: &str) -> String {
    if let Some(rule) = FraudRule::ALL.iter().find(|r| r.as_str() == reason) {
        return rule_text(lang, *rule);
    }
    match reason {
        "approved_by_staff" | "rejected_by_staff" | "order_cancelled" | "refunded_in_window" => {
            text(lang, &format!("referrals-reason-{}", reason.replace('_', "-")))
        }
        note => note.to_string(),
    }
}

/// What a referral gave (the stored record of a reward), or why it gave nothing.
pub fn given_text(
    lang: Lang,
    given: &serde_json::Value,
    currency: Currency,
    catalog: &[RewardRecord],
) -> String {
    if let Some(skipped) = given.get("skipped").and_then(serde_json::Value::as_str) {
        return match skipped {
            "partner_commission" | "cap_reached" | "gift_unavailable" => {
                text(lang, &format!("referrals-skipped-{}", skipped.replace('_', "-")))
            }
            other => text_with(lang, "referrals-skipped-other", &[("code", other)]),
        };
    }
    let code = given.get("code").and_then(serde_json::Value::as_str);
    let words = match given.get("kind").and_then(serde_json::Value::as_str) {
        Some("points") => given
            .get("points")
            .and_then(serde_json::Value::as_i64)
            .map(|points| reward_words(lang, &ReferralReward::Points { points }, currency, catalog)),
        Some("gift") => given
            .get("reward_id")
            .and_then(serde_json::Value::as_str)
            .map(|id| {
                let reward = ReferralReward::Gift {
                    reward_id: id.to_string(),
                };
                reward_words(lang, &reward, currency, catalog)
            }),
        Some("coupon") => Some(
            given
                .get("discount")
                .and_then(|d| serde_json::from_value::<Discount>(d.clone()).ok())
                .map(|d| {
                    text_with(
                        lang,
                        "referrals-reward-coupon",
                        &[("discount", &discount_words(lang, &d, currency))],
                    )
                })
                .unwrap_or_else(|| text(lang, "referrals-given-coupon")),
        ),
        _ => None,
    };
    match (words, code) {
        (Some(w), Some(c)) => format!("{w} · {c}"),
        (Some(w), None) => w,
        (None, Some(c)) => c.to_string(),
        (None, None) => "—".to_string(),
    }
}
