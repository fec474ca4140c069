#include "http/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace mext::http {
namespace {

// Shortest text that reads back as the same double; Prometheus parses Go float syntax.
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  for (int precision = 1; precision < 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) return buf;
  }
  return s;
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, uint64_t v) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += std::to_string(v);
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, double v) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  out += number(v);
  out += '\n';
}

std::string label(std::string_view key, std::string_view value) {
  std::string out{key};
  out += "=\"";
  out += escape_label(value);
  out += '"';
  return out;
}

struct kind_figures {
  uint64_t resident = 0;
  uint64_t mailbox = 0;
  uint64_t mailbox_max = 0;
  uint64_t messages = 0;
};

void render_engine(std::string& out, const engine_figures& e) {
  std::map<std::string, kind_figures> kinds;
  for (const auto& r : e.residents) {
    auto& k = kinds[r.kind];
    k.resident++;
    k.mailbox += r.mailbox;
    k.mailbox_max = std::max(k.mailbox_max, r.mailbox);
    k.messages += r.messages;
  }
  header(out, "mext_actors_resident", "gauge", "Resident entity actors by kind.");
  for (const auto& [kind, k] : kinds)
    sample(out, "mext_actors_resident", label("kind", kind), k.resident);
  header(out, "mext_actor_mailbox_depth", "gauge",
         "Messages waiting in the mailboxes of the resident actors of a kind.");
  for (const auto& [kind, k] : kinds)
    sample(out, "mext_actor_mailbox_depth", label("kind", kind), k.mailbox);
  header(out, "mext_actor_mailbox_depth_max", "gauge",
         "Deepest mailbox among the resident actors of a kind.");
  for (const auto& [kind, k] : kinds)
    sample(out, "mext_actor_mailbox_depth_max", label("kind", kind), k.mailbox_max);
  header(out, "mext_actor_messages", "gauge",
         "Messages handled by the resident actors of a kind since their activation.");
  for (const auto& [kind, k] : kinds)
    sample(out, "mext_actor_messages", label("kind", kind), k.messages);

  header(out, "mext_directory_resident", "gauge", "Entity actors resident in the directory.");
  sample(out, "mext_directory_resident", "", e.directory.resident);
  header(out, "mext_directory_activations_total", "counter", "Entity actors activated.");
  sample(out, "mext_directory_activations_total", "", e.directory.activations);
  header(out, "mext_directory_passivations_total", "counter", "Entity actors passivated.");
  sample(out, "mext_directory_passivations_total", "", e.directory.passivations);

  const auto& s = e.store;
  header(out, "mext_store_commits_total", "counter",
         "LMDB transactions committed (group commits).");
  sample(out, "mext_store_commits_total", "", s.commits);
  header(out, "mext_store_items_total", "counter", "Write items committed.");
  sample(out, "mext_store_items_total", "", s.items);
  header(out, "mext_store_failed_items_total", "counter", "Write items answered with an error.");
  sample(out, "mext_store_failed_items_total", "", s.failed_items);
  header(out, "mext_store_batch_max", "gauge", "Most write items in one transaction.");
  sample(out, "mext_store_batch_max", "", s.max_batch);
  header(out, "mext_store_batch_mean", "gauge", "Mean write items per transaction.");
  sample(out, "mext_store_batch_mean", "",
         s.commits == 0 ? 0.0 : static_cast<double>(s.items) / static_cast<double>(s.commits));
  header(out, "mext_store_commit_seconds_total", "counter", "Time spent committing.");
  sample(out, "mext_store_commit_seconds_total", "", static_cast<double>(s.commit_us_total) / 1e6);
  header(out, "mext_store_commit_seconds_mean", "gauge", "Mean time of one commit.");
  sample(out, "mext_store_commit_seconds_mean", "",
         s.commits == 0
             ? 0.0
             : static_cast<double>(s.commit_us_total) / 1e6 / static_cast<double>(s.commits));

  if (e.lmdb) {
    header(out, "mext_lmdb_map_bytes", "gauge", "Size of the LMDB map.");
    sample(out, "mext_lmdb_map_bytes", "", static_cast<uint64_t>(e.lmdb->map_bytes));
    header(out, "mext_lmdb_used_bytes", "gauge", "Bytes of the LMDB map in use.");
    sample(out, "mext_lmdb_used_bytes", "", static_cast<uint64_t>(e.lmdb->used_bytes));
    header(out, "mext_lmdb_events", "gauge", "Events stored.");
    sample(out, "mext_lmdb_events", "", e.lmdb->events);
    header(out, "mext_lmdb_snapshots", "gauge", "Snapshots stored.");
    sample(out, "mext_lmdb_snapshots", "", e.lmdb->snapshots);
  }
}

}  // namespace

