#define BOOST_TEST_MODULE mextd
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/lmdb_store.hpp"
#include "test_support.hpp"
#include "tests/support/ws_client.hpp"

using namespace mext;

namespace {

// mextd as a child process, with its stdout read line by line.
class mextd_process {
 public:
  explicit mextd_process(std::vector<std::string> args, bool with_admin = true) {
    int out[2];
    BOOST_REQUIRE(::pipe(out) == 0);
    pid_ = ::fork();
    BOOST_REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, STDERR_FILENO);
      ::close(out[0]);
      if (with_admin) {
        ::setenv("MEXT_ADMIN_EMAIL", "admin@test.invalid", 1);
        ::setenv("MEXT_ADMIN_PASSWORD", "a-long-test-password-42", 1);
      } else {
        ::unsetenv("MEXT_ADMIN_EMAIL");
        ::unsetenv("MEXT_ADMIN_PASSWORD");
      }
      auto bin = test::binary_path("mextd").string();
      std::vector<char*> argv{bin.data()};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
  }
  ~mextd_process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
  }

  // The next line of stdout, waiting at most `timeout`; empty at end of output or time-out.
  std::string read_line(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        auto line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
      char chunk[512];
      auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return {};
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  // Everything the process writes until it closes stdout (bounded by the read time-out).
  std::string read_all() {
    std::string all = buf_;
    buf_.clear();
    char chunk[512];
    for (int i = 0; i < 10000; ++i) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 60000) <= 0) break;
      auto n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) break;
      all.append(chunk, static_cast<size_t>(n));
    }
    return all;
  }

  // Reads lines until one starts with "listening on "; returns the port.
  int wait_listening() {
    for (int i = 0; i < 20; ++i) {
      auto line = read_line();
      if (line.empty()) return -1;
      if (line.rfind("listening on ", 0) == 0) return std::stoi(line.substr(line.rfind(':') + 1));
      seen_.push_back(line);
    }
    return -1;
  }

  // Sends `sig` and waits for the exit status (bounded).
  int stop(int sig) {
    ::kill(pid_, sig);
    for (int i = 0; i < 600; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        return status;
      }
      ::usleep(50 * 1000);
    }
    return -1;
  }

  int wait_exit() { return stop(0); }

  const std::vector<std::string>& lines_before_listening() const { return seen_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool reaped_ = false;
  std::string buf_;
  std::vector<std::string> seen_;
};

// A plain-HTTP request on loopback: the status line's code and the body.
std::pair<int, std::string> http_request(int port, const std::string& head,
                                         const std::string& body);

std::pair<int, std::string> http_get(int port, const std::string& path) {
  return http_request(port, "GET " + path + " HTTP/1.1\r\n", "");
}

std::pair<int, std::string> http_request(int port, const std::string& head,
                                         const std::string& body) {
  const int fd = mext::test::connect_loopback(static_cast<uint16_t>(port));
  if (fd < 0) return {-1, {}};
  std::string req = head + "Host: localhost\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < req.size()) {
    auto n = ::write(fd, req.data() + sent, req.size() - sent);
    if (n <= 0) break;  // the server may answer 413 and close before reading everything
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  std::string resp;
  char chunk[4096];
  ssize_t n;
  while ((n = ::read(fd, chunk, sizeof chunk)) > 0) resp.append(chunk, static_cast<size_t>(n));
  ::close(fd);
  if (resp.size() < 12) return {-1, resp};
  auto end_of_head = resp.find("\r\n\r\n");
  return {std::stoi(resp.substr(9, 3)),
          end_of_head == std::string::npos ? "" : resp.substr(end_of_head + 4)};
}

size_t stored_entities(const std::filesystem::path& data_dir, const std::string& prefix) {
  persistence::store_settings s;
  s.dir = data_dir / "lmdb";
  auto store = persistence::lmdb_store::open(s);
  BOOST_REQUIRE(store);
  auto ents = (*store)->entities(prefix, 1000);
  BOOST_REQUIRE(ents);
  return ents->size();
}

