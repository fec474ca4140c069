#pragma once
// The engine's own error codes, carried in caf::error with the category atom "mext".
// Each code maps to one HTTP status at the edge; the detail string never holds personal data.

#include <cstdint>
#include <optional>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace mext {

enum class errc : uint8_t {
  none = 0,
  invalid_argument,  // 400: the input is malformed or breaks a rule
  unauthenticated,   // 401
  forbidden,         // 403
  not_found,         // 404
  conflict,          // 409: duplicate, overlap, or an entity that already exists
  too_large,         // 413
  rate_limited,      // 429
  storage_full,      // 507: the LMDB map cannot grow or the disk is full
  storage_failed,    // 503: an I/O error from LMDB
  corrupt_record,    // 500: a stored record fails its checksum or does not decode
  passivated,        // the actor went idle while the message was in flight: resolve again
  internal,          // 500
};

constexpr caf::atom_value error_category = caf::atom("mext");

const char* to_string(errc code);

caf::error make_error(errc code);
caf::error make_error(errc code, std::string detail);

// The engine's code inside `err`, or nothing when `err` is of another category.
std::optional<errc> code_of(const caf::error& err);

// The detail attached by make_error, or the rendered CAF error of another category.
std::string detail_of(const caf::error& err);

// The HTTP status this error answers with.
int http_status(const caf::error& err);

}  // namespace mext
