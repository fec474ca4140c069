#include "persistence/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "persistence/errors.hpp"

namespace mext::persistence {
namespace {

caf::error errno_error(const std::string& what, const std::filesystem::path& p) {
  return make_error(errc::storage_failed,
                    what + " " + p.filename().string() + ": " + std::strerror(errno));
}

caf::error fsync_open(const std::filesystem::path& p, int flags) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open", p);
  int rc = ::fsync(fd);
  auto err = rc != 0 ? errno_error("cannot fsync", p) : caf::error{};
  ::close(fd);
  return err;
}

}  // namespace

caf::error fsync_file(const std::filesystem::path& file) {
  return fsync_open(file, O_RDONLY);
}

caf::error fsync_dir(const std::filesystem::path& dir) {
  return fsync_open(dir, O_RDONLY | O_DIRECTORY);
}

caf::error write_file_durably(const std::filesystem::path& path, std::string_view bytes) {
  auto tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno_error("cannot create", tmp);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto err = errno_error("cannot write", tmp);
      ::close(fd);
      return err;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto err = errno_error("cannot fsync", tmp);
    ::close(fd);
    return err;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_error("cannot place", path);
  return fsync_dir(path.parent_path());
}

}  // namespace mext::persistence