// Flags of a plain-HTTP server on `data` whose LMDB map starts at 1 MiB and grows up to
// `map_max_mb`, without the request rate limit (the disk-full tests write as fast as they can).
std::vector<std::string> small_store_args(const std::string& data, const std::string& map_max_mb) {
  return {"--data-dir",
          data,
          "--listen",
          "127.0.0.1:0",
          "--plain-http",
          "--map-size-mb",
          "1",
          "--map-max-mb",
          map_max_mb,
          "--rate-limit-rps",
          "0"};
}

// Signs in the administrator the fixture's environment creates; returns the bearer token.
std::string admin_login(int port) {
  auto r =
      http_request(port, "POST /api/v1/auth/login HTTP/1.1\r\nContent-Type: application/json\r\n",
                   R"({"email":"admin@test.invalid","password":"a-long-test-password-42"})");
  BOOST_REQUIRE_EQUAL(r.first, 200);
  return nlohmann::json::parse(r.second).at("token").get<std::string>();
}

std::pair<int, std::string> post_json(int port, const std::string& token, const std::string& path,
                                      const nlohmann::json& body) {
  return http_request(port,
                      "POST " + path + " HTTP/1.1\r\nAuthorization: Bearer " + token +
                          "\r\nContent-Type: application/json\r\n",
                      body.dump());
}

// An organization, an exhibition and a booth; returns the booth's chat room id.
std::string new_booth_room(int port, const std::string& token) {
  auto org = post_json(port, token, "/api/v1/organizations", {{"name", "Acme"}});
  BOOST_REQUIRE_EQUAL(org.first, 201);
  auto exh = post_json(port, token, "/api/v1/exhibitions",
                       {{"title", "Fair"},
                        {"starts_at", "2026-11-27T08:00:00Z"},
                        {"ends_at", "2026-11-30T18:00:00Z"}});
  BOOST_REQUIRE_EQUAL(exh.first, 201);
  auto booth = post_json(
      port, token,
      "/api/v1/exhibitions/" +
          nlohmann::json::parse(exh.second).at("exhibition_id").get<std::string>() + "/booths",
      {{"organization_id", nlohmann::json::parse(org.second).at("organization_id")},
       {"name", "Booth"}});
  BOOST_REQUIRE_EQUAL(booth.first, 201);
  return nlohmann::json::parse(booth.second).at("chat_room_id").get<std::string>();
}

// Posts 3.9 KB messages (client ids "fill-<i>") until one is refused; every acknowledged id goes
// into `acked`. Returns the refusal and the index of the refused message.
std::pair<std::pair<int, std::string>, int> fill_room(int port, const std::string& token,
                                                      const std::string& room,
                                                      std::set<std::string>& acked) {
  for (int i = 0; i < 5000; ++i) {
    auto r = post_json(port, token, "/api/v1/rooms/" + room + "/messages",
                       {{"text", std::string(3900, 'a' + i % 26)},
                        {"client_msg_id", "fill-" + std::to_string(i)}});
    if (r.first != 201) return {r, i};
    acked.insert(nlohmann::json::parse(r.second).at("message_id").get<std::string>());
  }
  return {{0, {}}, -1};
}

// Every message of a room (its JSON items), newest first, through the paged history.
std::vector<nlohmann::json> room_messages(int port, const std::string& token,
                                          const std::string& room) {
  std::vector<nlohmann::json> items;
  std::string before;
  for (;;) {
    auto page = http_request(port,
                             "GET /api/v1/rooms/" + room + "/messages?limit=200" +
                                 (before.empty() ? "" : "&before=" + before) +
                                 " HTTP/1.1\r\nAuthorization: Bearer " + token + "\r\n",
                             "");
    BOOST_REQUIRE_MESSAGE(page.first == 200, page.first << " " << page.second);
    auto doc = nlohmann::json::parse(page.second);
    for (auto& m : doc.at("items")) items.push_back(m);
    if (doc.at("next_cursor").is_null()) break;
    before = doc.at("next_cursor").get<std::string>();
  }
  return items;
}

std::vector<std::string> room_history(int port, const std::string& token, const std::string& room) {
  std::vector<std::string> ids;
  for (auto& m : room_messages(port, token, room))
    ids.push_back(m.at("message_id").get<std::string>());
  return ids;
}

