// `nodepulse check`: validate the config, probe the kernel, say what will load and why not.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "collect/targets.h"
#include "probes/kernel_features.h"
#include "probes/sched_probe.h"

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

// Every probe the agent loads: what it needs, and a trial load that runs the verifier.
struct ProbeCheck {
  std::string title;
  ProbeRequirements requirements;
  std::function<Result<void>()> verify_load;
};

std::vector<ProbeCheck> probe_checks(const Config& config) {
  return {
      {"probe sched (run-queue latency):", SchedProbe::requirements(),
       [&config] {
         return SchedProbe::verify_load({.stall_threshold_ns = uint64_t{config.sched.stall_threshold_ms} * 1'000'000,
                                         .target_count = config.targets.size()});
       }},
  };
}

std::vector<FeatureCheck> check_probe(const ProbeCheck& probe) {
  std::vector<FeatureCheck> checks = check_probe_requirements(probe.requirements);
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

  for (const ProbeCheck& probe : probe_checks(config)) section(probe.title.c_str(), check_probe(probe));
  section("targets:", check_targets(config));

  std::printf("%s\n", failed ? "result: some probes will NOT load (see FAIL above)" : "result: everything will load");
  return failed ? kExitFailure : kExitOk;
}

}  // namespace nodepulse
