// Operations routes of the API: actor inspection for administrators, GET /metrics and the
// OpenAPI document.
//
//   GET /api/v1/admin/actors?kind=&limit=&cursor=   resident actors, from the directory's live view
//   GET /api/v1/admin/actors/{id}?reveal=1&reason=  one actor: its live figures and its state
//   GET /metrics                                    Prometheus text; admins or loopback clients
//   GET /api/v1/openapi.json                        the contract as OpenAPI 3.0
//
// Inspection shows an entity's state as its own get message answers it to an administrator, with
// every personal field (the schemas' $pii fields) masked as "***". With reveal=1 and a reason the
// values are shown, after an entry of the audit log (actors/audit_log.hpp: who, whose, what, why,
// when; ids and the reason, sealed for the person) is durable; GET /admin/audit lists them.

#include "http/routes.hpp"

#include "actors/audit_log.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/agenda_actor.hpp"
#include "actors/booth_actor.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/connection_log_actor.hpp"
#include "actors/exhibition_actor.hpp"
#include "actors/organization_actor.hpp"
#include "actors/user_actor.hpp"
#include "http/auth.hpp"
#include "http/edge_guard.hpp"
#include "http/metrics.hpp"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::http {

// The OpenAPI document (http/openapi.json), compiled in by http/CMakeLists.txt.
std::string_view openapi_document();

namespace {

using njson = nlohmann::json;

constexpr size_t max_reason_bytes = 500;
constexpr size_t max_kind_bytes = 16;
// Connection-log entries shown by an inspection (newest first).
constexpr uint32_t inspected_connection_entries = 100;
constexpr const char* masked_value = "***";

response bad_request(std::string detail) {
  return problem(400, "Bad Request", std::move(detail));
}

response forbidden_admins_only() {
  return problem(403, "Forbidden", "administrators only");
}

bool is_kind_text(std::string_view s) {
  return s.size() <= max_kind_bytes && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}

njson resident_json(const actors::resident_info& r) {
  return {{"id", r.id},
          {"kind", r.kind},
          {"mailbox", r.mailbox},
          {"resident_since", format_rfc3339(r.resident_since_ms)},
          {"messages", r.messages},
          {"last_snapshot", r.last_snapshot_seq},
          {"seq", r.seq}};
}

// -- GET /api/v1/admin/actors ---------------------------------------------------------------------

void list_actors(const std::shared_ptr<api>& a, request& req, const respond_fn& respond) {
  auto limit = parse_list_limit(req);
  auto kind = req.query_param("kind").value_or("");
  auto cursor = req.query_param("cursor").value_or("");
  require_admin(*a, req, respond, [a, respond, limit, kind, cursor](principal) {
    if (!limit) return respond_error(respond, limit.error());
    if (!is_kind_text(kind))
      return respond(bad_request("kind is an entity kind such as usr, org, exh, bth, room"));
    auto dir = a->eng.directory();
    auto timeout = a->limits.actor_timeout;
    const uint32_t page = *limit;
    a->sys.spawn([=](caf::event_based_actor* self) {
      self->request(dir, timeout, list_atom::value, kind, std::numeric_limits<uint32_t>::max())
          .then(
              [=](std::vector<actors::resident_info>& all) {
                // The directory's table has no order: pages follow the ids.
                std::sort(all.begin(), all.end(),
                          [](const auto& x, const auto& y) { return x.id < y.id; });
                auto it = std::upper_bound(
                    all.begin(), all.end(), cursor,
                    [](const std::string& c, const actors::resident_info& r) { return c < r.id; });
                njson items = njson::array();
                for (; it != all.end() && items.size() < page; ++it)
                  items.push_back(resident_json(*it));
                njson body{{"items", std::move(items)}, {"next_cursor", nullptr}};
                if (it != all.end()) body["next_cursor"] = std::prev(it)->id;
                respond(json(200, body.dump()));
                self->quit();
              },
              [=](caf::error& err) {
                respond_error(respond, err);
                self->quit();
              });
    });
  });
}

// -- GET /api/v1/admin/actors/{id} ----------------------------------------------------------------

// Builds an entity's state as JSON, masking personal fields unless revealing, and notes which
// fields are personal and whose they are (for the audit record).
class state_builder {
 public:
  explicit state_builder(bool reveal) : reveal_(reveal) {}

