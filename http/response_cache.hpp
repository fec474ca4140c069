#pragma once
// Serialized answers of hot, public, read-only lists (the booths of an exhibition), served
// without asking an actor while the catalog generation they were built at is still current.
//
// The generation is runtime::catalog_generation, bumped by the booth and exhibition actors when
// a change that a list shows is applied. A filler reads the generation *before* asking the
// actors, so an entry can only be older than what it is stamped with, never newer: a change that
// lands during the fill leaves the entry stale at once.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "http/server.hpp"

namespace mext::http {

struct response_cache_settings {
  // Entries kept at most; when full, the cache starts over. 0 turns caching off.
  std::size_t max_entries = 4096;
};

class response_cache {
 public:
  explicit response_cache(response_cache_settings settings = {}) : settings_(settings) {}
  response_cache(const response_cache&) = delete;
  response_cache& operator=(const response_cache&) = delete;

  // The answer stored under key at exactly this generation, if any.
  std::optional<response> find(const std::string& key, uint64_t generation) const;
  // Keeps r under key, stamped with the generation read before it was built. Entries of older
  // generations are dropped: they can never be served again.
  void store(const std::string& key, uint64_t generation, const response& r);

  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  std::size_t size() const;

 private:
  response_cache_settings settings_;
  mutable std::shared_mutex mutex_;
  uint64_t generation_ = 0;  // the generation every entry was built at
  std::unordered_map<std::string, response> entries_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

}  // namespace mext::http
