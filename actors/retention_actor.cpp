#include "actors/retention_actor.hpp"

#include <caf/all.hpp>

#include <deque>

#include "actors/booth_actor.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/connection_log_actor.hpp"
#include "actors/directory.hpp"
#include "actors/exhibition_actor.hpp"
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
  // The chat phase: exhibitions still to look at, and the rooms of the current one.
  std::deque<std::string> exhibitions;
  uint32_t rooms_left = 0;
  bool room_failed = false;
  static inline const char* name = "retention_actor";
};

using retention_self = retention_actor::stateful_pointer<retention_state>;

void schedule(retention_self self, caf::timespan after) {
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self), after, tick_atom::value);
}

int64_t clock_of(const retention_state& st) {
  return st.settings.clock ? st.settings.clock() : now_ms();
}

std::string chat_purged_key(const std::string& exhibition) {
  return "chat_purged/" + exhibition;
}

void sweep_done(retention_self self) {
  auto& st = self->state;
  st.stats.sweeps++;
  log::info("retention.sweep_done")
      .field("logs", st.stats.logs_visited)
      .field("entries_purged", st.stats.entries_purged)
      .field("rooms_purged", st.stats.rooms_purged)
      .field("messages_purged", st.stats.messages_purged);
  schedule(self, std::chrono::duration_cast<caf::timespan>(st.settings.interval));
}

void next_exhibition(retention_self self);

void room_done(retention_self self, const std::string& exhibition, bool ok) {
  auto& st = self->state;
  if (!ok) {
    st.room_failed = true;
    st.stats.failures++;
  }
  if (--st.rooms_left > 0) return;
  if (st.room_failed) return next_exhibition(self);
  // Every room answered: the exhibition is done for good.
  persistence::write_item item;
  item.put(persistence::db::indexes, chat_purged_key(exhibition), std::to_string(clock_of(st)));
  self->request(st.rt->writer, caf::infinite, commit_atom::value, std::move(item))
      .then([self](uint64_t) { next_exhibition(self); },
            [self](caf::error& err) {
              log::error("retention.mark_failed").field("error", detail_of(err));
              next_exhibition(self);
            });
}

void purge_room_of(retention_self self, const std::string& exhibition, const std::string& booth,
                   int64_t before) {
  auto dir = caf::actor_cast<directory_actor>(self->state.rt->directory);
  auto failed = [self, exhibition](caf::error& err) {
    // A booth or room that is not there has nothing to purge.
    room_done(self, exhibition, code_of(err) == errc::not_found);
  };
  self->request(dir, purge_timeout, resolve_atom::value, booth)
      .then(
          [self, exhibition, before, dir, failed](caf::actor hdl) {
            self->request(caf::actor_cast<booth_actor>(hdl), purge_timeout, get_atom::value)
                .then(
                    [self, exhibition, before, dir, failed](booth_view& b) {
                      self->request(dir, purge_timeout, resolve_atom::value, b.chat_room_id)
                          .then(
                              [self, exhibition, before, failed](caf::actor room) {
                                self->request(caf::actor_cast<chat_room_actor>(room), purge_timeout,
                                              purge_atom::value, before)
                                    .then(
                                        [self, exhibition](uint64_t n) {
                                          self->state.stats.rooms_purged++;
                                          self->state.stats.messages_purged += n;
                                          room_done(self, exhibition, true);
                                        },
                                        failed);
                              },
                              failed);
                    },
                    failed);
          },
          failed);
}

// Looks at the next exhibition: if it ended more than chat_retention ago, purges its rooms.
void next_exhibition(retention_self self) {
  auto& st = self->state;
  if (st.exhibitions.empty()) return sweep_done(self);
  auto id = std::move(st.exhibitions.front());
  st.exhibitions.pop_front();
  auto dir = caf::actor_cast<directory_actor>(st.rt->directory);
  auto skip = [self](caf::error&) {
    self->state.stats.failures++;
    next_exhibition(self);
  };
  self->request(dir, purge_timeout, resolve_atom::value, id)
      .then(
          [self, id, skip](caf::actor hdl) {
            self->request(caf::actor_cast<exhibition_actor>(hdl), purge_timeout, get_atom::value)
                .then(
                    [self, id](exhibition_view& e) {
                      auto& st = self->state;
                      auto now = clock_of(st);
                      if (e.ends_at_ms + st.settings.chat_retention.count() > now ||
                          e.booth_ids.empty())
                        return next_exhibition(self);
                      st.rooms_left = static_cast<uint32_t>(e.booth_ids.size());
                      st.room_failed = false;
                      for (auto& booth : e.booth_ids) purge_room_of(self, id, booth, now);
                    },
                    skip);
          },
          skip);
}

// After the connection logs: the exhibitions whose chat is not purged yet.
void chat_phase(retention_self self) {
  auto& st = self->state;
  st.exhibitions.clear();
  std::string after;
  for (;;) {
    auto ids = st.rt->store->entities("exh_", st.settings.page, after);
    if (!ids) {
      log::error("retention.scan_failed").field("error", detail_of(ids.error()));
      break;
    }
    for (auto& id : *ids) {
      auto done = st.rt->store->get(persistence::db::indexes, chat_purged_key(id));
      if (done && !*done) st.exhibitions.push_back(id);
    }
    if (ids->size() < st.settings.page) break;
    after = ids->back();
  }
  next_exhibition(self);
}

void page_done(retention_self self) {
  auto& st = self->state;
  if (st.cursor.empty()) {
    chat_phase(self);
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
  auto before = clock_of(st) - st.settings.connection_log_retention.count();
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
