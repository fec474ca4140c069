#define BOOST_TEST_MODULE http_server
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <openssl/ssl.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include "http/server.hpp"
#include "http/settings.hpp"
#include "http/tls.hpp"
#include "persistence/errors.hpp"
#include "test_support.hpp"

namespace {

namespace fs = std::filesystem;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace mh = mext::http;
using tcp = net::ip::tcp;
using client_response = bhttp::response<bhttp::string_body>;

// Generous: only there so that a broken server fails the test instead of hanging it.
constexpr std::chrono::seconds io_deadline{20};

std::string header_of(const client_response& res, const char* name) {
  auto it = res.find(name);
  return it == res.end() ? std::string{} : std::string(it->value());
}

bhttp::request<bhttp::string_body> make_request(bhttp::verb verb, const std::string& target,
                                                std::string body = {}) {
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "localhost");
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

// A blocking client over TLS (or plain TCP) that verifies the server against its own cert.
class client {
 public:
  struct options {
    bool tls = true;
    fs::path ca;
    int max_tls_version = 0;  // 0: library default
  };

  client(uint16_t port, options opts) : ctx_(ssl::context::tls_client), tls_(opts.tls) {
    if (tls_) {
      SSL_CTX* native = ctx_.native_handle();
      if (opts.max_tls_version != 0) {
        // Lets this client offer old protocols at all, so the refusal is the server's.
        SSL_CTX_set_security_level(native, 0);
        SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
        SSL_CTX_set_min_proto_version(native, TLS1_VERSION);
        SSL_CTX_set_max_proto_version(native, opts.max_tls_version);
      } else {
        ctx_.set_verify_mode(ssl::verify_peer);
        ctx_.load_verify_file(opts.ca.string());
      }
    }
    stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, ctx_);
    if (tls_ && opts.max_tls_version == 0)
      stream_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    lowest().expires_after(io_deadline);
    lowest().connect(tcp::endpoint(net::ip::address_v4::loopback(), port));
    if (tls_) stream_->handshake(ssl::stream_base::client);
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(*stream_); }

  void send(const bhttp::request<bhttp::string_body>& req) {
    lowest().expires_after(io_deadline);
    if (tls_)
      bhttp::write(*stream_, req);
    else
      bhttp::write(lowest(), req);
  }

  void send_raw(const std::string& bytes) {
    lowest().expires_after(io_deadline);
    if (tls_)
      net::write(*stream_, net::buffer(bytes));
    else
      net::write(lowest(), net::buffer(bytes));
  }

  client_response receive() {
    client_response res;
    lowest().expires_after(io_deadline);
    if (tls_)
      bhttp::read(*stream_, buffer_, res);
    else
      bhttp::read(lowest(), buffer_, res);
    return res;
  }

  client_response exchange(const bhttp::request<bhttp::string_body>& req) {
    send(req);
    return receive();
  }

  // True when the server has closed the connection: a read ends without data.
  bool closed_by_server() {
    char byte;
    beast::error_code ec;
    lowest().expires_after(io_deadline);
    if (tls_)
      stream_->read_some(net::buffer(&byte, 1), ec);
    else
      lowest().read_some(net::buffer(&byte, 1), ec);
    return ec && ec != beast::error::timeout;
  }

  void close() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

 private:
  net::io_context ioc_;
  ssl::context ctx_;
  bool tls_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

nlohmann::json body_json(const client_response& res) {
  return nlohmann::json::parse(res.body());
}

void check_problem(const client_response& res, int status) {
  BOOST_TEST(res.result_int() == static_cast<unsigned>(status));
  BOOST_TEST(header_of(res, "Content-Type") == "application/problem+json");
  auto doc = body_json(res);
  BOOST_TEST(doc.size() == 4u);
  BOOST_TEST(doc.at("type").is_string());
  BOOST_TEST(doc.at("title").is_string());
  BOOST_TEST(doc.at("status").get<int>() == status);
  BOOST_TEST(doc.at("detail").is_string());
}

// A server on 127.0.0.1 with an ephemeral port and a freshly generated self-signed pair.
struct server_fixture {
  mext::test::temp_dir dir;
  fs::path cert;
  fs::path key;
  std::shared_ptr<mh::router> routes = std::make_shared<mh::router>();
  std::unique_ptr<mh::server> srv;

  server_fixture() {
    auto err = mh::ensure_self_signed(dir.path(), cert, key);
    BOOST_REQUIRE_MESSAGE(!err, mext::detail_of(err));
  }

  void start(mh::server_settings s = {}) {
    s.host = "127.0.0.1";
    s.port = 0;
    if (!s.plain_http) {
      s.tls_cert = cert;
      s.tls_key = key;
    }
    s.io_threads = 2;
    srv = std::make_unique<mh::server>(s, routes);
    auto err = srv->start();
    BOOST_REQUIRE_MESSAGE(!err, mext::detail_of(err));
    BOOST_REQUIRE(srv->port() != 0);
  }

