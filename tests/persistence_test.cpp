#define BOOST_TEST_MODULE persistence
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <iterator>

#include "mext/schemas/organization.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/field_sealer.hpp"
#include "persistence/lmdb_store.hpp"
#include "persistence/record_codec.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::persistence;

namespace {

std::unique_ptr<lmdb_store> open_store(const std::filesystem::path& dir,
                                       size_t map = size_t{8} << 20,
                                       size_t max_map = size_t{1} << 30) {
  store_settings s;
  s.dir = dir;
  s.initial_map_bytes = map;
  s.max_map_bytes = max_map;
  auto store = lmdb_store::open(s);
  BOOST_REQUIRE_MESSAGE(store, detail_of(store.error()));
  return std::move(*store);
}

std::vector<caf::error> commit_all(lmdb_store& store, std::vector<write_item>& items) {
  std::vector<write_item*> ptrs;
  for (auto& i : items) ptrs.push_back(&i);
  return store.commit(ptrs);
}

}  // namespace

BOOST_AUTO_TEST_CASE(events_and_snapshot_round_trip_in_order) {
  test::temp_dir dir;
  auto store = open_store(dir.path());
  std::vector<write_item> items(1);
  for (uint64_t seq = 1; seq <= 5; ++seq)
    items[0].append_event("usr_a", seq, "e" + std::to_string(seq));
  items[0].put_snapshot("usr_a", 3, "snap3");
  items[0].append_event("usr_b", 1, "other");
  auto res = commit_all(*store, items);
  BOOST_REQUIRE(!res[0]);
  auto h = store->load("usr_a");
  BOOST_REQUIRE(h);
  BOOST_REQUIRE(h->snapshot);
  BOOST_TEST(h->snapshot->seq == 3u);
  BOOST_TEST(h->snapshot->record == "snap3");
  BOOST_REQUIRE_EQUAL(h->events.size(), 2u);
  BOOST_TEST(h->events[0].seq == 4u);
  BOOST_TEST(h->events[1].record == "e5");
  BOOST_TEST(h->last_seq() == 5u);
  auto none = store->load("usr_c");
  BOOST_REQUIRE(none);
  BOOST_TEST(none->empty());
  BOOST_TEST(*store->exists("usr_b"));
  BOOST_TEST(!*store->exists("usr_c"));
  // "usr_a" must not see the events of an id it prefixes.
  std::vector<write_item> more(1);
  more[0].append_event("usr_ab", 1, "x");
  BOOST_REQUIRE(!commit_all(*store, more)[0]);
  BOOST_TEST(store->load("usr_a")->events.size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_duplicate_event_fails_only_its_own_item) {
  test::temp_dir dir;
  auto store = open_store(dir.path());
  std::vector<write_item> first(1);
  first[0].append_event("room_x", 1, "one");
  BOOST_REQUIRE(!commit_all(*store, first)[0]);
  std::vector<write_item> batch(3);
  batch[0].append_event("room_x", 2, "two");
  batch[1].append_event("room_x", 1, "again");  // seq 1 exists
  batch[1].put(db::indexes, "k/should-not-exist", "v");
  batch[2].append_event("room_y", 1, "y");
  auto res = commit_all(*store, batch);
  BOOST_TEST(!res[0]);
  BOOST_REQUIRE(res[1]);
  BOOST_TEST(code_of(res[1]) == errc::conflict);
  BOOST_TEST(!res[2]);
  BOOST_TEST(store->load("room_x")->events.size() == 2u);
  BOOST_TEST(store->load("room_x")->events[0].record == "one");
  BOOST_TEST(!store->get(db::indexes, "k/should-not-exist")->has_value());
  BOOST_TEST(store->load("room_y")->events.size() == 1u);
}

BOOST_AUTO_TEST_CASE(put_unique_refuses_a_taken_key_and_accepts_the_same_value) {
  test::temp_dir dir;
  auto store = open_store(dir.path());
  std::vector<write_item> a(2);
  a[0].put_unique(db::indexes, "email/h", "usr_1");
  a[1].put_unique(db::indexes, "email/h", "usr_2");
  auto res = commit_all(*store, a);
  BOOST_TEST(!res[0]);
  BOOST_TEST(code_of(res[1]) == errc::conflict);
  std::vector<write_item> b(1);
  b[0].put_unique(db::indexes, "email/h", "usr_1");
  BOOST_TEST(!commit_all(*store, b)[0]);
  BOOST_TEST(**store->get(db::indexes, "email/h") == "usr_1");
}

BOOST_AUTO_TEST_CASE(truncate_and_erase_remove_exactly_their_events) {
  test::temp_dir dir;
  auto store = open_store(dir.path());
  std::vector<write_item> items(1);
  for (uint64_t seq = 1; seq <= 6; ++seq) {
    items[0].append_event("agd_1", seq, "a");
    items[0].append_event("agd_2", seq, "b");
  }
  BOOST_REQUIRE(!commit_all(*store, items)[0]);
  std::vector<write_item> t(1);
  t[0].put_snapshot("agd_1", 4, "s4");
  t[0].truncate_events("agd_1", 4);
  t[0].erase_entity("agd_2");
  BOOST_REQUIRE(!commit_all(*store, t)[0]);
  auto h1 = store->load("agd_1");
  BOOST_REQUIRE(h1);
  BOOST_TEST(h1->snapshot->seq == 4u);
  BOOST_TEST(h1->events.size() == 2u);
  BOOST_TEST(store->load("agd_2")->empty());
  auto info = store->info();
  BOOST_REQUIRE(info);
  BOOST_TEST(info->events == 2u);
}

BOOST_AUTO_TEST_CASE(the_map_grows_when_full_and_keeps_every_write) {
  test::temp_dir dir;
  auto store = open_store(dir.path(), size_t{1} << 20);
  std::string value(4000, 'v');
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<write_item> items(1);
    for (int i = 0; i < 100; ++i)
      items[0].append_event("bth_" + std::to_string(batch), static_cast<uint64_t>(i + 1), value);
    auto res = commit_all(*store, items);
    BOOST_REQUIRE_MESSAGE(!res[0], detail_of(res[0]));
  }
  auto info = store->info();
  BOOST_REQUIRE(info);
  BOOST_TEST(info->map_bytes > (size_t{1} << 20));
  BOOST_TEST(info->events == 1000u);
}

