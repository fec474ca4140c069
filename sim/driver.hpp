#pragma once
// The run of one scenario against a server: setup (an exhibition with its booths and sessions,
// the visitors registered and signed in), then open-loop operations at their scheduled times,
// then the correctness checks. Latency is measured from each operation's scheduled time, so a
// slow server cannot hide behind a load generator that waits for it (coordinated omission).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "sim/histogram.hpp"
#include "sim/http_client.hpp"
#include "sim/scenario.hpp"

namespace mext::sim {

struct run_options {
  endpoint target;
  std::string admin_email;
  std::string admin_password;
  // This process runs visitors i with i % shards == shard; reports of the shards merge.
  uint32_t shard = 0;
  uint32_t shards = 1;
  // Spread client sockets over 127.0.0.1..127.0.0.N when the target is on loopback.
  uint32_t source_addresses = 1;
  uint64_t seed = 1;
  // Called about once a second with a line of progress.
  std::function<void(const std::string&)> progress;
};

struct op_stats {
  histogram latency;  // µs from the scheduled time to the answer, successful operations only
  uint64_t ok = 0;
  std::map<std::string, uint64_t> errors;  // "status 503", "connection", "conflict" ...
  void merge(const op_stats& o);
};

// One second of the operation phase.
struct series_point {
  double t_s = 0;
  uint64_t ok = 0;
  uint64_t errors = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  uint32_t visitors_arrived = 0;  // so far
};

struct run_result {
  int64_t started_at_ms = 0;
  double setup_s = 0;
  double elapsed_s = 0;   // of the operation phase
  uint32_t visitors = 0;  // visitors this process signed in
  uint32_t connections = 0;
  std::map<op_kind, op_stats> ops;
  uint64_t checked_messages = 0;  // acknowledged chat messages looked for afterwards
  uint32_t probes = 0;            // WebSocket members that parsed every frame
  uint64_t probe_deliveries = 0;  // messages they received
  // From a message's acknowledgement (its 201 read by the sender) to its arrival at each probe;
  // 0 when the frame came before the sender read its acknowledgement.
  histogram delivery;
  // After the last operation, until every probe and member had every acknowledged message
  // (or the wait gave up: see drain_complete).
  double drain_s = 0;
  bool drain_complete = true;
  uint32_t members_wanted = 0;  // visitors asked to hold a WebSocket (scenario "members")
  uint32_t members_joined = 0;
  uint32_t members_closed_early = 0;
  uint64_t member_frames = 0;      // message frames they counted
  std::string member_error;        // the first reason a member failed, if any
  uint64_t checked_meetings = 0;   // meeting requests answered 201, looked for afterwards
  uint32_t checked_agendas = 0;    // agendas read for double bookings
  uint64_t meetings_answered = 0;  // invitations accepted or declined during the run
  uint32_t members_erased = 0;     // members whose visitor was erased: closed, as they must be
  uint64_t violations = 0;
  std::vector<std::string> violation_notes;
  double sim_cpu_percent = 0;  // of one core, over the operation phase
  uint64_t late_starts = 0;    // operations that started over 100 ms after their time
  std::vector<std::string> failed_criteria;
  std::vector<series_point> series;
  bool passed() const { return failed_criteria.empty() && violations == 0; }
};

caf::expected<run_result> run_scenario(const scenario& sc, const run_options& options);

}  // namespace mext::sim
