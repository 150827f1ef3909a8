//! The referral program's background work: referrals whose friend's order cleared its return
//! window are rewarded (or cancelled when refunds or a cancellation inside the window took the
//! order away) and partners' commissions whose window ended are approved, on a schedule inside
//! `regulars serve` and on demand (`regulars referrals run`). Logs carry counts only, never a
//! customer.

use std::time::Duration;

use regulars_domain::Timestamp;
use regulars_store::{Db, ReferralRunReport, StoreRecord};

/// Runs the referral job for every store after `first_after`, then every `every`, for as long
/// as the server runs. A store whose program is off has nothing due and costs one query.
pub async fn schedule(db: Db, first_after: Duration, every: Duration) {
    tokio::time::sleep(first_after).await;
    loop {
        match db.stores().await {
            Ok(stores) => {
                for store in stores {
                    run_logged(&db, &store, Timestamp::now()).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "listing stores for the referral job"),
        }
        tokio::time::sleep(every).await;
    }
}

/// One store's run, logged: counts and time only.
pub async fn run_logged(db: &Db, store: &StoreRecord, now: Timestamp) -> Option<ReferralRunReport> {
    let started = std::time::Instant::now();
    match db.run_referrals(store, now).await {
        Ok(r) => {
            let busy = r != ReferralRunReport::default();
            let duration_ms = started.elapsed().as_millis() as u64;
            if busy {
                tracing::info!(
                    store = %store.id,
                    qualified = r.qualified,
                    rewarded = r.rewarded,
                    unrewarded = r.unrewarded,
                    cancelled = r.cancelled,
                    milestones = r.milestones,
                    commissions_approved = r.commissions_approved,
                    duration_ms,
                    "referral job"
                );
            } else {
                tracing::debug!(store = %store.id, duration_ms, "referral job: nothing due");
            }
            Some(r)
        }
        Err(e) => {
            tracing::warn!(store = %store.id, error = %e, "referral job failed");
            None
        }
    }
}
