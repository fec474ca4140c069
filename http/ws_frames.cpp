#include "http/ws_frames.hpp"

#include <algorithm>
#include <cstring>

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace mext::http {

std::string ws_accept_key(std::string_view client_key) {
  static constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input;
  input.reserve(client_key.size() + guid.size());
  input.append(client_key).append(guid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  // 20 bytes encode to 28 characters and EVP_EncodeBlock's terminating NUL.
  unsigned char encoded[29];
  const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

bool is_valid_ws_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  });
}

bool is_valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    static constexpr uint32_t least[] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += n + 1;
  }
  return true;
}

void append_ws_frame(std::vector<unsigned char>& out, unsigned char opcode,
                     std::string_view payload) {
  unsigned char header[10];
  std::size_t n = 0;
  header[n++] = static_cast<unsigned char>(0x80 | opcode);  // FIN: never fragmented
  const uint64_t len = payload.size();
  if (len < 126) {
    header[n++] = static_cast<unsigned char>(len);
  } else if (len <= 0xffff) {
    header[n++] = 126;
    header[n++] = static_cast<unsigned char>(len >> 8);
    header[n++] = static_cast<unsigned char>(len);
  } else {
    header[n++] = 127;
    for (int shift = 56; shift >= 0; shift -= 8)
      header[n++] = static_cast<unsigned char>(len >> shift);
  }
  out.insert(out.end(), header, header + n);
  out.insert(out.end(), payload.begin(), payload.end());
}

std::string ws_close_payload(uint16_t code, std::string_view reason) {
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xff));
  // A control frame carries at most 125 bytes; a cut must not split a UTF-8 sequence.
  std::size_t keep = std::min<std::size_t>(reason.size(), 123);
  while (keep > 0 && keep < reason.size() &&
         (static_cast<unsigned char>(reason[keep]) & 0xc0) == 0x80)
    --keep;
  out.append(reason.substr(0, keep));
  return out;
}

