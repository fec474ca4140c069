// Privacy routes of the API (GDPR rights), over the privacy actor's sagas:
//
//   POST /api/v1/me/export                       202 {request_id, ...}
//   POST /api/v1/me/erase {password}             202; every session of the person ends at once
//   GET  /api/v1/privacy/requests/{id}           the requester, the subject or an administrator
//   GET  /api/v1/privacy/requests/{id}/archive   the export document, to whoever requested it
//   POST /api/v1/admin/users/{id}/export|erase   an administrator on a person's behalf; audited
//   GET  /api/v1/admin/privacy/requests          every request and its progress
//   GET  /api/v1/admin/audit?limit=&cursor=      the audit log, newest first
//   POST /api/v1/admin/breaches                   record a breach; 201 {breach_id,
//   notify_authority_by} GET  /api/v1/admin/breaches/{id}              its notices and the Art.
//   33(3) authority report
//
// The archive is rendered here (JSON is the edge's) from the records the holders gave, with every
// category of the seed present even when empty; http/privacy-archive.schema.json describes it.

#include "http/privacy_routes.hpp"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/audit_log.hpp"
#include "actors/user_actor.hpp"
#include "http/auth.hpp"
#include "http/edge_guard.hpp"
#include "http/files.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

using njson = nlohmann::json;
using actors::privacy_request_view;

constexpr size_t max_password_bytes = 1024;

// Every category of the seed's list, as the holders name them: an archive shows each one, so a
// reader sees what is held and what is not.
const std::vector<std::string>& archive_categories() {
  static const std::vector<std::string> all = {"account",
                                               "profile",
                                               "organizations_and_roles",
                                               "booth_content",
                                               "booth_visits",
                                               "chat_messages",
                                               "chat_rooms",
                                               "files",
                                               "login_sessions",
                                               "meetings",
                                               "sessions",
                                               "speaker_media",
                                               "connection_data",
                                               "third_party_content"};
  return all;
}

std::string dump(const njson& j) {
  return j.dump(-1, ' ', false, njson::error_handler_t::replace);
}

std::string download_url(const std::string& id) {
  return "/api/v1/privacy/requests/" + id + "/archive";
}

njson view_json(const privacy_request_view& v, int64_t now) {
  njson j{{"request_id", v.request_id},
          {"kind", v.kind == "erasure" ? "erase" : v.kind},
          {"status", v.status},
          {"created_at", format_rfc3339(v.created_at_ms)},
          {"user_id", v.subject_id},
          {"requested_by", v.requested_by},
          {"progress", {{"holders_done", v.holders_done}, {"holders_total", v.holders_total}}}};
  if (v.completed_at_ms != 0) j["completed_at"] = format_rfc3339(v.completed_at_ms);
  if (!v.failure.empty()) j["failure"] = v.failure;
  if (v.kind == "erasure") j["records_erased"] = v.records_erased;
  if (v.kind == "export" && v.status == "completed") {
    j["archive_bytes"] = v.archive_bytes;
    j["archive_expires_at"] = format_rfc3339(v.archive_expires_at_ms);
    if (v.archive_expires_at_ms > now) j["download_url"] = download_url(v.request_id);
  }
  return j;
}

caf::expected<std::string> render_archive(const privacy_request_view& v,
                                          const std::vector<actors::personal_record>& records) {
  njson categories = njson::object();
  for (auto& c : archive_categories()) categories[c] = njson::array();
  for (auto& r : records) {
    njson fields = njson::object();
    for (auto& [name, value] : r.fields) {
      if (!fields.contains(name)) {
        fields[name] = value;
      } else {
        if (!fields[name].is_array()) fields[name] = njson::array({fields[name]});
        fields[name].push_back(value);
      }
    }
    if (!categories.contains(r.category)) categories[r.category] = njson::array();
    categories[r.category].push_back(
        {{"holder_id", r.holder_id}, {"record_id", r.record_id}, {"fields", std::move(fields)}});
  }
  njson doc{{"format", "mext-export/1"},
            {"request_id", v.request_id},
            {"subject_id", v.subject_id},
            {"generated_at", format_rfc3339(actors::now_ms())},
            {"categories", std::move(categories)}};
  return doc.dump(2, ' ', false, njson::error_handler_t::replace);
}

caf::expected<std::vector<actors::personal_record>> login_sessions_of(const api& a,
                                                                      const std::string& person) {
  std::vector<actors::personal_record> out;
  if (!a.sessions) return out;
  for (auto& [info, last_seen] : a.sessions->sessions_of(person))
    // The token hash names the session without being a credential.
    out.push_back({"login_sessions",
                   "sessions",
                   info.token_hash.substr(0, 16),
                   {{"created_at_ms", std::to_string(info.created_ms)},
                    {"expires_at_ms", std::to_string(info.expires_ms)},
                    {"last_seen_at_ms", std::to_string(last_seen)}}});
  return out;
}

