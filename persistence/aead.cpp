#include "persistence/aead.hpp"

#include <memory>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "persistence/errors.hpp"

namespace mext::persistence {
namespace {

constexpr int nonce_bytes = 12;
constexpr int tag_bytes = 16;

struct ctx_free {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, ctx_free>;

caf::error openssl_error(const char* what) {
  unsigned long code = ERR_get_error();
  char buf[256] = {};
  if (code != 0) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return make_error(errc::internal, std::string(what) + (code != 0 ? std::string(": ") + buf : ""));
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

caf::expected<std::string> aead_seal(std::string_view key, std::string_view associated,
                                     std::string_view plain) {
  if (key.size() != aead_key_bytes) return make_error(errc::internal, "AES-256 key of wrong size");
  std::string out(nonce_bytes + plain.size() + tag_bytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(o, nonce_bytes) != 1) return openssl_error("RAND_bytes (nonce)");
  ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  if (!ctx) return openssl_error("EVP_CIPHER_CTX_new");
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), o) != 1)
    return openssl_error("EVP_EncryptInit_ex");
  if (!associated.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(associated),
                                               static_cast<int>(associated.size())) != 1)
    return openssl_error("EVP_EncryptUpdate (aad)");
  if (!plain.empty() && EVP_EncryptUpdate(ctx.get(), o + nonce_bytes, &len, bytes(plain),
                                          static_cast<int>(plain.size())) != 1)
    return openssl_error("EVP_EncryptUpdate");
  if (EVP_EncryptFinal_ex(ctx.get(), o + nonce_bytes + plain.size(), &len) != 1)
    return openssl_error("EVP_EncryptFinal_ex");
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_bytes,
                          o + nonce_bytes + plain.size()) != 1)
    return openssl_error("EVP_CTRL_GCM_GET_TAG");
  return out;
}

caf::expected<std::string> aead_open(std::string_view key, std::string_view associated,
                                     std::string_view box) {
  if (key.size() != aead_key_bytes) return make_error(errc::internal, "AES-256 key of wrong size");
  if (box.size() < static_cast<size_t>(nonce_bytes + tag_bytes))
    return make_error(errc::corrupt_record, "sealed value too short");
  size_t n = box.size() - nonce_bytes - tag_bytes;
  std::string out(n, '\0');
  ctx_ptr ctx{EVP_CIPHER_CTX_new()};
  if (!ctx) return openssl_error("EVP_CIPHER_CTX_new");
  int len = 0;
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key), bytes(box)) != 1)
    return openssl_error("EVP_DecryptInit_ex");
  if (!associated.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(associated),
                                               static_cast<int>(associated.size())) != 1)
    return openssl_error("EVP_DecryptUpdate (aad)");
  if (n > 0 && EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                                 bytes(box) + nonce_bytes, static_cast<int>(n)) != 1)
    return openssl_error("EVP_DecryptUpdate");
  // OpenSSL takes a non-const pointer for the expected tag but does not write to it.
  auto* tag = const_cast<unsigned char*>(bytes(box) + nonce_bytes + n);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_bytes, tag) != 1)
    return openssl_error("EVP_CTRL_GCM_SET_TAG");
  unsigned char final_block[16];
  if (EVP_DecryptFinal_ex(ctx.get(), final_block, &len) != 1) {
    ERR_clear_error();
    return make_error(errc::corrupt_record, "sealed value fails authentication");
  }
  return out;
}

}  // namespace mext::persistence
