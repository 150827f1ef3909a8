//! The referral program's settings as one form. Inputs are named after the program's own
//! field paths (`friend_discount.value`, `milestones[2].friends`, `fraud.burst_max`), so an
//! error of [`ReferralProgram::validate`] lands beside the input it names. Amounts are typed
//! in major units of the store's currency and percentages as percent; both are kept as
//! integers (minor units, basis points).

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use regulars_domain::loyalty::Period;
use regulars_domain::referral::{
    Eligibility, FraudRules, Milestone, ReferralProgram, ReferralReward, RewardCap, RuleAction,
};
use regulars_domain::{Currency, FieldError, Permission, Role};
use regulars_i18n::{format_datetime, text, text_with, Lang};
use regulars_store::{RewardRecord, StoreError, StoreRecord};
use serde::Deserialize;

use super::super::loyalty::{
    actor_name, discount_fields, discount_options, form_field, money_text, FormState, Input, Reader, Select,
    TabLink,
};
use super::super::pages::{render, Chrome};
use super::super::session::Staff;
use super::super::unavailable;
use super::{options, reward_words, tabs, MANAGE, SECTION};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/app/{store}/referrals", get(page).post(save))
}

const REWARD_KINDS: [&str; 3] = ["points", "coupon", "gift"];
const PERIODS: [&str; 5] = ["day", "week", "month", "year", "lifetime"];
const ACTIONS: [&str; 3] = ["allow", "review", "reject"];
/// The fraud rules a store sets (a self-referral is always refused).
const RULES: [&str; 8] = [
    "same_email",
    "similar_email",
    "same_phone",
    "same_address",
    "same_payment",
    "existing_customer",
    "burst",
    "velocity",
];
/// Where an error without an input of its own is kept in the form's errors.
const PROGRAM_ERROR: &str = "program";

fn period_key(p: Period) -> &'static str {
    match p {
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
        Period::Year => "year",
        Period::Lifetime => "lifetime",
    }
}

fn parse_period(s: &str) -> Period {
    match s {
        "day" => Period::Day,
        "week" => Period::Week,
        "year" => Period::Year,
        "lifetime" => Period::Lifetime,
        _ => Period::Month,
    }
}

fn action_key(a: RuleAction) -> &'static str {
    match a {
        RuleAction::Allow => "allow",
        RuleAction::Review => "review",
        RuleAction::Reject => "reject",
    }
}

fn parse_action(s: &str) -> Option<RuleAction> {
    Some(match s {
        "allow" => RuleAction::Allow,
        "review" => RuleAction::Review,
        "reject" => RuleAction::Reject,
        _ => return None,
    })
}

fn rule_action(rules: &FraudRules, rule: &str) -> RuleAction {
    match rule {
        "same_email" => rules.same_email,
        "similar_email" => rules.similar_email,
        "same_phone" => rules.same_phone,
        "same_address" => rules.same_address,
        "same_payment" => rules.same_payment,
        "existing_customer" => rules.existing_customer,
        "burst" => rules.burst,
        _ => rules.velocity,
    }
}

fn set_rule_action(rules: &mut FraudRules, rule: &str, action: RuleAction) {
    let slot = match rule {
        "same_email" => &mut rules.same_email,
        "similar_email" => &mut rules.similar_email,
        "same_phone" => &mut rules.same_phone,
        "same_address" => &mut rules.same_address,
        "same_payment" => &mut rules.same_payment,
        "existing_customer" => &mut rules.existing_customer,
        "burst" => &mut rules.burst,
        _ => &mut rules.velocity,
    };
    *slot = action;
}

