//! `regulars demo`: a database with three multilingual sample stores (INR, AMD, USD), ready
//! to explore through the API.

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::Context;
use rand::distributions::{Alphanumeric, DistString};
use regulars_domain::loyalty::{
    Action, ActionRule, BirthdayPerk, Cap, EarnRule, Period, Program, Rounding, ShippingPerk, Tier,
    TierBenefits, TierLadder, TierMetric,
};
use regulars_domain::referral::{FraudRules, Milestone, ReferralProgram, ReferralReward};
use regulars_domain::Discount;
use regulars_domain::{CustomerId, Email, Role, Source, TimeZone, Timestamp};
use regulars_sample::{demo_dataset, demo_referrals, demo_spend, demo_stores, DemoReferrals, DemoStoreSpec};
use regulars_store::{
    Db, PartnerInput, PartnerScope, ReferralFilter, ReferralStatus, RewardInput, StoreError, StoreRecord,
};

/// The friend's first-order discount of the demo stores' referral programs: 10 %.
const FRIEND_DISCOUNT_BP: i64 = 1_000;

/// Loads the sample stores unless the database has stores already, then creates a fresh API
/// key for each (keys are stored hashed, so old ones cannot be shown again). Returns the text
/// to print.
pub async fn prepare(db: &Db, listen: &str) -> anyhow::Result<String> {
    let mut stores = db.stores().await?;
    let fresh = stores.is_empty();
    if fresh {
        let now = Timestamp::now();
        for spec in demo_stores() {
            let timezone = TimeZone::parse(spec.time_zone).map_err(|e| anyhow::anyhow!("{e}"))?;
            let store = db
                .create_store(&spec.name, spec.currency, timezone, spec.locale.clone())
                .await?;
            let mut data = demo_dataset(&spec, now);
            // Who referred whom; every checkout's signals for the fraud rules.
            let referrals = demo_referrals(&spec, now, &mut data, FRIEND_DISCOUNT_BP);
            // A year of marketing spend for the paid channels, for acquisition cost per channel.
            let spend = demo_spend(&spec, now, &data, 12)
                .into_iter()
                .map(|s| Ok((s.channel, regulars_store::parse_month(&s.month)?, s.amount_minor)))
                .collect::<Result<Vec<_>, regulars_domain::FieldError>>()?;
            // The loyalty program runs from the start, so the sample history earns points.
            db.set_loyalty_program(store.id, &demo_program(store.currency), "demo")
                .await?;
            let mut tx = db.begin().await?;
            for reward in demo_rewards(store.currency) {
                tx.create_reward(store.id, &reward).await?;
            }
            tx.commit().await?;
            // So is the referral program: friends' orders carry their advocates' codes.
            db.set_referral_program(&store, &demo_referral_program(&spec, store.currency), "demo")
                .await?;
            let ids = load(db, &store, data, &referrals, now)
                .await
                .with_context(|| format!("loading {}", spec.name))?;
            settle_referrals(db, &store, &referrals, &ids, now)
                .await
                .with_context(|| format!("settling the referrals of {}", spec.name))?;
            db.run_loyalty_nightly(&store, now).await?;
            db.insert_marketing_spend(store.id, &spend).await?;
            stores.push(store);
        }
    }
    // Predictions to show from the first page (a server refits them again later).
    for store in &stores {
        if db.analytics_model(store.id).await?.is_none() {
            crate::refit::refit_logged(db, store.id).await;
        }
    }
    let mut out = String::new();
    let base = format!("http://{listen}");
    writeln!(
        out,
        "Regulars demo {}",
        if fresh {
            "(sample data created)"
        } else {
            "(existing data reused)"
        }
    )?;
    writeln!(
        out,
        "  API:      {base}/api/v1   (OpenAPI: {base}/api/openapi.json)"
    )?;
    writeln!(out, "  Health:   {base}/healthz   Metrics: {base}/metrics")?;
    let people = demo_people(db, &stores).await?;
    writeln!(out, "  Dashboard: {base}/login")?;
    for (email, role, password) in &people {
        writeln!(out, "    {role:<8} {email}  password: {password}")?;
    }
    // Straight into the dashboard as the owner: a link that works once, within the hour.
    if let Some((email, _, _)) = people.first() {
        if let Some(owner) = db.user_by_email(&regulars_domain::Email::parse(email)?).await? {
            let token = db
                .create_login_link(owner.id, std::time::Duration::from_secs(3600))
                .await?;
            writeln!(out, "  Open the dashboard signed in (works once, for an hour):")?;
            writeln!(out, "    {base}/login/link/{token}")?;
        }
    }
    for store in &stores {
        let key = db.create_api_key(store.id, "demo").await?;
        writeln!(out)?;
        writeln!(
            out,
            "  {} ({}, {}, {})",
            store.name, store.currency, store.timezone, store.locale
        )?;
        writeln!(out, "    store id: {}", store.id)?;
        writeln!(out, "    API key:  {}", key.key)?;
        if let Some(line) = referral_summary(db, store).await? {
            writeln!(out, "    {line}")?;
        }
    }
    if let Some(first) = stores.first() {
        let key = db.create_api_key(first.id, "tour").await?;
        writeln!(out)?;
        writeln!(
            out,
            "Try: curl -s -H 'Authorization: Bearer {}' '{base}/api/v1/customers?limit=2'",
            key.key
        )?;
    }
    Ok(out)
}

