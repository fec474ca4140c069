#include "actors/exhibition_actor.hpp"

#include <algorithm>
#include <string_view>
#include <tuple>
#include <utility>

#include <capnp/message.h>
#include <caf/all.hpp>

#include "actors/entity_codec.hpp"
#include "actors/entity_core.hpp"
#include "mext/schemas/exhibition.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

using schema::ExhibitionEvent;
using schema::ExhibitionSnapshot;
using schema::MediaKind;
using schema::RecordKind;

constexpr size_t max_title_chars = 300;
constexpr size_t max_text_chars = 100000;
constexpr size_t max_caption_chars = 1000;
constexpr size_t max_speakers = 100;

struct media_record {
  std::string speaker_id;
  MediaKind kind = MediaKind::PICTURE;
  std::string file_id;
  // Kept sealed as stored: views and exports open it.
  std::string sealed_caption;
};

struct session_record {
  std::string session_id;
  std::string title;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::vector<std::string> speaker_ids;
  std::vector<media_record> media;
};

// Everything restored from disk; the behavior owns it next to its entity_core.
struct exhibition_data {
  bool exists = false;
  int64_t created_at_ms = 0;
  exhibition_info info;
  std::vector<booth_ref> booths;
  std::vector<session_record> sessions;
};

struct exhibition_state {
  entity_core core;
  exhibition_data data;
  static inline const char* name = "exhibition";
};

using exhibition_self = exhibition_actor::stateful_pointer<exhibition_state>;

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

exhibition_info read_info(schema::ExhibitionInfo::Reader r) {
  return {as_string(r.getTitle()), as_string(r.getDescription()), r.getStartsAt(), r.getEndsAt()};
}

void write_info(schema::ExhibitionInfo::Builder b, const exhibition_info& x) {
  b.setTitle(as_text(x.title));
  b.setDescription(as_text(x.description));
  b.setStartsAt(x.starts_at_ms);
  b.setEndsAt(x.ends_at_ms);
}

booth_ref read_booth(schema::BoothRef::Reader r) {
  return {as_string(r.getBoothId()), as_string(r.getOrganizationId())};
}

void write_booth(schema::BoothRef::Builder b, const booth_ref& x) {
  b.setBoothId(as_text(x.booth_id));
  b.setOrganizationId(as_text(x.organization_id));
}

media_record read_media(schema::SpeakerMedia::Reader r) {
  return {as_string(r.getSpeakerId()), r.getKind(), as_string(r.getFileId()),
          as_bytes(r.getCaption())};
}

void write_media(schema::SpeakerMedia::Builder b, const media_record& x) {
  b.setSpeakerId(as_text(x.speaker_id));
  b.setKind(x.kind);
  b.setFileId(as_text(x.file_id));
  b.setCaption(as_data(x.sealed_caption));
}

session_record read_session(schema::Session::Reader r) {
  session_record out{
      as_string(r.getSessionId()), as_string(r.getTitle()), r.getStartsAt(), r.getEndsAt(), {}, {}};
  for (auto s : r.getSpeakerIds()) out.speaker_ids.push_back(as_string(s));
  for (auto m : r.getMedia()) out.media.push_back(read_media(m));
  return out;
}

void write_session(schema::Session::Builder b, const session_record& x) {
  b.setSessionId(as_text(x.session_id));
  b.setTitle(as_text(x.title));
  b.setStartsAt(x.starts_at_ms);
  b.setEndsAt(x.ends_at_ms);
  auto speakers = b.initSpeakerIds(static_cast<unsigned>(x.speaker_ids.size()));
  for (unsigned i = 0; i < speakers.size(); ++i) speakers.set(i, as_text(x.speaker_ids[i]));
  auto media = b.initMedia(static_cast<unsigned>(x.media.size()));
  for (unsigned i = 0; i < media.size(); ++i) write_media(media[i], x.media[i]);
}

session_record* find_session(exhibition_data& d, std::string_view session_id) {
  for (auto& s : d.sessions)
    if (s.session_id == session_id) return &s;
  return nullptr;
}

