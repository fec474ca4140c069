#include "tests/support/ws_client.hpp"

#include <exception>
#include <stdexcept>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace mext::test {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

struct ws_client::impl {
  net::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::optional<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> tls_ws;
  std::optional<websocket::stream<beast::tcp_stream>> plain_ws;
  beast::flat_buffer buffer;
  bool closed = false;
  int close_code = 0;

  template <class F>
  void with_stream(F&& f) {
    if (tls_ws)
      f(*tls_ws);
    else
      f(*plain_ws);
  }

  // Runs the io_context until `done` or the deadline; false on the deadline (the operation is
  // cancelled by closing the socket).
  bool run_until(bool& done, std::chrono::milliseconds timeout) {
    ioc.restart();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done) {
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      ioc.run_one_for(left);
      if (ioc.stopped()) ioc.restart();
    }
    if (done) return true;
    with_stream([](auto& ws) {
      beast::error_code ec;
      beast::get_lowest_layer(ws).socket().close(ec);
    });
    // The cancelled operation's handler refers to the caller's frame: it must run before we
    // return.
    ioc.restart();
    auto cap = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done && std::chrono::steady_clock::now() < cap)
      ioc.run_one_for(std::chrono::milliseconds(100));
    if (!done) std::terminate();
    return false;
  }

  // One message; nothing when the server closed (close_code set).
  std::optional<std::string> read(std::chrono::milliseconds timeout) {
    if (closed) return std::nullopt;
    bool done = false;
    beast::error_code result;
    with_stream([&](auto& ws) {
      ws.async_read(buffer, [&](beast::error_code ec, std::size_t) {
        result = ec;
        done = true;
      });
    });
    if (!run_until(done, timeout)) throw std::runtime_error("ws_client: no frame in time");
    if (result) {
      closed = true;
      with_stream([&](auto& ws) {
        close_code = result == websocket::error::closed ? static_cast<int>(ws.reason().code) : 1006;
      });
      return std::nullopt;
    }
    auto text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    return text;
  }

  void write(const std::string& bytes, bool text) {
    bool done = false;
    beast::error_code result;
    with_stream([&](auto& ws) {
      ws.text(text);
      ws.async_write(net::buffer(bytes), [&](beast::error_code ec, std::size_t) {
        result = ec;
        done = true;
      });
    });
    if (!run_until(done, std::chrono::seconds(10)))
      throw std::runtime_error("ws_client: write timed out");
    if (result) throw std::runtime_error("ws_client: write failed: " + result.message());
  }
};

ws_client::ws_client(uint16_t port) : ws_client(port, options{}) {}

ws_client::ws_client(uint16_t port, options opts) : impl_(std::make_unique<impl>()) {
  auto& d = *impl_;
  tcp::socket socket{d.ioc};
  socket.open(tcp::v4());
  if (opts.receive_buffer)
    socket.set_option(net::socket_base::receive_buffer_size(*opts.receive_buffer));
  socket.connect(tcp::endpoint(net::ip::address_v4::loopback(), port));
  auto decorate = [headers = opts.headers](websocket::request_type& req) {
    for (auto& [k, v] : headers) req.set(k, v);
  };
  const std::string host = "127.0.0.1:" + std::to_string(port);
  if (opts.tls) {
    d.ctx.set_verify_mode(ssl::verify_none);
    d.tls_ws.emplace(beast::tcp_stream(std::move(socket)), d.ctx);
    d.tls_ws->next_layer().handshake(ssl::stream_base::client);
    d.tls_ws->set_option(websocket::stream_base::decorator(decorate));
    d.tls_ws->handshake(host, opts.target);
  } else {
    d.plain_ws.emplace(beast::tcp_stream(std::move(socket)));
    d.plain_ws->set_option(websocket::stream_base::decorator(decorate));
    d.plain_ws->handshake(host, opts.target);
  }
}

ws_client::ws_client(ws_client&&) noexcept = default;
ws_client& ws_client::operator=(ws_client&&) noexcept = default;

ws_client::~ws_client() {
  if (!impl_ || impl_->closed) return;
  impl_->with_stream([](auto& ws) {
    beast::error_code ec;
    beast::get_lowest_layer(ws).socket().close(ec);
  });
}

void ws_client::send_text(const std::string& text) {
  impl_->write(text, true);
}

void ws_client::send_binary(const std::string& bytes) {
  impl_->write(bytes, false);
}

void ws_client::send_json(const nlohmann::json& frame) {
  send_text(frame.dump());
}

nlohmann::json ws_client::next(std::chrono::milliseconds timeout) {
  auto text = impl_->read(timeout);
  if (!text)
    throw std::runtime_error("ws_client: closed by the server with " +
                             std::to_string(impl_->close_code));
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("ws_client: a frame that is not JSON: " + *text);
  return j;
}

nlohmann::json ws_client::next_ev(const std::string& ev, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("ws_client: no " + ev + " frame in time");
    auto j = next(left);
    if (j.value("ev", "") == ev) return j;
  }
}

int ws_client::wait_close(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!impl_->closed) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw std::runtime_error("ws_client: no close in time");
    impl_->read(left);
  }
  return impl_->close_code;
}

std::string ws_client::auth(const std::string& token) {
  send_json({{"op", "auth"}, {"token", token}});
  return next_ev("ready").at("user_id").get<std::string>();
}

void ws_client::join(const std::string& room_id, const std::string& after_message_id) {
  nlohmann::json f{{"op", "join"}, {"room_id", room_id}};
  if (!after_message_id.empty()) f["after_message_id"] = after_message_id;
  send_json(f);
  for (;;) {
    auto j = next();
    auto ev = j.value("ev", "");
    if (ev == "joined" && j.value("room_id", "") == room_id) return;
    if (ev == "error") throw std::runtime_error("ws_client: join refused: " + j.dump());
  }
}

bool ws_client::closed() const {
  return impl_->closed;
}

int ws_client::close_code() const {
  return impl_->close_code;
}

}  // namespace mext::test
