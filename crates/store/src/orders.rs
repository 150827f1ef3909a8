//! Orders with their lines and refunds, products learned from them, and the timeline events
//! they cause. One batch path serves a single API call, a webhook and a 10,000-order upload.

use std::collections::{HashMap, HashSet};

use regulars_domain::{
    fingerprint, new_id, Currency, CustomerId, FieldError, OrderId, OrderInput, RefundInput, Source, StoreId,
    Timestamp,
};
use sea_query::{Expr, OnConflict, Order, Query, SimpleExpr};
use serde::Serialize;

use crate::coupons::WrittenOrder;
use crate::customers::{refresh_aggregates, upsert_customers};
use crate::events::{insert_events, NewEvent};
use crate::rollups;
use crate::schema::{OrderLines, Orders, Products, Refunds};
use crate::{json_text, parse_json, Db, Outcome, StoreError, StoreRecord, Tx, CHUNK};

#[derive(Debug, Clone, Serialize)]
pub struct OrderRecord {
    pub id: OrderId,
    pub source: Source,
    pub external_id: String,
    pub order_number: Option<String>,
    pub customer_id: Option<CustomerId>,
    pub placed_at: Timestamp,
    pub currency: Currency,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub refunded_total: i64,
    pub financial_status: String,
    pub status: String,
    pub cancelled_at: Option<Timestamp>,
    pub marketplace: Option<String>,
    pub buyer_accepts_marketing: Option<bool>,
    pub note: Option<String>,
    pub discount_codes: Vec<String>,
    pub line_items: Vec<LineRecord>,
    pub refunds: Vec<RefundRecord>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LineRecord {
    #[serde(skip)]
    pub order_id: String,
    pub position: i64,
    pub external_id: Option<String>,
    pub product_external_id: Option<String>,
    pub variant_external_id: Option<String>,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub discount: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundRecord {
    pub id: String,
    pub external_id: String,
    pub created_at: Timestamp,
    pub amount: i64,
    pub reason: Option<String>,
    pub lines: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: String,
    source: String,
    external_id: String,
    order_number: Option<String>,
    customer_id: Option<String>,
    placed_at: i64,
    currency: String,
    subtotal: i64,
    discount_total: i64,
    shipping_total: i64,
    tax_total: i64,
    total: i64,
    refunded_total: i64,
    financial_status: String,
    status: String,
    cancelled_at: Option<i64>,
    marketplace: Option<String>,
    buyer_accepts_marketing: Option<bool>,
    note: Option<String>,
    discount_codes: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct RefundRow {
    order_id: String,
    id: String,
    external_id: String,
    created_at: i64,
    amount: i64,
    reason: Option<String>,
    lines: String,
}

const ORDER_COLUMNS: [Orders; 22] = [
    Orders::Id,
    Orders::Source,
    Orders::ExternalId,
    Orders::OrderNumber,
    Orders::CustomerId,
    Orders::PlacedAt,
    Orders::Currency,
    Orders::Subtotal,
    Orders::DiscountTotal,
    Orders::ShippingTotal,
    Orders::TaxTotal,
    Orders::Total,
    Orders::RefundedTotal,
    Orders::FinancialStatus,
    Orders::Status,
    Orders::CancelledAt,
    Orders::Marketplace,
    Orders::BuyerAcceptsMarketing,
    Orders::Note,
    Orders::DiscountCodes,
    Orders::CreatedAt,
    Orders::UpdatedAt,
];

/// Columns an update rewrites (identity, creation time and the refund total are kept).
const MUTABLE_COLUMNS: [Orders; 17] = [
    Orders::OrderNumber,
    Orders::CustomerId,
    Orders::PlacedAt,
    Orders::SourceUpdatedAt,
    Orders::Currency,
    Orders::Subtotal,
    Orders::DiscountTotal,
    Orders::ShippingTotal,
    Orders::TaxTotal,
    Orders::Total,
    Orders::FinancialStatus,
    Orders::Status,
    Orders::CancelledAt,
    Orders::Marketplace,
    Orders::BuyerAcceptsMarketing,
    Orders::Note,
    Orders::DiscountCodes,
];

fn mutable_values(o: &OrderInput, customer: Option<&str>) -> [SimpleExpr; 17] {
    [
        o.order_number.clone().into(),
        customer.map(str::to_string).into(),
        o.placed_at.0.into(),
        o.source_updated_at.map(|t| t.0).into(),
        o.currency.code().into(),
        o.subtotal.into(),
        o.discount_total.into(),
        o.shipping_total.into(),
        o.tax_total.into(),
        o.total.into(),
        o.financial_status.as_str().into(),
        o.status().into(),
        o.cancelled_at.map(|t| t.0).into(),
        o.marketplace.clone().into(),
        o.buyer_accepts_marketing.into(),
        o.note.clone().into(),
        json_text(&o.discount_codes).into(),
    ]
}

/// What is already stored for an order we are about to write.
#[derive(sqlx::FromRow)]
struct Existing {
    id: String,
    source: String,
    external_id: String,
    customer_id: Option<String>,
    fingerprint: String,
    source_updated_at: Option<i64>,
}

/// The result for one order of a batch.
#[derive(Debug, Clone, Serialize)]
pub struct OrderWrite {
    pub id: OrderId,
    pub customer_id: Option<CustomerId>,
    pub outcome: Outcome,
}

enum Plan<'a> {
    Insert(&'a OrderInput),
    Update(&'a OrderInput),
}

impl Tx {
    /// Creates or updates orders (and their customers, lines, refunds, products and timeline)
    /// in input order. An order identical to what is stored is `Unchanged`; an update older
    /// than the stored one (by the source's `updated_at`) is ignored as stale.
    /// Every input must already have passed [`OrderInput::validate`].
    pub async fn upsert_orders(
        &mut self,
        store: &StoreRecord,
        orders: &[OrderInput],
        actor: &str,
    ) -> Result<Vec<OrderWrite>, StoreError> {
        self.upsert_orders_crediting(store, orders, actor, false).await
    }

    /// [`Tx::upsert_orders`], choosing whether orders placed before the loyalty program
    /// started earn points (an import of past orders may credit them; webhooks never do).
    pub async fn upsert_orders_crediting(
        &mut self,
        store: &StoreRecord,
        orders: &[OrderInput],
        actor: &str,
        credit_history: bool,
    ) -> Result<Vec<OrderWrite>, StoreError> {
        self.lock_store(store.id).await?;
        if orders.len() >= crate::BULK {
            self.refresh_statistics_if_grown().await?;
        }
        let now = Timestamp::now();
        let store_key = store.id.to_string();

        // Customers first, so orders can point at them.
        let customer_inputs: Vec<(usize, (Source, &regulars_domain::CustomerInput))> = orders
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                o.customer
                    .as_ref()
                    .filter(|c| !c.is_anonymous())
                    .map(|c| (i, (c.source.unwrap_or(o.source), c)))
            })
            .collect();
        let pairs: Vec<(Source, &regulars_domain::CustomerInput)> =
            customer_inputs.iter().map(|(_, p)| *p).collect();
        let resolved = upsert_customers(self, store.id, &pairs, now, actor, None).await?;
        let mut customer_of: Vec<Option<String>> = vec![None; orders.len()];
        for ((i, _), (cid, _)) in customer_inputs.iter().zip(&resolved) {
            customer_of[*i] = Some(cid.to_string());
        }

        // What is stored already, by (source, external id).
        let mut existing: HashMap<(String, String), Existing> = HashMap::new();
        let mut by_source: HashMap<&'static str, Vec<&str>> = HashMap::new();
        for o in orders {
            by_source
                .entry(o.source.as_str())
                .or_default()
                .push(o.external_id.as_str());
        }
        for (source, ids) in &by_source {
            for chunk in ids.chunks(CHUNK) {
                let q = Query::select()
                    .columns([
                        Orders::Id,
                        Orders::Source,
                        Orders::ExternalId,
                        Orders::CustomerId,
                        Orders::Fingerprint,
                        Orders::SourceUpdatedAt,
                    ])
                    .from(Orders::Table)
                    .and_where(Expr::col(Orders::StoreId).eq(store_key.as_str()))
                    .and_where(Expr::col(Orders::Source).eq(*source))
                    .and_where(Expr::col(Orders::ExternalId).is_in(chunk.iter().copied()))
                    .to_owned();
                let rows: Vec<Existing> = self.fetch_all(&q).await?;
                existing.extend(
                    rows.into_iter()
                        .map(|r| ((r.source.clone(), r.external_id.clone()), r)),
                );
            }
        }

        // Decide, in input order, what each order needs.
        let mut results = Vec::with_capacity(orders.len());
        let mut plans: Vec<(String, Option<String>, String, Plan)> = Vec::new();
        let mut planned: HashMap<(String, String), usize> = HashMap::new();
        let mut touched_customers: HashSet<String> = HashSet::new();
        for (i, o) in orders.iter().enumerate() {
            let key = (o.source.as_str().to_string(), o.external_id.clone());
            let fp = fingerprint(o);
            let customer = customer_of[i].clone();
            let outcome;
            let id;
            if let Some(&p) = planned.get(&key) {
                // The same order twice in one batch: the later version replaces the earlier.
                id = plans[p].0.clone();
                if plans[p].2 == fp {
                    outcome = Outcome::Unchanged;
                } else {
                    outcome = Outcome::Updated;
                    let plan = match plans[p].3 {
                        Plan::Insert(_) => Plan::Insert(o),
                        Plan::Update(_) => Plan::Update(o),
                    };
                    plans[p] = (id.clone(), customer.clone(), fp, plan);
                }
            } else if let Some(ex) = existing.get(&key) {
                id = ex.id.clone();
                let stale = matches!((o.source_updated_at, ex.source_updated_at), (Some(new), Some(old)) if new.0 < old);
                if ex.fingerprint == fp || stale {
                    outcome = Outcome::Unchanged;
                } else {
                    outcome = Outcome::Updated;
                    touched_customers.extend(ex.customer_id.clone());
                    planned.insert(key, plans.len());
                    plans.push((id.clone(), customer.clone(), fp, Plan::Update(o)));
                }
            } else {
                id = new_id().to_string();
                outcome = Outcome::Created;
                planned.insert(key, plans.len());
                plans.push((id.clone(), customer.clone(), fp, Plan::Insert(o)));
            }
            if outcome != Outcome::Unchanged {
                touched_customers.extend(customer.clone());
            }
            results.push(OrderWrite {
                id: OrderId::parse(&id).expect("our ids parse"),
                customer_id: customer
                    .as_deref()
                    .map(|c| CustomerId::parse(c).expect("our ids parse")),
                outcome,
            });
        }

        // What the orders about to change counted in the overview's totals, before they change.
        let written_ids: Vec<&str> = plans.iter().map(|p| p.0.as_str()).collect();
        let update_ids: Vec<&str> = plans
            .iter()
            .filter(|p| matches!(p.3, Plan::Update(_)))
            .map(|p| p.0.as_str())
            .collect();
        let counted_before = rollups::contributions(self, store.id, store.currency, &update_ids).await?;

        let inserts: Vec<_> = plans.iter().filter(|p| matches!(p.3, Plan::Insert(_))).collect();
        for chunk in inserts.chunks(CHUNK / 2) {
            let mut q = Query::insert();
            q.into_table(Orders::Table).columns(
                [
                    Orders::Id,
                    Orders::StoreId,
                    Orders::Source,
                    Orders::ExternalId,
                    Orders::Fingerprint,
                    Orders::CreatedAt,
                    Orders::UpdatedAt,
                ]
                .into_iter()
                .chain(MUTABLE_COLUMNS),
            );
            for (id, customer, fp, plan) in chunk {
                let Plan::Insert(o) = plan else {
                    unreachable!("filtered to inserts")
                };
                let mut values: Vec<SimpleExpr> = vec![
                    id.clone().into(),
                    store_key.clone().into(),
                    o.source.as_str().into(),
                    o.external_id.clone().into(),
                    fp.clone().into(),
                    now.0.into(),
                    now.0.into(),
                ];
                values.extend(mutable_values(o, customer.as_deref()));
                q.values_panic(values);
            }
            self.execute(&q).await?;
        }
        let mut replaced_lines: Vec<&str> = Vec::new();
        for (id, customer, fp, plan) in &plans {
            if let Plan::Update(o) = plan {
                let mut q = Query::update();
                q.table(Orders::Table);
                for (col, value) in MUTABLE_COLUMNS
                    .into_iter()
                    .zip(mutable_values(o, customer.as_deref()))
                {
                    q.value(col, value);
                }
                q.value(Orders::Fingerprint, fp.clone())
                    .value(Orders::UpdatedAt, now.0)
                    .and_where(Expr::col(Orders::Id).eq(id.as_str()))
                    .and_where(Expr::col(Orders::StoreId).eq(store_key.as_str()));
                self.execute(&q).await?;
                replaced_lines.push(id);
            }
        }
        for chunk in replaced_lines.chunks(CHUNK) {
            let q = Query::delete()
                .from_table(OrderLines::Table)
                .and_where(Expr::col(OrderLines::OrderId).is_in(chunk.iter().copied()))
                .to_owned();
            self.execute(&q).await?;
        }

        // Lines, refunds, products and timeline for every written order.
        let mut lines: Vec<[SimpleExpr; 10]> = Vec::new();
        let mut refund_rows: Vec<[SimpleExpr; 8]> = Vec::new();
        let mut products: HashMap<(&'static str, String), ProductSeen> = HashMap::new();
        let mut events: Vec<NewEvent> = Vec::new();
        for (id, customer, _, plan) in &plans {
            let (Plan::Insert(o) | Plan::Update(o)) = plan;
            for (pos, l) in o.line_items.iter().enumerate() {
                lines.push([
                    id.clone().into(),
                    (pos as i64).into(),
                    l.external_id.clone().into(),
                    l.product_external_id.clone().into(),
                    l.variant_external_id.clone().into(),
                    l.sku.clone().into(),
                    l.title.clone().into(),
                    l.quantity.into(),
                    l.unit_price.into(),
                    l.discount.into(),
                ]);
                let product_key = l
                    .product_external_id
                    .clone()
                    .or_else(|| l.sku.as_ref().map(|s| format!("sku:{s}")));
                if let Some(key) = product_key {
                    let entry = products.entry((o.source.as_str(), key)).or_insert((
                        l.sku.clone(),
                        l.title.clone(),
                        o.currency,
                        l.unit_price,
                        o.placed_at.0,
                    ));
                    if o.placed_at.0 >= entry.4 {
                        *entry = (
                            l.sku.clone(),
                            l.title.clone(),
                            o.currency,
                            l.unit_price,
                            o.placed_at.0,
                        );
                    }
                }
            }
            for r in &o.refunds {
                refund_rows.push(refund_values(&store_key, id, r));
                events.push(refund_event(id, customer.clone(), r));
            }
            events.push(NewEvent {
                customer_id: customer.clone(),
                kind: "order_placed",
                name: None,
                occurred_at: o.placed_at,
                dedupe_key: format!("order:{id}"),
                data: serde_json::json!({
                    "order_id": id,
                    "source": o.source.as_str(),
                    "external_id": o.external_id,
                    "order_number": o.order_number,
                    "total": o.total,
                    "currency": o.currency.code(),
                    "items": o.line_items.iter().map(|l| l.quantity).sum::<i64>(),
                }),
            });
            if let Some(at) = o.cancelled_at {
                events.push(NewEvent {
                    customer_id: customer.clone(),
                    kind: "order_cancelled",
                    name: None,
                    occurred_at: at,
                    dedupe_key: format!("order_cancelled:{id}"),
                    data: serde_json::json!({ "order_id": id, "external_id": o.external_id }),
                });
            }
        }
        for chunk in lines.chunks(CHUNK) {
            let mut q = Query::insert();
            q.into_table(OrderLines::Table).columns([
                OrderLines::OrderId,
                OrderLines::Position,
                OrderLines::ExternalId,
                OrderLines::ProductExternalId,
                OrderLines::VariantExternalId,
                OrderLines::Sku,
                OrderLines::Title,
                OrderLines::Quantity,
                OrderLines::UnitPrice,
                OrderLines::Discount,
            ]);
            for row in chunk {
                q.values_panic(row.clone());
            }
            self.execute(&q).await?;
        }
        insert_refunds(self, &refund_rows).await?;
        let updated_ids: Vec<&str> = plans
            .iter()
            .filter(|p| matches!(p.3, Plan::Update(_)))
            .map(|p| p.0.as_str())
            .chain(
                plans
                    .iter()
                    .filter(|p| matches!(&p.3, Plan::Insert(o) if !o.refunds.is_empty()))
                    .map(|p| p.0.as_str()),
            )
            .collect();
        refresh_refunded_totals(self, &updated_ids).await?;
        let counted_after = rollups::contributions(self, store.id, store.currency, &written_ids).await?;
        rollups::apply_bucket_changes(self, store.id, &counted_before, &counted_after).await?;
        upsert_products(self, &store_key, products).await?;
        insert_events(self, store.id, &events, now).await?;
        let written: Vec<WrittenOrder> = plans
            .iter()
            .map(|(id, customer, _, plan)| {
                let (Plan::Insert(o) | Plan::Update(o)) = plan;
                WrittenOrder {
                    id,
                    customer_id: customer.as_deref(),
                    input: o,
                }
            })
            .collect();
        crate::coupons::on_orders_written(self, store, &written).await?;
        crate::referrals::on_orders_written(self, store, &written).await?;
        let written_ids: Vec<&str> = written.iter().map(|w| w.id).collect();
        crate::loyalty::reconcile_orders(self, store, &written_ids, credit_history).await?;
        refresh_aggregates(self, store.id, store.currency.code(), &touched_customers).await?;
        crate::analytics::refresh_customers(self, store, &touched_customers).await?;
        Ok(results)
    }

    /// Adds a refund to a stored order (Shopify refunds/create, the API). The same refund sent
    /// again is `Unchanged`; refunds may never add up to more than the order's total.
    pub async fn add_refund(
        &mut self,
        store: &StoreRecord,
        source: Source,
        order_external_id: &str,
        refund: &RefundInput,
    ) -> Result<(OrderId, Outcome), StoreError> {
        refund.validate()?;
        self.lock_store(store.id).await?;
        let store_key = store.id.to_string();
        #[derive(sqlx::FromRow)]
        struct Target {
            id: String,
            customer_id: Option<String>,
            total: i64,
            refunded_total: i64,
        }
        let q = Query::select()
            .columns([
                Orders::Id,
                Orders::CustomerId,
                Orders::Total,
                Orders::RefundedTotal,
            ])
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(Orders::Source).eq(source.as_str()))
            .and_where(Expr::col(Orders::ExternalId).eq(order_external_id))
            .to_owned();
        let order: Target = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("order"))?;
        let order_id = OrderId::parse(&order.id).expect("our ids parse");
        let known = Query::select()
            .column(Refunds::Id)
            .from(Refunds::Table)
            .and_where(Expr::col(Refunds::OrderId).eq(order.id.as_str()))
            .and_where(Expr::col(Refunds::ExternalId).eq(refund.external_id.as_str()))
            .to_owned();
        if self.fetch_optional::<(String,)>(&known).await?.is_some() {
            return Ok((order_id, Outcome::Unchanged));
        }
        if order.refunded_total + refund.amount > order.total {
            return Err(FieldError::new(
                "amount",
                "refund_exceeds_total",
                format!(
                    "this refund of {} would bring refunds to {}, more than the order total {}",
                    refund.amount,
                    order.refunded_total + refund.amount,
                    order.total
                ),
            )
            .into());
        }
        let this = [order.id.as_str()];
        let counted_before = rollups::contributions(self, store.id, store.currency, &this).await?;
        insert_refunds(self, &[refund_values(&store_key, &order.id, refund)]).await?;
        refresh_refunded_totals(self, &this).await?;
        let counted_after = rollups::contributions(self, store.id, store.currency, &this).await?;
        rollups::apply_bucket_changes(self, store.id, &counted_before, &counted_after).await?;
        let now = Timestamp::now();
        insert_events(
            self,
            store.id,
            &[refund_event(&order.id, order.customer_id.clone(), refund)],
            now,
        )
        .await?;
        let fully_refunded = order.refunded_total + refund.amount >= order.total;
        crate::coupons::on_order_refunded(self, store, &order.id, fully_refunded).await?;
        crate::referrals::on_orders_changed(self, store, &[order.id.as_str()]).await?;
        crate::loyalty::reconcile_orders(self, store, &[order.id.as_str()], false).await?;
        if let Some(c) = order.customer_id {
            let touched = HashSet::from([c]);
            refresh_aggregates(self, store.id, store.currency.code(), &touched).await?;
            crate::analytics::refresh_customers(self, store, &touched).await?;
        }
        Ok((order_id, Outcome::Created))
    }
}

impl Tx {
    /// The currency of a stored order, to read a refund's amounts in.
    pub async fn order_currency(
        &mut self,
        store: StoreId,
        source: Source,
        external_id: &str,
    ) -> Result<Currency, StoreError> {
        let q = Query::select()
            .column(Orders::Currency)
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
            .and_where(Expr::col(Orders::Source).eq(source.as_str()))
            .and_where(Expr::col(Orders::ExternalId).eq(external_id))
            .to_owned();
        let (code,): (String,) = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("order"))?;
        Currency::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

fn refund_values(store_key: &str, order_id: &str, r: &RefundInput) -> [SimpleExpr; 8] {
    [
        new_id().to_string().into(),
        store_key.into(),
        order_id.into(),
        r.external_id.clone().into(),
        r.created_at.0.into(),
        r.amount.into(),
        r.reason.clone().into(),
        json_text(&r.lines).into(),
    ]
}

fn refund_event(order_id: &str, customer: Option<String>, r: &RefundInput) -> NewEvent {
    NewEvent {
        customer_id: customer,
        kind: "refund_issued",
        name: None,
        occurred_at: r.created_at,
        dedupe_key: format!("refund:{order_id}:{}", r.external_id),
        data: serde_json::json!({ "order_id": order_id, "refund_external_id": r.external_id, "amount": r.amount }),
    }
}

async fn insert_refunds(tx: &mut Tx, rows: &[[SimpleExpr; 8]]) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(Refunds::Table)
            .columns([
                Refunds::Id,
                Refunds::StoreId,
                Refunds::OrderId,
                Refunds::ExternalId,
                Refunds::CreatedAt,
                Refunds::Amount,
                Refunds::Reason,
                Refunds::Lines,
            ])
            .on_conflict(
                OnConflict::columns([Refunds::OrderId, Refunds::ExternalId])
                    .do_nothing()
                    .to_owned(),
            );
        for row in chunk {
            q.values_panic(row.clone());
        }
        tx.execute(&q).await?;
    }
    Ok(())
}

