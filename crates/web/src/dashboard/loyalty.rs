//! Loyalty (PRODUCT §3) in the dashboard: the program's settings with a live preview of what
//! an order earns, and the shared pieces of the other loyalty pages (members, rewards,
//! reports and the panel on a customer's profile).
//!
//! Everyone who reads the store sees the settings; changing them needs
//! [`Permission::ManageLoyalty`] and the session's CSRF token. The form names its inputs after
//! the program's own field paths (`earn.per_minor`, `tiers.levels[2].threshold`), so an error
//! from [`Program::validate`] lands next to the input it names. Amounts are typed in major
//! units of the store's currency and percentages as percent; both are kept as integers.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use regulars_domain::loyalty::{
    order_points, Action, ActionRule, Audience, BirthdayPerk, Cap, EarnLine, EarnOrder, EarnRule, Multiplier,
    MultiplierTarget, Offer, Period, Program, Rounding, ShippingPerk, Tier, TierBenefits, TierLadder,
    TierMetric,
};
use regulars_domain::{format_minor, new_id, parse_minor, Currency, Discount, FieldError, Permission, Role};
use regulars_i18n::{format_date, format_datetime, format_money, format_number, text, text_with, Lang};
use regulars_store::{StoreError, StoreRecord};
use serde::Deserialize;

use super::pages::{render, Chrome};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/loyalty", get(program_page).post(save_program))
        .route("/app/{store}/loyalty/preview", post(preview))
        .merge(super::loyalty_members::routes())
        .merge(super::loyalty_rewards::routes())
        .merge(super::loyalty_reports::routes())
}

/// The section's path under the store, for the navigation.
pub const SECTION: &str = "/loyalty";

// ---------------------------------------------------------------------------------------------
// Pieces the loyalty pages share

/// One of the loyalty pages' tabs.
pub struct TabLink {
    pub href: String,
    pub label: String,
    pub current: bool,
}

pub fn tabs(lang: Lang, store: &StoreRecord, current: &str) -> Vec<TabLink> {
    [
        ("", "loyalty-tab-program"),
        ("/members", "loyalty-tab-members"),
        ("/rewards", "loyalty-tab-rewards"),
        ("/reports", "loyalty-tab-reports"),
    ]
    .into_iter()
    .map(|(path, label)| TabLink {
        href: format!("/app/{}/loyalty{path}", store.id),
        label: text(lang, label),
        current: path == current,
    })
    .collect()
}

/// A text input as the page shows it: its name, what it holds and what was wrong with it.
#[derive(Clone, Default)]
pub struct Input {
    pub name: String,
    pub value: String,
    pub error: Option<String>,
}

