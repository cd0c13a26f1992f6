// Where a cluster's heartbeats live in ZooKeeper (docs/design.md): <root>/<cluster>/nodes/<id>, and
// <root>/<cluster>/failing/<id> while a node is failing.
#pragma once

#include <string>

namespace nodepulse {

struct ClusterPaths {
  std::string nodes;    // "/nodepulse/prod/nodes"
  std::string failing;  // "/nodepulse/prod/failing"

  std::string node(const std::string& node_id) const { return nodes + "/" + node_id; }
};

inline ClusterPaths cluster_paths(const std::string& root, const std::string& cluster) {
  const std::string base = (root == "/" ? "" : root) + "/" + cluster;
  return {base + "/nodes", base + "/failing"};
}

}  // namespace nodepulse
