//! The customer directory: search, filters, sorts, CSV export, and the customer's profile.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