impl Input {
    pub fn checked(&self) -> bool {
        !self.value.is_empty()
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A select: its input and its options, the current value selected.
pub struct Select {
    pub input: Input,
    pub options: Vec<Choice>,
}

/// What a form holds (as typed, or as stored) and the errors found in it, by input name.
#[derive(Default)]
pub struct FormState {
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
}

impl FormState {
    pub fn from_fields(fields: &[(String, String)]) -> FormState {
        FormState {
            values: fields.iter().cloned().collect(),
            errors: HashMap::new(),
        }
    }

    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(|v| v.trim()).unwrap_or("")
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    pub fn flag(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    pub fn input(&self, name: &str) -> Input {
        Input {
            name: name.to_string(),
            value: self.values.get(name).cloned().unwrap_or_default(),
            error: self.errors.get(name).cloned(),
        }
    }

    pub fn select(&self, name: &str, options: &[(String, String)]) -> Select {
        let input = self.input(name);
        let current = input.value.clone();
        Select {
            options: options
                .iter()
                .map(|(value, label)| Choice {
                    value: value.clone(),
                    label: label.clone(),
                    selected: *value == current,
                })
                .collect(),
            input,
        }
    }

    /// Records an error once: the first one found for an input is the one shown.
    pub fn fail(&mut self, name: impl Into<String>, message: String) {
        self.errors.entry(name.into()).or_insert(message);
    }

    /// The sorted row numbers the form sent for a list (`offers[3].name` → 3).
    pub fn rows(&self, list: &str) -> Vec<usize> {
        let prefix = format!("{list}[");
        let rows: BTreeSet<usize> = self
            .values
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter_map(|rest| rest.split_once(']'))
            .filter_map(|(n, _)| n.parse().ok())
            .collect();
        rows.into_iter().collect()
    }
}

/// A number as people type it: grouping spaces and separators dropped, currency signs and `%`
/// ignored, and in Armenian a decimal comma.
pub fn typed_number(lang: Lang, raw: &str) -> String {
    let kept: String = raw
        .chars()
        .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-'))
        .collect();
    if lang == Lang::Hy && kept.contains(',') && !kept.contains('.') {
        kept.replace(',', ".")
    } else {
        kept.replace(',', "")
    }
}

/// An amount typed in major units of the currency, in minor units.
pub fn parse_money(lang: Lang, raw: &str, currency: Currency) -> Result<i64, String> {
    let digits = typed_number(lang, raw);
    if digits.is_empty() {
        return Err(money_error(lang, currency));
    }
    parse_minor(&digits, currency.exponent()).map_err(|_| money_error(lang, currency))
}

fn money_error(lang: Lang, currency: Currency) -> String {
    let example = format_minor(1_500 * 10i64.pow(currency.exponent()), currency.exponent());
    text_with(lang, "loyalty-error-amount", &[("example", &example)])
}

/// Minor units as the form shows them for editing: `2499`, `12.50`.
pub fn money_text(minor: i64, currency: Currency) -> String {
    let text = format_minor(minor, currency.exponent());
    match text.strip_suffix(&format!(".{}", "0".repeat(currency.exponent() as usize))) {
        Some(whole) if currency.exponent() > 0 => whole.to_string(),
        _ => text,
    }
}

/// A percentage typed as percent (`12.5`), in basis points (1,250).
pub fn parse_percent_bp(lang: Lang, raw: &str) -> Result<i64, String> {
    let digits = typed_number(lang, raw);
    if digits.is_empty() {
        return Err(text(lang, "loyalty-error-percent"));
    }
    parse_minor(&digits, 2).map_err(|_| text(lang, "loyalty-error-percent"))
}

/// Basis points as percent for editing: 1,250 → `12.5`.
pub fn percent_text(bp: i64) -> String {
    let text = format_minor(bp, 2);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A whole number (points, days, a count).
pub fn parse_whole(lang: Lang, raw: &str) -> Result<i64, String> {
    let digits = typed_number(lang, raw);
    digits
        .parse::<i64>()
        .map_err(|_| text(lang, "loyalty-error-whole"))
}

pub fn parse_day(lang: Lang, raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| text(lang, "loyalty-error-date"))
}

/// The kinds of discount a reward or an offer gives, as the form's select offers them.
pub const DISCOUNT_KINDS: [&str; 5] = ["fixed", "percent", "free_shipping", "free_product", "gift"];

pub fn discount_options(lang: Lang, currency: Currency) -> Vec<(String, String)> {
    DISCOUNT_KINDS
        .iter()
        .map(|k| {
            let label = text_with(
                lang,
                &format!("loyalty-discount-{}", k.replace('_', "-")),
                &[("currency", currency.code())],
            );
            (k.to_string(), label)
        })
        .collect()
}

/// A discount from its kind and the one value the form asks for it (amount, percent, SKU or
/// description); an error is for the value's input.
pub fn parse_discount(lang: Lang, kind: &str, value: &str, currency: Currency) -> Result<Discount, String> {
    Ok(match kind {
        "fixed" => Discount::Fixed {
            amount: parse_money(lang, value, currency)?,
        },
        "percent" => Discount::Percent {
            basis_points: parse_percent_bp(lang, value)?,
        },
        "free_shipping" => Discount::FreeShipping,
        "free_product" => Discount::FreeProduct {
            sku: value.trim().to_string(),
        },
        "gift" => Discount::Gift {
            description: value.trim().to_string(),
        },
        _ => return Err(text(lang, "loyalty-error-choice")),
    })
}

/// A discount as the form's kind and value.
pub fn discount_fields(d: &Discount, currency: Currency) -> (&'static str, String) {
    match d {
        Discount::Fixed { amount } => ("fixed", money_text(*amount, currency)),
        Discount::Percent { basis_points } => ("percent", percent_text(*basis_points)),
        Discount::FreeShipping => ("free_shipping", String::new()),
        Discount::FreeProduct { sku } => ("free_product", sku.clone()),
        Discount::Gift { description } => ("gift", description.clone()),
    }
}

/// A discount in words: `₹100.00 off`, `10% off`, `free shipping`.
pub fn discount_words(lang: Lang, d: &Discount, currency: Currency) -> String {
    match d {
        Discount::Fixed { amount } => text_with(
            lang,
            "loyalty-discount-words-fixed",
            &[("amount", &format_money(lang, *amount, currency))],
        ),
        Discount::Percent { basis_points } => text_with(
            lang,
            "loyalty-discount-words-percent",
            &[("percent", &percent_text(*basis_points))],
        ),
        Discount::FreeShipping => text(lang, "loyalty-discount-words-free-shipping"),
        Discount::FreeProduct { sku } => {
            text_with(lang, "loyalty-discount-words-free-product", &[("sku", sku)])
        }
        Discount::Gift { description } => text_with(
            lang,
            "loyalty-discount-words-gift",
            &[("description", description)],
        ),
    }
}

/// Which input an error of the domain is about: list positions of the program become the
/// form's rows (`mapped` pairs `multipliers[1]` with `days[0]`, say), and a discount's amount,
/// percent, SKU or description is the one value input the form has for it.
pub fn form_field(field: &str, mapped: &[(String, String)]) -> String {
    let mut out = field.to_string();
    for (domain, form) in mapped {
        if let Some(rest) = field.strip_prefix(domain.as_str()) {
            if rest.is_empty() || rest.starts_with('.') {
                out = format!("{form}{rest}");
                break;
            }
        }
    }
    for leaf in ["amount", "basis_points", "sku", "description"] {
        if let Some(head) = out.strip_suffix(&format!("discount.{leaf}")) {
            return format!("{head}discount.value");
        }
    }
    if out.starts_with("actions[") && out.ends_with("].action") {
        return format!("{out}.name");
    }
    if out.starts_with("offers[") && out.ends_with("].id") {
        return format!("{}.name", out.trim_end_matches(".id"));
    }
    out
}

/// The message for an error of the program, a reward or an adjustment, in the reader's
/// language: by the field (without its row) and the code.
pub fn error_text(lang: Lang, e: &FieldError) -> String {
    let mut general = String::with_capacity(e.field.len());
    let mut in_index = false;
    for c in e.field.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if !in_index => general.push(c),
            _ => {}
        }
    }
    let leaf = general.rsplit('.').next().unwrap_or("");
    let id = match (general.as_str(), leaf, e.code) {
        ("earn.points", _, _) => "loyalty-error-earn-points",
        ("earn.per_minor", _, _) => "loyalty-error-per-amount",
        ("multipliers.percent", _, _) | ("tiers.levels.benefits.earn_percent", _, _) => {
            "loyalty-error-multiplier"
        }
        (_, _, "bad_range") => "loyalty-error-date-range",
        ("actions.points", _, _) => "loyalty-error-action-points",
        ("actions.cap.count", _, _) => "loyalty-error-cap",
        ("actions.action", _, "duplicate") => "loyalty-error-action-duplicate",
        (_, "id", "invalid_id") => "loyalty-error-tier-id",
        ("tiers.levels.id", _, "duplicate") => "loyalty-error-tier-id-duplicate",
        ("offers.id", _, _) => "loyalty-error-offer-id",
        (_, _, "not_ascending") => "loyalty-error-threshold",
        (_, "birthday_discount_bp" | "discount_bp", _) => "loyalty-error-percent-range",
        ("tiers.window_days", _, _) => "loyalty-error-window",
        ("pending_days", _, _) => "loyalty-error-pending-days",
        ("expiry_days", _, _) => "loyalty-error-expiry-days",
        ("expiry_warning_days", _, _) => "loyalty-error-warning-days",
        ("birthday.window_days", _, _) => "loyalty-error-birthday-window",
        (_, "amount", _) => "loyalty-error-discount-amount",
        (_, "basis_points", _) => "loyalty-error-discount-percent",
        (_, "sku", _) => "loyalty-error-sku",
        (_, "description", _) => "loyalty-error-gift",
        ("reason", _, _) => "loyalty-error-reason",
        ("points", _, _) => "loyalty-error-adjust-points",
        ("points_cost", _, _) => "loyalty-error-points-cost",
        ("stock", _, _) => "loyalty-error-stock",
        ("per_customer_limit" | "coupon_valid_days", _, _) => "loyalty-error-at-least-one",
        (_, _, "required") => "loyalty-error-required",
        (_, _, "out_of_range") => "loyalty-error-negative",
        _ => return e.message.clone(),
    };
    text(lang, id)
}

/// A tier's name for a reader: the program's name for it, else its id (a tier since removed).
pub fn tier_name(program: &Program, id: &str) -> String {
    program
        .tiers
        .get(id)
        .map(|t| t.name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// Who did something, as staff read it: a person's email for `user:<id>`, else the actor as
/// recorded (`system`, `api_key:…`).
pub fn actor_name(actor: &str, people: &[(regulars_store::UserRecord, Role)]) -> String {
    actor
        .strip_prefix("user:")
        .and_then(|id| people.iter().find(|(u, _)| u.id.to_string() == id))
        .map(|(u, _)| u.email.to_string())
        .unwrap_or_else(|| actor.to_string())
}

/// A date (epoch ms) in the store's zone, in the reader's words.
pub fn day(lang: Lang, store: &StoreRecord, at: i64) -> String {
    format_date(lang, regulars_domain::Timestamp(at), store.timezone.0)
}

/// Today's date in the store's zone.
pub fn today(store: &StoreRecord) -> NaiveDate {
    regulars_domain::Timestamp::now()
        .to_datetime()
        .with_timezone(&store.timezone.0)
        .date_naive()
}

// ---------------------------------------------------------------------------------------------
// The program as a form

const BUILTIN_ACTIONS: [&str; 6] = [
    "sign_up",
    "birthday",
    "review",
    "survey",
    "social_follow",
    "referral",
];
const PERIODS: [&str; 5] = ["day", "week", "month", "year", "lifetime"];
const PRODUCT_TARGETS: [&str; 4] = ["sku", "product", "category", "tag"];
const AUDIENCES: [&str; 4] = ["everyone", "new_customers", "returning", "tiers"];

fn period_key(p: Period) -> &'static str {
    match p {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
        Period::Year => "year",
        Period::Lifetime => "lifetime",
    }
}

fn parse_period(s: &str) -> Option<Period> {
    Some(match s {
        "day" => Period::Day,
        "week" => Period::Week,
        "month" => Period::Month,
        "year" => Period::Year,
        "lifetime" => Period::Lifetime,
        _ => return None,
    })
}

fn action_from_key(kind: &str, name: &str) -> Option<Action> {
    Some(match kind {
        "sign_up" => Action::SignUp,
        "birthday" => Action::Birthday,
        "review" => Action::Review,
        "survey" => Action::Survey,
        "social_follow" => Action::SocialFollow,
        "referral" => Action::Referral,
        "custom" => Action::Custom {
            name: name.trim().to_string(),
        },
        _ => return None,
    })
}

fn action_kind(a: &Action) -> &'static str {
    match a {
        Action::SignUp => "sign_up",
        Action::Birthday => "birthday",
        Action::Review => "review",
        Action::Survey => "survey",
        Action::SocialFollow => "social_follow",
        Action::Referral => "referral",
        Action::Custom { .. } => "custom",
    }
}

/// The stored program as the form's values, with one empty row at the end of every list to add
/// to it.
pub fn program_values(program: &Program, currency: Currency) -> FormState {
    let mut f = FormState::default();
    let money = |m: i64| money_text(m, currency);
    if program.enabled {
        f.set("enabled", "1");
    }
    f.set("earn.points", program.earn.points.to_string());
    f.set("earn.per_minor", money(program.earn.per_minor));
    f.set(
        "earn.rounding",
        match program.earn.rounding {
            Rounding::Down => "down",
            Rounding::Nearest => "nearest",
            Rounding::Up => "up",
        },
    );
    if program.earn.exclude_shipping {
        f.set("earn.exclude_shipping", "1");
    }
    if program.earn.exclude_tax {
        f.set("earn.exclude_tax", "1");
    }
    f.set("pending_days", program.pending_days.to_string());
    f.set(
        "expiry_days",
        program.expiry_days.map(|d| d.to_string()).unwrap_or_default(),
    );
    f.set("expiry_warning_days", program.expiry_warning_days.to_string());
    f.set(
        "value_per_100_points_minor",
        money(program.value_per_100_points_minor),
    );
    f.set(
        "tiers.metric",
        match program.tiers.metric {
            TierMetric::PointsEarned => "points_earned",
            TierMetric::MoneySpent => "money_spent",
        },
    );
    f.set(
        "tiers.window_days",
        program
            .tiers
            .window_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    let by_money = program.tiers.metric == TierMetric::MoneySpent;
    let levels = program.tiers.levels.len();
    for (i, t) in program.tiers.levels.iter().enumerate() {
        let p = format!("tiers.levels[{i}]");
        f.set(format!("{p}.id"), t.id.clone());
        f.set(format!("{p}.name"), t.name.clone());
        f.set(
            format!("{p}.threshold"),
            if by_money {
                money(t.threshold)
            } else {
                t.threshold.to_string()
            },
        );
        let b = &t.benefits;
        f.set(format!("{p}.benefits.earn_percent"), b.earn_percent.to_string());
        if b.free_shipping {
            f.set(format!("{p}.benefits.free_shipping"), "1");
        }
        if let Some(bp) = b.birthday_discount_bp {
            f.set(format!("{p}.benefits.birthday_discount_bp"), percent_text(bp));
        }
        if let Some(bp) = b.discount_bp {
            f.set(format!("{p}.benefits.discount_bp"), percent_text(bp));
        }
        if b.early_access {
            f.set(format!("{p}.benefits.early_access"), "1");
        }
        if let Some(g) = &b.gift_reward_id {
            f.set(format!("{p}.benefits.gift_reward_id"), g.clone());
        }
    }
    f.set(format!("tiers.levels[{levels}].name"), "");
    for (i, kind) in BUILTIN_ACTIONS.iter().enumerate() {
        f.set(format!("actions[{i}].action.kind"), *kind);
        f.set(format!("actions[{i}].cap.period"), "day");
    }
    let mut next_custom = BUILTIN_ACTIONS.len();
    for rule in &program.actions {
        let kind = action_kind(&rule.action);
        let i = match BUILTIN_ACTIONS.iter().position(|k| *k == kind) {
            Some(i) => i,
            None => {
                next_custom += 1;
                next_custom - 1
            }
        };
        let p = format!("actions[{i}]");
        f.set(format!("{p}.action.kind"), kind);
        if let Action::Custom { name } = &rule.action {
            f.set(format!("{p}.action.name"), name.clone());
        }
        f.set(format!("{p}.points"), rule.points.to_string());
        if let Some(cap) = rule.cap {
            f.set(format!("{p}.cap.count"), cap.count.to_string());
            f.set(format!("{p}.cap.period"), period_key(cap.period));
        }
    }
    f.set(format!("actions[{next_custom}].action.kind"), "custom");
    f.set(format!("actions[{next_custom}].cap.period"), "day");
    let (mut products, mut days) = (0, 0);
    for m in &program.multipliers {
        let (p, target) = match &m.target {
            MultiplierTarget::Dates { from, to } => {
                let p = format!("days[{days}]");
                days += 1;
                f.set(format!("{p}.from"), from.to_string());
                f.set(format!("{p}.to"), to.to_string());
                (p, None)
            }
            MultiplierTarget::Sku { sku } => (format!("products[{products}]"), Some(("sku", sku))),
            MultiplierTarget::Product { product_id } => {
                (format!("products[{products}]"), Some(("product", product_id)))
            }
            MultiplierTarget::Category { category } => {
                (format!("products[{products}]"), Some(("category", category)))
            }
            MultiplierTarget::Tag { tag } => (format!("products[{products}]"), Some(("tag", tag))),
        };
        if let Some((kind, value)) = target {
            products += 1;
            f.set(format!("{p}.kind"), kind);
            f.set(format!("{p}.value"), value.clone());
        }
        f.set(format!("{p}.percent"), m.percent.to_string());
    }
    f.set(format!("products[{products}].kind"), "sku");
    f.set(format!("days[{days}].percent"), "");
    f.set(
        "shipping.free_over_minor",
        program.shipping.free_over_minor.map(money).unwrap_or_default(),
    );
    f.set(
        "shipping.flat_rate_minor",
        program.shipping.flat_rate_minor.map(money).unwrap_or_default(),
    );
    f.set("birthday.discount_bp", percent_text(program.birthday.discount_bp));
    f.set("birthday.window_days", program.birthday.window_days.to_string());
    for (i, o) in program.offers.iter().enumerate() {
        let p = format!("offers[{i}]");
        f.set(format!("{p}.id"), o.id.clone());
        f.set(format!("{p}.name"), o.name.clone());
        let (kind, value) = discount_fields(&o.discount, currency);
        f.set(format!("{p}.discount.kind"), kind);
        f.set(format!("{p}.discount.value"), value);
        let (audience, audience_value) = match &o.audience {
            Audience::Everyone => ("everyone", String::new()),
            Audience::NewCustomers => ("new_customers", String::new()),
            Audience::Returning { min_orders } => ("returning", min_orders.to_string()),
            Audience::Tiers { tiers } => ("tiers", tiers.join(", ")),
        };
        f.set(format!("{p}.audience.kind"), audience);
        f.set(format!("{p}.audience.value"), audience_value);
        f.set(format!("{p}.minimum_spend_minor"), money(o.minimum_spend_minor));
        f.set(
            format!("{p}.from"),
            o.from.map(|d| d.to_string()).unwrap_or_default(),
        );
        f.set(format!("{p}.to"), o.to.map(|d| d.to_string()).unwrap_or_default());
    }
    let offers = program.offers.len();
    f.set(format!("offers[{offers}].discount.kind"), "percent");
    f.set(format!("offers[{offers}].audience.kind"), "returning");
    f.set(format!("offers[{offers}].audience.value"), "1");
    f
}

/// A lowercase id from a name (`Gold Plus` → `gold-plus`); empty when the name has no Latin
/// letters or digits.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(40).collect()
}

/// Reads typed values out of a form, recording what cannot be read against its input.
pub struct Reader<'a> {
    pub lang: Lang,
    pub currency: Currency,
    pub f: &'a mut FormState,
}

