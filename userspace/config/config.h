// nodepulse's configuration: the keys of DESIGN.md, every one with a documented default.
// Later features add keys here (and to the parser); none is ever renamed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/trino.h"

namespace nodepulse {

// One process (or group of processes) whose health matters. Exactly one selector is set.
struct TargetSpec {
  std::string name;              // label value in metrics; unique; [a-zA-Z0-9_.-]+
  std::string cmdline_contains;  // substring of /proc/PID/cmdline (NULs read as spaces)
  std::string comm;              // exact /proc/PID/comm
  std::string pid_file;          // file holding the pid
  std::string cgroup;            // cgroup path, e.g. /system.slice/trino.service: every process in it or below
};

// One alerts.exec entry: a command run by /bin/sh -c on each state change.
struct ExecHookSpec {
  std::string command;        // required; never logged (it may hold secrets)
  uint32_t timeout_ms = 5000;  // then the hook's process group is killed
};

// One alerts.webhooks entry: a plain http:// URL that gets the heartbeat JSON on each state change.
struct WebhookSpec {
  std::string url;             // required; only its origin is ever logged
  uint32_t timeout_ms = 5000;  // per attempt
  uint32_t retries = 2;        // attempts after the first, on no answer, 5xx or 429
};

struct Config {
  std::string cluster = "default";

  struct Node {
    std::string id;    // "" = Trino's node.id, else the hostname
    std::string role;  // "" | coordinator | worker
  } node;

  struct Trino {
    std::string etc_dir = "/etc/trino";
    // Not config keys: what etc_dir held, filled at start-up by resolve_trino_settings (trino.h)
    // for the heartbeat payload and `nodepulse check`.
    TrinoNodeInfo detected;
    std::vector<std::string> warnings;
  } trino;

  std::vector<TargetSpec> targets = {{"trino", "io.trino.server.TrinoServer", "", "", ""}};

  struct Network {
    std::string netns;             // "" = the agent's own, or a path like /var/run/netns/NAME
    std::vector<uint16_t> ports;   // cluster ports; empty = Trino's http port and 2181
    uint32_t max_peers = 64;
  } network;

  struct Http {
    std::string listen = "127.0.0.1:9477";
  } http;

  struct AgentCheck {
    std::string listen;  // "" = off
    // A degraded node whose weight is below this answers "drain" instead of "up W%"; 0 = never.
    uint32_t drain_below_weight = 0;
  } agent_check;

  struct Zookeeper {
    std::string connect;  // "" = off
    std::string root = "/nodepulse";
    uint32_t session_timeout_ms = 4000;
    // A file holding "user:password" for ZooKeeper digest auth; the znodes are then writable by
    // that identity only. "" = no auth. Its content is never logged or shown.
    std::string auth_file;
  } zookeeper;

  struct Heartbeat {
    uint32_t interval_ms = 1000;
  } heartbeat;

  struct Keepalived {
    std::string track_file;  // "" = off
    // The integer written per state; keepalived multiplies it by the track_file's weight, and a
    // product below -253 (or, with weight 0, any non-zero value) is a FAULT that gives up the VIP.
    int32_t healthy_value = 0;
    int32_t degraded_value = 0;
    int32_t failing_value = -254;
    int32_t unknown_value = 0;
  } keepalived;

  struct Alerts {
    std::vector<ExecHookSpec> exec;
    std::vector<WebhookSpec> webhooks;
    std::string alertmanager_url;  // http://HOST:PORT of Alertmanager; "" = off
    uint32_t alertmanager_timeout_ms = 5000;
  } alerts;

  struct Log {
    std::string level = "info";
  } log;

  struct Sched {
    uint32_t stall_threshold_ms = 10;  // a target's run-queue wait at or above this is a stall event
    // Where "queued at" comes from: auto (schedstat when the kernel has it), schedstat, or
    // wakeup (our own timestamps at sched_wakeup; costlier, works without CONFIG_SCHED_INFO).
    std::string queue_timestamps = "auto";
  } sched;

  struct Memory {
    // PSI trigger: wake the agent at once when the `some` memory stall (node-wide, and in each
    // target's cgroup) reaches psi_trigger_stall_us within psi_trigger_window_us. 0 = off.
    // Kernels >= 6.5 accept from a process without CAP_SYS_RESOURCE only windows that are a
    // multiple of 2 s (and evaluate them every 2 s), hence the 2 s default; there the agent
    // checks the same rule itself at every collection (see collect/mem_collector.h).
    uint32_t psi_trigger_stall_us = 200000;
    uint32_t psi_trigger_window_us = 2000000;  // 500000-10000000, the kernel's limits
  } memory;

  // Verdict rules (userspace/health). A worse state applies at once; a better one only after
  // recover_after_ms of readings no worse than it.
  struct Health {
    uint32_t recover_after_ms = 10'000;
    uint32_t window_ms = 10'000;           // sliding window of the windowed rules (p99)
    uint32_t runq_p99_warn_ms = 20;        // a live target's p99 run-queue wait: degraded at or above
    uint32_t runq_p99_fail_ms = 200;       // ... failing at or above
    uint32_t runq_stall_fail_ms = 1'000;   // one wait this long fails the node at once
    uint32_t jvm_pause_warn_ms = 200;      // a JVM pause under way this long: degraded
    uint32_t jvm_pause_fail_ms = 1'000;    // ... failing at once, before the pause ends
  } health;

  struct Collect {
    uint32_t interval_ms = 250;  // how often BPF maps are read into a sample
  } collect;
};

// Parses YAML text (empty text = all defaults), then applies `overrides` ("key.path=value",
// value parsed as YAML, so "network.ports=[8080,2181]" works), then validates.
// Unknown keys, wrong types and impossible values are errors whose message names the key and
// where it came from: "FILE:LINE:COLUMN: network.ports[1]: expected a port number 1-65535", or
// "--set network.ports: ..." for an override. Every error from here means exit code 2.
Result<Config> parse_config(std::string_view yaml_text, std::string_view source_name,
                            const std::vector<std::string>& overrides);

// Reads `file` (if given) and calls parse_config. A missing or unreadable file is an error.
Result<Config> load_config(const std::optional<std::filesystem::path>& file,
                           const std::vector<std::string>& overrides);

// The configuration rendered back as YAML with every key, for `nodepulse check` and docs.
std::string to_yaml(const Config& config);

}  // namespace nodepulse
