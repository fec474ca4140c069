// commit_bench: durable writes/s through the store actor (group commit) against raw LMDB.
//
// For each batch size B the same R records (200-byte values, event-log keys "entity \0 be64 seq"
// for W entities) are written, fsync on, each side in a fresh directory:
//   raw_append  straight LMDB C API, B puts per transaction, keys in global order with
//               MDB_APPEND: the best LMDB can do (one growing edge of the tree).
//   raw_put     straight LMDB C API, B puts per transaction, the keys in the order the writers
//               produce them (entity i % W, its next seq): the same tree shape as the actor side,
//               so this is the like-for-like baseline.
//   store       lmdb_store::commit called in a loop with B write_items (no actors): what the
//               store's own validation (mdb_get per event) and bookkeeping cost.
//   actor       W writer actors, each with a window of outstanding commits, through the store
//               actor (batch_max = B): group commit as the entities use it.
//   actor_nostale  the same writers through a copy of the store actor that skips stale flush
//               messages (see gen_store_behavior): what that one change would be worth.
// The ratios actor/raw_put and actor/raw_append come from runs in the same process, one after
// the other, repeated --reps times (the medians are compared).

#include <lmdb.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bench/bench_util.hpp"
#include "persistence/errors.hpp"
#include "persistence/log.hpp"
#include "persistence/store_actor.hpp"

using namespace mext;
using namespace mext::persistence;
using mext::bench::clock_type;

namespace {

using go_atom = caf::atom_constant<caf::atom("benchgo")>;

struct workload {
  uint64_t batch = 100;      // records per transaction on the raw and store sides
  uint64_t batch_max = 100;  // the store actor's commit_settings.batch_max (default: batch)
  uint64_t records = 0;      // R, the same for every side of one batch size
  uint64_t writers = 1000;   // W entities, one writer actor each
  uint64_t window = 1;       // outstanding commits per writer actor
  double max_seconds = 60;   // a side stops early past this, and says so
  size_t map_bytes = 0;      // same LMDB map size on every side: no map growth while measuring
  std::string value;         // the 200-byte value of every record
  std::vector<std::string> entities;
};

struct result {
  std::string side;
  uint64_t records = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  uint64_t txns = 0;
  uint64_t max_batch = 0;
  // Inside mdb_txn_commit (raw: the write-out and fsync only) or inside lmdb_store::commit (store,
  // actor: the puts and validation as well), so the two are not the same measure.
  double commit_seconds = 0;
  uint64_t failed = 0;
  bool cut_short = false;

  double per_second() const { return seconds > 0 ? static_cast<double>(records) / seconds : 0; }
  double mean_batch() const { return txns ? static_cast<double>(records) / txns : 0; }
};

void put_be64(char* out, uint64_t v) {
  for (int i = 7; i >= 0; --i) *out++ = static_cast<char>((v >> (i * 8)) & 0xff);
}

// The record i of a side that writes in the writers' order: entity i % W, its next seq.
void round_robin(const workload& w, uint64_t i, size_t& entity, uint64_t& seq) {
  entity = i % w.writers;
  seq = i / w.writers + 1;
}

int check(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string{what} + ": " + mdb_strerror(rc));
  return rc;
}

// Straight LMDB, the same environment flags as lmdb_store (MDB_NOTLS, fsync on).
result run_raw(const std::filesystem::path& dir, const workload& w, bool append) {
  result r;
  r.side = append ? "raw_append" : "raw_put";
  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "mdb_env_create");
  check(mdb_env_set_maxdbs(env, 8), "mdb_env_set_maxdbs");
  check(mdb_env_set_mapsize(env, w.map_bytes), "mdb_env_set_mapsize");
  check(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600), "mdb_env_open");
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
  check(mdb_dbi_open(txn, "events", MDB_CREATE, &dbi), "mdb_dbi_open");
  check(mdb_txn_commit(txn), "mdb_txn_commit");

  // Appending needs keys in global order: entity-major over the sorted ids.
  std::vector<std::string> sorted = w.entities;
  std::sort(sorted.begin(), sorted.end());
  uint64_t per_entity = (w.records + w.writers - 1) / w.writers;
  size_t id_len = w.entities.front().size();
  std::string key(id_len + 9, '\0');
  MDB_val v{w.value.size(), const_cast<char*>(w.value.data())};

  auto t0 = clock_type::now();
  double cpu0 = bench::cpu_seconds();
  uint64_t i = 0;
  while (i < w.records) {
    if (bench::stop_requested() || bench::seconds_since(t0) > w.max_seconds) {
      r.cut_short = true;
      break;
    }
    check(mdb_txn_begin(env, nullptr, 0, &txn), "mdb_txn_begin");
    uint64_t in_txn = 0;
    for (; in_txn < w.batch && i < w.records; ++in_txn, ++i) {
      size_t e;
      uint64_t seq;
      if (append) {
        e = i / per_entity;
        seq = i % per_entity + 1;
      } else {
        round_robin(w, i, e, seq);
      }
      const std::string& id = append ? sorted[e] : w.entities[e];
      std::memcpy(key.data(), id.data(), id_len);
      key[id_len] = '\0';
      put_be64(key.data() + id_len + 1, seq);
      MDB_val k{key.size(), key.data()};
      check(mdb_put(txn, dbi, &k, &v, append ? MDB_APPEND : 0), "mdb_put");
    }
    auto c0 = clock_type::now();
    check(mdb_txn_commit(txn), "mdb_txn_commit");
    r.commit_seconds += bench::seconds_since(c0);
    r.txns++;
    r.max_batch = std::max(r.max_batch, in_txn);
    r.records += in_txn;
  }
  r.seconds = bench::seconds_since(t0);
  r.cpu_seconds = bench::cpu_seconds() - cpu0;
  mdb_env_close(env);
  return r;
}

