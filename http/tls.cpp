#include "http/tls.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "persistence/errors.hpp"
#include "persistence/log.hpp"

namespace mext::http {
namespace {

namespace fs = std::filesystem;

template <class T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509, X509_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION, X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;

void free_bio(BIO* b) {
  BIO_free_all(b);
}
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, free_bio>>;

caf::error ssl_failure(std::string_view what) {
  return make_error(errc::internal, openssl_error(what));
}

caf::error sys_failure(std::string_view what, const fs::path& p, int err) {
  return make_error(errc::internal, std::string(what) + " " + p.string() + ": " +
                                        std::generic_category().message(err));
}

caf::error generate_key(pkey_ptr& out) {
  pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)};
  if (!ctx) return ssl_failure("EVP_PKEY_CTX_new_from_name");
  if (EVP_PKEY_keygen_init(ctx.get()) <= 0) return ssl_failure("EVP_PKEY_keygen_init");
  if (EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") <= 0)
    return ssl_failure("EVP_PKEY_CTX_set_group_name");
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_generate(ctx.get(), &key) <= 0) return ssl_failure("EVP_PKEY_generate");
  out.reset(key);
  return {};
}

caf::error add_extension(X509* cert, X509V3_CTX* v3, int nid, const char* value) {
  ext_ptr ext{X509V3_EXT_conf_nid(nullptr, v3, nid, value)};
  if (!ext) return ssl_failure("X509V3_EXT_conf_nid");
  if (X509_add_ext(cert, ext.get(), -1) != 1) return ssl_failure("X509_add_ext");
  return {};
}

caf::error make_certificate(EVP_PKEY* key, x509_ptr& out) {
  x509_ptr cert{X509_new()};
  if (!cert) return ssl_failure("X509_new");
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1) return ssl_failure("X509_set_version");

  // A random positive 127-bit serial, as RFC 5280 asks of serials (unique, at most 20 octets).
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return ssl_failure("RAND_bytes");
  serial[0] &= 0x7f;
  bn_ptr bn{BN_bin2bn(serial, sizeof serial, nullptr)};
  if (!bn) return ssl_failure("BN_bin2bn");
  if (BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) == nullptr)
    return ssl_failure("BN_to_ASN1_INTEGER");

  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr)
    return ssl_failure("X509_gmtime_adj");
  if (X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600) == nullptr)
    return ssl_failure("X509_gmtime_adj");
  if (X509_set_pubkey(cert.get(), key) != 1) return ssl_failure("X509_set_pubkey");

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (name == nullptr) return ssl_failure("X509_get_subject_name");
  const auto* cn = reinterpret_cast<const unsigned char*>("localhost");
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, cn, -1, -1, 0) != 1)
    return ssl_failure("X509_NAME_add_entry_by_txt");
  if (X509_set_issuer_name(cert.get(), name) != 1) return ssl_failure("X509_set_issuer_name");

  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"},
      {NID_subject_key_identifier, "hash"},
  };
  for (const auto& [nid, value] : extensions)
    if (auto err = add_extension(cert.get(), &v3, nid, value)) return err;

  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) return ssl_failure("X509_sign");
  out = std::move(cert);
  return {};
}

// The PEM text in a memory BIO; `secure` keeps key bytes in OpenSSL's wiped memory.
caf::error bio_text(BIO* bio, std::string& out) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return ssl_failure("BIO_get_mem_data");
  out.assign(data, static_cast<std::size_t>(len));
  return {};
}

// Writes a whole file under a temporary name, syncs it and renames it into place, so a crash
// never leaves a truncated PEM behind.
caf::error write_file(const fs::path& path, const std::string& data, mode_t mode) {
  fs::path tmp = path;
  tmp += ".tmp";
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) return sys_failure("unlink", tmp, errno);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return sys_failure("open", tmp, errno);
  // The umask may have narrowed the mode; the key must be 0600 exactly, the cert readable.
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    return sys_failure("fchmod", tmp, err);
  }
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      ::close(fd);
      return sys_failure("write", tmp, err);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return sys_failure("fsync", tmp, err);
  }
  if (::close(fd) != 0) return sys_failure("close", tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return sys_failure("rename", tmp, errno);
  return {};
}

caf::error sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_failure("open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return sys_failure("fsync", dir, err);
  return {};
}

