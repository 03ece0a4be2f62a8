// The admin page in a real browser (Debian's chromium through playwright-core), against the built
// worker in Miniflare and a recording mock target on 127.0.0.1 (the e2e harness). The steps run in
// order and share one page: sign in, create a target and a trigger, fire it, watch the deliveries,
// replay a failed one, revoke the trigger; then the last 24 hours' charts and overview against the
// stats API, and the link to one delivery that notifications carry. Each step leaves a screenshot at
// 1280 and at 375 px wide in tests/artifacts/.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ADMINS, ROOT, fixture, rememberSecret, startMock, waitFor, withWorkerAndMock } from "../e2e/harness.mjs";

// The browser starts in the harness's own hook, once the worker is up (see withWorkerAndMock).
const env = withWorkerAndMock({ status: 201, json: { id: 7, status: "created" } }, { then: startBrowser });
const ARTIFACTS = path.join(ROOT, "tests/artifacts");
const WIDE = { width: 1280, height: 900 };
const NARROW = { width: 375, height: 800 };
const DESCRIPTION = "browser <b>deploys</b>";
let browser, context, page;
const problems = []; // CSP violations, script errors and failed page loads, checked at the end
const dialogs = [];
let answerDialog = true;
const state = {};

// Every credential typed into the page, so that tests/e2e/zz-logs.test.mjs (run after this) checks
// that none of them reached the runtime's output.
rememberSecret("glptt-browser-secret", "ghp-browser-secret", "jenkins-browser-secret", "sa-browser-secret",
  "ack-browser-secret", "hdr-browser-secret");

async function startBrowser() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
      "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: WIDE });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: env.worker.url });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("console", (message) => {
    // The API's own 4xx answers are logged as failed loads; anything else (a CSP refusal) is a problem.
    if (message.type() === "error" && !/^Failed to load resource/.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await (answerDialog ? dialog.accept() : dialog.dismiss());
  });
}

after(async () => {
  await browser?.close();
  await state.down?.stop();
});

/** Screenshots at 1280 px, then at 375 px, where nothing may scroll sideways. */
async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `admin-${name}.png`), fullPage: true });
  await page.setViewportSize(NARROW);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.screenshot({ path: path.join(ARTIFACTS, `admin-${name}-375.png`), fullPage: true });
  await page.setViewportSize(WIDE);
  assert.equal(overflow, 0, `${name}: no horizontal scroll at 375 px`);
}

/** The page's HTML and the value of every input, select and textarea (HTML alone has no values). */
async function everything() {
  const values = await page.evaluate(() => [...document.querySelectorAll("input, select, textarea")].map((e) => e.value));
  return `${await page.content()}\n${values.join("\n")}`;
}

const alert = () => page.getByRole("alert");
const note = () => page.getByRole("status");
const triggerCard = () => page.locator("#triggers li[data-trigger]");

function fire(token, project = "web-ci") {
  return fetch(`${env.worker.url}/api/v4/projects/${project}/trigger/pipeline`, {
    method: "POST",
    body: new URLSearchParams({ token, ref: "main" }),
  });
}

test("1. a wrong admin token is refused with the API's message", async () => {
  const served = await page.goto(`${env.worker.url}/admin`);
  assert.equal(served.status(), 200);
  assert.match(served.headers()["content-security-policy"], /script-src 'self'/);
  await page.getByLabel("Admin token").fill("not-an-admin-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await assert.doesNotReject(alert().getByText("a valid admin token is required").waitFor());
  assert.ok(await page.getByLabel("Admin token").isVisible(), "still on the sign-in form");
  assert.ok(await page.locator("#app").isHidden(), "nothing behind the sign-in is shown");
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, "a refused token is not kept");
  await shot("01-wrong-token");
});

test("2. the right token signs in and is kept in sessionStorage", async () => {
  // By keyboard: Enter in the field submits the form.
  await page.getByLabel("Admin token").fill(ADMINS.alice);
  await page.getByLabel("Admin token").press("Enter");
  await page.getByRole("heading", { name: "Targets" }).waitFor();
  assert.ok(await alert().isHidden(), "the old error is gone");
  const kept = await page.evaluate(() => Object.values({ ...sessionStorage }));
  assert.deepEqual(kept, [ADMINS.alice]);
  assert.equal(await page.getByRole("button", { name: "Sign out" }).isVisible(), true);
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")].filter((e) => !e.labels.length).map((e) => e.id));
  assert.deepEqual(unlabelled, [], "every input has a <label for>");
  await shot("02-signed-in");
});

