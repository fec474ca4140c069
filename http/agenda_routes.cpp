// Talks, attendance, meetings and the personal agenda (API.md "Agenda").
//
// A session id ("exh_….ses_…") routes to its exhibition; a meeting id ("agd_….mtg_…") to the
// requester's agenda, but every party answers a meeting on their own agenda, which holds a copy
// and tells the other. GET /me/agenda pages with ?limit= and an opaque ?cursor=; the .ics form
// holds the whole agenda.

#include "http/routes.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/agenda_actor.hpp"
#include "actors/exhibition_actor.hpp"
#include "actors/user_actor.hpp"
#include "http/auth.hpp"
#include "http/ics.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

using actors::caller;
using njson = nlohmann::json;

constexpr std::size_t default_page = 50;
constexpr std::size_t max_page = 200;
constexpr std::size_t max_title_bytes = 2000;
constexpr std::size_t max_speakers = 100;
constexpr std::string_view prodid = "-//Mext//Mext engine//EN";

std::string dump(const njson& j) {
  return j.dump(-1, ' ', false, njson::error_handler_t::replace);
}

bool is_entity_id(const std::string& id, std::string_view kind) {
  return is_valid_id(id) && id.find('.') == std::string::npos && kind_of(id) == kind;
}

// A thing inside an entity of `owner_kind` whose own kind is `kind`: "exh_….ses_…".
bool is_child_id(const std::string& id, std::string_view owner_kind, std::string_view kind) {
  if (!is_valid_id(id) || kind_of(id) != owner_kind) return false;
  auto dot = id.find('.');
  if (dot == std::string::npos) return false;
  auto rest = std::string_view{id}.substr(dot + 1);
  return rest.substr(0, kind.size() + 1) == std::string{kind} + "_";
}

njson session_json(const actors::session_view& s) {
  return njson{{"session_id", s.session_id},
               {"exhibition_id", s.exhibition_id},
               {"title", s.title},
               {"starts_at", format_rfc3339(s.starts_at_ms)},
               {"ends_at", format_rfc3339(s.ends_at_ms)},
               {"speaker_ids", s.speaker_ids}};
}

njson meeting_json(const actors::meeting_view& m) {
  njson j{{"meeting_id", m.meeting_id},
          {"status", m.status},
          {"requester_id", m.requester_id},
          {"invitee_id", m.invitee_id},
          {"starts_at", format_rfc3339(m.starts_at_ms)},
          {"ends_at", format_rfc3339(m.ends_at_ms)}};
  if (!m.booth_id.empty()) j["booth_id"] = m.booth_id;
  if (!m.note.empty()) j["note"] = m.note;
  return j;
}

njson item_json(const actors::agenda_item& i) {
  njson j{{"kind", i.kind},
          {"title", i.title},
          {"starts_at", format_rfc3339(i.starts_at_ms)},
          {"ends_at", format_rfc3339(i.ends_at_ms)},
          {"status", i.status}};
  if (i.kind == "session") {
    j["session_id"] = i.item_id;
    j["exhibition_id"] = i.exhibition_id;
  } else {
    j["meeting_id"] = i.item_id;
    j["with_user_id"] = i.other_party_id;
    j["role"] = i.role;
    if (!i.title.empty()) j["note"] = i.title;
    if (!i.booth_id.empty()) j["booth_id"] = i.booth_id;
  }
  return j;
}

std::string ics_status(const actors::agenda_item& i) {
  if (i.status == "pending") return "TENTATIVE";
  if (i.status == "declined" || i.status == "cancelled") return "CANCELLED";
  return "CONFIRMED";
}

std::string calendar_of(const actors::agenda_view& v, int64_t now) {
  std::vector<ics_event> events;
  for (auto& i : v.items) {
    ics_event e;
    e.uid = i.item_id + "@mext";
    e.dtstamp_ms = now;
    e.starts_at_ms = i.starts_at_ms;
    e.ends_at_ms = i.ends_at_ms;
    if (i.kind == "session") {
      e.summary = i.title;
    } else {
      e.summary = i.title.empty() ? "Meeting" : "Meeting: " + i.title;
      e.description = "Meeting " + i.status + " with " + i.other_party_id;
    }
    e.status = ics_status(i);
    events.push_back(std::move(e));
  }
  return write_calendar(prodid, events);
}

// Grants the speaker role for the session to each speaker in turn, then calls done.
void grant_speakers(std::shared_ptr<api> a, caller admin, std::shared_ptr<actors::session_view> s,
                    std::size_t i, respond_fn respond, std::function<void()> done) {
  if (i >= s->speaker_ids.size()) return done();
  call<actors::user_actor, actors::user_view>(
      *a, s->speaker_ids[i], false, respond,
      [a, admin, s, i, respond, done](actors::user_view) {
        grant_speakers(a, admin, s, i + 1, respond, done);
      },
      grant_atom::value, admin, actors::role_grant{"speaker", s->session_id});
}

