// The github, jenkins and templated http targets end to end, each against a recording mock on
// 127.0.0.1, fired by a token call. Every outbound request carries the delivery id as Idempotency-Key.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker, startMock } from "./harness.mjs";

let worker, mock;

before(async () => {
  mock = await startMock({ status: 204 });
  worker = await startWorker();
});

after(async () => {
  await worker?.stop();
  await mock?.stop();
});

/** Creates the target and a token trigger on it, fires it through the GitLab form, returns what the mock saw. */
async function fire(target, fields = {}) {
  const created = await worker.call("POST", "/api/v1/targets", { as: "alice", json: target });
  assert.equal(created.status, 201, created.text);
  const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: target.name } });
  const before = mock.received.length;
  const answer = await worker.call("POST", `/api/v4/projects/${encodeURIComponent(target.name)}/trigger/pipeline`, {
    body: new URLSearchParams({ token: trigger.body.token, ref: "main", ...fields }),
  });
  const sent = mock.received.slice(before);
  assert.equal(sent.length, 1);
  return { answer, sent: sent[0], created };
}

test("github: a workflow_dispatch with GitHub's headers, relayed 204", async () => {
  const { answer, sent, created } = await fire(
    { name: "gh", kind: "github", repository: "octo/app", workflow: "deploy.yml", token: "ghp_e2e", api_url: mock.url },
    { "variables[ENV]": "prod" },
  );
  assert.equal(answer.status, 204);
  assert.ok(!created.text.includes("ghp_e2e"));
  assert.equal(sent.rawPath, "/repos/octo/app/actions/workflows/deploy.yml/dispatches");
  assert.equal(sent.headers.authorization, "Bearer ghp_e2e");
  assert.equal(sent.headers.accept, "application/vnd.github+json");
  assert.equal(sent.headers["x-github-api-version"], "2022-11-28");
  assert.match(sent.headers["user-agent"], /^hookrelay\//);
  assert.match(sent.headers["idempotency-key"], /^[0-9a-f]{32}-\d{13}[0-9a-f]{8}$/);
  assert.deepEqual(JSON.parse(sent.body), { ref: "main", inputs: { ENV: "prod" } });
});

test("jenkins: buildWithParameters in a folder, Basic auth, form parameters", async () => {
  mock.script.push({ status: 201 });
  const { answer, sent } = await fire(
    { name: "jk", kind: "jenkins", url: mock.url, job: "team/web", user: "bot", api_token: "11aa" },
    { "variables[ENV]": "qa" },
  );
  assert.equal(answer.status, 201);
  assert.equal(sent.rawPath, "/job/team/job/web/buildWithParameters");
  assert.equal(sent.headers.authorization, `Basic ${Buffer.from("bot:11aa").toString("base64")}`);
  assert.deepEqual(Object.fromEntries(new URLSearchParams(sent.body)), { ENV: "qa", REF: "main" });
});

test("http: a body template is filled in, JSON-escaped", async () => {
  mock.script.push({ status: 200, json: { ok: true } });
  const { answer, sent } = await fire(
    { name: "render", kind: "http", url: `${mock.url}/deploy`, body_template: '{"branch":"{{branch}}","note":"{{variables.NOTE}}","id":"{{delivery_id}}"}' },
    { "variables[NOTE]": 'say "hi"' },
  );
  assert.equal(answer.status, 200);
  const body = JSON.parse(sent.body);
  assert.deepEqual([body.branch, body.note], ["main", 'say "hi"']);
  assert.equal(body.id, sent.headers["idempotency-key"]);
});

test("a token caller's answer is scrubbed of the target's credentials", async () => {
  mock.script.push({ status: 200, json: { echoed: { "x-key": "xk-e2e-echoed", url: "/hook?key=rk-e2e-query" } } });
  const { answer, sent } = await fire({
    name: "echo", kind: "http", url: `${mock.url}/hook?key=rk-e2e-query`, headers: { "X-Key": "xk-e2e-echoed" },
  });
  assert.equal(sent.headers["x-key"], "xk-e2e-echoed", "the target gets it");
  assert.equal(answer.status, 200);
  assert.ok(!answer.text.includes("xk-e2e-echoed") && !answer.text.includes("rk-e2e-query"), answer.text);
  const view = await worker.call("GET", "/api/v1/targets/echo", { as: "alice" });
  assert.equal(view.body.url, `${mock.url}/hook?***`);
});

test("moving a target to another host drops its token unless the move supplies it again", async () => {
  const other = await startMock({ status: 201, json: { id: 2 } });
  try {
    const target = { name: "moved", kind: "gitlab", url: mock.url, project: "9", token: "glptt-e2e-moved" };
    assert.equal((await worker.call("POST", "/api/v1/targets", { as: "alice", json: target })).status, 201);
    const trigger = await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "moved" } });
    const fireNow = () => worker.call("POST", "/api/v4/projects/moved/trigger/pipeline", {
      body: new URLSearchParams({ token: trigger.body.token, ref: "main" }),
    });
    const patched = await worker.call("PATCH", "/api/v1/targets/moved", { as: "alice", json: { url: other.url } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual([patched.body.credentials_dropped, patched.body.token_set], [["token"], false]);
    const refused = await fireNow();
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.body.message, /token is missing/);
    assert.equal(other.received.length, 0, "the new host received nothing, and no token");

    const supplied = { url: other.url, token: "glptt-e2e-new" };
    const again = await worker.call("PATCH", "/api/v1/targets/moved", { as: "alice", json: supplied });
    assert.deepEqual(again.body.credentials_dropped, []);
    assert.equal((await fireNow()).status, 201);
    assert.equal(new URLSearchParams(other.last().body).get("token"), "glptt-e2e-new");
  } finally {
    await other.stop();
  }
});
