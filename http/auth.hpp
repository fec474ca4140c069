#pragma once
// Accounts at the edge: session tokens, who is asking, login throttling and the password policy.
//
// A token is 256 random bits handed to the client once; only its SHA-256 is stored, in LMDB
// (db::indexes, key "session/<hex sha256>") through the store actor, and in memory for fast
// checks. Sessions expire absolutely and after an idle time; logout and erasure revoke them.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "actors/caller.hpp"
#include "actors/engine.hpp"
#include "http/api.hpp"
#include "http/isp_database.hpp"
#include "http/server.hpp"

namespace mext::http {

struct auth_settings {
  std::chrono::seconds session_absolute{12 * 3600};
  std::chrono::seconds session_idle{2 * 3600};
  // Login throttling: after `free_failures` failures per account (or per IP address) each further
  // attempt waits twice as long as the one before, from `first_delay` up to `max_delay`; while
  // waiting, attempts answer 429 with Retry-After. A success clears the account's count.
  unsigned free_failures = 5;
  std::chrono::seconds first_delay{1};
  std::chrono::seconds max_delay{15 * 60};
  // Only these peers may speak for the client in Forwarded / X-Forwarded-For.
  std::vector<std::string> trusted_proxies;

  // An address is shared by many people behind NAT: it gets more failures before delays start.
  unsigned ip_free_failures = 20;
  // A count with no new failure for this long is forgotten.
  std::chrono::seconds forget_failures_after{3600};
  // Connection-log entries older than this are purged (on each login of the person).
  std::chrono::hours connection_retention{24 * 365};
  // ISP of client addresses for connection records; null records "unknown".
  std::shared_ptr<const isp_database> isp;
  // The blocklist of common passwords (one a line, '#' comments). Empty: common-passwords.txt
  // next to the running binary, else the one in the source tree this was built from.
  std::filesystem::path common_passwords_file;
};

struct session_info {
  std::string user_id;
  std::string token_hash;  // hex SHA-256 of the token
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
};

// Who is asking: the session and the caller the entity actors check.
struct principal {
  session_info session;
  actors::caller caller;
};

// -- password policy ------------------------------------------------------------------------------

// Common passwords, compared case-insensitively and after undoing simple disguises
// (leetspeak, trailing digits and symbols).
class password_blocklist {
 public:
  // One password a line; blank lines and lines starting with '#' are skipped.
  static caf::expected<password_blocklist> load(const std::filesystem::path& file);
  static password_blocklist of(const std::vector<std::string>& words);

  // True when `password` is on the list or a simple variant of an entry.
  bool blocks(std::string_view password) const;
  // True when `word` (already lower-case) is an entry: the strength estimate uses the list as
  // its dictionary.
  bool contains(std::string_view word) const { return words_.count(std::string{word}) > 0; }
  size_t size() const { return words_.size(); }
  size_t longest() const { return longest_; }

 private:
  std::unordered_set<std::string> words_;
  size_t longest_ = 0;
};

// The path the default blocklist is loaded from (see auth_settings::common_passwords_file).
std::filesystem::path default_common_passwords_file();

constexpr size_t password_min_chars = 12;
constexpr size_t password_max_chars = 128;
constexpr double password_min_bits = 80;

// The estimated strength of a password in bits (see auth.cpp for the estimator); `context`
// holds words of the account (name, email) that count as known to an attacker.
double password_strength_bits(std::string_view password, const password_blocklist& list,
                              const std::vector<std::string>& context = {});

// errc::invalid_argument saying what is wrong, or no error: NIST SP 800-63B and the CNIL's
// 2022 recommendation: 12 to 128 characters (Unicode code points), valid UTF-8, not on the
// blocklist, not containing the account's name or email, and at least 80 bits estimated.
caf::error check_password(std::string_view password, const password_blocklist& list,
                          const std::vector<std::string>& context = {});

// -- login throttling
// ------------------------------------------------------------------------------

class login_throttle {
 public:
  using clock = std::chrono::steady_clock;

  explicit login_throttle(const auth_settings& settings);

  // Admits one attempt for the account key and the address, or answers how long to wait.
  // An admitted attempt counts as a failure until success() says otherwise, so attempts sent
  // in parallel cannot slip past the count.
  std::optional<std::chrono::seconds> admit(const std::string& account_key, const std::string& ip,
                                            clock::time_point now = clock::now());
  // The admitted attempt succeeded: the account's count is cleared, the address's attempt is
  // taken back.
  void success(const std::string& account_key, const std::string& ip);

  size_t tracked() const;

 private:
  struct entry {
    unsigned failures = 0;
    clock::time_point last_failure{};
    clock::time_point next_allowed{};
  };
  std::optional<std::chrono::seconds> wait_of(const entry* e, clock::time_point now) const;
  void count(entry& e, unsigned free, clock::time_point now);
  void sweep(clock::time_point now);

