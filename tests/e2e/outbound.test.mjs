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

// Every URL form the red team used (issue 14) and more that fetch parses to an internal host.
// Refused on create and on PATCH, for every URL field; nothing is stored or changed.
const HOSTILE_URLS = [
  "https://2130706433/", "https://0x7f.1/", "https://127.1/", "https://0/", "https://%31%32%37.0.0.1/",
  "https://１２７.０.０.１/", "https://ｌｏｃａｌｈｏｓｔ/", "https://\\127.0.0.1/", "https://2852039166/",
  "https://10.1/", "https://[::127.0.0.1]/", "https://[64:ff9b::7f00:1]/", "https://metadata.google.internal/",
  "https://0177.0.0.1/", "https://0x7F000001/", "https://017700000001/", "https://127.0.0.1./",
  "https://127%2e0%2e0%2e1/", "https://127。0。0。1/", "https://0xa9fea9fe/", "https://169.254.43518/",
  "https://0251.0376.0251.0376/", "https://4294967295/", "https://100.64.0.1/", "https://192.0.0.8/",
  "https://198.18.0.1/", "https://224.0.0.1/", "https://240.0.0.1/",
  "https://[::]/", "https://[::ffff:7f00:1]/", "https://[::ffff:a9fe:a9fe]/", "https://[64:ff9b::a9fe:a9fe]/",
  "https://[64:ff9b:1::808:808]/", "https://[2002:7f00:1::]/", "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
  "https://[2001:db8::1]/", "https://[fd00::1]/", "https://[fe80::1%25eth0]/", "https://[fec0::1]/", "https://[ff02::1]/",
  "https://localhost./", "https://LOCALHOST/", "https://local%68ost/", "https://api.localhost/",
  "https://metadata.google.internal./", "https://metadata/", "https://printer.local/",
  "https://kubernetes.default.svc.cluster.local/", "https://nas.home.arpa/", "https://10.0.0.1.nip.io/",
  "https://app-127-0-0-1.sslip.io/", "https:127.0.0.1", "https:/127.0.0.1", "https:\\\\127.0.0.1",
  "HTTPS://127.0.0.1/", "https://127.0.0.1:443@evil.example/", "https://evil.example@127.0.0.1/",
  "http://deploy.example.com/", "file:///etc/passwd", "javascript:alert(1)",
];

/** Each URL field, with the fields its kind needs besides. */
const URL_FIELDS = [
  ["url", { kind: "http" }],
  ["url", { kind: "gitlab", project: "9", token: "glptt-e2e-policy" }],
  ["url", { kind: "jenkins", job: "web", user: "bot", api_token: "jk-e2e-policy" }],
  ["api_url", { kind: "github", repository: "o/r", workflow: "w.yml", token: "ghp_e2e_policy" }],
  ["api_server", { kind: "kubernetes", token: "sa-e2e-policy" }],
  ["url", { kind: "ack" }],
];

test("every URL form that reaches an internal host is refused, on create and on PATCH, for every URL field", async () => {
  const before = await worker.call("GET", "/api/v1/targets/t", { as: "alice" });
  for (const [field, spec] of URL_FIELDS) {
    const forms = spec.kind === "http" ? HOSTILE_URLS : HOSTILE_URLS.slice(0, 13);
    for (const url of forms) {
      const json = { name: `p-${spec.kind}`, ...spec, [field]: url };
      const refused = await worker.call("POST", "/api/v1/targets", { as: "alice", json });
      assert.equal(refused.status, 400, `${spec.kind} ${url}: ${refused.text}`);
      assert.ok(refused.body.message.startsWith(`${field} `), `${url}: ${refused.body.message}`);
    }
  }
  for (const url of HOSTILE_URLS) {
    const patched = await worker.call("PATCH", "/api/v1/targets/t", { as: "alice", json: { url } });
    assert.equal(patched.status, 400, `PATCH ${url}: ${patched.text}`);
  }
  const listed = await worker.call("GET", "/api/v1/targets", { as: "alice" });
  assert.deepEqual(listed.body.map((t) => t.name), ["t"], "nothing stored");
  const after = await worker.call("GET", "/api/v1/targets/t", { as: "alice" });
  assert.deepEqual(after.body, before.body, "nothing changed");
});
