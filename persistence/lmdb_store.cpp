#include "persistence/lmdb_store.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>

#include <sys/statvfs.h>

#include "persistence/errors.hpp"
#include "persistence/log.hpp"

namespace mext::persistence {
namespace {

constexpr const char* db_names[4] = {"events", "snapshots", "indexes", "settings"};

// LMDB reports a short write as EIO ("filesystem full?"); with less than this left on the data
// directory's filesystem, that EIO is taken for a full disk (507) rather than a failing one (503).
constexpr uint64_t full_filesystem_below_bytes = 1 << 20;

// Bytes an unprivileged writer may still use on the filesystem holding `dir`; absent when
// statvfs fails (then nothing is claimed about the disk).
std::optional<uint64_t> available_bytes(const std::filesystem::path& dir) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

void put_be64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (i * 8)) & 0xff);
}

uint64_t get_be64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

MDB_val as_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// A read transaction that aborts itself; holds the resize lock shared while open.
class read_txn {
 public:
  read_txn(MDB_env* env, std::shared_mutex& m) : lock_(m) {
    rc_ = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_);
  }
  ~read_txn() {
    if (txn_) mdb_txn_abort(txn_);
  }
  int rc() const { return rc_; }
  MDB_txn* get() const { return txn_; }

 private:
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
  int rc_ = 0;
};

class cursor {
 public:
  cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &c_); }
  ~cursor() {
    if (c_) mdb_cursor_close(c_);
  }
  int rc() const { return rc_; }
  MDB_cursor* get() const { return c_; }

 private:
  MDB_cursor* c_ = nullptr;
  int rc_ = 0;
};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

caf::error lmdb_error(int rc, std::string_view what) {
  std::string detail{what};
  detail += ": ";
  detail += mdb_strerror(rc);
  switch (rc) {
    case MDB_MAP_FULL:
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
      return make_error(errc::storage_full, std::move(detail));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
      return make_error(errc::corrupt_record, std::move(detail));
    case MDB_KEYEXIST:
      return make_error(errc::conflict, std::move(detail));
    case MDB_NOTFOUND:
      return make_error(errc::not_found, std::move(detail));
    default:
      return make_error(errc::storage_failed, std::move(detail));
  }
}

void write_item::append_event(std::string entity, uint64_t seq, std::string record) {
  ops.push_back(
      {write_op::kind::append_event, db::events, std::move(entity), std::move(record), seq});
}
void write_item::put_snapshot(std::string entity, uint64_t seq, std::string record) {
  ops.push_back(
      {write_op::kind::put_snapshot, db::snapshots, std::move(entity), std::move(record), seq});
}
void write_item::put(db target, std::string key, std::string value) {
  ops.push_back({write_op::kind::put, target, std::move(key), std::move(value), 0});
}
void write_item::put_unique(db target, std::string key, std::string value) {
  ops.push_back({write_op::kind::put_unique, target, std::move(key), std::move(value), 0});
}
void write_item::erase(db target, std::string key) {
  ops.push_back({write_op::kind::erase, target, std::move(key), {}, 0});
}
void write_item::truncate_events(std::string entity, uint64_t up_to_seq) {
  ops.push_back({write_op::kind::truncate_events, db::events, std::move(entity), {}, up_to_seq});
}
void write_item::erase_entity(std::string entity) {
  ops.push_back({write_op::kind::erase_entity, db::events, std::move(entity), {}, 0});
}
size_t write_item::bytes() const {
  size_t n = 0;
  for (auto& op : ops) n += op.key.size() + op.value.size() + 16;
  return n;
}

uint64_t entity_history::last_seq() const {
  if (!events.empty()) return events.back().seq;
  return snapshot ? snapshot->seq : 0;
}

std::string lmdb_store::event_key(std::string_view entity, uint64_t seq) {
  std::string key{entity};
  key += '\0';
  put_be64(key, seq);
  return key;
}

lmdb_store::lmdb_store(store_settings settings) : settings_(std::move(settings)) {}

lmdb_store::~lmdb_store() {
  if (env_) mdb_env_close(env_);
}

