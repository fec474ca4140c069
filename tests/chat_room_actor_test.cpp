#define BOOST_TEST_MODULE chat_room_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/chat_room_actor.hpp"
#include "actors/engine.hpp"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::actors;

namespace {

constexpr auto timeout = std::chrono::seconds(10);

struct config : caf::actor_system_config {
  config() {
    mext::test::use_mextd_scheduler(*this);
    mext::actors::add_message_types(*this);
    add_chat_room_types(*this);
  }
};

caller user(const std::string& id, bool admin = false, std::vector<std::string> rep_of = {}) {
  caller c;
  c.user_id = id;
  c.admin = admin;
  c.rep_of = std::move(rep_of);
  return c;
}

// The error of a failed call, for messages; empty on success.
template <class T>
std::string why(const caf::expected<T>& r) {
  return r ? std::string{} : detail_of(r.error());
}

template <class T>
bool fails_with(const caf::expected<T>& r, errc code) {
  return !r && code_of(r.error()) == code;
}

post_spec msg(std::string text, std::string client_msg_id, std::string file_id = {}) {
  return post_spec{std::move(text), std::move(file_id), std::move(client_msg_id)};
}

struct fixture {
  test::temp_dir dir;
  config cfg;
  caf::actor_system sys{cfg};
  engine_options opts;
  std::unique_ptr<engine> eng;

  std::string alice = new_id("usr");
  std::string bob = new_id("usr");
  std::string carol = new_id("usr");
  std::string org = new_id("org");
  std::string booth = new_id("bth");
  std::string booth_room = new_id("room");

  fixture() {
    opts.data_dir = dir.path();
    start();
  }

  void start() {
    auto e = engine::start(sys, opts, {{"room", make_chat_room_actor}});
    BOOST_REQUIRE_MESSAGE(e, why(e));
    eng = std::move(*e);
  }

  void restart() {
    eng->stop();
    eng.reset();
    start();
  }

  chat_room_actor room(const std::string& id) {
    caf::scoped_actor self{sys};
    chat_room_actor out;
    self->request(eng->directory(), timeout, activate_atom::value, id)
        .receive([&](caf::actor& a) { out = caf::actor_cast<chat_room_actor>(a); },
                 [&](caf::error& e) { BOOST_FAIL("activate failed: " + detail_of(e)); });
    return out;
  }

