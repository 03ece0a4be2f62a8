// `npm run bench`: size, hot-path cost, throughput against a peer, scaling, KV cost per call and
// cold start, in one run. Prints the tables and writes them, with the date and the machine, to
// bench/RESULTS.md. Ratios measured side by side in one run are the figures that count; absolute
// figures are shown, never asserted. Every process it starts is stopped before it exits.
import { Miniflare } from "miniflare";
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONNECTIONS = 8;
const SECRET = "bench-secret";
const ADMIN = "tok-bench";
const TOOLS = process.env.HOOKRELAY_TOOLS ?? path.join(os.homedir(), ".cache/hookrelay");
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "hookrelay-bench-"));
const cleanups = [];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => (Math.max(...xs) - Math.min(...xs)) / median(xs);
const pct = (x) => `${(100 * x).toFixed(0)}%`;
const fmt = (x, digits = 0) => Number(x).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

function log(...args) {
  console.error("[bench]", ...args);
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20, ...options });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${result.stderr}`);
  return result.stdout;
}

const which = (bin) => spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).stdout.trim();

/** Installs Debian packages that are missing (wrk, webhook). */
function ensurePackages(packages) {
  const missing = Object.entries(packages).filter(([bin]) => !which(bin)).map(([, pkg]) => pkg);
  if (!missing.length) return;
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  log(`installing ${missing.join(" ")}`);
  const apt = (...args) => run(sudo[0] ?? "apt-get", [...sudo.slice(1), ...(sudo.length ? ["apt-get"] : []), ...args], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  try {
    apt("install", "-y", ...missing);
  } catch {
    apt("update");
    apt("install", "-y", ...missing);
  }
}

/** twiggy, installed once under the tool cache. */
function ensureTwiggy() {
  const cached = path.join(TOOLS, "twiggy-0.8.0/bin/twiggy");
  if (fs.existsSync(cached)) return cached;
  if (which("twiggy")) return which("twiggy");
  log("installing twiggy 0.8.0 (once)");
  run("cargo", ["install", "--quiet", "twiggy", "--version", "0.8.0", "--root", path.join(TOOLS, "twiggy-0.8.0")]);
  return cached;
}

// ---------- 1. size

function sizes() {
  // `gzip -9`, as the build script and the size budget measure it.
  const gz = (file) => run("sh", ["-c", `gzip -9 -c "${file}" | wc -c`]).trim() * 1;
  const files = [["build/index_bg.wasm", "wasm"], ["build/index.js", "JS shim"]];
  const rows = files.map(([file, what]) => ({ what, file, raw: fs.statSync(path.join(ROOT, file)).size, gzipped: gz(path.join(ROOT, file)) }));
  // Shares by crate, from the linked module before wasm-bindgen and wasm-opt (it still has names).
  const named = path.join(ROOT, "target/wasm32-unknown-unknown/release/hookrelay.wasm");
  const csv = run(ensureTwiggy(), ["top", "-n", "1000000", "-f", "csv", named]);
  const crates = new Map();
  let code = 0;
  for (const line of csv.split("\n").slice(1)) {
    const match = /^("(?:[^"]|"")*"|[^,]*),(\d+),/.exec(line);
    if (!match) continue;
    const name = match[1].replace(/^"|"$/g, "");
    if (/^(custom section|data segment|"function names|function names|elem|type|import|export|table|memory|global)/.test(name)) continue;
    const size = Number(match[2]);
    const crate = /([a-z_][a-z0-9_]*)(?:\[[0-9a-f]+\])?::/.exec(name)?.[1] ?? "(unnamed: shims, closures, std glue)";
    crates.set(crate, (crates.get(crate) ?? 0) + size);
    code += size;
  }
  const shares = [...crates.entries()].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([crate, bytes]) => ({ crate, bytes, share: bytes / code }));
  // The admin page's assets, embedded in the wasm as they are (src/admin/).
  const page = ["index.html", "app.js", "app.css"].map((name) => {
    const file = path.join(ROOT, "src/admin", name);
    return { what: `admin page: ${name}`, file: `src/admin/${name}`, raw: fs.statSync(file).size, gzipped: gz(file) };
  });
  const pageFiles = page.map((p) => `"${path.join(ROOT, p.file)}"`).join(" ");
  const pageTotal = { raw: page.reduce((sum, p) => sum + p.raw, 0), gzipped: run("sh", ["-c", `cat ${pageFiles} | gzip -9 | wc -c`]).trim() * 1 };
  return { rows, page, pageTotal, shares, code };
}

// ---------- 2 and 5 (native): the Rust harnesses

function cargoBench(name) {
  const out = run("cargo", ["bench", "--quiet", "--bench", name]);
  return out.split("\n").filter((l) => l.startsWith("BENCH ")).map((l) => JSON.parse(l.slice(6)));
}

// ---------- workers, mocks, load

function startMock(status = 201) {
  let count = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      count++;
      res.writeHead(status, { "content-type": "application/json" });
      res.end('{"id":1}');
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    const mock = { url: `http://127.0.0.1:${server.address().port}`, count: () => count, stop: () => new Promise((r) => server.close(r)) };
    cleanups.push(mock.stop);
    resolve(mock);
  }));
}

