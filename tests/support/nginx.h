// A real nginx for tests: `nginx -p DIR -c DIR/nginx.conf` in the foreground (daemon off) as a
// child process, with its pid file, logs and temp paths in a temporary directory; stopped with
// SIGTERM (its workers go with the master), by its own PID, when the owner goes out of scope.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "http_client.h"
#include "process.h"
#include "services.h"

namespace nodepulse::testing {

inline constexpr const char* kNginxBinary = "/usr/sbin/nginx";

class Nginx {
 public:
  // `http_body`: what goes inside `http { }` after the temp paths (upstreams, servers, log
  // formats). `ready_port`: a loopback port one of its servers listens on; the constructor
  // returns once it accepts connections. Throws std::runtime_error with the error log.
  Nginx(const std::string& http_body, uint16_t ready_port, TempDir& dir) : dir_(dir) {
    const std::string d = dir_.path().string();
    write_text(conf_path(), "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\npid " + pid_path() +
                                ";\nerror_log " + d + "/error.log info;\nevents { worker_connections 512; }\nhttp {\n"
                                "  client_body_temp_path " + d + "/client_temp;\n  proxy_temp_path " + d +
                                "/proxy_temp;\n  fastcgi_temp_path " + d + "/fastcgi_temp;\n  uwsgi_temp_path " + d +
                                "/uwsgi_temp;\n  scgi_temp_path " + d + "/scgi_temp;\n" + http_body + "\n}\n");
    child_.emplace(ChildProcess::spawn({kNginxBinary, "-p", d + "/", "-c", conf_path(), "-e", d + "/error.log"},
                                       d + "/nginx.out"));
    if (!wait_until([&] { return ::kill(child_->pid(), 0) == 0 && port_open(ready_port) && !worker_pids().empty(); },
                    std::chrono::seconds(10))) {
      throw std::runtime_error("nginx did not start: " + file_text(dir_ / "error.log") + file_text(dir_ / "nginx.out"));
    }
  }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;
  ~Nginx() {
    // SIGTERM is nginx's fast shutdown: the master stops its workers, then exits. A SIGKILLed
    // master would leave them behind.
    if (child_) stop_child(*child_, std::chrono::seconds(3));
  }

  pid_t master_pid() const { return child_->pid(); }
  std::string conf_path() const { return (dir_ / "nginx.conf").string(); }
  std::string pid_path() const { return (dir_ / "nginx.pid").string(); }
  std::string error_log() const { return file_text(dir_ / "error.log"); }

  // The master's children: its worker processes. A reload has taken effect when the set
  // changed (new workers started with the new configuration; the old ones finish and go).
  std::set<pid_t> worker_pids() const {
    // /proc/PID/task/TID/children needs CONFIG_PROC_CHILDREN, which not every kernel has: scan
    // the parent pid field of /proc/*/stat instead (after the ")" that ends the comm).
    std::set<pid_t> pids;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string stat = file_text(entry.path() / "stat");
      const std::size_t close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream fields(stat.substr(close + 1));
      std::string state;
      pid_t parent = 0;
      if (fields >> state >> parent && parent == master_pid()) pids.insert(static_cast<pid_t>(std::stol(name)));
    }
    return pids;
  }

 private:
  static bool port_open(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return open;
  }

  TempDir& dir_;
  std::optional<ChildProcess> child_;
};

}  // namespace nodepulse::testing
