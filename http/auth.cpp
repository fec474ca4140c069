#include "http/auth.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <caf/all.hpp>

#include "actors/user_actor.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

using persistence::db;

constexpr std::string_view session_prefix = "session/";
// How long a session write may wait for the store actor before the login fails.
constexpr std::chrono::seconds store_timeout{30};
// How often expired sessions and stale throttle counts are swept.
constexpr int64_t sweep_every_ms = 60 * 1000;
// Beyond this many tracked keys, the throttle forgets every key that is not delaying now, so a
// flood of made-up emails or addresses cannot grow memory without bound.
constexpr size_t throttle_max_keys = 100000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out{s};
  for (auto& c : out) c = lower_ascii(c);
  return out;
}

// -- UTF-8 ----------------------------------------------------------------------------------------

// Code points of valid UTF-8 (no overlongs, no surrogates); nothing when invalid.
std::optional<std::vector<char32_t>> decode_utf8(std::string_view s) {
  std::vector<char32_t> out;
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    char32_t cp;
    size_t len;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if ((b & 0xE0) == 0xC0) {
      cp = b & 0x1F;
      len = 2;
    } else if ((b & 0xF0) == 0xE0) {
      cp = b & 0x0F;
      len = 3;
    } else if ((b & 0xF8) == 0xF0) {
      cp = b & 0x07;
      len = 4;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (c & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return std::nullopt;
    out.push_back(cp);
    i += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// -- password policy helpers ----------------------------------------------------------------------

// The usual disguises of a word: 'p@ssw0rd' is 'password'.
char32_t unleet(char32_t c) {
  switch (c) {
    case '@':
    case '4':
      return 'a';
    case '8':
      return 'b';
    case '3':
      return 'e';
    case '9':
      return 'g';
    case '1':
    case '!':
      return 'i';
    case '0':
      return 'o';
    case '$':
    case '5':
      return 's';
    case '7':
    case '+':
      return 't';
    default:
      return c;
  }
}

std::string unleet(std::string_view s) {
  std::string out{s};
  for (auto& c : out) c = static_cast<char>(unleet(static_cast<char32_t>(c)));
  return out;
}

bool is_ascii_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Drops up to 4 leading and 6 trailing ASCII digits and symbols ("2024password!!" ->
// "password"); a longer run is left alone, as it adds real strength.
std::string strip_decoration(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && b < 5 && !is_ascii_letter(s[b]) && static_cast<unsigned char>(s[b]) < 0x80) ++b;
  if (b > 4) b = 0;
  size_t tail = 0;
  while (e > b && tail < 7 && !is_ascii_letter(s[e - 1]) &&
         static_cast<unsigned char>(s[e - 1]) < 0x80) {
    --e;
    ++tail;
  }
  if (tail > 6) e = s.size();
  return std::string{s.substr(b, e - b)};
}

// Keyboard neighbours on a US QWERTY layout (shifted symbols count as their keys).
constexpr std::array<std::string_view, 4> keyboard_rows = {"`1234567890-=", "qwertyuiop[]\\",
                                                           "asdfghjkl;'", "zxcvbnm,./"};

char unshift(char c) {
  constexpr std::string_view shifted = "~!@#$%^&*()_+{}|:\"<>?";
  constexpr std::string_view plain = "`1234567890-=[]\\;',./";
  auto pos = shifted.find(c);
  return pos == std::string_view::npos ? lower_ascii(c) : plain[pos];
}

bool keyboard_adjacent(char32_t a, char32_t b) {
  if (a >= 0x80 || b >= 0x80) return false;
  char x = unshift(static_cast<char>(a)), y = unshift(static_cast<char>(b));
  for (auto row : keyboard_rows) {
    auto i = row.find(x), j = row.find(y);
    if (i != std::string_view::npos && j != std::string_view::npos && (i + 1 == j || j + 1 == i))
      return true;
  }
  return false;
}

bool is_alnum_ascii(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char32_t lower_cp(char32_t c) {
  return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

// Words of the account an attacker knows: names, the email's local part and domain labels.
std::vector<std::string> context_words(const std::vector<std::string>& context) {
  std::vector<std::string> out;
  auto add = [&](std::string w) {
    if (w.size() >= 4 && std::find(out.begin(), out.end(), w) == out.end())
      out.push_back(std::move(w));
  };
  for (auto& c : context) {
    auto l = lower(c);
    auto at = l.find('@');
    if (at == std::string::npos) {
      add(l);
      continue;
    }
    add(l.substr(0, at));
    auto domain = l.substr(at + 1);
    size_t start = 0;
    while (start < domain.size()) {
      auto dot = domain.find('.', start);
      add(domain.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
  }
  return out;
}

// -- tokens ---------------------------------------------------------------------------------------

std::string hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 0xF]);
  }
  return out;
}

// 32 random bytes as base64url without padding (43 characters).
std::string new_token() {
  std::array<unsigned char, 32> raw{};
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  std::array<unsigned char, 48> b64{};
  int n = EVP_EncodeBlock(b64.data(), raw.data(), static_cast<int>(raw.size()));
  std::string out;
  for (int i = 0; i < n; ++i) {
    char c = static_cast<char>(b64[static_cast<size_t>(i)]);
    if (c == '=') break;
    out.push_back(c == '+' ? '-' : c == '/' ? '_' : c);
  }
  return out;
}

bool plausible_token(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return is_ascii_letter(c) || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// Stored value of a session: "<user id> <created ms> <expires ms>".
std::string encode_session(const session_info& s) {
  return s.user_id + " " + std::to_string(s.created_ms) + " " + std::to_string(s.expires_ms);
}

std::optional<session_info> decode_session(std::string_view hash, const std::string& value) {
  auto a = value.find(' ');
  auto b = a == std::string::npos ? a : value.find(' ', a + 1);
  if (b == std::string::npos) return std::nullopt;
  session_info s;
  s.user_id = value.substr(0, a);
  s.token_hash = std::string{hash};
  try {
    s.created_ms = std::stoll(value.substr(a + 1, b - a - 1));
    s.expires_ms = std::stoll(value.substr(b + 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!is_valid_id(s.user_id)) return std::nullopt;
  return s;
}

// -- addresses ------------------------------------------------------------------------------------

struct ip_bytes {
  int family = 0;  // AF_INET or AF_INET6
  std::array<unsigned char, 16> b{};
};

std::optional<ip_bytes> parse_ip(std::string_view text) {
  std::string s{text};
  ip_bytes out;
  if (::inet_pton(AF_INET, s.c_str(), out.b.data()) == 1) {
    out.family = AF_INET;
    return out;
  }
  if (::inet_pton(AF_INET6, s.c_str(), out.b.data()) == 1) {
    // An IPv4-mapped address is the IPv4 address.
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out.b.data(), mapped, 12) == 0) {
      std::memmove(out.b.data(), out.b.data() + 12, 4);
      out.family = AF_INET;
      return out;
    }
    out.family = AF_INET6;
    return out;
  }
  return std::nullopt;
}

bool in_block(const ip_bytes& ip, std::string_view entry) {
  auto slash = entry.find('/');
  auto base = parse_ip(entry.substr(0, slash));
  if (!base || base->family != ip.family) return false;
  int max_bits = ip.family == AF_INET ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    auto len = entry.substr(slash + 1);
    if (len.empty() || len.size() > 3) return false;
    bits = 0;
    for (char c : len) {
      if (c < '0' || c > '9') return false;
      bits = bits * 10 + (c - '0');
    }
    if (bits > max_bits) return false;
  }
  for (int i = 0; i < bits / 8; ++i)
    if (ip.b[static_cast<size_t>(i)] != base->b[static_cast<size_t>(i)]) return false;
  if (bits % 8 != 0) {
    auto mask = static_cast<unsigned char>(0xFF << (8 - bits % 8));
    auto i = static_cast<size_t>(bits / 8);
    if ((ip.b[i] & mask) != (base->b[i] & mask)) return false;
  }
  return true;
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t");
  return std::string{s.substr(b, e - b + 1)};
}

// A node of Forwarded's for= or of X-Forwarded-For without quotes, brackets or port; "unknown"
// for anything that is not an address (obfuscated identifiers, garbage).
std::string node_address(std::string_view raw) {
  auto s = trim(raw);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string::npos) return "unknown";
    s = s.substr(1, close - 1);
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    s = s.substr(0, s.find(':'));  // IPv4 with a port
  }
  auto ip = parse_ip(s);
  if (!ip) return "unknown";
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(ip->family, ip->b.data(), buf, sizeof buf);
  return buf;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    auto pos = s.find(sep, start);
    out.push_back(std::string{s.substr(start, pos == std::string_view::npos ? pos : pos - start)});
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// Every value of a header, joined by commas as RFC 9110 allows for list headers.
std::string joined_header(const request& req, std::string_view name) {
  std::string out;
  for (const auto& [k, v] : req.headers) {
    if (k != name) continue;
    if (!out.empty()) out += ",";
    out += v;
  }
  return out;
}

// The hops a request claims, nearest the client first; empty when it claims none.
std::vector<std::string> claimed_hops(const request& req) {
  std::vector<std::string> hops;
  auto forwarded = joined_header(req, "forwarded");
  if (!forwarded.empty()) {
    for (auto& element : split(forwarded, ',')) {
      for (auto& pair : split(element, ';')) {
        auto p = trim(pair);
        if (p.size() > 4 && lower(p.substr(0, 4)) == "for=")
          hops.push_back(node_address(p.substr(4)));
      }
    }
    return hops;
  }
  auto xff = joined_header(req, "x-forwarded-for");
  if (xff.empty()) return hops;
  for (auto& node : split(xff, ',')) hops.push_back(node_address(node));
  return hops;
}

// -- principals -----------------------------------------------------------------------------------

using principal_fn = std::function<void(caf::expected<principal>)>;

void ask_user(caf::event_based_actor* self, actors::directory_actor dir,
              std::chrono::seconds timeout, session_info info, principal_fn then, int retries) {
  auto finish = [self, then](caf::expected<principal> p) {
    then(std::move(p));
    self->quit();
  };
  self->request(dir, timeout, resolve_atom::value, info.user_id)
      .then(
          [=](caf::actor hdl) {
            auto user = caf::actor_cast<actors::user_actor>(hdl);
            actors::caller me{info.user_id, false, {}};
            self->request(user, timeout, get_atom::value, me)
                .then(
                    [=](actors::user_view& v) {
                      principal p;
                      p.session = info;
                      p.caller.user_id = v.user_id;
                      p.caller.admin =
                          std::find(v.roles.begin(), v.roles.end(), "admin") != v.roles.end();
                      p.caller.rep_of = std::move(v.rep_of);
                      finish(std::move(p));
                    },
                    [=](caf::error& err) {
                      // The user actor passivated while the message was on its way.
                      if (retries > 0 && detail::is_retryable(err))
                        return ask_user(self, dir, timeout, info, then, retries - 1);
                      finish(std::move(err));
                    });
          },
          [=](caf::error& err) { finish(std::move(err)); });
}

// Asks the user actor who the session's user is; `then` gets the principal or the error
// (errc::not_found when the account no longer exists).
void resolve_principal(const api& a, session_info info, principal_fn then) {
  auto dir = a.eng.directory();
  auto timeout = a.limits.actor_timeout;
  a.sys.spawn([dir, timeout, info = std::move(info), then](caf::event_based_actor* self) {
    ask_user(self, dir, timeout, info, then, 1);
  });
}

}  // namespace

// -- password_blocklist ---------------------------------------------------------------------------

caf::expected<password_blocklist> password_blocklist::load(const std::filesystem::path& file) {
  std::ifstream in{file};
  if (!in)
    return make_error(errc::internal, "cannot read the common-password list " + file.string());
  std::vector<std::string> words;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    words.push_back(std::move(line));
  }
  if (words.empty())
    return make_error(errc::internal, "the common-password list " + file.string() + " is empty");
  return of(words);
}

