#pragma once
// The JSON report of a run: the scenario and the machine in its header, then per operation its
// counts, errors by kind and latency percentiles, the correctness checks, and the simulator's own
// CPU (a saturated generator is reported, not mistaken for a slow server).

#include <string>

#include <nlohmann/json.hpp>

#include "sim/driver.hpp"
#include "sim/scenario.hpp"

namespace mext::sim {

nlohmann::json report_json(const scenario& sc, const run_options& o, const run_result& r);

}  // namespace mext::sim
