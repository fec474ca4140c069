@0xaa053b96d1619642;
# A person's agenda inside the exhibitions: talks they attend and meetings they take part in.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");
using Common = import "common.capnp";
using Common.pii;

struct SessionEntry {
  sessionId @0 :Text;
  exhibitionId @1 :Text;
  title @2 :Text;
  startsAt @3 :Int64;
  endsAt @4 :Int64;
}

enum MeetingStatus {
  pending @0;
  accepted @1;
  declined @2;
  cancelled @3;
}

# A meeting is held in both parties' agendas; the requester's agenda is its origin.
struct Meeting {
  meetingId @0 :Text;
  requesterId @1 :Text;
  inviteeId @2 :Text;
  boothId @3 :Text;
  startsAt @4 :Int64;
  endsAt @5 :Int64;
  note @6 :Data $pii("requesterId");
  status @7 :MeetingStatus;
  updatedAt @8 :Int64;
  # This agenda changed the meeting and the other party's agenda has not confirmed the same state
  # yet (a request not yet stored by the invitee, or an answer not yet applied there): the actor
  # sends it again when it is next activated.
  unsynced @9 :Bool;
}

struct AgendaEvent {
  at @0 :Int64;
  union {
    sessionAttended @1 :SessionEntry;
    sessionLeft @2 :Text;
    # The meeting as it now stands (created, or its status changed).
    meetingSet @3 :Meeting;
    erased @4 :Void;
  }
}

struct AgendaSnapshot {
  exists @0 :Bool;
  sessions @1 :List(SessionEntry);
  meetings @2 :List(Meeting);
}
