//! The Analytics pages' figures on a small store worked out by hand, on SQLite and on
//! PostgreSQL: KPIs, the cohort matrix and retention curve, RFM, customer value, acquisition
//! cost per channel, and targets with their status and history.

use regulars_domain::{Currency, CustomerInput, Email, Money, RefundInput, Source, Timestamp, UserId};
use regulars_store::{
    channel_economics, kpi_figures, parse_month, Db, Kpi, KpiStatus, LtvBasis, Segment, SpendBasis,
    StoreError, StoreRecord, ValueBasis, YearMonth,
};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend, TestDb};

fn at(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).unwrap()
}

fn month(s: &str) -> YearMonth {
    parse_month(s).unwrap()
}

/// "Now" for every report of this file: 15 May 2026, noon in Kolkata.
fn now() -> Timestamp {
    at("2026-05-15T12:00:00+05:30")
}

async fn customer(db: &Db, store: &StoreRecord, ext: &str, channel: Option<&str>, cost_minor: Option<i64>) {
    let input = CustomerInput {
        external_id: Some(ext.into()),
        email: Some(Email::parse(&format!("{ext}@example.in")).unwrap()),
        acquisition_channel: channel.map(str::to_string),
        acquisition_cost: cost_minor.map(|c| Money::new(c, Currency::INR)),
        ..Default::default()
    };
    db.upsert_customer(store.id, Source::Api, &input, "test")
        .await
        .unwrap();
}

async fn order(db: &Db, store: &StoreRecord, id: &str, ext: &str, rupees: i64, when: &str) {
    let o = paid_order(id, ext, Currency::INR, rupees * 100, at(when));
    db.upsert_orders(store, &[o], "test").await.unwrap();
}

/// Five buyers:
///
/// | | channel (cost) | orders (₹, local day) |
/// |---|---|---|
/// | a | Instagram (₹300) | 5 Mar 2026 1000, 10 Apr 2026 500 |
/// | b | instagram (₹500) | 20 Mar 2026 2000 |
/// | c | organic | 10 Jan 2025 400, 10 Feb 2025 600, 15 Mar 2026 800, 1 Apr 2026 200 (31 Mar in UTC) |
/// | d | google_ads (₹100) | 20 Apr 2026 1500, and a cancelled order |
/// | e | — | 2 May 2026 700 less a ₹200 refund, and an order in dollars |
async fn shop(db: &Db, store: &StoreRecord) {
    customer(db, store, "a", Some("Instagram"), Some(30_000)).await;
    customer(db, store, "b", Some(" instagram "), Some(50_000)).await;
    customer(db, store, "c", Some("organic"), None).await;
    customer(db, store, "d", Some("google_ads"), Some(10_000)).await;
    customer(db, store, "e", None, None).await;
    order(db, store, "a1", "a", 1000, "2026-03-05T10:00:00+05:30").await;
    order(db, store, "a2", "a", 500, "2026-04-10T10:00:00+05:30").await;
    order(db, store, "b1", "b", 2000, "2026-03-20T10:00:00+05:30").await;
    order(db, store, "c1", "c", 400, "2025-01-10T10:00:00+05:30").await;
    order(db, store, "c2", "c", 600, "2025-02-10T10:00:00+05:30").await;
    order(db, store, "c3", "c", 800, "2026-03-15T10:00:00+05:30").await;
    order(db, store, "c4", "c", 200, "2026-03-31T20:00:00Z").await;
    order(db, store, "d1", "d", 1500, "2026-04-20T10:00:00+05:30").await;
    let mut cancelled = paid_order("d2", "d", Currency::INR, 999_900, at("2026-04-21T10:00:00+05:30"));
    cancelled.cancelled_at = Some(at("2026-04-21T11:00:00+05:30"));
    db.upsert_orders(store, &[cancelled], "test").await.unwrap();
    let mut refunded = paid_order("e1", "e", Currency::INR, 70_000, at("2026-05-02T10:00:00+05:30"));
    refunded.refunds = vec![RefundInput {
        external_id: "r1".into(),
        created_at: at("2026-05-03T10:00:00+05:30"),
        amount: 20_000,
        reason: None,
        lines: vec![],
    }];
    db.upsert_orders(store, &[refunded], "test").await.unwrap();
    let dollars = paid_order("e2", "e", Currency::USD, 1_000, at("2026-05-03T10:00:00+05:30"));
    db.upsert_orders(store, &[dollars], "test").await.unwrap();
}

