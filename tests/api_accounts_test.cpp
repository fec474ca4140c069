#define BOOST_TEST_MODULE api_accounts
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/ask.hpp"
#include "actors/connection_log_actor.hpp"
#include "http/auth.hpp"
#include "http/user_agent.hpp"
#include "tests/support/api_fixture.hpp"
#include "tests/support/mmdb_writer.hpp"

namespace {

using namespace mext;
using mext::test::api_fixture;
using mext::test::api_fixture_options;
using mext::test::http_result;
using mext::test::strong_password;
using nlohmann::json;

const std::string iphone_ua =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

json registration(const std::string& email, const std::string& password,
                  const std::string& first = "Ann", const std::string& surname = "Lee") {
  return {{"email", email}, {"password", password}, {"first_name", first}, {"surname", surname}};
}

json credentials(const std::string& email, const std::string& password) {
  return {{"email", email}, {"password", password}};
}

// A problem+json answer with this status; its detail.
std::string problem_detail(const http_result& r, int status) {
  BOOST_TEST(r.status == status);
  BOOST_TEST(r.header("Content-Type") == "application/problem+json");
  auto doc = r.json();
  BOOST_REQUIRE(doc.is_object());
  BOOST_TEST(doc.at("status").get<int>() == status);
  return doc.at("detail").get<std::string>();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<actors::connection_entry> connection_log(api_fixture& f, const std::string& user_id) {
  caf::scoped_actor self{*f.sys};
  auto log = actors::entity<actors::connection_log_actor>(
      self, f.eng->directory(), actors::connection_log_id(user_id), false);
  BOOST_REQUIRE_MESSAGE(log, detail_of(log.error()));
  auto entries = actors::ask<std::vector<actors::connection_entry>>(
      self, *log, get_atom::value, f.admin_caller(), uint32_t{100});
  BOOST_REQUIRE_MESSAGE(entries, detail_of(entries.error()));
  return *entries;
}

struct throttled_fixture : api_fixture {
  static api_fixture_options options_for_test() {
    api_fixture_options o;
    o.auth.free_failures = 3;
    o.auth.first_delay = std::chrono::seconds{1};
    o.auth.max_delay = std::chrono::seconds{4};
    return o;
  }
  throttled_fixture() : api_fixture(options_for_test()) {}
};

struct ip_throttled_fixture : api_fixture {
  static api_fixture_options options_for_test() {
    api_fixture_options o;
    o.auth.ip_free_failures = 4;
    o.auth.first_delay = std::chrono::seconds{30};
    return o;
  }
  ip_throttled_fixture() : api_fixture(options_for_test()) {}
};

struct proxied_fixture : api_fixture {
  static api_fixture_options options_for_test() {
    api_fixture_options o;
    o.auth.trusted_proxies = {"127.0.0.0/8", "10.0.0.0/8"};
    return o;
  }
  proxied_fixture() : api_fixture(options_for_test()) {}
};

// A trusted proxy in front, and an ISP database that knows the forwarded client's network.
struct isp_fixture : api_fixture {
  static api_fixture_options options_for_test() {
    static mext::test::temp_dir isp_dir;
    auto file = isp_dir.path() / "isp.mmdb";
    mext::test::write_isp_mmdb(file, {{"203.0.113.0/24", "Example Transit"}});
    api_fixture_options o;
    o.auth.trusted_proxies = {"127.0.0.0/8"};
    auto db = http::isp_database::open(file);
    if (!db) throw std::runtime_error(detail_of(db.error()));
    o.auth.isp = *db;
    return o;
  }
  isp_fixture() : api_fixture(options_for_test()) {}
};

struct short_session_fixture : api_fixture {
  static api_fixture_options options_for_test() {
    api_fixture_options o;
    o.auth.session_absolute = std::chrono::seconds{2};
    return o;
  }
  short_session_fixture() : api_fixture(options_for_test()) {}
};

// Every route group, as mextd serves them.
using accounts_fixture = api_fixture;

http::password_blocklist shipped_blocklist() {
  auto list = http::password_blocklist::load(http::default_common_passwords_file());
  BOOST_REQUIRE_MESSAGE(list, detail_of(list.error()));
  return *list;
}

}  // namespace

// -- the password policy, without a server -------------------------------------------------------

BOOST_AUTO_TEST_CASE(password_policy_accepts_the_cnil_examples_and_refuses_weak_ones) {
  auto list = shipped_blocklist();
  BOOST_TEST(list.size() > 5000u);
  // CNIL 2022, example 1: 12 characters of the four classes; example 2: 14 of letters and
  // digits; example 3: a passphrase.
  BOOST_TEST(!http::check_password("k7#Rm2$qX9;w", list));
  BOOST_TEST(!http::check_password("h4Kq9mZt2WpR7x", list));
  BOOST_TEST(!http::check_password("orange tractor whispers under violet rain", list));
  BOOST_TEST(!http::check_password(strong_password, list));

  auto detail = [&](std::string_view pw, std::vector<std::string> ctx = {}) {
    auto err = http::check_password(pw, list, ctx);
    BOOST_REQUIRE(err);
    BOOST_TEST(code_of(err) == errc::invalid_argument);
    return detail_of(err);
  };
  BOOST_TEST(contains(detail("Sh0rt!pw"), "at least 12 characters"));
  BOOST_TEST(contains(detail(std::string(129, 'x')), "at most 128 characters"));
  BOOST_TEST(contains(detail("P@ssw0rd2024!"), "common passwords"));
  BOOST_TEST(contains(detail("qwertyuiop123"), "common passwords"));
  BOOST_TEST(contains(detail("zzzzzzzzzzzzzzzzzzzz"), "too easy to guess"));
  BOOST_TEST(contains(detail("abcdefghijklmnopq"), "too easy to guess"));
  BOOST_TEST(contains(detail("Summer2024Summer2024"), "too easy to guess"));
  BOOST_TEST(
      contains(detail("Annabelle-Quiet-Harbor-47", {"annabelle@example.test", "Annabelle", "Lee"}),
               "your name or your email"));
  // Twelve random lower-case letters are only about 56 bits.
  BOOST_TEST(contains(detail("kqmtzrwpxbnv"), "too easy to guess"));
  // Characters count, not bytes: twelve accented letters are twelve characters.
  BOOST_TEST(http::password_strength_bits("éàüöñçøåæßğš", list) > 70);
}

BOOST_AUTO_TEST_CASE(user_agents_give_device_type_and_operating_system) {
  auto check = [](const std::string& ua, const char* device, const char* os) {
    auto info = http::parse_user_agent(ua);
    BOOST_TEST(info.device_type == device, ua);
    BOOST_TEST(info.os == os, ua);
  };
  check(iphone_ua, "mobile", "iOS");
  check("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
        "tablet", "iOS");
  check(
      "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile "
      "Safari/537.36",
      "mobile", "Android");
  check("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/119.0 Safari/537.36",
        "tablet", "Android");
  check("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
        "desktop", "Windows");
  check(
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.1 "
      "Safari/605.1.15",
      "desktop", "macOS");
  check("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "desktop",
        "Linux");
  check("Mozilla/5.0 (X11; CrOS x86_64 15633.69.0) AppleWebKit/537.36 Chrome/119.0 Safari/537.36",
        "desktop", "ChromeOS");
  check("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", "other");
  check("curl/7.88.1", "bot", "other");
  check("", "unknown", "other");
}

BOOST_AUTO_TEST_CASE(forwarded_addresses_count_only_from_trusted_proxies) {
  http::request req;
  req.remote_ip = "10.0.0.2";
  req.headers = {{"x-forwarded-for", "198.51.100.9, 203.0.113.7, 10.0.0.1"}};
  // Untrusted peer: its headers are ignored.
  auto plain = http::client_address_of(req, {});
  BOOST_TEST(plain.ip == "10.0.0.2");
  BOOST_TEST(plain.proxies.empty());
  // Trusted proxies: the first untrusted hop from the right is the client; the rest is a claim.
  auto via = http::client_address_of(req, {"10.0.0.0/8"});
  BOOST_TEST(via.ip == "203.0.113.7");
  BOOST_TEST((via.proxies == std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  // RFC 7239 Forwarded wins over X-Forwarded-For; quotes, brackets and ports are stripped.
  req.headers.emplace_back("forwarded",
                           "for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.1:8080");
  auto fwd = http::client_address_of(req, {"10.0.0.0/8"});
  BOOST_TEST(fwd.ip == "2001:db8:cafe::17");
  BOOST_TEST((fwd.proxies == std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  BOOST_TEST(http::is_trusted_proxy("::ffff:10.1.2.3", {"10.0.0.0/8"}));
  BOOST_TEST(!http::is_trusted_proxy("11.0.0.1", {"10.0.0.0/8"}));
  BOOST_TEST(!http::is_trusted_proxy("not-an-ip", {"10.0.0.0/8"}));
}

// -- registration ---------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(register_answers_201_with_the_new_user_id, accounts_fixture) {
  auto r = http().post_json("/api/v1/auth/register",
                            registration("ann.lee@example.test", strong_password));
  BOOST_TEST(r.status == 201);
  auto id = r.json().at("user_id").get<std::string>();
  BOOST_TEST(id.rfind("usr_", 0) == 0u);
  // The role is always visitor, whatever the body says.
  auto token = login("ann.lee@example.test", strong_password);
  auto me = http().get("/api/v1/me", token).json();
  BOOST_TEST(me.at("roles") == json::array({"visitor"}));
  auto sneaky = registration("bob@example.test", strong_password);
  sneaky["roles"] = json::array({"admin"});
  sneaky["role"] = "admin";
  BOOST_TEST(http().post_json("/api/v1/auth/register", sneaky).status == 201);
  auto bob = http().get("/api/v1/me", login("bob@example.test", strong_password)).json();
  BOOST_TEST(bob.at("roles") == json::array({"visitor"}));
}

BOOST_FIXTURE_TEST_CASE(weak_passwords_are_refused_with_the_reason, accounts_fixture) {
  auto try_password = [&](const std::string& pw) {
    return problem_detail(
        http().post_json("/api/v1/auth/register",
                         registration("weak@example.test", pw, "Annabelle", "Leeward")),
        400);
  };
  BOOST_TEST(contains(try_password("Tiny-pw-1"), "at least 12 characters long (this one has 9)"));
  BOOST_TEST(contains(try_password(std::string(130, 'k') + "A1!"), "at most 128 characters"));
  BOOST_TEST(contains(try_password("Password123!"), "common passwords"));
  BOOST_TEST(contains(try_password("iloveyouiloveyou"), "common passwords"));
  BOOST_TEST(contains(try_password("aaaaaaaaaaaaaaaaaaaaaa"), "too easy to guess"));
  BOOST_TEST(contains(try_password("Annabelle-Harbor-Lantern-9"), "your name or your email"));
  // Nothing was registered by the refusals.
  BOOST_TEST(
      http()
          .post_json("/api/v1/auth/register", registration("weak@example.test", strong_password))
          .status == 201);
}

BOOST_FIXTURE_TEST_CASE(a_nul_character_in_a_name_is_refused, accounts_fixture) {
  auto body = registration("nul@example.test", strong_password);
  body["first_name"] = std::string("a\0b", 3);
  auto detail = problem_detail(http().post_json("/api/v1/auth/register", body), 400);
  BOOST_TEST(contains(detail, "NUL"));
}

BOOST_FIXTURE_TEST_CASE(a_taken_email_is_a_conflict_whatever_its_case, accounts_fixture) {
  register_user("dup@example.test", strong_password, "Dee", "Upton");
  auto r = http().post_json("/api/v1/auth/register",
                            registration(" DUP@Example.TEST ", strong_password, "Other", "One"));
  problem_detail(r, 409);
}

BOOST_FIXTURE_TEST_CASE(malformed_bodies_answer_400_problems, accounts_fixture) {
  auto raw = [&](const std::string& body) {
    return http().request("POST", "/api/v1/auth/register", body);
  };
  problem_detail(raw("{\"email\": \"x@example.test\", "), 400);         // truncated
  problem_detail(raw("[1, 2, 3]"), 400);                                // not an object
  problem_detail(raw(""), 400);                                         // empty
  problem_detail(raw("{\"email\": \"a\xff\xfe@example.test\"}"), 400);  // invalid UTF-8
  auto wrong_type = registration("t@example.test", strong_password);
  wrong_type["password"] = 123456789012345;
  BOOST_TEST(contains(problem_detail(http().post_json("/api/v1/auth/register", wrong_type), 400),
                      "password must be a string"));
  auto missing = registration("m@example.test", strong_password);
  missing.erase("surname");
  BOOST_TEST(contains(problem_detail(http().post_json("/api/v1/auth/register", missing), 400),
                      "surname is required"));
  BOOST_TEST(contains(
      problem_detail(
          http().post_json("/api/v1/auth/register", registration("not-an-email", strong_password)),
          400),
      "email"));
  problem_detail(http().post_json("/api/v1/auth/login", {{"email", "x@example.test"}}), 400);
  problem_detail(
      http().post_json("/api/v1/auth/login", {{"email", 5}, {"password", strong_password}}), 400);
  auto bad_screen = credentials("x@example.test", strong_password);
  bad_screen["screen"] = "huge";
  problem_detail(http().post_json("/api/v1/auth/login", bad_screen), 400);
  // The server still answers.
  BOOST_TEST(http().get("/healthz").status == 200);
}

// -- login, tokens, logout ------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(login_answers_a_token_and_a_strict_session_cookie, accounts_fixture) {
  auto id = register_user("cookie@example.test", strong_password, "Coo", "Kie");
  auto r =
      http().post_json("/api/v1/auth/login", credentials("cookie@example.test", strong_password));
  BOOST_TEST(r.status == 200);
  auto body = r.json();
  auto token = body.at("token").get<std::string>();
  BOOST_TEST(token.size() >= 43u);  // 256 random bits in base64url
  BOOST_TEST(body.at("user_id") == id);
  BOOST_TEST(body.at("expires_at").get<std::string>().back() == 'Z');
  auto cookie = r.header("Set-Cookie");
  BOOST_TEST(contains(cookie, "mext_session=" + token));
  BOOST_TEST(contains(cookie, "HttpOnly"));
  BOOST_TEST(contains(cookie, "Secure"));
  BOOST_TEST(contains(cookie, "SameSite=Strict"));
  BOOST_TEST(contains(cookie, "Path=/"));
  // Only the hash is stored: the token itself is nowhere in the sessions of the store.
  BOOST_TEST(!sessions->find(token + "x"));
  BOOST_TEST(sessions->find(token)->token_hash == http::session_store::hash_token(token));
}

BOOST_FIXTURE_TEST_CASE(wrong_password_and_unknown_email_answer_alike, accounts_fixture) {
  register_user("real@example.test", strong_password, "Real", "Person");
  auto wrong_pw = http().post_json("/api/v1/auth/login",
                                   credentials("real@example.test", "Not-The-Right-One-88"));
  auto unknown = http().post_json("/api/v1/auth/login",
                                  credentials("nobody@example.test", "Not-The-Right-One-88"));
  BOOST_TEST(wrong_pw.status == 401);
  BOOST_TEST(unknown.status == 401);
  BOOST_TEST(wrong_pw.body == unknown.body);
  BOOST_TEST(wrong_pw.header("Content-Type") == unknown.header("Content-Type"));
}

BOOST_FIXTURE_TEST_CASE(token_works_as_bearer_and_as_cookie, accounts_fixture) {
  auto [id, token] = new_user("bearer@example.test");
  BOOST_TEST(http().get("/api/v1/me", token).status == 200);
  auto by_cookie = http().get("/api/v1/me", "", {{"Cookie", "theme=dark; mext_session=" + token}});
  BOOST_TEST(by_cookie.status == 200);
  BOOST_TEST(by_cookie.json().at("user_id") == id);
  problem_detail(http().get("/api/v1/me"), 401);
  problem_detail(http().get("/api/v1/me", "made-up-token"), 401);
  problem_detail(http().get("/api/v1/me", "", {{"Cookie", "mext_session=made-up-token"}}), 401);
}

BOOST_FIXTURE_TEST_CASE(logout_revokes_only_that_token, accounts_fixture) {
  auto [id, first] = new_user("logout@example.test");
  auto second = login("logout@example.test", strong_password);
  auto r = http().post("/api/v1/auth/logout", first);
  BOOST_TEST(r.status == 204);
  BOOST_TEST(contains(r.header("Set-Cookie"), "Max-Age=0"));
  problem_detail(http().get("/api/v1/me", first), 401);
  problem_detail(http().post("/api/v1/auth/logout", first), 401);
  BOOST_TEST(http().get("/api/v1/me", second).status == 200);
}

// -- profiles -------------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(own_profile_round_trips_every_field, accounts_fixture) {
  auto [id, token] = new_user("profile@example.test", "Pro", "File");
  json patch = {{"first_name", "Paula"},
                {"surname", "Filer"},
                {"email", "paula.filer@example.test"},
                {"linkedin_url", "https://www.linkedin.com/in/paula-filer"},
                {"photo_file_id", "file_0123456789abcdef0123456789abcdef"},
                {"country", "FR"},
                {"organization_id", "org_0123456789abcdef0123456789abcdef"},
                {"role_in_org", "Head of sales"},
                {"interests", {"robotics", "logistics"}},
                {"keywords", {"cobots", "AGV"}},
                {"address", "1 rue de la Paix, 75002 Paris"}};
  auto r = http().patch_json("/api/v1/me", patch, token);
  BOOST_TEST_REQUIRE(r.status == 200, r.body);
  auto me = http().get("/api/v1/me", token).json();
  for (auto& [k, v] : patch.items()) BOOST_TEST(me.at(k) == v, k);
  BOOST_TEST(me.at("user_id") == id);
  BOOST_TEST(r.json() == me);
  // The new email signs in; the old one no longer does.
  BOOST_TEST(!login("paula.filer@example.test", strong_password).empty());
  BOOST_TEST(
      http()
          .post_json("/api/v1/auth/login", credentials("profile@example.test", strong_password))
          .status == 401);
  // null clears an optional field; names cannot be cleared; wrong types are refused.
  auto cleared =
      http().patch_json("/api/v1/me", {{"address", nullptr}, {"interests", nullptr}}, token);
  BOOST_TEST(cleared.status == 200);
  BOOST_TEST(cleared.json().at("address").is_null());
  BOOST_TEST(cleared.json().at("interests") == json::array());
  problem_detail(http().patch_json("/api/v1/me", {{"first_name", nullptr}}, token), 400);
  problem_detail(http().patch_json("/api/v1/me", {{"keywords", "not-a-list"}}, token), 400);
  problem_detail(http().patch_json("/api/v1/me", {{"country", 33}}, token), 400);
  problem_detail(http().patch_json("/api/v1/me", {{"country", "FR"}}), 401);
}

BOOST_FIXTURE_TEST_CASE(a_taken_email_cannot_be_patched_in, accounts_fixture) {
  register_user("taken@example.test", strong_password, "Tak", "En");
  auto [id, token] = new_user("free@example.test");
  problem_detail(http().patch_json("/api/v1/me", {{"email", "taken@example.test"}}, token), 409);
}

BOOST_FIXTURE_TEST_CASE(public_profile_hides_email_address_and_roles, accounts_fixture) {
  auto [ann, ann_token] = new_user("ann.public@example.test", "Ann", "Public");
  auto [bob, bob_token] = new_user("bob.public@example.test", "Bob", "Reader");
  http().patch_json("/api/v1/me",
                    {{"address", "2 Secret Lane"}, {"country", "DE"}, {"keywords", {"sensors"}}},
                    ann_token);
  for (const auto& token : {bob_token, ann_token, admin_token}) {
    auto r = http().get("/api/v1/users/" + ann, token);
    BOOST_TEST_REQUIRE(r.status == 200);
    auto doc = r.json();
    BOOST_TEST(doc.at("user_id") == ann);
    BOOST_TEST(doc.at("first_name") == "Ann");
    BOOST_TEST(doc.at("country") == "DE");
    BOOST_TEST(doc.at("keywords") == json::array({"sensors"}));
    BOOST_TEST(!doc.contains("email"));
    BOOST_TEST(!doc.contains("address"));
    BOOST_TEST(!doc.contains("roles"));
    BOOST_TEST(!contains(r.body, "ann.public@example.test"));
    BOOST_TEST(!contains(r.body, "Secret Lane"));
  }
  problem_detail(http().get("/api/v1/users/" + ann), 401);
  problem_detail(http().get("/api/v1/users/usr_00000000000000000000000000000000", bob_token), 404);
  problem_detail(http().get("/api/v1/users/org_00000000000000000000000000000000", bob_token), 404);
  problem_detail(http().get("/api/v1/users/..%2F..%2Fetc", bob_token), 404);
}

// -- password change ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(password_change_checks_the_old_one_and_ends_other_sessions,
                        accounts_fixture) {
  auto [id, token] = new_user("change@example.test");
  auto other = login("change@example.test", strong_password);
  const std::string next = "Violet-Tractor-Whisper-62";
  problem_detail(
      http().post_json("/api/v1/me/password",
                       {{"old_password", "Wrong-Old-Password-11"}, {"new_password", next}}, token),
      403);
  BOOST_TEST(contains(problem_detail(http().post_json("/api/v1/me/password",
                                                      {{"old_password", strong_password},
                                                       {"new_password", "password1234"}},
                                                      token),
                                     400),
                      "common passwords"));
  problem_detail(
      http().post_json("/api/v1/me/password", {{"old_password", strong_password}}, token), 400);
  problem_detail(http().post_json("/api/v1/me/password",
                                  {{"old_password", strong_password}, {"new_password", next}}),
                 401);
  BOOST_TEST(http().get("/api/v1/me", other).status == 200);
  auto r = http().post_json("/api/v1/me/password",
                            {{"old_password", strong_password}, {"new_password", next}}, token);
  BOOST_TEST(r.status == 204);
  // This session goes on; the other one ended with the old password.
  BOOST_TEST(http().get("/api/v1/me", token).status == 200);
  problem_detail(http().get("/api/v1/me", other), 401);
  BOOST_TEST(!login("change@example.test", next).empty());
  BOOST_TEST(
      http()
          .post_json("/api/v1/auth/login", credentials("change@example.test", strong_password))
          .status == 401);
}

// -- throttling -----------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(repeated_failures_are_throttled_but_the_owner_gets_back_in,
                        throttled_fixture) {
  register_user("target@example.test", strong_password, "Tar", "Get");
  auto attempt = [&](const std::string& pw) {
    return http().post_json("/api/v1/auth/login", credentials("target@example.test", pw));
  };
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(attempt("Guess-Number-" + std::to_string(i) + "-xyz").status == 401);
  // Now even the right password waits: the answer does not tell whether it was right.
  auto refused = attempt(strong_password);
  BOOST_TEST(refused.status == 429);
  auto retry_after = std::stoi(refused.header("Retry-After"));
  BOOST_TEST(retry_after >= 1);
  problem_detail(refused, 429);
  // An unknown email is throttled the same way (no enumeration through throttling either).
  for (int i = 0; i < 3; ++i)
    BOOST_TEST(
        http()
            .post_json("/api/v1/auth/login", credentials("ghost@example.test", "Guess-It-Now-77"))
            .status == 401);
  BOOST_TEST(
      http()
          .post_json("/api/v1/auth/login", credentials("ghost@example.test", "Guess-It-Now-77"))
          .status == 429);

  // The owner waits as told and signs in; bounded so a broken throttle fails instead of hanging.
  int status = 0;
  for (int tries = 0; tries < 10 && status != 200; ++tries) {
    std::this_thread::sleep_for(std::chrono::seconds{retry_after});
    auto r = attempt(strong_password);
    status = r.status;
    if (status == 429) retry_after = std::stoi(r.header("Retry-After"));
  }
  BOOST_TEST(status == 200);
  // A success clears the account's count: a typo afterwards is a plain 401 again.
  BOOST_TEST(attempt("Typo-Password-0000").status == 401);
  BOOST_TEST(attempt(strong_password).status == 200);
}

