//! The customer's own loyalty page and its embeddable widget, opened by a signed, expiring
//! link (no account, no cookie): points and what they are worth, pending and expiring points,
//! tier progress and benefits, rewards to redeem, history and coupons, in the customer's
//! language. Staff or the shop get a link from `POST /api/v1/customers/{id}/loyalty/link`.

pub(crate) mod link;
mod view;

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use rand::Rng;
use regulars_domain::{CustomerId, StoreId, Timestamp};
use regulars_i18n::{text, text_with, Lang};
use regulars_store::{Claim, StoreError, StoreRecord, StoredReply};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::ApiStore;
use crate::body::parse_json;
use crate::error::{ApiError, ApiResult, Problem};
use crate::AppState;
use link::{Claims, Verdict};
use view::{FormFields, Gathered, LoyaltyMessage, LoyaltyPage, LoyaltyWidget, Notice, Tr};

const DEFAULT_TTL_DAYS: i64 = 30;
const MAX_TTL_DAYS: i64 = 90;
const DAY_SECS: i64 = 86_400;
/// Redemptions read per page: enough to count per-customer limits and list coupons.
const REDEMPTIONS_READ: u64 = 1_000;

/// The link route, nested under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    Router::new().route("/customers/{id}/loyalty/link", post(create_link))
}

/// The customer's page, its redeem form and the widget.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/loyalty/{store}/{token}", get(page))
        .route("/loyalty/{store}/{token}/redeem", post(redeem))
        .route("/loyalty/{store}/{token}/widget", get(widget))
}

// ---------------------------------------------------------------------------------------------
// The API: a link for one customer

/// How long the link works.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoyaltyLinkBody {
    /// 1 to 90 days; 30 when absent.
    #[serde(default)]
    pub ttl_days: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoyaltyLinkView {
    /// The customer's loyalty page.
    pub url: String,
    /// The compact page for an iframe, or for `/static/loyalty-widget.js`'s `data-widget-url`.
    pub widget_url: String,
    /// When both stop working (RFC 3339).
    pub expires_at: String,
}