/// Sets each order's refunded total from its refunds, and its payment status when refunds
/// cover part or all of it.
async fn refresh_refunded_totals(tx: &mut Tx, order_ids: &[&str]) -> Result<(), StoreError> {
    for chunk in order_ids.chunks(CHUNK) {
        let sum = Query::select()
            .expr(Expr::cust("COALESCE(SUM(refunds.amount), 0)"))
            .from(Refunds::Table)
            .and_where(Expr::col((Refunds::Table, Refunds::OrderId)).equals((Orders::Table, Orders::Id)))
            .to_owned();
        let q = Query::update()
            .table(Orders::Table)
            .value(Orders::RefundedTotal, crate::scalar(sum))
            .and_where(Expr::col(Orders::Id).is_in(chunk.iter().copied()))
            .to_owned();
        tx.execute(&q).await?;
        let status = Expr::cust(
            "CASE WHEN refunded_total >= total AND total > 0 THEN 'refunded' \
             WHEN refunded_total > 0 THEN 'partially_refunded' ELSE financial_status END",
        );
        let q = Query::update()
            .table(Orders::Table)
            .value(Orders::FinancialStatus, status.clone())
            .value(Orders::Status, Expr::cust("CASE WHEN cancelled_at IS NOT NULL THEN 'cancelled' ELSE CASE WHEN refunded_total >= total AND total > 0 THEN 'refunded' WHEN refunded_total > 0 THEN 'partially_refunded' ELSE financial_status END END"))
            .and_where(Expr::col(Orders::Id).is_in(chunk.iter().copied()))
            .and_where(Expr::col(Orders::RefundedTotal).gt(0))
            .to_owned();
        tx.execute(&q).await?;
    }
    Ok(())
}

