// The end-to-end harness: the built worker in Miniflare (workerd) with real local KV persisted to
// a temporary folder, and recording mock targets on 127.0.0.1. Test traffic stays on loopback.
import { before, after } from "node:test";
import { Miniflare } from "miniflare";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ADMINS = { alice: "tok-alice-e2e", bob: "tok-bob-e2e" };
/** ENCRYPTION_KEY values: `<id>:<base64 of 32 bytes>`, newest first. */
export const E2E_KEYS = {
  first: "e2e1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
  second: "e2e2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",
};

export function fixture(relative) {
  return fs.readFileSync(path.join(ROOT, "tests/fixtures", relative), "utf8");
}

// With HOOKRELAY_E2E_LOG set (scripts/test.sh sets it), everything the runtime prints goes to that
// file, and every secret the tests hand the worker goes to `<file>.secrets`, one per line, so that
// zz-logs.test.mjs can check that no secret was ever logged.
const LOG = process.env.HOOKRELAY_E2E_LOG;

function rememberSecrets(value, key = "") {
  if (!LOG || value === null || value === undefined) return;
  if (typeof value === "string") {
    if (/token|secret|password/i.test(key) && value.length >= 6) fs.appendFileSync(`${LOG}.secrets`, `${value}\n`);
  } else if (Array.isArray(value)) {
    value.forEach((item) => rememberSecrets(item, key));
  } else if (typeof value === "object") {
    for (const [k, v] of Object.entries(value)) rememberSecrets(v, /^(headers|secrets)$/.test(key) ? `${key}-secret` : k);
  }
}

/** Secrets a test hands the worker some other way (typed into the admin page, say), for zz-logs. */
export function rememberSecret(...values) {
  for (const value of values) rememberSecrets(value, "secret");
}

/** Starts the built worker. `persistTo` lets a test restart it on the same KV state. */
export async function startWorker({ persistTo, bindings = {}, adminRateLimit = 100_000, options = {} } = {}) {
  const kvDir = persistTo ?? fs.mkdtempSync(path.join(os.tmpdir(), "hookrelay-kv-"));
  const mf = new Miniflare({
    scriptPath: path.join(ROOT, "build/index.js"),
    modules: true,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-01",
    // As wrangler.toml declares them: the static files, behind the worker.
    assets: {
      directory: path.join(ROOT, "build/assets"),
      binding: "ASSETS",
      routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true },
      assetConfig: { html_handling: "none", not_found_handling: "none" },
    },
    kvNamespaces: ["TRIGGERS"],
    kvPersist: kvDir,
    // As wrangler.toml declares it: the per-target ledger, with SQLite storage kept beside KV.
    durableObjects: {
      LEDGER: { className: "TargetLedger", useSQLite: true },
      SCHEDULES: { className: "TriggerSchedule", useSQLite: true },
    },
    durableObjectsPersist: path.join(kvDir, "ledger"),
    // As wrangler.toml declares them; Miniflare's local Queues, consumed by the same worker at once.
    queueProducers: { DELIVERIES: "hookrelay-deliveries", DEAD_LETTERS: "hookrelay-dead-letters" },
    queueConsumers: {
      "hookrelay-deliveries": { maxBatchSize: 10, maxBatchTimeout: 0, maxRetries: 100, retryDelay: 1 },
    },
    // As wrangler.toml declares it; most tests send far more admin requests than production allows.
    ratelimits: { ADMIN_RATE_LIMIT: { simple: { limit: adminRateLimit, period: 60 } } },
    bindings: {
      ADMIN_TOKENS: Object.entries(ADMINS).map(([name, token]) => `${name}:${token}`).join(","),
      ENCRYPTION_KEY: E2E_KEYS.first,
      // Mock targets listen on http://127.0.0.1 (production allows public https only).
      ALLOW_HTTP_TARGETS: "1",
      // Short backoff under test: 1 s, 2 s, 4 s...
      RETRY_BASE_SECONDS: "1",
      RETRY_MAX_ATTEMPTS: "3",
      ...bindings,
    },
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio: (stdout, stderr) => {
      for (const stream of [stdout, stderr]) stream.on("data", (chunk) => LOG && fs.appendFileSync(LOG, chunk));
    },
    // More Miniflare options (an Analytics Engine dataset, say).
    ...options,
  });
  rememberSecrets(Object.values(ADMINS), "token");
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const worker = {
    url,
    kvDir,
    mf,
    stop: () => mf.dispose(),
    /**
     * Polls a delivery's record until its state is one of `until` (by default, settled: anything
     * but pending), and returns it.
     */
    async delivery(id, { until = ["delivered", "failed", "dead"], timeoutMs = 15_000 } = {}) {
      return waitFor(async () => {
        const found = await worker.call("GET", `/api/v1/deliveries/${id}`, { as: "alice" });
        return found.status === 200 && until.includes(found.body.state) ? found.body : null;
      }, { timeoutMs, what: `delivery ${id} to be ${until.join(" or ")}` });
    },
    /** Runs the worker's Cron Trigger as the platform would at `scheduledTime` (ms). */
    async scheduled(scheduledTime) {
      const fetcher = await mf.getWorker();
      return fetcher.scheduled({ scheduledTime: new Date(scheduledTime), cron: "17 3 * * *" });
    },
    /** Waits for every delivery a webhook's answer queued to settle; returns their records. */
    async settled(answer) {
      return Promise.all((answer.body?.deliveries ?? []).map((d) => worker.delivery(d.delivery_id)));
    },
    /** fetch against the worker; `as` names an admin whose token goes in `Authorization: Bearer`. */
    async call(method, route, { as, headers = {}, json, body } = {}) {
      const allHeaders = { ...headers };
      if (as) allHeaders.authorization = `Bearer ${ADMINS[as]}`;
      let payload = body;
      rememberSecrets(json);
      if (json !== undefined) {
        allHeaders["content-type"] = "application/json";
        payload = JSON.stringify(json);
      }
      const response = await fetch(url + route, { method, headers: allHeaders, body: payload });
      const text = await response.text();
      let parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch { parsed = text; }
      if (parsed && typeof parsed === "object") rememberSecrets(parsed.token, "token");
      return { status: response.status, headers: response.headers, body: parsed, text };
    },
  };
  return worker;
}

