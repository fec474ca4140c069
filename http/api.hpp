#pragma once
// The bridge between HTTP routes and the engine's actors.
//
// A route handler runs on an I/O thread and must not wait: it parses and checks the request, then
// `call`s an entity actor. The call runs inside a short-lived CAF actor that resolves the entity
// through the directory, sends the message, and answers the connection through respond_fn. When
// the entity passivated while the message was in flight, the call resolves it again once.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>
#include <caf/sec.hpp>
#include <nlohmann/json.hpp>

#include "actors/audit_log.hpp"
#include "actors/breach_actor.hpp"
#include "actors/caller.hpp"
#include "actors/directory.hpp"
#include "actors/engine.hpp"
#include "actors/privacy_actor.hpp"
#include "http/response_cache.hpp"
#include "http/server.hpp"
#include "persistence/errors.hpp"

namespace mext::http {

struct api_limits {
  // How long a call waits for an actor before answering 503.
  std::chrono::seconds actor_timeout{10};
  // JSON bodies: nesting depth and size (the server's max_body_bytes bounds the raw body too).
  int max_json_depth = 16;
  size_t max_json_bytes = 256 * 1024;
};

class session_store;     // http/auth.hpp: tokens, sessions, login throttling
class edge_guard;        // http/edge_guard.hpp: per-IP rate limits
class metrics_registry;  // http/metrics.hpp: Prometheus counters and histograms
class room_hubs;         // http/room_hub.hpp: WebSocket fan-out per chat room
class ws_sessions;       // http/ws_session_actor.hpp: live WebSocket sessions by token

// What every route shares. Built once by mextd (or a test) before the server starts.
struct api {
  caf::actor_system& sys;
  const actors::engine& eng;
  api_limits limits;
  std::shared_ptr<session_store> sessions;
  std::shared_ptr<edge_guard> guard;
  std::shared_ptr<metrics_registry> metrics;
  // Cached pages of GET /exhibitions/{id}/booths; null serves every request from the actors.
  std::shared_ptr<response_cache> booth_lists = std::make_shared<response_cache>();
  // Made by add_api_routes along with GET /api/v1/ws.
  std::shared_ptr<room_hubs> hubs;
  std::shared_ptr<ws_sessions> ws;
  // Made by add_privacy_routes; stop it with stop_privacy before the engine stops.
  actors::privacy_actor privacy;
  // The breach register, made by add_privacy_routes as well.
  actors::breach_actor breaches;
};

// -- JSON at the edge -----------------------------------------------------------------------

// The body as a JSON object: 400 for malformed JSON, invalid UTF-8, too deep nesting or anything
// that is not an object; 413 beyond limits.max_json_bytes.
caf::expected<nlohmann::json> parse_object(const api_limits& limits, const request& req);
// The same for a text that is not a request body (a WebSocket frame).
caf::expected<nlohmann::json> parse_object_text(const api_limits& limits, std::string_view text);

// A required string field of at most max_len bytes (and not empty when non_empty).
caf::expected<std::string> required_string(const nlohmann::json& body, std::string_view name,
                                           size_t max_len, bool non_empty = true);
// An optional string field: nothing when absent or null.
caf::expected<std::optional<std::string>> optional_string(const nlohmann::json& body,
                                                          std::string_view name, size_t max_len);
caf::expected<std::vector<std::string>> string_list(const nlohmann::json& body,
                                                    std::string_view name, size_t max_items,
                                                    size_t max_len);
caf::expected<bool> optional_bool(const nlohmann::json& body, std::string_view name, bool fallback);
// An RFC 3339 UTC time ("2026-11-28T10:00:00Z", optional fraction, or an offset) as ms since epoch.
caf::expected<int64_t> required_time(const nlohmann::json& body, std::string_view name);
caf::expected<int64_t> parse_rfc3339(std::string_view text);
// ms since epoch as RFC 3339 UTC with a Z ("2026-11-28T10:00:00Z"; milliseconds when non-zero).
std::string format_rfc3339(int64_t ms);

// ?limit= of a list: 1..1000, 100 when absent; 400 otherwise.
caf::expected<uint32_t> parse_list_limit(const request& req);

// Unwraps an expected or answers its error from the enclosing handler.
#define MEXT_TRY_OR_RESPOND(var, expr) \
  auto var = (expr);                   \
  if (!var) {                          \
    respond(from_error(var.error()));  \
    return;                            \
  }

// 404 problem+json "no such <what>".
response not_found(std::string what);

// Opaque page cursors: an id as unpadded base64url, and back (nothing for a malformed cursor).
std::string base64url(std::string_view in);
std::optional<std::string> unbase64url(std::string_view in);

// -- calling actors ---------------------------------------------------------------------------

// Answers with the error's status and detail as problem+json.
inline void respond_error(const respond_fn& respond, const caf::error& err) {
  respond(from_error(err));
}

namespace detail {

inline bool is_retryable(const caf::error& err) {
  if (code_of(err) == errc::passivated) return true;
  return err.category() == caf::atom("system") &&
         static_cast<caf::sec>(err.code()) == caf::sec::request_receiver_down;
}

struct call_target {
  actors::directory_actor dir;
  std::string id;
  bool create = false;
  std::chrono::seconds timeout{10};
};

template <class Handle, class R, class OnOk, class Args>
void call_entity(caf::event_based_actor* self, call_target t, int attempts_left, respond_fn respond,
                 OnOk on_ok, std::shared_ptr<Args> args) {
  auto on_failed = [=](caf::error& err) {
    respond_error(respond, err);
    self->quit();
  };
  auto on_resolved = [=](caf::actor hdl) {
    auto typed = caf::actor_cast<Handle>(hdl);
    std::apply(
        [&](const auto&... xs) {
          self->request(typed, t.timeout, xs...)
              .then(
                  [=](R& result) {
                    on_ok(std::move(result));
                    self->quit();
                  },
                  [=](caf::error& err) {
                    if (attempts_left > 0 && is_retryable(err)) {
                      call_entity<Handle, R>(self, t, attempts_left - 1, respond, on_ok, args);
                      return;
                    }
                    on_failed(err);
                  });
        },
        *args);
  };
  if (t.create)
    self->request(t.dir, t.timeout, activate_atom::value, t.id).then(on_resolved, on_failed);
  else
    self->request(t.dir, t.timeout, resolve_atom::value, t.id).then(on_resolved, on_failed);
}

}  // namespace detail

// Sends args to the entity `id` (of the kind whose typed handle is Handle), whose answer is of
// type R, and hands the answer to on_ok, which must call respond. Errors answer as problem+json.
// With `create`, an unknown id activates a new entity instead of answering 404.
template <class Handle, class R, class OnOk, class... Ts>
void call(const api& a, std::string id, bool create, respond_fn respond, OnOk on_ok, Ts... args) {
  detail::call_target t{a.eng.directory(), std::move(id), create, a.limits.actor_timeout};
  auto packed = std::make_shared<std::tuple<Ts...>>(std::move(args)...);
  a.sys.spawn([=](caf::event_based_actor* self) {
    detail::call_entity<Handle, R>(self, t, 1, respond, on_ok, packed);
  });
}

// Commits `item` through the store actor; `done` runs (on an actor thread) once it is durable.
void commit_item(const api& a, persistence::write_item item, std::function<void(caf::error)> done);

// Commits an entry of the audit log, then runs `then` (on an actor thread); answers the error
// itself when the entry cannot be made durable: nothing audited happens without its entry.
void audit_then(const api& a, actors::audit_entry e, respond_fn respond,
                std::function<void()> then);

// Sends args to a typed actor that is not an entity (the privacy actor) and hands its answer, of
// type R, to on_ok, which must call respond. Errors answer as problem+json.
template <class R, class Handle, class OnOk, class... Ts>
void ask_actor(const api& a, Handle to, respond_fn respond, OnOk on_ok, Ts... args) {
  auto packed = std::make_shared<std::tuple<Ts...>>(std::move(args)...);
  auto timeout = a.limits.actor_timeout;
  a.sys.spawn([=](caf::event_based_actor* self) {
    std::apply(
        [&](const auto&... xs) {
          self->request(to, timeout, xs...)
              .then(
                  [=](R& result) {
                    on_ok(std::move(result));
                    self->quit();
                  },
                  [=](caf::error& err) {
                    respond_error(respond, err);
                    self->quit();
                  });
        },
        *packed);
  });
}

}  // namespace mext::http
