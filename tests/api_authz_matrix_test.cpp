#define BOOST_TEST_MODULE api_authz_matrix
#include <boost/test/unit_test.hpp>

// The authorization matrix: every endpoint of API.md that this build serves, called by each of
// anonymous, a visitor, another visitor, a representative of the organization, a representative
// of another organization, a speaker and an administrator, through a real TLS server, against the
// expected status table. The table follows API.md's "who" column: 401 without a session, 403
// when signed in without the right, 404 for a resource the caller has no part in (a meeting of
// others is not named to them), 2xx when allowed. Each cell whose call changes or consumes
// something (logout, a deleted message, an answered meeting) gets resources of its own.

#include <array>
#include <chrono>
#include <functional>
#include <iomanip>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_fixture.hpp"
#include "tests/support/ws_client.hpp"

namespace {

using mext::test::header_list;
using mext::test::http_result;
using njson = nlohmann::json;

enum role : size_t {
  anonymous,
  visitor,
  other_visitor,
  org_rep,
  other_org_rep,
  speaker,
  admin,
  role_count
};

constexpr std::array<const char*, role_count> role_names = {
    "anonymous",          "visitor", "other visitor", "rep of the org",
    "rep of another org", "speaker", "admin"};

using expected_row = std::array<int, role_count>;

// A request as one cell sends it.
struct call {
  std::string method;
  std::string target;
  std::string body;  // sent as is; JSON unless headers say otherwise
  header_list headers;
};

struct world;
using builder = std::function<call(world&, role)>;

struct row {
  std::string endpoint;  // as API.md names it
  builder build;
  expected_row expected;
};

constexpr const char* password = "Quiet-Harbor-Lantern-47";
constexpr const char* other_password = "Velvet-Compass-Meadow-82";

// Everything the matrix needs, made once for the whole module: people of every role, two
// organizations, an exhibition with a booth of the first one and a session, a direct room and a
// file.
struct world {
  mext::test::api_fixture f;
  std::array<std::string, role_count> user_id;
  std::array<std::string, role_count> email;
  std::array<std::string, role_count> token;
  std::array<std::string, role_count> pw;  // current passwords (the matrix changes them)
  std::string stranger_id;  // a person outside every role: the other party of new rooms/meetings
  std::string org, other_org, exhibition, booth, booth_room, session, direct_room;
  std::string file;         // the visitor's, attached to nothing
  std::string booth_file;   // the rep's, attached to the booth's content
  std::string direct_file;  // the visitor's, attached to a message of the direct room
  int serial = 0;

  static world* instance;

  world() {
    instance = this;
    token[admin] = f.admin_token;
    user_id[admin] = f.admin_id;
    email[admin] = f.admin_email;
    pw[admin] = f.admin_password;
    for (role r : {visitor, other_visitor, org_rep, other_org_rep, speaker}) {
      email[r] = "role" + std::to_string(r) + "@matrix.test";
      auto [id, t] = f.new_user(email[r], "Role", "Person");
      user_id[r] = id;
      token[r] = t;
      pw[r] = password;
    }
    stranger_id = f.new_user("stranger@matrix.test").first;
    org = create("/api/v1/organizations", {{"name", "Org One"}, {"country", "FR"}},
                 "organization_id");
    other_org = create("/api/v1/organizations", {{"name", "Org Two"}, {"country", "DE"}},
                       "organization_id");
    f.make_org_rep(user_id[org_rep], org);
    f.make_org_rep(user_id[other_org_rep], other_org);
    exhibition = create("/api/v1/exhibitions",
                        {{"title", "Matrix Fair"},
                         {"starts_at", "2026-11-28T08:00:00Z"},
                         {"ends_at", "2026-11-30T18:00:00Z"}},
                        "exhibition_id");
    auto b = post("/api/v1/exhibitions/" + exhibition + "/booths",
                  {{"organization_id", org}, {"name", "Booth One"}}, token[admin]);
    require(b, 201, "booth");
    booth = b.json().at("booth_id").get<std::string>();
    booth_room = b.json().at("chat_room_id").get<std::string>();
    session = create("/api/v1/exhibitions/" + exhibition + "/sessions",
                     {{"title", "Keynote"},
                      {"starts_at", "2026-11-28T10:00:00Z"},
                      {"ends_at", "2026-11-28T11:00:00Z"},
                      {"speaker_ids", {user_id[speaker]}}},
                     "session_id");
    auto d = f.http().post("/api/v1/direct/" + user_id[other_visitor], token[visitor]);
    require(d, 200, "direct room");
    direct_room = d.json().at("room_id").get<std::string>();
    file = upload(visitor);
    booth_file = upload(org_rep);
    require(
        post("/api/v1/booths/" + booth + "/content",
             {{"kind", "datasheet"}, {"title", "Specs"}, {"file_id", booth_file}}, token[org_rep]),
        201, "content with a file");
    direct_file = upload(visitor);
    require(post("/api/v1/rooms/" + direct_room + "/messages",
                 {{"text", "see attached"}, {"file_id", direct_file}, {"client_msg_id", "f1"}},
                 token[visitor]),
            201, "message with a file");
  }

