#include "actors/breach_actor.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <deque>
#include <mutex>

#include <capnp/message.h>
#include <caf/all.hpp>

#include "actors/audit_log.hpp"
#include "actors/directory.hpp"
#include "actors/user_actor.hpp"
#include "mext/schemas/breach.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

using persistence::db;
namespace fs = std::filesystem;

constexpr int64_t authority_deadline_ms = 72LL * 3600 * 1000;
constexpr std::chrono::seconds lookup_timeout{10};

std::string breach_key(std::string_view id) {
  return "breach/" + std::string(id);
}

std::string outbox_key(std::string_view breach, std::string_view user) {
  std::string k = "outbox/";
  k += breach;
  k += '\0';
  k += user;
  return k;
}

void set_list(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& in) {
  for (unsigned i = 0; i < in.size(); ++i) out.set(i, in[i]);
}

std::string encode_breach(const breach_view& v) {
  capnp::MallocMessageBuilder msg;
  auto b = msg.initRoot<schema::Breach>();
  b.setBreachId(v.breach_id);
  b.setRecordedBy(v.recorded_by);
  b.setRecordedAt(v.recorded_at_ms);
  b.setDetectedAt(v.input.detected_at_ms);
  b.setDescription(v.input.description);
  set_list(b.initCategories(static_cast<unsigned>(v.input.categories.size())), v.input.categories);
  set_list(b.initUserIds(static_cast<unsigned>(v.input.user_ids.size())), v.input.user_ids);
  b.setLikelyConsequences(v.input.likely_consequences);
  b.setMeasuresTaken(v.input.measures_taken);
  b.setNotifyAuthorityBy(v.notify_authority_by_ms);
  return persistence::encode_record(schema::RecordKind::BREACH, msg);
}

caf::expected<breach_view> decode_breach(std::string_view bytes) {
  auto rec = persistence::decode_record(bytes, schema::RecordKind::BREACH);
  if (!rec) return rec.error();
  try {
    auto b = (*rec)->root<schema::Breach>();
    breach_view v;
    v.breach_id = b.getBreachId();
    v.recorded_by = b.getRecordedBy();
    v.recorded_at_ms = b.getRecordedAt();
    v.input.detected_at_ms = b.getDetectedAt();
    v.input.description = b.getDescription();
    for (auto c : b.getCategories()) v.input.categories.emplace_back(c);
    for (auto u : b.getUserIds()) v.input.user_ids.emplace_back(u);
    v.input.likely_consequences = b.getLikelyConsequences();
    v.input.measures_taken = b.getMeasuresTaken();
    v.notify_authority_by_ms = b.getNotifyAuthorityBy();
    return v;
  } catch (const kj::Exception&) {
    return make_error(errc::corrupt_record, "a breach record does not decode");
  }
}

struct notice_rec {
  std::string breach_id;
  std::string user_id;
  schema::NoticeStatus status = schema::NoticeStatus::QUEUED;
  uint32_t attempts = 0;
  int64_t last_attempt_at_ms = 0;
  int64_t sent_at_ms = 0;
  std::string last_error;
};

std::string encode_notice(const notice_rec& n) {
  capnp::MallocMessageBuilder msg;
  auto b = msg.initRoot<schema::BreachNotice>();
  b.setBreachId(n.breach_id);
  b.setUserId(n.user_id);
  b.setStatus(n.status);
  b.setAttempts(n.attempts);
  b.setLastAttemptAt(n.last_attempt_at_ms);
  b.setSentAt(n.sent_at_ms);
  b.setLastError(n.last_error);
  return persistence::encode_record(schema::RecordKind::BREACH_NOTICE, msg);
}

