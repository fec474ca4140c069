@0xdd1ed76007eac813;
# A person's connection data (seed: "time, IP address, ISP, proxys, referrer, device type and
# Operating System, resolution"). Kept for a retention period, then purged.
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mext::schema");
using Common = import "common.capnp";
using Common.pii;

enum ConnectionKind {
  login @0;
  websocket @1;
}

struct Connection {
  at @0 :Int64;
  kind @1 :ConnectionKind;
  ip @2 :Data $pii("self");
  isp @3 :Data $pii("self");
  proxies @4 :List(Data) $pii("self");
  referrer @5 :Data $pii("self");
  deviceType @6 :Data $pii("self");
  os @7 :Data $pii("self");
  screen @8 :Data $pii("self");
}

struct ConnectionLogEvent {
  at @0 :Int64;
  union {
    recorded @1 :Connection;
    # Retention: every entry older than this time is gone.
    purgedBefore @2 :Int64;
    erased @3 :Void;
  }
}

struct ConnectionLogSnapshot {
  exists @0 :Bool;
  entries @1 :List(Connection);
}
