// A deployment whose settings keep it from working says so: /healthz lists each problem (503),
// naming the setting and never echoing its value, and every other route answers a JSON 500
// "misconfigured" instead of the runtime's plain-text error.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./harness.mjs";

const running = [];
after(async () => {
  for (const worker of running) await worker.stop();
});

test("a malformed ENCRYPTION_KEY and an unparsable RETRY_MAX_ATTEMPTS are named at /healthz, and other routes answer misconfigured", async () => {
  const badKey = "c2VjcmV0LWtleS1tYXRlcmlhbC13aXRob3V0LWlk";
  const worker = await startWorker({ bindings: { ENCRYPTION_KEY: badKey, RETRY_MAX_ATTEMPTS: "ten" } });
  running.push(worker);
  const health = await worker.call("GET", "/healthz");
  assert.equal(health.status, 503, health.text);
  assert.equal(health.body.status, "error");
  assert.deepEqual(health.body.problems.map((p) => p.split(":")[0]), ["ENCRYPTION_KEY", "RETRY_MAX_ATTEMPTS"]);
  assert.ok(!health.text.includes(badKey) && !health.text.includes("ten"), "no value echoed");
  const other = await worker.call("GET", "/api/v1/targets", { as: "alice" });
  assert.equal(other.status, 500, other.text);
  assert.equal(other.headers.get("content-type"), "application/json");
  assert.equal(other.body.error, "misconfigured");
  assert.match(other.body.message, /ENCRYPTION_KEY/);
  const fire = await worker.call("POST", "/api/v4/projects/x/trigger/pipeline", { body: new URLSearchParams({ token: "t", ref: "main" }) });
  assert.equal(fire.status, 500);
  assert.equal(fire.body.error, "misconfigured");
});

test("a well-configured deployment's health check is ok", async () => {
  const worker = await startWorker();
  running.push(worker);
  const health = await worker.call("GET", "/healthz");
  assert.deepEqual([health.status, health.body], [200, { status: "ok" }]);
});
