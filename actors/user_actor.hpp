#pragma once
// user actor (kind "usr"): one person's account and profile (seed 1.10.1 "user account
// information" and "user profile information"), schemas/user.capnp.
//
// The bridge makes the id (new_id("usr")), activates it through the directory (create) and sends
// `register`. Login looks the id up by email in the store (email_index_key) and sends `verify`.
// Access is checked here: a profile read by anyone but the owner or an admin is the public
// profile only; profile and password changes are the owner's or an admin's; roles are admins'.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
#include "persistence/field_sealer.hpp"

namespace mext::actors {

// The role names of the API: "visitor", "org_rep", "speaker", "admin".
struct role_grant {
  std::string role;
  // The organization id of an org_rep, the session id of a speaker; empty for visitor and admin.
  std::string scope;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, role_grant& x) {
  return f(caf::meta::type_name("mext.role_grant"), x.role, x.scope);
}

struct registration {
  std::string email;
  std::string password;
  std::string first_name;
  std::string surname;
  // Role names granted without scope; empty means {"visitor"}.
  std::vector<std::string> roles;
  int64_t at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, registration& x) {
  return f(caf::meta::type_name("mext.registration"), x.email, x.password, x.first_name, x.surname,
           x.roles, x.at_ms);
}

// A user as a reader may see it. The public profile (another signed-in user) has email, address,
// roles, rep_of, speaker_of and created_at_ms blanked.
struct user_view {
  std::string user_id;
  std::string first_name;
  std::string surname;
  std::string email;
  std::string linkedin_url;
  std::string photo_file_id;
  std::string country;
  std::string organization_id;
  std::string role_in_org;
  std::vector<std::string> interests;
  std::vector<std::string> keywords;
  std::string address;
  // Distinct role names held, in the order visitor, org_rep, speaker, admin.
  std::vector<std::string> roles;
  // Organizations the user represents (scopes of org_rep grants).
  std::vector<std::string> rep_of;
  // Sessions the user speaks at (scopes of speaker grants).
  std::vector<std::string> speaker_of;
  int64_t created_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_view& x) {
  return f(caf::meta::type_name("mext.user_view"), x.user_id, x.first_name, x.surname, x.email,
           x.linkedin_url, x.photo_file_id, x.country, x.organization_id, x.role_in_org,
           x.interests, x.keywords, x.address, x.roles, x.rep_of, x.speaker_of, x.created_at_ms);
}

// A PATCH of the profile: each field changes only when its has_ flag is set (an empty value then
// clears it, except first_name and surname, which cannot be empty).
struct profile_patch {
  bool has_first_name = false;
  std::string first_name;
  bool has_surname = false;
  std::string surname;
  bool has_email = false;
  std::string email;
  bool has_linkedin_url = false;
  std::string linkedin_url;
  bool has_photo_file_id = false;
  std::string photo_file_id;
  bool has_country = false;
  std::string country;
  bool has_organization_id = false;
  std::string organization_id;
  bool has_role_in_org = false;
  std::string role_in_org;
  bool has_interests = false;
  std::vector<std::string> interests;
  bool has_keywords = false;
  std::vector<std::string> keywords;
  bool has_address = false;
  std::string address;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, profile_patch& x) {
  return f(caf::meta::type_name("mext.profile_patch"), x.has_first_name, x.first_name,
           x.has_surname, x.surname, x.has_email, x.email, x.has_linkedin_url, x.linkedin_url,
           x.has_photo_file_id, x.photo_file_id, x.has_country, x.country, x.has_organization_id,
           x.organization_id, x.has_role_in_org, x.role_in_org, x.has_interests, x.interests,
           x.has_keywords, x.keywords, x.has_address, x.address);
}

using user_actor = caf::typed_actor<
    // Registers the account under this actor's id: errc::conflict when the email is taken
    // or the id is already registered (or erased), invalid_argument for a bad input.
    caf::replies_to<register_atom, registration>::with<user_view>,
    // The profile as `caller` may see it; not_found when never registered or erased.
    caf::replies_to<get_atom, caller>::with<user_view>,
    // Owner or admin; a changed email moves the email index atomically (conflict if taken).
    caf::replies_to<update_atom, caller, profile_patch>::with<user_view>,
    // Login: true when the password matches (constant-time); false once erased.
    caf::replies_to<verify_atom, std::string>::with<bool>,
    // (caller, old password, new password): owner or admin; a wrong old one is forbidden.
    caf::replies_to<password_atom, caller, std::string, std::string>::with<bool>,
    // Admin callers only.
    caf::replies_to<grant_atom, caller, role_grant>::with<user_view>,
    caf::replies_to<revoke_atom, caller, role_grant>::with<user_view>>::
    extend_with<entity_lifecycle>::extend_with<personal_data_holder>;

static_assert(std::is_convertible_v<user_actor, personal_data_holder>);

// Trimmed and lower-cased; nothing when it does not look like an email address.
std::optional<std::string> normalize_email(std::string_view email);

// The key of the email index in db::indexes ("email/" + blind index of the normalized email);
// its value is the user id. Login reads it with rt.store->get(db::indexes, key). An email that
// does not normalize gives a key no account holds.
std::string email_index_key(persistence::field_sealer& sealer, std::string_view email);

void add_user_types(caf::actor_system_config& cfg);

caf::expected<caf::actor> make_user_actor(caf::actor_system& sys,
                                          const std::shared_ptr<runtime>& rt, const std::string& id,
                                          bool create, std::shared_ptr<resident_stats> stats);

}  // namespace mext::actors
