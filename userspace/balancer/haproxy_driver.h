// Drives HAProxy through its runtime API (`stats socket ... level admin`, a unix socket or
// HOST:PORT; balancer.haproxy): per server of balancer.haproxy.backend whose target changed,
// one connection with `set server B/S state ready; set server B/S weight W`, or
// `set server B/S state drain` (failing, unknown: established sessions finish, no new ones), or
// `set server B/S state maint` (down). HAProxy acts at once; nothing is reloaded.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>

#include "balancer/driver.h"

namespace nodepulse {

struct HaproxyOptions {
  std::string socket;  // "/run/haproxy/admin.sock" or "127.0.0.1:9999"
  std::string backend = "trino";
  std::chrono::milliseconds timeout{2000};  // per command
};

class HaproxyDriver final : public Driver {
 public:
  explicit HaproxyDriver(HaproxyOptions options) : options_(std::move(options)) {}
  const char* name() const override { return "haproxy"; }
  Result<void> apply(const Decision& decision) override;

 private:
  Result<std::string> send(const std::string& line);

  HaproxyOptions options_;
  std::map<std::string, std::pair<ServerAction, uint32_t>> applied_;  // by server name
};

// The runtime-API line that puts one server in its target state.
std::string haproxy_command(const std::string& backend, const ServerTarget& server);

}  // namespace nodepulse
