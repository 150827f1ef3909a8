//! Partners (the inner circle): the list with what each is owed, the invitation form, a
//! partner's page with their terms, commission ledger and payouts, recording a payout, ending
//! a partnership, and the payout report as CSV.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use regulars_domain::{CustomerId, Email, Permission, Role, Timestamp};
use regulars_i18n::{format_date, format_datetime, format_money, format_number, text, text_with, Lang};
use regulars_store::{
    CommissionStatus, CustomerFilter, PartnerInput, PartnerScope, PartnerSummary, StoreError, StoreRecord,
};
use serde::Deserialize;

use super::super::loyalty::{
    actor_name, parse_percent_bp, parse_whole, percent_text, FormState, Input, Select, TabLink,
};
use super::super::pages::{render, Chrome};
use super::super::session::Staff;
use super::super::unavailable;
use super::{options, percent_words, tabs, MANAGE, SECTION};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/referrals/partners", get(list).post(invite))
        .route("/app/{store}/referrals/partners/{customer}", get(partner_page))
        .route(
            "/app/{store}/referrals/partners/{customer}/terms",
            post(change_terms),
        )
        .route("/app/{store}/referrals/partners/{customer}/payout", post(pay))
        .route("/app/{store}/referrals/partners/{customer}/end", post(end))
        .route("/app/{store}/referrals/payouts.csv", get(payouts_csv))
}

const SCOPES: [&str; 2] = ["first_order", "all_orders"];
/// The most a commission may be (50 %), in basis points.
const MAX_COMMISSION_BP: i64 = 5_000;
const MAX_PERIOD_DAYS: i64 = 3_650;

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

fn scope_text(lang: Lang, scope: PartnerScope) -> String {
    text(
        lang,
        &format!("referrals-scope-{}", scope.as_str().replace('_', "-")),
    )
}

/// The terms form's inputs.
pub struct TermsInputs {
    pub customer: Input,
    pub percent: Input,
    pub scope: Select,
    pub period_days: Input,
    pub note: Input,
}

fn terms_inputs(lang: Lang, f: &FormState) -> TermsInputs {
    let mut scope = f.select("scope", &options(lang, "referrals-scope", &SCOPES));
    if !scope.options.iter().any(|o| o.selected) {
        scope.options[0].selected = true;
    }
    TermsInputs {
        customer: f.input("customer"),
        percent: f.input("percent"),
        scope,
        period_days: f.input("period_days"),
        note: f.input("note"),
    }
}

/// The terms the form describes, or `None` with its errors recorded by input.
fn parse_terms(lang: Lang, f: &mut FormState) -> Option<PartnerInput> {
    let basis_points = match parse_percent_bp(lang, f.get("percent")) {
        Ok(bp) if (1..=MAX_COMMISSION_BP).contains(&bp) => Some(bp),
        Ok(_) => {
            f.fail("percent", text(lang, "referrals-error-commission"));
            None
        }
        Err(m) => {
            f.fail("percent", m);
            None
        }
    };
    let scope = match PartnerScope::parse(f.get("scope")) {
        Ok(s) => Some(s),
        Err(_) => {
            f.fail("scope", text(lang, "loyalty-error-choice"));
            None
        }
    };
    // A period only bounds partners who earn on every order; empty is for ever.
    let period_days = match (scope, f.get("period_days")) {
        (Some(PartnerScope::AllOrders), raw) if !raw.is_empty() => match parse_whole(lang, raw) {
            Ok(d) if (1..=MAX_PERIOD_DAYS).contains(&d) => Some(Some(d)),
            _ => {
                f.fail("period_days", text(lang, "referrals-error-period"));
                None
            }
        },
        _ => Some(None),
    };
    let note = f.get("note").to_string();
    if note.chars().count() > 500 {
        f.fail("note", text(lang, "referrals-error-note"));
    }
    match (basis_points, scope, period_days) {
        (Some(basis_points), Some(scope), Some(period_days)) if f.errors.is_empty() => Some(PartnerInput {
            basis_points,
            scope,
            period_days,
            note: (!note.is_empty()).then_some(note),
        }),
        _ => None,
    }
}

