//! Test support for native tests and benchmarks (never in the wasm build): an app on an in-memory
//! store and a scripted outbound, with typed handles on both so that tests can script answers and
//! read what was stored and sent.

use crate::auth::AdminDirectory;
use crate::context::App;
use crate::http::{Request, Response};
use crate::ledger::MemoryLedger;
use crate::outbound::ScriptedOutbound;
use crate::ports::{Clock, MemoryAlarms, MemoryAnalytics, MemoryLog, Queue, Random, Unlimited};
use crate::settings::Settings;
use crate::store::MemoryStore;
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
    /// The app on in-memory ports, with the parts tests vary: the clock, the randomness, the
    /// queue and the admins. No rate limit and default settings; a test changes either through
    /// `DerefMut` (`app.limiter = ...`).
    pub fn new(
        clock: Box<dyn Clock>,
        random: Box<dyn Random>,
        queue: Box<dyn Queue>,
        admins: AdminDirectory,
    ) -> TestApp {
        let store = Rc::new(MemoryStore::new());
        let outbound = Rc::new(ScriptedOutbound::new());
        let log = Rc::new(MemoryLog::default());
        let ledger = Rc::new(MemoryLedger::default());
        let alarms = Rc::new(MemoryAlarms::default());
        let analytics = Rc::new(MemoryAnalytics::default());
        let app = App {
            store: Box::new(store.clone()),
            outbound: Box::new(outbound.clone()),
            clock,
            random,
            queue,
            admins,
            limiter: Box::new(Unlimited),
            log: Box::new(log.clone()),
            ledger: Box::new(ledger.clone()),
            refusals: Box::new(crate::ledger::MemoryRefusals::default()),
            alarms: Box::new(alarms.clone()),
            assets: Box::new(repository_assets()),
            analytics: Box::new(analytics.clone()),
            settings: Settings::default(),
        };
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
