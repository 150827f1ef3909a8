//! Store settings: currency, time zone and default language, API keys, webhook secrets, and
//! the people who work in the store.
//!
//! Every POST checks, in this order: that the person works in the store (else 404), that their
//! role allows it (else 403), and the session's CSRF token (else 403). Successful changes
//! redirect back to the page (post/redirect/get); refused input re-renders the form with a
//! message naming the field. A new API key and a generated password are shown once, on the
//! response to the POST that made them, and never again.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use regulars_domain::{Currency, Email, FieldError, Locale, Permission, Role, Source, TimeZone, UserId};
use regulars_i18n::{format_date, text, text_with, Lang};
use regulars_store::{StoreError, StoreRecord};
use serde::Deserialize;

use super::pages::{render, Chrome};
use super::session::Staff;
use super::unavailable;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/app/{store}/settings", get(settings))
        .route("/app/{store}/settings/store", post(save_store))
        .route("/app/{store}/settings/api-keys", post(create_key))
        .route("/app/{store}/settings/api-keys/{key}/revoke", post(revoke_key))
        .route(
            "/app/{store}/settings/webhooks/{source}/secrets",
            post(add_secret),
        )
        .route(
            "/app/{store}/settings/webhooks/secrets/{secret}/remove",
            post(remove_secret),
        )
        .route("/app/{store}/settings/people", get(people).post(add_person))
        .route("/app/{store}/settings/people/{user}/role", post(change_role))
        .route("/app/{store}/settings/people/{user}/remove", post(remove_person))
}

/// The longest name an API key may have.
const MAX_KEY_NAME_CHARS: usize = 100;

/// The shops that sign their webhooks, with the path segment naming them.
const SHOPS: [(Source, &str, &str); 2] = [
    (Source::Shopify, "shopify", "Shopify"),
    (Source::Woocommerce, "woocommerce", "WooCommerce"),
];

/// What a redirect after a change may announce (`?done=…`), and the message that says it.
const DONE: [(&str, &str); 8] = [
    ("store", "settings-saved"),
    ("key-revoked", "settings-key-revoked-notice"),
    ("secret-added", "settings-secret-added"),
    ("secret-removed", "settings-secret-removed"),
    ("person-added", "settings-person-added"),
    ("role-changed", "settings-role-changed"),
    ("person-removed", "settings-person-removed"),
    ("nothing", "settings-nothing-changed"),
];

fn done_notice(lang: Lang, done: Option<&str>) -> Option<String> {
    let done = done?;
    DONE.iter()
        .find(|(key, _)| *key == done)
        .map(|(_, id)| text(lang, id))
}

// ---------------------------------------------------------------------------------------------
// Pages

/// A link between the settings pages.
pub struct Tab {
    pub href: String,
    pub label: String,
    pub current: bool,
}

fn tabs(lang: Lang, store: &StoreRecord, role: Role, current: &str) -> Vec<Tab> {
    [
        ("", "settings-tab-store", Permission::ManageSettings),
        ("/people", "settings-tab-people", Permission::ManagePeople),
        ("/webhooks", "webhooks-tab", Permission::ManageSettings),
    ]
    .into_iter()
    .filter(|(_, _, needs)| role.can(*needs))
    .map(|(path, label, _)| Tab {
        href: format!("/app/{}/settings{path}", store.id),
        label: text(lang, label),
        current: path == current,
    })
    .collect()
}

pub struct LocaleChoice {
    pub code: &'static str,
    pub name: &'static str,
}

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created: String,
    /// "Revoked on …" for a revoked key; `None` while it works.
    pub revoked: Option<String>,
}

/// A key made by the request being answered: the only time it is ever shown.
pub struct NewKey {
    pub heading: String,
    pub key: String,
}

pub struct SecretRow {
    pub id: String,
    pub label: String,
    pub added: String,
}

