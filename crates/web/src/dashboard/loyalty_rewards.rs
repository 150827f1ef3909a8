//! The rewards catalog: what points buy. Everyone who reads the store sees it; creating,
//! editing, deactivating and reactivating rewards needs [`Permission::ManageLoyalty`].

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use regulars_domain::{Currency, Permission, Role};
use regulars_i18n::{format_number, text, Lang};
use regulars_store::{RewardInput, RewardRecord, StoreError, StoreRecord};
use serde::Deserialize;

use super::loyalty::{
    discount_fields, discount_options, discount_words, error_text, form_field, money_text, tabs, tier_name,
    FormState, Input, Reader, Select, TabLink, SECTION,
};
use super::pages::{render, Chrome};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/loyalty/rewards", get(list).post(create))
        .route("/app/{store}/loyalty/rewards/{id}", get(edit).post(update))
        .route("/app/{store}/loyalty/rewards/{id}/active", post(set_active))
}

pub struct RewardRow {
    pub href: String,
    pub name: String,
    pub discount: String,
    pub cost: String,
    pub min_tier: String,
    pub limit: String,
    pub stock: String,
    pub redeemed: String,
    pub active: bool,
    pub toggle: String,
}

/// The reward form's inputs.
pub struct RewardForm {
    pub name: Input,
    pub description: Input,
    pub discount_kind: Select,
    pub discount_value: Input,
    pub points_cost: Input,
    pub min_tier: Select,
    pub per_customer_limit: Input,
    pub stock: Input,
    pub coupon_valid_days: Input,
    pub minimum_spend: Input,
    pub active: Input,
}

#[derive(Template)]
#[template(path = "loyalty_rewards.html")]
pub struct RewardsPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub action: String,
    pub csrf: String,
    pub can_edit: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub rows: Vec<RewardRow>,
    pub currency: String,
    pub form: RewardForm,
    pub form_open: bool,
}

#[derive(Template)]
#[template(path = "loyalty_reward.html")]
pub struct RewardPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub back: String,
    pub action: String,
    pub csrf: String,
    pub can_edit: bool,
    pub title: String,
    pub redeemed: String,
    pub error: Option<String>,
    pub currency: String,
    pub form: RewardForm,
}

fn reward_values(r: &RewardInput, currency: Currency) -> FormState {
    let mut f = FormState::default();
    f.set("name", r.name.clone());
    f.set("description", r.description.clone().unwrap_or_default());
    let (kind, value) = discount_fields(&r.discount, currency);
    f.set("discount.kind", kind);
    f.set("discount.value", value);
    f.set("points_cost", r.points_cost.to_string());
    f.set("min_tier", r.min_tier.clone().unwrap_or_default());
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    f.set("per_customer_limit", opt(r.per_customer_limit));
    f.set("stock", opt(r.stock));
    f.set("coupon_valid_days", opt(r.coupon_valid_days));
    if r.minimum_spend_minor > 0 {
        f.set("minimum_spend_minor", money_text(r.minimum_spend_minor, currency));
    }
    if r.active {
        f.set("active", "1");
    }
    f
}

fn new_reward_values() -> FormState {
    let mut f = FormState::default();
    f.set("discount.kind", "fixed");
    f.set("active", "1");
    f
}

/// The reward the form describes, or `None` with its errors recorded. A new reward is offered
/// at once; an edited one is offered when its box is ticked.
fn parse_reward(lang: Lang, currency: Currency, f: &mut FormState, editing: bool) -> Option<RewardInput> {
    let mut r = Reader { lang, currency, f };
    let discount = r.discount("discount.kind", "discount.value");
    let points_cost = r.whole("points_cost");
    let per_customer_limit = r.optional_whole("per_customer_limit");
    let stock = r.optional_whole("stock");
    let coupon_valid_days = r.optional_whole("coupon_valid_days");
    let minimum = r.optional_money("minimum_spend_minor");
    let description = r.get("description");
    let min_tier = r.get("min_tier");
    let input = RewardInput {
        name: r.get("name"),
        description: (!description.is_empty()).then_some(description),
        discount: discount?,
        points_cost: points_cost?,
        min_tier: (!min_tier.is_empty()).then_some(min_tier),
        per_customer_limit: per_customer_limit?,
        stock: stock?,
        coupon_valid_days: coupon_valid_days?,
        minimum_spend_minor: minimum?.unwrap_or(0),
        active: !editing || r.f.flag("active"),
    };
    if !f.errors.is_empty() {
        return None;
    }
    if let Err(e) = input.validate() {
        f.fail(form_field(&e.field, &[]), error_text(lang, &e));
        return None;
    }
    Some(input)
}

