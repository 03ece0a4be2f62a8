//! Delivery records in the catalog: one write per attempt, a page of a trigger's newest, one by id,
//! and a trigger's last use. No `worker` import; records hold no credential (see `model/delivery.rs`).

use super::Catalog;
use crate::error::Error;
use crate::model::delivery::{delivery_stamp, stamp_time};
use crate::model::{Call, Delivery};
use crate::store::keys;

impl<'a> Catalog<'a> {
    /// Records a delivery as it stands (one write, kept for `DELIVERY_TTL_SECONDS`).
    pub async fn record_delivery(&self, delivery: &Delivery) -> Result<(), Error> {
        let Some((trigger, stamp)) = Delivery::split_id(&delivery.id) else {
            return Err(Error::Store(format!("delivery id '{}' is malformed", delivery.id)));
        };
        let text = serde_json::to_string(delivery).map_err(|err| Error::Store(err.to_string()))?;
        self.store.put(&keys::delivery(trigger, stamp), &text, Some(self.delivery_ttl_seconds)).await
    }

    /// A new, pending delivery. One clock reading makes both its time and its stamp (newest first,
    /// unique within a millisecond), so `last_used`, read from the stamp, is the delivery's time.
    pub fn new_delivery(&self, trigger_id: &str, target_id: &str, call: Call) -> Delivery {
        let mut random = [0u8; 4];
        self.random.fill(&mut random);
        let now = self.clock.now_ms();
        Delivery::new(trigger_id, target_id, &delivery_stamp(now, random), call, now)
    }

    /// A page of a trigger's deliveries, newest first: at most `limit`, from `cursor` on, and the
    /// cursor of the next page. A record that expired between the listing and its read is skipped.
    pub async fn deliveries(
        &self,
        trigger_id: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Delivery>, Option<String>), Error> {
        let page = self.store.list(&keys::delivery_prefix(trigger_id), cursor, limit).await?;
        let mut deliveries = Vec::new();
        for key in &page.keys {
            if let Some(delivery) = self.store.get_json::<Delivery>(key).await? {
                deliveries.push(delivery);
            }
        }
        Ok((deliveries, page.cursor))
    }

    /// When the trigger last fired: its newest delivery's stamp tells (one listing, no read, and no
    /// write on the hot path). GitLab's `last_used` comes from here.
    pub async fn last_used(&self, trigger_id: &str) -> Result<Option<u64>, Error> {
        let page = self.store.list(&keys::delivery_prefix(trigger_id), None, 1).await?;
        Ok(page.keys.first().and_then(|key| key.rsplit(':').next()).and_then(stamp_time))
    }

    /// One delivery, by its id (one read: the key is derived from the id).
    pub async fn find_delivery(&self, id: &str) -> Result<Delivery, Error> {
        let missing = || Error::not_found(format!("no delivery '{id}'"));
        let (trigger, stamp) = Delivery::split_id(id).ok_or_else(missing)?;
        self.store.get_json(&keys::delivery(trigger, stamp)).await?.ok_or_else(missing)
    }
}
