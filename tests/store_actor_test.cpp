#define BOOST_TEST_MODULE store_actor
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <caf/all.hpp>
#include <cstdio>
#include <set>

#include "persistence/errors.hpp"
#include "persistence/store_actor.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::persistence;

namespace {

std::shared_ptr<lmdb_store> open_store(const std::filesystem::path& dir) {
  store_settings s;
  s.dir = dir;
  auto store = lmdb_store::open(s);
  BOOST_REQUIRE_MESSAGE(store, detail_of(store.error()));
  return std::shared_ptr<lmdb_store>(std::move(*store));
}

// A writer that commits `n` events of its own entity one after another, each after the last
// was acknowledged, and reports how many were acknowledged.
caf::behavior writer(caf::event_based_actor* self, store_actor store, std::string entity, int n,
                     caf::actor report_to) {
  auto seq = std::make_shared<int>(0);
  self->send(self, 0);
  // One message per step: no self-referencing callback that would keep the store handle alive.
  return {
      [=](int) {
        if (*seq == n) {
          self->send(report_to, entity, *seq);
          self->quit();
          return;
        }
        write_item item;
        item.append_event(entity, static_cast<uint64_t>(*seq + 1),
                          "payload-" + std::to_string(*seq + 1));
        self->request(store, caf::infinite, commit_atom::value, std::move(item))
            .then(
                [=](uint64_t) {
                  ++*seq;
                  self->send(self, 0);
                },
                [=](caf::error& err) {
                  self->send(report_to, entity, -1);
                  self->quit(err);
                });
      },
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(many_concurrent_writers_share_commits_and_every_acknowledged_write_is_stored) {
  test::temp_dir dir;
  constexpr int writers = 40;
  constexpr int per_writer = 50;
  {
    caf::actor_system_config cfg;
    mext::test::use_mextd_scheduler(cfg);
    caf::actor_system sys{cfg};
    auto store = open_store(dir.path());
    auto sa = spawn_store_actor(sys, store, commit_settings{});
    caf::scoped_actor self{sys};
    for (int w = 0; w < writers; ++w)
      sys.spawn(writer, sa, "usr_w" + std::to_string(w), per_writer, caf::actor{self});
    int done = 0;
    for (int w = 0; w < writers; ++w)
      self->receive([&](const std::string&, int acked) {
        BOOST_TEST(acked == per_writer);
        ++done;
      });
    BOOST_TEST(done == writers);
    store_stats stats;
    self->request(sa, caf::infinite, stats_atom::value)
        .receive([&](store_stats s) { stats = s; }, [&](caf::error&) {});
    BOOST_TEST(stats.items == static_cast<uint64_t>(writers * per_writer));
    // Group commit: the writers' items shared transactions.
    BOOST_TEST(stats.commits < stats.items);
    BOOST_TEST(stats.max_batch > 1u);
    self->send_exit(sa, caf::exit_reason::user_shutdown);
  }
  auto reopened = open_store(dir.path());
  for (int w = 0; w < writers; ++w) {
    auto h = reopened->load("usr_w" + std::to_string(w));
    BOOST_REQUIRE(h);
    BOOST_REQUIRE_EQUAL(h->events.size(), static_cast<size_t>(per_writer));
    BOOST_TEST(h->events.back().record == "payload-" + std::to_string(per_writer));
  }
}

BOOST_AUTO_TEST_CASE(a_conflicting_item_is_refused_while_its_batch_commits) {
  test::temp_dir dir;
  caf::actor_system_config cfg;
  mext::test::use_mextd_scheduler(cfg);
  caf::actor_system sys{cfg};
  auto store = open_store(dir.path());
  auto sa = spawn_store_actor(sys, store, commit_settings{});
  caf::scoped_actor self{sys};
  write_item a, b;
  a.append_event("bth_1", 1, "first");
  b.append_event("bth_1", 1, "second");
  caf::error err_a, err_b;
  auto ra = self->request(sa, caf::infinite, commit_atom::value, a);
  auto rb = self->request(sa, caf::infinite, commit_atom::value, b);
  ra.receive([](uint64_t) {}, [&](caf::error& e) { err_a = e; });
  rb.receive([](uint64_t) {}, [&](caf::error& e) { err_b = e; });
  BOOST_TEST(!err_a);
  BOOST_TEST(code_of(err_b) == errc::conflict);
  BOOST_TEST(store->load("bth_1")->events.at(0).record == "first");
  self->send_exit(sa, caf::exit_reason::user_shutdown);
}

// The child acknowledges writes on a pipe as soon as the store actor answers; the parent kills it
// with SIGKILL mid-stream and checks that every acknowledged write is on disk.
BOOST_AUTO_TEST_CASE(sigkill_right_after_acknowledgements_loses_none_of_them) {
  test::temp_dir dir;
  int fds[2];
  BOOST_REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    caf::actor_system_config cfg;
    mext::test::use_mextd_scheduler(cfg);
    caf::actor_system sys{cfg};
    store_settings s;
    s.dir = dir.path();
    auto store = lmdb_store::open(s);
    if (!store) ::_exit(3);
    auto sa = spawn_store_actor(sys, std::shared_ptr<lmdb_store>(std::move(*store)), {});
    caf::scoped_actor self{sys};
    // Many requests in flight at once, so that commits are batched when the kill lands.
    uint64_t next = 1;
    for (;;) {
      std::vector<caf::response_handle<caf::blocking_actor, caf::message, true>> unused;
      std::vector<uint64_t> seqs;
      for (int i = 0; i < 64; ++i) {
        write_item item;
        item.append_event("room_kill", next, "m" + std::to_string(next));
        seqs.push_back(next++);
        self->send(sa, commit_atom::value, std::move(item));
      }
      for (size_t i = 0; i < seqs.size(); ++i) {
        self->receive(
            [&](uint64_t) {
              // Acknowledged: tell the parent.
              uint64_t s = seqs[i];
              if (::write(fds[1], &s, sizeof s) != sizeof s) ::_exit(4);
            },
            [&](caf::error&) { ::_exit(5); });
      }
    }
  }
  ::close(fds[1]);
  std::set<uint64_t> acked;
  uint64_t s;
  while (acked.size() < 3000 && ::read(fds[0], &s, sizeof s) == sizeof s) acked.insert(s);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Acknowledgements written before the kill but not yet read still count.
  while (::read(fds[0], &s, sizeof s) == sizeof s) acked.insert(s);
  ::close(fds[0]);
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_REQUIRE(acked.size() >= 3000u);
  auto store = open_store(dir.path());
  auto h = store->load("room_kill");
  BOOST_REQUIRE_MESSAGE(h, detail_of(h.error()));
  std::set<uint64_t> stored;
  for (auto& ev : h->events) stored.insert(ev.seq);
  for (auto a : acked)
    BOOST_TEST_REQUIRE(stored.count(a) == 1u, "acknowledged write " << a << " lost");
}
