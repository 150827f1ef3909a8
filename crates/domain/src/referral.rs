//! The referral program's rules: who may refer, what the friend and the advocate get, when a
//! referral qualifies, and the fraud rules that judge each one. Pure: storage gathers the
//! facts (emails, matching order signals, counts) and these functions decide.

use serde::{Deserialize, Serialize};

use crate::loyalty::Period;
use crate::{check_discount, Discount, FieldError};

/// The most days a return window (and so a referral's wait) may last.
pub const MAX_WINDOW_DAYS: u32 = 365;
/// The most milestones a program may have.
pub const MAX_MILESTONES: usize = 20;

/// A store's referral program. Stored as one JSON document, like the loyalty program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralProgram {
    pub enabled: bool,
    /// Who gets a referral code.
    #[serde(default)]
    pub eligibility: Eligibility,
    /// The friend's first-order discount, carried by the advocate's code.
    pub friend_discount: Discount,
    /// Minor units the friend's cart must reach for the discount to apply.
    #[serde(default)]
    pub friend_minimum_spend: i64,
    /// Points the friend also earns when the referral qualifies (double-sided); 0: none.
    #[serde(default)]
    pub friend_points: i64,
    /// What the advocate gets when the friend's first qualifying order clears the window.
    pub advocate_reward: ReferralReward,
    /// The friend's order must reach this (minor units, after refunds) to qualify.
    #[serde(default)]
    pub min_order_value: i64,
    /// Days after the friend's order before the referral qualifies; refunds inside cancel it.
    #[serde(default = "fourteen")]
    pub return_window_days: u32,
    /// Extra rewards when an advocate's rewarded referrals reach a count.
    #[serde(default)]
    pub milestones: Vec<Milestone>,
    /// At most this many advocate rewards per period; later qualified referrals are kept but
    /// give the advocate nothing.
    #[serde(default)]
    pub advocate_cap: Option<RewardCap>,
    #[serde(default)]
    pub fraud: FraudRules,
    /// What winning a customer costs the store by other channels (minor units): the advocates
    /// report's measure of acquisition cost saved.
    #[serde(default)]
    pub acquisition_cost: i64,
    /// The shop's address; the friend's landing page links there with the code applied.
    #[serde(default)]
    pub shop_url: Option<String>,
}

/// A discount's error under the field that holds it (`check_discount` names `discount.*`).
fn discount_error(mut e: FieldError, field: &str) -> FieldError {
    if let Some(rest) = e.field.strip_prefix("discount.") {
        e.field = rest.to_string();
    }
    e.within(field)
}

fn fourteen() -> u32 {
    14
}

impl Default for ReferralProgram {
    /// Off until the store turns it on: 10 % off the friend's first order, 500 points to the
    /// advocate, a 14-day window, the default fraud rules.
    fn default() -> Self {
        ReferralProgram {
            enabled: false,
            eligibility: Eligibility::default(),
            friend_discount: Discount::Percent { basis_points: 1_000 },
            friend_minimum_spend: 0,
            friend_points: 0,
            advocate_reward: ReferralReward::Points { points: 500 },
            min_order_value: 0,
            return_window_days: 14,
            milestones: Vec::new(),
            advocate_cap: None,
            fraud: FraudRules::default(),
            acquisition_cost: 0,
            shop_url: None,
        }
    }
}

/// Who may refer: every customer by default, or only those with enough orders or in a tier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    #[serde(default)]
    pub min_orders: u32,
    /// Tier ids of the loyalty program; empty: any tier (or none).
    #[serde(default)]
    pub tiers: Vec<String>,
}

impl Eligibility {
    pub fn admits(&self, orders: i64, tier: Option<&str>) -> bool {
        orders >= i64::from(self.min_orders)
            && (self.tiers.is_empty() || tier.is_some_and(|t| self.tiers.iter().any(|x| x == t)))
    }
}

/// What a referral gives the advocate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReferralReward {
    Points {
        points: i64,
    },
    /// A single-use coupon for the advocate.
    Coupon {
        discount: Discount,
        #[serde(default)]
        minimum_spend: i64,
        /// Days the coupon stays valid; `None`: no end.
        #[serde(default)]
        valid_days: Option<u32>,
    },
    /// A reward of the loyalty catalog, given without spending points.
    Gift {
        reward_id: String,
    },
}

