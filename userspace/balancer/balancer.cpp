#include "balancer/balancer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "heartbeat/heartbeat.h"
#include "heartbeat/payload.h"

namespace nodepulse {
namespace {

constexpr std::chrono::milliseconds kReopenDelay{1000};  // after a session expired or could not start
constexpr std::chrono::milliseconds kResyncRetry{250};   // after a read failed while connected
constexpr std::chrono::seconds kErrorLogPeriod{60};      // a driver failing on and on: one line a minute
constexpr std::string_view kNodeIdMismatch = "node_id_mismatch";

}  // namespace

Balancer::Balancer(BalancerOptions options, std::vector<std::unique_ptr<Driver>> drivers, BalancerMetrics& metrics)
    : options_(std::move(options)), metrics_(metrics), membership_(options_.down_after_ms) {
  pending_.resync = true;
  for (auto& driver : drivers) {
    DriverState state;
    metrics_.add_driver(driver->name());
    state.driver = std::move(driver);
    drivers_.push_back(std::move(state));
  }
}

Balancer::~Balancer() {
  stop();
  client_.reset();  // joins the ZooKeeper client's threads before the watchers' target goes
}

void Balancer::stop() {
  {
    std::lock_guard lock(mutex_);
    pending_.stopping = true;
  }
  changed_.notify_all();
}

int64_t Balancer::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count();
}

zk::Watcher Balancer::mark_nodes() {
  return [this](int, const std::string& path) {
    {
      std::lock_guard lock(mutex_);
      armed_.erase(path);
      pending_.nodes_changed = true;
    }
    changed_.notify_all();
  };
}

zk::Watcher Balancer::mark_failing() {
  return [this](int, const std::string& path) {
    {
      std::lock_guard lock(mutex_);
      armed_.erase(path);
      pending_.failing_changed = true;
    }
    changed_.notify_all();
  };
}

zk::Watcher Balancer::mark_data(const std::string& node_id) {
  return [this, node_id](int, const std::string& path) {
    {
      std::lock_guard lock(mutex_);
      armed_.erase(path);
      pending_.data_changed.insert(node_id);
    }
    changed_.notify_all();
  };
}

bool Balancer::arm(const std::string& path) {
  std::lock_guard lock(mutex_);
  return armed_.insert(path).second;
}

void Balancer::ensure_client() {
  if (client_ && !client_->expired()) return;
  if (Clock::now() < next_open_) return;
  if (client_) spdlog::warn("balancer: zookeeper session expired; opening a new one");
  client_.reset();
  {
    std::lock_guard lock(mutex_);
    armed_.clear();  // a new session has no watches
    pending_.resync = true;
  }
  synced_ = false;
  next_open_ = Clock::now() + kReopenDelay;
  Result<std::unique_ptr<zk::ZkClient>> client = zk::ZkClient::open(options_.zookeeper);
  if (!client.ok()) {
    spdlog::error("balancer: {}", client.error().message);
    return;
  }
  client_ = std::move(client).value();
  client_->set_session_listener([this] {
    {
      std::lock_guard lock(mutex_);
      // Connected again (or lost): read everything before the next decision.
      pending_.resync = true;
      pending_.wake = true;
    }
    changed_.notify_all();
  });
}

Result<std::vector<std::string>> Balancer::read_children(const std::string& path, bool nodes) {
  const bool watch = arm(path);
  zk::Watcher watcher = watch ? (nodes ? mark_nodes() : mark_failing()) : zk::Watcher{};
  auto children = client_->children(path, std::move(watcher), options_.request_timeout);
  if (children.ok() && children->has_value()) return std::move(**children);
  {
    // Failed, or no such parent: children() armed nothing.
    std::lock_guard lock(mutex_);
    armed_.erase(path);
  }
  if (!children.ok()) return children.error();
  // No such parent yet (no agent has written): get told when it appears.
  const bool watch_exists = arm(path);
  auto exists = client_->exists(path, watch_exists ? (nodes ? mark_nodes() : mark_failing()) : zk::Watcher{},
                                options_.request_timeout);
  if (!exists.ok()) {
    std::lock_guard lock(mutex_);
    armed_.erase(path);
    return exists.error();
  }
  if (exists->has_value()) {  // created in between: read it again next round
    std::lock_guard lock(mutex_);
    if (nodes) pending_.nodes_changed = true;
    else pending_.failing_changed = true;
  }
  return std::vector<std::string>{};
}

void Balancer::send_payload_read(const std::string& node_id) {
  const std::string path = options_.paths.node(node_id);
  const bool watch = arm(path);
  zk::ZkClient::GetDone done = [this, node_id, path, watch, generation = generation_](
                                   Result<std::optional<zk::Node>> node) {
    {
      std::lock_guard lock(mutex_);
      if (watch && !(node.ok() && node->has_value())) armed_.erase(path);  // a failed or missing get arms nothing
      pending_.payloads.push_back({node_id, generation, std::move(node)});
    }
    changed_.notify_all();
  };
  zk::Watcher watcher = watch ? mark_data(node_id) : zk::Watcher{};
  if (options_.send_payload_read) {
    options_.send_payload_read(*client_, path, std::move(watcher), std::move(done));
  } else {
    client_->get_async(path, std::move(watcher), std::move(done));
  }
}

