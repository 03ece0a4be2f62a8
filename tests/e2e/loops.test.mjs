// Loops through hookrelay itself (issue 23, item 1), in the built worker: a gitlab target at the
// worker with the token of its own trigger, two triggers that notify each other through it, and an
// http target that posts a fresh push to its own hook. Each chain ends after X-Hookrelay-Hops
// reaches 3 (loops::MAX_HOPS): three deliveries, the last attempt answered 508, and no more after.
// PUBLIC_URL names another host, as a deployment's workers.dev name would be unknown to it: the
// worker's own URL here (127.0.0.1) is not refused at creation, so only the hop count stops these.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withWorkerAndMock, fixture, waitFor } from "./harness.mjs";

const PUBLIC_URL = "https://hooks.example.com";
const MAX_HOPS = 3;
const env = withWorkerAndMock({ status: 201, json: { id: 1 } }, { worker: { bindings: { PUBLIC_URL } } });

async function admin(method, route, json) {
  return env.worker.call(method, route, { as: "alice", json });
}

async function created(route, json) {
  const answer = await admin("POST", route, json);
  assert.equal(answer.status, 201, answer.text);
  return answer.body;
}

function fire(project, token, headers = {}) {
  return env.worker.call("POST", `/api/v4/projects/${project}/trigger/pipeline`, {
    headers, body: new URLSearchParams({ token, ref: "main" }),
  });
}