impl Reader<'_> {
    pub fn get(&self, name: &str) -> String {
        self.f.get(name).to_string()
    }

    fn fail<T>(&mut self, name: &str, message: String) -> Option<T> {
        self.f.fail(name, message);
        None
    }

    pub fn whole(&mut self, name: &str) -> Option<i64> {
        match parse_whole(self.lang, &self.get(name)) {
            Ok(v) => Some(v),
            Err(m) => self.fail(name, m),
        }
    }

    /// A count of days, 0 or more.
    pub fn days(&mut self, name: &str) -> Option<u32> {
        match self.whole(name).map(u32::try_from) {
            Some(Ok(d)) => Some(d),
            Some(Err(_)) => self.fail(name, text(self.lang, "loyalty-error-whole")),
            None => None,
        }
    }

    /// Empty is `None`; otherwise a count of days.
    pub fn optional_days(&mut self, name: &str) -> Option<Option<u32>> {
        if self.get(name).is_empty() {
            Some(None)
        } else {
            self.days(name).map(Some)
        }
    }

    pub fn optional_whole(&mut self, name: &str) -> Option<Option<i64>> {
        if self.get(name).is_empty() {
            Some(None)
        } else {
            self.whole(name).map(Some)
        }
    }

    pub fn money(&mut self, name: &str) -> Option<i64> {
        match parse_money(self.lang, &self.get(name), self.currency) {
            Ok(v) => Some(v),
            Err(m) => self.fail(name, m),
        }
    }

    pub fn optional_money(&mut self, name: &str) -> Option<Option<i64>> {
        if self.get(name).is_empty() {
            Some(None)
        } else {
            self.money(name).map(Some)
        }
    }

    pub fn optional_percent(&mut self, name: &str) -> Option<Option<i64>> {
        if self.get(name).is_empty() {
            return Some(None);
        }
        match parse_percent_bp(self.lang, &self.get(name)) {
            Ok(v) => Some(Some(v)),
            Err(m) => self.fail(name, m),
        }
    }

    pub fn optional_date(&mut self, name: &str) -> Option<Option<NaiveDate>> {
        if self.get(name).is_empty() {
            return Some(None);
        }
        match parse_day(self.lang, &self.get(name)) {
            Ok(d) => Some(Some(d)),
            Err(m) => self.fail(name, m),
        }
    }

    pub fn discount(&mut self, kind_name: &str, value_name: &str) -> Option<Discount> {
        match parse_discount(
            self.lang,
            &self.get(kind_name),
            &self.get(value_name),
            self.currency,
        ) {
            Ok(d) => Some(d),
            Err(m) => self.fail(value_name, m),
        }
    }
}

