#pragma once
// Who sends a request to an entity actor: checked by the actor that owns the data (architecture
// decision 7), not only at the HTTP edge.

#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace mext::actors {

struct caller {
  // The signed-in user; empty for an anonymous caller.
  std::string user_id;
  bool admin = false;
  // Organizations the user represents (org_rep), as the user's actor knows them.
  std::vector<std::string> rep_of;

  bool signed_in() const { return !user_id.empty(); }
  bool represents(const std::string& organization_id) const {
    for (auto& o : rep_of)
      if (o == organization_id) return true;
    return false;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, caller& x) {
  return f(caf::meta::type_name("mext.caller"), x.user_id, x.admin, x.rep_of);
}

}  // namespace mext::actors
