//! Order signals (IP address, device, shipping address, card) kept as keyed hashes: enough to
//! tell that two orders share one, never enough to read it back.

use hmac::{Hmac, Mac};
use regulars_domain::{OrderSignals as Signals, StoreId};
use sea_query::{OnConflict, Query};
use sha2::Sha256;

use super::OrderSignals;
use crate::{StoreError, Tx, CHUNK};

pub(crate) const IP: &str = "ip";
pub(crate) const DEVICE: &str = "device";
pub(crate) const ADDRESS: &str = "address";
pub(crate) const PAYMENT: &str = "payment";

/// The kinds kept per order: what an advocate's past orders must answer for (the same address,
/// the same card). IP addresses and devices only count in bursts and are kept on the referral.
pub(crate) const KEPT: [&str; 2] = [ADDRESS, PAYMENT];

/// The keyed hash of one signal value: HMAC-SHA256 under the store's signal key, with the
/// kind mixed in so equal text of different kinds never matches.
pub(crate) fn hash(key: &str, kind: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(kind.as_bytes());
    mac.update(b"\0");
    mac.update(value.trim().to_lowercase().as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The hashed signals of one order, by kind.
pub(crate) fn hashed(key: &str, s: &Signals) -> Vec<(&'static str, String)> {
    [
        (IP, s.browser_ip.as_deref()),
        (DEVICE, s.device.as_deref()),
        (ADDRESS, s.shipping_address.as_deref()),
        (PAYMENT, s.payment_fingerprint.as_deref()),
    ]
    .into_iter()
    .filter_map(|(kind, v)| {
        let v = v?.trim();
        (!v.is_empty()).then(|| (kind, hash(key, kind, v)))
    })
    .collect()
}

/// One order's signal row, before writing.
pub(crate) struct SignalRow<'a> {
    pub order_id: &'a str,
    pub customer_id: Option<&'a str>,
    pub kind: &'static str,
    pub hash: String,
}

pub(crate) async fn write(tx: &mut Tx, store: StoreId, rows: &[SignalRow<'_>]) -> Result<(), StoreError> {
    for chunk in rows.chunks(CHUNK) {
        let mut q = Query::insert();
        q.into_table(OrderSignals::Table)
            .columns([
                OrderSignals::OrderId,
                OrderSignals::Kind,
                OrderSignals::StoreId,
                OrderSignals::CustomerId,
                OrderSignals::ValueHash,
            ])
            .on_conflict(
                OnConflict::columns([OrderSignals::OrderId, OrderSignals::Kind])
                    .update_columns([OrderSignals::CustomerId, OrderSignals::ValueHash])
                    .to_owned(),
            );
        for r in chunk {
            q.values_panic([
                r.order_id.into(),
                r.kind.into(),
                store.to_string().into(),
                r.customer_id.map(str::to_string).into(),
                r.hash.clone().into(),
            ]);
        }
        tx.execute(&q).await?;
    }
    Ok(())
}
