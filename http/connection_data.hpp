#pragma once
// The seed's "data of connection": what a login or a WebSocket connection records in the
// person's connection log (actors/connection_log_actor.hpp), and the purge past retention that
// goes with each record.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "actors/connection_log_actor.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/server.hpp"

namespace mext::http {

// True for a screen resolution such as "1920x1080" (1..5 digits on each side).
bool valid_screen(const std::string& s);

// The record of a connection made with `req`: time now, the client address and trusted proxy
// chain, referrer without query, device and OS from User-Agent, `screen` as the client sent it.
actors::connection_entry connection_entry_of(const request& req, const auth_settings& settings,
                                             std::string kind, std::string screen);

// Appends `entry` to the user's connection log, then purges entries past retention. `done` gets
// nothing on success, else the status of the first failure (the caller decides whether the
// connection stands without its record).
void record_connection(const std::shared_ptr<api>& a, const std::string& user_id,
                       actors::connection_entry entry,
                       std::function<void(std::optional<int> failed_status)> done);

}  // namespace mext::http
