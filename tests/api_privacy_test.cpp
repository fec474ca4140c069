// The privacy section of the API over a real TLS socket: export completeness for a person active in
// every kind of actor, erasure completeness (login fails, rooms hold no trace of their words,
// files and meetings gone, nothing readable anywhere in the data directory), access rules, the
// administrator's requests and the audit log.
#define BOOST_TEST_MODULE api_privacy
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/support/api_fixture.hpp"

using mext::test::api_fixture;
using mext::test::http_result;
using njson = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Everything one person leaves in the engine, with the words to look for afterwards.
struct active_person {
  std::string user_id, token, email;
  std::string other_id, other_token;
  std::string booth_id, booth_room, direct_room, file_id, meeting_id, session_id;
};

constexpr const char* address = "12 Rue des Secrets, 69001 Lyon";
constexpr const char* booth_words = "Peggy speaks in the booth room";
constexpr const char* direct_words = "Peggy whispers in the direct room";
constexpr const char* meeting_note = "Peggy wants to talk pricing";
constexpr const char* file_body = "Peggy's private notes, plain text";
constexpr const char* content_title = "Datasheet of the Acme widget";

struct privacy_fixture : api_fixture {
  privacy_fixture() = default;
  explicit privacy_fixture(mext::test::api_fixture_options o) : api_fixture(std::move(o)) {}

  void expect_status(const http_result& r, int status) {
    BOOST_TEST_REQUIRE(r.status == status,
                       "expected " << status << ", got " << r.status << ": " << r.body);
  }

  active_person make_active_person() {
    active_person p;
    auto booth = make_booth_room();
    p.user_id = booth.rep_id;
    p.token = booth.rep_token;
    p.email = "rep@example.test";
    p.booth_id = booth.booth_id;
    p.booth_room = booth.room_id;
    expect_status(http().patch_json("/api/v1/me",
                                    {{"first_name", "Peggy"},
                                     {"surname", "Sealworth"},
                                     {"address", address},
                                     {"country", "FR"},
                                     {"linkedin_url", "https://www.linkedin.com/in/peggy"},
                                     {"interests", {"sealing"}}},
                                    p.token),
                  200);
    auto up = http().request("POST", "/api/v1/files", file_body,
                             {{"Content-Type", "text/plain"},
                              {"X-File-Name", "peggy-notes.txt"},
                              {"Authorization", "Bearer " + p.token}});
    expect_status(up, 201);
    p.file_id = up.json().at("file_id").get<std::string>();
    expect_status(http().post_json("/api/v1/booths/" + p.booth_id + "/content",
                                   {{"kind", "datasheet"},
                                    {"title", content_title},
                                    {"body", "specs"},
                                    {"file_id", p.file_id}},
                                   p.token),
                  201);
    auto visit = http().post("/api/v1/booths/" + p.booth_id + "/visits", p.token);
    BOOST_TEST_REQUIRE(visit.status / 100 == 2);
    expect_status(http().post_json("/api/v1/rooms/" + p.booth_room + "/messages",
                                   {{"text", booth_words}, {"client_msg_id", "p1"}}, p.token),
                  201);
    auto [other, other_token] = new_user("quentin@example.test", "Quentin", "Other");
    p.other_id = other;
    p.other_token = other_token;
    auto direct = http().post("/api/v1/direct/" + other, p.token);
    expect_status(direct, 200);
    p.direct_room = direct.json().at("room_id").get<std::string>();
    expect_status(http().post_json("/api/v1/rooms/" + p.direct_room + "/messages",
                                   {{"text", direct_words}, {"client_msg_id", "p2"}}, p.token),
                  201);
    expect_status(
        http().post_json("/api/v1/rooms/" + p.direct_room + "/messages",
                         {{"text", "Quentin answers"}, {"client_msg_id", "q1"}}, other_token),
        201);
    auto session = http().post_json("/api/v1/exhibitions/" + booth.exhibition_id + "/sessions",
                                    {{"title", "Keynote"},
                                     {"starts_at", "2026-11-28T09:00:00Z"},
                                     {"ends_at", "2026-11-28T10:00:00Z"},
                                     {"speaker_ids", {p.user_id}}},
                                    admin_token);
    expect_status(session, 201);
    p.session_id = session.json().at("session_id").get<std::string>();
    BOOST_TEST_REQUIRE(
        http().post("/api/v1/sessions/" + p.session_id + "/attend", p.token).status / 100 == 2);
    auto meeting = http().post_json("/api/v1/meetings",
                                    {{"with_user_id", other},
                                     {"starts_at", "2026-11-28T14:00:00Z"},
                                     {"ends_at", "2026-11-28T14:30:00Z"},
                                     {"note", meeting_note}},
                                    p.token);
    expect_status(meeting, 201);
    p.meeting_id = meeting.json().at("meeting_id").get<std::string>();
    return p;
  }

