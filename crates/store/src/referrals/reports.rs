//! The advocates report: who brought whom, how many, what those friends are worth, what the
//! program cost, and the share of new customers that came by referral.

use std::collections::HashMap;

use regulars_domain::{Currency, CustomerId, StoreId, Timestamp};
use sea_query::{Expr, Order, Query, SimpleExpr};
use serde::Serialize;

use super::records::ReferralStatus;
use super::{Commissions, Partners, ReferralCodes, Referrals};
use crate::directory::display_name;
use crate::loyalty::sum_i64;
use crate::schema::{Customers, Orders};
use crate::{parse_json, Db, StoreError, StoreRecord, CHUNK};

/// The most advocates the report lists.
pub const MAX_REPORT_ADVOCATES: u64 = 500;

/// One advocate's line, minor units of the store currency.
#[derive(Debug, Clone, Serialize)]
pub struct AdvocateRow {
    pub customer_id: CustomerId,
    pub name: String,
    pub code: Option<String>,
    pub is_partner: bool,
    /// Friends referred (every status) and those rewarded/qualified.
    pub friends: i64,
    pub qualified: i64,
    pub rejected: i64,
    /// What the referred friends spent (net of refunds), and their predicted 12-month CLV.
    pub friends_revenue: i64,
    pub friends_clv: i64,
    /// The advocate's own spend and CLV.
    pub own_revenue: i64,
    pub own_clv: i64,
    /// What this advocate's referrals cost: rewards (points at the loyalty program's value,
    /// coupon discounts used), friends' first-order discounts, commissions.
    pub cost: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdvocatesReport {
    pub currency: Currency,
    /// The period the new-customer figures cover: [from, to).
    pub from: Timestamp,
    pub to: Timestamp,
    /// Customers whose first order fell in the period, and how many of them came by referral.
    pub new_customers: i64,
    pub referred_new_customers: i64,
    /// referred_new_customers / new_customers in basis points (0 when there were none).
    pub referral_share_bp: i64,
    /// Referrals by status over all time.
    pub by_status: Vec<(String, i64)>,
    /// The program's whole cost (all advocates) and the acquisition cost saved:
    /// referred new customers × the program's acquisition cost, less the program's cost.
    pub program_cost: i64,
    pub acquisition_cost_saved: i64,
    /// Advocates by friends referred, most first (at most 500).
    pub advocates: Vec<AdvocateRow>,
}

/// What one advocate's referrals cost, before points are valued.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    /// Points given to the advocate and to their friends.
    points: i64,
    /// Money: fixed coupons given, friends' first-order discounts, net commissions.
    minor: i64,
}

/// What a reward recorded on a referral gave: points, or a fixed coupon's face value.
fn reward_cost(reward: &serde_json::Value, cost: &mut Cost) {
    if reward.get("skipped").is_some() {
        return;
    }
    match reward.get("kind").and_then(serde_json::Value::as_str) {
        Some("points") => {
            cost.points += reward
                .get("points")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0)
        }
        Some("coupon") => {
            let discount = reward.get("discount");
            if discount
                .and_then(|d| d.get("kind"))
                .and_then(serde_json::Value::as_str)
                == Some("fixed")
            {
                cost.minor += discount
                    .and_then(|d| d.get("amount"))
                    .and_then(serde_json::Value::as_i64)
                    .unwrap_or(0);
            }
        }
        _ => {}
    }
}

/// `SUM(CASE WHEN condition THEN 1 ELSE 0 END)`.
fn count_where(condition: SimpleExpr) -> SimpleExpr {
    sum_i64(Expr::case(condition, Expr::val(1i64)).finally(Expr::val(0i64)))
}

