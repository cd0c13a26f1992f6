#include "metrics/log2_buckets.h"

namespace nodepulse {
namespace {

// Slot s holds [2^s, 2^(s+1)) ns, so its upper bound is bucket bound 2^(s+1).
constexpr size_t kFirstSlot = 9;   // bound 2^10 ns
constexpr size_t kLastSlot = 34;   // bound 2^35 ns

}  // namespace

const std::vector<double>& log2_bucket_bounds_seconds() {
  static const std::vector<double> bounds = [] {
    std::vector<double> out;
    for (size_t slot = kFirstSlot; slot <= kLastSlot; ++slot) {
      out.push_back(Log2Histogram::slot_upper_bound_ns(slot) / 1e9);
    }
    return out;
  }();
  return bounds;
}

std::vector<double> log2_bucket_increments(const Log2Histogram& delta) {
  std::vector<double> increments(kLastSlot - kFirstSlot + 2, 0.0);
  for (size_t slot = 0; slot < Log2Histogram::kSlots; ++slot) {
    size_t bucket = 0;
    if (slot > kLastSlot) {
      bucket = increments.size() - 1;
    } else if (slot > kFirstSlot) {
      bucket = slot - kFirstSlot;
    }
    increments[bucket] += static_cast<double>(delta.slots[slot]);
  }
  return increments;
}

void observe_log2(prometheus::Histogram& histogram, const Log2Histogram& delta) {
  if (delta.count == 0) return;
  histogram.ObserveMultiple(log2_bucket_increments(delta), ns_to_seconds(delta.sum_ns));
}

}  // namespace nodepulse
