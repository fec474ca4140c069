#include "sim/ws_probe.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>

namespace mext::sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

}  // namespace

struct ws_probe::impl {
  asio::io_context io;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> secure;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> plain;

  template <class F>
  void with(F&& f) {
    if (secure)
      f(*secure);
    else if (plain)
      f(*plain);
  }
};

ws_probe::ws_probe(endpoint ep, std::string token, std::string room_id)
    : impl_(new impl), room_(std::move(room_id)) {
  try {
    tcp::resolver resolver{impl_->io};
    auto addrs = resolver.resolve(ep.host, std::to_string(ep.port));
    auto decorate = [token](websocket::request_type& req) {
      req.set(beast::http::field::authorization, "Bearer " + token);
    };
    if (ep.tls) {
      impl_->tls.set_verify_mode(asio::ssl::verify_none);
      impl_->secure = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(
          impl_->io, impl_->tls);
      beast::get_lowest_layer(*impl_->secure).connect(addrs);
      impl_->secure->next_layer().handshake(asio::ssl::stream_base::client);
    } else {
      impl_->plain = std::make_unique<websocket::stream<beast::tcp_stream>>(impl_->io);
      beast::get_lowest_layer(*impl_->plain).connect(addrs);
    }
    impl_->with([&](auto& ws) {
      ws.set_option(websocket::stream_base::decorator(decorate));
      ws.text(true);
      ws.handshake(ep.host, "/api/v1/ws");
      ws.write(asio::buffer(nlohmann::json{{"op", "join"}, {"room_id", room_}}.dump()));
    });
  } catch (const std::exception& e) {
    error_ = e.what();
    return;
  }
  reader_ = std::thread([this] {
    beast::flat_buffer buf;
    try {
      for (;;) {
        buf.clear();
        impl_->with([&](auto& ws) { ws.read(buf); });
        auto frame = nlohmann::json::parse(beast::buffers_to_string(buf.data()));
        auto ev = frame.value("ev", "");
        if (ev == "joined" && frame.value("room_id", "") == room_) {
          started_ = true;
        } else if (ev == "message" && frame.value("room_id", "") == room_) {
          std::lock_guard lock{mutex_};
          got_.push_back({frame.at("message_id").get<std::string>(),
                          frame.value("number", uint64_t{0}), std::chrono::steady_clock::now()});
        } else if (ev == "error" && !started_) {
          std::lock_guard lock{mutex_};
          error_ = frame.dump();
        }
      }
    } catch (const std::exception& e) {
      if (!stopping_) {
        closed_early_ = true;
        std::lock_guard lock{mutex_};
        if (error_.empty()) error_ = e.what();
      }
    }
  });
}

ws_probe::~ws_probe() {
  stop();
}

void ws_probe::stop() {
  if (stopping_.exchange(true)) return;
  // Closing the socket ends the blocking read on the reader's thread.
  try {
    impl_->with([](auto& ws) {
      beast::error_code ec;
      beast::get_lowest_layer(ws).socket().shutdown(tcp::socket::shutdown_both, ec);
    });
  } catch (const std::exception&) {
  }
  if (reader_.joinable()) reader_.join();
}

std::string ws_probe::error() const {
  std::lock_guard lock{mutex_};
  return error_;
}

size_t ws_probe::received_count() const {
  std::lock_guard lock{mutex_};
  return got_.size();
}

std::vector<ws_probe::received> ws_probe::messages() const {
  std::lock_guard lock{mutex_};
  return got_;
}

}  // namespace mext::sim