  static void require(const http_result& r, int status, const std::string& what) {
    if (r.status != status)
      throw std::runtime_error("matrix set-up: " + what + ": HTTP " + std::to_string(r.status) +
                               " " + r.body);
  }

  http_result post(const std::string& path, const njson& body, const std::string& t) {
    return f.http().post_json(path, body, t);
  }

  std::string create(const std::string& path, const njson& body, const std::string& id_field) {
    auto r = post(path, body, token[admin]);
    require(r, 201, path);
    return r.json().at(id_field).get<std::string>();
  }

  std::string upload(role r) {
    auto res =
        f.http().request("POST", "/api/v1/files", "matrix file\n",
                         mext::test::with_bearer(
                             {{"Content-Type", "text/plain"}, {"X-File-Name", "m.txt"}}, token[r]));
    require(res, 201, "file");
    return res.json().at("file_id").get<std::string>();
  }

  // A new message of the visitor in the booth's room.
  std::string new_message() {
    auto r = post("/api/v1/rooms/" + booth_room + "/messages",
                  {{"text", "hello"}, {"client_msg_id", "m" + std::to_string(++serial)}},
                  token[visitor]);
    require(r, 201, "message");
    return r.json().at("message_id").get<std::string>();
  }

  // A slot of half an hour that no other meeting of the matrix uses.
  std::pair<std::string, std::string> new_slot() {
    int n = ++serial;
    char from[32];
    char to[32];
    std::snprintf(from, sizeof from, "2027-%02d-%02dT%02d:00:00Z", 1 + n / 600, 1 + (n / 24) % 25,
                  n % 24);
    std::snprintf(to, sizeof to, "2027-%02d-%02dT%02d:30:00Z", 1 + n / 600, 1 + (n / 24) % 25,
                  n % 24);
    return {from, to};
  }

  // A new pending meeting the visitor asks of the other visitor.
  std::string new_meeting() {
    auto [from, to] = new_slot();
    auto r = post("/api/v1/meetings",
                  {{"with_user_id", user_id[other_visitor]}, {"starts_at", from}, {"ends_at", to}},
                  token[visitor]);
    require(r, 201, "meeting");
    return r.json().at("meeting_id").get<std::string>();
  }

