#include "tests/support/https_client.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace mext::test {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

// Only there so that a broken server fails the test instead of hanging it.
constexpr std::chrono::seconds io_deadline{30};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string http_result::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

std::vector<std::string> http_result::all_headers(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) out.push_back(v);
  return out;
}

nlohmann::json http_result::json() const {
  return nlohmann::json::parse(body, nullptr, false);
}

header_list with_bearer(header_list headers, const std::string& token) {
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return headers;
}

struct https_client::impl {
  uint16_t port;
  bool tls;
  net::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  std::optional<beast::tcp_stream> plain_stream;
  beast::flat_buffer buffer;

  impl(uint16_t p, bool t) : port(p), tls(t) { ctx.set_verify_mode(ssl::verify_none); }

  bool connected() const { return tls ? tls_stream.has_value() : plain_stream.has_value(); }

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls_stream) : *plain_stream; }

  void connect() {
    buffer.clear();
    tcp::endpoint ep{net::ip::address_v4::loopback(), port};
    if (tls) {
      tls_stream.emplace(ioc, ctx);
      lowest().expires_after(io_deadline);
      lowest().connect(ep);
      tls_stream->handshake(ssl::stream_base::client);
    } else {
      plain_stream.emplace(ioc);
      lowest().expires_after(io_deadline);
      lowest().connect(ep);
    }
  }

  void close() {
    if (!connected()) return;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
    tls_stream.reset();
    plain_stream.reset();
    buffer.clear();
  }

  // One exchange on the current connection; false when the connection failed on the way.
  bool exchange(const bhttp::request<bhttp::string_body>& req,
                bhttp::response<bhttp::string_body>& res, beast::error_code& ec) {
    bhttp::response_parser<bhttp::string_body> parser;
    // Test bodies (exports, bad-input echoes) may be large; the server's limits are the subject.
    parser.body_limit(std::uint64_t{256} << 20);
    parser.header_limit(1 << 20);
    lowest().expires_after(io_deadline);
    if (tls)
      bhttp::write(*tls_stream, req, ec);
    else
      bhttp::write(*plain_stream, req, ec);
    if (ec) return false;
    lowest().expires_after(io_deadline);
    if (tls)
      bhttp::read(*tls_stream, buffer, parser, ec);
    else
      bhttp::read(*plain_stream, buffer, parser, ec);
    if (ec) return false;
    res = parser.release();
    return true;
  }
};

https_client::https_client(uint16_t port, bool tls) : impl_(std::make_unique<impl>(port, tls)) {}
https_client::https_client(https_client&&) noexcept = default;
https_client& https_client::operator=(https_client&&) noexcept = default;
https_client::~https_client() {
  if (impl_) impl_->close();
}

void https_client::close() {
  impl_->close();
}

http_result https_client::request(std::string method, std::string target, std::string body,
                                  header_list headers) {
  auto verb = bhttp::string_to_verb(method);
  bhttp::request<bhttp::string_body> req;
  if (verb == bhttp::verb::unknown)
    req.method_string(method);
  else
    req.method(verb);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, "127.0.0.1");
  bool has_content_type = false;
  for (const auto& [k, v] : headers) {
    if (iequals(k, "Content-Type")) has_content_type = true;
    req.insert(k, v);
  }
  if (!body.empty() && !has_content_type) req.set(bhttp::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();

  bhttp::response<bhttp::string_body> res;
  beast::error_code ec;
  bool reused = impl_->connected();
  if (!reused) impl_->connect();
  if (!impl_->exchange(req, res, ec)) {
    // A kept-alive connection the server closed meanwhile: open a new one and send again.
    impl_->close();
    if (!reused)
      throw std::runtime_error("https_client: " + method + " " + target + ": " + ec.message());
    impl_->connect();
    ec = {};
    if (!impl_->exchange(req, res, ec)) {
      impl_->close();
      throw std::runtime_error("https_client: " + method + " " + target + ": " + ec.message());
    }
  }
  http_result out;
  out.status = static_cast<int>(res.result_int());
  for (const auto& f : res) out.headers.emplace_back(f.name_string(), f.value());
  out.body = std::move(res.body());
  if (!res.keep_alive()) impl_->close();
  return out;
}

http_result https_client::get(std::string target, std::string token, header_list headers) {
  return request("GET", std::move(target), {}, with_bearer(std::move(headers), token));
}

http_result https_client::post_json(std::string target, const nlohmann::json& body,
                                    std::string token, header_list headers) {
  return request("POST", std::move(target), body.dump(), with_bearer(std::move(headers), token));
}

http_result https_client::patch_json(std::string target, const nlohmann::json& body,
                                     std::string token, header_list headers) {
  return request("PATCH", std::move(target), body.dump(), with_bearer(std::move(headers), token));
}

http_result https_client::post(std::string target, std::string token, header_list headers) {
  return request("POST", std::move(target), {}, with_bearer(std::move(headers), token));
}

http_result https_client::del(std::string target, std::string token, header_list headers) {
  return request("DELETE", std::move(target), {}, with_bearer(std::move(headers), token));
}

}  // namespace mext::test
