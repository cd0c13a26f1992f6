// A minimal blocking HTTP/1.1 client for plain http:// URLs: `nodepulse check --health` and
// `status --url`, alert webhooks and Alertmanager, the balancer's Trino Gateway driver (and
// HOST:PORT parsing for the agent-check listener and HAProxy's runtime API). No TLS (https:// is
// refused with a clear error): the endpoints it talks to are the local agent, in-cluster alert
// receivers and the gateway; put a TLS relay in front of anything remote. Every call is bounded
// by one deadline covering connect, send and receive, so a hung receiver never holds a sink's
// thread longer than its timeout. Name resolution uses getaddrinfo, which the deadline cannot
// interrupt: prefer IP addresses in URLs.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace nodepulse {

struct HostPort {
  std::string host;  // without brackets: "::1", "127.0.0.1", "alerts.example"
  uint16_t port = 0;
};

// "HOST:PORT", "[V6]:PORT". Port 0 is allowed (a listener picks a free port).
Result<HostPort> split_host_port(std::string_view text);

struct HttpUrl {
  HostPort endpoint;
  std::string path;  // starts with '/', includes any query
  std::string host_header;
};

// "http://HOST[:PORT][/PATH]". An error names the problem but never echoes the URL, since
// webhook URLs often carry a token in their path.
Result<HttpUrl> parse_http_url(std::string_view url);

// "http://HOST:PORT" of a URL: what may be logged of it (path and query can hold secrets).
std::string loggable_origin(const HttpUrl& url);

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::string content_type;  // sent with a body
  std::string body;
  std::chrono::milliseconds timeout{5000};  // the whole exchange
  // Extra header lines (name, value), e.g. a webhook's Authorization. The caller checks names and
  // values hold no CR or LF. Values may be secrets: they are never logged.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpClientResponse {
  int status = 0;
  std::string body;  // de-chunked; at most kMaxResponseBytes
};

inline constexpr std::size_t kMaxResponseBytes = 1 << 20;

// One request on its own connection ("Connection: close"). An error means no HTTP answer came
// (unreachable, refused, timed out, malformed); any HTTP status, 5xx included, is a response.
Result<HttpClientResponse> http_request(const HttpRequest& request);

}  // namespace nodepulse
