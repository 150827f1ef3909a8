//! Retention metrics on small hand-computed examples.

use regulars_analytics::metrics::{
    channel_economics, cohort_matrix, customer_totals, kpis, monthly_retention, quintile_scores,
    retention_curve, rfm, rfm_scores, rfm_values, vips, ChannelInput, CohortCell, CustomerTotals, RfmValues,
    Segment, VipRule, YearMonth,
};
use regulars_analytics::summary::{day_from_date, Transaction};

fn d(date: &str) -> i32 {
    day_from_date(
        date[0..4].parse().unwrap(),
        date[5..7].parse().unwrap(),
        date[8..10].parse().unwrap(),
    )
    .unwrap()
}

fn t(customer: u64, date: &str, amount: f64) -> Transaction {
    Transaction {
        customer,
        day: d(date),
        amount,
    }
}

/// Five customers over January–April 2024.
///
/// | customer | orders |
/// |---|---|
/// | 1 | Jan 5 (10), Jan 20 (5), Feb 3 (20), Apr 1 (7) |
/// | 2 | Jan 15 (50), Mar 10 (30) |
/// | 3 | Feb 1 (8), Feb 28 (12), Mar 1 (4) |
/// | 4 | Mar 31 (100) |
/// | 5 | Mar 5 (9) |
fn store() -> Vec<Transaction> {
    vec![
        t(3, "2024-03-01", 4.0),
        t(1, "2024-01-05", 10.0),
        t(1, "2024-01-20", 5.0),
        t(2, "2024-01-15", 50.0),
        t(1, "2024-02-03", 20.0),
        t(3, "2024-02-01", 8.0),
        t(3, "2024-02-28", 12.0),
        t(2, "2024-03-10", 30.0),
        t(4, "2024-03-31", 100.0),
        t(5, "2024-03-05", 9.0),
        t(1, "2024-04-01", 7.0),
    ]
}

#[test]
fn kpis_on_the_small_store() {
    let totals = customer_totals(&store());
    assert_eq!(
        totals[0],
        CustomerTotals {
            customer: 1,
            orders: 4,
            total: 42.0,
            first_day: d("2024-01-05"),
            last_day: d("2024-04-01")
        }
    );
    assert_eq!(
        totals.iter().map(|t| t.total).collect::<Vec<_>>(),
        [42.0, 80.0, 24.0, 100.0, 9.0]
    );
    let k = kpis(&totals);
    assert_eq!(
        (k.customers, k.orders, k.revenue, k.repeat_customers),
        (5, 11, 255.0, 3)
    );
    assert_eq!(k.repeat_purchase_rate, Some(0.6));
    assert_eq!(k.purchase_frequency, Some(2.2));
    assert_eq!(k.average_order_value, Some(255.0 / 11.0));
    // AOV × frequency = revenue per customer.
    assert_eq!(k.historic_clv, Some(51.0));
    let empty = kpis(&[]);
    assert_eq!(
        (
            empty.repeat_purchase_rate,
            empty.average_order_value,
            empty.historic_clv
        ),
        (None, None, None)
    );
}

#[test]
fn monthly_retention_and_churn() {
    let months = monthly_retention(&store());
    // January: customers 1 and 2; of them only 1 buys in February. February: 1 and 3; only 3
    // buys in March. March: 2, 3, 4, 5; none buys in April. April is the last month: no row.
    type Row = (String, u64, u64, Option<f64>, Option<f64>);
    let rows: Vec<Row> = months
        .iter()
        .map(|m| (m.month.to_string(), m.active, m.retained, m.retention, m.churn))
        .collect();
    assert_eq!(
        rows,
        [
            ("2024-01".to_string(), 2, 1, Some(0.5), Some(0.5)),
            ("2024-02".to_string(), 2, 1, Some(0.5), Some(0.5)),
            ("2024-03".to_string(), 4, 0, Some(0.0), Some(1.0)),
        ]
    );
    assert!(monthly_retention(&[]).is_empty());
    // A gap month has nobody active: retention undefined.
    let gap = monthly_retention(&[t(1, "2024-01-01", 1.0), t(1, "2024-03-01", 1.0)]);
    assert_eq!(gap[1].active, 0);
    assert_eq!(gap[1].retention, None);
}

