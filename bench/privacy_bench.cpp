// Privacy benchmark (issue 5), on the real engine and LMDB:
//
//  1. What sealing costs the durable write rate: chat posts (each text sealed under its author's
//     key with AES-256-GCM) committed through the store actor, with the keyed sealer against the
//     plain envelope, in alternating rounds of one run; the ratio is quoted.
//  2. Export and erasure time for a person whose data is spread over 10, 100 and 1,000 actors
//     (their user, agenda, connection log, and N direct rooms with one message of theirs each):
//     from the request to its durable completion, p50 and p99 over the repetitions.
//
//   privacy_bench [--tmp DIR] [--posts N] [--writers N] [--rounds N] [--holders 10,100,1000]
//                 [--reps N]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/ask.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/engine.hpp"
#include "actors/entity_kinds.hpp"
#include "actors/privacy_actor.hpp"
#include "actors/user_actor.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

using namespace mext;
using namespace mext::actors;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::filesystem::path tmp = "var/bench-tmp";
  int posts = 20000;
  int writers = 64;
  int rounds = 3;
  std::vector<int> holders = {10, 100, 1000};
  int reps = 10;
};

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos < s.size()) {
    auto comma = s.find(',', pos);
    out.push_back(std::atoi(s.substr(pos, comma - pos).c_str()));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--tmp")
      o.tmp = v;
    else if (k == "--posts")
      o.posts = std::atoi(v.c_str());
    else if (k == "--writers")
      o.writers = std::atoi(v.c_str());
    else if (k == "--rounds")
      o.rounds = std::atoi(v.c_str());
    else if (k == "--holders")
      o.holders = parse_list(v);
    else if (k == "--reps")
      o.reps = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      std::exit(2);
    }
  }
  return o;
}

struct config : caf::actor_system_config {
  config() { add_all_message_types(*this); }
};