  http_result send(const call& c, role r) {
    return f.connect().request(c.method, c.target, c.body,
                               mext::test::with_bearer(c.headers, token[r]));
  }
};

world* world::instance = nullptr;

BOOST_TEST_GLOBAL_FIXTURE(world);

world& w() {
  return *world::instance;
}

call get(std::string target) {
  return {"GET", std::move(target), {}, {}};
}
call post(std::string target, const njson& body = nullptr) {
  return {"POST", std::move(target), body.is_null() ? std::string{} : body.dump(), {}};
}
call patch(std::string target, const njson& body) {
  return {"PATCH", std::move(target), body.dump(), {}};
}
call del(std::string target) {
  return {"DELETE", std::move(target), {}, {}};
}

builder fixed(call c) {
  return [c](world&, role) { return c; };
}

//                                 anon visitor other rep  other-rep speaker admin
constexpr expected_row anyone{{200, 200, 200, 200, 200, 200, 200}};
constexpr expected_row any_user_200{{401, 200, 200, 200, 200, 200, 200}};
constexpr expected_row any_user_201{{401, 201, 201, 201, 201, 201, 201}};
constexpr expected_row any_user_204{{401, 204, 204, 204, 204, 204, 204}};
constexpr expected_row admin_only_200{{401, 403, 403, 403, 403, 403, 200}};
constexpr expected_row admin_only_201{{401, 403, 403, 403, 403, 403, 201}};
constexpr expected_row reps_and_admin_200{{401, 403, 403, 200, 403, 403, 200}};
constexpr expected_row reps_and_admin_201{{401, 403, 403, 201, 403, 403, 201}};

std::string table(const std::vector<std::pair<std::string, expected_row>>& seen) {
  std::ostringstream out;
  out << std::left << std::setw(58) << "endpoint";
  for (auto* n : role_names) out << std::setw(11) << std::string{n}.substr(0, 10);
  out << "\n";
  for (const auto& [endpoint, codes] : seen) {
    out << std::setw(58) << endpoint;
    for (int c : codes) out << std::setw(11) << c;
    out << "\n";
  }
  return out.str();
}

void check(const std::vector<row>& rows) {
  std::vector<std::pair<std::string, expected_row>> seen;
  for (const auto& r : rows) {
    expected_row got{};
    for (size_t i = 0; i < role_count; ++i) {
      auto who = static_cast<role>(i);
      auto c = r.build(w(), who);
      auto res = w().send(c, who);
      got[i] = res.status;
      BOOST_TEST(res.status == r.expected[i],
                 r.endpoint << " as " << role_names[i] << ": " << res.status << " " << res.body);
      if (res.status >= 400)
        BOOST_TEST(res.header("Content-Type").rfind("application/problem+json", 0) == 0u,
                   r.endpoint << " as " << role_names[i]);
    }
    seen.emplace_back(r.endpoint, got);
  }
  BOOST_TEST_MESSAGE("\n" << table(seen));
}

}  // namespace

BOOST_AUTO_TEST_CASE(accounts_and_profiles_answer_each_role_as_the_contract_says) {
  check({
      {"POST /auth/register",
       [](world& x, role r) {
         return post("/api/v1/auth/register", {{"email", "new" + std::to_string(++x.serial) + "-" +
                                                             std::to_string(r) + "@m.test"},
                                               {"password", password},
                                               {"first_name", "N"},
                                               {"surname", "P"}});
       },
       {{201, 201, 201, 201, 201, 201, 201}}},
      {"POST /auth/login",
       [](world& x, role r) {
         // Anonymous signs in as the visitor; everyone else as themselves.
         auto who = r == anonymous ? visitor : r;
         return post("/api/v1/auth/login", {{"email", x.email[who]}, {"password", x.pw[who]}});
       },
       anyone},
      {"POST /auth/logout",
       [](world& x, role r) {
         call c = post("/api/v1/auth/logout");
         // A session of its own, so the role's main token stays valid.
         if (r != anonymous) {
           auto t = x.f.login(x.email[r], x.pw[r]);
           c.headers.emplace_back("Authorization", "Bearer " + t);
         }
         return c;
       },
       {{401, 204, 204, 204, 204, 204, 204}}},
      {"GET /me", fixed(get("/api/v1/me")), any_user_200},
      {"PATCH /me", fixed(patch("/api/v1/me", {{"country", "FR"}})), any_user_200},
      {"POST /me/password",
       [](world& x, role r) {
         auto c = post("/api/v1/me/password",
                       {{"old_password", x.pw[r]}, {"new_password", other_password}});
         if (r != anonymous) x.pw[r] = other_password;
         return c;
       },
       any_user_204},
      {"GET /users/{id}", [](world& x, role) { return get("/api/v1/users/" + x.user_id[visitor]); },
       any_user_200},
  });
}

