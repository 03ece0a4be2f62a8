// Brute force against the admin API, through the Workers rate-limiting binding as Miniflare runs
// it locally: a client's admin requests are counted before its token is checked, so once it is
// over the limit a right guess is refused like a wrong one, while other clients and trigger calls
// go on.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startMock, ADMINS } from "./harness.mjs";

const running = [];
after(async () => Promise.all(running.map((w) => w.stop().catch(() => {}))));

test("a client over the admin limit gets 429 for any token; others and trigger calls do not", async () => {
  const mock = await startMock();
  running.push(mock);
  // Miniflare counts in fixed windows of the period (a minute): start well inside one, so that
  // the count does not reset halfway through the test.
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - intoMinute));
  const worker = await startWorker({ adminRateLimit: 4 });
  running.push(worker);
  const attacker = { "cf-connecting-ip": "198.51.100.7" };
  const target = await worker.call("POST", "/api/v1/targets", {
    as: "alice",
    json: { name: "ci", kind: "gitlab", url: mock.url, project: "7", token: "glptt-ratelimit-e2e" },
  });
  assert.equal(target.status, 201, JSON.stringify(target.body));
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: target.body.id } });
  assert.equal(trigger.status, 201);

  for (let guess = 0; guess < 4; guess++) {
    const wrong = await worker.call("GET", "/api/v1/targets", { headers: { ...attacker, authorization: `Bearer guess-${guess}` } });
    assert.equal(wrong.status, 401, "under the limit, a wrong token is simply refused");
  }
  for (const token of ["guess-5", ADMINS.alice]) {
    const refused = await worker.call("GET", "/api/v1/targets", { headers: { ...attacker, authorization: `Bearer ${token}` } });
    assert.equal(refused.status, 429, "over the limit, the right token is refused like a wrong one");
    assert.equal(refused.headers.get("retry-after"), "60");
    assert.equal(refused.body.error, "rate_limited");
  }

  const admin = await worker.call("GET", "/api/v1/targets", { as: "alice", headers: { "cf-connecting-ip": "203.0.113.20" } });
  assert.equal(admin.status, 200, "another client is not slowed down");
  const fired = await worker.call("POST", `/api/v4/projects/${target.body.id}/trigger/pipeline`, {
    headers: attacker,
    json: { token: trigger.body.token, ref: "main" },
  });
  assert.equal(fired.status, 201, "trigger calls are not admin requests");
});
