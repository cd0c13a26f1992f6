// nodepulse_node_*, nodepulse_signal_state and the sinks' own metrics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "health/verdict.h"
#include "sink_runner.h"

namespace nodepulse {

class HealthMetrics {
 public:
  explicit HealthMetrics(prometheus::Registry& registry);

  void record(const Verdict& verdict);
  // Starts each sink's series at 0 when its runner starts, so the first failure is an increase
  // an alert sees; counts and times every publish; logs a failing sink at most once a minute.
  // Thread-safe: sinks call it from their own threads.
  SinkObserver sink_observer();

 private:
  struct SinkSeries {
    prometheus::Histogram& publish_seconds;
    prometheus::Counter& errors;
  };
  SinkSeries sink_series(const char* sink);
  void on_published(const char* sink, double seconds, const Result<void>& result);

  prometheus::Gauge& node_state_;
  prometheus::Gauge& node_weight_;
  prometheus::Family<prometheus::Gauge>& signal_state_;
  prometheus::Family<prometheus::Histogram>& publish_seconds_;
  prometheus::Family<prometheus::Counter>& sink_errors_;
  std::mutex log_mutex_;
  std::map<std::string, uint64_t> last_error_log_ms_;
};

}  // namespace nodepulse