pub struct ShopHooks {
    pub slug: &'static str,
    pub name: &'static str,
    pub url: String,
    pub help: String,
    pub secrets: Vec<SecretRow>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub store_id: String,
    pub store_name: String,
    pub tabs: Vec<Tab>,
    pub notice: Option<String>,
    pub currency: String,
    pub currency_locked: bool,
    pub currency_error: Option<String>,
    pub timezone: String,
    pub timezone_error: Option<String>,
    pub locale: String,
    pub locale_error: Option<String>,
    pub locales: Vec<LocaleChoice>,
    pub new_key: Option<NewKey>,
    pub keys: Vec<KeyRow>,
    pub key_name: String,
    pub key_name_error: Option<String>,
    pub hooks: Vec<ShopHooks>,
    /// Who works here, by email, with their role; managed on the people page.
    pub people: Vec<PersonSummary>,
    pub people_href: Option<String>,
}

pub struct PersonSummary {
    pub email: String,
    pub role: String,
}

pub struct RoleChoice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

pub struct PersonRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role_label: String,
    pub is_self: bool,
    /// Whether the reader may change this person's role or remove them.
    pub manageable: bool,
    pub roles: Vec<RoleChoice>,
}

/// A login made by the request being answered, with its password: shown this once.
pub struct NewLogin {
    pub heading: String,
    pub password: String,
}

#[derive(Template)]
#[template(path = "people.html")]
pub struct PeoplePage {
    pub chrome: Chrome,
    pub csrf: String,
    pub store_id: String,
    pub store_name: String,
    pub tabs: Vec<Tab>,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub people: Vec<PersonRow>,
    pub invite_email: String,
    pub invite_roles: Vec<RoleChoice>,
    pub email_error: Option<String>,
    pub role_error: Option<String>,
    pub new_login: Option<NewLogin>,
}

/// Pages that may carry a secret are never stored by the browser or a proxy.
fn respond(status: StatusCode, page: &impl Template) -> Response {
    let mut response = render(page);
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn see(store: &StoreRecord, page: &str, done: &str) -> Response {
    Redirect::to(&format!("/app/{}/settings{page}?done={done}", store.id)).into_response()
}

/// The address a shop posts to: this server as the browser reached it.
fn webhook_url(state: &AppState, headers: &HeaderMap, slug: &str, store: &StoreRecord) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("regulars.example");
    let scheme = if state.dashboard.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}/webhooks/{slug}/{}", store.id)
}

/// The settings page as stored, before any feedback on a form.
async fn settings_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
    headers: &HeaderMap,
) -> Result<SettingsPage, Response> {
    let lang = staff.lang;
    let zone = store.timezone.0;
    let currency_locked = state
        .db
        .has_orders(store.id)
        .await
        .map_err(|e| unavailable(e, "looking for orders"))?;
    let keys = state
        .db
        .api_keys(store.id)
        .await
        .map_err(|e| unavailable(e, "listing API keys"))?;
    let mut hooks = Vec::new();
    for (source, slug, name) in SHOPS {
        let secrets = state
            .db
            .webhook_secret_hints(store.id, source)
            .await
            .map_err(|e| unavailable(e, "listing webhook secrets"))?;
        hooks.push(ShopHooks {
            slug,
            name,
            url: webhook_url(state, headers, slug, store),
            help: text(lang, &format!("settings-secret-help-{slug}")),
            secrets: secrets
                .into_iter()
                .map(|s| SecretRow {
                    id: s.id,
                    label: text_with(lang, "settings-secret-ends-with", &[("hint", &s.hint)]),
                    added: text_with(
                        lang,
                        "settings-secret-added-on",
                        &[("date", &format_date(lang, s.created_at, zone))],
                    ),
                })
                .collect(),
            error: None,
        });
    }
    let people = state
        .db
        .store_people(store.id)
        .await
        .map_err(|e| unavailable(e, "listing people"))?;
    Ok(SettingsPage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/settings"),
        csrf: staff.session.csrf_token.clone(),
        store_id: store.id.to_string(),
        store_name: store.name.clone(),
        tabs: tabs(lang, store, role, ""),
        notice: None,
        currency: store.currency.to_string(),
        currency_locked,
        currency_error: None,
        timezone: store.timezone.to_string(),
        timezone_error: None,
        locale: store.locale.to_string(),
        locale_error: None,
        locales: Lang::ALL
            .into_iter()
            .map(|l| LocaleChoice {
                code: l.code(),
                name: l.native_name(),
            })
            .collect(),
        new_key: None,
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                name: k.name,
                prefix: format!("{}…", k.prefix),
                created: format_date(lang, k.created_at, zone),
                revoked: k.revoked_at.map(|at| {
                    text_with(
                        lang,
                        "settings-key-revoked-on",
                        &[("date", &format_date(lang, at, zone))],
                    )
                }),
            })
            .collect(),
        key_name: String::new(),
        key_name_error: None,
        hooks,
        people: people
            .into_iter()
            .map(|(user, their_role)| PersonSummary {
                email: user.email.to_string(),
                role: role_label(lang, their_role),
            })
            .collect(),
        people_href: role
            .can(Permission::ManagePeople)
            .then(|| format!("/app/{}/settings/people", store.id)),
    })
}

