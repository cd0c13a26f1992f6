// `nodepulse agent`: load the probes, track the targets, collect samples, judge the node's
// health and publish it: heartbeats to every sink, /health and /metrics over HTTP.
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>

#include "cli/commands.h"
#include "collect/jvm_collector.h"
#include "collect/mem_collector.h"
#include "collect/net_collector.h"
#include "collect/sample.h"
#include "collect/sched_collector.h"
#include "collect/target_tracker.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/privileges.h"
#include "health/engine.h"
#include "heartbeat/publisher.h"
#include "http/http_server.h"
#include "metrics/agent_metrics.h"
#include "metrics/health_metrics.h"
#include "metrics/self_metrics.h"
#include "sinks.h"
#include "probes/kernel_features.h"
#include "probes/bpf_util.h"  // enable_bpf_stats() only

namespace nodepulse {
namespace {

// A full /proc rescan catches what events cannot: pid files rewritten, processes moved between
// cgroups, an exit event lost to a full ring buffer.
constexpr std::chrono::seconds kRescanPeriod{2};
// How often pauses in progress are checked between collections (the JVM fast path), and how
// soon a long run-queue stall reported by the kernel is judged (the scheduler fast path).
constexpr std::chrono::milliseconds kFastCheckPeriod{20};

std::string hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

NodeIdentity node_identity(const Config& config) {
  return {.node_id = config.node.id.empty() ? hostname() : config.node.id,
          .cluster = config.cluster,
          .role = config.node.role,
          .host = hostname(),
          .version = version_string(),
          .http_port = config.trino.detected.http_port.value_or(0)};
}

HealthThresholds health_thresholds(const Config& config) {
  HealthThresholds thresholds;
  thresholds.recover_after_ms = config.health.recover_after_ms;
  thresholds.runq.window_ms = config.health.window_ms;
  thresholds.runq.p99_warn_ns = uint64_t{config.health.runq_p99_warn_ms} * 1'000'000;
  thresholds.runq.p99_fail_ns = uint64_t{config.health.runq_p99_fail_ms} * 1'000'000;
  thresholds.runq.stall_fail_ns = uint64_t{config.health.runq_stall_fail_ms} * 1'000'000;
  thresholds.runq.stopped_fail_ns = uint64_t{config.health.stopped_fail_ms} * 1'000'000;
  thresholds.jvm.window_ms = config.health.window_ms;
  thresholds.net.window_ms = config.health.window_ms;
  thresholds.jvm.pause_warn_ns = uint64_t{config.health.jvm_pause_warn_ms} * 1'000'000;
  thresholds.jvm.pause_fail_ns = uint64_t{config.health.jvm_pause_fail_ms} * 1'000'000;
  return thresholds;
}

// GET /health: 200 when healthy or degraded, 503 when failing or unknown; body = heartbeat.
HttpResponse health_response(const std::optional<Heartbeat>& heartbeat) {
  if (!heartbeat) return {503, "application/json", R"({"state":"unknown","reasons":["starting"]})"};
  const HealthState state = heartbeat->verdict.state;
  const bool serving = state == HealthState::kHealthy || state == HealthState::kDegraded;
  return {serving ? 200 : 503, "application/json", to_json(*heartbeat)};
}

std::vector<std::string> target_names(const Config& config) {
  std::vector<std::string> names;
  for (const TargetSpec& spec : config.targets) names.push_back(spec.name);
  return names;
}

class Agent final : public TargetListener {
 public:
  Agent(const Config& config, prometheus::Registry& registry, std::vector<std::unique_ptr<Sink>> sinks,
        std::shared_ptr<const DrainStatusBoard> drain_board)
      : config_(config),
        metrics_(registry, target_names(config), version_string()),
        health_metrics_(registry),
        self_metrics_(registry),
        engine_(health_thresholds(config), target_names(config)),
        publisher_(node_identity(config), config.heartbeat.interval_ms, std::move(sinks),
                   health_metrics_.sink_observer(), std::move(drain_board)),
        tracker_(TargetMatcher(config.targets, "/proc", getpid()), *this) {
    collectors_.push_back(
        std::make_unique<SchedCollector>(config, [this](const SchedEvent& event) { on_sched_event(event); }));
    auto jvm = std::make_unique<JvmCollector>(config);
    jvm_ = jvm.get();
    collectors_.push_back(std::move(jvm));
    collectors_.push_back(std::make_unique<MemCollector>(
        config, MemCollector::Callbacks{.on_oom_kill = [this](const OomKill& kill) { on_oom_kill(kill); },
                                        // A PSI trigger: read everything now, not at the next tick
                                        // (unless this is that reading: the collector also
                                        // applies the trigger rule to each PSI read).
                                        .on_memory_stall = [this](int) {
                                          if (!collecting_) collect();
                                        }}));
    collectors_.push_back(std::make_unique<NetCollector>(NetCollector::options_from(config)));
  }