BOOST_AUTO_TEST_CASE(organizations_exhibitions_and_booths_answer_each_role_as_the_contract_says) {
  check({
      {"POST /organizations",
       fixed(post("/api/v1/organizations", {{"name", "Another"}, {"country", "IT"}})),
       admin_only_201},
      {"GET /organizations", fixed(get("/api/v1/organizations")), anyone},
      {"GET /organizations/{id}",
       [](world& x, role) { return get("/api/v1/organizations/" + x.org); }, anyone},
      {"PATCH /organizations/{id}",
       [](world& x, role) {
         return patch("/api/v1/organizations/" + x.org, {{"description", "edited"}});
       },
       reps_and_admin_200},
      {"POST /organizations/{id}/representatives",
       [](world& x, role) {
         return post("/api/v1/organizations/" + x.org + "/representatives",
                     {{"user_id", x.stranger_id}});
       },
       admin_only_200},
      {"POST /exhibitions",
       fixed(post("/api/v1/exhibitions", {{"title", "Other Fair"},
                                          {"starts_at", "2027-03-01T08:00:00Z"},
                                          {"ends_at", "2027-03-02T18:00:00Z"}})),
       admin_only_201},
      {"GET /exhibitions", fixed(get("/api/v1/exhibitions")), anyone},
      {"GET /exhibitions/{id}",
       [](world& x, role) { return get("/api/v1/exhibitions/" + x.exhibition); }, anyone},
      {"POST /exhibitions/{id}/booths",
       [](world& x, role) {
         return post("/api/v1/exhibitions/" + x.exhibition + "/booths",
                     {{"organization_id", x.org}, {"name", "Booth " + std::to_string(++x.serial)}});
       },
       reps_and_admin_201},
      {"GET /exhibitions/{id}/booths",
       [](world& x, role) { return get("/api/v1/exhibitions/" + x.exhibition + "/booths"); },
       anyone},
      {"GET /booths/{id}", [](world& x, role) { return get("/api/v1/booths/" + x.booth); }, anyone},
      {"PATCH /booths/{id}",
       [](world& x, role) {
         return patch("/api/v1/booths/" + x.booth, {{"description", "new"}});
       },
       reps_and_admin_200},
      {"POST /booths/{id}/content",
       [](world& x, role) {
         return post("/api/v1/booths/" + x.booth + "/content",
                     {{"kind", "article"}, {"title", "News"}, {"body", "text"}});
       },
       reps_and_admin_201},
      {"POST /booths/{id}/visits",
       [](world& x, role) { return post("/api/v1/booths/" + x.booth + "/visits"); }, any_user_204},
  });
}

BOOST_AUTO_TEST_CASE(files_answer_each_role_as_the_contract_says) {
  check({
      {"POST /files",
       fixed(call{"POST",
                  "/api/v1/files",
                  "a file\n",
                  {{"Content-Type", "text/plain"}, {"X-File-Name", "a.txt"}}}),
       any_user_201},
      // Not attached to anything: its uploader (the visitor) and administrators only.
      {"GET /files/{id} (unattached)",
       [](world& x, role) { return get("/api/v1/files/" + x.file); },
       {{401, 200, 403, 403, 403, 403, 200}}},
      // Booth content is public, and so is a file it holds.
      {"GET /files/{id} (booth content)",
       [](world& x, role) { return get("/api/v1/files/" + x.booth_file); }, anyone},
      // A file in a direct room: its two members and administrators.
      {"GET /files/{id} (direct room)",
       [](world& x, role) { return get("/api/v1/files/" + x.direct_file); },
       {{401, 200, 200, 403, 403, 403, 200}}},
  });
}