/// The program the form describes, or `None` with the form's errors recorded. Empty rows are
/// skipped and rows marked for removal dropped; the pairs returned name each list position of
/// the program with the form's row it came from.
pub fn parse_program(
    lang: Lang,
    currency: Currency,
    f: &mut FormState,
) -> Option<(Program, Vec<(String, String)>)> {
    let mut mapped = Vec::new();
    let mut r = Reader { lang, currency, f };
    let mut program = Program {
        enabled: r.f.flag("enabled"),
        ..Program::default()
    };
    let points = r.whole("earn.points");
    let per_minor = r.money("earn.per_minor");
    let rounding = match r.get("earn.rounding").as_str() {
        "nearest" => Rounding::Nearest,
        "up" => Rounding::Up,
        _ => Rounding::Down,
    };
    if let (Some(points), Some(per_minor)) = (points, per_minor) {
        program.earn = EarnRule {
            points,
            per_minor,
            rounding,
            exclude_shipping: r.f.flag("earn.exclude_shipping"),
            exclude_tax: r.f.flag("earn.exclude_tax"),
        };
    }
    if let Some(d) = r.days("pending_days") {
        program.pending_days = d;
    }
    if let Some(d) = r.optional_days("expiry_days") {
        program.expiry_days = d;
    }
    if let Some(d) = r.days("expiry_warning_days") {
        program.expiry_warning_days = d;
    }
    if let Some(v) = r.money("value_per_100_points_minor") {
        program.value_per_100_points_minor = v;
    }

    // Tiers.
    let metric = if r.get("tiers.metric") == "money_spent" {
        TierMetric::MoneySpent
    } else {
        TierMetric::PointsEarned
    };
    let window_days = r.optional_days("tiers.window_days").unwrap_or(None);
    let mut levels = Vec::new();
    for i in r.f.rows("tiers.levels") {
        let p = format!("tiers.levels[{i}]");
        let n = |leaf: &str| format!("{p}.{leaf}");
        let (id, name, threshold) = (r.get(&n("id")), r.get(&n("name")), r.get(&n("threshold")));
        if r.f.flag(&n("remove")) || (id.is_empty() && name.is_empty() && threshold.is_empty()) {
            continue;
        }
        // A new tier named in Latin letters gets its id from the name.
        let id = if id.is_empty() { slug(&name) } else { id };
        r.f.set(n("id"), id.clone());
        let threshold = if metric == TierMetric::MoneySpent {
            r.money(&n("threshold"))
        } else {
            r.whole(&n("threshold"))
        };
        let earn_percent = r
            .optional_whole(&n("benefits.earn_percent"))
            .map(|p| p.unwrap_or(100));
        let birthday = r.optional_percent(&n("benefits.birthday_discount_bp"));
        let discount = r.optional_percent(&n("benefits.discount_bp"));
        let gift = r.get(&n("benefits.gift_reward_id"));
        if let (Some(threshold), Some(earn_percent), Some(birthday), Some(discount)) =
            (threshold, earn_percent, birthday, discount)
        {
            mapped.push((format!("tiers.levels[{}]", levels.len()), p.clone()));
            levels.push(Tier {
                id,
                name,
                threshold,
                benefits: TierBenefits {
                    earn_percent,
                    free_shipping: r.f.flag(&n("benefits.free_shipping")),
                    birthday_discount_bp: birthday,
                    discount_bp: discount,
                    early_access: r.f.flag(&n("benefits.early_access")),
                    gift_reward_id: (!gift.is_empty()).then_some(gift),
                },
            });
        }
    }
    program.tiers = TierLadder {
        metric,
        window_days,
        levels,
    };

    // Actions: a rule for each action given points.
    let mut actions = Vec::new();
    for i in r.f.rows("actions") {
        let p = format!("actions[{i}]");
        let n = |leaf: &str| format!("{p}.{leaf}");
        let (kind, name) = (r.get(&n("action.kind")), r.get(&n("action.name")));
        if r.get(&n("points")).is_empty() {
            if kind == "custom" && !name.is_empty() {
                r.f.fail(n("points"), text(lang, "loyalty-error-whole"));
            }
            continue;
        }
        let Some(action) = action_from_key(&kind, &name) else {
            r.f.fail(n("action.name"), text(lang, "loyalty-error-choice"));
            continue;
        };
        let points = r.whole(&n("points"));
        let period = parse_period(&r.get(&n("cap.period"))).unwrap_or(Period::Day);
        let cap = r
            .optional_whole(&n("cap.count"))
            .map(|count| count.map(|count| Cap { count, period }));
        if let (Some(points), Some(cap)) = (points, cap) {
            mapped.push((format!("actions[{}]", actions.len()), p.clone()));
            actions.push(ActionRule { action, points, cap });
        }
    }
    program.actions = actions;

    // Multipliers: products first, then double-points days.
    let mut multipliers = Vec::new();
    for i in r.f.rows("products") {
        let p = format!("products[{i}]");
        let n = |leaf: &str| format!("{p}.{leaf}");
        let value = r.get(&n("value"));
        if value.is_empty() && r.get(&n("percent")).is_empty() {
            continue;
        }
        if value.is_empty() {
            r.f.fail(n("value"), text(lang, "loyalty-error-required"));
            continue;
        }
        let target = match r.get(&n("kind")).as_str() {
            "product" => MultiplierTarget::Product { product_id: value },
            "category" => MultiplierTarget::Category { category: value },
            "tag" => MultiplierTarget::Tag { tag: value },
            _ => MultiplierTarget::Sku { sku: value },
        };
        if let Some(percent) = r.whole(&n("percent")) {
            mapped.push((format!("multipliers[{}]", multipliers.len()), p.clone()));
            multipliers.push(Multiplier { target, percent });
        }
    }
    for i in r.f.rows("days") {
        let p = format!("days[{i}]");
        let n = |leaf: &str| format!("{p}.{leaf}");
        if ["from", "to", "percent"].iter().all(|l| r.get(&n(l)).is_empty()) {
            continue;
        }
        let from = r.optional_date(&n("from"));
        let to = r.optional_date(&n("to"));
        let percent = r.whole(&n("percent"));
        match (from, to, percent) {
            (Some(Some(from)), Some(to), Some(percent)) => {
                mapped.push((format!("multipliers[{}]", multipliers.len()), p.clone()));
                multipliers.push(Multiplier {
                    // A single day needs only its first date.
                    target: MultiplierTarget::Dates {
                        from,
                        to: to.unwrap_or(from),
                    },
                    percent,
                });
            }
            (Some(None), _, _) => r.f.fail(n("from"), text(lang, "loyalty-error-date")),
            _ => {}
        }
    }
    program.multipliers = multipliers;

    // Perks.
    let free_over = r.optional_money("shipping.free_over_minor");
    let flat_rate = r.optional_money("shipping.flat_rate_minor");
    if let (Some(free_over_minor), Some(flat_rate_minor)) = (free_over, flat_rate) {
        program.shipping = ShippingPerk {
            free_over_minor,
            flat_rate_minor,
        };
    }
    let birthday_bp = r.optional_percent("birthday.discount_bp");
    let birthday_window = r.optional_days("birthday.window_days");
    if let (Some(discount_bp), Some(window_days)) = (birthday_bp, birthday_window) {
        program.birthday = BirthdayPerk {
            discount_bp: discount_bp.unwrap_or(0),
            window_days: window_days.unwrap_or(7),
        };
    }

    // Offers.
    let mut offers = Vec::new();
    for i in r.f.rows("offers") {
        let p = format!("offers[{i}]");
        let n = |leaf: &str| format!("{p}.{leaf}");
        let (id, name) = (r.get(&n("id")), r.get(&n("name")));
        let blank = id.is_empty() && name.is_empty() && r.get(&n("discount.value")).is_empty();
        if r.f.flag(&n("remove")) || blank {
            continue;
        }
        let discount = r.discount(&n("discount.kind"), &n("discount.value"));
        let audience = match r.get(&n("audience.kind")).as_str() {
            "everyone" => Some(Audience::Everyone),
            "new_customers" => Some(Audience::NewCustomers),
            "tiers" => Some(Audience::Tiers {
                tiers: r
                    .get(&n("audience.value"))
                    .split(',')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
            }),
            _ => r
                .optional_whole(&n("audience.value"))
                .map(|min| Audience::Returning {
                    min_orders: min.unwrap_or(1),
                }),
        };
        let minimum = r
            .optional_money(&n("minimum_spend_minor"))
            .map(|m| m.unwrap_or(0));
        let from = r.optional_date(&n("from"));
        let to = r.optional_date(&n("to"));
        // A new offer gets a lasting id of its own: checkouts name the offer by it.
        let id = if id.is_empty() { new_id().to_string() } else { id };
        r.f.set(n("id"), id.clone());
        if let (Some(discount), Some(audience), Some(minimum_spend_minor), Some(from), Some(to)) =
            (discount, audience, minimum, from, to)
        {
            mapped.push((format!("offers[{}]", offers.len()), p.clone()));
            offers.push(Offer {
                id,
                name,
                discount,
                audience,
                minimum_spend_minor,
                from,
                to,
            });
        }
    }
    program.offers = offers;

    if !f.errors.is_empty() {
        return None;
    }
    if let Err(e) = program.validate() {
        f.fail(form_field(&e.field, &mapped), error_text(lang, &e));
        return None;
    }
    Some((program, mapped))
}