bool speaks_at(const session_record& s, const std::string& person) {
  return std::find(s.speaker_ids.begin(), s.speaker_ids.end(), person) != s.speaker_ids.end();
}

// -- state transitions: the same on restore and live ------------------------------------------

caf::error apply(exhibition_data& d, ExhibitionEvent::Reader ev) {
  switch (ev.which()) {
    case ExhibitionEvent::CREATED:
      d.exists = true;
      d.created_at_ms = ev.getAt();
      d.info = read_info(ev.getCreated());
      return {};
    case ExhibitionEvent::UPDATED:
      d.info = read_info(ev.getUpdated());
      return {};
    case ExhibitionEvent::BOOTH_ADDED: {
      auto ref = read_booth(ev.getBoothAdded());
      auto known = std::any_of(d.booths.begin(), d.booths.end(),
                               [&](const booth_ref& b) { return b.booth_id == ref.booth_id; });
      if (!known) d.booths.push_back(std::move(ref));
      return {};
    }
    case ExhibitionEvent::SESSION_ADDED:
      d.sessions.push_back(read_session(ev.getSessionAdded()));
      return {};
    case ExhibitionEvent::MEDIA_ADDED: {
      auto added = ev.getMediaAdded();
      auto* s = find_session(d, as_string(added.getSessionId()));
      if (!s) return make_error(errc::corrupt_record, "media for an unknown session");
      s->media.push_back(read_media(added.getMedia()));
      return {};
    }
    case ExhibitionEvent::SPEAKER_REMOVED: {
      auto removed = ev.getSpeakerRemoved();
      auto* s = find_session(d, as_string(removed.getSessionId()));
      if (!s) return make_error(errc::corrupt_record, "speaker removed from an unknown session");
      auto speaker = as_string(removed.getSpeakerId());
      std::erase(s->speaker_ids, speaker);
      std::erase_if(s->media, [&](const media_record& m) { return m.speaker_id == speaker; });
      return {};
    }
  }
  return make_error(errc::corrupt_record, "unknown exhibition event");
}

caf::error load_snapshot(exhibition_data& d, ExhibitionSnapshot::Reader s) {
  d = exhibition_data{};
  d.exists = s.getExists();
  d.created_at_ms = s.getCreatedAt();
  d.info = read_info(s.getInfo());
  for (auto b : s.getBooths()) d.booths.push_back(read_booth(b));
  for (auto x : s.getSessions()) d.sessions.push_back(read_session(x));
  return {};
}

std::string encode_snapshot(const exhibition_data& d) {
  return encode<ExhibitionSnapshot>(
      RecordKind::EXHIBITION_SNAPSHOT, [&](ExhibitionSnapshot::Builder s) {
        s.setExists(d.exists);
        s.setCreatedAt(d.created_at_ms);
        write_info(s.initInfo(), d.info);
        auto booths = s.initBooths(static_cast<unsigned>(d.booths.size()));
        for (unsigned i = 0; i < booths.size(); ++i) write_booth(booths[i], d.booths[i]);
        auto sessions = s.initSessions(static_cast<unsigned>(d.sessions.size()));
        for (unsigned i = 0; i < sessions.size(); ++i) write_session(sessions[i], d.sessions[i]);
      });
}

// Builds one event with `fill`, applies it to the state and appends it to `item` at the next seq.
template <class Fill>
caf::error emit(exhibition_state& st, persistence::write_item& item, int64_t at, Fill&& fill) {
  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<ExhibitionEvent>();
  ev.setAt(at);
  fill(ev);
  if (auto err = apply(st.data, ev.asReader())) return err;
  st.core.rt().catalog_generation.fetch_add(1, std::memory_order_release);
  item.append_event(st.core.id(), st.core.next_seq(),
                    persistence::encode_record(RecordKind::EXHIBITION_EVENT, message));
  return {};
}

// -- answers behind the output gate ------------------------------------------------------------

// -- validation and views ---------------------------------------------------------------------

