//! Shopify webhook bodies → normalised inputs. Verify the signature over the raw body first
//! (see [`crate::signature`]); these functions only read.

use regulars_domain::{
    split_tags, ConsentChange, ConsentChannel, Currency, CustomerInput, Email, FieldError, FinancialStatus,
    LineItemInput, OrderInput, Phone, RefundInput, RefundLineInput, Source, Timestamp,
};
use serde_json::Value;

use crate::json::{id, integer, money, money_or_zero, parse_body, required_id, text, time};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    OrdersCreate,
    OrdersPaid,
    OrdersUpdated,
    OrdersCancelled,
    RefundsCreate,
    CustomersCreate,
    CustomersUpdate,
    CustomersEmailMarketingConsentUpdate,
}

impl Topic {
    const ALL: [(Topic, &'static str); 8] = [
        (Topic::OrdersCreate, "orders/create"),
        (Topic::OrdersPaid, "orders/paid"),
        (Topic::OrdersUpdated, "orders/updated"),
        (Topic::OrdersCancelled, "orders/cancelled"),
        (Topic::RefundsCreate, "refunds/create"),
        (Topic::CustomersCreate, "customers/create"),
        (Topic::CustomersUpdate, "customers/update"),
        (
            Topic::CustomersEmailMarketingConsentUpdate,
            "customers/email_marketing_consent_update",
        ),
    ];

    /// From the `X-Shopify-Topic` header; `None` for topics Regulars does not use.
    pub fn parse(s: &str) -> Option<Topic> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == s.trim())
            .map(|(t, _)| *t)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map(|(_, n)| *n)
            .expect("every topic is listed")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Order(Box<OrderInput>),
    /// A refund's amounts are read in its order's currency, which the body does not always say:
    /// read it with [`refund`] once the order is known.
    Refund {
        order_external_id: String,
        body: Value,
    },
    Customer(CustomerInput),
    Consent {
        customer_external_id: String,
        change: ConsentChange,
    },
}

pub fn parse(topic: Topic, body: &[u8]) -> Result<Payload, FieldError> {
    let v = parse_body(body)?;
    match topic {
        Topic::OrdersCreate | Topic::OrdersPaid | Topic::OrdersUpdated | Topic::OrdersCancelled => {
            order(&v).map(|o| Payload::Order(Box::new(o)))
        }
        Topic::RefundsCreate => Ok(Payload::Refund {
            order_external_id: required_id(&v, "order_id")?,
            body: v,
        }),
        Topic::CustomersCreate | Topic::CustomersUpdate => customer(&v).map(Payload::Customer),
        Topic::CustomersEmailMarketingConsentUpdate => {
            let customer_external_id = required_id(&v, "customer_id")?;
            let consent = &v["email_marketing_consent"];
            let change = consent_change(consent, ConsentChannel::Email).ok_or_else(|| {
                FieldError::new(
                    "email_marketing_consent.state",
                    "invalid_consent",
                    "no usable consent state",
                )
            })?;
            Ok(Payload::Consent {
                customer_external_id,
                change,
            })
        }
    }
}

/// Channels where Shopify's marketplace integrations put the sale.
const MARKETPLACES: [&str; 6] = ["amazon", "ebay", "etsy", "walmart", "flipkart", "google"];

