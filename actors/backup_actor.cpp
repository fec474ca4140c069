#include "actors/backup_actor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>

#include <caf/all.hpp>

#include "actors/agenda_actor.hpp"
#include "actors/connection_log_actor.hpp"
#include "actors/holder.hpp"
#include "actors/privacy_actor.hpp"
#include "persistence/durable_file.hpp"
#include "persistence/errors.hpp"
#include "persistence/field_sealer.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/log.hpp"

namespace mext::actors {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view backup_prefix = "backup-";
constexpr std::string_view marker_name = "MEXT-BACKUP";

// 20261129T054812.123Z: sorts by time, and reads as one.
std::string stamp_of(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

uint64_t folder_bytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) total += e.file_size(ec);
  return total;
}

caf::expected<int64_t> read_marker(const fs::path& backup) {
  std::ifstream in(backup / marker_name);
  std::string format, version, key;
  int64_t at = 0;
  if (!(in >> format >> version >> key >> at) || format != "mext-backup" || version != "1" ||
      key != "created_at_ms")
    return make_error(errc::invalid_argument,
                      backup.string() + " is not a backup of this engine (no MEXT-BACKUP 1)");
  return at;
}

// Replaces `dest` (a file) with a copy of `src`, through a temporary file and a rename.
caf::error copy_into_place(const fs::path& src, const fs::path& dest) {
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  auto tmp = dest;
  tmp += ".restoring";
  fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec)
    return make_error(errc::storage_failed, "cannot copy " + src.string() + ": " + ec.message());
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                  ec);
  if (auto err = persistence::fsync_file(tmp)) return err;
  fs::rename(tmp, dest, ec);
  if (ec)
    return make_error(errc::storage_failed, "cannot place " + dest.string() + ": " + ec.message());
  return persistence::fsync_dir(dest.parent_path());
}

struct backup_state {
  std::shared_ptr<runtime> rt;
  backup_settings settings;
  static inline const char* name = "backup_actor";
};

using backup_self = backup_actor::stateful_pointer<backup_state>;

backup_actor::behavior_type backup_behavior(backup_self self, std::shared_ptr<runtime> rt,
                                            backup_settings settings) {
  self->state.rt = std::move(rt);
  self->state.settings = std::move(settings);
  if (self->state.settings.interval.count() > 0)
    self->delayed_send(self, self->state.settings.interval, tick_atom::value);
  return {
      [self](backup_atom) -> caf::result<backup_info> {
        auto b = make_backup(*self->state.rt, self->state.settings);
        if (!b) return b.error();
        return *b;
      },
      [self](list_atom) -> caf::result<std::vector<backup_info>> {
        auto all = list_backups(self->state.settings.dir);
        if (!all) return all.error();
        return *all;
      },
      [self](tick_atom) {
        // A failed backup is logged and tried again at the next interval.
        if (auto b = make_backup(*self->state.rt, self->state.settings); !b)
          log::error("backup.failed").field("error", detail_of(b.error()));
        self->delayed_send(self, self->state.settings.interval, tick_atom::value);
      },
  };
}

}  // namespace

backup_actor spawn_backup_actor(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                backup_settings settings) {
  return sys.spawn<caf::detached>(backup_behavior, std::move(rt), std::move(settings));
}

caf::expected<backup_info> make_backup(runtime& rt, const backup_settings& settings) {
  auto now = settings.clock ? settings.clock() : now_ms();
  std::error_code ec;
  fs::create_directories(settings.dir, ec);
  if (ec)
    return make_error(errc::storage_failed, "cannot create the backup folder: " + ec.message());
  fs::permissions(settings.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  backup_info info;
  info.name = std::string(backup_prefix) + stamp_of(now);
  info.created_at_ms = now;
  auto final_dir = settings.dir / info.name;
  if (fs::exists(final_dir)) return make_error(errc::conflict, "a backup of that time exists");
  auto partial = settings.dir / (".partial-" + info.name);
  fs::remove_all(partial, ec);
  if (auto err = rt.store->copy_compact(partial / "lmdb")) return err;
  if (auto err = rt.sealer->copy_keys(partial / "keys" / "store")) return err;
  // mdb_env_copy2 does not sync: every copy is durable before the backup names itself whole
  // (and before retention deletes an older one).
  for (auto f : {partial / "lmdb" / "data.mdb", partial / "keys" / "store" / "data.mdb"})
    if (auto err = persistence::fsync_file(f)) return err;
  for (auto d : {partial / "lmdb", partial / "keys" / "store", partial / "keys", partial})
    if (auto err = persistence::fsync_dir(d)) return err;
  {
    std::ofstream marker(partial / marker_name);
    marker << "mext-backup 1\ncreated_at_ms " << now << "\n";
    if (!marker) return make_error(errc::storage_failed, "cannot write the backup marker");
  }
  if (auto err = persistence::fsync_file(partial / marker_name)) return err;
  fs::rename(partial, final_dir, ec);
  if (ec) return make_error(errc::storage_failed, "cannot name the backup: " + ec.message());
  if (auto err = persistence::fsync_dir(settings.dir)) return err;
  info.bytes = folder_bytes(final_dir);
  log::info("backup.done").field("backup", info.name).field("bytes", info.bytes);
  auto all = list_backups(settings.dir);
  if (!all) return all.error();
  if (settings.keep > 0 && all->size() > settings.keep) {
    for (size_t i = 0; i + settings.keep < all->size(); ++i) {
      fs::remove_all(settings.dir / (*all)[i].name, ec);
      if (ec)
        log::error("backup.retention_failed")
            .field("backup", (*all)[i].name)
            .field("error", ec.message());
      else
        log::info("backup.deleted").field("backup", (*all)[i].name);
    }
  }
  return info;
}

caf::expected<std::vector<backup_info>> list_backups(const fs::path& dir) {
  std::vector<backup_info> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    auto name = e.path().filename().string();
    if (!e.is_directory() || name.rfind(backup_prefix, 0) != 0) continue;
    auto at = read_marker(e.path());
    if (!at) continue;
    out.push_back({name, *at, folder_bytes(e.path())});
  }
  if (ec) return make_error(errc::storage_failed, "cannot list backups: " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const backup_info& a, const backup_info& b) { return a.name < b.name; });
  return out;
}

