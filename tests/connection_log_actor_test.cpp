#define BOOST_TEST_MODULE connection_log_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <thread>
#include <tuple>

#include <caf/all.hpp>

#include "actors/connection_log_actor.hpp"
#include "actors/engine.hpp"
#include "mext/schemas/connection_log.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/record_codec.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::actors;
using namespace std::chrono_literals;

namespace {

constexpr auto timeout = std::chrono::seconds(10);

struct test_config : caf::actor_system_config {
  test_config() {
    mext::test::use_mextd_scheduler(*this);
    mext::actors::add_message_types(*this);
    add_connection_log_types(*this);
  }
};

// An answer or the error that came instead.
template <class R>
struct answer {
  std::optional<R> value;
  caf::error error;
  explicit operator bool() const { return value.has_value(); }
  const R& operator*() const { return *value; }
  const R* operator->() const { return &*value; }
  bool failed_with(errc code) const { return !value && code_of(error) == code; }
};

template <class R, class Handle, class... Ts>
answer<R> ask(caf::actor_system& sys, const Handle& hdl, Ts&&... xs) {
  caf::scoped_actor self{sys};
  answer<R> out;
  self->request(hdl, timeout, std::forward<Ts>(xs)...)
      .receive([&](R& r) { out.value = std::move(r); }, [&](caf::error& e) { out.error = e; });
  return out;
}

bool same(const connection_entry& a, const connection_entry& b) {
  auto fields = [](const connection_entry& e) {
    return std::tie(e.at_ms, e.kind, e.ip, e.isp, e.proxies, e.referrer, e.device_type, e.os,
                    e.screen);
  };
  return fields(a) == fields(b);
}

bool same(const std::vector<connection_entry>& a, const std::vector<connection_entry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

connection_entry entry(int64_t at_ms, std::string ip, std::string kind = "login") {
  connection_entry e;
  e.at_ms = at_ms;
  e.kind = std::move(kind);
  e.ip = std::move(ip);
  e.isp = "Example Telecom";
  e.proxies = {"10.0.0.1", "10.0.0.2"};
  e.referrer = "https://fair.example.org/";
  e.device_type = "desktop";
  e.os = "Linux";
  e.screen = "1920x1080";
  return e;
}

caller as_user(const std::string& id) {
  return caller{id, false, {}};
}
caller as_admin() {
  return caller{"usr_00000000000000000000000000000000", true, {}};
}

struct fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  test::temp_dir dir;
  engine_options opts;
  std::unique_ptr<engine> eng;
  std::string user_id = new_id("usr");
  std::string log_id = connection_log_id(user_id);

  fixture() { opts.data_dir = dir.path(); }

  ~fixture() {
    if (eng) eng->stop();
  }

  void start() {
    auto e = engine::start(sys, opts, {{"clog", make_connection_log_actor}});
    BOOST_REQUIRE_MESSAGE(e, detail_of(e.error()));
    eng = std::move(*e);
  }

  void restart() {
    eng->stop();
    eng.reset();
    start();
  }

  connection_log_actor log(bool create = true) {
    auto hdl = create ? ask<caf::actor>(sys, eng->directory(), activate_atom::value, log_id)
                      : ask<caf::actor>(sys, eng->directory(), resolve_atom::value, log_id);
    BOOST_REQUIRE_MESSAGE(hdl, detail_of(hdl.error));
    return caf::actor_cast<connection_log_actor>(*hdl);
  }

  answer<uint64_t> record(const connection_entry& e) {
    return ask<uint64_t>(sys, log(), record_atom::value, e);
  }

  answer<std::vector<connection_entry>> list(const caller& c, uint32_t limit = 0) {
    return ask<std::vector<connection_entry>>(sys, log(false), get_atom::value, c, limit);
  }

  answer<std::vector<personal_record>> export_of(const std::string& subject) {
    return ask<std::vector<personal_record>>(sys, log(), export_atom::value, subject);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(log_ids_follow_the_user_id) {
  BOOST_TEST(connection_log_id("usr_0123abcd") == "clog_0123abcd");
  BOOST_TEST(connection_log_owner("clog_0123abcd") == "usr_0123abcd");
  auto user = new_id("usr");
  BOOST_TEST(connection_log_owner(connection_log_id(user)) == user);
  BOOST_TEST(is_valid_id(connection_log_id(user)));
}

BOOST_FIXTURE_TEST_CASE(entries_are_recorded_and_listed_newest_first_to_the_person_or_admins,
                        fixture) {
  start();
  auto missing = ask<caf::actor>(sys, eng->directory(), resolve_atom::value, log_id);
  BOOST_TEST(missing.failed_with(errc::not_found));

  BOOST_TEST(*record(entry(1000, "192.0.2.1")) == 1u);
  BOOST_TEST(*record(entry(3000, "192.0.2.3", "websocket")) == 2u);
  BOOST_TEST(*record(entry(2000, "192.0.2.2")) == 3u);

  auto all = list(as_user(user_id));
  BOOST_REQUIRE_MESSAGE(all, detail_of(all.error));
  BOOST_REQUIRE_EQUAL(all->size(), 3u);
  BOOST_TEST((*all)[0].at_ms == 3000);
  BOOST_TEST((*all)[1].at_ms == 2000);
  BOOST_TEST((*all)[2].at_ms == 1000);
  BOOST_TEST(same((*all)[0], entry(3000, "192.0.2.3", "websocket")));

  auto two = list(as_user(user_id), 2);
  BOOST_REQUIRE(two);
  BOOST_TEST(two->size() == 2u);
  BOOST_TEST((*two)[0].at_ms == 3000);

  BOOST_TEST(list(as_user(new_id("usr"))).failed_with(errc::forbidden));
  BOOST_TEST(list(caller{}).failed_with(errc::forbidden));
  auto admin = list(as_admin());
  BOOST_REQUIRE(admin);
  BOOST_TEST(admin->size() == 3u);

  BOOST_TEST(
      record(entry(4000, "192.0.2.4", "carrier-pigeon")).failed_with(errc::invalid_argument));
  auto too_long = entry(4000, std::string(1001, '1'));
  BOOST_TEST(record(too_long).failed_with(errc::invalid_argument));
  auto proxies = entry(4000, "192.0.2.4");
  proxies.proxies = std::vector<std::string>(51, "10.0.0.9");
  BOOST_TEST(record(proxies).failed_with(errc::invalid_argument));
  BOOST_TEST(list(as_user(user_id))->size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(purge_removes_old_entries_from_the_state_and_the_event_log, fixture) {
  start();
  for (int64_t at : {1000, 2000, 3000})
    BOOST_REQUIRE(record(entry(at, "192.0.2." + std::to_string(at / 1000))));

  auto removed = ask<uint64_t>(sys, log(), purge_atom::value, int64_t{2500});
  BOOST_REQUIRE_MESSAGE(removed, detail_of(removed.error));
  BOOST_TEST(*removed == 2u);
  auto left = list(as_user(user_id));
  BOOST_REQUIRE(left);
  BOOST_REQUIRE_EQUAL(left->size(), 1u);
  BOOST_TEST((*left)[0].at_ms == 3000);
  BOOST_TEST(*ask<uint64_t>(sys, log(), purge_atom::value, int64_t{2500}) == 0u);

  // Compacted: no event holds a purged address; the snapshot holds only what is left.
  auto history = eng->rt()->store->load(log_id);
  BOOST_REQUIRE(history && history->snapshot);
  BOOST_TEST(history->events.empty());
  auto all_events = eng->rt()->store->scan(persistence::db::events, log_id + '\0', 1000);
  BOOST_REQUIRE(all_events);
  BOOST_TEST(all_events->empty());
  auto rec = persistence::decode_record(history->snapshot->record,
                                        schema::RecordKind::CONNECTION_LOG_SNAPSHOT);
  BOOST_REQUIRE(rec);
  BOOST_TEST((*rec)->root<schema::ConnectionLogSnapshot>().getEntries().size() == 1u);

  restart();
  auto after = list(as_user(user_id));
  BOOST_REQUIRE_MESSAGE(after, detail_of(after.error));
  BOOST_REQUIRE_EQUAL(after->size(), 1u);
  BOOST_TEST(same((*after)[0], entry(3000, "192.0.2.3")));
}

BOOST_FIXTURE_TEST_CASE(export_lists_each_entry_and_erase_removes_them_all, fixture) {
  start();
  BOOST_REQUIRE(record(entry(1000, "192.0.2.1")));
  BOOST_REQUIRE(record(entry(2000, "192.0.2.2", "websocket")));

  auto exported = export_of(user_id);
  BOOST_REQUIRE(exported);
  BOOST_REQUIRE_EQUAL(exported->size(), 2u);
  for (auto& r : *exported) {
    BOOST_TEST(r.category == "connection_data");
    BOOST_TEST(r.holder_id == log_id);
  }
  auto has = [&](const personal_record& r, const std::string& name, const std::string& value) {
    for (auto& [n, v] : r.fields)
      if (n == name && v == value) return true;
    return false;
  };
  BOOST_TEST(has((*exported)[0], "ip", "192.0.2.1"));
  BOOST_TEST(has((*exported)[0], "at", "1970-01-01T00:00:01.000Z"));
  BOOST_TEST(has((*exported)[0], "proxies", "10.0.0.2"));
  BOOST_TEST(has((*exported)[1], "kind", "websocket"));
  BOOST_TEST(has((*exported)[1], "screen", "1920x1080"));
  BOOST_TEST(export_of(new_id("usr"))->empty());

  BOOST_TEST(*ask<uint64_t>(sys, log(), erase_atom::value, new_id("usr")) == 0u);
  auto erased = ask<uint64_t>(sys, log(), erase_atom::value, user_id);
  BOOST_REQUIRE_MESSAGE(erased, detail_of(erased.error));
  BOOST_TEST(*erased == 2u);
  BOOST_TEST(export_of(user_id)->empty());
  BOOST_TEST(list(as_user(user_id))->empty());
  BOOST_TEST(*ask<uint64_t>(sys, log(), erase_atom::value, user_id) == 0u);
  auto events = eng->rt()->store->scan(persistence::db::events, log_id + '\0', 1000);
  BOOST_REQUIRE(events);
  BOOST_TEST(events->empty());

  restart();
  BOOST_TEST(export_of(user_id)->empty());
}

BOOST_FIXTURE_TEST_CASE(snapshot_plus_replay_after_a_restart_equals_the_live_log, fixture) {
  opts.entities.snapshot_every = 3;
  start();
  for (int64_t at = 1000; at <= 5000; at += 1000)
    BOOST_REQUIRE(record(entry(at, "198.51.100." + std::to_string(at / 1000))));
  auto live = list(as_user(user_id), 1000);
  BOOST_REQUIRE(live);

  auto history = eng->rt()->store->load(log_id);
  BOOST_REQUIRE(history && history->snapshot);
  BOOST_TEST(history->snapshot->seq == 3u);
  BOOST_TEST(history->events.size() == 2u);

  restart();
  auto restored = list(as_user(user_id), 1000);
  BOOST_REQUIRE_MESSAGE(restored, detail_of(restored.error));
  BOOST_TEST(same(*restored, *live));
}

BOOST_FIXTURE_TEST_CASE(passivation_and_reactivation_keep_the_log, fixture) {
  opts.entities.idle_passivate = std::chrono::milliseconds(50);
  start();
  BOOST_REQUIRE(record(entry(1000, "192.0.2.1")));
  BOOST_REQUIRE(record(entry(2000, "192.0.2.2")));
  auto live = list(as_user(user_id));
  BOOST_REQUIRE(live);

  bool gone = false;
  for (int i = 0; i < 400 && !gone; ++i) {
    auto resident = ask<std::vector<resident_info>>(sys, eng->directory(), list_atom::value,
                                                    std::string{"clog"}, uint32_t{100});
    BOOST_REQUIRE(resident);
    gone = resident->empty();
    if (!gone) std::this_thread::sleep_for(25ms);
  }
  BOOST_REQUIRE(gone);

  auto again = list(as_user(user_id));
  BOOST_REQUIRE_MESSAGE(again, detail_of(again.error));
  BOOST_TEST(same(*again, *live));
}
