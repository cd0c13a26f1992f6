// `nodepulse balancer` end to end: the real binary against a real ZooKeeper, nginx and HAProxy
// and a Trino Gateway stand-in, all on loopback, driven by synthetic heartbeats this test writes
// into ZooKeeper in the agent's own format (heartbeat/to_json). Three backends (w1..w3) answer
// with their name, so nginx's routing is checked by real requests through it, HAProxy's by its
// own `show stat`, the gateway's by the calls it received.
//   - failing → drained everywhere; recovery → back everywhere;
//   - all failing → at most max_unhealthy_fraction (1 of 3) out, the rest kept with weight 1;
//   - a malformed payload → unknown (drained) + nodepulse_balancer_invalid_payloads_total;
//   - a node's znode deleted → still in during the grace, down after it;
//   - ZooKeeper stopped → nothing changes (frozen), and it resumes when ZooKeeper is back.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "gateway_standin.h"
#include "haproxy.h"
#include "heartbeat/heartbeat.h"
#include "http_client.h"
#include "nginx.h"
#include "process.h"
#include "services.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::GatewayStandin;
using testing::Haproxy;
using testing::Nginx;
using testing::RecordingHttpServer;
using testing::Stopwatch;
using testing::TempDir;
using testing::ZooKeeperEnsemble;
using testing::wait_until;

constexpr const char* kCluster = "e2e";
constexpr int kDownAfterMs = 1500;
const std::vector<std::string> kNodes = {"w1", "w2", "w3"};

// One metric's value from a Prometheus text page, e.g. `nodepulse_balancer_nodes{state="down"}`.
std::optional<double> metric_value(const std::string& page, const std::string& series) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

class BalancerDrivers : public ::testing::Test {
 protected:
  void SetUp() override {
    NODEPULSE_REQUIRE_ZOOKEEPER();
    NODEPULSE_REQUIRE_BINARY(testing::kNginxBinary);
    NODEPULSE_REQUIRE_BINARY(testing::kHaproxyBinary);
    zookeeper_ = std::make_unique<ZooKeeperEnsemble>(1, 500);
    zk::ClientOptions options;
    options.connect = zookeeper_->connect_string();
    auto client = zk::ZkClient::connect(options);
    ASSERT_TRUE(client.ok()) << client.error().message;
    client_ = std::move(client).value();
    for (const std::string path : {"/nodepulse", "/nodepulse/e2e", "/nodepulse/e2e/nodes", "/nodepulse/e2e/failing"}) {
      ASSERT_EQ(client_->create(path, "", ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE).value(), ZOK) << path;
    }

    std::string haproxy_servers;
    for (const std::string& node : kNodes) {
      auto backend = std::make_unique<RecordingHttpServer>(
          [node](const RecordingHttpServer::Request&, std::size_t) { return RecordingHttpServer::Answer{200, node}; });
      port_[node] = backend->port();
      haproxy_servers += "  server " + node + " 127.0.0.1:" + std::to_string(backend->port()) + " weight 100\n";
      backends_.push_back(std::move(backend));
      write_heartbeat(node, HealthState::kHealthy, 100);
    }
    haproxy_ = std::make_unique<Haproxy>("backend trino\n  balance roundrobin\n" + haproxy_servers);

    // nginx starts with every server up, as an operator would deploy it; the balancer rewrites it.
    nginx_dir_ = std::make_unique<TempDir>("balancer-nginx");
    nginx_port_ = testing::free_loopback_port();
    std::string initial = "upstream trino {\n";
    for (const std::string& node : kNodes) initial += "    server 127.0.0.1:" + std::to_string(port_[node]) + ";\n";
    testing::write_text(upstream_file(), initial + "}\n");
    nginx_ = std::make_unique<Nginx>("  access_log off;\n  include " + upstream_file() + ";\n  server {\n    listen 127.0.0.1:" +
                                         std::to_string(nginx_port_) +
                                         ";\n    location / { proxy_pass http://trino; proxy_next_upstream off; }\n  }",
                                     nginx_port_, *nginx_dir_);
    gateway_ = std::make_unique<GatewayStandin>();

    dir_ = std::make_unique<TempDir>("balancer");
    metrics_port_ = testing::free_loopback_port();
    testing::write_text(*dir_ / "balancer.yaml",
                        std::string("cluster: ") + kCluster + "\nzookeeper:\n  connect: " + zookeeper_->connect_string() +
                            "\n  session_timeout_ms: 4000\nbalancer:\n  listen: 127.0.0.1:" +
                            std::to_string(metrics_port_) + "\n  down_after_ms: " + std::to_string(kDownAfterMs) +
                            "\n  nginx:\n    upstream_file: " + upstream_file() + "\n    upstream: trino\n    conf: " +
                            nginx_->conf_path() + "\n    pid_file: " + nginx_->pid_path() +
                            "\n    binary: " + testing::kNginxBinary + "\n  haproxy:\n    socket: " +
                            haproxy_->socket_path() + "\n    backend: trino\n  gateway:\n    url: " + gateway_->url() +
                            "\n");
    balancer_.emplace(ChildProcess::spawn({NODEPULSE_BINARY, "balancer", "--config", (*dir_ / "balancer.yaml").string()},
                                          (*dir_ / "balancer.log").string()));
    ASSERT_TRUE(wait_until([&] { return metrics().find("nodepulse_balancer_frozen 0") != std::string::npos; }, 10s))
        << diagnostics();
  }

