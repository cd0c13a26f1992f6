// A client of the agent's HAProxy agent-check port, as HAProxy is: connect, optionally send its
// agent-send string, read the line until the agent closes.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

namespace nodepulse::testing {

struct AgentCheckReply {
  bool connected = false;
  bool closed_cleanly = false;  // the agent closed with a FIN, not a reset or a 2 s silence
  std::string text;             // what arrived, whole or not
};

inline AgentCheckReply agent_check_exchange(uint16_t port, const std::string& send = "") {
  AgentCheckReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  reply.connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  if (reply.connected) {
    if (!send.empty()) (void)::send(fd, send.data(), send.size(), MSG_NOSIGNAL);
    char buffer[512];
    ssize_t count;
    while ((count = ::recv(fd, buffer, sizeof buffer, 0)) > 0) reply.text.append(buffer, static_cast<std::size_t>(count));
    reply.closed_cleanly = count == 0;
  }
  ::close(fd);
  return reply;
}

// One line from an agent-check port ("up 100% ready #healthy"), or "" when nothing answers.
inline std::string agent_check_answer(uint16_t port) { return agent_check_exchange(port).text; }

}  // namespace nodepulse::testing
