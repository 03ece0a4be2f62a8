"use strict";
// hookrelay admin page: vanilla JS, no build step. API data reaches the page by textContent only.
const $ = (id) => document.getElementById(id);
const KEY = "hookrelay-admin-token";
let targets = [], triggers = [], editing = null, editingTrigger = null, shown = null, cursor = null, loaded = [];
// The trigger list: every trigger is loaded (the API pages through them, 20 at a time), then
// searched, filtered and ordered failing first here, and shown PER_PAGE at a time.
const PER_PAGE = 20;
let search = "", filter = "", pageNo = 0;
// The last 24 hours: /api/v1/stats?series=true, and each active trigger's hourly series by trigger id.
let overview = null, charts = new Map(), linked = null;

function fill(node, attrs, kids) {
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "on") node.addEventListener("click", v);
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...kids.filter((k) => k != null));
  return node;
}
const el = (tag, attrs = {}, ...kids) => fill(document.createElement(tag), attrs, kids);
// SVG elements need their namespace (a name, nothing is fetched from it); attributes only, never markup.
const svg = (tag, attrs = {}, ...kids) => fill(document.createElementNS("http://www.w3.org/2000/svg", tag), attrs, kids);
const button = (text, on, label, cls = "") => el("button", { type: "button", text, on, "aria-label": label || text, class: cls });
// A <dl> of [term, ...values] rows; falsy rows are left out.
const dl = (...rows) => el("dl", {}, ...rows.filter(Boolean).flatMap(([t, ...v]) => [el("dt", { text: t }), el("dd", {}, ...v)]));

