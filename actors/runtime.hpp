#pragma once
// What every entity actor shares: the store to restore from, the writer to commit through, the
// personal-field seam, and the engine's settings for entities.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <caf/actor.hpp>

#include "persistence/field_sealer.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/store_actor.hpp"

namespace mext::actors {

struct entity_settings {
  // A snapshot is written after this many events; it bounds replay on activation.
  uint32_t snapshot_every = 100;
  // An actor with no message for this long is passivated (its memory freed; state stays on disk).
  std::chrono::milliseconds idle_passivate{60000};
  // Argon2id cost (OWASP: m = 19 MiB, t = 2, p = 1). Tests may lower it; mextd never does.
  uint32_t argon2_memory_kib = 19 * 1024;
  uint32_t argon2_iterations = 2;
};

struct runtime {
  std::shared_ptr<persistence::lmdb_store> store;
  persistence::store_actor writer;
  std::shared_ptr<persistence::field_sealer> sealer;
  entity_settings settings;
  // The directory, untyped here to keep this header light; directory.hpp has its interface.
  caf::actor directory;
  // Bumped by booth and exhibition actors whenever a change that a public catalog list shows is
  // applied; the HTTP edge serves cached lists only while it has not moved (http/response_cache).
  std::atomic<uint64_t> catalog_generation{0};
};

// Live figures of one resident actor, written by the actor and read by the directory.
struct resident_stats {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> mailbox{0};
  std::atomic<uint64_t> last_snapshot_seq{0};
  std::atomic<uint64_t> seq{0};
  int64_t resident_since_ms = 0;
};

int64_t now_ms();

// Index "wake/<entity id>": an entity that has work left for other entities (a change they have
// not confirmed) keeps this key, committed with that change; the engine activates every entity
// listed here when it starts, so the work resumes after a crash without waiting for a visitor.
inline constexpr std::string_view wake_prefix = "wake/";
inline std::string wake_key(std::string_view entity_id) {
  return std::string{wake_prefix} + std::string{entity_id};
}

}  // namespace mext::actors
