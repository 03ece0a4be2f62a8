// The admin page at 300 triggers, in a real browser (Debian's chromium through playwright-core),
// against the built worker in Miniflare: the page reads the trigger list page by page (20 a page,
// as the API bounds it), puts the failing triggers first, searches by name, target or source,
// filters by state, and shows 20 at a time with a pager. Screenshots go to tests/artifacts/.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ADMINS, ROOT, rememberSecret, startMock, waitFor, withWorkerAndMock } from "../e2e/harness.mjs";

const env = withWorkerAndMock(undefined, { then: setUp });
const ARTIFACTS = path.join(ROOT, "tests/artifacts");
const TARGETS = ["billing", "checkout", "frontend", "payments", "search", "warehouse"];
const SOURCES = ["github", "gitea"];
let browser, page, broken;
const problems = [];
const made = []; // { id, description, target, source, enabled }
const listed = []; // every answer of GET /api/v1/triggers the page read

const description = (n) => `deploy-${String(n).padStart(3, "0")}`;

// 300 triggers across six targets, made through the API: every tenth a hook trigger (github or
// gitea), every seventh disabled; the last target's URL answers 422, and two of its triggers are
// fired there, so they are failing.
async function setUp() {
  broken = await startMock({ status: 422, json: { message: "no such ref" } });
  const ids = {};
  for (const name of TARGETS) {
    const url = name === "warehouse" ? broken.url : env.target.url;
    const target = await env.worker.call("POST", "/api/v1/targets", {
      as: "alice", json: { name, kind: "gitlab", url, project: "9", token: `glptt-${name}-many` },
    });
    assert.equal(target.status, 201, target.text);
    ids[name] = target.body.id;
    rememberSecret(`glptt-${name}-many`);
  }
  for (let start = 0; start < 300; start += 10) {
    await Promise.all(Array.from({ length: 10 }, async (_, k) => {
      const n = start + k, target = TARGETS[n % TARGETS.length];
      const source = n % 10 === 0 ? SOURCES[(n / 10) % 2] : null;
      const json = { target: ids[target], description: description(n), enabled: n % 7 !== 3 };
      if (source) Object.assign(json, { source: { kind: source, secrets: [`many-secret-${n}`] } });
      if (source) rememberSecret(`many-secret-${n}`);
      const created = await env.worker.call("POST", "/api/v1/triggers", { as: "alice", json });
      assert.equal(created.status, 201, created.text);
      made.push({ id: created.body.id, description: description(n), target, source, enabled: json.enabled, token: created.body.token });
    }));
  }
  // Two token triggers of the target that answers 422: one delivery each, failed.
  const failing = made.filter((g) => g.target === "warehouse" && !g.source && g.enabled).slice(0, 2);
  for (const g of failing) {
    const answer = await fetch(`${env.worker.url}/api/v4/projects/warehouse/trigger/pipeline`, {
      method: "POST", body: new URLSearchParams({ token: g.token, ref: "main" }),
    });
    assert.equal(answer.status, 422);
    g.failing = true;
  }
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
      "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (message) => {
    if (message.type() === "error" && !/^Failed to load resource/.test(message.text())) problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", async (response) => {
    if (new URL(response.url()).pathname === "/api/v1/triggers" && response.request().method() === "GET") {
      listed.push({ url: response.url(), body: await response.json() });
    }
  });
}

after(async () => {
  await browser?.close();
  await broken?.stop();
});

const cards = () => page.locator("#triggers li[data-trigger]");
const descriptions = () => cards().locator("h4 > span:first-child").allInnerTexts();
const count = () => page.locator("#g-count").innerText();