#[test]
fn cohort_matrix_by_first_order_month() {
    let matrix = cohort_matrix(&store());
    let cell = |customers, revenue| CohortCell { customers, revenue };
    let rows: Vec<(String, u64, Vec<CohortCell>)> = matrix
        .cohorts
        .iter()
        .map(|c| (c.month.to_string(), c.size, c.cells.clone()))
        .collect();
    assert_eq!(
        rows,
        [
            // Customers 1 and 2: both in January (10 + 5 + 50), 1 in February (20), 2 in March
            // (30), 1 in April (7).
            (
                "2024-01".to_string(),
                2,
                vec![cell(2, 65.0), cell(1, 20.0), cell(1, 30.0), cell(1, 7.0)]
            ),
            // Customer 3: February (8 + 12), March (4), not April.
            (
                "2024-02".to_string(),
                1,
                vec![cell(1, 20.0), cell(1, 4.0), cell(0, 0.0)]
            ),
            // Customers 4 and 5: March (100 + 9), not April. April has no new customer: no row.
            ("2024-03".to_string(), 2, vec![cell(2, 109.0), cell(0, 0.0)]),
        ]
    );
    assert_eq!(matrix.cohorts[0].retention(1), Some(0.5));
    assert_eq!(matrix.cohorts[2].retention(2), None);

    let curve = retention_curve(&matrix);
    let points: Vec<(u32, f64, f64, u32, u64)> = curve
        .iter()
        .map(|p| {
            (
                p.offset,
                p.retention,
                p.weighted_retention,
                p.cohorts,
                p.customers,
            )
        })
        .collect();
    assert_eq!(
        points,
        [
            (0, 1.0, 1.0, 3, 5),
            // (1/2 + 1/1 + 0/2) / 3 cohorts; 2 buyers of 5 customers.
            (1, 0.5, 0.4, 3, 2),
            // (1/2 + 0/1) / 2; 1 of 3.
            (2, 0.25, 1.0 / 3.0, 2, 1),
            (3, 0.5, 0.5, 1, 1),
        ]
    );
}

#[test]
fn year_months() {
    let m = YearMonth::of_day(d("2024-02-29"));
    assert_eq!(m, YearMonth { year: 2024, month: 2 });
    assert_eq!(m.to_string(), "2024-02");
    assert_eq!(m.first_day(), d("2024-02-01"));
    assert_eq!(YearMonth::from_index(m.index()), m);
    assert_eq!(serde_json::to_string(&m).unwrap(), "\"2024-02\"");
}