BOOST_AUTO_TEST_CASE(chat_answers_each_role_as_the_contract_says) {
  check({
      {"GET /rooms/{id}/messages (booth room)",
       [](world& x, role) { return get("/api/v1/rooms/" + x.booth_room + "/messages"); },
       any_user_200},
      {"GET /rooms/{id}/messages (direct room)",
       [](world& x, role) { return get("/api/v1/rooms/" + x.direct_room + "/messages"); },
       {{401, 200, 200, 403, 403, 403, 200}}},
      {"POST /rooms/{id}/messages (booth room)",
       [](world& x, role) {
         return post("/api/v1/rooms/" + x.booth_room + "/messages",
                     {{"text", "hi"}, {"client_msg_id", "c" + std::to_string(++x.serial)}});
       },
       any_user_201},
      // Admins read direct rooms; only the two members write in them.
      {"POST /rooms/{id}/messages (direct room)",
       [](world& x, role) {
         return post("/api/v1/rooms/" + x.direct_room + "/messages",
                     {{"text", "hi"}, {"client_msg_id", "d" + std::to_string(++x.serial)}});
       },
       {{401, 201, 201, 403, 403, 403, 403}}},
      // The visitor's message in the booth's room: its author, the booth's reps and admins.
      {"DELETE /rooms/{id}/messages/{message_id}",
       [](world& x, role) {
         return del("/api/v1/rooms/" + x.booth_room + "/messages/" + x.new_message());
       },
       {{401, 204, 403, 204, 403, 403, 204}}},
      {"POST /direct/{user_id}",
       [](world& x, role) { return post("/api/v1/direct/" + x.stranger_id); }, any_user_200},
  });
}

BOOST_AUTO_TEST_CASE(the_agenda_answers_each_role_as_the_contract_says) {
  check({
      {"POST /exhibitions/{id}/sessions",
       [](world& x, role) {
         return post("/api/v1/exhibitions/" + x.exhibition + "/sessions",
                     {{"title", "Talk " + std::to_string(++x.serial)},
                      {"starts_at", "2026-11-29T10:00:00Z"},
                      {"ends_at", "2026-11-29T11:00:00Z"},
                      {"speaker_ids", njson::array()}});
       },
       admin_only_201},
      {"GET /exhibitions/{id}/sessions",
       [](world& x, role) { return get("/api/v1/exhibitions/" + x.exhibition + "/sessions"); },
       anyone},
      {"POST /sessions/{id}/attend",
       [](world& x, role) { return post("/api/v1/sessions/" + x.session + "/attend"); },
       any_user_200},
      {"DELETE /sessions/{id}/attend",
       [](world& x, role) { return del("/api/v1/sessions/" + x.session + "/attend"); },
       any_user_204},
      {"POST /meetings",
       [](world& x, role) {
         auto [from, to] = x.new_slot();
         return post("/api/v1/meetings",
                     {{"with_user_id", x.stranger_id}, {"starts_at", from}, {"ends_at", to}});
       },
       any_user_201},
      // A pending meeting the visitor asked of the other visitor, one per cell.
      {"POST /meetings/{id}/accept",
       [](world& x, role) { return post("/api/v1/meetings/" + x.new_meeting() + "/accept"); },
       {{401, 403, 200, 404, 404, 404, 404}}},
      {"POST /meetings/{id}/decline",
       [](world& x, role) { return post("/api/v1/meetings/" + x.new_meeting() + "/decline"); },
       {{401, 403, 200, 404, 404, 404, 404}}},
      {"POST /meetings/{id}/cancel",
       [](world& x, role) { return post("/api/v1/meetings/" + x.new_meeting() + "/cancel"); },
       {{401, 200, 200, 404, 404, 404, 404}}},
      {"GET /me/agenda", fixed(get("/api/v1/me/agenda")), any_user_200},
      {"GET /me/agenda.ics", fixed(get("/api/v1/me/agenda.ics")), any_user_200},
  });
}

