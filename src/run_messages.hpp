// What a run watcher tells its runner: the runner's own messages, which no
// embedder sends or receives, in a type ID block after the public one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timestamp.hpp>
#include <caf/type_id.hpp>

#include "labrt/atoms.hpp"
#include "labrt/run_types.hpp"

namespace labrt {

/// From a run watcher to its runner: the child exec'd (or could not).
struct run_started {
  std::string run_id;
  int32_t pid = 0;
  int32_t pgid = 0;
  caf::error error; ///< Set if the spawn failed; nothing runs then.
  /// When the watcher saw the spawn: the timeout counts from here, so the
  /// run's duration must too (not from when the runner got this message).
  caf::timestamp at;
  /// The real path of the file that runs (checked and opened at the spawn).
  std::string path;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_started& x) {
  return f(caf::meta::type_name("run_started"), x.run_id, x.pid, x.pgid,
    x.error, x.at, x.path);
}

/// From a run watcher to its runner: nothing of the run is left, every
/// process of it reaped. Its run_end fills the end of the runner's record.
struct run_ended : run_end {
  std::string run_id;
  /// Nothing tells how it ended (its shim died without a status).
  bool lost = false;
  /// When it ended, if that was before the runner learnt of it; else zero.
  caf::timestamp ended_at;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_ended& x) {
  return f(caf::meta::type_name("run_ended"), x.run_id,
    static_cast<run_end&>(x), x.lost, x.ended_at);
}

class spare_shim;

/// To a runner: a shim started ahead of its run (see spare_shim). Local
/// only: it carries a process.
struct spare_ready {
  std::shared_ptr<spare_shim> spare;
};

} // namespace labrt

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(labrt::spare_ready)

CAF_BEGIN_TYPE_ID_BLOCK(labrt_internal, caf::id_block::labrt::end)

CAF_ADD_TYPE_ID(labrt_internal, (labrt::run_started))
CAF_ADD_TYPE_ID(labrt_internal, (labrt::run_ended))

CAF_END_TYPE_ID_BLOCK(labrt_internal)
