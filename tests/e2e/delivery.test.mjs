// Durable delivery end to end: retries through Miniflare's local Queue with the short backoff the
// harness sets (RETRY_BASE_SECONDS=1, RETRY_MAX_ATTEMPTS=3), dead letters, 4xx not retried, and
// replay, against a recording mock target on 127.0.0.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import net from "node:net";
import { withWorkerAndMock, fixture } from "./harness.mjs";

const env = withWorkerAndMock({ status: 201, json: { id: 1 } });

/** An http target at `${base}${path}` (the mock's by default) and a token trigger on it. */
async function tokenTrigger(name, path, base = env.target.url) {
  const created = await env.worker.call("POST", "/api/v1/targets", {
    as: "alice", json: { name, kind: "http", url: `${base}${path}`, headers: { "X-Key": "s3cret-key" } },
  });
  assert.equal(created.status, 201, created.text);
  const trigger = await env.worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: name } });
  assert.equal(trigger.status, 201, trigger.text);
  return trigger.body;
}

function fire(name, token, ref = "main") {
  return env.worker.call("POST", `/api/v4/projects/${name}/trigger/pipeline`, {
    body: new URLSearchParams({ token, ref, "variables[ENV]": "e2e" }),
  });
}

const sentTo = (path) => env.target.received.filter((r) => r.rawPath === path);

test("503, 503, then 201: delivered after 3 attempts that carry the same Idempotency-Key", async () => {
  const trigger = await tokenTrigger("flaky", "/flaky");
  env.target.script.push({ status: 503, json: { busy: true } }, { status: 503, json: { busy: true } });
  const answer = await fire("flaky", trigger.token);
  assert.equal(answer.status, 202, answer.text);
  assert.equal(answer.body.state, "pending");
  const record = await env.worker.delivery(answer.body.delivery_id);
  assert.equal(record.state, "delivered");
  assert.deepEqual(record.attempts.map((a) => a.status), [503, 503, 201]);
  assert.ok(record.attempts.every((a) => typeof a.duration_ms === "number" && !Number.isNaN(Date.parse(a.at))));
  assert.ok(Date.parse(record.attempts[2].at) - Date.parse(record.attempts[1].at) >= 1500, "backoff: 2 s, less jitter");
  const keys = sentTo("/flaky").map((r) => r.headers["idempotency-key"]);
  assert.deepEqual(keys, Array(3).fill(answer.body.delivery_id));
  assert.ok(!JSON.stringify(record).includes("s3cret-key"), "no credential in the record");
});

test("a target that is always down ends dead after RETRY_MAX_ATTEMPTS", async () => {
  const trigger = await tokenTrigger("down", "/down");
  env.target.script.push(...Array(3).fill({ status: 500, json: { down: true } }));
  const answer = await fire("down", trigger.token);
  assert.equal(answer.status, 202);
  const record = await env.worker.delivery(answer.body.delivery_id, { until: ["dead"] });
  assert.deepEqual(record.attempts.map((a) => a.status), [500, 500, 500]);
  assert.equal(sentTo("/down").length, 3);
});

test("a 400 is relayed, recorded failed, and never retried", async () => {
  const trigger = await tokenTrigger("strict", "/strict");
  env.target.script.push({ status: 400, json: { message: "bad ref" } });
  const answer = await fire("strict", trigger.token);
  assert.equal(answer.status, 400);
  assert.deepEqual(answer.body, { message: "bad ref" });
  const page = await env.worker.call("GET", `/api/v1/triggers/${trigger.id}/deliveries`, { as: "alice" });
  assert.equal(page.body.deliveries[0].state, "failed");
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(sentTo("/strict").length, 1, "no retry came");
});

test("replay sends the same call again as a new delivery linked to the old one", async () => {
  const trigger = await tokenTrigger("replayed", "/replayed");
  env.target.script.push({ status: 400, json: { message: "not yet" } });
  await fire("replayed", trigger.token, "release/1");
  const page = await env.worker.call("GET", `/api/v1/triggers/${trigger.id}/deliveries`, { as: "alice" });
  const old = page.body.deliveries[0];
  const replayed = await env.worker.call("POST", `/api/v1/deliveries/${old.id}/replay`, { as: "alice" });
  assert.equal(replayed.status, 201, replayed.text);
  assert.equal(replayed.body.state, "delivered");
  assert.equal(replayed.body.replay_of, old.id);
  assert.notEqual(replayed.body.id, old.id);
  const [first, second] = sentTo("/replayed");
  assert.equal(second.body, first.body, "the same ref and variables");
  assert.equal(JSON.parse(second.body).ref, "release/1");
  assert.equal(second.headers["idempotency-key"], replayed.body.id);
  assert.equal((await env.worker.call("POST", `/api/v1/deliveries/${old.id}/replay`)).status, 401, "admins only");
});

