//! Translates what shops send into Regulars' normalised inputs: Shopify and WooCommerce webhook
//! bodies, Shopify CSV exports and any transaction log. Pure: the caller brings the bytes or a
//! reader, and every problem is reported with the field, row or line it concerns.

pub mod csv;
mod json;
pub mod shopify;
pub mod signals;
pub mod signature;
pub mod woocommerce;