/// Records an error of the store against the input it is about.
fn store_error(lang: Lang, f: &mut FormState, e: &regulars_domain::FieldError) {
    let (input, id) = match e.field.as_str() {
        "basis_points" => ("percent", "referrals-error-commission"),
        "period_days" => ("period_days", "referrals-error-period"),
        "note" => ("note", "referrals-error-note"),
        "scope" => ("scope", "loyalty-error-choice"),
        _ => ("customer", ""),
    };
    let message = if id.is_empty() {
        e.message.clone()
    } else {
        text(lang, id)
    };
    f.fail(input, message);
}

/// The customer an invitation names: by their id, or by their email.
async fn find_customer(
    state: &AppState,
    store: &StoreRecord,
    raw: &str,
) -> Result<Option<CustomerId>, StoreError> {
    let raw = raw.trim();
    if let Ok(id) = CustomerId::parse(raw) {
        return match state.db.customer(store.id, id).await {
            Ok(c) => Ok(Some(c.id)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        };
    }
    let Ok(email) = Email::parse(raw) else {
        return Ok(None);
    };
    let filter = CustomerFilter {
        email: Some(email),
        limit: 1,
        ..Default::default()
    };
    Ok(state.db.customers(store.id, &filter).await?.first().map(|c| c.id))
}

// ---------------------------------------------------------------------------------------------
// The list

pub struct PartnerLine {
    pub href: String,
    pub name: String,
    pub email: String,
    pub code: String,
    pub commission: String,
    pub scope: String,
    pub friends: String,
    pub pending: String,
    pub owed: String,
    pub paid: String,
    pub active: bool,
    pub status: String,
}

#[derive(Template)]
#[template(path = "referrals_partners.html")]
pub struct PartnersPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub action: String,
    pub csrf: String,
    pub can_manage: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub csv_href: String,
    pub rows: Vec<PartnerLine>,
    pub invite: TermsInputs,
}

fn partner_status(lang: Lang, status: &str) -> String {
    text(
        lang,
        if status == "active" {
            "referrals-partner-active"
        } else {
            "referrals-partner-ended"
        },
    )
}

fn partner_line(lang: Lang, store: &StoreRecord, p: &PartnerSummary) -> PartnerLine {
    let money = |m: i64| format_money(lang, m, store.currency);
    PartnerLine {
        href: format!("/app/{}/referrals/partners/{}", store.id, p.partner.customer_id),
        name: if p.name.is_empty() {
            text(lang, "customers-unnamed")
        } else {
            p.name.clone()
        },
        email: p.email.clone().unwrap_or_default(),
        code: p.code.clone().unwrap_or_default(),
        commission: percent_words(p.partner.basis_points),
        scope: scope_text(lang, p.partner.scope),
        friends: format_number(lang, p.friends, Some(store.currency)),
        pending: money(p.pending),
        owed: money(p.approved),
        paid: money(p.paid),
        active: p.partner.status == "active",
        status: partner_status(lang, &p.partner.status),
    }
}

async fn list_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    form: Option<FormState>,
    notice: Option<String>,
) -> Response {
    let lang = staff.lang;
    let partners = match state.db.partners(store).await {
        Ok(p) => p,
        Err(e) => return unavailable(e, "listing partners"),
    };
    let refused = form.is_some();
    let f = form.unwrap_or_default();
    let mut page = render(&PartnersPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, store, "/partners"),
        store_name: store.name.clone(),
        action: format!("/app/{}/referrals/partners", store.id),
        csrf: staff.session.csrf_token.clone(),
        can_manage: role.can(MANAGE),
        notice,
        error: refused.then(|| text(lang, "referrals-partner-not-saved")),
        csv_href: format!("/app/{}/referrals/payouts.csv", store.id),
        rows: partners.iter().map(|p| partner_line(lang, store, p)).collect(),
        invite: terms_inputs(lang, &f),
    });
    if refused && page.status() == StatusCode::OK {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    page
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    done: String,
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let notice = (q.done == "ended").then(|| text(staff.lang, "referrals-partner-ended-notice"));
    list_page(&state, &staff, &store, role, None, notice).await
}

