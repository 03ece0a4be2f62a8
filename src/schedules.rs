//! Scheduled triggers: the worker's own Cron Trigger calls `run` every minute. Each enabled
//! schedule that is due that minute is queued once: a per-minute KV marker keeps two overlapping
//! runs (or a platform retry) from firing it twice. No `worker` import.
//!
//! KV cost per minute: one listing of the schedule index (the cron expressions are in its key
//! names, so nothing else is read); per due schedule, the marker (1 read, 1 write) and the trigger
//! (1 read), then its delivery as any other (`relay`).

use crate::context::App;
use crate::cron::Cron;
use crate::error::Error;
use crate::model::{Call, Trigger};
use crate::relay;
use crate::time::format_rfc3339;

/// Queues every schedule due in the minute of `at_ms`; returns the ids of the triggers queued.
pub async fn run(app: &App, at_ms: u64) -> Result<Vec<String>, Error> {
    let minute = at_ms / 60_000;
    let mut fired = Vec::new();
    let catalog = app.catalog();
    for (trigger_id, cron) in catalog.schedules().await? {
        if !Cron::parse(&cron).is_ok_and(|cron| cron.is_due(at_ms)) {
            continue;
        }
        if !catalog.claim_schedule_minute(&trigger_id, minute).await? {
            continue;
        }
        let Ok(trigger) = catalog.find_trigger(&trigger_id).await else { continue };
        if !trigger.is_live(at_ms) {
            continue;
        }
        let delivery = relay::new_delivery(app, &trigger.id, &trigger.target, scheduled_call(&trigger, minute));
        relay::enqueue(app, &delivery, 0).await?;
        fired.push(trigger.id);
    }
    Ok(fired)
}

/// What a schedule runs: its ref and variables over the trigger's, and when it was due.
fn scheduled_call(trigger: &Trigger, minute: u64) -> Call {
    let source = trigger.source.as_ref().and_then(|source| source.as_schedule()).cloned().unwrap_or_default();
    let mut variables = trigger.variables.clone();
    variables.extend(source.variables);
    variables.insert("HOOKRELAY_EVENT".into(), "schedule".into());
    variables.insert("HOOKRELAY_SCHEDULED_AT".into(), format_rfc3339(minute * 60_000));
    let ref_name = source.ref_name.or_else(|| trigger.pinned_ref.clone()).unwrap_or_default();
    // No event ref: the ref it runs is its branch, or its tag when it names one.
    let facts = crate::model::EventFacts::new("", &ref_name, None, "", "");
    Call { ref_name, variables, facts: Some(facts), workload: trigger.workload.clone(), ..Call::default() }
}