impl ReferralReward {
    pub fn kind(&self) -> &'static str {
        match self {
            ReferralReward::Points { .. } => "points",
            ReferralReward::Coupon { .. } => "coupon",
            ReferralReward::Gift { .. } => "gift",
        }
    }

    fn validate(&self, field: &str) -> Result<(), FieldError> {
        match self {
            ReferralReward::Points { points } if !(1..=100_000_000).contains(points) => Err(FieldError::new(
                format!("{field}.points"),
                "out_of_range",
                "points run from 1 to 100,000,000",
            )),
            ReferralReward::Coupon {
                discount,
                minimum_spend,
                valid_days,
            } => {
                check_discount(discount).map_err(|e| discount_error(e, &format!("{field}.discount")))?;
                if *minimum_spend < 0 {
                    return Err(FieldError::new(
                        format!("{field}.minimum_spend"),
                        "negative_amount",
                        "a minimum spend cannot be negative",
                    ));
                }
                if valid_days.is_some_and(|d| !(1..=3650).contains(&d)) {
                    return Err(FieldError::new(
                        format!("{field}.valid_days"),
                        "out_of_range",
                        "a coupon stays valid 1 to 3,650 days",
                    ));
                }
                Ok(())
            }
            ReferralReward::Gift { reward_id } if reward_id.trim().is_empty() => Err(FieldError::new(
                format!("{field}.reward_id"),
                "missing_field",
                "a gift names a reward of the catalog",
            )),
            _ => Ok(()),
        }
    }
}

/// An extra reward when an advocate's rewarded referrals reach `friends` (e.g. the 5th).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    pub friends: u32,
    pub reward: ReferralReward,
}

/// At most `count` advocate rewards per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardCap {
    pub count: u32,
    pub period: Period,
}

/// What a fraud rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Note the finding; decide as if it were not there.
    Allow,
    /// Hold the referral for staff to approve or reject.
    Review,
    /// Refuse the referral at once.
    Reject,
}

/// The fraud rules, each with what it does when it matches, and the thresholds of the
/// counting rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FraudRules {
    /// The friend's email is the advocate's (after normalising: case, `+tags`, Gmail dots).
    #[serde(default = "reject")]
    pub same_email: RuleAction,
    /// The emails differ by one typo at the same domain.
    #[serde(default = "review")]
    pub similar_email: RuleAction,
    #[serde(default = "reject")]
    pub same_phone: RuleAction,
    /// A shipping address of the friend's order was used by the advocate.
    #[serde(default = "review")]
    pub same_address: RuleAction,
    /// The friend paid with a card the advocate used.
    #[serde(default = "reject")]
    pub same_payment: RuleAction,
    /// The friend had bought before the referral.
    #[serde(default = "reject")]
    pub existing_customer: RuleAction,
    /// More than `burst_max` referrals from one IP address or device within `burst_hours`.
    #[serde(default = "review")]
    pub burst: RuleAction,
    #[serde(default = "three")]
    pub burst_max: u32,
    #[serde(default = "twenty_four")]
    pub burst_hours: u32,
    /// More than `velocity_max` referrals by one advocate in `velocity_period`.
    #[serde(default = "review")]
    pub velocity: RuleAction,
    #[serde(default = "ten")]
    pub velocity_max: u32,
    #[serde(default = "month")]
    pub velocity_period: Period,
}

fn reject() -> RuleAction {
    RuleAction::Reject
}
fn review() -> RuleAction {
    RuleAction::Review
}
fn three() -> u32 {
    3
}
fn ten() -> u32 {
    10
}
fn twenty_four() -> u32 {
    24
}
fn month() -> Period {
    Period::Month
}

impl Default for FraudRules {
    fn default() -> Self {
        FraudRules {
            same_email: reject(),
            similar_email: review(),
            same_phone: reject(),
            same_address: review(),
            same_payment: reject(),
            existing_customer: reject(),
            burst: review(),
            burst_max: three(),
            burst_hours: twenty_four(),
            velocity: review(),
            velocity_max: ten(),
            velocity_period: month(),
        }
    }
}

