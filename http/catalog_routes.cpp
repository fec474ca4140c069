// Organizations, exhibitions, booths, their content and visits (API.md "Organizations,
// exhibitions, booths, content"), and the file routes (files.hpp).
//
// Anyone reads the catalog. Representative lists, content authors and visit figures are shown only
// to administrators and the organization's representatives. Lists page with ?limit= (1..200,
// default 50) and an opaque ?cursor= (base64url of the last id of the page before).

#include "http/routes.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/booth_actor.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/exhibition_actor.hpp"
#include "actors/organization_actor.hpp"
#include "actors/user_actor.hpp"
#include "http/auth.hpp"
#include "http/files.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

using actors::caller;
using njson = nlohmann::json;

constexpr std::size_t default_page = 50;
constexpr std::size_t max_page = 200;
// Entities of one kind listed at most; far above any fair's catalog.
constexpr std::size_t max_listed = 100000;
// Edge bounds of text fields; the actors check the exact rules.
constexpr std::size_t max_line_bytes = 2000;
constexpr std::size_t max_text_bytes = 400000;

std::string dump(const njson& j) {
  return j.dump(-1, ' ', false, njson::error_handler_t::replace);
}

bool is_entity_id(const std::string& id, std::string_view kind) {
  return is_valid_id(id) && id.find('.') == std::string::npos && kind_of(id) == kind;
}

caller caller_of(const std::optional<principal>& p) {
  return p ? p->caller : caller{};
}

bool may_see_reps(const caller& c, const std::string& organization_id) {
  return c.admin || c.represents(organization_id);
}

response forbidden(std::string detail) {
  return problem(403, "Forbidden", std::move(detail));
}

// -- paging -----------------------------------------------------------------------------------

struct page_request {
  std::size_t limit = default_page;
  std::string after;  // the last id of the previous page; empty for the first
};

caf::expected<page_request> page_of(const request& req) {
  page_request p;
  if (auto l = req.query_param("limit")) {
    std::size_t n = 0;
    bool ok = !l->empty() && l->size() <= 4;
    for (char c : *l) ok = ok && c >= '0' && c <= '9';
    if (ok) n = std::stoul(*l);
    if (!ok || n < 1 || n > max_page)
      return make_error(errc::invalid_argument, "limit must be 1..200");
    p.limit = n;
  }
  if (auto c = req.query_param("cursor"); c && !c->empty()) {
    auto id = unbase64url(*c);
    if (!id || !is_valid_id(*id)) return make_error(errc::invalid_argument, "malformed cursor");
    p.after = std::move(*id);
  }
  return p;
}

// One page of `ids` (in their order) after the cursor's id; next is empty on the last page.
caf::expected<std::vector<std::string>> slice(const std::vector<std::string>& ids,
                                              const page_request& p, std::string& next) {
  auto from = ids.begin();
  if (!p.after.empty()) {
    from = std::find(ids.begin(), ids.end(), p.after);
    if (from == ids.end()) return make_error(errc::invalid_argument, "the cursor is stale");
    ++from;
  }
  auto to = from + static_cast<std::ptrdiff_t>(
                       std::min<std::size_t>(p.limit, static_cast<std::size_t>(ids.end() - from)));
  std::vector<std::string> out{from, to};
  next = (to != ids.end() && !out.empty()) ? base64url(out.back()) : std::string{};
  return out;
}

response list_response(njson items, const std::string& next) {
  njson body{{"items", std::move(items)}, {"next_cursor", nullptr}};
  if (!next.empty()) body["next_cursor"] = next;
  return json(200, dump(body));
}