function alertMsg(text) {
  $("alert").textContent = text;
  $("alert").hidden = !text;
  if (text) $("note").textContent = "";
}
const note = (text) => { alertMsg(""); $("note").textContent = text; };

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${sessionStorage.getItem(KEY) || ""}` };
  if (body) headers["content-type"] = "application/json";
  let res, data = null;
  try {
    res = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  } catch (e) {
    throw new Error(`Network error: ${e.message}`);
  }
  try { data = JSON.parse(await res.text()); } catch { /* an empty or non-JSON answer */ }
  if (!res.ok) throw Object.assign(new Error((data && data.message) || `${res.status} ${res.statusText}`), { status: res.status });
  return data;
}

// Runs an action, showing any failure in the alert (and clearing an older one); a 401 signs out.
async function run(action) {
  alertMsg("");
  try {
    await action();
  } catch (e) {
    if (e.status === 401) signedOut();
    alertMsg(e.message);
  }
}

function signedOut() {
  sessionStorage.removeItem(KEY);
  // Nothing of the last session stays in the tab: not a new token, not a typed credential.
  $("token-value").value = "";
  $("token-once").hidden = true;
  for (const form of ["target-form", "trigger-form"]) { $(form).reset(); $(form).hidden = true; }
  $("app").hidden = $("signout").hidden = true;
  $("signin").hidden = false;
}

const rtf = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [[60, "second"], [3600, "minute"], [86400, "hour"], [2592000, "day"], [31536000, "month"], [Infinity, "year"]];
// "3 minutes ago", with the exact time on hover.
function when(iso) {
  if (!iso) return "never";
  const at = new Date(iso), secs = (at - Date.now()) / 1000;
  let text = "just now", size = 1;
  if (Math.abs(secs) >= 5) {
    for (const [limit, unit] of UNITS) {
      if (Math.abs(secs) < limit) { text = rtf.format(Math.round(secs / size), unit); break; }
      size = limit;
    }
  }
  return el("time", { datetime: iso, title: iso.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC"), text });
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
        button("Edit", () => openTarget(t), `Edit target ${t.name}`),
        button("Delete", () => deleteTarget(t), `Delete target ${t.name}`, "danger")));
  }));
  $("g-target").replaceChildren(...targets.map((t) => el("option", { value: t.id, text: `${t.name} (${t.kind})` })));
  workloadFields();
}

function targetFields() {
  for (const div of document.querySelectorAll("[data-k]")) div.hidden = !div.dataset.k.split(" ").includes($("t-kind").value);
}

function headerRow() {
  const n = $("t-headers").children.length + 1;
  $("t-headers").append(el("div", { class: "pair" },
    el("label", { for: `h-name${n}`, text: `Header ${n} name` }), el("input", { id: `h-name${n}` }),
    el("label", { for: `h-value${n}`, text: `Header ${n} value` }), el("input", { id: `h-value${n}`, type: "password", autocomplete: "new-password" })));
}

function openTarget(t) {
  editing = t;
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
    // Credentials are never prefilled: the API does not return them.
    for (const input of form.querySelectorAll("[data-f]:not([data-secret])")) input.value = t[input.dataset.f] ?? "";
  }
  targetFields();
  form.hidden = false;
  $("t-name").focus();
}

// Only the fields of the chosen kind; on edit, only what changed (an emptied field is sent as null).
function targetBody() {
  const body = editing ? {} : { kind: $("t-kind").value };
  for (const input of $("target-form").querySelectorAll("[data-f]")) {
    const field = input.dataset.f, value = input.value.trim();
    if (input.closest("[hidden]") || (editing && value === (editing[field] ?? ""))) continue;
    if (value) body[field] = value;
    else if (editing && !("secret" in input.dataset)) body[field] = null;
  }
  const headers = {};
  for (const pair of $("t-headers").children) {
    const [name, value] = pair.querySelectorAll("input");
    if (name.value.trim()) headers[name.value.trim()] = value.value;
  }
  if (Object.keys(headers).length && $("t-kind").value === "http") body.headers = headers;
  return body;
}

async function saveTarget(event) {
  event.preventDefault();
  await run(async () => {
    const saved = editing
      ? await api("PATCH", `/api/v1/targets/${editing.id}`, targetBody())
      : await api("POST", "/api/v1/targets", targetBody());
    $("target-form").reset(); // typed credentials do not linger in the hidden form
    $("target-form").hidden = true;
    await loadTargets();
    const dropped = saved.credentials_dropped?.length
      ? ` Its URL moved to another host, so these were dropped; enter them again: ${saved.credentials_dropped.join(", ")}.` : "";
    note(`Target ${saved.name} ${editing ? "saved" : "created"}.${dropped}`);
    editing = null;
  });
}

async function deleteTarget(t) {
  if (!confirm(`Delete target ${t.name}? This cannot be undone.`)) return;
  await run(async () => {
    await api("DELETE", `/api/v1/targets/${t.id}`);
    await loadTargets();
    note(`Target ${t.name} deleted.`);
  });
}

// ---- triggers ----
const targetOf = (g) => targets.find((t) => t.id === g.target) || { name: "(unknown)" };
// Failed and dead deliveries in the last 24 hours (the overview's count).
const failures = (g) => { const s = charts.get(g.id); return s && s.totals ? s.totals.failed + s.totals.dead : 0; };
const STATES = { failing: (g) => failures(g) > 0, enabled: (g) => g.enabled, disabled: (g) => !g.enabled };
// Searched by name (description), id, target name, source and repository.
const words = (g) => [g.description, g.id, targetOf(g).name, g.kind, g.source && g.source.kind, g.repository].join(" ").toLowerCase();
const byName = (a, b) => targetOf(a).name.localeCompare(targetOf(b).name) || (a.description || a.id).localeCompare(b.description || b.id);

// The triggers that match the search and the filter, failing ones first (most failures first),
// then by target and name.
function matching() {
  const q = search.trim().toLowerCase();
  return triggers.filter((g) => (!q || words(g).includes(q)) && (!filter || STATES[filter](g)))
    .sort((a, b) => failures(b) - failures(a) || byName(a, b));
}

function renderTriggers() {
  const found = matching(), pages = Math.max(1, Math.ceil(found.length / PER_PAGE));
  pageNo = Math.min(Math.max(pageNo, 0), pages - 1);
  const first = pageNo * PER_PAGE, slice = found.slice(first, first + PER_PAGE);
  $("triggers").replaceChildren(el("ul", { class: "cards" }, ...slice.map((g) => triggerItem(g, targetOf(g)))));
  if (!triggers.length) $("triggers").append(el("p", { text: "No triggers yet." }));
  else if (!found.length) $("triggers").append(el("p", { text: "No trigger matches." }));
  const of = found.length < triggers.length ? `${found.length} matching (of ${triggers.length})`
    : `${triggers.length} trigger${triggers.length === 1 ? "" : "s"}`;
  $("g-count").textContent = found.length ? `${first + 1}–${first + slice.length} of ${of}` : triggers.length ? `0 of ${triggers.length} triggers` : "";
  $("g-pager").hidden = pages < 2;
  $("g-page").textContent = `Page ${pageNo + 1} of ${pages}`;
  $("g-prev").disabled = pageNo === 0;
  $("g-next").disabled = pageNo >= pages - 1;
  if (shown) deliveriesHeading();
}

// Shows the page that holds trigger `id` (clearing a search or filter that hides it).
function reveal(id) {
  if (!matching().some((g) => g.id === id)) {
    search = filter = "";
    $("g-search").value = $("g-filter").value = "";
  }
  const at = matching().findIndex((g) => g.id === id);
  if (at >= 0 && Math.floor(at / PER_PAGE) !== pageNo) {
    pageNo = Math.floor(at / PER_PAGE);
    renderTriggers();
  }
}

// A trigger as the API answered it after a change, in place of the one held.
function replaceTrigger(saved) {
  const at = triggers.findIndex((g) => g.id === saved.id);
  if (at >= 0) triggers[at] = saved; else triggers.push(saved);
  renderTriggers();
}

function triggerItem(g, t) {
  const hook = g.hook_url && location.origin + g.hook_url;
  const label = g.description || g.id, token = g.kind === "token", on = g.enabled;
  return el("li", { "data-trigger": g.id, id: `card-${g.id}`, class: failures(g) ? "failing" : "" },
    el("h4", {}, el("span", { text: g.description || "(no description)" }), " ",
      el("span", { class: `badge ${on ? "on" : "off"}`, text: on ? "enabled" : "disabled" }),
      failures(g) ? el("span", { class: "badge dead", text: "failing" }) : null),
    dl(["Target", t.name],
      ["Kind", g.kind],
      ["Owner", g.owner],
      g.source && ["Source", g.source.kind + (g.source.cron ? ` (${g.source.cron})` : "")],
      // The API gives the owner the full token (as GitLab does); the page shows its start only.
      token && ["Token", `${g.token.slice(0, 4)}… (shown in full at creation; its owner can read it from the API)`],
      token && ["Fire at", `${location.origin}/api/v4/projects/${encodeURIComponent(t.name || g.target)}/trigger/pipeline`],
      hook && ["Hook URL", el("code", { text: hook }), " ", button("Copy hook URL", () => copy(hook))],
      !token && filters(g) && ["Fires on", filters(g)],
      ["Last used", when(g.last_used)],
      g.expires_at && ["Expires", when(g.expires_at)],
      ["Id", el("code", { text: g.id })]),
    chart(g.id),
    el("div", { class: "row" },
      button("Deliveries", () => openDeliveries(g.id), `Deliveries of ${label}`),
      button("Edit", () => openTrigger(g), `Edit trigger ${label}`),
      button(on ? "Disable" : "Enable", () => toggle(g), `${on ? "Disable" : "Enable"} ${label}`),
      button("Revoke", () => revoke(g), `Revoke ${label}`, "danger")));
}

// What a hook or image trigger lets through, in words: "repository group/app · branches main".
function filters(g) {
  const parts = [["repository", g.repository], ["events", g.events], ["branches", g.branches], ["tags", g.tags],
    ["condition", g.condition], ["trigger type", g.trigger_type]];
  return parts.filter(([, v]) => v && v.length).map(([k, v]) => `${k} ${[].concat(v).join(", ")}`).join(" · ");
}

function triggerFields() {
  for (const div of document.querySelectorAll("[data-g]")) div.hidden = div.dataset.g !== $("g-kind").value;
  workloadFields();
}

function workloadFields() {
  const t = targets.find((x) => x.id === $("g-target").value);
  $("g-workload").hidden = !t || !(t.kind === "kubernetes" || (t.kind === "ack" && t.type === "application"));
}

const val = (id) => $(id).value.trim();
const list = (id) => val(id).split(",").map((s) => s.trim()).filter(Boolean);

// Opens the trigger form: empty for a new trigger, or filled in from `g` (its secret never is).
function openTrigger(g) {
  editingTrigger = g;
  const form = $("trigger-form");
  form.reset();
  $("g-target").disabled = $("g-kind").disabled = $("g-source").disabled = !!g;
  $("trigger-form-h").textContent = g ? `Edit trigger ${g.description || g.id}` : "New trigger";
  $("trigger-save").textContent = g ? "Save trigger" : "Create trigger";
  if (g) {
    const values = {
      "g-target": g.target, "g-kind": g.kind, "g-desc": g.description, "g-refs": (g.refs || []).join(", "),
      "g-source": g.source && g.source.kind, "g-cron": g.source && g.source.cron, "g-ref": g.ref, "g-repo": g.repository,
      "f-repo": g.repository, "f-branches": (g.branches || []).join(", "), "f-tags": (g.tags || []).join(", "),
      "f-events": (g.events || []).join(", "), "f-condition": g.condition,
    };
    for (const [id, value] of Object.entries(values)) if (value != null) $(id).value = value;
    const w = g.workload || {};
    for (const [id, key] of [["w-ns", "namespace"], ["w-kind", "kind"], ["w-name", "name"], ["w-container", "container"], ["w-action", "action"]]) {
      if (w[key]) $(id).value = w[key];
    }
  }
  triggerFields();
  form.hidden = false;
  $(g ? "g-desc" : "g-target").focus();
}

// The fields of the chosen kind. On edit, an emptied filter is cleared, and an empty secret keeps the old one.
function triggerBody() {
  const kind = val("g-kind"), edit = !!editingTrigger, none = edit ? null : undefined;
  const body = edit ? { description: val("g-desc") } : { target: val("g-target"), kind, description: val("g-desc") || undefined };
  if (kind === "token" && (edit || list("g-refs").length)) body.refs = list("g-refs");
  if (kind === "hook") {
    if (!edit || $("g-secret").value) body.source = { kind: val("g-source"), secrets: $("g-secret").value ? [$("g-secret").value] : [] };
    Object.assign(body, { repository: val("f-repo") || none, branches: list("f-branches"), tags: list("f-tags"),
      events: list("f-events"), condition: val("f-condition") || none });
  }
  if (kind === "schedule") body.source = { kind, cron: val("g-cron"), ref: val("g-ref") || "main" };
  if (kind === "image") body.repository = val("g-repo");
  if (!$("g-workload").hidden) {
    body.workload = { namespace: val("w-ns"), kind: val("w-kind"), name: val("w-name"), action: val("w-action"), container: val("w-container") || undefined };
  }
  return body;
}

async function saveTrigger(event) {
  event.preventDefault();
  await run(async () => {
    const g = editingTrigger;
    const saved = g ? await api("PATCH", `/api/v1/triggers/${g.id}`, triggerBody()) : await api("POST", "/api/v1/triggers", triggerBody());
    $("trigger-form").reset();
    $("trigger-form").hidden = true;
    editingTrigger = null;
    replaceTrigger(saved);
    if (!g) reveal(saved.id);
    if (!g && saved.kind === "token") {
      $("token-value").value = saved.token;
      $("token-once").hidden = false;
      $("token-value").select();
    }
    note(`Trigger ${saved.description || saved.id} ${g ? "saved" : "created"}.`);
  });
}

async function toggle(g) {
  await run(async () => {
    replaceTrigger(await api("PATCH", `/api/v1/triggers/${g.id}`, { enabled: !g.enabled }));
    note(`Trigger ${g.description || g.id} ${g.enabled ? "disabled" : "enabled"}.`);
  });
}

async function revoke(g) {
  if (!confirm(`Revoke trigger "${g.description || g.id}"? Its token stops working at once; this cannot be undone.`)) return;
  await run(async () => {
    await api("DELETE", `/api/v1/triggers/${g.id}`);
    if (shown === g.id) closeDeliveries();
    triggers = triggers.filter((x) => x.id !== g.id);
    renderTriggers();
    note(`Trigger ${g.description || g.id} revoked.`);
  });
}

// ---- deliveries ----
async function openDeliveries(id) {
  shown = id;
  linked = null;
  history.replaceState(null, "", `#trigger=${id}`);
  $("deliveries").hidden = false;
  await loadDeliveries(true);
  $("deliveries-h").scrollIntoView();
}

