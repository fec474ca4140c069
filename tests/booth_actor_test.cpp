#define BOOST_TEST_MODULE booth_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/booth_actor.hpp"
#include "actors/engine.hpp"
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
  add_booth_types(cfg);
  return cfg;
}

// A real engine on a temporary directory, with the booth kind only.
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
    auto e = engine::start(sys, opts, {{"bth", make_booth_actor}});
    BOOST_REQUIRE_MESSAGE(e, "engine start: " << detail_of(e.error()));
    eng = std::move(*e);
  }

  void restart() {
    eng->stop();
    eng.reset();
    start();
  }

  booth_actor activate(const std::string& id) {
    caf::actor out;
    self->request(eng->directory(), timeout, activate_atom::value, id)
        .receive([&](caf::actor& a) { out = a; },
                 [&](caf::error& e) { BOOST_FAIL("activate: " << detail_of(e)); });
    return caf::actor_cast<booth_actor>(out);
  }

  template <class R, class... Ts>
  R ask(const booth_actor& h, Ts&&... xs) {
    R out{};
    self->request(h, timeout, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); },
                 [&](caf::error& e) { BOOST_FAIL("unexpected error: " << detail_of(e)); });
    return out;
  }

  // The name of the engine error the request is refused with.
  template <class R, class... Ts>
  std::string refusal(const booth_actor& h, Ts&&... xs) {
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
    self->request(eng->directory(), timeout, list_atom::value, std::string{"bth"}, uint32_t{1000})
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
};

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

const std::string org = new_id("org");
const caller admin{new_id("usr"), true, {}};
const caller rep{new_id("usr"), false, {org}};
const caller other_rep{new_id("usr"), false, {new_id("org")}};
const caller visitor{new_id("usr"), false, {}};
const caller anonymous{};

booth_spec stand() {
  return {new_id("exh"), org, "Acme stand", "Come and see", new_id("room")};
}

booth_actor created(fixture& f, const std::string& id) {
  auto booth = f.activate(id);
  f.ask<booth_view>(booth, create_atom::value, rep, stand(), int64_t{5});
  return booth;
}

