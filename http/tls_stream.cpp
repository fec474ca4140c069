#include "http/tls_stream.hpp"

#include <cerrno>

#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace mext::http {

namespace {

namespace net = boost::asio;
using boost::system::error_code;

// The descriptor the BIO reads and writes (-1 once the stream is closed), whether the peer ended
// its side (BIO_CTRL_EOF: OpenSSL asks it to tell a truncated stream from a failed read), and
// the errno of its last call, kept before anything else can overwrite it.
struct bio_target {
  int fd = -1;
  bool eof = false;
  int last_errno = 0;
};

bool would_block(int e) {
  return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

// Where a BIO call starts: its target, or null (EBADF recorded) once the stream is closed.
bio_target* begin_call(BIO* b) {
  BIO_clear_retry_flags(b);
  auto* t = static_cast<bio_target*>(BIO_get_data(b));
  t->last_errno = t->fd < 0 ? EBADF : 0;
  return t->fd < 0 ? nullptr : t;
}

int bio_write(BIO* b, const char* data, int size) {
  bio_target* t = begin_call(b);
  if (t == nullptr) return -1;
  // MSG_NOSIGNAL: a peer gone is an error code, not SIGPIPE.
  const ssize_t n = ::send(t->fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  t->last_errno = errno;
  if (would_block(t->last_errno)) BIO_set_retry_write(b);
  return -1;
}

int bio_read(BIO* b, char* out, int size) {
  bio_target* t = begin_call(b);
  if (t == nullptr) return -1;
  const ssize_t n = ::recv(t->fd, out, static_cast<std::size_t>(size), 0);
  if (n > 0) return static_cast<int>(n);
  if (n == 0) {
    t->eof = true;
    return 0;
  }
  t->last_errno = errno;
  if (would_block(t->last_errno)) BIO_set_retry_read(b);
  return -1;
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // send() leaves nothing behind to flush
    case BIO_CTRL_EOF:
      return static_cast<bio_target*>(BIO_get_data(b))->eof ? 1 : 0;
    default:
      return 0;
  }
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

// One method for every connection, made on first use. Null when OpenSSL cannot allocate it.
const BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "mext socket");
    if (m == nullptr) return m;
    if (BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1 ||
        BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1) {
      BIO_meth_free(m);
      return static_cast<BIO_METHOD*>(nullptr);
    }
    return m;
  }();
  return method;
}

// What OpenSSL's error queue holds (emptying it), as Asio's SSL streams report it.
error_code ssl_queue_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return net::error::no_memory;
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
    return net::ssl::error::stream_truncated;
  return error_code(static_cast<int>(e), net::error::get_ssl_category());
}

}  // namespace

struct tls_engine::socket_bio : bio_target {};

tls_engine::tls_engine(ssl_ctx_st* ctx, int fd) : bio_state_(std::make_unique<socket_bio>()) {
  bio_state_->fd = fd;
  ERR_clear_error();
  const BIO_METHOD* method = socket_bio_method();
  ssl_ = method != nullptr ? SSL_new(ctx) : nullptr;
  BIO* bio = ssl_ != nullptr ? BIO_new(method) : nullptr;
  if (bio == nullptr) {
    create_error_ = ssl_queue_error();
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  BIO_set_data(bio, bio_state_.get());
  SSL_set_bio(ssl_, bio, bio);  // one reference, owned by ssl_ from here
  // Partial writes and a moving buffer as the writer expects; idle connections keep no record
  // buffers (the point of this stream).
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);
  SSL_set_accept_state(ssl_);
}

tls_engine::~tls_engine() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

tls_engine::step tls_engine::failed(int ret) {
  const int e = SSL_get_error(ssl_, ret);
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return {want::read, 0, {}};
    case SSL_ERROR_WANT_WRITE:
      return {want::write, 0, {}};
    case SSL_ERROR_ZERO_RETURN:
      // close_notify: the peer ended the stream cleanly.
      return {want::nothing, 0, net::error::eof};
    case SSL_ERROR_SYSCALL: {
      if (ERR_peek_error() != 0) return {want::nothing, 0, ssl_queue_error()};
      // No errno from the socket: the peer went away without close_notify.
      const int saved = bio_state_->last_errno;
      if (saved == 0) return {want::nothing, 0, net::ssl::error::stream_truncated};
      return {want::nothing, 0, error_code(saved, boost::system::system_category())};
    }
    case SSL_ERROR_SSL:
      return {want::nothing, 0, ssl_queue_error()};
    default:
      // A callback's retry (X509 lookup, client hello, async job): the server sets none.
      ERR_clear_error();
      return {want::nothing, 0, make_error_code(boost::system::errc::protocol_error)};
  }
}

