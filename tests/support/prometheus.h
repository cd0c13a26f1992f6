// A real Prometheus server for e2e tests: scrapes the given targets every second on loopback,
// loads rule files, stores its data in a temporary directory, and is stopped by its PID when
// its owner goes. Queries go through the HTTP API (/api/v1/...), as Grafana's would.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "process.h"

namespace nodepulse::testing {

inline constexpr const char* kPrometheusBinary = "/usr/bin/prometheus";

class PrometheusServer {
 public:
  struct Options {
    std::string job = "nodepulse";
    std::vector<std::string> targets;             // host:port
    std::vector<std::filesystem::path> rule_files;
  };

  // `dir` holds the config, the TSDB and the log; it must outlive the server.
  PrometheusServer(const Options& options, const std::filesystem::path& dir)
      : port_(free_loopback_port()), log_(dir / "prometheus.log"), process_(start(options, dir, port_, log_)) {}
  ~PrometheusServer() {
    process_.signal(SIGTERM);
    if (!process_.wait_for_exit(std::chrono::seconds(5))) process_.kill_and_reap();
  }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  uint16_t port() const { return port_; }
  std::string log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  bool wait_until_ready(std::chrono::seconds timeout) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      const auto reply = http_get(port_, "/-/ready");
      if (reply && reply->status == 200) return true;
      if (::kill(process_.pid(), 0) != 0) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // GET /api/v1/<path>; the parsed body, or nullopt when Prometheus did not answer with JSON.
  std::optional<nlohmann::json> api(const std::string& path_and_query) const {
    const auto reply = http_get(port_, "/api/v1/" + path_and_query);
    if (!reply) return std::nullopt;
    auto body = nlohmann::json::parse(reply->body, nullptr, false);
    if (body.is_discarded()) return std::nullopt;
    return body;
  }

  std::optional<nlohmann::json> query(const std::string& expr) const { return api("query?query=" + url_encode(expr)); }

  std::optional<nlohmann::json> query_range(const std::string& expr, double start, double end, double step) const {
    return api("query_range?query=" + url_encode(expr) + "&start=" + std::to_string(start) +
               "&end=" + std::to_string(end) + "&step=" + std::to_string(step));
  }

  static std::string url_encode(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hex[c >> 4];
        out += hex[c & 15];
      }
    }
    return out;
  }

 private:
  static ChildProcess start(const Options& options, const std::filesystem::path& dir, uint16_t port,
                            const std::filesystem::path& log) {
    const std::filesystem::path config = dir / "prometheus.yml";
    {
      std::ofstream out(config);
      out << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n";
      if (!options.rule_files.empty()) {
        out << "rule_files:\n";
        for (const auto& file : options.rule_files) out << "  - " << file.string() << "\n";
      }
      out << "scrape_configs:\n  - job_name: " << options.job << "\n    static_configs:\n      - targets: [";
      for (size_t i = 0; i < options.targets.size(); ++i) out << (i ? ", " : "") << "'" << options.targets[i] << "'";
      out << "]\n";
    }
    return ChildProcess::spawn({kPrometheusBinary, "--config.file=" + config.string(),
                                "--storage.tsdb.path=" + (dir / "data").string(),
                                "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                               log.string());
  }

  uint16_t port_;
  std::filesystem::path log_;
  ChildProcess process_;
};

}  // namespace nodepulse::testing
