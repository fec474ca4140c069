#define BOOST_TEST_MODULE api_catalog
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/files.hpp"
#include "http/routes.hpp"
#include "tests/support/api_fixture.hpp"

// Organizations, exhibitions, booths, content, visits and files through a real TLS socket to a
// real server on a real engine.

namespace {

using mext::test::api_fixture;
using mext::test::header_list;
using mext::test::http_result;
using nlohmann::json;

const std::string png_bytes =
    std::string("\x89PNG\r\n\x1a\n", 8) + std::string("\0\0\0\rIHDR", 8) + std::string(32, '\x07');
const std::string pdf_bytes = "%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n";

struct catalog_fixture : api_fixture {
  catalog_fixture() = default;
  explicit catalog_fixture(mext::test::api_fixture_options o) : api_fixture(std::move(o)) {}

  std::string create_org(const std::string& name) {
    auto r = http().post_json("/api/v1/organizations",
                              {{"name", name},
                               {"country", "FR"},
                               {"website", "https://example.test"},
                               {"description", "makes things"}},
                              admin_token);
    BOOST_REQUIRE_EQUAL(r.status, 201);
    return r.json().at("organization_id").get<std::string>();
  }

  std::string create_exhibition() {
    auto r = http().post_json("/api/v1/exhibitions",
                              {{"title", "Fair"},
                               {"starts_at", "2026-11-27T08:00:00Z"},
                               {"ends_at", "2026-11-30T18:00:00Z"},
                               {"description", "a fair"}},
                              admin_token);
    BOOST_REQUIRE_EQUAL(r.status, 201);
    return r.json().at("exhibition_id").get<std::string>();
  }

  json create_booth(const std::string& exh, const std::string& org, const std::string& token) {
    auto r = http().post_json("/api/v1/exhibitions/" + exh + "/booths",
                              {{"organization_id", org}, {"name", "Booth"}, {"description", "d"}},
                              token);
    BOOST_REQUIRE_EQUAL(r.status, 201);
    return r.json();
  }

