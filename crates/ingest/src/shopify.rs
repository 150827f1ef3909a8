//! Shopify webhook bodies → normalised inputs. Verify the signature over the raw body first
//! (see [`crate::signature`]); these functions only read.

use regulars_domain::{
    split_tags, ConsentChange, ConsentChannel, Currency, CustomerInput, Email, FieldError, FinancialStatus,
    LineItemInput, OrderInput, OrderSignals, Phone, RefundInput, RefundLineInput, Source, Timestamp,
};
use serde_json::Value;

use crate::json::{id, integer, money, money_or_zero, parse_body, required_id, text, time};
use crate::signals;

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
        signals: order_signals(v),
    };
    Ok(order)
}

/// Where the order came from. Signals are a shop's hints, never a reason to refuse an order: a
/// value that cannot be read is left out.
fn order_signals(v: &Value) -> OrderSignals {
    let client = &v["client_details"];
    let address = |a: &Value| {
        signals::address(
            text(a, "address1").as_deref(),
            text(a, "zip").as_deref(),
            text(a, "country_code").or_else(|| text(a, "country")).as_deref(),
        )
    };
    let card = &v["payment_details"];
    OrderSignals {
        referral_code: referral_code(v),
        browser_ip: [&v["browser_ip"], &client["browser_ip"]]
            .into_iter()
            .find_map(|ip| ip.as_str().and_then(signals::browser_ip)),
        device: text(client, "session_hash").or_else(|| text(client, "user_agent")),
        shipping_address: address(&v["shipping_address"]).or_else(|| address(&v["billing_address"])),
        payment_fingerprint: signals::payment_fingerprint(
            text(card, "credit_card_company").as_deref(),
            scalar(card, "credit_card_bin").as_deref(),
            text(card, "credit_card_number").as_deref(),
        ),
    }
}

/// A referral code passed with the order: a note attribute (a checkout field), else the `ref`
/// parameter of the landing page. Shopify's `landing_site_ref` holds the `ref` or the `source`
/// parameter of the landing page, so it only counts when the landing page itself is unknown.
fn referral_code(v: &Value) -> Option<String> {
    let from_attributes = v["note_attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|a| {
            let name = a["name"].as_str()?.trim();
            if !signals::REFERRAL_KEYS
                .iter()
                .any(|k| name.eq_ignore_ascii_case(k))
            {
                return None;
            }
            scalar(a, "value").and_then(|c| signals::referral_code(&c))
        });
    from_attributes.or_else(|| match text(v, "landing_site") {
        Some(landing) => signals::ref_parameter(&landing),
        None => text(v, "landing_site_ref").and_then(|c| signals::referral_code(&c)),
    })
}

