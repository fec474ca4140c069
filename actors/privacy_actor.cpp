#include "actors/privacy_actor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include <capnp/message.h>
#include <caf/all.hpp>

#include "actors/agenda_actor.hpp"
#include "actors/audit_log.hpp"
#include "actors/connection_log_actor.hpp"
#include "actors/directory.hpp"
#include "mext/schemas/privacy.capnp.h"
#include "persistence/durable_file.hpp"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

using persistence::db;

constexpr std::string_view request_prefix = "privacy/req/";
constexpr std::string_view step_prefix = "privacy/step/";
constexpr std::string_view by_subject_prefix = "privacy/subject/";

std::string request_key(std::string_view id) {
  std::string k{request_prefix};
  k += id;
  return k;
}

std::string step_key(std::string_view request, std::string_view holder) {
  std::string k{step_prefix};
  k += request;
  k += '\0';
  k += holder;
  return k;
}

std::string subject_key(std::string_view subject, std::string_view request) {
  std::string k{by_subject_prefix};
  k += subject;
  k += '\0';
  k += request;
  return k;
}

const char* status_name(schema::PrivacyStatus s) {
  switch (s) {
    case schema::PrivacyStatus::PENDING:
      return "pending";
    case schema::PrivacyStatus::RUNNING:
      return "running";
    case schema::PrivacyStatus::COMPLETED:
      return "completed";
    case schema::PrivacyStatus::FAILED:
      return "failed";
  }
  return "failed";
}

schema::PrivacyStatus status_of(std::string_view s) {
  if (s == "pending") return schema::PrivacyStatus::PENDING;
  if (s == "running") return schema::PrivacyStatus::RUNNING;
  if (s == "completed") return schema::PrivacyStatus::COMPLETED;
  return schema::PrivacyStatus::FAILED;
}

std::string encode_request(const privacy_request_view& v) {
  capnp::MallocMessageBuilder msg;
  auto r = msg.initRoot<schema::PrivacyRequest>();
  r.setRequestId(v.request_id);
  r.setKind(v.kind == "export" ? schema::PrivacyKind::EXPORT : schema::PrivacyKind::ERASURE);
  r.setSubjectId(v.subject_id);
  r.setRequestedBy(v.requested_by);
  r.setCreatedAt(v.created_at_ms);
  r.setStatus(status_of(v.status));
  r.setCompletedAt(v.completed_at_ms);
  r.setFailure(v.failure);
  r.setHoldersDone(v.holders_done);
  r.setHoldersTotal(v.holders_total);
  r.setArchiveBytes(v.archive_bytes);
  r.setArchiveExpiresAt(v.archive_expires_at_ms);
  r.setRecordsErased(v.records_erased);
  return persistence::encode_record(schema::RecordKind::PRIVACY_REQUEST, msg);
}

caf::expected<privacy_request_view> decode_request(std::string_view bytes) {
  auto rec = persistence::decode_record(bytes, schema::RecordKind::PRIVACY_REQUEST);
  if (!rec) return rec.error();
  try {
    auto r = (*rec)->root<schema::PrivacyRequest>();
    privacy_request_view v;
    v.request_id = r.getRequestId();
    v.kind = r.getKind() == schema::PrivacyKind::EXPORT ? "export" : "erasure";
    v.subject_id = r.getSubjectId();
    v.requested_by = r.getRequestedBy();
    v.created_at_ms = r.getCreatedAt();
    v.status = status_name(r.getStatus());
    v.completed_at_ms = r.getCompletedAt();
    v.failure = r.getFailure();
    v.holders_done = r.getHoldersDone();
    v.holders_total = r.getHoldersTotal();
    v.archive_bytes = r.getArchiveBytes();
    v.archive_expires_at_ms = r.getArchiveExpiresAt();
    v.records_erased = r.getRecordsErased();
    return v;
  } catch (const kj::Exception&) {
    return make_error(errc::corrupt_record, "a privacy request record does not decode");
  }
}

caf::error errno_error(const std::string& what) {
  return make_error(errc::storage_failed, what + ": " + std::strerror(errno));
}

caf::error append_ledger(const std::filesystem::path& path, int64_t at, const std::string& person) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error("cannot open the erasure ledger");
  std::string line = std::to_string(at) + " " + person + "\n";
  ssize_t n = ::write(fd, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size()) || ::fsync(fd) != 0) {
    auto err = errno_error("cannot append to the erasure ledger");
    ::close(fd);
    return err;
  }
  ::close(fd);
  // The ledger may have just been created: its name is durable once the folder is.
  return persistence::fsync_dir(path.parent_path());
}

