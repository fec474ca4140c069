#include "sim/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace mext::sim {

server_process::server_process(std::filesystem::path mextd, std::filesystem::path data_dir,
                               std::string admin_email, std::string admin_password,
                               std::vector<std::string> extra)
    : mextd_(std::move(mextd)),
      data_dir_(std::move(data_dir)),
      email_(std::move(admin_email)),
      password_(std::move(admin_password)),
      extra_(std::move(extra)) {}

server_process::~server_process() {
  stop();
}

uint16_t server_process::start(uint16_t port, const std::filesystem::path& log,
                               std::chrono::milliseconds timeout) {
  if (pid_ > 0) return 0;
  int out[2];
  if (::pipe(out) != 0) return 0;
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return 0;
  }
  if (pid_ == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) ::dup2(fd, STDERR_FILENO);
    ::close(out[0]);
    ::setenv("MEXT_ADMIN_EMAIL", email_.c_str(), 1);
    ::setenv("MEXT_ADMIN_PASSWORD", password_.c_str(), 1);
    std::string bin = mextd_.string(), data = data_dir_.string();
    std::string listen = "127.0.0.1:" + std::to_string(port);
    // No per-address rate limit, and logins of thousands of visitors from one address are not
    // an attack: every simulated visitor comes from loopback.
    std::vector<std::string> args = {
        bin,      "--data-dir",       data,  "--listen",
        listen,   "--rate-limit-rps", "0",   "--login-ip-free-failures",
        "100000", "--log-level",      "warn"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string buf;
  char chunk[256];
  auto deadline = std::chrono::steady_clock::now() + timeout;
  uint16_t got = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    auto n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    auto at = buf.find("listening on ");
    auto nl = at == std::string::npos ? std::string::npos : buf.find('\n', at);
    if (nl != std::string::npos) {
      auto line = buf.substr(at, nl - at);
      got = static_cast<uint16_t>(std::atoi(line.substr(line.rfind(':') + 1).c_str()));
      break;
    }
  }
  ::close(out[0]);
  if (got == 0) stop();
  return got;
}

void server_process::kill_now() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int server_process::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

}  // namespace mext::sim
