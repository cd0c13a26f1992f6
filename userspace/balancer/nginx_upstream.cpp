#include "balancer/nginx_upstream.h"

namespace nodepulse {

NginxUpstream render_nginx_upstream(const std::string& upstream_name, const Decision& decision) {
  NginxUpstream upstream;
  std::string servers;
  for (const ServerTarget& server : decision.servers) {
    if (server.address.empty()) {
      upstream.skipped.push_back(server.node_id);
      continue;
    }
    servers += "    server " + server.address;
    if (server.action == ServerAction::kReady) {
      servers += " weight=" + std::to_string(server.weight) + ";";
    } else {
      servers += " down;";
    }
    // The comment names the node and its state (not its reasons, which change every heartbeat).
    servers += "  # " + server.node_id + " " + std::string(to_string(server.state));
    if (server.withheld) servers += " (kept in: max_unhealthy_fraction)";
    servers += "\n";
  }
  if (servers.empty()) return upstream;
  upstream.text = "# Written by nodepulse balancer from the heartbeats in ZooKeeper; edits are overwritten.\n"
                  "upstream " + upstream_name + " {\n" + servers + "}\n";
  return upstream;
}

}  // namespace nodepulse
