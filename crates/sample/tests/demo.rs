use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regulars_domain::{ConsentChannel, Currency, CustomerInput, FinancialStatus, OrderInput, Timestamp};
use regulars_sample::{demo_dataset, demo_stores, DemoData, DemoStoreSpec};

/// 2026-01-01T00:00:00Z.
const NOW: Timestamp = Timestamp(1_767_225_600_000);
const TWO_YEARS: i64 = 730 * 24 * 3_600_000;

fn stores() -> &'static [(DemoStoreSpec, DemoData)] {
    static DATA: OnceLock<Vec<(DemoStoreSpec, DemoData)>> = OnceLock::new();
    DATA.get_or_init(|| {
        demo_stores()
            .into_iter()
            .map(|spec| {
                let data = demo_dataset(&spec, NOW);
                (spec, data)
            })
            .collect()
    })
}

fn store(currency: Currency) -> &'static DemoData {
    &stores()
        .iter()
        .find(|(s, _)| s.currency == currency)
        .expect("store exists")
        .1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Script {
    Latin,
    Devanagari,
    Telugu,
    Armenian,
}

fn script(s: &str) -> Option<Script> {
    s.chars().find(|c| c.is_alphabetic()).and_then(|c| match c {
        'A'..='Z' | 'a'..='z' => Some(Script::Latin),
        '\u{0900}'..='\u{097F}' => Some(Script::Devanagari),
        '\u{0C00}'..='\u{0C7F}' => Some(Script::Telugu),
        '\u{0530}'..='\u{058F}' => Some(Script::Armenian),
        _ => None,
    })
}

fn name_scripts(data: &DemoData) -> HashMap<Script, usize> {
    let mut counts = HashMap::new();
    for c in &data.customers {
        let s = script(c.first_name.as_deref().unwrap()).expect("known script");
        *counts.entry(s).or_insert(0) += 1;
    }
    counts
}

fn orders_per_customer(data: &DemoData) -> HashMap<String, usize> {
    let by_email: HashMap<&str, &str> = data
        .customers
        .iter()
        .map(|c| {
            (
                c.email.as_ref().unwrap().as_str(),
                c.external_id.as_deref().unwrap(),
            )
        })
        .collect();
    let mut counts = HashMap::new();
    for o in &data.orders {
        let c = o.customer.as_ref().unwrap();
        let id = match &c.external_id {
            Some(id) => id.as_str(),
            None => by_email[c.email.as_ref().unwrap().as_str()],
        };
        *counts.entry(id.to_string()).or_insert(0) += 1;
    }
    counts
}

fn share(part: usize, whole: usize) -> f64 {
    part as f64 / whole as f64
}

#[test]
fn three_stores_in_their_own_currency_zone_and_language() {
    let specs = demo_stores();
    let summary: Vec<_> = specs
        .iter()
        .map(|s| (s.currency.code(), s.time_zone, s.locale.language(), s.customers))
        .collect();
    assert_eq!(
        summary,
        [
            ("INR", "Asia/Kolkata", "en", 1_800),
            ("AMD", "Asia/Yerevan", "hy", 700),
            ("USD", "America/New_York", "en", 500)
        ]
    );
    for (spec, data) in stores() {
        assert_eq!(data.customers.len(), spec.customers);
        assert!(
            data.orders.len() > spec.customers,
            "{}: {} orders",
            spec.name,
            data.orders.len()
        );
        assert!(data.orders.iter().all(|o| o.currency == spec.currency));
    }
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let spec = &demo_stores()[2];
    assert_eq!(&demo_dataset(spec, NOW), &stores()[2].1);
    let other = DemoStoreSpec {
        seed: spec.seed + 1,
        ..spec.clone()
    };
    let different = demo_dataset(&other, NOW);
    assert_ne!(different.customers, stores()[2].1.customers);
    assert_ne!(different.orders, stores()[2].1.orders);
}