std::filesystem::path archive_path(const privacy_settings& s, std::string_view request) {
  return s.archive_dir / (std::string(request) + ".sealed");
}

// One running saga.
struct saga {
  privacy_request_view view;
  std::deque<std::string> queue;  // holders still to ask
  uint32_t in_flight = 0;
  std::vector<personal_record> gathered;
  // Erasure: the ops of the local holders, committed with the last step.
  persistence::write_item local_ops;
  bool failed = false;
};

struct privacy_state {
  std::shared_ptr<runtime> rt;
  privacy_settings settings;
  std::unordered_map<std::string, saga> sagas;
  static inline const char* name = "privacy";
};

using privacy_self = privacy_actor::stateful_pointer<privacy_state>;

int64_t clock_of(const privacy_state& st) {
  return st.settings.clock ? st.settings.clock() : now_ms();
}

// Adds an audit entry about the request to `item` (the same transaction as the step it records).
void audit(privacy_state& st, persistence::write_item& item, const privacy_request_view& v,
           std::string action, std::string target, std::string detail) {
  audit_entry e;
  e.at_ms = clock_of(st);
  e.who = v.requested_by;
  e.whose = {v.subject_id};
  e.action = std::move(action);
  e.target = std::move(target);
  e.request_id = v.request_id;
  e.detail = std::move(detail);
  if (auto id = add_audit(item, *st.rt->sealer, e); !id)
    log::error("privacy.audit_failed")
        .field("request", v.request_id)
        .field("error", detail_of(id.error()));
}

// True when a test asked for a crash at this step: the actor stops with nothing more written.
bool crash_here(privacy_self self, std::string_view step) {
  auto& st = self->state;
  if (!st.settings.crash_at || !st.settings.crash_at(step)) return false;
  log::warn("privacy.crash_injected").field("step", std::string(step));
  self->quit(caf::exit_reason::kill);
  return true;
}

void run(privacy_self self, const std::string& id);

// Commits the request's record (with `extra` ops) and calls `then` once it is durable.
void save(privacy_self self, const privacy_request_view& v, persistence::write_item extra,
          std::function<void(caf::error)> then) {
  extra.put(db::indexes, request_key(v.request_id), encode_request(v));
  self->request(self->state.rt->writer, caf::infinite, commit_atom::value, std::move(extra))
      .then([then](uint64_t) { then({}); }, [then](caf::error& err) { then(err); });
}

void finish(privacy_self self, const std::string& id, std::string failure) {
  auto& st = self->state;
  auto it = st.sagas.find(id);
  if (it == st.sagas.end()) return;
  auto v = it->second.view;
  v.status = failure.empty() ? "completed" : "failed";
  v.failure = std::move(failure);
  v.completed_at_ms = clock_of(st);
  if (v.kind == "export" && v.status == "completed")
    v.archive_expires_at_ms =
        v.completed_at_ms + static_cast<int64_t>(st.settings.archive_retention.count());
  persistence::write_item item;
  audit(st, item, v, "privacy_" + v.status, v.request_id,
        v.kind + (v.failure.empty() ? "" : ": " + v.failure));
  // The step keys were progress only; the finished record is the receipt.
  auto steps = st.rt->store->scan(db::indexes, step_key(id, ""), 1u << 20);
  if (steps)
    for (auto& [key, value] : *steps) item.erase(db::indexes, key);
  save(self, v, std::move(item), [self, id, v](caf::error err) {
    auto& st = self->state;
    if (err) {
      log::error("privacy.save_failed").field("request", id).field("error", detail_of(err));
      st.sagas.erase(id);
      return;
    }
    log::info("privacy.finished")
        .field("request", id)
        .field("kind", v.kind)
        .field("status", v.status)
        .field("holders", static_cast<uint64_t>(v.holders_total))
        .field("records_erased", v.records_erased);
    st.sagas.erase(id);
  });
}

void fail(privacy_self self, const std::string& id, const std::string& why) {
  auto& st = self->state;
  auto it = st.sagas.find(id);
  if (it == st.sagas.end() || it->second.failed) return;
  it->second.failed = true;
  log::warn("privacy.failed").field("request", id).field("reason", why);
  finish(self, id, why);
}

