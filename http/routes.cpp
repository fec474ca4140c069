#include "http/routes.hpp"

namespace mext::http {

void add_api_routes(router& routes, std::shared_ptr<api> a, file_settings files) {
  add_account_routes(routes, a);
  add_catalog_routes(routes, a, std::move(files));
  add_chat_routes(routes, a);
  add_agenda_routes(routes, a);
  add_admin_routes(routes, std::move(a));
}

}  // namespace mext::http