#[test]
fn every_record_is_valid_and_identified() {
    for (spec, data) in stores() {
        let mut ids = HashSet::new();
        let mut emails = HashSet::new();
        for c in &data.customers {
            c.validate().unwrap();
            assert!(ids.insert(c.external_id.clone().expect("external id")));
            let email = c.email.as_ref().expect("email").as_str();
            assert!(email.is_ascii() && email.contains("@example."), "{email}");
            assert!(emails.insert(email.to_string()), "duplicate {email}");
            let mut normalised = c.clone();
            normalised.normalise();
            assert_eq!(&normalised, c, "customers arrive normalised");
        }
        let mut order_ids = HashSet::new();
        for o in &data.orders {
            o.validate().unwrap_or_else(|e| panic!("{}: {e}", o.external_id));
            assert!(order_ids.insert(o.external_id.as_str()));
            let prefix = format!("demo-{}-", &spec.currency.code()[..2].to_ascii_lowercase());
            assert!(o.external_id.starts_with(&prefix), "{}", o.external_id);
            let c = o.customer.as_ref().expect("every demo order has a customer");
            match &c.external_id {
                Some(id) => assert!(ids.contains(id)),
                None => assert!(emails.contains(c.email.as_ref().unwrap().as_str())),
            }
        }
    }
}

#[test]
fn totals_add_up() {
    for (spec, data) in stores() {
        for o in &data.orders {
            assert_eq!(
                o.total,
                o.subtotal - o.discount_total + o.shipping_total + o.tax_total
            );
            let gross: i64 = o.line_items.iter().map(|l| l.quantity * l.unit_price).sum();
            assert_eq!(gross, o.subtotal, "{}", o.external_id);
            let line_discounts: i64 = o.line_items.iter().map(|l| l.discount).sum();
            assert_eq!(line_discounts, o.discount_total, "{}", o.external_id);
            assert!((1..=4).contains(&o.line_items.len()));
            assert_eq!(
                o.discount_codes.is_empty(),
                o.discount_total == 0,
                "{}",
                o.external_id
            );
            if spec.currency == Currency::AMD {
                for amount in [o.total, o.tax_total, o.shipping_total, o.subtotal] {
                    assert_eq!(amount % 100, 0, "whole dram in {}", o.external_id);
                }
            }
        }
    }
}

#[test]
fn prices_suit_the_currency() {
    let ranges = [
        (Currency::INR, 14_900, 299_900),
        (Currency::AMD, 150_000, 4_500_000),
        (Currency::USD, 500, 8_000),
    ];
    for (currency, lo, hi) in ranges {
        for l in store(currency).orders.iter().flat_map(|o| &o.line_items) {
            assert!((lo..=hi).contains(&l.unit_price), "{currency} {}", l.unit_price);
            assert!(l.sku.is_some() && l.product_external_id.is_some() && l.variant_external_id.is_some());
        }
    }
}

#[test]
fn each_store_speaks_its_languages() {
    let india = name_scripts(store(Currency::INR));
    for s in [Script::Devanagari, Script::Telugu, Script::Latin] {
        assert!(
            india.get(&s).copied().unwrap_or(0) > 100,
            "India {s:?}: {india:?}"
        );
    }
    assert_eq!(india.get(&Script::Armenian), None);
    let armenia = name_scripts(store(Currency::AMD));
    let armenians = store(Currency::AMD).customers.len();
    assert!(armenia[&Script::Armenian] > armenians * 7 / 10, "{armenia:?}");
    assert!(armenia[&Script::Latin] > 20);
    let usa = name_scripts(store(Currency::USD));
    assert!(usa[&Script::Latin] > 300, "{usa:?}");
    for s in [Script::Devanagari, Script::Telugu, Script::Armenian] {
        assert!(
            usa.get(&s).copied().unwrap_or(0) > 5,
            "US diaspora {s:?}: {usa:?}"
        );
    }
}

#[test]
fn locale_and_notes_match_the_customers_script() {
    let mut notes_by_script = HashSet::new();
    for (_, data) in stores() {
        for c in &data.customers {
            let expected = match script(c.first_name.as_deref().unwrap()).unwrap() {
                Script::Latin => "en",
                Script::Devanagari => "hi",
                Script::Telugu => "te",
                Script::Armenian => "hy",
            };
            assert_eq!(
                c.locale.as_ref().unwrap().language(),
                expected,
                "{:?}",
                c.first_name
            );
            if let Some(note) = &c.note {
                let s = script(note).unwrap();
                assert_eq!(Some(s), script(c.first_name.as_deref().unwrap()), "{note}");
                notes_by_script.insert(s);
            }
        }
        let order_notes = data.orders.iter().filter(|o| o.note.is_some()).count();
        assert!(order_notes > 10);
    }
    assert_eq!(notes_by_script.len(), 4);
}

