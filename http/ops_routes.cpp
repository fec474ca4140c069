#include "http/ops_routes.hpp"

#include <chrono>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "persistence/atoms.hpp"

namespace mext::http {
namespace {

// How long readiness waits for each actor; past it the engine is not ready.
constexpr std::chrono::seconds readiness_timeout{2};

}  // namespace

void add_ops_routes(router& routes, caf::actor_system& sys, const actors::engine& eng) {
  routes.add("GET", "/healthz",
             [](request&, respond_fn respond) { respond(json(200, R"({"status":"ok"})")); });
  auto dir = eng.directory();
  auto writer = eng.writer();
  routes.add("GET", "/readyz", [&sys, dir, writer](request&, respond_fn respond) {
    // The answer comes from the actors: a short-lived actor asks them so no I/O thread waits.
    sys.spawn([dir, writer, respond](caf::event_based_actor* self) {
      self->request(dir, readiness_timeout, stats_atom::value)
          .then(
              [=](const actors::directory_stats& ds) {
                self->request(writer, readiness_timeout, stats_atom::value)
                    .then(
                        [=](const persistence::store_stats& ss) {
                          nlohmann::json body{{"status", "ready"},
                                              {"resident_actors", ds.resident},
                                              {"commits", ss.commits}};
                          respond(json(200, body.dump()));
                        },
                        [=](caf::error&) {
                          respond(problem(503, "Not Ready", "the store does not answer"));
                        });
              },
              [=](caf::error&) {
                respond(problem(503, "Not Ready", "the directory does not answer"));
              });
    });
  });
}

}  // namespace mext::http