// ---------------------------------------------------------------------------------------------
// The page

pub struct TierRow {
    pub id: Input,
    pub name: Input,
    pub threshold: Input,
    pub earn_percent: Input,
    pub free_shipping: Input,
    pub birthday: Input,
    pub discount: Input,
    pub early_access: Input,
    pub gift: Select,
    pub remove: Input,
}

pub struct ActionRow {
    pub kind: Input,
    pub label: String,
    pub custom: bool,
    pub name: Input,
    pub points: Input,
    pub cap_count: Input,
    pub cap_period: Select,
}

pub struct ProductRow {
    pub kind: Select,
    pub value: Input,
    pub percent: Input,
}

pub struct DaysRow {
    pub from: Input,
    pub to: Input,
    pub percent: Input,
}

pub struct OfferRow {
    pub id: Input,
    pub name: Input,
    pub discount_kind: Select,
    pub discount_value: Input,
    pub audience_kind: Select,
    pub audience_value: Input,
    pub minimum: Input,
    pub from: Input,
    pub to: Input,
    pub remove: Input,
}

#[derive(Template)]
#[template(path = "loyalty_program.html")]
pub struct ProgramPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub action: String,
    pub csrf: String,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub updated: Option<String>,
    pub currency: String,
    pub enabled: Input,
    pub points: Input,
    pub per_minor: Input,
    pub rounding: Select,
    pub exclude_shipping: Input,
    pub exclude_tax: Input,
    pub pending_days: Input,
    pub expiry_days: Input,
    pub warning_days: Input,
    pub point_value: Input,
    pub metric: Select,
    pub window_days: Input,
    pub threshold_hint: String,
    pub tiers: Vec<TierRow>,
    pub actions: Vec<ActionRow>,
    pub products: Vec<ProductRow>,
    pub days: Vec<DaysRow>,
    pub free_over: Input,
    pub flat_rate: Input,
    pub birthday_percent: Input,
    pub birthday_window: Input,
    pub offers: Vec<OfferRow>,
    pub preview_amount: String,
    pub preview: PreviewPart,
}

