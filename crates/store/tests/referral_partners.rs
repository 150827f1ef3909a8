//! Partners on both databases: inviting and ending them, commissions earned on what their
//! friends buy (first order or every order within a period), approval after the return window,
//! reversals for refunds before and after a payout, payouts that pay once, the payout report
//! as CSV, the advocates report, and one store never seeing another's partners.

use regulars_domain::loyalty::Program;
use regulars_domain::referral::{ReferralProgram, ReferralReward};
use regulars_domain::{
    Currency, CustomerId, CustomerInput, Email, OrderInput, RefundInput, Source, Timestamp,
};
use regulars_store::{
    CommissionStatus, Db, PartnerInput, PartnerScope, ReferralStatus, StoreError, StoreRecord, TimelineQuery,
};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{on_both_backends, Backend, TestDb};

const DAY: i64 = 86_400_000;

fn program() -> ReferralProgram {
    ReferralProgram {
        enabled: true,
        ..ReferralProgram::default()
    }
}

async fn setup(backend: Backend) -> (TestDb, StoreRecord) {
    let t = TestDb::new(backend).await;
    let store = t.store("Kaveri Silks", "INR", "Asia/Kolkata", "te-IN").await;
    t.db.set_referral_program(&store, &program(), "user:test")
        .await
        .unwrap();
    (t, store)
}

async fn customer(db: &Db, store: &StoreRecord, ext: &str, first: &str, last: &str) -> CustomerId {
    db.upsert_customer(
        store.id,
        Source::Api,
        &CustomerInput {
            external_id: Some(ext.into()),
            email: Some(Email::parse(&format!("{ext}@example.in")).unwrap()),
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            ..Default::default()
        },
        "test",
    )
    .await
    .unwrap()
    .0
}

/// A paid order: `subtotal` less `discount`, plus shipping and tax, with the code if any.
#[allow(clippy::too_many_arguments)]
fn order(
    ext: &str,
    who: &str,
    subtotal: i64,
    discount: i64,
    shipping: i64,
    tax: i64,
    placed_at: Timestamp,
    code: Option<&str>,
) -> OrderInput {
    let mut o = paid_order(ext, who, Currency::INR, subtotal, placed_at);
    o.discount_total = discount;
    o.shipping_total = shipping;
    o.tax_total = tax;
    o.total = subtotal - discount + shipping + tax;
    o.discount_codes = code.map(|c| vec![c.to_string()]).unwrap_or_default();
    o
}

async fn write(db: &Db, store: &StoreRecord, o: OrderInput) -> CustomerId {
    db.upsert_orders(store, &[o], "test").await.unwrap()[0]
        .customer_id
        .unwrap()
}

