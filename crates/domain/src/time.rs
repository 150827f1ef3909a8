use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};

use crate::FieldError;

/// An instant as integer milliseconds since the Unix epoch, UTC: portable across databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub fn from_datetime<Z: chrono::TimeZone>(dt: &DateTime<Z>) -> Self {
        Timestamp(dt.timestamp_millis())
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0).single().unwrap_or_default()
    }

    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// RFC 3339 with an offset, as every JSON API here speaks it.
    pub fn parse_rfc3339(s: &str) -> Result<Self, FieldError> {
        DateTime::parse_from_rfc3339(s.trim())
            .map(|dt| Self::from_datetime(&dt))
            .map_err(|_| {
                FieldError::new(
                    "",
                    "invalid_timestamp",
                    format!("{s:?} is not an RFC 3339 timestamp (e.g. 2025-03-20T05:20:57+05:30)"),
                )
            })
    }

    /// The forms shops export: RFC 3339, Shopify's `2025-03-20 05:20:57 -0700`, and zone-less
    /// `2017-03-22T19:28:02` / `2017-03-22 19:28:02` / `2017-03-22`, which are read in `zone`.
    pub fn parse_flexible(s: &str, zone: chrono_tz::Tz) -> Result<Self, FieldError> {
        let t = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(Self::from_datetime(&dt));
        }
        for fmt in [
            "%Y-%m-%d %H:%M:%S %z",
            "%Y-%m-%d %H:%M %z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
        ] {
            if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
                return Ok(Self::from_datetime(&dt));
            }
        }
        for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
                return Self::from_local(naive, zone, s);
            }
        }
        if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Self::from_local(date.and_hms_opt(0, 0, 0).expect("midnight exists"), zone, s);
        }
        Err(FieldError::new(
            "",
            "invalid_timestamp",
            format!("{s:?} is not a date and time this reader understands (e.g. 2025-03-20 05:20:57 -0700)"),
        ))
    }

    /// A wall-clock time in `zone`; a time skipped by a DST jump is an error, a repeated one
    /// takes the earlier instant.
    pub fn from_local(naive: NaiveDateTime, zone: chrono_tz::Tz, original: &str) -> Result<Self, FieldError> {
        zone.from_local_datetime(&naive)
            .earliest()
            .map(|dt| Self::from_datetime(&dt))
            .ok_or_else(|| {
                FieldError::new(
                    "",
                    "invalid_timestamp",
                    format!("{original:?} does not exist in {} (clock change)", zone.name()),
                )
            })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_shop_formats() {
        let utc = chrono_tz::UTC;
        let a = Timestamp::parse_flexible("2025-03-20 05:20:57 -0700", utc).unwrap();
        let b = Timestamp::parse_rfc3339("2025-03-20T12:20:57Z").unwrap();
        assert_eq!(a, b);
        let woo = Timestamp::parse_flexible("2017-03-22T19:28:02", utc).unwrap();
        assert_eq!(woo.to_rfc3339(), "2017-03-22T19:28:02.000Z");
        let kolkata = Timestamp::parse_flexible("2024-01-01", chrono_tz::Asia::Kolkata).unwrap();
        assert_eq!(kolkata.to_rfc3339(), "2023-12-31T18:30:00.000Z");
        assert!(Timestamp::parse_flexible("yesterday", utc).is_err());
        assert!(Timestamp::parse_rfc3339("2025-03-20 05:20:57").is_err());
    }
}
