// fixture_writer: writes the record fixtures of tests/fixtures/ (record format version 1).
//
// Usage: fixture_writer <directory>
//
// For each entity kind it writes one snapshot record and one event record of every member of
// the kind's event union, framed by persistence::encode_record exactly as the actors store them.
// Every field holds a value of its own (no two fields alike, no field left at its default where
// the schema allows another value), so that schema_fixtures_test notices a field that was
// renumbered, retyped or removed. Personal fields hold the plain envelope (version byte 0x00,
// then the text) made by persistence::plain_field_sealer, the only envelope of format v1.
//
// The fixtures are committed and are the old data the engine must keep reading. Existing files are
// never rewritten: run this to add the fixture of a new union member, or of a new format version
// (then name the files _v2 and keep the _v1 ones). Refreshing v1 files after a schema change
// would hide the very break they guard against.

#include <argon2.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <capnp/message.h>

#include "mext/schemas/agenda.capnp.h"
#include "mext/schemas/booth.capnp.h"
#include "mext/schemas/chat_room.capnp.h"
#include "mext/schemas/common.capnp.h"
#include "mext/schemas/connection_log.capnp.h"
#include "mext/schemas/exhibition.capnp.h"
#include "mext/schemas/organization.capnp.h"
#include "mext/schemas/user.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/field_sealer.hpp"
#include "persistence/record_codec.hpp"

namespace fs = std::filesystem;
using namespace mext;
using schema::RecordKind;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fixture_writer: %s\n", what.c_str());
  std::exit(1);
}

// A personal value sealed as format v1 stores it: the real sealer, so the envelope is the
// engine's own and not a copy of it. The plain sealer needs no key to seal.
std::string seal(std::string_view plain) {
  persistence::plain_field_sealer sealer;
  auto sealed = sealer.seal("fixture-subject", "fixture-context", plain);
  if (!sealed) die("sealing failed: " + detail_of(sealed.error()));
  return *sealed;
}

// Argon2id in the encoded (PHC) form the user actor stores, with a fixed salt so that running
// the writer again gives the same bytes, and the smallest cost so that tests verify it fast.
std::string argon2_hash(std::string_view password) {
  static const char salt[] = "mext-fixture-slt";  // 16 bytes
  char encoded[128];
  int rc = argon2id_hash_encoded(1, 8, 1, password.data(), password.size(), salt, 16, 32, encoded,
                                 sizeof encoded);
  if (rc != ARGON2_OK) die(std::string("argon2id_hash_encoded: ") + argon2_error_message(rc));
  return encoded;
}

capnp::Data::Reader data(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

template <class T>
void set_texts(T list, std::initializer_list<const char*> values) {
  unsigned i = 0;
  for (auto v : values) list.set(i++, v);
}

// Each sealed value lives until its set() has copied it: Data::Reader only points at it.
void set_sealed(capnp::List<capnp::Data>::Builder list, std::initializer_list<const char*> values) {
  unsigned i = 0;
  for (auto v : values) list.set(i++, data(seal(v)));
}

class writer {
 public:
  explicit writer(fs::path dir) : dir_(std::move(dir)) {}

  // Builds the root T with `fill`, frames it as `kind` and writes it as `name`.
  template <class T, class Fill>
  void write(const std::string& name, RecordKind kind, Fill&& fill) {
    capnp::MallocMessageBuilder message;
    fill(message.initRoot<T>());
    auto bytes = persistence::encode_record(kind, message);
    auto path = dir_ / name;
    // A committed fixture is old data: never rewritten, only missing ones (a new union member
    // written by a newer schema) are added.
    if (std::filesystem::exists(path)) {
      std::printf("%s kept\n", path.c_str());
      return;
    }
    std::ofstream out{path, std::ios::binary | std::ios::trunc};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) die("cannot write " + path.string());
    std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
  }

 private:
  fs::path dir_;
};

// -- user ------------------------------------------------------------------------------------

