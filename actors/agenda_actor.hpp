#pragma once
// agenda actor (kind "agd"): one person's agenda inside the exhibitions, the talks they attend and
// the meetings they take part in (schemas/agenda.capnp; seed 1.10.1 "Agenda of visitors and
// exhibitors inside the virtual exhibitions").
//
// The agenda of user "usr_<hex>" is "agd_<hex>" (agenda_id); the bridge activates it with create.
// Only its owner changes it; its owner or an admin reads it.
//
// A meeting is held in both parties' agendas. The requester's agenda records it first (pending,
// marked unsynced), asks the invitee's agenda through the directory to store it (which refuses an
// overlap with conflict), and answers only once both are durable; if the invitee refuses, the
// requester's copy is cancelled and the request fails with conflict. Pending meetings, confirmed
// or not, count for overlap, so a second overlapping request fails while the first is in flight.
// An answer (accept, decline, cancel) is applied in the agenda it reaches, then in the other
// party's. A change the other agenda has not confirmed yet stays marked unsynced and is sent again
// when the agenda is next activated; repeating the same answer also sends it again.
//
// After each durable change to a meeting the agenda sends its subscribers a meeting_event.

#include <cstdint>
#include <memory>
#include <string>
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

// The longest meeting, and the longest note (bytes of UTF-8).
inline constexpr int64_t max_meeting_ms = int64_t{8} * 3600 * 1000;
inline constexpr size_t max_note_bytes = 2000;
inline constexpr size_t max_session_title_bytes = 500;

struct session_entry {
  std::string session_id;
  std::string exhibition_id;
  std::string title;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;

  bool operator==(const session_entry&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_entry& x) {
  return f(caf::meta::type_name("mext.session_entry"), x.session_id, x.exhibition_id, x.title,
           x.starts_at_ms, x.ends_at_ms);
}

struct meeting_request {
  std::string with_user_id;
  // Optional: the booth the meeting is about.
  std::string booth_id;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string note;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, meeting_request& x) {
  return f(caf::meta::type_name("mext.meeting_request"), x.with_user_id, x.booth_id, x.starts_at_ms,
           x.ends_at_ms, x.note);
}

// A meeting as its parties see it. A party who was erased shows as "former-participant"
// (former_participant in chat_room_actor.hpp), and their note is gone.
struct meeting_view {
  std::string meeting_id;
  std::string requester_id;
  std::string invitee_id;
  std::string booth_id;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string note;
  // "pending", "accepted", "declined" or "cancelled".
  std::string status;

  bool operator==(const meeting_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, meeting_view& x) {
  return f(caf::meta::type_name("mext.meeting_view"), x.meeting_id, x.requester_id, x.invitee_id,
           x.booth_id, x.starts_at_ms, x.ends_at_ms, x.note, x.status);
}

// What one agenda tells the other about a meeting (internal: never from the bridge).
struct meeting_record {
  std::string meeting_id;
  // Empty for a party who was erased.
  std::string requester_id;
  std::string invitee_id;
  std::string booth_id;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string note;
  std::string status;
  int64_t updated_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, meeting_record& x) {
  return f(caf::meta::type_name("mext.meeting_record"), x.meeting_id, x.requester_id, x.invitee_id,
           x.booth_id, x.starts_at_ms, x.ends_at_ms, x.note, x.status, x.updated_at_ms);
}

// One line of an agenda: a session attended or a meeting.
struct agenda_item {
  // "session" or "meeting".
  std::string kind;
  // The session id or the meeting id.
  std::string item_id;
  std::string exhibition_id;
  std::string booth_id;
  // A session's title; a meeting's note.
  std::string title;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  // "attending" for a session; the meeting's status otherwise.
  std::string status;
  // The other party of a meeting (former_participant once erased); empty for a session.
  std::string other_party_id;
  // "requester" or "invitee" for a meeting; empty for a session.
  std::string role;

  bool operator==(const agenda_item&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agenda_item& x) {
  return f(caf::meta::type_name("mext.agenda_item"), x.kind, x.item_id, x.exhibition_id, x.booth_id,
           x.title, x.starts_at_ms, x.ends_at_ms, x.status, x.other_party_id, x.role);
}

struct agenda_view {
  std::string user_id;
  // Ordered by start, then end, then id.
  std::vector<agenda_item> items;

  bool operator==(const agenda_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, agenda_view& x) {
  return f(caf::meta::type_name("mext.agenda_view"), x.user_id, x.items);
}

// What subscribers of an agenda receive after a meeting is created or changes.
struct meeting_event {
  std::string meeting_id;
  std::string status;
  // The owner of the agenda that sends it.
  std::string user_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, meeting_event& x) {
  return f(caf::meta::type_name("mext.meeting_event"), x.meeting_id, x.status, x.user_id);
}

using agenda_actor = caf::typed_actor<
    // (caller, session, at_ms): the owner adds a session; attending again changes nothing.
    caf::replies_to<attend_atom, caller, session_entry, int64_t>::with<agenda_view>,
    // (caller, session_id): the owner removes a session; removing an absent one changes nothing.
    caf::replies_to<leave_atom, caller, std::string>::with<agenda_view>,
    // The owner or an admin.
    caf::replies_to<get_atom, caller>::with<agenda_view>,
    // (caller, request, at_ms) on the requester's own agenda: the new meeting, pending, once both
    // agendas hold it; conflict if it overlaps either agenda; invalid_argument if it ends before
    // it starts or lasts more than 8 h.
    caf::replies_to<meeting_atom, caller, meeting_request, int64_t>::with<meeting_view>,
    // (caller, meeting_id, "accept"|"decline"|"cancel", at_ms) on either party's agenda:
    // accept and decline by the invitee while pending, cancel by either party while pending or
    // accepted; applied in both agendas before the answer.
    caf::replies_to<answer_atom, caller, std::string, std::string, int64_t>::with<meeting_view>,
    // Internal, between the two agendas of a meeting: invite = true stores a new meeting (conflict
    // on overlap); invite = false applies the other agenda's status change and answers the
    // meeting as it now stands here (a meeting already declined or cancelled stays so).
    caf::replies_to<meeting_atom, meeting_record, bool>::with<meeting_view>,
    // The owner subscribes an actor to meeting_events; answers the subscriber count.
    caf::replies_to<join_atom, caf::actor, caller>::with<uint32_t>,
    caf::replies_to<leave_atom, caf::actor>::with<uint32_t>>::extend_with<entity_lifecycle>::
    extend_with<personal_data_holder>;

static_assert(std::is_convertible_v<agenda_actor, personal_data_holder>);

// "agd_" + the part of `user_id` after its kind ("usr_<hex>" -> "agd_<hex>").
std::string agenda_id(const std::string& user_id);

// The owner of an agenda: "agd_<hex>" -> "usr_<hex>".
std::string agenda_owner(const std::string& agenda_id);

// Registers every message type of agenda_actor.
void add_agenda_types(caf::actor_system_config& cfg);

// The directory's factory for kind "agd".
caf::expected<caf::actor> make_agenda_actor(caf::actor_system& sys,
                                            const std::shared_ptr<runtime>& rt,
                                            const std::string& id, bool create,
                                            std::shared_ptr<resident_stats> stats);

}  // namespace mext::actors