// Every holder of the person: their own entities, then the holder index.
caf::expected<std::vector<std::string>> holders_of(privacy_state& st, const std::string& person) {
  std::vector<std::string> out{person, agenda_id(person), connection_log_id(person)};
  auto prefix = holder_index_prefix(person);
  std::string after;
  for (;;) {
    auto page = st.rt->store->scan(db::indexes, prefix, 1024, after);
    if (!page) return page.error();
    for (auto& [key, value] : *page) out.push_back(key.substr(prefix.size()));
    if (page->size() < 1024) break;
    after = page->back().first;
  }
  std::sort(out.begin() + 3, out.end());
  out.erase(std::unique(out.begin() + 3, out.end()), out.end());
  return out;
}

void pump(privacy_self self, const std::string& id);

// One holder answered (or was found to hold nothing): record it, then ask the next.
void holder_done(privacy_self self, const std::string& id, const std::string& holder,
                 uint64_t erased, std::vector<personal_record> records) {
  auto& st = self->state;
  auto it = st.sagas.find(id);
  if (it == st.sagas.end() || it->second.failed) return;
  auto& sg = it->second;
  if (sg.view.kind == "export") {
    for (auto& r : records) sg.gathered.push_back(std::move(r));
    --sg.in_flight;
    ++sg.view.holders_done;
    pump(self, id);
    return;
  }
  // Erasure: the step key makes the holder skipped when the saga resumes after a crash.
  persistence::write_item item;
  item.put(db::indexes, step_key(id, holder), std::to_string(erased));
  audit(st, item, sg.view, "privacy_step", holder, "erased " + std::to_string(erased) + " records");
  self->request(st.rt->writer, caf::infinite, commit_atom::value, std::move(item))
      .then(
          [self, id, erased](uint64_t) {
            auto it = self->state.sagas.find(id);
            if (it == self->state.sagas.end() || it->second.failed) return;
            --it->second.in_flight;
            ++it->second.view.holders_done;
            it->second.view.records_erased += erased;
            if (crash_here(self, "holder")) return;
            pump(self, id);
          },
          [self, id](caf::error& err) { fail(self, id, "step not recorded: " + detail_of(err)); });
}

void ask_holder(privacy_self self, const std::string& id, const std::string& holder,
                uint32_t attempt) {
  auto& st = self->state;
  auto it = st.sagas.find(id);
  if (it == st.sagas.end() || it->second.failed) return;
  const auto subject = it->second.view.subject_id;
  const bool exporting = it->second.view.kind == "export";
  auto retry = [self, id, holder, attempt](const caf::error& err) {
    auto& st = self->state;
    // A holder that went idle while asked is simply asked again; it does not count.
    bool passivated = code_of(err) == errc::passivated;
    if (passivated || attempt + 1 < st.settings.holder_attempts) {
      log::info("privacy.holder_retry")
          .field("request", id)
          .field("holder", holder)
          .field("error", detail_of(err));
      ask_holder(self, id, holder, passivated ? attempt : attempt + 1);
      return;
    }
    fail(self, id, "holder " + holder + " failed: " + detail_of(err));
  };
  auto timeout = st.settings.holder_timeout;
  self->request(caf::actor_cast<directory_actor>(st.rt->directory), timeout, resolve_atom::value,
                holder)
      .then(
          [self, id, holder, subject, exporting, timeout, retry](caf::actor& hdl) {
            auto target = caf::actor_cast<personal_data_holder>(hdl);
            if (exporting) {
              self->request(target, timeout, export_atom::value, subject)
                  .then(
                      [self, id, holder](std::vector<personal_record>& recs) {
                        holder_done(self, id, holder, 0, std::move(recs));
                      },
                      retry);
            } else {
              self->request(target, timeout, erase_atom::value, subject)
                  .then([self, id, holder](uint64_t n) { holder_done(self, id, holder, n, {}); },
                        retry);
            }
          },
          [self, id, holder, retry](caf::error& err) {
            // Nothing stored under the id (a person without an agenda yet): nothing to do.
            if (code_of(err) == errc::not_found) {
              holder_done(self, id, holder, 0, {});
              return;
            }
            retry(err);
          });
}

void after_holders(privacy_self self, const std::string& id);

