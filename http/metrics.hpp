#pragma once
// Metrics for GET /metrics in the Prometheus text exposition format 0.0.4.
//
// The HTTP figures (requests by method, route and status; latency histograms by route; requests
// in flight; rate-limit refusals) are counted by guard() (http/edge_guard.hpp) as requests are
// answered. The engine's figures (resident actors by kind, mailbox depth, directory and store
// statistics, LMDB sizes) are asked of the actors at scrape time.
//
// Figures owned elsewhere (open connections, cache hits) are registered with add_sampled and read
// at scrape time.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/directory.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/store_actor.hpp"

namespace mext::http {

struct metrics_settings {
  // Loopback clients may read /metrics without signing in (a local Prometheus or curl);
  // everyone else must be an administrator.
  bool loopback_exempt = true;
};

// What the engine reports at scrape time.
struct engine_figures {
  actors::directory_stats directory;
  std::vector<actors::resident_info> residents;
  persistence::store_stats store;
  std::optional<persistence::store_info> lmdb;
};

class metrics_registry {
 public:
  // Upper bounds of the latency histogram buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 14> latency_buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  // The figures of one (method, route): updated with atomics, without locks.
  class series {
   public:
    series(std::string method, std::string route)
        : method_(std::move(method)), route_(std::move(route)) {}
    const std::string& method() const { return method_; }
    const std::string& route() const { return route_; }

   private:
    friend class metrics_registry;
    std::string method_;
    std::string route_;
    // Answers by status 100..599; anything else counts under `other_status_`.
    std::array<std::atomic<uint64_t>, 500> by_status_{};
    std::atomic<uint64_t> other_status_{0};
    std::array<std::atomic<uint64_t>, latency_buckets.size()> buckets_{};
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> sum_ns_{0};
  };

  explicit metrics_registry(metrics_settings settings = {});
  metrics_registry(const metrics_registry&) = delete;
  metrics_registry& operator=(const metrics_registry&) = delete;

  const metrics_settings& settings() const { return settings_; }

  // The series of (method, route), created on first use; it lives as long as the registry.
  series& route(std::string_view method, std::string_view route);

  // One answered request.
  void record(series& s, int status, std::chrono::nanoseconds elapsed);
  void request_started() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  void request_finished() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  void rate_limited() { rate_limited_.fetch_add(1, std::memory_order_relaxed); }

  // A figure read at scrape time from whoever owns it (the server's open connections, a cache's
  // hits). `type` is "gauge" or "counter"; the function may be called from any thread.
  void add_sampled(std::string name, std::string type, std::string help,
                   std::function<double()> read);

  // The HTTP figures and the engine's (when given), in the text format 0.0.4. `guard_addresses`
  // is the edge guard's table size, when there is one.
  std::string render(const std::optional<engine_figures>& engine,
                     std::optional<std::size_t> guard_addresses = std::nullopt) const;

  // The Content-Type of render()'s output.
  static constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  metrics_settings settings_;
  mutable std::mutex mu_;  // guards the map, not the series' figures
  std::map<std::pair<std::string, std::string>, std::unique_ptr<series>> series_;
  struct sampled {
    std::string name, type, help;
    std::function<double()> read;
  };
  std::vector<sampled> sampled_;  // guarded by mu_
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> rate_limited_{0};
};

// A label value escaped as the text format wants it (backslash, double quote, newline).
std::string escape_label(std::string_view value);

}  // namespace mext::http
