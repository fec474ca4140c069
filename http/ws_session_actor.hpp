#pragma once
// ws_session actor: one per WebSocket connection (GET /api/v1/ws), speaking API.md "WebSocket"
// for one person. Frames reach it in order from the connection; it answers through the
// connection's bounded send queue and never blocks: every question to an entity is an
// asynchronous CAF request.
//
// - Authentication: the session token of the upgrade request (Authorization: Bearer or the
//   mext_session cookie), else a first frame {"op":"auth","token"}. Any other first frame, or no
//   authentication within auth_timeout, closes with 1008. A successful one is recorded in the
//   person's connection log (kind "websocket").
// - join / leave: the room is asked whether the person may read it, then room_hubs does the rest.
//   `after_message_id` on join (our addition) first delivers every message after that one.
// - send: acknowledged only once the room committed the message; a repeated client_msg_id gets
//   the first acknowledgement again and no second message. A token bucket bounds sends per
//   connection: beyond it, an error event with status 429.
// - A frame that is not a JSON object closes with 1007; an unknown op gets an error event (400).
// - Meeting requests and answers reach both parties: the session subscribes to the person's
//   agenda and relays {"ev":"meeting","meeting_id","status"}.
// - When the person's session ends (logout, password change, erasure), the connection gets
//   {"ev":"session_ended","reason"} and is closed with 1008.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/typed_actor.hpp>

#include "actors/agenda_actor.hpp"
#include "actors/caller.hpp"
#include "http/api.hpp"
#include "http/room_hub.hpp"
#include "http/server.hpp"
#include "persistence/atoms.hpp"

namespace mext::http {

using ws_session_actor =
    caf::typed_actor<caf::reacts_to<frame_atom, std::string>,  // a text message from the client
                     caf::reacts_to<closed_atom>,              // the connection ended
                     // Signed in: the caller and its session's token hash.
                     caf::reacts_to<authed_atom, actors::caller, std::string>,
                     // The token named no live session.
                     caf::reacts_to<authed_atom>,
                     // The session ended; the reason ("logout", "revoked", "erased").
                     caf::reacts_to<ended_atom, std::string>,
                     // The authentication deadline.
                     caf::reacts_to<tick_atom>,
                     // From the person's agenda: a meeting was requested or answered.
                     caf::reacts_to<actors::meeting_event>>;

struct ws_protocol_settings {
  // A connection must be signed in this long after it opened.
  std::chrono::seconds auth_timeout{10};
  // Sends per second one connection may sustain, and at once.
  uint32_t send_rate = 10;
  uint32_t send_burst = 20;
  // Rooms one connection may be in.
  uint32_t max_rooms = 64;
  // Frames held while the authentication is in flight; more close the connection with 1008.
  uint32_t max_pending_frames = 32;
};

// The live WebSocket sessions by token hash, so that ending a session reaches its connections.
class ws_sessions {
 public:
  void add(const std::string& token_hash, const ws_session_actor& session);
  void remove(const std::string& token_hash, const ws_session_actor& session);
  // Tells every connection of that session that it ended.
  void end(const std::string& token_hash, const std::string& reason);
  std::size_t size() const;

  // Session actors alive, signed in or not. The server's stop ends every connection and so every
  // session actor; waiting for none to be left before the engine stops keeps a session from
  // asking an engine that is gone. False when some are still alive after `timeout`.
  bool wait_until_none_alive(std::chrono::milliseconds timeout) const;
  void actor_started() { alive_.fetch_add(1); }
  void actor_ended() { alive_.fetch_sub(1); }

 private:
  std::atomic<int64_t> alive_{0};
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::vector<ws_session_actor>> by_token_;
};

// Registers GET /api/v1/ws: the route's handler checks the upgrade (the edge guard wraps it like
// any route), then each connection gets its own ws_session actor.
void add_websocket_route(router& routes, std::shared_ptr<api> a, std::shared_ptr<room_hubs> hubs,
                         std::shared_ptr<ws_sessions> sessions, ws_protocol_settings settings);

}  // namespace mext::http