// Keeps up to parallel_holders asks in flight; when the queue is empty and none is in flight,
// the saga moves past its holders.
void pump(privacy_self self, const std::string& id) {
  auto& st = self->state;
  auto it = st.sagas.find(id);
  if (it == st.sagas.end() || it->second.failed) return;
  auto& sg = it->second;
  while (!sg.queue.empty() && sg.in_flight < std::max<uint32_t>(1, st.settings.parallel_holders)) {
    auto holder = std::move(sg.queue.front());
    sg.queue.pop_front();
    ++sg.in_flight;
    ask_holder(self, id, holder, 0);
  }
  if (sg.queue.empty() && sg.in_flight == 0) after_holders(self, id);
}

void run_local(privacy_self self, const std::string& id) {
  auto& st = self->state;
  auto& sg = st.sagas.at(id);
  for (auto& local : st.settings.local) {
    if (sg.view.kind == "export") {
      if (!local.export_of) continue;
      auto recs = local.export_of(sg.view.subject_id);
      if (!recs) return fail(self, id, local.name + " failed: " + detail_of(recs.error()));
      for (auto& r : *recs) sg.gathered.push_back(std::move(r));
    } else {
      if (!local.erase) continue;
      auto n = local.erase(sg.view.subject_id);
      if (!n) return fail(self, id, local.name + " failed: " + detail_of(n.error()));
      sg.view.records_erased += n->records;
      for (auto& op : n->item.ops) sg.local_ops.ops.push_back(std::move(op));
    }
  }
}

void write_archive(privacy_self self, const std::string& id) {
  auto& st = self->state;
  auto& sg = st.sagas.at(id);
  run_local(self, id);
  if (sg.failed) return;
  if (crash_here(self, "gathered")) return;
  if (!st.settings.render_archive) return fail(self, id, "no archive renderer configured");
  auto doc = st.settings.render_archive(sg.view, sg.gathered);
  if (!doc) return fail(self, id, "archive not rendered: " + detail_of(doc.error()));
  auto sealed = st.rt->sealer->seal(sg.view.subject_id, id, *doc);
  // An erased person has no key left, and nothing is held about them: the archive that says so
  // holds no personal data and is kept in the plain envelope.
  if (!sealed && code_of(sealed.error()) == errc::forbidden && sg.gathered.empty())
    sealed = persistence::plain_field_sealer{}.seal(sg.view.subject_id, id, *doc);
  if (!sealed) return fail(self, id, "archive not sealed: " + detail_of(sealed.error()));
  std::error_code ec;
  std::filesystem::create_directories(st.settings.archive_dir, ec);
  if (ec) return fail(self, id, "archive folder: " + ec.message());
  if (auto err = persistence::write_file_durably(archive_path(st.settings, id), *sealed))
    return fail(self, id, detail_of(err));
  sg.view.archive_bytes = doc->size();
  sg.gathered.clear();
  if (crash_here(self, "archive_written")) return;
  finish(self, id, {});
}

void erase_tail(privacy_self self, const std::string& id) {
  auto& st = self->state;
  auto& sg = st.sagas.at(id);
  const auto person = sg.view.subject_id;
  run_local(self, id);
  if (sg.failed) return;
  // Export archives of the person go with them (they are sealed under the key destroyed next).
  auto exports = st.rt->store->scan(db::indexes, subject_key(person, ""), 1u << 16);
  if (!exports) return fail(self, id, detail_of(exports.error()));
  for (auto& [key, value] : *exports) {
    auto request = key.substr(subject_key(person, "").size());
    std::error_code ec;
    std::filesystem::remove(archive_path(st.settings, request), ec);
  }
  if (crash_here(self, "holders_erased")) return;
  if (auto err = st.rt->sealer->forget(person))
    return fail(self, id, "data key not destroyed: " + detail_of(err));
  if (crash_here(self, "key_destroyed")) return;
  // Written at acceptance already; again here for a request queued by a restore. Replaying an
  // id twice is harmless.
  if (!st.settings.ledger_path.empty())
    if (auto err = append_ledger(st.settings.ledger_path, clock_of(st), person))
      return fail(self, id, detail_of(err));
  if (crash_here(self, "ledger_written")) return;
  // The holder index and the export pointers of the person are the last traces of them.
  persistence::write_item item = std::move(sg.local_ops);
  sg.local_ops = {};
  auto prefix = holder_index_prefix(person);
  std::string after;
  for (;;) {
    auto page = st.rt->store->scan(db::indexes, prefix, 1024, after);
    if (!page) return fail(self, id, detail_of(page.error()));
    for (auto& [key, value] : *page) item.erase(db::indexes, key);
    if (page->size() < 1024) break;
    after = page->back().first;
  }
  for (auto& [key, value] : *exports) item.erase(db::indexes, key);
  audit(st, item, sg.view, "privacy_step", person,
        "data key destroyed, ledger written, index cleared");
  self->request(st.rt->writer, caf::infinite, commit_atom::value, std::move(item))
      .then(
          [self, id](uint64_t) {
            if (crash_here(self, "index_cleared")) return;
            finish(self, id, {});
          },
          [self, id](caf::error& err) { fail(self, id, "index not cleared: " + detail_of(err)); });
}

