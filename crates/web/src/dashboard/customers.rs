//! The customer directory: search, filters, sorts, CSV export, and the customer's profile with
//! what the team adds to it (tags, notes, an account manager).

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use futures::StreamExt;
use regulars_domain::{
    parse_minor, ConsentChannel, CustomerId, FieldError, Permission, Role, Source, Timestamp, UserId,
};
use regulars_i18n::{
    format_date, format_datetime, format_fraction, format_money, format_number, format_percent, text,
    text_with, Lang,
};
use regulars_store::{
    display_name, CustomerAnalytics, CustomerListing, CustomerQuery, CustomerSort, Segment, StoreError,
    StoreRecord, TimelineQuery,
};
use serde::Deserialize;

use super::pages::{render, Chrome};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/customers", get(list))
        .route("/app/{store}/customers.csv", get(export))
        .route("/app/{store}/customers/{id}", get(profile))
        .route("/app/{store}/customers/{id}/tags", post(set_tags))
        .route("/app/{store}/customers/{id}/notes", post(add_note))
        .route("/app/{store}/customers/{id}/manager", post(assign_manager))
}

/// Rows per page of the customer list.
const PAGE: u64 = 50;

/// The list's query string, as typed: every field is text so a bad one can be named.
#[derive(Debug, Default, Deserialize, Clone)]
struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    consent: String,
    #[serde(default)]
    last_before: String,
    #[serde(default)]
    last_after: String,
    #[serde(default)]
    spent_min: String,
    #[serde(default)]
    spent_max: String,
    #[serde(default)]
    orders_min: String,
    #[serde(default)]
    orders_max: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    manager: String,
    #[serde(default)]
    segment: String,
    #[serde(default)]
    vip: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    after: String,
}

impl ListParams {
    /// The filter part of the query string (no cursor), for links that keep it.
    fn filter_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("tag", &self.tag),
            ("consent", &self.consent),
            ("last_before", &self.last_before),
            ("last_after", &self.last_after),
            ("spent_min", &self.spent_min),
            ("spent_max", &self.spent_max),
            ("orders_min", &self.orders_min),
            ("orders_max", &self.orders_max),
            ("source", &self.source),
            ("manager", &self.manager),
            ("segment", &self.segment),
            ("vip", &self.vip),
            ("sort", &self.sort),
            ("dir", &self.dir),
        ] {
            if !v.trim().is_empty() {
                out.append_pair(k, v.trim());
            }
        }
        out.finish()
    }

    /// What the store is asked for; the first bad field is named.
    fn query(&self, store: &StoreRecord, me: UserId) -> Result<CustomerQuery, FieldError> {
        fn opt(s: &str) -> Option<&str> {
            Some(s.trim()).filter(|s| !s.is_empty())
        }
        let zone = store.timezone.0;
        let date = |field: &str, s: &str| -> Result<Option<Timestamp>, FieldError> {
            opt(s)
                .map(|d| {
                    Timestamp::parse_flexible(d, zone).map_err(|_| {
                        FieldError::new(field, "invalid_date", format!("{d:?} is not a date (YYYY-MM-DD)"))
                    })
                })
                .transpose()
        };
        let exponent = store.currency.exponent();
        let money = |field: &str, s: &str| -> Result<Option<i64>, FieldError> {
            opt(s)
                .map(|m| {
                    parse_minor(&m.replace(',', ""), exponent).map_err(|_| {
                        FieldError::new(field, "invalid_amount", format!("{m:?} is not an amount"))
                    })
                })
                .transpose()
        };
        let count = |field: &str, s: &str| -> Result<Option<i64>, FieldError> {
            opt(s)
                .map(|n| {
                    n.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                        FieldError::new(field, "invalid_count", format!("{n:?} is not a count"))
                    })
                })
                .transpose()
        };
        let consent = opt(&self.consent)
            .map(|c| {
                ConsentChannel::parse(c).map_err(|_| {
                    FieldError::new("consent", "invalid_channel", format!("{c:?} is not a channel"))
                })
            })
            .transpose()?;
        let source = opt(&self.source)
            .map(|s| {
                Source::parse(s).map_err(|_| FieldError::new("source", "invalid_source", format!("{s:?}")))
            })
            .transpose()?;
        let account_manager = match opt(&self.manager) {
            None | Some("all") => None,
            Some("me") => Some(me),
            Some(id) => Some(UserId::parse(id).map_err(|_| {
                FieldError::new("manager", "invalid_manager", format!("{id:?} is not a person"))
            })?),
        };
        Ok(CustomerQuery {
            search: opt(&self.q).map(str::to_string),
            tag: opt(&self.tag).map(str::to_string),
            consent,
            last_order_before: date("last_before", &self.last_before)?,
            last_order_after: date("last_after", &self.last_after)?,
            spent_min_minor: money("spent_min", &self.spent_min)?,
            spent_max_minor: money("spent_max", &self.spent_max)?,
            orders_min: count("orders_min", &self.orders_min)?,
            orders_max: count("orders_max", &self.orders_max)?,
            source,
            account_manager,
            segment: opt(&self.segment).map(str::to_string),
            vip: match opt(&self.vip) {
                None => None,
                Some("1" | "true" | "on") => Some(true),
                Some("0" | "false") => Some(false),
                Some(other) => {
                    return Err(FieldError::new(
                        "vip",
                        "invalid_vip",
                        format!("{other:?}: 1 or 0"),
                    ));
                }
            },
            sort: opt(&self.sort)
                .map(CustomerSort::parse)
                .transpose()?
                .unwrap_or_default(),
            ascending: match opt(&self.dir) {
                None => self.sort.trim() == "name",
                Some("asc") => true,
                Some("desc") => false,
                Some(other) => {
                    return Err(FieldError::new(
                        "dir",
                        "invalid_direction",
                        format!("{other:?}: asc or desc"),
                    ));
                }
            },
            after: opt(&self.after).map(str::to_string),
            limit: PAGE,
        })
    }
}