// A tmpfs of a given size mounted on a fresh directory: a filesystem that really fills up.
// Needs CAP_SYS_ADMIN; `mounted()` is false (with the reason in `why()`) where that is missing.
class small_filesystem {
 public:
  small_filesystem(std::filesystem::path at, std::size_t mib) : at_(std::move(at)) {
    std::filesystem::create_directories(at_);
    auto opts = "size=" + std::to_string(mib) + "m,mode=0700";
    if (::mount("tmpfs", at_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, opts.c_str()) == 0)
      mounted_ = true;
    else
      why_ = std::string("mount(tmpfs): ") + std::strerror(errno);
  }
  small_filesystem(const small_filesystem&) = delete;
  small_filesystem& operator=(const small_filesystem&) = delete;
  ~small_filesystem() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }

  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::filesystem::path& path() const { return at_; }

  // The operator frees space: the same filesystem, larger, with its files in place.
  bool grow_to(std::size_t mib) {
    auto opts = "size=" + std::to_string(mib) + "m";
    return ::mount("tmpfs", at_.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV,
                   opts.c_str()) == 0;
  }

 private:
  std::filesystem::path at_;
  bool mounted_ = false;
  std::string why_;
};

// Precondition of the full-filesystem test: skipped, with its reason, where mounting is refused.
struct can_mount_tmpfs {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    test::temp_dir probe;
    small_filesystem fs{probe.path() / "fs", 1};
    boost::test_tools::assertion_result r{fs.mounted()};
    if (!fs.mounted()) r.message() << "cannot mount a tmpfs here (" << fs.why() << ")";
    return r;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(help_lists_every_flag_and_exits_zero) {
  mextd_process p{{"--help"}};
  auto all = p.read_all();
  for (auto flag : {"--data-dir", "--listen", "--tls-cert", "--tls-key", "--plain-http", "--demo",
                    "--help", "--config"})
    BOOST_TEST(all.find(flag) != std::string::npos, "usage lacks " << flag);
  auto status = p.wait_exit();
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(demo_server_answers_health_and_stops_cleanly_on_sigterm_then_restarts) {
  test::temp_dir dir;
  auto data = (dir.path() / "var").string();
  {
    mextd_process p{{"--data-dir", data, "--listen", "127.0.0.1:0", "--plain-http", "--demo"}};
    int port = p.wait_listening();
    BOOST_REQUIRE(port > 0);
    bool announced = false;
    for (auto& l : p.lines_before_listening())
      if (l.rfind("demo exhibition ", 0) == 0) announced = true;
    BOOST_TEST(announced);
    auto health = http_get(port, "/healthz");
    BOOST_TEST(health.first == 200);
    BOOST_TEST(health.second.find("\"ok\"") != std::string::npos);
    auto ready = http_get(port, "/readyz");
    BOOST_TEST(ready.first == 200);
    BOOST_TEST(http_get(port, "/no/such/path").first == 404);
    auto status = p.stop(SIGTERM);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
  }
  BOOST_TEST(stored_entities(dir.path() / "var", "exh_") == 1u);
  BOOST_TEST(stored_entities(dir.path() / "var", "bth_") == 3u);
  {
    // A second start on the same directory keeps the data and loads no second demo.
    mextd_process p{{"--data-dir", data, "--listen", "127.0.0.1:0", "--plain-http", "--demo"}};
    int port = p.wait_listening();
    BOOST_REQUIRE(port > 0);
    for (auto& l : p.lines_before_listening()) BOOST_TEST(l.rfind("demo exhibition ", 0) != 0);
    BOOST_TEST(http_get(port, "/readyz").first == 200);
    BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
  }
  BOOST_TEST(stored_entities(dir.path() / "var", "exh_") == 1u);
}

BOOST_AUTO_TEST_CASE(a_server_killed_with_sigkill_restarts_on_its_data) {
  test::temp_dir dir;
  auto data = (dir.path() / "var").string();
  {
    mextd_process p{{"--data-dir", data, "--listen", "127.0.0.1:0", "--plain-http", "--demo"}};
    BOOST_REQUIRE(p.wait_listening() > 0);
    auto status = p.stop(SIGKILL);
    BOOST_TEST(WIFSIGNALED(status));
  }
  mextd_process p{{"--data-dir", data, "--listen", "127.0.0.1:0", "--plain-http"}};
  int port = p.wait_listening();
  BOOST_REQUIRE(port > 0);
  BOOST_TEST(http_get(port, "/readyz").first == 200);
  BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
  BOOST_TEST(stored_entities(dir.path() / "var", "bth_") == 3u);
}

BOOST_AUTO_TEST_CASE(a_scheduled_backup_restores_with_the_restore_flag) {
  test::temp_dir dir;
  auto data = (dir.path() / "var").string();
  auto backups = dir.path() / "var" / "backups";
  {
    mextd_process p{{"--data-dir", data, "--listen", "127.0.0.1:0", "--plain-http", "--demo",
                     "--backup-interval-s", "1", "--backup-keep", "2"}};
    BOOST_REQUIRE(p.wait_listening() > 0);
    // Three intervals: at least two backups, and never more than the two kept.
    std::this_thread::sleep_for(std::chrono::milliseconds(3500));
    BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
  }
  std::vector<std::filesystem::path> found;
  for (auto& e : std::filesystem::directory_iterator(backups))
    if (e.path().filename().string().rfind("backup-", 0) == 0) found.push_back(e.path());
  BOOST_TEST_REQUIRE(found.size() == 2u);
  {
    mextd_process p{{"--data-dir", data, "--restore", found.front().string()}};
    auto all = p.read_all();
    BOOST_TEST(all.find("restored ") == 0u, all);
    BOOST_TEST(WEXITSTATUS(p.wait_exit()) == 0);
  }
  BOOST_TEST(stored_entities(dir.path() / "var", "bth_") == 3u);
  mextd_process p{{"--data-dir", data, "--listen", "127.0.0.1:0", "--plain-http"}};
  int port = p.wait_listening();
  BOOST_REQUIRE(port > 0);
  BOOST_TEST(http_get(port, "/readyz").first == 200);
  BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
  // Something that is not a backup is refused with a reason and a non-zero status.
  mextd_process bad{{"--data-dir", data, "--restore", (dir.path() / "nothing").string()}};
  BOOST_TEST(WEXITSTATUS(bad.wait_exit()) == 1);
}

BOOST_AUTO_TEST_CASE(plain_http_off_loopback_is_refused) {
  test::temp_dir dir;
  mextd_process p{{"--data-dir", dir.path().string(), "--listen", "0.0.0.0:0", "--plain-http"}};
  BOOST_TEST(p.wait_listening() == -1);
  auto status = p.wait_exit();
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) != 0);
}