content_spec article(std::string title = "Launch") {
  return {"article", std::move(title), "We launched.", ""};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(reps_or_admins_create_and_anyone_reads, fixture) {
  auto id = new_id("bth");
  auto booth = activate(id);
  auto spec = stand();
  auto view = ask<booth_view>(booth, create_atom::value, rep, spec, int64_t{5});
  BOOST_TEST(view.booth_id == id);
  BOOST_TEST(view.exhibition_id == spec.exhibition_id);
  BOOST_TEST(view.organization_id == org);
  BOOST_TEST(view.name == "Acme stand");
  BOOST_TEST(view.description == "Come and see");
  BOOST_TEST(view.chat_room_id == spec.chat_room_id);
  BOOST_TEST(view.content.empty());
  BOOST_TEST(view.total_visits == 0u);
  BOOST_CHECK(ask<booth_view>(booth, get_atom::value) == view);

  auto by_admin = activate(new_id("bth"));
  BOOST_TEST(ask<booth_view>(by_admin, create_atom::value, admin, stand(), int64_t{6}).name ==
             "Acme stand");
}

BOOST_FIXTURE_TEST_CASE(creation_is_refused_to_others_twice_and_when_malformed, fixture) {
  auto booth = activate(new_id("bth"));
  auto refused = [&](const caller& who, booth_spec spec) {
    return refusal<booth_view>(booth, create_atom::value, who, spec, int64_t{1});
  };
  auto with = [](auto change) {
    auto spec = stand();
    change(spec);
    return spec;
  };
  BOOST_TEST(refused(visitor, stand()) == "forbidden");
  BOOST_TEST(refused(other_rep, stand()) == "forbidden");
  BOOST_TEST(refused(admin, with([](auto& s) { s.name = ""; })) == "invalid_argument");
  BOOST_TEST(refused(admin, with([](auto& s) { s.name = std::string(201, 'n'); })) ==
             "invalid_argument");
  BOOST_TEST(refused(admin, with([](auto& s) { s.chat_room_id = ""; })) == "invalid_argument");
  BOOST_TEST(refused(admin, with([](auto& s) { s.exhibition_id = new_id("org"); })) ==
             "invalid_argument");
  ask<booth_view>(booth, create_atom::value, rep, stand(), int64_t{1});
  BOOST_TEST(refused(rep, stand()) == "conflict");
}

BOOST_FIXTURE_TEST_CASE(a_never_created_booth_is_not_found, fixture) {
  auto booth = activate(new_id("bth"));
  BOOST_TEST(refusal<booth_view>(booth, get_atom::value) == "not_found");
  BOOST_TEST(refusal<booth_view>(booth, update_atom::value, admin,
                                 booth_patch{true, "X", false, ""}) == "not_found");
  BOOST_TEST(refusal<content_view>(booth, content_atom::value, admin, article(), int64_t{1}) ==
             "not_found");
  BOOST_TEST(refusal<uint64_t>(booth, visit_atom::value, visitor, false, int64_t{1}) ==
             "not_found");
  BOOST_TEST(refusal<visit_stats>(booth, get_atom::value, visit_atom::value, admin) == "not_found");
}

BOOST_FIXTURE_TEST_CASE(reps_and_admins_update_others_cannot, fixture) {
  auto booth = created(*this, new_id("bth"));
  BOOST_TEST(refusal<booth_view>(booth, update_atom::value, visitor,
                                 booth_patch{true, "Mine", false, ""}) == "forbidden");
  BOOST_TEST(refusal<booth_view>(booth, update_atom::value, other_rep,
                                 booth_patch{true, "Mine", false, ""}) == "forbidden");
  BOOST_TEST(refusal<booth_view>(booth, update_atom::value, rep,
                                 booth_patch{true, "", false, ""}) == "invalid_argument");

  auto renamed =
      ask<booth_view>(booth, update_atom::value, rep, booth_patch{true, "New", false, ""});
  BOOST_TEST(renamed.name == "New");
  BOOST_TEST(renamed.description == "Come and see");
  auto described =
      ask<booth_view>(booth, update_atom::value, admin, booth_patch{false, "", true, ""});
  BOOST_TEST(described.name == "New");
  BOOST_TEST(described.description == "");
  BOOST_CHECK(ask<booth_view>(booth, get_atom::value) == described);
}

BOOST_FIXTURE_TEST_CASE(content_is_posted_and_removed_by_reps_with_a_known_kind, fixture) {
  auto id = new_id("bth");
  auto booth = created(*this, id);
  auto post = [&](const caller& who, content_spec spec) {
    return refusal<content_view>(booth, content_atom::value, who, spec, int64_t{7});
  };
  BOOST_TEST(post(visitor, article()) == "forbidden");
  BOOST_TEST(post(other_rep, article()) == "forbidden");
  BOOST_TEST(post(rep, {"tweet", "Title", "", ""}) == "invalid_argument");
  BOOST_TEST(post(rep, {"article", "", "", ""}) == "invalid_argument");
  BOOST_TEST(post(rep, {"article", std::string(301, 't'), "", ""}) == "invalid_argument");
  BOOST_TEST(post(rep, {"article", "Title", std::string(100001, 'b'), ""}) == "invalid_argument");
  BOOST_TEST(post(rep, {"poster", "Title", "", "not a file!"}) == "invalid_argument");

  std::vector<content_view> posted;
  for (auto kind : {"article", "post", "comment", "datasheet", "poster", "video"}) {
    content_spec spec{kind, std::string{"A "} + kind, std::string(100000, 'b'), new_id("file")};
    auto c = ask<content_view>(booth, content_atom::value, rep, spec, int64_t{7});
    BOOST_TEST(owner_of(c.content_id) == id);
    BOOST_TEST(c.kind == kind);
    BOOST_TEST(c.title == spec.title);
    BOOST_TEST(c.body == spec.body);
    BOOST_TEST(c.file_id == spec.file_id);
    BOOST_TEST(c.author_id == rep.user_id);
    BOOST_TEST(c.created_at_ms == 7);
    posted.push_back(c);
  }
  posted.push_back(ask<content_view>(booth, content_atom::value, admin, article(), int64_t{8}));
  BOOST_TEST(posted.back().author_id == admin.user_id);
  BOOST_CHECK(ask<booth_view>(booth, get_atom::value).content == posted);

  BOOST_TEST(refusal<booth_view>(booth, remove_atom::value, visitor, posted[0].content_id) ==
             "forbidden");
  BOOST_TEST(refusal<booth_view>(booth, remove_atom::value, rep, new_child_id(id, "cnt")) ==
             "not_found");
  auto after = ask<booth_view>(booth, remove_atom::value, rep, posted[0].content_id);
  posted.erase(posted.begin());
  BOOST_CHECK(after.content == posted);
}

BOOST_FIXTURE_TEST_CASE(visits_are_counted_and_shown_to_reps_only_as_aggregates, fixture) {
  auto booth = created(*this, new_id("bth"));
  caller alice{new_id("usr"), false, {}};
  caller bob{new_id("usr"), false, {}};
  BOOST_TEST(refusal<uint64_t>(booth, visit_atom::value, anonymous, true, int64_t{1}) ==
             "unauthenticated");
  BOOST_TEST(ask<uint64_t>(booth, visit_atom::value, alice, false, int64_t{10}) == 1u);
  BOOST_TEST(ask<uint64_t>(booth, visit_atom::value, alice, false, int64_t{11}) == 2u);
  BOOST_TEST(ask<uint64_t>(booth, visit_atom::value, bob, true, int64_t{12}) == 3u);
  BOOST_TEST(ask<booth_view>(booth, get_atom::value).total_visits == 3u);

  BOOST_TEST(refusal<visit_stats>(booth, get_atom::value, visit_atom::value, visitor) ==
             "forbidden");
  BOOST_TEST(refusal<visit_stats>(booth, get_atom::value, visit_atom::value, other_rep) ==
             "forbidden");
  BOOST_TEST(refusal<visit_stats>(booth, get_atom::value, visit_atom::value, bob) == "forbidden");
  auto stats = ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep);
  BOOST_TEST(stats.total_visits == 3u);
  BOOST_TEST(stats.unique_visitors == 2u);
  BOOST_TEST(stats.shared_contacts == std::vector<std::string>{bob.user_id});
  BOOST_CHECK(ask<visit_stats>(booth, get_atom::value, visit_atom::value, admin) == stats);

  // The latest visit's choice counts: sharing can be given and withdrawn.
  ask<uint64_t>(booth, visit_atom::value, alice, true, int64_t{13});
  ask<uint64_t>(booth, visit_atom::value, bob, false, int64_t{14});
  stats = ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep);
  BOOST_TEST(stats.total_visits == 5u);
  BOOST_TEST(stats.unique_visitors == 2u);
  BOOST_TEST(stats.shared_contacts == std::vector<std::string>{alice.user_id});
}