size_t chars(std::string_view s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

bool valid_title(const std::string& title) {
  return title.find_first_not_of(" \t\r\n") != std::string::npos && chars(title) <= max_title_chars;
}

const char* media_kind_name(MediaKind k) {
  return k == MediaKind::VIDEO ? "video" : "picture";
}

exhibition_view view_of(const exhibition_state& st) {
  const auto& d = st.data;
  exhibition_view out{st.core.id(),      d.info.title, d.info.description, d.info.starts_at_ms,
                      d.info.ends_at_ms, {},           d.created_at_ms};
  for (const auto& b : d.booths) out.booth_ids.push_back(b.booth_id);
  return out;
}

caf::expected<session_view> view_of(const exhibition_state& st, const session_record& s) {
  session_view out{s.session_id, st.core.id(),  s.title, s.starts_at_ms,
                   s.ends_at_ms, s.speaker_ids, {}};
  for (const auto& m : s.media) {
    auto caption = st.core.rt().sealer->open(m.speaker_id, st.core.id(), m.sealed_caption);
    if (!caption) return caption.error();
    out.media.push_back({m.speaker_id, media_kind_name(m.kind), m.file_id, std::move(*caption)});
  }
  return out;
}

template <class R>
caf::result<R> answer(exhibition_self self, caf::expected<R> value) {
  if (!value) return std::move(value.error());
  return answer_when_durable(self, std::move(*value));
}

// -- behavior ---------------------------------------------------------------------------------

exhibition_actor::behavior_type exhibition_behavior(exhibition_self self,
                                                    std::shared_ptr<runtime> rt, std::string id,
                                                    exhibition_data data, restored from,
                                                    std::shared_ptr<resident_stats> stats) {
  self->state.data = std::move(data);
  self->state.core.init(std::move(id), std::move(rt), std::move(stats), from.seq, from.snapshot_seq,
                        [self] { return encode_snapshot(self->state.data); });
  self->state.core.start(self);
  return {
      [self](create_atom, const caller& who, const exhibition_info& info,
             int64_t at) -> caf::result<exhibition_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!who.admin)
          return make_error(errc::forbidden, "only an administrator creates exhibitions");
        if (st.data.exists) return make_error(errc::conflict, "the exhibition exists");
        if (!valid_title(info.title))
          return make_error(errc::invalid_argument, "title must hold 1 to 300 characters");
        if (chars(info.description) > max_text_chars)
          return make_error(errc::invalid_argument, "description is longer than 100000 characters");
        if (info.ends_at_ms <= info.starts_at_ms)
          return make_error(errc::invalid_argument, "an exhibition ends after it starts");
        persistence::write_item item;
        if (auto err = emit(st, item, at, [&](auto ev) { write_info(ev.initCreated(), info); }))
          return err;
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](get_atom) -> caf::result<exhibition_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such exhibition");
        return answer_when_durable(self, view_of(st));
      },
      [self](booth_atom, const caller& who, const booth_ref& ref) -> caf::result<exhibition_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such exhibition");
        if (!who.admin && !who.represents(ref.organization_id))
          return make_error(errc::forbidden, "only the organization's representatives or an admin");
        if (!is_id_of(ref.booth_id, "bth") || !is_id_of(ref.organization_id, "org"))
          return make_error(errc::invalid_argument, "a booth id and an organization id");
        for (const auto& b : st.data.booths) {
          if (b.booth_id != ref.booth_id) continue;
          if (b.organization_id != ref.organization_id)
            return make_error(errc::conflict, "the booth belongs to another organization");
          return answer_when_durable(self, view_of(st));
        }
        persistence::write_item item;
        if (auto err =
                emit(st, item, now_ms(), [&](auto ev) { write_booth(ev.initBoothAdded(), ref); }))
          return err;
        return commit_then_answer(self, std::move(item), view_of(st));
      },
      [self](session_atom, const caller& who,
             const session_spec& spec) -> caf::result<session_view> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such exhibition");
        if (!who.admin) return make_error(errc::forbidden, "only an administrator adds sessions");
        if (!valid_title(spec.title))
          return make_error(errc::invalid_argument, "title must hold 1 to 300 characters");
        if (spec.ends_at_ms <= spec.starts_at_ms)
          return make_error(errc::invalid_argument, "a session ends after it starts");
        if (spec.starts_at_ms < st.data.info.starts_at_ms ||
            spec.ends_at_ms > st.data.info.ends_at_ms)
          return make_error(errc::invalid_argument, "a session lies within its exhibition");
        session_record rec{new_child_id(st.core.id(), "ses"),
                           spec.title,
                           spec.starts_at_ms,
                           spec.ends_at_ms,
                           {},
                           {}};
        for (const auto& speaker : spec.speaker_ids) {
          if (!is_id_of(speaker, "usr"))
            return make_error(errc::invalid_argument, "speaker_ids must be user ids");
          if (std::find(rec.speaker_ids.begin(), rec.speaker_ids.end(), speaker) ==
              rec.speaker_ids.end())
            rec.speaker_ids.push_back(speaker);
        }
        if (rec.speaker_ids.size() > max_speakers)
          return make_error(errc::invalid_argument, "at most 100 speakers");
        persistence::write_item item;
        if (auto err = emit(st, item, now_ms(),
                            [&](auto ev) { write_session(ev.initSessionAdded(), rec); }))
          return err;
        for (const auto& speaker : rec.speaker_ids) note_holder(item, speaker, st.core.id());
        auto view = view_of(st, *find_session(st.data, rec.session_id));
        if (!view) return std::move(view.error());
        return commit_then_answer(self, std::move(item), std::move(*view));
      },
      [self](get_atom, session_atom, const std::string& session_id) -> caf::result<session_view> {
        auto& st = self->state;
        st.core.touch(self);
        auto* s = st.data.exists ? find_session(st.data, session_id) : nullptr;
        if (!s) return make_error(errc::not_found, "no such session");
        return answer(self, view_of(st, *s));
      },
      [self](list_atom, session_atom) -> caf::result<std::vector<session_view>> {
        auto& st = self->state;
        st.core.touch(self);
        if (!st.data.exists) return make_error(errc::not_found, "no such exhibition");
        std::vector<session_view> out;
        for (const auto& s : st.data.sessions) {
          auto view = view_of(st, s);
          if (!view) return std::move(view.error());
          out.push_back(std::move(*view));
        }
        std::sort(out.begin(), out.end(), [](const session_view& a, const session_view& b) {
          return std::tie(a.starts_at_ms, a.ends_at_ms, a.session_id) <
                 std::tie(b.starts_at_ms, b.ends_at_ms, b.session_id);
        });
        return answer_when_durable(self, std::move(out));
      },
      [self](media_atom, const caller& who, const std::string& session_id,
             const speaker_media& media) -> caf::result<session_view> {
        auto& st = self->state;
        st.core.touch(self);
        auto* s = st.data.exists ? find_session(st.data, session_id) : nullptr;
        if (!s) return make_error(errc::not_found, "no such session");
        if (!who.admin && (!who.signed_in() || who.user_id != media.speaker_id))
          return make_error(errc::forbidden, "only the speaker or an administrator adds media");
        if (!speaks_at(*s, media.speaker_id))
          return make_error(errc::invalid_argument, "not a speaker of this session");
        if (media.kind != "picture" && media.kind != "video")
          return make_error(errc::invalid_argument, "kind is picture or video");
        if (!is_valid_id(media.file_id)) return make_error(errc::invalid_argument, "not a file id");
        if (chars(media.caption) > max_caption_chars)
          return make_error(errc::invalid_argument, "caption is longer than 1000 characters");
        auto sealed = st.core.rt().sealer->seal(media.speaker_id, st.core.id(), media.caption);
        if (!sealed) return std::move(sealed.error());
        media_record rec{media.speaker_id,
                         media.kind == "video" ? MediaKind::VIDEO : MediaKind::PICTURE,
                         media.file_id, std::move(*sealed)};
        persistence::write_item item;
        if (auto err = emit(st, item, now_ms(), [&](auto ev) {
              auto added = ev.initMediaAdded();
              added.setSessionId(as_text(session_id));
              write_media(added.initMedia(), rec);
            }))
          return err;
        note_holder(item, media.speaker_id, st.core.id());
        auto view = view_of(st, *find_session(st.data, session_id));
        if (!view) return std::move(view.error());
        return commit_then_answer(self, std::move(item), std::move(*view));
      },
      [self](export_atom, const std::string& person) -> caf::result<std::vector<personal_record>> {
        auto& st = self->state;
        st.core.touch(self);
        const auto& id = st.core.id();
        std::vector<personal_record> out;
        for (const auto& s : st.data.sessions) {
          if (speaks_at(s, person))
            out.push_back({"sessions",
                           id,
                           s.session_id,
                           {{"exhibition_id", id},
                            {"session_id", s.session_id},
                            {"title", s.title},
                            {"starts_at_ms", std::to_string(s.starts_at_ms)},
                            {"ends_at_ms", std::to_string(s.ends_at_ms)},
                            {"role", "speaker"}}});
          for (const auto& m : s.media) {
            if (m.speaker_id != person) continue;
            auto caption = st.core.rt().sealer->open(person, id, m.sealed_caption);
            if (!caption) return std::move(caption.error());
            out.push_back({"speaker_media",
                           id,
                           s.session_id,
                           {{"session_id", s.session_id},
                            {"kind", media_kind_name(m.kind)},
                            {"file_id", m.file_id},
                            {"caption", std::move(*caption)}}});
          }
        }
        return answer_when_durable(self, std::move(out));
      },
      [self](erase_atom, const std::string& person) -> caf::result<uint64_t> {
        auto& st = self->state;
        st.core.touch(self);
        std::vector<std::string> sessions;
        uint64_t erased = 0;
        for (const auto& s : st.data.sessions) {
          auto media = static_cast<uint64_t>(
              std::count_if(s.media.begin(), s.media.end(),
                            [&](const media_record& m) { return m.speaker_id == person; }));
          auto place = speaks_at(s, person) ? 1u : 0u;
          if (media + place == 0) continue;
          erased += media + place;
          sessions.push_back(s.session_id);
        }
        if (erased == 0) return answer_when_durable(self, erased);
        persistence::write_item item;
        auto at = now_ms();
        for (const auto& sid : sessions) {
          if (auto err = emit(st, item, at, [&](auto ev) {
                auto removed = ev.initSpeakerRemoved();
                removed.setSessionId(as_text(sid));
                removed.setSpeakerId(as_text(person));
              }))
            return err;
        }
        // Compacted: the events that held the person's media are deleted with the snapshot.
        return commit_then_answer(self, std::move(item), erased, true);
      },
      [self](tick_atom) { self->state.core.on_tick(self); },
      [self](passivate_atom) { self->state.core.on_passivate(self); },
  };
}

}  // namespace

