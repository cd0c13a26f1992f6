// The real agent as a child process for tests: a config file written from YAML text, started,
// waited for until it serves /metrics, killed by its PID when the owner goes. Plus what a test
// reads of it from /proc: each thread's status fields and the sockets it listens on.
#pragma once

#include <dirent.h>
#include <signal.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_client.h"
#include "process.h"
#include "services.h"

namespace nodepulse::testing {

class AgentProcess {
 public:
  // Writes `config_yaml` plus `http: {listen: 127.0.0.1:PORT}` to DIR/agent.yaml and starts
  // `nodepulse agent` with extra `environment` entries ("NAME=value"). Throws, with the agent's
  // log, when it does not serve /metrics within `timeout`.
  AgentProcess(const std::filesystem::path& dir, const std::string& config_yaml,
               const std::vector<std::string>& environment = {},
               std::chrono::milliseconds timeout = std::chrono::seconds(20))
      : port_(free_loopback_port()), config_(dir / "agent.yaml"), log_(dir / "agent.log") {
    std::ofstream(config_) << config_yaml << "\nhttp:\n  listen: 127.0.0.1:" << port_ << "\n";
    std::vector<std::string> argv{"env"};
    argv.insert(argv.end(), environment.begin(), environment.end());
    argv.insert(argv.end(), {NODEPULSE_BINARY, "agent", "--config", config_.string()});
    process_.emplace(ChildProcess::spawn(argv, log_.string()));
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!http_get(port_, "/metrics")) {
      if (::kill(process_->pid(), 0) != 0 || std::chrono::steady_clock::now() >= until) {
        throw std::runtime_error("the agent did not come up:\n" + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  pid_t pid() const { return process_->pid(); }
  uint16_t port() const { return port_; }
  const std::filesystem::path& config() const { return config_; }
  std::string log() const { return file_text(log_); }
  ChildProcess& process() { return *process_; }

 private:
  uint16_t port_;
  std::filesystem::path config_;
  std::filesystem::path log_;
  std::optional<ChildProcess> process_;
};

inline std::vector<pid_t> thread_ids(pid_t pid) {
  std::vector<pid_t> ids;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(tasks, error)) {
    ids.push_back(static_cast<pid_t>(std::stoi(entry.path().filename().string())));
  }
  return ids;
}

// "CapEff" of /proc/PID/task/TID/status -> "00000000a0080000"; "" when absent.
inline std::string status_field(const std::string& status_text, const std::string& field) {
  std::istringstream in(status_text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(field + ":")) continue;
    const size_t start = line.find_first_not_of(" \t", field.size() + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

// One listening TCP socket: the local address as /proc/net/tcp{,6} prints it, decoded.
struct ListeningSocket {
  std::string address;  // "127.0.0.1", "0.0.0.0", "::", "::1"
  uint16_t port = 0;
  auto operator<=>(const ListeningSocket&) const = default;
};

// Every TCP socket in LISTEN state that process `pid` holds open (matched by inode between
// /proc/PID/fd and /proc/PID/net/tcp{,6}, so only its own sockets, in its network namespace).
inline std::set<ListeningSocket> listening_sockets(pid_t pid) {
  std::set<std::string> inodes;
  const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(fds, error)) {
    const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
    if (target.starts_with("socket:[")) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::set<ListeningSocket> sockets;
  for (const char* table : {"tcp", "tcp6"}) {
    std::istringstream in(file_text("/proc/" + std::to_string(pid) + "/net/" + table));
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      if (state != "0A" || !inodes.contains(inode)) continue;  // 0A: TCP_LISTEN
      const size_t colon = local.find(':');
      const std::string hex = local.substr(0, colon);
      const auto port = static_cast<uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
      // The kernel prints each 32-bit word of the address in host (little-endian) order.
      unsigned char bytes[16] = {};
      for (size_t word = 0; word < hex.size() / 8; ++word) {
        const auto value = static_cast<uint32_t>(std::stoul(hex.substr(word * 8, 8), nullptr, 16));
        std::memcpy(bytes + word * 4, &value, 4);
      }
      char text[INET6_ADDRSTRLEN] = {};
      ::inet_ntop(hex.size() == 8 ? AF_INET : AF_INET6, bytes, text, sizeof text);
      sockets.insert({text, port});
    }
  }
  return sockets;
}

}  // namespace nodepulse::testing
