// The load generator of the WebSocket fan-out benchmark (bench/ws_fanout.sh): one room of N
// members and one sender, against mextd or the Node reference servers, over plain or TLS
// WebSocket on loopback, on one thread, with a WebSocket client of its own (below).
//
//   ws_fanout_load --port P --protocol mext|broadcast|socketio [--tls] --members N
//                  [--token T --room R] --rates 100,200,500 [--step-s 5] [--idle-s 0]
//                  [--server-pid PID]
//
// The sender is open-loop: message i of a step is due at start + i/rate, and carries that due
// time ("T=<ns>;") so that latency counts from when the message should have left, not from when
// a slow server let it. Receivers only look for "T=" in each frame. Per step it prints the
// offered rate, messages sent, deliveries (per second and as a share of sent x members) and
// send-to-delivery latency p50/p99/max, as one JSON object a line. With --idle-s it connects the
// members, prints "idle N" and waits that long without sending (for memory figures), then exits.
// It stops rising once p99 passes 1 s. Each step also reports the CPU the generator used and,
// with --server-pid, the server's, in cores (1.0: one core busy the whole step), so that a
// ladder shows which side ran out first.

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch())
      .count();
}

struct options {
  uint16_t port = 0;
  std::string protocol = "mext";
  bool tls = false;
  int members = 10;
  std::string token, room;
  std::vector<double> rates{100};
  int step_s = 5;
  int idle_s = 0;
  int server_pid = 0;
};

// CPU seconds (user + system) this process has used.
double own_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU seconds another process has used, from /proc/PID/stat; negative when it cannot be read.
double process_cpu_s(int pid) {
  if (pid <= 0) return -1;
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (!f) return -1;
  char buf[1024];
  auto n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // Fields after the command name, which is in parentheses and may hold spaces.
  const char* p = std::strrchr(buf, ')');
  if (!p) return -1;
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2)
    return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Log-linear latency histogram: 16 buckets per power of two of microseconds.
class histogram {
 public:
  void add(int64_t ns) {
    double us = std::max<double>(1.0, static_cast<double>(ns) / 1000.0);
    auto b = static_cast<std::size_t>(std::log2(us) * 16.0);
    b = std::min(b, counts_.size() - 1);
    ++counts_[b];
    ++total_;
    max_ns_ = std::max(max_ns_, ns);
  }
  double quantile_ms(double q) const {
    if (total_ == 0) return 0;
    auto want = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    uint64_t seen = 0;
    for (std::size_t b = 0; b < counts_.size(); ++b) {
      seen += counts_[b];
      if (seen >= want) return std::pow(2.0, static_cast<double>(b + 1) / 16.0) / 1000.0;
    }
    return max_ms();
  }
  double max_ms() const { return static_cast<double>(max_ns_) / 1e6; }
  uint64_t total() const { return total_; }

 private:
  std::array<uint64_t, 16 * 40> counts_{};
  uint64_t total_ = 0;
  int64_t max_ns_ = 0;
};

struct shared_stats {
  histogram latency;
  uint64_t deliveries = 0;
  int ready = 0;
  int failed = 0;
};

// One client connection: plain or TLS, speaking one of the three protocols. It frames
// WebSocket itself on the byte stream: a member reads whatever the socket holds in one call and
// walks the frames in place, so that the generator's cost per delivery stays well below the
// servers' (with Beast's client, one composed read per message, it was the generator that ran
// out of its core first over TLS).
class client : public std::enable_shared_from_this<client> {
 public:
  client(net::io_context& ioc, ssl::context& ctx, const options& o, shared_stats& stats,
         bool sender)
      : o_(o), stats_(stats), sender_(sender) {
    if (o.tls)
      tls_.emplace(ioc, ctx);
    else
      plain_.emplace(ioc);
    in_.resize(64 * 1024);
  }

  void start() {
    auto self = shared_from_this();
    tcp::endpoint ep(net::ip::address_v4::loopback(), o_.port);
    socket().async_connect(ep, [self](boost::system::error_code ec) {
      if (ec) return self->fail("connect", ec);
      self->socket().set_option(tcp::no_delay(true));
      if (!self->tls_) return self->upgrade();
      self->tls_->async_handshake(ssl::stream_base::client, [self](boost::system::error_code ec) {
        if (ec) return self->fail("tls", ec);
        self->upgrade();
      });
    });
  }

