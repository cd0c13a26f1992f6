// One read of a cluster's heartbeats from ZooKeeper, for `nodepulse status`: every nodes/<id>
// payload (parsed, or why not) and which nodes have a failing/<id> znode.
#pragma once

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "balancer/cluster_paths.h"
#include "heartbeat/payload.h"
#include "zk/zk_client.h"

namespace nodepulse {

struct NodeReading {
  std::string node_id;
  Result<NodeReport> report = Error{"not read"};
};

struct ClusterReading {
  std::vector<NodeReading> nodes;  // sorted by node id
  std::set<std::string> failing;   // children of failing/
};

// An error when ZooKeeper does not answer; a cluster nobody has written to yet reads as empty.
Result<ClusterReading> read_cluster(zk::ZkClient& client, const ClusterPaths& paths, std::size_t max_payload_bytes,
                                    std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace nodepulse
