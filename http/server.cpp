#include "http/server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <deque>
#include <exception>
#include <functional>
#include <latch>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include <openssl/rand.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>

#include "http/auth.hpp"
#include "http/tls.hpp"
#include "http/tls_stream.hpp"
#include "http/ws_frames.hpp"
#include "persistence/errors.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

// How long a closing connection may take to read the client's leftovers or close_notify: long
// enough for a client to read an early error answer, short enough not to pin the socket.
constexpr std::chrono::seconds linger_timeout{2};

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Nothing when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string new_request_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // A request id is a correlation handle, not a secret: a unique fallback keeps serving.
    log::error("http.request_id_random_failed").field("detail", openssl_error("RAND_bytes"));
    static std::atomic<uint64_t> counter{0};
    return "local-" + std::to_string(counter.fetch_add(1) + 1);
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

// Boost 1.74's string_view is boost::string_view, which does not convert to or from the std one.
std::string_view to_std(beast::string_view s) {
  return {s.data(), s.size()};
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}
beast::string_view to_beast(std::string_view s) {
  return {s.data(), s.size()};
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

}  // namespace

// ---- request, response ----

std::optional<std::string> request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

std::optional<std::string> request::query_param(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (!key || *key != name) continue;
    if (eq == std::string_view::npos) return std::string{};
    if (auto value = percent_decode(pair.substr(eq + 1), true)) return value;
  }
  return std::nullopt;
}

response json(int status, std::string body) {
  response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

response problem(int status, std::string title, std::string detail) {
  nlohmann::json doc = {{"type", "about:blank"},
                        {"title", std::move(title)},
                        {"status", status},
                        {"detail", std::move(detail)}};
  response r;
  r.status = status;
  r.content_type = "application/problem+json";
  // Replacing invalid UTF-8 keeps a detail built from client input from throwing here.
  r.body = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

response from_error(const caf::error& err) {
  int status = http_status(err);
  auto r = problem(status, std::string(reason_phrase(status)), detail_of(err));
  // API.md: every 429 tells the client when to retry; a handler may replace the default.
  if (status == 429) r.headers.emplace_back("Retry-After", "1");
  return r;
}

std::string_view reason_phrase(int status) {
  if (status == 413) return "Content Too Large";  // RFC 9110's name; Beast has RFC 7231's
  if (status < 100 || status > 999) return "Unknown";
  auto code = bhttp::int_to_status(static_cast<unsigned>(status));
  if (code == bhttp::status::unknown) return "Unknown";
  return to_std(bhttp::obsolete_reason(code));
}

bool is_loopback_host(std::string_view host) {
  if (iequals(host, "localhost")) return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  auto addr = net::ip::make_address(std::string(host), ec);
  return !ec && addr.is_loopback();
}

// ---- router ----

void router::add(std::string method, std::string pattern, handler h, std::size_t max_body_bytes) {
  if (method.empty() || pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("router: bad route " + method + " " + pattern);
  if (!h) throw std::invalid_argument("router: no handler for " + method + " " + pattern);
  route r{std::move(method), pattern, {}, std::move(h), max_body_bytes};
  for (auto part : split_path(pattern)) {
    segment seg;
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      seg.text = std::string(part.substr(1, part.size() - 2));
      seg.param = true;
      bool ok = !seg.text.empty() && std::all_of(seg.text.begin(), seg.text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
      });
      for (const auto& prev : r.segments)
        if (prev.param && prev.text == seg.text) ok = false;
      if (!ok) throw std::invalid_argument("router: bad parameter in " + pattern);
    } else {
      if (part.find_first_of("{}?#") != std::string_view::npos)
        throw std::invalid_argument("router: bad segment in " + pattern);
      seg.text = std::string(part);
    }
    r.segments.push_back(std::move(seg));
  }
  // Two routes of one method whose patterns differ only in parameter names are ambiguous.
  for (const auto& other : routes_) {
    if (other.method != r.method || other.segments.size() != r.segments.size()) continue;
    bool same = std::equal(other.segments.begin(), other.segments.end(), r.segments.begin(),
                           [](const segment& a, const segment& b) {
                             return a.param == b.param && (a.param || a.text == b.text);
                           });
    if (same) throw std::invalid_argument("router: duplicate route " + r.method + " " + pattern);
  }
  routes_.push_back(std::move(r));
}

void router::add_websocket(std::string pattern, handler h, ws_open_fn open) {
  if (!open) throw std::invalid_argument("router: no WebSocket endpoint for " + pattern);
  add("GET", std::move(pattern), std::move(h));
  routes_.back().ws = std::make_shared<ws_open_fn>(std::move(open));
}

std::size_t router::body_limit(std::string_view method, std::string_view pattern) const {
  for (const auto& r : routes_)
    if (r.method == method && r.pattern == pattern) return r.max_body_bytes;
  return 0;
}

std::size_t router::largest_body_limit(std::size_t fallback) const {
  std::size_t out = fallback;
  for (const auto& r : routes_) out = std::max(out, r.max_body_bytes);
  return out;
}

std::vector<std::pair<std::string, std::string>> router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const auto& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

router::match router::find(std::string_view method, std::string_view path) const {
  const auto parts = split_path(path);
  match result;
  const route* best = nullptr;
  std::vector<std::string> allowed;
  // More specific wins: compared segment by segment, a literal beats a parameter.
  auto more_specific = [](const route& a, const route& b) {
    for (std::size_t i = 0; i < a.segments.size(); ++i)
      if (a.segments[i].param != b.segments[i].param) return !a.segments[i].param;
    return false;
  };
  for (const auto& r : routes_) {
    if (r.segments.size() != parts.size()) continue;
    bool ok = true;
    for (std::size_t i = 0; ok && i < parts.size(); ++i) {
      const auto& seg = r.segments[i];
      ok = seg.param ? !parts[i].empty() : seg.text == parts[i];
    }
    if (!ok) continue;
    if (r.method != method) {
      allowed.push_back(r.method);
      continue;
    }
    if (best == nullptr || more_specific(r, *best)) best = &r;
  }
  if (best != nullptr) {
    std::map<std::string, std::string> params;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (!best->segments[i].param) continue;
      auto value = percent_decode(parts[i], false);
      if (!value) return result;  // a malformed escape names no resource
      params.emplace(best->segments[i].text, std::move(*value));
    }
    result.target = &best->h;
    result.pattern = best->pattern;
    result.max_body_bytes = best->max_body_bytes;
    result.ws = best->ws.get();
    result.params = std::move(params);
    result.status = 0;
    return result;
  }
  if (!allowed.empty()) {
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    result.status = 405;
    for (const auto& m : allowed) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += m;
    }
  }
  return result;
}

