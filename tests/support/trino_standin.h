// Tests' handle on the Trino stand-in (tests/e2e/trino_standin.cpp; there is no Trino package
// here). TrinoStandin starts one — a worker, or a coordinator whose failure detector watches
// given workers — waits until it serves, talks to its /v1 and /control endpoints, and kills it
// by PID when it goes, also when an assertion fails half-way; --max-seconds bounds its life
// even if the test process dies. TrinoTlsRelay puts https in front of it: socat with a
// certificate for 127.0.0.1 from a throwaway CA made with the openssl CLI.
//
// A test target that includes this defines NODEPULSE_TRINO_STANDIN="$<TARGET_FILE:trino_standin>"
// and add_dependencies(... trino_standin) (tests/e2e/CMakeLists.txt).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "http_client.h"
#include "netns.h"
#include "process.h"
#include "services.h"

#ifndef NODEPULSE_TRINO_STANDIN
#error "define NODEPULSE_TRINO_STANDIN=\"$<TARGET_FILE:trino_standin>\" for this test target"
#endif

namespace nodepulse::testing {

// One HTTP/1.1 request to 127.0.0.1:port (Connection: close), with `headers` ("Name: value")
// and a body sent with its Content-Length; nullopt unless a whole answer came within `timeout`.
inline std::optional<HttpReply> loopback_http(uint16_t port, const std::string& method, const std::string& path,
                                              const std::string& body = "",
                                              const std::vector<std::string>& headers = {},
                                              std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const auto wait_for = [&](short events) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd entry{fd, events, 0};
    return left.count() > 0 && ::poll(&entry, 1, static_cast<int>(left.count())) > 0;
  };
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  for (const std::string& header : headers) request += header + "\r\n";
  request += "\r\n" + body;
  std::string response;
  bool complete = false;
  if ((::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 || errno == EINPROGRESS) &&
      wait_for(POLLOUT) && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    while (wait_for(POLLIN)) {
      char buffer[16384];
      const ssize_t count = ::recv(fd, buffer, sizeof buffer, 0);
      if (count == 0) complete = true;
      if (count <= 0 && !(count < 0 && errno == EAGAIN)) break;
      if (count > 0) response.append(buffer, static_cast<size_t>(count));
    }
  }
  ::close(fd);
  const size_t space = response.find(' ');
  const size_t body_at = response.find("\r\n\r\n");
  if (!complete || space == std::string::npos || body_at == std::string::npos) return std::nullopt;
  return HttpReply{std::atoi(response.c_str() + space + 1), response.substr(body_at + 4)};
}

struct TrinoStandinOptions {
  bool coordinator = false;
  std::string node_states = "drain";  // "drain": NodeStateManager's; "legacy": before it
  std::string node_id = "standin";
  std::string version{};              // "" = the stand-in's default (476; 435 for legacy)
  // shutdown.grace-period. Trino's default is 2 min; a drain ends 2 of these after it starts.
  std::chrono::milliseconds grace_period{500};
  bool exit_on_shutdown = false;
  bool require_user = false;          // 401 without X-Trino-User (PUT, /v1/node)
  std::string basic_auth_user{};      // with the password file: 401 without both, 403 for another user
  std::filesystem::path basic_auth_password_file{};
  std::vector<std::string> workers{}; // coordinator: the workers' http://HOST:PORT
  std::vector<std::string> extra_args{};  // e.g. {"--ping-timeout-ms", "60000"}
  std::filesystem::path log_file{};   // "" = inside the stand-in's own temporary directory
  std::chrono::seconds max_lifetime{300};
};

class TrinoStandin {
 public:
  explicit TrinoStandin(TrinoStandinOptions options = {}) : dir_(std::make_unique<TempDir>("trino-standin")) {
    log_ = options.log_file.empty() ? *dir_ / "standin.log" : options.log_file;
    process_.emplace(ChildProcess::spawn(command(options), log_.string()));
    const std::filesystem::path port_file = *dir_ / "port";
    const bool serving = wait_until(
        [&] { return std::filesystem::exists(port_file) || process_->wait_for_exit(std::chrono::milliseconds(0)); },
        std::chrono::seconds(10));
    if (!serving || !std::filesystem::exists(port_file)) throw std::runtime_error("trino_standin did not start:\n" + log());
    port_ = static_cast<uint16_t>(std::stoul(file_text(port_file)));
  }
  TrinoStandin(TrinoStandin&&) = default;
  TrinoStandin& operator=(TrinoStandin&&) = delete;
  TrinoStandin(const TrinoStandin&) = delete;
  TrinoStandin& operator=(const TrinoStandin&) = delete;

