#include "balancer/gateway_driver.h"

#include <optional>

#include "http/http_client.h"

namespace nodepulse {

GatewayDriver::GatewayDriver(GatewayOptions options) : options_(std::move(options)) {
  while (options_.url.ends_with('/')) options_.url.pop_back();
}

std::string gateway_path(const std::string& name, bool active) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      encoded += c;
    } else {
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0xf];
    }
  }
  return std::string("/gateway/backend/") + (active ? "activate/" : "deactivate/") + encoded;
}

Result<void> GatewayDriver::apply(const Decision& decision) {
  std::optional<Error> first_error;
  for (const ServerTarget& server : decision.servers) {
    const bool active = server.action == ServerAction::kReady;
    if (auto it = applied_.find(server.name); it != applied_.end() && it->second == active) continue;
    applied_.erase(server.name);
    HttpRequest request;
    request.method = "POST";
    request.url = options_.url + gateway_path(server.name, active);
    request.timeout = options_.timeout;
    Result<HttpClientResponse> response = http_request(request);
    if (response.ok() && response->status >= 200 && response->status < 300) {
      applied_[server.name] = active;
      continue;
    }
    if (!first_error) {
      const std::string what = "gateway " + std::string(active ? "activate " : "deactivate ") + server.name;
      first_error = response.ok() ? Error{what + ": HTTP " + std::to_string(response->status)}
                                  : Error{what + ": " + response.error().message};
    }
  }
  if (first_error) return *first_error;
  return ok();
}

}  // namespace nodepulse
