#include "sim/driver.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "persistence/errors.hpp"
#include "sim/ws_members.hpp"
#include "sim/ws_probe.hpp"

namespace mext::sim {
namespace {

using njson = nlohmann::json;
using steady = std::chrono::steady_clock;

std::string iso(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_tag(std::mt19937_64& rng) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 10; ++i) s += digits[rng() % 16];
  return s;
}

caf::expected<njson> expect(const http_reply& r, int status, const std::string& what) {
  if (r.status != status)
    return make_error(errc::internal, what + ": " +
                                          (r.status == 0 ? r.error
                                                         : "status " + std::to_string(r.status) +
                                                               " " + r.body.substr(0, 200)));
  try {
    return r.body.empty() ? njson::object() : njson::parse(r.body);
  } catch (const std::exception&) {
    return make_error(errc::internal, what + ": the answer is not JSON");
  }
}

struct visitor {
  std::string user_id;
  std::string email;
  std::string password;
  std::string token;
  std::atomic<bool> gone{false};  // erased: no further operations
  // Probes watch the rooms for the whole run, as the fair's staff would: they never erase.
  bool observer = false;
  std::atomic<uint32_t> seq{0};
};

struct world {
  std::string admin_token;
  std::string exhibition_id;
  std::vector<std::string> booths;
  std::vector<std::string> rooms;  // booth rooms, same order
  std::vector<std::string> sessions;
  int64_t fair_start_ms = 0;
  std::vector<std::unique_ptr<visitor>> visitors;
};

struct planned {
  double at_s;
  uint32_t visitor;
  op_kind op;
};

// Zipf ranks over n booths: rank 0 is the most popular.
class zipf {
 public:
  zipf(size_t n, double s) {
    double total = 0;
    for (size_t k = 1; k <= n; ++k) total += 1.0 / std::pow(static_cast<double>(k), s);
    double acc = 0;
    for (size_t k = 1; k <= n; ++k) {
      acc += 1.0 / std::pow(static_cast<double>(k), s) / total;
      cdf_.push_back(acc);
    }
  }
  size_t draw(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin()) %
           cdf_.size();
  }

 private:
  std::vector<double> cdf_;
};

std::vector<double> arrivals(const scenario& sc, size_t n, std::mt19937_64& rng) {
  std::vector<double> out(n, 0);
  std::uniform_real_distribution<double> u(0, 1);
  for (size_t i = 0; i < n; ++i) {
    switch (sc.arrival.kind) {
      case arrival_kind::steady:
        out[i] = u(rng) * std::min(1.0, sc.duration_s);
        break;
      case arrival_kind::ramp:
        out[i] = u(rng) * sc.arrival.ramp_s;
        break;
      case arrival_kind::spike:
        out[i] = u(rng) < sc.arrival.spike_fraction
                     ? sc.arrival.spike_at_s + u(rng) * sc.arrival.spike_window_s
                     : u(rng) * sc.arrival.spike_at_s;
        break;
    }
  }
  return out;
}

// Runs f(worker index) on `n` threads and waits for them.
template <class F>
void on_workers(uint32_t n, F f) {
  std::vector<std::thread> threads;
  for (uint32_t w = 0; w < n; ++w) threads.emplace_back([&f, w] { f(w); });
  for (auto& t : threads) t.join();
}

endpoint endpoint_of(const run_options& o, uint32_t worker) {
  auto ep = o.target;
  if (o.source_addresses > 1 && (ep.host == "127.0.0.1" || ep.host == "localhost"))
    ep.source =
        "127.0.0." + std::to_string(1 + worker % std::min<uint32_t>(o.source_addresses, 250));
  return ep;
}

