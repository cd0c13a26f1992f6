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
  // A secret sent with every POST, read at start-up from a file or from the environment (at most
  // one of the two; both "" = none), never written in the config itself, so a config can be
  // shared, printed and logged. Never logged, never in /health, /metrics or `check`.
  std::string token_file;                      // absolute path; its content, trimmed, is the token
  std::string token_env;                       // name of an environment variable holding the token
  std::string token_header = "Authorization";  // Authorization: "Bearer TOKEN"; any other header: TOKEN as is
};

// One balancer.servers entry: how the balancer names and reaches one node's server.
struct BalancerServerSpec {
  std::string node_id;  // required: the node's id in ZooKeeper
  std::string name;     // the server's name in HAProxy / Trino Gateway; "" = node_id
  std::string address;  // HOST:PORT nginx proxies to; "" = host:http_port from the heartbeat
};

struct Config {
  std::string cluster = "default";

  struct Node {
    std::string id;    // "" = Trino's node.id, else the hostname
    std::string role;  // "" | coordinator | worker
  } node;

  struct Trino {
    std::string etc_dir = "/etc/trino";
    // The trino sink (exporters/trino): take this worker out of Trino's scheduling while it is
    // failing, through its node-state API, under a cluster-wide budget held in ZooKeeper.
    //   off      - never touch Trino's state (the default)
    //   auto     - the reversible drain (DRAINING, back to ACTIVE) where the running Trino has it;
    //              on a Trino without it, nothing is done and the agent says so
    //   shutdown - the one-way SHUTTING_DOWN: the worker exits once its tasks finish, so a
    //              supervisor must restart it
    std::string drain = "off";
    // The local Trino's base URL; "" = http(s)://127.0.0.1:PORT from etc/config.properties.
    std::string url;
    std::string user = "nodepulse";  // X-Trino-User, and the basic-auth user with a password
    // Basic auth: the password read at start-up from a file or an environment variable (at most
    // one; both "" = none), never from this config. Never logged or shown.
    std::string password_file;
    std::string password_env;
    std::string ca_file;           // PEM CA bundle for an https:// Trino; "" = the system's
    uint32_t timeout_ms = 1000;    // per request to Trino
    // Never more than this fraction of the workers (live znodes under nodes/) drained at once.
    double max_unhealthy_fraction = 0.34;
    // Without ZooKeeper nothing new is drained; a drain already made is kept this long (the
    // slot may be gone), then undone: fail static, never fail closed across the fleet.
    uint32_t zk_loss_hold_ms = 10000;
    // The coordinator's base URL, for `nodepulse status` and the balancer to show Trino's own
    // view (GET /v1/node, /v1/node/failed) beside nodepulse's; "" = not shown.
    std::string coordinator_url;
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

  // How every probe reaches the kernel; auto picks the best this kernel supports, and the others
  // force a fallback (to run an older kernel's path here, or to step around a kernel bug).
  struct Probes {
    std::string attach = "auto";  // auto | tp_btf | raw_tp | tracepoint (classic)
    std::string events = "auto";  // auto | ringbuf | perfbuf
  } probes;

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
    uint32_t runq_stall_fail_ms = 1'000;   // one wait this long, ended or still going, fails the node at once
    uint32_t stopped_fail_ms = 300;        // a target stopped this long (SIGSTOP, a debugger) fails it at once
    uint32_t jvm_pause_warn_ms = 200;      // a JVM pause under way this long: degraded
    uint32_t jvm_pause_fail_ms = 1'000;    // ... failing at once, before the pause ends
  } health;

  struct Collect {
    uint32_t interval_ms = 250;  // how often BPF maps are read into a sample
  } collect;

  struct Metrics {
    // nodepulse_bpf_run_{seconds,count}_total per BPF program. Off by default: while on, the
    // kernel times every run of every BPF program on the host (not only ours) with two extra
    // clock reads, which adds to the hottest hook we use (sched_switch).
    bool bpf_stats = false;
  } metrics;

  // `nodepulse balancer`: drives the local nginx / HAProxy / Trino Gateway from the heartbeats in
  // ZooKeeper (cluster, zookeeper.* and log.level are shared with the agent).
  struct Balancer {
    std::string listen = "127.0.0.1:9479";  // the balancer's own /metrics
    // A node whose znode vanished keeps its last state this long before it counts as down: long
    // enough for an agent to re-create its znode after a ZooKeeper session loss or restart.
    uint32_t down_after_ms = 3000;
    // Never take more than this fraction of a backend's servers out at once (0.34: one of three),
    // so a cluster-wide fault or a bad signal can never drain everything.
    double max_unhealthy_fraction = 0.34;
    // A heartbeat is a few hundred bytes; anything far larger is broken or hostile.
    uint32_t max_payload_bytes = 65536;
    // Node id -> balancer server; a node not listed is named by its node id and addressed at
    // host:http_port from its heartbeat.
    std::vector<BalancerServerSpec> servers;
    struct Nginx {
      std::string upstream_file;       // the upstream include written; "" = no nginx
      std::string upstream = "trino";  // the upstream block's name
      std::string conf;                // the nginx.conf `nginx -t` validates; "" = nginx's default
      std::string pid_file;            // the master's pid file, signalled with SIGHUP to reload
      std::string binary = "nginx";    // for `nginx -t`; PATH is searched
    } nginx;
    struct Haproxy {
      std::string socket;             // runtime API: a unix socket path or HOST:PORT; "" = no HAProxy
      std::string backend = "trino";  // the backend whose servers are driven
    } haproxy;
    struct Gateway {
      std::string url;              // Trino Gateway's base URL, e.g. http://gw:8080; "" = no gateway
      uint32_t timeout_ms = 2000;  // per request
    } gateway;
  } balancer;
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