void write_user(writer& w) {
  w.write<schema::UserSnapshot>(
      "user_snapshot_v1.bin", RecordKind::USER_SNAPSHOT, [](schema::UserSnapshot::Builder s) {
        s.setExists(true);
        // An erased account still has every other field set: the fixture guards the format,
        // and `erased` can only be told from a removed field when it is true.
        s.setErased(true);
        s.setCreatedAt(1600000000101);
        s.setEmailIndex(data("\xA1\xB2\xC3\xD4snapshot-email-index"));
        s.setPasswordHash(data(seal(argon2_hash("snapshot-password"))));
        auto p = s.initProfile();
        p.setFirstName(data(seal("Ada")));
        p.setSurname(data(seal("Lovelace")));
        p.setEmail(data(seal("ada@fixture.example")));
        p.setLinkedinUrl(data(seal("https://www.linkedin.com/in/ada-fixture")));
        p.setPhotoFileId("file_00000000000000000000000000000f01");
        p.setCountry(data(seal("United Kingdom")));
        p.setOrganizationId("org_00000000000000000000000000000201");
        p.setRoleInOrg(data(seal("Analyst")));
        set_sealed(p.initInterests(2), {"engines", "poetry"});
        set_sealed(p.initKeywords(2), {"bernoulli", "notes"});
        p.setAddress(data(seal("12 St James's Square, London")));
        auto roles = s.initRoles(3);
        roles[0].setRole(schema::Role::ADMIN);
        roles[1].setRole(schema::Role::ORG_REP);
        roles[1].setScope("org_00000000000000000000000000000201");
        roles[2].setRole(schema::Role::SPEAKER);
        roles[2].setScope(
            "exh_00000000000000000000000000000301.ses_00000000000000000000000000000311");
      });

  using E = schema::UserEvent;
  w.write<E>("user_event_registered_v1.bin", RecordKind::USER_EVENT, [](E::Builder e) {
    e.setAt(1600000000111);
    auto r = e.initRegistered();
    r.setEmailIndex(data("\xA1\xB2\xC3\xD5registered-email-index"));
    r.setPasswordHash(data(seal(argon2_hash("registered-password"))));
    auto p = r.initProfile();
    p.setFirstName(data(seal("Grace")));
    p.setSurname(data(seal("Hopper")));
    p.setEmail(data(seal("grace@fixture.example")));
    p.setLinkedinUrl(data(seal("https://linkedin.com/in/grace-fixture")));
    p.setPhotoFileId("file_00000000000000000000000000000f02");
    p.setCountry(data(seal("United States")));
    p.setOrganizationId("org_00000000000000000000000000000202");
    p.setRoleInOrg(data(seal("Rear Admiral")));
    set_sealed(p.initInterests(2), {"compilers", "cobol"});
    set_sealed(p.initKeywords(2), {"nanosecond", "moth"});
    p.setAddress(data(seal("1 Navy Yard, Arlington")));
    auto roles = r.initRoles(2);
    roles[0].setRole(schema::Role::VISITOR);
    roles[1].setRole(schema::Role::ORG_REP);
    roles[1].setScope("org_00000000000000000000000000000202");
  });
  w.write<E>("user_event_profile_updated_v1.bin", RecordKind::USER_EVENT, [](E::Builder e) {
    e.setAt(1600000000112);
    auto u = e.initProfileUpdated();
    auto p = u.initProfile();
    p.setFirstName(data(seal("Katherine")));
    p.setSurname(data(seal("Johnson")));
    p.setEmail(data(seal("katherine@fixture.example")));
    p.setLinkedinUrl(data(seal("https://www.linkedin.com/in/katherine-fixture")));
    p.setPhotoFileId("file_00000000000000000000000000000f03");
    p.setCountry(data(seal("USA")));
    p.setOrganizationId("org_00000000000000000000000000000203");
    p.setRoleInOrg(data(seal("Mathematician")));
    set_sealed(p.initInterests(2), {"orbits", "trajectories"});
    set_sealed(p.initKeywords(2), {"friendship7", "langley"});
    p.setAddress(data(seal("Hampton, Virginia")));
    u.setEmailIndex(data("\xA1\xB2\xC3\xD6updated-email-index"));
  });
  w.write<E>("user_event_password_changed_v1.bin", RecordKind::USER_EVENT, [](E::Builder e) {
    e.setAt(1600000000113);
    e.setPasswordChanged(data(seal(argon2_hash("changed-password"))));
  });
  w.write<E>("user_event_role_granted_v1.bin", RecordKind::USER_EVENT, [](E::Builder e) {
    e.setAt(1600000000114);
    auto g = e.initRoleGranted();
    g.setRole(schema::Role::SPEAKER);
    g.setScope("exh_00000000000000000000000000000301.ses_00000000000000000000000000000312");
  });
  w.write<E>("user_event_role_revoked_v1.bin", RecordKind::USER_EVENT, [](E::Builder e) {
    e.setAt(1600000000115);
    auto g = e.initRoleRevoked();
    g.setRole(schema::Role::ORG_REP);
    g.setScope("org_00000000000000000000000000000202");
  });
  w.write<E>("user_event_erased_v1.bin", RecordKind::USER_EVENT, [](E::Builder e) {
    e.setAt(1600000000116);
    e.setErased();
  });
}

