#define BOOST_TEST_MODULE api_agenda
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <caf/scoped_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/ask.hpp"
#include "actors/user_actor.hpp"
#include "http/ics.hpp"
#include "tests/support/api_fixture.hpp"

// Sessions, attendance, meetings and the agenda (JSON and iCalendar) through a real TLS socket.

namespace {

using mext::test::http_result;
using nlohmann::json;

struct agenda_fixture : mext::test::api_fixture {
  std::string exh;

  agenda_fixture() {
    auto e = http().post_json("/api/v1/exhibitions",
                              {{"title", "Fair"},
                               {"starts_at", "2026-11-27T08:00:00Z"},
                               {"ends_at", "2026-11-30T18:00:00Z"}},
                              admin_token);
    BOOST_REQUIRE_EQUAL(e.status, 201);
    exh = e.json().at("exhibition_id").get<std::string>();
  }

  json create_session(const std::string& title, const std::string& starts, const std::string& ends,
                      std::vector<std::string> speakers = {}) {
    auto r = http().post_json(
        "/api/v1/exhibitions/" + exh + "/sessions",
        {{"title", title}, {"starts_at", starts}, {"ends_at", ends}, {"speaker_ids", speakers}},
        admin_token);
    BOOST_REQUIRE_EQUAL(r.status, 201);
    return r.json();
  }

  http_result request_meeting(const std::string& with, const std::string& starts,
                              const std::string& ends, const std::string& token) {
    return http().post_json(
        "/api/v1/meetings",
        {{"with_user_id", with}, {"starts_at", starts}, {"ends_at", ends}, {"note", "pricing"}},
        token);
  }

  json agenda(const std::string& token) {
    auto r = http().get("/api/v1/me/agenda", token);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    return r.json().at("items");
  }

  std::vector<std::string> speaker_of(const std::string& user_id) {
    caf::scoped_actor self{*sys};
    auto user =
        mext::actors::entity<mext::actors::user_actor>(self, eng->directory(), user_id, false);
    BOOST_REQUIRE(user);
    auto view = mext::actors::ask<mext::actors::user_view>(self, *user, mext::get_atom::value,
                                                           admin_caller());
    BOOST_REQUIRE(view);
    return view->speaker_of;
  }
};

std::vector<std::string> split_crlf(const std::string& body) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto end = body.find("\r\n", pos);
    BOOST_REQUIRE_MESSAGE(end != std::string::npos, "every line ends in CRLF");
    lines.push_back(body.substr(pos, end - pos));
    pos = end + 2;
  }
  return lines;
}

