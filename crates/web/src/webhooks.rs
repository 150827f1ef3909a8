//! Shop webhooks. The signature is checked over the raw body before anything is parsed; each
//! delivery is applied once (its id is recorded in the same transaction that applies it).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use regulars_domain::{CustomerInput, Source, StoreId};
use regulars_ingest::signature::verify_base64_hmac_sha256;
use regulars_ingest::{shopify, woocommerce};
use regulars_store::{StoreRecord, Tx};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The store named in the URL, if its signature header verifies with one of its secrets
/// (several may be active while a secret is rotated).
async fn verified_store(
    state: &AppState,
    store: &str,
    source: Source,
    signature: Option<&str>,
    body: &[u8],
) -> ApiResult<StoreRecord> {
    let unauthorized =
        || ApiError::unauthorized("invalid_signature", "the webhook signature does not verify");
    let store_id = StoreId::parse(store).map_err(|_| ApiError::not_found("store"))?;
    let record = state.db.store(store_id).await?;
    let signature = signature.ok_or_else(unauthorized)?;
    let secrets = state.db.webhook_secrets(store_id, source).await?;
    if secrets
        .iter()
        .any(|s| verify_base64_hmac_sha256(s.as_bytes(), body, signature))
    {
        Ok(record)
    } else {
        metrics::counter!("regulars_webhook_rejected_total", "source" => source.as_str()).increment(1);
        Err(unauthorized())
    }
}

/// The delivery's id, or (for senders without one) a digest of topic and body.
fn delivery_id(explicit: Option<&str>, topic: &str, body: &[u8]) -> String {
    match explicit {
        Some(id) => id.to_string(),
        None => {
            let mut h = Sha256::new();
            h.update(topic.as_bytes());
            h.update(b"\n");
            h.update(body);
            format!("sha256:{}", hex::encode(h.finalize()))
        }
    }
}

/// Applies `apply` once per delivery id. Returns whether this delivery was new.
async fn once<F>(
    state: &AppState,
    store: &StoreRecord,
    source: Source,
    delivery: &str,
    topic: &str,
    apply: F,
) -> ApiResult<Json<serde_json::Value>>
where
    F: for<'a> FnOnce(&'a mut Tx) -> futures::future::BoxFuture<'a, ApiResult<()>>,
{
    let mut tx = state.db.begin().await?;
    if !tx.claim_delivery(store.id, source, delivery, topic).await? {
        tx.rollback().await.ok();
        metrics::counter!("regulars_webhook_duplicates_total", "source" => source.as_str()).increment(1);
        return Ok(Json(
            serde_json::json!({ "status": "duplicate", "delivery": delivery }),
        ));
    }
    match apply(&mut tx).await {
        Ok(()) => {
            tx.commit().await?;
            metrics::counter!("regulars_webhooks_applied_total", "source" => source.as_str()).increment(1);
            Ok(Json(
                serde_json::json!({ "status": "applied", "delivery": delivery }),
            ))
        }
        Err(e) => {
            // Rolled back with the delivery record, so the shop's retry can succeed later.
            tx.rollback().await.ok();
            Err(e)
        }
    }
}

const ACTOR_WEBHOOK: &str = "webhook";

