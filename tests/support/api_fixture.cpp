#include "tests/support/api_fixture.hpp"

#include <stdexcept>
#include <tuple>
#include <utility>

#include <caf/all.hpp>

#include "actors/bootstrap.hpp"
#include "actors/entity_kinds.hpp"
#include "http/metrics.hpp"
#include "http/ops_routes.hpp"
#include "http/room_hub.hpp"
#include "http/routes.hpp"
#include "http/settings.hpp"
#include "http/tls.hpp"
#include "http/ws_session_actor.hpp"
#include "persistence/log.hpp"

namespace mext::test {
namespace {

[[noreturn]] void fail(const std::string& what, const http_result& r) {
  throw std::runtime_error(what + ": HTTP " + std::to_string(r.status) + " " + r.body);
}

[[noreturn]] void fail(const std::string& what, const caf::error& err) {
  throw std::runtime_error(what + ": " + detail_of(err));
}

}  // namespace

api_fixture::api_fixture() : api_fixture(api_fixture_options{}) {}

api_fixture::api_fixture(api_fixture_options opts) : options(std::move(opts)) {
  // Request lines of every test would drown the failures.
  log::set_min_level(log::level::warn);
  actors::add_all_message_types(cfg);
  http::configure_scheduler(cfg, http::mextd_settings{});
  sys = std::make_unique<caf::actor_system>(cfg);
  start();
}

api_fixture::~api_fixture() {
  stop();
}

void api_fixture::start() {
  actors::engine_options eo;
  eo.data_dir = dir.path();
  // Argon2 at its lowest cost: the suites test the API, not the hash.
  eo.entities.argon2_memory_kib = 1024;
  eo.entities.argon2_iterations = 1;
  auto started = actors::engine::start(*sys, eo, actors::all_entity_kinds());
  if (!started) fail("engine", started.error());
  eng = std::move(*started);

  auto admin =
      actors::ensure_admin(*sys, *eng, actors::admin_credentials{admin_email, admin_password});
  if (!admin) fail("administrator", admin.error());
  admin_id = *admin;

  auto store = http::session_store::open(*sys, *eng, options.auth);
  if (!store) fail("session store", store.error());
  sessions = std::move(*store);
  a = std::make_shared<http::api>(http::api{*sys, *eng, options.limits, sessions, nullptr,
                                            std::make_shared<http::metrics_registry>()});
  routes = std::make_shared<http::router>();
  http::add_ops_routes(*routes, *sys, *eng);
  if (options.all_routes)
    http::add_api_routes(*routes, a, {}, options.websocket, options.privacy);
  else
    http::add_account_routes(*routes, a);
  if (options.extra_routes) options.extra_routes(*routes, a);

  http::server_settings ss;
  ss.host = "127.0.0.1";
  ss.port = 0;
  ss.plain_http = !options.tls;
  ss.io_threads = 2;
  ss.ws = options.ws;
  if (options.tls) {
    if (auto err = http::ensure_self_signed(dir.path(), ss.tls_cert, ss.tls_key))
      fail("TLS pair", err);
  }
  srv = std::make_unique<http::server>(ss, routes);
  http::add_sampled_metrics(*a, *srv);
  if (auto err = srv->start()) fail("server", err);
  port = srv->port();
  client_.reset();

  // The administrator's token survives restarts: sessions are durable.
  if (admin_token.empty()) admin_token = login(admin_email, admin_password);
}

void api_fixture::stop() {
  client_.reset();
  if (srv) srv->stop();
  if (a && a->hubs) a->hubs->stop_all();
  if (a && a->ws) a->ws->wait_until_none_alive(std::chrono::seconds(5));
  if (a) http::stop_privacy(*a);
  srv.reset();
  routes.reset();
  a.reset();
  sessions.reset();
  if (eng) eng->stop();
  eng.reset();
}

void api_fixture::restart() {
  stop();
  start();
}

api_fixture::booth_room api_fixture::make_booth_room() {
  booth_room out;
  auto o = http().post_json("/api/v1/organizations", {{"name", "Acme"}}, admin_token);
  if (o.status != 201) fail("organization", o);
  out.organization_id = o.json().at("organization_id").get<std::string>();
  auto e = http().post_json("/api/v1/exhibitions",
                            {{"title", "Fair"},
                             {"starts_at", "2026-11-27T08:00:00Z"},
                             {"ends_at", "2026-11-30T18:00:00Z"}},
                            admin_token);
  if (e.status != 201) fail("exhibition", e);
  out.exhibition_id = e.json().at("exhibition_id").get<std::string>();
  std::tie(out.rep_id, out.rep_token) = new_user("rep@example.test");
  make_org_rep(out.rep_id, out.organization_id);
  auto b = http().post_json("/api/v1/exhibitions/" + out.exhibition_id + "/booths",
                            {{"organization_id", out.organization_id}, {"name", "Booth"}},
                            out.rep_token);
  if (b.status != 201) fail("booth", b);
  out.booth_id = b.json().at("booth_id").get<std::string>();
  out.room_id = b.json().at("chat_room_id").get<std::string>();
  return out;
}

https_client& api_fixture::http() {
  if (!client_) client_ = std::make_unique<https_client>(port, options.tls);
  return *client_;
}

https_client api_fixture::connect() const {
  return https_client{port, options.tls};
}

std::string api_fixture::register_user(const std::string& email, const std::string& password,
                                       const std::string& first_name, const std::string& surname) {
  auto r = http().post_json(
      "/api/v1/auth/register",
      {{"email", email}, {"password", password}, {"first_name", first_name}, {"surname", surname}});
  if (r.status != 201) fail("register " + first_name, r);
  return r.json().at("user_id").get<std::string>();
}

std::string api_fixture::login(const std::string& email, const std::string& password) {
  auto r = http().post_json("/api/v1/auth/login", {{"email", email}, {"password", password}});
  if (r.status != 200) fail("login", r);
  return r.json().at("token").get<std::string>();
}

std::pair<std::string, std::string> api_fixture::new_user(const std::string& email,
                                                          const std::string& first_name,
                                                          const std::string& surname) {
  auto id = register_user(email, strong_password, first_name, surname);
  return {id, login(email, strong_password)};
}

void api_fixture::make_org_rep(const std::string& user_id, const std::string& org_id) {
  auto r = http().post_json("/api/v1/organizations/" + org_id + "/representatives",
                            {{"user_id", user_id}}, admin_token);
  if (r.status < 200 || r.status > 299) fail("make_org_rep", r);
}

}  // namespace mext::test