  // A drain-capable worker with the test defaults.
  static TrinoStandin worker(const std::string& node_id, const std::filesystem::path& log_file = {},
                             std::chrono::seconds max_lifetime = TrinoStandinOptions{}.max_lifetime) {
    TrinoStandinOptions options;
    options.node_id = node_id;
    options.log_file = log_file;
    options.max_lifetime = max_lifetime;
    return TrinoStandin(options);
  }
  static TrinoStandin worker_with_basic_auth(const std::string& node_id, const std::string& user,
                                             const std::filesystem::path& password_file,
                                             const std::filesystem::path& log_file = {}) {
    TrinoStandinOptions options;
    options.node_id = node_id;
    options.basic_auth_user = user;
    options.basic_auth_password_file = password_file;
    options.log_file = log_file;
    return TrinoStandin(options);
  }
  // A coordinator whose failure detector, with Trino's defaults, watches `worker_urls`.
  static TrinoStandin coordinator(const std::vector<std::string>& worker_urls,
                                  const std::filesystem::path& log_file = {}) {
    TrinoStandinOptions options;
    options.coordinator = true;
    options.node_id = "coordinator";
    options.workers = worker_urls;
    options.log_file = log_file;
    return TrinoStandin(options);
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  pid_t pid() const { return process_->pid(); }
  ChildProcess& process() { return *process_; }  // signal(SIGSTOP), wait_for_exit(...)
  std::string log() const { return file_text(log_); }

  std::optional<HttpReply> request(const std::string& method, const std::string& path, const std::string& body = "",
                                   const std::vector<std::string>& headers = {},
                                   std::chrono::milliseconds timeout = std::chrono::seconds(3)) const {
    return loopback_http(port_, method, path, body, headers, timeout);
  }

  // PUT /v1/info/state with the JSON string "STATE", as Trino's clients send it.
  std::optional<HttpReply> put_state(const std::string& state, std::vector<std::string> headers = {}) const {
    headers.push_back("Content-Type: application/json");
    return request("PUT", "/v1/info/state", "\"" + state + "\"", headers);
  }

  // GET /v1/info/state: "ACTIVE", ...; "" unless a JSON string came.
  std::string state() const {
    const auto reply = request("GET", "/v1/info/state");
    if (!reply || reply->status != 200) return "";
    const auto parsed = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
    return parsed.is_string() ? parsed.get<std::string>() : "";
  }

  // "none" | "garbage" | "hang" | "error500", for every /v1 request from now on.
  void set_fault(const std::string& fault) const {
    const auto reply = request("PUT", "/control/fault", fault);
    if (!reply || reply->status != 200) throw std::runtime_error("trino_standin refused fault " + fault);
  }

  // Each state change: [{"epoch_ms":..,"node":"self" or a worker's URL,"from":..,"to":..,"cause":..}].
  // transitions_json() is the text, for failure messages: it never throws.
  nlohmann::json transitions() const { return nlohmann::json::parse(body_of("/control/transitions")); }
  std::string transitions_json() const { return text_or_why("/control/transitions"); }

  // Coordinator: GET /v1/node/failed (HeartbeatFailureDetector.Stats of the failed workers).
  nlohmann::json failed_nodes() const { return nlohmann::json::parse(body_of("/v1/node/failed")); }
  std::string failed_nodes_json() const { return text_or_why("/v1/node/failed"); }

  // "METHOD PATH" -> how many such requests came (the /control endpoints are not counted).
  std::map<std::string, int64_t> request_counts() const {
    return requests_json()["counts"].get<std::map<std::string, int64_t>>();
  }
  int64_t request_count(const std::string& method, const std::string& path) const {
    const auto counts = request_counts();
    const auto found = counts.find(method + " " + path);
    return found == counts.end() ? 0 : found->second;
  }
  // The last requests, oldest first: [{"epoch_ms":..,"method":..,"path":..,"user":..}, ...]
  nlohmann::json recent_requests() const { return requests_json()["recent"]; }

 private:
  std::vector<std::string> command(const TrinoStandinOptions& options) const {
    std::vector<std::string> argv = {NODEPULSE_TRINO_STANDIN,
                                     "--mode", options.coordinator ? "coordinator" : "worker",
                                     "--node-states", options.node_states,
                                     "--node-id", options.node_id,
                                     "--port-file", (*dir_ / "port").string(),
                                     "--grace-period-ms", std::to_string(options.grace_period.count()),
                                     "--max-seconds", std::to_string(options.max_lifetime.count())};
    if (!options.version.empty()) argv.insert(argv.end(), {"--version", options.version});
    if (options.exit_on_shutdown) argv.push_back("--exit-on-shutdown");
    if (options.require_user) argv.push_back("--require-user");
    if (!options.basic_auth_user.empty()) {
      argv.insert(argv.end(), {"--basic-auth", options.basic_auth_user + ":" + options.basic_auth_password_file.string()});
    }
    for (const std::string& worker : options.workers) argv.insert(argv.end(), {"--worker", worker});
    argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
    return argv;
  }

  std::string body_of(const std::string& path) const {
    const auto reply = request("GET", path);
    if (!reply || reply->status != 200) {
      throw std::runtime_error("trino_standin: no 200 for GET " + path + "\n" + log());
    }
    return reply->body;
  }
  std::string text_or_why(const std::string& path) const {
    const auto reply = request("GET", path);
    if (!reply) return "(no answer to GET " + path + ")";
    return reply->status == 200 ? reply->body : "(HTTP " + std::to_string(reply->status) + " " + reply->body + ")";
  }
  nlohmann::json requests_json() const { return nlohmann::json::parse(body_of("/control/requests")); }

  std::unique_ptr<TempDir> dir_;  // the port file; movable, for the factories
  std::filesystem::path log_;
  uint16_t port_ = 0;
  std::optional<ChildProcess> process_;  // last: killed and reaped before its directory goes
};

// https://127.0.0.1:port() in front of 127.0.0.1:backend_port: `socat OPENSSL-LISTEN ... fork`
// with a server certificate (subjectAltName IP:127.0.0.1, DNS:localhost) signed by a CA made
// for this relay alone; ca_file() is that CA, for the client's CA file option.
class TrinoTlsRelay {
 public:
  static constexpr const char* kSocat = "/usr/bin/socat";
  static constexpr const char* kOpenssl = "/usr/bin/openssl";

