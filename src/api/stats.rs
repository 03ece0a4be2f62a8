//! `/api/v1/triggers/{id}/stats` and `/api/v1/stats`: what the triggers did, hour by hour, over
//! the last `?hours=` (1 to 168, default 24). The counts live in each target's ledger
//! (`ledger::stats`); a trigger's come from its target's object in one request, the overview's from
//! one request per target (at most 20 targets an answer), never from the deliveries themselves.

use crate::context::{App, Ctx};
use crate::error::Error;
use crate::http::Response;
use crate::ledger::stats::{hour_of, HourStats, StatsRow, HOUR_MS, KEPT_HOURS};
use crate::time::format_rfc3339;
use serde_json::{json, Value};

const DEFAULT_HOURS: u64 = 24;

/// `?hours=`: 1 to 168, default 24.
fn hours(ctx: &Ctx) -> Result<u64, Error> {
    match ctx.request.query_field("hours") {
        None => Ok(DEFAULT_HOURS),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=KEPT_HOURS).contains(n))
            .ok_or_else(|| Error::bad_request(format!("hours must be a number from 1 to {KEPT_HOURS}"))),
    }
}

/// The first hour of a window of `hours` ending with the current one.
fn first_hour(now_ms: u64, hours: u64) -> u64 {
    hour_of(now_ms) + 1 - hours
}

/// The hours of the window (empty ones too), oldest first, from `rows` (one trigger's), and their
/// sum.
fn hourly<'r>(rows: impl Iterator<Item = &'r StatsRow>, first: u64, hours: u64) -> (HourStats, Vec<Value>) {
    let mut by_hour = vec![HourStats::default(); hours as usize];
    for row in rows {
        if let Some(stats) = row.hour.checked_sub(first).and_then(|nth| by_hour.get_mut(nth as usize)) {
            stats.add(&row.stats);
        }
    }
    let mut totals = HourStats::default();
    let series = (first..first + hours)
        .zip(by_hour)
        .map(|(hour, stats)| {
            totals.add(&stats);
            let mut view = stats.summary();
            view.as_object_mut().map(|view| view.remove("success_rate"));
            view["hour"] = format_rfc3339(hour * HOUR_MS).into();
            view
        })
        .collect();
    (totals, series)
}

/// One trigger's counts: the totals, and every hour of the window (empty ones too), oldest first.
pub fn trigger_view(trigger: &str, rows: &[StatsRow], first: u64, hours: u64) -> Value {
    let (totals, series) = hourly(rows.iter().filter(|row| row.trigger == trigger), first, hours);
    json!({
        "trigger": trigger,
        "hours": hours,
        "from": format_rfc3339(first * HOUR_MS),
        "totals": totals.summary(),
        "series": series,
    })
}

/// Every trigger's totals over the window, failing ones first (failed and dead, then the lowest
/// success rate), and the totals of all; with `series`, each trigger's hours too (what the admin
/// page charts, in one request).
pub fn overview(rows: &[StatsRow], first: u64, hours: u64, series: bool) -> Value {
    let mut ranked = per_trigger(rows.iter().filter(|row| row.hour >= first));
    ranked.retain(|(_, stats)| !stats.is_empty());
    let mut totals = HourStats::default();
    for (_, stats) in &ranked {
        totals.add(stats);
    }
    crate::sorting::sort_by(&mut ranked, |(ta, a), (tb, b)| {
        (std::cmp::Reverse(a.failures()), a.success_permille(), ta).cmp(&(
            std::cmp::Reverse(b.failures()),
            b.success_permille(),
            tb,
        ))
    });
    let triggers: Vec<Value> = ranked
        .iter()
        .map(|(trigger, stats)| {
            let mut view = stats.summary();
            view["trigger"] = (*trigger).into();
            if series {
                view["series"] = hourly(rows.iter().filter(|row| row.trigger == *trigger), first, hours).1.into();
            }
            view
        })
        .collect();
    json!({
        "hours": hours,
        "from": format_rfc3339(first * HOUR_MS),
        "totals": totals.summary(),
        "triggers": triggers,
    })
}

/// The rows summed by trigger. The ledger lists them by trigger, so the trigger sought is nearly
/// always the last one met.
fn per_trigger<'r>(rows: impl Iterator<Item = &'r StatsRow>) -> Vec<(&'r str, HourStats)> {
    let mut sums: Vec<(&str, HourStats)> = Vec::new();
    for row in rows {
        match sums.iter_mut().rev().find(|(trigger, _)| *trigger == row.trigger) {
            Some((_, sum)) => sum.add(&row.stats),
            None => sums.push((&row.trigger, row.stats.clone())),
        }
    }
    sums
}

