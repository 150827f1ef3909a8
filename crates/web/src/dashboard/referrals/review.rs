//! The review queue: referrals a fraud rule held for a person, each with the rules that
//! matched and why, to approve or reject with an optional note; and every referral listed by
//! status, each with a page of its own.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use regulars_domain::{CustomerId, Permission, Timestamp};
use regulars_i18n::{format_date, format_datetime, format_money, text, Lang};
use regulars_store::{
    Decision, ReferralCursor, ReferralFilter, ReferralRecord, ReferralStatus, StoreError, StoreRecord,
};
use serde::Deserialize;

use super::super::loyalty::{actor_name, TabLink};
use super::super::pages::{render, Chrome};
use super::super::session::Staff;
use super::super::unavailable;
use super::{
    action_text, given_text, names, person_link, reason_text, rule_text, status_text, tabs, PersonLink,
    MANAGE, SECTION,
};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/referrals/review", get(list))
        .route("/app/{store}/referrals/review/{id}", get(detail))
        .route("/app/{store}/referrals/review/{id}/decide", post(decide))
}

const PAGE_SIZE: u32 = 100;

pub struct FindingLine {
    pub rule: String,
    pub action: String,
    pub action_key: &'static str,
    pub detail: String,
}

pub struct ReferralLine {
    pub id: String,
    pub href: String,
    pub advocate: PersonLink,
    pub friend: PersonLink,
    pub code: String,
    pub status: String,
    pub status_key: &'static str,
    pub order_value: String,
    pub findings: Vec<FindingLine>,
    pub created: String,
    pub in_review: bool,
}

pub struct StatusChoice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "referrals_review.html")]
pub struct ReviewPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub action: String,
    pub csrf: String,
    pub can_decide: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub reviewing: bool,
    pub statuses: Vec<StatusChoice>,
    pub status: String,
    pub rows: Vec<ReferralLine>,
    pub older: Option<String>,
}

fn finding_lines(lang: Lang, r: &ReferralRecord) -> Vec<FindingLine> {
    r.findings
        .iter()
        .map(|f| FindingLine {
            rule: rule_text(lang, f.rule),
            action: action_text(lang, f.action),
            action_key: match f.action {
                regulars_domain::referral::RuleAction::Allow => "allow",
                regulars_domain::referral::RuleAction::Review => "review",
                regulars_domain::referral::RuleAction::Reject => "reject",
            },
            detail: f.detail.clone(),
        })
        .collect()
}

/// Where a decision was made from, to go back there: the queue (with its filter) or the
/// referral's own page.
fn back_to(store: &StoreRecord, id: &str, from: &str, done: &str) -> String {
    match from {
        "detail" => format!("/app/{}/referrals/review/{id}?done={done}", store.id),
        status if status == "all" || ReferralStatus::parse(status).is_ok() => {
            format!("/app/{}/referrals/review?status={status}&done={done}", store.id)
        }
        _ => format!("/app/{}/referrals/review?done={done}", store.id),
    }
}

/// The message a finished (or refused) decision leaves: `(notice, error)`.
fn flash(lang: Lang, done: &str) -> (Option<String>, Option<String>) {
    match done {
        "approved" | "rejected" => (Some(text(lang, &format!("referrals-decided-{done}"))), None),
        "not_in_review" | "note" | "decision" => (
            None,
            Some(text(
                lang,
                &format!("referrals-decide-error-{}", done.replace('_', "-")),
            )),
        ),
        _ => (None, None),
    }
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    before: Option<String>,
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
    let lang = staff.lang;
    // The queue by default; `all` or one status on request.
    let chosen = q.status.trim();
    let status = match chosen {
        "" => Some(ReferralStatus::Review),
        "all" => None,
        s => match ReferralStatus::parse(s) {
            Ok(s) => Some(s),
            Err(_) => Some(ReferralStatus::Review),
        },
    };
    let status_value = status.map(|s| s.as_str()).unwrap_or("all");
    let filter = ReferralFilter {
        status,
        // A cursor not given out here (edited by hand) starts from the newest.
        before: q.before.as_deref().and_then(|b| ReferralCursor::parse(b).ok()),
        limit: Some(PAGE_SIZE),
        ..Default::default()
    };
    let referrals = match state.db.referrals(store.id, &filter).await {
        Ok(r) => r,
        Err(e) => return unavailable(e, "listing referrals"),
    };
    let people: Vec<CustomerId> = referrals
        .iter()
        .flat_map(|r| [r.advocate_id, r.friend_id])
        .collect();
    let names = match names(&state, &store, lang, &people).await {
        Ok(n) => n,
        Err(e) => return unavailable(e, "reading referred customers"),
    };
    let base = format!("/app/{}/referrals/review", store.id);
    let rows: Vec<ReferralLine> = referrals
        .iter()
        .map(|r| ReferralLine {
            id: r.id.clone(),
            href: format!("{base}/{}", r.id),
            advocate: person_link(lang, &store, &names, r.advocate_id),
            friend: person_link(lang, &store, &names, r.friend_id),
            code: r.code.clone(),
            status: status_text(lang, r.status),
            status_key: r.status.as_str(),
            order_value: r
                .order_value
                .map(|v| format_money(lang, v, store.currency))
                .unwrap_or_else(|| "—".into()),
            findings: finding_lines(lang, r),
            created: format_date(lang, r.created_at, store.timezone.0),
            in_review: r.status == ReferralStatus::Review,
        })
        .collect();
    let older = (rows.len() as u32 == PAGE_SIZE)
        .then(|| referrals.last())
        .flatten()
        .map(|last| {
            format!(
                "{base}?status={status_value}&before={}",
                ReferralCursor::after(last)
            )
        });
    let mut statuses = vec![StatusChoice {
        value: "all".into(),
        label: text(lang, "referrals-status-all"),
        selected: status.is_none(),
    }];
    statuses.extend(ReferralStatus::ALL.iter().map(|s| StatusChoice {
        value: s.as_str().into(),
        label: status_text(lang, *s),
        selected: status == Some(*s),
    }));
    let (notice, error) = flash(lang, &q.done);
    render(&ReviewPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, &store, "/review"),
        store_name: store.name.clone(),
        action: base,
        csrf: staff.session.csrf_token.clone(),
        can_decide: role.can(MANAGE),
        notice,
        error,
        reviewing: status == Some(ReferralStatus::Review),
        statuses,
        status: status_value.to_string(),
        rows,
        older,
    })
}