async fn staff(db: &Db, email: &str) -> UserId {
    db.create_user(
        &Email::parse(email).unwrap(),
        "a long and honest passphrase",
        None,
    )
    .await
    .unwrap()
    .id
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

async fn kpis_cohorts_and_rfm_from_a_hand_built_store(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "en-IN").await;
    shop(&t.db, &store).await;
    let report = t.db.analytics_report(&store, now()).await.unwrap();

    assert_eq!(
        (report.customers, report.orders),
        (5, 9),
        "cancelled and dollar orders do not count"
    );
    assert_eq!(report.revenue_minor, 750_000, "net of the refund");
    let k = &report.kpis;
    assert!(close(k.repeat_purchase_rate.unwrap(), 0.4));
    assert!(close(k.historic_clv_minor.unwrap(), 150_000.0));
    // The last 365 days leave out c's orders of 2025: 7 orders of 5 customers, ₹6,500.
    assert!(close(k.purchase_frequency.unwrap(), 1.4));
    assert!(close(k.average_order_value_minor.unwrap(), 650_000.0 / 7.0));
    // March's buyers a, b, c; a and c came back in April (c's order is 1 April in Kolkata).
    assert_eq!(k.retention_month, month("2026-03"));
    assert_eq!(k.retention_base, 3);
    assert!(close(k.retention_rate.unwrap(), 2.0 / 3.0));
    assert!(close(k.churn_rate.unwrap(), 1.0 / 3.0));

    let months: Vec<String> = report.cohorts.iter().map(|c| c.month.to_string()).collect();
    assert_eq!(months, ["2025-01", "2026-03", "2026-04", "2026-05"]);
    let march = &report.cohorts[1];
    assert_eq!(march.size, 2);
    let cells: Vec<(u64, i64)> = march
        .cells
        .iter()
        .map(|c| (c.customers, c.revenue_minor))
        .collect();
    assert_eq!(cells, [(2, 300_000), (1, 50_000), (0, 0)]);
    let january = &report.cohorts[0];
    assert_eq!(january.cells.len(), 17, "January 2025 to May 2026");
    let bought: Vec<(usize, u64, i64)> = january
        .cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.customers > 0)
        .map(|(i, c)| (i, c.customers, c.revenue_minor))
        .collect();
    assert_eq!(
        bought,
        [(0, 1, 40_000), (1, 1, 60_000), (14, 1, 80_000), (15, 1, 20_000)]
    );
    assert_eq!(report.cohorts[3].cells.len(), 1);
    assert_eq!(
        (report.cohorts[3].size, report.cohorts[3].cells[0].revenue_minor),
        (1, 50_000)
    );

    // The curve counts complete months only: May's cohort and cells are left out.
    let curve = &report.retention_curve;
    assert_eq!((curve[0].cohorts, curve[0].retention), (3, 1.0));
    assert_eq!(curve[1].cohorts, 2);
    assert!(close(curve[1].retention, 0.75) && close(curve[1].weighted_retention, 2.0 / 3.0));
    assert_eq!((curve[2].cohorts, curve[2].retention), (1, 0.0));
    assert_eq!(curve.len(), 16);

    // RFM on 15 May: recency a 35, b 56, c 44, d 25, e 13 days.
    let rfm = &report.rfm;
    let segment_of = |s: Segment| rfm.segments.iter().find(|f| f.segment == s).unwrap();
    assert_eq!(segment_of(Segment::NeedAttention).customers, 1, "a: R3, F4 M2");
    assert_eq!(segment_of(Segment::Lost).customers, 1, "b: R1, F1 M4");
    assert_eq!(segment_of(Segment::AtRisk).value_minor, 200_000, "c: R2, F5 M4");
    assert_eq!(segment_of(Segment::Promising).customers, 1, "d: R4, F1 M2");
    assert_eq!(
        segment_of(Segment::NewCustomers).value_minor,
        50_000,
        "e: R5, F1 M1"
    );
    assert_eq!(rfm.segments.iter().map(|s| s.customers).sum::<u64>(), 5);
    let a = rfm.cells[2][2];
    assert_eq!(
        (a.segment, a.customers, a.value_minor),
        (Segment::NeedAttention, 1, 150_000)
    );
    assert_eq!(rfm.cells[4][4].segment, Segment::Champions);
    // b and c tie as the biggest spenders: both are VIPs.
    assert_eq!((rfm.vips, rfm.vip_threshold_minor), (2, Some(200_000)));

    let value = &report.value_distribution;
    assert_eq!(value.basis, ValueBasis::Historic);
    assert_eq!(
        (value.customers, value.mean_minor, value.median_minor),
        (5, Some(150_000), Some(150_000))
    );
    assert_eq!(value.bins.iter().map(|b| b.customers).sum::<u64>(), 5);
    assert_eq!(value.nothing, 0);
    let open = value.bins.last().unwrap();
    assert_eq!(
        (open.from_minor, open.to_minor, open.customers),
        (200_000, None, 2)
    );
    assert_eq!(
        value.bins[0].to_minor,
        Some(20_000),
        "₹200 bins up to the 99th percentile"
    );

    // Another store sees none of it.
    let other = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    let empty = t.db.analytics_report(&other, now()).await.unwrap();
    assert_eq!((empty.customers, empty.orders), (0, 0));
    assert!(empty.cohorts.is_empty() && empty.kpis.repeat_purchase_rate.is_none());
    assert!(empty.backtest.is_err());
}

