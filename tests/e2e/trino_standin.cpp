// A Trino stand-in for tests: there is no Trino server package on these machines. It is written
// from Trino's documentation (graceful shutdown, node states, failure-detector properties) and
// its source — ServerInfoResource, NodeStateManager, GracefulShutdownHandler, NodeResource,
// HeartbeatFailureDetector, FailureDetectorConfig, airlift's DecayCounter and Duration — with
// none of their code, and it implements only what those endpoints document:
//
//   GET /v1/info         ServerInfo: nodeVersion, environment, coordinator, starting, uptime
//                        (and nodeId and state with --node-states drain, as newer Trinos send)
//   GET /v1/info/state   the node state as a JSON string ("ACTIVE"); public
//   PUT /v1/info/state   a JSON string body asks for a state; MANAGEMENT_WRITE
//   GET /v1/node         coordinator only: the failure detector's stats of every worker;
//   GET /v1/node/failed  ... of those it counts as failed; both MANAGEMENT_READ
//
// and, for tests, outside /v1:
//   PUT /control/fault   body none|garbage|hang|error500: how every /v1 request is answered
//   GET /control/fault   {"fault":"none"}
//   GET /control/requests     {"counts":{"PUT /v1/info/state":1,...},
//                              "recent":[{"epoch_ms":..,"method":..,"path":..,"user":..},...]}
//   GET /control/transitions  [{"epoch_ms":..,"node":"self"|WORKER_URL,"from":..,"to":..,"cause":..}]
//
// trino_standin [--mode worker|coordinator] [--node-states drain|legacy] [--listen 127.0.0.1:PORT]
//               [--port-file FILE] [--node-id ID] [--environment ENV] [--version V]
//               [--grace-period-ms MS] [--exit-on-shutdown] [--require-user]
//               [--basic-auth USER:PASSWORD_FILE] [--worker http://HOST:PORT]...
//               [--heartbeat-interval-ms MS] [--ping-timeout-ms MS] [--warmup-ms MS]
//               [--decay-seconds S] [--failure-threshold R] [--max-seconds S]
//
// Timing follows Trino with no tasks running: a drain ends (DRAINED) two grace periods after the
// request; a shutdown ends two grace periods after it (three in the legacy GracefulShutdownHandler,
// at once from DRAINED), and then the process exits 0 when --exit-on-shutdown is given.
// The failure detector's defaults are Trino's, except --ping-timeout-ms (500 ms): Trino's
// failure-detector HTTP client keeps airlift's 1 min idle timeout, so against a frozen worker
// real Trino records its first failure a minute late; pass --ping-timeout-ms 60000 for that.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using json = nlohmann::json;

int64_t epoch_ms(std::chrono::system_clock::time_point at = std::chrono::system_clock::now()) {
  return std::chrono::duration_cast<milliseconds>(at.time_since_epoch()).count();
}

// A steady-clock instant on the wall clock, for timestamps that benchmarks compare across processes.
std::chrono::system_clock::time_point wall_time_of(Clock::time_point at) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(at - Clock::now());
}

