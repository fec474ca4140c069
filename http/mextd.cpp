// mextd: the Mext engine's server process.
//
// Starts the actor system and the engine on the data directory, makes sure an administrator
// exists, loads the demo exhibition on request, serves HTTP(S), and on SIGTERM or SIGINT stops
// accepting, lets the engine commit what it was given, and exits.

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include <caf/all.hpp>

#include "actors/backup_actor.hpp"
#include "actors/bootstrap.hpp"
#include "actors/engine.hpp"
#include "actors/entity_kinds.hpp"
#include "actors/retention_actor.hpp"
#include "http/api.hpp"
#include "http/auth.hpp"
#include "http/edge_guard.hpp"
#include "http/metrics.hpp"
#include "http/ops_routes.hpp"
#include "http/room_hub.hpp"
#include "http/routes.hpp"
#include "http/server.hpp"
#include "http/settings.hpp"
#include "http/tls.hpp"
#include "http/ws_session_actor.hpp"
#include "persistence/errors.hpp"
#include "persistence/ids.hpp"
#include "persistence/log.hpp"

namespace {

using namespace mext;

std::optional<actors::admin_credentials> admin_from_environment() {
  const char* email = std::getenv("MEXT_ADMIN_EMAIL");
  const char* password = std::getenv("MEXT_ADMIN_PASSWORD");
  if (!email || !*email || !password || !*password) return std::nullopt;
  return actors::admin_credentials{email, password};
}

// The demo people's password: kept in the data directory (mode 0600) so it stays the same
// across restarts and is never printed to logs.
caf::expected<std::string> demo_password(const std::filesystem::path& data_dir) {
  auto path = data_dir / "demo-password";
  std::ifstream in{path};
  std::string pw;
  if (in && std::getline(in, pw) && !pw.empty()) return pw;
  pw = "demo-" + random_hex(12);
  auto old = ::umask(077);
  std::ofstream out{path, std::ios::trunc};
  out << pw << "\n";
  ::umask(old);
  if (!out) return make_error(errc::storage_failed, "cannot write " + path.string());
  return pw;
}

// Sends an exit message to an actor when the scope ends, or earlier through stop(), which also
// waits until the actor is gone.
struct stop_on_exit {
  caf::actor target;
  void stop(caf::actor_system& sys) {
    if (!target) return;
    caf::scoped_actor self{sys};
    self->monitor(target);
    self->send_exit(target, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
    target = caf::actor{};
  }
  ~stop_on_exit() {
    if (target) caf::anon_send_exit(target, caf::exit_reason::user_shutdown);
  }
};

int fail(const std::string& event, const caf::error& err) {
  log::error(event).field("error", detail_of(err));
  std::cerr << "mextd: " << detail_of(err) << "\n";
  return 1;
}

// Descriptors kept for the store, uploads, backups, logs and the listener beyond the sockets.
constexpr rlim_t reserved_descriptors = 512;

// Raises the soft open-file limit to the hard one, then lowers max_connections to what it
// leaves: past it accept() would fail on descriptors that LMDB and file writes need as well.
void fit_connections_to_file_limit(std::size_t& max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur == RLIM_INFINITY) return;
  rlim_t room = lim.rlim_cur > reserved_descriptors * 2 ? lim.rlim_cur - reserved_descriptors
                                                        : lim.rlim_cur / 2;
  if (max_connections <= room) return;
  log::warn("mextd.max_connections_lowered")
      .field("configured", static_cast<uint64_t>(max_connections))
      .field("open_file_limit", static_cast<uint64_t>(lim.rlim_cur))
      .field("max_connections", static_cast<uint64_t>(room));
  max_connections = static_cast<std::size_t>(room);
}

int run(const http::mextd_settings& s) {
  log::set_min_level(s.log_level);
  // Signals are taken by sigwait in main: blocked here, before any thread starts, so every
  // thread inherits the mask and none is interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  std::filesystem::create_directories(s.data_dir, ec);
  if (ec) return fail("mextd.data_dir", make_error(errc::storage_failed, ec.message()));

  if (!s.restore.empty()) {
    auto report = actors::restore_backup(s.restore, s.data_dir);
    if (!report) return fail("mextd.restore", report.error());
    std::cout << "restored " << s.restore.string() << " into " << s.data_dir.string() << "; "
              << report->erasures_replayed
              << " erased people found in it are erased again at the next start; the data it "
                 "replaced is in "
              << report->moved_aside.string() << std::endl;
    return 0;
  }

  auto server_settings = http::to_server_settings(s);
  fit_connections_to_file_limit(server_settings.max_connections);
  if (!s.plain_http && (s.tls_cert.empty() || s.tls_key.empty())) {
    if (auto err =
            http::ensure_self_signed(s.data_dir, server_settings.tls_cert, server_settings.tls_key))
      return fail("mextd.tls", err);
  }

  caf::actor_system_config cfg;
  actors::add_all_message_types(cfg);
  http::configure_scheduler(cfg, s);
  caf::actor_system sys{cfg};

  actors::engine_options opts;
  opts.data_dir = s.data_dir;
  opts.store.initial_map_bytes = static_cast<size_t>(s.map_size_mb) << 20;
  opts.store.max_map_bytes = static_cast<size_t>(s.map_max_mb) << 20;
  opts.commit.batch_max = s.commit_batch_max;
  opts.commit.max_wait = std::chrono::microseconds{s.commit_max_wait_us};
  opts.entities.snapshot_every = s.snapshot_every;
  opts.entities.idle_passivate = std::chrono::milliseconds{s.idle_passivate_ms};
  auto eng = actors::engine::start(sys, opts, actors::all_entity_kinds());
  if (!eng) return fail("mextd.engine", eng.error());

  auto admin = actors::ensure_admin(sys, **eng, admin_from_environment());
  if (!admin) {
    if (code_of(admin.error()) != errc::not_found) return fail("mextd.admin", admin.error());
    log::warn("mextd.no_admin").field("detail", detail_of(admin.error()));
  }
  if (s.demo) {
    if (!admin)
      return fail("mextd.demo", make_error(errc::invalid_argument,
                                           "--demo needs an administrator: set "
                                           "MEXT_ADMIN_EMAIL and MEXT_ADMIN_PASSWORD"));
    auto pw = demo_password(s.data_dir);
    if (!pw) return fail("mextd.demo", pw.error());
    auto demo = actors::load_demo(sys, **eng, *admin, *pw);
    if (!demo) return fail("mextd.demo", demo.error());
    if (demo->loaded)
      std::cout << "demo exhibition " << demo->exhibition_id << " loaded: " << demo->people.size()
                << " people sign in with the password in "
                << (s.data_dir / "demo-password").string() << std::endl;
  }

  actors::retention_settings retention;
  retention.connection_log_retention =
      std::chrono::hours(24) * static_cast<int64_t>(s.connection_log_retention_days);
  retention.interval = std::chrono::seconds(s.retention_interval_s);
  retention.chat_retention = std::chrono::hours(24) * static_cast<int64_t>(s.chat_retention_days);
  auto retention_sweeps = actors::spawn_retention_actor(sys, (*eng)->rt(), retention);
  // Stopped on every way out of run(): a live actor would keep the actor system from ending.
  stop_on_exit stop_sweeps{caf::actor_cast<caf::actor>(retention_sweeps)};
  actors::backup_settings backups;
  backups.dir = s.backup_dir.empty() ? s.data_dir / "backups" : s.backup_dir;
  backups.interval = std::chrono::seconds(s.backup_interval_s);
  backups.keep = s.backup_keep;
  auto backup_runs = actors::spawn_backup_actor(sys, (*eng)->rt(), backups);
  stop_on_exit stop_backups{caf::actor_cast<caf::actor>(backup_runs)};

  http::auth_settings auth;
  auth.session_absolute = std::chrono::seconds{s.session_absolute_s};
  auth.session_idle = std::chrono::seconds{s.session_idle_s};
  auth.free_failures = s.login_free_failures;
  auth.ip_free_failures = s.login_ip_free_failures;
  auth.first_delay = std::chrono::seconds{s.login_first_delay_s};
  auth.max_delay = std::chrono::seconds{s.login_max_delay_s};
  auth.trusted_proxies = s.trusted_proxies;
  auth.common_passwords_file = s.common_passwords_file;
  if (!s.isp_database.empty()) {
    auto isp = http::isp_database::open(s.isp_database);
    if (!isp) return fail("mextd.isp_database", isp.error());
    auth.isp = std::move(*isp);
  }
  auth.connection_retention =
      std::chrono::hours(24) * static_cast<int64_t>(s.connection_log_retention_days);
  auto sessions = http::session_store::open(sys, **eng, auth);
  if (!sessions) return fail("mextd.sessions", sessions.error());
  http::edge_guard_settings guard;
  guard.requests_per_second = s.rate_limit_rps;
  guard.burst = s.rate_limit_burst;
  guard.max_addresses = s.rate_limit_addresses;
  guard.max_header_count = s.max_header_count;
  http::metrics_settings metrics;
  metrics.loopback_exempt = s.metrics_loopback;
  http::api_limits limits;
  limits.actor_timeout = std::chrono::seconds{s.actor_timeout_s};
  limits.max_json_bytes = std::min(s.max_json_bytes, s.max_body_bytes);
  limits.max_json_depth = static_cast<int>(s.max_json_depth);
  auto a = std::make_shared<http::api>(
      http::api{sys, **eng, limits, *sessions, std::make_shared<http::edge_guard>(guard),
                std::make_shared<http::metrics_registry>(metrics),
                std::make_shared<http::response_cache>(
                    http::response_cache_settings{s.booth_list_cache_entries})});
  auto routes = std::make_shared<http::router>();
  http::add_ops_routes(*routes, sys, **eng);
  http::file_settings files;
  files.max_bytes = s.max_file_bytes;
  http::websocket_options ws;
  ws.protocol.send_rate = s.ws_send_rate;
  ws.protocol.send_burst = s.ws_send_burst;
  ws.protocol.max_rooms = s.ws_max_rooms;
  ws.hubs.presence_interval = std::chrono::milliseconds{s.ws_presence_interval_ms};
  http::privacy_options privacy;
  privacy.archive_retention = std::chrono::hours(s.export_retention_h);
  privacy.holder_timeout = std::chrono::seconds(s.privacy_holder_timeout_s);
  privacy.holder_attempts = s.privacy_holder_attempts;
  privacy.parallel_holders = s.privacy_parallel_holders;
  privacy.notice_command = s.notice_command;
  privacy.notice_spool_dir = s.notice_spool_dir;
  privacy.notice_retry = std::chrono::seconds(s.notice_retry_s);
  privacy.notice_attempts = s.notice_attempts;
  privacy.contact = s.dpo_contact;
  http::add_api_routes(*routes, a, files, ws, privacy);
  http::server srv{server_settings, http::guard_routes(*routes, a)};
  http::add_sampled_metrics(*a, srv);
  if (auto err = srv.start()) return fail("mextd.listen", err);
  std::cout << "listening on " << s.listen_host << ":" << srv.port() << std::endl;
  log::info("mextd.listening")
      .field("port", static_cast<uint64_t>(srv.port()))
      .field("tls", !s.plain_http);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("mextd.stopping").field("signal", sig);
  srv.stop();
  a->hubs->stop_all();
  // Every connection is closed: their session actors end before the engine does.
  if (!a->ws->wait_until_none_alive(std::chrono::seconds(5)))
    log::warn("mextd.ws_sessions_still_alive");
  stop_sweeps.stop(sys);
  stop_backups.stop(sys);
  http::stop_privacy(*a);
  (*eng)->stop();
  log::info("mextd.stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto settings = mext::http::parse_settings(argc, argv);
  if (!settings) {
    std::cerr << "mextd: " << mext::detail_of(settings.error()) << "\n\n" << mext::http::usage();
    return 2;
  }
  if (settings->help) {
    std::cout << mext::http::usage();
    return 0;
  }
  return run(*settings);
}