BOOST_AUTO_TEST_CASE(demo_without_an_administrator_is_refused_with_a_reason) {
  test::temp_dir dir;
  mextd_process p{
      {"--data-dir", dir.path().string(), "--listen", "127.0.0.1:0", "--plain-http", "--demo"},
      false};
  BOOST_TEST(p.wait_listening() == -1);
  auto status = p.wait_exit();
  BOOST_TEST(WEXITSTATUS(status) == 1);
}

BOOST_AUTO_TEST_CASE(an_unknown_flag_is_an_error_naming_it) {
  mextd_process p{{"--no-such-flag"}};
  BOOST_TEST(p.wait_listening() == -1);
  BOOST_TEST(WEXITSTATUS(p.wait_exit()) == 2);
}

BOOST_AUTO_TEST_CASE(uploads_up_to_max_file_bytes_pass_the_body_limit_and_larger_ones_get_413) {
  test::temp_dir dir;
  mextd_process p{{"--data-dir", dir.path().string(), "--listen", "127.0.0.1:0", "--plain-http",
                   "--max-file-bytes", "3000000"}};
  int port = p.wait_listening();
  BOOST_REQUIRE(port > 0);
  auto login =
      http_request(port, "POST /api/v1/auth/login HTTP/1.1\r\nContent-Type: application/json\r\n",
                   R"({"email":"admin@test.invalid","password":"a-long-test-password-42"})");
  BOOST_REQUIRE_EQUAL(login.first, 200);
  auto token = nlohmann::json::parse(login.second).at("token").get<std::string>();
  auto upload = [&](size_t size) {
    std::string png("\x89PNG\r\n\x1a\n", 8);
    png.resize(size, '\0');
    return http_request(port,
                        "POST /api/v1/files HTTP/1.1\r\nAuthorization: Bearer " + token +
                            "\r\nContent-Type: image/png\r\nX-File-Name: poster.png\r\n",
                        png)
        .first;
  };
  // Twice the default max-body-bytes, within max-file-bytes.
  BOOST_TEST(upload(2 * 1024 * 1024) == 201);
  BOOST_TEST(upload(3000001) == 413);
  BOOST_TEST(http_get(port, "/healthz").first == 200);
  BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
}

