// `nodepulse check --health`: the exit status of the local agent's /health, for keepalived's
//   vrrp_script nodepulse { script "/usr/bin/nodepulse check --health"; interval 1; fall 1; rise 2 }
// 0 when /health answers 200 (healthy or degraded), 1 on 503 (failing or unknown), on any other
// answer and when nothing answers: an agent that is down cannot vouch for its node.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "http/http_client.h"

namespace nodepulse {
namespace {

// What to connect to in order to reach a server listening on `listen`: a wildcard address
// (0.0.0.0, [::]) is reached on the loopback address of its family.
std::string health_url_for(const std::string& listen) {
  Result<HostPort> endpoint = split_host_port(listen);
  if (!endpoint.ok()) return "http://127.0.0.1:9477/health";
  std::string host = endpoint->host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(endpoint->port) + "/health";
}

// One line of at most `limit` bytes, for a terminal or keepalived's log.
std::string excerpt(std::string text, std::size_t limit) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (text.size() > limit) text = text.substr(0, limit) + "...";
  return text;
}

}  // namespace

int run_health_check(const Config& config, const std::string& url, unsigned timeout_ms) {
  HttpRequest request;
  request.url = url.empty() ? health_url_for(config.http.listen) : url;
  request.timeout = std::chrono::milliseconds(timeout_ms);
  Result<HttpClientResponse> response = http_request(request);
  if (!response.ok()) {
    std::printf("unhealthy: no answer from the agent: %s\n", response.error().message.c_str());
    return kExitFailure;
  }
  const bool healthy = response->status == 200;
  std::printf("%s: HTTP %d %s\n", healthy ? "healthy" : "unhealthy", response->status,
              excerpt(response->body, 300).c_str());
  return healthy ? kExitOk : kExitFailure;
}

}  // namespace nodepulse