void add_session_routes(router& routes, std::shared_ptr<api> a) {
  routes.add("POST", "/api/v1/exhibitions/{id}/sessions", [a](request& req, respond_fn respond) {
    auto exh_id = req.params["id"];
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, exh_id, body, respond](principal p) {
      if (!p.caller.admin)
        return respond(problem(403, "Forbidden", "only an administrator adds sessions"));
      if (!is_entity_id(exh_id, "exh")) return respond(not_found("exhibition"));
      if (!body) return respond(from_error(body.error()));
      auto title = required_string(*body, "title", max_title_bytes);
      if (!title) return respond(from_error(title.error()));
      auto starts = required_time(*body, "starts_at");
      if (!starts) return respond(from_error(starts.error()));
      auto ends = required_time(*body, "ends_at");
      if (!ends) return respond(from_error(ends.error()));
      auto speakers = string_list(*body, "speaker_ids", max_speakers, 200);
      if (!speakers) return respond(from_error(speakers.error()));
      auto& store = *a->eng.rt()->store;
      // Every speaker must exist before the session names them.
      for (auto& s : *speakers) {
        if (!is_entity_id(s, "usr"))
          return respond(problem(400, "Bad Request", "speaker_ids must be user ids"));
        auto exists = store.exists(s);
        if (!exists) return respond(from_error(exists.error()));
        if (!*exists) return respond(not_found("user: " + s));
      }
      actors::session_spec spec{*title, *starts, *ends, *speakers};
      call<actors::exhibition_actor, actors::session_view>(
          *a, exh_id, false, respond,
          [a, p, respond](actors::session_view s) {
            auto shared = std::make_shared<actors::session_view>(std::move(s));
            grant_speakers(a, p.caller, shared, 0, respond, [shared, respond] {
              log::info("agenda.session_created")
                  .field("session_id", shared->session_id)
                  .field("speakers", static_cast<uint64_t>(shared->speaker_ids.size()));
              respond(json(201, dump(session_json(*shared))));
            });
          },
          session_atom::value, p.caller, spec);
    });
  });

  // Not in API.md's table: how clients find the sessions they may attend.
  routes.add("GET", "/api/v1/exhibitions/{id}/sessions", [a](request& req, respond_fn respond) {
    auto exh_id = req.params["id"];
    if (!is_entity_id(exh_id, "exh")) return respond(not_found("exhibition"));
    call<actors::exhibition_actor, std::vector<actors::session_view>>(
        *a, exh_id, false, respond,
        [respond](std::vector<actors::session_view> all) {
          njson items = njson::array();
          for (auto& s : all) items.push_back(session_json(s));
          respond(json(200, dump(njson{{"items", std::move(items)}, {"next_cursor", nullptr}})));
        },
        list_atom::value, session_atom::value);
  });

  routes.add("POST", "/api/v1/sessions/{id}/attend", [a](request& req, respond_fn respond) {
    auto sid = req.params["id"];
    require_user(*a, req, respond, [a, sid, respond](principal p) {
      if (!is_child_id(sid, "exh", "ses")) return respond(not_found("session"));
      call<actors::exhibition_actor, actors::session_view>(
          *a, std::string{owner_of(sid)}, false, respond,
          [a, p, respond](actors::session_view s) {
            actors::session_entry entry{s.session_id, s.exhibition_id, s.title, s.starts_at_ms,
                                        s.ends_at_ms};
            call<actors::agenda_actor, actors::agenda_view>(
                *a, actors::agenda_id(p.caller.user_id), true, respond,
                [respond, sid = s.session_id](actors::agenda_view v) {
                  for (auto& i : v.items)
                    if (i.kind == "session" && i.item_id == sid)
                      return respond(json(200, dump(item_json(i))));
                  respond(problem(500, "Internal Server Error", "the session is not recorded"));
                },
                attend_atom::value, p.caller, entry, actors::now_ms());
          },
          get_atom::value, session_atom::value, sid);
    });
  });

  routes.add("DELETE", "/api/v1/sessions/{id}/attend", [a](request& req, respond_fn respond) {
    auto sid = req.params["id"];
    require_user(*a, req, respond, [a, sid, respond](principal p) {
      if (!is_child_id(sid, "exh", "ses")) return respond(not_found("session"));
      call<actors::agenda_actor, actors::agenda_view>(
          *a, actors::agenda_id(p.caller.user_id), true, respond,
          [respond](actors::agenda_view) {
            respond(response{204, "", "", {}});
          },
          leave_atom::value, p.caller, sid);
    });
  });
}

