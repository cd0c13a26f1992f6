#include "metrics/health_metrics.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace nodepulse {
namespace {

constexpr const char* kStateCodes = "0 healthy, 1 degraded, 2 failing, 3 unknown";

double state_code(HealthState state) { return static_cast<double>(static_cast<uint8_t>(state)); }

uint64_t steady_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

HealthMetrics::HealthMetrics(prometheus::Registry& registry)
    : node_state_(prometheus::BuildGauge()
                      .Name("nodepulse_node_state")
                      .Help(std::string("The node's verdict: ") + kStateCodes)
                      .Register(registry)
                      .Add({})),
      node_weight_(prometheus::BuildGauge()
                       .Name("nodepulse_node_weight")
                       .Help("The node's weight for balancers, 0-100 (0 when failing or unknown)")
                       .Register(registry)
                       .Add({})),
      signal_state_(prometheus::BuildGauge()
                        .Name("nodepulse_signal_state")
                        .Help(std::string("Each signal's state: ") + kStateCodes)
                        .Register(registry)),
      publish_seconds_(prometheus::BuildHistogram()
                           .Name("nodepulse_sink_publish_seconds")
                           .Help("Time each sink took to publish one heartbeat")
                           .Register(registry)),
      sink_errors_(prometheus::BuildCounter()
                       .Name("nodepulse_sink_errors_total")
                       .Help("Heartbeats a sink failed to publish")
                       .Register(registry)) {
  node_state_.Set(state_code(HealthState::kUnknown));
}

void HealthMetrics::record(const Verdict& verdict) {
  node_state_.Set(state_code(verdict.state));
  node_weight_.Set(verdict.weight);
  for (const SignalVerdict& signal : verdict.signals) {
    signal_state_.Add({{"signal", signal.signal}}).Set(state_code(signal.state));
  }
}

SinkObserver HealthMetrics::sink_observer() {
  return {.published = [this](const char* sink, double seconds,
                              const Result<void>& result) { on_published(sink, seconds, result); },
          .started = [this](const char* sink) { sink_series(sink); }};
}

HealthMetrics::SinkSeries HealthMetrics::sink_series(const char* sink) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5, 5};
  return {publish_seconds_.Add({{"sink", sink}}, kBuckets), sink_errors_.Add({{"sink", sink}})};
}

void HealthMetrics::on_published(const char* sink, double seconds, const Result<void>& result) {
  const SinkSeries series = sink_series(sink);
  series.publish_seconds.Observe(seconds);
  if (result) return;
  series.errors.Increment();
  std::lock_guard lock(log_mutex_);
  uint64_t& last = last_error_log_ms_[sink];
  const uint64_t now = steady_ms();
  if (last != 0 && now - last < 60'000) return;
  last = now;
  spdlog::warn("sink {}: {} (further errors this minute are only counted)", sink, result.error().message);
}

}  // namespace nodepulse
