//! The signed-in person's own account: changing their password.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use regulars_i18n::{text, text_with};
use regulars_store::{LoginOutcome, StoreError, MIN_PASSWORD_CHARS};
use serde::Deserialize;

use super::pages::{render, Chrome};
use super::session::{with_session, Staff};
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/account", get(form).post(change_password))
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub chrome: Chrome,
    pub email: String,
    pub csrf: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

#[derive(Deserialize, Default)]
struct Done {
    #[serde(default)]
    changed: bool,
}

fn page(staff: &Staff, error: Option<String>, notice: Option<String>) -> Response {
    render(&AccountPage {
        chrome: Chrome::signed_in(staff.lang, &staff.session, None, "/account"),
        email: staff.session.user.email.to_string(),
        csrf: staff.session.csrf_token.clone(),
        error,
        notice,
    })
}

async fn form(staff: Staff, Query(done): Query<Done>) -> Response {
    let notice = done.changed.then(|| text(staff.lang, "account-changed"));
    page(&staff, None, notice)
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    repeat: String,
}

async fn change_password(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    if !staff.csrf_ok(&headers, &f.csrf) {
        return staff.refuse(StatusCode::FORBIDDEN, "error-csrf");
    }
    let lang = staff.lang;
    let refuse = |id: &str| {
        let message = text_with(lang, id, &[("chars", &MIN_PASSWORD_CHARS.to_string())]);
        let mut response = page(&staff, Some(message), None);
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        response
    };
    if f.new != f.repeat {
        return refuse("account-mismatch");
    }
    match state
        .db
        .change_password(staff.session.user.id, &f.current, &f.new)
        .await
    {
        Ok(Some(LoginOutcome::Ok { token, .. })) => {
            tracing::info!(user = %staff.session.user.id, "changed their password");
            // The old sessions (this one too) have ended; this browser continues in a new one.
            with_session(&state, &token, "/account?changed=true")
        }
        Ok(_) => refuse("account-wrong-current"),
        Err(StoreError::Invalid(_)) => refuse("account-too-short"),
        Err(e) => unavailable(e, "changing a password"),
    }
}