namespace {

bool is_control(unsigned char opcode) {
  return (opcode & 0x8) != 0;
}

// Codes a peer may send in a close frame (RFC 6455 7.4; 1012–1014 registered since).
bool is_valid_close_code(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// How long the header is once its first two bytes are known.
std::size_t header_length(const unsigned char* h) {
  const unsigned len7 = h[1] & 0x7f;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((h[1] & 0x80) != 0 ? 4 : 0);
}

}  // namespace

void ws_frame_reader::feed(const char* data, std::size_t size, ws_frame_sink& sink) {
  while (size > 0 && !done_) {
    if (!in_frame_) {
      header_[header_size_++] = static_cast<unsigned char>(*data++);
      --size;
      if (header_size_ == 2) {
        const unsigned char b0 = header_[0], b1 = header_[1];
        const unsigned char opcode = b0 & 0x0f;
        if ((b0 & 0x70) != 0) return fail(sink, ws_close::protocol_error, "reserved bits set");
        if ((b1 & 0x80) == 0)
          return fail(sink, ws_close::protocol_error, "client frames must be masked");
        if (is_control(opcode) && ((b0 & 0x80) == 0 || (b1 & 0x7f) > 125))
          return fail(sink, ws_close::protocol_error, "a control frame is whole and short");
      }
      if (header_size_ >= 2 && header_size_ == header_length(header_)) start_frame(sink);
      continue;
    }
    const auto n = static_cast<std::size_t>(std::min<uint64_t>(size, remaining_));
    if (is_control(opcode_)) {
      for (std::size_t i = 0; i < n; ++i)
        control_[control_size_++] = static_cast<char>(data[i] ^ mask_[(offset_ + i) % 4]);
    } else if (!message_dropped_) {
      const auto old = message_.size();
      message_.resize(old + n);
      for (std::size_t i = 0; i < n; ++i)
        message_[old + i] = static_cast<char>(data[i] ^ mask_[(offset_ + i) % 4]);
    }
    offset_ += n;
    remaining_ -= n;
    data += n;
    size -= n;
    if (remaining_ == 0) end_frame(sink);
  }
}

void ws_frame_reader::start_frame(ws_frame_sink& sink) {
  const unsigned char* h = header_;
  fin_ = (h[0] & 0x80) != 0;
  opcode_ = h[0] & 0x0f;
  uint64_t len = h[1] & 0x7f;
  std::size_t at = 2;
  if (len == 126) {
    len = (uint64_t{h[2]} << 8) | h[3];
    at = 4;
    if (len < 126) return fail(sink, ws_close::protocol_error, "a frame length not minimal");
  } else if (len == 127) {
    len = 0;
    for (std::size_t i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
    at = 10;
    if (len >> 63) return fail(sink, ws_close::protocol_error, "a frame length out of range");
    if (len <= 0xffff) return fail(sink, ws_close::protocol_error, "a frame length not minimal");
  }
  std::memcpy(mask_, h + at, 4);
  header_size_ = 0;

  switch (opcode_) {
    case ws_opcode::continuation:
      if (!in_message_)
        return fail(sink, ws_close::protocol_error, "a continuation frame outside a message");
      break;
    case ws_opcode::text:
    case ws_opcode::binary:
      if (in_message_)
        return fail(sink, ws_close::protocol_error, "a new message before the last one ended");
      in_message_ = true;
      message_dropped_ = discarding_;
      if (opcode_ == ws_opcode::binary && !discarding_) {
        discard_data();
        message_dropped_ = true;
        sink.on_ws_binary();
      }
      break;
    case ws_opcode::close:
    case ws_opcode::ping:
    case ws_opcode::pong:
      break;
    default:
      return fail(sink, ws_close::protocol_error, "an unknown opcode");
  }
  if (!is_control(opcode_) && !message_dropped_) {
    if (discarding_) {
      message_dropped_ = true;
      release_message();
    } else if (len > max_message_bytes_ - std::min(max_message_bytes_, message_.size())) {
      discard_data();
      message_dropped_ = true;
      sink.on_ws_too_big();
    }
  }
  in_frame_ = true;
  remaining_ = len;
  offset_ = 0;
  control_size_ = 0;
  if (remaining_ == 0) end_frame(sink);
}

void ws_frame_reader::end_frame(ws_frame_sink& sink) {
  in_frame_ = false;
  switch (opcode_) {
    case ws_opcode::ping:
      return sink.on_ws_ping(std::string_view(control_, control_size_));
    case ws_opcode::pong:
      return sink.on_ws_pong();
    case ws_opcode::close: {
      if (control_size_ == 1) return fail(sink, ws_close::protocol_error, "a close code cut short");
      uint16_t code = 0;
      if (control_size_ >= 2) {
        code = static_cast<uint16_t>((static_cast<unsigned char>(control_[0]) << 8) |
                                     static_cast<unsigned char>(control_[1]));
        if (!is_valid_close_code(code))
          return fail(sink, ws_close::protocol_error, "an invalid close code");
        if (!is_valid_utf8(std::string_view(control_ + 2, control_size_ - 2)))
          return fail(sink, ws_close::invalid_payload, "a close reason not valid UTF-8");
      }
      done_ = true;
      release_message();
      return sink.on_ws_close(code);
    }
    default:
      break;
  }
  if (!fin_) return;
  in_message_ = false;
  if (message_dropped_) {
    message_dropped_ = false;
    return;
  }
  if (!is_valid_utf8(message_))
    return fail(sink, ws_close::invalid_payload, "text not valid UTF-8");
  std::string text;
  text.swap(message_);
  sink.on_ws_text(std::move(text));
}

void ws_frame_reader::fail(ws_frame_sink& sink, uint16_t code, const char* reason) {
  done_ = true;
  in_frame_ = false;
  release_message();
  sink.on_ws_error(code, reason);
}

}  // namespace mext::http
