#include "trino/trino_client.h"

#include <curl/curl.h>

#include <array>
#include <mutex>
#include <nlohmann/json.hpp>

namespace nodepulse::trino {
namespace {

constexpr std::array<std::pair<NodeState, std::string_view>, 6> kStateNames = {{
    {NodeState::kActive, "ACTIVE"},
    {NodeState::kInactive, "INACTIVE"},
    {NodeState::kDraining, "DRAINING"},
    {NodeState::kDrained, "DRAINED"},
    {NodeState::kShuttingDown, "SHUTTING_DOWN"},
    {NodeState::kInvalid, "INVALID"},
}};

// Trino's answers are small JSON documents; a larger one is not Trino.
constexpr std::size_t kMaxBodyBytes = 4 << 20;

Error kind_error(std::string_view kind, const std::string& detail) { return Error{std::string(kind) + ": " + detail}; }

// curl_global_init is not thread-safe; the first Client does it, once per process.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::size_t append_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const std::size_t bytes = size * count;
  if (body->size() + bytes > kMaxBodyBytes) return 0;  // makes libcurl fail the transfer
  body->append(data, bytes);
  return bytes;
}

// Trino's `lastFailureInfo` is an ExecutionFailureInfo (message, type, stack) or null.
std::string failure_message(const nlohmann::json& info) {
  if (!info.is_object()) return "";
  const auto message = info.find("message");
  if (message != info.end() && message->is_string()) return message->get<std::string>();
  const auto type = info.find("type");
  if (type != info.end() && type->is_string()) return type->get<std::string>();
  return "failed";
}

double number_or_zero(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : 0.0;
}

}  // namespace

std::string_view to_string(NodeState state) {
  for (const auto& [known, name] : kStateNames) {
    if (known == state) return name;
  }
  return "INVALID";
}

std::optional<NodeState> parse_node_state_name(std::string_view name) {
  for (const auto& [state, known] : kStateNames) {
    if (known == name) return state;
  }
  return std::nullopt;
}

std::string_view error_kind(const Error& error) {
  for (std::string_view kind : kErrorKinds) {
    if (error.message.size() > kind.size() && error.message.compare(0, kind.size(), kind) == 0 &&
        error.message[kind.size()] == ':') {
      return kind;
    }
  }
  return kErrorBadResponse;
}

Result<ServerInfo> parse_server_info(std::string_view json) {
  const nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return kind_error(kErrorBadResponse, "GET /v1/info: not a JSON object");
  ServerInfo info;
  const auto version = parsed.find("nodeVersion");
  if (version == parsed.end() || !version->is_object() || !version->contains("version") ||
      !(*version)["version"].is_string()) {
    return kind_error(kErrorBadResponse, "GET /v1/info: no nodeVersion.version");
  }
  info.version = (*version)["version"].get<std::string>();
  const auto coordinator = parsed.find("coordinator");
  if (coordinator == parsed.end() || !coordinator->is_boolean()) {
    return kind_error(kErrorBadResponse, "GET /v1/info: no coordinator flag");
  }
  info.coordinator = coordinator->get<bool>();
  const auto starting = parsed.find("starting");
  info.starting = starting != parsed.end() && starting->is_boolean() && starting->get<bool>();
  const auto environment = parsed.find("environment");
  if (environment != parsed.end() && environment->is_string()) info.environment = environment->get<std::string>();
  return info;
}

Result<NodeState> parse_node_state(std::string_view json) {
  const nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_string()) return kind_error(kErrorBadResponse, "GET /v1/info/state: not a JSON string");
  const auto state = parse_node_state_name(parsed.get<std::string>());
  if (!state) return kind_error(kErrorBadResponse, "GET /v1/info/state: unknown state");
  return *state;
}

Result<std::vector<NodeStats>> parse_node_stats(std::string_view json) {
  const nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) return kind_error(kErrorBadResponse, "GET /v1/node: not a JSON array");
  std::vector<NodeStats> nodes;
  for (const nlohmann::json& entry : parsed) {
    if (!entry.is_object()) return kind_error(kErrorBadResponse, "GET /v1/node: an entry is not an object");
    const auto uri = entry.find("uri");
    if (uri == entry.end() || !uri->is_string()) return kind_error(kErrorBadResponse, "GET /v1/node: an entry has no uri");
    NodeStats stats;
    stats.uri = uri->get<std::string>();
    stats.recent_failure_ratio = number_or_zero(entry, "recentFailureRatio");
    stats.recent_requests = number_or_zero(entry, "recentRequests");
    stats.recent_failures = number_or_zero(entry, "recentFailures");
    stats.recent_successes = number_or_zero(entry, "recentSuccesses");
    const auto failure = entry.find("lastFailureInfo");
    if (failure != entry.end()) stats.last_failure = failure_message(*failure);
    nodes.push_back(std::move(stats));
  }
  return nodes;
}