  // Queues a text message (the sender only).
  void send(std::string_view text) { queue_frame(0x1, text); }

  bool ready() const { return ready_; }

 private:
  tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

  template <class F>
  void with(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*plain_);
  }

  void upgrade() {
    std::string target = o_.protocol == "mext"       ? "/api/v1/ws"
                         : o_.protocol == "socketio" ? "/socket.io/?EIO=4&transport=websocket"
                                                     : "/";
    pending_ = "GET " + target +
               " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    flush();
    read();
  }

  void read() {
    auto self = shared_from_this();
    if (used_ == in_.size()) in_.resize(in_.size() * 2);  // one message larger than the buffer
    with([&](auto& s) {
      s.async_read_some(net::buffer(in_.data() + used_, in_.size() - used_),
                        [self](boost::system::error_code ec, std::size_t n) {
                          if (ec) return self->fail("read", ec);
                          self->used_ += n;
                          if (!self->consume()) return;
                          self->read();
                        });
    });
  }

  // Walks the bytes read so far: the upgrade answer, then every whole frame; keeps a partial
  // frame at the front of the buffer. False once the connection is done for.
  bool consume() {
    std::size_t pos = 0;
    if (!upgraded_) {
      std::string_view head(in_.data(), used_);
      auto end = head.find("\r\n\r\n");
      if (end == std::string_view::npos) return true;
      if (head.substr(0, 12) != "HTTP/1.1 101") {
        fail("upgrade", boost::system::errc::make_error_code(boost::system::errc::protocol_error));
        return false;
      }
      upgraded_ = true;
      pos = end + 4;
      opened();
    }
    const auto* b = reinterpret_cast<const unsigned char*>(in_.data());
    for (;;) {
      if (used_ - pos < 2) break;
      const bool fin = (b[pos] & 0x80) != 0;
      const int opcode = b[pos] & 0x0f;
      const bool masked = (b[pos + 1] & 0x80) != 0;
      uint64_t len = b[pos + 1] & 0x7f;
      std::size_t head = 2;
      if (len == 126) {
        if (used_ - pos < 4) break;
        len = (uint64_t{b[pos + 2]} << 8) | b[pos + 3];
        head = 4;
      } else if (len == 127) {
        if (used_ - pos < 10) break;
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b[pos + 2 + i];
        head = 10;
      }
      if (masked) head += 4;  // a server never masks; read past it all the same
      if (used_ - pos < head + len) break;
      std::string_view payload(in_.data() + pos + head, static_cast<std::size_t>(len));
      pos += head + static_cast<std::size_t>(len);
      if (opcode == 0x9) {
        queue_frame(0xA, payload);
      } else if (opcode == 0x8) {
        fail("read", boost::system::errc::make_error_code(boost::system::errc::connection_reset));
        return false;
      } else if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0) {
        if (fin && opcode != 0x0 && partial_.empty()) {
          on_message(payload);
        } else {
          partial_.append(payload);
          if (fin) {
            on_message(partial_);
            partial_.clear();
          }
        }
      }
    }
    if (pos > 0) {
      std::memmove(in_.data(), in_.data() + pos, used_ - pos);
      used_ -= pos;
    }
    return true;
  }

  void opened() {
    if (o_.protocol == "mext")
      send(R"({"op":"auth","token":")" + o_.token + "\"}");
    else if (o_.protocol == "broadcast")
      become_ready();
  }

  void become_ready() {
    if (ready_) return;
    ready_ = true;
    ++stats_.ready;
  }

  void on_message(std::string_view text) {
    auto t = text.find("T=");
    if (t != std::string_view::npos) {
      if (!sender_) {
        int64_t sent = 0;
        for (auto i = t + 2; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
          sent = sent * 10 + (text[i] - '0');
        stats_.latency.add(now_ns() - sent);
        ++stats_.deliveries;
      }
    } else if (o_.protocol == "mext") {
      if (text.find(R"("ev":"ready")") != std::string_view::npos) {
        if (sender_)
          become_ready();
        else
          send(R"({"op":"join","room_id":")" + o_.room + "\"}");
      } else if (text.find(R"("ev":"joined")") != std::string_view::npos) {
        become_ready();
      } else if (text.find(R"("ev":"error")") != std::string_view::npos) {
        std::cerr << "server error: " << text << "\n";
      }
    } else if (o_.protocol == "socketio") {
      if (text == "2") {
        send("3");
      } else if (text.substr(0, 1) == "0") {
        send("40");
      } else if (text.substr(0, 2) == "40") {
        become_ready();
      }
    }
  }

  // A client frame: FIN, the opcode, the length, a mask key and the masked payload (RFC 6455
  // 5.3); frames queued while a write is in flight leave together in the next one.
  void queue_frame(int opcode, std::string_view payload) {
    std::string& out = writing_ ? next_ : pending_;
    out += static_cast<char>(0x80 | opcode);
    if (payload.size() < 126) {
      out += static_cast<char>(0x80 | payload.size());
    } else if (payload.size() < 65536) {
      out += static_cast<char>(0x80 | 126);
      out += static_cast<char>(payload.size() >> 8);
      out += static_cast<char>(payload.size() & 0xff);
    } else {
      out += static_cast<char>(0x80 | 127);
      for (int i = 7; i >= 0; --i) out += static_cast<char>((payload.size() >> (8 * i)) & 0xff);
    }
    const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    out.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
      out += static_cast<char>(payload[i] ^ static_cast<char>(key[i % 4]));
    if (!writing_) flush();
  }

  void flush() {
    if (writing_ || pending_.empty()) return;
    writing_ = true;
    auto self = shared_from_this();
    with([&](auto& s) {
      net::async_write(s, net::buffer(pending_), [self](boost::system::error_code ec, std::size_t) {
        self->writing_ = false;
        if (ec) return self->fail("write", ec);
        self->pending_.clear();
        std::swap(self->pending_, self->next_);
        self->flush();
      });
    });
  }

  void fail(const char* what, boost::system::error_code ec) {
    if (failed_) return;
    failed_ = true;
    ++stats_.failed;
    if (stats_.failed <= 5) std::cerr << "client " << what << ": " << ec.message() << "\n";
  }

  const options& o_;
  shared_stats& stats_;
  bool sender_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::optional<tcp::socket> plain_;
  std::vector<char> in_;
  std::size_t used_ = 0;
  std::string partial_;
  std::string pending_, next_;  // bytes being written; bytes queued behind them
  bool writing_ = false;
  bool upgraded_ = false;
  bool ready_ = false;
  bool failed_ = false;
};