fn parse_params(raw: Option<&str>) -> Result<ListParams, FieldError> {
    serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| FieldError::new("query", "invalid_query", e.to_string()))
}

/// A field named in an error, in the reader's words.
fn field_error(lang: Lang, e: &FieldError) -> String {
    let label = match e.field.as_str() {
        "segment" => text(lang, "customer-analytics-segment"),
        "vip" => text(lang, "customer-analytics-field-vip"),
        field => text(lang, &format!("customers-field-{}", field.replace('_', "-"))),
    };
    text_with(lang, "customers-bad-field", &[("field", &label)])
}

/// A segment's name in the reader's words, from its key (`at_risk`).
pub fn segment_name(lang: Lang, key: &str) -> String {
    text(lang, &format!("segment-{}", key.replace('_', "-")))
}

/// A sort's name in the reader's words.
fn sort_label(lang: Lang, sort: CustomerSort) -> String {
    match sort {
        CustomerSort::Clv => text(lang, "customer-analytics-sort-clv"),
        CustomerSort::PAlive => text(lang, "customer-analytics-sort-p-alive"),
        other => text(
            lang,
            &format!("customers-sort-{}", other.as_str().replace('_', "-")),
        ),
    }
}

pub struct Row {
    pub href: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub orders: String,
    pub spent: String,
    pub last_order: String,
    pub tags: Vec<String>,
    pub consents: Vec<String>,
    /// The RFM segment's name, empty before the store's analytics ran.
    pub segment: String,
    pub vip: bool,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "customers.html")]
pub struct CustomersPage {
    pub chrome: Chrome,
    pub store_name: String,
    pub base: String,
    pub params: ListParamsView,
    pub results: ResultsPart,
}

/// The results table alone: what a search typed into the page replaces (htmx).
#[derive(Template)]
#[template(path = "customers_results.html")]
pub struct ResultsPart {
    pub t: super::pages::Tr,
    pub rows: Vec<Row>,
    pub next_href: Option<String>,
    pub export_href: Option<String>,
    pub error: Option<String>,
    pub truncated: bool,
    pub sort_links: Vec<(String, String, bool)>,
}

/// The form's current values.
pub struct ListParamsView {
    pub q: String,
    pub tag: String,
    pub last_before: String,
    pub last_after: String,
    pub spent_min: String,
    pub spent_max: String,
    pub orders_min: String,
    pub orders_max: String,
    pub consents: Vec<Choice>,
    pub sources: Vec<Choice>,
    pub managers: Vec<Choice>,
    pub segment: String,
    pub segments: Vec<Choice>,
    pub vip: bool,
    pub sorts: Vec<Choice>,
    pub dirs: Vec<Choice>,
}

