#pragma once
// entity_core: the durable half every entity actor shares.
//
// An entity applies an event to its state at once (so the next message sees it), commits the
// event through the store actor, and holds every answer that depends on it until the commit is
// durable: the output gate. A failed commit fails every held answer and stops the actor, because
// its memory is then ahead of the disk; the directory restores it from disk on the next message.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <caf/error.hpp>
#include <caf/local_actor.hpp>
#include <caf/scheduled_actor.hpp>

#include <caf/result.hpp>
#include <caf/send.hpp>

#include "actors/runtime.hpp"
#include "persistence/atoms.hpp"
#include "persistence/errors.hpp"
#include "persistence/log.hpp"

namespace mext::actors {

class entity_core {
 public:
  using snapshot_fn = std::function<std::string()>;

  void init(std::string id, std::shared_ptr<runtime> rt, std::shared_ptr<resident_stats> stats,
            uint64_t restored_seq, uint64_t snapshot_seq, snapshot_fn snapshot);

  const std::string& id() const { return id_; }
  runtime& rt() const { return *rt_; }
  uint64_t seq() const { return seq_; }
  uint64_t durable_seq() const { return durable_seq_; }
  bool all_durable() const { return inflight_ == 0; }

  // Counts a message and notes activity; call first in every handler.
  void touch(caf::scheduled_actor* self);

  // The seq of the next event to write.
  uint64_t next_seq() { return ++seq_; }

  // Commits `item` (events up to seq() already applied in memory). `done` gets no error once it
  // is durable. With `compact`, the item also writes a snapshot and deletes every older event:
  // used when an event removes personal data, so that old events stop holding it.
  template <class Self>
  void persist(Self* self, persistence::write_item item,
               std::function<void(const caf::error&)> done, bool compact = false);

  // Runs `f` once everything applied so far is durable (at once if it already is).
  void when_durable(std::function<void(const caf::error&)> f);

  // Keeps the actor resident (a room with subscribers); counted.
  void pin() { ++pins_; }
  void unpin() {
    if (pins_ > 0) --pins_;
  }

  // The periodic idle check and the directory's answer.
  template <class Self>
  void on_tick(Self* self);
  template <class Self>
  void on_passivate(Self* self);
  // Starts the idle checks; call once from the behavior function.
  template <class Self>
  void start(Self* self);

 private:
  void release(const caf::error& err);
  template <class Self>
  void maybe_snapshot(Self* self);
  // Bookkeeping of a finished commit; true when the actor should now quit (passivating).
  bool committed(uint64_t upto, bool compact);
  bool snapshot_committed(uint64_t at, const caf::error& err);
  void schedule_tick(caf::scheduled_actor* self, caf::timespan after);
  bool idle_enough(caf::scheduled_actor* self, caf::timespan& wait_more);

