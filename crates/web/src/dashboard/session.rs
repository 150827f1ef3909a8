//! Who is asking: the session cookie, the reader's language, CSRF checks and the client
//! address for login throttling.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use regulars_domain::{Permission, Role, StoreId};
use regulars_i18n::Lang;
use regulars_store::{Session, StoreRecord};
use subtle::ConstantTimeEq;

use super::pages::{message_page, Chrome};
use crate::AppState;

pub const SESSION_COOKIE: &str = "regulars_session";
pub const LANG_COOKIE: &str = "regulars_lang";
/// Before sign-in there is no session to hold a CSRF token: the login form's token is
/// double-submitted, in this cookie and in the form.
pub const LOGIN_CSRF_COOKIE: &str = "regulars_login_csrf";

/// The value of one cookie of the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Lax always, Secure when served over TLS.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> String {
    let secure = if state.dashboard.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// A redirect that carries a new session's cookie: after a sign-in, a sign-in link or a
/// password change.
pub fn with_session(state: &AppState, token: &str, to: &str) -> Response {
    let max_age = state.dashboard.session_limits.absolute.as_secs() as i64;
    let mut response = Redirect::to(to).into_response();
    if let Ok(v) = set_cookie(state, SESSION_COOKIE, token, max_age).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// The reader's language: their choice (cookie), else their browser's, else English.
pub fn reader_lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(|c| Lang::from_tag(&c))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// Equal in constant time (a token compared byte by byte leaks how much of it matched).
pub fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A browser that says the request came from another site is refused whatever it carries.
pub fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
}

/// The client's address, for throttling; "unknown" when the server was not told.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// A signed-in person. Pages that take this redirect everyone else to the login form.
pub struct Staff {
    pub session: Session,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = reader_lang(&parts.headers);
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/login").into_response());
        };
        match state.db.session(&token, state.dashboard.session_limits).await {
            Ok(Some(session)) => Ok(Staff { session, lang }),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => {
                tracing::error!(error = %e, "reading a session");
                Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
            }
        }
    }
}

impl Staff {
    /// The store a page is about, if this person works there with the permission it needs.
    /// A store they do not belong to is "not found", never "forbidden": its existence is not
    /// theirs to learn (RELIABILITY S1).
    pub async fn store(
        &self,
        state: &AppState,
        store: &str,
        needs: Permission,
    ) -> Result<(StoreRecord, Role), Response> {
        let role = StoreId::parse(store)
            .ok()
            .and_then(|id| self.session.role_in(id).map(|role| (id, role)));
        let Some((id, role)) = role else {
            return Err(self.refuse(StatusCode::NOT_FOUND, "error-not-found"));
        };
        if !role.can(needs) {
            return Err(self.refuse(StatusCode::FORBIDDEN, "error-forbidden"));
        }
        let record = state
            .db
            .store(id)
            .await
            .map_err(|_| self.refuse(StatusCode::NOT_FOUND, "error-not-found"))?;
        Ok((record, role))
    }

    /// The store a form posts to: [`Staff::store`], then the form's CSRF token (403 without it).
    pub async fn store_form(
        &self,
        state: &AppState,
        store: &str,
        needs: Permission,
        headers: &HeaderMap,
        csrf: &str,
    ) -> Result<(StoreRecord, Role), Response> {
        let found = self.store(state, store, needs).await?;
        if !self.csrf_ok(headers, csrf) {
            return Err(self.refuse(StatusCode::FORBIDDEN, "error-csrf"));
        }
        Ok(found)
    }

    pub fn refuse(&self, status: StatusCode, message: &str) -> Response {
        let chrome = Chrome::signed_in(self.lang, &self.session, None, "");
        (status, message_page(chrome, message)).into_response()
    }

    /// Whether a form carries the session's CSRF token and came from our own pages.
    pub fn csrf_ok(&self, headers: &HeaderMap, submitted: &str) -> bool {
        !cross_site(headers) && same_token(submitted, &self.session.csrf_token)
    }
}