// Joda's ISO-8601 form, as Trino's JSON carries a DateTime: "2025-01-31T12:00:00.123Z".
std::string iso_time(std::chrono::system_clock::time_point at) {
  const int64_t ms = epoch_ms(at);
  const time_t seconds = static_cast<time_t>(ms / 1000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(text) + millis;
}

// airlift's Duration.toString(): the largest unit that keeps the value at least 1, two decimals.
std::string succinct_duration(std::chrono::nanoseconds elapsed) {
  static constexpr std::pair<const char*, double> kUnits[] = {{"ns", 1},         {"us", 1e3},      {"ms", 1e6},
                                                              {"s", 1e9},        {"m", 60e9},      {"h", 3600e9},
                                                              {"d", 86400e9}};
  const double ns = static_cast<double>(elapsed.count());
  auto unit = kUnits[0];
  for (const auto& candidate : kUnits) {
    if (ns / candidate.second > 0.9999) unit = candidate;  // airlift's fuzzy match of power-of-ten units
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%s", ns / unit.second, unit.first);
  return text;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// ---- what happened, for tests ------------------------------------------------------------

class TransitionLog {
 public:
  void add(const std::string& node, std::string_view from, std::string_view to, const std::string& cause,
           int64_t at_epoch_ms = epoch_ms()) {
    std::lock_guard lock(mutex_);
    entries_.push_back(
        {{"epoch_ms", at_epoch_ms}, {"node", node}, {"from", from}, {"to", to}, {"cause", cause}});
    std::fprintf(stderr, "trino_standin: %s %s -> %s (%s)\n", node.c_str(), std::string(from).c_str(),
                 std::string(to).c_str(), cause.c_str());
  }
  json to_json() const {
    std::lock_guard lock(mutex_);
    return entries_;
  }

 private:
  mutable std::mutex mutex_;
  json entries_ = json::array();
};

class RequestLog {
 public:
  void add(const std::string& method, const std::string& path, const std::string& user) {
    std::lock_guard lock(mutex_);
    ++counts_[method + " " + path];
    recent_.push_back({{"epoch_ms", epoch_ms()}, {"method", method}, {"path", path}, {"user", user}});
    if (recent_.size() > kRecentKept) recent_.pop_front();
  }
  json to_json() const {
    std::lock_guard lock(mutex_);
    return {{"counts", counts_}, {"recent", json(recent_)}};
  }

 private:
  static constexpr std::size_t kRecentKept = 1000;
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> counts_;
  std::deque<json> recent_;
};

// ---- the node's own state (ServerInfoResource / NodeStateManager) ------------------------

enum class NodeStates { kLegacy, kDrain };

// io.trino.metadata.NodeState. The legacy enum had only the first three.
constexpr std::string_view kStateNames[] = {"ACTIVE", "INACTIVE", "SHUTTING_DOWN", "DRAINING", "DRAINED", "INVALID"};
enum class State { kActive, kInactive, kShuttingDown, kDraining, kDrained, kInvalid };

std::string_view name_of(State state) { return kStateNames[static_cast<int>(state)]; }

std::optional<State> parse_state(const std::string& name, NodeStates flavor) {
  const int known = flavor == NodeStates::kLegacy ? 3 : 6;
  for (int i = 0; i < known; ++i) {
    if (kStateNames[i] == name) return static_cast<State>(i);
  }
  return std::nullopt;
}

class NodeStateMachine {
 public:
  struct Answer {
    int status;
    std::string text;
  };

  NodeStateMachine(NodeStates flavor, bool coordinator, milliseconds grace, TransitionLog& log)
      : flavor_(flavor), coordinator_(coordinator), grace_(grace), log_(log) {}

  State state() const {
    std::lock_guard lock(mutex_);
    return state_;
  }

  // PUT /v1/info/state with `name` already read from its JSON string body.
  Answer request(const std::string& name) {
    std::lock_guard lock(mutex_);
    const std::optional<State> wanted = parse_state(name, flavor_);
    if (!wanted) return {400, "Cannot deserialize value of type NodeState from String \"" + name + "\""};
    return flavor_ == NodeStates::kLegacy ? request_legacy(*wanted) : request_drain(*wanted);
  }

  // Runs what the grace periods have made due; true once a shutdown has run its course (Trino's
  // process would exit now).
  bool shutdown_complete() {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    if (drained_at_ && now >= *drained_at_) {
      drained_at_.reset();
      if (version_ == drain_version_) move_to(State::kDrained, "grace period");  // else: moved on meanwhile
    }
    return terminate_at_ && now >= *terminate_at_;
  }

 private:
  // Before NodeStateManager: only SHUTTING_DOWN may be asked for, and it cannot be undone.
  Answer request_legacy(State wanted) {
    switch (wanted) {
      case State::kShuttingDown:
        if (coordinator_) return {500, "Cannot shutdown coordinator"};
        if (state_ != State::kShuttingDown) {
          move_to(State::kShuttingDown, "PUT /v1/info/state");
          // GracefulShutdownHandler: waits a grace period to start, one for the coordinator to
          // see SHUTTING_DOWN, (the tasks,) and one more before stopping.
          terminate_at_ = Clock::now() + 3 * grace_;
        }
        return {200, ""};
      case State::kActive:
      case State::kInactive:
        return {400, "Invalid state transition to " + std::string(name_of(wanted))};
      default:
        return {400, "Invalid state " + std::string(name_of(wanted))};
    }
  }

  // NodeStateManager.transitionState: ACTIVE <-> DRAINING -> DRAINED -> ACTIVE, and a one-way
  // SHUTTING_DOWN from anywhere; a coordinator neither drains nor shuts down.
  Answer request_drain(State wanted) {
    if (wanted == state_) return {200, ""};
    const std::string refused =
        "Invalid state transition from " + std::string(name_of(state_)) + " to " + std::string(name_of(wanted));
    switch (wanted) {
      case State::kActive:
        if (state_ != State::kDraining && state_ != State::kDrained) return {400, refused};
        move_to(State::kActive, "PUT /v1/info/state");
        return {200, ""};
      case State::kShuttingDown: {
        if (coordinator_) return {500, "Cannot shutdown coordinator"};
        const bool drained = state_ == State::kDrained;
        move_to(State::kShuttingDown, "PUT /v1/info/state");
        // From DRAINED it terminates at once; otherwise a grace period for the coordinator to
        // see it, the tasks, and a grace period for it to see them finish.
        terminate_at_ = Clock::now() + (drained ? milliseconds(0) : 2 * grace_);
        return {200, ""};
      }
      case State::kDraining:
        if (coordinator_) return {500, "Cannot drain coordinator"};
        if (state_ != State::kActive) return {400, refused};
        move_to(State::kDraining, "PUT /v1/info/state");
        // The same two grace periods as a shutdown, then DRAINED unless the state moved meanwhile.
        drain_version_ = version_;
        drained_at_ = Clock::now() + 2 * grace_;
        return {200, ""};
      case State::kDrained:
        return {400, refused + ", transition to DRAINED is internal only"};
      case State::kInactive:
        return {400, refused + ", INACTIVE is not a valid internal state"};
      default:
        return {400, refused};
    }
  }

  void move_to(State next, const std::string& cause) {
    log_.add("self", name_of(state_), name_of(next), cause);
    state_ = next;
    ++version_;
  }

  const NodeStates flavor_;
  const bool coordinator_;
  const milliseconds grace_;
  TransitionLog& log_;
  mutable std::mutex mutex_;
  State state_ = State::kActive;
  uint64_t version_ = 0;  // NodeStateManager's VersionedState: a late drain timer must not fire
  uint64_t drain_version_ = 0;
  std::optional<Clock::time_point> drained_at_;
  std::optional<Clock::time_point> terminate_at_;
};

// ---- the coordinator's failure detector (HeartbeatFailureDetector) -----------------------

struct FailureDetectorSettings {
  milliseconds heartbeat{500};      // failure-detector.heartbeat-interval
  milliseconds ping_timeout{500};   // see the top of the file
  milliseconds warmup{5000};        // failure-detector.warmup-interval
  double decay_seconds = 60;        // failure-detector.exponential-decay-seconds
  double threshold = 0.1;           // failure-detector.threshold
};

// airlift's DecayCounter: every count fades by exp(-t / decay).
class DecayCounter {
 public:
  explicit DecayCounter(double decay_seconds) : alpha_(1.0 / decay_seconds) {}
  void add(Clock::time_point now) {
    value_ = count(now) + 1;
    updated_ = now;
  }
  double count(Clock::time_point now) const {
    return value_ * std::exp(-alpha_ * std::chrono::duration<double>(now - updated_).count());
  }

 private:
  double alpha_;
  double value_ = 0;
  Clock::time_point updated_ = Clock::now();
};

struct WorkerAddress {
  std::string url;  // as given: "http://127.0.0.1:8081"
  sockaddr_in address{};
  std::string host_header;
};

std::optional<WorkerAddress> parse_worker_url(std::string url) {
  while (url.ends_with('/')) url.pop_back();
  constexpr std::string_view kScheme = "http://";
  const std::size_t colon = url.rfind(':');
  if (!url.starts_with(kScheme) || colon == std::string::npos || colon < kScheme.size()) return std::nullopt;
  const std::string host = url.substr(kScheme.size(), colon - kScheme.size());
  const std::string port = url.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) return std::nullopt;
  WorkerAddress worker{url, *reinterpret_cast<sockaddr_in*>(found->ai_addr), host + ":" + port};
  ::freeaddrinfo(found);
  return worker;
}

struct PingOutcome {
  bool answered = false;
  std::string failure_type;  // the Java exception Trino's HTTP client would have thrown
  std::string failure_message;
};

bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(left));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

// One HEAD <worker>/v1/status, the failure detector's heartbeat. Any HTTP answer is a success —
// Trino's handler records even a 500 as one; a refused connection or no answer in time is a failure.
PingOutcome ping(const WorkerAddress& worker, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const std::string timed_out = "no answer within " + std::to_string(timeout.count()) + " ms";
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return {false, "java.io.IOException", std::strerror(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&worker.address), sizeof worker.address) != 0 &&
      errno != EINPROGRESS) {
    return {false, "java.net.ConnectException", std::strerror(errno)};
  }
  if (!wait_for(fd, POLLOUT, deadline)) return {false, "java.net.SocketTimeoutException", timed_out};
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) return {false, "java.net.ConnectException", std::strerror(error)};
  const std::string request = "HEAD /v1/status HTTP/1.1\r\nHost: " + worker.host_header +
                              "\r\nUser-Agent: trino_standin failure-detector\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return {false, "java.io.IOException", std::strerror(errno)};
  }
  std::string answer;
  while (answer.find("\r\n") == std::string::npos) {
    if (!wait_for(fd, POLLIN, deadline)) return {false, "java.net.SocketTimeoutException", timed_out};
    char buffer[512];
    const ssize_t count = ::recv(fd, buffer, sizeof buffer, 0);
    if (count == 0) break;
    if (count < 0 && errno != EAGAIN && errno != EINTR) return {false, "java.io.IOException", std::strerror(errno)};
    if (count > 0) answer.append(buffer, static_cast<std::size_t>(count));
  }
  if (!answer.starts_with("HTTP/")) return {false, "java.io.EOFException", "closed without an HTTP answer"};
  return {true, "", ""};
}

