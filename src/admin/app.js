"use strict";
// hookrelay admin page: vanilla JS, no build step. API data goes into the page by textContent only.
const $ = (id) => document.getElementById(id);
const KEY = "hookrelay-admin-token";
let targets = [], triggers = [], editing = null, shown = null, cursor = null, loaded = [];

function el(tag, attrs = {}, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "on") node.addEventListener("click", v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...kids.filter((k) => k != null));
  return node;
}

function alertMsg(text) {
  $("alert").textContent = text;
  $("alert").hidden = !text;
  if (text) $("note").textContent = "";
}
const note = (text) => { alertMsg(""); $("note").textContent = text; };

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${sessionStorage.getItem(KEY) || ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, `Network error: ${e.message}`);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) throw new ApiError(res.status, (data && data.message) || `${res.status} ${res.statusText}`);
  return data;
}

// Runs an action, showing any failure in the alert (and clearing an older one); a 401 signs out.
async function run(action) {
  alertMsg("");
  try {
    await action();
  } catch (e) {
    if (e.status === 401) signedOut();
    alertMsg(e.message || String(e));
  }
}

function signedOut() {
  sessionStorage.removeItem(KEY);
  $("app").hidden = $("signout").hidden = true;
  $("signin").hidden = false;
}

const ago = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
function when(iso) {
  if (!iso) return el("span", { text: "never" });
  const at = new Date(iso), secs = (at - Date.now()) / 1000;
  const units = [[60, "second"], [3600, "minute"], [86400, "hour"], [2592000, "day"], [31536000, "month"], [Infinity, "year"]];
  let text = "just now";
  if (Math.abs(secs) >= 5) {
    let size = 1;
    for (const [limit, unit] of units) {
      if (Math.abs(secs) < limit) { text = ago.format(Math.round(secs / size), unit); break; }
      size = limit;
    }
  }
  return el("time", { datetime: iso, title: at.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"), text });
}

function copyButton(label, value) {
  return el("button", { type: "button", text: label, on: () => copy(value()) });
}
async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    note("Copied.");
  } catch {
    alertMsg("Copying is not available here: select the text and copy it by hand.");
  }
}

