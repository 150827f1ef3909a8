//! A shopping cart as a shop describes it at checkout: what coupons are validated against and
//! what the checkout-perks answer is computed for. Amounts are integer minor units.

use serde::{Deserialize, Serialize};

use crate::{Currency, FieldError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    /// The shop's product id (Shopify product id, WooCommerce product id, or the API's own).
    pub product_id: Option<String>,
    pub sku: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub quantity: i64,
    /// Price of one unit, minor units, before any discount.
    pub unit_price: i64,
}

impl CartLine {
    pub fn amount(&self) -> i64 {
        self.quantity.saturating_mul(self.unit_price)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub currency: Currency,
    pub lines: Vec<CartLine>,
    /// The shipping the shop would charge before perks, minor units.
    pub shipping: i64,
}

impl Cart {
    /// What the lines add up to, minor units (before discounts and shipping).
    pub fn subtotal(&self) -> i64 {
        self.lines.iter().map(CartLine::amount).sum()
    }

    /// Refuses carts no checkout could have: negative amounts, zero quantities.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.shipping < 0 {
            return Err(FieldError::new(
                "cart.shipping",
                "negative_amount",
                "shipping cannot be negative",
            ));
        }
        for (i, line) in self.lines.iter().enumerate() {
            if line.quantity <= 0 {
                return Err(FieldError::new(
                    format!("cart.lines[{i}].quantity"),
                    "invalid_quantity",
                    "quantity must be at least 1",
                ));
            }
            if line.unit_price < 0 {
                return Err(FieldError::new(
                    format!("cart.lines[{i}].unit_price"),
                    "negative_amount",
                    "unit price cannot be negative",
                ));
            }
        }
        Ok(())
    }
}

/// What a coupon or a reward gives: shared by the coupon engine, the rewards catalog, tier
/// benefits and the checkout-perks answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discount {
    /// A fixed amount off the cart, minor units of the store's currency.
    Fixed {
        amount: i64,
    },
    /// A share of the cart off, in basis points (1,000 = 10 %).
    Percent {
        basis_points: i64,
    },
    FreeShipping,
    /// One unit of a product free (by SKU).
    FreeProduct {
        sku: String,
    },
    /// Something given beside the order (a sample, a tote bag): described, not priced.
    Gift {
        description: String,
    },
}
