#pragma once
// AES-256-GCM through OpenSSL EVP, in the one layout the engine stores:
//   nonce (12 random bytes) | ciphertext | tag (16 bytes)
// The associated data binds a box to where it belongs (a record id, a person id), so a box moved
// to another record fails to open instead of reading as someone else's data.

#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace mext::persistence {

constexpr size_t aead_key_bytes = 32;
constexpr size_t aead_overhead = 12 + 16;

// `key` must hold aead_key_bytes bytes.
caf::expected<std::string> aead_seal(std::string_view key, std::string_view associated,
                                     std::string_view plain);
// Fails with errc::corrupt_record when the box was altered, moved, or sealed under another key.
caf::expected<std::string> aead_open(std::string_view key, std::string_view associated,
                                     std::string_view box);

}  // namespace mext::persistence
