@0xc4f1a7e2b9d35a61;
# A privacy request (GDPR Art. 15/20 export, Art. 17 erasure) as the privacy actor keeps it in
# db::indexes under "privacy/req/<request id>". It names people by id only: the record is the
# receipt that remains after an erasure, so it holds no personal data.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");

enum PrivacyKind {
  export @0;
  erasure @1;
}

enum PrivacyStatus {
  pending @0;
  running @1;
  completed @2;
  failed @3;
}

struct PrivacyRequest {
  requestId @0 :Text;
  kind @1 :PrivacyKind;
  subjectId @2 :Text;
  # Who asked: the subject, or the administrator acting on their behalf.
  requestedBy @3 :Text;
  createdAt @4 :Int64;
  status @5 :PrivacyStatus;
  completedAt @6 :Int64;
  # Why a request failed: a holder id and the error, never personal data.
  failure @7 :Text;
  # Holders done so far and holders found, for progress.
  holdersDone @8 :UInt32;
  holdersTotal @9 :UInt32;
  # Export: when the archive was written and when it is deleted (retention).
  archiveBytes @10 :UInt64;
  archiveExpiresAt @11 :Int64;
  # Erasure: records each holder reported erased, summed.
  recordsErased @12 :UInt64;
}
