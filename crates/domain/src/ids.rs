use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::FieldError;

/// A fresh time-ordered identifier (UUIDv7), so new rows append to the end of indexes.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(new_id())
            }
            pub fn parse(s: &str) -> Result<Self, FieldError> {
                Uuid::parse_str(s.trim())
                    .map(Self)
                    .map_err(|_| FieldError::new("", "invalid_id", format!("{s:?} is not a valid id")))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(
    /// A store: the tenant boundary. Nothing crosses it.
    StoreId
);
uuid_id!(CustomerId);
uuid_id!(OrderId);
uuid_id!(ApiKeyId);
uuid_id!(
    /// A person on a store's team (staff), who may belong to several stores.
    UserId
);

/// Where a record came from. External ids are unique per (store, source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Our own JSON API (external ids chosen by the caller).
    Api,
    Shopify,
    Woocommerce,
    /// A generic transaction log imported from a file.
    Transactions,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Api,
        Source::Shopify,
        Source::Woocommerce,
        Source::Transactions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Shopify => "shopify",
            Source::Woocommerce => "woocommerce",
            Source::Transactions => "transactions",
        }
    }

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|src| src.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                FieldError::new(
                    "source",
                    "invalid_source",
                    format!("unknown source {s:?} (expected api, shopify, woocommerce or transactions)"),
                )
            })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered() {
        let a = StoreId::new();
        let b = StoreId::new();
        assert!(a < b);
        assert_eq!(StoreId::parse(&a.to_string()).unwrap(), a);
        assert_eq!(StoreId::parse("nope").unwrap_err().code, "invalid_id");
    }

    #[test]
    fn sources_round_trip() {
        for s in Source::ALL {
            assert_eq!(Source::parse(s.as_str()).unwrap(), s);
        }
        assert_eq!(Source::parse(" Shopify ").unwrap(), Source::Shopify);
        assert!(Source::parse("magento").is_err());
    }
}