  // Polls a request until it is finished; the token must be allowed to read it.
  njson wait_done(const std::string& request_id, const std::string& token) {
    for (int i = 0; i < 1500; ++i) {
      auto r = http().get("/api/v1/privacy/requests/" + request_id, token);
      BOOST_TEST_REQUIRE(r.status == 200);
      auto j = r.json();
      if (j.at("status") == "completed" || j.at("status") == "failed") return j;
      std::this_thread::sleep_for(20ms);
    }
    BOOST_FAIL("the privacy request did not finish within 30 s");
    return {};
  }

  std::vector<std::string> files_with(const std::string& needle) {
    return mext::test::files_containing(dir.path(), needle);
  }

  // Nothing the person wrote or is is readable anywhere under the data directory.
  void expect_no_plaintext(const active_person& p) {
    for (std::string needle :
         {p.email, std::string(address), std::string(booth_words), std::string(direct_words),
          std::string(meeting_note), std::string(file_body), std::string("Peggy"),
          std::string("Sealworth"), std::string("127.0.0.1")})
      BOOST_TEST(files_with(needle).empty(),
                 needle << " readable in " << files_with(needle).size() << " file(s)");
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(privacy, privacy_fixture)

BOOST_AUTO_TEST_CASE(an_export_holds_every_category_of_a_person_active_everywhere) {
  auto p = make_active_person();
  auto r = http().post("/api/v1/me/export", p.token);
  expect_status(r, 202);
  auto created = r.json();
  BOOST_TEST(created.at("kind") == "export");
  BOOST_TEST(created.at("user_id") == p.user_id);
  auto id = created.at("request_id").get<std::string>();
  auto done = wait_done(id, p.token);
  BOOST_TEST(done.at("status") == "completed");
  BOOST_TEST_REQUIRE(done.contains("download_url"));
  auto archive = http().get(done.at("download_url").get<std::string>(), p.token);
  expect_status(archive, 200);
  BOOST_TEST(archive.header("content-type").find("application/json") == 0u);
  auto doc = archive.json();
  BOOST_TEST(doc.at("format") == "mext-export/1");
  BOOST_TEST(doc.at("subject_id") == p.user_id);
  auto& cats = doc.at("categories");
  for (auto c : {"account", "profile", "organizations_and_roles", "booth_content", "booth_visits",
                 "chat_messages", "chat_rooms", "files", "login_sessions", "meetings", "sessions",
                 "connection_data"})
    BOOST_TEST(!cats.at(c).empty(), c << " is empty");
  // Every category of the seed is there, held or not.
  BOOST_TEST(cats.contains("speaker_media"));
  BOOST_TEST(cats.contains("third_party_content"));
  auto text = archive.body;
  for (std::string needle :
       {p.email, std::string(address), std::string(booth_words), std::string(direct_words),
        std::string(meeting_note), std::string(content_title), p.file_id, std::string("127.0.0.1")})
    BOOST_TEST(text.find(needle) != std::string::npos, needle << " missing from the export");
  // Another person's words are theirs.
  BOOST_TEST(text.find("Quentin answers") == std::string::npos);
  // Nobody else reads it: another user does not even see the request.
  BOOST_TEST(http().get("/api/v1/privacy/requests/" + id, p.other_token).status == 404);
  BOOST_TEST(http().get("/api/v1/privacy/requests/" + id + "/archive", p.other_token).status ==
             404);
  // An administrator sees the request but does not download someone else's export.
  BOOST_TEST(http().get("/api/v1/privacy/requests/" + id, admin_token).status == 200);
  BOOST_TEST(http().get("/api/v1/privacy/requests/" + id + "/archive", admin_token).status == 403);
  // On disk, the archive and every record are sealed.
  expect_no_plaintext(p);
}

BOOST_AUTO_TEST_CASE(an_erasure_leaves_no_trace_of_the_person) {
  auto p = make_active_person();
  auto export_id = http().post("/api/v1/me/export", p.token).json().at("request_id");
  wait_done(export_id, p.token);
  // The password again, or nothing happens.
  expect_status(
      http().post_json("/api/v1/me/erase", {{"password", "not-the-password-at-all"}}, p.token),
      403);
  expect_status(http().post_json("/api/v1/me/erase", {}, p.token), 400);
  auto r =
      http().post_json("/api/v1/me/erase", {{"password", mext::test::strong_password}}, p.token);
  expect_status(r, 202);
  BOOST_TEST(r.json().at("kind") == "erase");
  auto id = r.json().at("request_id").get<std::string>();
  // Sessions end at once: the token is dead when the answer arrives.
  BOOST_TEST(http().get("/api/v1/me", p.token).status == 401);
  auto done = wait_done(id, admin_token);
  BOOST_TEST(done.at("status") == "completed");
  BOOST_TEST(done.at("records_erased").get<uint64_t>() > 0u);
  // The login fails.
  auto login = http().post_json("/api/v1/auth/login",
                                {{"email", p.email}, {"password", mext::test::strong_password}});
  BOOST_TEST(login.status == 401);
  // The rooms hold no trace of their words or name.
  for (auto room : {p.booth_room, p.direct_room}) {
    auto h = http().get("/api/v1/rooms/" + room + "/messages", p.other_token);
    expect_status(h, 200);
    BOOST_TEST(h.body.find("Peggy") == std::string::npos);
    BOOST_TEST(h.body.find(p.user_id) == std::string::npos);
    auto h_json = h.json();
    for (auto& m : h_json.at("items"))
      if (m.at("author_id") != p.other_id) BOOST_TEST(m.value("deleted", false));
  }
  // The file, the earlier export, the meeting: gone or cancelled, the other party told.
  BOOST_TEST(http().get("/api/v1/files/" + p.file_id, admin_token).status == 404);
  BOOST_TEST(
      http()
          .get("/api/v1/privacy/requests/" + export_id.get<std::string>() + "/archive", admin_token)
          .status != 200);
  auto agenda = http().get("/api/v1/me/agenda", p.other_token);
  expect_status(agenda, 200);
  bool meeting_seen = false;
  auto agenda_json = agenda.json();
  for (auto& item : agenda_json.at("items"))
    if (item.value("meeting_id", "") == p.meeting_id) {
      meeting_seen = true;
      BOOST_TEST(item.at("status") == "cancelled");
    }
  BOOST_TEST(meeting_seen, p.meeting_id << " not in " << agenda.body);
  BOOST_TEST(agenda.body.find(meeting_note) == std::string::npos);
  // An administrator's export of the person finds nothing.
  auto again = http().post("/api/v1/admin/users/" + p.user_id + "/export", admin_token);
  expect_status(again, 202);
  auto export_done = wait_done(again.json().at("request_id").get<std::string>(), admin_token);
  BOOST_TEST(export_done.at("status") == "completed");
  auto archive = http().get(
      "/api/v1/privacy/requests/" + again.json().at("request_id").get<std::string>() + "/archive",
      admin_token);
  expect_status(archive, 200);
  auto archive_json = archive.json();
  for (auto& [name, records] : archive_json.at("categories").items())
    BOOST_TEST(records.empty(), name << " still holds " << records.size() << " record(s)");
  // Not in the data directory either, after a restart that compacts the key store.
  restart();
  expect_no_plaintext(p);
  BOOST_TEST(http().get("/api/v1/privacy/requests/" + id, admin_token).json().at("status") ==
             "completed");
}

BOOST_AUTO_TEST_CASE(guessing_the_erasure_password_through_a_session_is_throttled_like_a_login) {
  auto [id, token] = new_user("guess@example.test");
  // The account's free failures (login-free-failures, 5 by default) answer 403, then 429.
  for (int i = 0; i < 5; ++i)
    expect_status(
        http().post_json("/api/v1/me/erase", {{"password", "guess-" + std::to_string(i)}}, token),
        403);
  auto refused = http().post_json("/api/v1/me/erase", {{"password", "guess-6"}}, token);
  expect_status(refused, 429);
  BOOST_TEST(!refused.header("Retry-After").empty());
  // Even the right password waits out the delay: the throttle is per account, not per guess.
  expect_status(
      http().post_json("/api/v1/me/erase", {{"password", mext::test::strong_password}}, token),
      429);
  BOOST_TEST(http().get("/api/v1/me", token).status == 200);
}

BOOST_AUTO_TEST_CASE(an_administrator_acts_on_a_persons_behalf_and_is_audited) {
  auto [user_id, token] = new_user("victor@example.test", "Victor", "Hugo");
  expect_status(http().post("/api/v1/admin/users/" + user_id + "/erase", token), 403);
  expect_status(http().post("/api/v1/admin/users/usr_x/erase", admin_token), 404);
  auto r = http().post("/api/v1/admin/users/" + user_id + "/erase", admin_token);
  expect_status(r, 202);
  auto id = r.json().at("request_id").get<std::string>();
  BOOST_TEST(r.json().at("requested_by") == admin_id);
  BOOST_TEST(http().get("/api/v1/me", token).status == 401);
  BOOST_TEST(wait_done(id, admin_token).at("status") == "completed");
  auto list = http().get("/api/v1/admin/privacy/requests", admin_token);
  expect_status(list, 200);
  bool listed = false;
  auto list_json = list.json();
  for (auto& item : list_json.at("items")) listed |= item.at("request_id") == id;
  BOOST_TEST(listed, list.body);
  expect_status(http().get("/api/v1/admin/privacy/requests", token), 401);
  auto audit = http().get("/api/v1/admin/audit?limit=1000", admin_token);
  expect_status(audit, 200);
  bool requested = false, completed = false;
  auto audit_json = audit.json();
  for (auto& e : audit_json.at("items")) {
    if (e.at("what").at("target") == id && e.at("what").at("action") == "privacy_request") {
      requested = true;
      BOOST_TEST(e.at("who") == admin_id);
      BOOST_TEST(e.at("whose") == njson::array({user_id}));
    }
    completed |= e.at("what").at("action") == "privacy_completed" && e.at("request_id") == id;
  }
  BOOST_TEST(requested);
  BOOST_TEST(completed);
  BOOST_TEST(audit.body.find("victor@example.test") == std::string::npos);
  // Newest first, paged with the cursor.
  auto first = http().get("/api/v1/admin/audit?limit=1", admin_token).json();
  BOOST_TEST_REQUIRE(first.at("next_cursor").is_string());
  auto second =
      http()
          .get("/api/v1/admin/audit?limit=1&cursor=" + first.at("next_cursor").get<std::string>(),
               admin_token)
          .json();
  BOOST_TEST_REQUIRE(second.at("items").size() == 1u);
  BOOST_TEST(second.at("items")[0].at("when") <= first.at("items")[0].at("when"));
  BOOST_TEST(second.at("items")[0].at("audit_id") != first.at("items")[0].at("audit_id"));
  expect_status(http().get("/api/v1/admin/audit?cursor=not-a-cursor", admin_token), 400);
}

BOOST_AUTO_TEST_CASE(an_administrators_correction_is_made_only_with_its_audit_entry) {
  auto [ada, token] = new_user("ada@example.test", "Ada", "Byronn");
  njson fix{{"surname", "Byron"}, {"reason", "the person asked by phone, ticket 4711"}};
  expect_status(http().patch_json("/api/v1/admin/users/" + ada, fix, token), 403);
  expect_status(
      http().patch_json("/api/v1/admin/users/" + ada, {{"surname", "Byron"}}, admin_token), 400);
  expect_status(
      http().patch_json("/api/v1/admin/users/" + ada, {{"reason", "nothing"}}, admin_token), 400);
  expect_status(http().patch_json("/api/v1/admin/users/usr_00000000000000000000000000000000", fix,
                                  admin_token),
                404);
  auto r = http().patch_json("/api/v1/admin/users/" + ada, fix, admin_token);
  expect_status(r, 200);
  BOOST_TEST(r.json().at("surname") == "Byron");
  BOOST_TEST(http().get("/api/v1/me", token).json().at("surname") == "Byron");
  auto audit = http().get("/api/v1/admin/audit?limit=1000", admin_token).json();
  int corrections = 0;
  for (auto& e : audit.at("items")) {
    if (e.at("what").at("action") != "rectification") continue;
    ++corrections;
    BOOST_TEST(e.at("who") == admin_id);
    BOOST_TEST(e.at("whose") == njson::array({ada}));
    BOOST_TEST(e.at("what").at("detail") == "surname");
    BOOST_TEST(e.at("why") == "the person asked by phone, ticket 4711");
  }
  BOOST_TEST(corrections == 1);
  // The person's own corrections are theirs to make, and not audited.
  expect_status(http().patch_json("/api/v1/me", {{"country", "GB"}}, token), 200);
  auto after = http().get("/api/v1/admin/audit?limit=1000", admin_token).json();
  BOOST_TEST(after.at("items").size() == audit.at("items").size());
  BOOST_TEST(files_with("ticket 4711").empty());
}

BOOST_AUTO_TEST_CASE(an_administrator_reading_private_messages_or_files_is_audited) {
  auto p = make_active_person();
  auto audited = [&](const std::string& action, const std::string& target) {
    auto audit = http().get("/api/v1/admin/audit?limit=1000", admin_token).json();
    int n = 0;
    for (auto& e : audit.at("items"))
      if (e.at("what").at("action") == action && e.at("what").at("target") == target) {
        ++n;
        BOOST_TEST(e.at("who") == admin_id);
      }
    return n;
  };
  expect_status(http().get("/api/v1/rooms/" + p.direct_room + "/messages", admin_token), 200);
  BOOST_TEST(audited("read_direct_room", p.direct_room) == 1);
  // A booth room is open to every signed-in user: nothing private, nothing to audit.
  expect_status(http().get("/api/v1/rooms/" + p.booth_room + "/messages", admin_token), 200);
  BOOST_TEST(audited("read_direct_room", p.booth_room) == 0);
  // Its members read it without an entry.
  expect_status(http().get("/api/v1/rooms/" + p.direct_room + "/messages", p.token), 200);
  BOOST_TEST(audited("read_direct_room", p.direct_room) == 1);
  // The file is attached to public booth content: an administrator reads it like anyone.
  expect_status(http().get("/api/v1/files/" + p.file_id, admin_token), 200);
  BOOST_TEST(audited("read_file", p.file_id) == 0);
  auto up =
      http().request("POST", "/api/v1/files", "private notes",
                     {{"Content-Type", "text/plain"}, {"Authorization", "Bearer " + p.token}});
  expect_status(up, 201);
  auto private_file = up.json().at("file_id").get<std::string>();
  expect_status(http().get("/api/v1/files/" + private_file, admin_token), 200);
  BOOST_TEST(audited("read_file", private_file) == 1);
  expect_status(http().get("/api/v1/files/" + private_file, p.token), 200);
  BOOST_TEST(audited("read_file", private_file) == 1);
}

std::string hours_ago(int h) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count() -
            int64_t{h} * 3600 * 1000;
  return mext::http::format_rfc3339(ms - ms % 1000);
}

njson breach_body(const std::vector<std::string>& people, const std::string& detected_at) {
  return {{"description", "A laptop holding an export was stolen from a car"},
          {"detected_at", detected_at},
          {"categories", {"account", "profile"}},
          {"user_ids", people},
          {"likely_consequences", "phishing using the names and emails"},
          {"measures_taken", "the laptop's disk was encrypted; sessions were ended"}};
}

njson wait_notified(privacy_fixture& f, const std::string& breach) {
  for (int i = 0; i < 1500; ++i) {
    auto r = f.http().get("/api/v1/admin/breaches/" + breach, f.admin_token);
    BOOST_TEST_REQUIRE(r.status == 200, r.body);
    auto j = r.json();
    if (j.at("status") == "notified") return j;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_FAIL("the notices were not all delivered within 30 s");
  return {};
}

BOOST_AUTO_TEST_CASE(a_breach_notifies_each_person_concerned_and_reports_to_the_authority) {
  auto [ada, ada_token] = new_user("ada@example.test", "Ada", "Byron");
  auto [bob, bob_token] = new_user("bob@example.test", "Bob", "Other");
  auto [gone, gone_token] = new_user("gone@example.test", "Gone", "Erased");
  auto erased = http().post("/api/v1/admin/users/" + gone + "/erase", admin_token);
  expect_status(erased, 202);
  wait_done(erased.json().at("request_id").get<std::string>(), admin_token);
  auto detected = hours_ago(2);
  expect_status(http().post_json("/api/v1/admin/breaches", breach_body({ada}, detected), ada_token),
                403);
  auto bad = breach_body({ada}, hours_ago(-2));
  expect_status(http().post_json("/api/v1/admin/breaches", bad, admin_token), 400);
  bad = breach_body({"not-a-user"}, detected);
  expect_status(http().post_json("/api/v1/admin/breaches", bad, admin_token), 400);
  bad = breach_body({ada}, detected);
  bad.erase("description");
  expect_status(http().post_json("/api/v1/admin/breaches", bad, admin_token), 400);

  auto r = http().post_json("/api/v1/admin/breaches", breach_body({ada, bob, gone}, detected),
                            admin_token);
  expect_status(r, 201);
  auto id = r.json().at("breach_id").get<std::string>();
  auto deadline = mext::http::parse_rfc3339(r.json().at("notify_authority_by").get<std::string>());
  BOOST_REQUIRE(deadline);
  BOOST_TEST(*deadline - *mext::http::parse_rfc3339(detected) == int64_t{72} * 3600 * 1000);
  auto b = wait_notified(*this, id);
  BOOST_TEST(b.at("notices").at("sent") == 2);
  BOOST_TEST(b.at("notices").at("skipped") == 1);
  BOOST_TEST(b.at("notices_sent") == 2);
  auto& report = b.at("authority_report");
  BOOST_TEST(report.at("nature").at("approximate_number_of_data_subjects") == 3);
  BOOST_TEST(report.at("nature").at("categories_of_personal_data") ==
             njson::array({"account", "profile"}));
  BOOST_TEST(report.at("contact_point").is_string());
  BOOST_TEST(report.at("likely_consequences") == "phishing using the names and emails");
  BOOST_TEST(report.at("measures_taken_or_proposed").is_string());
  BOOST_TEST(report.at("deadline_passed") == false);
  // One message a person, to that person alone, in the spool.
  std::vector<std::string> mails;
  for (auto& e : std::filesystem::directory_iterator(dir.path() / "notice-spool")) {
    std::ifstream in(e.path());
    mails.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  BOOST_TEST_REQUIRE(mails.size() == 2u);
  for (auto& m : mails) {
    bool to_ada = m.find("To: ada@example.test\r\n") != std::string::npos;
    bool to_bob = m.find("To: bob@example.test\r\n") != std::string::npos;
    BOOST_TEST(to_ada != to_bob);
    BOOST_TEST(m.find(to_ada ? "bob@example.test" : "ada@example.test") == std::string::npos);
    BOOST_TEST(m.find(id) != std::string::npos);
    BOOST_TEST(m.find("A laptop holding an export was stolen") != std::string::npos);
  }
  // Recorded in the audit log; unknown ids are 404.
  auto audit = http().get("/api/v1/admin/audit?limit=1000", admin_token).body;
  BOOST_TEST(audit.find("breach_recorded") != std::string::npos);
  BOOST_TEST(audit.find("breach_notice_sent") != std::string::npos);
  expect_status(
      http().get("/api/v1/admin/breaches/brc_00000000000000000000000000000000", admin_token), 404);
  // A person erased afterwards takes their waiting notice with them.
  auto ada_erased = http().post("/api/v1/admin/users/" + ada + "/erase", admin_token);
  expect_status(ada_erased, 202);
  wait_done(ada_erased.json().at("request_id").get<std::string>(), admin_token);
  size_t left = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path() / "notice-spool")) {
    ++left;
    BOOST_TEST(e.path().filename().string().find(ada) == std::string::npos);
  }
  BOOST_TEST(left == 1u);
  // The register survives a restart.
  restart();
  BOOST_TEST(http().get("/api/v1/admin/breaches/" + id, admin_token).json().at("notices_sent") ==
             2);
}

mext::test::api_fixture_options failing_command() {
  mext::test::api_fixture_options o;
  o.privacy.notice_command = "cat > /dev/null; exit 3";
  o.privacy.notice_retry = std::chrono::milliseconds(50);
  o.privacy.notice_attempts = 2;
  return o;
}

struct failing_fixture : privacy_fixture {
  failing_fixture() : privacy_fixture(failing_command()) {}
};

BOOST_FIXTURE_TEST_CASE(a_notice_command_that_keeps_failing_marks_the_notice_failed,
                        failing_fixture) {
  auto [ada, token] = new_user("ada@example.test", "Ada", "Byron");
  auto r =
      http().post_json("/api/v1/admin/breaches", breach_body({ada}, hours_ago(1)), admin_token);
  expect_status(r, 201);
  auto id = r.json().at("breach_id").get<std::string>();
  auto b = wait_notified(*this, id);
  BOOST_TEST(b.at("notices").at("failed") == 1);
  BOOST_TEST(b.at("notices_sent") == 0);
}

mext::test::api_fixture_options working_command(const std::filesystem::path& out) {
  mext::test::api_fixture_options o;
  o.privacy.notice_command = "cat >> '" + out.string() + "'";
  return o;
}

struct command_fixture : privacy_fixture {
  command_fixture() : privacy_fixture(working_command(outbox_file())) {}
  static std::filesystem::path outbox_file() {
    static mext::test::temp_dir out;
    return out.path() / "sent.eml";
  }
};

BOOST_FIXTURE_TEST_CASE(a_notice_command_gets_the_message_on_its_input, command_fixture) {
  auto [ada, token] = new_user("ada@example.test", "Ada", "Byron");
  auto r =
      http().post_json("/api/v1/admin/breaches", breach_body({ada}, hours_ago(1)), admin_token);
  expect_status(r, 201);
  auto b = wait_notified(*this, r.json().at("breach_id").get<std::string>());
  BOOST_TEST(b.at("notices_sent") == 1);
  std::ifstream in(outbox_file());
  std::string sent((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  BOOST_TEST(sent.find("To: ada@example.test\r\n") == 0u);
  BOOST_TEST(sent.find("Subject: Notice of a personal data breach") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