test("3. a gitlab target is created through the form, which shows only that kind's fields", async () => {
  await page.getByRole("button", { name: "New target" }).click();
  const kind = page.locator("#t-kind");
  await kind.selectOption("jenkins");
  assert.ok(await page.getByLabel("Job (folders with /)").isVisible());
  assert.ok(await page.getByLabel("Project id or path").isHidden());
  assert.equal(await page.getByLabel("API token").getAttribute("type"), "password");
  await kind.selectOption("gitlab");
  assert.ok(await page.getByLabel("Project id or path").isVisible());
  for (const other of ["Job (folders with /)", "API server", "Method", "Repository (owner/repo)"]) {
    assert.ok(await page.getByLabel(other).isHidden(), `${other} is not a gitlab field`);
  }
  assert.equal(await page.getByLabel("Token", { exact: true }).getAttribute("type"), "password");
  await page.getByLabel("Target name").fill("web-ci");
  await page.getByLabel("URL", { exact: true }).fill(env.target.url);
  await page.getByLabel("Project id or path").fill("9");
  await page.getByLabel("Token", { exact: true }).fill("glptt-browser-secret");
  await shot("03-target-form");
  await page.getByRole("button", { name: "Create target" }).click();
  await note().getByText("Target web-ci created.").waitFor();
  const card = page.locator("#targets li", { hasText: "web-ci" });
  assert.match(await card.innerText(), /gitlab[\s\S]*project: 9[\s\S]*credential set/);
  assert.ok(!(await everything()).includes("glptt-browser-secret"), "the credential is not on the page");

  // Edit: the credential is not prefilled, the rest is; a change is saved.
  await page.getByRole("button", { name: "Edit target web-ci" }).click();
  assert.equal(await page.getByLabel("Token", { exact: true }).inputValue(), "");
  assert.equal(await page.getByLabel("Project id or path").inputValue(), "9");
  assert.ok(await kind.isDisabled(), "the kind of a target is fixed");
  await page.getByLabel("Project id or path").fill("group/app");
  await page.getByRole("button", { name: "Save target" }).click();
  await note().getByText("Target web-ci saved.").waitFor();
  const saved = await env.worker.call("GET", "/api/v1/targets/web-ci", { as: "alice" });
  assert.equal(saved.body.project, "group/app");
  assert.equal(saved.body.token_set, true, "an untouched credential is kept");
  state.targetId = saved.body.id;
  await shot("03-target-created");
});

test("4. a token trigger shows its token once, with a copy button", async () => {
  await page.getByRole("button", { name: "New trigger" }).click();
  await page.getByLabel("Target", { exact: true }).selectOption({ label: "web-ci (gitlab)" });
  await page.getByLabel("Description").fill(DESCRIPTION);
  await page.getByRole("button", { name: "Create trigger" }).click();
  const once = page.locator("#token-once");
  await once.waitFor();
  assert.match(await once.innerText(), /will not show it again/);
  const token = await page.getByLabel("New trigger token").inputValue();
  assert.match(token, /^hrtt_[0-9a-f]{48}$/);
  state.token = token;
  rememberSecret(token);
  await page.getByRole("button", { name: "Copy token" }).click();
  await note().getByText("Copied.").waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token, "the copy button copies the token");
  await shot("04-token-once");
  await page.getByRole("button", { name: "I have copied it" }).click();
  assert.ok(await once.isHidden());
  assert.ok(!(await everything()).includes(token), "the token is gone from the page");

  const card = triggerCard();
  assert.equal(await card.count(), 1);
  state.triggerId = await card.getAttribute("data-trigger");
  const text = await card.innerText();
  assert.ok(text.includes(DESCRIPTION), "the description is shown as text");
  assert.equal(await page.locator("#triggers b").count(), 0, "API data is never parsed as HTML");
  assert.match(text, /Kind\s+token/);
  assert.match(text, /Owner\s+alice/);
  assert.match(text, /Last used\s+never/);
  assert.match(text, /enabled/);
  assert.match(text, /Target\s+web-ci/, "its target is named");
  await shot("04-trigger-listed");
});