tls_engine::step tls_engine::handshake() {
  if (ssl_ == nullptr) return {want::nothing, 0, create_error_};
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) return {};
  return failed(ret);
}

tls_engine::step tls_engine::read(void* data, std::size_t size) {
  if (ssl_ == nullptr) return {want::nothing, 0, create_error_};
  ERR_clear_error();
  std::size_t n = 0;
  if (SSL_read_ex(ssl_, data, size, &n) == 1) return {want::nothing, n, {}};
  return failed(0);
}

tls_engine::step tls_engine::write(const void* data, std::size_t size) {
  if (ssl_ == nullptr) return {want::nothing, 0, create_error_};
  ERR_clear_error();
  std::size_t n = 0;
  if (SSL_write_ex(ssl_, data, size, &n) == 1) return {want::nothing, n, {}};
  return failed(0);
}

tls_engine::step tls_engine::shutdown() {
  if (ssl_ == nullptr) return {want::nothing, 0, create_error_};
  ERR_clear_error();
  const int ret = SSL_shutdown(ssl_);
  if (ret == 1) return {};
  // 0: ours went out, the peer's is still to come; the next call reads for it.
  if (ret == 0) return ++shutdown_calls_ > 1 ? step{want::read, 0, {}} : shutdown();
  return failed(ret);
}

// Decrypted bytes only: without read-ahead OpenSSL reads no further than the record it is
// assembling, so undecrypted bytes it holds are a partial record that needs the socket anyway
// (SSL_has_pending would count those and spin the reader).
void tls_engine::refuse(error_code ec) {
  bio_state_->fd = -1;
  if (ssl_ != nullptr) SSL_free(ssl_);
  ssl_ = nullptr;
  create_error_ = ec;
}

bool tls_engine::has_pending() const {
  return ssl_ != nullptr && SSL_pending(ssl_) > 0;
}

tls_stream::core::core(socket_type&& s, ssl_ctx_st* ctx)
    : socket(std::move(s)), engine(ctx, socket.native_handle()), deadline(socket.get_executor()) {}

tls_stream::tls_stream(socket_type&& socket, ssl_ctx_st* ctx)
    : core_(std::make_shared<core>(std::move(socket), ctx)) {
  // OpenSSL calls recv and send itself and must get EAGAIN rather than block the I/O thread. A
  // failure here is the handshake's error.
  error_code ec;
  core_->socket.non_blocking(true, ec);
  if (ec) core_->engine.refuse(ec);
}

// A wait that completed just before the close may still run its step: it must find OpenSSL cut
// off from the descriptor, whose number the next accepted connection may get.
void tls_stream::close() {
  error_code ignored;
  core_->deadline.cancel();
  core_->engine.refuse(net::error::operation_aborted);
  core_->socket.close(ignored);
}

void tls_stream::expires_after(clock::duration d) {
  core_->timed_out = false;
  core_->deadline.expires_after(d);
  core_->deadline.async_wait([weak = std::weak_ptr<core>(core_)](error_code ec) {
    if (ec) return;
    auto c = weak.lock();
    if (!c || c->deadline.expiry() > clock::now()) return;
    // What waits on the socket now completes, and reports timeout (core::wait_error).
    c->timed_out = true;
    error_code ignored;
    c->socket.cancel(ignored);
  });
}

// An expiry in the far future rather than a cancel: a deadline handler already queued then finds
// it has not passed and does nothing.
void tls_stream::expires_never() {
  core_->timed_out = false;
  core_->deadline.expires_at(clock::time_point::max());
}

std::size_t tls_stream::read_now(void* data, std::size_t size, error_code& ec) {
  auto r = core_->engine.read(data, size);
  if (r.wait != tls_engine::want::nothing) {
    core_->read_wants = r.wait;
    ec = net::error::would_block;
    return 0;
  }
  core_->read_wants = tls_engine::want::read;
  ec = r.ec;
  return r.bytes;
}

}  // namespace mext::http