class FailureDetector {
 public:
  FailureDetector(const std::vector<WorkerAddress>& workers, FailureDetectorSettings settings, TransitionLog& log)
      : settings_(settings), log_(log) {
    for (const WorkerAddress& worker : workers) monitored_.push_back(std::make_unique<Monitored>(worker, settings));
  }

  // The heartbeat loop (scheduleAtFixedRate with the interval as its first delay); never returns.
  void run() {
    auto next = Clock::now();
    for (;;) {
      next += settings_.heartbeat;
      std::this_thread::sleep_until(next);
      std::lock_guard lock(mutex_);
      for (std::size_t i = 0; i < monitored_.size(); ++i) heartbeat(i);
    }
  }

  // GET /v1/node (every worker) and /v1/node/failed (failed_only).
  json stats(bool failed_only) {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    json list = json::array();
    for (const auto& node : monitored_) {
      if (failed_only && !failed(*node, now)) continue;
      list.push_back(stats_of(*node, now));
    }
    return list;
  }

 private:
  struct Monitored {
    Monitored(const WorkerAddress& worker, const FailureDetectorSettings& settings)
        : worker(worker),
          requests(settings.decay_seconds),
          failures(settings.decay_seconds),
          successes(settings.decay_seconds) {}
    WorkerAddress worker;
    Clock::time_point created = Clock::now();
    DecayCounter requests, failures, successes;
    std::map<std::string, DecayCounter> failures_by_type;
    std::optional<Clock::time_point> last_request, last_response;
    std::optional<std::pair<std::string, std::string>> last_failure;  // type, message
    std::optional<Clock::time_point> success_since;  // under the threshold since; none = over it
    bool reported_failed = true;  // what the transition log last said
  };

