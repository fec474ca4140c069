#define BOOST_TEST_MODULE api_hardening
#include <boost/test/unit_test.hpp>

// Hostile input through a real TLS server (the seed's "WAF / data packets filtering"): malformed,
// truncated and mistyped JSON, invalid UTF-8, oversized and deeply nested bodies, oversized and
// too many headers, path tricks, NUL bytes. Every case gets its 4xx as application/problem+json
// (or, when the request cannot even be read to its end, a closed connection), and the server keeps
// answering: each case ends with a /healthz on a fresh connection.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/ssl.h>
#include <nlohmann/json.hpp>

#include "http/edge_guard.hpp"
#include "http/metrics.hpp"
#include "tests/support/api_fixture.hpp"

namespace {

using mext::test::api_fixture;
using mext::test::api_fixture_options;
using mext::test::header_list;
using mext::test::http_result;
using njson = nlohmann::json;

constexpr const char* register_path = "/api/v1/auth/register";

// A string literal with every byte, NULs included.
template <size_t N>
std::string bytes(const char (&literal)[N]) {
  return std::string{literal, N - 1};
}

// -- bytes exactly as given, over TLS ---------------------------------------------------------
// https_client builds well-formed requests; these cases need malformed ones.

struct raw_reply {
  bool answered = false;  // false: the server closed without an answer
  int status = 0;
  std::string head;
  std::string body;
};

// Sends `bytes` on a TLS connection of its own and reads until the server closes. With
// `end_after_send`, the client then ends its side (close_notify and FIN), as a client that
// stopped mid-request would.
raw_reply raw_exchange(uint16_t port, std::string_view bytes, bool end_after_send = false) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket");
  std::unique_ptr<int, void (*)(int*)> closer{&fd, [](int* f) { ::close(*f); }};
  timeval tv{20, 0};  // only so that a broken server fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
    throw std::runtime_error("connect");
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_client_method()), SSL_CTX_free};
  std::unique_ptr<SSL, void (*)(SSL*)> ssl{SSL_new(ctx.get()), SSL_free};
  SSL_set_fd(ssl.get(), fd);
  if (SSL_connect(ssl.get()) != 1) throw std::runtime_error("TLS handshake");
  // The server may answer and close before everything is written: that is fine.
  for (size_t sent = 0; sent < bytes.size();) {
    int n = SSL_write(ssl.get(), bytes.data() + sent,
                      static_cast<int>(std::min<size_t>(bytes.size() - sent, 1 << 16)));
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (end_after_send) {
    SSL_shutdown(ssl.get());
    ::shutdown(fd, SHUT_WR);
  }
  std::string all;
  char buf[16384];
  for (int n; (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0;) all.append(buf, n);
  raw_reply out;
  auto end = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return out;
  out.answered = true;
  out.status = std::stoi(all.substr(9, 3));
  out.head = all.substr(0, end);
  out.body = all.substr(end + 4);
  return out;
}

std::string post_bytes(std::string_view path, std::string_view body,
                       std::string_view extra_headers = {}) {
  std::string req = "POST " + std::string{path} +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    "Connection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n";
  req += extra_headers;
  req += "\r\n";
  req += body;
  return req;
}

// -- fixture ----------------------------------------------------------------------------------

struct hardening_fixture : api_fixture {
  static api_fixture_options options() {
    api_fixture_options o;
    o.extra_routes = [](mext::http::router&, std::shared_ptr<mext::http::api> a) {
      mext::http::edge_guard_settings g;
      g.requests_per_second = 0;  // these suites send fast; the rate limit has its own test
      a->guard = std::make_shared<mext::http::edge_guard>(g);
    };
    return o;
  }
  hardening_fixture() : api_fixture(options()) {}

  // A fresh connection still gets an answer.
  void server_still_answers() {
    auto c = connect();
    BOOST_TEST(c.get("/healthz").status == 200);
  }

  void expect_problem(const http_result& r, int status) {
    BOOST_TEST(r.status == status);
    BOOST_TEST(r.header("Content-Type").rfind("application/problem+json", 0) == 0u);
    auto j = r.json();
    BOOST_TEST_REQUIRE(j.is_object(), r.body);
    BOOST_TEST(j.value("status", 0) == status);
    BOOST_TEST(j.value("title", "") != "");
    BOOST_TEST(j.contains("detail"));
    server_still_answers();
  }

  void expect_problem(const raw_reply& r, int status) {
    BOOST_TEST_REQUIRE(r.answered);
    BOOST_TEST(r.status == status);
    BOOST_TEST(r.head.find("Content-Type: application/problem+json") != std::string::npos, r.head);
    auto j = njson::parse(r.body, nullptr, false);
    BOOST_TEST_REQUIRE(j.is_object(), r.body);
    BOOST_TEST(j.value("status", 0) == status);
    server_still_answers();
  }

  http_result post_raw(const std::string& path, std::string body, header_list headers = {},
                       const std::string& token = {}) {
    return connect().request("POST", path, std::move(body),
                             mext::test::with_bearer(std::move(headers), token));
  }
};

njson registration() {
  return {{"email", "hard@example.test"},
          {"password", mext::test::strong_password},
          {"first_name", "Hard"},
          {"surname", "Case"}};
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hostile_input, hardening_fixture)

// -- JSON -------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(malformed_json_gets_400) {
  expect_problem(post_raw(register_path, "{\"email\": "), 400);
  expect_problem(post_raw(register_path, "{'email': 'a@b.c'}"), 400);
  expect_problem(post_raw(register_path, "{\"email\":\"a@b.c\",}"), 400);
  expect_problem(post_raw(register_path, "not json at all"), 400);
  expect_problem(post_raw(register_path, "[1,2,3]"), 400);
  expect_problem(post_raw(register_path, ""), 400);
}

