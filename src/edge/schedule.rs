//! The shell's side of scheduled triggers: the `TriggerSchedule` Durable Object, one per scheduled
//! trigger, whose alarm wakes at each due minute, and the `Alarms` port that arms it. It decides
//! nothing: when it is due comes from `schedules::next_due`, what firing does from
//! `schedules::fire`, with the app built as the worker builds it.

use super::ObjectNamespace;
use crate::ports::{Alarms, LocalFuture};
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, State};

/// What the alarm is armed with (storage key `armed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Armed {
    trigger: String,
    cron: String,
    /// The start of the minute the alarm is set for.
    due_ms: u64,
    /// When it was armed with this expression.
    #[serde(default)]
    armed_ms: u64,
}

/// What the port sends: arm with `cron`, or disarm.
#[derive(Debug, Serialize, Deserialize)]
struct Plan {
    trigger: String,
    cron: Option<String>,
}

#[durable_object]
pub struct TriggerSchedule {
    state: State,
    env: Env,
}

impl DurableObject for TriggerSchedule {
    fn new(state: State, env: Env) -> Self {
        TriggerSchedule { state, env }
    }

    async fn fetch(&self, mut req: worker::Request) -> worker::Result<worker::Response> {
        let plan: Plan = serde_json::from_slice(req.text().await?.as_bytes())
            .map_err(|e| worker::Error::RustError(crate::error::json_error(&e)))?;
        let storage = self.state.storage();
        let now = worker::Date::now().as_millis();
        let current = storage.get::<Armed>("armed").await?;
        match plan.cron {
            // Armed already with this expression (the daily re-arming): the alarm stays as it is,
            // so a minute due before it fires is not skipped.
            Some(cron) if current.as_ref().is_some_and(|armed| armed.cron == cron && armed.trigger == plan.trigger) => {
                // An alarm that was lost is set again, for its minute if that is not past.
                if let (None, Some(armed)) = (storage.get_alarm().await?, current) {
                    match crate::schedules::after_firing(&armed.cron, armed.due_ms.saturating_sub(60_000), now) {
                        Some(due_ms) => {
                            storage.put("armed", Armed { due_ms, ..armed }).await?;
                            storage.set_alarm(offset(due_ms, now)).await?;
                        }
                        None => disarm(&storage).await?,
                    }
                }
            }
            Some(cron) => match crate::schedules::next_due(&cron, now) {
                Some(due_ms) => {
                    storage.put("armed", Armed { trigger: plan.trigger, cron, due_ms, armed_ms: now }).await?;
                    storage.set_alarm(offset(due_ms, now)).await?;
                }
                None => disarm(&storage).await?,
            },
            None => disarm(&storage).await?,
        }
        worker::Response::empty()
    }

    async fn alarm(&self) -> worker::Result<worker::Response> {
        let storage = self.state.storage();
        let Some(armed) = storage.get::<Armed>("armed").await? else { return worker::Response::empty() };
        // Misconfigured, or storage failed: the error makes the platform retry the alarm, and the
        // ledger keeps a retried minute from firing twice.
        let app = super::configured_app(&self.env).ok_or_else(|| worker::Error::RustError("misconfigured".into()))?;
        let now = worker::Date::now().as_millis();
        let next = crate::schedules::wake(&app, &armed.trigger, &armed.cron, armed.due_ms, armed.armed_ms, now)
            .await
            .map_err(|error| worker::Error::RustError(error.for_the_log()))?;
        // Requests ran while it fired: a trigger deleted or changed meanwhile has its own plan now.
        if storage.get::<Armed>("armed").await?.as_ref() != Some(&armed) {
            return worker::Response::empty();
        }
        match next {
            Some(due_ms) => {
                storage.put("armed", Armed { due_ms, ..armed }).await?;
                storage.set_alarm(offset(due_ms, worker::Date::now().as_millis())).await?;
            }
            None => disarm(&storage).await?,
        }
        worker::Response::empty()
    }
}

async fn disarm(storage: &worker::Storage) -> worker::Result<()> {
    storage.delete_alarm().await?;
    storage.delete_all().await
}

/// `set_alarm` takes an `i64` as milliseconds from now, not as a time.
fn offset(due_ms: u64, now_ms: u64) -> i64 {
    due_ms.saturating_sub(now_ms) as i64
}

/// The `Alarms` port on the `SCHEDULES` namespace: one object per scheduled trigger, by its id.
pub struct DurableAlarms(pub ObjectNamespace);

impl DurableAlarms {
    async fn call(&self, plan: Plan) -> Result<(), String> {
        let body = serde_json::to_string(&plan).map_err(|e| e.to_string())?;
        match self.0.post(&plan.trigger, "https://schedule/", &body).await?.0 {
            200..=299 => Ok(()),
            status => Err(format!("the schedule object answered {status}")),
        }
    }
}

impl Alarms for DurableAlarms {
    fn set<'a>(&'a self, trigger_id: &'a str, cron: Option<&'a str>) -> LocalFuture<'a, Result<(), String>> {
        Box::pin(self.call(Plan { trigger: trigger_id.to_string(), cron: cron.map(str::to_string) }))
    }
}
