use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// An email address, trimmed and lower-cased so the same person is found however they typed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim().to_lowercase();
        let err = |why: &str| {
            FieldError::new(
                "email",
                "invalid_email",
                format!("{s:?} is not an email address: {why}"),
            )
        };
        let (local, domain) = t.split_once('@').ok_or_else(|| err("no '@'"))?;
        if local.is_empty() || domain.is_empty() {
            return Err(err("empty name or domain"));
        }
        if domain.contains('@') || t.chars().any(char::is_whitespace) {
            return Err(err("unexpected '@' or space"));
        }
        if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
            return Err(err("malformed domain"));
        }
        if t.len() > 254 {
            return Err(err("longer than 254 characters"));
        }
        Ok(Email(t))
    }

    /// `None` for an empty cell, an error for a non-empty invalid one.
    pub fn parse_optional(s: &str) -> Result<Option<Self>, FieldError> {
        if s.trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(s).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number reduced to an optional leading `+` and digits. Spreadsheet quoting (`'+91…`),
/// spaces, dots, dashes and brackets are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim().trim_start_matches('\'');
        let mut out = String::with_capacity(t.len());
        for (i, c) in t.chars().enumerate() {
            match c {
                '+' if i == 0 => out.push('+'),
                '0'..='9' => out.push(c),
                ' ' | '-' | '.' | '(' | ')' | '\u{a0}' => {}
                _ => {
                    return Err(FieldError::new(
                        "phone",
                        "invalid_phone",
                        format!("{s:?} is not a phone number: unexpected {c:?}"),
                    ))
                }
            }
        }
        let digits = out.trim_start_matches('+').len();
        if !(5..=15).contains(&digits) {
            return Err(FieldError::new(
                "phone",
                "invalid_phone",
                format!("{s:?} is not a phone number: expected 5 to 15 digits, found {digits}"),
            ));
        }
        Ok(Phone(out))
    }

    pub fn parse_optional(s: &str) -> Result<Option<Self>, FieldError> {
        if s.trim().trim_start_matches('\'').trim().is_empty() {
            Ok(None)
        } else {
            Self::parse(s).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_normalise() {
        assert_eq!(
            Email::parse("  Priya.S@Example.COM ").unwrap().as_str(),
            "priya.s@example.com"
        );
        assert_eq!(Email::parse_optional("  ").unwrap(), None);
        for bad in [
            "priya",
            "@x.com",
            "a@",
            "a b@x.com",
            "a@@x.com",
            "a@.com",
            "a@x..com",
        ] {
            assert_eq!(Email::parse(bad).unwrap_err().code, "invalid_email", "{bad}");
        }
    }

    #[test]
    fn phones_normalise() {
        assert_eq!(
            Phone::parse("'+92 300 0000000").unwrap().as_str(),
            "+923000000000"
        );
        assert_eq!(Phone::parse("(555) 555-5555").unwrap().as_str(), "5555555555");
        assert_eq!(Phone::parse("'0300 0000000").unwrap().as_str(), "03000000000");
        assert_eq!(Phone::parse_optional("'").unwrap(), None);
        assert!(Phone::parse("call me").is_err());
        assert!(Phone::parse("12").is_err());
        assert!(Phone::parse("1+2345678").is_err());
    }
}
