#include "http/settings.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "http/auth.hpp"
#include "persistence/errors.hpp"

namespace mext::http {
namespace {

namespace fs = std::filesystem;

caf::error bad(std::string detail) {
  return make_error(errc::invalid_argument, std::move(detail));
}

caf::error parse_number(std::string_view flag, std::string_view text, uint64_t min, uint64_t max,
                        uint64_t& out) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    return bad("--" + std::string(flag) + ": '" + std::string(text) + "' is not a number");
  if (value < min || value > max)
    return bad("--" + std::string(flag) + ": " + std::string(text) + " is outside " +
               std::to_string(min) + ".." + std::to_string(max));
  out = value;
  return {};
}

template <class T>
caf::error set_number(std::string_view flag, std::string_view text, uint64_t min, uint64_t max,
                      T& field) {
  uint64_t value = 0;
  if (auto err = parse_number(flag, text, min, max, value)) return err;
  field = static_cast<T>(value);
  return {};
}

caf::error parse_bool(std::string_view flag, std::string_view text, bool& out) {
  if (text == "true" || text == "yes" || text == "on" || text == "1") {
    out = true;
  } else if (text == "false" || text == "no" || text == "off" || text == "0") {
    out = false;
  } else {
    return bad("--" + std::string(flag) + ": '" + std::string(text) + "' is not true or false");
  }
  return {};
}

caf::error parse_listen(std::string_view text, mextd_settings& s) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos) return bad("--listen: expected [IPv6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("--listen: expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return bad("--listen: write an IPv6 address in brackets, as [::1]:8443");
  }
  if (host.empty()) return bad("--listen: the host is missing");
  if (auto err = set_number("listen", port, 0, 65535, s.listen_port)) return err;
  s.listen_host = std::string(host);
  return {};
}