  template <class R, class... Ts>
  caf::expected<R> ask(const std::string& id, Ts&&... xs) {
    auto hdl = room(id);
    caf::scoped_actor self{sys};
    caf::expected<R> out{R{}};
    self->request(hdl, timeout, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  caf::expected<room_view> create_booth_room(const std::string& id) {
    return ask<room_view>(id, create_atom::value, user(alice, true),
                          room_spec{"booth", booth, org, {}}, int64_t{1000});
  }

  caf::expected<room_view> create_direct_room(const std::string& a, const std::string& b) {
    return ask<room_view>(direct_room_id(a, b), create_atom::value, user(a),
                          room_spec{"direct", "", "", {a, b}}, int64_t{1000});
  }

  caf::expected<posted> post(const std::string& id, const std::string& author, post_spec p,
                             int64_t at = 2000) {
    return ask<posted>(id, post_atom::value, user(author), std::move(p), at);
  }

  caf::expected<history_page> history(const std::string& id, const caller& c, uint64_t before = 0,
                                      uint32_t limit = 200) {
    return ask<history_page>(id, history_atom::value, c, before, limit);
  }

  bool resident(const std::string& id) {
    caf::scoped_actor self{sys};
    bool found = false;
    self->request(eng->directory(), timeout, list_atom::value, std::string{"room"}, uint32_t{1000})
        .receive(
            [&](std::vector<resident_info>& list) {
              for (auto& r : list) found = found || r.id == id;
            },
            [&](caf::error& e) { BOOST_FAIL("list failed: " + detail_of(e)); });
    return found;
  }

  // Polls the directory (bounded) until the room has passivated.
  bool wait_passivated(const std::string& id) {
    for (int i = 0; i < 500; ++i) {
      if (!resident(id)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // True when no stored record (events and snapshot) of the room contains `needle`.
  bool store_lacks(const std::string& id, const std::string& needle) {
    auto h = eng->rt()->store->load(id);
    BOOST_REQUIRE(h);
    if (h->snapshot && h->snapshot->record.find(needle) != std::string::npos) return false;
    for (auto& ev : h->events)
      if (ev.record.find(needle) != std::string::npos) return false;
    return true;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(chat_room, fixture)

BOOST_AUTO_TEST_CASE(posts_get_consecutive_numbers_and_history_is_newest_first) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    auto p = post(booth_room, i % 2 ? alice : bob,
                  msg("hello " + std::to_string(i), "c" + std::to_string(i)), 2000 + i);
    BOOST_REQUIRE_MESSAGE(p, why(p));
    BOOST_TEST(p->number == static_cast<uint64_t>(i));
    BOOST_TEST(!p->duplicate);
    BOOST_TEST(p->sent_at_ms == 2000 + i);
    BOOST_TEST(std::string{owner_of(p->message_id)} == booth_room);
    ids.push_back(p->message_id);
  }
  auto h = history(booth_room, user(carol));
  BOOST_REQUIRE(h);
  BOOST_REQUIRE_EQUAL(h->items.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    auto& m = h->items[i];
    BOOST_TEST(m.number == 5 - i);
    BOOST_TEST(m.message_id == ids[4 - i]);
    BOOST_TEST(m.text == "hello " + std::to_string(5 - i));
    BOOST_TEST(m.author_id == ((5 - i) % 2 ? alice : bob));
    BOOST_TEST(!m.deleted);
  }
  BOOST_TEST(h->next_before == 0u);
  auto v = ask<room_view>(booth_room, get_atom::value, user(carol));
  BOOST_REQUIRE(v);
  BOOST_TEST(v->message_count == 5u);
  BOOST_TEST(v->kind == "booth");
  BOOST_TEST(v->booth_id == booth);
  BOOST_TEST(v->organization_id == org);
}

BOOST_AUTO_TEST_CASE(create_checks_spec_and_rights_and_repeats_idempotently) {
  // Booth rooms: an admin or a rep of the organization.
  auto r = ask<room_view>(booth_room, create_atom::value, user(carol),
                          room_spec{"booth", booth, org, {}}, int64_t{1});
  BOOST_TEST(fails_with(r, errc::forbidden));
  r = ask<room_view>(booth_room, create_atom::value, user(carol),
                     room_spec{"stage", booth, org, {}}, int64_t{1});
  BOOST_TEST(fails_with(r, errc::invalid_argument));
  r = ask<room_view>(booth_room, create_atom::value, user(carol, false, {org}),
                     room_spec{"booth", booth, org, {}}, int64_t{1});
  BOOST_REQUIRE(r);
  auto again = ask<room_view>(booth_room, create_atom::value, user(alice, true),
                              room_spec{"booth", booth, org, {}}, int64_t{2});
  BOOST_REQUIRE(again);
  BOOST_CHECK(*again == *r);
  auto other = ask<room_view>(booth_room, create_atom::value, user(alice, true),
                              room_spec{"booth", new_id("bth"), org, {}}, int64_t{2});
  BOOST_TEST(fails_with(other, errc::conflict));

  // Direct rooms: the same id whoever asks, exactly two distinct members, created by one of them.
  BOOST_TEST(direct_room_id(alice, bob) == direct_room_id(bob, alice));
  BOOST_TEST(direct_room_id(alice, bob) != direct_room_id(alice, carol));
  BOOST_TEST(direct_room_id(alice, bob).rfind("room_d", 0) == 0u);
  BOOST_TEST(direct_room_id(alice, bob).size() == 6u + 32u);
  auto d = direct_room_id(alice, bob);
  r = ask<room_view>(d, create_atom::value, user(alice), room_spec{"direct", "", "", {alice}},
                     int64_t{1});
  BOOST_TEST(fails_with(r, errc::invalid_argument));
  r = ask<room_view>(d, create_atom::value, user(alice),
                     room_spec{"direct", "", "", {alice, alice}}, int64_t{1});
  BOOST_TEST(fails_with(r, errc::invalid_argument));
  r = ask<room_view>(d, create_atom::value, user(alice),
                     room_spec{"direct", "", "", {alice, carol}}, int64_t{1});
  BOOST_TEST(fails_with(r, errc::invalid_argument));
  r = ask<room_view>(d, create_atom::value, user(carol), room_spec{"direct", "", "", {alice, bob}},
                     int64_t{1});
  BOOST_TEST(fails_with(r, errc::forbidden));
  auto first = create_direct_room(alice, bob);
  BOOST_REQUIRE(first);
  BOOST_TEST(first->kind == "direct");
  BOOST_TEST(first->member_ids.size() == 2u);
  auto by_bob = create_direct_room(bob, alice);
  BOOST_REQUIRE(by_bob);
  BOOST_CHECK(*by_bob == *first);

  // Nothing can be posted to a room that was never created.
  auto p = post(new_id("room"), alice, msg("x", "c1"));
  BOOST_TEST(fails_with(p, errc::not_found));
}

BOOST_AUTO_TEST_CASE(repeated_client_msg_id_returns_first_result_even_after_restart) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  auto first = post(booth_room, alice, msg("once", "same-key"), 5000);
  BOOST_REQUIRE(first);
  auto dup = post(booth_room, alice, msg("twice?", "same-key"), 6000);
  BOOST_REQUIRE(dup);
  BOOST_TEST(dup->duplicate);
  BOOST_TEST(dup->message_id == first->message_id);
  BOOST_TEST(dup->number == first->number);
  BOOST_TEST(dup->sent_at_ms == 5000);
  // The key is the author's own: another author with the same key posts a new message.
  auto other = post(booth_room, bob, msg("bob's", "same-key"));
  BOOST_REQUIRE(other);
  BOOST_TEST(!other->duplicate);
  BOOST_TEST(other->number == 2u);

  restart();
  auto after = post(booth_room, alice, msg("thrice?", "same-key"), 7000);
  BOOST_REQUIRE(after);
  BOOST_TEST(after->duplicate);
  BOOST_TEST(after->message_id == first->message_id);
  auto h = history(booth_room, user(bob));
  BOOST_REQUIRE(h);
  BOOST_REQUIRE_EQUAL(h->items.size(), 2u);
  BOOST_TEST(h->items[1].text == "once");
}

BOOST_AUTO_TEST_CASE(history_pages_with_before_and_limit) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  for (int i = 1; i <= 7; ++i)
    BOOST_REQUIRE(post(booth_room, alice, msg("m" + std::to_string(i), "k" + std::to_string(i))));
  auto c = user(bob);
  auto p1 = history(booth_room, c, 0, 3);
  BOOST_REQUIRE(p1);
  BOOST_REQUIRE_EQUAL(p1->items.size(), 3u);
  BOOST_TEST(p1->items[0].number == 7u);
  BOOST_TEST(p1->items[2].number == 5u);
  BOOST_TEST(p1->next_before == 5u);
  auto p2 = history(booth_room, c, p1->next_before, 3);
  BOOST_REQUIRE(p2);
  BOOST_REQUIRE_EQUAL(p2->items.size(), 3u);
  BOOST_TEST(p2->items[0].number == 4u);
  BOOST_TEST(p2->items[2].number == 2u);
  BOOST_TEST(p2->next_before == 2u);
  auto p3 = history(booth_room, c, p2->next_before, 3);
  BOOST_REQUIRE(p3);
  BOOST_REQUIRE_EQUAL(p3->items.size(), 1u);
  BOOST_TEST(p3->items[0].number == 1u);
  BOOST_TEST(p3->items[0].text == "m1");
  BOOST_TEST(p3->next_before == 0u);
  // A page that ends exactly at the first message has no next page.
  auto exact = history(booth_room, c, 4, 3);
  BOOST_REQUIRE(exact);
  BOOST_TEST(exact->items.size() == 3u);
  BOOST_TEST(exact->next_before == 0u);
  auto beyond = history(booth_room, c, 1000, 2);
  BOOST_REQUIRE(beyond);
  BOOST_TEST(beyond->items[0].number == 7u);
  BOOST_TEST(fails_with(history(booth_room, c, 0, 0), errc::invalid_argument));
  BOOST_TEST(fails_with(history(booth_room, c, 0, 201), errc::invalid_argument));
  BOOST_CHECK(history(booth_room, c, 0, 200));
}

BOOST_AUTO_TEST_CASE(catch_up_pages_go_oldest_first_after_a_message_until_complete) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  std::vector<std::string> ids;
  for (int i = 1; i <= 7; ++i) {
    auto p = post(booth_room, alice, msg("m" + std::to_string(i), "k" + std::to_string(i)));
    BOOST_REQUIRE(p);
    ids.push_back(p->message_id);
  }
  auto c = user(bob);
  auto p1 = ask<catch_up_page>(booth_room, catch_up_atom::value, c, ids[1], uint32_t{3});
  BOOST_REQUIRE(p1);
  BOOST_TEST(p1->after_number == 2u);
  BOOST_REQUIRE_EQUAL(p1->items.size(), 3u);
  BOOST_TEST(p1->items[0].number == 3u);
  BOOST_TEST(p1->items[2].text == "m5");
  BOOST_TEST(!p1->complete);
  auto p2 = ask<catch_up_page>(booth_room, catch_up_atom::value, c, p1->items.back().message_id,
                               uint32_t{3});
  BOOST_REQUIRE(p2);
  BOOST_REQUIRE_EQUAL(p2->items.size(), 2u);
  BOOST_TEST(p2->items[1].number == 7u);
  BOOST_TEST(p2->complete);
  // After the newest message: nothing, and complete.
  auto none = ask<catch_up_page>(booth_room, catch_up_atom::value, c, ids.back(), uint32_t{3});
  BOOST_REQUIRE(none);
  BOOST_TEST(none->items.empty());
  BOOST_TEST(none->complete);
  BOOST_TEST(none->after_number == 7u);
  BOOST_TEST(fails_with(
      ask<catch_up_page>(booth_room, catch_up_atom::value, c, std::string{"nope"}, uint32_t{3}),
      errc::not_found));
  BOOST_TEST(
      fails_with(ask<catch_up_page>(booth_room, catch_up_atom::value, c, ids[0], uint32_t{0}),
                 errc::invalid_argument));
  BOOST_TEST(fails_with(
      ask<catch_up_page>(booth_room, catch_up_atom::value, caller{}, ids[0], uint32_t{3}),
      errc::unauthenticated));
}

BOOST_AUTO_TEST_CASE(text_must_be_valid_utf8_within_4000_bytes_and_key_1_to_64) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  auto bad = [&](std::string text, std::string key = "k", std::string file = {}) {
    return fails_with(
        post(booth_room, alice, msg(std::move(text), std::move(key), std::move(file))),
        errc::invalid_argument);
  };
  BOOST_TEST(bad(""));
  BOOST_TEST(bad(std::string(4001, 'a')));
  BOOST_TEST(bad("\xC3\x28"));          // a lead byte without its continuation
  BOOST_TEST(bad("\xC0\xAF"));          // overlong '/'
  BOOST_TEST(bad("\xED\xA0\x80"));      // a UTF-16 surrogate
  BOOST_TEST(bad("\xF4\x90\x80\x80"));  // past U+10FFFF
  BOOST_TEST(bad("ok\x80"));            // a stray continuation byte
  BOOST_TEST(bad("\xE2\x82"));          // truncated
  BOOST_TEST(bad("fine", ""));
  BOOST_TEST(bad("fine", std::string(65, 'k')));
  BOOST_TEST(bad("fine", "k", "not a file id"));
  BOOST_TEST(!is_valid_utf8("\xFF"));
  BOOST_TEST(is_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  BOOST_CHECK(post(booth_room, alice, msg(std::string(4000, 'a'), "k1")));
  BOOST_CHECK(post(booth_room, alice, msg("caf\xC3\xA9 \xF0\x9F\x98\x80", std::string(64, 'k'))));
  // A file alone needs no text.
  auto file = new_id("fil");
  auto with_file = post(booth_room, alice, msg("", "k3", file));
  BOOST_REQUIRE(with_file);
  auto h = history(booth_room, user(bob), 0, 1);
  BOOST_REQUIRE(h);
  BOOST_TEST(h->items[0].file_id == file);
  BOOST_TEST(h->items[0].text.empty());
  auto v = ask<room_view>(booth_room, get_atom::value, user(bob));
  BOOST_REQUIRE(v);
  BOOST_TEST(v->message_count == 3u);
}

BOOST_AUTO_TEST_CASE(direct_room_refuses_non_members_and_admins_only_read) {
  BOOST_REQUIRE(create_direct_room(alice, bob));
  auto d = direct_room_id(alice, bob);
  BOOST_REQUIRE(post(d, alice, msg("just us", "a1")));
  BOOST_REQUIRE(post(d, bob, msg("indeed", "b1")));
  BOOST_TEST(fails_with(post(d, carol, msg("let me in", "c1")), errc::forbidden));
  BOOST_TEST(fails_with(history(d, user(carol)), errc::forbidden));
  BOOST_TEST(fails_with(ask<room_view>(d, get_atom::value, user(carol)), errc::forbidden));
  caf::scoped_actor sub{sys};
  BOOST_TEST(
      fails_with(ask<uint32_t>(d, join_atom::value, caf::actor_cast<caf::actor>(sub), user(carol)),
                 errc::forbidden));
  BOOST_TEST(fails_with(history(d, caller{}), errc::unauthenticated));
  auto admin = user(carol, true);
  auto h = history(d, admin);
  BOOST_REQUIRE(h);
  BOOST_TEST(h->items.size() == 2u);
  BOOST_TEST(fails_with(post(d, carol, msg("admin speaking", "c2")), errc::forbidden));
  BOOST_TEST(fails_with(ask<posted>(d, post_atom::value, admin, msg("admin", "c3"), int64_t{1}),
                        errc::forbidden));
  // Booth rooms are open to every signed-in caller, but not to anonymous ones.
  BOOST_REQUIRE(create_booth_room(booth_room));
  BOOST_CHECK(post(booth_room, carol, msg("hi booth", "c4")));
  BOOST_TEST(
      fails_with(ask<posted>(booth_room, post_atom::value, caller{}, msg("anon", "x"), int64_t{1}),
                 errc::unauthenticated));
}

BOOST_AUTO_TEST_CASE(delete_is_for_author_booth_rep_and_admin_only) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  auto m1 = post(booth_room, alice, msg("by alice", "a1"));
  auto m2 = post(booth_room, alice, msg("also by alice", "a2"));
  auto m3 = post(booth_room, alice, msg("alice again", "a3"));
  BOOST_REQUIRE(m1 && m2 && m3);
  // Someone else, and a rep of another organization, may not.
  BOOST_TEST(
      fails_with(ask<message_view>(booth_room, delete_atom::value, user(bob), m1->message_id),
                 errc::forbidden));
  BOOST_TEST(fails_with(ask<message_view>(booth_room, delete_atom::value,
                                          user(bob, false, {new_id("org")}), m1->message_id),
                        errc::forbidden));
  auto by_author = ask<message_view>(booth_room, delete_atom::value, user(alice), m1->message_id);
  BOOST_REQUIRE(by_author);
  BOOST_TEST(by_author->deleted);
  BOOST_TEST(by_author->text.empty());
  BOOST_TEST(by_author->author_id == alice);
  auto by_rep =
      ask<message_view>(booth_room, delete_atom::value, user(bob, false, {org}), m2->message_id);
  BOOST_REQUIRE(by_rep);
  BOOST_TEST(by_rep->deleted);
  auto by_admin =
      ask<message_view>(booth_room, delete_atom::value, user(carol, true), m3->message_id);
  BOOST_REQUIRE(by_admin);
  BOOST_TEST(by_admin->deleted);
  // Deleting again answers the deleted message; an unknown id is not found.
  BOOST_CHECK(ask<message_view>(booth_room, delete_atom::value, user(alice), m1->message_id));
  BOOST_TEST(fails_with(ask<message_view>(booth_room, delete_atom::value, user(alice),
                                          booth_room + "." + new_id("msg")),
                        errc::not_found));
  auto h = history(booth_room, user(bob));
  BOOST_REQUIRE(h);
  BOOST_REQUIRE_EQUAL(h->items.size(), 3u);
  for (auto& m : h->items) {
    BOOST_TEST(m.deleted);
    BOOST_TEST(m.text.empty());
  }
  // In a direct room the other member is not a moderator.
  BOOST_REQUIRE(create_direct_room(alice, bob));
  auto d = direct_room_id(alice, bob);
  auto dm = post(d, alice, msg("private", "a4"));
  BOOST_REQUIRE(dm);
  BOOST_TEST(fails_with(ask<message_view>(d, delete_atom::value, user(bob), dm->message_id),
                        errc::forbidden));
  BOOST_CHECK(ask<message_view>(d, delete_atom::value, user(alice), dm->message_id));
}

BOOST_AUTO_TEST_CASE(message_text_is_sealed_under_its_author_key_in_every_record) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  BOOST_REQUIRE(post(booth_room, alice, msg("words only members read", "a1")));
  BOOST_TEST(store_lacks(booth_room, "words only members read"));
  restart();
  auto h = history(booth_room, user(bob));
  BOOST_REQUIRE(h);
  BOOST_REQUIRE_EQUAL(h->items.size(), 1u);
  BOOST_TEST(h->items[0].text == "words only members read");
  // Once the author's key is destroyed, the text reads as nothing, even before the room erases it.
  BOOST_REQUIRE(!eng->rt()->sealer->forget(alice));
  restart();
  h = history(booth_room, user(bob));
  BOOST_REQUIRE(h);
  BOOST_REQUIRE_EQUAL(h->items.size(), 1u);
  BOOST_TEST(h->items[0].text.empty());
}

// Sealing already hides the words; this proves the compaction beneath it, with the plain envelope
// so that the words are visible in the records until the deletion removes them.
BOOST_AUTO_TEST_CASE(delete_compacts_so_no_stored_record_holds_the_words) {
  opts.seal_personal_data = false;
  restart();
  BOOST_REQUIRE(create_booth_room(booth_room));
  auto secret = post(booth_room, alice, msg("the secret words", "a1"));
  BOOST_REQUIRE(post(booth_room, bob, msg("a reply that stays", "b1")));
  BOOST_REQUIRE(secret);
  BOOST_TEST(!store_lacks(booth_room, "the secret words"));
  BOOST_REQUIRE(ask<message_view>(booth_room, delete_atom::value, user(alice), secret->message_id));
  BOOST_TEST(store_lacks(booth_room, "the secret words"));
  BOOST_TEST(!store_lacks(booth_room, "a reply that stays"));
  restart();
  auto h = history(booth_room, user(bob));
  BOOST_REQUIRE(h);
  BOOST_REQUIRE_EQUAL(h->items.size(), 2u);
  BOOST_TEST(h->items[0].text == "a reply that stays");
  BOOST_TEST(h->items[1].deleted);
  BOOST_TEST(h->items[1].text.empty());
}

BOOST_AUTO_TEST_CASE(subscribers_receive_events_in_room_order_until_they_leave) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  caf::scoped_actor sub{sys};
  auto sub_hdl = caf::actor_cast<caf::actor>(sub);
  auto n = ask<uint32_t>(booth_room, join_atom::value, sub_hdl, user(carol));
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 1u);
  // Joining twice counts once.
  n = ask<uint32_t>(booth_room, join_atom::value, sub_hdl, user(carol));
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 1u);

  // Posts from several requesters at once, not waiting for each answer.
  auto hdl = room(booth_room);
  std::vector<std::unique_ptr<caf::scoped_actor>> posters;
  for (int i = 1; i <= 20; ++i) {
    posters.push_back(std::make_unique<caf::scoped_actor>(sys));
    (*posters.back())
        ->send(hdl, post_atom::value, user(i % 2 ? alice : bob),
               msg("n" + std::to_string(i), "k" + std::to_string(i)), int64_t{i});
  }
  std::vector<uint64_t> numbers;
  std::string first_id;
  for (int i = 0; i < 20; ++i) {
    sub->receive(
        [&](room_event& ev) {
          BOOST_TEST(ev.room_id == booth_room);
          BOOST_TEST(ev.kind == "message");
          BOOST_TEST(!ev.message.text.empty());
          numbers.push_back(ev.message.number);
          if (first_id.empty()) first_id = ev.message.message_id;
        },
        caf::after(timeout) >> [&] { BOOST_FAIL("no event"); });
  }
  for (size_t i = 0; i < numbers.size(); ++i) BOOST_TEST(numbers[i] == i + 1);

  BOOST_REQUIRE(ask<message_view>(booth_room, delete_atom::value, user(carol, true), first_id));
  sub->receive(
      [&](room_event& ev) {
        BOOST_TEST(ev.kind == "deleted");
        BOOST_TEST(ev.message.message_id == first_id);
        BOOST_TEST(ev.message.text.empty());
      },
      caf::after(timeout) >> [&] { BOOST_FAIL("no deletion event"); });

  // A second subscriber that goes down is dropped by the room's monitor.
  auto doomed =
      sys.spawn([](caf::event_based_actor*) -> caf::behavior { return {[](room_event&) {}}; });
  n = ask<uint32_t>(booth_room, join_atom::value, caf::actor_cast<caf::actor>(doomed), user(bob));
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 2u);
  caf::anon_send_exit(doomed, caf::exit_reason::user_shutdown);
  uint32_t count = 2;
  for (int i = 0; i < 500 && count != 1; ++i) {
    auto c = ask<uint32_t>(booth_room, leave_atom::value, caf::actor{});
    BOOST_REQUIRE(c);
    count = *c;
    if (count != 1) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  BOOST_TEST(count == 1u);

  n = ask<uint32_t>(booth_room, leave_atom::value, sub_hdl);
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 0u);
  BOOST_REQUIRE(post(booth_room, alice, msg("after leaving", "late")));
  bool got = false;
  sub->receive([&](room_event&) { got = true; },
               caf::after(std::chrono::milliseconds(200)) >> [] {});
  BOOST_TEST(!got);
}

