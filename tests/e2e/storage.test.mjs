// What one caller can make a target's ledger (a Durable Object) store and do: a per-target storage
// budget (507 past it, nothing stored lost), and refused webhooks counted per isolate rather than
// one ledger request each. The ledger object is also asked directly (as the worker asks it), to
// see what it holds without the worker's own tally, and to let its clock run a week ahead.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { withWorkerAndMock, fixture } from "./harness.mjs";

// A 5 MB budget per target; refusals sent on their own at most every 2 s (a test-only setting).
const env = withWorkerAndMock(undefined, { worker: { bindings: { STORAGE_BUDGET_MB: "5", REFUSAL_FLUSH_SECONDS: "2" } } });
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

test("refused webhooks: 50 forged ones cost no ledger request each, and the statistics still count them", async () => {
  const { worker, target } = env;
  const created = await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "quiet", kind: "http", url: `${target.url}/quiet` } });
  assert.equal(created.status, 201, created.text);
  const hook = (await worker.call("POST", "/api/v1/triggers", {
    as: "alice", json: { target: "quiet", source: { kind: "github", secrets: ["e2e-refusal-secret"] } },
  })).body;
  const forged = () => worker.call("POST", hook.hook_url, {
    headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
    body: fixture("github/push.json"),
  });
  // What the ledger object itself has counted, asked directly: the worker's tally is not sent.
  const counted = async () => {
    const { stats } = await ledger(created.body.id, { stats: { trigger: hook.id, from_hour: 0 } });
    return stats.rows.reduce((sum, [, , counts]) => sum + Number(counts.split(" ")[4]), 0);
  };
  for (let i = 0; i < 50; i++) assert.equal((await forged()).status, 401);
  assert.ok(await counted() <= 1, "the ledger was not asked to count each one (only the first went at once)");
  // Past the flush period (2 s here, a minute in production), the next refusal sends them all.
  await new Promise((resolve) => setTimeout(resolve, 2100));
  assert.equal((await forged()).status, 401);
  assert.equal(await counted(), 51);
  // Within the period they wait, and go with the next request to that ledger: the statistics'.
  for (let i = 0; i < 9; i++) assert.equal((await forged()).status, 401);
  assert.equal(await counted(), 51);
  const stats = await worker.call("GET", `/api/v1/triggers/${hook.id}/stats`, { as: "alice" });
  assert.equal(stats.status, 200, stats.text);
  assert.equal(stats.body.totals.refused, 60, stats.text);
});
