// Detection latency: how long after a fault's onset nodepulse's signals change, beside what
// HAProxy's own health check (inter 2s fall 3) and a ZooKeeper session expiry take for the same
// fault in the same trial. bench/detection runs it; see BENCHMARKS.md ("Detection").
//
//   detection_bench [TRIALS] [KINDS]     KINDS: comma list of kill,oom,pause,cpu (default all)
//
// One set of real services for the whole run (tests/support): a 3-server ZooKeeper ensemble
// (tickTime 500 ms), one HAProxy 2.6 with three backends — the agent-check server
// (agent-inter 100ms) and one HAProxy HTTP check (`check inter 2s fall 3 rise 2`, GET /)
// against each target's own port — and a `nodepulse agent` with two targets:
// tests/e2e/fault_target.cpp (in a 64 MiB v1 memory cgroup) and tests/e2e/java/FaultJvm.java.
// Each target holds its own ZooKeeper session (4000 ms, the agent's default) with an ephemeral
// znode, as a service that registers itself would.
//
// Onset, per fault:
//   kill   the kill(SIGKILL) call (CLOCK_MONOTONIC just before it). The rule holds when the
//          process has exited: its pidfd turns readable (a SCHED_FIFO thread blocked in poll()).
//   oom    the v1 memory cgroup's OOM notification (eventfd; mem_cgroup_out_of_memory signals
//          it just before the OOM killer picks its victim), as read by a SCHED_FIFO thread blocked
//          in poll(): onset and the rule holding are the same moment.
//   pause  the moment the JVM's safepoint has lasted health.jvm_pause_fail_ms (1000 ms): the
//          safepoint's begin from the JVM's own -Xlog:safepoint (CLOCK_MONOTONIC, `tn`) plus
//          1000 ms. Onset and the rule holding are the same moment.
//   cpu    a real-time busy loop (800 ms busy, 50 ms rest) starting beside the target, which is
//          pinned to its CPU (tests/support/cpu_starvation.h). The rule (one run-queue wait >= 150 ms,
//          ended or still going, or a p99 >= 100 ms over 2 s) holds 150 ms later at the earliest; a
//          wait still going is read at each collection (250 ms), so the moment it holds is not
//          stamped and no "rule -> verdict" figure is given.
// Verdict: the first failing heartbeat's ts_ms (the agent's CLOCK_REALTIME when it published
// the verdict, ms resolution), put on the monotonic time line with one offset per trial.
// /health 503: polled every 2 ms. failing/ znode: a ZooKeeper exists() watch (CREATED event).
// HAProxy: `show stat` polled every 2 ms over the admin socket (status DOWN or DRAIN).
// Session expiry: a watch on the target's ephemeral znode (DELETED event).
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cgroup.h"
#include "fault_rig.h"
#include "haproxy.h"
#include "services.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

