#pragma once
// The engine's one LMDB environment: event log, snapshots, indexes and settings.
//
// Writes arrive as write_items (the ops of one writer, applied all or nothing) and are committed
// many at a time in one transaction by the store actor (group commit). Reads run on the caller's
// thread in short read transactions (MDB_NOTLS), so activating an actor never waits for a commit.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>

#include <lmdb.h>

namespace mext::persistence {

// The named databases of the environment.
enum class db : uint8_t {
  events = 0,     // entity id \0 big-endian seq -> framed event record
  snapshots = 1,  // entity id -> big-endian seq, framed snapshot record
  indexes = 2,    // "<index name>/<key>" -> value (email -> user, person -> holder actors, ...)
  settings = 3,   // engine settings and markers
};

struct write_op {
  enum class kind : uint8_t {
    append_event = 0,     // key = entity id; fails the item with conflict if (entity, seq) exists
    put_snapshot = 1,     // key = entity id
    put = 2,              // target, key -> value
    put_unique = 3,       // like put; fails the item with conflict if key holds another value
    erase = 4,            // target, key (absent is fine)
    truncate_events = 5,  // key = entity id; deletes its events with seq <= seq
    erase_entity = 6,     // key = entity id; deletes all its events and its snapshot
  };
  kind op = kind::put;
  db target = db::indexes;
  std::string key;
  std::string value;
  uint64_t seq = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_op& x) {
  return f(caf::meta::type_name("mext.write_op"), x.op, x.target, x.key, x.value, x.seq);
}

// The ops of one writer: committed together or not at all.
struct write_item {
  std::vector<write_op> ops;

  void append_event(std::string entity, uint64_t seq, std::string record);
  void put_snapshot(std::string entity, uint64_t seq, std::string record);
  void put(db target, std::string key, std::string value);
  void put_unique(db target, std::string key, std::string value);
  void erase(db target, std::string key);
  void truncate_events(std::string entity, uint64_t up_to_seq);
  void erase_entity(std::string entity);
  size_t bytes() const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, write_item& x) {
  return f(caf::meta::type_name("mext.write_item"), x.ops);
}

struct stored_event {
  uint64_t seq = 0;
  std::string record;
};

struct stored_snapshot {
  uint64_t seq = 0;
  std::string record;
};

// What restores one entity: its latest snapshot and the events after it.
struct entity_history {
  std::optional<stored_snapshot> snapshot;
  std::vector<stored_event> events;
  bool empty() const { return !snapshot && events.empty(); }
  uint64_t last_seq() const;
};

struct store_settings {
  std::filesystem::path dir;
  size_t initial_map_bytes = size_t{64} << 20;
  // The map doubles when full, up to this size; past it writes fail with errc::storage_full.
  size_t max_map_bytes = size_t{1} << 40;
  unsigned max_readers = 1024;
  // Only for benchmarks that measure what fsync costs: never in a server.
  bool no_sync = false;
};

struct store_info {
  size_t map_bytes = 0;
  size_t used_bytes = 0;
  size_t last_txn = 0;
  uint64_t events = 0;
  uint64_t snapshots = 0;
};

class lmdb_store {
 public:
  static caf::expected<std::unique_ptr<lmdb_store>> open(const store_settings& settings);
  ~lmdb_store();
  lmdb_store(const lmdb_store&) = delete;
  lmdb_store& operator=(const lmdb_store&) = delete;

  // Commits every item in one transaction; the result holds one error (or none) per item.
  // An item that fails validation (a conflict) is skipped and the others commit. A failure of
  // the transaction itself (disk full, I/O) fails every item. Only the store actor calls this.
  std::vector<caf::error> commit(std::vector<write_item*>& items);

  caf::expected<entity_history> load(std::string_view entity) const;
  caf::expected<bool> exists(std::string_view entity) const;
  caf::expected<std::optional<std::string>> get(db target, std::string_view key) const;
  // Keys and values starting with `prefix`, in key order, at most `limit`, starting after `after`.
  caf::expected<std::vector<std::pair<std::string, std::string>>> scan(
      db target, std::string_view prefix, size_t limit, std::string_view after = {}) const;
  // The same in reverse key order: the last keys starting with `prefix`, newest first for
  // time-ordered keys, starting before `before` when it is given.
  caf::expected<std::vector<std::pair<std::string, std::string>>> scan_reverse(
      db target, std::string_view prefix, size_t limit, std::string_view before = {}) const;
  // Entity ids that have a snapshot or events and start with `prefix`, at most `limit`; with
  // `after`, only ids that sort after it (to page through them).
  caf::expected<std::vector<std::string>> entities(std::string_view prefix, size_t limit,
                                                   std::string_view after = {}) const;

  // A consistent copy of the environment without free pages (a hot backup).
  caf::error copy_compact(const std::filesystem::path& dest_dir) const;

  caf::expected<store_info> info() const;
  const store_settings& settings() const { return settings_; }

  static std::string event_key(std::string_view entity, uint64_t seq);

 private:
  explicit lmdb_store(store_settings settings);
  caf::error grow_map();
  caf::error apply(MDB_txn* txn, const write_op& op);
  caf::error validate(MDB_txn* txn, const write_op& op);

  store_settings settings_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbis_[4] = {};
  size_t map_bytes_ = 0;
  // Readers hold it shared for the length of a read transaction; growing the map needs it alone,
  // because mdb_env_set_mapsize requires that no transaction of this process is open.
  mutable std::shared_mutex resize_mutex_;
};

// Turns an LMDB return code into the engine's error: MDB_MAP_FULL and ENOSPC into storage_full,
// EIO and the like into storage_failed, MDB_CORRUPTED into corrupt_record. (A commit's EIO on a
// filesystem with under 1 MiB left is storage_full: LMDB reports a short write as EIO.)
caf::error lmdb_error(int rc, std::string_view what);

}  // namespace mext::persistence
