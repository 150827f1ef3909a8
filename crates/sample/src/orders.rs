//! Demo orders: each customer's habit played out over two years, then priced, discounted,
//! taxed and occasionally cancelled or refunded the way a real shop's history looks.

use rand::Rng;
use regulars_domain::{
    FinancialStatus, LineItemInput, OrderInput, RefundInput, RefundLineInput, Source, Timestamp,
};

use crate::customers::Profile;
use crate::pick::{chance, one_of, weighted};
use crate::region::{Code, CodeKind, Region};
use crate::shop::{Shop, DAY, HOUR};

/// One order to be: when, by whom, and which of their orders it is (0 = first).
pub(crate) struct Planned {
    pub at: i64,
    pub customer: usize,
    pub nth: usize,
}

/// Every order of every customer, in the order the shop receives them, so that sequential
/// order numbers follow time.
pub(crate) fn plan(shop: &Shop, profiles: &[Profile], rng: &mut impl Rng) -> Vec<Planned> {
    let mut plan = Vec::new();
    for (customer, profile) in profiles.iter().enumerate() {
        for (nth, at) in order_times(shop, profile, rng).into_iter().enumerate() {
            plan.push(Planned { at, customer, nth });
        }
    }
    plan.sort_by_key(|p| (p.at, p.customer));
    plan
}

fn order_times(shop: &Shop, profile: &Profile, rng: &mut impl Rng) -> Vec<i64> {
    let Some(first) = profile.first_order_at else {
        return Vec::new();
    };
    let mut times = vec![first];
    let Some(habit) = profile.habit else {
        return times;
    };
    let mut t = first;
    loop {
        // Real gaps wander around the habit: a pack lasts longer in a busy month.
        let gap = habit.interval_days * rng.gen_range(0.5..1.6);
        t = shop.local_daytime(t + (gap * DAY as f64) as i64, rng);
        if t > shop.now {
            return times;
        }
        times.push(t);
        if chance(rng, habit.churn) {
            return times;
        }
    }
}

/// The `seq`-th order of the store (1-based), as the API would receive it.
pub(crate) fn build(
    shop: &Shop,
    profile: &Profile,
    planned: &Planned,
    seq: usize,
    rng: &mut impl Rng,
) -> OrderInput {
    let id = format!("demo-{}-{seq:06}", shop.prefix);
    let marketplace = profile
        .marketplace
        .then(|| one_of(rng, shop.region.marketplaces()).to_string());
    let mut lines = pick_lines(shop, profile, &id, rng);
    let subtotal: i64 = lines.iter().map(|l| l.quantity * l.unit_price).sum();
    // Marketplaces run their own promotions; the shop's codes apply to its own checkout only.
    let code = if marketplace.is_some() {
        None
    } else {
        pick_code(shop, profile, planned, rng)
    };
    let discount = code.map_or(0, |c| discount_amount(shop, c, subtotal));
    spread_discount(&mut lines, discount);
    let net = subtotal - discount;
    let (fee, free_from) = shop.region.shipping(shop.currency);
    let shipping = if marketplace.is_some() || net >= free_from {
        0
    } else {
        fee
    };
    let tax = shop.share(net, shop.region.tax_bp());
    let mut order = OrderInput {
        source: Source::Api,
        order_number: Some(format!("#{}", 1000 + seq)),
        external_id: id,
        customer: Some(profile.order_reference()),
        placed_at: Timestamp(planned.at),
        source_updated_at: Some(Timestamp(planned.at)),
        currency: shop.currency,
        subtotal,
        discount_total: discount,
        shipping_total: shipping,
        tax_total: tax,
        total: net + shipping + tax,
        financial_status: FinancialStatus::Paid,
        cancelled_at: None,
        line_items: lines,
        discount_codes: code.map(|c| c.code.to_string()).into_iter().collect(),
        refunds: Vec::new(),
        marketplace,
        buyer_accepts_marketing: Some(profile.email_allowed_at(planned.at)),
        note: chance(rng, 0.08).then(|| profile.lang.order_note(rng).to_string()),
        signals: Default::default(),
    };
    settle(shop, &mut order, rng);
    order
}