// Every stored entity of a kind, sorted by id.
caf::expected<std::vector<std::string>> entity_ids(const api& a, std::string_view kind) {
  auto found = a.eng.rt()->store->entities(std::string{kind} + "_", max_listed);
  if (!found) return found.error();
  std::vector<std::string> ids;
  for (auto& id : *found)
    if (is_entity_id(id, kind)) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

// Sends the same message to several entities at once and hands `done` the answers in the order
// of `ids`; an entity that fails to answer (gone meanwhile) is left out.
template <class Handle, class R, class... Ts>
void gather(const std::shared_ptr<api>& a, const std::vector<std::string>& ids,
            std::function<void(std::vector<R>)> done, Ts... args) {
  if (ids.empty()) {
    done({});
    return;
  }
  struct state {
    std::mutex m;
    std::vector<std::optional<R>> out;
    std::size_t left = 0;
  };
  auto st = std::make_shared<state>();
  st->out.resize(ids.size());
  st->left = ids.size();
  auto settle = [st, done] {
    std::vector<R> all;
    {
      std::lock_guard<std::mutex> guard{st->m};
      if (--st->left != 0) return;
      for (auto& x : st->out)
        if (x) all.push_back(std::move(*x));
    }
    done(std::move(all));
  };
  for (std::size_t i = 0; i < ids.size(); ++i) {
    call<Handle, R>(
        *a, ids[i], false, [settle](response) { settle(); },
        [st, settle, i](R v) {
          {
            std::lock_guard<std::mutex> guard{st->m};
            st->out[i] = std::move(v);
          }
          settle();
        },
        args...);
  }
}

// -- JSON of the views ------------------------------------------------------------------------

njson organization_json(const actors::organization_view& v, bool with_reps) {
  njson j{{"organization_id", v.organization_id},
          {"name", v.name},
          {"country", v.country},
          {"website", v.website},
          {"description", v.description},
          {"created_at", format_rfc3339(v.created_at_ms)}};
  if (with_reps) j["representative_ids"] = v.representative_ids;
  return j;
}

njson exhibition_json(const actors::exhibition_view& v) {
  return njson{{"exhibition_id", v.exhibition_id},
               {"title", v.title},
               {"description", v.description},
               {"starts_at", format_rfc3339(v.starts_at_ms)},
               {"ends_at", format_rfc3339(v.ends_at_ms)},
               {"booth_count", v.booth_ids.size()},
               {"created_at", format_rfc3339(v.created_at_ms)}};
}

njson content_json(const std::string& booth_id, const actors::content_view& c, bool with_author) {
  njson j{{"content_id", c.content_id},
          {"booth_id", booth_id},
          {"kind", c.kind},
          {"title", c.title},
          {"body", c.body},
          {"created_at", format_rfc3339(c.created_at_ms)}};
  if (!c.file_id.empty()) j["file_id"] = c.file_id;
  if (with_author) j["author_id"] = c.author_id;
  return j;
}

njson booth_summary_json(const actors::booth_view& v) {
  return njson{{"booth_id", v.booth_id},
               {"exhibition_id", v.exhibition_id},
               {"organization_id", v.organization_id},
               {"name", v.name},
               {"description", v.description},
               {"chat_room_id", v.chat_room_id},
               {"content_count", v.content.size()}};
}

njson booth_json(const actors::booth_view& v, bool rep_view) {
  auto j = booth_summary_json(v);
  njson content = njson::array();
  for (auto& c : v.content) content.push_back(content_json(v.booth_id, c, rep_view));
  j["content"] = std::move(content);
  return j;
}

// -- request bodies ---------------------------------------------------------------------------

// An optional string field, or the fallback when it is absent.
caf::expected<std::string> string_or(const njson& body, std::string_view name, std::size_t max,
                                     std::string fallback) {
  auto v = optional_string(body, name, max);
  if (!v) return v.error();
  return *v ? std::move(**v) : std::move(fallback);
}

caf::expected<actors::organization_info> organization_info_of(
    const njson& body, const actors::organization_info& base) {
  actors::organization_info info;
  auto name = string_or(body, "name", max_line_bytes, base.name);
  if (!name) return name.error();
  auto country = string_or(body, "country", max_line_bytes, base.country);
  if (!country) return country.error();
  auto website = string_or(body, "website", max_line_bytes, base.website);
  if (!website) return website.error();
  auto description = string_or(body, "description", max_text_bytes, base.description);
  if (!description) return description.error();
  return actors::organization_info{std::move(*name), std::move(*country), std::move(*website),
                                   std::move(*description)};
}

// -- organizations ----------------------------------------------------------------------------

void add_organization_routes(router& routes, std::shared_ptr<api> a) {
  routes.add("POST", "/api/v1/organizations", [a](request& req, respond_fn respond) {
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, body, respond](principal p) {
      if (!p.caller.admin) return respond(forbidden("only an administrator creates organizations"));
      if (!body) return respond(from_error(body.error()));
      if (auto name = required_string(*body, "name", max_line_bytes); !name)
        return respond(from_error(name.error()));
      auto info = organization_info_of(*body, {});
      if (!info) return respond(from_error(info.error()));
      call<actors::organization_actor, actors::organization_view>(
          *a, new_id("org"), true, respond,
          [respond](actors::organization_view v) {
            log::info("catalog.organization_created").field("organization_id", v.organization_id);
            respond(json(201, dump(organization_json(v, true))));
          },
          create_atom::value, p.caller, *info, actors::now_ms());
    });
  });

  routes.add("GET", "/api/v1/organizations", [a](request& req, respond_fn respond) {
    auto page = page_of(req);
    if (!page) return respond(from_error(page.error()));
    auto ids = entity_ids(*a, "org");
    if (!ids) return respond(from_error(ids.error()));
    std::string next;
    auto some = slice(*ids, *page, next);
    if (!some) return respond(from_error(some.error()));
    gather<actors::organization_actor, actors::organization_view>(
        a, *some,
        [respond, next](std::vector<actors::organization_view> views) {
          njson items = njson::array();
          for (auto& v : views) items.push_back(organization_json(v, false));
          respond(list_response(std::move(items), next));
        },
        get_atom::value);
  });

  routes.add("GET", "/api/v1/organizations/{id}", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    if (!is_entity_id(id, "org")) return respond(not_found("organization"));
    authenticate(*a, req, [a, id, respond](std::optional<principal> p) {
      auto c = caller_of(p);
      call<actors::organization_actor, actors::organization_view>(
          *a, id, false, respond,
          [respond, c](actors::organization_view v) {
            respond(json(200, dump(organization_json(v, may_see_reps(c, v.organization_id)))));
          },
          get_atom::value);
    });
  });

  routes.add("PATCH", "/api/v1/organizations/{id}", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, id, body, respond](principal p) {
      if (!is_entity_id(id, "org")) return respond(not_found("organization"));
      if (!may_see_reps(p.caller, id))
        return respond(forbidden("only its representatives or an administrator"));
      if (!body) return respond(from_error(body.error()));
      // The actor replaces the whole information: the absent fields keep their current values.
      call<actors::organization_actor, actors::organization_view>(
          *a, id, false, respond,
          [a, id, body, respond, p](actors::organization_view current) {
            auto info = organization_info_of(
                *body, {current.name, current.country, current.website, current.description});
            if (!info) return respond(from_error(info.error()));
            call<actors::organization_actor, actors::organization_view>(
                *a, id, false, respond,
                [respond](actors::organization_view v) {
                  respond(json(200, dump(organization_json(v, true))));
                },
                update_atom::value, p.caller, *info, actors::now_ms());
          },
          get_atom::value);
    });
  });

  routes.add("POST", "/api/v1/organizations/{id}/representatives",
             [a](request& req, respond_fn respond) {
               auto id = req.params["id"];
               auto body = parse_object(a->limits, req);
               require_user(*a, req, respond, [a, id, body, respond](principal p) {
                 if (!p.caller.admin)
                   return respond(forbidden("only an administrator adds representatives"));
                 if (!is_entity_id(id, "org")) return respond(not_found("organization"));
                 if (!body) return respond(from_error(body.error()));
                 auto user_id = required_string(*body, "user_id", 200);
                 if (!user_id) return respond(from_error(user_id.error()));
                 if (!is_entity_id(*user_id, "usr"))
                   return respond(problem(400, "Bad Request", "user_id is not a user id"));
                 auto exists = a->eng.rt()->store->exists(id);
                 if (!exists) return respond(from_error(exists.error()));
                 if (!*exists) return respond(not_found("organization"));
                 // The role first: the user actor answers 404 for an unknown user before the
                 // organization records anyone.
                 auto uid = *user_id;
                 call<actors::user_actor, actors::user_view>(
                     *a, uid, false, respond,
                     [a, id, uid, respond, p](actors::user_view) {
                       call<actors::organization_actor, actors::organization_view>(
                           *a, id, false, respond,
                           [respond, id, uid](actors::organization_view v) {
                             log::info("catalog.representative_added")
                                 .field("organization_id", id)
                                 .field("user_id", uid);
                             respond(json(200, dump(organization_json(v, true))));
                           },
                           add_atom::value, p.caller, uid);
                     },
                     grant_atom::value, p.caller, actors::role_grant{"org_rep", id});
               });
             });
}

