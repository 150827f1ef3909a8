//! RELIABILITY L5: random sequences of earnings, spending, partial refunds, cancellations,
//! holds and the passing of time, run against the ledger and against a plain in-memory model
//! of lots. After every step: the balances agree with the model, the accounts sum to zero, no
//! refund took back more than its order earned, every hold settled at most once, and no row
//! written before the step changed.

use std::collections::BTreeMap;

use proptest::prelude::*;
use regulars_domain::loyalty::{EarnRule, Program, Rounding};
use regulars_domain::{Currency, CustomerId, OrderInput, RefundInput, Source, Timestamp};
use regulars_store::{Db, StoreError, StoreRecord};
use regulars_testkit::fixtures::paid_order;
use regulars_testkit::{Backend, TestDb};

const DAY: i64 = 86_400_000;
const PENDING_DAYS: i64 = 3;
const EXPIRY_DAYS: i64 = 10;

#[derive(Debug, Clone)]
enum Op {
    /// An order of this many rupees (1 point each).
    Order(i64),
    /// Refund this percentage of an order's total (by index among orders so far).
    Refund(usize, i64),
    Cancel(usize),
    Spend(i64),
    Hold(i64),
    /// Capture (true) or release an open hold (by index among holds so far).
    Settle(usize, bool),
    /// Let days pass, then run the nightly job.
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..=400).prop_map(Op::Order),
        2 => (0usize..8, 5i64..=100).prop_map(|(i, p)| Op::Refund(i, p)),
        1 => (0usize..8).prop_map(Op::Cancel),
        3 => (1i64..=300).prop_map(Op::Spend),
        1 => (1i64..=200).prop_map(Op::Hold),
        1 => (0usize..4, any::<bool>()).prop_map(|(i, c)| Op::Settle(i, c)),
        2 => (1i64..=6).prop_map(Op::Advance),
    ]
}

#[derive(Debug, Clone)]
struct Lot {
    remaining: i64,
    available_from: i64,
    expires_at: i64,
}

/// A hold in the model: its moves (lot, points), points, whether open, when it lapses.
type HoldModel = (Vec<(usize, i64)>, i64, bool, i64);

#[derive(Debug, Default)]
struct Model {
    lots: Vec<Lot>,
    /// Per order: (lot index, earned, total minor, refunded minor, cancelled, taken back).
    orders: Vec<(usize, i64, i64, i64, bool, i64)>,
    /// Per hold: (moves (lot, points), points, open, expires_at).
    holds: Vec<HoldModel>,
    held: i64,
}

impl Model {
    /// Lots in spending order: soonest expiry, then availability, then age.
    fn order(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = (0..self.lots.len()).collect();
        ids.sort_by_key(|&i| (self.lots[i].expires_at, self.lots[i].available_from, i));
        ids
    }

    fn take(&mut self, points: i64, now: i64, with_pending: bool, first: Option<usize>) -> Vec<(usize, i64)> {
        let mut left = points;
        let mut moves = Vec::new();
        let mut candidates: Vec<usize> = first.into_iter().collect();
        candidates.extend(self.order().into_iter().filter(|&i| {
            Some(i) != first
                && self.lots[i].expires_at > now
                && (with_pending || self.lots[i].available_from <= now)
        }));
        for i in candidates {
            if left == 0 {
                break;
            }
            let t = self.lots[i].remaining.min(left);
            if t > 0 {
                self.lots[i].remaining -= t;
                moves.push((i, t));
                left -= t;
            }
        }
        moves
    }

    fn spendable(&self, now: i64) -> i64 {
        self.lots
            .iter()
            .filter(|l| l.available_from <= now && l.expires_at > now)
            .map(|l| l.remaining)
            .sum()
    }

    fn pending(&self, now: i64) -> i64 {
        self.lots
            .iter()
            .filter(|l| l.available_from > now && l.expires_at > now)
            .map(|l| l.remaining)
            .sum()
    }

    /// What refunds and cancellation should have taken back of order `o` by now.
    fn reconcile(&mut self, o: usize, now: i64) {
        let (lot, earned, total, refunded, cancelled, taken) = self.orders[o];
        let kept = regulars_domain::loyalty::points_kept(earned, total, refunded, cancelled);
        let owed = earned - kept - taken;
        if owed > 0 {
            self.take(owed, now, true, Some(lot));
            self.orders[o].5 += owed;
        }
    }
}