namespace nodepulse {
namespace {

using namespace std::chrono_literals;
using testing::clock_now_ns;

constexpr int kPauseLimitMs = 1000;
constexpr int kPauseMs = 3000;
constexpr auto kCpuStarvation = 8s;
constexpr auto kKillObserveFor = 8s;  // HAProxy's check needs ~4-6 s and the 4 s session ~4.5 s
constexpr int kSessionMs = 4000;

uint64_t now_ns() { return clock_now_ns(CLOCK_MONOTONIC); }

// The threads that stamp the kernel's side of a fault wake at real-time priority, so the stamp
// is the event's time and not the wait for a CPU on a loaded machine. (They block until then
// and exit after one stamp, so they take nothing from the agent.)
void wake_promptly() {
  sched_param param{};
  param.sched_priority = 50;
  pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
}

// Absolute CLOCK_MONOTONIC ns of each event of one trial; 0 = not seen.
struct Trial {
  uint64_t fault_ns = 0;     // when the fault was made (kill call, SIGUSR1, pause request, starvation)
  uint64_t onset_ns = 0;     // see the header
  uint64_t rule_ns = 0;      // the rule holding; 0 = not measurable
  uint64_t verdict_ns = 0;   // the failing heartbeat's ts_ms
  uint64_t health_ns = 0;    // /health 503 seen
  uint64_t znode_ns = 0;     // failing/ znode created (watch)
  uint64_t agent_lb_ns = 0;  // HAProxy's agent-check server DOWN/DRAIN
  uint64_t check_lb_ns = 0;  // HAProxy's own check server DOWN
  uint64_t expiry_ns = 0;    // the target's ephemeral znode deleted (watch)
};

std::map<std::string, std::string> haproxy_statuses(const testing::Haproxy& haproxy) {
  std::map<std::string, std::string> statuses;
  for (auto& row : testing::parse_show_stat(haproxy.command("show stat"))) {
    if (row.count("status")) statuses[row["pxname"] + "/" + row["svname"]] = row["status"];
  }
  return statuses;
}

class Rig {
 public:
  Rig() {
    zookeeper_ = std::make_unique<testing::ZooKeeperEnsemble>(3, 500);
    auto client = zk::ZkClient::connect({.connect = zookeeper_->connect_string(), .session_timeout = 10000ms, .digest = ""});
    if (!client.ok()) throw std::runtime_error("ZooKeeper client: " + client.error().message);
    zk_ = std::move(client).value();
    haproxy_ = std::make_unique<testing::Haproxy>(
        "backend be_agent\n  server node 127.0.0.1:" + std::to_string(dummy_.port()) +
        " check inter 1s agent-check agent-addr 127.0.0.1 agent-port " + std::to_string(agent_check_port_) +
        " agent-inter 100ms\n"
        "backend be_native\n  option httpchk GET /\n  server native 127.0.0.1:" + std::to_string(native_http_) +
        " check inter 2s fall 3 rise 2\n"
        "backend be_jvm\n  option httpchk GET /\n  server jvm 127.0.0.1:" + std::to_string(jvm_http_) +
        " check inter 2s fall 3 rise 2\n");
    cgroup_ = std::make_unique<testing::MemoryCgroup>(64ull << 20);
    start_native();
    jvm_ = std::make_unique<testing::FaultJvm>(dir_ / "jvm", jvm_token_, jvm_http_, zookeeper_->connect_string(),
                                               "/detect/targets/jvm", kSessionMs);
    std::ostringstream yaml;
    yaml << "cluster: detect\nnode:\n  id: bench-node\ntargets:\n  - name: native\n    cmdline_contains: "
         << native_token_ << "\n  - name: jvm\n    cmdline_contains: " << jvm_token_
         << "\nhttp:\n  listen: 127.0.0.1:" << agent_http_ << "\nagent_check:\n  listen: 127.0.0.1:" << agent_check_port_
         << "\nzookeeper:\n  connect: " << zookeeper_->connect_string() << "\n  session_timeout_ms: " << kSessionMs
         << "\nhealth:\n  recover_after_ms: 1000\n  window_ms: 2000\n  runq_stall_fail_ms: 150\n"
         << "  runq_p99_fail_ms: 100\n  jvm_pause_fail_ms: " << kPauseLimitMs << "\n";
    agent_ = std::make_unique<testing::FaultAgent>(dir_.path(), yaml.str(), agent_http_);
  }

  std::string agent_log() const { return agent_->log(); }

  // Waits until the node serves everywhere and both targets' checks and sessions are up.
  bool wait_clean(std::chrono::milliseconds timeout) {
    return testing::wait_until(
        [&] {
          const auto [status, state] = agent_->health();
          if (status != 200) return false;
          const auto statuses = haproxy_statuses(*haproxy_);
          const auto up = [&](const char* server) { return statuses.count(server) && statuses.at(server) == "UP"; };
          if (!up("be_agent/node") || !up("be_native/native") || !up("be_jvm/jvm")) return false;
          auto failing = zk_->exists("/nodepulse/detect/failing/bench-node");
          if (!failing.ok() || failing->has_value()) return false;
          auto session = zk_->exists(native_path_);
          auto jvm_session = zk_->exists("/detect/targets/jvm");
          return session.ok() && session->has_value() && jvm_session.ok() && jvm_session->has_value();
        },
        timeout);
  }

