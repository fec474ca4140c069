// Fuzz target: the User-Agent parser of the connection log (http/user_agent.hpp). Any header
// must map to one of the documented device types and operating systems.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "http/user_agent.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::set<std::string, std::less<>> devices = {"desktop", "mobile", "tablet", "bot",
                                                             "unknown"};
  static const std::set<std::string, std::less<>> systems = {
      "Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS", "other"};
  auto info = mext::http::parse_user_agent({reinterpret_cast<const char*>(data), size});
  if (!devices.count(info.device_type) || !systems.count(info.os)) {
    std::fprintf(stderr, "finding: undocumented value device=%s os=%s\n", info.device_type.c_str(),
                 info.os.c_str());
    std::abort();
  }
  return 0;
}