test("5. firing the trigger with its token reaches the mock target", async () => {
  const answer = await fire(state.token);
  assert.equal(answer.status, 201, await answer.text());
  const sent = env.target.last();
  assert.equal(sent.rawPath, "/api/v4/projects/group%2Fapp/trigger/pipeline");
  assert.match(sent.body, /token=glptt-browser-secret/);
  await shot("05-fired");
});

test("6. after a reload, last_used and the delivered delivery are shown", async () => {
  await page.reload();
  const used = triggerCard().locator("dt:text-is('Last used') + dd time");
  await used.waitFor();
  assert.match(await used.innerText(), /^(just now|\d+ seconds? ago|now)$/);
  const trigger = await env.worker.call("GET", `/api/v1/triggers/${state.triggerId}`, { as: "alice" });
  const exact = trigger.body.last_used;
  assert.ok(exact, "the API has last_used");
  assert.equal(await used.getAttribute("title"), exact.replace("T", " ").replace(/\.\d+Z$/, " UTC"), "the exact time on hover");
  await page.getByRole("button", { name: `Deliveries of ${DESCRIPTION}` }).click();
  const delivered = page.locator("#d-list > li[data-state=delivered]");
  await delivered.waitFor();
  assert.equal(await page.locator("#d-list > li").count(), 1);
  const text = await delivered.innerText();
  assert.match(text, /delivered/);
  assert.match(text, /Target status\s+201/);
  assert.match(text, /Duration\s+\d+ ms/);
  await delivered.locator("summary").click();
  assert.match(await delivered.locator("details pre").innerText(), /"status":"created"/, "the answer's excerpt");
  await shot("06-delivered");
});

test("7. while the target fails, the delivery shows pending, and the state filter finds it", async () => {
  env.target.script.push(...Array(3).fill({ status: 503, json: { message: "busy" } }));
  const answer = await fire(state.token);
  assert.equal(answer.status, 202);
  state.failing = (await answer.json()).delivery_id;
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.locator(`#d-list > li[data-delivery="${state.failing}"]`).waitFor();
  const asked = page.waitForRequest((request) => /\/deliveries\?.*state=pending/.test(request.url()));
  await page.getByLabel("State").selectOption("pending");
  await asked; // the API filters, so older pages are searched too
  const shown = page.locator("#d-list > li");
  await waitFor(async () => (await shown.count()) === 1 && (await shown.getAttribute("data-state")) === "pending",
    { what: "only the pending delivery" });
  assert.equal(await shown.getAttribute("data-state"), "pending");
  assert.match(await shown.innerText(), /Target status\s+503/);
  await shot("07-pending");
  // The queue retries it (1 s, then 2 s) until it runs out of attempts.
  await env.worker.delivery(state.failing, { until: ["dead"] });
  await page.getByRole("button", { name: "Refresh" }).click();
  await waitFor(async () => (await shown.count()) === 0, { what: "the filter to leave no pending delivery" });
  await page.getByLabel("State").selectOption("dead");
  await shown.first().waitFor();
  assert.equal(await shown.count(), 1);
  assert.equal(await shown.getAttribute("data-delivery"), state.failing);
  await shown.locator("summary").click();
  assert.equal(await shown.locator("details li").count(), 3, "its three attempts");
  await shot("07-dead");
});

test("8. after the mock recovers, replaying the failed delivery delivers it", async () => {
  assert.equal(env.target.script.length, 0, "the mock answers 201 again");
  await page.getByRole("button", { name: `Replay delivery ${state.failing}` }).click();
  await note().getByText("Replayed: the new delivery is delivered.").waitFor();
  await page.getByLabel("State").selectOption("delivered");
  const replayed = page.locator("#d-list > li", { hasText: "Replay of" });
  await replayed.waitFor();
  assert.match(await replayed.innerText(), new RegExp(`Replay of\\s+${state.failing}`));
  assert.equal(await replayed.getAttribute("data-state"), "delivered");
  assert.equal(await page.locator("#d-list > li").count(), 2, "the first delivery and the replay");
  assert.equal(env.target.last().headers["idempotency-key"], await replayed.getAttribute("data-delivery"));
  await shot("08-replayed");
});

