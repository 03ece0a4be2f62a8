// Registry webhooks and redeploys end to end: the SWR- and ACK-compatible APIs, a Harbor registry
// endpoint that fans out to image triggers, and a recording mock Kubernetes API server on
// 127.0.0.1 that answers GET with a deployment and records each PATCH.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startMock, createCluster, fixture, ADMINS } from "./harness.mjs";

const DEPLOYMENT = {
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "default" },
  spec: { template: { spec: { containers: [{ name: "alpine", image: "harbor.example.com/harbor/alpine:3.17" }] } } },
};
const SWR = "/v2/manage/namespaces/harbor/repos/alpine/triggers";
const swrAdmin = { "x-auth-token": ADMINS.alice };
let worker, apiServer, hookUrl;

/**
 * Posts the real Harbor PUSH_ARTIFACT payload to the registry endpoint, pushed as `repository:tag`
 * (the published example pushes harbor/alpine by digest). Returns the answer and what the mock got.
 */
async function push(tag, repository = "harbor/alpine") {
  const payload = JSON.parse(fixture("harbor/push_artifact.json"));
  payload.event_data.resources[0].tag = tag;
  payload.event_data.repository.repo_full_name = repository;
  const before = apiServer.received.length;
  const answer = await worker.call("POST", hookUrl, {
    headers: { "content-type": "application/json", authorization: "harbor-auth-e2e" }, body: JSON.stringify(payload),
  });
  await worker.settled(answer);
  return { answer, sent: apiServer.received.slice(before) };
}

function swrTrigger(name, application, fields = {}) {
  return {
    action: "update", app_type: "deployments", application, cluster_name: "prod", cluster_ns: "default",
    condition: ".*", container: "", enable: "true", name, trigger_mode: "cce", trigger_type: "all", ...fields,
  };
}

async function createSwr(repoPath, body) {
  const created = await worker.call("POST", repoPath, { headers: swrAdmin, json: body });
  assert.equal(created.status, 201, created.text);
}

before(async () => {
  apiServer = await startMock({ status: 200, json: DEPLOYMENT });
  worker = await startWorker();
  await createCluster(worker, apiServer);
  const registry = await worker.call("POST", "/api/v1/registries", {
    as: "alice", json: { name: "harbor", kind: "harbor", secret: "harbor-auth-e2e" },
  });
  assert.equal(registry.status, 201, registry.text);
  assert.ok(!registry.text.includes("harbor-auth-e2e"), "the secret is write-only");
  hookUrl = registry.body.hook_url;
});

after(async () => {
  await worker?.stop();
  await apiServer?.stop();
});

test("an SWR trigger fires on a Harbor push with a matching tag, and the PATCH carries the image", async () => {
  await createSwr(SWR, swrTrigger("release", "web", { trigger_type: "tag", condition: "v1.0; v1.1" }));
  const { answer, sent } = await push("v1.1");
  assert.equal(answer.status, 202, answer.text);
  assert.deepEqual(sent.map((r) => r.method), ["GET", "PATCH"]);
  assert.equal(sent[1].rawPath, "/apis/apps/v1/namespaces/default/deployments/web");
  assert.equal(sent[1].headers.authorization, "Bearer sa-token-e2e");
  assert.deepEqual(JSON.parse(sent[1].body).spec.template.spec.containers, [
    { name: "alpine", image: "harbor.example.com/harbor/alpine:v1.1" },
  ]);
});

test("a tag that does not meet the condition does not fire", async () => {
  const { answer, sent } = await push("v2.0");
  assert.equal(answer.status, 202, answer.text);
  assert.equal(answer.body.matched, false);
  assert.equal(sent.length, 0);
});

test("a disabled trigger does not fire, and fires again once enabled", async () => {
  const repo = "/v2/manage/namespaces/harbor/repos/alpine$nightly/triggers";
  await createSwr(repo, swrTrigger("nightly", "web", { enable: "false", container: "alpine" }));
  const disabled = await push("n1", "harbor/alpine/nightly");
  assert.equal(disabled.answer.body.matched, false, disabled.answer.text);
  assert.equal(disabled.sent.length, 0);
  const enabled = await worker.call("PATCH", `${repo}/nightly`, { headers: swrAdmin, json: { enable: "true" } });
  assert.equal(enabled.status, 201, enabled.text);
  const fired = await push("n1", "harbor/alpine/nightly");
  assert.equal(fired.answer.status, 202);
  assert.deepEqual(fired.sent.map((r) => r.method), ["GET", "PATCH"]);
});

test("trigger_history records both success and failure", async () => {
  apiServer.script.push({ status: 404, json: { kind: "Status", message: "deployments.apps \"web\" not found", code: 404 } });
  const { answer } = await push("v1.0");
  assert.equal(answer.status, 202, answer.text);
  const trigger = await worker.call("GET", `${SWR}/release`, { headers: swrAdmin });
  assert.equal(trigger.status, 200, trigger.text);
  assert.equal(trigger.body.creator_name, "alice");
  const results = trigger.body.trigger_history.map((h) => [h.result, h.tag]);
  assert.deepEqual(results.sort(), [["failed", "v1.0"], ["success", "v1.1"]]);
  const failed = trigger.body.trigger_history.find((h) => h.result === "failed");
  assert.match(failed.detail, /not found/);
  assert.equal(failed.cluster_name, "prod");
});

