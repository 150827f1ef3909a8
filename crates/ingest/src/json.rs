//! Reading loosely-typed shop JSON exactly: ids as text (never through f64), money through its
//! decimal text.

use regulars_domain::{Currency, FieldError, Money, Timestamp};
use serde_json::Value;

/// A non-empty string field.
pub fn text(v: &Value, key: &str) -> Option<String> {
    match &v[key] {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

/// An id given as a JSON integer or string, as decimal text. serde_json keeps integers up to
/// 2^64 exact, so Shopify's ids above 2^53 survive.
pub fn id(v: &Value, key: &str) -> Option<String> {
    match &v[key] {
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()).filter(|s| s != "0"),
        Value::String(s) if !s.trim().is_empty() && s.trim() != "0" => Some(s.trim().to_string()),
        _ => None,
    }
}

pub fn required_id(v: &Value, key: &str) -> Result<String, FieldError> {
    id(v, key).ok_or_else(|| FieldError::new(key, "missing_field", format!("{key} is missing or not an id")))
}

/// Money given as a decimal string (or a JSON number, read through its text), in `currency`.
pub fn money(v: &Value, key: &str, currency: Currency) -> Result<Option<i64>, FieldError> {
    let raw = match &v[key] {
        Value::Null => return Ok(None),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(FieldError::new(
                key,
                "invalid_money",
                format!("{key} is not an amount"),
            ))
        }
    };
    Money::parse_major(&raw, currency)
        .map(|m| Some(m.minor))
        .map_err(|e| e.at(key))
}

pub fn money_or_zero(v: &Value, key: &str, currency: Currency) -> Result<i64, FieldError> {
    money(v, key, currency).map(Option::unwrap_or_default)
}

pub fn time(v: &Value, key: &str) -> Result<Option<Timestamp>, FieldError> {
    match text(v, key) {
        None => Ok(None),
        Some(s) => Timestamp::parse_flexible(&s, chrono_tz::UTC)
            .map(Some)
            .map_err(|e| e.at(key)),
    }
}

pub fn integer(v: &Value, key: &str) -> Result<i64, FieldError> {
    match &v[key] {
        Value::Number(n) if n.is_i64() => Ok(n.as_i64().expect("checked")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| FieldError::new(key, "invalid_number", format!("{key} is not a whole number"))),
        _ => Err(FieldError::new(
            key,
            "invalid_number",
            format!("{key} is not a whole number"),
        )),
    }
}

pub fn parse_body(body: &[u8]) -> Result<Value, FieldError> {
    serde_json::from_slice(body)
        .map_err(|e| FieldError::new("", "malformed_json", format!("the body is not JSON: {e}")))
}
