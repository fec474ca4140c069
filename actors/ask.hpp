#pragma once
// Blocking calls into the engine, for start-up work (the first administrator, the demo) and for
// tests: never on an I/O thread or inside an actor.

#include <chrono>
#include <string>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/expected.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/directory.hpp"
#include "persistence/errors.hpp"

namespace mext::actors {

constexpr std::chrono::seconds blocking_call_timeout{30};

// Sends xs to `to` and waits for its answer of type R.
template <class R, class Handle, class... Ts>
caf::expected<R> ask(caf::scoped_actor& self, const Handle& to, Ts&&... xs) {
  caf::expected<R> out{make_error(errc::internal, "no answer")};
  self->request(to, blocking_call_timeout, std::forward<Ts>(xs)...)
      .receive([&](R& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

// The actor of `id`, as the typed handle of its kind; `create` activates a new entity.
template <class Handle>
caf::expected<Handle> entity(caf::scoped_actor& self, const directory_actor& dir,
                             const std::string& id, bool create) {
  auto hdl = create ? ask<caf::actor>(self, dir, activate_atom::value, id)
                    : ask<caf::actor>(self, dir, resolve_atom::value, id);
  if (!hdl) return hdl.error();
  return caf::actor_cast<Handle>(*hdl);
}

}  // namespace mext::actors
