#pragma once
// A mextd that the simulator starts itself: once for a run (--spawn-server), or again and again
// on one data directory and port, killed with SIGKILL in between (the crash soak).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mext::sim {

class server_process {
 public:
  // `extra` are more mextd arguments (--server-flag); the administrator is created from
  // MEXT_ADMIN_EMAIL/MEXT_ADMIN_PASSWORD on the first start.
  server_process(std::filesystem::path mextd, std::filesystem::path data_dir,
                 std::string admin_email, std::string admin_password,
                 std::vector<std::string> extra);
  ~server_process();  // SIGTERM and wait, when it still runs
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  // Starts mextd on 127.0.0.1:port (0: any free port) with its stderr appended to `log`, and
  // waits up to `timeout` for its "listening on" line: the port it listens on, 0 when it did not
  // start.
  uint16_t start(uint16_t port, const std::filesystem::path& log,
                 std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // SIGKILL, then reaps it: nothing of its shutdown runs.
  void kill_now();
  // SIGTERM, then reaps it; answers its wait status (-1 when it was not running).
  int stop();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  std::filesystem::path mextd_, data_dir_;
  std::string email_, password_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

}  // namespace mext::sim
