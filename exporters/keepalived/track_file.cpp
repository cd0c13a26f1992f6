#include "keepalived/track_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/file_text.h"
#include "common/unique_fd.h"

namespace nodepulse {
namespace {

Result<void> write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return errno_error(what, errno);
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return ok();
}

// The file's text, or nullopt if it cannot be read (absent, unreadable): both mean "write it".
std::optional<std::string> read_small_file(const std::filesystem::path& file) {
  // More than any value we write: a longer file is not one of ours and gets replaced.
  FileText text = read_text_file(file, 4097);
  if (text.error != 0) return std::nullopt;
  return std::move(text.text);
}

std::filesystem::path directory_of(const std::filesystem::path& file) {
  std::filesystem::path directory = file.parent_path();
  return directory.empty() ? std::filesystem::path(".") : directory;
}

}  // namespace

int32_t track_file_value(HealthState state, const TrackFileValues& values) {
  switch (state) {
    case HealthState::kHealthy: return values.healthy;
    case HealthState::kDegraded: return values.degraded;
    case HealthState::kFailing: return values.failing;
    case HealthState::kUnknown: return values.unknown;
  }
  return values.unknown;
}

std::optional<int64_t> parse_track_file_value(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  int64_t value = 0;
  const auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || status != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<void> replace_file_atomically(const std::filesystem::path& file, std::string_view content) {
  const std::filesystem::path directory = directory_of(file);
  // Same directory as the target: rename(2) is only atomic within one filesystem. The name
  // starts with '.' and differs from the file's, so keepalived (which watches the file's name)
  // never reads the half-written temporary.
  std::string temporary = (directory / ("." + file.filename().string() + ".nodepulse-XXXXXX")).string();
  UniqueFd fd(::mkostemp(temporary.data(), O_CLOEXEC));
  if (!fd.valid()) return errno_error("cannot create a temporary file in " + directory.string(), errno);
  struct Unlinker {
    const std::string* path;
    ~Unlinker() {
      if (path) ::unlink(path->c_str());
    }
  } unlink_on_failure{&temporary};

  // mkostemp makes the file 0600; keepalived may run as another user.
  if (::fchmod(fd.get(), 0644) != 0) return errno_error("chmod " + temporary, errno);
  if (Result<void> written = write_all(fd.get(), content, "write " + temporary); !written.ok()) return written;
  if (::fsync(fd.get()) != 0) return errno_error("fsync " + temporary, errno);
  if (::rename(temporary.c_str(), file.c_str()) != 0) return errno_error("rename to " + file.string(), errno);
  unlink_on_failure.path = nullptr;
  // The rename itself is durable only once the directory is synced.
  UniqueFd dir(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) ::fsync(dir.get());
  return ok();
}

Result<std::unique_ptr<KeepalivedTrackFileSink>> KeepalivedTrackFileSink::create(std::filesystem::path file,
                                                                                   TrackFileValues values) {
  if (file.empty()) return Error{"keepalived.track_file: empty path"};
  if (!file.has_filename()) return Error{"keepalived.track_file " + file.string() + ": names a directory, not a file"};
  const std::filesystem::path directory = directory_of(file);
  struct stat info {};
  if (::stat(directory.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return Error{"keepalived.track_file " + file.string() + ": the directory " + directory.string() +
                 " does not exist"};
  }
  if (::access(directory.c_str(), W_OK) != 0) {
    return errno_error("keepalived.track_file " + file.string() + ": cannot write in " + directory.string(), errno);
  }
  return std::unique_ptr<KeepalivedTrackFileSink>(new KeepalivedTrackFileSink(std::move(file), values));
}

Result<void> KeepalivedTrackFileSink::publish(const Heartbeat& heartbeat) {
  const int32_t value = track_file_value(heartbeat.verdict.state, values_);
  if (auto text = read_small_file(file_); text && parse_track_file_value(*text) == value) return ok();
  if (Result<void> replaced = replace_file_atomically(file_, std::to_string(value) + "\n"); !replaced.ok()) {
    return Error{"keepalived.track_file: " + replaced.error().message};
  }
  writes_.fetch_add(1, std::memory_order_relaxed);
  return ok();
}

}  // namespace nodepulse
