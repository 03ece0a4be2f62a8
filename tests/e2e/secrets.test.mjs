// Secrets at rest in the running worker's real local KV: credential records are sealed under the
// newest ENCRYPTION_KEY, an older key still opens them, rotation re-seals them, and without a key
// nothing is stored in the clear.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startWorker, startMock, E2E_KEYS } from "./harness.mjs";

const kvDir = fs.mkdtempSync(path.join(os.tmpdir(), "hookrelay-kv-"));
const SECRETS = ["glpat-sealed-e2e", "hook-sealed-e2e", "registry-sealed-e2e"];
const running = [];
// Stopping twice is harmless; this also stops what a failed test left running.
after(async () => Promise.all(running.map((w) => w.stop().catch(() => {}))));

async function worker(key) {
  const started = await startWorker({ persistTo: kvDir, bindings: { ENCRYPTION_KEY: key } });
  running.push(started);
  return started;
}

/** The raw credential records in local KV, through Miniflare's proxy (retried: on a loaded machine
 * its first connection can fail). */
async function sealedRecords(w) {
  for (let attempt = 1; ; attempt++) {
    try {
      const kv = await w.mf.getKVNamespace("TRIGGERS");
      const names = (await kv.list()).keys.map((k) => k.name).filter((n) => /^(target|trigger|registry):/.test(n));
      const records = [];
      for (const name of names) records.push([name, await kv.get(name)]);
      return records;
    } catch (err) {
      if (attempt === 3) throw err;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
}

test("credentials are sealed at rest, an old key still opens them, and rotation re-seals them", async () => {
  const mock = await startMock();
  running.push(mock);
  const first = await worker(E2E_KEYS.first);
  await first.call("POST", "/api/v1/targets", { as: "alice", json: { name: "ci", kind: "gitlab", url: mock.url, project: "9", token: SECRETS[0] } });
  const token = (await first.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "ci" } })).body.token;
  await first.call("POST", "/api/v1/triggers", { as: "alice", json: { target: "ci", source: { kind: "github", secrets: [SECRETS[1]] } } });
  await first.call("POST", "/api/v1/registries", { as: "alice", json: { name: "harbor", kind: "harbor", secret: SECRETS[2] } });
  const records = await sealedRecords(first);
  assert.equal(records.length, 4, "a target, two triggers, a registry");
  for (const [name, value] of records) {
    assert.match(value, /^enc:v1:e2e1:/, name);
    for (const secret of [...SECRETS, token.slice(5)]) assert.ok(!value.includes(secret), `${name} holds no secret in the clear`);
  }
  await first.stop();

  const both = await worker(`${E2E_KEYS.second},${E2E_KEYS.first}`);
  assert.equal((await both.call("GET", "/api/v1/targets/ci", { as: "alice" })).status, 200, "the old key still opens");
  const rotated = await both.call("POST", "/api/v1/admin/rotate", { as: "alice" });
  assert.deepEqual([rotated.status, rotated.body.rewritten], [200, 4]);
  for (const [name, value] of await sealedRecords(both)) assert.match(value, /^enc:v1:e2e2:/, name);
  await both.stop();

  const second = await worker(E2E_KEYS.second);
  const fired = await second.call("POST", "/api/v4/projects/ci/trigger/pipeline", { body: new URLSearchParams({ token, ref: "main" }) });
  assert.equal(fired.status, 201, fired.text);
  assert.equal(new URLSearchParams(mock.last().body).get("token"), SECRETS[0], "the target's token, opened for the call");
  // The owner's copy of the trigger token came through the re-sealing: GitLab shows it to its owner.
  const listed = await second.call("GET", "/api/v4/projects/ci/triggers", { as: "alice" });
  assert.equal(listed.body.find((t) => t.token.length > 4)?.token, token);
  const others = await second.call("GET", "/api/v4/projects/ci/triggers", { as: "bob" });
  assert.ok(!others.text.includes(token) && others.body.some((t) => t.token === token.slice(0, 4)), "4 characters to anyone else");
});

test("without ENCRYPTION_KEY, credentials are refused rather than stored in the clear", async () => {
  const bare = await startWorker({ bindings: { ENCRYPTION_KEY: "" } });
  running.push(bare);
  const refused = await bare.call("POST", "/api/v1/targets", { as: "alice", json: { name: "x", kind: "http", url: "https://x.example" } });
  assert.equal(refused.status, 503);
  assert.match(refused.body.message, /ENCRYPTION_KEY is not set/);
  assert.deepEqual((await bare.call("GET", "/api/v1/targets", { as: "alice" })).body, []);
});