std::string escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

metrics_registry::metrics_registry(metrics_settings settings) : settings_(settings) {}

metrics_registry::series& metrics_registry::route(std::string_view method, std::string_view route) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(std::string{method}, std::string{route});
  auto it = series_.find(key);
  if (it == series_.end())
    it = series_.emplace(key, std::make_unique<series>(key.first, key.second)).first;
  return *it->second;
}

void metrics_registry::record(series& s, int status, std::chrono::nanoseconds elapsed) {
  if (status >= 100 && status <= 599)
    s.by_status_[static_cast<std::size_t>(status - 100)].fetch_add(1, std::memory_order_relaxed);
  else
    s.other_status_.fetch_add(1, std::memory_order_relaxed);
  const double secs = std::chrono::duration<double>(elapsed).count();
  // Buckets are stored non-cumulative (one increment per request) and summed when rendered.
  auto b = std::lower_bound(latency_buckets.begin(), latency_buckets.end(), secs);
  if (b != latency_buckets.end())
    s.buckets_[static_cast<std::size_t>(b - latency_buckets.begin())].fetch_add(
        1, std::memory_order_relaxed);
  s.sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, elapsed.count())),
                      std::memory_order_relaxed);
  s.count_.fetch_add(1, std::memory_order_relaxed);
}

std::string metrics_registry::render(const std::optional<engine_figures>& engine,
                                     std::optional<std::size_t> guard_addresses) const {
  std::vector<const series*> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, s] : series_) all.push_back(s.get());
  }
  std::string out;
  out.reserve(4096 + all.size() * 2048);

  header(out, "mext_http_requests_total", "counter",
         "HTTP requests answered, by method, route pattern and status.");
  for (const auto* s : all) {
    const auto base = label("method", s->method()) + "," + label("route", s->route());
    for (std::size_t i = 0; i < s->by_status_.size(); ++i) {
      auto n = s->by_status_[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      sample(out, "mext_http_requests_total", base + "," + label("status", std::to_string(i + 100)),
             n);
    }
    if (auto n = s->other_status_.load(std::memory_order_relaxed); n > 0)
      sample(out, "mext_http_requests_total", base + "," + label("status", "other"), n);
  }

  header(out, "mext_http_request_duration_seconds", "histogram",
         "Time from a request's dispatch to its answer, by method and route pattern.");
  for (const auto* s : all) {
    const auto base = label("method", s->method()) + "," + label("route", s->route());
    // Read the count first: a request recorded meanwhile can only make buckets larger, and the
    // +Inf bucket is then at least every finite one.
    const uint64_t count = s->count_.load(std::memory_order_relaxed);
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i < latency_buckets.size(); ++i) {
      cumulative += s->buckets_[i].load(std::memory_order_relaxed);
      sample(out, "mext_http_request_duration_seconds_bucket",
             base + "," + label("le", number(latency_buckets[i])), cumulative);
    }
    const uint64_t total = std::max(count, cumulative);
    sample(out, "mext_http_request_duration_seconds_bucket", base + "," + label("le", "+Inf"),
           total);
    sample(out, "mext_http_request_duration_seconds_sum", base,
           static_cast<double>(s->sum_ns_.load(std::memory_order_relaxed)) / 1e9);
    sample(out, "mext_http_request_duration_seconds_count", base, total);
  }

  header(out, "mext_http_requests_in_flight", "gauge", "Requests dispatched and not yet answered.");
  sample(out, "mext_http_requests_in_flight", "",
         static_cast<double>(in_flight_.load(std::memory_order_relaxed)));
  header(out, "mext_http_rate_limited_total", "counter",
         "Requests refused with 429 by the per-address rate limit.");
  sample(out, "mext_http_rate_limited_total", "", rate_limited_.load(std::memory_order_relaxed));
  if (guard_addresses) {
    header(out, "mext_http_rate_limit_addresses", "gauge",
           "Client addresses tracked by the rate limiter.");
    sample(out, "mext_http_rate_limit_addresses", "", static_cast<uint64_t>(*guard_addresses));
  }

  std::vector<sampled> extra;
  {
    std::lock_guard<std::mutex> lock(mu_);
    extra = sampled_;
  }
  for (const auto& x : extra) {
    header(out, x.name, x.type, x.help);
    sample(out, x.name, "", x.read());
  }

  if (engine) render_engine(out, *engine);
  return out;
}

void metrics_registry::add_sampled(std::string name, std::string type, std::string help,
                                   std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  sampled_.push_back({std::move(name), std::move(type), std::move(help), std::move(read)});
}

}  // namespace mext::http