// -- organization ----------------------------------------------------------------------------

void write_organization(writer& w) {
  w.write<schema::OrganizationSnapshot>(
      "organization_snapshot_v1.bin", RecordKind::ORGANIZATION_SNAPSHOT,
      [](schema::OrganizationSnapshot::Builder s) {
        s.setExists(true);
        s.setCreatedAt(1600000000201);
        auto info = s.initInfo();
        info.setName("Analytical Engines Ltd");
        info.setCountry("GB");
        info.setWebsite("https://engines.fixture.example");
        info.setDescription("Difference and analytical engines");
        set_texts(s.initRepresentatives(2),
                  {"usr_00000000000000000000000000000a01", "usr_00000000000000000000000000000a02"});
        auto ms = s.initMentions(2);
        ms[0].setMentionId(
            "org_00000000000000000000000000000201.mnt_00000000000000000000000000000211");
        ms[0].setAuthorId("usr_00000000000000000000000000000a03");
        ms[0].setSourceUrl("https://news.fixture.example/engines");
        ms[0].setText(data(seal("Engines that weave algebra")));
        ms[0].setAt(1600000000202);
        ms[1].setMentionId(
            "org_00000000000000000000000000000201.mnt_00000000000000000000000000000212");
        ms[1].setAuthorId("usr_00000000000000000000000000000a04");
        ms[1].setSourceUrl("https://blog.fixture.example/loom");
        ms[1].setText(data(seal("Jacquard would approve")));
        ms[1].setAt(1600000000203);
      });

  using E = schema::OrganizationEvent;
  const auto kind = RecordKind::ORGANIZATION_EVENT;
  w.write<E>("organization_event_created_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000211);
    auto info = e.initCreated();
    info.setName("Babbage & Co");
    info.setCountry("FR");
    info.setWebsite("https://babbage.fixture.example");
    info.setDescription("Founded for the fixtures");
  });
  w.write<E>("organization_event_updated_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000212);
    auto info = e.initUpdated();
    info.setName("Babbage Engines");
    info.setCountry("DE");
    info.setWebsite("https://engines.fixture.example/de");
    info.setDescription("Renamed in an update");
  });
  w.write<E>("organization_event_representative_added_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000213);
    e.setRepresentativeAdded("usr_00000000000000000000000000000a05");
  });
  w.write<E>("organization_event_representative_removed_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000214);
    e.setRepresentativeRemoved("usr_00000000000000000000000000000a01");
  });
  w.write<E>("organization_event_mention_added_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000215);
    auto m = e.initMentionAdded();
    m.setMentionId("org_00000000000000000000000000000201.mnt_00000000000000000000000000000213");
    m.setAuthorId("usr_00000000000000000000000000000a03");
    m.setSourceUrl("https://press.fixture.example/added");
    m.setText(data(seal("Added by an event")));
    m.setAt(1600000000216);
  });
  w.write<E>("organization_event_mention_removed_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000217);
    e.setMentionRemoved(
        "org_00000000000000000000000000000201.mnt_00000000000000000000000000000212");
  });
}

