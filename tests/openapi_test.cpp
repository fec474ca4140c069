#define BOOST_TEST_MODULE openapi
#include <boost/test/unit_test.hpp>

// The OpenAPI document and the router agree: every route the server registers (the ops routes and
// every API route group, as mextd registers them) is documented, and every documented operation is
// served, except those marked x-mext-planned (in the contract, not built yet), which must not be.
// Path parameters compare by position, not name: /booths/{id} and /booths/{booth_id} are one path.

#include <cctype>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "tests/support/api_fixture.hpp"

namespace {

using mext::test::api_fixture;
using operation = std::pair<std::string, std::string>;  // METHOD, path with "{}" parameters

std::string normalize(const std::string& pattern) {
  std::string out;
  bool in_param = false;
  for (char c : pattern) {
    if (c == '{') {
      in_param = true;
      out += "{}";
    } else if (c == '}') {
      in_param = false;
    } else if (!in_param) {
      out += c;
    }
  }
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

struct documented {
  std::set<operation> served;   // operations the document says the server serves
  std::set<operation> planned;  // operations marked x-mext-planned
};

documented operations_of(const nlohmann::json& doc) {
  static const std::set<std::string> methods = {"get",   "put",  "post",   "delete",
                                                "patch", "head", "options"};
  documented out;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const auto& [method, op] : item.items()) {
      if (!methods.count(method)) continue;
      operation o{upper(method), normalize(path)};
      (op.contains("x-mext-planned") ? out.planned : out.served).insert(o);
    }
  }
  return out;
}

std::set<operation> routes_of(const mext::http::router& r) {
  std::set<operation> out;
  for (const auto& [method, pattern] : r.routes()) out.insert({method, normalize(pattern)});
  return out;
}

std::string show(const operation& o) {
  return o.first + " " + o.second;
}

struct served_document : api_fixture {
  nlohmann::json doc;
  served_document() {
    auto r = http().get("/api/v1/openapi.json");
    BOOST_TEST_REQUIRE(r.status == 200);
    doc = r.json();
    BOOST_TEST_REQUIRE(doc.is_object());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(the_served_document_is_openapi_3_0_and_the_file_in_the_tree,
                        served_document) {
  BOOST_TEST(doc.at("openapi").get<std::string>().rfind("3.0.", 0) == 0);
  // The build embeds http/openapi.json: a stale copy would serve an old contract.
  std::ifstream in{std::string{MEXT_FIXTURE_DIR} + "/../../http/openapi.json"};
  BOOST_TEST_REQUIRE(static_cast<bool>(in));
  std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  BOOST_TEST(nlohmann::json::parse(text) == doc);
}

BOOST_FIXTURE_TEST_CASE(every_route_the_server_registers_is_documented, served_document) {
  auto ops = operations_of(doc);
  auto served = routes_of(*this->routes);
  BOOST_TEST_REQUIRE(!served.empty());
  for (const auto& r : served)
    BOOST_TEST(ops.served.count(r) == 1u, show(r) << " is served but not documented (or marked "
                                                     "x-mext-planned)");
}

BOOST_FIXTURE_TEST_CASE(every_documented_operation_is_served_unless_planned, served_document) {
  auto ops = operations_of(doc);
  auto served = routes_of(*this->routes);
  for (const auto& o : ops.served)
    BOOST_TEST(served.count(o) == 1u, show(o) << " is documented but not served");
}

BOOST_FIXTURE_TEST_CASE(planned_operations_are_not_served_yet, served_document) {
  auto ops = operations_of(doc);
  auto served = routes_of(*this->routes);
  for (const auto& o : ops.planned)
    BOOST_TEST(served.count(o) == 0u,
               show(o) << " is served: drop its x-mext-planned mark in http/openapi.json");
}

BOOST_FIXTURE_TEST_CASE(every_path_parameter_is_declared_where_it_is_used, served_document) {
  for (const auto& [path, item] : doc.at("paths").items()) {
    std::set<std::string> in_path;
    for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1))
      in_path.insert(path.substr(open + 1, path.find('}', open) - open - 1));
    for (const auto& [method, op] : item.items()) {
      std::set<std::string> declared;
      for (const auto& p : op.value("parameters", nlohmann::json::array()))
        if (p.value("in", "") == "path") declared.insert(p.value("name", ""));
      BOOST_TEST(declared == in_path, method << " " << path);
    }
  }
}
