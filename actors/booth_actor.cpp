#include "actors/booth_actor.hpp"

#include <algorithm>
#include <array>
#include <limits>
#include <string_view>
#include <utility>

#include <capnp/message.h>
#include <caf/all.hpp>

#include "actors/entity_codec.hpp"
#include "actors/entity_core.hpp"
#include "mext/schemas/booth.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

using schema::BoothEvent;
using schema::BoothSnapshot;
using schema::ContentKind;
using schema::RecordKind;

constexpr size_t max_name_chars = 200;
constexpr size_t max_title_chars = 300;
constexpr size_t max_text_chars = 100000;

// Indexed by schema::ContentKind.
constexpr std::array<std::string_view, 6> content_kinds = {"article",   "post",   "comment",
                                                           "datasheet", "poster", "video"};

struct visit_record {
  std::string visitor_id;
  uint32_t count = 0;
  int64_t first_at_ms = 0;
  int64_t last_at_ms = 0;
  bool shared_contact = false;
};

// Everything restored from disk; the behavior owns it next to its entity_core.
struct booth_data {
  bool exists = false;
  int64_t created_at_ms = 0;
  booth_spec info;
  std::vector<content_view> contents;
  uint64_t total_visits = 0;
  uint64_t erased_visitors = 0;
  std::vector<visit_record> visits;
};

struct booth_state {
  entity_core core;
  booth_data data;
  static inline const char* name = "booth";
};

using booth_self = booth_actor::stateful_pointer<booth_state>;

// -- Cap'n Proto <-> std ----------------------------------------------------------------------

std::string as_string(capnp::Text::Reader t) {
  return {t.begin(), t.size()};
}
capnp::Text::Reader as_text(const std::string& s) {
  return {s.c_str(), s.size()};
}

booth_spec read_info(schema::BoothInfo::Reader r) {
  return {as_string(r.getExhibitionId()), as_string(r.getOrganizationId()), as_string(r.getName()),
          as_string(r.getDescription()), as_string(r.getChatRoomId())};
}

void write_info(schema::BoothInfo::Builder b, const booth_spec& x) {
  b.setExhibitionId(as_text(x.exhibition_id));
  b.setOrganizationId(as_text(x.organization_id));
  b.setName(as_text(x.name));
  b.setDescription(as_text(x.description));
  b.setChatRoomId(as_text(x.chat_room_id));
}

caf::expected<content_view> read_content(schema::Content::Reader r) {
  auto kind = static_cast<size_t>(r.getKind());
  if (kind >= content_kinds.size()) return make_error(errc::corrupt_record, "unknown content kind");
  return content_view{as_string(r.getContentId()),
                      std::string{content_kinds[kind]},
                      as_string(r.getTitle()),
                      as_string(r.getBody()),
                      as_string(r.getFileId()),
                      as_string(r.getAuthorId()),
                      r.getCreatedAt()};
}

// `x.kind` is one of content_kinds: validated before any event is built.
void write_content(schema::Content::Builder b, const content_view& x) {
  auto kind = std::find(content_kinds.begin(), content_kinds.end(), x.kind);
  b.setContentId(as_text(x.content_id));
  b.setKind(static_cast<ContentKind>(kind - content_kinds.begin()));
  b.setTitle(as_text(x.title));
  b.setBody(as_text(x.body));
  b.setFileId(as_text(x.file_id));
  b.setAuthorId(as_text(x.author_id));
  b.setCreatedAt(x.created_at_ms);
}

visit_record* find_visit(booth_data& d, std::string_view visitor) {
  for (auto& v : d.visits)
    if (v.visitor_id == visitor) return &v;
  return nullptr;
}

// -- state transitions: the same on restore and live ------------------------------------------