  void TearDown() override {
    if (balancer_) testing::stop_child(*balancer_, 3s);
  }

  std::string upstream_file() const { return (*nginx_dir_ / "upstream.conf").string(); }

  void write_heartbeat(const std::string& node, HealthState state, uint8_t weight) {
    Heartbeat heartbeat;
    heartbeat.node = {node, kCluster, "worker", "127.0.0.1", "test", port_[node]};
    heartbeat.verdict.state = state;
    heartbeat.verdict.weight = weight;
    if (state != HealthState::kHealthy) heartbeat.verdict.reasons = {"test: " + std::string(to_string(state))};
    heartbeat.seq = ++seq_;
    heartbeat.ts_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
    write_payload(node, to_json(heartbeat));
  }

  void write_payload(const std::string& node, const std::string& payload) {
    const std::string path = std::string("/nodepulse/e2e/nodes/") + node;
    auto rc = client_->set(path, payload);
    ASSERT_TRUE(rc.ok()) << rc.error().message;
    if (*rc == ZNONODE) rc = client_->create(path, payload, ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE);
    ASSERT_TRUE(rc.ok() && *rc == ZOK) << path;
  }

  // As the agent does: failing/<id> while failing, and the payload says so.
  void set_failing(const std::string& node, bool failing) {
    const std::string path = std::string("/nodepulse/e2e/failing/") + node;
    if (failing) {
      write_heartbeat(node, HealthState::kFailing, 0);
      ASSERT_EQ(client_->create(path, "", ZOO_PERSISTENT, ZOO_OPEN_ACL_UNSAFE).value(), ZOK);
    } else {
      ASSERT_EQ(client_->remove(path).value(), ZOK);
      write_heartbeat(node, HealthState::kHealthy, 100);
    }
  }

  std::string metrics() const {
    auto reply = testing::http_get(metrics_port_, "/metrics");
    return reply ? reply->body : "";
  }
  double metric(const std::string& series) const { return metric_value(metrics(), series).value_or(-1); }

  // HAProxy's view of one server: "DRAIN", "MAINT", or "ready/W".
  std::string haproxy_state(const std::string& node) const {
    auto stat = haproxy_->server_stat("trino", node);
    const std::string status = stat["status"];
    if (status == "DRAIN" || status == "MAINT") return status;
    return "ready/" + stat["weight"];
  }

  // Which backends answer through nginx, out of `requests` requests.
  std::map<std::string, int> nginx_hits(int requests = 9) const {
    std::map<std::string, int> hits;
    for (int i = 0; i < requests; ++i) {
      auto reply = testing::http_get(nginx_port_, "/q");
      ++hits[reply && reply->status == 200 ? reply->body : "error"];
    }
    return hits;
  }

  // The server's line in the upstream file, e.g. "server 127.0.0.1:4711 down;  # w2 failing".
  std::string nginx_line(const std::string& node) const {
    std::istringstream lines(testing::file_text(upstream_file()));
    std::string line;
    const std::string address = "127.0.0.1:" + std::to_string(port_.at(node)) + " ";
    while (std::getline(lines, line)) {
      if (line.find(address) != std::string::npos) return line;
    }
    return "";
  }

  // Drained in all three balancers: HAProxy, nginx (file and traffic), the gateway.
  bool out_everywhere(const std::string& node, const std::string& haproxy_status = "DRAIN") const {
    return haproxy_state(node) == haproxy_status && nginx_line(node).find(" down;") != std::string::npos &&
           gateway_->active(node) == false && nginx_hits().count(node) == 0;
  }
  // In rotation in all three. Traffic through nginx is checked too, except at weight 1 beside a
  // weight-100 server, which nginx's smooth round robin picks once per ~100 requests.
  bool in_everywhere(const std::string& node, const std::string& weight = "100") const {
    return haproxy_state(node) == "ready/" + weight &&
           nginx_line(node).find(" weight=" + weight + ";") != std::string::npos && gateway_->active(node) == true &&
           (weight == "1" || nginx_hits().count(node) == 1);
  }