caf::expected<notice_rec> decode_notice(std::string_view bytes) {
  auto rec = persistence::decode_record(bytes, schema::RecordKind::BREACH_NOTICE);
  if (!rec) return rec.error();
  try {
    auto b = (*rec)->root<schema::BreachNotice>();
    notice_rec n;
    n.breach_id = b.getBreachId();
    n.user_id = b.getUserId();
    n.status = b.getStatus();
    n.attempts = b.getAttempts();
    n.last_attempt_at_ms = b.getLastAttemptAt();
    n.sent_at_ms = b.getSentAt();
    n.last_error = b.getLastError();
    return n;
  } catch (const kj::Exception&) {
    return make_error(errc::corrupt_record, "a breach notice does not decode");
  }
}

std::string utc(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

std::string rfc5322_date(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string join(const std::vector<std::string>& xs) {
  std::string out;
  for (auto& x : xs) out += (out.empty() ? "" : ", ") + x;
  return out;
}

// Art. 34(2): the nature of the breach in clear language, the contact point, likely consequences
// and the measures taken.
notice_message notice_for(const breach_view& b, const std::string& user, const std::string& to,
                          const std::string& contact) {
  notice_message m;
  m.breach_id = b.breach_id;
  m.user_id = user;
  m.to = to;
  m.subject = "Notice of a personal data breach concerning your Mext account";
  m.body = "Hello,\n\nOn " + utc(b.input.detected_at_ms) +
           " we detected a breach of the security of personal data that concerns you.\n\n"
           "What happened: " +
           b.input.description + "\n\nData concerned: " + join(b.input.categories) + "\n";
  if (!b.input.likely_consequences.empty())
    m.body += "\nLikely consequences: " + b.input.likely_consequences + "\n";
  if (!b.input.measures_taken.empty())
    m.body += "\nWhat we did and advise: " + b.input.measures_taken + "\n";
  m.body +=
      "\nFor any question, contact " + contact + " and quote the reference " + b.breach_id + ".\n";
  return m;
}

std::string rfc5322(const notice_message& m, int64_t now) {
  // Header values never hold a line break: an address with one is refused before this point.
  return "To: " + m.to + "\r\nSubject: " + m.subject + "\r\nDate: " + rfc5322_date(now) +
         "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
         "Content-Transfer-Encoding: 8bit\r\nX-Mext-Breach: " +
         m.breach_id + "\r\n\r\n" + m.body;
}

caf::error errno_error(const std::string& what) {
  return make_error(errc::storage_failed, what + ": " + std::strerror(errno));
}

struct breach_state {
  std::shared_ptr<runtime> rt;
  breach_settings settings;
  bool delivering = false;
  std::deque<std::string> queue;  // outbox keys of this pass
  uint32_t sent_this_pass = 0;
  std::vector<caf::typed_response_promise<uint32_t>> waiting;
  static inline const char* name = "breach_actor";
};

using breach_self = breach_actor::stateful_pointer<breach_state>;

int64_t clock_of(const breach_state& st) {
  return st.settings.clock ? st.settings.clock() : now_ms();
}

caf::expected<notice_counts> count_notices(const breach_state& st, const std::string& breach) {
  notice_counts c;
  auto prefix = outbox_key(breach, "");
  std::string after;
  for (;;) {
    auto page = st.rt->store->scan(db::indexes, prefix, 4096, after);
    if (!page) return page.error();
    for (auto& [key, value] : *page) {
      auto n = decode_notice(value);
      if (!n) return n.error();
      switch (n->status) {
        case schema::NoticeStatus::QUEUED:
          ++c.queued;
          break;
        case schema::NoticeStatus::SENT:
          ++c.sent;
          break;
        case schema::NoticeStatus::FAILED:
          ++c.failed;
          break;
        case schema::NoticeStatus::SKIPPED:
          ++c.skipped;
          break;
      }
    }
    if (page->size() < 4096) break;
    after = page->back().first;
  }
  return c;
}

void next_notice(breach_self self);

void pass_done(breach_self self) {
  auto& st = self->state;
  st.delivering = false;
  if (st.sent_this_pass > 0)
    log::info("breach.notices_sent").field("notices", uint64_t{st.sent_this_pass});
  for (auto& rp : st.waiting) rp.deliver(st.sent_this_pass);
  st.waiting.clear();
}

// Records the outcome of one notice and moves to the next.
void settle(breach_self self, const std::string& key, notice_rec n, const breach_view& b) {
  auto& st = self->state;
  persistence::write_item item;
  item.put(db::indexes, key, encode_notice(n));
  if (n.status == schema::NoticeStatus::SENT) {
    audit_entry e;
    e.at_ms = n.sent_at_ms;
    e.who = b.recorded_by;
    e.whose = {n.user_id};
    e.action = "breach_notice_sent";
    e.target = b.breach_id;
    e.detail = "email read from the account to send the Art. 34 notice";
    if (auto id = add_audit(item, *st.rt->sealer, e); !id)
      log::error("breach.audit_failed")
          .field("breach", b.breach_id)
          .field("error", detail_of(id.error()));
  }
  self->request(st.rt->writer, caf::infinite, commit_atom::value, std::move(item))
      .then(
          [self, n](uint64_t) {
            if (n.status == schema::NoticeStatus::SENT) ++self->state.sent_this_pass;
            next_notice(self);
          },
          [self, n](caf::error& err) {
            // The notice may go out twice after this; never is worse.
            log::error("breach.notice_not_recorded")
                .field("breach", n.breach_id)
                .field("user_id", n.user_id)
                .field("error", detail_of(err));
            next_notice(self);
          });
}

void deliver(breach_self self, const std::string& key, notice_rec n, const breach_view& b) {
  auto& st = self->state;
  auto now = clock_of(st);
  auto user = n.user_id;
  auto failed = [self, key, b, now](notice_rec n, std::string why) {
    n.attempts++;
    n.last_attempt_at_ms = now;
    n.last_error = std::move(why);
    if (n.attempts >= self->state.settings.max_attempts) n.status = schema::NoticeStatus::FAILED;
    settle(self, key, std::move(n), b);
  };
  self->request(caf::actor_cast<directory_actor>(st.rt->directory), lookup_timeout,
                resolve_atom::value, user)
      .then(
          [self, key, n, b, now, failed](caf::actor& hdl) {
            caller reader{b.recorded_by, true, {}};
            self->request(caf::actor_cast<user_actor>(hdl), lookup_timeout, get_atom::value, reader)
                .then(
                    [self, key, n, b, now, failed](user_view& u) mutable {
                      if (u.email.empty() || u.email.find_first_of("\r\n") != std::string::npos) {
                        n.status = schema::NoticeStatus::SKIPPED;
                        n.last_error = "no address on the account";
                        return settle(self, key, std::move(n), b);
                      }
                      auto& st = self->state;
                      auto err = st.settings.sender
                                     ? st.settings.sender(
                                           notice_for(b, n.user_id, u.email, st.settings.contact))
                                     : make_error(errc::internal, "no notice sender configured");
                      if (err) return failed(std::move(n), detail_of(err));
                      n.attempts++;
                      n.last_attempt_at_ms = now;
                      n.sent_at_ms = now;
                      n.last_error.clear();
                      n.status = schema::NoticeStatus::SENT;
                      settle(self, key, std::move(n), b);
                    },
                    [self, key, n, b, failed](caf::error& err) mutable {
                      if (code_of(err) == errc::not_found) {
                        n.status = schema::NoticeStatus::SKIPPED;
                        n.last_error = "the person was erased";
                        return settle(self, key, std::move(n), b);
                      }
                      failed(std::move(n), detail_of(err));
                    });
          },
          [self, key, n, b, failed](caf::error& err) mutable {
            if (code_of(err) == errc::not_found) {
              n.status = schema::NoticeStatus::SKIPPED;
              n.last_error = "the person was erased";
              return settle(self, key, std::move(n), b);
            }
            failed(std::move(n), detail_of(err));
          });
}

void next_notice(breach_self self) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    auto key = std::move(st.queue.front());
    st.queue.pop_front();
    auto rec = st.rt->store->get(db::indexes, key);
    if (!rec || !*rec) continue;
    auto n = decode_notice(**rec);
    if (!n || n->status != schema::NoticeStatus::QUEUED) continue;
    auto brec = st.rt->store->get(db::indexes, breach_key(n->breach_id));
    if (!brec || !*brec) continue;
    auto b = decode_breach(**brec);
    if (!b) continue;
    return deliver(self, key, std::move(*n), *b);
  }
  pass_done(self);
}

