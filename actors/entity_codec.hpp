#pragma once
// Encoding and restoring entity records: the glue between an entity's state and LMDB.

#include <cstdint>
#include <string>

#include <capnp/message.h>
#include <kj/exception.h>
#include <caf/expected.hpp>

#include "actors/runtime.hpp"
#include "persistence/errors.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {

struct restored {
  bool exists = false;  // anything was stored under the id
  uint64_t seq = 0;     // the last event applied
  uint64_t snapshot_seq = 0;
};

// Builds a record of type T with `fill(T::Builder)` and frames it.
template <class T, class Fill>
std::string encode(schema::RecordKind kind, Fill&& fill) {
  capnp::MallocMessageBuilder message;
  fill(message.initRoot<T>());
  return persistence::encode_record(kind, message);
}

// Loads the snapshot and the events after it and feeds them to the state, in order.
// A record that fails its checksum or does not decode gives errc::corrupt_record naming the
// entity; the decoders may throw kj::Exception on malformed pointers, caught here.
template <class Snapshot, class Event, class OnSnapshot, class OnEvent>
caf::expected<restored> restore_entity(runtime& rt, const std::string& id,
                                       schema::RecordKind snapshot_kind,
                                       schema::RecordKind event_kind, OnSnapshot&& on_snapshot,
                                       OnEvent&& on_event) {
  auto history = rt.store->load(id);
  if (!history) return history.error();
  restored out;
  out.exists = !history->empty();
  try {
    if (history->snapshot) {
      auto rec = persistence::decode_record(history->snapshot->record, snapshot_kind);
      if (!rec) return make_error(errc::corrupt_record, id + ": " + detail_of(rec.error()));
      if (auto err = on_snapshot((*rec)->template root<Snapshot>())) return err;
      out.seq = out.snapshot_seq = history->snapshot->seq;
    }
    for (auto& ev : history->events) {
      auto rec = persistence::decode_record(ev.record, event_kind);
      if (!rec)
        return make_error(errc::corrupt_record,
                          id + " event " + std::to_string(ev.seq) + ": " + detail_of(rec.error()));
      if (auto err = on_event((*rec)->template root<Event>())) return err;
      out.seq = ev.seq;
    }
  } catch (const kj::Exception& e) {
    return make_error(errc::corrupt_record, id + ": " + e.getDescription().cStr());
  }
  return out;
}

}  // namespace mext::actors
