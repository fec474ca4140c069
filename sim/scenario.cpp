#include "sim/scenario.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "persistence/errors.hpp"

namespace mext::sim {
namespace {

using njson = nlohmann::json;

caf::error bad(const std::string& path, const std::string& what) {
  return make_error(errc::invalid_argument, path + ": " + what);
}

caf::error only_keys(const njson& obj, const std::string& path,
                     std::initializer_list<const char*> known) {
  std::set<std::string> allowed(known.begin(), known.end());
  for (auto& [k, v] : obj.items())
    if (!allowed.count(k)) {
      std::string list;
      for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return bad(path.empty() ? k : path + "." + k, "unknown key (known: " + list + ")");
    }
  return {};
}

caf::error number(const njson& obj, const std::string& path, const char* key, double min,
                  double max, double& out) {
  if (!obj.contains(key)) return {};
  auto& v = obj.at(key);
  auto p = path.empty() ? std::string(key) : path + "." + key;
  if (!v.is_number()) return bad(p, "must be a number");
  double d = v.get<double>();
  if (d < min || d > max)
    return bad(p, "must be from " + std::to_string(min) + " to " + std::to_string(max));
  out = d;
  return {};
}

template <class T>
caf::error integer(const njson& obj, const std::string& path, const char* key, uint64_t min,
                   uint64_t max, T& out) {
  if (!obj.contains(key)) return {};
  auto& v = obj.at(key);
  auto p = path.empty() ? std::string(key) : path + "." + key;
  if (!v.is_number_unsigned()) return bad(p, "must be a whole number");
  auto n = v.get<uint64_t>();
  if (n < min || n > max)
    return bad(p, "must be from " + std::to_string(min) + " to " + std::to_string(max));
  out = static_cast<T>(n);
  return {};
}

caf::expected<op_kind> op_of(const std::string& path, const std::string& name) {
  for (auto& [n, k] : op_names())
    if (n == name) return k;
  std::string list;
  for (auto& [n, k] : op_names()) list += (list.empty() ? "" : ", ") + n;
  return bad(path, "unknown operation (known: " + list + ")");
}

}  // namespace

const std::vector<std::pair<std::string, op_kind>>& op_names() {
  static const std::vector<std::pair<std::string, op_kind>> all = {
      {"login", op_kind::login},     {"browse", op_kind::browse}, {"read", op_kind::read},
      {"visit", op_kind::visit},     {"chat", op_kind::chat},     {"direct", op_kind::direct},
      {"meeting", op_kind::meeting}, {"attend", op_kind::attend}, {"agenda", op_kind::agenda},
      {"export", op_kind::export_},  {"erase", op_kind::erase},   {"answer", op_kind::answer}};
  return all;
}

std::string name_of(op_kind k) {
  for (auto& [n, kind] : op_names())
    if (kind == k) return n;
  return "?";
}

caf::expected<scenario> parse_scenario(const std::string& text) {
  njson j;
  try {
    j = njson::parse(text);
  } catch (const njson::parse_error& e) {
    return make_error(errc::invalid_argument, std::string("not JSON: ") + e.what());
  } catch (const njson::exception& e) {
    // A number beyond a double (out_of_range 406) is not a parse_error: found by fuzz_scenario.
    return make_error(errc::invalid_argument, std::string("unusable JSON: ") + e.what());
  }
  if (!j.is_object()) return bad("(top)", "a scenario is a JSON object");
  if (auto err =
          only_keys(j, "",
                    {"name", "description", "duration_s", "population", "exhibition", "arrival",
                     "mix", "zipf_s", "connections", "probes", "members", "pass"}))
    return err;
  scenario s;
  if (!j.contains("name") || !j.at("name").is_string() || j.at("name").get<std::string>().empty())
    return bad("name", "a non-empty string is required");
  s.name = j.at("name").get<std::string>();
  if (j.contains("description")) {
    if (!j.at("description").is_string()) return bad("description", "must be a string");
    s.description = j.at("description").get<std::string>();
  }
  if (auto err = number(j, "", "duration_s", 1, 86400, s.duration_s)) return err;
  if (auto err = number(j, "", "zipf_s", 0, 5, s.zipf_s)) return err;
  if (auto err = integer(j, "", "connections", 1, 4096, s.connections)) return err;
  if (auto err = integer(j, "", "probes", 0, 100, s.probes)) return err;
  if (auto err = number(j, "", "members", 0, 1, s.members)) return err;
  if (j.contains("population")) {
    auto& p = j.at("population");
    if (!p.is_object()) return bad("population", "must be an object");
    if (auto err = only_keys(p, "population", {"visitors", "admins"})) return err;
    if (auto err = integer(p, "population", "visitors", 1, 1'000'000, s.population.visitors))
      return err;
    if (auto err = integer(p, "population", "admins", 1, 100, s.population.admins)) return err;
  }
  if (j.contains("exhibition")) {
    auto& e = j.at("exhibition");
    if (!e.is_object()) return bad("exhibition", "must be an object");
    if (auto err = only_keys(e, "exhibition", {"booths", "sessions"})) return err;
    if (auto err = integer(e, "exhibition", "booths", 1, 100'000, s.exhibition.booths)) return err;
    if (auto err = integer(e, "exhibition", "sessions", 0, 10'000, s.exhibition.sessions))
      return err;
  }
  if (j.contains("arrival")) {
    auto& a = j.at("arrival");
    if (!a.is_object()) return bad("arrival", "must be an object");
    if (auto err = only_keys(a, "arrival",
                             {"kind", "ramp_s", "spike_at_s", "spike_window_s", "spike_fraction"}))
      return err;
    if (a.contains("kind")) {
      auto k = a.at("kind").is_string() ? a.at("kind").get<std::string>() : "";
      if (k == "steady")
        s.arrival.kind = arrival_kind::steady;
      else if (k == "ramp")
        s.arrival.kind = arrival_kind::ramp;
      else if (k == "spike")
        s.arrival.kind = arrival_kind::spike;
      else
        return bad("arrival.kind", "is steady, ramp or spike");
    }
    if (auto err = number(a, "arrival", "ramp_s", 0, s.duration_s, s.arrival.ramp_s)) return err;
    if (auto err = number(a, "arrival", "spike_at_s", 0, s.duration_s, s.arrival.spike_at_s))
      return err;
    if (auto err =
            number(a, "arrival", "spike_window_s", 0.001, s.duration_s, s.arrival.spike_window_s))
      return err;
    if (auto err = number(a, "arrival", "spike_fraction", 0, 1, s.arrival.spike_fraction))
      return err;
  }
  if (j.contains("mix")) {
    auto& m = j.at("mix");
    if (!m.is_object()) return bad("mix", "must be an object of operation: rate per minute");
    for (auto& [k, v] : m.items()) {
      auto op = op_of("mix." + k, k);
      if (!op) return op.error();
      if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 600)
        return bad("mix." + k, "must be a rate from 0 to 600 per visitor per minute");
      s.mix[*op] = v.get<double>();
    }
  }
  if (s.mix.empty()) return bad("mix", "name at least one operation");
  if (j.contains("pass")) {
    auto& p = j.at("pass");
    if (!p.is_object()) return bad("pass", "must be an object");
    if (auto err = only_keys(p, "pass", {"max_error_rate", "p99_ms", "delivery_p99_ms"}))
      return err;
    if (auto err = number(p, "pass", "max_error_rate", 0, 1, s.pass.max_error_rate)) return err;
    if (auto err = number(p, "pass", "delivery_p99_ms", 0, 3.6e6, s.pass.delivery_p99_ms))
      return err;
    if (p.contains("p99_ms")) {
      auto& b = p.at("p99_ms");
      if (!b.is_object()) return bad("pass.p99_ms", "must be an object of operation: ms");
      for (auto& [k, v] : b.items()) {
        auto op = op_of("pass.p99_ms." + k, k);
        if (!op) return op.error();
        if (!v.is_number() || v.get<double>() <= 0)
          return bad("pass.p99_ms." + k, "must be a positive number of milliseconds");
        s.pass.p99_ms[*op] = v.get<double>();
      }
    }
  }
  return s;
}

caf::expected<scenario> load_scenario(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return make_error(errc::not_found, "cannot read " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  auto s = parse_scenario(ss.str());
  if (!s)
    return make_error(errc::invalid_argument,
                      file.filename().string() + ": " + detail_of(s.error()));
  return s;
}

}  // namespace mext::sim