/// `POST /webhooks/shopify/{store_id}`: orders, refunds, customers and consent updates.
pub async fn shopify(
    State(state): State<AppState>,
    Path(store): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let record = verified_store(
        &state,
        &store,
        Source::Shopify,
        header(&headers, "x-shopify-hmac-sha256"),
        &body,
    )
    .await?;
    let topic_name = header(&headers, "x-shopify-topic")
        .unwrap_or_default()
        .to_string();
    let Some(topic) = shopify::Topic::parse(&topic_name) else {
        // Acknowledge what we do not use, or Shopify retries it for two days.
        return Ok(Json(
            serde_json::json!({ "status": "ignored", "topic": topic_name }),
        ));
    };
    let delivery = delivery_id(
        header(&headers, "x-shopify-webhook-id").or(header(&headers, "x-shopify-event-id")),
        &topic_name,
        &body,
    );
    let payload = shopify::parse(topic, &body)?;
    let store_record = record.clone();
    once(
        &state,
        &record,
        Source::Shopify,
        &delivery,
        &topic_name,
        move |tx| {
            Box::pin(async move {
                match payload {
                    shopify::Payload::Order(order) => {
                        order.validate()?;
                        tx.upsert_orders(&store_record, std::slice::from_ref(&*order), ACTOR_WEBHOOK)
                            .await?;
                    }
                    shopify::Payload::Refund {
                        order_external_id,
                        body,
                    } => {
                        let currency = tx
                            .order_currency(store_record.id, Source::Shopify, &order_external_id)
                            .await
                            .map_err(order_not_yet_known)?;
                        let refund = shopify::refund(&body, currency)?;
                        tx.add_refund(&store_record, Source::Shopify, &order_external_id, &refund)
                            .await?;
                    }
                    shopify::Payload::Customer(customer) => {
                        tx.upsert_customer(store_record.id, Source::Shopify, &customer, ACTOR_WEBHOOK)
                            .await?;
                    }
                    shopify::Payload::Consent {
                        customer_external_id,
                        change,
                    } => {
                        let input = CustomerInput {
                            external_id: Some(customer_external_id),
                            consents: vec![change],
                            ..Default::default()
                        };
                        tx.upsert_customer(store_record.id, Source::Shopify, &input, ACTOR_WEBHOOK)
                            .await?;
                    }
                }
                Ok(())
            })
        },
    )
    .await
}

/// A refund for an order we have not received yet: ask the shop to retry later.
fn order_not_yet_known(e: regulars_store::StoreError) -> ApiError {
    match e {
        regulars_store::StoreError::NotFound("order") => ApiError::new(
            StatusCode::CONFLICT,
            "order_not_yet_received",
            "the refunded order has not been received yet; retry later",
        ),
        other => other.into(),
    }
}

/// `POST /webhooks/woocommerce/{store_id}`: orders (refunds arrive as order.updated) and
/// customers. The unsigned ping WooCommerce sends when a webhook is created gets 200.
pub async fn woocommerce(
    State(state): State<AppState>,
    Path(store): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if header(&headers, "x-wc-webhook-signature").is_none() && woocommerce::is_ping(content_type, &body) {
        let store_id = StoreId::parse(&store).map_err(|_| ApiError::not_found("store"))?;
        state.db.store(store_id).await?;
        return Ok(Json(serde_json::json!({ "status": "pong" })));
    }
    let record = verified_store(
        &state,
        &store,
        Source::Woocommerce,
        header(&headers, "x-wc-webhook-signature"),
        &body,
    )
    .await?;
    let topic_name = header(&headers, "x-wc-webhook-topic")
        .unwrap_or_default()
        .to_string();
    let Some(topic) = woocommerce::Topic::parse(&topic_name) else {
        return Ok(Json(
            serde_json::json!({ "status": "ignored", "topic": topic_name }),
        ));
    };
    let delivery = delivery_id(header(&headers, "x-wc-webhook-delivery-id"), &topic_name, &body);
    let payload = woocommerce::parse(topic, &body)?;
    let store_record = record.clone();
    once(
        &state,
        &record,
        Source::Woocommerce,
        &delivery,
        &topic_name,
        move |tx| {
            Box::pin(async move {
                match payload {
                    woocommerce::Payload::Order(order) => {
                        order.validate()?;
                        tx.upsert_orders(&store_record, std::slice::from_ref(&*order), ACTOR_WEBHOOK)
                            .await?;
                    }
                    woocommerce::Payload::Customer(customer) => {
                        tx.upsert_customer(store_record.id, Source::Woocommerce, &customer, ACTOR_WEBHOOK)
                            .await?;
                    }
                }
                Ok(())
            })
        },
    )
    .await
}
