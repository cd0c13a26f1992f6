// Soak: the agent for a long time (default 10 minutes) under churn, as on a busy production node.
// Every cycle it
//   - SIGKILLs the target process and restarts it after a few seconds (a Trino crash/restart),
//   - SIGKILLs one server of a 3-server ZooKeeper ensemble and restarts it (round robin),
//   - fires a burst of short-lived processes (exec events) while the agent is stopped
//     (SIGSTOP: the consumer is away, as when the node is starved), so the burst overflows the
//     sched probe's ring buffer for certain,
// while its sinks hang: a webhook receiver that never answers and an exec hook that sleeps past
// its timeout. It asserts, and prints with the command line that produced them:
//   - stable RSS, fd count and thread count: the late plateau (last 30% of the run) against the
//     early one (from the end of the first cycle to 40% of the run), with the tolerances below;
//   - counted, never silent, drops: over every stopped burst that overflowed the ring,
//     nodepulse_bpf_events_dropped_total{probe="sched"} grows by at least (execs made - what the
//     ring can hold), and at least one burst overflowed;
//   - no missed state change: every target kill is seen as `failing` in the agent's znode (polled
//     by an observer of our own through the same churning ensemble) before the restart, and
//     back to non-failing after it; the exec hook was told of as many failing episodes as the
//     znode showed; after every ZooKeeper fault the heartbeats (znode seq) move on.
// Exit status 0 when everything held, 1 when an assertion failed, 77 when root or ZooKeeper is
// missing (a failure under CI=true).
//
// Usage: sudo build/bench/soak [--duration SECONDS] [--binary PATH-TO-nodepulse]
#include <linux/types.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bpf/sched.h"
#include "http_client.h"
#include "process.h"
#include "services.h"
#include "zk/zk_client.h"
#include "zookeeper.h"

extern char** environ;

namespace nodepulse::soak {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::ChildProcess;

// Tolerances of the plateau comparison (late max vs early max).
constexpr double kRssGrowthFraction = 0.10;  // allocator noise and caches that fill once
constexpr long kRssSlackKib = 4096;
constexpr long kFdSlack = 2;      // a connection in flight at the sampling instant
constexpr long kThreadSlack = 1;  // a thread in flight (hook reaper) at the sampling instant

constexpr int kSessionTimeoutMs = 10'000;  // outlives a stopped burst (at most kBurstMaxTime); ZooKeeper's maximum at tickTime 500 ms
constexpr int kBurstMaxExecs = 8'000;      // the sched ring (256 KiB) holds ~4,700 exec events
constexpr int kBurstSpawners = 6;
// What the sched ring (NP_EVENT_MAPS(sched_events, ..., 256 * 1024) in bpf/sched.bpf.c) can hold:
// each record is an 8-byte header and the event. Execs past this, while nothing consumes the
// ring, must each be a counted drop.
constexpr std::size_t kSchedRingBytes = 256 * 1024;
constexpr long kSchedRingEvents = static_cast<long>(kSchedRingBytes / (8 + sizeof(np_sched_event)));
constexpr auto kBurstMaxTime = 7s;
constexpr auto kCycle = 20s;

struct Options {
  std::chrono::seconds duration{600};
  std::string binary = NODEPULSE_BINARY;
  std::string self;
};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

bool ci() {
  const char* value = std::getenv("CI");
  return value != nullptr && std::string(value) == "true";
}

// ---- the target: this program re-executed, so its start is an exec the agent sees.

ChildProcess start_target(const Options& options, const std::string& token) {
  return ChildProcess::spawn({options.self, "--be-target", token});
}

[[noreturn]] void be_target() {
  ::alarm(3600);  // never outlives a forgotten soak
  for (;;) ::pause();
}

// ---- samples of the agent's resources

struct ResourceSample {
  double at_s = 0;
  long rss_kib = 0;
  long threads = 0;
  long fds = 0;
};

std::optional<ResourceSample> sample_resources(pid_t pid, Clock::time_point start) {
  ResourceSample sample;
  sample.at_s = seconds_since(start);
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  bool found = false;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_kib = std::atol(line.c_str() + 6), found = true;
    if (line.rfind("Threads:", 0) == 0) sample.threads = std::atol(line.c_str() + 8);
  }
  if (!found) return std::nullopt;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++sample.fds;
  }
  return sample;
}

// ---- what the znode says, polled by an observer with its own session

struct Observation {
  double at_s = 0;
  std::string state;
  uint64_t seq = 0;
};