pub fn order(v: &Value) -> Result<OrderInput, FieldError> {
    let external_id = required_id(v, "id")?;
    let currency = Currency::parse(&text(v, "currency").unwrap_or_default()).map_err(|e| e.at("currency"))?;
    let shipping = match money(&v["total_shipping_price_set"]["shop_money"], "amount", currency)? {
        Some(s) => s,
        None => v["shipping_lines"]
            .as_array()
            .map(|lines| {
                lines
                    .iter()
                    .map(|l| money_or_zero(l, "price", currency))
                    .sum::<Result<i64, _>>()
            })
            .transpose()
            .map_err(|e| e.within("shipping_lines"))?
            .unwrap_or(0),
    };
    let line_items = v["line_items"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| line(l, currency).map_err(|e| e.within(&format!("line_items[{i}]"))))
                .collect()
        })
        .transpose()?
        .unwrap_or_default();
    let refunds = v["refunds"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .enumerate()
                .map(|(i, r)| refund(r, currency).map_err(|e| e.within(&format!("refunds[{i}]"))))
                .collect()
        })
        .transpose()?
        .unwrap_or_default();
    let status = text(v, "financial_status").unwrap_or_else(|| "pending".into());
    let financial_status = match status.as_str() {
        "expired" => FinancialStatus::Voided,
        s => FinancialStatus::parse(s).map_err(|e| e.at("financial_status"))?,
    };
    let placed_at = time(v, "created_at")?
        .or(time(v, "processed_at")?)
        .ok_or_else(|| FieldError::new("created_at", "missing_field", "the order has no created_at"))?;
    let marketplace = text(v, "source_name")
        .map(|s| s.to_lowercase())
        .filter(|s| MARKETPLACES.iter().any(|m| s.contains(m)));
    let order = OrderInput {
        source: Source::Shopify,
        external_id,
        order_number: text(v, "name"),
        customer: order_customer(v)?,
        placed_at,
        source_updated_at: time(v, "updated_at")?,
        currency,
        subtotal: money_or_zero(v, "subtotal_price", currency)?,
        discount_total: money_or_zero(v, "total_discounts", currency)?,
        shipping_total: shipping,
        tax_total: money_or_zero(v, "total_tax", currency)?,
        total: money(v, "total_price", currency)?
            .ok_or_else(|| FieldError::new("total_price", "missing_field", "the order has no total_price"))?,
        financial_status,
        cancelled_at: time(v, "cancelled_at")?,
        line_items,
        discount_codes: v["discount_codes"]
            .as_array()
            .map(|codes| codes.iter().filter_map(|c| text(c, "code")).collect())
            .unwrap_or_default(),
        refunds,
        marketplace,
        buyer_accepts_marketing: v["buyer_accepts_marketing"].as_bool(),
        note: text(v, "note"),
    };
    Ok(order)
}

fn line(l: &Value, currency: Currency) -> Result<LineItemInput, FieldError> {
    Ok(LineItemInput {
        external_id: id(l, "id"),
        product_external_id: id(l, "product_id"),
        variant_external_id: id(l, "variant_id"),
        sku: text(l, "sku"),
        title: text(l, "title").or_else(|| text(l, "name")).unwrap_or_default(),
        quantity: integer(l, "quantity")?,
        unit_price: money_or_zero(l, "price", currency)?,
        discount: money_or_zero(l, "total_discount", currency)?,
    })
}

/// The customer of an order: the embedded customer, or a guest known by the order's contact.
fn order_customer(v: &Value) -> Result<Option<CustomerInput>, FieldError> {
    if v["customer"].is_object() {
        let mut c = customer(&v["customer"]).map_err(|e| e.within("customer"))?;
        if c.email.is_none() {
            c.email =
                Email::parse_optional(&text(v, "email").unwrap_or_default()).map_err(|e| e.at("email"))?;
        }
        return Ok(Some(c));
    }
    let email = text(v, "email").or_else(|| text(v, "contact_email"));
    let email = Email::parse_optional(&email.unwrap_or_default()).map_err(|e| e.at("email"))?;
    let phone = Phone::parse_optional(&text(v, "phone").unwrap_or_default()).map_err(|e| e.at("phone"))?;
    if email.is_none() && phone.is_none() {
        return Ok(None);
    }
    let billing = &v["billing_address"];
    let mut c = CustomerInput {
        source: Some(Source::Shopify),
        email,
        phone,
        first_name: text(billing, "first_name"),
        last_name: text(billing, "last_name"),
        has_account: Some(false),
        ..Default::default()
    };
    c.normalise();
    Ok(Some(c))
}

