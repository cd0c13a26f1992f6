// TCP health of the cluster's connections: the net probe's readings as per-peer deltas.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "collect/collector.h"
#include "collect/net_sample.h"
#include "config/config.h"
#include "probes/net_probe.h"

namespace nodepulse {

// The cluster ports when network.ports is empty. Stand-in until the Trino HTTP port is read
// from config.properties: 8080 (Trino's default http-server.http.port) and 2181 (ZooKeeper).
std::vector<uint16_t> default_cluster_ports();

class NetCollector final : public Collector {
 public:
  struct Options {
    NetProbe::Options probe;
    NetDeltaTracker::Options peers;
  };

  // network.netns, network.ports (default_cluster_ports() when empty), network.max_peers.
  static Options options_from(const Config& config);

  explicit NetCollector(Options options);

  const char* probe() const override { return "net"; }
  Result<void> start(EventLoop& loop) override;
  void collect(Sample& sample) override;
  std::vector<ProgramStats> program_stats() const override {
    return probe_ ? probe_->program_stats() : std::vector<ProgramStats>{};
  }

 private:
  Options options_;
  std::unique_ptr<NetProbe> probe_;
  NetDeltaTracker deltas_;
};

}  // namespace nodepulse
