#include "sim/report.hpp"

#include "persistence/errors.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <thread>

namespace mext::sim {
namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown";
}

double ms(uint64_t micros) {
  return static_cast<double>(micros) / 1000.0;
}

nlohmann::json series_json(const run_result& r) {
  nlohmann::json out = nlohmann::json::array();
  for (auto& p : r.series)
    out.push_back({{"t_s", p.t_s},
                   {"ok", p.ok},
                   {"errors", p.errors},
                   {"p50_ms", p.p50_ms},
                   {"p99_ms", p.p99_ms},
                   {"visitors_arrived", p.visitors_arrived}});
  return out;
}

// Percentiles of a histogram, and the histogram itself so that shards' reports merge exactly.
nlohmann::json latency_json(const histogram& h) {
  return {{"count", h.count()},
          {"p50_ms", ms(h.quantile(0.50))},
          {"p90_ms", ms(h.quantile(0.90))},
          {"p99_ms", ms(h.quantile(0.99))},
          {"p999_ms", ms(h.quantile(0.999))},
          {"max_ms", ms(h.max())},
          {"histogram", {{"max_us", h.max()}, {"buckets", h.buckets()}}}};
}

}  // namespace

nlohmann::json report_json(const scenario& sc, const run_options& o, const run_result& r) {
  utsname u{};
  uname(&u);
  nlohmann::json ops = nlohmann::json::object();
  uint64_t total = 0;
  for (auto& [op, s] : r.ops) {
    uint64_t errors = 0;
    for (auto& [k, n] : s.errors) errors += n;
    total += s.ok + errors;
    ops[name_of(op)] = {
        {"ok", s.ok},
        {"errors", s.errors},
        {"p50_ms", ms(s.latency.quantile(0.50))},
        {"p90_ms", ms(s.latency.quantile(0.90))},
        {"p99_ms", ms(s.latency.quantile(0.99))},
        {"p999_ms", ms(s.latency.quantile(0.999))},
        {"max_ms", ms(s.latency.max())},
        // The histogram itself, so that the reports of shards merge exactly.
        {"histogram", {{"max_us", s.latency.max()}, {"buckets", s.latency.buckets()}}}};
  }
  return {{"format", "mext-sim-report/1"},
          {"scenario",
           {{"name", sc.name},
            {"description", sc.description},
            {"duration_s", sc.duration_s},
            {"visitors", sc.population.visitors},
            {"booths", sc.exhibition.booths},
            {"connections", sc.connections}}},
          {"machine",
           {{"nproc", std::thread::hardware_concurrency()},
            {"cpu", cpu_model()},
            {"kernel", std::string(u.release)}}},
          {"target", o.target.host + ":" + std::to_string(o.target.port)},
          {"shard", std::to_string(o.shard) + "/" + std::to_string(o.shards)},
          {"started_at_ms", r.started_at_ms},
          {"setup_s", r.setup_s},
          {"elapsed_s", r.elapsed_s},
          {"visitors", r.visitors},
          {"operations", total},
          {"throughput_ops_s", r.elapsed_s > 0 ? static_cast<double>(total) / r.elapsed_s : 0.0},
          {"late_starts", r.late_starts},
          {"sim_cpu_percent", r.sim_cpu_percent},
          {"ops", ops},
          {"checked_messages", r.checked_messages},
          {"probes", r.probes},
          {"probe_deliveries", r.probe_deliveries},
          {"delivery", latency_json(r.delivery)},
          {"drain_s", r.drain_s},
          {"drain_complete", r.drain_complete},
          {"members", r.members_wanted},
          {"members_joined", r.members_joined},
          {"members_closed_early", r.members_closed_early},
          {"member_frames", r.member_frames},
          {"members_erased", r.members_erased},
          {"checked_meetings", r.checked_meetings},
          {"checked_agendas", r.checked_agendas},
          {"meetings_answered", r.meetings_answered},
          {"violations", r.violations},
          {"violation_notes", r.violation_notes},
          {"failed_criteria", r.failed_criteria},
          {"series", series_json(r)},
          {"passed", r.passed()}};
}

