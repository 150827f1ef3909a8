//! Webhook deliveries seen, so a delivery repeated by the shop is applied once.

use regulars_domain::{Source, StoreId, Timestamp};
use sea_query::{OnConflict, Query};

use crate::schema::WebhookDeliveries;
use crate::{StoreError, Tx};

impl Tx {
    /// Records a delivery id inside the transaction that applies it. Returns false when the
    /// delivery was already applied; with the store lock held, concurrent copies of one delivery
    /// queue here and all but the first see false.
    pub async fn claim_delivery(
        &mut self,
        store: StoreId,
        source: Source,
        delivery_id: &str,
        topic: &str,
    ) -> Result<bool, StoreError> {
        self.lock_store(store).await?;
        let q = Query::insert()
            .into_table(WebhookDeliveries::Table)
            .columns([
                WebhookDeliveries::StoreId,
                WebhookDeliveries::Source,
                WebhookDeliveries::DeliveryId,
                WebhookDeliveries::Topic,
                WebhookDeliveries::ReceivedAt,
            ])
            .values_panic([
                store.to_string().into(),
                source.as_str().into(),
                delivery_id.into(),
                topic.into(),
                Timestamp::now().0.into(),
            ])
            .on_conflict(
                OnConflict::columns([
                    WebhookDeliveries::StoreId,
                    WebhookDeliveries::Source,
                    WebhookDeliveries::DeliveryId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .to_owned();
        Ok(self.execute(&q).await? == 1)
    }
}

impl crate::Db {
    /// Forgets finished idempotency replies and webhook delivery ids older than `ttl`: by then
    /// no client or shop retries them. Returns how many rows were removed.
    pub async fn prune_replay_records(&self, ttl: std::time::Duration) -> Result<u64, StoreError> {
        let cutoff = Timestamp::now().0 - i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let keys = Query::delete()
            .from_table(crate::schema::IdempotencyKeys::Table)
            .and_where(sea_query::Expr::col(crate::schema::IdempotencyKeys::State).eq("done"))
            .and_where(sea_query::Expr::col(crate::schema::IdempotencyKeys::CreatedAt).lt(cutoff))
            .to_owned();
        // Shops retry a delivery for up to two days: keep its id for a week whatever the TTL.
        let week = 7 * 24 * 3600 * 1000;
        let deliveries = Query::delete()
            .from_table(WebhookDeliveries::Table)
            .and_where(
                sea_query::Expr::col(WebhookDeliveries::ReceivedAt).lt(cutoff.min(Timestamp::now().0 - week)),
            )
            .to_owned();
        Ok(self.execute(&keys).await? + self.execute(&deliveries).await?)
    }
}
