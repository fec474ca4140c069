#include "actors/bootstrap.hpp"

#include <caf/all.hpp>

#include "actors/agenda_actor.hpp"
#include "actors/ask.hpp"
#include "actors/booth_actor.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/exhibition_actor.hpp"
#include "actors/organization_actor.hpp"
#include "actors/user_actor.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::actors {
namespace {

constexpr const char* admin_key = "admin_user_id";
constexpr const char* demo_key = "demo_exhibition_id";

caf::error put_setting(caf::scoped_actor& self, engine& eng, const std::string& key,
                       const std::string& value) {
  persistence::write_item item;
  item.put(persistence::db::settings, key, value);
  auto r = ask<uint64_t>(self, eng.writer(), commit_atom::value, std::move(item));
  return r ? caf::error{} : r.error();
}

caf::expected<std::string> register_user(caf::scoped_actor& self, engine& eng, registration reg) {
  auto id = new_id("usr");
  auto user = entity<user_actor>(self, eng.directory(), id, true);
  if (!user) return user.error();
  auto view = ask<user_view>(self, *user, register_atom::value, std::move(reg));
  if (!view) return view.error();
  return view->user_id;
}

// Unwraps an expected or returns its error from the enclosing function.
#define MEXT_TRY(var, expr) \
  auto var = (expr);        \
  if (!var) return std::move(var.error())

}  // namespace

caf::expected<std::string> ensure_admin(caf::actor_system& sys, engine& eng,
                                        const std::optional<admin_credentials>& credentials) {
  auto existing = eng.rt()->store->get(persistence::db::settings, admin_key);
  if (!existing) return existing.error();
  if (existing->has_value()) return **existing;
  if (!credentials)
    return make_error(errc::not_found,
                      "no administrator exists: set MEXT_ADMIN_EMAIL and MEXT_ADMIN_PASSWORD");
  caf::scoped_actor self{sys};
  registration reg;
  reg.email = credentials->email;
  reg.password = credentials->password;
  reg.first_name = "Mext";
  reg.surname = "Administrator";
  reg.roles = {"admin"};
  reg.at_ms = now_ms();
  MEXT_TRY(id, register_user(self, eng, std::move(reg)));
  if (auto err = put_setting(self, eng, admin_key, *id)) return err;
  log::info("bootstrap.admin_created").field("user_id", *id);
  return *id;
}