void add_meeting_routes(router& routes, std::shared_ptr<api> a) {
  routes.add("POST", "/api/v1/meetings", [a](request& req, respond_fn respond) {
    auto body = parse_object(a->limits, req);
    require_user(*a, req, respond, [a, body, respond](principal p) {
      if (!body) return respond(from_error(body.error()));
      auto with = required_string(*body, "with_user_id", 200);
      if (!with) return respond(from_error(with.error()));
      if (!is_entity_id(*with, "usr"))
        return respond(problem(400, "Bad Request", "with_user_id is not a user id"));
      if (*with == p.caller.user_id)
        return respond(problem(400, "Bad Request", "a meeting needs another person"));
      auto booth = optional_string(*body, "booth_id", 200);
      if (!booth) return respond(from_error(booth.error()));
      auto starts = required_time(*body, "starts_at");
      if (!starts) return respond(from_error(starts.error()));
      auto ends = required_time(*body, "ends_at");
      if (!ends) return respond(from_error(ends.error()));
      auto note = optional_string(*body, "note", actors::max_note_bytes);
      if (!note) return respond(from_error(note.error()));
      auto booth_id = booth->value_or("");
      if (!booth_id.empty()) {
        if (!is_entity_id(booth_id, "bth"))
          return respond(problem(400, "Bad Request", "booth_id is not a booth id"));
        auto exists = a->eng.rt()->store->exists(booth_id);
        if (!exists) return respond(from_error(exists.error()));
        if (!*exists) return respond(not_found("booth"));
      }
      actors::meeting_request r{*with, booth_id, *starts, *ends, note->value_or("")};
      // The invitee must exist (and not be erased) before an agenda names them.
      call<actors::user_actor, actors::user_view>(
          *a, *with, false, respond,
          [a, p, r, respond](actors::user_view) {
            call<actors::agenda_actor, actors::meeting_view>(
                *a, actors::agenda_id(p.caller.user_id), true, respond,
                [respond](actors::meeting_view m) {
                  log::info("agenda.meeting_requested").field("meeting_id", m.meeting_id);
                  respond(json(201, dump(meeting_json(m))));
                },
                meeting_atom::value, p.caller, r, actors::now_ms());
          },
          get_atom::value, p.caller);
    });
  });

  for (std::string action : {"accept", "decline", "cancel"}) {
    routes.add(
        "POST", "/api/v1/meetings/{id}/" + action, [a, action](request& req, respond_fn respond) {
          auto mid = req.params["id"];
          require_user(*a, req, respond, [a, mid, action, respond](principal p) {
            if (!is_child_id(mid, "agd", "mtg")) return respond(not_found("meeting"));
            // The caller's own agenda holds their copy of the meeting.
            call<actors::agenda_actor, actors::meeting_view>(
                *a, actors::agenda_id(p.caller.user_id), false, respond,
                [respond](actors::meeting_view m) { respond(json(200, dump(meeting_json(m)))); },
                answer_atom::value, p.caller, mid, action, actors::now_ms());
          });
        });
  }
}

void add_my_agenda_routes(router& routes, std::shared_ptr<api> a) {
  routes.add("GET", "/api/v1/me/agenda", [a](request& req, respond_fn respond) {
    std::size_t limit = default_page;
    std::string after;
    std::optional<response> bad;
    if (auto l = req.query_param("limit")) {
      bool ok = !l->empty() && l->size() <= 4 &&
                std::all_of(l->begin(), l->end(), [](char c) { return c >= '0' && c <= '9'; });
      limit = ok ? std::stoul(*l) : 0;
      if (limit < 1 || limit > max_page) bad = problem(400, "Bad Request", "limit must be 1..200");
    }
    if (auto c = req.query_param("cursor"); c && !c->empty()) {
      auto id = unbase64url(*c);
      if (!id || !is_valid_id(*id))
        bad = problem(400, "Bad Request", "malformed cursor");
      else
        after = *id;
    }
    require_user(*a, req, respond, [a, limit, after, bad, respond](principal p) {
      if (bad) return respond(*bad);
      call<actors::agenda_actor, actors::agenda_view>(
          *a, actors::agenda_id(p.caller.user_id), true, respond,
          [limit, after, respond](actors::agenda_view v) {
            auto from = v.items.begin();
            if (!after.empty()) {
              from = std::find_if(v.items.begin(), v.items.end(),
                                  [&](const actors::agenda_item& i) { return i.item_id == after; });
              if (from == v.items.end())
                return respond(problem(400, "Bad Request", "the cursor is stale"));
              ++from;
            }
            njson items = njson::array();
            auto it = from;
            for (; it != v.items.end() && items.size() < limit; ++it)
              items.push_back(item_json(*it));
            njson body{{"items", std::move(items)}, {"next_cursor", nullptr}};
            if (it != v.items.end()) body["next_cursor"] = base64url(std::prev(it)->item_id);
            respond(json(200, dump(body)));
          },
          get_atom::value, p.caller);
    });
  });

  routes.add("GET", "/api/v1/me/agenda.ics", [a](request& req, respond_fn respond) {
    require_user(*a, req, respond, [a, respond](principal p) {
      call<actors::agenda_actor, actors::agenda_view>(
          *a, actors::agenda_id(p.caller.user_id), true, respond,
          [respond](actors::agenda_view v) {
            response r;
            r.status = 200;
            r.content_type = "text/calendar; charset=utf-8";
            r.body = calendar_of(v, actors::now_ms());
            r.headers.emplace_back("Content-Disposition",
                                   "attachment; filename=\"mext-agenda.ics\"");
            respond(std::move(r));
          },
          get_atom::value, p.caller);
    });
  });
}

}  // namespace

void add_agenda_routes(router& routes, std::shared_ptr<api> a) {
  add_session_routes(routes, a);
  add_meeting_routes(routes, a);
  add_my_agenda_routes(routes, a);
}

}  // namespace mext::http
