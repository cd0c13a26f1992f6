// A client for Trino's own HTTP API, as a worker's agent and the cluster tools use it:
//   GET /v1/info              version, coordinator flag, starting (ServerInfoResource)
//   GET /v1/info/state        the node's state, a JSON string such as "ACTIVE"
//   PUT /v1/info/state        a JSON string body: ask for a new state (MANAGEMENT_WRITE)
//   GET /v1/node              the coordinator's failure-detector view of every node (NodeResource)
//   GET /v1/node/failed       ... of the nodes it counts as failed
// libcurl carries it (http:// and https:// with a CA file, basic auth), each call bounded by one
// timeout covering connect, TLS and transfer, so a hung Trino never holds the caller longer.
// Errors start with a fixed kind label ("auth: HTTP 401 ..."), for metrics; no message ever holds
// the password or a header value.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nodepulse::trino {

struct ClientOptions {
  std::string base_url;  // "http://127.0.0.1:8080", "https://worker:8443"; no path
  std::string user;      // X-Trino-User (and the basic-auth user when a password is set); "" = none
  std::string password;  // basic auth when not empty; never logged
  std::string ca_file;   // PEM bundle that signs an https:// Trino's certificate; "" = the system's
  std::chrono::milliseconds timeout{1000};  // the whole exchange, per call
};

// io.trino NodeState. The legacy API (before NodeStateManager) knows ACTIVE, INACTIVE and
// SHUTTING_DOWN; Trinos with the reversible drain add DRAINING and DRAINED (and INVALID).
enum class NodeState : uint8_t { kActive, kInactive, kDraining, kDrained, kShuttingDown, kInvalid };
std::string_view to_string(NodeState state);  // "ACTIVE", ... as Trino spells them
std::optional<NodeState> parse_node_state_name(std::string_view name);

struct ServerInfo {
  std::string version;      // nodeVersion.version, e.g. "476"
  std::string environment;  // node.environment
  bool coordinator = false;
  bool starting = false;
};

// One node as the coordinator's failure detector sees it (HeartbeatFailureDetector.Stats).
struct NodeStats {
  std::string uri;             // "http://10.0.0.5:8080"
  double recent_failure_ratio = 0;
  double recent_requests = 0;
  double recent_failures = 0;
  double recent_successes = 0;
  std::string last_failure;    // lastFailureInfo's message, "" when none
};

// The kind labels an error message starts with ("auth: HTTP 401 from PUT /v1/info/state").
inline constexpr std::string_view kErrorUnreachable = "unreachable";    // connect refused, DNS, reset
inline constexpr std::string_view kErrorTimeout = "timeout";            // no full answer in time
inline constexpr std::string_view kErrorTls = "tls";                    // handshake or certificate
inline constexpr std::string_view kErrorAuth = "auth";                  // 401 / 403
inline constexpr std::string_view kErrorRejected = "rejected";          // 400: state or transition refused
inline constexpr std::string_view kErrorServer = "server_error";        // any other non-2xx
inline constexpr std::string_view kErrorBadResponse = "bad_response";   // 2xx with a body that does not parse
// Every kind, for metrics that exist from the first scrape.
inline constexpr std::string_view kErrorKinds[] = {kErrorUnreachable, kErrorTimeout, kErrorTls, kErrorAuth,
                                                   kErrorRejected, kErrorServer, kErrorBadResponse};

// The kind label of an error from a Client call (kErrorBadResponse for other text).
std::string_view error_kind(const Error& error);

// Pure parsers of Trino's JSON, for the client and for tests (no I/O, no exceptions out).
Result<ServerInfo> parse_server_info(std::string_view json);
Result<NodeState> parse_node_state(std::string_view json);  // "\"ACTIVE\""
Result<std::vector<NodeStats>> parse_node_stats(std::string_view json);

class Client {
 public:
  // Checks the options (URL scheme, readable CA file); makes no request.
  static Result<std::unique_ptr<Client>> create(ClientOptions options);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  Result<ServerInfo> info();
  Result<NodeState> state();
  // PUT /v1/info/state. 200 = accepted; 400 = a state or transition this Trino refuses
  // (kErrorRejected, with Trino's text).
  Result<void> set_state(NodeState state);
  Result<std::vector<NodeStats>> nodes();         // GET /v1/node
  Result<std::vector<NodeStats>> failed_nodes();  // GET /v1/node/failed

  // "https://127.0.0.1:8443": what may be logged of the target.
  const std::string& origin() const { return options_.base_url; }

 private:
  explicit Client(ClientOptions options);
  struct Reply {
    long status = 0;
    std::string body;
  };
  Result<Reply> call(const char* method, const std::string& path, const std::string& body);

  ClientOptions options_;
  struct Curl;
  std::unique_ptr<Curl> curl_;  // one easy handle, reused: keeps the connection between calls
};

}  // namespace nodepulse::trino
