#include "http/user_agent.hpp"

#include <algorithm>
#include <cctype>
#include <initializer_list>

namespace mext::http {
namespace {

bool has(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

bool has_any(const std::string& haystack, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return has(haystack, n); });
}

}  // namespace

user_agent_info parse_user_agent(std::string_view user_agent) {
  std::string ua;
  ua.reserve(user_agent.size());
  for (char c : user_agent)
    ua.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  user_agent_info out;

  // Order matters: iOS and Android User-Agents also name macOS ("like Mac OS X") and Linux.
  if (has_any(ua, {"iphone", "ipad", "ipod"}))
    out.os = "iOS";
  else if (has(ua, "android"))
    out.os = "Android";
  else if (has(ua, "cros"))
    out.os = "ChromeOS";
  else if (has(ua, "windows"))
    out.os = "Windows";
  else if (has_any(ua, {"macintosh", "mac os x"}))
    out.os = "macOS";
  else if (has_any(ua, {"linux", "x11", "ubuntu", "fedora", "debian"}))
    out.os = "Linux";
  else
    out.os = "other";

  if (ua.find_first_not_of(" \t") == std::string::npos)
    out.device_type = "unknown";
  else if (has_any(ua, {"bot", "crawl", "spider", "slurp", "curl/", "wget/", "python-requests",
                        "python-urllib", "go-http-client", "libwww", "java/", "headlesschrome",
                        "facebookexternalhit", "httpclient"}))
    out.device_type = "bot";
  else if (has_any(ua, {"ipad", "tablet", "kindle", "silk/", "playbook"}) ||
           (has(ua, "android") && !has(ua, "mobile")))
    out.device_type = "tablet";
  else if (has_any(ua, {"mobile", "iphone", "ipod", "windows phone", "blackberry", "opera mini",
                        "iemobile"}))
    out.device_type = "mobile";
  else
    out.device_type = "desktop";
  return out;
}

}  // namespace mext::http