caf::expected<nlohmann::json> merge_reports(const scenario& sc,
                                            const std::vector<nlohmann::json>& shards) {
  using njson = nlohmann::json;
  if (shards.empty()) return make_error(errc::invalid_argument, "no reports to merge");
  std::map<std::string, histogram> latency;
  std::map<std::string, uint64_t> ok;
  std::map<std::string, std::map<std::string, uint64_t>> errors;
  njson out = shards.front();
  uint64_t operations = 0, checked = 0, violations = 0, visitors = 0, late = 0, probes = 0,
           deliveries = 0;
  // Counters that simply add up over shards.
  std::map<std::string, uint64_t> sums;
  histogram delivery;
  double drain = 0;
  bool drained = true;
  static const char* summed[] = {"members",         "members_joined",   "members_closed_early",
                                 "member_frames",   "members_erased",   "checked_meetings",
                                 "checked_agendas", "meetings_answered"};
  double elapsed = 0, cpu = 0;
  njson notes = njson::array();
  std::vector<njson> series;
  bool all_passed = true;
  for (auto& r : shards) {
    try {
      if (r.at("scenario").at("name") != sc.name)
        return make_error(
            errc::invalid_argument,
            "a report of scenario " + r.at("scenario").at("name").dump() + ", not " + sc.name);
      for (auto& [name, op] : r.at("ops").items()) {
        auto& h = op.at("histogram");
        latency[name].add(h.at("buckets").get<std::vector<std::pair<uint32_t, uint64_t>>>(),
                          h.at("max_us").get<uint64_t>());
        ok[name] += op.at("ok").get<uint64_t>();
        for (auto& [k, n] : op.at("errors").items()) errors[name][k] += n.get<uint64_t>();
      }
      operations += r.at("operations").get<uint64_t>();
      checked += r.at("checked_messages").get<uint64_t>();
      violations += r.at("violations").get<uint64_t>();
      visitors += r.at("visitors").get<uint64_t>();
      late += r.at("late_starts").get<uint64_t>();
      probes += r.value("probes", uint64_t{0});
      deliveries += r.value("probe_deliveries", uint64_t{0});
      for (auto k : summed) sums[k] += r.value(k, uint64_t{0});
      if (r.contains("delivery")) {
        auto& h = r.at("delivery").at("histogram");
        delivery.add(h.at("buckets").get<std::vector<std::pair<uint32_t, uint64_t>>>(),
                     h.at("max_us").get<uint64_t>());
      }
      drain = std::max(drain, r.value("drain_s", 0.0));
      drained = drained && r.value("drain_complete", true);
      elapsed = std::max(elapsed, r.at("elapsed_s").get<double>());
      cpu += r.at("sim_cpu_percent").get<double>();
      for (auto& n : r.at("violation_notes")) notes.push_back(n);
      all_passed = all_passed && r.at("passed").get<bool>();
      auto& s = r.at("series");
      for (size_t t = 0; t < s.size(); ++t) {
        if (series.size() <= t) {
          series.push_back(s[t]);
          continue;
        }
        auto& m = series[t];
        for (auto k : {"ok", "errors", "visitors_arrived"})
          m[k] = m.at(k).get<uint64_t>() + s[t].at(k).get<uint64_t>();
        for (auto k : {"p50_ms", "p99_ms"})
          m[k] = std::max(m.at(k).get<double>(), s[t].at(k).get<double>());
      }
    } catch (const std::exception& e) {
      return make_error(errc::invalid_argument, std::string("not a mext-sim report: ") + e.what());
    }
  }
  njson ops = njson::object();
  uint64_t error_total = 0;
  njson failed = njson::array();
  for (auto& [name, h] : latency) {
    uint64_t errs = 0;
    for (auto& [k, n] : errors[name]) errs += n;
    error_total += errs;
    ops[name] = {{"ok", ok[name]},
                 {"errors", errors[name]},
                 {"p50_ms", ms(h.quantile(0.50))},
                 {"p90_ms", ms(h.quantile(0.90))},
                 {"p99_ms", ms(h.quantile(0.99))},
                 {"p999_ms", ms(h.quantile(0.999))},
                 {"max_ms", ms(h.max())},
                 {"histogram", {{"max_us", h.max()}, {"buckets", h.buckets()}}}};
    for (auto& [op, bound] : sc.pass.p99_ms)
      if (name_of(op) == name && ms(h.quantile(0.99)) > bound)
        failed.push_back(name + " p99 " + std::to_string(ms(h.quantile(0.99))) + " ms over " +
                         std::to_string(bound) + " ms");
  }
  if (operations > 0 &&
      static_cast<double>(error_total) / static_cast<double>(operations) > sc.pass.max_error_rate)
    failed.push_back("error rate over " + std::to_string(sc.pass.max_error_rate));
  if (sc.pass.delivery_p99_ms > 0 && delivery.count() > 0 &&
      ms(delivery.quantile(0.99)) > sc.pass.delivery_p99_ms)
    failed.push_back("delivery p99 " + std::to_string(ms(delivery.quantile(0.99))) + " ms over " +
                     std::to_string(sc.pass.delivery_p99_ms) + " ms");
  if (violations > 0) failed.push_back(std::to_string(violations) + " correctness violations");
  out["shard"] = "merged from " + std::to_string(shards.size());
  out["ops"] = ops;
  out["operations"] = operations;
  out["elapsed_s"] = elapsed;
  out["throughput_ops_s"] = elapsed > 0 ? static_cast<double>(operations) / elapsed : 0.0;
  out["checked_messages"] = checked;
  out["violations"] = violations;
  out["violation_notes"] = notes;
  out["visitors"] = visitors;
  out["late_starts"] = late;
  out["probes"] = probes;
  out["probe_deliveries"] = deliveries;
  for (auto& [k, n] : sums) out[k] = n;
  out["delivery"] = latency_json(delivery);
  out["drain_s"] = drain;
  out["drain_complete"] = drained;
  out["sim_cpu_percent"] = cpu;
  out["series"] = series;
  out["failed_criteria"] = failed;
  out["passed"] = failed.empty() && all_passed;
  return out;
}

}  // namespace mext::sim