function deliveriesHeading() {
  const g = triggers.find((x) => x.id === shown);
  $("deliveries-h").textContent = `Deliveries of ${g ? g.description || g.id : shown}`;
}

function closeDeliveries() {
  shown = linked = null;
  history.replaceState(null, "", location.pathname);
  $("deliveries").hidden = true;
}

async function loadDeliveries(fresh) {
  await run(async () => {
    deliveriesHeading();
    const more = !fresh && cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const state = $("d-state").value ? `&state=${$("d-state").value}` : "";
    const page = await api("GET", `/api/v1/triggers/${encodeURIComponent(shown)}/deliveries?limit=20${state}${more}`);
    loaded = fresh ? page.deliveries : loaded.concat(page.deliveries);
    cursor = page.cursor;
    renderDeliveries();
  });
}

// The API filters by state (?state=), so a page holds only deliveries in that state.
function renderDeliveries() {
  const state = $("d-state").value;
  $("d-list").replaceChildren(...loaded.map(deliveryItem));
  $("d-empty").hidden = loaded.length > 0;
  $("d-empty").textContent = `No ${state ? `${state} ` : ""}deliveries${cursor ? " among the newest; load older ones to see more" : ""}.`;
  $("d-more").hidden = !cursor;
}

// The delivery a link opened stays marked, its attempts unfolded, when the list around it reloads.
function deliveryItem(d) {
  const last = d.attempts[d.attempts.length - 1], n = d.attempts.length, mark = d.id === linked;
  return el("li", { "data-delivery": d.id, "data-state": d.state, class: mark ? "linked" : "" },
    el("h4", {}, el("span", { class: `badge ${d.state}`, text: d.state }), " ", when(d.at)),
    dl(["Target status", last ? String(last.status ?? "no answer") : "not tried yet"],
      ["Duration", last ? `${last.duration_ms} ms` : "–"],
      ["Ref", (d.call && d.call.ref) || "–"],
      d.replay_of && ["Replay of", el("code", { text: d.replay_of })],
      d.superseded_by && ["Superseded by", el("code", { text: d.superseded_by })],
      d.notification && ["Notified", d.notification.error
        ? `failed: ${d.notification.error}` : `answered ${d.notification.status}`],
      d.call && d.call.payload && ["Payload", payload(d)]),
    el("details", mark ? { open: "" } : {},
      el("summary", { text: `${n} attempt${n === 1 ? "" : "s"}` }),
      el("ol", {}, ...d.attempts.map((a) => el("li", {},
        el("p", {}, when(a.at), ` · status ${a.status ?? "none"} · ${a.duration_ms} ms${a.outcome_unknown ? " · outcome unknown" : ""}`),
        el("pre", { text: a.excerpt || "(empty answer)" }))))),
    button("Replay", () => replay(d), `Replay delivery ${d.id}`));
}

