#include "actors/password.hpp"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>

#include "persistence/errors.hpp"

namespace mext::actors {

password_params password_params_of(const entity_settings& settings) {
  password_params p;
  p.memory_kib = settings.argon2_memory_kib;
  p.iterations = settings.argon2_iterations;
  p.parallelism = 1;
  return p;
}

caf::error argon2_error(int rc, std::string_view what) {
  std::string detail{what};
  detail += ": ";
  detail += argon2_error_message(rc);
  switch (rc) {
    case ARGON2_OK:
      return {};
    case ARGON2_VERIFY_MISMATCH:
      return make_error(errc::forbidden, std::move(detail));
    case ARGON2_PWD_TOO_SHORT:
    case ARGON2_PWD_TOO_LONG:
      return make_error(errc::invalid_argument, std::move(detail));
    // A stored hash that does not parse: the record holding it is damaged.
    case ARGON2_DECODING_FAIL:
    case ARGON2_DECODING_LENGTH_FAIL:
    case ARGON2_INCORRECT_TYPE:
      return make_error(errc::corrupt_record, std::move(detail));
    case ARGON2_OUTPUT_PTR_NULL:
    case ARGON2_OUTPUT_TOO_SHORT:
    case ARGON2_OUTPUT_TOO_LONG:
    case ARGON2_SALT_TOO_SHORT:
    case ARGON2_SALT_TOO_LONG:
    case ARGON2_AD_TOO_SHORT:
    case ARGON2_AD_TOO_LONG:
    case ARGON2_SECRET_TOO_SHORT:
    case ARGON2_SECRET_TOO_LONG:
    case ARGON2_TIME_TOO_SMALL:
    case ARGON2_TIME_TOO_LARGE:
    case ARGON2_MEMORY_TOO_LITTLE:
    case ARGON2_MEMORY_TOO_MUCH:
    case ARGON2_LANES_TOO_FEW:
    case ARGON2_LANES_TOO_MANY:
    case ARGON2_PWD_PTR_MISMATCH:
    case ARGON2_SALT_PTR_MISMATCH:
    case ARGON2_SECRET_PTR_MISMATCH:
    case ARGON2_AD_PTR_MISMATCH:
    case ARGON2_FREE_MEMORY_CBK_NULL:
    case ARGON2_ALLOCATE_MEMORY_CBK_NULL:
    case ARGON2_INCORRECT_PARAMETER:
    case ARGON2_OUT_PTR_MISMATCH:
    case ARGON2_THREADS_TOO_FEW:
    case ARGON2_THREADS_TOO_MANY:
    case ARGON2_MISSING_ARGS:
    case ARGON2_ENCODING_FAIL:
    case ARGON2_MEMORY_ALLOCATION_ERROR:
    case ARGON2_THREAD_FAIL:
    default:
      // Our own settings or the machine failed, not the caller's input.
      return make_error(errc::internal, std::move(detail));
  }
}

caf::expected<std::string> hash_password(std::string_view password, const password_params& params) {
  std::array<unsigned char, password_salt_bytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
    return make_error(errc::internal, "RAND_bytes failed for a password salt");
  size_t len =
      argon2_encodedlen(params.iterations, params.memory_kib, params.parallelism,
                        static_cast<uint32_t>(salt.size()), password_hash_bytes, Argon2_id);
  std::string encoded(len, '\0');
  int rc = argon2id_hash_encoded(params.iterations, params.memory_kib, params.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 password_hash_bytes, encoded.data(), encoded.size());
  OPENSSL_cleanse(salt.data(), salt.size());
  if (rc != ARGON2_OK) return argon2_error(rc, "argon2id_hash_encoded");
  // argon2_encodedlen counts the terminating NUL and may overestimate by a few digits.
  encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  return encoded;
}

caf::expected<bool> verify_password(std::string_view encoded, std::string_view password) {
  // libargon2 wants a NUL-terminated string; a stored hash with an inner NUL is damaged.
  std::string hash{encoded};
  if (hash.find('\0') != std::string::npos || hash.empty())
    return make_error(errc::corrupt_record, "stored password hash is malformed");
  int rc = argon2id_verify(hash.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  return argon2_error(rc, "argon2id_verify");
}

bool verify_against_nothing(std::string_view password, const password_params& params) {
  // The salt does not matter: the result is thrown away, only the work counts.
  static const std::array<unsigned char, password_salt_bytes> salt{};
  std::array<unsigned char, password_hash_bytes> out{};
  argon2id_hash_raw(params.iterations, params.memory_kib, params.parallelism, password.data(),
                    password.size(), salt.data(), salt.size(), out.data(), out.size());
  OPENSSL_cleanse(out.data(), out.size());
  return false;
}

}  // namespace mext::actors