password_blocklist password_blocklist::of(const std::vector<std::string>& words) {
  password_blocklist out;
  for (auto& w : words) {
    auto l = lower(w);
    out.longest_ = std::max(out.longest_, l.size());
    out.words_.insert(std::move(l));
  }
  return out;
}

bool password_blocklist::blocks(std::string_view password) const {
  auto l = lower(password);
  auto stripped = strip_decoration(l);
  for (const auto& candidate : {l, stripped, unleet(stripped), unleet(l)})
    if (candidate.size() >= 3 && words_.count(candidate) > 0) return true;
  return false;
}

std::filesystem::path default_common_passwords_file() {
  // Next to the binary (an installed server), else in the source tree (development builds).
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = exe.parent_path() / "common-passwords.txt";
    if (std::filesystem::exists(beside, ec)) return beside;
  }
  // Not __FILE__: ccache's CCACHE_BASEDIR (dev.sh) makes it relative to the build directory.
  return std::filesystem::path{MEXT_HTTP_SOURCE_DIR} / "common-passwords.txt";
}

// -- strength estimate ----------------------------------------------------------------------------
//
// The cheapest way an attacker could produce the password, in bits, found by dynamic programming
// over its code points (a simplified zxcvbn). Each position is reached from the one before at
//   - log2(pool) bits for a character, where the pool is the sum of the classes the password
//     uses: 26 lower-case, 26 upper-case, 10 digits, 37 symbols (the CNIL's minimum list of
//     special characters), 100 for any non-ASCII character;
//   - 1 bit when it repeats the previous character, 1.5 for a sequence step ("abc", "321"),
//     2 for a keyboard neighbour ("qwe", "asd");
// or from further back, a whole piece at once:
//   - a word of the common-password list of 4 characters or more (case and leetspeak undone):
//     log2(list size) bits, plus 1 if it has capitals and 1 if it was disguised;
//   - a word of the account (name, email parts) or the service's name: 2 bits;
//   - a repeat of 3 or more characters that occurred earlier: log2(position) + 1 bits.
// Against 80 bits this means at least 12 random characters of all four classes (12 × log2(99)
// = 79.6, rounded to 80 as the CNIL does), or 14 of letters and digits, or a long passphrase.

