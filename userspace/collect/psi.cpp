#include "collect/psi.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include "common/file_text.h"
#include "common/histogram.h"

namespace nodepulse {
namespace {

std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> words;
  size_t start = 0;
  while (start < text.size()) {
    while (start < text.size() && (text[start] == ' ' || text[start] == '\t')) ++start;
    size_t end = start;
    while (end < text.size() && text[end] != ' ' && text[end] != '\t') ++end;
    if (end > start) words.push_back(text.substr(start, end - start));
    start = end;
  }
  return words;
}

template <class Number>
bool parse_number(std::string_view text, Number& number) {
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), number);
  return status == std::errc{} && end == text.data() + text.size();
}

// "avg10=0.00 avg60=0.00 avg300=0.00 total=0" (the words after "some"/"full").
Result<PsiLine> parse_psi_fields(const std::vector<std::string_view>& words, size_t line_number) {
  PsiLine line;
  bool seen[4] = {false, false, false, false};
  const std::string where = "line " + std::to_string(line_number) + ": ";
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string_view word = words[i];
    const size_t equals = word.find('=');
    if (equals == std::string_view::npos) return Error{where + "expected key=value, got '" + std::string(word) + "'"};
    const std::string_view key = word.substr(0, equals);
    const std::string_view value = word.substr(equals + 1);
    bool parsed = true;
    if (key == "avg10") {
      parsed = parse_number(value, line.avg10);
      seen[0] = true;
    } else if (key == "avg60") {
      parsed = parse_number(value, line.avg60);
      seen[1] = true;
    } else if (key == "avg300") {
      parsed = parse_number(value, line.avg300);
      seen[2] = true;
    } else if (key == "total") {
      parsed = parse_number(value, line.total_us);
      seen[3] = true;
    }  // other keys: a later kernel's addition; ignored
    if (!parsed) return Error{where + "bad number in '" + std::string(word) + "'"};
  }
  for (bool present : seen) {
    if (!present) return Error{where + "expected avg10=, avg60=, avg300= and total="};
  }
  return line;
}

}  // namespace

const char* psi_resource_name(PsiResource resource) {
  switch (resource) {
    case PsiResource::kCpu: return "cpu";
    case PsiResource::kMemory: return "memory";
    case PsiResource::kIo: return "io";
  }
  return "?";
}

Result<PsiStats> parse_psi(std::string_view text) {
  PsiStats stats;
  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    const auto words = split_whitespace(line);
    if (words.empty()) continue;
    std::optional<PsiLine>* slot = nullptr;
    if (words[0] == "some") slot = &stats.some;
    if (words[0] == "full") slot = &stats.full;
    if (slot == nullptr) continue;
    if (slot->has_value()) {
      return Error{"line " + std::to_string(line_number) + ": a second '" + std::string(words[0]) + "' line"};
    }
    auto parsed = parse_psi_fields(words, line_number);
    if (!parsed) return parsed.error();
    *slot = *parsed;
  }
  if (!stats.some) return Error{"no 'some' line"};
  return stats;
}

Result<std::optional<PsiStats>> read_psi_file(const std::filesystem::path& file) {
  const FileText content = read_text_file(file);
  if (content.error == ENOENT || content.error == ENOTDIR || content.error == EOPNOTSUPP) {
    return std::optional<PsiStats>();
  }
  if (content.error != 0) return errno_error("reading " + file.string(), content.error);
  auto stats = parse_psi(content.text);
  if (!stats) return Error{file.string() + ": " + stats.error().message};
  return std::optional<PsiStats>(*stats);
}

std::filesystem::path node_pressure_file(const std::filesystem::path& proc_root, PsiResource resource) {
  return proc_root / "pressure" / psi_resource_name(resource);
}

ProcCgroup parse_proc_cgroup(std::string_view text) {
  ProcCgroup cgroup;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    // The path itself may contain ':', so split at the first two only.
    const size_t first = line.find(':');
    if (first == std::string_view::npos) continue;
    const size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, first);
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string path(line.substr(second + 1));
    if (path.empty() || path[0] != '/') continue;
    if (id == "0" && controllers.empty()) {
      cgroup.unified = path;
      continue;
    }
    size_t from = 0;
    while (from <= controllers.size()) {
      size_t comma = controllers.find(',', from);
      if (comma == std::string_view::npos) comma = controllers.size();
      if (controllers.substr(from, comma - from) == "memory") cgroup.memory = path;
      from = comma + 1;
    }
  }
  return cgroup;
}

CgroupMounts detect_cgroup_mounts(const std::filesystem::path& cgroup_root) {
  std::error_code ignored;
  CgroupMounts mounts;
  if (std::filesystem::exists(cgroup_root / "cgroup.controllers", ignored)) {
    mounts.unified = cgroup_root;
  } else if (std::filesystem::exists(cgroup_root / "unified" / "cgroup.controllers", ignored)) {
    mounts.unified = cgroup_root / "unified";
  }
  if (!mounts.unified || *mounts.unified != cgroup_root) {
    if (std::filesystem::exists(cgroup_root / "memory" / "cgroup.procs", ignored)) {
      mounts.memory_v1 = cgroup_root / "memory";
    }
  }
  return mounts;
}

std::optional<std::filesystem::path> memory_pressure_file(const CgroupMounts& mounts, const ProcCgroup& cgroup) {
  if (!mounts.unified || !cgroup.unified) return std::nullopt;
  // path / "/x" would discard the mount point: join the components one by one.
  std::filesystem::path file = *mounts.unified;
  for (const auto& component : std::filesystem::path(*cgroup.unified).relative_path()) {
    if (component == "..") return std::nullopt;
    if (!component.empty() && component != ".") file /= component;
  }
  return file / "memory.pressure";
}