  double failure_ratio(const Monitored& node, Clock::time_point now) const {
    return node.failures.count(now) / node.requests.count(now);  // NaN before the first request, as in Trino
  }

  // MonitoringTask.isFailed: over the threshold, or not yet under it for a whole warm-up.
  bool failed(const Monitored& node, Clock::time_point now) const {
    return !node.success_since || now - *node.success_since < settings_.warmup;
  }

  void heartbeat(std::size_t index) {
    Monitored& node = *monitored_[index];
    const auto now = Clock::now();
    node.requests.add(now);
    node.last_request = now;
    std::thread([this, index] {
      const PingOutcome outcome = ping(monitored_[index]->worker, settings_.ping_timeout);
      std::lock_guard lock(mutex_);
      record(*monitored_[index], outcome);
    }).detach();
    // MonitoringTask.updateState, right after sending: the answer counts at the next beat.
    if (failure_ratio(node, now) > settings_.threshold) {
      node.success_since.reset();
    } else if (!node.success_since) {
      node.success_since = now;
    }
    log_change(node, now);
  }

  void record(Monitored& node, const PingOutcome& outcome) {
    const auto now = Clock::now();
    node.last_response = now;
    if (outcome.answered) {
      node.successes.add(now);
      return;
    }
    node.failures.add(now);
    node.failures_by_type.try_emplace(outcome.failure_type, settings_.decay_seconds).first->second.add(now);
    node.last_failure = {outcome.failure_type, outcome.failure_message};
  }

  void log_change(Monitored& node, Clock::time_point now) {
    const bool is_failed = failed(node, now);
    if (is_failed == node.reported_failed) return;
    node.reported_failed = is_failed;
    // A warm-up ends between beats: date the change when it ended, not when a beat noticed it.
    const auto when = is_failed ? now : *node.success_since + settings_.warmup;
    log_.add(node.worker.url, is_failed ? "ALIVE" : "FAILED", is_failed ? "FAILED" : "ALIVE", "failure detector",
             epoch_ms(wall_time_of(when)));
  }

