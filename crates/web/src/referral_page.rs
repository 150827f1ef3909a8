//! Referrals on the customer's side: the "Refer a friend" section of the customer's loyalty
//! page (code, share link, share targets, counts), the friend's landing page at
//! `/r/{store}/{code}` with its "Send me my discount" form, and the partner page at
//! `/partner/{store}/{token}`, opened by a link from `POST /api/v1/partners/{customer_id}/link`.
//!
//! No cookie anywhere. The landing form carries a short-lived token signed with the store's
//! link key; the partner link is signed like the loyalty link. Each signs under a purpose of its
//! own (a key derived from the store's key and a label), so a loyalty link does not open the
//! partner page, a partner link does not open the loyalty page, and neither is a form token.

mod share;
mod view;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use hmac::{Hmac, Mac};
use regulars_domain::referral::ReferralProgram;
use regulars_domain::{CustomerId, Email, OrderId, StoreId, Timestamp};
use regulars_i18n::{text, text_with, Lang};
use regulars_store::{ReferralCode, ReferralStatus, RewardRecord, StoreError, StoreRecord};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::auth::ApiStore;
use crate::dashboard::session::ClientAddr;
use crate::error::{ApiError, ApiResult, Problem};
use crate::loyalty_page::base_url;
use crate::loyalty_page::link::{self, Claims, Verdict};
use crate::AppState;
use view::{Invitation, SendForm};
pub use view::{Referrer, ShareSection};

const DAY_SECS: i64 = 86_400;
/// How long a landing page's form may wait before it is sent.
const FORM_TTL_SECS: i64 = 2 * 3_600;
/// The purposes the store's link key signs for here (the loyalty link has its own).
const PARTNER_PURPOSE: &[u8] = b"regulars/partner-link/v1\0";
const FORM_PURPOSE: &[u8] = b"regulars/referral-form/v1\0";
/// Per client address and store, in a window of ten minutes: forms sent, and landing visits
/// recorded (the page is shown past the limit, the visit just not written).
const LIMIT_WINDOW_MS: i64 = 10 * 60 * 1_000;
const SENDS_PER_WINDOW: u32 = 10;
const VISITS_PER_WINDOW: u32 = 30;
/// Commission rows the partner page lists.
const HISTORY_ROWS: usize = 100;
/// The longest code looked up; real ones are a dozen characters.
const MAX_CODE_CHARS: usize = 64;
/// The most of a User-Agent kept (hashed) for a visit.
const MAX_DEVICE_CHARS: usize = 512;

const SCRIPT: &[u8] = include_bytes!("../static/referral.js");
const STYLE: &[u8] = include_bytes!("../static/referral.css");

/// The partner link route, nested under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    Router::new().route("/partners/{customer_id}/link", post(create_partner_link))
}

/// The friend's landing page and its form, the partner page, and their script and styles.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/r/referral.js", get(script))
        .route("/r/referral.css", get(style))
        .route("/r/{store}/{code}", get(landing).post(send))
        .route("/partner/{store}/{token}", get(partner_page))
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

/// The store's link key turned into a key for one purpose only.
fn purpose_key(key: &str, purpose: &[u8]) -> String {
    let bytes = hex::decode(key).unwrap_or_else(|_| key.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&bytes).expect("HMAC takes keys of any length");
    mac.update(purpose);
    hex::encode(mac.finalize().into_bytes())
}

fn now_secs(now: Timestamp) -> i64 {
    now.0 / 1_000
}

/// The share link of a code: absolute, on the address the page was asked for.
fn share_link(origin: &str, store: StoreId, code: &str) -> String {
    format!("{origin}/r/{store}/{}", share::encode(code))
}

// ---------------------------------------------------------------------------------------------
// The loyalty page's "Refer a friend" section

/// What the loyalty page's "Refer a friend" section needs, read with the page: nothing when
/// the program is off or the customer may not refer (yet); their code is made on the first
/// view. A failure to read hides the section, not the customer's whole page.
pub(crate) async fn referrer(
    state: &AppState,
    store: &StoreRecord,
    customer: CustomerId,
    origin: &str,
) -> Option<Referrer> {
    match read_referrer(state, store, customer, origin).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, store = %store.id, "reading the referral section");
            None
        }
    }
}

