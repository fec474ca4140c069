#pragma once
// The REST API of ../shared/API.md, route group by route group. Each group registers its routes on
// the router; mextd and the API tests register them all with add_api_routes.

#include <memory>

#include "http/api.hpp"
#include "http/files.hpp"
#include "http/privacy_routes.hpp"
#include "http/room_hub.hpp"
#include "http/server.hpp"
#include "http/ws_session_actor.hpp"

namespace mext::http {

// POST /auth/register, /auth/login, /auth/logout; GET/PATCH /me; POST /me/password;
// GET /users/{id}.
void add_account_routes(router& routes, std::shared_ptr<api> a);
// Organizations, exhibitions, booths, content, visits, files.
void add_catalog_routes(router& routes, std::shared_ptr<api> a);
// Room history, messages, deletion, direct rooms.
void add_chat_routes(router& routes, std::shared_ptr<api> a);
// Sessions of an exhibition, attendance, meetings, the agenda and its iCalendar form.
void add_agenda_routes(router& routes, std::shared_ptr<api> a);
// /admin/actors, /metrics, /api/v1/openapi.json.
void add_admin_routes(router& routes, std::shared_ptr<api> a);

// The WebSocket endpoint's protocol and fan-out settings.
struct websocket_options {
  ws_protocol_settings protocol;
  hub_settings hubs;
};

// GET /api/v1/ws; makes a->hubs and a->ws, and tells WebSocket sessions when their session is
// revoked.
void add_websocket_routes(router& routes, std::shared_ptr<api> a, websocket_options options);

// Every group above and the privacy routes (privacy_routes.hpp); `files` sets the upload rules
// of POST /files.
void add_api_routes(router& routes, std::shared_ptr<api> a, file_settings files = {},
                    websocket_options ws = {}, privacy_options privacy = {});

// Registers with a.metrics the figures sampled at scrape time: the server's open connections and
// the booth list cache. `srv` must outlive every scrape (it stops serving before it goes).
void add_sampled_metrics(const api& a, const server& srv);

}  // namespace mext::http
