// Every atom and message type of labrt's interfaces, in one type ID block.
#pragma once

#include <caf/type_id.hpp>

#include "labrt/run_types.hpp"
#include "labrt/monitor_types.hpp"
#include "labrt/types.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(labrt, caf::first_custom_type_id)

  // Message types.
  CAF_ADD_TYPE_ID(labrt, (labrt::change_event))
  CAF_ADD_TYPE_ID(labrt, (labrt::subscription))
  CAF_ADD_TYPE_ID(labrt, (labrt::kv_entry))
  CAF_ADD_TYPE_ID(labrt, (labrt::kv_snapshot))
  CAF_ADD_TYPE_ID(labrt, (labrt::patch_format))
  CAF_ADD_TYPE_ID(labrt, (labrt::service_record))
  CAF_ADD_TYPE_ID(labrt, (labrt::run_spec))
  CAF_ADD_TYPE_ID(labrt, (labrt::run_state))
  CAF_ADD_TYPE_ID(labrt, (labrt::run_record))
  CAF_ADD_TYPE_ID(labrt, (labrt::output_line))
  CAF_ADD_TYPE_ID(labrt, (labrt::output_batch))
  CAF_ADD_TYPE_ID(labrt, (labrt::queue_update))
  CAF_ADD_TYPE_ID(labrt, (labrt::run_update))
  CAF_ADD_TYPE_ID(labrt, (labrt::history_query))
  CAF_ADD_TYPE_ID(labrt, (labrt::match_kind))
  CAF_ADD_TYPE_ID(labrt, (labrt::service_rule))
  CAF_ADD_TYPE_ID(labrt, (labrt::proc_id))
  CAF_ADD_TYPE_ID(labrt, (labrt::proc_entry))
  CAF_ADD_TYPE_ID(labrt, (labrt::service_procs))
  CAF_ADD_TYPE_ID(labrt, (labrt::scan_result))
  CAF_ADD_TYPE_ID(labrt, (labrt::proc_exits))
  CAF_ADD_TYPE_ID(labrt, (labrt::event))
  CAF_ADD_TYPE_ID(labrt, (labrt::event_batch))
  CAF_ADD_TYPE_ID(labrt, (labrt::log_chunk))

  // Reads.
  CAF_ADD_ATOM(labrt, labrt::atom, get, "get")
  CAF_ADD_ATOM(labrt, labrt::atom, get_all, "get_all")
  CAF_ADD_ATOM(labrt, labrt::atom, fetch, "fetch")
  CAF_ADD_ATOM(labrt, labrt::atom, contains, "contains")
  CAF_ADD_ATOM(labrt, labrt::atom, count, "count")
  CAF_ADD_ATOM(labrt, labrt::atom, list_keys, "list_keys")
  CAF_ADD_ATOM(labrt, labrt::atom, read, "read")
  CAF_ADD_ATOM(labrt, labrt::atom, list_values, "values")
  CAF_ADD_ATOM(labrt, labrt::atom, snapshot, "snapshot")
  CAF_ADD_ATOM(labrt, labrt::atom, is_running, "is_running")
  CAF_ADD_ATOM(labrt, labrt::atom, describe, "describe")
  CAF_ADD_ATOM(labrt, labrt::atom, list, "list")

  // Writes.
  CAF_ADD_ATOM(labrt, labrt::atom, set, "set")
  CAF_ADD_ATOM(labrt, labrt::atom, update, "update")
  CAF_ADD_ATOM(labrt, labrt::atom, erase, "erase")
  CAF_ADD_ATOM(labrt, labrt::atom, clear, "clear")
  CAF_ADD_ATOM(labrt, labrt::atom, patch, "patch")
  CAF_ADD_ATOM(labrt, labrt::atom, report, "report")
  CAF_ADD_ATOM(labrt, labrt::atom, start, "start")
  CAF_ADD_ATOM(labrt, labrt::atom, stop, "stop")
  CAF_ADD_ATOM(labrt, labrt::atom, reset, "reset")
  CAF_ADD_ATOM(labrt, labrt::atom, enqueue, "enqueue")
  CAF_ADD_ATOM(labrt, labrt::atom, cancel, "cancel")
  CAF_ADD_ATOM(labrt, labrt::atom, wait, "wait")
  CAF_ADD_ATOM(labrt, labrt::atom, add, "add")
  CAF_ADD_ATOM(labrt, labrt::atom, scan, "scan")
  CAF_ADD_ATOM(labrt, labrt::atom, tick, "tick")
  CAF_ADD_ATOM(labrt, labrt::atom, abandon, "abandon")
  CAF_ADD_ATOM(labrt, labrt::atom, release, "release")
  CAF_ADD_ATOM(labrt, labrt::atom, expire, "expire")

  // The cluster.
  CAF_ADD_ATOM(labrt, labrt::atom, open, "open")
  CAF_ADD_ATOM(labrt, labrt::atom, connect, "connect")

  // The database.
  CAF_ADD_ATOM(labrt, labrt::atom, commit, "commit")
  CAF_ADD_ATOM(labrt, labrt::atom, storage, "storage")

  // Change feeds.
  CAF_ADD_ATOM(labrt, labrt::atom, subscribe, "subscribe")
  CAF_ADD_ATOM(labrt, labrt::atom, unsubscribe, "unsub")
  CAF_ADD_ATOM(labrt, labrt::atom, history, "history")
  CAF_ADD_ATOM(labrt, labrt::atom, metrics, "metrics")

CAF_END_TYPE_ID_BLOCK(labrt)
