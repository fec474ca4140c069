#pragma once
// exhibition (kind "exh"): a virtual exhibition, the booths recorded in it, and its agenda of talks
// (sessions) with the speakers' pictures and videos. A person's data here is their place as a
// speaker on sessions ("sessions") and their media ("speaker_media").

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

// title: 1-300 characters; ends_at_ms > starts_at_ms.
struct exhibition_info {
  std::string title;
  std::string description;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exhibition_info& x) {
  return f(caf::meta::type_name("mext.exhibition_info"), x.title, x.description, x.starts_at_ms,
           x.ends_at_ms);
}

struct exhibition_view {
  std::string exhibition_id;
  std::string title;
  std::string description;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::vector<std::string> booth_ids;
  int64_t created_at_ms = 0;

  bool operator==(const exhibition_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exhibition_view& x) {
  return f(caf::meta::type_name("mext.exhibition_view"), x.exhibition_id, x.title, x.description,
           x.starts_at_ms, x.ends_at_ms, x.booth_ids, x.created_at_ms);
}

struct booth_ref {
  std::string booth_id;
  std::string organization_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, booth_ref& x) {
  return f(caf::meta::type_name("mext.booth_ref"), x.booth_id, x.organization_id);
}

// A talk: title 1-300 characters, within the exhibition's span, ends after it starts;
// speaker_ids are user ids (duplicates are dropped).
struct session_spec {
  std::string title;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::vector<std::string> speaker_ids;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_spec& x) {
  return f(caf::meta::type_name("mext.session_spec"), x.title, x.starts_at_ms, x.ends_at_ms,
           x.speaker_ids);
}

// A speaker's picture or video: kind "picture" or "video"; caption at most 1000 characters.
struct speaker_media {
  std::string speaker_id;
  std::string kind;
  std::string file_id;
  std::string caption;

  bool operator==(const speaker_media&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, speaker_media& x) {
  return f(caf::meta::type_name("mext.speaker_media"), x.speaker_id, x.kind, x.file_id, x.caption);
}

// session_id is a child id of the exhibition. This actor only records who speaks: granting the
// `speaker` role on each speaker's user actor is the bridge's job.
struct session_view {
  std::string session_id;
  std::string exhibition_id;
  std::string title;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  std::vector<std::string> speaker_ids;
  std::vector<speaker_media> media;

  bool operator==(const session_view&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_view& x) {
  return f(caf::meta::type_name("mext.session_view"), x.session_id, x.exhibition_id, x.title,
           x.starts_at_ms, x.ends_at_ms, x.speaker_ids, x.media);
}

// Errors: not_found (exhibition never created, unknown session), forbidden, invalid_argument,
// conflict.
using exhibition_actor = caf::typed_actor<
    // Admin only; the actor is activated with create=true first. Twice: conflict.
    caf::replies_to<create_atom, caller, exhibition_info, int64_t>::with<exhibition_view>,
    // Anyone.
    caf::replies_to<get_atom>::with<exhibition_view>,
    // Records a booth: admin or a representative of booth_ref.organization_id. Recording the
    // same booth again is a no-op; the same booth id for another organization is a conflict.
    caf::replies_to<booth_atom, caller, booth_ref>::with<exhibition_view>,
    // Adds a session: admin only.
    caf::replies_to<session_atom, caller, session_spec>::with<session_view>,
    // Anyone: one session, or all of them ordered by start time.
    caf::replies_to<get_atom, session_atom, std::string>::with<session_view>,
    caf::replies_to<list_atom, session_atom>::with<std::vector<session_view>>,
    // Adds media to a session (id given): admin or the speaker the media belongs to, who must
    // speak at that session.
    caf::replies_to<media_atom, caller, std::string, speaker_media>::with<session_view>>::
    extend_with<entity_lifecycle, personal_data_holder>;

static_assert(std::is_convertible_v<exhibition_actor, personal_data_holder>);

void add_exhibition_types(caf::actor_system_config& cfg);

caf::expected<caf::actor> make_exhibition_actor(caf::actor_system& sys,
                                                const std::shared_ptr<runtime>& rt,
                                                const std::string& id, bool create,
                                                std::shared_ptr<resident_stats> stats);

}  // namespace mext::actors
