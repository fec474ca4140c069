#pragma once
// The JSON report of a run: the scenario and the machine in its header, then per operation its
// counts, errors by kind and latency percentiles, the correctness checks, and the simulator's own
// CPU (a saturated generator is reported, not mistaken for a slow server).

#include <string>
#include <vector>

#include <caf/expected.hpp>

#include <nlohmann/json.hpp>

#include "sim/driver.hpp"
#include "sim/scenario.hpp"

namespace mext::sim {

nlohmann::json report_json(const scenario& sc, const run_options& o, const run_result& r);

// One report from the reports of the shards of one run (--shard I/N): counts and histograms
// added, percentiles and the pass criteria of `sc` computed again; the per-second series adds
// throughput and errors and keeps the worst shard's latency. errc::invalid_argument when the
// reports are not of `sc`.
caf::expected<nlohmann::json> merge_reports(const scenario& sc,
                                            const std::vector<nlohmann::json>& shards);

}  // namespace mext::sim
