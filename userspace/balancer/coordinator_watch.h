// `nodepulse balancer` with trino.coordinator_url: asks the coordinator for its view every
// interval, on a thread of its own (each request bounded by trino.timeout_ms), joins the answer
// with the members of the engine's last decision, and exports the result (TrinoViewMetrics),
// logging each node that starts or stops disagreeing. It never touches ZooKeeper and never
// blocks the engine: update_members() only stores the members and wakes it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "balancer/balancer_metrics.h"
#include "balancer/membership.h"
#include "balancer/trino_view.h"
#include "config/config.h"

namespace nodepulse {

// The Trino view of the balancer's members: role, state, drain state and addresses (the
// heartbeat's host:http_port and balancer.servers[].address).
std::vector<WatchedNode> watched_nodes(const std::vector<Member>& members,
                                       const std::vector<BalancerServerSpec>& servers);

struct CoordinatorWatchOptions {
  std::string url;                                  // for logs
  std::function<Result<CoordinatorNodes>()> fetch;  // asks the coordinator (read_coordinator)
  std::vector<BalancerServerSpec> servers;          // balancer.servers
  AddressResolver resolve;                          // host names to IPs; called on the watch's thread only
  std::chrono::milliseconds interval{5000};
};

class CoordinatorWatch {
 public:
  // Starts the thread; the first poll is at once.
  CoordinatorWatch(CoordinatorWatchOptions options, TrinoViewMetrics& metrics);
  CoordinatorWatch(const CoordinatorWatch&) = delete;
  CoordinatorWatch& operator=(const CoordinatorWatch&) = delete;
  // Stops and joins: waits for a request under way (at most its timeout).
  ~CoordinatorWatch();

  // Thread-safe; returns at once.
  void update_members(const std::vector<Member>& members);

 private:
  void run();
  void poll();
  void publish();

  CoordinatorWatchOptions options_;
  TrinoViewMetrics& metrics_;

  std::mutex mutex_;  // guards stopping_ and fresh_members_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::optional<std::vector<Member>> fresh_members_;

  // The watch thread's own:
  std::vector<Member> members_;
  std::optional<CoordinatorNodes> answer_;  // the last poll's; nullopt when it failed
  std::optional<bool> answered_logged_;
  std::map<std::string, std::string> logged_disagreements_;  // node id or uri -> why

  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace nodepulse
