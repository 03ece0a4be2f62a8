//! The shell's side of the per-target ledger: the `TargetLedger` Durable Object (SQLite storage),
//! one per target, and the `Ledger` port that reaches it by the target's id. It decides nothing
//! the core has not said: a claim inserts its ids unless one was claimed within its window (72
//! hours for a webhook's replay ids, 24 for a token call's key), in one synchronous stretch of SQL, so two claims of one id, concurrent or from two
//! locations, cannot both succeed. Never logs an id's source: ids are hashes.

use crate::ports::{Claim, ClaimAnswer, Ledger, LedgerRequest, LocalFuture, REPLAY_MEMORY_MS};
use wasm_bindgen::JsValue;
use worker::{durable_object, DurableObject, Env, Method, ObjectNamespace, RequestInit, State};

#[durable_object]
pub struct TargetLedger {
    state: State,
}

impl DurableObject for TargetLedger {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Once per object instance: the schema.
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, label TEXT NOT NULL, at INTEGER NOT NULL)",
            None,
        );
        let _ = sql.exec("CREATE INDEX IF NOT EXISTS seen_at ON seen (at)", None);
        TargetLedger { state }
    }

    async fn fetch(&self, mut req: worker::Request) -> worker::Result<worker::Response> {
        let request: LedgerRequest =
            serde_json::from_str(&req.text().await?).map_err(|e| worker::Error::RustError(e.to_string()))?;
        // From here on no await: the object runs this whole stretch before any other request.
        let answer = match request {
            LedgerRequest::Claim(claim) => self.claim(&claim)?,
            LedgerRequest::Release { scope, ids } => {
                for id in &ids {
                    self.state
                        .storage()
                        .sql()
                        .exec("DELETE FROM seen WHERE id = ?", vec![format!("{scope}|{id}").into()])?;
                }
                ClaimAnswer::default()
            }
        };
        worker::Response::from_json(&answer)
    }
}

impl TargetLedger {
    fn claim(&self, claim: &Claim) -> worker::Result<ClaimAnswer> {
        let sql = self.state.storage().sql();
        let now = claim.now_ms as i64;
        // Nothing is remembered past the longest window.
        sql.exec("DELETE FROM seen WHERE at < ?", vec![(now - REPLAY_MEMORY_MS as i64).into()])?;
        let since = now - claim.window_ms as i64;
        for id in &claim.ids {
            // Raw rows rather than `to_array`: no serde-wasm-bindgen for one text column.
            let key = format!("{}|{id}", claim.scope);
            let cursor = sql.exec("SELECT label FROM seen WHERE id = ? AND at >= ?", vec![key.into(), since.into()])?;
            if let Some(row) = cursor.raw().next() {
                let label = match row?.into_iter().next() {
                    Some(worker::SqlStorageValue::String(label)) => label,
                    _ => String::new(),
                };
                return Ok(ClaimAnswer { first: Some(label) });
            }
        }
        for id in &claim.ids {
            sql.exec(
                "INSERT OR REPLACE INTO seen (id, label, at) VALUES (?, ?, ?)",
                vec![format!("{}|{id}", claim.scope).into(), claim.label.as_str().into(), now.into()],
            )?;
        }
        Ok(ClaimAnswer { first: None })
    }
}

/// The `Ledger` port on the `LEDGER` namespace: one object per target, named by its id.
pub struct DurableLedger(pub ObjectNamespace);

impl DurableLedger {
    async fn call(&self, target: &str, request: &LedgerRequest) -> Result<ClaimAnswer, String> {
        let body = serde_json::to_string(request).map_err(|e| e.to_string())?;
        let stub = self.0.id_from_name(target).and_then(|id| id.get_stub()).map_err(|e| e.to_string())?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
        let request = worker::Request::new_with_init("https://ledger/", &init).map_err(|e| e.to_string())?;
        let mut answer = stub.fetch_with_request(request).await.map_err(|e| e.to_string())?;
        if answer.status_code() != 200 {
            return Err(format!("the ledger answered {}", answer.status_code()));
        }
        let text = answer.text().await.map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }
}

impl Ledger for DurableLedger {
    fn claim<'a>(&'a self, target: &'a str, claim: &'a Claim) -> LocalFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move { Ok(self.call(target, &LedgerRequest::Claim(claim.clone())).await?.first) })
    }

    fn release<'a>(
        &'a self,
        target: &'a str,
        scope: &'a str,
        ids: &'a [String],
    ) -> LocalFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.call(target, &LedgerRequest::Release { scope: scope.into(), ids: ids.to_vec() }).await.map(|_| ())
        })
    }
}
