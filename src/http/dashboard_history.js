// The dashboard's recent runs and a finished run's log: spliced into
// dashboard.js by CMake (same script, so its functions share one scope).
// -- recent runs ---------------------------------------------------------------------

const PAGE = 20;
const OUTCOME_TEXT = {timed_out: "timed out", not_started: "not started"};
const OUTCOME_CLASS = {passed: "ok", failed: "bad", timed_out: "bad", crashed: "bad", lost: "bad"};

const recent = {
  rows: [],      // the page shown, newest first
  pages: [""],   // the `before` of each page up to the one shown ("" = the newest)
  more: false,   // whether an older page exists
  filter: {script: "", outcome: "", q: ""}, // of the rows shown
  seq: 0,        // of the last load: an older answer is dropped
  loading: false,
  ended: [],     // the last runs whose end came as an event, oldest first
};

/// Whether the history query of `recent.filter` lists `r` (as the runner matches).
function in_filter(r) {
  const f = recent.filter;
  const hay = [r.script, r.bin || "", r.topology || "", ...(r.args || [])].join(" ");
  return (!f.script || r.script === f.script) && (!f.outcome || r.outcome === f.outcome)
    && f.q.split(/\s+/).every((word) => hay.includes(word));
}

/// A run that ended, from an event: it takes its row's place, or comes first
/// on the newest page if the filter lists it. An older run not shown is left
/// out: it is an event replayed on connect, and not on this page.
function add_run(r) {
  const i = recent.rows.findIndex((x) => x.run_id === r.run_id);
  if (i >= 0) recent.rows[i] = r;
  else if (recent.pages.length > 1 || !in_filter(r)) return;
  else if (recent.rows.length && Date.parse(r.ended_at) < Date.parse(recent.rows[0].ended_at)) return;
  else recent.rows.unshift(r);
  if (recent.rows.length > PAGE) {
    recent.rows.length = PAGE;
    recent.more = true;
  }
}

/// A run's end, from its `run` event (or a queue change, for a cancelled one).
/// Kept for the next load too: its answer may have been read before the end.
function on_run_end(r) {
  recent.ended = recent.ended.filter((x) => x.run_id !== r.run_id).concat([r]).slice(-PAGE);
  if (recent.loading) return;
  add_run(r);
  render_history();
}

async function load_history() {
  const seq = ++recent.seq;
  const f = {script: $("h-script").value.trim(), outcome: $("h-outcome").value,
             q: $("h-q").value.trim()};
  const params = new URLSearchParams({limit: PAGE + 1});
  for (const [k, v] of Object.entries(f)) if (v) params.set(k, v);
  const before = recent.pages[recent.pages.length - 1];
  if (before) params.set("before", before);
  recent.loading = true;
  let runs;
  try {
    runs = await api("GET", "/api/history?" + params);
  } finally {
    if (seq === recent.seq) recent.loading = false;
  }
  if (seq !== recent.seq) return; // Superseded by another filter or page.
  recent.filter = f;
  recent.more = runs.length > PAGE;
  recent.rows = runs.slice(0, PAGE);
  for (const r of recent.ended) add_run(r);
  render_history();
}

/// How the run ended beyond its outcome: exit code, signal, who stopped it.
function end_detail(r) {
  const parts = [];
  if (r.exit_code !== null && r.exit_code !== undefined) parts.push("exit " + r.exit_code);
  if (r.signal && r.signal.name) parts.push(r.signal.name + (r.core_dumped ? " (core)" : ""));
  if (r.stopped_by && r.stopped_by !== "timeout") parts.push("by " + r.stopped_by);
  return parts.join(", ");
}

function outcome_badge(r) {
  return el("span", {class: "badge " + (OUTCOME_CLASS[r.outcome] || "")},
            OUTCOME_TEXT[r.outcome] || r.outcome || r.state);
}

/// A time of day, with the day unless it is today.
function when(iso) {
  const t = Date.parse(iso);
  if (isNaN(t)) return "";
  const d = new Date(t), time = d.toLocaleTimeString([], {hour12: false});
  if (d.toDateString() === new Date().toDateString()) return time;
  return d.toLocaleDateString([], {month: "short", day: "numeric"}) + " " + time;
}

function history_row(r) {
  const row = el("tr", {"data-run-id": r.run_id, "data-outcome": r.outcome, tabindex: 0,
                        class: "pick" + (r.run_id === $("run-view").dataset.run ? " selected" : ""),
                        title: r.error || r.run_id},
    el("td", {}, outcome_badge(r), " ", el("span", {class: "num muted"}, end_detail(r))),
    el("td", {class: "mono"}, run_label(r)),
    el("td", {class: "muted"}, r.topology || ""),
    el("td", {class: "num muted", title: r.started_at || r.enqueued_at || null},
       r.started_at ? when(r.started_at) : "queued " + when(r.enqueued_at)),
    el("td", {class: "num muted since"},
       !r.started_at ? "" : r.duration_ms < 1000 ? r.duration_ms + " ms" : duration(r.duration_ms)));
  row.addEventListener("click", () => show_run(r));
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") show_run(r); });
  return row;
}

/// The row shown for each run id, with the record it shows: an unchanged run
/// keeps its element (and a click, focus or selection on it).
let row_nodes = new Map();

