#pragma once
// The per-person seam for personal fields (schema fields marked $pii).
//
// Every personal value is sealed for the person it belongs to before it enters a record, and
// opened when a record is read back. The envelope starts with a version byte:
//   0x00  plain: the value follows as is (this build's only format).
//   0x01  reserved for AES-256-GCM under the person's own data key (crypto-shredding on erasure).
// Readers accept every version they know, so data written now stays readable when sealing starts.
// Equality lookups (email at login) use blind_index, a keyed hash, never the plaintext.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

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

 private:
  std::string index_key_;
};

// Reads a key file of exactly `size` bytes, creating it with random bytes and mode 0600 when
// missing; refuses a file that group or others may read.
caf::expected<std::string> load_or_create_key_file(const std::filesystem::path& path, size_t size);

}  // namespace mext::persistence
