//! Loyalty reports: the points liability (what outstanding points are worth), points expired
//! in the last six 30-day periods and expiring in the next six, redemptions by reward over a
//! chosen period, and the ledger's consistency check.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{Days, NaiveDate, TimeZone as _};
use regulars_domain::{Permission, Timestamp};
use regulars_i18n::{format_money, format_number, text, text_with};
use regulars_store::StoreRecord;
use serde::Deserialize;

use super::loyalty::{day, parse_day, tabs, today, TabLink, SECTION};
use super::pages::{render, Chrome};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/app/{store}/loyalty/reports", get(page))
}

/// Periods of the expiry report on either side of today.
const EXPIRY_PERIODS: i64 = 6;
const DEFAULT_DAYS: u64 = 30;

pub struct Card {
    pub key: &'static str,
    pub label: String,
    pub value: String,
}

pub struct ExpiryLine {
    pub period: String,
    pub past: bool,
    pub points: String,
    /// Bar width, percent of the largest period.
    pub width: i64,
}

pub struct RedemptionLine {
    pub reward: String,
    pub redemptions: String,
    pub points: String,
}

pub struct DriftLine {
    pub check: String,
    pub subject: String,
    pub expected: String,
    pub found: String,
}

#[derive(Template)]
#[template(path = "loyalty_reports.html")]
pub struct ReportsPage {
    pub chrome: Chrome,
    pub tabs: Vec<TabLink>,
    pub store_name: String,
    pub action: String,
    pub cards: Vec<Card>,
    pub expiry: Vec<ExpiryLine>,
    pub from: String,
    pub to: String,
    pub period_error: Option<String>,
    pub redemptions: Vec<RedemptionLine>,
    pub redemption_total: String,
    pub clean: bool,
    pub check_summary: String,
    pub accounts: Vec<(String, String)>,
    pub drift: Vec<DriftLine>,
}

#[derive(Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The instant a local date starts in the store's time zone.
fn day_start(store: &StoreRecord, date: NaiveDate) -> Timestamp {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    let zone = store.timezone.0;
    match zone.from_local_datetime(&midnight).earliest() {
        Some(at) => Timestamp::from_datetime(&at),
        // A zone that skips midnight: the UTC reading is within hours of it.
        None => Timestamp::from_datetime(&chrono::Utc.from_utc_datetime(&midnight)),
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
    let now = Timestamp::now();

    // The redemption period: inclusive local dates, the last 30 days unless chosen.
    let last = today(&store);
    let first = last.checked_sub_days(Days::new(DEFAULT_DAYS - 1)).unwrap_or(last);
    let mut period_error = None;
    let mut chosen = |raw: &str, default: NaiveDate| {
        if raw.trim().is_empty() {
            return default;
        }
        parse_day(lang, raw).unwrap_or_else(|message| {
            period_error = Some(message);
            default
        })
    };
    let (mut from, mut to) = (chosen(&q.from, first), chosen(&q.to, last));
    if to < from {
        period_error = Some(text(lang, "loyalty-error-date-range"));
        (from, to) = (first, last);
    }
    let end = day_start(&store, to.checked_add_days(Days::new(1)).unwrap_or(to));

    let db = &state.db;
    let reports = tokio::try_join!(
        db.loyalty_liability(store.id, now),
        db.expiry_report(store.id, now, EXPIRY_PERIODS),
        db.redemption_report(store.id, day_start(&store, from), end),
        db.check_loyalty(store.id),
    );
    let (liability, expiry, redemptions, check) = match reports {
        Ok(all) => all,
        Err(e) => return unavailable(e, "computing the loyalty reports"),
    };

    let points = |n: i64| {
        text_with(
            lang,
            "loyalty-points-count",
            &[("points", &format_number(lang, n, cur))],
        )
    };
    let cards = vec![
        Card {
            key: "available",
            label: text(lang, "loyalty-report-available"),
            value: points(liability.available_points),
        },
        Card {
            key: "pending",
            label: text(lang, "loyalty-report-pending"),
            value: points(liability.pending_points),
        },
        Card {
            key: "value",
            label: text(lang, "loyalty-report-value"),
            value: format_money(lang, liability.value_minor, store.currency),
        },
        Card {
            key: "members",
            label: text(lang, "loyalty-report-members"),
            value: format_number(lang, liability.members_with_points, cur),
        },
        Card {
            key: "expiring",
            label: text(lang, "loyalty-report-expiring-30"),
            value: points(liability.expiring_30_days),
        },
    ];

    const PERIOD_MS: i64 = 30 * 86_400_000;
    let largest = expiry
        .iter()
        .map(|m| m.expired.max(m.expiring))
        .max()
        .unwrap_or(0)
        .max(1);
    let expiry = expiry
        .iter()
        .map(|m| {
            let past = m.from < now.0;
            let value = if past { m.expired } else { m.expiring };
            ExpiryLine {
                period: text_with(
                    lang,
                    "loyalty-report-period",
                    &[
                        ("from", &day(lang, &store, m.from)),
                        ("to", &day(lang, &store, m.from + PERIOD_MS - 1)),
                    ],
                ),
                past,
                points: format_number(lang, value, cur),
                width: value * 100 / largest,
            }
        })
        .collect();

    let redemption_total = text_with(
        lang,
        "loyalty-report-redemptions-total",
        &[
            (
                "count",
                &format_number(lang, redemptions.iter().map(|r| r.redemptions).sum(), cur),
            ),
            (
                "points",
                &format_number(lang, redemptions.iter().map(|r| r.points).sum(), cur),
            ),
        ],
    );
    let redemptions = redemptions
        .iter()
        .map(|r| RedemptionLine {
            reward: r.name.clone(),
            redemptions: format_number(lang, r.redemptions, cur),
            points: format_number(lang, r.points, cur),
        })
        .collect();

    let check_summary = text_with(
        lang,
        "loyalty-check-summary",
        &[
            ("entries", &format_number(lang, check.entries, cur)),
            ("lots", &format_number(lang, check.lots, cur)),
            ("points", &format_number(lang, check.outstanding_points, cur)),
        ],
    );
    render(&ReportsPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), SECTION),
        tabs: tabs(lang, &store, "/reports"),
        store_name: store.name.clone(),
        action: format!("/app/{}/loyalty/reports", store.id),
        cards,
        expiry,
        from: from.to_string(),
        to: to.to_string(),
        period_error,
        redemptions,
        redemption_total,
        clean: check.is_clean(),
        check_summary,
        accounts: check
            .accounts
            .iter()
            .map(|(account, points)| {
                (
                    text(lang, &format!("loyalty-account-{account}")),
                    format_number(lang, *points, cur),
                )
            })
            .collect(),
        drift: check
            .drift
            .iter()
            .map(|d| DriftLine {
                check: text(lang, &format!("loyalty-drift-{}", d.check.replace('_', "-"))),
                subject: d.subject.clone(),
                expected: format_number(lang, d.expected, cur),
                found: format_number(lang, d.found, cur),
            })
            .collect(),
    })
}