#[derive(Template)]
#[template(path = "loyalty_preview.html")]
pub struct PreviewPart {
    pub t: super::pages::Tr,
    pub off: bool,
    pub error: Option<String>,
    pub earns: Option<String>,
    pub tiers: Vec<String>,
    pub worth: Option<String>,
}

fn options(lang: Lang, prefix: &str, keys: &[&str]) -> Vec<(String, String)> {
    keys.iter()
        .map(|k| {
            (
                k.to_string(),
                text(lang, &format!("{prefix}-{}", k.replace('_', "-"))),
            )
        })
        .collect()
}

/// The rows of the form's lists.
struct FormRows {
    tiers: Vec<TierRow>,
    actions: Vec<ActionRow>,
    products: Vec<ProductRow>,
    days: Vec<DaysRow>,
    offers: Vec<OfferRow>,
}

/// The form as the template shows it, with its errors, and one empty row per list.
fn form_view(
    lang: Lang,
    currency: Currency,
    f: &FormState,
    rewards: &[regulars_store::RewardRecord],
) -> FormRows {
    let mut gifts = vec![(String::new(), text(lang, "loyalty-tier-gift-none"))];
    gifts.extend(rewards.iter().map(|r| (r.id.clone(), r.input.name.clone())));
    let periods = options(lang, "loyalty-period", &PERIODS);
    let next = |rows: &[usize]| rows.last().map(|n| n + 1).unwrap_or(0);
    let with_blank = |list: &str, blank_when: &dyn Fn(usize) -> bool| {
        let mut rows = f.rows(list);
        if rows.last().is_none_or(|&n| !blank_when(n)) {
            rows.push(next(&rows));
        }
        rows
    };
    let empty = |p: String, leaves: &[&str]| leaves.iter().all(|l| f.get(&format!("{p}.{l}")).is_empty());
    let tiers = with_blank("tiers.levels", &|n| {
        empty(format!("tiers.levels[{n}]"), &["id", "name", "threshold"])
    })
    .into_iter()
    .map(|i| {
        let p = format!("tiers.levels[{i}]");
        let input = |leaf: &str| f.input(&format!("{p}.{leaf}"));
        TierRow {
            id: input("id"),
            name: input("name"),
            threshold: input("threshold"),
            earn_percent: input("benefits.earn_percent"),
            free_shipping: input("benefits.free_shipping"),
            birthday: input("benefits.birthday_discount_bp"),
            discount: input("benefits.discount_bp"),
            early_access: input("benefits.early_access"),
            gift: f.select(&format!("{p}.benefits.gift_reward_id"), &gifts),
            remove: input("remove"),
        }
    })
    .collect();
    let mut action_rows = f.rows("actions");
    let last_custom_blank = action_rows.last().is_some_and(|&n| {
        f.get(&format!("actions[{n}].action.kind")) == "custom"
            && empty(format!("actions[{n}]"), &["action.name", "points"])
    });
    if !last_custom_blank {
        action_rows.push(next(&action_rows));
    }
    let actions = action_rows
        .into_iter()
        .map(|i| {
            let p = format!("actions[{i}]");
            let mut kind = f.input(&format!("{p}.action.kind"));
            if kind.value.is_empty() {
                kind.value = "custom".into();
            }
            let custom = kind.value == "custom";
            ActionRow {
                label: text(lang, &format!("loyalty-action-{}", kind.value.replace('_', "-"))),
                custom,
                kind,
                name: f.input(&format!("{p}.action.name")),
                points: f.input(&format!("{p}.points")),
                cap_count: f.input(&format!("{p}.cap.count")),
                cap_period: f.select(&format!("{p}.cap.period"), &periods),
            }
        })
        .collect();
    let targets = options(lang, "loyalty-target", &PRODUCT_TARGETS);
    let products = with_blank("products", &|n| {
        empty(format!("products[{n}]"), &["value", "percent"])
    })
    .into_iter()
    .map(|i| {
        let p = format!("products[{i}]");
        ProductRow {
            kind: f.select(&format!("{p}.kind"), &targets),
            value: f.input(&format!("{p}.value")),
            percent: f.input(&format!("{p}.percent")),
        }
    })
    .collect();
    let days = with_blank("days", &|n| {
        empty(format!("days[{n}]"), &["from", "to", "percent"])
    })
    .into_iter()
    .map(|i| {
        let p = format!("days[{i}]");
        DaysRow {
            from: f.input(&format!("{p}.from")),
            to: f.input(&format!("{p}.to")),
            percent: f.input(&format!("{p}.percent")),
        }
    })
    .collect();
    let discounts = discount_options(lang, currency);
    let audiences = options(lang, "loyalty-audience", &AUDIENCES);
    let offers = with_blank("offers", &|n| {
        empty(format!("offers[{n}]"), &["id", "name", "discount.value"])
    })
    .into_iter()
    .map(|i| {
        let p = format!("offers[{i}]");
        let input = |leaf: &str| f.input(&format!("{p}.{leaf}"));
        let mut discount_kind = f.select(&format!("{p}.discount.kind"), &discounts);
        if !discount_kind.options.iter().any(|o| o.selected) {
            discount_kind.options[1].selected = true;
        }
        let mut audience_kind = f.select(&format!("{p}.audience.kind"), &audiences);
        if !audience_kind.options.iter().any(|o| o.selected) {
            audience_kind.options[2].selected = true;
        }
        OfferRow {
            id: input("id"),
            name: input("name"),
            discount_kind,
            discount_value: input("discount.value"),
            audience_kind,
            audience_value: input("audience.value"),
            minimum: input("minimum_spend_minor"),
            from: input("from"),
            to: input("to"),
            remove: input("remove"),
        }
    })
    .collect();
    FormRows {
        tiers,
        actions,
        products,
        days,
        offers,
    }
}

