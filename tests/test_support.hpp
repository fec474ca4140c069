#pragma once
// Helpers shared by the test suites: temporary directories and child processes.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "persistence/errors.hpp"

namespace caf {
class actor_system_config;
}

namespace mext::test {

// The scheduler mextd runs by default (http::configure_scheduler): the suites test what
// production runs, and its mutex hand-offs are visible to ThreadSanitizer.
void use_mextd_scheduler(caf::actor_system_config& cfg);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class temp_dir {
 public:
  temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Path of a built binary (mextd, test helpers) in the build tree.
std::filesystem::path binary_path(const std::string& name);

// Every regular file under `dir` whose bytes contain `needle`, as paths relative to `dir`: the
// scan the privacy promises are checked with (no personal value readable anywhere on disk).
std::vector<std::string> files_containing(const std::filesystem::path& dir,
                                          std::string_view needle);

// A blocking TCP connection to 127.0.0.1:port, for suites that speak raw bytes; -1 when the
// socket or the connection fails. The caller closes it.
int connect_loopback(uint16_t port);

}  // namespace mext::test

namespace mext {
// Boost.Test prints these when an assertion on an error code fails.
inline std::ostream& operator<<(std::ostream& os, errc code) {
  return os << to_string(code);
}
inline std::ostream& operator<<(std::ostream& os, const std::optional<errc>& code) {
  return code ? os << *code : os << "(no mext error)";
}
}  // namespace mext
