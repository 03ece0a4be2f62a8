// The vendors' real SDKs against the running worker: python-gitlab and its `gitlab` CLI, Alibaba's
// ACK client and Huawei's SWR and ServiceStage clients, pinned in scripts/sdk-requirements.txt and
// installed by scripts/setup.sh into $SDK_VENV. Each driver in tests/e2e/sdk/ runs a compatible
// API's CRUD, the refusals (wrong secret or token, stale date, tampered body) and, where there is
// one, a firing; it exits non-zero on anything unexpected. Here we check that, and what the mock
// targets received.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { startWorker, startMock, createCluster, rememberSecret, ADMINS, ROOT } from "./harness.mjs";

const ACCESS_KEY = { id: "LTAI5tHookrelayE2E", secret: "hookrelay-e2e-secret-0123456789" };
const DEPLOYMENT = {
  apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "default" },
  spec: { template: { spec: { containers: [{ name: "app", image: "registry.example.com/shop/web:v1" }] } } },
};
let worker, gitlab, apiServer, hookTarget;

function sdkPython() {
  const venv = process.env.SDK_VENV
    ?? execFileSync("bash", ["-c", `source "${ROOT}/scripts/env.sh" && printf %s "$SDK_VENV"`], { encoding: "utf8" });
  const python = path.join(venv, "bin/python");
  assert.ok(fs.existsSync(python), `${python} is missing: run scripts/setup.sh`);
  return python;
}

/** Runs a driver to its end without blocking the event loop (the worker's log must drain). */
function driver(name, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(sdkPython(), [path.join(ROOT, "tests/e2e/sdk", name), worker.url], {
      env: {
        ...process.env, PYTHONDONTWRITEBYTECODE: "1", NO_PROXY: "*", HTTP_PROXY: "", http_proxy: "",
        HOOKRELAY_TOKEN: ADMINS.alice, HOOKRELAY_AK: ACCESS_KEY.id, HOOKRELAY_SK: ACCESS_KEY.secret, ...env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => { stdout += chunk; });
    child.stderr.on("data", (chunk) => { stderr += chunk; });
    child.on("error", reject);
    child.on("close", (status) => {
      let results = null;
      try { results = JSON.parse(stdout.trim().split("\n").pop()); } catch { /* reported below */ }
      resolve({ status, results, output: `${stdout}\n${stderr}`.slice(-8000) });
    });
  });
}

before(async () => {
  gitlab = await startMock({ status: 201, json: { id: 4242, status: "created", ref: "main" } });
  apiServer = await startMock({ status: 200, json: DEPLOYMENT });
  hookTarget = await startMock({ status: 200, json: {} });
  rememberSecret(ACCESS_KEY.secret, "sdk-e2e-hook-secret", "glptt-sdk-e2e");
  worker = await startWorker({ bindings: { ADMIN_ACCESS_KEYS: `alice:${ACCESS_KEY.id}:${ACCESS_KEY.secret}` } });
  const target = await worker.call("POST", "/api/v1/targets", {
    as: "alice", json: { name: "web-ci", kind: "gitlab", url: gitlab.url, project: "group/app", token: "glptt-sdk-e2e" },
  });
  assert.equal(target.status, 201, target.text);
  await createCluster(worker, apiServer);
});

after(async () => {
  await worker?.stop();
  await Promise.all([gitlab, apiServer, hookTarget].map((mock) => mock?.stop()));
});

test("python-gitlab: auth, a trigger's CRUD, and trigger_pipeline reaching the gitlab target", { timeout: 120_000 }, async (t) => {
  const run = await driver("python_gitlab.py", { HOOKRELAY_PROJECT: "web-ci" });
  t.diagnostic(JSON.stringify(run.results));
  assert.equal(run.status, 0, run.output);
  assert.equal(run.results.auth, "alice");
  assert.equal(run.results.trigger_pipeline, 4242, "the gitlab target's pipeline comes back");
  assert.equal(run.results.wrong_token, 401);
  const fired = gitlab.received.filter((r) => r.rawPath.endsWith("/trigger/pipeline"));
  assert.equal(fired.length, 1, JSON.stringify(gitlab.received.map((r) => r.rawPath)));
  assert.equal(fired[0].rawPath, "/api/v4/projects/group%2Fapp/trigger/pipeline");
  assert.match(fired[0].body, /glptt-sdk-e2e/);
  assert.match(fired[0].body, /ENV/);
});

test("the gitlab CLI: project-trigger create, list, get, update, delete; a wrong token refused", { timeout: 120_000 }, async (t) => {
  const run = await driver("gitlab_cli.py", { HOOKRELAY_PROJECT: "web-ci" });
  t.diagnostic(JSON.stringify(run.results));
  assert.equal(run.status, 0, run.output);
  assert.equal(run.results.update, "renamed by the cli");
});

test("Alibaba's ACK client: create, describe, delete; the token fires a restart; wrong secret, stale date, tampered body refused", { timeout: 120_000 }, async (t) => {
  const run = await driver("alibaba_ack.py", { HOOKRELAY_CLUSTER: "prod" });
  t.diagnostic(JSON.stringify(run.results));
  assert.equal(run.status, 0, run.output);
  assert.deepEqual([run.results.wrong_secret, run.results.stale_date, run.results.tampered_body], [401, 401, 401]);
  const patches = apiServer.received.filter((r) => r.method === "PATCH");
  assert.equal(patches.length, 1, "one rollout restart");
  assert.equal(patches[0].rawPath, "/apis/apps/v1/namespaces/default/deployments/web");
  assert.match(patches[0].body, /restartedAt/);
});

test("Huawei's SWR client: a trigger's create, list, show, update, delete; wrong secret, stale date, tampered body refused", { timeout: 120_000 }, async (t) => {
  const run = await driver("huawei_swr.py", { HOOKRELAY_CLUSTER: "prod" });
  t.diagnostic(JSON.stringify(run.results));
  assert.equal(run.status, 0, run.output);
  assert.deepEqual(
    [run.results.wrong_secret, run.results.stale_date, run.results.tampered_body, run.results.delete], [401, 401, 401, 404]);
});

test("Huawei's ServiceStage client: a hook's create, list, delete; wrong secret refused; a signed push reaches the callback", { timeout: 120_000 }, async (t) => {
  const run = await driver("huawei_servicestage.py", { HOOKRELAY_CALLBACK: `${hookTarget.url}/webhook` });
  t.diagnostic(JSON.stringify(run.results));
  assert.equal(run.status, 0, run.output);
  assert.equal(run.results.wrong_secret, 401);
  assert.equal(run.results.delivery, "delivered");
  const pushed = hookTarget.received.filter((r) => r.rawPath === "/webhook");
  assert.equal(pushed.length, 1, "the push reaches the hook's callback");
  assert.match(pushed[0].body, /group\/app/);
});
