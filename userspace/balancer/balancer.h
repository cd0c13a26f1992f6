// The balancer engine: keeps a Membership in step with ZooKeeper through watches (children of
// nodes/ and failing/, data of every nodes/<id>; no polling), turns it into a Decision with the
// safety policy, and hands every changed decision to the drivers.
//
// One thread (run()) does all ZooKeeper reads and driver calls; watches, session events and
// payload answers only mark what changed and wake it. It sleeps until something changes, a grace
// period ends or a failed driver is due for a retry.
//
// Payloads are read without waiting (pipelined on the one session) and taken in as they come
// back; only the two children lists are read in line. So a failing/ znode is acted on right after
// failing/ is listed — it alone makes its node failing — however many heartbeats are being read.
//
// While ZooKeeper is unreachable (disconnected, or not yet read since the session came back) the
// balancer is frozen: it decides nothing and the load balancers keep the last applied state —
// never drain everything because the coordination service is down. On reconnection it re-reads
// everything before deciding again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "balancer/balancer_metrics.h"
#include "balancer/cluster_paths.h"
#include "balancer/driver.h"
#include "balancer/membership.h"
#include "balancer/policy.h"
#include "zk/zk_client.h"

namespace nodepulse {

struct BalancerOptions {
  zk::ClientOptions zookeeper;
  ClusterPaths paths;
  int64_t down_after_ms = 3000;
  std::size_t max_payload_bytes = 65536;
  PolicyOptions policy;
  std::chrono::milliseconds request_timeout{1000};  // per children-list read (a payload read fails on connection loss)
  std::chrono::milliseconds retry_min{250};         // a failed driver is retried after this, doubling ...
  std::chrono::milliseconds retry_max{10000};       // ... up to this
  // Given every decision's members, on the engine's thread (CoordinatorWatch::update_members);
  // must return at once. Empty = nobody listens.
  std::function<void(const std::vector<Member>& members)> on_members;
  // How a payload read is sent; empty = ZkClient::get_async. Tests hold reads back with it.
  std::function<void(zk::ZkClient& client, const std::string& path, zk::Watcher watcher, zk::ZkClient::GetDone done)>
      send_payload_read;
};

class Balancer {
 public:
  Balancer(BalancerOptions options, std::vector<std::unique_ptr<Driver>> drivers, BalancerMetrics& metrics);
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;
  ~Balancer();

  // Runs until stop(); returns at once after it. Call from one thread.
  void run();
  // Thread-safe; may be called before or during run().
  void stop();

 private:
  using Clock = std::chrono::steady_clock;

  struct PayloadRead {
    std::string node_id;
    uint64_t generation = 0;  // of the reads: answers from before a resync are dropped
    Result<std::optional<zk::Node>> node = Error{"not read"};
  };

  struct Pending {
    bool resync = false;  // read everything (first time, or after the session changed)
    bool nodes_changed = false;
    bool failing_changed = false;
    std::set<std::string> data_changed;  // node ids
    std::vector<PayloadRead> payloads;   // answers that came back
    bool wake = false;                   // something happened (a session event)
    bool stopping = false;

    bool changes() const {
      return resync || nodes_changed || failing_changed || !data_changed.empty() || !payloads.empty();
    }
    bool any() const { return changes() || wake || stopping; }
  };

  struct DriverState {
    std::unique_ptr<Driver> driver;
    std::optional<Decision> applied;  // the decision it last applied successfully
    std::optional<Clock::time_point> retry_at;
    std::chrono::milliseconds backoff{0};
    Clock::time_point last_error_log{};
  };

  int64_t now_ms() const;
  void ensure_client();
  // The watchers mark and wake; they run on the ZooKeeper client's thread.
  zk::Watcher mark_nodes();
  zk::Watcher mark_failing();
  zk::Watcher mark_data(const std::string& node_id);
  bool arm(const std::string& path);  // true if a watch is to be set on `path` (none armed yet)
  Result<void> read_changes(Pending& pending);
  Result<std::vector<std::string>> read_children(const std::string& path, bool nodes);
  void send_payload_read(const std::string& node_id);
  Result<void> take_payload(PayloadRead& read);
  void decide_and_apply();
  void log_changes(const std::vector<Member>& members, const Decision& decision);
  std::optional<Clock::time_point> next_wakeup();

  BalancerOptions options_;
  std::vector<DriverState> drivers_;
  BalancerMetrics& metrics_;
  Membership membership_;
  const Clock::time_point started_ = Clock::now();

  std::mutex mutex_;  // guards pending_ and armed_
  std::condition_variable changed_;
  Pending pending_;
  std::set<std::string> armed_;  // paths with a watch of the current client in place

  std::unique_ptr<zk::ZkClient> client_;
  Clock::time_point next_open_{};
  // Since the last resync (a new generation of reads):
  uint64_t generation_ = 0;
  bool listed_ = false;           // both children lists have been read
  std::set<std::string> unread_;  // listed nodes without a payload yet: no decision until they have one
  bool synced_ = false;           // and every node of the resync's listing has been read
  bool frozen_logged_ = false;
  std::map<std::string, MemberState> logged_states_;
  std::map<std::string, std::string> logged_invalid_;
  std::optional<Decision> last_decision_;
  std::optional<uint64_t> decided_version_;  // membership version of the last decision
  std::string last_sync_error_;
  Clock::time_point last_sync_error_log_{};
};

}  // namespace nodepulse