BOOST_AUTO_TEST_CASE(a_full_map_at_its_maximum_is_a_storage_full_error_and_loses_nothing) {
  test::temp_dir dir;
  auto store = open_store(dir.path(), size_t{1} << 20, size_t{2} << 20);
  std::string value(4000, 'v');
  caf::error failure;
  uint64_t committed = 0;
  for (int i = 0; i < 2000 && !failure; ++i) {
    std::vector<write_item> items(1);
    items[0].append_event("exh_1", static_cast<uint64_t>(i + 1), value);
    auto res = commit_all(*store, items);
    if (res[0])
      failure = res[0];
    else
      ++committed;
  }
  BOOST_REQUIRE(failure);
  BOOST_TEST(code_of(failure) == errc::storage_full);
  BOOST_TEST(store->load("exh_1")->events.size() == committed);
}

BOOST_AUTO_TEST_CASE(data_survives_reopening) {
  test::temp_dir dir;
  {
    auto store = open_store(dir.path());
    std::vector<write_item> items(1);
    items[0].append_event("org_1", 1, "created");
    items[0].put(db::settings, "schema", "1");
    BOOST_REQUIRE(!commit_all(*store, items)[0]);
  }
  auto store = open_store(dir.path());
  BOOST_TEST(store->load("org_1")->events.at(0).record == "created");
  BOOST_TEST(**store->get(db::settings, "schema") == "1");
  auto ents = store->entities("org_", 10);
  BOOST_REQUIRE(ents);
  BOOST_TEST(ents->size() == 1u);
}

BOOST_AUTO_TEST_CASE(scan_pages_through_a_prefix) {
  test::temp_dir dir;
  auto store = open_store(dir.path());
  std::vector<write_item> items(1);
  for (int i = 0; i < 5; ++i) items[0].put(db::indexes, "holders/p1/" + std::to_string(i), "");
  items[0].put(db::indexes, "holders/p2/0", "");
  BOOST_REQUIRE(!commit_all(*store, items)[0]);
  auto page1 = store->scan(db::indexes, "holders/p1/", 3);
  BOOST_REQUIRE(page1);
  BOOST_TEST(page1->size() == 3u);
  auto page2 = store->scan(db::indexes, "holders/p1/", 3, page1->back().first);
  BOOST_REQUIRE(page2);
  BOOST_TEST(page2->size() == 2u);
  BOOST_TEST(page2->back().first == "holders/p1/4");
}

