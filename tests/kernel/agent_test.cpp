// The nodepulse binary as an operator runs it: start with no config file, scrape /metrics,
// stop with SIGTERM, and leave no BPF link behind.
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <thread>

#include "http_client.h"
#include "process.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;

// The BPF links a process holds, from the "link_id:" lines of its fdinfo: exact even while other
// processes load and unload BPF.
std::vector<uint32_t> bpf_links_of(pid_t pid) {
  std::vector<uint32_t> ids;
  std::error_code ignored;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fdinfo", ignored)) {
    std::ifstream info(fd.path());
    std::string line;
    while (std::getline(info, line)) {
      if (line.rfind("link_id:", 0) == 0) ids.push_back(static_cast<uint32_t>(std::stoul(line.substr(8))));
    }
  }
  return ids;
}

bool bpf_link_exists(uint32_t id) {
  const int fd = bpf_link_get_fd_by_id(id);
  if (fd < 0) return false;
  close(fd);
  return true;
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
  const uint16_t port = testing::free_loopback_port();
  const std::string log = temp_path("agent.log");
  ChildProcess agent = ChildProcess::spawn(
      {NODEPULSE_BINARY, "agent", "--set", "http.listen=127.0.0.1:" + std::to_string(port)}, log);

  const auto first = wait_for_metrics(port, agent, 20s);
  ASSERT_TRUE(first.has_value()) << "agent did not serve /metrics; log:\n" << read_file(log);
  EXPECT_EQ(first->status, 200);
  const std::vector<uint32_t> links = bpf_links_of(agent.pid());
  EXPECT_GE(links.size(), 3u) << "at least sched_switch, exec and exit attached";

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
  for (uint32_t id : links) EXPECT_FALSE(bpf_link_exists(id)) << "BPF link " << id << " survived the agent";
  const std::string text = read_file(log);
  EXPECT_NE(text.find("no target process found"), std::string::npos) << "says it runs without a target:\n" << text;
  std::filesystem::remove(log);
}

// The attach path and event transport the agent is told to take (probes.attach, probes.events).
struct AgentPaths {
  const char* attach;
  const char* events;
  const char* name;
};

void PrintTo(const AgentPaths& paths, std::ostream* out) { *out << paths.name; }

class AgentPathsTest : public ::testing::TestWithParam<AgentPaths> {};

// Targets are found through the sched probe's exec and exit events: on every path.
TEST_P(AgentPathsTest, PicksUpATargetStartedAfterIt) {
  NODEPULSE_REQUIRE_ROOT();
  const uint16_t port = testing::free_loopback_port();
  const std::string log = temp_path("agent_target.log");
  // A unique comm so nothing else on the machine matches.
  ChildProcess agent = ChildProcess::spawn(
      {NODEPULSE_BINARY, "agent", "--set", "http.listen=127.0.0.1:" + std::to_string(port), "--set",
       "targets=[{name: napper, comm: np-napper}]", "--set", std::string("probes.attach=") + GetParam().attach,
       "--set", std::string("probes.events=") + GetParam().events},
      log);
  ASSERT_TRUE(wait_for_metrics(port, agent, 20s).has_value()) << read_file(log);
  if (std::string(GetParam().attach) != "auto") {
    EXPECT_NE(read_file(log).find(std::string(GetParam().attach) + " (forced by probes.attach"), std::string::npos)
        << read_file(log);
  }

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

INSTANTIATE_TEST_SUITE_P(Paths, AgentPathsTest,
                         ::testing::Values(AgentPaths{"auto", "auto", "Auto"},
                                           AgentPaths{"raw_tp", "perfbuf", "RawTpPerfBuffer"},
                                           AgentPaths{"tracepoint", "ringbuf", "Tracepoint"}),
                         [](const ::testing::TestParamInfo<AgentPaths>& info) { return info.param.name; });

// Polls /health until `accept` holds or `deadline` passes; returns the last reply.
testing::HttpReply wait_for_health(uint16_t port, std::chrono::milliseconds deadline,
                                   const std::function<bool(const testing::HttpReply&)>& accept) {
  testing::HttpReply last;
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    last = testing::http_get(port, "/health").value_or(testing::HttpReply{});
    if (accept(last)) break;
    std::this_thread::sleep_for(10ms);
  }
  return last;
}

