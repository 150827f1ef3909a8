//! Analytics (PRODUCT §2 made visible): the retention KPIs against the team's targets, the
//! cohort retention heatmap, the retention curve, RFM segments, the distribution of customer
//! value, the purchase model's predictions against what happened, and acquisition cost against
//! customer value per channel, with the forms that set targets and enter marketing spend.
//!
//! Everyone who reads the store sees the page; targets and spend need
//! [`Permission::SetGoals`] (owners, admins, marketers) and the session's CSRF token.
//!
//! The report is computed from every order of the store (see [`report`] for how big stores
//! keep theirs). Targets and spend are read fresh for every page, so a change shows at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use regulars_domain::{
    format_minor, parse_minor, Currency, FieldError, Permission, Role, StoreId, Timestamp,
};
use regulars_i18n::{
    format_date, format_datetime, format_fraction, format_money, format_month, format_number, format_percent,
    money_affixes, text, text_with, Lang,
};
use regulars_store::{
    channel_economics, kpi_figures, normalize_channel, parse_month, AnalyticsReport, BacktestGap, ChannelRow,
    Kpi, KpiStatus, KpiUnit, LtvBasis, SpendBasis, StoreError, StoreRecord, ValueBasis, YearMonth,
};
use serde::Deserialize;
use serde_json::json;

use super::pages::{render, Chrome};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/analytics", get(page))
        .route("/app/{store}/analytics/targets", post(save_targets))
        .route("/app/{store}/analytics/spend", post(save_spend))
}

/// Stores with this many counted orders or more keep their report in this process (about a
/// tenth of a second of computing per 50,000 orders).
pub const CACHE_FROM_ORDERS: u64 = 20_000;
/// How long a kept report is served as it is; after that it is still served, once, while a
/// new one is computed in the background.
pub const CACHE_FOR: Duration = Duration::from_secs(300);

/// One store's kept report, and the lock that lets one computation run for it at a time.
#[derive(Default)]
struct Slot {
    kept: Mutex<Option<(Instant, Arc<AnalyticsReport>)>>,
    computing: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
}

impl Slot {
    fn kept(&self) -> Option<(Instant, Arc<AnalyticsReport>)> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn keep(&self, report: &Arc<AnalyticsReport>) {
        *self.kept.lock().unwrap_or_else(|e| e.into_inner()) =
            (report.orders >= CACHE_FROM_ORDERS).then(|| (Instant::now(), report.clone()));
    }
}

fn slot(store: StoreId) -> Arc<Slot> {
    static SLOTS: OnceLock<Mutex<HashMap<StoreId, Arc<Slot>>>> = OnceLock::new();
    SLOTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(store)
        .or_default()
        .clone()
}

