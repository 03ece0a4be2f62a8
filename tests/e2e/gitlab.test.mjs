// GitLab-compatible pipeline triggers, end to end: the built worker in workerd, real local KV,
// and a recording mock GitLab on 127.0.0.1.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startMock, closedPort, fixture } from "./harness.mjs";

let worker, gitlab;
let target, otherTarget, aliceTrigger, bobTrigger;
const REAL_TOKEN = "glptt-real-downstream-token";

before(async () => {
  gitlab = await startMock({ status: 201, json: { id: 42, sha: "abc", ref: "main", status: "created" } });
  worker = await startWorker();
});

after(async () => {
  await worker?.stop();
  await gitlab?.stop();
});

/** The form fields the mock received, from a urlencoded body or the query string. */
function fieldsOf(received) {
  const params = received.body && received.headers["content-type"]?.includes("urlencoded")
    ? new URLSearchParams(received.body)
    : received.query;
  return Object.fromEntries(params);
}

test("public routes answer without a token; admin routes refuse without one", async () => {
  assert.equal((await worker.call("GET", "/healthz")).status, 200);
  const spec = await worker.call("GET", "/openapi.json");
  assert.equal(spec.status, 200);
  assert.ok(spec.body.paths["/api/v4/projects/{id}/trigger/pipeline"].post);
  const denied = await worker.call("GET", "/api/v1/targets");
  assert.equal(denied.status, 401);
  assert.deepEqual(Object.keys(denied.body).sort(), ["error", "message"]);
  const wrong = await worker.call("GET", "/api/v1/targets", { headers: { "private-token": "nope" } });
  assert.equal(wrong.status, 401);
  assert.equal((await worker.call("GET", "/api/v4/projects/x/triggers")).body.message, "401 Unauthorized");
});

test("a gitlab target is created with a write-only token", async () => {
  const created = await worker.call("POST", "/api/v1/targets", {
    as: "alice",
    json: { name: "web-ci", kind: "gitlab", url: gitlab.url, project: "group/app", token: REAL_TOKEN },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.token_set, true);
  assert.ok(!created.text.includes(REAL_TOKEN), "the credential must never come back");
  target = created.body;

  const byName = await worker.call("GET", "/api/v1/targets/web-ci", { as: "bob" });
  assert.equal(byName.body.id, target.id);
  assert.ok(!byName.text.includes(REAL_TOKEN));
  const duplicate = await worker.call("POST", "/api/v1/targets", {
    as: "bob", json: { name: "web-ci", kind: "http", url: gitlab.url },
  });
  assert.equal(duplicate.status, 409);
  const invalid = await worker.call("POST", "/api/v1/targets", { as: "bob", json: { name: "x", kind: "gitlab", url: "nope" } });
  assert.equal(invalid.status, 400);

  otherTarget = (await worker.call("POST", "/api/v1/targets", {
    as: "bob", json: { name: "other", kind: "gitlab", url: gitlab.url, project: 7, token: "glptt-other" },
  })).body;
  assert.equal(otherTarget.project, "7");
});

test("triggers made by two admins through both APIs: only the creator sees the full token, on every read", async () => {
  const native = await worker.call("POST", "/api/v1/triggers", {
    as: "alice", json: { target: "web-ci", description: "from alice", refs: ["main", "master", "release/*"] },
  });
  assert.equal(native.status, 201, native.text);
  assert.match(native.body.token, /^hrtt_[0-9a-f]{48}$/);
  assert.equal(native.body.owner, "alice");
  aliceTrigger = native.body;

  const form = new FormData();
  form.append("description", "from bob");
  const viaGitlab = await worker.call("POST", `/api/v4/projects/${target.id}/triggers`, {
    headers: { "PRIVATE-TOKEN": "tok-bob-e2e" }, body: form,
  });
  assert.equal(viaGitlab.status, 201, viaGitlab.text);
  assert.match(viaGitlab.body.token, /^hrtt_[0-9a-f]{48}$/);
  assert.equal(viaGitlab.body.owner.username, "bob");
  assert.equal(viaGitlab.body.description, "from bob");
  for (const key of ["id", "token", "description", "created_at", "updated_at", "last_used", "expires_at", "owner"]) {
    assert.ok(key in viaGitlab.body, `GitLab entity has ${key}`);
  }
  bobTrigger = viaGitlab.body;

  // Later, as GitLab does, its creator reads the full token back; everyone else the first four characters.
  const listed = await worker.call("GET", "/api/v4/projects/web-ci/triggers", { as: "alice" });
  assert.equal(listed.status, 200);
  assert.equal(listed.body.length, 2);
  const byId = Object.fromEntries(listed.body.map((entity) => [entity.id, entity.token]));
  assert.deepEqual([byId[aliceTrigger.id], byId[bobTrigger.id]], [aliceTrigger.token, "hrtt"]);
  assert.ok(!listed.text.includes(bobTrigger.token), "not bob's, to alice");
  const one = await worker.call("GET", `/api/v4/projects/web-ci/triggers/${bobTrigger.id}`, { as: "alice" });
  assert.equal(one.body.token, "hrtt");
  const own = await worker.call("GET", `/api/v4/projects/web-ci/triggers/${bobTrigger.id}`, { as: "bob" });
  assert.equal(own.body.token, bobTrigger.token, "bob reads his own back");
  const nativeList = await worker.call("GET", `/api/v1/triggers?target=${target.id}`, { as: "bob" });
  assert.deepEqual(nativeList.body.triggers.map((t) => t.id).sort(), [aliceTrigger.id, bobTrigger.id].sort());
  assert.ok(!nativeList.text.includes(aliceTrigger.token), "not alice's, to bob");

  const updated = await worker.call("PUT", `/api/v4/projects/web-ci/triggers/${bobTrigger.id}`, {
    as: "bob", json: { description: "renamed" },
  });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.description, "renamed");
  const missingDescription = await worker.call("POST", "/api/v4/projects/web-ci/triggers", { as: "bob", json: {} });
  assert.equal(missingDescription.status, 400);
  const wrongProject = await worker.call("GET", `/api/v4/projects/other/triggers/${bobTrigger.id}`, { as: "bob" });
  assert.equal(wrongProject.status, 404);
});

