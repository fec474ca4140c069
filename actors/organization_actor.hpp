#pragma once
// organization (kind "org"): an organization's public administrative information, its
// representatives, and third-party content mentioning it (the seed's three kinds of data about
// organizations). A person's data here is their representative membership and their mentions.

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

// Public administrative information. name: 1-200 characters; website: empty or an http(s) URL.
struct organization_info {
  std::string name;
  std::string country;
  std::string website;
  std::string description;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, organization_info& x) {
  return f(caf::meta::type_name("mext.organization_info"), x.name, x.country, x.website,
           x.description);
}

// representative_ids is always filled: the bridge decides whom to show it to.
struct organization_view {
  std::string organization_id;
  std::string name;
  std::string country;
  std::string website;
  std::string description;
  std::vector<std::string> representative_ids;
  int64_t created_at_ms = 0;

  bool operator==(const organization_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, organization_view& x) {
  return f(caf::meta::type_name("mext.organization_view"), x.organization_id, x.name, x.country,
           x.website, x.description, x.representative_ids, x.created_at_ms);
}

// Third-party content mentioning the organization. The author is always the caller: author_id
// may be left empty, and naming anyone else is forbidden.
struct mention {
  std::string author_id;
  std::string source_url;
  std::string text;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mention& x) {
  return f(caf::meta::type_name("mext.mention"), x.author_id, x.source_url, x.text);
}

// Errors: not_found (never created), forbidden, invalid_argument, conflict, unauthenticated.
// `caller` is the acting user as the bridge knows it (caller.rep_of from the user's actor).
using organization_actor = caf::typed_actor<
    // Admin only; the actor is activated with create=true first. Twice: conflict.
    caf::replies_to<create_atom, caller, organization_info, int64_t>::with<organization_view>,
    // Anyone.
    caf::replies_to<get_atom>::with<organization_view>,
    // Admin or a representative of this organization; replaces the whole info.
    caf::replies_to<update_atom, caller, organization_info, int64_t>::with<organization_view>,
    // Admin only; adds / removes a representative (a user id); both idempotent.
    caf::replies_to<add_atom, caller, std::string>::with<organization_view>,
    caf::replies_to<remove_atom, caller, std::string>::with<organization_view>,
    // Any signed-in caller; answers the mention id (a child id of the organization).
    caf::replies_to<mention_atom, caller, mention, int64_t>::with<std::string>>::
    extend_with<entity_lifecycle, personal_data_holder>;

static_assert(std::is_convertible_v<organization_actor, personal_data_holder>);

void add_organization_types(caf::actor_system_config& cfg);

caf::expected<caf::actor> make_organization_actor(caf::actor_system& sys,
                                                  const std::shared_ptr<runtime>& rt,
                                                  const std::string& id, bool create,
                                                  std::shared_ptr<resident_stats> stats);

}  // namespace mext::actors