test("9. revoking asks first, then the token gets 404", async () => {
  const revoke = page.getByRole("button", { name: `Revoke ${DESCRIPTION}` });
  answerDialog = false;
  await revoke.click();
  await waitFor(() => dialogs.length === 1, { what: "the confirmation" });
  assert.match(dialogs.at(-1), /^Revoke trigger/);
  assert.equal(await triggerCard().count(), 1, "cancelled: still there");
  assert.equal((await fire(state.token)).status, 201);
  answerDialog = true;
  await revoke.click();
  await waitFor(() => dialogs.length === 2, { what: "the second confirmation" });
  await note().getByText(/revoked/).waitFor();
  assert.equal(await triggerCard().count(), 0);
  assert.ok(await page.locator("#deliveries").isHidden(), "its deliveries are closed");
  const answer = await fire(state.token);
  assert.equal(answer.status, 404);
  assert.deepEqual(await answer.json(), { message: "404 Not Found" });
  await shot("09-revoked");

  // The target has no triggers left, so it can be deleted from the page too.
  await page.getByRole("button", { name: "Delete target web-ci" }).click();
  await waitFor(() => dialogs.length === 3, { what: "the delete confirmation" });
  assert.match(dialogs.at(-1), /^Delete target web-ci/);
  await note().getByText("Target web-ci deleted.").waitFor();
  assert.equal((await env.worker.call("GET", "/api/v1/targets/web-ci", { as: "alice" })).status, 404);
});

test("an API error is shown as the API's message", async () => {
  await page.getByRole("button", { name: "New target" }).click();
  await page.locator("#t-kind").selectOption("http");
  await page.getByLabel("Target name").fill("bad-url");
  await page.getByLabel("URL", { exact: true }).fill("ftp://example.com/x");
  await page.getByRole("button", { name: "Create target" }).click();
  await alert().getByText("url must use http or https").waitFor();
  await shot("10-api-error");
});

test("every kind of target can be created through its form, and deleted", async () => {
  const mock = env.target.url;
  const kinds = {
    github: { "Repository (owner/repo)": "octo/app", "Workflow file (workflow_dispatch)": "deploy.yml", "API URL (empty: GitHub.com)": mock, Token: "ghp-browser-secret" },
    jenkins: { URL: mock, "Job (folders with /)": "team/web", User: "bot", "API token": "jenkins-browser-secret" },
    kubernetes: { "API server": mock, Token: "sa-browser-secret" },
    ack: { "ACK trigger URL (with its token)": `${mock}/hook/trigger?token=ack-browser-secret` },
    http: { URL: `${mock}/deploy`, "Header 1 name": "X-Key", "Header 1 value": "hdr-browser-secret" },
  };
  for (const [kind, fields] of Object.entries(kinds)) {
    await page.getByRole("button", { name: "New target" }).click();
    await page.locator("#t-kind").selectOption(kind);
    await page.getByLabel("Target name").fill(`any-${kind}`);
    for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
    await page.getByRole("button", { name: "Create target" }).click();
    await note().getByText(`Target any-${kind} created.`).waitFor();
  }
  const views = Object.fromEntries((await env.worker.call("GET", "/api/v1/targets", { as: "alice" })).body.map((t) => [t.kind, t]));
  assert.equal(views.github.workflow, "deploy.yml");
  assert.equal(views.github.token_set, true);
  assert.equal(views.jenkins.api_token_set, true);
  assert.equal(views.jenkins.job, "team/web");
  assert.equal(views.kubernetes.token_set, true);
  assert.equal(views.ack.url, `${mock}/hook/trigger?***`);
  assert.deepEqual(views.http.header_names, ["X-Key"]);
  assert.ok(!/browser-secret/.test(await everything()), "no credential is on the page");
  await shot("11-every-kind");
  for (const kind of Object.keys(kinds)) {
    await page.getByRole("button", { name: `Delete target any-${kind}` }).click();
    await note().getByText(`Target any-${kind} deleted.`).waitFor();
  }
  assert.equal(await page.locator("#targets li").count(), 0);
});

