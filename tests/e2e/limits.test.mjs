// Hostile and oversized input through the running worker: every case gets a 4xx JSON error that
// says what is wrong, never a 5xx, and changes no stored state.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { withWorkerAndMock, fixture } from "./harness.mjs";

const env = withWorkerAndMock();
const SECRET = "limits-secret";
const deep = (depth) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;

async function state(worker, triggerIds) {
  const targets = (await worker.call("GET", "/api/v1/targets", { as: "alice" })).body;
  const triggers = (await worker.call("GET", "/api/v1/triggers", { as: "alice" })).body;
  const deliveries = [];
  for (const id of triggerIds) deliveries.push((await worker.call("GET", `/api/v1/triggers/${id}/deliveries`, { as: "alice" })).body);
  return JSON.stringify({ targets, triggers, deliveries });
}

test("oversized, malformed and hostile input is refused with a clear 4xx and stores nothing", async () => {
  const { worker, target } = env;
  await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "ci", kind: "http", url: `${target.url}/hook` } });
  const token = (await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "ci" } })).body;
  const hook = (await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "ci", source: { kind: "github", secrets: [SECRET] } } })).body;
  const before = await state(worker, [token.id, hook.id]);
  const fire = "/api/v4/projects/ci/trigger/pipeline";
  const push = fixture("github/push.json");
  const signed = (body) => ({
    "content-type": "application/json",
    "X-Hub-Signature-256": `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`,
    "X-GitHub-Event": "push",
    "X-GitHub-Delivery": crypto.randomUUID(),
  });
  const flip = (text) => text.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
  const manyVariables = new URLSearchParams({ token: token.token, ref: "main" });
  for (let i = 0; i < 201; i++) manyVariables.append(`variables[V${i}]`, "x");

  const cases = [
    ["deep JSON to the admin API", "POST", "/api/v1/targets", { as: "alice", headers: { "content-type": "application/json" }, body: `{"name":${deep(65)}}` }, 400, /deeper than 64/],
    ["deep JSON in a signed webhook", "POST", hook.hook_url, { headers: signed(`{"ref":${deep(70)}}`), body: `{"ref":${deep(70)}}` }, 400, /deeper than 64/],
    ["truncated JSON", "POST", "/api/v1/targets", { as: "alice", headers: { "content-type": "application/json" }, body: '{"name":"x","kind":"http",' }, 400, /./],
    ["a huge number as a name", "POST", "/api/v1/targets", { as: "alice", json: { name: 1e400, kind: "http", url: "https://x.example" } }, 400, /./],
    ["a wrong type in a field", "POST", "/api/v1/triggers", { as: "alice", json: { target: "ci", refs: "main" } }, 400, /./],
    ["an unknown target kind", "POST", "/api/v1/targets", { as: "alice", json: { name: "x", kind: "teamcity", url: "https://x.example" } }, 400, /./],
    ["a name of 256 bytes", "POST", "/api/v1/targets", { as: "alice", json: { name: "n".repeat(256), kind: "http", url: "https://x.example" } }, 400, /name/],
    ["a cron over 100 bytes", "POST", "/api/v1/triggers", { as: "alice", json: { target: "ci", source: { kind: "schedule", cron: `${"1,".repeat(50)}1 * * * *` } } }, 400, /longer than 100 bytes/],
    ["a regex that compiles too large", "POST", "/api/v1/triggers", { as: "alice", json: { target: "ci", source: { kind: "github", secrets: ["s"] }, trigger_type: "regular", condition: "(a{1000}){1000}" } }, 400, /condition/],
    ["invalid UTF-8", "POST", "/api/v1/targets", { as: "alice", headers: { "content-type": "application/json" }, body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }, 400, /./],
    ["a wrong Content-Type", "POST", "/api/v1/targets", { as: "alice", headers: { "content-type": "text/plain" }, body: "{}" }, 415, /application\/json/],
    ["a body over 1 MiB", "POST", fire, { body: "x".repeat(1024 * 1024 + 1) }, 413, /1 MiB/],
    ["201 variables", "POST", fire, { body: manyVariables }, 400, /variables/],
    ["a variable value over 10 KiB", "POST", fire, { body: new URLSearchParams({ token: token.token, ref: "main", "variables[A]": "v".repeat(10 * 1024 + 1) }) }, 400, /10 KiB/],
    ["a ref of 256 bytes", "POST", fire, { body: new URLSearchParams({ token: token.token, ref: "r".repeat(256) }) }, 400, /255 bytes/],
    ["header injection in a variable key", "POST", fire, { body: new URLSearchParams({ token: token.token, ref: "main", "variables[A\r\nX-Evil: 1]": "v" }) }, 400, /variables/],
    ["path traversal in an id", "GET", "/api/v1/triggers/..%2F..%2Fadmin", { as: "alice" }, 404, /./],
    ["a key prefix as an id", "GET", "/api/v1/triggers/trigger:abc", { as: "alice" }, 404, /./],
    ["a signature wrong in one byte", "POST", hook.hook_url, { headers: { ...signed(push), "X-Hub-Signature-256": flip(signed(push)["X-Hub-Signature-256"]) }, body: push }, 401, /X-Hub-Signature-256/],
    ["a signature over another body", "POST", hook.hook_url, { headers: signed(push), body: push.replace("master", "mastex") }, 401, /signature/i],
    ["no signature", "POST", hook.hook_url, { headers: { "content-type": "application/json" }, body: push }, 401, /X-Hub-Signature-256/],
    ["a token wrong in one character", "POST", fire, { body: new URLSearchParams({ token: flip(token.token), ref: "main" }) }, 404, /./],
  ];
  for (const [name, method, route, options, status, message] of cases) {
    const answer = await worker.call(method, route, options);
    assert.equal(answer.status, status, `${name}: ${answer.text.slice(0, 300)}`);
    assert.ok(answer.body && typeof answer.body === "object", `${name}: a JSON body`);
    assert.match(answer.body.message ?? "", message, name);
  }
  assert.equal(await state(worker, [token.id, hook.id]), before, "no stored state changed");
  assert.equal(target.received.length, 0, "nothing was forwarded");
});