caf::error generate_pair(const fs::path& cert_path, const fs::path& key_path) {
  pkey_ptr key;
  if (auto err = generate_key(key)) return err;
  x509_ptr cert;
  if (auto err = make_certificate(key.get(), cert)) return err;

  bio_ptr key_bio{BIO_new(BIO_s_secmem())};
  if (!key_bio) return ssl_failure("BIO_new");
  if (PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
      1)
    return ssl_failure("PEM_write_bio_PrivateKey");
  bio_ptr cert_bio{BIO_new(BIO_s_mem())};
  if (!cert_bio) return ssl_failure("BIO_new");
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) return ssl_failure("PEM_write_bio_X509");

  std::string key_pem;
  std::string cert_pem;
  if (auto err = bio_text(key_bio.get(), key_pem)) return err;
  if (auto err = bio_text(cert_bio.get(), cert_pem)) return err;
  auto err = write_file(key_path, key_pem, 0600);
  OPENSSL_cleanse(key_pem.data(), key_pem.size());
  if (err) return err;
  if (auto e = write_file(cert_path, cert_pem, 0644)) return e;
  return sync_dir(key_path.parent_path());
}

}  // namespace

std::string openssl_error(std::string_view what) {
  std::string out(what);
  out += ": ";
  bool any = false;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (any) out += "; ";
    out += buf;
    any = true;
  }
  if (!any) out += "failed without an OpenSSL error code";
  return out;
}

caf::error ensure_self_signed(const fs::path& dir, fs::path& cert_out, fs::path& key_out) {
  const fs::path tls_dir = dir / "tls";
  const fs::path cert_path = tls_dir / "cert.pem";
  const fs::path key_path = tls_dir / "key.pem";

  std::error_code ec;
  fs::create_directories(tls_dir, ec);
  if (ec) return sys_failure("create_directories", tls_dir, ec.value());
  fs::permissions(tls_dir, fs::perms::owner_all, ec);
  if (ec) return sys_failure("chmod", tls_dir, ec.value());

  bool have_cert = fs::exists(cert_path, ec);
  if (ec) return sys_failure("stat", cert_path, ec.value());
  bool have_key = fs::exists(key_path, ec);
  if (ec) return sys_failure("stat", key_path, ec.value());

  if (have_cert && have_key) {
    struct stat st {};
    if (::stat(key_path.c_str(), &st) != 0) return sys_failure("stat", key_path, errno);
    if ((st.st_mode & 077) != 0)
      log::warn("tls.key_permissions").field("detail", "key.pem is readable by others");
  } else {
    // Only a crash between the two renames leaves one of them: the pair is ours, recreate it.
    ERR_clear_error();
    if (auto err = generate_pair(cert_path, key_path)) return err;
    log::info("tls.self_signed_created").field("valid_days", 365);
  }
  cert_out = cert_path;
  key_out = key_path;
  return {};
}

caf::error configure_server_context(ssl_ctx_st* ctx, const fs::path& cert, const fs::path& key) {
  // Mozilla's "intermediate" TLS 1.2 list: forward-secret key exchange and AEAD ciphers only.
  static constexpr const char* tls12_ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  static constexpr const char* tls13_suites =
      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

  ERR_clear_error();
  if (ctx == nullptr) return make_error(errc::internal, "configure_server_context: no SSL_CTX");
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
    return ssl_failure("SSL_CTX_set_min_proto_version");
  if (SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
    return ssl_failure("SSL_CTX_set_max_proto_version");
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections (most WebSocket clients, most of the time) give their 16 KiB record
  // buffers back: without this each one kept ~80 KiB of server memory.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
    return ssl_failure("SSL_CTX_set_cipher_list");
  if (SSL_CTX_set_ciphersuites(ctx, tls13_suites) != 1)
    return ssl_failure("SSL_CTX_set_ciphersuites");
  if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1)
    return ssl_failure("SSL_CTX_set1_groups_list");
  // The file names are configuration, not personal data: they make the error actionable.
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
    return make_error(errc::invalid_argument,
                      openssl_error("loading TLS certificate " + cert.string()));
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return make_error(errc::invalid_argument, openssl_error("loading TLS key " + key.string()));
  if (SSL_CTX_check_private_key(ctx) != 1)
    return make_error(errc::invalid_argument,
                      openssl_error("TLS key does not match certificate " + cert.string()));
  return {};
}

}  // namespace mext::http