// Starts a pass over every queued notice due now, unless one runs.
void start_pass(breach_self self) {
  auto& st = self->state;
  if (st.delivering) return;
  st.delivering = true;
  st.sent_this_pass = 0;
  auto now = clock_of(st);
  auto interval = static_cast<int64_t>(st.settings.delivery_interval.count());
  std::string after;
  for (;;) {
    auto page = st.rt->store->scan(db::indexes, "outbox/", 4096, after);
    if (!page) {
      log::error("breach.outbox_unreadable").field("error", detail_of(page.error()));
      break;
    }
    for (auto& [key, value] : *page) {
      auto n = decode_notice(value);
      if (!n || n->status != schema::NoticeStatus::QUEUED) continue;
      if (n->attempts > 0 && n->last_attempt_at_ms + interval > now) continue;
      st.queue.push_back(key);
    }
    if (page->size() < 4096) break;
    after = page->back().first;
  }
  next_notice(self);
}

caf::error validate(breach_input& in, int64_t now) {
  if (in.description.empty() || in.description.size() > max_breach_text_bytes)
    return make_error(errc::invalid_argument, "description must hold 1 to 20000 bytes");
  if (in.likely_consequences.size() > max_breach_text_bytes ||
      in.measures_taken.size() > max_breach_text_bytes)
    return make_error(errc::invalid_argument, "texts are at most 20000 bytes");
  if (in.detected_at_ms <= 0 || in.detected_at_ms > now + 5 * 60 * 1000)
    return make_error(errc::invalid_argument, "detected_at is not in the future");
  if (in.categories.empty())
    return make_error(errc::invalid_argument, "name the categories concerned");
  if (in.user_ids.size() > max_breach_people)
    return make_error(errc::invalid_argument, "at most 1,000,000 people per breach record");
  for (auto& u : in.user_ids)
    if (!is_id_of(u, "usr")) return make_error(errc::invalid_argument, "user_ids must be user ids");
  std::sort(in.user_ids.begin(), in.user_ids.end());
  in.user_ids.erase(std::unique(in.user_ids.begin(), in.user_ids.end()), in.user_ids.end());
  return {};
}

