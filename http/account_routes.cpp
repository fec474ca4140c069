// Accounts and profiles (API.md): registration, login, logout, the own profile, password
// changes and public profiles.

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/audit_log.hpp"
#include "actors/connection_log_actor.hpp"
#include "actors/password.hpp"
#include "actors/user_actor.hpp"
#include "http/auth.hpp"
#include "http/connection_data.hpp"
#include "http/edge_guard.hpp"
#include "http/routes.hpp"
#include "http/user_agent.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

using actors::user_view;
using jv = nlohmann::json;

constexpr size_t max_email_bytes = 320;
// Raw bytes; the policy counts characters and answers "at most 128 characters" itself.
constexpr size_t max_password_bytes = 4096;
constexpr size_t max_name_bytes = 200;
constexpr size_t max_text_bytes = 2000;
constexpr size_t max_list_items = 50;
constexpr size_t max_list_item_bytes = 100;
constexpr size_t max_referrer_bytes = 512;

jv nullable(const std::string& s) {
  return s.empty() ? jv(nullptr) : jv(s);
}

// The profile as its owner sees it (GET/PATCH /me).
jv own_profile(const user_view& v) {
  return {{"user_id", v.user_id},
          {"first_name", v.first_name},
          {"surname", v.surname},
          {"email", v.email},
          {"linkedin_url", nullable(v.linkedin_url)},
          {"photo_file_id", nullable(v.photo_file_id)},
          {"country", nullable(v.country)},
          {"organization_id", nullable(v.organization_id)},
          {"role_in_org", nullable(v.role_in_org)},
          {"interests", v.interests},
          {"keywords", v.keywords},
          {"address", nullable(v.address)},
          {"roles", v.roles},
          {"rep_of", v.rep_of},
          {"speaker_of", v.speaker_of},
          {"created_at", format_rfc3339(v.created_at_ms)}};
}

// What any signed-in user may see: no email, address, roles or connection data, whoever asks.
jv public_profile(const user_view& v) {
  return {{"user_id", v.user_id},
          {"first_name", v.first_name},
          {"surname", v.surname},
          {"linkedin_url", nullable(v.linkedin_url)},
          {"photo_file_id", nullable(v.photo_file_id)},
          {"country", nullable(v.country)},
          {"organization_id", nullable(v.organization_id)},
          {"role_in_org", nullable(v.role_in_org)},
          {"interests", v.interests},
          {"keywords", v.keywords}};
}

// Wrong email and wrong password answer alike, byte for byte.
response wrong_credentials() {
  return problem(401, "Unauthorized", "the email or the password is wrong");
}

// The cookie variant of the token. Secure even when mextd serves plain HTTP on loopback:
// browsers accept Secure cookies from http://localhost, and a cookie that could leak over
// plain HTTP elsewhere is what Secure forbids.
std::string session_cookie(const std::string& token, std::chrono::seconds max_age) {
  return "mext_session=" + token + "; Path=/; Max-Age=" + std::to_string(max_age.count()) +
         "; HttpOnly; Secure; SameSite=Strict";
}

std::string cleared_cookie() {
  return "mext_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict";
}