BOOST_AUTO_TEST_CASE(room_state_is_restored_after_restart) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  BOOST_REQUIRE(create_direct_room(alice, bob));
  auto d = direct_room_id(alice, bob);
  for (int i = 1; i <= 4; ++i) {
    BOOST_REQUIRE(post(booth_room, alice, msg("b" + std::to_string(i), "k" + std::to_string(i))));
    BOOST_REQUIRE(post(d, bob, msg("d" + std::to_string(i), "k" + std::to_string(i))));
  }
  auto before_booth = history(booth_room, user(carol));
  auto before_direct = history(d, user(alice));
  auto before_view = ask<room_view>(d, get_atom::value, user(alice));
  BOOST_REQUIRE(before_booth && before_direct && before_view);
  restart();
  auto after_booth = history(booth_room, user(carol));
  auto after_direct = history(d, user(alice));
  auto after_view = ask<room_view>(d, get_atom::value, user(alice));
  BOOST_REQUIRE(after_booth && after_direct && after_view);
  BOOST_CHECK(*after_booth == *before_booth);
  BOOST_CHECK(*after_direct == *before_direct);
  BOOST_CHECK(*after_view == *before_view);
  auto next = post(booth_room, bob, msg("continues", "n"));
  BOOST_REQUIRE(next);
  BOOST_TEST(next->number == 5u);
}