fn choices(current: &str, options: &[(&str, String)]) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.clone(),
            selected: *value == current.trim(),
        })
        .collect()
}

fn listing_row(lang: Lang, store: &StoreRecord, base: &str, c: &CustomerListing) -> Row {
    let zone = store.timezone.0;
    let consents = [
        (c.consent_email, "customers-consent-email"),
        (c.consent_sms, "customers-consent-sms"),
        (c.consent_whatsapp, "customers-consent-whatsapp"),
    ]
    .into_iter()
    .filter(|(granted, _)| *granted == Some(true))
    .map(|(_, id)| text(lang, id))
    .collect();
    Row {
        href: format!("{base}/customers/{}", c.id),
        name: display_name(c.first_name.as_deref(), c.last_name.as_deref())
            .unwrap_or_else(|| text(lang, "customers-unnamed")),
        email: c.email.clone().unwrap_or_default(),
        phone: c.phone.clone().unwrap_or_default(),
        orders: format_number(lang, c.orders_count, Some(store.currency)),
        spent: format_money(lang, c.total_spent_minor, store.currency),
        last_order: c
            .last_order_at
            .map(|t| format_date(lang, t, zone))
            .unwrap_or_default(),
        tags: c.tags.clone(),
        consents,
        segment: c
            .segment
            .as_deref()
            .map(|k| segment_name(lang, k))
            .unwrap_or_default(),
        vip: c.vip,
    }
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let base = format!("/app/{}", store.id);
    let mut params = parse_params(raw.as_deref()).unwrap_or_default();
    // An account manager starts from the customers they look after.
    if role == Role::AccountManager && raw.as_deref().unwrap_or("").is_empty() {
        params.manager = "me".into();
    }
    let mut error = None;
    let mut rows = Vec::new();
    let mut next_href = None;
    let mut truncated = false;
    match params.query(&store, staff.session.user.id) {
        Ok(query) => match state.db.customer_page(store.id, store.currency, &query).await {
            Ok(page) => {
                rows = page
                    .customers
                    .iter()
                    .map(|c| listing_row(lang, &store, &base, c))
                    .collect();
                truncated = page.truncated;
                next_href = page.next.map(|n| {
                    let mut q = params.filter_query();
                    if !q.is_empty() {
                        q.push('&');
                    }
                    q.push_str(
                        &form_urlencoded::Serializer::new(String::new())
                            .append_pair("after", &n)
                            .finish(),
                    );
                    format!("{base}/customers?{q}")
                });
            }
            Err(StoreError::Invalid(e)) => error = Some(field_error(lang, &e)),
            Err(e) => return unavailable(e, "listing customers"),
        },
        Err(e) => error = Some(field_error(lang, &e)),
    }
    let filter = params.filter_query();
    let can_export = role.can(Permission::ExportCustomers);
    let sort_links = CustomerSort::ALL
        .into_iter()
        .map(|s| {
            let mut p = params.clone();
            p.sort = s.as_str().into();
            p.dir = String::new();
            (
                format!("{base}/customers?{}", p.filter_query()),
                sort_label(lang, s),
                params.sort.trim() == s.as_str()
                    || (params.sort.trim().is_empty() && s == CustomerSort::default()),
            )
        })
        .collect();
    let results = ResultsPart {
        t: super::pages::Tr(lang),
        rows,
        next_href,
        export_href: can_export.then(|| format!("{base}/customers.csv?{filter}")),
        error,
        truncated,
        sort_links,
    };
    // htmx asks for the results alone while typing; going back in history it wants the page.
    let partial = headers.contains_key("hx-request")
        && !headers.contains_key("hx-boosted")
        && !headers.contains_key("hx-history-restore-request");
    if partial {
        let mut part = render(&results);
        part.headers_mut()
            .insert(header::VARY, header::HeaderValue::from_static("HX-Request"));
        return part;
    }
    let people = match state.db.store_people(store.id).await {
        Ok(p) => p,
        Err(e) => return unavailable(e, "listing people"),
    };
    let mut managers = vec![
        ("all", text(lang, "customers-manager-all")),
        ("me", text(lang, "customers-manager-me")),
    ];
    let people_ids: Vec<(String, String)> = people
        .iter()
        .filter(|(u, _)| u.id != staff.session.user.id)
        .map(|(u, _)| (u.id.to_string(), u.email.to_string()))
        .collect();
    managers.extend(people_ids.iter().map(|(id, email)| (id.as_str(), email.clone())));
    let consent_options = [
        ("", text(lang, "customers-any")),
        ("email", text(lang, "customers-consent-email")),
        ("sms", text(lang, "customers-consent-sms")),
        ("whatsapp", text(lang, "customers-consent-whatsapp")),
    ];
    let mut source_options = vec![("", text(lang, "customers-any"))];
    source_options.extend(
        Source::ALL
            .iter()
            .map(|s| (s.as_str(), text(lang, &format!("source-{}", s.as_str())))),
    );
    let sort_options: Vec<(&str, String)> = CustomerSort::ALL
        .iter()
        .map(|s| (s.as_str(), sort_label(lang, *s)))
        .collect();
    let mut segment_options = vec![("", text(lang, "customers-any"))];
    segment_options.extend(
        Segment::ALL
            .iter()
            .map(|s| (s.key(), segment_name(lang, s.key()))),
    );
    let view = ListParamsView {
        q: params.q.clone(),
        tag: params.tag.clone(),
        last_before: params.last_before.clone(),
        last_after: params.last_after.clone(),
        spent_min: params.spent_min.clone(),
        spent_max: params.spent_max.clone(),
        orders_min: params.orders_min.clone(),
        orders_max: params.orders_max.clone(),
        consents: choices(&params.consent, &consent_options),
        sources: choices(&params.source, &source_options),
        segment: params.segment.trim().to_string(),
        segments: choices(&params.segment, &segment_options),
        vip: matches!(params.vip.trim(), "1" | "true" | "on"),
        managers: choices(
            if params.manager.is_empty() {
                "all"
            } else {
                &params.manager
            },
            &managers,
        ),
        sorts: choices(
            if params.sort.is_empty() {
                "last_order"
            } else {
                &params.sort
            },
            &sort_options,
        ),
        dirs: choices(
            &params.dir,
            &[
                ("", text(lang, "customers-dir-default")),
                ("desc", text(lang, "customers-dir-desc")),
                ("asc", text(lang, "customers-dir-asc")),
            ],
        ),
    };
    let mut page = render(&CustomersPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/customers"),
        store_name: store.name.clone(),
        base,
        params: view,
        results,
    });
    page.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("HX-Request"));
    page
}