async fn people_page(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    role: Role,
) -> Result<PeoplePage, Response> {
    let lang = staff.lang;
    let people = state
        .db
        .store_people(store.id)
        .await
        .map_err(|e| unavailable(e, "listing people"))?;
    let me = staff.session.user.id;
    Ok(PeoplePage {
        chrome: Chrome::signed_in(lang, &staff.session, Some(store.id), "/settings/people"),
        csrf: staff.session.csrf_token.clone(),
        store_id: store.id.to_string(),
        store_name: store.name.clone(),
        tabs: tabs(lang, store, role, "/people"),
        notice: None,
        error: None,
        people: people
            .into_iter()
            .map(|(user, their_role)| {
                let is_self = user.id == me;
                PersonRow {
                    id: user.id.to_string(),
                    email: user.email.to_string(),
                    name: user.display_name.clone().unwrap_or_default(),
                    role_label: role_label(lang, their_role),
                    is_self,
                    manageable: !is_self && role.may_grant(their_role),
                    roles: role_choices(lang, role, their_role),
                }
            })
            .collect(),
        invite_email: String::new(),
        invite_roles: role_choices(lang, role, Role::Viewer),
        email_error: None,
        role_error: None,
        new_login: None,
    })
}

fn role_label(lang: Lang, role: Role) -> String {
    text(lang, &format!("role-{}", role.as_str()))
}

