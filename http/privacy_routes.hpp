#pragma once
// The privacy section of the API (GDPR export, erasure, requests, audit log): privacy_routes.cpp
// lists the routes. add_privacy_routes starts the privacy actor (a.privacy) with the edge's parts:
// the JSON archive renderer, ending sessions, and the data kept outside actors (login sessions,
// uploaded files).

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "http/api.hpp"
#include "http/server.hpp"

namespace mext::http {

struct privacy_options {
  // Where exports/ and ledger/ live; empty: the engine's data directory.
  std::filesystem::path data_dir;
  std::chrono::milliseconds archive_retention{std::chrono::hours(72)};
  std::chrono::milliseconds holder_timeout{std::chrono::seconds(10)};
  uint32_t holder_attempts = 3;
  uint32_t parallel_holders = 16;
  std::chrono::milliseconds purge_interval{std::chrono::hours(1)};
  // Tests only (privacy_settings::crash_at).
  std::function<bool(std::string_view)> crash_at;
  // Breach notices: a command reading an RFC 5322 message on stdin (e.g. "sendmail -t -i"), else
  // files in spool_dir (empty: DIR/notice-spool).
  std::string notice_command;
  std::filesystem::path notice_spool_dir;
  std::chrono::milliseconds notice_retry{std::chrono::seconds(30)};
  uint32_t notice_attempts = 10;
  // The contact point named in notices and in the authority report.
  std::string contact = "the data protection officer of the platform";
};

void add_privacy_routes(router& routes, std::shared_ptr<api> a, privacy_options options);

// Stops the privacy and breach actors and waits for them: before the engine stops, so that no saga
// mistakes the shutdown for a failing holder. Unfinished sagas resume at the next start.
void stop_privacy(api& a);

}  // namespace mext::http
