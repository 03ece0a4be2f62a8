// What one caller can make a target's ledger (a Durable Object) store: a per-target storage budget
// (507 past it, nothing stored lost). The ledger object is also asked directly (as the worker asks
// it), to let its clock run a week ahead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withWorkerAndMock } from "./harness.mjs";

// A 5 MB budget per target.
const env = withWorkerAndMock(undefined, { worker: { bindings: { STORAGE_BUDGET_MB: "5" } } });
const WEEK_MS = 7 * 86_400_000;

/** One request to target `target`'s ledger object, as the worker sends it. */
async function ledger(target, request, nowMs = Date.now()) {
  const namespace = await env.worker.mf.getDurableObjectNamespace("LEDGER");
  const stub = namespace.get(namespace.idFromName(target));
  const envelope = { now_ms: nowMs, random: 0, base_seconds: 1, max_attempts: 3, retention_ms: WEEK_MS, request };
  const answer = await stub.fetch("https://ledger/", { method: "POST", body: JSON.stringify(envelope) });
  assert.equal(answer.status, 200);
  return answer.json();
}

test("a target's storage budget: past it a call gets 507, and nothing already stored is lost", async () => {
  const { worker, target } = env;
  const created = await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "big", kind: "http", url: `${target.url}/big` } });
  assert.equal(created.status, 201, created.text);
  const trigger = (await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "big" } })).body;
  // GitLab's webhook form: the body (900 kB here) is kept with the delivery as its payload.
  const fire = (i) => worker.call("POST", `/api/v4/projects/big/ref/main/trigger/pipeline?token=${trigger.token}`, {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ n: i, pad: "x".repeat(900_000) }),
  });
  const sentBefore = target.received.length;
  const ids = [];
  for (let i = 1; i <= 5; i++) {
    const answer = await fire(i);
    assert.ok(answer.status < 300, `call ${i}: ${answer.status} ${answer.text.slice(0, 200)}`);
    ids.push(answer.headers.get("x-hookrelay-delivery"));
  }
  const full = await fire(6);
  assert.equal(full.status, 507, full.text.slice(0, 300));
  assert.equal(full.body.error, "insufficient_storage");
  assert.match(full.body.message, /storage budget \(5 MB\); nothing was stored/);
  assert.equal(target.received.length - sentBefore, 5, "the sixth was never sent");
  for (const id of ids) {
    const record = await worker.call("GET", `/api/v1/deliveries/${id}`, { as: "alice" });
    assert.equal(record.status, 200, `${id}: ${record.text.slice(0, 200)}`);
    assert.equal(record.body.state, "delivered");
    assert.equal(JSON.stringify(record.body).includes("x".repeat(1000)), true, "its payload is kept");
  }
  // A week on, the records are past their retention: deleted, and their bytes make room.
  const expired = await ledger(created.body.id, { accept: { arrivals: [], attempt_now: false } }, Date.now() + WEEK_MS + 60_000);
  assert.deepEqual(expired, { accepted: { answers: [] } });
  assert.equal((await worker.call("GET", `/api/v1/deliveries/${ids[0]}`, { as: "alice" })).status, 404);
  const room = await fire(7);
  assert.ok(room.status < 300, `${room.status} ${room.text.slice(0, 200)}`);
});