async fn acquisition_cost_per_channel_from_spend_and_recorded_costs(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "en-IN").await;
    shop(&t.db, &store).await;
    let owner = staff(&t.db, "owner@chai.in").await;
    let db = &t.db;
    db.set_marketing_spend(store.id, owner, "Instagram", month("2026-03"), Some(400_000))
        .await
        .unwrap();
    db.set_marketing_spend(store.id, owner, "instagram", month("2026-04"), Some(999))
        .await
        .unwrap();
    // Entering a month again replaces it; outside the last 12 months it does not count.
    db.set_marketing_spend(store.id, owner, "instagram", month("2026-04"), Some(100_000))
        .await
        .unwrap();
    db.set_marketing_spend(store.id, owner, "instagram", month("2024-01"), Some(9_999_900))
        .await
        .unwrap();
    db.set_marketing_spend(store.id, owner, "tv", month("2026-02"), Some(5))
        .await
        .unwrap();
    db.set_marketing_spend(store.id, owner, "tv", month("2026-02"), None)
        .await
        .unwrap();

    let spend = db.marketing_spend(store.id).await.unwrap();
    let listed: Vec<(String, String, i64)> = spend
        .iter()
        .map(|s| (s.channel.clone(), s.month.to_string(), s.amount_minor))
        .collect();
    assert_eq!(
        listed,
        [
            ("instagram".to_string(), "2026-04".to_string(), 100_000),
            ("instagram".to_string(), "2026-03".to_string(), 400_000),
            ("instagram".to_string(), "2024-01".to_string(), 9_999_900),
        ]
    );
    assert_eq!(spend[0].set_by.as_deref(), Some("owner@chai.in"));

    let report = db.analytics_report(&store, now()).await.unwrap();
    let (window, rows, total) = channel_economics(&report, &spend);
    assert_eq!(
        (window.from.to_string(), window.to.to_string()),
        ("2025-06".into(), "2026-05".into())
    );
    let channels: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
    assert_eq!(channels, ["instagram", "", "google_ads", "organic"]);

    let instagram = &rows[0];
    assert_eq!(
        (instagram.new_customers, instagram.spend_minor),
        (2, Some(500_000))
    );
    assert_eq!(instagram.spend_basis, SpendBasis::Entered);
    assert!(close(instagram.cac_minor.unwrap(), 250_000.0));
    // Nobody from Instagram is a year old: their value so far, ₹1,750 on average.
    assert_eq!(instagram.ltv_basis, LtvBasis::SoFar);
    assert!(close(instagram.ltv_minor.unwrap(), 175_000.0));
    assert!(close(instagram.ltv_to_cac.unwrap(), 0.7));
    assert_eq!(instagram.months_to_recover, None);

    let google = rows.iter().find(|r| r.channel == "google_ads").unwrap();
    assert_eq!(
        (google.spend_basis, google.spend_minor),
        (SpendBasis::Recorded, Some(10_000))
    );
    assert!(close(google.ltv_to_cac.unwrap(), 15.0));

    let organic = rows.iter().find(|r| r.channel == "organic").unwrap();
    assert_eq!(
        (organic.new_customers, organic.spend_basis, organic.cac_minor),
        (0, SpendBasis::None, None)
    );
    // c spent ₹400 + ₹600 in the year after 10 January 2025.
    assert_eq!(
        (organic.ltv_basis, organic.ltv_minor),
        (LtvBasis::FirstYear, Some(100_000.0))
    );

    // Blended: ₹5,100 of spend against a, b, d and e (c came before the window).
    assert_eq!((total.new_customers, total.spend_minor), (4, Some(510_000)));
    assert!(close(total.cac_minor.unwrap(), 127_500.0));
    assert_eq!(total.ltv_basis, LtvBasis::FirstYear);
    assert!(close(
        total.months_to_recover.unwrap(),
        127_500.0 / (100_000.0 / 12.0)
    ));

    // Refused input names its field; nothing is written.
    let refused = |r: Result<(), StoreError>| match r {
        Err(StoreError::Invalid(e)) => e.field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        refused(
            db.set_marketing_spend(store.id, owner, "  ", month("2026-04"), Some(1))
                .await
        ),
        "channel"
    );
    assert_eq!(
        refused(
            db.set_marketing_spend(store.id, owner, "tv", month("2026-04"), Some(-1))
                .await
        ),
        "amount"
    );
    assert_eq!(db.marketing_spend(store.id).await.unwrap().len(), 3);
    let other = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    assert!(db.marketing_spend(other.id).await.unwrap().is_empty());
}

