#pragma once
// A small iCalendar (RFC 5545) writer for GET /api/v1/me/agenda.ics.
//
// Output is a VCALENDAR of VEVENTs with UID, DTSTAMP, DTSTART, DTEND (UTC, "20261128T100000Z"),
// SUMMARY and STATUS; lines end in CRLF and are folded so that none exceeds 75 octets (a fold never
// splits a UTF-8 sequence); TEXT values are escaped (backslash, semicolon, comma, newline) and
// other control characters dropped.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mext::http {

struct ics_event {
  std::string uid;
  int64_t dtstamp_ms = 0;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::string summary;
  // TENTATIVE, CONFIRMED or CANCELLED.
  std::string status;
  // Optional; written when not empty.
  std::string description;
};

// A UTC date-time in the iCalendar basic form: 20261128T100000Z.
std::string ics_time(int64_t ms);

// A TEXT value escaped for a content line.
std::string ics_escape_text(std::string_view text);

// One content line ("NAME:value"), folded to lines of at most 75 octets, each ending in CRLF.
std::string ics_line(std::string_view name, std::string_view value);

// The whole calendar.
std::string write_calendar(std::string_view prodid, const std::vector<ics_event>& events);

}  // namespace mext::http
