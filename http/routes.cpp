#include "http/routes.hpp"

#include "http/metrics.hpp"

namespace mext::http {

void add_api_routes(router& routes, std::shared_ptr<api> a, file_settings files) {
  add_account_routes(routes, a);
  add_catalog_routes(routes, a, std::move(files));
  add_chat_routes(routes, a);
  add_agenda_routes(routes, a);
  add_admin_routes(routes, std::move(a));
}

void add_sampled_metrics(const api& a, const server& srv) {
  if (!a.metrics) return;
  a.metrics->add_sampled("mext_http_open_connections", "gauge", "Client connections now open.",
                         [&srv] { return static_cast<double>(srv.open_connections()); });
  if (auto cache = a.booth_lists) {
    a.metrics->add_sampled("mext_booth_list_cache_hits_total", "counter",
                           "Booth list pages served from the cache.",
                           [cache] { return static_cast<double>(cache->hits()); });
    a.metrics->add_sampled("mext_booth_list_cache_misses_total", "counter",
                           "Booth list pages built by asking the actors.",
                           [cache] { return static_cast<double>(cache->misses()); });
  }
}

}  // namespace mext::http