pub fn customer(v: &Value) -> Result<CustomerInput, FieldError> {
    let mut consents = Vec::new();
    if let Some(change) = consent_change(&v["email_marketing_consent"], ConsentChannel::Email) {
        consents.push(change);
    } else if let Some(accepts) = v["accepts_marketing"].as_bool() {
        // Before 2022 Shopify had one flag for email marketing.
        let mut change = ConsentChange::new(ConsentChannel::Email, accepts, "shopify");
        change.at = time(v, "accepts_marketing_updated_at")?;
        consents.push(change);
    }
    if let Some(change) = consent_change(&v["sms_marketing_consent"], ConsentChannel::Sms) {
        consents.push(change);
    }
    let mut c = CustomerInput {
        source: Some(Source::Shopify),
        external_id: id(v, "id"),
        email: Email::parse_optional(&text(v, "email").unwrap_or_default()).map_err(|e| e.at("email"))?,
        phone: Phone::parse_optional(&text(v, "phone").unwrap_or_default()).map_err(|e| e.at("phone"))?,
        first_name: text(v, "first_name"),
        last_name: text(v, "last_name"),
        locale: text(v, "locale").and_then(|l| regulars_domain::Locale::parse(&l).ok()),
        tags: v["tags"].as_str().map(split_tags),
        note: text(v, "note"),
        has_account: text(v, "state").map(|s| s == "enabled"),
        consents,
        created_at: time(v, "created_at")?,
        ..Default::default()
    };
    c.normalise();
    Ok(c)
}

/// `{state: subscribed|unsubscribed|not_subscribed|…, consent_updated_at}` → a change, when the
/// state says yes or no (pending, redacted or invalid say neither).
fn consent_change(consent: &Value, channel: ConsentChannel) -> Option<ConsentChange> {
    let granted = match consent["state"].as_str()? {
        "subscribed" => true,
        "unsubscribed" | "not_subscribed" => false,
        _ => return None,
    };
    let mut change = ConsentChange::new(channel, granted, "shopify");
    change.at = consent["consent_updated_at"]
        .as_str()
        .and_then(|t| Timestamp::parse_rfc3339(t).ok());
    change.notice_version = consent["opt_in_level"].as_str().map(str::to_string);
    Some(change)
}