BOOST_AUTO_TEST_CASE(a_number_beyond_a_double_gets_400_not_500) {
  // Found by fuzz_scenario: the JSON library throws out_of_range, not parse_error, for these.
  expect_problem(post_raw(register_path, R"({"email": 1E999999, "password": "x"})"), 400);
  expect_problem(post_raw(register_path, R"({"email": -22222222E2222222211111161})"), 400);
  server_still_answers();
}

BOOST_AUTO_TEST_CASE(truncated_json_gets_400) {
  auto whole = registration().dump();
  for (size_t cut : {size_t{1}, whole.size() / 2, whole.size() - 1})
    expect_problem(post_raw(register_path, whole.substr(0, cut)), 400);
}

BOOST_AUTO_TEST_CASE(a_request_cut_off_mid_body_closes_without_harm) {
  // Content-Length promises more than comes: nobody is left to answer, and nothing breaks.
  auto whole = post_bytes(register_path, registration().dump());
  auto reply = raw_exchange(port, whole.substr(0, whole.size() - 20), true);
  BOOST_TEST(!reply.answered);
  server_still_answers();
}

BOOST_AUTO_TEST_CASE(wrong_types_get_400) {
  auto body = registration();
  for (const char* field : {"email", "password", "first_name", "surname"}) {
    for (const njson& wrong :
         {njson(42), njson::array({"x"}), njson::object({{"a", 1}}), njson(true), njson(nullptr)}) {
      auto b = body;
      b[field] = wrong;
      expect_problem(post_raw(register_path, b.dump()), 400);
    }
  }
  njson exhibition{
      {"title", 42}, {"starts_at", "2026-11-28T10:00:00Z"}, {"ends_at", "2026-11-29T10:00:00Z"}};
  expect_problem(post_raw("/api/v1/exhibitions", exhibition.dump(), {}, admin_token), 400);
  exhibition["title"] = "Fair";
  exhibition["starts_at"] = 1700000000;
  expect_problem(post_raw("/api/v1/exhibitions", exhibition.dump(), {}, admin_token), 400);
  exhibition["starts_at"] = "yesterday";
  expect_problem(post_raw("/api/v1/exhibitions", exhibition.dump(), {}, admin_token), 400);
}

// -- UTF-8 ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(invalid_utf8_inside_json_strings_gets_400) {
  for (std::string bad : {std::string{"\xff\xfe"}, std::string{"\xc0\xaf"},  // overlong '/'
                          std::string{"\xed\xa0\x80"},                       // a surrogate
                          std::string{"\xf4\x90\x80\x80"},                   // past U+10FFFF
                          std::string{"abc\xe2\x82"}}) {                     // cut sequence
    std::string body = "{\"email\":\"x@example.test\",\"password\":\"" +
                       std::string{mext::test::strong_password} + "\",\"first_name\":\"" + bad +
                       "\",\"surname\":\"S\"}";
    expect_problem(post_raw(register_path, body), 400);
  }
  // A lone surrogate written as an escape.
  expect_problem(post_raw(register_path, R"({"email":"x@example.test","first_name":"\ud800"})"),
                 400);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_outside_strings_gets_400) {
  expect_problem(post_raw(register_path, "\xff\xff\xff\xff"), 400);
  expect_problem(post_raw(register_path, "{\xc3\x28: 1}"), 400);
  expect_problem(post_raw(register_path, std::string{"\xef\xbb\xbf\xef\xbb\xbf{}"}), 400);
}