caf::error apply(booth_data& d, BoothEvent::Reader ev) {
  switch (ev.which()) {
    case BoothEvent::CREATED:
      d.exists = true;
      d.created_at_ms = ev.getAt();
      d.info = read_info(ev.getCreated());
      return {};
    case BoothEvent::UPDATED:
      d.info = read_info(ev.getUpdated());
      return {};
    case BoothEvent::CONTENT_ADDED: {
      auto content = read_content(ev.getContentAdded());
      if (!content) return content.error();
      d.contents.push_back(std::move(*content));
      return {};
    }
    case BoothEvent::CONTENT_REMOVED: {
      auto id = as_string(ev.getContentRemoved());
      std::erase_if(d.contents, [&](const content_view& c) { return c.content_id == id; });
      return {};
    }
    case BoothEvent::VISITED: {
      auto visited = ev.getVisited();
      auto visitor = as_string(visited.getVisitorId());
      ++d.total_visits;
      auto* v = find_visit(d, visitor);
      if (!v) v = &d.visits.emplace_back(visit_record{visitor, 0, ev.getAt(), ev.getAt(), false});
      if (v->count < std::numeric_limits<uint32_t>::max()) ++v->count;
      v->last_at_ms = ev.getAt();
      v->shared_contact = visited.getSharedContact();
      return {};
    }
    case BoothEvent::VISITOR_ERASED: {
      auto visitor = as_string(ev.getVisitorErased());
      auto forgotten =
          std::erase_if(d.visits, [&](const visit_record& v) { return v.visitor_id == visitor; });
      d.erased_visitors += forgotten;
      return {};
    }
    case BoothEvent::AUTHOR_ERASED: {
      auto author = as_string(ev.getAuthorErased());
      for (auto& c : d.contents)
        if (c.author_id == author) c.author_id = former_representative;
      return {};
    }
  }
  return make_error(errc::corrupt_record, "unknown booth event");
}

caf::error load_snapshot(booth_data& d, BoothSnapshot::Reader s) {
  d = booth_data{};
  d.exists = s.getExists();
  d.created_at_ms = s.getCreatedAt();
  d.info = read_info(s.getInfo());
  for (auto c : s.getContents()) {
    auto content = read_content(c);
    if (!content) return content.error();
    d.contents.push_back(std::move(*content));
  }
  d.total_visits = s.getTotalVisits();
  d.erased_visitors = s.getErasedVisitors();
  for (auto v : s.getVisits())
    d.visits.push_back({as_string(v.getVisitorId()), v.getCount(), v.getFirstAt(), v.getLastAt(),
                        v.getSharedContact()});
  return {};
}

std::string encode_snapshot(const booth_data& d) {
  return encode<BoothSnapshot>(RecordKind::BOOTH_SNAPSHOT, [&](BoothSnapshot::Builder s) {
    s.setExists(d.exists);
    s.setCreatedAt(d.created_at_ms);
    write_info(s.initInfo(), d.info);
    auto contents = s.initContents(static_cast<unsigned>(d.contents.size()));
    for (unsigned i = 0; i < contents.size(); ++i) write_content(contents[i], d.contents[i]);
    s.setTotalVisits(d.total_visits);
    s.setErasedVisitors(d.erased_visitors);
    auto visits = s.initVisits(static_cast<unsigned>(d.visits.size()));
    for (unsigned i = 0; i < visits.size(); ++i) {
      const auto& v = d.visits[i];
      visits[i].setVisitorId(as_text(v.visitor_id));
      visits[i].setCount(v.count);
      visits[i].setFirstAt(v.first_at_ms);
      visits[i].setLastAt(v.last_at_ms);
      visits[i].setSharedContact(v.shared_contact);
    }
  });
}

// Builds one event with `fill`, applies it to the state and appends it to `item` at the next seq.
template <class Fill>
caf::error emit(booth_state& st, persistence::write_item& item, int64_t at, Fill&& fill) {
  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<BoothEvent>();
  ev.setAt(at);
  fill(ev);
  if (auto err = apply(st.data, ev.asReader())) return err;
  // Visits are not shown in catalog lists; everything else a booth records may be.
  auto kind = ev.asReader().which();
  if (kind != BoothEvent::VISITED && kind != BoothEvent::VISITOR_ERASED)
    st.core.rt().catalog_generation.fetch_add(1, std::memory_order_release);
  item.append_event(st.core.id(), st.core.next_seq(),
                    persistence::encode_record(RecordKind::BOOTH_EVENT, message));
  return {};
}

// -- answers behind the output gate ------------------------------------------------------------

// -- validation and views ---------------------------------------------------------------------

