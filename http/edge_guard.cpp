#include "http/edge_guard.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <list>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "http/auth.hpp"
#include "http/metrics.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

// Independent locks, so that the I/O threads rarely wait on each other.
constexpr std::size_t shard_count = 16;

}  // namespace

struct edge_guard::shard {
  struct bucket {
    std::string key;
    double tokens = 0;
    clock::time_point last;
  };
  std::mutex mu;
  // Most recently seen first; the index points into it (list nodes never move).
  std::list<bucket> lru;
  std::unordered_map<std::string_view, std::list<bucket>::iterator> index;
  std::size_t capacity = 1;
  std::atomic<uint64_t> refused{0};
};

edge_guard::edge_guard(edge_guard_settings settings)
    : settings_(settings), shards_(std::make_unique<shard[]>(shard_count)) {
  settings_.burst = std::max(1.0, settings_.burst);
  const auto per_shard = std::max<std::size_t>(1, settings_.max_addresses / shard_count);
  for (std::size_t i = 0; i < shard_count; ++i) shards_[i].capacity = per_shard;
}

edge_guard::~edge_guard() = default;

std::string edge_guard::bucket_key(std::string_view address) {
  std::string text{address};
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
    text = text.substr(1, text.size() - 2);
  if (auto zone = text.find('%'); zone != std::string::npos) text.resize(zone);
  unsigned char bytes[16];
  if (text.find(':') == std::string::npos || inet_pton(AF_INET6, text.c_str(), bytes) != 1)
    return std::string{address};
  static constexpr unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(bytes, bytes + 12, v4_mapped)) {
    char buf[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, bytes + 12, buf, sizeof buf) != nullptr) return buf;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", bytes[0], bytes[1],
                bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]);
  return buf;
}

edge_guard::verdict edge_guard::admit(std::string_view address, clock::time_point now) {
  verdict out;
  const double rate = settings_.requests_per_second;
  if (!(rate > 0)) return out;
  const std::string key = bucket_key(address);
  auto& sh = shards_[std::hash<std::string_view>{}(key) % shard_count];
  std::lock_guard<std::mutex> lock(sh.mu);
  auto it = sh.index.find(key);
  shard::bucket* b = nullptr;
  if (it == sh.index.end()) {
    if (sh.lru.size() >= sh.capacity) {
      sh.index.erase(sh.lru.back().key);
      sh.lru.pop_back();
    }
    sh.lru.push_front(shard::bucket{key, settings_.burst, now});
    sh.index.emplace(sh.lru.front().key, sh.lru.begin());
    b = &sh.lru.front();
  } else {
    sh.lru.splice(sh.lru.begin(), sh.lru, it->second);
    b = &*it->second;
    if (now > b->last) {
      const double elapsed = std::chrono::duration<double>(now - b->last).count();
      b->tokens = std::min(settings_.burst, b->tokens + elapsed * rate);
      b->last = now;
    }
  }
  if (b->tokens >= 1) {
    b->tokens -= 1;
    return out;
  }
  sh.refused.fetch_add(1, std::memory_order_relaxed);
  out.allowed = false;
  out.retry_after = std::chrono::seconds{
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1 - b->tokens) / rate)))};
  return out;
}

std::size_t edge_guard::tracked() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shard_count; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    n += shards_[i].lru.size();
  }
  return n;
}

uint64_t edge_guard::refused() const {
  uint64_t n = 0;
  for (std::size_t i = 0; i < shard_count; ++i)
    n += shards_[i].refused.load(std::memory_order_relaxed);
  return n;
}

namespace {

using steady = std::chrono::steady_clock;

// One request's answer as the metrics see it: recorded once, when answered, or as the server's
// 500 when every copy of the respond_fn is dropped unanswered.
struct answer_tracker {
  std::shared_ptr<metrics_registry> metrics;
  metrics_registry::series* series = nullptr;
  steady::time_point start = steady::now();
  std::atomic<bool> done{false};

