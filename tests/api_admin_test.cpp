#define BOOST_TEST_MODULE api_admin
#include <boost/test/unit_test.hpp>

// Operations of the API through a real TLS server: actor inspection (/admin/actors), masking and
// audited reveals, GET /metrics and who may read it, and the per-address rate limit.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/ssl.h>
#include <nlohmann/json.hpp>

#include "actors/connection_log_actor.hpp"
#include "http/edge_guard.hpp"
#include "http/metrics.hpp"
#include "persistence/lmdb_store.hpp"
#include "tests/support/api_fixture.hpp"

namespace {

using mext::test::api_fixture;
using mext::test::api_fixture_options;
using mext::test::http_result;
using njson = nlohmann::json;

// -- a TLS client bound to a chosen local address ---------------------------------------------
// Every loopback address reaches a server on 127.0.0.1, so 127.0.0.2 is "another client" to the
// per-address rate limit. https_client always speaks from 127.0.0.1.

struct raw_reply {
  int status = 0;
  std::string head;
  std::string body;
};

raw_reply raw_get(uint16_t port, const std::string& target, const char* source) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket");
  std::unique_ptr<int, void (*)(int*)> closer{&fd, [](int* f) { ::close(*f); }};
  timeval tv{10, 0};  // only so that a broken server fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0)
    throw std::runtime_error("bind to " + std::string{source});
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
  const std::string req =
      "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (SSL_write(ssl.get(), req.data(), static_cast<int>(req.size())) <= 0)
    throw std::runtime_error("TLS write");
  std::string all;
  char buf[16384];
  for (int n; (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0;) all.append(buf, n);
  raw_reply out;
  auto end = all.find("\r\n\r\n");
  if (all.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos)
    throw std::runtime_error("no HTTP answer");
  out.status = std::stoi(all.substr(9, 3));
  out.head = all.substr(0, end);
  out.body = all.substr(end + 4);
  return out;
}

// -- fixtures ---------------------------------------------------------------------------------

api_fixture_options with_edge(mext::http::edge_guard_settings guard,
                              mext::http::metrics_settings metrics) {
  api_fixture_options o;
  // The routes read a->guard and a->metrics per request; they are set before the server starts.
  o.extra_routes = [guard, metrics](mext::http::router&, std::shared_ptr<mext::http::api> a) {
    a->guard = std::make_shared<mext::http::edge_guard>(guard);
    a->metrics = std::make_shared<mext::http::metrics_registry>(metrics);
  };
  return o;
}

mext::http::edge_guard_settings no_rate_limit() {
  mext::http::edge_guard_settings s;
  s.requests_per_second = 0;
  return s;
}

struct admin_fixture : api_fixture {
  admin_fixture() : api_fixture(with_edge(no_rate_limit(), {})) {}
};

// /metrics without the loopback exemption: only administrators.
struct strict_metrics_fixture : api_fixture {
  strict_metrics_fixture() : api_fixture(with_edge(no_rate_limit(), {false})) {}
};

// A bucket of 10 that refills one token in 100 s: a burst of 30 requests always runs dry.
struct rate_limited_fixture : api_fixture {
  static mext::http::edge_guard_settings tight() {
    mext::http::edge_guard_settings s;
    s.requests_per_second = 0.01;
    s.burst = 10;
    return s;
  }
  rate_limited_fixture() : api_fixture(with_edge(tight(), {})) {}
};

void expect_problem(const http_result& r, int status) {
  BOOST_TEST(r.status == status);
  BOOST_TEST(r.header("Content-Type").rfind("application/problem+json", 0) == 0u);
  auto j = r.json();
  BOOST_TEST_REQUIRE(j.is_object());
  BOOST_TEST(j.value("status", 0) == status);
}

const njson* find_item(const njson& items, const std::string& id) {
  for (const auto& i : items)
    if (i.value("id", "") == id) return &i;
  return nullptr;
}

// Every entry of the audit log about reveals, oldest first, as GET /admin/audit lists them.
std::vector<njson> audit_records(api_fixture& f) {
  auto r = f.http().get("/api/v1/admin/audit?limit=1000", f.admin_token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  std::vector<njson> out;
  auto r_json = r.json();
  for (const auto& e : r_json.at("items"))
    if (e.at("what").at("action") == "reveal") out.insert(out.begin(), e);
  return out;
}

std::string admin_actors(const std::string& query = {}) {
  return "/api/v1/admin/actors" + query;
}

}  // namespace

// -- GET /admin/actors ------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(actor_list)

BOOST_FIXTURE_TEST_CASE(lists_resident_actors_with_their_live_figures, admin_fixture) {
  auto [user_id, token] = new_user("ann@example.test", "Ann", "Lee");
  auto r = http().get(admin_actors("?kind=usr"), admin_token);
  BOOST_TEST_REQUIRE(r.status == 200);
  auto body = r.json();
  BOOST_TEST(body.at("next_cursor").is_null());
  const auto* item = find_item(body.at("items"), user_id);
  BOOST_TEST_REQUIRE(item != nullptr);
  BOOST_TEST(item->at("kind") == "usr");
  BOOST_TEST(item->at("mailbox").is_number_unsigned());
  BOOST_TEST(item->at("messages").get<uint64_t>() >= 1u);
  BOOST_TEST(item->at("last_snapshot").is_number_unsigned());
  auto since = item->at("resident_since").get<std::string>();
  BOOST_TEST(std::regex_match(since, std::regex{R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)"}));
  for (const auto& i : body.at("items")) BOOST_TEST(i.at("kind") == "usr");
}

BOOST_FIXTURE_TEST_CASE(pages_follow_the_ids_with_a_cursor, admin_fixture) {
  new_user("p1@example.test");
  new_user("p2@example.test");
  auto first = http().get(admin_actors("?kind=usr&limit=1"), admin_token).json();
  BOOST_TEST_REQUIRE(first.at("items").size() == 1u);
  BOOST_TEST_REQUIRE(first.at("next_cursor").is_string());
  auto cursor = first.at("next_cursor").get<std::string>();
  auto second = http().get(admin_actors("?kind=usr&limit=1&cursor=" + cursor), admin_token).json();
  BOOST_TEST_REQUIRE(second.at("items").size() == 1u);
  BOOST_TEST(second.at("items")[0].at("id").get<std::string>() > cursor);
}

BOOST_FIXTURE_TEST_CASE(refuses_visitors_with_403_and_anonymous_callers_with_401, admin_fixture) {
  auto [user_id, token] = new_user("vic@example.test");
  expect_problem(http().get(admin_actors(), token), 403);
  expect_problem(http().get(admin_actors()), 401);
  expect_problem(http().get(admin_actors(), "not-a-token"), 401);
}

BOOST_FIXTURE_TEST_CASE(rejects_a_bad_limit_or_kind_with_400, admin_fixture) {
  expect_problem(http().get(admin_actors("?limit=0"), admin_token), 400);
  expect_problem(http().get(admin_actors("?limit=1001"), admin_token), 400);
  expect_problem(http().get(admin_actors("?limit=ten"), admin_token), 400);
  expect_problem(http().get(admin_actors("?kind=../usr"), admin_token), 400);
}

BOOST_AUTO_TEST_SUITE_END()

// -- GET /admin/actors/{id} -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(actor_inspection)

BOOST_FIXTURE_TEST_CASE(masks_the_personal_fields_of_a_user, admin_fixture) {
  auto [user_id, token] = new_user("masked.person@example.test", "Masha", "Kovalenko");
  auto r = http().get(admin_actors("/" + user_id), admin_token);
  BOOST_TEST_REQUIRE(r.status == 200);
  auto body = r.json();
  BOOST_TEST(body.at("id") == user_id);
  BOOST_TEST(body.at("kind") == "usr");
  BOOST_TEST(body.at("masked") == true);
  BOOST_TEST(body.at("resident") == true);
  BOOST_TEST(body.at("messages").get<uint64_t>() >= 1u);
  const auto& state = body.at("state");
  BOOST_TEST(state.at("user_id") == user_id);
  BOOST_TEST(state.at("email") == "***");
  BOOST_TEST(state.at("first_name") == "***");
  BOOST_TEST(state.at("surname") == "***");
  BOOST_TEST(state.at("roles") == njson::array({"visitor"}));
  auto fields = body.at("personal_fields");
  BOOST_TEST((std::find(fields.begin(), fields.end(), "email") != fields.end()));
  // Nothing personal anywhere in the answer.
  BOOST_TEST(r.body.find("masked.person") == std::string::npos);
  BOOST_TEST(r.body.find("Masha") == std::string::npos);
  BOOST_TEST(r.body.find("Kovalenko") == std::string::npos);
  BOOST_TEST(audit_records(*this).empty());
}

BOOST_FIXTURE_TEST_CASE(masks_the_connection_data_of_a_connection_log, admin_fixture) {
  auto [user_id, token] = new_user("conn@example.test");
  auto log_id = mext::actors::connection_log_id(user_id);
  auto r = http().get(admin_actors("/" + log_id), admin_token);
  BOOST_TEST_REQUIRE(r.status == 200);
  auto body = r.json();
  const auto& entries = body.at("state").at("entries");
  BOOST_TEST_REQUIRE(!entries.empty());
  BOOST_TEST(entries[0].at("ip") == "***");
  BOOST_TEST(entries[0].at("kind") == "login");
  BOOST_TEST(r.body.find("127.0.0.1") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_reveal_without_a_reason_is_refused_with_400, admin_fixture) {
  auto [user_id, token] = new_user("noreason@example.test");
  expect_problem(http().get(admin_actors("/" + user_id + "?reveal=1"), admin_token), 400);
  expect_problem(http().get(admin_actors("/" + user_id + "?reveal=1&reason="), admin_token), 400);
  expect_problem(http().get(admin_actors("/" + user_id + "?reveal=1&reason=%20%20"), admin_token),
                 400);
  expect_problem(http().get(admin_actors("/" + user_id + "?reveal=yes&reason=x"), admin_token),
                 400);
  BOOST_TEST(audit_records(*this).empty());
}

BOOST_FIXTURE_TEST_CASE(a_reveal_with_a_reason_shows_them_and_writes_an_audit_record,
                        admin_fixture) {
  auto [user_id, token] = new_user("revealed@example.test", "Rita", "Vega");
  auto r = http().get(
      admin_actors("/" + user_id + "?reveal=1&reason=support+ticket+4711%3A+login+trouble"),
      admin_token);
  BOOST_TEST_REQUIRE(r.status == 200);
  auto body = r.json();
  BOOST_TEST(body.at("masked") == false);
  BOOST_TEST(body.at("state").at("email") == "revealed@example.test");
  BOOST_TEST(body.at("state").at("first_name") == "Rita");
  BOOST_TEST_REQUIRE(body.contains("audit_id"));

  auto records = audit_records(*this);
  BOOST_TEST_REQUIRE(records.size() == 1u);
  const auto& rec = records[0];
  BOOST_TEST(rec.at("who") == admin_id);
  BOOST_TEST(rec.at("whose") == njson::array({user_id}));
  BOOST_TEST(rec.at("what").at("action") == "reveal");
  BOOST_TEST(rec.at("what").at("target") == user_id);
  BOOST_TEST(rec.at("why") == "support ticket 4711: login trouble");
  BOOST_TEST(rec.at("when").is_string());
  // The record names people by id only.
  BOOST_TEST(rec.dump().find("revealed@example.test") == std::string::npos);
  BOOST_TEST(rec.dump().find("Rita") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_revealed_connection_log_is_audited_as_its_owners, admin_fixture) {
  auto [user_id, token] = new_user("owner@example.test");
  auto log_id = mext::actors::connection_log_id(user_id);
  auto r = http().get(admin_actors("/" + log_id + "?reveal=1&reason=abuse+report"), admin_token);
  BOOST_TEST_REQUIRE(r.status == 200);
  BOOST_TEST(r.json().at("state").at("entries")[0].at("ip") == "127.0.0.1");
  auto records = audit_records(*this);
  BOOST_TEST_REQUIRE(records.size() == 1u);
  BOOST_TEST(records[0].at("whose") == njson::array({user_id}));
  BOOST_TEST(records[0].at("what").at("target") == log_id);
}

BOOST_FIXTURE_TEST_CASE(refuses_non_admins_and_answers_404_for_unknown_ids, admin_fixture) {
  auto [user_id, token] = new_user("nosy@example.test");
  expect_problem(http().get(admin_actors("/" + user_id), token), 403);
  expect_problem(http().get(admin_actors("/" + user_id)), 401);
  expect_problem(http().get(admin_actors("/usr_00000000000000000000000000000000"), admin_token),
                 404);
  expect_problem(http().get(admin_actors("/not-an-id"), admin_token), 404);
  expect_problem(http().get(admin_actors("/" + user_id + ".mtg_0123"), admin_token), 404);
}

BOOST_AUTO_TEST_SUITE_END()

// -- GET /metrics -----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_FIXTURE_TEST_CASE(answers_prometheus_text_with_request_counters_and_engine_figures,
                        admin_fixture) {
  new_user("counted@example.test");
  BOOST_TEST_REQUIRE(http().get("/api/v1/openapi.json").status == 200);
  // A loopback client needs no token.
  auto r = http().get("/metrics");
  BOOST_TEST_REQUIRE(r.status == 200);
  BOOST_TEST(r.header("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0u);
  const auto& t = r.body;
  BOOST_TEST(t.find("mext_http_requests_total{method=\"GET\",route=\"/api/v1/openapi.json\","
                    "status=\"200\"} 1\n") != std::string::npos);
  BOOST_TEST(t.find("mext_http_requests_total{method=\"POST\",route=\"/api/v1/auth/register\","
                    "status=\"201\"}") != std::string::npos);
  BOOST_TEST(t.find("mext_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/"
                    "openapi.json\",le=\"+Inf\"} 1\n") != std::string::npos);
  BOOST_TEST(t.find("# TYPE mext_http_request_duration_seconds histogram") != std::string::npos);
  BOOST_TEST(t.find("mext_actors_resident{kind=\"usr\"}") != std::string::npos);
  BOOST_TEST(t.find("mext_actor_mailbox_depth{kind=\"usr\"}") != std::string::npos);
  BOOST_TEST(t.find("mext_directory_resident ") != std::string::npos);
  BOOST_TEST(t.find("mext_store_commits_total ") != std::string::npos);
  BOOST_TEST(t.find("mext_store_batch_max ") != std::string::npos);
  BOOST_TEST(t.find("mext_store_commit_seconds_mean ") != std::string::npos);
  // This client's own connection is open while it asks.
  BOOST_TEST(t.find("# TYPE mext_http_open_connections gauge") != std::string::npos);
  BOOST_TEST(t.find("mext_http_open_connections 0\n") == std::string::npos);
  BOOST_TEST(t.find("mext_booth_list_cache_hits_total ") != std::string::npos);

  // Every line is a comment or `name{labels} value` (text format 0.0.4).
  const std::regex sample{
      R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfa]+)"};
  std::istringstream lines{t};
  int samples = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    BOOST_TEST(std::regex_match(line, sample), line);
    ++samples;
  }
  BOOST_TEST(samples > 20);
}

BOOST_FIXTURE_TEST_CASE(without_the_loopback_exemption_only_admins_read_metrics,
                        strict_metrics_fixture) {
  auto [user_id, token] = new_user("peek@example.test");
  auto anonymous = http().get("/metrics");
  expect_problem(anonymous, 401);
  expect_problem(http().get("/metrics", token), 403);
  auto r = http().get("/metrics", admin_token);
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body.find("mext_http_requests_total") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// -- rate limits ------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rate_limit)

BOOST_FIXTURE_TEST_CASE(a_burst_beyond_the_bucket_gets_429_and_other_addresses_are_served,
                        rate_limited_fixture) {
  int ok = 0;
  int limited = 0;
  http_result refused;
  for (int i = 0; i < 30; ++i) {
    auto r = http().get("/api/v1/openapi.json");
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      refused = r;
    }
  }
  BOOST_TEST(ok >= 1);
  BOOST_TEST(ok <= 10);
  BOOST_TEST(limited >= 20);
  expect_problem(refused, 429);
  auto retry = refused.header("Retry-After");
  BOOST_TEST_REQUIRE(!retry.empty());
  BOOST_TEST(std::stoi(retry) >= 1);

  // Another client address still gets answers, including the metrics that count the refusals.
  auto other = raw_get(port, "/api/v1/openapi.json", "127.0.0.2");
  BOOST_TEST(other.status == 200);
  auto scraped = raw_get(port, "/metrics", "127.0.0.2");
  BOOST_TEST_REQUIRE(scraped.status == 200);
  BOOST_TEST(scraped.body.find("mext_http_rate_limited_total " + std::to_string(limited) + "\n") !=
             std::string::npos);
  BOOST_TEST(scraped.body.find("mext_http_requests_total{method=\"GET\",route=\"/api/v1/"
                               "openapi.json\",status=\"429\"} " +
                               std::to_string(limited)) != std::string::npos);
}

// The same tight bucket behind a reverse proxy on 127.0.0.1 that the server trusts.
struct proxied_fixture : api_fixture {
  static api_fixture_options options() {
    auto o = with_edge(rate_limited_fixture::tight(), {});
    o.auth.trusted_proxies = {"127.0.0.1"};
    return o;
  }
  proxied_fixture() : api_fixture(options()) {}
};

BOOST_FIXTURE_TEST_CASE(behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket,
                        proxied_fixture) {
  auto from = [](const std::string& client) {
    return mext::test::header_list{{"X-Forwarded-For", client}};
  };
  int limited = 0;
  for (int i = 0; i < 30; ++i)
    limited += http().get("/api/v1/openapi.json", {}, from("203.0.113.5")).status == 429 ? 1 : 0;
  BOOST_TEST(limited >= 20);
  // Another client behind the same proxy is not punished for the first one.
  BOOST_TEST(http().get("/api/v1/openapi.json", {}, from("203.0.113.6")).status == 200);
}

BOOST_FIXTURE_TEST_CASE(metrics_through_a_trusted_loopback_proxy_need_an_administrator,
                        proxied_fixture) {
  // The proxy itself (no forwarded client) is a loopback peer: exempt.
  BOOST_TEST(http().get("/metrics").status == 200);
  // A remote client forwarded by it is not, although the socket peer is 127.0.0.1.
  auto remote = http().get("/metrics", {}, {{"X-Forwarded-For", "198.51.100.7"}});
  BOOST_TEST(remote.status == 401);
  BOOST_TEST(http().get("/metrics", admin_token, {{"X-Forwarded-For", "198.51.100.7"}}).status ==
             200);
}

BOOST_FIXTURE_TEST_CASE(guard_routes_wraps_every_route_once, rate_limited_fixture) {
  // The ops routes are registered without guard(); the API's own routes with it.
  auto guarded = mext::http::guard_routes(*routes, a);
  BOOST_TEST(guarded->routes() == routes->routes());
  auto call = [&](const std::string& path, const std::string& ip) {
    auto m = guarded->find("GET", path);
    BOOST_TEST_REQUIRE(m.target != nullptr);
    mext::http::request req;
    req.method = "GET";
    req.path = path;
    req.remote_ip = ip;
    int status = 0;
    (*m.target)(req, [&status](mext::http::response r) { status = r.status; });
    return status;
  };
  int limited = 0;
  for (int i = 0; i < 15; ++i) limited += call("/healthz", "198.51.100.7") == 429 ? 1 : 0;
  BOOST_TEST(limited >= 5);
  BOOST_TEST(call("/api/v1/openapi.json", "198.51.100.8") == 200);
  // Counted once: the route was already guarded, and is not wrapped again.
  auto text = a->metrics->render(std::nullopt);
  BOOST_TEST(text.find("mext_http_requests_total{method=\"GET\",route=\"/api/v1/openapi.json\","
                       "status=\"200\"} 1\n") != std::string::npos);
  BOOST_TEST(text.find("route=\"/healthz\",status=\"429\"}") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_bucket_refills_at_the_configured_rate) {
  mext::http::edge_guard g{{2.0, 3.0, 1024, 100}};
  auto t0 = mext::http::edge_guard::clock::now();
  for (int i = 0; i < 3; ++i) BOOST_TEST(g.admit("192.0.2.1", t0).allowed);
  auto refused = g.admit("192.0.2.1", t0);
  BOOST_TEST(!refused.allowed);
  BOOST_TEST(refused.retry_after.count() == 1);
  BOOST_TEST(g.admit("192.0.2.2", t0).allowed);
  // Half a second at 2/s is one token.
  auto t1 = t0 + std::chrono::milliseconds{500};
  BOOST_TEST(g.admit("192.0.2.1", t1).allowed);
  BOOST_TEST(!g.admit("192.0.2.1", t1).allowed);
  BOOST_TEST(g.refused() == 2u);
}

BOOST_AUTO_TEST_CASE(a_flood_of_addresses_cannot_grow_the_table_beyond_its_bound) {
  mext::http::edge_guard g{{1.0, 1.0, 256, 100}};
  auto now = mext::http::edge_guard::clock::now();
  for (int i = 0; i < 100000; ++i) {
    std::string ip = "10." + std::to_string((i >> 16) & 255) + "." +
                     std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
    g.admit(ip, now);
  }
  BOOST_TEST(g.tracked() <= 256u);
  BOOST_TEST(g.tracked() > 0u);
}

BOOST_AUTO_TEST_CASE(an_ipv6_client_is_limited_by_its_64_prefix) {
  using mext::http::edge_guard;
  BOOST_TEST(edge_guard::bucket_key("2001:db8:1:2::1") ==
             edge_guard::bucket_key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  BOOST_TEST(edge_guard::bucket_key("2001:db8:1:2::1") !=
             edge_guard::bucket_key("2001:db8:1:3::1"));
  BOOST_TEST(edge_guard::bucket_key("::ffff:192.0.2.7") == "192.0.2.7");
  BOOST_TEST(edge_guard::bucket_key("192.0.2.7") == "192.0.2.7");
  mext::http::edge_guard g{{1.0, 1.0, 1024, 100}};
  auto now = edge_guard::clock::now();
  BOOST_TEST(g.admit("2001:db8:1:2::1", now).allowed);
  BOOST_TEST(!g.admit("2001:db8:1:2::2", now).allowed);
  BOOST_TEST(g.admit("2001:db8:1:3::1", now).allowed);
}

BOOST_AUTO_TEST_SUITE_END()
