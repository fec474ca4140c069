// The crash soak of mext-sim against the real mextd: three cycles of load, kill -9 at a random
// moment with requests in flight, restart on the same data, and every acknowledged write checked
// (nothing lost, nothing twice). A second run puts the store back to an older copy before a
// restart, which the soak must report as lost writes: it can fail.
#define BOOST_TEST_MODULE sim_crash_soak
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

using namespace mext;

namespace {

// Runs mext-sim with the crash-soak scenario and `extra` flags; answers its exit status and
// report.
std::pair<int, nlohmann::json> soak(const test::temp_dir& dir, std::vector<std::string> extra) {
  auto report = (dir.path() / "report.json").string();
  auto scenario = std::filesystem::path(MEXT_SOURCE_DIR) / "sim" / "scenarios" / "crash-soak.json";
  std::vector<std::string> args = {test::binary_path("sim/mext-sim").string(),
                                   "--scenario",
                                   scenario.string(),
                                   "--spawn-server",
                                   "--mextd",
                                   test::binary_path("mextd").string(),
                                   "--report",
                                   report};
  args.insert(args.end(), extra.begin(), extra.end());
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_REQUIRE(WIFEXITED(status));
  std::ifstream in(report);
  BOOST_REQUIRE_MESSAGE(in, "mext-sim wrote no report (exit " << WEXITSTATUS(status) << ")");
  auto r = nlohmann::json::parse(in);
  // A failed soak keeps its data for a post-mortem: not wanted here.
  auto kept = r.value("data_dir", "");
  if (kept.rfind("/tmp/mext-soak-", 0) == 0) std::filesystem::remove_all(kept);
  return {WEXITSTATUS(status), r};
}

}  // namespace

BOOST_AUTO_TEST_CASE(three_kill_restart_cycles_lose_and_duplicate_nothing) {
  test::temp_dir dir;
  auto [status, r] = soak(dir, {"--crash-cycles", "3", "--seed", "3"});
  BOOST_TEST(status == 0, r.at("violation_notes").dump());
  BOOST_TEST(r.at("passed") == true);
  BOOST_TEST(r.at("cycles") == 3);
  BOOST_TEST(r.at("restart_ms").at("count") == 3);
  BOOST_TEST(r.at("restart_ms").at("p50").get<double>() > 0.0);
  // Each kill waited for a request in flight.
  BOOST_TEST(r.at("kills_in_flight") == 3);
  auto& ack = r.at("acknowledged");
  BOOST_TEST(ack.at("total").get<uint64_t>() > 0u);
  BOOST_TEST(ack.at("messages").get<uint64_t>() > 0u);
  BOOST_TEST(ack.at("meeting_requests").get<uint64_t>() > 0u);
  BOOST_TEST(ack.at("privacy_requests").get<uint64_t>() > 0u);
  // Writes of the first cycle are looked for again after the later restarts.
  BOOST_TEST(r.at("checks").get<uint64_t>() > ack.at("total").get<uint64_t>());
  BOOST_TEST(r.at("lost") == 0);
  BOOST_TEST(r.at("duplicated") == 0);
  BOOST_TEST(r.at("out_of_order") == 0);
  BOOST_TEST(r.at("sessions_lost") == 0);
  BOOST_TEST(r.at("sessions_checked").get<uint64_t>() > 0u);
  BOOST_TEST(r.at("log_errors") == 0);
  BOOST_TEST(r.at("violations") == 0);
}

BOOST_AUTO_TEST_CASE(a_store_put_back_to_an_older_copy_is_reported_as_lost_writes) {
  test::temp_dir dir;
  auto [status, r] = soak(dir, {"--crash-cycles", "2", "--seed", "3", "--crash-rollback-fault"});
  BOOST_TEST(status == 1);
  BOOST_TEST(r.at("passed") == false);
  BOOST_TEST(r.at("cycles") == 2);
  BOOST_TEST(r.at("lost").get<uint64_t>() > 0u);
  BOOST_TEST(r.at("violations").get<uint64_t>() >= r.at("lost").get<uint64_t>());
}