breach_actor::behavior_type breach_behavior(breach_self self, std::shared_ptr<runtime> rt,
                                            breach_settings settings) {
  self->state.rt = std::move(rt);
  self->state.settings = std::move(settings);
  // Notices a crash left queued go out now.
  self->send(self, tick_atom::value);
  return {
      [self](record_atom, const caller& who, breach_input in) -> caf::result<breach_view> {
        auto& st = self->state;
        if (!who.admin) return make_error(errc::forbidden, "administrators record breaches");
        auto now = clock_of(st);
        if (auto err = validate(in, now)) return err;
        breach_view v;
        v.breach_id = new_id("brc");
        v.recorded_by = who.user_id;
        v.recorded_at_ms = now;
        v.notify_authority_by_ms = in.detected_at_ms + authority_deadline_ms;
        v.input = std::move(in);
        v.notices.queued = static_cast<uint32_t>(v.input.user_ids.size());
        persistence::write_item item;
        item.put_unique(db::indexes, breach_key(v.breach_id), encode_breach(v));
        for (auto& u : v.input.user_ids) {
          notice_rec n;
          n.breach_id = v.breach_id;
          n.user_id = u;
          item.put(db::indexes, outbox_key(v.breach_id, u), encode_notice(n));
        }
        audit_entry e;
        e.at_ms = now;
        e.who = who.user_id;
        e.whose = v.input.user_ids;
        e.action = "breach_recorded";
        e.target = v.breach_id;
        e.detail = std::to_string(v.input.user_ids.size()) + " people, notices queued";
        if (auto id = add_audit(item, *st.rt->sealer, e); !id) return id.error();
        auto rp = self->make_response_promise<breach_view>();
        self->request(st.rt->writer, caf::infinite, commit_atom::value, std::move(item))
            .then(
                [self, rp, v](uint64_t) mutable {
                  log::info("breach.recorded")
                      .field("breach", v.breach_id)
                      .field("people", static_cast<uint64_t>(v.input.user_ids.size()));
                  rp.deliver(v);
                  start_pass(self);
                },
                [rp](caf::error& err) mutable { rp.deliver(err); });
        return rp;
      },
      [self](get_atom, const std::string& id) -> caf::result<breach_view> {
        auto& st = self->state;
        auto rec = st.rt->store->get(db::indexes, breach_key(id));
        if (!rec) return rec.error();
        if (!*rec) return make_error(errc::not_found, "no such breach");
        auto v = decode_breach(**rec);
        if (!v) return v.error();
        auto c = count_notices(st, id);
        if (!c) return c.error();
        v->notices = *c;
        return *v;
      },
      [self](flush_atom) -> caf::result<uint32_t> {
        auto rp = self->make_response_promise<uint32_t>();
        self->state.waiting.push_back(rp);
        start_pass(self);
        return rp;
      },
      [self](tick_atom) {
        start_pass(self);
        self->delayed_send(self, self->state.settings.delivery_interval, tick_atom::value);
      },
  };
}

}  // namespace

