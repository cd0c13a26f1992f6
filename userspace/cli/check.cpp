// `nodepulse check`: validate the config, probe the kernel, say what will load and why not.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "collect/probe_paths_config.h"
#include "collect/targets.h"
#include "probes/jvm_probe.h"
#include "probes/kernel_features.h"
#include "probes/mem_probe.h"
#include "probes/task_state_probe.h"
#include "collect/sched_collector.h"
#include "collect/trino_etc.h"
#include "collect/net_collector.h"

namespace nodepulse {
namespace {

void print_row(const FeatureCheck& check) {
  std::printf("  %-40s %-5s %s\n", check.what.c_str(), status_name(check.status), check.detail.c_str());
}

// What the config selects, and what it finds right now.
std::vector<FeatureCheck> check_targets(const Config& config) {
  const TargetMatcher matcher(config.targets, "/proc", getpid());
  const auto found = matcher.scan();
  std::vector<FeatureCheck> checks;
  for (size_t i = 0; i < config.targets.size(); ++i) {
    std::string pids;
    for (const TargetProcess& process : found) {
      if (process.target_index == i) pids += (pids.empty() ? "" : ", ") + std::to_string(process.tgid);
    }
    checks.push_back({"target " + config.targets[i].name,
                      pids.empty() ? FeatureCheck::Status::kWarn : FeatureCheck::Status::kOk,
                      pids.empty() ? "no process matches now; the agent will pick it up when it starts"
                                   : "pid " + pids});
  }
  return checks;
}

// metrics.bpf_stats: what it exports and what it costs, on or off (off is the default, not a fault).
FeatureCheck check_bpf_stats_setting(const Config& config) {
  const std::string cost =
      "cost: while on, the kernel reads the clock twice around every run of every BPF program on the host, ours "
      "and others'";
  if (config.metrics.bpf_stats) {
    return {"metrics.bpf_stats", FeatureCheck::Status::kOk,
            "on: nodepulse_bpf_run_* are exported while the agent runs (if the kernel allows it: \"BPF run-time "
            "stats\" above); " + cost};
  }
  return {"metrics.bpf_stats", FeatureCheck::Status::kOk,
          "off: nodepulse_bpf_run_* are not exported and the BPF cost panels say so; set metrics.bpf_stats: true "
          "for them (the agent then holds kernel.bpf_stats_enabled on); " + cost};
}

// What Trino's etc/ said (read at start-up into config.trino), and the etc directory each running
// target was started with, which is where Trino really reads its settings from.
std::vector<FeatureCheck> check_trino(const Config& config) {
  using Status = FeatureCheck::Status;
  const TrinoNodeInfo& trino = config.trino.detected;
  const auto text = [](const std::optional<std::string>& value) { return value ? *value : std::string("unknown"); };
  const auto size = [](const std::optional<uint64_t>& bytes, const char* absent) {
    if (!bytes) return std::string(absent);
    const bool whole_gib = *bytes % (uint64_t{1} << 30) == 0;
    const std::string rounded = whole_gib ? std::to_string(*bytes >> 30) + " GiB" : std::to_string(*bytes >> 20) + " MiB";
    return rounded + " (" + std::to_string(*bytes) + " bytes)";
  };
  const auto normal = [](std::filesystem::path path) {
    path = path.lexically_normal();
    return path.has_filename() ? path : path.parent_path();  // "/etc/trino/" is "/etc/trino"
  };
  std::string files;
  for (const auto& file : trino.files_read) files += (files.empty() ? "" : ", ") + file.filename().string();
  std::string ports;
  for (uint16_t port : config.network.ports) ports += (ports.empty() ? "" : ", ") + std::to_string(port);

  std::vector<FeatureCheck> checks = {
      {"etc dir", trino.found() ? Status::kOk : Status::kWarn,
       config.trino.etc_dir + (trino.found() ? ": read " + files : ": nothing read; Trino's settings are unknown")},
      {"node id", Status::kOk,
       config.node.id + (trino.node_id ? " (Trino's node.id: " + *trino.node_id + ")" : " (no Trino node.id)")},
      {"role", config.node.role.empty() ? Status::kWarn : Status::kOk,
       config.node.role.empty() ? "unknown" : config.node.role},
      {"cluster ports", Status::kOk, ports + (trino.http_port ? "" : " (Trino's http port unknown)")},
      {"node.environment", Status::kOk, text(trino.environment)},
      {"discovery.uri", Status::kOk, text(trino.discovery_uri)},
      {"-Xmx", Status::kOk, size(trino.max_heap_bytes, "unknown")},
      {"query.max-memory-per-node", Status::kOk, size(trino.query_max_memory_per_node_bytes, "not set")},
      {"query.max-total-memory-per-node", Status::kOk, size(trino.query_max_total_memory_per_node_bytes, "not set")},
  };
  for (const std::string& warning : config.trino.warnings) checks.push_back({"warning", Status::kWarn, warning});

  const TargetMatcher matcher(config.targets, "/proc", getpid());
  for (const TargetProcess& process : matcher.scan()) {
    const std::optional<std::filesystem::path> etc_dir = etc_dir_of_process(process.tgid);
    if (!etc_dir) continue;
    const bool same = normal(*etc_dir) == normal(config.trino.etc_dir);
    checks.push_back({"pid " + std::to_string(process.tgid) + " etc dir", same ? Status::kOk : Status::kWarn,
                      etc_dir->string() + (same ? "" : ": not trino.etc_dir; set trino.etc_dir to it")});
  }
  return checks;
}

// Every probe the agent loads: the paths it takes and why, what it needs, and a trial load that
// runs the verifier.
struct ProbeCheck {
  std::string title;
  Result<ProbePlan> plan;
  ProbeRequirements requirements;
  std::function<Result<void>()> verify_load;
};

std::vector<ProbeCheck> probe_checks(const Config& config) {
  const SchedProbe::Options sched = sched_probe_options(config);
  const MemProbe::Options mem{.target_count = config.targets.size(),
                              .oom_hook = MemProbe::OomHook::kAuto,
                              .paths = probe_path_request(config)};
  std::vector<ProbeCheck> checks;
  checks.push_back({"probe sched (run-queue latency):", SchedProbe::plan(sched), SchedProbe::requirements(sched),
                    [sched] { return SchedProbe::verify_load(sched); }});
  ProbeRequirements task_state;  // task iterators: the trial load is the check
  task_state.probe = "task_state";
  checks.push_back({"probe task_state (targets stopped or still waiting for a CPU):", TaskStateProbe::plan(),
                    task_state, [] { return TaskStateProbe::verify_load(); }});
  checks.push_back({"probe jvm (HotSpot GC and safepoint pauses, USDT):", JvmProbe::plan(probe_path_request(config)),
                    JvmProbe::requirements(),
                    [&config] { return JvmProbe::verify_load({.target_count = config.targets.size()}); }});
  checks.push_back({"probe mem (reclaim stalls, OOM kills):", MemProbe::plan(mem), MemProbe::requirements(mem),
                    [mem] { return MemProbe::verify_load(mem); }});
  const NetProbe::Options net = NetCollector::options_from(config).probe;
  checks.push_back({"probe net (TCP health of cluster connections):", NetProbe::plan(net), NetProbe::requirements(net),
                    [net] { return NetProbe::verify_load(net); }});
  return checks;
}

// "sched: attach  ok  raw_tp (forced by probes.attach)": the path each probe takes, and why.
std::vector<FeatureCheck> check_paths(const std::string& probe, const Result<ProbePlan>& plan) {
  using Status = FeatureCheck::Status;
  if (!plan) return {{probe + ": paths", Status::kFail, plan.error().message}};
  std::vector<FeatureCheck> checks = {
      {probe + ": attach", Status::kOk, plan->attach + " (" + plan->attach_reason + ")"},
      {probe + ": events", Status::kOk,
       plan->events + (plan->events_reason.empty() ? "" : " (" + plan->events_reason + ")")}};
  for (const std::string& cost : plan->degraded) checks.push_back({probe + ": degraded", Status::kWarn, cost});
  return checks;
}

std::vector<FeatureCheck> check_probe(const ProbeCheck& probe) {
  std::vector<FeatureCheck> checks = check_paths(probe.requirements.probe, probe.plan);
  if (!probe.plan) return checks;
  for (FeatureCheck& check : check_probe_requirements(probe.requirements)) checks.push_back(std::move(check));
  const bool requirements_met = std::none_of(checks.begin(), checks.end(), [](const FeatureCheck& c) {
    return c.status == FeatureCheck::Status::kFail;
  });
  if (requirements_met) {
    auto loaded = probe.verify_load();
    checks.push_back({probe.requirements.probe + ": load (verifier)",
                      loaded ? FeatureCheck::Status::kOk : FeatureCheck::Status::kFail,
                      loaded ? "accepted" : loaded.error().message});
  }
  return checks;
}

}  // namespace

int run_check(const Config& config, const std::string& config_source) {
  bool failed = false;
  auto section = [&failed](const char* title, const std::vector<FeatureCheck>& checks) {
    std::printf("%s\n", title);
    for (const FeatureCheck& check : checks) {
      print_row(check);
      failed |= check.status == FeatureCheck::Status::kFail;
    }
  };

  std::printf("config: %s: ok\n", config_source.c_str());
  section("kernel and privileges:", check_environment());
  section("metrics:", {check_bpf_stats_setting(config)});

  for (const ProbeCheck& probe : probe_checks(config)) section(probe.title.c_str(), check_probe(probe));
  section("targets:", check_targets(config));
  section("trino:", check_trino(config));

  std::printf("%s\n", failed ? "result: some probes will NOT load (see FAIL above)" : "result: everything will load");
  return failed ? kExitFailure : kExitOk;
}

}  // namespace nodepulse