struct Client::Curl {
  CURL* handle = nullptr;
  ~Curl() {
    if (handle != nullptr) curl_easy_cleanup(handle);
  }
};

Client::Client(ClientOptions options) : options_(std::move(options)), curl_(std::make_unique<Curl>()) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::create(ClientOptions options) {
  while (options.base_url.ends_with('/')) options.base_url.pop_back();
  if (!options.base_url.starts_with("http://") && !options.base_url.starts_with("https://")) {
    return Error{"trino: expected an http:// or https:// base URL"};
  }
  if (options.user.find_first_of("\r\n") != std::string::npos ||
      options.password.find_first_of("\r\n") != std::string::npos) {
    return Error{"trino: the user and password must be one line each"};
  }
  init_curl_once();
  std::unique_ptr<Client> client(new Client(std::move(options)));
  client->curl_->handle = curl_easy_init();
  if (client->curl_->handle == nullptr) return Error{"trino: cannot create a libcurl handle"};
  return client;
}

Result<Client::Reply> Client::call(const char* method, const std::string& path, const std::string& body) {
  CURL* curl = curl_->handle;
  curl_easy_reset(curl);  // keeps the connection cache: the next call reuses the connection
  const std::string url = options_.base_url + path;
  Reply reply;
  char error_text[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // a sink thread must not get SIGALRM from DNS timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.password.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(curl, CURLOPT_USERNAME, options_.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, options_.password.c_str());
  }
  struct curl_slist* headers = nullptr;
  const std::string user_header = "X-Trino-User: " + options_.user;
  if (!options_.user.empty()) headers = curl_slist_append(headers, user_header.c_str());
  headers = curl_slist_append(headers, "Accept: application/json, text/plain");
  if (!body.empty()) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

  const std::string what = std::string(method) + " " + path + " on " + options_.base_url;
  if (code != CURLE_OK) {
    const std::string detail = what + ": " + (error_text[0] != '\0' ? error_text : curl_easy_strerror(code));
    switch (code) {
      case CURLE_OPERATION_TIMEDOUT:
        return kind_error(kErrorTimeout, detail);
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CERTPROBLEM:
        return kind_error(kErrorTls, detail);
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING:
        return kind_error(kErrorUnreachable, detail);
      default:
        return kind_error(kErrorBadResponse, detail);
    }
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  if (reply.status >= 200 && reply.status < 300) return reply;
  // Trino's 400 text says which transition it refused; keep a line of it, nothing more.
  std::string excerpt = reply.body.substr(0, 200);
  for (char& c : excerpt) {
    if (c == '\r' || c == '\n' || static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  const std::string detail = what + ": HTTP " + std::to_string(reply.status) + (excerpt.empty() ? "" : " " + excerpt);
  if (reply.status == 401 || reply.status == 403) return kind_error(kErrorAuth, detail);
  if (reply.status == 400) return kind_error(kErrorRejected, detail);
  return kind_error(kErrorServer, detail);
}

Result<ServerInfo> Client::info() {
  Result<Reply> reply = call("GET", "/v1/info", "");
  if (!reply.ok()) return reply.error();
  return parse_server_info(reply->body);
}

Result<NodeState> Client::state() {
  Result<Reply> reply = call("GET", "/v1/info/state", "");
  if (!reply.ok()) return reply.error();
  return parse_node_state(reply->body);
}

Result<void> Client::set_state(NodeState state) {
  Result<Reply> reply = call("PUT", "/v1/info/state", "\"" + std::string(to_string(state)) + "\"");
  if (!reply.ok()) return reply.error();
  return ok();
}

Result<std::vector<NodeStats>> Client::nodes() {
  Result<Reply> reply = call("GET", "/v1/node", "");
  if (!reply.ok()) return reply.error();
  return parse_node_stats(reply->body);
}

Result<std::vector<NodeStats>> Client::failed_nodes() {
  Result<Reply> reply = call("GET", "/v1/node/failed", "");
  if (!reply.ok()) return reply.error();
  return parse_node_stats(reply->body);
}

}  // namespace nodepulse::trino
