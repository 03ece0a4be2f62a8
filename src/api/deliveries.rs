//! `/api/v1/triggers/{id}/deliveries`, `/api/v1/deliveries/{id}` and its `/replay`: what happened
//! to each call, and sending one again. Records hold no credential (see `model/delivery.rs`).

use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::model::{Delivery, DeliveryState, Payload};
use crate::time::format_rfc3339;
use serde_json::{json, Value};

/// A delivery as the API shows it. Its `call.payload` has the payload's `size` and `sha256`; in a
/// list, nothing else (the body is read through `GET /api/v1/deliveries/{id}`).
fn delivery_view(delivery: &Delivery) -> Value {
    let mut view = serde_json::to_value(delivery).unwrap_or_default();
    if let Some(fields) = view.as_object_mut() {
        fields.remove("payload_digest");
    }
    let digest = delivery.payload_digest.clone().or_else(|| delivery.call.payload.as_ref().map(Payload::digest));
    if let Some(digest) = digest {
        let mut parts = digest.splitn(3, ' ');
        let shown = &mut view["call"]["payload"];
        shown["size"] = parts.next().and_then(|size| size.parse::<u64>().ok()).into();
        shown["sha256"] = parts.next().into();
        shown["content_type"] = parts.next().into();
    }
    view["at"] = format_rfc3339(delivery.at).into();
    if let Some(notification) = &delivery.notification {
        view["notification"]["at"] = format_rfc3339(notification.at).into();
    }
    if let Some(Value::Array(attempts)) = view.get_mut("attempts") {
        for (shown, attempt) in attempts.iter_mut().zip(&delivery.attempts) {
            shown["at"] = format_rfc3339(attempt.at).into();
        }
    }
    view
}

/// Newest first, `?limit=` (at most 100) per page, and at most `ledger::PAGE_BYTES` of records
/// (payloads are left out: their digest stands for them); `?cursor=` continues where `cursor`
/// said. `?state=` lists only the deliveries in that state (the ledger filters, so a page is full
/// while more remain).
pub async fn list(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let wanted = ctx
        .request
        .query_field("state")
        .map(|state| serde_json::from_value::<DeliveryState>(Value::String(state)))
        .transpose()
        .map_err(|_| Error::bad_request("state must be one of pending, delivered, failed, dead, superseded"))?;
    let catalog = app.catalog();
    let trigger = catalog.find_trigger(ctx.param("id")).await?;
    let (limit, cursor) = super::page_params(ctx)?;
    let (deliveries, cursor) = catalog.deliveries(&trigger, wanted, cursor.as_deref(), limit).await?;
    let views: Vec<Value> = deliveries.iter().map(delivery_view).collect();
    Ok(Response::json(200, &json!({"deliveries": views, "cursor": cursor})))
}

pub async fn get(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let delivery = app.catalog().find_delivery(ctx.param("id")).await?;
    Ok(Response::json(200, &delivery_view(&delivery)))
}

/// A new delivery of the same call, linked by `replay_of` and tried at once: 201 when it is
/// settled (delivered or failed), 202 while it waits for a retry.
pub async fn replay(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let delivery = crate::relay::replay(app, ctx.param("id"), crate::loops::incoming(&ctx.request)).await?;
    let status = if delivery.state == DeliveryState::Pending { 202 } else { 201 };
    Ok(Response::json(status, &delivery_view(&delivery)))
}
