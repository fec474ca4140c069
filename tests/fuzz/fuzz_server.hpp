#pragma once
// The server the socket-level fuzz targets talk to: the whole API (every route, a real engine on
// LMDB in a temporary directory) over plain HTTP on 127.0.0.1, with an administrator, a
// representative, a visitor and a booth with its chat room. One per fuzzing process.
//
// Inputs may name these with placeholders, so seed requests stay valid across runs although ids
// and tokens are random: @ADMIN@ @REP@ @VISITOR@ (tokens), @ADMIN_ID@ @REP_ID@ @VISITOR_ID@,
// @ORG@ @EXH@ @BOOTH@ @ROOM@.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mext::fuzz {

class fuzz_server {
 public:
  // Starts on first use; aborts the process when the server does not start.
  static fuzz_server& get();

  uint16_t port() const;
  // `text` with every placeholder replaced by its value.
  std::string expand(std::string_view text) const;
  // Token of an identity: 0 nobody (empty), 1 visitor, 2 representative, 3 administrator.
  const std::string& token(int who) const;
  // (placeholder without @, value) for every id, for targets that fill path parameters.
  const std::vector<std::pair<std::string, std::string>>& ids() const;
  // Every route as (method, pattern), as the router lists them.
  std::vector<std::pair<std::string, std::string>> routes() const;

  // Writes `bytes` on a new connection, half-closes it and reads until the server closes.
  // Aborts (a finding) when the server neither answers nor closes within `timeout_ms`: a
  // request must never hang a connection past its timeouts.
  std::string exchange(std::string_view bytes, int timeout_ms = 20000) const;

  // Upgrades a new connection to WebSocket (signed in with the cookie of `who`, 0 for nobody),
  // then writes `frames`, half-closes and reads until the server closes. Aborts like exchange
  // on a hang; the handshake's answer when it is not 101.
  std::string ws_exchange(int who, std::string_view frames, int timeout_ms = 20000) const;

  // An input may sign an identity out (POST /auth/logout) or change its password: every few
  // hundred inputs the tokens are checked and renewed, so later inputs stay authenticated.
  void keep_identities();

 private:
  fuzz_server();
  struct state;
  state* st_;
};

// libFuzzer ends a run with exit() while the engine's actors still run; OpenSSL's own atexit
// cleanup would free its random generator under them (a SEGV in RAND_bytes on the way out).
// Called before any other OpenSSL use, it leaves OpenSSL to the end of the process.
void keep_openssl_through_exit();

// A whole HTTP/1.1 request with Content-Length (and a token when `token` is not empty).
std::string http_request(std::string_view method, std::string_view target, std::string_view token,
                         std::string_view body, std::string_view extra_headers = {});

}  // namespace mext::fuzz
