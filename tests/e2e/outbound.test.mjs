// The outbound policy (SSRF) in production mode, with ALLOW_HTTP_TARGETS unset: targets must be
// public https hosts, and nothing is stored for a refused one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startWorker } from "./harness.mjs";

let worker;

before(async () => {
  worker = await startWorker({ bindings: { ALLOW_HTTP_TARGETS: "" } });
});

after(async () => {
  await worker?.stop();
});

test("production refuses http, private, loopback and link-local targets, naming the field", async () => {
  const cases = [
    [{ kind: "http", url: "http://deploy.example.com/hook" }, /^url must use https/],
    [{ kind: "http", url: "https://127.0.0.1:8787/hook" }, /^url must not point at a private, loopback or link-local address/],
    [{ kind: "http", url: "https://169.254.169.254/latest/meta-data" }, /^url must not point at a private/],
    [{ kind: "kubernetes", api_server: "https://10.0.0.1:6443", token: "t" }, /^api_server must not point at a private/],
    [{ kind: "github", repository: "o/r", workflow: "w.yml", token: "t", api_url: "https://[::1]/" }, /^api_url must not point/],
    [{ kind: "http", url: "https://user:pass@deploy.example.com/hook" }, /credentials/],
  ];
  for (const [spec, message] of cases) {
    const refused = await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "t", ...spec } });
    assert.equal(refused.status, 400, JSON.stringify(spec));
    assert.match(refused.body.message, message);
  }
  const listed = await worker.call("GET", "/api/v1/targets", { as: "alice" });
  assert.deepEqual(listed.body, [], "nothing stored");
  const ok = await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "t", kind: "http", url: "https://deploy.example.com/hook" } });
  assert.equal(ok.status, 201, ok.text);
  const patched = await worker.call("PATCH", "/api/v1/targets/t", { as: "alice", json: { url: "https://192.168.0.10/hook" } });
  assert.equal(patched.status, 400);
});

test("the audit trail holds the successful mutations only, with who and which ids", async () => {
  const trail = await worker.call("GET", "/api/v1/audit", { as: "alice" });
  assert.equal(trail.status, 200, trail.text);
  assert.deepEqual(trail.body.entries.map((e) => [e.action, e.admin, e.status]), [["POST /api/v1/targets", "alice", 201]]);
  const target = await worker.call("GET", "/api/v1/targets/t", { as: "alice" });
  assert.equal(trail.body.entries[0].ids.created, target.body.id);
  assert.ok(!Number.isNaN(Date.parse(trail.body.entries[0].at)));
});