  std::string diagnostics() const {
    std::string text = "---- balancer log\n" + testing::file_text(*dir_ / "balancer.log");
    text += "---- upstream file\n" + testing::file_text(upstream_file());
    for (const std::string& node : kNodes) text += "haproxy " + node + ": " + haproxy_state(node) + "\n";
    text += "---- nginx error log\n" + nginx_->error_log().substr(0, 3000);
    return text;
  }

  std::unique_ptr<ZooKeeperEnsemble> zookeeper_;
  std::unique_ptr<zk::ZkClient> client_;
  std::vector<std::unique_ptr<RecordingHttpServer>> backends_;
  std::map<std::string, uint16_t> port_;
  std::unique_ptr<Haproxy> haproxy_;
  std::unique_ptr<TempDir> nginx_dir_;
  uint16_t nginx_port_ = 0;
  std::unique_ptr<Nginx> nginx_;
  std::unique_ptr<GatewayStandin> gateway_;
  std::unique_ptr<TempDir> dir_;
  uint16_t metrics_port_ = 0;
  std::optional<ChildProcess> balancer_;
  uint64_t seq_ = 0;
};

TEST_F(BalancerDrivers, FailingNodeIsDrainedEverywhereAndComesBack) {
  for (const std::string& node : kNodes) {
    ASSERT_TRUE(wait_until([&] { return in_everywhere(node); }, 10s)) << node << "\n" << diagnostics();
  }
  EXPECT_EQ(metric("nodepulse_balancer_nodes{state=\"healthy\"}"), 3);

  const Stopwatch drain;
  set_failing("w2", true);
  ASSERT_TRUE(wait_until([&] { return out_everywhere("w2"); }, 10s)) << diagnostics();
  std::cout << "failing -> drained in HAProxy, nginx and the gateway: " << drain.ms() << " ms\n";
  EXPECT_TRUE(in_everywhere("w1")) << diagnostics();
  EXPECT_TRUE(in_everywhere("w3")) << diagnostics();
  EXPECT_EQ(metric("nodepulse_balancer_nodes{state=\"failing\"}"), 1);
  EXPECT_EQ(metric("nodepulse_balancer_servers_out"), 1);
  EXPECT_EQ(metric("nodepulse_balancer_drains_withheld"), 0);

  set_failing("w2", false);
  ASSERT_TRUE(wait_until([&] { return in_everywhere("w2"); }, 10s)) << diagnostics();
  EXPECT_EQ(metric("nodepulse_balancer_nodes{state=\"healthy\"}"), 3);
  EXPECT_EQ(gateway_->bad_requests(), 0u);
  EXPECT_EQ(metric("nodepulse_balancer_errors_total{driver=\"nginx\"}"), 0);
  EXPECT_EQ(metric("nodepulse_balancer_errors_total{driver=\"haproxy\"}"), 0);
  EXPECT_EQ(metric("nodepulse_balancer_errors_total{driver=\"gateway\"}"), 0);
  EXPECT_GE(metric("nodepulse_balancer_apply_seconds_count{driver=\"nginx\"}"), 3);

  // A degraded node stays in with its reduced weight.
  write_heartbeat("w3", HealthState::kDegraded, 40);
  EXPECT_TRUE(wait_until([&] { return in_everywhere("w3", "40"); }, 10s)) << diagnostics();
}

TEST_F(BalancerDrivers, AllFailingDrainsAtMostTheFraction) {
  ASSERT_TRUE(wait_until([&] { return in_everywhere("w1") && in_everywhere("w2") && in_everywhere("w3"); }, 10s))
      << diagnostics();
  for (const char* node : {"w3", "w2", "w1"}) set_failing(node, true);
  // floor(3 x 0.34) = 1 out: the first by node id; the others stay with weight 1.
  ASSERT_TRUE(wait_until([&] { return out_everywhere("w1"); }, 10s)) << diagnostics();
  ASSERT_TRUE(wait_until([&] { return metric("nodepulse_balancer_drains_withheld") == 2; }, 5s)) << diagnostics();
  // Settled: nothing else goes out, however long it stays so.
  std::this_thread::sleep_for(500ms);
  for (const char* node : {"w2", "w3"}) {
    EXPECT_TRUE(in_everywhere(node, "1")) << node << "\n" << diagnostics();
  }
  const std::map<std::string, int> hits = nginx_hits();
  EXPECT_EQ(hits.count("w1"), 0u);
  EXPECT_GE(hits.count("w2") + hits.count("w3"), 2u) << "the withheld servers still take the traffic";
  EXPECT_EQ(metric("nodepulse_balancer_servers_out"), 1);
  EXPECT_GE(metric("nodepulse_balancer_drains_withheld_total"), 2);
  EXPECT_NE(testing::file_text(*dir_ / "balancer.log").find("stays in rotation with weight 1"), std::string::npos);

  // One recovers: the budget is still one, still taken by w1.
  set_failing("w2", false);
  ASSERT_TRUE(wait_until([&] { return in_everywhere("w2"); }, 10s)) << diagnostics();
  EXPECT_TRUE(out_everywhere("w1")) << diagnostics();
  EXPECT_TRUE(in_everywhere("w3", "1")) << diagnostics();
}