std::string_view trim(std::string_view s) {
  auto first = s.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

fs::path resolve(const fs::path& base, std::string_view value) {
  fs::path p{std::string(value)};
  if (base.empty() || p.is_absolute()) return p;
  return base / p;
}

using setter = std::function<caf::error(mextd_settings&, std::string_view, const fs::path&)>;

struct option {
  std::string_view name;
  std::string_view arg;  // empty for a boolean flag
  std::string_view default_text;
  std::string_view meaning;
  setter apply;
};

// One table drives parsing, the config file and --help, so no flag can miss one of them.
const std::vector<option>& options() {
  static const std::vector<option> table = {
      {"data-dir", "DIR", "required", "directory of the database, keys and self-signed TLS pair",
       [](mextd_settings& s, std::string_view v, const fs::path& base) {
         if (v.empty()) return bad("--data-dir: empty path");
         s.data_dir = resolve(base, v);
         return caf::error{};
       }},
      {"listen", "HOST:PORT", "127.0.0.1:8443", "address to serve on; IPv6 as [::1]:8443",
       [](mextd_settings& s, std::string_view v, const fs::path&) { return parse_listen(v, s); }},
      {"tls-cert", "FILE", "DIR/tls/cert.pem, self-signed",
       "PEM certificate chain for HTTPS (with --tls-key)",
       [](mextd_settings& s, std::string_view v, const fs::path& base) {
         if (v.empty()) return bad("--tls-cert: empty path");
         s.tls_cert = resolve(base, v);
         return caf::error{};
       }},
      {"tls-key", "FILE", "DIR/tls/key.pem, self-signed", "PEM private key for HTTPS",
       [](mextd_settings& s, std::string_view v, const fs::path& base) {
         if (v.empty()) return bad("--tls-key: empty path");
         s.tls_key = resolve(base, v);
         return caf::error{};
       }},
      {"plain-http", "", "off", "serve plain HTTP instead of HTTPS; loopback addresses only",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return parse_bool("plain-http", v, s.plain_http);
       }},
      {"demo", "", "off", "load the demo exhibition on first start into an empty data directory",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return parse_bool("demo", v, s.demo);
       }},
      {"help", "", "", "print this help and exit",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return parse_bool("help", v, s.help);
       }},
      {"config", "FILE", "none",
       "read settings from FILE: `flag-name = value` lines, # comments; flags override it",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         if (v.empty()) return bad("--config: empty path");
         s.config_file = fs::path{std::string(v)};
         return caf::error{};
       }},
      {"log-level", "LEVEL", "info", "least severe log level written: debug, info, warn, error",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         if (!log::parse_level(v, s.log_level))
           return bad("--log-level: '" + std::string(v) + "' is not debug, info, warn or error");
         return caf::error{};
       }},
      {"io-threads", "N", "0", "HTTP I/O threads; 0 means one per hardware core",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("io-threads", v, 0, 1024, s.io_threads);
       }},
      {"actor-threads", "N", "0", "actor scheduler threads; 0 means one per hardware core",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("actor-threads", v, 0, 1024, s.actor_threads);
       }},
      {"scheduler", "POLICY", "sharing",
       "actor scheduler: sharing (idle workers block on one queue) or stealing (they poll and nap)",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         if (v != "stealing" && v != "sharing")
           return bad("--scheduler: '" + std::string(v) + "' is not stealing or sharing");
         s.scheduler = std::string(v);
         return caf::error{};
       }},
      {"max-body-bytes", "N", "1048576",
       "largest request body accepted (uploads: max-file-bytes); larger ones get 413",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("max-body-bytes", v, 1, uint64_t{1} << 34, s.max_body_bytes);
       }},
      {"max-file-bytes", "N", "10485760", "largest file upload (POST /files); larger ones get 413",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("max-file-bytes", v, 1, uint64_t{1} << 34, s.max_file_bytes);
       }},
      {"http-read-timeout-s", "N", "15",
       "a request (TLS handshake, header and body) must arrive within this of its first byte",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("http-read-timeout-s", v, 1, 3600, s.http_read_timeout_s);
       }},
      {"http-idle-timeout-s", "N", "60", "a kept-alive HTTP connection idle this long is closed",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("http-idle-timeout-s", v, 1, 86400, s.http_idle_timeout_s);
       }},
      {"max-connections", "N", "19000",
       "connections open at once; more are closed on arrival (at most the open-file limit less "
       "512)",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("max-connections", v, 1, 10'000'000, s.max_connections);
       }},
      {"max-connections-per-address", "N", "512",
       "connections open at once from one address (IPv6: one /64), 0 for no cap; loopback and "
       "trusted proxies are not capped",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("max-connections-per-address", v, 0, 10'000'000,
                           s.max_connections_per_address);
       }},
      {"connection-log-retention-days", "N", "365",
       "days connection data (time, IP, device...) is kept before it is purged",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("connection-log-retention-days", v, 1, 3650,
                           s.connection_log_retention_days);
       }},
      {"chat-retention-days", "N", "90",
       "days after an exhibition ends before the messages of its booth rooms are purged",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("chat-retention-days", v, 1, 3650, s.chat_retention_days);
       }},
      {"retention-interval-s", "N", "3600", "seconds between two retention sweeps",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("retention-interval-s", v, 1, 86400 * 7, s.retention_interval_s);
       }},
      {"export-retention-h", "N", "72", "hours a finished export archive is kept before deletion",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("export-retention-h", v, 1, 24 * 90, s.export_retention_h);
       }},
      {"privacy-holder-timeout-s", "N", "10",
       "seconds a privacy saga waits for one holder before asking again",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("privacy-holder-timeout-s", v, 1, 3600, s.privacy_holder_timeout_s);
       }},
      {"privacy-holder-attempts", "N", "3",
       "times a holder is asked before its privacy request is marked failed",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("privacy-holder-attempts", v, 1, 100, s.privacy_holder_attempts);
       }},
      {"privacy-parallel-holders", "N", "16", "holders one privacy saga asks at once",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("privacy-parallel-holders", v, 1, 4096, s.privacy_parallel_holders);
       }},
      {"backup-dir", "DIR", "DIR/backups", "where hot backups are written",
       [](mextd_settings& s, std::string_view v, const fs::path& base) {
         if (v.empty()) return bad("--backup-dir: empty path");
         s.backup_dir = resolve(base, v);
         return caf::error{};
       }},
      {"backup-interval-s", "N", "86400", "seconds between two hot backups; 0 schedules none",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("backup-interval-s", v, 0, 86400 * 365, s.backup_interval_s);
       }},
      {"backup-keep", "N", "7", "backups kept; older ones are deleted",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("backup-keep", v, 1, 10000, s.backup_keep);
       }},
      {"restore", "BACKUP", "none",
       "restore a backup folder into --data-dir (mextd must not be running), replay the erasure "
       "ledger, and exit",
       [](mextd_settings& s, std::string_view v, const fs::path& base) {
         if (v.empty()) return bad("--restore: empty path");
         s.restore = resolve(base, v);
         return caf::error{};
       }},
      {"notice-command", "CMD", "none (the spool)",
       "command that sends a breach notice, given as an RFC 5322 message on stdin "
       "(e.g. \"/usr/sbin/sendmail -t -i\")",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         s.notice_command = std::string(v);
         return caf::error{};
       }},
      {"notice-spool-dir", "DIR", "DIR/notice-spool",
       "where breach notices are written as .eml files when no notice-command is set",
       [](mextd_settings& s, std::string_view v, const fs::path& base) {
         if (v.empty()) return bad("--notice-spool-dir: empty path");
         s.notice_spool_dir = resolve(base, v);
         return caf::error{};
       }},
      {"notice-retry-s", "N", "30", "seconds before a breach notice that failed is tried again",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("notice-retry-s", v, 1, 86400, s.notice_retry_s);
       }},
      {"notice-attempts", "N", "10", "attempts before a breach notice is marked failed",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("notice-attempts", v, 1, 1000, s.notice_attempts);
       }},
      {"dpo-contact", "TEXT", "the data protection officer of the platform",
       "contact point named in breach notices and in the authority report",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         if (v.empty() || v.size() > 500) return bad("--dpo-contact: 1 to 500 characters");
         s.dpo_contact = std::string(v);
         return caf::error{};
       }},
      {"commit-batch-max", "N", "1024", "most events written in one group commit",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("commit-batch-max", v, 1, 1'000'000, s.commit_batch_max);
       }},
      {"commit-max-wait-us", "N", "0",
       "microseconds a commit may wait for a fuller batch; 0 commits at once",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("commit-max-wait-us", v, 0, 10'000'000, s.commit_max_wait_us);
       }},
      {"snapshot-every", "N", "100", "events of one entity between two of its snapshots",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("snapshot-every", v, 1, UINT32_MAX, s.snapshot_every);
       }},
      {"idle-passivate-ms", "N", "60000", "milliseconds an idle entity actor stays resident",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("idle-passivate-ms", v, 1, UINT32_MAX, s.idle_passivate_ms);
       }},
      {"map-size-mb", "N", "64", "initial LMDB map size in MiB; it grows as needed",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("map-size-mb", v, 1, uint64_t{1} << 30, s.map_size_mb);
       }},
      {"map-max-mb", "N", "1048576", "largest LMDB map size in MiB; beyond it writes fail (507)",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("map-max-mb", v, 1, uint64_t{1} << 30, s.map_max_mb);
       }},
      {"rate-limit-rps", "N", "50",
       "requests per second one client address may sustain (429 beyond); 0 turns the limit off",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("rate-limit-rps", v, 0, 1'000'000, s.rate_limit_rps);
       }},
      {"rate-limit-burst", "N", "100", "requests one client address may make at once",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("rate-limit-burst", v, 1, 10'000'000, s.rate_limit_burst);
       }},
      {"rate-limit-addresses", "N", "65536",
       "client addresses the rate limiter tracks; the least recent are forgotten beyond it",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("rate-limit-addresses", v, 16, 100'000'000, s.rate_limit_addresses);
       }},
      {"max-header-count", "N", "100", "most header fields in a request; more get 431",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("max-header-count", v, 1, 100'000, s.max_header_count);
       }},
      {"metrics-loopback", "BOOL", "on",
       "loopback clients may read /metrics without signing in; others must be administrators",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return parse_bool("metrics-loopback", v, s.metrics_loopback);
       }},
      {"booth-list-cache-entries", "N", "4096",
       "pages of GET /exhibitions/{id}/booths kept ready between catalog changes; 0 = none",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("booth-list-cache-entries", v, 0, 10'000'000,
                           s.booth_list_cache_entries);
       }},
      {"max-json-bytes", "N", "262144",
       "largest JSON request body (413 beyond); never more than max-body-bytes",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("max-json-bytes", v, 64, uint64_t{1} << 30, s.max_json_bytes);
       }},
      {"max-json-depth", "N", "16", "most nesting levels of a JSON request body (400 beyond)",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("max-json-depth", v, 2, 256, s.max_json_depth);
       }},
      {"actor-timeout-s", "N", "10", "seconds a request waits for an actor before 503",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("actor-timeout-s", v, 1, 600, s.actor_timeout_s);
       }},
      {"ws-max-message-bytes", "N", "16384",
       "largest WebSocket message a client may send (1009 beyond)",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("ws-max-message-bytes", v, 256, 16 << 20, s.ws_max_message_bytes);
       }},
      {"ws-queue-max-messages", "N", "4096",
       "frames waiting for one slow WebSocket client before it is closed with 1008",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("ws-queue-max-messages", v, 1, 10'000'000, s.ws_queue_max_messages);
       }},
      {"ws-queue-max-bytes", "N", "1048576",
       "bytes waiting for one slow WebSocket client before it is closed with 1008",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("ws-queue-max-bytes", v, 1024, uint64_t{1} << 34, s.ws_queue_max_bytes);
       }},
      {"ws-idle-timeout-s", "N", "60",
       "seconds without a frame from a WebSocket client before it is closed (pinged at half)",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("ws-idle-timeout-s", v, 2, 86400, s.ws_idle_timeout_s);
       }},
      {"ws-send-rate", "N", "10", "chat messages per second one WebSocket connection may send",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("ws-send-rate", v, 1, 1'000'000, s.ws_send_rate);
       }},
      {"ws-send-burst", "N", "20", "chat messages one WebSocket connection may send at once",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("ws-send-burst", v, 1, 1'000'000, s.ws_send_burst);
       }},
      {"ws-max-rooms", "N", "64", "rooms one WebSocket connection may be in at once",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("ws-max-rooms", v, 1, 100'000, s.ws_max_rooms);
       }},
      {"ws-presence-interval-ms", "N", "1000",
       "presence counts go out at most this often per room (joins and leaves are coalesced)",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("ws-presence-interval-ms", v, 10, 3'600'000, s.ws_presence_interval_ms);
       }},
      {"session-absolute-s", "N", "43200", "seconds a session lasts after login, however active",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("session-absolute-s", v, 60, 90 * 86400, s.session_absolute_s);
       }},
      {"session-idle-s", "N", "7200", "seconds without a request after which a session ends",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("session-idle-s", v, 60, 90 * 86400, s.session_idle_s);
       }},
      {"login-free-failures", "N", "5",
       "failed logins of one account before each further attempt must wait",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("login-free-failures", v, 1, 1000, s.login_free_failures);
       }},
      {"login-ip-free-failures", "N", "20",
       "failed logins from one client address before each further attempt must wait",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("login-ip-free-failures", v, 1, 100'000, s.login_ip_free_failures);
       }},
      {"login-first-delay-s", "N", "1",
       "seconds the first throttled login waits (429 with Retry-After); each failure doubles it",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("login-first-delay-s", v, 1, 3600, s.login_first_delay_s);
       }},
      {"login-max-delay-s", "N", "900", "the longest a throttled login is made to wait",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         return set_number("login-max-delay-s", v, 1, 86400, s.login_max_delay_s);
       }},
      {"trusted-proxies", "LIST", "none",
       "comma-separated addresses or CIDR blocks whose Forwarded / X-Forwarded-For are believed",
       [](mextd_settings& s, std::string_view v, const fs::path&) {
         std::vector<std::string> blocks;
         while (!v.empty()) {
           auto comma = v.find(',');
           auto entry = trim(v.substr(0, comma));
           v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
           if (entry.empty()) continue;
           if (!is_address_block(entry))
             return bad("--trusted-proxies: '" + std::string(entry) +
                        "' is not an address or CIDR block");
           blocks.emplace_back(entry);
         }
         s.trusted_proxies = std::move(blocks);
         return caf::error{};
       }},
      {"isp-database", "FILE", "none (ISP \"unknown\")",
       "MaxMind-format database (.mmdb, ISP or ASN) giving the ISP of connection records",
       [](mextd_settings& s, std::string_view v, const fs::path& base) {
         if (v.empty()) return bad("--isp-database: empty path");
         s.isp_database = resolve(base, v);
         return caf::error{};
       }},
      {"common-passwords-file", "FILE", "the shipped list",
       "blocklist of common passwords, one a line ('#' comments)",
       [](mextd_settings& s, std::string_view v, const fs::path& base) {
         if (v.empty()) return bad("--common-passwords-file: empty path");
         s.common_passwords_file = resolve(base, v);
         return caf::error{};
       }},
  };
  return table;
}

