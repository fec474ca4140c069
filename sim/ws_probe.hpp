#pragma once
// A probe member of a room: a WebSocket client that joins one room and parses every frame, so
// the run can check that every acknowledged message reached every member connected at the time,
// in the room's one order, once. It reads on its own thread; Beast stays in ws_probe.cpp.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sim/http_client.hpp"

namespace mext::sim {

class ws_probe {
 public:
  struct received {
    std::string message_id;
    uint64_t number = 0;
    std::chrono::steady_clock::time_point at;  // when the frame was read
  };

  // Connects with the bearer token and joins `room_id`; started() says whether the join was
  // confirmed, error() why not.
  ws_probe(endpoint ep, std::string token, std::string room_id);
  ~ws_probe();
  ws_probe(const ws_probe&) = delete;
  ws_probe& operator=(const ws_probe&) = delete;

  bool started() const { return started_; }
  std::string error() const;
  const std::string& room_id() const { return room_; }
  // Closes the connection and waits for the reader; then messages() is complete.
  void stop();
  // The message events received, in arrival order.
  std::vector<received> messages() const;
  size_t received_count() const;
  // Closed by the server (1008 when too slow, or an error) before stop().
  bool closed_early() const { return closed_early_; }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string room_;
  std::thread reader_;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> closed_early_{false};
  mutable std::mutex mutex_;
  std::vector<received> got_;
  std::string error_;
};

}  // namespace mext::sim
