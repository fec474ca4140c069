#pragma once
// Small helpers shared by the benchmarks: options, temp dirs, RSS, CPU time, the machine line.
// Header-only because bench/CMakeLists.txt builds each *_bench.cpp as one executable.

#include <malloc.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace mext::bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Set by SIGINT/SIGTERM: every loop checks it, so an interrupted run still removes its temp dirs.
inline std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

inline void install_stop_handler() {
  auto on_signal = [](int) { stop_requested().store(true); };
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

// --name=value or --name value; a bare --name is "1". Unknown names are refused so that a typo
// does not silently run the defaults.
class options {
 public:
  options(int argc, char** argv, std::vector<std::string> known) : known_(std::move(known)) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument: " + a);
      a = a.substr(2);
      std::string value = "1";
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
      } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        value = argv[++i];
      }
      if (std::find(known_.begin(), known_.end(), a) == known_.end())
        throw std::invalid_argument("unknown option --" + a);
      values_[a] = value;
    }
  }

  bool has(const std::string& name) const { return values_.count(name) != 0; }

  std::string str(const std::string& name, const std::string& fallback) const {
    auto i = values_.find(name);
    return i == values_.end() ? fallback : i->second;
  }

  uint64_t u64(const std::string& name, uint64_t fallback) const {
    auto i = values_.find(name);
    return i == values_.end() ? fallback : std::stoull(i->second);
  }

  // A comma-separated list of numbers.
  std::vector<uint64_t> u64_list(const std::string& name, std::vector<uint64_t> fallback) const {
    auto i = values_.find(name);
    if (i == values_.end()) return fallback;
    std::vector<uint64_t> out;
    std::stringstream ss{i->second};
    std::string item;
    while (std::getline(ss, item, ',') && out.size() < 64)
      if (!item.empty()) out.push_back(std::stoull(item));
    return out;
  }

 private:
  std::vector<std::string> known_;
  std::map<std::string, std::string> values_;
};

// The exact command, quoted for a POSIX shell, so that a result can be reproduced.
inline std::string command_line(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    bool plain = !a.empty() && a.find_first_not_of(
                                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                                   "VWXYZ0123456789-_=./,:+") == std::string::npos;
    if (i) out += ' ';
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) {
        if (c == '\'')
          out += "'\\''";
        else
          out += c;
      }
      out += '\'';
    }
  }
  return out;
}

inline std::string first_line_with(const char* file, const std::string& prefix) {
  std::ifstream in{file};
  std::string line;
  for (int n = 0; n < 100000 && std::getline(in, line); ++n)
    if (line.rfind(prefix, 0) == 0) return line;
  return {};
}

inline std::string after_colon(std::string s) {
  auto c = s.find(':');
  if (c == std::string::npos) return s;
  s = s.substr(c + 1);
  auto b = s.find_first_not_of(" \t");
  return b == std::string::npos ? std::string{} : s.substr(b);
}

inline std::string load_average() {
  std::ifstream in{"/proc/loadavg"};
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// nproc, CPU model, RAM, kernel and the load now: printed at the top of every result.
inline std::string machine_line() {
  utsname u{};
  uname(&u);
  std::ostringstream os;
  os << "nproc=" << sysconf(_SC_NPROCESSORS_ONLN) << " cpu=\""
     << after_colon(first_line_with("/proc/cpuinfo", "model name")) << "\""
     << " ram=\"" << after_colon(first_line_with("/proc/meminfo", "MemTotal")) << "\""
     << " kernel=" << u.release << " load=\"" << load_average() << "\"";
  return os.str();
}

// Process CPU time (user + system, every thread), in seconds.
inline double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// /proc/self/statm in bytes: resident is RssAnon + RssFile + RssShmem; shared is the file-backed
// part (here mostly LMDB's memory map), so resident - shared is the heap and stacks.
// heap_used is what malloc has handed out and not got back (mallinfo2: uordblks + hblkhd): it
// tells live allocations apart from freed memory that glibc has not returned to the system.
struct memory {
  uint64_t resident = 0;
  uint64_t shared = 0;
  uint64_t heap_used = 0;
  uint64_t anon() const { return resident > shared ? resident - shared : 0; }
};

inline memory read_memory() {
  std::ifstream in{"/proc/self/statm"};
  uint64_t size = 0, resident = 0, shared = 0;
  in >> size >> resident >> shared;
  auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  auto mi = mallinfo2();
  return {resident * page, shared * page, static_cast<uint64_t>(mi.uordblks + mi.hblkhd)};
}

inline double mib(uint64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

// The directory every benchmark writes under: --tmp, else $TMPDIR, else ./var/bench-tmp.
inline std::filesystem::path temp_base(const options& opts) {
  std::string base = opts.str("tmp", "");
  if (base.empty()) {
    const char* env = std::getenv("TMPDIR");
    base = env && *env ? env : "./var/bench-tmp";
  }
  std::filesystem::create_directories(base);
  return std::filesystem::absolute(base).lexically_normal();
}

// A fresh directory, removed with everything in it on destruction.
class temp_dir {
 public:
  explicit temp_dir(const std::filesystem::path& base) {
    std::string tmpl = (base / "mext-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed in " + tmpl);
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The p-th percentile (0..100) of sorted values, nearest rank.
template <class T>
T percentile(const std::vector<T>& sorted, double p) {
  if (sorted.empty()) return T{};
  auto rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

template <class T>
T median(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return percentile(v, 50);
}

}  // namespace mext::bench
