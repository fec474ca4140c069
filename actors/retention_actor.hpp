#pragma once
// retention_actor: purges personal data past its retention period, on a timer.
//
// Connection data (seed: "Data of connection") is kept `connection_log_retention` (12 months by
// default, the top of the CNIL's 6-12 month range). Every `interval`, the actor walks every
// connection log in pages and asks each to purge what is older; a log purges by writing a
// compacting event, so the old entries leave LMDB too.
//
// The chat of an exhibition is kept `chat_retention` after the exhibition ends: the same sweep
// then asks every booth room of the exhibition to purge its messages, and marks the exhibition
// done ("chat_purged/<exhibition>" in db::indexes) once every room answered. Export archives have
// their own retention in the privacy actor.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/runtime.hpp"
#include "persistence/atoms.hpp"

namespace mext::actors {

struct retention_settings {
  std::chrono::milliseconds connection_log_retention{std::chrono::hours(24 * 365)};
  // Booth room messages of an exhibition that ended longer ago than this are purged.
  std::chrono::milliseconds chat_retention{std::chrono::hours(24 * 90)};
  // Time between two sweeps.
  std::chrono::milliseconds interval{std::chrono::hours(1)};
  // The clock; tests inject one.
  std::function<int64_t()> clock;
  // Connection logs asked per step of a sweep; steps follow each other at once.
  uint32_t page = 500;
};

struct retention_stats {
  uint64_t sweeps = 0;           // sweeps finished
  uint64_t logs_visited = 0;     // connection logs asked to purge
  uint64_t entries_purged = 0;   // entries they removed
  uint64_t failures = 0;         // logs that did not answer (retried next sweep)
  uint64_t rooms_purged = 0;     // booth rooms of ended exhibitions purged
  uint64_t messages_purged = 0;  // messages they removed
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retention_stats& x) {
  return f(caf::meta::type_name("mext.retention_stats"), x.sweeps, x.logs_visited, x.entries_purged,
           x.failures, x.rooms_purged, x.messages_purged);
}

using retention_actor =
    caf::typed_actor<caf::reacts_to<tick_atom>, caf::replies_to<stats_atom>::with<retention_stats>>;

// Starts the sweeps; the first begins after one interval. Stop it with an exit message.
retention_actor spawn_retention_actor(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                      retention_settings settings);

}  // namespace mext::actors