function hookrelayOptions(kvDir, entry = "build/index.js") {
  return {
    scriptPath: path.join(ROOT, entry),
    modules: true,
    modulesRoot: ROOT,
    modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-01",
    kvNamespaces: ["TRIGGERS"],
    kvPersist: kvDir,
    queueProducers: { DELIVERIES: "hookrelay-deliveries", DEAD_LETTERS: "hookrelay-dead-letters" },
    queueConsumers: { "hookrelay-deliveries": { maxBatchSize: 100, maxBatchTimeout: 0, maxRetries: 3, retryDelay: 1 } },
    bindings: { ADMIN_TOKENS: `bench:${ADMIN}`, ALLOW_HTTP_TARGETS: "1", ENCRYPTION_KEY: "bench:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" },
    host: "127.0.0.1",
    port: 0,
  };
}

async function startMiniflare(options) {
  const mf = new Miniflare(options);
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const worker = { mf, url, stop: () => mf.dispose() };
  cleanups.push(worker.stop);
  return worker;
}

async function call(url, method, route, { json, body, headers = {} } = {}) {
  const init = { method, headers: { authorization: `Bearer ${ADMIN}`, ...headers } };
  if (json !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (body !== undefined) init.body = body;
  const response = await fetch(url + route, init);
  const text = await response.text();
  if (response.status >= 400) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const githubBody = fs.readFileSync(path.join(ROOT, "tests/fixtures/github/push.json"));
const githubSignature = `sha256=${crypto.createHmac("sha256", SECRET).update(githubBody).digest("hex")}`;

/** A gitlab target at `mockUrl` and a GitHub hook trigger on it; returns the hook URL path. */
async function githubHook(url, mockUrl) {
  const target = await call(url, "POST", "/api/v1/targets", { json: { name: "ci", kind: "gitlab", url: mockUrl, project: "9", token: "glptt-bench" } });
  const trigger = await call(url, "POST", "/api/v1/triggers", { json: { target: "ci", source: { kind: "github", secrets: [SECRET] } } });
  return { target, trigger, hook: trigger.hook_url };
}

/** Pushes a wrk thread may send before it repeats one; sized for 20,000 requests/s over a run. */
const PUSHES_PER_THREAD = Number(process.env.BENCH_PUSHES_PER_THREAD ?? 40_000);

/**
 * The real GitHub push with one more field, `hookrelay_bench`, so that each request is a new push:
 * hookrelay refuses a repeat of a signed body (or of its delivery id) as a replay, so a benchmark
 * that resent one body would measure the cheap duplicate answer.
 */
function benchPush(mark) {
  const text = githubBody.toString("utf8").trimEnd();
  const body = `${text.slice(0, -1)},"hookrelay_bench":"${mark}"}`;
  return { body, signature: `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}` };
}

/**
 * A wrk script. With `unique`, every request is a distinct signed push with its own delivery id,
 * fresh for each script (make one per run): the signatures are computed here, one file per thread.
 */
function luaScript({ method, headers, unique }) {
  const run = crypto.randomUUID().slice(0, 8);
  const file = path.join(TMP, `${run}.lua`);
  const bodyFile = path.join(TMP, "body.json");
  fs.writeFileSync(bodyFile, githubBody);
  if (unique) {
    for (const tid of [1, 2]) {
      const signatures = [];
      for (let i = 1; i <= PUSHES_PER_THREAD; i++) signatures.push(benchPush(`${run}-${tid}-${i}`).signature);
      fs.writeFileSync(path.join(TMP, `${run}-${tid}.sig`), signatures.join("\n") + "\n");
    }
  }
  const prefix = githubBody.toString("utf8").trimEnd().slice(0, -1);
  const lines = [
    `local f = io.open(${JSON.stringify(bodyFile)}, "rb"); local body = f:read("*a"); f:close()`,
    `wrk.method = "${method}"`,
    method === "POST" ? "wrk.body = body" : "",
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
    "local threads = 0",
    "function setup(thread) threads = threads + 1; thread:set(\"tid\", threads) end",
    "local counter = 0",
    ...(unique ? [
      `local prefix = ${JSON.stringify(prefix)}`,
      "local signatures = {}",
      `function init(args) for line in io.lines(${JSON.stringify(path.join(TMP, run))} .. "-" .. tid .. ".sig") do signatures[#signatures + 1] = line end end`,
      // Past the last signature a thread repeats it: the answer is then a cheap duplicate, so size
      // PUSHES_PER_THREAD above what a run sends.
      `function request() counter = counter + 1; local i = math.min(counter, #signatures); local mark = "${run}-" .. tid .. "-" .. i; wrk.headers["X-GitHub-Delivery"] = mark; wrk.headers["X-Hub-Signature-256"] = signatures[i]; return wrk.format(nil, nil, nil, prefix .. ',"hookrelay_bench":"' .. mark .. '"}') end`,
    ] : []),
  ];
  fs.writeFileSync(file, lines.join("\n"));
  return file;
}

const pushHeaders = { "Content-Type": "application/json", "X-Hub-Signature-256": githubSignature, "X-GitHub-Event": "push" };

/** Runs wrk; returns requests per second, p50 and p99 in ms, and the non-2xx count. */
function wrk(url, script) {
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", "-s", script, url]);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", () => {
      const ms = (text) => {
        const [, value, unit] = /([\d.]+)(us|ms|s|m)/.exec(text) ?? [];
        return Number(value) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit];
      };
      if (!/Requests\/sec/.test(out)) return reject(new Error(`wrk ${url} printed:\n${out}`));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      // The latency distribution's own lines, not a percentage in the stats table above them.
      const p50 = ms(/^\s+50%\s+(\S+)/m.exec(out)[1]);
      const p99 = ms(/^\s+99%\s+(\S+)/m.exec(out)[1]);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      resolve({ rps, p50, p99, non2xx });
    });
  });
}