double password_strength_bits(std::string_view password, const password_blocklist& list,
                              const std::vector<std::string>& context) {
  auto decoded = decode_utf8(password);
  std::vector<char32_t> cps;
  if (decoded) {
    cps = std::move(*decoded);
  } else {
    for (char c : password) cps.push_back(static_cast<unsigned char>(c));
  }
  const size_t n = cps.size();
  if (n == 0) return 0;

  bool has_lower = false, has_upper = false, has_digit = false, has_symbol = false,
       has_other = false;
  for (auto c : cps) {
    if (c >= 'a' && c <= 'z')
      has_lower = true;
    else if (c >= 'A' && c <= 'Z')
      has_upper = true;
    else if (c >= '0' && c <= '9')
      has_digit = true;
    else if (c < 0x80)
      has_symbol = true;
    else
      has_other = true;
  }
  double pool = 26.0 * has_lower + 26.0 * has_upper + 10.0 * has_digit + 37.0 * has_symbol +
                100.0 * has_other;
  const double per_char = std::log2(std::max(pool, 2.0));
  const double word_bits = std::log2(std::max<double>(static_cast<double>(list.size()), 2.0));
  auto known = context_words(context);
  known.push_back("mext");

  std::vector<char32_t> low(n);
  for (size_t i = 0; i < n; ++i) low[i] = lower_cp(cps[i]);

  // same[i][j] (j < i): how many characters ending at i-1 and at j-1 agree.
  std::vector<std::vector<uint16_t>> same(n + 1, std::vector<uint16_t>(n + 1, 0));
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j < i; ++j)
      if (low[i - 1] == low[j - 1]) same[i][j] = static_cast<uint16_t>(same[i - 1][j - 1] + 1);

  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> cost(n + 1, inf);
  cost[0] = 0;
  const size_t max_word = std::max<size_t>(list.longest(), 8);
  for (size_t i = 1; i <= n; ++i) {
    double step = per_char;
    if (i >= 2) {
      char32_t p = low[i - 2], c = low[i - 1];
      if (c == p)
        step = 1;
      else if (is_alnum_ascii(c) && is_alnum_ascii(p) && (c == p + 1 || c + 1 == p))
        step = 1.5;
      else if (keyboard_adjacent(p, c))
        step = 2;
    }
    cost[i] = cost[i - 1] + step;

    // Pieces ending at i: repeats (an earlier occurrence may overlap, as in LZ77) and words.
    size_t best_repeat = 0;
    for (size_t j = 1; j < i; ++j) best_repeat = std::max<size_t>(best_repeat, same[i][j]);
    std::string piece, piece_unleet;
    bool capitals = false, disguised = false;
    for (size_t start = i; start-- > 0;) {
      size_t len = i - start;
      if (len >= 3 && best_repeat >= len)
        cost[i] = std::min(cost[i], cost[start] + std::log2(static_cast<double>(start) + 1) + 1);
      if (len > max_word) continue;
      std::string ch, chu;
      append_utf8(ch, low[start]);
      append_utf8(chu, unleet(low[start]));
      piece.insert(0, ch);
      piece_unleet.insert(0, chu);
      capitals = capitals || cps[start] != low[start];
      disguised = disguised || unleet(low[start]) != low[start];
      if (len < 4) continue;
      if (std::find(known.begin(), known.end(), piece) != known.end() ||
          std::find(known.begin(), known.end(), piece_unleet) != known.end())
        cost[i] = std::min(cost[i], cost[start] + 2);
      if (list.contains(piece))
        cost[i] = std::min(cost[i], cost[start] + word_bits + (capitals ? 1 : 0));
      else if (disguised && list.contains(piece_unleet))
        cost[i] = std::min(cost[i], cost[start] + word_bits + (capitals ? 1 : 0) + 1);
    }
  }
  return cost[n];
}