const bytes = (n) => (n < 1024 ? `${n} bytes` : n < 1048576 ? `${+(n / 1024).toFixed(1)} KiB` : `${+(n / 1048576).toFixed(1)} MiB`);

// The payload that caused a delivery: lists carry only its size and SHA-256, so the body is read
// from GET /api/v1/deliveries/{id} when it is unfolded.
function payload(d) {
  const p = d.call.payload, body = el("pre", { class: "payload-body", text: "Loading…" });
  const box = el("details", { class: "payload" },
    el("summary", { text: `${p.content_type || "body"}, ${bytes(p.size)}` }),
    el("p", { class: "facts" }, "SHA-256 ", el("code", { text: p.sha256 })), body);
  box.addEventListener("toggle", () => {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = "1";
    run(async () => {
      const full = (await api("GET", `/api/v1/deliveries/${encodeURIComponent(d.id)}`)).call.payload || {};
      body.textContent = full.text ?? (full.base64 ? `(binary, base64) ${full.base64}` : "(empty)");
    }).then(() => { if (body.textContent === "Loading…") delete box.dataset.loaded; });
  });
  return box;
}

// Notifications link to /admin#delivery=<id>: that one delivery, shown as its trigger's list shows
// it; Refresh or the state filter then lists the rest of that trigger's deliveries around it.
async function openDelivery(id) {
  const d = await api("GET", `/api/v1/deliveries/${encodeURIComponent(id)}`);
  shown = d.trigger;
  linked = d.id;
  loaded = [d];
  cursor = null;
  $("d-state").value = "";
  $("deliveries").hidden = false;
  deliveriesHeading();
  renderDeliveries();
  $("deliveries-h").scrollIntoView();
}

