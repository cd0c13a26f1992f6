#include "config/schema.h"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/value_checks.h"

namespace nodepulse::config_detail {
namespace {

// The sched probe keeps one slot per target (NP_SCHED_MAX_TARGETS in bpf/sched.h).
constexpr std::size_t kMaxTargets = 15;
// The kernel's TASK_COMM_LEN is 16 including the NUL: a longer comm can never match.
constexpr std::size_t kMaxCommLength = 15;

Result<void> comm_name(const Value& at, const std::string& comm) {
  if (comm.size() <= kMaxCommLength) return ok();
  return at.error("a comm has at most " + std::to_string(kMaxCommLength) +
                  " characters (the kernel truncates longer names), got " + in_quotes(comm));
}

Result<void> target_count(const Value& at, const std::vector<TargetSpec>& targets) {
  if (targets.empty()) {
    return at.error("at least one target is needed (leave 'targets' out to watch the Trino JVM)");
  }
  if (targets.size() > kMaxTargets) {
    return at.error("at most " + std::to_string(kMaxTargets) + " targets are supported, got " +
                    std::to_string(targets.size()));
  }
  return ok();
}

struct Selector {
  std::string_view key;
  std::string TargetSpec::*field;
};

constexpr std::array kSelectors = {
    Selector{"cmdline_contains", &TargetSpec::cmdline_contains},
    Selector{"comm", &TargetSpec::comm},
    Selector{"pid_file", &TargetSpec::pid_file},
    Selector{"cgroup", &TargetSpec::cgroup},
};

std::string selector_keys() {
  std::vector<std::string> keys;
  for (const Selector& selector : kSelectors) keys.emplace_back(selector.key);
  return join(keys, ", ");
}

Result<void> one_selector(const Value& at, const TargetSpec& target) {
  std::vector<std::string> given;
  for (const Selector& selector : kSelectors) {
    if (!(target.*selector.field).empty()) given.emplace_back(selector.key);
  }
  if (given.size() == 1) return ok();
  const std::string wanted = "give exactly one of " + selector_keys();
  if (given.empty()) return at.error(wanted + "; got none");
  return at.error(wanted + "; got " + join(given, " and "));
}

}  // namespace

// Found by argument-dependent lookup from decode(std::vector<TargetSpec>&): not in the anonymous namespace.
Result<void> decode(const Value& value, TargetSpec& target) {
  Section section(value);
  section.require("name", target.name, metric_label_name);
  section.read("cmdline_contains", target.cmdline_contains);
  section.read("comm", target.comm, comm_name);
  section.read("pid_file", target.pid_file, empty_or(absolute_path));
  section.read("cgroup", target.cgroup, empty_or(absolute_path));
  if (Result<void> outcome = section.finish(); !outcome.ok()) return outcome;
  return one_selector(value, target);
}

void read_identity(Section& top, Config& config) {
  top.read("cluster", config.cluster, znode_name);
  top.section("node", [&](Section& node) {
    node.read("id", config.node.id, empty_or(znode_name));
    node.read("role", config.node.role, one_of({"", "coordinator", "worker"}));
  });
}

void emit_identity(YAML::Emitter& out, const Config& config) {
  emit(out, "cluster", config.cluster);
  emit_section(out, "node", [&] {
    emit(out, "id", config.node.id);
    emit(out, "role", config.node.role);
  });
}

void read_targets(Section& top, Config& config) {
  top.read("targets", config.targets, target_count, unique_member("name", &TargetSpec::name, "target name"));
}

void emit_targets(YAML::Emitter& out, const Config& config) {
  emit_list(out, "targets", config.targets, [](YAML::Emitter& o, const TargetSpec& target) {
    emit(o, "name", target.name);
    for (const Selector& selector : kSelectors) {
      if (!(target.*selector.field).empty()) emit(o, selector.key, target.*selector.field);
    }
  });
}

void read_log(Section& top, Config& config) {
  top.section("log", [&](Section& log) {
    log.read("level", config.log.level, one_of({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  });
}

void emit_log(YAML::Emitter& out, const Config& config) {
  emit_section(out, "log", [&] { emit(out, "level", config.log.level); });
}

void read_probes(Section& top, Config& config) {
  top.section("probes", [&](Section& probes) {
    probes.read("attach", config.probes.attach, one_of({"auto", "tp_btf", "raw_tp", "tracepoint"}));
    probes.read("events", config.probes.events, one_of({"auto", "ringbuf", "perfbuf"}));
  });
}

void emit_probes(YAML::Emitter& out, const Config& config) {
  emit_section(out, "probes", [&] {
    emit(out, "attach", config.probes.attach);
    emit(out, "events", config.probes.events);
  });
}

void read_collection(Section& top, Config& config) {
  top.section("collect", [&](Section& collect) {
    collect.read("interval_ms", config.collect.interval_ms, between(10, 10000));
  });
  top.section("metrics", [&](Section& metrics) { metrics.read("bpf_stats", config.metrics.bpf_stats); });
}

void emit_collection(YAML::Emitter& out, const Config& config) {
  emit_section(out, "collect", [&] { emit(out, "interval_ms", config.collect.interval_ms); });
  emit_section(out, "metrics", [&] { emit(out, "bpf_stats", config.metrics.bpf_stats); });
}

}  // namespace nodepulse::config_detail