BOOST_FIXTURE_TEST_CASE(an_address_spraying_many_accounts_is_throttled, ip_throttled_fixture) {
  register_user("sprayed@example.test", strong_password, "Spr", "Ayed");
  // One guess each at four accounts: no account reaches its own limit, the address does.
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(http()
                   .post_json("/api/v1/auth/login",
                              credentials("victim" + std::to_string(i) + "@example.test",
                                          "Spray-Password-2024x"))
                   .status == 401);
  auto refused =
      http().post_json("/api/v1/auth/login", credentials("sprayed@example.test", strong_password));
  BOOST_TEST(refused.status == 429);
  BOOST_TEST(std::stoi(refused.header("Retry-After")) >= 1);
}

// -- connection data ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(login_records_connection_data_in_the_persons_log, accounts_fixture) {
  auto id = register_user("conn@example.test", strong_password, "Con", "Nection");
  // An entry older than the retention (12 months) goes at the next login.
  {
    caf::scoped_actor self{*sys};
    auto log = actors::entity<actors::connection_log_actor>(self, eng->directory(),
                                                            actors::connection_log_id(id), true);
    BOOST_REQUIRE(log);
    actors::connection_entry old;
    old.at_ms = actors::now_ms() - int64_t{400} * 24 * 3600 * 1000;
    old.kind = "login";
    old.ip = "192.0.2.1";
    BOOST_REQUIRE(actors::ask<uint64_t>(self, *log, record_atom::value, old));
  }
  auto body = credentials("conn@example.test", strong_password);
  body["screen"] = "390x844";
  auto r = http().post_json("/api/v1/auth/login", body, "",
                            {{"User-Agent", iphone_ua},
                             {"Referer", "https://fair.example/login?next=%2Fme&token=abc#top"},
                             {"X-Forwarded-For", "198.51.100.23"}});
  BOOST_TEST_REQUIRE(r.status == 200);
  auto entries = connection_log(*this, id);
  BOOST_TEST_REQUIRE(entries.size() == 1u);
  const auto& e = entries.front();
  BOOST_TEST(e.kind == "login");
  // The peer is not a trusted proxy: X-Forwarded-For is ignored.
  BOOST_TEST(e.ip == "127.0.0.1");
  BOOST_TEST(e.proxies.empty());
  BOOST_TEST(e.device_type == "mobile");
  BOOST_TEST(e.os == "iOS");
  BOOST_TEST(e.screen == "390x844");
  BOOST_TEST(e.referrer == "https://fair.example/login");
  BOOST_TEST(e.isp == "unknown");
  BOOST_TEST(e.at_ms > actors::now_ms() - 60 * 1000);
  // A failed login records nothing.
  http().post_json("/api/v1/auth/login", credentials("conn@example.test", "Wrong-Password-4242"));
  BOOST_TEST(connection_log(*this, id).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_trusted_proxy_forwards_the_client_address, proxied_fixture) {
  auto id = register_user("proxied@example.test", strong_password, "Pro", "Xied");
  auto r =
      http().post_json("/api/v1/auth/login", credentials("proxied@example.test", strong_password),
                       "", {{"X-Forwarded-For", "203.0.113.50, 10.1.2.3"}});
  BOOST_TEST_REQUIRE(r.status == 200);
  auto entries = connection_log(*this, id);
  BOOST_TEST_REQUIRE(entries.size() == 1u);
  BOOST_TEST(entries[0].ip == "203.0.113.50");
  BOOST_TEST((entries[0].proxies == std::vector<std::string>{"10.1.2.3", "127.0.0.1"}));
  BOOST_TEST(entries[0].device_type == "unknown");
}

