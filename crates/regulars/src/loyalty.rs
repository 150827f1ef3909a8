//! The loyalty program's background work and commands: the nightly job (expiry, reminders,
//! tiers, birthdays) followed by the ledger's consistency check, on a schedule inside
//! `regulars serve` and on demand (`regulars loyalty nightly`, `regulars check`). Logs carry
//! counts only, never a customer.

use std::time::Duration;

use regulars_domain::Timestamp;
use regulars_store::{Db, LedgerCheck, StoreRecord};
use serde::Serialize;

/// Runs the nightly job and the check for every store after `first_after`, then every
/// `every`, for as long as the server runs.
pub async fn schedule(db: Db, first_after: Duration, every: Duration) {
    tokio::time::sleep(first_after).await;
    loop {
        match db.stores().await {
            Ok(stores) => {
                for store in stores {
                    nightly_logged(&db, &store, Timestamp::now()).await;
                    check_logged(&db, &store).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "listing stores for the loyalty job"),
        }
        tokio::time::sleep(every).await;
    }
}

pub async fn nightly_logged(
    db: &Db,
    store: &StoreRecord,
    now: Timestamp,
) -> Option<regulars_store::NightlyReport> {
    let started = std::time::Instant::now();
    match db.run_loyalty_nightly(store, now).await {
        Ok(r) => {
            tracing::info!(
                store = %store.id,
                holds_released = r.holds_released,
                lots_expired = r.lots_expired,
                points_expired = r.points_expired,
                lots_warned = r.lots_warned,
                promotions = r.promotions,
                demotions = r.demotions,
                birthdays = r.birthdays,
                duration_ms = started.elapsed().as_millis() as u64,
                "loyalty nightly job"
            );
            Some(r)
        }
        Err(e) => {
            tracing::warn!(store = %store.id, error = %e, "loyalty nightly job failed");
            None
        }
    }
}

pub async fn check_logged(db: &Db, store: &StoreRecord) -> Option<LedgerCheck> {
    match db.check_loyalty(store.id).await {
        Ok(c) if c.is_clean() => {
            tracing::info!(store = %store.id, entries = c.entries, lots = c.lots, "loyalty ledger check clean");
            Some(c)
        }
        Ok(c) => {
            metrics::counter!("regulars_loyalty_drift_total").increment(c.drift.len() as u64);
            tracing::error!(
                store = %store.id,
                drift = c.drift.len(),
                first = c.drift.first().map(|d| d.check).unwrap_or(""),
                "loyalty ledger drift"
            );
            Some(c)
        }
        Err(e) => {
            tracing::warn!(store = %store.id, error = %e, "loyalty ledger check failed");
            None
        }
    }
}

/// One store's check, as `regulars check` prints it.
#[derive(Serialize)]
pub struct StoreCheck {
    pub store_id: String,
    pub clean: bool,
    #[serde(flatten)]
    pub check: LedgerCheck,
}
