#pragma once
// key_store: one AES-256 data key per person, wrapped by the master key, in its own small LMDB
// environment under <data dir>/keys/store.
//
// The keys live apart from the main store on purpose: a backup of the main store alone reads as
// ciphertext, and destroying a person's key (erasure) cannot be undone by restoring the main store.
// A destroyed key leaves a marker, so that a destroyed person is told apart from a lost key (the
// first reads as erased, the second is corruption) and never gets a new key by accident.
//
// Writes are rare (a person's first personal value, an erasure) and synchronous: a key is durable
// before any value sealed with it is handed to the store.

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include <lmdb.h>

namespace mext::persistence {

using data_key = std::array<unsigned char, 32>;

struct key_store_settings {
  // Unwrapped keys kept in memory; past it the cache is emptied and refilled from LMDB.
  size_t cache_entries = 100000;
  size_t map_bytes = size_t{1} << 30;
};

// What a lookup finds: a key, or the marker of a destroyed one (the person was erased).
struct key_lookup {
  std::optional<data_key> key;
  bool destroyed = false;
};

class key_store {
 public:
  // Opens (creating on first start) the store and the master key <dir>/master.key (mode 0600).
  // The environment is compacted on open, so the pages of keys destroyed before are dropped.
  static caf::expected<std::unique_ptr<key_store>> open(const std::filesystem::path& keys_dir,
                                                        key_store_settings settings = {});
  ~key_store();
  key_store(const key_store&) = delete;
  key_store& operator=(const key_store&) = delete;

  // The person's key, created (durably) when they have none; an error when it was destroyed.
  caf::expected<data_key> key_for_sealing(std::string_view person);
  caf::expected<key_lookup> key_for_opening(std::string_view person);
  // Destroys the person's key durably; idempotent.
  caf::error destroy(std::string_view person);
  caf::expected<bool> is_destroyed(std::string_view person);

  // A consistent compact copy of the key store into `dest_dir` (for backups).
  caf::error copy_compact(const std::filesystem::path& dest_dir) const;

 private:
  key_store() = default;
  caf::expected<key_lookup> read(std::string_view person);
  std::string wrap(std::string_view person, const data_key& key) const;
  caf::expected<data_key> unwrap(std::string_view person, std::string_view wrapped) const;

  key_store_settings settings_;
  std::string master_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  std::shared_mutex cache_mutex_;
  std::unordered_map<std::string, data_key> cache_;
  // Bumped (under cache_mutex_) by every destroy: a read that began before one does not cache
  // what it read, so a destroyed key never comes back into the cache.
  uint64_t destroys_ = 0;
  // Serialises creation and destruction, so two first seals of one person make one key.
  std::mutex write_mutex_;
};

}  // namespace mext::persistence
