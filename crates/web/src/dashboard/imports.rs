//! Imports from the dashboard: upload a shop export or a transaction log, follow its progress,
//! read the rejected rows.

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
