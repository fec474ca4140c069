#include "actors/connection_log_actor.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <stdexcept>
#include <utility>

#include <capnp/message.h>
#include <caf/all.hpp>

#include "actors/entity_codec.hpp"
#include "actors/entity_core.hpp"
#include "mext/schemas/connection_log.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

constexpr size_t max_field_chars = 1000;
constexpr size_t max_proxies = 50;
constexpr uint32_t default_limit = 100;
constexpr uint32_t max_limit = 1000;

struct log_data {
  bool exists = false;
  // Oldest first, ordered by at_ms (ties in arrival order), so purges cut a prefix.
  std::vector<connection_entry> entries;
};

struct log_state {
  entity_core core;
  // The person the entries are about.
  std::string owner;
  log_data data;
  static inline const char* name = "connection_log";
};

using log_self = connection_log_actor::stateful_pointer<log_state>;

// -- bytes and personal fields -------------------------------------------------------------------

capnp::Data::Reader as_data(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

// Seals or opens the personal fields of one person's log: the person is the subject, the log
// the context. Keeps the first error so that a record is built or read straight through.
struct field_seal {
  persistence::field_sealer& sealer;
  const std::string& subject;
  const std::string& context;
  caf::error err;

  std::string seal(std::string_view plain) {
    if (err) return {};
    auto sealed = sealer.seal(subject, context, plain);
    if (!sealed) {
      err = std::move(sealed.error());
      return {};
    }
    return std::move(*sealed);
  }

  // An absent field reads as empty: empty values are left unset.
  std::string open(capnp::Data::Reader d) {
    if (err || d.size() == 0) return {};
    std::string_view sealed{reinterpret_cast<const char*>(d.begin()), d.size()};
    auto plain = sealer.open(subject, context, sealed);
    if (!plain) {
      err = std::move(plain.error());
      return {};
    }
    return std::move(*plain);
  }
};

void write_entry(field_seal& f, schema::Connection::Builder b, const connection_entry& e) {
  b.setAt(e.at_ms);
  b.setKind(e.kind == "websocket" ? schema::ConnectionKind::WEBSOCKET
                                  : schema::ConnectionKind::LOGIN);
  auto set = [&f](const std::string& v, auto setter) {
    if (!v.empty()) setter(as_data(f.seal(v)));
  };
  set(e.ip, [&](capnp::Data::Reader d) { b.setIp(d); });
  set(e.isp, [&](capnp::Data::Reader d) { b.setIsp(d); });
  if (!e.proxies.empty()) {
    auto l = b.initProxies(static_cast<unsigned>(e.proxies.size()));
    for (unsigned i = 0; i < e.proxies.size(); ++i) l.set(i, as_data(f.seal(e.proxies[i])));
  }
  set(e.referrer, [&](capnp::Data::Reader d) { b.setReferrer(d); });
  set(e.device_type, [&](capnp::Data::Reader d) { b.setDeviceType(d); });
  set(e.os, [&](capnp::Data::Reader d) { b.setOs(d); });
  set(e.screen, [&](capnp::Data::Reader d) { b.setScreen(d); });
}

connection_entry read_entry(field_seal& f, schema::Connection::Reader r) {
  connection_entry e;
  e.at_ms = r.getAt();
  e.kind = r.getKind() == schema::ConnectionKind::WEBSOCKET ? "websocket" : "login";
  e.ip = f.open(r.getIp());
  e.isp = f.open(r.getIsp());
  for (auto p : r.getProxies()) e.proxies.push_back(f.open(p));
  e.referrer = f.open(r.getReferrer());
  e.device_type = f.open(r.getDeviceType());
  e.os = f.open(r.getOs());
  e.screen = f.open(r.getScreen());
  return e;
}

// -- validation, views, exports ------------------------------------------------------------------

size_t chars_of(std::string_view s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

caf::error check_entry(const connection_entry& e) {
  if (e.kind != "login" && e.kind != "websocket")
    return make_error(errc::invalid_argument, "kind must be login or websocket");
  if (e.proxies.size() > max_proxies)
    return make_error(errc::invalid_argument,
                      "more than " + std::to_string(max_proxies) + " proxies");
  auto too_long = [](std::string_view field) {
    return make_error(errc::invalid_argument, std::string{field} + " is longer than " +
                                                  std::to_string(max_field_chars) + " characters");
  };
  std::pair<const char*, const std::string*> fields[] = {{"ip", &e.ip},
                                                         {"isp", &e.isp},
                                                         {"referrer", &e.referrer},
                                                         {"device_type", &e.device_type},
                                                         {"os", &e.os},
                                                         {"screen", &e.screen}};
  for (auto& [name, value] : fields)
    if (chars_of(*value) > max_field_chars) return too_long(name);
  for (auto& p : e.proxies)
    if (chars_of(p) > max_field_chars) return too_long("proxies");
  return {};
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

std::vector<personal_record> export_of(const std::string& id, const log_data& d) {
  std::vector<personal_record> out;
  out.reserve(d.entries.size());
  for (size_t i = 0; i < d.entries.size(); ++i) {
    const auto& e = d.entries[i];
    personal_record r{"connection_data", id, id + "#" + std::to_string(i), {}};
    auto add = [&r](const char* name, const std::string& value) {
      if (!value.empty()) r.fields.emplace_back(name, value);
    };
    add("at", rfc3339(e.at_ms));
    add("kind", e.kind);
    add("ip", e.ip);
    add("isp", e.isp);
    for (auto& p : e.proxies) add("proxies", p);
    add("referrer", e.referrer);
    add("device_type", e.device_type);
    add("os", e.os);
    add("screen", e.screen);
    out.push_back(std::move(r));
  }
  return out;
}

// -- records: one apply function for live events and replay --------------------------------------

void insert_entry(log_data& d, connection_entry e) {
  auto pos = std::upper_bound(d.entries.begin(), d.entries.end(), e.at_ms,
                              [](int64_t at, const connection_entry& x) { return at < x.at_ms; });
  d.entries.insert(pos, std::move(e));
}

size_t purge_entries(log_data& d, int64_t before_ms) {
  auto end = std::lower_bound(d.entries.begin(), d.entries.end(), before_ms,
                              [](const connection_entry& x, int64_t at) { return x.at_ms < at; });
  auto n = static_cast<size_t>(end - d.entries.begin());
  d.entries.erase(d.entries.begin(), end);
  return n;
}

caf::error apply_event(persistence::field_sealer& sealer, const std::string& owner,
                       const std::string& id, log_data& d, schema::ConnectionLogEvent::Reader ev) {
  switch (ev.which()) {
    case schema::ConnectionLogEvent::RECORDED: {
      field_seal f{sealer, owner, id, {}};
      auto e = read_entry(f, ev.getRecorded());
      if (f.err) return f.err;
      d.exists = true;
      insert_entry(d, std::move(e));
      return {};
    }
    case schema::ConnectionLogEvent::PURGED_BEFORE:
      d.exists = true;
      purge_entries(d, ev.getPurgedBefore());
      return {};
    case schema::ConnectionLogEvent::ERASED:
      d.exists = true;
      d.entries.clear();
      return {};
  }
  return make_error(errc::corrupt_record, "connection log event of an unknown kind");
}

caf::error apply_snapshot(persistence::field_sealer& sealer, const std::string& owner,
                          const std::string& id, log_data& d,
                          schema::ConnectionLogSnapshot::Reader s) {
  field_seal f{sealer, owner, id, {}};
  log_data next;
  next.exists = s.getExists();
  for (auto e : s.getEntries()) next.entries.push_back(read_entry(f, e));
  if (f.err) return f.err;
  // Stored in order; sorting again guards the invariant that purges rely on.
  std::stable_sort(
      next.entries.begin(), next.entries.end(),
      [](const connection_entry& a, const connection_entry& b) { return a.at_ms < b.at_ms; });
  d = std::move(next);
  return {};
}

caf::expected<std::string> encode_snapshot(persistence::field_sealer& sealer,
                                           const std::string& owner, const std::string& id,
                                           const log_data& d) {
  capnp::MallocMessageBuilder message;
  auto s = message.initRoot<schema::ConnectionLogSnapshot>();
  field_seal f{sealer, owner, id, {}};
  s.setExists(d.exists);
  auto l = s.initEntries(static_cast<unsigned>(d.entries.size()));
  for (unsigned i = 0; i < d.entries.size(); ++i) write_entry(f, l[i], d.entries[i]);
  if (f.err) return f.err;
  return persistence::encode_record(schema::RecordKind::CONNECTION_LOG_SNAPSHOT, message);
}

// Builds an event with `fill`, applies it through apply_event (as a restore would) and appends
// it to `item` under the next seq.
template <class Fill>
caf::error add_event(log_self self, persistence::write_item& item, Fill&& fill) {
  auto& st = self->state;
  auto& sealer = *st.core.rt().sealer;
  capnp::MallocMessageBuilder message;
  auto ev = message.initRoot<schema::ConnectionLogEvent>();
  ev.setAt(now_ms());
  field_seal f{sealer, st.owner, st.core.id(), {}};
  fill(ev, f);
  if (f.err) return f.err;
  auto next = st.data;
  if (auto err = apply_event(sealer, st.owner, st.core.id(), next, ev.asReader())) return err;
  st.data = std::move(next);
  item.append_event(st.core.id(), st.core.next_seq(),
                    persistence::encode_record(schema::RecordKind::CONNECTION_LOG_EVENT, message));
  return {};
}

// -- answers -------------------------------------------------------------------------------------

// Answers once everything applied so far is durable: no answer shows a state not yet on disk.
template <class R>
caf::result<R> reply(log_self self, R out) {
  auto& core = self->state.core;
  if (core.all_durable()) return out;
  auto rp = self->make_response_promise<R>();
  core.when_durable([rp, out = std::move(out)](const caf::error& err) mutable {
    if (err)
      rp.deliver(err);
    else
      rp.deliver(std::move(out));
  });
  return rp;
}

caf::result<uint64_t> commit(log_self self, persistence::write_item item, uint64_t result,
                             bool compact) {
  auto rp = self->make_response_promise<uint64_t>();
  self->state.core.persist(
      self, std::move(item),
      [rp, result](const caf::error& err) mutable {
        if (err)
          rp.deliver(err);
        else
          rp.deliver(result);
      },
      compact);
  return rp;
}

// -- handlers ------------------------------------------------------------------------------------

caf::result<uint64_t> on_record(log_self self, connection_entry entry) {
  if (auto err = check_entry(entry)) return err;
  if (entry.at_ms == 0) entry.at_ms = now_ms();
  persistence::write_item item;
  auto err = add_event(self, item, [&](schema::ConnectionLogEvent::Builder ev, field_seal& f) {
    write_entry(f, ev.initRecorded(), entry);
  });
  if (err) return err;
  return commit(self, std::move(item), self->state.data.entries.size(), false);
}

caf::result<std::vector<connection_entry>> on_get(log_self self, const caller& c, uint32_t limit) {
  auto& st = self->state;
  if (!c.admin && (c.user_id.empty() || c.user_id != st.owner))
    return make_error(errc::forbidden, "only the person or an admin reads connection data");
  if (limit == 0) limit = default_limit;
  limit = std::min(limit, max_limit);
  std::vector<connection_entry> out;
  out.reserve(std::min<size_t>(limit, st.data.entries.size()));
  for (auto i = st.data.entries.rbegin(); i != st.data.entries.rend() && out.size() < limit; ++i)
    out.push_back(*i);
  return reply(self, std::move(out));
}

caf::result<uint64_t> on_purge(log_self self, int64_t before_ms) {
  auto& st = self->state;
  auto doomed = static_cast<uint64_t>(
      std::count_if(st.data.entries.begin(), st.data.entries.end(),
                    [before_ms](const connection_entry& e) { return e.at_ms < before_ms; }));
  if (doomed == 0) return reply(self, uint64_t{0});
  persistence::write_item item;
  auto err = add_event(self, item, [&](schema::ConnectionLogEvent::Builder ev, field_seal&) {
    ev.setPurgedBefore(before_ms);
  });
  if (err) return err;
  log::info("connection_log.purged").field("entity", st.core.id()).field("entries", doomed);
  // compact: the purged addresses leave the event log with the entries.
  return commit(self, std::move(item), doomed, true);
}

caf::result<uint64_t> on_erase(log_self self, const std::string& subject) {
  auto& st = self->state;
  // Only its owner's data lives here; an empty log has nothing left to erase (idempotent).
  if (subject != st.owner || st.data.entries.empty()) return reply(self, uint64_t{0});
  uint64_t count = st.data.entries.size();
  persistence::write_item item;
  auto err = add_event(self, item,
                       [](schema::ConnectionLogEvent::Builder ev, field_seal&) { ev.setErased(); });
  if (err) return err;
  log::info("connection_log.erased").field("entity", st.core.id()).field("entries", count);
  return commit(self, std::move(item), count, true);
}

connection_log_actor::behavior_type log_behavior(log_self self, std::shared_ptr<runtime> rt,
                                                 std::string id, log_data data, restored r,
                                                 std::shared_ptr<resident_stats> stats) {
  auto& st = self->state;
  st.owner = connection_log_owner(id);
  st.data = std::move(data);
  st.core.init(std::move(id), std::move(rt), std::move(stats), r.seq, r.snapshot_seq, [self] {
    auto& s = self->state;
    auto rec = encode_snapshot(*s.core.rt().sealer, s.owner, s.core.id(), s.data);
    // The sealer failing is a broken key store: the actor cannot keep its promise to persist.
    if (!rec) throw std::runtime_error("connection log snapshot: " + detail_of(rec.error()));
    return std::move(*rec);
  });
  st.core.start(self);
  return {
      [self](record_atom, connection_entry& entry) -> caf::result<uint64_t> {
        self->state.core.touch(self);
        return on_record(self, std::move(entry));
      },
      [self](get_atom, const caller& c,
             uint32_t limit) -> caf::result<std::vector<connection_entry>> {
        self->state.core.touch(self);
        return on_get(self, c, limit);
      },
      [self](purge_atom, int64_t before_ms) -> caf::result<uint64_t> {
        self->state.core.touch(self);
        return on_purge(self, before_ms);
      },
      [self](export_atom, const std::string& subject) -> caf::result<std::vector<personal_record>> {
        self->state.core.touch(self);
        auto& s = self->state;
        if (subject != s.owner) return reply(self, std::vector<personal_record>{});
        return reply(self, export_of(s.core.id(), s.data));
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

std::string connection_log_id(const std::string& user_id) {
  auto us = user_id.find('_');
  return "clog_" + (us == std::string::npos ? user_id : user_id.substr(us + 1));
}

std::string connection_log_owner(const std::string& log_id) {
  auto us = log_id.find('_');
  return "usr_" + (us == std::string::npos ? log_id : log_id.substr(us + 1));
}

void add_connection_log_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<connection_entry>("mext.connection_entry");
}

caf::expected<caf::actor> make_connection_log_actor(caf::actor_system& sys,
                                                    const std::shared_ptr<runtime>& rt,
                                                    const std::string& id, bool create,
                                                    std::shared_ptr<resident_stats> stats) {
  auto owner = connection_log_owner(id);
  log_data data;
  auto& sealer = *rt->sealer;
  auto r = restore_entity<schema::ConnectionLogSnapshot, schema::ConnectionLogEvent>(
      *rt, id, schema::RecordKind::CONNECTION_LOG_SNAPSHOT,
      schema::RecordKind::CONNECTION_LOG_EVENT,
      [&](schema::ConnectionLogSnapshot::Reader s) {
        return apply_snapshot(sealer, owner, id, data, s);
      },
      [&](schema::ConnectionLogEvent::Reader ev) {
        return apply_event(sealer, owner, id, data, ev);
      });
  if (!r) return r.error();
  if (!r->exists && !create) return make_error(errc::not_found, "no such connection log");
  auto hdl = sys.spawn(log_behavior, rt, id, std::move(data), *r, std::move(stats));
  return caf::actor_cast<caf::actor>(hdl);
}

}  // namespace mext::actors