/// A string or a number, as trimmed text.
fn scalar(v: &Value, key: &str) -> Option<String> {
    match &v[key] {
        Value::Number(n) => Some(n.to_string()),
        _ => text(v, key),
    }
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

    fn fixture_order() -> Value {
        serde_json::from_slice(&fixture("rest_order.shopify-api-ruby.json", "order")).unwrap()
    }

    #[test]
    fn the_fixture_order_carries_its_address_and_card() {
        let o = order(&fixture_order()).unwrap();
        assert_eq!(
            o.signals,
            OrderSignals {
                // landing_site has no `ref`; its landing_site_ref "abc" comes from `source=abc`.
                referral_code: None,
                // client_details.browser_ip is the placeholder 0.0.0.0.
                browser_ip: None,
                device: None,
                shipping_address: Some("us|40202|chestnutstreet92".into()),
                // credit_card_bin is null: the BIN part stays empty.
                payment_fingerprint: Some("visa::4242".into()),
            }
        );
    }

    #[test]
    fn referral_codes_come_from_note_attributes_then_the_landing_page() {
        let mut v = fixture_order();
        v["note_attributes"] = serde_json::json!([
            {"name": "colour", "value": "green"},
            {"name": "referral_code", "value": "anna-7k3q"}
        ]);
        assert_eq!(
            order(&v).unwrap().signals.referral_code.as_deref(),
            Some("ANNA-7K3Q")
        );

        v["note_attributes"] = serde_json::json!([{"name": " Referred_By ", "value": " ravi-23ab "}]);
        v["landing_site"] = Value::from("/?ref=OTHER-1");
        assert_eq!(
            order(&v).unwrap().signals.referral_code.as_deref(),
            Some("RAVI-23AB"),
            "the checkout field wins over the landing page"
        );

        v["note_attributes"] = serde_json::json!([{"name": "ref", "value": "not a code!"}]);
        v["landing_site"] = Value::from("/?ref=RAVI-23AB&utm=x");
        assert_eq!(
            order(&v).unwrap().signals.referral_code.as_deref(),
            Some("RAVI-23AB"),
            "an attribute that is no code gives way to the landing page"
        );

        v["landing_site"] =
            Value::from("https://shop.example/collections/tea?utm_source=ig&ref=ravi-23ab#top");
        assert_eq!(
            order(&v).unwrap().signals.referral_code.as_deref(),
            Some("RAVI-23AB")
        );

        v["landing_site"] = Value::Null;
        v["landing_site_ref"] = Value::from("anna-7k3q");
        assert_eq!(
            order(&v).unwrap().signals.referral_code.as_deref(),
            Some("ANNA-7K3Q"),
            "landing_site_ref counts when the landing page is unknown"
        );
    }

    #[test]
    fn ip_device_and_the_billing_address_when_nothing_ships() {
        let mut v = fixture_order();
        v["browser_ip"] = Value::from(" 203.0.113.7 ");
        v["client_details"]["user_agent"] = Value::from("Mozilla/5.0 (iPhone)");
        v["shipping_address"] = Value::Null;
        v["billing_address"]["address1"] = Value::from("12 MG Road");
        v["billing_address"]["zip"] = Value::from("560 001");
        v["billing_address"]["country_code"] = Value::from("IN");
        v["payment_details"] = Value::Null;
        let s = order(&v).unwrap().signals;
        assert_eq!(s.browser_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(s.device.as_deref(), Some("Mozilla/5.0 (iPhone)"));
        assert_eq!(s.shipping_address.as_deref(), Some("in|560001|12mgroad"));
        assert_eq!(s.payment_fingerprint, None);

        v["browser_ip"] = Value::from("");
        v["client_details"]["browser_ip"] = Value::from("198.51.100.2");
        v["client_details"]["session_hash"] = Value::from("9ad3c0f1");
        v["payment_details"] = serde_json::json!({
            "credit_card_bin": "424242", "credit_card_number": "•••• •••• •••• 4242",
            "credit_card_company": "Visa"
        });
        let s = order(&v).unwrap().signals;
        assert_eq!(s.browser_ip.as_deref(), Some("198.51.100.2"));
        assert_eq!(s.device.as_deref(), Some("9ad3c0f1"), "the session hash wins");
        assert_eq!(s.payment_fingerprint.as_deref(), Some("visa:424242:4242"));
    }

    #[test]
    fn an_order_without_signals_serialises_as_before() {
        let mut v = fixture_order();
        for key in [
            "shipping_address",
            "billing_address",
            "payment_details",
            "client_details",
        ] {
            v[key] = Value::Null;
        }
        let o = order(&v).unwrap();
        assert!(o.signals.is_empty());
        let json = serde_json::to_value(&o).unwrap();
        assert!(json.get("signals").is_none(), "empty signals are left out");
        // Byte for byte what an order stored before signals existed fingerprinted.
        let with = order(&fixture_order()).unwrap();
        let mut before = serde_json::to_value(&with).unwrap();
        before.as_object_mut().unwrap().remove("signals").unwrap();
        let without = OrderInput {
            signals: OrderSignals::default(),
            ..with
        };
        assert_eq!(
            serde_json::to_vec(&without).unwrap(),
            serde_json::to_vec(&before).unwrap()
        );
        assert_eq!(
            regulars_domain::fingerprint(&without),
            regulars_domain::fingerprint(&before)
        );
        let back: OrderInput = serde_json::from_value(before).unwrap();
        assert_eq!(back, without, "stored orders read back without signals");
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