  void finish(int status) {
    if (done.exchange(true)) return;
    metrics->record(*series, status, steady::now() - start);
    metrics->request_finished();
  }
  ~answer_tracker() { finish(500); }
};

struct guarded_handler {
  std::shared_ptr<api> a;
  std::string route;
  handler inner;
  // The series of the route's method, looked up on the first request (the method is not known
  // when the handler is wrapped).
  std::shared_ptr<std::atomic<metrics_registry::series*>> cached =
      std::make_shared<std::atomic<metrics_registry::series*>>(nullptr);

  void operator()(request& req, respond_fn respond) const {
    respond_fn answer = std::move(respond);
    if (const auto& m = a->metrics) {
      auto* s = cached->load(std::memory_order_acquire);
      if (s == nullptr || s->method() != req.method) {
        s = &m->route(req.method, route);
        cached->store(s, std::memory_order_release);
      }
      auto tracker = std::make_shared<answer_tracker>();
      tracker->metrics = m;
      tracker->series = s;
      m->request_started();
      answer = [tracker, next = std::move(answer)](response r) {
        tracker->finish(r.status);
        next(std::move(r));
      };
    }
    if (const auto& g = a->guard) {
      // Behind a trusted reverse proxy every request comes from the proxy: the bucket is the
      // client's, as the proxy vouches for it (trusted-proxies), else the socket peer.
      auto v =
          g->admit(a->sessions ? client_address_of(req, a->sessions->settings().trusted_proxies).ip
                               : req.remote_ip);
      if (!v.allowed) {
        if (a->metrics) a->metrics->rate_limited();
        log::debug("http.rate_limited").field("request_id", req.request_id).field("route", route);
        const auto secs = std::to_string(v.retry_after.count());
        auto r = problem(429, "Too Many Requests",
                         "too many requests from this address; retry after " + secs + " s");
        r.headers.emplace_back("Retry-After", secs);
        answer(std::move(r));
        return;
      }
      if (req.headers.size() > g->settings().max_header_count) {
        answer(problem(431, "Request Header Fields Too Large",
                       "a request may have at most " +
                           std::to_string(g->settings().max_header_count) + " header fields"));
        return;
      }
    }
    try {
      inner(req, answer);
    } catch (...) {
      // The exception text may quote input: only the route and the request id are logged.
      log::error("http.handler_exception")
          .field("request_id", req.request_id)
          .field("route", route);
      answer(problem(500, "Internal Server Error", "the request failed"));
    }
  }
};

}  // namespace

handler guard(std::shared_ptr<api> a, std::string route_name, handler h) {
  if (!a || !h) return h;
  if (h.target<guarded_handler>() != nullptr) return h;
  return guarded_handler{std::move(a), std::move(route_name), std::move(h)};
}

void add_guarded(router& routes, std::shared_ptr<api> a, std::string method, std::string pattern,
                 handler h) {
  auto wrapped = guard(std::move(a), pattern, std::move(h));
  routes.add(std::move(method), std::move(pattern), std::move(wrapped));
}

std::shared_ptr<router> guard_routes(const router& routes, std::shared_ptr<api> a) {
  auto out = std::make_shared<router>();
  for (const auto& [method, pattern] : routes.routes()) {
    // A pattern read as a path matches its own route: a "{name}" segment is a non-empty
    // parameter value, and no literal segment can contain braces.
    auto m = routes.find(method, pattern);
    if (m.target == nullptr || m.pattern != pattern)
      throw std::logic_error("guard_routes: " + method + " " + pattern + " does not find itself");
    if (m.ws != nullptr)
      out->add_websocket(pattern, guard(a, pattern, *m.target), *m.ws);
    else
      out->add(method, pattern, guard(a, pattern, *m.target), m.max_body_bytes);
  }
  return out;
}

}  // namespace mext::http
