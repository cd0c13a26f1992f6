// The balancer keys and their defaults (read, checked and rendered in balancer_config.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nodepulse {

// One balancer.servers entry: how the balancer names and reaches one node's server.
struct BalancerServerSpec {
  std::string node_id;  // required: the node's id in ZooKeeper
  std::string name;     // the server's name in HAProxy / Trino Gateway; "" = node_id
  std::string address;  // HOST:PORT nginx proxies to; "" = host:http_port from the heartbeat
};

// `nodepulse balancer`: drives the local nginx / HAProxy / Trino Gateway from the heartbeats in
// ZooKeeper (cluster, zookeeper.* and log.level are shared with the agent).
struct BalancerConfig {
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
};

}  // namespace nodepulse
