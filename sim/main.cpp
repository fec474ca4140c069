// mext-sim: drives a running mextd (or one it starts with --spawn-server) through the real HTTPS
// interface with the visitors of a scenario, and says whether the fair held.
//
//   mext-sim --scenario sim/scenarios/smoke.json --spawn-server [--report out.json]
//   mext-sim --scenario FILE --target 127.0.0.1:8443 [--shard 0/2] [--source-addresses 16]
//   mext-sim --scenario sim/scenarios/crash-soak.json --spawn-server --crash-cycles 100 --seed 7
//
// Exit status: 0 the scenario's pass criteria held; 1 they did not; 2 bad usage or scenario;
// 3 the server could not be reached, started or set up.

#include <sys/resource.h>
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
#include "sim/crash_soak.hpp"
#include "sim/driver.hpp"
#include "sim/html_report.hpp"
#include "sim/report.hpp"
#include "sim/scenario.hpp"
#include "sim/server_process.hpp"

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
    "  --duration S            overrides the scenario's duration_s (arrivals keep their times)\n"
    "Crash soak (with --spawn-server; sim/scenarios/crash-soak.json is sized for it):\n"
    "  --crash-cycles N        N cycles of: load, SIGKILL of mextd at a random moment while\n"
    "                          requests are in flight, restart on the same data directory and\n"
    "                          port, then every acknowledged write checked (exit 1 if one is\n"
    "                          lost or duplicated)\n"
    "  --kill-min-s S          earliest kill, seconds after a cycle's load starts (default 1)\n"
    "  --kill-max-s S          latest kill (default: the scenario's duration_s); the moment is\n"
    "                          uniform in between, drawn from --seed\n"
    "  --ready-timeout-s S     a restart must answer GET /readyz 200 within S (default 60)\n"
    "  --keep-data             keep the soak's data directory and mextd logs even when it passed\n"
    "  --crash-rollback-fault  checks the soak itself: puts the store back as it was after the\n"
    "                          first kill before the second restart; the run must then fail\n";

// The temporary data directory of --spawn-server, removed after its server stopped.
struct temp_data_dir {
  fs::path dir;
  ~temp_data_dir() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

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
  std::optional<uint32_t> crash_cycles;
  crash_options co;
  std::optional<double> kill_max;
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
    else if (a == "--crash-cycles")
      crash_cycles = static_cast<uint32_t>(std::strtoul(value().c_str(), nullptr, 10));
    else if (a == "--kill-min-s")
      co.kill_min_s = std::strtod(value().c_str(), nullptr);
    else if (a == "--kill-max-s")
      kill_max = std::strtod(value().c_str(), nullptr);
    else if (a == "--ready-timeout-s")
      co.ready_timeout_s = std::strtod(value().c_str(), nullptr);
    else if (a == "--keep-data")
      co.keep_data = true;
    else if (a == "--crash-rollback-fault")
      co.rollback_fault = true;
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

  const bool tty = ::isatty(STDERR_FILENO);
  auto progress = [tty](const std::string& line) {
    // A terminal gets one line rewritten in place; a log gets plain lines.
    if (tty)
      std::cerr << "\r\033[K" << line << std::flush;
    else
      std::cerr << line << "\n";
  };
  auto mextd_bin = mextd ? *mextd : fs::path(argv[0]).parent_path() / ".." / "mextd";
  if (crash_cycles) {
    if (!spawn_server || *crash_cycles == 0 || o.shards != 1) {
      std::cerr << "mext-sim: --crash-cycles N needs N >= 1 and --spawn-server (no --shard)\n";
      return 2;
    }
    co.kill_max_s = kill_max ? *kill_max : sc->duration_s;
    if (!(co.kill_min_s >= 0 && co.kill_min_s <= co.kill_max_s && co.kill_max_s <= 3600) ||
        !(co.ready_timeout_s > 0)) {
      std::cerr << "mext-sim: the kill window needs 0 <= --kill-min-s <= --kill-max-s <= 3600, "
                   "and --ready-timeout-s > 0\n";
      return 2;
    }
    co.cycles = *crash_cycles;
    co.seed = o.seed;
    co.mextd = mextd_bin;
    co.server_flags = server_flags;
    co.progress = progress;
    auto r = run_crash_soak(*sc, co);
    if (tty) std::cerr << "\n";
    if (!r) {
      std::cerr << "mext-sim: " << detail_of(r.error()) << "\n";
      return code_of(r.error()) == errc::invalid_argument ? 2 : 3;
    }
    auto report = crash_report_json(*sc, co, *r);
    if (report_file) std::ofstream(*report_file) << report.dump(2) << "\n";
    auto& ack = report["acknowledged"];
    auto& rs = report["restart_ms"];
    std::cout << sc->name << " crash soak: " << r->cycles << " of " << co.cycles
              << " cycles (kill -9, restart, check) in " << r->elapsed_s << " s, seed " << co.seed
              << "\n"
              << "  kills with requests in flight: " << r->kills_in_flight << "; requests left in "
              << "doubt: " << r->in_doubt << " (" << r->resent_acked << " of " << r->resent
              << " chat sends resent and acknowledged, " << r->resent_committed
              << " of them committed before the kill)\n"
              << "  acknowledged writes: " << ack["total"] << " (" << ack["messages"]
              << " messages, " << ack["meeting_requests"] << " meeting requests, "
              << ack["meeting_answers"] << " meeting answers, " << ack["privacy_requests"]
              << " privacy requests), " << r->checks << " look-ups over the restarts\n"
              << "  lost " << r->lost << ", duplicated " << r->duplicated << ", out of order "
              << r->out_of_order << ", meetings inconsistent " << r->meetings_inconsistent
              << ", sessions lost " << r->sessions_lost << " of " << r->sessions_checked
              << ", log errors " << r->log_errors << "\n"
              << "  restart to /readyz 200: p50 " << rs["p50"] << " ms, p99 " << rs["p99"]
              << " ms, max " << rs["max"] << " ms over " << rs["count"] << " restarts\n";
    for (auto& n : r->violation_notes) std::cout << "VIOLATION: " << n << "\n";
    if (!r->data_dir.empty()) std::cout << "  data and logs kept in " << r->data_dir << "\n";
    std::cout << (r->passed() ? "PASSED" : "NOT PASSED") << "\n";
    return r->passed() ? 0 : 1;
  }

  temp_data_dir data;
  std::optional<server_process> server;
  o.target.tls = !plain;
  if (spawn_server) {
    o.admin_email = "admin@sim.invalid";
    o.admin_password = "Sim-Admin-Password-" + std::to_string(::getpid());
    char tmpl[] = "/tmp/mext-sim-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      std::cerr << "mext-sim: cannot create a temporary directory\n";
      return 3;
    }
    data.dir = tmpl;
    server.emplace(mextd_bin, data.dir, o.admin_email, o.admin_password, server_flags);
    auto port = server->start(0, data.dir / "mextd.log");
    if (port == 0) {
      std::cerr << "mext-sim: mextd (" << mextd_bin.string() << ") did not start; its log is in "
                << (data.dir / "mextd.log").string() << "\n";
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
  o.progress = progress;
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