  auth_settings settings_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> accounts_;
  std::unordered_map<std::string, entry> addresses_;
  clock::time_point last_sweep_{};
};

// -- sessions
// --------------------------------------------------------------------------------------

// Sessions in memory, backed by db::indexes. Thread-safe: I/O threads find sessions while
// actors create and revoke them.
class session_store : public std::enable_shared_from_this<session_store> {
 public:
  // Loads the stored sessions (dropping expired ones) and the password blocklist.
  static caf::expected<std::shared_ptr<session_store>> open(caf::actor_system& sys,
                                                            const actors::engine& eng,
                                                            auth_settings settings);
  ~session_store();
  session_store(const session_store&) = delete;
  session_store& operator=(const session_store&) = delete;

  struct issued {
    std::string token;  // given to the client once, never stored
    session_info info;
  };

  // A new session for user_id; `then` runs (on an actor thread) once it is on disk.
  void create(const std::string& user_id, std::function<void(caf::expected<issued>)> then);

  // The live session of a token, its idle time refreshed; nothing when the token is unknown,
  // revoked or expired.
  std::optional<session_info> find(std::string_view token);

  // Revokes at once in memory; `then` runs once the removal is on disk.
  void revoke(std::string_view token, std::function<void(caf::error)> then);
  void revoke_hash(const std::string& token_hash, std::function<void(caf::error)> then);
  // Every session of the user but `except_hash` (erasure passes none); `then` gets how many.
  void revoke_all(const std::string& user_id, std::function<void(caf::expected<size_t>)> then,
                  std::string except_hash = {});

  // Called (on the revoking thread) for every session revoked, with its token hash and the
  // reason ("logout" for revoke and revoke_hash, "revoked" for revoke_all): live WebSocket
  // connections of that session are told and closed. Set once, before the server starts.
  void on_revoke(std::function<void(const std::string& token_hash, const std::string& reason)> f) {
    on_revoke_ = std::move(f);
  }

  // Live sessions held (for tests and metrics).
  size_t size() const;
  // The live sessions of one person, with when each was last used (for their export).
  std::vector<std::pair<session_info, int64_t>> sessions_of(const std::string& user_id) const;

  const auth_settings& settings() const { return settings_; }
  login_throttle& throttle() { return throttle_; }
  const password_blocklist& blocklist() const { return blocklist_; }

  // The hex SHA-256 of a token.
  static std::string hash_token(std::string_view token);

 private:
  session_store(caf::actor_system& sys, const actors::engine& eng, auth_settings settings,
                password_blocklist blocklist);
  struct entry {
    session_info info;
    int64_t last_seen_ms = 0;
  };
  void commit(persistence::write_item item, std::function<void(caf::error)> then);
  void drop_expired(int64_t now);

  caf::actor_system& sys_;
  persistence::store_actor writer_;
  auth_settings settings_;
  login_throttle throttle_;
  password_blocklist blocklist_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> sessions_;  // token hash -> session
  std::function<void(const std::string&, const std::string&)> on_revoke_;
  int64_t last_sweep_ms_ = 0;
};

// -- who is asking
// ---------------------------------------------------------------------------------

// The token a request carries: Authorization: Bearer, else the mext_session cookie.
std::optional<std::string> request_token(const request& req);

// Finds the request's session (Authorization: Bearer, or the mext_session cookie), then asks the
// user actor for the caller's roles, and calls `then` with the principal, or with nothing for an
// anonymous request. An invalid or expired token is treated as anonymous.
void authenticate(const api& a, const request& req,
                  std::function<void(std::optional<principal>)> then);

// Like authenticate, but answers 401 itself when nobody is signed in; `then` gets the principal.
void require_user(const api& a, const request& req, const respond_fn& respond,
                  std::function<void(principal)> then);
// Like require_user, and answers 403 to anyone but an administrator.
void require_admin(const api& a, const request& req, const respond_fn& respond,
                   std::function<void(principal)> then);

// -- connection data ------------------------------------------------------------------------------

struct client_address {
  std::string ip;                    // the client as far as trusted peers vouch for it
  std::vector<std::string> proxies;  // trusted hops, nearest the client first
};

// The client's address: the socket peer, or, when the peer is a trusted proxy, the address it
// (and trusted proxies before it) forwarded in Forwarded, else X-Forwarded-For. Entries of
// `trusted` are addresses or CIDR blocks ("10.0.0.0/8", "fd00::/8").
client_address client_address_of(const request& req, const std::vector<std::string>& trusted);

// 429 with Retry-After for a password attempt the login throttle refused (login, password
// change, erasure: every route that checks a password).
response too_many_attempts(std::chrono::seconds wait);
// True for an address or a CIDR block that client_address_of understands ("10.0.0.0/8", "::1").
bool is_address_block(std::string_view entry);

// True when ip is one of the addresses or inside one of the blocks of `trusted`.
bool is_trusted_proxy(std::string_view ip, const std::vector<std::string>& trusted);

}  // namespace mext::http
