use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// A BCP 47 language tag such as `en`, `hi-IN`, `te`, `hy-AM` (underscores accepted on input).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Locale(String);

impl Locale {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let err = || {
            FieldError::new(
                "locale",
                "invalid_locale",
                format!("{s:?} is not a language tag (e.g. en, hi-IN, te, hy)"),
            )
        };
        let t = s.trim().replace('_', "-");
        let mut parts = t.split('-');
        let lang = parts
            .next()
            .filter(|l| (2..=3).contains(&l.len()) && l.chars().all(|c| c.is_ascii_alphabetic()));
        let mut out = lang.ok_or_else(err)?.to_ascii_lowercase();
        for sub in parts {
            if sub.is_empty() || sub.len() > 8 || !sub.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(err());
            }
            out.push('-');
            // Region subtags are conventionally upper case, scripts title case.
            match sub.len() {
                2 => out.push_str(&sub.to_ascii_uppercase()),
                4 => {
                    out.push_str(&sub[..1].to_ascii_uppercase());
                    out.push_str(&sub[1..].to_ascii_lowercase());
                }
                _ => out.push_str(&sub.to_ascii_lowercase()),
            }
        }
        Ok(Locale(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language part: `hi` for `hi-IN`.
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }
}

impl TryFrom<String> for Locale {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Locale::parse(&s)
    }
}

impl From<Locale> for String {
    fn from(l: Locale) -> String {
        l.0
    }
}

impl fmt::Display for Locale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IANA time zone (`Asia/Kolkata`, `Asia/Yerevan`), used for all calendar logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(pub chrono_tz::Tz);

impl TimeZone {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        s.trim().parse::<chrono_tz::Tz>().map(TimeZone).map_err(|_| {
            FieldError::new(
                "timezone",
                "invalid_timezone",
                format!("{s:?} is not an IANA time zone (e.g. Asia/Kolkata)"),
            )
        })
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TimeZone::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales() {
        assert_eq!(Locale::parse("hi_in").unwrap().as_str(), "hi-IN");
        assert_eq!(Locale::parse("sr-latn-RS").unwrap().as_str(), "sr-Latn-RS");
        assert_eq!(Locale::parse("te").unwrap().language(), "te");
        for bad in ["", "english", "e", "en-", "en--US", "हि"] {
            assert!(Locale::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones() {
        assert_eq!(TimeZone::parse("Asia/Yerevan").unwrap().name(), "Asia/Yerevan");
        assert_eq!(
            TimeZone::parse("Mars/Olympus").unwrap_err().code,
            "invalid_timezone"
        );
    }
}
