#pragma once
// Writes a small MaxMind DB (format 2.0, IPv4, 24-bit records) for tests of the ISP lookup: each
// network maps to a record {"isp": name}. Follows the published MaxMind DB format specification.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mext::test {

// networks: ("203.0.113.0/24", "Example Transit"), ...; names shorter than 29 bytes.
void write_isp_mmdb(const std::filesystem::path& file,
                    const std::vector<std::pair<std::string, std::string>>& networks);

}  // namespace mext::test
