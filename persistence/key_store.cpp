#include "persistence/key_store.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "persistence/aead.hpp"
#include "persistence/durable_file.hpp"
#include "persistence/errors.hpp"
#include "persistence/field_sealer.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/log.hpp"

namespace mext::persistence {
namespace {

std::string key_key(std::string_view person) {
  std::string k = "k/";
  k += person;
  return k;
}

std::string destroyed_key(std::string_view person) {
  std::string k = "d/";
  k += person;
  return k;
}

MDB_val as_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

// The associated data of a wrapped key: a wrapped key copied under another person's id does not
// open.
std::string wrap_context(std::string_view person) {
  std::string c = "mext-data-key";
  c += '\0';
  c += person;
  return c;
}

caf::error open_env(const std::filesystem::path& dir, size_t map_bytes, MDB_env** env,
                    MDB_dbi* dbi) {
  int rc = mdb_env_create(env);
  if (rc != 0) return lmdb_error(rc, "mdb_env_create (keys)");
  if ((rc = mdb_env_set_mapsize(*env, map_bytes)) != 0) {
    mdb_env_close(*env);
    *env = nullptr;
    return lmdb_error(rc, "mdb_env_set_mapsize (keys)");
  }
  if ((rc = mdb_env_open(*env, dir.c_str(), MDB_NOTLS, 0600)) != 0) {
    mdb_env_close(*env);
    *env = nullptr;
    return lmdb_error(rc, "mdb_env_open (keys)");
  }
  auto fail = [env](int code, const char* what) {
    mdb_env_close(*env);
    *env = nullptr;
    return lmdb_error(code, what);
  };
  MDB_txn* txn = nullptr;
  if ((rc = mdb_txn_begin(*env, nullptr, 0, &txn)) != 0) return fail(rc, "mdb_txn_begin (keys)");
  if ((rc = mdb_dbi_open(txn, nullptr, 0, dbi)) != 0) {
    mdb_txn_abort(txn);
    return fail(rc, "mdb_dbi_open (keys)");
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return fail(rc, "mdb_txn_commit (keys open)");
  return {};
}

// A master.key that is not the one the store was made with (lost, replaced, another node's)
// would seal new keys under itself while every old one fails to open: the store becomes a mix
// that no single key reads. So the store keeps a check value sealed by its master key, and
// opening refuses a key that does not open it. Stores made before the check are verified
// against their first wrapped data key, then get one.
caf::error verify_master(MDB_env* env, MDB_dbi dbi, std::string_view master) {
  static constexpr std::string_view check_key = "c/master";
  static constexpr std::string_view check_context = "mext-master-check";
  const auto refused = [] {
    return make_error(errc::forbidden,
                      "keys/master.key does not open the key store: it is not the master key "
                      "this data directory was sealed with (restore the original master.key)");
  };
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc != 0) return lmdb_error(rc, "mdb_txn_begin (master check)");
  MDB_val k = as_val(check_key), v;
  rc = mdb_get(txn, dbi, &k, &v);
  if (rc == 0) {
    bool opens = static_cast<bool>(aead_open(master, check_context, as_view(v)));
    mdb_txn_abort(txn);
    return opens ? caf::error{} : refused();
  }
  if (rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "mdb_get (master check)");
  }
  MDB_cursor* cur = nullptr;
  if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "mdb_cursor_open (master check)");
  }
  MDB_val first = as_val("k/"), value;
  rc = mdb_cursor_get(cur, &first, &value, MDB_SET_RANGE);
  mdb_cursor_close(cur);
  if (rc == 0 && as_view(first).substr(0, 2) == "k/") {
    auto person = as_view(first).substr(2);
    if (!aead_open(master, wrap_context(person), as_view(value))) {
      mdb_txn_abort(txn);
      return refused();
    }
  } else if (rc != 0 && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "mdb_cursor_get (master check)");
  }
  auto sealed = aead_seal(master, check_context, "mext master key check");
  if (!sealed) {
    mdb_txn_abort(txn);
    return sealed.error();
  }
  MDB_val sv = as_val(*sealed);
  if ((rc = mdb_put(txn, dbi, &k, &sv, 0)) != 0) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "mdb_put (master check)");
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return lmdb_error(rc, "mdb_txn_commit (master check)");
  return {};
}

