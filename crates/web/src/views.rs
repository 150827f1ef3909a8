//! What the API answers: stored records with money as decimal strings beside the currency.

use regulars_domain::{Currency, Money};
use regulars_store::{CustomerAnalytics, CustomerRecord, EventRecord, OrderRecord, Outcome};
use serde::Serialize;
use utoipa::ToSchema;

pub(crate) fn major(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).to_major_string()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityView {
    pub source: String,
    pub external_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub identities: Vec<IdentityView>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub note: Option<String>,
    pub acquisition_channel: Option<String>,
    pub acquisition_cost: Option<String>,
    pub has_account: bool,
    /// Current consent per channel: true, false, or null when never asked.
    #[schema(value_type = Object)]
    pub consent: serde_json::Value,
    pub orders_count: i64,
    /// Net of refunds, in the store currency.
    pub total_spent: String,
    pub currency: String,
    pub first_order_at: Option<String>,
    pub last_order_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// What the store's analytics predict of this customer; null until a refit of the store
    /// saw a purchase of theirs.
    pub analytics: Option<CustomerAnalyticsView>,
}

/// A customer's predictions and scores, from the store's last refit or their latest order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerAnalyticsView {
    /// Probability the customer is still active (0–1), from the BG/NBD purchase model; null
    /// when the store's model could not be fitted.
    pub p_alive: Option<f64>,
    /// Purchases expected over the next 12 months.
    pub predicted_purchases_12m: Option<f64>,
    /// Predicted value of the next 12 months' purchases (BG/NBD × Gamma-Gamma, discounted 1 %
    /// a month), a decimal string in the store currency.
    pub clv_12m: Option<String>,
    /// When the next purchase is due (RFC 3339); null when none is expected within 12 months.
    pub next_purchase_at: Option<String>,
    /// RFM quintile scores, 1 (lowest) to 5 (best).
    pub rfm: Option<RfmView>,
    /// champions, loyal_customers, potential_loyalist, new_customers, promising,
    /// need_attention, about_to_sleep, at_risk, cant_lose_them, hibernating or lost.
    pub segment: Option<String>,
    /// Among the store's top 5 % by spend.
    pub vip: bool,
    /// When these figures were computed (RFC 3339).
    pub computed_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RfmView {
    pub recency: u8,
    pub frequency: u8,
    pub monetary: u8,
    /// `R-F-M`, e.g. `5-4-3`.
    pub score: String,
}

impl CustomerAnalyticsView {
    pub fn new(a: CustomerAnalytics, store_currency: Currency) -> Self {
        CustomerAnalyticsView {
            p_alive: a.p_alive,
            predicted_purchases_12m: a.predicted_purchases_12m,
            clv_12m: a.clv_12m_minor.map(|m| major(m, store_currency)),
            next_purchase_at: a.next_purchase_at.map(|t| t.to_rfc3339()),
            rfm: a.rfm.map(|r| RfmView {
                recency: r.recency,
                frequency: r.frequency,
                monetary: r.monetary,
                score: r.code(),
            }),
            segment: a.segment,
            vip: a.vip,
            computed_at: a.computed_at.to_rfc3339(),
        }
    }
}

