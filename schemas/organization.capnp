@0xacf11a871b9d33e6;
# An organization: public administrative information (seed: collected "in an automated way"),
# its representatives, and content published by third parties that mentions it.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");
using Common = import "common.capnp";
using Common.pii;

struct OrganizationInfo {
  name @0 :Text;
  country @1 :Text;
  website @2 :Text;
  description @3 :Text;
}

# Third-party content mentioning the organization; its author is a person.
struct Mention {
  mentionId @0 :Text;
  authorId @1 :Text;
  sourceUrl @2 :Text;
  text @3 :Data $pii("authorId");
  at @4 :Int64;
}

struct OrganizationEvent {
  at @0 :Int64;
  union {
    created @1 :OrganizationInfo;
    updated @2 :OrganizationInfo;
    representativeAdded @3 :Text;
    representativeRemoved @4 :Text;
    mentionAdded @5 :Mention;
    mentionRemoved @6 :Text;
  }
}

struct OrganizationSnapshot {
  exists @0 :Bool;
  createdAt @1 :Int64;
  info @2 :OrganizationInfo;
  representatives @3 :List(Text);
  mentions @4 :List(Mention);
}
