// Concurrency against the running worker: triggers created at once, one token called at once,
// and a trigger deleted while its call is in flight.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import crypto from "node:crypto";
import { withWorkerAndMock, fixture, waitFor } from "./harness.mjs";

const env = withWorkerAndMock({ status: 201, json: { id: 1 } });

test("50 triggers created at once for one repository all fire on the next push", async () => {
  const { worker, target } = env;
  await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "many", kind: "http", url: `${target.url}/many` } });
  const registry = await worker.call("POST", "/api/v1/registries", { as: "alice", json: { name: "harbor", kind: "harbor" } });
  const created = await Promise.all(Array.from({ length: 50 }, (_, i) => worker.call("POST", "/api/v1/triggers", {
    as: "alice", json: { target: "many", kind: "image", repository: "harbor/alpine", description: `t${i}` },
  })));
  assert.deepEqual([...new Set(created.map((c) => c.status))], [201]);
  const push = await worker.call("POST", registry.body.hook_url, { headers: { "content-type": "application/json" }, body: fixture("harbor/push_artifact.json") });
  assert.equal(push.status, 202, push.text);
  assert.equal(push.body.deliveries.length, 50, "every trigger matched");
  const records = await worker.settled(push);
  assert.ok(records.every((r) => r.state === "delivered"));
  const fired = new Set(target.received.filter((r) => r.rawPath === "/many").map((r) => r.headers["idempotency-key"].split("-")[0]));
  assert.equal(fired.size, 50, "each trigger fired once");
});

test("20 concurrent calls of one token are each forwarded exactly once", async () => {
  const { worker, target } = env;
  await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "burst", kind: "http", url: `${target.url}/burst` } });
  const trigger = (await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "burst" } })).body;
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => worker.call("POST", "/api/v4/projects/burst/trigger/pipeline", {
    body: new URLSearchParams({ token: trigger.token, ref: "main", "variables[N]": String(i) }),
  })));
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [201]);
  const sent = target.received.filter((r) => r.rawPath === "/burst");
  assert.equal(sent.length, 20);
  const numbers = sent.map((r) => JSON.parse(r.body).variables.N).sort((a, b) => a - b);
  assert.deepEqual(numbers, Array.from({ length: 20 }, (_, i) => String(i)).sort((a, b) => a - b), "each call once");
  assert.equal(new Set(sent.map((r) => r.headers["idempotency-key"])).size, 20, "20 deliveries");
});

test("a trigger deleted while its call is in flight does not come back", async () => {
  const { worker } = env;
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const slow = http.createServer(async (req, res) => {
    req.resume();
    await held;
    res.writeHead(201, { "content-type": "application/json" });
    res.end("{}");
  });
  await new Promise((resolve) => slow.listen(0, "127.0.0.1", resolve));
  try {
    await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "slow", kind: "http", url: `http://127.0.0.1:${slow.address().port}/` } });
    const trigger = (await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "slow" } })).body;
    const inFlight = worker.call("POST", "/api/v4/projects/slow/trigger/pipeline", { body: new URLSearchParams({ token: trigger.token, ref: "main" }) });
    await waitFor(() => new Promise((r) => slow.getConnections((_, n) => r(n > 0))), { what: "the call to reach the target" });
    assert.equal((await worker.call("DELETE", `/api/v1/triggers/${trigger.id}`, { as: "alice" })).status, 204);
    release();
    assert.equal((await inFlight).status, 201, "the call that was in flight completes");
    assert.equal((await worker.call("GET", `/api/v1/triggers/${trigger.id}`, { as: "alice" })).status, 404, "the trigger stays deleted");
    const again = await worker.call("POST", "/api/v4/projects/slow/trigger/pipeline", { body: new URLSearchParams({ token: trigger.token, ref: "main" }) });
    assert.equal(again.status, 404, "and its token stays revoked");
  } finally {
    release();
    await new Promise((resolve) => slow.close(resolve));
  }
});

test("20 identical signed GitHub deliveries at once, as a provider's retries or two locations send them, are forwarded exactly once", async () => {
  const { worker, target } = env;
  await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "once", kind: "http", url: `${target.url}/once` } });
  const secret = "once-secret";
  const hook = (await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "once", source: { kind: "github", secrets: [secret] } } })).body;
  const body = fixture("github/push.json");
  const signature = `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
  // Half carry the provider's id, half a new one each (which a replayer could add): one push.
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => worker.call("POST", hook.hook_url, {
    headers: { "content-type": "application/json", "X-Hub-Signature-256": signature, "X-GitHub-Event": "push", "X-GitHub-Delivery": i % 2 ? "gh-delivery-1" : crypto.randomUUID() },
    body,
  })));
  const accepted = answers.filter((a) => a.status === 202);
  const duplicates = answers.filter((a) => a.status === 200 && a.body.duplicate);
  assert.equal(accepted.length, 1, answers.map((a) => `${a.status} ${a.text}`).join("\n"));
  assert.equal(duplicates.length, 19);
  await worker.settled(accepted[0]);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(target.received.filter((r) => r.rawPath === "/once").length, 1, "forwarded once");
});

