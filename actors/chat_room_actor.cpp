#include "actors/chat_room_actor.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <capnp/message.h>
#include <openssl/evp.h>
#include <caf/all.hpp>

#include "actors/entity_codec.hpp"
#include "actors/entity_core.hpp"
#include "mext/schemas/chat_room.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

using schema::RecordKind;

std::string str(capnp::Text::Reader r) {
  return std::string(r.cStr(), r.size());
}

std::string bytes(capnp::Data::Reader r) {
  return std::string(reinterpret_cast<const char*>(r.begin()), r.size());
}

capnp::Data::Reader data_of(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

struct message_rec {
  uint64_t number = 0;
  std::string message_id;
  // Empty once the author is erased.
  std::string author_id;
  std::string text;
  std::string file_id;
  int64_t sent_at_ms = 0;
  std::string client_msg_id;
  bool deleted = false;
  bool author_erased = false;
};

// The room as its events build it; the same code applies an event live and on restore.
struct room_data {
  bool exists = false;
  int64_t created_at_ms = 0;
  schema::RoomKind kind = schema::RoomKind::BOOTH;
  std::string booth_id;
  std::string organization_id;
  std::vector<std::string> member_ids;
  // messages[n - 1] holds number n: the room's total order.
  std::vector<message_rec> messages;
  std::unordered_map<std::string, uint64_t> by_message_id;
  // author + '\n' + client_msg_id -> number; rebuilt from the messages on restore.
  std::unordered_map<std::string, uint64_t> by_client_key;
};

std::string client_key(const std::string& author, const std::string& client_msg_id) {
  std::string key = author;
  key += '\n';
  key += client_msg_id;
  return key;
}

bool is_member(const room_data& d, const std::string& user_id) {
  return std::find(d.member_ids.begin(), d.member_ids.end(), user_id) != d.member_ids.end();
}

bool may_read(const room_data& d, const caller& c) {
  if (!c.signed_in()) return false;
  return d.kind == schema::RoomKind::BOOTH || c.admin || is_member(d, c.user_id);
}

bool may_write(const room_data& d, const caller& c) {
  if (!c.signed_in()) return false;
  return d.kind == schema::RoomKind::BOOTH || is_member(d, c.user_id);
}

void add_message(room_data& d, message_rec m) {
  d.by_message_id[m.message_id] = m.number;
  if (!m.author_id.empty() && !m.client_msg_id.empty())
    d.by_client_key[client_key(m.author_id, m.client_msg_id)] = m.number;
  d.messages.push_back(std::move(m));
}

// How many records the room holds about `person`: their messages, and their membership.
uint64_t held_about(const room_data& d, const std::string& person) {
  uint64_t n = 0;
  for (auto& m : d.messages)
    if (m.author_id == person) ++n;
  if (is_member(d, person)) ++n;
  return n;
}

void erase_author(room_data& d, const std::string& person) {
  for (auto& m : d.messages) {
    if (m.author_id != person) continue;
    d.by_client_key.erase(client_key(person, m.client_msg_id));
    m.author_id.clear();
    m.text.clear();
    m.file_id.clear();
    m.client_msg_id.clear();
    m.deleted = true;
    m.author_erased = true;
  }
  d.member_ids.erase(std::remove(d.member_ids.begin(), d.member_ids.end(), person),
                     d.member_ids.end());
}

bool purgeable(const message_rec& m, int64_t before) {
  return m.sent_at_ms < before && !(m.deleted && m.text.empty() && m.file_id.empty());
}

// Messages keep their number and id (catch-up and history stay consistent) and lose the rest.
void purge_before(room_data& d, int64_t before) {
  for (auto& m : d.messages) {
    if (!purgeable(m, before)) continue;
    m.text.clear();
    m.file_id.clear();
    m.deleted = true;
  }
}

void read_info(room_data& d, schema::RoomInfo::Reader info) {
  d.kind = info.getKind();
  d.booth_id = str(info.getBoothId());
  d.organization_id = str(info.getOrganizationId());
  d.member_ids.clear();
  for (auto m : info.getMemberIds()) d.member_ids.push_back(str(m));
}

void write_info(const room_data& d, schema::RoomInfo::Builder b) {
  b.setKind(d.kind);
  b.setBoothId(d.booth_id);
  b.setOrganizationId(d.organization_id);
  auto ms = b.initMemberIds(static_cast<unsigned>(d.member_ids.size()));
  for (unsigned i = 0; i < d.member_ids.size(); ++i) ms.set(i, d.member_ids[i]);
}

caf::expected<message_rec> read_message(runtime& rt, const std::string& room_id,
                                        schema::Message::Reader m) {
  message_rec out;
  out.number = m.getNumber();
  out.message_id = str(m.getMessageId());
  out.author_id = str(m.getAuthorId());
  out.file_id = str(m.getFileId());
  out.sent_at_ms = m.getSentAt();
  out.client_msg_id = str(m.getClientMsgId());
  out.deleted = m.getDeleted();
  out.author_erased = m.getAuthorErased();
  auto sealed = bytes(m.getText());
  if (!sealed.empty()) {
    auto text = rt.sealer->open(out.author_id, room_id, sealed);
    if (!text) return text.error();
    out.text = std::move(*text);
  }
  return out;
}

caf::error write_message(runtime& rt, const std::string& room_id, const message_rec& m,
                         schema::Message::Builder b) {
  b.setNumber(m.number);
  b.setMessageId(m.message_id);
  b.setAuthorId(m.author_id);
  b.setFileId(m.file_id);
  b.setSentAt(m.sent_at_ms);
  b.setClientMsgId(m.client_msg_id);
  b.setDeleted(m.deleted);
  b.setAuthorErased(m.author_erased);
  // Deleted and erased messages keep no text, so there is nothing to seal for them.
  if (!m.text.empty()) {
    auto sealed = rt.sealer->seal(m.author_id, room_id, m.text);
    if (!sealed) return sealed.error();
    b.setText(data_of(*sealed));
  }
  return {};
}

caf::error apply_event(room_data& d, runtime& rt, const std::string& room_id,
                       schema::ChatRoomEvent::Reader ev) {
  switch (ev.which()) {
    case schema::ChatRoomEvent::CREATED:
      d.exists = true;
      d.created_at_ms = ev.getAt();
      read_info(d, ev.getCreated());
      return {};
    case schema::ChatRoomEvent::POSTED: {
      auto m = read_message(rt, room_id, ev.getPosted());
      if (!m) return m.error();
      if (m->number != d.messages.size() + 1)
        return make_error(errc::corrupt_record, room_id + ": message number out of order");
      add_message(d, std::move(*m));
      return {};
    }
    case schema::ChatRoomEvent::DELETED: {
      auto i = d.by_message_id.find(str(ev.getDeleted().getMessageId()));
      if (i == d.by_message_id.end())
        return make_error(errc::corrupt_record, room_id + ": deletion of an unknown message");
      auto& m = d.messages[i->second - 1];
      m.text.clear();
      m.file_id.clear();
      m.deleted = true;
      return {};
    }
    case schema::ChatRoomEvent::AUTHOR_ERASED:
      erase_author(d, str(ev.getAuthorErased()));
      return {};
    case schema::ChatRoomEvent::PURGED_BEFORE:
      purge_before(d, ev.getPurgedBefore());
      return {};
  }
  return make_error(errc::corrupt_record, room_id + ": unknown event");
}

caf::error load_snapshot(room_data& d, runtime& rt, const std::string& room_id,
                         schema::ChatRoomSnapshot::Reader s) {
  d = room_data{};
  d.exists = s.getExists();
  d.created_at_ms = s.getCreatedAt();
  read_info(d, s.getInfo());
  auto ms = s.getMessages();
  d.messages.reserve(ms.size());
  for (auto m : ms) {
    auto rec = read_message(rt, room_id, m);
    if (!rec) return rec.error();
    if (rec->number != d.messages.size() + 1)
      return make_error(errc::corrupt_record, room_id + ": snapshot messages out of order");
    add_message(d, std::move(*rec));
  }
  return {};
}

std::string encode_snapshot(const room_data& d, runtime& rt, const std::string& room_id) {
  return encode<schema::ChatRoomSnapshot>(
      RecordKind::CHAT_ROOM_SNAPSHOT, [&](schema::ChatRoomSnapshot::Builder b) {
        b.setExists(d.exists);
        b.setCreatedAt(d.created_at_ms);
        write_info(d, b.initInfo());
        auto ms = b.initMessages(static_cast<unsigned>(d.messages.size()));
        for (unsigned i = 0; i < d.messages.size(); ++i) {
          // A snapshot cannot be half written: a sealer failure stops the actor, and the events
          // on disk still restore it.
          if (auto err = write_message(rt, room_id, d.messages[i], ms[i]))
            throw std::runtime_error("sealing a message for the snapshot failed: " +
                                     detail_of(err));
        }
      });
}

const char* kind_name(schema::RoomKind k) {
  return k == schema::RoomKind::DIRECT ? "direct" : "booth";
}

message_view view_of(const message_rec& m) {
  message_view v;
  v.message_id = m.message_id;
  v.number = m.number;
  v.sent_at_ms = m.sent_at_ms;
  v.deleted = m.deleted;
  if (m.author_erased) {
    v.author_id = std::string{former_participant};
    v.deleted = true;
    return v;
  }
  v.author_id = m.author_id;
  if (!m.deleted) {
    v.text = m.text;
    v.file_id = m.file_id;
  }
  return v;
}

struct subscriber {
  caf::actor hdl;
  // Who joined, so that erasing that person also ends their subscriptions.
  std::string user_id;
};

struct room_state {
  entity_core core;
  std::string id;
  room_data d;
  std::vector<subscriber> subs;
  // Authors whose holder index entry this activation already wrote (holder.hpp).
  std::unordered_set<std::string> indexed_authors;
  static inline const char* name = "chat_room";
};

using room_self = chat_room_actor::stateful_pointer<room_state>;

room_view room_view_of(const room_state& st) {
  room_view v;
  v.room_id = st.id;
  v.kind = kind_name(st.d.kind);
  v.booth_id = st.d.booth_id;
  v.organization_id = st.d.organization_id;
  v.member_ids = st.d.member_ids;
  v.message_count = st.d.messages.size();
  return v;
}

// Applies the event built in `msg` to the state and adds it to `item` under the next seq.
caf::error stage(room_self self, capnp::MallocMessageBuilder& msg, persistence::write_item& item) {
  auto& st = self->state;
  auto ev = msg.getRoot<schema::ChatRoomEvent>().asReader();
  if (auto err = apply_event(st.d, st.core.rt(), st.id, ev)) return err;
  item.append_event(st.id, st.core.next_seq(),
                    persistence::encode_record(RecordKind::CHAT_ROOM_EVENT, msg));
  return {};
}

// One message for all subscribers: its bytes are shared, not copied per recipient.
void broadcast(room_self self, room_event ev) {
  auto& subs = self->state.subs;
  if (subs.empty()) return;
  auto msg = caf::make_message(std::move(ev));
  for (auto& s : subs) caf::anon_send(s.hdl, msg);
}

void drop_subscriber(room_self self, const caf::actor_addr& addr, bool demonitor) {
  auto& st = self->state;
  auto i = std::find_if(st.subs.begin(), st.subs.end(),
                        [&](const subscriber& s) { return s.hdl.address() == addr; });
  if (i == st.subs.end()) return;
  if (demonitor) self->demonitor(addr);
  st.subs.erase(i);
  st.core.unpin();
}

caf::error check_spec(const room_state& st, const caller& c, const room_spec& spec) {
  if (spec.kind == "booth") {
    if (!is_valid_id(spec.booth_id) || !is_valid_id(spec.organization_id))
      return make_error(errc::invalid_argument,
                        "a booth room needs a booth_id and organization_id");
    if (!spec.member_ids.empty())
      return make_error(errc::invalid_argument, "a booth room has no member list");
    if (!c.admin && !c.represents(spec.organization_id))
      return make_error(errc::forbidden, "only an admin or a rep of the organization");
    return {};
  }
  if (spec.kind == "direct") {
    if (!spec.booth_id.empty() || !spec.organization_id.empty())
      return make_error(errc::invalid_argument, "a direct room has no booth");
    if (spec.member_ids.size() != 2 || spec.member_ids[0] == spec.member_ids[1] ||
        !is_valid_id(spec.member_ids[0]) || !is_valid_id(spec.member_ids[1]))
      return make_error(errc::invalid_argument, "a direct room has exactly two distinct members");
    if (st.id != direct_room_id(spec.member_ids[0], spec.member_ids[1]))
      return make_error(errc::invalid_argument, "the room id is not the direct room of these two");
    if (!c.admin && c.user_id != spec.member_ids[0] && c.user_id != spec.member_ids[1])
      return make_error(errc::forbidden, "only its members create a direct room");
    return {};
  }
  return make_error(errc::invalid_argument, "kind must be booth or direct");
}

caf::result<room_view> on_create(room_self self, const caller& c, room_spec& spec, int64_t at) {
  auto& st = self->state;
  if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
  if (auto err = check_spec(st, c, spec)) return err;
  auto kind = spec.kind == "direct" ? schema::RoomKind::DIRECT : schema::RoomKind::BOOTH;
  std::sort(spec.member_ids.begin(), spec.member_ids.end());
  if (st.d.exists) {
    if (st.d.kind == kind && st.d.booth_id == spec.booth_id &&
        st.d.organization_id == spec.organization_id && st.d.member_ids == spec.member_ids)
      return answer_when_durable(self, room_view_of(st));
    return make_error(errc::conflict, "the room exists with another spec");
  }
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::ChatRoomEvent>();
  ev.setAt(at);
  auto info = ev.initCreated();
  info.setKind(kind);
  info.setBoothId(spec.booth_id);
  info.setOrganizationId(spec.organization_id);
  auto ms = info.initMemberIds(static_cast<unsigned>(spec.member_ids.size()));
  for (unsigned i = 0; i < spec.member_ids.size(); ++i) ms.set(i, spec.member_ids[i]);
  persistence::write_item item;
  if (auto err = stage(self, msg, item)) return err;
  for (const auto& member : spec.member_ids) note_holder(item, member, st.id);
  auto view = room_view_of(st);
  auto rp = self->make_response_promise<room_view>();
  st.core.persist(self, std::move(item), [rp, view](const caf::error& err) mutable {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(view);
  });
  return rp;
}

caf::error check_post(const post_spec& p) {
  if (p.client_msg_id.empty() || p.client_msg_id.size() > max_client_msg_id_bytes ||
      !is_valid_utf8(p.client_msg_id))
    return make_error(errc::invalid_argument, "client_msg_id must be 1..64 bytes of UTF-8");
  if (!p.file_id.empty() && !is_valid_id(p.file_id))
    return make_error(errc::invalid_argument, "malformed file_id");
  if (p.text.empty() && p.file_id.empty())
    return make_error(errc::invalid_argument, "text is empty");
  if (p.text.size() > max_message_bytes)
    return make_error(errc::invalid_argument, "text is longer than 4000 bytes");
  if (!is_valid_utf8(p.text)) return make_error(errc::invalid_argument, "text is not valid UTF-8");
  return {};
}

caf::result<posted> on_post(room_self self, const caller& c, post_spec& p, int64_t at) {
  auto& st = self->state;
  if (!st.d.exists) return make_error(errc::not_found, "no such room");
  if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
  if (!may_write(st.d, c)) return make_error(errc::forbidden, "not a member of this room");
  if (auto err = check_post(p)) return err;
  auto dup = st.d.by_client_key.find(client_key(c.user_id, p.client_msg_id));
  if (dup != st.d.by_client_key.end()) {
    auto& first = st.d.messages[dup->second - 1];
    return answer_when_durable(self,
                               posted{first.message_id, first.number, first.sent_at_ms, true});
  }
  message_rec m;
  m.number = st.d.messages.size() + 1;
  m.message_id = new_child_id(st.id, "msg");
  m.author_id = c.user_id;
  m.text = std::move(p.text);
  m.file_id = std::move(p.file_id);
  m.sent_at_ms = at;
  m.client_msg_id = std::move(p.client_msg_id);
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::ChatRoomEvent>();
  ev.setAt(at);
  if (auto err = write_message(st.core.rt(), st.id, m, ev.initPosted())) return err;
  persistence::write_item item;
  if (auto err = stage(self, msg, item)) return err;
  // Marked indexed once the commit holding the entry is durable (below), not before.
  const bool index_author = !st.indexed_authors.count(m.author_id);
  if (index_author) note_holder(item, m.author_id, st.id);
  posted result{m.message_id, m.number, m.sent_at_ms, false};
  auto view = view_of(m);
  auto rp = self->make_response_promise<posted>();
  // Commits complete in seq order, so subscribers get the events in the room's order.
  st.core.persist(
      self, std::move(item),
      [self, rp, result, view, index_author, author = m.author_id](const caf::error& err) mutable {
        if (err) {
          rp.deliver(err);
          return;
        }
        if (index_author) self->state.indexed_authors.insert(author);
        rp.deliver(result);
        broadcast(self, room_event{self->state.id, "message", std::move(view)});
      });
  return rp;
}

// Whether `c` may read a page of `limit` messages of this room.
caf::error check_page_reader(const room_state& st, const caller& c, uint32_t limit) {
  if (!st.d.exists) return make_error(errc::not_found, "no such room");
  if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
  if (!may_read(st.d, c)) return make_error(errc::forbidden, "not a member of this room");
  if (limit == 0 || limit > max_history_limit)
    return make_error(errc::invalid_argument, "limit must be 1..200");
  return {};
}

caf::result<history_page> on_history(room_self self, const caller& c, uint64_t before,
                                     uint32_t limit) {
  auto& st = self->state;
  if (auto err = check_page_reader(st, c, limit)) return err;
  uint64_t top = st.d.messages.size();
  uint64_t n = before == 0 ? top : std::min(before - 1, top);
  history_page page;
  for (; n >= 1 && page.items.size() < limit; --n)
    page.items.push_back(view_of(st.d.messages[n - 1]));
  if (!page.items.empty() && page.items.back().number > 1)
    page.next_before = page.items.back().number;
  return answer_when_durable(self, std::move(page));
}

caf::result<catch_up_page> on_catch_up(room_self self, const caller& c, const std::string& after_id,
                                       uint32_t limit) {
  auto& st = self->state;
  if (auto err = check_page_reader(st, c, limit)) return err;
  auto i = st.d.by_message_id.find(after_id);
  if (i == st.d.by_message_id.end()) return make_error(errc::not_found, "no such message");
  catch_up_page page;
  page.after_number = i->second;
  uint64_t top = st.d.messages.size();
  uint64_t n = page.after_number + 1;
  for (; n <= top && page.items.size() < limit; ++n)
    page.items.push_back(view_of(st.d.messages[n - 1]));
  page.complete = n > top;
  return answer_when_durable(self, std::move(page));
}

caf::result<message_view> on_delete(room_self self, const caller& c,
                                    const std::string& message_id) {
  auto& st = self->state;
  if (!st.d.exists) return make_error(errc::not_found, "no such room");
  if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
  if (!may_read(st.d, c)) return make_error(errc::forbidden, "not a member of this room");
  auto i = st.d.by_message_id.find(message_id);
  if (i == st.d.by_message_id.end()) return make_error(errc::not_found, "no such message");
  auto& m = st.d.messages[i->second - 1];
  bool allowed = c.admin || (!m.author_id.empty() && m.author_id == c.user_id) ||
                 (!st.d.organization_id.empty() && c.represents(st.d.organization_id));
  if (!allowed) return make_error(errc::forbidden, "only its author, a booth rep or an admin");
  if (m.deleted) return answer_when_durable(self, view_of(m));
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::ChatRoomEvent>();
  ev.setAt(now_ms());
  auto del = ev.initDeleted();
  del.setMessageId(message_id);
  del.setById(c.user_id);
  persistence::write_item item;
  if (auto err = stage(self, msg, item)) return err;
  auto view = view_of(st.d.messages[i->second - 1]);
  auto rp = self->make_response_promise<message_view>();
  // Compacted: the snapshot replaces the events, so the posted event stops holding the words.
  st.core.persist(
      self, std::move(item),
      [self, rp, view](const caf::error& err) mutable {
        if (err) {
          rp.deliver(err);
          return;
        }
        rp.deliver(view);
        broadcast(self, room_event{self->state.id, "deleted", std::move(view)});
      },
      true);
  return rp;
}

caf::result<uint32_t> on_join(room_self self, caf::actor sub, const caller& c) {
  auto& st = self->state;
  if (!st.d.exists) return make_error(errc::not_found, "no such room");
  if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
  if (!may_read(st.d, c)) return make_error(errc::forbidden, "not a member of this room");
  if (!sub) return make_error(errc::invalid_argument, "no subscriber");
  auto known = std::any_of(st.subs.begin(), st.subs.end(),
                           [&](const subscriber& s) { return s.hdl == sub; });
  if (!known) {
    self->monitor(sub);
    st.subs.push_back({sub, c.user_id});
    // A room with listeners stays resident: passivating it would silence them.
    st.core.pin();
  }
  return static_cast<uint32_t>(st.subs.size());
}

std::vector<personal_record> export_of(const room_state& st, const std::string& person) {
  std::vector<personal_record> out;
  if (person.empty() || !st.d.exists) return out;
  bool wrote = false;
  for (auto& m : st.d.messages) {
    if (m.author_id != person) continue;
    wrote = true;
    personal_record r;
    r.category = "chat_messages";
    r.holder_id = st.id;
    r.record_id = m.message_id;
    r.fields = {{"room_id", st.id},
                {"number", std::to_string(m.number)},
                {"text", m.text},
                {"sent_at_ms", std::to_string(m.sent_at_ms)},
                {"client_msg_id", m.client_msg_id},
                {"deleted", m.deleted ? "true" : "false"}};
    if (!m.file_id.empty()) r.fields.emplace_back("file_id", m.file_id);
    out.push_back(std::move(r));
  }
  bool member = is_member(st.d, person);
  if (member || wrote) {
    personal_record r;
    r.category = "chat_rooms";
    r.holder_id = st.id;
    r.record_id = st.id;
    r.fields = {{"room_id", st.id}, {"kind", kind_name(st.d.kind)}};
    if (st.d.kind == schema::RoomKind::BOOTH) {
      r.fields.emplace_back("booth_id", st.d.booth_id);
      r.fields.emplace_back("organization_id", st.d.organization_id);
      r.fields.emplace_back("role", "participant");
    } else {
      r.fields.emplace_back("role", member ? "member" : "former member");
      for (auto& id : st.d.member_ids) r.fields.emplace_back("member_id", id);
    }
    out.push_back(std::move(r));
  }
  return out;
}

caf::result<uint64_t> on_purge(room_self self, int64_t before) {
  auto& st = self->state;
  if (!st.d.exists) return answer_when_durable(self, uint64_t{0});
  uint64_t count = static_cast<uint64_t>(
      std::count_if(st.d.messages.begin(), st.d.messages.end(),
                    [before](const message_rec& m) { return purgeable(m, before); }));
  if (count == 0) return answer_when_durable(self, uint64_t{0});
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::ChatRoomEvent>();
  ev.setAt(now_ms());
  ev.setPurgedBefore(before);
  persistence::write_item item;
  if (auto err = stage(self, msg, item)) return err;
  log::info("room.purged").field("room", st.id).field("messages", count);
  auto rp = self->make_response_promise<uint64_t>();
  // Compacted like a deletion: no stored record keeps the purged messages.
  st.core.persist(
      self, std::move(item),
      [rp, count](const caf::error& err) mutable {
        if (err)
          rp.deliver(err);
        else
          rp.deliver(count);
      },
      true);
  return rp;
}

caf::result<uint64_t> on_erase(room_self self, const std::string& person) {
  auto& st = self->state;
  for (size_t i = st.subs.size(); i-- > 0;)
    if (st.subs[i].user_id == person) drop_subscriber(self, st.subs[i].hdl.address(), true);
  uint64_t count = st.d.exists && !person.empty() ? held_about(st.d, person) : 0;
  if (count == 0) return answer_when_durable(self, uint64_t{0});
  std::vector<uint64_t> numbers;
  for (auto& m : st.d.messages)
    if (m.author_id == person) numbers.push_back(m.number);
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::ChatRoomEvent>();
  ev.setAt(now_ms());
  ev.setAuthorErased(person);
  persistence::write_item item;
  if (auto err = stage(self, msg, item)) return err;
  log::info("room.author_erased").field("room", st.id).field("records", count);
  auto rp = self->make_response_promise<uint64_t>();
  st.core.persist(
      self, std::move(item),
      [self, rp, count, numbers](const caf::error& err) mutable {
        if (err) {
          rp.deliver(err);
          return;
        }
        rp.deliver(count);
        for (auto n : numbers)
          broadcast(self,
                    room_event{self->state.id, "deleted", view_of(self->state.d.messages[n - 1])});
      },
      true);
  return rp;
}

chat_room_actor::behavior_type room_behavior(room_self self, std::shared_ptr<runtime> rt,
                                             std::string id, std::shared_ptr<room_data> data,
                                             restored r, std::shared_ptr<resident_stats> stats) {
  auto& st = self->state;
  st.id = id;
  st.d = std::move(*data);
  data.reset();
  st.core.init(id, rt, std::move(stats), r.seq, r.snapshot_seq, [self] {
    return encode_snapshot(self->state.d, self->state.core.rt(), self->state.id);
  });
  st.core.start(self);
  self->set_down_handler([self](caf::down_msg& dm) { drop_subscriber(self, dm.source, false); });
  return {
      [self](create_atom, const caller& c, room_spec& spec, int64_t at) {
        self->state.core.touch(self);
        return on_create(self, c, spec, at);
      },
      [self](get_atom, const caller& c) -> caf::result<room_view> {
        self->state.core.touch(self);
        auto& st = self->state;
        if (!st.d.exists) return make_error(errc::not_found, "no such room");
        if (!c.signed_in()) return make_error(errc::unauthenticated, "sign in first");
        if (!may_read(st.d, c)) return make_error(errc::forbidden, "not a member of this room");
        return answer_when_durable(self, room_view_of(st));
      },
      [self](post_atom, const caller& c, post_spec& p, int64_t at) {
        self->state.core.touch(self);
        return on_post(self, c, p, at);
      },
      [self](history_atom, const caller& c, uint64_t before, uint32_t limit) {
        self->state.core.touch(self);
        return on_history(self, c, before, limit);
      },
      [self](catch_up_atom, const caller& c, const std::string& after_id, uint32_t limit) {
        self->state.core.touch(self);
        return on_catch_up(self, c, after_id, limit);
      },
      [self](delete_atom, const caller& c, const std::string& message_id) {
        self->state.core.touch(self);
        return on_delete(self, c, message_id);
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
      [self](purge_atom, int64_t before) {
        self->state.core.touch(self);
        return on_purge(self, before);
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

std::string direct_room_id(const std::string& a, const std::string& b) {
  const std::string& lo = std::min(a, b);
  const std::string& hi = std::max(a, b);
  std::string input = lo;
  input += '\n';
  input += hi;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "room_d";
  for (unsigned i = 0; i < 16; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 0xf];
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte first, an overlong 2-byte lead, or past U+10FFFF
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

void add_chat_room_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<room_spec>("mext.room_spec");
  cfg.add_message_type<room_view>("mext.room_view");
  cfg.add_message_type<post_spec>("mext.post_spec");
  cfg.add_message_type<posted>("mext.posted");
  cfg.add_message_type<message_view>("mext.message_view");
  cfg.add_message_type<std::vector<message_view>>("mext.message_view_list");
  cfg.add_message_type<history_page>("mext.history_page");
  cfg.add_message_type<room_event>("mext.room_event");
  cfg.add_message_type<catch_up_page>("mext.catch_up_page");
}

caf::expected<caf::actor> make_chat_room_actor(caf::actor_system& sys,
                                               const std::shared_ptr<runtime>& rt,
                                               const std::string& id, bool create,
                                               std::shared_ptr<resident_stats> stats) {
  auto data = std::make_shared<room_data>();
  auto r = restore_entity<schema::ChatRoomSnapshot, schema::ChatRoomEvent>(
      *rt, id, RecordKind::CHAT_ROOM_SNAPSHOT, RecordKind::CHAT_ROOM_EVENT,
      [&](schema::ChatRoomSnapshot::Reader s) { return load_snapshot(*data, *rt, id, s); },
      [&](schema::ChatRoomEvent::Reader e) { return apply_event(*data, *rt, id, e); });
  if (!r) return r.error();
  if (!r->exists && !create) return make_error(errc::not_found, "no such room");
  auto hdl = sys.spawn(room_behavior, rt, id, std::move(data), *r, std::move(stats));
  return caf::actor_cast<caf::actor>(hdl);
}

}  // namespace mext::actors