size_t chars(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool valid_line(const std::string& s, size_t max_chars) {
  return s.find_first_not_of(" \t\r\n") != std::string::npos && chars(s) <= max_chars;
}

caf::error validate(const booth_spec& x) {
  if (!is_id_of(x.exhibition_id, "exh") || !is_id_of(x.organization_id, "org") ||
      !is_id_of(x.chat_room_id, "room"))
    return make_error(errc::invalid_argument, "an exhibition, organization and room id");
  if (!valid_line(x.name, max_name_chars))
    return make_error(errc::invalid_argument, "name must hold 1 to 200 characters");
  if (chars(x.description) > max_text_chars)
    return make_error(errc::invalid_argument, "description is longer than 100000 characters");
  return {};
}

bool may_edit(const booth_data& d, const caller& who) {
  return who.admin || who.represents(d.info.organization_id);
}

booth_view view_of(const booth_state& st) {
  const auto& d = st.data;
  return {st.core.id(), d.info.exhibition_id, d.info.organization_id,
          d.info.name,  d.info.description,   d.info.chat_room_id,
          d.contents,   d.total_visits};
}

// -- behavior ---------------------------------------------------------------------------------

booth_actor::behavior_type booth_behavior(booth_self self, std::shared_ptr<runtime> rt,
                                          std::string id, booth_data data, restored from,
                                          std::shared_ptr<resident_stats> stats) {
  self->state.data = std::move(data);
  self->state.core.init(std::move(id), std::move(rt), std::move(stats), from.seq, from.snapshot_seq,
                        [self] { return encode_snapshot(self->state.data); });
  self->state.core.start(self);
  return {
      [self](create_atom, const caller& who, const booth_spec& spec,
             int64_t at) -> caf::result<booth_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!who.admin && !who.represents(spec.organization_id))
          return make_error(errc::forbidden, "only the organization's representatives or an admin");
        if (st.data.exists) return make_error(errc::conflict, "the booth exists");
        if (auto err = validate(spec)) return err;
        persistence::write_item item;
        if (auto err = emit(st, item, at, [&](auto ev) { write_info(ev.initCreated(), spec); }))
          return err;
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](get_atom) -> caf::result<booth_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such booth");
        return answer_when_durable(self, view_of(st));
      },
      [self](update_atom, const caller& who, const booth_patch& patch) -> caf::result<booth_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such booth");
        if (!may_edit(st.data, who))
          return make_error(errc::forbidden, "only the organization's representatives or an admin");
        auto info = st.data.info;
        if (patch.has_name) info.name = patch.name;
        if (patch.has_description) info.description = patch.description;
        if (auto err = validate(info)) return err;
        if (info.name == st.data.info.name && info.description == st.data.info.description)
          return answer_when_durable(self, view_of(st));
        persistence::write_item item;
        if (auto err =
                emit(st, item, now_ms(), [&](auto ev) { write_info(ev.initUpdated(), info); }))
          return err;
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](content_atom, const caller& who, const content_spec& spec,
             int64_t at) -> caf::result<content_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such booth");
        if (!who.signed_in() || !may_edit(st.data, who))
          return make_error(errc::forbidden, "only the organization's representatives or an admin");
        if (std::find(content_kinds.begin(), content_kinds.end(), spec.kind) == content_kinds.end())
          return make_error(errc::invalid_argument,
                            "kind is article, post, comment, datasheet, poster or video");
        if (!valid_line(spec.title, max_title_chars))
          return make_error(errc::invalid_argument, "title must hold 1 to 300 characters");
        if (chars(spec.body) > max_text_chars)
          return make_error(errc::invalid_argument, "body is longer than 100000 characters");
        if (!spec.file_id.empty() && !is_valid_id(spec.file_id))
          return make_error(errc::invalid_argument, "not a file id");
        content_view content{new_child_id(st.core.id(), "cnt"),
                             spec.kind,
                             spec.title,
                             spec.body,
                             spec.file_id,
                             who.user_id,
                             at};
        persistence::write_item item;
        if (auto err =
                emit(st, item, at, [&](auto ev) { write_content(ev.initContentAdded(), content); }))
          return err;
        note_holder(item, who.user_id, st.core.id());
        return commit_then_answer(self, std::move(item), std::move(content));
      },
      [self](remove_atom, const caller& who,
             const std::string& content_id) -> caf::result<booth_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such booth");
        if (!may_edit(st.data, who))
          return make_error(errc::forbidden, "only the organization's representatives or an admin");
        auto known = std::any_of(st.data.contents.begin(), st.data.contents.end(),
                                 [&](const content_view& c) { return c.content_id == content_id; });
        if (!known) return make_error(errc::not_found, "no such content");
        persistence::write_item item;
        if (auto err = emit(st, item, now_ms(),
                            [&](auto ev) { ev.setContentRemoved(as_text(content_id)); }))
          return err;
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](visit_atom, const caller& who, bool share_contact,
             int64_t at) -> caf::result<uint64_t> {
        auto& st = self->state;
        st.core.touch(self);
        if (!who.signed_in()) return make_error(errc::unauthenticated, "sign in to visit");
        if (!st.data.exists) return make_error(errc::not_found, "no such booth");
        persistence::write_item item;
        if (auto err = emit(st, item, at, [&](auto ev) {
              auto visited = ev.initVisited();
              visited.setVisitorId(as_text(who.user_id));
              visited.setSharedContact(share_contact);
            }))
          return err;
        note_holder(item, who.user_id, st.core.id());
        return commit_then_answer(self, std::move(item), st.data.total_visits);
      },
      [self](get_atom, visit_atom, const caller& who) -> caf::result<visit_stats> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such booth");
        if (!may_edit(st.data, who))
          return make_error(errc::forbidden, "only the organization's representatives or an admin");
        visit_stats out{st.data.total_visits, st.data.visits.size() + st.data.erased_visitors, {}};
        for (const auto& v : st.data.visits)
          if (v.shared_contact) out.shared_contacts.push_back(v.visitor_id);
        return answer_when_durable(self, std::move(out));
      },
      [self](export_atom, const std::string& person) -> caf::result<std::vector<personal_record>> {
        auto& st = self->state;
        st.core.touch(self);
        const auto& id = st.core.id();
        std::vector<personal_record> out;
        if (auto* v = find_visit(st.data, person))
          out.push_back({"booth_visits",
                         id,
                         id,
                         {{"booth_id", id},
                          {"visits", std::to_string(v->count)},
                          {"first_at_ms", std::to_string(v->first_at_ms)},
                          {"last_at_ms", std::to_string(v->last_at_ms)},
                          {"shared_contact", v->shared_contact ? "true" : "false"}}});
        for (const auto& c : st.data.contents) {
          if (c.author_id != person) continue;
          out.push_back({"booth_content",
                         id,
                         c.content_id,
                         {{"booth_id", id},
                          {"content_id", c.content_id},
                          {"kind", c.kind},
                          {"title", c.title},
                          {"body", c.body},
                          {"file_id", c.file_id},
                          {"created_at_ms", std::to_string(c.created_at_ms)}}});
        }
        return answer_when_durable(self, std::move(out));
      },
      [self](erase_atom, const std::string& person) -> caf::result<uint64_t> {
        auto& st = self->state;
        st.core.touch(self);
        auto authored = static_cast<uint64_t>(
            std::count_if(st.data.contents.begin(), st.data.contents.end(),
                          [&](const content_view& c) { return c.author_id == person; }));
        bool visited = find_visit(st.data, person) != nullptr;
        uint64_t erased = authored + (visited ? 1 : 0);
        if (erased == 0) return answer_when_durable(self, erased);
        persistence::write_item item;
        auto at = now_ms();
        if (visited) {
          if (auto err = emit(st, item, at, [&](auto ev) { ev.setVisitorErased(as_text(person)); }))
            return err;
        }
        if (authored > 0) {
          if (auto err = emit(st, item, at, [&](auto ev) { ev.setAuthorErased(as_text(person)); }))
            return err;
        }
        // Compacted: the events that named the person are deleted with the snapshot.
        return commit_then_answer(self, std::move(item), erased, true);
      },
      [self](tick_atom) { self->state.core.on_tick(self); },
      [self](passivate_atom) { self->state.core.on_passivate(self); },
  };
}

}  // namespace

