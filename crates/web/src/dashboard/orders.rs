//! Orders: the list (newest first, searchable by number) and one order's detail.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use regulars_domain::{Currency, CustomerId, FinancialStatus, OrderId, Permission, Timestamp};
use regulars_i18n::{format_datetime, format_money, format_number, text, text_with, Lang};
use regulars_store::{display_name, OrderQuery, StoreError};
use serde::Deserialize;

use super::customers::Choice;
use super::pages::{render, Chrome};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/orders", get(list))
        .route("/app/{store}/orders/{id}", get(detail))
}

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    after: String,
}

pub struct OrderRow {
    pub href: String,
    pub number: String,
    pub customer: String,
    pub customer_href: String,
    pub placed: String,
    pub total: String,
    pub refunded: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
pub struct OrdersPage {
    pub chrome: Chrome,
    pub store_name: String,
    pub base: String,
    pub q: String,
    pub from: String,
    pub to: String,
    pub customer: String,
    pub statuses: Vec<Choice>,
    pub rows: Vec<OrderRow>,
    pub next_href: Option<String>,
    pub error: Option<String>,
}

/// A payment status in the reader's words (a status no shop sent before stays as sent).
pub(super) fn status_text(lang: Lang, status: &str) -> String {
    let id = format!("orders-status-{}", status.replace('_', "-"));
    let said = text(lang, &id);
    if said == id {
        status.to_string()
    } else {
        said
    }
}

fn money(lang: Lang, minor: i64, currency: &str) -> String {
    match Currency::parse(currency) {
        Ok(c) => format_money(lang, minor, c),
        Err(_) => format!("{minor} {currency}"),
    }
}

async fn list(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(p): Query<ListParams>,
) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let zone = store.timezone.0;
    let base = format!("/app/{}", store.id);
    let field = |name: &str| {
        let label = text(lang, &format!("orders-field-{name}"));
        text_with(lang, "customers-bad-field", &[("field", &label)])
    };
    let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let date = |s: &str| opt(s).map(|d| Timestamp::parse_flexible(&d, zone)).transpose();
    let mut error = None;
    let from = date(&p.from).unwrap_or_else(|_| {
        error = Some(field("from"));
        None
    });
    // "To" a day means through its end.
    let to = date(&p.to)
        .map(|t| t.map(|t| Timestamp(t.0 + 86_400_000)))
        .unwrap_or_else(|_| {
            error = Some(field("to"));
            None
        });
    let customer = opt(&p.customer).and_then(|c| {
        CustomerId::parse(&c).ok().or_else(|| {
            error = Some(field("customer"));
            None
        })
    });
    let query = OrderQuery {
        search: opt(&p.q),
        customer,
        financial_status: opt(&p.status).filter(|s| FinancialStatus::parse(s).is_ok()),
        placed_from: from,
        placed_to: to,
        after: opt(&p.after),
        limit: 50,
    };
    let mut rows = Vec::new();
    let mut next_href = None;
    if error.is_none() {
        match state.db.order_page(store.id, &query).await {
            Ok(page) => {
                rows = page
                    .orders
                    .iter()
                    .map(|o| OrderRow {
                        href: format!("{base}/orders/{}", o.id),
                        number: o.order_number.clone().unwrap_or_else(|| o.external_id.clone()),
                        customer: o.customer_name.clone().unwrap_or_default(),
                        customer_href: o
                            .customer_id
                            .as_ref()
                            .map(|c| format!("{base}/customers/{c}"))
                            .unwrap_or_default(),
                        placed: format_datetime(lang, o.placed_at, zone),
                        total: money(lang, o.total, &o.currency),
                        refunded: if o.refunded_total > 0 {
                            money(lang, o.refunded_total, &o.currency)
                        } else {
                            String::new()
                        },
                        status: status_text(lang, &o.financial_status),
                    })
                    .collect();
                next_href = page.next.map(|n| {
                    let mut q = form_urlencoded::Serializer::new(String::new());
                    for (k, v) in [
                        ("q", &p.q),
                        ("status", &p.status),
                        ("from", &p.from),
                        ("to", &p.to),
                        ("customer", &p.customer),
                    ] {
                        if !v.trim().is_empty() {
                            q.append_pair(k, v.trim());
                        }
                    }
                    q.append_pair("after", &n);
                    format!("{base}/orders?{}", q.finish())
                });
            }
            Err(StoreError::Invalid(_)) => error = Some(field("after")),
            Err(e) => return unavailable(e, "listing orders"),
        }
    }
    let mut statuses = vec![Choice {
        value: String::new(),
        label: text(lang, "customers-any"),
        selected: p.status.trim().is_empty(),
    }];
    statuses.extend(FinancialStatus::ALL.iter().map(|s| Choice {
        value: s.as_str().to_string(),
        label: status_text(lang, s.as_str()),
        selected: p.status.trim() == s.as_str(),
    }));
    render(&OrdersPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/orders"),
        store_name: store.name.clone(),
        base,
        q: p.q,
        from: p.from,
        to: p.to,
        customer: p.customer,
        statuses,
        rows,
        next_href,
        error,
    })
}