function render_history() {
  const head = el("tr", {}, ...["outcome", "run", "topology", "started"].map((h) => el("th", {}, h)),
                  el("th", {class: "since"}, "took"));
  const filtered = Object.values(recent.filter).some(Boolean);
  const nodes = new Map();
  for (const r of recent.rows) {
    const json = JSON.stringify(r), had = row_nodes.get(r.run_id);
    nodes.set(r.run_id, had && had.json === json ? had : {json, node: history_row(r)});
  }
  row_nodes = nodes;
  fill($("history"), [...nodes.values()].map((n) => n.node),
       filtered ? "no run matches" : "no runs yet", head);
  $("h-newer").disabled = recent.pages.length === 1;
  $("h-older").disabled = !recent.more;
  $("h-page").textContent = recent.pages.length > 1 ? "page " + recent.pages.length : "";
}

function page_to(pages) {
  recent.pages = pages;
  load_history().catch(show_error);
}

let filter_timer = 0;
function filter_soon() {
  clearTimeout(filter_timer);
  filter_timer = setTimeout(() => page_to([""]), 250);
}
$("h-script").addEventListener("input", filter_soon);
$("h-q").addEventListener("input", filter_soon);
$("h-outcome").addEventListener("change", () => page_to([""]));
$("history-filter").addEventListener("submit", (ev) => { ev.preventDefault(); page_to([""]); });
$("h-older").addEventListener("click", () =>
  page_to([...recent.pages, recent.rows[recent.rows.length - 1].run_id]));
$("h-newer").addEventListener("click", () => page_to(recent.pages.slice(0, -1)));

// -- a finished run's log ----------------------------------------------------------

const LOG_VIEW_BYTES = 256 * 1024;

function size(n) {
  if (n < 1024) return n + " B";
  return n < 1048576 ? Math.round(n / 1024) + " KiB" : (n / 1048576).toFixed(1) + " MiB";
}

/// The last LOG_VIEW_BYTES of a run's log, read as a stream: a long log costs
/// neither its whole size in memory nor a text node the page cannot lay out.
/// Null once `wanted()` is false (another run was picked): the read stops.
async function log_tail(run, wanted) {
  const res = await request("GET", "/api/test/logs?run=" + encodeURIComponent(run));
  if (!res.ok) await body_of(res); // Throws its error.
  const reader = res.body.getReader();
  const chunks = [];
  let kept = 0, total = 0;
  for (let part = await reader.read(); !part.done; part = await reader.read()) {
    if (!wanted()) {
      reader.cancel();
      return null;
    }
    chunks.push(part.value);
    kept += part.value.length;
    total += part.value.length;
    while (kept - chunks[0].length >= LOG_VIEW_BYTES) kept -= chunks.shift().length;
  }
  const bytes = new Uint8Array(kept);
  chunks.reduce((at, c) => (bytes.set(c, at), at + c.length), 0);
  const tail = bytes.subarray(Math.max(0, kept - LOG_VIEW_BYTES));
  let text = new TextDecoder().decode(tail);
  if (tail.length < total) text = text.slice(text.indexOf("\n") + 1); // From a whole line.
  return {text, total, cut: tail.length < total};
}

/// Shows a finished run's log below the list, or says why there is none.
async function show_run(r) {
  const view = $("run-view");
  const say = (state, note) => {
    view.dataset.state = state;
    $("rv-note").textContent = note;
  };
  view.hidden = false;
  view.dataset.run = r.run_id;
  for (const row of document.querySelectorAll("#history tr.pick"))
    row.classList.toggle("selected", row.dataset.runId === r.run_id);
  $("rv-badge").replaceWith(Object.assign(outcome_badge(r), {id: "rv-badge"}));
  $("rv-title").textContent = [run_label(r), end_detail(r), r.run_id].filter(Boolean).join(" \u00b7 ");
  const raw = "/api/test/logs?run=" + encodeURIComponent(r.run_id)
    + (token ? "&access_token=" + encodeURIComponent(token) : "");
  $("rv-raw").href = raw;
  $("rv-raw").hidden = !r.log;
  $("rv-log").textContent = "";
  if (!r.log) return say("none", "This run has no log" + (r.error ? ": " + r.error : "."));
  say("loading", "loading the log\u2026");
  const wanted = () => view.dataset.run === r.run_id;
  let tail;
  try {
    tail = await log_tail(r.run_id, wanted);
  } catch (e) {
    if (!wanted()) return;
    if (e.status === 404)
      return say("gone", "The log of this run is gone (pruned or removed): " + e.message);
    return say("error", e.message);
  }
  if (!tail || !wanted()) return; // Another run was picked meanwhile.
  $("rv-log").textContent = tail.text;
  $("rv-log").scrollTop = $("rv-log").scrollHeight; // Its end tells how it ended.
  const notes = [];
  if (tail.total === 0) notes.push("The run wrote no output.");
  if (tail.cut)
    notes.push("Showing the last " + size(LOG_VIEW_BYTES) + " of " + size(tail.total)
               + ": the raw log has it all.");
  if (r.log_cut_bytes > 0)
    notes.push("The log file itself left out " + size(r.log_cut_bytes) + " in its middle (log_max_bytes).");
  say(tail.cut ? "cut" : tail.total === 0 ? "empty" : "shown", notes.join(" "));
}

$("rv-close").addEventListener("click", () => {
  $("run-view").hidden = true;
  $("run-view").dataset.run = "";
  for (const row of document.querySelectorAll("#history tr.selected")) row.classList.remove("selected");
});
