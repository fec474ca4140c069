// activation_bench: what an actor costs to activate and to keep, and that passivation frees it.
//
// With N users registered (--users), through the real engine (store, store actor, directory,
// user actors):
//   1. population: --populate register (default) sends activate + register to real user actors,
//      with Argon2id lowered to 8 KiB / 1 pass so that hashing does not dominate; --populate direct
//      commits the same UserEvent.registered records (encoded with the real schema) and email
//      index entries as write_items through the store actor in large batches, for when the real
//      path is too slow.
//   2. RSS with N registered and nothing resident.
//   3. cold latency (resolve + get of a user not resident) and warm latency (the same users again
//      while resident), sequential requests from a blocking (scoped) actor, p50/p99.
//   4. RSS before and after activating K users (resident memory per actor), then after they all
//      passivated (idle_passivate, --idle-ms), polled through the directory's stats.
// glibc keeps freed memory in its arenas: RSS is printed before and after malloc_trim(0).

#include <malloc.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <caf/all.hpp>

#include "actors/engine.hpp"
#include "actors/entity_codec.hpp"
#include "actors/password.hpp"
#include "actors/user_actor.hpp"
#include "bench/bench_util.hpp"
#include "mext/schemas/user.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/log.hpp"

using namespace mext;
using namespace mext::actors;
using mext::bench::clock_type;

namespace {

using go_atom = caf::atom_constant<caf::atom("benchgo")>;

constexpr auto ask_timeout = std::chrono::seconds(30);
constexpr int64_t registered_at_ms = 1'700'000'000'000;

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// User i's id, computed rather than stored, so that a list of N ids does not sit in the RSS that
// is being measured. The finalizer is a bijection, so distinct i give distinct ids.
std::string user_id(uint64_t i) {
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx",
                static_cast<unsigned long long>(splitmix64(2 * i)),
                static_cast<unsigned long long>(splitmix64(2 * i + 1)));
  return std::string{"usr_"} + hex;
}

std::string user_email(uint64_t i) {
  return "bench.user" + std::to_string(i) + "@example.org";
}

registration user_registration(uint64_t i) {
  registration r;
  r.email = user_email(i);
  r.password = "correct horse battery staple";
  r.first_name = "Bench";
  r.surname = "User" + std::to_string(i);
  r.at_ms = registered_at_ms;
  return r;
}

const caller& admin() {
  static const caller c{"usr_00000000000000000000000000000000", true, {}};
  return c;
}

// -- pipelined jobs: a driver actor keeps `window` operations in flight ---------------------------

enum class job_kind { register_user, resolve_get };

struct job {
  job_kind kind = job_kind::resolve_get;
  directory_actor dir;
  std::vector<uint64_t> users;  // the user index of each operation
  uint64_t window = 1000;
  clock_type::time_point deadline;
  std::atomic<uint64_t> done{0};
  std::atomic<uint64_t> failed{0};
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  bool cut_short = false;
  std::string first_error;

  std::atomic<uint64_t> retried{0};
  std::vector<std::string> failures;  // the first few, with their timing

  // Keeps the first few failures with how long after sending the first request, and after the
  // directory's answer, they came: that tells a slow store from a handle that went stale.
  clock_type::time_point started = clock_type::now();
  std::vector<std::string> exit_reasons;  // of the first few handles that were found down

  // Returns true while fewer than 8 failures were kept (the caller then also asks why).
  bool note(const char* phase, const caf::error& err, clock_type::time_point sent,
            clock_type::time_point answered) {
    std::lock_guard<std::mutex> lock{m};
    if (first_error.empty()) first_error = caf::to_string(err);
    if (failures.size() >= 8) return false;
    auto now = clock_type::now();
    auto secs = [&](clock_type::time_point t) {
      return std::chrono::duration<double>(now - t).count();
    };
    std::ostringstream os;
    os << std::fixed << std::setprecision(3) << phase << ": " << caf::to_string(err) << " at "
       << secs(started) << " s into the job, " << secs(sent) << " s after the directory request, "
       << secs(answered) << " s after its answer";
    failures.push_back(os.str());
    return true;
  }
};

struct driver_state {
  std::shared_ptr<job> j;
  uint64_t next = 0;
  uint64_t outstanding = 0;
};

using driver_self = caf::stateful_actor<driver_state>*;

bool start_one(driver_self self);

