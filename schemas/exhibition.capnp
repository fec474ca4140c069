@0xa52f242b4dd87df0;
# An exhibition: its booths and its agenda of talks, with speakers' pictures and videos.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");
using Common = import "common.capnp";
using Common.pii;

struct ExhibitionInfo {
  title @0 :Text;
  description @1 :Text;
  startsAt @2 :Int64;
  endsAt @3 :Int64;
}

struct BoothRef {
  boothId @0 :Text;
  organizationId @1 :Text;
}

enum MediaKind {
  picture @0;
  video @1;
}

# A speaker's picture or video (seed: "speakers pictures and videos"): the file is theirs.
struct SpeakerMedia {
  speakerId @0 :Text;
  kind @1 :MediaKind;
  fileId @2 :Text;
  caption @3 :Data $pii("speakerId");
}

struct Session {
  sessionId @0 :Text;
  title @1 :Text;
  startsAt @2 :Int64;
  endsAt @3 :Int64;
  speakerIds @4 :List(Text);
  media @5 :List(SpeakerMedia);
}

struct MediaAdded {
  sessionId @0 :Text;
  media @1 :SpeakerMedia;
}

struct SpeakerRemoved {
  sessionId @0 :Text;
  speakerId @1 :Text;
}

struct ExhibitionEvent {
  at @0 :Int64;
  union {
    created @1 :ExhibitionInfo;
    updated @2 :ExhibitionInfo;
    boothAdded @3 :BoothRef;
    sessionAdded @4 :Session;
    mediaAdded @5 :MediaAdded;
    # Erasure of a speaker: their media and their place on the session go.
    speakerRemoved @6 :SpeakerRemoved;
  }
}

struct ExhibitionSnapshot {
  exists @0 :Bool;
  createdAt @1 :Int64;
  info @2 :ExhibitionInfo;
  booths @3 :List(BoothRef);
  sessions @4 :List(Session);
}
