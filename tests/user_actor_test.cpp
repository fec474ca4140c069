#define BOOST_TEST_MODULE user_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <thread>
#include <tuple>

#include <caf/all.hpp>

#include "actors/engine.hpp"
#include "actors/password.hpp"
#include "actors/user_actor.hpp"
#include "mext/schemas/user.capnp.h"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/record_codec.hpp"
#include "test_support.hpp"

using namespace mext;
using namespace mext::actors;
using namespace std::chrono_literals;

namespace {

constexpr auto timeout = std::chrono::seconds(10);

struct test_config : caf::actor_system_config {
  test_config() {
    mext::test::use_mextd_scheduler(*this);
    mext::actors::add_message_types(*this);
    add_user_types(*this);
  }
};

// An answer or the error that came instead.
template <class R>
struct answer {
  std::optional<R> value;
  caf::error error;
  explicit operator bool() const { return value.has_value(); }
  const R& operator*() const { return *value; }
  const R* operator->() const { return &*value; }
  bool failed_with(errc code) const { return !value && code_of(error) == code; }
};

template <class R, class Handle, class... Ts>
answer<R> ask(caf::actor_system& sys, const Handle& hdl, Ts&&... xs) {
  caf::scoped_actor self{sys};
  answer<R> out;
  self->request(hdl, timeout, std::forward<Ts>(xs)...)
      .receive([&](R& r) { out.value = std::move(r); }, [&](caf::error& e) { out.error = e; });
  return out;
}

bool same(const user_view& a, const user_view& b) {
  auto fields = [](const user_view& v) {
    return std::tie(v.user_id, v.first_name, v.surname, v.email, v.linkedin_url, v.photo_file_id,
                    v.country, v.organization_id, v.role_in_org, v.interests, v.keywords, v.address,
                    v.roles, v.rep_of, v.speaker_of, v.created_at_ms);
  };
  return fields(a) == fields(b);
}

registration make_registration(std::string email, std::string password = "correct horse") {
  registration r;
  r.email = std::move(email);
  r.password = std::move(password);
  r.first_name = "Ada";
  r.surname = "Lovelace";
  r.at_ms = 1'700'000'000'000;
  return r;
}

caller as_user(const std::string& id) {
  return caller{id, false, {}};
}
caller as_admin() {
  return caller{"usr_00000000000000000000000000000000", true, {}};
}

struct fixture {
  test_config cfg;
  caf::actor_system sys{cfg};
  test::temp_dir dir;
  engine_options opts;
  std::unique_ptr<engine> eng;

  fixture() {
    opts.data_dir = dir.path();
    opts.entities.argon2_memory_kib = 1024;
    opts.entities.argon2_iterations = 1;
  }

  ~fixture() {
    if (eng) eng->stop();
  }

  void start() {
    auto e = engine::start(sys, opts, {{"usr", make_user_actor}});
    BOOST_REQUIRE_MESSAGE(e, detail_of(e.error()));
    eng = std::move(*e);
  }

  // Stops the engine (everything acknowledged is on disk) and opens a new one on the same dir.
  void restart() {
    eng->stop();
    eng.reset();
    start();
  }

  answer<caf::actor> directory(resolve_atom, const std::string& id) {
    return ask<caf::actor>(sys, eng->directory(), resolve_atom::value, id);
  }

  user_actor user(const std::string& id, bool create = true) {
    auto hdl = create ? ask<caf::actor>(sys, eng->directory(), activate_atom::value, id)
                      : ask<caf::actor>(sys, eng->directory(), resolve_atom::value, id);
    BOOST_REQUIRE_MESSAGE(hdl, detail_of(hdl.error));
    return caf::actor_cast<user_actor>(*hdl);
  }

  answer<user_view> register_user(const std::string& id, const registration& reg) {
    return ask<user_view>(sys, user(id), register_atom::value, reg);
  }

  // Through resolve, as the bridge reads: an id with nothing stored is not_found there.
  answer<user_view> get(const std::string& id, const caller& c) {
    auto hdl = directory(resolve_atom::value, id);
    if (!hdl) return answer<user_view>{std::nullopt, hdl.error};
    return ask<user_view>(sys, caf::actor_cast<user_actor>(*hdl), get_atom::value, c);
  }

  answer<bool> verify(const std::string& id, const std::string& password) {
    return ask<bool>(sys, user(id), verify_atom::value, password);
  }

  answer<user_view> update(const std::string& id, const caller& c, const profile_patch& p) {
    return ask<user_view>(sys, user(id), update_atom::value, c, p);
  }

