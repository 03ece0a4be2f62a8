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

test("wrong types in every field of every API, and every signature wrong in one byte: 4xx, nothing stored", async () => {
  const { worker, target } = env;
  await worker.call("POST", "/api/v1/targets", { as: "alice", json: { name: "typed", kind: "http", url: `${target.url}/typed` } });
  const hooks = {};
  const secrets = { github: "gh-secret-1", gitea: "gitea-secret-1", gitlab: "gitlab-token-1", bitbucket: "bb-secret-1", standard: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" };
  for (const [kind, secret] of Object.entries(secrets)) {
    hooks[kind] = (await worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "typed", source: { kind, secrets: [secret] } } })).body;
  }
  const before = await state(worker, Object.values(hooks).map((h) => h.id));
  const wrong = (value) => (typeof value === "string" ? [12345, { a: 1 }, ["x"]] : typeof value === "boolean" ? ["yes", 1] : Array.isArray(value) ? ["x", 1] : typeof value === "number" ? ["x", [1]] : ["x", 1]);
  const apis = [
    ["/api/v1/targets", { name: "n1", kind: "http", url: "https://x.example/hook", method: "POST", headers: { A: "b" }, body_template: "{}", content_type: "application/json" }],
    ["/api/v1/targets", { name: "n2", kind: "gitlab", url: "https://gitlab.example.com", project: "9", token: "t" }],
    ["/api/v1/targets", { name: "n3", kind: "kubernetes", api_server: "https://k8s.example.com", token: "t" }],
    ["/api/v1/triggers", { target: "typed", description: "d", refs: ["main"], expires_at: "2030-01-01T00:00:00Z", enabled: true, variables: { A: "1" } }],
    ["/api/v1/triggers", { target: "typed", source: { kind: "github", secrets: ["s"] }, events: ["push"], branches: ["main"], tags: ["v*"], repository: "a/b", ref: "main", trigger_type: "all", condition: ".*" }],
    ["/api/v1/triggers", { target: "typed", source: { kind: "schedule", cron: "* * * * *", ref: "main", variables: { A: "1" } } }],
    ["/api/v1/registries", { name: "r1", kind: "harbor", secret: "s" }],
    ["/api/v4/projects/typed/triggers", { description: "d", expires_at: "2030-01-01" }],
  ];
  // Types a field accepts on purpose: GitLab's project id may be a number, as GitLab allows.
  const accepts = { project: "number" };
  let cases = 0;
  for (const [route, valid] of apis) {
    for (const [field, value] of Object.entries(valid)) {
      for (const bad of wrong(value).filter((v) => typeof v !== accepts[field])) {
        const answer = await worker.call("POST", route, { as: "alice", json: { ...valid, [field]: bad } });
        assert.ok(answer.status >= 400 && answer.status < 500, `${route} ${field}=${JSON.stringify(bad)}: ${answer.status} ${answer.text.slice(0, 200)}`);
        assert.ok(answer.body && typeof answer.body === "object", `${route} ${field}: JSON`);
        cases++;
      }
    }
  }
  const body = fixture("github/push.json");
  const hmac = (key, data) => crypto.createHmac("sha256", key).update(data).digest();
  const whsecKey = Buffer.from(secrets.standard.slice(6), "base64");
  const now = Math.floor(Date.now() / 1000).toString();
  const signed = {
    github: { "X-Hub-Signature-256": `sha256=${hmac(secrets.github, body).toString("hex")}`, "X-GitHub-Event": "push" },
    gitea: { "X-Gitea-Signature": hmac(secrets.gitea, body).toString("hex"), "X-Gitea-Event": "push" },
    gitlab: { "X-Gitlab-Token": secrets.gitlab, "X-Gitlab-Event": "Push Hook" },
    bitbucket: { "X-Hub-Signature": `sha256=${hmac(secrets.bitbucket, body).toString("hex")}`, "X-Event-Key": "repo:push" },
    standard: { "webhook-id": "msg_1", "webhook-timestamp": now, "webhook-signature": `v1,${hmac(whsecKey, `msg_1.${now}.${body}`).toString("base64")}` },
  };
  const signatureHeader = { github: "X-Hub-Signature-256", gitea: "X-Gitea-Signature", gitlab: "X-Gitlab-Token", bitbucket: "X-Hub-Signature", standard: "webhook-signature" };
  for (const [kind, headers] of Object.entries(signed)) {
    const header = signatureHeader[kind];
    const good = headers[header];
    for (const position of [good.length - 1, Math.floor(good.length / 2)]) {
      const c = good[position];
      const flipped = good.slice(0, position) + (c === "a" ? "b" : "a") + good.slice(position + 1);
      const answer = await worker.call("POST", hooks[kind].hook_url, {
        headers: { "content-type": "application/json", ...headers, [header]: flipped, "X-GitHub-Delivery": crypto.randomUUID() }, body,
      });
      assert.equal(answer.status, 401, `${kind} signature wrong at ${position}: ${answer.text}`);
      cases++;
    }
  }
  assert.ok(cases >= 60, `${cases} cases`);
  assert.equal(await state(worker, Object.values(hooks).map((h) => h.id)), before, "no stored state changed");
  assert.equal(target.received.filter((r) => r.rawPath === "/typed").length, 0, "nothing was forwarded");
});