#[test]
fn quintiles_are_rank_based_and_ties_share_a_score() {
    let ten: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(quintile_scores(&ten, true), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    assert_eq!(quintile_scores(&ten, false), [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    // Three customers tie at the bottom: all get the group's first rank's score.
    assert_eq!(quintile_scores(&[1.0, 1.0, 1.0, 2.0, 3.0], true), [1, 1, 1, 4, 5]);
    // Recency in days: fewer is better. 10 and 10 tie.
    assert_eq!(
        quintile_scores(&[0.0, 10.0, 10.0, 30.0, 5.0], false),
        [5, 2, 2, 1, 4]
    );
    // The input order does not matter.
    assert_eq!(quintile_scores(&[3.0, 1.0, 2.0, 1.0, 1.0], true), [5, 1, 4, 1, 1]);
    assert_eq!(quintile_scores(&[7.0], true), [1]);
    assert!(quintile_scores(&[], true).is_empty());
}

#[test]
fn rfm_on_the_small_store() {
    let as_of = d("2024-04-01");
    let scores = rfm(&store(), as_of);
    let rows: Vec<(u64, f64, f64, f64, String, &str)> = scores
        .iter()
        .map(|r| {
            (
                r.customer,
                r.recency_days,
                r.frequency,
                r.monetary,
                r.code(),
                r.segment.key(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, 0.0, 4.0, 42.0, "5-5-3".to_string(), "champions"),
            (2, 22.0, 2.0, 80.0, "3-3-4".to_string(), "need_attention"),
            (3, 31.0, 3.0, 24.0, "1-4-2".to_string(), "at_risk"),
            (4, 1.0, 1.0, 100.0, "4-1-5".to_string(), "potential_loyalist"),
            (5, 27.0, 1.0, 9.0, "2-1-1".to_string(), "hibernating"),
        ]
    );
    // Orders after the reference day are ignored.
    let earlier = rfm_values(&store(), d("2024-03-15"));
    assert_eq!(earlier.len(), 4);
    assert_eq!(
        earlier[0],
        RfmValues {
            customer: 1,
            recency_days: 41.0,
            frequency: 3.0,
            monetary: 35.0
        }
    );
    assert_eq!(rfm_scores(&[]), []);
}

#[test]
fn every_rfm_cell_has_exactly_one_segment_as_documented() {
    use Segment::*;
    // The documented grid, rows FM = 5 down to 1, columns R = 1 to 5.
    let grid = [
        [
            CantLoseThem,
            CantLoseThem,
            LoyalCustomers,
            LoyalCustomers,
            Champions,
        ],
        [AtRisk, AtRisk, LoyalCustomers, LoyalCustomers, Champions],
        [
            AtRisk,
            AtRisk,
            NeedAttention,
            PotentialLoyalist,
            PotentialLoyalist,
        ],
        [
            Lost,
            Hibernating,
            AboutToSleep,
            PotentialLoyalist,
            PotentialLoyalist,
        ],
        [Lost, Hibernating, AboutToSleep, Promising, NewCustomers],
    ];
    let mut cells = std::collections::BTreeMap::new();
    for r in 1..=5u8 {
        for f in 1..=5u8 {
            for m in 1..=5u8 {
                let segment = Segment::of(r, f, m);
                let fm = (f + m) / 2;
                assert_eq!(
                    segment,
                    grid[(5 - fm) as usize][(r - 1) as usize],
                    "R{r} F{f} M{m}"
                );
                *cells.entry(segment).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(cells.values().sum::<i32>(), 125);
    // Every segment is reachable.
    assert_eq!(cells.len(), 11);
    // R = 5 and F + M ≥ 8: (3,5) (4,4) (4,5) (5,3) (5,4) (5,5).
    assert_eq!(cells[&Champions], 6);
    assert_eq!(cells[&NewCustomers], 3);
    assert_eq!(Segment::of(5, 1, 2), NewCustomers);
    assert_eq!(Segment::of(4, 2, 1), Promising);
    assert_eq!(Segment::of(1, 5, 5), CantLoseThem);
    assert_eq!(Segment::of(1, 5, 4), AtRisk);
}

#[test]
fn segment_keys_are_stable() {
    let keys: Vec<&str> = Segment::ALL.iter().map(|s| s.key()).collect();
    assert_eq!(
        keys,
        [
            "champions",
            "loyal_customers",
            "potential_loyalist",
            "new_customers",
            "promising",
            "need_attention",
            "about_to_sleep",
            "at_risk",
            "cant_lose_them",
            "hibernating",
            "lost"
        ]
    );
    for segment in Segment::ALL {
        assert_eq!(Segment::from_key(segment.key()), Some(segment));
        assert_eq!(serde_json::to_value(segment).unwrap(), segment.key());
    }
    assert_eq!(Segment::from_key("Champions"), None);
    assert_eq!(Segment::CantLoseThem.name(), "Can't Lose Them");
}

fn spender(customer: u64, total: f64) -> CustomerTotals {
    CustomerTotals {
        customer,
        orders: 1,
        total,
        first_day: 0,
        last_day: 0,
    }
}

#[test]
fn vips_by_share_and_by_minimum_spend() {
    let hundred: Vec<CustomerTotals> = (1..=100).map(|c| spender(c, c as f64)).collect();
    assert_eq!(vips(&hundred, VipRule::default()), [100, 99, 98, 97, 96]);
    // 20 customers, top 10 % = 2, but the second and third spent the same: both are in.
    let mut twenty: Vec<CustomerTotals> = (1..=20).map(|c| spender(c, 1.0)).collect();
    twenty[0].total = 100.0;
    twenty[5].total = 90.0;
    twenty[7].total = 90.0;
    twenty[9].total = 0.0;
    assert_eq!(vips(&twenty, VipRule::TopShare(0.1)), [1, 6, 8]);
    assert_eq!(vips(&twenty, VipRule::MinimumSpend(90.0)), [1, 6, 8]);
    assert_eq!(vips(&twenty, VipRule::MinimumSpend(95.0)), [1]);
    // Someone who spent nothing is never a VIP, even when everyone qualifies by share.
    assert_eq!(vips(&twenty, VipRule::TopShare(1.0)).len(), 19);
    assert!(vips(&[], VipRule::default()).is_empty());
}

#[test]
fn cac_per_channel() {
    let paid = channel_economics(&ChannelInput {
        channel: "ads".into(),
        spend: 1000.0,
        new_customers: 10,
        value_per_customer: 300.0,
        months: Some(12.0),
        gross_margin: Some(0.5),
    });
    assert_eq!(paid.cac, Some(100.0));
    assert_eq!(paid.ltv, 150.0);
    assert_eq!(paid.ltv_to_cac, Some(1.5));
    // 150 over 12 months = 12.5 a month: 100 / 12.5.
    assert_eq!(paid.months_to_recover, Some(8.0));

    let nobody = channel_economics(&ChannelInput {
        channel: "print".into(),
        spend: 500.0,
        new_customers: 0,
        value_per_customer: 0.0,
        months: Some(12.0),
        gross_margin: None,
    });
    assert_eq!(
        (nobody.cac, nobody.ltv_to_cac, nobody.months_to_recover),
        (None, None, None)
    );

    let organic = channel_economics(&ChannelInput {
        channel: "organic".into(),
        spend: 0.0,
        new_customers: 40,
        value_per_customer: 120.0,
        months: None,
        gross_margin: None,
    });
    assert_eq!(
        (
            organic.cac,
            organic.ltv,
            organic.ltv_to_cac,
            organic.months_to_recover
        ),
        (Some(0.0), 120.0, None, None)
    );
}
