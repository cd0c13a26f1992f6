// The HAProxy agent-check port (exporters/agent_check): it answers each connection with one
// line and closes, whatever the peer sends (HAProxy's agent-send string, a port scanner, junk).
// One AgentCheckSink runs in-process; each input is what one peer sends. The first byte picks
// how the peer behaves: half-close after sending (as HAProxy does) or close abruptly.
// Oracles: no crash; the peer gets the current line or a prefix of it (never other bytes) within
// a deadline; the listener keeps answering.
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "agent_check/agent_check.h"
#include "fuzz_support.h"
#include "heartbeat/heartbeat.h"

using namespace nodepulse;
using namespace std::chrono_literals;

namespace {

constexpr auto kReplyDeadline = 3s;

struct Fixture {
  std::unique_ptr<AgentCheckSink> sink;
  std::string line;
};

Fixture& fixture() {
  static Fixture* instance = [] {
    Result<std::unique_ptr<AgentCheckSink>> started = AgentCheckSink::start("127.0.0.1:0", {});
    if (!started.ok()) fuzz::fail("AgentCheckSink::start: " + started.error().message);
    Heartbeat heartbeat;
    heartbeat.verdict.state = HealthState::kDegraded;
    heartbeat.verdict.weight = 60;
    heartbeat.verdict.reasons = {"runq p99 25ms >= 20ms"};
    if (!(*started)->publish(heartbeat).ok()) fuzz::fail("publish");
    auto* made = new Fixture{std::move(started).value(), agent_check_line(&heartbeat, {})};
    std::atexit([] { delete instance; });
    return made;
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  Fixture& agent = fixture();
  const bool half_close = size == 0 || (data[0] & 1) == 0;
  const std::string_view sent = size == 0 ? std::string_view() : fuzz::as_text(data + 1, size - 1);
  UniqueFd fd = fuzz::connect_loopback(agent.sink->port());
  const fuzz::Exchange exchange = fuzz::exchange(fd.get(), sent, half_close, kReplyDeadline);
  if (!exchange.closed_by_server) fuzz::fail("the agent-check port neither answered nor closed (a hang)");
  if (agent.line.rfind(exchange.reply, 0) != 0) fuzz::fail("the peer got bytes other than the line: " + exchange.reply);
  if (half_close && exchange.reply != agent.line && sent.size() < 4096) {
    // A well-behaved peer that sent little always gets the whole line.
    fuzz::fail("a half-closing peer got \"" + exchange.reply + "\" instead of the line");
  }
  return 0;
}
