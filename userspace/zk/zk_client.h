// A small RAII client over the ZooKeeper C library's multi-threaded API, shared by the
// ZooKeeper sink and by readers (`balancer`, `status`, tests).
//
// Every request is sent asynchronously and waited for with a timeout, so a caller never hangs
// on a dead, partitioned or paused ensemble: the synchronous zoo_* calls block until the C
// client notices the connection is gone, which takes up to 2/3 of the session timeout.
// Requests are refused at once while the session is not connected, so nothing stale piles up
// in the C client's send queue to be applied later. Methods may be called from several threads
// at once (the C client serialises requests per session), but not from inside a Watcher.
#pragma once

#include <zookeeper/zookeeper.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace nodepulse::zk {

inline constexpr std::chrono::milliseconds kDefaultTimeout{1000};

struct ClientOptions {
  std::string connect;  // "h1:2181,h2:2181" with an optional "/chroot" suffix
  std::chrono::milliseconds session_timeout{4000};
  std::string digest;   // "user:password" for the "digest" auth scheme; "" = none. Never logged.
};

struct Node {
  std::string data;
  Stat stat{};
};

// Called once per watch, on the C client's completion thread, with the event type
// (ZOO_CREATED_EVENT, ZOO_DELETED_EVENT, ZOO_CHANGED_EVENT or ZOO_CHILD_EVENT) and the path.
// It must not wait for another request of the same client: answers are delivered on that very
// thread, so the wait could only time out. Exceptions are caught and dropped.
using Watcher = std::function<void(int event_type, const std::string& path)>;

// The C client's own log goes to spdlog, warnings and errors only, rate-limited (while a server
// is down it logs each reconnect attempt, several per second). Process-wide; idempotent;
// ZkClient::open calls it.
void route_client_log();

// "ZNONODE (no node)" for a ZooKeeper return code, for messages.
std::string describe_rc(int rc);

class ZkClient {
 public:
  // Starts a session in the background (zookeeper_init does not wait for a server). Fails only
  // for an unusable connect string or options.
  static Result<std::unique_ptr<ZkClient>> open(const ClientOptions& options);
  // open() and wait_connected(): for readers that need a session before they can do anything.
  static Result<std::unique_ptr<ZkClient>> connect(const ClientOptions& options,
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

  ZkClient(const ZkClient&) = delete;
  ZkClient& operator=(const ZkClient&) = delete;
  // zookeeper_close: a connected session is closed on the server (its ephemeral znodes go at
  // once); may block up to ~4.5 s when the server stops answering mid-close (the C client's own
  // bounds). Pending requests are answered with ZCLOSING and watches are dropped.
  ~ZkClient();

  bool connected() const;
  // The session expired (or authentication failed): the C client never recovers from that, only
  // a new ZkClient does.
  bool expired() const;
  // How long the session has been without a connection (since open() if it never had one);
  // zero while connected. Past the session timeout the servers have expired it — or, after the
  // whole ensemble restarted, may still hold it, or may refuse it forever (a server rebuilt
  // empty refuses a client that has seen newer data than it has): either way a new session is
  // the way back, as Curator does.
  std::chrono::milliseconds disconnected_for() const;
  // The timeout the server granted (requested until the first connection).
  std::chrono::milliseconds session_timeout() const;
  // The server's id of the current session; 0 before the first connection.
  int64_t session_id() const;
  // The C client's state as text, e.g. "connecting", for messages.
  std::string state_name() const;

  // Called (on the C client's thread) after every change of the session's state — connected,
  // disconnected, expired — so a watcher can resynchronise or freeze without polling. Same rules
  // as a Watcher: it must not wait for a request of this client. Replaces any earlier listener.
  void set_session_listener(std::function<void()> listener);

  // Waits until the session is connected (and, with digest credentials, the server has
  // accepted them). An error when the timeout passes or the session expires first.
  Result<void> wait_connected(std::chrono::milliseconds timeout);

  // Writes. The value is the server's answer: ZOK or a code such as ZNODEEXISTS, ZNONODE,
  // ZNOAUTH. An Error means there was no answer: not connected, or none within `timeout`.
  Result<int> create(const std::string& path, std::string_view data, int mode, const ACL_vector& acl,
                     std::chrono::milliseconds timeout = kDefaultTimeout);
  Result<int> set(const std::string& path, std::string_view data,
                  std::chrono::milliseconds timeout = kDefaultTimeout);
  Result<int> remove(const std::string& path, int version = -1,
                     std::chrono::milliseconds timeout = kDefaultTimeout);

  // Reads, each with an optional one-shot watch. nullopt: the znode does not exist. A watch
  // set by exists() on a missing znode fires when it is created; get() and children() set no
  // watch on a missing znode.
  Result<std::optional<Node>> get(const std::string& path, Watcher watcher = {},
                                  std::chrono::milliseconds timeout = kDefaultTimeout);
  Result<std::optional<Stat>> exists(const std::string& path, Watcher watcher = {},
                                     std::chrono::milliseconds timeout = kDefaultTimeout);
  Result<std::optional<std::vector<std::string>>> children(const std::string& path, Watcher watcher = {},
                                                           std::chrono::milliseconds timeout = kDefaultTimeout);

  // get() without waiting, so many reads can be in flight at once on the one session (the C
  // client pipelines them): `done` is called exactly once with what get() would return — on the
  // C client's completion thread, or at once on the caller's thread when the request cannot be
  // sent (not connected). No timeout of its own: a server that stops answering fails it with
  // ZCONNECTIONLOSS once the C client gives the connection up. `done` follows a Watcher's rules.
  using GetDone = std::function<void(Result<std::optional<Node>>)>;
  void get_async(const std::string& path, Watcher watcher, GetDone done);

  struct Shared;  // what the C client's threads reach through the handle's context

 private:
  ZkClient() = default;

  std::unique_ptr<Shared> shared_;  // outlives handle_: destroyed after zookeeper_close joined the threads
  zhandle_t* handle_ = nullptr;
};

// An ACL that lets the authenticated creator do everything and everyone else read, and
// optionally create and delete children (`parent`): ZooKeeper checks the parent's DELETE
// permission, not the child's, when a child is deleted, so a shared parent must grant it for
// every node to be able to remove its own `failing/<id>`.
const ACL_vector& creator_all_world_read_acl(bool parent);

}  // namespace nodepulse::zk