/// Every advocate's cost (all of them, for the program's whole cost), by customer id.
async fn costs(db: &Db, store: &StoreRecord) -> Result<HashMap<String, Cost>, StoreError> {
    let key = store.id.to_string();
    let mut out: HashMap<String, Cost> = HashMap::new();

    // Rewards: only referrals that gave something carry them.
    let q = Query::select()
        .columns([
            Referrals::AdvocateId,
            Referrals::AdvocateReward,
            Referrals::FriendReward,
        ])
        .from(Referrals::Table)
        .and_where(Expr::col(Referrals::StoreId).eq(key.as_str()))
        .and_where(
            Expr::col(Referrals::AdvocateReward)
                .is_not_null()
                .or(Expr::col(Referrals::FriendReward).is_not_null()),
        )
        .to_owned();
    type Rewards = (String, Option<String>, Option<String>);
    for (advocate, given, friend) in db.fetch_all::<Rewards>(&q).await? {
        let cost = out.entry(advocate).or_default();
        for text in [given, friend].into_iter().flatten() {
            reward_cost(&parse_json(&text, "referral reward")?, cost);
        }
    }

    // The friends' discounts on the orders that made the referrals.
    let q = Query::select()
        .column((Referrals::Table, Referrals::AdvocateId))
        .expr(sum_i64(Expr::col((Orders::Table, Orders::DiscountTotal))))
        .from(Referrals::Table)
        .inner_join(
            Orders::Table,
            Expr::col((Orders::Table, Orders::Id)).equals((Referrals::Table, Referrals::OrderId)),
        )
        .and_where(Expr::col((Referrals::Table, Referrals::StoreId)).eq(key.as_str()))
        .and_where(Expr::col((Orders::Table, Orders::StoreId)).eq(key.as_str()))
        .and_where(Expr::col((Orders::Table, Orders::Currency)).eq(store.currency.code()))
        .group_by_col((Referrals::Table, Referrals::AdvocateId))
        .to_owned();
    for (advocate, discounts) in db.fetch_all::<(String, Option<i64>)>(&q).await? {
        out.entry(advocate).or_default().minor += discounts.unwrap_or(0);
    }

    // Partners' commissions, net of reversals, whatever their status.
    let q = Query::select()
        .column(Commissions::PartnerId)
        .expr(sum_i64(Expr::col(Commissions::Amount)))
        .from(Commissions::Table)
        .and_where(Expr::col(Commissions::StoreId).eq(key.as_str()))
        .group_by_col(Commissions::PartnerId)
        .to_owned();
    for (partner, amount) in db.fetch_all::<(String, Option<i64>)>(&q).await? {
        out.entry(partner).or_default().minor += amount.unwrap_or(0);
    }
    Ok(out)
}

/// Customers whose first order fell in [from, to), and those of them a referral brought.
async fn new_customers(
    db: &Db,
    store: StoreId,
    from: Timestamp,
    to: Timestamp,
) -> Result<(i64, i64), StoreError> {
    let base = Query::select()
        .expr(Expr::col(Customers::Id).count())
        .from(Customers::Table)
        .and_where(Expr::col(Customers::StoreId).eq(store.to_string()))
        .and_where(Expr::col(Customers::FirstOrderAt).gte(from.0))
        .and_where(Expr::col(Customers::FirstOrderAt).lt(to.0))
        .to_owned();
    let (all,): (i64,) = db.fetch_optional(&base).await?.unwrap_or((0,));
    let referred = base
        .clone()
        .and_where(
            Expr::col(Customers::Id).in_subquery(
                Query::select()
                    .column(Referrals::FriendId)
                    .from(Referrals::Table)
                    .and_where(Expr::col(Referrals::StoreId).eq(store.to_string()))
                    .and_where(Expr::col(Referrals::Status).ne(ReferralStatus::Rejected.as_str()))
                    .to_owned(),
            ),
        )
        .to_owned();
    let (referred,): (i64,) = db.fetch_optional(&referred).await?.unwrap_or((0,));
    Ok((all, referred))
}

#[derive(sqlx::FromRow)]
struct AdvocateSums {
    advocate_id: String,
    friends: i64,
    qualified: Option<i64>,
    rejected: Option<i64>,
    friends_revenue: Option<i64>,
    friends_clv: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Own {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    total_spent_minor: i64,
    clv_12m_minor: Option<i64>,
}

impl Db {
    /// The report over [from, to) for the new-customer figures; advocates over all time.
    pub async fn advocates_report(
        &self,
        store: &StoreRecord,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<AdvocatesReport, StoreError> {
        let key = store.id.to_string();
        let program = self.referral_program(store.id).await?.program;
        let loyalty = self.loyalty_program(store.id).await?.program;

        let (new_customers, referred_new_customers) = new_customers(self, store.id, from, to).await?;
        let referral_share_bp = if new_customers > 0 {
            referred_new_customers * 10_000 / new_customers
        } else {
            0
        };

        let q = Query::select()
            .column(Referrals::Status)
            .expr(Expr::col(Referrals::Id).count())
            .from(Referrals::Table)
            .and_where(Expr::col(Referrals::StoreId).eq(key.as_str()))
            .group_by_col(Referrals::Status)
            .to_owned();
        let counted: HashMap<String, i64> = self.fetch_all::<(String, i64)>(&q).await?.into_iter().collect();
        let by_status = ReferralStatus::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_string(),
                    counted.get(s.as_str()).copied().unwrap_or(0),
                )
            })
            .collect();

        let costs = costs(self, store).await?;
        let value = |c: &Cost| loyalty.points_value_minor(c.points) + c.minor;
        let program_cost: i64 = costs.values().map(value).sum();
        let acquisition_cost_saved = referred_new_customers * program.acquisition_cost - program_cost;

