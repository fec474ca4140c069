#pragma once
// The HTTP/1.1 edge: requests, responses, the router and the server that runs them.
// Beast and Asio stay inside server.cpp (pimpl): including them costs ~20 s per translation unit.
//
// A handler runs on an I/O thread and must not block it: it starts the work (for example, a
// CAF request) and answers later, from any thread, through its respond_fn.
//
//   auto r = std::make_shared<mext::http::router>();
//   r->add("GET", "/api/v1/booths/{id}", [](request& req, respond_fn respond) {
//     respond(json(200, "{\"booth_id\":\"" + req.params["id"] + "\"}"));
//   });

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/error.hpp>

namespace mext::http {

struct request {
  std::string method;                                        // as sent: "GET", "POST", ...
  std::string target;                                        // path and query as sent
  std::string path;                                          // target before '?', not decoded
  std::string query;                                         // target after '?', not decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string remote_ip;   // for rate limits and connection records; never logged
  std::string request_id;  // echoed as X-Request-Id
  std::map<std::string, std::string> params;  // path parameters, percent-decoded

  // First header of that name (case-insensitive), or nothing.
  std::optional<std::string> header(std::string_view name) const;
  // First query parameter of that name, percent-decoded ('+' is a space), or nothing.
  std::optional<std::string> query_param(std::string_view name) const;
};

struct response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Extra headers; one named like a default header (Cache-Control, ...) replaces the default.
  std::vector<std::pair<std::string, std::string>> headers;
};

response json(int status, std::string body);
// RFC 9457 problem details: {"type":"about:blank","title","status","detail"}.
response problem(int status, std::string title, std::string detail);
// The problem for an engine error: status from mext::http_status, detail from mext::detail_of.
response from_error(const caf::error& err);
// The standard reason phrase of a status ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status);

// ---- WebSocket ----

// A connection upgraded to WebSocket, as the application sees it. Every member is thread-safe.
class ws_connection {
 public:
  virtual ~ws_connection() = default;
  // Queues one text frame. The bytes may be shared by many connections (a room's fan-out
  // serialises a message once). False when the connection is closing or closed; a send that
  // would pass the queue's limits (ws_settings) closes the connection with 1008 and frees it.
  virtual bool send(std::shared_ptr<const std::string> text) = 0;
  // Queues several frames at once, in order (one lock, one wake-up of the writer); false like
  // send, and the queue's limits apply to all of them together.
  virtual bool send_many(const std::vector<std::shared_ptr<const std::string>>& texts) = 0;
  // Sends a close frame with this code after what is queued, then ends the connection.
  virtual void close(uint16_t code, std::string reason) = 0;
  // Unique among the server's connections.
  virtual uint64_t id() const = 0;
};

// The application's side of an upgraded connection. Calls come one at a time, in order.
class ws_peer {
 public:
  virtual ~ws_peer() = default;
  // One complete text message (valid UTF-8, at most ws_settings::max_message_bytes).
  virtual void on_text(std::string text) = 0;
  // The connection ended (either side, or the server stopping); nothing follows.
  virtual void on_closed() = 0;
};

// Called once the handshake completed, with the upgrade request (headers, remote address).
using ws_open_fn =
    std::function<std::shared_ptr<ws_peer>(const request&, std::shared_ptr<ws_connection>)>;

struct ws_settings {
  // Larger messages close the connection with 1009.
  std::size_t max_message_bytes = 16 * 1024;
  // A connection's send queue: more frames or bytes waiting close it with 1008.
  std::size_t queue_max_messages = 4096;
  std::size_t queue_max_bytes = std::size_t{1} << 20;
  // Nothing received for this long ends the connection; a ping goes out at half of it.
  std::chrono::seconds idle_timeout{60};
  // The closing handshake (and a stalled send) gets this long before the socket is cut.
  std::chrono::seconds close_timeout{5};
};

// Answers the request. Call it once, from any thread; later calls, and calls after the
// connection or the server has closed, do nothing. Dropping it unanswered answers 500.
using respond_fn = std::function<void(response)>;
// The request stays valid until respond is called; copy what an asynchronous answer needs.
using handler = std::function<void(request&, respond_fn)>;

