#pragma once
// The interfaces every entity actor includes in its own typed interface.
//
// entity_lifecycle: the idle checks and passivation driven by entity_core and the directory.
// personal_data_holder: export and erasure of one person's data. Every actor kind that can hold
// personal data extends its interface with it, and static_asserts that it converts to it, so a
// holder that forgets cannot compile; the privacy sagas talk to holders through this interface.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "persistence/atoms.hpp"
#include "persistence/lmdb_store.hpp"

namespace mext::actors {

// What one holder keeps about one person, as named fields of a category of the seed
// ("account", "profile", "chat_messages", "agenda", "connection_data", ...). A list value is
// repeated under the same name. Values are plaintext: exports are built from this.
struct personal_record {
  std::string category;
  std::string holder_id;
  std::string record_id;
  std::vector<std::pair<std::string, std::string>> fields;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, personal_record& x) {
  return f(caf::meta::type_name("mext.personal_record"), x.category, x.holder_id, x.record_id,
           x.fields);
}

// The holder index: "holds/<person>\0<holder id>" in db::indexes, written in the same write item as
// the data it points at, so the privacy sagas find every actor that holds something about a person
// with one prefix scan. Putting an entry again is harmless; the erasure saga removes them at the
// end.
inline std::string holder_index_prefix(std::string_view person) {
  std::string k = "holds/";
  k += person;
  k += '\0';
  return k;
}

inline void note_holder(persistence::write_item& item, std::string_view person,
                        std::string_view holder) {
  auto key = holder_index_prefix(person);
  key += holder;
  item.put(persistence::db::indexes, std::move(key), std::string{});
}

using entity_lifecycle =
    caf::typed_actor<caf::reacts_to<tick_atom>, caf::reacts_to<passivate_atom>>;

using personal_data_holder = caf::typed_actor<
    // Everything held about the person.
    caf::replies_to<export_atom, std::string>::with<std::vector<personal_record>>,
    // Removes everything held about the person, durably; idempotent. Answers how many records
    // (messages, entries, fields) were erased.
    caf::replies_to<erase_atom, std::string>::with<uint64_t>>;

}  // namespace mext::actors