  std::optional<std::string> user_by_email(const std::string& email) {
    auto v =
        eng->rt()->store->get(persistence::db::indexes, email_index_key(*eng->rt()->sealer, email));
    BOOST_REQUIRE(v);
    return *v;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(password_hashes_are_argon2id_salted_and_verify) {
  password_params p{1024, 1, 1};
  auto a = hash_password("secret", p);
  auto b = hash_password("secret", p);
  BOOST_REQUIRE(a && b);
  BOOST_TEST(a->rfind("$argon2id$", 0) == 0u);
  BOOST_TEST(*a != *b);  // a fresh salt each time
  BOOST_TEST(*verify_password(*a, "secret"));
  BOOST_TEST(!*verify_password(*a, "Secret"));
  auto broken = verify_password("$argon2id$garbage", "secret");
  BOOST_TEST(!broken);
  BOOST_TEST((code_of(broken.error()) == errc::corrupt_record));
  auto bad_cost = hash_password("secret", password_params{1, 1, 1});
  BOOST_TEST(!bad_cost);
  BOOST_TEST((code_of(bad_cost.error()) == errc::internal));
  BOOST_TEST(!verify_against_nothing("secret", p));
}

BOOST_AUTO_TEST_CASE(emails_are_normalized_and_checked) {
  BOOST_TEST(*normalize_email("  Ada.Lovelace@Example.ORG \n") == "ada.lovelace@example.org");
  for (auto bad :
       {"", "ada", "@example.org", "ada@", "ada@example", "a@b@example.org",
        "ada lovelace@example.org", "ada@exa..mple.org", ".ada@example.org", "ada@-example.org"})
    BOOST_TEST(!normalize_email(bad), bad);
}

BOOST_FIXTURE_TEST_CASE(register_get_update_verify_and_change_password, fixture) {
  start();
  auto id = new_id("usr");
  auto reg = make_registration("  Ada@Example.org ");
  auto made = register_user(id, reg);
  BOOST_REQUIRE_MESSAGE(made, detail_of(made.error));
  BOOST_TEST(made->user_id == id);
  BOOST_TEST(made->email == "ada@example.org");
  BOOST_TEST(made->first_name == "Ada");
  BOOST_TEST(made->roles == std::vector<std::string>{"visitor"});
  BOOST_TEST(made->created_at_ms == reg.at_ms);
  // The login path finds the id by email, in any case and spacing.
  BOOST_TEST(user_by_email("ADA@example.org ").value_or("") == id);

  auto own = get(id, as_user(id));
  BOOST_REQUIRE(own);
  BOOST_TEST(same(*own, *made));

  profile_patch p;
  p.has_linkedin_url = true;
  p.linkedin_url = "https://www.linkedin.com/in/ada";
  p.has_country = true;
  p.country = "UK";
  p.has_interests = true;
  p.interests = {"engines", "poetry"};
  p.has_keywords = true;
  p.keywords = {"analysis"};
  p.has_address = true;
  p.address = "12 St James's Square, London";
  p.has_role_in_org = true;
  p.role_in_org = "Analyst";
  p.has_organization_id = true;
  p.organization_id = "org_0123456789abcdef0123456789abcdef";
  p.has_photo_file_id = true;
  p.photo_file_id = "file_0123456789abcdef0123456789abcdef";
  auto updated = update(id, as_user(id), p);
  BOOST_REQUIRE_MESSAGE(updated, detail_of(updated.error));
  BOOST_TEST(updated->linkedin_url == p.linkedin_url);
  BOOST_TEST(updated->interests == p.interests);
  BOOST_TEST(updated->address == p.address);
  BOOST_TEST(updated->first_name == "Ada");  // untouched fields stay
  auto read = get(id, as_user(id));
  BOOST_REQUIRE(read);
  BOOST_TEST(same(*read, *updated));

  BOOST_TEST(*verify(id, "correct horse"));
  BOOST_TEST(!*verify(id, "wrong horse"));

  auto wrong_old = ask<bool>(sys, user(id), password_atom::value, as_user(id),
                             std::string{"wrong horse"}, std::string{"battery staple"});
  BOOST_TEST(wrong_old.failed_with(errc::forbidden));
  auto someone_else = ask<bool>(sys, user(id), password_atom::value, as_user(new_id("usr")),
                                std::string{"correct horse"}, std::string{"battery staple"});
  BOOST_TEST(someone_else.failed_with(errc::forbidden));
  auto changed = ask<bool>(sys, user(id), password_atom::value, as_user(id),
                           std::string{"correct horse"}, std::string{"battery staple"});
  BOOST_REQUIRE_MESSAGE(changed, detail_of(changed.error));
  BOOST_TEST(*changed);
  BOOST_TEST(*verify(id, "battery staple"));
  BOOST_TEST(!*verify(id, "correct horse"));
}

BOOST_FIXTURE_TEST_CASE(bad_input_and_other_callers_are_refused, fixture) {
  start();
  auto id = new_id("usr");
  BOOST_TEST(
      register_user(id, make_registration("not-an-email")).failed_with(errc::invalid_argument));
  BOOST_TEST(register_user(id, make_registration("ada@example.org", ""))
                 .failed_with(errc::invalid_argument));
  auto nameless = make_registration("ada@example.org");
  nameless.first_name = "  ";
  BOOST_TEST(register_user(id, nameless).failed_with(errc::invalid_argument));
  auto odd_role = make_registration("ada@example.org");
  odd_role.roles = {"emperor"};
  BOOST_TEST(register_user(id, odd_role).failed_with(errc::invalid_argument));
  // Nothing was stored by the refusals.
  BOOST_TEST(eng->rt()->store->load(id)->empty());
  BOOST_TEST(get(new_id("usr"), as_admin()).failed_with(errc::not_found));
  // The activated actor itself answers for an account that was never registered.
  BOOST_TEST(get(id, as_admin()).failed_with(errc::not_found));
  BOOST_TEST(!*verify(id, "correct horse"));

  BOOST_REQUIRE(register_user(id, make_registration("ada@example.org")));
  BOOST_TEST(register_user(id, make_registration("other@example.org")).failed_with(errc::conflict));

  auto patch_with = [](auto set) {
    profile_patch p;
    set(p);
    return p;
  };
  auto refused = [&](const profile_patch& p) {
    return update(id, as_user(id), p).failed_with(errc::invalid_argument);
  };
  for (auto url : {"http://www.linkedin.com/in/ada", "https://linkedin.com.evil.org/in/ada",
                   "https://evil.org/linkedin.com/", "https://www.linkedin.com",
                   "https://user@linkedin.com/in/ada", "https://linkedin.com:8443/in/ada"}) {
    BOOST_TEST(refused(patch_with([&](profile_patch& p) {
                 p.has_linkedin_url = true;
                 p.linkedin_url = url;
               })),
               url);
  }
  BOOST_TEST(refused(patch_with([](profile_patch& p) {
    p.has_address = true;
    p.address = std::string(1001, 'a');
  })));
  BOOST_TEST(refused(patch_with([](profile_patch& p) {
    p.has_interests = true;
    p.interests = std::vector<std::string>(51, "x");
  })));
  BOOST_TEST(refused(patch_with([](profile_patch& p) {
    p.has_surname = true;
    p.surname = "";
  })));
  BOOST_TEST(refused(patch_with([](profile_patch& p) {
    p.has_email = true;
    p.email = "nope";
  })));
  BOOST_TEST(refused(patch_with([](profile_patch& p) {
    p.has_organization_id = true;
    p.organization_id = "not an id";
  })));
  // 1,000 characters of a two-byte script are within the limit.
  std::string thousand;
  for (int i = 0; i < 1000; ++i) thousand += "é";
  auto long_ok = update(id, as_user(id), patch_with([&](profile_patch& p) {
                          p.has_address = true;
                          p.address = thousand;
                        }));
  BOOST_CHECK(long_ok);

  profile_patch rename;
  rename.has_first_name = true;
  rename.first_name = "Augusta";
  BOOST_TEST(update(id, as_user(new_id("usr")), rename).failed_with(errc::forbidden));
  auto by_admin = update(id, as_admin(), rename);
  BOOST_REQUIRE(by_admin);
  BOOST_TEST(by_admin->first_name == "Augusta");
}

BOOST_FIXTURE_TEST_CASE(a_duplicate_email_conflicts_and_of_two_racing_registrations_one_wins,
                        fixture) {
  start();
  auto first = new_id("usr");
  BOOST_REQUIRE(register_user(first, make_registration("ada@example.org")));
  auto second = new_id("usr");
  BOOST_TEST(
      register_user(second, make_registration(" ADA@example.org")).failed_with(errc::conflict));
  BOOST_TEST(eng->rt()->store->load(second)->empty());

  // Both requests are in flight before either answers: the unique index decides.
  for (int round = 0; round < 5; ++round) {
    auto email = "race" + std::to_string(round) + "@example.org";
    auto a = new_id("usr");
    auto b = new_id("usr");
    auto ha = user(a);
    auto hb = user(b);
    caf::scoped_actor self{sys};
    auto ra = self->request(ha, timeout, register_atom::value, make_registration(email));
    auto rb = self->request(hb, timeout, register_atom::value, make_registration(email));
    int won = 0, conflicts = 0;
    std::string winner;
    auto on_error = [&](caf::error& e) {
      BOOST_TEST((code_of(e) == errc::conflict), detail_of(e));
      ++conflicts;
    };
    ra.receive(
        [&](user_view& v) {
          ++won;
          winner = v.user_id;
        },
        on_error);
    rb.receive(
        [&](user_view& v) {
          ++won;
          winner = v.user_id;
        },
        on_error);
    BOOST_TEST(won == 1);
    BOOST_TEST(conflicts == 1);
    BOOST_TEST(user_by_email(email).value_or("") == winner);
    auto loser = winner == a ? b : a;
    // The loser stored nothing: its actor is gone and nothing restores it.
    BOOST_TEST(eng->rt()->store->load(loser)->empty());
  }

  // Changing the email moves the index; a taken one conflicts.
  profile_patch to_taken;
  to_taken.has_email = true;
  to_taken.email = "race0@example.org";
  BOOST_TEST(update(first, as_user(first), to_taken).failed_with(errc::conflict));
  profile_patch to_free;
  to_free.has_email = true;
  to_free.email = "Augusta@Example.org";
  auto moved = update(first, as_user(first), to_free);
  BOOST_REQUIRE_MESSAGE(moved, detail_of(moved.error));
  BOOST_TEST(moved->email == "augusta@example.org");
  BOOST_TEST(!user_by_email("ada@example.org"));
  BOOST_TEST(user_by_email("augusta@example.org").value_or("") == first);
  // The freed address can be registered again.
  BOOST_CHECK(register_user(new_id("usr"), make_registration("ada@example.org")));
}

BOOST_FIXTURE_TEST_CASE(the_public_profile_hides_email_address_and_roles, fixture) {
  start();
  auto id = new_id("usr");
  BOOST_REQUIRE(register_user(id, make_registration("ada@example.org")));
  profile_patch p;
  p.has_address = true;
  p.address = "12 St James's Square";
  p.has_country = true;
  p.country = "UK";
  BOOST_REQUIRE(update(id, as_user(id), p));

  auto other = get(id, as_user(new_id("usr")));
  BOOST_REQUIRE(other);
  BOOST_TEST(other->email.empty());
  BOOST_TEST(other->address.empty());
  BOOST_TEST(other->roles.empty());
  BOOST_TEST(other->created_at_ms == 0);
  BOOST_TEST(other->first_name == "Ada");
  BOOST_TEST(other->country == "UK");

  auto admin = get(id, as_admin());
  BOOST_REQUIRE(admin);
  BOOST_TEST(admin->email == "ada@example.org");
  BOOST_TEST(admin->address == p.address);

  BOOST_TEST(get(id, caller{}).failed_with(errc::unauthenticated));
}

BOOST_FIXTURE_TEST_CASE(only_admins_grant_and_revoke_roles, fixture) {
  start();
  auto id = new_id("usr");
  BOOST_REQUIRE(register_user(id, make_registration("ada@example.org")));
  auto org = new_id("org");
  auto session = new_child_id(new_id("exh"), "ses");
  role_grant rep{"org_rep", org};

  BOOST_TEST(ask<user_view>(sys, user(id), grant_atom::value, as_user(id), rep)
                 .failed_with(errc::forbidden));
  auto granted = ask<user_view>(sys, user(id), grant_atom::value, as_admin(), rep);
  BOOST_REQUIRE_MESSAGE(granted, detail_of(granted.error));
  BOOST_TEST(granted->rep_of == std::vector<std::string>{org});
  auto spoke =
      ask<user_view>(sys, user(id), grant_atom::value, as_admin(), role_grant{"speaker", session});
  BOOST_REQUIRE(spoke);
  BOOST_TEST(spoke->speaker_of == std::vector<std::string>{session});
  BOOST_TEST((spoke->roles == std::vector<std::string>{"visitor", "org_rep", "speaker"}));
  // A second grant of the same role changes nothing.
  auto again = ask<user_view>(sys, user(id), grant_atom::value, as_admin(), rep);
  BOOST_REQUIRE(again);
  BOOST_TEST(again->rep_of.size() == 1u);

  for (auto bad : {role_grant{"org_rep", ""}, role_grant{"org_rep", new_id("usr")},
                   role_grant{"admin", org}, role_grant{"king", ""}})
    BOOST_TEST(ask<user_view>(sys, user(id), grant_atom::value, as_admin(), bad)
                   .failed_with(errc::invalid_argument));

  BOOST_TEST(ask<user_view>(sys, user(id), revoke_atom::value, as_user(id), rep)
                 .failed_with(errc::forbidden));
  auto revoked = ask<user_view>(sys, user(id), revoke_atom::value, as_admin(), rep);
  BOOST_REQUIRE(revoked);
  BOOST_TEST(revoked->rep_of.empty());
  BOOST_TEST((revoked->roles == std::vector<std::string>{"visitor", "speaker"}));
  BOOST_TEST(ask<user_view>(sys, user(new_id("usr")), grant_atom::value, as_admin(), rep)
                 .failed_with(errc::not_found));
}

BOOST_FIXTURE_TEST_CASE(erase_removes_the_account_and_frees_the_email, fixture) {
  start();
  auto id = new_id("usr");
  BOOST_REQUIRE(register_user(id, make_registration("ada@example.org")));
  profile_patch p;
  p.has_address = true;
  p.address = "12 St James's Square";
  p.has_interests = true;
  p.interests = {"engines"};
  BOOST_REQUIRE(update(id, as_user(id), p));
  auto org = new_id("org");
  BOOST_REQUIRE(
      ask<user_view>(sys, user(id), grant_atom::value, as_admin(), role_grant{"org_rep", org}));

  auto before = ask<std::vector<personal_record>>(sys, user(id), export_atom::value, id);
  BOOST_REQUIRE(before);
  std::vector<std::string> categories;
  for (auto& r : *before) categories.push_back(r.category);
  BOOST_TEST(
      (categories == std::vector<std::string>{"account", "profile", "organizations_and_roles"}));
  auto has_field = [&](const std::string& cat, const std::string& name, const std::string& value) {
    for (auto& r : *before)
      if (r.category == cat)
        for (auto& [n, v] : r.fields)
          if (n == name && v == value) return true;
    return false;
  };
  BOOST_TEST(has_field("account", "email", "ada@example.org"));
  BOOST_TEST(has_field("account", "created_at", "2023-11-14T22:13:20.000Z"));
  BOOST_TEST(has_field("profile", "address", "12 St James's Square"));
  BOOST_TEST(has_field("profile", "interests", "engines"));
  BOOST_TEST(has_field("organizations_and_roles", "representative_of", org));
  BOOST_TEST(
      ask<std::vector<personal_record>>(sys, user(id), export_atom::value, new_id("usr"))->empty());

  BOOST_TEST(*ask<uint64_t>(sys, user(id), erase_atom::value, new_id("usr")) == 0u);
  auto erased = ask<uint64_t>(sys, user(id), erase_atom::value, id);
  BOOST_REQUIRE_MESSAGE(erased, detail_of(erased.error));
  BOOST_TEST(*erased > 0u);

  BOOST_TEST(ask<std::vector<personal_record>>(sys, user(id), export_atom::value, id)->empty());
  BOOST_TEST(get(id, as_admin()).failed_with(errc::not_found));
  BOOST_TEST(!*verify(id, "correct horse"));
  BOOST_TEST(!user_by_email("ada@example.org"));
  BOOST_TEST(*ask<uint64_t>(sys, user(id), erase_atom::value, id) == 0u);
  BOOST_TEST(register_user(id, make_registration("ada@example.org")).failed_with(errc::conflict));

  // Compacted: one snapshot saying "erased", no event left that holds the old data.
  auto history = eng->rt()->store->load(id);
  BOOST_REQUIRE(history && history->snapshot);
  BOOST_TEST(history->events.empty());
  auto rec =
      persistence::decode_record(history->snapshot->record, schema::RecordKind::USER_SNAPSHOT);
  BOOST_REQUIRE(rec);
  auto snap = (*rec)->root<schema::UserSnapshot>();
  BOOST_TEST(snap.getErased());
  BOOST_TEST(!snap.hasPasswordHash());
  BOOST_TEST(!snap.hasEmailIndex());
  BOOST_TEST(!snap.getProfile().hasEmail());
  BOOST_TEST(snap.getRoles().size() == 0u);

  // After a restart the erasure holds, and the email registers again under a new id.
  restart();
  BOOST_TEST(get(id, as_admin()).failed_with(errc::not_found));
  BOOST_TEST(ask<std::vector<personal_record>>(sys, user(id), export_atom::value, id)->empty());
  auto fresh = new_id("usr");
  auto again = register_user(fresh, make_registration("ada@example.org"));
  BOOST_REQUIRE_MESSAGE(again, detail_of(again.error));
  BOOST_TEST(user_by_email("ada@example.org").value_or("") == fresh);
}

BOOST_FIXTURE_TEST_CASE(state_is_restored_after_an_engine_restart, fixture) {
  start();
  auto id = new_id("usr");
  BOOST_REQUIRE(register_user(id, make_registration("ada@example.org")));
  profile_patch p;
  p.has_keywords = true;
  p.keywords = {"analysis", "notes"};
  p.has_linkedin_url = true;
  p.linkedin_url = "https://linkedin.com/in/ada";
  BOOST_REQUIRE(update(id, as_user(id), p));
  BOOST_REQUIRE(
      ask<user_view>(sys, user(id), grant_atom::value, as_admin(), role_grant{"admin", ""}));
  auto live = get(id, as_user(id));
  BOOST_REQUIRE(live);

  restart();
  auto restored = get(id, as_user(id));
  BOOST_REQUIRE_MESSAGE(restored, detail_of(restored.error));
  BOOST_TEST(same(*restored, *live));
  BOOST_TEST(*verify(id, "correct horse"));
  BOOST_TEST(user_by_email("ada@example.org").value_or("") == id);
  // A never-registered id is not found by resolve (nothing stored, nothing created).
  BOOST_TEST(directory(resolve_atom::value, new_id("usr")).failed_with(errc::not_found));
}

BOOST_FIXTURE_TEST_CASE(snapshot_plus_replay_equals_the_live_state, fixture) {
  opts.entities.snapshot_every = 3;
  start();
  auto id = new_id("usr");
  BOOST_REQUIRE(register_user(id, make_registration("ada@example.org")));  // seq 1
  profile_patch p;
  p.has_country = true;
  p.country = "UK";
  BOOST_REQUIRE(update(id, as_user(id), p));  // seq 2
  BOOST_REQUIRE(ask<user_view>(sys, user(id), grant_atom::value, as_admin(),
                               role_grant{"org_rep", new_id("org")}));  // seq 3: snapshot
  p.country = "France";
  p.has_interests = true;
  p.interests = {"looms"};
  BOOST_REQUIRE(update(id, as_user(id), p));  // seq 4
  BOOST_REQUIRE(*ask<bool>(sys, user(id), password_atom::value, as_user(id),
                           std::string{"correct horse"}, std::string{"new one"}));  // seq 5
  auto live = get(id, as_user(id));
  BOOST_REQUIRE(live);

  auto history = eng->rt()->store->load(id);
  BOOST_REQUIRE(history);
  BOOST_REQUIRE(history->snapshot);
  BOOST_TEST(history->snapshot->seq == 3u);
  BOOST_TEST(history->events.size() == 2u);

  restart();
  auto restored = get(id, as_user(id));
  BOOST_REQUIRE(restored);
  BOOST_TEST(same(*restored, *live));
  BOOST_TEST(*verify(id, "new one"));
}

BOOST_FIXTURE_TEST_CASE(passivation_and_reactivation_keep_the_state, fixture) {
  opts.entities.idle_passivate = std::chrono::milliseconds(50);
  start();
  auto id = new_id("usr");
  BOOST_REQUIRE(register_user(id, make_registration("ada@example.org")));
  auto live = get(id, as_user(id));
  BOOST_REQUIRE(live);

  bool gone = false;
  for (int i = 0; i < 400 && !gone; ++i) {
    auto resident = ask<std::vector<resident_info>>(sys, eng->directory(), list_atom::value,
                                                    std::string{"usr"}, uint32_t{100});
    BOOST_REQUIRE(resident);
    gone = resident->empty();
    if (!gone) std::this_thread::sleep_for(25ms);
  }
  BOOST_REQUIRE(gone);

  auto again = get(id, as_user(id));
  BOOST_REQUIRE_MESSAGE(again, detail_of(again.error));
  BOOST_TEST(same(*again, *live));
  auto stats = ask<directory_stats>(sys, eng->directory(), stats_atom::value);
  BOOST_REQUIRE(stats);
  BOOST_TEST(stats->passivations >= 1u);
}
