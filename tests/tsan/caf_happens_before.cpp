// Linked into every test of the ThreadSanitizer tree only (tests/CMakeLists.txt).
//
// Debian's CAF 0.17.6 is not built with ThreadSanitizer: its mailbox and scheduler hand messages
// and actors between threads with atomics TSan cannot see, so every message would look like a
// race between its sender and its receiver. This file tells TSan about exactly those hand-offs,
// and nothing else, by interposing the exported CAF functions that make them: a message is
// released by the thread that enqueues it and acquired by the thread that handles it; an
// actor's state is released at the end of each activation and acquired at the start of the next;
// dropping a reference is an acquire and a release, as CAF's fetch_sub(acq_rel) is, so the
// thread that drops the last one sees everything done before the others dropped theirs.
// Destroying an actor acquires what its cleanup released, wherever the last reference dropped.
// Races in our own code (state shared outside messages, between I/O threads and actors) stay
// visible: no report is suppressed.

#include <dlfcn.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

#include <caf/actor_control_block.hpp>
#include <caf/blocking_actor.hpp>
#include <caf/detail/dynamic_message_data.hpp>
#include <caf/local_actor.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/ref_counted.hpp>
#include <caf/scheduled_actor.hpp>

extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);

namespace {

// The definition in libcaf_core that this file's definition of the same symbol hides.
template <class Fn>
Fn next_definition(const char* symbol) {
  void* p = ::dlsym(RTLD_NEXT, symbol);
  if (p == nullptr) {
    std::fprintf(stderr, "caf_happens_before: %s not found in libcaf_core\n", symbol);
    std::abort();
  }
  return reinterpret_cast<Fn>(p);
}

using caf::blocking_actor;
using caf::execution_unit;
using caf::mailbox_element;
using caf::mailbox_element_ptr;
using caf::scheduled_actor;

// Dropping a reference: an acquire and a release on the count, as CAF's fetch_sub(acq_rel) is.
void dropped_reference(void* count) {
  __tsan_acquire(count);
  __tsan_release(count);
}

}  // namespace

// The head of an actor's mailbox stack: CAF's enqueue pushes onto it inside libcaf_core, and an
// actor reading its own mailbox (mailbox().size(), inlined into our code) takes it with an atomic
// exchange TSan does see. fifo_inbox<P> is lifo_inbox<P> (whose only member is that atomic
// pointer) followed by a queue_type; the assertion holds the layout to CAF 0.17.6's.
static void* mailbox_head(scheduled_actor* self) {
  using inbox = scheduled_actor::mailbox_type;
  constexpr size_t align = alignof(inbox::queue_type);
  constexpr size_t queue_at = (sizeof(std::atomic<void*>) + align - 1) / align * align;
  static_assert(sizeof(inbox) == queue_at + sizeof(inbox::queue_type));
  return &self->mailbox();
}

void scheduled_actor::enqueue(mailbox_element_ptr ptr, execution_unit* eu) {
  using fn = void (*)(scheduled_actor*, mailbox_element_ptr, execution_unit*);
  static fn real = next_definition<fn>(
      "_ZN3caf15scheduled_actor7enqueueESt10unique_ptrINS_15mailbox_elementENS_6detail8disposerEEP"
      "NS_14execution_unitE");
  __tsan_release(ptr.get());
  __tsan_release(mailbox_head(this));
  real(this, std::move(ptr), eu);
}

void scheduled_actor::launch(execution_unit* eu, bool lazy, bool hide) {
  using fn = void (*)(scheduled_actor*, execution_unit*, bool, bool);
  static fn real = next_definition<fn>("_ZN3caf15scheduled_actor6launchEPNS_14execution_unitEbb");
  // The spawning thread built the actor: its first activation runs elsewhere.
  __tsan_release(this);
  real(this, eu, lazy, hide);
}

