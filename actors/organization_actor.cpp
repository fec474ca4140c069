#include "actors/organization_actor.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

#include <capnp/message.h>
#include <caf/all.hpp>

#include "actors/entity_codec.hpp"
#include "actors/entity_core.hpp"
#include "mext/schemas/organization.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

using schema::OrganizationEvent;
using schema::OrganizationSnapshot;
using schema::RecordKind;

constexpr size_t max_name_chars = 200;
constexpr size_t max_country_chars = 100;
constexpr size_t max_url_chars = 2000;
constexpr size_t max_text_chars = 100000;

struct mention_record {
  std::string mention_id;
  std::string author_id;
  std::string source_url;
  // Kept sealed as stored: only export opens it.
  std::string sealed_text;
  int64_t at_ms = 0;
};

// Everything restored from disk; the behavior owns it next to its entity_core.
struct organization_data {
  bool exists = false;
  int64_t created_at_ms = 0;
  organization_info info;
  std::vector<std::string> representatives;
  std::vector<mention_record> mentions;
};

struct organization_state {
  entity_core core;
  organization_data data;
  static inline const char* name = "organization";
};

using organization_self = organization_actor::stateful_pointer<organization_state>;

// -- Cap'n Proto <-> std ----------------------------------------------------------------------

std::string as_string(capnp::Text::Reader t) {
  return {t.begin(), t.size()};
}
capnp::Text::Reader as_text(const std::string& s) {
  return {s.c_str(), s.size()};
}
std::string as_bytes(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}
capnp::Data::Reader as_data(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

organization_info read_info(schema::OrganizationInfo::Reader r) {
  return {as_string(r.getName()), as_string(r.getCountry()), as_string(r.getWebsite()),
          as_string(r.getDescription())};
}

void write_info(schema::OrganizationInfo::Builder b, const organization_info& x) {
  b.setName(as_text(x.name));
  b.setCountry(as_text(x.country));
  b.setWebsite(as_text(x.website));
  b.setDescription(as_text(x.description));
}

mention_record read_mention(schema::Mention::Reader r) {
  return {as_string(r.getMentionId()), as_string(r.getAuthorId()), as_string(r.getSourceUrl()),
          as_bytes(r.getText()), r.getAt()};
}

void write_mention(schema::Mention::Builder b, const mention_record& m) {
  b.setMentionId(as_text(m.mention_id));
  b.setAuthorId(as_text(m.author_id));
  b.setSourceUrl(as_text(m.source_url));
  b.setText(as_data(m.sealed_text));
  b.setAt(m.at_ms);
}

// -- state transitions: the same on restore and live ------------------------------------------

caf::error apply(organization_data& d, OrganizationEvent::Reader ev) {
  switch (ev.which()) {
    case OrganizationEvent::CREATED:
      d.exists = true;
      d.created_at_ms = ev.getAt();
      d.info = read_info(ev.getCreated());
      return {};
    case OrganizationEvent::UPDATED:
      d.info = read_info(ev.getUpdated());
      return {};
    case OrganizationEvent::REPRESENTATIVE_ADDED: {
      auto user = as_string(ev.getRepresentativeAdded());
      if (std::find(d.representatives.begin(), d.representatives.end(), user) ==
          d.representatives.end())
        d.representatives.push_back(std::move(user));
      return {};
    }
    case OrganizationEvent::REPRESENTATIVE_REMOVED:
      std::erase(d.representatives, as_string(ev.getRepresentativeRemoved()));
      return {};
    case OrganizationEvent::MENTION_ADDED:
      d.mentions.push_back(read_mention(ev.getMentionAdded()));
      return {};
    case OrganizationEvent::MENTION_REMOVED: {
      auto id = as_string(ev.getMentionRemoved());
      std::erase_if(d.mentions, [&](const mention_record& m) { return m.mention_id == id; });
      return {};
    }
  }
  return make_error(errc::corrupt_record, "unknown organization event");
}

caf::error load_snapshot(organization_data& d, OrganizationSnapshot::Reader s) {
  d = organization_data{};
  d.exists = s.getExists();
  d.created_at_ms = s.getCreatedAt();
  d.info = read_info(s.getInfo());
  for (auto r : s.getRepresentatives()) d.representatives.push_back(as_string(r));
  for (auto m : s.getMentions()) d.mentions.push_back(read_mention(m));
  return {};
}

std::string encode_snapshot(const organization_data& d) {
  return encode<OrganizationSnapshot>(
      RecordKind::ORGANIZATION_SNAPSHOT, [&](OrganizationSnapshot::Builder s) {
        s.setExists(d.exists);
        s.setCreatedAt(d.created_at_ms);
        write_info(s.initInfo(), d.info);
        auto reps = s.initRepresentatives(static_cast<unsigned>(d.representatives.size()));
        for (unsigned i = 0; i < reps.size(); ++i) reps.set(i, as_text(d.representatives[i]));
        auto ms = s.initMentions(static_cast<unsigned>(d.mentions.size()));
        for (unsigned i = 0; i < ms.size(); ++i) write_mention(ms[i], d.mentions[i]);
      });
}

// Builds one event with `fill`, applies it to the state and appends it to `item` at the next seq.
template <class Fill>
caf::error emit(organization_state& st, persistence::write_item& item, int64_t at, Fill&& fill) {
  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<OrganizationEvent>();
  ev.setAt(at);
  fill(ev);
  if (auto err = apply(st.data, ev.asReader())) return err;
  item.append_event(st.core.id(), st.core.next_seq(),
                    persistence::encode_record(RecordKind::ORGANIZATION_EVENT, message));
  return {};
}

// -- answers behind the output gate ------------------------------------------------------------

// -- validation -------------------------------------------------------------------------------

size_t chars(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool is_http_url(std::string_view s) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (!s.starts_with(scheme)) continue;
    auto rest = s.substr(scheme.size());
    if (rest.empty() || rest.front() == '/') return false;
    return std::none_of(rest.begin(), rest.end(),
                        [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; });
  }
  return false;
}

