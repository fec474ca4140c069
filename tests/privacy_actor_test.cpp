#define BOOST_TEST_MODULE privacy_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include <caf/all.hpp>

#include "actors/ask.hpp"
#include "actors/backup_actor.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/engine.hpp"
#include "actors/entity_kinds.hpp"
#include "actors/privacy_actor.hpp"
#include "actors/user_actor.hpp"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::actors;
using namespace std::chrono_literals;

namespace {

constexpr auto timeout = std::chrono::seconds(30);

struct test_config : caf::actor_system_config {
  test_config() {
    mext::test::use_mextd_scheduler(*this);
    add_all_message_types(*this);
  }
};

template <class R, class Handle, class... Ts>
caf::expected<R> ask(caf::actor_system& sys, const Handle& hdl, Ts&&... xs) {
  caf::scoped_actor self{sys};
  caf::expected<R> out{make_error(errc::internal, "no answer")};
  self->request(hdl, timeout, std::forward<Ts>(xs)...)
      .receive([&](R& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

// The test's own renderer: one line per field. The JSON archive of the edge is tested through
// the HTTP API; here the saga's gathering is what is checked.
caf::expected<std::string> render_lines(const privacy_request_view& v,
                                        const std::vector<personal_record>& recs) {
  std::string out = "request " + v.request_id + "\n";
  for (auto& r : recs)
    for (auto& [name, value] : r.fields)
      out += r.category + " " + r.holder_id + " " + name + "=" + value + "\n";
  return out;
}

struct fixture {
  test::temp_dir dir;
  test_config cfg;
  caf::actor_system sys{cfg};
  std::unique_ptr<engine> eng;
  privacy_actor privacy;
  // The step a crash is injected at; empty for none.
  std::string crash_step;
  std::atomic<int> sessions_ended{0};
  int64_t clock_ms = 1'800'000'000'000;

  fixture() { start(); }
  ~fixture() { stop(); }

  privacy_settings settings() {
    privacy_settings s;
    s.archive_dir = dir.path() / "exports";
    s.ledger_path = dir.path() / "ledger" / "erasures";
    s.holder_timeout = 5s;
    s.holder_attempts = 2;
    s.render_archive = render_lines;
    s.end_sessions = [this](const std::string&, std::function<void(caf::error)> done) {
      ++sessions_ended;
      done({});
    };
    s.clock = [this] { return clock_ms; };
    auto step = crash_step;
    s.crash_at = [step](std::string_view at) { return !step.empty() && at == step; };
    return s;
  }

  void start() {
    engine_options opts;
    opts.data_dir = dir.path();
    opts.entities.argon2_memory_kib = 64;
    opts.entities.argon2_iterations = 1;
    auto e = engine::start(sys, opts, all_entity_kinds());
    BOOST_REQUIRE(e);
    eng = std::move(*e);
    privacy = spawn_privacy_actor(sys, eng->rt(), settings());
  }

  void stop() {
    if (privacy) {
      caf::scoped_actor self{sys};
      self->monitor(privacy);
      self->send_exit(privacy, caf::exit_reason::user_shutdown);
      self->receive([](const caf::down_msg&) {});
      privacy = privacy_actor{};
    }
    if (eng) eng->stop();
    eng.reset();
  }

  void restart() {
    stop();
    start();
  }

  // Waits until the privacy actor stopped (an injected crash).
  void wait_for_crash() {
    caf::scoped_actor self{sys};
    self->monitor(privacy);
    self->receive([](const caf::down_msg&) {});
    privacy = privacy_actor{};
  }

  template <class Handle>
  Handle entity(const std::string& id, bool create) {
    caf::scoped_actor self{sys};
    auto hdl = create ? actors::ask<caf::actor>(self, eng->directory(), activate_atom::value, id)
                      : actors::ask<caf::actor>(self, eng->directory(), resolve_atom::value, id);
    BOOST_REQUIRE(hdl);
    return caf::actor_cast<Handle>(*hdl);
  }

  std::string person(const std::string& email) {
    auto id = new_id("usr");
    registration r;
    r.email = email;
    r.password = "a long enough password";
    r.first_name = "Grace";
    r.surname = "Hopperson";
    r.at_ms = clock_ms;
    auto v = ask<user_view>(sys, entity<user_actor>(id, true), register_atom::value, r);
    BOOST_REQUIRE(v);
    return id;
  }

  // A direct room between a and b with one message of each.
  std::string talk(const std::string& a, const std::string& b, const std::string& text_a,
                   const std::string& text_b) {
    auto room = direct_room_id(a, b);
    auto hdl = entity<chat_room_actor>(room, true);
    room_spec spec{"direct", "", "", {a, b}};
    BOOST_REQUIRE(
        ask<room_view>(sys, hdl, create_atom::value, caller{a, false, {}}, spec, clock_ms));
    BOOST_REQUIRE(ask<posted>(sys, hdl, post_atom::value, caller{a, false, {}},
                              post_spec{text_a, "", "ca"}, clock_ms));
    BOOST_REQUIRE(ask<posted>(sys, hdl, post_atom::value, caller{b, false, {}},
                              post_spec{text_b, "", "cb"}, clock_ms));
    return room;
  }

  privacy_request_view submit(const std::string& kind, const std::string& subject) {
    auto v = ask<privacy_request_view>(sys, privacy, submit_atom::value, kind, subject, subject);
    BOOST_REQUIRE(v);
    BOOST_TEST(v->status == "pending");
    return *v;
  }

  privacy_request_view wait_done(const std::string& request) {
    for (int i = 0; i < 3000; ++i) {
      auto v = ask<privacy_request_view>(sys, privacy, get_atom::value, request);
      BOOST_REQUIRE(v);
      if (v->status == "completed" || v->status == "failed") return *v;
      std::this_thread::sleep_for(10ms);
    }
    BOOST_FAIL("the request did not finish within 30 s");
    return {};
  }

  std::vector<message_view> history_of(const std::string& room, const std::string& reader) {
    auto h = ask<history_page>(sys, entity<chat_room_actor>(room, false), history_atom::value,
                               caller{reader, false, {}}, uint64_t{0}, uint32_t{100});
    BOOST_REQUIRE(h);
    return h->items;
  }

  size_t holder_index_entries(const std::string& person) {
    auto page =
        eng->rt()->store->scan(persistence::db::indexes, holder_index_prefix(person), 100000);
    BOOST_REQUIRE(page);
    return page->size();
  }

  // What an erasure must leave: no account, no words, no key, no index, an entry in the ledger.
  void check_erased(const std::string& gone, const std::string& other, const std::string& room) {
    auto exported = ask<std::vector<personal_record>>(sys, entity<user_actor>(gone, false),
                                                      export_atom::value, gone);
    if (exported) BOOST_TEST(exported->empty());
    auto h = history_of(room, other);
    BOOST_REQUIRE_EQUAL(h.size(), 2u);
    for (auto& m : h) {
      BOOST_TEST(m.author_id != gone);
      if (m.author_id == other) {
        BOOST_TEST(m.text == "a reply that stays");
      } else {
        BOOST_TEST(m.deleted);
        BOOST_TEST(m.text.empty());
      }
    }
    BOOST_TEST(code_of(eng->rt()->sealer->seal(gone, "x", "again").error()) == errc::forbidden);
    BOOST_TEST(holder_index_entries(gone) == 0u);
    auto ledger = read_erasure_ledger(dir.path() / "ledger" / "erasures");
    BOOST_REQUIRE(ledger);
    BOOST_TEST(std::count(ledger->begin(), ledger->end(), gone) >= 1);
    BOOST_TEST(test::files_containing(dir.path(), "words of the erased").empty());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(privacy, fixture)

BOOST_AUTO_TEST_CASE(an_export_gathers_every_holder_and_is_sealed_on_disk) {
  auto grace = person("grace.hopperson@example.org");
  auto alan = person("alan@example.org");
  talk(grace, alan, "words of the erased", "a reply that stays");
  BOOST_TEST(holder_index_entries(grace) == 1u);
  auto req = submit("export", grace);
  auto done = wait_done(req.request_id);
  BOOST_TEST(done.status == "completed");
  BOOST_TEST(done.failure == "");
  // The user, their agenda, their connection log, the room.
  BOOST_TEST(done.holders_total == 4u);
  BOOST_TEST(done.holders_done == 4u);
  BOOST_TEST(done.archive_bytes > 0u);
  BOOST_TEST(done.archive_expires_at_ms == clock_ms + 72 * 3600 * 1000);
  auto doc = ask<std::string>(sys, privacy, archive_atom::value, req.request_id);
  BOOST_REQUIRE(doc);
  BOOST_TEST(doc->find("grace.hopperson@example.org") != std::string::npos);
  BOOST_TEST(doc->find("words of the erased") != std::string::npos);
  // The other person's words are theirs, not Grace's.
  BOOST_TEST(doc->find("a reply that stays") == std::string::npos);
  BOOST_TEST(test::files_containing(dir.path(), "words of the erased").empty());
  BOOST_TEST(test::files_containing(dir.path(), "grace.hopperson@example.org").empty());
  // The request survives a restart as it was.
  restart();
  auto again = ask<privacy_request_view>(sys, privacy, get_atom::value, req.request_id);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->status == "completed");
  BOOST_TEST(again->archive_bytes == done.archive_bytes);
}

BOOST_AUTO_TEST_CASE(an_erasure_removes_the_person_everywhere_and_keeps_a_receipt) {
  auto grace = person("grace.hopperson@example.org");
  auto alan = person("alan@example.org");
  auto room = talk(grace, alan, "words of the erased", "a reply that stays");
  auto exported = submit("export", grace);
  BOOST_TEST(wait_done(exported.request_id).status == "completed");
  auto req = submit("erasure", grace);
  auto done = wait_done(req.request_id);
  BOOST_TEST(done.status == "completed");
  BOOST_TEST(done.failure == "");
  BOOST_TEST(sessions_ended.load() == 1);
  BOOST_TEST(done.records_erased > 0u);
  check_erased(grace, alan, room);
  BOOST_TEST(test::files_containing(dir.path(), "grace.hopperson@example.org").empty());
  // The earlier export went with the person.
  auto archive = ask<std::string>(sys, privacy, archive_atom::value, exported.request_id);
  BOOST_TEST(!archive);
  BOOST_TEST(!std::filesystem::exists(dir.path() / "exports" / (exported.request_id + ".sealed")));
  // The receipt remains after a restart, and names ids only.
  restart();
  check_erased(grace, alan, room);
  auto receipt = ask<privacy_request_view>(sys, privacy, get_atom::value, req.request_id);
  BOOST_REQUIRE(receipt);
  BOOST_TEST(receipt->status == "completed");
  BOOST_TEST(receipt->subject_id == grace);
  // Alan keeps everything that is his.
  auto alan_data = ask<std::vector<personal_record>>(sys, entity<user_actor>(alan, false),
                                                     export_atom::value, alan);
  BOOST_REQUIRE(alan_data);
  BOOST_TEST(!alan_data->empty());
}

BOOST_AUTO_TEST_CASE(an_erasure_crashed_at_any_step_completes_after_restart) {
  for (std::string step : {"accepted", "running", "sessions_ended", "holder", "holders_erased",
                           "key_destroyed", "ledger_written", "index_cleared"}) {
    BOOST_TEST_CONTEXT("crash at " << step) {
      auto grace = person("grace+" + step + "@example.org");
      auto alan = person("alan+" + step + "@example.org");
      auto room = talk(grace, alan, "words of the erased", "a reply that stays");
      crash_step = step;
      restart();
      auto req = submit("erasure", grace);
      wait_for_crash();
      crash_step.clear();
      restart();
      auto done = wait_done(req.request_id);
      BOOST_TEST(done.status == "completed");
      BOOST_TEST(done.failure == "");
      check_erased(grace, alan, room);
    }
  }
}

BOOST_AUTO_TEST_CASE(an_export_crashed_at_any_step_completes_after_restart) {
  for (std::string step : {"accepted", "running", "gathered", "archive_written"}) {
    BOOST_TEST_CONTEXT("crash at " << step) {
      auto grace = person("grace+" + step + "@example.org");
      auto alan = person("alan+" + step + "@example.org");
      talk(grace, alan, "words for the archive", "a reply that stays");
      crash_step = step;
      restart();
      auto req = submit("export", grace);
      wait_for_crash();
      crash_step.clear();
      restart();
      auto done = wait_done(req.request_id);
      BOOST_TEST(done.status == "completed");
      auto doc = ask<std::string>(sys, privacy, archive_atom::value, req.request_id);
      BOOST_REQUIRE(doc);
      BOOST_TEST(doc->find("words for the archive") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_holder_that_keeps_failing_marks_the_request_failed_with_the_reason) {
  auto grace = person("grace.hopperson@example.org");
  // A room whose stored event is not a record: it cannot be activated, so it cannot answer.
  auto broken = new_id("room");
  persistence::write_item item;
  item.append_event(broken, 1, "not a record");
  note_holder(item, grace, broken);
  caf::scoped_actor self{sys};
  BOOST_REQUIRE(actors::ask<uint64_t>(self, eng->writer(), commit_atom::value, item));
  auto req = submit("erasure", grace);
  auto done = wait_done(req.request_id);
  BOOST_TEST(done.status == "failed");
  BOOST_TEST(done.failure.find(broken) != std::string::npos);
  BOOST_TEST(done.completed_at_ms == clock_ms);
  // The failure is visible in the list administrators read.
  auto all = ask<std::vector<privacy_request_view>>(sys, privacy, list_atom::value, std::string{},
                                                    uint32_t{100});
  BOOST_REQUIRE(all);
  BOOST_REQUIRE_EQUAL(all->size(), 1u);
  BOOST_TEST(all->front().status == "failed");
}

BOOST_AUTO_TEST_CASE(export_archives_are_purged_after_their_retention) {
  auto grace = person("grace.hopperson@example.org");
  auto req = submit("export", grace);
  BOOST_TEST(wait_done(req.request_id).status == "completed");
  auto file = dir.path() / "exports" / (req.request_id + ".sealed");
  BOOST_TEST(std::filesystem::exists(file));
  clock_ms += 72 * 3600 * 1000 - 1;
  BOOST_TEST(*ask<uint64_t>(sys, privacy, purge_atom::value) == 0u);
  BOOST_TEST(std::filesystem::exists(file));
  clock_ms += 1;
  BOOST_TEST(*ask<uint64_t>(sys, privacy, purge_atom::value) == 1u);
  BOOST_TEST(!std::filesystem::exists(file));
  BOOST_TEST(code_of(ask<std::string>(sys, privacy, archive_atom::value, req.request_id).error()) ==
             errc::not_found);
}

BOOST_AUTO_TEST_CASE(a_person_in_a_thousand_rooms_is_erased_from_all_of_them) {
  auto grace = person("grace.hopperson@example.org");
  std::vector<std::pair<std::string, std::string>> rooms;
  for (int i = 0; i < 1000; ++i) {
    auto other = new_id("usr");
    rooms.emplace_back(talk(grace, other, "words of the erased", "a reply that stays"), other);
  }
  BOOST_TEST(holder_index_entries(grace) == 1000u);
  auto req = submit("erasure", grace);
  auto done = wait_done(req.request_id);
  BOOST_TEST(done.status == "completed");
  BOOST_TEST(done.holders_total == 1003u);
  BOOST_TEST(done.holders_done == 1003u);
  for (auto& [room, other] : rooms) {
    auto h = history_of(room, other);
    BOOST_REQUIRE_EQUAL(h.size(), 2u);
    BOOST_TEST((h[0].text.empty() || h[1].text.empty()));
  }
  BOOST_TEST(test::files_containing(dir.path(), "words of the erased").empty());
  BOOST_TEST(holder_index_entries(grace) == 0u);
}

// Every stored entity and its records, to compare a restore with what was backed up.
std::map<std::string, std::string> store_contents(persistence::lmdb_store& store) {
  std::map<std::string, std::string> out;
  auto ids = store.entities("", 1u << 20);
  BOOST_REQUIRE(ids);
  for (auto& id : *ids) {
    auto h = store.load(id);
    BOOST_REQUIRE(h);
    std::string all = h->snapshot ? h->snapshot->record : std::string{};
    for (auto& e : h->events) all += e.record;
    out[id] = std::move(all);
  }
  return out;
}

BOOST_AUTO_TEST_CASE(a_restored_backup_holds_what_was_backed_up_and_nothing_after) {
  auto grace = person("grace.hopperson@example.org");
  auto alan = person("alan@example.org");
  auto room = talk(grace, alan, "words before the backup", "a reply that stays");
  backup_settings bs;
  bs.dir = dir.path() / "backups";
  auto b = make_backup(*eng->rt(), bs);
  BOOST_REQUIRE(b);
  BOOST_TEST(b->bytes > 0u);
  auto at_backup = store_contents(*eng->rt()->store);
  // Written after the backup: gone once it is restored.
  auto later = person("later@example.org");
  BOOST_REQUIRE(ask<posted>(sys, entity<chat_room_actor>(room, false), post_atom::value,
                            caller{alan, false, {}}, post_spec{"after the backup", "", "late"},
                            clock_ms));
  stop();
  auto report = restore_backup(bs.dir / b->name, dir.path());
  BOOST_REQUIRE(report);
  BOOST_TEST(report->erasures_replayed == 0u);
  BOOST_TEST(std::filesystem::exists(report->moved_aside / "lmdb" / "data.mdb"));
  start();
  BOOST_TEST((store_contents(*eng->rt()->store) == at_backup));
  auto h = history_of(room, alan);
  BOOST_REQUIRE_EQUAL(h.size(), 2u);
  BOOST_TEST(h[1].text == "words before the backup");
  caf::scoped_actor self{sys};
  BOOST_TEST(code_of(actors::ask<caf::actor>(self, eng->directory(), resolve_atom::value, later)
                         .error()) == errc::not_found);
  // The backup folder is ciphertext.
  BOOST_TEST(test::files_containing(bs.dir, "words before the backup").empty());
  BOOST_TEST(test::files_containing(bs.dir, "grace.hopperson@example.org").empty());
}

BOOST_AUTO_TEST_CASE(backups_are_kept_as_many_as_the_setting_says_newest_first) {
  person("grace.hopperson@example.org");
  backup_settings bs;
  bs.dir = dir.path() / "backups";
  bs.keep = 2;
  bs.clock = [this] { return clock_ms; };
  std::vector<std::string> names;
  for (int i = 0; i < 4; ++i) {
    clock_ms += 1000;
    auto b = make_backup(*eng->rt(), bs);
    BOOST_REQUIRE(b);
    names.push_back(b->name);
  }
  auto left = list_backups(bs.dir);
  BOOST_REQUIRE(left);
  BOOST_REQUIRE_EQUAL(left->size(), 2u);
  BOOST_TEST((*left)[0].name == names[2]);
  BOOST_TEST((*left)[1].name == names[3]);
  // Through the actor too, on request.
  auto actor = spawn_backup_actor(sys, eng->rt(), bs);
  clock_ms += 1000;
  auto b = ask<backup_info>(sys, actor, backup_atom::value);
  BOOST_REQUIRE(b);
  auto listed = ask<std::vector<backup_info>>(sys, actor, list_atom::value);
  BOOST_REQUIRE(listed);
  BOOST_REQUIRE_EQUAL(listed->size(), 2u);
  BOOST_TEST(listed->back().name == b->name);
  caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(restoring_a_backup_from_before_an_erasure_brings_nothing_back) {
  auto grace = person("grace.hopperson@example.org");
  auto alan = person("alan@example.org");
  auto room = talk(grace, alan, "words of the erased", "a reply that stays");
  backup_settings bs;
  bs.dir = dir.path() / "backups";
  auto b = make_backup(*eng->rt(), bs);
  BOOST_REQUIRE(b);
  auto req = submit("erasure", grace);
  BOOST_TEST(wait_done(req.request_id).status == "completed");
  stop();
  auto report = restore_backup(bs.dir / b->name, dir.path());
  BOOST_REQUIRE(report);
  BOOST_TEST(report->erasures_replayed == 1u);
  // The key is destroyed before anything starts: nothing of Grace reads, even for a moment.
  {
    auto sealer = persistence::keyed_field_sealer::open_in(dir.path());
    BOOST_REQUIRE(sealer);
    BOOST_TEST(*(*sealer)->forgotten(grace));
  }
  start();
  // The replayed erasure runs through every holder at start.
  auto all = ask<std::vector<privacy_request_view>>(sys, privacy, list_atom::value, std::string{},
                                                    uint32_t{100});
  BOOST_REQUIRE(all);
  std::string replayed;
  for (auto& v : *all)
    if (v.requested_by == "restore") replayed = v.request_id;
  BOOST_REQUIRE(!replayed.empty());
  BOOST_TEST(wait_done(replayed).status == "completed");
  check_erased(grace, alan, room);
  // The moved-aside data and the backups hold no readable trace either.
  BOOST_TEST(test::files_containing(dir.path(), "grace.hopperson@example.org").empty());
}

BOOST_AUTO_TEST_CASE(a_person_in_the_ledger_whose_key_lives_is_erased_at_the_next_start) {
  // As after a crash in the middle of a restore, or a store copied back by hand.
  auto grace = person("grace.hopperson@example.org");
  auto alan = person("alan@example.org");
  auto room = talk(grace, alan, "words of the erased", "a reply that stays");
  stop();
  {
    std::filesystem::create_directories(dir.path() / "ledger");
    std::ofstream ledger(dir.path() / "ledger" / "erasures", std::ios::app);
    ledger << clock_ms << " " << grace << "\n";
  }
  start();
  // Queued as the actor starts, durable a moment later.
  caf::expected<std::vector<privacy_request_view>> all{std::vector<privacy_request_view>{}};
  std::string replayed;
  for (int i = 0; i < 500 && replayed.empty(); ++i) {
    std::this_thread::sleep_for(10ms);
    all = ask<std::vector<privacy_request_view>>(sys, privacy, list_atom::value, std::string{},
                                                 uint32_t{100});
    BOOST_REQUIRE(all);
    for (auto& v : *all)
      if (v.requested_by == "ledger" && v.subject_id == grace) replayed = v.request_id;
  }
  BOOST_REQUIRE(!replayed.empty());
  BOOST_TEST(wait_done(replayed).status == "completed");
  check_erased(grace, alan, room);
  // Done once: the next start finds the key destroyed and queues nothing.
  restart();
  auto again = ask<std::vector<privacy_request_view>>(sys, privacy, list_atom::value, std::string{},
                                                      uint32_t{100});
  BOOST_REQUIRE(again);
  BOOST_TEST(again->size() == all->size());
}

BOOST_AUTO_TEST_CASE(a_folder_that_is_not_a_backup_is_refused_and_nothing_moves) {
  person("grace.hopperson@example.org");
  stop();
  auto report = restore_backup(dir.path() / "exports", dir.path());
  BOOST_REQUIRE(!report);
  BOOST_TEST(code_of(report.error()) == errc::invalid_argument);
  BOOST_TEST(std::filesystem::exists(dir.path() / "lmdb" / "data.mdb"));
  start();
}

BOOST_AUTO_TEST_SUITE_END()