std::shared_ptr<lmdb_store> open_store(const std::filesystem::path& dir, const workload& w) {
  store_settings s;
  s.dir = dir;
  s.initial_map_bytes = w.map_bytes;
  auto store = lmdb_store::open(s);
  if (!store) throw std::runtime_error("lmdb_store::open: " + detail_of(store.error()));
  return std::shared_ptr<lmdb_store>(std::move(*store));
}

// lmdb_store::commit in a loop, B items a call, no actors.
result run_store(const std::filesystem::path& dir, const workload& w) {
  result r;
  r.side = "store";
  auto store = open_store(dir, w);
  std::vector<write_item> items;
  std::vector<write_item*> ptrs;
  auto t0 = clock_type::now();
  double cpu0 = bench::cpu_seconds();
  uint64_t i = 0;
  while (i < w.records) {
    if (bench::stop_requested() || bench::seconds_since(t0) > w.max_seconds) {
      r.cut_short = true;
      break;
    }
    items.clear();
    ptrs.clear();
    for (; items.size() < w.batch && i < w.records; ++i) {
      size_t e;
      uint64_t seq;
      round_robin(w, i, e, seq);
      items.emplace_back().append_event(w.entities[e], seq, w.value);
    }
    for (auto& item : items) ptrs.push_back(&item);
    auto c0 = clock_type::now();
    auto errors = store->commit(ptrs);
    r.commit_seconds += bench::seconds_since(c0);
    for (auto& err : errors)
      if (err) r.failed++;
    r.txns++;
    r.max_batch = std::max<uint64_t>(r.max_batch, items.size());
    r.records += items.size();
  }
  r.seconds = bench::seconds_since(t0);
  r.cpu_seconds = bench::cpu_seconds() - cpu0;
  return r;
}