caf::expected<std::unique_ptr<lmdb_store>> lmdb_store::open(const store_settings& settings) {
  std::error_code ec;
  std::filesystem::create_directories(settings.dir, ec);
  if (ec) return make_error(errc::storage_failed, "cannot create data directory: " + ec.message());
  std::unique_ptr<lmdb_store> store{new lmdb_store(settings)};
  int rc = mdb_env_create(&store->env_);
  if (rc != 0) return lmdb_error(rc, "mdb_env_create");
  if ((rc = mdb_env_set_maxdbs(store->env_, 8)) != 0) return lmdb_error(rc, "mdb_env_set_maxdbs");
  if ((rc = mdb_env_set_maxreaders(store->env_, settings.max_readers)) != 0)
    return lmdb_error(rc, "mdb_env_set_maxreaders");
  // A data file that already grew beyond the initial size keeps its size.
  if ((rc = mdb_env_set_mapsize(store->env_, settings.initial_map_bytes)) != 0)
    return lmdb_error(rc, "mdb_env_set_mapsize");
  unsigned flags = MDB_NOTLS;
  if (settings.no_sync) flags |= MDB_NOSYNC;
  rc = mdb_env_open(store->env_, settings.dir.c_str(), flags, 0600);
  if (rc != 0) return lmdb_error(rc, "mdb_env_open");
  MDB_envinfo info;
  if ((rc = mdb_env_info(store->env_, &info)) != 0) return lmdb_error(rc, "mdb_env_info");
  store->map_bytes_ = info.me_mapsize;

  MDB_txn* txn = nullptr;
  if ((rc = mdb_txn_begin(store->env_, nullptr, 0, &txn)) != 0)
    return lmdb_error(rc, "mdb_txn_begin");
  for (int i = 0; i < 4; ++i) {
    rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &store->dbis_[i]);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return lmdb_error(rc, "mdb_dbi_open");
    }
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return lmdb_error(rc, "mdb_txn_commit (open)");
  log::info("store.open").field("map_bytes", static_cast<uint64_t>(store->map_bytes_));
  return store;
}

caf::error lmdb_store::grow_map() {
  if (map_bytes_ >= settings_.max_map_bytes)
    return make_error(errc::storage_full, "the LMDB map reached its maximum size (map-max-mb)");
  size_t next = std::min(map_bytes_ * 2, settings_.max_map_bytes);
  std::unique_lock<std::shared_mutex> lock{resize_mutex_};
  int rc = mdb_env_set_mapsize(env_, next);
  if (rc != 0) return lmdb_error(rc, "mdb_env_set_mapsize");
  log::info("store.map_grown")
      .field("from_bytes", static_cast<uint64_t>(map_bytes_))
      .field("to_bytes", static_cast<uint64_t>(next));
  map_bytes_ = next;
  return {};
}

caf::error lmdb_store::validate(MDB_txn* txn, const write_op& op) {
  MDB_dbi dbi = dbis_[static_cast<int>(op.target)];
  if (op.op == write_op::kind::append_event) {
    auto key = event_key(op.key, op.seq);
    MDB_val k = as_val(key), v;
    int rc = mdb_get(txn, dbis_[static_cast<int>(db::events)], &k, &v);
    if (rc == 0)
      return make_error(errc::conflict,
                        "event " + std::to_string(op.seq) + " of " + op.key + " already exists");
    if (rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_get (validate event)");
  } else if (op.op == write_op::kind::put_unique) {
    MDB_val k = as_val(op.key), v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0 && as_view(v) != op.value) return make_error(errc::conflict, "unique key taken");
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_get (validate unique)");
  }
  return {};
}

