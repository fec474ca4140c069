#include "http/ics.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace mext::http {
namespace {

constexpr std::size_t max_line_octets = 75;

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

}  // namespace

std::string ics_time(int64_t ms) {
  auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string ics_escape_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case ';':
        out += "\\;";
        break;
      case ',':
        out += "\\,";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        // CRLF becomes one escaped newline; a lone CR one too.
        if (i + 1 >= text.size() || text[i + 1] != '\n') out += "\\n";
        break;
      default:
        // RFC 5545 TEXT allows no control characters but HTAB.
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) break;
        out += c;
    }
  }
  return out;
}

std::string ics_line(std::string_view name, std::string_view value) {
  std::string line{name};
  line += ':';
  line += value;
  std::string out;
  std::size_t pos = 0;
  bool first = true;
  while (pos < line.size()) {
    // A continuation line starts with a space, which counts towards its 75 octets.
    std::size_t room = first ? max_line_octets : max_line_octets - 1;
    std::size_t end = std::min(line.size(), pos + room);
    if (end < line.size())
      while (end > pos + 1 && is_continuation(static_cast<unsigned char>(line[end]))) --end;
    if (!first) out += ' ';
    out.append(line, pos, end - pos);
    out += "\r\n";
    pos = end;
    first = false;
  }
  return out;
}

std::string write_calendar(std::string_view prodid, const std::vector<ics_event>& events) {
  std::string out;
  out += ics_line("BEGIN", "VCALENDAR");
  out += ics_line("VERSION", "2.0");
  out += ics_line("PRODID", prodid);
  out += ics_line("CALSCALE", "GREGORIAN");
  out += ics_line("METHOD", "PUBLISH");
  for (auto& e : events) {
    out += ics_line("BEGIN", "VEVENT");
    out += ics_line("UID", e.uid);
    out += ics_line("DTSTAMP", ics_time(e.dtstamp_ms));
    out += ics_line("DTSTART", ics_time(e.starts_at_ms));
    out += ics_line("DTEND", ics_time(e.ends_at_ms));
    out += ics_line("SUMMARY", ics_escape_text(e.summary));
    if (!e.description.empty()) out += ics_line("DESCRIPTION", ics_escape_text(e.description));
    out += ics_line("STATUS", e.status);
    out += ics_line("END", "VEVENT");
  }
  out += ics_line("END", "VCALENDAR");
  return out;
}

}  // namespace mext::http
