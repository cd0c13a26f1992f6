// A real HAProxy for tests: `haproxy -db -f CFG` as a child process (killed by its own PID when
// the owner goes), its config and admin stats socket in a temporary directory, and `show stat`
// read back as a table keyed by "backend/server".
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "process.h"
#include "services.h"

namespace nodepulse::testing {

inline constexpr const char* kHaproxyBinary = "/usr/sbin/haproxy";

// `show stat` (CSV after a "# pxname,svname,..." header) as rows of column name → value; rows
// follow the last header seen, so the output of several `show stat` calls may be joined.
inline std::vector<std::map<std::string, std::string>> parse_show_stat(const std::string& text) {
  const auto split = [](const std::string& csv) {
    std::vector<std::string> fields;
    std::string field;
    std::istringstream in(csv);
    while (std::getline(in, field, ',')) fields.push_back(field);
    return fields;
  };
  std::vector<std::map<std::string, std::string>> rows;
  std::vector<std::string> columns;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("# ", 0) == 0) {
      columns = split(line.substr(2));
      continue;
    }
    const std::vector<std::string> values = split(line);
    if (values.empty()) continue;
    std::map<std::string, std::string>& row = rows.emplace_back();
    for (std::size_t i = 0; i < columns.size() && i < values.size(); ++i) row[columns[i]] = values[i];
  }
  return rows;
}

class Haproxy {
 public:
  // `sections`: the backends/frontends to add after the global and defaults sections.
  explicit Haproxy(const std::string& sections) : dir_("haproxy") {
    write_text(dir_ / "haproxy.cfg", "global\n  stats socket " + socket_path() +
                                         " level admin\n  maxconn 256\n"
                                         "defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 5s\n"
                                         "  timeout server 5s\n" +
                                         sections);
    child_.emplace(ChildProcess::spawn({kHaproxyBinary, "-db", "-f", (dir_ / "haproxy.cfg").string()},
                                       (dir_ / "haproxy.log").string()));
    if (!wait_until([&] { return command("show info").find("Name: HAProxy") != std::string::npos; },
                    std::chrono::seconds(10))) {
      throw std::runtime_error("HAProxy did not start: " + log());
    }
  }
  Haproxy(const Haproxy&) = delete;
  Haproxy& operator=(const Haproxy&) = delete;
  ~Haproxy() {
    if (child_) stop_child(*child_, std::chrono::seconds(2));
  }

  std::string socket_path() const { return (dir_ / "admin.sock").string(); }
  std::string log() const { return file_text(dir_ / "haproxy.log"); }

  // One runtime-API command; its whole answer ("" if the socket does not answer).
  std::string command(const std::string& line) const {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = socket_path();
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    timeval timeout{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(fd);
      return "";
    }
    const std::string request = line + "\n";
    (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string answer;
    char buffer[16384];
    ssize_t count;
    while ((count = ::recv(fd, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, static_cast<std::size_t>(count));
    ::close(fd);
    return answer;
  }

  // `show stat` for one server: column name → value ("status", "weight", "last_agt", ...).
  std::map<std::string, std::string> server_stat(const std::string& backend, const std::string& server) const {
    for (auto& row : parse_show_stat(command("show stat"))) {
      if (row["pxname"] == backend && row["svname"] == server) return row;
    }
    return {};
  }

 private:
  TempDir dir_;
  std::optional<ChildProcess> child_;
};

}  // namespace nodepulse::testing
