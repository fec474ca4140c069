// Fuzz target: raw bytes as an HTTP/1.1 request stream to the whole API over a real socket —
// Beast's parser, the server's limits and checks, the router and every handler behind it.
// Placeholders (fuzz_server.hpp) let seed requests carry live tokens and ids.
//
// Findings besides crashes: a hang, an answer that is not HTTP/1.1, an error without
// application/problem+json, and any 500 (bad input must get a clear 4xx).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_server.hpp"
#include "tests/fuzz/response_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& server = mext::fuzz::fuzz_server::get();
  auto input = server.expand({reinterpret_cast<const char*>(data), size});
  mext::fuzz::check_response(server.exchange(input));
  server.keep_identities();
  return 0;
}