// What the writer actors share: the budget of records and the count of writers still running.
struct actor_run {
  store_actor store;
  const workload* w = nullptr;
  clock_type::time_point deadline;
  std::atomic<uint64_t> issued{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<bool> cut_short{false};
  std::mutex m;
  std::condition_variable cv;
  uint64_t writers_left = 0;
};

struct writer_state {
  std::string entity;
  uint64_t seq = 0;
  uint64_t outstanding = 0;
  bool finished = false;
  std::shared_ptr<actor_run> run;
};

using writer_self = caf::stateful_actor<writer_state>*;

void finish(writer_self self) {
  auto& st = self->state;
  if (st.finished || st.outstanding != 0) return;
  st.finished = true;
  auto run = std::move(st.run);
  {
    std::lock_guard<std::mutex> lock{run->m};
    if (--run->writers_left == 0) run->cv.notify_all();
  }
  self->quit();
}

// Sends one more commit if the budget allows; false when this writer is done issuing.
bool issue(writer_self self) {
  auto& st = self->state;
  auto& run = *st.run;
  if (bench::stop_requested() || clock_type::now() > run.deadline) {
    run.cut_short = true;
    return false;
  }
  if (run.issued.fetch_add(1, std::memory_order_relaxed) >= run.w->records) return false;
  write_item item;
  item.append_event(st.entity, ++st.seq, run.w->value);
  st.outstanding++;
  self->request(run.store, caf::infinite, commit_atom::value, std::move(item))
      .then(
          [self](uint64_t) {
            auto& s = self->state;
            s.outstanding--;
            s.run->acked.fetch_add(1, std::memory_order_relaxed);
            if (!issue(self)) finish(self);
          },
          [self](caf::error&) {
            auto& s = self->state;
            s.outstanding--;
            s.run->failed.fetch_add(1, std::memory_order_relaxed);
            if (!issue(self)) finish(self);
          });
  return true;
}

caf::behavior writer(writer_self self, std::shared_ptr<actor_run> run, std::string entity) {
  self->state.entity = std::move(entity);
  self->state.run = std::move(run);
  return {
      [self](go_atom) {
        uint64_t window = self->state.run->w->window;
        for (uint64_t k = 0; k < window; ++k)
          if (!issue(self)) break;
        finish(self);  // only when nothing was issued
      },
  };
}

// -- what-if: the store actor without stale flushes --------------------------------------------
// A copy of persistence/store_actor.cpp with one change, measured here to show what it is worth
// (the engine's store actor is not changed by this bench). In the engine, a commit that fills
// batch_max flushes at once, but the flush_atom that the batch's first item scheduled stays in the
// mailbox; when it arrives it commits whatever few items have come in since: a short batch. Here
// such a flush_atom is counted as stale and skipped (messages to self arrive in order).

struct gen_pending {
  write_item item;
  caf::typed_response_promise<uint64_t> promise;
};

struct gen_store_state {
  std::shared_ptr<lmdb_store> store;
  commit_settings settings;
  std::vector<gen_pending> pending;
  bool flush_scheduled = false;
  uint64_t stale_flushes = 0;
  store_stats stats;
};

using gen_store_self = store_actor::stateful_pointer<gen_store_state>;

void gen_flush(gen_store_self self) {
  auto& st = self->state;
  if (st.pending.empty()) return;
  std::vector<gen_pending> batch;
  batch.swap(st.pending);
  std::vector<write_item*> items;
  items.reserve(batch.size());
  for (auto& p : batch) items.push_back(&p.item);
  auto started = clock_type::now();
  auto results = st.store->commit(items);
  st.stats.commits++;
  st.stats.commit_us_total += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - started).count());
  st.stats.max_batch = std::max<uint64_t>(st.stats.max_batch, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results[i]) {
      st.stats.failed_items++;
      batch[i].promise.deliver(std::move(results[i]));
    } else {
      st.stats.items++;
      batch[i].promise.deliver(st.stats.commits);
    }
  }
}

store_actor::behavior_type gen_store_behavior(gen_store_self self,
                                              std::shared_ptr<lmdb_store> store,
                                              commit_settings settings) {
  self->state.store = std::move(store);
  self->state.settings = settings;
  self->set_exit_handler([=](caf::exit_msg& msg) {
    gen_flush(self);
    self->quit(msg.reason);
  });
  return {
      [=](commit_atom, write_item& item) -> caf::typed_response_promise<uint64_t> {
        auto& st = self->state;
        auto rp = self->make_response_promise<uint64_t>();
        st.pending.push_back({std::move(item), rp});
        if (st.pending.size() >= st.settings.batch_max) {
          if (st.flush_scheduled) {
            st.stale_flushes++;
            st.flush_scheduled = false;
          }
          gen_flush(self);
        } else if (!st.flush_scheduled) {
          st.flush_scheduled = true;
          self->send(self, flush_atom::value);
        }
        return rp;
      },
      [=](flush_atom) {
        auto& st = self->state;
        if (st.stale_flushes > 0) {
          st.stale_flushes--;
          return;
        }
        st.flush_scheduled = false;
        gen_flush(self);
      },
      [=](stats_atom) { return self->state.stats; },
  };
}

store_stats ask_stats(caf::scoped_actor& self, const store_actor& sa) {
  store_stats out;
  self->request(sa, std::chrono::seconds(30), stats_atom::value)
      .receive(
          [&](store_stats s) { out = s; },
          [&](caf::error& e) { throw std::runtime_error("store stats: " + caf::to_string(e)); });
  return out;
}

