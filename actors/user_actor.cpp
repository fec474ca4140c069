#include "actors/user_actor.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <utility>

#include <capnp/message.h>
#include <caf/all.hpp>

#include "actors/entity_codec.hpp"
#include "actors/entity_core.hpp"
#include "actors/password.hpp"
#include "mext/schemas/user.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

using persistence::db;

constexpr size_t max_field_chars = 1000;
constexpr size_t max_list_items = 50;
constexpr size_t max_email_bytes = 254;
constexpr std::string_view email_key_prefix = "email/";

// -- state ---------------------------------------------------------------------------------------

struct profile_data {
  std::string first_name;
  std::string surname;
  std::string email;
  std::string linkedin_url;
  std::string photo_file_id;
  std::string country;
  std::string organization_id;
  std::string role_in_org;
  std::vector<std::string> interests;
  std::vector<std::string> keywords;
  std::string address;
  bool operator==(const profile_data&) const = default;
};

struct user_data {
  bool exists = false;
  bool erased = false;
  int64_t created_at_ms = 0;
  // Blind index of the normalized email (raw HMAC bytes): the index key is the prefix + this.
  std::string email_index;
  std::string password_hash;
  profile_data profile;
  std::vector<role_grant> roles;

  bool live() const { return exists && !erased; }
};

struct user_state {
  entity_core core;
  user_data data;
  static inline const char* name = "user";
};

using user_self = user_actor::stateful_pointer<user_state>;

// -- bytes, text and personal fields -------------------------------------------------------------