std::vector<double> parse_rates(const std::string& s) {
  std::vector<double> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto comma = s.find(',', pos);
    out.push_back(std::stod(s.substr(pos, comma - pos)));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--port")
      o.port = static_cast<uint16_t>(std::stoi(next()));
    else if (a == "--protocol")
      o.protocol = next();
    else if (a == "--tls")
      o.tls = true;
    else if (a == "--members")
      o.members = std::stoi(next());
    else if (a == "--token")
      o.token = next();
    else if (a == "--room")
      o.room = next();
    else if (a == "--rates")
      o.rates = parse_rates(next());
    else if (a == "--step-s")
      o.step_s = std::stoi(next());
    else if (a == "--idle-s")
      o.idle_s = std::stoi(next());
    else if (a == "--server-pid")
      o.server_pid = std::stoi(next());
    else {
      std::cerr << "unknown argument " << a << "\n";
      std::exit(2);
    }
  }
  if (o.port == 0 || (o.protocol == "mext" && (o.token.empty() || o.room.empty()))) {
    std::cerr << "usage: ws_fanout_load --port P --protocol mext|broadcast|socketio [--tls] "
                 "--members N [--token T --room R] --rates 100,200 [--step-s 5] [--idle-s 0] "
                 "[--server-pid PID]\n";
    std::exit(2);
  }
  return o;
}