impl CustomerView {
    pub fn new(c: CustomerRecord, store_currency: Currency) -> Self {
        CustomerView {
            id: c.id.to_string(),
            identities: c
                .identities
                .into_iter()
                .map(|i| IdentityView {
                    source: i.source.as_str().into(),
                    external_id: i.external_id,
                })
                .collect(),
            email: c.email.map(String::from),
            phone: c.phone.map(String::from),
            first_name: c.first_name,
            last_name: c.last_name,
            locale: c.locale.map(String::from),
            birthday: c.birthday.map(|b| b.to_iso()),
            tags: c.tags,
            attributes: serde_json::to_value(c.attributes).unwrap_or_default(),
            note: c.note,
            acquisition_channel: c.acquisition_channel,
            acquisition_cost: c.acquisition_cost.map(|m| m.to_major_string()),
            has_account: c.has_account,
            consent: serde_json::to_value(c.consent).unwrap_or_default(),
            orders_count: c.orders_count,
            total_spent: major(c.total_spent_minor, store_currency),
            currency: store_currency.code().into(),
            first_order_at: c.first_order_at.map(|t| t.to_rfc3339()),
            last_order_at: c.last_order_at.map(|t| t.to_rfc3339()),
            created_at: c.created_at.to_rfc3339(),
            updated_at: c.updated_at.to_rfc3339(),
            analytics: c.analytics.map(|a| CustomerAnalyticsView::new(a, store_currency)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineView {
    pub external_id: Option<String>,
    pub product_id: Option<String>,
    pub variant_id: Option<String>,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: i64,
    pub price: String,
    pub discount: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: String,
    pub external_id: String,
    pub created_at: String,
    pub amount: String,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub lines: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: String,
    pub source: String,
    pub external_id: String,
    pub order_number: Option<String>,
    pub customer_id: Option<String>,
    pub placed_at: String,
    pub currency: String,
    pub subtotal: String,
    pub discount_total: String,
    pub shipping_total: String,
    pub tax_total: String,
    pub total: String,
    pub refunded_total: String,
    pub financial_status: String,
    pub status: String,
    pub cancelled_at: Option<String>,
    pub marketplace: Option<String>,
    pub buyer_accepts_marketing: Option<bool>,
    pub note: Option<String>,
    pub discount_codes: Vec<String>,
    pub line_items: Vec<LineView>,
    pub refunds: Vec<RefundView>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<OrderRecord> for OrderView {
    fn from(o: OrderRecord) -> Self {
        let cur = o.currency;
        OrderView {
            id: o.id.to_string(),
            source: o.source.as_str().into(),
            external_id: o.external_id,
            order_number: o.order_number,
            customer_id: o.customer_id.map(|c| c.to_string()),
            placed_at: o.placed_at.to_rfc3339(),
            currency: cur.code().into(),
            subtotal: major(o.subtotal, cur),
            discount_total: major(o.discount_total, cur),
            shipping_total: major(o.shipping_total, cur),
            tax_total: major(o.tax_total, cur),
            total: major(o.total, cur),
            refunded_total: major(o.refunded_total, cur),
            financial_status: o.financial_status,
            status: o.status,
            cancelled_at: o.cancelled_at.map(|t| t.to_rfc3339()),
            marketplace: o.marketplace,
            buyer_accepts_marketing: o.buyer_accepts_marketing,
            note: o.note,
            discount_codes: o.discount_codes,
            line_items: o
                .line_items
                .into_iter()
                .map(|l| LineView {
                    external_id: l.external_id,
                    product_id: l.product_external_id,
                    variant_id: l.variant_external_id,
                    sku: l.sku,
                    title: l.title,
                    quantity: l.quantity,
                    price: major(l.unit_price, cur),
                    discount: major(l.discount, cur),
                })
                .collect(),
            refunds: o
                .refunds
                .into_iter()
                .map(|r| RefundView {
                    id: r.id,
                    external_id: r.external_id,
                    created_at: r.created_at.to_rfc3339(),
                    amount: major(r.amount, cur),
                    reason: r.reason,
                    lines: r.lines,
                })
                .collect(),
            created_at: o.created_at.to_rfc3339(),
            updated_at: o.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub customer_id: Option<String>,
    /// order_placed, order_cancelled, refund_issued, consent_changed, custom …
    pub kind: String,
    pub name: Option<String>,
    pub occurred_at: String,
    pub recorded_at: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<EventRecord> for EventView {
    fn from(e: EventRecord) -> Self {
        EventView {
            id: e.id,
            customer_id: e.customer_id,
            kind: e.kind,
            name: e.name,
            occurred_at: e.occurred_at.to_rfc3339(),
            recorded_at: e.recorded_at.to_rfc3339(),
            data: e.data,
        }
    }
}

/// The answer to a write: which record, and whether it was created, updated or unchanged.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteResult {
    pub id: String,
    #[schema(value_type = String, example = "created")]
    pub outcome: Outcome,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub data: Vec<T>,
    /// Pass as `after` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub results: Vec<WriteResult>,
}