test("a hook trigger is created with its filters through the form, and its hook URL fires it", async () => {
  const created = await env.worker.call("POST", "/api/v1/targets", {
    as: "alice", json: { name: "hooks-ci", kind: "gitlab", url: env.target.url, project: "9", token: "glptt-hooks-browser" },
  });
  assert.equal(created.status, 201);
  rememberSecret("glptt-hooks-browser", "hook-browser-secret");
  await page.reload();
  await page.getByRole("button", { name: "New trigger" }).click();
  await page.getByLabel("Target", { exact: true }).selectOption({ label: "hooks-ci (gitlab)" });
  await page.getByLabel("Fired by").selectOption("hook");
  assert.ok(await page.getByLabel("Cron (5 fields, UTC)").isHidden(), "only the hook trigger's fields");
  await page.getByLabel("Description").fill("pushes to master");
  await page.getByLabel("Provider").selectOption("github");
  await page.getByLabel(/^Webhook secret/).fill("hook-browser-secret");
  await page.getByLabel("Repository (exact, e.g. group/app)").fill("Codertocat/Hello-World");
  await page.getByLabel("Branches (globs, comma-separated)").fill("master, release/*");
  await page.getByLabel(/^Events/).fill("push");
  await page.getByRole("button", { name: "Create trigger" }).click();
  const card = page.locator("#triggers li[data-trigger]", { hasText: "pushes to master" });
  await card.waitFor();
  const text = await card.innerText();
  assert.match(text, /Fires on\s+repository Codertocat\/Hello-World · events push · branches master, release\/\*/);
  assert.ok(!(await everything()).includes("hook-browser-secret"), "the secret is not on the page");
  const hookUrl = await card.locator("code").first().innerText();
  assert.match(hookUrl, new RegExp(`^${env.worker.url}/hooks/[0-9a-f]+$`));
  await shot("11-hook-trigger");

  // GitHub's real push, signed as GitHub signs it, under a fresh delivery id each time.
  const body = fixture("github/push.json");
  const signature = crypto.createHmac("sha256", "hook-browser-secret").update(body).digest("hex");
  const push = (delivery) => fetch(hookUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": delivery,
      "x-hub-signature-256": `sha256=${signature}` },
    body,
  });
  const answer = await push("browser-push-1");
  assert.equal(answer.status, 202);
  const matched = await answer.json();
  assert.equal(matched.matched, true, JSON.stringify(matched));
  await env.worker.settled({ body: matched });
  const listedPage = page.waitForResponse((r) => /\/triggers\/[^/]+\/deliveries\?/.test(r.url()));
  await card.getByRole("button", { name: "Deliveries of pushes to master" }).click();
  const delivered = page.locator("#d-list > li[data-state=delivered]");
  await delivered.waitFor();
  assert.match(await delivered.innerText(), /Ref\s+master/);
  // The list carries the payload's size and SHA-256, not the payload; unfolding it reads the
  // payload from the delivery's own route.
  const list = await (await listedPage).json();
  const sha256 = crypto.createHash("sha256").update(body).digest("hex");
  assert.deepEqual(list.deliveries[0].call.payload, { content_type: "application/json", size: Buffer.byteLength(body), sha256 });
  assert.match(await delivered.innerText(), new RegExp(`Payload\\s+application/json, ${+(Buffer.byteLength(body) / 1024).toFixed(1)} KiB`));
  const fetched = page.waitForResponse((r) => r.url().endsWith(`/api/v1/deliveries/${list.deliveries[0].id}`));
  await delivered.locator("details.payload summary").click();
  assert.equal((await fetched).status(), 200);
  const shown = delivered.locator(".payload-body");
  await waitFor(async () => (await shown.textContent()) !== "Loading…", { what: "the payload" });
  assert.equal(await shown.textContent(), body, "the payload, as it came");
  assert.equal(await delivered.locator("details.payload code").innerText(), sha256);
  await shot("12-hook-delivered");

  // Edited in the same form: the secret is not shown and, left empty, kept; the new filter applies.
  await card.getByRole("button", { name: "Edit trigger pushes to master" }).click();
  assert.equal(await page.getByLabel(/^Webhook secret/).inputValue(), "", "the secret is never filled in");
  assert.equal(await page.getByLabel("Branches (globs, comma-separated)").inputValue(), "master, release/*");
  assert.ok(await page.getByLabel("Fired by").isDisabled(), "the kind cannot change");
  await page.getByLabel("Branches (globs, comma-separated)").fill("main");
  await page.getByLabel("Description").fill("pushes to main");
  await page.getByRole("button", { name: "Save trigger" }).click();
  await note().getByText("Trigger pushes to main saved.").waitFor();
  const edited = page.locator("#triggers li[data-trigger]", { hasText: "pushes to main" });
  assert.match(await edited.innerText(), /branches main(?!,)/);
  assert.equal(await page.locator("#deliveries-h").innerText(), "Deliveries of pushes to main");
  const again = await push("browser-push-2");
  assert.equal(again.status, 202, "the kept secret still verifies");
  const filtered = await again.json();
  assert.equal(filtered.matched, false);
  assert.match(filtered.reason, /branch/);
  await shot("13-hook-edited");
});