fn form_view(
    lang: Lang,
    store: &StoreRecord,
    program: &regulars_domain::loyalty::Program,
    f: &FormState,
) -> RewardForm {
    let mut tiers = vec![(String::new(), text(lang, "loyalty-reward-any-tier"))];
    tiers.extend(
        program
            .tiers
            .levels
            .iter()
            .map(|t| (t.id.clone(), t.name.clone())),
    );
    // A tier since removed from the ladder stays choosable for the rewards that name it.
    let current = f.get("min_tier");
    if !current.is_empty() && program.tiers.get(current).is_none() {
        tiers.push((current.to_string(), current.to_string()));
    }
    RewardForm {
        name: f.input("name"),
        description: f.input("description"),
        discount_kind: f.select("discount.kind", &discount_options(lang, store.currency)),
        discount_value: f.input("discount.value"),
        points_cost: f.input("points_cost"),
        min_tier: f.select("min_tier", &tiers),
        per_customer_limit: f.input("per_customer_limit"),
        stock: f.input("stock"),
        coupon_valid_days: f.input("coupon_valid_days"),
        minimum_spend: f.input("minimum_spend_minor"),
        active: f.input("active"),
    }
}

fn row(
    lang: Lang,
    store: &StoreRecord,
    program: &regulars_domain::loyalty::Program,
    r: &RewardRecord,
) -> RewardRow {
    let cur = Some(store.currency);
    let base = format!("/app/{}/loyalty/rewards/{}", store.id, r.id);
    RewardRow {
        name: r.input.name.clone(),
        discount: discount_words(lang, &r.input.discount, store.currency),
        cost: format_number(lang, r.input.points_cost, cur),
        min_tier: r
            .input
            .min_tier
            .as_deref()
            .map(|id| tier_name(program, id))
            .unwrap_or_else(|| "—".into()),
        limit: r
            .input
            .per_customer_limit
            .map(|n| format_number(lang, n, cur))
            .unwrap_or_else(|| "—".into()),
        stock: r
            .input
            .stock
            .map(|n| format_number(lang, n, cur))
            .unwrap_or_else(|| text(lang, "loyalty-reward-unlimited")),
        redeemed: format_number(lang, r.redeemed_count, cur),
        active: r.input.active,
        toggle: format!("{base}/active"),
        href: base,
    }
}

#[allow(clippy::too_many_arguments)]
async fn list_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    form: Option<FormState>,
    notice: Option<String>,
) -> Result<RewardsPage, Response> {
    let lang = staff.lang;
    let program = state
        .db
        .loyalty_program(store.id)
        .await
        .map_err(|e| unavailable(e, "reading the loyalty program"))?
        .program;
    let rewards = state
        .db
        .rewards(store.id, false)
        .await
        .map_err(|e| unavailable(e, "reading the rewards catalog"))?;
    let refused = form.is_some();
    let f = form.unwrap_or_else(new_reward_values);
    Ok(RewardsPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, store, "/rewards"),
        store_name: store.name.clone(),
        action: format!("/app/{}/loyalty/rewards", store.id),
        csrf: staff.session.csrf_token.clone(),
        can_edit: role.can(Permission::ManageLoyalty),
        notice,
        error: refused.then(|| text(lang, "loyalty-not-saved")),
        rows: rewards.iter().map(|r| row(lang, store, &program, r)).collect(),
        currency: store.currency.code().to_string(),
        form: form_view(lang, store, &program, &f),
        form_open: refused || rewards.is_empty(),
    })
}

fn unprocessable(mut response: Response) -> Response {
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    #[serde(default)]
    done: String,
}