  json stats_of(const Monitored& node, Clock::time_point now) const {
    const auto time_or_null = [](const std::optional<Clock::time_point>& at) -> json {
      return at ? json(iso_time(wall_time_of(*at))) : json(nullptr);
    };
    json by_type = json::object();
    for (const auto& [type, counter] : node.failures_by_type) by_type[type] = counter.count(now);
    json failure_info = nullptr;
    if (node.last_failure) {
      failure_info = {{"type", node.last_failure->first},
                      {"message", node.last_failure->second},
                      {"suppressed", json::array()},
                      {"stack", json::array()}};
    }
    return {{"uri", node.worker.url + "/v1/status"},  // Trino monitors the node's /v1/status
            {"recentRequests", node.requests.count(now)},
            {"recentFailures", node.failures.count(now)},
            {"recentSuccesses", node.successes.count(now)},
            {"lastRequestTime", time_or_null(node.last_request)},
            {"lastResponseTime", time_or_null(node.last_response)},
            {"recentFailureRatio", failure_ratio(node, now)},
            {"lastFailureInfo", failure_info},
            {"recentFailuresByType", by_type},
            {"age", succinct_duration(now - node.created)}};
  }

  const FailureDetectorSettings settings_;
  TransitionLog& log_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Monitored>> monitored_;
};

// ---- HTTP: one request per connection, each connection on its own thread -----------------

struct HttpRequest {
  std::string method;
  std::string path;  // without the query
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& lower_name) const {
    const auto found = headers.find(lower_name);
    return found == headers.end() ? "" : found->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::string> extra_headers;
  bool never_answer = false;  // the hang fault
};

HttpResponse text(int status, std::string body) { return {status, "text/plain", std::move(body), {}, false}; }

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

enum class ReadResult { kRequest, kMalformed, kGone };