std::optional<std::string> find_cgroup_by_id(const std::filesystem::path& hierarchy, uint64_t id) {
  constexpr int kMaxDepth = 32;
  constexpr size_t kMaxEntries = 200'000;
  struct stat info{};
  if (id == 0 || ::stat(hierarchy.c_str(), &info) != 0) return std::nullopt;
  if (info.st_ino == id) return "/";
  std::error_code error;
  std::filesystem::recursive_directory_iterator it(
      hierarchy, std::filesystem::directory_options::skip_permission_denied, error);
  size_t visited = 0;
  for (; !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    if (++visited > kMaxEntries) break;
    std::error_code entry_error;  // an entry that vanished mid-walk is skipped, not fatal
    if (!it->is_directory(entry_error)) continue;  // cgroup files; symlinks are not followed
    if (it.depth() >= kMaxDepth) it.disable_recursion_pending();
    if (::stat(it->path().c_str(), &info) == 0 && info.st_ino == id) {
      return "/" + std::filesystem::relative(it->path(), hierarchy, error).string();
    }
  }
  return std::nullopt;
}

Result<ProcCgroup> read_proc_cgroup(const std::filesystem::path& proc_root, pid_t pid) {
  const std::filesystem::path file = proc_root / std::to_string(pid) / "cgroup";
  const FileText content = read_text_file(file);
  if (content.error != 0) return errno_error("reading " + file.string(), content.error);
  return parse_proc_cgroup(content.text);
}

PsiResourceDelta PsiDeltaTracker::next(const PsiStats& cumulative) {
  auto kind_delta = [](const std::optional<PsiLine>& now,
                       const std::optional<PsiLine>* before) -> std::optional<PsiKindDelta> {
    if (!now) return std::nullopt;
    PsiKindDelta delta;
    delta.avg10 = now->avg10;
    if (before && before->has_value()) delta.stalled_us = counter_delta(now->total_us, (*before)->total_us);
    return delta;
  };
  PsiResourceDelta delta;
  delta.some = kind_delta(cumulative.some, previous_ ? &previous_->some : nullptr);
  delta.full = kind_delta(cumulative.full, previous_ ? &previous_->full : nullptr);
  previous_ = cumulative;
  return delta;
}

Result<PsiTrigger> PsiTrigger::arm(const std::filesystem::path& pressure_file, uint32_t stall_us, uint32_t window_us) {
  const std::string what = "PSI trigger on " + pressure_file.string();
  UniqueFd fd(::open(pressure_file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == ENOENT || err == EOPNOTSUPP) return Error{what + ": PSI is not available there"};
    return errno_error(what, err);
  }
  // The kernel overwrites the last byte written with a NUL, so the NUL must be written too.
  const std::string spec = "some " + std::to_string(stall_us) + " " + std::to_string(window_us);
  if (::write(fd.get(), spec.c_str(), spec.size() + 1) < 0) {
    const int err = errno;
    if (err == EINVAL) {
      return Error{what + ": the kernel rejected '" + spec +
                   "': the window must be 500000-10000000 us and above the stall, and kernels >= 6.5 accept "
                   "only multiples of 2000000 us from a process without CAP_SYS_RESOURCE"};
    }
    if (err == EOPNOTSUPP) return Error{what + ": PSI is disabled (psi=0)"};
    return errno_error(what + ": writing '" + spec + "'", err);
  }
  return PsiTrigger(std::move(fd), pressure_file);
}

Result<PsiTriggerMode> probe_psi_trigger_mode(const std::filesystem::path& pressure_file) {
  UniqueFd fd(::open(pressure_file.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return errno_error("probing PSI triggers on " + pressure_file.string(), errno);
  const std::string spec = "some 100000 1500000";
  if (::write(fd.get(), spec.c_str(), spec.size() + 1) >= 0) return PsiTriggerMode::kPolled;
  if (errno == EINVAL) return PsiTriggerMode::kAveraged;
  return errno_error("probing PSI triggers on " + pressure_file.string(), errno);
}

bool PsiStallWindow::update(uint64_t now_us, uint64_t total_us) {
  if (!readings_.empty() && (now_us < readings_.back().at_us || total_us < readings_.back().total_us)) {
    readings_.clear();  // time or the total went backwards (a recreated cgroup): start over
  }
  readings_.push_back({now_us, total_us});
  // Keep exactly one reading at or before the window's start: the baseline.
  const uint64_t window_start = now_us >= window_us_ ? now_us - window_us_ : 0;
  size_t first_kept = 0;
  while (first_kept + 1 < readings_.size() && readings_[first_kept + 1].at_us <= window_start) ++first_kept;
  readings_.erase(readings_.begin(), readings_.begin() + static_cast<std::ptrdiff_t>(first_kept));

  const uint64_t growth = total_us - readings_.front().total_us;
  if (growth < stall_us_ || readings_.size() < 2) return false;
  if (last_event_us_ && now_us - *last_event_us_ < window_us_) return false;
  last_event_us_ = now_us;
  return true;
}

PsiTrigger::Status PsiTrigger::poll_status() const {
  pollfd entry{fd_.get(), POLLPRI, 0};
  Status status;
  if (::poll(&entry, 1, 0) <= 0) return status;
  status.fired = (entry.revents & POLLPRI) != 0 && (entry.revents & POLLERR) == 0;
  status.broken = (entry.revents & (POLLERR | POLLNVAL)) != 0;
  return status;
}

}  // namespace nodepulse