BOOST_AUTO_TEST_CASE(snapshot_plus_replay_equals_live_state) {
  eng->stop();
  eng.reset();
  opts.entities.snapshot_every = 3;
  start();
  BOOST_REQUIRE(create_booth_room(booth_room));
  std::vector<std::string> ids;
  for (int i = 1; i <= 10; ++i) {
    auto p = post(booth_room, i % 3 ? alice : bob,
                  msg("s" + std::to_string(i), "k" + std::to_string(i)));
    BOOST_REQUIRE(p);
    ids.push_back(p->message_id);
  }
  BOOST_REQUIRE(ask<message_view>(booth_room, delete_atom::value, user(alice), ids[1]));
  BOOST_REQUIRE(post(booth_room, bob, msg("after the deletion", "k11")));
  BOOST_REQUIRE(post(booth_room, bob, msg("and one more", "k12")));
  auto live = history(booth_room, user(carol));
  auto live_view = ask<room_view>(booth_room, get_atom::value, user(carol));
  BOOST_REQUIRE(live && live_view);
  auto stored = eng->rt()->store->load(booth_room);
  BOOST_REQUIRE(stored);
  BOOST_REQUIRE(stored->snapshot);
  BOOST_TEST(stored->snapshot->seq > 1u);
  BOOST_TEST(stored->events.size() < 13u);
  restart();
  auto replayed = history(booth_room, user(carol));
  auto replayed_view = ask<room_view>(booth_room, get_atom::value, user(carol));
  BOOST_REQUIRE(replayed && replayed_view);
  BOOST_CHECK(*replayed == *live);
  BOOST_CHECK(*replayed_view == *live_view);
  // The idempotency index is rebuilt from the snapshot too.
  auto dup = post(booth_room, alice, msg("again", "k1"));
  BOOST_REQUIRE(dup);
  BOOST_TEST(dup->duplicate);
  BOOST_TEST(dup->message_id == ids[0]);
}

