// `nodepulse balancer`: one per balancer host, unprivileged. Watches the cluster's heartbeats in
// ZooKeeper and drives the local nginx / HAProxy / Trino Gateway (balancer.*), serving its own
// /metrics on balancer.listen; with trino.coordinator_url, also the coordinator's view beside
// nodepulse's (CoordinatorWatch). Runs until SIGINT or SIGTERM, then exits 0.
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <thread>

#include "balancer/balancer.h"
#include "balancer/coordinator.h"
#include "balancer/coordinator_watch.h"
#include "balancer/gateway_driver.h"
#include "balancer/haproxy_driver.h"
#include "balancer/nginx_driver.h"
#include "cli/commands.h"
#include "common/event_loop.h"
#include "http/http_server.h"
#include "zookeeper/zk_sink.h"

namespace nodepulse {
namespace {

std::vector<std::unique_ptr<Driver>> make_drivers(const Config::Balancer& config) {
  std::vector<std::unique_ptr<Driver>> drivers;
  // HAProxy first: it acts at once, while nginx waits for `nginx -t` and a reload.
  if (!config.haproxy.socket.empty()) {
    drivers.push_back(std::make_unique<HaproxyDriver>(HaproxyOptions{config.haproxy.socket, config.haproxy.backend}));
  }
  if (!config.nginx.upstream_file.empty()) {
    NginxOptions options;
    options.upstream_file = config.nginx.upstream_file;
    options.upstream = config.nginx.upstream;
    options.conf = config.nginx.conf;
    options.pid_file = config.nginx.pid_file;
    options.binary = config.nginx.binary;
    drivers.push_back(std::make_unique<NginxDriver>(std::move(options)));
  }
  if (!config.gateway.url.empty()) {
    drivers.push_back(std::make_unique<GatewayDriver>(
        GatewayOptions{config.gateway.url, std::chrono::milliseconds(config.gateway.timeout_ms)}));
  }
  return drivers;
}

// How often the coordinator is asked for its view; each request is bounded by trino.timeout_ms.
constexpr std::chrono::seconds kCoordinatorPollInterval{5};

}  // namespace

int run_balancer(const Config& config) {
  if (config.zookeeper.connect.empty()) {
    spdlog::critical("cannot start: zookeeper.connect is empty; the balancer reads the heartbeats from ZooKeeper");
    return kExitConfigError;
  }
  BalancerOptions options;
  options.zookeeper.connect = config.zookeeper.connect;
  options.zookeeper.session_timeout = std::chrono::milliseconds(config.zookeeper.session_timeout_ms);
  if (!config.zookeeper.auth_file.empty()) {
    Result<std::string> digest = read_digest_credentials(config.zookeeper.auth_file);
    if (!digest.ok()) {
      spdlog::critical("cannot start: {}", digest.error().message);
      return kExitConfigError;
    }
    options.zookeeper.digest = std::move(digest).value();
  }
  options.paths = cluster_paths(config.zookeeper.root, config.cluster);
  options.down_after_ms = config.balancer.down_after_ms;
  options.max_payload_bytes = config.balancer.max_payload_bytes;
  options.policy.max_unhealthy_fraction = config.balancer.max_unhealthy_fraction;
  options.policy.servers = config.balancer.servers;
  std::vector<std::unique_ptr<Driver>> drivers = make_drivers(config.balancer);
  if (drivers.empty()) {
    spdlog::warn("no balancer.nginx.upstream_file, balancer.haproxy.socket or balancer.gateway.url: "
                 "watching and reporting only");
  }

  auto loop = EventLoop::create_stopped_by_termination_signals();  // before any thread exists
  if (!loop) {
    spdlog::critical("cannot start: {}", loop.error().message);
    return kExitFailure;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  BalancerMetrics metrics(*registry);
  std::optional<TrinoViewMetrics> trino_metrics;
  std::shared_ptr<trino::Client> coordinator;
  if (!config.trino.coordinator_url.empty()) {
    Result<std::unique_ptr<trino::Client>> client = coordinator_client(config.trino);
    if (!client.ok()) {
      spdlog::critical("cannot start: {} (trino.coordinator_url)", client.error().message);
      return kExitConfigError;
    }
    coordinator = std::move(client).value();
    trino_metrics.emplace(*registry);
  }
  auto http = HttpServer::start(config.balancer.listen,
                                {{"/metrics", [registry] {
                                    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                                        prometheus::TextSerializer().Serialize(registry->Collect())};
                                  }}});
  if (!http) {
    spdlog::critical("cannot start: {} (balancer.listen)", http.error().message);
    return kExitFailure;
  }
  spdlog::info("nodepulse {} balancer: cluster {} ({}), {} driver(s), /metrics on {} (port {})", version_string(),
               config.cluster, options.paths.nodes, drivers.size(), config.balancer.listen, (*http)->port());

  std::optional<CoordinatorWatch> watch;
  if (coordinator) {
    watch.emplace(CoordinatorWatchOptions{.url = config.trino.coordinator_url,
                                          .fetch = [coordinator] { return read_coordinator(*coordinator); },
                                          .servers = config.balancer.servers,
                                          .resolve = system_resolver(),
                                          .interval = kCoordinatorPollInterval},
                  *trino_metrics);
    options.on_members = [&watch](const std::vector<Member>& members) { watch->update_members(members); };
    spdlog::info("balancer: asking the trino coordinator {} for its view every {} s", config.trino.coordinator_url,
                 kCoordinatorPollInterval.count());
  }
  Balancer balancer(std::move(options), std::move(drivers), metrics);
  std::thread engine([&balancer] { balancer.run(); });
  Result<void> ran = (*loop)->run();
  balancer.stop();
  engine.join();
  if (!ran) {
    spdlog::critical("event loop failed: {}", ran.error().message);
    return kExitFailure;
  }
  spdlog::info("stopping: the load balancers keep the last applied state");
  return kExitOk;
}

}  // namespace nodepulse