// ---- connections ----

namespace {

class session_base;

// The two streams a connection runs on: beast::tcp_stream, or the server's tls_stream. Both
// have socket(), close(), expires_after() and expires_never().
template <class Stream>
constexpr bool is_tls_stream = std::is_same_v<Stream, tls_stream>;

// What the acceptor, the sessions and every outstanding respond_fn share. `open` turns false
// when the server stops: from then on no respond_fn posts to the (soon gone) io_context.
struct shared_state {
  server_settings settings;
  std::shared_ptr<const router> routes;
  // What a header is read with: the largest limit of any route, narrowed once the route is known.
  std::size_t largest_body_bytes = 0;
  std::mutex mu;
  bool open = true;
  uint64_t next_id = 0;
  // Connections refused at max_connections; the warning about them goes out once a second.
  uint64_t refused = 0;
  uint64_t refused_logged = 0;
  std::chrono::steady_clock::time_point refusal_logged_at{};
  // The registry owns the connections, so stop() can close them all; a connection removes itself
  // when it ends. An upgrade puts its WebSocket session in the place of the HTTP one.
  struct registered {
    std::shared_ptr<session_base> conn;
    std::string address_key;  // what it counts under in per_address; empty if not capped
  };
  std::unordered_map<uint64_t, registered> sessions;
  // Open connections per capped address.
  std::unordered_map<std::string, std::size_t> per_address;
  uint64_t refused_per_address = 0;
  uint64_t refused_per_address_logged = 0;
};

class session_base : public std::enable_shared_from_this<session_base> {
 public:
  virtual ~session_base() = default;
  virtual void run() = 0;
  virtual net::any_io_executor executor() = 0;
  // Both run on the connection's strand.
  virtual void on_response(response r) = 0;
  virtual void close() = 0;
};

// Takes a connection that ended out of the registry. The registry's reference is dropped after
// the lock: the connection may be destroyed with it, and its destructor must not run under it.
void forget_connection(shared_state& state, uint64_t id) {
  std::shared_ptr<session_base> released;
  std::lock_guard<std::mutex> lock(state.mu);
  auto it = state.sessions.find(id);
  if (it == state.sessions.end()) return;
  released = std::move(it->second.conn);
  if (auto count = state.per_address.find(it->second.address_key);
      count != state.per_address.end() && --count->second == 0)
    state.per_address.erase(count);
  state.sessions.erase(it);
}

// What max_connections_per_address counts a peer under: its IPv4 address, or its IPv6 /64 (one
// host usually holds a whole /64). Empty for an exempt peer or one without an address.
std::string per_address_key(const tcp::endpoint* peer, const server_settings& s) {
  if (peer == nullptr || s.max_connections_per_address == 0) return {};
  auto addr = peer->address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped())
    addr = net::ip::make_address_v4(net::ip::v4_mapped, addr.to_v6());
  if (is_trusted_proxy(addr.to_string(), s.per_address_exempt)) return {};
  if (addr.is_v4()) return addr.to_string();
  auto bytes = addr.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::ip::address_v6(bytes).to_string() + "/64";
}

// The one answer to one request. It posts onto the connection's strand, whichever thread answers.
class pending_response {
 public:
  pending_response(std::shared_ptr<shared_state> state, std::weak_ptr<session_base> session)
      : state_(std::move(state)), session_(std::move(session)) {}
  pending_response(const pending_response&) = delete;
  pending_response& operator=(const pending_response&) = delete;

  ~pending_response() {
    if (!answered_.exchange(true))
      send(problem(500, "Internal Server Error", "the request was not answered"));
  }

  void answer(response r) {
    if (answered_.exchange(true)) return;
    send(std::move(r));
  }

 private:
  void send(response r) {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->open) return;
    auto session = session_.lock();
    if (!session) return;
    net::post(session->executor(),
              [session, r = std::move(r)]() mutable { session->on_response(std::move(r)); });
  }

  std::shared_ptr<shared_state> state_;
  std::weak_ptr<session_base> session_;
  std::atomic<bool> answered_{false};
};

// A WebSocket connection's writer, gathering its writes: frames appended while a flush is in
// flight wait in `pending_` and leave with the next flush, so a fan-out burst costs one TLS
// record and one syscall per connection instead of one per frame. The session encodes every
// frame (data and control) straight into `pending_`, so no composed write operation and no
// completion is spent per frame. The session moves no more data frames in while `cap` bytes
// wait, so a client that does not read still fills the connection's send queue and is closed
// for it.
template <class Next>
class corked_stream {
 public:
  using executor_type = typename Next::executor_type;
  static constexpr std::size_t cap = 64 * 1024;

  template <class... Args>
  explicit corked_stream(Args&&... args) : next_(std::forward<Args>(args)...) {}

  executor_type get_executor() noexcept { return next_.get_executor(); }
  Next& next_layer() noexcept { return next_; }

  // What keeps the owner alive while a flush is in flight (the owner holds this stream).
  void keep_alive_with(std::function<std::shared_ptr<void>()> f) { keep_alive_ = std::move(f); }

  // Runs f once everything taken so far is written (or failed).
  void after_flush(std::function<void()> f) {
    if (!flushing_ && pending_.empty()) return net::post(get_executor(), std::move(f));
    after_flush_.push_back(std::move(f));
  }

  // Room for more data frames: fewer than `cap` bytes wait behind the flush in flight.
  bool has_room() const noexcept { return pending_.size() < cap; }
  bool busy() const noexcept { return flushing_ || !pending_.empty(); }
  bool failed() const noexcept { return static_cast<bool>(error_); }

  void append_frame(unsigned char opcode, std::string_view payload) {
    append_ws_frame(pending_, opcode, payload);
  }
  void append_bytes(std::string_view bytes) {
    pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  }

  // Starts a flush of what is pending unless one is in flight.
  void kick() {
    if (!flushing_ && !error_ && !pending_.empty()) flush();
  }