async fn targets_keep_their_history_and_say_whether_they_are_met(backend: Backend) {
    let t = TestDb::new(backend).await;
    let store = t.store("Chai Chaupal", "INR", "Asia/Kolkata", "en-IN").await;
    shop(&t.db, &store).await;
    let owner = staff(&t.db, "owner@chai.in").await;
    let marketer = staff(&t.db, "asha@chai.in").await;
    let db = &t.db;
    let changed = db
        .set_kpi_targets(
            store.id,
            owner,
            &[
                (Kpi::RepeatPurchaseRate, Some(3_500)),
                (Kpi::ChurnRate, Some(3_000)),
                (Kpi::AverageOrderValue, Some(100_000)),
                (Kpi::RetentionRate, None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(changed, 3, "clearing a target that was never set changes nothing");
    // The same values again write nothing; a new one is a new row by whoever set it.
    let again = db
        .set_kpi_targets(
            store.id,
            marketer,
            &[
                (Kpi::RepeatPurchaseRate, Some(3_500)),
                (Kpi::HistoricClv, Some(1)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(again, 1);

    let report = db.analytics_report(&store, now()).await.unwrap();
    let targets = db.kpi_targets(store.id).await.unwrap();
    let figures = kpi_figures(&report, &targets);
    let status = |kpi: Kpi| figures.iter().find(|f| f.kpi == kpi).unwrap().status;
    assert_eq!(
        status(Kpi::RepeatPurchaseRate),
        KpiStatus::Met,
        "40 % against 35 %"
    );
    assert_eq!(
        status(Kpi::ChurnRate),
        KpiStatus::Behind,
        "33.3 % against at most 30 %"
    );
    assert_eq!(
        status(Kpi::AverageOrderValue),
        KpiStatus::Behind,
        "₹928.57 against ₹1,000"
    );
    assert_eq!(status(Kpi::HistoricClv), KpiStatus::Met);
    assert_eq!(status(Kpi::RetentionRate), KpiStatus::NoTarget);
    let clv = targets.iter().find(|t| t.kpi == Kpi::HistoricClv).unwrap();
    assert_eq!(clv.set_by.as_deref(), Some("asha@chai.in"));

    // Churn met exactly at its target; clearing a target keeps its history.
    db.set_kpi_targets(
        store.id,
        owner,
        &[(Kpi::ChurnRate, Some(3_333)), (Kpi::AverageOrderValue, None)],
    )
    .await
    .unwrap();
    let figures = kpi_figures(&report, &db.kpi_targets(store.id).await.unwrap());
    let status = |kpi: Kpi| figures.iter().find(|f| f.kpi == kpi).unwrap().status;
    assert_eq!(status(Kpi::ChurnRate), KpiStatus::Met);
    assert_eq!(status(Kpi::AverageOrderValue), KpiStatus::NoTarget);
    let rows = match db {
        Db::Sqlite(pool) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM kpi_targets")
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::Pg(pool) => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM kpi_targets")
            .fetch_one(pool)
            .await
            .unwrap(),
    };
    assert_eq!(rows, 6);

    // A rate above 100 % is refused; an empty store has no values, so no status.
    let err = db
        .set_kpi_targets(store.id, owner, &[(Kpi::RetentionRate, Some(10_001))])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref e) if e.field == "target_retention_rate"),
        "{err:?}"
    );
    let other = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    assert!(db.kpi_targets(other.id).await.unwrap().is_empty());
    let empty = db.analytics_report(&other, now()).await.unwrap();
    assert!(kpi_figures(&empty, &[])
        .iter()
        .all(|f| f.status == KpiStatus::NoValue));
}

on_both_backends!(
    kpis_cohorts_and_rfm_from_a_hand_built_store,
    acquisition_cost_per_channel_from_spend_and_recorded_costs,
    targets_keep_their_history_and_say_whether_they_are_met,
);
