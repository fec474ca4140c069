#pragma once
// chat room actor (kind "room"): a booth's public room or the direct room of two people, with its
// messages in one total order (schemas/chat_room.capnp; seed 1.10.1 "Messages and files exchanged
// by chat").
//
// Booth rooms are created by whoever creates the booth (an admin or a representative of its
// organization) under new_id("room"); direct rooms live under direct_room_id(a, b), so both people
// always reach the same room, and are created by either of them. Access is checked here: a booth
// room is open to every signed-in caller; a direct room only to its two members (admins may read
// it, not write in it). Deleting a message is for its author, the representatives of the booth's
// organization (caller.rep_of, as the user actor knows it) and admins.
//
// Subscribers (the WebSocket sessions) join with their actor handle; the room monitors them, stays
// resident while it has any, and after each durable change sends every subscriber one shared
// caf::message holding a room_event, in the room's order.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/caller.hpp"
#include "actors/holder.hpp"
#include "actors/runtime.hpp"
#include "persistence/atoms.hpp"

namespace mext::actors {

// What a room shows instead of the id of an author who was erased.
inline constexpr std::string_view former_participant = "former-participant";

// Limits of a message.
inline constexpr size_t max_message_bytes = 4000;
inline constexpr size_t max_client_msg_id_bytes = 64;

// Limits of one history page.
inline constexpr uint32_t max_history_limit = 200;

struct room_spec {
  // "booth" or "direct".
  std::string kind;
  // A booth room: its booth and the booth's organization; member_ids stays empty.
  std::string booth_id;
  std::string organization_id;
  // A direct room: exactly the two distinct members; the room's id must be direct_room_id of them.
  std::vector<std::string> member_ids;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_spec& x) {
  return f(caf::meta::type_name("mext.room_spec"), x.kind, x.booth_id, x.organization_id,
           x.member_ids);
}

struct room_view {
  std::string room_id;
  std::string kind;
  std::string booth_id;
  std::string organization_id;
  std::vector<std::string> member_ids;
  // Messages ever posted (deleted ones included): the number of the latest message.
  uint64_t message_count = 0;

  bool operator==(const room_view&) const = default;
};

// A direct room `user_id` is no member of: an administrator reading it reads others'
// correspondence, which only the audited history route allows.
inline bool is_others_direct_room(const room_view& r, const std::string& user_id) {
  return r.kind == "direct" &&
         std::find(r.member_ids.begin(), r.member_ids.end(), user_id) == r.member_ids.end();
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_view& x) {
  return f(caf::meta::type_name("mext.room_view"), x.room_id, x.kind, x.booth_id, x.organization_id,
           x.member_ids, x.message_count);
}

struct post_spec {
  // 1..4,000 bytes of valid UTF-8; may be empty when a file is attached.
  std::string text;
  std::string file_id;
  // The author's idempotency key, 1..64 bytes: a repeated one returns the first result.
  std::string client_msg_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, post_spec& x) {
  return f(caf::meta::type_name("mext.post_spec"), x.text, x.file_id, x.client_msg_id);
}

struct posted {
  std::string message_id;
  uint64_t number = 0;
  int64_t sent_at_ms = 0;
  // True when the client_msg_id was seen before: this is the first post's result, nothing written.
  bool duplicate = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, posted& x) {
  return f(caf::meta::type_name("mext.posted"), x.message_id, x.number, x.sent_at_ms, x.duplicate);
}

// One message as readers see it: a deleted one has empty text and file; one of an erased author
// also has author_id == former_participant.
struct message_view {
  std::string message_id;
  uint64_t number = 0;
  std::string author_id;
  std::string text;
  std::string file_id;
  int64_t sent_at_ms = 0;
  bool deleted = false;

  bool operator==(const message_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_view& x) {
  return f(caf::meta::type_name("mext.message_view"), x.message_id, x.number, x.author_id, x.text,
           x.file_id, x.sent_at_ms, x.deleted);
}

struct history_page {
  // Newest first.
  std::vector<message_view> items;
  // The `before_number` of the next (older) page; 0 when there is none.
  uint64_t next_before = 0;

  bool operator==(const history_page&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, history_page& x) {
  return f(caf::meta::type_name("mext.history_page"), x.items, x.next_before);
}

// The messages after one, oldest first: how a reconnecting client catches up without a gap.
struct catch_up_page {
  std::vector<message_view> items;
  // The number of the message asked after.
  uint64_t after_number = 0;
  // True when no message newer than the last item existed when this page was made.
  bool complete = false;

  bool operator==(const catch_up_page&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, catch_up_page& x) {
  return f(caf::meta::type_name("mext.catch_up_page"), x.items, x.after_number, x.complete);
}

// What subscribers receive after each durable change, in the room's order.
struct room_event {
  std::string room_id;
  // "message" (a new message) or "deleted" (message.deleted is then true, its text empty).
  std::string kind;
  message_view message;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_event& x) {
  return f(caf::meta::type_name("mext.room_event"), x.room_id, x.kind, x.message);
}

using chat_room_actor = caf::typed_actor<
    // Creates the room under this actor's id (timestamp at_ms). Booth rooms: an admin or a rep of
    // the organization; direct rooms: one of the two members or an admin. Creating it again with
    // the same spec answers the room (idempotent); with another spec, conflict.
    caf::replies_to<create_atom, caller, room_spec, int64_t>::with<room_view>,
    // The room, for whoever may read it; not_found before it is created.
    caf::replies_to<get_atom, caller>::with<room_view>,
    // (caller, message, at_ms): a member posts; answered once durable.
    caf::replies_to<post_atom, caller, post_spec, int64_t>::with<posted>,
    // (caller, before_number (0 = latest), limit 1..200): messages numbered below before_number.
    caf::replies_to<history_atom, caller, uint64_t, uint32_t>::with<history_page>,
    // (caller, message_id, limit 1..200): the messages posted after that one, oldest first;
    // not_found for an id this room never had.
    caf::replies_to<catch_up_atom, caller, std::string, uint32_t>::with<catch_up_page>,
    // (caller, message_id): the author, a rep of the booth's organization or an admin.
    caf::replies_to<delete_atom, caller, std::string>::with<message_view>,
    // Subscribes the actor to the room's events (a reader of the room); answers the subscriber
    // count. Joining twice counts once.
    caf::replies_to<join_atom, caf::actor, caller>::with<uint32_t>,
    // Unsubscribes; answers the subscriber count.
    caf::replies_to<leave_atom, caf::actor>::with<uint32_t>,
    // Retention (the retention actor): deletes every message sent before the time, durably and
    // compacted; answers how many it deleted.
    caf::replies_to<purge_atom, int64_t>::with<uint64_t>>::extend_with<entity_lifecycle>::
    extend_with<personal_data_holder>;

static_assert(std::is_convertible_v<chat_room_actor, personal_data_holder>);

// The id of the direct room of two people: "room_d" + hex of the first 16 bytes of
// SHA-256(min(a, b) + "\n" + max(a, b)), the same whichever of them asks.
std::string direct_room_id(const std::string& a, const std::string& b);

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);

// Registers every message type of chat_room_actor.
void add_chat_room_types(caf::actor_system_config& cfg);

// The directory's factory for kind "room".
caf::expected<caf::actor> make_chat_room_actor(caf::actor_system& sys,
                                               const std::shared_ptr<runtime>& rt,
                                               const std::string& id, bool create,
                                               std::shared_ptr<resident_stats> stats);

}  // namespace mext::actors
