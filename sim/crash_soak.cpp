#include "sim/crash_soak.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "persistence/errors.hpp"
#include "sim/http_client.hpp"
#include "sim/server_process.hpp"

namespace mext::sim {
namespace {

namespace fs = std::filesystem;
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

double ms(uint64_t micros) {
  return static_cast<double>(micros) / 1000.0;
}

caf::expected<njson> expect(const http_reply& r, int status, const std::string& what) {
  if (r.status != status)
    return make_error(
        errc::internal,
        what + ": " + (r.status == 0 ? r.error : "status " + std::to_string(r.status)));
  try {
    return r.body.empty() ? njson::object() : njson::parse(r.body);
  } catch (const std::exception&) {
    return make_error(errc::internal, what + ": the answer is not JSON");
  }
}

struct soak_visitor {
  std::string user_id, email, password, token;
  // Erased, or its erasure's answer was lost in a kill: it does nothing more.
  std::atomic<bool> gone{false};
  bool erased = false;  // its erasure was accepted (202): its session must stay ended
  std::atomic<uint32_t> seq{0};
};

struct sent_message {
  size_t room = 0;
  uint32_t visitor = 0;
  std::string cid, text, id;
  steady::time_point sent, acked;
};

struct booked_meeting {
  uint32_t requester = 0, invitee = 0;
  std::string id;
};

struct answered_meeting {
  uint32_t invitee = 0, requester = 0;
  std::string id, status;
};

struct privacy_request {
  std::string id;
  bool completed = false;
};

// What the run knows: the fair, its visitors, and every write the server acknowledged so far.
struct soak_world {
  std::string admin_token, exhibition_id, tag;
  std::vector<std::string> booths, rooms;
  int64_t fair_start_ms = 0;
  std::vector<std::unique_ptr<soak_visitor>> visitors;
  std::unordered_map<std::string, uint32_t> index_of;  // user id -> visitor
  std::vector<sent_message> acked;
  std::vector<booked_meeting> booked;
  std::vector<answered_meeting> answers;
  std::vector<privacy_request> privacy;
  // Each lost or duplicated write is counted once, however many restarts still show it.
  std::unordered_set<std::string> reported;
};

// One cycle's load, shared by its workers and the thread that kills.
struct cycle_state {
  std::atomic<bool> killed{false};
  std::atomic<int> in_flight{0};
};

struct worker_out {
  std::map<op_kind, op_stats> stats;
  std::vector<sent_message> acked, doubtful;
  std::vector<booked_meeting> booked;
  std::vector<answered_meeting> answers;
  std::vector<std::string> privacy;
  uint64_t in_doubt = 0;
};

struct planned {
  double at_s;
  uint32_t visitor;
  op_kind op;
};

template <class F>
void on_workers(uint32_t n, F f) {
  std::vector<std::thread> threads;
  for (uint32_t w = 0; w < n; ++w) threads.emplace_back([&f, w] { f(w); });
  for (auto& t : threads) t.join();
}

http_reply call(http_client& c, cycle_state& cs, const std::string& method,
                const std::string& target, const std::string& body, const std::string& token) {
  ++cs.in_flight;
  auto r = c.request(method, target, body, token);
  --cs.in_flight;
  return r;
}

// A request without an answer after the kill is in doubt: it may or may not have committed.
bool in_doubt(const http_reply& r, const cycle_state& cs) {
  return r.status == 0 && cs.killed;
}

void note(worker_out& out, op_kind op, steady::time_point scheduled, const http_reply& r,
          const cycle_state& cs, int ok_too = -1) {
  auto& s = out.stats[op];
  if ((r.status >= 200 && r.status < 300) || (ok_too >= 0 && r.status == ok_too)) {
    ++s.ok;
    s.latency.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - scheduled).count()));
  } else if (in_doubt(r, cs)) {
    ++out.in_doubt;
    ++s.errors["killed"];
  } else if (r.status == 0) {
    ++s.errors["connection"];
  } else {
    ++s.errors["status " + std::to_string(r.status)];
  }
}

caf::expected<std::unique_ptr<soak_visitor>> register_visitor(http_client& c,
                                                              const std::string& tag,
                                                              uint64_t number,
                                                              std::mt19937_64& rng) {
  auto v = std::make_unique<soak_visitor>();
  v->email = "s" + std::to_string(number) + "-" + tag + "@sim.invalid";
  v->password = "Lantern-Harbor-" + random_tag(rng);
  auto reg = expect(c.request("POST", "/api/v1/auth/register",
                              njson{{"email", v->email},
                                    {"password", v->password},
                                    {"first_name", "Soak"},
                                    {"surname", "Visitor"}}
                                  .dump()),
                    201, "registration");
  if (!reg) return reg.error();
  auto in = expect(c.request("POST", "/api/v1/auth/login",
                             njson{{"email", v->email}, {"password", v->password}}.dump()),
                   200, "visitor login");
  if (!in) return in.error();
  v->user_id = reg->at("user_id").get<std::string>();
  v->token = in->at("token").get<std::string>();
  return v;
}

