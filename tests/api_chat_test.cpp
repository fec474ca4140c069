#define BOOST_TEST_MODULE api_chat
#include <boost/test/unit_test.hpp>

#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/api_fixture.hpp"

// Booth rooms and direct rooms over REST: posting, order, idempotency, history pages, deletion
// rights, and files attached to messages, through a real TLS socket.

namespace {

using mext::test::http_result;
using nlohmann::json;

struct chat_fixture : mext::test::api_fixture {
  std::string org, rep, rep_token, room, booth;

  chat_fixture() {
    auto b = make_booth_room();
    org = b.organization_id;
    rep = b.rep_id;
    rep_token = b.rep_token;
    booth = b.booth_id;
    room = b.room_id;
  }

  http_result post(const std::string& room_id, const std::string& text, const std::string& key,
                   const std::string& token) {
    return http().post_json("/api/v1/rooms/" + room_id + "/messages",
                            {{"text", text}, {"client_msg_id", key}}, token);
  }

  http_result history(const std::string& room_id, const std::string& token,
                      const std::string& query = "") {
    return http().get("/api/v1/rooms/" + room_id + "/messages" + query, token);
  }

  std::vector<std::string> texts(const http_result& r) {
    std::vector<std::string> out;
    auto doc = r.json();
    for (auto& m : doc.at("items")) out.push_back(m.at("text").get<std::string>());
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(booth_room_takes_messages_from_signed_in_users_only, chat_fixture) {
  auto [vis, vis_token] = new_user("vis@example.test");
  BOOST_TEST(post(room, "hi", "k1", "").status == 401);
  BOOST_TEST(history(room, "").status == 401);
  auto r = post(room, "hi", "k1", vis_token);
  BOOST_REQUIRE_EQUAL(r.status, 201);
  BOOST_TEST(r.json().at("message_id").get<std::string>().rfind(room + ".", 0) == 0);
  BOOST_TEST(r.json().at("sent_at").get<std::string>().back() == 'Z');
  auto h = history(room, vis_token);
  BOOST_TEST(h.status == 200);
  BOOST_TEST(h.json().at("items")[0].at("author_id") == vis);
  BOOST_TEST(h.json().at("items")[0].at("message_id") == r.json().at("message_id"));
  BOOST_TEST(!h.json().at("items")[0].contains("deleted"));
  BOOST_TEST(post("room_00000000000000000000000000000000", "hi", "k", vis_token).status == 404);
  BOOST_TEST(history("room_00000000000000000000000000000000", vis_token).status == 404);
  BOOST_TEST(history(booth, vis_token).status == 404);
}

BOOST_FIXTURE_TEST_CASE(malformed_messages_are_refused_with_400, chat_fixture) {
  auto [vis, vis_token] = new_user("vis@example.test");
  auto path = "/api/v1/rooms/" + room + "/messages";
  BOOST_TEST(http().post_json(path, {{"text", "no key"}}, vis_token).status == 400);
  BOOST_TEST(http().post_json(path, {{"text", 3}, {"client_msg_id", "k"}}, vis_token).status ==
             400);
  BOOST_TEST(post(room, "", "k", vis_token).status == 400);
  BOOST_TEST(post(room, std::string(4001, 'x'), "k", vis_token).status == 400);
  BOOST_TEST(post(room, "x", std::string(65, 'k'), vis_token).status == 400);
  BOOST_TEST(http()
                 .request("POST", path, "{\"text\":\"\xff\",\"client_msg_id\":\"k\"}",
                          {{"Authorization", "Bearer " + vis_token}})
                 .status == 400);
  BOOST_TEST(history(room, vis_token, "?limit=0").status == 400);
  BOOST_TEST(history(room, vis_token, "?limit=201").status == 400);
  BOOST_TEST(history(room, vis_token, "?before=abc").status == 400);
  // Nothing was written.
  BOOST_TEST(history(room, vis_token).json().at("items").empty());
}

BOOST_FIXTURE_TEST_CASE(messages_keep_one_order_and_a_repeated_client_msg_id_is_not_posted_twice,
                        chat_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  auto first = post(room, "one", "k1", a_token);
  BOOST_REQUIRE_EQUAL(first.status, 201);
  BOOST_TEST(post(room, "two", "k1", b_token).status == 201);  // keys are per author
  BOOST_TEST(post(room, "three", "k2", a_token).status == 201);

  auto again = post(room, "one (retry)", "k1", a_token);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(again.json().at("message_id") == first.json().at("message_id"));
  BOOST_TEST(again.json().at("sent_at") == first.json().at("sent_at"));

  auto seen_by_a = texts(history(room, a_token));
  auto seen_by_b = texts(history(room, b_token));
  BOOST_TEST(seen_by_a == (std::vector<std::string>{"three", "two", "one"}),
             boost::test_tools::per_element());
  BOOST_TEST(seen_by_a == seen_by_b, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(history_pages_newest_first_until_next_cursor_is_null, chat_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  for (int i = 1; i <= 7; ++i)
    BOOST_REQUIRE_EQUAL(
        post(room, "m" + std::to_string(i), "k" + std::to_string(i), a_token).status, 201);
  std::vector<std::string> all;
  std::string query = "?limit=3";
  int pages = 0;
  for (;;) {
    auto page = history(room, a_token, query);
    BOOST_REQUIRE_EQUAL(page.status, 200);
    ++pages;
    for (auto& t : texts(page)) all.push_back(t);
    auto next = page.json().at("next_cursor");
    if (next.is_null()) break;
    BOOST_REQUIRE(pages < 10);
    query = "?limit=3&before=" + next.get<std::string>();
  }
  BOOST_TEST(pages == 3);
  BOOST_TEST(all == (std::vector<std::string>{"m7", "m6", "m5", "m4", "m3", "m2", "m1"}),
             boost::test_tools::per_element());
  // A plain message number works as ?before= too: the messages numbered below 3.
  BOOST_TEST(texts(history(room, a_token, "?before=3")) == (std::vector<std::string>{"m2", "m1"}),
             boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(authors_booth_reps_and_admins_delete_messages_and_others_cannot,
                        chat_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  auto m1 = post(room, "by a", "k1", a_token).json().at("message_id").get<std::string>();
  auto m2 = post(room, "by a again", "k2", a_token).json().at("message_id").get<std::string>();
  auto m3 = post(room, "by a thrice", "k3", a_token).json().at("message_id").get<std::string>();
  auto path = "/api/v1/rooms/" + room + "/messages/";

  BOOST_TEST(http().del(path + m1).status == 401);
  BOOST_TEST(http().del(path + m1, b_token).status == 403);
  BOOST_TEST(http().del(path + room + ".msg_00000000000000000000000000000000", a_token).status ==
             404);
  BOOST_TEST(http().del(path + "room_other.msg_00000000000000000000000000000000", a_token).status ==
             404);
  BOOST_TEST(http().del(path + m1, a_token).status == 204);
  BOOST_TEST(http().del(path + m2, rep_token).status == 204);
  BOOST_TEST(http().del(path + m3, admin_token).status == 204);

  auto items = history(room, b_token).json().at("items");
  BOOST_REQUIRE_EQUAL(items.size(), 3u);
  for (auto& m : items) {
    BOOST_TEST(m.at("deleted") == true);
    BOOST_TEST(m.at("text") == "");
  }
}

BOOST_FIXTURE_TEST_CASE(direct_room_is_the_same_from_both_sides_and_closed_to_a_third,
                        chat_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  auto [c, c_token] = new_user("c@example.test");
  BOOST_TEST(http().post("/api/v1/direct/" + b).status == 401);
  BOOST_TEST(http().post("/api/v1/direct/" + a, a_token).status == 400);
  BOOST_TEST(http().post("/api/v1/direct/usr_00000000000000000000000000000000", a_token).status ==
             404);
  BOOST_TEST(http().post("/api/v1/direct/" + booth, a_token).status == 404);

  auto from_a = http().post("/api/v1/direct/" + b, a_token);
  BOOST_REQUIRE_EQUAL(from_a.status, 200);
  auto from_b = http().post("/api/v1/direct/" + a, b_token);
  BOOST_REQUIRE_EQUAL(from_b.status, 200);
  auto dm = from_a.json().at("room_id").get<std::string>();
  BOOST_TEST(from_b.json().at("room_id") == dm);
  BOOST_TEST(http().post("/api/v1/direct/" + b, a_token).json().at("room_id") == dm);

  BOOST_TEST(post(dm, "just us", "k1", a_token).status == 201);
  BOOST_TEST(texts(history(dm, b_token)) == (std::vector<std::string>{"just us"}),
             boost::test_tools::per_element());
  BOOST_TEST(history(dm, c_token).status == 403);
  BOOST_TEST(post(dm, "let me in", "k1", c_token).status == 403);
}

BOOST_FIXTURE_TEST_CASE(a_file_sent_in_a_direct_room_is_readable_by_its_members_only,
                        chat_fixture) {
  auto [a, a_token] = new_user("a@example.test");
  auto [b, b_token] = new_user("b@example.test");
  auto [c, c_token] = new_user("c@example.test");
  auto up =
      http().request("POST", "/api/v1/files", "meeting notes\n",
                     {{"Authorization", "Bearer " + a_token}, {"Content-Type", "text/plain"}});
  BOOST_REQUIRE_EQUAL(up.status, 201);
  auto file = up.json().at("file_id").get<std::string>();
  auto dm = http().post("/api/v1/direct/" + b, a_token).json().at("room_id").get<std::string>();

  BOOST_TEST(http().get("/api/v1/files/" + file, b_token).status == 403);
  // Nobody else may attach a's file, not even to a room they may write in.
  BOOST_TEST(http()
                 .post_json("/api/v1/rooms/" + room + "/messages",
                            {{"file_id", file}, {"client_msg_id", "x"}}, c_token)
                 .status == 403);
  BOOST_TEST(
      http()
          .post_json("/api/v1/rooms/" + dm + "/messages",
                     {{"file_id", "file_00000000000000000000000000000000"}, {"client_msg_id", "y"}},
                     a_token)
          .status == 404);
  auto sent = http().post_json(
      "/api/v1/rooms/" + dm + "/messages",
      {{"text", "see attached"}, {"file_id", file}, {"client_msg_id", "f1"}}, a_token);
  BOOST_REQUIRE_EQUAL(sent.status, 201);
  BOOST_TEST(history(dm, b_token).json().at("items")[0].at("file_id") == file);

  auto read = http().get("/api/v1/files/" + file, b_token);
  BOOST_TEST(read.status == 200);
  BOOST_TEST(read.body == "meeting notes\n");
  BOOST_TEST(http().get("/api/v1/files/" + file, c_token).status == 403);
  BOOST_TEST(http().get("/api/v1/files/" + file).status == 401);
}
