#define BOOST_TEST_MODULE api_websocket
#include <boost/test/unit_test.hpp>

// GET /api/v1/ws through real TLS WebSocket clients against a real server, engine and LMDB:
// authentication, order and acknowledgements in a room, idempotency, catch-up after a reconnect
// with no gap and no duplicate, refused frames and their close codes, the send rate limit, a
// stalled reader closed while the room keeps talking, session end, presence, and 1,000 clients
// in one room.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/ask.hpp"
#include "actors/connection_log_actor.hpp"

#include "http/room_hub.hpp"
#include "http/ws_session_actor.hpp"
#include "tests/support/api_fixture.hpp"
#include "tests/support/ws_client.hpp"

namespace {

using mext::test::ws_client;
using nlohmann::json;
using namespace std::chrono_literals;

mext::test::api_fixture_options ws_options() {
  mext::test::api_fixture_options o;
  o.websocket.protocol.auth_timeout = 2s;
  o.websocket.protocol.send_rate = 1000;
  o.websocket.protocol.send_burst = 1000;
  o.websocket.hubs.presence_interval = 50ms;
  o.ws.close_timeout = 2s;
  return o;
}

struct ws_fixture : mext::test::api_fixture {
  std::string org, rep, rep_token, room;

  ws_fixture() : ws_fixture(ws_options()) {}
  explicit ws_fixture(mext::test::api_fixture_options o) : api_fixture(std::move(o)) {
    auto b = make_booth_room();
    org = b.organization_id;
    rep = b.rep_id;
    rep_token = b.rep_token;
    room = b.room_id;
  }

  ws_client signed_in(const std::string& token) {
    ws_client c{port};
    c.auth(token);
    return c;
  }

  static json send_frame(const std::string& room_id, const std::string& text,
                         const std::string& key) {
    return {{"op", "send"}, {"room_id", room_id}, {"text", text}, {"client_msg_id", key}};
  }

