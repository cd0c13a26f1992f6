// The nodepulse binary as an operator runs it: start with no config file, scrape /metrics,
// stop with SIGTERM, and leave no BPF link behind.
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "http_client.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

size_t count_bpf_links() {
  size_t count = 0;
  __u32 id = 0;
  while (bpf_link_get_next_id(id, &id) == 0) ++count;
  return count;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("nodepulse_" + std::to_string(getpid()) + "_" + name)).string();
}

// Polls /metrics until the agent answers or `timeout` passes.
std::optional<testing::HttpReply> wait_for_metrics(uint16_t port, ChildProcess& agent, std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (auto reply = testing::http_get(port, "/metrics")) return reply;
    if (::kill(agent.pid(), 0) != 0) return std::nullopt;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

TEST(Agent, ServesRunqHistogramAndDetachesEverythingOnSigterm) {
  NODEPULSE_REQUIRE_ROOT();
  const size_t links_before = count_bpf_links();
  const uint16_t port = testing::free_loopback_port();
  const std::string log = temp_path("agent.log");
  ChildProcess agent = ChildProcess::spawn(
      {NODEPULSE_BINARY, "agent", "--set", "http.listen=127.0.0.1:" + std::to_string(port)}, log);

  const auto first = wait_for_metrics(port, agent, 20s);
  ASSERT_TRUE(first.has_value()) << "agent did not serve /metrics; log:\n" << read_file(log);
  EXPECT_EQ(first->status, 200);
  EXPECT_GE(count_bpf_links(), links_before + 5) << "five sched programs attached";

  std::this_thread::sleep_for(600ms);  // a couple of collection intervals
  const auto reply = testing::http_get(port, "/metrics");
  ASSERT_TRUE(reply.has_value());
  const std::string& body = reply->body;
  EXPECT_NE(body.find("nodepulse_runq_latency_seconds_bucket{target=\"node\",le=\"1.024e-06\"}"), std::string::npos)
      << body;
  EXPECT_NE(body.find("nodepulse_runq_latency_seconds_count{target=\"node\"}"), std::string::npos);
  EXPECT_NE(body.find("nodepulse_runq_latency_seconds_count{target=\"trino\"}"), std::string::npos);
  EXPECT_NE(body.find("nodepulse_probe_up{probe=\"sched\"} 1"), std::string::npos);
  EXPECT_NE(body.find("nodepulse_build_info{version="), std::string::npos);
  EXPECT_NE(body.find("nodepulse_bpf_events_dropped_total{probe=\"sched\"}"), std::string::npos);
  EXPECT_EQ(body.find("nodepulse_runq_latency_seconds_count{target=\"node\"} 0\n"), std::string::npos)
      << "the node histogram is empty";

  const auto stop_started = std::chrono::steady_clock::now();
  agent.signal(SIGTERM);
  const auto status = agent.wait_for_exit(1s);
  ASSERT_TRUE(status.has_value()) << "agent did not exit within a second of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "exit status " << *status;
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, 1s);
  EXPECT_EQ(count_bpf_links(), links_before) << "a BPF link survived the agent";
  const std::string text = read_file(log);
  EXPECT_NE(text.find("no target process found"), std::string::npos) << "says it runs without a target:\n" << text;
  std::filesystem::remove(log);
}

TEST(Agent, PicksUpATargetStartedAfterIt) {
  NODEPULSE_REQUIRE_ROOT();
  const uint16_t port = testing::free_loopback_port();
  const std::string log = temp_path("agent_target.log");
  // A unique comm so nothing else on the machine matches.
  ChildProcess agent = ChildProcess::spawn({NODEPULSE_BINARY, "agent", "--set",
                                            "http.listen=127.0.0.1:" + std::to_string(port), "--set",
                                            "targets=[{name: napper, comm: np-napper}]"},
                                           log);
  ASSERT_TRUE(wait_for_metrics(port, agent, 20s).has_value()) << read_file(log);

  // comm is the exec'd file's name, so the target is a copy of sleep under a name of its own.
  const std::string napper = temp_path("bin") + "/np-napper";
  std::filesystem::create_directories(std::filesystem::path(napper).parent_path());
  std::filesystem::copy_file("/bin/sleep", napper, std::filesystem::copy_options::overwrite_existing);
  ChildProcess target = ChildProcess::spawn({napper, "3"});

  std::string body;
  const auto until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < until) {
    body = testing::http_get(port, "/metrics").value_or(testing::HttpReply{}).body;
    if (body.find("nodepulse_target_processes{target=\"napper\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(body.find("nodepulse_target_processes{target=\"napper\"} 1"), std::string::npos)
      << "target not picked up within a second; log:\n" << read_file(log);

  target.kill_and_reap();
  const auto gone_until = std::chrono::steady_clock::now() + 1s;
  while (std::chrono::steady_clock::now() < gone_until) {
    body = testing::http_get(port, "/metrics").value_or(testing::HttpReply{}).body;
    if (body.find("nodepulse_target_processes{target=\"napper\"} 0") != std::string::npos) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(body.find("nodepulse_target_processes{target=\"napper\"} 0"), std::string::npos) << "exit not seen";
  agent.signal(SIGTERM);
  EXPECT_TRUE(agent.wait_for_exit(2s).has_value());
  std::filesystem::remove_all(std::filesystem::path(napper).parent_path());
  std::filesystem::remove(log);
}

TEST(Agent, CheckPassesOnThisKernel) {
  NODEPULSE_REQUIRE_ROOT();
  const std::string log = temp_path("check.log");
  ChildProcess check = ChildProcess::spawn({NODEPULSE_BINARY, "check"}, log);
  const auto status = check.wait_for_exit(30s);
  ASSERT_TRUE(status.has_value());
  const std::string text = read_file(log);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << text;
  EXPECT_NE(text.find("sched: load (verifier)"), std::string::npos) << text;
  EXPECT_NE(text.find("sched: tp_btf/sched_switch"), std::string::npos) << text;
  std::filesystem::remove(log);
}

}  // namespace
}  // namespace nodepulse