// The referrer without query or fragment (they may carry tokens), printable ASCII only.
std::string referrer_of(const request& req) {
  auto ref = req.header("referer");
  if (!ref) return {};
  auto cut = ref->find_first_of("?#");
  std::string out = ref->substr(0, cut);
  if (out.size() > max_referrer_bytes) out.resize(max_referrer_bytes);
  bool printable = std::all_of(out.begin(), out.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  return printable ? out : std::string{};
}

// Registration's words that must not be in a password.
std::vector<std::string> context_of(const std::string& email, const std::string& first_name,
                                    const std::string& surname) {
  return {email, first_name, surname};
}

// A PATCH /me body as a profile_patch: a present key changes its field; null clears it.
caf::expected<actors::profile_patch> parse_patch(const jv& body) {
  actors::profile_patch p;
  auto text = [&](const char* name, size_t max, bool& has, std::string& out) -> caf::error {
    if (!body.contains(name)) return {};
    has = true;
    auto v = optional_string(body, name, max);
    if (!v) return v.error();
    out = v->value_or("");
    return {};
  };
  auto list = [&](const char* name, bool& has, std::vector<std::string>& out) -> caf::error {
    if (!body.contains(name)) return {};
    has = true;
    auto v = string_list(body, name, max_list_items, max_list_item_bytes);
    if (!v) return v.error();
    out = std::move(*v);
    return {};
  };
  caf::error err;
  if ((err = text("first_name", max_name_bytes, p.has_first_name, p.first_name)) ||
      (err = text("surname", max_name_bytes, p.has_surname, p.surname)) ||
      (err = text("email", max_email_bytes, p.has_email, p.email)) ||
      (err = text("linkedin_url", max_text_bytes, p.has_linkedin_url, p.linkedin_url)) ||
      (err = text("photo_file_id", max_name_bytes, p.has_photo_file_id, p.photo_file_id)) ||
      (err = text("country", max_name_bytes, p.has_country, p.country)) ||
      (err = text("organization_id", max_name_bytes, p.has_organization_id, p.organization_id)) ||
      (err = text("role_in_org", max_name_bytes, p.has_role_in_org, p.role_in_org)) ||
      (err = list("interests", p.has_interests, p.interests)) ||
      (err = list("keywords", p.has_keywords, p.keywords)) ||
      (err = text("address", max_text_bytes, p.has_address, p.address)))
    return err;
  if (p.has_first_name && p.first_name.empty())
    return make_error(errc::invalid_argument, "first_name cannot be cleared");
  if (p.has_surname && p.surname.empty())
    return make_error(errc::invalid_argument, "surname cannot be cleared");
  if (p.has_email && p.email.empty())
    return make_error(errc::invalid_argument, "email cannot be cleared");
  return p;
}

// -- POST /auth/register --------------------------------------------------------------------------

void on_register(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  MEXT_TRY_OR_RESPOND(body, parse_object(a->limits, req));
  MEXT_TRY_OR_RESPOND(email, required_string(*body, "email", max_email_bytes));
  MEXT_TRY_OR_RESPOND(password, required_string(*body, "password", max_password_bytes));
  MEXT_TRY_OR_RESPOND(first_name, required_string(*body, "first_name", max_name_bytes));
  MEXT_TRY_OR_RESPOND(surname, required_string(*body, "surname", max_name_bytes));
  if (!actors::normalize_email(*email))
    return respond(problem(400, "Bad Request", "email is not a valid email address"));
  if (auto err = check_password(*password, a->sessions->blocklist(),
                                context_of(*email, *first_name, *surname)))
    return respond(from_error(err));
  actors::registration reg{*email, *password, *first_name, *surname, {"visitor"}, actors::now_ms()};
  call<actors::user_actor, user_view>(
      *a, new_id("usr"), true, respond,
      [respond](user_view v) {
        respond(json(201, jv{{"user_id", v.user_id}}.dump()));
      },
      register_atom::value, std::move(reg));
}

// -- POST /auth/login -----------------------------------------------------------------------------

struct login_attempt {
  std::string account_key;  // the email's blind index: throttles without keeping emails
  std::string ip;
  std::string request_id;
  actors::connection_entry entry;
};

// Records the connection, then answers `ok`. The login stands even if recording fails: the
// failure is logged.
void record_login(const std::shared_ptr<api>& a, const std::string& user_id,
                  actors::connection_entry entry, std::string request_id, response ok,
                  respond_fn respond) {
  record_connection(a, user_id, std::move(entry),
                    [respond, ok, request_id, user_id](std::optional<int> failed) {
                      if (failed)
                        log::warn("auth.connection_log_failed")
                            .field("request_id", request_id)
                            .field("user_id", user_id)
                            .field("status", *failed);
                      respond(ok);
                    });
}

void finish_login(const std::shared_ptr<api>& a, const std::string& user_id, login_attempt at,
                  respond_fn respond) {
  a->sessions->throttle().success(at.account_key, at.ip);
  auto absolute = a->sessions->settings().session_absolute;
  a->sessions->create(user_id, [a, user_id, at = std::move(at), respond,
                                absolute](caf::expected<session_store::issued> s) mutable {
    if (!s) return respond(from_error(s.error()));
    log::info("auth.login").field("request_id", at.request_id).field("user_id", user_id);
    auto ok = json(200, jv{{"token", s->token},
                           {"user_id", user_id},
                           {"expires_at", format_rfc3339(s->info.expires_ms)}}
                            .dump());
    ok.headers.emplace_back("Set-Cookie", session_cookie(s->token, absolute));
    at.entry.at_ms = s->info.created_ms;
    record_login(a, user_id, std::move(at.entry), at.request_id, std::move(ok), respond);
  });
}

void on_login(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  MEXT_TRY_OR_RESPOND(body, parse_object(a->limits, req));
  MEXT_TRY_OR_RESPOND(email, required_string(*body, "email", max_email_bytes));
  MEXT_TRY_OR_RESPOND(password, required_string(*body, "password", max_password_bytes));
  MEXT_TRY_OR_RESPOND(screen, optional_string(*body, "screen", 16));
  if (*screen && !valid_screen(**screen))
    return respond(problem(400, "Bad Request", "screen is a resolution such as 1920x1080"));

  auto& rt = *a->eng.rt();
  const auto& settings = a->sessions->settings();
  login_attempt at;
  at.entry = connection_entry_of(req, settings, "login", screen->value_or(""));
  at.account_key = actors::email_index_key(*rt.sealer, *email);
  at.ip = at.entry.ip;
  at.request_id = req.request_id;
  if (auto wait = a->sessions->throttle().admit(at.account_key, at.ip)) {
    log::info("auth.login_throttled").field("request_id", req.request_id);
    return respond(too_many_attempts(*wait));
  }

  auto holder = rt.store->get(persistence::db::indexes, at.account_key);
  if (!holder) return respond(from_error(holder.error()));
  if (!*holder) {
    // No such account: spend what a verification costs, off the I/O thread, and answer alike.
    auto params = actors::password_params_of(rt.settings);
    auto rid = req.request_id;
    a->sys.spawn([params, password = std::move(*password), respond, rid](caf::event_based_actor*) {
      actors::verify_against_nothing(password, params);
      log::info("auth.login_failed").field("request_id", rid);
      respond(wrong_credentials());
    });
    return;
  }
  auto user_id = **holder;
  call<actors::user_actor, bool>(
      *a, user_id, false, respond,
      [a, user_id, at = std::move(at), respond](bool ok) {
        if (!ok) {
          log::info("auth.login_failed").field("request_id", at.request_id);
          return respond(wrong_credentials());
        }
        finish_login(a, user_id, at, respond);
      },
      verify_atom::value, std::move(*password));
}

// -- POST /auth/logout ----------------------------------------------------------------------------

void on_logout(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  require_user(*a, req, respond, [a, respond](principal p) {
    a->sessions->revoke_hash(p.session.token_hash, [respond](caf::error err) {
      if (err) return respond(from_error(err));
      response r;
      r.status = 204;
      r.content_type.clear();
      r.headers.emplace_back("Set-Cookie", cleared_cookie());
      respond(std::move(r));
    });
  });
}

// -- GET /me, PATCH /me ---------------------------------------------------------------------------

void on_get_me(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  require_user(*a, req, respond, [a, respond](principal p) {
    call<actors::user_actor, user_view>(
        *a, p.caller.user_id, false, respond,
        [respond](user_view v) { respond(json(200, own_profile(v).dump())); }, get_atom::value,
        p.caller);
  });
}

void on_patch_me(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  // Who asks comes first: an anonymous request is 401 whatever its body. `req` stays valid
  // until respond is called.
  require_user(*a, req, respond, [a, &req, respond](principal p) {
    MEXT_TRY_OR_RESPOND(body, parse_object(a->limits, req));
    MEXT_TRY_OR_RESPOND(patch, parse_patch(*body));
    call<actors::user_actor, user_view>(
        *a, p.caller.user_id, false, respond,
        [respond](user_view v) { respond(json(200, own_profile(v).dump())); }, update_atom::value,
        p.caller, std::move(*patch));
  });
}

// -- PATCH /admin/users/{id}: a correction on a person's behalf (Art. 16) ------------------------

constexpr size_t max_reason_bytes = 500;

// The fields of a profile patch present in `body`, for the audit entry (names, never values).
std::string patched_fields(const jv& body) {
  static constexpr const char* names[] = {
      "first_name",      "surname",     "email",     "linkedin_url", "photo_file_id", "country",
      "organization_id", "role_in_org", "interests", "keywords",     "address"};
  std::string out;
  for (auto n : names)
    if (body.contains(n)) out += (out.empty() ? "" : ",") + std::string(n);
  return out;
}

// The person must exist; the audit entry (who, whose, which fields, why) is durable before the
// change is made, so no correction is ever made unaudited.
void on_admin_patch_user(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  auto id = req.params["id"];
  auto rid = req.request_id;
  // Parsed now: the request may be gone when the principal is known (a closing connection).
  auto parsed = parse_object(a->limits, req);
  require_admin(*a, req, respond, [a, parsed, respond, id, rid](principal p) {
    if (!is_id_of(id, "usr")) return respond(not_found("user"));
    MEXT_TRY_OR_RESPOND(body, parsed);
    MEXT_TRY_OR_RESPOND(reason, required_string(*body, "reason", max_reason_bytes));
    MEXT_TRY_OR_RESPOND(patch, parse_patch(*body));
    auto fields = patched_fields(*body);
    if (fields.empty())
      return respond(problem(400, "Bad Request", "name at least one profile field to correct"));
    call<actors::user_actor, user_view>(
        *a, id, false, respond,
        [a, respond, id, rid, p, fields, reason = std::move(*reason),
         patch = std::move(*patch)](user_view) {
          actors::audit_entry e;
          e.at_ms = actors::now_ms();
          e.who = p.caller.user_id;
          e.whose = {id};
          e.action = "rectification";
          e.target = id;
          e.why = reason;
          e.request_id = rid;
          e.detail = fields;
          persistence::write_item item;
          auto audited = actors::add_audit(item, *a->eng.rt()->sealer, e);
          if (!audited) return respond(from_error(audited.error()));
          commit_item(*a, std::move(item), [a, respond, id, rid, p, patch](caf::error err) {
            if (err) return respond(from_error(err));
            call<actors::user_actor, user_view>(
                *a, id, false, respond,
                [respond, rid, id, p](user_view v) {
                  log::info("admin.rectification")
                      .field("request_id", rid)
                      .field("admin_id", p.caller.user_id)
                      .field("user_id", id);
                  respond(json(200, own_profile(v).dump()));
                },
                update_atom::value, p.caller, patch);
          });
        },
        get_atom::value, p.caller);
  });
}

// -- POST /me/password ----------------------------------------------------------------------------

// The new password's policy, the old one's check (throttled), then every other session ends.
void change_password(const std::shared_ptr<api>& a, principal p, std::string ip, std::string rid,
                     std::string old_pw, std::string new_pw, respond_fn respond) {
  call<actors::user_actor, user_view>(
      *a, p.caller.user_id, false, respond,
      [a, respond, ip, rid, old_pw, new_pw, p](user_view v) {
        if (auto err = check_password(new_pw, a->sessions->blocklist(),
                                      context_of(v.email, v.first_name, v.surname)))
          return respond(from_error(err));
        // Guessing the old password through a stolen session is throttled like a login.
        auto key = actors::email_index_key(*a->eng.rt()->sealer, v.email);
        if (auto wait = a->sessions->throttle().admit(key, ip))
          return respond(too_many_attempts(*wait));
        call<actors::user_actor, bool>(
            *a, p.caller.user_id, false, respond,
            [a, respond, key, ip, rid, p](bool) {
              a->sessions->throttle().success(key, ip);
              // Every other session ends: whoever else knew the old password is signed out.
              a->sessions->revoke_all(
                  p.caller.user_id,
                  [respond, rid, p](caf::expected<size_t> n) {
                    if (!n) return respond(from_error(n.error()));
                    log::info("auth.password_changed")
                        .field("request_id", rid)
                        .field("user_id", p.caller.user_id)
                        .field("sessions_revoked", static_cast<uint64_t>(*n));
                    response r;
                    r.status = 204;
                    r.content_type.clear();
                    respond(std::move(r));
                  },
                  p.session.token_hash);
            },
            password_atom::value, p.caller, old_pw, new_pw);
      },
      get_atom::value, p.caller);
}

void on_change_password(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  require_user(*a, req, respond, [a, &req, respond](principal p) {
    MEXT_TRY_OR_RESPOND(body, parse_object(a->limits, req));
    MEXT_TRY_OR_RESPOND(old_password, required_string(*body, "old_password", max_password_bytes));
    MEXT_TRY_OR_RESPOND(new_password, required_string(*body, "new_password", max_password_bytes));
    auto ip = client_address_of(req, a->sessions->settings().trusted_proxies).ip;
    auto rid = req.request_id;
    change_password(a, std::move(p), std::move(ip), std::move(rid), std::move(*old_password),
                    std::move(*new_password), respond);
  });
}

// -- GET /users/{id} ------------------------------------------------------------------------------

void on_get_user(const std::shared_ptr<api>& a, request& req, respond_fn respond) {
  auto id = req.params["id"];
  require_user(*a, req, respond, [a, respond, id](principal p) {
    if (!is_valid_id(id) || kind_of(id) != "usr" || owner_of(id) != id)
      return respond(problem(404, "Not Found", "no such user"));
    call<actors::user_actor, user_view>(
        *a, id, false, respond,
        [respond](user_view v) { respond(json(200, public_profile(v).dump())); }, get_atom::value,
        p.caller);
  });
}

}  // namespace