struct bench_engine {
  std::filesystem::path dir;
  std::unique_ptr<engine> eng;
  bench_engine(caf::actor_system& sys, const std::filesystem::path& base, bool sealed) {
    dir = base / ("privacy-" + random_hex(6));
    std::filesystem::create_directories(dir);
    engine_options opts;
    opts.data_dir = dir;
    opts.seal_personal_data = sealed;
    opts.entities.argon2_memory_kib = 64;
    opts.entities.argon2_iterations = 1;
    auto e = engine::start(sys, opts, all_entity_kinds());
    if (!e) {
      std::fprintf(stderr, "engine: %s\n", detail_of(e.error()).c_str());
      std::exit(1);
    }
    eng = std::move(*e);
  }
  ~bench_engine() {
    eng->stop();
    eng.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

std::string make_user(caf::actor_system& sys, engine& eng, const std::string& email) {
  caf::scoped_actor self{sys};
  auto id = new_id("usr");
  auto user = entity<user_actor>(self, eng.directory(), id, true);
  registration r{email, "a long enough password", "Bench", "Person", {}, now_ms()};
  if (!user || !ask<user_view>(self, *user, register_atom::value, r)) {
    std::fprintf(stderr, "cannot register a user\n");
    std::exit(1);
  }
  return id;
}

// A direct room between a and b; answers its handle.
chat_room_actor make_room(caf::scoped_actor& self, engine& eng, const std::string& a,
                          const std::string& b) {
  auto id = direct_room_id(a, b);
  auto room = entity<chat_room_actor>(self, eng.directory(), id, true);
  room_spec spec{"direct", "", "", {a, b}};
  if (!room ||
      !ask<room_view>(self, *room, create_atom::value, caller{a, false, {}}, spec, now_ms())) {
    std::fprintf(stderr, "cannot create a room\n");
    std::exit(1);
  }
  return *room;
}

void post_loop(caf::event_based_actor* self, chat_room_actor room, std::string author, int left,
               std::atomic<int>* done, std::atomic<int>* failed) {
  if (left == 0) {
    ++*done;
    self->quit();
    return;
  }
  post_spec p{std::string(200, 'x'), "", "c" + std::to_string(left)};
  self->request(room, std::chrono::seconds(60), post_atom::value, caller{author, false, {}}, p,
                now_ms())
      .then([=](posted&) { post_loop(self, room, author, left - 1, done, failed); },
            [=](caf::error&) {
              ++*failed;
              post_loop(self, room, author, left - 1, done, failed);
            });
}

// Durable posts per second: `writers` rooms, each with its own author, posting concurrently.
double post_rate(caf::actor_system& sys, const std::filesystem::path& base, bool sealed,
                 const options& o) {
  bench_engine be{sys, base, sealed};
  caf::scoped_actor self{sys};
  std::vector<std::pair<chat_room_actor, std::string>> rooms;
  for (int i = 0; i < o.writers; ++i) {
    auto a = make_user(sys, *be.eng, "w" + std::to_string(i) + "@bench.invalid");
    auto b = new_id("usr");
    rooms.emplace_back(make_room(self, *be.eng, a, b), a);
  }
  const int per_writer = std::max(1, o.posts / o.writers);
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  auto start = clock_type::now();
  // One writer actor per room, each posting its next message when the last one is durable: the
  // store actor sees up to `writers` posts at once and commits them in groups.
  for (auto& [room, author] : rooms) sys.spawn(post_loop, room, author, per_writer, &done, &failed);
  while (done.load() < static_cast<int>(rooms.size()))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  double secs = std::chrono::duration<double>(clock_type::now() - start).count();
  if (failed > 0) std::fprintf(stderr, "%d posts failed\n", failed.load());
  return per_writer * static_cast<double>(rooms.size()) / secs;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(std::min<double>(v.size() - 1, p * (v.size() - 1) + 0.5));
  return v[i];
}

// The time from a request to its completion, polling the request every 200 µs.
double time_request(caf::actor_system& sys, const privacy_actor& privacy, const std::string& kind,
                    const std::string& subject) {
  caf::scoped_actor self{sys};
  auto start = clock_type::now();
  auto v = ask<privacy_request_view>(self, privacy, submit_atom::value, kind, subject, subject);
  if (!v) {
    std::fprintf(stderr, "submit: %s\n", detail_of(v.error()).c_str());
    std::exit(1);
  }
  for (;;) {
    auto now = ask<privacy_request_view>(self, privacy, get_atom::value, v->request_id);
    if (now && (now->status == "completed" || now->status == "failed")) {
      if (now->status == "failed") std::fprintf(stderr, "failed: %s\n", now->failure.c_str());
      return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void saga_times(caf::actor_system& sys, const std::filesystem::path& base, const options& o) {
  std::printf("\n## Export and erasure of one person, by actors holding their data\n");
  std::printf("%-8s %-8s %5s %10s %10s %10s\n", "actors", "kind", "reps", "p50_ms", "p99_ms",
              "max_ms");
  for (int n : o.holders) {
    bench_engine be{sys, base, true};
    privacy_settings ps;
    ps.archive_dir = be.dir / "exports";
    ps.ledger_path = be.dir / "ledger" / "erasures";
    ps.render_archive = [](const privacy_request_view&,
                           const std::vector<personal_record>& r) -> caf::expected<std::string> {
      std::string out;
      for (auto& rec : r)
        for (auto& [k, v] : rec.fields) out += rec.category + " " + k + "=" + v + "\n";
      return out;
    };
    auto privacy = spawn_privacy_actor(sys, be.eng->rt(), ps);
    std::vector<double> exports, erasures;
    caf::scoped_actor self{sys};
    for (int rep = 0; rep < o.reps; ++rep) {
      auto person = make_user(sys, *be.eng, "p" + std::to_string(rep) + "@bench.invalid");
      // user + agenda + connection log are 3 of the n holders; the rest are rooms.
      for (int i = 0; i < std::max(0, n - 3); ++i) {
        auto room = make_room(self, *be.eng, person, new_id("usr"));
        post_spec p{"a message of the person", "", "m"};
        if (!ask<posted>(self, room, post_atom::value, caller{person, false, {}}, p, now_ms())) {
          std::fprintf(stderr, "post failed\n");
          std::exit(1);
        }
      }
      exports.push_back(time_request(sys, privacy, "export", person));
      erasures.push_back(time_request(sys, privacy, "erasure", person));
    }
    self->send_exit(privacy, caf::exit_reason::user_shutdown);
    for (auto& [kind, v] : {std::pair{"export", exports}, std::pair{"erasure", erasures}})
      std::printf("%-8d %-8s %5zu %10.1f %10.1f %10.1f\n", n, kind, v.size(), percentile(v, 0.5),
                  percentile(v, 0.99), *std::max_element(v.begin(), v.end()));
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  log::set_min_level(log::level::warn);
  std::filesystem::create_directories(o.tmp);
  config cfg;
  caf::actor_system sys{cfg};
  std::printf("# privacy_bench: posts %d, writers %d, rounds %d, reps %d\n", o.posts, o.writers,
              o.rounds, o.reps);
  std::printf("\n## Durable chat posts/s, sealed (AES-256-GCM per author) against plain\n");
  std::printf("%-6s %12s %12s %8s\n", "round", "plain/s", "sealed/s", "ratio");
  std::vector<double> ratios;
  for (int r = 0; r < o.rounds; ++r) {
    // Alternating order, so that a drift of the machine does not favour one side.
    double plain = 0, sealed = 0;
    if (r % 2 == 0) {
      plain = post_rate(sys, o.tmp, false, o);
      sealed = post_rate(sys, o.tmp, true, o);
    } else {
      sealed = post_rate(sys, o.tmp, true, o);
      plain = post_rate(sys, o.tmp, false, o);
    }
    ratios.push_back(sealed / plain);
    std::printf("%-6d %12.0f %12.0f %8.3f\n", r + 1, plain, sealed, sealed / plain);
    std::fflush(stdout);
  }
  std::printf("median ratio sealed/plain: %.3f\n", percentile(ratios, 0.5));
  saga_times(sys, o.tmp, o);
  return 0;
}