// -- sizes ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_body_over_the_server_limit_gets_413) {
  // The fixture's server takes 1 MiB bodies.
  std::string huge(2 << 20, 'a');
  expect_problem(post_raw(register_path, huge), 413);
}

BOOST_AUTO_TEST_CASE(a_json_body_over_the_json_limit_gets_413) {
  auto body = registration();
  body["first_name"] = std::string(300 * 1024, 'a');
  expect_problem(post_raw(register_path, body.dump()), 413);
}

BOOST_AUTO_TEST_CASE(deeply_nested_json_gets_400) {
  for (int depth : {17, 1000, 100000}) {
    std::string nested = "{\"email\":" + std::string(static_cast<size_t>(depth), '[') +
                         std::string(static_cast<size_t>(depth), ']') + "}";
    expect_problem(post_raw(register_path, nested), 400);
  }
  std::string objects;
  for (int i = 0; i < 30000; ++i) objects += "{\"a\":";
  objects += "1" + std::string(30000, '}');
  expect_problem(post_raw(register_path, objects), 400);
}

// -- headers ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(oversized_headers_get_431) {
  expect_problem(connect().get("/api/v1/openapi.json", {}, {{"X-Big", std::string(20000, 'b')}}),
                 431);
  // Header bytes are counted whatever the route: an unknown path too.
  expect_problem(connect().get("/nowhere", {}, {{"X-Big", std::string(20000, 'b')}}), 431);
}

BOOST_AUTO_TEST_CASE(too_many_headers_get_431) {
  header_list many;
  for (int i = 0; i < 150; ++i) many.emplace_back("X-H" + std::to_string(i), "v");
  expect_problem(connect().get("/api/v1/openapi.json", {}, many), 431);
  header_list flood;
  for (int i = 0; i < 4000; ++i) flood.emplace_back("X-H" + std::to_string(i), "v");
  expect_problem(connect().get("/api/v1/openapi.json", {}, flood), 431);
  // A browser's worth of headers is fine.
  header_list normal;
  for (int i = 0; i < 30; ++i) normal.emplace_back("X-H" + std::to_string(i), "v");
  BOOST_TEST(connect().get("/api/v1/openapi.json", {}, normal).status == 200);
}

// -- paths ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(path_traversal_names_no_resource) {
  auto [user_id, token] = new_user("walker@example.test");
  for (const char* path :
       {"/api/v1/../../etc/passwd", "/api/v1/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/api/v1/booths/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/users/..%2F..%2Fetc%2Fpasswd", "/api/v1/files/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/files/%2e%2e", "/api/v1/booths/bth_%zz", "/../healthz"}) {
    BOOST_TEST_CONTEXT(path) {
      expect_problem(connect().get(path, token), 404);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_file_name_is_never_a_path) {
  auto [user_id, token] = new_user("uploader@example.test");
  for (const char* name : {"../../etc/passwd", "..", "a/b.txt", "a\\b.txt"}) {
    BOOST_TEST_CONTEXT(name) {
      expect_problem(post_raw("/api/v1/files", "hello, world\n",
                              {{"Content-Type", "text/plain"}, {"X-File-Name", name}}, token),
                     400);
    }
  }
}

// -- NUL bytes --------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(nul_bytes_get_4xx) {
  // In the request line and in a header value: the request cannot be parsed.
  expect_problem(raw_exchange(port, bytes("GET /healthz\0 HTTP/1.1\r\nHost: x\r\n\r\n")), 400);
  expect_problem(raw_exchange(port, bytes("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n")),
                 400);
  // Percent-encoded in an id: no such resource.
  expect_problem(connect().get("/api/v1/booths/bth_%00"), 404);
  expect_problem(connect().get("/api/v1/exhibitions/exh_0123%00abc"), 404);
  // Raw inside a JSON string: JSON forbids unescaped control characters.
  expect_problem(
      post_raw("/api/v1/auth/login", bytes("{\"email\":\"a\0b@example.test\",\"password\":\"x\"}")),
      400);
}

BOOST_AUTO_TEST_CASE(garbage_instead_of_http_is_refused_and_harmless) {
  auto reply = raw_exchange(port, "\x16\x03\x01 this is not HTTP\r\n\r\n");
  BOOST_TEST(reply.answered);
  BOOST_TEST(reply.status == 400);
  server_still_answers();
  auto smuggle = raw_exchange(port,
                              "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  BOOST_TEST(smuggle.answered);
  BOOST_TEST(smuggle.status == 400);
  server_still_answers();
}

BOOST_AUTO_TEST_SUITE_END()
