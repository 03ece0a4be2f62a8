// Operable at a glance (issue 18), end to end in workerd: a delivery that dies tells a mock Slack
// once (and a failing notification is recorded, never retried), and the statistics the ledger
// objects keep answer /api/v1/triggers/{id}/stats and /api/v1/stats. The worker runs with an
// Analytics Engine dataset bound (Miniflare's local one), which must change nothing else.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { fixture, startMock, waitFor, withWorkerAndMock } from "./harness.mjs";

const PUBLIC_URL = "https://hooks.example.com";
const env = withWorkerAndMock({ status: 201, json: { id: 1 } }, {
  worker: {
    bindings: { PUBLIC_URL },
    options: { analyticsEngineDatasets: { ANALYTICS: { dataset: "hookrelay_attempts" } } },
  },
  // The mock Slack incoming webhook, started in the harness's one hook (see withWorkerAndMock).
  then: async (held) => {
    held.slack = await startMock({ status: 200, json: {} });
  },
});

after(() => env.slack?.stop());

const call = (...args) => env.worker.call(...args);

/** A target answering 500 at `path`, a token trigger on it that notifies `notify`; its token. */
async function doomedTrigger(name, notify) {
  const target = await call("POST", "/api/v1/targets", {
    as: "alice", json: { name, kind: "http", url: `${env.target.url}/${name}` },
  });
  assert.equal(target.status, 201, target.text);
  const trigger = await call("POST", "/api/v1/triggers", {
    as: "alice", json: { target: name, description: `E2E ${name}`, notify },
  });
  assert.equal(trigger.status, 201, trigger.text);
  assert.deepEqual([trigger.body.notify_on, typeof trigger.body.notify], [["dead"], "string"]);
  return trigger.body;
}

function fire(name, token) {
  return call("POST", `/api/v4/projects/${name}/trigger/pipeline`, { body: new URLSearchParams({ token, ref: "main" }) });
}

async function slackTarget(name, path) {
  const created = await call("POST", "/api/v1/targets", {
    as: "alice", json: { name, kind: "http", url: `${env.slack.url}${path}`, format: "slack" },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.format, "slack");
}

const at = (path) => env.slack.received.filter((r) => r.rawPath === path);

test("a delivery that dies tells the mock Slack once, with a link to it on the admin page", async () => {
  await slackTarget("slack", "/services/T0/B0/ok");
  const trigger = await doomedTrigger("doomed", "slack");
  env.target.script.push(...Array(3).fill({ status: 500, json: { down: true } }));
  const answer = await fire("doomed", trigger.token);
  assert.equal(answer.status, 202, answer.text);
  const id = answer.body.delivery_id;
  await env.worker.delivery(id, { until: ["dead"] });
  const [message] = await waitFor(() => at("/services/T0/B0/ok").length > 0 && at("/services/T0/B0/ok"), {
    what: "the Slack message",
  });
  assert.equal(message.headers["content-type"], "application/json");
  const { text } = JSON.parse(message.body);
  assert.match(text, new RegExp(`delivery ${id} of trigger .E2E doomed. to doomed is dead \\(last status 500, 3 attempts\\)`));
  assert.ok(text.endsWith(`<${PUBLIC_URL}/admin#delivery=${id}|open>`), text);
  const record = await waitFor(async () => {
    const found = (await call("GET", `/api/v1/deliveries/${id}`, { as: "alice" })).body;
    return found.notification ? found : null;
  }, { what: "the notification on the record" });
  assert.equal(record.state, "dead");
  assert.deepEqual([record.notification.status, record.notification.error], [200, undefined]);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(at("/services/T0/B0/ok").length, 1, "one message, however long one waits");
});

test("a failing notification is recorded on the delivery, never retried, and changes nothing else", async () => {
  await slackTarget("slack-gone", "/services/T0/B0/gone");
  const trigger = await doomedTrigger("doomed-too", "slack-gone");
  env.target.script.push(...Array(3).fill({ status: 500, json: { down: true } }));
  env.slack.script.push({ status: 404, json: { error: "no_service" } });
  const answer = await fire("doomed-too", trigger.token);
  const id = answer.body.delivery_id;
  const record = await waitFor(async () => {
    const found = (await call("GET", `/api/v1/deliveries/${id}`, { as: "alice" })).body;
    return found.notification ? found : null;
  }, { what: "the notification on the record" });
  assert.equal(record.state, "dead", "the delivery is as it was");
  assert.equal(record.notification.status, 404);
  assert.match(record.notification.error, /404/);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(at("/services/T0/B0/gone").length, 1, "never retried");
});

test("statistics: a trigger's hours and the overview agree with what happened, failing triggers first", async () => {
  // A healthy trigger: two deliveries, and a hook trigger with one refused (bad signature) webhook.
  const target = await call("POST", "/api/v1/targets", { as: "alice", json: { name: "fine", kind: "http", url: `${env.target.url}/fine` } });
  assert.equal(target.status, 201, target.text);
  const fine = (await call("POST", "/api/v1/triggers", { as: "alice", json: { target: "fine" } })).body;
  for (let i = 0; i < 2; i++) {
    const answer = await fire("fine", fine.token);
    assert.ok(answer.status < 300, answer.text);
    assert.equal(answer.headers.get("x-hookrelay-trigger"), fine.id);
    assert.ok(answer.headers.get("x-hookrelay-delivery").startsWith(`${fine.id}-`), "the delivery, for the API");
  }
  const hook = (await call("POST", "/api/v1/triggers", {
    as: "alice", json: { target: "fine", source: { kind: "github", secrets: ["e2e-stats-secret"] } },
  })).body;
  const forged = await call("POST", new URL(hook.hook_url, env.worker.url).pathname, {
    headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": crypto.randomUUID(),
      "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
    body: fixture("github/push.json"),
  });
  assert.equal(forged.status, 401);

  const hour = () => Math.floor(Date.now() / 3_600_000) * 3_600_000;
  const asked = hour();
  const stats = await call("GET", `/api/v1/triggers/${fine.id}/stats?hours=3`, { as: "alice" });
  assert.equal(stats.status, 200, stats.text);
  assert.equal(stats.body.series.length, 3);
  assert.ok([asked, hour()].includes(Date.parse(stats.body.series[2].hour)), "the current hour last");
  assert.deepEqual(
    [stats.body.totals.delivered, stats.body.totals.dead, stats.body.totals.attempts, stats.body.totals.success_rate],
    [2, 0, 2, 1],
  );
  assert.ok(Number.isInteger(stats.body.totals.p95_ms), stats.text);
  const refused = await call("GET", `/api/v1/triggers/${hook.id}/stats`, { as: "alice" });
  assert.equal(refused.body.totals.refused, 1, refused.text);

  const overview = await call("GET", "/api/v1/stats?hours=24", { as: "alice" });
  assert.equal(overview.status, 200, overview.text);
  const listed = overview.body.triggers.map((t) => t.trigger);
  const doomed = overview.body.triggers.filter((t) => t.dead > 0);
  assert.equal(doomed.length, 2, overview.text);
  assert.deepEqual(listed.slice(0, 2).sort(), doomed.map((t) => t.trigger).sort(), "failing triggers first");
  assert.ok(listed.indexOf(fine.id) > 1, overview.text);
  assert.equal(overview.body.totals.delivered, overview.body.triggers.reduce((sum, t) => sum + t.delivered, 0));
  assert.equal(overview.body.totals.dead, 2);
  const bad = await call("GET", "/api/v1/stats?hours=500", { as: "alice" });
  assert.equal(bad.status, 400, bad.text);
});