// -- exhibition ------------------------------------------------------------------------------

void write_exhibition(writer& w) {
  w.write<schema::ExhibitionSnapshot>(
      "exhibition_snapshot_v1.bin", RecordKind::EXHIBITION_SNAPSHOT,
      [](schema::ExhibitionSnapshot::Builder s) {
        s.setExists(true);
        s.setCreatedAt(1600000000301);
        auto info = s.initInfo();
        info.setTitle("Fixture Expo");
        info.setDescription("Every field set");
        info.setStartsAt(1700000000000);
        info.setEndsAt(1700086400000);
        auto booths = s.initBooths(1);
        booths[0].setBoothId("bth_00000000000000000000000000000401");
        booths[0].setOrganizationId("org_00000000000000000000000000000201");
        auto ss = s.initSessions(1);
        ss[0].setSessionId(
            "exh_00000000000000000000000000000301.ses_00000000000000000000000000000311");
        ss[0].setTitle("Opening keynote");
        ss[0].setStartsAt(1700000360000);
        ss[0].setEndsAt(1700003960000);
        set_texts(ss[0].initSpeakerIds(2),
                  {"usr_00000000000000000000000000000b01", "usr_00000000000000000000000000000b02"});
        auto media = ss[0].initMedia(1);
        media[0].setSpeakerId("usr_00000000000000000000000000000b01");
        media[0].setKind(schema::MediaKind::VIDEO);
        media[0].setFileId("file_00000000000000000000000000000f31");
        media[0].setCaption(data(seal("Keynote recording")));
      });

  using E = schema::ExhibitionEvent;
  const auto kind = RecordKind::EXHIBITION_EVENT;
  w.write<E>("exhibition_event_created_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000311);
    auto info = e.initCreated();
    info.setTitle("Created Expo");
    info.setDescription("From the created event");
    info.setStartsAt(1700100000000);
    info.setEndsAt(1700186400000);
  });
  w.write<E>("exhibition_event_updated_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000312);
    auto info = e.initUpdated();
    info.setTitle("Updated Expo");
    info.setDescription("From the updated event");
    info.setStartsAt(1700200000000);
    info.setEndsAt(1700286400000);
  });
  w.write<E>("exhibition_event_booth_added_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000313);
    auto b = e.initBoothAdded();
    b.setBoothId("bth_00000000000000000000000000000402");
    b.setOrganizationId("org_00000000000000000000000000000202");
  });
  w.write<E>("exhibition_event_session_added_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000314);
    auto s = e.initSessionAdded();
    s.setSessionId("exh_00000000000000000000000000000301.ses_00000000000000000000000000000312");
    s.setTitle("Closing panel");
    s.setStartsAt(1700080000000);
    s.setEndsAt(1700083600000);
    set_texts(s.initSpeakerIds(1), {"usr_00000000000000000000000000000b03"});
    auto media = s.initMedia(1);
    media[0].setSpeakerId("usr_00000000000000000000000000000b03");
    media[0].setKind(schema::MediaKind::VIDEO);
    media[0].setFileId("file_00000000000000000000000000000f32");
    media[0].setCaption(data(seal("Panel slides")));
  });
  w.write<E>("exhibition_event_media_added_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000315);
    auto m = e.initMediaAdded();
    m.setSessionId("exh_00000000000000000000000000000301.ses_00000000000000000000000000000311");
    auto media = m.initMedia();
    media.setSpeakerId("usr_00000000000000000000000000000b02");
    media.setKind(schema::MediaKind::VIDEO);
    media.setFileId("file_00000000000000000000000000000f33");
    media.setCaption(data(seal("Second speaker's demo")));
  });
  w.write<E>("exhibition_event_speaker_removed_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000316);
    auto r = e.initSpeakerRemoved();
    r.setSessionId("exh_00000000000000000000000000000301.ses_00000000000000000000000000000311");
    r.setSpeakerId("usr_00000000000000000000000000000b01");
  });
}

// -- booth -----------------------------------------------------------------------------------

