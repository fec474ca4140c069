#pragma once
// The per-person seam for personal fields (schema fields marked $pii).
//
// Every personal value is sealed for the person it belongs to before it enters a record, and
// opened when a record is read back. The envelope starts with a version byte:
//   0x00  plain: the value follows as is (data written before sealing, and schema fixtures).
//   0x01  AES-256-GCM under the person's own data key (key_store): nonce | ciphertext | tag,
//         with the record's id and the person's id as associated data.
// Readers accept every version they know. Equality lookups (email at login) use blind_index, a
// keyed hash, never the plaintext. Erasure destroys the person's key (crypto-shredding): every
// value sealed for them, in the store and in every backup, opens as empty from then on.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "persistence/key_store.hpp"

namespace mext::persistence {

class field_sealer {
 public:
  virtual ~field_sealer() = default;
  // Seals `plain`, a personal value of `subject_id`, inside the record of `context_id`.
  virtual caf::expected<std::string> seal(std::string_view subject_id, std::string_view context_id,
                                          std::string_view plain) = 0;
  virtual caf::expected<std::string> open(std::string_view subject_id, std::string_view context_id,
                                          std::string_view sealed) = 0;
  // HMAC-SHA-256 of `value` under the index key, for the index called `domain`.
  virtual std::string blind_index(std::string_view domain, std::string_view value) const = 0;
  // Destroys the person's data key, durably; idempotent. What was sealed for them opens as empty
  // afterwards, and sealing for them fails with errc::forbidden.
  virtual caf::error forget(std::string_view subject_id) = 0;
  // True once forget() ran for the person (their erasure).
  virtual caf::expected<bool> forgotten(std::string_view subject_id) = 0;
  // A consistent compact copy of the data keys into `dest_dir` (a backup); nothing to copy for
  // an envelope without keys.
  virtual caf::error copy_keys(const std::filesystem::path& dest_dir) = 0;
};

// Envelope version 0, with a blind-index key kept in `<data dir>/keys/index.key` (mode 0600,
// created on first start; refused when others can read it).
class plain_field_sealer final : public field_sealer {
 public:
  static caf::expected<std::shared_ptr<plain_field_sealer>> open_in(
      const std::filesystem::path& data_dir);

  caf::expected<std::string> seal(std::string_view subject_id, std::string_view context_id,
                                  std::string_view plain) override;
  caf::expected<std::string> open(std::string_view subject_id, std::string_view context_id,
                                  std::string_view sealed) override;
  std::string blind_index(std::string_view domain, std::string_view value) const override;
  // A plain envelope has no key to destroy: refused, so an erasure never believes it shredded.
  caf::error forget(std::string_view subject_id) override;
  caf::expected<bool> forgotten(std::string_view subject_id) override;
  caf::error copy_keys(const std::filesystem::path& dest_dir) override;

 private:
  friend class keyed_field_sealer;
  std::string index_key_;
};

// Envelope version 1: every value sealed under its person's data key from `keys`.
class keyed_field_sealer final : public field_sealer {
 public:
  // Opens the index key and the key store under <data dir>/keys.
  static caf::expected<std::shared_ptr<keyed_field_sealer>> open_in(
      const std::filesystem::path& data_dir, key_store_settings settings = {});

  caf::expected<std::string> seal(std::string_view subject_id, std::string_view context_id,
                                  std::string_view plain) override;
  caf::expected<std::string> open(std::string_view subject_id, std::string_view context_id,
                                  std::string_view sealed) override;
  std::string blind_index(std::string_view domain, std::string_view value) const override;
  caf::error forget(std::string_view subject_id) override;
  caf::expected<bool> forgotten(std::string_view subject_id) override;
  caf::error copy_keys(const std::filesystem::path& dest_dir) override;

  key_store& keys() { return *keys_; }

 private:
  plain_field_sealer index_;
  std::unique_ptr<key_store> keys_;
};

// Reads a key file of exactly `size` bytes, creating it with random bytes and mode 0600 when
// missing; refuses a file that group or others may read.
caf::expected<std::string> load_or_create_key_file(const std::filesystem::path& path, size_t size);

}  // namespace mext::persistence
