use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Email, FieldError, Locale, Money, Phone, Source, Timestamp};

/// A customer as one source describes them. Fields left `None` are "not said" and keep what is
/// already stored; `Some` overwrites. This lets a partial update (or a sparse CSV) never erase
/// what another source told us.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CustomerInput {
    pub source: Option<Source>,
    /// The id the source gives this customer (Shopify ids exceed 2^53: always text).
    pub external_id: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<Locale>,
    pub birthday: Option<Birthday>,
    /// `Some` replaces the tag set; `None` keeps it.
    pub tags: Option<Vec<String>>,
    /// Merged key by key into the stored attributes.
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub note: Option<String>,
    pub acquisition_channel: Option<String>,
    pub acquisition_cost: Option<Money>,
    /// `Some(true)` for a registered account, `Some(false)` for a guest checkout.
    pub has_account: Option<bool>,
    /// Consent as the source states it now; only a change from the stored state becomes an event.
    pub consents: Vec<ConsentChange>,
    /// When the source says the customer was created.
    pub created_at: Option<Timestamp>,
}

impl CustomerInput {
    /// True when nothing identifies the customer: such an order is kept as anonymous.
    pub fn is_anonymous(&self) -> bool {
        self.external_id.is_none() && self.email.is_none() && self.phone.is_none()
    }

    /// Trims text fields and drops empty ones so that `""` never overwrites a real value.
    pub fn normalise(&mut self) {
        for field in [
            &mut self.external_id,
            &mut self.first_name,
            &mut self.last_name,
            &mut self.note,
            &mut self.acquisition_channel,
        ] {
            if let Some(v) = field.take() {
                let t = v.trim();
                if !t.is_empty() {
                    *field = Some(t.to_string());
                }
            }
        }
        if let Some(tags) = &mut self.tags {
            let mut clean: Vec<String> = tags
                .iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            clean.sort();
            clean.dedup();
            *tags = clean;
        }
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(id) = &self.external_id {
            if id.len() > 255 {
                return Err(FieldError::new(
                    "external_id",
                    "too_long",
                    "external_id is longer than 255 characters",
                ));
            }
        }
        if let Some(cost) = &self.acquisition_cost {
            if cost.minor < 0 {
                return Err(FieldError::new(
                    "acquisition_cost",
                    "negative_amount",
                    "acquisition cost cannot be negative",
                ));
            }
        }
        Ok(())
    }
}

/// Split a comma-separated tag list as Shopify and WooCommerce write it.
pub fn split_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

/// A birthday: month and day, the year only if the customer chose to give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Birthday {
    pub month: u8,
    pub day: u8,
    pub year: Option<i32>,
}

impl Birthday {
    /// `1990-05-17`, `05-17` or `--05-17` (ISO 8601 without year).
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let err = || {
            FieldError::new(
                "birthday",
                "invalid_birthday",
                format!("{s:?} is not a birthday (YYYY-MM-DD, or MM-DD without the year)"),
            )
        };
        let t = s.trim().trim_start_matches("--");
        let parts: Vec<&str> = t.split('-').collect();
        let (year, month, day) = match parts.as_slice() {
            [y, m, d] if y.len() == 4 => (Some(y.parse::<i32>().map_err(|_| err())?), *m, *d),
            [m, d] => (None, *m, *d),
            _ => return Err(err()),
        };
        let month: u8 = month.parse().map_err(|_| err())?;
        let day: u8 = day.parse().map_err(|_| err())?;
        // A leap year, so 29 February is a valid birthday without a year.
        let check_year = year.unwrap_or(2000);
        if chrono::NaiveDate::from_ymd_opt(check_year, month.into(), day.into()).is_none() {
            return Err(err());
        }
        Ok(Birthday { month, day, year })
    }

    pub fn to_iso(&self) -> String {
        match self.year {
            Some(y) => format!("{y:04}-{:02}-{:02}", self.month, self.day),
            None => format!("--{:02}-{:02}", self.month, self.day),
        }
    }
}

/// A channel a customer may agree to be contacted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentChannel {
    Email,
    Sms,
    Whatsapp,
}

impl ConsentChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentChannel::Email => "email",
            ConsentChannel::Sms => "sms",
            ConsentChannel::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "email" => Ok(ConsentChannel::Email),
            "sms" => Ok(ConsentChannel::Sms),
            "whatsapp" => Ok(ConsentChannel::Whatsapp),
            _ => Err(FieldError::new(
                "channel",
                "invalid_channel",
                format!("{s:?} is not a consent channel (email, sms or whatsapp)"),
            )),
        }
    }
}

/// What a customer agreed to (or withdrew), with the record RELIABILITY P1 asks for.
/// Stored as an append-only event; a withdrawal is a new event, never an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChange {
    pub channel: ConsentChannel,
    pub granted: bool,
    /// When the customer decided (the source's time); defaults to when we heard of it.
    pub at: Option<Timestamp>,
    /// Where it was collected: `shopify`, `woocommerce`, `api`, `csv_import`, `checkout` …
    pub collected_via: String,
    /// Version label of the notice the customer saw, and its text (hashed when stored).
    pub notice_version: Option<String>,
    pub notice_text: Option<String>,
    pub language: Option<Locale>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ConsentChange {
    pub fn new(channel: ConsentChannel, granted: bool, collected_via: &str) -> Self {
        ConsentChange {
            channel,
            granted,
            at: None,
            collected_via: collected_via.to_string(),
            notice_version: None,
            notice_text: None,
            language: None,
            ip: None,
            user_agent: None,
        }
    }
}

/// Something the customer did that a shop wants on the timeline (and later, to earn on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInput {
    /// The caller's id for this event; a second event with the same id is the same event.
    pub external_id: Option<String>,
    pub name: String,
    pub occurred_at: Timestamp,
    pub properties: serde_json::Value,
}

impl EventInput {
    pub fn validate(&self) -> Result<(), FieldError> {
        let n = self.name.trim();
        if n.is_empty() || n.len() > 100 {
            return Err(FieldError::new(
                "name",
                "invalid_event_name",
                "event name must be 1 to 100 characters",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdays() {
        assert_eq!(Birthday::parse("1990-05-17").unwrap().to_iso(), "1990-05-17");
        let b = Birthday::parse("--02-29").unwrap();
        assert_eq!((b.month, b.day, b.year), (2, 29, None));
        assert_eq!(Birthday::parse("02-29").unwrap(), b);
        assert!(Birthday::parse("1991-02-29").is_err());
        assert!(Birthday::parse("13-01").is_err());
        assert!(Birthday::parse("soon").is_err());
    }

    #[test]
    fn normalise_drops_empty_text_and_sorts_tags() {
        let mut c = CustomerInput {
            first_name: Some("  ".into()),
            last_name: Some(" Rao ".into()),
            tags: Some(vec![" vip".into(), "".into(), "bronze".into(), "vip".into()]),
            ..Default::default()
        };
        c.normalise();
        assert_eq!(c.first_name, None);
        assert_eq!(c.last_name.as_deref(), Some("Rao"));
        assert_eq!(c.tags, Some(vec!["bronze".to_string(), "vip".to_string()]));
        assert!(c.is_anonymous());
        assert_eq!(
            split_tags("Bronze VIP, loyal-app_new,"),
            vec!["Bronze VIP", "loyal-app_new"]
        );
    }
}
