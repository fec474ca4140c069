#include "actors/agenda_actor.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <capnp/message.h>
#include <caf/all.hpp>

#include "actors/chat_room_actor.hpp"
#include "actors/directory.hpp"
#include "actors/entity_codec.hpp"
#include "actors/entity_core.hpp"
#include "mext/schemas/agenda.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

using schema::MeetingStatus;
using schema::RecordKind;

// How long one agenda waits for the other (through the directory, then the agenda itself).
constexpr auto peer_timeout = std::chrono::seconds(30);

// How often a request to another agenda is tried when that agenda went away meanwhile.
constexpr int peer_attempts = 3;

std::string str(capnp::Text::Reader r) {
  return std::string(r.cStr(), r.size());
}

std::string bytes(capnp::Data::Reader r) {
  return std::string(reinterpret_cast<const char*>(r.begin()), r.size());
}

capnp::Data::Reader data_of(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

const char* status_name(MeetingStatus s) {
  switch (s) {
    case MeetingStatus::PENDING:
      return "pending";
    case MeetingStatus::ACCEPTED:
      return "accepted";
    case MeetingStatus::DECLINED:
      return "declined";
    case MeetingStatus::CANCELLED:
      return "cancelled";
  }
  return "unknown";
}

std::optional<MeetingStatus> parse_status(const std::string& s) {
  if (s == "pending") return MeetingStatus::PENDING;
  if (s == "accepted") return MeetingStatus::ACCEPTED;
  if (s == "declined") return MeetingStatus::DECLINED;
  if (s == "cancelled") return MeetingStatus::CANCELLED;
  return std::nullopt;
}

// A pending or accepted meeting holds its time; a declined or cancelled one is closed.
bool holds_time(MeetingStatus s) {
  return s == MeetingStatus::PENDING || s == MeetingStatus::ACCEPTED;
}

// The status changes a meeting allows: pending -> anything closed or accepted, accepted ->
// cancelled. Declined and cancelled are final.
bool may_become(MeetingStatus from, MeetingStatus to) {
  if (from == MeetingStatus::PENDING) return to != MeetingStatus::PENDING;
  return from == MeetingStatus::ACCEPTED && to == MeetingStatus::CANCELLED;
}

bool overlap(int64_t a_start, int64_t a_end, int64_t b_start, int64_t b_end) {
  return a_start < b_end && b_start < a_end;
}

struct meeting_rec {
  std::string meeting_id;
  // Empty for a party who was erased.
  std::string requester_id;
  std::string invitee_id;
  std::string booth_id;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string note;
  MeetingStatus status = MeetingStatus::PENDING;
  int64_t updated_at_ms = 0;
  bool unsynced = false;
};

// The agenda as its events build it; the same code applies an event live and on restore.
struct agenda_data {
  bool exists = false;
  std::map<std::string, session_entry> sessions;
  std::map<std::string, meeting_rec> meetings;
};

bool overlaps_agenda(const agenda_data& d, int64_t start, int64_t end) {
  for (auto& [id, s] : d.sessions)
    if (overlap(start, end, s.starts_at_ms, s.ends_at_ms)) return true;
  for (auto& [id, m] : d.meetings)
    if (holds_time(m.status) && overlap(start, end, m.starts_at_ms, m.ends_at_ms)) return true;
  return false;
}

caf::error check_times(int64_t start, int64_t end) {
  if (end <= start) return make_error(errc::invalid_argument, "a meeting must end after it starts");
  if (end - start > max_meeting_ms)
    return make_error(errc::invalid_argument, "a meeting lasts at most 8 hours");
  return {};
}

session_entry read_session(schema::SessionEntry::Reader r) {
  return session_entry{str(r.getSessionId()), str(r.getExhibitionId()), str(r.getTitle()),
                       r.getStartsAt(), r.getEndsAt()};
}

void write_session(const session_entry& s, schema::SessionEntry::Builder b) {
  b.setSessionId(s.session_id);
  b.setExhibitionId(s.exhibition_id);
  b.setTitle(s.title);
  b.setStartsAt(s.starts_at_ms);
  b.setEndsAt(s.ends_at_ms);
}

caf::expected<meeting_rec> read_meeting(runtime& rt, const std::string& agenda,
                                        schema::Meeting::Reader r) {
  meeting_rec m;
  m.meeting_id = str(r.getMeetingId());
  m.requester_id = str(r.getRequesterId());
  m.invitee_id = str(r.getInviteeId());
  m.booth_id = str(r.getBoothId());
  m.starts_at_ms = r.getStartsAt();
  m.ends_at_ms = r.getEndsAt();
  m.status = r.getStatus();
  m.updated_at_ms = r.getUpdatedAt();
  m.unsynced = r.getUnsynced();
  auto sealed = bytes(r.getNote());
  if (!sealed.empty()) {
    auto note = rt.sealer->open(m.requester_id, agenda, sealed);
    if (!note) return note.error();
    m.note = std::move(*note);
  }
  return m;
}

caf::error write_meeting(runtime& rt, const std::string& agenda, const meeting_rec& m,
                         schema::Meeting::Builder b) {
  b.setMeetingId(m.meeting_id);
  b.setRequesterId(m.requester_id);
  b.setInviteeId(m.invitee_id);
  b.setBoothId(m.booth_id);
  b.setStartsAt(m.starts_at_ms);
  b.setEndsAt(m.ends_at_ms);
  b.setStatus(m.status);
  b.setUpdatedAt(m.updated_at_ms);
  b.setUnsynced(m.unsynced);
  // The note is the requester's words: sealed for them, whichever agenda holds it.
  if (!m.note.empty()) {
    auto sealed = rt.sealer->seal(m.requester_id, agenda, m.note);
    if (!sealed) return sealed.error();
    b.setNote(data_of(*sealed));
  }
  return {};
}

caf::error apply_event(agenda_data& d, runtime& rt, const std::string& agenda,
                       schema::AgendaEvent::Reader ev) {
  switch (ev.which()) {
    case schema::AgendaEvent::SESSION_ATTENDED: {
      auto s = read_session(ev.getSessionAttended());
      d.sessions[s.session_id] = std::move(s);
      d.exists = true;
      return {};
    }
    case schema::AgendaEvent::SESSION_LEFT:
      d.sessions.erase(str(ev.getSessionLeft()));
      d.exists = true;
      return {};
    case schema::AgendaEvent::MEETING_SET: {
      auto m = read_meeting(rt, agenda, ev.getMeetingSet());
      if (!m) return m.error();
      auto id = m->meeting_id;
      d.meetings[id] = std::move(*m);
      d.exists = true;
      return {};
    }
    case schema::AgendaEvent::ERASED:
      d.sessions.clear();
      d.meetings.clear();
      d.exists = true;
      return {};
  }
  return make_error(errc::corrupt_record, agenda + ": unknown event");
}

caf::error load_snapshot(agenda_data& d, runtime& rt, const std::string& agenda,
                         schema::AgendaSnapshot::Reader s) {
  d = agenda_data{};
  d.exists = s.getExists();
  for (auto e : s.getSessions()) {
    auto entry = read_session(e);
    d.sessions[entry.session_id] = std::move(entry);
  }
  for (auto r : s.getMeetings()) {
    auto m = read_meeting(rt, agenda, r);
    if (!m) return m.error();
    auto id = m->meeting_id;
    d.meetings[id] = std::move(*m);
  }
  return {};
}

std::string encode_snapshot(const agenda_data& d, runtime& rt, const std::string& agenda) {
  return encode<schema::AgendaSnapshot>(
      RecordKind::AGENDA_SNAPSHOT, [&](schema::AgendaSnapshot::Builder b) {
        b.setExists(d.exists);
        auto ss = b.initSessions(static_cast<unsigned>(d.sessions.size()));
        unsigned i = 0;
        for (auto& [id, s] : d.sessions) write_session(s, ss[i++]);
        auto ms = b.initMeetings(static_cast<unsigned>(d.meetings.size()));
        i = 0;
        for (auto& [id, m] : d.meetings) {
          // A snapshot cannot be half written: a sealer failure stops the actor, and the events
          // on disk still restore it.
          if (auto err = write_meeting(rt, agenda, m, ms[i++]))
            throw std::runtime_error("sealing a note for the snapshot failed: " + detail_of(err));
        }
      });
}

std::string shown(const std::string& party) {
  return party.empty() ? std::string{former_participant} : party;
}

meeting_view view_of(const meeting_rec& m) {
  return meeting_view{m.meeting_id, shown(m.requester_id), shown(m.invitee_id),
                      m.booth_id,   m.starts_at_ms,        m.ends_at_ms,
                      m.note,       status_name(m.status)};
}

meeting_record record_of(const meeting_rec& m) {
  return meeting_record{m.meeting_id, m.requester_id,        m.invitee_id,
                        m.booth_id,   m.starts_at_ms,        m.ends_at_ms,
                        m.note,       status_name(m.status), m.updated_at_ms};
}

struct agenda_state {
  entity_core core;
  std::string id;
  std::string owner;
  agenda_data d;
  std::vector<caf::actor> subs;
  static inline const char* name = "agenda";
};

using agenda_self = agenda_actor::stateful_pointer<agenda_state>;

// The other party of a meeting held in this agenda; empty once that party was erased.
const std::string& other_party(const agenda_state& st, const meeting_rec& m) {
  return m.requester_id == st.owner ? m.invitee_id : m.requester_id;
}

agenda_view agenda_view_of(const agenda_state& st) {
  agenda_view v;
  v.user_id = st.owner;
  for (auto& [id, s] : st.d.sessions)
    v.items.push_back(agenda_item{"session", s.session_id, s.exhibition_id, "", s.title,
                                  s.starts_at_ms, s.ends_at_ms, "attending", "", ""});
  for (auto& [id, m] : st.d.meetings)
    v.items.push_back(agenda_item{"meeting", m.meeting_id, "", m.booth_id, m.note, m.starts_at_ms,
                                  m.ends_at_ms, status_name(m.status), shown(other_party(st, m)),
                                  m.requester_id == st.owner ? "requester" : "invitee"});
  std::sort(v.items.begin(), v.items.end(), [](const agenda_item& a, const agenda_item& b) {
    return std::tie(a.starts_at_ms, a.ends_at_ms, a.item_id) <
           std::tie(b.starts_at_ms, b.ends_at_ms, b.item_id);
  });
  return v;
}

// Who waits for a meeting flow's outcome: a client's promise, or nobody (a flow resumed on
// activation).
struct reply_to {
  // Mutable: delivering marks the promise done, and continuations hold it by const copy.
  mutable std::optional<caf::typed_response_promise<meeting_view>> rp;
  void ok(meeting_view v) const {
    if (rp) rp->deliver(std::move(v));
  }
  void fail(caf::error err) const {
    if (rp) rp->deliver(std::move(err));
  }
};

void reply_when_durable(agenda_self self, const std::string& mid, reply_to to) {
  self->state.core.when_durable([self, mid, to](const caf::error& err) mutable {
    if (err) return to.fail(err);
    auto i = self->state.d.meetings.find(mid);
    if (i == self->state.d.meetings.end())
      return to.fail(make_error(errc::not_found, "no such meeting"));
    to.ok(view_of(i->second));
  });
}

void notify(agenda_self self, const std::string& mid, MeetingStatus status) {
  auto& subs = self->state.subs;
  if (subs.empty()) return;
  auto msg = caf::make_message(meeting_event{mid, status_name(status), self->state.owner});
  for (auto& s : subs) caf::anon_send(s, msg);
}

// Applies the event built in `msg` to the state and adds it to `item` under the next seq.
caf::error stage(agenda_self self, capnp::MallocMessageBuilder& msg,
                 persistence::write_item& item) {
  auto& st = self->state;
  auto ev = msg.getRoot<schema::AgendaEvent>().asReader();
  if (auto err = apply_event(st.d, st.core.rt(), st.id, ev)) return err;
  item.append_event(st.id, st.core.next_seq(),
                    persistence::encode_record(RecordKind::AGENDA_EVENT, msg));
  return {};
}

caf::error stage_meeting(agenda_self self, const meeting_rec& m, int64_t at,
                         persistence::write_item& item) {
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::AgendaEvent>();
  ev.setAt(at);
  if (auto err = write_meeting(self->state.core.rt(), self->state.id, m, ev.initMeetingSet()))
    return err;
  return stage(self, msg, item);
}

// Keeps the agenda's wake key in step with its meetings (staged after them): present while a
// change waits for the other agenda, so that the engine resumes it after a crash.
void stage_wake_key(agenda_self self, persistence::write_item& item) {
  auto& st = self->state;
  bool waiting = std::any_of(st.d.meetings.begin(), st.d.meetings.end(),
                             [](const auto& kv) { return kv.second.unsynced; });
  if (waiting)
    item.put(persistence::db::indexes, wake_key(st.id), {});
  else
    item.erase(persistence::db::indexes, wake_key(st.id));
}

// Records `m` as the meeting's state now; `done` runs once it is durable, and subscribers hear of
// it then when `announce`.
caf::error set_meeting(agenda_self self, const meeting_rec& m, int64_t at, bool announce,
                       std::function<void(const caf::error&)> done) {
  persistence::write_item item;
  if (auto err = stage_meeting(self, m, at, item)) return err;
  stage_wake_key(self, item);
  auto mid = m.meeting_id;
  auto status = m.status;
  self->state.core.persist(self, std::move(item),
                           [self, announce, mid, status, done](const caf::error& err) {
                             if (!err && announce) notify(self, mid, status);
                             if (done) done(err);
                           });
  return {};
}

// Like set_meeting, answering `to` with the meeting, or with `refusal` when one is given.
void set_and_reply(agenda_self self, const meeting_rec& m, bool announce, reply_to to,
                   caf::error refusal = {}) {
  auto view = view_of(m);
  auto err =
      set_meeting(self, m, now_ms(), announce, [to, view, refusal](const caf::error& err) mutable {
        if (err)
          to.fail(err);
        else if (refusal)
          to.fail(refusal);
        else
          to.ok(view);
      });
  if (err) to.fail(err);
}

bool went_away(const caf::error& err) {
  return err == caf::sec::request_receiver_down || code_of(err) == errc::passivated;
}

// Sends `xs...` to the agenda `agenda` (activated through the directory) and hands its answer to
// `cont`; tried again when that agenda passivated while the request was on its way.
template <class R, class... Ts>
void ask_agenda(agenda_self self, std::string agenda, int attempts,
                std::function<void(caf::expected<R>)> cont, Ts... xs) {
  auto dir = caf::actor_cast<directory_actor>(self->state.core.rt().directory);
  if (!dir) return cont(make_error(errc::internal, "no directory"));
  self->request(dir, peer_timeout, activate_atom::value, agenda)
      .then(
          [self, agenda, attempts, cont, xs...](caf::actor& hdl) {
            self->request(caf::actor_cast<agenda_actor>(hdl), peer_timeout, xs...)
                .then([cont](R& r) { cont(std::move(r)); },
                      [self, agenda, attempts, cont, xs...](caf::error& err) {
                        if (attempts > 1 && went_away(err))
                          ask_agenda<R>(self, agenda, attempts - 1, cont, xs...);
                        else
                          cont(std::move(err));
                      });
          },
          [cont](caf::error& err) { cont(std::move(err)); });
}

void on_invited(agenda_self self, const std::string& mid, caf::expected<meeting_view> res,
                reply_to to);

// Asks the invitee's agenda to store the meeting `mid` (still unsynced here).
void drive_invite(agenda_self self, const std::string& mid, reply_to to) {
  auto& st = self->state;
  auto i = st.d.meetings.find(mid);
  if (i == st.d.meetings.end()) return to.fail(make_error(errc::not_found, "no such meeting"));
  // Resident until the answer is back: a passivated requester would lose the flow.
  st.core.pin();
  ask_agenda<meeting_view>(
      self, agenda_id(i->second.invitee_id), peer_attempts,
      [self, mid, to](caf::expected<meeting_view> res) {
        self->state.core.unpin();
        on_invited(self, mid, std::move(res), to);
      },
      meeting_atom::value, record_of(i->second), true);
}

void on_invited(agenda_self self, const std::string& mid, caf::expected<meeting_view> res,
                reply_to to) {
  auto& st = self->state;
  auto i = st.d.meetings.find(mid);
  if (i == st.d.meetings.end()) return to.fail(make_error(errc::not_found, "no such meeting"));
  auto m = i->second;
  bool tentative = m.unsynced && m.status == MeetingStatus::PENDING;
  if (res) {
    if (!tentative) return reply_when_durable(self, mid, to);
    // A repeated invitation finds the meeting perhaps already answered there: adopt that.
    auto theirs = parse_status(res->status);
    if (theirs && *theirs != m.status && may_become(m.status, *theirs)) m.status = *theirs;
    m.unsynced = false;
    return set_and_reply(self, m, true, to);
  }
  if (!tentative) return to.fail(res.error());
  // Refused or unreachable: the tentative copy is cancelled so that it stops holding the time.
  auto refusal = res.error();
  m.status = MeetingStatus::CANCELLED;
  m.unsynced = false;
  m.updated_at_ms = now_ms();
  if (code_of(refusal) != errc::conflict) {
    // The invitee may have stored it before the failure: tell it, best effort.
    ask_agenda<meeting_view>(
        self, agenda_id(m.invitee_id), 1, [](caf::expected<meeting_view>) {}, meeting_atom::value,
        record_of(m), false);
  }
  set_and_reply(self, m, false, to, refusal);
}

void on_synced(agenda_self self, const std::string& mid, MeetingStatus wanted,
               caf::expected<meeting_view> res, reply_to to);

// Sends the meeting's state here to the other party's agenda, then marks it synced. The client
// (if any) wanted the status `wanted`; anything else in the end is a conflict.
void drive_sync(agenda_self self, const std::string& mid, MeetingStatus wanted, reply_to to) {
  auto& st = self->state;
  auto i = st.d.meetings.find(mid);
  if (i == st.d.meetings.end()) return to.fail(make_error(errc::not_found, "no such meeting"));
  auto& m = i->second;
  auto other = other_party(st, m);
  if (!m.unsynced || other.empty()) return on_synced(self, mid, wanted, view_of(m), to);
  st.core.pin();
  ask_agenda<meeting_view>(
      self, agenda_id(other), peer_attempts,
      [self, mid, wanted, to](caf::expected<meeting_view> res) {
        self->state.core.unpin();
        on_synced(self, mid, wanted, std::move(res), to);
      },
      meeting_atom::value, record_of(m), false);
}

void on_synced(agenda_self self, const std::string& mid, MeetingStatus wanted,
               caf::expected<meeting_view> res, reply_to to) {
  auto& st = self->state;
  auto i = st.d.meetings.find(mid);
  if (i == st.d.meetings.end()) return to.fail(make_error(errc::not_found, "no such meeting"));
  auto m = i->second;
  auto conflict = [&](MeetingStatus s) {
    return make_error(errc::conflict, std::string{"the meeting is already "} + status_name(s));
  };
  if (!res) {
    // The other agenda lost it (never stored, or wiped): nothing is left to agree with.
    if (code_of(res.error()) == errc::not_found && m.unsynced) {
      m.unsynced = false;
      return set_and_reply(self, m, false, to,
                           m.status == wanted ? caf::error{} : conflict(m.status));
    }
    // Still unsynced: sent again on the next activation, or when the client repeats the answer.
    return to.fail(res.error());
  }
  auto theirs = parse_status(res->status);
  if (!theirs) return to.fail(make_error(errc::internal, "the other agenda answered no status"));
  if (*theirs != m.status) {
    if (holds_time(*theirs))
      return to.fail(make_error(errc::conflict, "the other agenda disagrees about the meeting"));
    // The other party closed it first: their decision stands here too.
    m.status = *theirs;
    m.unsynced = false;
    m.updated_at_ms = now_ms();
    return set_and_reply(self, m, true, to, conflict(m.status));
  }
  auto refusal = m.status == wanted ? caf::error{} : conflict(m.status);
  if (!m.unsynced) {
    if (refusal) return to.fail(refusal);
    return reply_when_durable(self, mid, to);
  }
  m.unsynced = false;
  set_and_reply(self, m, false, to, refusal);
}

// Sends every change the other agendas have not confirmed again (after a crash or a failure).
void resume_unsynced(agenda_self self) {
  std::vector<std::pair<std::string, bool>> todo;
  for (auto& [id, m] : self->state.d.meetings) {
    if (!m.unsynced) continue;
    todo.emplace_back(id,
                      m.status == MeetingStatus::PENDING && m.requester_id == self->state.owner);
  }
  for (auto& [id, invite] : todo) {
    log::info("agenda.resume_sync").field("agenda", self->state.id).field("meeting", id);
    if (invite)
      drive_invite(self, id, {});
    else
      drive_sync(self, id, self->state.d.meetings[id].status, {});
  }
}

caf::error check_owner(const agenda_state& st, const caller& c) {
  if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
  if (c.user_id != st.owner) return make_error(errc::forbidden, "only the owner changes an agenda");
  return {};
}

caf::result<agenda_view> on_attend(agenda_self self, const caller& c, session_entry& s,
                                   int64_t at) {
  auto& st = self->state;
  if (auto err = check_owner(st, c)) return err;
  if (!is_valid_id(s.session_id)) return make_error(errc::invalid_argument, "malformed session_id");
  if (!s.exhibition_id.empty() && !is_valid_id(s.exhibition_id))
    return make_error(errc::invalid_argument, "malformed exhibition_id");
  if (s.title.size() > max_session_title_bytes || !is_valid_utf8(s.title))
    return make_error(errc::invalid_argument, "title must be at most 500 bytes of UTF-8");
  if (s.ends_at_ms < s.starts_at_ms)
    return make_error(errc::invalid_argument, "a session must not end before it starts");
  auto i = st.d.sessions.find(s.session_id);
  if (i != st.d.sessions.end() && i->second == s)
    return answer_when_durable(self, agenda_view_of(st));
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::AgendaEvent>();
  ev.setAt(at);
  write_session(s, ev.initSessionAttended());
  persistence::write_item item;
  if (auto err = stage(self, msg, item)) return err;
  auto view = agenda_view_of(st);
  auto rp = self->make_response_promise<agenda_view>();
  st.core.persist(self, std::move(item), [rp, view](const caf::error& err) mutable {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(view);
  });
  return rp;
}

caf::result<agenda_view> on_leave_session(agenda_self self, const caller& c,
                                          const std::string& session_id) {
  auto& st = self->state;
  if (auto err = check_owner(st, c)) return err;
  if (st.d.sessions.count(session_id) == 0) return answer_when_durable(self, agenda_view_of(st));
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::AgendaEvent>();
  ev.setAt(now_ms());
  ev.setSessionLeft(session_id);
  persistence::write_item item;
  if (auto err = stage(self, msg, item)) return err;
  auto view = agenda_view_of(st);
  auto rp = self->make_response_promise<agenda_view>();
  st.core.persist(self, std::move(item), [rp, view](const caf::error& err) mutable {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(view);
  });
  return rp;
}

caf::result<meeting_view> on_request(agenda_self self, const caller& c, meeting_request& r,
                                     int64_t at) {
  auto& st = self->state;
  if (auto err = check_owner(st, c)) return err;
  if (!is_valid_id(r.with_user_id) || kind_of(r.with_user_id) != "usr" ||
      agenda_id(r.with_user_id).empty())
    return make_error(errc::invalid_argument, "with_user_id is not a user id");
  if (r.with_user_id == st.owner)
    return make_error(errc::invalid_argument, "a meeting needs another person");
  if (!r.booth_id.empty() && !is_valid_id(r.booth_id))
    return make_error(errc::invalid_argument, "malformed booth_id");
  if (auto err = check_times(r.starts_at_ms, r.ends_at_ms)) return err;
  if (r.note.size() > max_note_bytes || !is_valid_utf8(r.note))
    return make_error(errc::invalid_argument, "note must be at most 2000 bytes of UTF-8");
  if (overlaps_agenda(st.d, r.starts_at_ms, r.ends_at_ms))
    return make_error(errc::conflict, "the meeting overlaps the requester's agenda");
  meeting_rec m;
  m.meeting_id = new_child_id(st.id, "mtg");
  m.requester_id = st.owner;
  m.invitee_id = r.with_user_id;
  m.booth_id = r.booth_id;
  m.starts_at_ms = r.starts_at_ms;
  m.ends_at_ms = r.ends_at_ms;
  m.note = std::move(r.note);
  m.updated_at_ms = at;
  // Tentative until the invitee's agenda holds it; it already holds the time here.
  m.unsynced = true;
  auto rp = self->make_response_promise<meeting_view>();
  auto mid = m.meeting_id;
  auto err = set_meeting(self, m, at, false, [self, mid, rp](const caf::error& err) {
    if (err) return reply_to{rp}.fail(err);
    drive_invite(self, mid, reply_to{rp});
  });
  // The promise has taken over the request: an error goes through it too.
  if (err) rp.deliver(err);
  return rp;
}

caf::result<meeting_view> on_answer(agenda_self self, const caller& c, const std::string& mid,
                                    const std::string& action, int64_t at) {
  auto& st = self->state;
  if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
  auto i = st.d.meetings.find(mid);
  if (i == st.d.meetings.end()) return make_error(errc::not_found, "no such meeting");
  auto m = i->second;
  if (c.user_id != m.requester_id && c.user_id != m.invitee_id)
    return make_error(errc::forbidden, "not a party of this meeting");
  MeetingStatus target;
  if (action == "accept")
    target = MeetingStatus::ACCEPTED;
  else if (action == "decline")
    target = MeetingStatus::DECLINED;
  else if (action == "cancel")
    target = MeetingStatus::CANCELLED;
  else
    return make_error(errc::invalid_argument, "action must be accept, decline or cancel");
  if (target != MeetingStatus::CANCELLED && c.user_id != m.invitee_id)
    return make_error(errc::forbidden, "only the invitee accepts or declines");
  if (m.unsynced && m.status == MeetingStatus::PENDING && m.requester_id == st.owner)
    return make_error(errc::conflict, "the meeting request is still in progress");
  if (m.status != target && !may_become(m.status, target))
    return make_error(errc::conflict,
                      std::string{"the meeting is already "} + status_name(m.status));
  // Made only now: a response promise takes over the request, and a later plain return is lost.
  auto rp = self->make_response_promise<meeting_view>();
  if (m.status == target) {
    // Repeating an answer is harmless, and sends it again if the other agenda missed it.
    drive_sync(self, mid, target, reply_to{rp});
    return rp;
  }
  m.status = target;
  m.updated_at_ms = at;
  m.unsynced = !other_party(st, m).empty();
  auto err = set_meeting(self, m, at, true, [self, mid, target, rp](const caf::error& err) {
    if (err) return reply_to{rp}.fail(err);
    drive_sync(self, mid, target, reply_to{rp});
  });
  if (err) rp.deliver(err);
  return rp;
}

caf::result<meeting_view> on_peer(agenda_self self, meeting_record& r, bool invite) {
  auto& st = self->state;
  auto status = parse_status(r.status);
  if (!status) return make_error(errc::invalid_argument, "unknown meeting status");
  if (r.requester_id != st.owner && r.invitee_id != st.owner)
    return make_error(errc::forbidden, "not a party of this meeting");
  auto i = st.d.meetings.find(r.meeting_id);
  if (invite) {
    if (r.invitee_id != st.owner || r.requester_id.empty() ||
        std::string{owner_of(r.meeting_id)} != agenda_id(r.requester_id) ||
        *status != MeetingStatus::PENDING)
      return make_error(errc::invalid_argument, "not an invitation to this agenda");
    if (auto err = check_times(r.starts_at_ms, r.ends_at_ms)) return err;
    if (i != st.d.meetings.end()) return answer_when_durable(self, view_of(i->second));
    if (overlaps_agenda(st.d, r.starts_at_ms, r.ends_at_ms))
      return make_error(errc::conflict, "the meeting overlaps the invitee's agenda");
    meeting_rec m{r.meeting_id, r.requester_id, r.invitee_id, r.booth_id,      r.starts_at_ms,
                  r.ends_at_ms, r.note,         *status,      r.updated_at_ms, false};
    auto rp = self->make_response_promise<meeting_view>();
    set_and_reply(self, m, true, reply_to{rp});
    return rp;
  }
  if (i == st.d.meetings.end()) return make_error(errc::not_found, "no such meeting");
  auto m = i->second;
  if (m.status == *status) {
    // Both sides changed it the same way: agreed, so nothing is left to send.
    if (!m.unsynced) return answer_when_durable(self, view_of(m));
    m.unsynced = false;
    auto rp = self->make_response_promise<meeting_view>();
    set_and_reply(self, m, false, reply_to{rp});
    return rp;
  }
  // A final state here stands; the other agenda adopts it from the answer.
  if (!may_become(m.status, *status)) return answer_when_durable(self, view_of(m));
  m.status = *status;
  m.unsynced = false;
  m.updated_at_ms = r.updated_at_ms;
  auto rp = self->make_response_promise<meeting_view>();
  set_and_reply(self, m, true, reply_to{rp});
  return rp;
}

std::vector<std::pair<std::string, std::string>> meeting_fields(const meeting_rec& m,
                                                                const std::string& person) {
  std::vector<std::pair<std::string, std::string>> f{
      {"meeting_id", m.meeting_id},
      {"requester_id", m.requester_id},
      {"invitee_id", m.invitee_id},
      {"booth_id", m.booth_id},
      {"starts_at_ms", std::to_string(m.starts_at_ms)},
      {"ends_at_ms", std::to_string(m.ends_at_ms)},
      {"status", status_name(m.status)},
      {"role", m.requester_id == person ? "requester" : "invitee"}};
  // The note is the requester's words: exported to them only.
  if (m.requester_id == person && !m.note.empty()) f.emplace_back("note", m.note);
  return f;
}

std::vector<personal_record> export_of(const agenda_state& st, const std::string& person) {
  std::vector<personal_record> out;
  if (person.empty()) return out;
  if (person == st.owner) {
    for (auto& [id, s] : st.d.sessions)
      out.push_back(personal_record{"sessions",
                                    st.id,
                                    id,
                                    {{"session_id", s.session_id},
                                     {"exhibition_id", s.exhibition_id},
                                     {"title", s.title},
                                     {"starts_at_ms", std::to_string(s.starts_at_ms)},
                                     {"ends_at_ms", std::to_string(s.ends_at_ms)}}});
  }
  for (auto& [id, m] : st.d.meetings) {
    if (m.requester_id != person && m.invitee_id != person) continue;
    out.push_back(personal_record{"meetings", st.id, id, meeting_fields(m, person)});
  }
  return out;
}

// Removes `person` (not the owner) from every meeting held here: their pending and accepted
// meetings are cancelled, their id and their notes forgotten.
caf::result<uint64_t> scrub_party(agenda_self self, const std::string& person) {
  auto& st = self->state;
  std::vector<meeting_rec> changed;
  for (auto& [id, m] : st.d.meetings) {
    if (m.requester_id != person && m.invitee_id != person) continue;
    auto c = m;
    if (holds_time(c.status)) c.status = MeetingStatus::CANCELLED;
    if (c.requester_id == person) {
      c.requester_id.clear();
      c.note.clear();
    }
    if (c.invitee_id == person) c.invitee_id.clear();
    c.unsynced = false;
    changed.push_back(std::move(c));
  }
  if (changed.empty()) return answer_when_durable(self, uint64_t{0});
  auto at = now_ms();
  persistence::write_item item;
  for (auto& m : changed)
    if (auto err = stage_meeting(self, m, at, item)) return err;
  stage_wake_key(self, item);
  uint64_t count = changed.size();
  std::vector<std::pair<std::string, MeetingStatus>> events;
  for (auto& m : changed) events.emplace_back(m.meeting_id, m.status);
  auto rp = self->make_response_promise<uint64_t>();
  // Compacted: older events would still hold the person's id and notes.
  st.core.persist(
      self, std::move(item),
      [self, rp, count, events](const caf::error& err) mutable {
        if (err) return void(rp.deliver(err));
        for (auto& [mid, status] : events) notify(self, mid, status);
        rp.deliver(count);
      },
      true);
  return rp;
}

// Wipes the owner's agenda (after the other parties' copies were dealt with).
void wipe(agenda_self self, uint64_t already, caf::typed_response_promise<uint64_t> rp) {
  auto& st = self->state;
  for (auto& s : st.subs) {
    self->demonitor(s);
    st.core.unpin();
  }
  st.subs.clear();
  uint64_t count = st.d.sessions.size() + st.d.meetings.size();
  if (count == 0) {
    st.core.when_durable([rp, already](const caf::error& err) mutable {
      if (err)
        rp.deliver(err);
      else
        rp.deliver(already);
    });
    return;
  }
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::AgendaEvent>();
  ev.setAt(now_ms());
  ev.setErased();
  persistence::write_item item;
  if (auto err = stage(self, msg, item)) return void(rp.deliver(err));
  item.erase(persistence::db::indexes, wake_key(st.id));
  log::info("agenda.erased").field("agenda", st.id).field("records", count);
  uint64_t total = count + already;
  st.core.persist(
      self, std::move(item),
      [rp, total](const caf::error& err) mutable {
        if (err)
          rp.deliver(err);
        else
          rp.deliver(total);
      },
      true);
}

caf::result<uint64_t> on_erase(agenda_self self, const std::string& person) {
  auto& st = self->state;
  if (person.empty()) return answer_when_durable(self, uint64_t{0});
  if (person != st.owner) return scrub_party(self, person);
  std::set<std::string> others;
  for (auto& [id, m] : st.d.meetings) {
    auto& other = other_party(st, m);
    if (!other.empty() && other != st.owner) others.insert(other);
  }
  auto rp = self->make_response_promise<uint64_t>();
  if (others.empty()) {
    wipe(self, 0, rp);
    return rp;
  }
  // The other parties' copies first: were this agenda wiped first, a crash in between would
  // leave no trace of whom to tell. Retrying the erasure repeats the steps harmlessly.
  struct fan_in {
    size_t left = 0;
    uint64_t count = 0;
    caf::error err;
  };
  auto acc = std::make_shared<fan_in>();
  acc->left = others.size();
  st.core.pin();
  for (auto& other : others) {
    ask_agenda<uint64_t>(
        self, agenda_id(other), peer_attempts,
        [self, acc, rp](caf::expected<uint64_t> r) {
          if (r)
            acc->count += *r;
          else if (!acc->err)
            acc->err = r.error();
          if (--acc->left > 0) return;
          self->state.core.unpin();
          if (acc->err) {
            auto p = rp;
            p.deliver(acc->err);
            return;
          }
          wipe(self, acc->count, rp);
        },
        erase_atom::value, st.owner);
  }
  return rp;
}

caf::result<uint32_t> on_join(agenda_self self, caf::actor sub, const caller& c) {
  auto& st = self->state;
  if (auto err = check_owner(st, c)) return err;
  if (!sub) return make_error(errc::invalid_argument, "no subscriber");
  if (std::find(st.subs.begin(), st.subs.end(), sub) == st.subs.end()) {
    self->monitor(sub);
    st.subs.push_back(std::move(sub));
    st.core.pin();
  }
  return static_cast<uint32_t>(st.subs.size());
}

void drop_subscriber(agenda_self self, const caf::actor_addr& addr, bool demonitor) {
  auto& st = self->state;
  auto i = std::find_if(st.subs.begin(), st.subs.end(),
                        [&](const caf::actor& s) { return s.address() == addr; });
  if (i == st.subs.end()) return;
  if (demonitor) self->demonitor(addr);
  st.subs.erase(i);
  st.core.unpin();
}

agenda_actor::behavior_type agenda_behavior(agenda_self self, std::shared_ptr<runtime> rt,
                                            std::string id, std::shared_ptr<agenda_data> data,
                                            restored r, std::shared_ptr<resident_stats> stats) {
  auto& st = self->state;
  st.id = id;
  st.owner = agenda_owner(id);
  st.d = std::move(*data);
  data.reset();
  st.core.init(id, rt, std::move(stats), r.seq, r.snapshot_seq, [self] {
    return encode_snapshot(self->state.d, self->state.core.rt(), self->state.id);
  });
  st.core.start(self);
  self->set_down_handler([self](caf::down_msg& dm) { drop_subscriber(self, dm.source, false); });
  resume_unsynced(self);
  return {
      [self](attend_atom, const caller& c, session_entry& s, int64_t at) {
        self->state.core.touch(self);
        return on_attend(self, c, s, at);
      },
      [self](leave_atom, const caller& c, const std::string& session_id) {
        self->state.core.touch(self);
        return on_leave_session(self, c, session_id);
      },
      [self](get_atom, const caller& c) -> caf::result<agenda_view> {
        self->state.core.touch(self);
        if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
        if (c.user_id != self->state.owner && !c.admin)
          return make_error(errc::forbidden, "only the owner or an admin reads an agenda");
        return answer_when_durable(self, agenda_view_of(self->state));
      },
      [self](meeting_atom, const caller& c, meeting_request& r, int64_t at) {
        self->state.core.touch(self);
        return on_request(self, c, r, at);
      },
      [self](answer_atom, const caller& c, const std::string& mid, const std::string& action,
             int64_t at) {
        self->state.core.touch(self);
        return on_answer(self, c, mid, action, at);
      },
      [self](meeting_atom, meeting_record& r, bool invite) {
        self->state.core.touch(self);
        return on_peer(self, r, invite);
      },
      [self](join_atom, caf::actor sub, const caller& c) {
        self->state.core.touch(self);
        return on_join(self, std::move(sub), c);
      },
      [self](leave_atom, const caf::actor& sub) -> caf::result<uint32_t> {
        self->state.core.touch(self);
        if (sub) drop_subscriber(self, sub.address(), true);
        return static_cast<uint32_t>(self->state.subs.size());
      },
      [self](export_atom, const std::string& person) {
        self->state.core.touch(self);
        return answer_when_durable(self, export_of(self->state, person));
      },
      [self](erase_atom, const std::string& person) {
        self->state.core.touch(self);
        return on_erase(self, person);
      },
      [self](tick_atom) { self->state.core.on_tick(self); },
      [self](passivate_atom) { self->state.core.on_passivate(self); },
  };
}

}  // namespace

