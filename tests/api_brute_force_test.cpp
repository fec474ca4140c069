#define BOOST_TEST_MODULE api_brute_force
#include <boost/test/unit_test.hpp>

// Brute-force runs against the login, through a real TLS socket behind a trusted proxy, so each
// guess can come from an address of its own (X-Forwarded-For): thousands of wrong passwords at
// one account from thousands of addresses, and a spray of guesses across many accounts from many
// addresses. Throttling must hold (few guesses ever reach the password check, none succeeds) and
// every real owner signs in once the delay they are told has passed.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_fixture.hpp"

namespace {

using mext::test::api_fixture;
using mext::test::api_fixture_options;
using mext::test::strong_password;
using njson = nlohmann::json;
using clock_type = std::chrono::steady_clock;

// The shipped defaults but for the delays, shortened so the owner's wait fits in a test.
struct brute_force_fixture : api_fixture {
  static constexpr unsigned free_failures = 5;
  static constexpr unsigned ip_free_failures = 20;
  static constexpr int first_delay_s = 1;
  static constexpr int max_delay_s = 2;

  static api_fixture_options options_for_test() {
    api_fixture_options o;
    o.auth.trusted_proxies = {"127.0.0.0/8"};
    o.auth.free_failures = free_failures;
    o.auth.ip_free_failures = ip_free_failures;
    o.auth.first_delay = std::chrono::seconds{first_delay_s};
    o.auth.max_delay = std::chrono::seconds{max_delay_s};
    return o;
  }
  brute_force_fixture() : api_fixture(options_for_test()) {}

  // One login attempt as the client at `ip` sends it through the proxy.
  mext::test::http_result attempt(mext::test::https_client& c, const std::string& email,
                                  const std::string& password, const std::string& ip) {
    return c.request("POST", "/api/v1/auth/login",
                     njson{{"email", email}, {"password", password}}.dump(),
                     {{"Content-Type", "application/json"}, {"X-Forwarded-For", ip}});
  }

  // The owner, from an address of their own, waits as each 429 says and signs in; the total
  // wait is returned, or a negative value when ten tries were not enough.
  double owner_signs_in(mext::test::https_client& c, const std::string& email,
                        const std::string& ip) {
    auto start = clock_type::now();
    for (int tries = 0; tries < 10; ++tries) {
      auto r = attempt(c, email, strong_password, ip);
      if (r.status == 200) return std::chrono::duration<double>(clock_type::now() - start).count();
      BOOST_TEST_REQUIRE(r.status == 429, r.body);
      std::this_thread::sleep_for(std::chrono::seconds{std::stoi(r.header("Retry-After"))});
    }
    return -1;
  }
};

// 10.a.b.c for the n-th attacker address.
std::string address(unsigned n) {
  return "10." + std::to_string((n >> 16) & 255) + "." + std::to_string((n >> 8) & 255) + "." +
         std::to_string(n & 255);
}

// An account's failures past the free ones each wait first_delay, doubling up to max_delay: in
// `seconds` of attack at most this many guesses reach its password check.
double checked_guesses_bound(unsigned free, double seconds) {
  using f = brute_force_fixture;
  return free + std::ceil(seconds / f::first_delay_s) + 1;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(
    thousands_of_guesses_from_thousands_of_addresses_at_one_account_are_held_to_a_few,
    brute_force_fixture) {
  register_user("owner@example.test", strong_password, "Own", "Er");
  auto c = connect();
  constexpr unsigned guesses = 2000;
  std::map<int, unsigned> statuses;
  auto start = clock_type::now();
  for (unsigned i = 0; i < guesses; ++i) {
    auto r =
        attempt(c, "owner@example.test", "Wrong-Guess-" + std::to_string(i) + "-Zq", address(i));
    ++statuses[r.status];
    if (r.status == 429) BOOST_TEST(std::stoi(r.header("Retry-After")) <= max_delay_s);
  }
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  // Every guess was refused: checked (401) or told to wait (429), nothing else.
  BOOST_TEST(statuses[401] + statuses[429] == guesses);
  BOOST_TEST(statuses[200] == 0u);
  // A new address each time does not buy new guesses: the account's own count throttles.
  BOOST_TEST(statuses[401] <= checked_guesses_bound(free_failures, seconds),
             statuses[401] << " guesses checked in " << seconds << " s");
  BOOST_TEST_MESSAGE(guesses << " guesses in " << seconds << " s: " << statuses[401] << " checked, "
                             << statuses[429] << " told to wait");

  double waited = owner_signs_in(c, "owner@example.test", "192.0.2.10");
  BOOST_TEST(waited >= 0);
  BOOST_TEST(waited <= max_delay_s + 1.0);
}

BOOST_FIXTURE_TEST_CASE(a_spray_across_accounts_from_many_addresses_gets_nobody_in,
                        brute_force_fixture) {
  constexpr unsigned accounts = 20;
  constexpr unsigned addresses = 50;
  std::vector<std::string> emails;
  for (unsigned a = 0; a < accounts; ++a) {
    emails.push_back("member" + std::to_string(a) + "@example.test");
    register_user(emails.back(), strong_password, "Mem", "Ber");
  }
  auto c = connect();
  std::map<int, unsigned> statuses;
  std::map<std::string, unsigned> checked_per_account;
  auto start = clock_type::now();
  // Each address tries each account once with a password of its own (a dictionary split
  // across a botnet).
  for (unsigned ip = 0; ip < addresses; ++ip) {
    for (unsigned a = 0; a < accounts; ++a) {
      auto r = attempt(c, emails[a], "Spring-Sale-" + std::to_string(ip) + "-Guess",
                       address(0x010000 + ip));
      ++statuses[r.status];
      if (r.status == 401) ++checked_per_account[emails[a]];
    }
  }
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  BOOST_TEST(statuses[401] + statuses[429] == accounts * addresses);
  BOOST_TEST(statuses[200] == 0u);
  for (auto& [email, n] : checked_per_account)
    BOOST_TEST(n <= checked_guesses_bound(free_failures, seconds), email << ": " << n);
  BOOST_TEST_MESSAGE(accounts * addresses << " guesses in " << seconds << " s: " << statuses[401]
                                          << " checked, " << statuses[429] << " told to wait");

  // Every owner gets back in after the delay they are told.
  for (unsigned a = 0; a < accounts; ++a) {
    double waited = owner_signs_in(c, emails[a], "192.0.2." + std::to_string(20 + a));
    BOOST_TEST(waited >= 0, emails[a]);
    BOOST_TEST(waited <= max_delay_s + 1.0, emails[a]);
  }
}

BOOST_FIXTURE_TEST_CASE(one_address_guessing_gets_its_own_delay_while_others_sign_in,
                        brute_force_fixture) {
  register_user("bystander@example.test", strong_password, "By", "Stander");
  auto c = connect();
  // A single address past its free failures (spread over unknown accounts so no account
  // reaches its own limit) is told to wait...
  unsigned refused = 0;
  auto start = clock_type::now();
  for (unsigned i = 0; i < 200; ++i) {
    auto r = attempt(c, "nobody" + std::to_string(i) + "@example.test", "Any-Guess-At-All-9",
                     "198.51.100.7");
    if (r.status == 429) ++refused;
  }
  double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  BOOST_TEST(200 - refused <= checked_guesses_bound(ip_free_failures, seconds),
             200 - refused << " guesses checked in " << seconds << " s");
  // ...while a person at another address is not held up by it.
  BOOST_TEST(attempt(c, "bystander@example.test", strong_password, "198.51.100.8").status == 200);
}
