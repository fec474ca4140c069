#define BOOST_TEST_MODULE organization_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/engine.hpp"
#include "actors/organization_actor.hpp"
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
  add_organization_types(cfg);
  return cfg;
}

// A real engine on a temporary directory, with the organization kind only.
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
    auto e = engine::start(sys, opts, {{"org", make_organization_actor}});
    BOOST_REQUIRE_MESSAGE(e, "engine start: " << detail_of(e.error()));
    eng = std::move(*e);
  }

  void restart() {
    eng->stop();
    eng.reset();
    start();
  }

  organization_actor activate(const std::string& id) {
    caf::actor out;
    self->request(eng->directory(), timeout, activate_atom::value, id)
        .receive([&](caf::actor& a) { out = a; },
                 [&](caf::error& e) { BOOST_FAIL("activate: " << detail_of(e)); });
    return caf::actor_cast<organization_actor>(out);
  }

  template <class R, class... Ts>
  R ask(const organization_actor& h, Ts&&... xs) {
    R out{};
    self->request(h, timeout, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); },
                 [&](caf::error& e) { BOOST_FAIL("unexpected error: " << detail_of(e)); });
    return out;
  }

  // The name of the engine error the request is refused with.
  template <class R, class... Ts>
  std::string refusal(const organization_actor& h, Ts&&... xs) {
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
    self->request(eng->directory(), timeout, list_atom::value, std::string{"org"}, uint32_t{1000})
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

const caller admin{new_id("usr"), true, {}};
const caller visitor{new_id("usr"), false, {}};
const caller anonymous{};

organization_info acme() {
  return {"Acme", "FR", "https://acme.example", "Rockets and anvils"};
}

caller rep_of(const std::string& user, const std::string& org) {
  return {user, false, {org}};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(admin_creates_and_anyone_reads, fixture) {
  auto id = new_id("org");
  auto org = activate(id);
  auto created = ask<organization_view>(org, create_atom::value, admin, acme(), int64_t{1000});
  BOOST_TEST(created.organization_id == id);
  BOOST_TEST(created.name == "Acme");
  BOOST_TEST(created.country == "FR");
  BOOST_TEST(created.website == "https://acme.example");
  BOOST_TEST(created.description == "Rockets and anvils");
  BOOST_TEST(created.representative_ids.empty());
  BOOST_TEST(created.created_at_ms == 1000);
  BOOST_CHECK(ask<organization_view>(org, get_atom::value) == created);
}

BOOST_FIXTURE_TEST_CASE(only_an_admin_creates_and_only_once, fixture) {
  auto id = new_id("org");
  auto org = activate(id);
  BOOST_TEST(refusal<organization_view>(org, create_atom::value, visitor, acme(), int64_t{1}) ==
             "forbidden");
  BOOST_TEST(refusal<organization_view>(org, create_atom::value, rep_of(visitor.user_id, id),
                                        acme(), int64_t{1}) == "forbidden");
  ask<organization_view>(org, create_atom::value, admin, acme(), int64_t{1});
  BOOST_TEST(refusal<organization_view>(org, create_atom::value, admin, acme(), int64_t{2}) ==
             "conflict");
}

BOOST_FIXTURE_TEST_CASE(malformed_information_is_refused, fixture) {
  auto org = activate(new_id("org"));
  auto with = [](auto change) {
    auto info = acme();
    change(info);
    return info;
  };
  auto refused = [&](const organization_info& info) {
    return refusal<organization_view>(org, create_atom::value, admin, info, int64_t{1});
  };
  BOOST_TEST(refused(with([](auto& i) { i.name = ""; })) == "invalid_argument");
  BOOST_TEST(refused(with([](auto& i) { i.name = "   "; })) == "invalid_argument");
  BOOST_TEST(refused(with([](auto& i) { i.name = std::string(201, 'x'); })) == "invalid_argument");
  BOOST_TEST(refused(with([](auto& i) { i.website = "ftp://acme.example"; })) ==
             "invalid_argument");
  BOOST_TEST(refused(with([](auto& i) { i.website = "javascript:alert(1)"; })) ==
             "invalid_argument");
  BOOST_TEST(refused(with([](auto& i) { i.website = "https://acme .example"; })) ==
             "invalid_argument");
  BOOST_TEST(refused(with([](auto& i) { i.country = std::string(101, 'x'); })) ==
             "invalid_argument");
  // 200 characters of two bytes each are still 200 characters, and the website may be empty.
  std::string accented;
  for (int i = 0; i < 200; ++i) accented += "\xc3\xa9";
  auto ok = ask<organization_view>(org, create_atom::value, admin,
                                   organization_info{accented, "", "", ""}, int64_t{1});
  BOOST_TEST(ok.name == accented);
  BOOST_TEST(ok.website.empty());
}

BOOST_FIXTURE_TEST_CASE(a_never_created_organization_is_not_found, fixture) {
  auto id = new_id("org");
  std::string resolved = "found";
  self->request(eng->directory(), timeout, resolve_atom::value, id)
      .receive([&](caf::actor&) {},
               [&](caf::error& e) { resolved = to_string(code_of(e).value_or(errc::internal)); });
  BOOST_TEST(resolved == "not_found");
  auto org = activate(id);
  BOOST_TEST(refusal<organization_view>(org, get_atom::value) == "not_found");
  BOOST_TEST(refusal<organization_view>(org, update_atom::value, admin, acme(), int64_t{1}) ==
             "not_found");
  BOOST_TEST(refusal<organization_view>(org, add_atom::value, admin, visitor.user_id) ==
             "not_found");
  BOOST_TEST(refusal<std::string>(org, mention_atom::value, visitor,
                                  mention{"", "", "Acme is great"}, int64_t{1}) == "not_found");
}

BOOST_FIXTURE_TEST_CASE(representatives_and_admins_edit_others_cannot, fixture) {
  auto id = new_id("org");
  auto org = activate(id);
  ask<organization_view>(org, create_atom::value, admin, acme(), int64_t{1});
  auto rep = new_id("usr");
  auto changed = acme();
  changed.description = "Only anvils now";

  BOOST_TEST(refusal<organization_view>(org, update_atom::value, visitor, changed, int64_t{2}) ==
             "forbidden");
  BOOST_TEST(refusal<organization_view>(org, update_atom::value, rep_of(rep, new_id("org")),
                                        changed, int64_t{2}) == "forbidden");
  BOOST_TEST(refusal<organization_view>(org, add_atom::value, visitor, rep) == "forbidden");
  BOOST_TEST(refusal<organization_view>(org, add_atom::value, admin, std::string{"bob"}) ==
             "invalid_argument");
  BOOST_TEST(refusal<organization_view>(org, add_atom::value, admin, new_id("org")) ==
             "invalid_argument");

  auto added = ask<organization_view>(org, add_atom::value, admin, rep);
  BOOST_TEST(added.representative_ids == std::vector<std::string>{rep});
  BOOST_CHECK(ask<organization_view>(org, add_atom::value, admin, rep) == added);

  auto updated =
      ask<organization_view>(org, update_atom::value, rep_of(rep, id), changed, int64_t{3});
  BOOST_TEST(updated.description == "Only anvils now");
  BOOST_TEST(updated.created_at_ms == 1);
  auto bad = changed;
  bad.website = "not a url";
  BOOST_TEST(refusal<organization_view>(org, update_atom::value, admin, bad, int64_t{4}) ==
             "invalid_argument");

  BOOST_TEST(refusal<organization_view>(org, remove_atom::value, rep_of(rep, id), rep) ==
             "forbidden");
  auto removed = ask<organization_view>(org, remove_atom::value, admin, rep);
  BOOST_TEST(removed.representative_ids.empty());
  BOOST_CHECK(ask<organization_view>(org, remove_atom::value, admin, rep) == removed);
  BOOST_CHECK(ask<organization_view>(org, get_atom::value) == removed);
}

BOOST_FIXTURE_TEST_CASE(mentions_are_written_by_their_signed_in_author, fixture) {
  auto id = new_id("org");
  auto org = activate(id);
  ask<organization_view>(org, create_atom::value, admin, acme(), int64_t{1});
  mention m{"", "https://news.example/acme", "Acme ships anvils"};

  BOOST_TEST(refusal<std::string>(org, mention_atom::value, anonymous, m, int64_t{2}) ==
             "unauthenticated");
  BOOST_TEST(refusal<std::string>(org, mention_atom::value, visitor,
                                  mention{new_id("usr"), m.source_url, m.text},
                                  int64_t{2}) == "forbidden");
  BOOST_TEST(refusal<std::string>(org, mention_atom::value, visitor, mention{"", m.source_url, ""},
                                  int64_t{2}) == "invalid_argument");
  BOOST_TEST(refusal<std::string>(org, mention_atom::value, visitor,
                                  mention{"", "file:///etc/passwd", m.text},
                                  int64_t{2}) == "invalid_argument");

  auto mid = ask<std::string>(org, mention_atom::value, visitor, m, int64_t{2});
  BOOST_TEST(owner_of(mid) == id);
  BOOST_TEST(kind_of(mid) == "org");
  auto own = ask<std::string>(org, mention_atom::value, visitor,
                              mention{visitor.user_id, "", "Another"}, int64_t{3});
  BOOST_TEST(own != mid);

  auto records = ask<std::vector<personal_record>>(org, export_atom::value, visitor.user_id);
  BOOST_REQUIRE(records.size() == 2u);
  BOOST_TEST(records[0].category == "third_party_content");
  BOOST_TEST(records[0].record_id == mid);
  auto fields = records[0].fields;
  BOOST_CHECK(
      (fields == std::vector<std::pair<std::string, std::string>>{{"organization_id", id},
                                                                  {"source_url", m.source_url},
                                                                  {"text", m.text},
                                                                  {"at_ms", "2"}}));
}

BOOST_FIXTURE_TEST_CASE(state_is_restored_after_an_engine_restart, fixture) {
  auto id = new_id("org");
  auto org = activate(id);
  ask<organization_view>(org, create_atom::value, admin, acme(), int64_t{1});
  auto rep = new_id("usr");
  ask<organization_view>(org, add_atom::value, admin, rep);
  ask<std::string>(org, mention_atom::value, visitor, mention{"", "", "Hello Acme"}, int64_t{2});
  auto live = ask<organization_view>(org, get_atom::value);
  auto live_export = ask<std::vector<personal_record>>(org, export_atom::value, visitor.user_id);

  restart();
  org = activate(id);
  BOOST_CHECK(ask<organization_view>(org, get_atom::value) == live);
  auto restored = ask<std::vector<personal_record>>(org, export_atom::value, visitor.user_id);
  BOOST_REQUIRE(restored.size() == 1u);
  BOOST_TEST(restored[0].record_id == live_export[0].record_id);
  BOOST_CHECK(restored[0].fields == live_export[0].fields);
}

BOOST_FIXTURE_TEST_CASE(snapshot_plus_replay_equals_live_state, snapshot_fixture) {
  auto id = new_id("org");
  auto org = activate(id);
  ask<organization_view>(org, create_atom::value, admin, acme(), int64_t{1});
  std::vector<std::string> reps;
  for (int i = 0; i < 5; ++i) {
    reps.push_back(new_id("usr"));
    ask<organization_view>(org, add_atom::value, admin, reps.back());
  }
  ask<organization_view>(org, remove_atom::value, admin, reps[1]);
  ask<std::string>(org, mention_atom::value, visitor, mention{"", "", "First"}, int64_t{5});
  auto info = acme();
  info.name = "Acme Corp";
  ask<organization_view>(org, update_atom::value, admin, info, int64_t{6});
  // Ten events: snapshots at 3, 6 and 9, and the last event is replayed on top.
  ask<std::string>(org, mention_atom::value, visitor, mention{"", "", "Second"}, int64_t{7});
  auto live = ask<organization_view>(org, get_atom::value);
  auto live_export = ask<std::vector<personal_record>>(org, export_atom::value, visitor.user_id);

  restart();
  auto history = eng->rt()->store->load(id);
  BOOST_REQUIRE(history);
  BOOST_REQUIRE(history->snapshot.has_value());
  BOOST_TEST(history->snapshot->seq >= 3u);
  BOOST_TEST(!history->events.empty());
  org = activate(id);
  BOOST_CHECK(ask<organization_view>(org, get_atom::value) == live);
  auto restored = ask<std::vector<personal_record>>(org, export_atom::value, visitor.user_id);
  BOOST_REQUIRE(restored.size() == 2u);
  BOOST_REQUIRE(live_export.size() == 2u);
  BOOST_CHECK(restored[0].fields == live_export[0].fields);
  BOOST_CHECK(restored[1].fields == live_export[1].fields);
}

BOOST_FIXTURE_TEST_CASE(passivation_and_reactivation_keep_state, idle_fixture) {
  auto id = new_id("org");
  auto org = activate(id);
  ask<organization_view>(org, create_atom::value, admin, acme(), int64_t{1});
  ask<organization_view>(org, add_atom::value, admin, visitor.user_id);
  auto live = ask<organization_view>(org, get_atom::value);
  BOOST_TEST(resident(id));

  wait_until_passivated(id);
  org = activate(id);
  BOOST_CHECK(ask<organization_view>(org, get_atom::value) == live);
}

BOOST_FIXTURE_TEST_CASE(export_lists_and_erase_removes_a_persons_data, fixture) {
  auto id = new_id("org");
  auto org = activate(id);
  ask<organization_view>(org, create_atom::value, admin, acme(), int64_t{1});
  auto person = new_id("usr");
  auto other = new_id("usr");
  ask<organization_view>(org, add_atom::value, admin, person);
  ask<organization_view>(org, add_atom::value, admin, other);
  const std::string secret = "Person's own words about Acme";
  ask<std::string>(org, mention_atom::value, caller{person}, mention{"", "", secret}, int64_t{2});
  ask<std::string>(org, mention_atom::value, caller{person}, mention{"", "", secret + " again"},
                   int64_t{3});
  ask<std::string>(org, mention_atom::value, caller{other}, mention{"", "", "Other words"},
                   int64_t{4});

  auto before = ask<std::vector<personal_record>>(org, export_atom::value, person);
  BOOST_REQUIRE(before.size() == 3u);
  BOOST_TEST(before[0].category == "organizations_and_roles");
  BOOST_TEST(before[0].holder_id == id);
  BOOST_TEST(before[1].category == "third_party_content");
  BOOST_TEST(before[2].category == "third_party_content");

  BOOST_TEST(ask<uint64_t>(org, erase_atom::value, person) == 3u);
  BOOST_TEST(ask<std::vector<personal_record>>(org, export_atom::value, person).empty());
  BOOST_TEST(ask<uint64_t>(org, erase_atom::value, person) == 0u);
  BOOST_TEST(ask<organization_view>(org, get_atom::value).representative_ids ==
             std::vector<std::string>{other});
  BOOST_TEST(ask<std::vector<personal_record>>(org, export_atom::value, other).size() == 2u);
  // Compaction: no stored record, old events included, holds the person's words any more.
  for (auto& record : stored_records(id)) BOOST_TEST(!contains(record, secret));

  restart();
  org = activate(id);
  BOOST_TEST(ask<std::vector<personal_record>>(org, export_atom::value, person).empty());
  BOOST_TEST(ask<std::vector<personal_record>>(org, export_atom::value, other).size() == 2u);
}
