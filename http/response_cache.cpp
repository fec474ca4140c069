#include "http/response_cache.hpp"

#include <mutex>

namespace mext::http {

std::optional<response> response_cache::find(const std::string& key, uint64_t generation) const {
  {
    std::shared_lock lock{mutex_};
    if (generation == generation_) {
      if (auto it = entries_.find(key); it != entries_.end()) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return it->second;
      }
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

void response_cache::store(const std::string& key, uint64_t generation, const response& r) {
  if (settings_.max_entries == 0) return;
  std::unique_lock lock{mutex_};
  // A filler that started before a newer one finished must not bring back an old generation.
  if (generation < generation_) return;
  if (generation > generation_ || entries_.size() >= settings_.max_entries) {
    entries_.clear();
    generation_ = generation;
  }
  entries_.insert_or_assign(key, r);
}

std::size_t response_cache::size() const {
  std::shared_lock lock{mutex_};
  return entries_.size();
}

}  // namespace mext::http
