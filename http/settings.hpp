#pragma once
// mextd's flags (API.md "Running the server"): parsed from the command line and an optional
// config file of `key = value` lines, where keys are the flag names without "--".

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>

#include "http/server.hpp"
#include "persistence/log.hpp"

namespace mext::http {

struct mextd_settings {
  std::filesystem::path data_dir;         // --data-dir, required
  std::string listen_host = "127.0.0.1";  // --listen HOST:PORT; IPv6 without brackets
  uint16_t listen_port = 8443;
  std::filesystem::path tls_cert;     // --tls-cert; with tls_key, or neither (self-signed pair)
  std::filesystem::path tls_key;      // --tls-key
  bool plain_http = false;            // --plain-http, loopback only
  bool demo = false;                  // --demo
  bool help = false;                  // --help: print usage() and exit; nothing else is checked
  std::filesystem::path config_file;  // --config
  log::level log_level = log::level::info;
  unsigned io_threads = 0;     // 0 = hardware cores
  unsigned actor_threads = 0;  // CAF scheduler workers; 0 = hardware cores
  // CAF's scheduler: "sharing" (one queue, idle workers block on it) or "stealing" (workers
  // poll and nap while idle). Sharing is the default: on 2 cores the naps of idle stealing
  // workers cost the WebSocket fan-out most of its time (bench/RESULTS.md, simulation).
  std::string scheduler = "sharing";
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_file_bytes = std::size_t{10} << 20;  // --max-file-bytes
  // A request (TLS handshake, header and body) must arrive within http_read_timeout_s of its
  // first byte, however steadily it drips; a kept-alive connection idle this long is closed.
  uint32_t http_read_timeout_s = 15;
  uint32_t http_idle_timeout_s = 60;
  // Connections open at once; mextd lowers it to what the open-file limit leaves (mextd.cpp).
  uint64_t max_connections = 19000;
  uint64_t max_connections_per_address = 512;
  uint32_t connection_log_retention_days = 365;  // connection data older than this is purged
  uint32_t retention_interval_s = 3600;          // time between two retention sweeps
  uint32_t chat_retention_days = 90;  // booth chat is purged this long after its exhibition ends
  // Privacy (actors/privacy_actor.hpp, actors/backup_actor.hpp).
  uint32_t export_retention_h = 72;        // a finished export archive is deleted after this
  uint32_t privacy_holder_timeout_s = 10;  // a holder asked by a privacy saga answers within this
  uint32_t privacy_holder_attempts = 3;    // ... or is asked again, this many times in all
  uint32_t privacy_parallel_holders = 16;  // holders one saga asks at once
  std::filesystem::path backup_dir;        // empty: DIR/backups
  uint32_t backup_interval_s = 86400;      // time between two hot backups; 0 = none scheduled
  uint32_t backup_keep = 7;                // backups kept; older ones are deleted
  std::filesystem::path restore;           // --restore BACKUP: restore it into DIR and exit
  std::string notice_command;              // breach notices piped to it; empty: the spool
  std::filesystem::path notice_spool_dir;  // empty: DIR/notice-spool
  uint32_t notice_retry_s = 30;            // a failed notice is tried again after this
  uint32_t notice_attempts = 10;           // ... this many times in all
  std::string dpo_contact = "the data protection officer of the platform";
  // Engine settings.
  uint32_t commit_batch_max = 1024;    // events per group commit
  uint32_t commit_max_wait_us = 0;     // how long a commit waits for a fuller batch
  uint32_t snapshot_every = 100;       // events between snapshots of one entity
  uint32_t idle_passivate_ms = 60000;  // idle time before an actor is passivated
  uint64_t map_size_mb = 64;           // initial LMDB map size
  uint64_t map_max_mb = 1048576;       // the LMDB map never grows beyond this
  // Edge guard and metrics (http/edge_guard.hpp, http/metrics.hpp).
  uint32_t rate_limit_rps = 50;              // sustained requests/s of one address; 0 = no limit
  uint32_t rate_limit_burst = 100;           // requests one address may make at once
  uint32_t rate_limit_addresses = 65536;     // addresses the rate limiter tracks at most
  uint32_t max_header_count = 100;           // requests with more header fields get 431
  bool metrics_loopback = true;              // loopback clients read /metrics without signing in
  uint32_t booth_list_cache_entries = 4096;  // cached pages of booth lists; 0 = no cache
  std::size_t max_json_bytes = 256 * 1024;   // JSON request bodies (within max_body_bytes)
  uint32_t max_json_depth = 16;              // nesting levels of a JSON request body
  uint32_t actor_timeout_s = 10;             // a request waits this long for an actor (503)
  // Accounts and sessions (http/auth.hpp, auth_settings).
  uint32_t session_absolute_s = 12 * 3600;      // a session ends this long after login
  uint32_t session_idle_s = 2 * 3600;           // ... or after this long without a request
  uint32_t login_free_failures = 5;             // failed logins of an account before delays start
  uint32_t login_ip_free_failures = 20;         // failed logins from one address before delays
  uint32_t login_first_delay_s = 1;             // the first delay; each further failure doubles it
  uint32_t login_max_delay_s = 900;             // delays never grow beyond this
  std::vector<std::string> trusted_proxies;     // peers whose Forwarded/X-Forwarded-For count
  std::filesystem::path common_passwords_file;  // empty: the list shipped with the project
  std::filesystem::path isp_database;           // MaxMind-format .mmdb; empty: ISP "unknown"
  // WebSocket (http/server.hpp ws_settings, http/ws_session_actor.hpp, http/room_hub.hpp).
  uint32_t ws_max_message_bytes = 16 * 1024;  // larger client messages close with 1009
  uint32_t ws_queue_max_messages = 4096;      // a send queue past this closes with 1008
  uint64_t ws_queue_max_bytes = 1 << 20;      // ... or past this many bytes
  uint32_t ws_idle_timeout_s = 60;            // nothing received this long ends a connection
  uint32_t ws_send_rate = 10;                 // messages/s one connection may send
  uint32_t ws_send_burst = 20;                // messages one connection may send at once
  uint32_t ws_max_rooms = 64;                 // rooms one connection may be in
  uint32_t ws_presence_interval_ms = 1000;    // presence goes out at most this often per room
};

// Parses argv (flags as `--name value` or `--name=value`), after the file named by --config if
// any; command-line flags override the file. Paths in the file are relative to its directory.
// Errors are mext::errc::invalid_argument naming the flag.
caf::expected<mextd_settings> parse_settings(int argc, char** argv);

// The --help text: every flag with its default and meaning.
std::string usage();

// The HTTP part of the settings. tls_cert/tls_key stay empty when not given: the caller fills
// them from ensure_self_signed (tls.hpp).
server_settings to_server_settings(const mextd_settings& s);

// The actor scheduler of these settings (policy, threads), for mextd and for the test fixtures,
// so that tests run the engine on the scheduler it runs on in production.
void configure_scheduler(caf::actor_system_config& cfg, const mextd_settings& s);

}  // namespace mext::http
