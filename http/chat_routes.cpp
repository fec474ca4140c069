// Chat over REST (API.md "Chat"): room history, posting, deletion, and direct rooms.
//
// The room actor checks who may read, write and delete. A repeated client_msg_id (same author,
// same room) answers the first post's {message_id, sent_at}: 201 the first time, 200 afterwards,
// and writes nothing. History pages newest first; next_cursor (also accepted as ?before=) is
// opaque, and a plain message number is accepted as ?before= too.

#include "http/routes.hpp"

#include <optional>
#include <string>
#include <utility>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/chat_room_actor.hpp"
#include "actors/user_actor.hpp"
#include "http/auth.hpp"
#include "http/files.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

using actors::caller;
using njson = nlohmann::json;

constexpr uint32_t default_history = 50;
constexpr std::string_view cursor_prefix = "n";

std::string dump(const njson& j) {
  return j.dump(-1, ' ', false, njson::error_handler_t::replace);
}

bool is_entity_id(const std::string& id, std::string_view kind) {
  return is_valid_id(id) && id.find('.') == std::string::npos && kind_of(id) == kind;
}

caf::expected<uint64_t> parse_number(std::string_view s, std::string_view what) {
  if (s.empty() || s.size() > 19)
    return make_error(errc::invalid_argument, std::string{what} + " is malformed");
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return make_error(errc::invalid_argument, std::string{what} + " is malformed");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// The cursor of the page below message number n: "n<number>", as URL-safe as it is.
std::string cursor_of(uint64_t n) {
  return std::string{cursor_prefix} + std::to_string(n);
}

// ?before= or ?cursor=: a cursor from next_cursor, or a message number; 0 means the newest.
caf::expected<uint64_t> before_of(const request& req) {
  auto v = req.query_param("before");
  if (!v || v->empty()) v = req.query_param("cursor");
  if (!v || v->empty()) return uint64_t{0};
  std::string_view s{*v};
  if (s.substr(0, cursor_prefix.size()) == cursor_prefix) s.remove_prefix(cursor_prefix.size());
  auto n = parse_number(s, "before");
  if (!n) return n.error();
  if (*n == 0) return make_error(errc::invalid_argument, "before must be a message number >= 1");
  return *n;
}

caf::expected<uint32_t> limit_of(const request& req) {
  auto v = req.query_param("limit");
  if (!v) return default_history;
  auto n = parse_number(*v, "limit");
  if (!n || *n < 1 || *n > actors::max_history_limit)
    return make_error(errc::invalid_argument, "limit must be 1..200");
  return static_cast<uint32_t>(*n);
}

njson message_json(const actors::message_view& m) {
  njson j{{"message_id", m.message_id},
          {"author_id", m.author_id},
          {"text", m.text},
          {"sent_at", format_rfc3339(m.sent_at_ms)},
          {"number", m.number}};
  if (!m.file_id.empty()) j["file_id"] = m.file_id;
  if (m.deleted) j["deleted"] = true;
  return j;
}

void add_message_routes(router& routes, std::shared_ptr<api> a) {
  routes.add("GET", "/api/v1/rooms/{id}/messages", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    auto req_id = req.request_id;
    auto before = before_of(req);
    auto limit = limit_of(req);
    require_user(*a, req, respond, [a, id, before, limit, respond, req_id](principal p) {
      if (!is_entity_id(id, "room")) return respond(problem(404, "Not Found", "no such room"));
      if (!before) return respond(from_error(before.error()));
      if (!limit) return respond(from_error(limit.error()));
      auto read = [a, id, before, limit, respond, p] {
        call<actors::chat_room_actor, actors::history_page>(
            *a, id, false, respond,
            [respond](actors::history_page page) {
              njson items = njson::array();
              for (auto& m : page.items) items.push_back(message_json(m));
              njson body{{"items", std::move(items)}, {"next_cursor", nullptr}};
              if (page.next_before != 0) body["next_cursor"] = cursor_of(page.next_before);
              respond(json(200, dump(body)));
            },
            history_atom::value, p.caller, *before, *limit);
      };
      if (!p.caller.admin) return read();
      // An administrator reading a direct room of others reads their messages: audited first.
      call<actors::chat_room_actor, actors::room_view>(
          *a, id, false, respond,
          [a, id, respond, p, read, rid = req_id](actors::room_view room) {
            if (!actors::is_others_direct_room(room, p.caller.user_id)) return read();
            actors::audit_entry e;
            e.at_ms = actors::now_ms();
            e.who = p.caller.user_id;
            e.whose = room.member_ids;
            e.action = "read_direct_room";
            e.target = id;
            e.request_id = rid;
            audit_then(*a, std::move(e), respond, read);
          },
          get_atom::value, p.caller);
    });
  });

  routes.add("POST", "/api/v1/rooms/{id}/messages", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, id, body, respond](principal p) {
      if (!is_entity_id(id, "room")) return respond(problem(404, "Not Found", "no such room"));
      if (!body) return respond(from_error(body.error()));
      auto text = optional_string(*body, "text", actors::max_message_bytes);
      if (!text) return respond(from_error(text.error()));
      auto file_id = optional_string(*body, "file_id", 200);
      if (!file_id) return respond(from_error(file_id.error()));
      auto client_msg_id = required_string(*body, "client_msg_id", actors::max_client_msg_id_bytes);
      if (!client_msg_id) return respond(from_error(client_msg_id.error()));
      actors::post_spec spec{text->value_or(""), file_id->value_or(""), *client_msg_id};
      if (!spec.file_id.empty())
        if (auto err = check_attachable(*a, p.caller, spec.file_id))
          return respond(from_error(err));
      call<actors::chat_room_actor, actors::posted>(
          *a, id, false, respond,
          [a, id, file = spec.file_id, respond](actors::posted r) {
            auto answer = [respond, r] {
              njson out{{"message_id", r.message_id}, {"sent_at", format_rfc3339(r.sent_at_ms)}};
              respond(json(r.duplicate ? 200 : 201, dump(out)));
            };
            if (file.empty()) return answer();
            // Recorded after the message is durable; a retry with the same client_msg_id
            // records it again if this write failed.
            record_attachment(*a, file, id, "room", [respond, answer](caf::error err) {
              if (err) return respond(from_error(err));
              answer();
            });
          },
          post_atom::value, p.caller, spec, actors::now_ms());
    });
  });

  routes.add("DELETE", "/api/v1/rooms/{id}/messages/{message_id}",
             [a](request& req, respond_fn respond) {
               auto id = req.params["id"];
               auto message_id = req.params["message_id"];
               require_user(*a, req, respond, [a, id, message_id, respond](principal p) {
                 if (!is_entity_id(id, "room"))
                   return respond(problem(404, "Not Found", "no such room"));
                 if (!is_valid_id(message_id) || owner_of(message_id) != id)
                   return respond(problem(404, "Not Found", "no such message"));
                 call<actors::chat_room_actor, actors::message_view>(
                     *a, id, false, respond,
                     [respond, id, message_id, p](actors::message_view) {
                       log::info("chat.message_deleted")
                           .field("room_id", id)
                           .field("message_id", message_id)
                           .field("by", p.caller.user_id);
                       respond(response{204, "", "", {}});
                     },
                     delete_atom::value, p.caller, message_id);
               });
             });
}

