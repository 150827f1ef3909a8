use serde::{Deserialize, Serialize};

use crate::{Currency, CustomerInput, FieldError, Source, Timestamp};

/// Payment state as the source reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinancialStatus {
    Pending,
    Authorized,
    Paid,
    PartiallyPaid,
    PartiallyRefunded,
    Refunded,
    Voided,
    Failed,
}

impl FinancialStatus {
    pub const ALL: [FinancialStatus; 8] = [
        FinancialStatus::Pending,
        FinancialStatus::Authorized,
        FinancialStatus::Paid,
        FinancialStatus::PartiallyPaid,
        FinancialStatus::PartiallyRefunded,
        FinancialStatus::Refunded,
        FinancialStatus::Voided,
        FinancialStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FinancialStatus::Pending => "pending",
            FinancialStatus::Authorized => "authorized",
            FinancialStatus::Paid => "paid",
            FinancialStatus::PartiallyPaid => "partially_paid",
            FinancialStatus::PartiallyRefunded => "partially_refunded",
            FinancialStatus::Refunded => "refunded",
            FinancialStatus::Voided => "voided",
            FinancialStatus::Failed => "failed",
        }
    }

    /// Accepts our names and the common spellings of Shopify, WooCommerce and CSV exports.
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let k = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let status = match k.as_str() {
            "pending" | "on_hold" | "unpaid" => FinancialStatus::Pending,
            "authorized" => FinancialStatus::Authorized,
            "paid" | "processing" | "completed" | "complete" | "success" | "succeeded" => {
                FinancialStatus::Paid
            }
            "partially_paid" => FinancialStatus::PartiallyPaid,
            "partially_refunded" => FinancialStatus::PartiallyRefunded,
            "refunded" => FinancialStatus::Refunded,
            "voided" | "cancelled" | "canceled" => FinancialStatus::Voided,
            "failed" => FinancialStatus::Failed,
            _ => {
                return Err(FieldError::new(
                    "financial_status",
                    "invalid_status",
                    format!("{s:?} is not a payment status (e.g. paid, pending, refunded)"),
                ))
            }
        };
        Ok(status)
    }

    /// Whether money changed hands (used later to decide whether an order earns).
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            FinancialStatus::Paid | FinancialStatus::PartiallyRefunded | FinancialStatus::Refunded
        )
    }
}

/// One order as a source describes it, all money in integer minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderInput {
    pub source: Source,
    /// The source's id (Shopify's exceed 2^53: text). Unique per (store, source).
    pub external_id: String,
    /// What the customer sees, e.g. `#1001`.
    pub order_number: Option<String>,
    /// `None` for an anonymous order; guests have an email but no account.
    pub customer: Option<CustomerInput>,
    pub placed_at: Timestamp,
    /// The source's last-modified time: an older update never overwrites a newer one.
    pub source_updated_at: Option<Timestamp>,
    pub currency: Currency,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub financial_status: FinancialStatus,
    pub cancelled_at: Option<Timestamp>,
    pub line_items: Vec<LineItemInput>,
    pub discount_codes: Vec<String>,
    pub refunds: Vec<RefundInput>,
    /// Set for orders sold through a marketplace (`amazon`, `flipkart` …).
    pub marketplace: Option<String>,
    pub buyer_accepts_marketing: Option<bool>,
    pub note: Option<String>,
    /// Where the order came from, for referral attribution and fraud checks. Left out of the
    /// fingerprint when empty, so orders stored before it existed stay unchanged.
    #[serde(default, skip_serializing_if = "OrderSignals::is_empty")]
    pub signals: OrderSignals,
}

/// What a shop tells about an order's origin beyond its contents. Raw values live only in
/// memory: storage keeps keyed hashes of the identifying ones, never the values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSignals {
    /// A referral code the shop passed with the order (a checkout field, a note attribute, the
    /// `ref` parameter of the landing page), beside any code among the discount codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_ip: Option<String>,
    /// What tells the buyer's device apart: a session hash or the user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// [`crate::referral::address_key`] of the shipping address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<String>,
    /// What identifies the card without being it: brand, BIN and last digits as the shop
    /// shows them (e.g. `visa:424242:4242`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_fingerprint: Option<String>,
}