breach_actor spawn_breach_actor(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                breach_settings settings) {
  return sys.spawn<caf::detached>(breach_behavior, std::move(rt), std::move(settings));
}

notice_sender spool_sender(fs::path dir) {
  return [dir](const notice_message& m) -> caf::error {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return make_error(errc::storage_failed, "cannot create the spool: " + ec.message());
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    auto name = m.breach_id + "-" + m.user_id + ".eml";
    auto tmp = dir / ("." + name + ".tmp");
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return errno_error("cannot create a spool file");
    auto text = rfc5322(m, now_ms());
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fd, text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        auto err = errno_error("cannot write a spool file");
        ::close(fd);
        return err;
      }
      off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
      auto err = errno_error("cannot fsync a spool file");
      ::close(fd);
      return err;
    }
    ::close(fd);
    fs::rename(tmp, dir / name, ec);
    if (ec) return make_error(errc::storage_failed, "cannot place a spool file: " + ec.message());
    return {};
  };
}

notice_sender command_sender(std::string command) {
  // A command that exits before reading everything must fail the notice, not kill the process
  // with SIGPIPE: writes to its pipe then fail with EPIPE instead.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { ::signal(SIGPIPE, SIG_IGN); });
  return [command](const notice_message& m) -> caf::error {
    int in[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return errno_error("pipe");
    pid_t pid = ::fork();
    if (pid < 0) {
      ::close(in[0]);
      ::close(in[1]);
      return errno_error("fork");
    }
    if (pid == 0) {
      ::dup2(in[0], STDIN_FILENO);
      ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    auto text = rfc5322(m, now_ms());
    size_t off = 0;
    // A command that exits early must not kill the server with SIGPIPE (mextd ignores it).
    while (off < text.size()) {
      ssize_t n = ::write(in[1], text.data() + off, text.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(in[1]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return make_error(errc::storage_failed, "the notice command failed with status " +
                                                  std::to_string(WEXITSTATUS(status)));
    if (off < text.size())
      return make_error(errc::storage_failed, "the notice command stopped reading");
    return {};
  };
}

}  // namespace mext::actors
