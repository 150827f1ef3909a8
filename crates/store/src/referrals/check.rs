//! The referral program's part of the consistency check: rewards that should exist do, once,
//! and the commission ledger adds up.

use regulars_domain::StoreId;
use sea_query::{Alias, Expr, Query};

use super::records::ReferralStatus;
use super::{CommissionPayouts, Commissions, Referrals};
use crate::loyalty::{sum_i64, Drift, LoyaltyEntries};
use crate::{Db, StoreError};

impl Db {
    /// `referral_reward_missing`: a referral rewarded with points has no ledger entry under its
    /// key. `commission_over_reversed`: an order's reversals exceed what it earned.
    /// `payout_mismatch`: a payout's amount differs from the rows it paid.
    pub(crate) async fn referral_drift(&self, store: StoreId) -> Result<Vec<Drift>, StoreError> {
        let store_key = store.to_string();
        let mut drift = Vec::new();

        let q = Query::select()
            .columns([Referrals::Id, Referrals::AdvocateReward])
            .from(Referrals::Table)
            .and_where(Expr::col(Referrals::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(Referrals::Status).eq(ReferralStatus::Rewarded.as_str()))
            .to_owned();
        let rewarded: Vec<(String, Option<String>)> = self.fetch_all(&q).await?;
        let with_points: Vec<String> = rewarded
            .into_iter()
            .filter(|(_, reward)| {
                reward
                    .as_deref()
                    .and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok())
                    .is_some_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some("points"))
            })
            .map(|(id, _)| format!("referral:{id}:advocate"))
            .collect();
        for chunk in with_points.chunks(crate::CHUNK) {
            let q = Query::select()
                .column(LoyaltyEntries::DedupeKey)
                .from(LoyaltyEntries::Table)
                .and_where(Expr::col(LoyaltyEntries::StoreId).eq(store_key.as_str()))
                .and_where(Expr::col(LoyaltyEntries::DedupeKey).is_in(chunk.iter().map(String::as_str)))
                .to_owned();
            let found: std::collections::HashSet<String> = self
                .fetch_all::<(String,)>(&q)
                .await?
                .into_iter()
                .map(|(k,)| k)
                .collect();
            for key in chunk.iter().filter(|k| !found.contains(*k)) {
                drift.push(Drift {
                    check: "referral_reward_missing",
                    subject: key.clone(),
                    expected: 1,
                    found: 0,
                });
            }
        }

        let q = Query::select()
            .column(Commissions::OrderId)
            .expr_as(sum_i64(Expr::col(Commissions::Amount)), Alias::new("net"))
            .from(Commissions::Table)
            .and_where(Expr::col(Commissions::StoreId).eq(store_key.as_str()))
            .group_by_col(Commissions::OrderId)
            .to_owned();
        for (order, net) in self.fetch_all::<(String, Option<i64>)>(&q).await? {
            let net = net.unwrap_or(0);
            if net < 0 {
                drift.push(Drift {
                    check: "commission_over_reversed",
                    subject: order,
                    expected: 0,
                    found: net,
                });
            }
        }

        let paid = Query::select()
            .column(Commissions::PayoutId)
            .expr_as(sum_i64(Expr::col(Commissions::Amount)), Alias::new("paid"))
            .from(Commissions::Table)
            .and_where(Expr::col(Commissions::StoreId).eq(store_key.as_str()))
            .and_where(Expr::col(Commissions::PayoutId).is_not_null())
            .group_by_col(Commissions::PayoutId)
            .to_owned();
        let paid: std::collections::HashMap<String, i64> = self
            .fetch_all::<(String, Option<i64>)>(&paid)
            .await?
            .into_iter()
            .map(|(id, s)| (id, s.unwrap_or(0)))
            .collect();
        let q = Query::select()
            .columns([CommissionPayouts::Id, CommissionPayouts::Amount])
            .from(CommissionPayouts::Table)
            .and_where(Expr::col(CommissionPayouts::StoreId).eq(store_key.as_str()))
            .to_owned();
        for (id, amount) in self.fetch_all::<(String, i64)>(&q).await? {
            let found = paid.get(&id).copied().unwrap_or(0);
            if found != amount {
                drift.push(Drift {
                    check: "payout_mismatch",
                    subject: id,
                    expected: amount,
                    found,
                });
            }
        }
        Ok(drift)
    }
}