impl OrderSignals {
    pub fn is_empty(&self) -> bool {
        self == &OrderSignals::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItemInput {
    pub external_id: Option<String>,
    pub product_external_id: Option<String>,
    pub variant_external_id: Option<String>,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: i64,
    /// Price of one unit before discounts, minor units.
    pub unit_price: i64,
    /// Discount on the whole line, minor units.
    pub discount: i64,
}

/// Money returned on an order, in the order's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundInput {
    pub external_id: String,
    pub created_at: Timestamp,
    pub amount: i64,
    pub reason: Option<String>,
    pub lines: Vec<RefundLineInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundLineInput {
    /// The refunded line, by the source's line id or else its SKU.
    pub line_external_id: Option<String>,
    pub sku: Option<String>,
    pub quantity: i64,
    pub amount: i64,
}

impl OrderInput {
    /// Status shown to people: cancellation wins over payment state.
    pub fn status(&self) -> &'static str {
        if self.cancelled_at.is_some() {
            "cancelled"
        } else {
            self.financial_status.as_str()
        }
    }

    /// Checks what a shop could not legitimately send; names the offending field.
    pub fn validate(&self) -> Result<(), FieldError> {
        let ext = self.external_id.trim();
        if ext.is_empty() || ext.len() > 255 {
            return Err(FieldError::new(
                "external_id",
                "invalid_external_id",
                "external_id must be 1 to 255 characters",
            ));
        }
        for (name, v) in [
            ("subtotal", self.subtotal),
            ("discount_total", self.discount_total),
            ("shipping_total", self.shipping_total),
            ("tax_total", self.tax_total),
            ("total", self.total),
        ] {
            if v < 0 {
                return Err(FieldError::new(
                    name,
                    "negative_amount",
                    format!("{name} cannot be negative"),
                ));
            }
        }
        for (i, line) in self.line_items.iter().enumerate() {
            let field = |f: &str| format!("line_items[{i}].{f}");
            if line.quantity <= 0 {
                return Err(FieldError::new(
                    field("quantity"),
                    "invalid_quantity",
                    "quantity must be at least 1",
                ));
            }
            if line.unit_price < 0 || line.discount < 0 {
                return Err(FieldError::new(
                    field("price"),
                    "negative_amount",
                    "price and discount cannot be negative",
                ));
            }
            if line.title.trim().is_empty() && line.sku.is_none() {
                return Err(FieldError::new(
                    field("title"),
                    "missing_field",
                    "a line item needs a title or a sku",
                ));
            }
        }
        if let Some(customer) = &self.customer {
            customer.validate().map_err(|e| e.within("customer"))?;
        }
        let mut refunded: i64 = 0;
        for (i, refund) in self.refunds.iter().enumerate() {
            refund
                .validate()
                .map_err(|e| e.within(&format!("refunds[{i}]")))?;
            refunded = refunded.saturating_add(refund.amount);
        }
        if refunded > self.total {
            return Err(FieldError::new(
                "refunds",
                "refund_exceeds_total",
                format!(
                    "refunds add up to {refunded} minor units, more than the order total {}",
                    self.total
                ),
            ));
        }
        Ok(())
    }
}

impl RefundInput {
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.external_id.trim().is_empty() {
            return Err(FieldError::new(
                "external_id",
                "missing_field",
                "a refund needs an external_id",
            ));
        }
        if self.amount < 0 {
            return Err(FieldError::new(
                "amount",
                "negative_amount",
                "a refund amount cannot be negative",
            ));
        }
        for (i, line) in self.lines.iter().enumerate() {
            if line.quantity < 0 || line.amount < 0 {
                return Err(FieldError::new(
                    format!("lines[{i}]"),
                    "negative_amount",
                    "refunded quantity and amount cannot be negative",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> OrderInput {
        OrderInput {
            source: Source::Api,
            external_id: "1001".into(),
            order_number: None,
            customer: None,
            placed_at: Timestamp(0),
            source_updated_at: None,
            currency: Currency::INR,
            subtotal: 1000,
            discount_total: 0,
            shipping_total: 0,
            tax_total: 0,
            total: 1000,
            financial_status: FinancialStatus::Paid,
            cancelled_at: None,
            line_items: vec![LineItemInput {
                external_id: None,
                product_external_id: None,
                variant_external_id: None,
                sku: Some("TEA-1".into()),
                title: "Masala chai".into(),
                quantity: 1,
                unit_price: 1000,
                discount: 0,
            }],
            discount_codes: vec![],
            refunds: vec![],
            marketplace: None,
            buyer_accepts_marketing: None,
            note: None,
            signals: Default::default(),
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(order().validate().is_ok());
        let mut o = order();
        o.line_items[0].quantity = 0;
        assert_eq!(o.validate().unwrap_err().field, "line_items[0].quantity");
        let mut o = order();
        o.refunds.push(RefundInput {
            external_id: "r1".into(),
            created_at: Timestamp(1),
            amount: 1001,
            reason: None,
            lines: vec![],
        });
        assert_eq!(o.validate().unwrap_err().code, "refund_exceeds_total");
        let mut o = order();
        o.total = -1;
        assert_eq!(o.validate().unwrap_err().field, "total");
    }

    #[test]
    fn statuses() {
        assert_eq!(
            FinancialStatus::parse("Partially Refunded").unwrap(),
            FinancialStatus::PartiallyRefunded
        );
        assert_eq!(
            FinancialStatus::parse("processing").unwrap(),
            FinancialStatus::Paid
        );
        for s in FinancialStatus::ALL {
            assert_eq!(FinancialStatus::parse(s.as_str()).unwrap(), s);
        }
        let mut o = order();
        o.cancelled_at = Some(Timestamp(5));
        assert_eq!(o.status(), "cancelled");
    }
}