impl ReferralProgram {
    /// Refuses settings no program could sensibly have; names the field.
    pub fn validate(&self) -> Result<(), FieldError> {
        check_discount(&self.friend_discount).map_err(|e| discount_error(e, "friend_discount"))?;
        for (field, v) in [
            ("friend_minimum_spend", self.friend_minimum_spend),
            ("min_order_value", self.min_order_value),
            ("acquisition_cost", self.acquisition_cost),
        ] {
            if v < 0 {
                return Err(FieldError::new(
                    field,
                    "negative_amount",
                    format!("{field} cannot be negative"),
                ));
            }
        }
        if !(0..=100_000_000).contains(&self.friend_points) {
            return Err(FieldError::new(
                "friend_points",
                "out_of_range",
                "points run from 0 to 100,000,000",
            ));
        }
        self.advocate_reward.validate("advocate_reward")?;
        if self.return_window_days > MAX_WINDOW_DAYS {
            return Err(FieldError::new(
                "return_window_days",
                "out_of_range",
                format!("the return window lasts 0 to {MAX_WINDOW_DAYS} days"),
            ));
        }
        if self.milestones.len() > MAX_MILESTONES {
            return Err(FieldError::new(
                "milestones",
                "too_many",
                format!("at most {MAX_MILESTONES} milestones"),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, m) in self.milestones.iter().enumerate() {
            if m.friends < 1 || !seen.insert(m.friends) {
                return Err(FieldError::new(
                    format!("milestones[{i}].friends"),
                    "invalid_milestone",
                    "each milestone is a distinct count of at least 1 friend",
                ));
            }
            m.reward.validate(&format!("milestones[{i}].reward"))?;
        }
        if self.advocate_cap.is_some_and(|c| c.count < 1) {
            return Err(FieldError::new(
                "advocate_cap.count",
                "invalid_limit",
                "a cap is at least 1",
            ));
        }
        let f = &self.fraud;
        if f.burst_max < 1 || f.burst_hours < 1 || f.burst_hours > 24 * 30 {
            return Err(FieldError::new(
                "fraud.burst_max",
                "out_of_range",
                "a burst is at least 1 referral within 1 to 720 hours",
            ));
        }
        if f.velocity_max < 1 {
            return Err(FieldError::new(
                "fraud.velocity_max",
                "out_of_range",
                "at least 1 referral",
            ));
        }
        if let Some(url) = &self.shop_url {
            let u = url.trim();
            if !(u.starts_with("https://") || u.starts_with("http://"))
                || u.len() > 500
                || u.contains(char::is_whitespace)
            {
                return Err(FieldError::new(
                    "shop_url",
                    "invalid_url",
                    "the shop's address is an http(s) URL of at most 500 characters",
                ));
            }
        }
        Ok(())
    }
}

/// A fraud rule, by its stable name (shown as the reason of a decision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudRule {
    /// The advocate referred themself (the same customer record).
    SelfReferral,
    SameEmail,
    SimilarEmail,
    SamePhone,
    SameAddress,
    SamePayment,
    ExistingCustomer,
    Burst,
    Velocity,
}

impl FraudRule {
    pub const ALL: [FraudRule; 9] = [
        FraudRule::SelfReferral,
        FraudRule::SameEmail,
        FraudRule::SimilarEmail,
        FraudRule::SamePhone,
        FraudRule::SameAddress,
        FraudRule::SamePayment,
        FraudRule::ExistingCustomer,
        FraudRule::Burst,
        FraudRule::Velocity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FraudRule::SelfReferral => "self_referral",
            FraudRule::SameEmail => "same_email",
            FraudRule::SimilarEmail => "similar_email",
            FraudRule::SamePhone => "same_phone",
            FraudRule::SameAddress => "same_address",
            FraudRule::SamePayment => "same_payment",
            FraudRule::ExistingCustomer => "existing_customer",
            FraudRule::Burst => "burst",
            FraudRule::Velocity => "velocity",
        }
    }

    fn action(self, rules: &FraudRules) -> RuleAction {
        match self {
            FraudRule::SelfReferral => RuleAction::Reject,
            FraudRule::SameEmail => rules.same_email,
            FraudRule::SimilarEmail => rules.similar_email,
            FraudRule::SamePhone => rules.same_phone,
            FraudRule::SameAddress => rules.same_address,
            FraudRule::SamePayment => rules.same_payment,
            FraudRule::ExistingCustomer => rules.existing_customer,
            FraudRule::Burst => rules.burst,
            FraudRule::Velocity => rules.velocity,
        }
    }
}

/// One rule that matched, what it did, and the facts behind it (no personal data: counts and
/// which signal matched, never the email or address itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: FraudRule,
    pub action: RuleAction,
    pub detail: String,
}

/// The facts storage gathers about one referral.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    pub same_customer: bool,
    pub advocate_email: Option<&'a str>,
    pub friend_email: Option<&'a str>,
    pub advocate_phone: Option<&'a str>,
    pub friend_phone: Option<&'a str>,
    /// The friend's order shipped to an address the advocate's orders used.
    pub shared_address: bool,
    /// The friend's order was paid with a card the advocate's orders used.
    pub shared_payment: bool,
    /// The friend's orders placed before the referral (cancelled ones do not count).
    pub earlier_orders: i64,
    /// Referrals from the same IP address / device within the burst window, this one included.
    pub same_ip_recent: i64,
    pub same_device_recent: i64,
    /// The advocate's referrals in the velocity period, this one included.
    pub advocate_recent: i64,
}

