#pragma once
// The run as one self-contained HTML page people can read: the scenario and the machine in its
// header, the verdict, a table per operation, and SVG charts over time (latency p50/p99,
// throughput, visitors arrived, errors). No script, no outside resource.

#include <string>

#include <nlohmann/json.hpp>

namespace mext::sim {

// `report` is what report_json made.
std::string html_report(const nlohmann::json& report);

}  // namespace mext::sim
