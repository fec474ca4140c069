#pragma once
// privacy_actor: GDPR export (Art. 15/20) and erasure (Art. 17) as durable sagas.
//
// A request is accepted only once its record is durable ("privacy/req/<id>" in db::indexes,
// schemas/privacy.capnp). Its saga then runs from that record alone, so a crash at any step
// resumes at the next start: every step is idempotent, and holders already done are skipped
// (their step keys "privacy/step/<request>\0<holder>" are written as each answers).
//
// The holders of a person are their user, agenda and connection log, plus every actor in the
// holder index (holder.hpp), plus what lives outside actors (sessions, files) through
// privacy_settings::local. Each holder is asked with a timeout and a bounded number of attempts;
// one that keeps failing marks the request failed with its id and the error.
//
// Erasure: end the person's sessions; every holder erases; delete the person's export archives;
// destroy the person's data key (field_sealer::forget); append the id to the erasure ledger
// (replayed when a backup is restored); clear the holder index. The request record stays as the
// receipt: ids and counts only.
//
// Export: gather every holder's records, render them (privacy_settings::render_archive, JSON at
// the edge), seal the archive for the person (AES-GCM, the request id as associated data) and
// write it to <archive dir>/<request id>.sealed. Archives are deleted after archive_retention.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/holder.hpp"
#include "actors/runtime.hpp"
#include "persistence/atoms.hpp"

namespace mext::actors {

// A request as clients and administrators see it: ids, times and counts, never personal data.
struct privacy_request_view {
  std::string request_id;
  std::string kind;  // "export" | "erasure"
  std::string subject_id;
  std::string requested_by;
  std::string status;  // "pending" | "running" | "completed" | "failed"
  int64_t created_at_ms = 0;
  int64_t completed_at_ms = 0;  // 0 while not finished
  std::string failure;
  uint32_t holders_done = 0;
  uint32_t holders_total = 0;
  uint64_t records_erased = 0;
  uint64_t archive_bytes = 0;
  int64_t archive_expires_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, privacy_request_view& x) {
  return f(caf::meta::type_name("mext.privacy_request_view"), x.request_id, x.kind, x.subject_id,
           x.requested_by, x.status, x.created_at_ms, x.completed_at_ms, x.failure, x.holders_done,
           x.holders_total, x.records_erased, x.archive_bytes, x.archive_expires_at_ms);
}

// What erasing local data takes: the ops to commit (with the saga's last step) and how many
// records they remove.
struct local_erasure {
  persistence::write_item item;
  uint64_t records = 0;
};

// Personal data kept outside the actors (login sessions, uploaded files, spooled notices),
// exported and erased by the saga through these functions. They run on the privacy actor's
// thread; what is in LMDB they only read, and return the ops that erase it.
struct local_holder {
  std::string name;
  std::function<caf::expected<std::vector<personal_record>>(const std::string& person)> export_of;
  std::function<caf::expected<local_erasure>(const std::string& person)> erase;
};

struct privacy_settings {
  // Where sealed export archives are written; created when missing.
  std::filesystem::path archive_dir;
  // The erasure ledger: one line "<ms> <person id>" per erasure, fsynced; kept apart from the
  // backups and replayed on restore.
  std::filesystem::path ledger_path;
  std::chrono::milliseconds holder_timeout{std::chrono::seconds(10)};
  uint32_t holder_attempts = 3;
  // Holders asked at once by one request.
  uint32_t parallel_holders = 16;
  // A finished export archive is deleted this long after it was written.
  std::chrono::milliseconds archive_retention{std::chrono::hours(72)};
  // Time between two purges of expired archives.
  std::chrono::milliseconds purge_interval{std::chrono::hours(1)};
  // Renders the export document; the request (ids) and every record gathered.
  std::function<caf::expected<std::string>(const privacy_request_view&,
                                           const std::vector<personal_record>&)>
      render_archive;
  // Ends every session of the person at once; calls `done` (on any thread) when durable.
  std::function<void(const std::string& person, std::function<void(caf::error)> done)> end_sessions;
  std::vector<local_holder> local;
  // The clock; tests inject one.
  std::function<int64_t()> clock;
  // Tests only: answering true for a step name stops the actor right there, as a crash would.
  std::function<bool(std::string_view step)> crash_at;
};

using privacy_actor = caf::typed_actor<
    // kind ("export" | "erasure"), subject, requested_by: the request, once durable.
    caf::replies_to<submit_atom, std::string, std::string, std::string>::with<privacy_request_view>,
    caf::replies_to<get_atom, std::string>::with<privacy_request_view>,
    // Requests after the given id (empty: from the start), at most `limit`, in id order.
    caf::replies_to<list_atom, std::string, uint32_t>::with<std::vector<privacy_request_view>>,
    // The opened export document of a completed request.
    caf::replies_to<archive_atom, std::string>::with<std::string>,
    // Purges expired archives now (also run every purge_interval).
    caf::replies_to<purge_atom>::with<uint64_t>,
    // Internal: resume a saga, the end of a step run elsewhere (error text or ""), the timer.
    caf::reacts_to<resume_atom, std::string>, caf::reacts_to<step_atom, std::string, std::string>,
    caf::reacts_to<tick_atom>>;

// Spawns the actor; it resumes every request left pending or running by an earlier run.
privacy_actor spawn_privacy_actor(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                  privacy_settings settings);

// Writes a pending erasure request for `subject` straight into `store`, for work done while no
// engine runs (a restore replaying the erasure ledger): the next start's privacy actor runs it.
caf::expected<std::string> enqueue_erasure(persistence::lmdb_store& store,
                                           persistence::field_sealer& sealer,
                                           const std::string& subject,
                                           const std::string& requested_by, int64_t at_ms);

// The ids of every person in the erasure ledger (to replay after a restore).
caf::expected<std::vector<std::string>> read_erasure_ledger(const std::filesystem::path& path);

}  // namespace mext::actors
