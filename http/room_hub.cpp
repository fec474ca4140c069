#include "http/room_hub.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/caller.hpp"
#include "http/api.hpp"
#include "persistence/errors.hpp"
#include "persistence/log.hpp"

namespace mext::http {

using njson = nlohmann::json;

std::string message_frame(const std::string& room_id, const actors::message_view& m) {
  njson j{{"ev", "message"},
          {"room_id", room_id},
          {"message_id", m.message_id},
          {"number", m.number},
          {"author_id", m.author_id},
          {"text", m.text},
          {"sent_at", format_rfc3339(m.sent_at_ms)}};
  if (!m.file_id.empty()) j["file_id"] = m.file_id;
  if (m.deleted) j["deleted"] = true;
  return j.dump();
}

std::string deleted_frame(const std::string& room_id, const std::string& message_id) {
  return njson{{"ev", "deleted"}, {"room_id", room_id}, {"message_id", message_id}}.dump();
}

std::string presence_frame(const std::string& room_id, uint32_t people, uint32_t exact_from) {
  njson j{{"ev", "presence"}, {"room_id", room_id}};
  if (people < exact_from)
    j["count"] = "few";
  else
    j["count"] = people;
  return j.dump();
}

std::string error_frame(int status, const std::string& detail, const std::string& room_id,
                        const std::string& client_msg_id) {
  njson j{{"ev", "error"}, {"status", status}, {"detail", detail}};
  if (!room_id.empty()) j["room_id"] = room_id;
  if (!client_msg_id.empty()) j["client_msg_id"] = client_msg_id;
  return j.dump();
}

namespace {

using frame = std::shared_ptr<const std::string>;

frame share(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// The hub reads the room on behalf of members whose own right to read it the session checked.
actors::caller hub_caller() {
  return actors::caller{"hub", true, {}};
}

struct member_state {
  std::shared_ptr<ws_connection> conn;
  std::string user_id;
  // Still receiving catch-up pages: live messages wait for the pages (deletions do not).
  bool catching_up = false;
  // Live messages numbered at or below this were sent with the catch-up.
  uint64_t delivered_upto = 0;
};

struct hub_state {
  std::string room_id;
  std::weak_ptr<room_hubs> registry;
  hub_settings settings;
  actors::chat_room_actor room;
  bool subscribed = false;
  std::vector<hub_member> waiting;  // joined before the subscription stood
  std::unordered_map<uint64_t, member_state> members;
  bool presence_due = false;
  int64_t presence_sent = -1;
  // Room events serialised and not yet handed out, in the room's order.
  struct batched {
    frame bytes;
    bool is_message = false;
    uint64_t number = 0;
  };
  std::vector<batched> batch;
  bool flush_queued = false;

  static inline const char* name = "room_hub";
};

using hub_self = room_hub_actor::stateful_pointer<hub_state>;

uint32_t people_of(const hub_state& st) {
  std::unordered_set<std::string> people;
  for (auto& [id, m] : st.members) people.insert(m.user_id);
  return static_cast<uint32_t>(people.size());
}

// A member whose connection refuses frames is gone: the registry forgets it (and may stop us).
void drop_member(hub_self self, uint64_t conn_id) {
  auto& st = self->state;
  if (st.members.erase(conn_id) == 0) return;
  log::debug("ws.member_dropped").field("room_id", st.room_id).field("connection", conn_id);
  if (auto reg = st.registry.lock()) reg->leave(st.room_id, conn_id);
}

void send_to(hub_self self, uint64_t conn_id, const frame& f) {
  auto it = self->state.members.find(conn_id);
  if (it == self->state.members.end()) return;
  if (!it->second.conn->send(f)) drop_member(self, conn_id);
}

void presence_changed(hub_self self) {
  auto& st = self->state;
  if (st.presence_due) return;
  st.presence_due = true;
  self->delayed_send(self, st.settings.presence_interval, tick_atom::value);
}

void fetch_page(hub_self self, uint64_t conn_id, std::string after) {
  auto& st = self->state;
  self->request(st.room, st.settings.timeout, catch_up_atom::value, hub_caller(), after,
                st.settings.catch_up_page)
      .then(
          [self, conn_id](actors::catch_up_page& page) {
            auto& st = self->state;
            auto it = st.members.find(conn_id);
            if (it == st.members.end()) return;
            auto conn = it->second.conn;
            for (auto& m : page.items) {
              if (!conn->send(share(message_frame(st.room_id, m)))) {
                drop_member(self, conn_id);
                return;
              }
            }
            if (!page.complete) {
              fetch_page(self, conn_id, page.items.back().message_id);
              return;
            }
            it->second.catching_up = false;
            it->second.delivered_upto =
                page.items.empty() ? page.after_number : page.items.back().number;
          },
          [self, conn_id](caf::error& err) {
            auto& st = self->state;
            auto status = code_of(err) == errc::not_found ? 404 : http_status(err);
            send_to(self, conn_id,
                    share(error_frame(
                        status, status == 404 ? "no such message to resume after" : detail_of(err),
                        st.room_id)));
            drop_member(self, conn_id);
            presence_changed(self);
          });
}

void admit(hub_self self, hub_member m) {
  auto& st = self->state;
  auto id = m.conn->id();
  const bool catching_up = !m.after_message_id.empty();
  st.members[id] = member_state{m.conn, std::move(m.user_id), catching_up, 0};
  // Each send may find the connection gone and drop the member: nothing below holds a reference.
  send_to(self, id, share(njson{{"ev", "joined"}, {"room_id", st.room_id}}.dump()));
  if (catching_up && st.members.count(id) > 0) fetch_page(self, id, std::move(m.after_message_id));
  // The newcomer learns the current presence now; the others when it is next due.
  send_to(self, id,
          share(presence_frame(st.room_id, people_of(st), st.settings.presence_exact_from)));
  presence_changed(self);
}

void fail_all(hub_self self, int status, const std::string& detail) {
  auto& st = self->state;
  auto f = share(error_frame(status, detail, st.room_id));
  std::vector<uint64_t> ids;
  for (auto& w : st.waiting) {
    w.conn->send(f);
    ids.push_back(w.conn->id());
  }
  for (auto& [id, m] : st.members) {
    m.conn->send(f);
    ids.push_back(id);
  }
  st.waiting.clear();
  st.members.clear();
  if (auto reg = st.registry.lock())
    for (auto id : ids) reg->leave(st.room_id, id);
  self->quit();
}

void on_event(hub_self self, const actors::room_event& ev) {
  auto& st = self->state;
  const bool is_message = ev.kind == "message";
  st.batch.push_back({share(is_message ? message_frame(st.room_id, ev.message)
                                       : deleted_frame(st.room_id, ev.message.message_id)),
                      is_message, ev.message.number});
  // Behind every event already in the mailbox: they all join this batch.
  if (!st.flush_queued) {
    st.flush_queued = true;
    self->send(self, flush_atom::value);
  }
}

void flush_batch(hub_self self) {
  auto& st = self->state;
  st.flush_queued = false;
  if (st.batch.empty()) return;
  std::vector<frame> frames;
  frames.reserve(st.batch.size());
  std::vector<uint64_t> gone;
  for (auto& [id, m] : st.members) {
    frames.clear();
    for (auto& b : st.batch)
      if (!b.is_message || (!m.catching_up && b.number > m.delivered_upto))
        frames.push_back(b.bytes);
    if (!frames.empty() && !m.conn->send_many(frames)) gone.push_back(id);
  }
  st.batch.clear();
  for (auto id : gone) drop_member(self, id);
  if (!gone.empty()) presence_changed(self);
}

room_hub_actor::behavior_type hub_behavior(hub_self self, std::string room_id,
                                           std::weak_ptr<room_hubs> registry,
                                           actors::directory_actor dir, hub_settings settings) {
  auto& st = self->state;
  st.room_id = std::move(room_id);
  st.registry = std::move(registry);
  st.settings = settings;
  self->request(dir, settings.timeout, resolve_atom::value, st.room_id)
      .then(
          [self](caf::actor& hdl) {
            auto& st = self->state;
            st.room = caf::actor_cast<actors::chat_room_actor>(hdl);
            self->monitor(st.room);
            self->request(st.room, st.settings.timeout, join_atom::value,
                          caf::actor_cast<caf::actor>(self), hub_caller())
                .then(
                    [self](uint32_t) {
                      auto& st = self->state;
                      st.subscribed = true;
                      auto waiting = std::move(st.waiting);
                      st.waiting.clear();
                      for (auto& m : waiting) admit(self, std::move(m));
                    },
                    [self](caf::error& err) { fail_all(self, http_status(err), detail_of(err)); });
          },
          [self](caf::error& err) { fail_all(self, http_status(err), detail_of(err)); });
  self->set_down_handler([self](caf::down_msg&) {
    log::warn("ws.room_hub_lost_room").field("room_id", self->state.room_id);
    fail_all(self, 503, "the room restarted: join it again");
  });
  return {
      [self](add_atom, hub_member& m) {
        if (!self->state.subscribed) {
          self->state.waiting.push_back(std::move(m));
          return;
        }
        admit(self, std::move(m));
      },
      [self](remove_atom, uint64_t conn_id) {
        auto& st = self->state;
        auto w = std::find_if(st.waiting.begin(), st.waiting.end(),
                              [conn_id](const hub_member& m) { return m.conn->id() == conn_id; });
        if (w != st.waiting.end()) st.waiting.erase(w);
        if (st.members.erase(conn_id) > 0) presence_changed(self);
      },
      [self](actors::room_event& ev) { on_event(self, ev); },
      [self](flush_atom) { flush_batch(self); },
      [self](tick_atom) {
        auto& st = self->state;
        st.presence_due = false;
        auto people = people_of(st);
        if (static_cast<int64_t>(people) == st.presence_sent) return;
        st.presence_sent = people;
        auto f = share(presence_frame(st.room_id, people, st.settings.presence_exact_from));
        std::vector<uint64_t> gone;
        for (auto& [id, m] : st.members)
          if (!m.conn->send(f)) gone.push_back(id);
        for (auto id : gone) drop_member(self, id);
      },
  };
}

}  // namespace

std::shared_ptr<room_hubs> room_hubs::make(caf::actor_system& sys, actors::directory_actor dir,
                                           hub_settings settings) {
  return std::shared_ptr<room_hubs>(new room_hubs(sys, std::move(dir), settings));
}

room_hubs::room_hubs(caf::actor_system& sys, actors::directory_actor dir, hub_settings settings)
    : sys_(sys), dir_(std::move(dir)), settings_(settings) {}

room_hubs::~room_hubs() {
  stop_all();
}

void room_hubs::join(const std::string& room_id, hub_member member) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hubs_.find(room_id);
  if (it == hubs_.end()) {
    auto hub = sys_.spawn(hub_behavior, room_id, weak_from_this(), dir_, settings_);
    it = hubs_.emplace(room_id, entry{std::move(hub), {}}).first;
  }
  it->second.members.insert(member.conn->id());
  caf::anon_send(it->second.hub, add_atom::value, std::move(member));
}

void room_hubs::leave(const std::string& room_id, uint64_t conn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = hubs_.find(room_id);
  if (it == hubs_.end() || it->second.members.erase(conn_id) == 0) return;
  if (it->second.members.empty()) {
    caf::anon_send_exit(it->second.hub, caf::exit_reason::user_shutdown);
    hubs_.erase(it);
    return;
  }
  caf::anon_send(it->second.hub, remove_atom::value, conn_id);
}

void room_hubs::stop_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, e] : hubs_) caf::anon_send_exit(e.hub, caf::exit_reason::user_shutdown);
  hubs_.clear();
}

std::size_t room_hubs::rooms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hubs_.size();
}

std::size_t room_hubs::members() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = 0;
  for (auto& [id, e] : hubs_) n += e.members.size();
  return n;
}

}  // namespace mext::http