void write_booth(writer& w) {
  w.write<schema::BoothSnapshot>(
      "booth_snapshot_v1.bin", RecordKind::BOOTH_SNAPSHOT, [](schema::BoothSnapshot::Builder s) {
        s.setExists(true);
        s.setCreatedAt(1600000000401);
        auto info = s.initInfo();
        info.setExhibitionId("exh_00000000000000000000000000000301");
        info.setOrganizationId("org_00000000000000000000000000000201");
        info.setName("Engine Booth");
        info.setDescription("Come see the engine");
        info.setChatRoomId("room_00000000000000000000000000000501");
        auto cs = s.initContents(1);
        cs[0].setContentId(
            "bth_00000000000000000000000000000401.cnt_00000000000000000000000000000411");
        cs[0].setKind(schema::ContentKind::DATASHEET);
        cs[0].setTitle("Engine datasheet");
        cs[0].setBody("Specifications of the engine");
        cs[0].setFileId("file_00000000000000000000000000000f41");
        cs[0].setAuthorId("usr_00000000000000000000000000000c01");
        cs[0].setCreatedAt(1600000000402);
        s.setTotalVisits(17);
        auto vs = s.initVisits(1);
        vs[0].setVisitorId("usr_00000000000000000000000000000c02");
        vs[0].setCount(5);
        vs[0].setFirstAt(1600000000403);
        vs[0].setLastAt(1600000000404);
        vs[0].setSharedContact(true);
        s.setErasedVisitors(3);
      });

  using E = schema::BoothEvent;
  const auto kind = RecordKind::BOOTH_EVENT;
  w.write<E>("booth_event_created_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000411);
    auto info = e.initCreated();
    info.setExhibitionId("exh_00000000000000000000000000000302");
    info.setOrganizationId("org_00000000000000000000000000000202");
    info.setName("Created Booth");
    info.setDescription("From the created event");
    info.setChatRoomId("room_00000000000000000000000000000502");
  });
  w.write<E>("booth_event_updated_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000412);
    auto info = e.initUpdated();
    info.setExhibitionId("exh_00000000000000000000000000000303");
    info.setOrganizationId("org_00000000000000000000000000000203");
    info.setName("Updated Booth");
    info.setDescription("From the updated event");
    info.setChatRoomId("room_00000000000000000000000000000503");
  });
  w.write<E>("booth_event_content_added_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000413);
    auto c = e.initContentAdded();
    c.setContentId("bth_00000000000000000000000000000401.cnt_00000000000000000000000000000412");
    c.setKind(schema::ContentKind::VIDEO);
    c.setTitle("Engine video");
    c.setBody("Watch it run");
    c.setFileId("file_00000000000000000000000000000f42");
    c.setAuthorId("usr_00000000000000000000000000000c03");
    c.setCreatedAt(1600000000414);
  });
  w.write<E>("booth_event_content_removed_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000415);
    e.setContentRemoved(
        "bth_00000000000000000000000000000401.cnt_00000000000000000000000000000411");
  });
  w.write<E>("booth_event_visited_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000416);
    auto v = e.initVisited();
    v.setVisitorId("usr_00000000000000000000000000000c04");
    v.setSharedContact(true);
  });
  w.write<E>("booth_event_visitor_erased_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000417);
    e.setVisitorErased("usr_00000000000000000000000000000c02");
  });
  w.write<E>("booth_event_author_erased_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000418);
    e.setAuthorErased("usr_00000000000000000000000000000c03");
  });
}

// -- chat room -------------------------------------------------------------------------------