#[test]
fn contact_details_are_local() {
    for (currency, code, domain) in [
        (Currency::INR, "+91", "example.in"),
        (Currency::AMD, "+374", "example.am"),
        (Currency::USD, "+1", "example.com"),
    ] {
        let customers = &store(currency).customers;
        let phones: Vec<&str> = customers
            .iter()
            .filter_map(|c| c.phone.as_ref())
            .map(|p| p.as_str())
            .collect();
        assert!(phones.len() > customers.len() / 3);
        assert!(phones.iter().all(|p| p.starts_with(code)), "{currency}");
        assert!(customers
            .iter()
            .any(|c| c.email.as_ref().unwrap().as_str().ends_with(domain)));
        let birthdays: Vec<_> = customers.iter().filter_map(|c| c.birthday).collect();
        assert!(birthdays.iter().any(|b| b.year.is_none()) && birthdays.iter().any(|b| b.year.is_some()));
    }
}

#[test]
fn repeat_buyers_are_a_minority_with_a_long_tail() {
    for (spec, data) in stores() {
        let counts = orders_per_customer(data);
        let repeaters = counts.values().filter(|&&n| n >= 2).count();
        let rate = share(repeaters, counts.len());
        assert!(
            (0.2..=0.6).contains(&rate),
            "{}: repeat share {rate:.2}",
            spec.name
        );
        assert!(counts.values().any(|&n| n >= 8), "{}: no regulars", spec.name);
    }
}

#[test]
fn refunds_guests_marketplace_and_cancellations_occur() {
    for (spec, data) in stores() {
        let n = data.orders.len();
        let count = |f: &dyn Fn(&OrderInput) -> bool| data.orders.iter().filter(|o| f(o)).count();
        let refunded = count(&|o| !o.refunds.is_empty());
        let cancelled = count(&|o| o.cancelled_at.is_some());
        let marketplace = count(&|o| o.marketplace.is_some());
        let guest = count(&|o| o.customer.as_ref().unwrap().has_account == Some(false));
        let discounted = count(&|o| !o.discount_codes.is_empty());
        let name = &spec.name;
        assert!(
            (0.01..0.06).contains(&share(refunded, n)),
            "{name}: {refunded} refunds of {n}"
        );
        assert!(
            cancelled > 0 && share(cancelled, n) < 0.03,
            "{name}: {cancelled} cancelled"
        );
        assert!(
            (0.02..0.12).contains(&share(marketplace, n)),
            "{name}: {marketplace} marketplace"
        );
        assert!(
            (0.08..0.35).contains(&share(guest, n)),
            "{name}: {guest} guest orders"
        );
        assert!(
            (0.05..0.4).contains(&share(discounted, n)),
            "{name}: {discounted} discounted"
        );
        for o in &data.orders {
            check_order_state(o);
        }
    }
    let india = &store(Currency::INR).orders;
    assert!(india.iter().any(|o| o.discount_codes == ["DIWALI10"]));
    assert!(india.iter().any(|o| o.marketplace.as_deref() == Some("flipkart")));
    assert!(india
        .iter()
        .any(|o| o.financial_status == FinancialStatus::Refunded));
    assert!(india
        .iter()
        .any(|o| o.financial_status == FinancialStatus::PartiallyRefunded));
}

fn check_order_state(o: &OrderInput) {
    let c = o.customer.as_ref().unwrap();
    if c.has_account == Some(false) {
        // A guest checkout is known by email only.
        assert!(c.external_id.is_none() && c.email.is_some() && c.phone.is_none());
    }
    if o.cancelled_at.is_some() {
        assert_eq!(o.financial_status, FinancialStatus::Voided);
        assert!(o.refunds.is_empty());
    }
    for r in &o.refunds {
        assert!(!r.lines.is_empty());
        assert!(r
            .lines
            .iter()
            .all(|l| o.line_items.iter().any(|li| li.external_id == l.line_external_id)));
    }
    let full = o.refunds.iter().map(|r| r.amount).sum::<i64>() == o.total;
    match o.financial_status {
        FinancialStatus::Refunded => assert!(full),
        FinancialStatus::PartiallyRefunded => assert!(!o.refunds.is_empty()),
        _ => assert!(o.refunds.is_empty()),
    }
}

