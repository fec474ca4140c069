#include "http/isp_database.hpp"

#include <maxminddb.h>

#include "persistence/errors.hpp"

namespace mext::http {

struct isp_database::impl {
  MMDB_s db{};
  ~impl() { MMDB_close(&db); }
};

isp_database::isp_database(std::unique_ptr<impl> d) : d_(std::move(d)) {}
isp_database::~isp_database() = default;

caf::expected<std::shared_ptr<const isp_database>> isp_database::open(
    const std::filesystem::path& file) {
  auto d = std::make_unique<impl>();
  int rc = MMDB_open(file.c_str(), MMDB_MODE_MMAP, &d->db);
  if (rc != MMDB_SUCCESS)
    return make_error(errc::invalid_argument,
                      "cannot read the ISP database " + file.string() + ": " + MMDB_strerror(rc));
  return std::shared_ptr<const isp_database>(new isp_database(std::move(d)));
}

std::optional<std::string> isp_database::lookup(const std::string& ip) const {
  int gai_error = 0;
  int mmdb_error = MMDB_SUCCESS;
  auto result = MMDB_lookup_string(&d_->db, ip.c_str(), &gai_error, &mmdb_error);
  if (gai_error != 0 || mmdb_error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;
  for (const char* field : {"isp", "autonomous_system_organization", "organization"}) {
    MMDB_entry_data_s data{};
    if (MMDB_get_value(&result.entry, &data, field, nullptr) != MMDB_SUCCESS) continue;
    if (data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING && data.data_size > 0)
      return std::string(data.utf8_string, data.data_size);
  }
  return std::nullopt;
}

}  // namespace mext::http