const option* find_option(std::string_view name) {
  for (const auto& o : options())
    if (o.name == name) return &o;
  return nullptr;
}

struct entry {
  const option* opt;
  std::string value;
};

caf::error read_config(const fs::path& file, mextd_settings& s) {
  std::ifstream in(file);
  if (!in) return bad("--config: cannot read " + file.string());
  const fs::path base = fs::absolute(file).parent_path();
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view text = line;
    if (auto hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
    text = trim(text);
    if (text.empty()) continue;
    const std::string where = file.string() + " line " + std::to_string(number);
    auto eq = text.find('=');
    if (eq == std::string_view::npos) return bad(where + ": expected `key = value`");
    auto key = trim(text.substr(0, eq));
    auto value = trim(text.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    const option* opt = find_option(key);
    if (opt == nullptr) return bad(where + ": unknown setting '" + std::string(key) + "'");
    if (opt->name == "config") return bad(where + ": a config file cannot name another one");
    if (auto err = opt->apply(s, value, base)) return bad(where + ": " + detail_of(err));
  }
  if (in.bad()) return bad("--config: error reading " + file.string());
  return {};
}

caf::error validate(const mextd_settings& s) {
  if (s.data_dir.empty()) return bad("--data-dir is required");
  if (s.tls_cert.empty() != s.tls_key.empty())
    return bad("--tls-cert and --tls-key go together: give both or neither");
  if (s.plain_http && !s.tls_cert.empty())
    return bad("--plain-http serves no TLS: drop --tls-cert and --tls-key");
  if (s.plain_http && !is_loopback_host(s.listen_host))
    return bad("--plain-http is allowed only on a loopback address (127.0.0.0/8, ::1, localhost)");
  if (s.map_max_mb < s.map_size_mb) return bad("--map-max-mb is smaller than --map-size-mb");
  if (s.login_max_delay_s < s.login_first_delay_s)
    return bad("--login-max-delay-s is smaller than --login-first-delay-s");
  return {};
}

}  // namespace