/// The stored program as the form's values, with an empty milestone row at the end.
pub fn program_values(p: &ReferralProgram, currency: Currency) -> FormState {
    let mut f = FormState::default();
    let money = |m: i64| money_text(m, currency);
    if p.enabled {
        f.set("enabled", "1");
    }
    f.set("eligibility.min_orders", p.eligibility.min_orders.to_string());
    for tier in &p.eligibility.tiers {
        f.set(format!("eligibility.tiers.{tier}"), "1");
    }
    let (kind, value) = discount_fields(&p.friend_discount, currency);
    f.set("friend_discount.kind", kind);
    f.set("friend_discount.value", value);
    f.set("friend_minimum_spend", money(p.friend_minimum_spend));
    f.set("friend_points", p.friend_points.to_string());
    f.set("advocate_reward.kind", p.advocate_reward.kind());
    f.set("advocate_reward.discount.kind", "percent");
    match &p.advocate_reward {
        ReferralReward::Points { points } => f.set("advocate_reward.points", points.to_string()),
        ReferralReward::Coupon {
            discount,
            minimum_spend,
            valid_days,
        } => {
            let (kind, value) = discount_fields(discount, currency);
            f.set("advocate_reward.discount.kind", kind);
            f.set("advocate_reward.discount.value", value);
            f.set("advocate_reward.minimum_spend", money(*minimum_spend));
            f.set(
                "advocate_reward.valid_days",
                valid_days.map(|d| d.to_string()).unwrap_or_default(),
            );
        }
        ReferralReward::Gift { reward_id } => f.set("advocate_reward.reward_id", reward_id.clone()),
    }
    f.set("min_order_value", money(p.min_order_value));
    f.set("return_window_days", p.return_window_days.to_string());
    for (i, m) in p.milestones.iter().enumerate() {
        let row = format!("milestones[{i}]");
        f.set(format!("{row}.friends"), m.friends.to_string());
        match &m.reward {
            ReferralReward::Points { points } => f.set(format!("{row}.reward.points"), points.to_string()),
            // A coupon or a gift set through the API is kept as it is.
            other => f.set(
                format!("{row}.reward.kept"),
                serde_json::to_string(other).unwrap_or_default(),
            ),
        }
    }
    f.set(format!("milestones[{}].friends", p.milestones.len()), "");
    match p.advocate_cap {
        Some(cap) => {
            f.set("advocate_cap.count", cap.count.to_string());
            f.set("advocate_cap.period", period_key(cap.period));
        }
        None => f.set("advocate_cap.period", "month"),
    }
    for rule in RULES {
        f.set(format!("fraud.{rule}"), action_key(rule_action(&p.fraud, rule)));
    }
    f.set("fraud.burst_max", p.fraud.burst_max.to_string());
    f.set("fraud.burst_hours", p.fraud.burst_hours.to_string());
    f.set("fraud.velocity_max", p.fraud.velocity_max.to_string());
    f.set("fraud.velocity_period", period_key(p.fraud.velocity_period));
    f.set("acquisition_cost", money(p.acquisition_cost));
    f.set("shop_url", p.shop_url.clone().unwrap_or_default());
    f
}

/// The input an error of the program is about: milestones by the form's rows, a discount's
/// amount or percent by its one value input (the friend's discount is checked as a discount
/// within `friend_discount`, so its fields come as `friend_discount.discount.…`).
pub fn input_for(field: &str, mapped: &[(String, String)]) -> String {
    let name = form_field(field, mapped);
    match name.strip_prefix("friend_discount.discount.") {
        Some(rest) => format!("friend_discount.{rest}"),
        None => name,
    }
}

/// The message for an error of the program in the reader's language: by the field (without
/// its row) and the code.
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
        (_, "amount", _) => "loyalty-error-discount-amount",
        (_, "basis_points", _) => "loyalty-error-discount-percent",
        (_, "sku", _) => "loyalty-error-sku",
        (_, "description", _) => "loyalty-error-gift",
        (_, _, "negative_amount") => "loyalty-error-negative",
        ("friend_points", _, _) => "referrals-error-friend-points",
        (_, "points", _) => "referrals-error-reward-points",
        (_, "valid_days", _) => "referrals-error-valid-days",
        (_, "reward_id", _) => "referrals-error-gift",
        ("return_window_days", _, _) => "referrals-error-window",
        ("milestones", _, _) => "referrals-error-milestones",
        ("milestones.friends", _, _) => "referrals-error-milestone-friends",
        ("advocate_cap.count", _, _) => "referrals-error-cap",
        ("fraud.burst_max", _, _) => "referrals-error-burst",
        ("fraud.velocity_max", _, _) => "referrals-error-velocity",
        ("shop_url", _, _) => "referrals-error-shop-url",
        _ => return e.message.clone(),
    };
    text(lang, id)
}