BOOST_FIXTURE_TEST_CASE(state_is_restored_after_an_engine_restart, fixture) {
  auto id = new_id("bth");
  auto booth = created(*this, id);
  ask<content_view>(booth, content_atom::value, rep, article(), int64_t{6});
  ask<uint64_t>(booth, visit_atom::value, visitor, true, int64_t{7});
  auto live = ask<booth_view>(booth, get_atom::value);
  auto live_stats = ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep);
  auto live_export = ask<std::vector<personal_record>>(booth, export_atom::value, visitor.user_id);

  restart();
  booth = activate(id);
  BOOST_CHECK(ask<booth_view>(booth, get_atom::value) == live);
  BOOST_CHECK(ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep) == live_stats);
  auto restored = ask<std::vector<personal_record>>(booth, export_atom::value, visitor.user_id);
  BOOST_REQUIRE(restored.size() == 1u);
  BOOST_CHECK(restored[0].fields == live_export[0].fields);
}

BOOST_FIXTURE_TEST_CASE(snapshot_plus_replay_equals_live_state, snapshot_fixture) {
  auto id = new_id("bth");
  auto booth = created(*this, id);
  auto first = ask<content_view>(booth, content_atom::value, rep, article("One"), int64_t{6});
  ask<content_view>(booth, content_atom::value, rep, article("Two"), int64_t{7});
  ask<booth_view>(booth, remove_atom::value, rep, first.content_id);
  ask<booth_view>(booth, update_atom::value, rep, booth_patch{true, "Renamed", false, ""});
  for (int i = 0; i < 5; ++i)
    ask<uint64_t>(booth, visit_atom::value, caller{new_id("usr")}, i % 2 == 0, int64_t{8 + i});
  // Ten events: snapshots at 3, 6 and 9, and the last event is replayed on top.
  auto live = ask<booth_view>(booth, get_atom::value);
  auto live_stats = ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep);

  restart();
  auto history = eng->rt()->store->load(id);
  BOOST_REQUIRE(history);
  BOOST_REQUIRE(history->snapshot.has_value());
  BOOST_TEST(history->snapshot->seq >= 3u);
  BOOST_TEST(!history->events.empty());
  booth = activate(id);
  BOOST_CHECK(ask<booth_view>(booth, get_atom::value) == live);
  BOOST_CHECK(ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep) == live_stats);
}

