#include "common/file_text.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/unique_fd.h"

namespace nodepulse {

FileText read_text_file(const std::filesystem::path& file, size_t max_bytes) {
  FileText result;
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    result.error = errno;
    return result;
  }
  constexpr size_t kChunk = 4096;
  while (result.text.size() < max_bytes) {
    const size_t old_size = result.text.size();
    const size_t want = std::min(kChunk, max_bytes - old_size);
    result.text.resize(old_size + want);
    const ssize_t got = ::read(fd.get(), result.text.data() + old_size, want);
    if (got < 0) {
      result.text.resize(old_size);
      if (errno == EINTR) continue;
      result.error = errno;
      return result;
    }
    result.text.resize(old_size + static_cast<size_t>(got));
    if (got == 0) break;
  }
  return result;
}

}  // namespace nodepulse