BOOST_FIXTURE_TEST_CASE(the_isp_of_the_client_address_is_looked_up_in_the_isp_database,
                        isp_fixture) {
  auto id = register_user("isp@example.test", strong_password, "Is", "Pee");
  auto known =
      http().post_json("/api/v1/auth/login", credentials("isp@example.test", strong_password), "",
                       {{"X-Forwarded-For", "203.0.113.50"}});
  BOOST_TEST_REQUIRE(known.status == 200);
  auto other =
      http().post_json("/api/v1/auth/login", credentials("isp@example.test", strong_password), "",
                       {{"X-Forwarded-For", "192.0.2.9"}});
  BOOST_TEST_REQUIRE(other.status == 200);
  auto entries = connection_log(*this, id);
  BOOST_TEST_REQUIRE(entries.size() == 2u);
  std::map<std::string, std::string> isp_by_ip;
  for (auto& e : entries) isp_by_ip[e.ip] = e.isp;
  BOOST_TEST(isp_by_ip["203.0.113.50"] == "Example Transit");
  BOOST_TEST(isp_by_ip["192.0.2.9"] == "unknown");
}

// -- durability and expiry ------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(sessions_and_revocations_survive_a_restart, accounts_fixture) {
  auto [id, kept] = new_user("restart@example.test");
  auto revoked = login("restart@example.test", strong_password);
  BOOST_TEST(http().post("/api/v1/auth/logout", revoked).status == 204);
  restart();
  auto me = http().get("/api/v1/me", kept);
  BOOST_TEST(me.status == 200);
  BOOST_TEST(me.json().at("user_id") == id);
  problem_detail(http().get("/api/v1/me", revoked), 401);
  BOOST_TEST(http().get("/api/v1/me", admin_token).status == 200);
}

BOOST_FIXTURE_TEST_CASE(a_session_ends_after_its_absolute_lifetime, short_session_fixture) {
  auto [id, token] = new_user("brief@example.test");
  BOOST_TEST(http().get("/api/v1/me", token).status == 200);
  int status = 200;
  for (int tries = 0; tries < 20 && status == 200; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds{500});
    status = http().get("/api/v1/me", token).status;
  }
  BOOST_TEST(status == 401);
}