test("one registry webhook fans out to two triggers", async () => {
  const repo = "/v2/manage/namespaces/harbor/repos/alpine$fanout/triggers";
  await createSwr(repo, swrTrigger("web", "web", { container: "alpine" }));
  await createSwr(repo, swrTrigger("worker", "worker", { container: "alpine" }));
  const listed = await worker.call("GET", repo, { headers: swrAdmin });
  assert.deepEqual(listed.body.map((t) => t.name).sort(), ["web", "worker"]);
  const { answer, sent } = await push("v7", "harbor/alpine/fanout");
  assert.equal(answer.status, 202, answer.text);
  assert.equal(answer.body.deliveries.length, 2);
  const patched = sent.filter((r) => r.method === "PATCH").map((r) => r.rawPath).sort();
  assert.deepEqual(patched, [
    "/apis/apps/v1/namespaces/default/deployments/web",
    "/apis/apps/v1/namespaces/default/deployments/worker",
  ]);
});

test("an ACK trigger invoked through /hook/trigger?token= PATCHes restartedAt", async () => {
  const created = await worker.call("POST", "/clusters/prod/triggers", {
    as: "alice", json: { project_id: "default/web", action: "redeploy", type: "deployment" },
  });
  assert.equal(created.status, 200, created.text);
  assert.deepEqual(Object.keys(created.body).sort(), ["action", "cluster_id", "id", "project_id", "token", "type"]);
  const started = Date.now();
  const before = apiServer.received.length;
  const answer = await worker.call("GET", `/hook/trigger?token=${created.body.token}`);
  assert.equal(answer.status, 200, answer.text);
  const sent = apiServer.received.slice(before);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].method, "PATCH");
  assert.equal(sent[0].rawPath, "/apis/apps/v1/namespaces/default/deployments/web");
  const restartedAt = JSON.parse(sent[0].body).spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"];
  assert.ok(Math.abs(Date.parse(restartedAt) - started) < 60_000, restartedAt);

  const described = await worker.call("GET", "/clusters/prod/triggers?Namespace=default&Name=web", { as: "alice" });
  assert.deepEqual(described.body.map((t) => t.id), [created.body.id]);
  assert.equal((await worker.call("POST", "/hook/trigger?token=hrtt_wrong")).status, 404);
  const revoked = await worker.call("DELETE", `/clusters/prod/triggers/${created.body.id}`, { as: "alice" });
  assert.deepEqual([revoked.status, revoked.body], [200, {}]);
  assert.equal((await worker.call("GET", `/hook/trigger?token=${created.body.token}`)).status, 404);
});

test("an ACK application token sets only its own container, from its own repository (issue 14, F8)", async () => {
  const created = await worker.call("POST", "/clusters/prod/triggers", { as: "alice", json: {
    project_id: "default/web", action: "redeploy", type: "application",
    container: "app", image_repository: "registry.example.com/shop/web",
  } });
  assert.equal(created.status, 200, created.text);
  const invoke = (containers) => worker.call("POST", `/hook/trigger?token=${created.body.token}`, { json: {
    resource: { deployment: { metadata: { name: "web" }, spec: { template: { spec: { containers } } } } },
  } });
  const before = apiServer.received.length;
  for (const attack of [
    [{ name: "sidecar", image: "evil.example/backdoor:latest" }],
    [{ name: "app", image: "evil.example/shop/web:v9" }],
  ]) {
    const refused = await invoke(attack);
    assert.equal(refused.status, 400, refused.text);
  }
  assert.equal(apiServer.received.length, before, "nothing reached the API server");
  const answer = await invoke([{ name: "app", image: "registry.example.com/shop/web:v9" }]);
  assert.equal(answer.status, 200, answer.text);
  const [sent] = apiServer.received.slice(before);
  assert.equal(sent.method, "PATCH");
  assert.deepEqual(JSON.parse(sent.body).spec.template.spec.containers,
    [{ name: "app", image: "registry.example.com/shop/web:v9" }]);
});

test("an image trigger on an ack target POSTs the application body to the ACK trigger URL", async () => {
  const target = await worker.call("POST", "/api/v1/targets", { as: "alice", json: {
    name: "ack-web", kind: "ack", type: "application", registry: "registry.example.com",
    url: `${apiServer.url}/hook/trigger?token=ack-token-e2e`,
  } });
  assert.equal(target.status, 201, target.text);
  assert.ok(!target.text.includes("ack-token-e2e"), "the URL's token is write-only");
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: {
    target: "ack-web", kind: "image", repository: "harbor/ack-app",
    workload: { namespace: "default", name: "web", container: "app" },
  } });
  assert.equal(trigger.status, 201, trigger.text);
  const { answer, sent: [sent] } = await push("v3", "harbor/ack-app");
  assert.equal(answer.status, 202, answer.text);
  assert.equal(sent.method, "POST");
  assert.equal(sent.rawPath, "/hook/trigger");
  assert.equal(sent.query.get("token"), "ack-token-e2e");
  assert.deepEqual(JSON.parse(sent.body), { resource: { deployment: {
    metadata: { name: "web" },
    spec: { template: { spec: { containers: [{ name: "app", image: "registry.example.com/harbor/ack-app:v3" }] } } },
  } } });
});
