#pragma once
// Start-up work of mextd: the first administrator, and the demo exhibition.

#include <optional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/expected.hpp>

#include "actors/engine.hpp"

namespace mext::actors {

struct admin_credentials {
  std::string email;
  std::string password;
};

// The id of the administrator, creating one from `credentials` when none exists yet.
// errc::not_found when there is none and no credentials were given.
caf::expected<std::string> ensure_admin(caf::actor_system& sys, engine& eng,
                                        const std::optional<admin_credentials>& credentials);

struct demo_person {
  std::string user_id;
  std::string email;
  std::string role;  // "visitor", "org_rep", "speaker"
};

struct demo_summary {
  bool loaded = false;  // false: the data directory already had an exhibition
  std::string exhibition_id;
  std::vector<std::string> organization_ids;
  std::vector<std::string> booth_ids;
  std::vector<std::string> session_ids;
  std::vector<demo_person> people;
};

// Loads the demo exhibition (organizations, booths with every kind of content and their chat
// rooms, sessions with speakers, visitors with agendas, a meeting and a few messages) unless an
// exhibition exists already. Every demo person signs in with `password`.
caf::expected<demo_summary> load_demo(caf::actor_system& sys, engine& eng,
                                      const std::string& admin_id, const std::string& password);

}  // namespace mext::actors