// Reads one request honouring Content-Length, so a keep-alive client (libcurl) that leaves its
// connection open is answered as soon as its request is complete.
ReadResult read_request(int fd, HttpRequest& request, std::string& problem) {
  constexpr std::size_t kMaxHead = 64 * 1024, kMaxBody = 1024 * 1024;
  const auto malformed = [&problem](const char* why) {
    problem = why;
    return ReadResult::kMalformed;
  };
  std::string raw;
  std::size_t head_end;
  char buffer[8192];
  while ((head_end = raw.find("\r\n\r\n")) == std::string::npos) {
    if (raw.size() > kMaxHead) return malformed("request head too large");
    const ssize_t count = ::recv(fd, buffer, sizeof buffer, 0);
    if (count <= 0) return ReadResult::kGone;
    raw.append(buffer, static_cast<std::size_t>(count));
  }
  std::istringstream head(raw.substr(0, head_end));
  std::string line, target, version;
  std::getline(head, line);
  std::istringstream(line) >> request.method >> target >> version;
  if (request.method.empty() || !target.starts_with('/') || !version.starts_with("HTTP/1.")) {
    return malformed("not an HTTP/1.x request line");
  }
  request.path = target.substr(0, target.find('?'));
  while (std::getline(head, line)) {
    const std::size_t colon = line.find(':');
    if (colon != std::string::npos) request.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  if (!request.header("transfer-encoding").empty()) return malformed("chunked bodies are not supported");
  std::size_t length = 0;
  try {
    const std::string declared = request.header("content-length");
    length = declared.empty() ? 0 : std::stoul(declared);
  } catch (const std::exception&) {
    return malformed("bad Content-Length");
  }
  if (length > kMaxBody) return malformed("body too large");
  if (lower(request.header("expect")) == "100-continue" && raw.size() < head_end + 4 + length) {
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    (void)::send(fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL);
  }
  while (raw.size() < head_end + 4 + length) {
    const ssize_t count = ::recv(fd, buffer, sizeof buffer, 0);
    if (count <= 0) return ReadResult::kGone;
    raw.append(buffer, static_cast<std::size_t>(count));
  }
  request.body = raw.substr(head_end + 4, length);
  return ReadResult::kRequest;
}

void write_response(int fd, const HttpResponse& response, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + reason_phrase(response.status) +
                    "\r\nContent-Type: " + response.content_type +
                    "\r\nContent-Length: " + std::to_string(response.body.size()) + "\r\nConnection: close\r\n";
  for (const std::string& header : response.extra_headers) out += header + "\r\n";
  out += "\r\n";
  if (!head_only) out += response.body;
  for (std::size_t sent = 0; sent < out.size();) {
    const ssize_t count = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (count <= 0) return;
    sent += static_cast<std::size_t>(count);
  }
}

// Closes after the client has seen the answer: closing with unread input would send a reset
// that can overtake the response.
void close_gracefully(int fd) {
  ::shutdown(fd, SHUT_WR);
  timeval linger{0, 500'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &linger, sizeof linger);
  char buffer[4096];
  while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
  }
  ::close(fd);
}

bool client_gone(int fd) {
  pollfd entry{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&entry, 1, 0) <= 0) return false;
  if (entry.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  char byte;
  return ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

// ---- the stand-in: routes, auth, faults ---------------------------------------------------

enum class Fault { kNone, kGarbage, kHang, kError500 };
constexpr std::string_view kFaultNames[] = {"none", "garbage", "hang", "error500"};

struct StandinSettings {
  NodeStates node_states = NodeStates::kDrain;
  bool coordinator = false;
  std::string node_id = "standin";
  std::string environment = "test";
  std::string version;
  bool require_user = false;
  std::string basic_user;      // "" = no basic auth
  std::string basic_password;
};

std::string decode_base64(std::string_view encoded) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : encoded) {
    if (c == '=') break;
    const std::size_t value = kAlphabet.find(c);
    if (value == std::string_view::npos) return "";
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  return out;
}

class Standin {
 public:
  Standin(StandinSettings settings, NodeStateMachine& machine, FailureDetector* detector, TransitionLog& transitions)
      : settings_(std::move(settings)), machine_(machine), detector_(detector), transitions_(transitions) {}

  HttpResponse route(const HttpRequest& request) {
    if (request.path.starts_with("/control/")) return control(request);
    requests_.add(request.method, request.path, request.header("x-trino-user"));
    if (request.path == "/v1" || request.path.starts_with("/v1/")) {
      switch (fault_.load()) {
        case Fault::kHang: return {0, "", "", {}, true};
        case Fault::kGarbage: return {200, "application/json", "<html><body>not json {", {}, false};
        case Fault::kError500: return text(500, "injected fault: error500");
        case Fault::kNone: break;
      }
    }
    const bool get = request.method == "GET" || request.method == "HEAD";
    if (request.path == "/v1/info") return get ? info() : text(405, "");
    if (request.path == "/v1/info/state") {
      if (get) return {200, "application/json", json(name_of(machine_.state())).dump(), {}, false};
      return request.method == "PUT" ? put_state(request) : text(405, "");
    }
    if (detector_ != nullptr && (request.path == "/v1/node" || request.path == "/v1/node/failed")) {
      if (!get) return text(405, "");
      if (auto refused = refuse_unless_allowed(request, "read")) return *refused;
      return {200, "application/json", detector_->stats(request.path == "/v1/node/failed").dump(), {}, false};
    }
    return text(404, "Not Found");  // /v1/status too: the failure detector takes any answer
  }

  Fault fault() const { return fault_.load(); }

 private:
  HttpResponse info() const {
    json body = {{"nodeVersion", {{"version", settings_.version}}},
                 {"environment", settings_.environment},
                 {"coordinator", settings_.coordinator},
                 {"starting", false},
                 {"uptime", succinct_duration(Clock::now() - started_)}};
    if (settings_.node_states == NodeStates::kDrain) {
      body["nodeId"] = settings_.node_id;
      body["state"] = name_of(machine_.state());
    }
    return {200, "application/json", body.dump(), {}, false};
  }

  HttpResponse put_state(const HttpRequest& request) {
    // @Consumes(APPLICATION_JSON): resource matching refuses other bodies before any filter runs.
    if (!lower(request.header("content-type")).starts_with("application/json")) {
      return text(415, "Unsupported Media Type");
    }
    if (auto refused = refuse_unless_allowed(request, "write")) return *refused;
    const json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_string()) return text(400, "Expected a JSON string naming a NodeState");
    const NodeStateMachine::Answer answer = machine_.request(body.get<std::string>());
    return text(answer.status, answer.text);
  }

  // Trino's MANAGEMENT_READ/WRITE: an authenticated user (401 without one), then the access
  // control's "read/write system information" (403 when denied).
  std::optional<HttpResponse> refuse_unless_allowed(const HttpRequest& request, const std::string& access) const {
    HttpResponse unauthorized = text(401, "Unauthorized");
    unauthorized.extra_headers.push_back("WWW-Authenticate: Basic realm=\"Trino\"");
    if (settings_.require_user && request.header("x-trino-user").empty()) return unauthorized;
    if (settings_.basic_user.empty()) return std::nullopt;
    const std::string authorization = request.header("authorization");
    if (!lower(authorization).starts_with("basic ")) return unauthorized;
    const std::string credentials = decode_base64(trim(authorization.substr(6)));
    const std::size_t colon = credentials.find(':');
    if (colon == std::string::npos || credentials.substr(colon + 1) != settings_.basic_password) return unauthorized;
    if (credentials.substr(0, colon) != settings_.basic_user) {
      return text(403, "Access Denied: Cannot " + access + " system information");
    }
    return std::nullopt;
  }

  HttpResponse control(const HttpRequest& request) {
    if (request.path == "/control/requests" && request.method == "GET") {
      return {200, "application/json", requests_.to_json().dump(), {}, false};
    }
    if (request.path == "/control/transitions" && request.method == "GET") {
      return {200, "application/json", transitions_.to_json().dump(), {}, false};
    }
    if (request.path == "/control/fault" && request.method == "GET") {
      return {200, "application/json", json{{"fault", kFaultNames[static_cast<int>(fault_.load())]}}.dump(), {}, false};
    }
    if (request.path == "/control/fault" && request.method == "PUT") {
      const std::string wanted = trim(request.body);
      for (int i = 0; i < 4; ++i) {
        if (kFaultNames[i] != wanted) continue;
        fault_ = static_cast<Fault>(i);
        std::fprintf(stderr, "trino_standin: fault %s\n", wanted.c_str());
        return text(200, "");
      }
      return text(400, "expected none, garbage, hang or error500");
    }
    return text(404, "Not Found");
  }

  const StandinSettings settings_;
  const Clock::time_point started_ = Clock::now();
  NodeStateMachine& machine_;
  FailureDetector* detector_;
  TransitionLog& transitions_;
  RequestLog requests_;
  std::atomic<Fault> fault_{Fault::kNone};
};

