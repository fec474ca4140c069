#define BOOST_TEST_MODULE schema_fixtures
#include <boost/test/unit_test.hpp>

// The committed record fixtures (tests/fixtures/*_v1.bin, written once by fixture_writer) are
// data of record format v1 as it sits in LMDB. Every field they hold is asserted here by value
// against literals of this file, never against the writer: a schema change that renumbers,
// retypes or removes a field reads a different value (or none) from the old bytes and fails.
// The second half restores entities from the same bytes through the real actors and engine.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/schema.h>
#include <caf/all.hpp>

#include "actors/booth_actor.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/connection_log_actor.hpp"
#include "actors/engine.hpp"
#include "actors/exhibition_actor.hpp"
#include "actors/organization_actor.hpp"
#include "actors/user_actor.hpp"
#include "mext/schemas/agenda.capnp.h"
#include "mext/schemas/booth.capnp.h"
#include "mext/schemas/chat_room.capnp.h"
#include "mext/schemas/common.capnp.h"
#include "mext/schemas/connection_log.capnp.h"
#include "mext/schemas/exhibition.capnp.h"
#include "mext/schemas/organization.capnp.h"
#include "mext/schemas/user.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/record_codec.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::actors;
using schema::RecordKind;

namespace {

constexpr auto timeout = std::chrono::seconds(10);

// -- reading fixtures ---------------------------------------------------------------------------

std::string read_fixture(const std::string& name) {
  std::ifstream in{std::filesystem::path{MEXT_FIXTURE_DIR} / name, std::ios::binary};
  BOOST_REQUIRE_MESSAGE(in, "missing fixture " << name);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A decoded fixture; `rec` owns the words `root` reads from.
template <class T>
struct decoded {
  std::unique_ptr<persistence::record_reader> rec;
  typename T::Reader root;
};

template <class T>
decoded<T> decode(const std::string& name, RecordKind kind) {
  auto rec = persistence::decode_record(read_fixture(name), kind);
  BOOST_REQUIRE_MESSAGE(rec, name << ": " << detail_of(rec.error()));
  auto root = (*rec)->template root<T>();
  return {std::move(*rec), root};
}

std::string str(capnp::Text::Reader t) {
  return {t.cStr(), t.size()};
}

std::string bytes(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

std::vector<std::string> strs(capnp::List<capnp::Text>::Reader xs) {
  std::vector<std::string> out;
  for (auto x : xs) out.push_back(str(x));
  return out;
}

std::vector<std::string> byte_list(capnp::List<capnp::Data>::Reader xs) {
  std::vector<std::string> out;
  for (auto x : xs) out.push_back(bytes(x));
  return out;
}

// A personal value in envelope version 0 (field_sealer.hpp): the byte 0x00, then the text.
// Spelled out here so that a change of the envelope fails too.
std::string sealed(std::string_view plain) {
  std::string out(1, '\0');
  out += plain;
  return out;
}

std::vector<std::string> sealed(std::initializer_list<std::string_view> plains) {
  std::vector<std::string> out;
  for (auto p : plains) out.push_back(sealed(p));
  return out;
}

// Enumerants compared by their generated constants: a renumbered enumerant reads as another.
template <class E>
int num(E e) {
  return static_cast<int>(e);
}

// -- the fixture set --------------------------------------------------------------------------

struct kind_fixtures {
  std::string kind;  // file prefix
  RecordKind snapshot;
  RecordKind event;
  capnp::StructSchema event_schema;
  std::vector<std::string> members;  // union members of the event, snake_case
};

std::vector<kind_fixtures> all_fixtures() {
  return {
      {"user",
       RecordKind::USER_SNAPSHOT,
       RecordKind::USER_EVENT,
       capnp::Schema::from<schema::UserEvent>(),
       {"registered", "profile_updated", "password_changed", "role_granted", "role_revoked",
        "erased"}},
      {"organization",
       RecordKind::ORGANIZATION_SNAPSHOT,
       RecordKind::ORGANIZATION_EVENT,
       capnp::Schema::from<schema::OrganizationEvent>(),
       {"created", "updated", "representative_added", "representative_removed", "mention_added",
        "mention_removed"}},
      {"exhibition",
       RecordKind::EXHIBITION_SNAPSHOT,
       RecordKind::EXHIBITION_EVENT,
       capnp::Schema::from<schema::ExhibitionEvent>(),
       {"created", "updated", "booth_added", "session_added", "media_added", "speaker_removed"}},
      {"booth",
       RecordKind::BOOTH_SNAPSHOT,
       RecordKind::BOOTH_EVENT,
       capnp::Schema::from<schema::BoothEvent>(),
       {"created", "updated", "content_added", "content_removed", "visited", "visitor_erased",
        "author_erased"}},
      {"chat_room",
       RecordKind::CHAT_ROOM_SNAPSHOT,
       RecordKind::CHAT_ROOM_EVENT,
       capnp::Schema::from<schema::ChatRoomEvent>(),
       {"created", "posted", "deleted", "author_erased", "purged_before"}},
      {"agenda",
       RecordKind::AGENDA_SNAPSHOT,
       RecordKind::AGENDA_EVENT,
       capnp::Schema::from<schema::AgendaEvent>(),
       {"session_attended", "session_left", "meeting_set", "erased"}},
      {"connection_log",
       RecordKind::CONNECTION_LOG_SNAPSHOT,
       RecordKind::CONNECTION_LOG_EVENT,
       capnp::Schema::from<schema::ConnectionLogEvent>(),
       {"recorded", "purged_before", "erased"}},
  };
}

std::string snapshot_file(const std::string& kind) {
  return kind + "_snapshot_v1.bin";
}

std::string event_file(const std::string& kind, const std::string& member) {
  return kind + "_event_" + member + "_v1.bin";
}

std::string snake_case(std::string_view camel) {
  std::string out;
  for (char c : camel) {
    if (c >= 'A' && c <= 'Z') {
      out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

// Every fixture file with the record kind it must decode as.
std::vector<std::pair<std::string, RecordKind>> every_fixture_file() {
  std::vector<std::pair<std::string, RecordKind>> out;
  for (auto& k : all_fixtures()) {
    out.emplace_back(snapshot_file(k.kind), k.snapshot);
    for (auto& m : k.members) out.emplace_back(event_file(k.kind, m), k.event);
  }
  return out;
}

// The event fixture of `member`, checked to hold that member of the union.
template <class E>
decoded<E> event(const std::string& kind, const std::string& member, RecordKind record_kind,
                 typename E::Which which, int64_t at) {
  auto d = decode<E>(event_file(kind, member), record_kind);
  BOOST_REQUIRE_MESSAGE(num(d.root.which()) == num(which), kind << " " << member);
  BOOST_TEST(d.root.getAt() == at);
  return d;
}

// -- the argon2id hashes inside the user fixtures (fixed salt "mext-fixture-slt") -------------

const std::string snapshot_password_hash =
    "$argon2id$v=19$m=8,t=1,p=1$bWV4dC1maXh0dXJlLXNsdA$bANcB0xkQXRr4xHn0sz2hoJVBiRlL/HxgTQ2d+7+S+Q";
const std::string registered_password_hash =
    "$argon2id$v=19$m=8,t=1,p=1$bWV4dC1maXh0dXJlLXNsdA$eb5JRJxKGHVh9GV9NPAp09aG4G+fNv3IntBKhklWJbI";
const std::string changed_password_hash =
    "$argon2id$v=19$m=8,t=1,p=1$bWV4dC1maXh0dXJlLXNsdA$KG8B98Fpn82mHmmUqR7RcVgvja/qd1mOmBdj+zVbR0k";

// -- ids of the fixtures ----------------------------------------------------------------------

const std::string org_201 = "org_00000000000000000000000000000201";
const std::string org_202 = "org_00000000000000000000000000000202";
const std::string org_203 = "org_00000000000000000000000000000203";
const std::string exh_301 = "exh_00000000000000000000000000000301";
const std::string ses_311 = exh_301 + ".ses_00000000000000000000000000000311";
const std::string ses_312 = exh_301 + ".ses_00000000000000000000000000000312";
const std::string bth_401 = "bth_00000000000000000000000000000401";
const std::string bth_402 = "bth_00000000000000000000000000000402";
const std::string room_501 = "room_00000000000000000000000000000501";
const std::string usr_601 = "usr_00000000000000000000000000000601";
const std::string clog_701 = "clog_00000000000000000000000000000701";

std::string usr(const char* hex3) {
  return std::string{"usr_00000000000000000000000000000"} + hex3;
}

std::string file(const char* hex3) {
  return std::string{"file_00000000000000000000000000000"} + hex3;
}

}  // namespace

// == the fixture set itself ===================================================================

BOOST_AUTO_TEST_CASE(every_union_member_of_every_event_has_a_fixture) {
  for (auto& k : all_fixtures()) {
    std::vector<std::string> in_schema;
    for (auto f : k.event_schema.getUnionFields())
      in_schema.push_back(snake_case(str(f.getProto().getName())));
    // A new member needs a fixture (and its assertions below) before it ships.
    BOOST_TEST_CONTEXT(k.kind) {
      BOOST_TEST(in_schema == k.members);
    }
    read_fixture(snapshot_file(k.kind));
    for (auto& m : k.members) read_fixture(event_file(k.kind, m));
  }
}

BOOST_AUTO_TEST_CASE(every_fixture_decodes_only_as_its_own_record_kind) {
  for (auto& [name, kind] : every_fixture_file()) {
    auto bytes = read_fixture(name);
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(static_cast<bool>(persistence::decode_record(bytes, kind)));
      // Another kind is refused by the frame, before any field is read.
      auto other = static_cast<RecordKind>((static_cast<uint16_t>(kind) + 1) % 14);
      auto wrong = persistence::decode_record(bytes, other);
      BOOST_REQUIRE(!wrong);
      BOOST_TEST(code_of(wrong.error()) == errc::corrupt_record);
    }
  }
}

BOOST_AUTO_TEST_CASE(any_single_flipped_byte_of_a_fixture_is_corrupt_record) {
  for (auto& [name, kind] : every_fixture_file()) {
    auto good = read_fixture(name);
    size_t accepted = 0;
    // Header (version, kind, checksum) and payload alike: CRC-32C catches every burst of up to
    // 32 bits, so no single-byte change may pass.
    for (size_t i = 0; i < good.size(); ++i) {
      auto bad = good;
      bad[i] = static_cast<char>(bad[i] ^ 0x5a);
      auto rec = persistence::decode_record(bad, kind);
      if (rec || code_of(rec.error()) != errc::corrupt_record) ++accepted;
    }
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST(accepted == 0u);
    }
  }
}

// == user =====================================================================================

BOOST_AUTO_TEST_CASE(user_snapshot_v1_keeps_every_field) {
  auto d = decode<schema::UserSnapshot>("user_snapshot_v1.bin", RecordKind::USER_SNAPSHOT);
  auto s = d.root;
  BOOST_TEST(s.getExists());
  BOOST_TEST(s.getErased());
  BOOST_TEST(s.getCreatedAt() == 1600000000101);
  BOOST_TEST(bytes(s.getEmailIndex()) == "\xA1\xB2\xC3\xD4snapshot-email-index");
  BOOST_TEST(bytes(s.getPasswordHash()) == sealed(snapshot_password_hash));
  auto p = s.getProfile();
  BOOST_TEST(bytes(p.getFirstName()) == sealed("Ada"));
  BOOST_TEST(bytes(p.getSurname()) == sealed("Lovelace"));
  BOOST_TEST(bytes(p.getEmail()) == sealed("ada@fixture.example"));
  BOOST_TEST(bytes(p.getLinkedinUrl()) == sealed("https://www.linkedin.com/in/ada-fixture"));
  BOOST_TEST(str(p.getPhotoFileId()) == file("f01"));
  BOOST_TEST(bytes(p.getCountry()) == sealed("United Kingdom"));
  BOOST_TEST(str(p.getOrganizationId()) == org_201);
  BOOST_TEST(bytes(p.getRoleInOrg()) == sealed("Analyst"));
  BOOST_TEST(byte_list(p.getInterests()) == sealed({"engines", "poetry"}));
  BOOST_TEST(byte_list(p.getKeywords()) == sealed({"bernoulli", "notes"}));
  BOOST_TEST(bytes(p.getAddress()) == sealed("12 St James's Square, London"));
  auto roles = s.getRoles();
  BOOST_REQUIRE(roles.size() == 3u);
  BOOST_TEST(num(roles[0].getRole()) == num(schema::Role::ADMIN));
  BOOST_TEST(str(roles[0].getScope()) == "");
  BOOST_TEST(num(roles[1].getRole()) == num(schema::Role::ORG_REP));
  BOOST_TEST(str(roles[1].getScope()) == org_201);
  BOOST_TEST(num(roles[2].getRole()) == num(schema::Role::SPEAKER));
  BOOST_TEST(str(roles[2].getScope()) == ses_311);
}

BOOST_AUTO_TEST_CASE(user_events_v1_keep_every_field) {
  using E = schema::UserEvent;
  const auto kind = RecordKind::USER_EVENT;
  {
    auto d = event<E>("user", "registered", kind, E::REGISTERED, 1600000000111);
    auto r = d.root.getRegistered();
    BOOST_TEST(bytes(r.getEmailIndex()) == "\xA1\xB2\xC3\xD5registered-email-index");
    BOOST_TEST(bytes(r.getPasswordHash()) == sealed(registered_password_hash));
    auto p = r.getProfile();
    BOOST_TEST(bytes(p.getFirstName()) == sealed("Grace"));
    BOOST_TEST(bytes(p.getSurname()) == sealed("Hopper"));
    BOOST_TEST(bytes(p.getEmail()) == sealed("grace@fixture.example"));
    BOOST_TEST(bytes(p.getLinkedinUrl()) == sealed("https://linkedin.com/in/grace-fixture"));
    BOOST_TEST(str(p.getPhotoFileId()) == file("f02"));
    BOOST_TEST(bytes(p.getCountry()) == sealed("United States"));
    BOOST_TEST(str(p.getOrganizationId()) == org_202);
    BOOST_TEST(bytes(p.getRoleInOrg()) == sealed("Rear Admiral"));
    BOOST_TEST(byte_list(p.getInterests()) == sealed({"compilers", "cobol"}));
    BOOST_TEST(byte_list(p.getKeywords()) == sealed({"nanosecond", "moth"}));
    BOOST_TEST(bytes(p.getAddress()) == sealed("1 Navy Yard, Arlington"));
    auto roles = r.getRoles();
    BOOST_REQUIRE(roles.size() == 2u);
    BOOST_TEST(num(roles[0].getRole()) == num(schema::Role::VISITOR));
    BOOST_TEST(str(roles[0].getScope()) == "");
    BOOST_TEST(num(roles[1].getRole()) == num(schema::Role::ORG_REP));
    BOOST_TEST(str(roles[1].getScope()) == org_202);
  }
  {
    auto d = event<E>("user", "profile_updated", kind, E::PROFILE_UPDATED, 1600000000112);
    auto u = d.root.getProfileUpdated();
    BOOST_TEST(bytes(u.getEmailIndex()) == "\xA1\xB2\xC3\xD6updated-email-index");
    auto p = u.getProfile();
    BOOST_TEST(bytes(p.getFirstName()) == sealed("Katherine"));
    BOOST_TEST(bytes(p.getSurname()) == sealed("Johnson"));
    BOOST_TEST(bytes(p.getEmail()) == sealed("katherine@fixture.example"));
    BOOST_TEST(bytes(p.getLinkedinUrl()) ==
               sealed("https://www.linkedin.com/in/katherine-fixture"));
    BOOST_TEST(str(p.getPhotoFileId()) == file("f03"));
    BOOST_TEST(bytes(p.getCountry()) == sealed("USA"));
    BOOST_TEST(str(p.getOrganizationId()) == org_203);
    BOOST_TEST(bytes(p.getRoleInOrg()) == sealed("Mathematician"));
    BOOST_TEST(byte_list(p.getInterests()) == sealed({"orbits", "trajectories"}));
    BOOST_TEST(byte_list(p.getKeywords()) == sealed({"friendship7", "langley"}));
    BOOST_TEST(bytes(p.getAddress()) == sealed("Hampton, Virginia"));
  }
  {
    auto d = event<E>("user", "password_changed", kind, E::PASSWORD_CHANGED, 1600000000113);
    BOOST_TEST(bytes(d.root.getPasswordChanged()) == sealed(changed_password_hash));
  }
  {
    auto d = event<E>("user", "role_granted", kind, E::ROLE_GRANTED, 1600000000114);
    BOOST_TEST(num(d.root.getRoleGranted().getRole()) == num(schema::Role::SPEAKER));
    BOOST_TEST(str(d.root.getRoleGranted().getScope()) == ses_312);
  }
  {
    auto d = event<E>("user", "role_revoked", kind, E::ROLE_REVOKED, 1600000000115);
    BOOST_TEST(num(d.root.getRoleRevoked().getRole()) == num(schema::Role::ORG_REP));
    BOOST_TEST(str(d.root.getRoleRevoked().getScope()) == org_202);
  }
  event<E>("user", "erased", kind, E::ERASED, 1600000000116);
}

// == organization =============================================================================

BOOST_AUTO_TEST_CASE(organization_snapshot_v1_keeps_every_field) {
  auto d = decode<schema::OrganizationSnapshot>("organization_snapshot_v1.bin",
                                                RecordKind::ORGANIZATION_SNAPSHOT);
  auto s = d.root;
  BOOST_TEST(s.getExists());
  BOOST_TEST(s.getCreatedAt() == 1600000000201);
  BOOST_TEST(str(s.getInfo().getName()) == "Analytical Engines Ltd");
  BOOST_TEST(str(s.getInfo().getCountry()) == "GB");
  BOOST_TEST(str(s.getInfo().getWebsite()) == "https://engines.fixture.example");
  BOOST_TEST(str(s.getInfo().getDescription()) == "Difference and analytical engines");
  BOOST_TEST(strs(s.getRepresentatives()) == (std::vector<std::string>{usr("a01"), usr("a02")}));
  auto ms = s.getMentions();
  BOOST_REQUIRE(ms.size() == 2u);
  BOOST_TEST(str(ms[0].getMentionId()) == org_201 + ".mnt_00000000000000000000000000000211");
  BOOST_TEST(str(ms[0].getAuthorId()) == usr("a03"));
  BOOST_TEST(str(ms[0].getSourceUrl()) == "https://news.fixture.example/engines");
  BOOST_TEST(bytes(ms[0].getText()) == sealed("Engines that weave algebra"));
  BOOST_TEST(ms[0].getAt() == 1600000000202);
  BOOST_TEST(str(ms[1].getMentionId()) == org_201 + ".mnt_00000000000000000000000000000212");
  BOOST_TEST(str(ms[1].getAuthorId()) == usr("a04"));
  BOOST_TEST(str(ms[1].getSourceUrl()) == "https://blog.fixture.example/loom");
  BOOST_TEST(bytes(ms[1].getText()) == sealed("Jacquard would approve"));
  BOOST_TEST(ms[1].getAt() == 1600000000203);
}

BOOST_AUTO_TEST_CASE(organization_events_v1_keep_every_field) {
  using E = schema::OrganizationEvent;
  const auto kind = RecordKind::ORGANIZATION_EVENT;
  {
    auto d = event<E>("organization", "created", kind, E::CREATED, 1600000000211);
    auto i = d.root.getCreated();
    BOOST_TEST(str(i.getName()) == "Babbage & Co");
    BOOST_TEST(str(i.getCountry()) == "FR");
    BOOST_TEST(str(i.getWebsite()) == "https://babbage.fixture.example");
    BOOST_TEST(str(i.getDescription()) == "Founded for the fixtures");
  }
  {
    auto d = event<E>("organization", "updated", kind, E::UPDATED, 1600000000212);
    auto i = d.root.getUpdated();
    BOOST_TEST(str(i.getName()) == "Babbage Engines");
    BOOST_TEST(str(i.getCountry()) == "DE");
    BOOST_TEST(str(i.getWebsite()) == "https://engines.fixture.example/de");
    BOOST_TEST(str(i.getDescription()) == "Renamed in an update");
  }
  {
    auto d = event<E>("organization", "representative_added", kind, E::REPRESENTATIVE_ADDED,
                      1600000000213);
    BOOST_TEST(str(d.root.getRepresentativeAdded()) == usr("a05"));
  }
  {
    auto d = event<E>("organization", "representative_removed", kind, E::REPRESENTATIVE_REMOVED,
                      1600000000214);
    BOOST_TEST(str(d.root.getRepresentativeRemoved()) == usr("a01"));
  }
  {
    auto d = event<E>("organization", "mention_added", kind, E::MENTION_ADDED, 1600000000215);
    auto m = d.root.getMentionAdded();
    BOOST_TEST(str(m.getMentionId()) == org_201 + ".mnt_00000000000000000000000000000213");
    BOOST_TEST(str(m.getAuthorId()) == usr("a03"));
    BOOST_TEST(str(m.getSourceUrl()) == "https://press.fixture.example/added");
    BOOST_TEST(bytes(m.getText()) == sealed("Added by an event"));
    BOOST_TEST(m.getAt() == 1600000000216);
  }
  {
    auto d = event<E>("organization", "mention_removed", kind, E::MENTION_REMOVED, 1600000000217);
    BOOST_TEST(str(d.root.getMentionRemoved()) ==
               org_201 + ".mnt_00000000000000000000000000000212");
  }
}

// == exhibition ===============================================================================

BOOST_AUTO_TEST_CASE(exhibition_snapshot_v1_keeps_every_field) {
  auto d = decode<schema::ExhibitionSnapshot>("exhibition_snapshot_v1.bin",
                                              RecordKind::EXHIBITION_SNAPSHOT);
  auto s = d.root;
  BOOST_TEST(s.getExists());
  BOOST_TEST(s.getCreatedAt() == 1600000000301);
  BOOST_TEST(str(s.getInfo().getTitle()) == "Fixture Expo");
  BOOST_TEST(str(s.getInfo().getDescription()) == "Every field set");
  BOOST_TEST(s.getInfo().getStartsAt() == 1700000000000);
  BOOST_TEST(s.getInfo().getEndsAt() == 1700086400000);
  BOOST_REQUIRE(s.getBooths().size() == 1u);
  BOOST_TEST(str(s.getBooths()[0].getBoothId()) == bth_401);
  BOOST_TEST(str(s.getBooths()[0].getOrganizationId()) == org_201);
  BOOST_REQUIRE(s.getSessions().size() == 1u);
  auto ses = s.getSessions()[0];
  BOOST_TEST(str(ses.getSessionId()) == ses_311);
  BOOST_TEST(str(ses.getTitle()) == "Opening keynote");
  BOOST_TEST(ses.getStartsAt() == 1700000360000);
  BOOST_TEST(ses.getEndsAt() == 1700003960000);
  BOOST_TEST(strs(ses.getSpeakerIds()) == (std::vector<std::string>{usr("b01"), usr("b02")}));
  BOOST_REQUIRE(ses.getMedia().size() == 1u);
  auto m = ses.getMedia()[0];
  BOOST_TEST(str(m.getSpeakerId()) == usr("b01"));
  BOOST_TEST(num(m.getKind()) == num(schema::MediaKind::VIDEO));
  BOOST_TEST(str(m.getFileId()) == file("f31"));
  BOOST_TEST(bytes(m.getCaption()) == sealed("Keynote recording"));
}

BOOST_AUTO_TEST_CASE(exhibition_events_v1_keep_every_field) {
  using E = schema::ExhibitionEvent;
  const auto kind = RecordKind::EXHIBITION_EVENT;
  {
    auto d = event<E>("exhibition", "created", kind, E::CREATED, 1600000000311);
    auto i = d.root.getCreated();
    BOOST_TEST(str(i.getTitle()) == "Created Expo");
    BOOST_TEST(str(i.getDescription()) == "From the created event");
    BOOST_TEST(i.getStartsAt() == 1700100000000);
    BOOST_TEST(i.getEndsAt() == 1700186400000);
  }
  {
    auto d = event<E>("exhibition", "updated", kind, E::UPDATED, 1600000000312);
    auto i = d.root.getUpdated();
    BOOST_TEST(str(i.getTitle()) == "Updated Expo");
    BOOST_TEST(str(i.getDescription()) == "From the updated event");
    BOOST_TEST(i.getStartsAt() == 1700200000000);
    BOOST_TEST(i.getEndsAt() == 1700286400000);
  }
  {
    auto d = event<E>("exhibition", "booth_added", kind, E::BOOTH_ADDED, 1600000000313);
    BOOST_TEST(str(d.root.getBoothAdded().getBoothId()) == bth_402);
    BOOST_TEST(str(d.root.getBoothAdded().getOrganizationId()) == org_202);
  }
  {
    auto d = event<E>("exhibition", "session_added", kind, E::SESSION_ADDED, 1600000000314);
    auto s = d.root.getSessionAdded();
    BOOST_TEST(str(s.getSessionId()) == ses_312);
    BOOST_TEST(str(s.getTitle()) == "Closing panel");
    BOOST_TEST(s.getStartsAt() == 1700080000000);
    BOOST_TEST(s.getEndsAt() == 1700083600000);
    BOOST_TEST(strs(s.getSpeakerIds()) == std::vector<std::string>{usr("b03")});
    BOOST_REQUIRE(s.getMedia().size() == 1u);
    BOOST_TEST(str(s.getMedia()[0].getSpeakerId()) == usr("b03"));
    BOOST_TEST(num(s.getMedia()[0].getKind()) == num(schema::MediaKind::VIDEO));
    BOOST_TEST(str(s.getMedia()[0].getFileId()) == file("f32"));
    BOOST_TEST(bytes(s.getMedia()[0].getCaption()) == sealed("Panel slides"));
  }
  {
    auto d = event<E>("exhibition", "media_added", kind, E::MEDIA_ADDED, 1600000000315);
    auto a = d.root.getMediaAdded();
    BOOST_TEST(str(a.getSessionId()) == ses_311);
    BOOST_TEST(str(a.getMedia().getSpeakerId()) == usr("b02"));
    BOOST_TEST(num(a.getMedia().getKind()) == num(schema::MediaKind::VIDEO));
    BOOST_TEST(str(a.getMedia().getFileId()) == file("f33"));
    BOOST_TEST(bytes(a.getMedia().getCaption()) == sealed("Second speaker's demo"));
  }
  {
    auto d = event<E>("exhibition", "speaker_removed", kind, E::SPEAKER_REMOVED, 1600000000316);
    BOOST_TEST(str(d.root.getSpeakerRemoved().getSessionId()) == ses_311);
    BOOST_TEST(str(d.root.getSpeakerRemoved().getSpeakerId()) == usr("b01"));
  }
}

// == booth ====================================================================================

BOOST_AUTO_TEST_CASE(booth_snapshot_v1_keeps_every_field) {
  auto d = decode<schema::BoothSnapshot>("booth_snapshot_v1.bin", RecordKind::BOOTH_SNAPSHOT);
  auto s = d.root;
  BOOST_TEST(s.getExists());
  BOOST_TEST(s.getCreatedAt() == 1600000000401);
  auto i = s.getInfo();
  BOOST_TEST(str(i.getExhibitionId()) == exh_301);
  BOOST_TEST(str(i.getOrganizationId()) == org_201);
  BOOST_TEST(str(i.getName()) == "Engine Booth");
  BOOST_TEST(str(i.getDescription()) == "Come see the engine");
  BOOST_TEST(str(i.getChatRoomId()) == room_501);
  BOOST_REQUIRE(s.getContents().size() == 1u);
  auto c = s.getContents()[0];
  BOOST_TEST(str(c.getContentId()) == bth_401 + ".cnt_00000000000000000000000000000411");
  BOOST_TEST(num(c.getKind()) == num(schema::ContentKind::DATASHEET));
  BOOST_TEST(str(c.getTitle()) == "Engine datasheet");
  BOOST_TEST(str(c.getBody()) == "Specifications of the engine");
  BOOST_TEST(str(c.getFileId()) == file("f41"));
  BOOST_TEST(str(c.getAuthorId()) == usr("c01"));
  BOOST_TEST(c.getCreatedAt() == 1600000000402);
  BOOST_TEST(s.getTotalVisits() == 17u);
  BOOST_REQUIRE(s.getVisits().size() == 1u);
  auto v = s.getVisits()[0];
  BOOST_TEST(str(v.getVisitorId()) == usr("c02"));
  BOOST_TEST(v.getCount() == 5u);
  BOOST_TEST(v.getFirstAt() == 1600000000403);
  BOOST_TEST(v.getLastAt() == 1600000000404);
  BOOST_TEST(v.getSharedContact());
  BOOST_TEST(s.getErasedVisitors() == 3u);
}

BOOST_AUTO_TEST_CASE(booth_events_v1_keep_every_field) {
  using E = schema::BoothEvent;
  const auto kind = RecordKind::BOOTH_EVENT;
  {
    auto d = event<E>("booth", "created", kind, E::CREATED, 1600000000411);
    auto i = d.root.getCreated();
    BOOST_TEST(str(i.getExhibitionId()) == "exh_00000000000000000000000000000302");
    BOOST_TEST(str(i.getOrganizationId()) == org_202);
    BOOST_TEST(str(i.getName()) == "Created Booth");
    BOOST_TEST(str(i.getDescription()) == "From the created event");
    BOOST_TEST(str(i.getChatRoomId()) == "room_00000000000000000000000000000502");
  }
  {
    auto d = event<E>("booth", "updated", kind, E::UPDATED, 1600000000412);
    auto i = d.root.getUpdated();
    BOOST_TEST(str(i.getExhibitionId()) == "exh_00000000000000000000000000000303");
    BOOST_TEST(str(i.getOrganizationId()) == org_203);
    BOOST_TEST(str(i.getName()) == "Updated Booth");
    BOOST_TEST(str(i.getDescription()) == "From the updated event");
    BOOST_TEST(str(i.getChatRoomId()) == "room_00000000000000000000000000000503");
  }
  {
    auto d = event<E>("booth", "content_added", kind, E::CONTENT_ADDED, 1600000000413);
    auto c = d.root.getContentAdded();
    BOOST_TEST(str(c.getContentId()) == bth_401 + ".cnt_00000000000000000000000000000412");
    BOOST_TEST(num(c.getKind()) == num(schema::ContentKind::VIDEO));
    BOOST_TEST(str(c.getTitle()) == "Engine video");
    BOOST_TEST(str(c.getBody()) == "Watch it run");
    BOOST_TEST(str(c.getFileId()) == file("f42"));
    BOOST_TEST(str(c.getAuthorId()) == usr("c03"));
    BOOST_TEST(c.getCreatedAt() == 1600000000414);
  }
  {
    auto d = event<E>("booth", "content_removed", kind, E::CONTENT_REMOVED, 1600000000415);
    BOOST_TEST(str(d.root.getContentRemoved()) ==
               bth_401 + ".cnt_00000000000000000000000000000411");
  }
  {
    auto d = event<E>("booth", "visited", kind, E::VISITED, 1600000000416);
    BOOST_TEST(str(d.root.getVisited().getVisitorId()) == usr("c04"));
    BOOST_TEST(d.root.getVisited().getSharedContact());
  }
  {
    auto d = event<E>("booth", "visitor_erased", kind, E::VISITOR_ERASED, 1600000000417);
    BOOST_TEST(str(d.root.getVisitorErased()) == usr("c02"));
  }
  {
    auto d = event<E>("booth", "author_erased", kind, E::AUTHOR_ERASED, 1600000000418);
    BOOST_TEST(str(d.root.getAuthorErased()) == usr("c03"));
  }
}

// == chat room ================================================================================

BOOST_AUTO_TEST_CASE(chat_room_snapshot_v1_keeps_every_field) {
  auto d =
      decode<schema::ChatRoomSnapshot>("chat_room_snapshot_v1.bin", RecordKind::CHAT_ROOM_SNAPSHOT);
  auto s = d.root;
  BOOST_TEST(s.getExists());
  BOOST_TEST(s.getCreatedAt() == 1600000000501);
  auto i = s.getInfo();
  BOOST_TEST(num(i.getKind()) == num(schema::RoomKind::DIRECT));
  BOOST_TEST(str(i.getBoothId()) == bth_401);
  BOOST_TEST(str(i.getOrganizationId()) == org_201);
  BOOST_TEST(strs(i.getMemberIds()) == (std::vector<std::string>{usr("d01"), usr("d02")}));
  auto ms = s.getMessages();
  BOOST_REQUIRE(ms.size() == 2u);
  BOOST_TEST(ms[0].getNumber() == 1u);
  BOOST_TEST(str(ms[0].getMessageId()) == room_501 + ".msg_00000000000000000000000000000511");
  BOOST_TEST(str(ms[0].getAuthorId()) == usr("d01"));
  BOOST_TEST(bytes(ms[0].getText()) == sealed("Hello from the snapshot"));
  BOOST_TEST(str(ms[0].getFileId()) == file("f51"));
  BOOST_TEST(ms[0].getSentAt() == 1600000000502);
  BOOST_TEST(str(ms[0].getClientMsgId()) == "client-0511");
  BOOST_TEST(!ms[0].getDeleted());
  BOOST_TEST(!ms[0].getAuthorErased());
  BOOST_TEST(ms[1].getNumber() == 2u);
  BOOST_TEST(str(ms[1].getMessageId()) == room_501 + ".msg_00000000000000000000000000000512");
  BOOST_TEST(str(ms[1].getAuthorId()) == usr("d02"));
  BOOST_TEST(bytes(ms[1].getText()) == sealed("Second message"));
  BOOST_TEST(str(ms[1].getFileId()) == file("f52"));
  BOOST_TEST(ms[1].getSentAt() == 1600000000503);
  BOOST_TEST(str(ms[1].getClientMsgId()) == "client-0512");
  BOOST_TEST(ms[1].getDeleted());
  BOOST_TEST(ms[1].getAuthorErased());
}

BOOST_AUTO_TEST_CASE(chat_room_events_v1_keep_every_field) {
  using E = schema::ChatRoomEvent;
  const auto kind = RecordKind::CHAT_ROOM_EVENT;
  {
    auto d = event<E>("chat_room", "created", kind, E::CREATED, 1600000000511);
    auto i = d.root.getCreated();
    BOOST_TEST(num(i.getKind()) == num(schema::RoomKind::DIRECT));
    BOOST_TEST(str(i.getBoothId()) == bth_402);
    BOOST_TEST(str(i.getOrganizationId()) == org_202);
    BOOST_TEST(strs(i.getMemberIds()) == (std::vector<std::string>{usr("d01"), usr("d03")}));
  }
  {
    auto d = event<E>("chat_room", "posted", kind, E::POSTED, 1600000000512);
    auto m = d.root.getPosted();
    BOOST_TEST(m.getNumber() == 3u);
    BOOST_TEST(str(m.getMessageId()) == room_501 + ".msg_00000000000000000000000000000513");
    BOOST_TEST(str(m.getAuthorId()) == usr("d03"));
    BOOST_TEST(bytes(m.getText()) == sealed("Posted by an event"));
    BOOST_TEST(str(m.getFileId()) == file("f53"));
    BOOST_TEST(m.getSentAt() == 1600000000513);
    BOOST_TEST(str(m.getClientMsgId()) == "client-0513");
    BOOST_TEST(!m.getDeleted());
    BOOST_TEST(!m.getAuthorErased());
  }
  {
    auto d = event<E>("chat_room", "deleted", kind, E::DELETED, 1600000000514);
    BOOST_TEST(str(d.root.getDeleted().getMessageId()) ==
               room_501 + ".msg_00000000000000000000000000000511");
    BOOST_TEST(str(d.root.getDeleted().getById()) == usr("d01"));
  }
  {
    auto d = event<E>("chat_room", "author_erased", kind, E::AUTHOR_ERASED, 1600000000515);
    BOOST_TEST(str(d.root.getAuthorErased()) == usr("d02"));
  }
  {
    auto d = event<E>("chat_room", "purged_before", kind, E::PURGED_BEFORE, 1600000000516);
    BOOST_TEST(d.root.getPurgedBefore() == 1600000000504);
  }
}

// == agenda ===================================================================================

BOOST_AUTO_TEST_CASE(agenda_snapshot_v1_keeps_every_field) {
  auto d = decode<schema::AgendaSnapshot>("agenda_snapshot_v1.bin", RecordKind::AGENDA_SNAPSHOT);
  auto s = d.root;
  BOOST_TEST(s.getExists());
  BOOST_REQUIRE(s.getSessions().size() == 1u);
  auto e = s.getSessions()[0];
  BOOST_TEST(str(e.getSessionId()) == ses_311);
  BOOST_TEST(str(e.getExhibitionId()) == exh_301);
  BOOST_TEST(str(e.getTitle()) == "Opening keynote");
  BOOST_TEST(e.getStartsAt() == 1700000360000);
  BOOST_TEST(e.getEndsAt() == 1700003960000);
  BOOST_REQUIRE(s.getMeetings().size() == 1u);
  auto m = s.getMeetings()[0];
  BOOST_TEST(str(m.getMeetingId()) ==
             "agd_00000000000000000000000000000601.mtg_00000000000000000000000000000611");
  BOOST_TEST(str(m.getRequesterId()) == usr_601);
  BOOST_TEST(str(m.getInviteeId()) == usr("e02"));
  BOOST_TEST(str(m.getBoothId()) == bth_401);
  BOOST_TEST(m.getStartsAt() == 1700010000000);
  BOOST_TEST(m.getEndsAt() == 1700011800000);
  BOOST_TEST(bytes(m.getNote()) == sealed("Bring the datasheet"));
  BOOST_TEST(num(m.getStatus()) == num(schema::MeetingStatus::ACCEPTED));
  BOOST_TEST(m.getUpdatedAt() == 1600000000602);
  BOOST_TEST(m.getUnsynced());
}

BOOST_AUTO_TEST_CASE(agenda_events_v1_keep_every_field) {
  using E = schema::AgendaEvent;
  const auto kind = RecordKind::AGENDA_EVENT;
  {
    auto d = event<E>("agenda", "session_attended", kind, E::SESSION_ATTENDED, 1600000000611);
    auto s = d.root.getSessionAttended();
    BOOST_TEST(str(s.getSessionId()) == ses_312);
    BOOST_TEST(str(s.getExhibitionId()) == "exh_00000000000000000000000000000302");
    BOOST_TEST(str(s.getTitle()) == "Closing panel");
    BOOST_TEST(s.getStartsAt() == 1700080000000);
    BOOST_TEST(s.getEndsAt() == 1700083600000);
  }
  {
    auto d = event<E>("agenda", "session_left", kind, E::SESSION_LEFT, 1600000000612);
    BOOST_TEST(str(d.root.getSessionLeft()) == ses_311);
  }
  {
    auto d = event<E>("agenda", "meeting_set", kind, E::MEETING_SET, 1600000000613);
    auto m = d.root.getMeetingSet();
    BOOST_TEST(str(m.getMeetingId()) ==
               "agd_00000000000000000000000000000e03.mtg_00000000000000000000000000000612");
    BOOST_TEST(str(m.getRequesterId()) == usr("e03"));
    BOOST_TEST(str(m.getInviteeId()) == usr_601);
    BOOST_TEST(str(m.getBoothId()) == bth_402);
    BOOST_TEST(m.getStartsAt() == 1700020000000);
    BOOST_TEST(m.getEndsAt() == 1700021800000);
    BOOST_TEST(bytes(m.getNote()) == sealed("Let's talk engines"));
    BOOST_TEST(num(m.getStatus()) == num(schema::MeetingStatus::DECLINED));
    BOOST_TEST(m.getUpdatedAt() == 1600000000614);
    BOOST_TEST(m.getUnsynced());
  }
  event<E>("agenda", "erased", kind, E::ERASED, 1600000000615);
}

// == connection log ===========================================================================

BOOST_AUTO_TEST_CASE(connection_log_snapshot_v1_keeps_every_field) {
  auto d = decode<schema::ConnectionLogSnapshot>("connection_log_snapshot_v1.bin",
                                                 RecordKind::CONNECTION_LOG_SNAPSHOT);
  BOOST_TEST(d.root.getExists());
  BOOST_REQUIRE(d.root.getEntries().size() == 1u);
  auto c = d.root.getEntries()[0];
  BOOST_TEST(c.getAt() == 1600000000701);
  BOOST_TEST(num(c.getKind()) == num(schema::ConnectionKind::WEBSOCKET));
  BOOST_TEST(bytes(c.getIp()) == sealed("203.0.113.7"));
  BOOST_TEST(bytes(c.getIsp()) == sealed("Fixture Telecom"));
  BOOST_TEST(byte_list(c.getProxies()) == sealed({"198.51.100.1", "198.51.100.2"}));
  BOOST_TEST(bytes(c.getReferrer()) == sealed("https://ref.fixture.example/"));
  BOOST_TEST(bytes(c.getDeviceType()) == sealed("desktop"));
  BOOST_TEST(bytes(c.getOs()) == sealed("Linux"));
  BOOST_TEST(bytes(c.getScreen()) == sealed("1920x1080"));
}

BOOST_AUTO_TEST_CASE(connection_log_events_v1_keep_every_field) {
  using E = schema::ConnectionLogEvent;
  const auto kind = RecordKind::CONNECTION_LOG_EVENT;
  {
    auto d = event<E>("connection_log", "recorded", kind, E::RECORDED, 1600000000711);
    auto c = d.root.getRecorded();
    BOOST_TEST(c.getAt() == 1600000000712);
    BOOST_TEST(num(c.getKind()) == num(schema::ConnectionKind::WEBSOCKET));
    BOOST_TEST(bytes(c.getIp()) == sealed("2001:db8::7"));
    BOOST_TEST(bytes(c.getIsp()) == sealed("Fixture Mobile"));
    BOOST_TEST(byte_list(c.getProxies()) == sealed({"192.0.2.9"}));
    BOOST_TEST(bytes(c.getReferrer()) == sealed("https://ref.fixture.example/event"));
    BOOST_TEST(bytes(c.getDeviceType()) == sealed("phone"));
    BOOST_TEST(bytes(c.getOs()) == sealed("Android"));
    BOOST_TEST(bytes(c.getScreen()) == sealed("1080x2400"));
  }
  {
    auto d = event<E>("connection_log", "purged_before", kind, E::PURGED_BEFORE, 1600000000713);
    BOOST_TEST(d.root.getPurgedBefore() == 1600000000700);
  }
  event<E>("connection_log", "erased", kind, E::ERASED, 1600000000714);
}

// == restoring entities from fixture bytes through the real actors ============================

namespace {

caf::actor_system_config& with_types(caf::actor_system_config& cfg) {
  mext::test::use_mextd_scheduler(cfg);
  add_message_types(cfg);
  add_organization_types(cfg);
  add_chat_room_types(cfg);
  add_user_types(cfg);
  add_exhibition_types(cfg);
  add_booth_types(cfg);
  add_connection_log_types(cfg);
  return cfg;
}

// The snapshot's seq: the events go after it, as an actor that snapshotted at 10 leaves them.
constexpr uint64_t snapshot_seq = 10;

// A data directory seeded with fixture records, and the real engine started on it.
struct restore_fixture {
  test::temp_dir dir;
  caf::actor_system_config cfg;
  caf::actor_system sys{with_types(cfg)};
  caf::scoped_actor self{sys};
  std::unique_ptr<engine> eng;

  ~restore_fixture() {
    if (eng) eng->stop();
  }

  // Writes `snapshot` (a fixture file, or raw bytes when `raw`) at snapshot_seq and the event
  // fixtures after it, straight into LMDB: the store is closed again before the engine opens it.
  void seed(const std::string& id, const std::optional<std::string>& snapshot,
            const std::vector<std::string>& events) {
    BOOST_REQUIRE_MESSAGE(!eng, "seed before start: the engine owns the store");
    persistence::store_settings settings;
    settings.dir = dir.path() / "lmdb";
    auto store = persistence::lmdb_store::open(settings);
    BOOST_REQUIRE_MESSAGE(store, "open store: " << detail_of(store.error()));
    persistence::write_item item;
    if (snapshot) item.put_snapshot(id, snapshot_seq, *snapshot);
    uint64_t seq = snapshot_seq;
    for (auto& e : events) item.append_event(id, ++seq, e);
    std::vector<persistence::write_item*> items{&item};
    auto results = (*store)->commit(items);
    BOOST_REQUIRE(results.size() == 1u);
    BOOST_REQUIRE_MESSAGE(!results[0], "seed commit: " << detail_of(results[0]));
  }

  void seed_fixtures(const std::string& id, const std::string& kind,
                     const std::vector<std::string>& members) {
    std::vector<std::string> events;
    for (auto& m : members) events.push_back(read_fixture(event_file(kind, m)));
    seed(id, read_fixture(snapshot_file(kind)), events);
  }

  void start() {
    engine_options opts;
    opts.data_dir = dir.path();
    // No passivation while a test reads: restore happens once, on the first resolve.
    opts.entities.idle_passivate = std::chrono::milliseconds(0);
    auto e = engine::start(sys, opts,
                           {{"org", make_organization_actor},
                            {"room", make_chat_room_actor},
                            {"usr", make_user_actor},
                            {"exh", make_exhibition_actor},
                            {"bth", make_booth_actor},
                            {"clog", make_connection_log_actor}});
    BOOST_REQUIRE_MESSAGE(e, "engine start: " << detail_of(e.error()));
    eng = std::move(*e);
  }

  // The directory's answer to resolve (or activate): the actor, or the error.
  caf::expected<caf::actor> lookup(const std::string& id, bool create = false) {
    caf::expected<caf::actor> out{make_error(errc::internal, "no answer")};
    auto on_actor = [&](caf::actor& a) { out = std::move(a); };
    auto on_error = [&](caf::error& e) { out = std::move(e); };
    if (create)
      self->request(eng->directory(), timeout, activate_atom::value, id)
          .receive(on_actor, on_error);
    else
      self->request(eng->directory(), timeout, resolve_atom::value, id).receive(on_actor, on_error);
    return out;
  }

  // The engine error of the lookup; errc::none when it answers an actor.
  std::optional<errc> refused_lookup(const std::string& id, bool create = false) {
    auto a = lookup(id, create);
    return a ? std::optional<errc>{errc::none} : code_of(a.error());
  }

  template <class Handle>
  Handle resolve(const std::string& id) {
    auto a = lookup(id);
    BOOST_REQUIRE_MESSAGE(a, "resolve " << id << ": " << detail_of(a.error()));
    return caf::actor_cast<Handle>(*a);
  }

  template <class R, class Handle, class... Ts>
  R ask(const Handle& h, Ts&&... xs) {
    R out{};
    self->request(h, timeout, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); },
                 [&](caf::error& e) { BOOST_FAIL("unexpected error: " << detail_of(e)); });
    return out;
  }

  template <class R, class Handle, class... Ts>
  std::optional<errc> refusal(const Handle& h, Ts&&... xs) {
    std::optional<errc> out;
    self->request(h, timeout, std::forward<Ts>(xs)...)
        .receive([&](R&) { out = errc::none; }, [&](caf::error& e) { out = code_of(e); });
    return out;
  }

  size_t resident() {
    size_t n = 0;
    self->request(eng->directory(), timeout, list_atom::value, std::string{}, uint32_t{1000})
        .receive([&](std::vector<resident_info>& xs) { n = xs.size(); },
                 [&](caf::error& e) { BOOST_FAIL("list: " << detail_of(e)); });
    return n;
  }
};

const caller admin{"usr_00000000000000000000000000000fff", true, {}};

std::string flip_byte_in_payload(std::string bytes) {
  // Past the 6-byte frame header: the checksum, not the frame, must catch it.
  bytes[6 + (bytes.size() - 6) / 2] ^= 0x20;
  return bytes;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(organization_restores_from_the_v1_snapshot_alone, restore_fixture) {
  seed(org_201, read_fixture("organization_snapshot_v1.bin"), {});
  start();
  auto org = resolve<organization_actor>(org_201);
  auto v = ask<organization_view>(org, get_atom::value);
  BOOST_TEST(v.organization_id == org_201);
  BOOST_TEST(v.name == "Analytical Engines Ltd");
  BOOST_TEST(v.country == "GB");
  BOOST_TEST(v.website == "https://engines.fixture.example");
  BOOST_TEST(v.description == "Difference and analytical engines");
  BOOST_TEST(v.representative_ids == (std::vector<std::string>{usr("a01"), usr("a02")}));
  BOOST_TEST(v.created_at_ms == 1600000000201);
  // Mentions are only visible through export, which opens their sealed text.
  auto records = ask<std::vector<personal_record>>(org, export_atom::value, usr("a04"));
  BOOST_REQUIRE(records.size() == 1u);
  BOOST_TEST(records[0].record_id == org_201 + ".mnt_00000000000000000000000000000212");
  BOOST_CHECK((records[0].fields == std::vector<std::pair<std::string, std::string>>{
                                        {"organization_id", org_201},
                                        {"source_url", "https://blog.fixture.example/loom"},
                                        {"text", "Jacquard would approve"},
                                        {"at_ms", "1600000000203"}}));
}

BOOST_FIXTURE_TEST_CASE(organization_restores_from_the_v1_snapshot_and_every_v1_event,
                        restore_fixture) {
  seed_fixtures(org_201, "organization",
                {"created", "updated", "representative_added", "representative_removed",
                 "mention_added", "mention_removed"});
  start();
  auto org = resolve<organization_actor>(org_201);
  auto v = ask<organization_view>(org, get_atom::value);
  // created set the creation time, updated the info; a05 joined and a01 left.
  BOOST_TEST(v.name == "Babbage Engines");
  BOOST_TEST(v.country == "DE");
  BOOST_TEST(v.website == "https://engines.fixture.example/de");
  BOOST_TEST(v.description == "Renamed in an update");
  BOOST_TEST(v.representative_ids == (std::vector<std::string>{usr("a02"), usr("a05")}));
  BOOST_TEST(v.created_at_ms == 1600000000211);
  auto a03 = ask<std::vector<personal_record>>(org, export_atom::value, usr("a03"));
  BOOST_REQUIRE(a03.size() == 2u);
  BOOST_TEST(a03[0].record_id == org_201 + ".mnt_00000000000000000000000000000211");
  BOOST_TEST(a03[0].fields[2].second == "Engines that weave algebra");
  BOOST_TEST(a03[1].record_id == org_201 + ".mnt_00000000000000000000000000000213");
  BOOST_CHECK((a03[1].fields == std::vector<std::pair<std::string, std::string>>{
                                    {"organization_id", org_201},
                                    {"source_url", "https://press.fixture.example/added"},
                                    {"text", "Added by an event"},
                                    {"at_ms", "1600000000216"}}));
  // mention_removed took a04's mention.
  BOOST_TEST(ask<std::vector<personal_record>>(org, export_atom::value, usr("a04")).empty());
}

BOOST_FIXTURE_TEST_CASE(chat_room_restores_from_the_v1_snapshot_alone, restore_fixture) {
  seed(room_501, read_fixture("chat_room_snapshot_v1.bin"), {});
  start();
  auto room = resolve<chat_room_actor>(room_501);
  auto info = ask<room_view>(room, get_atom::value, admin);
  BOOST_TEST(info.room_id == room_501);
  BOOST_TEST(info.kind == "direct");
  BOOST_TEST(info.booth_id == bth_401);
  BOOST_TEST(info.organization_id == org_201);
  BOOST_TEST(info.member_ids == (std::vector<std::string>{usr("d01"), usr("d02")}));
  BOOST_TEST(info.message_count == 2u);
  auto page = ask<history_page>(room, history_atom::value, admin, uint64_t{0}, uint32_t{10});
  BOOST_REQUIRE(page.items.size() == 2u);
  // Newest first: the second message was deleted and its author erased.
  BOOST_CHECK(page.items[0] ==
              (message_view{room_501 + ".msg_00000000000000000000000000000512", 2,
                            std::string{former_participant}, "", "", 1600000000503, true}));
  BOOST_CHECK(page.items[1] ==
              (message_view{room_501 + ".msg_00000000000000000000000000000511", 1, usr("d01"),
                            "Hello from the snapshot", file("f51"), 1600000000502, false}));
  BOOST_TEST(page.next_before == 0u);
}

BOOST_FIXTURE_TEST_CASE(chat_room_restores_from_the_v1_snapshot_and_every_v1_event,
                        restore_fixture) {
  seed_fixtures(room_501, "chat_room", {"created", "posted", "deleted", "author_erased"});
  start();
  auto room = resolve<chat_room_actor>(room_501);
  auto info = ask<room_view>(room, get_atom::value, admin);
  BOOST_TEST(info.kind == "direct");
  BOOST_TEST(info.booth_id == bth_402);
  BOOST_TEST(info.organization_id == org_202);
  BOOST_TEST(info.member_ids == (std::vector<std::string>{usr("d01"), usr("d03")}));
  BOOST_TEST(info.message_count == 3u);
  auto page = ask<history_page>(room, history_atom::value, admin, uint64_t{0}, uint32_t{10});
  BOOST_REQUIRE(page.items.size() == 3u);
  BOOST_CHECK(page.items[0] ==
              (message_view{room_501 + ".msg_00000000000000000000000000000513", 3, usr("d03"),
                            "Posted by an event", file("f53"), 1600000000513, false}));
  BOOST_CHECK(page.items[1] ==
              (message_view{room_501 + ".msg_00000000000000000000000000000512", 2,
                            std::string{former_participant}, "", "", 1600000000503, true}));
  // deleted: the first message keeps its author and loses its text and file.
  BOOST_CHECK(page.items[2] == (message_view{room_501 + ".msg_00000000000000000000000000000511", 1,
                                             usr("d01"), "", "", 1600000000502, true}));
  // The restored client_msg_id still deduplicates: the same key answers the first post.
  auto again = ask<posted>(room, post_atom::value, caller{usr("d03"), false, {}},
                           post_spec{"another text", "", "client-0513"}, int64_t{1700000000000});
  BOOST_TEST(again.duplicate);
  BOOST_TEST(again.number == 3u);
}

BOOST_FIXTURE_TEST_CASE(user_restores_from_v1_records_and_reads_them_back, restore_fixture) {
  const std::string id = "usr_00000000000000000000000000000101";
  seed_fixtures(
      id, "user",
      {"registered", "profile_updated", "password_changed", "role_granted", "role_revoked"});
  start();
  auto user = resolve<user_actor>(id);
  auto v = ask<user_view>(user, get_atom::value, admin);
  BOOST_TEST(v.user_id == id);
  // registered revived the erased snapshot; profile_updated replaced the whole profile.
  BOOST_TEST(v.first_name == "Katherine");
  BOOST_TEST(v.surname == "Johnson");
  BOOST_TEST(v.email == "katherine@fixture.example");
  BOOST_TEST(v.linkedin_url == "https://www.linkedin.com/in/katherine-fixture");
  BOOST_TEST(v.photo_file_id == file("f03"));
  BOOST_TEST(v.country == "USA");
  BOOST_TEST(v.organization_id == org_203);
  BOOST_TEST(v.role_in_org == "Mathematician");
  BOOST_TEST(v.interests == (std::vector<std::string>{"orbits", "trajectories"}));
  BOOST_TEST(v.keywords == (std::vector<std::string>{"friendship7", "langley"}));
  BOOST_TEST(v.address == "Hampton, Virginia");
  // visitor and org_rep from registered, speaker granted, org_rep revoked.
  BOOST_TEST(v.roles == (std::vector<std::string>{"visitor", "speaker"}));
  BOOST_TEST(v.rep_of.empty());
  BOOST_TEST(v.speaker_of == std::vector<std::string>{ses_312});
  BOOST_TEST(v.created_at_ms == 1600000000111);
  // The sealed Argon2id hash of password_changed is the one that now verifies.
  BOOST_TEST(ask<bool>(user, verify_atom::value, std::string{"changed-password"}));
  BOOST_TEST(!ask<bool>(user, verify_atom::value, std::string{"registered-password"}));
}

BOOST_FIXTURE_TEST_CASE(user_restored_from_the_erased_v1_snapshot_is_not_found, restore_fixture) {
  const std::string id = "usr_00000000000000000000000000000102";
  seed(id, read_fixture("user_snapshot_v1.bin"), {});
  start();
  // The erased flag is read: the account exists but is not there to read or to log into.
  auto user = resolve<user_actor>(id);
  BOOST_TEST(refusal<user_view>(user, get_atom::value, admin) == errc::not_found);
  BOOST_TEST(!ask<bool>(user, verify_atom::value, std::string{"snapshot-password"}));
}

BOOST_FIXTURE_TEST_CASE(user_v1_erased_event_erases_a_restored_user, restore_fixture) {
  const std::string id = "usr_00000000000000000000000000000103";
  seed_fixtures(id, "user", {"registered", "erased"});
  start();
  auto user = resolve<user_actor>(id);
  BOOST_TEST(refusal<user_view>(user, get_atom::value, admin) == errc::not_found);
  BOOST_TEST(!ask<bool>(user, verify_atom::value, std::string{"registered-password"}));
}

BOOST_FIXTURE_TEST_CASE(exhibition_restores_from_the_v1_snapshot_and_every_v1_event,
                        restore_fixture) {
  seed_fixtures(
      exh_301, "exhibition",
      {"created", "updated", "booth_added", "session_added", "media_added", "speaker_removed"});
  start();
  auto exh = resolve<exhibition_actor>(exh_301);
  BOOST_CHECK(ask<exhibition_view>(exh, get_atom::value) ==
              (exhibition_view{exh_301,
                               "Updated Expo",
                               "From the updated event",
                               1700200000000,
                               1700286400000,
                               {bth_401, bth_402},
                               1600000000311}));
  auto sessions = ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value);
  BOOST_REQUIRE(sessions.size() == 2u);
  // speaker_removed took b01 and b01's media from the keynote; media_added gave b02 theirs.
  BOOST_CHECK(sessions[0] ==
              (session_view{ses_311,
                            exh_301,
                            "Opening keynote",
                            1700000360000,
                            1700003960000,
                            {usr("b02")},
                            {{usr("b02"), "video", file("f33"), "Second speaker's demo"}}}));
  BOOST_CHECK(sessions[1] == (session_view{ses_312,
                                           exh_301,
                                           "Closing panel",
                                           1700080000000,
                                           1700083600000,
                                           {usr("b03")},
                                           {{usr("b03"), "video", file("f32"), "Panel slides"}}}));
}

BOOST_FIXTURE_TEST_CASE(booth_restores_from_the_v1_snapshot_and_every_v1_event, restore_fixture) {
  seed_fixtures(bth_401, "booth",
                {"created", "updated", "content_added", "content_removed", "visited",
                 "visitor_erased", "author_erased"});
  start();
  auto booth = resolve<booth_actor>(bth_401);
  BOOST_CHECK(ask<booth_view>(booth, get_atom::value) ==
              (booth_view{bth_401,
                          "exh_00000000000000000000000000000303",
                          org_203,
                          "Updated Booth",
                          "From the updated event",
                          "room_00000000000000000000000000000503",
                          {{bth_401 + ".cnt_00000000000000000000000000000412", "video",
                            "Engine video", "Watch it run", file("f42"),
                            std::string{former_representative}, 1600000000414}},
                          18}));
  // 17 + one visit; c02 forgotten on top of the 3 already erased, c04 still there.
  BOOST_CHECK(ask<visit_stats>(booth, get_atom::value, visit_atom::value, admin) ==
              (visit_stats{18, 5, {usr("c04")}}));
}

BOOST_FIXTURE_TEST_CASE(connection_log_restores_from_the_v1_snapshot_and_v1_events,
                        restore_fixture) {
  seed_fixtures(clog_701, "connection_log", {"recorded", "purged_before"});
  start();
  auto log = resolve<connection_log_actor>(clog_701);
  auto entries = ask<std::vector<connection_entry>>(log, get_atom::value, admin, uint32_t{0});
  BOOST_REQUIRE(entries.size() == 2u);
  // Newest first; purged_before (...700) is older than both entries.
  auto& e = entries[0];
  BOOST_TEST(e.at_ms == 1600000000712);
  BOOST_TEST(e.kind == "websocket");
  BOOST_TEST(e.ip == "2001:db8::7");
  BOOST_TEST(e.isp == "Fixture Mobile");
  BOOST_TEST(e.proxies == std::vector<std::string>{"192.0.2.9"});
  BOOST_TEST(e.referrer == "https://ref.fixture.example/event");
  BOOST_TEST(e.device_type == "phone");
  BOOST_TEST(e.os == "Android");
  BOOST_TEST(e.screen == "1080x2400");
  auto& s = entries[1];
  BOOST_TEST(s.at_ms == 1600000000701);
  BOOST_TEST(s.kind == "websocket");
  BOOST_TEST(s.ip == "203.0.113.7");
  BOOST_TEST(s.isp == "Fixture Telecom");
  BOOST_TEST(s.proxies == (std::vector<std::string>{"198.51.100.1", "198.51.100.2"}));
  BOOST_TEST(s.referrer == "https://ref.fixture.example/");
  BOOST_TEST(s.device_type == "desktop");
  BOOST_TEST(s.os == "Linux");
  BOOST_TEST(s.screen == "1920x1080");
}

// == corrupt records through the engine =======================================================

BOOST_FIXTURE_TEST_CASE(resolve_of_an_entity_with_a_corrupt_snapshot_answers_corrupt_record,
                        restore_fixture) {
  seed(org_201, flip_byte_in_payload(read_fixture("organization_snapshot_v1.bin")), {});
  start();
  // Refused by the directory (no crash, an answer within the timeout), and nothing is resident.
  BOOST_TEST(refused_lookup(org_201) == errc::corrupt_record);
  BOOST_TEST(refused_lookup(org_201, true) == errc::corrupt_record);
  BOOST_TEST(resident() == 0u);
  // The directory is still serving: asking again gives the same answer.
  BOOST_TEST(refused_lookup(org_201) == errc::corrupt_record);
}

BOOST_FIXTURE_TEST_CASE(resolve_of_an_entity_with_a_corrupt_event_answers_corrupt_record,
                        restore_fixture) {
  seed(room_501, read_fixture("chat_room_snapshot_v1.bin"),
       {read_fixture("chat_room_event_created_v1.bin"),
        flip_byte_in_payload(read_fixture("chat_room_event_posted_v1.bin"))});
  start();
  BOOST_TEST(refused_lookup(room_501) == errc::corrupt_record);
  BOOST_TEST(resident() == 0u);
}