caf::error setup(const scenario& sc, const endpoint& ep, const std::string& admin_email,
                 const std::string& admin_password, soak_world& w, std::mt19937_64& rng) {
  http_client admin{ep};
  auto login =
      expect(admin.request("POST", "/api/v1/auth/login",
                           njson{{"email", admin_email}, {"password", admin_password}}.dump()),
             200, "administrator login");
  if (!login) return login.error();
  w.admin_token = login->at("token").get<std::string>();
  w.tag = random_tag(rng);
  auto org =
      expect(admin.request("POST", "/api/v1/organizations",
                           njson{{"name", "Soak organization " + w.tag}}.dump(), w.admin_token),
             201, "organization");
  if (!org) return org.error();
  // A week-long fair: room for the meetings of a hundred cycles.
  auto now = std::chrono::system_clock::now();
  w.fair_start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        (now - std::chrono::hours(1)).time_since_epoch())
                        .count();
  auto exh = expect(admin.request("POST", "/api/v1/exhibitions",
                                  njson{{"title", sc.name + " " + w.tag},
                                        {"starts_at", iso(now - std::chrono::hours(1))},
                                        {"ends_at", iso(now + std::chrono::hours(24 * 7))}}
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
  w.visitors.resize(sc.population.visitors);
  std::atomic<uint32_t> next{0};
  std::mutex m;
  caf::error first;
  on_workers(std::min<uint32_t>(4, sc.population.visitors), [&](uint32_t worker) {
    http_client c{ep};
    std::mt19937_64 local{rng() + worker};
    for (uint32_t k; (k = next++) < sc.population.visitors;) {
      auto v = register_visitor(c, w.tag, k, local);
      std::lock_guard lock{m};
      if (!v) {
        if (!first) first = v.error();
        continue;
      }
      w.visitors[k] = std::move(*v);
    }
  });
  if (first) return first;
  for (uint32_t i = 0; i < w.visitors.size(); ++i) w.index_of[w.visitors[i]->user_id] = i;
  return {};
}

class soak {
 public:
  soak(const scenario& sc, const crash_options& o, crash_result& out)
      : sc_(sc), o_(o), out_(out), rng_(o.seed) {}

  caf::error run();

 private:
  void violation(std::string note) {
    ++out_.violations;
    if (out_.violation_notes.size() < 50) out_.violation_notes.push_back(std::move(note));
  }
  // A lost or duplicated write, counted once over the run.
  bool first_report(const std::string& key) { return w_.reported.insert(key).second; }

  bool wait_ready(steady::time_point since);
  void load_and_kill(uint32_t cycle, std::vector<worker_out>& outs, double& kill_at_s,
                     int& in_flight_at_kill);
  void perform(http_client& c, cycle_state& cs, worker_out& out, const planned& p,
               const std::vector<uint32_t>& active, std::mt19937_64& rng,
               steady::time_point scheduled);
  void resend(const std::vector<sent_message>& doubtful, int64_t restarted_at_ms);
  void check_sessions();
  void check_privacy();
  void check_messages();
  void check_meetings();
  void scan_log(const fs::path& log);
  void replace_gone(std::unordered_set<uint32_t>& counted);

  const scenario& sc_;
  const crash_options& o_;
  crash_result& out_;
  std::mt19937_64 rng_;
  soak_world w_;
  endpoint ep_;
  std::unique_ptr<server_process> server_;
  uint64_t next_visitor_number_ = 0;
};

bool soak::wait_ready(steady::time_point since) {
  http_client c{ep_, std::chrono::seconds(2)};
  auto deadline = since + std::chrono::duration_cast<steady::duration>(
                              std::chrono::duration<double>(o_.ready_timeout_s));
  while (steady::now() < deadline) {
    if (c.request("GET", "/readyz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

void soak::perform(http_client& c, cycle_state& cs, worker_out& out, const planned& p,
                   const std::vector<uint32_t>& active, std::mt19937_64& rng,
                   steady::time_point scheduled) {
  auto& v = *w_.visitors[p.visitor];
  if (v.gone) return;
  auto other = [&]() -> int64_t {
    for (int tries = 0; tries < 4 && active.size() > 1; ++tries) {
      auto i = active[rng() % active.size()];
      if (i != p.visitor && !w_.visitors[i]->gone) return i;
    }
    return -1;
  };
  switch (p.op) {
    case op_kind::browse: {
      auto r = call(c, cs, "GET", "/api/v1/exhibitions/" + w_.exhibition_id + "/booths?limit=50",
                    {}, v.token);
      return note(out, p.op, scheduled, r, cs);
    }
    case op_kind::read: {
      auto r =
          call(c, cs, "GET", "/api/v1/booths/" + w_.booths[rng() % w_.booths.size()], {}, v.token);
      return note(out, p.op, scheduled, r, cs);
    }
    case op_kind::chat: {
      sent_message m;
      m.room = rng() % w_.rooms.size();
      m.visitor = p.visitor;
      m.cid = "k" + std::to_string(v.seq++);
      m.text = "soak " + m.cid;
      m.sent = steady::now();
      auto r = call(c, cs, "POST", "/api/v1/rooms/" + w_.rooms[m.room] + "/messages",
                    njson{{"text", m.text}, {"client_msg_id", m.cid}}.dump(), v.token);
      m.acked = steady::now();
      note(out, p.op, scheduled, r, cs);
      if (r.status == 201) {
        try {
          m.id = njson::parse(r.body).at("message_id").get<std::string>();
          out.acked.push_back(std::move(m));
        } catch (const std::exception&) {
        }
      } else if (in_doubt(r, cs)) {
        out.doubtful.push_back(std::move(m));
      }
      return;
    }
    case op_kind::meeting: {
      auto o = other();
      if (o < 0) return;
      // Half-hour slots over the fair's week; a slot either party holds is a 409, the engine's
      // refusal of a double booking, counted as done.
      auto slot = static_cast<int64_t>(rng() % (7 * 48 - 4));
      auto start = w_.fair_start_ms + 3600'000 + slot * 1800'000;
      auto to_iso = [](int64_t t) {
        return iso(std::chrono::system_clock::time_point(std::chrono::milliseconds(t)));
      };
      auto r = call(c, cs, "POST", "/api/v1/meetings",
                    njson{{"with_user_id", w_.visitors[static_cast<size_t>(o)]->user_id},
                          {"starts_at", to_iso(start)},
                          {"ends_at", to_iso(start + 1800'000)}}
                        .dump(),
                    v.token);
      note(out, p.op, scheduled, r, cs, 409);
      if (r.status == 201) try {
          out.booked.push_back({p.visitor, static_cast<uint32_t>(o),
                                njson::parse(r.body).at("meeting_id").get<std::string>()});
        } catch (const std::exception&) {
        }
      return;
    }
    case op_kind::answer: {
      auto agenda = call(c, cs, "GET", "/api/v1/me/agenda?limit=200", {}, v.token);
      if (agenda.status != 200) return note(out, p.op, scheduled, agenda, cs);
      std::string meeting, with;
      try {
        auto doc = njson::parse(agenda.body);
        for (auto& i : doc.at("items"))
          if (i.value("kind", "") == "meeting" && i.value("role", "") == "invitee" &&
              i.value("status", "") == "pending") {
            meeting = i.at("meeting_id").get<std::string>();
            with = i.value("with_user_id", "");
            break;
          }
      } catch (const std::exception&) {
        return note(out, p.op, scheduled, http_reply{0, {}, "bad JSON"}, cs);
      }
      auto requester = w_.index_of.find(with);
      if (meeting.empty() || requester == w_.index_of.end())
        return note(out, p.op, scheduled, agenda, cs);
      bool accept = rng() % 4 != 0;
      auto r =
          call(c, cs, "POST", "/api/v1/meetings/" + meeting + (accept ? "/accept" : "/decline"),
               "{}", v.token);
      // 409: the requester was erased (the meeting cancelled) meanwhile.
      note(out, p.op, scheduled, r, cs, 409);
      if (r.status >= 200 && r.status < 300)
        out.answers.push_back(
            {p.visitor, requester->second, meeting, accept ? "accepted" : "declined"});
      return;
    }
    case op_kind::export_: {
      auto r = call(c, cs, "POST", "/api/v1/me/export", "{}", v.token);
      note(out, p.op, scheduled, r, cs);
      if (r.status == 202) try {
          out.privacy.push_back(njson::parse(r.body).at("request_id").get<std::string>());
        } catch (const std::exception&) {
        }
      return;
    }
    case op_kind::erase: {
      if (v.gone.exchange(true)) return;
      auto r =
          call(c, cs, "POST", "/api/v1/me/erase", njson{{"password", v.password}}.dump(), v.token);
      note(out, p.op, scheduled, r, cs);
      if (r.status == 202) {
        v.erased = true;
        try {
          out.privacy.push_back(njson::parse(r.body).at("request_id").get<std::string>());
        } catch (const std::exception&) {
        }
      } else if (!in_doubt(r, cs)) {
        v.gone = false;  // refused: the visitor stays
      }
      return;
    }
    default:
      return;
  }
}

void soak::load_and_kill(uint32_t cycle, std::vector<worker_out>& outs, double& kill_at_s,
                         int& in_flight_at_kill) {
  std::vector<uint32_t> active;
  for (uint32_t i = 0; i < w_.visitors.size(); ++i)
    if (!w_.visitors[i]->gone) active.push_back(i);
  std::uniform_real_distribution<double> when(o_.kill_min_s, o_.kill_max_s);
  kill_at_s = when(rng_);
  // The load runs past the latest kill so that the kill always meets it.
  std::vector<planned> plan;
  const double window = o_.kill_max_s + 1;
  for (auto i : active)
    for (auto& [op, per_minute] : sc_.mix) {
      if (per_minute <= 0) continue;
      std::exponential_distribution<double> gap(per_minute / 60.0);
      for (double t = gap(rng_); t < window; t += gap(rng_)) {
        plan.push_back({t, i, op});
        if (op == op_kind::erase) break;
      }
    }
  std::sort(plan.begin(), plan.end(),
            [](const planned& a, const planned& b) { return a.at_s < b.at_s; });
  cycle_state cs;
  outs.assign(sc_.connections, {});
  std::atomic<size_t> next{0};
  auto start = steady::now();
  std::thread killer([&] {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<steady::duration>(
                                              std::chrono::duration<double>(kill_at_s)));
    // At the drawn moment when a request waits for its answer; else a random 0-3 ms into the
    // next one (if it still waits then), so kills land anywhere in a request, its commit too.
    std::mt19937_64 local{o_.seed * 31 + cycle};
    auto limit = steady::now() + std::chrono::seconds(1);
    while (cs.in_flight.load() == 0 && steady::now() < limit) {
      while (cs.in_flight.load() == 0 && steady::now() < limit)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      std::this_thread::sleep_for(std::chrono::microseconds(local() % 3000));
    }
    in_flight_at_kill = cs.in_flight.load();
    kill_at_s = std::chrono::duration<double>(steady::now() - start).count();
    cs.killed = true;
    server_->kill_now();
  });
  on_workers(sc_.connections, [&](uint32_t worker) {
    http_client c{ep_};
    std::mt19937_64 local{o_.seed * 104729 + cycle * 7919 + worker};
    auto& out = outs[worker];
    for (size_t k; !cs.killed && (k = next++) < plan.size();) {
      auto& p = plan[k];
      auto at = start +
                std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(p.at_s));
      while (!cs.killed && steady::now() < at)
        std::this_thread::sleep_for(
            std::min<steady::duration>(at - steady::now(), std::chrono::milliseconds(20)));
      if (cs.killed) break;
      perform(c, cs, out, p, active, local, at);
    }
  });
  killer.join();
}

// Milliseconds since the epoch of an RFC 3339 UTC time as the server writes it (-1: not one).
int64_t epoch_ms_of(const std::string& t) {
  std::tm tm{};
  int millis = 0;
  if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    return -1;
  if (t.size() > 20 && t[19] == '.') millis = std::atoi(t.c_str() + 20);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

void soak::resend(const std::vector<sent_message>& doubtful, int64_t restarted_at_ms) {
  http_client c{ep_};
  for (auto m : doubtful) {
    auto& v = *w_.visitors[m.visitor];
    if (v.gone) continue;
    ++out_.resent;
    // The same client_msg_id: a send the kill interrupted after its commit answers its first
    // message, so the room still holds it once.
    auto r = c.request("POST", "/api/v1/rooms/" + w_.rooms[m.room] + "/messages",
                       njson{{"text", m.text}, {"client_msg_id", m.cid}}.dump(), v.token);
    // 200: the repeated client_msg_id's first result (committed before the kill); 201: new.
    if (r.status != 201 && r.status != 200) {
      ++out_.resent_refused[r.status == 0 ? r.error
                                          : std::to_string(r.status) + " " + r.body.substr(0, 160)];
      continue;
    }
    try {
      auto j = njson::parse(r.body);
      m.id = j.at("message_id").get<std::string>();
      // Sent before the restart: the killed server had committed it, and the retry got the
      // first result back rather than a second message.
      auto at = epoch_ms_of(j.value("sent_at", ""));
      if (r.status == 200 || (at >= 0 && at < restarted_at_ms)) ++out_.resent_committed;
    } catch (const std::exception&) {
      continue;
    }
    m.acked = steady::now();
    ++out_.resent_acked;
    w_.acked.push_back(std::move(m));
  }
}

void soak::check_sessions() {
  http_client c{ep_};
  for (auto& vp : w_.visitors) {
    auto& v = *vp;
    if (v.gone && !v.erased) continue;
    auto r = c.request("GET", "/api/v1/me", {}, v.token);
    for (int i = 0; i < 20 && r.status == 503; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      r = c.request("GET", "/api/v1/me", {}, v.token);
    }
    if (v.erased) {
      // Ended before its erasure was acknowledged: a restart must not bring it back.
      if (r.status != 401)
        violation("the session of erased " + v.user_id + " answers " + std::to_string(r.status) +
                  " after a restart");
      continue;
    }
    ++out_.sessions_checked;
    if (r.status == 200) continue;
    ++out_.sessions_lost;
    violation("the session of " + v.user_id + " answers " + std::to_string(r.status) +
              " after a restart");
    auto in = c.request("POST", "/api/v1/auth/login",
                        njson{{"email", v.email}, {"password", v.password}}.dump());
    if (in.status == 200) v.token = njson::parse(in.body).at("token").get<std::string>();
  }
}

void soak::check_privacy() {
  http_client c{ep_};
  auto since = steady::now();
  auto deadline = since + std::chrono::duration_cast<steady::duration>(
                              std::chrono::duration<double>(o_.privacy_timeout_s));
  for (auto& p : w_.privacy) {
    ++out_.checks;
    std::string status;
    for (;;) {
      auto r = c.request("GET", "/api/v1/privacy/requests/" + p.id, {}, w_.admin_token);
      if (r.status == 200) try {
          status = njson::parse(r.body).at("status").get<std::string>();
        } catch (const std::exception&) {
        }
      if (r.status == 404 || status == "completed" || status == "failed") {
        if (r.status == 404) status = "missing";
        break;
      }
      // A completed request is a record on disk: it never goes back to running.
      if (p.completed || steady::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (status == "completed") {
      p.completed = true;
      continue;
    }
    if (first_report("p:" + p.id)) {
      ++out_.lost;
      violation("accepted privacy request " + p.id + " is " +
                (status.empty() ? "unanswered" : status) + " after a restart");
    }
  }
  out_.privacy_wait.record(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - since).count()));
}

void soak::check_messages() {
  http_client c{ep_};
  std::vector<std::vector<const sent_message*>> per_room(w_.rooms.size());
  for (auto& m : w_.acked) per_room[m.room].push_back(&m);
  for (size_t r = 0; r < w_.rooms.size(); ++r) {
    std::vector<njson> items;  // oldest first once reversed
    std::string cursor;
    bool readable = true;
    for (int page = 0; page < 100000; ++page) {
      auto reply = c.request("GET",
                             "/api/v1/rooms/" + w_.rooms[r] + "/messages?limit=200" +
                                 (cursor.empty() ? "" : "&cursor=" + cursor),
                             {}, w_.admin_token);
      if (reply.status != 200) {
        violation("the history of " + w_.rooms[r] + " answers " + std::to_string(reply.status) +
                  " after a restart");
        readable = false;
        break;
      }
      auto j = njson::parse(reply.body);
      for (auto& m : j.at("items")) items.push_back(m);
      if (j.at("next_cursor").is_null()) break;
      cursor = j.at("next_cursor").get<std::string>();
    }
    if (!readable) continue;
    std::reverse(items.begin(), items.end());
    std::unordered_map<std::string, std::vector<size_t>> at;  // message id -> positions
    std::unordered_map<std::string, size_t> by_content;       // author + text -> count
    int64_t last_number = -1;
    for (size_t k = 0; k < items.size(); ++k) {
      auto& m = items[k];
      auto id = m.at("message_id").get<std::string>();
      at[id].push_back(k);
      auto number = m.value("number", int64_t{-1});
      if (number <= last_number && first_report("n:" + id))
        violation("message " + id + " of " + w_.rooms[r] + " has number " + std::to_string(number) +
                  " after " + std::to_string(last_number));
      last_number = number;
      // Texts are unique per author: one that is there twice was committed twice (a send
      // sent again whose first commit was forgotten by its client_msg_id).
      if (!m.value("deleted", false) &&
          ++by_content[m.value("author_id", "") + "\n" + m.value("text", "")] == 2 &&
          first_report("c:" + id)) {
        ++out_.duplicated;
        violation("message " + id + " of " + w_.rooms[r] + " is in its room twice (same author " +
                  "and text)");
      }
    }
    auto& mine = per_room[r];
    std::vector<size_t> pos(mine.size(), 0);
    for (size_t k = 0; k < mine.size(); ++k) {
      auto& m = *mine[k];
      ++out_.checks;
      auto it = at.find(m.id);
      if (it == at.end()) {
        if (first_report("m:" + m.id)) {
          ++out_.lost;
          violation("acknowledged message " + m.id + " of " + w_.rooms[r] +
                    " is missing after a restart");
        }
        pos[k] = SIZE_MAX;
        continue;
      }
      pos[k] = it->second.front();
      if (it->second.size() > 1 && first_report("d:" + m.id)) {
        ++out_.duplicated;
        violation("acknowledged message " + m.id + " is in " + w_.rooms[r] + " " +
                  std::to_string(it->second.size()) + " times");
      }
      auto& item = items[pos[k]];
      if (!item.value("deleted", false) && item.value("text", "") != m.text &&
          first_report("t:" + m.id))
        violation("acknowledged message " + m.id + " reads back with another text");
    }
    // Acknowledgement order: a message acknowledged before another was sent comes before it.
    std::vector<size_t> by_ack(mine.size());
    for (size_t k = 0; k < by_ack.size(); ++k) by_ack[k] = k;
    std::sort(by_ack.begin(), by_ack.end(),
              [&](size_t a, size_t b) { return mine[a]->acked < mine[b]->acked; });
    std::vector<size_t> prefix_max(by_ack.size(), 0);
    std::vector<size_t> prefix_who(by_ack.size(), 0);
    size_t best = 0, who = 0;
    bool any = false;
    for (size_t k = 0; k < by_ack.size(); ++k) {
      auto p = pos[by_ack[k]];
      if (p != SIZE_MAX && (!any || p > best)) {
        best = p;
        who = by_ack[k];
        any = true;
      }
      prefix_max[k] = any ? best : 0;
      prefix_who[k] = who;
    }
    for (size_t k = 0; k < mine.size(); ++k) {
      if (pos[k] == SIZE_MAX) continue;
      // Messages acknowledged strictly before this one was sent.
      auto n = static_cast<size_t>(
          std::lower_bound(by_ack.begin(), by_ack.end(), mine[k]->sent,
                           [&](size_t a, steady::time_point t) { return mine[a]->acked < t; }) -
          by_ack.begin());
      if (n == 0 || pos[prefix_who[n - 1]] == SIZE_MAX) continue;
      if (prefix_max[n - 1] > pos[k] && first_report("o:" + mine[k]->id)) {
        ++out_.out_of_order;
        violation("message " + mine[k]->id + " of " + w_.rooms[r] + " comes before " +
                  mine[prefix_who[n - 1]]->id + ", which was acknowledged before it was sent");
      }
    }
  }
}

void soak::check_meetings() {
  http_client c{ep_};
  // Status of each meeting in each readable agenda (visitors still here).
  std::vector<std::unordered_map<std::string, std::string>> agendas;
  std::vector<std::unordered_map<std::string, std::string>> with;
  std::vector<bool> read;
  std::vector<std::string> unreadable;
  auto read_agendas = [&] {
    agendas.assign(w_.visitors.size(), {});
    with.assign(w_.visitors.size(), {});
    read.assign(w_.visitors.size(), false);
    unreadable.clear();
    for (uint32_t i = 0; i < w_.visitors.size(); ++i) {
      auto& v = *w_.visitors[i];
      if (v.gone) continue;
      std::string cursor;
      bool ok = true;
      for (int page = 0; page < 1000; ++page) {
        auto r = c.request(
            "GET", "/api/v1/me/agenda?limit=200" + (cursor.empty() ? "" : "&cursor=" + cursor), {},
            v.token);
        if (r.status != 200) {
          unreadable.push_back("the agenda of " + v.user_id + " answers " +
                               std::to_string(r.status) + " after a restart");
          ok = false;
          break;
        }
        auto j = njson::parse(r.body);
        for (auto& item : j.at("items"))
          if (item.value("kind", "") == "meeting") {
            auto id = item.at("meeting_id").get<std::string>();
            agendas[i][id] = item.value("status", "");
            with[i][id] = item.value("with_user_id", "");
          }
        if (j.at("next_cursor").is_null()) break;
        cursor = j.at("next_cursor").get<std::string>();
      }
      read[i] = ok;
    }
  };
  auto status_in = [&](uint32_t who, const std::string& id) -> const std::string* {
    auto it = agendas[who].find(id);
    return it == agendas[who].end() ? nullptr : &it->second;
  };
  // Any meeting, acknowledged or left in doubt by a kill: both parties see it with one status,
  // except a request the invitee's agenda refused, which stays with the requester as cancelled.
  auto disagreements = [&] {
    std::vector<std::pair<std::string, std::string>> out;  // meeting id, what is wrong
    for (uint32_t i = 0; i < w_.visitors.size(); ++i) {
      if (!read[i]) continue;
      for (auto& [id, status] : agendas[i]) {
        auto other = w_.index_of.find(with[i][id]);
        if (other == w_.index_of.end() || !read[other->second]) continue;
        auto theirs = status_in(other->second, id);
        if ((!theirs && status == "cancelled") || (theirs && *theirs == status)) continue;
        out.emplace_back(id, "meeting " + id + " is " + status + " for one party and " +
                                 (theirs ? *theirs : "missing") + " for the other");
      }
    }
    return out;
  };
  // A change a kill left half-way is finished by the agenda that made it, which the engine
  // wakes at start: the parties may disagree for the moment that takes, not for longer.
  auto started = steady::now();
  auto settle_until = started + std::chrono::duration_cast<steady::duration>(
                                    std::chrono::duration<double>(o_.privacy_timeout_s));
  read_agendas();
  auto apart = disagreements();
  while (!apart.empty() && steady::now() < settle_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    read_agendas();
    apart = disagreements();
  }
  out_.meeting_settle.record(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - started).count()));
  for (auto& note : unreadable) violation(note);
  for (auto& [id, note] : apart) {
    if (first_report("x:" + id)) {
      ++out_.meetings_inconsistent;
      violation(note);
    }
  }
  for (auto& b : w_.booked) {
    ++out_.checks;
    if (!read[b.requester]) continue;
    auto mine = status_in(b.requester, b.id);
    if (!mine) {
      if (first_report("b:" + b.id)) {
        ++out_.lost;
        violation("acknowledged meeting " + b.id + " is missing from its requester's agenda");
      }
      continue;
    }
    // A request the invitee's agenda refused stays with the requester as cancelled only.
    if (!read[b.invitee] || *mine == "cancelled") continue;
    auto theirs = status_in(b.invitee, b.id);
    if (!theirs || *theirs != *mine) {
      if (first_report("b:" + b.id)) {
        ++out_.lost;
        violation("meeting " + b.id + " is " + *mine + " for its requester and " +
                  (theirs ? *theirs : "missing") + " for its invitee");
      }
    }
  }
  for (auto& a : w_.answers) {
    ++out_.checks;
    // A party's erasure cancels the meeting for the other party: the only later change.
    bool cancelled_ok = w_.visitors[a.invitee]->gone || w_.visitors[a.requester]->gone;
    for (auto who : {a.invitee, a.requester}) {
      if (!read[who]) continue;
      auto s = status_in(who, a.id);
      if (s && (*s == a.status || (cancelled_ok && *s == "cancelled"))) continue;
      if (first_report("a:" + a.id)) {
        ++out_.lost;
        violation("meeting " + a.id + " was " + a.status + " (acknowledged) but its " +
                  (who == a.invitee ? "invitee" : "requester") + " sees " + (s ? *s : "nothing"));
      }
    }
  }
}

void soak::scan_log(const fs::path& log) {
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    bool error = line.find("\"level\":\"error\"") != std::string::npos;
    if (!error && line.find("corrupt") == std::string::npos) continue;
    ++out_.log_errors;
    std::string event = "?";
    try {
      event = njson::parse(line).value("event", "?");
    } catch (const std::exception&) {
    }
    // The event name only: log lines hold ids, never personal data, but the note stays short.
    violation("mextd logged " + event + (error ? " at error level" : " (corrupt)") + " in " +
              log.filename().string());
  }
}

void soak::replace_gone(std::unordered_set<uint32_t>& counted) {
  http_client c{ep_};
  auto n = w_.visitors.size();
  for (uint32_t i = 0; i < n; ++i) {
    if (!w_.visitors[i]->gone || !counted.insert(i).second) continue;
    auto v = register_visitor(c, w_.tag, next_visitor_number_++, rng_);
    if (!v) {
      violation("a replacement visitor could not register: " + detail_of(v.error()));
      continue;
    }
    ++out_.replacements;
    w_.index_of[(*v)->user_id] = static_cast<uint32_t>(w_.visitors.size());
    w_.visitors.push_back(std::move(*v));
  }
}

caf::error soak::run() {
  for (auto& [op, rate] : sc_.mix)
    if (rate > 0 && op != op_kind::chat && op != op_kind::meeting && op != op_kind::answer &&
        op != op_kind::export_ && op != op_kind::erase && op != op_kind::read &&
        op != op_kind::browse)
      return make_error(errc::invalid_argument,
                        "mix." + name_of(op) +
                            ": the crash soak runs chat, meeting, answer, export, erase, read "
                            "and browse only");
  if (sc_.exhibition.booths == 0)
    return make_error(errc::invalid_argument, "exhibition.booths: the crash soak needs a room");
  char tmpl[] = "/tmp/mext-soak-XXXXXX";
  if (!::mkdtemp(tmpl)) return make_error(errc::internal, "cannot create a temporary directory");
  fs::path root = tmpl;
  out_.data_dir = (root / "data").string();
  fs::create_directories(root / "data");
  const std::string email = "admin@sim.invalid";
  const std::string password = "Sim-Admin-Password-" + std::to_string(::getpid());
  server_ =
      std::make_unique<server_process>(o_.mextd, root / "data", email, password, o_.server_flags);
  auto log_of = [&](uint32_t n) { return root / ("mextd-" + std::to_string(n) + ".log"); };
  auto first = steady::now();
  auto port = server_->start(0, log_of(0));
  if (port == 0 || (ep_.port = port, !wait_ready(first)))
    return make_error(errc::internal, "mextd (" + o_.mextd.string() +
                                          ") did not start; its log is " + log_of(0).string());
  ep_.host = "127.0.0.1";
  ep_.tls = true;
  auto setup_start = steady::now();
  if (o_.progress) o_.progress("crash soak: setup (exhibition, booths, visitors)");
  if (auto err = setup(sc_, ep_, email, password, w_, rng_)) return err;
  next_visitor_number_ = w_.visitors.size();
  out_.setup_s = std::chrono::duration<double>(steady::now() - setup_start).count();
  std::unordered_set<uint32_t> replaced;
  auto run_start = steady::now();
  for (uint32_t cycle = 1; cycle <= o_.cycles; ++cycle) {
    std::vector<worker_out> outs;
    double kill_at = 0;
    int in_flight = 0;
    load_and_kill(cycle, outs, kill_at, in_flight);
    scan_log(log_of(cycle - 1));
    if (in_flight > 0) ++out_.kills_in_flight;
    out_.in_flight_at_kills += static_cast<uint64_t>(in_flight);
    out_.max_in_flight_at_kill =
        std::max(out_.max_in_flight_at_kill, static_cast<uint32_t>(in_flight));
    std::vector<sent_message> doubtful;
    for (auto& wo : outs) {
      for (auto& [op, s] : wo.stats) out_.ops[op].merge(s);
      out_.in_doubt += wo.in_doubt;
      for (auto& m : wo.acked) w_.acked.push_back(std::move(m));
      for (auto& m : wo.doubtful) doubtful.push_back(std::move(m));
      for (auto& b : wo.booked) w_.booked.push_back(std::move(b));
      for (auto& a : wo.answers) w_.answers.push_back(std::move(a));
      for (auto& p : wo.privacy) w_.privacy.push_back({std::move(p), false});
    }
    if (o_.rollback_fault) {
      std::error_code ec;
      if (cycle == 1)
        fs::copy(root / "data" / "lmdb", root / "rollback", fs::copy_options::recursive, ec);
      if (cycle == 2) {
        fs::remove_all(root / "data" / "lmdb", ec);
        fs::copy(root / "rollback", root / "data" / "lmdb", fs::copy_options::recursive, ec);
      }
      if (ec) return make_error(errc::internal, "the rollback fault failed: " + ec.message());
    }
    auto restart_at = steady::now();
    auto restart_wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    auto again = server_->start(ep_.port, log_of(cycle));
    if (again != ep_.port || !wait_ready(restart_at)) {
      violation("cycle " + std::to_string(cycle) + ": mextd did not answer /readyz within " +
                std::to_string(o_.ready_timeout_s) +
                " s of its restart on the old data; its log is " + log_of(cycle).string());
      break;
    }
    auto ready = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - restart_at);
    out_.restart.record(static_cast<uint64_t>(ready.count()));
    double ready_ms = static_cast<double>(ready.count()) / 1000.0;
    resend(doubtful, restart_wall_ms);
    check_sessions();
    check_privacy();
    check_messages();
    check_meetings();
    replace_gone(replaced);
    out_.cycles = cycle;
    if (o_.progress) {
      char line[320];
      std::snprintf(line, sizeof line,
                    "cycle %u/%u: killed at %.2f s with %d in flight, ready in %.0f ms; "
                    "%llu acknowledged writes checked, %llu lost, %llu duplicated, %llu violations",
                    cycle, o_.cycles, kill_at, in_flight, ready_ms,
                    static_cast<unsigned long long>(w_.acked.size() + w_.booked.size() +
                                                    w_.answers.size() + w_.privacy.size()),
                    static_cast<unsigned long long>(out_.lost),
                    static_cast<unsigned long long>(out_.duplicated),
                    static_cast<unsigned long long>(out_.violations));
      o_.progress(line);
    }
  }
  out_.elapsed_s = std::chrono::duration<double>(steady::now() - run_start).count();
  out_.acked_messages = w_.acked.size();
  out_.acked_meetings = w_.booked.size();
  out_.acked_answers = w_.answers.size();
  out_.acked_privacy = w_.privacy.size();
  auto status = server_->stop();
  scan_log(log_of(out_.cycles < o_.cycles ? out_.cycles + 1 : out_.cycles));
  if (status != -1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    violation("mextd did not stop cleanly on SIGTERM after the last restart");
  if (out_.passed() && !o_.keep_data) {
    std::error_code ec;
    fs::remove_all(root, ec);
    out_.data_dir.clear();
  } else {
    out_.data_dir = root.string();
  }
  return {};
}

}  // namespace

caf::expected<crash_result> run_crash_soak(const scenario& sc, const crash_options& o) {
  crash_result out;
  soak s{sc, o, out};
  if (auto err = s.run()) return err;
  return out;
}

nlohmann::json crash_report_json(const scenario& sc, const crash_options& o,
                                 const crash_result& r) {
  utsname u{};
  uname(&u);
  nlohmann::json ops = nlohmann::json::object();
  for (auto& [op, s] : r.ops)
    ops[name_of(op)] = {{"ok", s.ok},
                        {"errors", s.errors},
                        {"p50_ms", ms(s.latency.quantile(0.5))},
                        {"p99_ms", ms(s.latency.quantile(0.99))},
                        {"max_ms", ms(s.latency.max())}};
  auto total = r.acked_messages + r.acked_meetings + r.acked_answers + r.acked_privacy;
  return {{"format", "mext-sim-crash-report/1"},
          {"scenario",
           {{"name", sc.name},
            {"visitors", sc.population.visitors},
            {"booths", sc.exhibition.booths},
            {"connections", sc.connections}}},
          {"machine",
           {{"nproc", std::thread::hardware_concurrency()}, {"kernel", std::string(u.release)}}},
          {"seed", o.seed},
          {"kill_window_s", {o.kill_min_s, o.kill_max_s}},
          {"cycles_asked", o.cycles},
          {"cycles", r.cycles},
          {"setup_s", r.setup_s},
          {"elapsed_s", r.elapsed_s},
          {"kills_in_flight", r.kills_in_flight},
          {"in_flight_at_kills", r.in_flight_at_kills},
          {"max_in_flight_at_kill", r.max_in_flight_at_kill},
          {"requests_in_doubt", r.in_doubt},
          {"resent", r.resent},
          {"resent_acknowledged", r.resent_acked},
          {"resent_refused", r.resent_refused},
          {"resent_committed_before_kill", r.resent_committed},
          {"acknowledged",
           {{"messages", r.acked_messages},
            {"meeting_requests", r.acked_meetings},
            {"meeting_answers", r.acked_answers},
            {"privacy_requests", r.acked_privacy},
            {"total", total}}},
          {"checks", r.checks},
          {"lost", r.lost},
          {"duplicated", r.duplicated},
          {"out_of_order", r.out_of_order},
          {"meetings_inconsistent", r.meetings_inconsistent},
          {"sessions_checked", r.sessions_checked},
          {"sessions_lost", r.sessions_lost},
          {"log_errors", r.log_errors},
          {"replacement_visitors", r.replacements},
          {"restart_ms",
           {{"count", r.restart.count()},
            {"p50", ms(r.restart.quantile(0.5))},
            {"p99", ms(r.restart.quantile(0.99))},
            {"max", ms(r.restart.max())}}},
          {"privacy_wait_ms",
           {{"p50", ms(r.privacy_wait.quantile(0.5))},
            {"p99", ms(r.privacy_wait.quantile(0.99))},
            {"max", ms(r.privacy_wait.max())}}},
          {"meeting_settle_ms",
           {{"p50", ms(r.meeting_settle.quantile(0.5))},
            {"p99", ms(r.meeting_settle.quantile(0.99))},
            {"max", ms(r.meeting_settle.max())}}},
          {"ops", ops},
          {"violations", r.violations},
          {"violation_notes", r.violation_notes},
          {"data_dir", r.data_dir},
          {"passed", r.passed()}};
}

}  // namespace mext::sim