/// What the preview says for `program` and an order of `amount` (minor units), with `sku` on
/// its one line when given, placed today.
fn preview_of(lang: Lang, store: &StoreRecord, program: &Program, amount: i64, sku: &str) -> PreviewPart {
    let order = EarnOrder {
        total: amount,
        shipping: 0,
        tax: 0,
        lines: vec![EarnLine {
            product_id: None,
            sku: (!sku.is_empty()).then(|| sku.to_string()),
            category: None,
            tags: vec![],
            net_amount: amount,
        }],
        placed_on: today(store),
    };
    let cur = Some(store.currency);
    let base = order_points(program, &order, None);
    let tiers = program
        .tiers
        .levels
        .iter()
        .map(|t| {
            text_with(
                lang,
                "loyalty-preview-tier",
                &[
                    ("tier", &t.name),
                    (
                        "points",
                        &format_number(lang, order_points(program, &order, Some(t)), cur),
                    ),
                ],
            )
        })
        .collect();
    PreviewPart {
        t: super::pages::Tr(lang),
        off: !program.enabled,
        error: None,
        earns: Some(text_with(
            lang,
            "loyalty-preview-earns",
            &[
                ("amount", &format_money(lang, amount, store.currency)),
                ("points", &format_number(lang, base, cur)),
            ],
        )),
        tiers,
        worth: Some(text_with(
            lang,
            "loyalty-preview-worth",
            &[
                ("points", &format_number(lang, base, cur)),
                (
                    "amount",
                    &format_money(lang, program.points_value_minor(base), store.currency),
                ),
            ],
        )),
    }
}

fn preview_error(lang: Lang, message: String) -> PreviewPart {
    PreviewPart {
        t: super::pages::Tr(lang),
        off: false,
        error: Some(message),
        earns: None,
        tiers: vec![],
        worth: None,
    }
}

const DEFAULT_PREVIEW_MAJOR: i64 = 2_499;

/// Where an error about the program as a whole is kept in the form's errors.
const PROGRAM_ERROR: &str = "program";

fn default_preview_minor(currency: Currency) -> i64 {
    DEFAULT_PREVIEW_MAJOR * 10i64.pow(currency.exponent())
}

#[allow(clippy::too_many_arguments)]
async fn build_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    form: Option<FormState>,
    notice: Option<String>,
    preview_amount: Option<(String, i64)>,
) -> Result<ProgramPage, Response> {
    let lang = staff.lang;
    let record = state
        .db
        .loyalty_program(store.id)
        .await
        .map_err(|e| unavailable(e, "reading the loyalty program"))?;
    let rewards = state
        .db
        .rewards(store.id, false)
        .await
        .map_err(|e| unavailable(e, "reading the rewards catalog"))?;
    let refused = form.is_some();
    let f = form.unwrap_or_else(|| program_values(&record.program, store.currency));
    let FormRows {
        tiers,
        actions,
        products,
        days,
        offers,
    } = form_view(lang, store.currency, &f, &rewards);
    let (preview_text, preview_minor) = preview_amount.unwrap_or_else(|| {
        let minor = default_preview_minor(store.currency);
        (money_text(minor, store.currency), minor)
    });
    let preview = preview_of(lang, store, &record.program, preview_minor, "");
    let rounding = options(lang, "loyalty-rounding", &["down", "nearest", "up"]);
    let metrics = options(lang, "loyalty-metric", &["points_earned", "money_spent"]);
    let updated = match (&record.updated_at, &record.updated_by) {
        (Some(at), Some(by)) => {
            let people = state
                .db
                .store_people(store.id)
                .await
                .map_err(|e| unavailable(e, "reading the store's people"))?;
            Some(text_with(
                lang,
                "loyalty-updated",
                &[
                    ("who", &actor_name(by, &people)),
                    ("time", &format_datetime(lang, *at, store.timezone.0)),
                ],
            ))
        }
        _ => None,
    };
    let currency = store.currency.code().to_string();
    Ok(ProgramPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, store, ""),
        store_name: store.name.clone(),
        action: format!("/app/{}/loyalty", store.id),
        csrf: staff.session.csrf_token.clone(),
        can_edit: role.can(Permission::ManageLoyalty),
        notice,
        error: refused.then(|| {
            let not_saved = text(lang, "loyalty-not-saved");
            match f.errors.get(PROGRAM_ERROR) {
                Some(why) => format!("{not_saved} {why}"),
                None => not_saved,
            }
        }),
        updated,
        threshold_hint: text_with(lang, "loyalty-threshold-hint", &[("currency", &currency)]),
        currency,
        enabled: f.input("enabled"),
        points: f.input("earn.points"),
        per_minor: f.input("earn.per_minor"),
        rounding: f.select("earn.rounding", &rounding),
        exclude_shipping: f.input("earn.exclude_shipping"),
        exclude_tax: f.input("earn.exclude_tax"),
        pending_days: f.input("pending_days"),
        expiry_days: f.input("expiry_days"),
        warning_days: f.input("expiry_warning_days"),
        point_value: f.input("value_per_100_points_minor"),
        metric: f.select("tiers.metric", &metrics),
        window_days: f.input("tiers.window_days"),
        tiers,
        actions,
        products,
        days,
        free_over: f.input("shipping.free_over_minor"),
        flat_rate: f.input("shipping.flat_rate_minor"),
        birthday_percent: f.input("birthday.discount_bp"),
        birthday_window: f.input("birthday.window_days"),
        offers,
        preview_amount: preview_text,
        preview,
    })
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    done: String,
}

