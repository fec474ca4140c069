#include "persistence/field_sealer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "persistence/aead.hpp"
#include "persistence/durable_file.hpp"
#include "persistence/errors.hpp"

namespace mext::persistence {
namespace {

constexpr char envelope_plain = 0x00;
constexpr char envelope_gcm = 0x01;

std::string associated_data(std::string_view context_id, std::string_view subject_id) {
  std::string ad{context_id};
  ad += '\0';
  ad += subject_id;
  return ad;
}

std::string_view key_view(const data_key& key) {
  return {reinterpret_cast<const char*>(key.data()), key.size()};
}

caf::error errno_error(const std::string& what) {
  return make_error(errc::storage_failed, what + ": " + std::strerror(errno));
}

}  // namespace

caf::expected<std::string> load_or_create_key_file(const std::filesystem::path& path, size_t size) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return make_error(errc::storage_failed, "cannot create key directory: " + ec.message());
  ::chmod(path.parent_path().c_str(), 0700);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    std::string key(size, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(size)) != 1)
      return make_error(errc::internal, "RAND_bytes failed for a new key");
    auto tmp = path;
    tmp += ".tmp";
    int wfd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (wfd < 0) return errno_error("cannot create key file");
    ssize_t n = ::write(wfd, key.data(), key.size());
    if (n != static_cast<ssize_t>(key.size()) || ::fsync(wfd) != 0) {
      auto err = errno_error("cannot write key file");
      ::close(wfd);
      return err;
    }
    ::close(wfd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_error("cannot place key file");
    if (auto err = fsync_dir(path.parent_path())) return err;
    return key;
  }
  if (fd < 0) return errno_error("cannot open key file");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    auto err = errno_error("cannot stat key file");
    ::close(fd);
    return err;
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return make_error(errc::forbidden, "key file " + path.filename().string() +
                                           " is readable by others: chmod 600 it");
  }
  std::string key(size, '\0');
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(size))
    return make_error(errc::corrupt_record, "key file " + path.filename().string() +
                                                " does not hold " + std::to_string(size) +
                                                " bytes");
  return key;
}

caf::expected<std::shared_ptr<plain_field_sealer>> plain_field_sealer::open_in(
    const std::filesystem::path& data_dir) {
  auto key = load_or_create_key_file(data_dir / "keys" / "index.key", 32);
  if (!key) return key.error();
  auto out = std::make_shared<plain_field_sealer>();
  out->index_key_ = std::move(*key);
  return out;
}

caf::expected<std::string> plain_field_sealer::seal(std::string_view, std::string_view,
                                                    std::string_view plain) {
  std::string out;
  out.reserve(plain.size() + 1);
  out += envelope_plain;
  out += plain;
  return out;
}

caf::expected<std::string> plain_field_sealer::open(std::string_view, std::string_view,
                                                    std::string_view sealed) {
  // An absent field reads as empty: optional profile fields are never set.
  if (sealed.empty()) return std::string{};
  if (sealed[0] != envelope_plain)
    return make_error(errc::corrupt_record,
                      "sealed field of unknown version " + std::to_string(uint8_t(sealed[0])));
  return std::string{sealed.substr(1)};
}

std::string plain_field_sealer::blind_index(std::string_view domain, std::string_view value) const {
  std::string input{domain};
  input += '\0';
  input += value;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), index_key_.data(), static_cast<int>(index_key_.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
           &len) == nullptr) {
    // HMAC-SHA-256 over memory only fails when OpenSSL itself is broken.
    throw std::runtime_error("HMAC failed");
  }
  return std::string(reinterpret_cast<char*>(mac), len);
}

caf::error plain_field_sealer::forget(std::string_view) {
  return make_error(errc::internal, "the plain envelope has no key to destroy");
}

caf::expected<bool> plain_field_sealer::forgotten(std::string_view) {
  return false;
}

caf::error plain_field_sealer::copy_keys(const std::filesystem::path&) {
  return {};
}

caf::expected<std::shared_ptr<keyed_field_sealer>> keyed_field_sealer::open_in(
    const std::filesystem::path& data_dir, key_store_settings settings) {
  // A new index key beside an existing key store would find no account by its email again.
  std::error_code ec;
  if (!std::filesystem::exists(data_dir / "keys" / "index.key", ec) &&
      std::filesystem::exists(data_dir / "keys" / "store" / "data.mdb", ec))
    return make_error(errc::forbidden,
                      "keys/index.key is missing but the key store exists: restore the index key "
                      "this data directory was made with");
  auto index = load_or_create_key_file(data_dir / "keys" / "index.key", 32);
  if (!index) return index.error();
  auto keys = key_store::open(data_dir / "keys", settings);
  if (!keys) return keys.error();
  auto out = std::make_shared<keyed_field_sealer>();
  out->index_.index_key_ = std::move(*index);
  out->keys_ = std::move(*keys);
  return out;
}

caf::expected<std::string> keyed_field_sealer::seal(std::string_view subject_id,
                                                    std::string_view context_id,
                                                    std::string_view plain) {
  auto key = keys_->key_for_sealing(subject_id);
  if (!key) return key.error();
  auto box = aead_seal(key_view(*key), associated_data(context_id, subject_id), plain);
  if (!box) return box.error();
  std::string out;
  out.reserve(box->size() + 1);
  out += envelope_gcm;
  out += *box;
  return out;
}

caf::expected<std::string> keyed_field_sealer::open(std::string_view subject_id,
                                                    std::string_view context_id,
                                                    std::string_view sealed) {
  if (sealed.empty() || sealed[0] == envelope_plain)
    return index_.open(subject_id, context_id, sealed);
  if (sealed[0] != envelope_gcm)
    return make_error(errc::corrupt_record,
                      "sealed field of unknown version " + std::to_string(uint8_t(sealed[0])));
  auto key = keys_->key_for_opening(subject_id);
  if (!key) return key.error();
  // Crypto-shredded: the person was erased, and what was theirs reads as nothing.
  if (key->destroyed) return std::string{};
  if (!key->key) return make_error(errc::corrupt_record, "no data key for a sealed value");
  return aead_open(key_view(*key->key), associated_data(context_id, subject_id), sealed.substr(1));
}

std::string keyed_field_sealer::blind_index(std::string_view domain, std::string_view value) const {
  return index_.blind_index(domain, value);
}

caf::error keyed_field_sealer::forget(std::string_view subject_id) {
  return keys_->destroy(subject_id);
}

caf::expected<bool> keyed_field_sealer::forgotten(std::string_view subject_id) {
  return keys_->is_destroyed(subject_id);
}

caf::error keyed_field_sealer::copy_keys(const std::filesystem::path& dest_dir) {
  return keys_->copy_compact(dest_dir);
}

}  // namespace mext::persistence