result run_actor(caf::actor_system& sys, const std::filesystem::path& dir, const workload& w,
                 bool what_if) {
  result r;
  r.side = what_if ? "actor_nostale" : "actor";
  auto store = open_store(dir, w);
  commit_settings cs;
  cs.batch_max = w.batch_max;
  cs.max_wait = std::chrono::microseconds{0};
  auto sa = what_if ? sys.spawn<caf::detached>(gen_store_behavior, store, cs)
                    : spawn_store_actor(sys, store, cs);
  auto run = std::make_shared<actor_run>();
  run->store = sa;
  run->w = &w;
  run->writers_left = w.writers;
  std::vector<caf::actor> writers;
  writers.reserve(w.writers);
  for (uint64_t i = 0; i < w.writers; ++i) writers.push_back(sys.spawn(writer, run, w.entities[i]));

  caf::scoped_actor self{sys};
  auto before = ask_stats(self, sa);
  auto t0 = clock_type::now();
  double cpu0 = bench::cpu_seconds();
  run->deadline = t0 + std::chrono::duration_cast<clock_type::duration>(
                           std::chrono::duration<double>(w.max_seconds));
  for (auto& wr : writers) caf::anon_send(wr, go_atom::value);
  writers.clear();
  {
    std::unique_lock<std::mutex> lock{run->m};
    // Past the deadline writers stop issuing and only wait for their last answers.
    auto limit = run->deadline + std::chrono::seconds(30);
    run->cv.wait_until(lock, limit, [&] { return run->writers_left == 0; });
    if (run->writers_left != 0) throw std::runtime_error("writers did not finish");
  }
  r.seconds = bench::seconds_since(t0);
  r.cpu_seconds = bench::cpu_seconds() - cpu0;
  auto after = ask_stats(self, sa);
  r.records = run->acked.load();
  r.failed = run->failed.load();
  r.cut_short = run->cut_short.load();
  r.txns = after.commits - before.commits;
  r.max_batch = after.max_batch;
  r.commit_seconds = static_cast<double>(after.commit_us_total - before.commit_us_total) / 1e6;
  self->monitor(sa);
  self->send_exit(sa, caf::exit_reason::user_shutdown);
  self->receive([](const caf::down_msg&) {});
  return r;
}