void add_exhibition_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<exhibition_info>("mext.exhibition_info");
  cfg.add_message_type<exhibition_view>("mext.exhibition_view");
  cfg.add_message_type<booth_ref>("mext.booth_ref");
  cfg.add_message_type<session_spec>("mext.session_spec");
  cfg.add_message_type<speaker_media>("mext.speaker_media");
  cfg.add_message_type<std::vector<speaker_media>>("mext.speaker_media_list");
  cfg.add_message_type<session_view>("mext.session_view");
  cfg.add_message_type<std::vector<session_view>>("mext.session_view_list");
}

caf::expected<caf::actor> make_exhibition_actor(caf::actor_system& sys,
                                                const std::shared_ptr<runtime>& rt,
                                                const std::string& id, bool create,
                                                std::shared_ptr<resident_stats> stats) {
  exhibition_data data;
  auto from = restore_entity<ExhibitionSnapshot, ExhibitionEvent>(
      *rt, id, RecordKind::EXHIBITION_SNAPSHOT, RecordKind::EXHIBITION_EVENT,
      [&](ExhibitionSnapshot::Reader s) { return load_snapshot(data, s); },
      [&](ExhibitionEvent::Reader ev) { return apply(data, ev); });
  if (!from) return from.error();
  if (!from->exists && !create) return make_error(errc::not_found, "no such exhibition");
  auto hdl = sys.spawn(exhibition_behavior, rt, id, std::move(data), *from, std::move(stats));
  return caf::actor_cast<caf::actor>(hdl);
}

}  // namespace mext::actors
