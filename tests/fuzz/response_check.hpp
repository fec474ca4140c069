#pragma once
// What every answer of the server must look like, whatever was sent: checked by the fuzz
// targets after each input.

#include <string_view>

namespace mext::fuzz {

// Aborts (a finding) when `answer` is not empty and is not an HTTP/1.1 response, when its
// final status is 500, or when a 4xx/5xx comes without Content-Type application/problem+json.
// An empty answer is a closed connection, which the server may choose for a broken stream.
void check_response(std::string_view answer);

}  // namespace mext::fuzz