async function replay(d) {
  await run(async () => {
    const again = await api("POST", `/api/v1/deliveries/${d.id}/replay`);
    replaceTrigger(await api("GET", `/api/v1/triggers/${encodeURIComponent(d.trigger)}`));
    await loadDeliveries(true);
    note(`Replayed: the new delivery is ${again.state}.`);
  });
}

// ---- statistics ----
const HOURS = 24;
const OUTCOMES = ["delivered", "failed", "dead", "superseded", "refused"];
const percent = (rate) => (rate == null ? "–" : `${+(rate * 100).toFixed(1)}%`);
const ms = (value) => (value == null ? "–" : `${value} ms`);
const clock = (iso) => new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
const round = (n) => Math.round(n * 100) / 100;
// 1, 2, 5, 10, 20, 50...: a scale's top that reads well and is at least `n`.
function niceCeil(n) {
  const step = 10 ** Math.floor(Math.log10(Math.max(n, 1)));
  return [1, 2, 5, 10].map((m) => m * step).find((top) => top >= n);
}
const triggerName = (id) => { const g = triggers.find((x) => x.id === id); return g ? g.description || g.id : `${id} (removed)`; };
// "3 delivered · 1 dead": the outcomes that happened, in the chart's order.
const outcomes = (counts) => OUTCOMES.filter((o) => counts[o]).map((o) => `${counts[o]} ${o}`).join(" · ");

