#pragma once
// backup_actor: hot backups of the store on a schedule, kept N deep; and the offline restore.
//
// A backup is a folder <backup dir>/backup-<UTC time>/ holding compact copies (mdb_env_copy2 with
// MDB_CP_COMPACT) of the main store (lmdb/) and of the data keys (keys/store/), and a MEXT-BACKUP
// file naming its format and time. It is written under a temporary name and renamed when whole.
// The master key is not in it: a backup alone is ciphertext (keep a copy of keys/master.key
// apart, offline).
//
// Backups that forget: restoring puts the backup's store and keys in place, then replays the
// erasure ledger (<data dir>/ledger/erasures, kept apart from the backups): every person erased
// since has their key destroyed again at once, and an erasure request queued that the next start
// runs through every holder. Nothing of an erased person comes back.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/runtime.hpp"
#include "persistence/atoms.hpp"

namespace mext::actors {

struct backup_settings {
  std::filesystem::path dir;
  // Time between two scheduled backups; zero schedules none (backups on request only).
  std::chrono::milliseconds interval{std::chrono::hours(24)};
  // Backups kept; older ones are deleted after each new one.
  uint32_t keep = 7;
  std::function<int64_t()> clock;
};

struct backup_info {
  std::string name;  // the folder's name under the backup dir
  int64_t created_at_ms = 0;
  uint64_t bytes = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backup_info& x) {
  return f(caf::meta::type_name("mext.backup_info"), x.name, x.created_at_ms, x.bytes);
}

using backup_actor = caf::typed_actor<caf::replies_to<backup_atom>::with<backup_info>,
                                      caf::replies_to<list_atom>::with<std::vector<backup_info>>,
                                      caf::reacts_to<tick_atom>>;

// Spawned detached: a copy reads the whole store and must not hold a scheduler thread.
backup_actor spawn_backup_actor(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                backup_settings settings);

// One backup now (the actor's work, callable directly).
caf::expected<backup_info> make_backup(runtime& rt, const backup_settings& settings);

// The backups in `dir`, oldest first.
caf::expected<std::vector<backup_info>> list_backups(const std::filesystem::path& dir);

struct restore_report {
  // Where the data replaced by the restore was moved (delete it once satisfied).
  std::filesystem::path moved_aside;
  // People in the erasure ledger found again in the backup, erased again.
  uint64_t erasures_replayed = 0;
};

// Restores `backup` into `data_dir`, which no running mextd may use. The current store and key
// store are moved aside, not deleted.
caf::expected<restore_report> restore_backup(const std::filesystem::path& backup,
                                             const std::filesystem::path& data_dir);

}  // namespace mext::actors