// ---- targets ----
const SUMMARY = ["url", "project", "repository", "workflow", "event_type", "job", "user", "api_server", "type", "method"];
function renderTargets() {
  $("targets").replaceChildren(...targets.map((t) => {
    const facts = SUMMARY.filter((k) => t[k]).map((k) => `${k}: ${t[k]}`);
    if (t.token_set || t.api_token_set) facts.push("credential set");
    if (t.header_names && t.header_names.length) facts.push(`headers: ${t.header_names.join(", ")}`);
    return el("li", {},
      el("h3", {}, el("span", { text: t.name }), " ", el("span", { class: "badge", text: t.kind })),
      el("p", { class: "facts", text: facts.join(" · ") }),
      el("div", { class: "row" },
        el("button", { type: "button", text: "Edit", "aria-label": `Edit target ${t.name}`, on: () => openTarget(t) }),
        el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete target ${t.name}`, on: () => deleteTarget(t) })));
  }));
  $("g-target").replaceChildren(...targets.map((t) => el("option", { value: t.id, text: `${t.name} (${t.kind})` })));
  workloadFields();
}

function targetFields() {
  const kind = $("t-kind").value;
  for (const div of document.querySelectorAll("[data-k]")) div.hidden = !div.dataset.k.split(" ").includes(kind);
}

function headerRow(name = "") {
  const n = $("t-headers").children.length + 1;
  $("t-headers").append(el("div", { class: "pair" },
    el("label", { for: `h-name${n}`, text: `Header ${n} name` }), el("input", { id: `h-name${n}`, value: name }),
    el("label", { for: `h-value${n}`, text: `Header ${n} value` }), el("input", { id: `h-value${n}`, type: "password", autocomplete: "off" })));
}

function openTarget(t) {
  editing = t || null;
  const form = $("target-form");
  form.reset();
  $("t-headers").replaceChildren();
  headerRow();
  $("t-kind").disabled = !!t;
  $("target-form-h").textContent = t ? `Edit target ${t.name}` : "New target";
  $("target-save").textContent = t ? "Save target" : "Create target";
  $("t-headers-set").textContent = t && t.header_names && t.header_names.length
    ? `Headers set: ${t.header_names.join(", ")}. Entering any header replaces them all.` : "";
  if (t) {
    $("t-kind").value = t.kind;
    for (const input of form.querySelectorAll("[data-f]")) {
      if (!("secret" in input.dataset) && t[input.dataset.f] != null) input.value = t[input.dataset.f];
    }
  }
  targetFields();
  form.hidden = false;
  $("t-name").focus();
}

function targetBody() {
  const body = {};
  if (!editing) body.kind = $("t-kind").value;
  for (const input of $("target-form").querySelectorAll("[data-f]")) {
    if (input.closest("[hidden]")) continue;
    const field = input.dataset.f, value = input.value.trim();
    if (value) body[field] = value;
    else if (editing && !("secret" in input.dataset) && editing[field]) body[field] = null;
  }
  const headers = {};
  for (const pair of $("t-headers").children) {
    const [name, value] = pair.querySelectorAll("input");
    if (name.value.trim()) headers[name.value.trim()] = value.value;
  }
  if (Object.keys(headers).length && $("t-kind").value === "http") body.headers = headers;
  if (editing) for (const k of Object.keys(body)) if (body[k] === editing[k]) delete body[k];
  return body;
}

async function saveTarget(event) {
  event.preventDefault();
  await run(async () => {
    const body = targetBody();
    const saved = editing
      ? await api("PATCH", `/api/v1/targets/${encodeURIComponent(editing.id)}`, body)
      : await api("POST", "/api/v1/targets", body);
    $("target-form").hidden = true;
    await load();
    note(`Target ${saved.name} ${editing ? "saved" : "created"}.`);
    editing = null;
  });
}

async function deleteTarget(t) {
  if (!confirm(`Delete target ${t.name}? This cannot be undone.`)) return;
  await run(async () => {
    await api("DELETE", `/api/v1/targets/${encodeURIComponent(t.id)}`);
    await load();
    note(`Target ${t.name} deleted.`);
  });
}

// ---- triggers ----
function fact(term, ...value) {
  return [el("dt", { text: term }), el("dd", {}, ...value)];
}

function renderTriggers() {
  const groups = targets.map((t) => [t, triggers.filter((g) => g.target === t.id)]);
  const orphans = triggers.filter((g) => !targets.some((t) => t.id === g.target));
  if (orphans.length) groups.push([{ name: "(unknown target)" }, orphans]);
  $("triggers").replaceChildren(...groups.filter(([, list]) => list.length).map(([t, list]) =>
    el("div", { class: "group" }, el("h3", { text: `Target ${t.name}` }), el("ul", { class: "cards" }, ...list.map((g) => triggerItem(g, t))))));
  if (!triggers.length) $("triggers").append(el("p", { text: "No triggers yet." }));
}

function triggerItem(g, t) {
  const hook = g.hook_url && location.origin + g.hook_url;
  const label = g.description || g.id;
  const source = g.source ? `${g.source.kind}${g.source.cron ? ` (${g.source.cron})` : ""}` : null;
  return el("li", { "data-trigger": g.id },
    el("h4", {}, el("span", { text: g.description || "(no description)" }), " ",
      el("span", { class: `badge ${g.enabled ? "on" : "off"}`, text: g.enabled ? "enabled" : "disabled" })),
    el("dl", {},
      ...fact("Kind", g.kind),
      ...fact("Owner", g.owner),
      ...(source ? fact("Source", source) : []),
      ...(g.kind === "token" ? fact("Token", `${g.token}… (shown once, at creation)`) : []),
      ...(g.kind === "token" ? fact("Fire at", `${location.origin}/api/v4/projects/${encodeURIComponent(t.name || g.target)}/trigger/pipeline`) : []),
      ...(hook ? fact("Hook URL", el("code", { text: hook }), " ", copyButton("Copy hook URL", () => hook)) : []),
      ...fact("Last used", when(g.last_used)),
      ...(g.expires_at ? fact("Expires", when(g.expires_at)) : []),
      ...fact("Id", el("code", { text: g.id }))),
    el("div", { class: "row" },
      el("button", { type: "button", text: "Deliveries", "aria-label": `Deliveries of ${label}`, on: () => openDeliveries(g.id) }),
      el("button", { type: "button", text: g.enabled ? "Disable" : "Enable", "aria-label": `${g.enabled ? "Disable" : "Enable"} ${label}`, on: () => toggle(g) }),
      el("button", { type: "button", class: "danger", text: "Revoke", "aria-label": `Revoke ${label}`, on: () => revoke(g) })));
}

function triggerFields() {
  const kind = $("g-kind").value;
  for (const div of document.querySelectorAll("[data-g]")) div.hidden = div.dataset.g !== kind;
  workloadFields();
}

function workloadFields() {
  const t = targets.find((x) => x.id === $("g-target").value);
  $("g-workload").hidden = !t || !(t.kind === "kubernetes" || (t.kind === "ack" && t.type === "application"));
}

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

async function createTrigger(event) {
  event.preventDefault();
  await run(async () => {
    const kind = $("g-kind").value;
    const body = { target: $("g-target").value, kind };
    if ($("g-desc").value.trim()) body.description = $("g-desc").value.trim();
    if (kind === "token" && list($("g-refs").value).length) body.refs = list($("g-refs").value);
    if (kind === "hook") body.source = { kind: $("g-source").value, secrets: $("g-secret").value ? [$("g-secret").value] : [] };
    if (kind === "schedule") body.source = { kind: "schedule", cron: $("g-cron").value.trim(), ref: $("g-ref").value.trim() || "main" };
    if (kind === "image") body.repository = $("g-repo").value.trim();
    if (!$("g-workload").hidden) {
      body.workload = { namespace: $("w-ns").value.trim(), kind: $("w-kind").value, name: $("w-name").value.trim(), action: $("w-action").value };
      if ($("w-container").value.trim()) body.workload.container = $("w-container").value.trim();
    }
    const created = await api("POST", "/api/v1/triggers", body);
    $("trigger-form").reset();
    $("trigger-form").hidden = true;
    await load();
    if (created.kind === "token") {
      $("token-value").value = created.token;
      $("token-once").hidden = false;
      $("token-value").focus();
      $("token-value").select();
    }
    note(`Trigger ${created.id} created.`);
  });
}

async function toggle(g) {
  await run(async () => {
    await api("PATCH", `/api/v1/triggers/${g.id}`, { enabled: !g.enabled });
    await load();
    note(`Trigger ${g.description || g.id} ${g.enabled ? "disabled" : "enabled"}.`);
  });
}

async function revoke(g) {
  if (!confirm(`Revoke trigger "${g.description || g.id}"? Its token stops working at once; this cannot be undone.`)) return;
  await run(async () => {
    await api("DELETE", `/api/v1/triggers/${g.id}`);
    if (shown === g.id) closeDeliveries();
    await load();
    note(`Trigger ${g.description || g.id} revoked.`);
  });
}

// ---- deliveries ----
function openDeliveries(id) {
  shown = id;
  history.replaceState(null, "", `#trigger=${encodeURIComponent(id)}`);
  $("deliveries").hidden = false;
  loadDeliveries(true).then(() => $("deliveries-h").scrollIntoView());
}

function closeDeliveries() {
  shown = null;
  history.replaceState(null, "", location.pathname);
  $("deliveries").hidden = true;
}

async function loadDeliveries(fresh) {
  await run(async () => {
    const g = triggers.find((x) => x.id === shown);
    $("deliveries-h").textContent = `Deliveries of ${g ? g.description || g.id : shown}`;
    const page = await api("GET", `/api/v1/triggers/${encodeURIComponent(shown)}/deliveries?limit=20${!fresh && cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    loaded = fresh ? page.deliveries : loaded.concat(page.deliveries);
    cursor = page.cursor;
    renderDeliveries();
  });
}

// The API has no state filter: deliveries are filtered here, among those loaded.
function renderDeliveries() {
  const state = $("d-state").value;
  const items = loaded.filter((d) => !state || d.state === state);
  $("d-list").replaceChildren(...items.map(deliveryItem));
  $("d-empty").hidden = items.length > 0;
  $("d-empty").textContent = loaded.length ? `No ${state} deliveries among the ${loaded.length} loaded.` : "No deliveries.";
  $("d-more").hidden = !cursor;
}

function deliveryItem(d) {
  const last = d.attempts[d.attempts.length - 1];
  return el("li", { "data-delivery": d.id, "data-state": d.state },
    el("h4", {}, el("span", { class: `badge ${d.state}`, text: d.state }), " ", when(d.at)),
    el("dl", {},
      ...fact("Target status", last ? String(last.status ?? "no answer") : "not tried yet"),
      ...fact("Duration", last ? `${last.duration_ms} ms` : "–"),
      ...fact("Ref", d.call && d.call.ref ? d.call.ref : "–"),
      ...(d.replay_of ? fact("Replay of", el("code", { text: d.replay_of })) : [])),
    el("details", {},
      el("summary", { text: `${d.attempts.length} attempt${d.attempts.length === 1 ? "" : "s"}` }),
      el("ol", {}, ...d.attempts.map((a) => el("li", {},
        el("p", {}, when(a.at), ` · status ${a.status ?? "none"} · ${a.duration_ms} ms`),
        el("pre", { text: a.excerpt || "(empty answer)" }))))),
    el("button", { type: "button", text: "Replay", "aria-label": `Replay delivery ${d.id}`, on: () => replay(d) }));
}

async function replay(d) {
  await run(async () => {
    const again = await api("POST", `/api/v1/deliveries/${encodeURIComponent(d.id)}/replay`);
    await load();
    await loadDeliveries(true);
    note(`Replayed: the new delivery is ${again.state}.`);
  });
}

// ---- start ----
async function load() {
  [targets, triggers] = await Promise.all([api("GET", "/api/v1/targets"), api("GET", "/api/v1/triggers")]);
  renderTargets();
  renderTriggers();
}

async function start() {
  $("signin").hidden = true;
  $("app").hidden = $("signout").hidden = false;
  await load();
  const hash = /^#trigger=(.+)$/.exec(location.hash);
  if (hash) openDeliveries(decodeURIComponent(hash[1]));
}

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("signin-token").value.trim());
  $("signin-token").value = "";
  await run(start);
});
$("signout").addEventListener("click", () => { signedOut(); closeDeliveries(); note("Signed out."); });
$("target-new").addEventListener("click", () => openTarget(null));
$("target-cancel").addEventListener("click", () => { $("target-form").hidden = true; editing = null; });
$("t-kind").addEventListener("change", targetFields);
$("t-header-add").addEventListener("click", () => headerRow());
$("target-form").addEventListener("submit", saveTarget);
$("trigger-new").addEventListener("click", () => { $("trigger-form").hidden = false; triggerFields(); $("g-target").focus(); });
$("trigger-cancel").addEventListener("click", () => { $("trigger-form").hidden = true; });
$("g-kind").addEventListener("change", triggerFields);
$("g-target").addEventListener("change", workloadFields);
$("trigger-form").addEventListener("submit", createTrigger);
$("token-copy").addEventListener("click", () => copy($("token-value").value));
$("token-done").addEventListener("click", () => { $("token-value").value = ""; $("token-once").hidden = true; });
$("d-state").addEventListener("change", renderDeliveries);
$("d-refresh").addEventListener("click", () => Promise.all([run(load), loadDeliveries(true)]));
$("d-more").addEventListener("click", () => loadDeliveries(false));
$("d-close").addEventListener("click", closeDeliveries);

if (sessionStorage.getItem(KEY)) run(start); else signedOut();