BOOST_AUTO_TEST_CASE(a_backup_copy_opens_with_the_same_data) {
  test::temp_dir dir;
  auto store = open_store(dir.path() / "live");
  std::vector<write_item> items(1);
  items[0].append_event("usr_9", 1, "hello");
  BOOST_REQUIRE(!commit_all(*store, items)[0]);
  BOOST_REQUIRE(!store->copy_compact(dir.path() / "backup"));
  auto copy = open_store(dir.path() / "backup");
  BOOST_TEST(copy->load("usr_9")->events.at(0).record == "hello");
}

BOOST_AUTO_TEST_CASE(records_round_trip_and_corruption_is_a_clear_error) {
  capnp::MallocMessageBuilder msg;
  auto ev = msg.initRoot<schema::OrganizationEvent>();
  ev.setAt(42);
  ev.initCreated().setName("Acme");
  auto bytes = encode_record(schema::RecordKind::ORGANIZATION_EVENT, msg);
  auto rec = decode_record(bytes, schema::RecordKind::ORGANIZATION_EVENT);
  BOOST_REQUIRE(rec);
  auto root = (*rec)->root<schema::OrganizationEvent>();
  BOOST_TEST(root.getAt() == 42);
  BOOST_TEST(std::string(root.getCreated().getName().cStr()) == "Acme");

  auto wrong_kind = decode_record(bytes, schema::RecordKind::USER_EVENT);
  BOOST_TEST(code_of(wrong_kind.error()) == errc::corrupt_record);
  auto flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x40;
  BOOST_TEST(code_of(decode_record(flipped, schema::RecordKind::ORGANIZATION_EVENT).error()) ==
             errc::corrupt_record);
  auto truncated = bytes.substr(0, bytes.size() - 8);
  BOOST_TEST(code_of(decode_record(truncated, schema::RecordKind::ORGANIZATION_EVENT).error()) ==
             errc::corrupt_record);
  BOOST_TEST(code_of(decode_record("", schema::RecordKind::ORGANIZATION_EVENT).error()) ==
             errc::corrupt_record);
  // A record whose checksum matches but whose words are garbage must not crash either.
  std::string garbage(6 + 64, '\xff');
  garbage[0] = 1;
  garbage[1] = static_cast<char>(schema::RecordKind::ORGANIZATION_EVENT);
  auto crc = crc32c(std::string_view(garbage).substr(6));
  for (int i = 0; i < 4; ++i) garbage[2 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  auto g = decode_record(garbage, schema::RecordKind::ORGANIZATION_EVENT);
  if (g) {
    BOOST_CHECK_THROW((*g)->root<schema::OrganizationEvent>().getCreated().getName(),
                      kj::Exception);
  } else {
    BOOST_TEST(code_of(g.error()) == errc::corrupt_record);
  }
}

BOOST_AUTO_TEST_CASE(a_list_claiming_millions_of_empty_elements_is_refused_not_decoded) {
  // Found by fuzz_records: a few damaged bytes made a snapshot's list claim millions of empty
  // entries, and restoring it took half a minute and half a GiB.
  capnp::MallocMessageBuilder msg;
  msg.initRoot<capnp::AnyPointer>().initAs<capnp::List<capnp::Void>>(10'000'000);
  auto bytes = encode_record(schema::RecordKind::CONNECTION_LOG_SNAPSHOT, msg);
  BOOST_TEST(bytes.size() < 64u);
  auto rec = decode_record(bytes, schema::RecordKind::CONNECTION_LOG_SNAPSHOT);
  BOOST_REQUIRE(rec);
  BOOST_CHECK_THROW((*rec)->root<capnp::AnyPointer>().getAs<capnp::List<capnp::Void>>(),
                    kj::Exception);
}

BOOST_AUTO_TEST_CASE(a_large_record_still_reads_whole_more_than_once) {
  // The traversal limit follows the record's size: 8 MiB of values read twice stays within it.
  constexpr uint32_t n = 1'000'000;
  capnp::MallocMessageBuilder msg;
  auto list = msg.initRoot<capnp::AnyPointer>().initAs<capnp::List<uint64_t>>(n);
  for (uint32_t i = 0; i < n; ++i) list.set(i, i);
  auto bytes = encode_record(schema::RecordKind::CHAT_ROOM_SNAPSHOT, msg);
  auto rec = decode_record(bytes, schema::RecordKind::CHAT_ROOM_SNAPSHOT);
  BOOST_REQUIRE(rec);
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t sum = 0;
    for (auto v : (*rec)->root<capnp::AnyPointer>().getAs<capnp::List<uint64_t>>()) sum += v;
    BOOST_TEST(sum == uint64_t{n} * (n - 1) / 2);
  }
}