void after_holders(privacy_self self, const std::string& id) {
  auto& sg = self->state.sagas.at(id);
  if (sg.view.kind == "export")
    write_archive(self, id);
  else
    erase_tail(self, id);
}

void start_holders(privacy_self self, const std::string& id) {
  auto& st = self->state;
  auto& sg = st.sagas.at(id);
  auto holders = holders_of(st, sg.view.subject_id);
  if (!holders) return fail(self, id, detail_of(holders.error()));
  sg.view.holders_total = static_cast<uint32_t>(holders->size());
  sg.view.holders_done = 0;
  std::unordered_set<std::string> done;
  if (sg.view.kind == "erasure") {
    auto steps = st.rt->store->scan(db::indexes, step_key(id, ""), 1u << 20);
    if (!steps) return fail(self, id, detail_of(steps.error()));
    for (auto& [key, value] : *steps) {
      done.insert(key.substr(step_key(id, "").size()));
      sg.view.records_erased += std::strtoull(value.c_str(), nullptr, 10);
    }
  }
  for (auto& h : *holders) {
    if (done.count(h))
      ++sg.view.holders_done;
    else
      sg.queue.push_back(std::move(h));
  }
  pump(self, id);
}

// Runs (or resumes) the saga of a request already durable as pending or running.
void run(privacy_self self, const std::string& id) {
  auto& st = self->state;
  auto& sg = st.sagas.at(id);
  sg.view.status = "running";
  persistence::write_item item;
  audit(st, item, sg.view, "privacy_step", id, "running");
  save(self, sg.view, std::move(item), [self, id](caf::error err) {
    if (err) return fail(self, id, "not saved: " + detail_of(err));
    if (crash_here(self, "running")) return;
    auto& st = self->state;
    auto& sg = st.sagas.at(id);
    if (sg.view.kind == "erasure" && st.settings.end_sessions) {
      auto me = caf::actor_cast<caf::actor>(self);
      st.settings.end_sessions(sg.view.subject_id, [me, id](caf::error e) {
        caf::anon_send(me, step_atom::value, id, std::string(e ? detail_of(e) : std::string{}));
      });
      return;
    }
    start_holders(self, id);
  });
}

caf::expected<privacy_request_view> load_request(privacy_state& st, const std::string& id) {
  if (auto it = st.sagas.find(id); it != st.sagas.end()) return it->second.view;
  auto rec = st.rt->store->get(db::indexes, request_key(id));
  if (!rec) return rec.error();
  if (!*rec) return make_error(errc::not_found, "no such privacy request");
  return decode_request(**rec);
}

uint64_t purge_archives(privacy_self self) {
  auto& st = self->state;
  uint64_t purged = 0;
  auto now = clock_of(st);
  std::string after;
  for (;;) {
    auto page = st.rt->store->scan(db::indexes, request_prefix, 1024, after);
    if (!page) {
      log::error("privacy.purge_failed").field("error", detail_of(page.error()));
      return purged;
    }
    for (auto& [key, value] : *page) {
      auto v = decode_request(value);
      if (!v || v->kind != "export" || v->archive_expires_at_ms == 0 ||
          v->archive_expires_at_ms > now)
        continue;
      std::error_code ec;
      if (std::filesystem::remove(archive_path(st.settings, v->request_id), ec)) ++purged;
    }
    if (page->size() < 1024) break;
    after = page->back().first;
  }
  if (purged > 0) log::info("privacy.archives_purged").field("archives", purged);
  return purged;
}