caf::error lmdb_store::apply(MDB_txn* txn, const write_op& op) {
  MDB_dbi dbi = dbis_[static_cast<int>(op.target)];
  MDB_dbi events = dbis_[static_cast<int>(db::events)];
  int rc = 0;
  switch (op.op) {
    case write_op::kind::append_event: {
      auto key = event_key(op.key, op.seq);
      MDB_val k = as_val(key), v = as_val(op.value);
      rc = mdb_put(txn, events, &k, &v, 0);
      if (rc != 0) return lmdb_error(rc, "mdb_put (event)");
      return {};
    }
    case write_op::kind::put_snapshot: {
      std::string value;
      value.reserve(8 + op.value.size());
      put_be64(value, op.seq);
      value += op.value;
      MDB_val k = as_val(op.key), v = as_val(value);
      rc = mdb_put(txn, dbis_[static_cast<int>(db::snapshots)], &k, &v, 0);
      if (rc != 0) return lmdb_error(rc, "mdb_put (snapshot)");
      return {};
    }
    case write_op::kind::put:
    case write_op::kind::put_unique: {
      MDB_val k = as_val(op.key), v = as_val(op.value);
      rc = mdb_put(txn, dbi, &k, &v, 0);
      if (rc != 0) return lmdb_error(rc, "mdb_put");
      return {};
    }
    case write_op::kind::erase: {
      MDB_val k = as_val(op.key);
      rc = mdb_del(txn, dbi, &k, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_del");
      return {};
    }
    case write_op::kind::truncate_events:
    case write_op::kind::erase_entity: {
      // Collect first, delete after: deleting under a cursor walk has subtle positioning rules.
      std::vector<std::string> doomed;
      {
        cursor c{txn, events};
        if (c.rc() != 0) return lmdb_error(c.rc(), "mdb_cursor_open");
        auto first = event_key(op.key, 0);
        MDB_val k = as_val(first), v;
        std::string prefix{op.key};
        prefix += '\0';
        bool all = op.op == write_op::kind::erase_entity;
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
        while (rc == 0) {
          auto key = as_view(k);
          if (!starts_with(key, prefix) || key.size() != prefix.size() + 8) break;
          uint64_t seq =
              get_be64(reinterpret_cast<const unsigned char*>(key.data()) + prefix.size());
          if (!all && seq > op.seq) break;
          doomed.emplace_back(key);
          rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
        }
        if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_cursor_get (truncate)");
      }
      for (auto& key : doomed) {
        MDB_val k = as_val(key);
        if ((rc = mdb_del(txn, events, &k, nullptr)) != 0) return lmdb_error(rc, "mdb_del (event)");
      }
      if (op.op == write_op::kind::erase_entity) {
        MDB_val sk = as_val(op.key);
        rc = mdb_del(txn, dbis_[static_cast<int>(db::snapshots)], &sk, nullptr);
        if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_del (snapshot)");
      }
      return {};
    }
  }
  return make_error(errc::internal, "unknown write op");
}

std::vector<caf::error> lmdb_store::commit(std::vector<write_item*>& items) {
  std::vector<caf::error> results(items.size());
  for (;;) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
      // Another process grew the map: adopt its size and try again.
      std::unique_lock<std::shared_mutex> lock{resize_mutex_};
      mdb_env_set_mapsize(env_, 0);
      continue;
    }
    if (rc != 0) {
      auto err = lmdb_error(rc, "mdb_txn_begin");
      for (auto& r : results) r = err;
      return results;
    }
    caf::error fatal;
    for (size_t i = 0; i < items.size() && !fatal; ++i) {
      results[i] = caf::error{};
      for (auto& op : items[i]->ops) {
        if (auto err = validate(txn, op)) {
          if (code_of(err) == errc::conflict)
            results[i] = std::move(err);
          else
            fatal = std::move(err);
          break;
        }
      }
      if (results[i] || fatal) continue;
      for (auto& op : items[i]->ops) {
        if (auto err = apply(txn, op)) {
          fatal = std::move(err);
          break;
        }
      }
    }
    bool at_commit = false;
    if (!fatal) {
      rc = mdb_txn_commit(txn);
      if (rc == 0) return results;
      at_commit = true;
      fatal = lmdb_error(rc, "mdb_txn_commit");
      if (rc == EIO) {
        auto left = available_bytes(settings_.dir);
        if (left && *left < full_filesystem_below_bytes)
          fatal = make_error(errc::storage_full,
                             "the filesystem holding the data directory is full (" +
                                 std::to_string(*left) + " bytes left): " + detail_of(fatal));
      }
    } else {
      mdb_txn_abort(txn);
    }
    if (code_of(fatal) == errc::storage_full && (!at_commit || rc == MDB_MAP_FULL)) {
      // The map is full, not the disk: grow it and run the whole batch again.
      if (auto err = grow_map())
        fatal = std::move(err);
      else
        continue;
    }
    log::error("store.commit_failed")
        .field("error", detail_of(fatal))
        .field("items", static_cast<uint64_t>(items.size()));
    for (auto& r : results) r = fatal;
    return results;
  }
}

