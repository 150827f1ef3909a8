//! Every error leaves as `application/problem+json` (RFC 9457) with a stable `code` that
//! clients and the dashboard can map to a message, and the offending `field` when there is one.
//! Bad input is never a 500; a 500 says nothing about its cause to the caller (it is logged).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use regulars_domain::FieldError;
use regulars_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Stable machine-readable code, e.g. `invalid_money`.
    pub code: String,
    pub detail: String,
    /// The offending field, e.g. `line_items[0].price`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub detail: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.into(),
            detail: detail.into(),
            field: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what} in this store"),
        )
    }

    pub fn unauthorized(code: &str, detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side; it has been logged",
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("https://regulars.dev/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            code: self.code.clone(),
            detail: self.detail.clone(),
            field: self.field.clone(),
        }
    }

    pub fn body(&self) -> String {
        serde_json::to_string(&self.problem()).expect("problem serialises")
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        let field = (!e.field.is_empty()).then(|| e.field.clone());
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: e.code.to_string(),
            detail: e.to_string(),
            field,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(f) => f.into(),
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Refused { code, message } => ApiError::new(StatusCode::CONFLICT, code, message),
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            self.body(),
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
