//! Advocates' codes: one per customer, short and readable, unique in the store, and each also
//! a coupon that gives a friend's first order the program's discount.

use rand::Rng;
use regulars_domain::referral::referral_code;
use regulars_domain::{
    normalize_code, CouponRules, CouponScope, CustomerId, CustomerInput, Email, FieldError, Source, StoreId,
    Timestamp, DEFAULT_CHARSET,
};
use sea_query::{Expr, Query};
use serde::Serialize;

use super::records::ReferralRecord;
use super::{ReferralCodes, ReferralVisits, DAY_MS};
use crate::schema::Customers;
use crate::{Db, StoreError, StoreRecord, Tx};

/// Coupons minted for referral codes carry this origin prefix, then the advocate's id.
pub(crate) const ORIGIN_PREFIX: &str = "referral-code:";

/// How long landing visits are kept for burst detection.
const VISITS_KEPT_MS: i64 = 31 * DAY_MS;

#[derive(Debug, Clone, Serialize)]
pub struct ReferralCode {
    pub customer_id: CustomerId,
    pub code: String,
    pub coupon_id: String,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    customer_id: String,
    code: String,
    coupon_id: String,
    created_at: i64,
}

impl CodeRow {
    fn record(self) -> Result<ReferralCode, StoreError> {
        Ok(ReferralCode {
            customer_id: self
                .customer_id
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("referral code owner {:?}", self.customer_id)))?,
            code: self.code,
            coupon_id: self.coupon_id,
            created_at: Timestamp(self.created_at),
        })
    }
}

fn select(store: StoreId) -> sea_query::SelectStatement {
    Query::select()
        .columns([
            ReferralCodes::CustomerId,
            ReferralCodes::Code,
            ReferralCodes::CouponId,
            ReferralCodes::CreatedAt,
        ])
        .from(ReferralCodes::Table)
        .and_where(Expr::col(ReferralCodes::StoreId).eq(store.to_string()))
        .to_owned()
}

pub(crate) async fn code_of(
    db: &Db,
    store: StoreId,
    customer: &str,
) -> Result<Option<ReferralCode>, StoreError> {
    let q = select(store)
        .and_where(Expr::col(ReferralCodes::CustomerId).eq(customer))
        .to_owned();
    db.fetch_optional::<CodeRow>(&q)
        .await?
        .map(CodeRow::record)
        .transpose()
}

/// The owners of the given (normalised) codes.
pub(crate) async fn owners(
    tx: &mut Tx,
    store: StoreId,
    codes: &[String],
) -> Result<Vec<ReferralCode>, StoreError> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let q = select(store)
        .and_where(Expr::col(ReferralCodes::Code).is_in(codes.iter().map(String::as_str)))
        .to_owned();
    tx.fetch_all::<CodeRow>(&q)
        .await?
        .into_iter()
        .map(CodeRow::record)
        .collect()
}

impl Db {
    /// The customer's code, made on first ask when the program is on and the customer is
    /// eligible (refused `referrals_off` or `not_eligible` otherwise).
    pub async fn referral_code(
        &self,
        store: &StoreRecord,
        customer: CustomerId,
    ) -> Result<ReferralCode, StoreError> {
        if let Some(code) = code_of(self, store.id, &customer.to_string()).await? {
            return Ok(code);
        }
        let mut tx = self.begin().await?;
        let code = tx.referral_code(store, customer).await?;
        tx.commit().await?;
        Ok(code)
    }

    /// The code and its owner, for the share link's landing page and checkouts.
    pub async fn referral_code_owner(
        &self,
        store: StoreId,
        code: &str,
    ) -> Result<Option<ReferralCode>, StoreError> {
        let Ok(code) = normalize_code(code) else {
            return Ok(None);
        };
        let q = select(store)
            .and_where(Expr::col(ReferralCodes::Code).eq(code))
            .to_owned();
        self.fetch_optional::<CodeRow>(&q)
            .await?
            .map(CodeRow::record)
            .transpose()
    }

    /// Notes a visit of a share link's landing page (hashes only) for burst detection, and
    /// forgets visits older than a month.
    pub async fn record_referral_visit(
        &self,
        store: StoreId,
        code: &str,
        ip: Option<&str>,
        device: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (_, key) = tx.referral_program_keyed(store).await?;
        let h = |kind, v: Option<&str>| {
            v.filter(|v| !v.trim().is_empty())
                .map(|v| super::signals::hash(&key, kind, v))
        };
        let q = Query::insert()
            .into_table(ReferralVisits::Table)
            .columns([
                ReferralVisits::StoreId,
                ReferralVisits::Code,
                ReferralVisits::IpHash,
                ReferralVisits::DeviceHash,
                ReferralVisits::VisitedAt,
            ])
            .values_panic([
                store.to_string().into(),
                code.into(),
                h(super::signals::IP, ip).into(),
                h(super::signals::DEVICE, device).into(),
                now.0.into(),
            ])
            .to_owned();
        tx.execute(&q).await?;
        let q = Query::delete()
            .from_table(ReferralVisits::Table)
            .and_where(Expr::col(ReferralVisits::StoreId).eq(store.to_string()))
            .and_where(Expr::col(ReferralVisits::VisitedAt).lt(now.0 - VISITS_KEPT_MS))
            .to_owned();
        tx.execute(&q).await?;
        tx.commit().await
    }

