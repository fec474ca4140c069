@0xe8a35c0d71b4f296;
# One entry of the audit log (actors/audit_log.hpp): who read or changed whose personal data,
# when, what and why. Append-only, in db::indexes under "audit_log/<big-endian ms><random hex>".
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");
using Common = import "common.capnp";
using Common.pii;

struct AuditEntry {
  at @0 :Int64;
  # The administrator (or the person, for their own privacy requests) who acted.
  who @1 :Text;
  # Whose personal data: user ids.
  whose @2 :List(Text);
  # "reveal", "privacy_request", "privacy_step", "rectification", "archive_download", ...
  action @3 :Text;
  # The entity or request acted on.
  target @4 :Text;
  # The reason an administrator gave, sealed for the first person in `whose` (it is free text).
  why @5 :Data $pii("whose");
  requestId @6 :Text;
  # What happened, in ids and counts (a step's name, the fields revealed).
  detail @7 :Text;
}
