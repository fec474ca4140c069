#include "actors/engine.hpp"

#include <caf/all.hpp>

#include "actors/backup_actor.hpp"
#include "actors/breach_actor.hpp"
#include "actors/caller.hpp"
#include "actors/holder.hpp"
#include "actors/privacy_actor.hpp"
#include "persistence/errors.hpp"
#include "persistence/log.hpp"

namespace mext::actors {

caf::expected<std::unique_ptr<engine>> engine::start(caf::actor_system& sys, engine_options options,
                                                     factory_map factories) {
  if (options.store.dir.empty()) options.store.dir = options.data_dir / "lmdb";
  auto store = persistence::lmdb_store::open(options.store);
  if (!store) return store.error();
  std::shared_ptr<persistence::field_sealer> sealer;
  if (options.seal_personal_data) {
    auto keyed = persistence::keyed_field_sealer::open_in(options.data_dir, options.keys);
    if (!keyed) return keyed.error();
    sealer = std::move(*keyed);
  } else {
    auto plain = persistence::plain_field_sealer::open_in(options.data_dir);
    if (!plain) return plain.error();
    sealer = std::move(*plain);
  }
  std::unique_ptr<engine> out{new engine};
  out->sys_ = &sys;
  out->rt_ = std::make_shared<runtime>();
  out->rt_->store = std::shared_ptr<persistence::lmdb_store>(std::move(*store));
  out->rt_->sealer = std::move(sealer);
  out->rt_->settings = options.entities;
  out->rt_->writer = persistence::spawn_store_actor(sys, out->rt_->store, options.commit);
  out->directory_ = spawn_directory(sys, out->rt_, std::move(factories));
  if (auto err = out->wake_entities()) return err;
  return out;
}

caf::error engine::wake_entities() {
  std::string after;
  uint64_t woken = 0;
  for (;;) {
    auto page = rt_->store->scan(persistence::db::indexes, wake_prefix, 1024, after);
    if (!page) return page.error();
    for (auto& [key, value] : *page) {
      // Activation resumes the entity's own pending work; its answer (the handle) is not needed.
      caf::anon_send(directory_, activate_atom::value, key.substr(wake_prefix.size()));
      ++woken;
    }
    if (page->size() < 1024) break;
    after = page->back().first;
  }
  if (woken > 0) log::info("engine.woken").field("entities", woken);
  return {};
}

engine::~engine() {
  stop();
}

void engine::stop() {
  if (stopped_ || !sys_) return;
  stopped_ = true;
  caf::scoped_actor self{*sys_};
  // Entities first, so that nothing new reaches the store; then the store drains and stops.
  self->monitor(directory_);
  self->send_exit(directory_, caf::exit_reason::user_shutdown);
  self->receive([](const caf::down_msg&) {});
  self->monitor(rt_->writer);
  self->send_exit(rt_->writer, caf::exit_reason::user_shutdown);
  self->receive([](const caf::down_msg&) {});
  rt_->directory = caf::actor{};
  rt_->writer = persistence::store_actor{};
  log::info("engine.stopped");
}

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<persistence::write_op>("mext.write_op");
  cfg.add_message_type<persistence::write_item>("mext.write_item");
  cfg.add_message_type<persistence::store_stats>("mext.store_stats");
  cfg.add_message_type<resident_info>("mext.resident_info");
  cfg.add_message_type<std::vector<resident_info>>("mext.resident_info_list");
  cfg.add_message_type<directory_stats>("mext.directory_stats");
  cfg.add_message_type<caller>("mext.caller");
  cfg.add_message_type<personal_record>("mext.personal_record");
  cfg.add_message_type<std::vector<personal_record>>("mext.personal_record_list");
  cfg.add_message_type<privacy_request_view>("mext.privacy_request_view");
  cfg.add_message_type<backup_info>("mext.backup_info");
  cfg.add_message_type<breach_input>("mext.breach_input");
  cfg.add_message_type<breach_view>("mext.breach_view");
  cfg.add_message_type<notice_counts>("mext.notice_counts");
  cfg.add_message_type<std::vector<backup_info>>("mext.backup_info_list");
  cfg.add_message_type<std::vector<privacy_request_view>>("mext.privacy_request_view_list");
}

}  // namespace mext::actors
