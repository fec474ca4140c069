#pragma once
// Operations endpoints: GET /healthz (the process answers) and GET /readyz (the engine answers:
// the directory and the store actor both reply in time).

#include <caf/actor_system.hpp>

#include "actors/engine.hpp"
#include "http/server.hpp"

namespace mext::http {

void add_ops_routes(router& routes, caf::actor_system& sys, const actors::engine& eng);

}  // namespace mext::http
