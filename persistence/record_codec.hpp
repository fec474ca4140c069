#pragma once
// The seam every record passes on its way to and from LMDB.
//
// A stored record is a frame: [version 1][record kind][crc32c of the payload, little endian]
// [payload: a Cap'n Proto message]. The checksum makes a torn or corrupted record a clear
// errc::corrupt_record instead of a crash inside a decoder. Personal fields inside the payload
// are sealed and opened per person by the field_sealer (field_sealer.hpp).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <caf/expected.hpp>

#include "mext/schemas/common.capnp.h"

namespace mext::persistence {

uint32_t crc32c(std::string_view bytes);

// Frames a built message as a record of the given kind.
std::string encode_record(schema::RecordKind kind, capnp::MessageBuilder& message);

// A decoded record: owns an aligned copy of the payload, and a reader over it.
class record_reader {
 public:
  template <class T>
  typename T::Reader root() {
    return reader_->getRoot<T>();
  }

 private:
  friend caf::expected<std::unique_ptr<record_reader>> decode_record(std::string_view,
                                                                     schema::RecordKind);
  kj::Array<capnp::word> words_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
};

// Checks the frame, the kind and the checksum, then opens the message. Reading fields of a
// message can still throw kj::Exception on a malformed pointer: decoders catch it at their edge.
caf::expected<std::unique_ptr<record_reader>> decode_record(std::string_view bytes,
                                                            schema::RecordKind expected);

// Reader options for a stored record of `payload_words` words. A chat room's snapshot may be far
// larger than Cap'n Proto's default limit of 64 MiB, so the limit follows the record's own size:
// reading it whole a few times fits, while a damaged list header claiming millions of empty
// elements in a few bytes (each charged one word) is refused instead of decoded for minutes.
inline constexpr uint64_t traversal_words_per_payload_word = 64;
inline constexpr uint64_t traversal_words_floor = 65536;
capnp::ReaderOptions record_reader_options(size_t payload_words);

}  // namespace mext::persistence