void completed(driver_self self) {
  auto& st = self->state;
  st.outstanding--;
  while (st.outstanding < st.j->window && start_one(self)) {
  }
  if (st.outstanding == 0) {
    auto j = std::move(st.j);
    {
      std::lock_guard<std::mutex> lock{j->m};
      j->finished = true;
    }
    j->cv.notify_all();
    self->quit();
  }
}

// One operation on user i: the directory (activate or resolve), then register or get on the
// handle it answered. A handle whose actor went down before our message reached it fails with
// request_receiver_down; a client then asks the directory again, and so does this driver (at
// most 3 times, counted in `retried`).
void issue(driver_self self, uint64_t i, int attempt) {
  auto& j = *self->state.j;
  auto sent = clock_type::now();
  auto on_done = [self](user_view&) {
    self->state.j->done.fetch_add(1, std::memory_order_relaxed);
    completed(self);
  };
  auto on_directory_error = [self, sent](caf::error& err) {
    auto& jj = *self->state.j;
    jj.note("directory", err, sent, sent);
    jj.failed.fetch_add(1, std::memory_order_relaxed);
    completed(self);
  };
  bool reg = j.kind == job_kind::register_user;
  auto on_handle = [self, i, attempt, sent, reg, on_done](caf::actor& a) {
    auto answered = clock_type::now();
    auto on_error = [self, i, attempt, sent, answered, reg, a](caf::error& err) {
      auto& jj = *self->state.j;
      // Monitoring an actor that is gone delivers its exit reason at once (the down handler).
      if (jj.note(reg ? "register" : "get", err, sent, answered) &&
          err == caf::sec::request_receiver_down)
        self->monitor(a);
      if (err == caf::sec::request_receiver_down && attempt < 3) {
        jj.retried.fetch_add(1, std::memory_order_relaxed);
        issue(self, i, attempt + 1);
        return;
      }
      jj.failed.fetch_add(1, std::memory_order_relaxed);
      completed(self);
    };
    auto hdl = caf::actor_cast<user_actor>(a);
    if (reg)
      self->request(hdl, caf::infinite, register_atom::value, user_registration(i))
          .then(on_done, on_error);
    else
      self->request(hdl, caf::infinite, get_atom::value, admin()).then(on_done, on_error);
  };
  if (reg)
    self->request(j.dir, caf::infinite, activate_atom::value, user_id(i))
        .then(on_handle, on_directory_error);
  else
    self->request(j.dir, caf::infinite, resolve_atom::value, user_id(i))
        .then(on_handle, on_directory_error);
}

bool start_one(driver_self self) {
  auto& st = self->state;
  auto& j = *st.j;
  if (st.next >= j.users.size()) return false;
  if (bench::stop_requested() || clock_type::now() > j.deadline) {
    std::lock_guard<std::mutex> lock{j.m};
    j.cut_short = true;
    return false;
  }
  uint64_t i = j.users[st.next++];
  st.outstanding++;
  issue(self, i, 0);
  return true;
}

caf::behavior driver(driver_self self, std::shared_ptr<job> j) {
  self->state.j = std::move(j);
  auto job_ptr = self->state.j;
  self->set_down_handler([job_ptr](caf::down_msg& dm) {
    std::lock_guard<std::mutex> lock{job_ptr->m};
    job_ptr->exit_reasons.push_back(caf::to_string(dm.reason));
  });
  return {
      [self](go_atom) {
        auto& st = self->state;
        while (st.outstanding < st.j->window && start_one(self)) {
        }
        if (st.outstanding == 0) {
          // Nothing to do at all.
          st.outstanding = 1;
          completed(self);
        }
      },
  };
}

// Runs the job, printing progress every `report_every`; false when it did not finish in time.
bool run_job(caf::actor_system& sys, const std::shared_ptr<job>& j,
             const std::function<void()>& progress, std::chrono::seconds report_every) {
  auto d = sys.spawn(driver, j);
  caf::anon_send(d, go_atom::value);
  std::unique_lock<std::mutex> lock{j->m};
  auto hard_limit = j->deadline + std::chrono::seconds(60);
  while (!j->finished && clock_type::now() < hard_limit) {
    if (j->cv.wait_for(lock, report_every, [&] { return j->finished; })) break;
    lock.unlock();
    progress();
    lock.lock();
  }
  return j->finished;
}