async fn invite(
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
    let customer = match find_customer(&state, &store, f.get("customer")).await {
        Ok(found) => found,
        Err(e) => return unavailable(e, "finding a customer to invite"),
    };
    if customer.is_none() {
        f.fail("customer", text(lang, "referrals-error-customer"));
    }
    let terms = parse_terms(lang, &mut f);
    let (Some(customer), Some(terms)) = (customer, terms) else {
        return list_page(&state, &staff, &store, role, Some(f), None).await;
    };
    let actor = format!("user:{}", staff.session.user.id);
    match state.db.upsert_partner(&store, customer, &terms, &actor).await {
        Ok(_) => Redirect::to(&format!(
            "/app/{}/referrals/partners/{customer}?done=invited",
            store.id
        ))
        .into_response(),
        Err(StoreError::Invalid(e)) => {
            store_error(lang, &mut f, &e);
            list_page(&state, &staff, &store, role, Some(f), None).await
        }
        Err(StoreError::NotFound(_)) => {
            f.fail("customer", text(lang, "referrals-error-customer"));
            list_page(&state, &staff, &store, role, Some(f), None).await
        }
        Err(e) => unavailable(e, "inviting a partner"),
    }
}

// ---------------------------------------------------------------------------------------------
// A partner's page

pub struct Fact {
    pub key: &'static str,
    pub label: String,
    pub value: String,
}

pub struct CommissionLine {
    pub kind: String,
    pub status: String,
    pub status_key: &'static str,
    pub order: String,
    pub order_href: String,
    pub revenue: String,
    pub amount: String,
    pub negative: bool,
    pub created: String,
    pub approves: String,
}

pub struct PayoutLine {
    pub paid_at: String,
    pub amount: String,
    pub entries: String,
    pub reference: String,
    pub paid_by: String,
}

#[derive(Template)]
#[template(path = "referrals_partner.html")]
pub struct PartnerPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub back: String,
    pub base: String,
    pub csrf: String,
    pub can_manage: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub name: String,
    pub profile_href: String,
    pub active: bool,
    pub status: String,
    pub facts: Vec<Fact>,
    pub terms: TermsInputs,
    pub owed: String,
    pub ledger: Vec<CommissionLine>,
    pub payouts: Vec<PayoutLine>,
}

/// The values of the terms form for a partner's current terms.
fn terms_values(p: &PartnerSummary) -> FormState {
    let mut f = FormState::default();
    f.set("customer", p.partner.customer_id.to_string());
    f.set("percent", percent_text(p.partner.basis_points));
    f.set("scope", p.partner.scope.as_str());
    f.set(
        "period_days",
        p.partner.period_days.map(|d| d.to_string()).unwrap_or_default(),
    );
    f.set("note", p.partner.note.clone().unwrap_or_default());
    f
}

