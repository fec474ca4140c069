#include "sim/ws_members.hpp"

#include <atomic>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace mext::sim {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
using plain_ws = websocket::stream<beast::tcp_stream>;

enum member_state : int { pending = 0, joined_state = 1, failed_state = 2, closed_state = 3 };

struct member {
  std::string token;
  std::string room;
  std::string join_frame;
  size_t io = 0;
  std::unique_ptr<tls_ws> secure;
  std::unique_ptr<plain_ws> plain;
  beast::flat_buffer buf;
  std::atomic<uint64_t> frames{0};
  std::atomic<int> state{pending};
};

}  // namespace

struct ws_members::impl {
  endpoint ep;
  tcp::endpoint target;
  uint32_t sources = 1;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::vector<std::thread> threads;
  asio::ssl::context tls{asio::ssl::context::tls_client};
  std::vector<std::unique_ptr<member>> members;
  std::atomic<size_t> next{0};
  std::atomic<uint32_t> done{0};
  std::atomic<bool> stopping{false};
  mutable std::mutex error_mutex;
  std::string first_error;

  void note_error(const std::string& what) {
    std::lock_guard lock{error_mutex};
    if (first_error.empty()) first_error = what;
  }

  // A member reached joined or failed: the next one may start its handshake.
  void settled(member& m, int state) {
    int expected = pending;
    if (m.state.compare_exchange_strong(expected, state)) {
      ++done;
      launch_next();
    }
  }

  void fail(member& m, const beast::error_code& ec, const char* step) {
    if (stopping) return;
    if (m.state == joined_state) {
      m.state = closed_state;
      note_error(std::string("closed while reading: ") + ec.message());
      return;
    }
    note_error(std::string(step) + ": " + ec.message());
    settled(m, failed_state);
  }

  template <class Ws>
  void read(member& m, Ws& ws) {
    ws.async_read(m.buf, [this, &m, &ws](beast::error_code ec, size_t) {
      if (ec) return fail(m, ec, "read");
      // Counting, not parsing: the event name is enough to tell a message from the rest.
      auto data = m.buf.cdata();
      std::string_view frame(static_cast<const char*>(data.data()), data.size());
      if (frame.find("\"ev\":\"message\"") != std::string_view::npos)
        ++m.frames;
      else if (frame.find("\"ev\":\"joined\"") != std::string_view::npos)
        settled(m, joined_state);
      m.buf.consume(m.buf.size());
      read(m, ws);
    });
  }

  template <class Ws>
  void upgrade(member& m, Ws& ws) {
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    auto token = m.token;
    ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
      req.set(beast::http::field::authorization, "Bearer " + token);
    }));
    ws.text(true);
    ws.async_handshake(ep.host, "/api/v1/ws", [this, &m, &ws](beast::error_code ec) {
      if (ec) return fail(m, ec, "websocket handshake");
      ws.async_write(asio::buffer(m.join_frame), [this, &m, &ws](beast::error_code ec, size_t) {
        if (ec) return fail(m, ec, "join");
        read(m, ws);
      });
    });
  }

  void connect(size_t i) {
    auto& m = *members[i];
    auto& io = *ios[m.io];
    beast::error_code ec;
    auto open = [&](tcp::socket& s) {
      s.open(tcp::v4(), ec);
      if (!ec && sources > 1)
        s.bind(tcp::endpoint(
                   asio::ip::make_address_v4("127.0.0." + std::to_string(1 + i % sources)), 0),
               ec);
    };
    if (ep.tls) {
      m.secure = std::make_unique<tls_ws>(io, tls);
      open(beast::get_lowest_layer(*m.secure).socket());
    } else {
      m.plain = std::make_unique<plain_ws>(io);
      open(beast::get_lowest_layer(*m.plain).socket());
    }
    if (ec) return fail(m, ec, "socket");
    if (ep.tls) {
      auto& ws = *m.secure;
      beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
      beast::get_lowest_layer(ws).async_connect(target, [this, &m, &ws](beast::error_code ec) {
        if (ec) return fail(m, ec, "connect");
        ws.next_layer().async_handshake(asio::ssl::stream_base::client,
                                        [this, &m, &ws](beast::error_code ec) {
                                          if (ec) return fail(m, ec, "TLS handshake");
                                          upgrade(m, ws);
                                        });
      });
    } else {
      auto& ws = *m.plain;
      beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
      beast::get_lowest_layer(ws).async_connect(target, [this, &m, &ws](beast::error_code ec) {
        if (ec) return fail(m, ec, "connect");
        upgrade(m, ws);
      });
    }
  }

  void launch_next() {
    if (stopping) return;
    auto i = next++;
    if (i >= members.size()) return;
    asio::post(*ios[members[i]->io], [this, i] { connect(i); });
  }
};