BOOST_AUTO_TEST_CASE(idle_room_passivates_and_reactivates_with_its_state_unless_subscribed) {
  eng->stop();
  eng.reset();
  opts.entities.idle_passivate = std::chrono::milliseconds(50);
  start();
  BOOST_REQUIRE(create_booth_room(booth_room));
  BOOST_REQUIRE(post(booth_room, alice, msg("before sleep", "k1")));
  auto before = history(booth_room, user(bob));
  BOOST_REQUIRE(before);
  BOOST_REQUIRE(wait_passivated(booth_room));
  auto after = history(booth_room, user(bob));
  BOOST_REQUIRE(after);
  BOOST_CHECK(*after == *before);
  auto next = post(booth_room, alice, msg("after waking", "k2"));
  BOOST_REQUIRE(next);
  BOOST_TEST(next->number == 2u);
  auto dup = post(booth_room, alice, msg("before sleep", "k1"));
  BOOST_REQUIRE(dup);
  BOOST_TEST(dup->duplicate);

  // A subscriber pins the room: it is still resident after many idle periods, until it leaves.
  caf::scoped_actor sub{sys};
  auto sub_hdl = caf::actor_cast<caf::actor>(sub);
  BOOST_REQUIRE(ask<uint32_t>(booth_room, join_atom::value, sub_hdl, user(carol)));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  BOOST_TEST(resident(booth_room));
  BOOST_REQUIRE(post(booth_room, alice, msg("still here", "k3")));
  sub->receive([&](room_event& ev) { BOOST_TEST(ev.message.number == 3u); },
               caf::after(timeout) >> [&] { BOOST_FAIL("no event"); });
  BOOST_REQUIRE(ask<uint32_t>(booth_room, leave_atom::value, sub_hdl));
  BOOST_TEST(wait_passivated(booth_room));
}

