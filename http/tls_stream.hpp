#pragma once
// The server's TLS stream: OpenSSL reads and writes the socket itself, through a small BIO that
// calls recv and send on the non-blocking descriptor, and Asio only reports readiness.
//
// Why not asio::ssl::stream: it keeps two 17 KiB buffers per connection for its whole life, and
// a BIO pair of two more (68 KiB an idle WebSocket client). Here an idle connection holds the
// SSL object alone: with SSL_MODE_RELEASE_BUFFERS OpenSSL frees its record buffers between
// records. The stream speaks what the server uses of beast::tcp_stream (socket, close,
// expires_after, expires_never) and of an Asio stream (async_read_some, async_write_some), so
// Beast's HTTP operations run on it. One read and one write may be in flight at once, on the
// stream's executor (a strand).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/async_base.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/system/error_code.hpp>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL

namespace mext::http {

// One OpenSSL call at a time on a non-blocking socket: each says what it did, or what the
// socket must become (readable, writable) before the same call is tried again.
class tls_engine {
 public:
  enum class want { nothing, read, write };
  struct step {
    want wait = want::nothing;
    std::size_t bytes = 0;
    boost::system::error_code ec;
  };

  // A server-side SSL for ctx on descriptor fd (not owned). A failure to create it is reported
  // by the first handshake step.
  tls_engine(ssl_ctx_st* ctx, int fd);
  ~tls_engine();
  tls_engine(const tls_engine&) = delete;
  tls_engine& operator=(const tls_engine&) = delete;

  step handshake();
  step read(void* data, std::size_t size);
  step write(const void* data, std::size_t size);
  // Sends close_notify, then waits for the peer's (anything it sends meanwhile is dropped).
  step shutdown();
  // Decrypted bytes OpenSSL holds, which no socket readiness would announce.
  bool has_pending() const;
  // Every step from now on fails with ec; the descriptor is not touched again (its number may
  // soon belong to another connection).
  void refuse(boost::system::error_code ec);

 private:
  step failed(int ret);

  ssl_st* ssl_ = nullptr;
  boost::system::error_code create_error_;
  struct socket_bio;
  std::unique_ptr<socket_bio> bio_state_;
  int shutdown_calls_ = 0;
};

class tls_stream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using socket_type = boost::asio::ip::tcp::socket;
  using clock = std::chrono::steady_clock;

  // ctx must outlive the stream. The socket is made non-blocking.
  tls_stream(socket_type&& socket, ssl_ctx_st* ctx);
  // Moving is for handing an idle connection over (no operation in flight).
  tls_stream(tls_stream&&) noexcept = default;

  executor_type get_executor() noexcept { return core_->socket.get_executor(); }
  socket_type& socket() noexcept { return core_->socket; }
  void close();

  // As beast::tcp_stream: the operations in flight and those started later fail with
  // beast::error::timeout once `d` has passed. expires_never lifts the deadline.
  void expires_after(clock::duration d);
  void expires_never();

