// The process the fault tests and bench/detection make sick: a stand-in for a service node.
//
//   fault_target TOKEN [--http PORT] [--zk CONNECT PATH SESSION_MS] [--lifetime S]
//
// TOKEN only marks the command line, so the agent's `cmdline_contains` finds this process and
// no other. While alive it
//   - wakes every millisecond on its main thread (so the run-queue rule has waits to judge,
//     and CPU starvation shows in them),
//   - answers every connection on 127.0.0.1:PORT with "HTTP/1.0 200 OK" (what HAProxy's own
//     health check asks),
//   - holds a ZooKeeper session with an ephemeral znode PATH (what a session-expiry detector
//     watches); the parents are created as persistent znodes,
//   - on SIGUSR1 allocates and touches memory without end: inside a memory cgroup with a small
//     limit the kernel OOM-kills it.
// Its life is bounded (--lifetime, default 600 s) so a forgotten target cannot outlive its test
// for long.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "zk/zk_client.h"

namespace {

volatile sig_atomic_t allocate = 0;

void on_sigusr1(int) { allocate = 1; }

void serve_http(int listener) {
  for (;;) {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    char buffer[1024];
    timeval timeout{0, 200'000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    (void)::recv(fd, buffer, sizeof buffer, 0);
    static const char kAnswer[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
    (void)::send(fd, kAnswer, sizeof kAnswer - 1, MSG_NOSIGNAL);
    ::close(fd);
  }
}

int listen_on(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, 64) != 0) {
    std::fprintf(stderr, "fault_target: cannot listen on port %u: %s\n", port, std::strerror(errno));
    std::exit(2);
  }
  return fd;
}

// Creates every parent of `path` as a persistent znode, then `path` as an ephemeral one.
bool publish_ephemeral(nodepulse::zk::ZkClient& client, const std::string& path) {
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    (void)client.create(path.substr(0, slash), "", 0, ZOO_OPEN_ACL_UNSAFE, std::chrono::seconds(5));
  }
  auto created = client.create(path, "alive", ZOO_EPHEMERAL, ZOO_OPEN_ACL_UNSAFE, std::chrono::seconds(5));
  return created.ok() && *created == ZOK;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fault_target TOKEN [--http PORT] [--zk CONNECT PATH SESSION_MS] [--lifetime S]\n");
    return 2;
  }
  uint16_t http_port = 0;
  std::string zk_connect, zk_path;
  int zk_session_ms = 4000;
  unsigned lifetime_s = 600;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--http" && i + 1 < argc) {
      http_port = static_cast<uint16_t>(std::atoi(argv[++i]));
    } else if (arg == "--zk" && i + 3 < argc) {
      zk_connect = argv[++i];
      zk_path = argv[++i];
      zk_session_ms = std::atoi(argv[++i]);
    } else if (arg == "--lifetime" && i + 1 < argc) {
      lifetime_s = static_cast<unsigned>(std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "fault_target: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  ::alarm(lifetime_s);
  struct sigaction action {};
  action.sa_handler = on_sigusr1;
  ::sigaction(SIGUSR1, &action, nullptr);

  if (http_port != 0) std::thread(serve_http, listen_on(http_port)).detach();

  std::unique_ptr<nodepulse::zk::ZkClient> zk;
  if (!zk_connect.empty()) {
    auto client = nodepulse::zk::ZkClient::connect(
        {.connect = zk_connect, .session_timeout = std::chrono::milliseconds(zk_session_ms), .digest = ""},
        std::chrono::seconds(10));
    if (!client.ok() || !publish_ephemeral(**client, zk_path)) {
      std::fprintf(stderr, "fault_target: cannot publish %s\n", zk_path.c_str());
      return 3;
    }
    zk = std::move(client).value();
  }
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<char*> hoard;
  const timespec tick{0, 1'000'000};
  for (;;) {
    if (allocate) {
      // 1 MiB at a time, each page touched, so the charge is real; bounded at 16 GiB.
      for (int chunk = 0; chunk < 16 * 1024; ++chunk) {
        char* block = static_cast<char*>(std::malloc(1 << 20));
        if (block == nullptr) break;
        std::memset(block, 0x5a, 1 << 20);
        hoard.push_back(block);
      }
      return 4;
    }
    ::nanosleep(&tick, nullptr);
  }
}
