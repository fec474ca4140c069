#include "actors/audit_log.hpp"

#include <capnp/message.h>

#include "mext/schemas/audit.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/record_codec.hpp"

namespace mext::actors {
namespace {

constexpr std::string_view audit_prefix = "audit_log/";

// Keys sort by time: 16 hex digits of the milliseconds, then 16 random hex digits. The audit id
// is the key without its prefix.
std::string time_hex(int64_t ms) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  auto v = static_cast<uint64_t>(ms);
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = digits[v & 0xf];
    v >>= 4;
  }
  return out;
}

}  // namespace

caf::expected<std::string> add_audit(persistence::write_item& item,
                                     persistence::field_sealer& sealer, const audit_entry& e) {
  auto id = time_hex(e.at_ms) + random_hex(8);
  capnp::MallocMessageBuilder msg;
  auto r = msg.initRoot<schema::AuditEntry>();
  r.setAt(e.at_ms);
  r.setWho(e.who);
  auto whose = r.initWhose(static_cast<unsigned>(e.whose.size()));
  for (unsigned i = 0; i < e.whose.size(); ++i) whose.set(i, e.whose[i]);
  r.setAction(e.action);
  r.setTarget(e.target);
  if (!e.why.empty()) {
    auto sealed =
        e.whose.empty() ? sealer.seal(e.who, id, e.why) : sealer.seal(e.whose[0], id, e.why);
    if (!sealed) return sealed.error();
    r.setWhy(
        capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(sealed->data()), sealed->size()));
  }
  r.setRequestId(e.request_id);
  r.setDetail(e.detail);
  std::string key{audit_prefix};
  key += id;
  item.put_unique(persistence::db::indexes, std::move(key),
                  persistence::encode_record(schema::RecordKind::AUDIT_ENTRY, msg));
  return id;
}

caf::expected<std::vector<audit_entry>> read_audit(const persistence::lmdb_store& store,
                                                   persistence::field_sealer& sealer, size_t limit,
                                                   const std::string& before) {
  std::string bound;
  if (!before.empty()) bound = std::string{audit_prefix} + before;
  auto page = store.scan_reverse(persistence::db::indexes, audit_prefix, limit, bound);
  if (!page) return page.error();
  std::vector<audit_entry> out;
  for (auto& [key, value] : *page) {
    auto rec = persistence::decode_record(value, schema::RecordKind::AUDIT_ENTRY);
    if (!rec) return rec.error();
    try {
      auto r = (*rec)->root<schema::AuditEntry>();
      audit_entry e;
      e.audit_id = key.substr(audit_prefix.size());
      e.at_ms = r.getAt();
      e.who = r.getWho();
      for (auto w : r.getWhose()) e.whose.emplace_back(w);
      e.action = r.getAction();
      e.target = r.getTarget();
      auto why = r.getWhy();
      if (why.size() > 0) {
        std::string_view sealed(reinterpret_cast<const char*>(why.begin()), why.size());
        auto plain = e.whose.empty() ? sealer.open(e.who, e.audit_id, sealed)
                                     : sealer.open(e.whose[0], e.audit_id, sealed);
        if (!plain) return plain.error();
        e.why = std::move(*plain);
      }
      e.request_id = r.getRequestId();
      e.detail = r.getDetail();
      out.push_back(std::move(e));
    } catch (const kj::Exception&) {
      return make_error(errc::corrupt_record, "an audit entry does not decode");
    }
  }
  return out;
}

}  // namespace mext::actors
