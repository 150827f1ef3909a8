//! Loyalty members: the list of customers with points or a tier, and the loyalty panel of a
//! customer's profile (balance, tier progress, lots, ledger, tier history, redemptions) with
//! the manual adjustment form.
//!
//! Adjusting points needs [`Permission::AdjustPoints`] (owners, admins, support), a reason and
//! the CSRF token; the entry names the person who made it (`user:<id>`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use regulars_domain::loyalty::{Program, TierMetric};
use regulars_domain::{CustomerId, Permission, Role, Timestamp};
use regulars_i18n::{format_datetime, format_money, format_number, text, text_with, Lang};
use regulars_store::{display_name, MemberView, StoreError, StoreRecord};
use serde::Deserialize;

use super::loyalty::{actor_name, day, error_text, parse_whole, tabs, tier_name, TabLink, SECTION};
use super::pages::{render, Chrome, Tr};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/loyalty/members", get(list))
        .route("/app/{store}/customers/{id}/loyalty", get(member_page))
        .route("/app/{store}/customers/{id}/loyalty/adjust", post(adjust))
}

const PAGE_SIZE: u64 = 50;

// ---------------------------------------------------------------------------------------------
// The members list

pub struct MemberRow {
    pub href: String,
    pub name: String,
    pub email: String,
    pub points: String,
    pub tier: String,
}

pub struct TierChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "loyalty_members.html")]
pub struct MembersPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub action: String,
    pub tiers: Vec<TierChoice>,
    pub total: String,
    pub rows: Vec<MemberRow>,
    pub previous: Option<String>,
    pub next: Option<String>,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    page: u64,
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let program = match state.db.loyalty_program(store.id).await {
        Ok(r) => r.program,
        Err(e) => return unavailable(e, "reading the loyalty program"),
    };
    let tier = q.tier.trim();
    let page = q.page.min(100_000);
    let members = match state
        .db
        .loyalty_members(
            store.id,
            (!tier.is_empty()).then_some(tier),
            page * PAGE_SIZE,
            PAGE_SIZE,
        )
        .await
    {
        Ok(m) => m,
        Err(e) => return unavailable(e, "listing loyalty members"),
    };
    let base = format!("/app/{}/loyalty/members", store.id);
    let link = |page: u64| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if !tier.is_empty() {
            query.append_pair("tier", tier);
        }
        query.append_pair("page", &page.to_string());
        format!("{base}?{}", query.finish())
    };
    let cur = Some(store.currency);
    let mut tiers = vec![TierChoice {
        value: String::new(),
        label: text(lang, "loyalty-members-all-tiers"),
        selected: tier.is_empty(),
    }];
    tiers.extend(program.tiers.levels.iter().map(|t| TierChoice {
        value: t.id.clone(),
        label: t.name.clone(),
        selected: t.id == tier,
    }));
    let rows = members
        .members
        .iter()
        .map(|m| MemberRow {
            href: format!("/app/{}/customers/{}#loyalty", store.id, m.customer_id),
            name: display_name(m.first_name.as_deref(), m.last_name.as_deref())
                .or_else(|| m.email.clone())
                .unwrap_or_else(|| text(lang, "customers-unnamed")),
            email: m.email.clone().unwrap_or_default(),
            points: format_number(lang, m.points, cur),
            tier: m
                .tier_id
                .as_deref()
                .map(|id| tier_name(&program, id))
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    let shown = (page + 1) * PAGE_SIZE;
    render(&MembersPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, &store, "/members"),
        store_name: store.name.clone(),
        action: base.clone(),
        tiers,
        total: text_with(
            lang,
            "loyalty-members-total",
            &[("count", &format_number(lang, members.total, cur))],
        ),
        rows,
        previous: (page > 0).then(|| link(page - 1)),
        next: ((shown as i64) < members.total).then(|| link(page + 1)),
    })
}

// ---------------------------------------------------------------------------------------------
// The panel on a customer's profile

pub struct Fact {
    pub key: &'static str,
    pub label: String,
    pub value: String,
}

