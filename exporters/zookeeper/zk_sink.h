// The ZooKeeper sink (docs/design.md, "Contracts"): each heartbeat rewrites the ephemeral znode
// <root>/<cluster>/nodes/<node-id> with the heartbeat JSON, and while the node is failing the
// ephemeral <root>/<cluster>/failing/<node-id> exists, so a balancer watching failing/ hears of
// it with one watch event. Ephemeral znodes vanish with the session: a node that dies, hangs
// or loses ZooKeeper for longer than the session timeout drops out of nodes/ by itself.
//
// publish() runs on the sink's own thread (SinkRunner) and reconciles ZooKeeper with the
// heartbeat each time, so whatever went missing (a reconnect, an expired session, a znode
// deleted by hand, an outage) is put back by the next heartbeat. It never waits longer than
// publish_timeout: while ZooKeeper is unreachable it fails at once and the runner's
// latest-wins slot keeps only the newest heartbeat.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "config/config.h"
#include "sink.h"
#include "zk/zk_client.h"
#include "zk/zk_session.h"

namespace nodepulse {

struct ZkSinkOptions {
  std::string connect;  // "h1:2181,h2:2181,h3:2181"
  std::string root = "/nodepulse";
  std::chrono::milliseconds session_timeout{4000};
  // "user:password": the znodes are then created with an ACL that lets only this identity
  // write them (everyone may read). "" = no auth, open ACL. Never logged.
  std::string digest;
  std::chrono::milliseconds publish_timeout{1000};
  // Delay before opening a new session after the last one expired or could not be opened,
  // doubling up to the maximum while it keeps failing; the C client retries lost connections
  // within a session by itself.
  std::chrono::milliseconds reopen_delay_min{100};
  std::chrono::milliseconds reopen_delay_max{5000};
};

class ZkSink final : public Sink {
 public:
  // Opens the session in the background; the first publish() waits for it (bounded).
  static Result<std::unique_ptr<ZkSink>> create(ZkSinkOptions options);
  ZkSink(const ZkSink&) = delete;
  ZkSink& operator=(const ZkSink&) = delete;
  ~ZkSink() override;  // closes the session: the znodes go at once

  const char* name() const override { return "zookeeper"; }
  Result<void> publish(const Heartbeat& heartbeat) override;

 private:
  using Clock = std::chrono::steady_clock;
  enum class Ephemeral { kCreated, kAlreadyOurs };

  explicit ZkSink(ZkSinkOptions options) : options_(std::move(options)) {}

  // A usable session (SessionKeeper); forgets what this sink made when the session changed.
  Result<void> ensure_session(Clock::time_point deadline);
  void forget_session();
  Result<void> ensure_parents(Clock::time_point deadline);
  Result<Ephemeral> ensure_ephemeral(const std::string& path, const std::string& data, Clock::time_point deadline);
  Result<void> write_node(const std::string& json, Clock::time_point deadline);
  Result<void> set_failing(bool failing, const std::string& json, Clock::time_point deadline);
  Result<std::chrono::milliseconds> remaining(Clock::time_point deadline) const;
  const ACL_vector& acl(bool parent) const;

  ZkSinkOptions options_;
  std::unique_ptr<zk::SessionKeeper> session_keeper_;
  zk::ZkClient* client_ = nullptr;  // session_keeper_'s, as of the last ensure_session()

  // What this sink made in the current session (0: none yet).
  int64_t session_ = 0;
  bool parents_ready_ = false;
  bool node_exists_ = false;
  std::optional<bool> failing_exists_;  // nullopt: not known in this session

  // The paths of the identity last published; they change only if the node's identity does.
  std::string cluster_path_;
  std::string node_path_;
  std::string failing_path_;
};

// Reads digest credentials "user:password" from `path` (surrounding whitespace ignored).
// Errors never quote the file's content.
Result<std::string> read_digest_credentials(const std::filesystem::path& path);

// The sink the config asks for: zookeeper.connect, root, session_timeout_ms and auth_file.
Result<std::unique_ptr<Sink>> make_zookeeper_sink(const Config& config);

}  // namespace nodepulse
