#pragma once
// A small synchronous HTTP/1.1 client for the test suites, over TLS (default) or plain TCP.
// Beast lives in the .cpp only: including it costs ~20 s per translation unit.
//
// Certificates are not verified: test servers use freshly made self-signed pairs, and what the
// suites prove is the API, not the PKI (http_server_test checks the certificate itself).
//
//   mext::test::https_client c{port};
//   auto r = c.post_json("/api/v1/auth/login", {{"email", e}, {"password", p}});
//   auto token = r.json().at("token").get<std::string>();
//   auto me = c.get("/api/v1/me", token);

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace mext::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_result {
  int status = 0;
  std::string body;
  header_list headers;  // as the server sent them, in order

  // The first header of that name (case-insensitive), or "" when absent.
  std::string header(std::string_view name) const;
  // Every header of that name (Set-Cookie may come more than once).
  std::vector<std::string> all_headers(std::string_view name) const;
  // The body as JSON; a discarded value (is_discarded()) when it is not JSON.
  nlohmann::json json() const;
};

class https_client {
 public:
  // Connects lazily to 127.0.0.1:port on the first request.
  explicit https_client(uint16_t port, bool tls = true);
  https_client(https_client&&) noexcept;
  https_client& operator=(https_client&&) noexcept;
  ~https_client();

  // One request on the kept-alive connection; a connection the server closed in between is
  // reopened and the request sent again once. Host is set; Content-Type defaults to
  // application/json when there is a body. Throws std::runtime_error when no answer comes (after
  // a generous deadline, so a broken server fails a test instead of hanging it).
  http_result request(std::string method, std::string target, std::string body = {},
                      header_list headers = {});

  // With a non-empty token, these send Authorization: Bearer <token>.
  http_result get(std::string target, std::string token = {}, header_list headers = {});
  http_result post_json(std::string target, const nlohmann::json& body, std::string token = {},
                        header_list headers = {});
  http_result patch_json(std::string target, const nlohmann::json& body, std::string token = {},
                         header_list headers = {});
  // POST without a body.
  http_result post(std::string target, std::string token = {}, header_list headers = {});
  http_result del(std::string target, std::string token = {}, header_list headers = {});

  // Closes the connection; the next request opens a new one.
  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Adds "Authorization: Bearer <token>" to headers when token is not empty.
header_list with_bearer(header_list headers, const std::string& token);

}  // namespace mext::test
