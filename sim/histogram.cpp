#include "sim/histogram.hpp"

#include <algorithm>
#include <bit>

namespace mext::sim {

int histogram::index_of(uint64_t v) {
  if (v < sub_buckets) return static_cast<int>(v);
  // The power p such that 2^p <= v < 2^(p+1), then the linear slot inside it.
  int p = 63 - std::countl_zero(v);
  int shift = p - 5;  // 32 sub-buckets = 5 bits below the leading one
  int slot = static_cast<int>((v >> shift) & (sub_buckets - 1));
  int index = (p - 4) * sub_buckets + slot;
  return std::min(index, sub_buckets * powers - 1);
}

uint64_t histogram::upper_of(int index) {
  if (index < sub_buckets) return static_cast<uint64_t>(index);
  int p = index / sub_buckets + 4;
  int slot = index % sub_buckets;
  int shift = p - 5;
  return ((uint64_t{sub_buckets} + static_cast<uint64_t>(slot) + 1) << shift) - 1;
}

void histogram::record(uint64_t micros) {
  ++buckets_[static_cast<size_t>(index_of(micros))];
  ++count_;
  max_ = std::max(max_, micros);
}

void histogram::merge(const histogram& o) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  max_ = std::max(max_, o.max_);
}

std::vector<std::pair<uint32_t, uint64_t>> histogram::buckets() const {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (buckets_[i] != 0) out.emplace_back(static_cast<uint32_t>(i), buckets_[i]);
  return out;
}

void histogram::add(const std::vector<std::pair<uint32_t, uint64_t>>& buckets, uint64_t max) {
  for (auto& [i, n] : buckets) {
    if (i >= buckets_.size()) continue;
    buckets_[i] += n;
    count_ += n;
  }
  max_ = std::max(max_, max);
}

uint64_t histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(upper_of(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace mext::sim
