// API fuzzing: Schemathesis (PyPI, installed by scripts/setup.sh) generates requests from the
// running worker's own /openapi.json, valid and invalid, with an admin token, and checks every
// answer: no 5xx, every status code and content type documented, every body matching its schema,
// and an undocumented method answered 405. The number of examples is bounded; the seed is fixed,
// so a failure reproduces.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startWorker, ADMINS, ROOT } from "./harness.mjs";

const running = [];
after(async () => Promise.all(running.map((w) => w.stop().catch(() => {}))));

function schemathesis() {
  const pins = fs.readFileSync(path.join(ROOT, "scripts/schemathesis-requirements.txt"), "utf8");
  const version = /^schemathesis==(\S+)$/m.exec(pins)[1];
  const venv = process.env.SCHEMATHESIS_VENV ?? path.join(os.homedir(), ".cache/hookrelay", `schemathesis-${version}`);
  const st = path.join(venv, "bin/st");
  assert.ok(fs.existsSync(st), `${st} is missing: run scripts/setup.sh`);
  return st;
}

/** Runs a command to its end without blocking the event loop; its exit status and output. */
function runToEnd(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => { stdout += chunk; });
    child.stderr.on("data", (chunk) => { stderr += chunk; });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

test("Schemathesis finds no 5xx and no answer that contradicts /openapi.json", { timeout: 600_000 }, async () => {
  const st = schemathesis();
  const worker = await startWorker();
  running.push(worker);
  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "hookrelay-schemathesis-"));
  const checks = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
  ];
  // Not spawnSync: a blocked event loop would stop draining the worker's log output, and the
  // worker would stall writing its log lines.
  const run = await runToEnd(
    st,
    [
      "run", `${worker.url}/openapi.json`,
      "--checks", checks.join(","),
      "--header", `Authorization: Bearer ${ADMINS.alice}`,
      // No stateful phase: it could chain a created target to a fired trigger, and test traffic
      // must stay on loopback.
      "--phases", "examples,coverage,fuzzing",
      "--max-examples", process.env.SCHEMATHESIS_EXAMPLES ?? "15",
      "--seed", "20261129",
      "--workers", "2",
      "--request-timeout", "20",
      "--no-color",
      // Nothing written into the checkout: no example database (each run starts from the seed).
      "--generation-database", "none",
      "--report", "junit",
      "--report-dir", reportDir,
    ],
    // Run from a temporary folder: Schemathesis keeps a cache in its working directory.
    { cwd: reportDir, env: { ...process.env, SCHEMATHESIS_TELEMETRY: "false", NO_COLOR: "1" } },
  );
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.status, 0, `Schemathesis reported problems:\n${output.slice(-20_000)}`);
  // Every operation of the description was tested.
  const total = Number(/Selected:\s+\d+\/(\d+)/.exec(output)?.[1] ?? 0);
  const tested = Number(/Tested:\s+(\d+)/.exec(output)?.[1] ?? 0);
  assert.ok(total > 40 && tested === total, `Schemathesis tested ${tested} of ${total} operations`);
});
