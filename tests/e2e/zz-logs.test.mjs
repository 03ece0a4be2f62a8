// Runs last (files run in name order, one at a time): the worker did log its own JSON lines (one per
// request, an error line per internal failure), and nothing it printed during the whole end-to-end
// run holds any secret the tests gave it (admin and trigger tokens, hook secrets, target
// credentials, header values), as harness.mjs collected them.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";

const LOG = process.env.HOOKRELAY_E2E_LOG;

test("no secret appears in the worker's logs", { skip: !LOG && "set by scripts/test.sh for a whole run" }, () => {
  const logs = fs.existsSync(LOG) ? fs.readFileSync(LOG, "utf8") : "";
  const secrets = [...new Set(fs.readFileSync(`${LOG}.secrets`, "utf8").split("\n").filter(Boolean))];
  assert.ok(secrets.length >= 20, `the run handed the worker secrets (${secrets.length})`);
  const leaked = secrets.filter((secret) => logs.includes(secret));
  assert.deepEqual(leaked, [], "secrets in the logs");
});

test("the worker logs one JSON line per request, with the route's pattern and no raw path", { skip: !LOG && "set by scripts/test.sh for a whole run" }, () => {
  const logs = fs.existsSync(LOG) ? fs.readFileSync(LOG, "utf8") : "";
  const lines = logs.split("\n").map((line) => {
    const start = line.indexOf("{\"");
    if (start < 0) return null;
    try { return JSON.parse(line.slice(start)); } catch { return null; }
  }).filter(Boolean);
  const requests = lines.filter((line) => line.type === "request");
  assert.ok(requests.length >= 200, `request lines were logged (${requests.length})`);
  for (const line of requests.slice(0, 50)) {
    assert.equal(typeof line.request_id, "string");
    assert.equal(typeof line.status, "number");
    assert.ok(line.route === null || line.route.startsWith("/"), JSON.stringify(line));
  }
  assert.ok(requests.some((line) => line.route === "/api/v1/triggers/{id}"), "patterns, not raw paths");
  assert.ok(requests.some((line) => line.admin === "alice"), "the admin's name where known");
});