  Trial run(const std::string& kind) {
    Trial trial;
    const std::string check_server = kind == "pause" ? "be_jvm/jvm" : "be_native/native";
    const std::string session_path = kind == "pause" ? "/detect/targets/jvm" : native_path_;
    auto znode_at = std::make_shared<std::atomic<uint64_t>>(0);
    auto expiry_at = std::make_shared<std::atomic<uint64_t>>(0);
    (void)zk_->exists("/nodepulse/detect/failing/bench-node", [znode_at](int type, const std::string&) {
      if (type == ZOO_CREATED_EVENT) *znode_at = now_ns();
    });
    (void)zk_->exists(session_path, [expiry_at](int type, const std::string&) {
      if (type == ZOO_DELETED_EVENT) *expiry_at = now_ns();
    });
    const int64_t offset = testing::realtime_minus_monotonic_ns();

    // The fault, and a thread that timestamps the rule's kernel-side moment where one exists.
    std::atomic<uint64_t> rule_at{0};
    std::thread rule_watcher;
    std::unique_ptr<testing::CpuStarvation> starvation;
    std::unique_ptr<testing::OomNotification> oom;
    int pause = -1;
    uint64_t observe_until = 0;
    if (kind == "kill") {
      const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, native_->pid(), 0));
      rule_watcher = std::thread([pidfd, &rule_at] {
        wake_promptly();
        pollfd entry{pidfd, POLLIN, 0};
        if (::poll(&entry, 1, 10000) > 0) rule_at = now_ns();
        ::close(pidfd);
      });
      trial.fault_ns = now_ns();
      ::kill(native_->pid(), SIGKILL);
      observe_until = trial.fault_ns + std::chrono::nanoseconds(kKillObserveFor).count();
    } else if (kind == "oom") {
      oom = std::make_unique<testing::OomNotification>(cgroup_->memory_dir());
      rule_watcher = std::thread([&oom, &rule_at] {
        wake_promptly();
        if (auto at = oom->wait(10s)) rule_at = *at;
      });
      trial.fault_ns = now_ns();
      ::kill(native_->pid(), SIGUSR1);
      observe_until = trial.fault_ns + std::chrono::nanoseconds(kKillObserveFor).count();
    } else if (kind == "pause") {
      trial.fault_ns = now_ns();
      pause = jvm_->pause(kPauseMs);
      observe_until = 0;  // until the pause is over (below)
    } else {
      trial.fault_ns = now_ns();
      starvation = std::make_unique<testing::CpuStarvation>(native_->pid(), testing::last_cpu(), 20s);
      trial.onset_ns = trial.fault_ns;
      observe_until = trial.fault_ns + std::chrono::nanoseconds(kCpuStarvation).count();
    }