async function fire(route, options) {
  const before = gitlab.received.length;
  const answer = await worker.call("POST", route, options);
  return { answer, sent: gitlab.received.slice(before) };
}

test("an urlencoded form reaches GitLab's pipeline trigger with the real token, ref and variables", async () => {
  const body = new URLSearchParams({ token: aliceTrigger.token, ref: "main", "variables[UPLOAD_TO_S3]": "true" });
  const { answer, sent } = await fire("/api/v4/projects/web-ci/trigger/pipeline", { body });
  assert.equal(answer.status, 201, answer.text);
  assert.deepEqual(answer.body, { id: 42, sha: "abc", ref: "main", status: "created" });
  assert.equal(sent.length, 1);
  assert.equal(sent[0].rawPath, "/api/v4/projects/group%2Fapp/trigger/pipeline");
  assert.deepEqual(fieldsOf(sent[0]), { token: REAL_TOKEN, ref: "main", "variables[UPLOAD_TO_S3]": "true" });
});

test("a multipart form, as curl --form sends it, works the same", async () => {
  const form = new FormData();
  form.append("token", bobTrigger.token);
  form.append("ref", "release/1.0");
  form.append("variables[NOTE]", "two words");
  const { answer, sent } = await fire(`/api/v4/projects/${target.id}/trigger/pipeline`, { body: form });
  assert.equal(answer.status, 201, answer.text);
  assert.deepEqual(fieldsOf(sent[0]), { token: REAL_TOKEN, ref: "release/1.0", "variables[NOTE]": "two words" });
});

test("token, ref and variables in the query string work", async () => {
  const query = `token=${aliceTrigger.token}&ref=master&variables[A]=1&variables[B]=x%20y`;
  const { answer, sent } = await fire(`/api/v4/projects/web-ci/trigger/pipeline?${query}`, {});
  assert.equal(answer.status, 201, answer.text);
  assert.deepEqual(fieldsOf(sent[0]), { token: REAL_TOKEN, ref: "master", "variables[A]": "1", "variables[B]": "x y" });
});