/// The store's report. A big store's report is kept for [`CACHE_FOR`]; an older one is served
/// while its successor is computed in the background, so only the first page after a start
/// waits for the computation. Requests that find nothing kept wait for one computation
/// together.
async fn report(state: &AppState, store: &StoreRecord) -> Result<Arc<AnalyticsReport>, StoreError> {
    let slot = slot(store.id);
    if let Some((at, kept)) = slot.kept() {
        if at.elapsed() >= CACHE_FOR && !slot.refreshing.swap(true, Ordering::AcqRel) {
            let (db, store, slot) = (state.db.clone(), store.clone(), slot.clone());
            tokio::spawn(async move {
                let _computing = slot.computing.lock().await;
                match db.analytics_report(&store, Timestamp::now()).await {
                    Ok(report) => slot.keep(&Arc::new(report)),
                    Err(e) => {
                        tracing::error!(error = %e, store = %store.id, "refreshing the analytics report")
                    }
                }
                slot.refreshing.store(false, Ordering::Release);
            });
        }
        return Ok(kept);
    }
    let _computing = slot.computing.lock().await;
    if let Some((_, kept)) = slot.kept() {
        return Ok(kept);
    }
    let report = Arc::new(state.db.analytics_report(store, Timestamp::now()).await?);
    slot.keep(&report);
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// What the template shows

pub struct KpiTile {
    pub key: &'static str,
    pub label: String,
    pub value: String,
    pub help: String,
    /// `met`, `behind`, `none` (no target) or `empty` (no value).
    pub status: &'static str,
    pub status_label: Option<String>,
    pub target: String,
    pub set_by: Option<String>,
}

pub struct TargetInput {
    pub name: String,
    pub label: String,
    pub value: String,
    pub before: String,
    pub after: String,
    pub error: Option<String>,
}

pub struct Link {
    pub href: String,
    pub label: String,
    pub current: bool,
}

pub struct HeatCell {
    pub text: String,
    pub title: String,
    pub style: String,
    pub strong: bool,
}

pub struct CohortLine {
    pub month: String,
    pub size: String,
    pub cells: Vec<HeatCell>,
}

pub struct RfmCellView {
    pub segment: &'static str,
    pub name: String,
    pub customers: String,
    pub value: String,
    pub title: String,
}

pub struct RfmLine {
    pub score: u8,
    pub cells: Vec<RfmCellView>,
}

pub struct SegmentLine {
    pub key: &'static str,
    pub name: String,
    pub customers: String,
    pub share: String,
    pub value: String,
    pub average: String,
}

pub struct ChannelLine {
    pub key: String,
    pub name: String,
    pub new_customers: String,
    pub spend: String,
    pub spend_note: Option<String>,
    pub cac: String,
    pub ltv: String,
    pub ltv_note: Option<String>,
    pub ratio: String,
    pub payback: String,
}

pub struct SpendLine {
    pub month: String,
    pub channel: String,
    pub amount: String,
    pub by: String,
}

/// The spend form as typed, with what was wrong.
#[derive(Default)]
pub struct SpendFormView {
    pub channel: String,
    pub month: String,
    pub amount: String,
    pub channel_error: Option<String>,
    pub month_error: Option<String>,
    pub amount_error: Option<String>,
}

#[derive(Template)]
#[template(path = "analytics.html")]
pub struct AnalyticsPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub action: String,
    pub store_name: String,
    pub computed: String,
    pub notice: Option<String>,
    pub empty: bool,
    pub tiles: Vec<KpiTile>,
    pub can_set_goals: bool,
    pub targets_open: bool,
    pub targets: Vec<TargetInput>,
    pub cohort_links: Vec<Link>,
    pub cohort_help: String,
    pub cohort_offsets: Vec<String>,
    pub cohorts: Vec<CohortLine>,
    pub curve_json: String,
    pub rfm_recency: Vec<u8>,
    pub rfm: Vec<RfmLine>,
    pub segments: Vec<SegmentLine>,
    pub vips: Option<String>,
    pub value_help: String,
    pub value_summary: Vec<String>,
    pub value_json: String,
    pub backtest_help: Option<String>,
    pub backtest_gap: Option<String>,
    pub backtest_totals: Option<String>,
    pub backtest_json: String,
    pub acquisition_help: String,
    pub channels: Vec<ChannelLine>,
    pub channel_total: Option<ChannelLine>,
    pub known_channels: Vec<String>,
    pub spend_form: SpendFormView,
    pub spend_amount_label: String,
    pub spend: Vec<SpendLine>,
}

