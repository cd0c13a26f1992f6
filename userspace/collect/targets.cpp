#include "collect/targets.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstddef>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/file_text.h"

namespace nodepulse {
namespace {

// A JVM's command line (classpath, -D flags) is long; past this the pattern is not looked for.
constexpr size_t kMaxCmdlineBytes = 64 * 1024;
// v1 hosts list a dozen controllers; a few KiB is plenty, 64 KiB is a hard ceiling.
constexpr size_t kMaxCgroupBytes = 64 * 1024;
// TASK_COMM_LEN is 16 including the NUL.
constexpr size_t kMaxCommBytes = 64;
constexpr size_t kMaxPidFileBytes = 4096;

// Reads at most `max_bytes` of a small file (a /proc entry, a pid file). nullopt when it cannot
// be opened or read — for /proc that usually means the process has just exited.
// O_NONBLOCK: a pid_file that is by mistake a FIFO must not block the scan.
std::optional<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  FileText file = read_text_file(path, max_bytes);
  if (file.error != 0) return std::nullopt;
  return std::move(file.text);
}

// "1234", optionally surrounded by whitespace. Anything else (sign, trailing text, 0,
// out of range) is not a pid.
std::optional<pid_t> parse_pid(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return std::nullopt;
  const size_t end = text.find_last_not_of(kSpace) + 1;
  text = text.substr(begin, end - begin);
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) return std::nullopt;
  pid_t pid = 0;
  // Digits only by now, so from_chars consumes all of them or reports out of range.
  if (std::from_chars(text.data(), text.data() + text.size(), pid).ec != std::errc() || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

// A /proc directory name is the canonical decimal form of the tgid: no sign, no leading zero.
std::optional<pid_t> parse_proc_dir_name(std::string_view name) {
  if (name.empty() || name.front() == '0') return std::nullopt;
  if (!std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return parse_pid(name);
}

std::optional<pid_t> read_pid_file(const std::string& path) {
  if (path.empty()) return std::nullopt;
  const std::optional<std::string> text = read_small_file(path, kMaxPidFileBytes);
  if (!text) return std::nullopt;
  return parse_pid(*text);
}

// True when one of the PATH fields of /proc/PID/cgroup ("ID:CONTROLLERS:PATH" per line) is
// `wanted` or lies below it. "/a/b" covers "/a/b/c" but not "/a/bc".
bool cgroup_text_matches(std::string_view text, std::string_view wanted) {
  // "/a/b/" means "/a/b"; "/" becomes "" and so covers every absolute path.
  while (!wanted.empty() && wanted.back() == '/') wanted.remove_suffix(1);
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);

    const size_t first_colon = line.find(':');
    if (first_colon == std::string_view::npos) continue;
    const size_t second_colon = line.find(':', first_colon + 1);
    if (second_colon == std::string_view::npos) continue;
    // The path is everything after the second colon: a cgroup name may itself contain ':'.
    const std::string_view path = line.substr(second_colon + 1);
    if (path.empty()) continue;
    if (path == wanted) return true;
    if (path.size() > wanted.size() && path.starts_with(wanted) && path[wanted.size()] == '/') {
      return true;
    }
  }
  return false;
}

// Reads each /proc/PID file at most once, and only when a spec asks for it.
class ProcessFiles {
 public:
  explicit ProcessFiles(std::string dir) : dir_(std::move(dir)) {}

  // The command line with NUL separators read as spaces (the terminating NUL dropped).
  // nullptr when unreadable or empty: a kernel thread, a zombie or a process gone meanwhile.
  const std::string* cmdline() {
    return load(cmdline_, "/cmdline", kMaxCmdlineBytes, [](std::string& text) {
      if (text.empty()) return false;
      if (text.back() == '\0') text.pop_back();
      std::replace(text.begin(), text.end(), '\0', ' ');
      return true;
    });
  }

  // /proc/PID/comm without its trailing newline.
  const std::string* comm() {
    return load(comm_, "/comm", kMaxCommBytes, [](std::string& text) {
      if (!text.empty() && text.back() == '\n') text.pop_back();
      return true;
    });
  }

  const std::string* cgroup() {
    return load(cgroup_, "/cgroup", kMaxCgroupBytes, [](std::string&) { return true; });
  }

 private:
  struct Lazy {
    bool loaded = false;
    std::optional<std::string> value;
  };

  // `accept` normalises the text in place and says whether it is usable at all.
  template <class Accept>
  const std::string* load(Lazy& slot, std::string_view file, size_t max_bytes, Accept accept) {
    if (!slot.loaded) {
      slot.loaded = true;
      std::string path = dir_;
      path += file;
      slot.value = read_small_file(path, max_bytes);
      if (slot.value && !accept(*slot.value)) slot.value.reset();
    }
    return slot.value ? &*slot.value : nullptr;
  }