caf::expected<mextd_settings> parse_settings(int argc, char** argv) {
  std::vector<entry> entries;
  bool help = false;
  const option* config = find_option("config");
  std::optional<std::string> config_file;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h") arg = "--help";
    if (arg.substr(0, 2) != "--" || arg.size() == 2)
      return bad("unexpected argument '" + std::string(arg) + "'; flags start with --");
    arg.remove_prefix(2);
    auto eq = arg.find('=');
    std::string_view name = arg.substr(0, eq);
    const option* opt = find_option(name);
    if (opt == nullptr) return bad("unknown flag --" + std::string(name));
    std::string value;
    if (eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (opt->arg.empty()) {
      value = "true";
    } else {
      if (i + 1 >= argc || std::string_view(argv[i + 1]).substr(0, 2) == "--")
        return bad("--" + std::string(name) + " needs a value: " + std::string(opt->arg));
      value = argv[++i];
    }
    if (opt->name == "help") {
      bool on = false;
      if (auto err = parse_bool("help", value, on)) return err;
      help = help || on;
    }
    if (opt == config) config_file = value;
    entries.push_back(entry{opt, std::move(value)});
  }

  mextd_settings s;
  if (help) {
    s.help = true;
    return s;
  }
  if (config_file) {
    if (config_file->empty()) return bad("--config: empty path");
    s.config_file = *config_file;
    if (auto err = read_config(s.config_file, s)) return err;
  }
  for (const auto& e : entries)
    if (auto err = e.opt->apply(s, e.value, fs::path{})) return err;
  if (s.help) return s;
  if (auto err = validate(s)) return err;
  return s;
}