/**
 * A recording HTTP server on 127.0.0.1. Each request is kept as {method, path, query, headers, body};
 * answers come from `script` (a queue of {status, json, delayMs}) or `fallback`.
 */
export async function startMock(fallback = { status: 201, json: { id: 1, status: "created" } }) {
  const received = [];
  const script = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url, "http://127.0.0.1");
      received.push({
        method: req.method,
        rawPath: req.url.split("?")[0],
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      const answer = script.shift() ?? fallback;
      setTimeout(() => {
        res.writeHead(answer.status, { "content-type": "application/json" });
        res.end(JSON.stringify(answer.json ?? {}));
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    script,
    last: () => received[received.length - 1],
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

/**
 * Starts a recording mock target (answering `fallback`) and the worker before a file's tests, and
 * stops both after them. Returns `{worker, target}`, filled in once they are up.
 *
 * On Node 20, a file's root-level `before` hooks run concurrently, not in order: a second `before`
 * in the same file can run while the worker is still starting. So a file that needs more set-up
 * passes it as `then`, which runs in this one hook once both are up; and reading `worker` or
 * `target` before they are up throws, naming the cause, instead of failing later on `undefined`.
 * tests/static/hooks.test.mjs checks that no test file has two root-level `before` hooks.
 */
export function withWorkerAndMock(fallback, { then, worker } = {}) {
  const env = {};
  let ready = false;
  before(async () => {
    env.target = await startMock(fallback);
    env.worker = await startWorker(worker);
    ready = true;
    if (then) await then(env);
  });
  after(async () => {
    await env.worker?.stop();
    await env.target?.stop();
  });
  return new Proxy(env, {
    get(held, name) {
      if ((name === "worker" || name === "target") && !ready) {
        throw new Error(`env.${name} was read before withWorkerAndMock's before hook finished: pass set-up as its \`then\` option, not as another root-level before hook (they run concurrently on Node 20)`);
      }
      return held[name];
    },
  });
}

/** Polls `check` (sync or async) until it returns something truthy, or fails after `timeoutMs`. */
export async function waitFor(check, { timeoutMs = 10_000, what = "the condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A loopback port with nothing listening on it. */
export async function closedPort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A `kubernetes` target named `name` whose API server is the recording mock `apiServer`. */
export async function createCluster(worker, apiServer, name = "prod") {
  const target = await worker.call("POST", "/api/v1/targets", {
    as: "alice", json: { name, kind: "kubernetes", api_server: apiServer.url, token: "sa-token-e2e" },
  });
  if (target.status !== 201) throw new Error(`creating the cluster target failed: ${target.text}`);
  if (target.text.includes("sa-token-e2e")) throw new Error("the cluster token was echoed back");
  return target.body;
}