// Runs the io_context until pred() holds or `limit` passes; false on the limit.
template <class Pred>
bool run_until(net::io_context& ioc, Pred pred, std::chrono::milliseconds limit) {
  auto deadline = clock_type::now() + limit;
  while (!pred()) {
    if (clock_type::now() >= deadline) return false;
    ioc.run_for(std::chrono::milliseconds(5));
    if (ioc.stopped()) ioc.restart();
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  auto o = parse(argc, argv);
  net::io_context ioc{1};
  ssl::context ctx{ssl::context::tls_client};
  ctx.set_verify_mode(ssl::verify_none);
  shared_stats stats;

  std::vector<std::shared_ptr<client>> members;
  members.reserve(static_cast<std::size_t>(o.members));
  // Connect in waves so that the accept backlog is never the limit.
  for (int i = 0; i < o.members; ++i) {
    members.push_back(std::make_shared<client>(ioc, ctx, o, stats, false));
    members.back()->start();
    if (i % 100 == 99)
      run_until(
          ioc, [&] { return stats.ready + stats.failed >= i + 1; }, std::chrono::seconds(60));
  }
  auto sender = std::make_shared<client>(ioc, ctx, o, stats, true);
  sender->start();
  if (!run_until(
          ioc, [&] { return stats.ready + stats.failed >= o.members + 1; },
          std::chrono::seconds(120)) ||
      stats.failed > 0) {
    std::cerr << "only " << stats.ready << " of " << o.members + 1 << " clients ready, "
              << stats.failed << " failed\n";
    return 1;
  }
  if (o.idle_s > 0) {
    std::cout << "idle " << o.members << std::endl;
    run_until(
        ioc, [] { return false; }, std::chrono::seconds(o.idle_s));
    return 0;
  }
  // Let presence and join traffic settle before measuring.
  run_until(
      ioc, [] { return false; }, std::chrono::milliseconds(1500));

  uint64_t serial = 0;
  for (double rate : o.rates) {
    stats.latency = histogram{};
    stats.deliveries = 0;
    const auto start = clock_type::now();
    const auto step_len = std::chrono::seconds(o.step_s);
    uint64_t sent = 0;
    const int64_t start_ns = now_ns();
    const double client_cpu_before = own_cpu_s();
    const double server_cpu_before = process_cpu_s(o.server_pid);
    while (clock_type::now() - start < step_len) {
      // Every message due by now leaves, stamped with the time it was due.
      auto elapsed = static_cast<double>(now_ns() - start_ns) / 1e9;
      auto due = static_cast<uint64_t>(elapsed * rate);
      for (; sent < due; ++sent) {
        int64_t due_ns = start_ns + static_cast<int64_t>(static_cast<double>(sent) / rate * 1e9);
        std::string text = "T=" + std::to_string(due_ns) + ";";
        ++serial;
        if (o.protocol == "mext")
          sender->send(R"({"op":"send","room_id":")" + o.room + R"(","text":")" + text +
                       R"(","client_msg_id":"c)" + std::to_string(serial) + "\"}");
        else if (o.protocol == "socketio")
          sender->send("42[\"msg\",\"" + text + "\"]");
        else
          sender->send(text);
      }
      ioc.run_for(std::chrono::microseconds(500));
      if (ioc.stopped()) ioc.restart();
    }
    // Deliveries still in flight get one more second, counted with their true latency.
    run_until(
        ioc, [] { return false; }, std::chrono::seconds(1));
    const double wall_s = static_cast<double>(now_ns() - start_ns) / 1e9;
    const double client_cores = (own_cpu_s() - client_cpu_before) / wall_s;
    const double server_cpu_after = process_cpu_s(o.server_pid);
    const double server_cores = server_cpu_before >= 0 && server_cpu_after >= 0
                                    ? (server_cpu_after - server_cpu_before) / wall_s
                                    : -1;
    // Per second of sending: the drain second only lets the step's own messages arrive.
    const double secs = static_cast<double>(o.step_s);
    const double expected = static_cast<double>(sent) * o.members;
    std::printf(
        "{\"protocol\":\"%s\",\"tls\":%s,\"members\":%d,\"offered_msgs_per_s\":%.0f,"
        "\"sent\":%llu,\"deliveries\":%llu,\"delivered_share\":%.4f,"
        "\"deliveries_per_s\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
        "\"failed_clients\":%d,\"client_cores\":%.2f,\"server_cores\":%.2f}\n",
        o.protocol.c_str(), o.tls ? "true" : "false", o.members, rate,
        static_cast<unsigned long long>(sent), static_cast<unsigned long long>(stats.deliveries),
        expected > 0 ? static_cast<double>(stats.deliveries) / expected : 0.0,
        static_cast<double>(stats.deliveries) / secs, stats.latency.quantile_ms(0.5),
        stats.latency.quantile_ms(0.99), stats.latency.max_ms(), stats.failed, client_cores,
        server_cores);
    std::fflush(stdout);
    if (stats.latency.quantile_ms(0.99) > 1000.0 || stats.failed > 0) break;
  }
  return 0;
}