caf::error check_password(std::string_view password, const password_blocklist& list,
                          const std::vector<std::string>& context) {
  auto cps = decode_utf8(password);
  if (!cps) return make_error(errc::invalid_argument, "password is not valid UTF-8");
  if (cps->size() < password_min_chars)
    return make_error(errc::invalid_argument,
                      "password must be at least " + std::to_string(password_min_chars) +
                          " characters long (this one has " + std::to_string(cps->size()) + ")");
  if (cps->size() > password_max_chars)
    return make_error(
        errc::invalid_argument,
        "password must be at most " + std::to_string(password_max_chars) + " characters long");
  if (list.blocks(password))
    return make_error(errc::invalid_argument,
                      "password is on the list of common passwords (or is a simple variant of "
                      "one): choose another");
  auto l = lower(password);
  for (auto& w : context_words(context))
    if (l.find(w) != std::string::npos)
      return make_error(errc::invalid_argument,
                        "password must not contain your name or your email address");
  auto bits = password_strength_bits(password, list, context);
  if (std::round(bits) < password_min_bits)
    return make_error(errc::invalid_argument,
                      "password is too easy to guess: its estimated strength is " +
                          std::to_string(static_cast<int>(std::round(bits))) +
                          " bits and at least " +
                          std::to_string(static_cast<int>(password_min_bits)) +
                          " are required; make it longer, mix lower and upper case, digits and "
                          "symbols, and avoid repeats, sequences and common words");
  return {};
}