struct Run {
    t: TestDb,
    store: StoreRecord,
    customer: Option<CustomerId>,
    inputs: Vec<OrderInput>,
    hold_ids: Vec<String>,
    now: i64,
}

async fn snapshot(db: &Db) -> BTreeMap<String, String> {
    let sql =
        "SELECT id, kind || '|' || points || '|' || debit || '|' || credit || '|' || written_off || '|' || \
               COALESCE(reverses, '') FROM loyalty_entries";
    match db {
        Db::Sqlite(p) => sqlx::query_as::<_, (String, String)>(sql)
            .fetch_all(p)
            .await
            .unwrap(),
        Db::Pg(p) => sqlx::query_as::<_, (String, String)>(sql)
            .fetch_all(p)
            .await
            .unwrap(),
    }
    .into_iter()
    .collect()
}

async fn step(run: &mut Run, model: &mut Model, op: &Op) {
    let store = run.store.clone();
    let now = Timestamp(run.now);
    match op {
        Op::Order(rupees) => {
            let n = run.inputs.len();
            let o = paid_order(&format!("o{n}"), "model", Currency::INR, rupees * 100, now);
            let mut tx = run.t.db.begin().await.unwrap();
            let w = tx
                .upsert_orders_crediting(&store, std::slice::from_ref(&o), "test", true)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            run.customer = w[0].customer_id;
            run.inputs.push(o);
            model.lots.push(Lot {
                remaining: *rupees,
                available_from: run.now + PENDING_DAYS * DAY,
                expires_at: run.now + (PENDING_DAYS + EXPIRY_DAYS) * DAY,
            });
            model
                .orders
                .push((model.lots.len() - 1, *rupees, rupees * 100, 0, false, 0));
        }
        Op::Refund(i, pct) => {
            let Some(o) = model.orders.len().checked_sub(1).map(|last| (*i).min(last)) else {
                return;
            };
            let (_, _, total, refunded, cancelled, _) = model.orders[o];
            let amount = (total * pct / 100).min(total - refunded);
            if amount <= 0 || cancelled {
                return;
            }
            let mut tx = run.t.db.begin().await.unwrap();
            tx.add_refund(
                &store,
                Source::Api,
                &format!("o{o}"),
                &RefundInput {
                    external_id: format!("r{o}-{refunded}"),
                    created_at: now,
                    amount,
                    reason: None,
                    lines: vec![],
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            model.orders[o].3 += amount;
            model.reconcile(o, run.now);
        }
        Op::Cancel(i) => {
            let Some(o) = model.orders.len().checked_sub(1).map(|last| (*i).min(last)) else {
                return;
            };
            if model.orders[o].4 {
                return;
            }
            let mut input = run.inputs[o].clone();
            input.cancelled_at = Some(now);
            let mut tx = run.t.db.begin().await.unwrap();
            tx.upsert_orders_crediting(&store, std::slice::from_ref(&input), "test", true)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            run.inputs[o] = input;
            model.orders[o].4 = true;
            model.reconcile(o, run.now);
        }
        Op::Spend(points) | Op::Hold(points) => {
            let Some(c) = run.customer else { return };
            let mut tx = run.t.db.begin().await.unwrap();
            let result = match op {
                Op::Spend(_) => tx
                    .spend_points(&store, c, *points, "model", "test", now)
                    .await
                    .map(|_| None),
                _ => tx
                    .hold_points(&store, c, *points, 86_400, "model", "test", now)
                    .await
                    .map(|h| Some(h.id)),
            };
            let fits = model.spendable(run.now) >= *points;
            match result {
                Ok(hold) => {
                    tx.commit().await.unwrap();
                    assert!(
                        fits,
                        "{op:?} succeeded with {} spendable",
                        model.spendable(run.now)
                    );
                    let moves = model.take(*points, run.now, false, None);
                    if let Some(id) = hold {
                        run.hold_ids.push(id);
                        model.holds.push((moves, *points, true, run.now + DAY));
                        model.held += points;
                    }
                }
                Err(StoreError::Refused {
                    code: "insufficient_points",
                    ..
                }) => {
                    tx.rollback().await.unwrap();
                    assert!(
                        !fits,
                        "{op:?} refused with {} spendable",
                        model.spendable(run.now)
                    );
                }
                Err(e) => panic!("{op:?}: {e}"),
            }
        }
        Op::Settle(i, capture) => {
            let Some(h) = model.holds.len().checked_sub(1).map(|last| (*i).min(last)) else {
                return;
            };
            let mut tx = run.t.db.begin().await.unwrap();
            let result = if *capture {
                tx.capture_hold(&store, &run.hold_ids[h], "test", now).await
            } else {
                tx.release_hold(&store, &run.hold_ids[h], "test", now).await
            };
            let open = model.holds[h].2 && model.holds[h].3 > run.now;
            match result {
                Ok(_) => {
                    tx.commit().await.unwrap();
                    assert!(open, "a settled or lapsed hold settled again");
                    model.holds[h].2 = false;
                    model.held -= model.holds[h].1;
                    if !capture {
                        for (lot, p) in model.holds[h].0.clone() {
                            model.lots[lot].remaining += p;
                        }
                    }
                }
                Err(StoreError::Refused { .. }) => {
                    tx.rollback().await.unwrap();
                    assert!(!open, "an open hold was refused");
                }
                Err(e) => panic!("{op:?}: {e}"),
            }
        }
        Op::Advance(days) => {
            run.now += days * DAY;
            run.t
                .db
                .run_loyalty_nightly(&store, Timestamp(run.now))
                .await
                .unwrap();
            for h in 0..model.holds.len() {
                if model.holds[h].2 && model.holds[h].3 <= run.now {
                    model.holds[h].2 = false;
                    model.held -= model.holds[h].1;
                    for (lot, p) in model.holds[h].0.clone() {
                        model.lots[lot].remaining += p;
                    }
                }
            }
            for lot in &mut model.lots {
                if lot.expires_at <= run.now {
                    lot.remaining = 0;
                }
            }
        }
    }
}

async fn agree(run: &Run, model: &Model) {
    let Some(c) = run.customer else { return };
    let b = run
        .t
        .db
        .points_balance(run.store.id, c, Timestamp(run.now), 0)
        .await
        .unwrap();
    assert_eq!(
        (b.available, b.pending, b.held),
        (model.spendable(run.now), model.pending(run.now), model.held),
        "balance vs model at {}",
        run.now
    );
    let check = run.t.db.check_loyalty(run.store.id).await.unwrap();
    assert!(check.is_clean(), "{:?}", check.drift);
    assert_eq!(
        check.accounts.iter().map(|(_, v)| v).sum::<i64>(),
        0,
        "entries sum to zero"
    );
}

async fn run_sequence(backend: Backend, ops: Vec<Op>) {
    let t = TestDb::new(backend).await;
    let store = t.store("Model Store", "INR", "Asia/Kolkata", "en").await;
    let program = Program {
        enabled: true,
        earn: EarnRule {
            points: 1,
            per_minor: 100,
            rounding: Rounding::Down,
            exclude_shipping: true,
            exclude_tax: true,
        },
        pending_days: PENDING_DAYS as u32,
        expiry_days: Some(EXPIRY_DAYS as u32),
        ..Program::default()
    };
    t.db.set_loyalty_program(store.id, &program, "test")
        .await
        .unwrap();
    let mut run = Run {
        t,
        store,
        customer: None,
        inputs: vec![],
        hold_ids: vec![],
        // The order path reads the clock itself: the virtual clock starts at the real one and
        // only moves forward.
        now: Timestamp::now().0,
    };
    let mut model = Model::default();
    for op in &ops {
        let before = snapshot(&run.t.db).await;
        step(&mut run, &mut model, op).await;
        let after = snapshot(&run.t.db).await;
        for (id, row) in &before {
            assert_eq!(after.get(id), Some(row), "entry {id} changed after {op:?}");
        }
        agree(&run, &model).await;
    }
}

fn cases(backend: Backend) -> u32 {
    match backend {
        Backend::Sqlite => 96,
        Backend::Postgres => 24,
    }
}

fn property(backend: Backend) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases(backend),
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..30), |ops| {
            runtime.block_on(run_sequence(backend, ops));
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_ledger_follows_the_model_on_sqlite() {
    property(Backend::Sqlite);
}

#[test]
fn the_ledger_follows_the_model_on_postgres() {
    property(Backend::Postgres);
}
