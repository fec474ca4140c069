#define BOOST_TEST_MODULE exhibition_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/engine.hpp"
#include "actors/exhibition_actor.hpp"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::actors;

namespace {

constexpr auto timeout = std::chrono::seconds(10);

caf::actor_system_config& with_types(caf::actor_system_config& cfg) {
  mext::test::use_mextd_scheduler(cfg);
  add_message_types(cfg);
  add_exhibition_types(cfg);
  return cfg;
}

// A real engine on a temporary directory, with the exhibition kind only.
struct fixture {
  test::temp_dir dir;
  caf::actor_system_config cfg;
  caf::actor_system sys{with_types(cfg)};
  caf::scoped_actor self{sys};
  entity_settings settings;
  std::unique_ptr<engine> eng;

  explicit fixture(entity_settings s = {}) : settings(s) { start(); }
  ~fixture() {
    if (eng) eng->stop();
  }

  void start() {
    engine_options opts;
    opts.data_dir = dir.path();
    opts.entities = settings;
    auto e = engine::start(sys, opts, {{"exh", make_exhibition_actor}});
    BOOST_REQUIRE_MESSAGE(e, "engine start: " << detail_of(e.error()));
    eng = std::move(*e);
  }

  void restart() {
    eng->stop();
    eng.reset();
    start();
  }

  exhibition_actor activate(const std::string& id) {
    caf::actor out;
    self->request(eng->directory(), timeout, activate_atom::value, id)
        .receive([&](caf::actor& a) { out = a; },
                 [&](caf::error& e) { BOOST_FAIL("activate: " << detail_of(e)); });
    return caf::actor_cast<exhibition_actor>(out);
  }

  template <class R, class... Ts>
  R ask(const exhibition_actor& h, Ts&&... xs) {
    R out{};
    self->request(h, timeout, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); },
                 [&](caf::error& e) { BOOST_FAIL("unexpected error: " << detail_of(e)); });
    return out;
  }

  // The name of the engine error the request is refused with.
  template <class R, class... Ts>
  std::string refusal(const exhibition_actor& h, Ts&&... xs) {
    std::string out = "accepted";
    self->request(h, timeout, std::forward<Ts>(xs)...)
        .receive([&](R&) {},
                 [&](caf::error& e) {
                   auto code = code_of(e);
                   out = code ? to_string(*code) : "foreign error";
                 });
    return out;
  }

  bool resident(const std::string& id) {
    bool found = false;
    self->request(eng->directory(), timeout, list_atom::value, std::string{"exh"}, uint32_t{1000})
        .receive(
            [&](std::vector<resident_info>& xs) {
              for (auto& x : xs) found = found || x.id == id;
            },
            [&](caf::error& e) { BOOST_FAIL("list: " << detail_of(e)); });
    return found;
  }

  void wait_until_passivated(const std::string& id) {
    for (int i = 0; i < 500 && resident(id); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_REQUIRE(!resident(id));
  }

  // Every record stored for `entity`: its snapshot and all its events, also any before it.
  std::vector<std::string> stored_records(const std::string& entity) {
    std::vector<std::string> out;
    auto events = eng->rt()->store->scan(persistence::db::events, entity + '\0', 100000);
    BOOST_REQUIRE(events);
    for (auto& kv : *events) out.push_back(kv.second);
    auto snapshot = eng->rt()->store->get(persistence::db::snapshots, entity);
    BOOST_REQUIRE(snapshot);
    if (*snapshot) out.push_back(**snapshot);
    return out;
  }

  // A created exhibition from 10,000 to 20,000 ms.
  exhibition_actor created(const std::string& id);
};

const caller admin{new_id("usr"), true, {}};
const caller visitor{new_id("usr"), false, {}};

exhibition_info fair() {
  return {"Fair", "A trade fair", 10000, 20000};
}

exhibition_actor fixture::created(const std::string& id) {
  auto exh = activate(id);
  ask<exhibition_view>(exh, create_atom::value, admin, fair(), int64_t{5});
  return exh;
}