void write_chat_room(writer& w) {
  w.write<schema::ChatRoomSnapshot>(
      "chat_room_snapshot_v1.bin", RecordKind::CHAT_ROOM_SNAPSHOT,
      [](schema::ChatRoomSnapshot::Builder s) {
        s.setExists(true);
        s.setCreatedAt(1600000000501);
        // A direct room with booth and organization set too: every field of RoomInfo holds a
        // value, and direct is the kind that is not the default.
        auto info = s.initInfo();
        info.setKind(schema::RoomKind::DIRECT);
        info.setBoothId("bth_00000000000000000000000000000401");
        info.setOrganizationId("org_00000000000000000000000000000201");
        set_texts(info.initMemberIds(2),
                  {"usr_00000000000000000000000000000d01", "usr_00000000000000000000000000000d02"});
        auto ms = s.initMessages(2);
        ms[0].setNumber(1);
        ms[0].setMessageId(
            "room_00000000000000000000000000000501.msg_00000000000000000000000000000511");
        ms[0].setAuthorId("usr_00000000000000000000000000000d01");
        ms[0].setText(data(seal("Hello from the snapshot")));
        ms[0].setFileId("file_00000000000000000000000000000f51");
        ms[0].setSentAt(1600000000502);
        ms[0].setClientMsgId("client-0511");
        // The second message carries both flags, so that they too are told from their default.
        ms[1].setNumber(2);
        ms[1].setMessageId(
            "room_00000000000000000000000000000501.msg_00000000000000000000000000000512");
        ms[1].setAuthorId("usr_00000000000000000000000000000d02");
        ms[1].setText(data(seal("Second message")));
        ms[1].setFileId("file_00000000000000000000000000000f52");
        ms[1].setSentAt(1600000000503);
        ms[1].setClientMsgId("client-0512");
        ms[1].setDeleted(true);
        ms[1].setAuthorErased(true);
      });

  using E = schema::ChatRoomEvent;
  const auto kind = RecordKind::CHAT_ROOM_EVENT;
  w.write<E>("chat_room_event_created_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000511);
    auto info = e.initCreated();
    info.setKind(schema::RoomKind::DIRECT);
    info.setBoothId("bth_00000000000000000000000000000402");
    info.setOrganizationId("org_00000000000000000000000000000202");
    set_texts(info.initMemberIds(2),
              {"usr_00000000000000000000000000000d01", "usr_00000000000000000000000000000d03"});
  });
  w.write<E>("chat_room_event_posted_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000512);
    auto m = e.initPosted();
    m.setNumber(3);
    m.setMessageId("room_00000000000000000000000000000501.msg_00000000000000000000000000000513");
    m.setAuthorId("usr_00000000000000000000000000000d03");
    m.setText(data(seal("Posted by an event")));
    m.setFileId("file_00000000000000000000000000000f53");
    m.setSentAt(1600000000513);
    m.setClientMsgId("client-0513");
  });
  w.write<E>("chat_room_event_deleted_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000514);
    auto d = e.initDeleted();
    d.setMessageId("room_00000000000000000000000000000501.msg_00000000000000000000000000000511");
    d.setById("usr_00000000000000000000000000000d01");
  });
  w.write<E>("chat_room_event_author_erased_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000515);
    e.setAuthorErased("usr_00000000000000000000000000000d02");
  });
  w.write<E>("chat_room_event_purged_before_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000516);
    e.setPurgedBefore(1600000000504);
  });
}

// -- agenda ----------------------------------------------------------------------------------

