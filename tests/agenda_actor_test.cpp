#define BOOST_TEST_MODULE agenda_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/agenda_actor.hpp"
#include "actors/chat_room_actor.hpp"
#include "actors/engine.hpp"
#include "actors/entity_codec.hpp"
#include "mext/schemas/agenda.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::actors;

namespace {

constexpr auto timeout = std::chrono::seconds(10);
constexpr int64_t hour = 3600 * 1000;
// 2026-11-28T00:00:00Z
constexpr int64_t day = int64_t{1795910400} * 1000;

struct config : caf::actor_system_config {
  config() {
    mext::test::use_mextd_scheduler(*this);
    mext::actors::add_message_types(*this);
    add_agenda_types(*this);
  }
};

caller user(const std::string& id, bool admin = false) {
  caller c;
  c.user_id = id;
  c.admin = admin;
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

session_entry session(const std::string& id, int64_t from_h, int64_t to_h,
                      std::string title = "a talk") {
  return session_entry{id, "exh_0123", std::move(title), day + from_h * hour, day + to_h * hour};
}

meeting_request meet(const std::string& with, int64_t from_ms, int64_t to_ms,
                     std::string note = "let us talk") {
  return meeting_request{with, "", from_ms, to_ms, std::move(note)};
}

// Hours after `day`, possibly fractional through minutes.
int64_t at(int64_t h, int64_t minutes = 0) {
  return day + h * hour + minutes * 60 * 1000;
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
  std::string dave = new_id("usr");

  fixture() {
    opts.data_dir = dir.path();
    start();
  }

  // An agenda the engine cannot activate (as when its store pages fail): empty for none.
  std::string unreachable;

  void start() {
    entity_factory agendas = [this](caf::actor_system& s, const std::shared_ptr<runtime>& rt,
                                    const std::string& id, bool create,
                                    std::shared_ptr<resident_stats> stats) {
      if (id == unreachable)
        return caf::expected<caf::actor>{make_error(errc::internal, "agenda unreachable")};
      return make_agenda_actor(s, rt, id, create, std::move(stats));
    };
    auto e = engine::start(sys, opts, {{"agd", agendas}});
    BOOST_REQUIRE_MESSAGE(e, why(e));
    eng = std::move(*e);
  }

  void restart() {
    eng->stop();
    eng.reset();
    start();
  }

  agenda_actor agenda(const std::string& owner) {
    caf::scoped_actor self{sys};
    agenda_actor out;
    self->request(eng->directory(), timeout, activate_atom::value, agenda_id(owner))
        .receive([&](caf::actor& a) { out = caf::actor_cast<agenda_actor>(a); },
                 [&](caf::error& e) { BOOST_FAIL("activate failed: " + detail_of(e)); });
    return out;
  }

  // Sends to the agenda of `owner`.
  template <class R, class... Ts>
  caf::expected<R> ask(const std::string& owner, Ts&&... xs) {
    auto hdl = agenda(owner);
    caf::scoped_actor self{sys};
    caf::expected<R> out{R{}};
    self->request(hdl, timeout, std::forward<Ts>(xs)...)
        .receive([&](R& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  caf::expected<agenda_view> get(const std::string& owner, const caller& c) {
    return ask<agenda_view>(owner, get_atom::value, c);
  }

  caf::expected<agenda_view> get(const std::string& owner) { return get(owner, user(owner)); }

  caf::expected<meeting_view> request(const std::string& from, meeting_request r) {
    return ask<meeting_view>(from, meeting_atom::value, user(from), std::move(r), int64_t{1000});
  }

  // `who` answers on the agenda of `where`.
  caf::expected<meeting_view> answer(const std::string& where, const std::string& who,
                                     const std::string& mid, const std::string& action) {
    return ask<meeting_view>(where, answer_atom::value, user(who), mid, action, int64_t{2000});
  }

  caf::expected<agenda_view> attend(const std::string& owner, session_entry s) {
    return ask<agenda_view>(owner, attend_atom::value, user(owner), std::move(s), int64_t{500});
  }

  // The meeting `mid` as the agenda of `owner` lists it.
  std::optional<agenda_item> item(const std::string& owner, const std::string& mid) {
    auto v = get(owner);
    BOOST_REQUIRE(v);
    for (auto& i : v->items)
      if (i.item_id == mid) return i;
    return std::nullopt;
  }

  // The status of meeting `mid` in the agenda of `owner`, or "absent".
  std::string status_in(const std::string& owner, const std::string& mid) {
    auto i = item(owner, mid);
    return i ? i->status : "absent";
  }

  bool resident(const std::string& id) {
    caf::scoped_actor self{sys};
    bool found = false;
    self->request(eng->directory(), timeout, list_atom::value, std::string{"agd"}, uint32_t{1000})
        .receive(
            [&](std::vector<resident_info>& list) {
              for (auto& r : list) found = found || r.id == id;
            },
            [&](caf::error& e) { BOOST_FAIL("list failed: " + detail_of(e)); });
    return found;
  }

  bool store_lacks(const std::string& entity, const std::string& needle) {
    auto h = eng->rt()->store->load(entity);
    BOOST_REQUIRE(h);
    if (h->snapshot && h->snapshot->record.find(needle) != std::string::npos) return false;
    for (auto& ev : h->events)
      if (ev.record.find(needle) != std::string::npos) return false;
    return true;
  }
};

std::string next_event_status(caf::scoped_actor& sub, std::string* mid = nullptr) {
  std::string status;
  sub->receive(
      [&](meeting_event& ev) {
        status = ev.status;
        if (mid) *mid = ev.meeting_id;
      },
      caf::after(timeout) >> [&] { BOOST_FAIL("no meeting event"); });
  return status;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(agenda, fixture)

BOOST_AUTO_TEST_CASE(ids_map_users_to_agendas) {
  BOOST_TEST(agenda_id("usr_0123abcd") == "agd_0123abcd");
  BOOST_TEST(agenda_owner("agd_0123abcd") == "usr_0123abcd");
  BOOST_TEST(agenda_owner(agenda_id(alice)) == alice);
  BOOST_TEST(agenda_id("nounderscore").empty());
}

BOOST_AUTO_TEST_CASE(attend_and_leave_sessions_time_ordered_owner_only) {
  auto v = attend(alice, session("exh_0123.ses_b", 14, 15, "later talk"));
  BOOST_REQUIRE(v);
  v = attend(alice, session("exh_0123.ses_a", 9, 10, "early talk"));
  BOOST_REQUIRE(v);
  BOOST_TEST(v->user_id == alice);
  BOOST_REQUIRE_EQUAL(v->items.size(), 2u);
  BOOST_TEST(v->items[0].item_id == "exh_0123.ses_a");
  BOOST_TEST(v->items[0].kind == "session");
  BOOST_TEST(v->items[0].title == "early talk");
  BOOST_TEST(v->items[0].status == "attending");
  BOOST_TEST(v->items[1].item_id == "exh_0123.ses_b");

  // Attending again writes nothing.
  auto events_before = eng->rt()->store->load(agenda_id(alice))->events.size();
  auto again = attend(alice, session("exh_0123.ses_a", 9, 10, "early talk"));
  BOOST_REQUIRE(again);
  BOOST_CHECK(*again == *v);
  BOOST_TEST(eng->rt()->store->load(agenda_id(alice))->events.size() == events_before);

  // Only the owner changes it; the owner or an admin reads it.
  BOOST_TEST(fails_with(ask<agenda_view>(alice, attend_atom::value, user(bob),
                                         session("exh_0123.ses_c", 1, 2), int64_t{1}),
                        errc::forbidden));
  BOOST_TEST(fails_with(
      ask<agenda_view>(alice, leave_atom::value, user(bob), std::string{"exh_0123.ses_a"}),
      errc::forbidden));
  BOOST_TEST(fails_with(get(alice, user(bob)), errc::forbidden));
  BOOST_TEST(fails_with(get(alice, caller{}), errc::unauthenticated));
  auto by_admin = get(alice, user(carol, true));
  BOOST_REQUIRE(by_admin);
  BOOST_CHECK(*by_admin == *v);
  BOOST_TEST(fails_with(attend(alice, session("exh_0123.ses_d", 5, 4)), errc::invalid_argument));
  BOOST_TEST(fails_with(attend(alice, session("not an id", 5, 6)), errc::invalid_argument));

  auto left =
      ask<agenda_view>(alice, leave_atom::value, user(alice), std::string{"exh_0123.ses_a"});
  BOOST_REQUIRE(left);
  BOOST_REQUIRE_EQUAL(left->items.size(), 1u);
  BOOST_TEST(left->items[0].item_id == "exh_0123.ses_b");
  auto left_again =
      ask<agenda_view>(alice, leave_atom::value, user(alice), std::string{"exh_0123.ses_a"});
  BOOST_REQUIRE(left_again);
  BOOST_CHECK(*left_again == *left);

  // An agenda nobody wrote to is empty, not missing.
  auto empty = get(dave);
  BOOST_REQUIRE(empty);
  BOOST_TEST(empty->user_id == dave);
  BOOST_TEST(empty->items.empty());
}

BOOST_AUTO_TEST_CASE(meeting_request_is_pending_in_both_agendas_then_accept_makes_both_accepted) {
  caf::scoped_actor alice_sub{sys};
  caf::scoped_actor bob_sub{sys};
  BOOST_REQUIRE(
      ask<uint32_t>(alice, join_atom::value, caf::actor_cast<caf::actor>(alice_sub), user(alice)));
  BOOST_REQUIRE(
      ask<uint32_t>(bob, join_atom::value, caf::actor_cast<caf::actor>(bob_sub), user(bob)));
  BOOST_TEST(fails_with(
      ask<uint32_t>(bob, join_atom::value, caf::actor_cast<caf::actor>(alice_sub), user(alice)),
      errc::forbidden));

  auto booth = new_id("bth");
  auto m = ask<meeting_view>(alice, meeting_atom::value, user(alice),
                             meeting_request{bob, booth, at(10), at(10, 30), "about your booth"},
                             int64_t{1000});
  BOOST_REQUIRE_MESSAGE(m, why(m));
  BOOST_TEST(m->status == "pending");
  BOOST_TEST(m->requester_id == alice);
  BOOST_TEST(m->invitee_id == bob);
  BOOST_TEST(m->booth_id == booth);
  BOOST_TEST(m->note == "about your booth");
  BOOST_TEST(std::string{owner_of(m->meeting_id)} == agenda_id(alice));

  auto at_bob = item(bob, m->meeting_id);
  BOOST_REQUIRE(at_bob);
  BOOST_TEST(at_bob->kind == "meeting");
  BOOST_TEST(at_bob->status == "pending");
  BOOST_TEST(at_bob->other_party_id == alice);
  BOOST_TEST(at_bob->role == "invitee");
  BOOST_TEST(at_bob->title == "about your booth");
  auto at_alice = item(alice, m->meeting_id);
  BOOST_REQUIRE(at_alice);
  BOOST_TEST(at_alice->status == "pending");
  BOOST_TEST(at_alice->other_party_id == bob);
  BOOST_TEST(at_alice->role == "requester");
  std::string mid;
  BOOST_TEST(next_event_status(bob_sub, &mid) == "pending");
  BOOST_TEST(mid == m->meeting_id);
  BOOST_TEST(next_event_status(alice_sub) == "pending");

  auto accepted = answer(bob, bob, m->meeting_id, "accept");
  BOOST_REQUIRE_MESSAGE(accepted, why(accepted));
  BOOST_TEST(accepted->status == "accepted");
  BOOST_TEST(status_in(alice, m->meeting_id) == "accepted");
  BOOST_TEST(status_in(bob, m->meeting_id) == "accepted");
  BOOST_TEST(next_event_status(bob_sub) == "accepted");
  BOOST_TEST(next_event_status(alice_sub) == "accepted");

  // The invitee may also answer through the requester's agenda (where the meeting id routes).
  auto m2 = request(alice, meet(bob, at(11), at(12)));
  BOOST_REQUIRE(m2);
  auto via_requester = answer(alice, bob, m2->meeting_id, "accept");
  BOOST_REQUIRE_MESSAGE(via_requester, why(via_requester));
  BOOST_TEST(via_requester->status == "accepted");
  BOOST_TEST(status_in(bob, m2->meeting_id) == "accepted");
  BOOST_TEST(status_in(alice, m2->meeting_id) == "accepted");
  // Accepting again is harmless.
  auto repeated = answer(bob, bob, m2->meeting_id, "accept");
  BOOST_REQUIRE(repeated);
  BOOST_TEST(repeated->status == "accepted");
}

BOOST_AUTO_TEST_CASE(overlap_is_refused_on_the_requester_side_tentative_included) {
  BOOST_REQUIRE(attend(alice, session("exh_0123.ses_a", 10, 11)));
  BOOST_TEST(fails_with(request(alice, meet(bob, at(10, 30), at(11, 30))), errc::conflict));
  // Touching intervals do not overlap.
  auto m1 = request(alice, meet(bob, at(11), at(12)));
  BOOST_REQUIRE(m1);
  // A pending meeting holds the time.
  BOOST_TEST(fails_with(request(alice, meet(carol, at(11, 30), at(12, 30))), errc::conflict));
  BOOST_REQUIRE(answer(bob, bob, m1->meeting_id, "decline"));
  auto m2 = request(alice, meet(carol, at(11, 30), at(12, 30)));
  BOOST_REQUIRE(m2);

  // Two requests in flight at once: the first is still tentative when the second arrives.
  auto hdl = agenda(alice);
  caf::scoped_actor a{sys};
  caf::scoped_actor b{sys};
  auto ra = a->request(hdl, timeout, meeting_atom::value, user(alice), meet(bob, at(15), at(16)),
                       int64_t{1});
  auto rb = b->request(hdl, timeout, meeting_atom::value, user(alice),
                       meet(dave, at(15, 30), at(16, 30)), int64_t{1});
  int ok = 0, conflicts = 0;
  auto on_view = [&](meeting_view&) { ++ok; };
  auto on_error = [&](caf::error& e) {
    if (code_of(e) == errc::conflict) ++conflicts;
  };
  ra.receive(on_view, on_error);
  rb.receive(on_view, on_error);
  BOOST_TEST(ok == 1);
  BOOST_TEST(conflicts == 1);
}

BOOST_AUTO_TEST_CASE(overlap_is_refused_on_the_invitee_side_and_frees_the_requesters_time) {
  BOOST_REQUIRE(attend(bob, session("exh_0123.ses_a", 10, 11)));
  auto refused = request(alice, meet(bob, at(10, 30), at(11)));
  BOOST_TEST(fails_with(refused, errc::conflict));
  // The requester's tentative copy is cancelled, and the invitee holds nothing.
  auto v = get(alice);
  BOOST_REQUIRE(v);
  BOOST_REQUIRE_EQUAL(v->items.size(), 1u);
  BOOST_TEST(v->items[0].status == "cancelled");
  auto vb = get(bob);
  BOOST_REQUIRE(vb);
  BOOST_REQUIRE_EQUAL(vb->items.size(), 1u);
  BOOST_TEST(vb->items[0].kind == "session");
  BOOST_CHECK(request(alice, meet(carol, at(10, 30), at(11))));

  // A meeting the invitee already holds counts there too.
  auto first = request(carol, meet(dave, at(14), at(15)));
  BOOST_REQUIRE(first);
  BOOST_TEST(fails_with(request(bob, meet(dave, at(14, 30), at(15, 30))), errc::conflict));
}

BOOST_AUTO_TEST_CASE(accept_and_decline_are_the_invitees_cancel_is_either_partys) {
  auto m1 = request(alice, meet(bob, at(9), at(10)));
  BOOST_REQUIRE(m1);
  BOOST_TEST(fails_with(answer(alice, alice, m1->meeting_id, "accept"), errc::forbidden));
  BOOST_TEST(fails_with(answer(alice, alice, m1->meeting_id, "decline"), errc::forbidden));
  BOOST_TEST(fails_with(answer(alice, carol, m1->meeting_id, "cancel"), errc::forbidden));
  BOOST_TEST(fails_with(answer(bob, bob, m1->meeting_id, "maybe"), errc::invalid_argument));
  BOOST_TEST(fails_with(answer(bob, bob, agenda_id(alice) + "." + new_id("mtg"), "accept"),
                        errc::not_found));
  auto declined = answer(bob, bob, m1->meeting_id, "decline");
  BOOST_REQUIRE(declined);
  BOOST_TEST(declined->status == "declined");
  BOOST_TEST(status_in(alice, m1->meeting_id) == "declined");
  BOOST_TEST(fails_with(answer(alice, alice, m1->meeting_id, "cancel"), errc::conflict));
  BOOST_TEST(fails_with(answer(bob, bob, m1->meeting_id, "accept"), errc::conflict));

  // The requester cancels an accepted meeting.
  auto m2 = request(alice, meet(bob, at(11), at(12)));
  BOOST_REQUIRE(m2);
  BOOST_REQUIRE(answer(bob, bob, m2->meeting_id, "accept"));
  auto cancelled = answer(alice, alice, m2->meeting_id, "cancel");
  BOOST_REQUIRE(cancelled);
  BOOST_TEST(cancelled->status == "cancelled");
  BOOST_TEST(status_in(bob, m2->meeting_id) == "cancelled");
  BOOST_TEST(fails_with(answer(bob, bob, m2->meeting_id, "accept"), errc::conflict));
  auto cancel_again = answer(bob, bob, m2->meeting_id, "cancel");
  BOOST_REQUIRE(cancel_again);
  BOOST_TEST(cancel_again->status == "cancelled");

  // The invitee cancels a pending meeting.
  auto m3 = request(alice, meet(bob, at(13), at(14)));
  BOOST_REQUIRE(m3);
  auto by_invitee = answer(bob, bob, m3->meeting_id, "cancel");
  BOOST_REQUIRE(by_invitee);
  BOOST_TEST(status_in(alice, m3->meeting_id) == "cancelled");
  BOOST_TEST(status_in(bob, m3->meeting_id) == "cancelled");
}

BOOST_AUTO_TEST_CASE(meeting_times_partner_and_note_are_checked) {
  BOOST_TEST(fails_with(request(alice, meet(bob, at(10), at(9))), errc::invalid_argument));
  BOOST_TEST(fails_with(request(alice, meet(bob, at(10), at(10))), errc::invalid_argument));
  BOOST_TEST(fails_with(request(alice, meet(bob, at(10), at(18) + 1)), errc::invalid_argument));
  BOOST_TEST(fails_with(request(alice, meet(alice, at(10), at(11))), errc::invalid_argument));
  BOOST_TEST(
      fails_with(request(alice, meet(new_id("org"), at(10), at(11))), errc::invalid_argument));
  BOOST_TEST(fails_with(request(alice, meet(bob, at(10), at(11), "bad \xC0\xAF")),
                        errc::invalid_argument));
  BOOST_TEST(fails_with(request(alice, meet(bob, at(10), at(11), std::string(2001, 'n'))),
                        errc::invalid_argument));
  BOOST_TEST(fails_with(ask<meeting_view>(alice, meeting_atom::value, user(bob),
                                          meet(carol, at(10), at(11)), int64_t{1}),
                        errc::forbidden));
  auto eight_hours = request(alice, meet(bob, at(10), at(18)));
  BOOST_REQUIRE(eight_hours);
  BOOST_TEST(eight_hours->status == "pending");
}

BOOST_AUTO_TEST_CASE(agendas_are_restored_after_restart) {
  BOOST_REQUIRE(attend(alice, session("exh_0123.ses_a", 9, 10)));
  auto m1 = request(alice, meet(bob, at(10), at(11)));
  auto m2 = request(bob, meet(alice, at(12), at(13), "bob's note"));
  BOOST_REQUIRE(m1 && m2);
  BOOST_REQUIRE(answer(bob, bob, m1->meeting_id, "accept"));
  BOOST_REQUIRE(answer(alice, alice, m2->meeting_id, "decline"));
  auto a = get(alice);
  auto b = get(bob);
  BOOST_REQUIRE(a && b);
  restart();
  auto a2 = get(alice);
  auto b2 = get(bob);
  BOOST_REQUIRE(a2 && b2);
  BOOST_CHECK(*a2 == *a);
  BOOST_CHECK(*b2 == *b);
  BOOST_TEST(a2->items.size() == 3u);
  // Restored state keeps working: the accepted meeting can still be cancelled by either party.
  auto c = answer(alice, alice, m1->meeting_id, "cancel");
  BOOST_REQUIRE(c);
  BOOST_TEST(status_in(bob, m1->meeting_id) == "cancelled");
}

BOOST_AUTO_TEST_CASE(snapshot_plus_replay_equals_live_state) {
  eng->stop();
  eng.reset();
  opts.entities.snapshot_every = 3;
  start();
  for (int i = 0; i < 4; ++i)
    BOOST_REQUIRE(attend(alice, session("exh_0123.ses_" + std::to_string(i), 2 * i, 2 * i + 1)));
  BOOST_REQUIRE(
      ask<agenda_view>(alice, leave_atom::value, user(alice), std::string{"exh_0123.ses_1"}));
  auto m1 = request(alice, meet(bob, at(9), at(10)));
  auto m2 = request(alice, meet(carol, at(11), at(12)));
  BOOST_REQUIRE(m1 && m2);
  BOOST_REQUIRE(answer(bob, bob, m1->meeting_id, "accept"));
  BOOST_REQUIRE(answer(carol, carol, m2->meeting_id, "decline"));
  auto live = get(alice);
  BOOST_REQUIRE(live);
  auto stored = eng->rt()->store->load(agenda_id(alice));
  BOOST_REQUIRE(stored);
  BOOST_REQUIRE(stored->snapshot);
  BOOST_TEST(stored->snapshot->seq > 1u);
  restart();
  auto replayed = get(alice);
  BOOST_REQUIRE(replayed);
  BOOST_CHECK(*replayed == *live);
  BOOST_TEST(replayed->items.size() == 5u);
}

BOOST_AUTO_TEST_CASE(idle_agenda_passivates_and_reactivates_with_its_state) {
  eng->stop();
  eng.reset();
  opts.entities.idle_passivate = std::chrono::milliseconds(50);
  start();
  BOOST_REQUIRE(attend(alice, session("exh_0123.ses_a", 9, 10)));
  auto m = request(alice, meet(bob, at(10), at(11)));
  BOOST_REQUIRE(m);
  auto before = get(alice);
  BOOST_REQUIRE(before);
  for (int i = 0; i < 500 && resident(agenda_id(alice)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  BOOST_REQUIRE(!resident(agenda_id(alice)));
  auto after = get(alice);
  BOOST_REQUIRE(after);
  BOOST_CHECK(*after == *before);
  BOOST_REQUIRE(answer(bob, bob, m->meeting_id, "accept"));
  BOOST_TEST(status_in(alice, m->meeting_id) == "accepted");
}

BOOST_AUTO_TEST_CASE(unconfirmed_request_is_sent_again_when_the_agenda_is_activated) {
  // A requester that stopped after recording its request and before the invitee stored it:
  // written here as that one event, as the crashed actor would have left it.
  auto mid = agenda_id(alice) + "." + new_id("mtg");
  auto record = encode<schema::AgendaEvent>(schema::RecordKind::AGENDA_EVENT,
                                            [&](schema::AgendaEvent::Builder ev) {
                                              ev.setAt(1000);
                                              auto m = ev.initMeetingSet();
                                              m.setMeetingId(mid);
                                              m.setRequesterId(alice);
                                              m.setInviteeId(bob);
                                              m.setStartsAt(at(10));
                                              m.setEndsAt(at(11));
                                              m.setStatus(schema::MeetingStatus::PENDING);
                                              m.setUpdatedAt(1000);
                                              m.setUnsynced(true);
                                            });
  persistence::write_item item;
  item.append_event(agenda_id(alice), 1, record);
  caf::scoped_actor self{sys};
  self->request(eng->writer(), timeout, commit_atom::value, std::move(item))
      .receive([](uint64_t) {}, [](caf::error& e) { BOOST_FAIL(detail_of(e)); });

  agenda(alice);
  std::optional<agenda_item> at_bob;
  for (int i = 0; i < 500 && !at_bob; ++i) {
    at_bob = this->item(bob, mid);
    if (!at_bob) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_REQUIRE(at_bob);
  BOOST_TEST(at_bob->status == "pending");
  auto accepted = answer(bob, bob, mid, "accept");
  BOOST_REQUIRE_MESSAGE(accepted, why(accepted));
  BOOST_TEST(status_in(alice, mid) == "accepted");
}

BOOST_AUTO_TEST_CASE(an_unconfirmed_answer_reaches_the_other_party_after_a_restart_on_its_own) {
  auto m = request(alice, meet(bob, at(10), at(11)));
  BOOST_REQUIRE_MESSAGE(m, why(m));
  auto key = wake_key(agenda_id(bob));
  auto marked = [&] {
    auto v = eng->rt()->store->get(persistence::db::indexes, key);
    BOOST_REQUIRE(v);
    return v->has_value();
  };
  BOOST_TEST(!marked());
  // Alice's agenda cannot be reached when Bob declines: his answer waits, marked for waking.
  unreachable = agenda_id(alice);
  restart();
  auto declined = answer(bob, bob, m->meeting_id, "decline");
  BOOST_TEST(!declined);
  BOOST_TEST(status_in(bob, m->meeting_id) == "declined");
  BOOST_TEST(marked());
  // After a restart nobody asks Bob's agenda for anything: the engine wakes it, and it tells
  // Alice's, then drops its wake key.
  unreachable.clear();
  restart();
  std::string at_alice;
  for (int i = 0; i < 500; ++i) {
    at_alice = status_in(alice, m->meeting_id);
    if (at_alice == "declined" && !marked()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_TEST(at_alice == "declined");
  BOOST_TEST(!marked());
}

BOOST_AUTO_TEST_CASE(export_lists_sessions_and_meetings) {
  BOOST_REQUIRE(attend(alice, session("exh_0123.ses_a", 9, 10, "keynote")));
  auto m1 = request(alice, meet(bob, at(10), at(11), "alice's words"));
  auto m2 = request(bob, meet(alice, at(12), at(13), "bob's words"));
  BOOST_REQUIRE(m1 && m2);
  auto ex = ask<std::vector<personal_record>>(alice, export_atom::value, alice);
  BOOST_REQUIRE(ex);
  size_t sessions = 0, meetings = 0;
  for (auto& r : *ex) {
    BOOST_TEST(r.holder_id == agenda_id(alice));
    std::string note;
    for (auto& [k, v] : r.fields)
      if (k == "note") note = v;
    if (r.category == "sessions") {
      ++sessions;
      BOOST_TEST(r.record_id == "exh_0123.ses_a");
    } else {
      BOOST_TEST(r.category == "meetings");
      ++meetings;
      // The note goes to its author only.
      BOOST_TEST(note == (r.record_id == m1->meeting_id ? "alice's words" : ""));
    }
  }
  BOOST_TEST(sessions == 1u);
  BOOST_TEST(meetings == 2u);
  // Bob's agenda holds two meetings with alice: they are about her too.
  auto at_bob = ask<std::vector<personal_record>>(bob, export_atom::value, alice);
  BOOST_REQUIRE(at_bob);
  BOOST_TEST(at_bob->size() == 2u);
}

BOOST_AUTO_TEST_CASE(erase_wipes_the_agenda_and_cancels_the_other_partys_meetings) {
  BOOST_REQUIRE(attend(alice, session("exh_0123.ses_a", 8, 9)));
  auto m1 = request(alice, meet(bob, at(10), at(11), "alice to bob"));
  auto m2 = request(carol, meet(alice, at(12), at(13), "carol to alice"));
  auto m3 = request(alice, meet(dave, at(14), at(15), "alice to dave"));
  BOOST_REQUIRE(m1 && m2 && m3);
  BOOST_REQUIRE(answer(bob, bob, m1->meeting_id, "accept"));
  BOOST_REQUIRE(answer(dave, dave, m3->meeting_id, "decline"));
  caf::scoped_actor bob_sub{sys};
  BOOST_REQUIRE(
      ask<uint32_t>(bob, join_atom::value, caf::actor_cast<caf::actor>(bob_sub), user(bob)));

  auto n = ask<uint64_t>(alice, erase_atom::value, alice);
  BOOST_REQUIRE_MESSAGE(n, why(n));
  BOOST_TEST(*n == 7u);  // a session and three meetings here, one meeting in each other agenda
  std::string mid;
  BOOST_TEST(next_event_status(bob_sub, &mid) == "cancelled");
  BOOST_TEST(mid == m1->meeting_id);

  auto check = [&] {
    auto mine = get(alice, user(carol, true));
    BOOST_REQUIRE(mine);
    BOOST_TEST(mine->items.empty());
    for (auto& who : {alice, bob, carol, dave}) {
      auto ex = ask<std::vector<personal_record>>(who, export_atom::value, alice);
      BOOST_REQUIRE(ex);
      BOOST_TEST(ex->empty());
      BOOST_TEST(store_lacks(agenda_id(who), alice));
    }
    auto at_bob = item(bob, m1->meeting_id);
    BOOST_REQUIRE(at_bob);
    BOOST_TEST(at_bob->status == "cancelled");
    BOOST_TEST(at_bob->other_party_id == std::string{former_participant});
    BOOST_TEST(at_bob->title.empty());  // alice's note is gone
    auto at_carol = item(carol, m2->meeting_id);
    BOOST_REQUIRE(at_carol);
    BOOST_TEST(at_carol->status == "cancelled");
    BOOST_TEST(at_carol->title == "carol to alice");  // carol's own note stays
    auto at_dave = item(dave, m3->meeting_id);
    BOOST_REQUIRE(at_dave);
    BOOST_TEST(at_dave->status == "declined");
    BOOST_TEST(at_dave->other_party_id == std::string{former_participant});
    BOOST_TEST(store_lacks(agenda_id(dave), "alice to dave"));
    BOOST_TEST(store_lacks(agenda_id(bob), "alice to bob"));
  };
  check();
  auto again = ask<uint64_t>(alice, erase_atom::value, alice);
  BOOST_REQUIRE(again);
  BOOST_TEST(*again == 0u);
  restart();
  check();
  // Bob's time is free again.
  BOOST_CHECK(request(bob, meet(carol, at(10), at(11))));
}

BOOST_AUTO_TEST_SUITE_END()
