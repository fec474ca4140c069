#pragma once
// Password hashing with Argon2id (libargon2): OWASP parameters m = 19 MiB, t = 2, p = 1 from
// entity_settings, a 16-byte random salt from OpenSSL, a 32-byte hash, stored in the PHC encoded
// form ("$argon2id$v=19$m=...,t=...,p=...$salt$hash") so that old hashes keep their own costs.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "actors/runtime.hpp"

namespace mext::actors {

struct password_params {
  uint32_t memory_kib = 19 * 1024;
  uint32_t iterations = 2;
  uint32_t parallelism = 1;
};

constexpr size_t password_salt_bytes = 16;
constexpr size_t password_hash_bytes = 32;

password_params password_params_of(const entity_settings& settings);

// The encoded Argon2id hash of `password` under a fresh random salt.
caf::expected<std::string> hash_password(std::string_view password, const password_params& params);

// True when `password` matches `encoded`; the comparison is constant-time (libargon2 compares
// with a constant-time loop). A malformed `encoded` is errc::corrupt_record.
caf::expected<bool> verify_password(std::string_view encoded, std::string_view password);

// Spends what one verification costs and answers false: used when there is no account to check
// against, so that the answer's timing does not tell whether the account exists.
bool verify_against_nothing(std::string_view password, const password_params& params);

// The engine's error for a libargon2 return code (the detail names the code, never the input).
caf::error argon2_error(int rc, std::string_view what);

}  // namespace mext::actors
