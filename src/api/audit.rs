//! `/api/v1/audit`: every admin mutation, newest first. Entries hold routes and ids, never secrets.

use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;

/// The stored entries are served as they are stored: `{"entries": [...], "cursor": ...}`.
pub async fn list(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let (limit, cursor) = super::page_params(ctx)?;
    let (entries, cursor) = app.catalog().audit_page(cursor.as_deref(), limit).await?;
    let cursor = serde_json::to_string(&cursor).unwrap_or_else(|_| "null".into());
    let body = format!(r#"{{"entries":[{}],"cursor":{cursor}}}"#, entries.join(","));
    Ok(Response {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into_bytes(),
    })
}
