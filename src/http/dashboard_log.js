// -- the log tail ----------------------------------------------------------------

function line_node(stream, text) {
  return el("div", {class: "line", "data-stream": stream}, text);
}

function append_lines(lines) {
  const log = $("log");
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  // Numbered lines the page already shows are left out: line n ends at the
  // log file's n-th newline, so a reload joins file and events exactly.
  lines = lines.filter((l) => !l.n || l.n > state.log.last);
  if (!lines.length) return;
  if (state.log.partial && lines[0].n === state.log.last + 1) {
    state.log.partial.remove(); // The file's unfinished last line, now whole.
    state.log.partial = null;
  }
  for (const l of lines) if (l.n) state.log.last = l.n;
  const nodes = lines.map((l) => line_node(l.stream, l.text));
  state.log.lines.push(...lines);
  log.append(...nodes);
  while (log.childElementCount > MAX_LINES) log.firstElementChild.remove();
  if (state.log.lines.length > MAX_LINES)
    state.log.lines.splice(0, state.log.lines.length - MAX_LINES);
  if (stick) log.scrollTop = log.scrollHeight;
}

/// Starts an empty log for `run` of the host the pane shows: the events that
/// follow carry all its output.
function reset_log(run) {
  state.log = {host: picked(), run, lines: [], loading: false, pending: [], last: 0,
               partial: null};
  $("log").dataset.run = run || "";
  $("log").replaceChildren();
}

/// The last lines of a run's log file, joined with the output events that
/// arrived meanwhile by their numbers: the file's k-th newline ends line k.
async function load_log(run) {
  reset_log(run);
  const log = state.log;
  log.loading = true;
  let text = "";
  let failure = null;
  try {
    text = String(await api("GET", on_host("/api/test/logs?run=") + encodeURIComponent(run)));
  } catch (e) {
    failure = e;
  }
  if (state.log !== log) return; // Superseded: another run or host.
  if (failure && failure.status !== 404) show_error(failure);
  const file = text.split("\n");
  const unfinished = file.pop(); // "" when the file ends with a newline
  const first = Math.max(0, file.length - MAX_LINES);
  const tail = file.slice(first).map((t, i) => ({stream: "stdout", text: t, n: first + i + 1}));
  const pending = state.log.pending;
  state.log.loading = false;
  state.log.pending = [];
  if (first > 0)
    $("log").append(el("div", {class: "note"}, "... " + first + " earlier lines"));
  append_lines(tail);
  if (unfinished !== "") {
    // Shown until its whole line arrives as line file.length + 1.
    state.log.partial = line_node("stdout", unfinished);
    $("log").append(state.log.partial);
  }
  append_lines(pending);
}

/// The pane's log shows output from the host it shows ("" for this daemon).
function on_output(batch, host) {
  if (host !== state.log.host || batch.run_id !== state.log.run) return;
  const lines = batch.lines || [];
  if (batch.dropped > 0)
    lines.push({stream: "note", text: "[" + batch.dropped + " lines dropped]"});
  if (state.log.loading) state.log.pending.push(...lines);
  else append_lines(lines);
}

/// Shows the log of the run the pane shows, unless it already does. A host
/// that is down has none to read: it is read once the host is back.
function sync_log() {
  const run = shown_down() === null ? shown_test().run_id : "";
  if (state.log.host !== picked() || (run && run !== state.log.run)) {
    if (run) load_log(run);
    else reset_log("");
  }
}
