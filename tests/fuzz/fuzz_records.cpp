// Fuzz target: snapshots and events decoded from Cap'n Proto bytes as an entity actor restores
// itself. Each input is stored in a real LMDB store under one entity, then that entity's
// factory restores it: the result must be an actor or an error (errc::corrupt_record for bytes
// that do not decode), never a crash or a sanitizer finding.
//
// Input: records, each [u16 little-endian length][framed record] (persistence/record_codec.hpp:
// version, kind, crc32c, Cap'n Proto payload). The checksum is recomputed so mutations reach the
// decoders instead of stopping at it. The first record's kind picks the entity kind (user,
// organization, exhibition, booth, chat room, agenda, connection log); an odd kind (a snapshot)
// makes it the snapshot, and every later record is an event.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/all.hpp>

#include "actors/engine.hpp"
#include "actors/entity_kinds.hpp"
#include "http/settings.hpp"
#include "persistence/log.hpp"
#include "persistence/record_codec.hpp"
#include "tests/fuzz/fuzz_server.hpp"
#include "tests/test_support.hpp"

namespace {

struct records_world {
  mext::test::temp_dir dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<mext::actors::engine> eng;
  mext::actors::factory_map factories = mext::actors::all_entity_kinds();

  records_world() {
    mext::fuzz::keep_openssl_through_exit();
    mext::log::set_min_level(mext::log::level::error);
    mext::actors::add_all_message_types(cfg);
    mext::http::configure_scheduler(cfg, mext::http::mextd_settings{});
    sys = std::make_unique<caf::actor_system>(cfg);
    mext::actors::engine_options eo;
    eo.data_dir = dir.path();
    // Each input is two commits; durability is not what this target checks.
    eo.store.no_sync = true;
    auto started = mext::actors::engine::start(*sys, eo, mext::actors::all_entity_kinds());
    if (!started) {
      std::fprintf(stderr, "fuzz_records: engine: %s\n", mext::detail_of(started.error()).c_str());
      std::abort();
    }
    eng = std::move(*started);
  }

  caf::error commit(mext::persistence::write_item item) {
    caf::scoped_actor self{*sys};
    caf::error out;
    self->request(eng->writer(), caf::infinite, mext::commit_atom::value, std::move(item))
        .receive([](uint64_t) {}, [&](caf::error& err) { out = std::move(err); });
    return out;
  }
};

// Entity kinds by RecordKind / 2 (schemas/common.capnp).
constexpr const char* kind_prefix[] = {"usr", "org", "exh", "bth", "room", "agd", "clog"};

// A new entity id per input: the store refuses an event sequence number it has seen for an id,
// and libFuzzer runs some inputs twice.
std::string next_id(const char* prefix) {
  static uint64_t counter = 0;
  char hex[33];
  std::snprintf(hex, sizeof hex, "f022a5c0ffee4d0f%016llx",
                static_cast<unsigned long long>(++counter));
  return std::string(prefix) + "_" + hex;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static records_world* world = new records_world();  // lives as long as the process
  std::vector<std::string> records;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (in.size() >= 2 && records.size() < 64) {
    size_t len = static_cast<uint8_t>(in[0]) | (size_t{static_cast<uint8_t>(in[1])} << 8);
    in.remove_prefix(2);
    std::string rec(in.substr(0, len));
    in.remove_prefix(std::min(len, in.size()));
    if (rec.size() >= 6) {
      uint32_t crc = mext::persistence::crc32c(std::string_view(rec).substr(6));
      for (int i = 0; i < 4; ++i) rec[2 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
    }
    records.push_back(std::move(rec));
  }
  if (records.empty()) return 0;
  const uint8_t first_kind = records[0].size() > 1 ? static_cast<uint8_t>(records[0][1]) : 0;
  const std::string id = next_id(kind_prefix[(first_kind / 2) % 7]);

  mext::persistence::write_item item;
  size_t next = 0;
  if (first_kind % 2 == 1) item.put_snapshot(id, 0, records[next++]);
  for (uint64_t seq = 1; next < records.size(); ++seq) item.append_event(id, seq, records[next++]);
  if (auto err = world->commit(std::move(item))) {
    // Only storage itself may fail here (a full map): that is not the decoders' finding.
    std::fprintf(stderr, "fuzz_records: commit: %s\n", mext::detail_of(err).c_str());
    std::abort();
  }
  auto& factory = world->factories.at(kind_prefix[(first_kind / 2) % 7]);
  auto restored = factory(*world->sys, world->eng->rt(), id, false,
                          std::make_shared<mext::actors::resident_stats>());
  if (restored) {
    // Restored without the directory: stop it here so the next input starts from nothing.
    caf::scoped_actor self{*world->sys};
    self->send_exit(*restored, caf::exit_reason::kill);
    self->wait_for(*restored);
  }
  // Removed again so that the store stays the size of one input.
  mext::persistence::write_item cleanup;
  cleanup.erase_entity(id);
  if (auto err = world->commit(std::move(cleanup))) {
    std::fprintf(stderr, "fuzz_records: cleanup: %s\n", mext::detail_of(err).c_str());
    std::abort();
  }
  return 0;
}
