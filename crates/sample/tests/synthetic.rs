use std::collections::HashMap;

use chrono::NaiveDate;
use regulars_domain::{Currency, Money, Source, Timestamp};
use regulars_sample::{synthetic_orders, write_transactions_csv};

/// 2024-01-01T00:00:00Z.
const START: Timestamp = Timestamp(1_704_067_200_000);
const TWO_YEARS: i64 = 730 * 24 * 3_600_000;

#[test]
fn synthetic_orders_are_valid_plain_and_time_ordered() {
    let orders: Vec<_> = synthetic_orders(20_000, 5_000, 7, START).collect();
    assert_eq!(orders.len(), 20_000);
    let mut last = START.0;
    for (n, o) in orders.iter().enumerate() {
        o.validate().unwrap();
        assert_eq!(o.external_id, format!("o{n}"));
        assert_eq!((o.source, o.currency), (Source::Api, Currency::INR));
        assert!((1..=3).contains(&o.line_items.len()));
        assert_eq!(
            o.total,
            o.subtotal - o.discount_total + o.shipping_total + o.tax_total
        );
        let gross: i64 = o.line_items.iter().map(|l| l.quantity * l.unit_price).sum();
        assert_eq!(gross, o.subtotal);
        assert!(o.line_items.iter().all(|l| l.title.is_ascii()));
        let c = o.customer.as_ref().unwrap();
        let id = c.external_id.as_deref().unwrap();
        let n: usize = id.strip_prefix('c').unwrap().parse().unwrap();
        assert!(n < 5_000);
        assert_eq!(c.email.as_ref().unwrap().as_str(), format!("{id}@example.com"));
        assert!(o.placed_at.0 >= last && o.placed_at.0 < START.0 + TWO_YEARS);
        last = o.placed_at.0;
    }
}

#[test]
fn synthetic_orders_are_deterministic() {
    let a: Vec<_> = synthetic_orders(500, 100, 1, START).collect();
    let b: Vec<_> = synthetic_orders(500, 100, 1, START).collect();
    let c: Vec<_> = synthetic_orders(500, 100, 2, START).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(synthetic_orders(0, 0, 1, START).count(), 0);
}

#[test]
fn synthetic_customers_repeat_with_a_skew() {
    let mut per_customer: HashMap<String, usize> = HashMap::new();
    for o in synthetic_orders(10_000, 10_000, 3, START) {
        *per_customer
            .entry(o.customer.unwrap().external_id.unwrap())
            .or_default() += 1;
    }
    let repeaters = per_customer.values().filter(|&&n| n >= 2).count();
    let rate = repeaters as f64 / per_customer.len() as f64;
    assert!((0.2..0.6).contains(&rate), "repeat share {rate:.2}");
    assert!(per_customer.values().any(|&n| n >= 6));
}

fn csv(rows: usize, customers: usize, seed: u64) -> String {
    let mut out = Vec::new();
    write_transactions_csv(&mut out, rows, customers, seed).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn transactions_csv_has_a_header_and_one_line_per_row() {
    let text = csv(10_000, 800, 5);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("customer_id,date,amount"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 10_000);
    assert!(text.ends_with('\n'));
    let mut last_date = NaiveDate::MIN;
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        let [customer, date, amount] = fields[..] else {
            panic!("{row}");
        };
        let n: usize = customer.strip_prefix('c').unwrap().parse().unwrap();
        assert!(n < 800);
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        assert_eq!(date.format("%Y-%m-%d").to_string(), fields[1], "zero-padded date");
        assert!(date >= last_date);
        last_date = date;
        let (_, fraction) = amount.split_once('.').unwrap();
        assert_eq!(fraction.len(), 2, "{amount}");
        let money = Money::parse_major(amount, Currency::INR).unwrap();
        assert!((9_900..=500_000).contains(&money.minor), "{amount}");
    }
    assert_eq!(csv(0, 10, 1), "customer_id,date,amount\n");
}

#[test]
fn transactions_csv_is_deterministic_and_spans_two_years() {
    let a = csv(2_000, 100, 9);
    assert_eq!(a, csv(2_000, 100, 9));
    assert_ne!(a, csv(2_000, 100, 10));
    let dates: Vec<&str> = a.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(dates.first(), Some(&"2023-01-01"));
    assert_eq!(dates.last(), Some(&"2024-12-30"));
}