std::string usage() {
  std::string out =
      "Usage: mextd --data-dir DIR [flags]\n"
      "Serves the Mext engine over HTTPS (HTTP/1.1 and WebSocket).\n\nFlags:\n";
  for (const auto& o : options()) {
    std::string left = "  --" + std::string(o.name);
    if (!o.arg.empty()) left += " " + std::string(o.arg);
    if (left.size() < 32)
      left.resize(32, ' ');
    else
      left += "  ";
    out += left;
    out += o.meaning;
    if (!o.default_text.empty()) {
      out += " (default: ";
      out += o.default_text;
      out += ")";
    }
    out += "\n";
  }
  out +=
      "\nA config file holds the same settings as `flag-name = value` lines, such as\n"
      "`listen = 127.0.0.1:9443` or `plain-http = true`; flags given on the command line win.\n";
  return out;
}

server_settings to_server_settings(const mextd_settings& s) {
  server_settings out;
  out.host = s.listen_host;
  out.port = s.listen_port;
  out.plain_http = s.plain_http;
  out.tls_cert = s.tls_cert;
  out.tls_key = s.tls_key;
  out.io_threads = s.io_threads;
  // Every route but the upload (which carries max_file_bytes itself) is held to this.
  out.max_body_bytes = s.max_body_bytes;
  out.read_timeout = std::chrono::seconds{s.http_read_timeout_s};
  out.idle_timeout = std::chrono::seconds{s.http_idle_timeout_s};
  out.max_connections = static_cast<std::size_t>(s.max_connections);
  out.max_connections_per_address = static_cast<std::size_t>(s.max_connections_per_address);
  // Many clients share a proxy's address, and loopback is the operator's own host.
  out.per_address_exempt = s.trusted_proxies;
  out.per_address_exempt.insert(out.per_address_exempt.end(), {"127.0.0.0/8", "::1"});
  out.ws.max_message_bytes = s.ws_max_message_bytes;
  out.ws.queue_max_messages = s.ws_queue_max_messages;
  out.ws.queue_max_bytes = s.ws_queue_max_bytes;
  out.ws.idle_timeout = std::chrono::seconds{s.ws_idle_timeout_s};
  return out;
}

void configure_scheduler(caf::actor_system_config& cfg, const mextd_settings& s) {
  cfg.set("scheduler.policy",
          s.scheduler == "sharing" ? caf::atom("sharing") : caf::atom("stealing"));
  if (s.actor_threads > 0) cfg.set("scheduler.max-threads", static_cast<int64_t>(s.actor_threads));
}

}  // namespace mext::http
