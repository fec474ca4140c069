#pragma once
// The crash-consistency soak (mext-sim --crash-cycles N): mextd is driven with the scenario's
// chat, meeting and privacy operations, killed with SIGKILL at a random moment while requests
// are in flight, started again on the same data directory and port, and checked after every
// restart: every write it acknowledged so far is there once, in order, with its status, every
// accepted privacy request completes, and the store opened without an error.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include <nlohmann/json.hpp>

#include "sim/driver.hpp"
#include "sim/histogram.hpp"
#include "sim/scenario.hpp"

namespace mext::sim {

struct crash_options {
  std::filesystem::path mextd;
  std::vector<std::string> server_flags;
  uint32_t cycles = 3;
  // Each cycle's kill comes uniformly between these, from the start of its load.
  double kill_min_s = 1;
  double kill_max_s = 4;
  uint64_t seed = 1;
  double ready_timeout_s = 60;    // a restart not ready by then fails the run
  double privacy_timeout_s = 60;  // per check, for the accepted requests to complete
  bool keep_data = false;         // keep the data directory and logs even when the run passed
  // A check of the soak itself: the store is put back as it was after the first kill before
  // the second restart, so the writes acknowledged in between are gone and the run must fail.
  bool rollback_fault = false;
  std::function<void(const std::string&)> progress;
};

struct crash_result {
  double setup_s = 0;
  double elapsed_s = 0;
  uint32_t cycles = 0;              // kills followed by a restart and the checks
  uint32_t kills_in_flight = 0;     // kills that came while requests were waiting for an answer
  uint64_t in_flight_at_kills = 0;  // requests waiting for an answer at the kills, summed
  uint32_t max_in_flight_at_kill = 0;
  uint64_t in_doubt = 0;  // requests the kill left without an answer (not acknowledged)
  uint64_t resent = 0;    // chat sends in doubt sent again after the restart (same client_msg_id)
  uint64_t resent_acked = 0;                       // ... and acknowledged then
  std::map<std::string, uint64_t> resent_refused;  // the other answers to them, by status
  uint64_t resent_committed = 0;  // ... of which the killed server had committed (found again)
  // Distinct writes acknowledged over the run, each looked for after every later restart.
  uint64_t acked_messages = 0;
  uint64_t acked_meetings = 0;  // meeting requests answered 201
  uint64_t acked_answers = 0;   // accept/decline answered 2xx
  uint64_t acked_privacy = 0;   // export/erase requests answered 202
  uint64_t checks = 0;          // look-ups of acknowledged writes, summed over the restarts
  uint64_t lost = 0;            // acknowledged writes missing (or with another status) once
  uint64_t duplicated = 0;      // messages present more than once
  uint64_t out_of_order = 0;    // messages before one acknowledged before they were sent
  // Meetings (acknowledged or not) the two parties see with different statuses.
  uint64_t meetings_inconsistent = 0;
  uint64_t sessions_checked = 0;
  uint64_t sessions_lost = 0;  // signed-in visitors whose token no longer worked
  uint64_t log_errors = 0;     // error lines (or lines about corrupt records) after restarts
  uint64_t replacements = 0;   // visitors registered in place of erased ones
  histogram restart;           // µs from exec to the first 200 of GET /readyz
  histogram privacy_wait;      // µs after the restart until every accepted request completed
  histogram meeting_settle;    // µs after the restart until both parties agree on every meeting
  std::map<op_kind, op_stats> ops;
  uint64_t violations = 0;
  std::vector<std::string> violation_notes;
  std::string data_dir;  // kept when the run failed (or with keep_data)
  bool passed() const { return violations == 0 && cycles > 0; }
};

// errc::internal when the server could not be started or set up at all; a server that does not
// come back after a kill is a violation in the result.
caf::expected<crash_result> run_crash_soak(const scenario& sc, const crash_options& o);

nlohmann::json crash_report_json(const scenario& sc, const crash_options& o, const crash_result& r);

}  // namespace mext::sim
