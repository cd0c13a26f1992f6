// HAProxy agent-check (docs/design.md contract): a TCP port that answers each connection with one
// line and closes. HAProxy (`agent-check agent-addr A agent-port P agent-inter 200ms`) reads it:
//
//   healthy               up 100% ready #healthy
//   degraded              up W% ready #degraded: REASONS     (W = the verdict's weight)
//   degraded, W < floor   drain #degraded: REASONS           (agent_check.drain_below_weight; 0 = never)
//   failing               down #failing: REASONS
//   unknown               drain #unknown: REASONS
//   no heartbeat yet      drain #starting
//
// Why "ready" rides along with "up": in HAProxy "drain" sets the server's administrative state
// and only "ready" clears it ("up" changes the operational state only), so an agent that ever
// says drain must say ready to bring the server back. The price: HAProxy's own admin state is
// shared, so an operator who sets `set server be/s state maint` on the runtime API is overridden
// at the next agent check; take a server out by hand with `disable agent be/s` first.
//
// The answer is computed in publish() (the sink's thread) and only copied out by the server
// thread, so a connection never waits for the health engine and vice versa.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"
#include "common/unique_fd.h"
#include "sink.h"

namespace nodepulse {

struct AgentCheckOptions {
  uint32_t drain_below_weight = 0;  // a degraded node whose weight is below this answers drain
};

// HAProxy keeps at most ~128 bytes of an agent's "#" description; longer reasons are cut.
inline constexpr std::size_t kAgentCheckMaxDescription = 120;

// The line (with its '\n') for a heartbeat, or for "no heartbeat yet" when it is null.
std::string agent_check_line(const Heartbeat* heartbeat, const AgentCheckOptions& options);

class AgentCheckSink final : public Sink {
 public:
  // Binds `listen` ("HOST:PORT", "[V6]:PORT"; port 0 picks a free one) and starts serving.
  // A bind failure is a start-up error.
  static Result<std::unique_ptr<AgentCheckSink>> start(const std::string& listen, AgentCheckOptions options);
  AgentCheckSink(const AgentCheckSink&) = delete;
  AgentCheckSink& operator=(const AgentCheckSink&) = delete;
  ~AgentCheckSink() override;  // wakes the server thread and joins it (within milliseconds)

  const char* name() const override { return "agent_check"; }
  Result<void> publish(const Heartbeat& heartbeat) override;

  uint16_t port() const { return port_; }
  uint64_t connections_answered() const { return answered_.load(std::memory_order_relaxed); }

 private:
  AgentCheckSink(UniqueFd listener, UniqueFd wake, uint16_t port, AgentCheckOptions options);
  void serve() noexcept;
  void answer(int connection);
  std::string current_line();

  UniqueFd listener_;
  UniqueFd wake_;  // eventfd: written by the destructor to end serve()
  uint16_t port_;
  AgentCheckOptions options_;
  std::mutex mutex_;
  std::string line_;
  std::atomic<uint64_t> answered_{0};
  std::thread thread_;
};

}  // namespace nodepulse
