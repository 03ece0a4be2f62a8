// Git webhooks end to end: for each provider, a real fixture signed as the provider signs it is
// posted to the built worker (workerd, real local KV); a recording mock target on 127.0.0.1
// checks the ref and variables. Also replay protection, filtering, and the ServiceStage API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startWorker, startMock, fixture } from "./harness.mjs";

const SECRET = "e2e-hook-secret";
const WHSEC = "whsec_" + Buffer.from("e2e signing key").toString("base64");
let worker, gitlab, hookTarget;

before(async () => {
  gitlab = await startMock({ status: 201, json: { id: 7, status: "created" } });
  hookTarget = await startMock({ status: 200, json: { ok: true } });
  worker = await startWorker();
  const created = await worker.call("POST", "/api/v1/targets", {
    as: "alice", json: { name: "gl", kind: "gitlab", url: gitlab.url, project: "group/app", token: "glptt-e2e" },
  });
  assert.equal(created.status, 201, created.text);
});

after(async () => {
  await worker?.stop();
  await gitlab?.stop();
  await hookTarget?.stop();
});

const hmacHex = (key, body, algo = "sha256") => crypto.createHmac(algo, key).update(body).digest("hex");
const hmacB64 = (key, body, algo = "sha256") => crypto.createHmac(algo, key).update(body).digest("base64");
const nowSecs = () => Math.floor(Date.now() / 1000);
function standardHeaders(secret, body, id) {
  const ts = String(nowSecs());
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": `v1,${hmacB64(key, `${id}.${ts}.${body}`)}` };
}