response accepted(const privacy_request_view& v) {
  return json(202, dump(view_json(v, actors::now_ms())));
}

// Submits a request; for an erasure, ends every session of the person before answering.
void submit(const std::shared_ptr<api>& a, const std::string& kind, const std::string& subject,
            const std::string& requested_by, const std::string& request_id,
            const respond_fn& respond) {
  ask_actor<privacy_request_view>(
      *a, a->privacy, respond,
      [a, kind, respond, request_id](privacy_request_view v) {
        log::info("privacy.requested")
            .field("request_id", request_id)
            .field("privacy_request", v.request_id)
            .field("kind", kind)
            .field("subject", v.subject_id)
            .field("requested_by", v.requested_by);
        if (kind != "erasure" || !a->sessions) return respond(accepted(v));
        a->sessions->revoke_all(v.subject_id, [respond, v](caf::expected<size_t> n) {
          if (!n) return respond(from_error(n.error()));
          respond(accepted(v));
        });
      },
      submit_atom::value, kind, subject, requested_by);
}

void on_export_me(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  auto rid = req.request_id;
  require_user(*a, req, respond, [a, respond, rid](principal p) {
    submit(a, "export", p.caller.user_id, p.caller.user_id, rid, respond);
  });
}

void on_erase_me(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  auto rid = req.request_id;
  // Parsed now: the request may be gone when the principal is known (a closing connection).
  auto parsed = parse_object(a->limits, req);
  auto ip = client_address_of(req, a->sessions->settings().trusted_proxies).ip;
  require_user(*a, req, respond, [a, parsed, respond, rid, ip](principal p) {
    MEXT_TRY_OR_RESPOND(body, parsed);
    MEXT_TRY_OR_RESPOND(password, required_string(*body, "password", max_password_bytes));
    auto me = p.caller.user_id;
    call<actors::user_actor, actors::user_view>(
        *a, me, false, respond,
        [a, me, respond, rid, ip, pw = std::move(*password), p](actors::user_view v) {
          // The password again: a session left open on a shared computer must not erase its
          // owner, and guessing it through that session is throttled like a login.
          auto key = actors::email_index_key(*a->eng.rt()->sealer, v.email);
          if (auto wait = a->sessions->throttle().admit(key, ip))
            return respond(too_many_attempts(*wait));
          call<actors::user_actor, bool>(
              *a, me, false, respond,
              [a, me, respond, rid, ip, key](bool ok) {
                if (!ok) return respond(problem(403, "Forbidden", "the password does not match"));
                a->sessions->throttle().success(key, ip);
                submit(a, "erasure", me, me, rid, respond);
              },
              verify_atom::value, pw);
        },
        get_atom::value, p.caller);
  });
}

bool may_see(const principal& p, const privacy_request_view& v) {
  return p.caller.admin || p.caller.user_id == v.subject_id || p.caller.user_id == v.requested_by;
}

void on_get_request(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  auto id = req.params["id"];
  require_user(*a, req, respond, [a, respond, id](principal p) {
    if (!is_id_of(id, "prq")) return respond(not_found("privacy request"));
    ask_actor<privacy_request_view>(
        *a, a->privacy, respond,
        [respond, p](privacy_request_view v) {
          // Someone else's request does not exist for the caller.
          if (!may_see(p, v)) return respond(not_found("privacy request"));
          respond(json(200, dump(view_json(v, actors::now_ms()))));
        },
        get_atom::value, id);
  });
}