caf::expected<restore_report> restore_backup(const fs::path& backup, const fs::path& data_dir) {
  auto at = read_marker(backup);
  if (!at) return at.error();
  for (auto part : {fs::path("lmdb") / "data.mdb", fs::path("keys") / "store" / "data.mdb"})
    if (!fs::exists(backup / part))
      return make_error(errc::invalid_argument, "the backup lacks " + part.string());
  if (!fs::exists(data_dir / "keys" / "master.key"))
    return make_error(errc::invalid_argument,
                      "no keys/master.key in the data directory: put the master key back first");
  restore_report report;
  std::error_code ec;
  report.moved_aside = data_dir / ("pre-restore-" + stamp_of(now_ms()));
  fs::create_directories(report.moved_aside, ec);
  if (ec) return make_error(errc::storage_failed, "cannot create " + report.moved_aside.string());
  for (auto [from, to] : {std::pair{fs::path("lmdb"), fs::path("lmdb")},
                          std::pair{fs::path("keys") / "store", fs::path("keys-store")}}) {
    if (!fs::exists(data_dir / from)) continue;
    fs::rename(data_dir / from, report.moved_aside / to, ec);
    if (ec)
      return make_error(errc::storage_failed,
                        "cannot move " + from.string() + " aside: " + ec.message());
  }
  if (auto err = copy_into_place(backup / "lmdb" / "data.mdb", data_dir / "lmdb" / "data.mdb"))
    return err;
  if (auto err = copy_into_place(backup / "keys" / "store" / "data.mdb",
                                 data_dir / "keys" / "store" / "data.mdb"))
    return err;
  fs::permissions(data_dir / "lmdb", fs::perms::owner_all, fs::perm_options::replace, ec);
  fs::permissions(data_dir / "keys" / "store", fs::perms::owner_all, fs::perm_options::replace, ec);
  // The ledger is the data directory's, not the backup's: it knows every erasure up to now.
  auto ledger = read_erasure_ledger(data_dir / "ledger" / "erasures");
  if (!ledger) return ledger.error();
  auto sealer = persistence::keyed_field_sealer::open_in(data_dir);
  if (!sealer) return sealer.error();
  persistence::store_settings ss;
  ss.dir = data_dir / "lmdb";
  auto store = persistence::lmdb_store::open(ss);
  if (!store) return store.error();
  std::sort(ledger->begin(), ledger->end());
  ledger->erase(std::unique(ledger->begin(), ledger->end()), ledger->end());
  for (auto& person : *ledger) {
    if (auto err = (*sealer)->forget(person)) return err;
    // Queue the holders' part only for people the backup still knows.
    bool known = false;
    for (auto& id : {person, agenda_id(person), connection_log_id(person)}) {
      auto e = (*store)->exists(id);
      if (!e) return e.error();
      known = known || *e;
    }
    auto held = (*store)->scan(persistence::db::indexes, holder_index_prefix(person), 1);
    if (!held) return held.error();
    known = known || !held->empty();
    if (!known) continue;
    auto queued = enqueue_erasure(**store, **sealer, person, "restore", now_ms());
    if (!queued) return queued.error();
    ++report.erasures_replayed;
  }
  log::info("backup.restored")
      .field("backup", backup.filename().string())
      .field("erasures_replayed", report.erasures_replayed);
  return report;
}

}  // namespace mext::actors
