//! The native admin API (`/api/v1`), JSON in and out. Thin: parse, call the catalog, shape views.

pub mod admin;
pub mod audit;
pub mod deliveries;
pub mod registries;
pub mod stats;
pub mod targets;
pub mod triggers;

use crate::context::Ctx;
use crate::error::Error;

const DEFAULT_PAGE: usize = 20;
const MAX_PAGE: usize = 100;

/// A listing's `?limit=` (1 to 100, default 20) and `?cursor=`.
pub fn page_params(ctx: &Ctx) -> Result<(usize, Option<String>), Error> {
    page_params_upto(ctx, MAX_PAGE)
}

/// The same, for a listing of at most `max` (and by default 20, or `max` if fewer).
pub fn page_params_upto(ctx: &Ctx, max: usize) -> Result<(usize, Option<String>), Error> {
    let query = ctx.request.query_pairs();
    let field = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let limit = match field("limit") {
        None => DEFAULT_PAGE.min(max),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Error::bad_request(format!("limit must be a number from 1 to {max}")))?,
    };
    // A cursor is the store's or the ledger's own token, far shorter than this; a longer one was
    // never handed out, and is refused before it reaches either.
    let cursor = field("cursor");
    if cursor.as_ref().is_some_and(|cursor| cursor.len() > MAX_CURSOR_BYTES) {
        return Err(Error::bad_request("cursor is not one this listing gave"));
    }
    Ok((limit, cursor))
}

const MAX_CURSOR_BYTES: usize = 1024;
