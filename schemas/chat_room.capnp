@0xfaeb302c1cd04f00;
# A chat room: a booth's public room or the direct room of two people; messages in one total order.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");
using Common = import "common.capnp";
using Common.pii;

enum RoomKind {
  booth @0;
  direct @1;
}

struct RoomInfo {
  kind @0 :RoomKind;
  # The booth of a booth room (its representatives may delete messages); empty for a direct room.
  boothId @1 :Text;
  organizationId @2 :Text;
  # The two members of a direct room; a booth room is open to every signed-in user.
  memberIds @3 :List(Text);
}

struct Message {
  # Position in the room's total order, from 1.
  number @0 :UInt64;
  messageId @1 :Text;
  authorId @2 :Text;
  text @3 :Data $pii("authorId");
  fileId @4 :Text;
  sentAt @5 :Int64;
  # The author's own idempotency key: a repeated one returns the first result.
  clientMsgId @6 :Text;
  deleted @7 :Bool;
  # Set when the author was erased: the room shows "a former participant".
  authorErased @8 :Bool;
}

struct Deletion {
  messageId @0 :Text;
  byId @1 :Text;
}

struct ChatRoomEvent {
  at @0 :Int64;
  union {
    created @1 :RoomInfo;
    posted @2 :Message;
    deleted @3 :Deletion;
    # Erasure of a person: every message they wrote is deleted and their id forgotten.
    authorErased @4 :Text;
    # Retention: every message sent before this time is deleted (text and file gone).
    purgedBefore @5 :Int64;
  }
}

struct ChatRoomSnapshot {
  exists @0 :Bool;
  createdAt @1 :Int64;
  info @2 :RoomInfo;
  messages @3 :List(Message);
}
