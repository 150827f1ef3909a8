//! The staff dashboard: server-rendered pages (askama) with htmx and uPlot served from this
//! binary, signed in with server-side sessions.

mod account;
mod analytics;
mod coupons;
mod customers;
mod imports;
mod loyalty;
mod loyalty_members;
mod loyalty_reports;
mod loyalty_rewards;
mod orders;
mod pages;
mod referrals;
pub(crate) mod session;
mod settings;
mod statics;
mod webhooks;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use rand::Rng;
use regulars_domain::{Permission, Timestamp};
use regulars_i18n::{format_money, format_number, format_percent, text, text_with, Lang};
use regulars_store::{last_days, LoginOutcome};
use serde::Deserialize;

use crate::AppState;
use pages::{render, Card, Chrome, LoginPage, OverviewPage, Period};
use session::{
    cookie, cross_site, reader_lang, same_token, set_cookie, with_session, ClientAddr, Staff, LANG_COOKIE,
    LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};

/// Dashboard settings: cookie security and session lifetimes.
#[derive(Debug, Clone, Copy, Default)]
pub struct DashboardConfig {
    /// Mark cookies `Secure` (set when the dashboard is served over HTTPS).
    pub secure_cookies: bool,
    pub session_limits: regulars_store::SessionLimits,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/app") }))
        .route("/login", get(login_form).post(login))
        .route("/login/link/{token}", get(login_link))
        .route("/logout", post(logout))
        .route("/lang/{code}", get(choose_language))
        .route("/static/{*file}", get(statics::serve))
        .route("/app", get(home))
        .route("/app/switch", get(switch_store))
        .route("/app/{store}", get(overview))
        .merge(account::routes())
        .merge(customers::routes())
        .merge(orders::routes())
        .merge(analytics::routes())
        .merge(loyalty::routes())
        .merge(imports::routes())
        .merge(settings::routes())
        .merge(coupons::routes())
        .merge(webhooks::routes())
        .merge(referrals::routes())
}

