//! Refitting the stores' analytics: on a schedule inside `regulars serve`, and on demand
//! (`regulars analytics refit`). Logs carry counts and timing only, never a customer.

use std::time::Duration;

use regulars_domain::StoreId;
use regulars_store::{Db, RefitReport};

/// Refits every store after `first_after`, then every `every`, for as long as the server runs.
pub async fn schedule(db: Db, first_after: Duration, every: Duration) {
    tokio::time::sleep(first_after).await;
    loop {
        match db.stores().await {
            Ok(stores) => {
                for store in stores {
                    refit_logged(&db, store.id).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "listing stores for the analytics refit"),
        }
        tokio::time::sleep(every).await;
    }
}

/// One store's refit, logged; a failure is logged and the next store still runs.
pub async fn refit_logged(db: &Db, store: StoreId) -> Option<RefitReport> {
    match db.refit_store(store).await {
        Ok(r) => {
            tracing::info!(
                store = %r.store_id,
                customers = r.customers,
                repeat_buyers = r.repeat_buyers,
                fitted = r.fitted,
                failure = r.failure.as_deref().unwrap_or(""),
                written = r.written,
                cleared = r.cleared,
                duration_ms = r.duration_ms,
                "analytics refit"
            );
            Some(r)
        }
        Err(e) => {
            tracing::warn!(store = %store, error = %e, "analytics refit failed");
            None
        }
    }
}