bool valid_screen(const std::string& s) {
  auto x = s.find('x');
  if (x == std::string::npos || x == 0 || x > 5 || s.size() - x - 1 == 0 || s.size() - x - 1 > 5)
    return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (i != x && !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

actors::connection_entry connection_entry_of(const request& req, const auth_settings& settings,
                                             std::string kind, std::string screen) {
  auto addr = client_address_of(req, settings.trusted_proxies);
  auto ua = parse_user_agent(req.header("user-agent").value_or(""));
  actors::connection_entry e;
  e.at_ms = actors::now_ms();
  e.kind = std::move(kind);
  e.ip = std::move(addr.ip);
  std::optional<std::string> isp;
  if (settings.isp) isp = settings.isp->lookup(e.ip);
  e.isp = isp.value_or("unknown");
  e.proxies = std::move(addr.proxies);
  e.referrer = referrer_of(req);
  e.device_type = ua.device_type;
  e.os = ua.os;
  e.screen = std::move(screen);
  return e;
}

void record_connection(const std::shared_ptr<api>& a, const std::string& user_id,
                       actors::connection_entry entry,
                       std::function<void(std::optional<int> failed_status)> done) {
  auto failed = [done](response r) { done(r.status); };
  auto retention = a->sessions->settings().connection_retention;
  auto log_id = actors::connection_log_id(user_id);
  call<actors::connection_log_actor, uint64_t>(
      *a, log_id, true, failed,
      [a, log_id, retention, done, failed](uint64_t) {
        auto before = actors::now_ms() -
                      std::chrono::duration_cast<std::chrono::milliseconds>(retention).count();
        call<actors::connection_log_actor, uint64_t>(
            *a, log_id, false, failed, [done](uint64_t) { done(std::nullopt); }, purge_atom::value,
            before);
      },
      record_atom::value, std::move(entry));
}

void add_account_routes(router& routes, std::shared_ptr<api> a) {
  auto add = [&](const char* method, const char* pattern,
                 void (*h)(const std::shared_ptr<api>&, request&, respond_fn)) {
    add_guarded(routes, a, method, pattern,
                [a, h](request& req, respond_fn respond) { h(a, req, std::move(respond)); });
  };
  add("POST", "/api/v1/auth/register", on_register);
  add("POST", "/api/v1/auth/login", on_login);
  add("POST", "/api/v1/auth/logout", on_logout);
  add("GET", "/api/v1/me", on_get_me);
  add("PATCH", "/api/v1/me", on_patch_me);
  add("POST", "/api/v1/me/password", on_change_password);
  add("GET", "/api/v1/users/{id}", on_get_user);
  add("PATCH", "/api/v1/admin/users/{id}", on_admin_patch_user);
}

}  // namespace mext::http