  // Called on the strand after every completed flush, before the next one starts: the session
  // moves more of its queue into `pending_` there.
  void on_flushed(std::function<void()> f) { on_flushed_ = std::move(f); }

 private:
  void flush() {
    flushing_ = true;
    inflight_.swap(pending_);
    pending_.clear();
    net::async_write(next_, net::buffer(inflight_),
                     [this, keep = keep_alive_ ? keep_alive_() : nullptr](
                         beast::error_code ec, std::size_t) { flushed(ec); });
  }

  void flushed(beast::error_code ec) {
    flushing_ = false;
    inflight_.clear();
    if (ec) error_ = ec;
    if (on_flushed_) on_flushed_();
    if (flushing_) return;
    if (!error_ && !pending_.empty()) return flush();
    // An idle connection keeps no write buffer: the next burst allocates its own.
    inflight_.shrink_to_fit();
    pending_.shrink_to_fit();
    auto done = std::move(after_flush_);
    after_flush_.clear();
    for (auto& f : done) f();
  }

  Next next_;
  std::vector<unsigned char> pending_, inflight_;
  bool flushing_ = false;
  beast::error_code error_;
  std::vector<std::function<void()>> after_flush_;
  std::function<void()> on_flushed_;
  std::function<std::shared_ptr<void>()> keep_alive_;
};

// What the application holds of an upgraded connection: a handle that reaches the connection
// only while it is open. The connection detaches it when it ends, so that no send or close from
// an actor can touch the connection (or post to the I/O context) after the server let it go,
// however long the application keeps the handle.
class ws_handle final : public ws_connection {
 public:
  explicit ws_handle(uint64_t id) : id_(id) {}

  bool send(std::shared_ptr<const std::string> text) override {
    std::lock_guard<std::mutex> lock(mu_);
    return target_ != nullptr && target_->send(std::move(text));
  }
  bool send_many(const std::vector<std::shared_ptr<const std::string>>& texts) override {
    std::lock_guard<std::mutex> lock(mu_);
    return target_ != nullptr && target_->send_many(texts);
  }
  void close(uint16_t code, std::string reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (target_ != nullptr) target_->close(code, std::move(reason));
  }
  uint64_t id() const override { return id_; }

  void attach(ws_connection* target) {
    std::lock_guard<std::mutex> lock(mu_);
    target_ = target;
  }
  // Waits for a send or close in progress; none reaches the connection afterwards.
  void detach() { attach(nullptr); }

 private:
  const uint64_t id_;
  std::mutex mu_;
  ws_connection* target_ = nullptr;
};

// An upgraded connection. Sends from any thread go through a bounded queue that the strand
// moves into the writer; frames are read and parsed on the strand by ws_frame_reader. The
// connection waits until its stream is readable and then reads into a buffer on the stack, so
// that an idle one holds no read buffer (tls_stream also announces decrypted bytes OpenSSL
// holds, which the socket no longer shows). Closing flushes what is queued first; a
// stalled write or closing handshake is cut after ws_settings::close_timeout, and a peer silent
// for ws_settings::idle_timeout (a ping goes out at half of it) is cut too.
template <class Stream>
class ws_session final : public session_base, public ws_connection, private ws_frame_sink {
 public:
  static constexpr bool is_tls = is_tls_stream<Stream>;

  // `accept_key` answers the client's Sec-WebSocket-Key; `early` holds bytes the client sent
  // after its upgrade request, read along with it.
  ws_session(std::shared_ptr<shared_state> state, uint64_t id, Stream&& stream, request req,
             std::string accept_key, std::string early, ws_open_fn open)
      : state_(std::move(state)),
        settings_(state_->settings.ws),
        id_(id),
        cork_(std::move(stream)),
        executor_(cork_.get_executor()),
        req_(std::move(req)),
        accept_key_(std::move(accept_key)),
        early_(std::move(early)),
        open_(std::move(open)),
        timer_(executor_),
        reader_(settings_.max_message_bytes) {}

  ~ws_session() override { handle_->detach(); }

  void run() override {
    net::dispatch(executor_, [self = self_ptr()] { self->accept(); });
  }

  net::any_io_executor executor() override { return executor_; }

  // No HTTP request is in flight on an upgraded connection.
  void on_response(response) override {}

  // The server is stopping: the socket goes at once.
  void close() override { abort(); }

  bool send(std::shared_ptr<const std::string> text) override {
    if (!text) return false;
    return send_many({std::move(text)});
  }

  bool send_many(const std::vector<std::shared_ptr<const std::string>>& texts) override {
    std::size_t bytes = 0;
    for (auto& t : texts) bytes += t ? t->size() : 0;
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (refusing_) return false;
    if (queue_.size() + texts.size() > settings_.queue_max_messages ||
        queued_bytes_ + bytes > settings_.queue_max_bytes) {
      // Too slow a reader: what waits is dropped now, so its memory is freed at once.
      refusing_ = true;
      drop_queue();
      close_code_ = ws_close::policy;
      close_text_ = "too slow: the send queue is full";
      net::post(executor_, [self = self_ptr()] {
        log::warn("ws.slow_consumer").field("connection", self->id_);
        self->begin_close();
      });
      return false;
    }
    for (auto& t : texts) {
      if (!t) continue;
      queued_bytes_ += t->size();
      queue_.push_back(t);
    }
    if (!drain_posted_) {
      drain_posted_ = true;
      net::post(executor_, [self = self_ptr()] { self->write_next(); });
    }
    return true;
  }