BOOST_AUTO_TEST_CASE(operations_answer_each_role_as_the_contract_says) {
  check({
      {"GET /healthz", fixed(get("/healthz")), anyone},
      {"GET /readyz", fixed(get("/readyz")), anyone},
      // The matrix runs on loopback, which reads metrics without signing in (api_admin_test
      // proves the rule for other clients).
      {"GET /metrics (loopback)", fixed(get("/metrics")), anyone},
      {"GET /api/v1/openapi.json", fixed(get("/api/v1/openapi.json")), anyone},
      {"GET /admin/actors", fixed(get("/api/v1/admin/actors")), admin_only_200},
      {"GET /admin/actors/{id}",
       [](world& x, role) { return get("/api/v1/admin/actors/" + x.user_id[visitor]); },
       admin_only_200},
  });
}

namespace {

// Polls a privacy request as `who` until it completes; throws past 30 s.
void wait_completed(const std::string& request_id, role who) {
  for (int i = 0; i < 1500; ++i) {
    auto r = w().f.http().get("/api/v1/privacy/requests/" + request_id, w().token[who]);
    world::require(r, 200, "privacy request");
    if (r.json().at("status") == "completed") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("matrix set-up: privacy request " + request_id + " did not complete");
}

// The requests and the breach the privacy rows read, made once.
struct privacy_world {
  std::string visitor_export;  // the visitor's own export, completed
  std::string admin_export;    // an administrator's export of the stranger, completed
  std::string breach;

  privacy_world() {
    auto& x = w();
    auto e = x.f.http().post("/api/v1/me/export", x.token[visitor]);
    world::require(e, 202, "export");
    visitor_export = e.json().at("request_id").get<std::string>();
    auto a = x.f.http().post("/api/v1/admin/users/" + x.stranger_id + "/export", x.token[admin]);
    world::require(a, 202, "export on behalf");
    admin_export = a.json().at("request_id").get<std::string>();
    wait_completed(visitor_export, visitor);
    wait_completed(admin_export, admin);
    auto b = x.post("/api/v1/admin/breaches", breach_body(), x.token[admin]);
    world::require(b, 201, "breach");
    breach = b.json().at("breach_id").get<std::string>();
  }

  static njson breach_body() {
    return {{"description", "A backup disk went missing"},
            {"detected_at", "2026-12-01T09:00:00Z"},
            {"categories", {"account"}},
            {"user_ids", {w().stranger_id}}};
  }
};

privacy_world& pw() {
  static privacy_world instance;
  return instance;
}

}  // namespace

BOOST_AUTO_TEST_CASE(privacy_requests_answer_each_role_as_the_contract_says) {
  check({
      {"POST /me/export", fixed(post("/api/v1/me/export")), {{401, 202, 202, 202, 202, 202, 202}}},
      // Without the account's password nobody erases it, not even from its own session.
      {"POST /me/erase (wrong password)",
       fixed(post("/api/v1/me/erase", {{"password", "Not-The-Password-93"}})),
       {{401, 403, 403, 403, 403, 403, 403}}},
      // Someone else's request does not exist for the caller.
      {"GET /privacy/requests/{id}",
       [](world&, role) { return get("/api/v1/privacy/requests/" + pw().visitor_export); },
       {{401, 200, 404, 404, 404, 404, 200}}},
      // Only the requester downloads: an administrator sees the request, not the archive.
      {"GET /privacy/requests/{id}/archive (own export)",
       [](world&, role) {
         return get("/api/v1/privacy/requests/" + pw().visitor_export + "/archive");
       },
       {{401, 200, 404, 404, 404, 404, 403}}},
      {"GET /privacy/requests/{id}/archive (export on behalf)",
       [](world&, role) {
         return get("/api/v1/privacy/requests/" + pw().admin_export + "/archive");
       },
       {{401, 404, 404, 404, 404, 404, 200}}},
      {"POST /admin/users/{id}/export",
       [](world& x, role) { return post("/api/v1/admin/users/" + x.stranger_id + "/export"); },
       {{401, 403, 403, 403, 403, 403, 202}}},
      // A new person for each cell: the administrator's cell erases them.
      {"POST /admin/users/{id}/erase",
       [](world& x, role) {
         auto id = x.f.new_user("erasable" + std::to_string(++x.serial) + "@matrix.test").first;
         return post("/api/v1/admin/users/" + id + "/erase");
       },
       {{401, 403, 403, 403, 403, 403, 202}}},
      {"GET /admin/privacy/requests", fixed(get("/api/v1/admin/privacy/requests")), admin_only_200},
      {"POST /admin/breaches", fixed(post("/api/v1/admin/breaches", privacy_world::breach_body())),
       admin_only_201},
      {"GET /admin/breaches/{id}",
       [](world&, role) { return get("/api/v1/admin/breaches/" + pw().breach); }, admin_only_200},
      {"GET /admin/audit", fixed(get("/api/v1/admin/audit?limit=10")), admin_only_200},
  });
}

namespace {

// What one role gets for one frame on a WebSocket signed in by its session cookie (anonymous:
// none): 200 for the event that means success, the status of an error event, or the close code
// when the server closes instead.
int ws_outcome(role r, const njson& frame, const std::string& success_ev) {
  mext::test::ws_client::options o;
  if (r != anonymous) o.headers = {{"Cookie", "mext_session=" + w().token[r]}};
  mext::test::ws_client c{w().f.port, o};
  if (r != anonymous) c.next_ev("ready");
  c.send_json(frame);
  try {
    for (;;) {
      auto e = c.next();
      if (e.at("ev") == success_ev) return 200;
      if (e.at("ev") == "error") return e.at("status").get<int>();
    }
  } catch (const std::runtime_error&) {
    if (c.closed()) return c.close_code();
    throw;
  }
}

struct ws_row {
  std::string frame_name;
  std::function<njson(world&)> frame;
  std::string success_ev;
  expected_row expected;
};

}  // namespace

BOOST_AUTO_TEST_CASE(websocket_frames_answer_each_role_as_the_contract_says) {
  auto join = [](std::string world::*room) {
    return [room](world& x) { return njson{{"op", "join"}, {"room_id", x.*room}}; };
  };
  auto send = [](std::string world::*room) {
    return [room](world& x) {
      return njson{{"op", "send"},
                   {"room_id", x.*room},
                   {"text", "over the socket"},
                   {"client_msg_id", "ws" + std::to_string(++x.serial)}};
    };
  };
  // Anything but auth first closes with 1008 (API.md); admins read others' direct rooms only
  // through the audited history route, never as a live feed.
  const std::vector<ws_row> rows = {
      {"join (booth room)",
       join(&world::booth_room),
       "joined",
       {{1008, 200, 200, 200, 200, 200, 200}}},
      {"join (direct room)",
       join(&world::direct_room),
       "joined",
       {{1008, 200, 200, 403, 403, 403, 403}}},
      {"join (no such room)",
       [](world& x) {
         return njson{{"op", "join"}, {"room_id", x.booth_room + "0"}};
       },
       "joined",
       {{1008, 404, 404, 404, 404, 404, 404}}},
      {"send (booth room)",
       send(&world::booth_room),
       "ack",
       {{1008, 200, 200, 200, 200, 200, 200}}},
      {"send (direct room)",
       send(&world::direct_room),
       "ack",
       {{1008, 200, 200, 403, 403, 403, 403}}},
  };
  std::vector<std::pair<std::string, expected_row>> seen;
  for (const auto& r : rows) {
    expected_row got{};
    for (size_t i = 0; i < role_count; ++i) {
      auto who = static_cast<role>(i);
      got[i] = ws_outcome(who, r.frame(w()), r.success_ev);
      BOOST_TEST(got[i] == r.expected[i],
                 "WS " << r.frame_name << " as " << role_names[i] << ": " << got[i]);
    }
    seen.emplace_back("WS " + r.frame_name, got);
  }
  BOOST_TEST_MESSAGE("\n" << table(seen));
}