std::string agenda_id(const std::string& user_id) {
  auto us = user_id.find('_');
  if (us == std::string::npos || us + 1 >= user_id.size()) return {};
  return "agd_" + user_id.substr(us + 1);
}

std::string agenda_owner(const std::string& agenda_id) {
  auto us = agenda_id.find('_');
  if (us == std::string::npos || us + 1 >= agenda_id.size()) return {};
  return "usr_" + agenda_id.substr(us + 1);
}

void add_agenda_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<session_entry>("mext.session_entry");
  cfg.add_message_type<meeting_request>("mext.meeting_request");
  cfg.add_message_type<meeting_view>("mext.meeting_view");
  cfg.add_message_type<meeting_record>("mext.meeting_record");
  cfg.add_message_type<agenda_item>("mext.agenda_item");
  cfg.add_message_type<std::vector<agenda_item>>("mext.agenda_item_list");
  cfg.add_message_type<agenda_view>("mext.agenda_view");
  cfg.add_message_type<meeting_event>("mext.meeting_event");
}

caf::expected<caf::actor> make_agenda_actor(caf::actor_system& sys,
                                            const std::shared_ptr<runtime>& rt,
                                            const std::string& id, bool create,
                                            std::shared_ptr<resident_stats> stats) {
  if (agenda_owner(id).empty() || id.find('.') != std::string::npos)
    return make_error(errc::not_found, "malformed agenda id");
  auto data = std::make_shared<agenda_data>();
  auto r = restore_entity<schema::AgendaSnapshot, schema::AgendaEvent>(
      *rt, id, RecordKind::AGENDA_SNAPSHOT, RecordKind::AGENDA_EVENT,
      [&](schema::AgendaSnapshot::Reader s) { return load_snapshot(*data, *rt, id, s); },
      [&](schema::AgendaEvent::Reader e) { return apply_event(*data, *rt, id, e); });
  if (!r) return r.error();
  if (!r->exists && !create) return make_error(errc::not_found, "no such agenda");
  auto hdl = sys.spawn(agenda_behavior, rt, id, std::move(data), *r, std::move(stats));
  return caf::actor_cast<caf::actor>(hdl);
}

}  // namespace mext::actors