// -- login_throttle -------------------------------------------------------------------------------

login_throttle::login_throttle(const auth_settings& settings) : settings_(settings) {}

std::optional<std::chrono::seconds> login_throttle::wait_of(const entry* e,
                                                            clock::time_point now) const {
  if (!e || now >= e->next_allowed) return std::nullopt;
  auto left = std::chrono::ceil<std::chrono::seconds>(e->next_allowed - now);
  return std::max(left, std::chrono::seconds{1});
}

void login_throttle::count(entry& e, unsigned free, clock::time_point now) {
  if (e.failures > 0 && now - e.last_failure > settings_.forget_failures_after) e.failures = 0;
  ++e.failures;
  e.last_failure = now;
  if (e.failures < std::max(free, 1u)) return;
  auto doublings = std::min<unsigned>(e.failures - std::max(free, 1u), 30);
  auto delay = settings_.first_delay * (int64_t{1} << doublings);
  e.next_allowed = now + std::min(delay, settings_.max_delay);
}

void login_throttle::sweep(clock::time_point now) {
  bool crowded = accounts_.size() + addresses_.size() > throttle_max_keys;
  auto stale = [&](const entry& e) {
    if (now < e.next_allowed) return false;
    return crowded || now - e.last_failure > settings_.forget_failures_after;
  };
  for (auto* m : {&accounts_, &addresses_})
    for (auto it = m->begin(); it != m->end();) it = stale(it->second) ? m->erase(it) : ++it;
  last_sweep_ = now;
}