async function deliveriesOf(trigger) {
  const page = await admin("GET", `/api/v1/triggers/${trigger.id}/deliveries?limit=100`);
  assert.equal(page.status, 200, page.text);
  return page.body.deliveries;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("every attempt carries X-Hookrelay-Hops one above its call's, and a call at the limit is 508", async () => {
  await created("/api/v1/targets", { name: "plain", kind: "http", url: `${env.target.url}/plain` });
  const trigger = await created("/api/v1/triggers", { target: "plain" });
  assert.equal((await fire("plain", trigger.token)).status, 201);
  assert.equal((await fire("plain", trigger.token, { "X-Hookrelay-Hops": "2" })).status, 201);
  const sent = env.target.received.filter((r) => r.rawPath === "/plain").map((r) => r.headers["x-hookrelay-hops"]);
  assert.deepEqual(sent, ["1", "3"]);
  const refused = await fire("plain", trigger.token, { "X-Hookrelay-Hops": String(MAX_HOPS) });
  assert.equal(refused.status, 508, refused.text);
  assert.equal(refused.body.error, "loop_detected");
  assert.equal(refused.headers.get("x-hookrelay-delivery"), null, "nothing was recorded");
  const ack = await env.worker.call("POST", `/hook/trigger?token=${trigger.token}`, { headers: { "X-Hookrelay-Hops": "9" } });
  assert.deepEqual([ack.status, ack.body.code], [508, "LoopDetected"], "in Alibaba's shape on ACK's route");
  assert.equal(env.target.received.filter((r) => r.rawPath === "/plain").length, 2, "nothing more was sent");
  assert.equal((await deliveriesOf(trigger)).length, 2);
});

test("a target on PUBLIC_URL's host is refused on create and on PATCH", async () => {
  const refused = await admin("POST", "/api/v1/targets",
    { name: "me", kind: "gitlab", url: `${PUBLIC_URL}/`, project: "9", token: "glptt-loop-e2e" });
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.body.message, /hookrelay's own host \(PUBLIC_URL\)/);
  const target = await created("/api/v1/targets", { name: "elsewhere", kind: "http", url: `${env.target.url}/x` });
  const patched = await admin("PATCH", `/api/v1/targets/${target.id}`, { url: "https://HOOKS.example.com/hooks/x" });
  assert.equal(patched.status, 400, patched.text);
  assert.match(patched.body.message, /own host/);
});

test("a gitlab target that calls its own trigger stops after three deliveries with a 508", async () => {
  // The self-target: its URL is the worker, its token (set once the trigger exists) the
  // token of a trigger on this same target. Before the guard, one call made over a thousand attempts.
  const target = await created("/api/v1/targets",
    { name: "self", kind: "gitlab", url: env.worker.url, project: "self", token: "glptt-placeholder-e2e" });
  const trigger = await created("/api/v1/triggers", { target: "self" });
  const patched = await admin("PATCH", `/api/v1/targets/${target.id}`, { token: trigger.token });
  assert.equal(patched.status, 200, patched.text);
  const answer = await fire("self", trigger.token);
  assert.equal(answer.status, 508, `the innermost refusal, relayed back out: ${answer.text}`);
  await sleep(3_000); // RETRY_BASE_SECONDS is 1: a retry, had there been one, would have come
  const deliveries = await deliveriesOf(trigger);
  assert.equal(deliveries.length, MAX_HOPS, JSON.stringify(deliveries.map((d) => [d.state, d.call.hops])));
  assert.deepEqual(deliveries.map((d) => d.call.hops ?? 0).sort(), [0, 1, 2]);
  for (const delivery of deliveries) {
    assert.equal(delivery.state, "failed");
    assert.deepEqual(delivery.attempts.map((a) => a.status), [508], "one attempt each, never retried");
  }
});

test("two triggers that notify each other through hookrelay stop at the limit", async () => {
  // Both deliver to a path of the worker that answers 404 (failed), and notify on failure through
  // a gitlab target at the worker holding the other trigger's token.
  await created("/api/v1/targets", { name: "nowhere", kind: "http", url: `${env.worker.url}/nowhere` });
  const a = await created("/api/v1/triggers", { target: "nowhere" });
  const b = await created("/api/v1/triggers", { target: "nowhere" });
  for (const [name, other] of [["calls-a", a], ["calls-b", b]]) {
    await created("/api/v1/targets", { name, kind: "gitlab", url: env.worker.url, project: "nowhere", token: other.token });
  }
  for (const [trigger, notify] of [[a, "calls-b"], [b, "calls-a"]]) {
    const patched = await admin("PATCH", `/api/v1/triggers/${trigger.id}`, { notify, notify_on: ["failed"] });
    assert.equal(patched.status, 200, patched.text);
  }
  assert.equal((await fire("nowhere", a.token)).status, 404, "the target's own answer");
  await sleep(3_000);
  const all = [...await deliveriesOf(a), ...await deliveriesOf(b)];
  assert.equal(all.length, MAX_HOPS, JSON.stringify(all.map((d) => [d.trigger, d.call.hops, d.notification])));
  const last = all.find((d) => d.call.hops === MAX_HOPS - 1);
  assert.equal(last?.notification?.status, 508, JSON.stringify(last));
});

test("an http target that posts a fresh push to its own hook stops at the limit, through the queue", async () => {
  const secret = "loop-hook-secret-e2e";
  const target = await created("/api/v1/targets", { name: "own-hook", kind: "http", url: `${env.worker.url}/hooks/none` });
  const trigger = await created("/api/v1/triggers", { target: "own-hook", source: { kind: "gitlab", secrets: [secret] } });
  // A fresh body each time ({{delivery_id}}), so that no turn is taken as a replay of the last.
  const push = JSON.parse(fixture("gitlab/push.json"));
  push.hookrelay_delivery = "{{delivery_id}}";
  const patched = await admin("PATCH", `/api/v1/targets/${target.id}`, {
    url: `${env.worker.url}/hooks/${trigger.id}`,
    headers: { "X-Gitlab-Token": secret, "X-Gitlab-Event": "Push Hook" },
    body_template: JSON.stringify(push),
  });
  assert.equal(patched.status, 200, patched.text);
  const first = await env.worker.call("POST", `/hooks/${trigger.id}`, {
    headers: { "x-gitlab-token": secret, "x-gitlab-event": "Push Hook", "content-type": "application/json" },
    body: fixture("gitlab/push.json"),
  });
  assert.equal(first.status, 202, first.text);
  const innermost = await waitFor(async () => {
    const found = (await deliveriesOf(trigger)).find((d) => d.call.hops === MAX_HOPS - 1);
    return found && found.state !== "pending" ? found : null;
  }, { timeoutMs: 20_000, what: "the innermost delivery to settle" });
  assert.equal(innermost.state, "failed");
  assert.deepEqual(innermost.attempts.map((a) => a.status), [508]);
  await sleep(3_000);
  const deliveries = await deliveriesOf(trigger);
  assert.equal(deliveries.length, MAX_HOPS, JSON.stringify(deliveries.map((d) => [d.state, d.call.hops])));
  assert.deepEqual(deliveries.map((d) => d.state).sort(), ["delivered", "delivered", "failed"]);
});
