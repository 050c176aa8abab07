"use strict";
// Everything shown comes from the API; text from it goes in via textContent only.
const MAX_LINES = 500;
const token = new URLSearchParams(location.search).get("access_token");

const $ = (id) => document.getElementById(id);

/// An element with attributes and children (strings become text nodes).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {}))
    if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  for (const c of children)
    if (c !== null && c !== undefined)
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

class api_error extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/// The server's response, with the token; an api_error if it cannot be reached.
async function request(method, path, body) {
  const headers = {};
  if (token) headers["Authorization"] = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(path, {method, headers, cache: "no-store",
                              body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (e) {
    throw new api_error(0, "network", "cannot reach the server (" + e.message + ")");
  }
}

/// The body of a response: JSON parsed, else text; an api_error unless it is ok.
async function body_of(res) {
  const text = await res.text();
  const is_json = (res.headers.get("Content-Type") || "").startsWith("application/json");
  let data = null;
  try { data = is_json && text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    const code = data && data.code ? data.code : "http_" + res.status;
    const msg = data && data.error ? data.error : text || res.statusText;
    throw new api_error(res.status, code, msg);
  }
  return data === null ? text : data;
}

/// `meta`, if given, gets the revision of a manager's snapshot (see on_change).
async function api(method, path, body, meta) {
  const res = await request(method, path, body);
  if (meta) meta.revision = Number(res.headers.get("X-Labrt-Revision") || 0);
  return body_of(res);
}

function show_error(err) {
  if (!err) { $("error").hidden = true; return; }
  $("error-code").textContent = err.status ? err.status + " " + err.code : err.code || "error";
  $("error-msg").textContent = err.message;
  $("error").hidden = false;
}

// -- time ----------------------------------------------------------------------

function duration(ms) {
  if (!(ms >= 0)) return "";
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  if (h === 0) return m + "m " + String(s % 60).padStart(2, "0") + "s";
  return h + "h " + String(m % 60).padStart(2, "0") + "m";
}

function clock_time(iso) {
  const t = Date.parse(iso);
  return isNaN(t) ? "" : new Date(t).toLocaleTimeString([], {hour12: false});
}

function since_text(iso) {
  const t = Date.parse(iso);
  return isNaN(t) ? "" : duration(Date.now() - t);
}

// -- state ---------------------------------------------------------------------

const state = {
  services: new Map(), // name -> service record
  test: {},            // the test_execution fields
  log: {host: "", run: "", lines: [], loading: false, pending: [], last: 0, partial: null},
  revision: {service: 0, test: 0}, // of the manager each view shows
};

// -- services --------------------------------------------------------------------

/// Replaces the rows of a table body, or says `empty` when there are none.
function fill(body, rows, empty, head) {
  if (rows.length === 0) body.replaceChildren(el("tr", {}, el("td", {class: "empty"}, empty)));
  else body.replaceChildren(...(head ? [head] : []), ...rows);
}

function render_services() {
  const names = [...state.services.keys()].sort();
  const head = el("tr", {}, el("th", {}, ""), el("th", {}, "service"), el("th", {}, "pids"),
                  el("th", {class: "since"}, "for"));
  fill($("services"), names.map((name) => {
    const r = state.services.get(name);
    const up = !!r.running;
    const pids = (r.pids || []).join(" ");
    return el("tr", {"data-service": name, "data-up": up},
      el("td", {}, el("span", {class: "badge"}, up ? "up" : "down")),
      el("td", {class: "mono", title: r.cmdline || null}, name),
      el("td", {class: "num muted", "data-field": "pids"}, pids),
      el("td", {class: "muted since", "data-since": r.since || "", title: r.since || null},
         r.since ? since_text(r.since) : ""));
  }), "no services configured", head);
}

function set_service(name, rec) {
  if (rec === null || rec === undefined) state.services.delete(name);
  else state.services.set(name, rec);
  render_services();
}

/// Whether a snapshot of `kind` at `meta.revision` is no older than the
/// events already applied; if so it becomes the state's revision. A reload
/// can race the events: an older snapshot would undo them.
function fresh(kind, meta) {
  if (meta.revision < state.revision[kind]) return false;
  state.revision[kind] = meta.revision;
  return true;
}

async function load_services() {
  const meta = {};
  const data = await api("GET", "/api/services", undefined, meta);
  if (!fresh("service", meta)) return;
  state.services.clear();
  for (const r of data.services || []) state.services.set(r.name, r);
  // Flat entries that are not booleans (e.g. qsfp_service_cmd) are no services.
  for (const [name, up] of Object.entries(data.status || {}))
    if (typeof up === "boolean" && !state.services.has(name))
      state.services.set(name, {name, running: up, pids: []});
  render_services();
}

// -- the current test -------------------------------------------------------------

function text_of(v) {
  if (v === null || v === undefined || v === "") return null;
  return Array.isArray(v) ? v.join(" ") : typeof v === "object" ? JSON.stringify(v) : String(v);
}

/// The Test pane shows this daemon's test, or the picked host's.
function render_test() {
  const t = shown_test();
  const down = shown_down();
  const running = shown_running();
  const badge = $("run-state");
  badge.dataset.state = down !== null ? "down" : running ? "running" : "idle";
  badge.textContent = badge.dataset.state;
  $("run-heading").textContent = picked() ? "Test on " + picked() : "Test";
  const title = t.script ? [t.script, text_of(t.args)].filter(Boolean).join(" ") : "no test has run";
  $("run-title").textContent = down !== null ? down : running || !t.script ? title : "last: " + title;
  $("stop").disabled = !running;
  const rows = [["run", t.run_id], ["pid", running ? t.pid : null], ["topology", t.topology],
                ["bin", t.bin], ["started", clock_time(t.started_at || t.start_time)]];
  if (!running && t.ended_at) {
    rows.push(["ended", clock_time(t.ended_at)]);
    const sig = t.signal && t.signal.name ? t.signal.name : null;
    rows.push(["result", sig ? "killed by " + sig
                             : t.exit_code !== null && t.exit_code !== undefined
                               ? "exit code " + t.exit_code : null]);
    if (t.stopped_by) rows.push(["stopped by", t.stopped_by]);
  }
  $("run-fields").replaceChildren(...rows.filter(([, v]) => text_of(v) !== null).flatMap(
    ([k, v]) => [el("dt", {}, k), el("dd", {"data-field": k.replace(" ", "_")}, text_of(v))]));
  tick();
}

async function load_test() {
  const meta = {};
  const test = await api("GET", "/api/test/status", undefined, meta);
  if (!fresh("test", meta)) return;
  state.test = test;
  render_test();
  sync_log();
}

/* @dashboard_log.js@ */

// -- queue and history -------------------------------------------------------------

function run_label(r) {
  return [r.script, text_of(r.args)].filter(Boolean).join(" ");
}

async function load_queue() {
  render_queue(await api("GET", "/api/test/queue"));
}

function render_queue(runs) {
  fill($("queue"), runs.map((r) => {
    const remove = el("button", {class: "small", type: "button", "data-remove": r.run_id}, "remove");
    remove.addEventListener("click", () => act(() => api("DELETE", "/api/test/queue/"
                                                            + encodeURIComponent(r.run_id))));
    return el("tr", {"data-run-id": r.run_id},
      el("td", {class: "mono"}, run_label(r)),
      el("td", {class: "muted"}, text_of(r.topology) || ""),
      el("td", {}, remove));
  }), "empty");
}

/* @dashboard_history.js@ */

// -- controls --------------------------------------------------------------------

function spec_from_form() {
  const spec = {script: $("f-script").value.trim()};
  const args = $("f-args").value.trim();
  if (args) spec.args = args.split(/\s+/);
  for (const k of ["topology", "bin"]) {
    const v = $("f-" + k).value.trim();
    if (v) spec[k] = v;
  }
  return spec;
}

/// Runs an API action and shows its error. What it changed comes back as
/// events, in order with everyone else's: a reload here could land after a
/// newer event and undo it.
async function act(fn) {
  show_error(null);
  try {
    await fn();
  } catch (e) {
    show_error(e);
  }
}

$("start-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  act(() => api("POST", on_host("/api/test/start"), spec_from_form()));
});
$("enqueue").addEventListener("click", () => {
  if ($("start-form").reportValidity())
    act(() => api("POST", on_host("/api/test/queue"), spec_from_form()));
});
$("stop").addEventListener("click", () => act(() => api("POST", on_host("/api/test/stop"))));
$("error-close").addEventListener("click", () => show_error(null));

/* @dashboard_cluster.js@ */

// -- live updates ----------------------------------------------------------------

async function load_all() {
  try {
    const health = await api("GET", "/healthz");
    $("lab-name").textContent = health.name;
    document.title = health.name + " - labrt";
    await Promise.all([load_services(), load_test(), load_queue(), load_history(),
                       load_hosts()]);
  } catch (e) {
    show_error(e);
  }
}

/// A manager's change event. Events at or below the revision of the state
/// (a snapshot read after them) are already in it.
function on_change(kind, ev) {
  if (ev.revision <= state.revision[kind]) return;
  state.revision[kind] = ev.revision;
  if (kind === "service") {
    if (ev.key.startsWith("record/")) set_service(ev.key.slice(7), ev.new);
    else if (!state.services.has(ev.key) && typeof ev.new === "boolean")
      set_service(ev.key, {name: ev.key, running: ev.new, pids: []});
    return;
  }
  state.test[ev.key] = ev.new;
  render_test();
}

/// The runner's record of a run, on this daemon or on `host`: it comes
/// before the run's first output and after its last, from the same sender, so
/// a new run id starts an empty log that the output events that follow fill
/// (also when the stream replays them on connect).
function on_run(run, host) {
  if (host === picked() && run.run_id !== state.log.run && active(run))
    reset_log(run.run_id);
  if (!host && run.outcome) on_run_end(run);
}

/// A run taken off the queue has either started (its run events follow) or
/// was cancelled, which has no run event: its record tells which.
function on_queue(queue) {
  const left = new Set(queue.map((r) => r.run_id));
  for (const row of document.querySelectorAll("#queue tr[data-run-id]"))
    if (!left.has(row.dataset.runId))
      api("GET", "/api/history/" + encodeURIComponent(row.dataset.runId))
        .then((r) => { if (r.outcome) on_run_end(r); }).catch(show_error);
  render_queue(queue);
}

function connect() {
  const url = "/api/events" + (token ? "?access_token=" + encodeURIComponent(token) : "");
  const source = new EventSource(url);
  let opened = false;
  source.onopen = () => {
    $("conn").dataset.state = "live";
    $("conn").textContent = "live";
    // After a reconnect, resume where the stream left off but refresh the rest.
    if (opened) load_all();
    opened = true;
  };
  source.onerror = () => {
    $("conn").dataset.state = "down";
    $("conn").textContent = "reconnecting";
  };
  for (const kind of ["service", "test"])
    source.addEventListener(kind, (m) => on_change(kind, JSON.parse(m.data)));
  source.addEventListener("run", (m) => on_run(JSON.parse(m.data), ""));
  source.addEventListener("output", (m) => on_output(JSON.parse(m.data), ""));
  source.addEventListener("queue", (m) => on_queue(JSON.parse(m.data).queue));
  source.addEventListener("cluster", (m) => on_cluster(JSON.parse(m.data)));
  source.addEventListener("missed", () => {
    state.log.run = ""; // Refetch its tail too.
    load_all();
  });
}

function tick() {
  const t = shown_test();
  const start = Date.parse(t.started_at || t.start_time);
  const running = shown_running();
  $("elapsed").textContent = running && !isNaN(start) ? duration(Date.now() - start) : "";
  for (const td of document.querySelectorAll("[data-since]"))
    if (td.dataset.since) td.textContent = since_text(td.dataset.since);
}

setInterval(tick, 1000);
load_all().then(connect);