class ZnodeObserver {
 public:
  ZnodeObserver(const std::string& connect, std::string path, Clock::time_point start)
      : path_(std::move(path)), start_(start) {
    Result<std::unique_ptr<zk::ZkClient>> client =
        zk::ZkClient::connect({.connect = connect, .session_timeout = std::chrono::milliseconds(kSessionTimeoutMs),
                               .digest = ""},
                              15s);
    if (!client.ok()) throw std::runtime_error("observer: " + client.error().message);
    client_ = std::move(client).value();
    thread_ = std::thread([this] { run(); });
  }
  ~ZnodeObserver() {
    stop_ = true;
    thread_.join();
  }

  // Distinct consecutive states, with when each was first seen.
  std::vector<Observation> changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
  }
  std::optional<Observation> latest() const {
    std::lock_guard lock(mutex_);
    return latest_;
  }

 private:
  void run() {
    while (!stop_) {
      Result<std::optional<zk::Node>> node = client_->get(path_);
      if (node.ok() && node->has_value()) {
        try {
          const nlohmann::json payload = nlohmann::json::parse((*node)->data);
          Observation seen{seconds_since(start_), payload.at("state").get<std::string>(),
                           payload.at("seq").get<uint64_t>()};
          std::lock_guard lock(mutex_);
          if (changes_.empty() || changes_.back().state != seen.state) changes_.push_back(seen);
          latest_ = seen;
        } catch (const std::exception&) {
          // A payload we cannot read is the agent's bug, but the state checks will show it.
        }
      }
      std::this_thread::sleep_for(100ms);
    }
  }

  std::string path_;
  Clock::time_point start_;
  std::unique_ptr<zk::ZkClient> client_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Observation> changes_;
  std::optional<Observation> latest_;
  std::thread thread_;
};

// ---- the burst

// Spawns bench/exit_now.c (static, no libc: ~3x the execs per second of /bin/true) from
// `spawners` threads as fast as they can, reaping as they go, until `max_execs` or `max_time`.
// Several spawners: on a busy machine one spends most of its time waiting for a CPU between
// fork, exec and wait.
int exec_burst(int max_execs, std::chrono::milliseconds max_time, int spawners) {
  const auto until = Clock::now() + max_time;
  std::atomic<int> made{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < spawners; ++i) {
    threads.emplace_back([&] {
      char exit_now[] = NODEPULSE_EXIT_NOW;
      char* argv[] = {exit_now, nullptr};
      while (made.fetch_add(1) < max_execs && Clock::now() < until) {
        pid_t pid = 0;
        if (::posix_spawn(&pid, exit_now, nullptr, nullptr, argv, environ) != 0) break;
        ::waitpid(pid, nullptr, 0);
      }
      made.fetch_sub(1);  // the increment that ended the loop spawned nothing
    });
  }
  for (std::thread& thread : threads) thread.join();
  return std::min(made.load(), max_execs);
}

std::optional<double> metric_value(uint16_t port, const std::string& series) {
  const std::optional<testing::HttpReply> reply = testing::http_get(port, "/metrics");
  if (!reply || reply->status != 200) return std::nullopt;
  std::istringstream lines(reply->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::atof(line.c_str() + series.size() + 1);
  }
  return std::nullopt;
}

// ---- the run

struct Failures {
  std::vector<std::string> messages;
  void check(bool ok, const std::string& what) {
    if (!ok) messages.push_back(what);
  }
};

struct Plateau {
  long rss_kib = 0, threads = 0, fds = 0;
  int samples = 0;
};

Plateau plateau(const std::vector<ResourceSample>& samples, double from_s, double to_s) {
  Plateau result;
  for (const ResourceSample& sample : samples) {
    if (sample.at_s < from_s || sample.at_s > to_s) continue;
    result.rss_kib = std::max(result.rss_kib, sample.rss_kib);
    result.threads = std::max(result.threads, sample.threads);
    result.fds = std::max(result.fds, sample.fds);
    ++result.samples;
  }
  return result;
}