// RFC 5545 3.1: a line starting with a space continues the one before.
std::vector<std::string> unfold(const std::vector<std::string>& lines) {
  std::vector<std::string> out;
  for (auto& l : lines) {
    if (!l.empty() && l[0] == ' ' && !out.empty())
      out.back() += l.substr(1);
    else
      out.push_back(l);
  }
  return out;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(admin_adds_sessions_and_speakers_get_the_speaker_role, agenda_fixture) {
  auto [sp, sp_token] = new_user("speaker@example.test");
  auto s = create_session("Keynote", "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z", {sp});
  auto sid = s.at("session_id").get<std::string>();
  BOOST_TEST(sid.rfind(exh + ".", 0) == 0);
  BOOST_TEST(s.at("speaker_ids") == json::array({sp}));
  BOOST_TEST(s.at("starts_at") == "2026-11-28T10:00:00Z");
  BOOST_TEST(speaker_of(sp) == std::vector<std::string>{sid}, boost::test_tools::per_element());

  auto listed = http().get("/api/v1/exhibitions/" + exh + "/sessions");
  BOOST_TEST(listed.status == 200);
  BOOST_TEST(listed.json().at("items")[0].at("session_id") == sid);
}

BOOST_FIXTURE_TEST_CASE(adding_a_session_is_refused_to_non_admins_and_bad_input, agenda_fixture) {
  auto [v, v_token] = new_user("v@example.test");
  auto path = "/api/v1/exhibitions/" + exh + "/sessions";
  json body{{"title", "Talk"},
            {"starts_at", "2026-11-28T10:00:00Z"},
            {"ends_at", "2026-11-28T11:00:00Z"},
            {"speaker_ids", json::array()}};
  BOOST_TEST(http().post_json(path, body).status == 401);
  BOOST_TEST(http().post_json(path, body, v_token).status == 403);
  BOOST_TEST(http()
                 .post_json("/api/v1/exhibitions/exh_00000000000000000000000000000000/sessions",
                            body, admin_token)
                 .status == 404);
  auto bad = body;
  bad.erase("title");
  BOOST_TEST(http().post_json(path, bad, admin_token).status == 400);
  bad = body;
  bad["starts_at"] = "2027-01-01T10:00:00Z";
  bad["ends_at"] = "2027-01-01T11:00:00Z";
  BOOST_TEST(http().post_json(path, bad, admin_token).status == 400);  // outside the fair
  bad = body;
  bad["speaker_ids"] = json::array({"not an id"});
  BOOST_TEST(http().post_json(path, bad, admin_token).status == 400);
  bad["speaker_ids"] = json::array({"usr_00000000000000000000000000000000"});
  BOOST_TEST(http().post_json(path, bad, admin_token).status == 404);
}

BOOST_FIXTURE_TEST_CASE(attending_a_session_puts_it_in_my_agenda_and_leaving_removes_it,
                        agenda_fixture) {
  auto [v, v_token] = new_user("v@example.test");
  auto sid = create_session("Keynote", "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z")
                 .at("session_id")
                 .get<std::string>();
  auto path = "/api/v1/sessions/" + sid + "/attend";
  BOOST_TEST(http().post(path).status == 401);
  BOOST_TEST(
      http()
          .post("/api/v1/sessions/" + exh + ".ses_00000000000000000000000000000000/attend", v_token)
          .status == 404);
  BOOST_TEST(http().post("/api/v1/sessions/" + exh + "/attend", v_token).status == 404);

  auto attended = http().post(path, v_token);
  BOOST_REQUIRE_EQUAL(attended.status, 200);
  BOOST_TEST(attended.json().at("session_id") == sid);
  BOOST_TEST(attended.json().at("status") == "attending");
  auto items = agenda(v_token);
  BOOST_REQUIRE_EQUAL(items.size(), 1u);
  BOOST_TEST(items[0].at("kind") == "session");
  BOOST_TEST(items[0].at("title") == "Keynote");
  BOOST_TEST(items[0].at("starts_at") == "2026-11-28T10:00:00Z");

  BOOST_TEST(http().del(path).status == 401);
  BOOST_TEST(http().del(path, v_token).status == 204);
  BOOST_TEST(agenda(v_token).empty());
  BOOST_TEST(http().get("/api/v1/me/agenda").status == 401);
}

BOOST_FIXTURE_TEST_CASE(a_meeting_accepted_by_the_invitee_is_accepted_in_both_agendas,
                        agenda_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  auto r = request_meeting(b, "2026-11-28T14:00:00Z", "2026-11-28T14:30:00Z", a_token);
  BOOST_REQUIRE_EQUAL(r.status, 201);
  auto mid = r.json().at("meeting_id").get<std::string>();
  BOOST_TEST(r.json().at("status") == "pending");
  BOOST_TEST(r.json().at("invitee_id") == b);

  BOOST_TEST(http().post("/api/v1/meetings/" + mid + "/accept").status == 401);
  BOOST_TEST(http().post("/api/v1/meetings/" + mid + "/accept", a_token).status == 403);
  auto accepted = http().post("/api/v1/meetings/" + mid + "/accept", b_token);
  BOOST_REQUIRE_EQUAL(accepted.status, 200);
  BOOST_TEST(accepted.json().at("status") == "accepted");

  for (auto* token : {&a_token, &b_token}) {
    auto items = agenda(*token);
    BOOST_REQUIRE_EQUAL(items.size(), 1u);
    BOOST_TEST(items[0].at("meeting_id") == mid);
    BOOST_TEST(items[0].at("status") == "accepted");
  }
  BOOST_TEST(agenda(a_token)[0].at("with_user_id") == b);
  BOOST_TEST(agenda(b_token)[0].at("with_user_id") == a);
  BOOST_TEST(agenda(b_token)[0].at("role") == "invitee");

  auto cancelled = http().post("/api/v1/meetings/" + mid + "/cancel", a_token);
  BOOST_TEST(cancelled.status == 200);
  BOOST_TEST(agenda(b_token)[0].at("status") == "cancelled");
  BOOST_TEST(http().post("/api/v1/meetings/" + mid + "/accept", b_token).status == 409);
}

BOOST_FIXTURE_TEST_CASE(a_declined_meeting_is_declined_for_both, agenda_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  auto [c, c_token] = new_user("c@example.test");
  auto mid = request_meeting(b, "2026-11-28T14:00:00Z", "2026-11-28T14:30:00Z", a_token)
                 .json()
                 .at("meeting_id")
                 .get<std::string>();
  BOOST_TEST(http().post("/api/v1/meetings/" + mid + "/decline", c_token).status == 404);
  BOOST_TEST(http().post("/api/v1/meetings/agd_x.mtg_y/decline", b_token).status == 404);
  BOOST_TEST(http().post("/api/v1/meetings/" + exh + "/decline", b_token).status == 404);
  BOOST_TEST(http().post("/api/v1/meetings/" + mid + "/decline", b_token).status == 200);
  BOOST_TEST(agenda(a_token)[0].at("status") == "declined");
}

BOOST_FIXTURE_TEST_CASE(a_meeting_overlapping_either_agenda_is_refused_with_409, agenda_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  auto [c, c_token] = new_user("c@example.test");
  BOOST_REQUIRE_EQUAL(
      request_meeting(b, "2026-11-28T14:00:00Z", "2026-11-28T15:00:00Z", a_token).status, 201);
  // The requester's agenda is busy.
  BOOST_TEST(request_meeting(c, "2026-11-28T14:30:00Z", "2026-11-28T15:30:00Z", a_token).status ==
             409);
  // The invitee's agenda is busy.
  BOOST_TEST(request_meeting(b, "2026-11-28T14:15:00Z", "2026-11-28T14:45:00Z", c_token).status ==
             409);
  // Back to back is fine.
  BOOST_TEST(request_meeting(b, "2026-11-28T15:00:00Z", "2026-11-28T15:30:00Z", c_token).status ==
             201);
  // c's refused request stays in c's agenda as cancelled; only the later one is pending.
  auto items = agenda(c_token);
  BOOST_TEST(std::count_if(items.begin(), items.end(),
                           [](const json& i) { return i.at("status") == "pending"; }) == 1);
}

BOOST_FIXTURE_TEST_CASE(meeting_requests_are_refused_for_bad_input_and_unknown_people,
                        agenda_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  BOOST_TEST(request_meeting(b, "2026-11-28T14:00:00Z", "2026-11-28T15:00:00Z", "").status == 401);
  BOOST_TEST(request_meeting("usr_00000000000000000000000000000000", "2026-11-28T14:00:00Z",
                             "2026-11-28T15:00:00Z", a_token)
                 .status == 404);
  BOOST_TEST(
      request_meeting("nobody", "2026-11-28T14:00:00Z", "2026-11-28T15:00:00Z", a_token).status ==
      400);
  BOOST_TEST(request_meeting(a, "2026-11-28T14:00:00Z", "2026-11-28T15:00:00Z", a_token).status ==
             400);
  BOOST_TEST(request_meeting(b, "2026-11-28T15:00:00Z", "2026-11-28T14:00:00Z", a_token).status ==
             400);
  BOOST_TEST(request_meeting(b, "2026-11-28T14:00:00Z", "2026-11-29T14:00:00Z", a_token).status ==
             400);
  BOOST_TEST(request_meeting(b, "soon", "later", a_token).status == 400);
  BOOST_TEST(http()
                 .post_json("/api/v1/meetings",
                            {{"with_user_id", b},
                             {"booth_id", "bth_00000000000000000000000000000000"},
                             {"starts_at", "2026-11-28T14:00:00Z"},
                             {"ends_at", "2026-11-28T15:00:00Z"}},
                            a_token)
                 .status == 404);
  BOOST_TEST(agenda(a_token).empty());
}

BOOST_FIXTURE_TEST_CASE(agenda_is_time_ordered_and_pages_with_a_cursor, agenda_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  auto late = create_session("Late", "2026-11-29T16:00:00Z", "2026-11-29T17:00:00Z");
  auto early = create_session("Early", "2026-11-28T09:00:00Z", "2026-11-28T10:00:00Z");
  BOOST_REQUIRE_EQUAL(
      http()
          .post("/api/v1/sessions/" + late.at("session_id").get<std::string>() + "/attend", a_token)
          .status,
      200);
  BOOST_REQUIRE_EQUAL(
      http()
          .post("/api/v1/sessions/" + early.at("session_id").get<std::string>() + "/attend",
                a_token)
          .status,
      200);
  BOOST_REQUIRE_EQUAL(
      request_meeting(b, "2026-11-28T12:00:00Z", "2026-11-28T12:30:00Z", a_token).status, 201);

  auto items = agenda(a_token);
  BOOST_REQUIRE_EQUAL(items.size(), 3u);
  BOOST_TEST(items[0].at("title") == "Early");
  BOOST_TEST(items[1].at("kind") == "meeting");
  BOOST_TEST(items[2].at("title") == "Late");

  auto first = http().get("/api/v1/me/agenda?limit=2", a_token);
  BOOST_TEST(first.json().at("items").size() == 2u);
  auto cursor = first.json().at("next_cursor").get<std::string>();
  auto second = http().get("/api/v1/me/agenda?limit=2&cursor=" + cursor, a_token);
  BOOST_TEST(second.json().at("items").size() == 1u);
  BOOST_TEST(second.json().at("items")[0].at("title") == "Late");
  BOOST_TEST(second.json().at("next_cursor").is_null());
  BOOST_TEST(http().get("/api/v1/me/agenda?limit=0", a_token).status == 400);
  BOOST_TEST(http().get("/api/v1/me/agenda?cursor=%24", a_token).status == 400);
}

BOOST_FIXTURE_TEST_CASE(agenda_ics_is_valid_rfc5545_with_folded_crlf_lines, agenda_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  std::string long_title =
      "Robots, ships; and scanners: a very long talk title about é-commerce and Ünicode "
      "that surely needs folding because it is far longer than seventy-five octets";
  auto sid = create_session(long_title, "2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z")
                 .at("session_id")
                 .get<std::string>();
  BOOST_REQUIRE_EQUAL(http().post("/api/v1/sessions/" + sid + "/attend", a_token).status, 200);
  auto mid = request_meeting(b, "2026-11-28T14:00:00Z", "2026-11-28T14:30:00Z", a_token)
                 .json()
                 .at("meeting_id")
                 .get<std::string>();

  BOOST_TEST(http().get("/api/v1/me/agenda.ics").status == 401);
  auto r = http().get("/api/v1/me/agenda.ics", a_token);
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(r.header("Content-Type") == "text/calendar; charset=utf-8");

  auto raw = split_crlf(r.body);
  for (auto& l : raw) {
    BOOST_TEST(l.size() <= 75u, "line of " << l.size() << " octets: " << l);
    BOOST_TEST(l.find('\n') == std::string::npos);
    BOOST_TEST(l.find('\r') == std::string::npos);
  }
  auto lines = unfold(raw);
  BOOST_REQUIRE(lines.size() >= 5u);
  BOOST_TEST(lines.front() == "BEGIN:VCALENDAR");
  BOOST_TEST(lines.back() == "END:VCALENDAR");
  BOOST_TEST(std::count(lines.begin(), lines.end(), "VERSION:2.0") == 1);
  BOOST_TEST(std::count_if(lines.begin(), lines.end(),
                           [](const std::string& l) { return l.rfind("PRODID:", 0) == 0; }) == 1);

  // Each VEVENT holds every required property once.
  std::vector<std::vector<std::string>> events;
  bool inside = false;
  for (auto& l : lines) {
    if (l == "BEGIN:VEVENT") {
      BOOST_REQUIRE(!inside);
      inside = true;
      events.emplace_back();
    } else if (l == "END:VEVENT") {
      BOOST_REQUIRE(inside);
      inside = false;
    } else if (inside) {
      events.back().push_back(l);
    }
  }
  BOOST_TEST(!inside);
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  for (auto& ev : events) {
    for (std::string prop : {"UID:", "DTSTAMP:", "DTSTART:", "DTEND:", "SUMMARY:", "STATUS:"}) {
      auto n = std::count_if(ev.begin(), ev.end(),
                             [&](const std::string& l) { return l.rfind(prop, 0) == 0; });
      BOOST_TEST(n == 1, prop << " appears " << n << " times");
    }
  }
  auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  BOOST_TEST(has("UID:" + sid + "@mext"));
  BOOST_TEST(has("UID:" + mid + "@mext"));
  BOOST_TEST(has("DTSTART:20261128T100000Z"));
  BOOST_TEST(has("DTEND:20261128T110000Z"));
  BOOST_TEST(has("STATUS:CONFIRMED"));
  BOOST_TEST(has("STATUS:TENTATIVE"));
  BOOST_TEST(
      has("SUMMARY:Robots\\, ships\\; and scanners: a very long talk title about "
          "é-commerce and Ünicode that surely needs folding because it is far longer "
          "than seventy-five octets"));
}

BOOST_AUTO_TEST_CASE(ics_folding_never_splits_a_utf8_sequence_and_escapes_text) {
  std::string value(70, 'a');
  value += "ééééééééé";
  auto folded = mext::http::ics_line("SUMMARY", value);
  auto lines = split_crlf(folded);
  BOOST_TEST(lines.size() > 1u);
  for (auto& l : lines) {
    BOOST_TEST(l.size() <= 75u);
    // No line starts or ends in the middle of a two-byte sequence.
    BOOST_TEST((static_cast<unsigned char>(l.back()) & 0xC0) != 0xC0);
  }
  BOOST_TEST(unfold(lines)[0] == "SUMMARY:" + value);
  BOOST_TEST(mext::http::ics_escape_text("a,b;c\\d\r\ne\x01") == "a\\,b\\;c\\\\d\\ne");
  BOOST_TEST(mext::http::ics_time(0) == "19700101T000000Z");
}