async fn program_page(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let notice = (q.done == "saved").then(|| text(staff.lang, "loyalty-saved"));
    match build_page(&state, &staff, &store, role, None, notice, None).await {
        Ok(page) => render(&page),
        Err(refused) => refused,
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

async fn save_program(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let (store, role) = match staff
        .store_form(
            &state,
            &store,
            Permission::ManageLoyalty,
            &headers,
            field(&fields, "csrf"),
        )
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let mut f = FormState::from_fields(&fields);
    let refused = |f: FormState| async {
        match build_page(&state, &staff, &store, role, Some(f), None, None).await {
            Ok(page) => {
                let mut response = render(&page);
                if response.status() == StatusCode::OK {
                    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                }
                response
            }
            Err(refused) => refused,
        }
    };
    let Some((program, mapped)) = parse_program(lang, store.currency, &mut f) else {
        return refused(f).await;
    };
    // A program the store could not read back would stop every loyalty page and every order's
    // points: it is refused here, naming the part that does not survive.
    if let Err(e) = Program::from_json(&serde_json::to_string(&program).unwrap_or_default()) {
        tracing::warn!(field = %e.field, "a loyalty program that would not read back was refused");
        let message = text(lang, "loyalty-error-unstorable");
        f.fail(form_field(&e.field, &mapped), message.clone());
        f.fail(PROGRAM_ERROR, message);
        return refused(f).await;
    }
    let actor = format!("user:{}", staff.session.user.id);
    match state.db.set_loyalty_program(store.id, &program, &actor).await {
        Ok(_) => Redirect::to(&format!("/app/{}/loyalty?done=saved", store.id)).into_response(),
        Err(StoreError::Invalid(e)) => {
            f.fail(form_field(&e.field, &mapped), error_text(lang, &e));
            refused(f).await
        }
        Err(e) => unavailable(e, "saving the loyalty program"),
    }
}

/// The preview fragment for the form as it stands. A reader who may not change the program
/// sends no program fields: the stored program is previewed.
async fn preview(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let (store, _) = match staff
        .store_form(&state, &store, Permission::Read, &headers, field(&fields, "csrf"))
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let raw_amount = field(&fields, "preview_amount");
    let amount = if raw_amount.trim().is_empty() {
        Ok(default_preview_minor(store.currency))
    } else {
        parse_money(lang, raw_amount, store.currency)
    };
    let amount = match amount {
        Ok(a) if a >= 0 => a,
        Ok(_) => return render(&preview_error(lang, money_error(lang, store.currency))),
        Err(m) => return render(&preview_error(lang, m)),
    };
    let sku = field(&fields, "preview_sku").trim().to_string();
    let program = if fields.iter().any(|(k, _)| k == "earn.points") {
        let mut f = FormState::from_fields(&fields);
        match parse_program(lang, store.currency, &mut f) {
            Some((program, _)) => program,
            None => {
                let mut errors: Vec<&String> = f.errors.values().collect();
                errors.sort();
                let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
                return render(&preview_error(
                    lang,
                    text_with(lang, "loyalty-preview-fix", &[("error", &first)]),
                ));
            }
        }
    } else {
        match state.db.loyalty_program(store.id).await {
            Ok(record) => record.program,
            Err(e) => return unavailable(e, "reading the loyalty program"),
        }
    };
    render(&preview_of(lang, &store, &program, amount, &sku))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_program_survives_the_form() {
        let mut program = Program {
            enabled: true,
            ..Program::default()
        };
        program.earn.per_minor = 10_000;
        program.tiers.levels = vec![Tier {
            id: "gold".into(),
            name: "Gold".into(),
            threshold: 2_000,
            benefits: TierBenefits {
                earn_percent: 200,
                birthday_discount_bp: Some(1_250),
                ..TierBenefits::default()
            },
        }];
        program.actions = vec![
            ActionRule {
                action: Action::Review,
                points: 20,
                cap: Some(Cap {
                    count: 3,
                    period: Period::Month,
                }),
            },
            ActionRule {
                action: Action::Custom {
                    name: "app_install".into(),
                },
                points: 50,
                cap: None,
            },
        ];
        program.multipliers = vec![
            Multiplier {
                target: MultiplierTarget::Sku { sku: "SAREE".into() },
                percent: 300,
            },
            Multiplier {
                target: MultiplierTarget::Dates {
                    from: NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(),
                    to: NaiveDate::from_ymd_opt(2026, 3, 11).unwrap(),
                },
                percent: 200,
            },
        ];
        program.shipping.free_over_minor = Some(99_900);
        program.offers = vec![Offer {
            id: "back".into(),
            name: "Welcome back".into(),
            discount: Discount::Fixed { amount: 10_000 },
            audience: Audience::Returning { min_orders: 2 },
            minimum_spend_minor: 150_000,
            from: None,
            to: None,
        }];
        let mut f = program_values(&program, Currency::INR);
        assert_eq!(f.get("earn.per_minor"), "100");
        assert_eq!(f.get("tiers.levels[0].benefits.birthday_discount_bp"), "12.5");
        let (back, _) = parse_program(Lang::En, Currency::INR, &mut f).expect("parses");
        assert_eq!(back, program);
    }

    #[test]
    fn errors_land_on_the_forms_rows() {
        let mut f = program_values(&Program::default(), Currency::INR);
        // Row 0 is empty and skipped: the program's tier 0 is the form's row 1.
        f.set("tiers.levels[1].id", "gold");
        f.set("tiers.levels[1].name", "Gold");
        f.set("tiers.levels[1].threshold", "100");
        f.set("tiers.levels[2].id", "silver");
        f.set("tiers.levels[2].name", "Silver");
        f.set("tiers.levels[2].threshold", "50");
        assert!(parse_program(Lang::En, Currency::INR, &mut f).is_none());
        assert!(
            f.errors.contains_key("tiers.levels[2].threshold"),
            "{:?}",
            f.errors
        );
        let mut f = program_values(&Program::default(), Currency::INR);
        f.set("earn.per_minor", "0");
        assert!(parse_program(Lang::Hi, Currency::INR, &mut f).is_none());
        assert_eq!(
            f.errors.get("earn.per_minor"),
            Some(&text(Lang::Hi, "loyalty-error-per-amount"))
        );
        let mut f = program_values(&Program::default(), Currency::INR);
        f.set("earn.per_minor", "lots");
        assert!(parse_program(Lang::En, Currency::INR, &mut f).is_none());
        assert!(f.errors["earn.per_minor"].contains("1500.00"));
        assert_eq!(
            form_field(
                "offers[0].discount.basis_points",
                &[("offers[0]".into(), "offers[3]".into())]
            ),
            "offers[3].discount.value"
        );
        assert_eq!(
            form_field(
                "actions[10].points",
                &[("actions[1]".into(), "actions[4]".into())]
            ),
            "actions[10].points"
        );
    }

    #[test]
    fn amounts_and_percentages_are_typed_the_readers_way() {
        assert_eq!(parse_money(Lang::En, "₹2,499", Currency::INR), Ok(249_900));
        assert_eq!(parse_money(Lang::Hy, "12,5", Currency::AMD), Ok(1_250));
        assert_eq!(money_text(249_900, Currency::INR), "2499");
        assert_eq!(money_text(1_250, Currency::INR), "12.50");
        assert_eq!(parse_percent_bp(Lang::En, "12.5 %"), Ok(1_250));
        assert_eq!(percent_text(1_000), "10");
        assert_eq!(slug("Gold Plus!"), "gold-plus");
    }
}
