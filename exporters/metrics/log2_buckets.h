// Maps a log2 histogram onto Prometheus histogram buckets.
#pragma once

#include <prometheus/histogram.h>

#include <cstdint>
#include <vector>

#include "common/histogram.h"

namespace nodepulse {

// Bucket upper bounds in seconds: 2^10 ns (~1 µs) up to 2^35 ns (~34 s), one per log2 slot.
// Finer waits fold into the first bucket, longer ones into +Inf.
const std::vector<double>& log2_bucket_bounds_seconds();

// Non-cumulative per-bucket increments (bounds().size() + 1 entries, the last being +Inf),
// as prometheus::Histogram::ObserveMultiple takes them.
std::vector<double> log2_bucket_increments(const Log2Histogram& delta);

// Adds a log2 delta to a histogram made with log2_bucket_bounds_seconds().
void observe_log2(prometheus::Histogram& histogram, const Log2Histogram& delta);

constexpr double ns_to_seconds(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace nodepulse