  void close(uint16_t code, std::string reason) override {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (refusing_) return;
      refusing_ = true;
      close_code_ = code;
      close_text_ = std::move(reason);
    }
    net::post(executor_, [self = self_ptr()] { self->begin_close(); });
  }

  uint64_t id() const override { return id_; }

 private:
  using clock = std::chrono::steady_clock;
  // One read takes at most this much (a TLS record's plaintext); larger messages arrive over
  // several reads.
  static constexpr std::size_t read_chunk = 16 * 1024;

  std::shared_ptr<ws_session> self_ptr() {
    return std::static_pointer_cast<ws_session>(session_base::shared_from_this());
  }

  Stream& lowest() { return cork_.next_layer(); }

  void accept() {
    cork_.keep_alive_with([self = std::weak_ptr<session_base>(self_ptr())] {
      return std::shared_ptr<void>(self.lock());
    });
    // A flush in flight holds the session (keep_alive_with), so `this` outlives the call.
    cork_.on_flushed([this] { write_next(); });
    // This session keeps its own timer; the TCP stream's would cut idle connections.
    lowest().expires_never();
    if constexpr (!is_tls) {
      // Reads are attempted when the socket is readable and must not block when it is not
      // (tls_stream's socket is non-blocking from the start).
      beast::error_code ec;
      lowest().socket().non_blocking(true, ec);
      if (ec) return abort();
    }
    cork_.append_bytes(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        accept_key_ + "\r\nServer: mextd\r\n\r\n");
    std::string().swap(accept_key_);
    cork_.kick();
    last_received_ = clock::now();
    arm_idle_timer();

    handle_->attach(this);
    peer_ = open_(req_, handle_);
    open_ = nullptr;
    req_ = {};
    // Refused at open: reading goes on so that the client's answer to the 1011 ends the close.
    if (!peer_) close(ws_close::internal_error, "");
    if (!early_.empty()) {
      std::string early;
      early.swap(early_);
      consume(early.data(), early.size());
    }
    read_next();
  }

  void read_next() {
    if (closed_ || reader_.done()) return;
    if constexpr (is_tls) {
      lowest().async_wait_readable([self = self_ptr()](beast::error_code ec) {
        if (self->closed_) return;
        if (ec) return self->read_ended(ec);
        self->read_ready();
      });
    } else {
      lowest().socket().async_wait(tcp::socket::wait_read,
                                   [self = self_ptr()](beast::error_code ec) {
                                     if (self->closed_) return;
                                     if (ec) return self->read_ended(ec);
                                     self->read_ready();
                                   });
    }
  }

  // The stream is readable: read what it has into the stack, a few rounds at most so that one
  // busy client does not hold the I/O thread. TLS yields a record a read, so a short read does
  // not mean the socket is drained.
  void read_ready() {
    char buffer[read_chunk];
    for (int round = 0; round < 4; ++round) {
      beast::error_code ec;
      std::size_t n = 0;
      if constexpr (is_tls)
        n = lowest().read_now(buffer, sizeof buffer, ec);
      else
        n = lowest().socket().read_some(net::buffer(buffer), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) break;
      if (ec) return read_ended(ec);
      consume(buffer, n);
      if (closed_ || reader_.done()) return;
      if (!is_tls && n < sizeof buffer) break;
    }
    read_next();
  }

  void consume(const char* data, std::size_t n) {
    last_received_ = clock::now();
    ping_sent_ = false;
    reader_.feed(data, n, *this);
  }

  // The peer went away or the read failed: a write still in flight may finish on its own.
  void read_ended(beast::error_code ec) {
    if (ec != net::error::eof && ec != net::error::operation_aborted &&
        ec != net::error::connection_reset)
      log::debug("ws.read_ended").field("connection", id_).field("reason", ec.message());
    read_ended_ = true;
    if (!cork_.busy()) return abort();
    // Our close frame is already out or on its way: no answer can come, so go once it is flushed
    // instead of waiting for the close timer.
    if (close_started_) return teardown_after_flush();
    begin_close();
  }

  // ws_frame_sink: what the reader found.
  void on_ws_text(std::string text) override {
    if (peer_ && !close_requested_) peer_->on_text(std::move(text));
  }
  void on_ws_binary() override {
    close(ws_close::unsupported_data, "binary frames are not accepted");
  }
  void on_ws_too_big() override {
    // The reader drops the rest of the message; the client reads this close code.
    close(ws_close::too_big,
          "a message is at most " + std::to_string(settings_.max_message_bytes) + " bytes");
  }
  void on_ws_ping(std::string_view payload) override {
    if (close_started_) return;
    cork_.append_frame(ws_opcode::pong, payload);
    cork_.kick();
  }
  void on_ws_pong() override {}
  void on_ws_close(uint16_t code) override {
    peer_closed_ = true;
    // The usual answer echoes the peer's code (RFC 6455 5.5.1).
    close_now(code == 0 ? std::string() : ws_close_payload(code, ""));
  }
  void on_ws_error(uint16_t code, const char* reason) override {
    log::debug("ws.protocol_error").field("connection", id_).field("reason", reason);
    close_now(ws_close_payload(code, reason));
  }

  // The reading is over: what is queued is dropped, this close frame (unless one went already)
  // is the last thing written, and then the connection goes.
  void close_now(std::string payload) {
    if (!close_started_) {
      {
        std::lock_guard<std::mutex> lock(queue_mu_);
        refusing_ = true;
        drop_queue();
      }
      send_close_frame(std::move(payload));
    }
    teardown_after_flush();
  }

  // Called with queue_mu_ held.
  void drop_queue() {
    std::vector<std::shared_ptr<const std::string>>().swap(queue_);
    queued_bytes_ = 0;
  }

  // Moves queued frames into the connection's write buffer, as many as it has room for, and
  // starts a flush. Whatever does not fit waits in the queue (where its limits apply) until the
  // flush completes and calls this again.
  void write_next() {
    if (closed_) return;
    if (cork_.failed()) return abort();
    // Nothing may follow a close frame, ours or the one answering the peer's.
    if (close_started_ || peer_closed_) return;
    std::vector<std::shared_ptr<const std::string>> taking;
    bool emptied;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      std::size_t bytes = 0, n = 0;
      while (n < queue_.size() && cork_.has_room() && bytes < corked_stream<Stream>::cap)
        bytes += queue_[n++]->size();
      queued_bytes_ -= bytes;
      if (n == queue_.size()) {
        taking.swap(queue_);
      } else {
        taking.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      }
      emptied = queue_.empty();
      if (emptied) drain_posted_ = false;
    }
    for (auto& f : taking) cork_.append_frame(ws_opcode::text, *f);
    cork_.kick();
    if (emptied && close_requested_) start_close();
  }

  // After what is queued, the close frame; the timer cuts a peer that never lets it through.
  void begin_close() {
    if (close_requested_ || closed_) return;
    if (!closing()) arm_close_timer();
    close_requested_ = true;
    bool idle;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      idle = !drain_posted_;
    }
    // Frames already in the write buffer go out before the close frame appended after them.
    if (idle) start_close();
  }

  void start_close() {
    if (close_started_ || closed_) return;
    std::string payload;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      payload = ws_close_payload(close_code_, close_text_);
    }
    send_close_frame(std::move(payload));
    // With the peer's reading side gone there is no close frame to wait for.
    if (peer_closed_ || read_ended_ || reader_.done()) teardown_after_flush();
  }

  void send_close_frame(std::string payload) {
    if (!closing()) arm_close_timer();
    close_started_ = true;
    cork_.append_frame(ws_opcode::close, payload);
    cork_.kick();
    // The rest of any message is read and dropped while the peer's close frame is awaited.
    reader_.discard_data();
  }

  void teardown_after_flush() {
    if (teardown_started_ || closed_) return;
    teardown_started_ = true;
    cork_.after_flush([self = self_ptr()] { self->teardown(); });
  }

  // The closing handshake is over: TLS says close_notify (bounded by the close timer), then the
  // socket goes.
  void teardown() {
    if (closed_) return;
    if constexpr (is_tls) {
      if (!cork_.failed()) {
        cork_.next_layer().async_shutdown(
            [self = self_ptr()](beast::error_code) { self->abort(); });
        return;
      }
    }
    abort();
  }

  // One timer serves both deadlines: the idle one until closing starts, the close one after.
  bool closing() const noexcept { return close_requested_ || close_started_; }

  void arm_idle_timer() {
    if (settings_.idle_timeout.count() <= 0 || closing() || closed_) return;
    const auto wait = ping_sent_ ? settings_.idle_timeout : settings_.idle_timeout / 2;
    timer_.expires_at(last_received_ + wait);
    timer_.async_wait([self = self_ptr()](beast::error_code ec) {
      if (!ec) self->on_idle_timer();
    });
  }

  void on_idle_timer() {
    if (closed_ || closing()) return;
    const auto silent = clock::now() - last_received_;
    if (silent >= settings_.idle_timeout) {
      log::debug("ws.idle_timeout").field("connection", id_);
      return abort();
    }
    if (!ping_sent_ && silent >= settings_.idle_timeout / 2) {
      ping_sent_ = true;
      cork_.append_frame(ws_opcode::ping, {});
      cork_.kick();
    }
    arm_idle_timer();
  }

  void arm_close_timer() {
    timer_.expires_after(settings_.close_timeout);
    timer_.async_wait([self = self_ptr()](beast::error_code ec) {
      if (!ec) self->abort();
    });
  }

  void abort() {
    if (closed_) return;
    closed_ = true;
    handle_->detach();
    timer_.cancel();
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      refusing_ = true;
      drop_queue();
    }
    if (auto peer = std::move(peer_)) peer->on_closed();
    forget_connection(*state_, id_);
  }

  std::shared_ptr<shared_state> state_;
  const ws_settings& settings_;
  const uint64_t id_;
  corked_stream<Stream> cork_;
  const net::any_io_executor executor_;
  request req_;
  std::string accept_key_;
  std::string early_;
  ws_open_fn open_;
  std::shared_ptr<ws_peer> peer_;
  std::shared_ptr<ws_handle> handle_ = std::make_shared<ws_handle>(id_);
  net::steady_timer timer_;
  ws_frame_reader reader_;
  clock::time_point last_received_;
  bool ping_sent_ = false;
  bool close_requested_ = false;
  bool close_started_ = false;
  bool peer_closed_ = false;
  bool read_ended_ = false;
  bool teardown_started_ = false;
  bool closed_ = false;

  std::mutex queue_mu_;  // guards what send() and close() touch from other threads
  std::vector<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  bool drain_posted_ = false;
  bool refusing_ = false;
  uint16_t close_code_ = ws_close::normal;
  std::string close_text_;
};

