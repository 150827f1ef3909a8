//! The page templates (askama, in `templates/`) and the frame every page shares. Templates hold
//! no words of their own: every label comes through [`Tr`] from the Fluent files.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use regulars_domain::{Permission, StoreId};
use regulars_i18n::{text, text_with, Lang};
use regulars_store::Session;

/// Messages in the reader's language, for templates: `{{ chrome.t.get("nav-orders") }}`.
#[derive(Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    pub fn get(&self, id: &str) -> String {
        text(self.0, id)
    }
}

pub struct NavItem {
    pub href: String,
    pub label: String,
    pub current: bool,
}

pub struct StoreChoice {
    pub id: String,
    pub name: String,
    pub current: bool,
}

pub struct LanguageLink {
    pub code: &'static str,
    pub name: &'static str,
    pub current: bool,
}

/// What a signed-in page shows around its content.
pub struct Shell {
    pub nav: Vec<NavItem>,
    pub stores: Vec<StoreChoice>,
    pub signed_in_as: String,
    pub csrf: String,
}

pub struct Chrome {
    pub t: Tr,
    pub lang_code: &'static str,
    pub languages: Vec<LanguageLink>,
    pub shell: Option<Shell>,
}

/// The dashboard's sections in navigation order: path under the store, message id, and what
/// a person needs to see it in the navigation (the page checks again on the server).
const SECTIONS: [(&str, &str, Permission); 9] = [
    ("", "nav-overview", Permission::Read),
    ("/customers", "nav-customers", Permission::Read),
    ("/orders", "nav-orders", Permission::Read),
    ("/analytics", "analytics-nav", Permission::Read),
    ("/loyalty", "loyalty-nav", Permission::Read),
    ("/coupons", "coupons-nav", Permission::Read),
    ("/referrals", "referrals-nav", Permission::Read),
    ("/import", "nav-import", Permission::Import),
    ("/settings", "nav-settings", Permission::ManageSettings),
];

impl Chrome {
    pub fn public(lang: Lang) -> Chrome {
        Chrome {
            t: Tr(lang),
            lang_code: lang.code(),
            languages: Lang::ALL
                .into_iter()
                .map(|l| LanguageLink {
                    code: l.code(),
                    name: l.native_name(),
                    current: l == lang,
                })
                .collect(),
            shell: None,
        }
    }

    /// `section` is the current page's path under the store ("" for the overview).
    pub fn signed_in(lang: Lang, session: &Session, store: Option<StoreId>, section: &str) -> Chrome {
        let mut chrome = Chrome::public(lang);
        let current = store.or_else(|| session.memberships.first().map(|m| m.store_id));
        let role = current.and_then(|store| session.role_in(store));
        let nav = current
            .zip(role)
            .map(|(store, role)| {
                SECTIONS
                    .iter()
                    .filter(|(_, _, needs)| role.can(*needs))
                    .map(|(path, label, _)| NavItem {
                        href: format!("/app/{store}{path}"),
                        label: text(lang, label),
                        current: *path == section
                            || (!path.is_empty() && section.starts_with(&format!("{path}/"))),
                    })
                    .collect()
            })
            .unwrap_or_default();
        chrome.shell = Some(Shell {
            nav,
            stores: session
                .memberships
                .iter()
                .map(|m| StoreChoice {
                    id: m.store_id.to_string(),
                    name: m.store_name.clone(),
                    current: Some(m.store_id) == current,
                })
                .collect(),
            signed_in_as: text_with(
                lang,
                "nav-signed-in-as",
                &[("email", session.user.email.as_str())],
            ),
            csrf: session.csrf_token.clone(),
        });
        chrome
    }
}

pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub heading: String,
}

pub fn message_page(chrome: Chrome, message_id: &str) -> Response {
    let heading = chrome.t.get(message_id);
    render(&MessagePage { chrome, heading })
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub email: String,
    pub error: Option<String>,
    pub notice: Option<String>,
}

pub struct Card {
    pub key: &'static str,
    pub label: String,
    pub value: String,
}

pub struct Period {
    pub days: i64,
    pub label: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub chrome: Chrome,
    pub store_name: String,
    pub periods: Vec<Period>,
    pub cards: Vec<Card>,
    /// JSON of numbers and labels for the chart, with `<` escaped so it cannot end the tag.
    pub series_json: String,
}
