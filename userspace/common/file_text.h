// Reading a small text file whole: /proc and /sys files, pid files, our own state files.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace nodepulse {

struct FileText {
  int error = 0;  // errno of the failed open or read; 0 = text is valid
  std::string text;
};

// Reads at most `max_bytes` (the rest of a longer file is left unread, not an error), in chunks
// until EOF: /proc files report st_size 0. Opened O_NONBLOCK, so a FIFO planted where a pid file
// should be cannot hang the agent.
FileText read_text_file(const std::filesystem::path& file, size_t max_bytes = size_t{1} << 20);

}  // namespace nodepulse
