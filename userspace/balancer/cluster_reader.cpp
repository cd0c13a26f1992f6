#include "balancer/cluster_reader.h"

#include <algorithm>

namespace nodepulse {

Result<ClusterReading> read_cluster(zk::ZkClient& client, const ClusterPaths& paths, std::size_t max_payload_bytes,
                                    std::chrono::milliseconds timeout) {
  ClusterReading reading;
  auto children = client.children(paths.nodes, {}, timeout);
  if (!children.ok()) return children.error();
  std::vector<std::string> node_ids = children->value_or(std::vector<std::string>{});
  std::sort(node_ids.begin(), node_ids.end());
  for (const std::string& node_id : node_ids) {
    auto node = client.get(paths.node(node_id), {}, timeout);
    if (!node.ok()) return node.error();
    if (!node->has_value()) continue;  // gone since the listing
    reading.nodes.push_back({node_id, parse_node_payload((*node)->data, max_payload_bytes)});
  }
  auto failing = client.children(paths.failing, {}, timeout);
  if (!failing.ok()) return failing.error();
  for (const std::string& node_id : failing->value_or(std::vector<std::string>{})) reading.failing.insert(node_id);
  return reading;
}

}  // namespace nodepulse
