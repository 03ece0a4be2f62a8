// Scheduled triggers end to end: the worker's Cron Trigger, run through Miniflare's scheduled
// call, queues each due schedule once per minute; the queue delivers it to a mock on 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withWorkerAndMock, waitFor } from "./harness.mjs";

const env = withWorkerAndMock({ status: 201, json: { id: 1 } });

test("a nightly schedule fires once in its minute, even when run twice", async () => {
  await env.worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "nightly", kind: "http", url: `${env.target.url}/nightly` } });
  const created = await env.worker.call("POST", "/api/v1/triggers", {
    as: "alice",
    json: { target: "nightly", source: { kind: "schedule", cron: "30 0 * * *", ref: "main", variables: { NIGHTLY: "1" } } },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.kind, "schedule");

  const due = Date.parse("2026-11-23T00:30:00Z");
  await env.worker.scheduled(due);
  await env.worker.scheduled(due + 15_000); // the same minute again
  await env.worker.scheduled(due + 60_000); // 00:31: not due
  const [delivery] = (await env.worker.call("GET", `/api/v1/triggers/${created.body.id}/deliveries`, { as: "alice" })).body.deliveries;
  await env.worker.delivery(delivery.id);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const sent = env.target.received.filter((r) => r.rawPath === "/nightly");
  assert.equal(sent.length, 1, "once for the minute");
  const call = JSON.parse(sent[0].body);
  assert.equal(call.ref, "main");
  assert.equal(call.variables.NIGHTLY, "1");
  assert.equal(call.variables.HOOKRELAY_EVENT, "schedule");
  assert.equal(call.variables.HOOKRELAY_SCHEDULED_AT, "2026-11-23T00:30:00.000Z");

  await env.worker.scheduled(due + 86_400_000);
  await waitFor(() => env.target.received.filter((r) => r.rawPath === "/nightly").length === 2, { what: "the next night's run" });
});

test("an invalid cron expression gets 400 naming the field", async () => {
  const refused = await env.worker.call("POST", "/api/v1/triggers", {
    as: "alice", json: { target: "nightly", source: { kind: "schedule", cron: "0 25 * * *" } },
  });
  assert.equal(refused.status, 400);
  assert.match(refused.body.message, /the hour field '25'/);
});