// Statistics are a view on the rest: when they cannot be had, the page works without them.
async function orUnavailable(call) {
  try {
    return await call;
  } catch (e) {
    if (e.status === 401) throw e;
    return { error: e.message };
  }
}

function renderOverview() {
  const failed = overview && overview.error;
  $("overview-error").hidden = !failed;
  $("overview-body").hidden = !!failed;
  $("overview-error").textContent = failed ? `Statistics are unavailable: ${overview.error}` : "";
  const totals = (!failed && overview && overview.totals) || {};
  const finished = ["delivered", "failed", "dead"].reduce((sum, o) => sum + (totals[o] || 0), 0);
  const tiles = [["overview-deliveries", failed ? null : finished, String(finished)],
    ["overview-success", totals.success_rate, percent(totals.success_rate)],
    ["overview-p95", totals.p95_ms, ms(totals.p95_ms)],
    ["overview-refused", totals.refused, String(totals.refused)]];
  for (const [id, value, text] of tiles) {
    $(id).textContent = value == null ? "–" : text;
    $(id).dataset.value = value == null ? "" : value; // the exact figure, for a reader that compares
  }
  $("overview-split").textContent = failed ? "" : `${totals.delivered || 0} delivered · ${totals.failed || 0} failed · ${totals.dead || 0} dead`;
  // The API lists them failing first; that order is kept.
  const active = (!failed && overview && overview.triggers) || [];
  $("overview-triggers").replaceChildren(...active.map(overviewItem));
  $("overview-quiet").hidden = !!failed || active.length > 0;
}

function overviewItem(t) {
  const failing = t.failed + t.dead > 0, card = triggers.some((g) => g.id === t.trigger);
  const name = card ? el("a", { href: `#card-${t.trigger}`, text: triggerName(t.trigger), on: () => reveal(t.trigger) })
    : el("span", { text: triggerName(t.trigger) });
  return el("li", { "data-trigger": t.trigger, "data-failed": t.failed, "data-dead": t.dead, class: failing ? "failing" : "" },
    name, " ", failing ? el("span", { class: "badge dead", text: "failing" }) : null,
    el("span", { class: "facts", text: `${outcomes(t) || "no deliveries"} · ${percent(t.success_rate)} succeeded · p95 ${ms(t.p95_ms)}` }));
}

// A card's chart: its series if it was called in the window, a line of text otherwise.
function chart(id) {
  const s = charts.get(id);
  if (!s) return overview && !overview.error ? el("p", { class: "hint", text: `Not called in the last ${HOURS} hours.` }) : null;
  if (s.error) return el("p", { class: "hint", text: `Its statistics are unavailable: ${s.error}` });
  return el("figure", { class: "chart", "data-chart": id },
    bars(s),
    el("ul", { class: "legend" },
      ...OUTCOMES.map((o) => el("li", {}, el("span", { class: `swatch o-${o}` }), o)),
      el("li", {}, el("span", { class: "swatch p95-key" }), "p95 latency (right scale)")),
    el("figcaption", { class: "facts",
      text: `Last ${HOURS} h: ${outcomes(s.totals) || "no deliveries"} · ${percent(s.totals.success_rate)} succeeded · p95 ${ms(s.totals.p95_ms)}` }));
}

