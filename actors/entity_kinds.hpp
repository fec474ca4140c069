#pragma once
// Every entity kind of the engine: its id prefix, its factory and its message types.
// mextd, the tests and the benchmarks start the engine with all_entity_kinds().

#include <caf/actor_system_config.hpp>

#include "actors/directory.hpp"

namespace mext::actors {

// "usr", "clog", "org", "exh", "bth", "room", "agd" -> their factories.
factory_map all_entity_kinds();

// Registers the engine's own message types and those of every entity kind.
void add_all_message_types(caf::actor_system_config& cfg);

}  // namespace mext::actors