void add_booth_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<booth_spec>("mext.booth_spec");
  cfg.add_message_type<booth_patch>("mext.booth_patch");
  cfg.add_message_type<content_spec>("mext.content_spec");
  cfg.add_message_type<content_view>("mext.content_view");
  cfg.add_message_type<std::vector<content_view>>("mext.content_view_list");
  cfg.add_message_type<booth_view>("mext.booth_view");
  cfg.add_message_type<visit_stats>("mext.visit_stats");
}

caf::expected<caf::actor> make_booth_actor(caf::actor_system& sys,
                                           const std::shared_ptr<runtime>& rt,
                                           const std::string& id, bool create,
                                           std::shared_ptr<resident_stats> stats) {
  booth_data data;
  auto from = restore_entity<BoothSnapshot, BoothEvent>(
      *rt, id, RecordKind::BOOTH_SNAPSHOT, RecordKind::BOOTH_EVENT,
      [&](BoothSnapshot::Reader s) { return load_snapshot(data, s); },
      [&](BoothEvent::Reader ev) { return apply(data, ev); });
  if (!from) return from.error();
  if (!from->exists && !create) return make_error(errc::not_found, "no such booth");
  auto hdl = sys.spawn(booth_behavior, rt, id, std::move(data), *from, std::move(stats));
  return caf::actor_cast<caf::actor>(hdl);
}

}  // namespace mext::actors
