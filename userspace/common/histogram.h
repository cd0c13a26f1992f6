// A log2 latency histogram as userspace sees it: plain values, no BPF headers.
// Slot i counts values in [2^i, 2^(i+1)) ns; the last slot also holds everything larger.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace nodepulse {

struct Log2Histogram {
  static constexpr size_t kSlots = 40;

  std::array<uint64_t, kSlots> slots{};
  uint64_t count = 0;
  uint64_t sum_ns = 0;

  // Exclusive upper bound of slot i, in ns.
  static constexpr double slot_upper_bound_ns(size_t slot) {
    return static_cast<double>(uint64_t{1} << (slot + 1));
  }

  // What was added since `earlier`. BPF counters only grow; a counter that went backwards
  // means the map was recreated (a probe reload), so its whole current value is new.
  Log2Histogram since(const Log2Histogram& earlier) const;

  Log2Histogram& operator+=(const Log2Histogram& other);

  // An upper bound of the q-quantile (0 < q <= 1): the upper bound of the slot holding it;
  // 0 when empty.
  double quantile_upper_bound_ns(double q) const;

  bool operator==(const Log2Histogram&) const = default;
};

// Delta of a counter that only grows, treating a decrease as a reset (see Log2Histogram::since).
constexpr uint64_t counter_delta(uint64_t now, uint64_t before) {
  return now >= before ? now - before : now;
}

}  // namespace nodepulse