void add_direct_routes(router& routes, std::shared_ptr<api> a) {
  routes.add("POST", "/api/v1/direct/{user_id}", [a](request& req, respond_fn respond) {
    auto other = req.params["user_id"];
    require_user(*a, req, respond, [a, other, respond](principal p) {
      if (!is_entity_id(other, "usr")) return respond(problem(404, "Not Found", "no such user"));
      if (other == p.caller.user_id)
        return respond(problem(400, "Bad Request", "a direct room needs another person"));
      // The other person must exist (and not be erased) before a room names them.
      call<actors::user_actor, actors::user_view>(
          *a, other, false, respond,
          [a, other, respond, p](actors::user_view) {
            auto room_id = actors::direct_room_id(p.caller.user_id, other);
            actors::room_spec spec{"direct", "", "", {p.caller.user_id, other}};
            call<actors::chat_room_actor, actors::room_view>(
                *a, room_id, true, respond,
                [respond](actors::room_view v) {
                  njson out{{"room_id", v.room_id}, {"kind", v.kind}, {"member_ids", v.member_ids}};
                  respond(json(200, dump(out)));
                },
                create_atom::value, p.caller, spec, actors::now_ms());
          },
          get_atom::value, p.caller);
    });
  });
}

}  // namespace

void add_chat_routes(router& routes, std::shared_ptr<api> a) {
  add_message_routes(routes, a);
  add_direct_routes(routes, a);
}

}  // namespace mext::http