capnp::Data::Reader as_data(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

std::string bytes_of(capnp::Data::Reader d) {
  return {reinterpret_cast<const char*>(d.begin()), d.size()};
}

std::string text_of(capnp::Text::Reader t) {
  return {t.cStr(), t.size()};
}

// Seals the personal fields of one user's records (the user is subject and context); keeps the
// first error so that building a record reads straight through.
struct field_writer {
  persistence::field_sealer& sealer;
  const std::string& subject;
  caf::error err;

  std::string operator()(std::string_view plain) {
    if (err) return {};
    auto sealed = sealer.seal(subject, subject, plain);
    if (!sealed) {
      err = std::move(sealed.error());
      return {};
    }
    return std::move(*sealed);
  }
};

struct field_reader {
  persistence::field_sealer& sealer;
  const std::string& subject;
  caf::error err;

  // An absent field reads as empty: optional fields are left unset when empty.
  std::string operator()(capnp::Data::Reader d) {
    if (err || d.size() == 0) return {};
    std::string_view sealed{reinterpret_cast<const char*>(d.begin()), d.size()};
    auto plain = sealer.open(subject, subject, sealed);
    if (!plain) {
      err = std::move(plain.error());
      return {};
    }
    return std::move(*plain);
  }
};

void write_list(field_writer& w, capnp::List<capnp::Data>::Builder out,
                const std::vector<std::string>& values) {
  for (unsigned i = 0; i < values.size(); ++i) out.set(i, as_data(w(values[i])));
}

std::vector<std::string> read_list(field_reader& r, capnp::List<capnp::Data>::Reader in) {
  std::vector<std::string> out;
  out.reserve(in.size());
  for (auto d : in) out.push_back(r(d));
  return out;
}

void write_profile(field_writer& w, schema::Profile::Builder b, const profile_data& p) {
  if (!p.first_name.empty()) b.setFirstName(as_data(w(p.first_name)));
  if (!p.surname.empty()) b.setSurname(as_data(w(p.surname)));
  if (!p.email.empty()) b.setEmail(as_data(w(p.email)));
  if (!p.linkedin_url.empty()) b.setLinkedinUrl(as_data(w(p.linkedin_url)));
  b.setPhotoFileId(p.photo_file_id);
  if (!p.country.empty()) b.setCountry(as_data(w(p.country)));
  b.setOrganizationId(p.organization_id);
  if (!p.role_in_org.empty()) b.setRoleInOrg(as_data(w(p.role_in_org)));
  if (!p.interests.empty()) {
    write_list(w, b.initInterests(static_cast<unsigned>(p.interests.size())), p.interests);
  }
  if (!p.keywords.empty()) {
    write_list(w, b.initKeywords(static_cast<unsigned>(p.keywords.size())), p.keywords);
  }
  if (!p.address.empty()) b.setAddress(as_data(w(p.address)));
}

profile_data read_profile(field_reader& r, schema::Profile::Reader b) {
  profile_data p;
  p.first_name = r(b.getFirstName());
  p.surname = r(b.getSurname());
  p.email = r(b.getEmail());
  p.linkedin_url = r(b.getLinkedinUrl());
  p.photo_file_id = text_of(b.getPhotoFileId());
  p.country = r(b.getCountry());
  p.organization_id = text_of(b.getOrganizationId());
  p.role_in_org = r(b.getRoleInOrg());
  p.interests = read_list(r, b.getInterests());
  p.keywords = read_list(r, b.getKeywords());
  p.address = r(b.getAddress());
  return p;
}

// -- roles ---------------------------------------------------------------------------------------

constexpr std::pair<std::string_view, schema::Role> role_names[] = {
    {"visitor", schema::Role::VISITOR},
    {"org_rep", schema::Role::ORG_REP},
    {"speaker", schema::Role::SPEAKER},
    {"admin", schema::Role::ADMIN},
};

std::optional<schema::Role> role_of(std::string_view name) {
  for (auto& [n, r] : role_names)
    if (n == name) return r;
  return std::nullopt;
}

// Empty for a role of a newer schema than this build knows.
std::string_view name_of(schema::Role role) {
  for (auto& [n, r] : role_names)
    if (r == role) return n;
  return {};
}

bool same_grant(const role_grant& a, const role_grant& b) {
  return a.role == b.role && a.scope == b.scope;
}

bool holds(const std::vector<role_grant>& roles, const role_grant& g) {
  return std::any_of(roles.begin(), roles.end(),
                     [&](const role_grant& x) { return same_grant(x, g); });
}

void write_grant(schema::RoleGrant::Builder b, const role_grant& g) {
  // Only validated grants reach a record, so the name is always known.
  b.setRole(role_of(g.role).value_or(schema::Role::VISITOR));
  b.setScope(g.scope);
}

std::optional<role_grant> read_grant(schema::RoleGrant::Reader r) {
  auto name = name_of(r.getRole());
  if (name.empty()) return std::nullopt;
  return role_grant{std::string{name}, text_of(r.getScope())};
}

void write_roles(capnp::List<schema::RoleGrant>::Builder out,
                 const std::vector<role_grant>& roles) {
  for (unsigned i = 0; i < roles.size(); ++i) write_grant(out[i], roles[i]);
}

std::vector<role_grant> read_roles(capnp::List<schema::RoleGrant>::Reader in) {
  std::vector<role_grant> out;
  for (auto g : in)
    if (auto grant = read_grant(g)) out.push_back(std::move(*grant));
  return out;
}

// -- validation ----------------------------------------------------------------------------------

// Code points, so that the limit means the same for every script.
size_t chars_of(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

std::string_view trim(std::string_view s) {
  auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string lower_ascii(std::string_view s) {
  std::string out{s};
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

caf::error check_text(std::string_view field, std::string_view value) {
  if (chars_of(value) > max_field_chars)
    return make_error(errc::invalid_argument, std::string{field} + " is longer than " +
                                                  std::to_string(max_field_chars) + " characters");
  return {};
}

caf::error check_list(std::string_view field, const std::vector<std::string>& values) {
  if (values.size() > max_list_items)
    return make_error(errc::invalid_argument, std::string{field} + " has more than " +
                                                  std::to_string(max_list_items) + " items");
  for (auto& v : values) {
    if (trim(v).empty())
      return make_error(errc::invalid_argument, std::string{field} + " holds an empty item");
    if (auto err = check_text(field, v)) return err;
  }
  return {};
}

caf::error check_name(std::string_view field, std::string_view value) {
  if (trim(value).empty())
    return make_error(errc::invalid_argument, std::string{field} + " must not be empty");
  return check_text(field, value);
}

caf::error check_optional_id(std::string_view field, std::string_view value) {
  if (!value.empty() && !is_valid_id(value))
    return make_error(errc::invalid_argument, std::string{field} + " is not a valid id");
  return {};
}

// https://linkedin.com/... or https://<sub>.linkedin.com/..., nothing else (no user info, no port).
caf::error check_linkedin_url(std::string_view url) {
  if (url.empty()) return {};
  if (auto err = check_text("linkedin_url", url)) return err;
  auto bad = [] {
    return make_error(errc::invalid_argument,
                      "linkedin_url must be an https:// address on linkedin.com");
  };
  constexpr std::string_view scheme = "https://";
  auto lower = lower_ascii(url);
  if (lower.compare(0, scheme.size(), scheme) != 0) return bad();
  std::string_view rest{lower};
  rest.remove_prefix(scheme.size());
  auto end = rest.find_first_of("/?#");
  auto host = rest.substr(0, end);
  if (end == std::string_view::npos || rest[end] != '/') return bad();
  constexpr std::string_view domain = "linkedin.com";
  bool ok = host == domain || (host.size() > domain.size() + 1 &&
                               host.substr(host.size() - domain.size() - 1) == ".linkedin.com");
  if (!ok) return bad();
  for (char c : host)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return bad();
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad();
  return {};
}

caf::error check_grant(const role_grant& g) {
  auto role = role_of(g.role);
  if (!role)
    return make_error(errc::invalid_argument, "unknown role (visitor, org_rep, speaker, admin)");
  switch (*role) {
    case schema::Role::ORG_REP:
      if (!is_valid_id(g.scope) || kind_of(g.scope) != "org")
        return make_error(errc::invalid_argument, "org_rep needs an organization id as scope");
      return {};
    case schema::Role::SPEAKER:
      if (!is_valid_id(g.scope))
        return make_error(errc::invalid_argument, "speaker needs a session id as scope");
      return {};
    default:
      if (!g.scope.empty()) return make_error(errc::invalid_argument, g.role + " takes no scope");
      return {};
  }
}

std::string email_key_of(std::string_view blind) {
  std::string key{email_key_prefix};
  key += blind;
  return key;
}

// -- views and exports ---------------------------------------------------------------------------

user_view full_view(const std::string& id, const user_data& d) {
  user_view v;
  v.user_id = id;
  const auto& p = d.profile;
  v.first_name = p.first_name;
  v.surname = p.surname;
  v.email = p.email;
  v.linkedin_url = p.linkedin_url;
  v.photo_file_id = p.photo_file_id;
  v.country = p.country;
  v.organization_id = p.organization_id;
  v.role_in_org = p.role_in_org;
  v.interests = p.interests;
  v.keywords = p.keywords;
  v.address = p.address;
  for (auto& [name, role] : role_names) {
    bool any = std::any_of(d.roles.begin(), d.roles.end(),
                           [&name = name](const role_grant& g) { return g.role == name; });
    if (any) v.roles.emplace_back(name);
  }
  for (auto& g : d.roles) {
    if (g.scope.empty()) continue;
    if (g.role == "org_rep") v.rep_of.push_back(g.scope);
    if (g.role == "speaker") v.speaker_of.push_back(g.scope);
  }
  v.created_at_ms = d.created_at_ms;
  return v;
}

// API: "GET /users/{id}: public profile only (no email, address or connection data)". Roles and
// the account's age are left out too: they tell who administers the platform.
user_view public_view(const std::string& id, const user_data& d) {
  auto v = full_view(id, d);
  v.email.clear();
  v.address.clear();
  v.roles.clear();
  v.rep_of.clear();
  v.speaker_of.clear();
  v.created_at_ms = 0;
  return v;
}

std::string rfc3339(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000 < 0 ? ms % 1000 + 1000 : ms % 1000));
  return buf;
}

std::string grant_text(const role_grant& g) {
  return g.scope.empty() ? g.role : g.role + ":" + g.scope;
}

std::vector<personal_record> export_of(const std::string& id, const user_data& d) {
  std::vector<personal_record> out;
  auto add = [](personal_record& r, const char* name, const std::string& value) {
    if (!value.empty()) r.fields.emplace_back(name, value);
  };
  const auto& p = d.profile;

  personal_record account{"account", id, id, {}};
  add(account, "user_id", id);
  add(account, "email", p.email);
  add(account, "password", "set; stored only as an Argon2id hash, which is not exported");
  for (auto& g : d.roles) add(account, "role", grant_text(g));
  add(account, "created_at", rfc3339(d.created_at_ms));
  out.push_back(std::move(account));

  personal_record profile{"profile", id, id, {}};
  add(profile, "first_name", p.first_name);
  add(profile, "surname", p.surname);
  add(profile, "email", p.email);
  add(profile, "linkedin_url", p.linkedin_url);
  add(profile, "photo_file_id", p.photo_file_id);
  add(profile, "country", p.country);
  add(profile, "organization_id", p.organization_id);
  add(profile, "role_in_org", p.role_in_org);
  for (auto& i : p.interests) add(profile, "interests", i);
  for (auto& k : p.keywords) add(profile, "keywords", k);
  add(profile, "address", p.address);
  out.push_back(std::move(profile));

  personal_record orgs{"organizations_and_roles", id, id, {}};
  add(orgs, "organization_id", p.organization_id);
  add(orgs, "role_in_org", p.role_in_org);
  for (auto& g : d.roles) {
    add(orgs, "role", g.role);
    if (g.role == "org_rep") add(orgs, "representative_of", g.scope);
    if (g.role == "speaker") add(orgs, "speaker_of", g.scope);
  }
  if (!orgs.fields.empty()) out.push_back(std::move(orgs));
  return out;
}

// How many personal values an erasure removes: each set field, list item, role and the password.
uint64_t erasable_count(const user_data& d) {
  const auto& p = d.profile;
  uint64_t n = 0;
  for (auto* s : {&p.first_name, &p.surname, &p.email, &p.linkedin_url, &p.photo_file_id,
                  &p.country, &p.organization_id, &p.role_in_org, &p.address, &d.password_hash})
    if (!s->empty()) ++n;
  n += p.interests.size() + p.keywords.size() + d.roles.size();
  return n;
}

// -- records: one apply function for live events and replay --------------------------------------

caf::error apply_event(persistence::field_sealer& sealer, const std::string& id, user_data& d,
                       schema::UserEvent::Reader ev) {
  field_reader r{sealer, id, {}};
  switch (ev.which()) {
    case schema::UserEvent::REGISTERED: {
      auto reg = ev.getRegistered();
      user_data next;
      next.exists = true;
      next.created_at_ms = ev.getAt();
      next.email_index = bytes_of(reg.getEmailIndex());
      next.password_hash = r(reg.getPasswordHash());
      next.profile = read_profile(r, reg.getProfile());
      next.roles = read_roles(reg.getRoles());
      if (r.err) return r.err;
      d = std::move(next);
      return {};
    }
    case schema::UserEvent::PROFILE_UPDATED: {
      auto upd = ev.getProfileUpdated();
      auto profile = read_profile(r, upd.getProfile());
      if (r.err) return r.err;
      d.profile = std::move(profile);
      d.email_index = bytes_of(upd.getEmailIndex());
      return {};
    }
    case schema::UserEvent::PASSWORD_CHANGED: {
      auto hash = r(ev.getPasswordChanged());
      if (r.err) return r.err;
      d.password_hash = std::move(hash);
      return {};
    }
    case schema::UserEvent::ROLE_GRANTED: {
      auto g = read_grant(ev.getRoleGranted());
      if (g && !holds(d.roles, *g)) d.roles.push_back(std::move(*g));
      return {};
    }
    case schema::UserEvent::ROLE_REVOKED: {
      auto g = read_grant(ev.getRoleRevoked());
      if (g)
        d.roles.erase(std::remove_if(d.roles.begin(), d.roles.end(),
                                     [&](const role_grant& x) { return same_grant(x, *g); }),
                      d.roles.end());
      return {};
    }
    case schema::UserEvent::ERASED: {
      d = user_data{};
      d.exists = true;
      d.erased = true;
      return {};
    }
  }
  return make_error(errc::corrupt_record, "user event of an unknown kind");
}

caf::error apply_snapshot(persistence::field_sealer& sealer, const std::string& id, user_data& d,
                          schema::UserSnapshot::Reader s) {
  field_reader r{sealer, id, {}};
  user_data next;
  next.exists = s.getExists();
  next.erased = s.getErased();
  next.created_at_ms = s.getCreatedAt();
  next.email_index = bytes_of(s.getEmailIndex());
  next.password_hash = r(s.getPasswordHash());
  next.profile = read_profile(r, s.getProfile());
  next.roles = read_roles(s.getRoles());
  if (r.err) return r.err;
  d = std::move(next);
  return {};
}

caf::expected<std::string> encode_snapshot(persistence::field_sealer& sealer, const std::string& id,
                                           const user_data& d) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<schema::UserSnapshot>();
  field_writer w{sealer, id, {}};
  s.setExists(d.exists);
  s.setErased(d.erased);
  s.setCreatedAt(d.created_at_ms);
  if (!d.email_index.empty()) s.setEmailIndex(as_data(d.email_index));
  if (!d.password_hash.empty()) s.setPasswordHash(as_data(w(d.password_hash)));
  write_profile(w, s.initProfile(), d.profile);
  write_roles(s.initRoles(static_cast<unsigned>(d.roles.size())), d.roles);
  if (w.err) return w.err;
  return persistence::encode_record(schema::RecordKind::USER_SNAPSHOT, message);
}

// Builds an event with `fill`, applies it to the state through apply_event (as a restore would)
// and appends it to `item` under the next seq.
template <class Fill>
caf::error add_event(user_self self, persistence::write_item& item, int64_t at, Fill&& fill) {
  auto& st = self->state;
  auto& sealer = *st.core.rt().sealer;
  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<schema::UserEvent>();
  ev.setAt(at);
  field_writer w{sealer, st.core.id(), {}};
  fill(ev, w);
  if (w.err) return w.err;
  auto next = st.data;
  if (auto err = apply_event(sealer, st.core.id(), next, ev.asReader())) return err;
  st.data = std::move(next);
  item.append_event(st.core.id(), st.core.next_seq(),
                    persistence::encode_record(schema::RecordKind::USER_EVENT, message));
  return {};
}

// -- answers -------------------------------------------------------------------------------------

// Answers once everything applied so far is durable, so that no answer (nor an error that
// depends on the state) shows a state that is not yet on disk.
template <class R>
caf::result<R> reply(user_self self, caf::expected<R> out) {
  auto& core = self->state.core;
  if (core.all_durable()) {
    if (!out) return std::move(out.error());
    return std::move(*out);
  }
  auto rp = self->make_response_promise<R>();
  core.when_durable([rp, out = std::move(out)](const caf::error& err) mutable {
    if (err)
      rp.deliver(err);
    else if (!out)
      rp.deliver(out.error());
    else
      rp.deliver(std::move(*out));
  });
  return rp;
}

template <class R>
caf::result<R> fail(user_self self, caf::error err) {
  return reply<R>(self, caf::expected<R>{std::move(err)});
}

// Commits `item` and answers `result` once it is durable.
template <class R>
caf::result<R> commit(user_self self, persistence::write_item item, R result,
                      bool compact = false) {
  auto rp = self->make_response_promise<R>();
  self->state.core.persist(
      self, std::move(item),
      [rp, result = std::move(result)](const caf::error& err) mutable {
        if (err)
          rp.deliver(err);
        else
          rp.deliver(std::move(result));
      },
      compact);
  return rp;
}

// Pre-checks the email index so that the common duplicate fails without a failed commit; the
// put_unique in the commit is what makes two racing registrations safe.
caf::error check_email_free(runtime& rt, const std::string& key, const std::string& id) {
  auto holder = rt.store->get(db::indexes, key);
  if (!holder) return holder.error();
  if (*holder && **holder != id) return make_error(errc::conflict, "email already registered");
  return {};
}

// -- handlers ------------------------------------------------------------------------------------

caf::result<user_view> on_register(user_self self, const registration& reg) {
  auto& st = self->state;
  auto& rt = st.core.rt();
  const auto& id = st.core.id();
  if (st.data.erased)
    return fail<user_view>(self, make_error(errc::conflict, "this account was erased"));
  if (st.data.exists)
    return fail<user_view>(self, make_error(errc::conflict, "already registered"));
  auto email = normalize_email(reg.email);
  if (!email) return make_error(errc::invalid_argument, "email is not a valid email address");
  if (reg.password.empty()) return make_error(errc::invalid_argument, "password must not be empty");
  if (auto err = check_name("first_name", reg.first_name)) return err;
  if (auto err = check_name("surname", reg.surname)) return err;
  std::vector<role_grant> roles;
  for (auto& name : reg.roles) {
    if (name == "org_rep" || name == "speaker")
      return make_error(errc::invalid_argument,
                        name + " is granted with its scope after registration");
    role_grant g{name, {}};
    if (auto err = check_grant(g)) return err;
    if (!holds(roles, g)) roles.push_back(std::move(g));
  }
  if (roles.empty()) roles.push_back({"visitor", {}});
  auto blind = rt.sealer->blind_index("email", *email);
  auto key = email_key_of(blind);
  if (auto err = check_email_free(rt, key, id)) return fail<user_view>(self, std::move(err));
  auto hash = hash_password(reg.password, password_params_of(rt.settings));
  if (!hash) return std::move(hash.error());

  profile_data profile;
  profile.first_name = std::string{trim(reg.first_name)};
  profile.surname = std::string{trim(reg.surname)};
  profile.email = *email;
  persistence::write_item item;
  auto err = add_event(self, item, reg.at_ms != 0 ? reg.at_ms : now_ms(),
                       [&](schema::UserEvent::Builder ev, field_writer& w) {
                         auto r = ev.initRegistered();
                         r.setEmailIndex(as_data(blind));
                         r.setPasswordHash(as_data(w(*hash)));
                         write_profile(w, r.initProfile(), profile);
                         write_roles(r.initRoles(static_cast<unsigned>(roles.size())), roles);
                       });
  if (err) return err;
  item.put_unique(db::indexes, key, id);
  log::info("user.registered").field("user_id", id);
  return commit(self, std::move(item), full_view(id, st.data));
}

caf::result<user_view> on_get(user_self self, const caller& c) {
  auto& st = self->state;
  if (!c.signed_in() && !c.admin)
    return make_error(errc::unauthenticated, "profiles are for signed-in users");
  if (!st.data.live()) return fail<user_view>(self, make_error(errc::not_found, "no such user"));
  const auto& id = st.core.id();
  bool full = c.admin || c.user_id == id;
  return reply<user_view>(self, full ? full_view(id, st.data) : public_view(id, st.data));
}

caf::result<user_view> on_update(user_self self, const caller& c, const profile_patch& patch) {
  auto& st = self->state;
  auto& rt = st.core.rt();
  const auto& id = st.core.id();
  if (!st.data.live()) return fail<user_view>(self, make_error(errc::not_found, "no such user"));
  if (c.user_id != id && !c.admin)
    return make_error(errc::forbidden, "only the user or an admin changes a profile");

  profile_data next = st.data.profile;
  if (patch.has_first_name) {
    if (auto err = check_name("first_name", patch.first_name)) return err;
    next.first_name = std::string{trim(patch.first_name)};
  }
  if (patch.has_surname) {
    if (auto err = check_name("surname", patch.surname)) return err;
    next.surname = std::string{trim(patch.surname)};
  }
  if (patch.has_email) {
    auto email = normalize_email(patch.email);
    if (!email) return make_error(errc::invalid_argument, "email is not a valid email address");
    next.email = *email;
  }
  if (patch.has_linkedin_url) {
    auto url = std::string{trim(patch.linkedin_url)};
    if (auto err = check_linkedin_url(url)) return err;
    next.linkedin_url = std::move(url);
  }
  if (patch.has_photo_file_id) {
    if (auto err = check_optional_id("photo_file_id", patch.photo_file_id)) return err;
    next.photo_file_id = patch.photo_file_id;
  }
  if (patch.has_country) {
    if (auto err = check_text("country", patch.country)) return err;
    next.country = std::string{trim(patch.country)};
  }
  if (patch.has_organization_id) {
    if (auto err = check_optional_id("organization_id", patch.organization_id)) return err;
    next.organization_id = patch.organization_id;
  }
  if (patch.has_role_in_org) {
    if (auto err = check_text("role_in_org", patch.role_in_org)) return err;
    next.role_in_org = std::string{trim(patch.role_in_org)};
  }
  if (patch.has_interests) {
    if (auto err = check_list("interests", patch.interests)) return err;
    next.interests = patch.interests;
  }
  if (patch.has_keywords) {
    if (auto err = check_list("keywords", patch.keywords)) return err;
    next.keywords = patch.keywords;
  }
  if (patch.has_address) {
    if (auto err = check_text("address", patch.address)) return err;
    next.address = std::string{trim(patch.address)};
  }
  if (next == st.data.profile) return reply<user_view>(self, full_view(id, st.data));

  persistence::write_item item;
  auto old_blind = st.data.email_index;
  auto blind =
      next.email == st.data.profile.email ? old_blind : rt.sealer->blind_index("email", next.email);
  if (blind != old_blind) {
    if (auto err = check_email_free(rt, email_key_of(blind), id))
      return fail<user_view>(self, std::move(err));
  }
  auto err = add_event(self, item, now_ms(), [&](schema::UserEvent::Builder ev, field_writer& w) {
    auto u = ev.initProfileUpdated();
    write_profile(w, u.initProfile(), next);
    u.setEmailIndex(as_data(blind));
  });
  if (err) return err;
  if (blind != old_blind) {
    item.erase(db::indexes, email_key_of(old_blind));
    item.put_unique(db::indexes, email_key_of(blind), id);
  }
  return commit(self, std::move(item), full_view(id, st.data));
}

caf::result<bool> on_verify(user_self self, const std::string& password) {
  auto& st = self->state;
  auto params = password_params_of(st.core.rt().settings);
  if (!st.data.live() || st.data.password_hash.empty())
    return reply<bool>(self, verify_against_nothing(password, params));
  return reply<bool>(self, verify_password(st.data.password_hash, password));
}

caf::result<bool> on_password(user_self self, const caller& c, const std::string& old_password,
                              const std::string& new_password) {
  auto& st = self->state;
  auto& rt = st.core.rt();
  const auto& id = st.core.id();
  if (!st.data.live()) return fail<bool>(self, make_error(errc::not_found, "no such user"));
  if (c.user_id != id && !c.admin)
    return make_error(errc::forbidden, "only the user or an admin changes a password");
  if (new_password.empty()) return make_error(errc::invalid_argument, "password must not be empty");
  auto ok = verify_password(st.data.password_hash, old_password);
  if (!ok) return std::move(ok.error());
  if (!*ok) return fail<bool>(self, make_error(errc::forbidden, "the old password is wrong"));
  auto hash = hash_password(new_password, password_params_of(rt.settings));
  if (!hash) return std::move(hash.error());
  persistence::write_item item;
  auto err = add_event(self, item, now_ms(), [&](schema::UserEvent::Builder ev, field_writer& w) {
    ev.setPasswordChanged(as_data(w(*hash)));
  });
  if (err) return err;
  log::info("user.password_changed").field("user_id", id).field("by_admin", c.user_id != id);
  return commit(self, std::move(item), true);
}

caf::result<user_view> on_role(user_self self, const caller& c, const role_grant& g, bool grant) {
  auto& st = self->state;
  const auto& id = st.core.id();
  if (!c.admin) return make_error(errc::forbidden, "only an admin grants or revokes roles");
  if (auto err = check_grant(g)) return err;
  if (!st.data.live()) return fail<user_view>(self, make_error(errc::not_found, "no such user"));
  // Granting a held role or revoking one not held changes nothing: no event.
  if (holds(st.data.roles, g) == grant) return reply<user_view>(self, full_view(id, st.data));
  persistence::write_item item;
  auto err = add_event(self, item, now_ms(), [&](schema::UserEvent::Builder ev, field_writer&) {
    write_grant(grant ? ev.initRoleGranted() : ev.initRoleRevoked(), g);
  });
  if (err) return err;
  log::info(grant ? "user.role_granted" : "user.role_revoked")
      .field("user_id", id)
      .field("role", g.role)
      .field("scope", g.scope)
      .field("by", c.user_id);
  return commit(self, std::move(item), full_view(id, st.data));
}

caf::result<uint64_t> on_erase(user_self self, const std::string& subject) {
  auto& st = self->state;
  const auto& id = st.core.id();
  // Nothing about anyone else lives here; an erased account has nothing left (idempotent).
  if (subject != id || !st.data.live()) return reply<uint64_t>(self, uint64_t{0});
  uint64_t count = erasable_count(st.data);
  auto old_key = email_key_of(st.data.email_index);
  persistence::write_item item;
  auto err = add_event(self, item, now_ms(),
                       [&](schema::UserEvent::Builder ev, field_writer&) { ev.setErased(); });
  if (err) return err;
  item.erase(db::indexes, old_key);
  log::info("user.erased").field("user_id", id).field("fields", count);
  // compact: the snapshot holds no personal data and every older event is deleted with it.
  return commit(self, std::move(item), count, true);
}

user_actor::behavior_type user_behavior(user_self self, std::shared_ptr<runtime> rt, std::string id,
                                        user_data data, restored r,
                                        std::shared_ptr<resident_stats> stats) {
  auto& st = self->state;
  st.data = std::move(data);
  st.core.init(std::move(id), std::move(rt), std::move(stats), r.seq, r.snapshot_seq, [self] {
    auto& s = self->state;
    auto rec = encode_snapshot(*s.core.rt().sealer, s.core.id(), s.data);
    // The sealer failing is a broken key store: the actor cannot keep its promise to persist.
    if (!rec) throw std::runtime_error("user snapshot: " + detail_of(rec.error()));
    return std::move(*rec);
  });
  st.core.start(self);
  return {
      [self](register_atom, const registration& reg) -> caf::result<user_view> {
        self->state.core.touch(self);
        return on_register(self, reg);
      },
      [self](get_atom, const caller& c) -> caf::result<user_view> {
        self->state.core.touch(self);
        return on_get(self, c);
      },
      [self](update_atom, const caller& c, const profile_patch& p) -> caf::result<user_view> {
        self->state.core.touch(self);
        return on_update(self, c, p);
      },
      [self](verify_atom, const std::string& password) -> caf::result<bool> {
        self->state.core.touch(self);
        return on_verify(self, password);
      },
      [self](password_atom, const caller& c, const std::string& old_password,
             const std::string& new_password) -> caf::result<bool> {
        self->state.core.touch(self);
        return on_password(self, c, old_password, new_password);
      },
      [self](grant_atom, const caller& c, const role_grant& g) -> caf::result<user_view> {
        self->state.core.touch(self);
        return on_role(self, c, g, true);
      },
      [self](revoke_atom, const caller& c, const role_grant& g) -> caf::result<user_view> {
        self->state.core.touch(self);
        return on_role(self, c, g, false);
      },
      [self](export_atom, const std::string& subject) -> caf::result<std::vector<personal_record>> {
        self->state.core.touch(self);
        auto& s = self->state;
        if (subject != s.core.id() || !s.data.live())
          return reply<std::vector<personal_record>>(self, std::vector<personal_record>{});
        return reply<std::vector<personal_record>>(self, export_of(s.core.id(), s.data));
      },
      [self](erase_atom, const std::string& subject) -> caf::result<uint64_t> {
        self->state.core.touch(self);
        return on_erase(self, subject);
      },
      // The idle checks do not touch: they are not activity.
      [self](tick_atom) { self->state.core.on_tick(self); },
      [self](passivate_atom) { self->state.core.on_passivate(self); },
  };
}

}  // namespace