/// A refund (refunds/create body, or one embedded in an order) in its order's currency. The
/// amount is what was paid back (successful refund transactions), else the refunded lines.
pub fn refund(v: &Value, currency: Currency) -> Result<RefundInput, FieldError> {
    let lines = v["refund_line_items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let subtotal = money_or_zero(item, "subtotal", currency)?;
                    let tax = money_or_zero(item, "total_tax", currency)?;
                    Ok(RefundLineInput {
                        line_external_id: id(item, "line_item_id"),
                        sku: text(&item["line_item"], "sku"),
                        quantity: integer(item, "quantity")?,
                        amount: subtotal + tax,
                    })
                    .map_err(|e: FieldError| e.within(&format!("refund_line_items[{i}]")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    let paid_back: Option<i64> = v["transactions"].as_array().map(|ts| {
        ts.iter()
            .filter(|t| t["kind"] == "refund" && t["status"] == "success")
            .filter_map(|t| money(t, "amount", currency).ok().flatten())
            .sum()
    });
    let amount = match paid_back {
        Some(a) if a > 0 => a,
        _ => lines.iter().map(|l| l.amount).sum(),
    };
    Ok(RefundInput {
        external_id: required_id(v, "id")?,
        created_at: time(v, "created_at")?
            .or(time(v, "processed_at")?)
            .unwrap_or_else(Timestamp::now),
        amount,
        reason: text(v, "note"),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str, key: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../../shared/fixtures/shopify/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        serde_json::to_vec(&v[key]).unwrap()
    }

    #[test]
    fn the_fixture_order_reads_exactly() {
        let Payload::Order(o) = parse(
            Topic::OrdersCreate,
            &fixture("rest_order.shopify-api-ruby.json", "order"),
        )
        .unwrap() else {
            panic!("an order");
        };
        assert_eq!(o.external_id, "450789469");
        assert_eq!(o.order_number.as_deref(), Some("#1001"));
        assert_eq!((o.currency.code(), o.total), ("USD", 40994));
        assert_eq!(o.financial_status, FinancialStatus::Authorized);
        assert_eq!(o.line_items.len(), 3);
        assert_eq!(o.line_items[0].sku.as_deref(), Some("IPOD2008GREEN"));
        assert_eq!(o.line_items[0].unit_price, 19900);
        let c = o.customer.as_ref().unwrap();
        assert_eq!(c.external_id.as_deref(), Some("207119551"));
        assert_eq!(c.email.as_ref().unwrap().as_str(), "bob.norman@hostmail.com");
        assert!(o.validate().is_ok());
    }

    #[test]
    fn ids_above_two_to_the_53_survive() {
        let mut v: Value =
            serde_json::from_slice(&fixture("rest_order.shopify-api-ruby.json", "order")).unwrap();
        v["id"] = serde_json::from_str("9007199254740993").unwrap();
        v["customer"]["id"] = serde_json::from_str("18446744073709551615").unwrap();
        let o = order(&v).unwrap();
        assert_eq!(o.external_id, "9007199254740993");
        assert_eq!(
            o.customer.unwrap().external_id.as_deref(),
            Some("18446744073709551615")
        );
    }

    #[test]
    fn the_fixture_refund_reads_the_money_paid_back() {
        let body = fixture("rest_refund.shopify-api-ruby.json", "refund");
        let Payload::Refund {
            order_external_id,
            body,
        } = parse(Topic::RefundsCreate, &body).unwrap()
        else {
            panic!("a refund");
        };
        assert_eq!(order_external_id, "450789469");
        let r = refund(&body, Currency::USD).unwrap();
        assert_eq!(r.external_id, "509562969");
        assert_eq!(r.amount, 20900);
        assert_eq!(r.lines.len(), 2);
        assert_eq!(r.lines[0].line_external_id.as_deref(), Some("703073504"));
    }

    #[test]
    fn customers_and_consent() {
        let c = customer(
            &serde_json::from_slice(&fixture("rest_customers.shopify-api-ruby.json", "customer")).unwrap(),
        )
        .unwrap();
        assert!(c.external_id.is_some());
        assert!(c.email.is_some());
        assert_eq!(
            c.consents.len(),
            1,
            "the older accepts_marketing flag is email consent"
        );
        let body = br#"{"customer_id": 7000000000001, "email_address": "a@b.co",
            "email_marketing_consent": {"state": "unsubscribed", "opt_in_level": "single_opt_in", "consent_updated_at": "2025-01-01T00:00:00Z"}}"#;
        let Payload::Consent {
            customer_external_id,
            change,
        } = parse(Topic::CustomersEmailMarketingConsentUpdate, body).unwrap()
        else {
            panic!("consent");
        };
        assert_eq!(customer_external_id, "7000000000001");
        assert!(!change.granted);
        assert_eq!(
            change.at,
            Some(Timestamp::parse_rfc3339("2025-01-01T00:00:00Z").unwrap())
        );
    }

    #[test]
    fn bad_payloads_name_the_field() {
        assert_eq!(
            parse(Topic::OrdersCreate, b"not json").unwrap_err().code,
            "malformed_json"
        );
        let mut v: Value =
            serde_json::from_slice(&fixture("rest_order.shopify-api-ruby.json", "order")).unwrap();
        v["line_items"][1]["price"] = Value::from("1.2.3");
        assert_eq!(order(&v).unwrap_err().field, "line_items[1].price");
        assert_eq!(Topic::parse("orders/create"), Some(Topic::OrdersCreate));
        assert_eq!(Topic::parse("products/create"), None);
    }
}