async fn refund(db: &Db, store: &StoreRecord, order: &str, id: &str, amount: i64) {
    let mut tx = db.begin().await.unwrap();
    tx.add_refund(
        store,
        Source::Api,
        order,
        &RefundInput {
            external_id: id.into(),
            created_at: Timestamp::now(),
            amount,
            reason: None,
            lines: vec![],
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

fn terms(basis_points: i64, scope: PartnerScope, period_days: Option<i64>) -> PartnerInput {
    PartnerInput {
        basis_points,
        scope,
        period_days,
        note: None,
    }
}

fn refused_code(e: StoreError) -> &'static str {
    match e {
        StoreError::Refused { code, .. } => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn field_of(e: StoreError) -> String {
    match e {
        StoreError::Invalid(f) => f.field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

fn is_not_found(e: &StoreError, what: &str) -> bool {
    matches!(e, StoreError::NotFound(w) if *w == what)
}

/// What a payout would pay now, from the partner's summary.
async fn owed(db: &Db, store: &StoreRecord, partner: CustomerId) -> i64 {
    db.partner_summary(store, partner).await.unwrap().approved
}

/// A partner (10 %, first orders) whose friend's order of 10,000 (no shipping or tax) cleared
/// its window: 1,000 approved.
async fn partner_with_approved(
    db: &Db,
    store: &StoreRecord,
    ext: &str,
    first: &str,
    last: &str,
    friend: &str,
) -> CustomerId {
    let p = customer(db, store, ext, first, last).await;
    db.upsert_partner(
        store,
        p,
        &terms(1_000, PartnerScope::FirstOrder, None),
        "user:test",
    )
    .await
    .unwrap();
    let code = db
        .partner_summary(store, p)
        .await
        .unwrap()
        .code
        .expect("a partner has a code");
    let placed = Timestamp::now();
    write(
        db,
        store,
        order(
            &format!("{friend}-1"),
            friend,
            10_000,
            0,
            0,
            0,
            placed,
            Some(&code),
        ),
    )
    .await;
    db.run_referrals(store, Timestamp(placed.0 + 15 * DAY))
        .await
        .unwrap();
    assert_eq!(owed(db, store, p).await, 1_000);
    p
}

async fn inviting_validates_terms_and_names_the_field(backend: Backend) {
    let (t, store) = setup(backend).await;
    let priya = customer(&t.db, &store, "priya", "Priya", "Rao").await;
    let bad = [
        (terms(0, PartnerScope::FirstOrder, None), "basis_points"),
        (terms(5_001, PartnerScope::FirstOrder, None), "basis_points"),
        (terms(1_000, PartnerScope::FirstOrder, Some(30)), "period_days"),
        (terms(1_000, PartnerScope::AllOrders, Some(0)), "period_days"),
        (terms(1_000, PartnerScope::AllOrders, Some(3_651)), "period_days"),
        (
            PartnerInput {
                note: Some("x".repeat(501)),
                ..terms(1_000, PartnerScope::FirstOrder, None)
            },
            "note",
        ),
    ];
    for (input, field) in bad {
        let e =
            t.db.upsert_partner(&store, priya, &input, "user:test")
                .await
                .unwrap_err();
        assert_eq!(field_of(e), field, "{input:?}");
    }
    assert!(matches!(
        t.db.partner(store.id, priya).await,
        Err(StoreError::NotFound("partner"))
    ));

    // A customer the store does not have.
    let stranger = CustomerId::parse(&regulars_domain::new_id().to_string()).unwrap();
    let e =
        t.db.upsert_partner(
            &store,
            stranger,
            &terms(1_000, PartnerScope::FirstOrder, None),
            "user:test",
        )
        .await
        .unwrap_err();
    assert!(is_not_found(&e, "customer"), "{e:?}");

    // The edges are allowed; the note is kept trimmed.
    let input = PartnerInput {
        note: Some(format!("  {}  ", "n".repeat(500))),
        ..terms(5_000, PartnerScope::AllOrders, Some(3_650))
    };
    let p =
        t.db.upsert_partner(&store, priya, &input, "user:test")
            .await
            .unwrap();
    assert_eq!(
        (p.status.as_str(), p.basis_points, p.scope, p.period_days),
        ("active", 5_000, PartnerScope::AllOrders, Some(3_650))
    );
    assert_eq!(p.note.as_deref().map(str::len), Some(500));
    assert_eq!(p.invited_by, "user:test");
    let s = t.db.partner_summary(&store, priya).await.unwrap();
    assert!(s.code.is_some(), "the program is on: the partner gets a code");
    assert_eq!(s.name, "Priya Rao");
    assert_eq!(s.email.as_deref(), Some("priya@example.in"));
    assert_eq!(
        (s.friends, s.revenue, s.pending, s.approved, s.paid),
        (0, 0, 0, 0, 0)
    );

    // New terms, an end, and a return: one invitation on the timeline, the first kept.
    let changed =
        t.db.upsert_partner(
            &store,
            priya,
            &terms(1_500, PartnerScope::FirstOrder, None),
            "user:other",
        )
        .await
        .unwrap();
    assert_eq!(
        (changed.basis_points, changed.scope, changed.period_days),
        (1_500, PartnerScope::FirstOrder, None)
    );
    assert_eq!(
        (changed.invited_at, changed.invited_by.as_str()),
        (p.invited_at, "user:test")
    );
    let ended = t.db.end_partner(&store, priya, "user:test").await.unwrap();
    assert_eq!(ended.status, "ended");
    assert_eq!(t.db.partner(store.id, priya).await.unwrap().status, "ended");
    let again =
        t.db.upsert_partner(
            &store,
            priya,
            &terms(1_200, PartnerScope::FirstOrder, None),
            "user:test",
        )
        .await
        .unwrap();
    assert_eq!((again.status.as_str(), again.basis_points), ("active", 1_200));
    let invited =
        t.db.timeline(
            store.id,
            priya,
            &TimelineQuery {
                kind: Some("partner_invited".into()),
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(invited.len(), 1);
    assert_eq!(invited[0].data["basis_points"], 5_000);

    let stranger_end = t.db.end_partner(&store, stranger, "user:test").await.unwrap_err();
    assert!(is_not_found(&stranger_end, "partner"), "{stranger_end:?}");

    // With the program off a partner is invited without a code.
    t.db.set_referral_program(&store, &ReferralProgram::default(), "user:test")
        .await
        .unwrap();
    let ravi = customer(&t.db, &store, "ravi", "Ravi", "Teja").await;
    t.db.upsert_partner(
        &store,
        ravi,
        &terms(1_000, PartnerScope::FirstOrder, None),
        "user:test",
    )
    .await
    .unwrap();
    assert_eq!(t.db.partner_summary(&store, ravi).await.unwrap().code, None);
    let all = t.db.partners(&store).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|s| s.partner.status == "active"));
}

/// Earned on the friend's order, approved after the window, reversed for a refund before the
/// payout, paid once, reversed again after the payout and deducted from the next one.
async fn commissions_earn_approve_reverse_and_pay_once(backend: Backend) {
    let (t, store) = setup(backend).await;
    let priya = customer(&t.db, &store, "priya", "Priya", "Rao").await;
    t.db.upsert_partner(
        &store,
        priya,
        &terms(1_000, PartnerScope::FirstOrder, None),
        "user:test",
    )
    .await
    .unwrap();
    let code = t.db.partner_summary(&store, priya).await.unwrap().code.unwrap();

    // 11,000 less the friend's 1,100 discount, 1,100 shipping and 1,000 tax: 12,000 paid,
    // 9,900 referred revenue, 990 commission.
    let placed = Timestamp::now();
    let kiran = write(
        &t.db,
        &store,
        order("K1", "kiran", 11_000, 1_100, 1_100, 1_000, placed, Some(&code)),
    )
    .await;
    let ledger = t.db.commissions(&store, priya).await.unwrap();
    assert_eq!(ledger.len(), 1);
    let earned = &ledger[0];
    assert_eq!(
        (
            earned.kind.as_str(),
            earned.amount,
            earned.revenue,
            earned.basis_points,
            earned.status
        ),
        ("earned", 990, 9_900, 1_000, CommissionStatus::Pending)
    );
    assert_eq!(earned.approves_at, Timestamp(placed.0 + 14 * DAY));
    assert_eq!(earned.currency, Currency::INR);
    let s = t.db.partner_summary(&store, priya).await.unwrap();
    assert_eq!(
        (s.friends, s.revenue, s.pending, s.approved, s.paid),
        (1, 9_900, 990, 0, 0)
    );
    // Nothing approved yet: nothing to pay.
    assert_eq!(
        refused_code(
            t.db.pay_partner(&store, priya, None, "user:test")
                .await
                .unwrap_err()
        ),
        "nothing_owed"
    );

    // The window passes: approved, and the partner's referral gives no points on top.
    let run =
        t.db.run_referrals(&store, Timestamp(placed.0 + 15 * DAY))
            .await
            .unwrap();
    assert_eq!(run.commissions_approved, 1);
    let referral =
        t.db.customer_referrals(store.id, kiran)
            .await
            .unwrap()
            .referred_by
            .unwrap();
    assert_eq!(referral.status, ReferralStatus::Qualified);
    assert_eq!(referral.advocate_reward.unwrap()["skipped"], "partner_commission");
    let s = t.db.partner_summary(&store, priya).await.unwrap();
    assert_eq!((s.pending, s.approved, s.paid), (0, 990, 0));

    // A quarter refunded before the payout: 990 × 3,000 / 12,000 = 247.5, rounded up to 248.
    refund(&t.db, &store, "K1", "r1", 3_000).await;
    let ledger = t.db.commissions(&store, priya).await.unwrap();
    let reversal = ledger.iter().find(|c| c.kind == "reversal").expect("a reversal");
    assert_eq!(
        (reversal.amount, reversal.status),
        (-248, CommissionStatus::Approved)
    );
    assert_eq!(owed(&t.db, &store, priya).await, 742);

    let payout =
        t.db.pay_partner(&store, priya, Some(" NEFT-0042 "), "user:test")
            .await
            .unwrap();
    assert_eq!(
        (payout.amount, payout.entries, payout.currency),
        (742, 2, Currency::INR)
    );
    assert_eq!(payout.reference.as_deref(), Some("NEFT-0042"));
    assert_eq!(
        refused_code(
            t.db.pay_partner(&store, priya, None, "user:test")
                .await
                .unwrap_err()
        ),
        "nothing_owed"
    );
    let ledger = t.db.commissions(&store, priya).await.unwrap();
    assert!(ledger
        .iter()
        .all(|c| c.status == CommissionStatus::Paid && c.payout_id.as_deref() == Some(payout.id.as_str())));
    let s = t.db.partner_summary(&store, priya).await.unwrap();
    assert_eq!((s.pending, s.approved, s.paid), (0, 0, 742));
    let paid =
        t.db.timeline(
            store.id,
            priya,
            &TimelineQuery {
                kind: Some("commission_paid".into()),
                before: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].data["amount"], 742);
    assert_eq!(paid[0].data["payout_id"], payout.id.as_str());
    assert_eq!(paid[0].data["entries"], 2);
    assert_eq!(paid[0].data["currency"], "INR");

    // Another quarter refunded after the payout: the reversal (495 in all, 247 more) is owed
    // back, so nothing is owed until more is earned.
    refund(&t.db, &store, "K1", "r2", 3_000).await;
    assert_eq!(owed(&t.db, &store, priya).await, -247);
    assert_eq!(
        refused_code(
            t.db.pay_partner(&store, priya, None, "user:test")
                .await
                .unwrap_err()
        ),
        "nothing_owed"
    );

    // A second friend's 4,500 earns 450; the next payout deducts the 247.
    let placed = Timestamp::now();
    write(
        &t.db,
        &store,
        order("M1", "meera", 5_000, 500, 0, 0, placed, Some(&code)),
    )
    .await;
    assert_eq!(t.db.partner_summary(&store, priya).await.unwrap().pending, 450);
    t.db.run_referrals(&store, Timestamp(placed.0 + 15 * DAY))
        .await
        .unwrap();
    assert_eq!(owed(&t.db, &store, priya).await, 203);
    let second = t.db.pay_partner(&store, priya, None, "user:test").await.unwrap();
    assert_eq!((second.amount, second.entries, second.reference), (203, 2, None));
    let s = t.db.partner_summary(&store, priya).await.unwrap();
    assert_eq!(
        (s.friends, s.revenue, s.pending, s.approved, s.paid),
        (2, 14_400, 0, 0, 945)
    );
    let payouts = t.db.payouts(&store, Some(priya)).await.unwrap();
    assert_eq!(
        payouts.iter().map(|p| p.amount).collect::<Vec<_>>(),
        vec![203, 742]
    );
    assert_eq!(payouts.iter().map(|p| p.amount).sum::<i64>(), 990 + 450 - 495);
    let report = t.db.payout_report(&store).await.unwrap();
    assert_eq!(report.len(), 1);
    assert_eq!(
        (
            report[0].pending,
            report[0].owed,
            report[0].paid,
            report[0].last_paid_at
        ),
        (0, 0, 945, Some(second.paid_at))
    );
}

/// A refund inside the window nets out of the pending commission before anything is owed.
async fn a_refund_inside_the_window_nets_out_before_approval(backend: Backend) {
    let (t, store) = setup(backend).await;
    let anil = customer(&t.db, &store, "anil", "Anil", "Kumar").await;
    t.db.upsert_partner(
        &store,
        anil,
        &terms(2_000, PartnerScope::FirstOrder, None),
        "user:test",
    )
    .await
    .unwrap();
    let code = t.db.partner_summary(&store, anil).await.unwrap().code.unwrap();
    let placed = Timestamp::now();
    // 7,000 paid, 20 %: 1,400; a refund of 1,000 takes back ⌈1,400 / 7⌉ = 200.
    write(
        &t.db,
        &store,
        order("S1", "sunita", 7_000, 0, 0, 0, placed, Some(&code)),
    )
    .await;
    refund(&t.db, &store, "S1", "r1", 1_000).await;
    let ledger = t.db.commissions(&store, anil).await.unwrap();
    assert_eq!(ledger.len(), 2);
    assert!(ledger.iter().all(|c| c.status == CommissionStatus::Pending));
    let s = t.db.partner_summary(&store, anil).await.unwrap();
    assert_eq!((s.pending, s.approved), (1_200, 0));
    t.db.run_referrals(&store, Timestamp(placed.0 + 15 * DAY))
        .await
        .unwrap();
    assert_eq!(owed(&t.db, &store, anil).await, 1_200);
    assert_eq!(
        t.db.pay_partner(&store, anil, None, "user:test")
            .await
            .unwrap()
            .amount,
        1_200
    );
}

async fn concurrent_payouts_pay_once(backend: Backend) {
    let (t, store) = setup(backend).await;
    let p = partner_with_approved(&t.db, &store, "tara", "Tara", "Singh", "uday").await;
    let mut payers = Vec::new();
    for _ in 0..8 {
        let db = t.db.clone();
        let store = store.clone();
        payers.push(tokio::spawn(async move {
            match db.pay_partner(&store, p, None, "user:test").await {
                Ok(payout) => Some(payout.amount),
                Err(e) => {
                    assert_eq!(refused_code(e), "nothing_owed");
                    None
                }
            }
        }));
    }
    let mut paid = Vec::new();
    for payer in payers {
        paid.extend(payer.await.unwrap());
    }
    assert_eq!(paid, vec![1_000]);
    assert_eq!(t.db.payouts(&store, Some(p)).await.unwrap().len(), 1);
    let s = t.db.partner_summary(&store, p).await.unwrap();
    assert_eq!((s.approved, s.paid), (0, 1_000));
}

/// `all_orders` earns on the friend's later orders within the period from their first order;
/// `first_order` only on the first; an ended partner earns nothing more.
async fn scopes_decide_which_orders_earn(backend: Backend) {
    let (t, store) = setup(backend).await;
    let now = Timestamp::now();
    let start = Timestamp(now.0 - 40 * DAY);
    let at = |days: i64| Timestamp(start.0 + days * DAY);

    let arjun = customer(&t.db, &store, "arjun", "Arjun", "Mehta").await;
    t.db.upsert_partner(
        &store,
        arjun,
        &terms(500, PartnerScope::AllOrders, Some(30)),
        "user:test",
    )
    .await
    .unwrap();
    let code = t.db.partner_summary(&store, arjun).await.unwrap().code.unwrap();
    write(
        &t.db,
        &store,
        order("D1", "deepa", 10_000, 0, 0, 0, at(0), Some(&code)),
    )
    .await;
    write(&t.db, &store, order("D2", "deepa", 4_000, 0, 0, 0, at(10), None)).await;
    write(&t.db, &store, order("D3", "deepa", 6_000, 0, 0, 0, at(35), None)).await;
    let mut earned: Vec<(String, i64)> =
        t.db.commissions(&store, arjun)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.kind, c.amount))
            .collect();
    earned.sort();
    assert_eq!(
        earned,
        vec![("earned".to_string(), 200), ("earned".to_string(), 500)]
    );
    let s = t.db.partner_summary(&store, arjun).await.unwrap();
    assert_eq!((s.friends, s.revenue, s.pending), (1, 14_000, 700));

    // Ended: an order inside the period earns nothing now.
    t.db.end_partner(&store, arjun, "user:test").await.unwrap();
    write(&t.db, &store, order("D4", "deepa", 2_000, 0, 0, 0, at(20), None)).await;
    assert_eq!(t.db.commissions(&store, arjun).await.unwrap().len(), 2);

    let suresh = customer(&t.db, &store, "suresh", "Suresh", "Iyer").await;
    t.db.upsert_partner(
        &store,
        suresh,
        &terms(500, PartnerScope::FirstOrder, None),
        "user:test",
    )
    .await
    .unwrap();
    let code = t.db.partner_summary(&store, suresh).await.unwrap().code.unwrap();
    write(
        &t.db,
        &store,
        order("L1", "lalita", 10_000, 0, 0, 0, at(0), Some(&code)),
    )
    .await;
    write(&t.db, &store, order("L2", "lalita", 4_000, 0, 0, 0, at(10), None)).await;
    let ledger = t.db.commissions(&store, suresh).await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!((ledger[0].amount, ledger[0].revenue), (500, 10_000));

    // Active first, then ended.
    let all = t.db.partners(&store).await.unwrap();
    let listed: Vec<(CustomerId, &str)> = all
        .iter()
        .map(|s| (s.partner.customer_id, s.partner.status.as_str()))
        .collect();
    assert_eq!(listed, vec![(suresh, "active"), (arjun, "ended")]);
}

async fn the_payout_csv_quotes_names_and_writes_decimals(backend: Backend) {
    let (t, store) = setup(backend).await;
    let priya = partner_with_approved(&t.db, &store, "priya", "Priya \"PR\"", "Rao, Jr.", "kiran").await;
    t.db.pay_partner(&store, priya, None, "user:test").await.unwrap();
    let sly = partner_with_approved(&t.db, &store, "sly", "=HYPERLINK(\"x\")", "Sly", "meena").await;
    let quiet = customer(&t.db, &store, "quiet", "Quiet", "One").await;
    t.db.upsert_partner(
        &store,
        quiet,
        &terms(1_250, PartnerScope::FirstOrder, None),
        "user:test",
    )
    .await
    .unwrap();

    let text = t.db.payout_report_csv(&store).await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("partner_id,name,email,code,commission_percent,pending,owed,paid,last_paid_at,currency")
    );
    assert!(text.contains("\"Priya \"\"PR\"\" Rao, Jr.\""), "{text}");

    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let row = |id: CustomerId| {
        rows.iter()
            .find(|r| r.get(0) == Some(id.to_string().as_str()))
            .unwrap_or_else(|| panic!("{id} in {text}"))
            .clone()
    };
    let p = row(priya);
    assert_eq!(p.get(1), Some("Priya \"PR\" Rao, Jr."));
    assert_eq!(p.get(2), Some("priya@example.in"));
    let code = t.db.partner_summary(&store, priya).await.unwrap().code.unwrap();
    assert_eq!(p.get(3), Some(code.as_str()));
    assert_eq!(
        (p.get(4), p.get(5), p.get(6), p.get(7), p.get(9)),
        (
            Some("10.00"),
            Some("0.00"),
            Some("0.00"),
            Some("10.00"),
            Some("INR")
        )
    );
    let last_paid = Timestamp::parse_rfc3339(p.get(8).unwrap()).unwrap();
    assert_eq!(
        Some(last_paid),
        t.db.payout_report(&store)
            .await
            .unwrap()
            .iter()
            .find(|r| r.partner_id == priya)
            .unwrap()
            .last_paid_at
    );

    let s = row(sly);
    assert_eq!(s.get(1), Some("'=HYPERLINK(\"x\") Sly"), "a formula is defused");
    assert_eq!(
        (s.get(6), s.get(7), s.get(8)),
        (Some("10.00"), Some("0.00"), Some(""))
    );
    let q = row(quiet);
    assert_eq!((q.get(4), q.get(6)), (Some("12.50"), Some("0.00")));

    // Who is owed most comes first.
    assert_eq!(rows[0].get(0), Some(sly.to_string().as_str()));
}

/// A hand-computed store: advocate Anna brings three friends (two rewarded, one rejected as an
/// existing customer), partner Bharat one; a fifth new customer came on their own.
async fn the_advocates_report_adds_up(backend: Backend) {
    let (t, store) = setup(backend).await;
    t.db.set_loyalty_program(
        store.id,
        &Program {
            enabled: true,
            value_per_100_points_minor: 50,
            ..Program::default()
        },
        "user:test",
    )
    .await
    .unwrap();
    t.db.set_referral_program(
        &store,
        &ReferralProgram {
            friend_points: 200,
            advocate_reward: ReferralReward::Points { points: 500 },
            acquisition_cost: 2_000,
            ..program()
        },
        "user:test",
    )
    .await
    .unwrap();
    let now = Timestamp::now();
    let ago = |days: i64| Timestamp(now.0 - days * DAY);

    let anna = write(
        &t.db,
        &store,
        order("A0", "anna", 20_000, 0, 0, 0, ago(100), None),
    )
    .await;
    let anna_code = t.db.referral_code(&store, anna).await.unwrap().code;
    let bharat = customer(&t.db, &store, "bharat", "Bharat", "Joshi").await;
    t.db.upsert_partner(
        &store,
        bharat,
        &terms(1_000, PartnerScope::FirstOrder, None),
        "user:test",
    )
    .await
    .unwrap();
    let bharat_code = t.db.partner_summary(&store, bharat).await.unwrap().code.unwrap();

    let farida = write(
        &t.db,
        &store,
        order("F1", "farida", 10_000, 1_000, 0, 0, ago(20), Some(&anna_code)),
    )
    .await;
    let gopal = write(
        &t.db,
        &store,
        order("G1", "gopal", 5_000, 500, 0, 0, ago(20), Some(&anna_code)),
    )
    .await;
    let hemant = write(
        &t.db,
        &store,
        order("H0", "hemant", 3_000, 0, 0, 0, ago(50), None),
    )
    .await;
    write(
        &t.db,
        &store,
        order("H1", "hemant", 3_000, 300, 0, 0, ago(20), Some(&anna_code)),
    )
    .await;
    let ishaan = write(
        &t.db,
        &store,
        order("I1", "ishaan", 8_000, 0, 0, 0, ago(20), Some(&bharat_code)),
    )
    .await;
    write(
        &t.db,
        &store,
        order("N1", "newton", 6_000, 0, 0, 0, ago(20), None),
    )
    .await;

    let run = t.db.run_referrals(&store, now).await.unwrap();
    assert_eq!(
        (
            run.qualified,
            run.rewarded,
            run.unrewarded,
            run.commissions_approved
        ),
        (3, 2, 1, 1)
    );

    let report = t.db.advocates_report(&store, ago(30), now).await.unwrap();
    assert_eq!(
        (report.from, report.to, report.currency),
        (ago(30), now, Currency::INR)
    );
    // Farida, Gopal, Ishaan and Newton ordered first in the period; Hemant did before it.
    assert_eq!((report.new_customers, report.referred_new_customers), (4, 3));
    assert_eq!(report.referral_share_bp, 7_500);
    let status = |s: &str| report.by_status.iter().find(|(k, _)| k == s).map(|(_, n)| *n);
    assert_eq!(report.by_status.len(), ReferralStatus::ALL.len());
    assert_eq!(
        (
            status("rewarded"),
            status("qualified"),
            status("rejected"),
            status("pending")
        ),
        (Some(2), Some(1), Some(1), Some(0))
    );

    // Anna: 2 × 500 points to her and 2 × 200 to her friends, 1,400 points at 0.50 per 100:
    // 700; discounts 1,000 + 500 + 300. Bharat: his friend's 200 points (100) and 800
    // commission.
    let anna_cost = 700 + 1_800;
    let bharat_cost = 100 + 800;
    assert_eq!(report.program_cost, anna_cost + bharat_cost);
    assert_eq!(
        report.acquisition_cost_saved,
        3 * 2_000 - (anna_cost + bharat_cost)
    );

    assert_eq!(report.advocates.len(), 2);
    let a = &report.advocates[0];
    assert_eq!(a.customer_id, anna);
    assert_eq!(a.code.as_deref(), Some(anna_code.as_str()));
    assert_eq!(
        (a.is_partner, a.friends, a.qualified, a.rejected),
        (false, 3, 2, 1)
    );
    assert_eq!(a.friends_revenue, 9_000 + 4_500 + 3_000 + 2_700);
    assert_eq!(a.own_revenue, 20_000);
    assert_eq!(a.cost, anna_cost);
    let clv = |c: CustomerId| {
        let db = t.db.clone();
        async move {
            db.customer(store.id, c)
                .await
                .unwrap()
                .analytics
                .and_then(|a| a.clv_12m_minor)
                .unwrap_or(0)
        }
    };
    assert_eq!(
        a.friends_clv,
        clv(farida).await + clv(gopal).await + clv(hemant).await
    );
    assert_eq!(a.own_clv, clv(anna).await);
    let b = &report.advocates[1];
    assert_eq!(b.customer_id, bharat);
    assert_eq!(b.name, "Bharat Joshi");
    assert_eq!(
        (b.is_partner, b.friends, b.qualified, b.rejected),
        (true, 1, 1, 0)
    );
    assert_eq!(
        (b.friends_revenue, b.own_revenue, b.cost),
        (8_000, 0, bharat_cost)
    );
    assert_eq!(b.friends_clv, clv(ishaan).await);

    // An empty period: no new customers, no share; the costs stay.
    let empty = t.db.advocates_report(&store, ago(10), now).await.unwrap();
    assert_eq!(
        (
            empty.new_customers,
            empty.referred_new_customers,
            empty.referral_share_bp
        ),
        (0, 0, 0)
    );
    assert_eq!(empty.acquisition_cost_saved, -(anna_cost + bharat_cost));
}

/// Store B's staff never see or touch store A's partners, commissions or payouts.
async fn another_store_sees_nothing_of_a_partner(backend: Backend) {
    let (t, a) = setup(backend).await;
    let b = t.store("Tsiran", "AMD", "Asia/Yerevan", "hy").await;
    t.db.set_referral_program(&b, &program(), "user:test")
        .await
        .unwrap();
    let p = partner_with_approved(&t.db, &a, "priya", "Priya", "Rao", "kiran").await;
    t.db.pay_partner(&a, p, None, "user:test").await.unwrap();

    assert!(is_not_found(&t.db.partner(b.id, p).await.unwrap_err(), "partner"));
    assert!(is_not_found(
        &t.db.partner_summary(&b, p).await.unwrap_err(),
        "partner"
    ));
    assert!(is_not_found(
        &t.db.commissions(&b, p).await.unwrap_err(),
        "partner"
    ));
    assert!(is_not_found(
        &t.db.pay_partner(&b, p, None, "user:test").await.unwrap_err(),
        "partner"
    ));
    assert!(is_not_found(
        &t.db.end_partner(&b, p, "user:test").await.unwrap_err(),
        "partner"
    ));
    assert!(is_not_found(
        &t.db
            .upsert_partner(&b, p, &terms(1_000, PartnerScope::FirstOrder, None), "user:test")
            .await
            .unwrap_err(),
        "customer"
    ));
    assert!(t.db.partners(&b).await.unwrap().is_empty());
    assert!(t.db.payouts(&b, Some(p)).await.unwrap().is_empty());
    assert!(t.db.payouts(&b, None).await.unwrap().is_empty());
    assert!(t.db.payout_report(&b).await.unwrap().is_empty());
    assert_eq!(t.db.payout_report_csv(&b).await.unwrap().lines().count(), 1);
    let report =
        t.db.advocates_report(&b, Timestamp(0), Timestamp::now())
            .await
            .unwrap();
    assert_eq!(
        (report.new_customers, report.program_cost, report.advocates.len()),
        (0, 0, 0)
    );
    assert!(report.by_status.iter().all(|(_, n)| *n == 0));

    // Store A is as it was.
    let s = t.db.partner_summary(&a, p).await.unwrap();
    assert_eq!(
        (s.friends, s.paid, s.partner.status.as_str()),
        (1, 1_000, "active")
    );
    assert_eq!(t.db.payouts(&a, None).await.unwrap().len(), 1);
    let report =
        t.db.advocates_report(&a, Timestamp(0), Timestamp::now())
            .await
            .unwrap();
    assert_eq!(report.advocates.len(), 1);
    assert_eq!(report.program_cost, 1_000);
}

on_both_backends!(
    inviting_validates_terms_and_names_the_field,
    commissions_earn_approve_reverse_and_pay_once,
    a_refund_inside_the_window_nets_out_before_approval,
    concurrent_payouts_pay_once,
    scopes_decide_which_orders_earn,
    the_payout_csv_quotes_names_and_writes_decimals,
    the_advocates_report_adds_up,
    another_store_sees_nothing_of_a_partner,
);
