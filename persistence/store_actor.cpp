#include "persistence/store_actor.hpp"

#include <vector>

#include <caf/all.hpp>

#include "persistence/errors.hpp"
#include "persistence/log.hpp"

namespace mext::persistence {
namespace {

struct pending_write {
  write_item item;
  caf::typed_response_promise<uint64_t> promise;
};

struct store_state {
  std::shared_ptr<lmdb_store> store;
  commit_settings settings;
  std::vector<pending_write> pending;
  // A flush_atom is on its way through the mailbox. A batch that fills up commits at once and
  // leaves it there: it then serves the next batch instead of committing a short one of its own.
  bool flush_queued = false;
  store_stats stats;
  static inline const char* name = "store_actor";
};

using store_self = store_actor::stateful_pointer<store_state>;

void flush(store_self self) {
  auto& st = self->state;
  if (st.pending.empty()) return;
  std::vector<pending_write> batch;
  batch.swap(st.pending);
  std::vector<write_item*> items;
  items.reserve(batch.size());
  for (auto& p : batch) items.push_back(&p.item);
  auto started = std::chrono::steady_clock::now();
  auto results = st.store->commit(items);
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - started)
                  .count();
  st.stats.commits++;
  st.stats.commit_us_total += static_cast<uint64_t>(took);
  st.stats.max_batch = std::max<uint64_t>(st.stats.max_batch, batch.size());
  uint64_t commit_no = st.stats.commits;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i]) {
      st.stats.failed_items++;
      batch[i].promise.deliver(std::move(results[i]));
    } else {
      st.stats.items++;
      batch[i].promise.deliver(commit_no);
    }
  }
  log::debug("store.commit")
      .field("items", static_cast<uint64_t>(batch.size()))
      .field("duration_us", static_cast<int64_t>(took));
}

store_actor::behavior_type store_behavior(store_self self, std::shared_ptr<lmdb_store> store,
                                          commit_settings settings) {
  self->state.store = std::move(store);
  self->state.settings = settings;
  // On shutdown, what was already handed to the store still commits before the actor goes.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    flush(self);
    self->quit(msg.reason);
  });
  return {
      [=](commit_atom, write_item& item) -> caf::typed_response_promise<uint64_t> {
        auto& st = self->state;
        auto rp = self->make_response_promise<uint64_t>();
        st.pending.push_back({std::move(item), rp});
        if (st.pending.size() >= st.settings.batch_max) {
          flush(self);
        } else if (!st.flush_queued) {
          st.flush_queued = true;
          // A message to self lands behind every commit already in the mailbox: they all join
          // this batch. With max_wait, later arrivals join too.
          if (st.settings.max_wait.count() > 0)
            self->delayed_send(self, st.settings.max_wait, flush_atom::value);
          else
            self->send(self, flush_atom::value);
        }
        return rp;
      },
      [=](flush_atom) {
        self->state.flush_queued = false;
        flush(self);
      },
      [=](stats_atom) { return self->state.stats; },
  };
}

}  // namespace

store_actor spawn_store_actor(caf::actor_system& sys, std::shared_ptr<lmdb_store> store,
                              commit_settings settings) {
  return sys.spawn<caf::detached>(store_behavior, std::move(store), settings);
}

}  // namespace mext::persistence
