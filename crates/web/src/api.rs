//! The JSON API under `/api/v1`. Every handler is scoped to the store of the caller's API key.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use regulars_domain::{CustomerId, Email, OrderId, Phone, Source};
use regulars_store::{CustomerFilter, CustomerQuery, CustomerSort, OrderFilter, Outcome, TimelineQuery};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::ApiStore;
use crate::body::{parse_json, parse_ndjson};
use crate::error::{ApiError, ApiResult, Problem};
use crate::models::{CustomerBody, EventBody, NewRefundBody, OrderBody};
use crate::views::{BulkResult, CustomerView, EventView, OrderView, Page, WriteResult};
use crate::write::{run_write, Reply};
use crate::AppState;

const ACTOR_API: &str = "api_key";

fn write_status(outcome: Outcome) -> StatusCode {
    if outcome == Outcome::Created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", e.body_text()))
}

pub(crate) fn path_id<T>(
    raw: &str,
    parse: fn(&str) -> Result<T, regulars_domain::FieldError>,
    what: &str,
) -> ApiResult<T> {
    // A malformed id cannot exist in this store: answer exactly as for a missing one.
    parse(raw).map_err(|_| ApiError::not_found(what))
}

/// The orders list's query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The source's id (with `source`, only that source's).
    pub external_id: Option<String>,
    /// api, shopify, woocommerce or transactions.
    pub source: Option<String>,
    pub email: Option<String>,
    /// Orders of this customer.
    pub customer_id: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<u64>,
}

impl ListQuery {
    fn source(&self) -> ApiResult<Option<Source>> {
        Ok(self.source.as_deref().map(Source::parse).transpose()?)
    }
    fn email(&self) -> ApiResult<Option<Email>> {
        Ok(self.email.as_deref().map(Email::parse).transpose()?)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// The source's id (with `source`, only that source's).
    pub external_id: Option<String>,
    /// api, shopify, woocommerce or transactions.
    pub source: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// An RFM segment: champions, loyal_customers, potential_loyalist, new_customers,
    /// promising, need_attention, about_to_sleep, at_risk, cant_lose_them, hibernating, lost.
    pub segment: Option<String>,
    /// true: VIPs only; false: everyone else.
    pub vip: Option<bool>,
    /// clv, p_alive, last_order, spent, orders, name or created; without it, by id. Customers
    /// without a value (no analytics yet, no order) come last. Not with external_id, email or
    /// phone.
    pub sort: Option<String>,
    /// desc (default; asc for name) or asc.
    pub direction: Option<String>,
    /// The `next_cursor` of the previous page.
    pub after: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<u64>,
}

fn page<T: utoipa::ToSchema>(data: Vec<T>, limit: u64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = (data.len() as u64 == limit)
        .then(|| data.last().map(&cursor))
        .flatten();
    Page { data, next_cursor }
}

/// Create a customer, or update the one with the same external id (else email, else phone).
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = CustomerBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 201, body = WriteResult), (status = 200, body = WriteResult), (status = 422, body = Problem)))]
pub async fn upsert_customer(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let input = match parse_json::<CustomerBody>(&body).and_then(|b| Ok(b.into_input(store.currency)?)) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    let store_id = store.id;
    run_write(
        &state,
        &store,
        &headers,
        "POST /api/v1/customers",
        &body,
        move |tx| {
            Box::pin(async move {
                let (id, outcome) = tx
                    .upsert_customer(store_id, Source::Api, &input, ACTOR_API)
                    .await?;
                Ok(Reply::new(
                    write_status(outcome),
                    WriteResult {
                        id: id.to_string(),
                        outcome,
                    },
                ))
            })
        },
    )
    .await
}