  Result<void> start(EventLoop& loop) {
    if (config_.metrics.bpf_stats) {
      auto stats = enable_bpf_stats();
      if (stats) bpf_stats_ = std::move(*stats);
      if (!stats) spdlog::warn("metrics.bpf_stats: {}; nodepulse_bpf_run_* are not exported", stats.error().message);
    }
    self_metrics_.set_bpf_stats_enabled(bpf_stats_.has_value());
    for (auto& collector : collectors_) {
      auto started = collector->start(loop);
      // A probe that cannot load leaves its signal unknown; the agent runs on without it.
      if (!started) spdlog::error("{} probe: {}; its signal is unknown", collector->probe(), started.error().message);
      metrics_.set_probe_up(collector->probe(), started.ok());
    }
    tracker_.rescan();
    report_targets();
    collect();  // before /metrics serves: every series a sample makes is there at the first scrape
    if (auto r = loop.every(std::chrono::milliseconds(config_.collect.interval_ms), [this] { collect(); }); !r) return r;
    if (auto r = loop.every(kFastCheckPeriod, [this] { fast_check(); }); !r) return r;
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
    // The fast path: a target gone is judged now, not at the next collection.
    exits_.push_back({process.target_index, process.tgid, oom_victims_.erase(process.tgid) > 0});
    evaluate();
  }

  std::optional<Heartbeat> latest_heartbeat() const { return publisher_.latest(); }

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
        // A wait long enough to move a run-queue rule is judged at the next fast check, not
        // at the next collection. Not from here: a collection drains this ring buffer.
        if (event.target_index >= 0 && event.wait_ns >= judge_stall_at_ns_) collect_soon_ = true;
        break;
    }
  }

  void on_oom_kill(const OomKill& kill) {
    if (kill.target_index < 0) return;
    spdlog::error("target {}: process {} ({}) was OOM-killed", config_.targets[static_cast<size_t>(kill.target_index)].name,
                  kill.tgid, kill.comm);
    // The victim is doomed: fail now; its exit, when it comes, is recorded as this OOM kill.
    oom_victims_.insert(kill.tgid);
    exits_.push_back({static_cast<size_t>(kill.target_index), kill.tgid, true});
    evaluate();
  }

  void fast_check() {
    if (collect_soon_) {
      collect_soon_ = false;
      if (!collecting_) collect();
    }
    check_pauses_in_progress();
  }

  // A JVM stuck in a safepoint is failing before its pause ends; reading only the pauses in
  // progress is cheap enough for a short timer.
  void check_pauses_in_progress() {
    const auto pauses = jvm_->pause_in_progress_ns();
    if (!pauses) return;
    const uint64_t now = monotonic_ms();
    engine_.observe_pauses_in_progress(*pauses, now);
    publish(engine_.verdict(now), now);
  }

  std::vector<size_t> live_processes() const {
    std::vector<size_t> live(config_.targets.size());
    for (size_t i = 0; i < live.size(); ++i) live[i] = tracker_.live_count(static_cast<uint32_t>(i));
    return live;
  }

  // Judges target liveness (and whatever the last sample said) and publishes on a change.
  void evaluate() {
    const uint64_t now = monotonic_ms();
    engine_.observe_targets(live_processes(), exits_, now);
    exits_.clear();
    publish(engine_.verdict(now), now);
  }

  void publish(const Verdict& verdict, uint64_t now_ms) {
    if (verdict.state != last_logged_state_) {
      spdlog::log(verdict.state == HealthState::kHealthy ? spdlog::level::info : spdlog::level::warn,
                  "node is {} (weight {}){}{}", to_string(verdict.state), verdict.weight,
                  verdict.reasons.empty() ? "" : ": ", fmt::join(verdict.reasons, "; "));
      last_logged_state_ = verdict.state;
    }
    health_metrics_.record(verdict);
    publisher_.consider(verdict, now_ms, wall_ms());
  }

