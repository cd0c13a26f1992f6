// The cluster-wide drain budget in ZooKeeper, so that a correlated fault (a bad switch, a bad
// deploy, a kernel-wide stall) never takes more than max_unhealthy_fraction of the workers out of
// Trino's scheduling at once.
//
// Before draining, a node takes a slot: an ephemeral sequential znode
// <root>/<cluster>/drain/<node-id>-<sequence>. Slots rank by sequence; the first
// max_out_of(workers, fraction) of them hold, where workers = the live znodes under nodes/ whose
// heartbeat does not say role "coordinator". A node past the limit keeps its place in the queue
// and moves up as earlier ones leave. Ephemeral: a node that dies or loses its session gives its
// slot back by itself. Every node ranks the same list the same way, so two nodes that ask at the
// same moment can never both take the last slot.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "zk/zk_session.h"

namespace nodepulse {

struct DrainBudgetOptions {
  zk::ClientOptions client;    // the agent's zookeeper.* settings; a session of its own
  std::string root = "/nodepulse";
  std::string cluster;
  std::string node_id;
  double max_unhealthy_fraction = 0.34;
  std::chrono::milliseconds timeout{1000};  // per claim() or release()
};

struct DrainStanding {
  bool held = false;
  std::size_t position = 0;  // 0-based place among the slots
  std::size_t allowed = 0;   // how many slots hold now
  std::size_t workers = 0;   // live workers counted
};

class DrainBudget {
 public:
  static Result<std::unique_ptr<DrainBudget>> open(DrainBudgetOptions options);

  // Takes (or keeps) this node's place and says whether it holds a slot. An error when
  // ZooKeeper cannot answer in time: the caller must then not drain.
  Result<DrainStanding> claim();
  // Takes this node's place again if it went (a new session): for a node already drained, whose
  // standing no longer decides anything, so the workers are not counted.
  Result<void> keep_place();
  // Gives the place back (no-op without one). An error when ZooKeeper cannot answer: the
  // ephemeral znode then goes with the session.
  Result<void> release();
  bool has_place() const { return !place_.empty(); }
  // How long this node has been without a usable session; zero while connected.
  std::chrono::milliseconds disconnected_for() const { return session_->disconnected_for(); }

 private:
  explicit DrainBudget(DrainBudgetOptions options);
  // This node's place under drain/ (taken if it has none), and every place, in rank order.
  Result<std::vector<std::string>> take_place(std::chrono::steady_clock::time_point deadline);
  Result<std::size_t> count_workers(std::chrono::steady_clock::time_point deadline);
  const ACL_vector& acl(bool parent) const;

  DrainBudgetOptions options_;
  std::unique_ptr<zk::SessionKeeper> session_;
  std::string drain_path_;  // <root>/<cluster>/drain
  std::string nodes_path_;  // <root>/<cluster>/nodes
  std::string place_;       // our znode's name under drain/; "" = none
  int64_t place_session_ = 0;
  // The session in which drain/ was seen to exist: a claim then costs one quorum write, not two
  // (a create of an existing node is a write too).
  int64_t parent_session_ = 0;
};

}  // namespace nodepulse
