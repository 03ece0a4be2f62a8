// Registry webhooks end to end: real Docker Hub and Harbor payloads posted to image hook triggers
// on the built worker; a recording mock deploy hook on 127.0.0.1 sees what fired.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startMock, fixture } from "./harness.mjs";

let worker, deploy;

before(async () => {
  deploy = await startMock({ status: 200, json: { deployed: true } });
  worker = await startWorker();
  const target = await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "deploy", kind: "http", url: `${deploy.url}/deploy` } });
  assert.equal(target.status, 201, target.text);
});

after(async () => {
  await worker?.stop();
  await deploy?.stop();
});

async function imageTrigger(fields) {
  const created = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "deploy", ...fields } });
  assert.equal(created.status, 201, created.text);
  assert.ok(!created.text.includes("registry-secret"));
  return created.body.hook_url;
}

async function post(url, file, headers = {}) {
  const before = deploy.received.length;
  const answer = await worker.call("POST", url, { headers: { "content-type": "application/json", ...headers }, body: fixture(file) });
  await worker.settled(answer);
  return { answer, sent: deploy.received.slice(before) };
}

test("Docker Hub: a tag in the SWR tag list fires, with the secret in the query", async () => {
  const url = await imageTrigger({ source: { kind: "dockerhub", secrets: ["registry-secret"] }, repository: "svendowideit/testhook", trigger_type: "tag", condition: "stable; latest" });
  const refused = await post(url, "dockerhub/push.json");
  assert.equal(refused.answer.status, 401);
  assert.equal(refused.sent.length, 0);
  const { answer, sent } = await post(`${url}?secret=registry-secret`, "dockerhub/push.json");
  assert.equal(answer.status, 202, answer.text);
  assert.equal(sent.length, 1);
  const call = JSON.parse(sent[0].body);
  assert.equal(call.ref, "latest");
  assert.equal(call.variables.HOOKRELAY_IMAGE, "svendowideit/testhook:latest");
  assert.equal(call.variables.HOOKRELAY_EVENT, "image_push");
});

test("a tag outside the condition does not fire", async () => {
  const url = await imageTrigger({ source: { kind: "dockerhub" }, trigger_type: "regular", condition: "v[0-9]+" });
  const { answer, sent } = await post(url, "dockerhub/push.json");
  assert.equal(answer.status, 202);
  assert.equal(answer.body.matched, false);
  assert.equal(sent.length, 0);
});

test("Harbor: PUSH_ARTIFACT with the Authorization secret fires; a pull does not", async () => {
  // The published example is a push by digest, which no tag condition matches: filter by repository only.
  const url = await imageTrigger({ source: { kind: "harbor", secrets: ["registry-secret"] }, repository: "harbor/alpine" });
  const pushed = await post(url, "harbor/push_artifact.json", { authorization: "registry-secret" });
  assert.equal(pushed.answer.status, 202, pushed.answer.text);
  const call = JSON.parse(pushed.sent[0].body);
  assert.equal(call.variables.HOOKRELAY_REPOSITORY, "harbor/alpine");
  assert.match(call.variables.HOOKRELAY_DIGEST, /^sha256:954b378c/);
  assert.match(call.variables.HOOKRELAY_IMAGE, /^harbor\/alpine@sha256:954b378c/);
  const pulled = await post(url, "harbor/pull_artifact.json", { authorization: "registry-secret" });
  assert.equal(pulled.answer.body.matched, false);
  assert.equal(pulled.sent.length, 0);
});

test("bounds: a 256-byte tag is a 400, 101 events a 413; nothing is queued or forwarded", async () => {
  const url = await imageTrigger({ source: { kind: "distribution" }, repository: "library/test" });
  // The real envelope's manifest push, repeated with the tags given.
  const real = JSON.parse(fixture("distribution/push-envelope.json")).events[0];
  const envelope = (tags) => JSON.stringify({ events: tags.map((tag) => ({ ...real, target: { ...real.target, tag } })) });
  const send = async (body) => {
    const before = deploy.received.length;
    const answer = await worker.call("POST", url, { headers: { "content-type": "application/json" }, body });
    await worker.settled(answer);
    return { answer, sent: deploy.received.slice(before) };
  };
  const longTag = await send(envelope(["t".repeat(256)]));
  assert.deepEqual([longTag.answer.status, longTag.answer.body.message], [400, "tag is longer than 255 bytes"]);
  const many = await send(envelope(Array.from({ length: 101 }, (_, i) => `v${i}`)));
  assert.equal(many.answer.status, 413, many.answer.text);
  assert.match(many.answer.body.message, /at most 100 events/);
  assert.equal(longTag.sent.length + many.sent.length, 0);
  const deliveries = await worker.call("GET", `/api/v1/triggers/${url.split("/").pop()}/deliveries`, { as: "alice" });
  assert.deepEqual(deliveries.body.deliveries, [], "nothing was queued");
  const fine = await send(envelope(["v1"]));
  assert.equal(fine.answer.status, 202, fine.answer.text);
  assert.equal(fine.sent.length, 1);
});
