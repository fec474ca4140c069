// Fuzz target: mext-sim's scenario loader (sim/scenario.hpp): any text gives a scenario or an
// error naming what is wrong, never a crash.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "persistence/errors.hpp"
#include "sim/scenario.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = mext::sim::parse_scenario(std::string(reinterpret_cast<const char*>(data), size));
  if (!parsed && mext::detail_of(parsed.error()).empty()) {
    std::fprintf(stderr, "finding: a refused scenario without a reason\n");
    std::abort();
  }
  return 0;
}
