#pragma once
// The device type and operating system of a User-Agent header, for the connection log (seed
// 1.10.1 "device Type and Operating System"). Only these two coarse values are kept, never the
// header itself: it is a fingerprinting aid the platform does not need.
//
// A few substring rules, not a full parser: good enough for the common browsers, apps and bots.
// iPadOS 13+ sends a macOS desktop User-Agent and is therefore seen as a macOS desktop.

#include <string>
#include <string_view>

namespace mext::http {

struct user_agent_info {
  // "desktop", "mobile", "tablet", "bot", or "unknown" when no User-Agent was sent.
  std::string device_type;
  // "Windows", "macOS", "iOS", "Android", "Linux", "ChromeOS" or "other".
  std::string os;
};

user_agent_info parse_user_agent(std::string_view user_agent);

}  // namespace mext::http
