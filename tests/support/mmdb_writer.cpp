#include "tests/support/mmdb_writer.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <fstream>
#include <stdexcept>

namespace mext::test {
namespace {

// Control bytes of the data section: type in the top 3 bits, size in the low 5; types past 7
// are "extended" (type 0, then a byte holding type - 7).
void put_string(std::string& out, const std::string& s) {
  if (s.size() >= 29) throw std::invalid_argument("mmdb_writer: strings under 29 bytes only");
  out += static_cast<char>((2 << 5) | s.size());
  out += s;
}

void put_uint(std::string& out, int type, uint64_t v, int bytes) {
  if (type <= 7) {
    out += static_cast<char>((type << 5) | bytes);
  } else {
    out += static_cast<char>(bytes);
    out += static_cast<char>(type - 7);
  }
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void put_map(std::string& out, int pairs) {
  out += static_cast<char>((7 << 5) | pairs);
}

void put_array(std::string& out, int items) {
  out += static_cast<char>(items);
  out += static_cast<char>(11 - 7);
}

}  // namespace

void write_isp_mmdb(const std::filesystem::path& file,
                    const std::vector<std::pair<std::string, std::string>>& networks) {
  // The search tree as a binary trie over address bits. A child is a node index, `empty`, or a
  // record (data index encoded below `empty`).
  constexpr int64_t empty = -1;
  struct node {
    int64_t child[2] = {empty, empty};
  };
  std::vector<node> nodes(1);
  std::string data;
  std::vector<uint32_t> offsets;
  for (auto& [cidr, isp] : networks) {
    auto slash = cidr.find('/');
    in_addr addr{};
    if (slash == std::string::npos ||
        ::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &addr) != 1)
      throw std::invalid_argument("mmdb_writer: bad network " + cidr);
    int bits = std::stoi(cidr.substr(slash + 1));
    uint32_t ip = ntohl(addr.s_addr);
    offsets.push_back(static_cast<uint32_t>(data.size()));
    put_map(data, 1);
    put_string(data, "isp");
    put_string(data, isp);
    const int64_t record = -2 - static_cast<int64_t>(offsets.size() - 1);
    size_t at = 0;
    for (int depth = 0; depth < bits; ++depth) {
      int bit = (ip >> (31 - depth)) & 1;
      if (depth == bits - 1) {
        nodes[at].child[bit] = record;
        break;
      }
      if (nodes[at].child[bit] < 0) {
        nodes[at].child[bit] = static_cast<int64_t>(nodes.size());
        nodes.emplace_back();
      }
      at = static_cast<size_t>(nodes[at].child[bit]);
    }
  }
  const uint32_t node_count = static_cast<uint32_t>(nodes.size());
  std::string out;
  for (auto& n : nodes) {
    for (int64_t c : n.child) {
      uint32_t v = c == empty ? node_count
                   : c >= 0   ? static_cast<uint32_t>(c)
                              : node_count + 16 + offsets[static_cast<size_t>(-2 - c)];
      out += static_cast<char>((v >> 16) & 0xFF);
      out += static_cast<char>((v >> 8) & 0xFF);
      out += static_cast<char>(v & 0xFF);
    }
  }
  out.append(16, '\0');
  out += data;
  out += std::string("\xAB\xCD\xEF", 3) + "MaxMind.com";
  put_map(out, 9);
  put_string(out, "binary_format_major_version");
  put_uint(out, 5, 2, 1);
  put_string(out, "binary_format_minor_version");
  put_uint(out, 5, 0, 0);
  put_string(out, "build_epoch");
  put_uint(out, 9, 1764892800, 4);
  put_string(out, "database_type");
  put_string(out, "mext-test-ISP");
  put_string(out, "description");
  put_map(out, 1);
  put_string(out, "en");
  put_string(out, "ISP test data");
  put_string(out, "ip_version");
  put_uint(out, 5, 4, 1);
  put_string(out, "languages");
  put_array(out, 1);
  put_string(out, "en");
  put_string(out, "node_count");
  put_uint(out, 6, node_count, 4);
  put_string(out, "record_size");
  put_uint(out, 5, 24, 1);
  std::ofstream f(file, std::ios::binary);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  if (!f) throw std::runtime_error("mmdb_writer: cannot write " + file.string());
}

}  // namespace mext::test