fn done_notice(lang: Lang, done: &str) -> Option<String> {
    match done {
        "created" => Some(text(lang, "loyalty-reward-created")),
        "saved" => Some(text(lang, "loyalty-reward-saved")),
        "deactivated" => Some(text(lang, "loyalty-reward-deactivated")),
        "activated" => Some(text(lang, "loyalty-reward-activated")),
        _ => None,
    }
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let notice = done_notice(staff.lang, &q.done);
    match list_page(&state, &staff, &store, role, None, notice).await {
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

async fn create(
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
        match list_page(&state, &staff, &store, role, Some(f), None).await {
            Ok(page) => unprocessable(render(&page)),
            Err(refused) => refused,
        }
    };
    let Some(input) = parse_reward(lang, store.currency, &mut f, false) else {
        return refused(f).await;
    };
    let mut tx = match state.db.begin().await {
        Ok(tx) => tx,
        Err(e) => return unavailable(e, "creating a reward"),
    };
    let result = match tx.create_reward(store.id, &input).await {
        Ok(_) => tx.commit().await,
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    };
    match result {
        Ok(()) => Redirect::to(&format!("/app/{}/loyalty/rewards?done=created", store.id)).into_response(),
        Err(StoreError::Invalid(e)) => {
            f.fail(form_field(&e.field, &[]), error_text(lang, &e));
            refused(f).await
        }
        Err(e) => unavailable(e, "creating a reward"),
    }
}

async fn edit_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    id: &str,
    form: Option<FormState>,
) -> Response {
    let lang = staff.lang;
    let reward = match state.db.reward(store.id, id).await {
        Ok(r) => r,
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a reward"),
    };
    let program = match state.db.loyalty_program(store.id).await {
        Ok(r) => r.program,
        Err(e) => return unavailable(e, "reading the loyalty program"),
    };
    let refused = form.is_some();
    let f = form.unwrap_or_else(|| reward_values(&reward.input, store.currency));
    let page = RewardPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, store, "/rewards"),
        back: format!("/app/{}/loyalty/rewards", store.id),
        action: format!("/app/{}/loyalty/rewards/{}", store.id, reward.id),
        csrf: staff.session.csrf_token.clone(),
        can_edit: role.can(Permission::ManageLoyalty),
        title: reward.input.name.clone(),
        redeemed: regulars_i18n::text_with(
            lang,
            "loyalty-reward-redeemed-count",
            &[(
                "count",
                &format_number(lang, reward.redeemed_count, Some(store.currency)),
            )],
        ),
        error: refused.then(|| text(lang, "loyalty-not-saved")),
        currency: store.currency.code().to_string(),
        form: form_view(lang, store, &program, &f),
    };
    let response = render(&page);
    if refused {
        unprocessable(response)
    } else {
        response
    }
}

async fn edit(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    edit_page(&state, &staff, &store, role, &id, None).await
}

async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
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
    let Some(input) = parse_reward(lang, store.currency, &mut f, true) else {
        return edit_page(&state, &staff, &store, role, &id, Some(f)).await;
    };
    match save(&state, &store, &id, &input).await {
        Ok(()) => Redirect::to(&format!("/app/{}/loyalty/rewards?done=saved", store.id)).into_response(),
        Err(StoreError::Invalid(e)) => {
            f.fail(form_field(&e.field, &[]), error_text(lang, &e));
            edit_page(&state, &staff, &store, role, &id, Some(f)).await
        }
        Err(StoreError::NotFound(_)) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => unavailable(e, "saving a reward"),
    }
}

async fn save(
    state: &AppState,
    store: &StoreRecord,
    id: &str,
    input: &RewardInput,
) -> Result<(), StoreError> {
    let mut tx = state.db.begin().await?;
    match tx.update_reward(store.id, id, input).await {
        Ok(_) => tx.commit().await,
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

#[derive(Deserialize)]
struct ActiveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    active: String,
}

/// Deactivates a reward (customers can no longer redeem it; its history stays) or offers it
/// again.
async fn set_active(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<ActiveForm>,
) -> Response {
    let (store, _) = match staff
        .store_form(&state, &store, Permission::ManageLoyalty, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let mut reward = match state.db.reward(store.id, &id).await {
        Ok(r) => r,
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a reward"),
    };
    reward.input.active = form.active == "1";
    let done = if reward.input.active {
        "activated"
    } else {
        "deactivated"
    };
    match save(&state, &store, &id, &reward.input).await {
        Ok(()) => Redirect::to(&format!("/app/{}/loyalty/rewards?done={done}", store.id)).into_response(),
        Err(StoreError::NotFound(_)) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => unavailable(e, "changing a reward"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regulars_domain::Discount;

    #[test]
    fn a_reward_survives_the_form_and_errors_name_the_value_input() {
        let reward = RewardInput {
            name: "₹100 off".into(),
            description: Some("On any order".into()),
            discount: Discount::Fixed { amount: 10_000 },
            points_cost: 500,
            min_tier: Some("gold".into()),
            per_customer_limit: Some(2),
            stock: None,
            coupon_valid_days: Some(30),
            minimum_spend_minor: 99_900,
            active: true,
        };
        let mut f = reward_values(&reward, Currency::INR);
        assert_eq!(f.get("discount.value"), "100");
        assert_eq!(parse_reward(Lang::En, Currency::INR, &mut f, true), Some(reward));
        let mut f = new_reward_values();
        f.set("name", "Half off");
        f.set("discount.kind", "percent");
        f.set("discount.value", "0");
        f.set("points_cost", "100");
        assert_eq!(parse_reward(Lang::Te, Currency::INR, &mut f, false), None);
        assert_eq!(
            f.errors.get("discount.value"),
            Some(&text(Lang::Te, "loyalty-error-discount-percent"))
        );
    }
}
