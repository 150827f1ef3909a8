//! The ledger's consistency check (RELIABILITY L6): every figure that is kept is recomputed
//! from the immutable entries and compared. Any difference is reported as drift.

use std::collections::HashMap;

use regulars_domain::StoreId;
use sea_query::{Alias, Expr, Query};
use serde::Serialize;

use super::sum_i64;
use super::{account, LoyaltyEntries, LoyaltyHolds, LoyaltyLotMoves, LoyaltyLots};
use crate::{Db, StoreError};

/// One figure that does not add up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// `lot_remaining`, `customer_balance`, `held_balance`, `revoked_beyond_earned`,
    /// `hold_settled_twice`, `ledger_unbalanced`, or the referral program's
    /// `referral_reward_missing`, `commission_over_reversed`, `payout_mismatch`.
    pub check: &'static str,
    /// The lot, customer, entry or hold concerned.
    pub subject: String,
    pub expected: i64,
    pub found: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LedgerCheck {
    pub entries: i64,
    pub lots: i64,
    /// Each account's balance (credits − debits) summed over the store: they add up to 0.
    pub accounts: Vec<(String, i64)>,
    pub outstanding_points: i64,
    pub drift: Vec<Drift>,
}

impl LedgerCheck {
    pub fn is_clean(&self) -> bool {
        self.drift.is_empty()
    }
}

const MAX_REPORTED: usize = 1_000;

