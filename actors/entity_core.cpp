#include "actors/entity_core.hpp"

#include <caf/all.hpp>

namespace mext::actors {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void entity_core::init(std::string id, std::shared_ptr<runtime> rt,
                       std::shared_ptr<resident_stats> stats, uint64_t restored_seq,
                       uint64_t snapshot_seq, snapshot_fn snapshot) {
  id_ = std::move(id);
  rt_ = std::move(rt);
  stats_ = std::move(stats);
  snapshot_ = std::move(snapshot);
  seq_ = durable_seq_ = restored_seq;
  snapshot_seq_ = snapshot_seq;
  if (stats_) {
    stats_->seq = restored_seq;
    stats_->last_snapshot_seq = snapshot_seq;
  }
}

void entity_core::touch(caf::scheduled_actor* self) {
  last_active_ = self->clock().now();
  idle_reported_ = false;
  if (stats_) {
    stats_->messages.fetch_add(1, std::memory_order_relaxed);
    stats_->mailbox.store(self->mailbox().size(), std::memory_order_relaxed);
  }
}

bool entity_core::committed(uint64_t upto, bool compact) {
  --inflight_;
  durable_seq_ = std::max(durable_seq_, upto);
  if (compact) snapshot_seq_ = std::max(snapshot_seq_, upto);
  if (stats_) {
    stats_->seq = durable_seq_;
    stats_->last_snapshot_seq = snapshot_seq_;
  }
  release({});
  return passivating_ && inflight_ == 0 && !snapshot_inflight_;
}

bool entity_core::snapshot_committed(uint64_t at, const caf::error& err) {
  snapshot_inflight_ = false;
  if (err) {
    // A missing snapshot costs only replay time: the events are all there.
    log::warn("entity.snapshot_failed").field("entity", id_).field("error", detail_of(err));
  } else {
    snapshot_seq_ = std::max(snapshot_seq_, at);
    if (stats_) stats_->last_snapshot_seq = snapshot_seq_;
  }
  return passivating_ && inflight_ == 0;
}

void entity_core::when_durable(std::function<void(const caf::error&)> f) {
  if (inflight_ == 0) {
    f({});
    return;
  }
  gated_.emplace_back(seq_, std::move(f));
}

void entity_core::release(const caf::error& err) {
  while (!gated_.empty() && (err || gated_.front().first <= durable_seq_)) {
    auto f = std::move(gated_.front().second);
    gated_.pop_front();
    f(err);
  }
}

void entity_core::schedule_tick(caf::scheduled_actor* self, caf::timespan after) {
  caf::delayed_anon_send(caf::actor_cast<caf::actor>(self), after, tick_atom::value);
}

bool entity_core::idle_enough(caf::scheduled_actor* self, caf::timespan& wait_more) {
  auto idle = std::chrono::duration_cast<caf::timespan>(rt_->settings.idle_passivate);
  auto quiet = self->clock().now() - last_active_;
  if (quiet >= idle && inflight_ == 0 && pins_ == 0 && !passivating_ && !snapshot_inflight_)
    return true;
  wait_more = quiet >= idle ? idle : idle - quiet;
  return false;
}

}  // namespace mext::actors