caf::error setup(const scenario& sc, const run_options& o, world& w, std::mt19937_64& rng) {
  http_client admin{o.target};
  auto login =
      expect(admin.request("POST", "/api/v1/auth/login",
                           njson{{"email", o.admin_email}, {"password", o.admin_password}}.dump()),
             200, "administrator login");
  if (!login) return login.error();
  w.admin_token = login->at("token").get<std::string>();
  auto tag = random_tag(rng);
  auto org = expect(admin.request("POST", "/api/v1/organizations",
                                  njson{{"name", "Sim organization " + tag}}.dump(), w.admin_token),
                    201, "organization");
  if (!org) return org.error();
  auto now = std::chrono::system_clock::now();
  w.fair_start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        (now - std::chrono::hours(1)).time_since_epoch())
                        .count();
  auto exh = expect(admin.request("POST", "/api/v1/exhibitions",
                                  njson{{"title", sc.name + " " + tag},
                                        {"starts_at", iso(now - std::chrono::hours(1))},
                                        {"ends_at", iso(now + std::chrono::hours(48))}}
                                      .dump(),
                                  w.admin_token),
                    201, "exhibition");
  if (!exh) return exh.error();
  w.exhibition_id = exh->at("exhibition_id").get<std::string>();
  for (uint32_t b = 0; b < sc.exhibition.booths; ++b) {
    auto booth = expect(admin.request("POST", "/api/v1/exhibitions/" + w.exhibition_id + "/booths",
                                      njson{{"organization_id", org->at("organization_id")},
                                            {"name", "Booth " + std::to_string(b + 1)}}
                                          .dump(),
                                      w.admin_token),
                        201, "booth");
    if (!booth) return booth.error();
    w.booths.push_back(booth->at("booth_id").get<std::string>());
    w.rooms.push_back(booth->at("chat_room_id").get<std::string>());
  }
  for (uint32_t s = 0; s < sc.exhibition.sessions; ++s) {
    auto start = now + std::chrono::hours(1 + s);
    auto session =
        expect(admin.request("POST", "/api/v1/exhibitions/" + w.exhibition_id + "/sessions",
                             njson{{"title", "Talk " + std::to_string(s + 1)},
                                   {"starts_at", iso(start)},
                                   {"ends_at", iso(start + std::chrono::minutes(45))},
                                   {"speaker_ids", njson::array()}}
                                 .dump(),
                             w.admin_token),
               201, "session");
    if (!session) return session.error();
    w.sessions.push_back(session->at("session_id").get<std::string>());
  }
  // Visitors of this shard: registered and signed in, several connections at once.
  std::vector<uint32_t> mine;
  for (uint32_t i = 0; i < sc.population.visitors; ++i)
    if (i % o.shards == o.shard) mine.push_back(i);
  w.visitors.resize(mine.size());
  std::atomic<size_t> next{0};
  std::mutex err_mutex;
  caf::error first_error;
  on_workers(
      std::min<uint32_t>(sc.connections, static_cast<uint32_t>(mine.size()) + 1),
      [&](uint32_t worker) {
        http_client c{endpoint_of(o, worker)};
        std::mt19937_64 local{o.seed * 7919 + worker};
        for (size_t k; (k = next++) < mine.size();) {
          auto v = std::make_unique<visitor>();
          v->email = "v" + std::to_string(mine[k]) + "-" + tag + "@sim.invalid";
          v->password = "Lantern-Harbor-" + random_tag(local);
          auto reg = expect(c.request("POST", "/api/v1/auth/register",
                                      njson{{"email", v->email},
                                            {"password", v->password},
                                            {"first_name", "Sim"},
                                            {"surname", "Visitor"}}
                                          .dump()),
                            201, "registration");
          caf::expected<njson> in =
              reg ? expect(c.request("POST", "/api/v1/auth/login",
                                     njson{{"email", v->email}, {"password", v->password}}.dump()),
                           200, "visitor login")
                  : caf::expected<njson>{reg.error()};
          if (!reg || !in) {
            std::lock_guard lock{err_mutex};
            if (!first_error) first_error = reg ? in.error() : reg.error();
            continue;
          }
          v->user_id = reg->at("user_id").get<std::string>();
          v->token = in->at("token").get<std::string>();
          w.visitors[k] = std::move(v);
        }
      });
  if (first_error) return first_error;
  return {};
}

// Per second of the run, shared by the workers (one short lock per operation).
struct time_series {
  std::mutex mutex;
  std::vector<histogram> latency;
  std::vector<uint64_t> ok, errors;
  steady::time_point start;
  void add(bool good, uint64_t micros) {
    auto s = static_cast<size_t>(
        std::chrono::duration_cast<std::chrono::seconds>(steady::now() - start).count());
    std::lock_guard lock{mutex};
    if (s >= ok.size()) {
      latency.resize(s + 1);
      ok.resize(s + 1);
      errors.resize(s + 1);
    }
    if (good) {
      ++ok[s];
      latency[s].record(micros);
    } else {
      ++errors[s];
    }
  }
};

struct worker_state {
  std::mutex mutex;  // the progress reporter reads stats while the worker writes
  std::map<op_kind, op_stats> stats;
  struct ack {
    size_t room;  // booth room index
    std::string id;
    steady::time_point at;  // when the 201 was read
  };
  std::vector<ack> acked;
  std::vector<std::string> privacy_requests;
  std::vector<uint32_t> erased;  // visitors whose erasure was accepted (202)
  std::vector<std::pair<uint32_t, std::string>> booked;  // (requester, meeting id) of each 201
  uint64_t answered = 0;                                 // invitations accepted or declined
  uint64_t late = 0;
  time_series* series = nullptr;
};