/// The program the form describes, or `None` with the form's errors recorded. The pairs
/// returned name each milestone of the program with the form's row it came from.
pub fn parse_program(
    lang: Lang,
    currency: Currency,
    f: &mut FormState,
) -> Option<(ReferralProgram, Vec<(String, String)>)> {
    let mut mapped = Vec::new();
    let mut r = Reader { lang, currency, f };
    let mut p = ReferralProgram {
        enabled: r.f.flag("enabled"),
        ..ReferralProgram::default()
    };

    let min_orders = r.days("eligibility.min_orders");
    let tiers: BTreeSet<String> =
        r.f.values
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .filter_map(|(k, _)| k.strip_prefix("eligibility.tiers."))
            .map(str::to_string)
            .collect();
    if let Some(min_orders) = min_orders {
        p.eligibility = Eligibility {
            min_orders,
            tiers: tiers.into_iter().collect(),
        };
    }

    if let Some(d) = r.discount("friend_discount.kind", "friend_discount.value") {
        p.friend_discount = d;
    }
    if let Some(m) = r.optional_money("friend_minimum_spend") {
        p.friend_minimum_spend = m.unwrap_or(0);
    }
    if let Some(points) = r.optional_whole("friend_points") {
        p.friend_points = points.unwrap_or(0);
    }

    let reward = match r.get("advocate_reward.kind").as_str() {
        "coupon" => {
            let discount = r.discount("advocate_reward.discount.kind", "advocate_reward.discount.value");
            let minimum = r.optional_money("advocate_reward.minimum_spend");
            let valid = r.optional_days("advocate_reward.valid_days");
            match (discount, minimum, valid) {
                (Some(discount), Some(minimum), Some(valid_days)) => Some(ReferralReward::Coupon {
                    discount,
                    minimum_spend: minimum.unwrap_or(0),
                    valid_days,
                }),
                _ => None,
            }
        }
        "gift" => Some(ReferralReward::Gift {
            reward_id: r.get("advocate_reward.reward_id"),
        }),
        _ => r
            .whole("advocate_reward.points")
            .map(|points| ReferralReward::Points { points }),
    };
    if let Some(reward) = reward {
        p.advocate_reward = reward;
    }

    if let Some(m) = r.optional_money("min_order_value") {
        p.min_order_value = m.unwrap_or(0);
    }
    if let Some(d) = r.days("return_window_days") {
        p.return_window_days = d;
    }

    let mut milestones = Vec::new();
    for i in r.f.rows("milestones") {
        let row = format!("milestones[{i}]");
        let n = |leaf: &str| format!("{row}.{leaf}");
        let (friends, points, kept) = (
            r.get(&n("friends")),
            r.get(&n("reward.points")),
            r.get(&n("reward.kept")),
        );
        if r.f.flag(&n("remove")) || (friends.is_empty() && points.is_empty()) {
            continue;
        }
        let friends = r.days(&n("friends"));
        let reward = if points.is_empty() && !kept.is_empty() {
            serde_json::from_str::<ReferralReward>(&kept).ok()
        } else {
            r.whole(&n("reward.points"))
                .map(|points| ReferralReward::Points { points })
        };
        if let (Some(friends), Some(reward)) = (friends, reward) {
            mapped.push((format!("milestones[{}]", milestones.len()), row.clone()));
            milestones.push(Milestone { friends, reward });
        }
    }
    p.milestones = milestones;

    let period = parse_period(&r.get("advocate_cap.period"));
    if let Some(count) = r.optional_days("advocate_cap.count") {
        p.advocate_cap = count.map(|count| RewardCap { count, period });
    }

    let mut fraud = FraudRules::default();
    for rule in RULES {
        let name = format!("fraud.{rule}");
        match parse_action(&r.get(&name)) {
            Some(action) => set_rule_action(&mut fraud, rule, action),
            None => r.f.fail(name, text(lang, "loyalty-error-choice")),
        }
    }
    let burst_max = r.days("fraud.burst_max");
    let burst_hours = r.days("fraud.burst_hours");
    let velocity_max = r.days("fraud.velocity_max");
    if let (Some(burst_max), Some(burst_hours), Some(velocity_max)) = (burst_max, burst_hours, velocity_max) {
        fraud.burst_max = burst_max;
        fraud.burst_hours = burst_hours;
        fraud.velocity_max = velocity_max;
    }
    fraud.velocity_period = parse_period(&r.get("fraud.velocity_period"));
    p.fraud = fraud;

    if let Some(m) = r.optional_money("acquisition_cost") {
        p.acquisition_cost = m.unwrap_or(0);
    }
    let url = r.get("shop_url");
    p.shop_url = (!url.is_empty()).then_some(url);

    if !f.errors.is_empty() {
        return None;
    }
    if let Err(e) = p.validate() {
        f.fail(input_for(&e.field, &mapped), error_text(lang, &e));
        return None;
    }
    Some((p, mapped))
}

