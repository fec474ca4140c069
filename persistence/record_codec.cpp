#include "persistence/record_codec.hpp"

#include <array>
#include <cstring>

#include <kj/exception.h>

#include "persistence/errors.hpp"

namespace mext::persistence {
namespace {

constexpr uint8_t frame_version = 1;
constexpr size_t header_size = 6;

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (0x82F63B78u ^ (c >> 1)) : (c >> 1);
    table[i] = c;
  }
  return table;
}

const std::array<uint32_t, 256> crc_table = make_crc_table();

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = crc_table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

capnp::ReaderOptions record_reader_options(size_t payload_words) {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords =
      traversal_words_floor + traversal_words_per_payload_word * uint64_t{payload_words};
  opts.nestingLimit = 64;
  return opts;
}

std::string encode_record(schema::RecordKind kind, capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  std::string out;
  out.resize(header_size + bytes.size());
  out[0] = static_cast<char>(frame_version);
  out[1] = static_cast<char>(static_cast<uint16_t>(kind));
  uint32_t crc = crc32c({reinterpret_cast<const char*>(bytes.begin()), bytes.size()});
  for (int i = 0; i < 4; ++i) out[2 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  std::memcpy(out.data() + header_size, bytes.begin(), bytes.size());
  return out;
}

caf::expected<std::unique_ptr<record_reader>> decode_record(std::string_view bytes,
                                                            schema::RecordKind expected) {
  if (bytes.size() < header_size + sizeof(capnp::word))
    return make_error(errc::corrupt_record, "record is truncated");
  if (static_cast<uint8_t>(bytes[0]) != frame_version)
    return make_error(errc::corrupt_record,
                      "unknown record frame version " + std::to_string(uint8_t(bytes[0])));
  if (static_cast<uint8_t>(bytes[1]) != static_cast<uint16_t>(expected))
    return make_error(errc::corrupt_record, "record is of kind " +
                                                std::to_string(uint8_t(bytes[1])) + ", expected " +
                                                std::to_string(static_cast<uint16_t>(expected)));
  uint32_t stored = 0;
  for (int i = 0; i < 4; ++i) stored |= uint32_t(static_cast<uint8_t>(bytes[2 + i])) << (8 * i);
  auto payload = bytes.substr(header_size);
  if (payload.size() % sizeof(capnp::word) != 0)
    return make_error(errc::corrupt_record, "record payload is not whole words");
  if (crc32c(payload) != stored)
    return make_error(errc::corrupt_record, "record checksum mismatch");
  auto out = std::unique_ptr<record_reader>(new record_reader);
  // LMDB values are not 8-byte aligned: Cap'n Proto needs an aligned copy.
  out->words_ = kj::heapArray<capnp::word>(payload.size() / sizeof(capnp::word));
  std::memcpy(out->words_.begin(), payload.data(), payload.size());
  try {
    out->reader_ = std::make_unique<capnp::FlatArrayMessageReader>(
        out->words_.asPtr(), record_reader_options(out->words_.size()));
  } catch (const kj::Exception& e) {
    return make_error(errc::corrupt_record,
                      std::string("record does not decode: ") + e.getDescription().cStr());
  }
  return out;
}

}  // namespace mext::persistence