entity_settings snapshot_every_3() {
  entity_settings s;
  s.snapshot_every = 3;
  return s;
}

entity_settings quick_idle() {
  entity_settings s;
  s.idle_passivate = std::chrono::milliseconds(50);
  return s;
}

struct snapshot_fixture : fixture {
  snapshot_fixture() : fixture(snapshot_every_3()) {}
};

struct idle_fixture : fixture {
  idle_fixture() : fixture(quick_idle()) {}
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(admin_creates_and_anyone_reads, fixture) {
  auto id = new_id("exh");
  auto exh = activate(id);
  auto view = ask<exhibition_view>(exh, create_atom::value, admin, fair(), int64_t{5});
  BOOST_TEST(view.exhibition_id == id);
  BOOST_TEST(view.title == "Fair");
  BOOST_TEST(view.description == "A trade fair");
  BOOST_TEST(view.starts_at_ms == 10000);
  BOOST_TEST(view.ends_at_ms == 20000);
  BOOST_TEST(view.booth_ids.empty());
  BOOST_TEST(view.created_at_ms == 5);
  BOOST_CHECK(ask<exhibition_view>(exh, get_atom::value) == view);
  BOOST_TEST(ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value).empty());
}

BOOST_FIXTURE_TEST_CASE(only_an_admin_creates_once_with_a_title_and_a_forward_span, fixture) {
  auto exh = activate(new_id("exh"));
  auto refused = [&](const caller& who, exhibition_info info) {
    return refusal<exhibition_view>(exh, create_atom::value, who, info, int64_t{1});
  };
  BOOST_TEST(refused(visitor, fair()) == "forbidden");
  BOOST_TEST(refused(admin, {"", "", 1, 2}) == "invalid_argument");
  BOOST_TEST(refused(admin, {" ", "", 1, 2}) == "invalid_argument");
  BOOST_TEST(refused(admin, {std::string(301, 't'), "", 1, 2}) == "invalid_argument");
  BOOST_TEST(refused(admin, {"Fair", "", 2, 2}) == "invalid_argument");
  BOOST_TEST(refused(admin, {"Fair", "", 3, 2}) == "invalid_argument");
  ask<exhibition_view>(exh, create_atom::value, admin, fair(), int64_t{1});
  BOOST_TEST(refused(admin, fair()) == "conflict");
}

BOOST_FIXTURE_TEST_CASE(a_never_created_exhibition_is_not_found, fixture) {
  auto id = new_id("exh");
  auto exh = activate(id);
  BOOST_TEST(refusal<exhibition_view>(exh, get_atom::value) == "not_found");
  BOOST_TEST(refusal<std::vector<session_view>>(exh, list_atom::value, session_atom::value) ==
             "not_found");
  BOOST_TEST(refusal<session_view>(exh, get_atom::value, session_atom::value,
                                   new_child_id(id, "ses")) == "not_found");
  BOOST_TEST(refusal<exhibition_view>(exh, booth_atom::value, admin,
                                      booth_ref{new_id("bth"), new_id("org")}) == "not_found");
  BOOST_TEST(refusal<session_view>(exh, session_atom::value, admin,
                                   session_spec{"Talk", 11000, 12000, {}}) == "not_found");
}