async fn read_referrer(
    state: &AppState,
    store: &StoreRecord,
    customer: CustomerId,
    origin: &str,
) -> Result<Option<Referrer>, StoreError> {
    let program = state.db.referral_program(store.id).await?.program;
    if !program.enabled {
        return Ok(None);
    }
    let code = match state.db.referral_code(store, customer).await {
        Ok(c) => c,
        Err(StoreError::Refused { .. } | StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let theirs = state.db.customer_referrals(store.id, customer).await?;
    let count =
        |keep: &dyn Fn(ReferralStatus) -> bool| theirs.referred.iter().filter(|r| keep(r.status)).count();
    Ok(Some(Referrer {
        link: share_link(origin, store.id, &code.code),
        referred: count(&|s| s != ReferralStatus::Rejected),
        rewarded: count(&|s| s == ReferralStatus::Rewarded),
        code: code.code,
        program,
    }))
}

/// The section's words and links in the customer's language.
pub(crate) fn share_section(
    lang: Lang,
    r: &Referrer,
    store: &StoreRecord,
    rewards: &[RewardRecord],
) -> ShareSection {
    view::share_section(lang, r, store, rewards)
}

// ---------------------------------------------------------------------------------------------
// Answers common to the pages

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn asked_lang(q: Result<Query<LangQuery>, QueryRejection>) -> Option<Lang> {
    q.ok()
        .and_then(|Query(q)| q.lang.as_deref().and_then(Lang::from_tag))
}

/// A friend's language: asked for in the address, else their browser's, else the store's.
fn friend_lang(asked: Option<Lang>, headers: &HeaderMap, store: Option<&StoreRecord>) -> Lang {
    asked
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .or_else(|| store.and_then(|s| Lang::from_tag(s.locale.as_str())))
        .unwrap_or(Lang::En)
}

/// Never cached (the form's token is short-lived, the partner page personal), never indexed,
/// never framed, never telling another site its address.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn render(page: &impl Template, status: StatusCode) -> Response {
    let response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a referral page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    secure(response)
}

/// A heading and a sentence, and nothing of anyone's data.
fn message(lang: Lang, status: StatusCode, heading: &str, body: String) -> Response {
    let page = view::MessagePage {
        lang_code: lang.code(),
        heading: text(lang, heading),
        body,
    };
    render(&page, status)
}

/// The same answer for a store, code or link nobody has and for a program that is off.
fn not_found(lang: Lang) -> Response {
    message(
        lang,
        StatusCode::NOT_FOUND,
        "referral-page-not-found-title",
        text(lang, "referral-page-not-found"),
    )
}

fn forbidden(lang: Lang) -> Response {
    message(
        lang,
        StatusCode::FORBIDDEN,
        "referral-page-forbidden-title",
        text(lang, "referral-page-forbidden"),
    )
}

fn unavailable(error: impl std::fmt::Display, lang: Lang) -> Response {
    tracing::error!(error = %error, "referral page");
    message(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        "referral-page-unavailable-title",
        text(lang, "referral-page-unavailable"),
    )
}

/// A browser that says the form came from another site is refused whatever it carries.
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    matches!(fetch_site, Some("cross-site" | "same-site"))
}

/// The client's address when the server was told it.
fn known_address(address: &str) -> Option<&str> {
    (!address.is_empty() && address != "unknown").then_some(address)
}

fn device(headers: &HeaderMap) -> Option<String> {
    let agent = headers.get(header::USER_AGENT)?.to_str().ok()?.trim();
    (!agent.is_empty()).then(|| agent.chars().take(MAX_DEVICE_CHARS).collect())
}