impl Db {
    /// Recomputes the store's points from its entries and reports what does not agree.
    pub async fn check_loyalty(&self, store: StoreId) -> Result<LedgerCheck, StoreError> {
        let store_key = store.to_string();
        let mut check = LedgerCheck::default();

        // Account totals: every entry moves points from one account to another.
        let q = Query::select()
            .columns([LoyaltyEntries::Debit, LoyaltyEntries::Credit])
            .expr_as(sum_i64(Expr::col(LoyaltyEntries::Points)), Alias::new("points"))
            .expr_as(Expr::col(LoyaltyEntries::Id).count(), Alias::new("n"))
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store_key.as_str()))
            .group_by_columns([LoyaltyEntries::Debit, LoyaltyEntries::Credit])
            .to_owned();
        let mut accounts: HashMap<String, i64> = HashMap::new();
        for (debit, credit, points, n) in self.fetch_all::<(String, String, Option<i64>, i64)>(&q).await? {
            let points = points.unwrap_or(0);
            *accounts.entry(debit).or_default() -= points;
            *accounts.entry(credit).or_default() += points;
            check.entries += n;
        }
        let total: i64 = accounts.values().sum();
        if total != 0 {
            check.drift.push(Drift {
                check: "ledger_unbalanced",
                subject: "all accounts".into(),
                expected: 0,
                found: total,
            });
        }
        let mut accounts: Vec<(String, i64)> = accounts.into_iter().collect();
        accounts.sort();
        check.accounts = accounts;

        // Each lot's remaining points = its points − what moves took from it.
        let moved = Query::select()
            .column((LoyaltyLotMoves::Table, LoyaltyLotMoves::LotId))
            .expr_as(
                sum_i64(Expr::col((LoyaltyLotMoves::Table, LoyaltyLotMoves::Points))),
                Alias::new("moved"),
            )
            .from(LoyaltyLotMoves::Table)
            .inner_join(
                LoyaltyLots::Table,
                Expr::col((LoyaltyLots::Table, LoyaltyLots::Id))
                    .equals((LoyaltyLotMoves::Table, LoyaltyLotMoves::LotId)),
            )
            .and_where(Expr::col((LoyaltyLots::Table, LoyaltyLots::StoreId)).eq(store_key.as_str()))
            .group_by_col((LoyaltyLotMoves::Table, LoyaltyLotMoves::LotId))
            .to_owned();
        let moved: HashMap<String, i64> = self
            .fetch_all::<(String, Option<i64>)>(&moved)
            .await?
            .into_iter()
            .map(|(l, m)| (l, m.unwrap_or(0)))
            .collect();
        let q = Query::select()
            .columns([LoyaltyLots::Id, LoyaltyLots::CustomerId])
            .columns([LoyaltyLots::Points, LoyaltyLots::Remaining])
            .from(LoyaltyLots::Table)
            .and_where(Expr::col(LoyaltyLots::StoreId).eq(store_key.as_str()))
            .to_owned();
        let mut lot_sums: HashMap<String, i64> = HashMap::new();
        for (id, customer, points, remaining) in self.fetch_all::<(String, String, i64, i64)>(&q).await? {
            check.lots += 1;
            let expected = points - moved.get(&id).copied().unwrap_or(0);
            if expected != remaining {
                check.drift.push(Drift {
                    check: "lot_remaining",
                    subject: id,
                    expected,
                    found: remaining,
                });
            }
            *lot_sums.entry(customer).or_default() += remaining;
            check.outstanding_points += remaining;
        }

        // Each customer's account = the points left in their lots; held = their open holds.
        let signed = |acct: &str| {
            Expr::case(
                Expr::col(LoyaltyEntries::Credit).eq(acct),
                Expr::col(LoyaltyEntries::Points),
            )
            .case(
                Expr::col(LoyaltyEntries::Debit).eq(acct),
                Expr::col(LoyaltyEntries::Points).mul(-1),
            )
            .finally(Expr::val(0i64))
        };
        let q = Query::select()
            .column(LoyaltyEntries::CustomerId)
            .expr_as(
                sum_i64(Expr::expr(sea_query::SimpleExpr::Case(Box::new(signed(
                    account::CUSTOMER,
                ))))),
                Alias::new("balance"),
            )
            .expr_as(
                sum_i64(Expr::expr(sea_query::SimpleExpr::Case(Box::new(signed(
                    account::HELD,
                ))))),
                Alias::new("held"),
            )
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store_key.as_str()))
            .group_by_col(LoyaltyEntries::CustomerId)
            .to_owned();
        let q_holds = Query::select()
            .column(LoyaltyHolds::CustomerId)
            .expr_as(sum_i64(Expr::col(LoyaltyHolds::Points)), Alias::new("points"))
            .from(LoyaltyHolds::Table)
            .and_where(Expr::col(LoyaltyHolds::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(LoyaltyHolds::State).eq("open"))
            .group_by_col(LoyaltyHolds::CustomerId)
            .to_owned();
        let open_holds: HashMap<String, i64> = self
            .fetch_all::<(String, Option<i64>)>(&q_holds)
            .await?
            .into_iter()
            .map(|(c, p)| (c, p.unwrap_or(0)))
            .collect();
        for (customer, balance, held) in self.fetch_all::<(String, Option<i64>, Option<i64>)>(&q).await? {
            let in_lots = lot_sums.get(&customer).copied().unwrap_or(0);
            if balance.unwrap_or(0) != in_lots {
                check.drift.push(Drift {
                    check: "customer_balance",
                    subject: customer.clone(),
                    expected: balance.unwrap_or(0),
                    found: in_lots,
                });
            }
            let open = open_holds.get(&customer).copied().unwrap_or(0);
            if held.unwrap_or(0) != open {
                check.drift.push(Drift {
                    check: "held_balance",
                    subject: customer,
                    expected: held.unwrap_or(0),
                    found: open,
                });
            }
        }

        // A revocation never takes back more than the earning it names.
        let q = Query::select()
            .column(LoyaltyEntries::Reverses)
            .expr_as(
                sum_i64(Expr::expr(
                    Expr::col(LoyaltyEntries::Points).add(Expr::col(LoyaltyEntries::WrittenOff)),
                )),
                Alias::new("revoked"),
            )
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(LoyaltyEntries::Kind).eq("revoke"))
            .group_by_col(LoyaltyEntries::Reverses)
            .to_owned();
        let revoked: Vec<(Option<String>, Option<i64>)> = self.fetch_all(&q).await?;
        if !revoked.is_empty() {
            let ids: Vec<String> = revoked.iter().filter_map(|(r, _)| r.clone()).collect();
            let mut earned: HashMap<String, i64> = HashMap::new();
            for chunk in ids.chunks(crate::CHUNK) {
                let q = Query::select()
                    .columns([LoyaltyEntries::Id, LoyaltyEntries::Points])
                    .from(LoyaltyEntries::Table)
                    .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store_key.as_str()))
                    .and_where(Expr::col(LoyaltyEntries::Id).is_in(chunk.iter().map(String::as_str)))
                    .to_owned();
                earned.extend(self.fetch_all::<(String, i64)>(&q).await?);
            }
            for (earn, total) in revoked {
                let earn = earn.unwrap_or_default();
                let limit = earned.get(&earn).copied().unwrap_or(0);
                let total = total.unwrap_or(0);
                if total > limit {
                    check.drift.push(Drift {
                        check: "revoked_beyond_earned",
                        subject: earn,
                        expected: limit,
                        found: total,
                    });
                }
            }
        }

        // A hold is settled (captured, released or expired) at most once.
        let q = Query::select()
            .column(LoyaltyEntries::HoldId)
            .expr_as(Expr::col(LoyaltyEntries::Id).count(), Alias::new("n"))
            .from(LoyaltyEntries::Table)
            .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(LoyaltyEntries::Kind).is_in(["capture", "release"]))
            .group_by_col(LoyaltyEntries::HoldId)
            .and_having(Expr::expr(Expr::col(LoyaltyEntries::Id).count()).gt(1))
            .to_owned();
        for (hold, n) in self.fetch_all::<(Option<String>, i64)>(&q).await? {
            check.drift.push(Drift {
                check: "hold_settled_twice",
                subject: hold.unwrap_or_default(),
                expected: 1,
                found: n,
            });
        }
        check.drift.extend(self.referral_drift(store).await?);
        check.drift.truncate(MAX_REPORTED);
        Ok(check)
    }
}