BOOST_FIXTURE_TEST_CASE(booths_are_recorded_by_admins_or_their_organizations_reps, fixture) {
  auto id = new_id("exh");
  auto exh = created(id);
  auto org = new_id("org");
  auto booth = new_id("bth");
  caller rep{new_id("usr"), false, {org}};
  caller other_rep{new_id("usr"), false, {new_id("org")}};

  BOOST_TEST(refusal<exhibition_view>(exh, booth_atom::value, visitor, booth_ref{booth, org}) ==
             "forbidden");
  BOOST_TEST(refusal<exhibition_view>(exh, booth_atom::value, other_rep, booth_ref{booth, org}) ==
             "forbidden");
  BOOST_TEST(refusal<exhibition_view>(exh, booth_atom::value, admin,
                                      booth_ref{new_id("org"), org}) == "invalid_argument");
  BOOST_TEST(refusal<exhibition_view>(exh, booth_atom::value, admin,
                                      booth_ref{booth, new_id("usr")}) == "invalid_argument");

  auto view = ask<exhibition_view>(exh, booth_atom::value, rep, booth_ref{booth, org});
  BOOST_TEST(view.booth_ids == std::vector<std::string>{booth});
  BOOST_CHECK(ask<exhibition_view>(exh, booth_atom::value, rep, booth_ref{booth, org}) == view);
  BOOST_TEST(refusal<exhibition_view>(exh, booth_atom::value, admin,
                                      booth_ref{booth, new_id("org")}) == "conflict");
  auto second = new_id("bth");
  view = ask<exhibition_view>(exh, booth_atom::value, admin, booth_ref{second, org});
  BOOST_TEST(view.booth_ids == (std::vector<std::string>{booth, second}));
}

BOOST_FIXTURE_TEST_CASE(sessions_are_added_by_admins_within_the_exhibition_span, fixture) {
  auto id = new_id("exh");
  auto exh = created(id);
  auto speaker = new_id("usr");
  auto add = [&](const caller& who, session_spec spec) {
    return refusal<session_view>(exh, session_atom::value, who, spec);
  };
  BOOST_TEST(add(visitor, {"Talk", 11000, 12000, {}}) == "forbidden");
  BOOST_TEST(add(admin, {"", 11000, 12000, {}}) == "invalid_argument");
  BOOST_TEST(add(admin, {"Talk", 12000, 12000, {}}) == "invalid_argument");
  BOOST_TEST(add(admin, {"Talk", 9999, 12000, {}}) == "invalid_argument");
  BOOST_TEST(add(admin, {"Talk", 19000, 20001, {}}) == "invalid_argument");
  BOOST_TEST(add(admin, {"Talk", 11000, 12000, {"someone"}}) == "invalid_argument");
  BOOST_TEST(add(admin, {"Talk", 11000, 12000, {new_id("org")}}) == "invalid_argument");

  auto late = ask<session_view>(exh, session_atom::value, admin,
                                session_spec{"Closing", 18000, 20000, {speaker, speaker}});
  BOOST_TEST(owner_of(late.session_id) == id);
  BOOST_TEST(late.exhibition_id == id);
  BOOST_TEST(late.title == "Closing");
  BOOST_TEST(late.starts_at_ms == 18000);
  BOOST_TEST(late.ends_at_ms == 20000);
  BOOST_TEST(late.speaker_ids == std::vector<std::string>{speaker});
  BOOST_TEST(late.media.empty());
  auto early =
      ask<session_view>(exh, session_atom::value, admin, session_spec{"Opening", 10000, 11000, {}});

  BOOST_CHECK(ask<session_view>(exh, get_atom::value, session_atom::value, late.session_id) ==
              late);
  BOOST_TEST(refusal<session_view>(exh, get_atom::value, session_atom::value,
                                   new_child_id(id, "ses")) == "not_found");
  auto sessions = ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value);
  BOOST_REQUIRE(sessions.size() == 2u);
  BOOST_CHECK(sessions[0] == early);
  BOOST_CHECK(sessions[1] == late);
}