// Rewrites the environment without free pages: LMDB keeps a deleted value's bytes on a free page
// until the page is reused, and a destroyed key must not linger there.
caf::error compact_in_place(const std::filesystem::path& dir, size_t map_bytes) {
  if (!std::filesystem::exists(dir / "data.mdb")) return {};
  MDB_env* env = nullptr;
  MDB_dbi dbi = 0;
  if (auto err = open_env(dir, map_bytes, &env, &dbi)) return err;
  auto tmp = dir.parent_path() / "store.compacting";
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  std::filesystem::create_directories(tmp, ec);
  if (ec) {
    mdb_env_close(env);
    return make_error(errc::storage_failed, "cannot create " + tmp.string() + ": " + ec.message());
  }
  int rc = mdb_env_copy2(env, tmp.c_str(), MDB_CP_COMPACT);
  mdb_env_close(env);
  if (rc != 0) return lmdb_error(rc, "mdb_env_copy2 (keys)");
  // mdb_env_copy2 does not sync: the copy is made durable before it replaces the only key store.
  if (auto err = fsync_file(tmp / "data.mdb")) return err;
  std::filesystem::rename(tmp / "data.mdb", dir / "data.mdb", ec);
  if (ec)
    return make_error(errc::storage_failed, "cannot place compacted key store: " + ec.message());
  if (auto err = fsync_dir(dir)) return err;
  std::filesystem::remove_all(tmp, ec);
  return {};
}

}  // namespace

caf::expected<std::unique_ptr<key_store>> key_store::open(const std::filesystem::path& keys_dir,
                                                          key_store_settings settings) {
  auto dir = keys_dir / "store";
  // A new master key beside an existing store could open none of its keys: refuse instead.
  std::error_code exists_ec;
  if (!std::filesystem::exists(keys_dir / "master.key", exists_ec) &&
      std::filesystem::exists(dir / "data.mdb", exists_ec))
    return make_error(errc::forbidden,
                      "keys/master.key is missing but the key store exists: restore the master "
                      "key this data directory was sealed with");
  auto master = load_or_create_key_file(keys_dir / "master.key", aead_key_bytes);
  if (!master) return master.error();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(errc::storage_failed, "cannot create key store: " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, ec);
  if (auto err = compact_in_place(dir, settings.map_bytes)) return err;
  std::unique_ptr<key_store> out{new key_store};
  out->settings_ = settings;
  out->master_ = std::move(*master);
  if (auto err = open_env(dir, settings.map_bytes, &out->env_, &out->dbi_)) return err;
  if (auto err = verify_master(out->env_, out->dbi_, out->master_)) return err;
  return out;
}

key_store::~key_store() {
  if (env_) mdb_env_close(env_);
  OPENSSL_cleanse(master_.data(), master_.size());
  for (auto& [id, key] : cache_) OPENSSL_cleanse(key.data(), key.size());
}

std::string key_store::wrap(std::string_view person, const data_key& key) const {
  auto box = aead_seal(master_, wrap_context(person),
                       std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  // Sealing in memory with a key of the right size only fails when OpenSSL itself is broken.
  if (!box) throw std::runtime_error("cannot wrap a data key: " + detail_of(box.error()));
  return std::move(*box);
}

caf::expected<data_key> key_store::unwrap(std::string_view person, std::string_view wrapped) const {
  auto plain = aead_open(master_, wrap_context(person), wrapped);
  if (!plain)
    return make_error(errc::corrupt_record,
                      "a data key does not open under the master key (wrong master.key?)");
  if (plain->size() != 32) return make_error(errc::corrupt_record, "a data key of wrong size");
  data_key key;
  std::copy(plain->begin(), plain->end(), key.begin());
  OPENSSL_cleanse(plain->data(), plain->size());
  return key;
}

caf::expected<key_lookup> key_store::read(std::string_view person) {
  uint64_t destroys_seen = 0;
  {
    std::shared_lock lock{cache_mutex_};
    if (auto it = cache_.find(std::string(person)); it != cache_.end())
      return key_lookup{it->second, false};
    destroys_seen = destroys_;
  }
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return lmdb_error(rc, "mdb_txn_begin (keys read)");
  auto kk = key_key(person);
  MDB_val k = as_val(kk), v;
  rc = mdb_get(txn, dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) {
    auto dk = destroyed_key(person);
    MDB_val d = as_val(dk), dv;
    int drc = mdb_get(txn, dbi_, &d, &dv);
    mdb_txn_abort(txn);
    if (drc == 0) return key_lookup{std::nullopt, true};
    if (drc != MDB_NOTFOUND) return lmdb_error(drc, "mdb_get (keys)");
    return key_lookup{};
  }
  if (rc != 0) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "mdb_get (keys)");
  }
  std::string wrapped{as_view(v)};
  mdb_txn_abort(txn);
  auto key = unwrap(person, wrapped);
  if (!key) return key.error();
  std::unique_lock lock{cache_mutex_};
  if (destroys_ != destroys_seen) return key_lookup{*key, false};
  if (cache_.size() >= settings_.cache_entries) cache_.clear();
  cache_.emplace(std::string(person), *key);
  return key_lookup{*key, false};
}