/// A spreadsheet must not run what a customer typed: text that would start a formula is
/// quoted. Phones are digits and `+` only (checked on the way in) and stay as they are.
fn cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

/// The customers of the current filter as CSV, streamed a thousand at a time.
async fn export(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::ExportCustomers).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let params = match parse_params(raw.as_deref()) {
        Ok(p) => p,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut query = match params.query(&store, staff.session.user.id) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    query.limit = 1000;
    query.after = None;
    tracing::info!(user = %staff.session.user.id, store = %store.id, "customer export");
    let header_row = [
        "id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "orders_count",
        "total_spent",
        "currency",
        "first_seen_at",
        "last_order_at",
        "tags",
        "consent_email",
        "consent_sms",
        "consent_whatsapp",
    ]
    .join(",")
        + "\r\n";
    let db = state.db.clone();
    let exponent = store.currency.exponent();
    let currency = store.currency.code().to_string();
    let pages = futures::stream::unfold(Some(query), move |state| {
        let db = db.clone();
        let currency = currency.clone();
        async move {
            let query = state?;
            let page = match db.customer_page(store.id, store.currency, &query).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "exporting customers");
                    return Some((Err(std::io::Error::other("the export stopped")), None));
                }
            };
            let mut out = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new());
            for c in &page.customers {
                let consent = |v: Option<bool>| v.map(|b| b.to_string()).unwrap_or_default();
                let record = [
                    c.id.to_string(),
                    cell(c.first_name.as_deref().unwrap_or("")),
                    cell(c.last_name.as_deref().unwrap_or("")),
                    cell(c.email.as_deref().unwrap_or("")),
                    c.phone.clone().unwrap_or_default(),
                    c.orders_count.to_string(),
                    regulars_domain::format_minor(c.total_spent_minor, exponent),
                    currency.clone(),
                    c.created_at.to_rfc3339(),
                    c.last_order_at.map(Timestamp::to_rfc3339).unwrap_or_default(),
                    cell(&c.tags.join("; ")),
                    consent(c.consent_email),
                    consent(c.consent_sms),
                    consent(c.consent_whatsapp),
                ];
                if out.write_record(&record).is_err() {
                    return Some((Err(std::io::Error::other("the export stopped")), None));
                }
            }
            let bytes = out.into_inner().unwrap_or_default();
            let next = page.next.map(|after| CustomerQuery {
                after: Some(after),
                ..query
            });
            Some((Ok::<_, std::io::Error>(bytes), next))
        }
    });
    let body =
        futures::stream::once(async move { Ok::<_, std::io::Error>(header_row.into_bytes()) }).chain(pages);
    let file = format!(
        "customers-{}.csv",
        chrono::Utc::now()
            .with_timezone(&store.timezone.0)
            .format("%Y-%m-%d")
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

pub struct Fact {
    pub label: String,
    pub value: String,
}

pub struct ConsentLine {
    pub channel: String,
    pub state: String,
}

pub struct ConsentHistoryLine {
    pub at: String,
    pub channel: String,
    pub granted: bool,
    pub state: String,
    pub via: String,
    pub notice: String,
}

pub struct OrderBlock {
    pub href: String,
    pub number: String,
    pub placed: String,
    pub total: String,
    pub status: String,
    pub lines: Vec<(String, String, String)>,
    pub refunds: Vec<(String, String, String)>,
}

pub struct TimelineLine {
    pub at: String,
    pub what: String,
}

pub struct NoteLine {
    pub at: String,
    pub author: String,
    pub body: String,
}

/// What the store's analytics say of the customer, in the reader's words.
pub struct PredictionsPanel {
    pub facts: Vec<Fact>,
    pub vip: bool,
    pub has_rfm: bool,
    /// The store's purchase model could not be fitted: RFM only.
    pub no_model: bool,
    pub as_of: String,
}

impl PredictionsPanel {
    fn new(lang: Lang, store: &StoreRecord, a: &CustomerAnalytics) -> PredictionsPanel {
        let zone = store.timezone.0;
        let fact = |label: &str, value: String| Fact {
            label: text(lang, label),
            value,
        };
        let mut facts = Vec::new();
        if let Some(segment) = &a.segment {
            facts.push(fact("customer-analytics-segment", segment_name(lang, segment)));
        }
        if let Some(p) = a.p_alive {
            facts.push(fact("customer-analytics-p-alive", format_percent(lang, p)));
        }
        if let Some(n) = a.predicted_purchases_12m {
            facts.push(fact(
                "customer-analytics-predicted-purchases",
                format_fraction(lang, n, 1),
            ));
        }
        if let Some(clv) = a.clv_12m_minor {
            facts.push(fact(
                "customer-analytics-clv",
                format_money(lang, clv, store.currency),
            ));
        }
        if a.p_alive.is_some() {
            facts.push(fact(
                "customer-analytics-next-purchase",
                a.next_purchase_at
                    .map(|t| format_date(lang, t, zone))
                    .unwrap_or_else(|| text(lang, "customer-analytics-next-purchase-none")),
            ));
        }
        if let Some(rfm) = a.rfm {
            facts.push(fact("customer-analytics-rfm", rfm.code()));
        }
        PredictionsPanel {
            facts,
            vip: a.vip,
            has_rfm: a.rfm.is_some(),
            no_model: a.p_alive.is_none(),
            as_of: text_with(
                lang,
                "customer-analytics-as-of",
                &[("time", &format_datetime(lang, a.computed_at, zone))],
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "customer.html")]
pub struct ProfilePage {
    pub chrome: Chrome,
    pub base: String,
    pub action: String,
    pub csrf: String,
    pub name: String,
    pub identity: Vec<Fact>,
    pub figures: Vec<Fact>,
    pub identities: Vec<(String, String)>,
    pub consents: Vec<ConsentLine>,
    pub consent_history: Vec<ConsentHistoryLine>,
    pub orders: Vec<OrderBlock>,
    pub all_orders_href: String,
    pub timeline: Vec<TimelineLine>,
    pub notes: Vec<NoteLine>,
    pub predictions: Option<PredictionsPanel>,
    pub tags: Vec<String>,
    pub tags_text: String,
    pub can_edit: bool,
    pub can_assign: bool,
    pub manager: String,
    pub managers: Vec<Choice>,
    pub error: Option<String>,
    pub loyalty: String,
    /// The referral panel: the customer's code, who referred them, the friends they referred.
    pub referrals: String,
}

#[derive(Deserialize, Default)]
struct ProfileQuery {
    #[serde(default)]
    error: String,
}

async fn profile(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<ProfileQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(id) = CustomerId::parse(&id) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    let customer = match state.db.customer(store.id, id).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading a customer"),
    };
    let db = &state.db;
    let recent = TimelineQuery {
        limit: 50,
        ..Default::default()
    };
    let (history, orders, timeline, notes, manager, people) = match tokio::try_join!(
        db.consent_history(store.id, id),
        db.customer_orders(store.id, id, 20),
        db.timeline(store.id, id, &recent),
        db.customer_notes(store.id, id),
        db.account_manager(store.id, id),
        db.store_people(store.id),
    ) {
        Ok(all) => all,
        Err(e) => return unavailable(e, "reading a customer's profile"),
    };
    let lang = staff.lang;
    let zone = store.timezone.0;
    let base = format!("/app/{}", store.id);
    let date = |t: Timestamp| format_date(lang, t, zone);
    let when = |t: Timestamp| format_datetime(lang, t, zone);
    let yes_no = |v: Option<bool>| {
        text(
            lang,
            match v {
                Some(true) => "customers-consent-granted",
                Some(false) => "customers-consent-withdrawn",
                None => "customers-consent-unknown",
            },
        )
    };
    let fact = |label: &str, value: String| Fact {
        label: text(lang, label),
        value,
    };
    let mut identity = Vec::new();
    for (label, value) in [
        ("customers-email", customer.email.as_ref().map(|e| e.to_string())),
        (
            "customers-phone",
            customer.phone.as_ref().map(|p| p.as_str().to_string()),
        ),
        (
            "customers-locale",
            customer.locale.as_ref().map(|l| l.as_str().to_string()),
        ),
        ("customers-birthday", customer.birthday.map(|b| b.to_iso())),
        ("customers-channel", customer.acquisition_channel.clone()),
    ] {
        if let Some(v) = value {
            identity.push(fact(label, v));
        }
    }
    identity.push(fact("customers-first-seen", date(customer.created_at)));
    let aov = (customer.orders_count > 0).then(|| customer.total_spent_minor / customer.orders_count);
    let mut figures = vec![
        fact(
            "customers-orders",
            format_number(lang, customer.orders_count, Some(store.currency)),
        ),
        fact(
            "customers-spent",
            format_money(lang, customer.total_spent_minor, store.currency),
        ),
    ];
    if let Some(aov) = aov {
        figures.push(fact("customers-aov", format_money(lang, aov, store.currency)));
    }
    if let Some(t) = customer.first_order_at {
        figures.push(fact("customers-first-order", date(t)));
    }
    if let Some(t) = customer.last_order_at {
        figures.push(fact("customers-last-order", date(t)));
    }
    let consents = customer
        .consent
        .iter()
        .map(|(channel, v)| ConsentLine {
            channel: text(lang, &format!("customers-consent-{channel}")),
            state: yes_no(*v),
        })
        .collect();
    let consent_history = history
        .iter()
        .rev()
        .map(|h| {
            let s = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
            let granted = h.get("granted").and_then(|v| v.as_bool()).unwrap_or(false);
            ConsentHistoryLine {
                at: Timestamp::parse_rfc3339(&s("occurred_at"))
                    .map(when)
                    .unwrap_or_default(),
                channel: text(lang, &format!("customers-consent-{}", s("channel"))),
                granted,
                state: yes_no(Some(granted)),
                via: s("collected_via"),
                notice: [s("notice_version"), s("notice_hash").chars().take(12).collect()]
                    .into_iter()
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>()
                    .join(" · "),
            }
        })
        .collect();
    let orders = orders
        .iter()
        .map(|o| OrderBlock {
            href: format!("{base}/orders/{}", o.id),
            number: o.order_number.clone().unwrap_or_else(|| o.external_id.clone()),
            placed: when(o.placed_at),
            total: format_money(lang, o.total, o.currency),
            status: super::orders::status_text(lang, &o.financial_status),
            lines: o
                .line_items
                .iter()
                .map(|l| {
                    (
                        l.title.clone(),
                        format_number(lang, l.quantity, None),
                        format_money(lang, l.unit_price * l.quantity - l.discount, o.currency),
                    )
                })
                .collect(),
            refunds: o
                .refunds
                .iter()
                .map(|r| {
                    (
                        date(r.created_at),
                        format_money(lang, r.amount, o.currency),
                        r.reason.clone().unwrap_or_default(),
                    )
                })
                .collect(),
        })
        .collect();
    let timeline = timeline
        .iter()
        .map(|e| TimelineLine {
            at: when(e.occurred_at),
            what: event_text(lang, &e.kind, e.name.as_deref(), &e.data),
        })
        .collect();
    let notes = notes
        .into_iter()
        .map(|n| NoteLine {
            at: when(n.created_at),
            author: n.author_email.unwrap_or_default(),
            body: n.body,
        })
        .collect();
    let manager_email = manager
        .and_then(|m| people.iter().find(|(u, _)| u.id == m))
        .map(|(u, _)| u.email.to_string());
    // An account manager may take a customer on or let them go; owners and admins assign anyone.
    let assignable: Vec<(String, String)> = people
        .iter()
        .filter(|(u, _)| role != Role::AccountManager || u.id == staff.session.user.id)
        .map(|(u, _)| (u.id.to_string(), u.email.to_string()))
        .collect();
    let current = manager.map(|m| m.to_string()).unwrap_or_default();
    let mut manager_options = vec![(String::new(), text(lang, "customers-manager-none"))];
    manager_options.extend(assignable);
    let managers = manager_options
        .iter()
        .map(|(value, label)| Choice {
            value: value.clone(),
            label: label.clone(),
            selected: *value == current,
        })
        .collect();
    let error = (!q.error.is_empty()).then(|| {
        text(
            lang,
            match q.error.as_str() {
                "tags" => "customers-error-tags",
                "note" => "customers-error-note",
                _ => "customers-error-manager",
            },
        )
    });
    render(&ProfilePage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/customers/profile"),
        action: format!("{base}/customers/{id}"),
        all_orders_href: format!("{base}/orders?customer={id}"),
        base,
        csrf: staff.session.csrf_token.clone(),
        name: display_name(customer.first_name.as_deref(), customer.last_name.as_deref())
            .or_else(|| customer.email.as_ref().map(|e| e.to_string()))
            .unwrap_or_else(|| text(lang, "customers-unnamed")),
        identity,
        figures,
        identities: customer
            .identities
            .iter()
            .map(|i| {
                (
                    text(lang, &format!("source-{}", i.source.as_str())),
                    i.external_id.clone(),
                )
            })
            .collect(),
        consents,
        consent_history,
        orders,
        timeline,
        notes,
        predictions: customer
            .analytics
            .as_ref()
            .map(|a| PredictionsPanel::new(lang, &store, a)),
        tags_text: customer.tags.join(", "),
        tags: customer.tags,
        can_edit: role.can(Permission::EditCustomers),
        can_assign: role.can(Permission::AssignAccountManager),
        manager: manager_email.unwrap_or_else(|| text(lang, "customers-manager-none")),
        managers,
        error,
        loyalty: super::loyalty_members::panel(&state, &staff, &store, role, id).await,
        referrals: super::referrals::panel(&state, &staff, &store, id).await,
    })
}

/// One timeline entry in words: `event-<kind>` from Fluent with the figures it names.
fn event_text(lang: Lang, kind: &str, name: Option<&str>, data: &serde_json::Value) -> String {
    let id = format!("event-{}", kind.replace('_', "-"));
    let s = |k: &str| data.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let number = Some(s("order_number"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| s("external_id"));
    let granted = data.get("granted").and_then(|v| v.as_bool()) == Some(true);
    let args: Vec<(&str, String)> = vec![
        ("name", name.unwrap_or("").to_string()),
        ("number", number),
        (
            "channel",
            text(lang, &format!("customers-consent-{}", s("channel"))),
        ),
        ("granted", if granted { "yes" } else { "no" }.to_string()),
    ];
    let borrowed: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let said = text_with(lang, &id, &borrowed);
    if said == id {
        // A kind this build has no words for (a custom event): its own name is the best text.
        name.unwrap_or(kind).to_string()
    } else {
        said
    }
}

#[derive(Deserialize)]
struct TagsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tags: String,
}

#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
struct ManagerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    manager: String,
}

