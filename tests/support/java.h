// Java programs in tests: compile tests/kernel/java/*.java once per source version, start JVMs
// as child processes (killed by PID when their owner goes), and read their own pause logs.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "services.h"

namespace nodepulse::testing {

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// TempDir (a fresh directory removed with everything in it) comes from services.h, so this
// header can be included beside haproxy.h, keepalived.h and alertmanager.h.

inline void touch(const std::filesystem::path& path) { std::ofstream(path).flush(); }

// Polls for `path` until `timeout`; also gives up when `alive` says the writer is gone.
inline bool wait_for_file(const std::filesystem::path& path, std::chrono::milliseconds timeout,
                          const std::function<bool()>& alive = [] { return true; }) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (std::filesystem::exists(path)) return true;
    if (!alive()) return std::filesystem::exists(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// Compiles tests/kernel/java/NAME.java with javac into a directory under the temp dir named
// after the source's content, so the many test processes of one run (CTest runs each case
// alone) compile it once. Returns the class path; throws with javac's output on failure.
// `directory`: where the source is, relative to the source tree (tests/e2e/java has its own);
// `extra_classpath`: jars the source compiles against (e.g. the ZooKeeper client).
inline std::filesystem::path compile_java(const std::string& name, const std::string& directory = "tests/kernel/java",
                                          const std::string& extra_classpath = "") {
  const std::filesystem::path source = std::filesystem::path(NODEPULSE_SOURCE_DIR) / directory / (name + ".java");
  const std::string text = read_text(source);
  if (text.empty()) throw std::runtime_error("cannot read " + source.string());
  const auto version = std::hash<std::string>{}(text);
  const std::filesystem::path classes =
      std::filesystem::temp_directory_path() / ("nodepulse_java_" + name + "_" + std::to_string(version));
  if (std::filesystem::exists(classes / (name + ".class"))) return classes;

  // Compile beside, then rename: a concurrent test never sees a half-written directory.
  TempDir staging("nodepulse_javac");
  const std::filesystem::path log = staging / "javac.log";
  ChildProcess javac = ChildProcess::spawn(
      extra_classpath.empty()
          ? std::vector<std::string>{"javac", "-d", (staging / "out").string(), source.string()}
          : std::vector<std::string>{"javac", "-cp", extra_classpath, "-d", (staging / "out").string(), source.string()},
      log.string());
  const auto status = javac.wait_for_exit(std::chrono::seconds(60));
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    throw std::runtime_error("javac " + source.string() + " failed:\n" + read_text(log));
  }
  std::error_code error;
  std::filesystem::rename(staging / "out", classes, error);  // fails harmlessly if another test won
  return classes;
}

// `java OPTIONS -cp CLASSPATH MAIN ARGS`, output to `log_path`.
inline ChildProcess start_java(const std::filesystem::path& classpath, const std::vector<std::string>& options,
                               const std::string& main_class, const std::vector<std::string>& args,
                               const std::filesystem::path& log_path) {
  std::vector<std::string> argv{"java"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), {"-cp", classpath.string(), main_class});
  argv.insert(argv.end(), args.begin(), args.end());
  return ChildProcess::spawn(argv, log_path.string());
}

// Options that make the JVM log every GC and every safepoint with CLOCK_MONOTONIC timestamps
// (the `tn` decorator is os::javaTimeNanos(), the clock of bpf_ktime_get_ns()). Synchronous on
// purpose: -Xlog:async wakes its writer thread from inside the pause, and on a busy machine
// that thread preempts the VM thread after the GC's own timer stopped but before gc__end, so
// the GC probe pair measured hundreds of µs per GC more than the log. A synchronous write costs
// a few µs of page-cache copy instead.
inline std::vector<std::string> pause_log_options(const std::filesystem::path& gc_log,
                                                  const std::filesystem::path& safepoint_log) {
  return {"-Xlog:gc:file=" + gc_log.string() + ":tn", "-Xlog:safepoint:file=" + safepoint_log.string() + ":tn"};
}

// One pause as the JVM logged it.
struct LoggedPause {
  uint64_t end_ns = 0;       // the line's timestamp: the end of the pause (CLOCK_MONOTONIC)
  uint64_t duration_ns = 0;
  uint64_t reaching_ns = 0;  // safepoints only: "Reaching safepoint" (time to safepoint)
  std::string what;          // "Pause Young (Allocation Failure)", "GenCollectForAllocation", ...
  uint64_t begin_ns() const { return end_ns - duration_ns; }
};

