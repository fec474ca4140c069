@0xb7faf66a34ce3dff;
# A booth of an organization in an exhibition: content, visit counters, its chat room.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");
using Common = import "common.capnp";
using Common.pii;

struct BoothInfo {
  exhibitionId @0 :Text;
  organizationId @1 :Text;
  name @2 :Text;
  description @3 :Text;
  chatRoomId @4 :Text;
}

enum ContentKind {
  article @0;
  post @1;
  comment @2;
  datasheet @3;
  poster @4;
  video @5;
}

# Content published by the organization; authorId is the representative who posted it.
struct Content {
  contentId @0 :Text;
  kind @1 :ContentKind;
  title @2 :Text;
  body @3 :Text;
  fileId @4 :Text;
  authorId @5 :Text;
  createdAt @6 :Int64;
}

# One person's visits to the booth. Representatives see them only as aggregates,
# unless the visitor shared contact.
struct Visits {
  visitorId @0 :Text;
  count @1 :UInt32;
  firstAt @2 :Int64;
  lastAt @3 :Int64;
  sharedContact @4 :Bool;
}

struct Visited {
  visitorId @0 :Text;
  sharedContact @1 :Bool;
}

struct BoothEvent {
  at @0 :Int64;
  union {
    created @1 :BoothInfo;
    updated @2 :BoothInfo;
    contentAdded @3 :Content;
    contentRemoved @4 :Text;
    visited @5 :Visited;
    # Erasure: the person's visits are forgotten; the aggregate total stays.
    visitorErased @6 :Text;
    # Erasure of a representative: their content stays the organization's, authored by
    # "former-representative".
    authorErased @7 :Text;
  }
}

struct BoothSnapshot {
  exists @0 :Bool;
  createdAt @1 :Int64;
  info @2 :BoothInfo;
  contents @3 :List(Content);
  totalVisits @4 :UInt64;
  visits @5 :List(Visits);
  # Visitors forgotten by erasure, so that the count of unique visitors stays an aggregate.
  erasedVisitors @6 :UInt64;
}
