#include "common/histogram.h"

#include <cmath>

namespace nodepulse {

Log2Histogram Log2Histogram::since(const Log2Histogram& earlier) const {
  if (count < earlier.count || sum_ns < earlier.sum_ns) return *this;
  Log2Histogram delta;
  for (size_t i = 0; i < kSlots; ++i) delta.slots[i] = counter_delta(slots[i], earlier.slots[i]);
  delta.count = count - earlier.count;
  delta.sum_ns = sum_ns - earlier.sum_ns;
  return delta;
}

Log2Histogram& Log2Histogram::operator+=(const Log2Histogram& other) {
  for (size_t i = 0; i < kSlots; ++i) slots[i] += other.slots[i];
  count += other.count;
  sum_ns += other.sum_ns;
  return *this;
}

double Log2Histogram::quantile_upper_bound_ns(double q) const {
  uint64_t total = 0;
  for (uint64_t n : slots) total += n;
  if (total == 0) return 0;
  const auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kSlots; ++i) {
    seen += slots[i];
    if (seen >= rank && slots[i] > 0) return slot_upper_bound_ns(i);
  }
  return slot_upper_bound_ns(kSlots - 1);
}

}  // namespace nodepulse