void write_agenda(writer& w) {
  w.write<schema::AgendaSnapshot>(
      "agenda_snapshot_v1.bin", RecordKind::AGENDA_SNAPSHOT, [](schema::AgendaSnapshot::Builder s) {
        s.setExists(true);
        auto ss = s.initSessions(1);
        ss[0].setSessionId(
            "exh_00000000000000000000000000000301.ses_00000000000000000000000000000311");
        ss[0].setExhibitionId("exh_00000000000000000000000000000301");
        ss[0].setTitle("Opening keynote");
        ss[0].setStartsAt(1700000360000);
        ss[0].setEndsAt(1700003960000);
        auto ms = s.initMeetings(1);
        ms[0].setMeetingId(
            "agd_00000000000000000000000000000601.mtg_00000000000000000000000000000611");
        ms[0].setRequesterId("usr_00000000000000000000000000000601");
        ms[0].setInviteeId("usr_00000000000000000000000000000e02");
        ms[0].setBoothId("bth_00000000000000000000000000000401");
        ms[0].setStartsAt(1700010000000);
        ms[0].setEndsAt(1700011800000);
        ms[0].setNote(data(seal("Bring the datasheet")));
        ms[0].setStatus(schema::MeetingStatus::ACCEPTED);
        ms[0].setUpdatedAt(1600000000602);
        ms[0].setUnsynced(true);
      });

  using E = schema::AgendaEvent;
  const auto kind = RecordKind::AGENDA_EVENT;
  w.write<E>("agenda_event_session_attended_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000611);
    auto s = e.initSessionAttended();
    s.setSessionId("exh_00000000000000000000000000000301.ses_00000000000000000000000000000312");
    s.setExhibitionId("exh_00000000000000000000000000000302");
    s.setTitle("Closing panel");
    s.setStartsAt(1700080000000);
    s.setEndsAt(1700083600000);
  });
  w.write<E>("agenda_event_session_left_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000612);
    e.setSessionLeft("exh_00000000000000000000000000000301.ses_00000000000000000000000000000311");
  });
  w.write<E>("agenda_event_meeting_set_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000613);
    auto m = e.initMeetingSet();
    m.setMeetingId("agd_00000000000000000000000000000e03.mtg_00000000000000000000000000000612");
    m.setRequesterId("usr_00000000000000000000000000000e03");
    m.setInviteeId("usr_00000000000000000000000000000601");
    m.setBoothId("bth_00000000000000000000000000000402");
    m.setStartsAt(1700020000000);
    m.setEndsAt(1700021800000);
    m.setNote(data(seal("Let's talk engines")));
    m.setStatus(schema::MeetingStatus::DECLINED);
    m.setUpdatedAt(1600000000614);
    m.setUnsynced(true);
  });
  w.write<E>("agenda_event_erased_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000615);
    e.setErased();
  });
}

// -- connection log --------------------------------------------------------------------------

void write_connection_log(writer& w) {
  w.write<schema::ConnectionLogSnapshot>(
      "connection_log_snapshot_v1.bin", RecordKind::CONNECTION_LOG_SNAPSHOT,
      [](schema::ConnectionLogSnapshot::Builder s) {
        s.setExists(true);
        auto es = s.initEntries(1);
        es[0].setAt(1600000000701);
        es[0].setKind(schema::ConnectionKind::WEBSOCKET);
        es[0].setIp(data(seal("203.0.113.7")));
        es[0].setIsp(data(seal("Fixture Telecom")));
        set_sealed(es[0].initProxies(2), {"198.51.100.1", "198.51.100.2"});
        es[0].setReferrer(data(seal("https://ref.fixture.example/")));
        es[0].setDeviceType(data(seal("desktop")));
        es[0].setOs(data(seal("Linux")));
        es[0].setScreen(data(seal("1920x1080")));
      });

  using E = schema::ConnectionLogEvent;
  const auto kind = RecordKind::CONNECTION_LOG_EVENT;
  w.write<E>("connection_log_event_recorded_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000711);
    auto c = e.initRecorded();
    c.setAt(1600000000712);
    c.setKind(schema::ConnectionKind::WEBSOCKET);
    c.setIp(data(seal("2001:db8::7")));
    c.setIsp(data(seal("Fixture Mobile")));
    set_sealed(c.initProxies(1), {"192.0.2.9"});
    c.setReferrer(data(seal("https://ref.fixture.example/event")));
    c.setDeviceType(data(seal("phone")));
    c.setOs(data(seal("Android")));
    c.setScreen(data(seal("1080x2400")));
  });
  w.write<E>("connection_log_event_purged_before_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000713);
    e.setPurgedBefore(1600000000700);
  });
  w.write<E>("connection_log_event_erased_v1.bin", kind, [](E::Builder e) {
    e.setAt(1600000000714);
    e.setErased();
  });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <fixture directory>\n", argv[0]);
    return 2;
  }
  fs::path dir{argv[1]};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) die("cannot create " + dir.string() + ": " + ec.message());
  writer w{dir};
  write_user(w);
  write_organization(w);
  write_exhibition(w);
  write_booth(w);
  write_chat_room(w);
  write_agenda(w);
  write_connection_log(w);
  return 0;
}
