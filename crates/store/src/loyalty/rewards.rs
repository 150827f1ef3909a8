//! The rewards catalog: what points buy. Redeeming spends the points, takes one from the
//! stock and mints a coupon bound to the customer, all in one transaction.

use regulars_domain::{new_id, CustomerId, Discount, FieldError, StoreId, Timestamp};
use sea_query::{Expr, Order, Query};
use serde::{Deserialize, Serialize};

use super::earning::{ensure_customer, spend, Spending};
use super::{account, EntryKind, LoyaltyRedemptions, LoyaltyRewards, DAY_MS};
use crate::coupons::CouponIssue;
use crate::events::{insert_events, NewEvent};
use crate::{json_text, parse_json, Db, StoreError, StoreRecord, Tx};

/// A reward as staff describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub discount: Discount,
    pub points_cost: i64,
    /// Only members of this tier or above may redeem it.
    #[serde(default)]
    pub min_tier: Option<String>,
    #[serde(default)]
    pub per_customer_limit: Option<i64>,
    /// How many are left; `None`: unlimited.
    #[serde(default)]
    pub stock: Option<i64>,
    /// The coupon it mints is valid this many days; `None`: until used.
    #[serde(default)]
    pub coupon_valid_days: Option<i64>,
    #[serde(default)]
    pub minimum_spend_minor: i64,
    #[serde(default = "active")]
    pub active: bool,
}

fn active() -> bool {
    true
}