response archive_response(const std::string& id, std::string doc) {
  auto r = json(200, std::move(doc));
  r.headers.emplace_back("Content-Disposition",
                         "attachment; filename=\"mext-export-" + id + ".json\"");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

void on_get_archive(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  auto id = req.params["id"];
  auto rid = req.request_id;
  require_user(*a, req, respond, [a, respond, id, rid](principal p) {
    if (!is_id_of(id, "prq")) return respond(not_found("privacy request"));
    ask_actor<privacy_request_view>(
        *a, a->privacy, respond,
        [a, respond, id, rid, p](privacy_request_view v) {
          auto me = p.caller.user_id;
          if (me != v.requested_by && me != v.subject_id) {
            if (may_see(p, v))
              return respond(problem(403, "Forbidden", "only the requester downloads an export"));
            return respond(not_found("privacy request"));
          }
          ask_actor<std::string>(
              *a, a->privacy, respond,
              [a, respond, id, rid, v, me](std::string doc) {
                if (me == v.subject_id) return respond(archive_response(id, std::move(doc)));
                // An administrator reading someone's export: the audit entry first.
                persistence::write_item item;
                actors::audit_entry e;
                e.at_ms = actors::now_ms();
                e.who = me;
                e.whose = {v.subject_id};
                e.action = "archive_download";
                e.target = id;
                e.request_id = rid;
                auto audited = actors::add_audit(item, *a->eng.rt()->sealer, e);
                if (!audited) return respond(from_error(audited.error()));
                auto shared = std::make_shared<std::string>(std::move(doc));
                commit_item(*a, std::move(item), [respond, id, shared](caf::error err) {
                  if (err) return respond(from_error(err));
                  respond(archive_response(id, std::move(*shared)));
                });
              },
              archive_atom::value, id);
        },
        get_atom::value, id);
  });
}

void on_admin_request(const std::shared_ptr<api>& a, request& req, respond_fn respond,
                      std::string kind) {
  auto id = req.params["id"];
  auto rid = req.request_id;
  require_admin(*a, req, respond, [a, respond, id, rid, kind](principal p) {
    if (!is_id_of(id, "usr")) return respond(not_found("user"));
    // A person who exists, or who was erased (their export then shows that nothing is held).
    auto unknown = [a, respond, id, rid, kind, p](response r) {
      if (r.status != 404) return respond(std::move(r));
      auto erased = a->eng.rt()->sealer->forgotten(id);
      if (!erased) return respond(from_error(erased.error()));
      if (!*erased) return respond(std::move(r));
      submit(a, kind, id, p.caller.user_id, rid, respond);
    };
    call<actors::user_actor, actors::user_view>(
        *a, id, false, unknown,
        [a, respond, id, rid, kind, p](actors::user_view) {
          submit(a, kind, id, p.caller.user_id, rid, respond);
        },
        get_atom::value, p.caller);
  });
}

void on_admin_export(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  on_admin_request(a, req, std::move(respond), "export");
}

void on_admin_erase(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  on_admin_request(a, req, std::move(respond), "erasure");
}

void on_admin_list(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  auto limit = parse_list_limit(req);
  auto cursor = req.query_param("cursor");
  require_admin(*a, req, respond, [a, respond, limit, cursor](principal) {
    if (!limit) return respond(from_error(limit.error()));
    std::string after;
    if (cursor && !cursor->empty()) {
      auto decoded = unbase64url(*cursor);
      if (!decoded || !is_id_of(*decoded, "prq"))
        return respond(problem(400, "Bad Request", "malformed cursor"));
      after = *decoded;
    }
    const uint32_t page = *limit;
    ask_actor<std::vector<privacy_request_view>>(
        *a, a->privacy, respond,
        [respond, page](std::vector<privacy_request_view> all) {
          auto now = actors::now_ms();
          njson items = njson::array();
          for (auto& v : all) items.push_back(view_json(v, now));
          njson body{{"items", std::move(items)}, {"next_cursor", nullptr}};
          if (all.size() == page) body["next_cursor"] = base64url(all.back().request_id);
          respond(json(200, dump(body)));
        },
        list_atom::value, after, page);
  });
}

void on_audit(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  auto limit = parse_list_limit(req);
  auto cursor = req.query_param("cursor");
  require_admin(*a, req, respond, [a, respond, limit, cursor](principal) {
    if (!limit) return respond(from_error(limit.error()));
    std::string before;
    if (cursor && !cursor->empty()) {
      auto decoded = unbase64url(*cursor);
      if (!decoded || decoded->size() != 32)
        return respond(problem(400, "Bad Request", "malformed cursor"));
      before = *decoded;
    }
    auto entries = actors::read_audit(*a->eng.rt()->store, *a->eng.rt()->sealer, *limit, before);
    if (!entries) return respond(from_error(entries.error()));
    njson items = njson::array();
    for (auto& e : *entries) {
      njson j{{"audit_id", e.audit_id},
              {"who", e.who},
              {"whose", e.whose},
              {"what",
               {{"action", e.action},
                {"target", e.target},
                {"detail", e.detail.empty() ? njson(nullptr) : njson(e.detail)}}},
              {"why", e.why.empty() ? njson(nullptr) : njson(e.why)},
              {"when", format_rfc3339(e.at_ms)},
              {"request_id", e.request_id.empty() ? njson(nullptr) : njson(e.request_id)}};
      items.push_back(std::move(j));
    }
    njson body{{"items", std::move(items)}, {"next_cursor", nullptr}};
    if (entries->size() == *limit) body["next_cursor"] = base64url(entries->back().audit_id);
    respond(json(200, dump(body)));
  });
}

// -- breaches -------------------------------------------------------------------------------------

njson breach_json(const actors::breach_view& b, const std::string& contact) {
  const auto& n = b.notices;
  njson notices{
      {"queued", n.queued}, {"sent", n.sent}, {"failed", n.failed}, {"skipped", n.skipped}};
  auto now = actors::now_ms();
  // Art. 33(3): (a) nature, categories and approximate numbers; (b) the contact point;
  // (c) likely consequences; (d) measures taken or proposed. Art. 33(1): 72 hours.
  njson report{{"regulation", "GDPR Art. 33"},
               {"breach_id", b.breach_id},
               {"contact_point", contact},
               {"detected_at", format_rfc3339(b.input.detected_at_ms)},
               {"recorded_at", format_rfc3339(b.recorded_at_ms)},
               {"notify_by", format_rfc3339(b.notify_authority_by_ms)},
               {"deadline_passed", now > b.notify_authority_by_ms},
               {"nature",
                {{"description", b.input.description},
                 {"categories_of_personal_data", b.input.categories},
                 {"approximate_number_of_data_subjects", b.input.user_ids.size()}}},
               {"likely_consequences", b.input.likely_consequences},
               {"measures_taken_or_proposed", b.input.measures_taken},
               {"communication_to_data_subjects", notices}};
  return {{"breach_id", b.breach_id},
          {"status", n.queued > 0 ? "notifying" : "notified"},
          {"description", b.input.description},
          {"detected_at", format_rfc3339(b.input.detected_at_ms)},
          {"recorded_at", format_rfc3339(b.recorded_at_ms)},
          {"recorded_by", b.recorded_by},
          {"notify_authority_by", format_rfc3339(b.notify_authority_by_ms)},
          {"categories", b.input.categories},
          {"people", b.input.user_ids.size()},
          {"notices_sent", n.sent},
          {"notices", std::move(notices)},
          {"authority_report", std::move(report)}};
}

void on_record_breach(const std::shared_ptr<api>& a, request& req, respond_fn respond,
                      std::string contact) {
  auto rid = req.request_id;
  auto parsed = parse_object(a->limits, req);
  require_admin(*a, req, respond, [a, parsed, respond, rid, contact](principal p) {
    MEXT_TRY_OR_RESPOND(body, parsed);
    MEXT_TRY_OR_RESPOND(description,
                        required_string(*body, "description", actors::max_breach_text_bytes));
    MEXT_TRY_OR_RESPOND(detected_at, required_time(*body, "detected_at"));
    MEXT_TRY_OR_RESPOND(categories, string_list(*body, "categories", 64, 100));
    MEXT_TRY_OR_RESPOND(user_ids, string_list(*body, "user_ids", 100000, 64));
    MEXT_TRY_OR_RESPOND(
        consequences, optional_string(*body, "likely_consequences", actors::max_breach_text_bytes));
    MEXT_TRY_OR_RESPOND(measures,
                        optional_string(*body, "measures_taken", actors::max_breach_text_bytes));
    actors::breach_input in{std::move(*description),    *detected_at,
                            std::move(*categories),     std::move(*user_ids),
                            consequences->value_or(""), measures->value_or("")};
    ask_actor<actors::breach_view>(
        *a, a->breaches, respond,
        [respond, rid, contact](actors::breach_view b) {
          log::info("breach.recorded")
              .field("request_id", rid)
              .field("breach_id", b.breach_id)
              .field("people", static_cast<uint64_t>(b.input.user_ids.size()));
          respond(json(201, dump(breach_json(b, contact))));
        },
        record_atom::value, p.caller, std::move(in));
  });
}

void on_get_breach(const std::shared_ptr<api>& a, request& req, respond_fn respond,
                   std::string contact) {
  auto id = req.params["id"];
  require_admin(*a, req, respond, [a, respond, id, contact](principal) {
    if (!is_id_of(id, "brc")) return respond(not_found("breach"));
    ask_actor<actors::breach_view>(
        *a, a->breaches, respond,
        [respond, contact](actors::breach_view b) {
          respond(json(200, dump(breach_json(b, contact))));
        },
        get_atom::value, id);
  });
}

}  // namespace

