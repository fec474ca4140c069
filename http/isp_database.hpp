#pragma once
// The ISP of a client address, for the connection log (seed: "Internet service provider"): a
// MaxMind-format database (GeoIP2/GeoLite2 ISP or ASN, or any .mmdb with the same fields) read
// with libmaxminddb. Optional: without one, connection records say "unknown".

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <caf/expected.hpp>

namespace mext::http {

class isp_database {
 public:
  // Opens the file (memory-mapped; lookups are then thread-safe). invalid_argument naming the file
  // and libmaxminddb's reason when it cannot be read as a MaxMind database.
  static caf::expected<std::shared_ptr<const isp_database>> open(const std::filesystem::path& file);
  ~isp_database();
  isp_database(const isp_database&) = delete;
  isp_database& operator=(const isp_database&) = delete;

  // The record's "isp", else "autonomous_system_organization", else "organization"; nothing for
  // an address that is not in the database (or not an address).
  std::optional<std::string> lookup(const std::string& ip) const;

 private:
  struct impl;
  explicit isp_database(std::unique_ptr<impl> d);
  std::unique_ptr<impl> d_;
};

}  // namespace mext::http