caf::expected<data_key> key_store::key_for_sealing(std::string_view person) {
  auto found = read(person);
  if (!found) return found.error();
  if (found->key) return *found->key;
  if (found->destroyed)
    return make_error(errc::forbidden, "the person was erased: nothing more is kept about them");
  std::lock_guard guard{write_mutex_};
  // Another thread may have created it while this one waited.
  found = read(person);
  if (!found) return found.error();
  if (found->key) return *found->key;
  if (found->destroyed)
    return make_error(errc::forbidden, "the person was erased: nothing more is kept about them");
  data_key key;
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    return make_error(errc::internal, "RAND_bytes failed for a data key");
  auto wrapped = wrap(person, key);
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return lmdb_error(rc, "mdb_txn_begin (keys write)");
  auto kk = key_key(person);
  MDB_val k = as_val(kk), v = as_val(wrapped);
  if ((rc = mdb_put(txn, dbi_, &k, &v, 0)) != 0) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "mdb_put (keys)");
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return lmdb_error(rc, "mdb_txn_commit (keys)");
  std::unique_lock lock{cache_mutex_};
  if (cache_.size() >= settings_.cache_entries) cache_.clear();
  cache_.emplace(std::string(person), key);
  return key;
}

caf::expected<key_lookup> key_store::key_for_opening(std::string_view person) {
  return read(person);
}

caf::error key_store::destroy(std::string_view person) {
  std::lock_guard guard{write_mutex_};
  {
    std::unique_lock lock{cache_mutex_};
    ++destroys_;
    if (auto it = cache_.find(std::string(person)); it != cache_.end()) {
      OPENSSL_cleanse(it->second.data(), it->second.size());
      cache_.erase(it);
    }
  }
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc != 0) return lmdb_error(rc, "mdb_txn_begin (keys destroy)");
  auto kk = key_key(person);
  MDB_val k = as_val(kk);
  rc = mdb_del(txn, dbi_, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "mdb_del (keys)");
  }
  auto dk = destroyed_key(person);
  MDB_val d = as_val(dk), empty{0, nullptr};
  if ((rc = mdb_put(txn, dbi_, &d, &empty, 0)) != 0) {
    mdb_txn_abort(txn);
    return lmdb_error(rc, "mdb_put (keys destroyed)");
  }
  if ((rc = mdb_txn_commit(txn)) != 0) return lmdb_error(rc, "mdb_txn_commit (keys destroy)");
  // Again after the commit: a read that started before it may have cached the key meanwhile.
  std::unique_lock lock{cache_mutex_};
  ++destroys_;
  if (auto it = cache_.find(std::string(person)); it != cache_.end()) {
    OPENSSL_cleanse(it->second.data(), it->second.size());
    cache_.erase(it);
  }
  return {};
}

caf::expected<bool> key_store::is_destroyed(std::string_view person) {
  auto found = read(person);
  if (!found) return found.error();
  return found->destroyed;
}

caf::error key_store::copy_compact(const std::filesystem::path& dest_dir) const {
  // (The caller syncs the copy: backups fsync every file they hold before naming themselves.)
  std::error_code ec;
  std::filesystem::create_directories(dest_dir, ec);
  if (ec) return make_error(errc::storage_failed, "cannot create " + dest_dir.string());
  int rc = mdb_env_copy2(env_, dest_dir.c_str(), MDB_CP_COMPACT);
  if (rc != 0) return lmdb_error(rc, "mdb_env_copy2 (keys)");
  return {};
}

}  // namespace mext::persistence
