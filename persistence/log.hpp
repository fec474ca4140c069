#pragma once
// Structured logging: one JSON object a line on stderr, leveled.
// Only ids, counts and codes go in: never an email, name, IP address or message text.
//
//   log::info("store.commit").field("batch", n).field("request_id", rid);
// The line is written when the temporary is destroyed.

#include <cstdint>
#include <string>
#include <string_view>

namespace mext::log {

enum class level : uint8_t { debug = 0, info = 1, warn = 2, error = 3 };

void set_min_level(level lvl);
level min_level();
// Parses "debug", "info", "warn", "error"; false when the name is none of these.
bool parse_level(std::string_view name, level& out);

class line {
 public:
  line(level lvl, std::string_view event);
  line(const line&) = delete;
  line& operator=(const line&) = delete;
  ~line();

  line& field(std::string_view key, std::string_view value);
  line& field(std::string_view key, const char* value) {
    return field(key, std::string_view{value});
  }
  line& field(std::string_view key, const std::string& value) {
    return field(key, std::string_view{value});
  }
  line& field(std::string_view key, int64_t value);
  line& field(std::string_view key, uint64_t value);
  line& field(std::string_view key, int value) { return field(key, static_cast<int64_t>(value)); }
  line& field(std::string_view key, unsigned value) {
    return field(key, static_cast<uint64_t>(value));
  }
  line& field(std::string_view key, double value);
  line& field(std::string_view key, bool value);

 private:
  void key(std::string_view k);
  bool enabled_;
  std::string buf_;
};

inline line debug(std::string_view event) {
  return line{level::debug, event};
}
inline line info(std::string_view event) {
  return line{level::info, event};
}
inline line warn(std::string_view event) {
  return line{level::warn, event};
}
inline line error(std::string_view event) {
  return line{level::error, event};
}

// Appends `s` to `out` as the inside of a JSON string (quotes not included).
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace mext::log
