// Drives a Trino Gateway through its REST API (balancer.gateway.url): for each backend whose
// target changed, `POST /gateway/backend/activate/{name}` when it should take queries and
// `POST /gateway/backend/deactivate/{name}` when it should not. The gateway routes by backend
// name and has no weights: a withheld server (kept in by the safety limit) stays active.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "balancer/driver.h"

namespace nodepulse {

struct GatewayOptions {
  std::string url;  // base URL, e.g. http://gateway:8080
  std::chrono::milliseconds timeout{2000};
};

class GatewayDriver final : public Driver {
 public:
  explicit GatewayDriver(GatewayOptions options);
  const char* name() const override { return "gateway"; }
  Result<void> apply(const Decision& decision) override;

 private:
  GatewayOptions options_;
  std::map<std::string, bool> applied_;  // by backend name: active?
};

// "/gateway/backend/activate/NAME" or ".../deactivate/NAME", the name percent-encoded.
std::string gateway_path(const std::string& name, bool active);

}  // namespace nodepulse