BOOST_AUTO_TEST_CASE(export_lists_the_persons_messages_and_rooms) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  BOOST_REQUIRE(create_direct_room(alice, bob));
  auto d = direct_room_id(alice, bob);
  auto a1 = post(booth_room, alice, msg("alice in booth", "a1"), 111);
  BOOST_REQUIRE(a1);
  BOOST_REQUIRE(post(booth_room, bob, msg("bob in booth", "b1")));
  BOOST_REQUIRE(post(d, alice, msg("alice direct", "a2")));
  auto booth_export = ask<std::vector<personal_record>>(booth_room, export_atom::value, alice);
  BOOST_REQUIRE(booth_export);
  size_t messages = 0, rooms = 0;
  for (auto& r : *booth_export) {
    BOOST_TEST(r.holder_id == booth_room);
    if (r.category == "chat_messages") {
      ++messages;
      BOOST_TEST(r.record_id == a1->message_id);
      bool has_text = false, has_time = false;
      for (auto& [k, v] : r.fields) {
        has_text = has_text || (k == "text" && v == "alice in booth");
        has_time = has_time || (k == "sent_at_ms" && v == "111");
      }
      BOOST_TEST(has_text);
      BOOST_TEST(has_time);
    } else {
      BOOST_TEST(r.category == "chat_rooms");
      ++rooms;
    }
  }
  BOOST_TEST(messages == 1u);
  BOOST_TEST(rooms == 1u);
  auto direct_export = ask<std::vector<personal_record>>(d, export_atom::value, bob);
  BOOST_REQUIRE(direct_export);
  BOOST_REQUIRE_EQUAL(direct_export->size(), 1u);
  BOOST_TEST((*direct_export)[0].category == "chat_rooms");
  auto nobody = ask<std::vector<personal_record>>(booth_room, export_atom::value, carol);
  BOOST_REQUIRE(nobody);
  BOOST_TEST(nobody->empty());
}

