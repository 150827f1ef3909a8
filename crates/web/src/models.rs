//! The JSON shapes of the API and their translation into the domain's inputs. Money travels as
//! a decimal string in major units beside its currency (`"total": "1499.00"`), never a float.

use std::collections::BTreeMap;

use regulars_domain::{
    Birthday, ConsentChange, ConsentChannel, Currency, CustomerInput, Email, EventInput, FieldError,
    FinancialStatus, LineItemInput, Locale, Money, OrderInput, OrderSignals, Phone, RefundInput,
    RefundLineInput, Source, Timestamp,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn money(value: &str, currency: Currency, field: &str) -> Result<i64, FieldError> {
    Money::parse_major(value, currency)
        .map(|m| m.minor)
        .map_err(|e| e.at(field))
}

fn opt_money(value: &Option<String>, currency: Currency, field: &str) -> Result<Option<i64>, FieldError> {
    value.as_deref().map(|v| money(v, currency, field)).transpose()
}

fn time(value: &str, field: &str) -> Result<Timestamp, FieldError> {
    Timestamp::parse_rfc3339(value).map_err(|e| e.at(field))
}

/// A customer as the API accepts it. Every field is optional; what is left out is kept.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    /// Your id for this customer (unique per store).
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// BCP 47 language tag: en, hi, te, hy …
    pub locale: Option<String>,
    /// `YYYY-MM-DD`, or `--MM-DD` without the year.
    pub birthday: Option<String>,
    /// Replaces the customer's tags when present.
    pub tags: Option<Vec<String>>,
    #[schema(value_type = Object)]
    pub attributes: Option<BTreeMap<String, serde_json::Value>>,
    pub note: Option<String>,
    pub acquisition_channel: Option<String>,
    /// What acquiring this customer cost, decimal string in the store currency.
    pub acquisition_cost: Option<String>,
    /// True for a registered account, false for a guest.
    pub has_account: Option<bool>,
    pub consent: Option<Vec<ConsentBody>>,
    /// RFC 3339.
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    /// email, sms or whatsapp.
    pub channel: String,
    pub granted: bool,
    /// When the customer decided (RFC 3339); defaults to now.
    pub at: Option<String>,
    /// Where it was collected (checkout, signup_form …); defaults to `api`.
    pub collected_via: Option<String>,
    pub notice_version: Option<String>,
    /// The notice text the customer saw; stored as a hash.
    pub notice_text: Option<String>,
    pub language: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl CustomerBody {
    pub fn into_input(self, store_currency: Currency) -> Result<CustomerInput, FieldError> {
        let consents = self
            .consent
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, c)| c.into_change().map_err(|e| e.within(&format!("consent[{i}]"))))
            .collect::<Result<Vec<_>, _>>()?;
        let mut input = CustomerInput {
            source: None,
            external_id: self.external_id,
            email: self
                .email
                .as_deref()
                .map(Email::parse_optional)
                .transpose()?
                .flatten(),
            phone: self
                .phone
                .as_deref()
                .map(Phone::parse_optional)
                .transpose()?
                .flatten(),
            first_name: self.first_name,
            last_name: self.last_name,
            locale: self.locale.as_deref().map(Locale::parse).transpose()?,
            birthday: self.birthday.as_deref().map(Birthday::parse).transpose()?,
            tags: self.tags,
            attributes: self.attributes.unwrap_or_default(),
            note: self.note,
            acquisition_channel: self.acquisition_channel,
            acquisition_cost: opt_money(&self.acquisition_cost, store_currency, "acquisition_cost")?
                .map(|m| Money::new(m, store_currency)),
            has_account: self.has_account,
            consents,
            created_at: self
                .created_at
                .as_deref()
                .map(|t| time(t, "created_at"))
                .transpose()?,
        };
        input.normalise();
        input.validate()?;
        Ok(input)
    }
}