ws_members::ws_members(endpoint ep, uint32_t source_addresses, uint32_t io_threads)
    : impl_(new impl) {
  impl_->ep = std::move(ep);
  impl_->sources = std::max<uint32_t>(1, std::min<uint32_t>(source_addresses, 250));
  impl_->tls.set_verify_mode(asio::ssl::verify_none);
  asio::io_context resolver_io;
  tcp::resolver resolver{resolver_io};
  impl_->target = *resolver.resolve(impl_->ep.host, std::to_string(impl_->ep.port)).begin();
  for (uint32_t t = 0; t < std::max<uint32_t>(1, io_threads); ++t) {
    impl_->ios.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.emplace_back(impl_->ios.back()->get_executor());
  }
}

ws_members::~ws_members() {
  stop();
}

void ws_members::add(std::string token, std::string room) {
  auto m = std::make_unique<member>();
  m->token = std::move(token);
  m->join_frame = "{\"op\":\"join\",\"room_id\":\"" + room + "\"}";
  m->room = std::move(room);
  m->io = impl_->members.size() % impl_->ios.size();
  impl_->members.push_back(std::move(m));
}

void ws_members::start(uint32_t parallel, std::chrono::seconds timeout) {
  for (auto& io : impl_->ios) impl_->threads.emplace_back([&io] { io->run(); });
  for (uint32_t k = 0; k < std::max<uint32_t>(1, parallel); ++k) impl_->launch_next();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (impl_->done < impl_->members.size() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void ws_members::stop() {
  if (impl_->stopping.exchange(true)) return;
  for (size_t t = 0; t < impl_->ios.size(); ++t)
    asio::post(*impl_->ios[t], [this, t] {
      for (auto& m : impl_->members) {
        if (m->io != t) continue;
        beast::error_code ec;
        if (m->secure) beast::get_lowest_layer(*m->secure).socket().close(ec);
        if (m->plain) beast::get_lowest_layer(*m->plain).socket().close(ec);
      }
    });
  for (auto& g : impl_->guards) g.reset();
  // The closes run, and the reads they end complete, before the threads are told to stop.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (auto& io : impl_->ios) io->stop();
  for (auto& th : impl_->threads)
    if (th.joinable()) th.join();
}

size_t ws_members::size() const {
  return impl_->members.size();
}

uint32_t ws_members::joined() const {
  uint32_t n = 0;
  for (auto& m : impl_->members) n += m->state == joined_state || m->state == closed_state;
  return n;
}

uint32_t ws_members::failed() const {
  uint32_t n = 0;
  for (auto& m : impl_->members) n += m->state == failed_state || m->state == pending;
  return n;
}

uint32_t ws_members::closed_early() const {
  uint32_t n = 0;
  for (auto& m : impl_->members) n += m->state == closed_state;
  return n;
}

std::string ws_members::first_error() const {
  std::lock_guard lock{impl_->error_mutex};
  return impl_->first_error;
}

std::vector<ws_members::count> ws_members::counts() const {
  std::vector<count> out;
  for (auto& m : impl_->members)
    out.push_back({m->room, m->frames.load(), m->state == closed_state});
  return out;
}

}  // namespace mext::sim