async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `admin-${name}.png`), fullPage: true });
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.screenshot({ path: path.join(ARTIFACTS, `admin-${name}-375.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  assert.equal(overflow, 0, `${name}: no horizontal scroll at 375 px`);
}

test("the page reads all 300 triggers, 20 a request, and shows the failing ones first, 20 at a time", { timeout: 120_000 }, async () => {
  assert.equal(made.length, 300);
  await page.goto(`${env.worker.url}/admin`);
  await page.getByLabel("Admin token").fill(ADMINS.alice);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("1–20 of 300 triggers").waitFor();
  // Page by page, each following the last one's cursor, until none is left.
  await waitFor(() => listed.length >= 15, { what: "the answers read" });
  assert.equal(listed.length, 15, "300 triggers, 20 a page");
  const seen = listed.flatMap((answer) => answer.body.triggers.map((g) => g.id));
  assert.deepEqual([...new Set(seen)].sort(), made.map((g) => g.id).sort(), "each trigger once");
  assert.equal(seen.length, 300);
  listed.forEach((answer, n) => {
    assert.ok(answer.body.triggers.length <= 20);
    assert.equal(new URL(answer.url).searchParams.get("cursor"), n === 0 ? null : listed[n - 1].body.cursor);
  });
  assert.equal(listed.at(-1).body.cursor, null);

  assert.equal(await cards().count(), 20);
  const failing = made.filter((g) => g.failing).map((g) => g.description).sort();
  assert.deepEqual((await descriptions()).slice(0, 2).sort(), failing, "the failing triggers first");
  assert.match(await cards().first().innerText(), /failing[\s\S]*Target\s+warehouse/);
  assert.equal(await page.locator("#triggers li.failing").count(), 2);
  assert.equal(await page.locator("#g-page").innerText(), "Page 1 of 15");
  assert.ok(await page.getByRole("button", { name: "Previous page" }).isDisabled());
  await shot("20-many-triggers");
  // What the README shows: the list's search, filter and count, and its first cards, failing.
  await page.getByRole("heading", { name: "Triggers", exact: true }).evaluate((h) => h.scrollIntoView());
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.screenshot({ path: path.join(ARTIFACTS, "admin-20-many-triggers-list.png") });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("the pager goes through every trigger, 20 a page", async () => {
  const shown = new Set(await descriptions());
  for (let n = 2; n <= 15; n++) {
    await page.getByRole("button", { name: "Next page" }).click();
    assert.equal(await page.locator("#g-page").innerText(), `Page ${n} of 15`);
    for (const text of await descriptions()) shown.add(text);
  }
  assert.equal(await count(), "281–300 of 300 triggers");
  assert.ok(await page.getByRole("button", { name: "Next page" }).isDisabled());
  assert.equal(shown.size, 300, "every trigger on one page or another");
  await page.getByRole("button", { name: "Previous page" }).click();
  assert.equal(await count(), "261–280 of 300 triggers");
});

test("search finds triggers by name, by target and by source", async () => {
  const search = page.getByLabel("Search triggers");
  await search.fill("deploy-123");
  assert.deepEqual(await descriptions(), ["deploy-123"]);
  assert.equal(await count(), "1–1 of 1 matching (of 300)");
  assert.ok(await page.locator("#g-pager").isHidden(), "one page: no pager");

  await search.fill("checkout");
  const ofCheckout = made.filter((g) => g.target === "checkout").length;
  assert.equal(await count(), `1–20 of ${ofCheckout} matching (of 300)`);
  for (const card of await cards().all()) assert.match(await card.innerText(), /Target\s+checkout/);

  await search.fill("gitea");
  const ofGitea = made.filter((g) => g.source === "gitea").map((g) => g.description).sort();
  assert.equal(ofGitea.length, 15);
  assert.deepEqual((await descriptions()).sort(), ofGitea);
  await shot("21-many-search");

  await search.fill("no such trigger");
  assert.equal(await cards().count(), 0);
  assert.ok(await page.getByText("No trigger matches.").isVisible());
  await search.fill("");
  assert.equal(await count(), "1–20 of 300 triggers", "back to page 1 of all");
});

test("the filters show the failing, the enabled or the disabled triggers", async () => {
  const show = page.getByLabel("Show");
  await show.selectOption("failing");
  assert.deepEqual((await descriptions()).sort(), made.filter((g) => g.failing).map((g) => g.description).sort());
  await show.selectOption("disabled");
  const disabled = made.filter((g) => !g.enabled);
  assert.equal(await count(), `1–20 of ${disabled.length} matching (of 300)`);
  for (const card of await cards().all()) assert.match(await card.innerText(), /disabled/);
  await show.selectOption("enabled");
  assert.equal(await count(), `1–20 of ${300 - disabled.length} matching (of 300)`);
  // A search and a filter together: the disabled gitea hooks.
  await show.selectOption("disabled");
  await page.getByLabel("Search triggers").fill("gitea");
  const both = made.filter((g) => !g.enabled && g.source === "gitea").map((g) => g.description).sort();
  assert.ok(both.length > 0);
  assert.deepEqual((await descriptions()).sort(), both);
  await page.getByLabel("Search triggers").fill("");
  await show.selectOption("");
});

test("no CSP violation or script error happened", () => {
  assert.deepEqual(problems, []);
});