        // The advocates who brought most friends, with what those friends are worth.
        let r = |c: Referrals| Expr::col((Referrals::Table, c));
        let f = |c: Customers| Expr::col((Customers::Table, c));
        let q = Query::select()
            .column((Referrals::Table, Referrals::AdvocateId))
            .expr_as(r(Referrals::Id).count(), sea_query::Alias::new("friends"))
            .expr_as(
                count_where(r(Referrals::Status).is_in([
                    ReferralStatus::Rewarded.as_str(),
                    ReferralStatus::Qualified.as_str(),
                ])),
                sea_query::Alias::new("qualified"),
            )
            .expr_as(
                count_where(r(Referrals::Status).eq(ReferralStatus::Rejected.as_str())),
                sea_query::Alias::new("rejected"),
            )
            .expr_as(
                sum_i64(f(Customers::TotalSpentMinor)),
                sea_query::Alias::new("friends_revenue"),
            )
            .expr_as(
                sum_i64(sea_query::Func::coalesce([
                    f(Customers::Clv12mMinor).into(),
                    Expr::val(0i64).into(),
                ])),
                sea_query::Alias::new("friends_clv"),
            )
            .from(Referrals::Table)
            .inner_join(
                Customers::Table,
                f(Customers::Id)
                    .equals((Referrals::Table, Referrals::FriendId))
                    .and(f(Customers::StoreId).equals((Referrals::Table, Referrals::StoreId))),
            )
            .and_where(r(Referrals::StoreId).eq(key.as_str()))
            .group_by_col((Referrals::Table, Referrals::AdvocateId))
            .order_by_expr(r(Referrals::Id).count(), Order::Desc)
            .order_by((Referrals::Table, Referrals::AdvocateId), Order::Asc)
            .limit(MAX_REPORT_ADVOCATES)
            .to_owned();
        let top = self.fetch_all::<AdvocateSums>(&q).await?;

        let ids: Vec<&str> = top.iter().map(|a| a.advocate_id.as_str()).collect();
        let mut own: HashMap<String, Own> = HashMap::new();
        let mut codes: HashMap<String, String> = HashMap::new();
        let mut partners: Vec<String> = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let q = Query::select()
                .columns([
                    Customers::Id,
                    Customers::FirstName,
                    Customers::LastName,
                    Customers::Email,
                    Customers::Phone,
                    Customers::TotalSpentMinor,
                    Customers::Clv12mMinor,
                ])
                .from(Customers::Table)
                .and_where(Expr::col(Customers::StoreId).eq(key.as_str()))
                .and_where(Expr::col(Customers::Id).is_in(chunk.iter().copied()))
                .to_owned();
            own.extend(
                self.fetch_all::<Own>(&q)
                    .await?
                    .into_iter()
                    .map(|o| (o.id.clone(), o)),
            );
            let q = Query::select()
                .columns([ReferralCodes::CustomerId, ReferralCodes::Code])
                .from(ReferralCodes::Table)
                .and_where(Expr::col(ReferralCodes::StoreId).eq(key.as_str()))
                .and_where(Expr::col(ReferralCodes::CustomerId).is_in(chunk.iter().copied()))
                .to_owned();
            codes.extend(self.fetch_all::<(String, String)>(&q).await?);
            let q = Query::select()
                .column(Partners::CustomerId)
                .from(Partners::Table)
                .and_where(Expr::col(Partners::StoreId).eq(key.as_str()))
                .and_where(Expr::col(Partners::Status).eq("active"))
                .and_where(Expr::col(Partners::CustomerId).is_in(chunk.iter().copied()))
                .to_owned();
            partners.extend(self.fetch_all::<(String,)>(&q).await?.into_iter().map(|(c,)| c));
        }

        let advocates = top
            .into_iter()
            .map(|a| {
                let customer_id: CustomerId = a
                    .advocate_id
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("advocate id {:?}", a.advocate_id)))?;
                let me = own.get(&a.advocate_id);
                let name = me
                    .and_then(|o| {
                        display_name(o.first_name.as_deref(), o.last_name.as_deref())
                            .or_else(|| o.email.clone())
                            .or_else(|| o.phone.clone())
                    })
                    .unwrap_or_default();
                Ok(AdvocateRow {
                    customer_id,
                    name,
                    code: codes.get(&a.advocate_id).cloned(),
                    is_partner: partners.contains(&a.advocate_id),
                    friends: a.friends,
                    qualified: a.qualified.unwrap_or(0),
                    rejected: a.rejected.unwrap_or(0),
                    friends_revenue: a.friends_revenue.unwrap_or(0),
                    friends_clv: a.friends_clv.unwrap_or(0),
                    own_revenue: me.map_or(0, |o| o.total_spent_minor),
                    own_clv: me.and_then(|o| o.clv_12m_minor).unwrap_or(0),
                    cost: costs.get(&a.advocate_id).map_or(0, value),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;

        Ok(AdvocatesReport {
            currency: store.currency,
            from,
            to,
            new_customers,
            referred_new_customers,
            referral_share_bp,
            by_status,
            program_cost,
            acquisition_cost_saved,
            advocates,
        })
    }
}