template <class Stream>
class session final : public session_base {
 public:
  static constexpr bool is_tls = is_tls_stream<Stream>;

  template <class... Args>
  session(std::shared_ptr<shared_state> state, uint64_t id, std::string remote_ip, Args&&... args)
      : state_(std::move(state)),
        settings_(state_->settings),
        id_(id),
        remote_ip_(std::move(remote_ip)),
        stream_(std::forward<Args>(args)...),
        executor_(stream_.get_executor()) {}

  void run() override {
    net::dispatch(stream_.get_executor(), [self = self_ptr()] { self->begin(); });
  }

  // A copy taken at construction: other threads may read it while the stream is in use.
  net::any_io_executor executor() override { return executor_; }

  void on_response(response r) override {
    if (!awaiting_ || closing_) return;
    awaiting_ = false;
    if (r.status == 101) {
      if (upgrade_key_ && ws_open_ != nullptr) return upgrade();
      r = problem(500, "Internal Server Error", "this route does not take WebSocket connections");
    }
    upgrade_key_.reset();
    write(std::move(r));
  }

  void close() override {
    // Upgraded (its stream moved to the WebSocket session) or ended already: nothing to close.
    if (finished_) return;
    closing_ = true;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
    // A connection waiting for its handler has no operation left to report the close.
    if (awaiting_) finish();
  }

 private:
  std::shared_ptr<session> self_ptr() {
    return std::static_pointer_cast<session>(shared_from_this());
  }

  Stream& lowest() { return stream_; }

  void begin() {
    if constexpr (is_tls) {
      lowest().expires_after(settings_.read_timeout);
      stream_.async_handshake([self = self_ptr()](beast::error_code ec) {
        if (ec) {
          log::debug("http.tls_handshake_failed").field("reason", ec.message());
          return self->abort();
        }
        self->wait_for_request();
      });
    } else {
      wait_for_request();
    }
  }