  std::string dir_;
  Lazy cmdline_;
  Lazy comm_;
  Lazy cgroup_;
};

// A spec's selectors, cheapest first. Config guarantees exactly one is set; should several be,
// all must hold, and a spec with none matches nothing.
bool spec_matches(const TargetSpec& spec, std::optional<pid_t> pid_file_pid, pid_t tgid,
                  ProcessFiles& files) {
  bool any_selector = false;
  if (!spec.pid_file.empty()) {
    any_selector = true;
    if (pid_file_pid != tgid) return false;
  }
  if (!spec.comm.empty()) {
    any_selector = true;
    const std::string* comm = files.comm();
    if (comm == nullptr || *comm != spec.comm) return false;
  }
  if (!spec.cgroup.empty()) {
    any_selector = true;
    const std::string* cgroup = files.cgroup();
    if (cgroup == nullptr || !cgroup_text_matches(*cgroup, spec.cgroup)) return false;
  }
  if (!spec.cmdline_contains.empty()) {
    any_selector = true;
    const std::string* cmdline = files.cmdline();
    if (cmdline == nullptr || cmdline->find(spec.cmdline_contains) == std::string::npos) {
      return false;
    }
  }
  return any_selector;
}

// pid_file_pids[i] is the pid read from specs[i].pid_file for this round (nullopt if none).
std::optional<TargetProcess> match_process(const std::vector<TargetSpec>& specs,
                                           const std::vector<std::optional<pid_t>>& pid_file_pids,
                                           const std::string& proc_root, pid_t tgid) {
  ProcessFiles files(proc_root + "/" + std::to_string(tgid));
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!spec_matches(specs[i], pid_file_pids[i], tgid, files)) continue;
    // Only now is the command line needed for every selector: an empty one (kernel thread,
    // zombie) or a vanished process matches no spec, so there is no point trying the rest.
    if (files.cmdline() == nullptr) return std::nullopt;
    const std::string* comm = files.comm();
    if (comm == nullptr) return std::nullopt;
    return TargetProcess{tgid, static_cast<uint32_t>(i), *comm};
  }
  return std::nullopt;
}

std::vector<std::optional<pid_t>> read_pid_files(const std::vector<TargetSpec>& specs) {
  std::vector<std::optional<pid_t>> pids;
  pids.reserve(specs.size());
  for (const TargetSpec& spec : specs) pids.push_back(read_pid_file(spec.pid_file));
  return pids;
}

}  // namespace

TargetMatcher::TargetMatcher(std::vector<TargetSpec> specs, std::filesystem::path proc_root,
                             pid_t exclude_tgid)
    : specs_(std::move(specs)), proc_root_(std::move(proc_root)), exclude_tgid_(exclude_tgid) {}

std::optional<TargetProcess> TargetMatcher::match(pid_t tgid) const {
  if (tgid <= 0 || tgid == exclude_tgid_ || specs_.empty()) return std::nullopt;
  return match_process(specs_, read_pid_files(specs_), proc_root_.native(), tgid);
}

std::vector<TargetProcess> TargetMatcher::scan() const {
  std::vector<TargetProcess> found;
  if (specs_.empty()) return found;
  const std::vector<std::optional<pid_t>> pid_file_pids = read_pid_files(specs_);
  const std::string& root = proc_root_.native();

  auto consider = [&](pid_t tgid) {
    if (tgid == exclude_tgid_) return;
    if (auto process = match_process(specs_, pid_file_pids, root, tgid)) {
      found.push_back(std::move(*process));
    }
  };

  const bool only_pid_files = std::all_of(specs_.begin(), specs_.end(), [](const TargetSpec& spec) {
    return !spec.pid_file.empty();
  });
  if (only_pid_files) {
    // Every spec names its one pid: look at those instead of listing thousands of processes.
    std::set<pid_t> candidates;
    for (const std::optional<pid_t>& pid : pid_file_pids) {
      if (pid) candidates.insert(*pid);
    }
    for (pid_t tgid : candidates) consider(tgid);
    return found;  // std::set iterates in order
  }

  std::error_code ec;
  std::filesystem::directory_iterator it(proc_root_, ec);
  for (const std::filesystem::directory_iterator end; !ec && it != end; it.increment(ec)) {
    const std::optional<pid_t> tgid = parse_proc_dir_name(it->path().filename().native());
    if (tgid) consider(*tgid);
  }
  std::sort(found.begin(), found.end(),
            [](const TargetProcess& a, const TargetProcess& b) { return a.tgid < b.tgid; });
  return found;
}

}  // namespace nodepulse