/// Whether one more `kind` from `address` at `store` is within its limit, counting it if so.
/// Kept in memory, a fixed window per key: it keeps one client from flooding a store, and a
/// restart forgets it. Without a known address nothing is limited.
fn within_limit(kind: &'static str, store: StoreId, address: Option<&str>, max: u32, now_ms: i64) -> bool {
    type Windows = HashMap<(&'static str, StoreId, String), (i64, u32)>;
    static WINDOWS: OnceLock<Mutex<Windows>> = OnceLock::new();
    let Some(address) = address else {
        return true;
    };
    let mut windows = WINDOWS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if windows.len() > 100_000 {
        windows.retain(|_, (start, _)| now_ms - *start < LIMIT_WINDOW_MS);
    }
    let window = windows
        .entry((kind, store, address.to_string()))
        .or_insert((now_ms, 0));
    if now_ms - window.0 >= LIMIT_WINDOW_MS {
        *window = (now_ms, 0);
    }
    if window.1 >= max {
        return false;
    }
    window.1 += 1;
    true
}

// ---------------------------------------------------------------------------------------------
// The friend's landing page

/// What `/r/{store}/{code}` is about.
struct Found {
    store: StoreRecord,
    program: ReferralProgram,
    code: ReferralCode,
    /// The advocate's first name: all the page says of them.
    first_name: Option<String>,
}

impl Found {
    fn path(&self) -> String {
        format!("/r/{}/{}", self.store.id, share::encode(&self.code.code))
    }
}

/// The invitation behind a landing address: `None` alike for a store or code nobody has, a
/// program that is off and an advocate no longer on file.
async fn invitation(state: &AppState, store: &str, code: &str) -> Result<Option<Found>, StoreError> {
    let Ok(store_id) = StoreId::parse(store) else {
        return Ok(None);
    };
    if code.is_empty() || code.chars().count() > MAX_CODE_CHARS {
        return Ok(None);
    }
    let store = match state.db.store(store_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let program = state.db.referral_program(store.id).await?.program;
    if !program.enabled {
        return Ok(None);
    }
    let Some(code) = state.db.referral_code_owner(store.id, code).await? else {
        return Ok(None);
    };
    let first_name = match state.db.customer(store.id, code.customer_id).await {
        Ok(c) => c.first_name,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(Found {
        store,
        program,
        code,
        first_name,
    }))
}

/// A fresh form for the landing page, its token good for two hours.
fn fresh_form(found: &Found, key: &str, now: Timestamp, email: String) -> SendForm {
    let token = link::sign(
        &purpose_key(key, FORM_PURPOSE),
        Claims {
            store: found.store.id,
            customer: found.code.customer_id,
            expires: now_secs(now) + FORM_TTL_SECS,
        },
    );
    SendForm {
        action: found.path(),
        token,
        email,
    }
}

fn landing_page(
    lang: Lang,
    found: &Found,
    form: Option<SendForm>,
    error: Option<String>,
    thanks: Option<String>,
    status: StatusCode,
) -> Response {
    let path = found.path();
    let invitation = Invitation {
        store: &found.store,
        program: &found.program,
        code: &found.code.code,
        first_name: found.first_name.as_deref(),
        path: &path,
    };
    render(
        &view::landing_page(lang, &invitation, form, error, thanks),
        status,
    )
}

async fn landing(
    State(state): State<AppState>,
    Path((store, code)): Path<(String, String)>,
    q: Result<Query<LangQuery>, QueryRejection>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
) -> Response {
    let asked = asked_lang(q);
    let found = match invitation(&state, &store, &code).await {
        Ok(Some(f)) => f,
        Ok(None) => return not_found(friend_lang(asked, &headers, None)),
        Err(e) => return unavailable(e, friend_lang(asked, &headers, None)),
    };
    let lang = friend_lang(asked, &headers, Some(&found.store));
    let now = Timestamp::now();
    let ip = known_address(&address);
    if within_limit("visit", found.store.id, ip, VISITS_PER_WINDOW, now.0) {
        let device = device(&headers);
        if let Err(e) = state
            .db
            .record_referral_visit(found.store.id, &found.code.code, ip, device.as_deref(), now)
            .await
        {
            // The visit only feeds the burst figures: the friend still gets their page.
            tracing::warn!(error = %e, store = %found.store.id, "recording a landing visit");
        }
    }
    let key = match state.db.loyalty_link_key(found.store.id).await {
        Ok(k) => k,
        Err(e) => return unavailable(e, lang),
    };
    let form = fresh_form(&found, &key, now, String::new());
    landing_page(lang, &found, Some(form), None, None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct SendBody {
    #[serde(default)]
    email: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    lang: Option<String>,
}

/// "Send me my discount": the friend leaves their email and is attributed to the advocate
/// (channel `link`). Whatever the fraud rules make of it, the friend reads the same thanks.
async fn send(
    State(state): State<AppState>,
    Path((store, code)): Path<(String, String)>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<SendBody>, FormRejection>,
) -> Response {
    let form = form.ok().map(|Form(f)| f);
    let asked = form
        .as_ref()
        .and_then(|f| f.lang.as_deref())
        .and_then(Lang::from_tag);
    let found = match invitation(&state, &store, &code).await {
        Ok(Some(f)) => f,
        Ok(None) => return not_found(friend_lang(asked, &headers, None)),
        Err(e) => return unavailable(e, friend_lang(asked, &headers, None)),
    };
    let lang = friend_lang(asked, &headers, Some(&found.store));
    let Some(form) = form else {
        return forbidden(lang);
    };
    if cross_site(&headers) {
        return forbidden(lang);
    }
    let key = match state.db.loyalty_link_key(found.store.id).await {
        Ok(k) => k,
        Err(e) => return unavailable(e, lang),
    };
    let now = Timestamp::now();
    let advocate = found.code.customer_id;
    match link::verify(
        &purpose_key(&key, FORM_PURPOSE),
        form.token.trim(),
        found.store.id,
        now_secs(now),
    ) {
        Verdict::Valid(claims) if claims.customer == advocate => {}
        Verdict::Expired(claims) if claims.customer == advocate => {
            // A page left open too long: the form again, fresh, with what they typed.
            let again = fresh_form(&found, &key, now, form.email);
            let error = Some(text(lang, "referral-page-form-expired"));
            return landing_page(lang, &found, Some(again), error, None, StatusCode::FORBIDDEN);
        }
        _ => return forbidden(lang),
    }
    let ip = known_address(&address);
    if !within_limit("send", found.store.id, ip, SENDS_PER_WINDOW, now.0) {
        let again = fresh_form(&found, &key, now, form.email);
        let error = Some(text(lang, "referral-page-throttled"));
        let mut response = landing_page(
            lang,
            &found,
            Some(again),
            error,
            None,
            StatusCode::TOO_MANY_REQUESTS,
        );
        let retry = (LIMIT_WINDOW_MS / 1_000).to_string();
        if let Ok(v) = HeaderValue::from_str(&retry) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let invalid = |found: &Found, typed: String| {
        let again = fresh_form(found, &key, now, typed);
        let error = Some(text(lang, "referral-page-invalid-email"));
        landing_page(
            lang,
            found,
            Some(again),
            error,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let typed = form.email.trim().to_string();
    let email = match Email::parse(&typed) {
        Ok(e) if typed.len() <= 254 => e,
        _ => return invalid(&found, typed),
    };
    let device = device(&headers);
    match state
        .db
        .refer_by_link(&found.store, &found.code.code, &email, ip, device.as_deref(), now)
        .await
    {
        Ok(referral) => {
            tracing::info!(store = %found.store.id, referral = %referral.id, "a friend left their email on a landing page");
            let thanks = text_with(
                lang,
                "referral-page-thanks",
                &[("email", email.as_str()), ("code", &found.code.code)],
            );
            landing_page(lang, &found, None, None, Some(thanks), StatusCode::OK)
        }
        Err(StoreError::NotFound(_)) => not_found(lang),
        Err(StoreError::Refused {
            code: "referrals_off",
            ..
        }) => not_found(lang),
        Err(StoreError::Invalid(_)) => invalid(&found, typed),
        Err(e) => unavailable(e, lang),
    }
}

// ---------------------------------------------------------------------------------------------
// The partner page and its link

// Read by the loyalty link's parser (the same shape); this type names it in the OpenAPI document.
/// How long the link works.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PartnerLinkBody {
    /// 1 to 90 days; 30 when absent.
    #[serde(default)]
    pub ttl_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerLinkView {
    /// The partner's page: their link and code, terms, earnings, commissions and payouts.
    pub url: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
}

/// A signed link to a partner's own page
///
/// Anyone holding the link sees that partner's earnings and commission history (never the
/// friends' names) until it expires: send it to the partner only. Nothing is stored per link;
/// it cannot be revoked before it expires. A loyalty page link does not open it, nor it the
/// loyalty page. The body is optional.
#[utoipa::path(post, path = "/api/v1/partners/{customer_id}/link", tag = "referrals",
    operation_id = "create_partner_link",
    request_body = Option<PartnerLinkBody>,
    params(("customer_id" = String, Path, description = "The partner's customer id")),
    responses((status = 201, body = PartnerLinkView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_partner_link(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // A malformed id cannot be a partner of this store: answer exactly as for a missing one.
    let customer = CustomerId::parse(&id).map_err(|_| ApiError::not_found("partner"))?;
    let ttl_days = crate::loyalty_page::link_ttl_days(&body)?;
    // Another store's customer, or one who is not a partner, is simply not found here.
    state.db.partner(store.id, customer).await?;
    let key = state.db.loyalty_link_key(store.id).await?;
    let expires = now_secs(Timestamp::now()) + ttl_days * DAY_SECS;
    let token = link::sign(
        &purpose_key(&key, PARTNER_PURPOSE),
        Claims {
            store: store.id,
            customer,
            expires,
        },
    );
    let view = PartnerLinkView {
        url: format!("{}/partner/{}/{token}", base_url(&state, &headers), store.id),
        expires_at: Timestamp(expires * 1_000).to_rfc3339(),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The order each commission is for, as the partner knows it: its number, else the shop's id.
async fn order_names(
    state: &AppState,
    store: StoreId,
    commissions: &[regulars_store::CommissionRecord],
) -> Result<HashMap<String, String>, StoreError> {
    let mut names = HashMap::new();
    for c in commissions {
        if names.contains_key(&c.order_id) {
            continue;
        }
        let name = match OrderId::parse(&c.order_id) {
            Ok(id) => match state.db.order(store, id).await {
                Ok(o) => o.order_number.unwrap_or(o.external_id),
                Err(StoreError::NotFound(_)) => c.order_id.clone(),
                Err(e) => return Err(e),
            },
            Err(_) => c.order_id.clone(),
        };
        names.insert(c.order_id.clone(), name);
    }
    Ok(names)
}

async fn partner_page(
    State(state): State<AppState>,
    Path((store, token)): Path<(String, String)>,
    q: Result<Query<LangQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let asked = asked_lang(q);
    let stranger = friend_lang(asked, &headers, None);
    let Ok(store_id) = StoreId::parse(&store) else {
        return not_found(stranger);
    };
    let store = match state.db.store(store_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return not_found(stranger),
        Err(e) => return unavailable(e, stranger),
    };
    let key = match state.db.loyalty_link_key(store.id).await {
        Ok(k) => k,
        Err(e) => return unavailable(e, stranger),
    };
    let now = Timestamp::now();
    let partner = match link::verify(
        &purpose_key(&key, PARTNER_PURPOSE),
        &token,
        store.id,
        now_secs(now),
    ) {
        Verdict::Valid(claims) => claims.customer,
        Verdict::Expired(_) => {
            let lang = asked
                .or_else(|| Lang::from_tag(store.locale.as_str()))
                .unwrap_or(Lang::En);
            return message(
                lang,
                StatusCode::GONE,
                "referral-page-partner-expired-title",
                text_with(lang, "referral-page-partner-expired", &[("store", &store.name)]),
            );
        }
        Verdict::Invalid => return not_found(stranger),
    };
    let path = format!("/partner/{}/{token}", store.id);
    match partner_view(&state, &store, partner, asked, &headers, &path).await {
        Ok(Some(response)) => response,
        Ok(None) => not_found(stranger),
        Err(e) => unavailable(e, stranger),
    }
}

/// The partner's page; `None` when they are no longer a partner or a customer of the store.
async fn partner_view(
    state: &AppState,
    store: &StoreRecord,
    partner: CustomerId,
    asked: Option<Lang>,
    headers: &HeaderMap,
    path: &str,
) -> Result<Option<Response>, StoreError> {
    let customer = match state.db.customer(store.id, partner).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let summary = match state.db.partner_summary(store, partner).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let lang = asked
        .or_else(|| customer.locale.as_ref().and_then(|l| Lang::from_tag(l.as_str())))
        .or_else(|| Lang::from_tag(store.locale.as_str()))
        .unwrap_or(Lang::En);
    // The code and link work only while the program is on: shown only then.
    let program = state.db.referral_program(store.id).await?.program;
    let code = if !program.enabled {
        None
    } else if let Some(code) = summary.code.clone() {
        Some(code)
    } else {
        match state.db.referral_code(store, partner).await {
            Ok(c) => Some(c.code),
            Err(StoreError::Refused { .. }) => None,
            Err(e) => return Err(e),
        }
    };
    let link = code
        .as_deref()
        .map(|c| share_link(&base_url(state, headers), store.id, c));
    let mut commissions = state.db.commissions(store, partner).await?;
    commissions.truncate(HISTORY_ROWS);
    let names = order_names(state, store.id, &commissions).await?;
    let commissions = commissions
        .into_iter()
        .map(|c| {
            let name = names
                .get(&c.order_id)
                .cloned()
                .unwrap_or_else(|| c.order_id.clone());
            (c, name)
        })
        .collect();
    let payouts = state.db.payouts(store, Some(partner)).await?;
    let page = view::partner_page(
        lang,
        view::PartnerFacts {
            store,
            summary: &summary,
            code,
            link,
            commissions,
            payouts: &payouts,
            path,
        },
    );
    Ok(Some(render(&page, StatusCode::OK)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    #[test]
    fn each_purpose_signs_with_a_key_of_its_own() {
        let claims = Claims {
            store: StoreId::new(),
            customer: CustomerId::new(),
            expires: 2_000_000_000,
        };
        let partner = purpose_key(KEY, PARTNER_PURPOSE);
        let form = purpose_key(KEY, FORM_PURPOSE);
        assert_ne!(partner, form);
        assert_ne!(partner, KEY);
        let loyalty_token = link::sign(KEY, claims);
        let partner_token = link::sign(&partner, claims);
        assert_eq!(
            link::verify(&partner, &partner_token, claims.store, 0),
            Verdict::Valid(claims)
        );
        assert_eq!(
            link::verify(&partner, &loyalty_token, claims.store, 0),
            Verdict::Invalid
        );
        assert_eq!(
            link::verify(KEY, &partner_token, claims.store, 0),
            Verdict::Invalid
        );
        assert_eq!(
            link::verify(&form, &partner_token, claims.store, 0),
            Verdict::Invalid
        );
    }

    #[test]
    fn limits_count_per_address_and_store_within_the_window() {
        let store = StoreId::new();
        let other = StoreId::new();
        let t = 1_000_000;
        assert!(within_limit("test", store, Some("10.0.0.1"), 2, t));
        assert!(within_limit("test", store, Some("10.0.0.1"), 2, t + 1));
        assert!(!within_limit("test", store, Some("10.0.0.1"), 2, t + 2));
        assert!(within_limit("test", store, Some("10.0.0.2"), 2, t + 2));
        assert!(within_limit("test", other, Some("10.0.0.1"), 2, t + 2));
        assert!(within_limit(
            "test",
            store,
            Some("10.0.0.1"),
            2,
            t + LIMIT_WINDOW_MS
        ));
        // Without an address nothing is limited.
        for _ in 0..5 {
            assert!(within_limit("test", store, None, 1, t));
        }
        assert_eq!(known_address("unknown"), None);
        assert_eq!(known_address("127.0.0.1"), Some("127.0.0.1"));
    }
}
