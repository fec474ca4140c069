#include "errors.hpp"

#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace mext {

const char* to_string(errc code) {
  switch (code) {
    case errc::none:
      return "none";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::unauthenticated:
      return "unauthenticated";
    case errc::forbidden:
      return "forbidden";
    case errc::not_found:
      return "not_found";
    case errc::conflict:
      return "conflict";
    case errc::too_large:
      return "too_large";
    case errc::rate_limited:
      return "rate_limited";
    case errc::storage_full:
      return "storage_full";
    case errc::storage_failed:
      return "storage_failed";
    case errc::corrupt_record:
      return "corrupt_record";
    case errc::passivated:
      return "passivated";
    case errc::internal:
      return "internal";
  }
  return "unknown";
}

caf::error make_error(errc code) {
  return caf::error{static_cast<uint8_t>(code), error_category};
}

caf::error make_error(errc code, std::string detail) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(detail))};
}

std::optional<errc> code_of(const caf::error& err) {
  if (!err || err.category() != error_category) return std::nullopt;
  return static_cast<errc>(err.code());
}

std::string detail_of(const caf::error& err) {
  if (!err) return {};
  if (err.category() == error_category) {
    const auto& ctx = err.context();
    if (ctx.match_elements<std::string>()) return ctx.get_as<std::string>(0);
    return to_string(static_cast<errc>(err.code()));
  }
  if (err.category() == caf::atom("system"))
    return std::string("actor system: ") + caf::to_string(static_cast<caf::sec>(err.code()));
  return "error in category " + caf::to_string(err.category());
}

int http_status(const caf::error& err) {
  auto code = code_of(err);
  if (!code) {
    // A system error (an actor gone, a timeout) means the engine could not answer in time.
    return 503;
  }
  switch (*code) {
    case errc::none:
      return 200;
    case errc::invalid_argument:
      return 400;
    case errc::unauthenticated:
      return 401;
    case errc::forbidden:
      return 403;
    case errc::not_found:
      return 404;
    case errc::conflict:
      return 409;
    case errc::too_large:
      return 413;
    case errc::rate_limited:
      return 429;
    case errc::storage_full:
      return 507;
    case errc::storage_failed:
      return 503;
    case errc::passivated:
      return 503;
    case errc::corrupt_record:
      return 500;
    case errc::internal:
      return 500;
  }
  return 500;
}

}  // namespace mext
