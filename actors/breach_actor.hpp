#pragma once
// breach_actor: the breach register (GDPR Art. 33 and 34) and the durable outbox of notices.
//
// An administrator records a breach: the record, one queued notice per person concerned and an
// audit entry are committed together before the answer. The actor then delivers the outbox, one
// notice at a time, through a notice_sender (a spool folder by default, a command such as
// `sendmail -t` when configured), reading each person's email from their account at that moment
// (the outbox never holds an address). A notice that fails is tried again every
// delivery_interval, up to max_attempts; one for a person erased since is skipped. Notices left
// queued by a crash are delivered after the next start.
//
// The authority report (Art. 33(3)) is built from the record: the nature of the breach, the
// categories and approximate numbers concerned, the contact point, likely consequences and the
// measures taken, with the deadline detected_at + 72 h.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/caller.hpp"
#include "actors/runtime.hpp"
#include "persistence/atoms.hpp"

namespace mext::actors {

struct breach_input {
  std::string description;
  int64_t detected_at_ms = 0;
  std::vector<std::string> categories;
  std::vector<std::string> user_ids;
  std::string likely_consequences;
  std::string measures_taken;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, breach_input& x) {
  return f(caf::meta::type_name("mext.breach_input"), x.description, x.detected_at_ms, x.categories,
           x.user_ids, x.likely_consequences, x.measures_taken);
}

struct notice_counts {
  uint32_t queued = 0;
  uint32_t sent = 0;
  uint32_t failed = 0;
  uint32_t skipped = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, notice_counts& x) {
  return f(caf::meta::type_name("mext.notice_counts"), x.queued, x.sent, x.failed, x.skipped);
}

struct breach_view {
  std::string breach_id;
  std::string recorded_by;
  int64_t recorded_at_ms = 0;
  breach_input input;
  int64_t notify_authority_by_ms = 0;
  notice_counts notices;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, breach_view& x) {
  return f(caf::meta::type_name("mext.breach_view"), x.breach_id, x.recorded_by, x.recorded_at_ms,
           x.input, x.notify_authority_by_ms, x.notices);
}

// One notice, ready to go out.
struct notice_message {
  std::string breach_id;
  std::string user_id;
  std::string to;  // the person's email, read from their account just now
  std::string subject;
  std::string body;  // plain text
};

// Delivers one notice; an error leaves it queued for another attempt.
using notice_sender = std::function<caf::error(const notice_message&)>;

// Writes each notice as an RFC 5322 message <dir>/<breach id>-<user id>.eml (mode 0600, through
// a temporary name), for a mail system to pick up.
notice_sender spool_sender(std::filesystem::path dir);
// Runs `command` with /bin/sh -c and the RFC 5322 message on its standard input (for example
// "/usr/sbin/sendmail -t -i"); a non-zero exit status is an error.
notice_sender command_sender(std::string command);

struct breach_settings {
  notice_sender sender;
  std::chrono::milliseconds delivery_interval{std::chrono::seconds(30)};
  uint32_t max_attempts = 10;
  // The contact point named in notices and in the authority report (Art. 33(3)(b)).
  std::string contact = "the data protection officer of the platform";
  std::function<int64_t()> clock;
};

using breach_actor = caf::typed_actor<
    // An administrator records a breach; answered once it and its notices are durable.
    caf::replies_to<record_atom, caller, breach_input>::with<breach_view>,
    caf::replies_to<get_atom, std::string>::with<breach_view>,
    // Delivers what is queued now (also run every delivery_interval); answers notices sent.
    caf::replies_to<flush_atom>::with<uint32_t>, caf::reacts_to<tick_atom>>;

// Spawned detached: senders write files or run commands and may block.
breach_actor spawn_breach_actor(caf::actor_system& sys, std::shared_ptr<runtime> rt,
                                breach_settings settings);

// Upper bounds of a breach record.
constexpr size_t max_breach_text_bytes = 20000;
constexpr size_t max_breach_people = 1'000'000;

}  // namespace mext::actors