BOOST_AUTO_TEST_CASE(erase_removes_the_persons_messages_and_membership_durably) {
  BOOST_REQUIRE(create_booth_room(booth_room));
  BOOST_REQUIRE(create_direct_room(alice, bob));
  auto d = direct_room_id(alice, bob);
  BOOST_REQUIRE(post(booth_room, alice, msg("alice says one", "a1")));
  BOOST_REQUIRE(post(booth_room, bob, msg("bob answers", "b1")));
  BOOST_REQUIRE(post(booth_room, alice, msg("alice says two", "a2")));
  BOOST_REQUIRE(post(d, alice, msg("alice whispers", "a3")));
  BOOST_REQUIRE(post(d, bob, msg("bob whispers", "b2")));

  auto n = ask<uint64_t>(booth_room, erase_atom::value, alice);
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 2u);
  n = ask<uint64_t>(d, erase_atom::value, alice);
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 2u);  // one message and the membership
  // Idempotent.
  n = ask<uint64_t>(d, erase_atom::value, alice);
  BOOST_REQUIRE(n);
  BOOST_TEST(*n == 0u);

  for (auto& id : {booth_room, d}) {
    auto ex = ask<std::vector<personal_record>>(id, export_atom::value, alice);
    BOOST_REQUIRE(ex);
    BOOST_TEST(ex->empty());
    BOOST_TEST(store_lacks(id, alice));
  }
  BOOST_TEST(store_lacks(booth_room, "alice says"));
  BOOST_TEST(store_lacks(d, "alice whispers"));

  auto h = history(booth_room, user(carol));
  BOOST_REQUIRE(h);
  BOOST_REQUIRE_EQUAL(h->items.size(), 3u);
  BOOST_TEST(h->items[1].text == "bob answers");
  BOOST_TEST(h->items[1].author_id == bob);
  for (size_t i : {0u, 2u}) {
    BOOST_TEST(h->items[i].author_id == std::string{former_participant});
    BOOST_TEST(h->items[i].deleted);
    BOOST_TEST(h->items[i].text.empty());
  }
  auto v = ask<room_view>(d, get_atom::value, user(bob));
  BOOST_REQUIRE(v);
  BOOST_TEST(v->member_ids == std::vector<std::string>{bob});
  BOOST_TEST(fails_with(history(d, user(alice)), errc::forbidden));

  restart();
  auto again = history(booth_room, user(carol));
  BOOST_REQUIRE(again);
  BOOST_CHECK(*again == *h);
  auto still = ask<std::vector<personal_record>>(d, export_atom::value, alice);
  BOOST_REQUIRE(still);
  BOOST_TEST(still->empty());
  auto dh = history(d, user(bob));
  BOOST_REQUIRE(dh);
  BOOST_TEST(dh->items[0].text == "bob whispers");
}

BOOST_AUTO_TEST_SUITE_END()
