// The network keys and their defaults (read, checked and rendered in network_config.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nodepulse {

struct NetworkConfig {
  std::string netns;             // "" = the agent's own, or a path like /var/run/netns/NAME
  std::vector<uint16_t> ports;   // cluster ports; empty = Trino's http port and 2181
  uint32_t max_peers = 64;
};

}  // namespace nodepulse
