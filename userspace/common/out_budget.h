// How many of `total` members may be out at once under a max_unhealthy_fraction: the one rule
// shared by the balancer (servers out of rotation) and the agents' drain budget (workers out of
// Trino's scheduling), so both read the same fraction the same way.
#pragma once

#include <cmath>
#include <cstddef>

namespace nodepulse {

// floor(total x fraction), with a hair of slack so that 0.34 of 3 is 1 and 1/3 of 3 is 1, not 0.
inline std::size_t max_out_of(std::size_t total, double fraction) {
  return static_cast<std::size_t>(std::floor(static_cast<double>(total) * fraction + 1e-9));
}

}  // namespace nodepulse