/// The checks every profile form passes: membership, permission, CSRF, a customer of this store.
async fn profile_form(
    state: &AppState,
    staff: &Staff,
    headers: &HeaderMap,
    store: &str,
    id: &str,
    csrf: &str,
    needs: Permission,
) -> Result<(StoreRecord, Role, CustomerId), Response> {
    let (store, role) = staff.store_form(state, store, needs, headers, csrf).await?;
    let id = CustomerId::parse(id).map_err(|_| staff.refuse(StatusCode::NOT_FOUND, "error-not-found"))?;
    Ok((store, role, id))
}

fn back(
    store: &StoreRecord,
    id: CustomerId,
    result: Result<(), StoreError>,
    what: &str,
    staff: &Staff,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/app/{}/customers/{id}#{what}", store.id)).into_response(),
        Err(StoreError::NotFound(_)) => staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(StoreError::Invalid(e)) => {
            tracing::info!(field = %e.field, "refused a profile change");
            Redirect::to(&format!("/app/{}/customers/{id}?error={what}#{what}", store.id)).into_response()
        }
        Err(e) => unavailable(e, "changing a customer"),
    }
}

fn actor(staff: &Staff) -> String {
    format!("user:{}", staff.session.user.id)
}

async fn set_tags(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<TagsForm>,
) -> Response {
    let (store, _, id) = match profile_form(
        &state,
        &staff,
        &headers,
        &store,
        &id,
        &form.csrf,
        Permission::EditCustomers,
    )
    .await
    {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let tags: Vec<String> = form.tags.split(',').map(str::to_string).collect();
    let result = state
        .db
        .set_customer_tags(store.id, id, &tags, &actor(&staff))
        .await;
    back(&store, id, result, "tags", &staff)
}

async fn add_note(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<NoteForm>,
) -> Response {
    let (store, _, id) = match profile_form(
        &state,
        &staff,
        &headers,
        &store,
        &id,
        &form.csrf,
        Permission::EditCustomers,
    )
    .await
    {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let result = state
        .db
        .add_customer_note(store.id, id, staff.session.user.id, &form.body)
        .await
        .map(|_| ());
    back(&store, id, result, "note", &staff)
}

async fn assign_manager(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<ManagerForm>,
) -> Response {
    let (store, role, id) = match profile_form(
        &state,
        &staff,
        &headers,
        &store,
        &id,
        &form.csrf,
        Permission::AssignAccountManager,
    )
    .await
    {
        Ok(ok) => ok,
        Err(refused) => return refused,
    };
    let wanted = match form.manager.trim() {
        "" => None,
        m => match UserId::parse(m) {
            Ok(u) => Some(u),
            Err(_) => {
                return back(
                    &store,
                    id,
                    Err(StoreError::Invalid(FieldError::new("manager", "invalid", m))),
                    "manager",
                    &staff,
                )
            }
        },
    };
    if role == Role::AccountManager {
        // Only themselves: taking a customer on, or letting go of one of their own.
        let me = staff.session.user.id;
        let current = match state.db.account_manager(store.id, id).await {
            Ok(c) => c,
            Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
            Err(e) => return unavailable(e, "reading an account manager"),
        };
        let allowed = match wanted {
            Some(u) => u == me,
            None => current == Some(me) || current.is_none(),
        };
        if !allowed {
            return staff.refuse(StatusCode::FORBIDDEN, "error-forbidden");
        }
    }
    let result = state
        .db
        .assign_account_manager(store.id, id, wanted, &actor(&staff))
        .await;
    back(&store, id, result, "manager", &staff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_formulas_are_quoted_but_phones_are_not_touched_elsewhere() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("Ravi"), "Ravi");
        assert_eq!(cell("-5"), "'-5");
    }

    #[test]
    fn filter_links_keep_the_filter_and_drop_the_cursor() {
        let p = ListParams {
            q: " ravi ".into(),
            tag: "vip".into(),
            after: "x".into(),
            ..Default::default()
        };
        assert_eq!(p.filter_query(), "q=ravi&tag=vip");
    }
}
