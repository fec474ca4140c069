// The ThreadSanitizer tree's proof that it still sees races between actors: two actors write one
// plain counter with nothing ordering them. ctest passes only when TSan reports the race
// (tests/CMakeLists.txt), so caf_happens_before.cpp cannot silently hide races in actor code.

#include <cstdio>

#include <caf/all.hpp>

namespace {

int shared_counter = 0;  // deliberately unprotected

caf::behavior bump(caf::event_based_actor*) {
  return {[](int n) {
    for (int i = 0; i < n; ++i) ++shared_counter;
    return n;
  }};
}

}  // namespace

int main() {
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));
  caf::actor_system sys{cfg};
  // Detached: each on a thread of its own, so the two never share a worker (which would order
  // them by program order and hide the race).
  auto a = sys.spawn<caf::detached>(bump);
  auto b = sys.spawn<caf::detached>(bump);
  caf::scoped_actor self{sys};
  for (int round = 0; round < 100; ++round) {
    self->send(a, 1000);
    self->send(b, 1000);
    self->receive([](int) {});
    self->receive([](int) {});
  }
  std::printf("counter %d\n", shared_counter);
  return 0;
}