caf::expected<entity_history> lmdb_store::load(std::string_view entity) const {
  read_txn txn{env_, resize_mutex_};
  if (txn.rc() != 0) return lmdb_error(txn.rc(), "mdb_txn_begin (read)");
  entity_history out;
  MDB_val k = as_val(entity), v;
  int rc = mdb_get(txn.get(), dbis_[static_cast<int>(db::snapshots)], &k, &v);
  if (rc == 0) {
    if (v.mv_size < 8)
      return make_error(errc::corrupt_record,
                        "snapshot of " + std::string{entity} + " is truncated");
    auto p = static_cast<const unsigned char*>(v.mv_data);
    out.snapshot = stored_snapshot{
        get_be64(p), std::string(reinterpret_cast<const char*>(p + 8), v.mv_size - 8)};
  } else if (rc != MDB_NOTFOUND) {
    return lmdb_error(rc, "mdb_get (snapshot)");
  }
  uint64_t from = out.snapshot ? out.snapshot->seq + 1 : 0;
  cursor c{txn.get(), dbis_[static_cast<int>(db::events)]};
  if (c.rc() != 0) return lmdb_error(c.rc(), "mdb_cursor_open");
  auto first = event_key(entity, from);
  std::string prefix{entity};
  prefix += '\0';
  k = as_val(first);
  rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
  uint64_t expected = from;
  while (rc == 0) {
    auto key = as_view(k);
    if (!starts_with(key, prefix)) break;
    if (key.size() != prefix.size() + 8)
      return make_error(errc::corrupt_record,
                        "event key of " + std::string{entity} + " is malformed");
    uint64_t seq = get_be64(reinterpret_cast<const unsigned char*>(key.data()) + prefix.size());
    if (expected != 0 && seq != expected)
      return make_error(errc::corrupt_record, "event " + std::to_string(expected) + " of " +
                                                  std::string{entity} + " is missing");
    out.events.push_back({seq, std::string{as_view(v)}});
    expected = seq + 1;
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_cursor_get (events)");
  return out;
}

caf::expected<bool> lmdb_store::exists(std::string_view entity) const {
  read_txn txn{env_, resize_mutex_};
  if (txn.rc() != 0) return lmdb_error(txn.rc(), "mdb_txn_begin (read)");
  MDB_val k = as_val(entity), v;
  int rc = mdb_get(txn.get(), dbis_[static_cast<int>(db::snapshots)], &k, &v);
  if (rc == 0) return true;
  if (rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_get (snapshot)");
  cursor c{txn.get(), dbis_[static_cast<int>(db::events)]};
  if (c.rc() != 0) return lmdb_error(c.rc(), "mdb_cursor_open");
  auto first = event_key(entity, 0);
  k = as_val(first);
  rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdb_error(rc, "mdb_cursor_get (exists)");
  std::string prefix{entity};
  prefix += '\0';
  return starts_with(as_view(k), prefix);
}

caf::expected<std::optional<std::string>> lmdb_store::get(db target, std::string_view key) const {
  read_txn txn{env_, resize_mutex_};
  if (txn.rc() != 0) return lmdb_error(txn.rc(), "mdb_txn_begin (read)");
  MDB_val k = as_val(key), v;
  int rc = mdb_get(txn.get(), dbis_[static_cast<int>(target)], &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>{};
  if (rc != 0) return lmdb_error(rc, "mdb_get");
  return std::optional<std::string>{std::string{as_view(v)}};
}

caf::expected<std::vector<std::pair<std::string, std::string>>> lmdb_store::scan(
    db target, std::string_view prefix, size_t limit, std::string_view after) const {
  read_txn txn{env_, resize_mutex_};
  if (txn.rc() != 0) return lmdb_error(txn.rc(), "mdb_txn_begin (read)");
  cursor c{txn.get(), dbis_[static_cast<int>(target)]};
  if (c.rc() != 0) return lmdb_error(c.rc(), "mdb_cursor_open");
  std::vector<std::pair<std::string, std::string>> out;
  std::string start{after.empty() ? prefix : after};
  MDB_val k = as_val(start), v;
  // LMDB refuses an empty key: an empty prefix starts at the first key.
  int rc = mdb_cursor_get(c.get(), &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
  if (rc == 0 && !after.empty() && as_view(k) == after)
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
  while (rc == 0 && out.size() < limit) {
    auto key = as_view(k);
    if (!starts_with(key, prefix)) break;
    out.emplace_back(std::string{key}, std::string{as_view(v)});
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_cursor_get (scan)");
  return out;
}

caf::expected<std::vector<std::pair<std::string, std::string>>> lmdb_store::scan_reverse(
    db target, std::string_view prefix, size_t limit, std::string_view before) const {
  read_txn txn{env_, resize_mutex_};
  if (txn.rc() != 0) return lmdb_error(txn.rc(), "mdb_txn_begin (read)");
  cursor c{txn.get(), dbis_[static_cast<int>(target)]};
  if (c.rc() != 0) return lmdb_error(c.rc(), "mdb_cursor_open");
  std::vector<std::pair<std::string, std::string>> out;
  // Start at the first key past the range (or at `before`) and step back from it.
  std::string bound{before};
  if (bound.empty()) {
    bound = std::string{prefix};
    while (!bound.empty() && static_cast<unsigned char>(bound.back()) == 0xff) bound.pop_back();
    if (!bound.empty())
      bound.back() = static_cast<char>(static_cast<unsigned char>(bound.back()) + 1);
  }
  MDB_val k, v;
  int rc;
  if (bound.empty()) {
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_LAST);
  } else {
    k = as_val(bound);
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
    if (rc == 0)
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
      rc = mdb_cursor_get(c.get(), &k, &v, MDB_LAST);
  }
  while (rc == 0 && out.size() < limit) {
    auto key = as_view(k);
    if (!starts_with(key, prefix)) break;
    out.emplace_back(std::string{key}, std::string{as_view(v)});
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_PREV);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_cursor_get (scan_reverse)");
  return out;
}

caf::expected<std::vector<std::string>> lmdb_store::entities(std::string_view prefix, size_t limit,
                                                             std::string_view after) const {
  read_txn txn{env_, resize_mutex_};
  if (txn.rc() != 0) return lmdb_error(txn.rc(), "mdb_txn_begin (read)");
  // Ids from both databases, merged in order: snapshots name entities that have one, the event
  // log names the rest. Each side yields at most `limit`, so the merge holds the first `limit`.
  std::vector<std::string> ids;
  for (db d : {db::snapshots, db::events}) {
    cursor c{txn.get(), dbis_[static_cast<int>(d)]};
    if (c.rc() != 0) return lmdb_error(c.rc(), "mdb_cursor_open");
    // Past `after` and every event of it: ids hold no byte below '\x01'.
    std::string start = after.empty() ? std::string{prefix} : std::string{after} + '\x01';
    if (start < prefix) start = std::string{prefix};
    MDB_val k = as_val(start), v;
    int rc = mdb_cursor_get(c.get(), &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE);
    size_t taken = 0;
    while (rc == 0 && taken < limit) {
      auto key = as_view(k);
      if (!starts_with(key, prefix)) break;
      std::string id{d == db::events ? key.substr(0, key.find('\0')) : key};
      ids.push_back(id);
      ++taken;
      if (d == db::events) {
        // Skip the rest of this entity's events.
        std::string next = id;
        next += '\x01';
        k = as_val(next);
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_RANGE);
      } else {
        rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT);
      }
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_error(rc, "mdb_cursor_get (entities)");
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() > limit) ids.resize(limit);
  return ids;
}

caf::error lmdb_store::copy_compact(const std::filesystem::path& dest_dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dest_dir, ec);
  if (ec)
    return make_error(errc::storage_failed, "cannot create backup directory: " + ec.message());
  std::shared_lock<std::shared_mutex> lock{resize_mutex_};
  int rc = mdb_env_copy2(env_, dest_dir.c_str(), MDB_CP_COMPACT);
  if (rc != 0) return lmdb_error(rc, "mdb_env_copy2");
  return {};
}

caf::expected<store_info> lmdb_store::info() const {
  MDB_envinfo ei;
  int rc = mdb_env_info(env_, &ei);
  if (rc != 0) return lmdb_error(rc, "mdb_env_info");
  MDB_stat st;
  if ((rc = mdb_env_stat(env_, &st)) != 0) return lmdb_error(rc, "mdb_env_stat");
  store_info out;
  out.map_bytes = ei.me_mapsize;
  out.used_bytes = (ei.me_last_pgno + 1) * static_cast<size_t>(st.ms_psize);
  out.last_txn = ei.me_last_txnid;
  read_txn txn{env_, resize_mutex_};
  if (txn.rc() != 0) return lmdb_error(txn.rc(), "mdb_txn_begin (read)");
  MDB_stat ds;
  if ((rc = mdb_stat(txn.get(), dbis_[static_cast<int>(db::events)], &ds)) != 0)
    return lmdb_error(rc, "mdb_stat");
  out.events = ds.ms_entries;
  if ((rc = mdb_stat(txn.get(), dbis_[static_cast<int>(db::snapshots)], &ds)) != 0)
    return lmdb_error(rc, "mdb_stat");
  out.snapshots = ds.ms_entries;
  return out;
}

}  // namespace mext::persistence
