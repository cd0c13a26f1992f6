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
#include "collect/target_tracker.h"
#include "common/event_loop.h"
#include "http/http_server.h"
#include "metrics/agent_metrics.h"
#include "probes/kernel_features.h"
#include "probes/sched_probe.h"

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
        tracker_(TargetMatcher(config.targets, "/proc", getpid()), *this) {}

  Result<void> start(EventLoop& loop) {
    start_sched_probe(loop);
    tracker_.rescan();
    report_targets();
    if (auto r = loop.every(std::chrono::milliseconds(config_.collect.interval_ms), [this] { collect(); }); !r) return r;
    return loop.every(kRescanPeriod, [this] { tracker_.rescan(); });
  }

  void target_started(const TargetProcess& process) override {
    const std::string& name = config_.targets[process.target_index].name;
    spdlog::info("target {}: process {} ({}) found", name, process.tgid, process.comm);
    if (sched_) {
      if (auto r = sched_->add_target(process.tgid, process.target_index); !r) {
        spdlog::warn("target {}: {}", name, r.error().message);
      }
    }
    metrics_.set_target_processes(process.target_index, tracker_.live_count(process.target_index));
  }

  void target_exited(const TargetProcess& process) override {
    const std::string& name = config_.targets[process.target_index].name;
    spdlog::warn("target {}: process {} ({}) is gone", name, process.tgid, process.comm);
    if (sched_) {
      if (auto r = sched_->remove_target(process.tgid); !r) spdlog::warn("target {}: {}", name, r.error().message);
    }
    metrics_.set_target_processes(process.target_index, tracker_.live_count(process.target_index));
  }

 private:
  void start_sched_probe(EventLoop& loop) {
    SchedProbe::Options options{.stall_threshold_ns = uint64_t{config_.sched.stall_threshold_ms} * 1'000'000,
                                .target_count = config_.targets.size()};
    auto probe = SchedProbe::start(options, [this](const SchedEvent& event) { on_sched_event(event); });
    if (!probe) {
      // The agent keeps running: the signal is unknown, which /metrics and (later) /health say.
      spdlog::error("sched probe: {}; run-queue latency is unknown", probe.error().message);
      metrics_.set_probe_up("sched", false);
      return;
    }
    sched_ = std::move(*probe);
    if (auto r = loop.watch(sched_->event_fd(), [this] { sched_->consume_events(); }); !r) {
      spdlog::error("sched probe: cannot watch its ring buffer: {}", r.error().message);
    }
    metrics_.set_probe_up("sched", true);
    spdlog::info("sched probe: attached (stall threshold {} ms)", config_.sched.stall_threshold_ms);
  }

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
    if (sched_) {
      auto reading = sched_->read();
      if (reading) {
        sample.sched = sched_deltas_.next(*reading);
      } else {
        log_read_error(reading.error());
      }
    }
    metrics_.record(sample);
  }

  void log_read_error(const Error& error) {
    // Rate-limited: one line per minute at most, the rest counted.
    const uint64_t now = monotonic_ns();
    ++read_errors_;
    if (now - last_read_error_log_ns_ < 60'000'000'000u) return;
    last_read_error_log_ns_ = now;
    spdlog::warn("sched probe: reading maps failed ({} times so far): {}", read_errors_, error.message);
  }

  const Config& config_;
  AgentMetrics metrics_;
  std::unique_ptr<SchedProbe> sched_;
  SchedDeltaTracker sched_deltas_;
  TargetTracker tracker_;
  uint64_t read_errors_ = 0;
  uint64_t last_read_error_log_ns_ = 0;
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