/// The roles `by` may give, with `selected` chosen.
fn role_choices(lang: Lang, by: Role, selected: Role) -> Vec<RoleChoice> {
    Role::ALL
        .into_iter()
        .filter(|r| by.may_grant(*r))
        .map(|r| RoleChoice {
            value: r.as_str(),
            label: role_label(lang, r),
            selected: r == selected,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Refusals

/// A refused value as the reader reads it: the field's name in their language, then why.
fn field_message(lang: Lang, error: &FieldError, value: &str) -> String {
    let id = match error.code {
        "invalid_timezone" => "settings-error-timezone",
        "invalid_locale" => "settings-error-locale",
        "invalid_currency" => "settings-error-currency",
        "currency_locked" => "settings-error-currency-locked",
        "secret_too_short" => "settings-error-secret",
        "invalid_email" => "settings-error-email",
        "invalid_role" => "settings-error-role",
        "role_not_grantable" => "settings-error-role-not-grantable",
        "last_owner" => "settings-error-last-owner",
        "already_member" => "settings-error-already-member",
        "key_name_too_long" => "settings-error-key-name",
        _ => {
            let label = match error.field.as_str() {
                "currency" => "settings-currency",
                "timezone" => "settings-timezone",
                "locale" => "settings-locale",
                "name" => "settings-key-name",
                "secret" => "settings-secret",
                "email" => "settings-email",
                _ => "settings-role",
            };
            return text_with(lang, "settings-error-invalid", &[("field", &text(lang, label))]);
        }
    };
    text_with(lang, id, &[("value", value)])
}

/// The status a refused value is answered with.
fn refusal_status(error: &FieldError) -> StatusCode {
    match error.code {
        "role_not_grantable" => StatusCode::FORBIDDEN,
        "currency_locked" | "last_owner" | "already_member" => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// A write's refusal: a value to show beside its field, or a page to answer with.
enum Refusal {
    Field(FieldError),
    Answer(Response),
}

fn refusal(staff: &Staff, error: StoreError, doing: &str) -> Refusal {
    match error {
        StoreError::Invalid(e) => Refusal::Field(e),
        StoreError::NotFound(_) => Refusal::Answer(staff.refuse(StatusCode::NOT_FOUND, "error-not-found")),
        other => Refusal::Answer(unavailable(other, doing)),
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

async fn settings(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<DoneQuery>,
    headers: HeaderMap,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::ManageSettings).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match settings_page(&state, &staff, &store, role, &headers).await {
        Ok(mut page) => {
            page.notice = done_notice(staff.lang, q.done.as_deref());
            respond(StatusCode::OK, &page)
        }
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct StoreForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    timezone: String,
    #[serde(default)]
    locale: String,
}

async fn save_store(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(form): Form<StoreForm>,
) -> Response {
    let (store, role) = match staff
        .store_form(&state, &store, Permission::ManageSettings, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let currency = Currency::parse(&form.currency);
    let timezone = TimeZone::parse(&form.timezone);
    let locale = Locale::parse(&form.locale);
    let refused: Vec<FieldError> = match (currency, timezone, locale) {
        (Ok(currency), Ok(timezone), Ok(locale)) => {
            if currency == store.currency && timezone == store.timezone && locale == store.locale {
                return see(&store, "", "nothing");
            }
            match state
                .db
                .update_store_settings(store.id, currency, timezone, locale)
                .await
            {
                Ok(_) => {
                    tracing::info!(store = %store.id, user = %staff.session.user.id, "store settings saved");
                    return see(&store, "", "store");
                }
                Err(e) => match refusal(&staff, e, "saving store settings") {
                    Refusal::Field(e) => vec![e],
                    Refusal::Answer(response) => return response,
                },
            }
        }
        (currency, timezone, locale) => [currency.err(), timezone.err(), locale.err()]
            .into_iter()
            .flatten()
            .collect(),
    };
    let mut page = match settings_page(&state, &staff, &store, role, &headers).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    let status = refused
        .first()
        .map(refusal_status)
        .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    for e in &refused {
        match e.field.as_str() {
            "currency" => page.currency_error = Some(field_message(lang, e, form.currency.trim())),
            "timezone" => page.timezone_error = Some(field_message(lang, e, form.timezone.trim())),
            _ => page.locale_error = Some(field_message(lang, e, form.locale.trim())),
        }
    }
    // A fixed currency is shown as stored unless the refusal is about it.
    if !page.currency_locked || page.currency_error.is_some() {
        page.currency = form.currency;
    }
    page.timezone = form.timezone;
    page.locale = form.locale;
    respond(status, &page)
}

#[derive(Deserialize)]
struct KeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn create_key(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(form): Form<KeyForm>,
) -> Response {
    let (store, role) = match staff
        .store_form(&state, &store, Permission::ManageSettings, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let name = form.name.trim();
    if name.chars().count() > MAX_KEY_NAME_CHARS {
        let mut page = match settings_page(&state, &staff, &store, role, &headers).await {
            Ok(page) => page,
            Err(response) => return response,
        };
        let error = FieldError::new("name", "key_name_too_long", "too long");
        page.key_name_error = Some(field_message(lang, &error, name));
        page.key_name = form.name;
        return respond(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let created = match state.db.create_api_key(store.id, name).await {
        Ok(created) => created,
        Err(e) => return unavailable(e, "creating an API key"),
    };
    tracing::info!(store = %store.id, key = %created.id, user = %staff.session.user.id, "API key created");
    // Shown on this answer only: it is not kept anywhere it could be shown from again.
    let mut page = match settings_page(&state, &staff, &store, role, &headers).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    page.new_key = Some(NewKey {
        heading: text_with(lang, "settings-key-new", &[("name", &created.name)]),
        key: created.key,
    });
    respond(StatusCode::OK, &page)
}

async fn revoke_key(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, key)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (store, _) = match staff
        .store_form(&state, &store, Permission::ManageSettings, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match state.db.revoke_api_key(store.id, &key).await {
        Ok(true) => {
            tracing::info!(store = %store.id, key = %key, user = %staff.session.user.id, "API key revoked");
            see(&store, "", "key-revoked")
        }
        // Unknown here, or revoked already: nothing of another store is touched or told.
        Ok(false) => see(&store, "", "nothing"),
        Err(e) => unavailable(e, "revoking an API key"),
    }
}

#[derive(Deserialize)]
struct SecretForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    secret: String,
}

async fn add_secret(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, source)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<SecretForm>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::ManageSettings).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let Some((source, slug, _)) = SHOPS.into_iter().find(|(_, slug, _)| *slug == source) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    if !staff.csrf_ok(&headers, &form.csrf) {
        return staff.refuse(StatusCode::FORBIDDEN, "error-csrf");
    }
    let error = match state.db.add_webhook_secret(store.id, source, &form.secret).await {
        Ok(()) => {
            tracing::info!(store = %store.id, source = %source, user = %staff.session.user.id, "webhook secret added");
            return see(&store, "", "secret-added");
        }
        Err(e) => match refusal(&staff, e, "adding a webhook secret") {
            Refusal::Field(error) => error,
            Refusal::Answer(response) => return response,
        },
    };
    let mut page = match settings_page(&state, &staff, &store, role, &headers).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    // The refused value is not echoed: it may be most of a real secret.
    let message = field_message(staff.lang, &error, "");
    if let Some(hooks) = page.hooks.iter_mut().find(|h| h.slug == slug) {
        hooks.error = Some(message);
    }
    respond(refusal_status(&error), &page)
}

async fn remove_secret(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, secret)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (store, _) = match staff
        .store_form(&state, &store, Permission::ManageSettings, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match state.db.remove_webhook_secret_by_id(store.id, &secret).await {
        Ok(true) => {
            tracing::info!(store = %store.id, user = %staff.session.user.id, "webhook secret removed");
            see(&store, "", "secret-removed")
        }
        Ok(false) => see(&store, "", "nothing"),
        Err(e) => unavailable(e, "removing a webhook secret"),
    }
}

async fn people(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let (store, role) = match staff.store(&state, &store, Permission::ManagePeople).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    match people_page(&state, &staff, &store, role).await {
        Ok(mut page) => {
            page.notice = done_notice(staff.lang, q.done.as_deref());
            respond(StatusCode::OK, &page)
        }
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn add_person(
    State(state): State<AppState>,
    staff: Staff,
    Path(store): Path<String>,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    let (store, by) = match staff
        .store_form(&state, &store, Permission::ManagePeople, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let email = Email::parse(&form.email);
    let role = Role::parse(&form.role);
    let error = match (&email, &role) {
        (Ok(email), Ok(role)) => match state.db.add_person(store.id, by, email, *role).await {
            Ok(added) => {
                tracing::info!(store = %store.id, person = %added.user.id, role = role.as_str(), user = %staff.session.user.id, "person added");
                let Some(password) = added.password else {
                    return see(&store, "/people", "person-added");
                };
                let mut page = match people_page(&state, &staff, &store, by).await {
                    Ok(page) => page,
                    Err(response) => return response,
                };
                page.new_login = Some(NewLogin {
                    heading: text_with(
                        lang,
                        "settings-password-title",
                        &[("email", added.user.email.as_str())],
                    ),
                    password,
                });
                return respond(StatusCode::OK, &page);
            }
            Err(e) => match refusal(&staff, e, "adding a person") {
                Refusal::Field(error) => error,
                Refusal::Answer(response) => return response,
            },
        },
        (Err(e), _) | (_, Err(e)) => e.clone(),
    };
    let mut page = match people_page(&state, &staff, &store, by).await {
        Ok(page) => page,
        Err(response) => return response,
    };
    if let Err(e) = &email {
        page.email_error = Some(field_message(lang, e, form.email.trim()));
    }
    if let Err(e) = &role {
        page.role_error = Some(field_message(lang, e, form.role.trim()));
    }
    if email.is_ok() && role.is_ok() {
        let value = email.as_ref().map(|e| e.to_string()).unwrap_or_default();
        let message = field_message(lang, &error, &value);
        match error.field.as_str() {
            "email" => page.email_error = Some(message),
            _ => page.role_error = Some(message),
        }
    }
    page.invite_email = form.email;
    if let Ok(role) = role {
        page.invite_roles = role_choices(lang, by, role);
    }
    respond(refusal_status(&error), &page)
}

async fn people_refusal(
    state: &AppState,
    staff: &Staff,
    store: &StoreRecord,
    by: Role,
    status: StatusCode,
    message: String,
) -> Response {
    match people_page(state, staff, store, by).await {
        Ok(mut page) => {
            page.error = Some(message);
            respond(status, &page)
        }
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, user)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<RoleForm>,
) -> Response {
    let (store, by) = match staff
        .store_form(&state, &store, Permission::ManagePeople, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let Ok(user) = UserId::parse(&user) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    // Nobody changes their own role or removes themselves: a store is never left by accident.
    if user == staff.session.user.id {
        let message = text(lang, "settings-error-self");
        return people_refusal(&state, &staff, &store, by, StatusCode::CONFLICT, message).await;
    }
    let error = match Role::parse(&form.role) {
        Ok(role) => match state.db.change_role(store.id, by, user, role).await {
            Ok(()) => {
                tracing::info!(store = %store.id, person = %user, role = role.as_str(), user = %staff.session.user.id, "role changed");
                return see(&store, "/people", "role-changed");
            }
            Err(e) => match refusal(&staff, e, "changing a role") {
                Refusal::Field(error) => error,
                Refusal::Answer(response) => return response,
            },
        },
        Err(error) => error,
    };
    let message = field_message(lang, &error, form.role.trim());
    people_refusal(&state, &staff, &store, by, refusal_status(&error), message).await
}

async fn remove_person(
    State(state): State<AppState>,
    staff: Staff,
    Path((store, user)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let (store, by) = match staff
        .store_form(&state, &store, Permission::ManagePeople, &headers, &form.csrf)
        .await
    {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let lang = staff.lang;
    let Ok(user) = UserId::parse(&user) else {
        return staff.refuse(StatusCode::NOT_FOUND, "error-not-found");
    };
    // Nobody changes their own role or removes themselves: a store is never left by accident.
    if user == staff.session.user.id {
        let message = text(lang, "settings-error-self");
        return people_refusal(&state, &staff, &store, by, StatusCode::CONFLICT, message).await;
    }
    match state.db.remove_person(store.id, by, user).await {
        Ok(()) => {
            tracing::info!(store = %store.id, person = %user, user = %staff.session.user.id, "person removed");
            see(&store, "/people", "person-removed")
        }
        Err(e) => match refusal(&staff, e, "removing a person") {
            Refusal::Field(error) => {
                let message = field_message(lang, &error, "");
                people_refusal(&state, &staff, &store, by, refusal_status(&error), message).await
            }
            Refusal::Answer(response) => response,
        },
    }
}