// Hover text for one hour: "07:00–08:00: 3 delivered · 1 dead · p95 40 ms".
function hourTitle(h) {
  const end = new Date(Date.parse(h.hour) + 3600_000).toISOString();
  const p95 = h.p95_ms == null ? "" : ` · p95 ${h.p95_ms} ms`;
  return `${clock(h.hour)}–${clock(end)}: ${outcomes(h) || "no deliveries"}${p95}`;
}

// Stacked bars of each hour's outcomes on the left scale, the p95 latency as dots on the right one.
// The figures ride on the elements (data-hour, data-outcome, data-count, data-p95) as well as in
// the hover text. Drawn in a viewBox, so it shrinks with the card and never scrolls sideways.
const W = 320, H = 104, LEFT = 30, RIGHT = 36, TOP = 8, BOTTOM = 20;
function bars(s) {
  const n = s.series.length, step = (W - LEFT - RIGHT) / n, base = H - BOTTOM, tall = base - TOP;
  const top = niceCeil(Math.max(1, ...s.series.map((h) => OUTCOMES.reduce((sum, o) => sum + h[o], 0))));
  const timed = s.series.some((h) => h.p95_ms != null);
  const msTop = niceCeil(Math.max(1, ...s.series.map((h) => h.p95_ms ?? 0)));
  const msText = (v) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`);
  const text = (x, y, anchor, words) => svg("text", { x, y, "text-anchor": anchor, text: words });
  const picture = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "data-trigger": s.trigger, "data-hours": n,
    "aria-label": `Deliveries per hour by outcome, and p95 latency, over the last ${HOURS} hours` },
  svg("line", { class: "grid", x1: LEFT, y1: TOP, x2: W - RIGHT, y2: TOP }),
  svg("line", { class: "axis", x1: LEFT, y1: base, x2: W - RIGHT, y2: base }),
  text(LEFT - 4, TOP + 3, "end", String(top)), text(LEFT - 4, base, "end", "0"),
  timed ? text(W - RIGHT + 4, TOP + 3, "start", msText(msTop)) : null,
  timed ? text(W - RIGHT + 4, base, "start", "0 ms") : null,
  text(W - RIGHT, H - 6, "end", "now"));
  s.series.forEach((h, i) => {
    if (i % 6 === 0) picture.append(text(round(LEFT + i * step), H - 6, "middle", clock(h.hour)));
    if (!OUTCOMES.some((o) => h[o])) return; // an hour with nothing draws nothing
    const hour = svg("g", { class: "hour", "data-hour": h.hour }, svg("title", { text: hourTitle(h) }));
    let y = base;
    for (const o of OUTCOMES.filter((x) => h[x])) {
      const height = (h[o] / top) * tall;
      y -= height;
      hour.append(svg("rect", { class: `o-${o}`, x: round(LEFT + i * step + step * 0.12), y: round(y), width: round(step * 0.76),
        height: round(height), "data-hour": h.hour, "data-outcome": o, "data-count": h[o] }));
    }
    picture.append(hour);
  });
  // The line joins neighbouring hours only: an hour without attempts breaks it.
  const points = s.series.map((h, i) => h.p95_ms == null ? null : [round(LEFT + (i + 0.5) * step), round(base - (h.p95_ms / msTop) * tall), h]);
  const runs = points.reduce((all, p) => { if (!p) all.push([]); else all.at(-1).push(p); return all; }, [[]]);
  for (const run of runs.filter((r) => r.length > 1)) {
    picture.append(svg("polyline", { class: "p95-line", points: run.map(([x, y]) => `${x},${y}`).join(" ") }));
  }
  for (const [x, y, h] of points.filter(Boolean)) {
    picture.append(svg("circle", { class: "p95-dot", cx: x, cy: y, r: 2.2, "data-hour": h.hour, "data-p95": h.p95_ms },
      svg("title", { text: hourTitle(h) })));
  }
  return picture;
}

// ---- start ----
// Every page of a listing, following its cursors (each page is bounded on the server: 20
// triggers of at most 10 targets, or the statistics of 20 targets).
async function pages(path) {
  const all = [];
  let next = null;
  do {
    const page = await api("GET", next ? `${path}${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(next)}` : path);
    all.push(page);
    next = page.cursor;
  } while (next);
  return all;
}

// The overview of every page of the statistics: the triggers' totals, failing first as the API
// orders one page, and the totals of all (with several pages, p95 is the highest page's).
async function stats() {
  const all = await pages(`/api/v1/stats?hours=${HOURS}&series=true`);
  if (all.length === 1) return all[0];
  const totals = {}, rank = (t) => [-(t.failed + t.dead), t.success_rate ?? 1];
  for (const key of [...OUTCOMES, "attempts"]) totals[key] = all.reduce((n, p) => n + p.totals[key], 0);
  const settled = totals.delivered + totals.failed + totals.dead;
  totals.success_rate = settled ? Math.floor((totals.delivered / settled) * 10000) / 10000 : null;
  const p95 = all.map((p) => p.totals.p95_ms).filter((v) => v != null);
  totals.p95_ms = p95.length ? Math.max(...p95) : null;
  const ranked = all.flatMap((p) => p.triggers).sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || a.trigger.localeCompare(b.trigger);
  });
  return { totals, triggers: ranked, unavailable: all.flatMap((p) => p.unavailable || []) };
}

async function loadTargets() {
  targets = await api("GET", "/api/v1/targets");
  renderTargets();
  renderTriggers();
}

// Targets, every trigger and the statistics (every called trigger's hours with them), all
// refreshed together; a change made on the page updates what it changed, without this.
async function load() {
  let triggerPages;
  [targets, triggerPages, overview] = await Promise.all([api("GET", "/api/v1/targets"), pages("/api/v1/triggers"),
    orUnavailable(stats())]);
  triggers = triggerPages.flatMap((page) => page.triggers);
  const called = ((!overview.error && overview.triggers) || []).filter((t) => triggers.some((g) => g.id === t.trigger));
  charts = new Map(called.map((t) => [t.trigger, { totals: t, series: t.series }]));
  renderTargets();
  renderTriggers();
  renderOverview();
}

// What the address names: #trigger=<id> a trigger's deliveries, #delivery=<id> one delivery.
async function follow() {
  const [, kind, id] = /^#(trigger|delivery)=(.+)$/.exec(location.hash) || [];
  if (kind === "trigger") await openDeliveries(decodeURIComponent(id));
  if (kind === "delivery") await openDelivery(decodeURIComponent(id));
}

async function start() {
  $("signin").hidden = true;
  $("app").hidden = $("signout").hidden = false;
  await load();
  await follow();
}

const on = (id, handler, type = "click") => $(id).addEventListener(type, handler);
on("signin", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, val("signin-token"));
  $("signin-token").value = "";
  run(start);
}, "submit");
on("signout", () => { signedOut(); closeDeliveries(); note("Signed out."); });
on("target-new", () => openTarget(null));
on("target-cancel", () => { $("target-form").hidden = true; editing = null; });
on("t-kind", targetFields, "change");
on("t-header-add", headerRow);
on("target-form", saveTarget, "submit");
on("trigger-new", () => openTrigger(null));
on("trigger-cancel", () => { $("trigger-form").hidden = true; editingTrigger = null; });
on("g-kind", triggerFields, "change");
on("g-target", workloadFields, "change");
on("trigger-form", saveTrigger, "submit");
on("g-search", () => { search = $("g-search").value; pageNo = 0; renderTriggers(); }, "input");
on("g-filter", () => { filter = $("g-filter").value; pageNo = 0; renderTriggers(); }, "change");
on("g-prev", () => { pageNo -= 1; renderTriggers(); $("g-count").scrollIntoView(); });
on("g-next", () => { pageNo += 1; renderTriggers(); $("g-count").scrollIntoView(); });
on("token-copy", () => copy($("token-value").value));
on("token-done", () => { $("token-value").value = ""; $("token-once").hidden = true; });
on("d-state", () => loadDeliveries(true), "change");
on("d-refresh", () => Promise.all([run(load), loadDeliveries(true)]));
on("d-more", () => loadDeliveries(false));
on("d-close", closeDeliveries);

// A link followed in a tab already signed in changes only the hash; a signed-out tab follows it at sign-in.
window.addEventListener("hashchange", () => { if (!$("app").hidden) run(follow); });

if (sessionStorage.getItem(KEY)) run(start); else signedOut();
