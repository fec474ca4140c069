#pragma once
// One keep-alive HTTPS (or plain HTTP) connection of the simulator, blocking: each worker thread
// owns one. Beast stays inside http_client.cpp.

#include <chrono>
#include <memory>
#include <string>

namespace mext::sim {

struct http_reply {
  int status = 0;  // 0: no answer (connection error or time-out; see error)
  std::string body;
  std::string error;
};

struct endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 8443;
  bool tls = true;
  // A source address to bind (127.0.0.x spreads many sockets over several addresses); empty:
  // the system's choice.
  std::string source;
};

class http_client {
 public:
  explicit http_client(endpoint ep, std::chrono::seconds timeout = std::chrono::seconds(30));
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Sends the request (JSON body when not empty) with the bearer token when not empty; on a
  // connection the server closed, reconnects and sends it once more.
  http_reply request(const std::string& method, const std::string& target,
                     const std::string& body = {}, const std::string& token = {});

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mext::sim
