#include "ids.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace mext {

std::string random_hex(size_t n_bytes) {
  std::vector<unsigned char> raw(n_bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    // Without randomness no id or token is safe to hand out: this boundary cannot fail softly.
    throw std::runtime_error("RAND_bytes failed: " + std::to_string(ERR_get_error()));
  }
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n_bytes * 2);
  for (unsigned char c : raw) {
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

std::string new_id(std::string_view kind) {
  std::string id{kind};
  id += '_';
  id += random_hex(16);
  return id;
}

std::string new_child_id(std::string_view owner, std::string_view kind) {
  std::string id{owner};
  id += '.';
  id += new_id(kind);
  return id;
}

std::string_view owner_of(std::string_view id) {
  auto dot = id.find('.');
  return dot == std::string_view::npos ? id : id.substr(0, dot);
}

std::string_view kind_of(std::string_view id) {
  auto owner = owner_of(id);
  auto us = owner.find('_');
  return us == std::string_view::npos ? std::string_view{} : owner.substr(0, us);
}

bool is_valid_id(std::string_view id) {
  // LMDB keys are at most 511 bytes; event keys add 9 bytes to the entity id.
  if (id.empty() || id.size() > 200) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return !kind_of(id).empty();
}

bool is_id_of(std::string_view id, std::string_view kind) {
  return is_valid_id(id) && id.find('.') == std::string_view::npos && kind_of(id) == kind;
}

}  // namespace mext
