#pragma once
// The audit log: every administrator read or change of someone else's personal data, every reveal
// in the inspection endpoint, every privacy request and its steps. Append-only: entries are put
// under fresh keys and nothing in the engine erases them; they hold ids, times and the reason an
// administrator gave, sealed for the person concerned (so an erasure leaves ids only).
//
// Entries are added to the write item of the change they record, so an audited action and its
// entry are durable together or not at all.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "persistence/field_sealer.hpp"
#include "persistence/lmdb_store.hpp"

namespace mext::actors {

struct audit_entry {
  std::string audit_id;  // set when read back
  int64_t at_ms = 0;
  std::string who;
  std::vector<std::string> whose;
  std::string action;
  std::string target;
  std::string why;
  std::string request_id;
  std::string detail;
};

// Adds the entry to `item`; answers its id. Fails only when the reason cannot be sealed.
caf::expected<std::string> add_audit(persistence::write_item& item,
                                     persistence::field_sealer& sealer, const audit_entry& e);

// Entries newest first, at most `limit`, older than the entry `before` (an audit id) if given.
caf::expected<std::vector<audit_entry>> read_audit(const persistence::lmdb_store& store,
                                                   persistence::field_sealer& sealer, size_t limit,
                                                   const std::string& before = {});

}  // namespace mext::actors
