@0x842a4c81d709ca04;
# A person's account and profile (seed 1.10.1: "user account information", "user profile").
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");
using Common = import "common.capnp";
using Common.pii;

enum Role {
  visitor @0;
  orgRep @1;
  speaker @2;
  admin @3;
}

# A role, with what it applies to: the organization of an org_rep, the session of a speaker.
struct RoleGrant {
  role @0 :Role;
  scope @1 :Text;
}

struct Profile {
  firstName @0 :Data $pii("self");
  surname @1 :Data $pii("self");
  email @2 :Data $pii("self");
  linkedinUrl @3 :Data $pii("self");
  photoFileId @4 :Text;
  country @5 :Data $pii("self");
  organizationId @6 :Text;
  roleInOrg @7 :Data $pii("self");
  interests @8 :List(Data) $pii("self");
  keywords @9 :List(Data) $pii("self");
  address @10 :Data $pii("self");
}

struct Registered {
  # Keyed hash of the normalized email: the only form of it an index ever holds.
  emailIndex @0 :Data;
  passwordHash @1 :Data $pii("self");
  profile @2 :Profile;
  roles @3 :List(RoleGrant);
}

struct UserEvent {
  at @0 :Int64;
  union {
    registered @1 :Registered;
    # The whole profile after the change; the email index changes with it.
    profileUpdated @2 :ProfileUpdate;
    passwordChanged @3 :Data $pii("self");
    roleGranted @4 :RoleGrant;
    roleRevoked @5 :RoleGrant;
    erased @6 :Void;
  }
}

struct ProfileUpdate {
  profile @0 :Profile;
  emailIndex @1 :Data;
}

struct UserSnapshot {
  exists @0 :Bool;
  erased @1 :Bool;
  createdAt @2 :Int64;
  emailIndex @3 :Data;
  passwordHash @4 :Data $pii("self");
  profile @5 :Profile;
  roles @6 :List(RoleGrant);
}