// Makes a request durable, answers it through `done`, then runs its saga.
void accept(privacy_self self, const std::string& kind, const std::string& subject,
            const std::string& requested_by,
            std::function<void(caf::expected<privacy_request_view>)> done) {
  auto& st = self->state;
  if (kind != "export" && kind != "erasure")
    return done(make_error(errc::invalid_argument, "kind is export or erasure"));
  if (!is_id_of(subject, "usr")) return done(make_error(errc::invalid_argument, "not a user id"));
  // One erasure at a time per person: a second request answers the running one.
  for (auto& [id, sg] : st.sagas)
    if (sg.view.subject_id == subject && sg.view.kind == kind && kind == "erasure")
      return done(sg.view);
  privacy_request_view v;
  v.request_id = new_id("prq");
  v.kind = kind;
  v.subject_id = subject;
  v.requested_by = requested_by;
  v.status = "pending";
  v.created_at_ms = clock_of(st);
  // The ledger first: once an erasure is acknowledged, no restore may bring the person back,
  // even if its saga has not finished when the backup is restored.
  if (kind == "erasure" && !st.settings.ledger_path.empty())
    if (auto err = append_ledger(st.settings.ledger_path, v.created_at_ms, subject))
      return done(err);
  persistence::write_item extra;
  extra.put(db::indexes, subject_key(subject, v.request_id), std::string{});
  audit(st, extra, v, "privacy_request", v.request_id, kind);
  save(self, v, std::move(extra), [self, v, done](caf::error err) {
    if (err) return done(err);
    log::info("privacy.accepted")
        .field("request", v.request_id)
        .field("kind", v.kind)
        .field("subject", v.subject_id)
        .field("requested_by", v.requested_by);
    done(v);
    if (crash_here(self, "accepted")) return;
    self->state.sagas[v.request_id].view = v;
    run(self, v.request_id);
  });
}

privacy_actor::behavior_type privacy_behavior(privacy_self self, std::shared_ptr<runtime> rt,
                                              privacy_settings settings) {
  self->state.rt = std::move(rt);
  self->state.settings = std::move(settings);
  // Resume what an earlier run left unfinished.
  auto& st = self->state;
  std::string after;
  for (;;) {
    auto page = st.rt->store->scan(db::indexes, request_prefix, 1024, after);
    if (!page) {
      log::error("privacy.resume_failed").field("error", detail_of(page.error()));
      break;
    }
    for (auto& [key, value] : *page) {
      auto v = decode_request(value);
      if (!v) {
        log::error("privacy.corrupt_request").field("key_bytes", static_cast<uint64_t>(key.size()));
        continue;
      }
      if (v->status != "pending" && v->status != "running") continue;
      log::info("privacy.resumed").field("request", v->request_id).field("kind", v->kind);
      st.sagas[v->request_id].view = *v;
      self->send(self, resume_atom::value, v->request_id);
    }
    if (page->size() < 1024) break;
    after = page->back().first;
  }
  // The ledger's people whose key still lives and whose erasure is not under way (a crash during
  // a restore, a backup copied back by hand): erased again.
  if (!st.settings.ledger_path.empty()) {
    auto ledger = read_erasure_ledger(st.settings.ledger_path);
    if (!ledger) {
      log::error("privacy.ledger_unreadable").field("error", detail_of(ledger.error()));
    } else {
      std::unordered_set<std::string> running;
      for (auto& [id, sg] : st.sagas)
        if (sg.view.kind == "erasure") running.insert(sg.view.subject_id);
      std::unordered_set<std::string> seen;
      for (auto& person : *ledger) {
        if (!seen.insert(person).second || running.count(person)) continue;
        auto gone = st.rt->sealer->forgotten(person);
        if (!gone || *gone) continue;
        log::warn("privacy.ledger_replayed").field("subject", person);
        accept(self, "erasure", person, "ledger", [person](caf::expected<privacy_request_view> v) {
          if (!v)
            log::error("privacy.ledger_replay_failed")
                .field("subject", person)
                .field("error", detail_of(v.error()));
        });
      }
    }
  }
  self->delayed_send(self, self->state.settings.purge_interval, tick_atom::value);
  return {
      [self](submit_atom, const std::string& kind, const std::string& subject,
             const std::string& requested_by) -> caf::result<privacy_request_view> {
        auto rp = self->make_response_promise<privacy_request_view>();
        accept(self, kind, subject, requested_by,
               [rp](caf::expected<privacy_request_view> v) mutable {
                 if (v)
                   rp.deliver(std::move(*v));
                 else
                   rp.deliver(v.error());
               });
        return rp;
      },
      [self](resume_atom, const std::string& id) {
        if (self->state.sagas.count(id)) run(self, id);
      },
      [self](step_atom, const std::string& id, const std::string& error) {
        if (!self->state.sagas.count(id)) return;
        if (!error.empty()) return fail(self, id, "sessions not ended: " + error);
        if (crash_here(self, "sessions_ended")) return;
        start_holders(self, id);
      },
      [self](get_atom, const std::string& id) -> caf::result<privacy_request_view> {
        auto v = load_request(self->state, id);
        if (!v) return v.error();
        return *v;
      },
      [self](list_atom, const std::string& after,
             uint32_t limit) -> caf::result<std::vector<privacy_request_view>> {
        auto& st = self->state;
        auto page =
            st.rt->store->scan(db::indexes, request_prefix, std::clamp<uint32_t>(limit, 1, 1000),
                               after.empty() ? std::string{} : request_key(after));
        if (!page) return page.error();
        std::vector<privacy_request_view> out;
        for (auto& [key, value] : *page) {
          auto id = key.substr(request_prefix.size());
          // A running saga's progress is newer than its stored record.
          if (auto it = st.sagas.find(id); it != st.sagas.end()) {
            out.push_back(it->second.view);
            continue;
          }
          auto v = decode_request(value);
          if (!v) return v.error();
          out.push_back(std::move(*v));
        }
        return out;
      },
      [self](archive_atom, const std::string& id) -> caf::result<std::string> {
        auto& st = self->state;
        auto v = load_request(st, id);
        if (!v) return v.error();
        if (v->kind != "export") return make_error(errc::not_found, "not an export request");
        if (v->status != "completed")
          return make_error(errc::conflict, "the export is not ready yet");
        std::ifstream in(archive_path(st.settings, id), std::ios::binary);
        if (!in) return make_error(errc::not_found, "the archive was deleted (retention)");
        std::string sealed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto doc = st.rt->sealer->open(v->subject_id, id, sealed);
        if (!doc) return doc.error();
        // A destroyed key opens as nothing: the person was erased since.
        if (doc->empty()) return make_error(errc::not_found, "the archive was deleted (erasure)");
        return std::move(*doc);
      },
      [self](purge_atom) -> caf::result<uint64_t> { return purge_archives(self); },
      [self](tick_atom) {
        purge_archives(self);
        self->delayed_send(self, self->state.settings.purge_interval, tick_atom::value);
      },
  };
}

}  // namespace