/// Every rule that matches the facts, each with the action the store set for it.
pub fn assess(rules: &FraudRules, facts: &Facts<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut hit = |rule: FraudRule, detail: String| {
        out.push(Finding {
            rule,
            action: rule.action(rules),
            detail,
        })
    };
    if facts.same_customer {
        hit(FraudRule::SelfReferral, "the friend is the advocate".into());
    }
    if let (Some(a), Some(f)) = (facts.advocate_email, facts.friend_email) {
        let (a, f) = (normalize_email(a), normalize_email(f));
        if a == f {
            hit(
                FraudRule::SameEmail,
                "the emails are the same once normalised".into(),
            );
        } else if emails_similar(&a, &f) {
            hit(
                FraudRule::SimilarEmail,
                "the emails differ by one character".into(),
            );
        }
    }
    if let (Some(a), Some(f)) = (facts.advocate_phone, facts.friend_phone) {
        if phones_match(a, f) {
            hit(FraudRule::SamePhone, "the phone numbers are the same".into());
        }
    }
    if facts.shared_address {
        hit(
            FraudRule::SameAddress,
            "the order ships to an address the advocate used".into(),
        );
    }
    if facts.shared_payment {
        hit(
            FraudRule::SamePayment,
            "the order was paid with the advocate's card".into(),
        );
    }
    if facts.earlier_orders > 0 {
        hit(
            FraudRule::ExistingCustomer,
            format!("the friend had {} earlier order(s)", facts.earlier_orders),
        );
    }
    let burst = facts.same_ip_recent.max(facts.same_device_recent);
    if burst > i64::from(rules.burst_max) {
        let from = if facts.same_ip_recent >= facts.same_device_recent {
            "IP address"
        } else {
            "device"
        };
        hit(
            FraudRule::Burst,
            format!(
                "{burst} referrals from one {from} within {} hours",
                rules.burst_hours
            ),
        );
    }
    if facts.advocate_recent > i64::from(rules.velocity_max) {
        hit(
            FraudRule::Velocity,
            format!(
                "{} referrals by this advocate this {}",
                facts.advocate_recent,
                period_name(rules.velocity_period)
            ),
        );
    }
    out
}

fn period_name(p: Period) -> &'static str {
    match p {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
        Period::Year => "year",
        Period::Lifetime => "lifetime",
    }
}

/// What the findings add up to: the strictest action among them.
pub fn verdict(findings: &[Finding]) -> RuleAction {
    findings
        .iter()
        .map(|f| f.action)
        .max()
        .unwrap_or(RuleAction::Allow)
}

/// An email as a person owns it: lower-cased, `+tag` dropped, and dots of a Gmail local part
/// dropped (Gmail ignores them).
pub fn normalize_email(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email;
    };
    let local = local.split('+').next().unwrap_or(local);
    let domain = if domain == "googlemail.com" {
        "gmail.com"
    } else {
        domain
    };
    let local = if domain == "gmail.com" {
        local.replace('.', "")
    } else {
        local.to_string()
    };
    format!("{local}@{domain}")
}

/// Two normalised emails at the same domain whose local parts (of five characters or more)
/// differ by one edit: `anna.k@x` and `anna.k1@x`, `ravi123@x` and `ravi124@x`.
fn emails_similar(a: &str, b: &str) -> bool {
    let (Some((la, da)), Some((lb, db))) = (a.rsplit_once('@'), b.rsplit_once('@')) else {
        return false;
    };
    da == db && la.chars().count().min(lb.chars().count()) >= 5 && strsim::damerau_levenshtein(la, lb) <= 1
}

/// Phone numbers compare by their last ten digits (country codes and formatting vary).
pub fn phones_match(a: &str, b: &str) -> bool {
    let digits = |s: &str| -> String {
        let d: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
        d[d.len().saturating_sub(10)..].iter().collect()
    };
    let (a, b) = (digits(a), digits(b));
    a.len() >= 7 && a == b
}

/// A shipping address reduced to what identifies the place: letters and digits of the first
/// line and the postal code, lower-cased. `None` when too little is known to compare.
pub fn address_key(line1: &str, postal_code: &str, country: &str) -> Option<String> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let line = squash(line1);
    if line.len() < 4 {
        return None;
    }
    Some(format!("{}|{}|{}", squash(country), squash(postal_code), line))
}

