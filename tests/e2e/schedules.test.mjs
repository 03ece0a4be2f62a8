// Scheduled triggers end to end: creating one arms its own Durable Object's alarm
// (TriggerSchedule), which wakes at each due minute in workerd and fires it through the target's
// ledger; the queue delivers it to a mock on 127.0.0.1. No Cron Trigger runs every minute.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withWorkerAndMock, waitFor } from "./harness.mjs";

const env = withWorkerAndMock({ status: 201, json: { id: 1 } });

test("an every-minute schedule fires at the next minute from its alarm, and stops when deleted", { timeout: 200_000 }, async () => {
  await env.worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "nightly", kind: "http", url: `${env.target.url}/nightly` } });
  const created = await env.worker.call("POST", "/api/v1/triggers", {
    as: "alice",
    json: { target: "nightly", source: { kind: "schedule", cron: "* * * * *", ref: "main", variables: { NIGHTLY: "1" } } },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.kind, "schedule");
  // The daily Cron Trigger only re-arms alarms: it fires nothing itself.
  await env.worker.scheduled(Date.now());
  const fired = () => env.target.received.filter((r) => r.rawPath === "/nightly");
  await waitFor(() => fired().length >= 1, { timeoutMs: 75_000, what: "the alarm at the next minute" });
  const call = JSON.parse(fired()[0].body);
  assert.equal(call.ref, "main");
  assert.equal(call.variables.NIGHTLY, "1");
  assert.equal(call.variables.HOOKRELAY_EVENT, "schedule");
  const scheduledAt = Date.parse(call.variables.HOOKRELAY_SCHEDULED_AT);
  assert.equal(scheduledAt % 60_000, 0, "a minute's start");
  const deliveries = (await env.worker.call("GET", `/api/v1/triggers/${created.body.id}/deliveries`, { as: "alice" })).body.deliveries;
  assert.equal(deliveries.length, 1, "once for its minute");
  assert.equal(deliveries[0].state, "delivered");

  assert.equal((await env.worker.call("DELETE", `/api/v1/triggers/${created.body.id}`, { as: "alice" })).status, 204);
  const before = fired().length;
  const nextMinute = scheduledAt + 60_000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextMinute - Date.now()) + 5_000));
  assert.equal(fired().length, before, "disarmed: nothing at the next minute");
});

test("an invalid cron expression gets 400 naming the field", async () => {
  const refused = await env.worker.call("POST", "/api/v1/triggers", {
    as: "alice", json: { target: "nightly", source: { kind: "schedule", cron: "0 25 * * *" } },
  });
  assert.equal(refused.status, 400);
  assert.match(refused.body.message, /the hour field '25'/);
});