Result<void> Balancer::take_payload(PayloadRead& read) {
  if (read.generation != generation_) return ok();  // sent before the last resync, which reads it again
  const std::string& node_id = read.node_id;
  if (!read.node.ok()) return read.node.error();
  unread_.erase(node_id);
  if (!read.node->has_value()) return ok();  // deleted: the children watch says so

  Result<NodeReport> report = parse_node_payload((*read.node)->data, options_.max_payload_bytes);
  std::string invalid;
  std::string_view reason;
  if (!report.ok()) {
    invalid = report.error().message;
    reason = payload_error_reason(report.error());
  } else if (report->node_id != node_id) {
    invalid = std::string(kNodeIdMismatch) + ": the payload says node_id " + printable_excerpt(report->node_id, 64);
    reason = kNodeIdMismatch;
  }
  if (invalid.empty()) {
    membership_.set_report(node_id, std::move(report).value());
    logged_invalid_.erase(node_id);
    return ok();
  }
  metrics_.count_invalid_payload(reason);
  if (logged_invalid_[node_id] != reason) {  // once per node and reason, not per heartbeat
    spdlog::warn("balancer: node {}: invalid heartbeat ({}); the node counts as unknown", node_id, invalid);
    logged_invalid_[node_id] = std::string(reason);
  }
  membership_.set_invalid(node_id, std::move(invalid));
  return ok();
}

// The children lists first, in line: failing/ alone is enough to drain a node. The payloads are
// sent for and come back in a later pass; a node listed without a watched payload (new, or
// re-created) holds decisions until its payload is in (unread_), so it does not count as unknown
// in between.
Result<void> Balancer::read_changes(Pending& pending) {
  const int64_t now = now_ms();
  std::set<std::string> to_read = std::move(pending.data_changed);
  if (pending.resync || pending.nodes_changed) {
    Result<std::vector<std::string>> children = read_children(options_.paths.nodes, true);
    if (!children.ok()) return children.error();
    for (const std::string& node_id : *children) {
      // A resync reads every node again; otherwise those whose payload is not watched: new ones,
      // and any re-created after its znode went (the watch went with it).
      bool watched = false;
      {
        std::lock_guard lock(mutex_);
        watched = armed_.contains(options_.paths.node(node_id));
      }
      if (pending.resync || !watched) {
        to_read.insert(node_id);
        unread_.insert(node_id);
      }
    }
    membership_.set_present(*children, now);
  }
  if (pending.resync || pending.failing_changed) {
    Result<std::vector<std::string>> failing = read_children(options_.paths.failing, false);
    if (!failing.ok()) return failing.error();
    membership_.set_failing(*failing, now);
  }
  if (pending.resync) {
    for (const BalancerServerSpec& server : options_.policy.servers) membership_.expect(server.node_id, now);
    listed_ = true;
  }
  for (const std::string& node_id : to_read) send_payload_read(node_id);
  for (PayloadRead& read : pending.payloads) {
    if (Result<void> taken = take_payload(read); !taken.ok()) return taken;
  }
  return ok();
}

void Balancer::log_changes(const std::vector<Member>& members, const Decision& decision) {
  for (const Member& member : members) {
    auto [it, inserted] = logged_states_.emplace(member.node_id, member.state);
    if (!inserted && it->second == member.state) continue;
    const std::string reasons = join_reasons(member.reasons);
    spdlog::info("balancer: node {}: {}{}{}", member.node_id, to_string(member.state), reasons.empty() ? "" : ": ",
                 reasons);
    it->second = member.state;
  }
  std::map<std::string, const ServerTarget*> before;
  if (last_decision_) {
    for (const ServerTarget& server : last_decision_->servers) before[server.node_id] = &server;
  }
  std::size_t newly_withheld = 0;
  for (const ServerTarget& server : decision.servers) {
    auto it = before.find(server.node_id);
    const ServerTarget* old = it == before.end() ? nullptr : it->second;
    if (old && old->action == server.action && old->weight == server.weight && old->withheld == server.withheld) {
      continue;
    }
    if (server.withheld) {
      if (!old || !old->withheld) ++newly_withheld;
      spdlog::warn("balancer: {} is {} but stays in rotation with weight {}: {} of {} servers are out already, the "
                   "most balancer.max_unhealthy_fraction ({}) allows",
                   server.name, to_string(server.state), server.weight, decision.out, decision.servers.size(),
                   options_.policy.max_unhealthy_fraction);
    } else {
      spdlog::info("balancer: {} ({}) -> {}{}", server.name, server.address.empty() ? "no address" : server.address,
                   to_string(server.action),
                   server.action == ServerAction::kReady ? " weight " + std::to_string(server.weight)
                                                         : " (" + server.reason + ")");
    }
  }
  metrics_.set_withheld(decision.withheld, newly_withheld);
}

