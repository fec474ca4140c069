// mext-sim: scenario files are checked with errors that name the bad key, the shipped scenarios
// load, the latency histogram is as precise as it says, and the smoke scenario runs against a
// real server the simulator starts, with every acknowledged message found afterwards.
#define BOOST_TEST_MODULE sim
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "persistence/errors.hpp"
#include "sim/histogram.hpp"
#include "sim/report.hpp"
#include "sim/scenario.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::sim;

namespace {

std::string error_of(const std::string& json) {
  auto s = parse_scenario(json);
  BOOST_REQUIRE(!s);
  BOOST_TEST(code_of(s.error()) == errc::invalid_argument);
  return detail_of(s.error());
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_shipped_scenario_loads) {
  auto dir = std::filesystem::path(MEXT_SOURCE_DIR) / "sim" / "scenarios";
  std::vector<std::string> names;
  for (auto& e : std::filesystem::directory_iterator(dir)) {
    auto s = load_scenario(e.path());
    BOOST_TEST(static_cast<bool>(s), e.path().filename()
                                         << ": " << (s ? "" : detail_of(s.error())));
    if (s) names.push_back(s->name);
  }
  for (auto want : {"smoke", "trade-fair", "keynote-spike", "privacy-day"})
    BOOST_TEST((std::find(names.begin(), names.end(), want) != names.end()), want);
}

BOOST_AUTO_TEST_CASE(a_bad_scenario_is_refused_naming_what_is_wrong) {
  BOOST_TEST(error_of("{").find("not JSON") != std::string::npos);
  BOOST_TEST(error_of(R"({"mix":{"chat":1}})").find("name") == 0u);
  BOOST_TEST(
      error_of(R"({"name":"x","mix":{"chat":1},"visitors":3})").find("visitors: unknown key") ==
      0u);
  BOOST_TEST(error_of(R"({"name":"x","mix":{"chatt":1}})").find("mix.chatt: unknown operation") ==
             0u);
  BOOST_TEST(error_of(R"({"name":"x","mix":{"chat":-1}})").find("mix.chat") == 0u);
  BOOST_TEST(error_of(R"({"name":"x","mix":{}})").find("mix") == 0u);
  BOOST_TEST(error_of(R"({"name":"x","mix":{"chat":1},"duration_s":"long"})")
                 .find("duration_s: must be a number") == 0u);
  BOOST_TEST(error_of(R"({"name":"x","mix":{"chat":1},"population":{"visitors":0}})")
                 .find("population.visitors") == 0u);
  BOOST_TEST(error_of(R"({"name":"x","mix":{"chat":1},"arrival":{"kind":"flood"}})")
                 .find("arrival.kind") == 0u);
  BOOST_TEST(error_of(R"({"name":"x","mix":{"chat":1},"pass":{"delivery_p99_ms":-1}})")
                 .find("pass.delivery_p99_ms") == 0u);
  BOOST_TEST(error_of(R"({"name":"x","mix":{"chat":1},"pass":{"p99_ms":{"chat":0}}})")
                 .find("pass.p99_ms.chat") == 0u);
  auto ok = parse_scenario(R"({"name":"x","mix":{"chat":2.5,"erase":0.1}})");
  BOOST_REQUIRE(ok);
  BOOST_TEST(ok->mix.at(op_kind::chat) == 2.5);
  BOOST_TEST(ok->mix.at(op_kind::erase) == 0.1);
}

BOOST_AUTO_TEST_CASE(histogram_percentiles_are_within_three_percent) {
  histogram h;
  std::vector<uint64_t> values;
  std::mt19937_64 rng{42};
  std::lognormal_distribution<double> d(8.0, 1.5);
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<uint64_t>(d(rng)) + 1;
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    auto exact = static_cast<double>(values[static_cast<size_t>(q * (values.size() - 1))]);
    auto got = static_cast<double>(h.quantile(q));
    BOOST_TEST(std::abs(got - exact) / exact <= 0.035, "q " << q << ": " << got << " vs " << exact);
  }
  BOOST_TEST(h.quantile(1.0) == values.back());
  histogram other;
  other.record(5);
  h.merge(other);
  BOOST_TEST(h.count() == 100001u);
}

