#include "metrics/self_metrics.h"

#include <unistd.h>

#include <charconv>
#include <sstream>

#include "common/file_text.h"

namespace nodepulse {
namespace {

uint64_t number_or_zero(const std::string& text) {
  uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

Result<ProcessUsage> read_process_usage(const std::filesystem::path& process_dir) {
  ProcessUsage usage;
  const FileText stat = read_text_file(process_dir / "stat");
  if (stat.error) return errno_error("reading " + (process_dir / "stat").string(), stat.error);
  // The command name in parentheses may hold spaces and parentheses: fields follow the last ')'.
  const size_t name_end = stat.text.rfind(')');
  if (name_end == std::string::npos) return Error{"unexpected " + (process_dir / "stat").string()};
  std::istringstream fields(stat.text.substr(name_end + 1));
  std::string field;
  uint64_t utime = 0, stime = 0, threads = 0;
  // Fields 3.. of proc(5): utime is field 14, stime 15, num_threads 20.
  for (int number = 3; number <= 20 && fields >> field; ++number) {
    if (number == 14) utime = number_or_zero(field);
    if (number == 15) stime = number_or_zero(field);
    if (number == 20) threads = number_or_zero(field);
  }
  if (threads == 0) return Error{"unexpected " + (process_dir / "stat").string()};
  usage.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  usage.threads = threads;

  const FileText statm = read_text_file(process_dir / "statm");
  if (statm.error) return errno_error("reading " + (process_dir / "statm").string(), statm.error);
  uint64_t size_pages = 0, resident_pages = 0;
  std::istringstream(statm.text) >> size_pages >> resident_pages;
  usage.resident_bytes = resident_pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));

  std::error_code error;
  for (std::filesystem::directory_iterator it(process_dir / "fd", error), end; !error && it != end;
       it.increment(error)) {
    ++usage.open_fds;
  }
  if (error) return Error{"listing " + (process_dir / "fd").string() + ": " + error.message()};
  return usage;
}

SelfMetrics::SelfMetrics(prometheus::Registry& registry, std::filesystem::path process_dir)
    : process_dir_(std::move(process_dir)),
      stats_enabled_(prometheus::BuildGauge()
                         .Name("nodepulse_bpf_stats_enabled")
                         .Help("1 while the kernel's BPF run-time statistics are on and nodepulse_bpf_run_* are "
                               "exported; 0 (the default): turn them on with metrics.bpf_stats: true, the agent's "
                               "equivalent of sysctl kernel.bpf_stats_enabled=1. Cost: while on, the kernel reads "
                               "the clock twice around every run of every BPF program on the host, ours and others'")
                         .Register(registry)
                         .Add({})),
      run_seconds_(prometheus::BuildCounter()
                       .Name("nodepulse_bpf_run_seconds_total")
                       .Help("CPU time each of the agent's BPF programs ran, from the kernel's BPF run-time "
                             "statistics (only while nodepulse_bpf_stats_enabled is 1)")
                       .Register(registry)),
      run_count_(prometheus::BuildCounter()
                     .Name("nodepulse_bpf_run_count_total")
                     .Help("Runs of each of the agent's BPF programs (only while nodepulse_bpf_stats_enabled is 1); "
                           "run seconds / run count is the cost of one event")
                     .Register(registry)),
      missed_runs_(prometheus::BuildCounter()
                       .Name("nodepulse_bpf_missed_runs_total")
                       .Help("Events each of the agent's BPF programs missed: the kernel skipped the run because "
                             "that CPU was already in BPF (kprobes, uprobes and classic tracepoints share one guard "
                             "per CPU, which bpf() map calls hold too; tp_btf programs skip only a re-entry into "
                             "themselves). Counted whether or not BPF statistics are on")
                       .Register(registry)),
      cpu_seconds_(prometheus::BuildCounter()
                       .Name("nodepulse_process_cpu_seconds_total")
                       .Help("User and system CPU time of the agent process (its BPF programs run in the kernel "
                             "on other tasks' time: see nodepulse_bpf_run_seconds_total)")
                       .Register(registry)
                       .Add({})),
      resident_bytes_(prometheus::BuildGauge()
                          .Name("nodepulse_process_resident_memory_bytes")
                          .Help("Resident memory of the agent process (BPF maps are kernel memory, not counted)")
                          .Register(registry)
                          .Add({})),
      open_fds_(prometheus::BuildGauge()
                    .Name("nodepulse_process_open_fds")
                    .Help("Open file descriptors of the agent process (BPF programs, maps and links hold some)")
                    .Register(registry)
                    .Add({})),
      threads_(prometheus::BuildGauge()
                   .Name("nodepulse_process_threads")
                   .Help("Threads of the agent process")
                   .Register(registry)
                   .Add({})) {
  record_process();
}

void SelfMetrics::set_bpf_stats_enabled(bool on) {
  stats_enabled_.Set(on ? 1 : 0);
  bpf_stats_enabled_ = on;
}

void SelfMetrics::record_programs(const std::string& probe, const std::vector<ProgramStats>& programs) {
  for (const ProgramStats& program : programs) {
    auto [it, added] = programs_.try_emplace({probe, program.name});
    ProgramSeries& series = it->second;
    const prometheus::Labels labels{{"probe", probe}, {"program", program.name}};
    if (added) series.missed = &missed_runs_.Add(labels);
    const bool restarted = program.run_time_ns < series.last.run_time_ns ||
                           program.run_count < series.last.run_count || program.missed_runs < series.last.missed_runs;
    const ProgramStats base = restarted ? ProgramStats{} : series.last;
    series.missed->Increment(static_cast<double>(program.missed_runs - base.missed_runs));
    if (bpf_stats_enabled_) {
      if (!series.seconds) {
        series.seconds = &run_seconds_.Add(labels);
        series.runs = &run_count_.Add(labels);
      }
      series.seconds->Increment(static_cast<double>(program.run_time_ns - base.run_time_ns) / 1e9);
      series.runs->Increment(static_cast<double>(program.run_count - base.run_count));
    }
    series.last = program;
  }
}

void SelfMetrics::record_process() {
  const auto usage = read_process_usage(process_dir_);
  if (!usage) return;
  // CPU time only grows; the guard keeps a counter from ever going down.
  if (usage->cpu_seconds > last_cpu_seconds_) {
    cpu_seconds_.Increment(usage->cpu_seconds - last_cpu_seconds_);
    last_cpu_seconds_ = usage->cpu_seconds;
  }
  resident_bytes_.Set(static_cast<double>(usage->resident_bytes));
  open_fds_.Set(static_cast<double>(usage->open_fds));
  threads_.Set(static_cast<double>(usage->threads));
}

}  // namespace nodepulse