  // Between requests the idle timeout applies; once a request's first byte is in, the read one.
  void wait_for_request() {
    if (closing_) return finish();
    if (served_ == 0 || buffer_.size() > 0) return read_header();
    lowest().expires_after(settings_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = self_ptr()](beast::error_code ec, std::size_t n) {
                              if (ec) return self->abort();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(settings_.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<std::uint64_t>(state_->largest_body_bytes));
    body_limit_ = state_->largest_body_bytes;
    lowest().expires_after(settings_.read_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = self_ptr()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    // Each route has its body limit: a declared length beyond it is refused before the body is
    // read, and a chunked body is cut off at it.
    auto& head = parser_->get();
    auto m = state_->routes->find(to_std(head.method_string()), path_of(to_std(head.target())));
    body_limit_ =
        m.target != nullptr && m.max_body_bytes != 0 ? m.max_body_bytes : settings_.max_body_bytes;
    match_ = std::move(m);
    if (auto declared = parser_->content_length(); declared && *declared > body_limit_)
      return on_read_error(bhttp::error::body_limit);
    parser_->body_limit(static_cast<std::uint64_t>(body_limit_));
    // Clients that wait for "100 Continue" before sending a body get it once the header passed.
    if (iequals(to_std(parser_->get()[bhttp::field::expect]), "100-continue")) {
      continue_ = {};
      continue_.version(11);
      continue_.result(bhttp::status::continue_);
      bhttp::async_write(stream_, continue_,
                         [self = self_ptr()](beast::error_code ec, std::size_t) {
                           if (ec) return self->abort();
                           self->read_body();
                         });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = self_ptr()](beast::error_code ec, std::size_t) {
                        if (ec) return self->on_read_error(ec);
                        self->dispatch_request();
                      });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) return abort();
    if (ec == bhttp::error::body_limit)
      return fail(413, "the request body exceeds " + std::to_string(body_limit_) + " bytes");
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow)
      return fail(431, "the request header exceeds " + std::to_string(settings_.max_header_bytes) +
                           " bytes");
    if (&ec.category() == &bhttp::make_error_code(bhttp::error::bad_method).category())
      return fail(400, "malformed HTTP request");
    abort();  // timeout, reset or TLS failure: nobody to answer
  }

  // Answers a request that could not be read, then closes: the rest of the stream is unusable.
  void fail(int status, std::string detail) {
    req_ = request{};
    req_.request_id = new_request_id();
    route_ = "-";
    method_ = "-";
    keep_alive_ = false;
    head_request_ = false;
    drain_ = true;
    received_ = clock::now();
    write(problem(status, std::string(reason_phrase(status)), std::move(detail)));
  }

  void dispatch_request() {
    auto msg = parser_->release();
    parser_.reset();
    req_ = request{};
    received_ = clock::now();
    req_.method = std::string(msg.method_string());
    method_ = msg.method() == bhttp::verb::unknown ? "other" : req_.method;
    req_.target = std::string(msg.target());
    auto q = req_.target.find('?');
    req_.path = req_.target.substr(0, q);
    if (q != std::string::npos) req_.query = req_.target.substr(q + 1);
    for (const auto& f : msg)
      req_.headers.emplace_back(lowercase(to_std(f.name_string())), std::string(f.value()));
    req_.body = std::move(msg.body());
    req_.remote_ip = remote_ip_;
    auto incoming = req_.header("x-request-id");
    req_.request_id = incoming && valid_request_id(*incoming) ? *incoming : new_request_id();
    keep_alive_ = msg.keep_alive();
    head_request_ = msg.method() == bhttp::verb::head;
    drain_ = false;
    awaiting_ = true;

    auto m = match_ ? std::move(*match_) : state_->routes->find(req_.method, req_.path);
    match_.reset();
    if (m.target == nullptr) {
      route_ = "(unmatched)";
      if (m.status == 405) {
        auto r = problem(405, "Method Not Allowed", "this path does not accept " + method_);
        r.headers.emplace_back("Allow", m.allow);
        return on_response(std::move(r));
      }
      return on_response(problem(404, "Not Found", "no resource at this path"));
    }
    route_ = std::move(m.pattern);
    req_.params = std::move(m.params);
    ws_open_ = m.ws;
    if (m.ws != nullptr) {
      if (!websocket::is_upgrade(msg)) {
        auto r = problem(426, "Upgrade Required", "this endpoint speaks WebSocket only");
        r.headers.emplace_back("Upgrade", "websocket");
        return on_response(std::move(r));
      }
      if (to_std(msg[bhttp::field::sec_websocket_version]) != "13") {
        auto r = problem(426, "Upgrade Required", "this server speaks WebSocket version 13");
        r.headers.emplace_back("Sec-WebSocket-Version", "13");
        return on_response(std::move(r));
      }
      if (!is_valid_ws_key(to_std(msg[bhttp::field::sec_websocket_key])))
        return on_response(
            problem(400, "Bad Request", "Sec-WebSocket-Key must be the base64 of 16 bytes"));
      upgrade_key_.emplace(to_std(msg[bhttp::field::sec_websocket_key]));
    }
    auto pending = std::make_shared<pending_response>(state_, weak_from_this());
    try {
      (*m.target)(req_, [pending](response r) { pending->answer(std::move(r)); });
    } catch (...) {
      // The exception text may quote input, so only the route and the id are logged.
      log::error("http.handler_exception")
          .field("request_id", req_.request_id)
          .field("route", route_);
      pending->answer(problem(500, "Internal Server Error", "the request failed"));
    }
  }

  // Hands the stream to a WebSocket session under this connection's id; this object is done.
  void upgrade() {
    log::info("http.request")
        .field("request_id", req_.request_id)
        .field("method", method_)
        .field("route", route_)
        .field("status", 101);
    auto accept_key = ws_accept_key(*upgrade_key_);
    // Frames a client sent right behind its upgrade request were read with it.
    auto early = beast::buffers_to_string(buffer_.data());
    buffer_.clear();
    auto ws =
        std::make_shared<ws_session<Stream>>(state_, id_, std::move(stream_), std::move(req_),
                                             std::move(accept_key), std::move(early), *ws_open_);
    upgrade_key_.reset();
    finished_ = true;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (!state_->open) return;
      state_->sessions[id_].conn = ws;
    }
    ws->run();
  }

  void write(response r) {
    int status = r.status >= 200 && r.status <= 999 ? r.status : 500;
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(status));
    auto given = [&r](std::string_view name) {
      return std::any_of(r.headers.begin(), r.headers.end(),
                         [name](const auto& h) { return iequals(h.first, name); });
    };
    auto set_default = [&](std::string_view name, std::string_view value) {
      if (!given(name)) res_.set(to_beast(name), to_beast(value));
    };
    const bool no_body = status == 204 || status == 304;
    if (!no_body && !r.content_type.empty()) set_default("Content-Type", r.content_type);
    set_default("X-Request-Id", req_.request_id);
    set_default("X-Content-Type-Options", "nosniff");
    set_default("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    set_default("Referrer-Policy", "no-referrer");
    set_default("Cache-Control", "no-store");
    if constexpr (is_tls) set_default("Strict-Transport-Security", "max-age=31536000");
    for (const auto& [name, value] : r.headers) {
      // A CR or LF would let a value smuggle in headers of its own (response splitting).
      if (name.empty() || has_control_chars(name) || has_control_chars(value)) {
        log::warn("http.header_dropped")
            .field("request_id", req_.request_id)
            .field("route", route_);
        continue;
      }
      res_.insert(to_beast(name), to_beast(value));
    }
    if (!no_body) res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive_ && !closing_);
    res_.prepare_payload();
    if (head_request_) {
      // A HEAD answer announces the length of the body it does not send.
      auto length = res_.body().size();
      res_.body().clear();
      res_.content_length(length);
    }
    lowest().expires_after(settings_.read_timeout);
    bhttp::async_write(stream_, res_, [self = self_ptr()](beast::error_code ec, std::size_t) {
      self->on_write(ec);
    });
  }

  void on_write(beast::error_code ec) {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - received_);
    log::info("http.request")
        .field("request_id", req_.request_id)
        .field("method", method_)
        .field("route", route_)
        .field("status", static_cast<int>(res_.result_int()))
        .field("duration_us", static_cast<uint64_t>(micros.count()));
    if (ec) return abort();
    ++served_;
    if (!res_.keep_alive()) return shut_down();
    res_ = {};
    wait_for_request();
  }

  // After the last response: let the client read it before the socket goes. Closing with unread
  // input makes the kernel send a reset, which can destroy the answer in flight; so the send side
  // is shut first and the client's leftovers are read and discarded for a bounded time.
  void shut_down() {
    lowest().expires_after(linger_timeout);
    if constexpr (is_tls) {
      // A clean TLS close (close_notify both ways) when the request was read whole.
      if (!drain_) {
        stream_.async_shutdown([self = self_ptr()](beast::error_code) { self->abort(); });
        return;
      }
    }
    // After an error the input is unusable: a TCP FIN tells the client at once, and the
    // leftovers are discarded below the TLS layer. The answer has its length, so nothing can
    // be truncated unnoticed.
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    drained_ = 0;
    drain();
  }

  void drain() {
    if constexpr (is_tls) {
      stream_.async_wait_raw_readable([self = self_ptr()](beast::error_code ec) {
        if (ec) return self->abort();
        const std::size_t n = self->stream_.socket().read_some(net::buffer(self->scratch_), ec);
        if (ec == net::error::would_block || ec == net::error::try_again) return self->drain();
        self->drained_ += n;
        if (ec || self->drained_ > self->drain_cap()) return self->abort();
        self->drain();
      });
    } else {
      stream_.async_read_some(net::buffer(scratch_),
                              [self = self_ptr()](beast::error_code ec, std::size_t n) {
                                self->drained_ += n;
                                if (ec || self->drained_ > self->drain_cap()) return self->abort();
                                self->drain();
                              });
    }
  }

  // Enough for a client to finish sending a body somewhat over the limit and then read the 413;
  // the linger timeout bounds the time either way.
  std::size_t drain_cap() const {
    return std::max<std::size_t>(4 * body_limit_, std::size_t{16} << 20);
  }

  void abort() {
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
    finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    forget_connection(*state_, id_);
  }

  std::shared_ptr<shared_state> state_;
  const server_settings& settings_;
  const uint64_t id_;
  const std::string remote_ip_;
  Stream stream_;
  const net::any_io_executor executor_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<std::string> upgrade_key_;  // of a WebSocket upgrade waiting for its handler
  const ws_open_fn* ws_open_ = nullptr;     // its endpoint
  std::size_t body_limit_ = 0;              // of the request being read
  std::optional<router::match> match_;      // found when its header came in
  bhttp::response<bhttp::empty_body> continue_;
  bhttp::response<bhttp::string_body> res_;
  request req_;
  std::string route_;
  std::string method_;
  clock::time_point received_;
  std::array<char, 4096> scratch_{};
  std::size_t drained_ = 0;
  uint64_t served_ = 0;
  bool keep_alive_ = false;
  bool head_request_ = false;
  bool drain_ = false;
  bool awaiting_ = false;
  bool closing_ = false;
  bool finished_ = false;
};

