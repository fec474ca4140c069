#include "tests/fuzz/response_check.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace mext::fuzz {
namespace {

[[noreturn]] void finding(const char* what, std::string_view answer) {
  std::fprintf(stderr, "finding: %s\n--- answer ---\n%.*s\n", what,
               static_cast<int>(std::min<size_t>(answer.size(), 2048)), answer.data());
  std::abort();
}

bool has_header(std::string_view head, std::string_view name, std::string_view value_prefix) {
  std::string lower;
  lower.reserve(head.size());
  for (char c : head)
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  auto needle = "\r\n" + std::string(name) + ": " + std::string(value_prefix);
  return lower.find(needle) != std::string::npos;
}

}  // namespace

void check_response(std::string_view answer) {
  // Interim "100 Continue" answers come before the final one.
  while (answer.substr(0, 12) == "HTTP/1.1 100") {
    auto end = answer.find("\r\n\r\n");
    if (end == std::string_view::npos) return;
    answer.remove_prefix(end + 4);
  }
  if (answer.empty()) return;
  if (answer.size() < 12 || answer.substr(0, 9) != "HTTP/1.1 ")
    finding("the answer is not an HTTP/1.1 response", answer);
  int status = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (answer[i] < '0' || answer[i] > '9') finding("malformed status line", answer);
    status = status * 10 + (answer[i] - '0');
  }
  if (status == 500) finding("bad input answered 500", answer);
  if (status >= 400) {
    auto end = answer.find("\r\n\r\n");
    auto head = answer.substr(0, end == std::string_view::npos ? answer.size() : end + 2);
    if (!has_header(head, "content-type", "application/problem+json"))
      finding("an error answer is not application/problem+json", answer);
  }
}

}  // namespace mext::fuzz
