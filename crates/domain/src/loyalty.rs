//! The loyalty program's rules: how many points an order or an action earns, what a refund
//! takes back, which tier a customer belongs to, and what applies at checkout. Pure functions
//! over integers; the ledger that records the points lives in the store.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{Birthday, Cart, Discount, FieldError};

/// How a fractional point is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    #[default]
    Down,
    Nearest,
    Up,
}

impl Rounding {
    /// `numerator / denominator` rounded by this rule (both non-negative, denominator > 0).
    pub fn divide(self, numerator: i128, denominator: i128) -> i64 {
        let q = numerator / denominator;
        let r = numerator % denominator;
        let up = match self {
            Rounding::Down => false,
            Rounding::Up => r > 0,
            Rounding::Nearest => 2 * r >= denominator,
        };
        (q + i128::from(up)).clamp(0, i64::MAX as i128) as i64
    }
}

/// Points for purchases: `points` for every `per_minor` minor units the customer paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarnRule {
    pub points: i64,
    pub per_minor: i64,
    #[serde(default)]
    pub rounding: Rounding,
    #[serde(default = "yes")]
    pub exclude_shipping: bool,
    #[serde(default = "yes")]
    pub exclude_tax: bool,
}

fn yes() -> bool {
    true
}

/// What a multiplier applies to. Product-side targets multiply the lines they match; tier and
/// date targets multiply the whole order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MultiplierTarget {
    Product {
        product_id: String,
    },
    Sku {
        sku: String,
    },
    Category {
        category: String,
    },
    Tag {
        tag: String,
    },
    /// Double-points days: inclusive local dates in the store's time zone.
    Dates {
        from: NaiveDate,
        to: NaiveDate,
    },
}

/// (serde cannot refuse unknown fields beside a flattened enum: the target's own fields are
/// checked by its variant, the rest are ignored.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multiplier {
    #[serde(flatten)]
    pub target: MultiplierTarget,
    /// 200 = double points, 150 = one and a half.
    pub percent: i64,
}

/// Things a customer does that earn points besides buying.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    SignUp,
    Birthday,
    Review,
    Survey,
    SocialFollow,
    Referral,
    /// A custom event recorded through the API, by its name.
    Custom {
        name: String,
    },
}

impl Action {
    pub fn as_key(&self) -> String {
        match self {
            Action::SignUp => "sign_up".into(),
            Action::Birthday => "birthday".into(),
            Action::Review => "review".into(),
            Action::Survey => "survey".into(),
            Action::SocialFollow => "social_follow".into(),
            Action::Referral => "referral".into(),
            Action::Custom { name } => format!("custom:{}", name.trim().to_lowercase()),
        }
    }

    /// Actions that can be earned only once in a customer's life (sign-up) or a year (birthday),
    /// whatever the rule's cap says.
    pub fn natural_cap(&self) -> Option<Cap> {
        match self {
            Action::SignUp => Some(Cap {
                count: 1,
                period: Period::Lifetime,
            }),
            Action::Birthday => Some(Cap {
                count: 1,
                period: Period::Year,
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
    Year,
    Lifetime,
}

impl Period {
    /// The local date the period containing `day` starts on (weeks start on Monday); the
    /// lifetime "period" started at the beginning of time.
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => day,
            Period::Week => day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday())),
            Period::Month => day.with_day(1).expect("day 1 exists"),
            Period::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1).expect("1 January exists"),
            Period::Lifetime => NaiveDate::MIN,
        }
    }

    /// A stable name for the period containing `day`, used in idempotency keys.
    pub fn bucket(self, day: NaiveDate) -> String {
        match self {
            Period::Lifetime => "life".into(),
            other => other.start(day).format("%Y-%m-%d").to_string(),
        }
    }
}

/// At most `count` earnings per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    pub count: i64,
    pub period: Period,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRule {
    pub action: Action,
    pub points: i64,
    #[serde(default)]
    pub cap: Option<Cap>,
}