  // The next `n` message events of the room, in the order received.
  static std::vector<json> messages(ws_client& c, std::size_t n) {
    std::vector<json> out;
    while (out.size() < n) {
      auto j = c.next_ev("message");
      out.push_back(j);
    }
    return out;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(authentication)

BOOST_FIXTURE_TEST_CASE(a_first_frame_auth_signs_in_and_ping_gets_pong, ws_fixture) {
  auto [uid, token] = new_user("ann@example.test");
  ws_client c{port};
  BOOST_TEST(c.auth(token) == uid);
  c.send_json({{"op", "ping"}});
  BOOST_TEST(c.next_ev("pong").at("ev") == "pong");
}

BOOST_FIXTURE_TEST_CASE(the_session_cookie_of_the_upgrade_signs_in, ws_fixture) {
  auto [uid, token] = new_user("ann@example.test");
  ws_client::options o;
  o.headers = {{"Cookie", "theme=dark; mext_session=" + token}};
  ws_client c{port, o};
  BOOST_TEST(c.next_ev("ready").at("user_id") == uid);
}

BOOST_FIXTURE_TEST_CASE(anything_but_auth_first_closes_with_1008, ws_fixture) {
  ws_client c{port};
  c.send_json({{"op", "join"}, {"room_id", room}});
  BOOST_TEST(c.wait_close() == 1008);
}

BOOST_FIXTURE_TEST_CASE(a_token_of_no_live_session_gets_401_then_1008, ws_fixture) {
  ws_client c{port};
  c.send_json({{"op", "auth"}, {"token", "not-a-token"}});
  auto e = c.next_ev("error");
  BOOST_TEST(e.at("status") == 401);
  BOOST_TEST(c.wait_close() == 1008);
}

BOOST_FIXTURE_TEST_CASE(silence_past_the_auth_timeout_closes_with_1008, ws_fixture) {
  ws_client c{port};
  BOOST_TEST(c.wait_close(10s) == 1008);
}

BOOST_FIXTURE_TEST_CASE(a_plain_get_without_upgrade_gets_426_problem, ws_fixture) {
  auto r = http().get("/api/v1/ws");
  BOOST_TEST(r.status == 426);
  BOOST_TEST(r.header("Content-Type") == "application/problem+json");
  BOOST_TEST(r.header("Upgrade") == "websocket");
}

BOOST_FIXTURE_TEST_CASE(logout_ends_the_session_on_its_sockets, ws_fixture) {
  auto [uid, token] = new_user("ann@example.test");
  auto c = signed_in(token);
  BOOST_REQUIRE_EQUAL(http().post("/api/v1/auth/logout", token).status, 204);
  auto ended = c.next_ev("session_ended");
  BOOST_TEST(ended.at("reason") == "logout");
  BOOST_TEST(c.wait_close() == 1008);
  // The session actor forgets the connection once the server side has closed too.
  for (int i = 0; i < 100 && a->ws->size() > 0; ++i) std::this_thread::sleep_for(20ms);
  BOOST_TEST(a->ws->size() == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_websocket_connection_is_recorded_in_the_connection_log, ws_fixture) {
  auto [uid, token] = new_user("ann@example.test");
  ws_client::options o;
  o.target = "/api/v1/ws?screen=1280x720";
  o.headers = {{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"}};
  ws_client c{port, o};
  c.auth(token);
  // The record is written after "ready": read the log until it shows.
  std::vector<mext::actors::connection_entry> entries;
  for (int i = 0; i < 100; ++i) {
    caf::scoped_actor self{*sys};
    auto log = mext::actors::entity<mext::actors::connection_log_actor>(
        self, eng->directory(), mext::actors::connection_log_id(uid), false);
    if (log) {
      auto got = mext::actors::ask<std::vector<mext::actors::connection_entry>>(
          self, *log, mext::get_atom::value, admin_caller(), uint32_t{100});
      if (got) entries = *got;
    }
    bool has_ws = false;
    for (auto& e : entries) has_ws = has_ws || e.kind == "websocket";
    if (has_ws) break;
    std::this_thread::sleep_for(50ms);
  }
  const mext::actors::connection_entry* ws = nullptr;
  for (auto& e : entries)
    if (e.kind == "websocket") ws = &e;
  BOOST_TEST_REQUIRE(ws != nullptr, "no websocket entry in the connection log");
  BOOST_TEST(ws->screen == "1280x720");
  BOOST_TEST(ws->ip == "127.0.0.1");
  BOOST_TEST(ws->os == "Linux");
  BOOST_TEST(ws->isp == "unknown");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rooms)

BOOST_FIXTURE_TEST_CASE(two_clients_see_every_message_in_one_order_with_acks, ws_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto [b_id, b_token] = new_user("b@example.test");
  auto ca = signed_in(a_token);
  auto cb = signed_in(b_token);
  ca.join(room);
  cb.join(room);
  const int n = 30;
  // Both write at once, interleaved: the room decides one order and both see it.
  for (int i = 0; i < n; ++i) {
    ca.send_json(send_frame(room, "a" + std::to_string(i), "ka" + std::to_string(i)));
    cb.send_json(send_frame(room, "b" + std::to_string(i), "kb" + std::to_string(i)));
  }
  std::vector<json> seen_a, seen_b, acks_a;
  while (seen_a.size() < 2 * n || acks_a.size() < n) {
    auto j = ca.next();
    if (j.at("ev") == "message") seen_a.push_back(j);
    if (j.at("ev") == "ack") acks_a.push_back(j);
  }
  seen_b = messages(cb, 2 * n);
  std::vector<std::string> order_a, order_b;
  for (auto& m : seen_a) order_a.push_back(m.at("message_id").get<std::string>());
  for (auto& m : seen_b) order_b.push_back(m.at("message_id").get<std::string>());
  BOOST_TEST(order_a == order_b);
  for (std::size_t i = 1; i < seen_a.size(); ++i)
    BOOST_TEST(seen_a[i].at("number").get<int>() == seen_a[i - 1].at("number").get<int>() + 1);
  // Every ack names a message both saw, by the right author.
  std::set<std::string> ids(order_a.begin(), order_a.end());
  for (auto& ack : acks_a) {
    BOOST_TEST(ids.count(ack.at("message_id").get<std::string>()) == 1u);
    BOOST_TEST(ack.at("client_msg_id").get<std::string>().rfind("ka", 0) == 0u);
  }
  // Within one author, the room keeps the order they were sent in.
  int next_a = 0;
  for (auto& m : seen_a)
    if (m.at("author_id") == a_id) BOOST_TEST(m.at("text") == "a" + std::to_string(next_a++));
  BOOST_TEST(next_a == n);
  // And they are durable: the REST history holds all of them.
  auto h = http().get("/api/v1/rooms/" + room + "/messages?limit=200", a_token);
  BOOST_TEST(h.json().at("items").size() == static_cast<std::size_t>(2 * n));
}

BOOST_FIXTURE_TEST_CASE(a_repeated_client_msg_id_gets_the_first_ack_and_no_second_message,
                        ws_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto [b_id, b_token] = new_user("b@example.test");
  auto ca = signed_in(a_token);
  auto cb = signed_in(b_token);
  cb.join(room);
  ca.send_json(send_frame(room, "hello", "same-key"));
  auto first = ca.next_ev("ack");
  ca.send_json(send_frame(room, "hello again", "same-key"));
  auto second = ca.next_ev("ack");
  BOOST_TEST(first.at("message_id") == second.at("message_id"));
  BOOST_TEST(first.at("sent_at") == second.at("sent_at"));
  ca.send_json(send_frame(room, "next", "other-key"));
  ca.next_ev("ack");
  auto got = messages(cb, 2);
  BOOST_TEST(got[0].at("text") == "hello");
  BOOST_TEST(got[1].at("text") == "next");
}

BOOST_FIXTURE_TEST_CASE(a_reconnecting_client_catches_up_with_no_gap_and_no_duplicate, ws_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto [b_id, b_token] = new_user("b@example.test");
  auto ca = signed_in(a_token);
  std::string last_seen;
  {
    auto cb = signed_in(b_token);
    cb.join(room);
    for (int i = 0; i < 5; ++i)
      ca.send_json(send_frame(room, "m" + std::to_string(i), "k" + std::to_string(i)));
    auto got = messages(cb, 5);
    last_seen = got.back().at("message_id").get<std::string>();
  }
  // Missed while away: more than one catch-up page (200).
  const int missed = 450;
  for (int i = 5; i < 5 + missed; ++i) {
    ca.send_json(send_frame(room, "m" + std::to_string(i), "k" + std::to_string(i)));
    ca.next_ev("ack");
  }
  auto cb = signed_in(b_token);
  cb.send_json({{"op", "join"}, {"room_id", room}, {"after_message_id", last_seen}});
  // The room keeps talking while the catch-up runs.
  const int live = 40;
  for (int i = 5 + missed; i < 5 + missed + live; ++i)
    ca.send_json(send_frame(room, "m" + std::to_string(i), "k" + std::to_string(i)));
  auto got = messages(cb, missed + live);
  for (int i = 0; i < missed + live; ++i) {
    BOOST_TEST(got[i].at("text") == "m" + std::to_string(5 + i));
    BOOST_TEST(got[i].at("number").get<int>() == 6 + i);
  }
  // Nothing more: no duplicate follows.
  cb.send_json({{"op", "ping"}});
  BOOST_TEST(cb.next().at("ev") != "message");
}

BOOST_FIXTURE_TEST_CASE(resuming_after_an_unknown_message_is_a_404_error, ws_fixture) {
  auto [b_id, b_token] = new_user("b@example.test");
  auto cb = signed_in(b_token);
  cb.send_json({{"op", "join"}, {"room_id", room}, {"after_message_id", room + ".msg_nope"}});
  auto e = cb.next_ev("error");
  BOOST_TEST(e.at("status") == 404);
  BOOST_TEST(e.at("room_id") == room);
}

BOOST_FIXTURE_TEST_CASE(deletions_reach_members, ws_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto ca = signed_in(a_token);
  ca.join(room);
  ca.send_json(send_frame(room, "oops", "k1"));
  auto ack = ca.next_ev("ack");
  auto id = ack.at("message_id").get<std::string>();
  BOOST_REQUIRE_EQUAL(http().del("/api/v1/rooms/" + room + "/messages/" + id, a_token).status / 100,
                      2);
  auto d = ca.next_ev("deleted");
  BOOST_TEST(d.at("message_id") == id);
  BOOST_TEST(d.at("room_id") == room);
}

BOOST_FIXTURE_TEST_CASE(a_direct_room_refuses_a_third_person, ws_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto [b_id, b_token] = new_user("b@example.test");
  auto [c_id, c_token] = new_user("c@example.test");
  auto d = http().post("/api/v1/direct/" + b_id, a_token);
  BOOST_REQUIRE_EQUAL(d.status, 200);
  auto direct = d.json().at("room_id").get<std::string>();
  auto cc = signed_in(c_token);
  cc.send_json({{"op", "join"}, {"room_id", direct}});
  BOOST_TEST(cc.next_ev("error").at("status") == 403);
  cc.send_json(send_frame(direct, "let me in", "k"));
  BOOST_TEST(cc.next_ev("error").at("status") == 403);
  auto cb = signed_in(b_token);
  cb.join(direct);
}

BOOST_FIXTURE_TEST_CASE(presence_says_few_below_three_people_then_counts, ws_fixture) {
  std::vector<ws_client> clients;
  std::vector<std::string> tokens;
  for (int i = 0; i < 3; ++i)
    tokens.push_back(new_user("p" + std::to_string(i) + "@x.test").second);
  clients.push_back(signed_in(tokens[0]));
  clients[0].join(room);
  BOOST_TEST(clients[0].next_ev("presence").at("count") == "few");
  clients.push_back(signed_in(tokens[1]));
  clients[1].join(room);
  clients.push_back(signed_in(tokens[2]));
  clients[2].join(room);
  // Coalesced: the first client eventually learns the count of three.
  json p;
  do {
    p = clients[0].next_ev("presence");
  } while (p.at("count") == "few");
  BOOST_TEST(p.at("count") == 3);
}

BOOST_FIXTURE_TEST_CASE(meeting_requests_and_answers_reach_both_parties, ws_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto [b_id, b_token] = new_user("b@example.test");
  auto ca = signed_in(a_token);
  auto cb = signed_in(b_token);
  auto m = http().post_json("/api/v1/meetings",
                            {{"with_user_id", b_id},
                             {"starts_at", "2026-11-28T14:00:00Z"},
                             {"ends_at", "2026-11-28T14:30:00Z"}},
                            a_token);
  BOOST_REQUIRE_EQUAL(m.status, 201);
  auto mid = m.json().at("meeting_id").get<std::string>();
  for (auto* c : {&ca, &cb}) {
    auto ev = c->next_ev("meeting");
    BOOST_TEST(ev.at("meeting_id") == mid);
    BOOST_TEST(ev.at("status") == "pending");
  }
  BOOST_REQUIRE_EQUAL(http().post("/api/v1/meetings/" + mid + "/accept", b_token).status / 100, 2);
  for (auto* c : {&ca, &cb}) {
    auto ev = c->next_ev("meeting");
    BOOST_TEST(ev.at("meeting_id") == mid);
    BOOST_TEST(ev.at("status") == "accepted");
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(protocol_hygiene)

BOOST_FIXTURE_TEST_CASE(a_binary_frame_closes_with_1003, ws_fixture) {
  auto c = signed_in(new_user("a@example.test").second);
  c.send_binary(std::string("\x01\x02\x03", 3));
  BOOST_TEST(c.wait_close() == 1003);
}

// Plain, so that the test can half-close the socket itself; a close timer far beyond the wait.
mext::test::api_fixture_options half_close_options() {
  auto o = ws_options();
  o.tls = false;
  o.ws.close_timeout = 60s;
  return o;
}

struct half_close_fixture : ws_fixture {
  half_close_fixture() : ws_fixture(half_close_options()) {}
};

BOOST_FIXTURE_TEST_CASE(a_client_that_sends_a_refused_frame_and_half_closes_is_let_go_at_once,
                        half_close_fixture) {
  const int fd = mext::test::connect_loopback(port);
  BOOST_REQUIRE(fd >= 0);
  const std::string upgrade =
      "GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\nCookie: mext_session=" +
      new_user("a@example.test").second + "\r\n\r\n";
  // A masked binary frame of three bytes, refused with 1003; then no more from this side.
  const std::string frame("\x82\x83\x01\x02\x03\x04\x00\x00\x00", 9);
  BOOST_REQUIRE(::write(fd, upgrade.data(), upgrade.size()) ==
                static_cast<ssize_t>(upgrade.size()));
  std::string got;
  char chunk[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    auto n = ::read(fd, chunk, sizeof chunk);
    BOOST_REQUIRE(n > 0);
    got.append(chunk, static_cast<std::size_t>(n));
  }
  BOOST_REQUIRE(got.rfind("HTTP/1.1 101", 0) == 0);
  got.erase(0, got.find("\r\n\r\n") + 4);
  BOOST_REQUIRE(::write(fd, frame.data(), frame.size()) == static_cast<ssize_t>(frame.size()));
  ::shutdown(fd, SHUT_WR);
  // The server sends its close frame and closes, well before its 60 s close timer would.
  bool ended = false;
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 500) <= 0) continue;
    auto n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0)
      ended = true;
    else
      got.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  BOOST_TEST(ended, "the connection was still open 15 s after the client half-closed");
  // Whatever came before it (a ready event), the last frame is the close with 1003.
  auto close_at = got.rfind('\x88');
  BOOST_REQUIRE(close_at != std::string::npos);
  BOOST_REQUIRE(got.size() >= close_at + 4);
  BOOST_TEST((static_cast<unsigned char>(got[close_at + 2]) << 8 |
              static_cast<unsigned char>(got[close_at + 3])) == 1003);
}

BOOST_FIXTURE_TEST_CASE(a_frame_that_is_not_json_closes_with_1007, ws_fixture) {
  auto c = signed_in(new_user("a@example.test").second);
  c.send_text("{not json");
  BOOST_TEST(c.wait_close() == 1007);
}

BOOST_FIXTURE_TEST_CASE(invalid_utf8_closes_with_1007, ws_fixture) {
  auto c = signed_in(new_user("a@example.test").second);
  c.send_text("{\"op\":\"ping\",\"x\":\"\xff\xfe\"}");
  BOOST_TEST(c.wait_close() == 1007);
}

BOOST_FIXTURE_TEST_CASE(a_message_over_the_limit_closes_with_1009, ws_fixture) {
  auto c = signed_in(new_user("a@example.test").second);
  c.send_text("{\"op\":\"ping\",\"pad\":\"" + std::string(20 * 1024, 'x') + "\"}");
  BOOST_TEST(c.wait_close() == 1009);
}

BOOST_FIXTURE_TEST_CASE(unknown_ops_and_bad_fields_get_error_events_and_the_socket_stays,
                        ws_fixture) {
  auto c = signed_in(new_user("a@example.test").second);
  c.send_json({{"op", "dance"}});
  BOOST_TEST(c.next_ev("error").at("status") == 400);
  c.send_json({{"nop", 1}});
  BOOST_TEST(c.next_ev("error").at("status") == 400);
  c.send_json({{"op", "send"}, {"room_id", room}, {"text", "x"}});
  BOOST_TEST(c.next_ev("error").at("status") == 400);
  c.send_json(send_frame(room, std::string(5000, 'x'), "k"));
  BOOST_TEST(c.next_ev("error").at("status") == 400);
  c.send_json({{"op", "join"}, {"room_id", "room_00000000000000000000000000000000"}});
  BOOST_TEST(c.next_ev("error").at("status") == 404);
  c.send_json({{"op", "ping"}});
  BOOST_TEST(c.next_ev("pong").at("ev") == "pong");
}

struct slow_send_fixture : ws_fixture {
  static mext::test::api_fixture_options opts() {
    auto o = ws_options();
    o.websocket.protocol.send_rate = 1;
    o.websocket.protocol.send_burst = 3;
    return o;
  }
  slow_send_fixture() : ws_fixture(opts()) {}
};

BOOST_FIXTURE_TEST_CASE(sends_past_the_rate_limit_get_429_error_events, slow_send_fixture) {
  auto c = signed_in(new_user("a@example.test").second);
  for (int i = 0; i < 6; ++i) c.send_json(send_frame(room, "x", "k" + std::to_string(i)));
  int acks = 0, limited = 0;
  while (acks + limited < 6) {
    auto j = c.next();
    if (j.at("ev") == "ack") ++acks;
    if (j.at("ev") == "error") {
      BOOST_TEST(j.at("status") == 429);
      BOOST_TEST(j.contains("client_msg_id"));
      ++limited;
    }
  }
  BOOST_TEST(acks == 3);
  BOOST_TEST(limited == 3);
}

struct small_queue_fixture : ws_fixture {
  static mext::test::api_fixture_options opts() {
    auto o = ws_options();
    o.ws.queue_max_messages = 64;
    o.ws.queue_max_bytes = 128 * 1024;
    return o;
  }
  small_queue_fixture() : ws_fixture(opts()) {}
};

BOOST_FIXTURE_TEST_CASE(a_reader_that_never_reads_is_closed_and_the_room_goes_on,
                        small_queue_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto [s_id, s_token] = new_user("stalled@example.test");
  ws_client::options o;
  o.receive_buffer = 4096;
  ws_client stalled{port, o};
  stalled.auth(s_token);
  stalled.join(room);
  auto ca = signed_in(a_token);
  ca.join(room);
  const auto members_before = a->hubs->members();
  BOOST_TEST(members_before == 2u);
  // 3,900-byte messages: the kernel buffers fill, then the server's queue of 128 KiB does.
  const std::string big(3900, 'z');
  std::size_t acked = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (a->hubs->members() == members_before && std::chrono::steady_clock::now() < deadline) {
    ca.send_json(send_frame(room, big, "k" + std::to_string(acked)));
    // The talking client is not slowed: each message is acknowledged and delivered to it (in
    // either order: the ack and the fan-out take different paths).
    bool ack = false, delivered = false;
    while (!ack || !delivered) {
      auto j = ca.next();
      ack = ack || j.at("ev") == "ack";
      delivered = delivered || j.at("ev") == "message";
    }
    ++acked;
  }
  BOOST_TEST(a->hubs->members() == 1u, "the stalled member was dropped after " << acked);
  // Its connection is gone from the server within the close timeout, unread bytes and all.
  auto gone_by = std::chrono::steady_clock::now() + 10s;
  while (srv->open_connections() > 2 && std::chrono::steady_clock::now() < gone_by)
    std::this_thread::sleep_for(50ms);
  BOOST_TEST(srv->open_connections() <= 2u);
  ca.send_json({{"op", "ping"}});
  BOOST_TEST(ca.next_ev("pong").at("ev") == "pong");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(scale)

BOOST_FIXTURE_TEST_CASE(a_thousand_clients_in_one_room_all_receive_every_message, ws_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto [v_id, v_token] = new_user("crowd@example.test");
  std::vector<ws_client> crowd;
  crowd.reserve(1000);
  for (int i = 0; i < 1000; ++i) {
    crowd.emplace_back(port);
    crowd.back().auth(v_token);
    crowd.back().join(room);
  }
  BOOST_TEST(a->hubs->members() == 1000u);
  auto ca = signed_in(a_token);
  const int n = 5;
  for (int i = 0; i < n; ++i) {
    ca.send_json(send_frame(room, "to all " + std::to_string(i), "k" + std::to_string(i)));
    ca.next_ev("ack");
  }
  int complete = 0;
  for (auto& c : crowd) {
    auto got = messages(c, n);
    bool in_order = true;
    for (int i = 0; i < n; ++i)
      in_order = in_order && got[i].at("text") == "to all " + std::to_string(i);
    complete += in_order ? 1 : 0;
  }
  BOOST_TEST(complete == 1000);
}

BOOST_AUTO_TEST_SUITE_END()
