#include "test_support.hpp"

#include <cstdlib>
#include <stdexcept>
#include <system_error>

namespace mext::test {

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mext-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path binary_path(const std::string& name) {
  return std::filesystem::path(MEXT_BINARY_DIR) / name;
}

}  // namespace mext::test