#[allow(clippy::too_many_arguments)]
async fn partner_view(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    customer: CustomerId,
    form: Option<FormState>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let lang = staff.lang;
    let db = &state.db;
    let summary = match db.partner_summary(store, customer).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a partner"),
    };
    let (ledger, payouts, people) = match tokio::try_join!(
        db.commissions(store, customer),
        db.payouts(store, Some(customer)),
        db.store_people(store.id),
    ) {
        Ok(all) => all,
        Err(e) => return unavailable(e, "reading a partner's commissions"),
    };
    let zone = store.timezone.0;
    let money = |m: i64| format_money(lang, m, store.currency);
    let cur = Some(store.currency);
    let p = &summary.partner;
    let fact = |key: &'static str, label: &str, value: String| Fact {
        key,
        label: text(lang, label),
        value,
    };
    let mut facts = vec![
        fact(
            "email",
            "referrals-email",
            summary.email.clone().unwrap_or_default(),
        ),
        fact(
            "code",
            "referrals-code",
            summary.code.clone().unwrap_or_else(|| "—".into()),
        ),
        fact(
            "commission",
            "referrals-commission",
            percent_words(p.basis_points),
        ),
        fact("scope", "referrals-scope", scope_text(lang, p.scope)),
    ];
    if p.scope == PartnerScope::AllOrders {
        facts.push(fact(
            "period",
            "referrals-period-days",
            p.period_days
                .map(|d| text_with(lang, "referrals-days", &[("days", &format_number(lang, d, cur))]))
                .unwrap_or_else(|| text(lang, "referrals-period-forever")),
        ));
    }
    facts.extend([
        fact(
            "friends",
            "referrals-friends",
            format_number(lang, summary.friends, cur),
        ),
        fact("revenue", "referrals-partner-revenue", money(summary.revenue)),
        fact("pending", "referrals-pending", money(summary.pending)),
        fact("owed", "referrals-owed", money(summary.approved)),
        fact("paid", "referrals-paid", money(summary.paid)),
        fact(
            "invited",
            "referrals-invited",
            format!(
                "{} · {}",
                format_date(lang, p.invited_at, zone),
                actor_name(&p.invited_by, &people)
            ),
        ),
    ]);
    if let Some(note) = &p.note {
        facts.push(fact("note", "referrals-partner-note", note.clone()));
    }
    let ledger = ledger
        .iter()
        .map(|c| CommissionLine {
            kind: text(
                lang,
                if c.kind == "reversal" {
                    "referrals-commission-reversal"
                } else {
                    "referrals-commission-earned"
                },
            ),
            status: text(lang, &format!("referrals-commission-{}", c.status.as_str())),
            status_key: c.status.as_str(),
            order: c.order_id.chars().take(8).collect(),
            order_href: format!("/app/{}/orders/{}", store.id, c.order_id),
            revenue: money(c.revenue),
            amount: format_money(lang, c.amount, c.currency),
            negative: c.amount < 0,
            created: format_date(lang, c.created_at, zone),
            approves: if c.status == CommissionStatus::Pending {
                format_date(lang, c.approves_at, zone)
            } else {
                String::new()
            },
        })
        .collect();
    let payouts = payouts
        .iter()
        .map(|p| PayoutLine {
            paid_at: format_datetime(lang, p.paid_at, zone),
            amount: format_money(lang, p.amount, p.currency),
            entries: format_number(lang, p.entries, cur),
            reference: p.reference.clone().unwrap_or_default(),
            paid_by: actor_name(&p.paid_by, &people),
        })
        .collect();
    let refused = form.is_some();
    let f = form.unwrap_or_else(|| terms_values(&summary));
    let base = format!("/app/{}/referrals/partners/{customer}", store.id);
    let mut page = render(&PartnerPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, store, "/partners"),
        store_name: store.name.clone(),
        back: format!("/app/{}/referrals/partners", store.id),
        base,
        csrf: staff.session.csrf_token.clone(),
        can_manage: role.can(MANAGE),
        notice,
        error: error.or_else(|| refused.then(|| text(lang, "referrals-partner-not-saved"))),
        name: if summary.name.is_empty() {
            text(lang, "customers-unnamed")
        } else {
            summary.name.clone()
        },
        profile_href: format!("/app/{}/customers/{customer}", store.id),
        active: p.status == "active",
        status: partner_status(lang, &p.status),
        facts,
        terms: terms_inputs(lang, &f),
        owed: money(summary.approved),
        ledger,
        payouts,
    });
    if refused && page.status() == StatusCode::OK {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    page
}