pub struct LineView {
    pub title: String,
    pub sku: String,
    pub quantity: String,
    pub unit_price: String,
    pub total: String,
}

#[derive(Template)]
#[template(path = "order.html")]
pub struct OrderPage {
    pub chrome: Chrome,
    pub base: String,
    pub number: String,
    pub facts: Vec<(String, String)>,
    pub customer: Option<(String, String)>,
    pub lines: Vec<LineView>,
    pub totals: Vec<(String, String)>,
    pub refunds: Vec<(String, String, String)>,
    pub codes: Vec<String>,
}

async fn detail(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, id)): Path<(String, String)>,
) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::Read).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Ok(id) = OrderId::parse(&id) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    let order = match state.db.order(store.id, id).await {
        Ok(o) => o,
        Err(StoreError::NotFound(_)) => return staff.refuse(StatusCode::NOT_FOUND, "error-not-found"),
        Err(e) => return unavailable(e, "reading an order"),
    };
    let lang = staff.lang;
    let zone = store.timezone.0;
    let base = format!("/app/{}", store.id);
    let customer = match order.customer_id {
        Some(c) => match state.db.customer(store.id, c).await {
            Ok(record) => Some((
                format!("{base}/customers/{c}"),
                display_name(record.first_name.as_deref(), record.last_name.as_deref())
                    .or_else(|| record.email.map(|e| e.to_string()))
                    .unwrap_or_else(|| text(lang, "customers-unnamed")),
            )),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return unavailable(e, "reading an order's customer"),
        },
        None => None,
    };
    let m = |minor: i64| format_money(lang, minor, order.currency);
    let t = |id: &str| text(lang, id);
    let mut facts = vec![
        (t("orders-placed"), format_datetime(lang, order.placed_at, zone)),
        (t("orders-status"), status_text(lang, &order.financial_status)),
        (
            t("customers-field-source"),
            t(&format!("source-{}", order.source.as_str())),
        ),
        (t("orders-external-id"), order.external_id.clone()),
    ];
    if let Some(at) = order.cancelled_at {
        facts.push((t("orders-cancelled"), format_datetime(lang, at, zone)));
    }
    if let Some(m) = &order.marketplace {
        facts.push((t("orders-marketplace"), m.clone()));
    }
    if let Some(note) = &order.note {
        facts.push((t("orders-note"), note.clone()));
    }
    let lines = order
        .line_items
        .iter()
        .map(|l| LineView {
            title: l.title.clone(),
            sku: l.sku.clone().unwrap_or_default(),
            quantity: format_number(lang, l.quantity, None),
            unit_price: m(l.unit_price),
            total: m(l.unit_price * l.quantity - l.discount),
        })
        .collect();
    let mut totals = vec![(t("orders-subtotal"), m(order.subtotal))];
    for (label, amount) in [
        ("orders-discounts", -order.discount_total),
        ("orders-shipping", order.shipping_total),
        ("orders-tax", order.tax_total),
    ] {
        if amount != 0 {
            totals.push((t(label), m(amount)));
        }
    }
    totals.push((t("orders-total"), m(order.total)));
    if order.refunded_total > 0 {
        totals.push((t("orders-refunded"), m(-order.refunded_total)));
        totals.push((t("orders-net"), m(order.total - order.refunded_total)));
    }
    render(&OrderPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/orders/detail"),
        base,
        number: order
            .order_number
            .clone()
            .unwrap_or_else(|| order.external_id.clone()),
        facts,
        customer,
        lines,
        totals,
        refunds: order
            .refunds
            .iter()
            .map(|r| {
                (
                    format_datetime(lang, r.created_at, zone),
                    m(r.amount),
                    r.reason.clone().unwrap_or_default(),
                )
            })
            .collect(),
        codes: order.discount_codes.clone(),
    })
}