/// The absolute address the request was made to: its `Host` (or the proxy's
/// `X-Forwarded-Host`), over https when the proxy says so or cookies are marked secure.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let header_text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = header_text("x-forwarded-host")
        .or_else(|| header_text(header::HOST.as_str()))
        .filter(|h| {
            h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let scheme = match header_text("x-forwarded-proto") {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ if state.dashboard.secure_cookies => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// A signed link to the customer's loyalty page and widget
///
/// Anyone holding the link sees that customer's points and can redeem their rewards until it
/// expires: send it to the customer only. Nothing is stored per link; it cannot be revoked
/// before it expires. The body is optional.
#[utoipa::path(post, path = "/api/v1/customers/{id}/loyalty/link", tag = "loyalty",
    operation_id = "create_loyalty_link",
    request_body = Option<LoyaltyLinkBody>,
    params(("id" = String, Path, description = "Customer id")),
    responses((status = 201, body = LoyaltyLinkView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_link(
    State(state): State<AppState>,
    ApiStore(store): ApiStore,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // A malformed id cannot exist in this store: answer exactly as for a missing one.
    let customer = CustomerId::parse(&id).map_err(|_| ApiError::not_found("customer"))?;
    let ttl_days = link_ttl_days(&body)?;
    // Another store's customer is simply not found here (RELIABILITY S1).
    state.db.customer(store.id, customer).await?;
    let key = state.db.loyalty_link_key(store.id).await?;
    let expires = Timestamp::now().0 / 1000 + ttl_days * DAY_SECS;
    let token = link::sign(
        &key,
        Claims {
            store: store.id,
            customer,
            expires,
        },
    );
    let url = format!("{}/loyalty/{}/{token}", base_url(&state, &headers), store.id);
    let view = LoyaltyLinkView {
        widget_url: format!("{url}/widget"),
        url,
        expires_at: Timestamp(expires * 1000).to_rfc3339(),
    };
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

// ---------------------------------------------------------------------------------------------
// The pages

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn asked_lang(q: Result<Query<LangQuery>, QueryRejection>) -> Option<Lang> {
    q.ok().and_then(|Query(q)| view::lang_of(q.lang.as_deref()))
}

/// Who may frame a response: the widget anyone, everything else nobody.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Anyone,
    Nobody,
}

/// Personal pages: never cached, never indexed, never leaking their address (it is the
/// customer's key) to another site, and framed only where the widget is meant to be.
fn secure(mut response: Response, framing: Framing) -> Response {
    let ancestors = match framing {
        Framing::Anyone => "*",
        Framing::Nobody => "'none'",
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
         form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if framing == Framing::Nobody {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn render(page: &impl Template, status: StatusCode, framing: Framing) -> Response {
    let response = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a loyalty page");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    };
    secure(response, framing)
}

/// A page with a heading and a sentence, and nothing of anyone's data.
fn message(lang: Lang, status: StatusCode, heading: &str, body: String, framing: Framing) -> Response {
    let page = LoyaltyMessage {
        lang_code: lang.code(),
        heading: text(lang, heading),
        body,
    };
    render(&page, status, framing)
}

fn reader_lang(asked: Option<Lang>, headers: &HeaderMap) -> Lang {
    asked
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En)
}

fn not_found(lang: Lang, framing: Framing) -> Response {
    message(
        lang,
        StatusCode::NOT_FOUND,
        "loyalty-page-not-found-title",
        text(lang, "loyalty-page-not-found"),
        framing,
    )
}

fn unavailable(error: impl std::fmt::Display, lang: Lang, framing: Framing) -> Response {
    tracing::error!(error = %error, "loyalty page");
    message(
        lang,
        StatusCode::SERVICE_UNAVAILABLE,
        "loyalty-page-unavailable-title",
        text(lang, "loyalty-page-unavailable"),
        framing,
    )
}

/// What a valid link opens.
struct Opened {
    store: StoreRecord,
    customer: CustomerId,
    key: String,
    /// Where the page was asked for: the origin of the links it shows.
    origin: String,
}

/// Checks the link: 404 (with nothing of the store's) for anything but a link this store
/// signed for a customer it still has; 410 in the store's language once it has expired.
async fn open_link(
    state: &AppState,
    store: &str,
    token: &str,
    asked: Option<Lang>,
    headers: &HeaderMap,
    framing: Framing,
) -> Result<Opened, Response> {
    let stranger = reader_lang(asked, headers);
    let Ok(store_id) = StoreId::parse(store) else {
        return Err(not_found(stranger, framing));
    };
    let record = match state.db.store(store_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound(_)) => return Err(not_found(stranger, framing)),
        Err(e) => return Err(unavailable(e, stranger, framing)),
    };
    let key = match state.db.loyalty_link_key(store_id).await {
        Ok(k) => k,
        Err(e) => return Err(unavailable(e, stranger, framing)),
    };
    match link::verify(&key, token, store_id, Timestamp::now().0 / 1000) {
        Verdict::Valid(claims) => Ok(Opened {
            store: record,
            customer: claims.customer,
            key,
            origin: base_url(state, headers),
        }),
        Verdict::Expired(_) => {
            let lang = asked
                .or_else(|| view::lang_of(Some(record.locale.as_str())))
                .unwrap_or(Lang::En);
            Err(message(
                lang,
                StatusCode::GONE,
                "loyalty-page-expired-title",
                text_with(lang, "loyalty-page-expired", &[("store", &record.name)]),
                framing,
            ))
        }
        Verdict::Invalid => Err(not_found(stranger, framing)),
    }
}

/// Reads everything the page shows. A customer erased since the link was made is not found.
async fn gather(state: &AppState, opened: &Opened) -> Result<Option<Gathered>, StoreError> {
    let store = opened.store.clone();
    let customer = match state.db.customer(store.id, opened.customer).await {
        Ok(c) => c,
        Err(StoreError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let now = Timestamp::now();
    let program = state.db.loyalty_program(store.id).await?;
    let member = state.db.loyalty_member(store.id, opened.customer, now).await?;
    let rewards = state.db.rewards(store.id, false).await?;
    let redemptions = state
        .db
        .redemptions(store.id, Some(opened.customer), REDEMPTIONS_READ)
        .await?;
    let coupons = state.db.customer_coupons(&store, opened.customer).await?;
    let referral = crate::referral_page::referrer(state, &store, opened.customer, &opened.origin).await;
    Ok(Some(Gathered {
        store,
        customer,
        program,
        member,
        rewards,
        redemptions,
        coupons,
        referral,
        now,
    }))
}

/// The customer's language: asked for in the address, else theirs, else the store's.
fn page_lang(asked: Option<Lang>, g: &Gathered) -> Lang {
    asked
        .or_else(|| view::lang_of(g.customer.locale.as_ref().map(|l| l.as_str())))
        .or_else(|| view::lang_of(Some(g.store.locale.as_str())))
        .unwrap_or(Lang::En)
}

fn nonce() -> String {
    hex::encode(rand::thread_rng().gen::<[u8; 16]>())
}

fn page_path(store: StoreId, token: &str) -> String {
    format!("/loyalty/{store}/{token}")
}

fn full_page(
    g: &Gathered,
    lang: Lang,
    key: &str,
    token: &str,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let path = page_path(g.store.id, token);
    let page = LoyaltyPage {
        t: Tr(lang),
        lang_code: lang.code(),
        title: text_with(lang, "loyalty-page-title", &[("store", &g.store.name)]),
        store_name: g.store.name.clone(),
        languages: view::languages(lang, &path),
        notice,
        program_on: g.program.program.enabled,
        points: view::points_view(lang, g),
        tier: view::tier_view(lang, g),
        // Each form gets its own nonce: posting it twice redeems once.
        rewards: view::rewards_view(lang, g, || {
            let nonce = nonce();
            FormFields {
                proof: link::form_proof(key, token, &nonce),
                nonce,
            }
        }),
        history: view::history_view(lang, g),
        coupons: view::coupons_view(lang, g),
        referral: view::referral_view(lang, g),
        redeem_action: format!("{path}/redeem"),
    };
    render(&page, status, Framing::Nobody)
}

async fn page(
    State(state): State<AppState>,
    Path((store, token)): Path<(String, String)>,
    q: Result<Query<LangQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let asked = asked_lang(q);
    let opened = match open_link(&state, &store, &token, asked, &headers, Framing::Nobody).await {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    match gather(&state, &opened).await {
        Ok(Some(g)) => full_page(
            &g,
            page_lang(asked, &g),
            &opened.key,
            &token,
            None,
            StatusCode::OK,
        ),
        Ok(None) => not_found(reader_lang(asked, &headers), Framing::Nobody),
        Err(e) => unavailable(e, reader_lang(asked, &headers), Framing::Nobody),
    }
}

async fn widget(
    State(state): State<AppState>,
    Path((store, token)): Path<(String, String)>,
    q: Result<Query<LangQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let asked = asked_lang(q);
    let opened = match open_link(&state, &store, &token, asked, &headers, Framing::Anyone).await {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    let g = match gather(&state, &opened).await {
        Ok(Some(g)) => g,
        Ok(None) => return not_found(reader_lang(asked, &headers), Framing::Anyone),
        Err(e) => return unavailable(e, reader_lang(asked, &headers), Framing::Anyone),
    };
    let lang = page_lang(asked, &g);
    let page = LoyaltyWidget {
        t: Tr(lang),
        lang_code: lang.code(),
        store_name: g.store.name.clone(),
        program_on: g.program.program.enabled,
        points: view::points_view(lang, &g),
        tier: view::tier_view(lang, &g),
        rewards: view::widget_rewards(lang, &g),
        page_url: format!("{}?lang={}", page_path(g.store.id, &token), lang.code()),
    };
    render(&page, StatusCode::OK, Framing::Anyone)
}

// ---------------------------------------------------------------------------------------------
// Redeeming from the page

#[derive(Debug, Deserialize)]
struct RedeemForm {
    reward: String,
    nonce: String,
    proof: String,
    #[serde(default)]
    lang: Option<String>,
}

/// A browser that says the form came from another site is refused whatever the form carries
/// (the form's proof already keeps out anyone without the page; this keeps out a page that
/// leaked into another site's hands, too).
fn cross_site(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    matches!(fetch_site, Some("cross-site" | "same-site"))
}

/// What a redeem form came to: stored under the form's nonce so a repeat shows it again.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Outcome {
    Redeemed {
        reward_id: String,
        coupon_code: Option<String>,
    },
    Refused {
        code: String,
    },
}

impl Outcome {
    fn status(&self) -> StatusCode {
        match self {
            Outcome::Redeemed { .. } => StatusCode::OK,
            Outcome::Refused { .. } => StatusCode::CONFLICT,
        }
    }

    fn stored(&self) -> StoredReply {
        StoredReply {
            status: self.status().as_u16(),
            body: serde_json::to_string(self).expect("outcomes serialise"),
        }
    }

    fn notice(&self, lang: Lang, g: &Gathered) -> Notice {
        match self {
            Outcome::Redeemed {
                reward_id,
                coupon_code,
            } => {
                let reward = g
                    .rewards
                    .iter()
                    .find(|r| &r.id == reward_id)
                    .map(|r| r.input.name.as_str())
                    .unwrap_or_default();
                Notice {
                    ok: true,
                    message: text_with(lang, "loyalty-page-redeemed", &[("reward", reward)]),
                    code: coupon_code.clone(),
                }
            }
            Outcome::Refused { code } => Notice {
                ok: false,
                message: refusal(lang, code),
                code: None,
            },
        }
    }
}

/// A refusal in the customer's words; codes without words of their own get the general one.
fn refusal(lang: Lang, code: &str) -> String {
    const KNOWN: [&str; 8] = [
        "insufficient_points",
        "out_of_stock",
        "tier_too_low",
        "reward_limit_reached",
        "reward_inactive",
        "program_paused",
        "in_flight",
        "form_used",
    ];
    if KNOWN.contains(&code) {
        text(lang, &format!("loyalty-page-refused-{code}"))
    } else {
        text(lang, "loyalty-page-refused-other")
    }
}

/// Redeems once per form: the claim of `page-redeem:<nonce>`, the redemption and the stored
/// outcome commit together; a refusal writes nothing but its outcome.
async fn redeem_once(
    state: &AppState,
    store: &StoreRecord,
    customer: CustomerId,
    form: &RedeemForm,
) -> Result<Outcome, StoreError> {
    let key = format!("page-redeem:{}", form.nonce);
    let request = hex::encode(Sha256::digest(format!("{customer}\n{}", form.reward)));
    let mut tx = state.db.begin().await?;
    match tx.claim_idempotency_key(store.id, &key, &request).await? {
        Claim::Owned => {}
        other => {
            tx.rollback().await.ok();
            return Ok(match other {
                Claim::Replay(stored) => serde_json::from_str(&stored.body).unwrap_or(Outcome::Refused {
                    code: "form_used".into(),
                }),
                Claim::InFlight => Outcome::Refused {
                    code: "in_flight".into(),
                },
                _ => Outcome::Refused {
                    code: "form_used".into(),
                },
            });
        }
    }
    let actor = format!("customer:{customer}");
    match tx
        .redeem_reward(store, customer, &form.reward, &actor, Timestamp::now())
        .await
    {
        Ok(redemption) => {
            let outcome = Outcome::Redeemed {
                reward_id: redemption.reward_id,
                coupon_code: redemption.coupon_code,
            };
            tx.complete_idempotency_key(store.id, &key, &outcome.stored())
                .await?;
            tx.commit().await?;
            tracing::info!(store = %store.id, reward = %form.reward, "reward redeemed from the loyalty page");
            Ok(outcome)
        }
        Err(refused @ (StoreError::Refused { .. } | StoreError::NotFound(_))) => {
            tx.rollback().await.ok();
            let code = match refused {
                StoreError::Refused { code, .. } => code,
                _ => "reward_inactive",
            };
            let outcome = Outcome::Refused { code: code.into() };
            state
                .db
                .store_idempotent_refusal(store.id, &key, &request, &outcome.stored())
                .await?;
            Ok(outcome)
        }
        Err(e) => {
            tx.rollback().await.ok();
            Err(e)
        }
    }
}

async fn redeem(
    State(state): State<AppState>,
    Path((store, token)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<RedeemForm>, FormRejection>,
) -> Response {
    let form = form.ok().map(|Form(f)| f);
    let asked = form.as_ref().and_then(|f| view::lang_of(f.lang.as_deref()));
    let opened = match open_link(&state, &store, &token, asked, &headers, Framing::Nobody).await {
        Ok(o) => o,
        Err(refused) => return refused,
    };
    let forbidden = || {
        let lang = reader_lang(asked, &headers);
        message(
            lang,
            StatusCode::FORBIDDEN,
            "loyalty-page-forbidden-title",
            text(lang, "loyalty-page-forbidden"),
            Framing::Nobody,
        )
    };
    let Some(form) = form else {
        return forbidden();
    };
    let nonce_ok = form.nonce.len() == 32 && form.nonce.bytes().all(|b| b.is_ascii_hexdigit());
    if cross_site(&headers)
        || !nonce_ok
        || !link::form_proof_ok(&opened.key, &token, &form.nonce, &form.proof)
    {
        return forbidden();
    }
    let program_on = match state.db.loyalty_program(opened.store.id).await {
        Ok(p) => p.program.enabled,
        Err(e) => return unavailable(e, reader_lang(asked, &headers), Framing::Nobody),
    };
    let outcome = if program_on {
        match redeem_once(&state, &opened.store, opened.customer, &form).await {
            Ok(o) => o,
            Err(e) => return unavailable(e, reader_lang(asked, &headers), Framing::Nobody),
        }
    } else {
        Outcome::Refused {
            code: "program_paused".into(),
        }
    };
    match gather(&state, &opened).await {
        Ok(Some(g)) => {
            let lang = page_lang(asked, &g);
            let notice = outcome.notice(lang, &g);
            full_page(&g, lang, &opened.key, &token, Some(notice), outcome.status())
        }
        Ok(None) => not_found(reader_lang(asked, &headers), Framing::Nobody),
        Err(e) => unavailable(e, reader_lang(asked, &headers), Framing::Nobody),
    }
}

/// The days a signed link asked for by `body` works: no body, or JSON null, takes the default;
/// the shape of [`LoyaltyLinkBody`] (the partner link's body is the same).
pub(crate) fn link_ttl_days(body: &[u8]) -> ApiResult<i64> {
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        LoyaltyLinkBody::default()
    } else {
        parse_json::<Option<LoyaltyLinkBody>>(body)?.unwrap_or_default()
    };
    let ttl_days = input.ttl_days.unwrap_or(DEFAULT_TTL_DAYS);
    if !(1..=MAX_TTL_DAYS).contains(&ttl_days) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
            format!("ttl_days runs from 1 to {MAX_TTL_DAYS}"),
        )
        .field("ttl_days"));
    }
    Ok(ttl_days)
}