test("a JSON body works", async () => {
  const { answer, sent } = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    json: { token: aliceTrigger.token, ref: "main", variables: { DEPLOY: "prod" } },
  });
  assert.equal(answer.status, 201, answer.text);
  assert.deepEqual(fieldsOf(sent[0]), { token: REAL_TOKEN, ref: "main", "variables[DEPLOY]": "prod" });
});

test("the webhook form: the path's ref wins and the payload is passed on", async () => {
  const payload = fixture("gitlab/push.json"); // its own ref is refs/heads/master
  const route = `/api/v4/projects/web-ci/ref/release%2F2.0/trigger/pipeline?token=${aliceTrigger.token}&variables[FROM]=hook`;
  const { answer, sent } = await fire(route, { headers: { "content-type": "application/json" }, body: payload });
  assert.equal(answer.status, 201, answer.text);
  assert.equal(sent[0].rawPath, "/api/v4/projects/group%2Fapp/ref/release%2F2.0/trigger/pipeline");
  assert.deepEqual(Object.fromEntries(sent[0].query), { token: REAL_TOKEN, "variables[FROM]": "hook" });
  assert.equal(sent[0].body, payload);
  assert.equal(sent[0].headers["content-type"], "application/json");
});

test("the legacy v3 trigger/builds forms behave the same", async () => {
  const plain = await fire("/api/v3/projects/web-ci/trigger/builds", {
    body: new URLSearchParams({ token: bobTrigger.token, ref: "main" }),
  });
  assert.equal(plain.answer.status, 201, plain.answer.text);
  assert.deepEqual(fieldsOf(plain.sent[0]), { token: REAL_TOKEN, ref: "main" });
  const hook = await fire(`/api/v3/projects/web-ci/ref/master/trigger/builds?token=${bobTrigger.token}&variables[UPLOAD_TO_S3]=true`, {});
  assert.equal(hook.answer.status, 201, hook.answer.text);
  assert.equal(hook.sent[0].rawPath, "/api/v4/projects/group%2Fapp/trigger/pipeline");
  assert.deepEqual(fieldsOf(hook.sent[0]), { token: REAL_TOKEN, ref: "master", "variables[UPLOAD_TO_S3]": "true" });
});

test("unknown tokens and tokens of another project get GitLab's 404, and nothing is sent", async () => {
  const unknown = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: "hrtt_" + "0".repeat(48), ref: "main" }),
  });
  assert.equal(unknown.answer.status, 404);
  assert.deepEqual(unknown.answer.body, { message: "404 Not Found" });
  const otherProject = await fire("/api/v4/projects/other/trigger/pipeline", {
    body: new URLSearchParams({ token: aliceTrigger.token, ref: "main" }),
  });
  assert.equal(otherProject.answer.status, 404);
  assert.deepEqual(otherProject.answer.body, { message: "404 Not Found" });
  assert.equal(unknown.sent.length + otherProject.sent.length, 0);
});

test("a commit SHA as ref and a ref outside the allow-list get 400, and nothing is sent", async () => {
  const sha = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: aliceTrigger.token, ref: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" }),
  });
  assert.equal(sha.answer.status, 400);
  assert.match(sha.answer.body.message, /commit SHA/);
  const outside = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: aliceTrigger.token, ref: "feature/x" }),
  });
  assert.equal(outside.answer.status, 400);
  assert.match(outside.answer.body.message, /not allowed/);
  const missing = await fire("/api/v4/projects/web-ci/trigger/pipeline", { body: new URLSearchParams({ ref: "main" }) });
  assert.equal(missing.answer.status, 400);
  assert.equal(sha.sent.length + outside.sent.length + missing.sent.length, 0);
});

test("an expired trigger's token gets 404", async () => {
  const expired = await worker.call("POST", "/api/v1/triggers", {
    as: "alice", json: { target: "web-ci", description: "old", expires_at: "2020-01-01T00:00:00Z" },
  });
  assert.equal(expired.status, 201);
  const { answer, sent } = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: expired.body.token, ref: "main" }),
  });
  assert.equal(answer.status, 404);
  assert.equal(sent.length, 0);
  // Renewing the expiry brings it back; clearing it with null keeps it valid.
  const renewed = await worker.call("PATCH", `/api/v1/triggers/${expired.body.id}`, { as: "alice", json: { expires_at: null } });
  assert.equal(renewed.body.expires_at, null);
  const again = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: expired.body.token, ref: "main" }),
  });
  assert.equal(again.answer.status, 201);
});

