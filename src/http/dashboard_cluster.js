// -- hosts: an orchestrator's agents, one card each ------------------------------

/// Each host's entry of GET /api/cluster; the section shows only on an
/// orchestrator (elsewhere that route is 404).
const hosts = {view: new Map(), cards: new Map()};

/// The host picked: the start form's target and what the Test pane shows;
/// "" for this daemon.
const picked = () => $("f-host").value;

/// `path` of this daemon's API, or of the host picked.
function on_host(path) {
  const host = picked();
  return host ? "/api/cluster/" + encodeURIComponent(host) + path.slice(4) : path;
}

/// The test record the Test pane shows.
function shown_test() {
  return picked() ? hosts.view.get(picked())?.test || {} : state.test;
}

/// Why the host picked is down, or null: what it last said may no longer hold.
function shown_down() {
  const h = picked() ? hosts.view.get(picked()) : null;
  return h && !h.up ? h.error || "down" : null;
}

/// Whether the pane's test runs: a host that is down says nothing of it.
const shown_running = () => !!shown_test().running && shown_down() === null;

/// Points the Test pane at the host picked.
function show_picked() {
  render_hosts();
  render_test();
  sync_log();
}

const active = (run) => !!run && ["starting", "running", "stopping"].includes(run.state);

/// Host `name`'s card, made once: a view that changes updates it in place,
/// so a click (on it or its Stop) never lands on a card just replaced.
function host_card(name) {
  if (hosts.cards.has(name)) return hosts.cards.get(name);
  const stop = el("button", {class: "danger small", type: "button"}, "Stop");
  stop.addEventListener("click", (ev) => {
    ev.stopPropagation();
    act(() => api("POST", "/api/cluster/" + encodeURIComponent(name) + "/test/stop"));
  });
  const card = el("div", {class: "host", "data-host": name},
    el("div", {class: "run-head"}, el("span", {class: "badge"}),
       el("span", {class: "title"}, name), stop),
    el("dl", {}));
  card.addEventListener("click", () => {
    $("f-host").value = name;
    show_picked();
  });
  hosts.cards.set(name, card);
  return card;
}

function update_card(card, h) {
  const run = h.run;
  // A host's services view holds each service's flag and its record.
  const flags = Object.values(h.services || {}).filter((v) => typeof v === "boolean");
  // What a host that is down last said may no longer hold: only why it is down.
  const rows = !h.up ? [["error", h.error || "down"]] : [
    ["test", active(run) ? [run.script, text_of(run.args)].filter(Boolean).join(" ")
                           + " (" + run.state + ")" : "idle"],
    ["services", flags.length ? flags.filter(Boolean).length + " of " + flags.length + " up"
                              : "none"],
    ["queue", String((h.queue || []).length)],
    ["address", h.address],
  ];
  card.dataset.up = !!h.up;
  card.dataset.picked = picked() === card.dataset.host;
  const badge = card.querySelector(".badge");
  badge.textContent = h.up ? "up" : "down";
  badge.title = h.last_seen ? "last event " + h.last_seen : "";
  card.querySelector("button").disabled = !h.up || !active(run);
  card.querySelector("dl").replaceChildren(...rows.flatMap(
    ([k, v]) => [el("dt", {}, k), el("dd", {"data-field": k}, v)]));
}

function render_hosts() {
  const names = [...hosts.view.keys()].sort();
  const picker = $("f-host");
  const kept = names.includes(picker.value) ? picker.value : "";
  picker.replaceChildren(el("option", {value: ""}, "this daemon"),
                         ...names.map((n) => el("option", {value: n}, n)));
  picker.value = kept;
  for (const n of names) update_card(host_card(n), hosts.view.get(n));
  $("host-cards").replaceChildren(...names.map(host_card));
}

async function load_hosts() {
  let data;
  try {
    data = await api("GET", "/api/cluster");
  } catch (e) {
    if (e.status === 404) return; // Not an orchestrator.
    throw e;
  }
  $("hosts").hidden = false;
  $("f-host-label").hidden = false;
  hosts.view = new Map(Object.entries(data.hosts || {}));
  show_picked();
}

/// Folds one of a host's events into its view, as the orchestrator does
/// (cluster_state::apply); false for kinds the view does not hold (output).
function apply_news(h, kind, data) {
  if (!data || typeof data !== "object") return false;
  if (kind === "queue") {
    h.queue = data.queue || [];
  } else if (kind === "run") {
    h.run = active(data) ? data : null; // The view holds only a run in progress.
  } else if (kind === "service" || kind === "test") {
    const section = kind === "service" ? (h.services ||= {}) : (h.test ||= {});
    if (data.new === null || data.new === undefined) delete section[data.key];
    else section[data.key] = data.new;
  } else {
    return false;
  }
  return true;
}

/// A host's news (kind "cluster", key the host): a "host" event is its whole
/// view, the others change it. Applied here rather than read again: a read
/// answered after a newer event would undo it.
function on_cluster(ev) {
  const host = ev.key;
  const news = ev.new || {};
  if (news.kind === "output") return on_output(news.data || {}, host);
  if (news.kind === "run" && news.data) on_run(news.data, host);
  const h = hosts.view.get(host);
  if (news.kind === "host") hosts.view.set(host, news.data);
  else if (!h || !apply_news(h, news.kind, news.data)) return;
  if (host !== picked()) return render_hosts();
  // A whole view comes after a reconnect: the log's tail is read again, as
  // the output written meanwhile came as no event.
  if (news.kind === "host") state.log.run = "";
  show_picked();
}

$("f-host").addEventListener("change", show_picked);