const OUTCOMES = ["delivered", "failed", "dead", "superseded", "refused"];

/** A gitlab target named `name` at `url`, and a token trigger of it, made through the API. */
async function tokenTrigger(name, url, description) {
  const target = await env.worker.call("POST", "/api/v1/targets", {
    as: "alice", json: { name, kind: "gitlab", url, project: "9", token: `glptt-${name}-browser` },
  });
  assert.equal(target.status, 201, target.text);
  const trigger = await env.worker.call("POST", "/api/v1/triggers", { as: "alice", json: { target: target.body.id, kind: "token", description } });
  assert.equal(trigger.status, 201, trigger.text);
  rememberSecret(trigger.body.token);
  return trigger.body;
}

/** What a trigger's chart draws: each bar segment as [hour, outcome, count], each p95 dot as [hour, ms]. */
async function drawn(id) {
  const chart = page.locator(`#triggers [data-chart="${id}"]`);
  return {
    bars: await chart.locator("rect[data-outcome]").evaluateAll((all) =>
      all.map((r) => [r.dataset.hour, r.dataset.outcome, Number(r.dataset.count)])),
    p95: await chart.locator("[data-p95]").evaluateAll((all) => all.map((c) => [c.dataset.hour, Number(c.dataset.p95)])),
  };
}

/** The same, from the API's series: a segment for every outcome an hour had, a dot for every hour with attempts. */
function expected(series) {
  return {
    bars: series.flatMap((h) => OUTCOMES.filter((o) => h[o] > 0).map((o) => [h.hour, o, h[o]])),
    p95: series.filter((h) => h.p95_ms != null).map((h) => [h.hour, h.p95_ms]),
  };
}

const sum = (bars, outcome) => bars.filter(([, o]) => o === outcome).reduce((n, [, , count]) => n + count, 0);

test("each trigger's last 24 hours are charted as the stats API counts them, and the overview puts the failing trigger first", { timeout: 60_000 }, async () => {
  // One trigger delivers three times; another's target answers 422 once (failed at once), then 500
  // until its delivery is dead (3 attempts, 1 s then 2 s apart).
  assert.equal(env.target.script.length, 0, "the mock answers 201");
  state.down = await startMock({ status: 500, json: { message: "down" } });
  state.down.script.push({ status: 422, json: { message: "no such ref" } });
  const steady = await tokenTrigger("stats-ok", env.target.url, "stats steady");
  const broken = await tokenTrigger("stats-down", state.down.url, "stats broken");
  state.broken = broken.id;
  for (let i = 0; i < 3; i++) assert.equal((await fire(steady.token, "stats-ok")).status, 201);
  assert.equal((await fire(broken.token, "stats-down")).status, 422, "relayed: failed, not retried");
  const dying = await fire(broken.token, "stats-down");
  assert.equal(dying.status, 202);
  state.dead = (await dying.json()).delivery_id;
  await env.worker.delivery(state.dead, { until: ["dead"] });
  const failed = await env.worker.call("GET", `/api/v1/triggers/${broken.id}/deliveries?state=failed`, { as: "alice" });
  state.failed = failed.body.deliveries[0].id;

  await page.reload();
  await page.locator(`[data-chart="${broken.id}"] rect`).first().waitFor();
  for (const [trigger, caused] of [[steady.id, { delivered: 3 }], [broken.id, { failed: 1, dead: 1 }]]) {
    const stats = await env.worker.call("GET", `/api/v1/triggers/${trigger}/stats?hours=24`, { as: "alice" });
    assert.equal(stats.status, 200, stats.text);
    assert.equal(stats.body.series.length, 24);
    const chart = await drawn(trigger);
    assert.deepEqual(chart, expected(stats.body.series), `${trigger}: the chart draws the API's figures, hour by hour`);
    // And those figures are what happened, so that an API and a chart that agree on nothing fail.
    for (const outcome of OUTCOMES) {
      assert.equal(sum(chart.bars, outcome), caused[outcome] ?? 0, `${trigger}: ${outcome}`);
      assert.equal(stats.body.totals[outcome], caused[outcome] ?? 0, `${trigger}: ${outcome} in the totals`);
    }
    assert.ok(chart.p95.length >= 1, "the p95 latency of the hour with attempts is drawn");
    const hours = new Set(chart.bars.map(([hour]) => hour));
    const titles = page.locator(`[data-chart="${trigger}"] g[data-hour] > title`);
    assert.equal(await titles.count(), hours.size, "hover text for each hour drawn, none for an empty hour");
    assert.match(await titles.last().textContent(), /^\d\d:\d\d–\d\d:\d\d: /);
  }

  const all = await env.worker.call("GET", "/api/v1/stats?hours=24", { as: "alice" });
  assert.equal(all.status, 200, all.text);
  const { totals } = all.body;
  const deliveries = totals.delivered + totals.failed + totals.dead;
  assert.ok(deliveries >= 5 && totals.dead >= 1, "this file's deliveries are counted");
  assert.equal(await page.locator("#overview-deliveries").innerText(), String(deliveries));
  assert.equal(Number(await page.locator("#overview-success").getAttribute("data-value")), totals.success_rate);
  assert.equal(await page.locator("#overview-success").innerText(), `${+(totals.success_rate * 100).toFixed(1)}%`);
  const listed = page.locator("#overview-triggers li");
  assert.deepEqual(await listed.evaluateAll((all) => all.map((li) => li.dataset.trigger)), all.body.triggers.map((t) => t.trigger),
    "the API's order: failing first");
  assert.equal(await listed.first().getAttribute("data-trigger"), broken.id, "the failing trigger is first");
  assert.match(await listed.first().innerText(), /^stats broken failing\s+1 failed · 1 dead · 0% succeeded/);
  assert.match(await listed.filter({ hasText: "stats steady" }).innerText(), /3 delivered · 100% succeeded/);
  await shot("14-stats");

  // The name links to the trigger's card.
  await page.evaluate(() => scrollTo(0, 0));
  await listed.first().getByRole("link", { name: "stats broken" }).click();
  assert.equal(new URL(page.url()).hash, `#card-${broken.id}`);
  const card = page.locator(`#card-${broken.id}`);
  assert.ok(await card.evaluate((li) => { const box = li.getBoundingClientRect(); return box.top >= 0 && box.top < innerHeight; }),
    "scrolled to its card");
});

