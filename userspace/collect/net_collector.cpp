#include "collect/net_collector.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "collect/probe_paths_config.h"

namespace nodepulse {

std::vector<uint16_t> default_cluster_ports() { return {8080, 2181}; }

NetCollector::Options NetCollector::options_from(const Config& config) {
  Options options;
  options.probe.netns_path = config.network.netns;
  options.probe.ports = config.network.ports.empty() ? default_cluster_ports() : config.network.ports;
  // Room for every labelled peer and many folded ones, so the LRU rarely evicts a live peer.
  options.probe.peer_table_entries = std::max<uint32_t>(4096, 4 * config.network.max_peers);
  options.probe.paths = probe_path_request(config);
  options.peers.max_peers = config.network.max_peers;
  return options;
}

NetCollector::NetCollector(Options options) : options_(std::move(options)), deltas_(options_.peers) {}

Result<void> NetCollector::start(EventLoop&) {
  auto probe = NetProbe::start(options_.probe);
  if (!probe) return probe.error();
  probe_ = std::move(*probe);
  for (const std::string& missing : probe_->degraded()) spdlog::warn("net probe: {}", missing);
  std::string ports;
  for (uint16_t port : options_.probe.ports) ports += (ports.empty() ? "" : ",") + std::to_string(port);
  spdlog::info("net probe: attached (network namespace {} inode {}, cluster ports {}, at most {} peer labels, {} ({}))",
               options_.probe.netns_path.empty() ? "of the agent" : options_.probe.netns_path, probe_->netns_inode(),
               ports, options_.peers.max_peers, probe_->paths().attach, probe_->paths().attach_reason);
  return ok();
}

void NetCollector::collect(Sample& sample) {
  if (!probe_) return;
  auto reading = probe_->read();
  if (!reading) {
    sample.errors.push_back({probe(), "read", reading.error().message});
    return;
  }
  sample.net = deltas_.next(*reading, sample.mono_ns);
  sample.drops.push_back({probe(), 0, sample.net->failed_updates});
}

}  // namespace nodepulse