test("last_used comes from the newest delivery record", async () => {
  const first = await worker.call("GET", `/api/v1/triggers/${aliceTrigger.id}`, { as: "alice" });
  assert.ok(first.body.last_used, "fired above, so last_used is set");
  assert.ok(Date.parse(first.body.last_used) >= Date.parse(aliceTrigger.created_at));
  await new Promise((resolve) => setTimeout(resolve, 5));
  await fire("/api/v4/projects/web-ci/trigger/pipeline", { body: new URLSearchParams({ token: aliceTrigger.token, ref: "main" }) });
  const second = await worker.call("GET", `/api/v4/projects/web-ci/triggers/${aliceTrigger.id}`, { as: "bob" });
  assert.ok(Date.parse(second.body.last_used) > Date.parse(first.body.last_used), "the newer use");
  const newest = await worker.call("GET", `/api/v1/triggers/${aliceTrigger.id}/deliveries?limit=1`, { as: "alice" });
  assert.equal(Date.parse(newest.body.deliveries[0].at), Date.parse(second.body.last_used));
});

test("a revoked trigger's token gets 404, irreversibly", async () => {
  const revoked = await worker.call("DELETE", `/api/v4/projects/web-ci/triggers/${bobTrigger.id}`, { as: "alice" });
  assert.equal(revoked.status, 204);
  const { answer, sent } = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: bobTrigger.token, ref: "main" }),
  });
  assert.equal(answer.status, 404);
  assert.equal(sent.length, 0);
  assert.equal((await worker.call("GET", `/api/v1/triggers/${bobTrigger.id}`, { as: "alice" })).status, 404);
});

test("an unreachable target is queued for retry: 202 pending, and the record names the target", async () => {
  const port = await closedPort();
  const down = await worker.call("POST", "/api/v1/targets", {
    as: "alice", json: { name: "down-ci", kind: "gitlab", url: `http://127.0.0.1:${port}`, project: "1", token: "glptt-x" },
  });
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: down.body.id } });
  const answer = await worker.call("POST", "/api/v4/projects/down-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: trigger.body.token, ref: "main" }),
  });
  assert.equal(answer.status, 202, answer.text);
  assert.equal(answer.body.state, "pending");
  const record = await worker.delivery(answer.body.delivery_id, { until: ["dead"] });
  assert.equal(record.attempts.length, 3, "RETRY_MAX_ATTEMPTS under test");
  assert.ok(record.attempts.every((a) => a.status === null && /'down-ci' is unreachable/.test(a.excerpt)));
  assert.ok(!JSON.stringify(record).includes("glptt-x"), "no credential in the record");
});

test("the target's own error status is relayed as it is", async () => {
  gitlab.script.push({ status: 400, json: { message: { base: ["Reference not found"] } } });
  const { answer } = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: aliceTrigger.token, ref: "main" }),
  });
  assert.equal(answer.status, 400);
  assert.deepEqual(answer.body, { message: { base: ["Reference not found"] } });
});

test("a target with triggers cannot be deleted; targets can be renamed; state survives a restart", async () => {
  assert.equal((await worker.call("DELETE", "/api/v1/targets/web-ci", { as: "bob" })).status, 409);
  const renamed = await worker.call("PATCH", `/api/v1/targets/${otherTarget.id}`, { as: "bob", json: { name: "other-2" } });
  assert.equal(renamed.status, 200);
  assert.equal((await worker.call("GET", "/api/v1/targets/other", { as: "bob" })).status, 404);
  assert.equal((await worker.call("DELETE", "/api/v1/targets/other-2", { as: "bob" })).status, 204);

  await worker.stop();
  worker = await startWorker({ persistTo: worker.kvDir });
  const survived = await worker.call("GET", "/api/v1/targets/web-ci", { as: "alice" });
  assert.equal(survived.status, 200);
  const { answer } = await fire("/api/v4/projects/web-ci/trigger/pipeline", {
    body: new URLSearchParams({ token: aliceTrigger.token, ref: "main" }),
  });
  assert.equal(answer.status, 201);
});