BOOST_FIXTURE_TEST_CASE(media_is_added_by_its_speaker_or_an_admin, fixture) {
  auto id = new_id("exh");
  auto exh = created(id);
  caller speaker{new_id("usr"), false, {}};
  caller other_speaker{new_id("usr"), false, {}};
  auto talk = ask<session_view>(exh, session_atom::value, admin,
                                session_spec{"Talk", 11000, 12000, {speaker.user_id}});
  auto file = new_id("file");
  speaker_media picture{speaker.user_id, "picture", file, "Me on stage"};
  auto add = [&](const caller& who, const std::string& session, speaker_media m) {
    return refusal<session_view>(exh, media_atom::value, who, session, m);
  };

  BOOST_TEST(add(speaker, new_child_id(id, "ses"), picture) == "not_found");
  BOOST_TEST(add(visitor, talk.session_id, picture) == "forbidden");
  BOOST_TEST(add(other_speaker, talk.session_id, picture) == "forbidden");
  BOOST_TEST(add(other_speaker, talk.session_id, {other_speaker.user_id, "picture", file, ""}) ==
             "invalid_argument");
  BOOST_TEST(add(speaker, talk.session_id, {speaker.user_id, "audio", file, ""}) ==
             "invalid_argument");
  BOOST_TEST(add(speaker, talk.session_id, {speaker.user_id, "video", "", ""}) ==
             "invalid_argument");
  BOOST_TEST(add(speaker, talk.session_id,
                 {speaker.user_id, "video", file, std::string(1001, 'c')}) == "invalid_argument");

  auto view = ask<session_view>(exh, media_atom::value, speaker, talk.session_id, picture);
  BOOST_CHECK(view.media == std::vector<speaker_media>{picture});
  speaker_media video{speaker.user_id, "video", new_id("file"), "The talk"};
  view = ask<session_view>(exh, media_atom::value, admin, talk.session_id, video);
  BOOST_CHECK((view.media == std::vector<speaker_media>{picture, video}));
  BOOST_CHECK(ask<session_view>(exh, get_atom::value, session_atom::value, talk.session_id) ==
              view);
}

BOOST_FIXTURE_TEST_CASE(state_is_restored_after_an_engine_restart, fixture) {
  auto id = new_id("exh");
  auto exh = created(id);
  auto speaker = new_id("usr");
  ask<exhibition_view>(exh, booth_atom::value, admin, booth_ref{new_id("bth"), new_id("org")});
  auto talk = ask<session_view>(exh, session_atom::value, admin,
                                session_spec{"Talk", 11000, 12000, {speaker}});
  ask<session_view>(exh, media_atom::value, admin, talk.session_id,
                    speaker_media{speaker, "video", new_id("file"), "Recorded"});
  auto live = ask<exhibition_view>(exh, get_atom::value);
  auto live_sessions = ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value);

  restart();
  exh = activate(id);
  BOOST_CHECK(ask<exhibition_view>(exh, get_atom::value) == live);
  BOOST_CHECK(ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value) ==
              live_sessions);
}

BOOST_FIXTURE_TEST_CASE(snapshot_plus_replay_equals_live_state, snapshot_fixture) {
  auto id = new_id("exh");
  auto exh = created(id);
  auto speaker = new_id("usr");
  auto gone = new_id("usr");
  for (int i = 0; i < 3; ++i)
    ask<exhibition_view>(exh, booth_atom::value, admin, booth_ref{new_id("bth"), new_id("org")});
  auto talk = ask<session_view>(exh, session_atom::value, admin,
                                session_spec{"Talk", 11000, 12000, {speaker, gone}});
  ask<session_view>(exh, session_atom::value, admin, session_spec{"Panel", 10500, 11000, {gone}});
  ask<session_view>(exh, media_atom::value, admin, talk.session_id,
                    speaker_media{speaker, "picture", new_id("file"), "Portrait"});
  ask<session_view>(exh, media_atom::value, admin, talk.session_id,
                    speaker_media{gone, "video", new_id("file"), "Gone's video"});
  // An erasure compacts to a snapshot (seq 10, after two speakerRemoved events); one more is
  // replayed.
  BOOST_TEST(ask<uint64_t>(exh, erase_atom::value, gone) == 3u);
  ask<exhibition_view>(exh, booth_atom::value, admin, booth_ref{new_id("bth"), new_id("org")});
  auto live = ask<exhibition_view>(exh, get_atom::value);
  auto live_sessions = ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value);

  restart();
  auto history = eng->rt()->store->load(id);
  BOOST_REQUIRE(history);
  BOOST_REQUIRE(history->snapshot.has_value());
  BOOST_TEST(history->snapshot->seq >= 3u);
  BOOST_TEST(!history->events.empty());
  exh = activate(id);
  BOOST_CHECK(ask<exhibition_view>(exh, get_atom::value) == live);
  BOOST_CHECK(ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value) ==
              live_sessions);
}

