#define BOOST_TEST_MODULE ws_protocol
#include <boost/test/unit_test.hpp>

// The server's WebSocket wire protocol (RFC 6455): the frame reader fed byte by byte, and a real
// server on a real socket spoken to in raw bytes, so that what a library client would never send
// (unmasked frames, bad versions, silence) is covered: the handshake's answer and refusals,
// fragments, control frames, protocol errors with their close codes, the closing handshake and
// the idle timeout with its keep-alive ping.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/server.hpp"
#include "http/ws_frames.hpp"
#include "persistence/errors.hpp"
#include "test_support.hpp"

namespace mh = mext::http;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// A client frame: masked, as RFC 6455 5.3 requires (unless `masked` is false, to test that).
std::string client_frame(unsigned char opcode, const std::string& payload, bool fin = true,
                         bool masked = true) {
  static constexpr unsigned char mask[4] = {0x12, 0x9a, 0x5c, 0xe1};
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const unsigned char m = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(m | payload.size()));
  } else if (payload.size() <= 0xffff) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  }
  if (masked) out.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i)
    out.push_back(static_cast<char>(payload[i] ^ (masked ? mask[i % 4] : 0)));
  return out;
}

std::string close_payload(uint16_t code, const std::string& reason = "") {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  return p + reason;
}

// Records what the reader reports.
struct recorder final : mh::ws_frame_sink {
  std::vector<std::string> events;
  void on_ws_text(std::string text) override { events.push_back("text:" + text); }
  void on_ws_binary() override { events.push_back("binary"); }
  void on_ws_too_big() override { events.push_back("too_big"); }
  void on_ws_ping(std::string_view p) override { events.push_back("ping:" + std::string(p)); }
  void on_ws_pong() override { events.push_back("pong"); }
  void on_ws_close(uint16_t code) override { events.push_back("close:" + std::to_string(code)); }
  void on_ws_error(uint16_t code, const char*) override {
    events.push_back("error:" + std::to_string(code));
  }
};

// Feeds `bytes` one byte at a time (the hardest chunking) and returns the events.
std::vector<std::string> read_bytewise(const std::string& bytes, std::size_t limit = 1024) {
  mh::ws_frame_reader reader(limit);
  recorder r;
  for (char c : bytes) reader.feed(&c, 1, r);
  return r.events;
}

std::vector<std::string> read_whole(const std::string& bytes, std::size_t limit = 1024) {
  mh::ws_frame_reader reader(limit);
  recorder r;
  reader.feed(bytes.data(), bytes.size(), r);
  return r.events;
}

using events = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(frame_reader)

