// mext-sim: drives a running mextd (or one it starts with --spawn-server) through the real HTTPS
// interface with the visitors of a scenario, and says whether the fair held.
//
//   mext-sim --scenario sim/scenarios/smoke.json --spawn-server [--report out.json]
//   mext-sim --scenario FILE --target 127.0.0.1:8443 [--shard 0/2] [--source-addresses 16]
//
// Exit status: 0 the scenario's pass criteria held; 1 they did not; 2 bad usage or scenario;
// 3 the server could not be reached, started or set up.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "persistence/errors.hpp"
#include "sim/driver.hpp"
#include "sim/html_report.hpp"
#include "sim/report.hpp"
#include "sim/scenario.hpp"

namespace {

using namespace mext;
using namespace mext::sim;
namespace fs = std::filesystem;

constexpr const char* usage =
    "Usage: mext-sim --scenario FILE (--spawn-server | --target HOST:PORT) [flags]\n"
    "  --scenario FILE         a scenario of sim/scenarios/\n"
    "  --spawn-server          start mextd on a temporary data directory and stop it after\n"
    "  --mextd PATH            the mextd binary for --spawn-server (default: next to mext-sim)\n"
    "  --target HOST:PORT      a running server (its administrator in MEXT_ADMIN_EMAIL and\n"
    "                          MEXT_ADMIN_PASSWORD)\n"
    "  --plain                 plain HTTP (a server started with --plain-http)\n"
    "  --shard I/N             run visitors I, I+N, ... (several processes share one run)\n"
    "  --source-addresses N    spread sockets over 127.0.0.1..127.0.0.N (loopback targets)\n"
    "  --report FILE           write the JSON report there\n"
    "  --html FILE             write the HTML report (SVG charts) there\n"
    "  --merge REPORT          (repeated) merge the shards' reports of one run instead of\n"
    "                          running; with --scenario, --report and --html\n"
    "  --seed N                the random seed (default 1)\n"
    "  --members FRACTION      overrides the scenario's members (0 to 1)\n"
    "  --server-flag ARG       (repeated) one more argument for the mextd of --spawn-server,\n"
    "                          e.g. --server-flag --scheduler --server-flag sharing\n"
    "  --visitors N            overrides the scenario's population.visitors\n"
    "  --duration S            overrides the scenario's duration_s (arrivals keep their times)\n";

struct spawned_server {
  pid_t pid = -1;
  fs::path dir;
  ~spawned_server() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

// Starts mextd and answers the port it listens on (0 when it did not start).
uint16_t spawn(const fs::path& mextd, spawned_server& s, const std::string& email,
               const std::string& password, const std::vector<std::string>& extra) {
  char tmpl[] = "/tmp/mext-sim-XXXXXX";
  if (!::mkdtemp(tmpl)) return 0;
  s.dir = tmpl;
  int out[2];
  if (::pipe(out) != 0) return 0;
  s.pid = ::fork();
  if (s.pid < 0) return 0;
  if (s.pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    int log = ::open((s.dir / "mextd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (log >= 0) ::dup2(log, STDERR_FILENO);
    ::close(out[0]);
    ::setenv("MEXT_ADMIN_EMAIL", email.c_str(), 1);
    ::setenv("MEXT_ADMIN_PASSWORD", password.c_str(), 1);
    std::string bin = mextd.string(), data = s.dir.string();
    // No per-address rate limit, and logins of thousands of visitors from one address are not
    // an attack: every simulated visitor comes from loopback.
    std::vector<std::string> args = {
        bin,           "--data-dir",       data,  "--listen",
        "127.0.0.1:0", "--rate-limit-rps", "0",   "--login-ip-free-failures",
        "100000",      "--log-level",      "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(bin.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string buf;
  char chunk[256];
  for (int i = 0; i < 600; ++i) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    auto n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    auto at = buf.find("listening on ");
    auto nl = at == std::string::npos ? std::string::npos : buf.find('\n', at);
    if (nl != std::string::npos) {
      auto line = buf.substr(at, nl - at);
      ::close(out[0]);
      return static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    }
  }
  ::close(out[0]);
  return 0;
}

// Every simulated connection is a descriptor: ask for as many as the hard limit allows.
void raise_descriptor_limit(uint32_t wanted) {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < wanted + 64)
    std::cerr << "mext-sim: the descriptor limit (" << rl.rlim_cur << ") is below the " << wanted
              << " connections asked: raise it (ulimit -n)\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<fs::path> scenario_file, report_file, html_file, mextd;
  std::vector<fs::path> merge;
  std::optional<double> members, duration;
  std::optional<long> visitors;
  std::string target;
  std::vector<std::string> server_flags;
  bool spawn_server = false, plain = false;
  run_options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "mext-sim: " << a << " needs a value\n" << usage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--scenario")
      scenario_file = value();
    else if (a == "--report")
      report_file = value();
    else if (a == "--html")
      html_file = value();
    else if (a == "--merge")
      merge.push_back(value());
    else if (a == "--members")
      members = std::strtod(value().c_str(), nullptr);
    else if (a == "--visitors")
      visitors = std::strtol(value().c_str(), nullptr, 10);
    else if (a == "--duration")
      duration = std::strtod(value().c_str(), nullptr);
    else if (a == "--server-flag")
      server_flags.push_back(value());
    else if (a == "--mextd")
      mextd = value();
    else if (a == "--target")
      target = value();
    else if (a == "--spawn-server")
      spawn_server = true;
    else if (a == "--plain")
      plain = true;
    else if (a == "--seed")
      o.seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--source-addresses")
      o.source_addresses = static_cast<uint32_t>(std::atoi(value().c_str()));
    else if (a == "--shard") {
      auto v = value();
      auto slash = v.find('/');
      if (slash == std::string::npos) {
        std::cerr << "mext-sim: --shard is I/N\n";
        return 2;
      }
      o.shard = static_cast<uint32_t>(std::atoi(v.substr(0, slash).c_str()));
      o.shards = static_cast<uint32_t>(std::atoi(v.substr(slash + 1).c_str()));
      if (o.shards == 0 || o.shard >= o.shards) {
        std::cerr << "mext-sim: --shard I/N needs 0 <= I < N\n";
        return 2;
      }
    } else if (a == "--help") {
      std::cout << usage;
      return 0;
    } else {
      std::cerr << "mext-sim: unknown flag " << a << "\n" << usage;
      return 2;
    }
  }
  if (scenario_file && !merge.empty()) {
    auto sc = load_scenario(*scenario_file);
    if (!sc) {
      std::cerr << "mext-sim: " << detail_of(sc.error()) << "\n";
      return 2;
    }
    std::vector<nlohmann::json> shards;
    for (auto& f : merge) {
      std::ifstream in(f);
      try {
        shards.push_back(nlohmann::json::parse(in));
      } catch (const std::exception& e) {
        std::cerr << "mext-sim: " << f.string() << " is not JSON: " << e.what() << "\n";
        return 2;
      }
    }
    auto merged = merge_reports(*sc, shards);
    if (!merged) {
      std::cerr << "mext-sim: " << detail_of(merged.error()) << "\n";
      return 2;
    }
    if (report_file) std::ofstream(*report_file) << merged->dump(2) << "\n";
    if (html_file) std::ofstream(*html_file) << html_report(*merged);
    std::cout << sc->name << ": " << (*merged)["operations"] << " operations merged from "
              << shards.size()
              << " reports: " << ((*merged)["passed"] == true ? "PASSED" : "NOT PASSED") << "\n";
    return (*merged)["passed"] == true ? 0 : 1;
  }
  if (!scenario_file || (spawn_server == !target.empty())) {
    std::cerr << usage;
    return 2;
  }
  auto sc = load_scenario(*scenario_file);
  if (!sc) {
    std::cerr << "mext-sim: " << detail_of(sc.error()) << "\n";
    return 2;
  }
  if (members) {
    if (!(*members >= 0 && *members <= 1)) {
      std::cerr << "mext-sim: --members is a fraction from 0 to 1\n";
      return 2;
    }
    sc->members = *members;
  }
  if (visitors) {
    if (*visitors < 1 || *visitors > 1'000'000) {
      std::cerr << "mext-sim: --visitors is a count from 1 to 1000000\n";
      return 2;
    }
    sc->population.visitors = static_cast<uint32_t>(*visitors);
  }
  if (duration) {
    if (!(*duration > 0 && *duration <= 86400)) {
      std::cerr << "mext-sim: --duration is seconds from 0 to 86400\n";
      return 2;
    }
    sc->duration_s = *duration;
  }
  raise_descriptor_limit(sc->connections +
                         static_cast<uint32_t>(sc->members * sc->population.visitors) +
                         sc->probes * sc->exhibition.booths);

  spawned_server server;
  o.target.tls = !plain;
  if (spawn_server) {
    o.admin_email = "admin@sim.invalid";
    o.admin_password = "Sim-Admin-Password-" + std::to_string(::getpid());
    auto bin = mextd ? *mextd : fs::path(argv[0]).parent_path() / ".." / "mextd";
    auto port = spawn(bin, server, o.admin_email, o.admin_password, server_flags);
    if (port == 0) {
      std::cerr << "mext-sim: mextd (" << bin.string() << ") did not start; its log is in "
                << (server.dir / "mextd.log").string() << "\n";
      return 3;
    }
    o.target.host = "127.0.0.1";
    o.target.port = port;
    o.target.tls = true;
  } else {
    auto colon = target.rfind(':');
    if (colon == std::string::npos) {
      std::cerr << "mext-sim: --target is HOST:PORT\n";
      return 2;
    }
    o.target.host = target.substr(0, colon);
    o.target.port = static_cast<uint16_t>(std::atoi(target.substr(colon + 1).c_str()));
    auto* e = std::getenv("MEXT_ADMIN_EMAIL");
    auto* p = std::getenv("MEXT_ADMIN_PASSWORD");
    if (!e || !p) {
      std::cerr << "mext-sim: set MEXT_ADMIN_EMAIL and MEXT_ADMIN_PASSWORD for --target\n";
      return 2;
    }
    o.admin_email = e;
    o.admin_password = p;
  }
  const bool tty = ::isatty(STDERR_FILENO);
  o.progress = [tty](const std::string& line) {
    // A terminal gets one line rewritten in place; a log gets plain lines.
    if (tty)
      std::cerr << "\r\033[K" << line << std::flush;
    else
      std::cerr << line << "\n";
  };
  auto r = run_scenario(*sc, o);
  if (tty) std::cerr << "\n";
  if (!r) {
    std::cerr << "mext-sim: " << detail_of(r.error()) << "\n";
    return 3;
  }
  auto report = report_json(*sc, o, *r);
  if (report_file) {
    std::ofstream out(*report_file);
    out << report.dump(2) << "\n";
  }
  if (html_file) {
    std::ofstream out(*html_file);
    out << html_report(report);
  }
  std::cout << sc->name << ": " << report["operations"] << " operations in " << r->elapsed_s
            << " s, " << r->violations << " violations, sim CPU " << r->sim_cpu_percent << "%\n"
            << "  checked: " << r->checked_messages << " acknowledged messages, "
            << r->probe_deliveries << " probe deliveries, " << r->member_frames
            << " member frames, " << r->checked_meetings << " booked meetings in "
            << r->checked_agendas << " agendas\n"
            << "  delivery (acknowledgement to probe): p50 " << r->delivery.quantile(0.5) / 1000.0
            << " ms, p99 " << r->delivery.quantile(0.99) / 1000.0 << " ms, max "
            << r->delivery.max() / 1000.0 << " ms; drained in " << r->drain_s << " s"
            << (r->drain_complete ? "" : " (gave up waiting)") << "\n";
  for (auto& [name, op] : report["ops"].items())
    std::cout << "  " << name << ": ok " << op["ok"] << ", p50 " << op["p50_ms"] << " ms, p99 "
              << op["p99_ms"] << " ms, errors " << op["errors"].dump() << "\n";
  for (auto& f : r->failed_criteria) std::cout << "FAILED: " << f << "\n";
  std::cout << (r->passed() ? "PASSED" : "NOT PASSED") << "\n";
  return r->passed() ? 0 : 1;
}
