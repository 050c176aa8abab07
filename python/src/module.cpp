// labrt._native: a labrt::runtime embedded in Python. The package around it
// (python/labrt) holds the process-wide runtime, the exceptions and compat.
#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>


#include "convert.hpp"
#include "core.hpp"
#include "feeds.hpp"
#include "labrt/interfaces.hpp"
#include "managers.hpp"
#include "runner.hpp"

namespace labrt_python {

namespace {

/// Every runtime made here, for shutdown_all at interpreter exit. Leaked:
/// it must outlive the interpreter's own teardown.
auto& all_cores = *new std::vector<std::weak_ptr<core>>;

struct runtime_object {
  std::shared_ptr<core> owner;

  ~runtime_object() {
    leak_if_forked(owner);
  }
};

runtime_object make_runtime(bool runner, std::vector<std::string> roots,
                            std::string logs_dir, int64_t grace_ms,
                            size_t max_threads, size_t history_capacity,
                            py::handle service_defaults, double timeout) {
  labrt::runtime_config cfg;
  cfg.runner.enabled = runner;
  cfg.runner.roots = std::move(roots);
  cfg.runner.logs_dir = std::move(logs_dir);
  cfg.runner.grace_ms = grace_ms;
  cfg.max_threads = max_threads;
  cfg.history_capacity = history_capacity;
  if (!service_defaults.is_none())
    cfg.service_defaults = to_json(service_defaults);
  auto owner = core::make(std::move(cfg), std::chrono::milliseconds{
                                            static_cast<int64_t>(timeout * 1000)});
  all_cores.erase(std::remove_if(all_cores.begin(), all_cores.end(),
                                 [](auto& weak) { return weak.expired(); }),
                  all_cores.end());
  all_cores.push_back(owner);
  return runtime_object{std::move(owner)};
}

/// An extra manager: `spawn` is runtime::spawn_kv or a sibling.
template <class Manager, class Spawn>
Manager spawn_manager(runtime_object& r, Spawn spawn) {
  auto handle = (r.owner->rt().*spawn)();
  if (!handle)
    raise(handle.error());
  return Manager{r.owner, std::move(*handle)};
}

void translate(std::exception_ptr p) {
  try {
    if (p)
      std::rethrow_exception(p);
  } catch (const failure& f) {
    auto exc = py::module_::import("labrt._errors")
                 .attr("make")(f.code, f.message, f.revision, f.forked);
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  }
}

void bind_runtime(py::module_& m) {
  py::class_<runtime_object>(m, "Runtime",
                             "An embedded labrt runtime: an actor system with "
                             "the managers, the runner and the monitor.")
    .def(py::init(&make_runtime), py::kw_only(), py::arg("runner") = true,
         py::arg("roots") = std::vector<std::string>{}, py::arg("logs_dir") = "",
         py::arg("grace_ms") = 5000, py::arg("max_threads") = 0,
         py::arg("history_capacity") = 1024,
         py::arg("service_defaults") = py::none(), py::arg("timeout") = 5.0,
         "runner: spawn the test runner (its first run makes the process a "
         "child subreaper); roots: where scripts may be (empty: anywhere); "
         "timeout: seconds a call waits for its answer.")
    .def_property_readonly("kv", [](runtime_object& r) {
      return kv_store{r.owner, {}};
    })
    .def_property_readonly("services", [](runtime_object& r) {
      return service_status{r.owner, {}};
    })
    .def_property_readonly("tests", [](runtime_object& r) {
      return test_execution{r.owner, {}};
    })
    .def_property_readonly("runner", [](runtime_object& r) {
      r.owner->check();
      return labrt_python::runner{r.owner};
    })
    .def_property_readonly("monitor", [](runtime_object& r) {
      r.owner->check();
      return labrt_python::monitor{r.owner};
    })
    .def("new_kv", [](runtime_object& r) {
      return spawn_manager<kv_store>(r, &labrt::runtime::spawn_kv);
    }, "A kv store of its own (an actor) in this runtime.")
    .def("new_services", [](runtime_object& r) {
      return spawn_manager<service_status>(r, &labrt::runtime::spawn_services);
    }, "A service-status manager of its own, with the defaults.")
    .def("new_tests", [](runtime_object& r) {
      return spawn_manager<test_execution>(r, &labrt::runtime::spawn_test_execution);
    }, "A test-execution manager with a one-test slot of its own.")
    .def("shutdown", [](runtime_object& r) {
      if (!r.owner->forked())
        r.owner->close();
    }, "Stops every actor; later calls raise ShuttingDownError. Idempotent.")
    .def_property_readonly("closed", [](runtime_object& r) {
      return r.owner->closing() || r.owner->forked();
    });
}

} // namespace

} // namespace labrt_python

PYBIND11_MODULE(_native, m) {
  using namespace labrt_python;
  m.doc() = "labrt's runtime, embedded (use the labrt package around it)";
  py::register_exception_translator(&translate);
  bind_feeds(m);
  bind_managers(m);
  bind_runner(m);
  bind_runtime(m);
  m.attr("ANY_REVISION") = labrt::any_revision;
  m.def("shutdown_all", [] {
    auto cores = std::move(all_cores);
    for (auto& weak : cores)
      if (auto c = weak.lock(); c && !c->forked())
        c->close();
    // A closed subscription's thread may still be on its way out (one that
    // closed itself is not waited for): let it drop its callable while
    // Python can still take it back.
    py::gil_scoped_release nogil;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (live_callbacks.load() > 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }, "Closes every runtime of this process (at interpreter exit).");
  m.def("fork_generation", &fork_generation,
        "How many fork()s lie between the process that loaded the module and this one.");
  m.def("interrupted_waits", [] { return interrupted_waits; },
        "Waiting calls that Ctrl-C ended.");
}