BOOST_AUTO_TEST_CASE(a_reverse_scan_pages_a_prefix_from_its_last_key) {
  test::temp_dir dir;
  auto store = open_store(dir.path());
  write_item item;
  for (auto k : {"a/1", "b/1", "b/2", "b/3", "b/4", "c/1"}) item.put(db::indexes, k, k);
  std::vector<write_item*> items{&item};
  BOOST_REQUIRE(!store->commit(items)[0]);
  auto first = store->scan_reverse(db::indexes, "b/", 3);
  BOOST_REQUIRE(first);
  BOOST_REQUIRE_EQUAL(first->size(), 3u);
  BOOST_TEST((*first)[0].first == "b/4");
  BOOST_TEST((*first)[2].first == "b/2");
  auto next = store->scan_reverse(db::indexes, "b/", 3, (*first)[2].first);
  BOOST_REQUIRE(next);
  BOOST_REQUIRE_EQUAL(next->size(), 1u);
  BOOST_TEST((*next)[0].first == "b/1");
  auto last = store->scan_reverse(db::indexes, "c/", 10);
  BOOST_REQUIRE(last);
  BOOST_REQUIRE_EQUAL(last->size(), 1u);
  BOOST_TEST(store->scan_reverse(db::indexes, "d/", 10)->empty());
}

