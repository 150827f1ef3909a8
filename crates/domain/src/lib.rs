//! The vocabulary of Regulars: identifiers, money, contact details, time, and the normalised
//! shapes (`CustomerInput`, `OrderInput`, `RefundInput`, `EventInput`) that every source —
//! the JSON API, Shopify, WooCommerce, CSV files — is translated into before it is stored.
//!
//! Everything here is pure: parsing returns `Result<_, FieldError>` naming the offending field,
//! and nothing touches a database or the network.

mod access;
mod cart;
mod contact;
mod coupon;
mod customer;
mod error;
mod ids;
mod locale;
pub mod loyalty;
mod money;
mod order;
pub mod referral;
mod time;

pub use access::{Permission, Role};
pub use cart::{Cart, CartLine, Discount};
pub use contact::{Email, Phone};
pub use coupon::{
    check_coupon, check_discount, evaluate_cart, normalize_code, CodeGenerator, CodeInCart, CouponRules,
    CouponScope, Refusal, Usage, DEFAULT_CHARSET, DEFAULT_CODE_LENGTH, MAX_CODE_CHARS, MIN_CODE_CHARS,
};
pub use customer::{split_tags, Birthday, ConsentChange, ConsentChannel, CustomerInput, EventInput};
pub use error::FieldError;
pub use ids::{new_id, ApiKeyId, CustomerId, OrderId, Source, StoreId, UserId};
pub use locale::{Locale, TimeZone};
pub use money::{format_minor, parse_minor, Currency, Money};
pub use order::{FinancialStatus, LineItemInput, OrderInput, OrderSignals, RefundInput, RefundLineInput};
pub use time::Timestamp;

/// A stable fingerprint of a normalised input, used to tell "unchanged" from "updated" when the
/// same record arrives again (a webhook retry, a re-imported file).
pub fn fingerprint<T: serde::Serialize>(value: &T) -> String {
    use sha2::{Digest, Sha256};
    let bytes = serde_json::to_vec(value).expect("normalised inputs always serialise");
    hex::encode(&Sha256::digest(&bytes)[..16])
}
