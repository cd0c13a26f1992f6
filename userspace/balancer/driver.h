// A balancer driver: makes one local load balancer (nginx, HAProxy, Trino Gateway) match a
// Decision. Each driver remembers what it last applied and acts only on what changed; after a
// failure it forgets, so the next apply() sends everything again.
#pragma once

#include "balancer/policy.h"
#include "common/result.h"

namespace nodepulse {

class Driver {
 public:
  virtual ~Driver() = default;
  virtual const char* name() const = 0;  // the `driver` label: nginx | haproxy | gateway
  virtual Result<void> apply(const Decision& decision) = 0;
};

}  // namespace nodepulse