BOOST_AUTO_TEST_CASE(personal_values_are_sealed_per_person_and_forgetting_shreds_them) {
  test::temp_dir dir;
  std::string sealed_ada, sealed_bob;
  {
    auto sealer = keyed_field_sealer::open_in(dir.path());
    BOOST_REQUIRE(sealer);
    auto a = (*sealer)->seal("usr_ada", "msg_1", "ada@example.org");
    auto b = (*sealer)->seal("usr_bob", "msg_2", "bob@example.org");
    BOOST_REQUIRE(a);
    BOOST_REQUIRE(b);
    sealed_ada = *a;
    sealed_bob = *b;
    BOOST_TEST(static_cast<int>(sealed_ada[0]) == 1);
    BOOST_TEST(sealed_ada.find("ada@") == std::string::npos);
    // A fresh nonce per value: the same value sealed twice differs.
    BOOST_TEST(*(*sealer)->seal("usr_ada", "msg_1", "ada@example.org") != sealed_ada);
    BOOST_TEST(*(*sealer)->open("usr_ada", "msg_1", sealed_ada) == "ada@example.org");
    // Bound to its record and its person: moved elsewhere, it does not open.
    BOOST_TEST(code_of((*sealer)->open("usr_ada", "msg_9", sealed_ada).error()) ==
               errc::corrupt_record);
    BOOST_TEST(!(*sealer)->open("usr_bob", "msg_1", sealed_ada));
    auto tampered = sealed_ada;
    tampered[tampered.size() / 2] ^= 0x01;
    BOOST_TEST(code_of((*sealer)->open("usr_ada", "msg_1", tampered).error()) ==
               errc::corrupt_record);
    // Values written before sealing started still read.
    BOOST_TEST(*(*sealer)->open("usr_ada", "msg_1", std::string("\0old", 4)) == "old");
  }
  // The keys are durable: the next start opens what the last one sealed.
  {
    auto sealer = keyed_field_sealer::open_in(dir.path());
    BOOST_REQUIRE(sealer);
    BOOST_TEST(*(*sealer)->open("usr_ada", "msg_1", sealed_ada) == "ada@example.org");
    BOOST_REQUIRE(!(*sealer)->forget("usr_ada"));
    BOOST_REQUIRE(!(*sealer)->forget("usr_ada"));  // idempotent
    BOOST_TEST(*(*sealer)->open("usr_ada", "msg_1", sealed_ada) == "");
    BOOST_TEST(code_of((*sealer)->seal("usr_ada", "msg_3", "again").error()) == errc::forbidden);
    BOOST_TEST(*(*sealer)->open("usr_bob", "msg_2", sealed_bob) == "bob@example.org");
  }
  // Forgetting survives a restart, and the compaction at open leaves no page of the old key.
  {
    auto sealer = keyed_field_sealer::open_in(dir.path());
    BOOST_REQUIRE(sealer);
    BOOST_TEST(*(*sealer)->open("usr_ada", "msg_1", sealed_ada) == "");
    BOOST_TEST(*(*sealer)->open("usr_bob", "msg_2", sealed_bob) == "bob@example.org");
  }
  BOOST_TEST(test::files_containing(dir.path(), "ada@example.org").empty());
  // A missing or another master key is refused at open, and leaves the store as it was: new
  // keys sealed under a stranger would make a store that no single master key reads.
  const auto master = dir.path() / "keys" / "master.key";
  std::string original;
  {
    std::ifstream in(master, std::ios::binary);
    original.assign(std::istreambuf_iterator<char>(in), {});
  }
  BOOST_REQUIRE_EQUAL(original.size(), 32u);
  std::filesystem::remove(master);
  auto missing = keyed_field_sealer::open_in(dir.path());
  BOOST_REQUIRE(!missing);
  BOOST_TEST(code_of(missing.error()) == errc::forbidden);
  BOOST_TEST(!std::filesystem::exists(master));
  auto write_master = [&](std::string bytes) {
    std::ofstream out(master, std::ios::binary | std::ios::trunc);
    out << bytes;
    out.close();
    std::filesystem::permissions(
        master, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  };
  // The index key likewise: without it no account would be found by its email.
  const auto index = dir.path() / "keys" / "index.key";
  std::filesystem::rename(index, dir.path() / "index.key.aside");
  auto no_index = keyed_field_sealer::open_in(dir.path());
  BOOST_REQUIRE(!no_index);
  BOOST_TEST(code_of(no_index.error()) == errc::forbidden);
  BOOST_TEST(!std::filesystem::exists(index));
  std::filesystem::rename(dir.path() / "index.key.aside", index);
  auto stranger = original;
  stranger[0] = static_cast<char>(stranger[0] ^ 0x5a);
  write_master(stranger);
  auto other = keyed_field_sealer::open_in(dir.path());
  BOOST_REQUIRE(!other);
  BOOST_TEST(code_of(other.error()) == errc::forbidden);
  write_master(original);
  auto restored = keyed_field_sealer::open_in(dir.path());
  BOOST_REQUIRE(restored);
  BOOST_TEST(*(*restored)->open("usr_bob", "msg_2", sealed_bob) == "bob@example.org");
}

BOOST_AUTO_TEST_CASE(a_master_key_others_can_read_is_refused) {
  test::temp_dir dir;
  BOOST_REQUIRE(keyed_field_sealer::open_in(dir.path()));
  auto mode = std::filesystem::status(dir.path() / "keys" / "master.key").permissions();
  BOOST_TEST(static_cast<unsigned>(mode & std::filesystem::perms::all) == 0600u);
  std::filesystem::permissions(dir.path() / "keys" / "master.key",
                               std::filesystem::perms::group_read,
                               std::filesystem::perm_options::add);
  auto refused = keyed_field_sealer::open_in(dir.path());
  BOOST_REQUIRE(!refused);
  BOOST_TEST(code_of(refused.error()) == errc::forbidden);
}

BOOST_AUTO_TEST_CASE(the_field_seam_round_trips_and_the_index_key_is_private) {
  test::temp_dir dir;
  auto sealer = plain_field_sealer::open_in(dir.path());
  BOOST_REQUIRE(sealer);
  auto sealed = (*sealer)->seal("usr_1", "usr_1", "ada@example.org");
  BOOST_REQUIRE(sealed);
  BOOST_TEST(static_cast<int>((*sealed)[0]) == 0);
  BOOST_TEST(*(*sealer)->open("usr_1", "usr_1", *sealed) == "ada@example.org");
  BOOST_TEST(code_of((*sealer)->open("usr_1", "usr_1", std::string("\x07x")).error()) ==
             errc::corrupt_record);
  auto h1 = (*sealer)->blind_index("email", "ada@example.org");
  BOOST_TEST(h1.size() == 32u);
  BOOST_TEST(h1 != (*sealer)->blind_index("email", "bob@example.org"));
  BOOST_TEST(h1 != (*sealer)->blind_index("other", "ada@example.org"));
  // The same key is read back on the next start, so indexes stay valid.
  auto again = plain_field_sealer::open_in(dir.path());
  BOOST_REQUIRE(again);
  BOOST_TEST((*again)->blind_index("email", "ada@example.org") == h1);
  // A key file others can read is refused.
  std::filesystem::permissions(dir.path() / "keys" / "index.key",
                               std::filesystem::perms::others_read,
                               std::filesystem::perm_options::add);
  auto refused = plain_field_sealer::open_in(dir.path());
  BOOST_REQUIRE(!refused);
  BOOST_TEST(code_of(refused.error()) == errc::forbidden);
}