using plain_session = session<beast::tcp_stream>;
using tls_session = session<tls_stream>;

unsigned thread_count(unsigned configured) {
  if (configured > 0) return configured;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

// ---- server ----

struct server::impl {
  impl(server_settings s, std::shared_ptr<router> r)
      : threads_wanted(thread_count(s.io_threads)),
        ioc(static_cast<int>(threads_wanted)),
        acceptor(net::make_strand(ioc)),
        backoff(acceptor.get_executor()),
        state(std::make_shared<shared_state>()) {
    state->settings = std::move(s);
    state->routes = std::move(r);
    state->largest_body_bytes = state->routes->largest_body_limit(state->settings.max_body_bytes);
  }

  const server_settings& settings() const { return state->settings; }

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      on_accept(ec, std::move(s));
    });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors, typically: pause instead of spinning on the same error.
      log::warn("http.accept_failed").field("reason", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      backoff.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor.is_open()) do_accept();
      });
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto endpoint = socket.remote_endpoint(ignored);
    std::string remote_ip = ignored ? std::string{} : endpoint.address().to_string();
    std::string address_key = per_address_key(ignored ? nullptr : &endpoint, settings());
    std::shared_ptr<session_base> conn;
    uint64_t refused_since_log = 0;
    uint64_t refused_per_address_since_log = 0;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      if (!state->open) return;
      bool over_total = state->sessions.size() >= state->settings.max_connections;
      bool over_address = false;
      if (!over_total && !address_key.empty()) {
        auto it = state->per_address.find(address_key);
        over_address = it != state->per_address.end() &&
                       it->second >= state->settings.max_connections_per_address;
      }
      if (over_total || over_address) {
        ++(over_total ? state->refused : state->refused_per_address);
        auto now = std::chrono::steady_clock::now();
        if (now - state->refusal_logged_at >= std::chrono::seconds(1)) {
          refused_since_log = state->refused - state->refused_logged;
          state->refused_logged = state->refused;
          refused_per_address_since_log =
              state->refused_per_address - state->refused_per_address_logged;
          state->refused_per_address_logged = state->refused_per_address;
          state->refusal_logged_at = now;
        }
      } else {
        uint64_t id = ++state->next_id;
        if (tls)
          conn = std::make_shared<tls_session>(state, id, std::move(remote_ip), std::move(socket),
                                               tls->native_handle());
        else
          conn =
              std::make_shared<plain_session>(state, id, std::move(remote_ip), std::move(socket));
        if (!address_key.empty()) ++state->per_address[address_key];
        state->sessions.emplace(id, shared_state::registered{conn, std::move(address_key)});
      }
    }
    if (!conn) {
      // Closed before a byte is read: the peer sees the connection end and may come back.
      socket.close(ignored);
      if (refused_since_log > 0)
        log::warn("http.connections_refused")
            .field("max_connections", static_cast<uint64_t>(settings().max_connections))
            .field("refused", refused_since_log);
      // The address stays out of the log: it is personal data (ids and counts only).
      if (refused_per_address_since_log > 0)
        log::warn("http.connections_refused_per_address")
            .field("max_connections_per_address",
                   static_cast<uint64_t>(settings().max_connections_per_address))
            .field("refused", refused_per_address_since_log);
      do_accept();
      return;
    }
    conn->run();
    do_accept();
  }

  void run_io() {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception&) {
        // Handlers catch their own exceptions; this is a last resort that keeps the thread.
        log::error("http.io_exception");
      }
    }
  }

  unsigned threads_wanted;
  // Declared before the io_context: connections still queued in it at destruction use it.
  std::optional<ssl::context> tls;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer backoff;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::shared_ptr<shared_state> state;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool running = false;
};