constexpr int kMaxConnections = 256;
std::atomic<int> open_connections{0};

void serve_connection(int fd, Standin& standin) {
  timeval idle{10, 0};  // a client that connects and says nothing is dropped
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  HttpRequest request;
  std::string problem;
  switch (read_request(fd, request, problem)) {
    case ReadResult::kGone:
      ::close(fd);
      return;
    case ReadResult::kMalformed:
      write_response(fd, text(400, problem), false);
      close_gracefully(fd);
      return;
    case ReadResult::kRequest:
      break;
  }
  const HttpResponse response = standin.route(request);
  if (response.never_answer) {
    // Held like a frozen JVM holds it, until the fault is lifted or the client gives up.
    while (standin.fault() == Fault::kHang && !client_gone(fd)) std::this_thread::sleep_for(milliseconds(50));
    ::close(fd);
    return;
  }
  write_response(fd, response, request.method == "HEAD");
  close_gracefully(fd);
}

[[noreturn]] void serve(int listener, Standin& standin) {
  for (;;) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    if (open_connections.fetch_add(1) >= kMaxConnections) {
      open_connections.fetch_sub(1);
      write_response(fd, text(503, "too many connections"), false);
      ::close(fd);
      continue;
    }
    std::thread([fd, &standin] {
      serve_connection(fd, standin);
      open_connections.fetch_sub(1);
    }).detach();
  }
}

int listen_on(const std::string& listen, uint16_t& port) {
  const std::size_t colon = listen.rfind(':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (colon == std::string::npos || ::inet_pton(AF_INET, listen.substr(0, colon).c_str(), &address.sin_addr) != 1) {
    return -1;
  }
  const std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
    return -1;
  }
  address.sin_port = htons(static_cast<uint16_t>(std::stoul(port_text)));
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 128) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

// Written whole or not at all: the test polls for it.
void write_port_file(const std::string& path, uint16_t port) {
  const std::string partial = path + ".partial";
  std::ofstream(partial) << port << "\n";
  std::filesystem::rename(partial, path);
}