// ---------------------------------------------------------------------------------------------
// The page

pub struct TierCheck {
    pub input: Input,
    pub label: String,
}

pub struct MilestoneRow {
    pub friends: Input,
    pub points: Input,
    /// A reward other than points, kept as it is: its JSON and its words.
    pub kept: Input,
    pub kept_words: Option<String>,
    pub remove: Input,
}

pub struct RuleRow {
    pub key: &'static str,
    pub label: String,
    pub hint: String,
    pub action: Select,
}

#[derive(Template)]
#[template(path = "referrals_settings.html")]
pub struct SettingsPage {
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
    pub min_orders: Input,
    pub tiers: Vec<TierCheck>,
    pub friend_kind: Select,
    pub friend_value: Input,
    pub friend_minimum: Input,
    pub friend_points: Input,
    pub reward_kind: Select,
    pub reward_points: Input,
    pub reward_discount_kind: Select,
    pub reward_discount_value: Input,
    pub reward_minimum: Input,
    pub reward_valid_days: Input,
    pub reward_gift: Select,
    pub min_order_value: Input,
    pub window_days: Input,
    pub milestones: Vec<MilestoneRow>,
    pub cap_count: Input,
    pub cap_period: Select,
    pub rules: Vec<RuleRow>,
    pub burst_max: Input,
    pub burst_hours: Input,
    pub velocity_max: Input,
    pub velocity_period: Select,
    pub acquisition_cost: Input,
    pub shop_url: Input,
}

fn milestone_rows(
    lang: Lang,
    currency: Currency,
    f: &FormState,
    catalog: &[RewardRecord],
) -> Vec<MilestoneRow> {
    let mut rows = f.rows("milestones");
    let blank = |n: usize| {
        ["friends", "reward.points", "reward.kept"]
            .iter()
            .all(|l| f.get(&format!("milestones[{n}].{l}")).is_empty())
    };
    if rows.last().is_none_or(|&n| !blank(n)) {
        rows.push(rows.last().map(|n| n + 1).unwrap_or(0));
    }
    rows.into_iter()
        .map(|i| {
            let input = |leaf: &str| f.input(&format!("milestones[{i}].{leaf}"));
            let kept = input("reward.kept");
            let kept_words = serde_json::from_str::<ReferralReward>(&kept.value)
                .ok()
                .map(|r| reward_words(lang, &r, currency, catalog));
            MilestoneRow {
                friends: input("friends"),
                points: input("reward.points"),
                kept,
                kept_words,
                remove: input("remove"),
            }
        })
        .collect()
}