// ---------- 3. throughput: hookrelay, the runtime's ceiling, adnanh/webhook

async function startAdnanhWebhook() {
  const hooks = [{
    id: "push",
    "execute-command": "/bin/true",
    "trigger-rule-mismatch-http-response-code": 400,
    "trigger-rule": {
      and: [
        { match: { type: "payload-hmac-sha256", secret: SECRET, parameter: { source: "header", name: "X-Hub-Signature-256" } } },
        { match: { type: "value", value: "refs/heads/master", parameter: { source: "payload", name: "ref" } } },
      ],
    },
  }];
  const file = path.join(TMP, "hooks.json");
  fs.writeFileSync(file, JSON.stringify(hooks));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn("webhook", ["-hooks", file, "-ip", "127.0.0.1", "-port", String(port)], { stdio: "ignore" });
  cleanups.push(async () => child.kill());
  const url = `http://127.0.0.1:${port}/hooks/push`;
  for (let i = 0; i < 100; i++) {
    try {
      const answer = await fetch(url, { method: "POST", headers: pushHeaders, body: githubBody });
      if (answer.status !== 200) throw new Error(`adnanh/webhook answered ${answer.status}: ${await answer.text()}`);
      return url;
    } catch (err) {
      if (String(err.message).startsWith("adnanh")) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("adnanh/webhook did not start");
}

async function throughput() {
  const mock = await startMock();
  const hookrelay = await startMiniflare(hookrelayOptions(fs.mkdtempSync(path.join(TMP, "kv-"))));
  const { hook } = await githubHook(hookrelay.url, mock.url);
  const minimal = await startMiniflare({ modules: true, script: 'export default { fetch() { return new Response("ok"); } }', compatibilityDate: "2026-04-01", host: "127.0.0.1", port: 0 });
  const adnanh = await startAdnanhWebhook();
  const getScript = luaScript({ method: "GET", headers: {}, unique: false });
  const runs = { hookrelay: [], ceiling: [], webhook: [] };
  for (let i = 0; i < RUNS; i++) {
    log(`throughput run ${i + 1}/${RUNS}`);
    const pushScript = luaScript({ method: "POST", headers: pushHeaders, unique: true });
    runs.hookrelay.push(await wrk(hookrelay.url + hook, pushScript));
    runs.ceiling.push(await wrk(minimal.url + "/", getScript));
    runs.webhook.push(await wrk(adnanh, pushScript));
  }
  const delivered = mock.count();
  await hookrelay.stop();
  await minimal.stop();
  return { runs, delivered };
}

// ---------- 4. scaling: 10 triggers stored, then 10,000

async function scaling() {
  const mock = await startMock();
  const results = {};
  const workers = {};
  for (const stored of [10, 10_000]) {
    const worker = await startMiniflare(hookrelayOptions(fs.mkdtempSync(path.join(TMP, "kv-"))));
    const { target, trigger, hook } = await githubHook(worker.url, mock.url);
    const kv = await worker.mf.getKVNamespace("TRIGGERS");
    const record = await kv.get(`trigger:${trigger.id}`);
    const ids = Array.from({ length: stored - 1 }, () => crypto.randomBytes(16).toString("hex"));
    for (let i = 0; i < ids.length; i += 500) {
      await Promise.all(ids.slice(i, i + 500).flatMap((id) => [
        kv.put(`trigger:${id}`, record.replace(trigger.id, id)),
        kv.put(`target-trigger:${target.id}:${id}`, ""),
      ]));
    }
    workers[stored] = { worker, hook };
    results[stored] = [];
  }
  for (let i = 0; i < RUNS; i++) {
    log(`scaling run ${i + 1}/${RUNS}`);
    const script = luaScript({ method: "POST", headers: pushHeaders, unique: true });
    for (const stored of [10, 10_000]) results[stored].push(await wrk(workers[stored].worker.url + workers[stored].hook, script));
  }
  for (const { worker } of Object.values(workers)) await worker.stop();
  return results;
}

// ---------- 5. KV operations per call in the runtime (the counting entry)

async function runtimeCost() {
  const mock = await startMock();
  const worker = await startMiniflare(hookrelayOptions(fs.mkdtempSync(path.join(TMP, "kv-")), "bench/counting-entry.mjs"));
  const counts = () => call(worker.url, "GET", "/__kv");
  const settle = async (expected) => {
    for (let i = 0; i < 200 && mock.count() < expected; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
  };
  await call(worker.url, "POST", "/api/v1/targets", { json: { name: "ci", kind: "http", url: `${mock.url}/hook` } });
  await call(worker.url, "POST", "/api/v1/targets", { json: { name: "prod", kind: "kubernetes", api_server: mock.url, token: "sa" } });
  const token = (await call(worker.url, "POST", "/api/v1/triggers", { json: { target: "ci" } })).token;
  const hook = (await call(worker.url, "POST", "/api/v1/triggers", { json: { target: "ci", source: { kind: "github", secrets: [SECRET] } } })).hook_url;
  const registry = (await call(worker.url, "POST", "/api/v1/registries", { json: { name: "harbor", kind: "harbor", secret: SECRET } })).hook_url;
  for (const name of ["web", "worker"]) {
    await call(worker.url, "POST", "/api/v1/triggers", { json: { target: "prod", kind: "image", repository: "harbor/alpine", workload: { namespace: "default", name } } });
  }
  await call(worker.url, "POST", "/api/v1/triggers", { json: { target: "ci", source: { kind: "schedule", cron: "* * * * *", ref: "main" } } });
  const result = {};
  let sent = mock.count();
  await counts();
  await fetch(`${worker.url}/api/v4/projects/ci/trigger/pipeline`, { method: "POST", body: new URLSearchParams({ token, ref: "main" }) });
  result["token call"] = await counts();
  sent += 1;
  const push = benchPush(crypto.randomUUID());
  await fetch(worker.url + hook, { method: "POST", headers: { ...pushHeaders, "X-Hub-Signature-256": push.signature, "X-GitHub-Delivery": crypto.randomUUID() }, body: push.body });
  await settle(sent += 1);
  result["git webhook"] = await counts();
  await fetch(worker.url + registry, { method: "POST", headers: { "content-type": "application/json", authorization: SECRET }, body: fs.readFileSync(path.join(ROOT, "tests/fixtures/harbor/push_artifact.json")) });
  await settle(sent += 2);
  result["registry fan-out to 2"] = await counts();
  await (await worker.mf.getWorker()).scheduled({ scheduledTime: new Date(Date.UTC(2026, 10, 23, 0, 30)), cron: "* * * * *" });
  await settle(sent += 1);
  result["scheduled tick"] = await counts();
  await worker.stop();
  return result;
}

// ---------- 6. cold start

async function coldStart() {
  const mock = await startMock();
  const kvDir = fs.mkdtempSync(path.join(TMP, "kv-"));
  const setup = await startMiniflare(hookrelayOptions(kvDir));
  await call(setup.url, "POST", "/api/v1/targets", { json: { name: "ci", kind: "http", url: `${mock.url}/hook` } });
  const token = (await call(setup.url, "POST", "/api/v1/triggers", { json: { target: "ci" } })).token;
  await setup.stop();
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const worker = await startMiniflare(hookrelayOptions(kvDir));
    const latencies = [];
    for (let n = 0; n < 10; n++) {
      const t = performance.now();
      const answer = await fetch(`${worker.url}/api/v4/projects/ci/trigger/pipeline`, { method: "POST", body: new URLSearchParams({ token, ref: "main" }) });
      await answer.text();
      latencies.push(performance.now() - t);
      if (n === 0) runs.push({ toFirstAnswer: performance.now() - started });
    }
    Object.assign(runs[i], { first: latencies[0], tenth: latencies[9] });
    await worker.stop();
  }
  return runs;
}

// ---------- report

function machine() {
  const rustc = run("rustc", ["--version"]).trim();
  return `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${fmt(os.totalmem() / 2 ** 30, 1)} GiB, ${os.type()} ${os.release()}; Node ${process.version}; ${rustc}`;
}

async function main() {
  ensurePackages({ wrk: "wrk", webhook: "webhook" });
  if (!process.env.BENCH_NO_BUILD) run("bash", ["scripts/build.sh"], { stdio: ["ignore", "ignore", "inherit"] });
  log("size"); const size = sizes();
  log("native hot path"); const hot = cargoBench("hot_path");
  log("native KV cost"); const nativeCost = cargoBench("kv_cost");
  log("throughput"); const tp = await throughput();
  log("scaling"); const scale = await scaling();
  log("runtime KV cost"); const cost = await runtimeCost();
  log("cold start"); const cold = await coldStart();

  const out = [];
  const table = (head, rows) => {
    out.push(`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`), "");
  };
  const misses = [];
  out.push("# Benchmark results", "", `Run ${new Date().toISOString()} on ${machine()}.`,
    `Runtime figures are medians of ${RUNS} runs of ${SECONDS} s with wrk (2 threads, ${CONNECTIONS} connections); spread is (max - min) / median.`,
    "Ratios measured side by side in one run are the figures that count; absolute figures depend on the machine.", "");

  out.push("## 1. Size", "");
  table(["file", "raw bytes", "gzipped bytes"], size.rows.map((r) => [`${r.what} (\`${r.file}\`)`, fmt(r.raw), fmt(r.gzipped)]));
  table(["admin page asset (in the wasm)", "raw bytes", "gzipped bytes"], [
    ...size.page.map((p) => [`\`${p.file}\``, fmt(p.raw), fmt(p.gzipped)]),
    ["all three, gzipped together", fmt(size.pageTotal.raw), fmt(size.pageTotal.gzipped)],
  ]);
  out.push("### Library swaps", "", fs.readFileSync(path.join(ROOT, "bench/SWAPS.md"), "utf8").trim(), "");
  out.push(`Budget: 524,288 bytes (512 KiB) of gzipped wasm, an upper bound and not a target (Workers allow 3 MB compressed on the free plan), the admin page included; used ${pct(size.rows[0].gzipped / 524288)}, of which the page's assets are about ${fmt(size.pageTotal.gzipped)}.`, "",
    `Share of code by crate (twiggy, in the linked module before wasm-bindgen and wasm-opt: ${fmt(size.code)} bytes of code). Generic code is counted where it is defined: serde_json's decoders for hookrelay's types count as serde_json.`, "");
  table(["crate", "code bytes", "share"], size.shares.map((s) => [s.crate, fmt(s.bytes), pct(s.share)]));

  out.push("## 2. Hot path, native", "", "Verify, parse, filter and build the outbound request for each real fixture, next to a bare HMAC-SHA256 over the same bytes (the floor), in the same run: medians of 31 samples. Built as deployed (`opt-level = \"z\"`).", "");
  table(["payload", "bytes", "path ns", "floor ns", "path/floor", "spread (path, floor)"], hot.map((h) => [h.case, fmt(h.bytes), fmt(h.path_ns), fmt(h.floor_ns), h.ratio.toFixed(2), `${pct(h.path_spread)}, ${pct(h.floor_spread)}`]));
  const overRatio = hot.filter((h) => h.ratio > 1.5);
  if (overRatio.length) misses.push(`Path/floor above 1.5 for ${overRatio.map((h) => `${h.case} (${h.ratio.toFixed(2)})`).join(", ")}. The path makes two passes over the payload where the floor makes one: the signature (the floor itself) and a JSON parse, which reads only the fields it needs but still has to scan every byte, at about the speed of SHA-256 in a size-optimized build. Standard Webhooks signs \`id.timestamp.body\` and decodes its base64 key and signatures; small payloads (Harbor) pay fixed costs (the call's variables, the request's JSON) that a 600-byte HMAC does not. Cheap fixes made: form encoding without a \`format!\` per byte (the GitLab build went from 9.7 to 3.0 µs).`);

  out.push("## 3. Throughput and latency in workerd (Miniflare, no wrangler proxy)", "", `A signed GitHub push (${fmt(githubBody.length)} bytes) made new for every request (a \`hookrelay_bench\` field and its own \`X-GitHub-Delivery\`, so that none is a replay), answered 202 once queued; the queue consumer delivered ${fmt(tp.delivered)} of them to a loopback target during the run. Beside it, on the same machine and in the same run: a worker that only answers 200 (the runtime's ceiling), and adnanh/webhook ${which("webhook") ? "(Debian `webhook`)" : ""} checking HMAC-SHA256 and the ref, running \`/bin/true\`.`, "");
  const row = (name, rs) => [name, fmt(median(rs.map((r) => r.rps))), pct(spread(rs.map((r) => r.rps))), fmt(median(rs.map((r) => r.p50)), 2), fmt(median(rs.map((r) => r.p99)), 2), fmt(median(rs.map((r) => r.non2xx)))];
  table(["server", "req/s", "spread", "p50 ms", "p99 ms", "non-2xx"], [row("hookrelay", tp.runs.hookrelay), row("minimal worker (ceiling)", tp.runs.ceiling), row("adnanh/webhook", tp.runs.webhook)]);
  const ratio = (a, b) => median(a.map((r, i) => r.rps / b[i].rps));
  out.push(`hookrelay / ceiling: **${ratio(tp.runs.hookrelay, tp.runs.ceiling).toFixed(2)}**; hookrelay / adnanh/webhook: **${ratio(tp.runs.hookrelay, tp.runs.webhook).toFixed(2)}** (medians of per-run ratios).`, "");
  out.push("How to read it: each hookrelay request does what the other two do not: three KV reads (trigger, replay marker, target), a KV write (the marker) and a queue send, and the queue consumer delivers to the target on the same two cores meanwhile. Locally, each of those is a call into Miniflare's SQLite-backed KV and Queues simulation, which dominates the time; at the edge KV reads are cached in the colo. The native table above is the cost of hookrelay's own code.", "");

  out.push("## 4. Scaling", "", "The same load with 10 triggers stored, then 10,000 (the extra ones written straight into the same local KV).", "");
  table(["triggers stored", "req/s", "spread", "p50 ms", "p99 ms"], [10, 10_000].map((n) => [fmt(n), fmt(median(scale[n].map((r) => r.rps))), pct(spread(scale[n].map((r) => r.rps))), fmt(median(scale[n].map((r) => r.p50)), 2), fmt(median(scale[n].map((r) => r.p99)), 2)]));
  const scaleRatio = median(scale[10_000].map((r, i) => r.rps / scale[10][i].rps));
  out.push(`Throughput ratio 10,000 / 10: **${scaleRatio.toFixed(2)}** (target: at least 0.9).`, "");
  if (scaleRatio < 0.9) misses.push(`Scaling ratio ${scaleRatio.toFixed(2)} is under 0.9. The hot path reads by id (see the KV table), so this is local KV (SQLite) slowing with its size, or noise; compare the spread.`);

  out.push("## 5. KV operations per call", "", "Native: the in-memory store's counters through the router (`benches/kv_cost.rs`). Runtime: the built worker behind a counting KV binding (`bench/counting-entry.mjs`), edge and consumer together.", "");
  const sum = (p) => nativeCost.filter((c) => c.path === p).reduce((a, c) => ({ reads: a.reads + c.reads, writes: a.writes + c.writes, lists: a.lists + c.lists }), { reads: 0, writes: 0, lists: 0 });
  const triple = (c) => `${c.reads} / ${c.writes} / ${c.lists}`;
  const costRows = Object.keys(cost).map((p) => {
    const parts = nativeCost.filter((c) => c.path === p).map((c) => `${c.part} ${triple(c)}`).join("; ");
    const agree = triple(sum(p)) === triple(cost[p]);
    if (!agree) misses.push(`KV counts for ${p} differ: native ${triple(sum(p))}, runtime ${triple(cost[p])}.`);
    return [p, parts, triple(sum(p)), triple(cost[p]), agree ? "yes" : "**no**"];
  });
  table(["path", "native, by part (reads / writes / lists)", "native total", "runtime total", "agree"], costRows);

  out.push("## 6. Cold start", "", "A fresh workerd on existing local KV: from starting Miniflare to the first answer of a token call (which reads KV and calls a loopback target), then that first call's latency against the tenth's.", "");
  table(["run", "start to first answer ms", "first call ms", "tenth call ms"], cold.map((c, i) => [i + 1, fmt(c.toFirstAnswer), fmt(c.first, 1), fmt(c.tenth, 1)]));
  out.push(`Medians: start to first answer ${fmt(median(cold.map((c) => c.toFirstAnswer)))} ms; first call ${fmt(median(cold.map((c) => c.first)), 1)} ms against the tenth's ${fmt(median(cold.map((c) => c.tenth)), 1)} ms.`, "");

  out.push("## Targets missed, and why", "", ...(misses.length ? misses.map((m) => `- ${m}`) : ["- None."]), "");
  const text = out.join("\n");
  fs.writeFileSync(path.join(ROOT, "bench/RESULTS.md"), text);
  console.log(text);
}

try {
  await main();
} finally {
  for (const cleanup of cleanups.reverse()) {
    try { await cleanup(); } catch { /* already stopped */ }
  }
  fs.rmSync(TMP, { recursive: true, force: true });
}