[[noreturn]] void finish(const char* why) {
  std::fprintf(stderr, "trino_standin: exiting: %s\n", why);
  std::fflush(nullptr);
  ::_exit(0);  // threads may still hold connections: no static destructors under them
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "worker", node_states = "drain", listen = "127.0.0.1:0", port_file, basic_auth;
  std::vector<std::string> worker_urls;
  int64_t grace_ms = 120'000, heartbeat_ms = 500, ping_timeout_ms = 500, warmup_ms = 5000, max_seconds = 600;
  StandinSettings settings;
  FailureDetectorSettings detector_settings;
  bool exit_on_shutdown = false;

  CLI::App app{"A Trino stand-in for tests: /v1/info, /v1/info/state, /v1/node, /v1/node/failed"};
  app.add_option("--mode", mode, "worker or coordinator")->check(CLI::IsMember({"worker", "coordinator"}));
  app.add_option("--node-states", node_states, "drain (NodeStateManager) or legacy (before it)")
      ->check(CLI::IsMember({"drain", "legacy"}));
  app.add_option("--listen", listen, "IPv4:PORT; port 0 picks a free one");
  app.add_option("--port-file", port_file, "the listening port is written here once serving");
  app.add_option("--node-id", settings.node_id);
  app.add_option("--environment", settings.environment);
  app.add_option("--version", settings.version, "the Trino version claimed (default 476, legacy 435)");
  app.add_option("--grace-period-ms", grace_ms, "shutdown.grace-period")->check(CLI::NonNegativeNumber);
  app.add_flag("--exit-on-shutdown", exit_on_shutdown, "exit 0 when a shutdown has run its course");
  app.add_flag("--require-user", settings.require_user, "401 unless X-Trino-User is sent (PUT, /v1/node)");
  app.add_option("--basic-auth", basic_auth, "USER:PASSWORD_FILE: 401 without the password, 403 for another user");
  app.add_option("--worker", worker_urls, "coordinator: a worker's http://HOST:PORT to monitor");
  app.add_option("--heartbeat-interval-ms", heartbeat_ms, "failure-detector.heartbeat-interval")
      ->check(CLI::PositiveNumber);
  app.add_option("--ping-timeout-ms", ping_timeout_ms, "the heartbeat's timeout")->check(CLI::PositiveNumber);
  app.add_option("--warmup-ms", warmup_ms, "failure-detector.warmup-interval")->check(CLI::NonNegativeNumber);
  app.add_option("--decay-seconds", detector_settings.decay_seconds, "failure-detector.exponential-decay-seconds")
      ->check(CLI::PositiveNumber);
  app.add_option("--failure-threshold", detector_settings.threshold, "failure-detector.threshold")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-seconds", max_seconds, "exit after this long, whatever happens")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  settings.coordinator = mode == "coordinator";
  settings.node_states = node_states == "legacy" ? NodeStates::kLegacy : NodeStates::kDrain;
  if (settings.version.empty()) settings.version = settings.node_states == NodeStates::kLegacy ? "435" : "476";
  if (!settings.coordinator && !worker_urls.empty()) {
    std::fprintf(stderr, "trino_standin: --worker needs --mode coordinator\n");
    return 2;
  }
  if (!basic_auth.empty()) {
    const std::size_t colon = basic_auth.find(':');
    std::ifstream password_file(colon == std::string::npos ? "" : basic_auth.substr(colon + 1));
    if (colon == 0 || !password_file) {
      std::fprintf(stderr, "trino_standin: --basic-auth wants USER:PASSWORD_FILE, a readable file\n");
      return 2;
    }
    settings.basic_user = basic_auth.substr(0, colon);
    std::getline(password_file, settings.basic_password);
    settings.basic_password = trim(settings.basic_password);
  }
  std::vector<WorkerAddress> workers;
  for (const std::string& url : worker_urls) {
    const auto worker = parse_worker_url(url);
    if (!worker) {
      std::fprintf(stderr, "trino_standin: --worker %s: expected http://HOST:PORT\n", url.c_str());
      return 2;
    }
    workers.push_back(*worker);
  }
  detector_settings.heartbeat = milliseconds(heartbeat_ms);
  detector_settings.ping_timeout = milliseconds(ping_timeout_ms);
  detector_settings.warmup = milliseconds(warmup_ms);

  ::signal(SIGPIPE, SIG_IGN);
  uint16_t port = 0;
  const int listener = listen_on(listen, port);
  if (listener < 0) {
    std::fprintf(stderr, "trino_standin: cannot listen on %s: %s\n", listen.c_str(), std::strerror(errno));
    return 2;
  }

  // Everything below lives until the process ends by _exit: detached threads may use it.
  auto* transitions = new TransitionLog;
  auto* machine = new NodeStateMachine(settings.node_states, settings.coordinator, milliseconds(grace_ms), *transitions);
  FailureDetector* detector = nullptr;
  if (settings.coordinator) {
    detector = new FailureDetector(workers, detector_settings, *transitions);
    std::thread([detector] { detector->run(); }).detach();
  }
  auto* standin = new Standin(settings, *machine, detector, *transitions);

  const auto deadline = Clock::now() + std::chrono::seconds(max_seconds);
  std::thread([machine, deadline, exit_on_shutdown] {
    for (;;) {
      std::this_thread::sleep_for(milliseconds(10));
      if (machine->shutdown_complete() && exit_on_shutdown) finish("shutdown complete");
      if (Clock::now() >= deadline) finish("--max-seconds reached");
    }
  }).detach();

  if (!port_file.empty()) write_port_file(port_file, port);
  std::fprintf(stderr, "trino_standin: %s (%s states, Trino %s) on %s port %u\n", mode.c_str(), node_states.c_str(),
               settings.version.c_str(), listen.c_str(), port);
  serve(listener, *standin);
}
