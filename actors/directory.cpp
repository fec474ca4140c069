#include "actors/directory.hpp"

#include <caf/all.hpp>

#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::actors {
namespace {

struct waiter {
  bool create;
  caf::typed_response_promise<caf::actor> promise;
};

struct entry {
  caf::actor handle;
  std::shared_ptr<resident_stats> stats;
  bool passivating = false;
  std::vector<waiter> waiting;
};

struct directory_state {
  std::shared_ptr<runtime> rt;
  factory_map factories;
  std::unordered_map<std::string, entry> entries;
  std::unordered_map<caf::actor_addr, std::string> ids;
  directory_stats stats;
  // Set by the exit message: lookups are refused and the directory quits with its last entity.
  bool stopping = false;
  caf::error stop_reason;
  static inline const char* name = "directory";
};

using directory_self = directory_actor::stateful_pointer<directory_state>;

caf::expected<caf::actor> activate(directory_self self, const std::string& id, bool create) {
  auto& st = self->state;
  auto kind = std::string{kind_of(id)};
  auto f = st.factories.find(kind);
  if (f == st.factories.end()) return make_error(errc::not_found, "no entity kind " + kind);
  auto stats = std::make_shared<resident_stats>();
  stats->resident_since_ms = now_ms();
  auto hdl = f->second(self->system(), st.rt, id, create, stats);
  if (!hdl) return hdl.error();
  self->monitor(*hdl);
  st.ids[hdl->address()] = id;
  auto& e = st.entries[id];
  e.handle = *hdl;
  e.stats = std::move(stats);
  e.passivating = false;
  st.stats.activations++;
  st.stats.resident = st.entries.size();
  return *hdl;
}

caf::result<caf::actor> lookup(directory_self self, const std::string& id, bool create) {
  if (self->state.stopping) return make_error(errc::passivated, "the engine is stopping");
  if (!is_valid_id(id)) return make_error(errc::not_found, "malformed id");
  auto owner = std::string{owner_of(id)};
  auto& st = self->state;
  auto i = st.entries.find(owner);
  if (i != st.entries.end()) {
    if (!i->second.passivating) return i->second.handle;
    auto rp = self->make_response_promise<caf::actor>();
    i->second.waiting.push_back({create, rp});
    return rp;
  }
  auto hdl = activate(self, owner, create);
  if (!hdl) return std::move(hdl.error());
  return *hdl;
}

void on_down(directory_self self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto i = st.ids.find(dm.source);
  if (i == st.ids.end()) return;
  auto id = std::move(i->second);
  st.ids.erase(i);
  auto e = st.entries.find(id);
  if (e == st.entries.end() || e->second.handle.address() != dm.source) return;
  auto waiting = std::move(e->second.waiting);
  st.entries.erase(e);
  st.stats.passivations++;
  st.stats.resident = st.entries.size();
  if (dm.reason && dm.reason != caf::exit_reason::normal && !st.stopping)
    log::warn("directory.actor_down").field("entity", id).field("reason", detail_of(dm.reason));
  if (st.stopping) {
    for (auto& w : waiting)
      w.promise.deliver(make_error(errc::passivated, "the engine is stopping"));
    if (st.entries.empty()) self->quit(st.stop_reason);
    return;
  }
  if (waiting.empty()) return;
  bool create = false;
  for (auto& w : waiting) create = create || w.create;
  auto hdl = activate(self, id, create);
  for (auto& w : waiting) {
    if (hdl)
      w.promise.deliver(*hdl);
    else
      w.promise.deliver(hdl.error());
  }
}

// Marks the entry of `id` as on its way out when the sender is its actor: lookups then wait for
// its end. False when the sender is not (or no longer) the actor handed out for `id`.
bool hand_out_no_more(directory_self self, const std::string& id) {
  auto sender = caf::actor_cast<caf::actor>(self->current_sender());
  auto i = self->state.entries.find(id);
  if (i == self->state.entries.end() || i->second.handle != sender) return false;
  i->second.passivating = true;
  return true;
}

directory_actor::behavior_type directory_behavior(directory_self self, std::shared_ptr<runtime> rt,
                                                  factory_map factories) {
  self->state.rt = std::move(rt);
  self->state.factories = std::move(factories);
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  // Entities hold the directory through the runtime and it holds them: stopping it stops them,
  // and it quits only once every one of them is gone, so nothing uses the runtime after it.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    if (st.stopping) return;
    st.stopping = true;
    st.stop_reason = msg.reason;
    for (auto& [id, e] : st.entries) {
      for (auto& w : e.waiting)
        w.promise.deliver(make_error(errc::passivated, "the engine is stopping"));
      e.waiting.clear();
      caf::anon_send_exit(caf::actor_cast<caf::actor_addr>(e.handle),
                          caf::exit_reason::user_shutdown);
    }
    if (st.entries.empty()) self->quit(msg.reason);
  });
  return {
      [=](resolve_atom, const std::string& id) { return lookup(self, id, false); },
      [=](activate_atom, const std::string& id) { return lookup(self, id, true); },
      [=](idle_atom, const std::string& id) {
        hand_out_no_more(self, id);
        // Not (or no longer) ours to hand out: it may go either way.
        if (auto sender = caf::actor_cast<caf::actor>(self->current_sender()))
          caf::anon_send(sender, passivate_atom::value);
      },
      [=](busy_atom, const std::string& id) {
        auto sender = caf::actor_cast<caf::actor>(self->current_sender());
        auto i = self->state.entries.find(id);
        if (i == self->state.entries.end() || i->second.handle != sender) return;
        i->second.passivating = false;
        for (auto& w : i->second.waiting) w.promise.deliver(i->second.handle);
        i->second.waiting.clear();
      },
      [=](leaving_atom, const std::string& id) { hand_out_no_more(self, id); },
      [=](list_atom, const std::string& kind, uint32_t limit) {
        std::vector<resident_info> out;
        for (auto& [id, e] : self->state.entries) {
          if (out.size() >= limit) break;
          auto k = std::string{kind_of(id)};
          if (!kind.empty() && k != kind) continue;
          resident_info info;
          info.id = id;
          info.kind = k;
          info.mailbox = e.stats->mailbox.load(std::memory_order_relaxed);
          info.resident_since_ms = e.stats->resident_since_ms;
          info.messages = e.stats->messages.load(std::memory_order_relaxed);
          info.seq = e.stats->seq.load(std::memory_order_relaxed);
          info.last_snapshot_seq = e.stats->last_snapshot_seq.load(std::memory_order_relaxed);
          out.push_back(std::move(info));
        }
        return out;
      },
      [=](stats_atom) { return self->state.stats; },
  };
}

}  // namespace

directory_actor spawn_directory(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                factory_map factories) {
  auto dir = sys.spawn(directory_behavior, rt, std::move(factories));
  rt->directory = caf::actor_cast<caf::actor>(dir);
  return dir;
}

}  // namespace mext::actors
