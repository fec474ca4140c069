#pragma once
// connection log actor (kind "clog"): one person's connection data (seed 1.10.1 "Data of
// connection: time, IP address, ISP, proxys, referrer, device Type and Operating System,
// resolution"), schemas/connection_log.capnp. Its id is connection_log_id(user id); the bridge
// activates it with create (first login) and records every login and WebSocket connection.
// Entries live until the retention job purges them, or until the person is erased.

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

struct connection_entry {
  int64_t at_ms = 0;
  // "login" or "websocket".
  std::string kind;
  std::string ip;
  std::string isp;
  std::vector<std::string> proxies;
  std::string referrer;
  std::string device_type;
  std::string os;
  // Screen resolution, e.g. "1920x1080".
  std::string screen;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_entry& x) {
  return f(caf::meta::type_name("mext.connection_entry"), x.at_ms, x.kind, x.ip, x.isp, x.proxies,
           x.referrer, x.device_type, x.os, x.screen);
}

using connection_log_actor = caf::typed_actor<
    // Appends an entry (at_ms 0 means now); answers how many entries the log holds.
    caf::replies_to<record_atom, connection_entry>::with<uint64_t>,
    // (caller, limit): newest first, at most `limit` (0 means 100; at most 1,000). Only the
    // person or an admin.
    caf::replies_to<get_atom, caller, uint32_t>::with<std::vector<connection_entry>>,
    // Retention: removes every entry older than before_ms, from the event log too; answers how
    // many were removed.
    caf::replies_to<purge_atom, int64_t>::with<uint64_t>>::extend_with<entity_lifecycle>::
    extend_with<personal_data_holder>;

static_assert(std::is_convertible_v<connection_log_actor, personal_data_holder>);

// "clog_" + the hex part of the user id ("usr_<hex>" -> "clog_<hex>").
std::string connection_log_id(const std::string& user_id);

// The user id a connection log belongs to ("clog_<hex>" -> "usr_<hex>").
std::string connection_log_owner(const std::string& log_id);

void add_connection_log_types(caf::actor_system_config& cfg);

caf::expected<caf::actor> make_connection_log_actor(caf::actor_system& sys,
                                                    const std::shared_ptr<runtime>& rt,
                                                    const std::string& id, bool create,
                                                    std::shared_ptr<resident_stats> stats);

}  // namespace mext::actors
