#pragma once
// Receiving members at scale: one WebSocket per simulated visitor, all on a few I/O threads.
// Each joins one room and only counts its message frames (a look at the event name, no parse),
// so that the generator is not the bottleneck; the run then checks that each member counted as
// many messages as its room acknowledged while it was connected. Beast stays in ws_members.cpp.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/http_client.hpp"

namespace mext::sim {

class ws_members {
 public:
  // `source_addresses` > 1 spreads the sockets over 127.0.0.1..N (loopback targets only).
  ws_members(endpoint ep, uint32_t source_addresses, uint32_t io_threads);
  ~ws_members();
  ws_members(const ws_members&) = delete;
  ws_members& operator=(const ws_members&) = delete;

  // Before start(): one member with this session token in this room.
  void add(std::string token, std::string room);
  // Connects every member, at most `parallel` handshakes at once, and waits until each has
  // joined its room or failed (or `timeout` passed).
  void start(uint32_t parallel, std::chrono::seconds timeout);
  // Closes every connection and stops the I/O threads.
  void stop();

  size_t size() const;
  uint32_t joined() const;
  uint32_t failed() const;
  // Members the server closed (or that failed reading) before stop().
  uint32_t closed_early() const;
  std::string first_error() const;
  struct count {
    std::string room;
    uint64_t frames = 0;  // message frames counted
    bool closed = false;  // closed by the server (or failed reading) before stop()
  };
  // Per member, in add() order.
  std::vector<count> counts() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mext::sim