/// Update a customer by id. Only the fields sent change.
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", request_body = CustomerBody,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = WriteResult), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn patch_customer(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let prepared = path_id(&id, CustomerId::parse, "customer")
        .and_then(|id| Ok((id, parse_json::<CustomerBody>(&body)?.into_input(store.currency)?)));
    let (id, input) = match prepared {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let store_id = store.id;
    let line = format!("PATCH /api/v1/customers/{id}");
    run_write(&state, &store, &headers, &line, &body, move |tx| {
        Box::pin(async move {
            let outcome = tx
                .update_customer(store_id, id, Source::Api, &input, ACTOR_API)
                .await?;
            Ok(Reply::new(
                StatusCode::OK,
                WriteResult {
                    id: id.to_string(),
                    outcome,
                },
            ))
        })
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(CustomerListQuery),
    responses((status = 200, body = Page<CustomerView>), (status = 422, body = Problem)))]
pub async fn list_customers(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    q: Result<Query<CustomerListQuery>, QueryRejection>,
) -> ApiResult<Json<Page<CustomerView>>> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let source = q.source.as_deref().map(Source::parse).transpose()?;
    let views = |rows: Vec<regulars_store::CustomerRecord>| -> Vec<CustomerView> {
        rows.into_iter()
            .map(|c| CustomerView::new(c, store.currency))
            .collect()
    };
    if let Some(sort) = q.sort.as_deref() {
        // A sorted list is a page of the customer directory, with its own cursor.
        if q.external_id.is_some() || q.email.is_some() || q.phone.is_some() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                "sort lists customers by a value; to find one by external_id, email or phone, leave sort out",
            ));
        }
        let sort = CustomerSort::parse(sort)?;
        let ascending = match q.direction.as_deref() {
            None => sort == CustomerSort::Name,
            Some("asc") => true,
            Some("desc") => false,
            Some(other) => {
                return Err(regulars_domain::FieldError::new(
                    "direction",
                    "invalid_direction",
                    format!("{other:?}: asc or desc"),
                )
                .into())
            }
        };
        let found = state
            .db
            .customer_page(
                store.id,
                store.currency,
                &CustomerQuery {
                    source,
                    segment: q.segment.clone(),
                    vip: q.vip,
                    sort,
                    ascending,
                    after: q.after.clone(),
                    limit,
                    ..Default::default()
                },
            )
            .await?;
        let ids: Vec<CustomerId> = found.customers.iter().map(|c| c.id).collect();
        let rows = state.db.customers_by_ids(store.id, &ids).await?;
        return Ok(Json(Page {
            data: views(rows),
            next_cursor: found.next,
        }));
    }
    let filter = CustomerFilter {
        external_id: q.external_id.clone(),
        source,
        email: q.email.as_deref().map(Email::parse).transpose()?,
        phone: q.phone.as_deref().map(Phone::parse).transpose()?,
        segment: q.segment.clone(),
        vip: q.vip,
        after: q.after.as_deref().map(CustomerId::parse).transpose()?,
        limit,
    };
    let rows = state.db.customers(store.id, &filter).await?;
    Ok(Json(page(views(rows), limit, |c: &CustomerView| c.id.clone())))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = CustomerView), (status = 404, body = Problem)))]
pub async fn get_customer(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
) -> ApiResult<Json<CustomerView>> {
    let id = path_id(&id, CustomerId::parse, "customer")?;
    Ok(Json(CustomerView::new(
        state.db.customer(store.id, id).await?,
        store.currency,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// Only events of this kind (order_placed, refund_issued, consent_changed, custom …).
    pub kind: Option<String>,
    /// The `next_cursor` of the previous page.
    pub before: Option<String>,
    pub limit: Option<u64>,
}

/// The customer's timeline, newest first.
#[utoipa::path(get, path = "/api/v1/customers/{id}/timeline", tag = "customers",
    params(("id" = String, Path, description = "Customer id"), TimelineParams),
    responses((status = 200, body = Page<EventView>), (status = 404, body = Problem)))]
pub async fn customer_timeline(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    q: Result<Query<TimelineParams>, QueryRejection>,
) -> ApiResult<Json<Page<EventView>>> {
    let q = query(q)?;
    let id = path_id(&id, CustomerId::parse, "customer")?;
    state.db.customer(store.id, id).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let events = state
        .db
        .timeline(
            store.id,
            id,
            &TimelineQuery {
                kind: q.kind,
                before: q.before,
                limit,
            },
        )
        .await?;
    Ok(Json(page(
        events.into_iter().map(EventView::from).collect(),
        limit,
        |e: &EventView| e.id.clone(),
    )))
}

/// Every consent decision the customer made, oldest first (append-only).
#[utoipa::path(get, path = "/api/v1/customers/{id}/consents", tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn customer_consents(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let id = path_id(&id, CustomerId::parse, "customer")?;
    state.db.customer(store.id, id).await?;
    let history = state.db.consent_history(store.id, id).await?;
    Ok(Json(serde_json::json!({ "data": history })))
}

/// Create an order, or update the one with the same external id.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", request_body = OrderBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 201, body = WriteResult), (status = 200, body = WriteResult), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn upsert_order(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let order = match parse_json::<OrderBody>(&body).and_then(|b| Ok(b.into_input(store.currency)?)) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    run_write(
        &state,
        &store,
        &headers,
        "POST /api/v1/orders",
        &body,
        move |tx| {
            Box::pin(async move {
                let mut written = tx
                    .upsert_orders(&record, std::slice::from_ref(&order), ACTOR_API)
                    .await?;
                let w = written.remove(0);
                metrics::counter!("regulars_orders_ingested_total", "source" => "api").increment(1);
                Ok(Reply::new(
                    write_status(w.outcome),
                    WriteResult {
                        id: w.id.to_string(),
                        outcome: w.outcome,
                    },
                ))
            })
        },
    )
    .await
}