/// The demo's people: an owner of every store and a viewer of the first. Their passwords are
/// new at every start (only hashes are stored, so old ones cannot be shown again).
async fn demo_people(db: &Db, stores: &[StoreRecord]) -> anyhow::Result<Vec<(String, &'static str, String)>> {
    let mut out = Vec::new();
    for (email, role, all_stores) in [
        ("owner@demo.regulars.dev", Role::Owner, true),
        ("viewer@demo.regulars.dev", Role::Viewer, false),
    ] {
        let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
        let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 16);
        let user = match db.user_by_email(&email).await? {
            Some(user) => {
                db.set_password(user.id, &password).await?;
                user
            }
            None => db.create_user(&email, &password, None).await?,
        };
        for store in stores.iter().take(if all_stores { stores.len() } else { 1 }) {
            db.set_membership(store.id, user.id, role).await?;
        }
        out.push((email.to_string(), role.as_str(), password));
    }
    Ok(out)
}

/// Customers, then the advocates' codes and the partners, then the orders (friends' orders
/// carrying the codes, attributed and judged as they are written), the returns reported after
/// them, and the share-link visits: every step through the same calls the API and webhooks use.
/// Returns the customers' ids by external id.
async fn load(
    db: &Db,
    store: &StoreRecord,
    mut data: regulars_sample::DemoData,
    plan: &DemoReferrals,
    now: Timestamp,
) -> anyhow::Result<HashMap<String, CustomerId>> {
    let mut tx = db.begin().await?;
    let customers: Vec<(Source, &regulars_domain::CustomerInput)> = data
        .customers
        .iter()
        .map(|c| (c.source.unwrap_or(Source::Api), c))
        .collect();
    let written = tx.upsert_customers(store.id, &customers, "demo").await?;
    let ids: HashMap<String, CustomerId> = data
        .customers
        .iter()
        .zip(&written)
        .filter_map(|(c, (id, _))| c.external_id.clone().map(|e| (e, *id)))
        .collect();
    let id_of = |external: &str| {
        ids.get(external)
            .copied()
            .with_context(|| format!("no demo customer {external}"))
    };
    let mut codes: HashMap<&str, String> = HashMap::new();
    for advocate in &plan.advocates {
        let code = tx.referral_code(store, id_of(advocate)?).await?;
        codes.insert(advocate, code.code);
    }
    tx.commit().await?;
    let code_of = |advocate: &str| {
        codes
            .get(advocate)
            .cloned()
            .with_context(|| format!("no referral code for {advocate}"))
    };
    for p in &plan.partners {
        let terms = PartnerInput {
            basis_points: p.basis_points,
            scope: if p.all_orders {
                PartnerScope::AllOrders
            } else {
                PartnerScope::FirstOrder
            },
            period_days: p.period_days,
            note: Some(p.note.clone()),
        };
        db.upsert_partner(store, id_of(&p.customer)?, &terms, "demo")
            .await?;
    }
    let position: HashMap<String, usize> = data
        .orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.external_id.clone(), i))
        .collect();
    for r in &plan.referred {
        let i = *position
            .get(&r.order)
            .with_context(|| format!("no demo order {}", r.order))?;
        r.name_code(&mut data.orders[i], &code_of(&r.advocate)?);
    }
    let mut tx = db.begin().await?;
    for chunk in data.orders.chunks(2_000) {
        tx.upsert_orders_crediting(store, chunk, "demo", true).await?;
    }
    tx.commit().await?;
    let mut tx = db.begin().await?;
    for (order, refund) in &plan.refunds {
        tx.add_refund(store, Source::Api, order, refund).await?;
    }
    tx.commit().await?;
    for landing in &plan.landings {
        let code = code_of(&landing.advocate)?;
        let (ip, device) = (Some(landing.ip.as_str()), Some(landing.device.as_str()));
        db.record_referral_visit(store.id, &code, ip, device, now).await?;
        if let Some(email) = &landing.email {
            db.refer_by_link(store, &code, email, ip, device, now).await?;
        }
    }
    Ok(ids)
}