type ProductSeen = (Option<String>, String, Currency, i64, i64);

async fn upsert_products(
    tx: &mut Tx,
    store_key: &str,
    products: HashMap<(&'static str, String), ProductSeen>,
) -> Result<(), StoreError> {
    let rows: Vec<_> = products.into_iter().collect();
    // The newest sighting decides title and price; CASE keeps this portable (no GREATEST/MAX).
    let newer = "excluded.last_seen_at >= products.last_seen_at";
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(Products::Table)
            .columns([
                Products::StoreId,
                Products::Source,
                Products::ProductKey,
                Products::Sku,
                Products::Title,
                Products::Currency,
                Products::LastPrice,
                Products::FirstSeenAt,
                Products::LastSeenAt,
            ])
            .on_conflict(
                OnConflict::columns([Products::StoreId, Products::Source, Products::ProductKey])
                    .value(Products::Title, Expr::cust(format!("CASE WHEN {newer} THEN excluded.title ELSE products.title END")))
                    .value(Products::Sku, Expr::cust(format!("CASE WHEN {newer} THEN excluded.sku ELSE products.sku END")))
                    .value(Products::Currency, Expr::cust(format!("CASE WHEN {newer} THEN excluded.currency ELSE products.currency END")))
                    .value(Products::LastPrice, Expr::cust(format!("CASE WHEN {newer} THEN excluded.last_price ELSE products.last_price END")))
                    .value(Products::LastSeenAt, Expr::cust(format!("CASE WHEN {newer} THEN excluded.last_seen_at ELSE products.last_seen_at END")))
                    .value(Products::FirstSeenAt, Expr::cust("CASE WHEN excluded.first_seen_at < products.first_seen_at THEN excluded.first_seen_at ELSE products.first_seen_at END"))
                    .to_owned(),
            );
        for ((source, key), (sku, title, currency, price, seen)) in chunk {
            q.values_panic([
                store_key.into(),
                (*source).into(),
                key.clone().into(),
                sku.clone().into(),
                title.clone().into(),
                currency.code().into(),
                (*price).into(),
                (*seen).into(),
                (*seen).into(),
            ]);
        }
        tx.execute(&q).await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub external_id: Option<String>,
    pub source: Option<Source>,
    pub customer_id: Option<CustomerId>,
    pub email: Option<regulars_domain::Email>,
    pub after: Option<OrderId>,
    pub limit: u64,
}

impl Db {
    /// Creates or updates a batch of orders atomically: all of them or none.
    pub async fn upsert_orders(
        &self,
        store: &StoreRecord,
        orders: &[OrderInput],
        actor: &str,
    ) -> Result<Vec<OrderWrite>, StoreError> {
        self.upsert_orders_crediting(store, orders, actor, false).await
    }

    /// [`Db::upsert_orders`], choosing whether orders placed before the loyalty program began
    /// earn points (see [`Tx::upsert_orders_crediting`]).
    pub async fn upsert_orders_crediting(
        &self,
        store: &StoreRecord,
        orders: &[OrderInput],
        actor: &str,
        credit_history: bool,
    ) -> Result<Vec<OrderWrite>, StoreError> {
        let mut tx = self.begin().await?;
        let out = tx
            .upsert_orders_crediting(store, orders, actor, credit_history)
            .await?;
        tx.commit().await?;
        Ok(out)
    }

    pub async fn order(&self, store: StoreId, id: OrderId) -> Result<OrderRecord, StoreError> {
        let mut found = self
            .orders(
                store,
                &OrderFilter {
                    limit: 1,
                    ..Default::default()
                },
                Some(id),
            )
            .await?;
        found.pop().ok_or(StoreError::NotFound("order"))
    }

    pub async fn list_orders(
        &self,
        store: StoreId,
        filter: &OrderFilter,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        self.orders(store, filter, None).await
    }

    async fn orders(
        &self,
        store: StoreId,
        f: &OrderFilter,
        id: Option<OrderId>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let store_key = store.to_string();
        let mut q = Query::select();
        q.columns(ORDER_COLUMNS)
            .from(Orders::Table)
            .and_where(Expr::col(Orders::StoreId).eq(store_key.as_str()));
        if let Some(id) = id {
            q.and_where(Expr::col(Orders::Id).eq(id.to_string()));
        }
        if let Some(ext) = &f.external_id {
            q.and_where(Expr::col(Orders::ExternalId).eq(ext.as_str()));
        }
        if let Some(source) = f.source {
            q.and_where(Expr::col(Orders::Source).eq(source.as_str()));
        }
        if let Some(c) = f.customer_id {
            q.and_where(Expr::col(Orders::CustomerId).eq(c.to_string()));
        }
        if let Some(email) = &f.email {
            let sub = Query::select()
                .column(crate::schema::Customers::Id)
                .from(crate::schema::Customers::Table)
                .and_where(Expr::col(crate::schema::Customers::StoreId).eq(store_key.as_str()))
                .and_where(Expr::col(crate::schema::Customers::Email).eq(email.as_str()))
                .to_owned();
            q.and_where(Expr::col(Orders::CustomerId).in_subquery(sub));
        }
        if let Some(after) = f.after {
            q.and_where(Expr::col(Orders::Id).gt(after.to_string()));
        }
        q.order_by(Orders::Id, Order::Asc).limit(f.limit.clamp(1, 1000));
        let rows: Vec<OrderRow> = self.fetch_all(&q).await?;
        self.hydrate_orders(store, rows).await
    }

    /// These orders (by id, any order), with their lines and refunds, in the given order.
    pub(crate) async fn orders_by_ids(
        &self,
        store: StoreId,
        ids: &[String],
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let mut rows: Vec<OrderRow> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let q = Query::select()
                .columns(ORDER_COLUMNS)
                .from(Orders::Table)
                .and_where(Expr::col(Orders::StoreId).eq(store.to_string()))
                .and_where(Expr::col(Orders::Id).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            rows.extend(self.fetch_all::<OrderRow>(&q).await?);
        }
        let position: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        rows.sort_by_key(|r| position.get(r.id.as_str()).copied());
        self.hydrate_orders(store, rows).await
    }

    /// Adds lines and refunds to stored order rows.
    async fn hydrate_orders(
        &self,
        store: StoreId,
        rows: Vec<OrderRow>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let store_key = store.to_string();
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut lines: HashMap<String, Vec<LineRecord>> = HashMap::new();
        let mut refunds: HashMap<String, Vec<RefundRecord>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let q = Query::select()
                .columns([
                    OrderLines::OrderId,
                    OrderLines::Position,
                    OrderLines::ExternalId,
                    OrderLines::ProductExternalId,
                    OrderLines::VariantExternalId,
                    OrderLines::Sku,
                    OrderLines::Title,
                    OrderLines::Quantity,
                    OrderLines::UnitPrice,
                    OrderLines::Discount,
                ])
                .from(OrderLines::Table)
                .and_where(Expr::col(OrderLines::OrderId).is_in(chunk.iter().copied()))
                .order_by(OrderLines::OrderId, Order::Asc)
                .order_by(OrderLines::Position, Order::Asc)
                .to_owned();
            for l in self.fetch_all::<LineRecord>(&q).await? {
                lines.entry(l.order_id.clone()).or_default().push(l);
            }
            let q = Query::select()
                .columns([
                    Refunds::OrderId,
                    Refunds::Id,
                    Refunds::ExternalId,
                    Refunds::CreatedAt,
                    Refunds::Amount,
                    Refunds::Reason,
                    Refunds::Lines,
                ])
                .from(Refunds::Table)
                .and_where(Expr::col(Refunds::StoreId).eq(store_key.as_str()))
                .and_where(Expr::col(Refunds::OrderId).is_in(chunk.iter().copied()))
                .order_by(Refunds::CreatedAt, Order::Asc)
                .to_owned();
            for r in self.fetch_all::<RefundRow>(&q).await? {
                refunds.entry(r.order_id.clone()).or_default().push(RefundRecord {
                    lines: parse_json(&r.lines, "refund lines")?,
                    id: r.id,
                    external_id: r.external_id,
                    created_at: Timestamp(r.created_at),
                    amount: r.amount,
                    reason: r.reason,
                });
            }
        }
        rows.into_iter()
            .map(|r| {
                let corrupt = |e: FieldError| StoreError::Corrupt(format!("order {}: {e}", r.id));
                Ok(OrderRecord {
                    id: OrderId::parse(&r.id).map_err(corrupt)?,
                    source: Source::parse(&r.source).map_err(corrupt)?,
                    customer_id: r
                        .customer_id
                        .as_deref()
                        .map(CustomerId::parse)
                        .transpose()
                        .map_err(corrupt)?,
                    currency: Currency::parse(&r.currency).map_err(corrupt)?,
                    discount_codes: parse_json(&r.discount_codes, "discount codes")?,
                    line_items: lines.remove(&r.id).unwrap_or_default(),
                    refunds: refunds.remove(&r.id).unwrap_or_default(),
                    external_id: r.external_id,
                    order_number: r.order_number,
                    placed_at: Timestamp(r.placed_at),
                    subtotal: r.subtotal,
                    discount_total: r.discount_total,
                    shipping_total: r.shipping_total,
                    tax_total: r.tax_total,
                    total: r.total,
                    refunded_total: r.refunded_total,
                    financial_status: r.financial_status,
                    status: r.status,
                    cancelled_at: r.cancelled_at.map(Timestamp),
                    marketplace: r.marketplace,
                    buyer_accepts_marketing: r.buyer_accepts_marketing,
                    note: r.note,
                    created_at: Timestamp(r.created_at),
                    updated_at: Timestamp(r.updated_at),
                })
            })
            .collect()
    }
}
