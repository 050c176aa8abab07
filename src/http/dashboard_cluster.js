// -- hosts: an orchestrator's agents, one card each ------------------------------

/// Each host's entry of GET /api/cluster; the section shows only on an
/// orchestrator (elsewhere that route is 404).
const hosts = {view: new Map(), reload: null};

/// `path` of this daemon's API, or of the host the picker names.
function on_host(path) {
  const host = $("f-host").value;
  return host ? "/api/cluster/" + encodeURIComponent(host) + path.slice(4) : path;
}

const active = (run) => !!run && ["starting", "running", "stopping"].includes(run.state);

function host_card(name, h) {
  const run = h.run;
  // A host's services view holds each service's flag and its record.
  const flags = Object.values(h.services || {}).filter((v) => typeof v === "boolean");
  const stop = el("button", {class: "danger small", type: "button"}, "Stop");
  stop.disabled = !h.up || !active(run);
  stop.addEventListener("click", (ev) => {
    ev.stopPropagation();
    act(() => api("POST", "/api/cluster/" + encodeURIComponent(name) + "/test/stop"));
  });
  // What a host that is down last said may no longer hold: only why it is down.
  const rows = !h.up ? [["error", h.error || "down"]] : [
    ["test", active(run) ? [run.script, text_of(run.args)].filter(Boolean).join(" ")
                           + " (" + run.state + ")" : "idle"],
    ["services", flags.length ? flags.filter(Boolean).length + " of " + flags.length + " up"
                              : "none"],
    ["queue", String((h.queue || []).length)],
    ["address", h.address],
  ];
  const card = el("div", {class: "host", "data-host": name, "data-up": !!h.up,
                          "data-picked": $("f-host").value === name},
    el("div", {class: "run-head"},
       el("span", {class: "badge", title: h.last_seen ? "last event " + h.last_seen : null},
          h.up ? "up" : "down"),
       el("span", {class: "title"}, name), stop),
    el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {"data-field": k}, v)])));
  card.addEventListener("click", () => {
    $("f-host").value = name;
    render_hosts();
  });
  return card;
}

function render_hosts() {
  const names = [...hosts.view.keys()].sort();
  const picker = $("f-host");
  const picked = names.includes(picker.value) ? picker.value : "";
  picker.replaceChildren(el("option", {value: ""}, "this daemon"),
                         ...names.map((n) => el("option", {value: n}, n)));
  picker.value = picked;
  $("host-cards").replaceChildren(...names.map((n) => host_card(n, hosts.view.get(n))));
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
  render_hosts();
}

/// A host's news (kind "cluster", key the host): a "host" event is its whole
/// view; after its other events the view is read again, once per burst.
/// The orchestrator applies an event before passing it on, so that read has it.
function on_cluster(ev) {
  const news = ev.new || {};
  if (news.kind === "host") {
    hosts.view.set(ev.key, news.data);
    render_hosts();
  } else if (news.kind !== "output" && !hosts.reload) {
    hosts.reload = setTimeout(() => {
      hosts.reload = null;
      load_hosts().catch(show_error);
    }, 20);
  }
}

$("f-host").addEventListener("change", render_hosts);