TEST_F(BalancerDrivers, MalformedPayloadIsUnknownAndVanishedNodeIsDownAfterGrace) {
  ASSERT_TRUE(wait_until([&] { return in_everywhere("w3"); }, 10s)) << diagnostics();
  write_payload("w3", R"({"node_id":"w3","state":"healthy","weight":"lots"})");
  ASSERT_TRUE(wait_until([&] { return metric("nodepulse_balancer_nodes{state=\"unknown\"}") == 1; }, 10s))
      << diagnostics();
  EXPECT_GE(metric("nodepulse_balancer_invalid_payloads_total{reason=\"wrong_type\"}"), 1);
  ASSERT_TRUE(wait_until([&] { return out_everywhere("w3"); }, 10s)) << "unknown is drained\n" << diagnostics();
  write_payload("w3", "\x01not json at all");
  ASSERT_TRUE(wait_until([&] { return metric("nodepulse_balancer_invalid_payloads_total{reason=\"bad_json\"}") >= 1; },
                         10s))
      << diagnostics();
  EXPECT_NE(testing::file_text(*dir_ / "balancer.log").find("node w3: invalid heartbeat"), std::string::npos);
  write_heartbeat("w3", HealthState::kHealthy, 100);
  ASSERT_TRUE(wait_until([&] { return in_everywhere("w3"); }, 10s)) << diagnostics();

  // Delete w1's znode: it keeps its state through the grace, then it is down (HAProxy: MAINT).
  const Stopwatch vanished;
  ASSERT_EQ(client_->remove("/nodepulse/e2e/nodes/w1").value(), ZOK);
  std::this_thread::sleep_for(std::chrono::milliseconds(kDownAfterMs / 2));
  EXPECT_EQ(haproxy_state("w1"), "ready/100") << "still within the grace";
  EXPECT_EQ(metric("nodepulse_balancer_nodes{state=\"down\"}"), 0);
  ASSERT_TRUE(wait_until([&] { return out_everywhere("w1", "MAINT"); }, 10s)) << diagnostics();
  EXPECT_GE(vanished.ms(), kDownAfterMs);
  EXPECT_EQ(metric("nodepulse_balancer_nodes{state=\"down\"}"), 1);
  std::cout << "znode deleted -> down everywhere after " << vanished.ms() << " ms (grace " << kDownAfterMs << " ms)\n";

  write_heartbeat("w1", HealthState::kHealthy, 100);
  EXPECT_TRUE(wait_until([&] { return in_everywhere("w1"); }, 10s)) << diagnostics();
}

TEST_F(BalancerDrivers, ZooKeeperDownFreezesTheLastState) {
  set_failing("w2", true);
  ASSERT_TRUE(wait_until([&] { return out_everywhere("w2") && in_everywhere("w1") && in_everywhere("w3"); }, 10s))
      << diagnostics();
  const std::string upstream_before = testing::file_text(upstream_file());
  const std::size_t gateway_calls_before = gateway_->call_count();

  zookeeper_->kill(0);
  ASSERT_TRUE(wait_until([&] { return metric("nodepulse_balancer_frozen") == 1; }, 10s)) << diagnostics();
  // Longer than the grace: a balancer that took the silence for vanished znodes would act now.
  std::this_thread::sleep_for(std::chrono::milliseconds(kDownAfterMs + 1000));
  EXPECT_EQ(testing::file_text(upstream_file()), upstream_before);
  EXPECT_EQ(gateway_->call_count(), gateway_calls_before);
  EXPECT_EQ(haproxy_state("w1"), "ready/100");
  EXPECT_EQ(haproxy_state("w2"), "DRAIN");
  EXPECT_EQ(haproxy_state("w3"), "ready/100");
  EXPECT_EQ(metric("nodepulse_balancer_nodes{state=\"down\"}"), 0);
  EXPECT_NE(testing::file_text(*dir_ / "balancer.log").find("holding the last applied state"), std::string::npos);

  // Back: it reads everything again and acts on what changed meanwhile.
  zookeeper_->start(0);
  ASSERT_TRUE(zookeeper_->wait_ready(30s)) << zookeeper_->logs();
  ASSERT_TRUE(wait_until([&] { return metric("nodepulse_balancer_frozen") == 0; }, 15s)) << diagnostics();
  ASSERT_TRUE(client_->wait_connected(15s).ok());
  set_failing("w2", false);
  EXPECT_TRUE(wait_until([&] { return in_everywhere("w2"); }, 10s)) << diagnostics();
}

}  // namespace
}  // namespace nodepulse
