//! Orders and lines as a shop would send them, for tests that need data but are not about it.

use regulars_domain::{
    Currency, CustomerInput, Email, FinancialStatus, LineItemInput, OrderInput, Source, Timestamp,
};

/// One line of `quantity` × `unit_price` minor units.
pub fn line(sku: &str, title: &str, quantity: i64, unit_price: i64) -> LineItemInput {
    LineItemInput {
        external_id: None,
        product_external_id: None,
        variant_external_id: None,
        sku: Some(sku.into()),
        title: title.into(),
        quantity,
        unit_price,
        discount: 0,
    }
}

/// A paid API order of one line worth `total`, by the customer `customer_ext`
/// (`customer_ext@example.in`).
pub fn paid_order(
    external_id: &str,
    customer_ext: &str,
    currency: Currency,
    total: i64,
    placed_at: Timestamp,
) -> OrderInput {
    OrderInput {
        source: Source::Api,
        external_id: external_id.into(),
        order_number: None,
        customer: Some(CustomerInput {
            external_id: Some(customer_ext.into()),
            email: Some(Email::parse(&format!("{customer_ext}@example.in")).expect("valid email")),
            ..Default::default()
        }),
        placed_at,
        source_updated_at: None,
        currency,
        subtotal: total,
        discount_total: 0,
        shipping_total: 0,
        tax_total: 0,
        total,
        financial_status: FinancialStatus::Paid,
        cancelled_at: None,
        line_items: vec![line("TEA", "Tea", 1, total)],
        discount_codes: vec![],
        refunds: vec![],
        marketplace: None,
        buyer_accepts_marketing: None,
        note: None,
        signals: Default::default(),
    }
}