#[test]
fn history_covers_two_years_up_to_now() {
    for (spec, data) in stores() {
        let start = NOW.0 - TWO_YEARS;
        for o in &data.orders {
            let t = o.placed_at.0;
            assert!(
                (start..=NOW.0).contains(&t),
                "{} at {}",
                o.external_id,
                o.placed_at
            );
            for later in o.refunds.iter().map(|r| r.created_at).chain(o.cancelled_at) {
                assert!(later.0 >= t && later.0 <= NOW.0);
            }
            assert!(o.source_updated_at.unwrap().0 >= t);
        }
        assert!(data.orders.windows(2).all(|w| w[0].placed_at <= w[1].placed_at));
        let first = data.orders.first().unwrap().placed_at.0;
        let last = data.orders.last().unwrap().placed_at.0;
        assert!(
            first < start + TWO_YEARS / 8 && last > NOW.0 - TWO_YEARS / 24,
            "{}",
            spec.name
        );
        let numbers: Vec<_> = data
            .orders
            .iter()
            .map(|o| o.order_number.clone().unwrap())
            .collect();
        assert_eq!(numbers[0], "#1001");
    }
}

#[test]
fn customers_join_before_they_buy() {
    for (_, data) in stores() {
        let mut first_order: HashMap<&str, i64> = HashMap::new();
        for o in &data.orders {
            let email = o.customer.as_ref().unwrap().email.as_ref().unwrap().as_str();
            first_order.entry(email).or_insert(o.placed_at.0);
        }
        for c in &data.customers {
            let created = c.created_at.unwrap().0;
            if let Some(&first) = first_order.get(c.email.as_ref().unwrap().as_str()) {
                assert!(created <= first);
            }
            for consent in &c.consents {
                assert!(consent.at.unwrap().0 >= created && consent.at.unwrap().0 <= NOW.0);
            }
        }
    }
}

fn email_consent_events(c: &CustomerInput) -> Vec<bool> {
    c.consents
        .iter()
        .filter(|e| e.channel == ConsentChannel::Email)
        .map(|e| e.granted)
        .collect()
}

#[test]
fn prospects_consents_and_acquisition() {
    for (spec, data) in stores() {
        let counts = orders_per_customer(data);
        let prospects: Vec<_> = data
            .customers
            .iter()
            .filter(|c| !counts.contains_key(c.external_id.as_deref().unwrap()))
            .collect();
        assert!(
            prospects.len() >= spec.customers / 50,
            "{}: {} prospects",
            spec.name,
            prospects.len()
        );
        for p in &prospects {
            assert_eq!(
                email_consent_events(p).first(),
                Some(&true),
                "prospects signed up"
            );
            assert!(p.tags.as_ref().unwrap().contains(&"prospect".to_string()));
        }
        let withdrawn = data
            .customers
            .iter()
            .filter(|c| email_consent_events(c) == [true, false])
            .count();
        assert!(withdrawn > 0, "{}: nobody unsubscribed", spec.name);
        let sms = data
            .customers
            .iter()
            .flat_map(|c| &c.consents)
            .filter(|e| e.channel == ConsentChannel::Sms);
        assert!(sms.clone().any(|e| e.granted) && sms.clone().any(|e| !e.granted));
        for c in &data.customers {
            for e in c.consents.iter().filter(|e| e.granted) {
                assert_eq!(e.language, c.locale);
                assert!(e.notice_text.is_some() && e.notice_version.is_some());
            }
            let channel = c.acquisition_channel.as_deref().unwrap();
            let paid = matches!(channel, "instagram" | "google_ads");
            assert_eq!(c.acquisition_cost.is_some(), paid, "{channel}");
            if let Some(cost) = c.acquisition_cost {
                assert_eq!(cost.currency, spec.currency);
                assert!(cost.minor > 0);
            }
        }
        let guests = data
            .customers
            .iter()
            .filter(|c| c.has_account == Some(false))
            .count();
        assert!(
            (0.12..0.28).contains(&share(guests, spec.customers)),
            "{}: {guests} guests",
            spec.name
        );
        let tags: HashSet<&str> = data
            .customers
            .iter()
            .flat_map(|c| c.tags.as_ref().unwrap())
            .map(|t| t.as_str())
            .collect();
        for t in ["vip", "newsletter", "prospect"] {
            assert!(tags.contains(t), "{}: no {t}", spec.name);
        }
        let channels: HashSet<&str> = data
            .customers
            .iter()
            .filter_map(|c| c.acquisition_channel.as_deref())
            .collect();
        assert_eq!(channels.len(), 6, "{channels:?}");
    }
    assert!(store(Currency::INR).customers.iter().any(|c| c
        .tags
        .as_ref()
        .unwrap()
        .contains(&"wholesale".into())));
}
