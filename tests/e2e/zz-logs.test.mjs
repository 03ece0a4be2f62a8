// Runs last (files run in name order, one at a time): nothing the worker printed during the whole
// end-to-end run holds any secret the tests gave it (admin and trigger tokens, hook secrets, target
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