bool scheduled_actor::activate(execution_unit* ctx) {
  using fn = bool (*)(scheduled_actor*, execution_unit*);
  static fn real = next_definition<fn>("_ZN3caf15scheduled_actor8activateEPNS_14execution_unitE");
  __tsan_acquire(this);
  bool out = real(this, ctx);
  __tsan_release(this);
  return out;
}

scheduled_actor::activation_result scheduled_actor::activate(execution_unit* ctx,
                                                             mailbox_element& x) {
  using fn = activation_result (*)(scheduled_actor*, execution_unit*, mailbox_element&);
  static fn real = next_definition<fn>(
      "_ZN3caf15scheduled_actor8activateEPNS_14execution_unitERNS_15mailbox_elementE");
  __tsan_acquire(&x);
  __tsan_acquire(this);
  auto out = real(this, ctx, x);
  __tsan_release(this);
  return out;
}

scheduled_actor::activation_result scheduled_actor::reactivate(mailbox_element& x) {
  using fn = activation_result (*)(scheduled_actor*, mailbox_element&);
  static fn real =
      next_definition<fn>("_ZN3caf15scheduled_actor10reactivateERNS_15mailbox_elementE");
  __tsan_acquire(&x);
  __tsan_acquire(this);
  auto out = real(this, x);
  __tsan_release(this);
  return out;
}

void blocking_actor::enqueue(mailbox_element_ptr ptr, execution_unit* eu) {
  using fn = void (*)(blocking_actor*, mailbox_element_ptr, execution_unit*);
  static fn real = next_definition<fn>(
      "_ZN3caf14blocking_actor7enqueueESt10unique_ptrINS_15mailbox_elementENS_6detail8disposerEEPN"
      "S_14execution_unitE");
  __tsan_release(ptr.get());
  __tsan_release(this);
  real(this, std::move(ptr), eu);
}

// A blocking receive matches what arrived after await_data returns, partly in inlined code.
void blocking_actor::await_data() {
  using fn = void (*)(blocking_actor*);
  static fn real = next_definition<fn>("_ZN3caf14blocking_actor10await_dataEv");
  real(this);
  __tsan_acquire(this);
}

bool blocking_actor::await_data(timeout_type timeout) {
  using fn = bool (*)(blocking_actor*, timeout_type);
  static fn real = next_definition<fn>(
      "_ZN3caf14blocking_actor10await_dataENSt6chrono10time_pointINS1_3_V212system_clockENS1_"
      "8durati"
      "onIlSt5ratioILl1ELl1000000000EEEEEE");
  bool out = real(this, timeout);
  __tsan_acquire(this);
  return out;
}

mailbox_element_ptr blocking_actor::dequeue() {
  using fn = mailbox_element_ptr (*)(blocking_actor*);
  static fn real = next_definition<fn>("_ZN3caf14blocking_actor7dequeueEv");
  auto ptr = real(this);
  if (ptr) __tsan_acquire(ptr.get());
  return ptr;
}

void caf::intrusive_ptr_release(actor_control_block* x) {
  using fn = void (*)(actor_control_block*);
  static fn real = next_definition<fn>("_ZN3caf21intrusive_ptr_releaseEPNS_19actor_control_blockE");
  dropped_reference(x);
  real(x);
}

void caf::intrusive_ptr_release_weak(actor_control_block* x) {
  using fn = void (*)(actor_control_block*);
  static fn real =
      next_definition<fn>("_ZN3caf26intrusive_ptr_release_weakEPNS_19actor_control_blockE");
  dropped_reference(&x->weak_refs);
  real(x);
}

void caf::detail::intrusive_ptr_release(const dynamic_message_data* x) {
  using fn = void (*)(const dynamic_message_data*);
  static fn real =
      next_definition<fn>("_ZN3caf6detail21intrusive_ptr_releaseEPKNS0_20dynamic_message_dataE");
  auto* p = const_cast<dynamic_message_data*>(x);
  dropped_reference(p);
  real(x);
}

