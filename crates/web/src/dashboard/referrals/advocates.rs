//! The advocates report over a chosen range of months (the last twelve unless chosen): new
//! customers and the share a referral brought, what the program cost and the acquisition cost
//! it saved, referrals by status, and every advocate with what their friends are worth.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{NaiveDate, TimeZone as _};
use regulars_domain::{Permission, Timestamp};
use regulars_i18n::{format_money, format_month, format_number, text, text_with};
use regulars_store::{parse_month, ReferralStatus, StoreRecord, YearMonth};
use serde::Deserialize;

use super::super::loyalty::{today, TabLink};
use super::super::pages::{render, Chrome};
use super::super::session::Staff;
use super::super::unavailable;
use super::{status_text, tabs, SECTION};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/app/{store}/referrals/advocates", get(page))
}

/// Months the report covers unless chosen.
const DEFAULT_MONTHS: i32 = 12;

pub struct Card {
    pub key: &'static str,
    pub label: String,
    pub value: String,
}

pub struct StatusCount {
    pub key: &'static str,
    pub label: String,
    pub count: String,
}

pub struct AdvocateLine {
    pub href: String,
    pub name: String,
    pub code: String,
    pub friends: String,
    pub qualified: String,
    pub rejected: String,
    pub friends_revenue: String,
    pub friends_clv: String,
    pub cost: String,
    pub partner: bool,
}

#[derive(Template)]
#[template(path = "referrals_advocates.html")]
pub struct AdvocatesPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub period: String,
    pub period_error: Option<String>,
    pub cards: Vec<Card>,
    pub statuses: Vec<StatusCount>,
    pub advocates: Vec<AdvocateLine>,
}

#[derive(Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The instant a month starts in the store's time zone.
fn month_start(store: &StoreRecord, m: YearMonth) -> Timestamp {
    let midnight = NaiveDate::from_ymd_opt(m.year, m.month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    match store.timezone.0.from_local_datetime(&midnight).earliest() {
        Some(at) => Timestamp::from_datetime(&at),
        None => Timestamp::from_datetime(&chrono::Utc.from_utc_datetime(&midnight)),
    }
}

fn this_month(store: &StoreRecord) -> YearMonth {
    use chrono::Datelike as _;
    let day = today(store);
    YearMonth {
        year: day.year(),
        month: day.month(),
    }
}

async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let cur = Some(store.currency);
    let last = this_month(&store);
    let first = YearMonth::from_index(last.index() - (DEFAULT_MONTHS - 1));
    let mut period_error = None;
    let mut chosen = |raw: &str, default: YearMonth| {
        if raw.trim().is_empty() {
            return default;
        }
        parse_month(raw).unwrap_or_else(|_| {
            period_error = Some(text(lang, "referrals-error-month"));
            default
        })
    };
    let (mut from, mut to) = (chosen(&q.from, first), chosen(&q.to, last));
    if to.index() < from.index() {
        period_error = Some(text(lang, "loyalty-error-date-range"));
        (from, to) = (first, last);
    }
    let start = month_start(&store, from);
    let end = month_start(&store, YearMonth::from_index(to.index() + 1));
    let report = match state.db.advocates_report(&store, start, end).await {
        Ok(r) => r,
        Err(e) => return unavailable(e, "computing the advocates report"),
    };
    let money = |minor: i64| format_money(lang, minor, store.currency);
    let count = |n: i64| format_number(lang, n, cur);
    let share = format!(
        "{}%",
        regulars_i18n::format_fraction(lang, report.referral_share_bp as f64 / 100.0, 1)
    );
    let cards = vec![
        Card {
            key: "new_customers",
            label: text(lang, "referrals-report-new-customers"),
            value: count(report.new_customers),
        },
        Card {
            key: "referred_new_customers",
            label: text(lang, "referrals-report-referred"),
            value: count(report.referred_new_customers),
        },
        Card {
            key: "referral_share",
            label: text(lang, "referrals-report-share"),
            value: share,
        },
        Card {
            key: "program_cost",
            label: text(lang, "referrals-report-cost"),
            value: money(report.program_cost),
        },
        Card {
            key: "acquisition_cost_saved",
            label: text(lang, "referrals-report-saved"),
            value: money(report.acquisition_cost_saved),
        },
    ];
    let statuses = report
        .by_status
        .iter()
        .filter_map(|(status, n)| {
            let s = ReferralStatus::parse(status).ok()?;
            Some(StatusCount {
                key: s.as_str(),
                label: status_text(lang, s),
                count: count(*n),
            })
        })
        .collect();
    let advocates = report
        .advocates
        .iter()
        .map(|a| AdvocateLine {
            href: format!("/app/{}/customers/{}", store.id, a.customer_id),
            name: if a.name.is_empty() {
                text(lang, "customers-unnamed")
            } else {
                a.name.clone()
            },
            code: a.code.clone().unwrap_or_default(),
            friends: count(a.friends),
            qualified: count(a.qualified),
            rejected: count(a.rejected),
            friends_revenue: money(a.friends_revenue),
            friends_clv: money(a.friends_clv),
            cost: money(a.cost),
            partner: a.is_partner,
        })
        .collect();
    render(&AdvocatesPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, &store, "/advocates"),
        store_name: store.name.clone(),
        action: format!("/app/{}/referrals/advocates", store.id),
        period: text_with(
            lang,
            "referrals-report-period",
            &[
                ("from", &format_month(lang, from.year, from.month)),
                ("to", &format_month(lang, to.year, to.month)),
            ],
        ),
        from: from.to_string(),
        to: to.to_string(),
        period_error,
        cards,
        statuses,
        advocates,
    })
}
