#include "log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace mext::log {
namespace {

std::atomic<level> g_min{level::info};

const char* name_of(level lvl) {
  switch (lvl) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}

void append_time(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  out += buf;
}

}  // namespace

void set_min_level(level lvl) {
  g_min.store(lvl, std::memory_order_relaxed);
}
level min_level() {
  return g_min.load(std::memory_order_relaxed);
}

bool parse_level(std::string_view name, level& out) {
  if (name == "debug")
    out = level::debug;
  else if (name == "info")
    out = level::info;
  else if (name == "warn")
    out = level::warn;
  else if (name == "error")
    out = level::error;
  else
    return false;
  return true;
}

void append_json_escaped(std::string& out, std::string_view s) {
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

line::line(level lvl, std::string_view event) : enabled_(lvl >= min_level()) {
  if (!enabled_) return;
  buf_.reserve(160);
  buf_ += "{\"ts\":\"";
  append_time(buf_);
  buf_ += "\",\"level\":\"";
  buf_ += name_of(lvl);
  buf_ += "\",\"event\":\"";
  append_json_escaped(buf_, event);
  buf_ += '"';
}

line::~line() {
  if (!enabled_) return;
  buf_ += "}\n";
  // One write(2) per line keeps lines whole when several threads log at once.
  const char* p = buf_.data();
  size_t left = buf_.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void line::key(std::string_view k) {
  buf_ += ",\"";
  append_json_escaped(buf_, k);
  buf_ += "\":";
}

line& line::field(std::string_view k, std::string_view value) {
  if (!enabled_) return *this;
  key(k);
  buf_ += '"';
  append_json_escaped(buf_, value);
  buf_ += '"';
  return *this;
}

line& line::field(std::string_view k, int64_t value) {
  if (!enabled_) return *this;
  key(k);
  buf_ += std::to_string(value);
  return *this;
}

line& line::field(std::string_view k, uint64_t value) {
  if (!enabled_) return *this;
  key(k);
  buf_ += std::to_string(value);
  return *this;
}

line& line::field(std::string_view k, double value) {
  if (!enabled_) return *this;
  key(k);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  buf_ += buf;
  return *this;
}

line& line::field(std::string_view k, bool value) {
  if (!enabled_) return *this;
  key(k);
  buf_ += value ? "true" : "false";
  return *this;
}

}  // namespace mext::log