  client connect(int max_tls_version = 0) {
    return client(srv->port(), client::options{true, cert, max_tls_version});
  }

  void add_echo_route() {
    routes->add("GET", "/api/v1/booths/{id}/content", [](mh::request& req, mh::respond_fn respond) {
      nlohmann::json doc = {{"id", req.params.at("id")},
                            {"kind", req.query_param("kind").value_or("")},
                            {"accept", req.header("ACCEPT").value_or("")}};
      respond(mh::json(200, doc.dump()));
    });
  }
};

bool is_hex32(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Redirects stderr (where mext::log writes) into a file for the lifetime of the object.
class stderr_capture {
 public:
  explicit stderr_capture(fs::path file) : file_(std::move(file)) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(file_.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~stderr_capture() { restore(); }
  std::string text() {
    restore();
    std::ifstream in(file_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  fs::path file_;
  int saved_ = -1;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(server_behaviour, server_fixture)

BOOST_AUTO_TEST_CASE(a_route_answers_with_its_params_a_request_id_and_the_security_headers) {
  add_echo_route();
  start();
  auto c = connect();
  auto req = make_request(bhttp::verb::get, "/api/v1/booths/b%2042/content?kind=poster&x=1");
  req.set(bhttp::field::accept, "application/json");
  auto res = c.exchange(req);
  BOOST_TEST(res.result_int() == 200u);
  BOOST_TEST(header_of(res, "Content-Type") == "application/json");
  auto doc = body_json(res);
  BOOST_TEST(doc.at("id").get<std::string>() == "b 42");
  BOOST_TEST(doc.at("kind").get<std::string>() == "poster");
  BOOST_TEST(doc.at("accept").get<std::string>() == "application/json");
  BOOST_TEST(is_hex32(header_of(res, "X-Request-Id")));
  BOOST_TEST(header_of(res, "Strict-Transport-Security").find("max-age=") == 0u);
  BOOST_TEST(header_of(res, "X-Content-Type-Options") == "nosniff");
  BOOST_TEST(header_of(res, "Content-Security-Policy") ==
             "default-src 'none'; frame-ancestors 'none'");
  BOOST_TEST(header_of(res, "Referrer-Policy") == "no-referrer");
  BOOST_TEST(header_of(res, "Cache-Control") == "no-store");
}

BOOST_AUTO_TEST_CASE(a_valid_incoming_request_id_is_echoed_and_an_invalid_one_replaced) {
  add_echo_route();
  start();
  auto c = connect();
  auto req = make_request(bhttp::verb::get, "/api/v1/booths/1/content");
  req.set("X-Request-Id", "client-id_42");
  BOOST_TEST(header_of(c.exchange(req), "X-Request-Id") == "client-id_42");
  req.set("X-Request-Id", "has spaces; and=more");
  BOOST_TEST(is_hex32(header_of(c.exchange(req), "X-Request-Id")));
  req.set("X-Request-Id", std::string(65, 'a'));
  BOOST_TEST(is_hex32(header_of(c.exchange(req), "X-Request-Id")));
}

BOOST_AUTO_TEST_CASE(a_handler_answering_later_from_another_thread_is_delivered) {
  std::promise<mh::respond_fn> handed_over;
  routes->add("POST", "/api/v1/slow/{id}", [&](mh::request& req, mh::respond_fn respond) {
    BOOST_TEST(req.body == R"({"x":1})");
    handed_over.set_value(std::move(respond));
  });
  start();
  std::thread answerer([&] {
    auto respond = handed_over.get_future().get();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    respond(mh::json(201, R"({"late":true})"));
    respond(mh::json(500, R"({"second":"ignored"})"));
  });
  auto c = connect();
  auto res = c.exchange(make_request(bhttp::verb::post, "/api/v1/slow/7", R"({"x":1})"));
  answerer.join();
  BOOST_TEST(res.result_int() == 201u);
  BOOST_TEST(res.body() == R"({"late":true})");
  BOOST_TEST(is_hex32(header_of(res, "X-Request-Id")));
}

BOOST_AUTO_TEST_CASE(an_unknown_path_is_a_404_problem_with_the_four_fields) {
  add_echo_route();
  start();
  auto c = connect();
  auto res = c.exchange(make_request(bhttp::verb::get, "/api/v1/nothing/here"));
  check_problem(res, 404);
  BOOST_TEST(body_json(res).at("type").get<std::string>() == "about:blank");
  BOOST_TEST(is_hex32(header_of(res, "X-Request-Id")));
  BOOST_TEST(header_of(res, "X-Content-Type-Options") == "nosniff");
}

BOOST_AUTO_TEST_CASE(a_known_path_with_a_wrong_method_is_a_405_with_allow) {
  add_echo_route();
  routes->add("PUT", "/api/v1/booths/{id}/content",
              [](mh::request&, mh::respond_fn respond) { respond(mh::json(200, "{}")); });
  start();
  auto c = connect();
  auto res = c.exchange(make_request(bhttp::verb::delete_, "/api/v1/booths/9/content"));
  check_problem(res, 405);
  BOOST_TEST(header_of(res, "Allow") == "GET, PUT");
}

BOOST_AUTO_TEST_CASE(a_body_over_the_limit_is_a_413_problem) {
  routes->add("POST", "/api/v1/files",
              [](mh::request&, mh::respond_fn respond) { respond(mh::json(201, "{}")); });
  mh::server_settings s;
  s.max_body_bytes = 1024;
  start(s);
  auto c = connect();
  auto res = c.exchange(make_request(bhttp::verb::post, "/api/v1/files", std::string(4096, 'x')));
  check_problem(res, 413);
  BOOST_TEST(c.closed_by_server());
  // A body at the limit still passes.
  auto c2 = connect();
  auto ok = c2.exchange(make_request(bhttp::verb::post, "/api/v1/files", std::string(1024, 'x')));
  BOOST_TEST(ok.result_int() == 201u);
}

BOOST_AUTO_TEST_CASE(a_route_with_its_own_body_limit_is_held_to_it_and_others_to_the_server_s) {
  auto created = [](mh::request&, mh::respond_fn respond) { respond(mh::json(201, "{}")); };
  routes->add("POST", "/api/v1/files", created, 8192);
  routes->add("POST", "/api/v1/rooms", created);
  mh::server_settings s;
  s.max_body_bytes = 1024;
  start(s);
  auto post = [&](const char* path, std::size_t bytes) {
    auto c = connect();
    return c.exchange(make_request(bhttp::verb::post, path, std::string(bytes, 'x')));
  };
  BOOST_TEST(post("/api/v1/files", 8192).result_int() == 201u);
  check_problem(post("/api/v1/files", 8193), 413);
  BOOST_TEST(post("/api/v1/rooms", 1024).result_int() == 201u);
  auto refused = post("/api/v1/rooms", 2048);
  check_problem(refused, 413);
  BOOST_TEST(body_json(refused).at("detail").get<std::string>().find("1024") != std::string::npos);

  // A chunked body declares no length: it is cut off at the route's limit as it arrives.
  auto c = connect();
  std::string chunk(1000, 'y');
  std::ostringstream raw;
  raw << "POST /api/v1/rooms HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) raw << std::hex << chunk.size() << "\r\n" << chunk << "\r\n";
  raw << "0\r\n\r\n";
  c.send_raw(raw.str());
  check_problem(c.receive(), 413);
}

BOOST_AUTO_TEST_CASE(headers_over_the_limit_are_a_431_problem) {
  add_echo_route();
  start();
  auto c = connect();
  auto req = make_request(bhttp::verb::get, "/api/v1/booths/1/content");
  req.set("X-Padding", std::string(20 * 1024, 'p'));
  check_problem(c.exchange(req), 431);
}

BOOST_AUTO_TEST_CASE(a_garbage_request_line_is_a_400_and_the_server_answers_the_next_connection) {
  add_echo_route();
  start();
  {
    auto c = connect();
    c.send_raw("HELLO\x01 WORLD\r\n\r\n");
    check_problem(c.receive(), 400);
    BOOST_TEST(c.closed_by_server());
  }
  auto c = connect();
  BOOST_TEST(c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/2/content")).result_int() ==
             200u);
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_two_requests_on_one_connection) {
  add_echo_route();
  start();
  auto c = connect();
  auto first = c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/1/content"));
  BOOST_TEST(first.result_int() == 200u);
  BOOST_TEST(first.keep_alive());
  auto second = c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/2/content"));
  BOOST_TEST(second.result_int() == 200u);
  BOOST_TEST(body_json(second).at("id").get<std::string>() == "2");
  BOOST_TEST(header_of(first, "X-Request-Id") != header_of(second, "X-Request-Id"));
}

BOOST_AUTO_TEST_CASE(a_client_stalling_mid_request_is_disconnected_by_the_read_timeout) {
  add_echo_route();
  mh::server_settings s;
  s.read_timeout = std::chrono::seconds(1);
  start(s);
  auto c = connect();
  c.send_raw("GET /api/v1/booths/1/content HTTP/1.1\r\nHost: loc");
  BOOST_TEST(c.closed_by_server());
}

// The server's TLS stream hands OpenSSL the socket itself: a body and an answer of many records
// each arrive whole and in order, and the connection goes on to serve the next request.
BOOST_AUTO_TEST_CASE(a_body_and_an_answer_of_many_tls_records_arrive_whole) {
  routes->add(
      "POST", "/api/v1/reverse",
      [](mh::request& req, mh::respond_fn respond) {
        mh::response r;
        r.content_type = "application/octet-stream";
        r.body.assign(req.body.rbegin(), req.body.rend());
        respond(std::move(r));
      },
      std::size_t{2} << 20);
  add_echo_route();
  start();
  std::string body(std::size_t{1} << 20, '\0');
  uint32_t x = 12345;
  for (auto& c : body) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  auto c = connect();
  auto res = c.exchange(make_request(bhttp::verb::post, "/api/v1/reverse", body));
  BOOST_TEST(res.result_int() == 200u);
  BOOST_REQUIRE(res.body().size() == body.size());
  BOOST_TEST((res.body() == std::string(body.rbegin(), body.rend())));
  auto next = c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/9/content"));
  BOOST_TEST(next.result_int() == 200u);
  BOOST_TEST(body_json(next).at("id") == "9");
}

// A write blocked by a client that no longer reads is bounded by the read timeout too: the
// server gives the connection up instead of holding it and its answer.
BOOST_AUTO_TEST_CASE(a_tls_client_that_stops_reading_an_answer_is_cut_at_the_read_timeout) {
  routes->add("GET", "/api/v1/large", [](mh::request&, mh::respond_fn respond) {
    mh::response r;
    r.content_type = "application/octet-stream";
    r.body.assign(std::size_t{64} << 20, 'x');  // far beyond what loopback's buffers hold
    respond(std::move(r));
  });
  mh::server_settings s;
  s.read_timeout = std::chrono::seconds(1);
  start(s);
  auto c = connect();
  c.send(make_request(bhttp::verb::get, "/api/v1/large"));
  auto gone_by = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (srv->open_connections() > 0 && std::chrono::steady_clock::now() < gone_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_TEST(srv->open_connections() == 0u);
}

BOOST_AUTO_TEST_CASE(an_idle_keep_alive_connection_is_closed_by_the_idle_timeout) {
  add_echo_route();
  mh::server_settings s;
  s.idle_timeout = std::chrono::seconds(1);
  start(s);
  auto c = connect();
  BOOST_TEST(c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/1/content")).keep_alive());
  BOOST_TEST(c.closed_by_server());
}

BOOST_AUTO_TEST_CASE(a_tls_1_1_client_is_refused_and_a_tls_1_2_client_accepted) {
  add_echo_route();
  start();
  BOOST_CHECK_THROW(connect(TLS1_1_VERSION), boost::system::system_error);
  auto c = connect(TLS1_2_VERSION);
  BOOST_TEST(c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/3/content")).result_int() ==
             200u);
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_is_a_500_problem_and_the_server_keeps_serving) {
  add_echo_route();
  routes->add("GET", "/api/v1/boom",
              [](mh::request&, mh::respond_fn) -> void { throw std::runtime_error("boom"); });
  start();
  auto c = connect();
  check_problem(c.exchange(make_request(bhttp::verb::get, "/api/v1/boom")), 500);
  auto c2 = connect();
  BOOST_TEST(c2.exchange(make_request(bhttp::verb::get, "/api/v1/booths/4/content")).result_int() ==
             200u);
}

BOOST_AUTO_TEST_CASE(a_handler_that_drops_its_respond_fn_answers_500) {
  routes->add("GET", "/api/v1/forgetful", [](mh::request&, mh::respond_fn) {});
  start();
  auto c = connect();
  check_problem(c.exchange(make_request(bhttp::verb::get, "/api/v1/forgetful")), 500);
}

BOOST_AUTO_TEST_CASE(responding_after_the_connection_or_the_server_closed_is_harmless) {
  add_echo_route();
  std::promise<mh::respond_fn> first;
  std::promise<mh::respond_fn> second;
  int calls = 0;
  routes->add("GET", "/api/v1/held", [&](mh::request&, mh::respond_fn respond) {
    (calls++ == 0 ? first : second).set_value(std::move(respond));
  });
  start();

  // The client goes away while its request waits for the handler.
  {
    auto c = connect();
    c.send(make_request(bhttp::verb::get, "/api/v1/held"));
    auto respond = first.get_future().get();
    c.close();
    respond(mh::json(200, "{}"));
  }
  auto c = connect();
  BOOST_TEST(c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/5/content")).result_int() ==
             200u);

  // The server stops (and is destroyed) while a request waits for the handler.
  std::thread waiting_client([this] {
    try {
      auto held = connect();
      held.send(make_request(bhttp::verb::get, "/api/v1/held"));
      held.receive();
    } catch (const std::exception&) {
      // The server closed the connection: expected.
    }
  });
  auto respond = second.get_future().get();
  srv->stop();
  srv.reset();
  respond(mh::json(200, "{}"));
  waiting_client.join();
}

BOOST_AUTO_TEST_CASE(the_request_log_names_the_route_pattern_and_no_path_query_or_address) {
  add_echo_route();
  start();
  std::string text;
  {
    stderr_capture capture(dir.path() / "stderr.log");
    auto c = connect();
    auto req = make_request(bhttp::verb::get, "/api/v1/booths/secret-id-42/content?kind=qsecret");
    req.set("X-Request-Id", "log-check-1");
    BOOST_TEST(c.exchange(req).result_int() == 200u);
    // The first request's line is written before its connection reads the second request.
    BOOST_TEST(
        c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/1/content")).result_int() ==
        200u);
    text = capture.text();
  }
  std::string line;
  std::istringstream lines(text);
  nlohmann::json entry;
  while (std::getline(lines, line)) {
    auto doc = nlohmann::json::parse(line, nullptr, false);
    if (!doc.is_discarded() && doc.value("request_id", "") == "log-check-1") entry = doc;
  }
  BOOST_REQUIRE(entry.is_object());
  BOOST_TEST(entry.at("event").get<std::string>() == "http.request");
  BOOST_TEST(entry.at("method").get<std::string>() == "GET");
  BOOST_TEST(entry.at("route").get<std::string>() == "/api/v1/booths/{id}/content");
  BOOST_TEST(entry.at("status").get<int>() == 200);
  BOOST_TEST(entry.contains("duration_us"));
  BOOST_TEST(text.find("secret-id-42") == std::string::npos);
  BOOST_TEST(text.find("qsecret") == std::string::npos);
  BOOST_TEST(text.find("127.0.0.1") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(plain_http_on_loopback_serves_without_hsts) {
  add_echo_route();
  mh::server_settings s;
  s.plain_http = true;
  start(s);
  client c(srv->port(), client::options{false, {}, 0});
  auto res = c.exchange(make_request(bhttp::verb::get, "/api/v1/booths/6/content"));
  BOOST_TEST(res.result_int() == 200u);
  BOOST_TEST(header_of(res, "Strict-Transport-Security").empty());
  BOOST_TEST(header_of(res, "X-Content-Type-Options") == "nosniff");
}

BOOST_AUTO_TEST_SUITE_END()

// With a cap of two already reached by two served connections: the third is accepted by the
// kernel, then closed by the server before it reads a byte (one more in `refused`); the two keep
// being served, and one that ends makes room for a newcomer.
void check_cap_of_two(mh::server& srv, const std::function<uint64_t()>& refused) {
  client::options plain{false, {}, 0};
  auto first = std::make_unique<client>(srv.port(), plain);
  client second(srv.port(), plain);
  BOOST_TEST(
      first->exchange(make_request(bhttp::verb::get, "/api/v1/booths/1/content")).result_int() ==
      200u);
  BOOST_TEST(
      second.exchange(make_request(bhttp::verb::get, "/api/v1/booths/2/content")).result_int() ==
      200u);
  client third(srv.port(), plain);
  BOOST_TEST(third.closed_by_server());
  BOOST_TEST(refused() == 1u);
  BOOST_TEST(srv.open_connections() == 2u);
  BOOST_TEST(
      second.exchange(make_request(bhttp::verb::get, "/api/v1/booths/3/content")).result_int() ==
      200u);
  first->close();
  first.reset();
  auto gone_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (srv.open_connections() > 1 && std::chrono::steady_clock::now() < gone_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_REQUIRE(srv.open_connections() == 1u);
  client fourth(srv.port(), plain);
  BOOST_TEST(
      fourth.exchange(make_request(bhttp::verb::get, "/api/v1/booths/4/content")).result_int() ==
      200u);
  BOOST_TEST(refused() == 1u);
}

BOOST_FIXTURE_TEST_CASE(connections_beyond_max_connections_are_closed_and_room_is_made_again,
                        server_fixture) {
  add_echo_route();
  mh::server_settings s;
  s.plain_http = true;
  s.max_connections = 2;
  start(s);
  check_cap_of_two(*srv, [this] { return srv->refused_connections(); });
  BOOST_TEST(srv->refused_per_address_connections() == 0u);
}

BOOST_FIXTURE_TEST_CASE(connections_beyond_the_per_address_cap_are_closed_and_others_kept,
                        server_fixture) {
  add_echo_route();
  mh::server_settings s;
  s.plain_http = true;
  s.max_connections_per_address = 2;  // and loopback not exempt, so that this test can reach it
  start(s);
  check_cap_of_two(*srv, [this] { return srv->refused_per_address_connections(); });
  BOOST_TEST(srv->refused_connections() == 0u);
}

BOOST_FIXTURE_TEST_CASE(an_exempt_address_is_not_capped_per_address, server_fixture) {
  add_echo_route();
  mh::server_settings s;
  s.plain_http = true;
  s.max_connections_per_address = 1;
  s.per_address_exempt = {"127.0.0.0/8"};
  start(s);
  client::options plain{false, {}, 0};
  client first(srv->port(), plain);
  client second(srv->port(), plain);
  client third(srv->port(), plain);
  for (auto* c : {&first, &second, &third})
    BOOST_TEST(
        c->exchange(make_request(bhttp::verb::get, "/api/v1/booths/1/content")).result_int() ==
        200u);
  BOOST_TEST(srv->refused_per_address_connections() == 0u);
  BOOST_TEST(srv->open_connections() == 3u);
}

BOOST_AUTO_TEST_CASE(plain_http_on_0_0_0_0_is_refused_by_start) {
  mh::server_settings s;
  s.host = "0.0.0.0";
  s.port = 0;
  s.plain_http = true;
  mh::server srv(s, std::make_shared<mh::router>());
  auto err = srv.start();
  BOOST_REQUIRE(err);
  BOOST_TEST((mext::code_of(err) == mext::errc::invalid_argument));
  BOOST_TEST(mext::detail_of(err).find("loopback") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_port_already_in_use_is_a_start_error) {
  mext::test::temp_dir dir;
  fs::path cert, key;
  BOOST_REQUIRE(!mh::ensure_self_signed(dir.path(), cert, key));
  mh::server_settings s;
  s.port = 0;
  s.tls_cert = cert;
  s.tls_key = key;
  s.io_threads = 1;
  auto routes = std::make_shared<mh::router>();
  mh::server first(s, routes);
  BOOST_REQUIRE(!first.start());
  s.port = first.port();
  mh::server second(s, routes);
  auto err = second.start();
  BOOST_TEST((mext::code_of(err) == mext::errc::invalid_argument));
  BOOST_TEST(mext::detail_of(err).find("bind") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_router_prefers_literal_segments_and_lists_its_routes) {
  mh::router r;
  auto noop = [](mh::request&, mh::respond_fn) {};
  r.add("GET", "/api/v1/me/agenda", noop);
  r.add("GET", "/api/v1/me/{part}", noop);
  r.add("POST", "/api/v1/rooms/{id}/messages", noop);
  auto literal = r.find("GET", "/api/v1/me/agenda");
  BOOST_TEST(literal.pattern == "/api/v1/me/agenda");
  auto param = r.find("GET", "/api/v1/me/profile");
  BOOST_TEST(param.pattern == "/api/v1/me/{part}");
  BOOST_TEST(param.params.at("part") == "profile");
  BOOST_TEST(r.find("GET", "/api/v1/rooms//messages").status == 404);
  BOOST_TEST(r.find("GET", "/api/v1/me/agenda/").status == 404);
  BOOST_CHECK_THROW(r.add("GET", "/api/v1/me/{other}", noop), std::invalid_argument);
  BOOST_CHECK_THROW(r.add("GET", "/api/v1/x/{a}/{a}", noop), std::invalid_argument);
  auto listed = r.routes();
  BOOST_REQUIRE(listed.size() == 3u);
  BOOST_TEST(listed[2].first == "POST");
  BOOST_TEST(listed[2].second == "/api/v1/rooms/{id}/messages");
}

BOOST_AUTO_TEST_CASE(problem_and_from_error_build_rfc_9457_documents) {
  auto p = mh::problem(409, "Conflict", "bad \xff byte");
  BOOST_TEST(p.content_type == "application/problem+json");
  auto doc = nlohmann::json::parse(p.body);
  BOOST_TEST(doc.at("status").get<int>() == 409);
  auto e = mh::from_error(mext::make_error(mext::errc::not_found, "no such booth"));
  BOOST_TEST(e.status == 404);
  auto edoc = nlohmann::json::parse(e.body);
  BOOST_TEST(edoc.at("title").get<std::string>() == "Not Found");
  BOOST_TEST(edoc.at("detail").get<std::string>() == "no such booth");
  BOOST_TEST(edoc.at("type").get<std::string>() == "about:blank");
}

BOOST_AUTO_TEST_CASE(the_self_signed_pair_is_created_once_with_a_private_key_file) {
  mext::test::temp_dir dir;
  fs::path cert, key;
  auto err = mh::ensure_self_signed(dir.path(), cert, key);
  BOOST_REQUIRE_MESSAGE(!err, mext::detail_of(err));
  BOOST_TEST(cert == dir.path() / "tls" / "cert.pem");
  BOOST_TEST(key == dir.path() / "tls" / "key.pem");
  struct stat st {};
  BOOST_REQUIRE(::stat(key.c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  auto read = [](const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string first_cert = read(cert);
  BOOST_TEST(first_cert.find("BEGIN CERTIFICATE") != std::string::npos);
  fs::path cert2, key2;
  BOOST_REQUIRE(!mh::ensure_self_signed(dir.path(), cert2, key2));
  BOOST_TEST(read(cert2) == first_cert);
}

// ---- settings ----

namespace {

caf::expected<mh::mextd_settings> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "mextd");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return mh::parse_settings(static_cast<int>(args.size()), argv.data());
}

}  // namespace

BOOST_AUTO_TEST_CASE(settings_have_the_documented_defaults) {
  auto s = parse({"--data-dir", "/tmp/d"});
  BOOST_REQUIRE_MESSAGE(s, mext::detail_of(s.error()));
  BOOST_TEST(s->data_dir == fs::path("/tmp/d"));
  BOOST_TEST(s->listen_host == "127.0.0.1");
  BOOST_TEST(s->listen_port == 8443);
  BOOST_TEST(!s->plain_http);
  BOOST_TEST(!s->demo);
  BOOST_TEST(!s->help);
  BOOST_TEST(s->tls_cert.empty());
  BOOST_TEST(s->io_threads == 0u);
  BOOST_TEST(s->actor_threads == 0u);
  BOOST_TEST(s->scheduler == "sharing");
  BOOST_TEST(s->max_body_bytes == 1024u * 1024u);
  BOOST_TEST(s->http_read_timeout_s == 15u);
  BOOST_TEST(s->http_idle_timeout_s == 60u);
  auto server = mh::to_server_settings(*s);
  BOOST_TEST(server.read_timeout.count() == 15);
  BOOST_TEST(server.idle_timeout.count() == 60);
  BOOST_TEST(s->max_connections == 19000u);
  BOOST_TEST(server.max_connections == 19000u);
  BOOST_TEST(server.max_connections_per_address == 512u);
  // Loopback is never capped per address: the operator's own host and a local proxy.
  BOOST_TEST((server.per_address_exempt == std::vector<std::string>{"127.0.0.0/8", "::1"}));
  BOOST_TEST(s->commit_batch_max == 1024u);
  BOOST_TEST(s->commit_max_wait_us == 0u);
  BOOST_TEST(s->snapshot_every == 100u);
  BOOST_TEST(s->idle_passivate_ms == 60000u);
  BOOST_TEST(s->map_size_mb == 64u);
  BOOST_TEST(s->map_max_mb == 1048576u);
  BOOST_TEST((s->log_level == mext::log::level::info));
}

BOOST_AUTO_TEST_CASE(a_config_file_sets_values_and_flags_override_it) {
  mext::test::temp_dir dir;
  const auto file = dir.path() / "mextd.conf";
  {
    std::ofstream out(file);
    out << "# mextd settings\n"
        << "data-dir = data\n"
        << "listen = [::1]:9443   # loopback v6\n"
        << "plain-http = true\n"
        << "snapshot-every = 7\n"
        << "log-level = debug\n"
        << "\n"
        << "map-size-mb = 128\n";
  }
  auto s = parse({"--config", file.string(), "--snapshot-every", "9", "--demo"});
  BOOST_REQUIRE_MESSAGE(s, mext::detail_of(s.error()));
  BOOST_TEST(s->data_dir == dir.path() / "data");
  BOOST_TEST(s->listen_host == "::1");
  BOOST_TEST(s->listen_port == 9443);
  BOOST_TEST(s->plain_http);
  BOOST_TEST(s->snapshot_every == 9u);
  BOOST_TEST(s->map_size_mb == 128u);
  BOOST_TEST(s->demo);
  BOOST_TEST((s->log_level == mext::log::level::debug));
  BOOST_TEST(s->config_file == file);
}

BOOST_AUTO_TEST_CASE(bad_flags_are_invalid_argument_errors_naming_the_flag) {
  auto unknown = parse({"--data-dir", "d", "--frobnicate", "3"});
  BOOST_REQUIRE(!unknown);
  BOOST_TEST((mext::code_of(unknown.error()) == mext::errc::invalid_argument));
  BOOST_TEST(mext::detail_of(unknown.error()).find("--frobnicate") != std::string::npos);

  auto not_number = parse({"--data-dir", "d", "--io-threads", "four"});
  BOOST_REQUIRE(!not_number);
  BOOST_TEST(mext::detail_of(not_number.error()).find("--io-threads") != std::string::npos);

  auto policy = parse({"--data-dir", "d", "--scheduler", "round-robin"});
  BOOST_REQUIRE(!policy);
  BOOST_TEST(mext::detail_of(policy.error()).find("--scheduler") != std::string::npos);
  auto stealing = parse({"--data-dir", "d", "--scheduler", "stealing", "--actor-threads", "1"});
  BOOST_REQUIRE(stealing);
  BOOST_TEST(stealing->scheduler == "stealing");
  BOOST_TEST(stealing->actor_threads == 1u);

  auto missing = parse({"--data-dir", "d", "--map-max-mb"});
  BOOST_REQUIRE(!missing);
  BOOST_TEST(mext::detail_of(missing.error()).find("--map-max-mb") != std::string::npos);

  auto no_dir = parse({"--listen", "127.0.0.1:1"});
  BOOST_REQUIRE(!no_dir);
  BOOST_TEST(mext::detail_of(no_dir.error()).find("--data-dir") != std::string::npos);

  auto bad_listen = parse({"--data-dir", "d", "--listen", "::1:8443"});
  BOOST_REQUIRE(!bad_listen);
  BOOST_TEST(mext::detail_of(bad_listen.error()).find("--listen") != std::string::npos);

  auto plain_public = parse({"--data-dir", "d", "--listen", "0.0.0.0:80", "--plain-http"});
  BOOST_REQUIRE(!plain_public);
  BOOST_TEST(mext::detail_of(plain_public.error()).find("--plain-http") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(account_settings_and_trusted_proxies_are_flags) {
  auto defaults = parse({"--data-dir", "d"});
  BOOST_REQUIRE(defaults);
  BOOST_TEST(defaults->session_absolute_s == 12u * 3600u);
  BOOST_TEST(defaults->session_idle_s == 2u * 3600u);
  BOOST_TEST(defaults->login_free_failures == 5u);
  BOOST_TEST(defaults->login_ip_free_failures == 20u);
  BOOST_TEST(defaults->login_first_delay_s == 1u);
  BOOST_TEST(defaults->login_max_delay_s == 900u);
  BOOST_TEST(defaults->trusted_proxies.empty());
  BOOST_TEST(defaults->common_passwords_file.empty());
  BOOST_TEST(defaults->booth_list_cache_entries == 4096u);
  BOOST_TEST(defaults->max_json_bytes == 256u * 1024u);
  BOOST_TEST(defaults->max_json_depth == 16u);
  BOOST_TEST(defaults->actor_timeout_s == 10u);

  auto s = parse({"--data-dir",
                  "d",
                  "--session-absolute-s",
                  "3600",
                  "--session-idle-s",
                  "600",
                  "--login-free-failures",
                  "3",
                  "--login-ip-free-failures",
                  "50",
                  "--login-first-delay-s",
                  "2",
                  "--login-max-delay-s",
                  "60",
                  "--trusted-proxies",
                  "10.0.0.1, 192.168.0.0/16,fd00::/8",
                  "--common-passwords-file",
                  "/etc/pw.txt",
                  "--booth-list-cache-entries",
                  "0",
                  "--max-json-bytes",
                  "1000",
                  "--max-json-depth",
                  "4",
                  "--actor-timeout-s",
                  "30"});
  BOOST_REQUIRE_MESSAGE(s, mext::detail_of(s.error()));
  BOOST_TEST(s->session_absolute_s == 3600u);
  BOOST_TEST(s->session_idle_s == 600u);
  BOOST_TEST(s->login_free_failures == 3u);
  BOOST_TEST(s->login_ip_free_failures == 50u);
  BOOST_TEST(s->login_first_delay_s == 2u);
  BOOST_TEST(s->login_max_delay_s == 60u);
  BOOST_TEST(s->trusted_proxies ==
             (std::vector<std::string>{"10.0.0.1", "192.168.0.0/16", "fd00::/8"}));
  BOOST_TEST(s->common_passwords_file == fs::path("/etc/pw.txt"));
  BOOST_TEST(s->booth_list_cache_entries == 0u);
  BOOST_TEST(s->max_json_bytes == 1000u);
  BOOST_TEST(s->max_json_depth == 4u);
  BOOST_TEST(s->actor_timeout_s == 30u);

  for (const char* bad : {"10.0.0.300", "10.0.0.0/33", "proxy.example", "::1/129"}) {
    auto r = parse({"--data-dir", "d", "--trusted-proxies", bad});
    BOOST_REQUIRE(!r);
    BOOST_TEST(mext::detail_of(r.error()).find("--trusted-proxies") != std::string::npos, bad);
  }
  auto inverted =
      parse({"--data-dir", "d", "--login-first-delay-s", "100", "--login-max-delay-s", "10"});
  BOOST_REQUIRE(!inverted);
  BOOST_TEST(mext::detail_of(inverted.error()).find("--login-max-delay-s") != std::string::npos);
  auto short_session = parse({"--data-dir", "d", "--session-idle-s", "5"});
  BOOST_REQUIRE(!short_session);
  BOOST_TEST(mext::detail_of(short_session.error()).find("--session-idle-s") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(help_lists_every_flag) {
  auto s = parse({"--help"});
  BOOST_REQUIRE(s);
  BOOST_TEST(s->help);
  const std::string text = mh::usage();
  for (const char* flag : {"--data-dir",
                           "--listen",
                           "--tls-cert",
                           "--tls-key",
                           "--plain-http",
                           "--demo",
                           "--help",
                           "--config",
                           "--log-level",
                           "--io-threads",
                           "--max-body-bytes",
                           "--commit-batch-max",
                           "--commit-max-wait-us",
                           "--snapshot-every",
                           "--idle-passivate-ms",
                           "--map-size-mb",
                           "--map-max-mb",
                           "--session-absolute-s",
                           "--session-idle-s",
                           "--login-free-failures",
                           "--login-ip-free-failures",
                           "--login-first-delay-s",
                           "--login-max-delay-s",
                           "--trusted-proxies",
                           "--common-passwords-file",
                           "--booth-list-cache-entries",
                           "--max-json-bytes",
                           "--max-json-depth",
                           "--actor-timeout-s"})
    BOOST_TEST(text.find(flag) != std::string::npos, flag);
  BOOST_TEST(text.find("127.0.0.1:8443") != std::string::npos);
  BOOST_TEST(text.find("1048576") != std::string::npos);
}
