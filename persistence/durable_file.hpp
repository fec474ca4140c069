#pragma once
// Files outside LMDB that must survive a power cut: fsync of a file and of the folder that names
// it (a rename is durable only once its folder is synced), and whole-file writes through a
// temporary name.

#include <filesystem>
#include <string_view>

#include <caf/error.hpp>

namespace mext::persistence {

caf::error fsync_file(const std::filesystem::path& file);
caf::error fsync_dir(const std::filesystem::path& dir);
// Writes `bytes` to `path` (mode 0600) through `path`.tmp: fsynced, renamed, folder fsynced.
caf::error write_file_durably(const std::filesystem::path& path, std::string_view bytes);

}  // namespace mext::persistence
