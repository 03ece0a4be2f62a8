// The kubernetes target end to end: a recording mock API server on 127.0.0.1 answers GET with a
// deployment and records each PATCH.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startMock, createCluster, fixture } from "./harness.mjs";

const DEPLOYMENT = {
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "prod" },
  spec: { template: { spec: { containers: [
    { name: "alpine", image: "harbor.example.com/harbor/alpine:3.17" },
    { name: "proxy", image: "envoyproxy/envoy:v1.30" },
  ] } } },
};
let worker, apiServer;

before(async () => {
  apiServer = await startMock({ status: 200, json: DEPLOYMENT });
  worker = await startWorker();
  await createCluster(worker, apiServer);
});

after(async () => {
  await worker?.stop();
  await apiServer?.stop();
});

test("a Harbor push sets the image of the containers running it, after reading the deployment", async () => {
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: {
    target: "prod", source: { kind: "harbor" }, repository: "harbor/alpine",
    workload: { namespace: "prod", kind: "deployments", name: "web", action: "set-image" },
  } });
  assert.equal(trigger.status, 201, trigger.text);
  const before = apiServer.received.length;
  const answer = await worker.call("POST", trigger.body.hook_url, { headers: { "content-type": "application/json" }, body: fixture("harbor/push_artifact.json") });
  assert.equal(answer.status, 202, answer.text);
  await worker.settled(answer);
  const [read, patch] = apiServer.received.slice(before);
  assert.equal(read.method, "GET");
  assert.equal(read.rawPath, "/apis/apps/v1/namespaces/prod/deployments/web");
  assert.equal(read.headers.authorization, "Bearer sa-token-e2e");
  assert.equal(patch.method, "PATCH");
  assert.equal(patch.headers["content-type"], "application/strategic-merge-patch+json");
  assert.deepEqual(JSON.parse(patch.body).spec.template.spec.containers, [
    { name: "alpine", image: "harbor.example.com/harbor/alpine@sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4" },
  ]);
});

test("a token call restarts a deployment the way kubectl rollout restart does", async () => {
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: {
    target: "prod", workload: { namespace: "prod", name: "web" },
  } });
  const started = Date.now();
  const before = apiServer.received.length;
  const answer = await worker.call("POST", "/api/v4/projects/prod/trigger/pipeline", {
    body: new URLSearchParams({ token: trigger.body.token, ref: "main" }),
  });
  assert.equal(answer.status, 200, answer.text);
  const sent = apiServer.received.slice(before);
  assert.equal(sent.length, 1, "a restart needs no read");
  assert.equal(sent[0].method, "PATCH");
  const restartedAt = JSON.parse(sent[0].body).spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"];
  assert.ok(Math.abs(Date.parse(restartedAt) - started) < 60_000, restartedAt);
});

test("a 404 from the API server is relayed as the failure it is", async () => {
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: {
    target: "prod", workload: { namespace: "prod", name: "gone" },
  } });
  apiServer.script.push({ status: 404, json: { kind: "Status", message: "deployments.apps \"gone\" not found", code: 404 } });
  const answer = await worker.call("POST", "/api/v4/projects/prod/trigger/pipeline", {
    body: new URLSearchParams({ token: trigger.body.token, ref: "main" }),
  });
  assert.equal(answer.status, 404);
  assert.match(answer.body.message, /not found/);
});
