#pragma once
// The edge guard: per-address token-bucket rate limits (the seed's "WAF / data packets
// filtering"; API.md: rate limited -> 429 with Retry-After), and the wrapper that every route
// handler goes through, which admits or refuses each request and records its metrics.
//
// The router has no middleware, so every route group registers its handlers through guard():
//
//   routes.add("GET", "/api/v1/booths/{id}", guard(a, "/api/v1/booths/{id}", get_booth));
//   add_guarded(routes, a, "GET", "/api/v1/booths/{id}", get_booth);  // the same, shorter
//
// guard_routes() copies a router and wraps every route not wrapped yet (the ops routes of
// add_ops_routes, or a group that forgot): a wrapped handler is never wrapped twice.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/api.hpp"
#include "http/server.hpp"

namespace mext::http {

struct edge_guard_settings {
  // Sustained requests per second of one address; 0 turns rate limiting off.
  double requests_per_second = 50;
  // Requests one address may make at once after a quiet spell (the bucket's size).
  double burst = 100;
  // Most addresses tracked; beyond it the least recently seen one is forgotten (its bucket
  // starts full again), so a flood of addresses cannot grow memory.
  std::size_t max_addresses = 65536;
  // Most header fields in one request; more are refused with 431 (the server bounds their bytes).
  std::size_t max_header_count = 100;
};

class edge_guard {
 public:
  using clock = std::chrono::steady_clock;

  struct verdict {
    bool allowed = true;
    // When refused: whole seconds until a token is back (at least 1).
    std::chrono::seconds retry_after{0};
  };

  explicit edge_guard(edge_guard_settings settings = {});
  ~edge_guard();
  edge_guard(const edge_guard&) = delete;
  edge_guard& operator=(const edge_guard&) = delete;

  // Takes one token from the bucket of `address` (an IPv6 address counts by its /64, since one
  // client holds a whole /64); thread-safe.
  verdict admit(std::string_view address, clock::time_point now = clock::now());

  // Addresses currently tracked (at most settings().max_addresses).
  std::size_t tracked() const;
  // Requests refused since start.
  uint64_t refused() const;
  const edge_guard_settings& settings() const { return settings_; }

  // The bucket key of an address: an IPv6 address's /64 prefix, anything else as given.
  static std::string bucket_key(std::string_view address);

 private:
  struct shard;
  edge_guard_settings settings_;
  std::unique_ptr<shard[]> shards_;
};

// Wraps a route handler. With a->guard, it refuses a caller over its address's rate (429
// problem+json with Retry-After) and a request of too many header fields (431). With a->metrics,
// it counts the answer's status and latency under the request's method and `route_name` (use the
// route's pattern). A handler that throws answers 500.
handler guard(std::shared_ptr<api> a, std::string route_name, handler h);

// routes.add(method, pattern, guard(a, pattern, h)).
void add_guarded(router& routes, std::shared_ptr<api> a, std::string method, std::string pattern,
                 handler h);

// A copy of `routes` in which every route goes through guard(), wrapping only those that do not
// already; the copy keeps the order of the routes.
std::shared_ptr<router> guard_routes(const router& routes, std::shared_ptr<api> a);

}  // namespace mext::http