    /// A friend arriving by the share link leaves their email on the landing page: they are
    /// attributed to the advocate now (channel `link`), and their first qualifying order,
    /// with or without the code, completes the referral.
    pub async fn refer_by_link(
        &self,
        store: &StoreRecord,
        code: &str,
        friend_email: &Email,
        ip: Option<&str>,
        device: Option<&str>,
        now: Timestamp,
    ) -> Result<ReferralRecord, StoreError> {
        let owner = self
            .referral_code_owner(store.id, code)
            .await?
            .ok_or(StoreError::NotFound("referral code"))?;
        let mut tx = self.begin().await?;
        let (program, key) = tx.referral_program_keyed(store.id).await?;
        if !program.program.enabled {
            return Err(off());
        }
        let input = CustomerInput {
            email: Some(friend_email.clone()),
            acquisition_channel: Some("referral".into()),
            ..Default::default()
        };
        let (friend, _) = tx
            .upsert_customer(store.id, Source::Api, &input, "referral_link")
            .await?;
        let landing = super::attribution::Landing {
            ip_hash: ip.map(|v| super::signals::hash(&key, super::signals::IP, v)),
            device_hash: device.map(|v| super::signals::hash(&key, super::signals::DEVICE, v)),
        };
        let record = super::attribution::refer(
            &mut tx,
            store,
            &program.program,
            super::attribution::Arrival {
                advocate: &owner.customer_id.to_string(),
                friend: &friend.to_string(),
                code: owner.code.clone(),
                channel: "link",
                order: None,
                landing,
            },
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }
}

/// Whether a coupon of the store already has this code (a referral code is a coupon too).
async fn coupon_code_taken(tx: &mut Tx, store: StoreId, code: &str) -> Result<bool, StoreError> {
    let coupons = sea_query::Alias::new("coupons");
    let q = Query::select()
        .expr(Expr::val(1))
        .from(coupons)
        .and_where(Expr::col(sea_query::Alias::new("store_id")).eq(store.to_string()))
        .and_where(Expr::col(sea_query::Alias::new("code")).eq(code))
        .to_owned();
    Ok(tx.fetch_optional::<(i32,)>(&q).await?.is_some())
}

fn off() -> StoreError {
    StoreError::Refused {
        code: "referrals_off",
        message: "the store's referral program is off".into(),
    }
}

impl Tx {
    pub async fn referral_code(
        &mut self,
        store: &StoreRecord,
        customer: CustomerId,
    ) -> Result<ReferralCode, StoreError> {
        let key = customer.to_string();
        // The store before the customer, as order writes take them: the code's coupon needs
        // the store's lock, and taking it second could deadlock with an order of this customer.
        self.lock_store(store.id).await?;
        self.lock_customers(&[&key]).await?;
        let q = select(store.id)
            .and_where(Expr::col(ReferralCodes::CustomerId).eq(key.as_str()))
            .to_owned();
        if let Some(row) = self.fetch_optional::<CodeRow>(&q).await? {
            return row.record();
        }
        let program = self.referral_program(store.id).await?.program;
        if !program.enabled {
            return Err(off());
        }
        let q = Query::select()
            .columns([Customers::FirstName])
            .expr(Expr::col(Customers::OrdersCount))
            .from(Customers::Table)
            .and_where(Expr::col(Customers::StoreId).eq(store.id.to_string()))
            .and_where(Expr::col(Customers::Id).eq(key.as_str()))
            .to_owned();
        let (first_name, orders): (Option<String>, i64) = self
            .fetch_optional(&q)
            .await?
            .ok_or(StoreError::NotFound("customer"))?;
        let tiers = crate::loyalty::current_tiers(self, store.id, &[&key]).await?;
        if !program
            .eligibility
            .admits(orders, tiers.get(&key).map(String::as_str))
        {
            return Err(StoreError::Refused {
                code: "not_eligible",
                message: "this customer is not eligible for a referral code yet".into(),
            });
        }
        let charset: Vec<char> = DEFAULT_CHARSET.chars().collect();
        let mut chosen = None;
        for attempt in 0..12 {
            // Four random characters give 923,521 codes per name; longer after collisions.
            let len = if attempt < 6 { 4 } else { 6 };
            let suffix: String = {
                let mut rng = rand::thread_rng();
                (0..len)
                    .map(|_| charset[rng.gen_range(0..charset.len())])
                    .collect()
            };
            let candidate = referral_code(first_name.as_deref(), &suffix);
            let q = select(store.id)
                .and_where(Expr::col(ReferralCodes::Code).eq(candidate.as_str()))
                .to_owned();
            if self.fetch_optional::<CodeRow>(&q).await?.is_none()
                && !coupon_code_taken(self, store.id, &candidate).await?
            {
                chosen = Some(candidate);
                break;
            }
        }
        let code =
            chosen.ok_or_else(|| FieldError::new("code", "no_free_code", "no free referral code found"))?;
        let rules = CouponRules {
            discount: program.friend_discount.clone(),
            starts_at: None,
            expires_at: None,
            minimum_spend: program.friend_minimum_spend,
            scope: CouponScope::default(),
            customer_id: None,
            usage_limit: None,
            per_customer_limit: None,
            stackable: false,
            first_order_only: true,
        };
        let coupon = self
            .insert_fixed_coupon(store, &code, &rules, &format!("{ORIGIN_PREFIX}{key}"))
            .await?;
        let now = Timestamp::now();
        let q = Query::insert()
            .into_table(ReferralCodes::Table)
            .columns([
                ReferralCodes::StoreId,
                ReferralCodes::CustomerId,
                ReferralCodes::Code,
                ReferralCodes::CouponId,
                ReferralCodes::CreatedAt,
            ])
            .values_panic([
                store.id.to_string().into(),
                key.clone().into(),
                code.clone().into(),
                coupon.id.clone().into(),
                now.0.into(),
            ])
            .to_owned();
        self.execute(&q).await?;
        Ok(ReferralCode {
            customer_id: customer,
            code,
            coupon_id: coupon.id,
            created_at: now,
        })
    }
}