  // Handler signatures: void(error_code) for handshake, shutdown and the waits;
  // void(error_code, std::size_t) for read and write.
  template <class Handler>
  void async_handshake(Handler&& h) {
    step_op<std::decay_t<Handler>, kind::handshake>(std::forward<Handler>(h), *core_);
  }
  template <class Handler>
  void async_shutdown(Handler&& h) {
    step_op<std::decay_t<Handler>, kind::shutdown>(std::forward<Handler>(h), *core_);
  }
  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& h) {
    read_op<std::decay_t<Handler>, MutableBuffers>(std::forward<Handler>(h), *core_, buffers);
  }
  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& h) {
    write_op<std::decay_t<Handler>, ConstBuffers>(std::forward<Handler>(h), *core_, buffers);
  }

  // Reading without a buffer held across the wait (an idle connection holds none): read_now
  // takes what OpenSSL or the socket has at once (would_block when there is nothing), and
  // async_wait_readable calls back when read_now may make progress.
  std::size_t read_now(void* data, std::size_t size, boost::system::error_code& ec);
  template <class Handler>
  void async_wait_readable(Handler&& h) {
    if (core_->engine.has_pending())
      return boost::asio::post(
          get_executor(),
          boost::beast::bind_front_handler(std::forward<Handler>(h), boost::system::error_code{}));
    core_->wait(core_->read_wants, std::forward<Handler>(h));
  }

  // For bytes below TLS (discarding what follows a broken request): handler(ec) once the
  // socket is readable, under the deadline.
  template <class Handler>
  void async_wait_raw_readable(Handler&& h) {
    core_->wait(tls_engine::want::read, std::forward<Handler>(h));
  }

 private:
  enum class kind { handshake, shutdown };

  // Shared with the deadline timer's handler (by a weak reference), which may run after the
  // stream is gone.
  struct core {
    core(socket_type&& s, ssl_ctx_st* ctx);

    // handler(ec) once the socket is ready for `w`; with the deadline past, timeout.
    template <class Handler>
    void wait(tls_engine::want w, Handler&& h) {
      if (timed_out)
        return boost::asio::post(
            socket.get_executor(),
            boost::beast::bind_front_handler(
                std::forward<Handler>(h), boost::system::error_code(boost::beast::error::timeout)));
      socket.async_wait(
          w == tls_engine::want::write ? socket_type::wait_write : socket_type::wait_read,
          std::forward<Handler>(h));
    }
    // What a wait's error means to an operation: a cancel by the deadline is a timeout.
    boost::system::error_code wait_error(boost::system::error_code ec) const {
      return timed_out ? boost::system::error_code(boost::beast::error::timeout) : ec;
    }

    socket_type socket;
    tls_engine engine;
    boost::asio::steady_timer deadline;
    bool timed_out = false;
    tls_engine::want read_wants = tls_engine::want::read;
  };

  // Handshake and shutdown: one step after another until one needs nothing more.
  template <class Handler, kind K>
  class step_op : public boost::beast::async_base<Handler, executor_type> {
   public:
    template <class H>
    step_op(H&& h, core& c)
        : boost::beast::async_base<Handler, executor_type>(std::forward<H>(h),
                                                           c.socket.get_executor()),
          c_(c) {
      (*this)({}, false);
    }
    void operator()(boost::system::error_code ec, bool cont = true) {
      if (ec) return this->complete(cont, c_.wait_error(ec));
      if (c_.timed_out) return this->complete(cont, boost::beast::error::timeout);
      auto r = K == kind::handshake ? c_.engine.handshake() : c_.engine.shutdown();
      if (r.wait == tls_engine::want::nothing) return this->complete(cont, r.ec);
      c_.wait(r.wait, std::move(*this));
    }

   private:
    core& c_;
  };

  template <class Handler, class Buffers>
  class read_op : public boost::beast::async_base<Handler, executor_type> {
   public:
    template <class H>
    read_op(H&& h, core& c, const Buffers& b)
        : boost::beast::async_base<Handler, executor_type>(std::forward<H>(h),
                                                           c.socket.get_executor()),
          c_(c),
          b_(b) {
      (*this)({}, false);
    }
    void operator()(boost::system::error_code ec, bool cont = true) {
      if (ec) return this->complete(cont, c_.wait_error(ec), std::size_t{0});
      if (c_.timed_out) return this->complete(cont, boost::beast::error::timeout, std::size_t{0});
      // Like Asio's SSL stream: into the first buffer that has room.
      boost::asio::mutable_buffer target;
      for (auto it = boost::asio::buffer_sequence_begin(b_);
           it != boost::asio::buffer_sequence_end(b_); ++it)
        if (boost::asio::mutable_buffer(*it).size() > 0) {
          target = *it;
          break;
        }
      if (target.size() == 0)
        return this->complete(cont, boost::system::error_code{}, std::size_t{0});
      auto r = c_.engine.read(target.data(), target.size());
      if (r.wait == tls_engine::want::nothing) return this->complete(cont, r.ec, r.bytes);
      c_.wait(r.wait, std::move(*this));
    }

   private:
    core& c_;
    Buffers b_;
  };

  // Writes at most one TLS record's worth. The small buffers of a sequence (an HTTP header's
  // pieces) are gathered into one record rather than costing a record each.
  template <class Handler, class Buffers>
  class write_op : public boost::beast::async_base<Handler, executor_type> {
   public:
    template <class H>
    write_op(H&& h, core& c, const Buffers& b)
        : boost::beast::async_base<Handler, executor_type>(std::forward<H>(h),
                                                           c.socket.get_executor()),
          c_(c) {
      auto it = boost::asio::buffer_sequence_begin(b);
      const auto end = boost::asio::buffer_sequence_end(b);
      while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
      if (it != end) data_ = *it;
      const std::size_t total = boost::beast::buffer_bytes(b);
      if (data_.size() < total && data_.size() < record_bytes) {
        const std::size_t n = std::min(total, record_bytes);
        gathered_ = std::make_unique<char[]>(n);
        std::size_t at = 0;
        for (; it != end && at < n; ++it) {
          boost::asio::const_buffer piece(*it);
          const std::size_t take = std::min(piece.size(), n - at);
          std::memcpy(gathered_.get() + at, piece.data(), take);
          at += take;
        }
        data_ = boost::asio::const_buffer(gathered_.get(), n);
      }
      (*this)({}, false);
    }
    void operator()(boost::system::error_code ec, bool cont = true) {
      if (ec) return this->complete(cont, c_.wait_error(ec), std::size_t{0});
      if (c_.timed_out) return this->complete(cont, boost::beast::error::timeout, std::size_t{0});
      if (data_.size() == 0)
        return this->complete(cont, boost::system::error_code{}, std::size_t{0});
      // A retry repeats the same bytes, as OpenSSL requires after WANT_WRITE.
      auto r = c_.engine.write(data_.data(), data_.size());
      if (r.wait == tls_engine::want::nothing) return this->complete(cont, r.ec, r.bytes);
      c_.wait(r.wait, std::move(*this));
    }

   private:
    static constexpr std::size_t record_bytes = 16 * 1024;
    core& c_;
    boost::asio::const_buffer data_;
    std::unique_ptr<char[]> gathered_;
  };

  std::shared_ptr<core> core_;
};

}  // namespace mext::http
