#include "actors/entity_kinds.hpp"

#include "actors/agenda_actor.hpp"
#include "actors/booth_actor.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/connection_log_actor.hpp"
#include "actors/engine.hpp"
#include "actors/exhibition_actor.hpp"
#include "actors/organization_actor.hpp"
#include "actors/user_actor.hpp"

namespace mext::actors {

factory_map all_entity_kinds() {
  return {
      {"usr", make_user_actor},         {"clog", make_connection_log_actor},
      {"org", make_organization_actor}, {"exh", make_exhibition_actor},
      {"bth", make_booth_actor},        {"room", make_chat_room_actor},
      {"agd", make_agenda_actor},
  };
}

void add_all_message_types(caf::actor_system_config& cfg) {
  add_message_types(cfg);
  add_user_types(cfg);
  add_connection_log_types(cfg);
  add_organization_types(cfg);
  add_exhibition_types(cfg);
  add_booth_types(cfg);
  add_chat_room_types(cfg);
  add_agenda_types(cfg);
}

}  // namespace mext::actors
