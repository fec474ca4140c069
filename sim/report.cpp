#include "sim/report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
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
    ops[name_of(op)] = {{"ok", s.ok},
                        {"errors", s.errors},
                        {"p50_ms", ms(s.latency.quantile(0.50))},
                        {"p90_ms", ms(s.latency.quantile(0.90))},
                        {"p99_ms", ms(s.latency.quantile(0.99))},
                        {"p999_ms", ms(s.latency.quantile(0.999))},
                        {"max_ms", ms(s.latency.max())}};
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
          {"violations", r.violations},
          {"violation_notes", r.violation_notes},
          {"failed_criteria", r.failed_criteria},
          {"series", series_json(r)},
          {"passed", r.passed()}};
}

}  // namespace mext::sim
