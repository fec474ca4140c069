#define BOOST_TEST_MODULE directory
#include <boost/test/unit_test.hpp>

// The directory with real entity actors (organizations) on a real engine: activation on demand,
// one actor per id, passivation of idle actors and restore on the next resolve, under
// concurrent resolves too, and a clean stop with actors resident.

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
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

// Every request is bounded: a hang fails the request instead of stalling the suite.
constexpr auto timeout = std::chrono::seconds(10);

caf::actor_system_config& with_types(caf::actor_system_config& cfg) {
  mext::test::use_mextd_scheduler(cfg);
  add_message_types(cfg);
  add_organization_types(cfg);
  return cfg;
}

const caller admin{"usr_00000000000000000000000000000fff", true, {}};

organization_info acme() {
  return {"Acme", "FR", "https://acme.example", "Rockets and anvils"};
}

std::set<std::string> as_set(const std::vector<std::string>& xs) {
  return {xs.begin(), xs.end()};
}

// True when `err` says the actor went away while the request was on its way: the caller
// resolves again (the same rule as ask_agenda in agenda_actor.cpp).
bool went_away(const caf::error& err) {
  return err == caf::sec::request_receiver_down || code_of(err) == errc::passivated;
}

// A real engine on a temporary directory, with the organization kind only.
struct fixture {
  test::temp_dir dir;
  caf::actor_system_config cfg;
  caf::actor_system sys{with_types(cfg)};
  caf::scoped_actor self{sys};
  entity_settings settings;
  std::unique_ptr<engine> eng;

  persistence::store_settings store;

  explicit fixture(entity_settings s = {}, persistence::store_settings st = {})
      : settings(s), store(std::move(st)) {
    start();
  }
  ~fixture() {
    if (eng) eng->stop();
  }

  void start() {
    engine_options opts;
    opts.data_dir = dir.path();
    opts.entities = settings;
    opts.store = store;
    auto e = engine::start(sys, opts, {{"org", make_organization_actor}});
    BOOST_REQUIRE_MESSAGE(e, "engine start: " << detail_of(e.error()));
    eng = std::move(*e);
  }

  void restart() {
    eng->stop();
    eng.reset();
    start();
  }