BOOST_AUTO_TEST_CASE(a_fragmented_text_message_with_a_ping_between_arrives_whole_in_any_chunking) {
  const std::string bytes = client_frame(mh::ws_opcode::text, "hel", false) +
                            client_frame(mh::ws_opcode::ping, "p1") +
                            client_frame(mh::ws_opcode::continuation, "lo ", false) +
                            client_frame(mh::ws_opcode::continuation, "world") +
                            client_frame(mh::ws_opcode::text, std::string(300, 'x'));
  const events expected{"ping:p1", "text:hello world", "text:" + std::string(300, 'x')};
  BOOST_TEST(read_bytewise(bytes) == expected, boost::test_tools::per_element());
  BOOST_TEST(read_whole(bytes) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_reader_between_messages_holds_nothing) {
  mh::ws_frame_reader reader(1024);
  recorder r;
  const auto first = client_frame(mh::ws_opcode::text, "ab", false);
  reader.feed(first.data(), first.size(), r);
  BOOST_TEST(!reader.idle());
  const auto rest = client_frame(mh::ws_opcode::continuation, "cd");
  reader.feed(rest.data(), rest.size(), r);
  BOOST_TEST(reader.idle());
  BOOST_TEST(r.events == events{"text:abcd"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(utf8_split_across_fragments_is_accepted_and_invalid_utf8_is_1007) {
  // "é" (C3 A9) split between two frames.
  const std::string split = client_frame(mh::ws_opcode::text, "caf\xc3", false) +
                            client_frame(mh::ws_opcode::continuation, "\xa9");
  BOOST_TEST(read_bytewise(split) == events{"text:caf\xc3\xa9"}, boost::test_tools::per_element());
  BOOST_TEST(read_whole(client_frame(mh::ws_opcode::text, "\xff\xfe")) == events{"error:1007"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(protocol_violations_fail_with_1002_and_nothing_after_them_is_read) {
  const auto after = client_frame(mh::ws_opcode::text, "never");
  // Unmasked, reserved bits, a fragmented control frame, a continuation with no message, a new
  // message inside one, an unknown opcode, a length not in its shortest form, an oversized ping.
  std::string reserved = client_frame(mh::ws_opcode::text, "x");
  reserved[0] = static_cast<char>(reserved[0] | 0x40);
  std::string long_form = client_frame(mh::ws_opcode::text, "x");
  long_form = std::string{static_cast<char>(0x81), static_cast<char>(0x80 | 126), 0, 1} +
              long_form.substr(2);
  const std::vector<std::string> bad{
      client_frame(mh::ws_opcode::text, "x", true, false),
      reserved,
      client_frame(mh::ws_opcode::ping, "x", false),
      client_frame(mh::ws_opcode::continuation, "x"),
      client_frame(mh::ws_opcode::text, "a", false) + client_frame(mh::ws_opcode::text, "b"),
      client_frame(0x3, "x"),
      long_form,
      client_frame(mh::ws_opcode::ping, std::string(126, 'p')),
  };
  for (const auto& b : bad) {
    BOOST_TEST(read_bytewise(b + after) == events{"error:1002"}, boost::test_tools::per_element());
    BOOST_TEST(read_whole(b + after) == events{"error:1002"}, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(close_frames_carry_a_valid_code_or_none_and_end_the_reading) {
  const auto after = client_frame(mh::ws_opcode::text, "never");
  BOOST_TEST(read_whole(client_frame(mh::ws_opcode::close, close_payload(1000, "bye")) + after) ==
                 events{"close:1000"},
             boost::test_tools::per_element());
  BOOST_TEST(read_whole(client_frame(mh::ws_opcode::close, "")) == events{"close:0"},
             boost::test_tools::per_element());
  // 1005 and 1006 are never sent on the wire; one byte cannot be a code.
  BOOST_TEST(
      read_whole(client_frame(mh::ws_opcode::close, close_payload(1005))) == events{"error:1002"},
      boost::test_tools::per_element());
  BOOST_TEST(read_whole(client_frame(mh::ws_opcode::close, "\x03")) == events{"error:1002"},
             boost::test_tools::per_element());
  BOOST_TEST(read_whole(client_frame(mh::ws_opcode::close, close_payload(1000, "\xc0\xaf"))) ==
                 events{"error:1007"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(
    a_message_past_the_limit_is_reported_once_and_dropped_while_control_frames_count) {
  const std::string bytes = client_frame(mh::ws_opcode::text, std::string(60, 'a'), false) +
                            client_frame(mh::ws_opcode::continuation, std::string(60, 'b')) +
                            client_frame(mh::ws_opcode::text, "later") +
                            client_frame(mh::ws_opcode::ping, "still") +
                            client_frame(mh::ws_opcode::close, close_payload(1000));
  const events expected{"too_big", "ping:still", "close:1000"};
  BOOST_TEST(read_bytewise(bytes, 100) == expected, boost::test_tools::per_element());
  // Exactly at the limit is allowed.
  BOOST_TEST(read_whole(client_frame(mh::ws_opcode::text, std::string(100, 'c')), 100) ==
                 events{"text:" + std::string(100, 'c')},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_binary_message_is_reported_at_its_first_frame_and_dropped) {
  const std::string bytes = client_frame(mh::ws_opcode::binary, "\x01\x02", false) +
                            client_frame(mh::ws_opcode::continuation, "\x03") +
                            client_frame(mh::ws_opcode::text, "dropped too") +
                            client_frame(mh::ws_opcode::close, close_payload(1003));
  BOOST_TEST(read_bytewise(bytes) == (events{"binary", "close:1003"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_accept_key_keys_and_utf8_follow_the_rfcs) {
  // RFC 6455 1.3's example.
  BOOST_TEST(mh::ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  BOOST_TEST(mh::is_valid_ws_key("dGhlIHNhbXBsZSBub25jZQ=="));
  BOOST_TEST(!mh::is_valid_ws_key(""));
  BOOST_TEST(!mh::is_valid_ws_key("dGhlIHNhbXBsZSBub25jZQ"));
  BOOST_TEST(!mh::is_valid_ws_key("dGhlIHNhbXBsZSBub25j*Q=="));
  BOOST_TEST(mh::is_valid_utf8("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  BOOST_TEST(!mh::is_valid_utf8("\xc0\x80"));          // overlong NUL
  BOOST_TEST(!mh::is_valid_utf8("\xed\xa0\x80"));      // a surrogate
  BOOST_TEST(!mh::is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  BOOST_TEST(!mh::is_valid_utf8("\xe2\x82"));          // cut short
  // A close reason is cut to 123 bytes without splitting a character.
  const auto p = mh::ws_close_payload(1000, std::string(122, 'r') + "\xc3\xa9");
  BOOST_TEST(p.size() == 2u + 122u);
  BOOST_TEST(mh::is_valid_utf8(p.substr(2)));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// Echoes every text message back on the same connection.
struct echo_peer final : mh::ws_peer {
  std::shared_ptr<mh::ws_connection> conn;
  void on_text(std::string text) override {
    conn->send(std::make_shared<const std::string>(std::move(text)));
  }
  void on_closed() override {}
};

struct server_fixture {
  std::shared_ptr<mh::router> routes = std::make_shared<mh::router>();
  std::unique_ptr<mh::server> srv;

  explicit server_fixture(std::chrono::seconds idle = 60s) {
    routes->add_websocket(
        "/ws",
        [](mh::request&, mh::respond_fn respond) {
          respond(mh::response{101, "", "", {}});
        },
        [](const mh::request&, std::shared_ptr<mh::ws_connection> c) {
          auto p = std::make_shared<echo_peer>();
          p->conn = std::move(c);
          return p;
        });
    mh::server_settings s;
    s.port = 0;
    s.plain_http = true;
    s.io_threads = 2;
    s.ws.idle_timeout = idle;
    s.ws.close_timeout = 2s;
    srv = std::make_unique<mh::server>(s, routes);
    auto err = srv->start();
    BOOST_REQUIRE_MESSAGE(!err, mext::detail_of(err));
  }
};

// A raw client socket with a read buffer.
struct raw_client {
  int fd = -1;
  std::string in;

  explicit raw_client(uint16_t port) : fd(mext::test::connect_loopback(port)) {
    BOOST_REQUIRE(fd >= 0);
  }
  ~raw_client() { ::close(fd); }

  void send(const std::string& bytes) {
    BOOST_REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                  static_cast<ssize_t>(bytes.size()));
  }

  // Reads more; false on end of stream or when nothing came within `timeout`.
  bool read_more(std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
    return true;
  }

  // The HTTP answer head (through the blank line), taken out of the buffer.
  std::string read_head() {
    while (in.find("\r\n\r\n") == std::string::npos)
      BOOST_REQUIRE_MESSAGE(read_more(5000ms), "no HTTP answer");
    auto end = in.find("\r\n\r\n") + 4;
    auto head = in.substr(0, end);
    in.erase(0, end);
    return head;
  }

  std::string read_http_answer() {
    auto head = read_head();
    auto at = head.find("Content-Length: ");
    if (at != std::string::npos) {
      const auto len = std::stoul(head.substr(at + 16));
      while (in.size() < len) BOOST_REQUIRE(read_more(5000ms));
      head += in.substr(0, len);
      in.erase(0, len);
    }
    return head;
  }

  struct frame {
    unsigned char opcode;
    std::string payload;
  };

  // The next server frame (unmasked, unfragmented as this server sends them).
  std::optional<frame> next_frame(std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
      if (in.size() >= 2) {
        BOOST_REQUIRE_MESSAGE((in[1] & 0x80) == 0, "a server frame must not be masked");
        std::size_t len = in[1] & 0x7f, at = 2;
        if (len == 126 && in.size() >= 4) {
          len = (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
          at = 4;
        }
        if (len < 126 || at == 4) {
          if (in.size() >= at + len) {
            frame f{static_cast<unsigned char>(in[0] & 0x0f), in.substr(at, len)};
            in.erase(0, at + len);
            return f;
          }
        }
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0 || !read_more(left)) return std::nullopt;
    }
  }

  // True when the server closed the connection within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0) return false;
      if (::poll(&p, 1, static_cast<int>(left.count())) != 1) return false;
      char buf[4096];
      auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return true;
      in.append(buf, static_cast<size_t>(n));
    }
  }
};

std::string upgrade_request(const std::string& version = "13",
                            const std::string& key = "dGhlIHNhbXBsZSBub25jZQ==") {
  return "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Version: " +
         version + "\r\nSec-WebSocket-Key: " + key + "\r\n\r\n";
}

uint16_t close_code_of(const raw_client::frame& f) {
  if (f.payload.size() < 2) return 0;
  return static_cast<uint16_t>((static_cast<unsigned char>(f.payload[0]) << 8) |
                               static_cast<unsigned char>(f.payload[1]));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(on_a_socket)

BOOST_FIXTURE_TEST_CASE(the_handshake_answers_the_key_and_frames_sent_behind_it_are_read,
                        server_fixture) {
  raw_client c(srv->port());
  // The upgrade request and a first message in one write, so that they arrive together.
  c.send(upgrade_request() + client_frame(mh::ws_opcode::text, "early"));
  const auto head = c.read_head();
  BOOST_TEST(head.rfind("HTTP/1.1 101 ", 0) == 0);
  BOOST_TEST(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") !=
             std::string::npos);
  auto echoed = c.next_frame();
  BOOST_REQUIRE(echoed);
  BOOST_TEST(echoed->opcode == mh::ws_opcode::text);
  BOOST_TEST(echoed->payload == "early");
}

BOOST_FIXTURE_TEST_CASE(a_wrong_version_gets_426_and_a_malformed_key_400_as_problems,
                        server_fixture) {
  {
    raw_client c(srv->port());
    c.send(upgrade_request("8"));
    const auto answer = c.read_http_answer();
    BOOST_TEST(answer.rfind("HTTP/1.1 426 ", 0) == 0);
    BOOST_TEST(answer.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
    BOOST_TEST(answer.find("application/problem+json") != std::string::npos);
  }
  {
    raw_client c(srv->port());
    c.send(upgrade_request("13", "short"));
    const auto answer = c.read_http_answer();
    BOOST_TEST(answer.rfind("HTTP/1.1 400 ", 0) == 0);
    BOOST_TEST(answer.find("application/problem+json") != std::string::npos);
  }
}

BOOST_FIXTURE_TEST_CASE(a_ping_between_fragments_gets_its_pong_and_a_message_past_the_limit_1009,
                        server_fixture) {
  raw_client c(srv->port());
  c.send(upgrade_request());
  BOOST_TEST(c.read_head().rfind("HTTP/1.1 101 ", 0) == 0);
  // 20,000 bytes in three fragments (more than one read of the server's), a ping between them;
  // the limit (16 KiB by default) is passed by the last fragment.
  c.send(client_frame(mh::ws_opcode::text, std::string(16 * 1024 - 10, 'a'), false) +
         client_frame(mh::ws_opcode::ping, "are you there") +
         client_frame(mh::ws_opcode::continuation, std::string(10, 'a'), false) +
         client_frame(mh::ws_opcode::continuation, std::string(20000 - 16 * 1024, 'b')));
  auto pong = c.next_frame();
  BOOST_REQUIRE(pong);
  BOOST_TEST(pong->opcode == mh::ws_opcode::pong);
  BOOST_TEST(pong->payload == "are you there");
  auto next = c.next_frame();
  BOOST_REQUIRE(next);
  BOOST_TEST(next->opcode == mh::ws_opcode::close);
  BOOST_TEST(close_code_of(*next) == mh::ws_close::too_big);
  // The server waits for the client's close frame, then ends the connection.
  c.send(client_frame(mh::ws_opcode::close, close_payload(1009)));
  BOOST_TEST(c.closed_within(5000ms));
}

BOOST_FIXTURE_TEST_CASE(a_message_at_the_limit_is_echoed_and_the_client_close_is_answered,
                        server_fixture) {
  raw_client c(srv->port());
  c.send(upgrade_request());
  BOOST_TEST(c.read_head().rfind("HTTP/1.1 101 ", 0) == 0);
  const std::string at_limit(16 * 1024, 'c');
  c.send(client_frame(mh::ws_opcode::text, at_limit.substr(0, 5000), false) +
         client_frame(mh::ws_opcode::continuation, at_limit.substr(5000)));
  auto echoed = c.next_frame();
  BOOST_REQUIRE(echoed);
  BOOST_TEST(echoed->opcode == mh::ws_opcode::text);
  BOOST_TEST(echoed->payload == at_limit);
  c.send(client_frame(mh::ws_opcode::close, close_payload(1000, "done")));
  auto answer = c.next_frame();
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->opcode == mh::ws_opcode::close);
  BOOST_TEST(close_code_of(*answer) == 1000);
  BOOST_TEST(c.closed_within(5000ms));
}

BOOST_FIXTURE_TEST_CASE(an_unmasked_frame_fails_the_connection_with_1002, server_fixture) {
  raw_client c(srv->port());
  c.send(upgrade_request());
  BOOST_TEST(c.read_head().rfind("HTTP/1.1 101 ", 0) == 0);
  c.send(client_frame(mh::ws_opcode::text, "not masked", true, false));
  auto answer = c.next_frame();
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->opcode == mh::ws_opcode::close);
  BOOST_TEST(close_code_of(*answer) == mh::ws_close::protocol_error);
  // No closing handshake is awaited after a protocol error.
  BOOST_TEST(c.closed_within(1500ms));
}

struct idle_fixture : server_fixture {
  idle_fixture() : server_fixture(2s) {}
};

BOOST_FIXTURE_TEST_CASE(a_silent_client_gets_a_ping_at_half_the_idle_timeout_then_is_cut,
                        idle_fixture) {
  raw_client c(srv->port());
  c.send(upgrade_request());
  BOOST_TEST(c.read_head().rfind("HTTP/1.1 101 ", 0) == 0);
  const auto start = clock_type::now();
  auto ping = c.next_frame(5000ms);
  BOOST_REQUIRE(ping);
  BOOST_TEST(ping->opcode == mh::ws_opcode::ping);
  BOOST_TEST((clock_type::now() - start >= 900ms));
  // Never answered: the connection goes at the idle timeout (slack for a loaded machine).
  BOOST_TEST(c.closed_within(5000ms));
  BOOST_TEST((clock_type::now() - start >= 1900ms));
}

BOOST_FIXTURE_TEST_CASE(a_client_that_answers_pings_stays_past_the_idle_timeout, idle_fixture) {
  raw_client c(srv->port());
  c.send(upgrade_request());
  BOOST_TEST(c.read_head().rfind("HTTP/1.1 101 ", 0) == 0);
  const auto until = clock_type::now() + 5s;
  int pings = 0;
  while (clock_type::now() < until) {
    auto f = c.next_frame(3000ms);
    BOOST_REQUIRE_MESSAGE(f, "the server closed or went silent");
    BOOST_REQUIRE(f->opcode == mh::ws_opcode::ping);
    ++pings;
    c.send(client_frame(mh::ws_opcode::pong, f->payload));
  }
  BOOST_TEST(pings >= 2);
  c.send(client_frame(mh::ws_opcode::text, "still here"));
  // Pings may cross the echo.
  for (;;) {
    auto f = c.next_frame();
    BOOST_REQUIRE(f);
    if (f->opcode == mh::ws_opcode::ping) continue;
    BOOST_TEST(f->payload == "still here");
    break;
  }
}

BOOST_AUTO_TEST_SUITE_END()
