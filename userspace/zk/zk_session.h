// Keeps one usable ZooKeeper session for a writer that owns ephemeral znodes (the ZooKeeper
// sink, the drain budget): opens it in the background, replaces it when it expired or stayed
// disconnected past its timeout (the C client would knock with the old one for ever), and
// reopens with a doubling delay so a dead ensemble or a bad connect string is never retried in a
// tight loop. Not thread-safe: one owner thread calls ensure().
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "zk/zk_client.h"

namespace nodepulse::zk {

struct SessionOptions {
  ClientOptions client;
  // Delay before opening a new session after the last one expired or could not be opened,
  // doubling up to the maximum while it keeps failing.
  std::chrono::milliseconds reopen_delay_min{100};
  std::chrono::milliseconds reopen_delay_max{5000};
};

class SessionKeeper {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens the first session in the background. Fails only for a connect string the C client
  // rejects outright.
  static Result<std::unique_ptr<SessionKeeper>> open(SessionOptions options);

  // A connected session, or an error saying why not. Waits (until `deadline`) only for a session
  // it has just opened; one reconnecting by itself is not waited for: this fails at once then.
  Result<void> ensure(Clock::time_point deadline);

  // Valid after a successful ensure(), until the next ensure().
  ZkClient& client() { return *client_; }
  // The server's id of the session ensure() last made usable; a change means every ephemeral
  // znode of the earlier session is gone (or going).
  int64_t session_id() const { return client_ ? client_->session_id() : 0; }
  // How long there has been no usable connection (zero while connected).
  std::chrono::milliseconds disconnected_for() const;

 private:
  explicit SessionKeeper(SessionOptions options) : options_(std::move(options)) {}

  SessionOptions options_;
  std::unique_ptr<ZkClient> client_;
  Clock::time_point next_open_{};
  Clock::time_point lost_since_{Clock::now()};  // when client_ was last replaced
  std::chrono::milliseconds reopen_delay_{0};
  bool waited_for_client_ = false;  // the first connection of client_ was waited for once
  bool replaced_ = false;           // client_ replaced a lost session and has not connected yet
};

// Creates `path` and every ancestor of it that is missing, as persistent znodes with `acl`; one
// that exists already (made by another node or an earlier session) is left as it is. An error
// for no answer before `deadline` or a refusal other than ZNODEEXISTS.
Result<void> create_persistent_path(ZkClient& client, const std::string& path, const ACL_vector& acl,
                                    std::chrono::steady_clock::time_point deadline);

}  // namespace nodepulse::zk