pub struct LotLine {
    pub points: String,
    pub remaining: String,
    pub available: String,
    pub expires: String,
}

pub struct EntryLine {
    pub when: String,
    pub kind: String,
    pub points: String,
    pub negative: bool,
    pub reason: String,
    pub actor: String,
}

pub struct TierLine {
    pub when: String,
    pub from: String,
    pub to: String,
    pub measure: String,
    pub cause: String,
}

pub struct RedemptionLine {
    pub when: String,
    pub reward: String,
    pub points: String,
    pub coupon: String,
    pub cause: String,
}

/// The adjustment form as typed, with what was wrong.
#[derive(Default)]
pub struct AdjustView {
    pub points: String,
    pub reason: String,
    pub points_error: Option<String>,
    pub reason_error: Option<String>,
    pub refused: Option<String>,
}

#[derive(Template)]
#[template(path = "loyalty_panel.html")]
pub struct PanelPart {
    pub t: Tr,
    pub action: String,
    pub csrf: String,
    pub enabled: bool,
    pub balance: Vec<Fact>,
    pub tier: String,
    pub tier_since: Option<String>,
    pub progress: Option<String>,
    pub progress_value: i64,
    pub progress_max: i64,
    pub lots: Vec<LotLine>,
    pub entries: Vec<EntryLine>,
    pub tier_history: Vec<TierLine>,
    pub redemptions: Vec<RedemptionLine>,
    pub can_adjust: bool,
    pub adjust: AdjustView,
}

fn signed(lang: Lang, points: i64, store: &StoreRecord) -> String {
    let n = format_number(lang, points.abs(), Some(store.currency));
    match points.signum() {
        1 => format!("+{n}"),
        -1 => format!("−{n}"),
        _ => n,
    }
}

/// A tier's measure in its unit: points, or money for a ladder measured by spend.
fn measure_text(lang: Lang, program: &Program, store: &StoreRecord, value: i64) -> String {
    match program.tiers.metric {
        TierMetric::PointsEarned => text_with(
            lang,
            "loyalty-points-count",
            &[("points", &format_number(lang, value, Some(store.currency)))],
        ),
        TierMetric::MoneySpent => format_money(lang, value, store.currency),
    }
}

