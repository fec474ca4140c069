@0xa06100b2ea7aefd7;
# Conventions shared by every record format of the engine.
#
# Times are Int64 milliseconds since the Unix epoch, UTC.
# Ids are opaque Text; the prefix before the first '_' names the entity kind (see actors/ids.hpp).
#
# A personal field is typed Data and holds a sealed envelope (persistence/field_sealer.hpp):
# one version byte, then the sealed value. The field carries $pii naming whose data it is:
#   "self"       the person whose entity this is (user, agenda, connection log)
#   "<field>"    the person whose id is in the named Text field of the same struct (e.g. "authorId")
# Sealing is per person so that destroying one person's key erases that person everywhere,
# without touching this format.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");

annotation pii(field) :Text;

# One stored record as it reaches LMDB: a tag naming the format, then the Cap'n Proto message.
enum RecordKind {
  userEvent @0;
  userSnapshot @1;
  organizationEvent @2;
  organizationSnapshot @3;
  exhibitionEvent @4;
  exhibitionSnapshot @5;
  boothEvent @6;
  boothSnapshot @7;
  chatRoomEvent @8;
  chatRoomSnapshot @9;
  agendaEvent @10;
  agendaSnapshot @11;
  connectionLogEvent @12;
  connectionLogSnapshot @13;
  privacyRequest @14;
  auditEntry @15;
  breach @16;
  breachNotice @17;
}
