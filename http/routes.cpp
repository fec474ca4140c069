#include "http/routes.hpp"

#include "http/auth.hpp"
#include "http/metrics.hpp"

namespace mext::http {

void add_websocket_routes(router& routes, std::shared_ptr<api> a, websocket_options options) {
  a->hubs = room_hubs::make(a->sys, a->eng.directory(), options.hubs);
  a->ws = std::make_shared<ws_sessions>();
  if (a->sessions) {
    std::weak_ptr<ws_sessions> ws = a->ws;
    a->sessions->on_revoke([ws](const std::string& token_hash, const std::string& reason) {
      if (auto live = ws.lock()) live->end(token_hash, reason);
    });
  }
  add_websocket_route(routes, a, a->hubs, a->ws, options.protocol);
}

void add_api_routes(router& routes, std::shared_ptr<api> a, file_settings files,
                    websocket_options ws, privacy_options privacy) {
  add_account_routes(routes, a);
  add_privacy_routes(routes, a, std::move(privacy));
  add_catalog_routes(routes, a, std::move(files));
  add_chat_routes(routes, a);
  add_agenda_routes(routes, a);
  add_websocket_routes(routes, a, ws);
  add_admin_routes(routes, std::move(a));
}

void add_sampled_metrics(const api& a, const server& srv) {
  if (!a.metrics) return;
  a.metrics->add_sampled("mext_http_open_connections", "gauge", "Client connections now open.",
                         [&srv] { return static_cast<double>(srv.open_connections()); });
  a.metrics->add_sampled("mext_http_refused_connections_total", "counter",
                         "Connections closed on arrival because max-connections were open.",
                         [&srv] { return static_cast<double>(srv.refused_connections()); });
  a.metrics->add_sampled(
      "mext_http_refused_per_address_connections_total", "counter",
      "Connections closed on arrival because their address had max-connections-per-address open.",
      [&srv] { return static_cast<double>(srv.refused_per_address_connections()); });
  if (auto cache = a.booth_lists) {
    a.metrics->add_sampled("mext_booth_list_cache_hits_total", "counter",
                           "Booth list pages served from the cache.",
                           [cache] { return static_cast<double>(cache->hits()); });
    a.metrics->add_sampled("mext_booth_list_cache_misses_total", "counter",
                           "Booth list pages built by asking the actors.",
                           [cache] { return static_cast<double>(cache->misses()); });
  }
  if (auto hubs = a.hubs) {
    a.metrics->add_sampled("mext_ws_rooms", "gauge", "Chat rooms with WebSocket members here.",
                           [hubs] { return static_cast<double>(hubs->rooms()); });
    a.metrics->add_sampled("mext_ws_room_members", "gauge",
                           "WebSocket connections joined to rooms, summed over rooms.",
                           [hubs] { return static_cast<double>(hubs->members()); });
  }
  if (auto ws = a.ws)
    a.metrics->add_sampled("mext_ws_sessions", "gauge", "Signed-in WebSocket connections.",
                           [ws] { return static_cast<double>(ws->size()); });
}

}  // namespace mext::http