test("a webhook is answered 202 before its target is tried, then delivered by the queue", async () => {
  await env.worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "slow", kind: "http", url: `${env.target.url}/slow` } });
  const secret = "wh-secret";
  const hook = await env.worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "slow", source: { kind: "github", secrets: [secret] } } });
  const body = fixture("github/push.json");
  const signature = `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
  env.target.script.push({ status: 503, json: {} });
  const answer = await env.worker.call("POST", hook.body.hook_url, {
    headers: { "content-type": "application/json", "X-Hub-Signature-256": signature, "X-GitHub-Event": "push", "X-GitHub-Delivery": "q-1" },
    body,
  });
  assert.equal(answer.status, 202, answer.text);
  assert.equal(answer.body.deliveries[0].state, "pending");
  const [record] = await env.worker.settled(answer);
  assert.deepEqual(record.attempts.map((a) => a.status), [503, 201], "the queue retried the 503");
  assert.equal(JSON.parse(sentTo("/slow")[1].body).payload.after, JSON.parse(body).after, "the payload survived the queue");
});

/**
 * Fires `name` once at a target that never answers, waits for the delivery to end dead, then
 * watches a few seconds more: exactly RETRY_MAX_ATTEMPTS attempts, one delivery, nothing after.
 */
async function diesAfterThreeAttempts(name, trigger) {
  const answer = await fire(name, trigger.token);
  assert.equal(answer.status, 202, answer.text);
  const record = await env.worker.delivery(answer.body.delivery_id, { until: ["dead"], timeoutMs: 30_000 });
  assert.equal(record.attempts.length, 3, JSON.stringify(record.attempts));
  assert.ok(record.attempts.every((a) => a.status === null), "no answer came back");
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const later = await env.worker.call("GET", `/api/v1/deliveries/${answer.body.delivery_id}`, { as: "alice" });
  assert.deepEqual(later.body, record, "nothing was attempted after it died");
  const listed = await env.worker.call("GET", `/api/v1/triggers/${trigger.id}/deliveries`, { as: "alice" });
  assert.equal(listed.body.deliveries.length, 1, "one delivery");
}

test("a target that drops every connection is attempted exactly RETRY_MAX_ATTEMPTS times, then dead", async () => {
  let connections = 0;
  const dropper = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise((resolve) => dropper.listen(0, "127.0.0.1", resolve));
  try {
    const trigger = await tokenTrigger("dropper", "/hook", `http://127.0.0.1:${dropper.address().port}`);
    await diesAfterThreeAttempts("dropper", trigger);
    assert.equal(connections, 3, "three connections, one per attempt");
  } finally {
    await new Promise((resolve) => dropper.close(resolve));
  }
});

test("a target whose host name does not resolve is attempted exactly RETRY_MAX_ATTEMPTS times, then dead", async () => {
  // `.invalid` never resolves (RFC 2606).
  const trigger = await tokenTrigger("nowhere", "/hook", "http://hookrelay-e2e.invalid");
  await diesAfterThreeAttempts("nowhere", trigger);
});

test("a token call repeated with its Idempotency-Key gets the first call's answer; in flight 409, another request 422", async () => {
  const trigger = await tokenTrigger("idempotent", "/idempotent");
  const call = (ref = "main") => env.worker.call("POST", "/api/v4/projects/idempotent/trigger/pipeline", {
    headers: { "Idempotency-Key": "release-42" },
    body: new URLSearchParams({ token: trigger.token, ref }),
  });
  // The target takes its time over the first call: a repeat meanwhile is told to wait.
  env.target.script.push({ status: 201, json: { id: 77, status: "created", web_url: "https://ci.example/p/77" }, delayMs: 1500 });
  const firstCall = call();
  await new Promise((resolve) => setTimeout(resolve, 400));
  const meanwhile = await call();
  assert.equal(meanwhile.status, 409, meanwhile.text);
  const first = await firstCall;
  assert.equal(first.status, 201, first.text);
  assert.equal(first.body.id, 77);
  const repeat = await call();
  assert.equal(repeat.status, 201, repeat.text);
  assert.deepEqual(repeat.body, first.body, "the first call's answer, as python-gitlab reads pipeline.id");
  assert.equal(repeat.headers.get("idempotent-replayed"), "true");
  assert.equal(first.headers.get("idempotent-replayed"), null);
  assert.equal(repeat.headers.get("x-hookrelay-delivery"), first.headers.get("x-hookrelay-delivery"));
  const other = await call("release");
  assert.equal(other.status, 422, other.text);
  assert.match(other.body.message, /another request/);
  const listed = await env.worker.call("GET", `/api/v1/triggers/${trigger.id}/deliveries`, { as: "alice" });
  assert.equal(listed.body.deliveries.length, 1, "one delivery");
  assert.equal(first.headers.get("x-hookrelay-delivery"), listed.body.deliveries[0].id);
  assert.equal(sentTo("/idempotent").length, 1, "fired once");
});

test("a delivery list carries each payload's size and SHA-256, not the payload, which the delivery's own route has", async () => {
  const trigger = await tokenTrigger("bulky", "/bulky");
  const bodies = [];
  for (let n = 0; n < 5; n++) {
    const body = JSON.stringify({ object_kind: "push", n, pad: "x".repeat(900 * 1024) });
    bodies.unshift(body); // listed newest first
    const answer = await env.worker.call("POST", `/api/v4/projects/bulky/ref/main/trigger/pipeline?token=${trigger.token}`, {
      headers: { "content-type": "application/json" }, body,
    });
    assert.ok(answer.status >= 200 && answer.status < 300, answer.text);
  }
  const list = await env.worker.call("GET", `/api/v1/triggers/${trigger.id}/deliveries?limit=20`, { as: "alice" });
  assert.equal(list.status, 200, list.text);
  assert.ok(list.text.length < 20_000, `the list is ${list.text.length} bytes: no payload in it`);
  assert.equal(list.body.deliveries.length, 5);
  for (const [n, delivery] of list.body.deliveries.entries()) {
    const sha256 = crypto.createHash("sha256").update(bodies[n]).digest("hex");
    assert.deepEqual(delivery.call.payload, { content_type: "application/json", size: bodies[n].length, sha256 });
    const one = await env.worker.call("GET", `/api/v1/deliveries/${delivery.id}`, { as: "alice" });
    assert.equal(one.status, 200);
    assert.equal(one.body.call.payload.text, bodies[n], "the payload, from the delivery's own route");
    assert.equal(one.body.call.payload.sha256, sha256);
  }
});