  void collect() {
    collecting_ = true;
    Sample sample;
    sample.mono_ns = monotonic_ns();
    for (auto& collector : collectors_) collector->collect(sample);
    for (const CollectError& error : sample.errors) log_collect_error(error);
    metrics_.record(sample);
    record_self_metrics();

    const uint64_t now = monotonic_ms();
    const std::vector<size_t> live = live_processes();
    engine_.observe_targets(live, exits_, now);
    exits_.clear();
    engine_.observe_sample(sample, live, now);
    publish(engine_.verdict(now), now);
    collecting_ = false;
  }

  void record_self_metrics() {
    self_metrics_.record_process();
    // Without statistics, run time and count stay unexported (every figure would be a false 0);
    // missed runs are counted either way.
    for (const auto& collector : collectors_) {
      self_metrics_.record_programs(collector->probe(), collector->program_stats());
    }
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
  HealthMetrics health_metrics_;
  SelfMetrics self_metrics_;
  std::optional<UniqueFd> bpf_stats_;  // kernel BPF run-time statistics stay on while it is open
  HealthEngine engine_;
  HeartbeatPublisher publisher_;
  std::vector<TargetExit> exits_;  // since the last evaluation
  std::set<pid_t> oom_victims_;
  HealthState last_logged_state_ = HealthState::kUnknown;
  bool collecting_ = false;
  bool collect_soon_ = false;  // a stall event asks for a collection at the next fast check
  // The shortest wait that can fail the node: a single stall at runq_stall_fail_ms, or one
  // that alone lifts the window's p99 to runq_p99_fail_ms.
  const uint64_t judge_stall_at_ns_ =
      uint64_t{std::min(config_.health.runq_p99_fail_ms, config_.health.runq_stall_fail_ms)} * 1'000'000;
  std::vector<std::unique_ptr<Collector>> collectors_;
  JvmCollector* jvm_ = nullptr;  // owned by collectors_
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
  auto loop = EventLoop::create_stopped_by_termination_signals();  // before any thread exists
  if (!loop) {
    spdlog::critical("cannot start: {}", loop.error().message);
    return kExitFailure;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  auto drain_board = config.trino.drain == "off" ? nullptr : std::make_shared<DrainStatusBoard>();
  auto sinks = make_sinks(config, {.registry = registry.get(), .drain_board = drain_board});
  if (!sinks) {
    spdlog::critical("cannot start: {}", sinks.error().message);
    return kExitFailure;
  }
  auto agent = std::make_unique<Agent>(config, *registry, std::move(*sinks), drain_board);
  if (auto r = agent->start(**loop); !r) {
    spdlog::critical("cannot start: {}", r.error().message);
    return kExitFailure;
  }

  auto http = HttpServer::start(
      config.http.listen,
      {{"/metrics",
        [registry] {
          return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                              prometheus::TextSerializer().Serialize(registry->Collect())};
        }},
       {"/health", [agent = agent.get()] { return health_response(agent->latest_heartbeat()); }}});
  if (!http) {
    spdlog::critical("cannot start: {} (http.listen)", http.error().message);
    return kExitFailure;
  }
  // Probes attached, listeners bound: from here on keep only what re-attaching a restarted JVM
  // and reading /proc need (common/privileges.h says which and why), in every thread.
  auto kept = drop_privileges(kAgentKeptCapabilities);
  if (!kept) {
    spdlog::critical("cannot start: {}", kept.error().message);
    return kExitFailure;
  }
  spdlog::info("privileges dropped: kept {}; no_new_privs set; hooks run without capabilities",
               capability_names(*kept));
  spdlog::info("nodepulse {} serving /metrics and /health on {} (port {})", version_string(), config.http.listen,
               (*http)->port());

  if (auto r = (*loop)->run(); !r) {
    spdlog::critical("event loop failed: {}", r.error().message);
    return kExitFailure;
  }
  spdlog::info("stopping: detaching probes");
  http->reset();   // stops serving /health, which reads the agent
  agent.reset();  // detaches every BPF link and stops the sinks
  return kExitOk;
}

}  // namespace nodepulse
