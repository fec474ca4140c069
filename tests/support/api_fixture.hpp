#pragma once
// A real server for the API suites: an engine with every entity kind on a temporary data
// directory, an administrator, the REST routes, and TLS on 127.0.0.1 with an ephemeral port.
// Throws std::runtime_error when something does not start (Boost.Test reports it).
//
//   BOOST_FIXTURE_TEST_CASE(visitor_reads_own_profile, mext::test::api_fixture) {
//     auto id = register_user("ann@example.test", strong_password, "Ann", "Lee");
//     auto token = login("ann@example.test", strong_password);
//     BOOST_TEST(http().get("/api/v1/me", token).status == 200);
//   }

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>

#include "actors/caller.hpp"
#include "actors/engine.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/privacy_routes.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"
#include "tests/support/https_client.hpp"
#include "tests/test_support.hpp"

namespace mext::test {

// A password the policy accepts; the suites use it unless they test the policy.
inline const std::string strong_password = "Quiet-Harbor-Lantern-47";

struct api_fixture_options {
  // Every route group (add_api_routes); false registers add_account_routes only.
  bool all_routes = true;
  // Passed to the session store; common_passwords_file left empty finds the shipped list.
  http::auth_settings auth;
  http::api_limits limits;
  // Routes added after the API's own, for suites that need a probe.
  std::function<void(http::router&, std::shared_ptr<http::api>)> extra_routes;
  bool tls = true;
  // The WebSocket endpoint: the server's transport limits and the protocol's settings.
  http::ws_settings ws;
  http::websocket_options websocket;
  http::privacy_options privacy;
};

struct api_fixture {
  api_fixture();
  explicit api_fixture(api_fixture_options options);
  ~api_fixture();
  api_fixture(const api_fixture&) = delete;
  api_fixture& operator=(const api_fixture&) = delete;

  api_fixture_options options;
  temp_dir dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<actors::engine> eng;
  std::shared_ptr<http::session_store> sessions;
  std::shared_ptr<http::api> a;
  std::shared_ptr<http::router> routes;
  std::unique_ptr<http::server> srv;
  uint16_t port = 0;

  std::string admin_email = "admin@fixture.test";
  std::string admin_password = "Admin-Fixture-Lighthouse-93";
  std::string admin_id, admin_token;

  // The administrator as entity actors see it (for in-process reads in tests).
  actors::caller admin_caller() const { return {admin_id, true, {}}; }

  // A client of this server, kept alive across calls (reset by restart()).
  https_client& http();
  // A new client with its own connection.
  https_client connect() const;

  // POST /api/v1/auth/register; the new user id. Throws unless the answer is 201.
  std::string register_user(const std::string& email, const std::string& password,
                            const std::string& first_name, const std::string& surname);
  // POST /api/v1/auth/login; the token. Throws unless the answer is 200.
  std::string login(const std::string& email, const std::string& password);
  // Registers and logs in a new user with strong_password; returns {user_id, token}.
  std::pair<std::string, std::string> new_user(const std::string& email,
                                               const std::string& first_name = "Test",
                                               const std::string& surname = "Person");
  // POST /api/v1/organizations/{org_id}/representatives {user_id} as the administrator.
  // Throws unless the answer is 2xx.
  void make_org_rep(const std::string& user_id, const std::string& org_id);

  struct booth_room {
    std::string organization_id, exhibition_id, booth_id, room_id;
    std::string rep_id, rep_token;  // a representative of the organization
  };
  // An organization "Acme", an exhibition, a representative (rep@example.test, signed in) and
  // the booth they create, with its chat room. Throws unless every step succeeds.
  booth_room make_booth_room();

  // Stops the server and the engine and starts both again on the same data directory (a new
  // session store loads the sessions from disk); the port changes, admin_token stays valid.
  void restart();

 private:
  void start();
  void stop();
  std::unique_ptr<https_client> client_;
};

}  // namespace mext::test
