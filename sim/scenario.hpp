#pragma once
// A mext-sim scenario: who comes, when, and what they do, read from a JSON file of
// sim/scenarios/. Loading checks every key and value and names the first one that is wrong
// ("mix.chatt: unknown operation (known: ...)"), so an organizer can fix a file without reading
// code.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace mext::sim {

// What a visitor does, each at its own rate.
enum class op_kind {
  login,    // POST /auth/login again (a new session)
  browse,   // GET /exhibitions/{id}/booths
  read,     // GET /booths/{id}, booths chosen by Zipf popularity
  visit,    // POST /booths/{id}/visits
  chat,     // POST /rooms/{id}/messages in a booth room (Zipf)
  direct,   // POST /rooms/{id}/messages in the direct room with another visitor
  meeting,  // POST /meetings with another visitor
  answer,   // GET /me/agenda, then accept (3 in 4) or decline the first pending invitation
  attend,   // POST /sessions/{id}/attend
  agenda,   // GET /me/agenda.ics
  export_,  // POST /me/export
  erase,    // POST /me/erase (the visitor leaves for good)
};

const std::vector<std::pair<std::string, op_kind>>& op_names();
std::string name_of(op_kind k);

enum class arrival_kind { steady, ramp, spike };

struct scenario {
  std::string name;
  std::string description;
  double duration_s = 10;
  struct {
    uint32_t visitors = 10;
    uint32_t admins = 1;
  } population;
  struct {
    uint32_t booths = 5;
    uint32_t sessions = 2;
  } exhibition;
  struct {
    arrival_kind kind = arrival_kind::steady;
    double ramp_s = 0;      // ramp: arrivals spread evenly over the first ramp_s seconds
    double spike_at_s = 0;  // spike: most arrive within spike_window_s from spike_at_s
    double spike_window_s = 1;
    double spike_fraction = 0.9;  // the rest arrive evenly before the spike
  } arrival;
  // Operations per visitor per minute, from their arrival to the end.
  std::map<op_kind, double> mix;
  // Zipf exponent of booth popularity (0: uniform).
  double zipf_s = 1.0;
  // Client connections the simulator keeps (its workers).
  uint32_t connections = 16;
  // WebSocket members per booth room that parse every frame: each must receive every
  // acknowledged message of its room, in the room's order, once.
  uint32_t probes = 0;
  // The fraction of visitors holding a WebSocket in one booth room (Zipf) for the whole run,
  // counting its message frames: each must count every message its room acknowledged.
  double members = 0;
  struct {
    double max_error_rate = 0.01;
    std::map<op_kind, double> p99_ms;  // operations without a bound are not judged by latency
    // Bound on the p99 from a message's acknowledgement to its arrival at the probes (0: none).
    double delivery_p99_ms = 0;
  } pass;
};

// Reads and checks a scenario file; errc::invalid_argument with the path of the bad key.
caf::expected<scenario> load_scenario(const std::filesystem::path& file);
caf::expected<scenario> parse_scenario(const std::string& json_text);

}  // namespace mext::sim