/// The answer when the database fails under a page: logged, and 503 for the reader.
fn unavailable(error: impl std::fmt::Display, doing: &str) -> Response {
    tracing::error!(error = %error, "{doing}");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

fn random_token() -> String {
    hex::encode(rand::thread_rng().gen::<[u8; 32]>())
}

fn login_page(
    state: &AppState,
    lang: Lang,
    email: String,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let csrf = random_token();
    let mut response = render(&LoginPage {
        chrome: Chrome::public(lang),
        csrf: csrf.clone(),
        email,
        error,
        notice,
    });
    if let Ok(value) = set_cookie(state, LOGIN_CSRF_COOKIE, &csrf, 3600).parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    bye: bool,
}

async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let lang = reader_lang(&headers);
    let notice = q.bye.then(|| text(lang, "login-logged-out"));
    login_page(&state, lang, String::new(), None, notice)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = reader_lang(&headers);
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if cross_site(&headers) || !same_token(&form.csrf, &expected) {
        let chrome = Chrome::public(lang);
        return (StatusCode::FORBIDDEN, pages::message_page(chrome, "error-csrf")).into_response();
    }
    match state.db.log_in(&form.email, &form.password, &address).await {
        Ok(LoginOutcome::Ok { token, session }) => {
            tracing::info!(user = %session.user.id, "signed in");
            let mut response = with_session(&state, &token, "/app");
            // The login form's token has done its work.
            if let Ok(v) = set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0).parse() {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
            response
        }
        Ok(LoginOutcome::Refused) => {
            let error = text(lang, "login-failed");
            let mut page = login_page(&state, lang, form.email, Some(error), None);
            *page.status_mut() = StatusCode::UNAUTHORIZED;
            page
        }
        Ok(LoginOutcome::Throttled { retry_after_secs }) => {
            let error = text_with(
                lang,
                "login-throttled",
                &[("seconds", &retry_after_secs.to_string())],
            );
            let mut page = login_page(&state, lang, form.email, Some(error), None);
            *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            if let Ok(v) = retry_after_secs.to_string().parse() {
                page.headers_mut().insert(header::RETRY_AFTER, v);
            }
            page
        }
        Err(e) => {
            tracing::error!(error = %e, "signing in");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Signs in with a one-time link (the demo prints one): the link is spent on first use.
async fn login_link(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = reader_lang(&headers);
    // Another site must not sign a reader into an account of its choosing.
    if cross_site(&headers) {
        return (
            StatusCode::FORBIDDEN,
            pages::message_page(Chrome::public(lang), "error-csrf"),
        )
            .into_response();
    }
    match state.db.use_login_link(&token).await {
        Ok(Some(LoginOutcome::Ok { token, session })) => {
            tracing::info!(user = %session.user.id, "signed in with a link");
            with_session(&state, &token, "/app")
        }
        Ok(_) => {
            let error = text(lang, "login-link-spent");
            let mut page = login_page(&state, lang, String::new(), Some(error), None);
            *page.status_mut() = StatusCode::GONE;
            page
        }
        Err(e) => unavailable(e, "signing in with a link"),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !staff.csrf_ok(&headers, &form.csrf) {
        return staff.refuse(StatusCode::FORBIDDEN, "error-csrf");
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = state.db.log_out(&token).await {
            tracing::error!(error = %e, "signing out");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let mut response = Redirect::to("/login?bye=true").into_response();
    if let Ok(v) = set_cookie(&state, SESSION_COOKIE, "", 0).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Remembers the reader's language in a cookie and goes back where they were (same site only).
async fn choose_language(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(lang) = Lang::from_tag(&code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(same_site_path)
        .unwrap_or_else(|| "/app".to_string());
    let mut response = Redirect::to(&back).into_response();
    if let Ok(v) = set_cookie(&state, LANG_COOKIE, lang.code(), 365 * 86_400).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The path and query of a referring URL, never a way to send the reader to another site.
fn same_site_path(referer: &str) -> Option<String> {
    let after_scheme = referer.split_once("://").map(|(_, rest)| rest)?;
    let path = &after_scheme[after_scheme.find('/')?..];
    (path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/lang/"))
        .then(|| path.to_string())
}

async fn home(staff: Staff) -> Response {
    match staff.session.memberships.first() {
        Some(m) => Redirect::to(&format!("/app/{}", m.store_id)).into_response(),
        None => staff.refuse(StatusCode::FORBIDDEN, "error-forbidden"),
    }
}

#[derive(Deserialize)]
struct SwitchQuery {
    store: String,
}

async fn switch_store(State(state): State<AppState>, staff: Staff, Query(q): Query<SwitchQuery>) -> Response {
    match staff.store(&state, &q.store, Permission::Read).await {
        Ok((store, _)) => Redirect::to(&format!("/app/{}", store.id)).into_response(),
        Err(refused) => refused,
    }
}

#[derive(Deserialize)]
struct OverviewQuery {
    days: Option<i64>,
}

const PERIODS: [i64; 4] = [7, 30, 90, 365];

async fn overview(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<OverviewQuery>,
) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let days = q.days.filter(|d| PERIODS.contains(d)).unwrap_or(30);
    let (from, to) = last_days(&store, Timestamp::now(), days);
    let figures = match state.db.overview(&store, from, to).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "overview figures");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let lang = staff.lang;
    let currency = Some(store.currency);
    let cards = vec![
        Card {
            key: "orders",
            label: text(lang, "overview-orders"),
            value: format_number(lang, figures.orders, currency),
        },
        Card {
            key: "revenue",
            label: text(lang, "overview-revenue"),
            value: format_money(lang, figures.revenue_minor, store.currency),
        },
        Card {
            key: "new_customers",
            label: text(lang, "overview-new-customers"),
            value: format_number(lang, figures.new_customers, currency),
        },
        Card {
            key: "returning_customers",
            label: text(lang, "overview-returning-customers"),
            value: format_number(lang, figures.returning_customers, currency),
        },
        Card {
            key: "repeat_rate",
            label: text(lang, "overview-repeat-rate"),
            value: format_percent(lang, figures.repeat_purchase_rate),
        },
    ];
    let exponent = 10f64.powi(store.currency.exponent() as i32);
    let (money_prefix, money_suffix) = regulars_i18n::money_affixes(lang, store.currency);
    let series = serde_json::json!({
        "days": figures.daily.iter().map(|d| d.day.0 / 1000).collect::<Vec<_>>(),
        "orders": figures.daily.iter().map(|d| d.orders).collect::<Vec<_>>(),
        "revenue": figures.daily.iter().map(|d| d.revenue_minor as f64 / exponent).collect::<Vec<_>>(),
        "day_label": text(lang, "overview-day"),
        "orders_label": text(lang, "overview-orders"),
        "revenue_label": text(lang, "overview-revenue"),
        "money_prefix": money_prefix,
        "money_suffix": money_suffix,
    });
    render(&OverviewPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), ""),
        store_name: store.name.clone(),
        periods: PERIODS
            .iter()
            .map(|&d| Period {
                days: d,
                label: text_with(lang, "overview-period", &[("days", &d.to_string())]),
                current: d == days,
            })
            .collect(),
        cards,
        series_json: series.to_string().replace('<', "\\u003c"),
    })
}