pub async fn trigger(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let hours = hours(ctx)?;
    let catalog = app.catalog();
    let trigger = catalog.find_trigger(ctx.param("id")).await?;
    let first = first_hour(app.clock.now_ms(), hours);
    let rows = catalog.stats(&trigger.target, Some(&trigger.id), first).await?;
    Ok(Response::json(200, &trigger_view(&trigger.id, &rows, first, hours)))
}

/// The most targets one answer of the overview reads: one ledger request each, after a KV listing
/// of the targets (one per 1,000), far below the platform's 50 subrequests; `cursor` names the rest.
pub const PAGE_TARGETS: usize = 20;

/// One request per target's ledger (sequentially; the KV key listing names the targets), for at
/// most [`PAGE_TARGETS`] targets, from `?cursor=` on. A ledger that cannot answer is named in
/// `unavailable` (and logged), and the rest is answered.
pub async fn all(app: &App, ctx: &Ctx) -> Result<Response, Error> {
    let hours = hours(ctx)?;
    let series = matches!(ctx.request.query_field("series").as_deref(), Some("1" | "true"));
    let catalog = app.catalog();
    let first = first_hour(app.clock.now_ms(), hours);
    let (mut rows, mut unavailable) = (Vec::new(), Vec::new());
    // The targets after `?cursor=` (the last target id of the answer before).
    let after = ctx.request.query_field("cursor").unwrap_or_default();
    let mut targets = catalog.target_ids().await?;
    targets.retain(|id| *id > after);
    let cursor = targets.get(PAGE_TARGETS).and(targets.get(PAGE_TARGETS - 1)).cloned();
    targets.truncate(PAGE_TARGETS);
    for target in targets {
        match catalog.stats(&target, None, first).await {
            Ok(found) => rows.extend(found),
            Err(error) => {
                app.log.line(json!({"type": "error", "what": "reading a target's statistics", "target": target,
                    "detail": error.for_the_log()}));
                unavailable.push(target);
            }
        }
    }
    let mut view = overview(&rows, first, hours, series);
    view["cursor"] = cursor.into();
    if !unavailable.is_empty() {
        view["unavailable"] = unavailable.into();
    }
    Ok(Response::json(200, &view))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::stats::Tally;
    use crate::model::DeliveryState;

    fn row(trigger: &str, hour: u64, tallies: &[Tally]) -> StatsRow {
        let mut stats = HourStats::default();
        for tally in tallies {
            stats.count(*tally);
        }
        StatsRow { trigger: trigger.into(), hour, stats }
    }

    const DELIVERED: Tally = Tally::Settled(DeliveryState::Delivered);
    const DEAD: Tally = Tally::Settled(DeliveryState::Dead);

    #[test]
    fn a_trigger_has_every_hour_of_the_window_oldest_first() {
        let rows = [row("t1", 100, &[DELIVERED, DELIVERED]), row("t1", 103, &[DEAD]), row("t1", 90, &[DEAD])];
        let view = trigger_view("t1", &rows, 100, 4);
        let series = view["series"].as_array().unwrap();
        assert_eq!(series.len(), 4);
        assert_eq!(series[0]["hour"], format_rfc3339(100 * HOUR_MS));
        assert_eq!(series.iter().map(|h| h["delivered"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 0, 0, 0]);
        assert_eq!(series.iter().map(|h| h["dead"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 0, 0, 1]);
        assert_eq!(view["totals"]["dead"], 1, "an hour before the window is not counted");
        assert_eq!(view["totals"]["success_rate"], 0.6666);
    }

    #[test]
    fn the_overview_puts_failing_triggers_first() {
        let rows = [
            row("healthy", 10, &[DELIVERED, DELIVERED]),
            row("flaky", 10, &[DELIVERED, DEAD]),
            row("broken", 10, &[DEAD, DEAD]),
            row("broken", 11, &[DEAD]),
            row("quiet", 10, &[]),
        ];
        let view = overview(&rows, 10, 24, true);
        assert_eq!(view["triggers"][0]["series"][1]["dead"], 1, "broken's second hour");
        let order: Vec<&str> =
            view["triggers"].as_array().unwrap().iter().map(|t| t["trigger"].as_str().unwrap()).collect();
        assert_eq!(order, ["broken", "flaky", "healthy"]);
        assert_eq!(view["totals"]["delivered"], 3);
        assert_eq!(view["totals"]["dead"], 4);
        assert_eq!(view["triggers"][0]["success_rate"], 0.0);
    }
}