std::optional<std::chrono::seconds> login_throttle::admit(const std::string& account_key,
                                                          const std::string& ip,
                                                          clock::time_point now) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (now - last_sweep_ > std::chrono::milliseconds{sweep_every_ms} ||
      accounts_.size() + addresses_.size() > throttle_max_keys)
    sweep(now);
  auto find = [](auto& m, const std::string& k) -> entry* {
    auto it = m.find(k);
    return it == m.end() ? nullptr : &it->second;
  };
  auto wait_account = wait_of(find(accounts_, account_key), now);
  auto wait_address = wait_of(find(addresses_, ip), now);
  if (wait_account || wait_address)
    return std::max(wait_account.value_or(std::chrono::seconds{0}),
                    wait_address.value_or(std::chrono::seconds{0}));
  count(accounts_[account_key], settings_.free_failures, now);
  count(addresses_[ip], settings_.ip_free_failures, now);
  return std::nullopt;
}

void login_throttle::success(const std::string& account_key, const std::string& ip) {
  std::lock_guard<std::mutex> lock{mutex_};
  accounts_.erase(account_key);
  // The address keeps its other failures: one valid account must not clear a spraying address.
  auto it = addresses_.find(ip);
  if (it == addresses_.end()) return;
  if (it->second.failures > 0) --it->second.failures;
  if (it->second.failures < settings_.ip_free_failures) it->second.next_allowed = {};
}

size_t login_throttle::tracked() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return accounts_.size() + addresses_.size();
}

// -- session_store --------------------------------------------------------------------------------

session_store::session_store(caf::actor_system& sys, const actors::engine& eng,
                             auth_settings settings, password_blocklist blocklist)
    : sys_(sys),
      writer_(eng.writer()),
      settings_(std::move(settings)),
      throttle_(settings_),
      blocklist_(std::move(blocklist)) {}

session_store::~session_store() = default;

caf::expected<std::shared_ptr<session_store>> session_store::open(caf::actor_system& sys,
                                                                  const actors::engine& eng,
                                                                  auth_settings settings) {
  auto file = settings.common_passwords_file.empty() ? default_common_passwords_file()
                                                     : settings.common_passwords_file;
  auto list = password_blocklist::load(file);
  if (!list) return list.error();
  std::shared_ptr<session_store> out{
      new session_store(sys, eng, std::move(settings), std::move(*list))};

  // Every stored session, page by page; expired and unreadable ones are removed.
  auto now = now_ms();
  persistence::write_item dead;
  std::string after;
  for (;;) {
    auto page = eng.rt()->store->scan(db::indexes, session_prefix, 1024, after);
    if (!page) return page.error();
    for (auto& [key, value] : *page) {
      auto hash = std::string_view{key}.substr(session_prefix.size());
      auto s = decode_session(hash, value);
      if (!s || s->expires_ms <= now) {
        dead.erase(db::indexes, key);
        continue;
      }
      // The last use is not stored (that would be a write per request): a restart counts as a
      // use, so idle expiry starts again from now.
      out->sessions_.emplace(s->token_hash, entry{*s, now});
    }
    if (page->size() < 1024) break;
    after = page->back().first;
  }
  if (!dead.ops.empty()) caf::anon_send(out->writer_, commit_atom::value, std::move(dead));
  out->last_sweep_ms_ = now;
  log::info("auth.sessions_loaded")
      .field("sessions", static_cast<uint64_t>(out->sessions_.size()))
      .field("blocklist", static_cast<uint64_t>(out->blocklist_.size()));
  return out;
}

std::string session_store::hash_token(std::string_view token) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> md{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), md.data());
  return hex(md.data(), md.size());
}

void session_store::commit(persistence::write_item item, std::function<void(caf::error)> then) {
  auto writer = writer_;
  sys_.spawn([writer, item = std::move(item), then](caf::event_based_actor* self) {
    self->request(writer, store_timeout, commit_atom::value, item)
        .then(
            [=](uint64_t) {
              then({});
              self->quit();
            },
            [=](caf::error& err) {
              then(err);
              self->quit();
            });
  });
}

