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
                OnConflict::columns([WebhookDeliveries::StoreId, WebhookDeliveries::Source, WebhookDeliveries::DeliveryId])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        Ok(self.execute(&q).await? == 1)
    }
}
