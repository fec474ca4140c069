#define BOOST_TEST_MODULE retention_actor
#include <boost/test/unit_test.hpp>

#include <thread>

#include <caf/all.hpp>

#include "actors/ask.hpp"
#include "actors/booth_actor.hpp"
#include "actors/bootstrap.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/connection_log_actor.hpp"
#include "actors/engine.hpp"
#include "actors/entity_kinds.hpp"
#include "actors/exhibition_actor.hpp"
#include "actors/retention_actor.hpp"
#include "persistence/ids.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::actors;
using namespace std::chrono_literals;

namespace {

struct config : caf::actor_system_config {
  config() {
    mext::test::use_mextd_scheduler(*this);
    add_all_message_types(*this);
  }
};

constexpr int64_t day_ms = 24 * 3600 * 1000;

connection_entry entry(int64_t at_ms, std::string ip) {
  connection_entry e;
  e.at_ms = at_ms;
  e.kind = "login";
  e.ip = std::move(ip);
  e.isp = "unknown";
  e.device_type = "desktop";
  e.os = "Linux";
  e.screen = "1920x1080";
  return e;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_sweep_purges_entries_past_retention_from_every_log_and_keeps_the_rest) {
  test::temp_dir dir;
  config cfg;
  caf::actor_system sys{cfg};
  engine_options opts;
  opts.data_dir = dir.path();
  auto eng = engine::start(sys, opts, all_entity_kinds());
  BOOST_REQUIRE(eng);
  caf::scoped_actor self{sys};
  auto now = now_ms();
  // More logs than one page, so a sweep takes several steps.
  std::vector<std::string> logs;
  for (int i = 0; i < 7; ++i) {
    auto log_id = connection_log_id(new_id("usr"));
    auto log = entity<connection_log_actor>(self, (*eng)->directory(), log_id, true);
    BOOST_REQUIRE(log);
    BOOST_REQUIRE(
        ask<uint64_t>(self, *log, record_atom::value, entry(now - 400 * day_ms, "192.0.2.1")));
    BOOST_REQUIRE(
        ask<uint64_t>(self, *log, record_atom::value, entry(now - 10 * day_ms, "192.0.2.2")));
    logs.push_back(log_id);
  }
  retention_settings rs;
  rs.connection_log_retention = std::chrono::milliseconds(365 * day_ms);
  rs.interval = 50ms;
  rs.page = 3;
  auto retention = spawn_retention_actor(sys, (*eng)->rt(), rs);

  // Bounded wait for one whole sweep; no assertion on how long it took.
  retention_stats stats;
  for (int i = 0; i < 400 && stats.sweeps == 0; ++i) {
    std::this_thread::sleep_for(25ms);
    auto s = ask<retention_stats>(self, retention, stats_atom::value);
    BOOST_REQUIRE(s);
    stats = *s;
  }
  BOOST_REQUIRE(stats.sweeps >= 1u);
  BOOST_TEST(stats.entries_purged == 7u);
  BOOST_TEST(stats.failures == 0u);
  caller admin{"usr_admin", true, {}};
  for (auto& id : logs) {
    auto log = entity<connection_log_actor>(self, (*eng)->directory(), id, false);
    BOOST_REQUIRE(log);
    auto entries =
        ask<std::vector<connection_entry>>(self, *log, get_atom::value, admin, uint32_t{100});
    BOOST_REQUIRE(entries);
    BOOST_REQUIRE_EQUAL(entries->size(), 1u);
    BOOST_TEST(entries->at(0).ip == "192.0.2.2");
  }
  self->send_exit(retention, caf::exit_reason::user_shutdown);
  (*eng)->stop();
}

BOOST_AUTO_TEST_CASE(booth_chat_is_purged_once_the_exhibition_ended_longer_ago_than_retention) {
  test::temp_dir dir;
  config cfg;
  caf::actor_system sys{cfg};
  engine_options opts;
  opts.data_dir = dir.path();
  opts.entities.argon2_memory_kib = 64;
  opts.entities.argon2_iterations = 1;
  auto eng = engine::start(sys, opts, all_entity_kinds());
  BOOST_REQUIRE(eng);
  auto admin =
      ensure_admin(sys, **eng, admin_credentials{"admin@example.org", "admin-password-long"});
  BOOST_REQUIRE(admin);
  auto demo = load_demo(sys, **eng, *admin, "demo-password-long-enough");
  BOOST_REQUIRE(demo);
  caf::scoped_actor self{sys};
  auto exh = entity<exhibition_actor>(self, (*eng)->directory(), demo->exhibition_id, false);
  BOOST_REQUIRE(exh);
  auto info = ask<exhibition_view>(self, *exh, get_atom::value);
  BOOST_REQUIRE(info);
  // A message in every booth room.
  std::vector<std::string> rooms;
  caller visitor{demo->people.front().user_id, false, {}};
  for (auto& booth : info->booth_ids) {
    auto b = entity<booth_actor>(self, (*eng)->directory(), booth, false);
    BOOST_REQUIRE(b);
    auto view = ask<booth_view>(self, *b, get_atom::value);
    BOOST_REQUIRE(view);
    auto room = entity<chat_room_actor>(self, (*eng)->directory(), view->chat_room_id, false);
    BOOST_REQUIRE(room);
    BOOST_REQUIRE(ask<posted>(self, *room, post_atom::value, visitor,
                              post_spec{"said during the fair", "", "r1"}, info->ends_at_ms - 1));
    rooms.push_back(view->chat_room_id);
  }
  auto clock = std::make_shared<std::atomic<int64_t>>(info->ends_at_ms + 30 * day_ms - 1);
  retention_settings rs;
  rs.chat_retention = std::chrono::milliseconds(30 * day_ms);
  rs.interval = 20ms;
  rs.clock = [clock] { return clock->load(); };
  auto retention = spawn_retention_actor(sys, (*eng)->rt(), rs);
  auto sweeps_after = [&](uint64_t n) {
    retention_stats stats;
    for (int i = 0; i < 400 && stats.sweeps <= n; ++i) {
      std::this_thread::sleep_for(10ms);
      auto s = ask<retention_stats>(self, retention, stats_atom::value);
      BOOST_REQUIRE(s);
      stats = *s;
    }
    BOOST_REQUIRE(stats.sweeps > n);
    return stats;
  };
  auto history_of = [&](const std::string& id) {
    auto room = entity<chat_room_actor>(self, (*eng)->directory(), id, false);
    BOOST_REQUIRE(room);
    auto h =
        ask<history_page>(self, *room, history_atom::value, visitor, uint64_t{0}, uint32_t{200});
    BOOST_REQUIRE(h);
    return h->items;
  };
  // One millisecond before the end of retention: nothing goes.
  auto before = sweeps_after(0);
  BOOST_TEST(before.messages_purged == 0u);
  for (auto& id : rooms) {
    bool kept = false;
    for (auto& m : history_of(id)) kept |= m.text == "said during the fair";
    BOOST_TEST(kept);
  }
  // Past it: every booth room is purged, once.
  clock->store(info->ends_at_ms + 30 * day_ms + 1);
  auto after = sweeps_after(before.sweeps + 1);
  BOOST_TEST(after.rooms_purged == rooms.size());
  BOOST_TEST(after.messages_purged >= rooms.size());
  BOOST_TEST(after.failures == 0u);
  for (auto& id : rooms)
    for (auto& m : history_of(id)) {
      BOOST_TEST(m.text.empty());
      BOOST_TEST(m.deleted);
    }
  BOOST_TEST(test::files_containing(dir.path(), "said during the fair").empty());
  auto later = sweeps_after(after.sweeps + 1);
  BOOST_TEST(later.rooms_purged == after.rooms_purged);
  self->send_exit(retention, caf::exit_reason::user_shutdown);
  (*eng)->stop();
}

BOOST_AUTO_TEST_CASE(entity_ids_page_in_order_without_repeats) {
  test::temp_dir dir;
  persistence::store_settings s;
  s.dir = dir.path();
  auto store = persistence::lmdb_store::open(s);
  BOOST_REQUIRE(store);
  persistence::write_item item;
  for (auto id : {"clog_a", "clog_b", "clog_c", "clog_d", "clog_e", "usr_x"})
    item.append_event(id, 1, "e");
  item.put_snapshot("clog_b", 1, "s");
  item.put_snapshot("clog_e", 1, "s");
  std::vector<persistence::write_item*> items{&item};
  BOOST_REQUIRE(!(*store)->commit(items)[0]);
  std::vector<std::string> seen;
  std::string after;
  for (int i = 0; i < 10; ++i) {
    auto page = (*store)->entities("clog_", 2, after);
    BOOST_REQUIRE(page);
    seen.insert(seen.end(), page->begin(), page->end());
    if (page->size() < 2) break;
    after = page->back();
  }
  BOOST_TEST(seen == (std::vector<std::string>{"clog_a", "clog_b", "clog_c", "clog_d", "clog_e"}),
             boost::test_tools::per_element());
}