  std::string id_;
  std::shared_ptr<runtime> rt_;
  std::shared_ptr<resident_stats> stats_;
  snapshot_fn snapshot_;
  uint64_t seq_ = 0;
  uint64_t durable_seq_ = 0;
  uint64_t snapshot_seq_ = 0;
  uint64_t inflight_ = 0;
  bool snapshot_inflight_ = false;
  bool passivating_ = false;
  // Set when idleness is reported to the directory; any message since clears it.
  bool idle_reported_ = false;
  int pins_ = 0;
  caf::actor_clock::time_point last_active_;
  // Answers waiting for durability: (seq they depend on, continuation).
  std::deque<std::pair<uint64_t, std::function<void(const caf::error&)>>> gated_;
};

// -- template definitions: they need the concrete actor type for request() --------------------

template <class Self>
void entity_core::start(Self* self) {
  last_active_ = self->clock().now();
  if (rt_->settings.idle_passivate.count() > 0) schedule_tick(self, rt_->settings.idle_passivate);
}

template <class Self>
void entity_core::persist(Self* self, persistence::write_item item,
                          std::function<void(const caf::error&)> done, bool compact) {
  uint64_t upto = seq_;
  if (compact) {
    item.put_snapshot(id_, upto, snapshot_());
    item.truncate_events(id_, upto);
  }
  ++inflight_;
  if (done) gated_.emplace_back(upto, std::move(done));
  self->request(rt_->writer, caf::infinite, commit_atom::value, std::move(item))
      .then(
          [this, self, upto, compact](uint64_t) {
            if (committed(upto, compact))
              self->quit();
            else
              maybe_snapshot(self);
          },
          [this, self](caf::error& err) {
            log::error("entity.commit_failed").field("entity", id_).field("error", detail_of(err));
            // The directory hears of it before anyone hears of the error: a caller that tries
            // again gets a fresh actor restored from the store, never this one on its way out.
            caf::send_as(caf::actor_cast<caf::actor>(self), rt_->directory, leaving_atom::value,
                         id_);
            release(err);
            self->quit(err);
          });
}

template <class Self>
void entity_core::maybe_snapshot(Self* self) {
  if (snapshot_inflight_ || inflight_ != 0 || !snapshot_) return;
  if (seq_ - snapshot_seq_ < rt_->settings.snapshot_every) return;
  persistence::write_item item;
  uint64_t at = seq_;
  item.put_snapshot(id_, at, snapshot_());
  // Events the snapshot covers are dropped with it: the log stays bounded, and values that were
  // since corrected or deleted do not linger in old events.
  item.truncate_events(id_, at);
  snapshot_inflight_ = true;
  self->request(rt_->writer, caf::infinite, commit_atom::value, std::move(item))
      .then(
          [this, self, at](uint64_t) {
            if (snapshot_committed(at, {})) self->quit();
          },
          [this, self, at](caf::error& err) {
            if (snapshot_committed(at, err)) self->quit();
          });
}

template <class Self>
void entity_core::on_tick(Self* self) {
  caf::timespan wait_more{};
  if (idle_enough(self, wait_more)) {
    // Sent as the actor itself: the directory checks who is going idle.
    idle_reported_ = true;
    caf::send_as(caf::actor_cast<caf::actor>(self), rt_->directory, idle_atom::value, id_);
    return;
  }
  schedule_tick(self, wait_more);
}

template <class Self>
void entity_core::on_passivate(Self* self) {
  if (pins_ > 0 || !idle_reported_) {
    // Busy again since it reported idle (a subscriber joined, a message came): stay, and tell
    // the directory, which hands this actor out again.
    caf::send_as(caf::actor_cast<caf::actor>(self), rt_->directory, busy_atom::value, id_);
    schedule_tick(self, std::chrono::duration_cast<caf::timespan>(rt_->settings.idle_passivate));
    return;
  }
  passivating_ = true;
  if (inflight_ == 0 && !snapshot_inflight_) self->quit();
}

// -- answers behind the output gate, for the handlers of every entity actor -------------------
// Self is a stateful typed actor whose state has an entity_core named `core`.

// Answers `value` once everything applied so far is durable.
template <class R, class Self>
caf::result<R> answer_when_durable(Self* self, R value) {
  auto& core = self->state.core;
  if (core.all_durable()) return value;
  auto rp = self->template make_response_promise<R>();
  core.when_durable([rp, value = std::move(value)](const caf::error& err) mutable {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(std::move(value));
  });
  return rp;
}

// Commits `item` and answers `value` once it is durable (with `compact`, see persist).
template <class R, class Self>
caf::result<R> commit_then_answer(Self* self, persistence::write_item item, R value,
                                  bool compact = false) {
  auto rp = self->template make_response_promise<R>();
  self->state.core.persist(
      self, std::move(item),
      [rp, value = std::move(value)](const caf::error& err) mutable {
        if (err)
          rp.deliver(err);
        else
          rp.deliver(std::move(value));
      },
      compact);
  return rp;
}

}  // namespace mext::actors
