#pragma once
// room_hub actor: the WebSocket side of one chat room on this node. It subscribes to the room
// once, serialises each room event once, and hands the same bytes to every member connection, in
// the room's order. It also coalesces presence: the number of people in the room is sent at most
// once per presence interval, and below `presence_exact_from` people as "few", so that a crowd
// arriving at once does not flood everyone and a lone visitor cannot be singled out.
//
// Events are batched: every room event waiting in the hub's mailbox is serialised, then each
// member gets all of its frames in one hand-over (one wake-up of its writer).
//
// A member joining "after" a message id first gets every message posted after that one, page by
// page (the room's catch-up), then live events. The room answers a page before it broadcasts any
// message the page does not hold (answers and broadcasts leave it in commit order), and the hub
// skips live messages numbered at or below the last one the member got: no gap, no duplicate.
//
// room_hubs is the registry: it spawns a room's hub on its first member and stops it after its
// last, under one lock, so a join never reaches a hub that is going away.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/typed_actor.hpp>

#include "actors/chat_room_actor.hpp"
#include "actors/directory.hpp"
#include "http/server.hpp"
#include "persistence/atoms.hpp"

namespace mext::http {

struct hub_member {
  std::shared_ptr<ws_connection> conn;
  std::string user_id;
  // Empty: live events only. Else the last message the client has; it gets everything after.
  std::string after_message_id;
};

}  // namespace mext::http

// A member holds its connection: it never leaves this process, so it is never serialised.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(mext::http::hub_member)

namespace mext::http {

using room_hub_actor =
    caf::typed_actor<caf::reacts_to<add_atom, hub_member>,   // a connection joins
                     caf::reacts_to<remove_atom, uint64_t>,  // a connection (by id) leaves
                     caf::reacts_to<actors::room_event>,     // from the chat room
                     caf::reacts_to<tick_atom>,              // presence is due
                     caf::reacts_to<flush_atom>>;            // hand out the batched events

struct hub_settings {
  // Presence goes out at most this often per room.
  std::chrono::milliseconds presence_interval{1000};
  // Below this many people, presence says "few" instead of the count.
  uint32_t presence_exact_from = 3;
  // Messages per catch-up page asked of the room (1..200).
  uint32_t catch_up_page = 200;
  // How long the hub waits for the room.
  std::chrono::seconds timeout{10};
};

// The frames of API.md "WebSocket" that hubs send; ws_session_actor uses them too.
std::string message_frame(const std::string& room_id, const actors::message_view& m);
std::string deleted_frame(const std::string& room_id, const std::string& message_id);
std::string presence_frame(const std::string& room_id, uint32_t people, uint32_t exact_from);
std::string error_frame(int status, const std::string& detail, const std::string& room_id = {},
                        const std::string& client_msg_id = {});

class room_hubs : public std::enable_shared_from_this<room_hubs> {
 public:
  static std::shared_ptr<room_hubs> make(caf::actor_system& sys, actors::directory_actor dir,
                                         hub_settings settings);
  ~room_hubs();
  room_hubs(const room_hubs&) = delete;
  room_hubs& operator=(const room_hubs&) = delete;

  // Adds the member to the room's hub, spawning it first if needed. The hub sends the member
  // `{"ev":"joined","room_id"}` once it is subscribed, or an error event if the room fails.
  void join(const std::string& room_id, hub_member member);
  // Removes the connection from the room's hub; the last one out stops the hub.
  void leave(const std::string& room_id, uint64_t conn_id);
  // Stops every hub (mextd's shutdown).
  void stop_all();

  // Rooms with a hub, and member connections over all of them.
  std::size_t rooms() const;
  std::size_t members() const;

 private:
  room_hubs(caf::actor_system& sys, actors::directory_actor dir, hub_settings settings);

  struct entry {
    room_hub_actor hub;
    std::unordered_set<uint64_t> members;
  };

  caf::actor_system& sys_;
  actors::directory_actor dir_;
  hub_settings settings_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, entry> hubs_;
};

}  // namespace mext::http