/// A short, readable code for an advocate: up to six letters of their first name (ASCII only,
/// upper-cased; `FRIEND` when the name has none) and `suffix` (random characters from the
/// unambiguous coupon alphabet), e.g. `ANNA-7K3Q`.
pub fn referral_code(first_name: Option<&str>, suffix: &str) -> String {
    let name: String = first_name
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_alphabetic)
        .take(6)
        .collect::<String>()
        .to_ascii_uppercase();
    let name = if name.len() < 2 {
        "FRIEND".to_string()
    } else {
        name
    };
    format!("{name}-{suffix}")
}

/// The commission on `revenue` minor units at `basis_points` (100 = 1 %), rounded down.
pub fn commission(revenue: i64, basis_points: i64) -> i64 {
    (i128::from(revenue.max(0)) * i128::from(basis_points) / 10_000) as i64
}

/// What a refund takes back of a commission: the refunded share, rounded up so that together
/// the reversals never leave more commission than the kept revenue earned.
pub fn commission_reversal(commission: i64, order_total: i64, refunded_total: i64) -> i64 {
    if order_total <= 0 || refunded_total >= order_total {
        return commission;
    }
    let num = i128::from(commission) * i128::from(refunded_total.max(0));
    let den = i128::from(order_total);
    ((num + den - 1) / den) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_normalise_like_their_owners_read_them() {
        assert_eq!(normalize_email(" Anna.K+shop@GoogleMail.com"), "annak@gmail.com");
        assert_eq!(normalize_email("anna.k+x@example.com"), "anna.k@example.com");
        assert!(emails_similar("ravi123@x.in", "ravi124@x.in"));
        assert!(!emails_similar("ravi123@x.in", "ravi123@y.in"));
        assert!(
            !emails_similar("ab@x.in", "ac@x.in"),
            "short names are too often alike"
        );
    }

    #[test]
    fn phones_compare_by_their_last_ten_digits() {
        assert!(phones_match("+91 98480 22338", "098480-22338"));
        assert!(!phones_match("+91 98480 22338", "+91 98480 22339"));
        assert!(!phones_match("123", "123"), "too short to mean anything");
    }

    #[test]
    fn the_strictest_finding_decides() {
        let rules = FraudRules::default();
        let facts = Facts {
            shared_address: true,
            ..Facts::default()
        };
        let found = assess(&rules, &facts);
        assert_eq!(found.len(), 1);
        assert_eq!(verdict(&found), RuleAction::Review);
        let facts = Facts {
            shared_address: true,
            shared_payment: true,
            ..Facts::default()
        };
        assert_eq!(verdict(&assess(&rules, &facts)), RuleAction::Reject);
        assert_eq!(verdict(&[]), RuleAction::Allow);
    }

    #[test]
    fn counting_rules_fire_only_above_their_threshold() {
        let rules = FraudRules::default();
        let at = Facts {
            same_ip_recent: 3,
            advocate_recent: 10,
            ..Facts::default()
        };
        assert!(assess(&rules, &at).is_empty());
        let over = Facts {
            same_ip_recent: 4,
            advocate_recent: 11,
            ..Facts::default()
        };
        let rules_hit: Vec<FraudRule> = assess(&rules, &over).iter().map(|f| f.rule).collect();
        assert_eq!(rules_hit, vec![FraudRule::Burst, FraudRule::Velocity]);
    }

    #[test]
    fn codes_are_short_and_readable() {
        assert_eq!(referral_code(Some("Anna-Maria"), "7K3Q"), "ANNAMA-7K3Q");
        assert_eq!(referral_code(Some("రవి"), "7K3Q"), "FRIEND-7K3Q");
        assert_eq!(referral_code(None, "AB23"), "FRIEND-AB23");
    }

    #[test]
    fn reversals_never_leave_more_than_the_kept_revenue_earned() {
        assert_eq!(commission(10_000, 1_000), 1_000);
        assert_eq!(commission_reversal(1_000, 10_000, 3_333), 334);
        assert_eq!(commission_reversal(1_000, 10_000, 10_000), 1_000);
        assert_eq!(commission_reversal(1_000, 10_000, 0), 0);
    }

    #[test]
    fn settings_name_the_bad_field() {
        let milestone = Milestone {
            friends: 5,
            reward: ReferralReward::Points { points: 100 },
        };
        let p = ReferralProgram {
            milestones: vec![milestone.clone(), milestone],
            ..ReferralProgram::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "milestones[1].friends");
        let p = ReferralProgram {
            advocate_reward: ReferralReward::Points { points: 0 },
            ..ReferralProgram::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "advocate_reward.points");
        let p = ReferralProgram {
            friend_discount: Discount::Percent { basis_points: 0 },
            ..ReferralProgram::default()
        };
        assert_eq!(p.validate().unwrap_err().field, "friend_discount.basis_points");
        assert!(ReferralProgram::default().validate().is_ok());
    }
}
