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

namespace nodepulse {

// One process (or group of processes) whose health matters. Exactly one selector is set.
struct TargetSpec {
  std::string name;              // label value in metrics; unique; [a-zA-Z0-9_.-]+
  std::string cmdline_contains;  // substring of /proc/PID/cmdline (NULs read as spaces)
  std::string comm;              // exact /proc/PID/comm
  std::string pid_file;          // file holding the pid
  std::string cgroup;            // cgroup path, e.g. /system.slice/trino.service: every process in it or below
};

struct Config {
  std::string cluster = "default";

  struct Node {
    std::string id;    // "" = Trino's node.id, else the hostname
    std::string role;  // "" | coordinator | worker
  } node;

  struct Trino {
    std::string etc_dir = "/etc/trino";
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
  } agent_check;

  struct Zookeeper {
    std::string connect;  // "" = off
    std::string root = "/nodepulse";
    uint32_t session_timeout_ms = 4000;
  } zookeeper;

  struct Heartbeat {
    uint32_t interval_ms = 1000;
  } heartbeat;

  struct Keepalived {
    std::string track_file;  // "" = off
  } keepalived;

  struct Log {
    std::string level = "info";
  } log;

  struct Sched {
    uint32_t stall_threshold_ms = 10;  // a target's run-queue wait at or above this is a stall event
  } sched;

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
