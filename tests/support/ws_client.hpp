#pragma once
// A small WebSocket client for the test suites: TLS (default) or plain, GET /api/v1/ws on
// 127.0.0.1, text frames of JSON. Every wait has a deadline, so a broken server fails a test
// instead of hanging it. Beast lives in the .cpp only.
//
//   mext::test::ws_client c{port};
//   c.send_json({{"op", "auth"}, {"token", token}});
//   BOOST_TEST(c.next_ev("ready").at("user_id") == uid);

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/support/https_client.hpp"

namespace mext::test {

class ws_client {
 public:
  struct options {
    bool tls = true;
    header_list headers;  // sent with the upgrade request (Cookie, Authorization, ...)
    std::string target = "/api/v1/ws";
    // SO_RCVBUF of the socket, when set: a small one lets a never-reading client stall sooner.
    std::optional<int> receive_buffer;
  };

  // Connects and completes the handshake; throws std::runtime_error if the server refuses.
  explicit ws_client(uint16_t port);
  ws_client(uint16_t port, options opts);
  ws_client(ws_client&&) noexcept;
  ws_client& operator=(ws_client&&) noexcept;
  ~ws_client();

  void send_text(const std::string& text);
  void send_binary(const std::string& bytes);
  void send_json(const nlohmann::json& frame);

  // The next text frame, parsed; throws on timeout, on a close (see closed()) or a non-JSON frame.
  nlohmann::json next(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The next frame whose "ev" is `ev`, skipping others (presence, ...); throws like next().
  nlohmann::json next_ev(const std::string& ev,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until the server closes; its close code (1006 when the connection dropped without a
  // close frame). Throws on timeout.
  int wait_close(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Signs in with a first auth frame and waits for "ready"; returns its user_id.
  std::string auth(const std::string& token);
  // Joins and waits for "joined" (throws on an error event for the room).
  void join(const std::string& room_id, const std::string& after_message_id = {});

  bool closed() const;
  // The close code once closed (1006 for a drop without a close frame).
  int close_code() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mext::test
