#include "zookeeper/zk_sink.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/unique_fd.h"

namespace nodepulse {

namespace {

bool is_znode_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         std::ranges::none_of(name, [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

std::string join(const std::string& parent, const std::string& child) {
  return parent == "/" ? "/" + child : parent + "/" + child;
}

}  // namespace

Result<std::unique_ptr<ZkSink>> ZkSink::create(ZkSinkOptions options) {
  if (options.connect.empty()) return Error{"zookeeper sink: no servers (zookeeper.connect is empty)"};
  if (!options.root.starts_with('/')) return Error{"zookeeper sink: root must start with '/', got " + options.root};
  std::unique_ptr<ZkSink> sink(new ZkSink(std::move(options)));
  // Open now so the session is (usually) up before the first heartbeat. A connect string the
  // C client rejects outright is a start-up error; anything else is retried by publish().
  Result<std::unique_ptr<zk::SessionKeeper>> keeper = zk::SessionKeeper::open(
      {.client = {.connect = sink->options_.connect,
                  .session_timeout = sink->options_.session_timeout,
                  .digest = sink->options_.digest},
       .reopen_delay_min = sink->options_.reopen_delay_min,
       .reopen_delay_max = sink->options_.reopen_delay_max});
  if (!keeper.ok()) return keeper.error();
  sink->session_keeper_ = std::move(keeper).value();
  return sink;
}

ZkSink::~ZkSink() = default;

Result<std::chrono::milliseconds> ZkSink::remaining(Clock::time_point deadline) const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) {
    return Error{"zookeeper: publish gave up after " + std::to_string(options_.publish_timeout.count()) + " ms"};
  }
  return left;
}

const ACL_vector& ZkSink::acl(bool parent) const {
  if (options_.digest.empty()) return ZOO_OPEN_ACL_UNSAFE;
  return zk::creator_all_world_read_acl(parent);
}

void ZkSink::forget_session() {
  session_ = 0;
  parents_ready_ = false;
  node_exists_ = false;
  failing_exists_.reset();
}

Result<void> ZkSink::ensure_session(Clock::time_point deadline) {
  if (Result<void> usable = session_keeper_->ensure(deadline); !usable.ok()) return usable;
  client_ = &session_keeper_->client();
  const int64_t session = session_keeper_->session_id();
  if (session != session_) {
    forget_session();
    session_ = session;
  }
  return ok();
}

Result<void> ZkSink::ensure_parents(Clock::time_point deadline) {
  if (parents_ready_) return ok();
  for (const char* child : {"nodes", "failing"}) {
    const std::string path = join(cluster_path_, child);
    if (Result<void> made = zk::create_persistent_path(*client_, path, acl(/*parent=*/true), deadline); !made.ok()) {
      return made;
    }
  }
  parents_ready_ = true;
  return ok();
}

// Creates the ephemeral `path` owned by this session. A znode left by an earlier session (a
// restarted agent whose old session has not expired yet) is replaced, or it would vanish under
// us when that session expires.
Result<ZkSink::Ephemeral> ZkSink::ensure_ephemeral(const std::string& path, const std::string& data,
                                                    Clock::time_point deadline) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    Result<std::chrono::milliseconds> left = remaining(deadline);
    if (!left.ok()) return left.error();
    Result<int> created = client_->create(path, data, ZOO_EPHEMERAL, acl(/*parent=*/false), *left);
    if (!created.ok()) return created.error();
    if (*created == ZOK) return Ephemeral::kCreated;
    if (*created == ZNONODE) {  // a parent was deleted by hand
      parents_ready_ = false;
      if (Result<void> parents = ensure_parents(deadline); !parents.ok()) return parents.error();
      continue;
    }
    if (*created != ZNODEEXISTS) return Error{"create " + path + ": " + zk::describe_rc(*created)};

    left = remaining(deadline);
    if (!left.ok()) return left.error();
    Result<std::optional<Stat>> stat = client_->exists(path, {}, *left);
    if (!stat.ok()) return stat.error();
    if (!stat->has_value()) continue;  // gone in between: create again
    if ((*stat)->ephemeralOwner == session_) return Ephemeral::kAlreadyOurs;
    spdlog::info("zookeeper: replacing {} left by session 0x{:x}", path, static_cast<uint64_t>((*stat)->ephemeralOwner));
    left = remaining(deadline);
    if (!left.ok()) return left.error();
    Result<int> removed = client_->remove(path, (*stat)->version, *left);
    if (!removed.ok()) return removed.error();
    if (*removed != ZOK && *removed != ZNONODE && *removed != ZBADVERSION) {
      return Error{"delete stale " + path + ": " + zk::describe_rc(*removed)};
    }
  }
  return Error{"create " + path + ": it keeps reappearing"};
}