  caf::expected<caf::actor> lookup(const std::string& id, bool create) {
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

  // The engine error of a resolve (or activate); errc::none when it answers an actor.
  std::optional<errc> refused(const std::string& id, bool create = false) {
    auto a = lookup(id, create);
    return a ? std::optional<errc>{errc::none} : code_of(a.error());
  }

  caf::actor activate(const std::string& id) {
    auto a = lookup(id, true);
    BOOST_REQUIRE_MESSAGE(a, "activate " << id << ": " << detail_of(a.error()));
    return *a;
  }

  caf::actor resolve(const std::string& id) {
    auto a = lookup(id, false);
    BOOST_REQUIRE_MESSAGE(a, "resolve " << id << ": " << detail_of(a.error()));
    return *a;
  }

  template <class R, class... Ts>
  R ask(const caf::actor& h, Ts&&... xs) {
    R out{};
    self->request(caf::actor_cast<organization_actor>(h), timeout, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); },
                 [&](caf::error& e) { BOOST_FAIL("unexpected error: " << detail_of(e)); });
    return out;
  }

  // Resolves (or activates) `id` and asks its actor; resolves again when the actor passivated
  // while the request was on its way, as every client of the directory must.
  template <class R, class... Ts>
  R ask_entity(const std::string& id, bool create, const Ts&... xs) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto hdl = lookup(id, create);
      BOOST_REQUIRE_MESSAGE(hdl, "lookup " << id << ": " << detail_of(hdl.error()));
      std::optional<R> out;
      bool again = false;
      self->request(caf::actor_cast<organization_actor>(*hdl), timeout, xs...)
          .receive([&](R& r) { out = std::move(r); },
                   [&](caf::error& e) {
                     if (went_away(e))
                       again = true;
                     else
                       BOOST_FAIL("unexpected error: " << detail_of(e));
                   });
      if (out) return std::move(*out);
      BOOST_REQUIRE(again);
    }
    BOOST_FAIL("no live actor for " << id << " in 20 attempts");
    return R{};
  }

  std::vector<resident_info> list(const std::string& kind, uint32_t limit = 1000) {
    std::vector<resident_info> out;
    self->request(eng->directory(), timeout, list_atom::value, kind, limit)
        .receive([&](std::vector<resident_info>& xs) { out = std::move(xs); },
                 [&](caf::error& e) { BOOST_FAIL("list: " << detail_of(e)); });
    return out;
  }

  std::optional<resident_info> resident(const std::string& id) {
    for (auto& r : list(""))
      if (r.id == id) return r;
    return std::nullopt;
  }

  directory_stats stats() {
    directory_stats out;
    self->request(eng->directory(), timeout, stats_atom::value)
        .receive([&](directory_stats& s) { out = s; },
                 [&](caf::error& e) { BOOST_FAIL("stats: " << detail_of(e)); });
    return out;
  }

  // Polls the directory until nothing of `ids` is resident; bounded (10 s), no timing asserted.
  bool wait_until_passivated(const std::vector<std::string>& ids) {
    for (int i = 0; i < 500; ++i) {
      auto resident = list("");
      bool any = std::any_of(resident.begin(), resident.end(), [&](const resident_info& r) {
        return std::find(ids.begin(), ids.end(), r.id) != ids.end();
      });
      if (!any) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // True when `h` answers a request, false when it is gone.
  bool alive(const caf::actor& h) {
    bool out = false;
    self->request(caf::actor_cast<organization_actor>(h), timeout, get_atom::value)
        .receive([&](organization_view&) { out = true; },
                 [&](caf::error& e) { out = !went_away(e); });
    return out;
  }

  // Activates and creates `n` organizations; answers their ids.
  std::vector<std::string> create_organizations(size_t n) {
    std::vector<std::string> ids;
    for (size_t i = 0; i < n; ++i) {
      ids.push_back(new_id("org"));
      ask_entity<organization_view>(ids.back(), true, create_atom::value, admin, acme(),
                                    int64_t{1000});
    }
    return ids;
  }
};

entity_settings idle_after(std::chrono::milliseconds idle, uint32_t snapshot_every = 100) {
  entity_settings s;
  s.idle_passivate = idle;
  s.snapshot_every = snapshot_every;
  return s;
}

struct idle_50ms_fixture : fixture {
  idle_50ms_fixture() : fixture(idle_after(std::chrono::milliseconds(50))) {}
};

// Snapshots every 3 events, so that passivation also meets snapshot commits in flight.
struct idle_20ms_fixture : fixture {
  idle_20ms_fixture() : fixture(idle_after(std::chrono::milliseconds(20), 3)) {}
};

// A store that stops growing at 2 MiB: a few hundred large descriptions fill it.
persistence::store_settings small_map() {
  persistence::store_settings s;
  s.initial_map_bytes = size_t{1} << 20;
  s.max_map_bytes = size_t{2} << 20;
  return s;
}

struct full_store_fixture : fixture {
  full_store_fixture() : fixture({}, small_map()) {}
};

// What the concurrent clients saw, shared between their threads. Boost.Test is not thread-safe:
// the threads only record here, and the test asserts after joining them.
struct shared_log {
  std::mutex mtx;
  // Every actor handed out for an id, in the order it was first seen.
  std::map<std::string, std::vector<caf::actor>> handles;
  // Representatives whose `add` was acknowledged, per organization.
  std::map<std::string, std::set<std::string>> acked;
  std::vector<std::string> problems;
  size_t retries = 0;

  void problem(std::string what) {
    std::lock_guard<std::mutex> guard{mtx};
    problems.push_back(std::move(what));
  }
};

// One client thread: resolves an organization and adds a new representative, `n` times, with a
// random pause between requests so that organizations go idle and passivate meanwhile.
void client(caf::actor_system& sys, const directory_actor& dir, const std::vector<std::string>& ids,
            shared_log& log, unsigned seed, int n) {
  caf::scoped_actor self{sys};
  std::mt19937 rng{seed};
  std::uniform_int_distribution<size_t> pick(0, ids.size() - 1);
  std::uniform_int_distribution<int> pause_ms(0, 40);
  for (int r = 0; r < n; ++r) {
    const auto& id = ids[pick(rng)];
    auto rep = new_id("usr");
    bool done = false;
    for (int attempt = 0; attempt < 20 && !done; ++attempt) {
      caf::actor hdl;
      std::string failed;
      self->request(dir, timeout, resolve_atom::value, id)
          .receive([&](caf::actor& a) { hdl = std::move(a); },
                   [&](caf::error& e) { failed = detail_of(e); });
      if (!hdl) {
        log.problem("resolve " + id + ": " + failed);
        return;
      }
      // One live actor per id: every older actor handed out for the id must be gone by now,
      // because the directory activates a new one only after the old one's down message. Actor
      // ids grow with each spawn, so "older" does not depend on which thread saw it first.
      std::vector<caf::actor> older;
      std::set<std::string> acked_before;
      {
        std::lock_guard<std::mutex> guard{log.mtx};
        auto& seen = log.handles[id];
        if (std::find(seen.begin(), seen.end(), hdl) == seen.end()) {
          for (auto& h : seen)
            if (h.id() < hdl.id()) older.push_back(h);
          seen.push_back(hdl);
        }
        acked_before = log.acked[id];
      }
      for (auto& old : older) {
        self->request(caf::actor_cast<organization_actor>(old), timeout, get_atom::value)
            .receive(
                [&](organization_view&) {
                  log.problem("two live actors for " + id + ": an older one still answers");
                },
                [&](caf::error& e) {
                  if (e != caf::sec::request_receiver_down)
                    log.problem("probe of an older actor of " + id + ": " + detail_of(e));
                });
      }
      self->request(caf::actor_cast<organization_actor>(hdl), timeout, add_atom::value, admin, rep)
          .receive(
              [&](organization_view& v) {
                auto reps = as_set(v.representative_ids);
                // The actor reached holds every earlier acknowledged update and this one.
                bool complete =
                    reps.count(rep) == 1 && std::includes(reps.begin(), reps.end(),
                                                          acked_before.begin(), acked_before.end());
                if (!complete) log.problem("add to " + id + " answered a state missing updates");
                std::lock_guard<std::mutex> guard{log.mtx};
                log.acked[id].insert(rep);
                done = true;
              },
              [&](caf::error& e) {
                if (went_away(e)) {
                  std::lock_guard<std::mutex> guard{log.mtx};
                  ++log.retries;
                  return;
                }
                log.problem("add to " + id + ": " + detail_of(e));
                done = true;
              });
    }
    if (!done) log.problem("add to " + id + " never reached a live actor");
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
  }
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(resolve_of_an_unknown_id_is_not_found_and_spawns_nothing, fixture) {
  auto id = new_id("org");
  BOOST_TEST(refused(id) == errc::not_found);
  // A kind without a factory is not found either.
  BOOST_TEST(refused(new_id("zzz")) == errc::not_found);
  BOOST_TEST(refused(new_id("zzz"), true) == errc::not_found);
  BOOST_TEST(list("").empty());
  BOOST_TEST(stats().activations == 0u);
  BOOST_TEST(stats().resident == 0u);
  auto stored = eng->rt()->store->exists(id);
  BOOST_REQUIRE(stored);
  BOOST_TEST(!*stored);
}

BOOST_FIXTURE_TEST_CASE(malformed_ids_are_not_found_on_resolve_and_activate, fixture) {
  for (std::string bad : {std::string{}, std::string{"org_has space"}, std::string{"no-kind"},
                          std::string{"_missing_kind"}, std::string{"org_" + std::string(300, 'a')},
                          std::string{"../org_1"}, std::string{"org_1\n"}}) {
    BOOST_TEST_CONTEXT("id \"" << bad << "\"") {
      BOOST_TEST(refused(bad) == errc::not_found);
      BOOST_TEST(refused(bad, true) == errc::not_found);
    }
  }
  BOOST_TEST(list("").empty());
  BOOST_TEST(stats().activations == 0u);
}

BOOST_FIXTURE_TEST_CASE(activate_creates_and_every_later_resolve_returns_the_same_actor, fixture) {
  auto id = new_id("org");
  auto first = activate(id);
  BOOST_TEST(stats().activations == 1u);
  auto listed = list("org");
  BOOST_REQUIRE(listed.size() == 1u);
  BOOST_TEST(listed[0].id == id);
  BOOST_TEST(listed[0].kind == "org");
  // Resident (activated) but empty: resolve hands out the resident actor, no second spawn.
  BOOST_CHECK(resolve(id) == first);
  ask<organization_view>(first, create_atom::value, admin, acme(), int64_t{1});
  BOOST_CHECK(resolve(id) == first);
  BOOST_CHECK(activate(id) == first);
  // An id living inside the organization routes to the organization's actor.
  BOOST_CHECK(resolve(id + ".mnt_00000000000000000000000000000001") == first);
  BOOST_TEST(stats().activations == 1u);
  BOOST_TEST(list("").size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(list_shows_resident_actors_with_their_message_counts_and_seq, fixture) {
  auto busy = new_id("org");
  auto created = new_id("org");
  auto empty = new_id("org");
  auto b = activate(busy);
  ask<organization_view>(b, create_atom::value, admin, acme(), int64_t{1});
  ask<organization_view>(b, add_atom::value, admin, new_id("usr"));
  ask<organization_view>(b, add_atom::value, admin, new_id("usr"));
  ask<organization_view>(b, get_atom::value);
  ask<organization_view>(activate(created), create_atom::value, admin, acme(), int64_t{2});
  activate(empty);

  auto all = list("org");
  BOOST_REQUIRE(all.size() == 3u);
  std::map<std::string, resident_info> by_id;
  for (auto& r : all) by_id[r.id] = r;
  BOOST_REQUIRE(by_id.count(busy) == 1u);
  BOOST_REQUIRE(by_id.count(created) == 1u);
  BOOST_REQUIRE(by_id.count(empty) == 1u);
  // Four messages (create, two adds, get); three events, all durable before their answers.
  BOOST_TEST(by_id[busy].messages == 4u);
  BOOST_TEST(by_id[busy].seq == 3u);
  BOOST_TEST(by_id[created].messages == 1u);
  BOOST_TEST(by_id[created].seq == 1u);
  BOOST_TEST(by_id[empty].messages == 0u);
  BOOST_TEST(by_id[empty].seq == 0u);
  for (auto& r : all) {
    BOOST_TEST(r.kind == "org");
    BOOST_TEST(r.resident_since_ms > 0);
  }
  BOOST_TEST(list("", 2).size() == 2u);
  BOOST_TEST(list("org", 1).size() == 1u);
  BOOST_TEST(list("usr").empty());
  BOOST_TEST(list("").size() == 3u);

  // Restored actors start at the seq on disk, with only their own messages counted. The get
  // comes first: entity_core::init publishes the restored seq from the behavior function, which
  // runs when the new actor is first scheduled, possibly after the directory answered the
  // resolve; until then list shows seq 0.
  restart();
  BOOST_TEST(list("").empty());
  ask<organization_view>(resolve(busy), get_atom::value);
  auto restored = resident(busy);
  BOOST_REQUIRE(restored.has_value());
  BOOST_TEST(restored->seq == 3u);
  BOOST_TEST(restored->messages == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_idle_actor_is_passivated_and_the_next_resolve_restores_its_state,
                        idle_50ms_fixture) {
  auto id = new_id("org");
  auto first = activate(id);
  ask<organization_view>(first, create_atom::value, admin, acme(), int64_t{1});
  auto live = ask<organization_view>(first, add_atom::value, admin, new_id("usr"));
  BOOST_REQUIRE(resident(id).has_value());

  BOOST_REQUIRE(wait_until_passivated({id}));
  BOOST_TEST(stats().passivations == 1u);
  BOOST_TEST(stats().resident == 0u);
  // The passivated actor is gone, not merely unlisted.
  BOOST_TEST(!alive(first));

  auto second = resolve(id);
  BOOST_CHECK(second != first);
  BOOST_TEST(stats().activations == 2u);
  BOOST_CHECK(ask_entity<organization_view>(id, false, get_atom::value) == live);
}

BOOST_FIXTURE_TEST_CASE(an_actor_leaving_on_an_error_is_handed_out_no_more_and_lookups_wait,
                        fixture) {
  auto id = new_id("org");
  auto first = activate(id);
  auto live = ask<organization_view>(first, create_atom::value, admin, acme(), int64_t{1});
  caf::send_as(first, eng->directory(), leaving_atom::value, id);
  // Asked while the leaving actor still runs; its answer waits in the mailbox until received.
  auto pending = self->request(eng->directory(), timeout, resolve_atom::value, id);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_CHECK(alive(first));
  caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
  std::optional<caf::actor> got;
  pending.receive([&](caf::actor& a) { got = std::move(a); },
                  [&](caf::error& e) { BOOST_FAIL("resolve: " << detail_of(e)); });
  BOOST_REQUIRE(got.has_value());
  BOOST_CHECK(*got != first);
  BOOST_CHECK(ask<organization_view>(*got, get_atom::value) == live);
  // Another entity's message claiming to leave for it changes nothing.
  caf::send_as(first, eng->directory(), leaving_atom::value, id);
  BOOST_CHECK(resolve(id) == *got);
}

BOOST_FIXTURE_TEST_CASE(after_a_failed_commit_the_next_resolve_is_a_fresh_actor_with_stored_state,
                        full_store_fixture) {
  auto id = new_id("org");
  // The last answered view is what is stored: rounds after the first fail on their first update.
  auto acked = ask<organization_view>(activate(id), create_atom::value, admin, acme(), int64_t{1});
  for (int round = 0; round < 3; ++round) {
    auto hdl = resolve(id);
    caf::error failure;
    for (int i = 0; i < 2000 && !failure; ++i) {
      auto info = acme();
      info.description = std::string(20000, static_cast<char>('a' + (i + round) % 26));
      self->request(caf::actor_cast<organization_actor>(hdl), timeout, update_atom::value, admin,
                    info, int64_t{2 + i})
          .receive([&](organization_view& v) { acked = std::move(v); },
                   [&](caf::error& e) { failure = std::move(e); });
    }
    BOOST_REQUIRE_MESSAGE(code_of(failure) == errc::storage_full, detail_of(failure));
    // Right after the error, with no wait: never the actor that failed, whose state ran ahead.
    auto next = resolve(id);
    BOOST_CHECK(next != hdl);
    auto stored = ask<organization_view>(next, get_atom::value);
    BOOST_CHECK(stored == acked);
  }
}

BOOST_FIXTURE_TEST_CASE(concurrent_resolves_during_passivations_reach_one_correct_actor_per_id,
                        idle_20ms_fixture) {
  auto ids = create_organizations(20);
  // Every organization passivated once before the clients start, so that their first resolves
  // restore from disk concurrently.
  BOOST_REQUIRE(wait_until_passivated(ids));

  shared_log log;
  constexpr int threads = 8;
  constexpr int per_thread = 25;  // 200 requests in all
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back(client, std::ref(sys), std::cref(eng->directory()), std::cref(ids),
                         std::ref(log), 1234u + t, per_thread);
  for (auto& c : clients) c.join();

  for (auto& p : log.problems) BOOST_ERROR(p);
  BOOST_TEST(log.problems.empty());
  size_t acked = 0;
  for (auto& [id, reps] : log.acked) acked += reps.size();
  BOOST_TEST(acked == size_t{threads * per_thread});
  auto s = stats();
  BOOST_TEST_MESSAGE("activations " << s.activations << ", passivations " << s.passivations
                                    << ", retries after passivation " << log.retries);

  // Every acknowledged update is in the state, and nothing else; after a restart too, so that
  // the state is the one on disk.
  auto check_state = [&](const char* when) {
    for (auto& id : ids) {
      auto reps =
          as_set(ask_entity<organization_view>(id, false, get_atom::value).representative_ids);
      BOOST_TEST_CONTEXT(when << ", " << id) {
        BOOST_TEST(reps == log.acked[id]);
      }
    }
  };
  check_state("live");
  restart();
  check_state("after restart");
}

BOOST_FIXTURE_TEST_CASE(engine_stop_with_resident_actors_and_commits_in_flight_ends_cleanly,
                        fixture) {
  auto ids = create_organizations(20);
  std::vector<caf::actor> handles;
  std::map<std::string, std::set<std::string>> sent;
  for (auto& id : ids) {
    handles.push_back(resolve(id));
    // Fire and forget: these adds may be committed, half way, or not started when stop comes.
    for (int i = 0; i < 5; ++i) {
      auto rep = new_id("usr");
      sent[id].insert(rep);
      caf::anon_send(caf::actor_cast<organization_actor>(handles.back()), add_atom::value, admin,
                     rep);
    }
  }
  BOOST_TEST(list("org").size() == 20u);
  eng->stop();
  // Stopped: the entities answer no more, and nothing hangs on them (bounded requests).
  for (auto& h : handles) BOOST_TEST(!alive(h));

  eng.reset();
  start();
  // Nothing was torn: every organization restores, and holds only representatives it was sent.
  for (auto& id : ids) {
    auto reps = as_set(ask<organization_view>(resolve(id), get_atom::value).representative_ids);
    BOOST_TEST_CONTEXT(id) {
      BOOST_TEST(std::includes(sent[id].begin(), sent[id].end(), reps.begin(), reps.end()));
    }
  }
}