async fn panel_part(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    customer: CustomerId,
    adjust: AdjustView,
) -> Result<PanelPart, StoreError> {
    let lang = staff.lang;
    let now = Timestamp::now();
    let db = &state.db;
    let (record, member, redemptions, rewards, people) = tokio::try_join!(
        db.loyalty_program(store.id),
        db.loyalty_member(store.id, customer, now),
        db.redemptions(store.id, Some(customer), 20),
        db.rewards(store.id, false),
        db.store_people(store.id),
    )?;
    let program = &record.program;
    let MemberView {
        balance,
        tier,
        tier_since,
        measure,
        next_tier,
        missing_for_next,
        lots,
        history,
        tier_history,
        ..
    } = member;
    let cur = Some(store.currency);
    let points = |n: i64| {
        text_with(
            lang,
            "loyalty-points-count",
            &[("points", &format_number(lang, n, cur))],
        )
    };
    let mut facts = vec![
        (
            "available",
            "loyalty-balance-available",
            points(balance.available),
        ),
        ("pending", "loyalty-balance-pending", points(balance.pending)),
        ("held", "loyalty-balance-held", points(balance.held)),
    ];
    let expiring = match balance.next_expiry {
        Some(at) if balance.expiring_soon > 0 => text_with(
            lang,
            "loyalty-balance-expiring-by",
            &[
                ("points", &format_number(lang, balance.expiring_soon, cur)),
                ("date", &day(lang, store, at)),
            ],
        ),
        _ => points(0),
    };
    facts.push(("expiring", "loyalty-balance-expiring", expiring));
    if let Some(at) = balance.next_expiry {
        facts.push(("next_expiry", "loyalty-balance-next-expiry", day(lang, store, at)));
    }
    facts.push(("value", "loyalty-balance-value", {
        let worth = program.points_value_minor(balance.available);
        format_money(lang, worth, store.currency)
    }));
    facts.push((
        "earned",
        "loyalty-balance-earned",
        points(balance.lifetime_earned),
    ));
    facts.push(("redeemed", "loyalty-balance-redeemed", points(balance.redeemed)));
    facts.push(("expired", "loyalty-balance-expired", points(balance.expired)));
    let balance = facts
        .into_iter()
        .map(|(key, label, value)| Fact {
            key,
            label: text(lang, label),
            value,
        })
        .collect();
    let progress = next_tier.as_ref().map(|next| {
        text_with(
            lang,
            "loyalty-tier-progress",
            &[
                ("measure", &measure_text(lang, program, store, measure)),
                ("threshold", &measure_text(lang, program, store, next.threshold)),
                ("tier", &next.name),
                (
                    "missing",
                    &measure_text(lang, program, store, missing_for_next.unwrap_or(0)),
                ),
            ],
        )
    });
    let tier_label = |id: Option<&str>| id.map(|id| tier_name(program, id)).unwrap_or_else(|| "—".into());
    let reward_name = |id: &str| {
        rewards
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.input.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let when = |at: i64| format_datetime(lang, Timestamp(at), store.timezone.0);
    Ok(PanelPart {
        t: Tr(lang),
        action: format!("/app/{}/customers/{customer}/loyalty", store.id),
        csrf: staff.session.csrf_token.clone(),
        enabled: program.enabled,
        balance,
        tier: tier
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_else(|| text(lang, "loyalty-tier-none")),
        tier_since: tier
            .as_ref()
            .and(tier_since)
            .map(|at| text_with(lang, "loyalty-tier-since", &[("date", &day(lang, store, at))])),
        progress,
        progress_value: measure.max(0),
        progress_max: next_tier.as_ref().map(|t| t.threshold.max(1)).unwrap_or(1),
        lots: lots
            .iter()
            .map(|l| LotLine {
                points: format_number(lang, l.points, cur),
                remaining: format_number(lang, l.remaining, cur),
                available: if l.available_from > now.0 {
                    text_with(
                        lang,
                        "loyalty-lot-pending-until",
                        &[("date", &day(lang, store, l.available_from))],
                    )
                } else {
                    day(lang, store, l.available_from)
                },
                expires: l
                    .expires_at
                    .map(|at| day(lang, store, at))
                    .unwrap_or_else(|| text(lang, "loyalty-never")),
            })
            .collect(),
        entries: history
            .iter()
            .map(|e| {
                let points = e.signed_points();
                EntryLine {
                    when: when(e.created_at),
                    kind: text(lang, &format!("loyalty-kind-{}", e.kind)),
                    points: signed(lang, points, store),
                    negative: points < 0,
                    reason: e.reason.clone(),
                    actor: actor_name(&e.actor, &people),
                }
            })
            .collect(),
        tier_history: tier_history
            .iter()
            .map(|c| TierLine {
                when: when(c.changed_at),
                from: tier_label(c.from_tier.as_deref()),
                to: tier_label(c.to_tier.as_deref()),
                measure: measure_text(lang, program, store, c.measure),
                cause: c.cause.clone(),
            })
            .collect(),
        redemptions: redemptions
            .iter()
            .map(|r| RedemptionLine {
                when: when(r.created_at),
                reward: reward_name(&r.reward_id),
                points: format_number(lang, r.points, cur),
                coupon: r.coupon_code.clone().unwrap_or_default(),
                cause: match r.cause.strip_prefix("tier:") {
                    Some(id) => text_with(
                        lang,
                        "loyalty-redemption-gift",
                        &[("tier", &tier_name(program, id))],
                    ),
                    None => text(lang, "loyalty-redemption-points"),
                },
            })
            .collect(),
        can_adjust: role.can(Permission::AdjustPoints),
        adjust,
    })
}

/// The loyalty panel of a customer's profile, as HTML to place in the page. A failure to read
/// it leaves a note in the panel rather than losing the whole profile.
pub async fn panel(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    customer: CustomerId,
) -> String {
    let rendered = match panel_part(state, staff, store, role, customer, AdjustView::default()).await {
        Ok(part) => part.render(),
        Err(e) => {
            tracing::error!(error = %e, "reading a customer's loyalty panel");
            return format!(
                "<section class=\"panel wide\" id=\"loyalty\"><p class=\"error\">{}</p></section>",
                askama::filters::escape(
                    text(staff.lang, "loyalty-panel-unavailable"),
                    askama::filters::Html
                )
                .map(|e| e.to_string())
                .unwrap_or_default()
            );
        }
    };
    rendered.unwrap_or_else(|e| {
        tracing::error!(error = %e, "rendering a customer's loyalty panel");
        String::new()
    })
}

#[derive(Template)]
#[template(path = "loyalty_member.html")]
pub struct MemberPage {
    pub chrome: Chrome,
    pub profile: String,
    pub name: String,
    pub panel: String,
}

/// The panel on a page of its own: where the adjustment form comes back with its errors.
async fn member_view(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    customer: CustomerId,
    adjust: AdjustView,
) -> Response {
    let lang = staff.lang;
    let record = match state.db.customer(store.id, customer).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a customer"),
    };
    let part = match panel_part(state, staff, store, role, customer, adjust).await {
        Ok(p) => p,
        Err(e) => return unavailable(e, "reading a customer's loyalty panel"),
    };
    let panel = match part.render() {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "rendering a customer's loyalty panel");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    render(&MemberPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        profile: format!("/app/{}/customers/{customer}", store.id),
        name: display_name(record.first_name.as_deref(), record.last_name.as_deref())
            .or_else(|| record.email.as_ref().map(|e| e.to_string()))
            .unwrap_or_else(|| text(lang, "customers-unnamed")),
        panel,
    })
}

