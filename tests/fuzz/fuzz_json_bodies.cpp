// Fuzz target: the JSON body decoder of every route that takes a body, reached as a client
// reaches it — a well-formed request, signed in, over a real socket to the whole API.
//
// Input: "<METHOD> <pattern>\n<who>\n<body>". The first line names a route as the router lists
// it (POST /api/v1/exhibitions/{id}/booths); a line that names none picks a route by its hash,
// so mutations still land somewhere. Path parameters are filled with the fixture's live ids;
// <who> is 0 nobody, 1 visitor, 2 representative, 3 administrator. Placeholders in the body
// are expanded (fuzz_server.hpp).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_server.hpp"
#include "tests/fuzz/response_check.hpp"

namespace {

struct body_route {
  std::string method, pattern;
};

const std::vector<body_route>& body_routes() {
  static const std::vector<body_route> routes = [] {
    std::vector<body_route> out;
    for (auto& [method, pattern] : mext::fuzz::fuzz_server::get().routes())
      if (method == "POST" || method == "PATCH" || method == "PUT")
        out.push_back({method, pattern});
    return out;
  }();
  return routes;
}

// A {name} segment gets the live id of what the segment before it names.
std::string fill(const std::string& pattern) {
  static const std::map<std::string, std::string, std::less<>> by_collection = {
      {"organizations", "@ORG@"},
      {"exhibitions", "@EXH@"},
      {"booths", "@BOOTH@"},
      {"rooms", "@ROOM@"},
      {"users", "@VISITOR_ID@"}};
  std::string out, previous;
  size_t at = 0;
  while (at < pattern.size()) {
    auto next = pattern.find('/', at + 1);
    auto seg =
        pattern.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    out += '/';
    if (!seg.empty() && seg.front() == '{') {
      auto it = by_collection.find(previous);
      out += it != by_collection.end() ? it->second : "x";
    } else {
      out += seg;
    }
    previous = seg;
    if (next == std::string::npos) break;
    at = next;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& server = mext::fuzz::fuzz_server::get();
  const auto& routes = body_routes();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  auto line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  const body_route* route = nullptr;
  for (const auto& r : routes)
    if (line == r.method + " " + r.pattern) route = &r;
  if (route == nullptr) route = &routes[std::hash<std::string_view>{}(line) % routes.size()];
  int who = 0;
  if (!in.empty()) {
    who = (static_cast<unsigned char>(in.front()) - '0') & 3;
    in.remove_prefix(std::min<size_t>(2, in.size()));
  }
  auto target = server.expand(fill(route->pattern));
  auto body = server.expand(in);
  mext::fuzz::check_response(
      server.exchange(mext::fuzz::http_request(route->method, target, server.token(who), body)));
  server.keep_identities();
  return 0;
}
