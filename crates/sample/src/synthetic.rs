//! Plain, fast volume data for benchmarks: millions of orders or transaction rows, streamed.

use std::io::{self, BufWriter, Write};

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use regulars_domain::{
    Currency, CustomerInput, Email, FinancialStatus, LineItemInput, OrderInput, Source, Timestamp,
};

use crate::pick::{chance, one_of};
use crate::shop::HISTORY;

/// (sku, title, price in paise): a small INR catalogue.
const PRODUCTS: &[(&str, &str, i64)] = &[
    ("TEA-ASM-250", "Assam CTC tea 250 g", 24_900),
    ("TEA-DJ-100", "Darjeeling tea 100 g", 64_900),
    ("TEA-MSL-200", "Masala chai 200 g", 29_900),
    ("SPC-GARAM-100", "Garam masala 100 g", 14_900),
    ("SPC-ELAICHI-100", "Green cardamom 100 g", 54_900),
    ("SPC-KESAR-2G", "Kashmiri saffron 2 g", 69_900),
    ("COF-COORG-500", "Coorg filter coffee 500 g", 59_900),
    ("GIFT-TEA-BOX", "Festive tea gift box", 149_900),
];

/// `orders` valid INR orders by customers `c0 … c{customers-1}`, spread evenly over two years
/// from `start` in time order. A fifth of the customers are regulars who place a large share
/// of the orders, so repeat-purchase metrics have something to find.
pub fn synthetic_orders(
    orders: usize,
    customers: usize,
    seed: u64,
    start: Timestamp,
) -> impl Iterator<Item = OrderInput> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let customers = customers.max(1);
    let step = (HISTORY / orders.max(1) as i64).max(1);
    (0..orders).map(move |n| {
        let placed_at = start.0 + n as i64 * step + rng.gen_range(0..step);
        let customer = skewed_customer(&mut rng, customers);
        synthetic_order(&mut rng, n, customer, placed_at)
    })
}

/// 40 % of picks go to the first fifth of customers: the regulars.
fn skewed_customer(rng: &mut impl Rng, customers: usize) -> usize {
    let regulars = (customers / 5).max(1);
    if chance(rng, 0.4) {
        rng.gen_range(0..regulars)
    } else {
        rng.gen_range(0..customers)
    }
}

fn synthetic_order(rng: &mut impl Rng, n: usize, customer: usize, placed_at: i64) -> OrderInput {
    let line_items: Vec<LineItemInput> = (0..rng.gen_range(1..=3)).map(|_| synthetic_line(rng)).collect();
    let subtotal: i64 = line_items.iter().map(|l| l.quantity * l.unit_price).sum();
    let shipping = if subtotal >= 99_900 { 0 } else { 7_900 };
    let tax = subtotal * 5 / 100;
    OrderInput {
        source: Source::Api,
        external_id: format!("o{n}"),
        order_number: None,
        customer: Some(CustomerInput {
            external_id: Some(format!("c{customer}")),
            email: Some(Email::parse(&format!("c{customer}@example.com")).expect("valid email")),
            ..CustomerInput::default()
        }),
        placed_at: Timestamp(placed_at),
        source_updated_at: None,
        currency: Currency::INR,
        subtotal,
        discount_total: 0,
        shipping_total: shipping,
        tax_total: tax,
        total: subtotal + shipping + tax,
        financial_status: FinancialStatus::Paid,
        cancelled_at: None,
        line_items,
        discount_codes: Vec::new(),
        refunds: Vec::new(),
        marketplace: None,
        buyer_accepts_marketing: None,
        note: None,
        signals: Default::default(),
    }
}

fn synthetic_line(rng: &mut impl Rng) -> LineItemInput {
    let &(sku, title, price) = one_of(rng, PRODUCTS);
    LineItemInput {
        external_id: None,
        product_external_id: None,
        variant_external_id: None,
        sku: Some(sku.to_string()),
        title: title.to_string(),
        quantity: if chance(rng, 0.15) { 2 } else { 1 },
        unit_price: price,
        discount: 0,
    }
}

/// First day of the transaction log written by [`write_transactions_csv`].
const LOG_START: (i32, u32, u32) = (2023, 1, 1);
const LOG_DAYS: usize = 730;

/// A generic transaction log (`customer_id,date,amount`, like the input of Python's
/// `lifetimes`): `rows` rows over two years from 2023-01-01 in date order, customer ids
/// `c{n}` skewed towards regulars, amounts in rupees such as `1499.00`.
pub fn write_transactions_csv<W: Write>(w: W, rows: usize, customers: usize, seed: u64) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, w);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let customers = customers.max(1);
    let dates = calendar();
    out.write_all(b"customer_id,date,amount\n")?;
    for n in 0..rows {
        let date = &dates[n * LOG_DAYS / rows];
        let customer = skewed_customer(&mut rng, customers);
        let paise = transaction_amount(&mut rng);
        writeln!(out, "c{customer},{date},{}.{:02}", paise / 100, paise % 100)?;
    }
    out.flush()
}

/// Mostly small baskets with a long tail up to ₹5,000; a few odd amounts with paise.
fn transaction_amount(rng: &mut impl Rng) -> i64 {
    let u: f64 = rng.gen();
    let rupees = 99 + (u * u * 4_900.0) as i64;
    let paise = if chance(rng, 0.1) {
        rng.gen_range(1..100)
    } else {
        0
    };
    rupees * 100 + paise
}

/// Pre-formatted dates: formatting a date per row would dominate the writer's time.
fn calendar() -> Vec<String> {
    let (y, m, d) = LOG_START;
    let first = NaiveDate::from_ymd_opt(y, m, d).expect("valid start date");
    first
        .iter_days()
        .take(LOG_DAYS)
        .map(|day| day.format("%Y-%m-%d").to_string())
        .collect()
}