caf::expected<demo_summary> load_demo(caf::actor_system& sys, engine& eng,
                                      const std::string& admin_id, const std::string& password) {
  demo_summary out;
  auto existing = eng.rt()->store->get(persistence::db::settings, demo_key);
  if (!existing) return existing.error();
  auto exhibitions = eng.rt()->store->entities("exh_", 1);
  if (!exhibitions) return exhibitions.error();
  if (existing->has_value() || !exhibitions->empty()) return out;

  caf::scoped_actor self{sys};
  const auto& dir = eng.directory();
  caller admin{admin_id, true, {}};
  auto now = now_ms();
  constexpr int64_t hour = 3600 * 1000;

  // People first: representatives, speakers and visitors, all with the demo password.
  struct person_spec {
    const char* first;
    const char* surname;
    const char* email;
    const char* role;
  };
  const person_spec people[] = {
      {"Ada", "Moreau", "ada.moreau@acme-robotics.example", "org_rep"},
      {"Bruno", "Keller", "bruno.keller@blueharbor.example", "org_rep"},
      {"Chiara", "Rossi", "chiara.rossi@cedar-medical.example", "org_rep"},
      {"Dmitri", "Novak", "dmitri.novak@speakers.example", "speaker"},
      {"Elena", "Garcia", "elena.garcia@speakers.example", "speaker"},
      {"Farid", "Haddad", "farid.haddad@visitor.example", "visitor"},
      {"Grace", "Okafor", "grace.okafor@visitor.example", "visitor"},
      {"Hiro", "Tanaka", "hiro.tanaka@visitor.example", "visitor"},
  };
  for (auto& p : people) {
    registration reg{p.email, password, p.first, p.surname, {"visitor"}, now};
    MEXT_TRY(id, register_user(self, eng, std::move(reg)));
    out.people.push_back({*id, p.email, p.role});
  }
  auto person = [&](size_t i) { return out.people.at(i).user_id; };

  MEXT_TRY(exh, entity<exhibition_actor>(self, dir, new_id("exh"), true));
  MEXT_TRY(exh_view,
           ask<exhibition_view>(self, *exh, create_atom::value, admin,
                                exhibition_info{"Mext Demo Fair 2026",
                                                "Robotics, maritime and medical technology: "
                                                "three days of booths, talks and meetings.",
                                                now - hour, now + 72 * hour},
                                now));
  out.exhibition_id = exh_view->exhibition_id;

  const organization_info orgs[] = {
      {"Acme Robotics", "FR", "https://acme-robotics.example", "Collaborative robot arms."},
      {"Blue Harbor Labs", "NL", "https://blueharbor.example", "Port logistics software."},
      {"Cedar Medical", "IT", "https://cedar-medical.example", "Diagnostic imaging devices."},
  };
  const char* kinds[] = {"article", "post", "comment", "datasheet", "poster", "video"};
  for (size_t i = 0; i < 3; ++i) {
    auto rep_id = person(i);
    MEXT_TRY(org, entity<organization_actor>(self, dir, new_id("org"), true));
    MEXT_TRY(org_view, ask<organization_view>(self, *org, create_atom::value, admin, orgs[i], now));
    auto org_id = org_view->organization_id;
    out.organization_ids.push_back(org_id);
    MEXT_TRY(added, ask<organization_view>(self, *org, add_atom::value, admin, rep_id));
    MEXT_TRY(user, entity<user_actor>(self, dir, rep_id, false));
    MEXT_TRY(granted,
             ask<user_view>(self, *user, grant_atom::value, admin, role_grant{"org_rep", org_id}));
    caller rep{rep_id, false, {org_id}};

    auto booth_id = new_id("bth");
    auto room_id = new_id("room");
    MEXT_TRY(room, entity<chat_room_actor>(self, dir, room_id, true));
    MEXT_TRY(room_v, ask<room_view>(self, *room, create_atom::value, admin,
                                    room_spec{"booth", booth_id, org_id, {}}, now));
    MEXT_TRY(booth, entity<booth_actor>(self, dir, booth_id, true));
    MEXT_TRY(booth_v, ask<booth_view>(self, *booth, create_atom::value, rep,
                                      booth_spec{out.exhibition_id, org_id, orgs[i].name,
                                                 orgs[i].description, room_id},
                                      now));
    MEXT_TRY(listed,
             ask<exhibition_view>(self, *exh, booth_atom::value, rep, booth_ref{booth_id, org_id}));
    out.booth_ids.push_back(booth_id);
    for (auto kind : kinds) {
      content_spec c{kind, std::string(orgs[i].name) + " " + kind,
                     std::string("Demo ") + kind + " published by " + orgs[i].name + ".", ""};
      MEXT_TRY(cv, ask<content_view>(self, *booth, content_atom::value, rep, c, now));
    }
    MEXT_TRY(hello,
             ask<posted>(self, *room, post_atom::value, rep,
                         post_spec{"Welcome to our booth! Ask us anything.", "", "demo-1"}, now));
  }

  // Talks, with their speakers.
  struct talk_spec {
    const char* title;
    int64_t starts;
    int64_t ends;
    size_t speaker;
  };
  const talk_spec talks[] = {
      {"Opening keynote: the connected factory", now + hour, now + 2 * hour, 3},
      {"Imaging at the edge", now + 24 * hour, now + 25 * hour, 4},
  };
  for (auto& t : talks) {
    MEXT_TRY(ses, ask<session_view>(self, *exh, session_atom::value, admin,
                                    session_spec{t.title, t.starts, t.ends, {person(t.speaker)}}));
    out.session_ids.push_back(ses->session_id);
    MEXT_TRY(speaker, entity<user_actor>(self, dir, person(t.speaker), false));
    MEXT_TRY(granted, ask<user_view>(self, *speaker, grant_atom::value, admin,
                                     role_grant{"speaker", ses->session_id}));
  }

  // Visitors: a visit, a message, a talk in their agenda, and a meeting request.
  for (size_t v = 5; v < 8; ++v) {
    caller visitor{person(v), false, {}};
    auto booth_id = out.booth_ids[v % 3];
    MEXT_TRY(booth, entity<booth_actor>(self, dir, booth_id, false));
    MEXT_TRY(visits, ask<uint64_t>(self, *booth, visit_atom::value, visitor, v == 5, now));
    MEXT_TRY(agenda, entity<agenda_actor>(self, dir, agenda_id(person(v)), true));
    MEXT_TRY(attended,
             ask<agenda_view>(self, *agenda, attend_atom::value, visitor,
                              session_entry{out.session_ids[0], out.exhibition_id, talks[0].title,
                                            talks[0].starts, talks[0].ends},
                              now));
  }
  {
    caller visitor{person(5), false, {}};
    MEXT_TRY(agenda, entity<agenda_actor>(self, dir, agenda_id(person(5)), true));
    MEXT_TRY(meeting, ask<meeting_view>(
                          self, *agenda, meeting_atom::value, visitor,
                          meeting_request{person(0), out.booth_ids[0], now + 3 * hour,
                                          now + 3 * hour + hour / 2, "Pricing of the cobot arm"},
                          now));
  }
  if (auto err = put_setting(self, eng, demo_key, out.exhibition_id)) return err;
  out.loaded = true;
  log::info("bootstrap.demo_loaded")
      .field("exhibition_id", out.exhibition_id)
      .field("people", static_cast<uint64_t>(out.people.size()));
  return out;
}

}  // namespace mext::actors
