#pragma once
// TLS material and settings, with OpenSSL only (no Asio): the self-signed pair mextd creates on
// first start, and the protocol and cipher policy of the server context.

#include <filesystem>
#include <string>
#include <string_view>

#include <caf/error.hpp>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace mext::http {

// Sets cert_out and key_out to dir/tls/cert.pem and dir/tls/key.pem, creating them first when
// they do not both exist: an EC P-256 key (mode 0600) and a self-signed certificate for
// CN=localhost with SAN DNS:localhost and IP:127.0.0.1, valid for one year.
caf::error ensure_self_signed(const std::filesystem::path& dir, std::filesystem::path& cert_out,
                              std::filesystem::path& key_out);

// Applies the server policy to ctx: TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers for 1.2, no
// compression or renegotiation; then loads the certificate chain and the matching private key.
caf::error configure_server_context(ssl_ctx_st* ctx, const std::filesystem::path& cert,
                                    const std::filesystem::path& key);

// "what: <OpenSSL error queue>", emptying the calling thread's OpenSSL error queue.
std::string openssl_error(std::string_view what);

}  // namespace mext::http
