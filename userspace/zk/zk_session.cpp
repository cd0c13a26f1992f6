#include "zk/zk_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace nodepulse::zk {

Result<std::unique_ptr<SessionKeeper>> SessionKeeper::open(SessionOptions options) {
  std::unique_ptr<SessionKeeper> keeper(new SessionKeeper(std::move(options)));
  Result<std::unique_ptr<ZkClient>> client = ZkClient::open(keeper->options_.client);
  if (!client.ok()) return client.error();
  keeper->client_ = std::move(client).value();
  return keeper;
}

std::chrono::milliseconds SessionKeeper::disconnected_for() const {
  if (client_ && client_->connected()) return std::chrono::milliseconds(0);
  // A replacement session that has not connected yet continues the outage of the one it replaced.
  if (!client_ || replaced_) return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - lost_since_);
  return client_->disconnected_for();
}

Result<void> SessionKeeper::ensure(Clock::time_point deadline) {
  if (client_ && client_->expired()) {
    spdlog::warn("zookeeper: {}; opening a new session to re-create the znodes", client_->state_name());
    lost_since_ = Clock::now() - client_->disconnected_for();
    client_.reset();  // an expired handle has no connection: closing it does not block
  } else if (client_ && client_->disconnected_for() > client_->session_timeout()) {
    // The C client would keep knocking with its old session for ever (see disconnected_for);
    // znodes a restored old session still holds are replaced by their writers.
    spdlog::warn("zookeeper: no connection for {} ms, longer than the session timeout; opening a new session",
                 client_->disconnected_for().count());
    lost_since_ = Clock::now() - client_->disconnected_for();
    client_.reset();  // not connected: closing it does not block
  }
  if (!client_) {
    const auto now = Clock::now();
    if (now < next_open_) {
      return Error{"zookeeper: no session; next attempt in " +
                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(next_open_ - now).count()) +
                   " ms"};
    }
    reopen_delay_ = std::clamp(reopen_delay_ * 2, options_.reopen_delay_min, options_.reopen_delay_max);
    next_open_ = now + reopen_delay_;
    Result<std::unique_ptr<ZkClient>> client = ZkClient::open(options_.client);
    if (!client.ok()) return client.error();
    client_ = std::move(client).value();
    waited_for_client_ = false;
    replaced_ = true;
  }
  if (!client_->connected()) {
    // The first use of a new session waits for it (bounded), so a start or an expiry costs
    // nothing when ZooKeeper is there. After that, a lost connection is retried by the C client
    // on its own and ensure() fails at once until it is back.
    if (waited_for_client_) return Error{"zookeeper: not connected (" + client_->state_name() + ")"};
    waited_for_client_ = true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return Error{"zookeeper: gave up waiting for a session"};
    if (Result<void> connected = client_->wait_connected(left); !connected.ok()) return connected.error();
  }
  waited_for_client_ = true;
  replaced_ = false;
  reopen_delay_ = std::chrono::milliseconds(0);
  return ok();
}

Result<void> create_persistent_path(ZkClient& client, const std::string& path, const ACL_vector& acl,
                                    std::chrono::steady_clock::time_point deadline) {
  for (std::size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
    const std::string prefix = path.substr(0, slash);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error{"zookeeper: no time left to create " + path};
    Result<int> rc = client.create(prefix, "", ZOO_PERSISTENT, acl, left);
    if (!rc.ok()) return rc.error();
    if (*rc != ZOK && *rc != ZNODEEXISTS) return Error{"create " + prefix + ": " + describe_rc(*rc)};
    if (slash == std::string::npos) return ok();
  }
}

}  // namespace nodepulse::zk
