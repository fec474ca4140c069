@0xb7d29e4c16a08f53;
# The breach register (GDPR Art. 33 and 34), kept by the breach actor in db::indexes:
#   "breach/<breach id>"                  Breach
#   "outbox/<breach id>\0<user id>"       BreachNotice, one per person concerned, until delivered
# Ids, times, counts and the administrator's account of the breach; a notice holds no address:
# the person's email is read from their account when the notice is sent.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");

struct Breach {
  breachId @0 :Text;
  recordedBy @1 :Text;
  recordedAt @2 :Int64;
  detectedAt @3 :Int64;
  # Art. 33(3)(a): the nature of the breach, in the administrator's words.
  description @4 :Text;
  categories @5 :List(Text);
  userIds @6 :List(Text);
  # Art. 33(3)(c) and (d).
  likelyConsequences @7 :Text;
  measuresTaken @8 :Text;
  # Art. 33(1): detected_at + 72 h.
  notifyAuthorityBy @9 :Int64;
  # When the authority was notified (0: not yet).
  authorityNotifiedAt @10 :Int64;
}

enum NoticeStatus {
  queued @0;
  sent @1;
  failed @2;
  # The person was erased since: there is nobody left to tell.
  skipped @3;
}

struct BreachNotice {
  breachId @0 :Text;
  userId @1 :Text;
  status @2 :NoticeStatus;
  attempts @3 :UInt32;
  lastAttemptAt @4 :Int64;
  sentAt @5 :Int64;
  # The sender's error, never the address.
  lastError @6 :Text;
}
