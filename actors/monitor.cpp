#include "actors/monitor.hpp"

#include <algorithm>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "src/proc_record.hpp"
#include "labrt/errc.hpp"

namespace labrt {

namespace {

/// How long the monitor waits for a scan or for service_status.
constexpr auto request_timeout = std::chrono::seconds{30};

bool same_view(const service_record& x, const service_record& y) {
  return x.running == y.running && x.pids == y.pids && x.cmdline == y.cmdline;
}

} // namespace

// -- monitor state ------------------------------------------------------------

caf::expected<std::pair<bool, uint64_t>> monitor_state::add_rule(
  service_rule rule) {
  if (auto err = validate_rule(rule))
    return err;
  auto id = next_rule_id++;
  auto i = services.find(rule.name);
  if (i != services.end()) {
    // A new rule for a known service: keep the last view until the first
    // scan with the new rule replaces it (no spurious stop meanwhile).
    i->second.rule = std::move(rule);
    i->second.rule_id = id;
    return std::make_pair(false, id);
  }
  auto service = rule.name;
  tracked t;
  t.rule = std::move(rule);
  t.rule_id = id;
  services.emplace(std::move(service), std::move(t));
  return std::make_pair(true, id);
}

bool monitor_state::erase_rule(const std::string& service) {
  return services.erase(service) > 0;
}

std::vector<service_rule> monitor_state::rules() const {
  std::vector<service_rule> result;
  result.reserve(services.size());
  for (auto& kvp : services)
    result.push_back(kvp.second.rule);
  return result;
}

std::optional<service_record> monitor_state::changed(
  tracked& t, caf::timestamp when) {
  std::vector<proc_entry> procs;
  procs.reserve(t.procs.size());
  for (auto& kvp : t.procs)
    procs.push_back(kvp.second);
  auto rec = record_of(t.rule.name, procs);
  if (t.reported && same_view(rec, t.last))
    return std::nullopt;
  if (!rec.running)
    rec.since = when; // when it stopped (or was first seen down)
  else if (t.reported && t.last.running)
    rec.since = t.last.since; // more or fewer instances: still up since then
  rec.last_change = when;
  t.last = rec;
  t.reported = true;
  return rec;
}

std::vector<service_record> monitor_state::apply_scan(const scan_result& scan) {
  ++scans;
  last_scan_us = scan.duration_us;
  last_scanned = scan.scanned;
  std::vector<service_record> result;
  for (auto& found : scan.services) {
    auto i = services.find(found.name);
    if (i == services.end() || i->second.rule_id != found.rule_id)
      continue; // removed or replaced since the scan began
    auto& t = i->second;
    t.procs.clear();
    for (auto& p : found.procs)
      if (tombstones.count(p.id) == 0)
        t.procs.emplace(p.id, p);
    if (auto rec = changed(t, scan.started))
      result.push_back(std::move(*rec));
  }
  // Exits seen before this scan began can no longer show up in a scan.
  for (auto i = tombstones.begin(); i != tombstones.end();) {
    if (i->second < scan.started)
      i = tombstones.erase(i);
    else
      ++i;
  }
  return result;
}

std::vector<service_record> monitor_state::apply_exits(
  const proc_exits& exits) {
  std::vector<service_record> result;
  for (auto& id : exits.procs) {
    ++exits_seen;
    tombstones[id] = exits.time;
    watched.erase(id);
  }
  for (auto& kvp : services) {
    auto& t = kvp.second;
    bool touched = false;
    for (auto& id : exits.procs)
      touched |= t.procs.erase(id) > 0;
    if (touched)
      if (auto rec = changed(t, exits.time))
        result.push_back(std::move(*rec));
  }
  return result;
}

std::pair<std::vector<proc_id>, std::vector<proc_id>>
monitor_state::watch_diff() {
  std::set<proc_id> wanted;
  for (auto& kvp : services)
    for (auto& p : kvp.second.procs)
      wanted.insert(p.first);
  std::pair<std::vector<proc_id>, std::vector<proc_id>> result;
  std::set_difference(wanted.begin(), wanted.end(), watched.begin(),
    watched.end(), std::back_inserter(result.first));
  std::set_difference(watched.begin(), watched.end(), wanted.begin(),
    wanted.end(), std::back_inserter(result.second));
  watched = std::move(wanted);
  return result;
}

std::vector<service_record> monitor_state::records() const {
  std::vector<service_record> result;
  for (auto& kvp : services) {
    if (kvp.second.reported) {
      result.push_back(kvp.second.last);
    } else {
      service_record rec;
      rec.name = kvp.first;
      result.push_back(std::move(rec));
    }
  }
  return result;
}

json monitor_state::metrics() const {
  return {{"services", services.size()}, {"scans", scans},
    {"exits_seen", exits_seen}, {"reports", reports},
    {"report_errors", report_errors}, {"watched_pids", watched.size()},
    {"tombstones", tombstones.size()}, {"last_scan_us", last_scan_us},
    {"last_scanned", last_scanned},
    {"last_error", last_error.empty() ? json{} : json(last_error)}};
}

// -- monitor actor ------------------------------------------------------------

namespace {

using monitor_ptr = monitor_internal_actor::stateful_pointer<monitor_state>;

/// Sends changed records to service_status, in order.
void report(monitor_ptr self, std::vector<service_record> recs) {
  auto& st = self->state;
  for (auto& rec : recs) {
    ++st.reports;
    self->request(st.status, request_timeout, atom::report_v, std::move(rec))
      .then([](bool) {},
        [self](caf::error& err) {
          ++self->state.report_errors;
          self->state.last_error = "report: " + render(err);
        });
  }
}

/// Brings the watcher's pidfds in line with the known processes.
void sync_watch(monitor_ptr self) {
  auto& st = self->state;
  auto diff = st.watch_diff();
  if (diff.first.empty() && diff.second.empty())
    return;
  self->send(
    st.watcher, atom::update_v, std::move(diff.first), std::move(diff.second));
  st.wake->notify(); // after the send: the watcher then finds it queued
}

void on_scan(monitor_ptr self, const scan_result& scan) {
  report(self, self->state.apply_scan(scan));
  sync_watch(self);
}

void on_exits(monitor_ptr self, const proc_exits& exits) {
  report(self, self->state.apply_exits(exits));
  sync_watch(self);
}

/// Spawns the helpers and installs the initial rules.
caf::error setup(monitor_ptr self, service_status_internal_actor status,
  std::vector<service_rule> rules, std::chrono::milliseconds interval) {
  auto& st = self->state;
  st.status = std::move(status);
  auto wake = event_fd::make();
  if (!wake)
    return std::move(wake.error());
  st.wake = std::make_shared<event_fd>(std::move(*wake));
  auto me = caf::actor_cast<monitor_internal_actor>(self);
  st.scanner = self->spawn<caf::detached>(proc_scanner, me, interval);
  st.watcher = self->spawn<caf::detached>(pidfd_watcher, me, st.wake);
  // The helpers live exactly as long as the monitor. The watcher sleeps in
  // poll(): the eventfd makes it read its mailbox and see the exit.
  self->attach_functor([scanner = st.scanner, watcher = st.watcher,
                         wake = st.wake](const caf::error&) {
    caf::anon_send_exit(scanner, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
    wake->notify();
  });
  for (auto& rule : rules) {
    // The runtime validates rules first; this is a backstop.
    auto added = st.add_rule(rule);
    if (!added)
      return std::move(added.error());
    self->send(st.scanner, atom::add_v, std::move(rule), added->second);
  }
  self->send(st.scanner, atom::tick_v); // first pass now, then every interval
  return caf::none;
}

} // namespace

monitor_internal_actor::behavior_type monitor(monitor_ptr self,
  service_status_internal_actor status, std::vector<service_rule> rules,
  std::chrono::milliseconds interval) {
  if (auto err = setup(self, std::move(status), std::move(rules), interval))
    self->quit(std::move(err));
  return {
    [self](atom::add, service_rule& rule) -> caf::result<bool> {
      auto& st = self->state;
      auto added = st.add_rule(rule);
      if (!added)
        return std::move(added.error());
      auto is_new = added->first;
      self->send(st.scanner, atom::add_v, std::move(rule), added->second);
      // Reply once the service's first scan is applied (and reported).
      auto rp = self->make_response_promise<bool>();
      self->request(st.scanner, request_timeout, atom::scan_v)
        .then(
          [self, rp, is_new](scan_result& scan) mutable {
            on_scan(self, scan);
            rp.deliver(is_new);
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](atom::erase, const std::string& name) -> caf::result<bool> {
      auto& st = self->state;
      if (!st.erase_rule(name))
        return false;
      self->send(st.scanner, atom::erase_v, name);
      sync_watch(self);
      self->request(st.status, request_timeout, atom::erase_v, name)
        .then([](bool) {},
          [self](caf::error& err) {
            ++self->state.report_errors;
            self->state.last_error = "erase: " + render(err);
          });
      return true;
    },
    [self](atom::list) { return self->state.rules(); },
    [self](atom::scan) -> caf::result<std::vector<service_record>> {
      auto rp = self->make_response_promise<std::vector<service_record>>();
      self->request(self->state.scanner, request_timeout, atom::scan_v)
        .then(
          [self, rp](scan_result& scan) mutable {
            on_scan(self, scan);
            rp.deliver(self->state.records());
          },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self](atom::metrics) { return self->state.metrics(); },
    [self](scan_result& scan) { on_scan(self, scan); },
    [self](proc_exits& exits) { on_exits(self, exits); },
  };
}

// -- scanner ------------------------------------------------------------------

proc_scanner_actor::behavior_type proc_scanner(
  proc_scanner_actor::stateful_pointer<proc_scanner_state> self,
  monitor_internal_actor monitor, std::chrono::milliseconds interval) {
  self->state.monitor = std::move(monitor);
  self->state.interval = interval;
  return {
    [self](atom::add, service_rule& rule, uint64_t id) {
      // Validated by the monitor; a failure here leaves the rule out.
      if (auto err = self->state.rules.add(std::move(rule), id))
        return;
    },
    [self](
      atom::erase, const std::string& name) { self->state.rules.erase(name); },
    [self](
      atom::scan) { return self->state.pool.scan(self->state.rules); },
    [self](atom::tick) {
      auto& st = self->state;
      if (!st.rules.empty())
        self->send(st.monitor, st.pool.scan(st.rules));
      self->delayed_send(self, st.interval, atom::tick_v);
    },
  };
}

// -- pidfd watcher ------------------------------------------------------------

pidfd_watcher_actor::behavior_type pidfd_watcher(
  pidfd_watcher_actor::stateful_pointer<pidfd_watcher_state> self,
  monitor_internal_actor monitor, std::shared_ptr<event_fd> wake) {
  self->state.monitor = std::move(monitor);
  self->state.wake = std::move(wake);
  self->send(self, atom::wait_v);
  return {
    [self](atom::update, const std::vector<proc_id>& add,
      const std::vector<proc_id>& remove) {
      auto& st = self->state;
      st.fds.unwatch(remove);
      auto gone = st.fds.watch(add);
      if (!gone.empty())
        self->send(
          st.monitor, proc_exits{caf::make_timestamp(), std::move(gone)});
    },
    [self](atom::wait) {
      auto& st = self->state;
      auto exited = st.fds.poll(*st.wake);
      if (!exited.empty())
        self->send(
          st.monitor, proc_exits{caf::make_timestamp(), std::move(exited)});
      // Back to the mailbox: updates and exit messages queued meanwhile
      // come first, then the next poll.
      self->send(self, atom::wait_v);
    },
  };
}

} // namespace labrt
