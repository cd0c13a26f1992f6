// The net probe: owns bpf/net.bpf.c (open → set rodata → choose programs → load → attach →
// destroy). The only code that includes net.skel.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "probes/kernel_features.h"
#include "probes/net_readings.h"
#include "probes/probe_paths.h"
#include "probes/readings.h"

struct net_bpf;

namespace nodepulse {

class NetProbe {
 public:
  struct Options {
    // The network namespace to watch: a path such as /var/run/netns/NAME or /proc/PID/ns/net;
    // "" = this process's own.
    std::string netns_path;
    // Cluster ports: a connection counts when its local or its remote port is one of them.
    std::vector<uint16_t> ports;
    // Capacity of the kernel's per-peer table (least recently used peers make room).
    uint32_t peer_table_entries = 4096;
    // How often at most the smoothed RTT of one connection is sampled.
    uint64_t srtt_sample_interval_ns = 100'000'000;
    // probes.attach (tp_btf, raw_tp or tracepoint; the classic path names its losses in
    // degraded()). probes.events does not apply: the probe sends no events.
    PathRequest paths = {};
    // What to assume this kernel supports; nullopt = probe it. A subset of the real support
    // poses as an older kernel (tests run 5.4's choices here).
    std::optional<KernelSupport> kernel = std::nullopt;
  };

  // The hooks this probe cannot do without on the path `options` lead to (for `check`);
  // optional ones are chosen at load.
  static ProbeRequirements requirements(const Options& options);

  // The path `options` lead to on this kernel, and why (for `check` and the log); no events
  // (counters in maps).
  static Result<ProbePlan> plan(const Options& options);

  // Opens and loads (runs the verifier) without attaching, then unloads.
  static Result<void> verify_load(const Options& options);

  // Loads and attaches every program; on failure nothing stays loaded or attached.
  static Result<std::unique_ptr<NetProbe>> start(const Options& options);

  NetProbe(const NetProbe&) = delete;
  NetProbe& operator=(const NetProbe&) = delete;
  ~NetProbe();  // detaches every link

  // Replaces the cluster ports while attached; the counters already taken stay.
  void set_ports(std::span<const uint16_t> ports);

  // Cumulative counters of every peer in the kernel's table, and the node-wide ones.
  Result<NetReading> read();

  // The inode of the watched network namespace.
  uint32_t netns_inode() const;
  // Optional hooks this kernel or path lacks, each with what goes missing (empty on 6.13+ with
  // tp_btf or raw_tp).
  const std::vector<std::string>& degraded() const;
  AttachPath attach_path() const;
  const ProbePlan& paths() const;  // what plan() said at load

  std::vector<ProgramStats> program_stats() const;

 private:
  struct Impl;
  explicit NetProbe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The inode of the network namespace at `path` ("" = /proc/self/ns/net); an error when the path
// is missing or is not a network namespace.
Result<uint32_t> network_namespace_inode(const std::string& path);

}  // namespace nodepulse
