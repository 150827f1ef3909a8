//! The program's settings (one JSON document, validated by the domain) and their history.

use rand::RngCore;
use regulars_domain::loyalty::Program;
use regulars_domain::{new_id, StoreId, Timestamp};
use sea_query::{Expr, OnConflict, Query};

use super::{LoyaltyProgramChanges, LoyaltyPrograms};
use crate::{json_text, parse_json, Db, StoreError, Tx};

#[derive(Debug, Clone)]
pub struct ProgramRecord {
    pub program: Program,
    /// Orders placed from here on earn; `None` until the program is first turned on.
    pub earning_since: Option<Timestamp>,
    pub updated_by: Option<String>,
    pub updated_at: Option<Timestamp>,
    /// Signs the customers' links to their loyalty page (never shown).
    pub(crate) link_key: Option<String>,
    pub(crate) nightly_at: Option<Timestamp>,
}

impl ProgramRecord {
    fn unset() -> Self {
        ProgramRecord {
            program: Program::default(),
            earning_since: None,
            updated_by: None,
            updated_at: None,
            link_key: None,
            nightly_at: None,
        }
    }

    /// Whether an order placed at `placed_at` earns (history is credited only on request).
    pub fn earns_for(&self, placed_at: Timestamp, credit_history: bool) -> bool {
        self.program.enabled && (credit_history || self.earning_since.is_some_and(|s| placed_at >= s))
    }
}

#[derive(sqlx::FromRow)]
struct ProgramRow {
    settings: String,
    earning_since: Option<i64>,
    link_key: String,
    nightly_at: Option<i64>,
    updated_by: String,
    updated_at: i64,
}

fn select(store: StoreId) -> sea_query::SelectStatement {
    Query::select()
        .columns([
            LoyaltyPrograms::Settings,
            LoyaltyPrograms::EarningSince,
            LoyaltyPrograms::LinkKey,
            LoyaltyPrograms::NightlyAt,
            LoyaltyPrograms::UpdatedBy,
            LoyaltyPrograms::UpdatedAt,
        ])
        .from(LoyaltyPrograms::Table)
        .and_where(Expr::col(LoyaltyPrograms::StoreId).eq(store.to_string()))
        .to_owned()
}

fn record(row: Option<ProgramRow>) -> Result<ProgramRecord, StoreError> {
    let Some(row) = row else {
        return Ok(ProgramRecord::unset());
    };
    Ok(ProgramRecord {
        program: parse_json(&row.settings, "loyalty program")?,
        earning_since: row.earning_since.map(Timestamp),
        updated_by: Some(row.updated_by),
        updated_at: Some(Timestamp(row.updated_at)),
        link_key: Some(row.link_key),
        nightly_at: row.nightly_at.map(Timestamp),
    })
}

impl Db {
    /// The store's program; a store that never set one gets the default, turned off.
    pub async fn loyalty_program(&self, store: StoreId) -> Result<ProgramRecord, StoreError> {
        record(self.fetch_optional(&select(store)).await?)
    }

    pub async fn set_loyalty_program(
        &self,
        store: StoreId,
        program: &Program,
        actor: &str,
    ) -> Result<ProgramRecord, StoreError> {
        let mut tx = self.begin().await?;
        let out = tx.set_loyalty_program(store, program, actor).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The key that signs customers' loyalty links, created on first use.
    pub async fn loyalty_link_key(&self, store: StoreId) -> Result<String, StoreError> {
        if let Some(key) = self.loyalty_program(store).await?.link_key {
            return Ok(key);
        }
        let mut tx = self.begin().await?;
        let current = tx.loyalty_program(store).await?;
        let record = tx.set_loyalty_program(store, &current.program, "system").await?;
        tx.commit().await?;
        Ok(record.link_key.expect("a stored program has a key"))
    }
}

impl Tx {
    pub async fn loyalty_program(&mut self, store: StoreId) -> Result<ProgramRecord, StoreError> {
        record(self.fetch_optional(&select(store)).await?)
    }

    /// Replaces the program (validated first; nothing is written when it is refused) and
    /// keeps the change in the history. Turning the program on for the first time starts
    /// the earning clock.
    pub async fn set_loyalty_program(
        &mut self,
        store: StoreId,
        program: &Program,
        actor: &str,
    ) -> Result<ProgramRecord, StoreError> {
        program.validate()?;
        let now = Timestamp::now();
        let current = self.loyalty_program(store).await?;
        let earning_since = current.earning_since.or_else(|| program.enabled.then_some(now));
        let link_key = current.link_key.clone().unwrap_or_else(|| {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            hex::encode(bytes)
        });
        let settings = json_text(program);
        let q = Query::insert()
            .into_table(LoyaltyPrograms::Table)
            .columns([
                LoyaltyPrograms::StoreId,
                LoyaltyPrograms::Settings,
                LoyaltyPrograms::EarningSince,
                LoyaltyPrograms::LinkKey,
                LoyaltyPrograms::UpdatedBy,
                LoyaltyPrograms::UpdatedAt,
            ])
            .values_panic([
                store.to_string().into(),
                settings.clone().into(),
                earning_since.map(|t| t.0).into(),
                link_key.clone().into(),
                actor.into(),
                now.0.into(),
            ])
            .on_conflict(
                OnConflict::column(LoyaltyPrograms::StoreId)
                    .update_columns([
                        LoyaltyPrograms::Settings,
                        LoyaltyPrograms::EarningSince,
                        LoyaltyPrograms::UpdatedBy,
                        LoyaltyPrograms::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .to_owned();
        self.execute(&q).await?;
        if current.updated_at.is_none() || current.program != *program {
            let q = Query::insert()
                .into_table(LoyaltyProgramChanges::Table)
                .columns([
                    LoyaltyProgramChanges::Id,
                    LoyaltyProgramChanges::StoreId,
                    LoyaltyProgramChanges::Settings,
                    LoyaltyProgramChanges::ChangedBy,
                    LoyaltyProgramChanges::ChangedAt,
                ])
                .values_panic([
                    new_id().to_string().into(),
                    store.to_string().into(),
                    settings.into(),
                    actor.into(),
                    now.0.into(),
                ])
                .to_owned();
            self.execute(&q).await?;
        }
        Ok(ProgramRecord {
            program: program.clone(),
            earning_since,
            updated_by: Some(actor.to_string()),
            updated_at: Some(now),
            link_key: Some(link_key),
            nightly_at: current.nightly_at,
        })
    }

    /// Serialises ledger movements of these customers against other transactions (see the
    /// module's note on lock order). Locks are taken in sorted order.
    pub async fn lock_customers(&mut self, customers: &[&str]) -> Result<(), StoreError> {
        if let Tx::Pg(t) = self {
            let mut sorted: Vec<&str> = customers.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.is_empty() {
                return Ok(());
            }
            // 7 names the loyalty lock class; the second key is the customer id's hash (a
            // collision only serialises two customers, it never lets two writers in).
            sqlx::query(
                "SELECT count(pg_advisory_xact_lock(7, hashtext(c))) FROM (SELECT unnest($1::text[]) AS c ORDER BY 1) s",
            )
            .bind(sorted)
            .execute(&mut **t)
            .await?;
        }
        Ok(())
    }
}
