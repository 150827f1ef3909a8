//! The referral panel of a customer's profile: their code, who referred them and the friends
//! they referred, each with where the referral stands.

use askama::Template;
use regulars_domain::CustomerId;
use regulars_i18n::{format_date, text, Lang};
use regulars_store::{CustomerReferrals, StoreError, StoreRecord};

use super::super::pages::Tr;
use super::super::session::Staff;
use super::{names, person_link, status_text, PersonLink};
use crate::AppState;

/// The most friends the panel lists (the review queue lists them all).
const SHOWN: usize = 50;

pub struct FriendLine {
    pub friend: PersonLink,
    pub href: String,
    pub status: String,
    pub status_key: &'static str,
    pub created: String,
}

pub struct ReferredBy {
    pub advocate: PersonLink,
    pub href: String,
    pub code: String,
    pub status: String,
    pub status_key: &'static str,
}

#[derive(Template)]
#[template(path = "referrals_panel.html")]
pub struct PanelPart {
    pub t: Tr,
    pub code: Option<String>,
    pub referred_by: Option<ReferredBy>,
    pub friends: Vec<FriendLine>,
    pub more: Option<String>,
}

async fn part(
    state: &AppState,
    lang: Lang,
    store: &StoreRecord,
    mine: CustomerReferrals,
) -> Result<PanelPart, StoreError> {
    let people: Vec<CustomerId> = mine
        .referred
        .iter()
        .take(SHOWN)
        .map(|r| r.friend_id)
        .chain(mine.referred_by.as_ref().map(|r| r.advocate_id))
        .collect();
    let names = names(state, store, lang, &people).await?;
    let review = format!("/app/{}/referrals/review", store.id);
    let friends = mine
        .referred
        .iter()
        .take(SHOWN)
        .map(|r| FriendLine {
            friend: person_link(lang, store, &names, r.friend_id),
            href: format!("{review}/{}", r.id),
            status: status_text(lang, r.status),
            status_key: r.status.as_str(),
            created: format_date(lang, r.created_at, store.timezone.0),
        })
        .collect();
    let more = (mine.referred.len() > SHOWN).then(|| {
        regulars_i18n::text_with(
            lang,
            "referrals-panel-more",
            &[("count", &(mine.referred.len() - SHOWN).to_string())],
        )
    });
    Ok(PanelPart {
        t: Tr(lang),
        code: mine.code.map(|c| c.code),
        referred_by: mine.referred_by.map(|r| ReferredBy {
            advocate: person_link(lang, store, &names, r.advocate_id),
            href: format!("{review}/{}", r.id),
            code: r.code.clone(),
            status: status_text(lang, r.status),
            status_key: r.status.as_str(),
        }),
        friends,
        more,
    })
}

/// The panel as HTML for the profile page; a panel that cannot be read says so and leaves the
/// rest of the profile standing.
pub async fn panel(state: &AppState, staff: &Staff, store: &StoreRecord, customer: CustomerId) -> String {
    let lang = staff.lang;
    let built = match state.db.customer_referrals(store.id, customer).await {
        Ok(mine) => part(state, lang, store, mine).await,
        Err(e) => Err(e),
    };
    let rendered = match built {
        Ok(part) => part.render(),
        Err(e) => {
            tracing::error!(error = %e, "reading a customer's referrals");
            let message =
                askama::filters::escape(text(lang, "referrals-panel-unavailable"), askama::filters::Html)
                    .map(|m| m.to_string())
                    .unwrap_or_default();
            return format!(
                "<section class=\"panel wide\" id=\"referrals\"><p class=\"error\">{message}</p></section>"
            );
        }
    };
    rendered.unwrap_or_else(|e| {
        tracing::error!(error = %e, "rendering a customer's referral panel");
        String::new()
    })
}
