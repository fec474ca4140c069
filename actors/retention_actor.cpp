#include "actors/retention_actor.hpp"

#include <caf/all.hpp>

#include "actors/connection_log_actor.hpp"
#include "actors/directory.hpp"
#include "persistence/errors.hpp"
#include "persistence/log.hpp"

namespace mext::actors {
namespace {

// How long one log may take to answer before the sweep moves on.
constexpr std::chrono::seconds purge_timeout{30};

struct retention_state {
  std::shared_ptr<runtime> rt;
  retention_settings settings;
  retention_stats stats;
  std::string cursor;        // the last log of the previous page; empty at the start of a sweep
  uint32_t outstanding = 0;  // purges of the current page not answered yet
  static inline const char* name = "retention_actor";
};

using retention_self = retention_actor::stateful_pointer<retention_state>;

void schedule(retention_self self, caf::timespan after) {
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self), after, tick_atom::value);
}

void page_done(retention_self self) {
  auto& st = self->state;
  if (st.cursor.empty()) {
    st.stats.sweeps++;
    log::info("retention.sweep_done")
        .field("logs", st.stats.logs_visited)
        .field("entries_purged", st.stats.entries_purged);
    schedule(self, std::chrono::duration_cast<caf::timespan>(st.settings.interval));
  } else {
    schedule(self, caf::timespan{0});
  }
}

void step(retention_self self) {
  auto& st = self->state;
  auto ids = st.rt->store->entities("clog_", st.settings.page, st.cursor);
  if (!ids) {
    log::error("retention.scan_failed").field("error", detail_of(ids.error()));
    st.cursor.clear();
    page_done(self);
    return;
  }
  st.cursor = ids->size() < st.settings.page ? std::string{} : ids->back();
  if (ids->empty()) {
    page_done(self);
    return;
  }
  auto before = now_ms() - st.settings.connection_log_retention.count();
  auto dir = caf::actor_cast<directory_actor>(st.rt->directory);
  st.outstanding = static_cast<uint32_t>(ids->size());
  auto finish_one = [self] {
    if (--self->state.outstanding == 0) page_done(self);
  };
  for (auto& id : *ids) {
    st.stats.logs_visited++;
    self->request(dir, purge_timeout, resolve_atom::value, id)
        .then(
            [=](caf::actor hdl) {
              self->request(caf::actor_cast<connection_log_actor>(hdl), purge_timeout,
                            purge_atom::value, before)
                  .then(
                      [=](uint64_t removed) {
                        self->state.stats.entries_purged += removed;
                        finish_one();
                      },
                      [=](caf::error&) {
                        self->state.stats.failures++;
                        finish_one();
                      });
            },
            [=](caf::error&) {
              self->state.stats.failures++;
              finish_one();
            });
  }
}

retention_actor::behavior_type retention_behavior(retention_self self, std::shared_ptr<runtime> rt,
                                                  retention_settings settings) {
  self->state.rt = std::move(rt);
  self->state.settings = settings;
  schedule(self, std::chrono::duration_cast<caf::timespan>(settings.interval));
  return {
      [=](tick_atom) {
        if (self->state.outstanding == 0) step(self);
      },
      [=](stats_atom) { return self->state.stats; },
  };
}

}  // namespace

retention_actor spawn_retention_actor(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                      retention_settings settings) {
  return sys.spawn(retention_behavior, std::move(rt), settings);
}

}  // namespace mext::actors