  http_result upload(const std::string& bytes, const std::string& type, const std::string& token,
                     header_list extra = {}) {
    extra.emplace_back("Content-Type", type);
    if (!token.empty()) extra.emplace_back("Authorization", "Bearer " + token);
    return http().request("POST", "/api/v1/files", bytes, extra);
  }
};

mext::test::api_fixture_options small_files() {
  mext::test::api_fixture_options o;
  o.all_routes = false;
  o.extra_routes = [](mext::http::router& r, std::shared_ptr<mext::http::api> a) {
    mext::http::file_settings fs;
    fs.max_bytes = 1000;
    mext::http::add_catalog_routes(r, a, fs);
  };
  return o;
}

struct small_file_fixture : catalog_fixture {
  small_file_fixture() : catalog_fixture(small_files()) {}
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(admin_creates_organization_anyone_reads_it_and_reps_list_is_private,
                        catalog_fixture) {
  auto org = create_org("Acme");
  auto anon = http().get("/api/v1/organizations/" + org);
  BOOST_TEST(anon.status == 200);
  BOOST_TEST(anon.json().at("name") == "Acme");
  BOOST_TEST(anon.json().at("website") == "https://example.test");
  BOOST_TEST(!anon.json().contains("representative_ids"));
  auto as_admin = http().get("/api/v1/organizations/" + org, admin_token);
  BOOST_TEST(as_admin.json().at("representative_ids").is_array());
  BOOST_TEST(http().get("/api/v1/organizations/org_00000000000000000000000000000000").status ==
             404);
  BOOST_TEST(http().get("/api/v1/organizations/bth_1").status == 404);
}

BOOST_FIXTURE_TEST_CASE(creating_an_organization_needs_an_admin_and_valid_input, catalog_fixture) {
  auto [uid, token] = new_user("vis@example.test");
  json body{{"name", "X"}};
  BOOST_TEST(http().post_json("/api/v1/organizations", body).status == 401);
  auto forbidden = http().post_json("/api/v1/organizations", body, token);
  BOOST_TEST(forbidden.status == 403);
  BOOST_TEST(forbidden.header("Content-Type") == "application/problem+json");
  BOOST_TEST(
      http().post_json("/api/v1/organizations", json{{"country", "FR"}}, admin_token).status ==
      400);
  BOOST_TEST(http().post_json("/api/v1/organizations", json{{"name", 5}}, admin_token).status ==
             400);
  BOOST_TEST(
      http()
          .post_json("/api/v1/organizations", {{"name", "Y"}, {"website", "ftp://x"}}, admin_token)
          .status == 400);
  BOOST_TEST(http()
                 .request("POST", "/api/v1/organizations",
                          "{\"name\":", {{"Authorization", "Bearer " + admin_token}})
                 .status == 400);
}

BOOST_FIXTURE_TEST_CASE(representative_added_by_admin_may_edit_the_organization, catalog_fixture) {
  auto org = create_org("Acme");
  auto [rep, rep_token] = new_user("rep@example.test");
  auto [vis, vis_token] = new_user("vis@example.test");
  auto path = "/api/v1/organizations/" + org;

  BOOST_TEST(http().patch_json(path, {{"description", "new"}}, rep_token).status == 403);
  BOOST_TEST(http().post_json(path + "/representatives", {{"user_id", rep}}).status == 401);
  BOOST_TEST(http().post_json(path + "/representatives", {{"user_id", rep}}, vis_token).status ==
             403);
  BOOST_TEST(http()
                 .post_json(path + "/representatives",
                            {{"user_id", "usr_00000000000000000000000000000000"}}, admin_token)
                 .status == 404);
  BOOST_TEST(http()
                 .post_json("/api/v1/organizations/org_00000000000000000000000000000000/"
                            "representatives",
                            {{"user_id", rep}}, admin_token)
                 .status == 404);
  BOOST_TEST(http().post_json(path + "/representatives", {{"user_id", "x"}}, admin_token).status ==
             400);

  auto added = http().post_json(path + "/representatives", {{"user_id", rep}}, admin_token);
  BOOST_TEST(added.status == 200);
  BOOST_TEST(added.json().at("representative_ids") == json::array({rep}));

  auto patched = http().patch_json(path, {{"description", "new"}}, rep_token);
  BOOST_TEST(patched.status == 200);
  BOOST_TEST(patched.json().at("description") == "new");
  BOOST_TEST(patched.json().at("name") == "Acme");
  BOOST_TEST(http().patch_json(path, {{"description", 3}}, rep_token).status == 400);
  BOOST_TEST(http().patch_json(path, {{"description", "x"}}, vis_token).status == 403);
  BOOST_TEST(http().patch_json(path, {{"description", "x"}}).status == 401);
  BOOST_TEST(http().get(path, rep_token).json().at("representative_ids") == json::array({rep}));
}

BOOST_FIXTURE_TEST_CASE(organization_list_pages_with_an_opaque_cursor, catalog_fixture) {
  for (auto name : {"A", "B", "C"}) create_org(name);
  auto first = http().get("/api/v1/organizations?limit=2");
  BOOST_REQUIRE_EQUAL(first.status, 200);
  BOOST_TEST(first.json().at("items").size() == 2u);
  auto cursor = first.json().at("next_cursor");
  BOOST_REQUIRE(cursor.is_string());
  auto second = http().get("/api/v1/organizations?limit=2&cursor=" + cursor.get<std::string>());
  BOOST_TEST(second.json().at("items").size() == 1u);
  BOOST_TEST(second.json().at("next_cursor").is_null());
  BOOST_TEST(second.json().at("items")[0].at("organization_id") !=
             first.json().at("items")[0].at("organization_id"));
  BOOST_TEST(http().get("/api/v1/organizations?limit=0").status == 400);
  BOOST_TEST(http().get("/api/v1/organizations?limit=abc").status == 400);
  BOOST_TEST(http().get("/api/v1/organizations?cursor=%21%21").status == 400);
}

BOOST_FIXTURE_TEST_CASE(admin_creates_exhibitions_that_anyone_lists_and_reads, catalog_fixture) {
  auto [uid, token] = new_user("vis@example.test");
  json body{{"title", "Fair"},
            {"starts_at", "2026-11-27T08:00:00Z"},
            {"ends_at", "2026-11-30T18:00:00Z"}};
  BOOST_TEST(http().post_json("/api/v1/exhibitions", body).status == 401);
  BOOST_TEST(http().post_json("/api/v1/exhibitions", body, token).status == 403);
  auto bad = body;
  bad["ends_at"] = "2026-11-26T08:00:00Z";
  BOOST_TEST(http().post_json("/api/v1/exhibitions", bad, admin_token).status == 400);
  bad["ends_at"] = "tomorrow";
  BOOST_TEST(http().post_json("/api/v1/exhibitions", bad, admin_token).status == 400);

  auto created = http().post_json("/api/v1/exhibitions", body, admin_token);
  BOOST_REQUIRE_EQUAL(created.status, 201);
  auto id = created.json().at("exhibition_id").get<std::string>();
  BOOST_TEST(created.json().at("starts_at") == "2026-11-27T08:00:00Z");
  auto read = http().get("/api/v1/exhibitions/" + id);
  BOOST_TEST(read.status == 200);
  BOOST_TEST(read.json().at("title") == "Fair");
  auto list = http().get("/api/v1/exhibitions");
  BOOST_TEST(list.status == 200);
  BOOST_TEST(list.json().at("items").size() == 1u);
  BOOST_TEST(list.json().at("items")[0].at("exhibition_id") == id);
  BOOST_TEST(list.json().at("next_cursor").is_null());
  BOOST_TEST(http().get("/api/v1/exhibitions/exh_00000000000000000000000000000000").status == 404);
}

BOOST_FIXTURE_TEST_CASE(a_rep_creates_a_booth_with_a_working_chat_room, catalog_fixture) {
  auto exh = create_exhibition();
  auto org = create_org("Acme");
  auto other_org = create_org("Other");
  auto [rep, rep_token] = new_user("rep@example.test");
  auto [other_rep, other_token] = new_user("other@example.test");
  auto [vis, vis_token] = new_user("vis@example.test");
  make_org_rep(rep, org);
  make_org_rep(other_rep, other_org);
  auto path = "/api/v1/exhibitions/" + exh + "/booths";
  json body{{"organization_id", org}, {"name", "Acme booth"}, {"description", "robots"}};

  BOOST_TEST(http().post_json(path, body).status == 401);
  BOOST_TEST(http().post_json(path, body, vis_token).status == 403);
  BOOST_TEST(http().post_json(path, body, other_token).status == 403);
  BOOST_TEST(http()
                 .post_json("/api/v1/exhibitions/exh_00000000000000000000000000000000/booths", body,
                            rep_token)
                 .status == 404);
  BOOST_TEST(http().post_json(path, {{"organization_id", org}}, rep_token).status == 400);
  BOOST_TEST(
      http().post_json(path, {{"organization_id", "nope"}, {"name", "x"}}, rep_token).status ==
      400);

  auto created = http().post_json(path, body, rep_token);
  BOOST_REQUIRE_EQUAL(created.status, 201);
  auto booth = created.json();
  auto room = booth.at("chat_room_id").get<std::string>();
  BOOST_TEST(booth.at("exhibition_id") == exh);
  BOOST_TEST(booth.at("organization_id") == org);

  // The booth's room takes messages from any signed-in visitor.
  auto posted = http().post_json("/api/v1/rooms/" + room + "/messages",
                                 {{"text", "hello"}, {"client_msg_id", "c1"}}, vis_token);
  BOOST_TEST(posted.status == 201);
  auto history = http().get("/api/v1/rooms/" + room + "/messages", rep_token);
  BOOST_TEST(history.status == 200);
  BOOST_TEST(history.json().at("items")[0].at("text") == "hello");

  auto list = http().get(path);
  BOOST_TEST(list.status == 200);
  BOOST_TEST(list.json().at("items").size() == 1u);
  BOOST_TEST(list.json().at("items")[0].at("booth_id") == booth.at("booth_id"));
  BOOST_TEST(http().get("/api/v1/exhibitions/" + exh).json().at("booth_count") == 1);
  BOOST_TEST(http().get("/api/v1/exhibitions/exh_00000000000000000000000000000000/booths").status ==
             404);
}

BOOST_FIXTURE_TEST_CASE(booth_list_pages_and_admin_may_create_for_any_organization,
                        catalog_fixture) {
  auto exh = create_exhibition();
  auto org = create_org("Acme");
  for (int i = 0; i < 3; ++i) create_booth(exh, org, admin_token);
  auto path = "/api/v1/exhibitions/" + exh + "/booths";
  auto first = http().get(path + "?limit=2");
  BOOST_TEST(first.json().at("items").size() == 2u);
  auto cursor = first.json().at("next_cursor").get<std::string>();
  auto second = http().get(path + "?limit=2&cursor=" + cursor);
  BOOST_TEST(second.json().at("items").size() == 1u);
  BOOST_TEST(second.json().at("next_cursor").is_null());
}

BOOST_FIXTURE_TEST_CASE(a_cached_booth_list_is_served_until_a_booth_or_the_exhibition_changes,
                        catalog_fixture) {
  auto exh = create_exhibition();
  auto org = create_org("Acme");
  auto [rep, rep_token] = new_user("rep@example.test");
  make_org_rep(rep, org);
  auto booth = create_booth(exh, org, rep_token).at("booth_id").get<std::string>();
  auto path = "/api/v1/exhibitions/" + exh + "/booths";
  auto& cache = *a->booth_lists;
  auto names = [&] {
    auto r = http().get(path);
    BOOST_REQUIRE_EQUAL(r.status, 200);
    std::vector<std::string> out;
    auto body = r.json();
    for (auto& b : body.at("items"))
      out.push_back(b.at("name").get<std::string>() + "/" +
                    std::to_string(b.at("content_count").get<int>()));
    return out;
  };

  auto first = names();
  auto hits = cache.hits();
  BOOST_TEST(names() == first);
  BOOST_TEST(cache.hits() == hits + 1, "the second read is served from the cache");

  // Every change a list shows is seen by the next read: a rename, new content, a new booth.
  BOOST_REQUIRE_EQUAL(
      http().patch_json("/api/v1/booths/" + booth, {{"name", "Renamed"}}, rep_token).status, 200);
  BOOST_TEST(names() == std::vector<std::string>{"Renamed/0"});
  BOOST_REQUIRE_EQUAL(
      http()
          .post_json("/api/v1/booths/" + booth + "/content",
                     {{"kind", "post"}, {"title", "News"}, {"body", "x"}}, rep_token)
          .status,
      201);
  BOOST_TEST(names() == std::vector<std::string>{"Renamed/1"});
  create_booth(exh, org, rep_token);
  BOOST_TEST(names().size() == 2u);

  // A visit is not shown in the list, so it leaves the cached page in place.
  auto [vis, vis_token] = new_user("vis@example.test");
  names();
  BOOST_REQUIRE_EQUAL(http().post("/api/v1/booths/" + booth + "/visits", vis_token).status, 204);
  hits = cache.hits();
  names();
  BOOST_TEST(cache.hits() == hits + 1);
}

BOOST_FIXTURE_TEST_CASE(a_booth_list_cache_of_zero_entries_serves_every_read_from_the_actors,
                        catalog_fixture) {
  auto exh = create_exhibition();
  auto org = create_org("Acme");
  create_booth(exh, org, admin_token);
  a->booth_lists =
      std::make_shared<mext::http::response_cache>(mext::http::response_cache_settings{0});
  auto path = "/api/v1/exhibitions/" + exh + "/booths";
  for (int i = 0; i < 3; ++i) BOOST_TEST(http().get(path).json().at("items").size() == 1u);
  BOOST_TEST(a->booth_lists->hits() == 0u);
  BOOST_TEST(a->booth_lists->size() == 0u);
}

BOOST_FIXTURE_TEST_CASE(reps_edit_booths_and_post_content_that_anyone_reads, catalog_fixture) {
  auto exh = create_exhibition();
  auto org = create_org("Acme");
  auto [rep, rep_token] = new_user("rep@example.test");
  auto [vis, vis_token] = new_user("vis@example.test");
  make_org_rep(rep, org);
  auto booth = create_booth(exh, org, rep_token).at("booth_id").get<std::string>();
  auto path = "/api/v1/booths/" + booth;

  BOOST_TEST(http().patch_json(path, {{"name", "Renamed"}}).status == 401);
  BOOST_TEST(http().patch_json(path, {{"name", "Renamed"}}, vis_token).status == 403);
  BOOST_TEST(http().patch_json(path, {{"name", 7}}, rep_token).status == 400);
  BOOST_TEST(http().patch_json(path, {{"name", ""}}, rep_token).status == 400);
  BOOST_TEST(http()
                 .patch_json("/api/v1/booths/bth_00000000000000000000000000000000", {{"name", "x"}},
                             rep_token)
                 .status == 404);
  auto patched = http().patch_json(path, {{"name", "Renamed"}}, rep_token);
  BOOST_TEST(patched.status == 200);
  BOOST_TEST(patched.json().at("name") == "Renamed");
  BOOST_TEST(patched.json().at("description") == "d");

  json content{{"kind", "datasheet"}, {"title", "Specs"}, {"body", "torque 5 Nm"}};
  BOOST_TEST(http().post_json(path + "/content", content).status == 401);
  BOOST_TEST(http().post_json(path + "/content", content, vis_token).status == 403);
  BOOST_TEST(
      http().post_json(path + "/content", {{"kind", "poem"}, {"title", "x"}}, rep_token).status ==
      400);
  BOOST_TEST(http().post_json(path + "/content", {{"kind", "post"}}, rep_token).status == 400);
  auto posted = http().post_json(path + "/content", content, rep_token);
  BOOST_REQUIRE_EQUAL(posted.status, 201);
  BOOST_TEST(posted.json().at("kind") == "datasheet");
  BOOST_TEST(!posted.json().at("content_id").get<std::string>().empty());

  auto anon = http().get(path);
  BOOST_TEST(anon.status == 200);
  BOOST_TEST(anon.json().at("name") == "Renamed");
  BOOST_TEST(anon.json().at("content").size() == 1u);
  BOOST_TEST(anon.json().at("content")[0].at("title") == "Specs");
  BOOST_TEST(!anon.json().at("content")[0].contains("author_id"));
  BOOST_TEST(!anon.json().contains("visits"));
  BOOST_TEST(http().get("/api/v1/booths/bth_00000000000000000000000000000000").status == 404);
}

BOOST_FIXTURE_TEST_CASE(visits_are_counted_and_shown_to_reps_only_as_aggregates, catalog_fixture) {
  auto exh = create_exhibition();
  auto org = create_org("Acme");
  auto [rep, rep_token] = new_user("rep@example.test");
  auto [v1, v1_token] = new_user("v1@example.test");
  auto [v2, v2_token] = new_user("v2@example.test");
  make_org_rep(rep, org);
  auto booth = create_booth(exh, org, rep_token).at("booth_id").get<std::string>();
  auto path = "/api/v1/booths/" + booth;

  BOOST_TEST(http().post(path + "/visits").status == 401);
  BOOST_TEST(
      http().post("/api/v1/booths/bth_00000000000000000000000000000000/visits", v1_token).status ==
      404);
  BOOST_TEST(http().post_json(path + "/visits", {{"share_contact", "yes"}}, v1_token).status ==
             400);
  BOOST_TEST(http().post(path + "/visits", v1_token).status == 204);
  BOOST_TEST(http().post(path + "/visits", v1_token).status == 204);
  BOOST_TEST(http().post_json(path + "/visits", {{"share_contact", true}}, v2_token).status == 204);

  auto as_visitor = http().get(path, v1_token);
  BOOST_TEST(!as_visitor.json().contains("visits"));
  auto as_rep = http().get(path, rep_token);
  BOOST_REQUIRE(as_rep.json().contains("visits"));
  auto visits = as_rep.json().at("visits");
  BOOST_TEST(visits.at("total_visits") == 3);
  BOOST_TEST(visits.at("unique_visitors") == 2);
  BOOST_TEST(visits.at("shared_contacts") == json::array({v2}));
}

BOOST_FIXTURE_TEST_CASE(uploaded_files_are_sniffed_and_read_back_only_by_their_owner,
                        catalog_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto [b_id, b_token] = new_user("b@example.test");
  BOOST_TEST(upload(png_bytes, "image/png", "").status == 401);

  auto up = upload(png_bytes, "image/png", a_token, {{"X-File-Name", "logo 2026 é.png"}});
  BOOST_REQUIRE_EQUAL(up.status, 201);
  auto file = up.json().at("file_id").get<std::string>();
  BOOST_TEST(up.json().at("content_type") == "image/png");
  BOOST_TEST(up.json().at("size") == png_bytes.size());
  BOOST_TEST(up.json().at("name") == "logo 2026 é.png");

  auto mine = http().get("/api/v1/files/" + file, a_token);
  BOOST_TEST(mine.status == 200);
  BOOST_TEST(mine.body == png_bytes);
  BOOST_TEST(mine.header("Content-Type") == "image/png");
  BOOST_TEST(mine.header("X-Content-Type-Options") == "nosniff");
  BOOST_TEST(mine.header("Content-Disposition").find("filename*=UTF-8''logo%202026%20%C3%A9.png") !=
             std::string::npos);

  BOOST_TEST(http().get("/api/v1/files/" + file, b_token).status == 403);
  BOOST_TEST(http().get("/api/v1/files/" + file).status == 401);
  BOOST_TEST(http().get("/api/v1/files/" + file, admin_token).status == 200);
  BOOST_TEST(http().get("/api/v1/files/file_00000000000000000000000000000000", a_token).status ==
             404);
  BOOST_TEST(http().get("/api/v1/files/..%2F..%2Fetc%2Fpasswd", a_token).status == 404);

  auto text = upload("plain words\n", "text/plain; charset=utf-8", a_token);
  BOOST_REQUIRE_EQUAL(text.status, 201);
  auto text_read =
      http().get("/api/v1/files/" + text.json().at("file_id").get<std::string>(), a_token);
  BOOST_TEST(text_read.header("Content-Type") == "text/plain; charset=utf-8");
  BOOST_TEST(upload(pdf_bytes, "application/octet-stream", a_token).json().at("content_type") ==
             "application/pdf");
}

BOOST_FIXTURE_TEST_CASE(uploads_of_other_types_or_mislabelled_content_are_refused,
                        catalog_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  std::string exe = std::string("MZ\x90\0\x03\0\0\0", 8) + std::string(64, '\0');
  BOOST_TEST(upload(exe, "application/octet-stream", a_token).status == 415);
  BOOST_TEST(upload(png_bytes, "application/pdf", a_token).status == 415);
  BOOST_TEST(upload(pdf_bytes, "image/png", a_token).status == 415);
  std::string heic = std::string(
                         "\0\0\0\x18"
                         "ftypheic",
                         12) +
                     std::string(16, '\0');
  BOOST_TEST(upload(heic, "application/octet-stream", a_token).status == 415);
  std::string mp4 = std::string(
                        "\0\0\0\x18"
                        "ftypisom",
                        12) +
                    std::string(16, '\0');
  BOOST_TEST(upload(mp4, "video/mp4", a_token).status == 201);
  BOOST_TEST(upload("", "text/plain", a_token).status == 400);
}

BOOST_FIXTURE_TEST_CASE(file_names_are_metadata_and_path_tricks_are_refused, catalog_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  const std::vector<std::string> names = {"../../etc/passwd",
                                          "..\\..\\windows\\win.ini",
                                          "/etc/passwd",
                                          "..",
                                          ".",
                                          "a/b.png",
                                          "bad\xff\xfe.png",
                                          std::string(300, 'n'),
                                          "tab\there.png",
                                          "invoice\xe2\x80\xaegnp.exe"};
  for (auto& name : names) {
    auto r = upload(png_bytes, "image/png", a_token, {{"X-File-Name", name}});
    BOOST_TEST(r.status == 400, "name " << name.substr(0, 40) << " answered " << r.status);
    BOOST_TEST(r.header("Content-Type") == "application/problem+json");
  }
  // Dots inside a name are fine: it is only ever shown, never opened.
  auto ok = upload(png_bytes, "image/png", a_token, {{"X-File-Name", "..hidden..png"}});
  BOOST_TEST(ok.status == 201);
  BOOST_TEST(ok.json().at("name") == "..hidden..png");
}

BOOST_FIXTURE_TEST_CASE(uploads_have_their_own_body_limit_above_the_json_one, catalog_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  // 2 MiB: over the server's 1 MiB for JSON routes, under the 10 MiB of uploads.
  auto big = std::string(2 << 20, 'a');
  auto stored = upload(big, "text/plain", a_token);
  BOOST_TEST(stored.status == 201);
  auto json_route = http().request(
      "POST", "/api/v1/organizations", big,
      {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + admin_token}});
  BOOST_TEST(json_route.status == 413);
  BOOST_TEST(json_route.header("Content-Type") == "application/problem+json");
  BOOST_TEST(json_route.json().at("detail").get<std::string>().find("1048576") !=
             std::string::npos);
  auto over = upload(std::string((10 << 20) + 1, 'a'), "text/plain", a_token);
  BOOST_TEST(over.status == 413);
  BOOST_TEST(over.json().at("detail").get<std::string>().find("10485760") != std::string::npos);
  // The server keeps answering.
  BOOST_TEST(upload("still here", "text/plain", a_token).status == 201);
}

BOOST_FIXTURE_TEST_CASE(a_file_over_the_file_limit_is_refused_with_413, small_file_fixture) {
  auto [a_id, a_token] = new_user("a@example.test");
  auto r = upload(std::string(1001, 'a'), "text/plain", a_token);
  BOOST_TEST(r.status == 413);
  BOOST_TEST(r.header("Content-Type") == "application/problem+json");
  BOOST_TEST(upload(std::string(1000, 'a'), "text/plain", a_token).status == 201);
}

BOOST_FIXTURE_TEST_CASE(a_file_attached_to_booth_content_is_public_and_only_its_owner_attaches_it,
                        catalog_fixture) {
  auto exh = create_exhibition();
  auto org = create_org("Acme");
  auto [rep, rep_token] = new_user("rep@example.test");
  auto [vis, vis_token] = new_user("vis@example.test");
  make_org_rep(rep, org);
  auto booth = create_booth(exh, org, rep_token).at("booth_id").get<std::string>();
  auto mine =
      upload(pdf_bytes, "application/pdf", rep_token).json().at("file_id").get<std::string>();
  auto theirs = upload(png_bytes, "image/png", vis_token).json().at("file_id").get<std::string>();
  auto path = "/api/v1/booths/" + booth + "/content";

  BOOST_TEST(http().get("/api/v1/files/" + mine).status == 401);
  BOOST_TEST(
      http()
          .post_json(path, {{"kind", "poster"}, {"title", "P"}, {"file_id", theirs}}, rep_token)
          .status == 403);
  BOOST_TEST(http()
                 .post_json(path,
                            {{"kind", "poster"},
                             {"title", "P"},
                             {"file_id", "file_00000000000000000000000000000000"}},
                            rep_token)
                 .status == 404);
  auto posted = http().post_json(
      path, {{"kind", "datasheet"}, {"title", "Sheet"}, {"file_id", mine}}, rep_token);
  BOOST_REQUIRE_EQUAL(posted.status, 201);
  BOOST_TEST(posted.json().at("file_id") == mine);

  auto anon = http().get("/api/v1/files/" + mine);
  BOOST_TEST(anon.status == 200);
  BOOST_TEST(anon.body == pdf_bytes);
  BOOST_TEST(anon.header("Content-Type") == "application/pdf");
  BOOST_TEST(http().get("/api/v1/files/" + theirs, rep_token).status == 403);
}
