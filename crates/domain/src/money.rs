use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// An ISO 4217 currency code with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const INR: Currency = Currency(*b"INR");
    pub const AMD: Currency = Currency(*b"AMD");
    pub const USD: Currency = Currency(*b"USD");
    pub const EUR: Currency = Currency(*b"EUR");

    /// Accepts any three ASCII letters (case-insensitive): shops trade in currencies we have
    /// never heard of, and the exponent defaults to ISO's most common value, 2.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let t = s.trim();
        let b = t.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Currency([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(FieldError::new(
                "currency",
                "invalid_currency",
                format!("{s:?} is not an ISO 4217 currency code (three letters, e.g. INR)"),
            ))
        }
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("validated ASCII")
    }

    /// Digits after the decimal point in this currency's minor unit (ISO 4217).
    pub fn exponent(&self) -> u32 {
        match &self.0 {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG" | b"RWF"
            | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            b"CLF" | b"UYW" => 4,
            _ => 2,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An exact amount: integer minor units (paise, luma, cents) of one currency. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Parse a decimal string in major units (`"1499.00"`, `"-3.5"`, `"1499"`) exactly.
    /// More fraction digits than the currency has are refused unless they are zeros, so
    /// `"10.005"` USD is an error rather than a silent rounding.
    pub fn parse_major(s: &str, currency: Currency) -> Result<Money, FieldError> {
        parse_minor(s, currency.exponent()).map(|minor| Money { minor, currency })
    }

    /// The amount as a decimal string in major units, e.g. `"1499.00"`.
    pub fn to_major_string(&self) -> String {
        format_minor(self.minor, self.currency.exponent())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_major_string(), self.currency)
    }
}

fn invalid(s: &str, why: &str) -> FieldError {
    FieldError::new("", "invalid_money", format!("{s:?} is not a valid amount: {why}"))
}

/// Decimal string → integer minor units with `exponent` fraction digits.
pub fn parse_minor(s: &str, exponent: u32) -> Result<i64, FieldError> {
    let t = s.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(invalid(s, "no digits"));
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(s, "expected digits with an optional '.' (e.g. 1499.00)"));
    }
    let exp = exponent as usize;
    let (kept, dropped) = frac_part.split_at(frac_part.len().min(exp));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(invalid(s, &format!("more than {exponent} decimal places")));
    }
    let mut minor: i64 = 0;
    for b in int_part
        .bytes()
        .chain(kept.bytes())
        .chain(std::iter::repeat_n(b'0', exp - kept.len()))
    {
        minor = minor
            .checked_mul(10)
            .and_then(|m| m.checked_add(i64::from(b - b'0')))
            .ok_or_else(|| invalid(s, "too large"))?;
    }
    Ok(if negative { -minor } else { minor })
}

/// Integer minor units → decimal string with `exponent` fraction digits.
pub fn format_minor(minor: i64, exponent: u32) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exactly() {
        let inr = Currency::INR;
        assert_eq!(Money::parse_major("1499.00", inr).unwrap().minor, 149_900);
        assert_eq!(Money::parse_major("1499", inr).unwrap().minor, 149_900);
        assert_eq!(Money::parse_major("0.1", inr).unwrap().minor, 10);
        assert_eq!(Money::parse_major("-3.50", inr).unwrap().minor, -350);
        assert_eq!(Money::parse_major(".5", inr).unwrap().minor, 50);
        assert_eq!(Money::parse_major("10.500", inr).unwrap().minor, 1050);
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(Money::parse_major("1200", jpy).unwrap().minor, 1200);
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::parse_major("1.234", kwd).unwrap().minor, 1234);
    }

    #[test]
    fn refuses_what_it_cannot_represent() {
        let usd = Currency::USD;
        for bad in [
            "10.005",
            "",
            "-",
            "1e3",
            "1,499.00",
            "12.3.4",
            "abc",
            "99999999999999999999",
        ] {
            let err = Money::parse_major(bad, usd).unwrap_err();
            assert_eq!(err.code, "invalid_money", "{bad}");
        }
        assert!(Currency::parse("RUPEE").is_err());
        assert!(Currency::parse("₹").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(Money::new(149_900, Currency::INR).to_major_string(), "1499.00");
        assert_eq!(Money::new(-5, Currency::USD).to_major_string(), "-0.05");
        assert_eq!(format_minor(1200, 0), "1200");
    }

    proptest! {
        #[test]
        fn round_trips(minor in -10_000_000_000_000i64..10_000_000_000_000i64, exp in 0u32..4) {
            prop_assert_eq!(parse_minor(&format_minor(minor, exp), exp).unwrap(), minor);
        }
    }
}