// Any 2xx is done; ok_too is an answer that is the engine's correct refusal (a 409 for a slot
// either party has taken).
void note(worker_state& ws, op_kind op, uint64_t micros, const http_reply& r, int ok_too = -1) {
  const bool good = (r.status >= 200 && r.status < 300) || (ok_too >= 0 && r.status == ok_too);
  if (ws.series) ws.series->add(good, micros);
  std::lock_guard lock{ws.mutex};
  auto& s = ws.stats[op];
  if (good) {
    ++s.ok;
    s.latency.record(micros);
  } else if (r.status == 0) {
    ++s.errors["connection"];
  } else {
    ++s.errors["status " + std::to_string(r.status)];
  }
}

void perform(const scenario& sc, world& w, http_client& c, worker_state& ws, const planned& p,
             std::mt19937_64& rng, const zipf& popularity, steady::time_point start) {
  auto& v = *w.visitors[p.visitor];
  if (v.gone) return;
  auto other = [&]() -> visitor* {
    if (w.visitors.size() < 2) return nullptr;
    for (int tries = 0; tries < 4; ++tries) {
      auto& o = *w.visitors[rng() % w.visitors.size()];
      if (&o != &v && !o.gone) return &o;
    }
    return nullptr;
  };
  auto scheduled =
      start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(p.at_s));
  auto micros = [&] {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - scheduled).count());
  };
  switch (p.op) {
    case op_kind::login: {
      auto r = c.request("POST", "/api/v1/auth/login",
                         njson{{"email", v.email}, {"password", v.password}}.dump());
      note(ws, p.op, micros(), r);
      break;
    }
    case op_kind::browse: {
      auto r = c.request("GET", "/api/v1/exhibitions/" + w.exhibition_id + "/booths?limit=50", {},
                         v.token);
      note(ws, p.op, micros(), r);
      break;
    }
    case op_kind::read: {
      auto r = c.request("GET", "/api/v1/booths/" + w.booths[popularity.draw(rng)], {}, v.token);
      note(ws, p.op, micros(), r);
      break;
    }
    case op_kind::visit: {
      auto r = c.request("POST", "/api/v1/booths/" + w.booths[popularity.draw(rng)] + "/visits",
                         "{}", v.token);
      note(ws, p.op, micros(), r);
      break;
    }
    case op_kind::chat: {
      auto room = popularity.draw(rng);
      auto cid = "c" + std::to_string(v.seq++);
      auto r =
          c.request("POST", "/api/v1/rooms/" + w.rooms[room] + "/messages",
                    njson{{"text", "hello from " + cid}, {"client_msg_id", cid}}.dump(), v.token);
      note(ws, p.op, micros(), r);
      if (r.status == 201) {
        try {
          auto id = njson::parse(r.body).at("message_id").get<std::string>();
          std::lock_guard lock{ws.mutex};
          ws.acked.push_back({room, std::move(id), steady::now()});
        } catch (const std::exception&) {
        }
      }
      break;
    }
    case op_kind::direct: {
      auto* o = other();
      if (!o) return;
      auto room = c.request("POST", "/api/v1/direct/" + o->user_id, {}, v.token);
      if (room.status != 200) return note(ws, p.op, micros(), room);
      std::string room_id;
      try {
        room_id = njson::parse(room.body).at("room_id").get<std::string>();
      } catch (const std::exception&) {
        return note(ws, p.op, micros(), http_reply{0, {}, "bad JSON"});
      }
      auto cid = "d" + std::to_string(v.seq++);
      auto r = c.request("POST", "/api/v1/rooms/" + room_id + "/messages",
                         njson{{"text", "a direct word"}, {"client_msg_id", cid}}.dump(), v.token);
      note(ws, p.op, micros(), r);
      break;
    }
    case op_kind::meeting: {
      auto* o = other();
      if (!o) return;
      // A half-hour slot in the fair's next two days; a slot either party has taken is a 409,
      // which is the engine refusing a double booking: counted as done, not as an error.
      auto slot = static_cast<int64_t>(rng() % 96);
      auto start = w.fair_start_ms + 3600'000 + slot * 1800'000;
      auto to_iso = [](int64_t ms) {
        return iso(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
      };
      auto r = c.request("POST", "/api/v1/meetings",
                         njson{{"with_user_id", o->user_id},
                               {"starts_at", to_iso(start)},
                               {"ends_at", to_iso(start + 1800'000)}}
                             .dump(),
                         v.token);
      note(ws, p.op, micros(), r, 409);
      if (r.status == 201) try {
          auto id = njson::parse(r.body).at("meeting_id").get<std::string>();
          std::lock_guard lock{ws.mutex};
          ws.booked.emplace_back(p.visitor, std::move(id));
        } catch (const std::exception&) {
        }
      break;
    }
    case op_kind::answer: {
      // The visitor reads their agenda and answers the first invitation still pending; with none
      // pending the read alone is the operation.
      auto agenda = c.request("GET", "/api/v1/me/agenda?limit=200", {}, v.token);
      if (agenda.status != 200) return note(ws, p.op, micros(), agenda);
      std::string meeting;
      try {
        // Named: a range-for over a member of a temporary would outlive the temporary.
        auto doc = njson::parse(agenda.body);
        for (auto& i : doc.at("items"))
          if (i.value("kind", "") == "meeting" && i.value("role", "") == "invitee" &&
              i.value("status", "") == "pending") {
            meeting = i.at("meeting_id").get<std::string>();
            break;
          }
      } catch (const std::exception&) {
        return note(ws, p.op, micros(), http_reply{0, {}, "bad JSON"});
      }
      if (meeting.empty()) return note(ws, p.op, micros(), agenda);
      auto verb = rng() % 4 == 0 ? "/decline" : "/accept";
      auto r = c.request("POST", "/api/v1/meetings/" + meeting + verb, "{}", v.token);
      // 409: the requester cancelled it, or was erased, in the meantime.
      note(ws, p.op, micros(), r, 409);
      if (r.status == 200 || r.status == 201) {
        std::lock_guard lock{ws.mutex};
        ++ws.answered;
      }
      break;
    }
    case op_kind::attend: {
      if (w.sessions.empty()) return;
      auto r =
          c.request("POST", "/api/v1/sessions/" + w.sessions[rng() % w.sessions.size()] + "/attend",
                    "{}", v.token);
      note(ws, p.op, micros(), r, 409);
      break;
    }
    case op_kind::agenda: {
      auto r = c.request("GET", "/api/v1/me/agenda.ics", {}, v.token);
      note(ws, p.op, micros(), r);
      break;
    }
    case op_kind::export_: {
      auto r = c.request("POST", "/api/v1/me/export", "{}", v.token);
      note(ws, p.op, micros(), r);
      if (r.status == 202) try {
          std::lock_guard lock{ws.mutex};
          ws.privacy_requests.push_back(njson::parse(r.body).at("request_id").get<std::string>());
        } catch (const std::exception&) {
        }
      break;
    }
    case op_kind::erase: {
      if (v.observer || v.gone.exchange(true)) return;
      auto r =
          c.request("POST", "/api/v1/me/erase", njson{{"password", v.password}}.dump(), v.token);
      note(ws, p.op, micros(), r);
      if (r.status == 202) try {
          std::lock_guard lock{ws.mutex};
          ws.erased.push_back(p.visitor);
          ws.privacy_requests.push_back(njson::parse(r.body).at("request_id").get<std::string>());
        } catch (const std::exception&) {
        }
      break;
    }
  }
  (void)sc;
}

// Every acknowledged message is in its room's history exactly once.
void check_messages(const run_options& o, world& w, const std::vector<worker_state>& workers,
                    run_result& out) {
  std::vector<std::unordered_set<std::string>> expected(w.rooms.size());
  for (auto& ws : workers)
    for (auto& a : ws.acked) expected[a.room].insert(a.id);
  http_client c{o.target};
  for (size_t r = 0; r < w.rooms.size(); ++r) {
    if (expected[r].empty()) continue;
    std::unordered_map<std::string, int> seen;
    std::string cursor;
    for (int page = 0; page < 100000; ++page) {
      auto reply = c.request("GET",
                             "/api/v1/rooms/" + w.rooms[r] + "/messages?limit=200" +
                                 (cursor.empty() ? "" : "&cursor=" + cursor),
                             {}, w.admin_token);
      if (reply.status != 200) {
        ++out.violations;
        out.violation_notes.push_back("history of " + w.rooms[r] + " unreadable");
        break;
      }
      auto j = njson::parse(reply.body);
      for (auto& m : j.at("items")) ++seen[m.at("message_id").get<std::string>()];
      if (j.at("next_cursor").is_null()) break;
      cursor = j.at("next_cursor").get<std::string>();
    }
    for (auto& id : expected[r]) {
      ++out.checked_messages;
      auto it = seen.find(id);
      if (it == seen.end()) {
        ++out.violations;
        if (out.violation_notes.size() < 20)
          out.violation_notes.push_back("acknowledged message " + id + " missing");
      } else if (it->second > 1) {
        ++out.violations;
        if (out.violation_notes.size() < 20)
          out.violation_notes.push_back("message " + id + " appears twice");
      }
    }
  }
}

// Every probe got every acknowledged message of its room, in the room's order, once.
void check_probes(std::vector<std::unique_ptr<ws_probe>>& probes, world& w,
                  const std::vector<worker_state>& workers, run_result& out) {
  std::unordered_map<std::string, std::unordered_set<std::string>> expected;
  std::unordered_map<std::string, steady::time_point> acked_at;
  for (auto& ws : workers)
    for (auto& a : ws.acked) {
      expected[w.rooms[a.room]].insert(a.id);
      acked_at.emplace(a.id, a.at);
    }
  auto violation = [&](std::string note) {
    ++out.violations;
    if (out.violation_notes.size() < 20) out.violation_notes.push_back(std::move(note));
  };
  // Closed probes first, so that their reason is among the notes kept.
  for (auto& p : probes)
    if (p->closed_early())
      violation("probe " + std::to_string(&p - probes.data()) + " in " + p->room_id() +
                " was closed: " + p->error());
  for (auto& p : probes) {
    auto got = p->messages();
    out.probe_deliveries += got.size();
    std::unordered_set<std::string> seen;
    uint64_t last = 0;
    for (auto& m : got) {
      if (auto a = acked_at.find(m.message_id); a != acked_at.end())
        out.delivery.record(
            m.at > a->second
                ? static_cast<uint64_t>(
                      std::chrono::duration_cast<std::chrono::microseconds>(m.at - a->second)
                          .count())
                : 0);
      if (!seen.insert(m.message_id).second)
        violation("message " + m.message_id + " delivered twice");
      if (m.number <= last) violation("message " + m.message_id + " out of the room's order");
      last = m.number;
    }
    // One violation per message missed, one note per probe (first missing id, counts).
    uint64_t missed = 0;
    std::string first;
    for (auto& id : expected[p->room_id()])
      if (!seen.count(id)) {
        ++out.violations;
        if (missed++ == 0) first = id;
      }
    if (missed > 0 && out.violation_notes.size() < 20)
      out.violation_notes.push_back(
          "probe " + std::to_string(&p - probes.data()) + " in " + p->room_id() + " missed " +
          std::to_string(missed) + " of its room's " +
          std::to_string(expected[p->room_id()].size()) + " acknowledged messages (received " +
          std::to_string(got.size()) + ", first missing " + first + ")");
  }
  out.probes = static_cast<uint32_t>(probes.size());
}

// Every accepted privacy request completes (bounded wait).
void check_privacy(const run_options& o, world& w, const std::vector<worker_state>& workers,
                   run_result& out) {
  http_client c{o.target};
  auto deadline = steady::now() + std::chrono::seconds(60);
  for (auto& ws : workers)
    for (auto& id : ws.privacy_requests) {
      std::string status;
      while (steady::now() < deadline) {
        auto r = c.request("GET", "/api/v1/privacy/requests/" + id, {}, w.admin_token);
        if (r.status == 200) status = njson::parse(r.body).at("status").get<std::string>();
        if (status == "completed" || status == "failed") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (status != "completed") {
        ++out.violations;
        if (out.violation_notes.size() < 20)
          out.violation_notes.push_back("privacy request " + id + " ended " +
                                        (status.empty() ? "unanswered" : status));
      }
    }
}

struct agenda_meeting {
  std::string id, with, status, role, starts_at, ends_at;
};

// No visitor holds two meetings at once; both parties see each meeting with one status; every
// meeting request the engine accepted (201) is in its requester's agenda. Run after the privacy
// requests completed, since an erasure cancels the erased person's meetings for the other party.
void check_meetings(const run_options& o, world& w, const std::vector<worker_state>& workers,
                    run_result& out) {
  auto violation = [&](std::string note) {
    ++out.violations;
    if (out.violation_notes.size() < 20) out.violation_notes.push_back(std::move(note));
  };
  std::unordered_map<std::string, uint32_t> index_of;
  for (uint32_t i = 0; i < w.visitors.size(); ++i) index_of[w.visitors[i]->user_id] = i;
  std::vector<std::unordered_map<std::string, agenda_meeting>> agendas(w.visitors.size());
  std::vector<bool> read(w.visitors.size(), false);
  http_client c{o.target};
  // Anyone may have been invited: read every agenda still signed in.
  for (uint32_t i = 0; i < w.visitors.size(); ++i) {
    auto& v = *w.visitors[i];
    if (v.gone) continue;
    std::string cursor;
    bool ok = true;
    for (int page = 0; page < 1000; ++page) {
      auto r = c.request(
          "GET", "/api/v1/me/agenda?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor), {},
          v.token);
      if (r.status != 200) {
        violation("the agenda of " + v.user_id + " is unreadable: status " +
                  std::to_string(r.status));
        ok = false;
        break;
      }
      auto j = njson::parse(r.body);
      for (auto& item : j.at("items")) {
        if (item.value("kind", "") != "meeting") continue;
        agenda_meeting m{item.at("meeting_id").get<std::string>(),
                         item.value("with_user_id", ""),
                         item.value("status", ""),
                         item.value("role", ""),
                         item.value("starts_at", ""),
                         item.value("ends_at", "")};
        agendas[i].emplace(m.id, std::move(m));
      }
      if (j.at("next_cursor").is_null()) break;
      cursor = j.at("next_cursor").get<std::string>();
    }
    read[i] = ok;
    ++out.checked_agendas;
  }
  for (uint32_t i = 0; i < w.visitors.size(); ++i) {
    if (!read[i]) continue;
    // Times are RFC 3339 UTC in one format, so their strings order as the times do.
    std::vector<const agenda_meeting*> holding;
    for (auto& [id, m] : agendas[i]) {
      if (m.status == "pending" || m.status == "accepted") holding.push_back(&m);
      auto other = index_of.find(m.with);
      if (other == index_of.end() || !read[other->second]) continue;
      auto theirs = agendas[other->second].find(id);
      // A request the invitee's agenda refused (an overlap there) stays with the requester as
      // cancelled and never reached the invitee: only a one-sided live meeting is wrong.
      if (theirs == agendas[other->second].end() && m.status != "cancelled")
        violation("meeting " + id + " (" + m.status + ", the " + m.role +
                  "'s copy) is missing from the other party's agenda");
      else if (theirs != agendas[other->second].end() && theirs->second.status != m.status)
        violation("meeting " + id + " is " + m.status + " for one party and " +
                  theirs->second.status + " for the other");
    }
    std::sort(holding.begin(), holding.end(),
              [](auto* a, auto* b) { return a->starts_at < b->starts_at; });
    for (size_t k = 1; k < holding.size(); ++k)
      if (holding[k]->starts_at < holding[k - 1]->ends_at)
        violation("double booking: meetings " + holding[k - 1]->id + " and " + holding[k]->id +
                  " overlap in one agenda");
  }
  for (auto& ws : workers)
    for (auto& [v, id] : ws.booked) {
      ++out.checked_meetings;
      if (read[v] && !agendas[v].count(id))
        violation("acknowledged meeting " + id + " missing from its requester's agenda");
    }
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

void op_stats::merge(const op_stats& o) {
  latency.merge(o.latency);
  ok += o.ok;
  for (auto& [k, n] : o.errors) errors[k] += n;
}

caf::expected<run_result> run_scenario(const scenario& sc, const run_options& o) {
  run_result out;
  out.started_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::mt19937_64 rng{o.seed};
  world w;
  auto setup_start = steady::now();
  if (o.progress) o.progress("phase setup: exhibition, booths, visitors");
  if (auto err = setup(sc, o, w, rng)) return err;
  out.setup_s = std::chrono::duration<double>(steady::now() - setup_start).count();
  out.visitors = static_cast<uint32_t>(w.visitors.size());

  // The whole plan, in time order: arrivals, then each operation as a Poisson process.
  std::vector<planned> plan;
  auto arrive = arrivals(sc, w.visitors.size(), rng);
  for (uint32_t i = 0; i < w.visitors.size(); ++i)
    for (auto& [op, per_minute] : sc.mix) {
      if (per_minute <= 0) continue;
      std::exponential_distribution<double> gap(per_minute / 60.0);
      for (double t = arrive[i] + gap(rng); t < sc.duration_s; t += gap(rng)) {
        plan.push_back({t, i, op});
        if (op == op_kind::erase) break;
      }
    }
  std::sort(plan.begin(), plan.end(),
            [](const planned& a, const planned& b) { return a.at_s < b.at_s; });

  // Probe members join before the first operation, so each must see every message of the run.
  std::vector<std::unique_ptr<ws_probe>> probes;
  for (size_t r = 0; r < w.rooms.size() && !w.visitors.empty(); ++r)
    for (uint32_t k = 0; k < sc.probes; ++k) {
      auto& v = *w.visitors[(r * sc.probes + k) % w.visitors.size()];
      v.observer = true;
      probes.push_back(std::make_unique<ws_probe>(endpoint_of(o, static_cast<uint32_t>(k)), v.token,
                                                  w.rooms[r]));
    }
  for (auto& p : probes) {
    for (int i = 0; i < 1000 && !p->started() && p->error().empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!p->started())
      return make_error(errc::internal,
                        "a probe could not join " + p->room_id() + ": " + p->error());
  }

  zipf popularity{w.booths.size(), sc.zipf_s};
  // Members: one WebSocket each, joined before the first operation and held to the end.
  std::unique_ptr<ws_members> members;
  out.members_wanted = static_cast<uint32_t>(sc.members * static_cast<double>(w.visitors.size()));
  if (out.members_wanted > 0) {
    if (o.progress)
      o.progress("phase members: " + std::to_string(out.members_wanted) + " WebSockets");
    members = std::make_unique<ws_members>(o.target, o.source_addresses, 2);
    for (uint32_t i = 0; i < out.members_wanted; ++i)
      members->add(w.visitors[i]->token, w.rooms[popularity.draw(rng)]);
    members->start(256, std::chrono::seconds(300));
    out.members_joined = members->joined();
    out.member_error = members->first_error();
    if (out.members_joined < out.members_wanted)
      return make_error(errc::internal, std::to_string(out.members_joined) + " of " +
                                            std::to_string(out.members_wanted) +
                                            " members joined; first error: " + out.member_error);
  }
  std::vector<worker_state> workers(sc.connections);
  time_series series;
  for (auto& ws : workers) ws.series = &series;
  std::atomic<size_t> next{0};
  std::atomic<bool> done{false};
  auto start = steady::now();
  series.start = start;
  auto cpu_start = cpu_seconds();
  std::thread reporter([&] {
    uint64_t last_count = 0;
    while (!done) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (done || !o.progress) continue;
      histogram all;
      uint64_t errors = 0;
      for (auto& ws : workers) {
        std::lock_guard lock{ws.mutex};
        for (auto& [op, s] : ws.stats) {
          all.merge(s.latency);
          for (auto& [k, n] : s.errors) errors += n;
        }
      }
      auto elapsed = std::chrono::duration<double>(steady::now() - start).count();
      char line[256];
      std::snprintf(
          line, sizeof line,
          "elapsed %6.1fs  phase run  visitors %u  ops/s %6llu  p99 %8.1f ms  errors %llu", elapsed,
          out.visitors, static_cast<unsigned long long>(all.count() + errors - last_count),
          all.quantile(0.99) / 1000.0, static_cast<unsigned long long>(errors));
      last_count = all.count() + errors;
      o.progress(line);
    }
  });
  on_workers(sc.connections, [&](uint32_t worker) {
    http_client c{endpoint_of(o, worker)};
    std::mt19937_64 local{o.seed * 104729 + worker};
    auto& ws = workers[worker];
    for (size_t k; (k = next++) < plan.size();) {
      auto& p = plan[k];
      auto at = start +
                std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(p.at_s));
      std::this_thread::sleep_until(at);
      if (steady::now() - at > std::chrono::milliseconds(100)) ++ws.late;
      perform(sc, w, c, ws, p, local, popularity, start);
    }
  });
  done = true;
  reporter.join();
  out.elapsed_s = std::chrono::duration<double>(steady::now() - start).count();
  out.sim_cpu_percent = 100.0 * (cpu_seconds() - cpu_start) / std::max(out.elapsed_s, 1e-3);
  out.connections = sc.connections;
  for (auto& ws : workers) {
    for (auto& [op, s] : ws.stats) out.ops[op].merge(s);
    out.late_starts += ws.late;
  }
  {
    std::vector<double> arrived = arrive;
    std::sort(arrived.begin(), arrived.end());
    for (size_t t = 0; t < series.ok.size(); ++t) {
      series_point p;
      p.t_s = static_cast<double>(t);
      p.ok = series.ok[t];
      p.errors = series.errors[t];
      p.p50_ms = static_cast<double>(series.latency[t].quantile(0.5)) / 1000.0;
      p.p99_ms = static_cast<double>(series.latency[t].quantile(0.99)) / 1000.0;
      p.visitors_arrived = static_cast<uint32_t>(
          std::upper_bound(arrived.begin(), arrived.end(), static_cast<double>(t + 1)) -
          arrived.begin());
      out.series.push_back(p);
    }
  }
  if (o.progress) o.progress("phase check: acknowledged messages and privacy requests");
  // Deliveries of the last acknowledged messages may still be on their way: wait until every
  // probe and member has its room's count, or nothing arrived for 5 s, or 60 s passed. How long
  // that took is the drain time, which the report gives next to the delivery latency.
  if (!probes.empty() || members) {
    std::unordered_map<std::string, uint64_t> per_room;
    for (auto& ws : workers)
      for (auto& a : ws.acked) ++per_room[w.rooms[a.room]];
    auto drain_start = steady::now();
    auto last_progress = drain_start;
    uint64_t last_total = 0;
    for (;;) {
      uint64_t total = 0;
      bool complete = true;
      for (auto& p : probes) {
        auto n = p->received_count();
        total += n;
        complete = complete && (p->closed_early() || n >= per_room[p->room_id()]);
      }
      if (members)
        for (auto& m : members->counts()) {
          total += m.frames;
          complete = complete && (m.closed || m.frames >= per_room[m.room]);
        }
      auto now = steady::now();
      if (total != last_total) last_progress = now;
      last_total = total;
      out.drain_s = std::chrono::duration<double>(now - drain_start).count();
      if (complete) break;
      if (now - last_progress > std::chrono::seconds(5) || out.drain_s > 60) {
        out.drain_complete = false;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  for (auto& p : probes) p->stop();
  check_probes(probes, w, workers, out);
  if (members) {
    members->stop();
    // A member whose visitor was erased must have been closed by the server (the session
    // ended); its count stops there and is not judged. Every other member counts every message.
    std::unordered_set<uint32_t> erased;
    for (auto& ws : workers) erased.insert(ws.erased.begin(), ws.erased.end());
    std::unordered_map<std::string, uint64_t> acked;
    for (auto& ws : workers)
      for (auto& a : ws.acked) ++acked[w.rooms[a.room]];
    auto counts = members->counts();
    for (uint32_t i = 0; i < counts.size(); ++i) {
      auto& m = counts[i];
      out.member_frames += m.frames;
      if (erased.count(i)) {
        ++out.members_erased;
        if (!m.closed) {
          ++out.violations;
          if (out.violation_notes.size() < 20)
            out.violation_notes.push_back("the WebSocket of erased visitor " +
                                          w.visitors[i]->user_id + " stayed open");
        }
        continue;
      }
      if (m.closed) ++out.members_closed_early;
      if (m.frames != acked[m.room]) {
        ++out.violations;
        if (out.violation_notes.size() < 20)
          out.violation_notes.push_back("a member of " + m.room + " counted " +
                                        std::to_string(m.frames) + " of its " +
                                        std::to_string(acked[m.room]) + " messages");
      }
    }
    if (out.members_closed_early > 0 && out.violation_notes.size() < 20)
      out.violation_notes.push_back(
          std::to_string(out.members_closed_early) +
          " members were closed by the server: " + members->first_error());
  }
  check_messages(o, w, workers, out);
  check_privacy(o, w, workers, out);
  if (o.progress) o.progress("phase check: agendas and meetings");
  check_meetings(o, w, workers, out);
  for (auto& ws : workers) out.meetings_answered += ws.answered;

  // Pass criteria.
  uint64_t total = 0, errors = 0;
  for (auto& [op, s] : out.ops) {
    total += s.ok;
    for (auto& [k, n] : s.errors) {
      total += n;
      errors += n;
    }
    auto bound = sc.pass.p99_ms.find(op);
    if (bound != sc.pass.p99_ms.end() && s.latency.quantile(0.99) / 1000.0 > bound->second)
      out.failed_criteria.push_back(name_of(op) + " p99 " +
                                    std::to_string(s.latency.quantile(0.99) / 1000.0) +
                                    " ms over " + std::to_string(bound->second) + " ms");
  }
  if (total > 0 &&
      static_cast<double>(errors) / static_cast<double>(total) > sc.pass.max_error_rate)
    out.failed_criteria.push_back("error rate " + std::to_string(double(errors) / double(total)) +
                                  " over " + std::to_string(sc.pass.max_error_rate));
  if (sc.pass.delivery_p99_ms > 0 && out.delivery.count() > 0 &&
      out.delivery.quantile(0.99) / 1000.0 > sc.pass.delivery_p99_ms)
    out.failed_criteria.push_back("delivery p99 " +
                                  std::to_string(out.delivery.quantile(0.99) / 1000.0) +
                                  " ms over " + std::to_string(sc.pass.delivery_p99_ms) + " ms");
  if (out.violations > 0)
    out.failed_criteria.push_back(std::to_string(out.violations) + " correctness violations");
  return out;
}

}  // namespace mext::sim