BOOST_FIXTURE_TEST_CASE(passivation_and_reactivation_keep_state, idle_fixture) {
  auto id = new_id("exh");
  auto exh = created(id);
  ask<session_view>(exh, session_atom::value, admin,
                    session_spec{"Talk", 11000, 12000, {new_id("usr")}});
  auto live = ask<exhibition_view>(exh, get_atom::value);
  auto live_sessions = ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value);
  BOOST_TEST(resident(id));

  wait_until_passivated(id);
  exh = activate(id);
  BOOST_CHECK(ask<exhibition_view>(exh, get_atom::value) == live);
  BOOST_CHECK(ask<std::vector<session_view>>(exh, list_atom::value, session_atom::value) ==
              live_sessions);
}

BOOST_FIXTURE_TEST_CASE(export_lists_and_erase_removes_a_speakers_data, fixture) {
  auto id = new_id("exh");
  auto exh = created(id);
  auto person = new_id("usr");
  auto other = new_id("usr");
  const std::string secret = "Person's private caption";
  auto talk = ask<session_view>(exh, session_atom::value, admin,
                                session_spec{"Talk", 11000, 12000, {person, other}});
  auto panel = ask<session_view>(exh, session_atom::value, admin,
                                 session_spec{"Panel", 13000, 14000, {person}});
  auto picture = new_id("file");
  ask<session_view>(exh, media_atom::value, caller{person}, talk.session_id,
                    speaker_media{person, "picture", picture, secret});
  ask<session_view>(exh, media_atom::value, caller{person}, talk.session_id,
                    speaker_media{person, "video", new_id("file"), secret + " too"});
  speaker_media others{other, "picture", new_id("file"), "Other's caption"};
  ask<session_view>(exh, media_atom::value, caller{other}, talk.session_id, others);

  auto before = ask<std::vector<personal_record>>(exh, export_atom::value, person);
  BOOST_REQUIRE(before.size() == 4u);
  BOOST_TEST(before[0].category == "sessions");
  BOOST_TEST(before[0].record_id == talk.session_id);
  BOOST_TEST(before[1].category == "speaker_media");
  BOOST_CHECK((before[1].fields ==
               std::vector<std::pair<std::string, std::string>>{{"session_id", talk.session_id},
                                                                {"kind", "picture"},
                                                                {"file_id", picture},
                                                                {"caption", secret}}));
  BOOST_TEST(before[2].category == "speaker_media");
  BOOST_TEST(before[3].category == "sessions");
  BOOST_TEST(before[3].record_id == panel.session_id);

  BOOST_TEST(ask<uint64_t>(exh, erase_atom::value, person) == 4u);
  BOOST_TEST(ask<std::vector<personal_record>>(exh, export_atom::value, person).empty());
  BOOST_TEST(ask<uint64_t>(exh, erase_atom::value, person) == 0u);
  auto after = ask<session_view>(exh, get_atom::value, session_atom::value, talk.session_id);
  BOOST_TEST(after.speaker_ids == std::vector<std::string>{other});
  BOOST_CHECK(after.media == std::vector<speaker_media>{others});
  BOOST_TEST(ask<session_view>(exh, get_atom::value, session_atom::value, panel.session_id)
                 .speaker_ids.empty());
  BOOST_TEST(ask<std::vector<personal_record>>(exh, export_atom::value, other).size() == 2u);
  // Compaction: no stored record, old events included, holds the person's captions any more.
  for (auto& record : stored_records(id)) BOOST_TEST(!contains(record, secret));

  restart();
  exh = activate(id);
  BOOST_TEST(ask<std::vector<personal_record>>(exh, export_atom::value, person).empty());
  BOOST_TEST(ask<std::vector<personal_record>>(exh, export_atom::value, other).size() == 2u);
}
