//! Store settings: currency, time zone and locale, API keys, webhook secrets, and the people
//! who work in the store.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use regulars_domain::Permission;
use regulars_i18n::text;

use super::pages::{render, Chrome, SettingsPage};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/app/{store}/settings", get(settings))
}

async fn settings(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (store, _) = match staff.store(&state, &store, Permission::ManageSettings).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let people = match state.db.store_people(store.id).await {
        Ok(p) => p,
        Err(e) => return unavailable(e, "listing people"),
    };
    let lang = staff.lang;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("regulars.example");
    let scheme = if state.dashboard.secure_cookies {
        "https"
    } else {
        "http"
    };
    render(&SettingsPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/settings"),
        store_name: store.name.clone(),
        currency: store.currency.to_string(),
        timezone: store.timezone.to_string(),
        locale: store.locale.to_string(),
        shopify_url: format!("{scheme}://{host}/webhooks/shopify/{}", store.id),
        woocommerce_url: format!("{scheme}://{host}/webhooks/woocommerce/{}", store.id),
        people: people
            .into_iter()
            .map(|(user, role)| {
                (
                    user.email.to_string(),
                    text(lang, &format!("role-{}", role.as_str())),
                )
            })
            .collect(),
    })
}