    // Poll /health and HAProxy tightly until every signal is in or the fault is over.
    const std::filesystem::path done_file = dir_ / "jvm" / ("done." + std::to_string(pause));
    uint64_t pause_over_ns = 0;
    for (;;) {
      const uint64_t now = now_ns();
      if (trial.health_ns == 0) {
        if (auto reply = testing::http_get(agent_http_, "/health"); reply && reply->status == 503) {
          trial.health_ns = now_ns();
          const auto json = nlohmann::json::parse(reply->body, nullptr, false);
          if (json.is_object() && json.value("state", "") == "failing") {
            trial.verdict_ns = json.value("ts_ms", uint64_t{0}) * 1'000'000u - static_cast<uint64_t>(offset);
          }
        }
      }
      if (trial.agent_lb_ns == 0 || trial.check_lb_ns == 0) {
        const auto statuses = haproxy_statuses(*haproxy_);
        const uint64_t at = now_ns();
        const auto status = [&](const std::string& server) {
          return statuses.count(server) ? statuses.at(server) : std::string();
        };
        const std::string agent = status("be_agent/node");
        if (trial.agent_lb_ns == 0 && (agent.starts_with("DOWN") || agent.starts_with("DRAIN"))) trial.agent_lb_ns = at;
        if (trial.check_lb_ns == 0 && status(check_server).starts_with("DOWN")) trial.check_lb_ns = at;
      }
      trial.znode_ns = *znode_at;
      trial.expiry_ns = *expiry_at;
      const bool all = trial.health_ns && trial.znode_ns && trial.agent_lb_ns && trial.check_lb_ns && trial.expiry_ns;
      if (kind == "pause" && pause_over_ns == 0 && std::filesystem::exists(done_file)) {
        pause_over_ns = now;
        observe_until = now + 200'000'000u;  // a last look just after the pause
      }
      if (all || (observe_until != 0 && now > observe_until)) break;
      if (now - trial.fault_ns > 30'000'000'000u) break;
      std::this_thread::sleep_for(2ms);
    }
    if (trial.health_ns == 0) {
      const auto reply = testing::http_get(agent_http_, "/health");
      std::fprintf(stderr, "%s: /health never said 503 during the fault; it says %s\n", kind.c_str(),
                   reply ? reply->body.substr(0, 400).c_str() : "nothing");
    }
    starvation.reset();
    if (rule_watcher.joinable()) rule_watcher.join();
    if (kind == "kill") {
      trial.onset_ns = trial.fault_ns;
      trial.rule_ns = rule_at;
    } else if (kind == "oom") {
      trial.onset_ns = rule_at;
      trial.rule_ns = rule_at;
    } else if (kind == "pause") {
      if (auto logged = jvm_->longest_safepoint_since(trial.fault_ns); logged && logged->duration_ns > kPauseLimitMs * 1'000'000ull) {
        trial.onset_ns = logged->begin_ns() + kPauseLimitMs * 1'000'000ull;
        trial.rule_ns = trial.onset_ns;
      }
    }
    if (kind == "kill" || kind == "oom") {
      native_->child().wait_for_exit(5s);
      start_native();
    }
    return trial;
  }

 private:
  void start_native() {
    native_path_ = "/detect/targets/native-" + std::to_string(++native_generation_);
    native_.reset();
    native_ = std::make_unique<testing::CgroupedProcess>(
        *cgroup_, testing::fault_target_argv(native_token_, native_http_, zookeeper_->connect_string(), native_path_, kSessionMs),
        (dir_ / "native.log").string());
  }

  testing::TempDir dir_{"detection"};
  std::string native_token_ = "np-detect-native-" + std::to_string(::getpid());
  std::string jvm_token_ = "np-detect-jvm-" + std::to_string(::getpid());
  uint16_t native_http_ = testing::free_loopback_port();
  uint16_t jvm_http_ = testing::free_loopback_port();
  uint16_t agent_http_ = testing::free_loopback_port();
  uint16_t agent_check_port_ = testing::free_loopback_port();
  testing::RecordingHttpServer dummy_;
  std::unique_ptr<testing::ZooKeeperEnsemble> zookeeper_;
  std::unique_ptr<zk::ZkClient> zk_;
  std::unique_ptr<testing::Haproxy> haproxy_;
  std::unique_ptr<testing::MemoryCgroup> cgroup_;
  int native_generation_ = 0;
  std::string native_path_;
  std::unique_ptr<testing::CgroupedProcess> native_;
  std::unique_ptr<testing::FaultJvm> jvm_;
  std::unique_ptr<testing::FaultAgent> agent_;
};

// "median / p99 (n/N)" in ms; p99 is the nearest rank (the maximum for fewer than 100 trials).
std::string summary(std::vector<double> values, std::size_t trials) {
  if (values.empty()) return "not seen (0/" + std::to_string(trials) + ")";
  std::sort(values.begin(), values.end());
  const auto rank = [&](double q) {
    return values[std::min(values.size() - 1, static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size()))) - 1)];
  };
  const double median = values.size() % 2 ? values[values.size() / 2]
                                          : (values[values.size() / 2 - 1] + values[values.size() / 2]) / 2;
  char text[128];
  std::snprintf(text, sizeof text, "%.0f / %.0f", median, rank(0.99));
  std::string result = text;
  if (values.size() != trials) result += " (" + std::to_string(values.size()) + "/" + std::to_string(trials) + ")";
  return result;
}

