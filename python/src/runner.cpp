// The runner and the monitor as Python classes.
#include "runner.hpp"

#include <string>

#include "convert.hpp"
#include "labrt/errc.hpp"

namespace labrt_python {

namespace {

using labrt::json;
using std::string;

/// A spec or rule from its JSON form; a bad one is InvalidArgumentError.
template <class T>
T parse(const json& j) {
  try {
    return j.get<T>();
  } catch (const json::exception& ex) {
    raise(labrt::make_error(labrt::errc::invalid_argument, labrt::what_of(ex)));
  }
}

labrt::run_spec spec_of(const string& script, const py::kwargs& fields) {
  auto j = to_json(fields);
  j["script"] = script;
  return parse<labrt::run_spec>(j);
}

} // namespace

void bind_runner(py::module_& m) {
  py::class_<runner>(m, "Runner",
                     "Starts scripts, captures their output, stops their whole "
                     "process tree; records are dicts. Its first run makes the "
                     "process a child subreaper.")
    .def("start",
         [](runner& r, const string& script, py::kwargs fields) {
           auto spec = spec_of(script, fields);
           return record(r.call([&](auto& f) { return f.start(std::move(spec)); }));
         },
         py::arg("script"),
         "Starts a run now (keywords: args, cwd, env, use_shell, bin, topology, "
         "topology_file, timeout_ms, log); AlreadyRunningError while one runs.")
    .def("enqueue",
         [](runner& r, const string& script, py::kwargs fields) {
           auto spec = spec_of(script, fields);
           return record(r.call([&](auto& f) { return f.enqueue(std::move(spec)); }));
         },
         py::arg("script"))
    .def("stop",
         [](runner& r, const string& run_id, const string& by) {
           return record(r.call([&](auto& f) { return f.stop(run_id, by); }));
         },
         py::arg("run_id") = "", py::arg("by") = "",
         "Stops a run (\"\": the current one) and returns once nothing of it is left.")
    .def("status",
         [](runner& r) { return record(r.call([](auto& f) { return f.status(); })); },
         "The current run; NotRunningError when idle.")
    .def("get",
         [](runner& r, const string& run_id) {
           return record(r.call([&](auto& f) { return f.get(run_id); }));
         })
    .def("wait",
         [](runner& r, const string& run_id, std::optional<double> timeout) {
           auto limit = std::chrono::milliseconds{
             timeout ? static_cast<int64_t>(*timeout * 1000) : labrt::max_duration_ms};
           return record(r.call([&](auto& f) { return f.wait(run_id, limit); }));
         },
         py::arg("run_id"), py::arg("timeout") = py::none(),
         "The final record once the run has ended; TimeoutError after "
         "`timeout` seconds. Ctrl-C interrupts it.")
    .def("queue", [](runner& r) { return records(r.call([](auto& f) { return f.queue(); })); })
    .def("cancel",
         [](runner& r, const string& run_id) {
           return record(r.call([&](auto& f) { return f.cancel(run_id); }));
         })
    .def("history",
         [](runner& r, uint64_t n) {
           return records(r.call([&](auto& f) { return f.history(n); }));
         },
         py::arg("n") = 100, "Up to n finished runs, newest first.")
    .def("metrics",
         [](runner& r) { return to_py(r.call([](auto& f) { return f.metrics(); })); });

  py::class_<monitor>(m, "Monitor",
                      "Watches services in /proc; their records are in ServiceStatus.")
    .def("add",
         [](monitor& mon, const string& name, std::optional<string> comm,
            std::optional<string> exe, std::optional<string> cmdline) {
           json match = json::object();
           if (comm)
             match["comm"] = *comm;
           if (exe)
             match["exe"] = *exe;
           if (cmdline)
             match["cmdline"] = *cmdline;
           auto rule = parse<labrt::service_rule>(json{{"name", name}, {"match", match}});
           return mon.call([&](auto& f) { return f.add(std::move(rule)); });
         },
         py::arg("name"), py::kw_only(), py::arg("comm") = py::none(),
         py::arg("exe") = py::none(), py::arg("cmdline") = py::none(),
         "Watches a service by exactly one of comm, exe or cmdline (a regex, as "
         "pgrep -f); True if new. Returns once its record is in ServiceStatus.")
    .def("remove",
         [](monitor& mon, const string& name) {
           return mon.call([&](auto& f) { return f.remove(name); });
         })
    .def("rules",
         [](monitor& mon) { return records(mon.call([](auto& f) { return f.rules(); })); })
    .def("scan",
         [](monitor& mon) { return records(mon.call([](auto& f) { return f.scan(); })); },
         "Every watched service's record after a pass over /proc now.")
    .def("metrics", [](monitor& mon) {
      return to_py(mon.call([](auto& f) { return f.metrics(); }));
    });
}

} // namespace labrt_python
