// The built worker under `wrangler dev` (what `npm run dev` serves), with the queue consumer
// attempting targets that cannot answer: one on a closed port, one whose name does not resolve.
// Every message is settled (attempted, handed back for its retry, then dead), and the runtime's
// output holds no uncaught error of hookrelay's: the only "Uncaught" lines are workerd's own
// report of a request body it could not send to a name that did not resolve (each one's
// reference is that DNS failure's), which it prints even when the fetch's rejection is caught.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, ADMINS, E2E_KEYS, closedPort, waitFor } from "./harness.mjs";

let dev;
let output = "";
let base;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hookrelay-wrangler-dev-"));

before(async () => {
  // wrangler.toml without its [build] (the worker is built already), every path absolute.
  const config = fs
    .readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^\[build\]\n(#.*\n)*command = .*\n/m, "")
    .replace(/^main = "(.*)"/m, (_, main) => `main = "${path.join(ROOT, main)}"`)
    .replace(/^directory = "(.*)"/m, (_, assets) => `directory = "${path.join(ROOT, assets)}"`);
  assert.doesNotMatch(config, /^\[build\]/m, "the build section is dropped");
  fs.writeFileSync(path.join(dir, "wrangler.toml"), config);
  const port = await closedPort();
  const vars = {
    ADMIN_TOKENS: Object.entries(ADMINS).map(([name, token]) => `${name}:${token}`).join(","),
    ENCRYPTION_KEY: E2E_KEYS.first,
    ALLOW_HTTP_TARGETS: "1",
    RETRY_BASE_SECONDS: "1",
    RETRY_MAX_ATTEMPTS: "3",
  };
  const args = ["dev", "-c", path.join(dir, "wrangler.toml"), "--ip", "127.0.0.1", "--port", String(port),
    "--persist-to", path.join(dir, "state"), ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`])];
  dev = spawn(path.join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: dir,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", NO_COLOR: "1",
      WRANGLER_LOG_PATH: path.join(dir, "logs") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Its colours off, whatever it decides about the terminal.
  const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");
  for (const stream of [dev.stdout, dev.stderr]) stream.on("data", (chunk) => { output += plain(chunk.toString()); });
  base = `http://127.0.0.1:${port}`;
  await waitFor(async () => /Ready on/.test(output) && (await fetch(`${base}/healthz`).catch(() => null))?.ok, {
    timeoutMs: 90_000, what: "wrangler dev to serve",
  });
});

after(async () => {
  if (!dev) return;
  dev.kill("SIGTERM");
  await new Promise((resolve) => { dev.on("exit", resolve); setTimeout(resolve, 5000); });
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call(method, route, { json, body } = {}) {
  const headers = { authorization: `Bearer ${ADMINS.alice}` };
  if (json) headers["content-type"] = "application/json";
  const response = await fetch(base + route, { method, headers, body: json ? JSON.stringify(json) : body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, text };
}

test("the queue consumer settles every message for unreachable targets with no uncaught error of its own", async () => {
  const closed = await closedPort();
  const ids = [];
  for (const [name, url] of [["closed", `http://127.0.0.1:${closed}/x`], ["nowhere", "http://hookrelay-e2e.invalid/x"]]) {
    assert.equal((await call("POST", "/api/v1/targets", { json: { name, kind: "http", url } })).status, 201);
    const trigger = await call("POST", "/api/v1/triggers", { json: { target: name } });
    assert.equal(trigger.status, 201, trigger.text);
    const fired = await call("POST", `/api/v4/projects/${name}/trigger/pipeline`, {
      body: new URLSearchParams({ token: trigger.body.token, ref: "main" }),
    });
    assert.equal(fired.status, 202, fired.text);
    ids.push(fired.body.delivery_id);
  }
  for (const id of ids) {
    const record = await waitFor(async () => {
      const found = await call("GET", `/api/v1/deliveries/${id}`);
      return found.body?.state === "dead" ? found.body : null;
    }, { timeoutMs: 30_000, what: `delivery ${id} to die` });
    assert.equal(record.attempts.length, 3, "three attempts, each recorded");
  }
  // Every batch was acknowledged in the end: the last QUEUE line of the run acks all it had.
  await waitFor(async () => /QUEUE hookrelay-deliveries (\d+)\/\1 /.test(output), { what: "a fully acknowledged batch" });
  const uncaught = [...output.matchAll(/Uncaught ([^\n]*)/g)].map((m) => m[1].trim());
  // Each of workerd's error reports is a message line and its stack line, which ends in its id.
  const reports = output.split(/✘ \[ERROR\]/);
  const dnsFailures = new Set(
    reports.filter((r) => r.includes("DNS lookup failed")).flatMap((r) => [...r.matchAll(/wdErrId = ([a-z0-9]+)/g)].map((m) => m[1])),
  );
  for (const line of uncaught) {
    const reference = /^Error: internal error; reference = ([a-z0-9]+)$/.exec(line)?.[1];
    assert.ok(reference && dnsFailures.has(reference), `an uncaught error that is not workerd's DNS report: ${line}`);
  }
  assert.ok(uncaught.length <= 3, `at most one runtime report per attempt to the unresolvable name: ${uncaught.length}`);
});
