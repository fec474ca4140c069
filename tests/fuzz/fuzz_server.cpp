#include "tests/fuzz/fuzz_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>

#include "tests/support/api_fixture.hpp"

namespace mext::fuzz {

struct fuzz_server::state {
  std::unique_ptr<test::api_fixture> fx;
  test::api_fixture::booth_room booth;
  std::string visitor_id, visitor_token;
  std::vector<std::pair<std::string, std::string>> ids;
  std::string tokens[4];
  uint64_t inputs = 0;
  uint64_t renewals = 0;
};

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "fuzz_server: %s\n", what);
  std::abort();
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

}  // namespace

fuzz_server& fuzz_server::get() {
  static fuzz_server* instance = new fuzz_server();  // lives as long as the process
  return *instance;
}

void keep_openssl_through_exit() {
  if (OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) != 1) die("OPENSSL_init_crypto failed");
}

fuzz_server::fuzz_server() : st_(new state) {
  keep_openssl_through_exit();
  try {
    test::api_fixture_options o;
    o.tls = false;
    st_->fx = std::make_unique<test::api_fixture>(std::move(o));
    st_->booth = st_->fx->make_booth_room();
    std::tie(st_->visitor_id, st_->visitor_token) = st_->fx->new_user("visitor@fuzz.test");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_server: %s\n", e.what());
    die("the server did not start");
  }
  st_->tokens[1] = st_->visitor_token;
  st_->tokens[2] = st_->booth.rep_token;
  st_->tokens[3] = st_->fx->admin_token;
  st_->ids = {{"ADMIN_ID", st_->fx->admin_id},   {"REP_ID", st_->booth.rep_id},
              {"VISITOR_ID", st_->visitor_id},   {"ORG", st_->booth.organization_id},
              {"EXH", st_->booth.exhibition_id}, {"BOOTH", st_->booth.booth_id},
              {"ROOM", st_->booth.room_id}};
}

uint16_t fuzz_server::port() const {
  return st_->fx->port;
}

const std::string& fuzz_server::token(int who) const {
  return st_->tokens[who < 0 || who > 3 ? 0 : who];
}

const std::vector<std::pair<std::string, std::string>>& fuzz_server::ids() const {
  return st_->ids;
}

std::vector<std::pair<std::string, std::string>> fuzz_server::routes() const {
  return st_->fx->routes->routes();
}

std::string fuzz_server::expand(std::string_view text) const {
  std::string out(text);
  if (out.find('@') == std::string::npos) return out;
  replace_all(out, "@VISITOR@", st_->tokens[1]);
  replace_all(out, "@REP@", st_->tokens[2]);
  replace_all(out, "@ADMIN@", st_->tokens[3]);
  for (const auto& [name, value] : st_->ids) replace_all(out, "@" + name + "@", value);
  return out;
}

namespace {

int connect_to(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    // Interrupted by the watchdog's signal, the connect goes on in the background: wait for it.
    if (errno != EINTR) die("connect() to the server failed");
    pollfd p{fd, POLLOUT, 0};
    while (::poll(&p, 1, 10000) < 0)
      if (errno != EINTR) die("poll() after an interrupted connect() failed");
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
      die("connect() to the server failed");
  }
  return fd;
}

// The server may answer and close before the whole input is written (413, 431): a failed send
// is then expected, not a finding.
void write_all(int fd, std::string_view bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

using deadline = std::chrono::steady_clock::time_point;

// Reads into `out` until the server closes, or (with a non-empty `until`) until `out` holds
// it. Only the first 64 KiB are kept: the rest is read so the server can finish.
void read_from(int fd, std::string& out, deadline by, std::string_view until = {}) {
  char buf[16384];
  for (;;) {
    if (!until.empty() && out.find(until) != std::string::npos) return;
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(by - std::chrono::steady_clock::now())
            .count();
    if (left <= 0) die("the server neither answered nor closed the connection in time");
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left));
    // libFuzzer's -timeout watchdog is a SIGALRM every second: an interrupted poll is retried.
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) die("poll() failed");
    if (ready == 0) continue;
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // closed (or reset after an early answer)
    if (out.size() < 65536) out.append(buf, static_cast<size_t>(n));
  }
}

deadline after_ms(int ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

}  // namespace

std::string fuzz_server::exchange(std::string_view bytes, int timeout_ms) const {
  int fd = connect_to(st_->fx->port);
  write_all(fd, bytes);
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  read_from(fd, answer, after_ms(timeout_ms));
  ::close(fd);
  return answer;
}

std::string fuzz_server::ws_exchange(int who, std::string_view frames, int timeout_ms) const {
  int fd = connect_to(st_->fx->port);
  std::string handshake =
      "GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n";
  if (!token(who).empty()) handshake += "Cookie: mext_session=" + token(who) + "\r\n";
  handshake += "\r\n";
  write_all(fd, handshake);
  auto by = after_ms(timeout_ms);
  std::string answer;
  read_from(fd, answer, by, "\r\n\r\n");
  if (answer.substr(0, 12) != "HTTP/1.1 101") {
    ::shutdown(fd, SHUT_WR);
    read_from(fd, answer, by);
    ::close(fd);
    return answer;
  }
  write_all(fd, frames);
  ::shutdown(fd, SHUT_WR);
  std::string events;
  read_from(fd, events, by);
  ::close(fd);
  return events;
}

void fuzz_server::keep_identities() {
  if (++st_->inputs % 256 != 0) return;
  auto& fx = *st_->fx;
  auto valid = [&](const std::string& token) {
    return fx.http().get("/api/v1/me", token).status == 200;
  };
  try {
    if (!valid(st_->tokens[3]))
      st_->tokens[3] = fx.admin_token = fx.login(fx.admin_email, fx.admin_password);
    if (!valid(st_->tokens[1])) {
      // The visitor may be gone (erased by an administrator input): a new one takes its place.
      auto email = "visitor" + std::to_string(++st_->renewals) + "@fuzz.test";
      std::tie(st_->visitor_id, st_->tokens[1]) = fx.new_user(email);
      for (auto& [name, value] : st_->ids)
        if (name == "VISITOR_ID") value = st_->visitor_id;
    }
    if (!valid(st_->tokens[2])) {
      auto email = "rep" + std::to_string(++st_->renewals) + "@fuzz.test";
      std::tie(st_->booth.rep_id, st_->tokens[2]) = fx.new_user(email);
      fx.make_org_rep(st_->booth.rep_id, st_->booth.organization_id);
      for (auto& [name, value] : st_->ids)
        if (name == "REP_ID") value = st_->booth.rep_id;
    }
  } catch (const std::exception& e) {
    // The administrator's own password may have been changed by an input: the targets go on
    // with what still works rather than stop the run.
    std::fprintf(stderr, "fuzz_server: renewing identities: %s\n", e.what());
  }
}

std::string http_request(std::string_view method, std::string_view target, std::string_view token,
                         std::string_view body, std::string_view extra_headers) {
  std::string r;
  r.reserve(256 + body.size());
  r.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  if (!token.empty()) r.append("Authorization: Bearer ").append(token).append("\r\n");
  if (!body.empty()) r.append("Content-Type: application/json\r\n");
  r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  r.append(extra_headers);
  r.append("Connection: close\r\n\r\n");
  r.append(body);
  return r;
}

}  // namespace mext::fuzz