test("/admin#delivery=<id>, the link notifications carry, opens that delivery once signed in", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.goto("about:blank");
  await page.goto(`${env.worker.url}/admin#delivery=${state.dead}`);
  await page.getByLabel("Admin token").fill(ADMINS.alice);
  await page.getByRole("button", { name: "Sign in" }).click();
  const shown = page.locator("#d-list > li");
  await page.locator(`#d-list > li[data-delivery="${state.dead}"]`).waitFor();
  assert.equal(await shown.count(), 1, "that delivery alone");
  assert.equal(await shown.getAttribute("data-state"), "dead");
  assert.equal(await page.locator("#deliveries-h").innerText(), "Deliveries of stats broken");
  assert.match(await shown.innerText(), /Target status\s+500/);
  assert.ok(await shown.locator("details").evaluate((d) => d.open), "its attempts unfolded");
  assert.equal(await shown.locator("details li").count(), 3, "its three attempts");
  assert.equal(new URL(page.url()).hash, `#delivery=${state.dead}`, "the address still names it");
  await shot("15-delivery-link");

  // In a tab already signed in, following another such link changes only the hash.
  await page.evaluate((id) => { location.hash = `#delivery=${id}`; }, state.failed);
  await page.locator(`#d-list > li[data-delivery="${state.failed}"]`).waitFor();
  assert.equal(await shown.getAttribute("data-state"), "failed");
  assert.match(await shown.innerText(), /Target status\s+422/);
  // Refresh lists the trigger's other deliveries around it.
  await page.getByRole("button", { name: "Refresh" }).click();
  await waitFor(async () => (await shown.count()) === 2, { what: "both deliveries of the trigger" });
  assert.equal(await page.locator("#d-list > li.linked").getAttribute("data-delivery"), state.failed, "still marked");

  const missing = await env.worker.call("GET", "/api/v1/deliveries/nope-0", { as: "alice" });
  assert.equal(missing.status, 404, missing.text);
  await page.evaluate(() => { location.hash = "#delivery=nope-0"; });
  await alert().getByText(missing.body.message).waitFor();
});

test("no CSP violation or script error happened", () => {
  assert.deepEqual(problems, []);
});
