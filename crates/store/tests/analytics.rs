//! Predictive analytics kept in the store, on SQLite and on PostgreSQL: a refit fills every
//! buyer's fields, they rank customers the way their histories say, RFM segments and VIPs are
//! exactly the analytics crate's, an order moves its customer's fields, a store too small to
//! fit says why, and no refit touches another store.

use std::collections::{HashMap, HashSet};

use regulars_analytics::metrics::{customer_totals, rfm, vips, VipRule};
use regulars_analytics::summary::Transaction;
use regulars_domain::{Currency, OrderInput, Timestamp};
use regulars_store::{
    CustomerFilter, CustomerQuery, CustomerRecord, CustomerSort, Db, StoreError, StoreRecord,
    FAILURE_TOO_FEW_CUSTOMERS,
};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend, TestDb};

const DAY_MS: i64 = 86_400_000;

/// `days_ago` days before now.
fn ago(now: i64, days_ago: i64) -> Timestamp {
    Timestamp(now - days_ago * DAY_MS)
}

/// A store's customers with known habits (days ago of each purchase, amount in paise):
/// `frequent-*` buy every 2 weeks up to a few days ago, `lapsed-*` bought as often but
/// stopped ten months ago, `monthly-*` buy about monthly, `once-*` bought once.
fn habits() -> Vec<(String, Vec<(i64, i64)>)> {
    let mut seed = 11u64;
    let mut rand = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) % n) as i64
    };
    let mut out = Vec::new();
    for i in 0..50 {
        let last = 1 + rand(6);
        let buys = (0..20)
            .map(|k| (last + 14 * k + rand(3), 40_000 + rand(20) * 1_000))
            .collect();
        out.push((format!("frequent-{i}"), buys));
    }
    for i in 0..50 {
        let last = 300 + rand(10);
        let buys = (0..20)
            .map(|k| (last + 14 * k + rand(3), 40_000 + rand(20) * 1_000))
            .collect();
        out.push((format!("lapsed-{i}"), buys));
    }
    for i in 0..60 {
        let last = 5 + rand(60);
        let count = 2 + rand(8);
        let buys = (0..count)
            .map(|k| (last + 30 * k + rand(5), 15_000 + rand(10) * 1_000))
            .collect();
        out.push((format!("monthly-{i}"), buys));
    }
    for i in 0..140 {
        out.push((
            format!("once-{i}"),
            vec![(1 + rand(600), 10_000 + rand(30) * 1_000)],
        ));
    }
    out
}

fn orders_of(store: &StoreRecord, now: i64, customers: &[(String, Vec<(i64, i64)>)]) -> Vec<OrderInput> {
    customers
        .iter()
        .flat_map(|(ext, buys)| {
            buys.iter().enumerate().map(move |(k, (days, total))| {
                paid_order(
                    &format!("{ext}-{k}"),
                    ext,
                    store.currency,
                    *total,
                    ago(now, *days),
                )
            })
        })
        .collect()
}

async fn load(db: &Db, store: &StoreRecord, orders: &[OrderInput]) {
    for chunk in orders.chunks(1_000) {
        db.upsert_orders(store, chunk, "test").await.unwrap();
    }
}

