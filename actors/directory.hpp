#pragma once
// directory: activates entity actors on demand, routes ids to them, and passivates idle ones.
//
// An entity is addressed by its id; the directory spawns its actor on first use (the actor
// restores itself from its snapshot and later events) and hands out the handle. An idle actor
// asks to go; the directory stops handing it out and tells it to passivate, and until its down
// message arrives, resolves for that id wait, so two activations of one entity never overlap.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/runtime.hpp"
#include "persistence/atoms.hpp"

namespace mext::actors {

// One resident actor as the inspection endpoint shows it.
struct resident_info {
  std::string id;
  std::string kind;
  uint64_t mailbox = 0;
  int64_t resident_since_ms = 0;
  uint64_t messages = 0;
  uint64_t seq = 0;
  uint64_t last_snapshot_seq = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resident_info& x) {
  return f(caf::meta::type_name("mext.resident_info"), x.id, x.kind, x.mailbox, x.resident_since_ms,
           x.messages, x.seq, x.last_snapshot_seq);
}

struct directory_stats {
  uint64_t resident = 0;
  uint64_t activations = 0;
  uint64_t passivations = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, directory_stats& x) {
  return f(caf::meta::type_name("mext.directory_stats"), x.resident, x.activations, x.passivations);
}

using directory_actor = caf::typed_actor<
    // The actor of an existing entity; errc::not_found when nothing is stored under the id.
    caf::replies_to<resolve_atom, std::string>::with<caf::actor>,
    // The actor of the entity, created empty when nothing is stored yet.
    caf::replies_to<activate_atom, std::string>::with<caf::actor>,
    // Sent by an idle entity actor about itself.
    caf::reacts_to<idle_atom, std::string>,
    // Sent instead of passivating by an actor that became busy again (a subscriber, a message).
    caf::reacts_to<busy_atom, std::string>,
    // Sent by an entity actor about to quit on an error (a failed commit): it is handed out no
    // more, and lookups wait for its end and get a fresh actor restored from the store.
    caf::reacts_to<leaving_atom, std::string>,
    // Resident actors of a kind ("" for all), at most `limit`.
    caf::replies_to<list_atom, std::string, uint32_t>::with<std::vector<resident_info>>,
    caf::replies_to<stats_atom>::with<directory_stats>>;

// Spawns the actor of one entity kind. `exists` says whether anything is stored under the id;
// a factory may refuse to create an entity from nothing (errc::not_found).
using entity_factory = std::function<caf::expected<caf::actor>(
    caf::actor_system& sys, const std::shared_ptr<runtime>& rt, const std::string& id, bool create,
    std::shared_ptr<resident_stats> stats)>;

// Entity kind (the id prefix) -> its factory.
using factory_map = std::unordered_map<std::string, entity_factory>;

// Spawns the directory and stores its handle in rt->directory for the entities to find.
directory_actor spawn_directory(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                factory_map factories);

}  // namespace mext::actors