/// The referral job as the server would have run it over the two years, weekly, then now; and
/// the first partner's commission paid once.
async fn settle_referrals(
    db: &Db,
    store: &StoreRecord,
    plan: &DemoReferrals,
    ids: &HashMap<String, CustomerId>,
    now: Timestamp,
) -> anyhow::Result<()> {
    const WEEK: i64 = 7 * 86_400_000;
    let mut at = now.0 - 105 * WEEK;
    while at < now.0 {
        db.run_referrals(store, Timestamp(at)).await?;
        at += WEEK;
    }
    db.run_referrals(store, now).await?;
    for p in &plan.partners {
        let Some(reference) = &p.payout_reference else {
            continue;
        };
        let Some(&id) = ids.get(&p.customer) else {
            continue;
        };
        match db.pay_partner(store, id, Some(reference), "demo").await {
            Ok(_) | Err(StoreError::Refused { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One line on the store's referrals for the welcome text.
async fn referral_summary(db: &Db, store: &StoreRecord) -> anyhow::Result<Option<String>> {
    if !db.referral_program(store.id).await?.program.enabled {
        return Ok(None);
    }
    let mut counts = Vec::new();
    for status in [
        ReferralStatus::Rewarded,
        ReferralStatus::Pending,
        ReferralStatus::Review,
    ] {
        let filter = ReferralFilter {
            status: Some(status),
            limit: Some(500),
            ..ReferralFilter::default()
        };
        counts.push(db.referrals(store.id, &filter).await?.len());
    }
    Ok(Some(format!(
        "referrals: {} rewarded, {} in their return window, {} waiting for review",
        counts[0], counts[1], counts[2]
    )))
}

/// One major unit of `currency` in minor units (a rupee, a dram, a dollar).
fn major(currency: regulars_domain::Currency) -> i64 {
    10i64.pow(currency.exponent())
}

/// A program a shop might run: a point per ₹10 (per 100 dram, per $1), a two-week return
/// window, points for a year, three tiers on points earned over a year, action points.
fn demo_program(currency: regulars_domain::Currency) -> Program {
    let per_minor = match currency.code() {
        "INR" => 10 * major(currency),
        "AMD" => 100 * major(currency),
        _ => major(currency),
    };
    let tier = |id: &str, name: &str, threshold: i64, benefits: TierBenefits| Tier {
        id: id.into(),
        name: name.into(),
        threshold,
        benefits,
    };
    Program {
        enabled: true,
        earn: EarnRule {
            points: 1,
            per_minor,
            rounding: Rounding::Down,
            exclude_shipping: true,
            exclude_tax: true,
        },
        actions: vec![
            ActionRule {
                action: Action::SignUp,
                points: 50,
                cap: None,
            },
            ActionRule {
                action: Action::Birthday,
                points: 200,
                cap: None,
            },
            ActionRule {
                action: Action::Review,
                points: 25,
                cap: Some(Cap {
                    count: 4,
                    period: Period::Month,
                }),
            },
        ],
        tiers: TierLadder {
            metric: TierMetric::PointsEarned,
            window_days: Some(365),
            levels: vec![
                tier("silver", "Silver", 300, TierBenefits::default()),
                tier(
                    "gold",
                    "Gold",
                    1_000,
                    TierBenefits {
                        earn_percent: 125,
                        birthday_discount_bp: Some(1_500),
                        ..TierBenefits::default()
                    },
                ),
                tier(
                    "platinum",
                    "Platinum",
                    3_000,
                    TierBenefits {
                        earn_percent: 150,
                        free_shipping: true,
                        discount_bp: Some(500),
                        early_access: true,
                        ..TierBenefits::default()
                    },
                ),
            ],
        },
        pending_days: 14,
        expiry_days: Some(365),
        expiry_warning_days: 14,
        value_per_100_points_minor: per_minor,
        shipping: ShippingPerk {
            free_over_minor: Some(per_minor * 100),
            flat_rate_minor: None,
        },
        birthday: BirthdayPerk {
            discount_bp: 1_000,
            window_days: 7,
        },
        ..Program::default()
    }
}

/// A referral program a shop might run: 10 % off a friend's first order, 500 points to the
/// advocate once it clears a 14-day return window, a thank-you coupon at the fifth friend, the
/// default fraud rules, and what a customer costs the shop through its paid channels.
fn demo_referral_program(spec: &DemoStoreSpec, currency: regulars_domain::Currency) -> ReferralProgram {
    let acquisition_cost = match currency.code() {
        "INR" => 350 * major(currency),
        "AMD" => 3_500 * major(currency),
        _ => 12 * major(currency),
    };
    ReferralProgram {
        enabled: true,
        friend_discount: Discount::Percent {
            basis_points: FRIEND_DISCOUNT_BP,
        },
        advocate_reward: ReferralReward::Points { points: 500 },
        return_window_days: 14,
        milestones: vec![Milestone {
            friends: 5,
            reward: ReferralReward::Coupon {
                discount: Discount::Percent { basis_points: 2_000 },
                minimum_spend: 0,
                valid_days: Some(90),
            },
        }],
        fraud: FraudRules::default(),
        acquisition_cost,
        shop_url: Some(spec.shop_url.to_string()),
        ..ReferralProgram::default()
    }
}

fn demo_rewards(currency: regulars_domain::Currency) -> Vec<RewardInput> {
    let unit = match currency.code() {
        "INR" => 100 * major(currency),
        "AMD" => 2_000 * major(currency),
        _ => 5 * major(currency),
    };
    let reward = |name: &str, discount: Discount, points_cost: i64| RewardInput {
        name: name.into(),
        description: None,
        discount,
        points_cost,
        min_tier: None,
        per_customer_limit: None,
        stock: None,
        coupon_valid_days: Some(60),
        minimum_spend_minor: 0,
        active: true,
    };
    vec![
        reward("Free shipping", Discount::FreeShipping, 100),
        reward("Money off", Discount::Fixed { amount: unit }, 200),
        reward("10 % off", Discount::Percent { basis_points: 1_000 }, 350),
        RewardInput {
            min_tier: Some("gold".into()),
            stock: Some(50),
            ..reward(
                "Gift: tote bag",
                Discount::Gift {
                    description: "Handwoven tote bag".into(),
                },
                500,
            )
        },
    ]
}
