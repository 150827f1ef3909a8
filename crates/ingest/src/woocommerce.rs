//! WooCommerce webhook bodies → normalised inputs. Refunds arrive inside `order.updated`.

use regulars_domain::{
    Currency, CustomerInput, Email, FieldError, FinancialStatus, LineItemInput, OrderInput, OrderSignals,
    Phone, RefundInput, Source,
};
use serde_json::Value;

use crate::json::{id, integer, money, money_or_zero, parse_body, required_id, text, time};
use crate::signals;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    OrderCreated,
    OrderUpdated,
    CustomerCreated,
    CustomerUpdated,
}

impl Topic {
    /// From the `X-WC-Webhook-Topic` header; `None` for topics Regulars does not use.
    pub fn parse(s: &str) -> Option<Topic> {
        match s.trim() {
            "order.created" => Some(Topic::OrderCreated),
            "order.updated" => Some(Topic::OrderUpdated),
            "customer.created" => Some(Topic::CustomerCreated),
            "customer.updated" => Some(Topic::CustomerUpdated),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Order(Box<OrderInput>),
    Customer(Box<CustomerInput>),
}

/// The unsigned request WooCommerce sends when a webhook is created: a form body `webhook_id=N`.
pub fn is_ping(content_type: Option<&str>, body: &[u8]) -> bool {
    let form = content_type.is_none_or(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let text = std::str::from_utf8(body).unwrap_or_default().trim();
    form && text
        .strip_prefix("webhook_id=")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

pub fn parse(topic: Topic, body: &[u8]) -> Result<Payload, FieldError> {
    let v = parse_body(body)?;
    match topic {
        Topic::OrderCreated | Topic::OrderUpdated => order(&v).map(|o| Payload::Order(Box::new(o))),
        Topic::CustomerCreated | Topic::CustomerUpdated => {
            customer(&v).map(|c| Payload::Customer(Box::new(c)))
        }
    }
}

pub fn order(v: &Value) -> Result<OrderInput, FieldError> {
    let currency = Currency::parse(&text(v, "currency").unwrap_or_default()).map_err(|e| e.at("currency"))?;
    // `*_gmt` times carry no zone suffix and are UTC.
    let placed_at = time(v, "date_created_gmt")?.ok_or_else(|| {
        FieldError::new(
            "date_created_gmt",
            "missing_field",
            "the order has no date_created_gmt",
        )
    })?;
    let modified = time(v, "date_modified_gmt")?;
    let status = text(v, "status").unwrap_or_else(|| "pending".into());
    let financial_status = FinancialStatus::parse(&status).map_err(|e| e.at("status"))?;
    let mut line_items = Vec::new();
    let mut subtotal = 0;
    for (i, l) in v["line_items"].as_array().into_iter().flatten().enumerate() {
        let at = |e: FieldError| e.within(&format!("line_items[{i}]"));
        let line_subtotal = money_or_zero(l, "subtotal", currency).map_err(at)?;
        let line_total = money_or_zero(l, "total", currency).map_err(at)?;
        subtotal += line_subtotal;
        line_items.push(LineItemInput {
            external_id: id(l, "id"),
            product_external_id: id(l, "product_id"),
            variant_external_id: id(l, "variation_id"),
            sku: text(l, "sku"),
            title: text(l, "name").unwrap_or_default(),
            quantity: integer(l, "quantity").map_err(at)?,
            unit_price: money_or_zero(l, "price", currency).map_err(at)?,
            discount: (line_subtotal - line_total).max(0),
        });
    }
    let refunds = v["refunds"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let at = |e: FieldError| e.within(&format!("refunds[{i}]"));
            Ok(RefundInput {
                external_id: required_id(r, "id").map_err(at)?,
                created_at: modified.unwrap_or(placed_at),
                // WooCommerce lists refunds as negative totals.
                amount: money_or_zero(r, "total", currency).map_err(at)?.abs(),
                reason: text(r, "reason"),
                lines: vec![],
            })
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    Ok(OrderInput {
        source: Source::Woocommerce,
        external_id: required_id(v, "id")?,
        order_number: text(v, "number"),
        customer: order_customer(v)?,
        placed_at,
        source_updated_at: modified,
        currency,
        subtotal,
        discount_total: money_or_zero(v, "discount_total", currency)?,
        shipping_total: money_or_zero(v, "shipping_total", currency)?,
        tax_total: money_or_zero(v, "total_tax", currency)?,
        total: money(v, "total", currency)?
            .ok_or_else(|| FieldError::new("total", "missing_field", "the order has no total"))?,
        financial_status,
        cancelled_at: if status == "cancelled" {
            modified.or(Some(placed_at))
        } else {
            None
        },
        line_items,
        discount_codes: v["coupon_lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| text(c, "code"))
            .collect(),
        refunds,
        marketplace: None,
        buyer_accepts_marketing: None,
        note: text(v, "customer_note"),
        signals: order_signals(v),
    })
}

/// Order meta keys under which referral plugins and checkout fields pass a code, compared
/// case-insensitively.
const REFERRAL_META_KEYS: [&str; 3] = ["referral_code", "_referral_code", "ref"];

/// Where the order came from. Signals are a shop's hints, never a reason to refuse an order: a
/// value that cannot be read is left out. WooCommerce does not show the card (payment plugins
/// keep it to themselves), so there is no payment fingerprint.
fn order_signals(v: &Value) -> OrderSignals {
    let address = |a: &Value| {
        signals::address(
            text(a, "address_1").as_deref(),
            text(a, "postcode").as_deref(),
            text(a, "country").as_deref(),
        )
    };
    OrderSignals {
        referral_code: v["meta_data"].as_array().into_iter().flatten().find_map(|m| {
            let key = m["key"].as_str()?.trim();
            if !REFERRAL_META_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k)) {
                return None;
            }
            match &m["value"] {
                Value::String(s) => signals::referral_code(s),
                Value::Number(n) => signals::referral_code(&n.to_string()),
                _ => None,
            }
        }),
        browser_ip: v["customer_ip_address"].as_str().and_then(signals::browser_ip),
        device: text(v, "customer_user_agent"),
        shipping_address: address(&v["shipping"]).or_else(|| address(&v["billing"])),
        payment_fingerprint: None,
    }
}

/// The buyer: a registered customer (`customer_id` > 0) or a guest known by billing details.
fn order_customer(v: &Value) -> Result<Option<CustomerInput>, FieldError> {
    let billing = &v["billing"];
    let external_id = id(v, "customer_id");
    let email = Email::parse_optional(&text(billing, "email").unwrap_or_default())
        .map_err(|e| e.at("billing.email"))?;
    let phone = Phone::parse_optional(&text(billing, "phone").unwrap_or_default())
        .map_err(|e| e.at("billing.phone"))?;
    if external_id.is_none() && email.is_none() && phone.is_none() {
        return Ok(None);
    }
    let mut c = CustomerInput {
        source: Some(Source::Woocommerce),
        has_account: Some(external_id.is_some()),
        external_id,
        email,
        phone,
        first_name: text(billing, "first_name"),
        last_name: text(billing, "last_name"),
        ..Default::default()
    };
    c.normalise();
    Ok(Some(c))
}

pub fn customer(v: &Value) -> Result<CustomerInput, FieldError> {
    let billing = &v["billing"];
    let mut c = CustomerInput {
        source: Some(Source::Woocommerce),
        external_id: Some(required_id(v, "id")?),
        email: Email::parse_optional(&text(v, "email").unwrap_or_default()).map_err(|e| e.at("email"))?,
        phone: Phone::parse_optional(&text(billing, "phone").unwrap_or_default())
            .map_err(|e| e.at("billing.phone"))?,
        first_name: text(v, "first_name"),
        last_name: text(v, "last_name"),
        has_account: Some(true),
        created_at: time(v, "date_created_gmt")?,
        ..Default::default()
    };
    c.normalise();
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../../shared/fixtures/woocommerce/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn order_727_reads_the_same_from_the_docs_and_the_delivery() {
        let Payload::Order(docs) =
            parse(Topic::OrderCreated, &fixture("order_727.wc-rest-v3-docs.json")).unwrap()
        else {
            panic!("an order");
        };
        let Payload::Order(delivered) = parse(
            Topic::OrderCreated,
            &fixture("order_727.simulated-delivery-body.json"),
        )
        .unwrap() else {
            panic!("an order");
        };
        assert_eq!(docs, delivered);
        assert_eq!(
            (docs.external_id.as_str(), docs.total, docs.shipping_total),
            ("727", 2935, 1000)
        );
        assert_eq!(
            docs.placed_at.to_rfc3339(),
            "2017-03-22T19:28:02.000Z",
            "gmt times are UTC"
        );
        assert_eq!(docs.financial_status, FinancialStatus::Paid);
        let guest = docs.customer.as_ref().unwrap();
        assert_eq!(
            (guest.external_id.as_ref(), guest.has_account),
            (None, Some(false))
        );
        assert_eq!(guest.email.as_ref().unwrap().as_str(), "john.doe@example.com");
        assert!(docs.validate().is_ok());
    }

    #[test]
    fn every_listed_order_parses_and_refunds_are_positive() {
        let list: Vec<Value> = serde_json::from_slice(&fixture("orders_list.wc-rest-v3-docs.json")).unwrap();
        assert!(!list.is_empty());
        for v in &list {
            let o = order(v).unwrap();
            assert!(o.validate().is_ok(), "{}", o.external_id);
        }
        let mut v: Value = serde_json::from_slice(&fixture("order_727.wc-rest-v3-docs.json")).unwrap();
        v["refunds"] = serde_json::json!([{ "id": 726, "reason": "", "total": "-10.00" }]);
        let o = order(&v).unwrap();
        assert_eq!(o.refunds[0].amount, 1000);
    }

    #[test]
    fn the_fixture_orders_carry_their_signals() {
        let Payload::Order(o) =
            parse(Topic::OrderCreated, &fixture("order_727.wc-rest-v3-docs.json")).unwrap()
        else {
            panic!("an order");
        };
        assert_eq!(
            o.signals,
            OrderSignals {
                shipping_address: Some("us|94103|969market".into()),
                ..OrderSignals::default()
            },
            "an empty customer_ip_address and customer_user_agent are no signal"
        );
        let list: Vec<Value> = serde_json::from_slice(&fixture("orders_list.wc-rest-v3-docs.json")).unwrap();
        let signals: Vec<OrderSignals> = list.iter().map(|v| order(v).unwrap().signals).collect();
        assert_eq!(
            signals,
            vec![
                OrderSignals {
                    shipping_address: Some("us|94103|969market".into()),
                    ..OrderSignals::default()
                },
                OrderSignals {
                    // customer_ip_address is 127.0.0.1: the shop's own machine, not the buyer's.
                    browser_ip: None,
                    device: Some(
                        "mozilla/5.0 (x11; ubuntu; linux x86_64; rv:52.0) gecko/20100101 firefox/52.0".into()
                    ),
                    shipping_address: Some("br|12345000|avbrasil432".into()),
                    ..OrderSignals::default()
                },
            ]
        );
    }

    #[test]
    fn referral_meta_ip_and_the_billing_address_when_nothing_ships() {
        let mut v: Value = serde_json::from_slice(&fixture("order_727.wc-rest-v3-docs.json")).unwrap();
        v["meta_data"] = serde_json::json!([
            {"id": 1, "key": "_download_permissions_granted", "value": "yes"},
            {"id": 2, "key": "_referral_code", "value": " anna-7k3q "}
        ]);
        v["customer_ip_address"] = Value::from("203.0.113.7");
        v["customer_user_agent"] = Value::from("Mozilla/5.0 (Android)");
        v["shipping"]["address_1"] = Value::from("");
        v["billing"]["address_1"] = Value::from("12 MG Road");
        let s = order(&v).unwrap().signals;
        assert_eq!(
            s,
            OrderSignals {
                referral_code: Some("ANNA-7K3Q".into()),
                browser_ip: Some("203.0.113.7".into()),
                device: Some("Mozilla/5.0 (Android)".into()),
                shipping_address: Some("us|94103|12mgroad".into()),
                payment_fingerprint: None,
            }
        );
        v["meta_data"] = serde_json::json!([
            {"id": 1, "key": "REF", "value": "no way"},
            {"id": 2, "key": "referral_code", "value": "RAVI-23AB"}
        ]);
        assert_eq!(
            order(&v).unwrap().signals.referral_code.as_deref(),
            Some("RAVI-23AB"),
            "a value that is no code gives way to the next"
        );
    }

    #[test]
    fn customers_and_pings() {
        let Payload::Customer(c) =
            parse(Topic::CustomerCreated, &fixture("customer.wc-rest-v3-docs.json")).unwrap()
        else {
            panic!("a customer");
        };
        assert_eq!(c.external_id.as_deref(), Some("25"));
        assert_eq!(c.has_account, Some(true));
        assert_eq!(c.phone.as_ref().unwrap().as_str(), "5555555555");
        assert!(is_ping(
            Some("application/x-www-form-urlencoded"),
            b"webhook_id=42"
        ));
        assert!(is_ping(None, b"webhook_id=7"));
        assert!(!is_ping(Some("application/json"), b"webhook_id=42"));
        assert!(!is_ping(None, b"{\"id\": 1}"));
        assert_eq!(Topic::parse("coupon.created"), None);
    }
}