// Each provider: its source, a real fixture, how it signs, and what the event must turn into.
// `id`: "signed" when the signature covers the id, "header" for an unsigned id header of its own,
// "none" when it sends no id (the delivery is then named by the body's hash).
const PROVIDERS = [
  { kind: "github", file: "github/push.json", source: { kind: "github", secrets: [SECRET] },
    sign: (body, id) => ({ "X-Hub-Signature-256": `sha256=${hmacHex(SECRET, body)}`, "X-GitHub-Event": "push", "X-GitHub-Delivery": id }),
    id: "header", ref: "master", repo: "Codertocat/Hello-World", commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246" },
  { kind: "gitlab", file: "gitlab/push.json", source: { kind: "gitlab", secrets: [SECRET] },
    sign: (body, id) => ({ "X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": id }),
    id: "header", ref: "master", repo: "mike/diaspora", commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" },
  { kind: "gitlab (signing token)", file: "gitlab/tag_push.json", source: { kind: "gitlab", secrets: [WHSEC] },
    sign: (body, id) => ({ ...standardHeaders(WHSEC, body, id), "X-Gitlab-Event": "Tag Push Hook" }),
    id: "signed", ref: "v1.0.0", repo: "jsmith/example", commit: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7" },
  { kind: "gitea", file: "gitea/push.json", source: { kind: "gitea", secrets: [SECRET] },
    sign: (body, id) => ({ "X-Gitea-Signature": hmacHex(SECRET, body), "X-Gitea-Event": "push", "X-Gitea-Delivery": id }),
    id: "header", ref: "develop", repo: "gitea/webhooks", commit: "bffeb74224043ba2feb48d137756c8a9331c449a" },
  { kind: "gogs", file: "gogs/push.json", source: { kind: "gitea", secrets: [SECRET] },
    sign: (body, id) => ({ "X-Gogs-Signature": hmacHex(SECRET, body), "X-Gogs-Event": "push", "X-Gogs-Delivery": id }),
    id: "header", ref: "develop", repo: "unknwon/webhooks", commit: "bffeb74224043ba2feb48d137756c8a9331c449a" },
  { kind: "gitee", file: "github/push.json", source: { kind: "gitee", secrets: [SECRET] },
    sign: (body, id) => {
      const ts = String(Date.now());
      return { "X-Gitee-Token": hmacB64(SECRET, `${ts}\n${SECRET}`), "X-Gitee-Timestamp": ts, "X-Gitee-Event": "Push Hook", "Idempotency-Key": id };
    },
    id: "none", ref: "master", repo: "Codertocat/Hello-World", commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246" },
  { kind: "bitbucket", file: "bitbucket/repo-push.json", source: { kind: "bitbucket", secrets: [SECRET] },
    sign: (body, id) => ({ "X-Hub-Signature": `sha256=${hmacHex(SECRET, body)}`, "X-Event-Key": "repo:push", "X-Request-UUID": id }),
    id: "header", ref: "name-of-branch", repo: "team_name/repo_name", commit: "709d658dc5b6d6afcd46049c2f332ee3f515a67d" },
  { kind: "hmac", file: "github/push.json",
    source: { kind: "hmac", secrets: [SECRET], header: "X-Signature", algorithm: "sha1", encoding: "base64", prefix: "sha1=" },
    sign: (body, id) => ({ "X-Signature": `sha1=${hmacB64(SECRET, body, "sha1")}`, "Idempotency-Key": id }),
    id: "none", ref: "master", repo: "Codertocat/Hello-World", commit: "6113728f27ae82c7b1a177c8d03f9e96e0adf246" },
  { kind: "standard", file: "gitlab/push.json", source: { kind: "standard", secrets: [WHSEC] },
    sign: (body, id) => standardHeaders(WHSEC, body, id),
    id: "signed", ref: "master", repo: "mike/diaspora", commit: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7" },
];

async function hookFor(provider, extra = {}) {
  const created = await worker.call("POST", "/api/v1/triggers", {
    as: "bob", json: { target: "gl", description: provider.kind, source: provider.source, variables: { FROM: "e2e" }, ...extra },
  });
  assert.equal(created.status, 201, created.text);
  assert.ok(!created.text.includes(SECRET) && !created.text.includes(WHSEC), "secrets are write-only");
  return created.body.hook_url;
}

/** Posts `body` with the headers the provider would send for `signedBody` (the same, unless forging). */
async function deliver(url, provider, id, body = fixture(provider.file), signedBody = body) {
  const before = gitlab.received.length;
  const answer = await worker.call("POST", url, {
    headers: { "content-type": "application/json", ...provider.sign(signedBody, id) }, body,
  });
  await worker.settled(answer);
  return { answer, sent: gitlab.received.slice(before) };
}

for (const provider of PROVIDERS) {
  test(`${provider.kind}: a signed real push reaches GitLab with its ref and variables, once`, async () => {
    const url = await hookFor(provider);
    const id = `delivery-${crypto.randomUUID()}`;
    const { answer, sent } = await deliver(url, provider, id);
    assert.equal(answer.status, 202, answer.text);
    assert.equal(answer.body.matched, true);
    assert.equal(sent.length, 1);
    const expectedPath = `/api/v4/projects/group%2Fapp/ref/${encodeURIComponent(provider.ref)}/trigger/pipeline`;
    assert.equal(sent[0].rawPath, expectedPath);
    const vars = Object.fromEntries(sent[0].query);
    assert.equal(vars.token, "glptt-e2e");
    assert.equal(vars["variables[HOOKRELAY_REPOSITORY]"], provider.repo);
    assert.equal(vars["variables[HOOKRELAY_COMMIT]"], provider.commit);
    assert.match(vars["variables[HOOKRELAY_REF]"], new RegExp(`^refs/(heads|tags)/${provider.ref}$`));
    // A generic Idempotency-Key (gitee, hmac) is not the provider's: the body's hash names those.
    assert.equal(answer.body.delivery_id, vars["variables[HOOKRELAY_DELIVERY]"]);
    if (provider.id === "none") assert.match(vars["variables[HOOKRELAY_DELIVERY]"], /^[0-9a-f]{16}$/);
    else assert.equal(vars["variables[HOOKRELAY_DELIVERY]"], id);
    assert.equal(vars["variables[FROM]"], "e2e");
    assert.equal(sent[0].body, fixture(provider.file), "the payload is passed on as TRIGGER_PAYLOAD");

    const again = await deliver(url, provider, id);
    assert.equal(again.answer.status, 200);
    assert.equal(again.answer.body.duplicate, true);
    assert.equal(again.sent.length, 0, "a duplicate delivery is forwarded once");
    if (provider.id !== "signed") {
      // Unsigned ids: the same signed body under a new id is still the same webhook.
      const renamed = await deliver(url, provider, `renamed-${id}`);
      assert.equal(renamed.answer.body.duplicate, true, renamed.answer.text);
      assert.equal(renamed.sent.length, 0);
    }

    const original = fixture(provider.file);
    const forged = await deliver(url, provider, `forged-${id}`, original.replace(provider.ref, "evil"), original);
    if (provider.kind !== "gitlab" && provider.kind !== "gitee") {
      assert.equal(forged.answer.status, 401, "a signature over another body fails");
      assert.equal(forged.sent.length, 0);
    }
  });
}

test("replays: Standard Webhooks ignores an added Idempotency-Key; a Gitee sign never carries another body", async () => {
  const standard = PROVIDERS.find((p) => p.kind === "standard");
  const url = await hookFor(standard);
  const body = fixture(standard.file);
  const headers = { "content-type": "application/json", ...standard.sign(body, `msg-${crypto.randomUUID()}`) };
  const first = await worker.call("POST", url, { headers, body });
  assert.equal(first.status, 202, first.text);
  await worker.settled(first);
  const keyed = await worker.call("POST", url, { headers: { ...headers, "Idempotency-Key": "fresh" }, body });
  assert.deepEqual([keyed.status, keyed.body.duplicate], [200, true]);
  const renamed = await worker.call("POST", url, { headers: { ...headers, "webhook-id": "msg-other" }, body });
  assert.equal(renamed.status, 401, "the webhook-id is signed");

  const gitee = PROVIDERS.find((p) => p.kind === "gitee");
  const giteeUrl = await hookFor(gitee);
  const captured = { "content-type": "application/json", ...gitee.sign() };
  const pushed = await worker.call("POST", giteeUrl, { headers: captured, body: fixture(gitee.file) });
  assert.equal(pushed.status, 202, pushed.text);
  await worker.settled(pushed);
  const before = gitlab.received.length;
  const evil = fixture(gitee.file).replace(`"ref": "refs/heads/${gitee.ref}"`, `"ref": "refs/heads/evil"`);
  assert.notEqual(evil, fixture(gitee.file));
  const replayed = await worker.call("POST", giteeUrl, { headers: captured, body: evil });
  await worker.settled(replayed);
  assert.deepEqual([replayed.status, replayed.body.duplicate], [200, true], replayed.text);
  assert.equal(gitlab.received.length, before, "the other body is not forwarded");
});

test("a filtered event is verified, answered 202 matched:false, and not forwarded", async () => {
  const github = PROVIDERS[0];
  const url = await hookFor(github, { branches: ["main"] });
  const { answer, sent } = await deliver(url, github, "filtered-1");
  assert.equal(answer.status, 202);
  assert.deepEqual([answer.body.matched, sent.length], [false, 0]);
  assert.match(answer.body.reason, /master/);
});

test("ping is answered 200; a bad signature 401 naming the header; an unknown hook 404", async () => {
  const github = PROVIDERS[0];
  const url = await hookFor(github);
  const ping = fixture("github/ping.json");
  const pong = await worker.call("POST", url, {
    headers: { "content-type": "application/json", "X-Hub-Signature-256": `sha256=${hmacHex(SECRET, ping)}`, "X-GitHub-Event": "ping" }, body: ping,
  });
  assert.equal(pong.status, 200);
  const unsigned = await worker.call("POST", url, { headers: { "content-type": "application/json" }, body: ping });
  assert.equal(unsigned.status, 401);
  assert.match(unsigned.body.message, /X-Hub-Signature-256/);
  assert.equal((await worker.call("POST", "/hooks/0123456789abcdef0123456789abcdef", { body: "{}" })).status, 404);
  const tooBig = await worker.call("POST", url, { headers: { "content-type": "application/json" }, body: " ".repeat(1024 * 1024 + 1) });
  assert.equal(tooBig.status, 413);
});

test("ServiceStage: create, list, fire and delete a repository hook", async () => {
  const route = "/v1/proj-e2e/git/repos/Codertocat/Hello-World/hooks";
  const auth = { "X-Auth-Token": "tok-alice-e2e" };
  const created = await worker.call("POST", route, { headers: auth, json: { secret: SECRET, url: `${hookTarget.url}/webhook` } });
  assert.equal(created.status, 200, created.text);
  assert.equal(created.body.type, "github");
  assert.equal(created.body.callback_url, `${hookTarget.url}/webhook`);

  const listed = await worker.call("GET", route, { headers: auth });
  assert.deepEqual(listed.body.hooks.map((h) => h.id), [created.body.id]);

  const body = fixture("github/push.json");
  const fired = await worker.call("POST", created.body.hook_url, {
    headers: { "content-type": "application/json", "X-Hub-Signature-256": `sha256=${hmacHex(SECRET, body)}`, "X-GitHub-Event": "push", "X-GitHub-Delivery": "ss-1" },
    body,
  });
  assert.equal(fired.status, 202, fired.text);
  await worker.settled(fired);
  const received = hookTarget.last();
  assert.equal(received.rawPath, "/webhook");
  const description = JSON.parse(received.body);
  assert.equal(description.ref, "master");
  assert.equal(description.variables.HOOKRELAY_REPOSITORY, "Codertocat/Hello-World");
  assert.equal(description.payload.after, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");

  const invalid = await worker.call("POST", route, { headers: auth, json: { url: "https://example.com" } });
  assert.equal(invalid.status, 400);
  assert.match(invalid.body.error_code, /^SVCSTG\.REPO\./);
  assert.ok(invalid.body.error_msg);

  const deleted = await worker.call("DELETE", `${route}/${created.body.id}`, { headers: auth });
  assert.equal(deleted.status, 204);
  assert.deepEqual((await worker.call("GET", route, { headers: auth })).body.hooks, []);
  assert.equal((await worker.call("POST", created.body.hook_url, { body: "{}" })).status, 404);
});