fn pick_lines(shop: &Shop, profile: &Profile, order_id: &str, rng: &mut impl Rng) -> Vec<LineItemInput> {
    let count = weighted(rng, &[(1, 58), (2, 27), (3, 11), (4, 4)]).min(shop.catalogue.len());
    let mut chosen = Vec::with_capacity(count);
    // Regulars mostly come back for the same thing.
    if chance(rng, 0.5) {
        chosen.push(profile.favourite);
    }
    while chosen.len() < count {
        let i = shop.popular_product(rng);
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen
        .into_iter()
        .enumerate()
        .map(|(k, i)| {
            let p = &shop.catalogue[i];
            let quantity = if profile.wholesale {
                rng.gen_range(4..=12)
            } else {
                weighted(rng, &[(1, 80), (2, 15), (3, 5)])
            };
            LineItemInput {
                external_id: Some(format!("{order_id}-{}", k + 1)),
                product_external_id: Some(format!("demo-{}-p{:03}", shop.prefix, p.product)),
                variant_external_id: Some(format!("demo-{}-v{:03}{:02}", shop.prefix, p.product, p.variant)),
                sku: Some(p.sku.to_string()),
                title: p.title.to_string(),
                quantity,
                unit_price: p.price,
                discount: 0,
            }
        })
        .collect()
}

/// A welcome code on some first orders, festival codes in season, and a rare evergreen one.
fn pick_code(shop: &Shop, profile: &Profile, planned: &Planned, rng: &mut impl Rng) -> Option<Code> {
    if planned.nth == 0 && profile.has_account() && chance(rng, 0.3) {
        return Some(shop.region.welcome_code());
    }
    let month = shop.local_month(planned.at);
    let seasonal: Vec<Code> = shop
        .codes
        .iter()
        .copied()
        .filter(|c| c.months.contains(&month))
        .collect();
    if !seasonal.is_empty() && chance(rng, 0.3) {
        return Some(*one_of(rng, &seasonal));
    }
    let evergreen: Vec<Code> = shop
        .codes
        .iter()
        .copied()
        .filter(|c| c.months.is_empty())
        .collect();
    (!evergreen.is_empty() && chance(rng, 0.05)).then(|| *one_of(rng, &evergreen))
}

/// Prices an own-checkout order again with `bp` basis points off its subtotal (a friend's
/// first-order discount, which replaces any code it had), the way [`build`] prices one. Refunds
/// from its history are dropped: the caller decides again what happened after checkout.
pub(crate) fn reprice(shop: &Shop, order: &mut OrderInput, bp: i64) {
    for line in &mut order.line_items {
        line.discount = 0;
    }
    let subtotal: i64 = order.line_items.iter().map(|l| l.quantity * l.unit_price).sum();
    let discount = shop.share(subtotal, bp).min(subtotal / 2);
    spread_discount(&mut order.line_items, discount);
    let net = subtotal - discount;
    let (fee, free_from) = shop.region.shipping(shop.currency);
    let shipping = if net >= free_from { 0 } else { fee };
    let tax = shop.share(net, shop.region.tax_bp());
    order.subtotal = subtotal;
    order.discount_total = discount;
    order.shipping_total = shipping;
    order.tax_total = tax;
    order.total = net + shipping + tax;
    order.discount_codes.clear();
    order.refunds.clear();
    if matches!(
        order.financial_status,
        FinancialStatus::Refunded | FinancialStatus::PartiallyRefunded
    ) {
        order.financial_status = FinancialStatus::Paid;
        order.source_updated_at = Some(order.placed_at);
    }
}

/// Everything of `order` given back at `at`: a refund as the shop reports it after the order.
pub(crate) fn full_refund(order: &OrderInput, at: i64, reason: &str) -> RefundInput {
    RefundInput {
        external_id: format!("{}-r1", order.external_id),
        created_at: Timestamp(at),
        amount: order.total,
        reason: Some(reason.to_string()),
        lines: order
            .line_items
            .iter()
            .map(|l| refund_line(l, l.quantity))
            .collect(),
    }
}

/// Never more than half the subtotal: a flat code on a small order is capped, as shops do.
fn discount_amount(shop: &Shop, code: Code, subtotal: i64) -> i64 {
    let raw = match code.kind {
        CodeKind::Percent(bp) => shop.share(subtotal, bp),
        CodeKind::Flat(amount) => amount,
    };
    raw.min(subtotal / 2)
}

/// Splits an order-level discount over the lines in proportion to their value, so that the
/// line discounts always add up to `discount_total`.
fn spread_discount(lines: &mut [LineItemInput], discount: i64) {
    let subtotal: i64 = lines.iter().map(|l| l.quantity * l.unit_price).sum();
    if subtotal == 0 || discount == 0 {
        return;
    }
    let mut left = discount;
    let last = lines.len() - 1;
    for (i, line) in lines.iter_mut().enumerate() {
        line.discount = if i == last {
            left
        } else {
            discount * line.quantity * line.unit_price / subtotal
        };
        left -= line.discount;
    }
}

/// What happened after checkout: most orders are simply paid; a few are cancelled, refunded,
/// or (in India) still awaiting cash on delivery.
fn settle(shop: &Shop, order: &mut OrderInput, rng: &mut impl Rng) {
    let placed = order.placed_at.0;
    let roll: f64 = rng.gen();
    if roll < 0.01 {
        let at = (placed + rng.gen_range(HOUR..48 * HOUR)).min(shop.now);
        order.cancelled_at = Some(Timestamp(at));
        order.financial_status = FinancialStatus::Voided;
        order.source_updated_at = Some(Timestamp(at));
    } else if roll < 0.045 {
        let at = placed + rng.gen_range(2 * DAY..21 * DAY);
        // A refund cannot have happened yet for a very recent order.
        if at <= shop.now {
            refund(shop, order, at, rng);
        }
    } else if shop.region == Region::India && placed > shop.now - 4 * DAY && chance(rng, 0.4) {
        order.financial_status = FinancialStatus::Pending;
    }
}

const REFUND_REASONS: &[&str] = &[
    "damaged in transit",
    "wrong item sent",
    "changed their mind",
    "quality complaint",
];

fn refund(shop: &Shop, order: &mut OrderInput, at: i64, rng: &mut impl Rng) {
    let full = chance(rng, 0.4);
    let (amount, lines) = if full {
        let lines = order
            .line_items
            .iter()
            .map(|l| refund_line(l, l.quantity))
            .collect();
        (order.total, lines)
    } else {
        let line = one_of(rng, &order.line_items);
        let quantity = rng.gen_range(1..=line.quantity);
        let back = refund_line(line, quantity);
        // The tax paid on the returned goods goes back too; shipping does not.
        let amount = (back.amount + shop.share(back.amount, shop.region.tax_bp())).min(order.total);
        (amount, vec![back])
    };
    order.refunds.push(RefundInput {
        external_id: format!("{}-r1", order.external_id),
        created_at: Timestamp(at),
        amount,
        reason: Some(one_of(rng, REFUND_REASONS).to_string()),
        lines,
    });
    order.financial_status = if full {
        FinancialStatus::Refunded
    } else {
        FinancialStatus::PartiallyRefunded
    };
    order.source_updated_at = Some(Timestamp(at));
}

/// `quantity` units of `line` at what the customer actually paid for them.
fn refund_line(line: &LineItemInput, quantity: i64) -> RefundLineInput {
    let paid = line.quantity * line.unit_price - line.discount;
    RefundLineInput {
        line_external_id: line.external_id.clone(),
        sku: line.sku.clone(),
        quantity,
        amount: paid * quantity / line.quantity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64, unit_price: i64) -> LineItemInput {
        LineItemInput {
            external_id: None,
            product_external_id: None,
            variant_external_id: None,
            sku: None,
            title: "Tea".into(),
            quantity,
            unit_price,
            discount: 0,
        }
    }

    #[test]
    fn discount_is_spread_exactly() {
        let mut lines = vec![line(1, 333), line(2, 500), line(3, 77)];
        spread_discount(&mut lines, 101);
        assert_eq!(lines.iter().map(|l| l.discount).sum::<i64>(), 101);
        assert!(lines.iter().all(|l| l.discount <= l.quantity * l.unit_price));
        assert_eq!(lines[0].discount, 101 * 333 / 1564);
    }

    #[test]
    fn refund_lines_are_what_was_paid() {
        let mut l = line(4, 1000);
        l.discount = 400;
        assert_eq!(refund_line(&l, 1).amount, 900);
        assert_eq!(refund_line(&l, 4).amount, 3600);
    }
}