std::optional<std::string> normalize_email(std::string_view email) {
  auto e = lower_ascii(trim(email));
  if (e.empty() || e.size() > max_email_bytes) return std::nullopt;
  auto at = e.find('@');
  if (at == std::string::npos || at == 0 || at > 64 || e.find('@', at + 1) != std::string::npos)
    return std::nullopt;
  for (unsigned char c : e)
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
        c == ';' || c == '<' || c == '>' || c == '[' || c == '\\' || c == ']')
      return std::nullopt;
  std::string_view local{e.data(), at};
  std::string_view domain{e.data() + at + 1, e.size() - at - 1};
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
    return std::nullopt;
  // A domain of dot-separated labels with at least one dot: "a@b" is not an address to mail.
  if (domain.empty() || domain.find('.') == std::string_view::npos) return std::nullopt;
  size_t start = 0;
  while (start <= domain.size()) {
    auto dot = domain.find('.', start);
    auto label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return std::nullopt;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return e;
}

std::string email_index_key(persistence::field_sealer& sealer, std::string_view email) {
  auto normalized = normalize_email(email);
  return email_key_of(
      sealer.blind_index("email", normalized ? *normalized : lower_ascii(trim(email))));
}

void add_user_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<role_grant>("mext.role_grant");
  cfg.add_message_type<registration>("mext.registration");
  cfg.add_message_type<user_view>("mext.user_view");
  cfg.add_message_type<profile_patch>("mext.profile_patch");
}

caf::expected<caf::actor> make_user_actor(caf::actor_system& sys,
                                          const std::shared_ptr<runtime>& rt, const std::string& id,
                                          bool create, std::shared_ptr<resident_stats> stats) {
  user_data data;
  auto& sealer = *rt->sealer;
  auto r = restore_entity<schema::UserSnapshot, schema::UserEvent>(
      *rt, id, schema::RecordKind::USER_SNAPSHOT, schema::RecordKind::USER_EVENT,
      [&](schema::UserSnapshot::Reader s) { return apply_snapshot(sealer, id, data, s); },
      [&](schema::UserEvent::Reader ev) { return apply_event(sealer, id, data, ev); });
  if (!r) return r.error();
  if (!r->exists && !create) return make_error(errc::not_found, "no such user");
  auto hdl = sys.spawn(user_behavior, rt, id, std::move(data), *r, std::move(stats));
  return caf::actor_cast<caf::actor>(hdl);
}

}  // namespace mext::actors
