#include "http/ws_session_actor.hpp"

#include <algorithm>
#include <deque>
#include <thread>
#include <utility>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/chat_room_actor.hpp"
#include "http/auth.hpp"
#include "http/connection_data.hpp"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::http {

using njson = nlohmann::json;

// -- ws_sessions ------------------------------------------------------------------------------

void ws_sessions::add(const std::string& token_hash, const ws_session_actor& session) {
  std::lock_guard<std::mutex> lock(mu_);
  by_token_[token_hash].push_back(session);
}

void ws_sessions::remove(const std::string& token_hash, const ws_session_actor& session) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_token_.find(token_hash);
  if (it == by_token_.end()) return;
  auto& v = it->second;
  v.erase(std::remove(v.begin(), v.end(), session), v.end());
  if (v.empty()) by_token_.erase(it);
}

void ws_sessions::end(const std::string& token_hash, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_token_.find(token_hash);
  if (it == by_token_.end()) return;
  for (auto& s : it->second) caf::anon_send(s, ended_atom::value, reason);
}

bool ws_sessions::wait_until_none_alive(std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (alive_.load() > 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::size_t ws_sessions::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = 0;
  for (auto& [hash, v] : by_token_) n += v.size();
  return n;
}

namespace {

// Close codes of RFC 6455 the protocol uses.
constexpr uint16_t close_policy = 1008;
constexpr uint16_t close_bad_data = 1007;

std::shared_ptr<const std::string> share(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

struct session_state {
  std::shared_ptr<api> a;
  std::shared_ptr<room_hubs> hubs;
  std::shared_ptr<ws_sessions> registry;
  ws_protocol_settings settings;
  std::shared_ptr<ws_connection> conn;
  request upgrade;  // headers and address, for authentication and the connection record

  bool authenticating = false;
  bool authed = false;
  bool closed = false;
  actors::caller caller;
  std::string token_hash;
  std::deque<std::string> pending;  // frames that came while authenticating

  // Rooms joined, or being joined (false until the read check passed).
  std::unordered_map<std::string, bool> rooms;
  // The person's agenda, once subscribed to it.
  actors::agenda_actor agenda;

  double tokens = 0;
  std::chrono::steady_clock::time_point refilled{};

  static inline const char* name = "ws_session";
};

using session_self = ws_session_actor::stateful_pointer<session_state>;

void send_frame(session_self self, std::string text) {
  self->state.conn->send(share(std::move(text)));
}

void send_error(session_self self, int status, const std::string& detail,
                const std::string& room_id = {}, const std::string& client_msg_id = {}) {
  send_frame(self, error_frame(status, detail, room_id, client_msg_id));
}

void close_with(session_self self, uint16_t code, std::string reason) {
  self->state.conn->close(code, std::move(reason));
}

// Asks the room entity `room_id` (resolved through the directory) and hands the answer on.
template <class R, class OnOk, class OnErr, class... Ts>
void ask_room(session_self self, const std::string& room_id, OnOk on_ok, OnErr on_err, Ts... args) {
  auto& a = *self->state.a;
  auto timeout = a.limits.actor_timeout;
  self->request(a.eng.directory(), timeout, resolve_atom::value, room_id)
      .then(
          [self, timeout, on_ok, on_err, args...](caf::actor& hdl) {
            auto room = caf::actor_cast<actors::chat_room_actor>(hdl);
            self->request(room, timeout, args...)
                .then([on_ok](R& r) mutable { on_ok(std::move(r)); },
                      [on_err](caf::error& err) mutable { on_err(err); });
          },
          [on_err](caf::error& err) mutable { on_err(err); });
}

bool take_token(session_state& st) {
  auto now = std::chrono::steady_clock::now();
  if (st.refilled == std::chrono::steady_clock::time_point{}) {
    st.tokens = st.settings.send_burst;
  } else {
    std::chrono::duration<double> dt = now - st.refilled;
    st.tokens =
        std::min<double>(st.settings.send_burst, st.tokens + dt.count() * st.settings.send_rate);
  }
  st.refilled = now;
  if (st.tokens < 1) return false;
  st.tokens -= 1;
  return true;
}

std::optional<std::string> string_field(const njson& j, const char* name, std::size_t max) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  auto v = it->get<std::string>();
  if (v.empty() || v.size() > max || v.find('\0') != std::string::npos) return std::nullopt;
  return v;
}

void on_join(session_self self, const njson& j) {
  auto& st = self->state;
  auto room_id = string_field(j, "room_id", 200);
  if (!room_id || kind_of(*room_id) != "room") return send_error(self, 400, "join needs a room_id");
  std::string after;
  if (j.contains("after_message_id")) {
    auto a = string_field(j, "after_message_id", 300);
    if (!a) return send_error(self, 400, "after_message_id must be a message id", *room_id);
    after = *a;
  }
  if (st.rooms.count(*room_id) > 0) return send_error(self, 409, "already in this room", *room_id);
  if (st.rooms.size() >= st.settings.max_rooms)
    return send_error(self, 429, "in too many rooms at once", *room_id);
  st.rooms[*room_id] = false;
  auto id = *room_id;
  ask_room<actors::room_view>(
      self, id,
      [self, id, after](actors::room_view room) {
        auto& st = self->state;
        auto it = st.rooms.find(id);
        // Left (or closed) while the check was in flight.
        if (it == st.rooms.end() || st.closed) return;
        if (st.caller.admin && actors::is_others_direct_room(room, st.caller.user_id)) {
          // A live feed would pass the audit that GET /rooms/{id}/messages writes first.
          st.rooms.erase(it);
          return send_error(self, 403,
                            "an administrator reads a direct room of others through its history, "
                            "which is audited",
                            id);
        }
        it->second = true;
        st.hubs->join(id, hub_member{st.conn, st.caller.user_id, after});
      },
      [self, id](const caf::error& err) {
        self->state.rooms.erase(id);
        send_error(self, http_status(err), detail_of(err), id);
      },
      get_atom::value, self->state.caller);
}

void on_leave(session_self self, const njson& j) {
  auto& st = self->state;
  auto room_id = string_field(j, "room_id", 200);
  if (!room_id) return send_error(self, 400, "leave needs a room_id");
  auto it = st.rooms.find(*room_id);
  if (it == st.rooms.end()) return send_error(self, 404, "not in this room", *room_id);
  if (it->second) st.hubs->leave(*room_id, st.conn->id());
  st.rooms.erase(it);
  send_frame(self, njson{{"ev", "left"}, {"room_id", *room_id}}.dump());
}

void on_send(session_self self, const njson& j) {
  auto& st = self->state;
  auto client_msg_id = string_field(j, "client_msg_id", actors::max_client_msg_id_bytes);
  if (!client_msg_id) return send_error(self, 400, "send needs a client_msg_id of 1 to 64 bytes");
  auto room_id = string_field(j, "room_id", 200);
  if (!room_id || kind_of(*room_id) != "room")
    return send_error(self, 400, "send needs a room_id", {}, *client_msg_id);
  auto text = string_field(j, "text", actors::max_message_bytes);
  if (!text)
    return send_error(self, 400, "text is 1 to 4000 bytes of UTF-8", *room_id, *client_msg_id);
  if (!take_token(st))
    return send_error(self, 429, "sending too fast: slow down", *room_id, *client_msg_id);
  actors::post_spec spec{*text, {}, *client_msg_id};
  auto rid = *room_id;
  auto cid = *client_msg_id;
  ask_room<actors::posted>(
      self, rid,
      [self, rid, cid](actors::posted p) {
        send_frame(self, njson{{"ev", "ack"},
                               {"room_id", rid},
                               {"client_msg_id", cid},
                               {"message_id", p.message_id},
                               {"number", p.number},
                               {"sent_at", format_rfc3339(p.sent_at_ms)}}
                             .dump());
      },
      [self, rid, cid](const caf::error& err) {
        send_error(self, http_status(err), detail_of(err), rid, cid);
      },
      post_atom::value, st.caller, spec, actors::now_ms());
}

void handle(session_self self, const std::string& text) {
  auto& st = self->state;
  auto parsed = parse_object_text(st.a->limits, text);
  if (!parsed) return close_with(self, close_bad_data, "frames are JSON objects");
  auto& j = *parsed;
  auto op = j.find("op");
  if (op == j.end() || !op->is_string()) return send_error(self, 400, "a frame needs an op");
  auto name = op->get<std::string>();
  if (name == "send") return on_send(self, j);
  if (name == "join") return on_join(self, j);
  if (name == "leave") return on_leave(self, j);
  if (name == "ping") return send_frame(self, R"({"ev":"pong"})");
  if (name == "auth") return send_error(self, 409, "already signed in");
  send_error(self, 400, "unknown op");
}

// Starts authenticating with `req`'s token; the answer comes back as an authed message.
void authenticate_with(session_self self, const request& req) {
  auto& st = self->state;
  st.authenticating = true;
  ws_session_actor me = self;
  authenticate(*st.a, req, [me](std::optional<principal> p) {
    if (!p)
      caf::anon_send(me, authed_atom::value);
    else
      caf::anon_send(me, authed_atom::value, p->caller, p->session.token_hash);
  });
}

void on_first_frame(session_self self, const std::string& text) {
  auto& st = self->state;
  auto parsed = parse_object_text(st.a->limits, text);
  if (!parsed) return close_with(self, close_bad_data, "frames are JSON objects");
  auto op = parsed->find("op");
  auto token = string_field(*parsed, "token", 200);
  if (op == parsed->end() || *op != "auth" || !token)
    return close_with(self, close_policy, "authenticate first: {\"op\":\"auth\",\"token\"}");
  if (auto screen = string_field(*parsed, "screen", 16); screen && valid_screen(*screen))
    st.upgrade.query = "screen=" + *screen;
  request r;
  r.headers.emplace_back("authorization", "Bearer " + *token);
  authenticate_with(self, r);
}

// Meeting events of the person's agenda come to this session until it ends (the agenda drops
// subscribers that terminate).
void subscribe_to_agenda(session_self self) {
  auto& st = self->state;
  auto timeout = st.a->limits.actor_timeout;
  auto conn_id = st.conn->id();
  auto failed = [conn_id](caf::error& err) {
    log::warn("ws.agenda_subscription_failed")
        .field("connection", conn_id)
        .field("error", detail_of(err));
  };
  self->request(st.a->eng.directory(), timeout, activate_atom::value,
                actors::agenda_id(st.caller.user_id))
      .then(
          [self, timeout, failed](caf::actor& hdl) {
            if (self->state.closed) return;
            self->state.agenda = caf::actor_cast<actors::agenda_actor>(hdl);
            self->request(self->state.agenda, timeout, join_atom::value,
                          caf::actor_cast<caf::actor>(self), self->state.caller)
                .then([](uint32_t) {}, failed);
          },
          failed);
}

void signed_in(session_self self, actors::caller c, std::string token_hash) {
  auto& st = self->state;
  st.authenticating = false;
  st.authed = true;
  st.caller = std::move(c);
  st.token_hash = std::move(token_hash);
  st.registry->add(st.token_hash, self);
  std::string screen;
  if (auto s = st.upgrade.query_param("screen"); s && valid_screen(*s)) screen = *s;
  auto entry = connection_entry_of(st.upgrade, st.a->sessions->settings(), "websocket", screen);
  // The request's headers served their purpose; an idle connection should not keep them.
  st.upgrade = request{};
  auto user_id = st.caller.user_id;
  auto conn_id = st.conn->id();
  record_connection(st.a, user_id, std::move(entry), [user_id, conn_id](std::optional<int> failed) {
    if (failed)
      log::warn("ws.connection_log_failed")
          .field("user_id", user_id)
          .field("connection", conn_id)
          .field("status", *failed);
  });
  log::info("ws.signed_in").field("user_id", st.caller.user_id).field("connection", conn_id);
  subscribe_to_agenda(self);
  send_frame(self, njson{{"ev", "ready"}, {"user_id", st.caller.user_id}}.dump());
  auto pending = std::move(st.pending);
  st.pending.clear();
  for (auto& f : pending) handle(self, f);
}

void finish(session_self self) {
  auto& st = self->state;
  if (st.closed) return;
  st.closed = true;
  for (auto& [room, joined] : st.rooms)
    if (joined) st.hubs->leave(room, st.conn->id());
  st.rooms.clear();
  if (st.authed) st.registry->remove(st.token_hash, self);
  if (st.agenda) caf::anon_send(st.agenda, leave_atom::value, caf::actor_cast<caf::actor>(self));
  self->quit();
}

ws_session_actor::behavior_type session_behavior(session_self self, std::shared_ptr<api> a,
                                                 std::shared_ptr<room_hubs> hubs,
                                                 std::shared_ptr<ws_sessions> registry,
                                                 ws_protocol_settings settings, request upgrade,
                                                 std::shared_ptr<ws_connection> conn) {
  auto& st = self->state;
  st.a = std::move(a);
  st.hubs = std::move(hubs);
  st.registry = std::move(registry);
  st.settings = settings;
  st.conn = std::move(conn);
  st.upgrade = std::move(upgrade);
  st.registry->actor_started();
  self->attach_functor([registry = st.registry] { registry->actor_ended(); });
  if (request_token(st.upgrade)) authenticate_with(self, st.upgrade);
  self->delayed_send(self, settings.auth_timeout, tick_atom::value);
  return {
      [self](frame_atom, std::string& text) {
        auto& st = self->state;
        if (st.closed) return;
        if (st.authed) return handle(self, text);
        if (st.authenticating) {
          if (st.pending.size() >= st.settings.max_pending_frames)
            return close_with(self, close_policy, "too many frames before signing in");
          st.pending.push_back(std::move(text));
          return;
        }
        on_first_frame(self, text);
      },
      [self](closed_atom) { finish(self); },
      [self](authed_atom, actors::caller& c, std::string& token_hash) {
        if (self->state.closed) return;
        signed_in(self, std::move(c), std::move(token_hash));
      },
      [self](authed_atom) {
        auto& st = self->state;
        st.authenticating = false;
        if (st.closed) return;
        send_error(self, 401, "the token names no live session");
        close_with(self, close_policy, "sign in first");
      },
      [self](ended_atom, std::string& reason) {
        auto& st = self->state;
        if (st.closed) return;
        send_frame(self, njson{{"ev", "session_ended"}, {"reason", reason}}.dump());
        close_with(self, close_policy, "the session ended");
      },
      [self](tick_atom) {
        auto& st = self->state;
        if (!st.authed && !st.closed)
          close_with(self, close_policy, "authenticate within the time allowed");
      },
      [self](actors::meeting_event& ev) {
        if (self->state.closed) return;
        send_frame(
            self,
            njson{{"ev", "meeting"}, {"meeting_id", ev.meeting_id}, {"status", ev.status}}.dump());
      },
  };
}

// The connection's side: frames and the end go to the session actor, in order.
class session_peer final : public ws_peer {
 public:
  explicit session_peer(ws_session_actor session) : session_(std::move(session)) {}
  ~session_peer() override { caf::anon_send(session_, closed_atom::value); }
  void on_text(std::string text) override {
    caf::anon_send(session_, frame_atom::value, std::move(text));
  }
  void on_closed() override { caf::anon_send(session_, closed_atom::value); }

 private:
  ws_session_actor session_;
};

}  // namespace

void add_websocket_route(router& routes, std::shared_ptr<api> a, std::shared_ptr<room_hubs> hubs,
                         std::shared_ptr<ws_sessions> sessions, ws_protocol_settings settings) {
  // The server answered 426 to anything but an upgrade before this runs; what is left to decide
  // here is only whether to accept it, and the edge guard in front may already have refused.
  auto upgrade = [](request&, respond_fn respond) {
    response r;
    r.status = 101;
    respond(std::move(r));
  };
  auto open = [a, hubs, sessions, settings](
                  const request& req,
                  std::shared_ptr<ws_connection> conn) -> std::shared_ptr<ws_peer> {
    request copy;
    copy.headers = req.headers;
    copy.query = req.query;
    copy.remote_ip = req.remote_ip;
    copy.request_id = req.request_id;
    auto session =
        a->sys.spawn(session_behavior, a, hubs, sessions, settings, std::move(copy), conn);
    return std::make_shared<session_peer>(std::move(session));
  };
  routes.add_websocket("/api/v1/ws", std::move(upgrade), std::move(open));
}

}  // namespace mext::http