impl ConsentBody {
    fn into_change(self) -> Result<ConsentChange, FieldError> {
        Ok(ConsentChange {
            channel: ConsentChannel::parse(&self.channel)?,
            granted: self.granted,
            at: self.at.as_deref().map(|t| time(t, "at")).transpose()?,
            collected_via: self.collected_via.unwrap_or_else(|| "api".into()),
            notice_version: self.notice_version,
            notice_text: self.notice_text,
            language: self.language.as_deref().map(Locale::parse).transpose()?,
            ip: self.ip,
            user_agent: self.user_agent,
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderBody {
    /// Your id for this order (unique per store); sending it again updates the order.
    pub external_id: String,
    /// What the customer sees, e.g. `#1001`.
    pub order_number: Option<String>,
    /// Left out for an anonymous order.
    pub customer: Option<CustomerBody>,
    /// RFC 3339.
    pub placed_at: String,
    /// RFC 3339; an update older than the stored one is ignored.
    pub updated_at: Option<String>,
    /// ISO 4217, e.g. INR.
    pub currency: String,
    /// Decimal string in major units. Defaults to the sum of the lines.
    pub subtotal: Option<String>,
    pub discount_total: Option<String>,
    pub shipping_total: Option<String>,
    pub tax_total: Option<String>,
    pub total: String,
    /// pending, authorized, paid (default), partially_paid, partially_refunded, refunded, voided, failed.
    pub financial_status: Option<String>,
    pub cancelled_at: Option<String>,
    #[serde(default)]
    pub line_items: Vec<LineItemBody>,
    #[serde(default)]
    pub discount_codes: Vec<String>,
    #[serde(default)]
    pub refunds: Vec<RefundBody>,
    /// The marketplace the order came through (amazon, flipkart …).
    pub marketplace: Option<String>,
    pub buyer_accepts_marketing: Option<bool>,
    pub note: Option<String>,
    /// A referral code passed with the order (a checkout field, the `ref` parameter of the
    /// landing page), beside any code among the discount codes.
    pub referral_code: Option<String>,
    /// The buyer's IP address. With the fields below, it feeds the referral program's fraud
    /// checks; only keyed hashes of these values are stored.
    pub browser_ip: Option<String>,
    /// The buyer's browser user agent.
    pub user_agent: Option<String>,
    /// What tells the buyer's device apart better than the user agent (a session or device
    /// id); used instead of `user_agent` when both are given.
    pub device: Option<String>,
    pub shipping_address: Option<AddressBody>,
    /// What identifies the card without being it, e.g. brand, BIN and last digits
    /// `visa:424242:4242`.
    pub payment_fingerprint: Option<String>,
}

/// An address; the first line, postal code and country identify the place.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province: Option<String>,
    /// Also accepted as `postal_code`.
    #[serde(alias = "postal_code")]
    pub zip: Option<String>,
    /// ISO 3166 code preferred (IN, US), so that orders from every source compare alike.
    pub country: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineItemBody {
    pub external_id: Option<String>,
    pub product_id: Option<String>,
    pub variant_id: Option<String>,
    pub sku: Option<String>,
    #[serde(default)]
    pub title: String,
    pub quantity: i64,
    /// Unit price, decimal string.
    pub price: String,
    /// Discount on the whole line, decimal string.
    pub discount: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    pub external_id: String,
    /// RFC 3339; defaults to now.
    pub created_at: Option<String>,
    /// Decimal string in the order's currency.
    pub amount: String,
    pub reason: Option<String>,
    #[serde(default)]
    pub lines: Vec<RefundLineBody>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineBody {
    pub line_external_id: Option<String>,
    pub sku: Option<String>,
    pub quantity: i64,
    pub amount: String,
}

impl OrderBody {
    pub fn into_input(self, store_currency: Currency) -> Result<OrderInput, FieldError> {
        let currency = Currency::parse(&self.currency)?;
        let line_items = self
            .line_items
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let f = |name: &str| format!("line_items[{i}].{name}");
                Ok(LineItemInput {
                    external_id: l.external_id,
                    product_external_id: l.product_id,
                    variant_external_id: l.variant_id,
                    sku: l.sku,
                    title: l.title,
                    quantity: l.quantity,
                    unit_price: money(&l.price, currency, &f("price"))?,
                    discount: opt_money(&l.discount, currency, &f("discount"))?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, FieldError>>()?;
        let lines_sum = line_items
            .iter()
            .map(|l| l.unit_price.saturating_mul(l.quantity))
            .fold(0i64, i64::saturating_add);
        let refunds = self
            .refunds
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.into_input(currency)
                    .map_err(|e| e.within(&format!("refunds[{i}]")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let customer = self
            .customer
            .map(|c| c.into_input(store_currency).map_err(|e| e.within("customer")))
            .transpose()?
            .filter(|c| !c.is_anonymous());
        let signals = order_signals(
            self.referral_code,
            self.browser_ip,
            self.user_agent,
            self.device,
            self.shipping_address,
            self.payment_fingerprint,
        )?;
        let order = OrderInput {
            source: Source::Api,
            external_id: self.external_id.trim().to_string(),
            order_number: self.order_number,
            customer,
            placed_at: time(&self.placed_at, "placed_at")?,
            source_updated_at: self
                .updated_at
                .as_deref()
                .map(|t| time(t, "updated_at"))
                .transpose()?,
            currency,
            subtotal: opt_money(&self.subtotal, currency, "subtotal")?.unwrap_or(lines_sum),
            discount_total: opt_money(&self.discount_total, currency, "discount_total")?.unwrap_or(0),
            shipping_total: opt_money(&self.shipping_total, currency, "shipping_total")?.unwrap_or(0),
            tax_total: opt_money(&self.tax_total, currency, "tax_total")?.unwrap_or(0),
            total: money(&self.total, currency, "total")?,
            financial_status: self
                .financial_status
                .as_deref()
                .map(FinancialStatus::parse)
                .transpose()?
                .unwrap_or(FinancialStatus::Paid),
            cancelled_at: self
                .cancelled_at
                .as_deref()
                .map(|t| time(t, "cancelled_at"))
                .transpose()?,
            line_items,
            discount_codes: self.discount_codes,
            refunds,
            marketplace: self.marketplace.filter(|m| !m.trim().is_empty()),
            buyer_accepts_marketing: self.buyer_accepts_marketing,
            note: self.note,
            signals,
        };
        order.validate()?;
        Ok(order)
    }
}

/// The most characters of a device, user agent or payment fingerprint.
const MAX_SIGNAL_CHARS: usize = 1_000;

/// The order's signals: trimmed, empty values left out. Error messages never repeat a value.
fn order_signals(
    referral_code: Option<String>,
    browser_ip: Option<String>,
    user_agent: Option<String>,
    device: Option<String>,
    shipping_address: Option<AddressBody>,
    payment_fingerprint: Option<String>,
) -> Result<OrderSignals, FieldError> {
    use regulars_ingest::signals;
    let bounded = |field: &'static str, v: Option<String>| -> Result<Option<String>, FieldError> {
        let v = signals::clean(v.as_deref());
        if v.as_ref().is_some_and(|v| v.chars().count() > MAX_SIGNAL_CHARS) {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("{field} has at most {MAX_SIGNAL_CHARS} characters"),
            ));
        }
        Ok(v)
    };
    let referral_code = signals::clean(referral_code.as_deref())
        .map(|c| {
            signals::referral_code(&c).ok_or_else(|| {
                FieldError::new(
                    "referral_code",
                    "invalid_code",
                    "a referral code has 3 to 64 characters: letters A-Z, digits, '-' and '_'",
                )
            })
        })
        .transpose()?;
    let browser_ip = signals::clean(browser_ip.as_deref())
        .map(|ip| {
            ip.parse::<std::net::IpAddr>().map_err(|_| {
                FieldError::new(
                    "browser_ip",
                    "invalid_ip",
                    "browser_ip is not an IPv4 or IPv6 address",
                )
            })
        })
        .transpose()?
        .and_then(|ip| signals::browser_ip(&ip.to_string()));
    let device = match bounded("device", device)? {
        Some(d) => Some(d),
        None => bounded("user_agent", user_agent)?,
    };
    let shipping_address = shipping_address
        .and_then(|a| signals::address(a.address1.as_deref(), a.zip.as_deref(), a.country.as_deref()));
    Ok(OrderSignals {
        referral_code,
        browser_ip,
        device,
        shipping_address,
        payment_fingerprint: bounded("payment_fingerprint", payment_fingerprint)?,
    })
}

impl RefundBody {
    pub fn into_input(self, currency: Currency) -> Result<RefundInput, FieldError> {
        let lines = self
            .lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                Ok(RefundLineInput {
                    line_external_id: l.line_external_id,
                    sku: l.sku,
                    quantity: l.quantity,
                    amount: money(&l.amount, currency, &format!("lines[{i}].amount"))?,
                })
            })
            .collect::<Result<Vec<_>, FieldError>>()?;
        let refund = RefundInput {
            external_id: self.external_id,
            created_at: match &self.created_at {
                Some(t) => time(t, "created_at")?,
                None => Timestamp::now(),
            },
            amount: money(&self.amount, currency, "amount")?,
            reason: self.reason,
            lines,
        };
        refund.validate()?;
        Ok(refund)
    }
}

/// A refund on an order already sent, addressed by the order's external id.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefundBody {
    pub order_external_id: String,
    /// Which source's order: api (default), shopify, woocommerce, transactions.
    pub order_source: Option<String>,
    pub external_id: String,
    pub created_at: Option<String>,
    /// Decimal string in the order's currency.
    pub amount: String,
    pub reason: Option<String>,
    #[serde(default)]
    pub lines: Vec<RefundLineBody>,
}

impl NewRefundBody {
    pub fn refund(self) -> RefundBody {
        RefundBody {
            external_id: self.external_id,
            created_at: self.created_at,
            amount: self.amount,
            reason: self.reason,
            lines: self.lines,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// Your id for this event; the same id is recorded once.
    pub external_id: Option<String>,
    pub customer: CustomerBody,
    /// e.g. `review_written`, `newsletter_signup`.
    pub name: String,
    /// RFC 3339; defaults to now.
    pub occurred_at: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: serde_json::Value,
}

impl EventBody {
    pub fn into_input(self, store_currency: Currency) -> Result<(CustomerInput, EventInput), FieldError> {
        let customer = self
            .customer
            .into_input(store_currency)
            .map_err(|e| e.within("customer"))?;
        let event = EventInput {
            external_id: self.external_id,
            name: self.name,
            occurred_at: match &self.occurred_at {
                Some(t) => time(t, "occurred_at")?,
                None => Timestamp::now(),
            },
            properties: self.properties,
        };
        event.validate()?;
        Ok((customer, event))
    }
}

#[cfg(test)]
mod order_signal_tests {
    use serde_json::json;

    use super::*;

    fn body(extra: serde_json::Value) -> Result<OrderInput, FieldError> {
        let mut v = json!({
            "external_id": "1001", "placed_at": "2025-03-20T12:00:00Z", "currency": "INR",
            "total": "10.00"
        });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value::<OrderBody>(v)
            .unwrap()
            .into_input(Currency::INR)
    }

    #[test]
    fn signals_are_read_and_normalised() {
        let o = body(json!({
            "referral_code": " anna-7k3q ", "browser_ip": "203.0.113.7",
            "user_agent": "Mozilla/5.0", "device": " ",
            "shipping_address": {"address1": "12 MG Road", "city": "Bengaluru", "postal_code": "560 001", "country": "IN"},
            "payment_fingerprint": "visa:424242:4242"
        }))
        .unwrap();
        assert_eq!(
            o.signals,
            OrderSignals {
                referral_code: Some("ANNA-7K3Q".into()),
                browser_ip: Some("203.0.113.7".into()),
                device: Some("Mozilla/5.0".into()),
                shipping_address: Some("in|560001|12mgroad".into()),
                payment_fingerprint: Some("visa:424242:4242".into()),
            }
        );
        let o = body(json!({"device": "sess-9ad3", "user_agent": "Mozilla/5.0", "browser_ip": "0.0.0.0"}))
            .unwrap();
        assert_eq!(
            o.signals.device.as_deref(),
            Some("sess-9ad3"),
            "device wins over user_agent"
        );
        assert_eq!(o.signals.browser_ip, None);
    }

    #[test]
    fn no_signals_leave_the_order_as_before() {
        let o = body(json!({"referral_code": "", "shipping_address": {"address1": "x"}})).unwrap();
        assert!(o.signals.is_empty());
        assert!(serde_json::to_value(&o).unwrap().get("signals").is_none());
    }

    #[test]
    fn bad_signals_name_the_field_without_repeating_it() {
        let e = body(json!({"referral_code": "not a code!"})).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("referral_code", "invalid_code"));
        assert!(!e.message.contains("not a code"));
        let e = body(json!({"browser_ip": "10.0.0.999"})).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("browser_ip", "invalid_ip"));
        assert!(!e.message.contains("999"));
        let e = body(json!({"user_agent": "x".repeat(1001)})).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("user_agent", "too_long"));
        assert!(serde_json::from_value::<AddressBody>(json!({"street": "x"})).is_err());
    }
}