  explicit TrinoTlsRelay(uint16_t backend_port, std::chrono::seconds max_lifetime = std::chrono::seconds(300))
      : dir_("trino-tls"), log_(dir_ / "socat.log") {
    make_certificates();
    // Its own process group, so the per-connection children that `fork` makes go with it.
    const std::vector<std::string> argv = {
        kSocat, "-d", "-d",
        "OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,backlog=64,fork,verify=0,cert=" + (dir_ / "server.pem").string() +
            ",key=" + (dir_ / "server.key").string(),
        "TCP:127.0.0.1:" + std::to_string(backend_port)};
    const std::string log = log_.string();
    process_.emplace(ChildProcess::fork_and_run(
        [argv, log] {
          ::setpgid(0, 0);
          exec_with_log(argv, log);
        },
        max_lifetime));
    // socat -d -d logs "listening on AF=2 127.0.0.1:PORT" once its socket is bound.
    static const std::regex listening(R"(listening on AF=2 [0-9.]+:([0-9]+))");
    std::smatch match;
    std::string text;
    const bool listening_found = wait_until(
        [&] {
          text = file_text(log_);
          return std::regex_search(text, match, listening);
        },
        std::chrono::seconds(10));
    if (!listening_found) throw std::runtime_error("socat did not listen:\n" + text);
    port_ = static_cast<uint16_t>(std::stoul(match[1]));
  }
  TrinoTlsRelay(const TrinoTlsRelay&) = delete;
  TrinoTlsRelay& operator=(const TrinoTlsRelay&) = delete;
  ~TrinoTlsRelay() {
    if (process_ && process_->pid() > 0) ::kill(-process_->pid(), SIGKILL);
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "") const { return "https://127.0.0.1:" + std::to_string(port_) + path; }
  std::filesystem::path ca_file() const { return dir_ / "ca.pem"; }
  std::string log() const { return file_text(log_); }

 private:
  void make_certificates() const {
    const auto path = [&](const char* name) { return (dir_ / name).string(); };
    const std::vector<std::string> ec_key = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
    std::vector<std::string> ca = {kOpenssl, "req", "-x509", "-days", "2", "-subj", "/CN=nodepulse test CA",
                                   "-addext", "basicConstraints=critical,CA:TRUE",
                                   "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                                   "-keyout", path("ca.key"), "-out", path("ca.pem")};
    ca.insert(ca.begin() + 2, ec_key.begin(), ec_key.end());
    must_run(ca);
    std::vector<std::string> request = {kOpenssl, "req", "-subj", "/CN=127.0.0.1", "-keyout", path("server.key"),
                                        "-out", path("server.csr")};
    request.insert(request.begin() + 2, ec_key.begin(), ec_key.end());
    must_run(request);
    write_text(dir_ / "server.ext",
               "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
               "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n");
    must_run({kOpenssl, "x509", "-req", "-days", "2", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey",
              path("ca.key"), "-CAcreateserial", "-extfile", path("server.ext"), "-out", path("server.pem")});
  }

  TempDir dir_;
  std::filesystem::path log_;
  uint16_t port_ = 0;
  std::optional<ChildProcess> process_;  // last: reaped before the certificates go
};

}  // namespace nodepulse::testing