async fn member_page(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(id) = CustomerId::parse(&id) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    member_view(&state, &staff, &store, role, id, AdjustView::default()).await
}

#[derive(Deserialize)]
struct AdjustForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    points: String,
    #[serde(default)]
    reason: String,
}

async fn adjust(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<AdjustForm>,
) -> Response {
    let (store, role) = match staff
        .store_form(&state, &store, Permission::AdjustPoints, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(id) = CustomerId::parse(&id) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    let lang = staff.lang;
    let mut view = AdjustView {
        points: form.points.clone(),
        reason: form.reason.clone(),
        ..AdjustView::default()
    };
    let refused = |view: AdjustView| async {
        let mut response = member_view(&state, &staff, &store, role, id, view).await;
        if response.status() == StatusCode::OK {
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        }
        response
    };
    let points = match parse_whole(lang, &form.points) {
        Ok(p) => p,
        Err(message) => {
            view.points_error = Some(message);
            return refused(view).await;
        }
    };
    match state.db.customer(store.id, id).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a customer"),
    }
    let actor = format!("user:{}", staff.session.user.id);
    let mut tx = match state.db.begin().await {
        Ok(tx) => tx,
        Err(e) => return unavailable(e, "adjusting points"),
    };
    let result = tx
        .adjust_points(&store, id, points, &form.reason, &actor, Timestamp::now())
        .await;
    let outcome = match result {
        Ok(_) => tx.commit().await,
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    };
    match outcome {
        Ok(()) => {
            tracing::info!(store = %store.id, customer = %id, points, "points adjusted by hand");
            Redirect::to(&format!("/app/{}/customers/{id}#loyalty", store.id)).into_response()
        }
        Err(StoreError::Invalid(e)) => {
            let message = error_text(lang, &e);
            if e.field == "reason" {
                view.reason_error = Some(message);
            } else {
                view.points_error = Some(message);
            }
            refused(view).await
        }
        Err(StoreError::Refused { code, .. }) => {
            view.refused = Some(match code {
                "insufficient_points" => text(lang, "loyalty-error-insufficient"),
                _ => text_with(lang, "loyalty-error-refused", &[("code", code)]),
            });
            refused(view).await
        }
        Err(StoreError::NotFound(_)) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => unavailable(e, "adjusting points"),
    }
}
