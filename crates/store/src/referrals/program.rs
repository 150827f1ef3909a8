//! The referral program's settings (one JSON document validated by the domain).

use rand::RngCore;
use regulars_domain::referral::ReferralProgram;
use regulars_domain::{StoreId, Timestamp};
use sea_query::{Expr, OnConflict, Query};

use super::ReferralPrograms;
use crate::{json_text, parse_json, Db, StoreError, StoreRecord, Tx};

#[derive(Debug, Clone)]
pub struct ReferralProgramRecord {
    pub program: ReferralProgram,
    pub updated_by: Option<String>,
    pub updated_at: Option<Timestamp>,
    /// When the qualifying job last ran for the store.
    pub run_at: Option<Timestamp>,
    /// Keys the hashes of order signals (never shown).
    pub(crate) signal_key: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ProgramRow {
    settings: String,
    signal_key: String,
    run_at: Option<i64>,
    updated_by: String,
    updated_at: i64,
}

fn select(store: StoreId) -> sea_query::SelectStatement {
    Query::select()
        .columns([
            ReferralPrograms::Settings,
            ReferralPrograms::SignalKey,
            ReferralPrograms::RunAt,
            ReferralPrograms::UpdatedBy,
            ReferralPrograms::UpdatedAt,
        ])
        .from(ReferralPrograms::Table)
        .and_where(Expr::col(ReferralPrograms::StoreId).eq(store.to_string()))
        .to_owned()
}

fn record(row: Option<ProgramRow>) -> Result<ReferralProgramRecord, StoreError> {
    let Some(row) = row else {
        return Ok(ReferralProgramRecord {
            program: ReferralProgram::default(),
            updated_by: None,
            updated_at: None,
            run_at: None,
            signal_key: None,
        });
    };
    Ok(ReferralProgramRecord {
        program: parse_json(&row.settings, "referral program")?,
        updated_by: Some(row.updated_by),
        updated_at: Some(Timestamp(row.updated_at)),
        run_at: row.run_at.map(Timestamp),
        signal_key: Some(row.signal_key),
    })
}

fn fresh_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Db {
    /// The store's program; a store that never set one gets the default, turned off.
    pub async fn referral_program(&self, store: StoreId) -> Result<ReferralProgramRecord, StoreError> {
        record(self.fetch_optional(&select(store)).await?)
    }

    pub async fn set_referral_program(
        &self,
        store: &StoreRecord,
        program: &ReferralProgram,
        actor: &str,
    ) -> Result<ReferralProgramRecord, StoreError> {
        let mut tx = self.begin().await?;
        let out = tx.set_referral_program(store, program, actor).await?;
        tx.commit().await?;
        Ok(out)
    }
}

impl Tx {
    pub async fn referral_program(&mut self, store: StoreId) -> Result<ReferralProgramRecord, StoreError> {
        record(self.fetch_optional(&select(store)).await?)
    }

    /// The program with its signal key, storing the default (off) program on first use.
    pub(crate) async fn referral_program_keyed(
        &mut self,
        store: StoreId,
    ) -> Result<(ReferralProgramRecord, String), StoreError> {
        let current = self.referral_program(store).await?;
        if let Some(key) = current.signal_key.clone() {
            return Ok((current, key));
        }
        let q = Query::insert()
            .into_table(ReferralPrograms::Table)
            .columns([
                ReferralPrograms::StoreId,
                ReferralPrograms::Settings,
                ReferralPrograms::SignalKey,
                ReferralPrograms::UpdatedBy,
                ReferralPrograms::UpdatedAt,
            ])
            .values_panic([
                store.to_string().into(),
                json_text(&current.program).into(),
                fresh_key().into(),
                "system".into(),
                Timestamp::now().0.into(),
            ])
            .on_conflict(
                OnConflict::column(ReferralPrograms::StoreId)
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        self.execute(&q).await?;
        let stored = self.referral_program(store).await?;
        let key = stored.signal_key.clone().expect("stored just now");
        Ok((stored, key))
    }

    /// Replaces the program (validated first; nothing is written when it is refused). The
    /// friend's discount of every advocate's code follows the new settings.
    pub async fn set_referral_program(
        &mut self,
        store: &StoreRecord,
        program: &ReferralProgram,
        actor: &str,
    ) -> Result<ReferralProgramRecord, StoreError> {
        program.validate()?;
        // Every gift the program can give is in the catalog, so none is promised in vain.
        let gifts = std::iter::once(("advocate_reward".to_string(), &program.advocate_reward)).chain(
            program
                .milestones
                .iter()
                .enumerate()
                .map(|(i, m)| (format!("milestones[{i}].reward"), &m.reward)),
        );
        for (field, reward) in gifts {
            let regulars_domain::referral::ReferralReward::Gift { reward_id } = reward else {
                continue;
            };
            self.reward(store.id, reward_id).await.map_err(|e| match e {
                StoreError::NotFound(_) => regulars_domain::FieldError::new(
                    format!("{field}.reward_id"),
                    "unknown_reward",
                    "no reward with this id in the catalog",
                )
                .into(),
                other => other,
            })?;
        }
        let (current, _) = self.referral_program_keyed(store.id).await?;
        let now = Timestamp::now();
        let q = Query::update()
            .table(ReferralPrograms::Table)
            .value(ReferralPrograms::Settings, json_text(program))
            .value(ReferralPrograms::UpdatedBy, actor)
            .value(ReferralPrograms::UpdatedAt, now.0)
            .and_where(Expr::col(ReferralPrograms::StoreId).eq(store.id.to_string()))
            .to_owned();
        self.execute(&q).await?;
        if current.program.friend_discount != program.friend_discount
            || current.program.friend_minimum_spend != program.friend_minimum_spend
        {
            self.update_origin_coupons(
                store,
                super::codes::ORIGIN_PREFIX,
                &program.friend_discount,
                program.friend_minimum_spend,
            )
            .await?;
        }
        self.referral_program(store.id).await
    }

    pub(crate) async fn mark_referrals_run(
        &mut self,
        store: StoreId,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let q = Query::update()
            .table(ReferralPrograms::Table)
            .value(ReferralPrograms::RunAt, at.0)
            .and_where(Expr::col(ReferralPrograms::StoreId).eq(store.to_string()))
            .to_owned();
        self.execute(&q).await?;
        Ok(())
    }
}