BOOST_AUTO_TEST_CASE(the_smoke_scenario_passes_against_a_server_it_starts) {
  test::temp_dir dir;
  auto report = dir.path() / "report.json";
  auto scenario = std::filesystem::path(MEXT_SOURCE_DIR) / "sim" / "scenarios" / "smoke.json";
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    auto bin = test::binary_path("sim/mext-sim").string();
    auto mextd = test::binary_path("mextd").string();
    auto html = (dir.path() / "report.html").string();
    ::execl(bin.c_str(), bin.c_str(), "--scenario", scenario.c_str(), "--spawn-server", "--mextd",
            mextd.c_str(), "--report", report.c_str(), "--html", html.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  std::ifstream in(report);
  auto r = nlohmann::json::parse(in);
  BOOST_TEST(r.at("passed") == true);
  BOOST_TEST(r.at("violations") == 0);
  BOOST_TEST(r.at("visitors") == 20);
  BOOST_TEST(r.at("checked_messages").get<uint64_t>() > 0u);
  // Two WebSocket members in each of the 4 booth rooms saw every acknowledged message there.
  BOOST_TEST(r.at("probes") == 8);
  BOOST_TEST(r.at("probe_deliveries").get<uint64_t>() > 0u);
  // Each delivery to a probe was timed from the message's acknowledgement.
  BOOST_TEST(r.at("delivery").at("count").get<uint64_t>() > 0u);
  BOOST_TEST(r.at("drain_complete") == true);
  // Every visitor held a WebSocket and counted every message of its room.
  BOOST_TEST(r.at("members_joined") == 20);
  BOOST_TEST(r.at("member_frames").get<uint64_t>() > 0u);
  // Some visitors erased their account while holding a WebSocket: the server closed those.
  BOOST_TEST(r.at("members_erased").get<uint64_t>() > 0u);
  // Booked meetings were found in their requesters' agendas, invitations were answered, and no
  // agenda read afterwards holds two meetings at once (a double booking would be a violation).
  BOOST_TEST(r.at("checked_meetings").get<uint64_t>() > 0u);
  BOOST_TEST(r.at("meetings_answered").get<uint64_t>() > 0u);
  BOOST_TEST(r.at("checked_agendas").get<uint64_t>() > 0u);
  BOOST_TEST(r.at("ops").at("chat").at("ok").get<uint64_t>() > 0u);
  BOOST_TEST(r.at("ops").at("chat").at("p99_ms").get<double>() > 0.0);
  BOOST_TEST(r.at("machine").at("nproc").get<int>() > 0);
  // One point a second of the run, and a page with its charts.
  BOOST_TEST(r.at("series").size() >= 7u);
  std::ifstream page(dir.path() / "report.html");
  std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  BOOST_TEST(html.find("<h1>smoke</h1>") != std::string::npos);
  BOOST_TEST(html.find("Passed") != std::string::npos);
  BOOST_TEST(html.find("<polyline") != std::string::npos);

  // Two shards' reports merge into one with the counts added and the percentiles recomputed
  // from the histograms (here the same report twice).
  auto sc = load_scenario(scenario);
  BOOST_REQUIRE(sc);
  auto merged = merge_reports(*sc, {r, r});
  BOOST_REQUIRE(merged);
  BOOST_TEST(merged->at("operations").get<uint64_t>() == 2 * r.at("operations").get<uint64_t>());
  BOOST_TEST(merged->at("ops").at("chat").at("ok").get<uint64_t>() ==
             2 * r.at("ops").at("chat").at("ok").get<uint64_t>());
  // The same samples twice: the median and the maximum stay where they were.
  BOOST_TEST(merged->at("ops").at("chat").at("p50_ms") == r.at("ops").at("chat").at("p50_ms"));
  BOOST_TEST(merged->at("ops").at("chat").at("max_ms") == r.at("ops").at("chat").at("max_ms"));
  BOOST_TEST(merged->at("passed") == true);
  auto other = r;
  other["scenario"]["name"] = "another";
  BOOST_TEST(!merge_reports(*sc, {r, other}));
}
