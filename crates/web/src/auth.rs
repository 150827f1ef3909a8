//! Bearer API keys. A key belongs to exactly one store; every handler gets that store and
//! nothing else, so no request can name another tenant's data (RELIABILITY S1).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use regulars_store::StoreRecord;

use crate::error::ApiError;
use crate::AppState;

/// The store the request's API key belongs to.
pub struct ApiStore(pub StoreRecord);

impl FromRequestParts<AppState> for ApiStore {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized("missing_api_key", "send Authorization: Bearer <api key>")
            })?;
        let key = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized("missing_api_key", "send Authorization: Bearer <api key>")
            })?;
        let store_id =
            state.db.store_for_api_key(key).await?.ok_or_else(|| {
                ApiError::unauthorized("invalid_api_key", "this API key is unknown or revoked")
            })?;
        Ok(ApiStore(state.db.store(store_id).await?))
    }
}
