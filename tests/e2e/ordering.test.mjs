// Deploy-safe delivery in workerd: the target's ledger (a Durable Object with SQLite storage) keeps
// an older image from being rolled out after a newer one, and holds a large payload for the queue
// consumer. Mocks on 127.0.0.1: a Kubernetes API server and a deploy hook.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startWorker, startMock, createCluster, fixture, waitFor } from "./harness.mjs";

const DEPLOYMENT = {
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "app", namespace: "prod" },
  spec: { template: { spec: { containers: [{ name: "app", image: "svendowideit/testhook:v0" }] } } },
};
let worker, apiServer, hook;

before(async () => {
  apiServer = await startMock({ status: 200, json: DEPLOYMENT });
  hook = await startMock({ status: 200, json: { ok: true } });
  // A retry 4 to 5 s after a failure: long enough for the newer push to arrive first.
  worker = await startWorker({ bindings: { RETRY_BASE_SECONDS: "5" } });
  await createCluster(worker, apiServer);
});

after(async () => {
  await worker?.stop();
  await apiServer?.stop();
  await hook?.stop();
});

/** The real Docker Hub push, of `tag`. */
function dockerHubPush(tag) {
  const payload = JSON.parse(fixture("dockerhub/push.json"));
  payload.push_data.tag = tag;
  return JSON.stringify(payload);
}

const patches = () => apiServer.received.filter((r) => r.method === "PATCH").map((r) => JSON.parse(r.body).spec.template.spec.containers[0].image);

test("v1's PATCH gets 503, v2 is pushed and delivered, and v1's retry sends nothing: the cluster ends on v2", { timeout: 60_000 }, async () => {
  const registry = await worker.call("POST", "/api/v1/registries", { as: "alice", json: { name: "hub", kind: "dockerhub" } });
  assert.equal(registry.status, 201, registry.text);
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: {
    target: "prod", kind: "image", repository: "svendowideit/testhook", trigger_type: "all",
    workload: { namespace: "prod", kind: "deployments", name: "app", action: "set-image" },
  } });
  assert.equal(trigger.status, 201, trigger.text);
  assert.equal(trigger.body.order, "latest", "the default for a kubernetes target");
  const push = (tag) => worker.call("POST", registry.body.hook_url, { headers: { "content-type": "application/json" }, body: dockerHubPush(tag) });

  apiServer.script.push({ status: 200, json: DEPLOYMENT }, { status: 503, json: { kind: "Status", message: "etcd is busy" } });
  const v1 = await push("v1");
  assert.equal(v1.status, 202, v1.text);
  const v1Id = v1.body.deliveries[0].delivery_id;
  await waitFor(() => patches().length === 1, { what: "v1's PATCH" });
  const pending = await worker.delivery(v1Id, { until: ["pending"] });
  assert.equal(pending.attempts[0].status, 503, "a retry is due");

  const v2 = await push("v2");
  assert.equal(v2.status, 202, v2.text);
  const v2Id = v2.body.deliveries[0].delivery_id;
  assert.equal((await worker.delivery(v2Id)).state, "delivered");
  const superseded = await worker.delivery(v1Id, { until: ["superseded"] });
  assert.equal(superseded.superseded_by, v2Id);

  // Past the time v1's retry was due (RETRY_BASE_SECONDS 5): its message came and sent nothing.
  await new Promise((resolve) => setTimeout(resolve, 7_000));
  assert.deepEqual(patches(), ["svendowideit/testhook:v1", "svendowideit/testhook:v2"], "the cluster ends on v2");
  const listed = await worker.call("GET", `/api/v1/triggers/${trigger.body.id}/deliveries?state=superseded`, { as: "alice" });
  assert.deepEqual(listed.body.deliveries.map((d) => d.id), [v1Id]);
});

test("a 900 KB signed GitHub push is delivered whole, through the ledger", { timeout: 60_000 }, async () => {
  await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "big", kind: "http", url: `${hook.url}/big` } });
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "big", source: { kind: "github", secrets: ["big-secret"] } } });
  assert.equal(trigger.status, 201, trigger.text);
  const payload = JSON.parse(fixture("github/push.json"));
  // The real push, its head commit's message grown to 900 KB (a vendored file's diff summary, say).
  payload.head_commit.message = "x".repeat(900 * 1024);
  const body = JSON.stringify(payload);
  const signature = `sha256=${crypto.createHmac("sha256", "big-secret").update(body).digest("hex")}`;
  const answer = await worker.call("POST", trigger.body.hook_url, { headers: {
    "content-type": "application/json", "x-github-event": "push", "x-github-delivery": crypto.randomUUID(), "x-hub-signature-256": signature,
  }, body });
  assert.equal(answer.status, 202, answer.text);
  const [record] = await worker.settled(answer);
  assert.equal(record.state, "delivered");
  const sent = hook.received.filter((r) => r.rawPath === "/big");
  assert.equal(sent.length, 1);
  assert.ok(sent[0].body.includes(payload.head_commit.message), "the whole payload reached the target");
});
