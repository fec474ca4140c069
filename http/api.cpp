#include "http/api.hpp"

#include <algorithm>

#include <cstdio>
#include <ctime>

namespace mext::http {
namespace {

// Depth of nesting, counted while parsing so a hostile body cannot recurse deeply.
struct depth_guard {
  int max;
  int depth = 0;
  bool exceeded = false;
  bool operator()(int d, nlohmann::json::parse_event_t ev, nlohmann::json&) {
    if (ev == nlohmann::json::parse_event_t::object_start ||
        ev == nlohmann::json::parse_event_t::array_start) {
      if (d + 1 > max) exceeded = true;
    }
    return !exceeded;
  }
};

caf::error bad(std::string detail) {
  return make_error(errc::invalid_argument, std::move(detail));
}

bool is_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

int to_int(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

}  // namespace

caf::expected<nlohmann::json> parse_object(const api_limits& limits, const request& req) {
  return parse_object_text(limits, req.body);
}

caf::expected<nlohmann::json> parse_object_text(const api_limits& limits, std::string_view text) {
  if (text.size() > limits.max_json_bytes)
    return make_error(errc::too_large, "the JSON body is larger than " +
                                           std::to_string(limits.max_json_bytes) + " bytes");
  if (text.empty()) return bad("a JSON object body is required");
  depth_guard guard{limits.max_json_depth};
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(
        text,
        [&guard](int d, nlohmann::json::parse_event_t ev, nlohmann::json& j) {
          return guard(d, ev, j);
        },
        true);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann reports invalid UTF-8 inside strings as a parse error too.
    return bad(std::string("malformed JSON: ") + e.what());
  } catch (const nlohmann::json::exception& e) {
    // A number beyond a double (out_of_range 406, "1E999999") is not a parse_error. Found by
    // fuzz_scenario; it answered 500 here.
    return bad(std::string("unusable JSON: ") + e.what());
  }
  if (guard.exceeded)
    return bad("JSON nesting deeper than " + std::to_string(limits.max_json_depth));
  if (!body.is_object()) return bad("the body must be a JSON object");
  return body;
}

caf::expected<std::string> required_string(const nlohmann::json& body, std::string_view name,
                                           size_t max_len, bool non_empty) {
  auto it = body.find(std::string{name});
  if (it == body.end() || it->is_null()) return bad(std::string{name} + " is required");
  if (!it->is_string()) return bad(std::string{name} + " must be a string");
  auto v = it->get<std::string>();
  if (non_empty && v.empty()) return bad(std::string{name} + " must not be empty");
  // A NUL is never text: it would cut the value short in other programs that read it.
  if (v.find('\0') != std::string::npos) return bad(std::string{name} + " must not contain NUL");
  if (v.size() > max_len)
    return bad(std::string{name} + " is longer than " + std::to_string(max_len) + " bytes");
  return v;
}

caf::expected<std::optional<std::string>> optional_string(const nlohmann::json& body,
                                                          std::string_view name, size_t max_len) {
  auto it = body.find(std::string{name});
  if (it == body.end() || it->is_null()) return std::optional<std::string>{};
  auto v = required_string(body, name, max_len, false);
  if (!v) return v.error();
  return std::optional<std::string>{std::move(*v)};
}

caf::expected<std::vector<std::string>> string_list(const nlohmann::json& body,
                                                    std::string_view name, size_t max_items,
                                                    size_t max_len) {
  std::vector<std::string> out;
  auto it = body.find(std::string{name});
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) return bad(std::string{name} + " must be an array of strings");
  if (it->size() > max_items)
    return bad(std::string{name} + " has more than " + std::to_string(max_items) + " items");
  for (auto& x : *it) {
    if (!x.is_string()) return bad(std::string{name} + " must be an array of strings");
    auto v = x.get<std::string>();
    if (v.find('\0') != std::string::npos)
      return bad("an item of " + std::string{name} + " contains NUL");
    if (v.size() > max_len)
      return bad("an item of " + std::string{name} + " is longer than " + std::to_string(max_len));
    out.push_back(std::move(v));
  }
  return out;
}

caf::expected<bool> optional_bool(const nlohmann::json& body, std::string_view name,
                                  bool fallback) {
  auto it = body.find(std::string{name});
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) return bad(std::string{name} + " must be true or false");
  return it->get<bool>();
}

