//! Running a write: in one transaction, and once per `Idempotency-Key` (RELIABILITY L2/L4).
//! The reply is stored in the same transaction as the effects, so a crash can never leave
//! effects without their reply (a retry would apply them twice) or a reply without effects.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use regulars_store::{Claim, StoreRecord, StoredReply, Tx};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// A successful answer: status and JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl Reply {
    pub fn new(status: StatusCode, body: impl serde::Serialize) -> Self {
        Reply {
            status,
            body: serde_json::to_value(body).expect("views serialise"),
        }
    }
}

fn respond(status: StatusCode, body: String, replayed: bool) -> Response {
    let content_type = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut response = (status, [(axum::http::header::CONTENT_TYPE, content_type)], body).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// Runs `effect` in a transaction. With an `Idempotency-Key` header the first request runs and
/// every retry gets its reply (a retry racing the first waits for it); a different request
/// under the same key is refused (422).
pub async fn run_write<F>(
    state: &AppState,
    store: &StoreRecord,
    headers: &HeaderMap,
    request_line: &str,
    body: &[u8],
    effect: F,
) -> Response
where
    F: for<'a> FnOnce(&'a mut Tx) -> BoxFuture<'a, ApiResult<Reply>>,
{
    let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) if !k.trim().is_empty() && k.len() <= 255 => Some(k.trim().to_string()),
        Some(_) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_idempotency_key",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            .field("Idempotency-Key")
            .into_response()
        }
    };
    let Some(key) = key else {
        return match in_transaction(state, effect).await {
            Ok(reply) => respond(reply.status, reply.body.to_string(), false),
            Err(e) => e.into_response(),
        };
    };

    let mut hasher = Sha256::new();
    hasher.update(request_line.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    let request_hash = hex::encode(hasher.finalize());
    run_owned(state, store, &key, &request_hash, effect).await
}

async fn in_transaction<F>(state: &AppState, effect: F) -> ApiResult<Reply>
where
    F: for<'a> FnOnce(&'a mut Tx) -> BoxFuture<'a, ApiResult<Reply>>,
{
    let mut tx = state.db.begin().await?;
    match effect(&mut tx).await {
        Ok(reply) => {
            tx.commit().await?;
            Ok(reply)
        }
        Err(e) => {
            tx.rollback().await.ok();
            Err(e)
        }
    }
}

/// Claims the key, runs the effect and stores its reply in one transaction: one commit.
async fn run_owned<F>(
    state: &AppState,
    store: &StoreRecord,
    key: &str,
    request_hash: &str,
    effect: F,
) -> Response
where
    F: for<'a> FnOnce(&'a mut Tx) -> BoxFuture<'a, ApiResult<Reply>>,
{
    let outcome: ApiResult<Result<Reply, Response>> = async {
        let mut tx = state.db.begin().await?;
        match tx.claim_idempotency_key(store.id, key, request_hash).await? {
            Claim::Owned => {}
            other => {
                tx.rollback().await.ok();
                return Ok(Err(answer_claim(other)));
            }
        }
        match effect(&mut tx).await {
            Ok(reply) => {
                let stored = StoredReply {
                    status: reply.status.as_u16(),
                    body: reply.body.to_string(),
                };
                tx.complete_idempotency_key(store.id, key, &stored).await?;
                tx.commit().await?;
                Ok(Ok(reply))
            }
            Err(e) => {
                tx.rollback().await.ok();
                Err(e)
            }
        }
    }
    .await;
    match outcome {
        Ok(Ok(reply)) => respond(reply.status, reply.body.to_string(), false),
        Ok(Err(answer)) => answer,
        // A refusal is an answer too: the same request must get it again (L4).
        Err(e) if e.status.is_client_error() => {
            let stored = StoredReply {
                status: e.status.as_u16(),
                body: e.body(),
            };
            if let Err(err) = state
                .db
                .store_idempotent_refusal(store.id, key, request_hash, &stored)
                .await
            {
                tracing::error!(error = %err, "could not store an idempotent refusal");
            }
            e.into_response()
        }
        // A server error leaves nothing behind (the claim rolled back with it): a retry runs afresh.
        Err(e) => e.into_response(),
    }
}

/// The answer to a request whose key was claimed before.
fn answer_claim(claim: Claim) -> Response {
    match claim {
        Claim::Replay(stored) => {
            metrics::counter!("regulars_idempotent_replays_total").increment(1);
            let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
            respond(status, stored.body, true)
        }
        Claim::InFlight => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_in_flight",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        )
        .into_response(),
        Claim::Mismatch => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request",
        )
        .field("Idempotency-Key")
        .into_response(),
        Claim::Owned => unreachable!("an owned claim runs the request"),
    }
}