/// Create or update many orders at once (a JSON array, or NDJSON with
/// `Content-Type: application/x-ndjson`). All or nothing: one invalid order refuses the batch
/// and names it (`[17].total`).
#[utoipa::path(post, path = "/api/v1/orders/bulk", tag = "orders", request_body = Vec<OrderBody>,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 200, body = BulkResult), (status = 422, body = Problem)))]
pub async fn bulk_orders(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("ndjson") || ct.contains("jsonlines"));
    let bodies: ApiResult<Vec<OrderBody>> = if ndjson {
        parse_ndjson(&body)
    } else {
        parse_json(&body)
    };
    let orders = bodies.and_then(|bodies| {
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                b.into_input(store.currency)
                    .map_err(|e| ApiError::from(e.within(&format!("[{i}]"))))
            })
            .collect::<ApiResult<Vec<_>>>()
    });
    let orders = match orders {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    run_write(
        &state,
        &store,
        &headers,
        "POST /api/v1/orders/bulk",
        &body,
        move |tx| {
            Box::pin(async move {
                let written = tx.upsert_orders(&record, &orders, ACTOR_API).await?;
                metrics::counter!("regulars_orders_ingested_total", "source" => "api_bulk")
                    .increment(written.len() as u64);
                let count = |o: Outcome| written.iter().filter(|w| w.outcome == o).count();
                let result = BulkResult {
                    created: count(Outcome::Created),
                    updated: count(Outcome::Updated),
                    unchanged: count(Outcome::Unchanged),
                    results: written
                        .iter()
                        .map(|w| WriteResult {
                            id: w.id.to_string(),
                            outcome: w.outcome,
                        })
                        .collect(),
                };
                Ok(Reply::new(StatusCode::OK, result))
            })
        },
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(ListQuery),
    responses((status = 200, body = Page<OrderView>)))]
pub async fn list_orders(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Page<OrderView>>> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = OrderFilter {
        external_id: q.external_id.clone(),
        source: q.source()?,
        customer_id: q.customer_id.as_deref().map(CustomerId::parse).transpose()?,
        email: q.email()?,
        after: q.after.as_deref().map(OrderId::parse).transpose()?,
        limit,
    };
    let rows = state.db.list_orders(store.id, &filter).await?;
    Ok(Json(page(
        rows.into_iter().map(OrderView::from).collect(),
        limit,
        |o: &OrderView| o.id.clone(),
    )))
}

#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    responses((status = 200, body = OrderView), (status = 404, body = Problem)))]
pub async fn get_order(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderView>> {
    let id = path_id(&id, OrderId::parse, "order")?;
    Ok(Json(state.db.order(store.id, id).await?.into()))
}

/// Refund part or all of an order already sent. Refunds never add up to more than the total.
#[utoipa::path(post, path = "/api/v1/refunds", tag = "orders", request_body = NewRefundBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 201, body = WriteResult), (status = 200, body = WriteResult), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_refund(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = parse_json::<NewRefundBody>(&body).and_then(|b| {
        let source = b
            .order_source
            .as_deref()
            .map(Source::parse)
            .transpose()?
            .unwrap_or(Source::Api);
        let order_external_id = b.order_external_id.clone();
        Ok((source, order_external_id, b.refund()))
    });
    let (source, order_external_id, refund) = match parsed {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let record = store.clone();
    run_write(
        &state,
        &store,
        &headers,
        "POST /api/v1/refunds",
        &body,
        move |tx| {
            Box::pin(async move {
                let currency = tx.order_currency(record.id, source, &order_external_id).await?;
                let refund = refund.into_input(currency)?;
                let (order_id, outcome) = tx
                    .add_refund(&record, source, &order_external_id, &refund)
                    .await?;
                Ok(Reply::new(
                    write_status(outcome),
                    WriteResult {
                        id: order_id.to_string(),
                        outcome,
                    },
                ))
            })
        },
    )
    .await
}

/// Record a custom event on a customer's timeline (created if new).
#[utoipa::path(post, path = "/api/v1/events", tag = "events", request_body = EventBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays return the first reply")),
    responses((status = 201, body = WriteResult), (status = 200, body = WriteResult), (status = 422, body = Problem)))]
pub async fn create_event(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (customer, event) =
        match parse_json::<EventBody>(&body).and_then(|b| Ok(b.into_input(store.currency)?)) {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
    let store_id = store.id;
    run_write(
        &state,
        &store,
        &headers,
        "POST /api/v1/events",
        &body,
        move |tx| {
            Box::pin(async move {
                let (customer_id, outcome) = tx
                    .record_event(store_id, Source::Api, &customer, &event, ACTOR_API)
                    .await?;
                Ok(Reply::new(
                    write_status(outcome),
                    WriteResult {
                        id: customer_id.to_string(),
                        outcome,
                    },
                ))
            })
        },
    )
    .await
}