async fn by_ext(db: &Db, store: &StoreRecord, ext: &str) -> CustomerRecord {
    let found = db
        .customers(
            store.id,
            &CustomerFilter {
                external_id: Some(ext.into()),
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    found
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no customer {ext}"))
}

async fn all_customers(db: &Db, store: &StoreRecord) -> Vec<CustomerRecord> {
    let mut out = Vec::new();
    loop {
        let page = db
            .customers(
                store.id,
                &CustomerFilter {
                    after: out.last().map(|c: &CustomerRecord| c.id),
                    limit: 1000,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        if page.is_empty() {
            return out;
        }
        out.extend(page);
    }
}

/// Days since 1970-01-01 of `at` in the store's time zone.
fn local_day(store: &StoreRecord, at: Timestamp) -> i32 {
    use chrono::Datelike;
    at.to_datetime()
        .with_timezone(&store.timezone.0)
        .date_naive()
        .num_days_from_ce()
        - 719_163
}

async fn refit_fills_fields_that_rank_customers_by_their_habits(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi").await;
    let now = Timestamp::now().0;
    let customers = habits();
    load(&t.db, &store, &orders_of(&store, now, &customers)).await;
    assert!(t.db.analytics_model(store.id).await.unwrap().is_none());
    assert!(by_ext(&t.db, &store, "frequent-0").await.analytics.is_none());

    let report = t.db.refit_store(store.id).await.unwrap();
    assert!(report.fitted, "{report:?}");
    assert_eq!(report.customers, customers.len());
    assert_eq!(report.repeat_buyers, 160);
    assert_eq!(report.written, customers.len() as u64);
    let model = t.db.analytics_model(store.id).await.unwrap().unwrap();
    assert_eq!(model.failure, None);
    assert!(model.mbg_nbd.is_some() && model.gamma_gamma.is_some());
    assert_eq!(model.customers, customers.len() as i64);
    assert_eq!(model.rfm_cuts.frequency.len(), 4);
    assert!(model.log_likelihood.is_some_and(f64::is_finite));

    // Every buyer's fields are there, and plausible.
    let stored = all_customers(&t.db, &store).await;
    assert_eq!(stored.len(), customers.len());
    for c in &stored {
        let a = c.analytics.as_ref().expect("every buyer has analytics");
        let p = a.p_alive.unwrap();
        assert!((0.0..=1.0).contains(&p), "{p}");
        assert!(a.predicted_purchases_12m.unwrap() >= 0.0);
        assert!(a.clv_12m_minor.unwrap() >= 0);
        assert!(a.rfm.is_some() && a.segment.is_some());
        assert_eq!(a.computed_at, report.fitted_at);
    }

    // A frequent recent buyer is more likely active and worth more than a lapsed one.
    let frequent = by_ext(&t.db, &store, "frequent-0").await.analytics.unwrap();
    let lapsed = by_ext(&t.db, &store, "lapsed-0").await.analytics.unwrap();
    assert!(frequent.p_alive.unwrap() > 0.8, "{frequent:?}");
    assert!(lapsed.p_alive.unwrap() < 0.2, "{lapsed:?}");
    assert!(frequent.clv_12m_minor.unwrap() > 5 * lapsed.clv_12m_minor.unwrap().max(1));
    assert!(frequent.predicted_purchases_12m.unwrap() > 10.0 * lapsed.predicted_purchases_12m.unwrap());
    let due = frequent
        .next_purchase_at
        .expect("a frequent buyer's next purchase is due");
    assert!(due.0 > now && due.0 < now + 60 * DAY_MS, "{due:?}");
    assert_eq!(lapsed.next_purchase_at, None);

    // One-time buyers are not all taken to be active (the reason for MBG/NBD over BG/NBD):
    // the longer ago their only purchase, the less likely they are to come back.
    let mut once = Vec::new();
    for (ext, buys) in customers.iter().filter(|(ext, _)| ext.starts_with("once-")) {
        let p_alive = by_ext(&t.db, &store, ext)
            .await
            .analytics
            .unwrap()
            .p_alive
            .unwrap();
        once.push((buys[0].0, p_alive));
    }
    once.sort_by_key(|(days, _)| *days);
    let (recent, oldest) = (once.first().unwrap(), once.last().unwrap());
    assert!(oldest.1 < recent.1 && oldest.1 < 0.9, "{recent:?} {oldest:?}");

    // RFM scores, segments and VIPs are exactly what the analytics crate gives.
    let ext_index: HashMap<&str, u64> = customers
        .iter()
        .enumerate()
        .map(|(i, (ext, _))| (ext.as_str(), i as u64))
        .collect();
    let mut transactions: Vec<Transaction> = customers
        .iter()
        .enumerate()
        .flat_map(|(i, (_, buys))| {
            let store = &store;
            buys.iter().map(move |(days, total)| Transaction {
                customer: i as u64,
                day: local_day(store, ago(now, *days)),
                amount: *total as f64,
            })
        })
        .collect();
    transactions.sort_by_key(|t| (t.customer, t.day));
    let today = local_day(&store, Timestamp(report.fitted_at.0));
    let expected: HashMap<u64, _> = rfm(&transactions, today)
        .into_iter()
        .map(|r| (r.customer, r))
        .collect();
    let vip_set: HashSet<u64> = vips(&customer_totals(&transactions), VipRule::default())
        .into_iter()
        .collect();
    assert!(vip_set.len() >= 15, "the top 5 % of 300, and ties");
    let mut segments = HashSet::new();
    for c in &stored {
        let ext = &c.identities[0].external_id;
        let i = ext_index[ext.as_str()];
        let want = &expected[&i];
        let a = c.analytics.as_ref().unwrap();
        let got = a.rfm.unwrap();
        assert_eq!(
            (got.recency, got.frequency, got.monetary),
            (want.r, want.f, want.m),
            "{ext}"
        );
        assert_eq!(a.segment.as_deref(), Some(want.segment.key()), "{ext}");
        assert_eq!(a.vip, vip_set.contains(&i), "{ext}");
        segments.insert(want.segment.key());
    }
    assert!(
        segments.contains("champions") && segments.len() >= 4,
        "{segments:?}"
    );
}

async fn an_order_moves_its_customers_fields(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi").await;
    let now = Timestamp::now().0;
    let customers = habits();
    load(&t.db, &store, &orders_of(&store, now, &customers)).await;
    t.db.refit_store(store.id).await.unwrap();
    let before = by_ext(&t.db, &store, "lapsed-3").await;
    let was = before.analytics.clone().unwrap();
    let others = by_ext(&t.db, &store, "frequent-3").await.analytics.unwrap();

    // The lapsed customer comes back today.
    t.db.upsert_orders(
        &store,
        &[paid_order(
            "lapsed-3-back",
            "lapsed-3",
            Currency::INR,
            90_000,
            Timestamp::now(),
        )],
        "test",
    )
    .await
    .unwrap();
    let now_a = by_ext(&t.db, &store, "lapsed-3").await.analytics.unwrap();
    assert!(now_a.computed_at > was.computed_at);
    assert!(now_a.p_alive.unwrap() > 0.9, "{now_a:?}");
    assert!(now_a.p_alive.unwrap() > was.p_alive.unwrap());
    assert!(now_a.clv_12m_minor.unwrap() > was.clv_12m_minor.unwrap());
    assert_eq!(now_a.rfm.unwrap().recency, 5);
    assert_ne!(now_a.segment, was.segment);
    // Nobody else moved.
    assert_eq!(
        by_ext(&t.db, &store, "frequent-3").await.analytics.unwrap(),
        others
    );

    // Refreshing without a change gives the same figures.
    t.db.refresh_customer(store.id, before.id).await.unwrap();
    let again = by_ext(&t.db, &store, "lapsed-3").await.analytics.unwrap();
    assert_eq!(again.p_alive, now_a.p_alive);
    assert_eq!(again.rfm, now_a.rfm);

    // A one-time buyer whose only order is cancelled has no purchase left: no analytics.
    let once = by_ext(&t.db, &store, "once-7").await;
    assert!(once.analytics.is_some());
    let (days, total) = customers.iter().find(|(e, _)| e == "once-7").unwrap().1[0];
    let mut cancelled = paid_order("once-7-0", "once-7", Currency::INR, total, ago(now, days));
    cancelled.cancelled_at = Some(Timestamp::now());
    t.db.upsert_orders(&store, &[cancelled], "test").await.unwrap();
    assert_eq!(by_ext(&t.db, &store, "once-7").await.analytics, None);

    // The next refit agrees with what the orders computed.
    t.db.refit_store(store.id).await.unwrap();
    let refit = by_ext(&t.db, &store, "lapsed-3").await.analytics.unwrap();
    assert_eq!(refit.rfm.unwrap().recency, 5);
    assert!(refit.p_alive.unwrap() > 0.9);
    assert_eq!(by_ext(&t.db, &store, "once-7").await.analytics, None);
}

async fn a_small_store_keeps_rfm_and_says_why_it_has_no_model(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let now = Timestamp::now().0;
    let few: Vec<(String, Vec<(i64, i64)>)> = (0..8)
        .map(|i| {
            (
                format!("c-{i}"),
                (0..=(i % 3))
                    .map(|k| (3 + 20 * k + i, 100_000 * (1 + i)))
                    .collect(),
            )
        })
        .collect();
    load(&t.db, &store, &orders_of(&store, now, &few)).await;
    let report = t.db.refit_store(store.id).await.unwrap();
    assert!(!report.fitted);
    assert_eq!(report.failure.as_deref(), Some(FAILURE_TOO_FEW_CUSTOMERS));
    let model = t.db.analytics_model(store.id).await.unwrap().unwrap();
    assert_eq!(model.failure.as_deref(), Some(FAILURE_TOO_FEW_CUSTOMERS));
    assert!(model.failure_detail.unwrap().contains('8'));
    assert!(model.mbg_nbd.is_none() && model.gamma_gamma.is_none());
    // c-5 spent most: 3 × 600,000.
    assert_eq!(model.vip_threshold_minor, Some(1_800_000));
    for c in all_customers(&t.db, &store).await {
        let a = c.analytics.unwrap();
        assert_eq!(
            (
                a.p_alive,
                a.predicted_purchases_12m,
                a.clv_12m_minor,
                a.next_purchase_at
            ),
            (None, None, None, None)
        );
        assert!(a.rfm.is_some() && a.segment.is_some());
    }
    assert!(by_ext(&t.db, &store, "c-5").await.analytics.unwrap().vip);
    assert!(!by_ext(&t.db, &store, "c-7").await.analytics.unwrap().vip);

    // An order still scores its customer with the stored cut points.
    t.db.upsert_orders(
        &store,
        &[paid_order(
            "c-0-new",
            "c-0",
            Currency::AMD,
            5_000_000,
            Timestamp::now(),
        )],
        "test",
    )
    .await
    .unwrap();
    let a = by_ext(&t.db, &store, "c-0").await.analytics.unwrap();
    assert!(a.vip && a.p_alive.is_none());
    assert_eq!(a.rfm.unwrap().recency, 5);
}

async fn a_refit_never_touches_another_store(backend: Backend) {
    let t = TestDb::new(backend).await;
    let a = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi").await;
    let b = t.store("Chai Chaupal Two", "INR", "Asia/Kolkata", "te").await;
    let now = Timestamp::now().0;
    let customers = habits();
    load(&t.db, &a, &orders_of(&a, now, &customers[..200])).await;
    // The same people (the same external ids) in the other store.
    load(&t.db, &b, &orders_of(&b, now, &customers[100..])).await;

    t.db.refit_store(a.id).await.unwrap();
    assert!(t.db.analytics_model(b.id).await.unwrap().is_none());
    assert!(all_customers(&t.db, &b)
        .await
        .iter()
        .all(|c| c.analytics.is_none()));
    // Orders in B do not score with A's model.
    t.db.upsert_orders(
        &b,
        &[paid_order(
            "monthly-1-back",
            "monthly-1",
            Currency::INR,
            1_000,
            Timestamp::now(),
        )],
        "test",
    )
    .await
    .unwrap();
    assert!(by_ext(&t.db, &b, "monthly-1").await.analytics.is_none());

    let report_b = t.db.refit_store(b.id).await.unwrap();
    let b_fields: Vec<_> = all_customers(&t.db, &b)
        .await
        .into_iter()
        .map(|c| (c.id, c.analytics))
        .collect();
    let a_model = t.db.analytics_model(a.id).await.unwrap().unwrap();
    assert_eq!(a_model.customers, 200);
    assert_eq!(report_b.customers, 200);
    t.db.refit_store(a.id).await.unwrap();
    let b_after: Vec<_> = all_customers(&t.db, &b)
        .await
        .into_iter()
        .map(|c| (c.id, c.analytics))
        .collect();
    assert_eq!(b_fields, b_after);
    assert_eq!(
        t.db.analytics_model(b.id).await.unwrap().unwrap().fitted_at,
        report_b.fitted_at
    );
}

async fn the_list_filters_by_segment_and_vip_and_sorts_by_value(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "hi").await;
    let now = Timestamp::now().0;
    load(&t.db, &store, &orders_of(&store, now, &habits())).await;
    t.db.refit_store(store.id).await.unwrap();
    let everyone = all_customers(&t.db, &store).await;
    let walk = |q: CustomerQuery| {
        let db = t.db.clone();
        let store = store.clone();
        async move {
            let mut out = Vec::new();
            let mut after = None;
            loop {
                let page = db
                    .customer_page(
                        store.id,
                        store.currency,
                        &CustomerQuery {
                            after,
                            limit: 7,
                            ..q.clone()
                        },
                    )
                    .await
                    .unwrap();
                out.extend(page.customers);
                match page.next {
                    Some(next) => after = Some(next),
                    None => return out,
                }
            }
        }
    };
    let segments: HashSet<String> = everyone
        .iter()
        .filter_map(|c| c.analytics.as_ref()?.segment.clone())
        .collect();
    for segment in &segments {
        for sort in [CustomerSort::Clv, CustomerSort::PAlive, CustomerSort::LastOrder] {
            let listed = walk(CustomerQuery {
                segment: Some(segment.clone()),
                sort,
                ..Default::default()
            })
            .await;
            let mut expected: Vec<&CustomerRecord> = everyone
                .iter()
                .filter(|c| c.analytics.as_ref().unwrap().segment.as_ref() == Some(segment))
                .collect();
            // Highest first, ties by id (also highest first).
            expected.sort_by(|a, b| {
                let key = |c: &CustomerRecord| {
                    let a = c.analytics.as_ref().unwrap();
                    match sort {
                        CustomerSort::Clv => a.clv_12m_minor.unwrap() as f64,
                        CustomerSort::PAlive => a.p_alive.unwrap(),
                        _ => c.last_order_at.unwrap().0 as f64,
                    }
                };
                key(b).total_cmp(&key(a)).then(b.id.cmp(&a.id))
            });
            let ids: Vec<_> = listed.iter().map(|c| c.id).collect();
            let want: Vec<_> = expected.iter().map(|c| c.id).collect();
            assert_eq!(ids, want, "{segment} by {sort:?}");
            assert!(listed.iter().all(|c| c.segment.as_ref() == Some(segment)));
        }
    }
    let vips = walk(CustomerQuery {
        vip: Some(true),
        sort: CustomerSort::Clv,
        ..Default::default()
    })
    .await;
    let want = everyone
        .iter()
        .filter(|c| c.analytics.as_ref().unwrap().vip)
        .count();
    assert!(want >= 15 && vips.len() == want && vips.iter().all(|c| c.vip));
    let err =
        t.db.customer_page(
            store.id,
            store.currency,
            &CustomerQuery {
                segment: Some("regulars".into()),
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(e) if e.field == "segment"));
}

on_both_backends!(
    the_list_filters_by_segment_and_vip_and_sorts_by_value,
    refit_fills_fields_that_rank_customers_by_their_habits,
    an_order_moves_its_customers_fields,
    a_small_store_keeps_rfm_and_says_why_it_has_no_model,
    a_refit_never_touches_another_store,
);