int run(const Options& options, const std::string& command_line) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "soak: needs root (the agent loads BPF programs)\n");
    return ci() ? 1 : 77;
  }
  if (const std::optional<std::string> missing = testing::zookeeper_missing()) {
    std::fprintf(stderr, "soak: %s\n", missing->c_str());
    return ci() ? 1 : 77;
  }
  const int cycles = std::max<int>(1, static_cast<int>(options.duration / kCycle));
  std::printf("soak: %d cycles of %lld s: %s\n", cycles, static_cast<long long>(kCycle.count()), command_line.c_str());
  std::fflush(stdout);

  testing::TempDir directory("soak");
  testing::ZooKeeperEnsemble zookeeper(3, 500);
  testing::RecordingHttpServer hanging_webhook([](const auto&, std::size_t) {
    return testing::RecordingHttpServer::Answer{0, "", ""};  // never answers
  });

  const std::string token = "nodepulse-soak-target-" + std::to_string(::getpid());
  const std::string node_id = "soak-" + std::to_string(::getpid());
  const std::string znode = "/nodepulse/soak/nodes/" + node_id;
  const std::string hook_log = (directory / "hook.log").string();
  const uint16_t http_port = testing::free_loopback_port();
  // Logs the change, then sleeps past its timeout: the hook hangs on every change. The timeout
  // leaves a busy machine time to start the shell; a change lasts longer (>= 4 s).
  const std::string hook = "echo \\\"$(date +%s.%N) $NODEPULSE_OLD_STATE $NODEPULSE_NEW_STATE\\\" >> " + hook_log + "; sleep 30";

  std::optional<ChildProcess> target;
  target.emplace(start_target(options, token));
  const std::string agent_log = (directory / "agent.log").string();
  ChildProcess agent = ChildProcess::spawn(
      {options.binary, "agent", "--set", "cluster=soak", "--set", "node.id=" + node_id, "--set", "trino.etc_dir=",
       "--set", "targets=[{name: soak, cmdline_contains: " + token + "}]", "--set",
       "http.listen=127.0.0.1:" + std::to_string(http_port), "--set", "zookeeper.connect=" + zookeeper.connect_string(),
       "--set", "zookeeper.session_timeout_ms=" + std::to_string(kSessionTimeoutMs), "--set",
       "health.recover_after_ms=1000", "--set", "alerts.exec=[{command: \"" + hook + "\", timeout_ms: 2500}]", "--set",
       "alerts.webhooks=[{url: \"" + hanging_webhook.url("/hook") + "\", timeout_ms: 1000, retries: 1}]"},
      agent_log);

  const Clock::time_point start = Clock::now();
  Failures failures;
  ZnodeObserver observer(zookeeper.connect_string(), znode, start);
  if (!testing::wait_until([&] { return observer.latest() && observer.latest()->state == "healthy"; }, 60s)) {
    std::fprintf(stderr, "soak: the agent never published a healthy heartbeat to %s; agent log:\n%s\n", znode.c_str(),
                 testing::read_text(agent_log).c_str());
    return 1;
  }
  std::printf("soak: agent %d healthy after %.1f s\n", agent.pid(), seconds_since(start));
  std::fflush(stdout);

  std::vector<ResourceSample> samples;
  std::mutex samples_mutex;
  std::atomic<bool> stop_sampling{false};
  std::atomic<bool> agent_died{false};
  std::thread sampler([&] {
    while (!stop_sampling) {
      if (std::optional<ResourceSample> sample = sample_resources(agent.pid(), start)) {
        std::lock_guard lock(samples_mutex);
        samples.push_back(*sample);
      } else {
        agent_died = true;
      }
      std::this_thread::sleep_for(1s);
    }
  });

  struct Kill {
    double at_s, restarted_s;
  };
  std::vector<Kill> kills;
  int zk_faults = 0, zk_faults_recovered = 0, bursts = 0, bursts_overflowing = 0, bursts_counted = 0;
  long total_execs = 0;
  double total_drops = 0;
  long total_expected_drops = 0;
  const std::string drops_series = "nodepulse_bpf_events_dropped_total{probe=\"sched\"}";
  const auto sleep_until = [&](double at_s) {
    while (seconds_since(start) < at_s && !agent_died) std::this_thread::sleep_for(50ms);
  };

  const double first_cycle_s = seconds_since(start);
  for (int cycle = 0; cycle < cycles && !agent_died; ++cycle) {
    const double t0 = first_cycle_s + static_cast<double>(cycle * kCycle.count());
    // Target crash and restart.
    sleep_until(t0);
    Kill kill{seconds_since(start), 0};
    target.reset();  // SIGKILL by PID, reaped
    sleep_until(t0 + 3);
    target.emplace(start_target(options, token));
    kill.restarted_s = seconds_since(start);
    kills.push_back(kill);

    // A ZooKeeper server crash and restart; the agent's heartbeats must carry on.
    sleep_until(t0 + 6);
    const int server = cycle % zookeeper.size();
    const uint64_t seq_before = observer.latest() ? observer.latest()->seq : 0;
    zookeeper.kill(server);
    ++zk_faults;
    sleep_until(t0 + 9);
    zookeeper.start(server);
    // A leader's death means an election first; a busy machine makes it slower.
    if (testing::wait_until([&] { return observer.latest() && observer.latest()->seq > seq_before + 2; }, 15s)) {
      ++zk_faults_recovered;
    }

    // A burst of exec events while the agent's consumer is stopped.
    sleep_until(t0 + 10.5);
    const std::optional<double> drops_before = metric_value(http_port, drops_series);
    agent.signal(SIGSTOP);
    const int made = exec_burst(kBurstMaxExecs, std::chrono::duration_cast<std::chrono::milliseconds>(kBurstMaxTime), kBurstSpawners);
    agent.signal(SIGCONT);
    total_execs += made;
    ++bursts;
    std::optional<double> drops_after;
    testing::wait_until(
        [&] {
          drops_after = metric_value(http_port, drops_series);
          return drops_after && drops_before && *drops_after > *drops_before;
        },
        3s);
    // Every exec past the ring's capacity was lost while the agent was stopped: each must count.
    // A burst that a busy machine kept under the ring's capacity proves nothing either way.
    const double dropped = drops_before && drops_after ? *drops_after - *drops_before : -1;
    if (made > kSchedRingEvents) {
      ++bursts_overflowing;
      total_expected_drops += made - kSchedRingEvents;
      if (dropped >= static_cast<double>(made - kSchedRingEvents)) {
        ++bursts_counted;
        total_drops += dropped;
      } else {
        std::printf("soak: burst %d: %d execs past a ring of %ld events, but only %.0f drops counted\n", bursts, made,
                    kSchedRingEvents, dropped);
      }
    } else {
      std::printf("soak: burst %d: only %d execs in %lld s (a busy machine): the ring (%ld events) did not overflow\n",
                  bursts, made, static_cast<long long>(kBurstMaxTime.count()), kSchedRingEvents);
    }
    std::printf("soak: cycle %d/%d done at %.0f s (burst of %d execs)\n", cycle + 1, cycles, seconds_since(start), made);
    std::fflush(stdout);
  }
  // Let the last restart recover and the hook hear of it.
  std::this_thread::sleep_for(4s);
  stop_sampling = true;
  sampler.join();

  // ---- checks
  failures.check(!agent_died && ::kill(agent.pid(), 0) == 0, "the agent died during the soak");

  const double end_s = seconds_since(start);
  const double early_from = first_cycle_s + static_cast<double>(kCycle.count());
  const Plateau early = plateau(samples, early_from, std::max(early_from + 10, 0.4 * end_s));
  const Plateau late = plateau(samples, 0.7 * end_s, end_s);
  failures.check(early.samples > 0 && late.samples > 0, "too few resource samples: run for longer");
  const long rss_limit = static_cast<long>(static_cast<double>(early.rss_kib) * (1 + kRssGrowthFraction)) + kRssSlackKib;
  failures.check(late.rss_kib <= rss_limit, "RSS grew: late max " + std::to_string(late.rss_kib) + " KiB > " +
                                                std::to_string(rss_limit) + " KiB");
  failures.check(late.fds <= early.fds + kFdSlack,
                 "fds grew: late max " + std::to_string(late.fds) + " > early max " + std::to_string(early.fds));
  failures.check(late.threads <= early.threads + kThreadSlack, "threads grew: late max " + std::to_string(late.threads) +
                                                                   " > early max " + std::to_string(early.threads));

  failures.check(bursts_overflowing > 0, "no stopped burst overflowed the ring: the drop path went untested");
  failures.check(bursts_counted == bursts_overflowing,
                 "lost events went uncounted in " + std::to_string(bursts_overflowing - bursts_counted) + " of " +
                     std::to_string(bursts_overflowing) + " overflowing bursts");

  const std::vector<Observation> changes = observer.changes();
  int kills_seen = 0;
  for (const Kill& kill : kills) {
    // failing seen between the kill and shortly after the restart, then something better.
    bool failed = false, recovered = false;
    for (const Observation& change : changes) {
      if (!failed && change.state == "failing" && change.at_s >= kill.at_s && change.at_s <= kill.restarted_s + 1.5) {
        failed = true;
      } else if (failed && change.state != "failing" && change.at_s > kill.restarted_s) {
        recovered = true;
        break;
      }
    }
    if (failed && recovered) ++kills_seen;
  }
  failures.check(kills_seen == static_cast<int>(kills.size()),
                 "target kills seen as failing-then-recovered in the znode: " + std::to_string(kills_seen) + " of " +
                     std::to_string(kills.size()));
  const long znode_failing = std::count_if(changes.begin(), changes.end(), [](const Observation& o) { return o.state == "failing"; });
  long hook_failing = 0, hook_lines = 0;
  std::string hook_text;
  {
    std::ifstream log(hook_log);
    std::string line;
    while (std::getline(log, line)) {
      ++hook_lines;
      hook_text += "  " + line + "\n";
      if (line.size() >= 8 && line.compare(line.size() - 8, 8, " failing") == 0) ++hook_failing;
    }
  }
  failures.check(hook_failing == znode_failing, "the exec hook heard of " + std::to_string(hook_failing) +
                                                    " failing episodes, the znode showed " + std::to_string(znode_failing));
  failures.check(zk_faults_recovered == zk_faults, "heartbeats moved on after " + std::to_string(zk_faults_recovered) +
                                                       " of " + std::to_string(zk_faults) + " ZooKeeper server kills");

  // Clean exit on SIGTERM, also after all this.
  agent.signal(SIGTERM);
  const std::optional<int> status = agent.wait_for_exit(15s);
  failures.check(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0, "the agent did not exit 0 on SIGTERM");

  std::printf("\n== soak figures (%.0f s of churn, %d cycles of %lld s) ==\n", end_s - first_cycle_s, cycles,
              static_cast<long long>(kCycle.count()));
  std::printf("command: %s\n", command_line.c_str());
  std::printf("faults: %zu target kills, %d ZooKeeper server kills (3-server ensemble), %d stopped exec bursts "
              "(%ld execs), webhook never answers, exec hook sleeps past its timeout on every change\n",
              kills.size(), zk_faults, bursts, total_execs);
  std::printf("RSS KiB        early max %ld  late max %ld  (limit %ld: +%.0f%% +%ld KiB)\n", early.rss_kib, late.rss_kib,
              rss_limit, kRssGrowthFraction * 100, kRssSlackKib);
  std::printf("fds            early max %ld  late max %ld  (limit +%ld)\n", early.fds, late.fds, kFdSlack);
  std::printf("threads        early max %ld  late max %ld  (limit +%ld)\n", early.threads, late.threads, kThreadSlack);
  std::printf("drops          %.0f sched events dropped and counted (at least %ld expected: execs past the ring's "
              "%ld events); all counted in %d of %d overflowing bursts (%d stopped bursts in all)\n",
              total_drops, total_expected_drops, kSchedRingEvents, bursts_counted, bursts_overflowing, bursts);
  std::printf("state changes  znode: %zu changes, %ld into failing; exec hook: %ld runs, %ld into failing; "
              "target kills seen: %d of %zu\n",
              changes.size(), znode_failing, hook_lines, hook_failing, kills_seen, kills.size());
  std::printf("ZooKeeper      heartbeats moved on after %d of %d server kills\n", zk_faults_recovered, zk_faults);
  std::printf("webhook        %zu POSTs received, none answered\n", hanging_webhook.request_count());
  std::printf("samples        %zu (early window %.0f-%.0f s: %d, late %.0f-%.0f s: %d)\n", samples.size(), early_from,
              std::max(early_from + 10, 0.4 * end_s), early.samples, 0.7 * end_s, end_s, late.samples);
  if (failures.messages.empty()) {
    std::printf("soak: PASS\n");
    return 0;
  }
  for (const std::string& message : failures.messages) std::printf("soak: FAIL: %s\n", message.c_str());
  std::printf("znode state changes (s since start, state, seq):\n");
  for (const Observation& change : changes) std::printf("  %.1f %s %llu\n", change.at_s, change.state.c_str(),
                                                        static_cast<unsigned long long>(change.seq));
  std::printf("target kills (s since start: killed, restarted):\n");
  for (const Kill& kill : kills) std::printf("  %.1f %.1f\n", kill.at_s, kill.restarted_s);
  std::printf("exec hook log (wall clock, old, new):\n%s", hook_text.c_str());
  std::printf("agent log (last 4000 bytes):\n%s\n", [&] {
    std::string text = testing::read_text(agent_log);
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
  }().c_str());
  return 1;
}

}  // namespace
}  // namespace nodepulse::soak

int main(int argc, char** argv) {
  using namespace nodepulse::soak;
  if (argc >= 2 && std::string(argv[1]) == "--be-target") be_target();
  Options options;
  options.self = std::filesystem::canonical("/proc/self/exe").string();
  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--duration" && i + 1 < argc) {
      options.duration = std::chrono::seconds(std::atoi(argv[++i]));
    } else if (arg == "--binary" && i + 1 < argc) {
      options.binary = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--duration SECONDS] [--binary PATH]\n", argv[0]);
      return 2;
    }
  }
  try {
    return run(options, command_line);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: %s\n", e.what());
    return 1;
  }
}