TEST(Agent, HealthFailsAtOnceWhenTheTargetExitsAndRecovers) {
  NODEPULSE_REQUIRE_ROOT();
  const std::string bin = temp_path("health_bin");
  std::filesystem::create_directories(bin);
  const std::string napper = bin + "/np-napper2";
  std::filesystem::copy_file("/bin/sleep", napper, std::filesystem::copy_options::overwrite_existing);
  ChildProcess target = ChildProcess::spawn({napper, "30"});

  const uint16_t port = testing::free_loopback_port();
  const std::string log = temp_path("agent_health.log");
  ChildProcess agent = ChildProcess::spawn({NODEPULSE_BINARY, "agent", "--set",
                                            "http.listen=127.0.0.1:" + std::to_string(port), "--set",
                                            "targets=[{name: napper, comm: np-napper2}]", "--set",
                                            "health.recover_after_ms=1000"},
                                           log);
  ASSERT_TRUE(wait_for_metrics(port, agent, 20s).has_value()) << read_file(log);

  // No fault: the node serves (200), with a JSON heartbeat naming the node.
  auto healthy = wait_for_health(port, 3s, [](const testing::HttpReply& r) { return r.status == 200; });
  ASSERT_EQ(healthy.status, 200) << healthy.body << "\n" << read_file(log);
  EXPECT_NE(healthy.body.find("\"node_id\""), std::string::npos);
  EXPECT_NE(healthy.body.find("\"state\":\"healthy\""), std::string::npos) << healthy.body;
  EXPECT_NE(healthy.body.find("\"seq\""), std::string::npos);

  // The fault: the target dies. /health turns 503 with the reason, well before the next rescan.
  target.kill_and_reap();
  auto failing = wait_for_health(port, 2s, [](const testing::HttpReply& r) { return r.status == 503; });
  EXPECT_EQ(failing.status, 503) << read_file(log);
  EXPECT_NE(failing.body.find("\"state\":\"failing\""), std::string::npos) << failing.body;
  EXPECT_NE(failing.body.find("napper process"), std::string::npos) << failing.body;

  // Recovery: a new process, then recover_after of clean readings.
  ChildProcess again = ChildProcess::spawn({napper, "30"});
  auto recovered = wait_for_health(port, 5s, [](const testing::HttpReply& r) { return r.status == 200; });
  EXPECT_EQ(recovered.status, 200) << recovered.body;

  agent.signal(SIGTERM);
  EXPECT_TRUE(agent.wait_for_exit(2s).has_value());
  std::filesystem::remove_all(bin);
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
  EXPECT_NE(text.find("privileges                               ok    CAP_SYS_ADMIN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("sched: load (verifier)"), std::string::npos) << text;
  EXPECT_NE(text.find("sched: tp_btf/sched_switch"), std::string::npos) << text;
  // Which path each probe takes, and why: the best this kernel has.
  EXPECT_NE(text.find("sched: attach"), std::string::npos) << text;
  EXPECT_NE(text.find("tp_btf (the best this kernel supports"), std::string::npos) << text;
  EXPECT_NE(text.find("ring buffer (the best this kernel supports)"), std::string::npos) << text;
  std::filesystem::remove(log);
}

// With only CAP_BPF + CAP_PERFMON the probes load, and `check` still passes, but it warns about
// what the agent will lack: the JVM pause probes' uprobes and targets of other users.
TEST(Agent, CheckWarnsAboutTheCapabilitiesTheAgentNeedsBeyondLoading) {
  NODEPULSE_REQUIRE_ROOT();
  const std::string log = temp_path("check_caps.log");
  ChildProcess check =
      ChildProcess::spawn({"setpriv", "--bounding-set", "-sys_admin,-sys_ptrace", NODEPULSE_BINARY, "check"}, log);
  const auto status = check.wait_for_exit(30s);
  ASSERT_TRUE(status.has_value());
  const std::string text = read_file(log);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << text;
  EXPECT_NE(text.find("warn  CAP_BPF + CAP_PERFMON; without CAP_SYS_ADMIN the JVM pause probes cannot attach"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("without CAP_SYS_PTRACE targets of other users cannot be read"), std::string::npos) << text;
  EXPECT_NE(text.find("sched: load (verifier)"), std::string::npos) << text;
  std::filesystem::remove(log);
}

// `check` with each fallback forced: the paths it reports, the hooks it checks on them, and the
// trial loads on those paths all pass here.
TEST(Agent, CheckReportsTheForcedFallbackPaths) {
  NODEPULSE_REQUIRE_ROOT();
  struct Forced {
    const char* attach;
    const char* events;
    std::vector<std::string> expected;
  };
  const Forced cases[] = {
      {"raw_tp", "perfbuf",
       {"raw_tp (forced by probes.attach", "perf buffer (forced by probes.events)", "sched: raw_tp/sched_switch",
        "mem: raw_tp/mm_vmscan_direct_reclaim_begin", "net: raw_tp/tcp_probe", "sched: perf buffer",
        "sched: load (verifier)", "net: load (verifier)"}},
      {"tracepoint", "ringbuf",
       {"tracepoint (forced by probes.attach; queue timestamps from wakeup hooks: classic tracepoints",
        "ring buffer (forced by probes.events)", "sched: tracepoint sched/sched_switch",
        "mem: tracepoint vmscan/mm_vmscan_direct_reclaim_begin", "sched: degraded",
        "net: tracepoint tcp/tcp_retransmit_skb", "inet_sk_error_report names no socket",
        "jvm: attach", "usdt (HotSpot's USDT probes"}},
  };
  for (const Forced& forced : cases) {
    const std::string config = temp_path(std::string("check_") + forced.attach + ".yaml");
    std::ofstream(config) << "probes:\n  attach: " << forced.attach << "\n  events: " << forced.events << "\n";
    const std::string log = temp_path("check_forced.log");
    ChildProcess check = ChildProcess::spawn({NODEPULSE_BINARY, "check", "--config", config}, log);
    const auto status = check.wait_for_exit(30s);
    ASSERT_TRUE(status.has_value());
    const std::string text = read_file(log);
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << text;
    for (const std::string& line : forced.expected) EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
    EXPECT_EQ(text.find("FAIL"), std::string::npos) << text;
    std::filesystem::remove(log);
    std::filesystem::remove(config);
  }
}

}  // namespace
}  // namespace nodepulse