pub struct Fact {
    pub key: &'static str,
    pub label: String,
    pub value: String,
    pub href: Option<String>,
}

#[derive(Template)]
#[template(path = "referrals_referral.html")]
pub struct ReferralPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub back: String,
    pub action: String,
    pub csrf: String,
    pub can_decide: bool,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub code: String,
    pub status: String,
    pub status_key: &'static str,
    pub in_review: bool,
    pub facts: Vec<Fact>,
    pub findings: Vec<FindingLine>,
}

#[derive(Deserialize, Default)]
struct DetailQuery {
    #[serde(default)]
    done: String,
}

async fn detail(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let r = match state.db.referral(store.id, &id).await {
        Ok(r) => r,
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a referral"),
    };
    let db = &state.db;
    let both = [r.advocate_id, r.friend_id];
    let (names, people, catalog) = match tokio::try_join!(
        names(&state, &store, lang, &both),
        db.store_people(store.id),
        db.rewards(store.id, false),
    ) {
        Ok(all) => all,
        Err(e) => return unavailable(e, "reading a referral"),
    };
    let zone = store.timezone.0;
    let when = |t: Timestamp| format_datetime(lang, t, zone);
    let advocate = person_link(lang, &store, &names, r.advocate_id);
    let friend = person_link(lang, &store, &names, r.friend_id);
    let fact = |key: &'static str, label: &str, value: String, href: Option<String>| Fact {
        key,
        label: text(lang, label),
        value,
        href,
    };
    let mut facts = vec![
        fact(
            "advocate",
            "referrals-advocate-name",
            advocate.name,
            Some(advocate.href),
        ),
        fact("friend", "referrals-friend-name", friend.name, Some(friend.href)),
        fact(
            "channel",
            "referrals-channel",
            text(lang, &format!("referrals-channel-{}", r.channel)),
            None,
        ),
        fact("created", "referrals-created", when(r.created_at), None),
    ];
    if let Some(order) = &r.order_id {
        facts.push(fact(
            "order",
            "referrals-order",
            r.order_value
                .map(|v| format_money(lang, v, store.currency))
                .unwrap_or_else(|| order.clone()),
            Some(format!("/app/{}/orders/{order}", store.id)),
        ));
    }
    if let Some(at) = r.qualifies_at {
        facts.push(fact("qualifies", "referrals-qualifies-at", when(at), None));
    }
    if let Some(reason) = &r.reason {
        facts.push(fact(
            "reason",
            "referrals-reason",
            reason_text(lang, reason),
            None,
        ));
    }
    if let (Some(by), Some(at)) = (&r.decided_by, r.decided_at) {
        let who = match by.as_str() {
            "rules" => text(lang, "referrals-decided-by-rules"),
            other => actor_name(other, &people),
        };
        facts.push(fact(
            "decided",
            "referrals-decided-by",
            format!("{who} · {}", when(at)),
            None,
        ));
    }
    if let Some(given) = &r.advocate_reward {
        facts.push(fact(
            "advocate_reward",
            "referrals-advocate-got",
            given_text(lang, given, store.currency, &catalog),
            None,
        ));
    }
    if let Some(given) = &r.friend_reward {
        facts.push(fact(
            "friend_reward",
            "referrals-friend-got",
            given_text(lang, given, store.currency, &catalog),
            None,
        ));
    }
    let (notice, error) = flash(lang, &q.done);
    let base = format!("/app/{}/referrals/review", store.id);
    render(&ReferralPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, &store, "/review"),
        store_name: store.name.clone(),
        back: format!("{base}?status=all"),
        action: format!("{base}/{}/decide", r.id),
        csrf: staff.session.csrf_token.clone(),
        can_decide: role.can(MANAGE),
        notice,
        error,
        code: r.code.clone(),
        status: status_text(lang, r.status),
        status_key: r.status.as_str(),
        in_review: r.status == ReferralStatus::Review,
        findings: finding_lines(lang, &r),
        facts,
    })
}

#[derive(Deserialize, Default)]
struct DecideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
    /// `detail`, or the status the queue was filtered by.
    #[serde(default)]
    from: String,
}

async fn decide(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<DecideForm>,
) -> Response {
    let (store, _) = match staff
        .store_form(&state, &store, MANAGE, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let back = |done: &str| Redirect::to(&back_to(&store, &id, &form.from, done)).into_response();
    let Ok(decision) = Decision::parse(&form.decision) else {
        return back("decision");
    };
    let actor = format!("user:{}", staff.session.user.id);
    match state
        .db
        .decide_referral(&store, &id, decision, &form.note, &actor)
        .await
    {
        Ok(_) => back(match decision {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        }),
        Err(StoreError::NotFound(_)) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(StoreError::Refused { .. }) => back("not_in_review"),
        Err(StoreError::Invalid(_)) => back("note"),
        Err(e) => unavailable(e, "deciding a referral"),
    }
}