// Routes by method and path pattern. Fill it before server::start; it is read-only afterwards,
// so the I/O threads read it without locking.
class router {
 public:
  struct match {
    const handler* target = nullptr;  // null when nothing matched
    std::string pattern;              // the matched pattern, for logs
    std::map<std::string, std::string> params;
    int status = 404;  // 404: unknown path; 405: known path, other method (see allow)
    std::string allow;
    std::size_t max_body_bytes = 0;  // the route's own body limit; 0: the server's
    const ws_open_fn* ws = nullptr;  // set for a WebSocket endpoint
  };

  // `pattern` is a path of literal segments and `{name}` segments, such as
  // /api/v1/booths/{id}/content. Throws std::invalid_argument on a malformed or duplicate route:
  // that is a programming error found at startup.
  // `max_body_bytes` overrides the server's body limit for this route (0 keeps it): uploads may be
  // larger than JSON bodies, which stay small.
  void add(std::string method, std::string pattern, handler h, std::size_t max_body_bytes = 0);

  // A WebSocket endpoint: a GET route whose handler decides on the upgrade (rate limits,
  // checks) and answers status 101 to accept it, after which the server completes the handshake
  // and hands the connection to `open`. Requests that are not upgrades get 426 from the server.
  void add_websocket(std::string pattern, handler h, ws_open_fn open);

  // The body limit of a route added with max_body_bytes (0 for the server's).
  std::size_t body_limit(std::string_view method, std::string_view pattern) const;
  // The largest body limit any route has, at least `fallback`.
  std::size_t largest_body_limit(std::size_t fallback) const;

  // Every route as (method, pattern), in the order added.
  std::vector<std::pair<std::string, std::string>> routes() const;

  // The route for method and path; literal segments win over parameters.
  match find(std::string_view method, std::string_view path) const;

 private:
  struct segment {
    std::string text;
    bool param = false;
  };
  struct route {
    std::string method;
    std::string pattern;
    std::vector<segment> segments;
    handler h;
    std::size_t max_body_bytes = 0;
    std::shared_ptr<ws_open_fn> ws;  // shared: route copies keep the same endpoint
  };
  std::vector<route> routes_;
};

struct server_settings {
  std::string host = "127.0.0.1";
  uint16_t port = 8443;  // 0 picks a free port; see server::port()
  bool plain_http = false;
  std::filesystem::path tls_cert, tls_key;   // PEM files; required unless plain_http
  unsigned io_threads = 0;                   // 0 = hardware cores
  std::size_t max_body_bytes = 1024 * 1024;  // for routes without a limit of their own
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds read_timeout{15}, idle_timeout{60};
  // Connections open at once (HTTP and WebSocket); one more is closed as soon as it is accepted,
  // so that a flood of them cannot take the descriptors the store and the files need.
  std::size_t max_connections = 19000;
  // Connections open at once from one address (IPv6: one /64); 0 = no cap. Peers inside
  // `per_address_exempt` (addresses or CIDR blocks: loopback, trusted proxies) are not capped,
  // since many clients share their address.
  std::size_t max_connections_per_address = 0;
  std::vector<std::string> per_address_exempt;
  ws_settings ws;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(std::string_view host);

class server {
 public:
  server(server_settings settings, std::shared_ptr<router> routes);
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server();

  // Binds, listens and starts the I/O threads. Errors (mext::errc::invalid_argument for a bad
  // address, a failed bind, TLS files that do not load, or plain HTTP off loopback).
  caf::error start();
  // The bound port, once started.
  uint16_t port() const;
  // Connections accepted and not yet closed (HTTP and, later, upgraded ones).
  std::size_t open_connections() const;
  // Connections closed on arrival because max_connections were open.
  uint64_t refused_connections() const;
  // Connections closed on arrival because their address had max_connections_per_address open.
  uint64_t refused_per_address_connections() const;
  // Stops accepting, closes every connection and joins the I/O threads. Idempotent; must not be
  // called from a handler.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace mext::http
