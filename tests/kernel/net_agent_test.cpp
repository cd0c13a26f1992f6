// Two network namespaces, each watched by its own `nodepulse agent` (network.netns), read
// through /metrics as an operator would: each agent counts the connections of its own
// namespace and nothing of the other's, although both use the same addresses and ports.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"
#include "http_client.h"
#include "netns.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::NetNamespace;

constexpr uint16_t kClusterPort = 8080;
constexpr uint16_t kOtherPort = 9090;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of one series ("name{labels}") in Prometheus text, or nullopt when absent.
std::optional<double> metric(const std::string& body, const std::string& series) {
  const std::string prefix = "\n" + series + " ";
  const size_t at = ("\n" + body).find(prefix);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(body.substr(at + prefix.size() - 1));
}

class Agent {
 public:
  explicit Agent(const NetNamespace& ns)
      : port_(testing::free_loopback_port()),
        log_((std::filesystem::temp_directory_path() / ("nodepulse_net_" + ns.name() + ".log")).string()),
        process_(ChildProcess::spawn({NODEPULSE_BINARY, "agent", "--set",
                                      "http.listen=127.0.0.1:" + std::to_string(port_), "--set",
                                      "network.netns=" + ns.path(), "--set",
                                      "network.ports=[" + std::to_string(kClusterPort) + "]"},
                                     log_)) {}
  ~Agent() {
    process_.kill_and_reap();
    std::filesystem::remove(log_);
  }

  // /metrics once the net probe reports up, within `timeout`.
  std::optional<std::string> wait_until_up(std::chrono::seconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (auto reply = testing::http_get(port_, "/metrics")) {
        if (metric(reply->body, "nodepulse_probe_up{probe=\"net\"}") == 1.0) return reply->body;
      }
      if (::kill(process_.pid(), 0) != 0) return std::nullopt;
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }

  // /metrics once `series` reaches `value` (or after `timeout`, whatever it says then).
  std::string scrape_when(const std::string& series, double value, std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    std::string body;
    do {
      body = testing::http_get(port_, "/metrics").value_or(testing::HttpReply{}).body;
      if (metric(body, series) == value) break;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < until);
    return body;
  }

  std::string log() const { return read_file(log_); }

 private:
  uint16_t port_;
  std::string log_;
  ChildProcess process_;
};

// connect() to 127.0.0.1:port from inside `ns`; returns the errno (0 = connected).
int loopback_connect(const NetNamespace& ns, uint16_t port) {
  return ns.run_in([port] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ? 0 : errno;
  });
}

TEST(NetAgent, TwoNamespacesEachWithItsOwnAgentSeeOnlyTheirOwnConnections) {
  NODEPULSE_REQUIRE_ROOT();
  NetNamespace red("r");
  NetNamespace blue("u");
  Agent red_agent(red);
  Agent blue_agent(blue);
  ASSERT_TRUE(red_agent.wait_until_up(20s)) << red_agent.log();
  ASSERT_TRUE(blue_agent.wait_until_up(20s)) << blue_agent.log();

  // Red: two connects to a closed cluster port, one to a closed non-cluster port.
  ASSERT_EQ(loopback_connect(red, kClusterPort), ECONNREFUSED);
  ASSERT_EQ(loopback_connect(red, kClusterPort), ECONNREFUSED);
  ASSERT_EQ(loopback_connect(red, kOtherPort), ECONNREFUSED);
  // Blue: three connects that a listener on the same address and port answers.
  UniqueFd listener = blue.run_in([] {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(kClusterPort);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd.get(), 8) != 0) {
      throw std::runtime_error("listen failed");
    }
    return fd;
  });
  for (int i = 0; i < 3; ++i) ASSERT_EQ(loopback_connect(blue, kClusterPort), 0);

  const std::string peer = "peer=\"127.0.0.1\"";
  const std::string red_body =
      red_agent.scrape_when("nodepulse_tcp_connects_total{" + peer + ",result=\"refused\"}", 2, 3s);
  const std::string blue_body =
      blue_agent.scrape_when("nodepulse_tcp_connects_total{" + peer + ",result=\"ok\"}", 3, 3s);

  // Red saw its two refused connects (on loopback both ends are red's: it sent and received
  // each reset), and none of blue's connections. The 9090 attempt is not a cluster connection.
  EXPECT_EQ(metric(red_body, "nodepulse_tcp_connects_total{" + peer + ",result=\"refused\"}"), 2) << red_body;
  EXPECT_EQ(metric(red_body, "nodepulse_tcp_connects_total{" + peer + ",result=\"ok\"}"), 0);
  EXPECT_EQ(metric(red_body, "nodepulse_tcp_resets_total{direction=\"received\"," + peer + "}"), 2);
  EXPECT_EQ(metric(red_body, "nodepulse_tcp_resets_total{direction=\"sent\"," + peer + "}"), 2);
  EXPECT_EQ(metric(red_body, "nodepulse_tcp_accepts_total{" + peer + "}"), 0);
  EXPECT_EQ(metric(red_body, "nodepulse_tcp_srtt_seconds{" + peer + "}"), std::nullopt) << "never connected";
  EXPECT_EQ(metric(red_body, "nodepulse_tcp_connect_latency_seconds_count"), 0);

  // Blue saw its three connections, both ends of each, and none of red's failures.
  EXPECT_EQ(metric(blue_body, "nodepulse_tcp_connects_total{" + peer + ",result=\"ok\"}"), 3) << blue_body;
  EXPECT_EQ(metric(blue_body, "nodepulse_tcp_accepts_total{" + peer + "}"), 3);
  EXPECT_EQ(metric(blue_body, "nodepulse_tcp_connects_total{" + peer + ",result=\"refused\"}"), 0);
  EXPECT_EQ(metric(blue_body, "nodepulse_tcp_resets_total{direction=\"received\"," + peer + "}"), 0);
  EXPECT_EQ(metric(blue_body, "nodepulse_tcp_connect_latency_seconds_count"), 3);
  const auto srtt = metric(blue_body, "nodepulse_tcp_srtt_seconds{" + peer + "}");
  ASSERT_TRUE(srtt.has_value()) << blue_body;
  EXPECT_GT(*srtt, 0);
  EXPECT_LT(*srtt, 0.1);
}

}  // namespace
}  // namespace nodepulse