privacy_actor spawn_privacy_actor(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                  privacy_settings settings) {
  // Detached: archives and the ledger are written and fsynced on the actor's own thread, not on
  // a scheduler thread the entity actors need.
  return sys.spawn<caf::detached>(privacy_behavior, std::move(rt), std::move(settings));
}

caf::expected<std::string> enqueue_erasure(persistence::lmdb_store& store,
                                           persistence::field_sealer& sealer,
                                           const std::string& subject,
                                           const std::string& requested_by, int64_t at_ms) {
  privacy_request_view v;
  v.request_id = new_id("prq");
  v.kind = "erasure";
  v.subject_id = subject;
  v.requested_by = requested_by;
  v.status = "pending";
  v.created_at_ms = at_ms;
  persistence::write_item item;
  item.put(db::indexes, request_key(v.request_id), encode_request(v));
  item.put(db::indexes, subject_key(subject, v.request_id), std::string{});
  audit_entry e;
  e.at_ms = at_ms;
  e.who = requested_by;
  e.whose = {subject};
  e.action = "privacy_request";
  e.target = v.request_id;
  e.detail = "erasure replayed from the ledger after a restore";
  if (auto id = add_audit(item, sealer, e); !id) return id.error();
  std::vector<persistence::write_item*> items{&item};
  auto errs = store.commit(items);
  if (!errs.empty() && errs[0]) return errs[0];
  return v.request_id;
}

caf::expected<std::vector<std::string>> read_erasure_ledger(const std::filesystem::path& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return out;
    return make_error(errc::storage_failed, "cannot read the erasure ledger");
  }
  std::string line;
  while (std::getline(in, line)) {
    auto space = line.find(' ');
    if (space == std::string::npos) continue;
    out.push_back(line.substr(space + 1));
  }
  return out;
}

}  // namespace mext::actors