server::server(server_settings settings, std::shared_ptr<router> routes)
    : impl_(std::make_unique<impl>(std::move(settings), std::move(routes))) {}

server::~server() {
  stop();
}

uint16_t server::port() const {
  return impl_->port;
}

std::size_t server::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->state->mu);
  return impl_->state->sessions.size();
}

uint64_t server::refused_connections() const {
  std::lock_guard<std::mutex> lock(impl_->state->mu);
  return impl_->state->refused;
}

uint64_t server::refused_per_address_connections() const {
  std::lock_guard<std::mutex> lock(impl_->state->mu);
  return impl_->state->refused_per_address;
}

caf::error server::start() {
  auto& d = *impl_;
  const auto& s = d.settings();
  if (d.running || !d.state->open)
    return make_error(errc::invalid_argument, "the server was already started");
  if (!d.state->routes) return make_error(errc::invalid_argument, "the server has no router");
  if (s.plain_http && !is_loopback_host(s.host))
    return make_error(errc::invalid_argument,
                      "--plain-http is allowed only on a loopback address (127.0.0.0/8, ::1, "
                      "localhost), not on " +
                          s.host);
  if (s.max_body_bytes == 0 || s.max_header_bytes == 0)
    return make_error(errc::invalid_argument, "body and header limits must be positive");
  if (!s.plain_http) {
    if (s.tls_cert.empty() || s.tls_key.empty())
      return make_error(errc::invalid_argument, "HTTPS needs a certificate and a key file");
    d.tls.emplace(ssl::context::tls_server);
    if (auto err = configure_server_context(d.tls->native_handle(), s.tls_cert, s.tls_key)) {
      d.tls.reset();
      return err;
    }
  }

  std::string host = s.host;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (iequals(host, "localhost")) host = "127.0.0.1";
  beast::error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec)
    return make_error(errc::invalid_argument,
                      "the listen host must be an IP address or localhost, not " + s.host);
  const tcp::endpoint endpoint{addr, s.port};
  const std::string where = s.host + ":" + std::to_string(s.port);
  auto fail = [&](const char* step) {
    beast::error_code ignored;
    d.acceptor.close(ignored);
    return make_error(errc::invalid_argument,
                      std::string("cannot ") + step + " on " + where + ": " + ec.message());
  };
  if (d.acceptor.open(endpoint.protocol(), ec); ec) return fail("open a socket");
  if (d.acceptor.set_option(net::socket_base::reuse_address(true), ec); ec)
    return fail("set SO_REUSEADDR");
  if (d.acceptor.bind(endpoint, ec); ec) return fail("bind");
  if (d.acceptor.listen(net::socket_base::max_listen_connections, ec); ec) return fail("listen");
  auto local = d.acceptor.local_endpoint(ec);
  if (ec) return fail("read the bound port");
  d.port = local.port();

  // Keeps the I/O threads alive while no operation is pending (stop() posts to them).
  d.work.emplace(d.ioc.get_executor());
  net::post(d.acceptor.get_executor(), [&d] { d.do_accept(); });
  d.threads.reserve(d.threads_wanted);
  for (unsigned i = 0; i < d.threads_wanted; ++i) d.threads.emplace_back([&d] { d.run_io(); });
  d.running = true;
  log::info("http.listening")
      .field("port", static_cast<unsigned>(d.port))
      .field("tls", !s.plain_http)
      .field("io_threads", d.threads_wanted);
  return {};
}

void server::stop() {
  auto& d = *impl_;
  if (!d.running) return;
  d.running = false;

  std::vector<std::shared_ptr<session_base>> open_sessions;
  {
    std::lock_guard<std::mutex> lock(d.state->mu);
    d.state->open = false;
    for (const auto& [id, s] : d.state->sessions) open_sessions.push_back(s.conn);
  }
  // Every close runs on its own strand; the latch waits until each has run.
  std::latch closed(static_cast<std::ptrdiff_t>(open_sessions.size() + 1));
  net::post(d.acceptor.get_executor(), [&d, &closed] {
    beast::error_code ignored;
    d.acceptor.close(ignored);
    d.backoff.cancel();
    closed.count_down();
  });
  for (const auto& s : open_sessions) {
    net::post(s->executor(), [s, &closed] {
      s->close();
      closed.count_down();
    });
  }
  closed.wait();
  open_sessions.clear();

  d.work.reset();
  d.ioc.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();

  std::unordered_map<uint64_t, shared_state::registered> leftovers;
  {
    std::lock_guard<std::mutex> lock(d.state->mu);
    leftovers.swap(d.state->sessions);
  }
  leftovers.clear();
  log::info("http.stopped");
}

}  // namespace mext::http