impl ActionRule {
    /// The tighter of the rule's cap and the action's natural one.
    pub fn effective_cap(&self) -> Option<Cap> {
        match (self.cap, self.action.natural_cap()) {
            (Some(a), Some(b)) => Some(if a.count <= b.count { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// What tiers are measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierMetric {
    #[default]
    PointsEarned,
    /// Minor units spent on orders (net of refunds).
    MoneySpent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierBenefits {
    /// 100 = no change; 125 earns a quarter more on every order.
    #[serde(default = "hundred")]
    pub earn_percent: i64,
    #[serde(default)]
    pub free_shipping: bool,
    /// A discount inside the birthday window, basis points; overrides the program's.
    #[serde(default)]
    pub birthday_discount_bp: Option<i64>,
    /// A standing discount on every order, basis points.
    #[serde(default)]
    pub discount_bp: Option<i64>,
    #[serde(default)]
    pub early_access: bool,
    /// A reward (from the catalog) given once on reaching the tier.
    #[serde(default)]
    pub gift_reward_id: Option<String>,
}

fn hundred() -> i64 {
    100
}

impl Default for TierBenefits {
    /// Earning at the normal rate and no extras: the same as an empty JSON object.
    fn default() -> Self {
        TierBenefits {
            earn_percent: 100,
            free_shipping: false,
            birthday_discount_bp: None,
            discount_bp: None,
            early_access: false,
            gift_reward_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// A short stable id (`silver`), kept in the history when the name changes.
    pub id: String,
    pub name: String,
    /// Reached at this many points earned, or minor units spent, inside the window.
    pub threshold: i64,
    #[serde(default)]
    pub benefits: TierBenefits,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLadder {
    #[serde(default)]
    pub metric: TierMetric,
    /// Rolling window in days; `None` counts a customer's whole history.
    #[serde(default)]
    pub window_days: Option<u32>,
    /// Sorted by threshold, lowest first.
    #[serde(default)]
    pub levels: Vec<Tier>,
}

impl TierLadder {
    /// The highest tier whose threshold `measure` reaches.
    pub fn tier_for(&self, measure: i64) -> Option<&Tier> {
        self.levels.iter().rev().find(|t| measure >= t.threshold)
    }

    pub fn get(&self, id: &str) -> Option<&Tier> {
        self.levels.iter().find(|t| t.id == id)
    }

    fn position(&self, id: Option<&str>) -> Option<usize> {
        id.and_then(|id| self.levels.iter().position(|t| t.id == id))
    }

    /// Whether moving from `from` to `to` goes up the ladder.
    pub fn is_promotion(&self, from: Option<&str>, to: Option<&str>) -> bool {
        match (self.position(from), self.position(to)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(a), Some(b)) => b > a,
        }
    }

    /// The next tier above `measure` and how much is still missing to reach it.
    pub fn progress(&self, measure: i64) -> Option<(&Tier, i64)> {
        self.levels
            .iter()
            .find(|t| t.threshold > measure)
            .map(|t| (t, t.threshold - measure))
    }
}

/// Who an offer is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Audience {
    Everyone,
    /// No order yet.
    NewCustomers,
    /// At least this many orders already.
    Returning {
        min_orders: i64,
    },
    Tiers {
        tiers: Vec<String>,
    },
}

/// A standing checkout offer, e.g. "returning customers: 10 % off above ₹1,500".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    pub id: String,
    pub name: String,
    pub discount: Discount,
    pub audience: Audience,
    #[serde(default)]
    pub minimum_spend_minor: i64,
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingPerk {
    /// Free shipping when the cart's subtotal reaches this, minor units.
    #[serde(default)]
    pub free_over_minor: Option<i64>,
    /// Otherwise a flat rate, minor units, when it is cheaper than the shop's.
    #[serde(default)]
    pub flat_rate_minor: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirthdayPerk {
    /// Basis points off inside the window; 0 turns it off.
    #[serde(default)]
    pub discount_bp: i64,
    /// Days before and after the birthday the discount applies.
    #[serde(default = "seven")]
    pub window_days: u32,
}

fn seven() -> u32 {
    7
}

/// A store's loyalty program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub enabled: bool,
    pub earn: EarnRule,
    #[serde(default)]
    pub multipliers: Vec<Multiplier>,
    #[serde(default)]
    pub actions: Vec<ActionRule>,
    #[serde(default)]
    pub tiers: TierLadder,
    /// Points from an order stay pending this many days (the return window).
    #[serde(default)]
    pub pending_days: u32,
    /// Points expire this many days after they were earned; `None`: never.
    #[serde(default)]
    pub expiry_days: Option<u32>,
    /// Customers hear of expiring points this many days ahead.
    #[serde(default = "fourteen")]
    pub expiry_warning_days: u32,
    /// What 100 points are worth to the customer, minor units: the liability report's price.
    pub value_per_100_points_minor: i64,
    #[serde(default)]
    pub shipping: ShippingPerk,
    #[serde(default)]
    pub birthday: BirthdayPerk,
    #[serde(default)]
    pub offers: Vec<Offer>,
}

fn fourteen() -> u32 {
    14
}

impl Default for Program {
    /// Off until the store turns it on: 1 point per 100 minor units (one rupee, one dram), a
    /// 14-day return window, a year to spend points, each point worth 1 minor unit.
    fn default() -> Self {
        Program {
            enabled: false,
            earn: EarnRule {
                points: 1,
                per_minor: 100,
                rounding: Rounding::Down,
                exclude_shipping: true,
                exclude_tax: true,
            },
            multipliers: vec![],
            actions: vec![],
            tiers: TierLadder::default(),
            pending_days: 14,
            expiry_days: Some(365),
            expiry_warning_days: 14,
            value_per_100_points_minor: 100,
            shipping: ShippingPerk::default(),
            birthday: BirthdayPerk::default(),
            offers: vec![],
        }
    }
}

const MAX_PERCENT: i64 = 10_000;
const MAX_DAYS: u32 = 3_650;

fn bad(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

fn check_bp(field: String, bp: i64) -> Result<(), FieldError> {
    if !(0..=10_000).contains(&bp) {
        return Err(bad(
            field,
            "out_of_range",
            "basis points run from 0 to 10,000 (100 %)",
        ));
    }
    Ok(())
}

impl Program {
    /// Parses a program from JSON, naming the offending field on failure.
    pub fn from_json(text: &str) -> Result<Program, FieldError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let program: Program = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { "program".to_string() } else { path };
            bad(field, "invalid_program", e.inner().to_string())
        })?;
        program.validate()?;
        Ok(program)
    }

    /// Refuses programs that cannot be run, naming the field.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.earn.points < 0 || self.earn.points > 1_000_000 {
            return Err(bad(
                "earn.points",
                "out_of_range",
                "points per step run from 0 to 1,000,000",
            ));
        }
        if self.earn.per_minor <= 0 {
            return Err(bad(
                "earn.per_minor",
                "out_of_range",
                "the step must be at least 1 minor unit",
            ));
        }
        for (i, m) in self.multipliers.iter().enumerate() {
            if !(0..=MAX_PERCENT).contains(&m.percent) {
                return Err(bad(
                    format!("multipliers[{i}].percent"),
                    "out_of_range",
                    "a multiplier runs from 0 to 10,000 percent",
                ));
            }
            if let MultiplierTarget::Dates { from, to } = &m.target {
                if to < from {
                    return Err(bad(
                        format!("multipliers[{i}].to"),
                        "bad_range",
                        "the last day comes before the first",
                    ));
                }
            }
        }
        let mut seen_actions = std::collections::HashSet::new();
        for (i, a) in self.actions.iter().enumerate() {
            if !(0..=1_000_000).contains(&a.points) {
                return Err(bad(
                    format!("actions[{i}].points"),
                    "out_of_range",
                    "points run from 0 to 1,000,000",
                ));
            }
            if let Action::Custom { name } = &a.action {
                if name.trim().is_empty() {
                    return Err(bad(
                        format!("actions[{i}].action.name"),
                        "required",
                        "name the custom event",
                    ));
                }
            }
            if let Some(cap) = a.cap {
                if cap.count < 1 {
                    return Err(bad(
                        format!("actions[{i}].cap.count"),
                        "out_of_range",
                        "a cap allows at least 1",
                    ));
                }
            }
            if !seen_actions.insert(a.action.as_key()) {
                return Err(bad(
                    format!("actions[{i}].action"),
                    "duplicate",
                    "this action already has a rule",
                ));
            }
        }
        let mut ids = std::collections::HashSet::new();
        let mut last = -1;
        for (i, t) in self.tiers.levels.iter().enumerate() {
            let id_ok = !t.id.is_empty()
                && t.id.len() <= 40
                && t.id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !id_ok {
                return Err(bad(
                    format!("tiers.levels[{i}].id"),
                    "invalid_id",
                    "a tier id is 1 to 40 lowercase letters, digits, - or _",
                ));
            }
            if !ids.insert(t.id.as_str()) {
                return Err(bad(
                    format!("tiers.levels[{i}].id"),
                    "duplicate",
                    "two tiers share this id",
                ));
            }
            if t.name.trim().is_empty() {
                return Err(bad(
                    format!("tiers.levels[{i}].name"),
                    "required",
                    "give the tier a name",
                ));
            }
            if t.threshold <= last {
                return Err(bad(
                    format!("tiers.levels[{i}].threshold"),
                    "not_ascending",
                    "tiers go from the lowest threshold to the highest, each above the one before",
                ));
            }
            last = t.threshold;
            if !(0..=MAX_PERCENT).contains(&t.benefits.earn_percent) {
                return Err(bad(
                    format!("tiers.levels[{i}].benefits.earn_percent"),
                    "out_of_range",
                    "the earn multiplier runs from 0 to 10,000 percent",
                ));
            }
            if let Some(bp) = t.benefits.birthday_discount_bp {
                check_bp(format!("tiers.levels[{i}].benefits.birthday_discount_bp"), bp)?;
            }
            if let Some(bp) = t.benefits.discount_bp {
                check_bp(format!("tiers.levels[{i}].benefits.discount_bp"), bp)?;
            }
        }
        if matches!(self.tiers.window_days, Some(0)) || self.tiers.window_days.is_some_and(|d| d > MAX_DAYS) {
            return Err(bad(
                "tiers.window_days",
                "out_of_range",
                "a window runs from 1 to 3,650 days",
            ));
        }
        if self.pending_days > 365 {
            return Err(bad(
                "pending_days",
                "out_of_range",
                "the return window runs from 0 to 365 days",
            ));
        }
        if matches!(self.expiry_days, Some(0)) || self.expiry_days.is_some_and(|d| d > MAX_DAYS) {
            return Err(bad(
                "expiry_days",
                "out_of_range",
                "points expire after 1 to 3,650 days, or never",
            ));
        }
        if self.expiry_warning_days > 365 {
            return Err(bad(
                "expiry_warning_days",
                "out_of_range",
                "warn 0 to 365 days ahead",
            ));
        }
        if self.value_per_100_points_minor < 0 {
            return Err(bad(
                "value_per_100_points_minor",
                "out_of_range",
                "a value cannot be negative",
            ));
        }
        for (field, v) in [
            ("shipping.free_over_minor", self.shipping.free_over_minor),
            ("shipping.flat_rate_minor", self.shipping.flat_rate_minor),
        ] {
            if v.is_some_and(|v| v < 0) {
                return Err(bad(field, "out_of_range", "an amount cannot be negative"));
            }
        }
        check_bp("birthday.discount_bp".into(), self.birthday.discount_bp)?;
        if self.birthday.window_days > 31 {
            return Err(bad(
                "birthday.window_days",
                "out_of_range",
                "the window runs from 0 to 31 days",
            ));
        }
        let mut offer_ids = std::collections::HashSet::new();
        for (i, o) in self.offers.iter().enumerate() {
            if o.id.trim().is_empty() || !offer_ids.insert(o.id.as_str()) {
                return Err(bad(
                    format!("offers[{i}].id"),
                    "duplicate",
                    "each offer needs its own id",
                ));
            }
            if o.name.trim().is_empty() {
                return Err(bad(
                    format!("offers[{i}].name"),
                    "required",
                    "give the offer a name",
                ));
            }
            crate::check_discount(&o.discount).map_err(|e| e.within(&format!("offers[{i}]")))?;
            if let (Some(from), Some(to)) = (o.from, o.to) {
                if to < from {
                    return Err(bad(
                        format!("offers[{i}].to"),
                        "bad_range",
                        "the last day comes before the first",
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn action_rule(&self, action: &Action) -> Option<&ActionRule> {
        let key = action.as_key();
        self.actions.iter().find(|r| r.action.as_key() == key)
    }

    /// What `points` are worth to the customer, minor units (rounded down).
    pub fn points_value_minor(&self, points: i64) -> i64 {
        (i128::from(points) * i128::from(self.value_per_100_points_minor) / 100) as i64
    }
}

/// One line of an order as earning sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarnLine {
    pub product_id: Option<String>,
    pub sku: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// What the line cost after its own discount, minor units.
    pub net_amount: i64,
}

/// An order as earning sees it: what was paid and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarnOrder {
    pub total: i64,
    pub shipping: i64,
    pub tax: i64,
    pub lines: Vec<EarnLine>,
    /// The local date the order was placed in the store's time zone.
    pub placed_on: NaiveDate,
}

impl EarnOrder {
    /// What the customer paid that earns points: the total after discounts, less shipping
    /// and tax when the rule says so.
    pub fn basis(&self, rule: &EarnRule) -> i64 {
        let mut basis = self.total;
        if rule.exclude_shipping {
            basis -= self.shipping;
        }
        if rule.exclude_tax {
            basis -= self.tax;
        }
        basis.max(0)
    }
}

fn line_percent(program: &Program, line: &EarnLine) -> i64 {
    program
        .multipliers
        .iter()
        .filter(|m| match &m.target {
            MultiplierTarget::Product { product_id } => {
                line.product_id.as_deref() == Some(product_id.as_str())
            }
            MultiplierTarget::Sku { sku } => line.sku.as_deref() == Some(sku.as_str()),
            MultiplierTarget::Category { category } => line
                .category
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case(category)),
            MultiplierTarget::Tag { tag } => line.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)),
            MultiplierTarget::Dates { .. } => false,
        })
        .map(|m| m.percent)
        .max()
        .unwrap_or(100)
}

/// The order-wide multiplier: the best double-points day times the tier's.
fn order_percent(program: &Program, tier: Option<&Tier>, day: NaiveDate) -> i128 {
    let dates = program
        .multipliers
        .iter()
        .filter(|m| matches!(&m.target, MultiplierTarget::Dates { from, to } if *from <= day && day <= *to))
        .map(|m| m.percent)
        .max()
        .unwrap_or(100);
    let tier = tier.map(|t| t.benefits.earn_percent).unwrap_or(100);
    i128::from(dates) * i128::from(tier)
}

/// The points an order earns. The paid basis is shared among lines in proportion to their net
/// amounts (so order-level discounts, shipping and tax are spread fairly), each share is
/// multiplied by its line's best product multiplier, the sum by the order-wide multipliers,
/// and the result is rounded once.
pub fn order_points(program: &Program, order: &EarnOrder, tier: Option<&Tier>) -> i64 {
    let basis = i128::from(order.basis(&program.earn));
    let lines_total: i128 = order.lines.iter().map(|l| i128::from(l.net_amount.max(0))).sum();
    // Σ share_i × percent_i, with share_i = basis × net_i / lines_total, kept exact as a fraction.
    let weighted = if lines_total > 0 {
        let sum: i128 = order
            .lines
            .iter()
            .map(|l| i128::from(l.net_amount.max(0)) * i128::from(line_percent(program, l)))
            .sum();
        (basis * sum, lines_total)
    } else {
        (basis * 100, 1)
    };
    let numerator =
        weighted.0 * order_percent(program, tier, order.placed_on) * i128::from(program.earn.points);
    let denominator = weighted.1 * 100 * 100 * 100 * i128::from(program.earn.per_minor);
    program.earn.rounding.divide(numerator, denominator)
}

/// How many of `earned` points an order keeps once `refunded` of its `total` has been refunded
/// (all of them gone when cancelled). What the refunded part earned is taken back, rounded in
/// the customer's favour, so repeated partial refunds never take more than the order earned.
pub fn points_kept(earned: i64, total: i64, refunded: i64, cancelled: bool) -> i64 {
    if cancelled || total <= 0 || refunded >= total {
        return 0;
    }
    let kept_share = i128::from(total - refunded.max(0));
    (i128::from(earned) * kept_share / i128::from(total)) as i64
}

/// Whether `today` is within `window_days` of the birthday (either side, across new year).
pub fn in_birthday_window(birthday: &Birthday, today: NaiveDate, window_days: u32) -> bool {
    let window = i64::from(window_days);
    [today.year() - 1, today.year(), today.year() + 1]
        .into_iter()
        .any(|year| {
            // 29 February falls on 28 February outside leap years.
            let date =
                NaiveDate::from_ymd_opt(year, birthday.month.into(), birthday.day.into()).or_else(|| {
                    NaiveDate::from_ymd_opt(year, birthday.month.into(), u32::from(birthday.day) - 1)
                });
            date.is_some_and(|d| (d - today).num_days().abs() <= window)
        })
}

/// What the checkout perks are computed for.
#[derive(Debug, Clone)]
pub struct Shopper<'a> {
    pub tier: Option<&'a Tier>,
    pub orders_count: i64,
    pub birthday: Option<Birthday>,
    pub today: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShippingOffer {
    /// No perk: the shop's own shipping applies.
    None,
    Free {
        reason: &'static str,
    },
    Flat {
        amount: i64,
        reason: &'static str,
    },
}

/// A discount that applies now, with where it comes from and what it is worth on this cart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PerkDiscount {
    /// `tier`, `birthday` or `offer:<id>`.
    pub source: String,
    pub name: String,
    pub discount: Discount,
    /// Minor units off this cart (0 for a gift or a free product the cart does not hold).
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Perks {
    pub shipping: ShippingOffer,
    pub discounts: Vec<PerkDiscount>,
}

/// Minor units `discount` takes off `cart`.
pub fn discount_amount(discount: &Discount, cart: &Cart) -> i64 {
    let subtotal = cart.subtotal();
    match discount {
        Discount::Fixed { amount } => (*amount).min(subtotal),
        Discount::Percent { basis_points } => {
            (i128::from(subtotal) * i128::from(*basis_points) / 10_000) as i64
        }
        Discount::FreeShipping => cart.shipping,
        Discount::FreeProduct { sku } => cart
            .lines
            .iter()
            .filter(|l| l.sku.as_deref() == Some(sku.as_str()))
            .map(|l| l.unit_price)
            .max()
            .unwrap_or(0),
        Discount::Gift { .. } => 0,
    }
}

/// What applies to this cart for this shopper now: shipping, the tier's standing discount,
/// the birthday discount inside its window, and the offers whose audience includes them.
pub fn perks(program: &Program, shopper: &Shopper<'_>, cart: &Cart) -> Perks {
    let subtotal = cart.subtotal();
    let shipping = if shopper.tier.is_some_and(|t| t.benefits.free_shipping) {
        ShippingOffer::Free { reason: "tier" }
    } else if program
        .shipping
        .free_over_minor
        .is_some_and(|cut| subtotal >= cut)
    {
        ShippingOffer::Free { reason: "threshold" }
    } else if let Some(flat) = program.shipping.flat_rate_minor.filter(|f| *f < cart.shipping) {
        ShippingOffer::Flat {
            amount: flat,
            reason: "flat_rate",
        }
    } else {
        ShippingOffer::None
    };
    let mut discounts = Vec::new();
    if let Some(t) = shopper.tier {
        if let Some(bp) = t.benefits.discount_bp.filter(|bp| *bp > 0) {
            let discount = Discount::Percent { basis_points: bp };
            discounts.push(PerkDiscount {
                source: "tier".into(),
                name: t.name.clone(),
                amount: discount_amount(&discount, cart),
                discount,
            });
        }
    }
    let birthday_bp = shopper
        .tier
        .and_then(|t| t.benefits.birthday_discount_bp)
        .unwrap_or(program.birthday.discount_bp);
    if birthday_bp > 0
        && shopper
            .birthday
            .is_some_and(|b| in_birthday_window(&b, shopper.today, program.birthday.window_days))
    {
        let discount = Discount::Percent {
            basis_points: birthday_bp,
        };
        discounts.push(PerkDiscount {
            source: "birthday".into(),
            name: "birthday".into(),
            amount: discount_amount(&discount, cart),
            discount,
        });
    }
    for offer in &program.offers {
        let in_dates =
            offer.from.is_none_or(|f| shopper.today >= f) && offer.to.is_none_or(|t| shopper.today <= t);
        let for_them = match &offer.audience {
            Audience::Everyone => true,
            Audience::NewCustomers => shopper.orders_count == 0,
            Audience::Returning { min_orders } => shopper.orders_count >= *min_orders,
            Audience::Tiers { tiers } => shopper.tier.is_some_and(|t| tiers.contains(&t.id)),
        };
        if in_dates && for_them && subtotal >= offer.minimum_spend_minor {
            discounts.push(PerkDiscount {
                source: format!("offer:{}", offer.id),
                name: offer.name.clone(),
                amount: discount_amount(&offer.discount, cart),
                discount: offer.discount.clone(),
            });
        }
    }
    Perks { shipping, discounts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CartLine, Currency};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn program() -> Program {
        Program {
            enabled: true,
            ..Program::default()
        }
    }

    fn line(sku: &str, net: i64) -> EarnLine {
        EarnLine {
            product_id: None,
            sku: Some(sku.into()),
            category: None,
            tags: vec![],
            net_amount: net,
        }
    }

    fn order(total: i64, shipping: i64, tax: i64, lines: Vec<EarnLine>) -> EarnOrder {
        EarnOrder {
            total,
            shipping,
            tax,
            lines,
            placed_on: day("2026-03-10"),
        }
    }

    #[test]
    fn an_order_earns_on_what_was_paid_without_shipping_and_tax() {
        // ₹2,499 paid, of which ₹99 shipping and ₹0 tax: 2,400 rupees at 1 point per rupee.
        let o = order(249_900, 9_900, 0, vec![line("TEA", 240_000)]);
        assert_eq!(order_points(&program(), &o, None), 2_400);
        let mut p = program();
        p.earn.exclude_shipping = false;
        assert_eq!(order_points(&p, &o, None), 2_499);
    }

    #[test]
    fn rounding_follows_the_rule() {
        let mut p = program();
        p.earn = EarnRule {
            points: 1,
            per_minor: 10_000,
            rounding: Rounding::Down,
            exclude_shipping: true,
            exclude_tax: true,
        };
        let o = order(15_000, 0, 0, vec![line("A", 15_000)]);
        assert_eq!(order_points(&p, &o, None), 1);
        p.earn.rounding = Rounding::Nearest;
        assert_eq!(order_points(&p, &o, None), 2);
        p.earn.rounding = Rounding::Up;
        assert_eq!(
            order_points(&p, &order(10_001, 0, 0, vec![line("A", 10_001)]), None),
            2
        );
    }

    #[test]
    fn product_multipliers_apply_to_their_lines_and_dates_and_tiers_to_the_order() {
        let mut p = program();
        p.multipliers = vec![
            Multiplier {
                target: MultiplierTarget::Sku { sku: "SAREE".into() },
                percent: 300,
            },
            Multiplier {
                target: MultiplierTarget::Dates {
                    from: day("2026-03-10"),
                    to: day("2026-03-10"),
                },
                percent: 200,
            },
        ];
        // 100 + 100 rupees, one line tripled: 100 + 300 = 400, doubled for the day = 800.
        let o = order(20_000, 0, 0, vec![line("SAREE", 10_000), line("TEA", 10_000)]);
        assert_eq!(order_points(&p, &o, None), 800);
        let gold = Tier {
            id: "gold".into(),
            name: "Gold".into(),
            threshold: 0,
            benefits: TierBenefits {
                earn_percent: 150,
                ..TierBenefits::default()
            },
        };
        assert_eq!(order_points(&p, &o, Some(&gold)), 1_200);
        let next_day = EarnOrder {
            placed_on: day("2026-03-11"),
            ..o
        };
        assert_eq!(order_points(&p, &next_day, None), 400);
    }

    #[test]
    fn refunds_take_back_only_the_refunded_share() {
        assert_eq!(points_kept(100, 10_000, 0, false), 100);
        assert_eq!(points_kept(100, 10_000, 2_500, false), 75);
        assert_eq!(points_kept(101, 10_000, 5_000, false), 50);
        assert_eq!(points_kept(100, 10_000, 10_000, false), 0);
        assert_eq!(points_kept(100, 10_000, 0, true), 0);
    }

    #[test]
    fn tiers_are_found_by_threshold_and_progress_names_the_next() {
        let ladder = TierLadder {
            metric: TierMetric::PointsEarned,
            window_days: Some(365),
            levels: vec![
                Tier {
                    id: "silver".into(),
                    name: "Silver".into(),
                    threshold: 500,
                    benefits: TierBenefits::default(),
                },
                Tier {
                    id: "gold".into(),
                    name: "Gold".into(),
                    threshold: 2_000,
                    benefits: TierBenefits::default(),
                },
            ],
        };
        assert_eq!(ladder.tier_for(499), None);
        assert_eq!(ladder.tier_for(500).unwrap().id, "silver");
        assert_eq!(ladder.tier_for(10_000).unwrap().id, "gold");
        let (next, missing) = ladder.progress(600).unwrap();
        assert_eq!((next.id.as_str(), missing), ("gold", 1_400));
        assert!(ladder.progress(2_000).is_none());
        assert!(ladder.is_promotion(Some("silver"), Some("gold")));
        assert!(!ladder.is_promotion(Some("gold"), Some("silver")));
        assert!(ladder.is_promotion(None, Some("silver")));
    }

    #[test]
    fn birthday_windows_cross_the_new_year() {
        let b = Birthday {
            month: 1,
            day: 2,
            year: None,
        };
        assert!(in_birthday_window(&b, day("2026-12-30"), 7));
        assert!(!in_birthday_window(&b, day("2026-12-20"), 7));
        let leap = Birthday {
            month: 2,
            day: 29,
            year: None,
        };
        assert!(in_birthday_window(&leap, day("2027-02-28"), 0));
    }

    #[test]
    fn periods_bucket_by_local_calendar() {
        assert_eq!(Period::Week.bucket(day("2026-12-02")), "2026-11-30");
        assert_eq!(Period::Month.bucket(day("2026-12-02")), "2026-12-01");
        assert_eq!(Period::Year.bucket(day("2026-12-02")), "2026-01-01");
        assert_eq!(Period::Lifetime.bucket(day("2026-12-02")), "life");
        let birthday = ActionRule {
            action: Action::Birthday,
            points: 50,
            cap: Some(Cap {
                count: 5,
                period: Period::Month,
            }),
        };
        // Birthday points stay once a year whatever the rule says.
        assert_eq!(birthday.effective_cap().unwrap().count, 1);
    }

    #[test]
    fn a_program_with_multipliers_and_tiers_survives_json() {
        let mut p = program();
        p.multipliers = vec![
            Multiplier {
                target: MultiplierTarget::Sku { sku: "SAREE".into() },
                percent: 300,
            },
            Multiplier {
                target: MultiplierTarget::Dates {
                    from: day("2026-10-20"),
                    to: day("2026-10-22"),
                },
                percent: 200,
            },
        ];
        p.tiers.levels = vec![Tier {
            id: "silver".into(),
            name: "Silver".into(),
            threshold: 10,
            benefits: TierBenefits::default(),
        }];
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(Program::from_json(&text).unwrap(), p);
        assert_eq!(
            serde_json::from_str::<TierBenefits>("{}").unwrap(),
            TierBenefits::default(),
            "the default earns at the normal rate"
        );
    }

    #[test]
    fn validation_names_the_field() {
        let mut p = program();
        p.tiers.levels = vec![
            Tier {
                id: "gold".into(),
                name: "Gold".into(),
                threshold: 100,
                benefits: TierBenefits::default(),
            },
            Tier {
                id: "silver".into(),
                name: "Silver".into(),
                threshold: 50,
                benefits: TierBenefits::default(),
            },
        ];
        let e = p.validate().unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("tiers.levels[1].threshold", "not_ascending")
        );
        let e = Program::from_json(
            r#"{"enabled": true, "earn": {"points": 1}, "value_per_100_points_minor": 1}"#,
        )
        .unwrap_err();
        assert!(e.message.contains("per_minor"), "{}", e.message);
        let e = Program::from_json(
            r#"{"enabled": true, "earn": {"points": 1, "per_minor": 0}, "value_per_100_points_minor": 1}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "earn.per_minor");
    }

    #[test]
    fn perks_cover_shipping_tier_birthday_and_offers_for_returning_customers() {
        let mut p = program();
        p.shipping = ShippingPerk {
            free_over_minor: Some(99_900),
            flat_rate_minor: Some(4_900),
        };
        p.birthday = BirthdayPerk {
            discount_bp: 1_000,
            window_days: 3,
        };
        p.offers = vec![Offer {
            id: "welcome-back".into(),
            name: "Welcome back".into(),
            discount: Discount::Fixed { amount: 10_000 },
            audience: Audience::Returning { min_orders: 1 },
            minimum_spend_minor: 50_000,
            from: None,
            to: None,
        }];
        let cart = Cart {
            currency: Currency::INR,
            lines: vec![CartLine {
                product_id: None,
                sku: Some("TEA".into()),
                category: None,
                tags: vec![],
                quantity: 2,
                unit_price: 30_000,
            }],
            shipping: 9_900,
        };
        let shopper = Shopper {
            tier: None,
            orders_count: 3,
            birthday: Some(Birthday {
                month: 3,
                day: 11,
                year: None,
            }),
            today: day("2026-03-10"),
        };
        let got = perks(&p, &shopper, &cart);
        assert_eq!(
            got.shipping,
            ShippingOffer::Flat {
                amount: 4_900,
                reason: "flat_rate"
            }
        );
        let sources: Vec<(&str, i64)> = got
            .discounts
            .iter()
            .map(|d| (d.source.as_str(), d.amount))
            .collect();
        assert_eq!(sources, vec![("birthday", 6_000), ("offer:welcome-back", 10_000)]);
        let newcomer = Shopper {
            orders_count: 0,
            birthday: None,
            ..shopper
        };
        assert!(perks(&p, &newcomer, &cart).discounts.is_empty());
    }
}