BOOST_FIXTURE_TEST_CASE(passivation_and_reactivation_keep_state, idle_fixture) {
  auto id = new_id("bth");
  auto booth = created(*this, id);
  ask<content_view>(booth, content_atom::value, rep, article(), int64_t{6});
  ask<uint64_t>(booth, visit_atom::value, visitor, true, int64_t{7});
  auto live = ask<booth_view>(booth, get_atom::value);
  auto live_stats = ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep);
  BOOST_TEST(resident(id));

  wait_until_passivated(id);
  booth = activate(id);
  BOOST_CHECK(ask<booth_view>(booth, get_atom::value) == live);
  BOOST_CHECK(ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep) == live_stats);
}

BOOST_FIXTURE_TEST_CASE(export_lists_and_erase_forgets_a_person_but_keeps_aggregates, fixture) {
  auto id = new_id("bth");
  auto booth = created(*this, id);
  // The person is a representative who posted content and also visited, sharing contact.
  caller person{new_id("usr"), false, {org}};
  auto mine = ask<content_view>(booth, content_atom::value, person, article("Mine"), int64_t{6});
  ask<content_view>(booth, content_atom::value, person, article("Also mine"), int64_t{7});
  auto theirs = ask<content_view>(booth, content_atom::value, rep, article("Theirs"), int64_t{8});
  ask<uint64_t>(booth, visit_atom::value, person, false, int64_t{9});
  ask<uint64_t>(booth, visit_atom::value, person, true, int64_t{10});
  ask<uint64_t>(booth, visit_atom::value, visitor, true, int64_t{11});

  auto before = ask<std::vector<personal_record>>(booth, export_atom::value, person.user_id);
  BOOST_REQUIRE(before.size() == 3u);
  BOOST_TEST(before[0].category == "booth_visits");
  BOOST_CHECK((before[0].fields ==
               std::vector<std::pair<std::string, std::string>>{{"booth_id", id},
                                                                {"visits", "2"},
                                                                {"first_at_ms", "9"},
                                                                {"last_at_ms", "10"},
                                                                {"shared_contact", "true"}}));
  BOOST_TEST(before[1].category == "booth_content");
  BOOST_TEST(before[1].record_id == mine.content_id);
  BOOST_TEST(before[2].category == "booth_content");

  BOOST_TEST(ask<uint64_t>(booth, erase_atom::value, person.user_id) == 3u);
  BOOST_TEST(ask<std::vector<personal_record>>(booth, export_atom::value, person.user_id).empty());
  BOOST_TEST(ask<uint64_t>(booth, erase_atom::value, person.user_id) == 0u);

  auto view = ask<booth_view>(booth, get_atom::value);
  BOOST_REQUIRE(view.content.size() == 3u);
  BOOST_TEST(view.content[0].title == "Mine");
  BOOST_TEST(view.content[0].author_id == former_representative);
  BOOST_TEST(view.content[1].author_id == former_representative);
  BOOST_CHECK(view.content[2] == theirs);
  BOOST_TEST(view.total_visits == 3u);
  auto stats = ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep);
  BOOST_TEST(stats.total_visits == 3u);
  BOOST_TEST(stats.unique_visitors == 2u);
  BOOST_TEST(stats.shared_contacts == std::vector<std::string>{visitor.user_id});
  // Compaction: no stored record, old events included, names the person any more.
  for (auto& record : stored_records(id)) BOOST_TEST(!contains(record, person.user_id));

  restart();
  booth = activate(id);
  BOOST_TEST(ask<std::vector<personal_record>>(booth, export_atom::value, person.user_id).empty());
  BOOST_CHECK(ask<booth_view>(booth, get_atom::value) == view);
  BOOST_CHECK(ask<visit_stats>(booth, get_atom::value, visit_atom::value, rep) == stats);
}