void session_store::drop_expired(int64_t now) {
  // Called with mutex_ held.
  persistence::write_item dead;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const auto& e = it->second;
    bool expired =
        e.info.expires_ms <= now ||
        now - e.last_seen_ms >= static_cast<int64_t>(settings_.session_idle.count()) * 1000;
    if (expired) {
      dead.erase(db::indexes, std::string{session_prefix} + it->first);
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
  last_sweep_ms_ = now;
  if (!dead.ops.empty()) caf::anon_send(writer_, commit_atom::value, std::move(dead));
}

void session_store::create(const std::string& user_id,
                           std::function<void(caf::expected<issued>)> then) {
  auto now = now_ms();
  {
    std::lock_guard<std::mutex> lock{mutex_};
    if (now - last_sweep_ms_ > sweep_every_ms) drop_expired(now);
  }
  issued out;
  out.token = new_token();
  out.info.user_id = user_id;
  out.info.token_hash = hash_token(out.token);
  out.info.created_ms = now;
  out.info.expires_ms = now + static_cast<int64_t>(settings_.session_absolute.count()) * 1000;
  persistence::write_item item;
  item.put(db::indexes, std::string{session_prefix} + out.info.token_hash,
           encode_session(out.info));
  // Durable before acknowledged: the token is handed out, and accepted, only once on disk.
  commit(std::move(item), [weak = weak_from_this(), out = std::move(out), then](caf::error err) {
    if (err) return then(std::move(err));
    auto self = weak.lock();
    if (!self) return then(make_error(errc::storage_failed, "the server is stopping"));
    {
      std::lock_guard<std::mutex> lock{self->mutex_};
      self->sessions_.emplace(out.info.token_hash, entry{out.info, now_ms()});
    }
    then(out);
  });
}

std::optional<session_info> session_store::find(std::string_view token) {
  if (!plausible_token(token)) return std::nullopt;
  auto hash = hash_token(token);
  auto now = now_ms();
  std::lock_guard<std::mutex> lock{mutex_};
  auto it = sessions_.find(hash);
  if (it == sessions_.end()) return std::nullopt;
  auto& e = it->second;
  if (e.info.expires_ms <= now ||
      now - e.last_seen_ms >= static_cast<int64_t>(settings_.session_idle.count()) * 1000) {
    persistence::write_item dead;
    dead.erase(db::indexes, std::string{session_prefix} + hash);
    sessions_.erase(it);
    caf::anon_send(writer_, commit_atom::value, std::move(dead));
    return std::nullopt;
  }
  e.last_seen_ms = now;
  return e.info;
}

void session_store::revoke(std::string_view token, std::function<void(caf::error)> then) {
  revoke_hash(hash_token(token), std::move(then));
}

void session_store::revoke_hash(const std::string& token_hash,
                                std::function<void(caf::error)> then) {
  {
    std::lock_guard<std::mutex> lock{mutex_};
    sessions_.erase(token_hash);
  }
  if (on_revoke_) on_revoke_(token_hash, "logout");
  persistence::write_item item;
  item.erase(db::indexes, std::string{session_prefix} + token_hash);
  commit(std::move(item), std::move(then));
}

void session_store::revoke_all(const std::string& user_id,
                               std::function<void(caf::expected<size_t>)> then,
                               std::string except_hash) {
  persistence::write_item item;
  std::vector<std::string> revoked;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->second.info.user_id == user_id && it->first != except_hash) {
        item.erase(db::indexes, std::string{session_prefix} + it->first);
        revoked.push_back(it->first);
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  const size_t n = revoked.size();
  if (on_revoke_)
    for (auto& hash : revoked) on_revoke_(hash, "revoked");
  if (n == 0) return then(size_t{0});
  commit(std::move(item), [n, then](caf::error err) {
    if (err) return then(std::move(err));
    then(n);
  });
}

size_t session_store::size() const {
  std::lock_guard<std::mutex> lock{mutex_};
  return sessions_.size();
}

std::vector<std::pair<session_info, int64_t>> session_store::sessions_of(
    const std::string& user_id) const {
  std::lock_guard<std::mutex> lock{mutex_};
  std::vector<std::pair<session_info, int64_t>> out;
  for (auto& [hash, e] : sessions_)
    if (e.info.user_id == user_id) out.emplace_back(e.info, e.last_seen_ms);
  return out;
}

// -- who is asking --------------------------------------------------------------------------------

std::optional<std::string> request_token(const request& req) {
  if (auto authz = req.header("authorization")) {
    auto v = trim(*authz);
    if (v.size() > 7 && lower(v.substr(0, 7)) == "bearer ") return trim(v.substr(7));
    return std::nullopt;
  }
  for (const auto& [k, v] : req.headers) {
    if (k != "cookie") continue;
    for (auto& part : split(v, ';')) {
      auto p = trim(part);
      constexpr std::string_view name = "mext_session=";
      if (p.size() > name.size() && p.compare(0, name.size(), name) == 0)
        return p.substr(name.size());
    }
  }
  return std::nullopt;
}

void authenticate(const api& a, const request& req,
                  std::function<void(std::optional<principal>)> then) {
  auto token = request_token(req);
  if (!token || !a.sessions) return then(std::nullopt);
  auto info = a.sessions->find(*token);
  if (!info) return then(std::nullopt);
  resolve_principal(a, std::move(*info), [then](caf::expected<principal> p) {
    if (!p) return then(std::nullopt);
    then(std::move(*p));
  });
}

void require_user(const api& a, const request& req, const respond_fn& respond,
                  std::function<void(principal)> then) {
  auto unauthenticated = [respond] {
    auto r = problem(401, "Unauthorized", "sign in first: send a session token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    respond(std::move(r));
  };
  auto token = request_token(req);
  if (!token || !a.sessions) return unauthenticated();
  auto info = a.sessions->find(*token);
  if (!info) return unauthenticated();
  resolve_principal(a, std::move(*info),
                    [respond, unauthenticated, then](caf::expected<principal> p) {
                      if (p) return then(std::move(*p));
                      // An account erased under a live session is nobody.
                      if (code_of(p.error()) == errc::not_found) return unauthenticated();
                      respond(from_error(p.error()));
                    });
}

void require_admin(const api& a, const request& req, const respond_fn& respond,
                   std::function<void(principal)> then) {
  require_user(a, req, respond, [respond, then = std::move(then)](principal p) {
    if (!p.caller.admin) return respond(problem(403, "Forbidden", "administrators only"));
    then(std::move(p));
  });
}

// -- connection data ------------------------------------------------------------------------------

bool is_address_block(std::string_view entry) {
  // Any address lies in its own block, so this only fails on a bad address or prefix length.
  auto base = parse_ip(entry.substr(0, entry.find('/')));
  return base && in_block(*base, entry);
}

bool is_trusted_proxy(std::string_view ip, const std::vector<std::string>& trusted) {
  if (trusted.empty()) return false;
  auto parsed = parse_ip(ip);
  if (!parsed) return false;
  return std::any_of(trusted.begin(), trusted.end(),
                     [&](const std::string& entry) { return in_block(*parsed, entry); });
}

client_address client_address_of(const request& req, const std::vector<std::string>& trusted) {
  client_address out;
  out.ip = node_address(req.remote_ip);
  if (out.ip == "unknown" && !req.remote_ip.empty()) out.ip = req.remote_ip;
  if (!is_trusted_proxy(out.ip, trusted)) return out;
  auto hops = claimed_hops(req);
  if (hops.empty()) return out;
  // Walk back from the socket peer through trusted proxies: the first hop that is not one is
  // the client. Anything further left is the client's own claim and is ignored.
  hops.push_back(out.ip);
  size_t i = hops.size() - 1;
  while (i > 0 && is_trusted_proxy(hops[i], trusted)) --i;
  out.ip = hops[i];
  out.proxies.assign(hops.begin() + static_cast<std::ptrdiff_t>(i) + 1, hops.end());
  return out;
}

response too_many_attempts(std::chrono::seconds wait) {
  auto r = problem(
      429, "Too Many Requests",
      "too many failed attempts: try again in " + std::to_string(wait.count()) + " seconds");
  r.headers.emplace_back("Retry-After", std::to_string(wait.count()));
  return r;
}

}  // namespace mext::http
