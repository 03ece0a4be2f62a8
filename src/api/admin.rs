//! `/api/v1/admin/rotate`: re-seals every credential record under the newest `ENCRYPTION_KEY`.

use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use serde_json::json;

/// Reads each sealed record (any known key opens it) and writes it back (the newest key seals it).
pub async fn rotate(app: &App, _ctx: &Ctx) -> Result<Response, Error> {
    let rewritten = app.catalog().reseal_all().await?;
    Ok(Response::json(200, &json!({"rewritten": rewritten})))
}
