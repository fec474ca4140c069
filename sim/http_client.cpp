#include "sim/http_client.hpp"

#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace mext::sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

}  // namespace

struct http_client::impl {
  endpoint ep;
  std::chrono::seconds timeout;
  asio::io_context io;
  // The simulator talks to a server whose certificate it has no reason to know (a spawned
  // server's is self-signed): it checks nothing, as a load generator on loopback may.
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  std::optional<beast::tcp_stream> plain;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() { return ep.tls ? beast::get_lowest_layer(*secure) : *plain; }

  void connect() {
    secure.reset();
    plain.reset();
    buffer.clear();
    tcp::resolver resolver{io};
    auto addrs = resolver.resolve(ep.host, std::to_string(ep.port));
    if (ep.tls) {
      tls.set_verify_mode(asio::ssl::verify_none);
      secure.emplace(io, tls);
    } else {
      plain.emplace(io);
    }
    auto& s = tcp();
    s.expires_after(timeout);
    if (!ep.source.empty()) {
      s.socket().open(tcp::v4());
      s.socket().bind(tcp::endpoint(asio::ip::make_address(ep.source), 0));
    }
    s.connect(addrs);
    s.socket().set_option(tcp::no_delay(true));
    if (ep.tls) {
      s.expires_after(timeout);
      secure->handshake(asio::ssl::stream_base::client);
    }
  }

  http_reply once(const std::string& method, const std::string& target, const std::string& body,
                  const std::string& token) {
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, ep.host);
    req.keep_alive(true);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    tcp().expires_after(timeout);
    http::response<http::string_body> res;
    if (ep.tls) {
      http::write(*secure, req);
      http::read(*secure, buffer, res);
    } else {
      http::write(*plain, req);
      http::read(*plain, buffer, res);
    }
    http_reply out;
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    if (!res.keep_alive()) {
      secure.reset();
      plain.reset();
    }
    return out;
  }
};

http_client::http_client(endpoint ep, std::chrono::seconds timeout) : impl_(new impl) {
  impl_->ep = std::move(ep);
  impl_->timeout = timeout;
}

http_client::~http_client() = default;

http_reply http_client::request(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& token) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = false;
    try {
      if (!impl_->secure && !impl_->plain) {
        impl_->connect();
        fresh = true;
      }
      return impl_->once(method, target, body, token);
    } catch (const std::exception& e) {
      impl_->secure.reset();
      impl_->plain.reset();
      // A kept-alive connection the server closed meanwhile gets one more try on a new one.
      if (fresh || attempt == 1) return http_reply{0, {}, e.what()};
    }
  }
  return http_reply{0, {}, "no answer"};
}

}  // namespace mext::sim