BOOST_AUTO_TEST_CASE(every_message_acknowledged_over_websocket_survives_sigkill) {
  test::temp_dir dir;
  auto data = (dir.path() / "var").string();
  const std::vector<std::string> fast_senders{"--ws-send-rate", "100000", "--ws-send-burst",
                                              "100000"};
  auto args = [&](bool demo) {
    std::vector<std::string> a{"--data-dir", data, "--listen", "127.0.0.1:0", "--plain-http"};
    if (demo) a.push_back("--demo");
    a.insert(a.end(), fast_senders.begin(), fast_senders.end());
    return a;
  };

  std::string room;
  std::set<std::string> acked;
  {
    mextd_process p{args(true)};
    int port = p.wait_listening();
    BOOST_REQUIRE(port > 0);
    auto token = admin_login(port);
    auto exh = nlohmann::json::parse(http_get(port, "/api/v1/exhibitions").second)
                   .at("items")[0]
                   .at("exhibition_id")
                   .get<std::string>();
    room = nlohmann::json::parse(http_get(port, "/api/v1/exhibitions/" + exh + "/booths").second)
               .at("items")[0]
               .at("chat_room_id")
               .get<std::string>();
    test::ws_client::options o;
    o.tls = false;
    test::ws_client c{static_cast<uint16_t>(port), o};
    c.auth(token);
    // Everything is sent at once; the server is killed the moment 300 of 400 are acknowledged,
    // with the rest still in flight.
    for (int i = 0; i < 400; ++i)
      c.send_json({{"op", "send"},
                   {"room_id", room},
                   {"text", "durable " + std::to_string(i)},
                   {"client_msg_id", "k" + std::to_string(i)}});
    while (acked.size() < 300) {
      auto j = c.next();
      if (j.at("ev") == "ack") acked.insert(j.at("message_id").get<std::string>());
      BOOST_REQUIRE(j.at("ev") != "error");
    }
    BOOST_TEST(WIFSIGNALED(p.stop(SIGKILL)));
  }
  mextd_process p{args(false)};
  int port = p.wait_listening();
  BOOST_REQUIRE(port > 0);
  auto token = admin_login(port);
  std::set<std::string> stored, texts;
  for (auto& m : room_messages(port, token, room)) {
    stored.insert(m.at("message_id").get<std::string>());
    auto text = m.at("text").get<std::string>();
    if (text.rfind("durable ", 0) == 0) BOOST_TEST(texts.insert(text).second, "twice: " << text);
  }
  std::size_t missing = 0;
  for (auto& id : acked) missing += stored.count(id) == 0 ? 1 : 0;
  BOOST_TEST(missing == 0u, missing << " of " << acked.size() << " acknowledged messages lost");
  // SIGTERM with a signed-in WebSocket in a room still stops cleanly.
  test::ws_client::options o;
  o.tls = false;
  test::ws_client live{static_cast<uint16_t>(port), o};
  live.auth(token);
  live.join(room);
  auto status = p.stop(SIGTERM);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(a_full_store_answers_507_loses_nothing_acknowledged_and_recovers_with_space) {
  test::temp_dir dir;
  auto data = (dir.path() / "var").string();
  auto args = [&](const std::string& map_max_mb) { return small_store_args(data, map_max_mb); };

  std::string room;
  std::set<std::string> acked;
  {
    // A 2 MiB map: a few hundred 4 KB messages fill it.
    mextd_process p{args("2")};
    int port = p.wait_listening();
    BOOST_REQUIRE(port > 0);
    auto token = admin_login(port);
    room = new_booth_room(port, token);
    auto [refused, at] = fill_room(port, token, room, acked);
    BOOST_REQUIRE_EQUAL(refused.first, 507);
    auto problem = nlohmann::json::parse(refused.second);
    BOOST_TEST(problem.at("status") == 507);
    BOOST_TEST(!problem.at("detail").get<std::string>().empty());
    BOOST_TEST(acked.size() > 10u);
    // Full, the server still answers reads and health, and keeps what it acknowledged.
    BOOST_TEST(http_get(port, "/healthz").first == 200);
    auto seen = room_history(port, token, room);
    BOOST_TEST(std::set<std::string>(seen.begin(), seen.end()) == acked);
    BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
  }
  // Space returns (the operator raises the limit): writes pass again, nothing was lost.
  mextd_process p{args("64")};
  int port = p.wait_listening();
  BOOST_REQUIRE(port > 0);
  auto token = admin_login(port);
  auto after = post_json(port, token, "/api/v1/rooms/" + room + "/messages",
                         {{"text", "space is back"}, {"client_msg_id", "after-full"}});
  BOOST_REQUIRE_EQUAL(after.first, 201);
  auto seen = room_history(port, token, room);
  std::set<std::string> unique(seen.begin(), seen.end());
  BOOST_TEST(unique.size() == seen.size(), "a message is stored twice");
  std::size_t missing = 0;
  for (auto& id : acked) missing += unique.count(id) == 0 ? 1 : 0;
  BOOST_TEST(missing == 0u, missing << " of " << acked.size() << " acknowledged messages lost");
  BOOST_TEST(unique.size() == acked.size() + 1);
  BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
}

// The map is large enough; the filesystem under it is not (a 3 MiB tmpfs under a 64 MiB map).
BOOST_AUTO_TEST_CASE(
    a_full_filesystem_answers_507_keeps_what_it_acknowledged_and_writes_again_when_space_returns,
    *boost::unit_test::precondition(can_mount_tmpfs{})) {
  test::temp_dir dir;
  small_filesystem fs{dir.path() / "fs", 3};
  BOOST_REQUIRE_MESSAGE(fs.mounted(), fs.why());
  auto data = (fs.path() / "var").string();
  auto args = small_store_args(data, "64");
  std::string room;
  std::set<std::string> acked;
  {
    mextd_process p{args};
    int port = p.wait_listening();
    BOOST_REQUIRE(port > 0);
    auto token = admin_login(port);
    room = new_booth_room(port, token);
    auto [refused, at] = fill_room(port, token, room, acked);
    // The disk, not the map, ran out: the answer says so, as problem+json.
    BOOST_REQUIRE_MESSAGE(refused.first == 507, refused.first << " " << refused.second);
    auto problem = nlohmann::json::parse(refused.second);
    BOOST_TEST(problem.at("status") == 507);
    BOOST_TEST(problem.at("detail").get<std::string>().find("filesystem") != std::string::npos,
               problem.dump());
    BOOST_TEST(acked.size() > 10u);
    BOOST_TEST(http_get(port, "/healthz").first == 200);
    auto seen = room_history(port, token, room);
    BOOST_TEST(std::set<std::string>(seen.begin(), seen.end()) == acked);

    // The operator frees space; the same process writes again, the refused message included,
    // and its client id was not taken by the refused attempt.
    BOOST_REQUIRE(fs.grow_to(32));
    auto retried = post_json(port, token, "/api/v1/rooms/" + room + "/messages",
                             {{"text", std::string(3900, 'a' + at % 26)},
                              {"client_msg_id", "fill-" + std::to_string(at)}});
    BOOST_REQUIRE_MESSAGE(retried.first == 201, retried.first << " " << retried.second);
    auto retried_id = nlohmann::json::parse(retried.second).at("message_id").get<std::string>();
    BOOST_TEST(acked.count(retried_id) == 0u);
    acked.insert(retried_id);
    auto after = post_json(port, token, "/api/v1/rooms/" + room + "/messages",
                           {{"text", "space is back"}, {"client_msg_id", "after-full"}});
    BOOST_REQUIRE_EQUAL(after.first, 201);
    acked.insert(nlohmann::json::parse(after.second).at("message_id").get<std::string>());
    BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
  }
  // The data directory opens without repair after having been full, with every message once.
  mextd_process p{args};
  int port = p.wait_listening();
  BOOST_REQUIRE(port > 0);
  auto token = admin_login(port);
  auto seen = room_history(port, token, room);
  std::set<std::string> unique(seen.begin(), seen.end());
  BOOST_TEST(unique.size() == seen.size(), "a message is stored twice");
  BOOST_TEST(unique == acked);
  BOOST_TEST(WEXITSTATUS(p.stop(SIGTERM)) == 0);
}