void Balancer::decide_and_apply() {
  const std::vector<Member> members = membership_.members(now_ms());
  metrics_.set_nodes(members);
  if (options_.on_members) options_.on_members(members);
  Decision decision = decide(members, options_.policy);
  metrics_.set_servers_out(decision.out);
  if (!last_decision_ || *last_decision_ != decision) {
    log_changes(members, decision);
    last_decision_ = decision;
  }
  for (DriverState& state : drivers_) {
    const bool changed = !state.applied || *state.applied != decision;
    const bool retry_due = state.retry_at && Clock::now() >= *state.retry_at;
    if (!changed) continue;
    if (state.retry_at && !retry_due) continue;
    const auto started = Clock::now();
    Result<void> applied = state.driver->apply(decision);
    metrics_.observe_apply(state.driver->name(), std::chrono::duration<double>(Clock::now() - started).count(),
                           applied.ok());
    if (applied.ok()) {
      if (state.retry_at) spdlog::info("balancer: {}: applied again", state.driver->name());
      state.applied = decision;
      state.retry_at.reset();
      state.backoff = std::chrono::milliseconds(0);
      continue;
    }
    state.applied.reset();
    state.backoff = std::clamp(state.backoff * 2, options_.retry_min, options_.retry_max);
    state.retry_at = Clock::now() + state.backoff;
    if (Clock::now() - state.last_error_log >= kErrorLogPeriod) {
      state.last_error_log = Clock::now();
      spdlog::error("balancer: {}: {} (retrying; further errors this minute are only counted)", state.driver->name(),
                    applied.error().message);
    }
  }
}

std::optional<Balancer::Clock::time_point> Balancer::next_wakeup() {
  std::optional<Clock::time_point> next;
  const auto consider = [&next](Clock::time_point at) {
    if (!next || at < *next) next = at;
  };
  if (const auto change = membership_.next_change_ms(now_ms())) {
    consider(started_ + std::chrono::milliseconds(*change));
  }
  // A retry waits for the next decision while none can be made (frozen, or a new node's first
  // payload on its way): waking for it then would only spin.
  for (const DriverState& state : drivers_) {
    if (state.retry_at && synced_ && unread_.empty()) consider(*state.retry_at);
  }
  if (!client_ || client_->expired()) consider(next_open_);
  return next;
}

void Balancer::run() {
  for (;;) {
    Pending pending;
    {
      std::unique_lock lock(mutex_);
      const auto next = next_wakeup();
      const auto ready = [this] { return pending_.any(); };
      if (next) {
        changed_.wait_until(lock, *next, ready);
      } else {
        changed_.wait(lock, ready);
      }
      if (pending_.stopping) return;
      pending = std::move(pending_);
      pending_ = Pending{};
    }
    ensure_client();
    {
      std::lock_guard lock(mutex_);
      pending.resync = pending.resync || pending_.resync;  // a new client asks for it
      pending_.resync = false;
    }
    const bool connected = client_ && client_->connected();
    bool failed = false;
    if (!connected) {
      listed_ = false;
      synced_ = false;
    } else if (pending.resync || listed_) {
      if (pending.resync) {
        ++generation_;
        listed_ = false;
        synced_ = false;
        unread_.clear();
      }
      Result<void> read = read_changes(pending);
      if (read.ok()) {
        last_sync_error_.clear();
        if (!synced_ && listed_ && unread_.empty()) {
          if (frozen_logged_) spdlog::info("balancer: zookeeper readable again; deciding again");
          synced_ = true;
          frozen_logged_ = false;
        }
      } else {
        failed = true;
        listed_ = false;
        synced_ = false;
        // Retried every kResyncRetry: say it once a minute, or when the error changes.
        if (read.error().message != last_sync_error_ || Clock::now() - last_sync_error_log_ >= kErrorLogPeriod) {
          spdlog::warn("balancer: reading the cluster from zookeeper failed: {}; holding the last applied state",
                       read.error().message);
          last_sync_error_ = read.error().message;
          last_sync_error_log_ = Clock::now();
        }
      }
    }
    if (!synced_) {
      metrics_.set_frozen(true);
      if (!frozen_logged_ && last_decision_ && (failed || !connected)) {
        spdlog::warn("balancer: zookeeper unreachable ({}); holding the last applied state",
                     client_ ? client_->state_name() : "no session");
        frozen_logged_ = true;
      }
      if (connected && !listed_) {
        // Connected but not read (a read failed): read everything again shortly, rather than
        // wait for an event that may never come.
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, kResyncRetry, [this] { return pending_.stopping; });
        pending_.resync = true;
      }
      continue;
    }
    metrics_.set_frozen(false);
    // Decide again when the membership changed, when time may have changed it (a grace period
    // ended: woken by the timer), or when a failed driver is due for its retry.
    if (!unread_.empty()) continue;  // a new node's first payload is on its way
    const bool timer = !pending.changes() && !pending.wake;
    const bool retry_due = std::ranges::any_of(
        drivers_, [](const DriverState& state) { return state.retry_at && Clock::now() >= *state.retry_at; });
    if (decided_version_ != membership_.version() || timer || retry_due) {
      decided_version_ = membership_.version();
      decide_and_apply();
    }
  }
}

}  // namespace nodepulse
