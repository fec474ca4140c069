#pragma once
// store_actor: the one writer of the LMDB environment, on a thread of its own.
//
// Writers send `commit` with their write_item and get the commit number back only once the
// transaction holding it is on disk. Items that arrive while a commit runs wait in the mailbox
// and go into the next transaction together (group commit): one fsync serves many writers.

#include <chrono>
#include <cstdint>
#include <memory>

#include <caf/actor_system.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "persistence/atoms.hpp"
#include "persistence/lmdb_store.hpp"

namespace mext::persistence {

struct store_stats {
  uint64_t commits = 0;          // transactions committed
  uint64_t items = 0;            // write items committed
  uint64_t failed_items = 0;     // items answered with an error
  uint64_t max_batch = 0;        // most items in one transaction
  uint64_t commit_us_total = 0;  // time spent in commit, for the mean
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, store_stats& x) {
  return f(caf::meta::type_name("mext.store_stats"), x.commits, x.items, x.failed_items,
           x.max_batch, x.commit_us_total);
}

using store_actor =
    caf::typed_actor<caf::replies_to<commit_atom, write_item>::with<uint64_t>,
                     caf::replies_to<stats_atom>::with<store_stats>, caf::reacts_to<flush_atom>>;

struct commit_settings {
  // At most this many items go into one transaction.
  size_t batch_max = 1024;
  // How long the first item of a batch may wait for company; 0 commits as soon as the mailbox
  // holds no more items.
  std::chrono::microseconds max_wait{0};
};

// Spawns the store actor detached (its own thread: LMDB write transactions belong to one thread).
store_actor spawn_store_actor(caf::actor_system& sys, std::shared_ptr<lmdb_store> store,
                              commit_settings settings);

}  // namespace mext::persistence