Result<void> ZkSink::write_node(const std::string& json, Clock::time_point deadline) {
  if (node_exists_) {
    Result<std::chrono::milliseconds> left = remaining(deadline);
    if (!left.ok()) return left.error();
    Result<int> rc = client_->set(node_path_, json, *left);
    if (!rc.ok()) return rc.error();
    if (*rc == ZOK) return ok();
    if (*rc != ZNONODE) return Error{"set " + node_path_ + ": " + zk::describe_rc(*rc)};
    node_exists_ = false;  // deleted by hand: create it again
  }
  Result<Ephemeral> made = ensure_ephemeral(node_path_, json, deadline);
  if (!made.ok()) return made.error();
  if (*made == Ephemeral::kAlreadyOurs) {
    Result<std::chrono::milliseconds> left = remaining(deadline);
    if (!left.ok()) return left.error();
    Result<int> rc = client_->set(node_path_, json, *left);
    if (!rc.ok()) return rc.error();
    if (*rc != ZOK) return Error{"set " + node_path_ + ": " + zk::describe_rc(*rc)};
  } else {
    spdlog::info("zookeeper: created {} (session 0x{:x})", node_path_, static_cast<uint64_t>(session_));
  }
  node_exists_ = true;
  return ok();
}

Result<void> ZkSink::set_failing(bool failing, const std::string& json, Clock::time_point deadline) {
  if (failing_exists_ == failing) return ok();
  if (failing) {
    Result<Ephemeral> made = ensure_ephemeral(failing_path_, json, deadline);
    if (!made.ok()) return made.error();
  } else {
    // Also when not known: a failing/ znode an earlier session of this node left must go.
    Result<std::chrono::milliseconds> left = remaining(deadline);
    if (!left.ok()) return left.error();
    Result<int> rc = client_->remove(failing_path_, -1, *left);
    if (!rc.ok()) return rc.error();
    if (*rc != ZOK && *rc != ZNONODE) return Error{"delete " + failing_path_ + ": " + zk::describe_rc(*rc)};
  }
  failing_exists_ = failing;
  return ok();
}

Result<void> ZkSink::publish(const Heartbeat& heartbeat) {
  const auto deadline = Clock::now() + options_.publish_timeout;
  if (!is_znode_name(heartbeat.node.cluster) || !is_znode_name(heartbeat.node.node_id)) {
    return Error{"zookeeper: the heartbeat's cluster '" + heartbeat.node.cluster + "' and node id '" +
                 heartbeat.node.node_id + "' must be znode names"};
  }
  const std::string cluster_path = join(options_.root, heartbeat.node.cluster);
  const std::string node_path = join(join(cluster_path, "nodes"), heartbeat.node.node_id);
  if (node_path != node_path_) {
    // First heartbeat, or the identity changed: znodes under the old name are left to the session.
    cluster_path_ = cluster_path;
    node_path_ = node_path;
    failing_path_ = join(join(cluster_path, "failing"), heartbeat.node.node_id);
    parents_ready_ = false;
    node_exists_ = false;
    failing_exists_.reset();
  }

  if (Result<void> session = ensure_session(deadline); !session.ok()) return session;
  if (Result<void> parents = ensure_parents(deadline); !parents.ok()) return parents;

  const std::string json = to_json(heartbeat);
  const bool failing = heartbeat.verdict.state == HealthState::kFailing;
  // Into failing: failing/<id> first, the one event a balancer waits for. Out of failing: the
  // payload first, so failing/<id> never disappears while the payload still says failing.
  if (failing) {
    if (Result<void> marked = set_failing(true, json, deadline); !marked.ok()) return marked;
  }
  if (Result<void> written = write_node(json, deadline); !written.ok()) return written;
  if (!failing) {
    if (Result<void> cleared = set_failing(false, json, deadline); !cleared.ok()) return cleared;
  }
  return ok();
}

Result<std::string> read_digest_credentials(const std::filesystem::path& path) {
  const std::string what = "zookeeper.auth_file " + path.string();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("cannot read " + what, errno);
  std::string text;
  char chunk[4096];
  for (;;) {
    const ssize_t count = ::read(fd.get(), chunk, sizeof chunk);
    if (count == 0) break;
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return errno_error("cannot read " + what, errno);
    text.append(chunk, static_cast<std::size_t>(count));
    if (text.size() > 65536) return Error{what + ": too large for user:password"};
  }
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  const std::size_t last = text.find_last_not_of(" \t\r\n");
  const std::string credentials = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  const std::size_t colon = credentials.find(':');
  if (colon == std::string::npos || colon == 0 || credentials.find('\n') != std::string::npos) {
    return Error{what + ": expected one line user:password"};
  }
  return credentials;
}

Result<std::unique_ptr<Sink>> make_zookeeper_sink(const Config& config) {
  ZkSinkOptions options;
  options.connect = config.zookeeper.connect;
  options.root = config.zookeeper.root;
  options.session_timeout = std::chrono::milliseconds(config.zookeeper.session_timeout_ms);
  if (!config.zookeeper.auth_file.empty()) {
    Result<std::string> digest = read_digest_credentials(config.zookeeper.auth_file);
    if (!digest.ok()) return digest.error();
    options.digest = std::move(digest).value();
  }
  Result<std::unique_ptr<ZkSink>> sink = ZkSink::create(std::move(options));
  if (!sink.ok()) return sink.error();
  return std::unique_ptr<Sink>(std::move(sink).value());
}

}  // namespace nodepulse
