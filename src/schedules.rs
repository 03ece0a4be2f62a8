//! Scheduled triggers. Each has an alarm of its own (a `TriggerSchedule` Durable Object at the
//! edge, through the `Alarms` port), armed with its cron expression when the trigger is created or
//! changed and disarmed when it is deleted. The alarm wakes at each due minute and calls `fire`;
//! the minute is a replay id in the target's ledger, so a repeated alarm (the platform retries a
//! failed one) fires it once. Nothing lists the schedules every minute: the Cron Trigger runs
//! once a day (`rearm_all`, one KV listing) to re-arm every alarm, in case one was lost.
//! No `worker` import.
//!
//! Cost per firing: KV 2 reads (the trigger, to see it is live, and its target), then its
//! delivery as any other (`relay`).

use crate::context::App;
use crate::cron::Cron;
use crate::error::Error;
use crate::model::{Call, Trigger};
use crate::relay;
use crate::time::format_rfc3339;

/// The start of the first due minute of `cron` strictly after `after_ms`; `None` for an
/// expression that never comes due (or does not parse).
pub fn next_due(cron: &str, after_ms: u64) -> Option<u64> {
    Cron::parse(cron).ok()?.next_after(after_ms)
}

/// Where the alarm goes after firing (or skipping) the minute `due_ms`: the next due minute after
/// it, or, if the alarm woke more than a minute late, the first due minute from the one before
/// now on (the minutes in between are not fired late).
pub fn after_firing(cron: &str, due_ms: u64, now_ms: u64) -> Option<u64> {
    next_due(cron, due_ms.max(now_ms.saturating_sub(60_000)))
}

/// Arms `trigger`'s alarm when it is a schedule; disarms it otherwise. Called after every write
/// of a scheduled trigger.
pub async fn arm(app: &App, trigger: &Trigger) -> Result<(), Error> {
    let cron = trigger.source.as_ref().and_then(|source| source.as_schedule()).map(|schedule| schedule.cron.as_str());
    app.alarms.set(&trigger.id, cron).await.map_err(|why| Error::Store(format!("the alarm of {}: {why}", trigger.id)))
}

/// Disarms the alarm of a deleted trigger.
pub async fn disarm(app: &App, trigger: &Trigger) -> Result<(), Error> {
    if trigger.source.as_ref().is_some_and(|source| source.is_schedule()) {
        app.alarms
            .set(&trigger.id, None)
            .await
            .map_err(|why| Error::Store(format!("the alarm of {}: {why}", trigger.id)))?;
    }
    Ok(())
}

/// Re-arms every scheduled trigger's alarm (the daily Cron Trigger): one listing of the schedule
/// index. Returns how many.
pub async fn rearm_all(app: &App) -> Result<usize, Error> {
    let schedules = app.catalog().schedules().await?;
    for (trigger_id, cron) in &schedules {
        app.alarms
            .set(trigger_id, Some(cron))
            .await
            .map_err(|why| Error::Store(format!("the alarm of {trigger_id}: {why}")))?;
    }
    Ok(schedules.len())
}

/// Fires scheduled trigger `trigger_id` for the minute of `at_ms`, once: the minute is its replay
/// id in the target's ledger, so a second run for that minute (an overlapping one, a platform
/// retry) is a repeat. `false` when it did not fire (gone, disabled, or fired already).
pub async fn fire(app: &App, trigger_id: &str, at_ms: u64) -> Result<bool, Error> {
    let minute = at_ms / 60_000;
    let catalog = app.catalog();
    let Some(trigger) = catalog.trigger_by_id(trigger_id).await? else { return Ok(false) };
    if !trigger.is_live(at_ms) {
        return Ok(false);
    }
    let Some(target) = catalog.target_by_id(&trigger.target).await? else { return Ok(false) };
    let delivery = relay::new_delivery(app, &trigger.id, &target.id, scheduled_call(&trigger, minute));
    let cause = relay::event(vec![format!("schedule|{}|{minute}", trigger.id)]);
    let answers =
        relay::queue_arrivals(app, &target.id, vec![relay::arrival(&target, &trigger, delivery, cause)]).await?;
    Ok(answers.iter().any(|answer| matches!(answer.accepted, crate::ledger::Accepted::New { .. })))
}

/// How long after its alarm was armed a trigger that cannot be read counts as deleted (KV may not
/// show a new trigger in the alarm's location for up to a minute).
const GONE_AFTER_MS: u64 = 5 * 60 * 1000;

/// What an alarm armed at `armed_ms` for `trigger_id` does when it wakes for the minute `due_ms`:
/// fires it, then says when to wake next; `None` when it never should again (the trigger was
/// deleted, and its disarming was lost) or the expression never comes due again.
pub async fn wake(
    app: &App,
    trigger_id: &str,
    cron: &str,
    due_ms: u64,
    armed_ms: u64,
    now_ms: u64,
) -> Result<Option<u64>, Error> {
    let fired = fire(app, trigger_id, due_ms).await?;
    if !fired && now_ms > armed_ms + GONE_AFTER_MS && app.catalog().trigger_by_id(trigger_id).await?.is_none() {
        return Ok(None);
    }
    Ok(after_firing(cron, due_ms, now_ms))
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