async fn build_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    form: Option<FormState>,
    notice: Option<String>,
) -> Result<SettingsPage, Response> {
    let lang = staff.lang;
    let db = &state.db;
    let (record, loyalty, catalog) = tokio::try_join!(
        db.referral_program(store.id),
        db.loyalty_program(store.id),
        db.rewards(store.id, false),
    )
    .map_err(|e| unavailable(e, "reading the referral program"))?;
    let refused = form.is_some();
    let f = form.unwrap_or_else(|| program_values(&record.program, store.currency));

    // The loyalty program's tiers, and any tier the settings name that it no longer has.
    let mut tier_choices: Vec<(String, String)> = loyalty
        .program
        .tiers
        .levels
        .iter()
        .map(|t| (t.id.clone(), t.name.clone()))
        .collect();
    for key in f.values.keys() {
        if let Some(id) = key.strip_prefix("eligibility.tiers.") {
            if !tier_choices.iter().any(|(t, _)| t == id) {
                tier_choices.push((id.to_string(), id.to_string()));
            }
        }
    }
    let tiers = tier_choices
        .into_iter()
        .map(|(id, label)| TierCheck {
            input: f.input(&format!("eligibility.tiers.{id}")),
            label,
        })
        .collect();

    let mut gifts = vec![(String::new(), text(lang, "referrals-reward-gift-choose"))];
    gifts.extend(catalog.iter().map(|r| (r.id.clone(), r.input.name.clone())));
    let chosen = f.get("advocate_reward.reward_id").to_string();
    if !chosen.is_empty() && !gifts.iter().any(|(id, _)| *id == chosen) {
        gifts.push((chosen.clone(), chosen));
    }
    let discounts = discount_options(lang, store.currency);
    let periods = options(lang, "loyalty-period", &PERIODS);
    let actions = options(lang, "referrals-action", &ACTIONS);
    let rules = RULES
        .iter()
        .map(|rule| {
            let key = rule.replace('_', "-");
            RuleRow {
                key: rule,
                label: text(lang, &format!("referrals-rule-{key}")),
                hint: text(lang, &format!("referrals-rule-{key}-hint")),
                action: f.select(&format!("fraud.{rule}"), &actions),
            }
        })
        .collect();
    let updated = match (&record.updated_at, &record.updated_by) {
        (Some(at), Some(by)) => {
            let people = db
                .store_people(store.id)
                .await
                .map_err(|e| unavailable(e, "reading the store's people"))?;
            Some(text_with(
                lang,
                "referrals-updated",
                &[
                    ("who", &actor_name(by, &people)),
                    ("time", &format_datetime(lang, *at, store.timezone.0)),
                ],
            ))
        }
        _ => None,
    };
    let error = refused.then(|| {
        let not_saved = text(lang, "loyalty-not-saved");
        match f.errors.get(PROGRAM_ERROR) {
            Some(why) => format!("{not_saved} {why}"),
            None => not_saved,
        }
    });
    Ok(SettingsPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, store, ""),
        store_name: store.name.clone(),
        action: format!("/app/{}/referrals", store.id),
        csrf: staff.session.csrf_token.clone(),
        can_edit: role.can(MANAGE),
        notice,
        error,
        updated,
        currency: store.currency.code().to_string(),
        enabled: f.input("enabled"),
        min_orders: f.input("eligibility.min_orders"),
        tiers,
        friend_kind: f.select("friend_discount.kind", &discounts),
        friend_value: f.input("friend_discount.value"),
        friend_minimum: f.input("friend_minimum_spend"),
        friend_points: f.input("friend_points"),
        reward_kind: f.select(
            "advocate_reward.kind",
            &options(lang, "referrals-reward-kind", &REWARD_KINDS),
        ),
        reward_points: f.input("advocate_reward.points"),
        reward_discount_kind: f.select("advocate_reward.discount.kind", &discounts),
        reward_discount_value: f.input("advocate_reward.discount.value"),
        reward_minimum: f.input("advocate_reward.minimum_spend"),
        reward_valid_days: f.input("advocate_reward.valid_days"),
        reward_gift: f.select("advocate_reward.reward_id", &gifts),
        min_order_value: f.input("min_order_value"),
        window_days: f.input("return_window_days"),
        milestones: milestone_rows(lang, store.currency, &f, &catalog),
        cap_count: f.input("advocate_cap.count"),
        cap_period: f.select("advocate_cap.period", &periods),
        rules,
        burst_max: f.input("fraud.burst_max"),
        burst_hours: f.input("fraud.burst_hours"),
        velocity_max: f.input("fraud.velocity_max"),
        velocity_period: f.select("fraud.velocity_period", &periods),
        acquisition_cost: f.input("acquisition_cost"),
        shop_url: f.input("shop_url"),
    })
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    done: String,
}

