#pragma once
// booth (kind "bth"): an organization's booth in an exhibition: its content, its visit counters
// and the id of its chat room. A person's data here is their visits ("booth_visits") and the
// content they posted as a representative ("booth_content").

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/expected.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/caller.hpp"
#include "actors/holder.hpp"
#include "actors/runtime.hpp"
#include "persistence/atoms.hpp"

namespace mext::actors {

// The author_id of content whose representative was erased.
inline constexpr const char* former_representative = "former-representative";

// A new booth. The bridge creates the booth's chat room id with new_id("room") and passes it in;
// name: 1-200 characters.
struct booth_spec {
  std::string exhibition_id;
  std::string organization_id;
  std::string name;
  std::string description;
  std::string chat_room_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, booth_spec& x) {
  return f(caf::meta::type_name("mext.booth_spec"), x.exhibition_id, x.organization_id, x.name,
           x.description, x.chat_room_id);
}

// The fields to change: each with its presence flag.
struct booth_patch {
  bool has_name = false;
  std::string name;
  bool has_description = false;
  std::string description;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, booth_patch& x) {
  return f(caf::meta::type_name("mext.booth_patch"), x.has_name, x.name, x.has_description,
           x.description);
}

// kind: article, post, comment, datasheet, poster or video; title 1-300 characters; body at most
// 100,000 characters; file_id empty or a file's id.
struct content_spec {
  std::string kind;
  std::string title;
  std::string body;
  std::string file_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, content_spec& x) {
  return f(caf::meta::type_name("mext.content_spec"), x.kind, x.title, x.body, x.file_id);
}

// content_id is a child id of the booth; author_id the representative who posted it.
struct content_view {
  std::string content_id;
  std::string kind;
  std::string title;
  std::string body;
  std::string file_id;
  std::string author_id;
  int64_t created_at_ms = 0;

  bool operator==(const content_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, content_view& x) {
  return f(caf::meta::type_name("mext.content_view"), x.content_id, x.kind, x.title, x.body,
           x.file_id, x.author_id, x.created_at_ms);
}

struct booth_view {
  std::string booth_id;
  std::string exhibition_id;
  std::string organization_id;
  std::string name;
  std::string description;
  std::string chat_room_id;
  std::vector<content_view> content;
  uint64_t total_visits = 0;

  bool operator==(const booth_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, booth_view& x) {
  return f(caf::meta::type_name("mext.booth_view"), x.booth_id, x.exhibition_id, x.organization_id,
           x.name, x.description, x.chat_room_id, x.content, x.total_visits);
}

// What representatives see of visits: aggregates, and the ids of visitors whose latest visit
// shared their contact. Erased visitors still count in both totals.
struct visit_stats {
  uint64_t total_visits = 0;
  uint64_t unique_visitors = 0;
  std::vector<std::string> shared_contacts;

  bool operator==(const visit_stats&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, visit_stats& x) {
  return f(caf::meta::type_name("mext.visit_stats"), x.total_visits, x.unique_visitors,
           x.shared_contacts);
}

// Errors: not_found (never created, unknown content), forbidden, invalid_argument, conflict,
// unauthenticated. "Reps" are callers whose rep_of holds the booth's organization.
using booth_actor = caf::typed_actor<
    // Admin or a rep of spec.organization_id; the actor is activated with create=true first.
    caf::replies_to<create_atom, caller, booth_spec, int64_t>::with<booth_view>,
    // Anyone.
    caf::replies_to<get_atom>::with<booth_view>,
    // Reps or admin.
    caf::replies_to<update_atom, caller, booth_patch>::with<booth_view>,
    caf::replies_to<content_atom, caller, content_spec, int64_t>::with<content_view>,
    // Removes one content (its id): reps or admin.
    caf::replies_to<remove_atom, caller, std::string>::with<booth_view>,
    // A visit by a signed-in caller, sharing contact or not; answers the total visit count.
    caf::replies_to<visit_atom, caller, bool, int64_t>::with<uint64_t>,
    // Reps or admin.
    caf::replies_to<get_atom, visit_atom, caller>::with<visit_stats>>::
    extend_with<entity_lifecycle, personal_data_holder>;

static_assert(std::is_convertible_v<booth_actor, personal_data_holder>);

void add_booth_types(caf::actor_system_config& cfg);

caf::expected<caf::actor> make_booth_actor(caf::actor_system& sys,
                                           const std::shared_ptr<runtime>& rt,
                                           const std::string& id, bool create,
                                           std::shared_ptr<resident_stats> stats);

}  // namespace mext::actors