std::string load_average() {
  std::string text = testing::file_text("/proc/loadavg");
  return text.substr(0, text.find(' ', text.find(' ', text.find(' ') + 1) + 1));
}

}  // namespace
}  // namespace nodepulse

int main(int argc, char** argv) {
  using namespace nodepulse;
  const int trials = argc > 1 ? std::atoi(argv[1]) : 20;
  std::vector<std::string> kinds{"kill", "oom", "pause", "cpu"};
  if (argc > 2) {
    kinds.clear();
    std::istringstream in(argv[2]);
    for (std::string kind; std::getline(in, kind, ',');) kinds.push_back(kind);
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "run as root (BPF, cgroups)\n");
    return 1;
  }
  utsname machine{};
  ::uname(&machine);
  const std::string load_before = load_average();
  std::map<std::string, std::vector<Trial>> results;
  try {
    Rig rig;
    for (const std::string& kind : kinds) {
      for (int i = 0; i < trials; ++i) {
        if (!rig.wait_clean(60s)) throw std::runtime_error("the node did not come back clean before " + kind + " trial " + std::to_string(i));
        const Trial trial = rig.run(kind);
        const auto ms = [&](uint64_t at) { return at && trial.onset_ns ? (static_cast<double>(at) - static_cast<double>(trial.onset_ns)) / 1e6 : NAN; };
        std::fprintf(stderr, "%s %2d: rule %.1f verdict %.1f health %.1f znode %.1f haproxy-agent %.1f haproxy-check %.1f expiry %.1f (ms from onset)\n",
                     kind.c_str(), i, ms(trial.rule_ns), ms(trial.verdict_ns), ms(trial.health_ns), ms(trial.znode_ns),
                     ms(trial.agent_lb_ns), ms(trial.check_lb_ns), ms(trial.expiry_ns));
        results[kind].push_back(trial);
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "detection: %s\n", error.what());
    return 1;
  }

  std::printf("command: sudo bench/detection %d %s   (kernel %s, %ld CPUs, load average %s at the start, %s at the end)\n\n",
              trials, argc > 2 ? argv[2] : "kill,oom,pause,cpu", machine.release, sysconf(_SC_NPROCESSORS_ONLN),
              load_before.c_str(), load_average().c_str());
  std::printf("| fault | rule -> verdict | onset -> /health 503 | onset -> failing/ znode | onset -> HAProxy agent-check DOWN | HAProxy check (inter 2s fall 3) DOWN | ZooKeeper session (4 s) expired |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  for (const std::string& kind : kinds) {
    std::vector<double> rule, health, znode, agent_lb, check_lb, expiry;
    for (const Trial& t : results[kind]) {
      if (!t.onset_ns) continue;
      const auto since = [&](uint64_t at) { return (static_cast<double>(at) - static_cast<double>(t.onset_ns)) / 1e6; };
      if (t.rule_ns && t.verdict_ns) rule.push_back((static_cast<double>(t.verdict_ns) - static_cast<double>(t.rule_ns)) / 1e6);
      if (t.health_ns) health.push_back(since(t.health_ns));
      if (t.znode_ns) znode.push_back(since(t.znode_ns));
      if (t.agent_lb_ns) agent_lb.push_back(since(t.agent_lb_ns));
      if (t.check_lb_ns) check_lb.push_back(since(t.check_lb_ns));
      if (t.expiry_ns) expiry.push_back(since(t.expiry_ns));
    }
    const std::size_t n = results[kind].size();
    std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", kind.c_str(), kind == "cpu" ? "-" : summary(rule, n).c_str(),
                summary(health, n).c_str(), summary(znode, n).c_str(), summary(agent_lb, n).c_str(),
                summary(check_lb, n).c_str(), summary(expiry, n).c_str());
  }
  std::printf("\nms, median / p99 (nearest rank: the maximum of %d trials); (n/N): seen in only n of N trials.\n", trials);
  return 0;
}
