// `nodepulse agent`: load the probes, track the targets, collect samples, serve /metrics.
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <memory>

#include "cli/commands.h"
#include "collect/sample.h"
#include "collect/sched_collector.h"
#include "collect/target_tracker.h"
#include "common/event_loop.h"
#include "http/http_server.h"
#include "metrics/agent_metrics.h"
#include "probes/kernel_features.h"

namespace nodepulse {
namespace {

// A full /proc rescan catches what events cannot: pid files rewritten, processes moved between
// cgroups, an exit event lost to a full ring buffer.
constexpr std::chrono::seconds kRescanPeriod{2};

uint64_t monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

std::vector<std::string> target_names(const Config& config) {
  std::vector<std::string> names;
  for (const TargetSpec& spec : config.targets) names.push_back(spec.name);
  return names;
}

class Agent final : public TargetListener {
 public:
  Agent(const Config& config, prometheus::Registry& registry)
      : config_(config),
        metrics_(registry, target_names(config), version_string()),
        tracker_(TargetMatcher(config.targets, "/proc", getpid()), *this) {
    collectors_.push_back(
        std::make_unique<SchedCollector>(config, [this](const SchedEvent& event) { on_sched_event(event); }));
  }

  Result<void> start(EventLoop& loop) {
    for (auto& collector : collectors_) {
      auto started = collector->start(loop);
      // A probe that cannot load leaves its signal unknown; the agent runs on without it.
      if (!started) spdlog::error("{} probe: {}; its signal is unknown", collector->probe(), started.error().message);
      metrics_.set_probe_up(collector->probe(), started.ok());
    }
    tracker_.rescan();
    report_targets();
    if (auto r = loop.every(std::chrono::milliseconds(config_.collect.interval_ms), [this] { collect(); }); !r) return r;
    return loop.every(kRescanPeriod, [this] { tracker_.rescan(); });
  }

  void target_started(const TargetProcess& process) override {
    spdlog::info("target {}: process {} ({}) found", config_.targets[process.target_index].name, process.tgid,
                 process.comm);
    for (auto& collector : collectors_) collector->target_started(process);
    metrics_.set_target_processes(process.target_index, tracker_.live_count(process.target_index));
  }

  void target_exited(const TargetProcess& process) override {
    spdlog::warn("target {}: process {} ({}) is gone", config_.targets[process.target_index].name, process.tgid,
                 process.comm);
    for (auto& collector : collectors_) collector->target_exited(process);
    metrics_.set_target_processes(process.target_index, tracker_.live_count(process.target_index));
  }

 private:
  void report_targets() {
    if (!tracker_.live().empty()) return;
    std::string names;
    for (const TargetSpec& spec : config_.targets) names += (names.empty() ? "" : ", ") + spec.name;
    spdlog::warn("no target process found ({}); reporting the node as a whole until one starts", names);
  }

  void on_sched_event(const SchedEvent& event) {
    switch (event.kind) {
      case SchedEvent::Kind::kExec: tracker_.on_exec(event.tgid); break;
      case SchedEvent::Kind::kExit: tracker_.on_exit(event.tgid); break;
      case SchedEvent::Kind::kStall:
        spdlog::debug("target {}: thread {} ({}) waited {:.1f} ms for a CPU",
                      event.target_index >= 0 ? config_.targets[static_cast<size_t>(event.target_index)].name : "?",
                      event.pid, event.comm, static_cast<double>(event.wait_ns) / 1e6);
        break;
    }
  }

  void collect() {
    Sample sample;
    sample.mono_ns = monotonic_ns();
    for (auto& collector : collectors_) collector->collect(sample);
    for (const CollectError& error : sample.errors) log_collect_error(error);
    metrics_.record(sample);
  }

  // At most one line per minute; every error is counted in nodepulse_errors_total.
  void log_collect_error(const CollectError& error) {
    const uint64_t now = monotonic_ns();
    ++suppressed_errors_;
    if (last_error_log_ns_ != 0 && now - last_error_log_ns_ < 60'000'000'000u) return;
    spdlog::warn("{} {} failed: {} ({} errors since the last message)", error.component, error.op, error.message,
                 suppressed_errors_);
    last_error_log_ns_ = now;
    suppressed_errors_ = 0;
  }

  const Config& config_;
  AgentMetrics metrics_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  TargetTracker tracker_;
  uint64_t suppressed_errors_ = 0;
  uint64_t last_error_log_ns_ = 0;
};

// Without these the kernel refuses every program; say so before trying anything.
Result<void> require_privileges() {
  for (const FeatureCheck& check : check_environment()) {
    if (check.what == "privileges" && check.status == FeatureCheck::Status::kFail) return Error{check.detail};
  }
  return ok();
}

}  // namespace

int run_agent(const Config& config) {
  if (auto r = require_privileges(); !r) {
    spdlog::critical("cannot start: {}", r.error().message);
    return kExitFailure;
  }
  auto loop = EventLoop::create();
  if (!loop) {
    spdlog::critical("cannot start: {}", loop.error().message);
    return kExitFailure;
  }
  // Before any thread exists, so every thread inherits the blocked signal mask.
  if (auto r = (*loop)->stop_on_termination_signals(); !r) {
    spdlog::critical("cannot start: {}", r.error().message);
    return kExitFailure;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  auto agent = std::make_unique<Agent>(config, *registry);
  if (auto r = agent->start(**loop); !r) {
    spdlog::critical("cannot start: {}", r.error().message);
    return kExitFailure;
  }

  auto http = HttpServer::start(
      config.http.listen,
      {{"/metrics", [registry] {
          return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                              prometheus::TextSerializer().Serialize(registry->Collect())};
        }}});
  if (!http) {
    spdlog::critical("cannot start: {} (http.listen)", http.error().message);
    return kExitFailure;
  }
  spdlog::info("nodepulse {} serving /metrics on {} (port {})", version_string(), config.http.listen, (*http)->port());

  if (auto r = (*loop)->run(); !r) {
    spdlog::critical("event loop failed: {}", r.error().message);
    return kExitFailure;
  }
  spdlog::info("stopping: detaching probes");
  agent.reset();  // BPF links first: they are what must not outlive the agent
  http->reset();
  return kExitOk;
}

}  // namespace nodepulse
