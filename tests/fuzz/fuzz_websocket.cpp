// Fuzz target: the WebSocket endpoint behind a real handshake on a real socket — the frame
// reader (http/ws_frames) and the server's limits (raw mode), and the protocol's JSON frames as the
// session actor reads them (message modes).
//
// Input: one mode byte, then the payload.
//   mode % 3 == 0: the payload is the raw client-to-server byte stream (frames, masks, opcodes),
//                  signed in with a session cookie;
//   mode % 3 == 1: the payload is text messages separated by '\n', each sent as one masked text
//                  frame, signed in with a session cookie;
//   mode % 3 == 2: the same without a cookie: the first frame must authenticate
//                  ({"op":"auth","token":"@VISITOR@"}).
// The signed-in identity is (mode / 3) % 3 + 1: visitor, representative or administrator.
// Placeholders (fuzz_server.hpp) are expanded in messages, not in raw streams.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_server.hpp"

namespace {

// A masked text frame, as clients must send them (RFC 6455 5.3).
void append_text_frame(std::string& out, std::string_view text) {
  static constexpr unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  out.push_back(static_cast<char>(0x81));
  if (text.size() < 126) {
    out.push_back(static_cast<char>(0x80 | text.size()));
  } else if (text.size() <= 0xffff) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(text.size() >> 8));
    out.push_back(static_cast<char>(text.size() & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xff));
  }
  out.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < text.size(); ++i)
    out.push_back(static_cast<char>(static_cast<unsigned char>(text[i]) ^ mask[i % 4]));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto& server = mext::fuzz::fuzz_server::get();
  const unsigned mode = data[0];
  std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  const int who = static_cast<int>((mode / 3) % 3) + 1;
  if (mode % 3 == 0) {
    server.ws_exchange(who, payload);
  } else {
    std::string frames;
    auto text = server.expand(payload);
    std::string_view rest(text);
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      append_text_frame(frames, rest.substr(0, nl));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
    server.ws_exchange(mode % 3 == 1 ? who : 0, frames);
  }
  server.keep_identities();
  return 0;
}
