#include "balancer/coordinator.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <map>
#include <set>

#include "common/secret.h"

namespace nodepulse {
namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

std::vector<std::string> lookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return {};
  std::set<std::string> addresses;
  for (const addrinfo* at = found; at != nullptr; at = at->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* address = nullptr;
    if (at->ai_family == AF_INET) address = &reinterpret_cast<const sockaddr_in*>(at->ai_addr)->sin_addr;
    else if (at->ai_family == AF_INET6) address = &reinterpret_cast<const sockaddr_in6*>(at->ai_addr)->sin6_addr;
    else continue;
    if (::inet_ntop(at->ai_family, address, text, sizeof text) != nullptr) addresses.insert(text);
  }
  ::freeaddrinfo(found);
  return {addresses.begin(), addresses.end()};
}

}  // namespace

Result<std::unique_ptr<trino::Client>> coordinator_client(const Config::Trino& trino) {
  Result<std::string> password = read_secret(
      {trino.password_file, trino.password_env, "trino.password_file", "trino.password_env", "password"});
  if (!password.ok()) return password.error();
  return trino::Client::create({.base_url = trino.coordinator_url,
                                .user = trino.user,
                                .password = *password,
                                .ca_file = trino.ca_file,
                                .timeout = std::chrono::milliseconds(trino.timeout_ms)});
}

Result<CoordinatorNodes> read_coordinator(trino::Client& client) {
  CoordinatorNodes nodes;
  Result<std::vector<trino::NodeStats>> listed = client.nodes();
  if (!listed.ok()) return listed.error();
  nodes.listed = std::move(listed).value();
  Result<std::vector<trino::NodeStats>> failed = client.failed_nodes();
  if (!failed.ok()) return failed.error();
  nodes.failed = std::move(failed).value();
  return nodes;
}

AddressResolver system_resolver(std::chrono::seconds ttl) {
  struct Cached {
    std::vector<std::string> addresses;
    std::chrono::steady_clock::time_point expires;
  };
  auto cache = std::make_shared<std::map<std::string, Cached>>();
  return [cache, ttl](const std::string& host) -> std::vector<std::string> {
    if (host.empty() || is_ip_literal(host)) return {};
    const auto now = std::chrono::steady_clock::now();
    if (auto it = cache->find(host); it != cache->end() && it->second.expires > now) return it->second.addresses;
    std::vector<std::string> addresses = lookup(host);
    (*cache)[host] = {addresses, now + ttl};
    return addresses;
  };
}

}  // namespace nodepulse