// Retries and failures of a job, with the timing of the first few.
void print_issues(const std::string& name, job& j) {
  std::lock_guard<std::mutex> lock{j.m};
  std::cout << name << " retried_after_receiver_down=" << j.retried.load()
            << " failed=" << j.failed.load() << std::endl;
  for (auto& f : j.failures) std::cout << "#   " << name << " " << f << std::endl;
  for (auto& r : j.exit_reasons)
    std::cout << "#   " << name << " exit reason of a handle found down: " << r << std::endl;
}

// -- direct population: the records a registration writes, without the actors ---------------------

capnp::Data::Reader as_data(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

// The write_item that on_register commits for user i: UserEvent.registered as seq 1 and the
// email index entry (put_unique).
persistence::write_item registered_item(runtime& rt, uint64_t i, const std::string& hash) {
  auto id = user_id(i);
  auto reg = user_registration(i);
  auto& sealer = *rt.sealer;
  auto seal = [&](const std::string& plain) {
    auto sealed = sealer.seal(id, id, plain);
    if (!sealed) throw std::runtime_error("seal: " + detail_of(sealed.error()));
    return std::move(*sealed);
  };
  auto key = email_index_key(sealer, reg.email);
  std::string blind = key.substr(key.find('/') + 1);
  auto record =
      encode<schema::UserEvent>(schema::RecordKind::USER_EVENT, [&](schema::UserEvent::Builder ev) {
        ev.setAt(reg.at_ms);
        auto r = ev.initRegistered();
        r.setEmailIndex(as_data(blind));
        r.setPasswordHash(as_data(seal(hash)));
        auto p = r.initProfile();
        p.setFirstName(as_data(seal(reg.first_name)));
        p.setSurname(as_data(seal(reg.surname)));
        p.setEmail(as_data(seal(reg.email)));
        p.setPhotoFileId("");
        p.setOrganizationId("");
        auto roles = r.initRoles(1);
        roles[0].setRole(schema::Role::VISITOR);
        roles[0].setScope("");
      });
  persistence::write_item item;
  item.append_event(id, 1, std::move(record));
  item.put_unique(persistence::db::indexes, key, id);
  return item;
}

// Commits `n` registrations through the store actor, `window` requests in flight at a time.
uint64_t populate_direct(caf::actor_system& sys, engine& eng, uint64_t n, uint64_t window,
                         const password_params& params, clock_type::time_point deadline) {
  // One hash for everyone: the bench measures activation, not hashing.
  auto hash = hash_password("correct horse battery staple", params);
  if (!hash) throw std::runtime_error("hash_password: " + detail_of(hash.error()));
  caf::scoped_actor self{sys};
  uint64_t sent = 0, acked = 0, failed = 0;
  auto t0 = clock_type::now();
  auto last_report = t0;
  while (acked + failed < n) {
    while (sent < n && sent - acked - failed < window && clock_type::now() < deadline &&
           !bench::stop_requested()) {
      self->send(eng.writer(), commit_atom::value, registered_item(*eng.rt(), sent, *hash));
      ++sent;
    }
    if (sent == acked + failed) break;  // out of time with nothing in flight
    self->receive([&](uint64_t) { ++acked; }, [&](caf::error&) { ++failed; },
                  caf::after(std::chrono::seconds(60)) >>
                      [&] { throw std::runtime_error("store actor did not answer in 60 s"); });
    if (clock_type::now() - last_report > std::chrono::seconds(10)) {
      last_report = clock_type::now();
      std::cout << "#   populated " << acked << " of " << n << " in " << std::fixed
                << std::setprecision(1) << bench::seconds_since(t0) << " s" << std::endl;
    }
  }
  if (failed) throw std::runtime_error(std::to_string(failed) + " direct registrations failed");
  return acked;
}

// -- observation
// -----------------------------------------------------------------------------------

directory_stats dir_stats(caf::actor_system& sys, const directory_actor& dir) {
  caf::scoped_actor self{sys};
  directory_stats out;
  self->request(dir, ask_timeout, stats_atom::value)
      .receive([&](directory_stats s) { out = s; },
               [&](caf::error& e) {
                 throw std::runtime_error("directory stats: " + caf::to_string(e));
               });
  return out;
}

// Polls the directory until nothing is resident; the seconds it took, or -1 past `limit`.
double wait_all_passivated(caf::actor_system& sys, const directory_actor& dir,
                           std::chrono::seconds limit) {
  auto t0 = clock_type::now();
  while (bench::seconds_since(t0) < static_cast<double>(limit.count()) &&
         !bench::stop_requested()) {
    if (dir_stats(sys, dir).resident == 0) return bench::seconds_since(t0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

std::string mem_text(const bench::memory& m) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << "rss=" << bench::mib(m.resident) << " MiB (anon "
     << bench::mib(m.anon()) << ", file " << bench::mib(m.shared) << "; heap in use "
     << bench::mib(m.heap_used) << ")";
  return os.str();
}

// `k` distinct indices below `n`, in random order.
std::vector<uint64_t> sample(std::mt19937_64& rng, uint64_t n, uint64_t k,
                             const std::unordered_set<uint64_t>& avoid = {}) {
  k = std::min(k, n - std::min<uint64_t>(n, avoid.size()));
  std::vector<uint64_t> out;
  if (k * 2 >= n) {
    for (uint64_t i = 0; i < n; ++i)
      if (!avoid.count(i)) out.push_back(i);
    std::shuffle(out.begin(), out.end(), rng);
    out.resize(k);
    return out;
  }
  std::unordered_set<uint64_t> seen;
  std::uniform_int_distribution<uint64_t> pick{0, n - 1};
  // Bounded: with k <= n / 2, each draw is new with probability >= 1/2.
  for (uint64_t tries = 0; out.size() < k && tries < 100 * k + 1000; ++tries) {
    uint64_t i = pick(rng);
    if (avoid.count(i) || !seen.insert(i).second) continue;
    out.push_back(i);
  }
  return out;
}

struct latencies {
  std::vector<double> resolve_us;
  std::vector<double> total_us;
  uint64_t errors = 0;
};

// One resolve + get, timed, from a blocking actor (as a bridge thread would ask).
void timed_get(caf::scoped_actor& self, const directory_actor& dir, uint64_t i, latencies& out) {
  auto t0 = clock_type::now();
  caf::actor hdl;
  bool ok = true;
  self->request(dir, ask_timeout, resolve_atom::value, user_id(i))
      .receive([&](caf::actor& a) { hdl = std::move(a); }, [&](caf::error&) { ok = false; });
  auto t1 = clock_type::now();
  if (ok)
    self->request(caf::actor_cast<user_actor>(hdl), ask_timeout, get_atom::value, admin())
        .receive([&](user_view& v) { ok = v.email == user_email(i); },
                 [&](caf::error&) { ok = false; });
  auto t2 = clock_type::now();
  if (!ok) {
    out.errors++;
    return;
  }
  out.resolve_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  out.total_us.push_back(std::chrono::duration<double, std::micro>(t2 - t0).count());
}

void print_latency(const std::string& name, latencies l) {
  std::sort(l.resolve_us.begin(), l.resolve_us.end());
  std::sort(l.total_us.begin(), l.total_us.end());
  double sum = 0;
  for (double v : l.total_us) sum += v;
  std::cout << std::fixed << std::setprecision(1) << "latency " << name
            << " n=" << l.total_us.size() << " errors=" << l.errors
            << " resolve_p50_us=" << bench::percentile(l.resolve_us, 50)
            << " resolve_p99_us=" << bench::percentile(l.resolve_us, 99)
            << " total_p50_us=" << bench::percentile(l.total_us, 50)
            << " total_p99_us=" << bench::percentile(l.total_us, 99)
            << " total_max_us=" << (l.total_us.empty() ? 0.0 : l.total_us.back())
            << " total_mean_us=" << (l.total_us.empty() ? 0.0 : sum / l.total_us.size())
            << std::endl;
}

struct bench_config : caf::actor_system_config {
  bench_config() {
    mext::actors::add_message_types(*this);
    add_user_types(*this);
  }
};

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::install_stop_handler();
    bench::options opts(
        argc, argv,
        {"users", "sample", "resident", "idle-ms", "populate", "window", "argon2-kib",
         "argon2-iterations", "max-populate-seconds", "tmp", "chunk", "moderate-sleep-us"});
    log::set_min_level(log::level::warn);
    const uint64_t n = std::max<uint64_t>(opts.u64("users", 100000), 1);
    const uint64_t sample_n = std::min(opts.u64("sample", 10000), n);
    const uint64_t k = std::min(opts.u64("resident", 100000), n);
    const auto idle = std::chrono::milliseconds(opts.u64("idle-ms", 10000));
    const std::string populate = opts.str("populate", "register");
    const uint64_t window = std::max<uint64_t>(opts.u64("window", 2000), 1);
    const uint64_t chunk = std::max<uint64_t>(opts.u64("chunk", 1000), 1);
    const auto max_populate = std::chrono::seconds(opts.u64("max-populate-seconds", 900));
    if (populate != "register" && populate != "direct")
      throw std::invalid_argument("--populate is register or direct");
    // Every wait below is bounded by a few idle periods.
    const auto passivation_limit = std::chrono::seconds(
        3 * std::chrono::duration_cast<std::chrono::seconds>(idle).count() + 60);

    auto base = bench::temp_base(opts);
    bench::temp_dir dir{base};

    std::cout << "# activation_bench: activation latency and resident memory of user actors\n"
              << "# command: " << bench::command_line(argc, argv) << "\n"
              << "# machine: " << bench::machine_line() << "\n"
              << "# data dir: " << dir.path().string() << " (removed after)\n"
              << "# users=" << n << " populate=" << populate << " sample=" << sample_n
              << " resident_k=" << k << " idle_passivate_ms=" << idle.count()
              << " window=" << window << " caf_moderate_sleep_us="
              << (opts.has("moderate-sleep-us") ? opts.str("moderate-sleep-us", "") : "default")
              << std::endl;

    bench_config cfg;
    // Diagnostic knob: CAF's idle workers poll with sleeps of this length (default 50 us) before
    // they block on a condition variable; request latencies at low load depend on it.
    if (opts.has("moderate-sleep-us"))
      cfg.set("work-stealing.moderate-sleep-duration",
              caf::timespan{std::chrono::microseconds(opts.u64("moderate-sleep-us", 50))});
    caf::actor_system sys{cfg};
    engine_options eo;
    eo.data_dir = dir.path();
    eo.store.initial_map_bytes = size_t{1} << 30;
    eo.entities.idle_passivate = idle;
    // Lowered so that populating is feasible: this bench measures activation and memory.
    eo.entities.argon2_memory_kib = static_cast<uint32_t>(opts.u64("argon2-kib", 8));
    eo.entities.argon2_iterations = static_cast<uint32_t>(opts.u64("argon2-iterations", 1));
    std::cout << "# argon2id m=" << eo.entities.argon2_memory_kib
              << " KiB t=" << eo.entities.argon2_iterations << " (lowered for population only)"
              << std::endl;
    auto started = engine::start(sys, eo, {{"usr", make_user_actor}});
    if (!started) throw std::runtime_error("engine: " + detail_of(started.error()));
    auto& eng = **started;
    const auto& dirh = eng.directory();
    malloc_trim(0);
    auto mem_empty = bench::read_memory();
    std::cout << "memory empty_engine " << mem_text(mem_empty) << std::endl;

    // 1. population
    {
      auto t0 = clock_type::now();
      double cpu0 = bench::cpu_seconds();
      uint64_t registered = 0;
      if (populate == "register") {
        auto j = std::make_shared<job>();
        j->kind = job_kind::register_user;
        j->dir = dirh;
        j->window = window;
        j->deadline = t0 + max_populate;
        j->users.resize(n);
        for (uint64_t i = 0; i < n; ++i) j->users[i] = i;
        bool finished = run_job(
            sys, j,
            [&] {
              auto s = dir_stats(sys, dirh);
              std::cout << "#   registered " << j->done.load() << " of " << n << " in "
                        << std::fixed << std::setprecision(1) << bench::seconds_since(t0)
                        << " s, resident " << s.resident << ", " << mem_text(bench::read_memory())
                        << std::endl;
            },
            std::chrono::seconds(10));
        print_issues("populate", *j);
        if (!finished || j->cut_short || j->failed)
          throw std::runtime_error("population incomplete: " + std::to_string(j->done.load()) +
                                   " of " + std::to_string(n) + " registered, " +
                                   std::to_string(j->failed.load()) + " failed (" + j->first_error +
                                   "); try --populate direct");
        registered = j->done.load();
      } else {
        registered = populate_direct(sys, eng, n, window, password_params_of(eo.entities),
                                     t0 + max_populate);
        if (registered != n) throw std::runtime_error("population incomplete (time limit)");
      }
      double secs = bench::seconds_since(t0);
      std::cout << std::fixed << std::setprecision(1) << "populate mode=" << populate
                << " users=" << registered << " seconds=" << secs
                << " per_s=" << std::setprecision(0) << registered / secs
                << " cpu_pct=" << 100 * (bench::cpu_seconds() - cpu0) / secs << std::endl;
      auto waited = wait_all_passivated(sys, dirh, passivation_limit);
      auto s = dir_stats(sys, dirh);
      std::cout << std::fixed << std::setprecision(1) << "populate passivated_after_s=" << waited
                << " activations=" << s.activations << " passivations=" << s.passivations
                << " resident=" << s.resident << std::endl;
      auto info = eng.rt()->store->info();
      if (info)
        std::cout << "store events=" << info->events << " used_mib=" << std::setprecision(1)
                  << bench::mib(info->used_bytes) << std::endl;
    }

    // 2. N registered, nothing resident.
    auto mem_idle_pop = bench::read_memory();
    malloc_trim(0);
    auto mem_idle_pop_trim = bench::read_memory();
    std::cout << "memory registered_nothing_resident " << mem_text(mem_idle_pop)
              << " | after malloc_trim(0) " << mem_text(mem_idle_pop_trim) << std::endl;

    // 3. cold and warm latency, chunk by chunk so that every warm get finds its actor resident
    //    whatever the idle period: each chunk is cold-read and then read again at once.
    std::mt19937_64 rng{20261128};
    auto sampled = sample(rng, n, sample_n);
    {
      caf::scoped_actor self{sys};
      latencies cold, warm;
      uint64_t warm_reactivations = 0;
      auto before = dir_stats(sys, dirh);
      auto t0 = clock_type::now();
      for (size_t at = 0; at < sampled.size() && !bench::stop_requested(); at += chunk) {
        if (bench::seconds_since(t0) > 600) throw std::runtime_error("latency passes over 600 s");
        size_t end = std::min(sampled.size(), at + chunk);
        for (size_t x = at; x < end; ++x) timed_get(self, dirh, sampled[x], cold);
        auto mid = dir_stats(sys, dirh);
        for (size_t x = at; x < end; ++x) timed_get(self, dirh, sampled[x], warm);
        warm_reactivations += dir_stats(sys, dirh).activations - mid.activations;
      }
      auto after = dir_stats(sys, dirh);
      print_latency("cold", cold);
      print_latency("warm", warm);
      std::cout << "latency activations=" << after.activations - before.activations
                << " (cold gets: " << cold.total_us.size() + cold.errors
                << ") warm_reactivations=" << warm_reactivations << std::endl;
    }
    {
      auto waited = wait_all_passivated(sys, dirh, passivation_limit);
      std::cout << std::fixed << std::setprecision(1)
                << "latency sample passivated_after_s=" << waited << std::endl;
    }

    // 4. memory per resident actor: K activations (resolve + get), pipelined.
    {
      // The K indices are drawn before the baseline so that they are not counted per actor.
      auto users = sample(rng, n, k);
      malloc_trim(0);
      auto mem_before = bench::read_memory();
      std::cout << "memory before_k (after malloc_trim(0)) " << mem_text(mem_before) << std::endl;
      auto j = std::make_shared<job>();
      j->kind = job_kind::resolve_get;
      j->dir = dirh;
      j->window = std::min<uint64_t>(window, 1000);
      auto t0 = clock_type::now();
      j->deadline = t0 + std::chrono::seconds(600);
      j->users = std::move(users);
      double cpu0 = bench::cpu_seconds();
      auto before = dir_stats(sys, dirh);
      bool finished = run_job(
          sys, j, [] {}, std::chrono::seconds(10));
      double secs = bench::seconds_since(t0);
      double cpu = bench::cpu_seconds() - cpu0;
      auto mem_after = bench::read_memory();
      auto s = dir_stats(sys, dirh);
      print_issues("activate", *j);
      if (!finished || j->failed)
        throw std::runtime_error("activating K failed: " + std::to_string(j->failed.load()) + " (" +
                                 j->first_error + ")");
      uint64_t resident = s.resident;
      std::cout << std::fixed << std::setprecision(1) << "activate k=" << j->users.size()
                << " done=" << j->done.load() << " seconds=" << secs
                << " per_s=" << std::setprecision(0) << j->done.load() / secs
                << " cpu_pct=" << 100 * cpu / secs
                << " activations=" << s.activations - before.activations
                << " resident_now=" << resident << std::endl;
      std::cout << "memory after_k " << mem_text(mem_after) << std::endl;
      if (resident > 0) {
        auto per = [&](uint64_t a, uint64_t b) {
          return (static_cast<double>(a) - static_cast<double>(b)) / static_cast<double>(resident);
        };
        std::cout << std::fixed << std::setprecision(0) << "memory per_resident_actor rss_bytes="
                  << per(mem_after.resident, mem_before.resident)
                  << " anon_bytes=" << per(mem_after.anon(), mem_before.anon())
                  << " file_bytes=" << per(mem_after.shared, mem_before.shared)
                  << " heap_used_bytes=" << per(mem_after.heap_used, mem_before.heap_used)
                  << " (over resident=" << resident << ")" << std::endl;
      }
      if (resident < j->users.size())
        std::cout << "# note: " << j->users.size() - resident
                  << " of the K actors passivated before the measurement (idle too short)"
                  << std::endl;

      // The same K users again while resident, pipelined the same way: the difference between
      // the two rates is what activation (LMDB read, decode, spawn) adds per user.
      {
        auto w = std::make_shared<job>();
        w->kind = job_kind::resolve_get;
        w->dir = dirh;
        w->window = j->window;
        w->users = j->users;
        auto w0 = clock_type::now();
        w->deadline = w0 + std::chrono::seconds(600);
        double wcpu0 = bench::cpu_seconds();
        auto wbefore = dir_stats(sys, dirh);
        bool wfinished = run_job(
            sys, w, [] {}, std::chrono::seconds(10));
        double wsecs = bench::seconds_since(w0);
        auto wafter = dir_stats(sys, dirh);
        print_issues("warm_pass", *w);
        if (!wfinished || w->failed)
          throw std::runtime_error("warm pass over K failed: " + std::to_string(w->failed.load()));
        std::cout << std::fixed << std::setprecision(1) << "warm_pass k=" << w->users.size()
                  << " done=" << w->done.load() << " seconds=" << wsecs
                  << " per_s=" << std::setprecision(0) << w->done.load() / wsecs
                  << " cpu_pct=" << 100 * (bench::cpu_seconds() - wcpu0) / wsecs
                  << " reactivations=" << wafter.activations - wbefore.activations << std::endl;
        std::cout << std::fixed << std::setprecision(2) << "activation_cost_us_per_user="
                  << 1e6 * (secs / static_cast<double>(j->done.load()) -
                            wsecs / static_cast<double>(w->done.load()))
                  << " (pipelined cold minus warm, wall time)" << std::endl;
      }

      auto waited = wait_all_passivated(sys, dirh, passivation_limit);
      auto mem_passive = bench::read_memory();
      malloc_trim(0);
      auto mem_passive_trim = bench::read_memory();
      auto end = dir_stats(sys, dirh);
      std::cout << std::fixed << std::setprecision(1) << "passivate all_after_s=" << waited
                << " resident=" << end.resident
                << " passivations=" << end.passivations - s.passivations << std::endl;
      std::cout << "memory after_passivation " << mem_text(mem_passive)
                << " | after malloc_trim(0) " << mem_text(mem_passive_trim) << std::endl;
      std::cout << std::fixed << std::setprecision(1)
                << "memory passivated_minus_before_k anon_mib="
                << bench::mib(mem_passive_trim.anon()) - bench::mib(mem_before.anon())
                << " rss_mib="
                << bench::mib(mem_passive_trim.resident) - bench::mib(mem_before.resident)
                << std::endl;
      std::cout << std::fixed << std::setprecision(1)
                << "memory registered_idle_minus_empty anon_mib="
                << bench::mib(mem_idle_pop_trim.anon()) - bench::mib(mem_empty.anon())
                << " rss_mib="
                << bench::mib(mem_idle_pop_trim.resident) - bench::mib(mem_empty.resident)
                << std::endl;
    }
    std::cout << "# load after: " << bench::load_average() << std::endl;
    eng.stop();
    return bench::stop_requested() ? 130 : 0;
  } catch (const std::exception& e) {
    std::cerr << "activation_bench: " << e.what() << std::endl;
    return 1;
  }
}