caf::error validate(const organization_info& x) {
  auto blank = x.name.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank || chars(x.name) > max_name_chars)
    return make_error(errc::invalid_argument, "name must hold 1 to 200 characters");
  if (chars(x.country) > max_country_chars)
    return make_error(errc::invalid_argument, "country is longer than 100 characters");
  if (!x.website.empty() && (x.website.size() > max_url_chars || !is_http_url(x.website)))
    return make_error(errc::invalid_argument, "website must be an http(s) URL");
  if (chars(x.description) > max_text_chars)
    return make_error(errc::invalid_argument, "description is longer than 100000 characters");
  return {};
}

organization_view view_of(const organization_state& st) {
  const auto& d = st.data;
  return {st.core.id(),       d.info.name,       d.info.country, d.info.website,
          d.info.description, d.representatives, d.created_at_ms};
}

bool is_representative(const organization_data& d, const std::string& user) {
  return std::find(d.representatives.begin(), d.representatives.end(), user) !=
         d.representatives.end();
}

// -- behavior ---------------------------------------------------------------------------------

organization_actor::behavior_type organization_behavior(organization_self self,
                                                        std::shared_ptr<runtime> rt, std::string id,
                                                        organization_data data, restored from,
                                                        std::shared_ptr<resident_stats> stats) {
  self->state.data = std::move(data);
  self->state.core.init(std::move(id), std::move(rt), std::move(stats), from.seq, from.snapshot_seq,
                        [self] { return encode_snapshot(self->state.data); });
  self->state.core.start(self);
  return {
      [self](create_atom, const caller& who, const organization_info& info,
             int64_t at) -> caf::result<organization_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!who.admin)
          return make_error(errc::forbidden, "only an administrator creates organizations");
        if (st.data.exists) return make_error(errc::conflict, "the organization exists");
        if (auto err = validate(info)) return err;
        persistence::write_item item;
        if (auto err = emit(st, item, at, [&](auto ev) { write_info(ev.initCreated(), info); }))
          return err;
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](get_atom) -> caf::result<organization_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such organization");
        return answer_when_durable(self, view_of(st));
      },
      [self](update_atom, const caller& who, const organization_info& info,
             int64_t at) -> caf::result<organization_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such organization");
        if (!who.admin && !who.represents(st.core.id()))
          return make_error(errc::forbidden, "only its representatives or an administrator");
        if (auto err = validate(info)) return err;
        persistence::write_item item;
        if (auto err = emit(st, item, at, [&](auto ev) { write_info(ev.initUpdated(), info); }))
          return err;
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](add_atom, const caller& who,
             const std::string& user) -> caf::result<organization_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such organization");
        if (!who.admin)
          return make_error(errc::forbidden, "only an administrator adds representatives");
        if (!is_id_of(user, "usr")) return make_error(errc::invalid_argument, "not a user id");
        if (is_representative(st.data, user)) return answer_when_durable(self, view_of(st));
        persistence::write_item item;
        if (auto err = emit(st, item, now_ms(),
                            [&](auto ev) { ev.setRepresentativeAdded(as_text(user)); }))
          return err;
        note_holder(item, user, st.core.id());
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](remove_atom, const caller& who,
             const std::string& user) -> caf::result<organization_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such organization");
        if (!who.admin)
          return make_error(errc::forbidden, "only an administrator removes representatives");
        if (!is_representative(st.data, user)) return answer_when_durable(self, view_of(st));
        persistence::write_item item;
        if (auto err = emit(st, item, now_ms(),
                            [&](auto ev) { ev.setRepresentativeRemoved(as_text(user)); }))
          return err;
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](mention_atom, const caller& who, const mention& m,
             int64_t at) -> caf::result<std::string> {
        auto& st = self->state;
        st.core.touch(self);
        if (!who.signed_in()) return make_error(errc::unauthenticated, "sign in to mention");
        if (!st.data.exists) return make_error(errc::not_found, "no such organization");
        if (!m.author_id.empty() && m.author_id != who.user_id)
          return make_error(errc::forbidden, "a mention's author is its sender");
        if (m.text.empty() || chars(m.text) > max_text_chars)
          return make_error(errc::invalid_argument, "text must hold 1 to 100000 characters");
        if (!m.source_url.empty() &&
            (m.source_url.size() > max_url_chars || !is_http_url(m.source_url)))
          return make_error(errc::invalid_argument, "source_url must be an http(s) URL");
        auto sealed = st.core.rt().sealer->seal(who.user_id, st.core.id(), m.text);
        if (!sealed) return std::move(sealed.error());
        mention_record rec{new_child_id(st.core.id(), "mnt"), who.user_id, m.source_url,
                           std::move(*sealed), at};
        persistence::write_item item;
        if (auto err =
                emit(st, item, at, [&](auto ev) { write_mention(ev.initMentionAdded(), rec); }))
          return err;
        note_holder(item, who.user_id, st.core.id());
        return commit_then_answer(self, std::move(item), rec.mention_id);
      },
      [self](export_atom, const std::string& person) -> caf::result<std::vector<personal_record>> {
        auto& st = self->state;
        st.core.touch(self);
        const auto& id = st.core.id();
        std::vector<personal_record> out;
        if (is_representative(st.data, person))
          out.push_back({"organizations_and_roles",
                         id,
                         id,
                         {{"organization_id", id},
                          {"organization_name", st.data.info.name},
                          {"role", "org_rep"}}});
        for (const auto& m : st.data.mentions) {
          if (m.author_id != person) continue;
          auto plain = st.core.rt().sealer->open(person, id, m.sealed_text);
          if (!plain) return std::move(plain.error());
          out.push_back({"third_party_content",
                         id,
                         m.mention_id,
                         {{"organization_id", id},
                          {"source_url", m.source_url},
                          {"text", std::move(*plain)},
                          {"at_ms", std::to_string(m.at_ms)}}});
        }
        return answer_when_durable(self, std::move(out));
      },
      [self](erase_atom, const std::string& person) -> caf::result<uint64_t> {
        auto& st = self->state;
        st.core.touch(self);
        std::vector<std::string> mentions;
        for (const auto& m : st.data.mentions)
          if (m.author_id == person) mentions.push_back(m.mention_id);
        persistence::write_item item;
        uint64_t erased = 0;
        auto at = now_ms();
        if (is_representative(st.data, person)) {
          if (auto err = emit(st, item, at,
                              [&](auto ev) { ev.setRepresentativeRemoved(as_text(person)); }))
            return err;
          ++erased;
        }
        for (const auto& mid : mentions) {
          if (auto err = emit(st, item, at, [&](auto ev) { ev.setMentionRemoved(as_text(mid)); }))
            return err;
          ++erased;
        }
        if (erased == 0) return answer_when_durable(self, erased);
        // Compacted: the events that held the person's data are deleted with the snapshot.
        return commit_then_answer(self, std::move(item), erased, true);
      },
      [self](tick_atom) { self->state.core.on_tick(self); },
      [self](passivate_atom) { self->state.core.on_passivate(self); },
  };
}

}  // namespace

void add_organization_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<organization_info>("mext.organization_info");
  cfg.add_message_type<organization_view>("mext.organization_view");
  cfg.add_message_type<mention>("mext.mention");
}

caf::expected<caf::actor> make_organization_actor(caf::actor_system& sys,
                                                  const std::shared_ptr<runtime>& rt,
                                                  const std::string& id, bool create,
                                                  std::shared_ptr<resident_stats> stats) {
  organization_data data;
  auto from = restore_entity<OrganizationSnapshot, OrganizationEvent>(
      *rt, id, RecordKind::ORGANIZATION_SNAPSHOT, RecordKind::ORGANIZATION_EVENT,
      [&](OrganizationSnapshot::Reader s) { return load_snapshot(data, s); },
      [&](OrganizationEvent::Reader ev) { return apply(data, ev); });
  if (!from) return from.error();
  if (!from->exists && !create) return make_error(errc::not_found, "no such organization");
  auto hdl = sys.spawn(organization_behavior, rt, id, std::move(data), *from, std::move(stats));
  return caf::actor_cast<caf::actor>(hdl);
}

}  // namespace mext::actors
