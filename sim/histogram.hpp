#pragma once
// Latency histogram with log-linear buckets: each power of two from 1 µs to about 1,100 s is cut
// into 32 equal buckets, so a reported percentile is within about 3% of the true value. Fixed
// size, no allocation when recording; histograms of several workers (or shards) merge by adding.

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

namespace mext::sim {

class histogram {
 public:
  static constexpr int sub_buckets = 32;
  static constexpr int powers = 31;  // 2^30 µs is about 18 minutes

  void record(uint64_t micros);
  void merge(const histogram& other);
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  // The value at quantile q (0..1), in µs: the upper bound of the bucket that holds it.
  uint64_t quantile(double q) const;

  // The non-empty buckets as (index, count), for a report that other shards' reports merge with.
  std::vector<std::pair<uint32_t, uint64_t>> buckets() const;
  // Adds what buckets() gave (of another histogram) and its maximum.
  void add(const std::vector<std::pair<uint32_t, uint64_t>>& buckets, uint64_t max);

 private:
  static int index_of(uint64_t micros);
  static uint64_t upper_of(int index);
  std::array<uint64_t, sub_buckets * powers> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace mext::sim