void print_result(uint64_t batch, int rep, const result& r) {
  std::cout << std::fixed << std::setprecision(1) << "B=" << batch << " rep=" << rep
            << " side=" << r.side << " records=" << r.records << " seconds=" << std::setprecision(3)
            << r.seconds << " writes_per_s=" << std::setprecision(0) << r.per_second()
            << " txns=" << r.txns << " mean_batch=" << std::setprecision(1) << r.mean_batch()
            << " max_batch=" << r.max_batch << " commit_ms_per_txn=" << std::setprecision(3)
            << (r.txns ? r.commit_seconds * 1e3 / static_cast<double>(r.txns) : 0)
            << " commit_share=" << std::setprecision(2)
            << (r.seconds > 0 ? r.commit_seconds / r.seconds : 0)
            << " cpu_pct=" << std::setprecision(0)
            << (r.seconds > 0 ? 100 * r.cpu_seconds / r.seconds : 0) << " failed=" << r.failed
            << (r.cut_short ? " CUT_SHORT" : "") << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::install_stop_handler();
    bench::options opts(argc, argv,
                        {"batches", "records", "writers", "window", "reps", "value-bytes",
                         "max-seconds", "map-mb", "tmp", "sides", "batch-max"});
    // The store logs one info line per map growth and per open; keep stdout for the figures.
    log::set_min_level(log::level::warn);

    auto batches = opts.u64_list("batches", {100, 1000});
    uint64_t reps = std::clamp<uint64_t>(opts.u64("reps", 3), 1, 20);
    std::string sides =
        "," + opts.str("sides", "raw_append,raw_put,store,actor,actor_nostale") + ",";
    auto has_side = [&](const std::string& side) {
      return sides.find("," + side + ",") != std::string::npos;
    };
    auto base = bench::temp_base(opts);

    std::cout << "# commit_bench: durable writes/s, store actor (group commit) vs raw LMDB\n"
              << "# command: " << bench::command_line(argc, argv) << "\n"
              << "# machine: " << bench::machine_line() << "\n"
              << "# temp dirs under: " << base.string() << " (fresh one per side, removed after)\n"
              << "# fsync on (no MDB_NOSYNC), env flags MDB_NOTLS on every side" << std::endl;

    caf::actor_system_config cfg;
    caf::actor_system sys{cfg};

    struct summary {
      uint64_t batch;
      std::map<std::string, std::vector<result>> by_side;
    };
    std::vector<summary> all;

    std::mt19937_64 rng{42};
    for (uint64_t batch : batches) {
      workload w;
      w.batch = std::max<uint64_t>(batch, 1);
      w.writers = std::max<uint64_t>(opts.u64("writers", 1000), 1);
      // Enough outstanding commits that a full batch waits while the previous one commits.
      w.window =
          opts.u64("window", std::max<uint64_t>(1, (2 * w.batch + w.writers - 1) / w.writers));
      w.batch_max = std::max<uint64_t>(opts.u64("batch-max", w.batch), 1);
      w.records = opts.u64("records", w.batch >= 1000 ? 400000 : 150000);
      w.max_seconds = static_cast<double>(opts.u64("max-seconds", 60));
      w.map_bytes = static_cast<size_t>(opts.u64("map-mb", 4096)) << 20;
      w.value.resize(opts.u64("value-bytes", 200));
      for (auto& c : w.value) c = static_cast<char>(rng());
      // Ids as new_id("usr") makes them: 36 characters, random, so entities spread over the tree.
      w.entities.clear();
      for (uint64_t i = 0; i < w.writers; ++i) {
        char hex[33];
        std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                      static_cast<unsigned long long>(rng()));
        w.entities.push_back(std::string{"usr_"} + hex);
      }
      std::cout << "# B=" << w.batch << " records=" << w.records << " writers=" << w.writers
                << " window=" << w.window << " (outstanding " << w.writers * w.window
                << ") store batch_max=" << w.batch_max << " value_bytes=" << w.value.size()
                << " map_mb=" << (w.map_bytes >> 20) << std::endl;
      summary s{w.batch, {}};
      for (uint64_t rep = 1; rep <= reps && !bench::stop_requested(); ++rep) {
        for (std::string side : {"raw_append", "raw_put", "store", "actor", "actor_nostale"}) {
          if (!has_side(side) || bench::stop_requested()) continue;
          bench::temp_dir dir{base};
          result r;
          if (side == "raw_append")
            r = run_raw(dir.path(), w, true);
          else if (side == "raw_put")
            r = run_raw(dir.path(), w, false);
          else if (side == "store")
            r = run_store(dir.path(), w);
          else
            r = run_actor(sys, dir.path(), w, side == "actor_nostale");
          print_result(w.batch, static_cast<int>(rep), r);
          s.by_side[side].push_back(r);
        }
      }
      all.push_back(std::move(s));
    }

    std::cout << "\n## commit_bench summary (medians over " << reps << " reps)\n"
              << "| B | side | writes/s | mean batch | commit ms/txn | CPU % | / raw_put | "
                 "/ raw_append |\n"
              << "|---|---|---|---|---|---|---|---|\n";
    for (auto& s : all) {
      auto med = [&](const std::string& side, auto f) {
        std::vector<double> v;
        for (auto& r : s.by_side[side]) v.push_back(f(r));
        return v.empty() ? 0.0 : bench::median(v);
      };
      auto rate = [](const result& r) { return r.per_second(); };
      double raw_put = med("raw_put", rate);
      double raw_append = med("raw_append", rate);
      for (std::string side : {"raw_append", "raw_put", "store", "actor", "actor_nostale"}) {
        if (s.by_side[side].empty()) continue;
        double per_s = med(side, rate);
        std::cout << std::fixed << "| " << s.batch << " | " << side << " | " << std::setprecision(0)
                  << per_s << " | " << std::setprecision(1)
                  << med(side, [](const result& r) { return r.mean_batch(); }) << " | "
                  << std::setprecision(3)
                  << med(side,
                         [](const result& r) {
                           return r.txns ? r.commit_seconds * 1e3 / static_cast<double>(r.txns)
                                         : 0.0;
                         })
                  << " | " << std::setprecision(0)
                  << med(side,
                         [](const result& r) {
                           return r.seconds > 0 ? 100 * r.cpu_seconds / r.seconds : 0.0;
                         })
                  << " | " << std::setprecision(3);
        if (raw_put > 0) std::cout << per_s / raw_put;
        std::cout << " | ";
        if (raw_append > 0) std::cout << per_s / raw_append;
        std::cout << " |\n";
      }
      // Per-rep ratios too: the sides of one rep ran one after the other.
      for (std::string side : {"actor", "actor_nostale"}) {
        for (std::string base_side : {"raw_put", "raw_append"}) {
          auto& a = s.by_side[side];
          auto& b = s.by_side[base_side];
          if (a.empty() || b.empty()) continue;
          std::cout << "# B=" << s.batch << " group commit " << side << "/" << base_side
                    << " per rep:";
          for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
            std::cout << ' ' << std::setprecision(3)
                      << (b[i].per_second() > 0 ? a[i].per_second() / b[i].per_second() : 0);
          std::cout << "\n";
        }
      }
    }
    std::cout << "# load after: " << bench::load_average() << std::endl;
    return bench::stop_requested() ? 130 : 0;
  } catch (const std::exception& e) {
    std::cerr << "commit_bench: " << e.what() << std::endl;
    return 1;
  }
}