void add_privacy_routes(router& routes, std::shared_ptr<api> a, privacy_options options) {
  auto data_dir = options.data_dir.empty() ? a->eng.rt()->store->settings().dir.parent_path()
                                           : options.data_dir;
  actors::privacy_settings s;
  s.archive_dir = data_dir / "exports";
  s.ledger_path = data_dir / "ledger" / "erasures";
  s.holder_timeout = options.holder_timeout;
  s.holder_attempts = options.holder_attempts;
  s.parallel_holders = options.parallel_holders;
  s.archive_retention = options.archive_retention;
  s.purge_interval = options.purge_interval;
  s.render_archive = render_archive;
  std::weak_ptr<api> weak = a;
  s.end_sessions = [weak](const std::string& person, std::function<void(caf::error)> done) {
    auto api = weak.lock();
    if (!api || !api->sessions) return done({});
    api->sessions->revoke_all(
        person, [done](caf::expected<size_t> n) { done(n ? caf::error{} : n.error()); });
  };
  s.local.push_back(actors::local_holder{
      "sessions",
      [weak](const std::string& person) -> caf::expected<std::vector<actors::personal_record>> {
        auto api = weak.lock();
        if (!api) return make_error(errc::internal, "the API is gone");
        return login_sessions_of(*api, person);
      },
      nullptr});
  s.local.push_back(actors::local_holder{
      "files",
      [weak](const std::string& person) -> caf::expected<std::vector<actors::personal_record>> {
        auto api = weak.lock();
        if (!api) return make_error(errc::internal, "the API is gone");
        return files_export_of(api->eng, person);
      },
      [weak](const std::string& person) -> caf::expected<actors::local_erasure> {
        auto api = weak.lock();
        if (!api) return make_error(errc::internal, "the API is gone");
        return files_erasure_of(api->eng, person);
      }});
  auto spool =
      options.notice_spool_dir.empty() ? data_dir / "notice-spool" : options.notice_spool_dir;
  // A notice waiting in the spool holds the person's address: it goes with them.
  s.local.push_back(actors::local_holder{
      "notice spool", nullptr,
      [spool](const std::string& person) -> caf::expected<actors::local_erasure> {
        actors::local_erasure out;
        std::error_code ec;
        if (!std::filesystem::exists(spool, ec)) return out;
        auto suffix = "-" + person + ".eml";
        for (auto& e : std::filesystem::directory_iterator(spool, ec)) {
          auto name = e.path().filename().string();
          if (name.size() > suffix.size() &&
              name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
              std::filesystem::remove(e.path(), ec))
            ++out.records;
        }
        return out;
      }});
  s.crash_at = options.crash_at;
  a->privacy = actors::spawn_privacy_actor(a->sys, a->eng.rt(), std::move(s));

  actors::breach_settings bs;
  bs.sender = options.notice_command.empty() ? actors::spool_sender(spool)
                                             : actors::command_sender(options.notice_command);
  bs.delivery_interval = options.notice_retry;
  bs.max_attempts = options.notice_attempts;
  bs.contact = options.contact;
  a->breaches = actors::spawn_breach_actor(a->sys, a->eng.rt(), std::move(bs));
  auto contact = options.contact;
  add_guarded(routes, a, "POST", "/api/v1/admin/breaches",
              [a, contact](request& req, respond_fn respond) {
                on_record_breach(a, req, std::move(respond), contact);
              });
  add_guarded(routes, a, "GET", "/api/v1/admin/breaches/{id}",
              [a, contact](request& req, respond_fn respond) {
                on_get_breach(a, req, std::move(respond), contact);
              });

  auto add = [&](const char* method, const char* pattern,
                 void (*h)(const std::shared_ptr<api>&, request&, respond_fn)) {
    add_guarded(routes, a, method, pattern,
                [a, h](request& req, respond_fn respond) { h(a, req, std::move(respond)); });
  };
  add("POST", "/api/v1/me/export", on_export_me);
  add("POST", "/api/v1/me/erase", on_erase_me);
  add("GET", "/api/v1/privacy/requests/{id}", on_get_request);
  add("GET", "/api/v1/privacy/requests/{id}/archive", on_get_archive);
  add("POST", "/api/v1/admin/users/{id}/export", on_admin_export);
  add("POST", "/api/v1/admin/users/{id}/erase", on_admin_erase);
  add("GET", "/api/v1/admin/privacy/requests", on_admin_list);
  add("GET", "/api/v1/admin/audit", on_audit);
}

void stop_privacy(api& a) {
  caf::scoped_actor self{a.sys};
  for (auto hdl :
       {caf::actor_cast<caf::actor>(a.privacy), caf::actor_cast<caf::actor>(a.breaches)}) {
    if (!hdl) continue;
    self->monitor(hdl);
    self->send_exit(hdl, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
  }
  a.privacy = actors::privacy_actor{};
  a.breaches = actors::breach_actor{};
}

}  // namespace mext::http