/// JSON for a `<script type="application/json">`, with `<` escaped so it cannot end the tag.
fn script_json(value: serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

fn month_name(lang: Lang, m: YearMonth) -> String {
    format_month(lang, m.year, m.month)
}

/// A calendar day (days since 1970-01-01) named in the reader's language.
fn day_name(lang: Lang, day: i32) -> String {
    let utc = regulars_domain::TimeZone::parse("UTC").expect("UTC is a zone").0;
    format_date(lang, Timestamp(i64::from(day) * 86_400_000), utc)
}

/// Money rounded to whole units of the currency, for dense tables and chart labels: `₹12,346`.
fn money_whole(lang: Lang, minor: f64, currency: Currency) -> String {
    let major = (minor / 10f64.powi(currency.exponent() as i32)).round() as i64;
    let (prefix, suffix) = money_affixes(lang, currency);
    format!("{prefix}{}{suffix}", format_number(lang, major, Some(currency)))
}

fn money(lang: Lang, minor: f64, currency: Currency) -> String {
    format_money(lang, minor.round() as i64, currency)
}

/// A KPI's value (as computed, or a target in its stored form) as the reader writes it.
fn kpi_value(lang: Lang, kpi: Kpi, value: f64, stored: bool, currency: Currency) -> String {
    let scale = if stored && kpi.unit() != KpiUnit::Money {
        regulars_store::KPI_SCALE
    } else {
        1.0
    };
    match kpi.unit() {
        KpiUnit::Percent => format_percent(lang, value / scale),
        KpiUnit::Number => format_fraction(lang, value / scale, 2),
        KpiUnit::Money => money(lang, value, currency),
    }
}

/// A target as the form shows it for editing: plain digits, no grouping (`35`, `1.85`, `1000`).
fn target_text(kpi: Kpi, target: i64, currency: Currency) -> String {
    let digits = match kpi.unit() {
        KpiUnit::Percent => 2,
        KpiUnit::Number => 4,
        KpiUnit::Money => currency.exponent(),
    };
    let text = format_minor(target, digits);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A number as people type it: grouping spaces and separators dropped, `%` and currency
/// signs ignored, and in Armenian a decimal comma.
fn typed_number(lang: Lang, raw: &str) -> String {
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

fn parse_target(lang: Lang, kpi: Kpi, raw: &str, currency: Currency) -> Result<i64, String> {
    let digits = match kpi.unit() {
        KpiUnit::Percent => 2,
        KpiUnit::Number => 4,
        KpiUnit::Money => currency.exponent(),
    };
    let example = match kpi.unit() {
        KpiUnit::Percent => "25",
        KpiUnit::Number => "1.5",
        KpiUnit::Money => "1500",
    };
    let value = parse_minor(&typed_number(lang, raw), digits)
        .map_err(|_| text_with(lang, "analytics-error-number", &[("example", example)]))?;
    kpi.check_target(value).map_err(|e| target_error(lang, &e))?;
    Ok(value)
}

fn target_error(lang: Lang, e: &FieldError) -> String {
    match e.code {
        "negative_target" => text(lang, "analytics-error-negative"),
        "target_above_100" => text(lang, "analytics-error-above-100"),
        _ => e.message.clone(),
    }
}

fn channel_name(lang: Lang, key: &str) -> String {
    if key.is_empty() {
        text(lang, "analytics-channel-none")
    } else {
        key.to_string()
    }
}

/// Colour of a heatmap cell: the accent at an opacity growing with the share.
fn heat(intensity: f64) -> String {
    format!(
        "background-color: rgba(10, 124, 102, {:.2})",
        0.06 + 0.84 * intensity.clamp(0.0, 1.0)
    )
}

// ---------------------------------------------------------------------------------------------
// The page

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    cohorts: String,
    #[serde(default)]
    done: String,
}

/// What a form sent back, to show again with its errors.
#[derive(Default)]
struct Feedback {
    targets: HashMap<&'static str, (String, Option<String>)>,
    spend: Option<SpendFormView>,
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
    let notice = match q.done.as_str() {
        "targets" => Some(text(staff.lang, "analytics-targets-saved")),
        "spend" => Some(text(staff.lang, "analytics-spend-saved")),
        _ => None,
    };
    match build(
        &state,
        &staff,
        &store,
        role,
        q.cohorts == "revenue",
        Feedback::default(),
    )
    .await
    {
        Ok(mut page) => {
            page.notice = notice;
            render(&page)
        }
        Err(refused) => refused,
    }
}

async fn build(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    revenue: bool,
    feedback: Feedback,
) -> Result<AnalyticsPage, Response> {
    let lang = staff.lang;
    let currency = store.currency;
    let cur = Some(currency);
    let report = report(state, store)
        .await
        .map_err(|e| unavailable(e, "computing the analytics report"))?;
    let targets = state
        .db
        .kpi_targets(store.id)
        .await
        .map_err(|e| unavailable(e, "reading KPI targets"))?;
    let spend = state
        .db
        .marketing_spend(store.id)
        .await
        .map_err(|e| unavailable(e, "reading marketing spend"))?;
    let zone = store.timezone.0;
    let base = format!("/app/{}/analytics", store.id);

    // KPIs and targets.
    let k = &report.kpis;
    let next_month = YearMonth::from_index(k.retention_month.index() + 1);
    let figures = kpi_figures(&report, &targets);
    let tiles = figures
        .iter()
        .map(|f| {
            let key = f.kpi.key();
            let help_id = format!("analytics-kpi-{key}-help");
            let help = text_with(
                lang,
                &help_id,
                &[
                    ("customers", &format_number(lang, k.retention_base as i64, cur)),
                    ("month", &month_name(lang, k.retention_month)),
                    ("next", &month_name(lang, next_month)),
                ],
            );
            let (status, status_label) = match f.status {
                KpiStatus::Met => ("met", Some(text(lang, "analytics-status-met"))),
                KpiStatus::Behind => ("behind", Some(text(lang, "analytics-status-behind"))),
                KpiStatus::NoTarget => ("none", None),
                KpiStatus::NoValue => ("empty", None),
            };
            KpiTile {
                key,
                label: text(lang, &format!("analytics-kpi-{key}")),
                value: f
                    .value
                    .map(|v| kpi_value(lang, f.kpi, v, false, currency))
                    .unwrap_or_else(|| text(lang, "analytics-no-data")),
                help,
                status,
                status_label,
                target: match &f.target {
                    Some(t) => text_with(
                        lang,
                        "analytics-target",
                        &[("value", &kpi_value(lang, f.kpi, t.target as f64, true, currency))],
                    ),
                    None => text(lang, "analytics-target-none"),
                },
                set_by: f.target.as_ref().map(|t| {
                    text_with(
                        lang,
                        "analytics-target-set-by",
                        &[
                            ("who", t.set_by.as_deref().unwrap_or("—")),
                            ("date", &format_date(lang, t.set_at, zone)),
                        ],
                    )
                }),
            }
        })
        .collect();
    let (money_before, money_after) = money_affixes(lang, currency);
    let target_inputs = Kpi::ALL
        .into_iter()
        .map(|kpi| {
            let key = kpi.key();
            let (value, error) = feedback.targets.get(key).cloned().unwrap_or_else(|| {
                let current = targets.iter().find(|t| t.kpi == kpi);
                (
                    current
                        .map(|t| target_text(kpi, t.target, currency))
                        .unwrap_or_default(),
                    None,
                )
            });
            let (before, after) = match kpi.unit() {
                KpiUnit::Percent => (String::new(), "%".to_string()),
                KpiUnit::Number => (String::new(), String::new()),
                KpiUnit::Money => (money_before.trim().to_string(), money_after.trim().to_string()),
            };
            TargetInput {
                name: format!("target_{key}"),
                label: text(lang, &format!("analytics-kpi-{key}")),
                value,
                before,
                after,
                error,
            }
        })
        .collect();

    // Cohorts.
    let longest = report.cohorts.iter().map(|c| c.cells.len()).max().unwrap_or(0);
    let top_share = report
        .cohorts
        .iter()
        .flat_map(|c| {
            let first = c.cells.first().map(|f| f.revenue_minor).unwrap_or(0);
            c.cells.iter().skip(1).map(move |cell| {
                if revenue {
                    if first > 0 {
                        cell.revenue_minor as f64 / first as f64
                    } else {
                        0.0
                    }
                } else {
                    cell.customers as f64 / c.size.max(1) as f64
                }
            })
        })
        .fold(0.05_f64, f64::max);
    let cohorts = report
        .cohorts
        .iter()
        .map(|c| {
            let first = c.cells.first().map(|f| f.revenue_minor).unwrap_or(0);
            CohortLine {
                month: month_name(lang, c.month),
                size: format_number(lang, c.size as i64, cur),
                cells: c
                    .cells
                    .iter()
                    .enumerate()
                    .map(|(i, cell)| {
                        let share = cell.customers as f64 / c.size.max(1) as f64;
                        let relative = if revenue {
                            if first > 0 {
                                cell.revenue_minor as f64 / first as f64
                            } else {
                                0.0
                            }
                        } else {
                            share
                        };
                        let intensity = if i == 0 { 1.0 } else { relative / top_share };
                        HeatCell {
                            text: if revenue {
                                money_whole(lang, cell.revenue_minor as f64, currency)
                            } else {
                                format_percent(lang, share)
                            },
                            title: text_with(
                                lang,
                                "analytics-cohort-cell",
                                &[
                                    ("customers", &format_number(lang, cell.customers as i64, cur)),
                                    ("size", &format_number(lang, c.size as i64, cur)),
                                    ("revenue", &format_money(lang, cell.revenue_minor, currency)),
                                ],
                            ),
                            style: heat(intensity),
                            strong: intensity > 0.55,
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let cohort_links = [
        ("customers", "analytics-cohorts-customers"),
        ("revenue", "analytics-cohorts-revenue"),
    ]
    .into_iter()
    .map(|(mode, label)| Link {
        href: format!("{base}?cohorts={mode}#cohorts"),
        label: text(lang, label),
        current: (mode == "revenue") == revenue,
    })
    .collect();

    // Retention curve.
    let curve_json = script_json(json!({
        "x": report.retention_curve.iter().map(|p| p.offset).collect::<Vec<_>>(),
        "average": report.retention_curve.iter().map(|p| (p.retention * 1000.0).round() / 10.0).collect::<Vec<_>>(),
        "weighted": report.retention_curve.iter().map(|p| (p.weighted_retention * 1000.0).round() / 10.0).collect::<Vec<_>>(),
        "x_label": text(lang, "analytics-curve-months"),
        "average_label": text(lang, "analytics-curve-average"),
        "weighted_label": text(lang, "analytics-curve-weighted"),
    }));

    // RFM.
    // The segment names the customer pages use too.
    let segment_name = |key: &str| text(lang, &format!("segment-{}", key.replace('_', "-")));
    let rfm = (1..=5u8)
        .rev()
        .map(|fm| RfmLine {
            score: fm,
            cells: report.rfm.cells[usize::from(fm - 1)]
                .iter()
                .map(|cell| {
                    let value = money_whole(lang, cell.value_minor as f64, currency);
                    let customers = format_number(lang, cell.customers as i64, cur);
                    RfmCellView {
                        segment: cell.segment.key(),
                        name: segment_name(cell.segment.key()),
                        title: text_with(
                            lang,
                            "analytics-rfm-cell",
                            &[("customers", &customers), ("value", &value)],
                        ),
                        customers,
                        value,
                    }
                })
                .collect(),
        })
        .collect();
    let scored: u64 = report.rfm.segments.iter().map(|s| s.customers).sum();
    let segments = report
        .rfm
        .segments
        .iter()
        .map(|s| SegmentLine {
            key: s.segment.key(),
            name: segment_name(s.segment.key()),
            customers: format_number(lang, s.customers as i64, cur),
            share: format_percent(
                lang,
                if scored > 0 {
                    s.customers as f64 / scored as f64
                } else {
                    0.0
                },
            ),
            value: money_whole(lang, s.value_minor as f64, currency),
            average: if s.customers > 0 {
                money_whole(lang, s.value_minor as f64 / s.customers as f64, currency)
            } else {
                "—".into()
            },
        })
        .collect();
    let vips = report.rfm.vip_threshold_minor.map(|threshold| {
        text_with(
            lang,
            "analytics-rfm-vips",
            &[
                ("count", &format_number(lang, report.rfm.vips as i64, cur)),
                ("amount", &format_money(lang, threshold, currency)),
            ],
        )
    });

    // Customer value.
    let dist = &report.value_distribution;
    let value_help = text(
        lang,
        match dist.basis {
            ValueBasis::Predicted => "analytics-value-help-predicted",
            ValueBasis::Historic => "analytics-value-help-historic",
        },
    );
    let mut value_summary = Vec::new();
    if let Some(mean) = dist.mean_minor {
        value_summary.push(text_with(
            lang,
            "analytics-value-mean",
            &[("amount", &format_money(lang, mean, currency))],
        ));
    }
    if let Some(median) = dist.median_minor {
        value_summary.push(text_with(
            lang,
            "analytics-value-median",
            &[("amount", &format_money(lang, median, currency))],
        ));
    }
    let mut short = Vec::new();
    let mut labels = Vec::new();
    let mut counts = Vec::new();
    if dist.nothing > 0 {
        let zero = text(lang, "analytics-value-zero");
        short.push(zero.clone());
        labels.push(zero);
        counts.push(dist.nothing);
    }
    for bin in &dist.bins {
        let from = money_whole(lang, bin.from_minor as f64, currency);
        labels.push(match bin.to_minor {
            Some(to) => format!("{from} – {}", money_whole(lang, to as f64, currency)),
            None => text_with(lang, "analytics-value-above", &[("amount", &from)]),
        });
        short.push(from);
        counts.push(bin.customers);
    }
    let value_json = script_json(json!({
        "short": short,
        "labels": labels,
        "counts": counts,
        "x_label": text(lang, "analytics-value-range"),
        "y_label": text(lang, "analytics-value-customers"),
    }));

    // Predicted and actual purchases.
    let (backtest_help, backtest_gap, backtest_totals, backtest_json) = match &report.backtest {
        Ok(b) => (
            Some(text_with(
                lang,
                "analytics-backtest-help",
                &[
                    ("date", &day_name(lang, b.calibration_end)),
                    ("customers", &format_number(lang, b.customers as i64, cur)),
                    ("weeks", &format_number(lang, b.weeks.len() as i64, cur)),
                ],
            )),
            None,
            Some(text_with(
                lang,
                "analytics-backtest-totals",
                &[
                    ("weeks", &format_number(lang, b.weeks.len() as i64, cur)),
                    ("actual", &format_number(lang, b.actual_total.round() as i64, cur)),
                    ("predicted", &format_fraction(lang, b.predicted_total, 1)),
                ],
            )),
            script_json(json!({
                "labels": b.weeks.iter().map(|w| day_name(lang, w.start_day)).collect::<Vec<_>>(),
                "actual": b.weeks.iter().map(|w| w.actual).collect::<Vec<_>>(),
                "predicted": b.weeks.iter().map(|w| (w.predicted * 10.0).round() / 10.0).collect::<Vec<_>>(),
                "x_label": text(lang, "analytics-backtest-week"),
                "actual_label": text(lang, "analytics-backtest-actual"),
                "predicted_label": text(lang, "analytics-backtest-predicted"),
            })),
        ),
        Err(gap) => {
            let id = match gap {
                BacktestGap::NotEnoughHistory => "analytics-backtest-not-enough",
                BacktestGap::NoRepeatBuyers => "analytics-backtest-no-repeat",
                BacktestGap::FitFailed(why) => {
                    tracing::warn!(store = %store.id, why = %why, "the purchase model could not be fitted");
                    "analytics-backtest-failed"
                }
            };
            (None, Some(text(lang, id)), None, "null".to_string())
        }
    };

    // Acquisition.
    let (window, rows, total) = channel_economics(&report, &spend);
    let line = |row: &ChannelRow, name: String| ChannelLine {
        key: row.channel.clone(),
        name,
        new_customers: format_number(lang, row.new_customers as i64, cur),
        spend: row
            .spend_minor
            .map(|s| format_money(lang, s, currency))
            .unwrap_or_else(|| "—".into()),
        spend_note: (row.spend_basis == SpendBasis::Recorded).then(|| text(lang, "analytics-spend-recorded")),
        cac: row
            .cac_minor
            .map(|c| money(lang, c, currency))
            .unwrap_or_else(|| "—".into()),
        ltv: row
            .ltv_minor
            .map(|v| money(lang, v, currency))
            .unwrap_or_else(|| "—".into()),
        ltv_note: (row.ltv_basis == LtvBasis::SoFar && row.ltv_minor.is_some())
            .then(|| text(lang, "analytics-ltv-so-far")),
        ratio: row
            .ltv_to_cac
            .map(|r| format_fraction(lang, r, 1))
            .unwrap_or_else(|| "—".into()),
        payback: row
            .months_to_recover
            .map(|m| format_fraction(lang, m, 1))
            .unwrap_or_else(|| "—".into()),
    };
    let channels = rows
        .iter()
        .map(|r| line(r, channel_name(lang, &r.channel)))
        .collect();
    let channel_total = (!rows.is_empty()).then(|| line(&total, text(lang, "analytics-channel-all")));
    let mut known_channels: Vec<String> = rows
        .iter()
        .map(|r| r.channel.clone())
        .filter(|c| !c.is_empty())
        .collect();
    known_channels.sort();
    let spend_lines = spend
        .iter()
        .take(36)
        .map(|s| SpendLine {
            month: month_name(lang, s.month),
            channel: s.channel.clone(),
            amount: format_money(lang, s.amount_minor, currency),
            by: s.set_by.clone().unwrap_or_else(|| "—".into()),
        })
        .collect();

    let can_set_goals = role.can(Permission::SetGoals);
    Ok(AnalyticsPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/analytics"),
        csrf: staff.session.csrf_token.clone(),
        action: base,
        store_name: store.name.clone(),
        computed: text_with(
            lang,
            "analytics-computed",
            &[("time", &format_datetime(lang, report.computed_at, zone))],
        ),
        notice: None,
        empty: report.orders == 0,
        tiles,
        can_set_goals,
        targets_open: feedback.targets.values().any(|(_, e)| e.is_some()),
        targets: target_inputs,
        cohort_links,
        cohort_help: text(
            lang,
            if revenue {
                "analytics-cohorts-revenue-help"
            } else {
                "analytics-cohorts-help"
            },
        ),
        cohort_offsets: (0..longest)
            .map(|n| {
                text_with(
                    lang,
                    "analytics-cohort-offset",
                    &[("n", &format_number(lang, n as i64, cur))],
                )
            })
            .collect(),
        cohorts,
        curve_json,
        rfm_recency: (1..=5).collect(),
        rfm,
        segments,
        vips,
        value_help,
        value_summary,
        value_json,
        backtest_help,
        backtest_gap,
        backtest_totals,
        backtest_json,
        acquisition_help: text_with(
            lang,
            "analytics-acquisition-help",
            &[
                ("from", &month_name(lang, window.from)),
                ("to", &month_name(lang, window.to)),
            ],
        ),
        channels,
        channel_total,
        known_channels,
        spend_form: feedback.spend.unwrap_or_else(|| SpendFormView {
            month: YearMonth::of_day(report.today).to_string(),
            ..Default::default()
        }),
        spend_amount_label: text_with(lang, "analytics-spend-amount", &[("currency", currency.code())]),
        spend: spend_lines,
    })
}

/// The page again with what a form sent and what was wrong with it.
async fn refused_form(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    feedback: Feedback,
) -> Response {
    match build(state, staff, store, role, false, feedback).await {
        Ok(page) => {
            let mut response = render(&page);
            if response.status() == StatusCode::OK {
                *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            }
            response
        }
        Err(refused) => refused,
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn save_targets(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = field(&fields, "csrf").unwrap_or_default();
    let (store, role) = match staff
        .store_form(&state, &store, Permission::SetGoals, &headers, csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let mut changes = Vec::new();
    let mut feedback = Feedback::default();
    let mut refused = false;
    for kpi in Kpi::ALL {
        // A KPI the form did not send keeps its target; an empty one clears it.
        let Some(raw) = field(&fields, &format!("target_{}", kpi.key())) else {
            continue;
        };
        let parsed = if raw.trim().is_empty() {
            Ok(None)
        } else {
            parse_target(lang, kpi, raw, store.currency).map(Some)
        };
        match parsed {
            Ok(target) => {
                changes.push((kpi, target));
                feedback.targets.insert(kpi.key(), (raw.to_string(), None));
            }
            Err(message) => {
                refused = true;
                feedback
                    .targets
                    .insert(kpi.key(), (raw.to_string(), Some(message)));
            }
        }
    }
    if refused {
        return refused_form(&state, &staff, &store, role, feedback).await;
    }
    match state
        .db
        .set_kpi_targets(store.id, staff.session.user.id, &changes)
        .await
    {
        Ok(_) => Redirect::to(&format!("/app/{}/analytics?done=targets#kpis", store.id)).into_response(),
        Err(StoreError::Invalid(e)) => {
            if let Some(kpi) = Kpi::ALL
                .into_iter()
                .find(|k| e.field == format!("target_{}", k.key()))
            {
                if let Some(slot) = feedback.targets.get_mut(kpi.key()) {
                    slot.1 = Some(target_error(lang, &e));
                }
            }
            refused_form(&state, &staff, &store, role, feedback).await
        }
        Err(e) => unavailable(e, "saving KPI targets"),
    }
}

#[derive(Deserialize)]
struct SpendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    month: String,
    #[serde(default)]
    amount: String,
}

async fn save_spend(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SpendForm>,
) -> Response {
    let (store, role) = match staff
        .store_form(&state, &store, Permission::SetGoals, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let mut view = SpendFormView {
        channel: form.channel.clone(),
        month: form.month.clone(),
        amount: form.amount.clone(),
        ..Default::default()
    };
    let example = format_minor(
        1_500 * 10i64.pow(store.currency.exponent()),
        store.currency.exponent(),
    );
    let month = parse_month(&form.month);
    if month.is_err() {
        view.month_error = Some(text(lang, "analytics-error-month"));
    }
    let amount = if form.amount.trim().is_empty() {
        Ok(None)
    } else {
        match parse_minor(&typed_number(lang, &form.amount), store.currency.exponent()) {
            Ok(minor) if minor < 0 => Err(text(lang, "analytics-error-amount-negative")),
            Ok(minor) => Ok(Some(minor)),
            Err(_) => Err(text_with(
                lang,
                "analytics-error-amount",
                &[("example", &example)],
            )),
        }
    };
    if let Err(message) = &amount {
        view.amount_error = Some(message.clone());
    }
    if normalize_channel(&form.channel).is_empty() {
        view.channel_error = Some(text(lang, "analytics-error-channel"));
    }
    let (Ok(month), Ok(amount), None) = (month, amount, &view.channel_error) else {
        let feedback = Feedback {
            spend: Some(view),
            ..Default::default()
        };
        return refused_form(&state, &staff, &store, role, feedback).await;
    };
    match state
        .db
        .set_marketing_spend(store.id, staff.session.user.id, &form.channel, month, amount)
        .await
    {
        Ok(()) => {
            Redirect::to(&format!("/app/{}/analytics?done=spend#acquisition", store.id)).into_response()
        }
        Err(StoreError::Invalid(e)) => {
            match e.field.as_str() {
                "amount" => view.amount_error = Some(text(lang, "analytics-error-amount-negative")),
                "month" => view.month_error = Some(text(lang, "analytics-error-month")),
                _ => view.channel_error = Some(text(lang, "analytics-error-channel")),
            }
            let feedback = Feedback {
                spend: Some(view),
                ..Default::default()
            };
            refused_form(&state, &staff, &store, role, feedback).await
        }
        Err(e) => unavailable(e, "saving marketing spend"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_typed_the_readers_way() {
        let inr = Currency::INR;
        assert_eq!(parse_target(Lang::En, Kpi::RetentionRate, "35", inr), Ok(3_500));
        assert_eq!(
            parse_target(Lang::En, Kpi::RetentionRate, " 35.5 % ", inr),
            Ok(3_550)
        );
        assert_eq!(parse_target(Lang::Hy, Kpi::ChurnRate, "12,5", inr), Ok(1_250));
        assert_eq!(
            parse_target(Lang::Te, Kpi::AverageOrderValue, "₹1,500.00", inr),
            Ok(150_000)
        );
        assert_eq!(
            parse_target(Lang::En, Kpi::PurchaseFrequency, "1.85", inr),
            Ok(18_500)
        );
        assert!(parse_target(Lang::En, Kpi::RetentionRate, "120", inr).is_err());
        assert!(parse_target(Lang::En, Kpi::RetentionRate, "lots", inr).is_err());
        assert_eq!(target_text(Kpi::RetentionRate, 3_550, inr), "35.5");
        assert_eq!(target_text(Kpi::PurchaseFrequency, 18_500, inr), "1.85");
        assert_eq!(target_text(Kpi::HistoricClv, 150_000, inr), "1500");
    }

    #[test]
    fn whole_money_keeps_the_readers_grouping() {
        assert_eq!(money_whole(Lang::Te, 123_456_789.0, Currency::INR), "₹12,34,568");
        assert_eq!(money_whole(Lang::En, 150_000.0, Currency::USD), "$1,500");
    }
}