impl RewardInput {
    pub fn validate(&self) -> Result<(), FieldError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(FieldError::new(
                "name",
                "required",
                "name the reward in 1 to 120 characters",
            ));
        }
        if !(0..=100_000_000).contains(&self.points_cost) {
            return Err(FieldError::new(
                "points_cost",
                "out_of_range",
                "a reward costs 0 to 100,000,000 points",
            ));
        }
        // The same rules as every coupon's: a reward's discount becomes one.
        regulars_domain::check_discount(&self.discount)?;
        for (field, v) in [
            ("per_customer_limit", self.per_customer_limit),
            ("coupon_valid_days", self.coupon_valid_days),
        ] {
            if v.is_some_and(|v| v < 1) {
                return Err(FieldError::new(
                    field,
                    "out_of_range",
                    "at least 1, or leave it empty",
                ));
            }
        }
        if self.stock.is_some_and(|s| s < 0) {
            return Err(FieldError::new(
                "stock",
                "out_of_range",
                "stock cannot be negative",
            ));
        }
        if self.minimum_spend_minor < 0 {
            return Err(FieldError::new(
                "minimum_spend_minor",
                "out_of_range",
                "cannot be negative",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RewardRecord {
    pub id: String,
    #[serde(flatten)]
    pub input: RewardInput,
    pub redeemed_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct RewardRow {
    id: String,
    name: String,
    description: Option<String>,
    discount: String,
    points_cost: i64,
    min_tier: Option<String>,
    per_customer_limit: Option<i64>,
    stock: Option<i64>,
    redeemed_count: i64,
    coupon_valid_days: Option<i64>,
    minimum_spend_minor: i64,
    active: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<RewardRow> for RewardRecord {
    type Error = StoreError;
    fn try_from(r: RewardRow) -> Result<Self, StoreError> {
        Ok(RewardRecord {
            input: RewardInput {
                name: r.name,
                description: r.description,
                discount: parse_json(&r.discount, "reward discount")?,
                points_cost: r.points_cost,
                min_tier: r.min_tier,
                per_customer_limit: r.per_customer_limit,
                stock: r.stock,
                coupon_valid_days: r.coupon_valid_days,
                minimum_spend_minor: r.minimum_spend_minor,
                active: r.active,
            },
            id: r.id,
            redeemed_count: r.redeemed_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const REWARD_COLUMNS: [LoyaltyRewards; 14] = [
    LoyaltyRewards::Id,
    LoyaltyRewards::Name,
    LoyaltyRewards::Description,
    LoyaltyRewards::Discount,
    LoyaltyRewards::PointsCost,
    LoyaltyRewards::MinTier,
    LoyaltyRewards::PerCustomerLimit,
    LoyaltyRewards::Stock,
    LoyaltyRewards::RedeemedCount,
    LoyaltyRewards::CouponValidDays,
    LoyaltyRewards::MinimumSpendMinor,
    LoyaltyRewards::Active,
    LoyaltyRewards::CreatedAt,
    LoyaltyRewards::UpdatedAt,
];

fn select_rewards(store: StoreId) -> sea_query::SelectStatement {
    Query::select()
        .columns(REWARD_COLUMNS)
        .from(LoyaltyRewards::Table)
        .and_where(Expr::col(LoyaltyRewards::StoreId).eq(store.to_string()))
        .to_owned()
}

/// A redemption, with the coupon it minted.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RedemptionRecord {
    pub id: String,
    pub customer_id: String,
    pub reward_id: String,
    pub points: i64,
    pub coupon_code: Option<String>,
    /// `points` (bought with points) or `tier:<id>` (a tier's gift).
    pub cause: String,
    pub created_at: i64,
}

impl Db {
    pub async fn rewards(&self, store: StoreId, active_only: bool) -> Result<Vec<RewardRecord>, StoreError> {
        let mut q = select_rewards(store);
        if active_only {
            q.and_where(Expr::col(LoyaltyRewards::Active).eq(true));
        }
        q.order_by(LoyaltyRewards::PointsCost, Order::Asc)
            .order_by(LoyaltyRewards::Id, Order::Asc);
        self.fetch_all::<RewardRow>(&q)
            .await?
            .into_iter()
            .map(RewardRecord::try_from)
            .collect()
    }

    pub async fn reward(&self, store: StoreId, id: &str) -> Result<RewardRecord, StoreError> {
        let q = select_rewards(store)
            .and_where(Expr::col(LoyaltyRewards::Id).eq(id))
            .to_owned();
        self.fetch_optional::<RewardRow>(&q)
            .await?
            .ok_or(StoreError::NotFound("reward"))?
            .try_into()
    }

    /// Redemptions, newest first: one customer's, or the store's.
    pub async fn redemptions(
        &self,
        store: StoreId,
        customer: Option<CustomerId>,
        limit: u64,
    ) -> Result<Vec<RedemptionRecord>, StoreError> {
        let mut q = Query::select();
        q.columns([
            LoyaltyRedemptions::Id,
            LoyaltyRedemptions::CustomerId,
            LoyaltyRedemptions::RewardId,
            LoyaltyRedemptions::Points,
            LoyaltyRedemptions::CouponCode,
            LoyaltyRedemptions::Cause,
            LoyaltyRedemptions::CreatedAt,
        ])
        .from(LoyaltyRedemptions::Table)
        .and_where(Expr::col(LoyaltyRedemptions::StoreId).eq(store.to_string()));
        if let Some(c) = customer {
            q.and_where(Expr::col(LoyaltyRedemptions::CustomerId).eq(c.to_string()));
        }
        q.order_by(LoyaltyRedemptions::CreatedAt, Order::Desc)
            .order_by(LoyaltyRedemptions::Id, Order::Desc)
            .limit(limit.clamp(1, 1000));
        self.fetch_all(&q).await
    }
}

impl Tx {
    pub async fn create_reward(
        &mut self,
        store: StoreId,
        input: &RewardInput,
    ) -> Result<RewardRecord, StoreError> {
        input.validate()?;
        let now = Timestamp::now();
        let id = new_id().to_string();
        let q = Query::insert()
            .into_table(LoyaltyRewards::Table)
            .columns([
                LoyaltyRewards::Id,
                LoyaltyRewards::StoreId,
                LoyaltyRewards::Name,
                LoyaltyRewards::Description,
                LoyaltyRewards::Discount,
                LoyaltyRewards::PointsCost,
                LoyaltyRewards::MinTier,
                LoyaltyRewards::PerCustomerLimit,
                LoyaltyRewards::Stock,
                LoyaltyRewards::CouponValidDays,
                LoyaltyRewards::MinimumSpendMinor,
                LoyaltyRewards::Active,
                LoyaltyRewards::CreatedAt,
                LoyaltyRewards::UpdatedAt,
            ])
            .values_panic([
                id.clone().into(),
                store.to_string().into(),
                input.name.trim().into(),
                input.description.clone().into(),
                json_text(&input.discount).into(),
                input.points_cost.into(),
                input.min_tier.clone().into(),
                input.per_customer_limit.into(),
                input.stock.into(),
                input.coupon_valid_days.into(),
                input.minimum_spend_minor.into(),
                input.active.into(),
                now.0.into(),
                now.0.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        self.reward(store, &id).await
    }

    pub async fn update_reward(
        &mut self,
        store: StoreId,
        id: &str,
        input: &RewardInput,
    ) -> Result<RewardRecord, StoreError> {
        input.validate()?;
        let q = Query::update()
            .table(LoyaltyRewards::Table)
            .values([
                (LoyaltyRewards::Name, input.name.trim().into()),
                (LoyaltyRewards::Description, input.description.clone().into()),
                (LoyaltyRewards::Discount, json_text(&input.discount).into()),
                (LoyaltyRewards::PointsCost, input.points_cost.into()),
                (LoyaltyRewards::MinTier, input.min_tier.clone().into()),
                (LoyaltyRewards::PerCustomerLimit, input.per_customer_limit.into()),
                (LoyaltyRewards::Stock, input.stock.into()),
                (LoyaltyRewards::CouponValidDays, input.coupon_valid_days.into()),
                (
                    LoyaltyRewards::MinimumSpendMinor,
                    input.minimum_spend_minor.into(),
                ),
                (LoyaltyRewards::Active, input.active.into()),
                (LoyaltyRewards::UpdatedAt, Timestamp::now().0.into()),
            ])
            .and_where(Expr::col(LoyaltyRewards::StoreId).eq(store.to_string()))
            .and_where(Expr::col(LoyaltyRewards::Id).eq(id))
            .to_owned();
        if self.execute(&q).await? == 0 {
            return Err(StoreError::NotFound("reward"));
        }
        self.reward(store, id).await
    }

    pub async fn reward(&mut self, store: StoreId, id: &str) -> Result<RewardRecord, StoreError> {
        let q = select_rewards(store)
            .and_where(Expr::col(LoyaltyRewards::Id).eq(id))
            .to_owned();
        self.fetch_optional::<RewardRow>(&q)
            .await?
            .ok_or(StoreError::NotFound("reward"))?
            .try_into()
    }

    /// Spends the reward's points and mints its coupon, or refuses (`reward_inactive`,
    /// `tier_too_low`, `reward_limit_reached`, `out_of_stock`, `insufficient_points`) and
    /// writes nothing.
    pub async fn redeem_reward(
        &mut self,
        store: &StoreRecord,
        customer: CustomerId,
        reward_id: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<RedemptionRecord, StoreError> {
        ensure_customer(self, store.id, customer).await?;
        let customer_key = customer.to_string();
        self.lock_customers(&[&customer_key]).await?;
        let reward = self.reward(store.id, reward_id).await?;
        if !reward.input.active {
            return Err(refused("reward_inactive", "this reward is not offered now"));
        }
        if let Some(min) = &reward.input.min_tier {
            let program = self.loyalty_program(store.id).await?.program;
            let tiers = super::tiers::current_tiers(self, store.id, &[&customer_key]).await?;
            let theirs = tiers.get(&customer_key).map(String::as_str);
            let reaches = theirs == Some(min.as_str()) || program.tiers.is_promotion(Some(min), theirs);
            if !reaches {
                return Err(refused("tier_too_low", "this reward is for a higher tier"));
            }
        }
        take_stock(self, store, customer, &reward, "points").await?;
        let mut entry_id = None;
        if reward.input.points_cost > 0 {
            let spending = Spending {
                kind: EntryKind::Redeem,
                credit: account::REDEEMED,
                reason: &format!("reward:{}", reward.input.name),
                hold_id: None,
                reward_id: Some(reward.id.clone()),
            };
            let e = spend(
                self,
                store.id,
                &customer_key,
                reward.input.points_cost,
                spending,
                actor,
                now,
            )
            .await?;
            entry_id = Some(e.id);
        }
        record_redemption(self, store, customer, &reward, entry_id, "points", now).await
    }
}

fn refused(code: &'static str, message: &str) -> StoreError {
    StoreError::Refused {
        code,
        message: message.into(),
    }
}

/// Checks the per-customer limit and takes one from the stock (a conditional update, so two
/// redemptions racing for the last one cannot both win).
async fn take_stock(
    tx: &mut Tx,
    store: &StoreRecord,
    customer: CustomerId,
    reward: &RewardRecord,
    cause: &str,
) -> Result<(), StoreError> {
    if let Some(limit) = reward.input.per_customer_limit {
        let q = Query::select()
            .expr(Expr::col(LoyaltyRedemptions::Id).count())
            .from(LoyaltyRedemptions::Table)
            .and_where(Expr::col(LoyaltyRedemptions::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(LoyaltyRedemptions::CustomerId).eq(customer.to_string()))
            .and_where(Expr::col(LoyaltyRedemptions::RewardId).eq(reward.id.as_str()))
            .and_where(Expr::col(LoyaltyRedemptions::Cause).eq(cause))
            .to_owned();
        let (count,): (i64,) = tx.fetch_optional(&q).await?.unwrap_or((0,));
        if count >= limit {
            return Err(refused(
                "reward_limit_reached",
                "the customer has redeemed this reward as often as allowed",
            ));
        }
    }
    let q = Query::update()
        .table(LoyaltyRewards::Table)
        .value(
            LoyaltyRewards::RedeemedCount,
            Expr::col(LoyaltyRewards::RedeemedCount).add(1),
        )
        .value(
            LoyaltyRewards::Stock,
            Expr::case(
                Expr::col(LoyaltyRewards::Stock).is_null(),
                Expr::val(Option::<i64>::None),
            )
            .finally(Expr::col(LoyaltyRewards::Stock).sub(1)),
        )
        .and_where(Expr::col(LoyaltyRewards::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(LoyaltyRewards::Id).eq(reward.id.as_str()))
        .and_where(
            Expr::col(LoyaltyRewards::Stock)
                .is_null()
                .or(Expr::col(LoyaltyRewards::Stock).gt(0)),
        )
        .to_owned();
    if tx.execute(&q).await? == 0 {
        return Err(refused("out_of_stock", "this reward is out of stock"));
    }
    Ok(())
}

/// Mints the reward's coupon for the customer and records the redemption and its event.
async fn record_redemption(
    tx: &mut Tx,
    store: &StoreRecord,
    customer: CustomerId,
    reward: &RewardRecord,
    entry_id: Option<String>,
    cause: &str,
    now: Timestamp,
) -> Result<RedemptionRecord, StoreError> {
    let issue = CouponIssue {
        prefix: Some("RW".into()),
        discount: reward.input.discount.clone(),
        customer_id: Some(customer),
        expires_at: reward
            .input
            .coupon_valid_days
            .map(|d| Timestamp(now.0 + d * DAY_MS)),
        minimum_spend: reward.input.minimum_spend_minor,
        usage_limit: Some(1),
        per_customer_limit: Some(1),
        first_order_only: false,
        origin: format!("reward:{}", reward.id),
    };
    let coupon = tx.issue_coupon(store, &issue).await?;
    let id = new_id().to_string();
    let points = if entry_id.is_some() {
        reward.input.points_cost
    } else {
        0
    };
    let q = Query::insert()
        .into_table(LoyaltyRedemptions::Table)
        .columns([
            LoyaltyRedemptions::Id,
            LoyaltyRedemptions::StoreId,
            LoyaltyRedemptions::CustomerId,
            LoyaltyRedemptions::RewardId,
            LoyaltyRedemptions::EntryId,
            LoyaltyRedemptions::CouponId,
            LoyaltyRedemptions::CouponCode,
            LoyaltyRedemptions::Points,
            LoyaltyRedemptions::Cause,
            LoyaltyRedemptions::CreatedAt,
        ])
        .values_panic([
            id.clone().into(),
            store.id.to_string().into(),
            customer.to_string().into(),
            reward.id.clone().into(),
            entry_id.clone().into(),
            coupon.id.clone().into(),
            coupon.code.clone().into(),
            points.into(),
            cause.into(),
            now.0.into(),
        ])
        .to_owned();
    tx.execute(&q).await?;
    let event = NewEvent {
        customer_id: Some(customer.to_string()),
        kind: "reward_redeemed",
        name: Some(reward.input.name.clone()),
        occurred_at: now,
        dedupe_key: format!("redemption:{id}"),
        data: serde_json::json!({
            "redemption_id": id,
            "reward_id": reward.id,
            "reward": reward.input.name,
            "points": points,
            "coupon_code": coupon.code,
            "coupon_expires_at": coupon.expires_at.map(|t| t.to_rfc3339()),
            "cause": cause,
        }),
    };
    insert_events(tx, store.id, &[event], now).await?;
    Ok(RedemptionRecord {
        id,
        customer_id: customer.to_string(),
        reward_id: reward.id.clone(),
        points,
        coupon_code: Some(coupon.code),
        cause: cause.to_string(),
        created_at: now.0,
    })
}

/// A tier's gift: the reward's coupon without spending points, once per customer and cause.
pub(crate) async fn grant_gift(
    tx: &mut Tx,
    store: &StoreRecord,
    customer: CustomerId,
    reward_id: &str,
    cause: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let q = Query::select()
        .column(LoyaltyRedemptions::Id)
        .from(LoyaltyRedemptions::Table)
        .and_where(Expr::col(LoyaltyRedemptions::StoreId).eq(store.id.to_string()))
        .and_where(Expr::col(LoyaltyRedemptions::CustomerId).eq(customer.to_string()))
        .and_where(Expr::col(LoyaltyRedemptions::Cause).eq(cause))
        .to_owned();
    if tx.fetch_optional::<(String,)>(&q).await?.is_some() {
        return Ok(());
    }
    let reward = match tx.reward(store.id, reward_id).await {
        Ok(r) => r,
        // A tier naming a reward that was since removed gives nothing rather than failing orders.
        Err(StoreError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    match take_stock(tx, store, customer, &reward, cause).await {
        Ok(()) => {}
        Err(StoreError::Refused { .. }) => return Ok(()),
        Err(e) => return Err(e),
    }
    record_redemption(tx, store, customer, &reward, None, cause, now).await?;
    Ok(())
}