// -Xlog:gc lines "[<tn>ns] GC(7) Pause Young (Allocation Failure) 32M->8M(244M) 1.484ms".
// Only pauses: G1's "Concurrent Mark Cycle" and the like run beside the application.
inline std::vector<LoggedPause> parse_gc_log(const std::string& text) {
  static const std::regex line(R"(^\[(\d+)ns\] GC\(\d+\) (Pause .*) \d+[KMG]?->\d+[KMG]?\(\d+[KMG]?\) ([\d.]+)ms$)");
  std::vector<LoggedPause> pauses;
  std::istringstream in(text);
  std::string row;
  std::smatch match;
  while (std::getline(in, row)) {
    if (!std::regex_match(row, match, line)) continue;
    pauses.push_back({.end_ns = std::stoull(match[1]),
                      .duration_ns = static_cast<uint64_t>(std::stod(match[3]) * 1e6 + 0.5),
                      .reaching_ns = 0,
                      .what = match[2]});
  }
  return pauses;
}

// -Xlog:safepoint lines (JDK 17) "[<tn>ns] Safepoint "GenCollectForAllocation", Time since
// last: 2445598 ns, Reaching safepoint: 4156 ns, Cleanup: 4307 ns, At safepoint: 3928314 ns,
// Total: 3936777 ns". Total runs from SafepointTracing::begin() to ::end(): what the
// hs_private:safepoint__begin/__end pair brackets.
inline std::vector<LoggedPause> parse_safepoint_log(const std::string& text) {
  static const std::regex line(
      R"re(^\[(\d+)ns\] Safepoint "([^"]*)", .*Reaching safepoint: (\d+) ns, .*Total: (\d+) ns$)re");
  std::vector<LoggedPause> pauses;
  std::istringstream in(text);
  std::string row;
  std::smatch match;
  while (std::getline(in, row)) {
    if (!std::regex_match(row, match, line)) continue;
    pauses.push_back({.end_ns = std::stoull(match[1]),
                      .duration_ns = std::stoull(match[4]),
                      .reaching_ns = std::stoull(match[3]),
                      .what = match[2]});
  }
  return pauses;
}

// hotspot:gc__begin/__end bracket one GC VM operation, which may log more than one GC line
// (Serial upgrades a young GC to a full one within the same operation). The log lines of one
// operation fall in one safepoint, so grouping them by their safepoint gives what the probe
// pair counts: one pause per group, as long as the sum of its lines.
inline std::vector<LoggedPause> gc_operations(const std::vector<LoggedPause>& gc_lines,
                                              const std::vector<LoggedPause>& safepoints) {
  std::vector<LoggedPause> operations;
  const LoggedPause* current_safepoint = nullptr;
  for (const LoggedPause& gc : gc_lines) {
    const LoggedPause* enclosing = nullptr;
    for (const LoggedPause& safepoint : safepoints) {
      if (safepoint.begin_ns() <= gc.begin_ns() && gc.end_ns <= safepoint.end_ns) {
        enclosing = &safepoint;
        break;
      }
    }
    if (enclosing != nullptr && enclosing == current_safepoint) {
      operations.back().duration_ns += gc.duration_ns;
      operations.back().end_ns = gc.end_ns;
      continue;
    }
    current_safepoint = enclosing;
    operations.push_back(gc);
  }
  return operations;
}

// The pauses that began at or after `from_ns` and ended before `to_ns`.
inline std::vector<LoggedPause> pauses_between(const std::vector<LoggedPause>& pauses, uint64_t from_ns, uint64_t to_ns) {
  std::vector<LoggedPause> out;
  for (const LoggedPause& pause : pauses) {
    if (pause.begin_ns() >= from_ns && pause.end_ns < to_ns) out.push_back(pause);
  }
  return out;
}

inline uint64_t total_duration_ns(const std::vector<LoggedPause>& pauses) {
  uint64_t total = 0;
  for (const LoggedPause& pause : pauses) total += pause.duration_ns;
  return total;
}

inline uint64_t monotonic_now_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace nodepulse::testing
