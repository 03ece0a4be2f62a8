//! `/api/v1/admin/rotate`: re-seals every credential record under the newest `ENCRYPTION_KEY`.

use crate::app::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::outbound::Outbound;
use crate::sealed::SEALED_PREFIXES;
use crate::store::Store;
use serde_json::json;

/// Reads each sealed record (any known key opens it) and writes it back (the newest key seals it).
pub async fn rotate<S: Store, O: Outbound>(app: &App<S, O>, _ctx: &Ctx) -> Result<Response, Error> {
    let mut rewritten = 0;
    for prefix in SEALED_PREFIXES {
        for key in app.store.list_all(prefix).await? {
            if let Some(record) = app.store.get(&key).await? {
                app.store.put(&key, &record, None).await?;
                rewritten += 1;
            }
        }
    }
    Ok(Response::json(200, &json!({"rewritten": rewritten})))
}