#[derive(Deserialize, Default)]
struct PartnerQuery {
    #[serde(default)]
    done: String,
}

async fn partner_page(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, customer)): Path<(String, String)>,
    Query(q): Query<PartnerQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(customer) = CustomerId::parse(&customer) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    let lang = staff.lang;
    let (notice, error) = match q.done.as_str() {
        "invited" | "terms" | "paid" => (
            Some(text(lang, &format!("referrals-partner-done-{}", q.done))),
            None,
        ),
        "nothing_owed" | "reference" => (
            None,
            Some(text(
                lang,
                &format!("referrals-payout-error-{}", q.done.replace('_', "-")),
            )),
        ),
        _ => (None, None),
    };
    partner_view(&state, &staff, &store, role, customer, None, notice, error).await
}

async fn change_terms(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, customer)): Path<(String, String)>,
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
    let Ok(customer) = CustomerId::parse(&customer) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    // Only a partner of this store has terms to change.
    match state.db.partner(store.id, customer).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a partner"),
    }
    let lang = staff.lang;
    let mut f = FormState::from_fields(&fields);
    f.set("customer", customer.to_string());
    let Some(terms) = parse_terms(lang, &mut f) else {
        return partner_view(&state, &staff, &store, role, customer, Some(f), None, None).await;
    };
    let actor = format!("user:{}", staff.session.user.id);
    match state.db.upsert_partner(&store, customer, &terms, &actor).await {
        Ok(_) => Redirect::to(&format!(
            "/app/{}/referrals/partners/{customer}?done=terms",
            store.id
        ))
        .into_response(),
        Err(StoreError::Invalid(e)) => {
            store_error(lang, &mut f, &e);
            partner_view(&state, &staff, &store, role, customer, Some(f), None, None).await
        }
        Err(StoreError::NotFound(_)) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => unavailable(e, "changing a partner's terms"),
    }
}

#[derive(Deserialize, Default)]
struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reference: String,
}

async fn pay(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, customer)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<PayForm>,
) -> Response {
    let (store, _) = match staff
        .store_form(&state, &store, MANAGE, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(customer) = CustomerId::parse(&customer) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    let back = |done: &str| {
        Redirect::to(&format!(
            "/app/{}/referrals/partners/{customer}?done={done}",
            store.id
        ))
        .into_response()
    };
    let actor = format!("user:{}", staff.session.user.id);
    let reference = Some(form.reference.trim()).filter(|r| !r.is_empty());
    match state.db.pay_partner(&store, customer, reference, &actor).await {
        Ok(_) => back("paid"),
        Err(StoreError::NotFound(_)) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(StoreError::Refused { .. }) => back("nothing_owed"),
        Err(StoreError::Invalid(_)) => back("reference"),
        Err(e) => unavailable(e, "paying a partner"),
    }
}

#[derive(Deserialize, Default)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn end(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, customer)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (store, _) = match staff
        .store_form(&state, &store, MANAGE, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(customer) = CustomerId::parse(&customer) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    let actor = format!("user:{}", staff.session.user.id);
    match state.db.end_partner(&store, customer, &actor).await {
        Ok(_) => Redirect::to(&format!("/app/{}/referrals/partners?done=ended", store.id)).into_response(),
        Err(StoreError::NotFound(_)) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => unavailable(e, "ending a partnership"),
    }
}

/// What every partner is owed and was paid, as a spreadsheet to pay them from.
async fn payouts_csv(State(state): State<AppState>, staff: Staff, Path(store): Path<String>) -> Response {
    let (store, _) = match staff.store(&state, &store, MANAGE).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let csv = match state.db.payout_report_csv(&store).await {
        Ok(csv) => csv,
        Err(e) => return unavailable(e, "writing the payout report"),
    };
    let day = Timestamp::now()
        .to_datetime()
        .with_timezone(&store.timezone.0)
        .format("%Y-%m-%d");
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"partner-payouts-{day}.csv\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        csv,
    )
        .into_response()
}
