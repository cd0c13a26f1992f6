// Worker out of scheduling: how long after a fault's onset the sick worker leaves Trino's
// scheduling through nodepulse (its Trino API stand-in reports DRAINING), beside how long Trino's
// own failure detector takes to count it failed (a coordinator stand-in with Trino's defaults:
// a ping every 500 ms, 60 s decay, failed above a 0.1 failure ratio, 5 s warm-up) — in the same
// trials. `bench/detection workers` runs it; see BENCHMARKS.md ("Worker out of scheduling").
//
//   drain_bench [TRIALS] [KINDS]     KINDS: comma list of stop,cpu,loss (default all, 20 trials)
//
// The cluster, a fresh one per fault kind, is tests/support/drain_cluster.h (three netns workers
// with Java stand-ins pulling pages from one another every 40 ms, agents with trino.drain: auto,
// a ZooKeeper ensemble); each
// trial starts a fresh coordinator stand-in, so every trial's detector starts from a clean
// history, and waits until it counts no worker failed. Onset:
//   stop  kill(SIGSTOP) of node2's JVM;
//   cpu   a real-time busy loop (800 ms busy, 50 ms rest) starting beside node2's JVM, pinned to
//         its CPU (tests/support/cpu_starvation.h); agents and API stand-ins are kept off that CPU;
//   loss  half of node2's TCP packets dropped both ways (iptables statistic in its namespace).
// Out of scheduling: node2's Trino stand-in first answers GET /v1/info/state with anything but
// ACTIVE (polled every 5 ms). Trino's detector: node2 first listed by GET /v1/node/failed
// (polled every 50 ms). Each is given 20 s; a trial where one never happened says so.
// The stand-in's ping timeout is 500 ms; Trino's own HTTP client waits far longer before a ping
// counts as failed, so the detector figures here are a lower bound for Trino.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cpu_starvation.h"
#include "drain_cluster.h"

namespace {

using namespace nodepulse::testing;
using Clock = std::chrono::steady_clock;

constexpr int kVictim = 1;  // node2
constexpr auto kGiveUp = std::chrono::seconds(20);

struct Trial {
  std::optional<double> out_ms;
  std::optional<double> detector_ms;
};

double ms_since(Clock::time_point from) { return std::chrono::duration<double, std::milli>(Clock::now() - from).count(); }

bool coordinator_counts_failed(const TrinoStandin& coordinator, const std::string& address) {
  return coordinator.failed_nodes_json().find("//" + address + "/") != std::string::npos;
}

class Fault {
 public:
  Fault(const std::string& kind, DrainCluster& cluster) : kind_(kind), cluster_(cluster) {
    const NetNamespace& ns = cluster.network().ns(kVictim);
    if (kind == "stop") {
      cluster.jvm(kVictim).process().signal(SIGSTOP);
    } else if (kind == "cpu") {
      starvation_.emplace(cluster.jvm(kVictim).pid(), last_cpu(), std::chrono::seconds(40));
    } else {
      for (const char* chain : {"INPUT", "OUTPUT"}) {
        ns.exec({"iptables", "-A", chain, "-p", "tcp", "-m", "statistic", "--mode", "random", "--probability", "0.5",
                 "-j", "DROP"});
      }
    }
  }
  ~Fault() {
    if (kind_ == "stop") cluster_.jvm(kVictim).process().signal(SIGCONT);
    if (kind_ == "loss") cluster_.network().ns(kVictim).exec({"iptables", "-F"});
  }

 private:
  std::string kind_;
  DrainCluster& cluster_;
  std::optional<CpuStarvation> starvation_;
};

Trial run_trial(const std::string& kind, DrainCluster& cluster, const std::filesystem::path& log) {
  TrinoStandin coordinator = TrinoStandin::coordinator(DrainCluster::worker_uris(), log);
  const std::string address = NodeNetwork::node_address(kVictim) + ":8080";
  wait_until([&] { return coordinator.failed_nodes_json() == "[]"; }, std::chrono::seconds(15));
  Trial trial;
  const auto onset = Clock::now();
  Fault fault(kind, cluster);
  auto next_detector_poll = onset;
  while ((!trial.out_ms || !trial.detector_ms) && Clock::now() - onset < kGiveUp) {
    if (!trial.out_ms && cluster.worker(kVictim).state() != "ACTIVE") trial.out_ms = ms_since(onset);
    if (!trial.detector_ms && Clock::now() >= next_detector_poll) {
      if (coordinator_counts_failed(coordinator, address)) trial.detector_ms = ms_since(onset);
      next_detector_poll = Clock::now() + std::chrono::milliseconds(50);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return trial;
}

std::string percentiles(std::vector<double> values, int trials) {
  if (values.empty()) return "never (0 of " + std::to_string(trials) + ")";
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) {
    const std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
    return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  char text[160];
  std::snprintf(text, sizeof text, "p50 %6.0f ms  p99 %6.0f ms  max %6.0f ms  (%zu of %d)", at(0.5), at(0.99),
                values.back(), values.size(), trials);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  const int trials = argc > 1 ? std::atoi(argv[1]) : 20;
  std::vector<std::string> kinds;
  std::stringstream list(argc > 2 ? argv[2] : "stop,cpu,loss");
  for (std::string kind; std::getline(list, kind, ',');) {
    if (kind != "stop" && kind != "cpu" && kind != "loss") {
      std::fprintf(stderr, "unknown fault kind '%s' (stop, cpu, loss)\n", kind.c_str());
      return 2;
    }
    kinds.push_back(kind);
  }
  if (trials < 1) {
    std::fprintf(stderr, "usage: drain_bench [TRIALS >= 1] [stop,cpu,loss]\n");
    return 2;
  }
  std::printf("command: %s", argv[0]);
  for (int i = 1; i < argc; ++i) std::printf(" %s", argv[i]);
  std::printf("\n");
  TempDir logs("drain_bench");
  for (const std::string& kind : kinds) {
    // A fresh cluster per kind: one kind's 20 trials take ~4-5 min, within the rig's lifetimes.
    DrainCluster cluster(std::chrono::seconds(600));
    cluster.keep_off_the_last_cpu();
    std::vector<double> out, detector;
    for (int t = 0; t < trials; ++t) {
      if (!cluster.wait_all_active(std::chrono::seconds(90))) {
        std::fprintf(stderr, "the cluster did not come back to healthy and ACTIVE:\n%s\n", cluster.diagnostics().c_str());
        return 1;
      }
      const Trial trial = run_trial(kind, cluster, logs.path() / ("coordinator-" + kind + ".log"));
      if (trial.out_ms) out.push_back(*trial.out_ms);
      if (trial.detector_ms) detector.push_back(*trial.detector_ms);
      std::printf("%-4s trial %2d: out of scheduling %s, Trino's detector %s\n", kind.c_str(), t + 1,
                  trial.out_ms ? (std::to_string(static_cast<int>(*trial.out_ms)) + " ms").c_str() : "never",
                  trial.detector_ms ? (std::to_string(static_cast<int>(*trial.detector_ms)) + " ms").c_str() : "never");
      std::fflush(stdout);
    }
    std::printf("%-4s fault -> worker out of scheduling (nodepulse): %s\n", kind.c_str(),
                percentiles(out, trials).c_str());
    std::printf("%-4s fault -> Trino's failure detector counts it failed: %s\n", kind.c_str(),
                percentiles(detector, trials).c_str());
  }
  return 0;
}
