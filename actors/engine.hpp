#pragma once
// engine: the store, the store actor and the directory, started and stopped together.
// mextd, the tests and the benchmarks all start the engine this way.

#include <filesystem>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "actors/directory.hpp"
#include "actors/runtime.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/store_actor.hpp"

namespace mext::actors {

struct engine_options {
  std::filesystem::path data_dir;
  persistence::store_settings store;  // store.dir defaults to <data_dir>/lmdb
  persistence::commit_settings commit;
  entity_settings entities;
  persistence::key_store_settings keys;
  // Personal values sealed under each person's key (envelope v1). Only the sealing benchmark
  // turns it off, to measure what sealing costs.
  bool seal_personal_data = true;
};

class engine {
 public:
  // Opens the store under options.data_dir and spawns the store actor and the directory with
  // the given entity kinds, then activates the entities that left work for others unfinished.
  static caf::expected<std::unique_ptr<engine>> start(caf::actor_system& sys,
                                                      engine_options options,
                                                      factory_map factories);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  const directory_actor& directory() const { return directory_; }
  const persistence::store_actor& writer() const { return rt_->writer; }
  const std::shared_ptr<runtime>& rt() const { return rt_; }

  // Stops the directory (and every entity with it), then the store actor after it has committed
  // what it was given; waits until they are gone. Idempotent.
  void stop();

 private:
  engine() = default;
  // Activates every entity listed under wake_prefix (runtime.hpp): work they left unfinished.
  caf::error wake_entities();
  caf::actor_system* sys_ = nullptr;
  std::shared_ptr<runtime> rt_;
  directory_actor directory_;
  bool stopped_ = false;
};

// Registers every message type of the engine's actor interfaces (needed once they cross nodes).
void add_message_types(caf::actor_system_config& cfg);

}  // namespace mext::actors