async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let notice = (q.done == "saved").then(|| text(staff.lang, "referrals-saved"));
    match build_page(&state, &staff, &store, role, None, notice).await {
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

/// Records an error against its input, and in the summary too when the form has no input of
/// that name (an error about a list as a whole, say).
fn fail(f: &mut FormState, name: String, message: String) {
    if !f.values.contains_key(&name) {
        f.fail(PROGRAM_ERROR, message.clone());
    }
    f.fail(name, message);
}

async fn save(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let (store, role) = match staff
        .store_form(&state, &store, MANAGE, &headers, field(&fields, "csrf"))
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let mut f = FormState::from_fields(&fields);
    let refused = |f: FormState| async {
        match build_page(&state, &staff, &store, role, Some(f), None).await {
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
    let parsed = parse_program(lang, store.currency, &mut f);
    let Some((program, mapped)) = parsed else {
        // An error of the program's own check may name no input: it goes to the summary.
        let orphans: Vec<(String, String)> = f
            .errors
            .iter()
            .filter(|(k, _)| *k != PROGRAM_ERROR && !f.values.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, message) in orphans {
            fail(&mut f, name, message);
        }
        return refused(f).await;
    };
    let actor = format!("user:{}", staff.session.user.id);
    match state.db.set_referral_program(&store, &program, &actor).await {
        Ok(_) => Redirect::to(&format!("/app/{}/referrals?done=saved", store.id)).into_response(),
        Err(StoreError::Invalid(e)) => {
            fail(&mut f, input_for(&e.field, &mapped), error_text(lang, &e));
            refused(f).await
        }
        Err(e) => unavailable(e, "saving the referral program"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regulars_domain::Discount;

    #[test]
    fn the_stored_program_survives_the_form() {
        let program = ReferralProgram {
            enabled: true,
            eligibility: Eligibility {
                min_orders: 2,
                tiers: vec!["gold".into()],
            },
            friend_discount: Discount::Fixed { amount: 25_000 },
            friend_minimum_spend: 99_900,
            friend_points: 50,
            advocate_reward: ReferralReward::Coupon {
                discount: Discount::Percent { basis_points: 1_250 },
                minimum_spend: 0,
                valid_days: Some(30),
            },
            min_order_value: 50_000,
            return_window_days: 30,
            milestones: vec![
                Milestone {
                    friends: 5,
                    reward: ReferralReward::Points { points: 1_000 },
                },
                Milestone {
                    friends: 10,
                    reward: ReferralReward::Gift {
                        reward_id: "tote".into(),
                    },
                },
            ],
            advocate_cap: Some(RewardCap {
                count: 3,
                period: Period::Month,
            }),
            fraud: FraudRules {
                same_address: RuleAction::Reject,
                burst_max: 5,
                ..FraudRules::default()
            },
            acquisition_cost: 40_000,
            shop_url: Some("https://shop.example.in".into()),
        };
        let mut f = program_values(&program, Currency::INR);
        assert_eq!(f.get("friend_discount.value"), "250");
        assert_eq!(f.get("advocate_reward.discount.value"), "12.5");
        let (back, _) = parse_program(Lang::En, Currency::INR, &mut f).expect("parses");
        assert_eq!(back, program);
    }

    #[test]
    fn errors_land_beside_their_inputs() {
        let mut f = program_values(&ReferralProgram::default(), Currency::INR);
        f.set("milestones[0].friends", "5");
        f.set("milestones[0].reward.points", "100");
        f.set("milestones[1].friends", "5");
        f.set("milestones[1].reward.points", "200");
        assert!(parse_program(Lang::En, Currency::INR, &mut f).is_none());
        assert_eq!(
            f.errors.get("milestones[1].friends"),
            Some(&text(Lang::En, "referrals-error-milestone-friends"))
        );
        let mut f = program_values(&ReferralProgram::default(), Currency::INR);
        f.set("friend_discount.value", "0");
        assert!(parse_program(Lang::Hi, Currency::INR, &mut f).is_none());
        assert_eq!(
            f.errors.get("friend_discount.value"),
            Some(&text(Lang::Hi, "loyalty-error-discount-percent"))
        );
        let mut f = program_values(&ReferralProgram::default(), Currency::INR);
        f.set("return_window_days", "soon");
        assert!(parse_program(Lang::En, Currency::INR, &mut f).is_none());
        assert!(f.errors.contains_key("return_window_days"));
    }
}