void caf::ref_counted::deref() const noexcept {
  using fn = void (*)(const ref_counted*);
  static fn real = next_definition<fn>("_ZNK3caf11ref_counted5derefEv");
  auto* p = const_cast<ref_counted*>(this);
  dropped_reference(p);
  real(this);
}

// The scheduler drops its reference to a job through the resumable interface; inside libcaf_core
// that decrement does not pass intrusive_ptr_release above, so it is annotated here.
void scheduled_actor::intrusive_ptr_release_impl() {
  using fn = void (*)(scheduled_actor*);
  static fn real = next_definition<fn>("_ZN3caf15scheduled_actor26intrusive_ptr_release_implEv");
  auto* c = caf::actor_control_block::from(this);
  dropped_reference(c);
  real(this);
}

// The same entered through the resumable base (its vtable slot names this thunk, which adjusts
// `this` by 160 bytes: the name says so).
extern "C" void mext_tsan_resumable_release(void* resumable_part) __asm__(
    "_ZThn160_N3caf15scheduled_actor26intrusive_ptr_release_implEv");
extern "C" void mext_tsan_resumable_release(void* resumable_part) {
  using fn = void (*)(void*);
  static fn real =
      next_definition<fn>("_ZThn160_N3caf15scheduled_actor26intrusive_ptr_release_implEv");
  auto* self = reinterpret_cast<scheduled_actor*>(static_cast<char*>(resumable_part) - 160);
  auto* c = caf::actor_control_block::from(self);
  dropped_reference(c);
  real(resumable_part);
}

// A message sent as a whole (a response, a forwarded message) shares its data with the element
// CAF wraps it in; the receiver may free that data without an activation (a response nobody
// awaits any more), so the data itself is released here and acquired when its last reference
// drops (ref_counted::deref above).
caf::mailbox_element_ptr caf::make_mailbox_element(strong_actor_ptr sender, message_id id,
                                                   mailbox_element::forwarding_stack stages,
                                                   message msg) {
  using fn = mailbox_element_ptr (*)(strong_actor_ptr, message_id,
                                     mailbox_element::forwarding_stack, message);
  static fn real = next_definition<fn>(
      "_ZN3caf20make_mailbox_elementENS_13intrusive_ptrINS_19actor_control_blockEEENS_10message_"
      "idESt6vectorIS2_SaIS2_EENS_7messageE");
  if (auto* data = msg.vals().get())
    __tsan_release(const_cast<void*>(static_cast<const void*>(data)));
  return real(std::move(sender), id, std::move(stages), std::move(msg));
}

// A terminating actor destroys what is left in its mailbox without activating it: everything
// pushed onto the mailbox so far is acquired first.
bool scheduled_actor::cleanup(caf::error&& fail_state, execution_unit* host) {
  using fn = bool (*)(scheduled_actor*, caf::error&&, execution_unit*);
  static fn real =
      next_definition<fn>("_ZN3caf15scheduled_actor7cleanupEONS_5errorEPNS_14execution_unitE");
  __tsan_acquire(mailbox_head(this));
  __tsan_acquire(this);
  bool out = real(this, std::move(fail_state), host);
  // The thread that drops the last reference destroys what cleanup touched; libcaf_core drops
  // the terminated actor's own reference without passing the annotated release.
  __tsan_release(caf::actor_control_block::from(this));
  __tsan_release(this);
  return out;
}

// The destruction itself: actor_storage<T>::data_dtor calls on_destroy and then ~T in whichever
// thread dropped the last strong reference, often inside libcaf_core where the drop passes none
// of the releases above. Acquiring here orders ~T after the cleanup that released both.
void caf::local_actor::on_destroy() {
  using fn = void (*)(local_actor*);
  static fn real = next_definition<fn>("_ZN3caf11local_actor10on_destroyEv");
  __tsan_acquire(caf::actor_control_block::from(this));
  __tsan_acquire(this);
  real(this);
}