  njson text(const std::string& field, const std::string& value, const std::string& whose) {
    note(field, whose, !value.empty());
    if (reveal_ || value.empty()) return value;
    return masked_value;
  }

  njson list(const std::string& field, const std::vector<std::string>& values,
             const std::string& whose) {
    note(field, whose, !values.empty());
    if (reveal_) return values;
    return std::vector<std::string>(values.size(), masked_value);
  }

  bool reveal() const { return reveal_; }
  const std::set<std::string>& fields() const { return fields_; }
  const std::set<std::string>& whose() const { return whose_; }

 private:
  void note(const std::string& field, const std::string& whose, bool present) {
    fields_.insert(field);
    if (present && !whose.empty()) whose_.insert(whose);
  }

  bool reveal_;
  std::set<std::string> fields_;
  std::set<std::string> whose_;
};

njson user_state(const actors::user_view& u, state_builder& b) {
  const auto& me = u.user_id;
  return {{"user_id", u.user_id},
          {"first_name", b.text("first_name", u.first_name, me)},
          {"surname", b.text("surname", u.surname, me)},
          {"email", b.text("email", u.email, me)},
          {"linkedin_url", b.text("linkedin_url", u.linkedin_url, me)},
          {"photo_file_id", u.photo_file_id},
          {"country", b.text("country", u.country, me)},
          {"organization_id", u.organization_id},
          {"role_in_org", b.text("role_in_org", u.role_in_org, me)},
          {"interests", b.list("interests", u.interests, me)},
          {"keywords", b.list("keywords", u.keywords, me)},
          {"address", b.text("address", u.address, me)},
          {"roles", u.roles},
          {"rep_of", u.rep_of},
          {"speaker_of", u.speaker_of},
          {"created_at", format_rfc3339(u.created_at_ms)}};
}

njson organization_state(const actors::organization_view& o) {
  return {{"organization_id", o.organization_id},
          {"name", o.name},
          {"country", o.country},
          {"website", o.website},
          {"description", o.description},
          {"representative_ids", o.representative_ids},
          {"created_at", format_rfc3339(o.created_at_ms)}};
}

njson booth_state(const actors::booth_view& v) {
  njson content = njson::array();
  for (const auto& c : v.content)
    content.push_back({{"content_id", c.content_id},
                       {"kind", c.kind},
                       {"title", c.title},
                       {"body", c.body},
                       {"file_id", c.file_id},
                       {"author_id", c.author_id},
                       {"created_at", format_rfc3339(c.created_at_ms)}});
  return {{"booth_id", v.booth_id},
          {"exhibition_id", v.exhibition_id},
          {"organization_id", v.organization_id},
          {"name", v.name},
          {"description", v.description},
          {"chat_room_id", v.chat_room_id},
          {"content", std::move(content)},
          {"total_visits", v.total_visits}};
}

njson exhibition_state(const actors::exhibition_view& e,
                       const std::vector<actors::session_view>& sessions, state_builder& b) {
  njson list = njson::array();
  for (const auto& s : sessions) {
    njson media = njson::array();
    for (const auto& m : s.media)
      media.push_back({{"speaker_id", m.speaker_id},
                       {"kind", m.kind},
                       {"file_id", m.file_id},
                       {"caption", b.text("sessions[].media[].caption", m.caption, m.speaker_id)}});
    list.push_back({{"session_id", s.session_id},
                    {"title", s.title},
                    {"starts_at", format_rfc3339(s.starts_at_ms)},
                    {"ends_at", format_rfc3339(s.ends_at_ms)},
                    {"speaker_ids", s.speaker_ids},
                    {"media", std::move(media)}});
  }
  return {{"exhibition_id", e.exhibition_id},
          {"title", e.title},
          {"description", e.description},
          {"starts_at", format_rfc3339(e.starts_at_ms)},
          {"ends_at", format_rfc3339(e.ends_at_ms)},
          {"booth_ids", e.booth_ids},
          {"created_at", format_rfc3339(e.created_at_ms)},
          {"sessions", std::move(list)}};
}

njson room_state(const actors::room_view& r) {
  return {{"room_id", r.room_id},       {"kind", r.kind},
          {"booth_id", r.booth_id},     {"organization_id", r.organization_id},
          {"member_ids", r.member_ids}, {"message_count", r.message_count}};
}

njson agenda_state(const actors::agenda_view& v, state_builder& b) {
  njson items = njson::array();
  for (const auto& i : v.items) {
    // A meeting's title is its note, which is the requester's (schemas/agenda.capnp).
    njson title = i.title;
    if (i.kind == "meeting") {
      const auto& requester = i.role == "requester" ? v.user_id : i.other_party_id;
      title = b.text("items[].title (meeting note)", i.title, requester);
    }
    items.push_back({{"kind", i.kind},
                     {"item_id", i.item_id},
                     {"exhibition_id", i.exhibition_id},
                     {"booth_id", i.booth_id},
                     {"title", std::move(title)},
                     {"starts_at", format_rfc3339(i.starts_at_ms)},
                     {"ends_at", format_rfc3339(i.ends_at_ms)},
                     {"status", i.status},
                     {"other_party_id", i.other_party_id},
                     {"role", i.role}});
  }
  return {{"user_id", v.user_id}, {"items", std::move(items)}};
}

njson connection_log_state(const std::string& log_id,
                           const std::vector<actors::connection_entry>& entries, state_builder& b) {
  const auto owner = actors::connection_log_owner(log_id);
  njson list = njson::array();
  for (const auto& e : entries)
    list.push_back({{"at", format_rfc3339(e.at_ms)},
                    {"kind", e.kind},
                    {"ip", b.text("entries[].ip", e.ip, owner)},
                    {"isp", b.text("entries[].isp", e.isp, owner)},
                    {"proxies", b.list("entries[].proxies", e.proxies, owner)},
                    {"referrer", b.text("entries[].referrer", e.referrer, owner)},
                    {"device_type", b.text("entries[].device_type", e.device_type, owner)},
                    {"os", b.text("entries[].os", e.os, owner)},
                    {"screen", b.text("entries[].screen", e.screen, owner)}});
  return {{"user_id", owner}, {"entries", std::move(list)}};
}

struct inspection {
  std::shared_ptr<api> a;
  std::string id;
  std::string kind;
  bool reveal = false;
  std::string reason;
  actors::caller who;
  std::string request_id;
  respond_fn respond;
};

// Answers the inspection: the actor's live figures, then (when revealing) the durable audit
// record, then the state.
void answer_inspection(std::shared_ptr<inspection> in, njson state,
                       std::shared_ptr<state_builder> b) {
  auto dir = in->a->eng.directory();
  auto writer = in->a->eng.writer();
  auto timeout = in->a->limits.actor_timeout;
  in->a->sys.spawn([=](caf::event_based_actor* self) {
    auto body = std::make_shared<njson>(njson{{"id", in->id},
                                              {"kind", in->kind},
                                              {"resident", false},
                                              {"mailbox", nullptr},
                                              {"resident_since", nullptr},
                                              {"messages", nullptr},
                                              {"last_snapshot", nullptr},
                                              {"seq", nullptr},
                                              {"masked", !b->reveal()},
                                              {"personal_fields", b->fields()},
                                              {"state", std::move(state)}});
    auto finish = [=]() {
      if (!b->reveal()) {
        in->respond(json(200, body->dump()));
        self->quit();
        return;
      }
      actors::audit_entry e;
      e.at_ms = actors::now_ms();
      e.who = in->who.user_id;
      e.whose.assign(b->whose().begin(), b->whose().end());
      e.action = "reveal";
      e.target = in->id;
      e.why = in->reason;
      e.request_id = in->request_id;
      for (const auto& f : b->fields()) e.detail += (e.detail.empty() ? "" : ",") + f;
      persistence::write_item item;
      auto audited = actors::add_audit(item, *in->a->eng.rt()->sealer, e);
      if (!audited) {
        respond_error(in->respond, audited.error());
        self->quit();
        return;
      }
      const auto audit_id = *audited;
      self->request(writer, timeout, commit_atom::value, std::move(item))
          .then(
              [=](uint64_t) {
                log::info("admin.reveal")
                    .field("request_id", in->request_id)
                    .field("admin_id", in->who.user_id)
                    .field("entity", in->id)
                    .field("audit_id", audit_id);
                (*body)["audit_id"] = audit_id;
                in->respond(json(200, body->dump()));
                self->quit();
              },
              [=](caf::error& err) {
                // Nothing is revealed without its audit record.
                log::error("admin.reveal_audit_failed")
                    .field("request_id", in->request_id)
                    .field("entity", in->id)
                    .field("error", detail_of(err));
                respond_error(in->respond, err);
                self->quit();
              });
    };
    self->request(dir, timeout, list_atom::value, in->kind, std::numeric_limits<uint32_t>::max())
        .then(
            [=](const std::vector<actors::resident_info>& all) {
              for (const auto& r : all) {
                if (r.id != in->id) continue;
                auto live = resident_json(r);
                for (auto& [k, v] : live.items()) (*body)[k] = v;
                (*body)["resident"] = true;
              }
              finish();
            },
            [=](caf::error&) { finish(); });
  });
}

void inspect(std::shared_ptr<inspection> in) {
  const auto& a = *in->a;
  auto b = std::make_shared<state_builder>(in->reveal);
  const auto& k = in->kind;
  auto& respond = in->respond;
  if (k == "usr") {
    call<actors::user_actor, actors::user_view>(
        a, in->id, false, respond,
        [in, b](actors::user_view v) { answer_inspection(in, user_state(v, *b), b); },
        get_atom::value, in->who);
  } else if (k == "org") {
    call<actors::organization_actor, actors::organization_view>(
        a, in->id, false, respond,
        [in, b](actors::organization_view v) { answer_inspection(in, organization_state(v), b); },
        get_atom::value);
  } else if (k == "bth") {
    call<actors::booth_actor, actors::booth_view>(
        a, in->id, false, respond,
        [in, b](actors::booth_view v) { answer_inspection(in, booth_state(v), b); },
        get_atom::value);
  } else if (k == "exh") {
    call<actors::exhibition_actor, actors::exhibition_view>(
        a, in->id, false, respond,
        [in, b](actors::exhibition_view v) {
          call<actors::exhibition_actor, std::vector<actors::session_view>>(
              *in->a, in->id, false, in->respond,
              [in, b, v](std::vector<actors::session_view> sessions) {
                answer_inspection(in, exhibition_state(v, sessions, *b), b);
              },
              list_atom::value, session_atom::value);
        },
        get_atom::value);
  } else if (k == "room") {
    call<actors::chat_room_actor, actors::room_view>(
        a, in->id, false, respond,
        [in, b](actors::room_view v) { answer_inspection(in, room_state(v), b); }, get_atom::value,
        in->who);
  } else if (k == "agd") {
    call<actors::agenda_actor, actors::agenda_view>(
        a, in->id, false, respond,
        [in, b](actors::agenda_view v) { answer_inspection(in, agenda_state(v, *b), b); },
        get_atom::value, in->who);
  } else if (k == "clog") {
    call<actors::connection_log_actor, std::vector<actors::connection_entry>>(
        a, in->id, false, respond,
        [in, b](std::vector<actors::connection_entry> v) {
          answer_inspection(in, connection_log_state(in->id, v, *b), b);
        },
        get_atom::value, in->who, inspected_connection_entries);
  } else {
    respond(problem(404, "Not Found", "no inspectable actor of kind " + k));
  }
}

void inspect_actor(const std::shared_ptr<api>& a, request& req, const respond_fn& respond) {
  auto in = std::make_shared<inspection>();
  in->a = a;
  in->id = req.params["id"];
  in->request_id = req.request_id;
  in->respond = respond;
  auto reveal = req.query_param("reveal").value_or("0");
  in->reason = req.query_param("reason").value_or("");
  require_admin(*a, req, respond, [in, reveal](principal p) {
    auto& respond = in->respond;
    // Only entities are actors: a child id ("exh_….ses_…") lives inside its owner.
    if (!is_valid_id(in->id) || owner_of(in->id) != in->id)
      return respond(problem(404, "Not Found", "no actor with this id"));
    in->kind = std::string{kind_of(in->id)};
    if (reveal != "0" && reveal != "1") return respond(bad_request("reveal is 0 or 1"));
    in->reveal = reveal == "1";
    if (in->reveal) {
      if (in->reason.find_first_not_of(" \t") == std::string::npos)
        return respond(bad_request("reveal=1 needs a reason: say why the personal data is read"));
      if (in->reason.size() > max_reason_bytes)
        return respond(bad_request("the reason is longer than 500 bytes"));
      if (!actors::is_valid_utf8(in->reason))
        return respond(bad_request("the reason is not valid UTF-8"));
    }
    in->who = std::move(p.caller);
    inspect(in);
  });
}

// -- GET /metrics ---------------------------------------------------------------------------------

void serve_metrics(const std::shared_ptr<api>& a, const respond_fn& respond) {
  auto dir = a->eng.directory();
  auto writer = a->eng.writer();
  auto store = a->eng.rt()->store;
  auto timeout = a->limits.actor_timeout;
  auto render = [a](const std::optional<engine_figures>& figures) {
    std::optional<size_t> addresses;
    if (a->guard) addresses = a->guard->tracked();
    response r;
    r.status = 200;
    r.content_type = metrics_registry::content_type;
    r.body = a->metrics ? a->metrics->render(figures, addresses)
                        : metrics_registry{}.render(figures, addresses);
    return r;
  };
  a->sys.spawn([=](caf::event_based_actor* self) {
    auto figures = std::make_shared<engine_figures>();
    auto without_engine = [=](caf::error& err) {
      log::warn("metrics.engine_unavailable").field("error", detail_of(err));
      respond(render(std::nullopt));
    };
    self->request(dir, timeout, stats_atom::value)
        .then(
            [=](const actors::directory_stats& ds) {
              figures->directory = ds;
              self->request(dir, timeout, list_atom::value, std::string{},
                            std::numeric_limits<uint32_t>::max())
                  .then(
                      [=](std::vector<actors::resident_info>& residents) {
                        figures->residents = std::move(residents);
                        self->request(writer, timeout, stats_atom::value)
                            .then(
                                [=](const persistence::store_stats& ss) {
                                  figures->store = ss;
                                  // A memory-mapped read: short enough for any thread.
                                  if (auto info = store->info()) figures->lmdb = *info;
                                  respond(render(*figures));
                                },
                                without_engine);
                      },
                      without_engine);
            },
            without_engine);
  });
}

void metrics_endpoint(const std::shared_ptr<api>& a, request& req, const respond_fn& respond) {
  const bool loopback_exempt = !a->metrics || a->metrics->settings().loopback_exempt;
  // A loopback peer that is a trusted proxy speaks for someone else: that client must sign in.
  const auto client = a->sessions
                          ? client_address_of(req, a->sessions->settings().trusted_proxies).ip
                          : req.remote_ip;
  if (loopback_exempt && is_loopback_host(client)) return serve_metrics(a, respond);
  authenticate(*a, req, [a, respond](std::optional<principal> p) {
    if (!p) {
      auto r = problem(401, "Unauthorized", "sign in as an administrator to read the metrics");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return respond(std::move(r));
    }
    if (!p->caller.admin) return respond(forbidden_admins_only());
    serve_metrics(a, respond);
  });
}

}  // namespace

void add_admin_routes(router& routes, std::shared_ptr<api> a) {
  add_guarded(routes, a, "GET", "/api/v1/admin/actors",
              [a](request& req, respond_fn respond) { list_actors(a, req, respond); });
  add_guarded(routes, a, "GET", "/api/v1/admin/actors/{id}",
              [a](request& req, respond_fn respond) { inspect_actor(a, req, respond); });
  add_guarded(routes, a, "GET", "/metrics",
              [a](request& req, respond_fn respond) { metrics_endpoint(a, req, respond); });
  add_guarded(routes, a, "GET", "/api/v1/openapi.json", [](request&, respond_fn respond) {
    respond(json(200, std::string{openapi_document()}));
  });
}

}  // namespace mext::http