caf::expected<int64_t> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') ||
      t[13] != ':' || t[16] != ':')
    return bad("times are RFC 3339, such as 2026-11-28T10:00:00Z");
  auto y = t.substr(0, 4), mo = t.substr(5, 2), d = t.substr(8, 2), h = t.substr(11, 2),
       mi = t.substr(14, 2), s = t.substr(17, 2);
  for (auto part : {y, mo, d, h, mi, s})
    if (!is_digits(part)) return bad("times are RFC 3339, such as 2026-11-28T10:00:00Z");
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < t.size() && t[pos] == '.') {
    size_t start = ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
    auto frac = t.substr(start, pos - start);
    if (frac.empty()) return bad("an RFC 3339 fraction needs digits");
    std::string ms{frac.substr(0, 3)};
    while (ms.size() < 3) ms += '0';
    millis = to_int(ms);
  }
  int64_t offset_min = 0;
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == t.size() && (t[pos] == '+' || t[pos] == '-') && t[pos + 3] == ':' &&
             is_digits(t.substr(pos + 1, 2)) && is_digits(t.substr(pos + 4, 2))) {
    offset_min = to_int(t.substr(pos + 1, 2)) * 60 + to_int(t.substr(pos + 4, 2));
    if (t[pos] == '-') offset_min = -offset_min;
    pos += 6;
  } else {
    return bad("an RFC 3339 time needs Z or an offset such as +01:00");
  }
  if (pos != t.size()) return bad("unexpected characters after an RFC 3339 time");
  std::tm tm{};
  tm.tm_year = to_int(y) - 1900;
  tm.tm_mon = to_int(mo) - 1;
  tm.tm_mday = to_int(d);
  tm.tm_hour = to_int(h);
  tm.tm_min = to_int(mi);
  tm.tm_sec = to_int(s);
  if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return bad("an RFC 3339 time is out of range");
  auto secs = static_cast<int64_t>(timegm(&tm));
  return (secs - offset_min * 60) * 1000 + millis;
}

caf::expected<int64_t> required_time(const nlohmann::json& body, std::string_view name) {
  auto s = required_string(body, name, 64);
  if (!s) return s.error();
  auto t = parse_rfc3339(*s);
  if (!t) return bad(std::string{name} + ": " + detail_of(t.error()));
  return *t;
}

std::string format_rfc3339(int64_t ms) {
  auto secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int millis = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  if (millis != 0)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  else
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

response not_found(std::string what) {
  return problem(404, "Not Found", "no such " + std::move(what));
}

namespace {
constexpr std::string_view base64url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}  // namespace

void commit_item(const api& a, persistence::write_item item, std::function<void(caf::error)> done) {
  auto writer = a.eng.writer();
  auto timeout = a.limits.actor_timeout;
  auto shared = std::make_shared<persistence::write_item>(std::move(item));
  a.sys.spawn([writer, timeout, shared, done](caf::event_based_actor* self) {
    self->request(writer, timeout, commit_atom::value, std::move(*shared))
        .then(
            [self, done](uint64_t) {
              done({});
              self->quit();
            },
            [self, done](caf::error& err) {
              done(err);
              self->quit();
            });
  });
}

void audit_then(const api& a, actors::audit_entry e, respond_fn respond,
                std::function<void()> then) {
  persistence::write_item item;
  auto id = actors::add_audit(item, *a.eng.rt()->sealer, e);
  if (!id) return respond(from_error(id.error()));
  commit_item(a, std::move(item), [respond, then](caf::error err) {
    if (err) return respond(from_error(err));
    then();
  });
}

caf::expected<uint32_t> parse_list_limit(const request& req) {
  constexpr uint32_t default_limit = 100;
  constexpr uint32_t max_limit = 1000;
  auto text = req.query_param("limit");
  if (!text || text->empty()) return default_limit;
  if (text->size() > 6 ||
      !std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; }))
    return make_error(errc::invalid_argument, "limit must be a number from 1 to 1000");
  auto n = static_cast<uint32_t>(std::stoul(*text));
  if (n < 1 || n > max_limit)
    return make_error(errc::invalid_argument, "limit must be a number from 1 to 1000");
  return n;
}

std::string base64url(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (unsigned char c : in) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += base64url_alphabet[(buf >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += base64url_alphabet[(buf << (6 - bits)) & 0x3f];
  return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    auto v = base64url_alphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace mext::http