// -- exhibitions and booths -------------------------------------------------------------------

void add_exhibition_routes(router& routes, std::shared_ptr<api> a) {
  routes.add("POST", "/api/v1/exhibitions", [a](request& req, respond_fn respond) {
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, body, respond](principal p) {
      if (!p.caller.admin) return respond(forbidden("only an administrator creates exhibitions"));
      if (!body) return respond(from_error(body.error()));
      auto title = required_string(*body, "title", max_line_bytes);
      if (!title) return respond(from_error(title.error()));
      auto starts = required_time(*body, "starts_at");
      if (!starts) return respond(from_error(starts.error()));
      auto ends = required_time(*body, "ends_at");
      if (!ends) return respond(from_error(ends.error()));
      auto description = string_or(*body, "description", max_text_bytes, {});
      if (!description) return respond(from_error(description.error()));
      actors::exhibition_info info{*title, *description, *starts, *ends};
      call<actors::exhibition_actor, actors::exhibition_view>(
          *a, new_id("exh"), true, respond,
          [respond](actors::exhibition_view v) {
            log::info("catalog.exhibition_created").field("exhibition_id", v.exhibition_id);
            respond(json(201, dump(exhibition_json(v))));
          },
          create_atom::value, p.caller, info, actors::now_ms());
    });
  });

  routes.add("GET", "/api/v1/exhibitions", [a](request& req, respond_fn respond) {
    auto page = page_of(req);
    if (!page) return respond(from_error(page.error()));
    auto ids = entity_ids(*a, "exh");
    if (!ids) return respond(from_error(ids.error()));
    std::string next;
    auto some = slice(*ids, *page, next);
    if (!some) return respond(from_error(some.error()));
    gather<actors::exhibition_actor, actors::exhibition_view>(
        a, *some,
        [respond, next](std::vector<actors::exhibition_view> views) {
          njson items = njson::array();
          for (auto& v : views) items.push_back(exhibition_json(v));
          respond(list_response(std::move(items), next));
        },
        get_atom::value);
  });

  routes.add("GET", "/api/v1/exhibitions/{id}", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    if (!is_entity_id(id, "exh")) return respond(not_found("exhibition"));
    call<actors::exhibition_actor, actors::exhibition_view>(
        *a, id, false, respond,
        [respond](actors::exhibition_view v) { respond(json(200, dump(exhibition_json(v)))); },
        get_atom::value);
  });

  routes.add("POST", "/api/v1/exhibitions/{id}/booths", [a](request& req, respond_fn respond) {
    auto exh_id = req.params["id"];
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, exh_id, body, respond](principal p) {
      if (!is_entity_id(exh_id, "exh")) return respond(not_found("exhibition"));
      if (!body) return respond(from_error(body.error()));
      auto org_id = required_string(*body, "organization_id", 200);
      if (!org_id) return respond(from_error(org_id.error()));
      if (!is_entity_id(*org_id, "org"))
        return respond(problem(400, "Bad Request", "organization_id is not an organization id"));
      if (!p.caller.admin && !p.caller.represents(*org_id))
        return respond(forbidden("only an administrator or a representative of the organization"));
      auto name = required_string(*body, "name", max_line_bytes);
      if (!name) return respond(from_error(name.error()));
      auto description = string_or(*body, "description", max_text_bytes, {});
      if (!description) return respond(from_error(description.error()));
      auto& store = *a->eng.rt()->store;
      for (auto& [id, what] :
           {std::pair{exh_id, "exhibition"}, std::pair{*org_id, "organization"}}) {
        auto exists = store.exists(id);
        if (!exists) return respond(from_error(exists.error()));
        if (!*exists) return respond(not_found(what));
      }
      // The room first, then the booth that names it, then its place in the exhibition: each
      // step only refers to what already exists.
      auto booth_id = new_id("bth");
      auto room_id = new_id("room");
      auto now = actors::now_ms();
      actors::booth_spec spec{exh_id, *org_id, *name, *description, room_id};
      auto c = p.caller;
      call<actors::chat_room_actor, actors::room_view>(
          *a, room_id, true, respond,
          [a, c, spec, booth_id, now, respond](actors::room_view) {
            call<actors::booth_actor, actors::booth_view>(
                *a, booth_id, true, respond,
                [a, c, respond](actors::booth_view booth) {
                  call<actors::exhibition_actor, actors::exhibition_view>(
                      *a, booth.exhibition_id, false, respond,
                      [respond, booth](actors::exhibition_view) {
                        log::info("catalog.booth_created")
                            .field("booth_id", booth.booth_id)
                            .field("exhibition_id", booth.exhibition_id)
                            .field("room_id", booth.chat_room_id);
                        respond(json(201, dump(booth_json(booth, true))));
                      },
                      booth_atom::value, c,
                      actors::booth_ref{booth.booth_id, booth.organization_id});
                },
                create_atom::value, c, spec, now);
          },
          create_atom::value, c, actors::room_spec{"booth", booth_id, *org_id, {}}, now);
    });
  });

  routes.add("GET", "/api/v1/exhibitions/{id}/booths", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    if (!is_entity_id(id, "exh")) return respond(not_found("exhibition"));
    auto page = page_of(req);
    if (!page) return respond(from_error(page.error()));
    // The busiest public read: served from the cache while no booth or exhibition changed.
    auto key = id + '\n' + page->after + '\n' + std::to_string(page->limit);
    auto generation = a->eng.rt()->catalog_generation.load(std::memory_order_acquire);
    if (a->booth_lists) {
      if (auto hit = a->booth_lists->find(key, generation)) return respond(std::move(*hit));
    }
    call<actors::exhibition_actor, actors::exhibition_view>(
        *a, id, false, respond,
        [a, page, key, generation, respond](actors::exhibition_view exh) {
          std::string next;
          auto some = slice(exh.booth_ids, *page, next);
          if (!some) return respond(from_error(some.error()));
          gather<actors::booth_actor, actors::booth_view>(
              a, *some,
              [a, key, generation, respond, next,
               wanted = some->size()](std::vector<actors::booth_view> views) {
                // A booth that did not answer is left out of this answer, never of the cache.
                bool complete = views.size() == wanted;
                njson items = njson::array();
                for (auto& v : views) items.push_back(booth_summary_json(v));
                auto r = list_response(std::move(items), next);
                if (a->booth_lists && complete) a->booth_lists->store(key, generation, r);
                respond(std::move(r));
              },
              get_atom::value);
        },
        get_atom::value);
  });

  routes.add("GET", "/api/v1/booths/{id}", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    if (!is_entity_id(id, "bth")) return respond(not_found("booth"));
    authenticate(*a, req, [a, id, respond](std::optional<principal> p) {
      auto c = caller_of(p);
      call<actors::booth_actor, actors::booth_view>(
          *a, id, false, respond,
          [a, c, respond](actors::booth_view v) {
            if (!may_see_reps(c, v.organization_id))
              return respond(json(200, dump(booth_json(v, false))));
            // Representatives see the visit figures as aggregates.
            call<actors::booth_actor, actors::visit_stats>(
                *a, v.booth_id, false, respond,
                [respond, v](actors::visit_stats s) {
                  auto j = booth_json(v, true);
                  j["visits"] = njson{{"total_visits", s.total_visits},
                                      {"unique_visitors", s.unique_visitors},
                                      {"shared_contacts", s.shared_contacts}};
                  respond(json(200, dump(j)));
                },
                get_atom::value, visit_atom::value, c);
          },
          get_atom::value);
    });
  });

  routes.add("PATCH", "/api/v1/booths/{id}", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, id, body, respond](principal p) {
      if (!is_entity_id(id, "bth")) return respond(not_found("booth"));
      if (!body) return respond(from_error(body.error()));
      actors::booth_patch patch;
      auto name = optional_string(*body, "name", max_line_bytes);
      if (!name) return respond(from_error(name.error()));
      auto description = optional_string(*body, "description", max_text_bytes);
      if (!description) return respond(from_error(description.error()));
      if (*name) patch = {true, **name, false, {}};
      if (*description) {
        patch.has_description = true;
        patch.description = **description;
      }
      call<actors::booth_actor, actors::booth_view>(
          *a, id, false, respond,
          [respond](actors::booth_view v) { respond(json(200, dump(booth_json(v, true)))); },
          update_atom::value, p.caller, patch);
    });
  });

  routes.add("POST", "/api/v1/booths/{id}/content", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, id, body, respond](principal p) {
      if (!is_entity_id(id, "bth")) return respond(not_found("booth"));
      if (!body) return respond(from_error(body.error()));
      auto kind = required_string(*body, "kind", 64);
      if (!kind) return respond(from_error(kind.error()));
      auto title = required_string(*body, "title", max_line_bytes);
      if (!title) return respond(from_error(title.error()));
      auto text = string_or(*body, "body", max_text_bytes, {});
      if (!text) return respond(from_error(text.error()));
      auto file_id = string_or(*body, "file_id", 200, {});
      if (!file_id) return respond(from_error(file_id.error()));
      if (!file_id->empty())
        if (auto err = check_attachable(*a, p.caller, *file_id)) return respond(from_error(err));
      actors::content_spec spec{*kind, *title, *text, *file_id};
      call<actors::booth_actor, actors::content_view>(
          *a, id, false, respond,
          [a, id, respond](actors::content_view v) {
            auto created = [respond, id, v] {
              respond(json(201, dump(content_json(id, v, true))));
            };
            if (v.file_id.empty()) return created();
            // The file becomes public with the content that holds it.
            record_attachment(*a, v.file_id, id, "booth", [respond, created](caf::error err) {
              if (err) return respond(from_error(err));
              created();
            });
          },
          content_atom::value, p.caller, spec, actors::now_ms());
    });
  });

  routes.add("POST", "/api/v1/booths/{id}/visits", [a](request& req, respond_fn respond) {
    auto id = req.params["id"];
    // The body is optional: {"share_contact": true} shares the visitor's contact with the reps.
    std::optional<caf::expected<njson>> body;
    if (!req.body.empty()) body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, id, body, respond](principal p) {
      if (!is_entity_id(id, "bth")) return respond(not_found("booth"));
      bool share = false;
      if (body) {
        if (!*body) return respond(from_error(body->error()));
        auto s = optional_bool(**body, "share_contact", false);
        if (!s) return respond(from_error(s.error()));
        share = *s;
      }
      call<actors::booth_actor, uint64_t>(
          *a, id, false, respond,
          [respond](uint64_t) {
            respond(response{204, "", "", {}});
          },
          visit_atom::value, p.caller, share, actors::now_ms());
    });
  });
}

}  // namespace

void add_catalog_routes(router& routes, std::shared_ptr<api> a, file_settings files) {
  add_organization_routes(routes, a);
  add_exhibition_routes(routes, a);
  add_file_routes(routes, a, std::move(files));
}

void add_catalog_routes(router& routes, std::shared_ptr<api> a) {
  add_catalog_routes(routes, std::move(a), file_settings{});
}

}  // namespace mext::http
