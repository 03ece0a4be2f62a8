//! Test support for native tests and benchmarks (never in the wasm build): an app on an in-memory
//! store and a scripted outbound, with typed handles on both so that tests can script answers and
//! read what was stored and sent.

use crate::context::App;
use crate::http::{Request, Response};
use crate::ledger::{LedgerPort, MemoryLedger};
use crate::outbound::{Outbound, ScriptedOutbound};
use crate::ports::{Log, MemoryLog};
use crate::store::{MemoryStore, Store};
use std::rc::Rc;

/// An `App` (through `Deref`) whose store and outbound are also reachable as what they are.
pub struct TestApp {
    pub app: App,
    pub store: Rc<MemoryStore>,
    pub outbound: Rc<ScriptedOutbound>,
    /// Every line the app logged.
    pub log: Rc<MemoryLog>,
    /// The per-target ledger, in memory.
    pub ledger: Rc<MemoryLedger>,
    /// The scheduled triggers' alarms, in memory (whatever `build` set is replaced by these).
    pub alarms: Rc<crate::ports::MemoryAlarms>,
    /// Every Analytics Engine data point the app wrote.
    pub analytics: Rc<crate::ports::MemoryAnalytics>,
}

/// The repository's static files, as `scripts/build.sh` lays them out under `build/assets`.
pub fn repository_assets() -> crate::ports::MemoryAssets {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut assets = crate::ports::MemoryAssets::default();
    for (path, source) in crate::admin::ASSET_SOURCES {
        if let Ok(bytes) = std::fs::read(root.join(source)) {
            assets.files.insert(path.to_string(), bytes);
        }
    }
    assets
}

impl TestApp {
    /// `build` makes the app from the in-memory store, scripted outbound, log and ledger it is
    /// handed.
    pub fn new(
        build: impl FnOnce(Box<dyn Store>, Box<dyn Outbound>, Box<dyn Log>, Box<dyn LedgerPort>) -> App,
    ) -> TestApp {
        let store = Rc::new(MemoryStore::new());
        let outbound = Rc::new(ScriptedOutbound::new());
        let log = Rc::new(MemoryLog::default());
        let ledger = Rc::new(MemoryLedger::default());
        let app =
            build(Box::new(store.clone()), Box::new(outbound.clone()), Box::new(log.clone()), Box::new(ledger.clone()));
        let alarms = Rc::new(crate::ports::MemoryAlarms::default());
        let mut app = app;
        app.alarms = Box::new(alarms.clone());
        app.assets = Box::new(repository_assets());
        let analytics = Rc::new(crate::ports::MemoryAnalytics::default());
        app.analytics = Box::new(analytics.clone());
        TestApp { app, store, outbound, log, ledger, alarms, analytics }
    }

    /// Answers one request through the router.
    pub async fn handle(&self, request: Request) -> Response {
        crate::router::handle(&self.app, request).await
    }
}

impl std::ops::Deref for TestApp {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

impl std::ops::DerefMut for TestApp {
    fn deref_mut(&mut self) -> &mut App {
        &mut self.app
    }
}
