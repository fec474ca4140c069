#pragma once

// The server side of the WebSocket wire format (RFC 6455), without I/O: the opening handshake's
// checks and answer, a frame reader fed with whatever bytes the socket gave, and the encoding of
// the (unmasked) frames a server sends. The connection in server.cpp owns the socket; keeping the
// protocol here lets an idle connection hold no read buffer at all (the reader keeps only a
// frame header and, while a message is arriving, that message) and lets tests and the fuzzer
// drive the parser byte by byte.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mext::http {

// Close codes (RFC 6455 7.4.1) the server sends.
namespace ws_close {
inline constexpr uint16_t normal = 1000;
inline constexpr uint16_t protocol_error = 1002;
inline constexpr uint16_t unsupported_data = 1003;
inline constexpr uint16_t invalid_payload = 1007;
inline constexpr uint16_t policy = 1008;
inline constexpr uint16_t too_big = 1009;
inline constexpr uint16_t internal_error = 1011;
}  // namespace ws_close

namespace ws_opcode {
inline constexpr unsigned char continuation = 0x0;
inline constexpr unsigned char text = 0x1;
inline constexpr unsigned char binary = 0x2;
inline constexpr unsigned char close = 0x8;
inline constexpr unsigned char ping = 0x9;
inline constexpr unsigned char pong = 0xa;
}  // namespace ws_opcode

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2).
std::string ws_accept_key(std::string_view client_key);

// True when `key` is what a client must send: the base64 of 16 bytes (24 characters).
bool is_valid_ws_key(std::string_view key);

// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF), as text messages and close reasons must be.
bool is_valid_utf8(std::string_view text);

// Appends one unfragmented, unmasked frame (a server's frames carry no mask, RFC 6455 5.1).
void append_ws_frame(std::vector<unsigned char>& out, unsigned char opcode,
                     std::string_view payload);
// A close frame's payload: the code, then the reason cut to fit a control frame (123 bytes).
std::string ws_close_payload(uint16_t code, std::string_view reason);

// What the reader found, in the order of the stream. Calls come from inside feed().
class ws_frame_sink {
 public:
  virtual ~ws_frame_sink() = default;
  // A complete text message: valid UTF-8, at most the reader's limit.
  virtual void on_ws_text(std::string text) = 0;
  // The first frame of a binary message; the reader drops data from here on (discarding).
  virtual void on_ws_binary() = 0;
  // A text message grew past the limit; the reader drops data from here on (discarding).
  virtual void on_ws_too_big() = 0;
  virtual void on_ws_ping(std::string_view payload) = 0;
  virtual void on_ws_pong() = 0;
  // The peer's close frame; code 0 when it carried none. The reader is done.
  virtual void on_ws_close(uint16_t code) = 0;
  // The stream broke the protocol (code 1002) or a text message was not UTF-8 (1007). The
  // reader is done; the connection is to be failed with this code.
  virtual void on_ws_error(uint16_t code, const char* reason) = 0;
};

// Parses client-to-server frames from bytes in any chunking. Between frames it holds nothing on
// the heap; while a text message arrives it holds that message (at most max_message_bytes).
class ws_frame_reader {
 public:
  explicit ws_frame_reader(std::size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Consumes all of `data` unless the reader becomes done on the way (close or error): what
  // follows the peer's close frame is not read.
  void feed(const char* data, std::size_t size, ws_frame_sink& sink);

  // From now on data frames are parsed and dropped; control frames still count.
  void discard_data() {
    discarding_ = true;
    release_message();
  }

  bool done() const noexcept { return done_; }
  // Bytes of an unfinished frame or message held: 0 between messages.
  bool idle() const noexcept { return header_size_ == 0 && !in_frame_ && !in_message_; }

 private:
  void start_frame(ws_frame_sink& sink);
  void end_frame(ws_frame_sink& sink);
  void fail(ws_frame_sink& sink, uint16_t code, const char* reason);
  void release_message() { std::string().swap(message_); }

  const std::size_t max_message_bytes_;
  bool done_ = false;
  bool discarding_ = false;

  // The frame header being gathered (at most 2 + 8 + 4 bytes).
  unsigned char header_[14];
  std::size_t header_size_ = 0;

  // The frame whose payload is arriving.
  bool in_frame_ = false;
  bool fin_ = false;
  unsigned char opcode_ = 0;
  unsigned char mask_[4] = {0, 0, 0, 0};
  uint64_t remaining_ = 0;
  uint64_t offset_ = 0;  // payload bytes of this frame seen so far (for the mask)

  // A control frame's payload (at most 125 bytes).
  char control_[125];
  std::size_t control_size_ = 0;

  // The data message (text, or binary being dropped) spanning one or more frames.
  bool in_message_ = false;
  bool message_dropped_ = false;
  std::string message_;
};

}  // namespace mext::http
